// SPDX-License-Identifier: GPL-2.0

//! `omx-intr MIB`: blocking calls interrupted by a signal that reaches the process while it
//! moves. It fills MIB MiB of memory (so that a move of it takes a while), installs a `SIGUSR1`
//! handler without `SA_RESTART` and a `SIGUSR2` handler with it, prints `ready`, then, each
//! step printing one line as it ends:
//!
//! 1. `pause`: `pause -4 usr1 1` once a `SIGUSR1` ran its handler;
//! 2. a `read` of standard input (a pipe that stays empty): `read -4 usr1 2` once a second
//!    `SIGUSR1` ran its handler;
//! 3. a `read` of standard input again: a `SIGUSR2` runs its handler and the call goes on
//!    (`SA_RESTART`): `restarted read 3 "go\n" usr2 1` once `go` and a newline were written;
//! 4. a `nanosleep` of SECONDS (default 4), which a move without a signal must not cut short:
//!    `slept 0 at least 4 s`;
//! 5. an `epoll_wait` for standard input, which moves without a signal must not end: `epoll 1`
//!    once a line was written, and `then read 2` (the line is `x` and a newline);
//!
//! then `sum HEX` of its memory and exits 0 (1 when its memory changed). The transcript is the
//! same wherever the process is, and whenever during a move the signals reach it: a call
//! interrupted by the move as well as by a signal must end as the signal's handler says, never
//! wait on after the handler ran.

mod handler;
mod raw;

use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::time::{Duration, Instant};

const SIGUSR1: u64 = 10;
const SIGUSR2: u64 = 12;
const SA_RESTART: u64 = 0x1000_0000;

static USR1: AtomicU32 = AtomicU32::new(0);
static USR2: AtomicU32 = AtomicU32::new(0);

extern "C" fn on_usr1(_sig: i32) {
    USR1.fetch_add(1, SeqCst);
}

extern "C" fn on_usr2(_sig: i32) {
    USR2.fetch_add(1, SeqCst);
}

/// A raw system call with up to four arguments; returns the kernel's value (`-errno`).
fn syscall4(nr: u64, a: u64, b: u64, c: u64, d: u64) -> i64 {
    // SAFETY: the calls made here (rt_sigaction, pause, read, nanosleep, epoll_create1,
    // epoll_ctl, epoll_wait) only read and write the buffers their arguments point to, which
    // the callers own for the call.
    unsafe { raw::syscall6(nr, [a, b, c, d, 0, 0]) }
}

/// Fills `mem` from a seed; returns the sum it must keep.
fn fill(mem: &mut [u64]) -> u64 {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut sum = 0u64;
    for w in mem.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *w = x;
        sum = sum.wrapping_add(x);
    }
    sum
}

fn main() {
    let mib: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(64);
    let secs: u64 = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(4);
    let mut mem = vec![0u64; mib << 17];
    let want = fill(&mut mem);

    let out = std::io::stdout();
    let mut out = out.lock();
    let usr1 = handler::action(on_usr1);
    let mut usr2 = handler::action(on_usr2);
    usr2[1] |= SA_RESTART;
    let a = syscall4(13, SIGUSR1, usr1.as_ptr() as u64, 0, 8);
    let b = syscall4(13, SIGUSR2, usr2.as_ptr() as u64, 0, 8);
    if a != 0 || b != 0 {
        writeln!(out, "error sigaction {a} {b}").ok();
        std::process::exit(1);
    }
    writeln!(out, "ready").ok();
    out.flush().ok();

    let r = syscall4(34, 0, 0, 0, 0);
    writeln!(out, "pause {r} usr1 {}", USR1.load(SeqCst)).ok();
    out.flush().ok();

    let mut buf = [0u8; 16];
    let r = syscall4(0, 0, buf.as_mut_ptr() as u64, buf.len() as u64, 0);
    writeln!(out, "read {r} usr1 {}", USR1.load(SeqCst)).ok();
    out.flush().ok();

    let r = syscall4(0, 0, buf.as_mut_ptr() as u64, buf.len() as u64, 0);
    let got = usize::try_from(r).map_or(&[][..], |n| &buf[..n.min(buf.len())]);
    writeln!(
        out,
        "restarted read {r} {:?} usr2 {}",
        String::from_utf8_lossy(got),
        USR2.load(SeqCst)
    )
    .ok();
    out.flush().ok();

    // The time is measured by the clock the process reads wherever it is (a move keeps it
    // going on), the sleep made again from its start when a move cut it.
    let t0 = Instant::now();
    let ts = [secs, 0u64];
    let r = syscall4(35, ts.as_ptr() as u64, 0, 0, 0);
    let long = t0.elapsed() >= Duration::from_secs(secs);
    writeln!(
        out,
        "slept {r} {} {secs} s",
        if long { "at least" } else { "less than" }
    )
    .ok();

    // `struct epoll_event` (packed): the events, then the data.
    let ep = syscall4(291, 0, 0, 0, 0);
    let mut ev = [0u8; 12];
    ev[..4].copy_from_slice(&1u32.to_ne_bytes()); // EPOLLIN
    let added = syscall4(233, ep as u64, 1, 0, ev.as_ptr() as u64);
    if ep < 0 || added != 0 {
        writeln!(out, "error epoll {ep} {added}").ok();
        std::process::exit(1);
    }
    out.flush().ok();
    let mut got = [0u8; 12];
    let r = syscall4(232, ep as u64, got.as_mut_ptr() as u64, 1, u64::MAX);
    let n = syscall4(0, 0, buf.as_mut_ptr() as u64, buf.len() as u64, 0);
    writeln!(out, "epoll {r} then read {n}").ok();

    let sum = mem.iter().fold(0u64, |s, w| s.wrapping_add(*w));
    writeln!(out, "sum {sum:x}").ok();
    out.flush().ok();
    std::process::exit(if sum == want { 0 } else { 1 });
}
