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
    let ret: isize;
    // SAFETY: a plain `syscall` instruction with the x86-64 Linux convention: number in rax,
    // arguments in rdi, rsi and rdx (the fourth and fifth, r10 and r8, zero: prctl checks
    // them), rcx and r11 clobbered by the instruction; what the call does with its arguments
    // is the caller's contract.
    unsafe {
        std::arch::asm!(
            "syscall",
            inlateout("rax") nr as isize => ret,
            in("rdi") a,
            in("rsi") b,
            in("rdx") c,
            in("r10") 0usize,
            in("r8") 0usize,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack)
        );
    }
    ret
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
