// SPDX-License-Identifier: GPL-2.0

//! `omctl migrate [--no-wait] PID NODE|home` (and `migrate`): asks the module to move a
//! process and, unless told not to wait, waits until the move is done and says how it went:
//! where the process runs now, how long it was frozen, how much was sent; or why it did not
//! move (exit status 1).
//!
//! The home node records how every move of its processes ended in `/proc/openmosix/moves`
//! (`omcore::moves`), with the pid of the task that asked: this command's own outcome is the
//! first one for the process, asked by this command, after those there when it began. A
//! process that is moving already (`EBUSY`) is waited for, then asked. A guest of another
//! node's hosted here is moved by its home: the request is passed on and not waited for.

use crate::{read_proc, this_node, write_failure, write_proc, write_proc_io};
use crate::{Failure, Res};
use omcore::moves::Outcome;
use std::time::{Duration, Instant};

/// How often the outcomes are read while waiting.
const POLL: Duration = Duration::from_millis(50);

/// How long a move is waited for at most. The module ends every move far sooner (its answer
/// time limit, a node that goes down); this only keeps a stuck node from holding the command.
const LIMIT: Duration = Duration::from_secs(3600);

const EBUSY: i32 = 16;

pub(crate) fn run(args: &[&str]) -> Res {
    let (wait, rest) = match args {
        ["--no-wait", rest @ ..] => (false, rest),
        _ => (true, args),
    };
    let [pid, node] = rest else {
        return Err(Failure(
            "usage: migrate [--no-wait] PID NODE|home".into(),
            2,
        ));
    };
    let Some(pid) = pid.parse::<u32>().ok().filter(|&p| p != 0) else {
        return Err(Failure(format!("bad pid '{pid}'"), 2));
    };
    if *node != "home" && node.parse::<u32>().map_or(true, |n| n == 0) {
        return Err(Failure(format!("bad node '{node}' (an ID, or home)"), 2));
    }
    let request = format!("{pid} {node}\n");
    if !wait {
        return write_proc("migrate", request.as_bytes());
    }
    if let Some(home) = guest_home(pid)? {
        write_proc("migrate", request.as_bytes())?;
        println!("process {pid} is a guest of node {home}'s: its home was asked to move it");
        return Ok(());
    }
    let base = last_seq()?;
    let me = std::process::id();
    let t0 = Instant::now();
    // A move under way ends first; this one is asked then.
    loop {
        match write_proc_io("migrate", request.as_bytes()) {
            Ok(()) => break,
            Err(e) if e.raw_os_error() == Some(EBUSY) && alive(pid) && t0.elapsed() < LIMIT => {
                std::thread::sleep(POLL);
            }
            Err(e) => return Err(write_failure("migrate", &e)),
        }
    }
    loop {
        if let Some(o) = outcome(base, pid, me)? {
            return report(&o);
        }
        if !alive(pid) {
            return Err(Failure(
                format!("process {pid} ended before its move was done"),
                1,
            ));
        }
        if t0.elapsed() > LIMIT {
            return Err(Failure(
                format!(
                    "no word of the move of process {pid} after {} s (see `omctl ps` and the \
                     kernel log)",
                    LIMIT.as_secs()
                ),
                1,
            ));
        }
        std::thread::sleep(POLL);
    }
}

/// The outcomes this node keeps.
fn outcomes() -> Result<Vec<Outcome>, Failure> {
    Ok(read_proc("moves")?
        .lines()
        .filter_map(Outcome::parse)
        .collect())
}

/// The number of the latest outcome recorded (0: none yet).
fn last_seq() -> Result<u64, Failure> {
    Ok(outcomes()?.iter().map(|o| o.seq).max().unwrap_or(0))
}

/// The first outcome after number `base` of a move of `pid` that `asked_by` asked for.
fn outcome(base: u64, pid: u32, asked_by: u32) -> Result<Option<Outcome>, Failure> {
    Ok(outcomes()?
        .into_iter()
        .find(|o| o.seq > base && o.pid == pid && o.asked_by == asked_by))
}

/// The home of `pid` when it is a guest hosted here (`PID guest-of HOME home-pid P` in the
/// migration list).
fn guest_home(pid: u32) -> Result<Option<u32>, Failure> {
    let list = read_proc("migrate")?;
    Ok(list.lines().find_map(|l| {
        let w: Vec<&str> = l.split_ascii_whitespace().collect();
        match w[..] {
            [p, "guest-of", home, ..] if p.parse() == Ok(pid) => home.parse().ok(),
            _ => None,
        }
    }))
}

/// Whether process `pid` exists and has not ended (a zombie has).
fn alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the command name, which ends with the last ')'.
    let state = stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].split_ascii_whitespace().next());
    !matches!(state, Some("Z" | "X") | None)
}

/// Says how the move went; a failure is an error (exit status 1).
fn report(o: &Outcome) -> Res {
    let here = this_node()?;
    let node = |n: u32| {
        if n == here {
            "home".to_string()
        } else {
            format!("node {n}")
        }
    };
    if o.error != 0 {
        let err = std::io::Error::from_raw_os_error(o.error as i32);
        let stays = if o.from == here {
            "it stays home".to_string()
        } else {
            format!("it stays on node {}", o.from)
        };
        return Err(Failure(
            format!(
                "process {} did not move to {}: {err}; {stays} (the kernel log says more)",
                o.pid,
                node(o.to),
            ),
            1,
        ));
    }
    let frozen = o
        .frozen_ms
        .map(|ms| format!(", frozen {ms} ms"))
        .unwrap_or_default();
    let sent = o
        .kib
        .map(|k| format!(", {k} KiB of pages sent"))
        .unwrap_or_default();
    if o.from == o.to && o.to == here {
        println!("process {} is at home already", o.pid);
    } else if o.from == o.to {
        println!("process {} runs on node {} already", o.pid, o.to);
    } else if o.to == here {
        println!(
            "process {} is back home from node {}{frozen}",
            o.pid, o.from
        );
    } else if o.from == here {
        println!("process {} now runs on node {}{frozen}{sent}", o.pid, o.to);
    } else {
        println!(
            "process {} moved on from node {} to node {}{frozen}{sent}",
            o.pid, o.from, o.to
        );
    }
    Ok(())
}
