// SPDX-License-Identifier: GPL-2.0

//! `omx-job`: a parent that watches its child's job-control states, as a shell does. It forks a
//! child that, in a process group of its own (as a shell's job), burns the CPU until a signal
//! ends it; it writes `child PID` first, then one line for
//! each change its `waitpid(WUNTRACED | WCONTINUED)` reports: `stopped SIG`, `continued`, and at
//! last `killed SIG` or `exited CODE`, after which it exits 0 (1 if `wait4` fails). The test
//! moves the child to another node and stops and continues it from its home: the lines must be
//! those of a child that never moved.

mod raw;

use std::io::Write;

const FORK: u64 = 57;
const SETPGID: u64 = 109;
const WAIT4: u64 = 61;
const WUNTRACED: u64 = 2;
const WCONTINUED: u64 = 8;

fn main() {
    // SAFETY: fork touches no memory of the process; the child only computes and exits.
    let pid = unsafe { raw::syscall6(FORK, [0; 6]) };
    if pid == 0 {
        // SAFETY: setpgid touches no memory.
        unsafe { raw::syscall6(SETPGID, [0; 6]) };
        let mut x = 1u64;
        loop {
            x = std::hint::black_box(
                x.wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407),
            );
        }
    }
    let out = std::io::stdout();
    let mut out = out.lock();
    if pid < 0 {
        writeln!(out, "fork failed: {pid}").ok();
        std::process::exit(1);
    }
    writeln!(out, "child {pid}").ok();
    out.flush().ok();
    loop {
        let mut status = 0i32;
        let st = core::ptr::from_mut(&mut status) as u64;
        // SAFETY: wait4 writes the status word `st` points to, which lives across the call.
        let r = unsafe { raw::syscall6(WAIT4, [pid as u64, st, WUNTRACED | WCONTINUED, 0, 0, 0]) };
        if r != pid {
            writeln!(out, "wait4 failed: {r}").ok();
            std::process::exit(1);
        }
        let line = if status & 0xff == 0x7f {
            format!("stopped {}", (status >> 8) & 0xff)
        } else if status == 0xffff {
            "continued".to_string()
        } else if status & 0x7f != 0 {
            format!("killed {}", status & 0x7f)
        } else {
            format!("exited {}", (status >> 8) & 0xff)
        };
        writeln!(out, "{line}").ok();
        out.flush().ok();
        if line.starts_with("killed") || line.starts_with("exited") {
            std::process::exit(0);
        }
    }
}
