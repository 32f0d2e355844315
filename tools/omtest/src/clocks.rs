// SPDX-License-Identifier: GPL-2.0

//! `omx-t clocks`: `CLOCK_MONOTONIC` and `CLOCK_BOOTTIME` go on across moves, to a node that
//! booted later too: they never go back, do not leap ahead of the time that passed, read the
//! same through the vDSO and the system call, and sleeps on them, relative and absolute, work.

use super::{in_three_parts, sys, Checks};
use std::time::Duration;

const CLOCK_REALTIME: u64 = 0;
const CLOCK_MONOTONIC: u64 = 1;
const CLOCK_BOOTTIME: u64 = 7;
const TIMER_ABSTIME: u64 = 1;
const SYS_CLOCK_GETTIME: u64 = 228;
const SYS_CLOCK_NANOSLEEP: u64 = 230;
const MS: i128 = 1_000_000;
const SEC: i128 = 1_000_000_000;

extern "C" {
    /// The C library's, which reads the clocks in the vDSO.
    fn clock_gettime(clock: i32, ts: *mut [i64; 2]) -> i32;
}

/// A clock through the vDSO, in ns.
fn vdso_ns(clock: u64) -> i128 {
    let mut ts = [0i64; 2];
    // SAFETY: `ts` has room for a `struct timespec`, which the call fills.
    let r = unsafe { clock_gettime(clock as i32, &mut ts) };
    if r != 0 {
        return -1;
    }
    i128::from(ts[0]) * SEC + i128::from(ts[1])
}

/// A clock through the system call, in ns.
fn syscall_ns(clock: u64) -> i128 {
    let mut ts = [0i64; 2];
    if sys(
        SYS_CLOCK_GETTIME,
        [clock, ts.as_mut_ptr() as u64, 0, 0, 0, 0],
    ) != 0
    {
        return -1;
    }
    i128::from(ts[0]) * SEC + i128::from(ts[1])
}

/// The readings of the last part: monotonic, boottime, realtime.
type Reading = [i128; 3];

fn clocks_round(c: &mut Checks, part: u32, last: &mut Option<Reading>) {
    let now = [
        vdso_ns(CLOCK_MONOTONIC),
        vdso_ns(CLOCK_BOOTTIME),
        vdso_ns(CLOCK_REALTIME),
    ];
    if let Some(prev) = *last {
        let passed = now[2] - prev[2];
        c.check(
            &format!("part {part}: CLOCK_MONOTONIC and CLOCK_BOOTTIME never went back"),
            now[0] >= prev[0] && now[1] >= prev[1],
            || format!("from {prev:?} to {now:?}"),
        );
        // The nodes' real-time clocks agree to a second or two; a clock that leapt by the
        // difference of two nodes' uptimes would be far beyond.
        c.check(
            &format!("part {part}: they went on by no more than the time that passed"),
            now[0] - prev[0] <= passed + 5 * SEC && now[1] - prev[1] <= passed + 5 * SEC,
            || format!("from {prev:?} to {now:?}, {passed} ns of real time"),
        );
        c.check(
            &format!("part {part}: boottime is still monotonic plus the same suspended time"),
            ((now[1] - now[0]) - (prev[1] - prev[0])).abs() < SEC,
            || format!("from {prev:?} to {now:?}"),
        );
    }
    let (v, s) = (vdso_ns(CLOCK_MONOTONIC), syscall_ns(CLOCK_MONOTONIC));
    c.check(
        &format!("part {part}: the vDSO and the system call read the same monotonic clock"),
        v > 0 && (s - v).abs() < SEC,
        || format!("vDSO {v}, system call {s}"),
    );
    let (v, s) = (vdso_ns(CLOCK_BOOTTIME), syscall_ns(CLOCK_BOOTTIME));
    c.check(
        &format!("part {part}: the vDSO and the system call read the same boot clock"),
        v > 0 && (s - v).abs() < SEC,
        || format!("vDSO {v}, system call {s}"),
    );
    let t0 = vdso_ns(CLOCK_MONOTONIC);
    std::thread::sleep(Duration::from_millis(50));
    let slept = vdso_ns(CLOCK_MONOTONIC) - t0;
    c.check(
        &format!("part {part}: a 50 ms sleep takes 50 ms of the clock"),
        (50 * MS..5 * SEC).contains(&slept),
        || format!("{slept} ns"),
    );
    let target = vdso_ns(CLOCK_MONOTONIC) + 30 * MS;
    let ts = [(target / SEC) as i64, (target % SEC) as i64];
    let r = sys(
        SYS_CLOCK_NANOSLEEP,
        [CLOCK_MONOTONIC, TIMER_ABSTIME, ts.as_ptr() as u64, 0, 0, 0],
    );
    let woke = vdso_ns(CLOCK_MONOTONIC);
    c.check(
        &format!("part {part}: a sleep until a monotonic time wakes at that time"),
        r == 0 && woke >= target && woke - target < 5 * SEC,
        || format!("result {r}, woke at {woke} for {target}"),
    );
    *last = Some([
        vdso_ns(CLOCK_MONOTONIC),
        vdso_ns(CLOCK_BOOTTIME),
        vdso_ns(CLOCK_REALTIME),
    ]);
}

pub(super) fn case_clocks(c: &mut Checks, dir: &str) {
    let mut last = None;
    in_three_parts(c, dir, |c, part| clocks_round(c, part, &mut last));
}
