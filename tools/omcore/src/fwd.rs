// SPDX-License-Identifier: GPL-2.0

//! Forwarded system calls: what each argument of a home call is, and the request and reply that
//! carry a call from a guest to its deputy and its result back.
//!
//! A guest's home call travels as a `Syscall` request: the call's number, its six arguments as
//! the guest passed them, and the contents of its input buffers (strings and buffers the kernel
//! would read). The deputy copies the inputs into its own memory, points the arguments there,
//! makes the call in its own context, and answers with a `SyscallReply`: the result and the
//! contents of the output buffers, which the guest writes to its own pointers. A pointer argument
//! that is NULL stays NULL. Buffers longer than [`MAX_BUF`] are cut to it by the guest, which
//! lowers the length argument to match (a read or write then transfers less, as it may).
//!
//! Payloads (big-endian):
//!
//! | field    | size | request                         | reply                           |
//! | -------- | ---- | ------------------------------- | ------------------------------- |
//! | mig_id   | 4    | the migration                   | the migration                   |
//! | seq      | 4    | the guest's call counter        | the request's                   |
//! | nr/res   | 8    | call number                     | result (i64, -errno on failure) |
//! | args     | 48   | six arguments                   | - (absent)                      |
//! | nbuf     | 1    | input buffers that follow       | output buffers that follow      |
//! | buffers  | ...  | (arg index u8, len u32, bytes)* | (arg index u8, len u32, bytes)* |

use super::msg::PayloadError;
use super::packed;
use super::syscalls::{self, nr, pr, PrctlPlace};

/// Largest buffer a forwarded call carries.
pub const MAX_BUF: usize = 256 * 1024;

/// Calls of the module's own that a guest's kernel side makes of its deputy, never a program
/// (the guest's hook refuses these numbers as it refuses any number it does not know). They
/// serve the areas whose pages come from a file at home (`image::VmaKind::HomeFile`).
pub mod home {
    /// `(fd, prot, shared)`: the deputy keeps a reference to the regular file open as `fd`
    /// and answers its id (`1..=image::MAX_HOME_FILES`), or the error a mapping of it gets
    /// (`ENODEV`: not a regular file, which the process maps at home).
    pub const MAP_FILE: u32 = 0x4f4d_0001;
    /// `(id, offset, len, buf)`: `len` bytes of file `id` from byte `offset`, both page
    /// multiples, as a `pread` does (fewer at the end of the file).
    pub const READ_FILE: u32 = 0x4f4d_0002;
    /// Most bytes one `READ_FILE` carries.
    pub const MAX_READ: u64 = 16 * 4096;
}

/// Most operations of a forwarded `semop` or `semtimedop` (the kernel's own limit, `SEMOPM`,
/// is lower unless raised).
pub const MAX_SEMOPS: u64 = 4096;

/// Most semaphores in a set whose values a forwarded `semctl` `GETALL` or `SETALL` carries (the
/// kernel's `SEMMSL`).
pub const MAX_SEMS: u64 = 32000;

/// The longest text of a forwarded `msgsnd` or `msgrcv`: its message (the type, 8 bytes, and
/// the text) fits one forwarded buffer. The kernel's default limit (`msgmax`) is 8192.
pub const MAX_MSG: u64 = MAX_BUF as u64 - 8;
/// Longest string argument, with its NUL.
pub const MAX_STR: usize = 4096;
/// Largest request or reply payload.
pub const MAX_PAYLOAD: usize = 80 + 2 * MAX_BUF + 6 * (5 + MAX_STR);

/// How long a buffer argument is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Len {
    /// A fixed size (a structure).
    Fixed(u32),
    /// The value of argument `i` (bytes).
    Arg(u8),
    /// The value of argument `i` times `n` (an array).
    ArgTimes(u8, u32),
    /// The value of argument `i` plus `n` (a header of `n` bytes and as many as the argument
    /// says).
    ArgPlus(u8, u32),
    /// An `fd_set` for the number of descriptors in argument `i`: 8 bytes per 64.
    FdSet(u8),
    /// The upper half of argument `i` (see [`Carry::High`]).
    High(u8),
}

/// What one argument of a forwarded call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arg {
    /// A number (or unused).
    Int,
    /// A NUL-terminated string the call reads.
    Str,
    /// A buffer the call reads.
    In(Len),
    /// A buffer the call writes, wholly when it succeeds.
    Out(Len),
    /// A buffer the call writes, as many bytes as it returns (as many elements, for an
    /// [`Len::ArgTimes`] array; the header and as many bytes, for [`Len::ArgPlus`]).
    OutRet(Len),
    /// A buffer the call reads and writes.
    InOut(Len),
}

impl Arg {
    /// Whether the guest sends this argument's contents.
    pub fn is_input(self) -> bool {
        matches!(self, Arg::Str | Arg::In(_) | Arg::InOut(_))
    }

    /// Whether the deputy sends this argument's contents back.
    pub fn is_output(self) -> bool {
        matches!(self, Arg::Out(_) | Arg::OutRet(_) | Arg::InOut(_))
    }

    /// How long the buffer is; `None` for numbers and strings.
    fn length(self) -> Option<Len> {
        match self {
            Arg::In(l) | Arg::Out(l) | Arg::OutRet(l) | Arg::InOut(l) => Some(l),
            Arg::Int | Arg::Str => None,
        }
    }

    /// The buffer's length for arguments `args`, cut to [`MAX_BUF`]; `None` for numbers and
    /// strings.
    pub fn len(self, args: &[u64; 6]) -> Option<usize> {
        let n = match self.length()? {
            Len::Fixed(n) => u64::from(n),
            Len::Arg(i) => args[usize::from(i)],
            Len::ArgTimes(i, n) => args[usize::from(i)].saturating_mul(u64::from(n)),
            Len::ArgPlus(i, n) => args[usize::from(i)].saturating_add(u64::from(n)),
            Len::FdSet(i) => args[usize::from(i)].div_ceil(64).saturating_mul(8),
            Len::High(i) => args[usize::from(i)] >> 32,
        };
        Some(n.min(MAX_BUF as u64) as usize)
    }

    /// How many bytes of this output buffer, `len` long, the call wrote when it returned
    /// `result` (>= 0).
    pub fn written(self, len: usize, result: u64) -> usize {
        match self {
            Arg::OutRet(Len::ArgTimes(_, n)) => result.saturating_mul(u64::from(n)),
            Arg::OutRet(Len::ArgPlus(_, n)) => result.saturating_add(u64::from(n)),
            Arg::OutRet(_) => result,
            _ => return len,
        }
        .min(len as u64) as usize
    }

    /// The largest value of the count argument this buffer's length depends on such that the
    /// buffer fits in [`MAX_BUF`]: `Some((index, limit))` for a length taken from an argument.
    /// The guest lowers a larger count to it (a read, a write or an `epoll_wait` then does less,
    /// as it may).
    pub fn count_limit(self) -> Option<(usize, u64)> {
        match self.length()? {
            Len::Arg(i) => Some((usize::from(i), MAX_BUF as u64)),
            Len::ArgTimes(i, n) => Some((usize::from(i), (MAX_BUF / n.max(1) as usize) as u64)),
            // A message is not cut: a call whose message would not fit is not forwarded.
            Len::ArgPlus(..) | Len::Fixed(_) | Len::FdSet(_) | Len::High(_) => None,
        }
    }
}

/// The arguments of a forwarded call.
pub type Spec = [Arg; 6];

const fn s(a: &[Arg]) -> Spec {
    let mut v = [Arg::Int; 6];
    let mut i = 0;
    while i < a.len() {
        v[i] = a[i];
        i += 1;
    }
    v
}

use Arg::{In, InOut, Int, Out, OutRet, Str};
use Len::{Arg as A, ArgPlus as AP, ArgTimes as AT, FdSet as FDS, Fixed as F};

/// `struct stat` on x86-64.
const STAT: Len = F(144);
/// `struct termios` as the kernel's tty ioctls take it.
const TERMIOS: Len = F(36);
/// `struct termio` (the older terminal settings).
const TERMIO: Len = F(18);
/// `struct ifreq`: an interface's name and one value.
const IFREQ: Len = F(40);

/// Largest address or option a call returns through a length pointer.
pub const MAX_RETURNED: u64 = 4096;

/// Where a call that returns an address carries its buffer's length (see [`returned_len`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carry {
    /// In argument `i`, which the call does not use.
    Arg(usize),
    /// In the upper half of argument `i`, a 32-bit value of which the kernel reads only the
    /// lower half.
    High(usize),
}

impl Carry {
    /// Puts `len`, cut to [`MAX_RETURNED`], where this says.
    pub fn put(self, args: &mut [u64; 6], len: u64) {
        let len = len.min(MAX_RETURNED);
        match self {
            Carry::Arg(i) => args[i] = len,
            Carry::High(i) => args[i] = (args[i] & 0xffff_ffff) | len << 32,
        }
    }
}

/// Calls that return an address (or an option) into a buffer whose length is a `u32` the call
/// reads and updates through a pointer: `(pointer argument, where the length goes)`. The guest
/// reads that length before forwarding and carries it, cut to [`MAX_RETURNED`], in an argument
/// the call does not use (or the unused upper half of one), so that the buffer's length is an
/// argument like any other; the buffer travels both ways, so bytes past what the call writes come
/// back unchanged.
pub fn returned_len(nr: u32, args: &[u64; 6]) -> Option<(usize, Carry)> {
    match nr {
        // accept(fd, addr, len), accept4(fd, addr, len, flags): spare argument 4.
        nr::ACCEPT | nr::ACCEPT4 if args[1] != 0 && args[2] != 0 => Some((2, Carry::Arg(4))),
        // recvfrom(fd, buf, size, flags, addr, len): all six used; flags is 32 bits.
        nr::RECVFROM if args[4] != 0 && args[5] != 0 => Some((5, Carry::High(3))),
        // getsockname, getpeername (fd, addr, len): spare argument 3.
        nr::GETSOCKNAME | nr::GETPEERNAME => Some((2, Carry::Arg(3))),
        // getsockopt(fd, level, name, value, len): spare argument 5.
        nr::GETSOCKOPT => Some((4, Carry::Arg(5))),
        _ => None,
    }
}

/// The handler a deputy is given for a signal its guest catches: neither `SIG_DFL` (0) nor
/// `SIG_IGN` (1). The deputy never runs a handler (it takes signals off itself and forwards
/// them), so the value only makes the signal's disposition at home the guest's.
pub const MIRRORED_HANDLER: u64 = 2;

/// `rt_sigprocmask`'s `how` that replaces the mask: the only form forwarded, by which a guest
/// tells its deputy its blocked mask (`(SIG_SETMASK, mask, NULL, 8)`).
pub const SIG_SETMASK: u64 = 2;

/// A native-endian word of a `struct kernel_sigaction` (handler 0, flags 8, restorer 16, mask 24).
fn action_word(act: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&act[at..at + 8]);
    u64::from_ne_bytes(w)
}

/// The action (`struct kernel_sigaction`: handler, flags, restorer, mask) a deputy takes when its
/// guest sets `act` with `rt_sigaction`: the same disposition (default, ignored, or caught, see
/// [`MIRRORED_HANDLER`]), flags and mask, no restorer. So a signal sent to the home pid is judged
/// at home as the guest would judge it: one the guest catches does not kill the deputy, one it
/// ignores is dropped, and `SIGCHLD`'s `SIG_IGN` or `SA_NOCLDWAIT` reap the home's children.
pub fn mirrored_action(act: &[u8; 32]) -> [u8; 32] {
    let mut m = *act;
    let handler = action_word(act, 0);
    let class = if handler <= 1 {
        handler
    } else {
        MIRRORED_HANDLER
    };
    m[..8].copy_from_slice(&class.to_ne_bytes());
    m[16..24].fill(0);
    m
}

/// How the arguments of home call `nr` are forwarded; `None` for calls that are not forwarded
/// (yet). `args` matter for `ioctl` and `fcntl`, whose third argument depends on the command,
/// and for the calls of [`returned_len`], whose spare argument holds the buffer's length.
pub fn spec(nr: u32, args: &[u64; 6]) -> Option<Spec> {
    Some(match nr {
        home::MAP_FILE => s(&[Int, Int, Int]),
        home::READ_FILE
            if args[2] <= home::MAX_READ && args[2] % 4096 == 0 && args[1] % 4096 == 0 =>
        {
            s(&[Int, Int, Int, OutRet(A(2))])
        }
        nr::READ => s(&[Int, OutRet(A(2)), Int]),
        nr::WRITE => s(&[Int, In(A(2)), Int]),
        nr::OPEN => s(&[Str, Int, Int]),
        nr::CLOSE => s(&[Int]),
        nr::STAT | nr::LSTAT => s(&[Str, Out(STAT)]),
        nr::FSTAT => s(&[Int, Out(STAT)]),
        nr::POLL => s(&[InOut(AT(1, 8)), Int, Int]),
        nr::LSEEK => s(&[Int, Int, Int]),
        nr::IOCTL => s(&[Int, Int, ioctl_arg(args[1])?]),
        nr::PREAD64 => s(&[Int, OutRet(A(2)), Int, Int]),
        nr::PWRITE64 => s(&[Int, In(A(2)), Int, Int]),
        nr::ACCESS => s(&[Str, Int]),
        // select: three fd_sets and a struct timeval, all updated.
        nr::SELECT => s(&[
            Int,
            InOut(FDS(0)),
            InOut(FDS(0)),
            InOut(FDS(0)),
            InOut(F(16)),
        ]),
        nr::GETITIMER => s(&[Int, Out(F(32))]),
        // The CPU clocks of the process (read once per host) and of other processes.
        nr::CLOCK_GETTIME => s(&[Int, Out(F(16))]),
        // Sockets. Calls that return an address through a length pointer (accept with an
        // address, recvfrom with one, getsockname, getsockopt...) are not forwarded yet.
        nr::SOCKET | nr::LISTEN => s(&[Int, Int, Int]),
        nr::CONNECT | nr::BIND => s(&[Int, In(A(2)), Int]),
        nr::ACCEPT | nr::ACCEPT4 if args[1] == 0 && args[2] == 0 => s(&[Int, Int, Int, Int]),
        // The same with an address, and getsockname, getpeername, getsockopt (see
        // `returned_len`: the spare argument holds the buffer's length).
        nr::ACCEPT | nr::ACCEPT4 if args[4] <= MAX_RETURNED => {
            s(&[Int, InOut(A(4)), InOut(F(4)), Int, Int])
        }
        nr::GETSOCKNAME | nr::GETPEERNAME if args[3] <= MAX_RETURNED => {
            s(&[Int, InOut(A(3)), InOut(F(4)), Int])
        }
        nr::GETSOCKOPT if args[5] <= MAX_RETURNED => {
            s(&[Int, Int, Int, InOut(A(5)), InOut(F(4)), Int])
        }
        nr::SENDTO => s(&[Int, In(A(2)), Int, Int, In(A(5)), Int]),
        nr::RECVFROM if args[4] == 0 && args[5] == 0 => s(&[Int, OutRet(A(2)), Int, Int]),
        // recvfrom with an address, its length in flags' upper half (`returned_len`).
        nr::RECVFROM if args[3] >> 32 <= MAX_RETURNED => s(&[
            Int,
            OutRet(A(2)),
            Int,
            Int,
            InOut(Len::High(3)),
            InOut(F(4)),
        ]),
        nr::SHUTDOWN => s(&[Int, Int]),
        nr::SOCKETPAIR => s(&[Int, Int, Int, Out(F(8))]),
        nr::SETSOCKOPT => s(&[Int, Int, Int, In(A(4)), Int]),
        nr::ALARM => s(&[Int]),
        nr::SETITIMER => s(&[Int, In(F(32)), Out(F(32))]),
        nr::PIPE => s(&[Out(F(8))]),
        nr::DUP | nr::DUP2 => s(&[Int, Int]),
        nr::WAIT4 => s(&[Int, Out(F(4)), Int, Out(F(144))]),
        nr::KILL => s(&[Int, Int]),
        // To another process or thread (to itself, the call is made on the remote: `hooks.rs`).
        nr::TKILL => s(&[Int, Int]),
        nr::TGKILL => s(&[Int, Int, Int]),
        nr::RT_SIGQUEUEINFO => s(&[Int, Int, In(F(128))]),
        nr::RT_TGSIGQUEUEINFO => s(&[Int, Int, Int, In(F(128))]),
        nr::UNAME => s(&[Out(F(390))]),
        nr::FCNTL => s(&[Int, Int, fcntl_arg(args[1])]),
        nr::FSYNC | nr::FDATASYNC => s(&[Int]),
        nr::FTRUNCATE => s(&[Int, Int]),
        nr::GETDENTS | nr::GETDENTS64 => s(&[Int, OutRet(A(2)), Int]),
        nr::GETCWD => s(&[OutRet(A(1)), Int]),
        nr::CHDIR | nr::RMDIR | nr::UNLINK => s(&[Str]),
        nr::FCHDIR => s(&[Int]),
        nr::RENAME | nr::LINK | nr::SYMLINK => s(&[Str, Str]),
        nr::MKDIR | nr::CREAT | nr::CHMOD => s(&[Str, Int]),
        nr::TRUNCATE => s(&[Str, Int]),
        nr::READLINK => s(&[Str, OutRet(A(2)), Int]),
        nr::FCHMOD => s(&[Int, Int]),
        nr::CHOWN | nr::LCHOWN => s(&[Str, Int, Int]),
        nr::FCHOWN => s(&[Int, Int, Int]),
        nr::UMASK => s(&[Int]),
        nr::SYSINFO => s(&[Out(F(112))]),
        nr::GETUID
        | nr::GETGID
        | nr::GETEUID
        | nr::GETEGID
        | nr::GETPPID
        | nr::GETPGRP
        | nr::SETSID => s(&[]),
        nr::SETPGID => s(&[Int, Int]),
        nr::GETGROUPS => s(&[Int, OutRet(AT(0, 4))]), // bytes = 4 x count
        nr::GETRESUID | nr::GETRESGID => s(&[Out(F(4)), Out(F(4)), Out(F(4))]),
        nr::GETPGID | nr::GETSID => s(&[Int]),
        nr::OPENAT => s(&[Int, Str, Int, Int]),
        nr::MKDIRAT => s(&[Int, Str, Int]),
        nr::NEWFSTATAT => s(&[Int, Str, Out(STAT), Int]),
        nr::UNLINKAT => s(&[Int, Str, Int]),
        nr::RENAMEAT => s(&[Int, Str, Int, Str]),
        nr::SYMLINKAT => s(&[Str, Int, Str]),
        nr::READLINKAT => s(&[Int, Str, OutRet(A(3)), Int]),
        nr::FCHMODAT | nr::FACCESSAT => s(&[Int, Str, Int]),
        // rt_sigaction runs where the process runs; the guest also sends its deputy the
        // action's disposition (`mirrored_action`), with no old action and an 8-byte mask.
        nr::RT_SIGACTION if args[2] == 0 && args[3] == 8 => s(&[Int, In(F(32)), Int, Int]),
        // rt_sigprocmask runs where the process runs; the guest tells its deputy its new mask
        // with this form alone: SIG_SETMASK, an 8-byte mask, no old mask.
        nr::RT_SIGPROCMASK if args[0] == SIG_SETMASK && args[2] == 0 && args[3] == 8 => {
            s(&[Int, In(F(8)), Int, Int])
        }
        nr::EPOLL_CREATE | nr::EPOLL_CREATE1 => s(&[Int]),
        // POSIX timers live at home (their signals are forwarded): timer_create(clock,
        // sigevent, id), timer_settime(id, flags, new, old), timer_gettime(id, value),
        // timer_getoverrun(id), timer_delete(id).
        nr::TIMER_CREATE => s(&[Int, In(F(64)), Out(F(4))]),
        nr::TIMER_SETTIME => s(&[Int, Int, In(F(32)), Out(F(32))]),
        nr::TIMER_GETTIME => s(&[Int, Out(F(32))]),
        nr::TIMER_GETOVERRUN | nr::TIMER_DELETE => s(&[Int]),
        // timerfd_create(clock, flags), timerfd_settime(fd, flags, new, old),
        // timerfd_gettime(fd, value), eventfd(count), eventfd2(count, flags).
        nr::TIMERFD_CREATE | nr::EVENTFD2 => s(&[Int, Int]),
        nr::TIMERFD_SETTIME => s(&[Int, Int, In(F(32)), Out(F(32))]),
        nr::TIMERFD_GETTIME => s(&[Int, Out(F(32))]),
        nr::EVENTFD => s(&[Int]),
        // epoll_wait(epfd, events, maxevents, timeout): 12-byte events, as many as it returns.
        nr::EPOLL_WAIT => s(&[Int, OutRet(AT(2, 12)), Int, Int]),
        nr::EPOLL_CTL => s(&[Int, Int, Int, In(F(12))]),
        // epoll_pwait: the same with a signal mask of argument 5's size; epoll_pwait2 with a
        // timespec for the timeout.
        nr::EPOLL_PWAIT => s(&[Int, OutRet(AT(2, 12)), Int, Int, In(A(5)), Int]),
        nr::EPOLL_PWAIT2 => s(&[Int, OutRet(AT(2, 12)), Int, In(F(16)), In(A(5)), Int]),
        // pselect6 without a signal mask (what the C library's `select` makes): three fd_sets
        // and a timespec, all updated. (The guest drops a mask argument that holds no mask.)
        nr::PSELECT6 if args[5] == 0 => s(&[
            Int,
            InOut(FDS(0)),
            InOut(FDS(0)),
            InOut(FDS(0)),
            InOut(F(16)),
        ]),
        // pselect6 with a signal mask: the guest packs `{mask pointer, size}` and the mask
        // into one buffer whose pointer the deputy sets (`packed`).
        nr::PSELECT6 => s(&[
            Int,
            InOut(FDS(0)),
            InOut(FDS(0)),
            InOut(FDS(0)),
            InOut(F(16)),
            In(F(packed::MASK_PACK as u32)),
        ]),
        // sendmsg and recvmsg with control messages: the message, its address, its control
        // buffer and its data packed into one buffer (`packed`) of argument 3's length (an
        // argument neither call uses); the deputy sets the pointers inside it. (Without control
        // messages they go as sendto and recvfrom: `vectored.rs`.)
        nr::SENDMSG if args[3] <= MAX_BUF as u64 => s(&[Int, In(A(3)), Int, Int]),
        nr::RECVMSG if args[3] <= MAX_BUF as u64 => s(&[Int, InOut(A(3)), Int, Int]),
        // signalfd(fd, mask, size), signalfd4(..., flags): the descriptor is the home's and
        // reads the signals waiting there, which are those the process blocks.
        nr::SIGNALFD => s(&[Int, In(A(2)), Int]),
        nr::SIGNALFD4 => s(&[Int, In(A(2)), Int, Int]),
        // rt_sigtimedwait(set, info, timeout, size) and rt_sigpending(set, size) for the
        // signals that wait at home (the guest looks at its own first: `hooks.rs`).
        nr::RT_SIGTIMEDWAIT => s(&[In(A(3)), Out(F(128)), In(F(16)), Int]),
        nr::RT_SIGPENDING => s(&[Out(A(1)), Int]),
        // ppoll: the pollfds, a timespec (updated), the signal mask of argument 4's size.
        nr::PPOLL => s(&[InOut(AT(1, 8)), Int, InOut(F(16)), In(A(4)), Int]),
        nr::FALLOCATE => s(&[Int, Int, Int, Int]),
        nr::DUP3 => s(&[Int, Int, Int]),
        nr::PIPE2 => s(&[Out(F(8)), Int]),
        nr::RENAMEAT2 => s(&[Int, Str, Int, Str, Int]),
        nr::STATX => s(&[Int, Str, Int, Int, Out(F(256))]),
        nr::CLOSE_RANGE => s(&[Int, Int, Int]),
        nr::FACCESSAT2 => s(&[Int, Str, Int, Int]),
        // statfs(path, buf), fstatfs(fd, buf): a 120-byte struct statfs.
        nr::STATFS => s(&[Str, Out(F(120))]),
        nr::FSTATFS => s(&[Int, Out(F(120))]),
        nr::FLOCK | nr::INOTIFY_RM_WATCH | nr::IOPRIO_GET | nr::MSGGET => s(&[Int, Int]),
        nr::SYNC | nr::INOTIFY_INIT => s(&[]),
        nr::SYNCFS | nr::INOTIFY_INIT1 => s(&[Int]),
        // inotify's events are read from its descriptor at home, as any read.
        nr::INOTIFY_ADD_WATCH => s(&[Int, Str, Int]),
        nr::FADVISE64 | nr::SYNC_FILE_RANGE => s(&[Int, Int, Int, Int]),
        nr::READAHEAD | nr::IOPRIO_SET | nr::SEMGET | nr::TEE => s(&[Int, Int, Int, Int]),
        nr::MEMFD_CREATE => s(&[Str, Int]),
        nr::MKNOD => s(&[Str, Int, Int]),
        nr::MKNODAT => s(&[Int, Str, Int, Int]),
        nr::FCHOWNAT => s(&[Int, Str, Int, Int, Int]),
        nr::LINKAT => s(&[Int, Str, Int, Str, Int]),
        nr::FCHMODAT2 => s(&[Int, Str, Int, Int]),
        // utimensat(dirfd, path, times[2], flags), utimes(path, times[2]), futimesat(dirfd,
        // path, times[2]), utime(path, times): a NULL path or times stays NULL.
        nr::UTIMENSAT => s(&[Int, Str, In(F(32)), Int]),
        nr::UTIMES => s(&[Str, In(F(32))]),
        nr::FUTIMESAT => s(&[Int, Str, In(F(32))]),
        nr::UTIME => s(&[Str, In(F(16))]),
        // SysV semaphores at home: semop(id, sembufs, nsops), 6-byte sembufs. A count so large
        // that it would be cut is not forwarded (the kernel refuses over SEMOPM anyway).
        nr::SEMOP if args[2] <= MAX_SEMOPS => s(&[Int, In(AT(2, 6)), Int]),
        nr::SEMTIMEDOP if args[2] <= MAX_SEMOPS => s(&[Int, In(AT(2, 6)), Int, In(F(16))]),
        // semctl(id, num, cmd, arg) with the commands whose argument is a number (IPC_RMID,
        // GETPID, GETVAL, GETNCNT, GETZCNT, SETVAL) or a structure: a 104-byte struct
        // semid64_ds for IPC_SET (read), IPC_STAT, SEM_STAT and SEM_STAT_ANY (written), a
        // 40-byte struct seminfo for IPC_INFO and SEM_INFO. GETALL (written) and SETALL (read)
        // take an array of the set's size, which the guest learns first (IPC_STAT) and gives in
        // argument 4, which the call does not use; at most SEMMSL (32000) values.
        nr::SEMCTL if matches!(args[2] & 0xff, 13 | 17) && args[4] > MAX_SEMS => return None,
        nr::SEMCTL => match args[2] & 0xff {
            13 => s(&[Int, Int, Int, Out(AT(4, 2)), Int]),
            17 => s(&[Int, Int, Int, In(AT(4, 2)), Int]),
            0 | 11 | 12 | 14 | 15 | 16 => s(&[Int, Int, Int, Int]),
            1 => s(&[Int, Int, Int, In(F(104))]),
            2 | 18 | 20 => s(&[Int, Int, Int, Out(F(104))]),
            3 | 19 => s(&[Int, Int, Int, Out(F(40))]),
            _ => return None,
        },
        // kcmp(pid1, pid2, type, idx1, idx2) of the home's processes; KCMP_EPOLL_TFD's idx2 is a
        // 12-byte struct kcmp_epoll_slot.
        nr::KCMP => match args[2] {
            0..=6 => s(&[Int, Int, Int, Int, Int]),
            7 => s(&[Int, Int, Int, Int, In(F(12))]),
            _ => return None,
        },
        // The home's kernel log: syslog(type, buf, len), the reads (2, 3, 4) returning as many
        // bytes as they read; the other actions take numbers.
        nr::SYSLOG => match args[0] {
            2..=4 => s(&[Int, OutRet(A(2)), Int]),
            _ => s(&[Int, Int, Int]),
        },
        // Process descriptors of the home's processes: pidfd_open(pid, flags),
        // pidfd_send_signal(pidfd, sig, info, flags) (a 128-byte siginfo, or NULL),
        // pidfd_getfd(pidfd, fd, flags).
        nr::PIDFD_OPEN => s(&[Int, Int]),
        nr::PIDFD_SEND_SIGNAL => s(&[Int, Int, In(F(128)), Int]),
        nr::PIDFD_GETFD => s(&[Int, Int, Int]),
        // Resource limits at home: prlimit64(pid, resource, new, old) (a guest's own new
        // limits are applied on its host as well, and its setrlimit is made as prlimit64).
        nr::PRLIMIT64 => s(&[Int, Int, In(F(16)), Out(F(16))]),
        // prctl at home (`syscalls::prctl_place`): a name to set, a signal number or a flag to
        // read back; the other options made there take numbers.
        nr::PRCTL => match args[0] {
            pr::SET_NAME => s(&[Int, Str]),
            pr::GET_PDEATHSIG | pr::GET_CHILD_SUBREAPER => s(&[Int, Out(F(4))]),
            o if syscalls::prctl_place(o) == Some(PrctlPlace::Home) => {
                s(&[Int, Int, Int, Int, Int])
            }
            _ => return None,
        },
        // Resource usage at home: getrusage(who, usage) (a 144-byte struct rusage), times(buf)
        // (a 32-byte struct tms); a guest adds the CPU time it used away from home to its own.
        nr::GETRUSAGE => s(&[Int, Out(F(144))]),
        nr::TIMES => s(&[Out(F(32))]),
        // SysV message queues at home: msgsnd(id, {type, text[size]}, size, flags) and
        // msgrcv(id, {type, text[size]}, size, type, flags), which writes the type and as many
        // bytes of text as it returns. A size whose message does not fit one call is not
        // forwarded (a message is never cut). msgctl(id, cmd, buf): a 120-byte struct
        // msqid64_ds for IPC_SET (read), IPC_STAT, MSG_STAT and MSG_STAT_ANY (written), a
        // 32-byte struct msginfo for IPC_INFO and MSG_INFO; any other command has no buffer
        // (IPC_RMID), or is refused at home.
        nr::MSGSND if args[2] <= MAX_MSG => s(&[Int, In(AP(2, 8)), Int, Int]),
        nr::MSGRCV if args[2] <= MAX_MSG => s(&[Int, OutRet(AP(2, 8)), Int, Int, Int]),
        nr::MSGCTL => match args[1] {
            1 => s(&[Int, Int, In(F(120))]),
            2 | 11 | 13 => s(&[Int, Int, Out(F(120))]),
            3 | 12 => s(&[Int, Int, Out(F(32))]),
            _ => s(&[Int, Int, Int]),
        },
        // SysV shared memory: made and removed at home (`shmat` brings the process home, where
        // it attaches: `hooks.rs`); shmctl(id, cmd, buf): a 112-byte struct shmid64_ds for
        // IPC_SET (read), IPC_STAT, SHM_STAT and SHM_STAT_ANY (written), a 72-byte struct
        // shminfo64 for IPC_INFO, a 48-byte struct shm_info for SHM_INFO; none for IPC_RMID,
        // SHM_LOCK and SHM_UNLOCK.
        nr::SHMGET => s(&[Int, Int, Int]),
        nr::SHMCTL => match args[1] & 0xff {
            0 | 11 | 12 => s(&[Int, Int, Int]),
            1 => s(&[Int, Int, In(F(112))]),
            2 | 13 | 15 => s(&[Int, Int, Out(F(112))]),
            3 => s(&[Int, Int, Out(F(72))]),
            14 => s(&[Int, Int, Out(F(48))]),
            _ => return None,
        },
        // Extended attributes: a value read as long as the call returns; a value written only
        // whole (the kernel takes at most 64 KiB).
        nr::GETXATTR | nr::LGETXATTR => s(&[Str, Str, OutRet(A(3)), Int]),
        nr::FGETXATTR => s(&[Int, Str, OutRet(A(3)), Int]),
        nr::SETXATTR | nr::LSETXATTR if args[3] <= MAX_BUF as u64 => {
            s(&[Str, Str, In(A(3)), Int, Int])
        }
        nr::FSETXATTR if args[3] <= MAX_BUF as u64 => s(&[Int, Str, In(A(3)), Int, Int]),
        nr::LISTXATTR | nr::LLISTXATTR => s(&[Str, OutRet(A(2)), Int]),
        nr::FLISTXATTR => s(&[Int, OutRet(A(2)), Int]),
        nr::REMOVEXATTR | nr::LREMOVEXATTR => s(&[Str, Str]),
        nr::FREMOVEXATTR => s(&[Int, Str]),
        // Copies between descriptors at home (the data never leaves home): offsets updated.
        nr::COPY_FILE_RANGE | nr::SPLICE => s(&[Int, InOut(F(8)), Int, InOut(F(8)), Int, Int]),
        nr::SENDFILE => s(&[Int, Int, InOut(F(8)), Int]),
        // waitid(which, id, siginfo, options, rusage): the children are the home's.
        nr::WAITID => s(&[Int, Int, Out(F(128)), Int, Out(F(144))]),
        // openat2(dirfd, path, how, size): `how` whole or not at all.
        nr::OPENAT2 if args[3] <= 4096 => s(&[Int, Str, In(A(3)), Int]),
        _ => return None,
    })
}

/// The third argument of `ioctl(fd, cmd, arg)`.
fn ioctl_arg(cmd: u64) -> Option<Arg> {
    let cmd = cmd as u32;
    Some(match cmd {
        0x5401 => Out(TERMIOS),                   // TCGETS
        0x5402..=0x5404 => In(TERMIOS),           // TCSETS, TCSETSW, TCSETSF
        0x540f | 0x5429 | 0x541b => Out(F(4)),    // TIOCGPGRP, TIOCGSID, FIONREAD
        0x5410 | 0x5421 => In(F(4)),              // TIOCSPGRP, FIONBIO
        0x5413 => Out(F(8)),                      // TIOCGWINSZ
        0x5414 => In(F(8)),                       // TIOCSWINSZ
        0x5409 | 0x540b | 0x5450 | 0x5451 => Int, // TCSBRK, TCFLSH, FIONCLEX, FIOCLEX
        // TCXONC, TIOCEXCL, TIOCNXCL, TIOCSCTTY, TIOCNOTTY, TCSBRKP, TIOCSBRK, TIOCCBRK
        0x540a | 0x540c..=0x540e | 0x5422 | 0x5425 | 0x5427 | 0x5428 => Int,
        0x5405 => Out(TERMIO),         // TCGETA
        0x5406..=0x5408 => In(TERMIO), // TCSETA, TCSETAW, TCSETAF
        0x5456 => Out(TERMIOS),        // TIOCGLCKTRMIOS
        0x5457 => In(TERMIOS),         // TIOCSLCKTRMIOS
        0x5412 => In(F(1)),            // TIOCSTI
        // TIOCOUTQ (SIOCOUTQ), TIOCMGET, TIOCGETD, TIOCSERGETLSR, FIGETBSZ, SIOCATMARK
        0x5411 | 0x5415 | 0x5424 | 0x5459 | 0x0002 | 0x8905 => Out(F(4)),
        // TIOCMBIS, TIOCMBIC, TIOCMSET, TIOCSETD, FIOASYNC
        0x5416..=0x5418 | 0x5423 | 0x5452 => In(F(4)),
        0x0001 => InOut(F(4)),         // FIBMAP
        0x5460 => Out(F(8)),           // FIOQSIZE
        0x8906 | 0x8907 => Out(F(16)), // SIOCGSTAMP, SIOCGSTAMPNS
        // A network interface's name, flags, addresses, MTU, hardware address, index or
        // queue length, in a struct ifreq (SIOCGIFNAME ... SIOCGIFTXQLEN).
        0x8910 | 0x8913 | 0x8915 | 0x8917 | 0x8919 | 0x891b | 0x8921 | 0x8927 | 0x8933 | 0x8942 => {
            InOut(IFREQ)
        }
        _ => {
            // Commands with the size and direction encoded (_IOC).
            let size = (cmd >> 16) & 0x3fff;
            match cmd >> 30 {
                1 if size > 0 => In(F(size)),
                2 if size > 0 => Out(F(size)),
                3 if size > 0 => InOut(F(size)),
                _ => return None,
            }
        }
    })
}

/// The third argument of `fcntl(fd, cmd, arg)`.
fn fcntl_arg(cmd: u64) -> Arg {
    match cmd {
        // F_GETLK, F_SETLK, F_SETLKW, F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW: struct flock.
        5..=7 | 36..=38 => InOut(F(32)),
        _ => Int,
    }
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn be64(b: &[u8], at: usize) -> u64 {
    u64::from(be32(b, at)) << 32 | u64::from(be32(b, at + 4))
}

/// Buffers of a request or reply, by argument index.
pub type Bufs<'a> = [Option<&'a [u8]>; 6];

/// Where input buffers are in a request's payload: `(offset, length)` by argument index.
type Ranges = [Option<(u32, u32)>; 6];

/// Reads `(index, len, bytes)` buffers: indices ascending (so each at most once, and one
/// encoding per message), each allowed by `ok`. Returns them and where they are in `p`.
fn read_bufs<'a>(
    p: &'a [u8],
    mut at: usize,
    n: usize,
    ok: impl Fn(usize, &[u8]) -> bool,
) -> Result<(Bufs<'a>, Ranges), PayloadError> {
    let mut bufs: Bufs<'a> = [None; 6];
    let mut ranges: Ranges = [None; 6];
    let mut next = 0;
    for _ in 0..n {
        let hdr_end = at.checked_add(5).ok_or(PayloadError::Length)?;
        let hdr = p.get(at..hdr_end).ok_or(PayloadError::Length)?;
        let i = usize::from(hdr[0]);
        let len = be32(hdr, 1);
        at = hdr_end;
        let end = at.checked_add(len as usize).ok_or(PayloadError::Length)?;
        let data = p.get(at..end).ok_or(PayloadError::Length)?;
        if i >= 6 || i < next || !ok(i, data) {
            return Err(PayloadError::Field("buffer"));
        }
        next = i + 1;
        bufs[i] = Some(data);
        ranges[i] = Some((u32::try_from(at).map_err(|_| PayloadError::Length)?, len));
        at = end;
    }
    if at != p.len() {
        return Err(PayloadError::Length);
    }
    Ok((bufs, ranges))
}

/// Writes `(index, len, bytes)` buffers into `out` from `at`; returns the end.
fn write_bufs(out: &mut [u8], mut at: usize, bufs: &Bufs<'_>) -> Option<usize> {
    for (i, b) in bufs.iter().enumerate() {
        if let Some(b) = b {
            out.get_mut(at..at + 5 + b.len())?;
            out[at] = i as u8;
            out[at + 1..at + 5].copy_from_slice(&(b.len() as u32).to_be_bytes());
            out[at + 5..at + 5 + b.len()].copy_from_slice(b);
            at += 5 + b.len();
        }
    }
    Some(at)
}

/// Buffer lengths by argument index: what a request or reply encoded in place carries
/// ([`encode_request_with`], [`encode_reply_with`]).
pub type Lens = [Option<usize>; 6];

/// The lengths of `bufs`.
pub fn lens_of(bufs: &Bufs<'_>) -> Lens {
    core::array::from_fn(|i| bufs[i].map(<[u8]>::len))
}

/// Encoded size of buffers of lengths `lens`.
fn lens_len(lens: &Lens) -> usize {
    lens.iter()
        .flatten()
        .fold(0usize, |a, n| a.saturating_add(5).saturating_add(*n))
}

/// Encoded size of a request whose buffers have lengths `lens` (saturating).
pub fn request_len(lens: &Lens) -> usize {
    REQUEST_FIXED.saturating_add(lens_len(lens))
}

/// Encoded size of a reply whose buffers have lengths `lens` (saturating).
pub fn reply_len(lens: &Lens) -> usize {
    REPLY_FIXED.saturating_add(lens_len(lens))
}

/// Writes the buffers of lengths `lens` from `at`, each one's bytes by `fill(i, dst)`; `None`
/// when `out` is too short or `fill` gives up (returns `false`).
fn fill_bufs(
    out: &mut [u8],
    mut at: usize,
    lens: &Lens,
    mut fill: impl FnMut(usize, &mut [u8]) -> bool,
) -> Option<usize> {
    for (i, n) in lens.iter().enumerate() {
        let Some(n) = *n else { continue };
        let end = at.checked_add(5)?.checked_add(n)?;
        let b = out.get_mut(at..end)?;
        b[0] = i as u8;
        b[1..5].copy_from_slice(&u32::try_from(n).ok()?.to_be_bytes());
        if !fill(i, &mut b[5..]) {
            return None;
        }
        at = end;
    }
    Some(at)
}

/// Encodes a request into `out` with its buffers written in place: buffer `i` has length
/// `lens[i]` and its bytes are written by `fill(i, dst)`, which may give up (`false`). Returns
/// the length; `None` when `out` is too short or `fill` gave up. The same bytes as
/// [`Request::encode`] of the same buffers.
pub fn encode_request_with(
    out: &mut [u8],
    mig_id: u32,
    seq: u32,
    nr: u32,
    args: &[u64; 6],
    lens: &Lens,
    fill: impl FnMut(usize, &mut [u8]) -> bool,
) -> Option<usize> {
    let f = out.get_mut(..REQUEST_FIXED)?;
    put_head(f, mig_id, seq, u64::from(nr));
    for (i, a) in args.iter().enumerate() {
        f[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_be_bytes());
    }
    f[64] = lens.iter().flatten().count() as u8;
    fill_bufs(out, REQUEST_FIXED, lens, fill)
}

/// Encodes a reply into `out` with its buffers written in place, as [`encode_request_with`]
/// does for a request. The same bytes as [`Reply::encode`] of the same buffers.
pub fn encode_reply_with(
    out: &mut [u8],
    mig_id: u32,
    seq: u32,
    result: i64,
    lens: &Lens,
    fill: impl FnMut(usize, &mut [u8]) -> bool,
) -> Option<usize> {
    let f = out.get_mut(..REPLY_FIXED)?;
    put_head(f, mig_id, seq, result as u64);
    f[16] = lens.iter().flatten().count() as u8;
    fill_bufs(out, REPLY_FIXED, lens, fill)
}

/// Encoded size of buffers.
fn bufs_len(bufs: &Bufs<'_>) -> usize {
    bufs.iter().flatten().map(|b| 5 + b.len()).sum()
}

/// The common head of requests and replies: migration, sequence, number or result.
fn put_head(f: &mut [u8], mig_id: u32, seq: u32, word: u64) {
    f[0..4].copy_from_slice(&mig_id.to_be_bytes());
    f[4..8].copy_from_slice(&seq.to_be_bytes());
    f[8..16].copy_from_slice(&word.to_be_bytes());
}

/// Size of the fixed part of a request.
pub const REQUEST_FIXED: usize = 4 + 4 + 8 + 48 + 1;
/// Size of the fixed part of a reply.
pub const REPLY_FIXED: usize = 4 + 4 + 8 + 1;

/// A forwarded call, guest to deputy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    /// The migration.
    pub mig_id: u32,
    /// The guest's call counter.
    pub seq: u32,
    /// Call number.
    pub nr: u32,
    /// Arguments as the guest passed them (pointer values only matter as NULL or not).
    pub args: [u64; 6],
    /// Input buffers.
    pub bufs: Bufs<'a>,
}

impl<'a> Request<'a> {
    /// Encoded size.
    pub fn encoded_len(&self) -> usize {
        REQUEST_FIXED + bufs_len(&self.bufs)
    }

    /// Encodes into `out` (at least [`Request::encoded_len`] bytes); returns the length.
    pub fn encode(&self, out: &mut [u8]) -> Option<usize> {
        let f = out.get_mut(..REQUEST_FIXED)?;
        put_head(f, self.mig_id, self.seq, u64::from(self.nr));
        for (i, a) in self.args.iter().enumerate() {
            f[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_be_bytes());
        }
        f[64] = self.bufs.iter().flatten().count() as u8;
        write_bufs(out, REQUEST_FIXED, &self.bufs)
    }

    /// Decodes and checks a request: the call is forwardable, every input buffer is there
    /// exactly when its pointer is not NULL, with the length its arguments give, strings
    /// NUL-terminated with no other NUL, and no other buffer.
    pub fn decode(p: &'a [u8]) -> Result<Self, PayloadError> {
        Self::decode_with_spec(p).map(|(r, _)| r)
    }

    /// [`Request::decode`], also giving the spec of the call (see [`spec`]) the request was
    /// checked against.
    pub fn decode_with_spec(p: &'a [u8]) -> Result<(Self, Spec), PayloadError> {
        let (r, bufs) = parse_request(p)?;
        Ok((r.with_bufs(bufs), r.spec))
    }
}

/// A request decoded and checked once, as [`Request::decode`] does, with its input buffers as
/// `(offset, length)` in the payload: kept with the payload's bytes, it is not decoded again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parsed {
    /// The migration.
    pub mig_id: u32,
    /// The guest's call counter.
    pub seq: u32,
    /// Call number.
    pub nr: u32,
    /// Arguments as the guest passed them.
    pub args: [u64; 6],
    /// How the call is forwarded ([`spec`] of `nr` and `args`).
    pub spec: Spec,
    /// Input buffers: `(offset, length)` in the payload, by argument index.
    pub bufs: [Option<(u32, u32)>; 6],
}

impl Parsed {
    /// The input buffers in `p`, the payload this was parsed from: `None` for a range that does
    /// not fit `p`.
    pub fn bufs<'a>(&self, p: &'a [u8]) -> Bufs<'a> {
        self.bufs.map(|r| {
            let (off, len) = r?;
            let start = usize::try_from(off).ok()?;
            let end = start.checked_add(usize::try_from(len).ok()?)?;
            p.get(start..end)
        })
    }

    /// The request, its buffers in `p`, the payload this was parsed from.
    pub fn request<'a>(&self, p: &'a [u8]) -> Request<'a> {
        self.with_bufs(self.bufs(p))
    }

    /// The request with input buffers `bufs`.
    fn with_bufs<'a>(&self, bufs: Bufs<'a>) -> Request<'a> {
        Request {
            mig_id: self.mig_id,
            seq: self.seq,
            nr: self.nr,
            args: self.args,
            bufs,
        }
    }
}

/// Decodes and checks a request (see [`Request::decode`]), keeping where its input buffers are.
pub fn parse(p: &[u8]) -> Result<Parsed, PayloadError> {
    parse_request(p).map(|(r, _)| r)
}

/// [`parse`], also giving the input buffers.
fn parse_request(p: &[u8]) -> Result<(Parsed, Bufs<'_>), PayloadError> {
    if p.len() < REQUEST_FIXED || p.len() > MAX_PAYLOAD {
        return Err(PayloadError::Length);
    }
    let nr = be64(p, 8);
    let nr = u32::try_from(nr).map_err(|_| PayloadError::Field("nr"))?;
    let args: [u64; 6] = core::array::from_fn(|i| be64(p, 16 + 8 * i));
    let spec = spec(nr, &args).ok_or(PayloadError::Field("nr"))?;
    let (bufs, ranges) = read_bufs(p, REQUEST_FIXED, usize::from(p[64]), |i, data| {
        match spec[i] {
            Arg::Str => {
                !data.is_empty()
                    && data.len() <= MAX_STR
                    && data.iter().position(|&b| b == 0) == Some(data.len() - 1)
            }
            a if a.is_input() => a.len(&args) == Some(data.len()),
            _ => false,
        }
    })?;
    for (i, a) in spec.iter().enumerate() {
        if a.is_input() && (args[i] != 0) != bufs[i].is_some() {
            return Err(PayloadError::Field("buffer"));
        }
    }
    // A pack holds what its lengths say, nothing more (the deputy sets its pointers).
    if let Some(i) = packed::packed_arg(nr, &args) {
        if !bufs[i].is_some_and(|b| packed::check(nr, i, b)) {
            return Err(PayloadError::Field("pack"));
        }
    }
    // A mirrored action has one of the three handler values, and no restorer.
    if nr == nr::RT_SIGACTION
        && !bufs[1]
            .is_some_and(|a| action_word(a, 0) <= MIRRORED_HANDLER && action_word(a, 16) == 0)
    {
        return Err(PayloadError::Field("action"));
    }
    let parsed = Parsed {
        mig_id: be32(p, 0),
        seq: be32(p, 4),
        nr,
        args,
        spec,
        bufs: ranges,
    };
    Ok((parsed, bufs))
}

/// Where a deputy puts the buffers of a forwarded call in its memory (see [`place`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placed {
    /// The call's arguments, each pointer that is not NULL pointing at its buffer.
    pub args: [u64; 6],
    /// `(address, length)` of each placed buffer, input or output, by argument index.
    pub at: [Option<(u64, usize)>; 6],
    /// Just past the last buffer (`base` when there is none); at most `base + room`.
    pub end: u64,
}

/// Places the buffers of a call with arguments `args`, forwarded as `spec` with input buffers
/// `bufs`, in memory from `base`, at most `room` bytes: one after the other in argument order,
/// each after the first at a multiple of 16, one for every pointer argument that is not NULL. A
/// string takes its buffer's length, any other buffer [`Arg::len`]. `None` if they do not fit
/// (or `base + room` is past the end of the address space).
pub fn place(
    spec: &Spec,
    args: &[u64; 6],
    bufs: &Bufs<'_>,
    base: u64,
    room: u64,
) -> Option<Placed> {
    let limit = base.checked_add(room)?;
    let mut placed = Placed {
        args: *args,
        at: [None; 6],
        end: base,
    };
    for (i, a) in spec.iter().enumerate() {
        if *a == Arg::Int || args[i] == 0 {
            continue;
        }
        let len = match (a, bufs[i]) {
            (Arg::Str, Some(b)) => b.len(),
            _ => a.len(args).unwrap_or(0),
        };
        let at = if placed.at.iter().any(Option::is_some) {
            placed.end.checked_next_multiple_of(16)?
        } else {
            base
        };
        let end = at.checked_add(u64::try_from(len).ok()?)?;
        if end > limit {
            return None;
        }
        placed.at[i] = Some((at, len));
        placed.args[i] = at;
        placed.end = end;
    }
    Some(placed)
}

/// The result of a forwarded call, deputy to guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply<'a> {
    /// The migration.
    pub mig_id: u32,
    /// The request's `seq`.
    pub seq: u32,
    /// The call's result.
    pub result: i64,
    /// Output buffers.
    pub bufs: Bufs<'a>,
}

impl<'a> Reply<'a> {
    /// Encoded size.
    pub fn encoded_len(&self) -> usize {
        REPLY_FIXED + bufs_len(&self.bufs)
    }

    /// Encodes into `out` (at least [`Reply::encoded_len`] bytes); returns the length.
    pub fn encode(&self, out: &mut [u8]) -> Option<usize> {
        let f = out.get_mut(..REPLY_FIXED)?;
        put_head(f, self.mig_id, self.seq, self.result as u64);
        f[16] = self.bufs.iter().flatten().count() as u8;
        write_bufs(out, REPLY_FIXED, &self.bufs)
    }

    /// Decodes a reply's framing; [`Reply::check`] checks it against the request it answers.
    pub fn decode(p: &'a [u8]) -> Result<Self, PayloadError> {
        if p.len() < REPLY_FIXED || p.len() > MAX_PAYLOAD {
            return Err(PayloadError::Length);
        }
        let (bufs, _) = read_bufs(p, REPLY_FIXED, usize::from(p[16]), |_, d| {
            d.len() <= MAX_BUF
        })?;
        Ok(Self {
            mig_id: be32(p, 0),
            seq: be32(p, 4),
            result: be64(p, 8) as i64,
            bufs,
        })
    }

    /// Checks the reply against the call `nr` with `args` it answers: a result in range, and
    /// output buffers only for output arguments whose pointer is not NULL, no longer than the
    /// argument's buffer (and than the result, for `OutRet`).
    pub fn check(&self, nr: u32, args: &[u64; 6]) -> Result<(), PayloadError> {
        let spec = spec(nr, args).ok_or(PayloadError::Field("nr"))?;
        self.check_with(&spec, args)
    }

    /// [`Reply::check`] against a call with arguments `args` forwarded as `spec` (the one
    /// [`Request::decode_with_spec`] gives).
    pub fn check_with(&self, spec: &Spec, args: &[u64; 6]) -> Result<(), PayloadError> {
        if self.result < -4095 {
            return Err(PayloadError::Field("result"));
        }
        for (i, b) in self.bufs.iter().enumerate() {
            let Some(b) = b else { continue };
            let a = spec[i];
            let max = a.len(args).unwrap_or(0);
            let fits = match a {
                Arg::OutRet(_) => self.result >= 0 && b.len() <= a.written(max, self.result as u64),
                _ => true,
            };
            if !a.is_output() || args[i] == 0 || b.len() > max || !fits {
                return Err(PayloadError::Field("buffer"));
            }
        }
        Ok(())
    }
}

/// The deputy's record of the forwarded call its guest has outstanding. A guest makes one call
/// at a time and waits for the reply, so a request that comes while one is outstanding breaks
/// the protocol, whatever its `seq`: it is refused. This bounds what a peer can make a home node
/// hold for one deputy to one request (at most [`MAX_PAYLOAD`] bytes).
///
/// A call is outstanding from its request's arrival ([`CallSlot::open`]) until its reply is about
/// to go out ([`CallSlot::close`], before the send: the guest's next request may come as soon as
/// the reply is on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CallSlot {
    open: Option<u32>,
}

impl CallSlot {
    /// No call outstanding.
    pub const fn new() -> Self {
        Self { open: None }
    }

    /// A request with call counter `seq` came: it is outstanding from now on, unless another
    /// one is (then it is refused and the slot is unchanged).
    pub fn open(&mut self, seq: u32) -> Result<(), PayloadError> {
        if self.open.is_some() {
            return Err(PayloadError::Unexpected(
                "a forwarded call before the reply to the previous one",
            ));
        }
        self.open = Some(seq);
        Ok(())
    }

    /// The reply to the outstanding call goes out: returns its `seq` (`None`: none was
    /// outstanding).
    pub fn close(&mut self) -> Option<u32> {
        self.open.take()
    }

    /// The `seq` of the call outstanding, if one is.
    pub fn outstanding(&self) -> Option<u32> {
        self.open
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn home_file_calls_are_bounded() {
        assert!(spec(home::MAP_FILE, &[3, 1, 0, 0, 0, 0]).is_some());
        let ok = [1, 4096, home::MAX_READ, 1, 0, 0];
        let sp = spec(home::READ_FILE, &ok).unwrap();
        assert_eq!(sp[3].len(&ok), Some(home::MAX_READ as usize));
        // More than one call carries, or not page multiples: not a call at all.
        for bad in [
            [1, 4096, home::MAX_READ + 4096, 1, 0, 0],
            [1, 100, 4096, 1, 0, 0],
            [1, 0, 4095, 1, 0, 0],
        ] {
            assert!(spec(home::READ_FILE, &bad).is_none(), "{bad:?}");
        }
    }

    extern crate std;
    use super::*;
    use std::vec;

    fn round_trip(r: &Request<'_>) -> std::vec::Vec<u8> {
        let mut out = vec![0u8; r.encoded_len()];
        assert_eq!(r.encode(&mut out), Some(r.encoded_len()));
        out
    }

    #[test]
    fn file_system_ipc_and_xattr_calls_are_forwarded_whole_or_not_at_all() {
        let none = [0u64; 6];
        for n in [
            nr::STATFS,
            nr::FSTATFS,
            nr::FLOCK,
            nr::INOTIFY_INIT1,
            nr::INOTIFY_ADD_WATCH,
            nr::INOTIFY_RM_WATCH,
            nr::MEMFD_CREATE,
            nr::UTIMENSAT,
            nr::FCHOWNAT,
            nr::LINKAT,
            nr::MKNODAT,
            nr::SEMGET,
            nr::MSGGET,
            nr::GETXATTR,
            nr::LISTXATTR,
            nr::REMOVEXATTR,
            nr::COPY_FILE_RANGE,
            nr::SENDFILE,
            nr::WAITID,
        ] {
            assert!(spec(n, &none).is_some(), "{n}");
        }
        // statfs's buffer comes back whole; a path is read as a string.
        let st = spec(nr::STATFS, &none).unwrap();
        assert_eq!((st[0], st[1]), (Str, Out(F(120))));
        assert_eq!(st[1].len(&none), Some(120));
        // A semop whose operations would not fit whole is not forwarded, never cut.
        let ops = |n: u64| [1, 0x1000, n, 0, 0, 0];
        let sem = spec(nr::SEMOP, &ops(3)).unwrap();
        assert_eq!(sem[1].len(&ops(3)), Some(18));
        assert_eq!(sem[1].count_limit(), Some((2, (MAX_BUF / 6) as u64)));
        assert!(MAX_SEMOPS <= (MAX_BUF / 6) as u64);
        assert!(spec(nr::SEMOP, &ops(MAX_SEMOPS)).is_some());
        assert!(spec(nr::SEMOP, &ops(MAX_SEMOPS + 1)).is_none());
        assert!(spec(nr::SEMTIMEDOP, &ops(MAX_SEMOPS + 1)).is_none());
        // semctl with a number or a structure for argument, not an array (GETALL, SETALL).
        assert!(spec(nr::SEMCTL, &[1, 0, 0, 0, 0, 0]).is_some());
        assert!(spec(nr::SEMCTL, &[1, 0, 16, 5, 0, 0]).is_some());
        assert_eq!(
            spec(nr::SEMCTL, &[1, 0, 2, 0x1000, 0, 0]).map(|s| s[3]),
            Some(Out(F(104)))
        );
        assert_eq!(
            spec(nr::SEMCTL, &[1, 0, 1, 0x1000, 0, 0]).map(|s| s[3]),
            Some(In(F(104)))
        );
        // GETALL and SETALL: as many values as argument 4 says, the set's size.
        let all = |cmd: u64, n: u64| spec(nr::SEMCTL, &[1, 0, cmd, 0x1000, n, 0]);
        let get = all(13, 3).unwrap();
        assert_eq!(
            (get[3], get[3].len(&[1, 0, 13, 0x1000, 3, 0])),
            (Out(AT(4, 2)), Some(6))
        );
        assert_eq!(all(17, 3).unwrap()[3], In(AT(4, 2)));
        assert!(all(13, MAX_SEMS).is_some());
        assert!(all(17, MAX_SEMS + 1).is_none());
        assert!(MAX_SEMS * 2 <= MAX_BUF as u64);
        // A message goes with its type, whole or not at all; one received comes back with its
        // type and as much text as the call says.
        let msg = |n: u64| [1, 0x1000, n, 0, 0, 0];
        let snd = spec(nr::MSGSND, &msg(100)).unwrap();
        assert_eq!((snd[1], snd[1].len(&msg(100))), (In(AP(2, 8)), Some(108)));
        assert_eq!(snd[1].count_limit(), None);
        assert!(spec(nr::MSGSND, &msg(MAX_MSG)).is_some());
        assert!(spec(nr::MSGSND, &msg(MAX_MSG + 1)).is_none());
        assert!(spec(nr::MSGRCV, &msg(MAX_MSG + 1)).is_none());
        assert!(spec(nr::MSGSND, &msg(u64::MAX)).is_none());
        let rcv = spec(nr::MSGRCV, &msg(100)).unwrap();
        assert_eq!(rcv[1].len(&msg(100)), Some(108));
        assert_eq!(rcv[1].written(108, 5), 13);
        assert_eq!(rcv[1].written(108, 500), 108);
        let ctl = |cmd: u64| spec(nr::MSGCTL, &[1, cmd, 0x1000, 0, 0, 0]).unwrap()[2];
        assert_eq!(ctl(0), Int);
        assert_eq!(ctl(1), In(F(120)));
        assert_eq!(ctl(2), Out(F(120)));
        assert_eq!(ctl(3), Out(F(32)));
        assert_eq!(ctl(0x102), Int);
        // Resource limits go both ways, each as long as a struct rlimit64.
        let lim = spec(nr::PRLIMIT64, &[0, 7, 0x1000, 0x2000, 0, 0]).unwrap();
        assert_eq!((lim[2], lim[3]), (In(F(16)), Out(F(16))));
        assert!(spec(nr::SETRLIMIT, &[7, 0x1000, 0, 0, 0, 0]).is_none());
        assert_eq!(
            spec(nr::GETRUSAGE, &[0, 0x1000, 0, 0, 0, 0]).unwrap()[1],
            Out(F(144))
        );
        assert_eq!(
            spec(nr::TIMES, &[0x1000, 0, 0, 0, 0, 0]).unwrap()[0],
            Out(F(32))
        );
        // ioctl: the common commands without a size in their number, by their structures;
        // any other such command is not forwarded.
        let io = |cmd: u64| spec(nr::IOCTL, &[3, cmd, 0x1000, 0, 0, 0]).map(|s| s[2]);
        assert_eq!(io(0x5401), Some(Out(F(36)))); // TCGETS
        assert_eq!(io(0x5405), Some(Out(F(18)))); // TCGETA
        assert_eq!(io(0x541b), Some(Out(F(4)))); // FIONREAD
        assert_eq!(io(0x5411), Some(Out(F(4)))); // TIOCOUTQ
        assert_eq!(io(0x5460), Some(Out(F(8)))); // FIOQSIZE
        assert_eq!(io(0x8933), Some(InOut(F(40)))); // SIOCGIFINDEX
        assert_eq!(io(0x540e), Some(Int)); // TIOCSCTTY
        assert_eq!(io(0x8912), None); // SIOCGIFCONF: its struct holds a pointer
        assert_eq!(io(0x5499), None);
        assert_eq!(io(0x8004_5430), Some(Out(F(4)))); // TIOCGPTN, _IOC-encoded
                                                      // kcmp and syslog: by their type.
        assert_eq!(spec(nr::KCMP, &[1, 1, 0, 3, 4, 0]).map(|s| s[4]), Some(Int));
        assert_eq!(
            spec(nr::KCMP, &[1, 1, 7, 3, 0x1000, 0]).map(|s| s[4]),
            Some(In(F(12)))
        );
        assert!(spec(nr::KCMP, &[1, 1, 8, 3, 4, 0]).is_none());
        assert_eq!(
            spec(nr::SYSLOG, &[3, 0x1000, 4096, 0, 0, 0]).map(|s| s[1]),
            Some(OutRet(A(2)))
        );
        assert_eq!(
            spec(nr::SYSLOG, &[10, 0, 0, 0, 0, 0]).map(|s| s[1]),
            Some(Int)
        );
        // Process descriptors: a signal's information goes whole (or NULL stays NULL).
        let ps = spec(nr::PIDFD_SEND_SIGNAL, &[3, 0, 0x1000, 0, 0, 0]).unwrap();
        assert_eq!(
            (ps[2], ps[2].len(&[3, 0, 0x1000, 0, 0, 0])),
            (In(F(128)), Some(128))
        );
        assert!(spec(nr::PIDFD_OPEN, &none).is_some());
        // prctl: a name is a string, a death signal comes back; options made on the host or
        // not handled are not forwarded.
        let pr = |o: u64| spec(nr::PRCTL, &[o, 0x1000, 0, 0, 0, 0]).map(|s| s[1]);
        assert_eq!(pr(pr::SET_NAME), Some(Str));
        assert_eq!(pr(pr::GET_PDEATHSIG), Some(Out(F(4))));
        assert_eq!(pr(pr::SET_DUMPABLE), Some(Int));
        assert_eq!(pr(pr::GET_NAME), None);
        assert_eq!(pr(pr::SET_VMA), None);
        assert_eq!(pr(9999), None);
        assert!(spec(nr::SHMGET, &[1, 4096, 0o600, 0, 0, 0]).is_some());
        assert!(spec(nr::SHMCTL, &[1, 0, 0, 0, 0, 0]).is_some());
        assert_eq!(
            spec(nr::SHMCTL, &[1, 2, 0x1000, 0, 0, 0]).map(|s| s[2]),
            Some(Out(F(112)))
        );
        assert!(spec(nr::SHMCTL, &[1, 99, 0x1000, 0, 0, 0]).is_none());
        // An attribute value is set whole or not at all; one read comes back as long as the
        // call says.
        let val = |n: u64| [0x1000, 0x2000, 0x3000, n, 0, 0];
        assert!(spec(nr::SETXATTR, &val(MAX_BUF as u64)).is_some());
        assert!(spec(nr::SETXATTR, &val(MAX_BUF as u64 + 1)).is_none());
        assert!(spec(nr::FSETXATTR, &val(MAX_BUF as u64 + 1)).is_none());
        let get = spec(nr::GETXATTR, &val(100)).unwrap();
        assert_eq!(get[2].written(100, 7), 7);
        // openat2's `how` goes whole, within a bound.
        assert!(spec(nr::OPENAT2, &[0, 0x1000, 0x2000, 24, 0, 0]).is_some());
        assert!(spec(nr::OPENAT2, &[0, 0x1000, 0x2000, 4097, 0, 0]).is_none());
    }

    #[test]
    fn only_the_mask_mirror_form_of_rt_sigprocmask_is_forwarded() {
        let mask = (1u64 << 9).to_ne_bytes();
        let mut bufs: Bufs<'_> = [None; 6];
        bufs[1] = Some(&mask[..]);
        let r = Request {
            mig_id: 3,
            seq: 1,
            nr: nr::RT_SIGPROCMASK,
            args: [SIG_SETMASK, 1, 0, 8, 0, 0],
            bufs,
        };
        assert_eq!(Request::decode(&round_trip(&r)), Ok(r));
        // SIG_BLOCK or SIG_UNBLOCK, an old mask asked for, another size: not forwarded.
        for args in [
            [0, 1, 0, 8, 0, 0],
            [1, 1, 0, 8, 0, 0],
            [SIG_SETMASK, 1, 0x1000, 8, 0, 0],
            [SIG_SETMASK, 1, 0, 16, 0, 0],
        ] {
            assert!(spec(nr::RT_SIGPROCMASK, &args).is_none(), "{args:?}");
        }
        let mut short = r;
        short.bufs[1] = Some(&mask[..4]);
        assert!(Request::decode(&round_trip(&short)).is_err());
    }

    #[test]
    fn write_request_round_trips_and_is_checked() {
        let data = b"hello\n";
        let mut bufs: Bufs<'_> = [None; 6];
        bufs[1] = Some(&data[..]);
        let r = Request {
            mig_id: 1,
            seq: 9,
            nr: 1,
            args: [1, 0x7000, 6, 0, 0, 0],
            bufs,
        };
        let p = round_trip(&r);
        assert_eq!(Request::decode(&p), Ok(r));
        // Length must match the count argument.
        let mut bad = r;
        bad.args[2] = 7;
        assert!(Request::decode(&round_trip(&bad)).is_err());
        // A NULL buffer pointer carries no buffer, and a non-NULL one must carry it.
        let mut null = r;
        null.args[1] = 0;
        assert!(Request::decode(&round_trip(&null)).is_err());
        null.bufs = [None; 6];
        assert!(Request::decode(&round_trip(&null)).is_ok());
        let mut missing = r;
        missing.bufs = [None; 6];
        assert!(Request::decode(&round_trip(&missing)).is_err());
        // No buffer for a number argument, and calls without a spec are refused.
        let mut extra = r;
        extra.bufs[0] = Some(b"x");
        assert!(Request::decode(&round_trip(&extra)).is_err());
        // Buffers in descending order (or twice) are refused.
        let mut two = r;
        two.nr = 82;
        two.args = [0x1000, 0x2000, 0, 0, 0, 0];
        two.bufs = [Some(b"a\0"), Some(b"b\0"), None, None, None, None];
        let p = round_trip(&two);
        assert!(Request::decode(&p).is_ok());
        let mut swapped = p.clone();
        let fixed = REQUEST_FIXED;
        swapped[fixed] = 1;
        swapped[fixed + 7] = 0;
        assert!(Request::decode(&swapped).is_err());
        let mut unknown = r;
        unknown.nr = 9999;
        unknown.bufs = [None; 6];
        assert!(Request::decode(&round_trip(&unknown)).is_err());
    }

    #[test]
    fn select_sets_and_timers_have_their_sizes() {
        let sel = spec(23, &[65, 1, 2, 3, 4, 0]).unwrap();
        // 65 descriptors take two 64-bit words per set; the timeout is a struct timeval.
        for set in &sel[1..4] {
            assert_eq!(set.len(&[65, 1, 2, 3, 4, 0]), Some(16));
            assert!(set.is_input() && set.is_output());
        }
        assert_eq!(sel[1].len(&[0, 1, 2, 3, 4, 0]), Some(0));
        assert_eq!(sel[1].len(&[u64::MAX, 1, 2, 3, 4, 0]), Some(MAX_BUF));
        assert_eq!(sel[4].len(&[1; 6]), Some(16));
        let set = spec(38, &[0; 6]).unwrap();
        assert_eq!((set[1], set[2]), (In(F(32)), Out(F(32))));
        assert_eq!(spec(37, &[0; 6]).unwrap(), [Int; 6]);
        let ppoll = spec(271, &[0, 3, 0, 0, 8, 0]).unwrap();
        assert_eq!(ppoll[0].len(&[0, 3, 0, 0, 8, 0]), Some(24));
        assert_eq!(ppoll[3].len(&[0, 3, 0, 0, 8, 0]), Some(8));
    }

    #[test]
    fn timers_and_event_descriptors() {
        let create = spec(222, &[1, 0x1000, 0x2000, 0, 0, 0]).unwrap();
        assert_eq!((create[1], create[2]), (In(F(64)), Out(F(4))));
        let set = spec(223, &[0, 0, 0x1000, 0, 0, 0]).unwrap();
        assert_eq!((set[2], set[3]), (In(F(32)), Out(F(32))));
        assert_eq!(spec(226, &[0; 6]).unwrap(), [Int; 6]);
        assert_eq!(spec(286, &[3, 0, 1, 2, 0, 0]).unwrap(), set);
        assert_eq!(spec(290, &[0; 6]).unwrap(), [Int; 6]);
    }

    #[test]
    fn actions_are_mirrored_by_disposition() {
        let act = |h: u64| {
            let mut a = [0u8; 32];
            a[..8].copy_from_slice(&h.to_ne_bytes());
            a[8..16].copy_from_slice(&0x0400_0004u64.to_ne_bytes()); // SA_RESTORER | SA_SIGINFO
            a[16..24].copy_from_slice(&0x40_1000u64.to_ne_bytes());
            a[24..].copy_from_slice(&0x2000u64.to_ne_bytes());
            a
        };
        for (h, want) in [(0, 0), (1, 1), (0x40_2000, MIRRORED_HANDLER)] {
            let m = mirrored_action(&act(h));
            assert_eq!(action_word(&m, 0), want);
            assert_eq!(action_word(&m, 8), 0x0400_0004);
            assert_eq!(action_word(&m, 16), 0);
            assert_eq!(action_word(&m, 24), 0x2000);
        }
        // The deputy takes only mirrored actions.
        let req = |a: &[u8; 32]| {
            let mut bufs: Bufs<'_> = [None; 6];
            bufs[1] = Some(&a[..]);
            let r = Request {
                mig_id: 1,
                seq: 1,
                nr: 13,
                args: [14, 1, 0, 8, 0, 0],
                bufs,
            };
            Request::decode(&round_trip(&r)).is_ok()
        };
        assert!(req(&mirrored_action(&act(0x40_2000))));
        assert!(!req(&act(0x40_2000)));
        assert!(spec(13, &[14, 1, 0x3000, 8, 0, 0]).is_none());
    }

    #[test]
    fn pselect6_without_a_mask() {
        let a = [65, 1, 2, 3, 4, 0];
        let p = spec(270, &a).unwrap();
        assert_eq!(p[1].len(&a), Some(16));
        assert_eq!(p[4].len(&a), Some(16));
        assert_eq!(p[5], Int);
        // With one, the mask travels packed (`packed::mask_pack`).
        let m = spec(270, &[65, 1, 2, 3, 4, 0x5000]).unwrap();
        assert_eq!(m[5], In(F(24)));
    }

    #[test]
    fn a_deputy_takes_only_well_formed_packs() {
        let req = |nr: u32, at: usize, b: &[u8]| {
            let mut bufs: Bufs<'_> = [None; 6];
            bufs[at] = Some(b);
            let mut args = [3, 0, 0, 0, 0, 0];
            args[at] = 0x1000;
            if at == 1 {
                args[3] = b.len() as u64;
            }
            let r = Request {
                mig_id: 1,
                seq: 1,
                nr,
                args,
                bufs,
            };
            Request::decode(&round_trip(&r)).is_ok()
        };
        let l = packed::MsgLayout::new(16, 24, 10, MAX_BUF).unwrap();
        let mut msg = vec![0u8; l.total().unwrap()];
        let mut head = [0u8; packed::MSG_HEAD];
        l.write_head(&mut head);
        msg[..packed::MSG_HEAD].copy_from_slice(&head);
        assert!(req(nr::SENDMSG, 1, &msg));
        assert!(req(nr::RECVMSG, 1, &msg));
        // Its lengths must add up to the buffer's.
        msg.push(0);
        assert!(!req(nr::SENDMSG, 1, &msg));
        assert!(!req(nr::RECVMSG, 1, &[0u8; 40]));
        assert!(req(nr::PSELECT6, 5, &packed::mask_pack(8, 1)));
        // A buffer longer than its argument says, and one over what a call carries: refused.
        assert!(spec(nr::SENDMSG, &[3, 0x1000, 0, MAX_BUF as u64 + 1, 0, 0]).is_none());
        assert!(spec(nr::RECVMSG, &[3, 0x1000, 0, MAX_BUF as u64 + 1, 0, 0]).is_none());
    }

    #[test]
    fn epoll_returns_whole_events() {
        let args = [3, 0x1000, 10, 500, 0, 0];
        let wait = spec(232, &args).unwrap();
        assert_eq!(wait[1].len(&args), Some(120));
        // Three ready events: 36 bytes come back; never more than the buffer.
        assert_eq!(wait[1].written(120, 3), 36);
        assert_eq!(wait[1].written(120, 99), 120);
        // maxevents is lowered so that the events fit in one call.
        assert_eq!(wait[1].count_limit(), Some((2, (MAX_BUF / 12) as u64)));
        let pwait = spec(281, &[3, 0x1000, 10, 500, 0x2000, 8]).unwrap();
        assert_eq!(pwait[4].len(&[3, 0x1000, 10, 500, 0x2000, 8]), Some(8));
        assert_eq!(spec(233, &[3, 1, 4, 0x3000, 0, 0]).unwrap()[3], In(F(12)));
        assert_eq!(spec(291, &[0; 6]).unwrap(), [Int; 6]);
        // getgroups returns a count of 4-byte groups.
        assert_eq!(
            spec(115, &[8, 0x1000, 0, 0, 0, 0]).unwrap()[1].written(32, 2),
            8
        );
        // read returns bytes; an input buffer is all there is.
        assert_eq!(spec(0, &[0; 6]).unwrap()[1].written(100, 7), 7);
        assert_eq!(In(F(12)).written(12, 0), 12);
        assert_eq!(In(F(12)).count_limit(), None);
        // A reply may carry the events the result counts, no more.
        let reply = |n: usize, result: i64| {
            let ev = [0u8; 120];
            Reply {
                mig_id: 1,
                seq: 1,
                result,
                bufs: [None, Some(&ev[..n]), None, None, None, None],
            }
            .check(232, &args)
            .is_ok()
        };
        assert!(reply(36, 3));
        assert!(!reply(48, 3));
        assert!(!reply(12, -4));
    }

    #[test]
    fn sockets_without_returned_addresses_are_forwarded() {
        assert!(spec(41, &[2, 1, 0, 0, 0, 0]).is_some());
        let connect = spec(42, &[3, 0x1000, 16, 0, 0, 0]).unwrap();
        assert_eq!(connect[1].len(&[3, 0x1000, 16, 0, 0, 0]), Some(16));
        assert!(spec(288, &[3, 0, 0, 0x80000, 0, 0]).is_some());
        // An address returned through a length pointer: its length is in the spare argument.
        let args = [3, 0x1000, 0x2000, 0x80000, 16, 0];
        assert_eq!(returned_len(288, &args), Some((2, Carry::Arg(4))));
        let acc = spec(288, &args).unwrap();
        assert_eq!((acc[1].len(&args), acc[2].len(&args)), (Some(16), Some(4)));
        assert!(acc[1].is_input() && acc[1].is_output());
        assert!(spec(288, &[3, 0x1000, 0x2000, 0, MAX_RETURNED + 1, 0]).is_none());
        assert_eq!(
            returned_len(51, &[3, 0x1000, 0x2000, 0, 0, 0]),
            Some((2, Carry::Arg(3)))
        );
        assert_eq!(
            returned_len(55, &[3, 1, 2, 0x1000, 0x2000, 0]),
            Some((4, Carry::Arg(5)))
        );
        assert!(spec(55, &[3, 1, 2, 0x1000, 0x2000, 4]).is_some());
        assert_eq!(returned_len(41, &[0; 6]), None);
        let recv = spec(45, &[3, 0x1000, 10, 0, 0, 0]).unwrap();
        assert_eq!(recv[1], OutRet(A(2)));
        // recvfrom with an address: the length rides in the upper half of the flags.
        let mut args = [3, 0x1000, 10, 0x40, 0x2000, 0x3000];
        let (ptr, carry) = returned_len(45, &args).unwrap();
        assert_eq!((ptr, carry), (5, Carry::High(3)));
        carry.put(&mut args, 16);
        assert_eq!(args[3], 16 << 32 | 0x40);
        let recv = spec(45, &args).unwrap();
        assert_eq!(
            (recv[4].len(&args), recv[5].len(&args)),
            (Some(16), Some(4))
        );
        carry.put(&mut args, 1 << 20);
        assert_eq!(args[3] >> 32, MAX_RETURNED);
        args[3] = (MAX_RETURNED + 1) << 32;
        assert!(spec(45, &args).is_none());
    }

    #[test]
    fn strings_must_be_terminated_once() {
        let mut bufs: Bufs<'_> = [None; 6];
        bufs[1] = Some(b"/etc/passwd\0");
        let r = Request {
            mig_id: 1,
            seq: 1,
            nr: 257,
            args: [(-100i64) as u64, 0x1000, 0, 0, 0, 0],
            bufs,
        };
        assert!(Request::decode(&round_trip(&r)).is_ok());
        for s in [&b"/etc/passwd"[..], b"/etc\0/passwd\0", b""] {
            let mut x = r;
            x.bufs[1] = Some(s);
            assert!(Request::decode(&round_trip(&x)).is_err(), "{s:?}");
        }
    }

    #[test]
    fn replies_are_checked_against_their_call() {
        let args = [3, 0x7000, 100, 0, 0, 0];
        let data = [7u8; 10];
        let mut bufs: Bufs<'_> = [None; 6];
        bufs[1] = Some(&data[..]);
        let r = Reply {
            mig_id: 1,
            seq: 2,
            result: 10,
            bufs,
        };
        let mut out = vec![0u8; r.encoded_len()];
        r.encode(&mut out).unwrap();
        let d = Reply::decode(&out).unwrap();
        assert_eq!(d, r);
        assert!(d.check(0, &args).is_ok());
        // More bytes than the result, than the buffer, or into an input argument: refused.
        assert!(Reply { result: 5, ..r }.check(0, &args).is_err());
        assert!(r.check(0, &[3, 0x7000, 5, 0, 0, 0]).is_err());
        assert!(r.check(1, &args).is_err());
        assert!(Reply { result: -5000, ..r }.check(0, &args).is_err());
        assert!(r.check(0, &[3, 0, 100, 0, 0, 0]).is_err());
    }

    #[test]
    fn lengths_are_cut_and_ioctls_decoded() {
        let args = [0, 0, u64::MAX, 0, 0, 0];
        assert_eq!(spec(0, &args).unwrap()[1].len(&args), Some(MAX_BUF));
        let tcgets = [0, 0x5401, 0, 0, 0, 0];
        assert_eq!(spec(16, &tcgets).unwrap()[2], Out(F(36)));
        // _IOR('x', 1, u64): read, size 8.
        let ior = [0, (2u64 << 30) | (8 << 16) | 0x7801, 0, 0, 0, 0];
        assert_eq!(spec(16, &ior).unwrap()[2], Out(F(8)));
        assert_eq!(spec(16, &[0, 0x1234, 0, 0, 0, 0]), None);
        assert_eq!(spec(72, &[0, 6, 0, 0, 0, 0]).unwrap()[2], InOut(F(32)));
    }

    #[test]
    fn buffers_are_placed_in_order_and_aligned() {
        let base = 0x10_0000;
        let none: Bufs<'_> = [None; 6];
        // write(fd, buf, 6): the input at base.
        let args = [1, 0x7000, 6, 0, 0, 0];
        let mut bufs = none;
        bufs[1] = Some(&b"hello\n"[..]);
        let p = place(&spec(1, &args).unwrap(), &args, &bufs, base, 4096).unwrap();
        assert_eq!(p.args, [1, base, 6, 0, 0, 0]);
        assert_eq!(p.at, [None, Some((base, 6)), None, None, None, None]);
        assert_eq!(p.end, base + 6);
        // read(fd, buf, 100): the output is placed too.
        let args = [3, 0x7000, 100, 0, 0, 0];
        let p = place(&spec(0, &args).unwrap(), &args, &none, base, 4096).unwrap();
        assert_eq!(p.at[1], Some((base, 100)));
        assert_eq!(p.args[1], base);
        // open(path): a string takes its length with the NUL.
        let args = [0x7000, 0, 0, 0, 0, 0];
        let mut bufs = none;
        bufs[0] = Some(&b"/etc/passwd\0"[..]);
        let p = place(&spec(2, &args).unwrap(), &args, &bufs, base, 4096).unwrap();
        assert_eq!(
            (p.args[0], p.at[0], p.end),
            (base, Some((base, 12)), base + 12)
        );
        // rename(a, b): the second after the first, at a multiple of 16, even from an
        // unaligned base.
        let args = [0x7000, 0x8000, 0, 0, 0, 0];
        let mut bufs = none;
        bufs[0] = Some(&b"a\0"[..]);
        bufs[1] = Some(&b"bb\0"[..]);
        let p = place(&spec(82, &args).unwrap(), &args, &bufs, base + 1, 4096).unwrap();
        assert_eq!(p.at[0], Some((base + 1, 2)));
        assert_eq!(p.at[1], Some((base + 16, 3)));
        assert_eq!(p.args[..2], [base + 1, base + 16]);
        assert_eq!(p.end, base + 19);
        // A NULL pointer stays NULL and takes no room.
        let args = [0, 0x8000, 0, 0, 0, 0];
        let p = place(&spec(82, &args).unwrap(), &args, &bufs, base, 4096).unwrap();
        assert_eq!((p.args[0], p.at[0]), (0, None));
        assert_eq!(p.at[1], Some((base, 3)));
        // Nothing to place.
        let args = [3, 0, 0, 0, 0, 0];
        let p = place(&spec(3, &args).unwrap(), &args, &none, base, 0).unwrap();
        assert_eq!((p.args, p.at, p.end), (args, [None; 6], base));
    }

    #[test]
    fn buffers_that_do_not_fit_are_refused() {
        let none: Bufs<'_> = [None; 6];
        let read = |n: u64, base: u64, room: u64| {
            let args = [3, 0x7000, n, 0, 0, 0];
            place(&spec(0, &args).unwrap(), &args, &none, base, room)
        };
        assert!(read(100, 0x1000, 100).is_some());
        assert!(read(101, 0x1000, 100).is_none());
        // Two buffers: the second's alignment counts.
        let args = [0x7000, 0x8000, 0, 0, 0, 0];
        let mut bufs = none;
        bufs[0] = Some(&b"a\0"[..]);
        bufs[1] = Some(&b"bb\0"[..]);
        let rename = spec(82, &args).unwrap();
        assert!(place(&rename, &args, &bufs, 0x1000, 19).is_some());
        assert!(place(&rename, &args, &bufs, 0x1000, 18).is_none());
        // Near the end of the address space: no overflow, no panic.
        assert!(read(u64::MAX, 0x1000, 1 << 20).is_some_and(|p| p.at[1] == Some((0x1000, MAX_BUF))));
        assert!(read(u64::MAX, 0x1000, 4096).is_none());
        assert!(read(16, u64::MAX - 8, 8).is_none());
        assert!(read(4, u64::MAX - 8, 8).is_some());
        assert!(read(0, u64::MAX, 1).is_none());
        assert!(read(0, u64::MAX, 0).is_some());
        assert!(place(&rename, &args, &bufs, u64::MAX - 4, 4).is_none());
        let ppoll = [u64::MAX - 1, u64::MAX, u64::MAX, u64::MAX, 8, 0];
        assert!(place(
            &spec(271, &ppoll).unwrap(),
            &ppoll,
            &none,
            u64::MAX - 100,
            100
        )
        .is_none());
    }

    #[test]
    fn parsed_requests_are_decoded_requests() {
        let act = mirrored_action(&[0; 32]);
        let calls: [(u32, [u64; 6], Bufs<'_>); 5] = [
            (
                1,
                [1, 0x7000, 6, 0, 0, 0],
                [None, Some(b"hello\n"), None, None, None, None],
            ),
            (0, [3, 0x7000, 100, 0, 0, 0], [None; 6]),
            (
                82,
                [0x1000, 0x2000, 0, 0, 0, 0],
                [Some(b"a\0"), Some(b"bc\0"), None, None, None, None],
            ),
            (
                44,
                [3, 0x1000, 2, 0, 0x2000, 3],
                [None, Some(b"hi"), None, None, Some(b"abc"), None],
            ),
            (
                13,
                [14, 0x1000, 0, 8, 0, 0],
                [None, Some(&act[..]), None, None, None, None],
            ),
        ];
        for (i, (nr, args, bufs)) in calls.into_iter().enumerate() {
            let r = Request {
                mig_id: 7,
                seq: i as u32,
                nr,
                args,
                bufs,
            };
            let p = round_trip(&r);
            let parsed = parse(&p).unwrap();
            assert_eq!(Request::decode(&p), Ok(r));
            assert_eq!(
                Request::decode_with_spec(&p),
                Ok((r, spec(nr, &args).unwrap()))
            );
            assert_eq!(
                (parsed.mig_id, parsed.seq, parsed.nr, parsed.args),
                (7, i as u32, nr, args)
            );
            assert_eq!(parsed.spec, spec(nr, &args).unwrap());
            assert_eq!(parsed.bufs(&p), bufs);
            assert_eq!(parsed.request(&p), r);
            // Ranges that the bytes do not hold are no buffers.
            let short = &p[..p.len() - 1];
            for (b, range) in parsed.bufs(short).iter().zip(parsed.bufs) {
                let fits = range.is_some_and(|(off, len)| (off + len) as usize <= short.len());
                assert_eq!(b.is_some(), fits);
            }
            let empty: Bufs<'_> = [None; 6];
            assert_eq!(parsed.bufs(&[]), empty);
            // Cut or changed, parse and decode agree.
            let agree = |q: &[u8]| match (parse(q), Request::decode(q)) {
                (Ok(parsed), Ok(r)) => assert_eq!(parsed.request(q), r),
                (a, b) => assert_eq!(a.err(), b.err()),
            };
            for cut in 0..p.len() {
                agree(&p[..cut]);
            }
            for at in 0..p.len() {
                for x in [1, 0x80, 0xff] {
                    let mut q = p.clone();
                    q[at] ^= x;
                    agree(&q);
                }
            }
        }
        let odd = Parsed {
            bufs: [
                Some((u32::MAX, u32::MAX)),
                Some((2, u32::MAX)),
                Some((1, 2)),
                None,
                None,
                None,
            ],
            ..parse(&round_trip(&Request {
                mig_id: 1,
                seq: 1,
                nr: 3,
                args: [0; 6],
                bufs: [None; 6],
            }))
            .unwrap()
        };
        assert_eq!(
            odd.bufs(b"abcd"),
            [None, None, Some(&b"bc"[..]), None, None, None]
        );
    }

    #[test]
    fn replies_are_checked_against_a_given_spec() {
        let args = [3, 0x7000, 100, 0, 0, 0];
        let data = [7u8; 10];
        let r = Reply {
            mig_id: 1,
            seq: 2,
            result: 10,
            bufs: [None, Some(&data[..]), None, None, None, None],
        };
        let read = spec(0, &args).unwrap();
        let write = spec(1, &args).unwrap();
        assert_eq!(r.check_with(&read, &args), r.check(0, &args));
        assert!(r.check_with(&read, &args).is_ok());
        assert!(r.check_with(&write, &args).is_err());
        assert!(Reply { result: 5, ..r }.check_with(&read, &args).is_err());
        assert!(r.check(9999, &args).is_err());
    }

    #[test]
    fn encoding_in_place_gives_the_same_bytes() {
        let data = b"hello";
        let name = b"/etc/x\0";
        let mut bufs: Bufs<'_> = [None; 6];
        bufs[0] = Some(&name[..]);
        bufs[1] = Some(&data[..]);
        let r = Request {
            mig_id: 3,
            seq: 4,
            nr: 1,
            args: [1, 2, 3, 4, 5, 6],
            bufs,
        };
        let want = round_trip(&r);
        let lens = lens_of(&bufs);
        assert_eq!(request_len(&lens), want.len());
        let mut out = vec![0u8; want.len()];
        let n = encode_request_with(&mut out, 3, 4, 1, &r.args, &lens, |i, d| {
            d.copy_from_slice(bufs[i].unwrap());
            true
        });
        assert_eq!(n, Some(want.len()));
        assert_eq!(out, want);

        let reply = Reply {
            mig_id: 3,
            seq: 4,
            result: -2,
            bufs,
        };
        let mut want = vec![0u8; reply.encoded_len()];
        assert!(reply.encode(&mut want).is_some());
        assert_eq!(reply_len(&lens), want.len());
        let mut out = vec![0u8; want.len()];
        let n = encode_reply_with(&mut out, 3, 4, -2, &lens, |i, d| {
            d.copy_from_slice(bufs[i].unwrap());
            true
        });
        assert_eq!(n, Some(want.len()));
        assert_eq!(out, want);
    }

    #[test]
    fn encoding_in_place_stops_when_fill_gives_up_or_out_is_short() {
        let mut lens: Lens = [None; 6];
        lens[1] = Some(8);
        let mut out = vec![0u8; request_len(&lens)];
        assert_eq!(
            encode_request_with(&mut out, 1, 1, 0, &[0; 6], &lens, |_, _| false),
            None
        );
        let mut short = vec![0u8; request_len(&lens) - 1];
        assert_eq!(
            encode_request_with(&mut short, 1, 1, 0, &[0; 6], &lens, |_, _| true),
            None
        );
        lens[2] = Some(usize::MAX);
        assert_eq!(
            encode_reply_with(&mut out, 1, 1, 0, &lens, |_, _| true),
            None
        );
    }

    #[test]
    fn one_call_outstanding_at_a_time() {
        let mut slot = CallSlot::new();
        assert_eq!(slot.outstanding(), None);
        assert_eq!(slot.close(), None);
        assert_eq!(slot.open(7), Ok(()));
        assert_eq!(slot.outstanding(), Some(7));
        // A second request before the reply is refused, whatever its seq, and changes nothing.
        for seq in [7, 8, 0, u32::MAX] {
            assert!(matches!(slot.open(seq), Err(PayloadError::Unexpected(_))));
            assert_eq!(slot.outstanding(), Some(7));
        }
        // Once the reply goes, the next call is taken (its seq wraps as the guest's counter does).
        assert_eq!(slot.close(), Some(7));
        assert_eq!(slot.open(u32::MAX), Ok(()));
        assert_eq!(slot.close(), Some(u32::MAX));
        assert_eq!(slot.open(0), Ok(()));
        assert_eq!(CallSlot::default(), CallSlot::new());
    }
}
