// SPDX-License-Identifier: GPL-2.0

//! `omx-as UID[:EUID] COMMAND [ARGS...]`: runs COMMAND with user and group id UID (the standard
//! library drops supplementary groups when root sets a user id), for tests of what an ordinary
//! user may do. With `:EUID`, the real ids are UID and the effective and saved ones EUID, as for
//! a setuid program that UID started. Exits with COMMAND's status.
//!
//! `omx-as UID:EUID --write FD TEXT` writes TEXT, with those ids, to its descriptor FD (which
//! it did not open: a setuid program writing its output), prints `write N` (the call's result,
//! `-errno` on error) and exits 0 when all was written, 1 otherwise.

mod raw;

use std::os::unix::process::CommandExt;
use std::process::{exit, Command};

const SYS_SETRESUID: u64 = 117;
const SYS_SETRESGID: u64 = 119;
const SYS_SETGROUPS: u64 = 116;

/// Sets the real ids to `real` and the effective and saved ones to `eff`, groups too.
fn set_ids(real: u32, eff: u32) -> Result<(), i64> {
    let (r, e) = (u64::from(real), u64::from(eff));
    for (nr, args) in [
        (SYS_SETGROUPS, [0, 0, 0, 0, 0, 0]),
        (SYS_SETRESGID, [r, e, e, 0, 0, 0]),
        (SYS_SETRESUID, [r, e, e, 0, 0, 0]),
    ] {
        // SAFETY: setgroups with no groups and setresgid/setresuid read no memory.
        let v = unsafe { raw::syscall6(nr, args) };
        if v != 0 {
            return Err(v);
        }
    }
    Ok(())
}

/// `--write FD TEXT`: writes TEXT to descriptor FD; exits.
fn write_to(args: &[String]) -> ! {
    let (Some(fd), Some(text)) = (
        args.first().and_then(|a| a.parse::<u64>().ok()),
        args.get(1),
    ) else {
        eprintln!("usage: omx-as UID:EUID --write FD TEXT");
        exit(2);
    };
    // SAFETY: write reads `text.len()` bytes at `text`'s address, a live string for the call.
    let n = unsafe { raw::syscall6(1, [fd, text.as_ptr() as u64, text.len() as u64, 0, 0, 0]) };
    println!("write {n}");
    exit(if n == text.len() as i64 { 0 } else { 1 });
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let ids = args.first().map(|a| match a.split_once(':') {
        Some((r, e)) => (r.parse::<u32>().ok(), e.parse::<u32>().ok()),
        None => (a.parse::<u32>().ok(), None),
    });
    let (Some((Some(id), eff)), Some(cmd)) = (ids, args.get(1)) else {
        eprintln!("usage: omx-as UID[:EUID] COMMAND [ARGS...]");
        exit(2);
    };
    let e = match eff {
        None => Command::new(cmd).args(&args[2..]).gid(id).uid(id).exec(),
        Some(eff) => {
            if let Err(v) = set_ids(id, eff) {
                eprintln!("omx-as: cannot set ids {id}:{eff}: {v}");
                exit(126);
            }
            if cmd == "--write" {
                write_to(&args[2..]);
            }
            Command::new(cmd).args(&args[2..]).exec()
        }
    };
    eprintln!("omx-as: {cmd}: {e}");
    exit(127);
}
