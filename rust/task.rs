// SPDX-License-Identifier: GPL-2.0

//! Processes: references to tasks, task work, and the per-process state that migration reads
//! and writes in a process's own context.
//!
//! Functions of [`cur`] act on the calling task (`current`); they are what a migration runs in
//! the migrating process (capture) and in the new guest (restore). Everything that touches
//! another task goes through a [`Task`] reference.

use super::bindings;
use core::ptr::NonNull;
use kernel::ffi::{c_char, c_int, c_void};
use kernel::prelude::*;

/// A counted reference to a task.
///
/// # Invariants
///
/// `ptr` points to a `task_struct` on which this value holds one reference.
pub(crate) struct Task {
    ptr: NonNull<bindings::task_struct>,
}

// SAFETY: a task reference may be used and dropped from any thread: `put_task_struct` and the
// functions called on the task below are all thread-safe.
unsafe impl Send for Task {}
// SAFETY: `&Task` only allows thread-safe calls (see `Send`).
unsafe impl Sync for Task {}

impl Task {
    /// The task whose pid in the initial namespace is `pid`.
    pub(crate) fn by_pid(pid: i32) -> Option<Self> {
        // SAFETY: `omx_get_task` has no precondition; it returns a referenced task or NULL.
        let ptr = NonNull::new(unsafe { bindings::omx_get_task(pid) })?;
        // INVARIANT: `omx_get_task` took a reference for us.
        Some(Self { ptr })
    }

    /// The calling task.
    pub(crate) fn current() -> Self {
        // SAFETY: `omx_current_get` returns `current` with a new reference; never NULL.
        let ptr = unsafe { bindings::omx_current_get() };
        // INVARIANT: a reference was taken.
        Self {
            ptr: NonNull::new(ptr).expect("current is never NULL"),
        }
    }

    /// The calling task's pid.
    pub(crate) fn current_pid() -> u32 {
        // SAFETY: no precondition.
        unsafe { bindings::omx_current_pid() as u32 }
    }

    /// Whether this is the calling task.
    pub(crate) fn is_current(&self) -> bool {
        // SAFETY: `omx_current` has no precondition.
        self.ptr.as_ptr() == unsafe { bindings::omx_current() }
    }

    /// openMosix stay bits of the task itself (`OMX_STAY_*` of `rust/helpers.h`).
    pub(crate) fn stay_bits(&self) -> u32 {
        // SAFETY: `self.ptr` is a valid, referenced task (type invariant).
        unsafe { bindings::omx_task_stay_bits(self.ptr.as_ptr()) }
    }

    /// Whether the calling task may migrate this one: `CAP_SYS_ADMIN`, or the rule of ptrace
    /// attach with real credentials (all of its user and group ids are the caller's real ones,
    /// and it is dumpable: not a setuid or setgid program).
    pub(crate) fn may_be_migrated_by_current(&self) -> bool {
        // SAFETY: `self.ptr` is a valid, referenced task (type invariant).
        unsafe { bindings::omx_may_migrate(self.ptr.as_ptr()) }
    }

    /// Whether the task is stopped (job control) or traced: it runs no task work until it is
    /// continued.
    pub(crate) fn is_stopped(&self) -> bool {
        // SAFETY: `self.ptr` is a valid, referenced task (type invariant).
        unsafe { bindings::omx_task_stopped(self.ptr.as_ptr()) }
    }

    /// Whether the task runs as root (its real or effective user id is 0), as the balancer
    /// counts it (`admin/migrate_root`).
    pub(crate) fn is_root(&self) -> bool {
        // SAFETY: `self.ptr` is a valid, referenced task (type invariant).
        unsafe { bindings::omx_task_is_root(self.ptr.as_ptr()) }
    }

    /// The exit code (a wait status) once the task has ended.
    pub(crate) fn exit_code(&self) -> Option<u32> {
        let mut code: c_int = 0;
        // SAFETY: `self.ptr` is a valid, referenced task (type invariant); `code` is writable.
        let done = unsafe { bindings::omx_task_exited(self.ptr.as_ptr(), &mut code) };
        done.then_some(code as u32)
    }

    /// The CPU time the task used, user and system, in ns; still there once it ended.
    pub(crate) fn cputime(&self) -> [u64; 2] {
        let (mut user, mut system) = (0, 0);
        // SAFETY: `self.ptr` is a valid, referenced task (type invariant), whose counters stay
        // readable after it ended; `user` and `system` are writable.
        unsafe { bindings::omx_task_cputime(self.ptr.as_ptr(), &mut user, &mut system) };
        [user, system]
    }

    /// This process's interval timers, as [`cur::itimers`] gives the caller's; all zero once
    /// it has exited.
    pub(crate) fn itimers(&self) -> [(u64, u64); 3] {
        let mut ns = [0u64; 6];
        // SAFETY: `self.ptr` is a valid, referenced task (type invariant); `ns` is the 6
        // writable `u64`s the shim fills; it takes the task's signal lock.
        unsafe { bindings::omx_task_itimers(self.ptr.as_ptr(), ns.as_mut_ptr()) };
        core::array::from_fn(|i| (ns[2 * i].div_ceil(1000), ns[2 * i + 1] / 1000))
    }

    /// The signals waiting for this task, its own and its process's, blocked or not (bit 0:
    /// signal 1).
    pub(crate) fn pending_mask(&self) -> u64 {
        // SAFETY: `self.ptr` is a valid, referenced task (type invariant); the shim takes its
        // signal lock.
        unsafe { bindings::omx_task_pending_mask(self.ptr.as_ptr()) }
    }

    /// When the task started (ns since boot): with its pid, names it across pid reuse.
    pub(crate) fn start_time(&self) -> u64 {
        // SAFETY: `self.ptr` is a valid, referenced task (type invariant).
        unsafe { bindings::omx_task_start_time(self.ptr.as_ptr()) }
    }

    /// Sends signal `sig` to the task.
    pub(crate) fn signal(&self, sig: u32) {
        // SAFETY: `self.ptr` is a valid, referenced task (type invariant); `send_sig` checks
        // `sig` and copes with a task that is exiting.
        unsafe { bindings::send_sig(sig as c_int, self.ptr.as_ptr(), 0) };
    }

    /// Sends the task signal `sig` with the `siginfo` `info` (as it was at home).
    pub(crate) fn signal_with(&self, sig: u32, info: &crate::omcore::mig::SigInfo) {
        // SAFETY: `self.ptr` is a valid, referenced task (type invariant); `info.fields` holds
        // the `OMX_SIGINFO_FIELDS` bytes the shim reads; `send_sig_info` checks `sig` and
        // copes with a task that is exiting.
        unsafe {
            bindings::omx_signal_from(
                self.ptr.as_ptr(),
                sig as c_int,
                info.code,
                info.errno,
                info.fields.as_ptr(),
            )
        };
    }

    /// Runs `f` in the task's own context on its way back to user mode; with `interrupt`, a
    /// task sleeping interruptibly is woken for it (as by a signal, the call being restarted).
    pub(crate) fn queue_work<F: FnOnce() + Send + 'static>(&self, f: F, interrupt: bool) -> Result {
        let w = KBox::new(
            Work {
                head: bindings::callback_head::default(),
                f: Some(f),
            },
            GFP_KERNEL,
        )?;
        let raw = KBox::into_raw(w);
        let mode = if interrupt {
            bindings::task_work_notify_mode_TWA_SIGNAL
        } else {
            bindings::task_work_notify_mode_TWA_RESUME
        };
        // SAFETY: `self.ptr` is a valid task; `raw` points to a live `Work<F>` whose first field
        // is the callback head, which stays valid until `run_work::<F>` frees it.
        let r = unsafe {
            bindings::omx_task_work_add(
                self.ptr.as_ptr(),
                &raw mut (*raw).head,
                Some(run_work::<F>),
                mode as c_int,
            )
        };
        if r != 0 {
            // SAFETY: the work was not queued, so `raw` is still ours alone.
            drop(unsafe { KBox::from_raw(raw) });
            return Err(Error::from_errno(r));
        }
        Ok(())
    }
}

/// One user process of this node, as sampled by [`processes`].
#[derive(Clone, Copy, Default)]
pub(crate) struct ProcSample {
    pub(crate) pid: i32,
    pub(crate) ppid: i32,
    /// Real and effective user ids.
    pub(crate) uid: u32,
    pub(crate) euid: u32,
    /// Stay-reason bits, as [`Task::stay_bits`] gives them.
    pub(crate) stay: u32,
    /// Start time, ns since boot: with the pid, names the process across pid reuse.
    pub(crate) start: u64,
    /// CPU time used so far, ns.
    pub(crate) exec_ns: u64,
    pub(crate) rss_pages: u64,
    /// Runnable now (running or waiting for a CPU).
    pub(crate) running: bool,
}

/// Samples up to `max` user processes of this node (kernel threads left out).
pub(crate) fn processes(max: usize) -> Result<KVec<ProcSample>> {
    let mut raw = KVec::with_capacity(max, GFP_KERNEL)?;
    for _ in 0..max {
        raw.push(bindings::omx_proc::default(), GFP_KERNEL)?;
    }
    let cap = c_int::try_from(max).unwrap_or(c_int::MAX);
    // SAFETY: `raw` holds `max` writable, initialised `omx_proc` entries, and the shim writes
    // at most `cap <= max` of them; it only reads kernel state under RCU.
    let n = unsafe { bindings::omx_snapshot_procs(raw.as_mut_ptr(), cap) };
    let n = usize::try_from(n).unwrap_or(0).min(max);
    let mut v = KVec::with_capacity(n, GFP_KERNEL)?;
    for p in raw.iter().take(n) {
        v.push(
            ProcSample {
                pid: p.pid,
                ppid: p.ppid,
                uid: p.uid,
                euid: p.euid,
                stay: p.stay,
                start: p.start,
                exec_ns: p.exec_ns,
                rss_pages: p.rss_pages,
                running: p.running != 0,
            },
            GFP_KERNEL,
        )?;
    }
    Ok(v)
}

impl Clone for Task {
    fn clone(&self) -> Self {
        // SAFETY: `self.ptr` is a valid, referenced task (type invariant), so taking another
        // reference on it is allowed.
        unsafe { bindings::omx_hold_task(self.ptr.as_ptr()) };
        // INVARIANT: the new value owns the reference just taken.
        Self { ptr: self.ptr }
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        // SAFETY: by the type invariant this value owns one reference, given back here.
        unsafe { bindings::omx_put_task(self.ptr.as_ptr()) };
    }
}

#[repr(C)]
struct Work<F> {
    head: bindings::callback_head,
    f: Option<F>,
}

/// Task-work callback: runs and frees the `Work<F>` that `head` is the first field of.
///
/// # Safety
///
/// `head` must be the `head` field of a `Work<F>` leaked by [`Task::queue_work`].
unsafe extern "C" fn run_work<F: FnOnce()>(head: *mut bindings::callback_head) {
    // SAFETY: `head` is the first field of a `#[repr(C)]` `Work<F>` that `queue_work` leaked
    // with `KBox::into_raw`; task work runs each callback once, so it is reclaimed once.
    let mut w = unsafe { KBox::from_raw(head.cast::<Work<F>>()) };
    let f = w.f.take();
    // Freed before the call: `f` may end the task (`do_exit` does not return).
    drop(w);
    if let Some(f) = f {
        f();
    }
}

/// A reference on this module, so that code of the module that runs in a process (a deputy)
/// keeps it loaded.
pub(crate) struct ModuleRef(());

impl ModuleRef {
    /// Takes a reference; `None` while the module is being removed.
    pub(crate) fn get() -> Option<Self> {
        // SAFETY: `omx_module_get` has no precondition.
        unsafe { bindings::omx_module_get() }.then_some(Self(()))
    }
}

impl Drop for ModuleRef {
    fn drop(&mut self) {
        // SAFETY: this value holds one reference taken by `get`.
        unsafe { bindings::omx_module_put() };
    }
}

/// Waits until no task still runs the module's code without holding a [`ModuleRef`]: a task
/// that drops its reference in code of the module (a deputy retiring at the end of task work)
/// runs a few more of its instructions, and may be preempted there. Every such task has left
/// them once it passed a voluntary context switch or user mode, which this waits for (RCU
/// Tasks). The module's exit calls it last, after which its code may be freed.
pub(crate) fn wait_tasks_off_module() {
    // SAFETY: `omx_wait_tasks_off_module` has no precondition; it sleeps, which the module's
    // exit (process context) may.
    unsafe { bindings::omx_wait_tasks_off_module() };
}

/// Starts `path` with `argv` as a user-mode helper; `init` runs first in the new task and may
/// refuse it. Returns once the program has been executed.
pub(crate) fn spawn(path: &CStr, argv: &[&CStr], init: &mut dyn FnMut() -> Result) -> Result {
    let mut ptrs: KVec<*mut c_char> = KVec::with_capacity(argv.len() + 1, GFP_KERNEL)?;
    for a in argv {
        ptrs.push(a.as_char_ptr().cast_mut(), GFP_KERNEL)?;
    }
    ptrs.push(core::ptr::null_mut(), GFP_KERNEL)?;

    /// Runs the caller's `init` in the new helper task.
    ///
    /// # Safety
    ///
    /// `data` must point to a live `&mut dyn FnMut() -> Result`.
    unsafe extern "C" fn tramp(data: *mut c_void) -> c_int {
        // SAFETY: `data` is the `&mut &mut dyn FnMut` below, alive until `omx_spawn` returns,
        // which is after the helper's init ran.
        let f = unsafe { &mut *data.cast::<&mut dyn FnMut() -> Result>() };
        match f() {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        }
    }
    let mut init = init;
    // SAFETY: `path` and the `argv` strings are NUL-terminated and outlive the call, which
    // returns only once the helper executed `path` (UMH_WAIT_EXEC); `ptrs` is NULL-terminated;
    // `tramp` receives a pointer to `init`, live for the call.
    let r = unsafe {
        bindings::omx_spawn(
            path.as_char_ptr(),
            ptrs.as_mut_ptr(),
            Some(tramp),
            (&raw mut init).cast(),
        )
    };
    if r < 0 {
        return Err(Error::from_errno(r));
    }
    if r > 0 {
        // A wait status from the helper: it could not be executed.
        return Err(ENOEXEC);
    }
    Ok(())
}

pub(crate) use super::stay;

/// The calling process's own state. Every function here acts on `current` and must be called
/// from process context (a system call or task work of a user process).
pub(crate) mod cur {
    use super::bindings;
    use kernel::ffi::{c_char, c_int};
    use kernel::prelude::*;
    use kernel::uaccess::UserSlice;

    pub(crate) use crate::ksys::procstate::{
        account_away, clocks, init_real_ids, misc, real_uid, rlimits, rseq, set_clear_child_tid,
        set_itimer_real, set_misc, set_rlimits, set_rseq,
    };

    /// The calling process's interval timers, `ITIMER_REAL`, `ITIMER_VIRTUAL`, `ITIMER_PROF`:
    /// (time left, interval) in microseconds (a timer armed keeps a time left of at least 1).
    pub(crate) fn itimers() -> [(u64, u64); 3] {
        super::Task::current().itimers()
    }
    pub(crate) use crate::ksys::signal::{
        block_signals, blocked_mask, deliver_under, dequeue_signal, dequeue_signal_info,
        pending_mask, pgrp_orphaned, set_blocked_mask, set_signals, signals, take_temporary_mask,
        SigState,
    };

    /// Registers saved at kernel entry, in `struct pt_regs` order (r15 ... ss).
    pub(crate) const PT_REGS: usize = 21;
    const _: () = assert!(core::mem::size_of::<bindings::pt_regs>() == PT_REGS * 8);
    const _: () = assert!(PT_REGS == crate::omcore::regs::PT_REGS);

    /// Reads the user registers saved at kernel entry.
    pub(crate) fn regs() -> [u64; PT_REGS] {
        // SAFETY: `omx_current_regs` returns current's `pt_regs`, which is `PT_REGS` u64 words
        // (checked above) and valid for as long as the task lives.
        unsafe { bindings::omx_current_regs().cast::<[u64; PT_REGS]>().read() }
    }

    /// The user registers saved at kernel entry, typed.
    pub(crate) fn user_regs() -> crate::omcore::regs::UserRegs {
        crate::omcore::regs::UserRegs::from_raw(regs())
    }

    /// Skips the system call being entered (call from a `sys_enter` probe); it returns
    /// `value`.
    pub(crate) fn skip_call(value: i64) {
        let mut r = user_regs();
        r.skip_call(value);
        set_user_regs(&r);
    }

    /// Replaces the user registers that the return to user mode will load.
    pub(crate) fn set_user_regs(r: &crate::omcore::regs::UserRegs) {
        set_regs(r.raw());
    }

    /// Replaces the user registers that the return to user mode will load.
    pub(crate) fn set_regs(r: &[u64; PT_REGS]) {
        // SAFETY: as in `regs`; only current writes its own `pt_regs` here, in process context.
        unsafe {
            bindings::omx_current_regs()
                .cast::<[u64; PT_REGS]>()
                .write(*r)
        };
    }

    /// User FS and GS base.
    pub(crate) fn fsgs() -> (u64, u64) {
        let (mut fs, mut gs) = (0, 0);
        // SAFETY: both pointers are writable locals.
        unsafe { bindings::omx_get_fsgs(&mut fs, &mut gs) };
        (fs, gs)
    }

    /// Sets the user FS and GS base.
    pub(crate) fn set_fsgs(fs: u64, gs: u64) {
        // SAFETY: no precondition beyond process context.
        unsafe { bindings::omx_set_fsgs(fs, gs) };
    }

    /// Runs `f` on the user FPU state in memory (kernel XSAVE format) and its feature set.
    /// What `f` leaves in the buffer is what the return to user mode loads.
    pub(crate) fn with_fpu<R>(f: impl FnOnce(&mut [u8], u64) -> R) -> R {
        let (mut size, mut xfeatures) = (0u32, 0u64);
        // SAFETY: the pointers are writable locals; the returned buffer is current's fpstate
        // register area of `size` bytes, which only current uses while it runs in the kernel
        // (the user registers were saved to it and are reloaded from it on return).
        let buf = unsafe {
            let p = bindings::omx_fpu_user_state(&mut size, &mut xfeatures);
            core::slice::from_raw_parts_mut(p.cast::<u8>(), size as usize)
        };
        f(buf, xfeatures)
    }

    /// The format of the calling task's FPU state and what of it a user process may have in
    /// use on this node: what an image's FPU state is checked against.
    pub(crate) fn fpu_format() -> crate::omcore::restore::FpuFormat {
        use crate::omcore::restore::{xcomp_bv, FpuFormat};
        let (mut user_xfeatures, mut mxcsr_mask) = (0u64, 0u32);
        // SAFETY: the pointers are writable locals.
        unsafe { bindings::omx_fpu_limits(&mut user_xfeatures, &mut mxcsr_mask) };
        with_fpu(|buf, xfeatures| FpuFormat {
            size: buf.len(),
            xfeatures,
            user_xfeatures,
            xcomp_bv: xcomp_bv(buf),
            mxcsr_mask,
        })
    }

    /// Memory layout: start_code ... env_end, then the vDSO address.
    pub(crate) fn mm_layout() -> Result<[u64; 12]> {
        let mut v = [0u64; 12];
        // SAFETY: no precondition.
        let mm = unsafe { bindings::omx_current_mm() };
        if mm.is_null() {
            return Err(EINVAL);
        }
        // SAFETY: `mm` is current's live mm; `v` has room for 12 values.
        unsafe { bindings::omx_mm_layout(mm, v.as_mut_ptr()) };
        Ok(v)
    }

    /// Sets start_code ... env_end.
    pub(crate) fn set_mm_layout(v: &[u64; 11]) {
        // SAFETY: `v` holds the 11 values read; current has an mm (it is a user process).
        unsafe { bindings::omx_mm_set_layout(v.as_ptr()) };
    }

    /// One memory area of the calling process.
    pub(crate) struct Area {
        pub(crate) start: u64,
        pub(crate) end: u64,
        pub(crate) flags: u64,
        pub(crate) pgoff: u64,
        /// A special mapping (`[vdso]`, `[vvar]`...), whose name is in `path`.
        pub(crate) special: bool,
        pub(crate) path: KVec<u8>,
        /// An area whose pages come from home (`homemap::map_home`): its cookie; else 0.
        pub(crate) home: u64,
    }

    /// `VM_*` flags of [`Area::flags`].
    pub(crate) const VM_READ: u64 = 0x1;
    pub(crate) const VM_WRITE: u64 = 0x2;
    pub(crate) const VM_EXEC: u64 = 0x4;
    pub(crate) const VM_SHARED: u64 = 0x8;
    pub(crate) const VM_IO: u64 = 0x4000;
    pub(crate) const VM_LOCKED: u64 = 0x2000;
    pub(crate) const VM_PFNMAP: u64 = 0x400;
    pub(crate) const VM_GROWSDOWN: u64 = 0x100;
    pub(crate) const VM_MAYWRITE: u64 = 0x20;

    /// `kill(-1, sig)` as the calling process makes it, sparing the processes whose pids are in
    /// `skip`: 0 or `-errno`, as `kill` returns.
    pub(crate) fn kill_all_except(sig: i32, skip: &[i32]) -> i32 {
        let n = c_int::try_from(skip.len()).unwrap_or(c_int::MAX);
        // SAFETY: `skip` is valid for reads of `n` (at most its length) ints for the call, which
        // only reads it; the call checks `sig` and every permission as `kill` does.
        unsafe { bindings::omx_kill_all_except(sig, skip.as_ptr(), n) }
    }

    /// Whether descriptor `fd` of the calling process is a proc file system's root directory.
    pub(crate) fn fd_is_proc_root(fd: i32) -> bool {
        // SAFETY: `omx_fd_is_proc_root` looks `fd` up in current's table under its own
        // reference and drops it before returning; any value of `fd` is allowed.
        unsafe { bindings::omx_fd_is_proc_root(fd) }
    }

    /// The first area ending above `addr`.
    pub(crate) fn area_after(addr: u64) -> Result<Option<Area>> {
        // SAFETY: no precondition.
        let mm = unsafe { bindings::omx_current_mm() };
        if mm.is_null() {
            return Err(EINVAL);
        }
        let mut path = KVec::from_elem(0u8, 4096, GFP_KERNEL)?;
        let mut out = bindings::omx_vma::default();
        // SAFETY: `mm` is current's mm; `out` and `path` (4096 bytes) are writable.
        let r = unsafe {
            bindings::omx_vma_find(
                mm,
                addr as usize,
                &mut out,
                path.as_mut_ptr().cast::<c_char>(),
                4096,
            )
        };
        if r != 0 {
            return Ok(None);
        }
        path.truncate(out.path_len as usize);
        Ok(Some(Area {
            start: out.start,
            end: out.end,
            flags: out.flags,
            pgoff: out.pgoff,
            special: out.special != 0,
            path,
            home: out.home,
        }))
    }

    /// Reads user memory at `addr` into `buf`.
    pub(crate) fn read_user(addr: u64, buf: &mut [u8]) -> Result {
        UserSlice::new(
            kernel::uaccess::UserPtr::from_addr(addr as usize),
            buf.len(),
        )
        .reader()
        .read_slice(buf)
    }

    /// Writes `data` to user memory at `addr`, even where the area is not writable (as a
    /// debugger's poke does: private pages are copied on write).
    pub(crate) fn write_user(addr: u64, data: &[u8]) -> Result {
        let r = UserSlice::new(
            kernel::uaccess::UserPtr::from_addr(addr as usize),
            data.len(),
        )
        .writer()
        .write_slice(data);
        if r.is_ok() {
            return r;
        }
        // FOLL_WRITE | FOLL_FORCE
        const FLAGS: u32 = 1 | 8;
        // SAFETY: `omx_current` is the calling task; `data` is readable for its length and
        // `access_process_vm` only reads from it for a write.
        let n = unsafe {
            bindings::access_process_vm(
                bindings::omx_current(),
                addr as usize,
                data.as_ptr().cast_mut().cast(),
                data.len() as c_int,
                FLAGS,
            )
        };
        if n as usize != data.len() {
            return Err(EFAULT);
        }
        Ok(())
    }

    /// Maps private anonymous memory at exactly `addr`, failing if anything is there.
    pub(crate) fn map_anon(addr: u64, len: u64, prot: u8, grows_down: bool) -> Result {
        const MAP_PRIVATE: u64 = 0x02;
        const MAP_ANONYMOUS: u64 = 0x20;
        const MAP_GROWSDOWN: u64 = 0x100;
        const MAP_FIXED_NOREPLACE: u64 = 0x100000;
        let mut flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE;
        if grows_down {
            flags |= MAP_GROWSDOWN;
        }
        // SAFETY: a NULL file asks for anonymous memory; the other arguments are plain values
        // that `vm_mmap` checks.
        let r = unsafe {
            bindings::vm_mmap(
                core::ptr::null_mut(),
                addr as usize,
                len as usize,
                usize::from(prot),
                flags as usize,
                0,
            )
        };
        if r as u64 == addr {
            Ok(())
        } else if (r as i64) < 0 && (r as i64) >= -4095 {
            Err(Error::from_errno(r as i32))
        } else {
            Err(EEXIST)
        }
    }

    /// Maps private anonymous memory wherever there is room; returns its address.
    pub(crate) fn map_anywhere(len: u64, prot: u8) -> Result<u64> {
        const MAP_PRIVATE: usize = 0x02;
        const MAP_ANONYMOUS: usize = 0x20;
        // SAFETY: a NULL file asks for anonymous memory; the other arguments are plain values
        // that `vm_mmap` checks.
        let r = unsafe {
            bindings::vm_mmap(
                core::ptr::null_mut(),
                0,
                len as usize,
                usize::from(prot),
                MAP_PRIVATE | MAP_ANONYMOUS,
                0,
            )
        };
        if (r as i64) < 0 && (r as i64) >= -4095 {
            return Err(Error::from_errno(r as i32));
        }
        Ok(r as u64)
    }

    /// Whether a signal is pending for the calling task.
    pub(crate) fn signal_pending() -> bool {
        // SAFETY: no precondition.
        unsafe { bindings::omx_signal_pending() }
    }

    /// Copies a NUL-terminated string from user memory into `buf`; returns its length with the
    /// NUL. `ENAMETOOLONG` when it fills `buf` (it may have been cut).
    pub(crate) fn read_user_str(addr: u64, buf: &mut [u8]) -> Result<usize> {
        let len = buf.len();
        let s = UserSlice::new(kernel::uaccess::UserPtr::from_addr(addr as usize), len)
            .reader()
            .strcpy_into_buf(buf)?;
        let n = s.to_bytes_with_nul().len();
        if n >= len {
            return Err(crate::ksys::errno::enametoolong());
        }
        Ok(n)
    }

    /// Unmaps `[addr, addr + len)`.
    pub(crate) fn unmap(addr: u64, len: u64) -> Result {
        // SAFETY: plain values, checked by `vm_munmap`.
        let r = unsafe { bindings::vm_munmap(addr as usize, len as usize) };
        if r != 0 {
            return Err(Error::from_errno(r));
        }
        Ok(())
    }

    /// Whether the system call being made is of the 32-bit (`int $0x80`, `sysenter`) or x32
    /// ABI. Call from a system-call hook.
    pub(crate) fn in_compat_syscall() -> bool {
        // SAFETY: no precondition; it reads the calling task's own syscall state.
        unsafe { bindings::omx_in_compat_syscall() }
    }

    /// Whether the calling task has `CAP_SYS_ADMIN`.
    pub(crate) fn is_admin() -> bool {
        // SAFETY: no precondition; it checks the calling task's own credentials.
        unsafe { bindings::omx_current_is_admin() }
    }

    /// Whether a seccomp filter confines the calling task.
    pub(crate) fn seccomp_filtered() -> bool {
        // SAFETY: no precondition; it reads the calling task's own seccomp mode.
        unsafe { bindings::omx_current_seccomp_filtered() }
    }

    /// Whether the calling task has been killed.
    pub(crate) fn fatal_signal_pending() -> bool {
        // SAFETY: no precondition.
        unsafe { bindings::omx_fatal_signal_pending() }
    }

    /// The wait status the calling process is being ended with (a fatal signal), if any.
    pub(crate) fn group_exit_code() -> u32 {
        // SAFETY: no precondition.
        unsafe { bindings::omx_group_exit_code() as u32 }
    }

    /// The command name.
    pub(crate) fn comm() -> [u8; 16] {
        let mut c = [0u8; 16];
        // SAFETY: `c` has 16 bytes.
        unsafe { bindings::omx_comm_get(c.as_mut_ptr().cast()) };
        c
    }

    /// Sets the command name.
    pub(crate) fn set_comm(c: &[u8; 16]) {
        // SAFETY: `c` has 16 bytes; the shim terminates it.
        unsafe { bindings::omx_comm_set(c.as_ptr().cast()) };
    }

    /// Whether the calling task runs as the unprivileged user `uid` (group `gid`) in every id,
    /// with no supplementary group and no capability in any set, and is charged to that user's
    /// accounting (as `setresuid` leaves a task, not a bare credential change).
    pub(crate) fn runs_as(uid: u32, gid: u32) -> bool {
        // SAFETY: no precondition; it reads the calling task's own credentials.
        unsafe { bindings::omx_current_runs_as(uid, gid) }
    }

    /// The lowest address this node lets an unprivileged process map (`vm.mmap_min_addr`).
    pub(crate) fn mmap_min_addr() -> u64 {
        // SAFETY: no precondition; process context (it may read a file).
        unsafe { bindings::omx_mmap_min_addr() as u64 }
    }

    /// The contents of the calling process's own `/proc/self/<name>` as this node's kernel
    /// makes them, at most `max` bytes (`EFBIG` if there are more); `name` ends with its NUL.
    /// Process context.
    pub(crate) fn read_own_proc(name: &[u8], max: usize) -> Result<KVVec<u8>> {
        if name.last() != Some(&0) {
            return Err(EINVAL);
        }
        let mut room = max.min(64 * 1024);
        loop {
            let mut buf = KVVec::from_elem(0u8, room, GFP_KERNEL)?;
            // SAFETY: `name` ends with a NUL (checked above); `buf` has `room` writable bytes,
            // which the shim writes at most.
            let n = unsafe {
                bindings::omx_read_own_proc(name.as_ptr().cast(), buf.as_mut_ptr().cast(), room)
            };
            match usize::try_from(n) {
                Ok(n) => {
                    buf.truncate(n);
                    return Ok(buf);
                }
                Err(_) if n == -(bindings::EFBIG as isize) && room < max => {
                    room = room.saturating_mul(4).min(max);
                }
                Err(_) => return Err(Error::from_errno(n as i32)),
            }
        }
    }

    /// Closes descriptor `fd` of the calling process, if it is open.
    pub(crate) fn close_file(fd: u32) {
        // SAFETY: `close_fd` accepts any number and ignores an unused one.
        unsafe { bindings::close_fd(fd) };
    }

    /// Closes every file descriptor of the calling process.
    pub(crate) fn close_all_files() {
        for fd in 0..1024u32 {
            // SAFETY: `close_fd` accepts any number and ignores unused ones.
            unsafe { bindings::close_fd(fd) };
        }
    }

    /// Ends the calling process with wait status `code`.
    pub(crate) fn exit(code: u32) -> ! {
        // SAFETY: `do_exit` may be called by any task in process context; it does not return.
        unsafe { bindings::do_exit(code as isize) }
    }
}
