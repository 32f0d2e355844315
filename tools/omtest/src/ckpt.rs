// SPDX-License-Identifier: GPL-2.0

//! `omx-ckpt OUT ROUNDS MB GATE`: a computation whose result shows whether it was saved and
//! restarted whole. Each of ROUNDS rounds checks the MB megabytes of memory the round before
//! wrote (a pattern of that round's seed) and writes the next, advances an FPU state (SSE
//! arithmetic) and writes a line with the round's checksum and FPU bits to OUT (opened once,
//! created and truncated). Before round ROUNDS/3 it prints `waiting 1` and waits for the file
//! GATE1 to exist, before round 2*ROUNDS/3 `waiting 2` and GATE2, so a test can act on it
//! mid-run whatever the machine's speed. It counts the SIGUSR1 signals it takes (a handler).
//! It arms its three interval timers an hour ahead (real, virtual and profiling time) and blocks
//! SIGUSR2, so that a test can leave one waiting. At the end it writes `end SUM` to OUT and
//! prints `done rounds N corrupt C fpu ok|BAD cwd ok|BAD signals S timers ok|LOST usr2
//! waiting|none cpu-timers ok|LOST` (timers: the real-time one; cpu-timers: the two of CPU
//! time); it exits 0 only when nothing was corrupt, its FPU state matches a recomputation, its
//! working directory is the one it started in and its real-time timer is armed.

use std::io::Write;

mod usr1;

fn pattern(seed: u64, i: usize) -> u64 {
    (i as u64 ^ seed)
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .rotate_left(23)
        ^ seed
}

fn fpu_step(a: f64, round: u64) -> f64 {
    let x = a * 1.000_000_3 + (round % 5) as f64 * 0.25;
    (x.sqrt() + x / 7.0).max(1.0)
}

extern "C" {
    fn setitimer(which: i32, new: *const [i64; 4], old: *mut [i64; 4]) -> i32;
    fn getitimer(which: i32, value: *mut [i64; 4]) -> i32;
    fn sigprocmask(how: i32, set: *const [u64; 16], old: *mut [u64; 16]) -> i32;
    fn sigpending(set: *mut [u64; 16]) -> i32;
}

/// An hour, the interval timers' first expiry: never reached in a test.
const HOUR: i64 = 3600;
const SIGUSR2: u32 = 12;

/// Arms the three interval timers an hour ahead and blocks SIGUSR2.
fn arm() {
    for which in 0..3 {
        // `struct itimerval`: interval (s, us), value (s, us).
        let it = [0, 0, HOUR, 0];
        // SAFETY: `it` is a readable `struct itimerval`; no old value is asked for.
        unsafe { setitimer(which, &it, std::ptr::null_mut()) };
    }
    let mut set = [0u64; 16];
    set[0] = 1 << (SIGUSR2 - 1);
    // SAFETY: `set` is a readable signal set of the C library's size; no old one asked for.
    unsafe { sigprocmask(0, &set, std::ptr::null_mut()) };
}

/// Whether the real-time timer, then both CPU-time ones, are still armed to fire within the
/// hour; and whether a SIGUSR2 waits.
fn timers_and_usr2() -> (bool, bool, bool) {
    let armed = |which: i32| {
        let mut v = [0i64; 4];
        // SAFETY: `v` is a writable `struct itimerval`.
        let r = unsafe { getitimer(which, &mut v) };
        r == 0 && (v[2] > 0 || v[3] > 0) && v[2] <= HOUR
    };
    let mut set = [0u64; 16];
    // SAFETY: `set` is a writable signal set of the C library's size.
    let r = unsafe { sigpending(&mut set) };
    (
        armed(0),
        armed(1) && armed(2),
        r == 0 && set[0] & 1 << (SIGUSR2 - 1) != 0,
    )
}

fn wait_gate(gate: &str, n: u32) {
    println!("waiting {n}");
    let path = format!("{gate}{n}");
    while !std::path::Path::new(&path).exists() {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(out), Some(rounds), Some(mb), Some(gate)) = (
        args.get(1),
        args.get(2).and_then(|a| a.parse::<u64>().ok()),
        args.get(3).and_then(|a| a.parse::<usize>().ok()),
        args.get(4),
    ) else {
        eprintln!("usage: omx-ckpt OUT ROUNDS MB GATE");
        std::process::exit(2)
    };
    usr1::count();
    arm();
    let cwd = std::env::current_dir().ok();
    let mut file = std::fs::File::create(out).unwrap_or_else(|e| {
        eprintln!("omx-ckpt: {out}: {e}");
        std::process::exit(1)
    });
    let words = mb * 1024 * 1024 / 8;
    let mut mem: Vec<u64> = (0..words).map(|i| pattern(0, i)).collect();
    let (mut corrupt, mut fpu, mut total) = (0u64, 1.0f64, 0u64);
    for round in 0..rounds {
        if round == rounds / 3 {
            wait_gate(gate, 1);
        }
        if round == 2 * rounds / 3 {
            wait_gate(gate, 2);
        }
        let mut sum = 0u64;
        for (i, w) in mem.iter_mut().enumerate() {
            if *w != pattern(round, i) {
                corrupt += 1;
            }
            *w = pattern(round + 1, i);
            sum = sum.wrapping_add(*w).rotate_left(1);
        }
        fpu = fpu_step(fpu, round);
        total = total.wrapping_mul(31).wrapping_add(sum ^ fpu.to_bits());
        if let Err(e) = writeln!(
            file,
            "round {round} sum {sum:016x} fpu {:016x}",
            fpu.to_bits()
        ) {
            eprintln!("omx-ckpt: write: {e}");
            std::process::exit(1)
        }
    }
    let _ = writeln!(file, "end {total:016x}");
    let mut check = 1.0f64;
    for round in 0..rounds {
        check = fpu_step(check, round);
    }
    let fpu_ok = check.to_bits() == fpu.to_bits();
    let cwd_ok = std::env::current_dir().ok() == cwd;
    let (timers_ok, cpu_timers_ok, usr2) = timers_and_usr2();
    let word = |ok: bool| if ok { "ok" } else { "LOST" };
    println!(
        "done rounds {rounds} corrupt {corrupt} fpu {} cwd {} signals {} timers {} usr2 {} \
         cpu-timers {}",
        if fpu_ok { "ok" } else { "BAD" },
        if cwd_ok { "ok" } else { "BAD" },
        usr1::taken(),
        word(timers_ok),
        if usr2 { "waiting" } else { "none" },
        word(cpu_timers_ok)
    );
    std::process::exit(if corrupt == 0 && fpu_ok && cwd_ok && timers_ok {
        0
    } else {
        1
    })
}
