// SPDX-License-Identifier: GPL-2.0

//! Tests on small trees: one written to a temporary directory, others in memory.

use crate::check::{check, cycles, root_problems, MAX_LINES};
use crate::lex::tokenize;
use crate::tree::{build, load, File, Tree, CRATE_ROOT};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A directory under the system's temporary directory, removed on drop.
struct TempTree(PathBuf);

impl TempTree {
    fn new(name: &str, files: &[(&str, &str)]) -> Self {
        let dir = std::env::temp_dir().join(format!("omlayout-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for (path, text) in files {
            let p = dir.join(path);
            if let Some(parent) = p.parent() {
                std::fs::create_dir_all(parent).unwrap();
            }
            std::fs::write(&p, text).unwrap();
        }
        TempTree(dir)
    }
}

impl Drop for TempTree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const ROOT: &str = r#"// SPDX-License-Identifier: GPL-2.0
//! The crate root.
mod a;
mod b;
#[path = "../rust/ksys.rs"]
mod ksys;
#[path = "../ext/lib.rs"]
pub mod omcore;

use kernel::prelude::*;

module! {
    type: M,
    name: "m",
    license: "GPL",
}

struct M {
    n: u32,
}

impl kernel::Module for M {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        a::start();
        Ok(M { n: 0 })
    }
}

impl Drop for M {
    fn drop(&mut self) {}
}
"#;

/// The edges of `t` as `(user, used)` pairs.
fn edge_list(t: &Tree) -> Vec<(String, String)> {
    t.edges
        .iter()
        .flat_map(|(a, bs)| bs.keys().map(move |b| (a.clone(), b.clone())))
        .collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = v
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    v.sort();
    v
}

#[test]
fn paths_resolve_to_files_as_rustc_does() {
    let generated = "// x\n".repeat(MAX_LINES + 100);
    let tt = TempTree::new(
        "resolve",
        &[
            ("src/openmosix_main.rs", ROOT),
            (
                "src/a.rs",
                r#"mod child;
mod sibling;
pub(crate) use sibling::Y;
use crate::ksys::task::{self, Task};
use crate::omcore::{fwd, mig};
// crate::ksys::Disp in a comment, /* crate::ksys::Disp */
pub fn start() {
    let s = "crate::ksys::Disp";
    let r = r"crate::ksys::Disp";
    crate::b::go();
}
pub struct Thing;
#[cfg(test)]
mod tests {
    use super::*;
}
"#,
            ),
            (
                "src/a/child.rs",
                "use super::sibling::Y;\nfn f() -> super::Thing { todo!() }\n",
            ),
            ("src/a/sibling.rs", "pub struct Y;\n"),
            (
                "src/b.rs",
                "use crate::ksys::Disp;\nuse crate::ksys::task::cur::regs;\n\
                 pub(in crate::a) fn go() {}\n",
            ),
            ("src/orphan.rs", "use crate::b::go;\n"),
            (
                "rust/ksys.rs",
                "mod bindings;\npub(crate) mod task;\npub struct Disp;\n\
                 pub(crate) fn r() { bindings::x() }\n",
            ),
            (
                "rust/task.rs",
                "use super::bindings;\npub(crate) mod cur {\n    use super::bindings;\n    \
                 pub fn regs() {}\n}\npub struct Task;\n",
            ),
            ("rust/bindings.rs", "include!(\"bindings_generated.rs\");\n"),
            ("rust/bindings_generated.rs", &generated),
            ("ext/lib.rs", "pub mod fwd;\npub mod mig;\n"),
        ],
    );
    let t = load(&tt.0).unwrap();
    assert!(t.problems.is_empty(), "{:?}", t.problems);
    assert_eq!(t.files.len(), 9, "{:?}", t.files.keys());
    assert!(!t.files.contains_key("rust/bindings_generated.rs"));
    assert_eq!(t.modules[&vec!["omcore".to_string()]].file, "ext/lib.rs");
    assert!(t.modules[&vec!["omcore".to_string()]].external);
    assert_eq!(
        t.modules[&vec!["ksys".to_string(), "bindings".to_string()]].file,
        "rust/bindings.rs"
    );
    assert_eq!(
        t.modules[&vec!["a".to_string(), "child".to_string()]].file,
        "src/a/child.rs"
    );
    assert_eq!(
        t.modules[&vec!["ksys".to_string(), "task".to_string(), "cur".to_string()]].file,
        "rust/task.rs"
    );
    assert_eq!(
        edge_list(&t),
        pairs(&[
            (CRATE_ROOT, "src/a.rs"),
            ("src/a.rs", "src/a/sibling.rs"),
            ("src/a.rs", "rust/task.rs"),
            ("src/a.rs", "src/b.rs"),
            ("src/a/child.rs", "src/a/sibling.rs"),
            ("src/a/child.rs", "src/a.rs"),
            ("src/b.rs", "rust/ksys.rs"),
            ("src/b.rs", "rust/task.rs"),
            ("rust/ksys.rs", "rust/bindings.rs"),
            ("rust/task.rs", "rust/bindings.rs"),
        ])
    );
    let site = &t.edges["src/a.rs"]["src/b.rs"];
    assert_eq!((site.line, site.path.as_str()), (10, "crate::b::go"));
    let r = check(&t);
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert_eq!(r.notes.len(), 1);
    assert!(r.notes[0].starts_with("src/orphan.rs: "));
    assert_eq!(r.files, 9);
}

#[test]
fn a_mod_without_a_file_is_a_problem() {
    let tt = TempTree::new(
        "nofile",
        &[(
            "src/openmosix_main.rs",
            "mod gone;\nmodule! { type: M, }\nstruct M;\n",
        )],
    );
    let t = load(&tt.0).unwrap();
    let r = check(&t);
    assert_eq!(r.problems.len(), 1, "{:?}", r.problems);
    assert!(r.problems[0].starts_with("src/openmosix_main.rs: line 1: `mod gone;` has no file"));
}

#[test]
fn missing_root_is_an_error() {
    let tt = TempTree::new("noroot", &[("src/x.rs", "")]);
    assert!(load(&tt.0).is_err());
}

/// A tree of in-memory files; the crate root declares `mods`.
fn mem_tree(mods: &[&str], files: &[(&str, &str)]) -> Tree {
    let mut root = String::from("module! { type: M, }\nstruct M;\n");
    for m in mods {
        root.push_str(&format!("mod {m};\n"));
    }
    let mut all: Vec<(String, String)> = vec![(CRATE_ROOT.to_string(), root)];
    all.extend(files.iter().map(|(a, b)| (a.to_string(), b.to_string())));
    let map: BTreeMap<String, File> = all
        .into_iter()
        .map(|(name, text)| {
            (
                name,
                File {
                    lines: text.lines().count(),
                    tokens: tokenize(&text),
                },
            )
        })
        .collect();
    build(map, |_| false)
}

fn rings(t: &Tree) -> Vec<String> {
    cycles(&t.edges).iter().map(|c| c.join(" -> ")).collect()
}

#[test]
fn finds_a_two_file_circle() {
    let t = mem_tree(
        &["a", "b"],
        &[
            ("src/a.rs", "use crate::b::X;\npub struct Y;\n"),
            (
                "src/b.rs",
                "pub struct X;\nfn f() { let _ = crate::a::Y; }\n",
            ),
        ],
    );
    assert_eq!(rings(&t), ["src/a.rs -> src/b.rs -> src/a.rs"]);
    let r = check(&t);
    assert_eq!(
        r.problems,
        ["src/a.rs: cycle: src/a.rs -> src/b.rs -> src/a.rs"]
    );
}

#[test]
fn finds_a_three_file_circle() {
    let t = mem_tree(
        &["a", "b", "c"],
        &[
            ("src/a.rs", "use crate::b::X;\n"),
            ("src/b.rs", "use crate::{c::Z, omcore::q};\n"),
            ("src/c.rs", "use crate::a::{self};\n"),
        ],
    );
    assert_eq!(rings(&t), ["src/a.rs -> src/b.rs -> src/c.rs -> src/a.rs"]);
}

#[test]
fn a_dag_has_no_circle() {
    let t = mem_tree(
        &["a", "b", "c"],
        &[
            ("src/a.rs", "use crate::b::X;\nuse crate::c::Z;\n"),
            ("src/b.rs", "use crate::c::Z;\n"),
            ("src/c.rs", "pub struct Z;\n"),
        ],
    );
    assert_eq!(t.edges.values().map(BTreeMap::len).sum::<usize>(), 3);
    assert!(rings(&t).is_empty());
    assert!(check(&t).problems.is_empty());
}

#[test]
fn declaring_a_child_is_not_an_edge_but_using_it_is() {
    let files = [
        ("src/p/child.rs", "use super::Shared;\n"),
        ("src/p/other.rs", "pub struct Z;\n"),
    ];
    // The parent declares its children and uses one of them: no circle.
    let mut fs = files.to_vec();
    fs.push((
        "src/p.rs",
        "mod child;\nmod other;\npub use other::Z;\npub struct Shared;\n",
    ));
    let t = mem_tree(&["p"], &fs);
    assert_eq!(
        edge_list(&t),
        pairs(&[
            ("src/p.rs", "src/p/other.rs"),
            ("src/p/child.rs", "src/p.rs")
        ])
    );
    assert!(rings(&t).is_empty());
    // The parent uses the child that uses it: a circle.
    let mut fs = files.to_vec();
    fs.push((
        "src/p.rs",
        "mod child;\nmod other;\nfn f() { self::child::g(); }\n",
    ));
    let t = mem_tree(&["p"], &fs);
    assert_eq!(rings(&t), ["src/p.rs -> src/p/child.rs -> src/p.rs"]);
}

#[test]
fn multi_line_use_and_comment_only_mentions() {
    let t = mem_tree(
        &["a", "b", "c"],
        &[
            (
                "src/a.rs",
                "use crate::{\n    b::{\n        X,\n        Y as W,\n    },\n};\n\
                 /// See [`crate::c::Z`].\nfn f() { let s = c\"crate::c::Z\"; let q = b'c'; }\n",
            ),
            ("src/b.rs", ""),
            ("src/c.rs", ""),
        ],
    );
    assert_eq!(edge_list(&t), pairs(&[("src/a.rs", "src/b.rs")]));
    assert_eq!(t.edges["src/a.rs"]["src/b.rs"].line, 1);
}

#[test]
fn line_limit() {
    let at = "x\n".repeat(MAX_LINES);
    let over = "x\n".repeat(MAX_LINES + 1);
    let t = mem_tree(&["a", "b"], &[("src/a.rs", &at), ("src/b.rs", &over)]);
    let r = check(&t);
    assert_eq!(
        r.problems,
        [format!(
            "src/b.rs: {} lines, more than {MAX_LINES}",
            MAX_LINES + 1
        )]
    );
    assert_eq!(r.longest, Some(("src/b.rs".to_string(), MAX_LINES + 1)));
}

#[test]
fn crate_root_holds_only_declarations_and_the_module() {
    assert_eq!(root_problems(&tokenize(ROOT)), Vec::<String>::new());
    let pinned = "module! { type: M, }\n#[pin_data(PinnedDrop)]\nstruct M {}\n\
                  impl kernel::InPlaceModule for M { fn init() {} }\n\
                  #[pinned_drop]\nimpl PinnedDrop for M { fn drop(self: Pin<&mut Self>) {} }\n";
    assert_eq!(root_problems(&tokenize(pinned)), Vec::<String>::new());
    let bad = [
        ("fn helper() {}", "`fn helper`"),
        ("static X: u32 = 1;", "`static X`"),
        ("const X: u32 = 1;", "`const X`"),
        ("enum E { A }", "`enum E`"),
        ("trait T {}", "`trait T`"),
        ("struct Other;", "struct `Other`"),
        ("impl M { fn helper() {} }", "`impl M`"),
        (
            "impl Drop for Other { fn drop(&mut self) {} }",
            "`impl Drop for Other`",
        ),
        (
            "impl PinnedDrop for M { fn drop() {} }",
            "`impl PinnedDrop for M`",
        ),
        ("mod inline { fn f() {} }", "inline module `inline`"),
        ("macro_rules! m { () => {} }", "`macro_rules m`"),
        ("pr_info!(\"x\");", "macro `pr_info!`"),
    ];
    for (item, want) in bad {
        let src = format!("module! {{ type: M, }}\nstruct M;\n{item}\n");
        let p = root_problems(&tokenize(&src));
        assert_eq!(p.len(), 1, "{item}: {p:?}");
        assert!(
            p[0].starts_with("line 3: ") && p[0].contains(want),
            "{item}: {p:?}"
        );
    }
    assert_eq!(
        root_problems(&tokenize("mod a;\n")),
        ["no `module!` invocation naming the module's type"]
    );
}

#[test]
fn graph_picture_is_deterministic_and_complete() {
    let t = mem_tree(
        &["a", "b"],
        &[
            ("src/a.rs", "use crate::b::X;\n"),
            ("src/b.rs", "use crate::a::Y;\n"),
        ],
    );
    let s = crate::graph::draw(&t);
    assert_eq!(s, crate::graph::draw(&t));
    assert!(s.starts_with("<svg ") && s.ends_with("</svg>\n"));
    for label in [">openmosix_main.rs<", ">a.rs<", ">b.rs<"] {
        assert!(s.contains(label), "{label}");
    }
    // Three files, two edges, both in the circle.
    assert_eq!(s.matches("marker-end=\"url(#arrow-red)\"").count(), 2);
}

#[test]
fn odd_input_never_panics() {
    // Soups of the characters the lexer and the scanners care about.
    const ALPHABET: &[u8] = b"\"'r#bc/*:;{}()[]<>!=,.$ \nmoduseselfsupercratepubimplfor\\0123";
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for round in 0..200 {
        let len = 1 + round * 3;
        let soup: String = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                char::from(ALPHABET[(seed % ALPHABET.len() as u64) as usize])
            })
            .collect();
        let t = mem_tree(&["a"], &[("src/a.rs", &soup), ("src/a/b.rs", &soup)]);
        let _ = check(&t);
        let _ = crate::graph::draw(&t);
        let _ = root_problems(&tokenize(&soup));
        if let Ok(s) = crate::seq::parse(&soup) {
            let _ = crate::seq::render(&s);
        }
    }
}
