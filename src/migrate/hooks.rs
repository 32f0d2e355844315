// SPDX-License-Identifier: GPL-2.0

//! The system-call hooks: probes on `sys_enter` and `sys_exit` (`ksys::trace`), registered
//! while a guest runs here or a deputy serves, and so called for every system call of every
//! task of the node. For a task that is neither a guest nor a deputy the test is one atomic
//! load (`PidFilter`); the guest and deputy lists are only looked at for those that may be.
//!
//! - A guest's call runs here (the `Local` class of `omcore::syscalls`), is answered here
//!   (`getpid`), is forwarded to its deputy (task work: `forward.rs`, `vectored.rs`), makes
//!   the process come home (`fork`, `execve`, a file or shared `mmap`, `shmat`: `depart.rs`),
//!   or is refused (`ENOSYS`): every
//!   call of the 32-bit and x32 ABIs, every number the table does not know, every call it does
//!   not forward. The guest's seccomp filter (`omcore::seccomp`, installed by its stub) is a
//!   second wall that refuses the same calls before this hook runs.
//! - A deputy's forwarded call, made at its trampoline, comes back through the `sys_exit`
//!   hook to `serve.rs`. Signals wait, blocked, whenever the deputy is in user mode.
//! - A guest's call that runs here and names a process may name only the guest itself
//!   (`own_process_only`); any other task's call that names a guest is kept from it
//!   (`hide.rs`).

use super::depart::{call_at_home, not_available};
use super::deputy::JobStop;
use super::forward::{forward_call, forward_whole, set_result};
use super::guest::Guest;
use super::serve::{deputy_blocks, deputy_resume, finish};
use super::{hide, homefile, own, vectored, Hook, Migrations};
use crate::error::syscall_result;
use crate::ksys::errno::enosys;
use crate::ksys::homemap;
use crate::ksys::task::{cur, Task};
use crate::ksys::trace::SyscallHook;
use crate::omcore::fwd;
use crate::omcore::mig;
use crate::omcore::ownproc::{self, OwnProc};
use crate::omcore::regs::UserRegs;
use crate::omcore::syscalls::{self, nr};
use core::sync::atomic::Ordering::{Relaxed, Release};
use kernel::prelude::*;
use kernel::sync::Arc;

/// `MAP_ANONYMOUS` of `mmap`'s flags.
const ITIMER_REAL: u64 = 0;
const O_ACCMODE: u64 = 0o3;
const O_CREAT: u64 = 0o100;
const O_TRUNC: u64 = 0o1000;
const O_PATH: u64 = 0o10000000;
const O_DIRECTORY: u64 = 0o200000;
const MAP_ANONYMOUS: u64 = 0x20;
/// The mapping type bits of `mmap`'s flags, and the shared types.
const MAP_TYPE: u64 = 0x0f;
const MAP_SHARED: u64 = 0x01;
const MAP_SHARED_VALIDATE: u64 = 0x03;
/// `PROT_WRITE` of `mmap`'s protection.
const PROT_WRITE: u64 = 0x2;

impl SyscallHook for Hook {
    fn enter(&self, nr: i64) {
        let mig = &self.0;
        let Ok(nr) = u32::try_from(nr) else { return };
        let pid = Task::current_pid();
        if let Some(g) = mig.running_guest(pid) {
            if cur::in_compat_syscall() {
                // The 32-bit and x32 ABIs have numbers of their own: none is routed, none
                // runs on the host (the guest's seccomp filter refuses them too).
                not_available(
                    nr,
                    "32-bit and x32 system calls are refused to a migrated process",
                );
                cur::skip_call(syscall_result(enosys()));
                return;
            }
            guest_syscall(mig, g, nr);
            return;
        }
        if let Some(d) = mig.calling_deputy(pid) {
            // The deputy's forwarded call: signals interrupt it as they would at home, where
            // the process blocks what its guest blocks. Its stop: only the stop signal.
            let i = d.inner.lock();
            match i.job {
                JobStop::Stopping(sig) => cur::set_blocked_mask(!(1u64 << (sig - 1)), false),
                job => {
                    cur::set_blocked_mask(deputy_blocks(&d), false);
                    if job == JobStop::Running && i.capture_due() {
                        // Its guest is to be captured once this call is answered: the call is
                        // made as if a signal came as it started (one that would wait returns
                        // at once, to be made again; one that does not wait is made whole).
                        let _ = Task::current().queue_work(|| {}, true);
                    }
                }
            }
        }
        if mig.hosts_guests() {
            hide::enter(mig, nr);
        }
    }

    fn exit(&self) {
        let mig = &self.0;
        let pid = Task::current_pid();
        if mig.hosts_guests() {
            let regs = cur::user_regs();
            if let Some(g) = mig.running_guest(pid) {
                // rt_sigaction that succeeded: a guest's is mirrored to its deputy; so is its
                // blocked mask when a call changed it (rt_sigprocmask, rt_sigreturn, ...).
                if regs.syscall_nr() == Some(nr::RT_SIGACTION) && regs.result() == 0 {
                    mirror_action(mig, g.clone(), regs.args());
                }
                mirror_mask(mig, g);
                return;
            }
            hide::exit(mig, regs);
        }
        if let Some(d) = mig.calling_deputy(pid) {
            {
                let mut i = d.inner.lock();
                // Interrupted under a temporary mask: kept for the signals it lets through
                // (`deputy_resume`); the deputy sets its own masks.
                let temp = cur::take_temporary_mask();
                if let Some(e) = i.exec.as_mut() {
                    e.interrupted_under = temp;
                }
                if let JobStop::Stopping(_) = i.job {
                    // It sent itself its stop signal: the kernel stops it on the way to user
                    // mode, where the stop sequence goes on (`serve::stop_deputy`).
                    i.job = JobStop::Back;
                    return;
                }
            }
            // Back to user mode only through `deputy_resume`: signals wait, blocked, for it to
            // forward them (the deputy has no handlers of its own).
            cur::block_signals(true);
            let m = mig.clone();
            let _ = Task::current().queue_work(
                move || {
                    let end = deputy_resume(&m, &d);
                    drop((m, d));
                    finish(end);
                },
                false,
            );
        }
    }
}

/// The guest set a signal action (`rt_sigaction(sig, act, ...)` succeeded here): its deputy
/// takes the action's disposition too (`fwd::mirrored_action`), before the guest's next
/// forwarded call, so that the home judges a signal sent to the home pid as the guest would.
fn mirror_action(mig: &Arc<Migrations>, g: Arc<Guest>, args: [u64; 6]) {
    let mut act = [0u8; 32];
    if args[1] == 0 || args[3] != 8 || cur::read_user(args[1], &mut act).is_err() {
        return;
    }
    let m = fwd::mirrored_action(&act);
    let mig = mig.clone();
    let _ = queue_call(g, move |g| {
        let args = [args[0], 1, 0, 8, 0, 0];
        if let Some(spec) = fwd::spec(nr::RT_SIGACTION, &args) {
            let _ = forward_call(&mig, g, nr::RT_SIGACTION, &spec, args, Some((1, &m)), false);
        }
    });
}

/// The guest's blocked mask changed since its deputy was last told (by `rt_sigprocmask`, by
/// `rt_sigreturn` at the end of a handler, ...): the deputy is told, before the guest goes on,
/// as `rt_sigprocmask(SIG_SETMASK, mask)` (`fwd::spec`). So a signal the guest blocks waits at
/// home as it would there, rather than ending the deputy when its action is the default.
fn mirror_mask(mig: &Arc<Migrations>, g: Arc<Guest>) {
    let mask = cur::blocked_mask();
    if g.mask_mirrored.load(Relaxed) == mask {
        return;
    }
    let mig = mig.clone();
    let _ = queue_call(g, move |g| {
        let args = [fwd::SIG_SETMASK, 1, 0, 8, 0, 0];
        let Some(spec) = fwd::spec(nr::RT_SIGPROCMASK, &args) else {
            return;
        };
        let m = mask.to_ne_bytes();
        let r = forward_call(
            &mig,
            g,
            nr::RT_SIGPROCMASK,
            &spec,
            args,
            Some((1, &m)),
            false,
        );
        if matches!(r, Ok((0, _))) {
            g.mask_mirrored.store(mask, Relaxed);
        }
    });
}

/// Queues `call`, a call guest `g` (the calling task) forwards to its deputy, as its task work:
/// it runs on the way back to user mode. Counted in `Guest::calls_queued` until it is done, so
/// that a move waits for it (`depart.rs`).
fn queue_call<F: FnOnce(&Guest) + Send + 'static>(g: Arc<Guest>, call: F) -> Result {
    g.calls_queued.fetch_add(1, Relaxed);
    let gg = g.clone();
    let queued = Task::current().queue_work(
        move || {
            // A guest being killed makes no more calls.
            if !cur::fatal_signal_pending() {
                call(&gg);
            }
            gg.calls_queued.fetch_sub(1, Release);
        },
        false,
    );
    if queued.is_err() {
        g.calls_queued.fetch_sub(1, Release);
    }
    queued
}

/// Whether the calling guest's areas in `len` bytes at `addr` include a shared one paged from
/// home whose file is open for writing.
fn shares_from_home(addr: u64, len: u64) -> bool {
    let end = addr.saturating_add(len);
    let mut at = addr;
    while let Ok(Some(a)) = cur::area_after(at) {
        if a.start >= end {
            return false;
        }
        if homemap::may_write(a.home) {
            return true;
        }
        at = a.end;
    }
    false
}

/// A guest enters system call `nr`: let it run here, answer it, or forward it home.
fn guest_syscall(mig: &Arc<Migrations>, g: Arc<Guest>, nr: u32) {
    let regs: UserRegs = cur::user_regs();
    let mut args = regs.args();
    if let Some((ptr, carry)) = fwd::returned_len(nr, &args) {
        // The buffer's length, read here where the guest's memory is, travels in an argument
        // the call does not use (an unreadable pointer fails the forwarded call with EFAULT).
        let mut b = [0u8; 4];
        let len = match cur::read_user(args[ptr], &mut b) {
            Ok(()) => u64::from(u32::from_ne_bytes(b)),
            Err(_) => 0,
        };
        carry.put(&mut args, len);
    }
    // pselect6's last argument points to {mask pointer, size}: with no mask there (the C
    // library's `select`), the call is forwarded without it.
    if nr == nr::PSELECT6 && args[5] != 0 {
        let mut b = [0u8; 8];
        if cur::read_user(args[5], &mut b).is_ok() && u64::from_ne_bytes(b) == 0 {
            args[5] = 0;
        }
    }
    match nr {
        // getpid, gettid: the home pid.
        nr::GETPID | nr::GETTID => {
            let pid = g.inner.lock().home_pid;
            cur::skip_call(i64::from(pid));
            return;
        }
        // set_tid_address: made here (the thread exits here), answering its tid at home.
        nr::SET_TID_ADDRESS => {
            cur::set_clear_child_tid(args[0]);
            let pid = g.inner.lock().home_pid;
            cur::skip_call(i64::from(pid));
            return;
        }
        // exit, exit_group: the guest ends here; its home learns the status.
        nr::EXIT | nr::EXIT_GROUP => return,
        // The process comes home and makes the call there: a new process or program, memory
        // shared with others (SysV shared memory).
        nr::CLONE | nr::FORK | nr::VFORK | nr::EXECVE | nr::EXECVEAT | nr::CLONE3 | nr::SHMAT => {
            call_at_home(mig, g, nr);
            return;
        }
        // mmap: private anonymous memory is made here. A file's, private or shared without
        // write, is made here too, its pages paged from home (`homefile.rs`); what cannot be
        // (shared anonymous memory, a shared writable mapping, a device) is made at home,
        // where the process comes to make it (a shared writable one keeps it home).
        nr::MMAP => {
            let shared = matches!(args[3] & MAP_TYPE, MAP_SHARED | MAP_SHARED_VALIDATE);
            if args[3] & MAP_ANONYMOUS != 0 {
                if shared {
                    call_at_home(mig, g, nr);
                }
                return;
            }
            if (shared && args[2] & PROT_WRITE != 0) || !homemap::paging() {
                call_at_home(mig, g, nr);
                return;
            }
            cur::skip_call(syscall_result(enosys()));
            let m = mig.clone();
            let gg = g.clone();
            let map = move |g: &Guest| match homefile::map(&m, g, &args, shared) {
                Ok(Some(addr)) => set_result(nr, addr as i64),
                // Not a regular file: made at home.
                Ok(None) => call_at_home(&m, gg, nr),
                Err(e) => set_result(nr, syscall_result(e)),
            };
            if queue_call(g, map).is_err() {
                cur::skip_call(syscall_result(ENOMEM));
            }
            return;
        }
        // mprotect: here; but a shared area paged from home whose file is open for writing,
        // made writable, becomes a mapping of the file at home, where the process comes to
        // make the call (one whose file is not cannot be made writable: EACCES here too).
        nr::MPROTECT | nr::PKEY_MPROTECT => {
            if args[2] & PROT_WRITE != 0 && shares_from_home(args[0], args[1]) {
                call_at_home(mig, g, nr);
            }
            return;
        }
        // A signal to itself (`raise`, `abort`) is sent here, where the process runs; to
        // another process or thread, from home.
        // A signal it blocks waits at home, as one sent to it by another process: there a
        // `signalfd` reads it, `sigtimedwait` and `sigpending` find it, and unblocking it brings
        // it here (`serve.rs`).
        nr::TKILL | nr::TGKILL | nr::RT_SIGQUEUEINFO | nr::RT_TGSIGQUEUEINFO => {
            let home = g.inner.lock().home_pid;
            let blocked = syscalls::signal_sent(nr, &args)
                .is_some_and(|s| (1..=64).contains(&s) && cur::blocked_mask() >> (s - 1) & 1 == 1);
            if syscalls::signals_itself(nr, &args, home) && !blocked {
                // By `tkill`/`tgkill`: sent here with its home pid and user as the sender, as
                // its handler would see them at home (the kernel would name the host's).
                let sig = syscalls::signal_sent(nr, &args).unwrap_or(0);
                if matches!(nr, nr::TKILL | nr::TGKILL) && (1..=64).contains(&sig) {
                    let uid = g.inner.lock().home_uid;
                    let info = mig::SigInfo::sent_by(mig::si::TKILL, home, uid, 0);
                    Task::current().signal_with(sig, &info);
                    cur::skip_call(0);
                    return;
                }
                let me = u64::from(Task::current_pid());
                rename_in_call(syscalls::signal_targets(nr).unwrap_or(&[]), me);
                return;
            }
        }
        // The CPU-time interval timers (ITIMER_VIRTUAL, ITIMER_PROF) run here, where the
        // process uses its CPU; ITIMER_REAL at home, as alarm.
        nr::SETITIMER | nr::GETITIMER if args[0] != ITIMER_REAL => return,
        // prctl: by option (`syscalls::prctl_place`), here (memory, CPU, timers), at home
        // (credentials, parent, children) or at home and here (its name).
        nr::PRCTL if syscalls::prctl_place(args[0]) == Some(syscalls::PrctlPlace::Here) => {
            return;
        }
        // A file of its own memory in /proc (maps, cmdline, environ...): read here, where the
        // memory is, and given as a memfd at home (`own.rs`).
        nr::OPEN | nr::OPENAT | nr::OPENAT2 => {
            let home = g.inner.lock().home_pid;
            if let Some((file, flags)) = own_proc_open(nr, &args, home) {
                cur::skip_call(syscall_result(enosys()));
                let m = mig.clone();
                let open = move |g: &Guest| {
                    let r = own::open_own_proc(&m, g, file, flags, (nr, args));
                    set_result(nr, r.unwrap_or_else(syscall_result));
                };
                if queue_call(g, open).is_err() {
                    cur::skip_call(syscall_result(ENOMEM));
                }
                return;
            }
        }
        // clock_gettime: here; the process's own CPU clock is the home's plus the CPU time it
        // used away (`own.rs`); its thread's is the thread's here; another process's or
        // thread's CPU clock, or a descriptor's, is read at home (forwarded below).
        nr::CLOCK_GETTIME => {
            let home = g.inner.lock().home_pid;
            match syscalls::clock_of(args[0], home) {
                syscalls::ClockOf::Plain => return,
                syscalls::ClockOf::OwnThread(id) => {
                    rename_in_call(&[0], id);
                    return;
                }
                syscalls::ClockOf::OwnProcess(kind) => {
                    cur::skip_call(syscall_result(enosys()));
                    let m = mig.clone();
                    let clock = move |g: &Guest| {
                        let r = own::cpu_clock(&m, g, args, kind);
                        set_result(nr, r.unwrap_or_else(syscall_result));
                    };
                    if queue_call(g, clock).is_err() {
                        cur::skip_call(syscall_result(ENOMEM));
                    }
                    return;
                }
                syscalls::ClockOf::Home => {}
            }
        }
        // A signal of the set waiting here is taken here at once; else the call waits at
        // home, where the signals it blocks wait. A size or set the kernel refuses: here too.
        nr::RT_SIGTIMEDWAIT => {
            let mut set = [0u8; 8];
            if args[3] != 8
                || cur::read_user(args[0], &mut set).is_err()
                || cur::pending_mask() & u64::from_ne_bytes(set) != 0
            {
                return;
            }
        }
        _ => {}
    }
    // readv, writev, sendmsg, recvmsg, rt_sigpending: gathered, scattered or packed here,
    // forwarded as one call (preadv and pwritev too); sendmmsg and recvmmsg as one such call per
    // message; semctl GETALL and SETALL after the set's size; setrlimit, as prlimit64
    // (`own.rs`).
    let vectored = matches!(
        nr,
        nr::READV
            | nr::WRITEV
            | nr::SENDMSG
            | nr::RECVMSG
            | nr::SENDMMSG
            | nr::RECVMMSG
            | nr::PREADV
            | nr::PWRITEV
            | nr::PREADV2
            | nr::PWRITEV2
            | nr::RT_SIGPENDING
            | nr::SETRLIMIT
    ) || (nr == nr::SEMCTL && matches!(args[2] & 0xff, 13 | 17));
    let spec = fwd::spec(nr, &args);
    match syscalls::class_of(nr) {
        Some(syscalls::Class::Local) => {
            if let Some(at) = syscalls::local_pid_at(nr) {
                own_process_only(&g, at, args);
            }
        }
        None => {
            // Not a call of this table: it does not run on the host.
            not_available(nr, "not a known x86-64 system call");
            cur::skip_call(syscall_result(enosys()));
        }
        Some(_) if vectored || spec.is_some() => {
            cur::skip_call(syscall_result(enosys()));
            let m = mig.clone();
            if queue_call(g, move |g| guest_forward(&m, g, nr, args, spec)).is_err() {
                cur::skip_call(syscall_result(ENOMEM));
            }
        }
        Some(_) => {
            not_available(nr, "not forwarded to the home node yet");
            cur::skip_call(syscall_result(enosys()));
        }
    }
}

/// The file of its own memory that open call `nr` with `args` opens for reading, and its open
/// flags, if it is one (`omcore::ownproc`); `home` is the process's pid at home.
fn own_proc_open(nr: u32, args: &[u64; 6], home: u32) -> Option<(OwnProc, u64)> {
    let (path, flags) = match nr {
        nr::OPEN => (args[0], args[1]),
        nr::OPENAT => (args[1], args[2]),
        _ => {
            // openat2(dirfd, path, how, size): `how` starts with the flags.
            let mut how = [0u8; 8];
            cur::read_user(args[2], &mut how).ok()?;
            (args[1], u64::from_ne_bytes(how))
        }
    };
    // Read-only, and nothing that would create or change a file or want a directory (those
    // go home, whose kernel answers them as for any file of /proc).
    if flags & (O_ACCMODE | O_CREAT | O_TRUNC | O_PATH | O_DIRECTORY) != 0 {
        return None;
    }
    let mut buf = [0u8; ownproc::MAX_PATH];
    let n = cur::read_user_str(path, &mut buf).ok()?;
    let file = ownproc::own_proc_file(&buf[..n.checked_sub(1)?], home)?;
    Some((file, flags))
}

/// The call being entered names `pid` in each of its arguments `at` instead of what it named
/// (a process of the guest's home, by the pid it knows, becomes the guest here).
fn rename_in_call(at: &[usize], pid: u64) {
    let mut regs = cur::user_regs();
    let mut args = regs.args();
    for &i in at {
        args[i] = pid;
    }
    regs.set_args(&args);
    cur::set_user_regs(&regs);
}

/// A guest's call that runs here names a process (`at`): it may name only itself, by its home
/// pid or 0, and then names 0 (the calling task here); any other pid gets `ESRCH`, so that a
/// guest learns nothing of the host's processes. An unreadable `capget` header is left to the
/// kernel (`EFAULT`).
fn own_process_only(g: &Guest, at: syscalls::PidAt, args: [u64; 6]) {
    let home = g.inner.lock().home_pid;
    match at {
        syscalls::PidAt::Arg(i) => match syscalls::own_pid(args[i], home) {
            Some(own) => rename_in_call(&[i], own),
            None => cur::skip_call(syscall_result(ESRCH)),
        },
        syscalls::PidAt::CapHeader => {
            let Some(field) = args[0].checked_add(4) else {
                return;
            };
            let mut pid = [0u8; 4];
            if cur::read_user(field, &mut pid).is_err() {
                return;
            }
            match syscalls::own_pid(u64::from(u32::from_ne_bytes(pid)), home) {
                Some(own) => {
                    if cur::write_user(field, &(own as u32).to_ne_bytes()).is_err() {
                        cur::skip_call(syscall_result(EFAULT));
                    }
                }
                None => cur::skip_call(syscall_result(ESRCH)),
            }
        }
    }
}

/// Forwards the guest's call `nr` to its deputy and waits for the result (task work, in the
/// guest, before it returns to user mode). `spec` is how its arguments go, for calls that are
/// forwarded as they are (the vectored ones are made as another call).
fn guest_forward(mig: &Migrations, g: &Guest, nr: u32, args: [u64; 6], spec: Option<fwd::Spec>) {
    let temp = temporary_mask(nr, &args);
    if let Some(temp) = temp {
        // A signal waiting here that the call's mask lets through interrupts it before it
        // starts, as at home.
        if cur::deliver_under(temp) {
            set_result(nr, -ERESTARTNOHAND);
            return;
        }
    }
    let result = match (nr, spec) {
        (nr::WRITEV, _) => vectored::writev(mig, g, args),
        (nr::READV, _) => vectored::readv(mig, g, args),
        (nr::SENDMSG, _) => vectored::sendmsg(mig, g, args),
        (nr::RECVMSG, _) => vectored::recvmsg(mig, g, args),
        (nr::RT_SIGPENDING, _) => vectored::sigpending(mig, g, args),
        (nr::SENDMMSG | nr::RECVMMSG, _) => vectored::mmsg(mig, g, nr, args),
        (nr::SEMCTL, _) if matches!(args[2] & 0xff, 13 | 17) => vectored::semctl_all(mig, g, args),
        (nr::PREADV | nr::PWRITEV | nr::PREADV2 | nr::PWRITEV2, _) => {
            vectored::positional(mig, g, nr, args)
        }
        (nr::SETRLIMIT | nr::PRLIMIT64, _) => own::prlimit(mig, g, nr, args),
        (nr::GETRUSAGE, Some(spec)) => own::getrusage(mig, g, &spec, args),
        (nr::PRCTL, Some(spec)) if args[0] == syscalls::pr::SET_NAME => {
            own::set_name(mig, g, &spec, args)
        }
        (nr::TIMES, Some(spec)) => own::times(mig, g, &spec, args),
        (nr::PSELECT6, _) if args[5] != 0 => vectored::pselect6(mig, g, args),
        (nr::READ | nr::WRITE | nr::PREAD64 | nr::PWRITE64, Some(spec))
            if args[2] > fwd::MAX_BUF as u64 =>
        {
            forward_whole(mig, g, nr, &spec, args)
        }
        (_, Some(spec)) => forward_call(mig, g, nr, &spec, args, None, false).map(|(r, _)| r),
        (_, None) => Err(enosys()),
    };
    let result = result.unwrap_or_else(syscall_result);
    if result == -EINTR_NR || result == -ERESTARTNOHAND {
        // Interrupted at home under the call's temporary mask: the signals that did it came
        // here with the result, and are delivered under that mask too, as at home.
        if let Some(temp) = temp {
            cur::deliver_under(temp);
        }
    }
    set_result(nr, result);
}

/// `EINTR`, and `ERESTARTNOHAND`, what a call interrupted by a signal returns to be restarted
/// unless a handler runs.
const EINTR_NR: i64 = 4;
const ERESTARTNOHAND: i64 = 514;

/// The temporary signal mask call `nr` with `args` is made under, read from the guest's
/// memory: `pselect6`'s (through its `{mask, size}` pair), `ppoll`'s, `epoll_pwait`'s and
/// `epoll_pwait2`'s, when the call has one of a mask's size.
fn temporary_mask(nr: u32, args: &[u64; 6]) -> Option<u64> {
    let word = |at: u64| {
        let mut b = [0u8; 8];
        cur::read_user(at, &mut b).ok()?;
        Some(u64::from_ne_bytes(b))
    };
    let (at, size) = match nr {
        nr::PSELECT6 if args[5] != 0 => (word(args[5])?, word(args[5].checked_add(8)?)?),
        nr::PPOLL => (args[3], args[4]),
        nr::EPOLL_PWAIT | nr::EPOLL_PWAIT2 => (args[4], args[5]),
        _ => return None,
    };
    if at == 0 || size != 8 {
        return None;
    }
    word(at)
}
