// SPDX-License-Identifier: GPL-2.0

//! `omx-escape SECONDS`: a test program that tries, after a CPU phase of about SECONDS (time to
//! be migrated), the system calls a process must not make on a host it was migrated to, and
//! one that once overflowed there. It prints one `NAME RESULT` line per attempt (the raw
//! return value: `-errno` on failure) and exits 0:
//!
//! - `int80-mkdir`: `mkdir("/tmp/omx-escape-int80", 0755)` through the 32-bit ABI (`int $0x80`,
//!   i386 call 39; its path in memory below 4 GiB), which works at home when the kernel has
//!   IA32 emulation;
//! - `int80-getpid`: i386 call 20 the same way (a pid prints as 1);
//! - `x32-getpid`: x86-64 `syscall` with the x32 bit (`0x40000000 | 39`; a pid prints as 1);
//! - `unknown`: call number 1000, which no kernel has;
//! - `readv-overflow`: `readv(0, iov, 2)` whose two lengths of 2^63 overflow their sum (the
//!   kernel answers `EINVAL`).

mod cpu;
mod raw;

use std::arch::asm;

const SYS_MMAP: u64 = 9;
const SYS_READV: u64 = 19;
const PROT_RW: u64 = 0x3;
const MAP_PRIVATE_ANON_32BIT: u64 = 0x02 | 0x20 | 0x40;
const X32_BIT: u64 = 0x4000_0000;
const I386_MKDIR: u32 = 39;
const I386_GETPID: u32 = 20;
const PATH: &[u8] = b"/tmp/omx-escape-int80\0";

/// A 32-bit system call (`int $0x80`) with three arguments; returns the kernel's value.
///
/// # Safety
///
/// As for [`raw::syscall6`]: the call touches no memory of the process but the buffers its
/// arguments point to (which must lie below 4 GiB), owned by the caller for the call.
unsafe fn int80(nr: u32, a: u32, b: u32, c: u32) -> i32 {
    let ret: i32;
    // SAFETY: `int $0x80` takes the number in eax and the arguments in ebx, ecx, edx, and
    // returns in eax; rbx cannot be an operand, so it is swapped with a scratch register around
    // the instruction and restored. A 64-bit process's r8-r11 are not preserved by this entry:
    // declared clobbered. The memory touched is the caller's to lend (see above).
    unsafe {
        asm!(
            "xchg {b:r}, rbx",
            "int 0x80",
            "xchg {b:r}, rbx",
            b = inout(reg) u64::from(a) => _,
            inlateout("eax") nr as i32 => ret,
            in("ecx") b,
            in("edx") c,
            lateout("r8") _,
            lateout("r9") _,
            lateout("r10") _,
            lateout("r11") _,
        );
    }
    ret
}

fn main() {
    let (secs, _) = cpu::seconds_and_rounds();
    let x = cpu::burn(secs);

    // Memory below 4 GiB for the 32-bit call's path.
    // SAFETY: an anonymous private mapping touches no memory of the process.
    let low = unsafe {
        raw::syscall6(
            SYS_MMAP,
            [0, 4096, PROT_RW, MAP_PRIVATE_ANON_32BIT, u64::MAX, 0],
        )
    };
    let mkdir = if low <= 0 || low as u64 + 4096 > 1 << 32 {
        eprintln!("omx-escape: no memory below 4 GiB ({low})");
        i64::MIN
    } else {
        // SAFETY: `low` is a fresh writable mapping of 4096 bytes.
        unsafe { core::ptr::copy_nonoverlapping(PATH.as_ptr(), low as *mut u8, PATH.len()) };
        // SAFETY: mkdir reads the path at `low`, below 4 GiB and owned here.
        i64::from(unsafe { int80(I386_MKDIR, low as u32, 0o755, 0) })
    };
    println!("int80-mkdir {mkdir}");
    // SAFETY: getpid touches no memory.
    let pid = unsafe { int80(I386_GETPID, 0, 0, 0) };
    // A pid is printed as 1: the same line wherever the call works.
    println!("int80-getpid {}", if pid > 0 { 1 } else { pid });
    // SAFETY: an x32 getpid, or no call at all: no memory is touched.
    let x32 = unsafe { raw::syscall6(X32_BIT | 39, [0; 6]) };
    println!("x32-getpid {}", if x32 > 0 { 1 } else { x32 });
    // SAFETY: no kernel has call 1000; were there one, it gets only zero arguments.
    println!("unknown {}", unsafe { raw::syscall6(1000, [0; 6]) });
    let mut buf = [0u8; 16];
    let half = 1u64 << 63;
    let iov: [u64; 4] = [buf.as_mut_ptr() as u64, half, buf.as_mut_ptr() as u64, half];
    // SAFETY: readv would write at most into `buf` (16 bytes; the lengths are refused first)
    // and reads the iovec array `iov`, both owned here.
    let r = unsafe { raw::syscall6(SYS_READV, [0, iov.as_ptr() as u64, 2, 0, 0, 0]) };
    println!("readv-overflow {r}");
    std::hint::black_box((x, buf));
}
