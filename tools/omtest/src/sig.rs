// SPDX-License-Identifier: GPL-2.0

//! `omx-sig SECONDS [ROUNDS [abort]]`: a test program for signals and timers. It installs a
//! `SIGALRM` handler (without `SA_RESTART`), then ROUNDS times (default 1) burns the CPU for about
//! SECONDS (time to be migrated; a `SIGALRM` from outside ends it early), then: installs a `SIGUSR1` handler and sends `SIGUSR1` to its
//! own pid with `kill`, `tkill`, `tgkill`, `rt_sigqueueinfo` and `rt_tgsigqueueinfo` (the handler
//! must run once for each, set where the process runs by then); probes its parent with signal 0
//! by `tkill` and `tgkill` (another process: it exists); `alarm(1)` and `pause()` until
//! the handler ran; an interval timer (`setitimer`, 200 ms) until it fired five times, then
//! disarmed and read back with `getitimer`; a POSIX timer (`timer_create`, `timer_settime`,
//! `timer_gettime`, `timer_delete`); `alarm(1)` during a blocking `read` of standard input (an
//! open, empty pipe), which the signal interrupts with `EINTR`. It writes a transcript to
//! standard output, the same wherever it runs when its timers and signals behave as at home.
//! Exit status 0, or 1 when something went wrong; with `abort`, after its last line it calls
//! the C library's `abort` (`SIGABRT` sent to itself by `tkill`): it dies of `SIGABRT`.

mod cpu;
mod handler;
mod raw;

use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::time::{Duration, Instant};

const SIGUSR1: u64 = 10;
const SIGALRM: u64 = 14;
const EINTR: i64 = 4;

/// Handler invocations so far.
static FIRED: AtomicU32 = AtomicU32::new(0);

extern "C" fn on_alarm(_sig: i32) {
    FIRED.fetch_add(1, SeqCst);
}

/// `SIGUSR1` handler invocations so far.
static USR1: AtomicU32 = AtomicU32::new(0);

extern "C" fn on_usr1(_sig: i32) {
    USR1.fetch_add(1, SeqCst);
}

/// A raw system call with up to four arguments; returns the kernel's value (`-errno` on error).
fn syscall4(nr: u64, a: u64, b: u64, c: u64, d: u64) -> i64 {
    // SAFETY: the calls made here (rt_sigaction, kill, tkill, tgkill, rt_sigqueueinfo,
    // rt_tgsigqueueinfo, alarm, pause, setitimer, getitimer, read, timer_create, timer_settime,
    // timer_gettime, timer_delete) only read and write the buffers their arguments point to,
    // which the callers own for the call.
    unsafe { raw::syscall6(nr, [a, b, c, d, 0, 0]) }
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
    let (secs, rounds) = cpu::seconds_and_rounds();
    let out = std::io::stdout();
    let mut out = out.lock();
    let mut ok = true;

    let act: [u64; 4] = handler::action(on_alarm);
    let r = syscall4(13, SIGALRM, act.as_ptr() as u64, 0, 8);
    writeln!(out, "sigaction SIGALRM: {r}").ok();

    let mut x = 0;
    for round in 0..rounds {
        // CPU only (ended early by a SIGALRM from outside), then the timers.
        let t0 = Instant::now();
        while FIRED.load(SeqCst) == 0 && t0.elapsed().as_secs_f64() < secs {
            x ^= cpu::burn(secs.min(0.05));
        }
        writeln!(out, "round {round}").ok();
        FIRED.store(0, SeqCst);

        // A SIGUSR1 handler set here and now (wherever the process runs by now), and SIGUSR1
        // sent to its own pid: the handler runs, the process lives; then the default again.
        USR1.store(0, SeqCst);
        let usr1: [u64; 4] = handler::action(on_usr1);
        let set = syscall4(13, SIGUSR1, usr1.as_ptr() as u64, 0, 8);
        let pid = u64::from(std::process::id());
        let sent = syscall4(62, pid, SIGUSR1, 0, 0);
        let t0 = Instant::now();
        while USR1.load(SeqCst) == 0 && t0.elapsed() < Duration::from_secs(5) {
            std::hint::spin_loop();
        }
        let ran = USR1.load(SeqCst);
        writeln!(
            out,
            "SIGUSR1 handler set {set}, kill to own pid {sent}, handler ran {ran} time(s)"
        )
        .ok();
        ok &= set == 0 && sent == 0 && ran == 1;
        // The same by the calls that name a thread, or carry a `siginfo` (SI_QUEUE).
        let mut siginfo = [0u8; 128];
        siginfo[0..4].copy_from_slice(&(SIGUSR1 as i32).to_ne_bytes());
        siginfo[8..12].copy_from_slice(&(-1i32).to_ne_bytes());
        let info = siginfo.as_ptr() as u64;
        for (name, nr, a) in [
            ("tkill", 200, [pid, SIGUSR1, 0, 0]),
            ("tgkill", 234, [pid, pid, SIGUSR1, 0]),
            ("rt_sigqueueinfo", 129, [pid, SIGUSR1, info, 0]),
            ("rt_tgsigqueueinfo", 297, [pid, pid, SIGUSR1, info]),
        ] {
            USR1.store(0, SeqCst);
            let sent = syscall4(nr, a[0], a[1], a[2], a[3]);
            let t0 = Instant::now();
            while USR1.load(SeqCst) == 0 && t0.elapsed() < Duration::from_secs(5) {
                std::hint::spin_loop();
            }
            let ran = USR1.load(SeqCst);
            writeln!(out, "{name} to itself {sent}, handler ran {ran} time(s)").ok();
            ok &= sent == 0 && ran == 1;
        }
        // Signal 0 to its parent, a process of its home: it is there.
        let parent = u64::from(std::os::unix::process::parent_id());
        let t = syscall4(200, parent, 0, 0, 0);
        let tg = syscall4(234, parent, parent, 0, 0);
        writeln!(out, "tkill, tgkill to its parent with signal 0: {t}, {tg}").ok();
        ok &= t == 0 && tg == 0;
        let default = [0u64; 4];
        syscall4(13, SIGUSR1, default.as_ptr() as u64, 0, 8);

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

        // A POSIX timer on CLOCK_MONOTONIC: SIGALRM once, in 300 ms.
        let mut sev = [0u8; 64];
        sev[8..12].copy_from_slice(&(SIGALRM as i32).to_ne_bytes()); // SIGEV_SIGNAL (0)
        let mut id = 0i32;
        let made = syscall4(
            222,
            1,
            sev.as_ptr() as u64,
            core::ptr::from_mut(&mut id) as u64,
            0,
        );
        let spec = [0u64, 0, 0, 300_000_000];
        let set = syscall4(223, id as u64, 0, spec.as_ptr() as u64, 0);
        let fired = wait_fired(1, Duration::from_secs(5));
        let mut left = [9u64; 4];
        let got = syscall4(224, id as u64, left.as_mut_ptr() as u64, 0, 0);
        let deleted = syscall4(226, id as u64, 0, 0, 0);
        writeln!(
            out,
            "POSIX timer: made {made}, set {set}, fired {fired}, then {left:?} ({got}), \
             deleted {deleted}"
        )
        .ok();
        ok &= made == 0 && set == 0 && fired && got == 0 && left == [0; 4] && deleted == 0;
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
    }

    writeln!(
        out,
        "done {} {}",
        if ok { "ok" } else { "FAILED" },
        x & 1 | 1
    )
    .ok();
    out.flush().ok();
    if ok && std::env::args().nth(3).as_deref() == Some("abort") {
        std::process::abort();
    }
    std::process::exit(if ok { 0 } else { 1 });
}
