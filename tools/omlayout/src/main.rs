// SPDX-License-Identifier: GPL-2.0

//! `omlayout`: checks and draws the module's file layout; draws sequence diagrams (see the
//! library documentation, `cargo doc -p omlayout`, for the rules and the diagram format).

use omlayout::check::check;
use omlayout::tree::load;
use omlayout::{graph, seq};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

const USAGE: &str = "\
usage: omlayout check ROOT        check the module's files under ROOT/src and ROOT/rust
       omlayout edges ROOT        list which file uses which, with the first place of use
       omlayout graph ROOT        the file graph as SVG, on standard output
       omlayout seq SOURCE        a sequence diagram from SOURCE as SVG, on standard output
ROOT is the repository root. check exits with 1 and prints FILE: problem lines when a file
has more than 800 lines, the crate root holds more than the module's lifecycle, or files
import each other in a circle.
";

fn out(s: &str) -> ExitCode {
    let mut o = std::io::stdout().lock();
    if o.write_all(s.as_bytes()).and_then(|()| o.flush()).is_err() {
        return ExitCode::from(2);
    }
    ExitCode::SUCCESS
}

fn fail(msg: &str) -> ExitCode {
    eprintln!("omlayout: {msg}");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (cmd, arg) = match args.as_slice() {
        [c] if c == "-h" || c == "--help" => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        [c, a] => (c.as_str(), a.as_str()),
        _ => {
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match cmd {
        "check" => {
            let tree = match load(Path::new(arg)) {
                Ok(t) => t,
                Err(e) => return fail(&e),
            };
            let r = check(&tree);
            for n in &r.notes {
                eprintln!("{n}");
            }
            let mut s = String::new();
            for p in &r.problems {
                s.push_str(p);
                s.push('\n');
            }
            if r.problems.is_empty() {
                let (f, l) = r.longest.clone().unwrap_or_default();
                s.push_str(&format!(
                    "layout: {} files, longest {f} ({l} lines), no import circle\n",
                    r.files
                ));
                out(&s)
            } else {
                s.push_str(&format!(
                    "layout: {} files, {} problems\n",
                    r.files,
                    r.problems.len()
                ));
                let _ = out(&s);
                ExitCode::from(1)
            }
        }
        "edges" => match load(Path::new(arg)) {
            Ok(tree) => {
                let mut s = String::new();
                for (a, bs) in &tree.edges {
                    for (b, site) in bs {
                        s.push_str(&format!("{a} -> {b}  ({a}:{} {})\n", site.line, site.path));
                    }
                }
                out(&s)
            }
            Err(e) => fail(&e),
        },
        "graph" => match load(Path::new(arg)) {
            Ok(tree) => out(&graph::draw(&tree)),
            Err(e) => fail(&e),
        },
        "seq" => {
            let text = match std::fs::read(arg) {
                Ok(b) => String::from_utf8_lossy(&b).into_owned(),
                Err(e) => return fail(&format!("{arg}: {e}")),
            };
            match seq::parse(&text) {
                Ok(s) => out(&seq::render(&s)),
                Err(e) => {
                    eprintln!("{arg}: {e}");
                    ExitCode::from(1)
                }
            }
        }
        _ => {
            eprint!("{USAGE}");
            ExitCode::from(2)
        }
    }
}
