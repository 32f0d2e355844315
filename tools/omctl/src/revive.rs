// SPDX-License-Identifier: GPL-2.0

//! `omx-revive PID UID GID`: the helper the module starts when the host of process PID's guest
//! went down and the process has a checkpoint (the module's `migrate/revive.rs`). Its
//! descriptor 0 is that checkpoint, the latest save of the process; it runs as root with no
//! terminal, so it says what it does in the kernel log.
//!
//! It opens `/proc/openmosix/revive`, gives up root for the user and group that made the save
//! (their rights are the ones that read the chain, as `omctl restart` would have read it),
//! checks and merges the chain of saves the file ends (`chain.rs`) into one whole image in a
//! memfd, and hands it to the process's deputy: `PID FD OFFSET`, followed by `N:POS` for each
//! regular file the save has open on N at POS that the process still has open on N (same
//! path), to be set back to where it was at the save.

use crate::{chain, guest, proc_root, Failure};
use omcore::ckpt::{self, FdKind};
use omcore::revive::{self, Request};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Runs the helper; its failures go to the kernel log.
pub(crate) fn main(args: &[&str]) -> ExitCode {
    let mut say = kernel_log("omx-revive", args.first().copied().unwrap_or("?"));
    match revive(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(msg, code)) => {
            say(&msg);
            ExitCode::from(code.max(1))
        }
    }
}

/// What a helper the module starts (with no terminal) says: a warning line `NAME PID: MSG` in
/// the kernel log (`/dev/kmsg`, opened now, while it may), or on standard error without it.
pub(crate) fn kernel_log(name: &'static str, pid: &str) -> impl FnMut(&str) {
    let mut log = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/kmsg")
        .ok();
    let pid = pid.to_string();
    move |msg| {
        let line = format!("<4>{name} {pid}: {msg}\n");
        match log.as_mut() {
            Some(l) => {
                let _ = l.write_all(line.as_bytes());
            }
            None => eprint!("{line}"),
        }
    }
}

fn revive(args: &[&str]) -> Result<(), Failure> {
    let bad = || Failure("expected PID UID GID".to_string(), 2);
    let [pid, uid, gid] = args else {
        return Err(bad());
    };
    let pid: u32 = pid.parse().map_err(|_| bad())?;
    let pid_i32 = i32::try_from(pid).map_err(|_| bad())?;
    let uid: u32 = uid.parse().map_err(|_| bad())?;
    let gid: u32 = gid.parse().map_err(|_| bad())?;
    let fail = |what: &str, e: std::io::Error| Failure(format!("{what}: {e}"), 1);
    let save = std::fs::read_link("/proc/self/fd/0").map_err(|e| fail("its checkpoint", e))?;
    let ctl_path = proc_root().join("revive");
    let mut ctl = std::fs::OpenOptions::new()
        .write(true)
        .open(&ctl_path)
        .map_err(|e| fail(&ctl_path.display().to_string(), e))?;
    if uid != 0 {
        guest::sys::become_unprivileged(uid, gid).map_err(|e| Failure(e, 1))?;
    }
    // Through descriptor 0 itself, opened again with the saver's rights: the very file saved,
    // whatever its name is now.
    let saves = chain::read_chain_as(Path::new("/proc/self/fd/0"), &save)?;
    let (mut merged, home_at) = chain::merge(&saves)?;
    let mut home = Vec::new();
    merged
        .seek(SeekFrom::Start(home_at))
        .and_then(|_| merged.read_to_end(&mut home))
        .map_err(|e| fail("the merged image", e))?;
    let home = ckpt::decode_home(&home).map_err(|e| Failure(format!("{e}"), 1))?;
    let req = Request::new(pid_i32, merged.as_raw_fd(), ckpt::HEADER_LEN as u64);
    let mut line = req.to_string();
    // At most as many as the module takes.
    for f in home
        .fds()
        .filter(|f| f.kind == FdKind::Reopen)
        .filter(|f| same_file(pid, f.fd, f.path))
        .take(revive::MAX_SEEKS)
    {
        let _ = Request::fmt_seek(&mut line, f.fd, f.pos);
    }
    line.push('\n');
    ctl.write_all(line.as_bytes())
        .map_err(|e| fail(&format!("{} ({})", ctl_path.display(), save.display()), e))
}

/// Whether process `pid` has `path` open on descriptor `fd`.
fn same_file(pid: u32, fd: u32, path: &[u8]) -> bool {
    let link = PathBuf::from(format!("/proc/{pid}/fd/{fd}"));
    std::fs::read_link(&link).is_ok_and(|p| p.as_os_str().as_bytes() == path)
        && Path::new(std::ffi::OsStr::from_bytes(path)).is_absolute()
}
