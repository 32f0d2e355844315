// SPDX-License-Identifier: GPL-2.0

//! `omx-hold SECONDS NOFILE [zero]`: a test program that holds still where it is put, for tests of what
//! a migrated process is on its host and what it is when it comes home. It
//!
//! - lowers its soft and hard `RLIMIT_NOFILE` to NOFILE (a process that lowered its hard limit
//!   must never get it back by migrating);
//! - installs a `SIGUSR1` handler and blocks `SIGUSR1`, so that a `SIGUSR1` sent to it stays
//!   pending, charged to the user it runs as where it runs (`SigQ` in `/proc/PID/status` of any
//!   process of that user); the handler, which never runs, keeps the signal from being fatal
//!   where it is not blocked;
//! - with `zero`, maps page 0 and writes to it (root may, below `vm.mmap_min_addr`);
//!
//! then prints `ready` and burns the CPU until it is ended (`SIGTERM`), or for at most SECONDS,
//! and exits 0. It prints `error STEP -ERRNO` and exits 1 when a step fails.
//!
//! `omx-hold --limit PID NOFILE` sets the soft and hard `RLIMIT_NOFILE` of process PID to NOFILE
//! (as `prlimit` does; root may change any process's) and exits 0, or 1 with the error.

mod cpu;
mod raw;

use std::arch::global_asm;
use std::io::Write;

const SYS_MMAP: u64 = 9;
const SYS_RT_SIGACTION: u64 = 13;
const SYS_RT_SIGPROCMASK: u64 = 14;
const SA_RESTORER: u64 = 0x0400_0000;
const SYS_PRLIMIT64: u64 = 302;
const RLIMIT_NOFILE: u64 = 7;
const SIG_BLOCK: u64 = 0;
const SIGUSR1: u64 = 10;
const PROT_RW: u64 = 0x3;
const MAP_PRIVATE_ANON_FIXED: u64 = 0x02 | 0x20 | 0x10;

// The return path of a handler: `rt_sigreturn`, as libc's restorer does.
global_asm!(
    ".globl omx_hold_restorer",
    "omx_hold_restorer:",
    "mov eax, 15",
    "syscall",
    "ud2"
);

extern "C" {
    fn omx_hold_restorer();
}

extern "C" fn on_usr1(_sig: i32) {}

fn fail(step: &str, r: i64) -> ! {
    println!("error {step} {r}");
    std::process::exit(1);
}

/// Sets the soft and hard `RLIMIT_NOFILE` of process `pid` (0: the caller) to `n`.
fn set_nofile(pid: u64, n: u64) -> i64 {
    let limit = [n, n];
    // SAFETY: prlimit64 reads the two limits from `limit`, which outlives the call, and writes
    // nothing (no old-limit pointer).
    unsafe {
        raw::syscall6(
            SYS_PRLIMIT64,
            [pid, RLIMIT_NOFILE, limit.as_ptr() as u64, 0, 0, 0],
        )
    }
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("--limit") {
        let arg = |i: usize| std::env::args().nth(i).and_then(|a| a.parse::<u64>().ok());
        let (Some(pid), Some(n)) = (arg(2), arg(3)) else {
            eprintln!("usage: omx-hold --limit PID NOFILE");
            std::process::exit(2);
        };
        let r = set_nofile(pid, n);
        if r != 0 {
            fail("prlimit", r);
        }
        return;
    }
    let (secs, _) = cpu::seconds_and_rounds();
    let args: Vec<String> = std::env::args().skip(2).collect();
    let Some(nofile) = args.first().and_then(|a| a.parse::<u64>().ok()) else {
        eprintln!("usage: omx-hold SECONDS NOFILE [zero]");
        std::process::exit(2);
    };
    let r = set_nofile(0, nofile);
    if r != 0 {
        fail("prlimit", r);
    }
    let act: [u64; 4] = [
        on_usr1 as *const () as usize as u64,
        SA_RESTORER,
        omx_hold_restorer as *const () as usize as u64,
        0,
    ];
    // SAFETY: rt_sigaction reads the 32-byte `struct sigaction` from `act`, which outlives the
    // call, and writes nothing (no old-action pointer); the handler and restorer are code of
    // this program.
    let r = unsafe { raw::syscall6(SYS_RT_SIGACTION, [SIGUSR1, act.as_ptr() as u64, 0, 8, 0, 0]) };
    if r != 0 {
        fail("sigaction", r);
    }
    let set: u64 = 1 << (SIGUSR1 - 1);
    // SAFETY: rt_sigprocmask reads the 8-byte set from `set`, which outlives the call, and
    // writes nothing (no old-set pointer).
    let r = unsafe {
        raw::syscall6(
            SYS_RT_SIGPROCMASK,
            [SIG_BLOCK, std::ptr::from_ref(&set) as u64, 0, 8, 0, 0],
        )
    };
    if r != 0 {
        fail("sigprocmask", r);
    }
    if args.get(1).is_some_and(|a| a == "zero") {
        // SAFETY: a fixed anonymous mapping of page 0, where this program has nothing (Rust
        // never maps it), touches no memory the program uses.
        let r = unsafe {
            raw::syscall6(
                SYS_MMAP,
                [0, 4096, PROT_RW, MAP_PRIVATE_ANON_FIXED, u64::MAX, 0],
            )
        };
        if r != 0 {
            fail("mmap-page-0", r);
        }
        // SAFETY: page 0 was just mapped readable and writable for this program alone; a
        // volatile write, as the compiler may assume no object lives at address 0.
        unsafe { core::ptr::write_volatile(core::ptr::without_provenance_mut::<u8>(8), 0x5a) };
    }
    println!("ready");
    let _ = std::io::stdout().flush();
    let x = cpu::burn(secs);
    println!("done {}", x & 1);
}
