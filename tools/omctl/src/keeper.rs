// SPDX-License-Identifier: GPL-2.0

//! `omx-keep PID SECONDS GENERATION UID GID`: the helper the module starts when
//! `/proc/openmosix/keep` is given `PID SECONDS` (the module's `migrate/keep.rs`). It gives up
//! root for the user and group that made the setting, then saves process PID every SECONDS into
//! `admin/ckpt_dir`, as `mosrun -C` does (`keep.rs`: a whole save, then saves of what changed
//! since, a new chain every eighth, to `DIR/keep-PID.GENERATION.N.ckpt`), wherever the process
//! runs. It ends, removing its files, once the process ended or `/proc/openmosix/keep` no
//! longer lists `PID SECONDS GENERATION` (the setting was changed, or turned off with 0). A
//! directory that user cannot write removes the setting (`PID 0`). It runs as root with no
//! terminal, so what goes wrong goes to the kernel log.

use crate::keep::{default_dir, prepare, Files};
use crate::{guest, read_proc, write_proc, Failure};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// How often the setting and the process are looked at.
const POLL: Duration = Duration::from_millis(500);

/// Runs the helper.
pub(crate) fn main(args: &[&str]) -> ExitCode {
    let mut say = crate::revive::kernel_log("omx-keep", args.first().copied().unwrap_or("?"));
    match run(args, &mut say) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(msg, code)) => {
            say(&msg);
            ExitCode::from(code.max(1))
        }
    }
}

/// The start time of process `pid` (field 22 of `/proc/PID/stat`), if it lives.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The name, in parentheses, may hold spaces: the fields after it are counted from its end.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_ascii_whitespace().nth(19)?.parse().ok()
}

fn run(args: &[&str], say: &mut dyn FnMut(&str)) -> Result<(), Failure> {
    let bad = || Failure("expected PID SECONDS GENERATION UID GID".to_string(), 2);
    let nums: Vec<u32> = args
        .iter()
        .map(|a| a.parse::<u32>())
        .collect::<Result<_, _>>()
        .map_err(|_| bad())?;
    let [pid, secs, generation, uid, gid] = nums[..] else {
        return Err(bad());
    };
    if uid != 0 {
        guest::sys::become_unprivileged(uid, gid).map_err(|e| Failure(e, 1))?;
    }
    let setting = format!("{pid} {secs} {generation}");
    let still_set = || read_proc("keep").is_ok_and(|t| t.lines().any(|l| l == setting));
    let Some(start) = start_time(pid) else {
        return Ok(());
    };
    let dir = default_dir();
    if let Err(Failure(msg, code)) = prepare(&dir) {
        // Nothing will save it: the setting goes, unless it was changed meanwhile.
        if still_set() {
            let _ = write_proc("keep", format!("{pid} 0").as_bytes());
        }
        return Err(Failure(format!("{msg}; setting removed"), code));
    }
    let mut files = Files::new(&dir, format!("keep-{pid}.{generation}"));
    let every = Duration::from_secs(u64::from(secs));
    let mut last = Instant::now();
    let mut warned = false;
    while start_time(pid) == Some(start) && still_set() {
        if last.elapsed() >= every {
            last = Instant::now();
            match files.save(pid) {
                Ok(()) => {}
                Err(Failure(msg, _)) if !warned => {
                    say(&format!("not saved ({msg}); tried again every period"));
                    warned = true;
                }
                Err(_) => {}
            }
        }
        std::thread::sleep(POLL.min(every));
    }
    files.remove(0);
    Ok(())
}
