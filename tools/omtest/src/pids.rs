// SPDX-License-Identifier: GPL-2.0

//! `omx-pids FILE`: once FILE exists (it waits for it, looking every 100 ms: time to be
//! migrated), names process 1 and itself in the calls that run where the process is, not at
//! home, and prints one
//! `NAME RESULT` line per call (the raw return value: `-errno` on failure). Migrated, a process
//! must not learn through them what runs on its host (ESRCH for any pid but its own), while its
//! own pid (the home pid it knows, or 0) still works:
//!
//! - `init-getparam`, `init-getscheduler`, `init-rr`, `init-getaffinity`, `init-getattr`,
//!   `init-robust`, `init-capget`: `sched_getparam(1)`, `sched_getscheduler(1)`,
//!   `sched_rr_get_interval(1)`, `sched_getaffinity(1)`, `sched_getattr(1)`,
//!   `get_robust_list(1)`, `capget({v3, 1})`;
//! - `own-getparam`, `zero-getparam`, `own-getaffinity`, `own-capget`: the same calls with its
//!   own pid or 0 (a positive result prints as 1, as affinity returns a length).

mod raw;

const SCHED_GETPARAM: u64 = 143;
const SCHED_GETSCHEDULER: u64 = 145;
const SCHED_RR_GET_INTERVAL: u64 = 148;
const CAPGET: u64 = 125;
const SCHED_GETAFFINITY: u64 = 204;
const GET_ROBUST_LIST: u64 = 274;
const SCHED_GETATTR: u64 = 315;
const CAP_V3: u32 = 0x2008_0522;

/// Makes call `nr` with `args`; a positive result prints as 1.
fn call(name: &str, nr: u64, args: [u64; 6]) {
    // SAFETY: every call made here writes at most into the 256-byte buffers `main` lends it
    // through `args`, which live across the call.
    let r = unsafe { raw::syscall6(nr, args) };
    println!("{name} {}", if r > 0 { 1 } else { r });
}

fn main() {
    let Some(go) = std::env::args().nth(1) else {
        eprintln!("usage: omx-pids FILE");
        std::process::exit(2)
    };
    while !std::path::Path::new(&go).exists() {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let me = u64::from(std::process::id());
    let mut buf = [0u8; 256];
    let mut word = [0u64; 2];
    let b = buf.as_mut_ptr() as u64;
    let w = word.as_mut_ptr() as u64;
    for (who, pid) in [("init", 1), ("own", me), ("zero", 0)] {
        if who == "init" {
            call(
                "init-getscheduler",
                SCHED_GETSCHEDULER,
                [pid, 0, 0, 0, 0, 0],
            );
            call("init-rr", SCHED_RR_GET_INTERVAL, [pid, b, 0, 0, 0, 0]);
            call("init-getattr", SCHED_GETATTR, [pid, b, 56, 0, 0, 0]);
            call("init-robust", GET_ROBUST_LIST, [pid, w, w + 8, 0, 0, 0]);
        }
        call(
            &format!("{who}-getparam"),
            SCHED_GETPARAM,
            [pid, b, 0, 0, 0, 0],
        );
        if who != "zero" {
            call(
                &format!("{who}-getaffinity"),
                SCHED_GETAFFINITY,
                [pid, 128, b, 0, 0, 0],
            );
            // struct __user_cap_header_struct { u32 version; i32 pid; }, then the data.
            buf[..4].copy_from_slice(&CAP_V3.to_ne_bytes());
            buf[4..8].copy_from_slice(&(pid as i32).to_ne_bytes());
            call(&format!("{who}-capget"), CAPGET, [b, b + 16, 0, 0, 0, 0]);
        }
    }
}
