// SPDX-License-Identifier: GPL-2.0

//! `omx-t rseq`: the restartable-sequences registration the C library made at start is the one
//! in force wherever the process runs, and the kernel keeps its CPU ids current.

use super::{in_three_parts, sys, Checks};
use std::time::Duration;

// The C library's registration: where in the thread's static TLS the area is and how much of
// it the kernel knows (0 when registration failed).
extern "C" {
    static __rseq_offset: isize;
    static __rseq_size: u32;
    fn sched_getcpu() -> i32;
}

/// The signature the C library registers on x86 (`RSEQ_SIG`).
const RSEQ_SIG: u64 = 0x5305_3053;
const SYS_RSEQ: u64 = 334;
const SYS_GETCPU: u64 = 309;
const EBUSY: i64 = 16;
/// Offsets in `struct rseq`.
const CPU_ID_START: usize = 0;
const CPU_ID: usize = 4;

/// The calling thread's rseq area and the length the C library registered.
fn area() -> (*mut u32, u64) {
    let tp: usize;
    // SAFETY: reads the thread pointer (the first word of the TCB, which points to itself on
    // x86-64), no memory is written.
    unsafe { core::arch::asm!("mov {}, fs:0", out(reg) tp, options(nostack, readonly)) };
    // SAFETY: plain reads of two constants the C library set before `main`.
    let (off, size) = unsafe { (__rseq_offset, __rseq_size) };
    // glibc before 2.40 registers 32 bytes and says so; later ones register at least that.
    (
        tp.wrapping_add_signed(off) as *mut u32,
        u64::from(size.max(32)),
    )
}

fn field(at: usize) -> u32 {
    let (a, _) = area();
    // SAFETY: `a` is this thread's registered rseq area (checked registered before any read),
    // 32 bytes long and aligned; the kernel writes it only while this thread is not running.
    unsafe { a.add(at / 4).read_volatile() }
}

fn set_field(at: usize, v: u32) {
    let (a, _) = area();
    // SAFETY: as in `field`; `cpu_id` and `cpu_id_start` are the kernel's to write, which a
    // program may overwrite (the kernel rewrites them before the thread runs in user mode
    // again after a switch).
    unsafe { a.add(at / 4).write_volatile(v) }
}

fn getcpu() -> i64 {
    let mut cpu = u32::MAX;
    let r = sys(SYS_GETCPU, [&mut cpu as *mut u32 as u64, 0, 0, 0, 0, 0]);
    if r < 0 {
        r
    } else {
        i64::from(cpu)
    }
}

fn rseq_round(c: &mut Checks, part: u32) {
    // SAFETY: a plain read of a constant the C library set before `main`.
    let size = unsafe { __rseq_size };
    c.check(
        &format!("part {part}: the C library registered rseq"),
        size >= 20,
        || format!("__rseq_size {size}: the kernel refused the registration"),
    );
    if size < 20 {
        return;
    }
    let (a, len) = area();
    // Registering the same area again answers EBUSY only if exactly that registration (area,
    // length, signature) is in force for this thread; another one, or none, gives EINVAL or 0.
    c.eq(
        &format!("part {part}: the registration made at start is in force"),
        sys(SYS_RSEQ, [a as u64, len, 0, RSEQ_SIG, 0, 0]),
        -EBUSY,
    );
    let cpu = getcpu();
    c.eq(
        &format!("part {part}: cpu_id is the CPU getcpu says"),
        i64::from(field(CPU_ID)),
        cpu,
    );
    // SAFETY: no precondition.
    c.eq(
        &format!("part {part}: sched_getcpu"),
        i64::from(unsafe { sched_getcpu() }),
        cpu,
    );
    if len == 32 {
        // The original ABI: the kernel writes the ids after every switch. Spoil them, sleep
        // (a switch), and they are back.
        set_field(CPU_ID, 0x7777_7777);
        set_field(CPU_ID_START, 0x7777_7777);
        std::thread::sleep(Duration::from_millis(3));
        let now = getcpu();
        c.eq(
            &format!("part {part}: the kernel rewrote the ids after a switch"),
            (i64::from(field(CPU_ID)), i64::from(field(CPU_ID_START))),
            (now, now),
        );
    }
}

pub(super) fn case_rseq(c: &mut Checks, dir: &str) {
    in_three_parts(c, dir, rseq_round);
}
