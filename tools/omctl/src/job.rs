// SPDX-License-Identifier: GPL-2.0

//! A saved process's place in its session (`omcore::ckpt::Job`), read at the save and taken
//! again at the restart. A process that led its session is restarted leading a new one (with
//! no controlling terminal: a session cannot take one back from another); one that led its
//! process group leads a new group and, if its group had its terminal's foreground at the save
//! and `omctl restart` has its own terminal's foreground, it takes that foreground, as a shell
//! gives it to a job. `omctl restart` then relays job control as a shell would: when the
//! restarted process stops, it takes the terminal back and stops itself (`SIGTSTP`, as from
//! the terminal), so that the shell
//! that started it sees its job stopped; continued, it gives the terminal back (in the
//! foreground) and continues the process; once the process ends, it takes the terminal back.

use crate::raw;
use omcore::ckpt::Job;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
use std::os::unix::fs::MetadataExt;

const SIGCONT: i32 = 18;
const SIGTSTP: i32 = 20;

/// The fields of `/proc/PID/stat` after its name: pgrp, session, tty_nr, tpgid.
fn stat_fields(pid: u32) -> Option<[i64; 4]> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<i64> = rest
        .split_ascii_whitespace()
        .skip(2)
        .take(4)
        .map(|w| w.parse().ok())
        .collect::<Option<_>>()?;
    f.try_into().ok()
}

/// Where process `pid` stands in its session: flags and its terminal's path (found among its
/// descriptors; empty when none of them is its terminal, which then is not saved).
pub(crate) fn of(pid: u32) -> (u8, Vec<u8>) {
    let Some([pgrp, session, tty, tpgid]) = stat_fields(pid) else {
        return (0, Vec::new());
    };
    let mut flags = 0;
    if session == i64::from(pid) {
        flags |= Job::SESSION_LEADER;
    }
    if pgrp == i64::from(pid) {
        flags |= Job::GROUP_LEADER;
    }
    let terminal = (tty != 0)
        .then(|| std::fs::read_dir(format!("/proc/{pid}/fd")).ok())
        .flatten()
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .find(|p| {
            std::fs::metadata(p)
                .is_ok_and(|m| m.file_type().is_char_device() && m.rdev() as i64 == tty)
        })
        .map(|p| p.as_os_str().as_bytes().to_vec())
        .unwrap_or_default();
    if !terminal.is_empty() && tpgid == pgrp {
        flags |= Job::FOREGROUND;
    }
    (flags, terminal)
}

/// In the restarting process (`omctl _restart`), before the restore: takes the place `job`
/// says, as far as it can (see the module documentation).
/// `foreground`: `omctl restart` has its terminal's foreground and relays job control.
pub(crate) fn take_place(job: &Job<'_>, foreground: bool) {
    if job.flags & Job::SESSION_LEADER != 0 {
        raw::setsid();
    } else if job.flags & Job::GROUP_LEADER != 0 {
        let led = raw::own_group() == 0;
        if led && foreground && job.flags & Job::FOREGROUND != 0 {
            raw::tcsetpgrp(0, raw::getpid());
        }
    }
}

/// In `omctl restart`, which had its terminal's foreground when it started the process if
/// `had_fg`: waits for the restarted process `pid` to end, relaying its stops as a shell's
/// job (see the module documentation); returns its wait status.
pub(crate) fn wait(pid: i32, had_fg: bool) -> Result<i32, String> {
    let mine = raw::getpgrp();
    loop {
        let (_, status) = raw::wait_untraced(pid).map_err(|e| format!("wait: error {}", -e))?;
        let stopped = status & 0xff == 0x7f;
        if !stopped {
            if had_fg && raw::tcgetpgrp(0) != mine {
                raw::tcsetpgrp(0, mine);
            }
            return Ok(status);
        }
        // Stopped in the terminal's foreground: the shell that started this command sees it
        // stopped too (a stop elsewhere is not this command's to relay).
        if !(had_fg && raw::tcgetpgrp(0) == pid) {
            continue;
        }
        raw::tcsetpgrp(0, mine);
        raw::kill(raw::getpid(), SIGTSTP);
        // Continued: `fg` gives this group the foreground again, `bg` does not.
        if raw::tcgetpgrp(0) == mine {
            raw::tcsetpgrp(0, pid);
        }
        raw::kill(pid, SIGCONT);
    }
}
