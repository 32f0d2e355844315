// SPDX-License-Identifier: GPL-2.0

//! System-call hooks: probes on the `sys_enter` and `sys_exit` tracepoints.
//!
//! The tracepoint symbols are not exported; `for_each_kernel_tracepoint` finds them by name. The
//! probes run in the calling task's context for every system call of the node while registered
//! (the kernel sets its tracepoint work flag on every task); in 7.2 syscall tracepoints are
//! faultable, so a probe may sleep briefly, but long work belongs in task work.

use super::bindings;
use core::ptr::NonNull;
use kernel::ffi::{c_long, c_void};
use kernel::prelude::*;
use kernel::sync::Arc;

/// What the probes call, in the task making the system call.
pub(crate) trait SyscallHook: Send + Sync + 'static {
    /// System call `nr` is about to run; the hook may skip it (see [`super::task::cur`]).
    fn enter(&self, nr: i64);
    /// A system call is about to return.
    fn exit(&self);
}

/// Both probes, registered with `hook` as their data; unregistered on drop.
///
/// # Invariants
///
/// `enter` and `exit` are the kernel's `sys_enter` and `sys_exit` tracepoints, on which
/// `enter_probe::<T>` and `exit_probe::<T>` are registered with `data` (from `Arc::into_raw`,
/// whose reference this value owns) as their data.
pub(crate) struct Hooks<T: SyscallHook> {
    enter: NonNull<bindings::tracepoint>,
    exit: NonNull<bindings::tracepoint>,
    data: *const T,
}

// SAFETY: the raw pointers are a static tracepoint and an `Arc<T>` with `T: Send + Sync`.
unsafe impl<T: SyscallHook> Send for Hooks<T> {}
// SAFETY: as above; `&Hooks` allows nothing.
unsafe impl<T: SyscallHook> Sync for Hooks<T> {}

/// `sys_enter` probe.
///
/// # Safety
///
/// `data` must be the pointer registered by [`Hooks::register`], still registered.
unsafe extern "C" fn enter_probe<T: SyscallHook>(
    data: *mut c_void,
    _regs: *mut bindings::pt_regs,
    id: c_long,
) {
    // SAFETY: by the function's contract `data` is the `Arc<T>` pointer `Hooks` holds a
    // reference on until after the probe is unregistered and every caller has finished.
    let hook = unsafe { &*data.cast::<T>() };
    hook.enter(id as i64);
}

/// `sys_exit` probe.
///
/// # Safety
///
/// As for [`enter_probe`].
unsafe extern "C" fn exit_probe<T: SyscallHook>(
    data: *mut c_void,
    _regs: *mut bindings::pt_regs,
    _ret: c_long,
) {
    // SAFETY: as in `enter_probe`.
    let hook = unsafe { &*data.cast::<T>() };
    hook.exit();
}

fn find(name: &CStr) -> Result<NonNull<bindings::tracepoint>> {
    // SAFETY: `name` is NUL-terminated; the shim only compares it.
    let tp = unsafe { bindings::omx_find_tracepoint(name.as_char_ptr()) };
    NonNull::new(tp).ok_or(ENOENT)
}

impl<T: SyscallHook> Hooks<T> {
    /// Registers both probes with `hook`.
    pub(crate) fn register(hook: Arc<T>) -> Result<Self> {
        let enter = find(c"sys_enter")?;
        let exit = find(c"sys_exit")?;
        let data = Arc::into_raw(hook);
        let enter_fn = enter_probe::<T> as *mut c_void;
        let exit_fn = exit_probe::<T> as *mut c_void;
        // SAFETY: `enter` is the live `sys_enter` tracepoint, whose probes have the signature
        // of `enter_probe`; `data` stays valid until the probe is unregistered (see `Drop`).
        let r = unsafe {
            bindings::tracepoint_probe_register(
                enter.as_ptr(),
                enter_fn,
                data.cast_mut().cast::<c_void>(),
            )
        };
        if r != 0 {
            // SAFETY: `data` came from `Arc::into_raw` and was not handed out.
            drop(unsafe { Arc::from_raw(data) });
            return Err(Error::from_errno(r));
        }
        // SAFETY: as above, for `sys_exit` and `exit_probe`.
        let r = unsafe {
            bindings::tracepoint_probe_register(
                exit.as_ptr(),
                exit_fn,
                data.cast_mut().cast::<c_void>(),
            )
        };
        if r != 0 {
            // SAFETY: undo the first registration, wait for its callers, then free `data`.
            unsafe {
                bindings::tracepoint_probe_unregister(
                    enter.as_ptr(),
                    enter_fn,
                    data.cast_mut().cast::<c_void>(),
                );
                bindings::omx_tracepoint_sync();
                drop(Arc::from_raw(data));
            }
            return Err(Error::from_errno(r));
        }
        // INVARIANT: both probes are registered with `data`, whose reference is ours.
        Ok(Self { enter, exit, data })
    }
}

impl<T: SyscallHook> Drop for Hooks<T> {
    fn drop(&mut self) {
        // SAFETY: by the type invariant both probes are registered with `self.data`; after
        // unregistering them and waiting for every running probe (`omx_tracepoint_sync`), no
        // one uses `data` any more and its reference can be given back.
        unsafe {
            bindings::tracepoint_probe_unregister(
                self.enter.as_ptr(),
                enter_probe::<T> as *mut c_void,
                self.data.cast_mut().cast::<c_void>(),
            );
            bindings::tracepoint_probe_unregister(
                self.exit.as_ptr(),
                exit_probe::<T> as *mut c_void,
                self.data.cast_mut().cast::<c_void>(),
            );
            bindings::omx_tracepoint_sync();
            drop(Arc::from_raw(self.data));
        }
    }
}
