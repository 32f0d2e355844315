// SPDX-License-Identifier: GPL-2.0

//! Kernel threads, and the priority of the module's own work ([`Boost`]).
//!
//! A [`KThread`] runs a closure in a new kernel thread and stops it when dropped: `kthread_stop`
//! asks [`should_stop`] to return true, wakes the thread and waits for the closure to return.
//! The closure must therefore return soon after [`should_stop`] becomes true; it may also return
//! earlier on its own. Sleep with [`sleep_ms`], which a stop request cuts short.
//!
//! C header: [`include/linux/kthread.h`](srctree/include/linux/kthread.h)

use super::bindings;
use core::ptr::NonNull;
use kernel::ffi::c_int;
use kernel::ffi::c_long;
use kernel::ffi::c_void;
use kernel::prelude::*;

/// A running (or finished) kernel thread, stopped and reaped on drop.
///
/// # Invariants
///
/// `task` is a kthread created by `omx_kthread_run` on which this object holds a task reference.
/// `data` is the `KBox<F>` given to it, owned by the thread if it started (it frees it), or still
/// owned here if `kthread_stop` finds that it never ran.
pub(crate) struct KThread {
    task: NonNull<bindings::task_struct>,
    data: *mut c_void,
    free_data: unsafe fn(*mut c_void),
}

// SAFETY: A task reference may be dropped and `kthread_stop` called from any thread; `data` is
// only touched by `Drop`, after the thread is known not to have run.
unsafe impl Send for KThread {}
// SAFETY: `&KThread` gives access to nothing.
unsafe impl Sync for KThread {}

/// Frees a closure that never ran.
///
/// # Safety
///
/// `data` must come from `KBox::<F>::into_raw` and not be used afterwards.
unsafe fn free_closure<F>(data: *mut c_void) {
    // SAFETY: Function safety requirements.
    drop(unsafe { KBox::from_raw(data.cast::<F>()) });
}

/// Entry point of every thread: runs and frees the closure.
///
/// # Safety
///
/// `data` must come from `KBox::<F>::into_raw`, and only this thread may use it.
unsafe extern "C" fn trampoline<F: FnOnce() + Send + 'static>(data: *mut c_void) -> c_int {
    // SAFETY: Function safety requirements: the box is ours now.
    let f = unsafe { KBox::from_raw(data.cast::<F>()) };
    KBox::into_inner(f)();
    0
}

impl KThread {
    /// Starts `f` in a new kernel thread called `name` (at most 15 characters are kept).
    pub(crate) fn spawn<F: FnOnce() + Send + 'static>(name: &CStr, f: F) -> Result<Self> {
        let data = KBox::into_raw(KBox::new(f, GFP_KERNEL)?).cast::<c_void>();
        // SAFETY: `trampoline::<F>` takes ownership of `data`, a `KBox<F>`; `name` is a
        // NUL-terminated string that kthread_create copies.
        let task =
            unsafe { bindings::omx_kthread_run(Some(trampoline::<F>), data, name.as_char_ptr()) };
        // SAFETY: `task` is a pointer or an ERR_PTR; checking it reads nothing.
        let err = unsafe { bindings::omx_ptr_err(task.cast::<c_void>()) };
        if err != 0 || task.is_null() {
            // SAFETY: No thread was created, so `data` is still ours.
            unsafe { free_closure::<F>(data) };
            return Err(Error::from_errno(err as c_int));
        }
        // INVARIANT: `omx_kthread_run` took a reference on the new kthread for us.
        Ok(Self {
            // SAFETY: Checked non-null above.
            task: unsafe { NonNull::new_unchecked(task) },
            data,
            free_data: free_closure::<F>,
        })
    }
}

impl Drop for KThread {
    fn drop(&mut self) {
        // SAFETY: `task` is a kthread we hold a reference on (type invariant), so it is valid even
        // if its function already returned.
        let ret = unsafe { bindings::kthread_stop(self.task.as_ptr()) };
        if ret == EINTR.to_errno() {
            // The thread was stopped before its function ran: the closure is still ours.
            // SAFETY: `data` is the `KBox<F>` that `free_data` was made for, and nobody else has it.
            unsafe { (self.free_data)(self.data) };
        }
        // SAFETY: Gives back the reference taken by `omx_kthread_run`.
        unsafe { bindings::omx_put_task(self.task.as_ptr()) };
    }
}

/// Whether the current kernel thread has been asked to stop. Only meaningful in a [`KThread`].
pub(crate) fn should_stop() -> bool {
    // SAFETY: Reads a flag of the current task; callers are `KThread` closures (kthreads).
    unsafe { bindings::kthread_should_stop() }
}

/// Sleeps about `ms` milliseconds in any task, whatever signals are pending (an interruptible
/// sleep returns at once while one is).
pub(crate) fn pause_ms(ms: u32) {
    let j = kernel::time::msecs_to_jiffies(ms);
    // SAFETY: Sleeping in process context; the timeout is in jiffies.
    unsafe { bindings::schedule_timeout_uninterruptible(j as kernel::ffi::c_long) };
}

/// Sleeps about `ms` milliseconds, or less when the thread is asked to stop. Kernel threads
/// ([`KThread`]) only.
pub(crate) fn sleep_ms(ms: u32) {
    if should_stop() {
        return;
    }
    let j = kernel::time::msecs_to_jiffies(ms);
    // SAFETY: Sleeping in process context; the timeout is in jiffies.
    unsafe { bindings::schedule_timeout_interruptible(j as c_long) };
}

/// While it lives, the calling task has the highest priority of its scheduling class
/// (nice -20); when it is dropped the task's nice value is what it was before. For the
/// module's own work that must not go at the pace of a share of a crowded CPU: in a
/// process's context, capturing or restoring it for a move (no user code runs while the
/// guard lives: it is dropped before the task returns to user mode), and a connection's
/// sending thread. A nice value another task sets meanwhile is overwritten at the drop.
///
/// Not `Send`: it is dropped by the task it boosted, which is the one `omx_set_current_nice`
/// acts on.
pub(crate) struct Boost {
    nice: c_long,
    _task_bound: core::marker::PhantomData<*const ()>,
}

impl Boost {
    /// The most favourable nice value.
    const MIN_NICE: c_long = -20;

    pub(crate) fn new() -> Self {
        // SAFETY: no precondition; reads current's static priority.
        let nice = unsafe { bindings::omx_current_nice() };
        // SAFETY: no precondition: `set_user_nice` on current, in process context.
        unsafe { bindings::omx_set_current_nice(Self::MIN_NICE) };
        Self {
            nice,
            _task_bound: core::marker::PhantomData,
        }
    }
}

impl Drop for Boost {
    fn drop(&mut self) {
        // SAFETY: no precondition; the guard is not `Send`, so current is the task that
        // made it.
        unsafe { bindings::omx_set_current_nice(self.nice) };
    }
}
