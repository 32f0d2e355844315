// SPDX-License-Identifier: GPL-2.0

//! System calls the standard library does not offer (`omctl` has no C library binding): the
//! guest stub's (`guest.rs`) and a restart's (`ckpt.rs`).

/// Makes system call `nr` with arguments `a`, `b`, `c` (the fourth and fifth zero); returns
/// its result (negative: `-errno`).
///
/// # Safety
///
/// Every argument that the call `nr` takes as a pointer must be valid for what that call does
/// with it (a buffer of the length given, a NUL-terminated string), until it returns; and the
/// call must not change memory or state that Rust code of this program relies on.
pub(crate) unsafe fn syscall(nr: usize, a: usize, b: usize, c: usize) -> isize {
    // SAFETY: the caller's contract, with a zero fourth argument (prctl checks it).
    unsafe { syscall4(nr, a, b, c, 0) }
}

const SYS_WRITE: usize = 1;
const SYS_OPEN: usize = 2;
const SYS_CLOSE: usize = 3;
const SYS_LSEEK: usize = 8;
const SYS_DUP2: usize = 33;
const SYS_FCNTL: usize = 72;
const SYS_MEMFD_CREATE: usize = 319;
const SYS_SETITIMER: usize = 38;
const F_DUPFD: usize = 0;

/// `open(path, flags)`: a new descriptor or `-errno`.
pub(crate) fn open(path: &std::ffi::CStr, flags: u32) -> isize {
    // SAFETY: `path` is NUL-terminated and outlives the call, which only reads it.
    unsafe { syscall(SYS_OPEN, path.as_ptr() as usize, flags as usize, 0) }
}

/// `close(fd)`.
pub(crate) fn close(fd: i32) -> isize {
    // SAFETY: no pointer argument. Descriptors that Rust objects own are not passed here by
    // the callers (they close only numbers they took over from `into_raw_fd` or found unused).
    unsafe { syscall(SYS_CLOSE, fd as usize, 0, 0) }
}

/// `lseek(fd, pos, SEEK_SET)`.
pub(crate) fn seek(fd: i32, pos: u64) -> isize {
    // SAFETY: no pointer argument.
    unsafe { syscall(SYS_LSEEK, fd as usize, pos as usize, 0) }
}

/// `dup2(old, new)`.
pub(crate) fn dup2(old: i32, new: i32) -> isize {
    // SAFETY: no pointer argument; `new` is a number the caller took over (see `close`).
    unsafe { syscall(SYS_DUP2, old as usize, new as usize, 0) }
}

/// `fcntl(fd, F_DUPFD, min)`: a copy of `fd` at the lowest free number from `min`.
pub(crate) fn dup_at_least(fd: i32, min: i32) -> isize {
    // SAFETY: no pointer argument.
    unsafe { syscall(SYS_FCNTL, fd as usize, F_DUPFD, min as usize) }
}

/// One `write(fd, data)` call.
pub(crate) fn write(fd: i32, data: &[u8]) -> isize {
    // SAFETY: `data` is `data.len()` readable bytes that outlive the call.
    unsafe { syscall(SYS_WRITE, fd as usize, data.as_ptr() as usize, data.len()) }
}

/// `memfd_create(name, 0)`: a new descriptor of an anonymous file in memory (inherited by
/// children: no close-on-exec), or `-errno`.
pub(crate) fn memfd(name: &std::ffi::CStr) -> isize {
    // SAFETY: `name` is NUL-terminated and outlives the call, which only reads it.
    unsafe { syscall(SYS_MEMFD_CREATE, name.as_ptr() as usize, 0, 0) }
}

/// `setitimer(which, ...)`: the timer fires in `value_us` microseconds (0: disarmed), then
/// every `interval_us`.
pub(crate) fn setitimer(which: u32, value_us: u64, interval_us: u64) -> isize {
    // `struct itimerval`: interval, then value, each seconds and microseconds (cut to what a
    // `time_t` holds).
    let tv = |us: u64| {
        [
            (us / 1_000_000).min(i64::MAX as u64) as i64,
            (us % 1_000_000) as i64,
        ]
    };
    let [a, b] = tv(interval_us);
    let [c, d] = tv(value_us);
    let it: [i64; 4] = [a, b, c, d];
    // SAFETY: `it` is a readable `struct itimerval` that outlives the call; no old value is
    // asked for (NULL).
    unsafe { syscall(SYS_SETITIMER, which as usize, it.as_ptr() as usize, 0) }
}

const SYS_RT_SIGPROCMASK: usize = 14;
const SYS_IOCTL: usize = 16;
const SYS_GETPID: usize = 39;
const SYS_WAIT4: usize = 61;
const SYS_KILL: usize = 62;
const SYS_SETPGID: usize = 109;
const SYS_GETPGRP: usize = 111;
const SYS_SETSID: usize = 112;
const TIOCGPGRP: usize = 0x540f;
const TIOCSPGRP: usize = 0x5410;
const SIG_BLOCK: usize = 0;
const SIG_SETMASK: usize = 2;
/// `SIGTTOU`'s bit in a signal mask.
const TTOU_BIT: u64 = 1 << (22 - 1);

/// `getpid()`.
pub(crate) fn getpid() -> i32 {
    // SAFETY: no argument.
    unsafe { syscall(SYS_GETPID, 0, 0, 0) as i32 }
}

/// `getpgrp()`.
pub(crate) fn getpgrp() -> i32 {
    // SAFETY: no argument.
    unsafe { syscall(SYS_GETPGRP, 0, 0, 0) as i32 }
}

/// `setpgid(0, 0)`: the calling process leads a new process group.
pub(crate) fn own_group() -> isize {
    // SAFETY: no pointer argument.
    unsafe { syscall(SYS_SETPGID, 0, 0, 0) }
}

/// `setsid()`: the calling process leads a new session, with no controlling terminal.
pub(crate) fn setsid() -> isize {
    // SAFETY: no argument.
    unsafe { syscall(SYS_SETSID, 0, 0, 0) }
}

/// `tcgetpgrp(fd)`: the foreground process group of terminal `fd`, or `-errno` (not a
/// terminal, or not the caller's).
pub(crate) fn tcgetpgrp(fd: i32) -> i32 {
    let mut pgrp: i32 = 0;
    // SAFETY: TIOCGPGRP writes one `pid_t` through the pointer, to `pgrp`, alive for the call.
    let r = unsafe { syscall(SYS_IOCTL, fd as usize, TIOCGPGRP, (&raw mut pgrp) as usize) };
    if r < 0 {
        r as i32
    } else {
        pgrp
    }
}

/// `tcsetpgrp(fd, pgrp)` with `SIGTTOU` blocked meanwhile, so that a background group may
/// hand the terminal over (as a shell does).
pub(crate) fn tcsetpgrp(fd: i32, pgrp: i32) -> isize {
    let block: u64 = TTOU_BIT;
    let mut old: u64 = 0;
    // SAFETY: the masks are 8-byte values alive for the calls (the kernel's sigset size);
    // `old` is written, then read back to restore the caller's mask.
    unsafe {
        syscall4(
            SYS_RT_SIGPROCMASK,
            SIG_BLOCK,
            (&raw const block) as usize,
            (&raw mut old) as usize,
            8,
        );
        let p: i32 = pgrp;
        let r = syscall(SYS_IOCTL, fd as usize, TIOCSPGRP, (&raw const p) as usize);
        syscall4(
            SYS_RT_SIGPROCMASK,
            SIG_SETMASK,
            (&raw const old) as usize,
            0,
            8,
        );
        r
    }
}

/// `kill(pid, sig)`.
pub(crate) fn kill(pid: i32, sig: i32) -> isize {
    // SAFETY: no pointer argument.
    unsafe { syscall(SYS_KILL, pid as usize, sig as usize, 0) }
}

/// `wait4(pid, &status, WUNTRACED, NULL)`: the pid and the wait status, or `-errno`.
pub(crate) fn wait_untraced(pid: i32) -> Result<(i32, i32), isize> {
    const WUNTRACED: usize = 2;
    let mut status: i32 = 0;
    // SAFETY: the status is written through the pointer, to `status`, alive for the call; no
    // resource usage is asked for (the fourth argument, r10, is zero).
    let r = unsafe {
        syscall(
            SYS_WAIT4,
            pid as usize,
            (&raw mut status) as usize,
            WUNTRACED,
        )
    };
    if r < 0 {
        Err(r)
    } else {
        Ok((r as i32, status))
    }
}

/// [`syscall`] with a fourth argument.
///
/// # Safety
///
/// As for [`syscall`].
unsafe fn syscall4(nr: usize, a: usize, b: usize, c: usize, d: usize) -> isize {
    let ret: isize;
    // SAFETY: a plain `syscall` instruction with the x86-64 Linux convention: number in rax,
    // arguments in rdi, rsi, rdx and r10 (the fifth, r8, zero), rcx and r11 clobbered by the
    // instruction; what the call does with its arguments is the caller's contract.
    unsafe {
        std::arch::asm!(
            "syscall",
            inlateout("rax") nr as isize => ret,
            in("rdi") a,
            in("rsi") b,
            in("rdx") c,
            in("r10") d,
            in("r8") 0usize,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack)
        );
    }
    ret
}
