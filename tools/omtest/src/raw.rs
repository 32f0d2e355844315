// SPDX-License-Identifier: GPL-2.0

//! Raw system calls, for the calls the test programs make without a library wrapper in `std`.

use std::arch::asm;

/// A raw system call with up to six arguments; returns the kernel's value (`-errno` on error).
///
/// # Safety
///
/// The call must touch no memory of the process but the buffers its arguments point to, and the
/// caller must own those buffers, with room for what the call writes, for the duration of the
/// call.
pub(crate) unsafe fn syscall6(nr: u64, a: [u64; 6]) -> i64 {
    let ret: i64;
    // SAFETY: `syscall` clobbers only rax (the result), rcx and r11, declared here; the memory
    // the call touches is the caller's to lend (see the function's safety section).
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") nr as i64 => ret,
            in("rdi") a[0],
            in("rsi") a[1],
            in("rdx") a[2],
            in("r10") a[3],
            in("r8") a[4],
            in("r9") a[5],
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    ret
}
