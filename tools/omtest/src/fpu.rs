// SPDX-License-Identifier: GPL-2.0

//! `omx-fpu SECONDS` or `omx-fpu -n CHUNKS`: FPU, SSE and AVX register state held across a
//! migration.
//!
//! Each chunk is one block of assembly that loads all sixteen YMM registers (eight accumulators,
//! eight increments of four doubles each) and two x87 stack registers, sets its own rounding modes
//! (MXCSR: toward zero; x87 control word: upward, 53-bit precision), adds every increment to its
//! accumulator a few hundred thousand times, and stores the accumulators and the control registers
//! it finds at the end. Almost all the time is spent inside such a block, so a migration almost
//! always catches the process with this state live in the registers. The increments are inexact
//! in binary, so the sums depend on every lane of every register and on both rounding modes: a
//! register, an upper half or a control word lost or changed on the way gives another result.
//!
//! With SECONDS it runs chunks until that much time has passed, then prints how many it ran and a
//! hash of the final state; `-n CHUNKS` runs exactly CHUNKS chunks and prints the same line, so a
//! run that never moved can check one that did. Exit status 0, or 1 without AVX.

use std::arch::asm;
use std::process::exit;
use std::time::Instant;

/// Additions per register per chunk.
const ROUNDS: u64 = 200_000;
/// MXCSR: all exceptions masked, rounding toward zero.
const MXCSR: u32 = 0x7f80;
/// x87 control word: all exceptions masked, 53-bit precision, rounding upward.
const FCW: u16 = 0x0a7f;

/// What a chunk reads and writes; the offsets are the assembly's.
#[repr(C)]
struct State {
    /// YMM0..7 (offset 0).
    acc: [[f64; 4]; 8],
    /// YMM8..15 (offset 256).
    inc: [[f64; 4]; 8],
    /// x87: the accumulator (offset 512) and its increment (offset 520).
    x87_acc: f64,
    x87_inc: f64,
    /// The chunk's MXCSR (528), the caller's (532), the chunk's at its end (536).
    mxcsr: u32,
    saved_mxcsr: u32,
    mxcsr_after: u32,
    /// The chunk's x87 control word (540), the caller's (542), the chunk's at its end (544).
    fcw: u16,
    saved_fcw: u16,
    fcw_after: u16,
}

impl State {
    fn new() -> Self {
        let mut acc = [[0.0; 4]; 8];
        let mut inc = [[0.0; 4]; 8];
        for r in 0..8 {
            for lane in 0..4 {
                acc[r][lane] = (r * 4 + lane) as f64 + 0.5;
                inc[r][lane] = 0.1 * (r + 1) as f64 + 0.01 * lane as f64 + 0.003;
            }
        }
        Self {
            acc,
            inc,
            x87_acc: 1.0 / 3.0,
            x87_inc: 0.7,
            mxcsr: MXCSR,
            saved_mxcsr: 0,
            mxcsr_after: 0,
            fcw: FCW,
            saved_fcw: 0,
            fcw_after: 0,
        }
    }

    /// FNV-1a over every accumulator bit.
    fn hash(&self) -> u64 {
        let mut h = 0xcbf2_9ce4_8422_2325u64;
        let lanes = self.acc.iter().flatten().chain([&self.x87_acc]);
        for v in lanes {
            for b in v.to_bits().to_le_bytes() {
                h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
            }
        }
        h
    }
}

/// One chunk: `ROUNDS` additions in every lane of YMM0..7 and in x87 ST(0).
///
/// # Safety
///
/// The CPU supports AVX.
#[target_feature(enable = "avx")]
unsafe fn chunk(s: &mut State) {
    // SAFETY: `s` is a valid, exclusively borrowed `State` whose layout the offsets follow
    // (`repr(C)`, asserted in `main`); every vector register and x87 stack register the block uses
    // is declared clobbered; the x87 stack is empty again and MXCSR and the x87 control word are
    // the caller's again when the block ends; the caller guarantees AVX.
    unsafe {
        asm!(
            "stmxcsr [{s} + 532]",
            "ldmxcsr [{s} + 528]",
            "fnstcw [{s} + 542]",
            "fldcw [{s} + 540]",
            "vmovupd ymm0, [{s} + 0]",
            "vmovupd ymm1, [{s} + 32]",
            "vmovupd ymm2, [{s} + 64]",
            "vmovupd ymm3, [{s} + 96]",
            "vmovupd ymm4, [{s} + 128]",
            "vmovupd ymm5, [{s} + 160]",
            "vmovupd ymm6, [{s} + 192]",
            "vmovupd ymm7, [{s} + 224]",
            "vmovupd ymm8, [{s} + 256]",
            "vmovupd ymm9, [{s} + 288]",
            "vmovupd ymm10, [{s} + 320]",
            "vmovupd ymm11, [{s} + 352]",
            "vmovupd ymm12, [{s} + 384]",
            "vmovupd ymm13, [{s} + 416]",
            "vmovupd ymm14, [{s} + 448]",
            "vmovupd ymm15, [{s} + 480]",
            "fld qword ptr [{s} + 520]",
            "fld qword ptr [{s} + 512]",
            "2:",
            "vaddpd ymm0, ymm0, ymm8",
            "vaddpd ymm1, ymm1, ymm9",
            "vaddpd ymm2, ymm2, ymm10",
            "vaddpd ymm3, ymm3, ymm11",
            "vaddpd ymm4, ymm4, ymm12",
            "vaddpd ymm5, ymm5, ymm13",
            "vaddpd ymm6, ymm6, ymm14",
            "vaddpd ymm7, ymm7, ymm15",
            "fadd st(0), st(1)",
            "dec {n}",
            "jnz 2b",
            "vmovupd [{s} + 0], ymm0",
            "vmovupd [{s} + 32], ymm1",
            "vmovupd [{s} + 64], ymm2",
            "vmovupd [{s} + 96], ymm3",
            "vmovupd [{s} + 128], ymm4",
            "vmovupd [{s} + 160], ymm5",
            "vmovupd [{s} + 192], ymm6",
            "vmovupd [{s} + 224], ymm7",
            "fstp qword ptr [{s} + 512]",
            "fstp st(0)",
            "stmxcsr [{s} + 536]",
            "fnstcw [{s} + 544]",
            "ldmxcsr [{s} + 532]",
            "fldcw [{s} + 542]",
            "vzeroupper",
            s = in(reg) core::ptr::from_mut(s),
            n = inout(reg) ROUNDS => _,
            out("ymm0") _, out("ymm1") _, out("ymm2") _, out("ymm3") _,
            out("ymm4") _, out("ymm5") _, out("ymm6") _, out("ymm7") _,
            out("ymm8") _, out("ymm9") _, out("ymm10") _, out("ymm11") _,
            out("ymm12") _, out("ymm13") _, out("ymm14") _, out("ymm15") _,
            out("st(0)") _, out("st(1)") _, out("st(2)") _, out("st(3)") _,
            out("st(4)") _, out("st(5)") _, out("st(6)") _, out("st(7)") _,
            options(nostack),
        );
    }
}

fn main() {
    assert_eq!(core::mem::offset_of!(State, inc), 256);
    assert_eq!(core::mem::offset_of!(State, x87_acc), 512);
    assert_eq!(core::mem::offset_of!(State, x87_inc), 520);
    assert_eq!(core::mem::offset_of!(State, mxcsr), 528);
    assert_eq!(core::mem::offset_of!(State, saved_mxcsr), 532);
    assert_eq!(core::mem::offset_of!(State, mxcsr_after), 536);
    assert_eq!(core::mem::offset_of!(State, fcw), 540);
    assert_eq!(core::mem::offset_of!(State, saved_fcw), 542);
    assert_eq!(core::mem::offset_of!(State, fcw_after), 544);

    let args: Vec<String> = std::env::args().collect();
    let (secs, count) = match (args.get(1).map(String::as_str), args.get(2)) {
        (Some("-n"), Some(n)) => (None, n.parse::<u64>().ok()),
        (Some(s), None) => (s.parse::<f64>().ok(), None),
        _ => (None, None),
    };
    if secs.is_none() && count.is_none() {
        eprintln!("usage: omx-fpu SECONDS | omx-fpu -n CHUNKS");
        exit(2);
    }
    if !std::arch::is_x86_feature_detected!("avx") {
        println!("avx no");
        exit(1);
    }
    let mut s = State::new();
    let t0 = Instant::now();
    let mut chunks = 0u64;
    loop {
        let more = match (secs, count) {
            (Some(secs), _) => t0.elapsed().as_secs_f64() < secs,
            (None, Some(n)) => chunks < n,
            (None, None) => false,
        };
        if !more {
            break;
        }
        // SAFETY: AVX was detected above.
        unsafe { chunk(&mut s) };
        chunks += 1;
        // MXCSR's low six bits are sticky exception flags (the sums are inexact).
        if s.mxcsr_after & !0x3f != MXCSR || s.fcw_after != FCW {
            break;
        }
    }
    println!(
        "avx yes chunks {chunks} mxcsr {:04x} fcw {:04x} state {:016x}",
        s.mxcsr_after,
        s.fcw_after,
        s.hash()
    );
}
