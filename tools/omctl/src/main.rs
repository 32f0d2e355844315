// SPDX-License-Identifier: GPL-2.0

//! `omctl`: administer an openmosix-rs node through `/proc/openmosix`.
//!
//! ```text
//! omctl version    print the tools' and the loaded module's versions
//! omctl help       this text
//! ```
//!
//! Exit status: 0 on success, 1 when the node refuses or the module is not loaded, 2 on a usage
//! error. `OPENMOSIX_PROC` names another directory than `/proc/openmosix` (for tests).

use omcore::version::{VersionInfo, PROTOCOL_VERSION, RELEASE};
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: omctl COMMAND

commands:
  version    print the tools' and the loaded module's versions; fails when the module
             is not loaded or speaks another protocol version
  help       print this text";

/// A failure to report: the message, and the exit status it calls for.
struct Failure(String, u8);

fn proc_root() -> PathBuf {
    std::env::var_os("OPENMOSIX_PROC")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/proc/openmosix"))
}

fn read_proc(name: &str) -> Result<String, Failure> {
    let path = proc_root().join(name);
    std::fs::read_to_string(&path).map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::NotFound {
            " (is the openmosix module loaded?)"
        } else {
            ""
        };
        Failure(format!("{}: {e}{hint}", path.display()), 1)
    })
}

fn version() -> Result<(), Failure> {
    println!("omctl {RELEASE} protocol {PROTOCOL_VERSION}");
    let text = read_proc("version")?;
    let module = VersionInfo::parse(&text)
        .map_err(|e| Failure(format!("{}/version: {e}", proc_root().display()), 1))?;
    println!(
        "module {} protocol {} kernel {}",
        module.release, module.protocol, module.kernel
    );
    if module.protocol != PROTOCOL_VERSION {
        return Err(Failure(
            format!(
                "module speaks protocol {}, these tools speak {PROTOCOL_VERSION}",
                module.protocol
            ),
            1,
        ));
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match words.as_slice() {
        ["version"] => version(),
        ["help"] | ["--help"] | ["-h"] => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(Failure(USAGE.to_string(), 2)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(msg, code)) => {
            eprintln!("omctl: {msg}");
            ExitCode::from(code)
        }
    }
}
