// SPDX-License-Identifier: GPL-2.0

//! The calling process's memory as a core dump sees it: which pages hold data of their own.

use super::bindings;

/// Whether the page at `addr` of the calling process may hold data: `false` only for a page of
/// an anonymous area that was never written (no page yet, or the shared zero page), which reads
/// as zeros. The answer is had without faulting the page in: a capture skips such pages at the
/// cost of a page-table lookup instead of a fault each (a large untouched heap or stack
/// reserve). A page swapped out, a file's page and an address that cannot be looked up all
/// answer `true` (the caller reads them).
///
/// Call from process context (task work or a system call of a user process).
pub(crate) fn page_has_data(addr: u64) -> bool {
    let Ok(addr) = usize::try_from(addr) else {
        return true;
    };
    // SAFETY: `omx_page_has_data` looks `addr` up in the calling process's own memory under
    // its `mmap_lock` (taken killably inside), takes no reference it does not drop, and is
    // called from process context as this function's contract says.
    unsafe { bindings::omx_page_has_data(addr) != 0 }
}
