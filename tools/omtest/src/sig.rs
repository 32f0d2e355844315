// SPDX-License-Identifier: GPL-2.0

//! `omx-sig SECONDS`: a test program for signals and timers. It installs a `SIGALRM` handler
//! (without `SA_RESTART`), burns the CPU for about SECONDS (time to be migrated), then:
//! `alarm(1)` and `pause()` until the handler ran; an interval timer (`setitimer`, 200 ms) until
//! it fired five times, then disarmed and read back with `getitimer`; `alarm(1)` during a
//! blocking `read` of standard input (an open, empty pipe), which the signal interrupts with
//! `EINTR`. It writes a transcript to standard output, the same wherever it runs when its timers
//! and signals behave as at home. Exit status 0, or 1 when something went wrong.

mod cpu;

use std::arch::{asm, global_asm};
use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::time::{Duration, Instant};

const SIGALRM: u64 = 14;
const SA_RESTORER: u64 = 0x0400_0000;
const EINTR: i64 = 4;

/// Handler invocations so far.
static FIRED: AtomicU32 = AtomicU32::new(0);

extern "C" fn on_alarm(_sig: i32) {
    FIRED.fetch_add(1, SeqCst);
}

// The return path of a handler: `rt_sigreturn`, as libc's restorer does.
global_asm!(
    ".globl omx_sig_restorer",
    "omx_sig_restorer:",
    "mov eax, 15",
    "syscall",
    "ud2"
);

extern "C" {
    fn omx_sig_restorer();
}

/// A raw system call with up to four arguments; returns the kernel's value (`-errno` on error).
fn syscall4(nr: u64, a: u64, b: u64, c: u64, d: u64) -> i64 {
    let ret: i64;
    // SAFETY: the calls made here (rt_sigaction, alarm, pause, setitimer, getitimer, read) only
    // read and write the buffers their arguments point to, which the callers own for the call.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") nr as i64 => ret,
            in("rdi") a,
            in("rsi") b,
            in("rdx") c,
            in("r10") d,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    ret
}

/// `struct itimerval`: interval and value, each seconds and microseconds.
fn itimer(interval_us: u64, value_us: u64) -> [u64; 4] {
    [
        interval_us / 1_000_000,
        interval_us % 1_000_000,
        value_us / 1_000_000,
        value_us % 1_000_000,
    ]
}

fn wait_fired(n: u32, limit: Duration) -> bool {
    let t0 = Instant::now();
    while FIRED.load(SeqCst) < n {
        if t0.elapsed() > limit {
            return false;
        }
        std::hint::spin_loop();
    }
    true
}

fn main() {
    let secs: f64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1.0);
    let out = std::io::stdout();
    let mut out = out.lock();
    let mut ok = true;

    // struct kernel_sigaction: handler, flags, restorer, mask.
    let act: [u64; 4] = [
        on_alarm as *const () as usize as u64,
        SA_RESTORER,
        omx_sig_restorer as *const () as usize as u64,
        0,
    ];
    let r = syscall4(13, SIGALRM, act.as_ptr() as u64, 0, 8);
    writeln!(out, "sigaction SIGALRM: {r}").ok();

    // Phase 1: CPU only.
    let x = cpu::burn(secs);

    // alarm and pause.
    let r = syscall4(37, 1, 0, 0, 0);
    writeln!(out, "alarm(1) returned {r}").ok();
    let r = syscall4(34, 0, 0, 0, 0);
    let fired = FIRED.load(SeqCst);
    writeln!(out, "pause returned {r}; handler ran {fired} time(s)").ok();
    ok &= r == -EINTR && fired == 1;

    // An interval timer, five ticks.
    let it = itimer(200_000, 200_000);
    let mut old = [0u64; 4];
    let r = syscall4(38, 0, it.as_ptr() as u64, old.as_mut_ptr() as u64, 0);
    writeln!(out, "setitimer: {r}, old value {:?}", old).ok();
    let ticked = wait_fired(6, Duration::from_secs(20));
    let stop = itimer(0, 0);
    syscall4(38, 0, stop.as_ptr() as u64, 0, 0);
    let mut now = [9u64; 4];
    let r = syscall4(36, 0, now.as_mut_ptr() as u64, 0, 0);
    writeln!(out, "interval timer fired 5 times: {ticked}").ok();
    writeln!(out, "getitimer after disarming: {r}, {:?}", now).ok();
    ok &= ticked && r == 0 && now == [0; 4];
    // Ticks that were on their way when the timer stopped.
    std::thread::sleep(Duration::from_millis(300));
    FIRED.store(0, SeqCst);

    // A blocking read interrupted by a signal.
    syscall4(37, 1, 0, 0, 0);
    let mut buf = [0u8; 16];
    let r = syscall4(0, 0, buf.as_mut_ptr() as u64, buf.len() as u64, 0);
    let fired = FIRED.load(SeqCst);
    writeln!(
        out,
        "read interrupted: {r} (EINTR is -{EINTR}); handler ran {fired} time(s)"
    )
    .ok();
    ok &= r == -EINTR && fired == 1;

    writeln!(
        out,
        "done {} {}",
        if ok { "ok" } else { "FAILED" },
        x & 1 | 1
    )
    .ok();
    out.flush().ok();
    std::process::exit(if ok { 0 } else { 1 });
}
