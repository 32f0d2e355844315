// SPDX-License-Identifier: GPL-2.0

//! Signal handlers set with a raw `rt_sigaction`, for the test programs that catch signals
//! without the C library: the action to give the kernel and the handler's return path.

use std::arch::global_asm;

// The return path of a handler: `rt_sigreturn`, as the C library's restorer does.
global_asm!(
    ".globl omx_test_restorer",
    "omx_test_restorer:",
    "mov eax, 15",
    "syscall",
    "ud2"
);

extern "C" {
    fn omx_test_restorer();
}

const SA_RESTORER: u64 = 0x0400_0000;

/// `struct kernel_sigaction` that runs `f` with the signal's own mask and returns through
/// `rt_sigreturn`: handler, flags, restorer, mask.
pub(crate) fn action(f: extern "C" fn(i32)) -> [u64; 4] {
    [
        f as *const () as usize as u64,
        SA_RESTORER,
        omx_test_restorer as *const () as usize as u64,
        0,
    ]
}
