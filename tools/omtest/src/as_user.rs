// SPDX-License-Identifier: GPL-2.0

//! `omx-as UID COMMAND [ARGS...]`: runs COMMAND with user and group id UID (the standard library
//! drops supplementary groups when root sets a user id), for tests of what an ordinary user may
//! do. Exits with COMMAND's status.

use std::os::unix::process::CommandExt;
use std::process::{exit, Command};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(id), Some(cmd)) = (
        args.first().and_then(|a| a.parse::<u32>().ok()),
        args.get(1),
    ) else {
        eprintln!("usage: omx-as UID COMMAND [ARGS...]");
        exit(2);
    };
    let e = Command::new(cmd).args(&args[2..]).gid(id).uid(id).exec();
    eprintln!("omx-as: {cmd}: {e}");
    exit(127);
}
