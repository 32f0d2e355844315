// SPDX-License-Identifier: GPL-2.0

//! The calling task's signal state (re-exported in `task::cur`): its mask, actions and
//! alternate stack, taking pending signals off it, and whether its process group is orphaned.
//! Every function here acts on `current` and must be called from process context.

use super::bindings;
use crate::omcore::mig::{SigInfo, SIGINFO_FIELDS};
use kernel::prelude::*;

/// Signal state: blocked, pending, alternate stack (sp, size, flags), and the 64 actions
/// (handler, flags, restorer, mask). 2 KiB: keep it on the heap.
#[repr(C)]
pub(crate) struct SigState {
    pub(crate) blocked: u64,
    pub(crate) pending: u64,
    pub(crate) alt: [u64; 3],
    pub(crate) act: [[u64; 4]; 64],
}

impl SigState {
    /// A new, empty state on the heap.
    pub(crate) fn new() -> Result<KBox<Self>> {
        Ok(KBox::new(
            Self {
                blocked: 0,
                pending: 0,
                alt: [0; 3],
                act: [[0; 4]; 64],
            },
            GFP_KERNEL,
        )?)
    }
}

// `[u64; 4]` is laid out as `struct omx_sigaction`.
const _: () = assert!(
    core::mem::size_of::<bindings::omx_sigaction>() == 32
        && core::mem::align_of::<bindings::omx_sigaction>() == 8
);

/// Reads the signal state into `s`.
pub(crate) fn signals(s: &mut SigState) {
    // SAFETY: all pointers are writable fields of `s` of the sizes the shim writes; `act` has
    // the layout of 64 `struct omx_sigaction` (checked above).
    unsafe {
        bindings::omx_sig_get(
            &mut s.blocked,
            &mut s.pending,
            s.alt.as_mut_ptr(),
            s.act.as_mut_ptr().cast::<bindings::omx_sigaction>(),
        )
    };
}

/// Blocks every signal that can be blocked (`all`), or none, in the calling task.
pub(crate) fn block_signals(all: bool) {
    // SAFETY: no precondition; the shim sets current's own mask.
    unsafe { bindings::omx_block_signals(all) };
}

/// Sets blocked mask, alternate stack and actions.
pub(crate) fn set_signals(s: &SigState) {
    // SAFETY: the pointers are readable fields of `s` of the sizes the shim reads; `act` has
    // the layout of 64 `struct omx_sigaction`.
    unsafe {
        bindings::omx_sig_set(
            s.blocked,
            s.alt.as_ptr(),
            s.act.as_ptr().cast::<bindings::omx_sigaction>(),
        )
    };
}

/// Takes one pending signal other than `SIGKILL` off the calling task (0: none): any with
/// `blocked_too`, else one it does not block, or `SIGCONT`.
pub(crate) fn dequeue_signal(blocked_too: bool) -> u32 {
    dequeue_signal_info(blocked_too).sig
}

/// A signal taken off the calling task, with its `siginfo`.
pub(crate) struct Taken {
    pub(crate) sig: u32,
    pub(crate) info: SigInfo,
}

// The shims copy this many bytes of a `siginfo`'s fields.
const _: () = assert!(bindings::OMX_SIGINFO_FIELDS as usize == SIGINFO_FIELDS);

/// As [`dequeue_signal`], with the signal's `siginfo`.
pub(crate) fn dequeue_signal_info(blocked_too: bool) -> Taken {
    let mut info = SigInfo {
        code: 0,
        errno: 0,
        fields: [0; SIGINFO_FIELDS],
    };
    // SAFETY: the out-parameters are writable locals, `fields` of the `OMX_SIGINFO_FIELDS`
    // bytes the shim writes (asserted above); the shim takes current's signal lock.
    let sig = unsafe {
        bindings::omx_dequeue_signal(
            blocked_too,
            &mut info.code,
            &mut info.errno,
            info.fields.as_mut_ptr(),
        )
    };
    Taken {
        sig: sig as u32,
        info,
    }
}

/// The calling task's blocked mask (bit 0: signal 1).
pub(crate) fn blocked_mask() -> u64 {
    // SAFETY: no precondition; current reads its own mask.
    unsafe { bindings::omx_blocked_mask() }
}

/// The calling task's pending signals, its own and its process's, blocked or not (bit 0:
/// signal 1).
pub(crate) fn pending_mask() -> u64 {
    // SAFETY: no precondition; the shim takes current's signal lock.
    unsafe { bindings::omx_pending_mask() }
}

/// The temporary mask an interrupted call left on the calling task (`pselect6`, `ppoll`,
/// `epoll_pwait`: see `omx_take_temporary_mask`), taken off it: the mask it then has is the
/// caller's to set. `None` if there is none.
pub(crate) fn take_temporary_mask() -> Option<u64> {
    let mut m = 0u64;
    // SAFETY: `m` is a writable `u64`; the shim acts on current alone.
    unsafe { bindings::omx_take_temporary_mask(&mut m) }.then_some(m)
}

/// Ends a forwarded call that the process made with temporary mask `temp` and that was
/// interrupted, as the kernel ends its own: a signal pending here under `temp` is delivered
/// under it, and the process's mask is restored after. Whether one was.
pub(crate) fn deliver_under(temp: u64) -> bool {
    // SAFETY: no precondition; the shim sets current's own mask and restore state.
    unsafe { bindings::omx_deliver_under(temp) }
}

/// Blocks the signals of `mask` in the calling task (with `default_only`, those of them
/// whose action is `SIG_DFL`); `SIGKILL` and `SIGSTOP` never.
pub(crate) fn set_blocked_mask(mask: u64, default_only: bool) {
    // SAFETY: no precondition; the shim sets current's own mask.
    unsafe { bindings::omx_set_blocked_mask(mask, default_only) };
}

/// Whether the calling task's process group is orphaned (POSIX): no member has a parent in
/// another group of the same session. The kernel discards `SIGTSTP`, `SIGTTIN` and `SIGTTOU`
/// of default action sent to such a group instead of stopping it.
pub(crate) fn pgrp_orphaned() -> bool {
    // SAFETY: no precondition; the shim walks current's group under the RCU read lock.
    unsafe { bindings::omx_pgrp_orphaned() }
}
