// SPDX-License-Identifier: GPL-2.0

//! Small pieces of the calling process's state that a migration image carries (re-exported in
//! `task::cur`): resource limits, umask and personality, the restartable-sequences
//! registration, the clocks as it reads them, its real user id, and CPU time it used elsewhere.
//! Every function here acts on `current` and must be called from process context.

use super::bindings;
use kernel::prelude::*;

/// Resource limits, (cur, max) pairs.
pub(crate) fn rlimits() -> [u64; 32] {
    let mut v = [0u64; 32];
    // SAFETY: `v` has room for 32 values.
    unsafe { bindings::omx_rlim_get(v.as_mut_ptr()) };
    v
}

/// Sets the resource limits.
pub(crate) fn set_rlimits(v: &[u64; 32]) {
    // SAFETY: `v` holds 32 values.
    unsafe { bindings::omx_rlim_set(v.as_ptr()) };
}

/// Adds CPU time (user, system, in ns) that the calling process used elsewhere to its
/// account, as the kernel adds that of a thread that ended.
pub(crate) fn account_away(cpu_ns: [u64; 2]) {
    // SAFETY: no precondition; the shim takes current's signal lock.
    unsafe { bindings::omx_account_away(cpu_ns[0], cpu_ns[1]) };
}

/// umask and personality.
pub(crate) fn misc() -> (u32, u32) {
    let (mut u, mut p) = (0, 0);
    // SAFETY: writable locals.
    unsafe { bindings::omx_misc_get(&mut u, &mut p) };
    (u, p)
}

/// Sets umask and personality.
pub(crate) fn set_misc(umask: u32, personality: u32) {
    // SAFETY: no precondition.
    unsafe { bindings::omx_misc_set(umask, personality) };
}

/// Arms the calling process's `ITIMER_REAL` to fire in `value_us` microseconds, then every
/// `interval_us` (0: once); `value_us` 0 disarms it. Times beyond the kernel's range are cut
/// to it.
pub(crate) fn set_itimer_real(value_us: u64, interval_us: u64) {
    // `ktime_t` is signed nanoseconds.
    let ns = |us: u64| us.saturating_mul(1000).min(i64::MAX as u64 / 2);
    // SAFETY: no precondition; the shim takes current's signal lock.
    unsafe { bindings::omx_set_own_itimer_real(ns(value_us), ns(interval_us)) };
}

/// Sets the address the kernel clears (and wakes a futex at) when the calling thread exits,
/// as `set_tid_address(2)` does; the address is user memory the kernel writes with
/// `put_user` then, which fails harmlessly if it is not writable.
pub(crate) fn set_clear_child_tid(addr: u64) {
    // SAFETY: no precondition: the shim stores the address in current's task; nothing
    // dereferences it but the kernel's exit path, through put_user.
    unsafe { bindings::omx_set_clear_child_tid(addr) };
}

/// The calling thread's restartable-sequences registration: area address, length and
/// abort signature, all zero when it has none.
pub(crate) fn rseq() -> (u64, u32, u32) {
    let (mut addr, mut len, mut sig) = (0, 0, 0);
    // SAFETY: writable locals.
    unsafe { bindings::omx_rseq_get(&mut addr, &mut len, &mut sig) };
    (addr, len, sig)
}

/// Makes (`addr`, `len`, `sig`) the calling thread's restartable-sequences registration in
/// place of the one it had (the area's fields are initialised as `rseq(2)` does; the kernel
/// writes the CPU ids on the way back to user mode), or drops it when `len` is 0. The area
/// must be in the calling thread's memory as it will run: checked as `rseq(2)` checks it.
pub(crate) fn set_rseq(addr: u64, len: u32, sig: u32) -> Result {
    // SAFETY: no precondition: the shim checks the area like rseq(2) and writes it with
    // put_user, which fails cleanly on a bad address.
    let r = unsafe { bindings::omx_rseq_set(addr, len, sig) };
    if r < 0 {
        return Err(Error::from_errno(r));
    }
    Ok(())
}

/// `CLOCK_MONOTONIC` and `CLOCK_BOOTTIME` now (ns): as the calling task reads them (its
/// time namespace's offsets added) with `own_view`, else this node's own.
pub(crate) fn clocks(own_view: bool) -> [u64; 2] {
    let (mut mono, mut boot) = (0, 0);
    // SAFETY: writable locals.
    unsafe { bindings::omx_clocks_now(own_view, &mut mono, &mut boot) };
    [mono, boot]
}

/// The calling task's real user id (in its user namespace).
pub(crate) fn real_uid() -> u32 {
    // SAFETY: no precondition; it reads the calling task's own credentials.
    unsafe { bindings::omx_real_uid() }
}

/// The calling task's real user and group ids in the initial user namespace: who it is to a
/// helper the module starts (root only if root there, not in a namespace of its own).
pub(crate) fn init_real_ids() -> (u32, u32) {
    // SAFETY: no precondition; both read the calling task's own credentials.
    unsafe { (bindings::omx_init_real_uid(), bindings::omx_init_real_gid()) }
}
