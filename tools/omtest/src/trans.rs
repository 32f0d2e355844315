// SPDX-License-Identifier: GPL-2.0

//! `omx-t CASE DIR`: small programs that check their own view of the system, for the
//! transparency scenario. Each case runs in three parts; between them it creates `DIR/at.K`
//! and waits for `DIR/go.K` (K = 1, 2), so that a test may move it in between (or not). Every
//! check prints `PASS what` or `FAIL what: why`; the exit status is 0 when all passed, 1 when
//! one failed, 2 for a bad command line. The transcript of a run never moved, one moved away
//! and back and one that ends away must be the same.
//!
//! Cases:
//! - `signalfd`: SIGUSR1 and SIGUSR2 blocked and read through a `signalfd` (sent by `kill` and
//!   `tgkill` to itself), `poll` on it, the sender's pid.
//! - `sigwait`: a blocked signal sent to itself seen by `sigpending` and taken by
//!   `sigtimedwait` with its sender; `sigtimedwait` timing out; a blocked signal with a handler
//!   that runs as soon as it is unblocked.
//! - `masks`: `pselect6`, `ppoll` and `epoll_pwait` with a signal mask that lets through a
//!   signal waiting blocked: EINTR, the handler ran, the mask is back; ready descriptors.
//! - `scm`: `SCM_RIGHTS` over a Unix socket pair (the descriptor received shares its open file
//!   with the one sent), `SCM_CREDENTIALS` (its own pid and ids), a control buffer too small
//!   (`MSG_CTRUNC`).
//! - `msgq`: a SysV message queue: `msgsnd`, `msgrcv` by type, `E2BIG`, `MSG_NOERROR`,
//!   `IPC_NOWAIT` (`ENOMSG`), `IPC_STAT` (the count, the sender's pid), `MSG_INFO`, `IPC_RMID`.
//! - `limits`: `setrlimit`, `getrlimit` and `prlimit64` (its own pid, old and new limits), a hard
//!   limit lowered and raised again (as root), refusals, and an address-space limit that makes
//!   a 128 GiB reservation fail where the process runs.
//! - `usage`: a child (its pid in `DIR/pid`, the one to move) burns CPU in each part: its own
//!   `getrusage`, `times` and CPU clock never go back and count what it burned; its parent's
//!   CPU clock reads (at home), one of no process fails; its parent's `wait4` and `getrusage`
//!   of its children count all of it.
//! - `procself`: `/proc/self/cmdline`, `environ`, `maps` (an area of its own, its stack),
//!   `smaps_rollup`, `statm` and `auxv` say what its memory holds; `status` its ids and its
//!   locked memory, `exe` its program, `fd/` its files.
//! - `prctl`: its name (`PR_GET_NAME`, `/proc/self/status`, `/proc/self/comm`), parent death
//!   signal, dumpable, child subreaper, bounding set, timer slack and `no_new_privs`.
//! - `ioctl`: commands without their size in their number: an interface's index, flags and
//!   name, a socket's queue, a file's size and block size, `ENOTTY` for a terminal's.
//! - `mmsg`: `sendmmsg` and `recvmmsg` of datagrams (the lengths, `EAGAIN`, `MSG_WAITFORONE`,
//!   `EFAULT`), as the C library's resolver sends its queries.
//! - `pvec`: `pwritev`, `preadv` and their `2` forms at a position and at the file's own, a
//!   `pidfd_open` of its parent that `pidfd_send_signal` signals, `kcmp` of its descriptors,
//!   `syslog`.
//! - `sysv`: `semctl` and `shmctl` with their structures (`IPC_STAT`, `IPC_SET`, `SEM_INFO`,
//!   `IPC_INFO`) and arrays (`SETALL`, `GETALL`).
//! - `itimer`: `ITIMER_VIRTUAL` and `ITIMER_PROF` fire as the process uses its CPU, wherever it
//!   runs; `getitimer`; `EINVAL` for a bad timer.
//! - `fmap`: file mappings made in each part (so, in a moved run, made away and paged from
//!   home): a private one reads the file, its writes stay in it (and survive later moves) and
//!   never reach the file; a page past the end of the file cannot be read; a shared read-only
//!   one reads the file and cannot be made writable; `EINVAL`, `EBADF`; a 1 GiB sparse file
//!   touched at one page moves at most 64 KiB; code mapped from a file runs (`home_paged_bytes` of `/proc/openmosix/stats`;
//!   the bytes in `DIR/paged.PART`); last, a mapping of `/dev/zero` (made at home), and a
//!   shared read-only mapping of the file open for writing made writable writes the file (a
//!   moved process comes home for them).
//! - `rseq`: the C library's restartable-sequences registration is in force as made at start
//!   (registering it again answers `EBUSY`), its CPU ids are those `getcpu` gives and the kernel
//!   rewrites them after a switch; `sched_getcpu` (which reads them).
//! - `clocks`: `CLOCK_MONOTONIC` and `CLOCK_BOOTTIME` never go back and do not leap ahead
//!   across moves, read the same through the vDSO and the system call; relative and absolute
//!   sleeps on them.
//! - `pipes`, `sockets`, `epoll`, `handlers`, `timers`, `files`, `ids`, `memory`: the classes
//!   every program uses (see `basics.rs`).
//! - `fdops`, `events`, `locks`: data moved between descriptors in the kernel, calls relative
//!   to a directory descriptor, eventfd, inotify, memfd, file locks (see `fdops.rs`).
//! - `jobctl`, `children`, `exec`, `sched`, `futex`, `sleeps`: job control, children and their
//!   wait, exec, scheduling, futexes and sleeps (see `procs.rs`).
//! - `tty`, `udp`, `dirs`, `devices`, `fpu`, `uname`: pseudo-terminals, datagrams, directory
//!   reading, character devices, registers and rounding modes, the system (see `devs.rs`).

mod basics;
mod clocks;
mod devs;
mod fdops;
mod handler;
mod procs;
mod raw;
mod rseqs;

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::time::Duration;

const SIGUSR1: u64 = 10;
const SIGUSR2: u64 = 12;
const SIG_BLOCK: u64 = 0;
const SIG_UNBLOCK: u64 = 1;
const SIG_SETMASK: u64 = 2;
const EINTR: i64 = 4;
const EAGAIN: i64 = 11;
const POLLIN: u16 = 1;

/// Handler invocations so far, by signal.
static FIRED: [AtomicU32; 65] = [const { AtomicU32::new(0) }; 65];

/// The handler of every signal caught here: counts it.
extern "C" fn count(sig: i32) {
    if let Some(n) = usize::try_from(sig).ok().and_then(|s| FIRED.get(s)) {
        n.fetch_add(1, SeqCst);
    }
}

/// How many times signal `sig` was caught (since last reset).
fn fired(sig: u64) -> &'static AtomicU32 {
    &FIRED[sig as usize]
}

/// A raw system call of those this program makes.
fn sys(nr: u64, a: [u64; 6]) -> i64 {
    // SAFETY: the calls made here (signal masks and actions, kill, tgkill, signalfd4, poll,
    // read, write, close, pipe2, rt_sigpending, rt_sigtimedwait, pselect6, ppoll, epoll_*,
    // socketpair, setsockopt, sendmsg, recvmsg, lseek, getpid, getuid, getgid, msgget, msgsnd,
    // msgrcv, msgctl, getrlimit, setrlimit, prlimit64, getrusage, times, clock_gettime, wait4,
    // prctl, ioctl, sendmmsg, recvmmsg, preadv, pwritev, preadv2, pwritev2, pidfd_open,
    // pidfd_send_signal, semget, semctl, shmget, shmctl, dup, kcmp, syslog, setitimer,
    // getitimer, rseq, getcpu, clock_gettime, clock_nanosleep, waitid, getdents64,
    // mkdirat, fchdir, unlinkat, getcwd, socket, bind, connect, sendto, recvfrom, getsockname,
    // getpeername, sched_getparam, sched_setscheduler, sched_getattr, ioprio_get, ioprio_set,
    // futex, futex_waitv, nanosleep, clock_getres, select, getrandom, uname, sysinfo,
    // personality, sched_getaffinity, execve's arguments) only read and write the buffers their
    // arguments point to, which the callers own for the call (a futex word: an atomic of this
    // program's). The others touch no memory of Rust's: mmap only where nothing is mapped
    // (MAP_FIXED_NOREPLACE, or an address the kernel picks), munmap, mlock and munlock only what
    // this program mapped itself, fork is made while the program has one thread, execve
    // replaces the whole program and exit_group ends it; set_tid_address gives the kernel a
    // static atomic of this program's, which it clears only as the thread exits.
    unsafe { raw::syscall6(nr, a) }
}

fn bit(sig: u64) -> u64 {
    1 << (sig - 1)
}

fn pid() -> u64 {
    sys(39, [0; 6]) as u64
}

/// The current blocked mask.
fn blocked() -> u64 {
    let mut old = 0u64;
    sys(14, [SIG_BLOCK, 0, &mut old as *mut u64 as u64, 8, 0, 0]);
    old
}

fn mask(how: u64, set: u64) -> i64 {
    sys(14, [how, &set as *const u64 as u64, 0, 8, 0, 0])
}

fn catch(sig: u64, f: extern "C" fn(i32)) -> i64 {
    let act: [u64; 4] = handler::action(f);
    sys(13, [sig, act.as_ptr() as u64, 0, 8, 0, 0])
}

fn sigpending() -> u64 {
    let mut set = 0u64;
    let r = sys(127, [&mut set as *mut u64 as u64, 8, 0, 0, 0, 0]);
    if r < 0 {
        return u64::MAX;
    }
    set
}

struct Checks {
    failed: bool,
}

impl Checks {
    fn check(&mut self, what: &str, ok: bool, why: impl FnOnce() -> String) {
        if ok {
            println!("PASS {what}");
        } else {
            println!("FAIL {what}: {}", why());
            self.failed = true;
        }
    }

    fn eq<T: PartialEq + std::fmt::Debug>(&mut self, what: &str, got: T, want: T) {
        let ok = got == want;
        self.check(what, ok, || format!("got {got:?}, want {want:?}"));
    }
}

/// Runs `round` for parts 0, 1 and 2, each after the other, with a step between them (where
/// the test may move the process).
fn in_three_parts(c: &mut Checks, dir: &str, mut round: impl FnMut(&mut Checks, u32)) {
    round(c, 0);
    for k in 1..=2 {
        step(dir, k);
        round(c, k);
    }
}

/// Marks part `k` as reached and waits to be let go on.
fn step(dir: &str, k: u32) {
    let at = Path::new(dir).join(format!("at.{k}"));
    let go = Path::new(dir).join(format!("go.{k}"));
    let _ = std::fs::File::create(at);
    while !go.exists() {
        std::thread::sleep(Duration::from_millis(20));
    }
}

// --- signalfd ---------------------------------------------------------------------------------

fn signalfd_round(c: &mut Checks, part: u32, sfd: u64) {
    let mut pfd = [0u8; 8];
    pfd[..4].copy_from_slice(&(sfd as i32).to_ne_bytes());
    pfd[4..6].copy_from_slice(&POLLIN.to_ne_bytes());
    let ready = sys(7, [pfd.as_mut_ptr() as u64, 1, 0, 0, 0, 0]);
    c.eq(&format!("part {part}: signalfd not ready before"), ready, 0);
    let me = pid();
    c.eq(
        &format!("part {part}: kill SIGUSR1 to itself"),
        sys(62, [me, SIGUSR1, 0, 0, 0, 0]),
        0,
    );
    c.eq(
        &format!("part {part}: tgkill SIGUSR2 to itself"),
        sys(234, [me, me, SIGUSR2, 0, 0, 0]),
        0,
    );
    let ready = sys(7, [pfd.as_mut_ptr() as u64, 1, 5000, 0, 0, 0]);
    c.eq(&format!("part {part}: signalfd ready"), ready, 1);
    let mut got = Vec::new();
    let mut pids = Vec::new();
    while got.len() < 2 {
        let mut buf = [0u8; 256];
        if sys(7, [pfd.as_mut_ptr() as u64, 1, 5000, 0, 0, 0]) != 1 {
            break;
        }
        let n = sys(0, [sfd, buf.as_mut_ptr() as u64, 256, 0, 0, 0]);
        if n <= 0 || n % 128 != 0 {
            c.check(&format!("part {part}: read signalfd"), false, || {
                format!("read {n}")
            });
            return;
        }
        for s in buf[..n as usize].chunks_exact(128) {
            got.push(u32::from_ne_bytes([s[0], s[1], s[2], s[3]]));
            pids.push(u32::from_ne_bytes([s[12], s[13], s[14], s[15]]));
        }
    }
    got.sort_unstable();
    c.eq(&format!("part {part}: signals read"), got, vec![10, 12]);
    c.eq(
        &format!("part {part}: sent by itself"),
        pids,
        vec![me as u32, me as u32],
    );
    c.eq(
        &format!("part {part}: nothing left pending"),
        sigpending() & (bit(SIGUSR1) | bit(SIGUSR2)),
        0,
    );
}

fn case_signalfd(c: &mut Checks, dir: &str) {
    let set = bit(SIGUSR1) | bit(SIGUSR2);
    c.eq("block SIGUSR1 and SIGUSR2", mask(SIG_BLOCK, set), 0);
    let sfd = sys(289, [u64::MAX, &set as *const u64 as u64, 8, 0, 0, 0]);
    c.check("signalfd4", sfd >= 0, || format!("{sfd}"));
    let sfd = sfd as u64;
    in_three_parts(c, dir, |c, part| signalfd_round(c, part, sfd));
    c.eq("close signalfd", sys(3, [sfd, 0, 0, 0, 0, 0]), 0);
}

// --- sigwait ----------------------------------------------------------------------------------

fn sigwait_round(c: &mut Checks, part: u32) {
    let me = pid();
    let set = bit(SIGUSR1);
    c.eq(
        &format!("part {part}: raise SIGUSR1 (blocked)"),
        sys(234, [me, me, SIGUSR1, 0, 0, 0]),
        0,
    );
    c.eq(
        &format!("part {part}: sigpending has it"),
        sigpending() & set,
        set,
    );
    let mut info = [0u8; 128];
    let ts: [u64; 2] = [10, 0];
    let r = sys(
        128,
        [
            &set as *const u64 as u64,
            info.as_mut_ptr() as u64,
            ts.as_ptr() as u64,
            8,
            0,
            0,
        ],
    );
    c.eq(&format!("part {part}: sigtimedwait takes it"), r, 10);
    let from = u32::from_ne_bytes([info[16], info[17], info[18], info[19]]);
    c.eq(&format!("part {part}: sent by itself"), u64::from(from), me);
    c.eq(
        &format!("part {part}: no longer pending"),
        sigpending() & set,
        0,
    );
    let ts: [u64; 2] = [0, 50_000_000];
    let r = sys(
        128,
        [&set as *const u64 as u64, 0, ts.as_ptr() as u64, 8, 0, 0],
    );
    c.eq(&format!("part {part}: sigtimedwait times out"), r, -EAGAIN);
    // A caught signal, blocked: pending until unblocked, then its handler runs at once.
    fired(SIGUSR2).store(0, SeqCst);
    c.eq(
        &format!("part {part}: kill SIGUSR2 (caught, blocked)"),
        sys(62, [me, SIGUSR2, 0, 0, 0, 0]),
        0,
    );
    c.eq(
        &format!("part {part}: its handler has not run"),
        fired(SIGUSR2).load(SeqCst),
        0,
    );
    c.eq(
        &format!("part {part}: sigpending has SIGUSR2"),
        sigpending() & bit(SIGUSR2),
        bit(SIGUSR2),
    );
    mask(SIG_UNBLOCK, bit(SIGUSR2));
    c.eq(
        &format!("part {part}: its handler ran as it was unblocked"),
        fired(SIGUSR2).load(SeqCst),
        1,
    );
    mask(SIG_BLOCK, bit(SIGUSR2));
}

fn case_sigwait(c: &mut Checks, dir: &str) {
    c.eq("SIGUSR2 handler", catch(SIGUSR2, count), 0);
    c.eq(
        "block SIGUSR1 and SIGUSR2",
        mask(SIG_BLOCK, bit(SIGUSR1) | bit(SIGUSR2)),
        0,
    );
    in_three_parts(c, dir, sigwait_round);
}

// --- masks ------------------------------------------------------------------------------------

fn masks_round(c: &mut Checks, part: u32, rfd: u64, wfd: u64, epfd: u64) {
    let me = pid();
    let empty = 0u64;
    let pair: [u64; 2] = [&empty as *const u64 as u64, 8];
    let ts: [u64; 2] = [10, 0];
    let fdset = |fds: &mut [u64; 16]| {
        fds.fill(0);
        fds[(rfd / 64) as usize] |= 1 << (rfd % 64);
    };
    let mut fds = [0u64; 16];
    let mut pfd = [0u8; 8];
    pfd[..4].copy_from_slice(&(rfd as i32).to_ne_bytes());
    pfd[4..6].copy_from_slice(&POLLIN.to_ne_bytes());
    let mut ev = [0u8; 12];

    // The call `n` with the empty mask, waiting up to 10 s for the pipe (the kernel writes the
    // time left into its copy of the timeout); pselect6's answer counts only if it marked the
    // pipe.
    let mut wait = |n: u64| {
        let mut ts = ts;
        match n {
            270 => {
                fdset(&mut fds);
                let r = sys(
                    n,
                    [
                        rfd + 1,
                        fds.as_mut_ptr() as u64,
                        0,
                        0,
                        ts.as_mut_ptr() as u64,
                        pair.as_ptr() as u64,
                    ],
                );
                if r > 0 && fds[(rfd / 64) as usize] & 1 << (rfd % 64) == 0 {
                    -1000
                } else {
                    r
                }
            }
            271 => sys(
                n,
                [
                    pfd.as_mut_ptr() as u64,
                    1,
                    ts.as_mut_ptr() as u64,
                    &empty as *const u64 as u64,
                    8,
                    0,
                ],
            ),
            _ => sys(
                n,
                [
                    epfd,
                    ev.as_mut_ptr() as u64,
                    1,
                    10_000,
                    &empty as *const u64 as u64,
                    8,
                ],
            ),
        }
    };

    for (call, n) in [("pselect6", 270), ("ppoll", 271), ("epoll_pwait", 281)] {
        fired(SIGUSR1).store(0, SeqCst);
        sys(62, [me, SIGUSR1, 0, 0, 0, 0]);
        let before = fired(SIGUSR1).load(SeqCst);
        let r = wait(n);
        c.eq(
            &format!("part {part}: {call} with a mask: interrupted"),
            (before, r),
            (0, -EINTR),
        );
        c.eq(
            &format!("part {part}: {call}: the handler ran once"),
            fired(SIGUSR1).load(SeqCst),
            1,
        );
        c.eq(
            &format!("part {part}: {call}: the mask is back"),
            blocked() & bit(SIGUSR1),
            bit(SIGUSR1),
        );
        // With data waiting, the same call says so.
        sys(1, [wfd, b"x".as_ptr() as u64, 1, 0, 0, 0]);
        c.eq(
            &format!("part {part}: {call}: the pipe is ready"),
            wait(n),
            1,
        );
        let mut b = [0u8; 1];
        sys(0, [rfd, b.as_mut_ptr() as u64, 1, 0, 0, 0]);
    }
}

fn case_masks(c: &mut Checks, dir: &str) {
    c.eq("SIGUSR1 handler", catch(SIGUSR1, count), 0);
    c.eq("block SIGUSR1", mask(SIG_SETMASK, bit(SIGUSR1)), 0);
    let mut p = [0i32; 2];
    c.eq("pipe2", sys(293, [p.as_mut_ptr() as u64, 0, 0, 0, 0, 0]), 0);
    let (rfd, wfd) = (p[0] as u64, p[1] as u64);
    let epfd = sys(291, [0; 6]);
    c.check("epoll_create1", epfd >= 0, || format!("{epfd}"));
    let epfd = epfd as u64;
    let mut ev = [0u8; 12];
    ev[..4].copy_from_slice(&1u32.to_ne_bytes());
    c.eq(
        "epoll_ctl add the pipe",
        sys(233, [epfd, 1, rfd, ev.as_mut_ptr() as u64, 0, 0]),
        0,
    );
    in_three_parts(c, dir, |c, part| masks_round(c, part, rfd, wfd, epfd));
}

// --- scm --------------------------------------------------------------------------------------

/// `struct user_msghdr` with one iovec and a control buffer.
fn msghdr(iov: &[u64; 2], control: &mut [u8]) -> [u64; 7] {
    [
        0,
        0,
        iov.as_ptr() as u64,
        1,
        control.as_mut_ptr() as u64,
        control.len() as u64,
        0,
    ]
}

/// A control message: `cmsghdr` (length, level 1 = SOL_SOCKET, type) and data, padded.
fn cmsg(kind: u32, data: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&(16 + data.len() as u64).to_ne_bytes());
    v.extend_from_slice(&1u32.to_ne_bytes());
    v.extend_from_slice(&kind.to_ne_bytes());
    v.extend_from_slice(data);
    v.resize(v.len().next_multiple_of(8), 0);
    v
}

/// setsockopt(fd, SOL_SOCKET, SO_PASSCRED, on).
fn passcred(fd: u64, on: i32) -> i64 {
    sys(54, [fd, 1, 16, &on as *const i32 as u64, 4, 0])
}

/// `open(file, O_RDONLY)`.
fn open_ro(file: &str) -> i64 {
    let path = std::ffi::CString::new(file).unwrap();
    sys(2, [path.as_ptr() as u64, 0, 0, 0, 0, 0])
}

/// `sendmsg` of the byte `what` with control data `ctl` on `fd`.
fn send_byte(fd: u64, what: &'static [u8; 1], ctl: &mut [u8]) -> i64 {
    let iov: [u64; 2] = [what.as_ptr() as u64, 1];
    let m = msghdr(&iov, ctl);
    sys(46, [fd, m.as_ptr() as u64, 0, 0, 0, 0])
}

/// `recvmsg` of one byte on `fd`, control data into `room`: the result, the byte and the
/// message header as the kernel left it.
fn recv_byte(fd: u64, room: &mut [u8]) -> (i64, u8, [u64; 7]) {
    let mut byte = [0u8; 1];
    let iov: [u64; 2] = [byte.as_mut_ptr() as u64, 1];
    let mut m = msghdr(&iov, room);
    let r = sys(47, [fd, m.as_mut_ptr() as u64, 0, 0, 0, 0]);
    (r, byte[0], m)
}

fn scm_round(c: &mut Checks, part: u32, sv: [u64; 2], file: &str) {
    let me = pid();
    let f = open_ro(file);
    c.check(&format!("part {part}: open the file"), f >= 0, || {
        format!("{f}")
    });
    // SCM_RIGHTS: the descriptor goes over the socket pair and comes back as another.
    let mut ctl = cmsg(1, &(f as i32).to_ne_bytes());
    let r = send_byte(sv[0], b"r", &mut ctl);
    c.eq(&format!("part {part}: sendmsg SCM_RIGHTS"), r, 1);
    let mut room = [0u8; 64];
    let (r, byte, m) = recv_byte(sv[1], &mut room);
    c.eq(
        &format!("part {part}: recvmsg SCM_RIGHTS"),
        (r, byte),
        (1, b'r'),
    );
    let clen = m[5] as usize;
    let level_type = (
        u32::from_ne_bytes(room[8..12].try_into().unwrap()),
        u32::from_ne_bytes(room[12..16].try_into().unwrap()),
    );
    c.eq(
        &format!("part {part}: one descriptor received"),
        (clen, level_type, m[6] & 8),
        (24, (1, 1), 0),
    );
    let g = i32::from_ne_bytes(room[16..20].try_into().unwrap()) as u64;
    c.check(
        &format!("part {part}: it is a new descriptor"),
        g != f as u64,
        || format!("same as {f}"),
    );
    // The two share one open file: reading through the new one moves the old one's offset.
    let mut buf = [0u8; 5];
    let n = sys(0, [g, buf.as_mut_ptr() as u64, 5, 0, 0, 0]);
    c.eq(
        &format!("part {part}: read through it"),
        (n, &buf[..]),
        (5, &b"hello"[..]),
    );
    c.eq(
        &format!("part {part}: the sent one's offset moved"),
        sys(8, [f as u64, 0, 1, 0, 0, 0]),
        5,
    );
    sys(3, [g, 0, 0, 0, 0, 0]);
    sys(3, [f as u64, 0, 0, 0, 0, 0]);

    // SCM_CREDENTIALS: its own pid, uid and gid (SO_PASSCRED on the receiving end, for this
    // message alone).
    c.eq(
        &format!("part {part}: SO_PASSCRED on"),
        passcred(sv[1], 1),
        0,
    );
    let uid = sys(102, [0; 6]) as u32;
    let gid = sys(104, [0; 6]) as u32;
    let mut creds = Vec::new();
    creds.extend_from_slice(&(me as u32).to_ne_bytes());
    creds.extend_from_slice(&uid.to_ne_bytes());
    creds.extend_from_slice(&gid.to_ne_bytes());
    let mut ctl = cmsg(2, &creds);
    let r = send_byte(sv[0], b"c", &mut ctl);
    c.eq(&format!("part {part}: sendmsg SCM_CREDENTIALS"), r, 1);
    let mut room = [0u8; 64];
    let (r, byte, m) = recv_byte(sv[1], &mut room);
    c.eq(
        &format!("part {part}: recvmsg SCM_CREDENTIALS"),
        (r, byte),
        (1, b'c'),
    );
    let kind = u32::from_ne_bytes(room[12..16].try_into().unwrap());
    let got_pid = u32::from_ne_bytes(room[16..20].try_into().unwrap());
    let got_uid = u32::from_ne_bytes(room[20..24].try_into().unwrap());
    c.eq(
        &format!("part {part}: its own credentials"),
        (m[5], kind, u64::from(got_pid), got_uid),
        (32, 2, me, uid),
    );
    c.eq(
        &format!("part {part}: SO_PASSCRED off"),
        passcred(sv[1], 0),
        0,
    );

    // A control buffer too small for what comes: cut, and said so.
    let f = open_ro(file);
    let mut ctl = cmsg(1, &(f as i32).to_ne_bytes());
    send_byte(sv[0], b"t", &mut ctl);
    sys(3, [f as u64, 0, 0, 0, 0, 0]);
    let mut room = [0u8; 12];
    let (r, byte, m) = recv_byte(sv[1], &mut room);
    c.eq(
        &format!("part {part}: a control buffer too small: MSG_CTRUNC"),
        (r, byte, m[6] & 8),
        (1, b't', 8),
    );
}

fn case_scm(c: &mut Checks, dir: &str) {
    let file = format!("{dir}/scm.file");
    c.check(
        "write the file",
        std::fs::write(&file, b"hello world").is_ok(),
        String::new,
    );
    let mut sv = [0i32; 2];
    // socketpair(AF_UNIX, SOCK_STREAM, 0, sv)
    c.eq(
        "socketpair",
        sys(53, [1, 1, 0, sv.as_mut_ptr() as u64, 0, 0]),
        0,
    );
    let sv = [sv[0] as u64, sv[1] as u64];
    in_three_parts(c, dir, |c, part| scm_round(c, part, sv, &file));
}

// --- msgq -------------------------------------------------------------------------------------

const IPC_NOWAIT: u64 = 0o4000;
const MSG_NOERROR: u64 = 0o10000;
const ENOMSG: i64 = 42;
const E2BIG: i64 = 7;
const EINVAL: i64 = 22;

/// `msgsnd` of a message of type `kind` with text `text` to queue `q`.
fn msg_send(q: u64, kind: u64, text: &[u8]) -> i64 {
    let mut m = kind.to_ne_bytes().to_vec();
    m.extend_from_slice(text);
    sys(
        69,
        [q, m.as_ptr() as u64, text.len() as u64, IPC_NOWAIT, 0, 0],
    )
}

/// `msgrcv` of up to `size` bytes of text of a message chosen by `kind` from queue `q`: the
/// result, the message's type and its text.
fn msg_recv(q: u64, size: usize, kind: u64, flags: u64) -> (i64, u64, Vec<u8>) {
    let mut m = vec![0u8; 8 + size];
    let r = sys(70, [q, m.as_mut_ptr() as u64, size as u64, kind, flags, 0]);
    let got = u64::from_ne_bytes(m[..8].try_into().unwrap());
    let n = usize::try_from(r).unwrap_or(0).min(size);
    (r, got, m[8..8 + n].to_vec())
}

fn msgq_round(c: &mut Checks, part: u32, q: u64) {
    let me = pid();
    let one = format!("one, part {part}");
    let two = format!("the second message, part {part}");
    c.eq(
        &format!("part {part}: msgsnd type 1"),
        msg_send(q, 1, one.as_bytes()),
        0,
    );
    c.eq(
        &format!("part {part}: msgsnd type 2"),
        msg_send(q, 2, two.as_bytes()),
        0,
    );
    // IPC_STAT: two messages, the last sent by its own pid.
    let mut ds = [0u8; 120];
    let r = sys(71, [q, 2, ds.as_mut_ptr() as u64, 0, 0, 0]);
    let qnum = u64::from_ne_bytes(ds[80..88].try_into().unwrap());
    let lspid = u32::from_ne_bytes(ds[96..100].try_into().unwrap());
    c.eq(
        &format!("part {part}: IPC_STAT: two messages, sent by itself"),
        (r, qnum, u64::from(lspid)),
        (0, 2, me),
    );
    // Type 2 first, then whatever comes first.
    c.eq(
        &format!("part {part}: msgrcv type 2"),
        msg_recv(q, 256, 2, 0),
        (two.len() as i64, 2, two.clone().into_bytes()),
    );
    // Too long for the room: E2BIG and left in the queue, unless MSG_NOERROR cuts it.
    c.eq(
        &format!("part {part}: msgrcv too small: E2BIG"),
        msg_recv(q, 3, 0, 0).0,
        -E2BIG,
    );
    c.eq(
        &format!("part {part}: msgrcv MSG_NOERROR: cut"),
        msg_recv(q, 3, 0, MSG_NOERROR),
        (3, 1, one.as_bytes()[..3].to_vec()),
    );
    c.eq(
        &format!("part {part}: msgrcv IPC_NOWAIT of an empty queue: ENOMSG"),
        msg_recv(q, 256, 0, IPC_NOWAIT).0,
        -ENOMSG,
    );
    // MSG_INFO: the queues in use (at least this one) and the longest message allowed.
    let mut info = [0u8; 32];
    let r = sys(71, [0, 12, info.as_mut_ptr() as u64, 0, 0, 0]);
    let pool = i32::from_ne_bytes(info[..4].try_into().unwrap());
    let max = i32::from_ne_bytes(info[8..12].try_into().unwrap());
    c.check(
        &format!("part {part}: MSG_INFO: a queue in use, messages allowed"),
        r >= 0 && pool >= 1 && max > 0,
        || format!("{r}, {pool} queues, longest {max}"),
    );
}

fn case_msgq(c: &mut Checks, dir: &str) {
    // msgget(IPC_PRIVATE, IPC_CREAT | 0600)
    let q = sys(68, [0, 0o1000 | 0o600, 0, 0, 0, 0]);
    c.check("msgget", q >= 0, || format!("{q}"));
    let q = q as u64;
    in_three_parts(c, dir, |c, part| msgq_round(c, part, q));
    c.eq("IPC_RMID", sys(71, [q, 0, 0, 0, 0, 0]), 0);
    c.eq(
        "msgsnd to the removed queue: EINVAL",
        msg_send(q, 1, b"x"),
        -EINVAL,
    );
}

// --- limits -----------------------------------------------------------------------------------

const RLIMIT_NOFILE: u64 = 7;
const RLIMIT_AS: u64 = 9;
const ENOMEM: i64 = 12;

/// getrlimit(resource): the result, the soft and the hard limit.
fn getrlimit(resource: u64) -> (i64, u64, u64) {
    let mut l = [0u64; 2];
    let r = sys(97, [resource, l.as_mut_ptr() as u64, 0, 0, 0, 0]);
    (r, l[0], l[1])
}

fn setrlimit(resource: u64, soft: u64, hard: u64) -> i64 {
    let l = [soft, hard];
    sys(160, [resource, l.as_ptr() as u64, 0, 0, 0, 0])
}

/// prlimit64(pid, resource, new, old): the result and the old limits.
fn prlimit(pid: u64, resource: u64, new: Option<(u64, u64)>) -> (i64, u64, u64) {
    let n = new.map(|(a, b)| [a, b]);
    let at = n.as_ref().map_or(0, |n| n.as_ptr() as u64);
    let mut old = [0u64; 2];
    let r = sys(302, [pid, resource, at, old.as_mut_ptr() as u64, 0, 0]);
    (r, old[0], old[1])
}

/// Reserves 128 GiB of address space (no access, no memory), and gives it back: the result
/// of the mmap, 0 when it worked.
fn reserve_much() -> i64 {
    // mmap(NULL, 128 GiB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
    let len = 128u64 << 30;
    let at = sys(9, [0, len, 0, 0x2 | 0x20 | 0x4000, u64::MAX, 0]);
    if at < 0 {
        return at;
    }
    sys(11, [at as u64, len, 0, 0, 0, 0])
}

fn limits_round(c: &mut Checks, part: u32) {
    let me = pid();
    let p = u64::from(part);
    let (r, _, hard) = getrlimit(RLIMIT_NOFILE);
    c.eq(&format!("part {part}: getrlimit NOFILE"), r, 0);
    // The soft limit lowered by setrlimit, then changed by prlimit64, which says the old one.
    c.eq(
        &format!("part {part}: setrlimit NOFILE"),
        setrlimit(RLIMIT_NOFILE, 200 + p, hard),
        0,
    );
    c.eq(
        &format!("part {part}: getrlimit sees it"),
        getrlimit(RLIMIT_NOFILE),
        (0, 200 + p, hard),
    );
    c.eq(
        &format!("part {part}: prlimit64 of its pid sees it"),
        prlimit(me, RLIMIT_NOFILE, None),
        (0, 200 + p, hard),
    );
    c.eq(
        &format!("part {part}: prlimit64 sets and says the old one"),
        prlimit(0, RLIMIT_NOFILE, Some((300 + p, hard))),
        (0, 200 + p, hard),
    );
    c.eq(
        &format!("part {part}: getrlimit sees that"),
        getrlimit(RLIMIT_NOFILE),
        (0, 300 + p, hard),
    );
    // The hard limit lowered, and raised again (it runs as root, who may).
    let low = 4000 - p;
    c.eq(
        &format!("part {part}: hard limit lowered"),
        (
            setrlimit(RLIMIT_NOFILE, 300 + p, low),
            getrlimit(RLIMIT_NOFILE),
        ),
        (0, (0, 300 + p, low)),
    );
    c.eq(
        &format!("part {part}: hard limit raised by root"),
        (
            setrlimit(RLIMIT_NOFILE, 300 + p, low + 1),
            getrlimit(RLIMIT_NOFILE),
        ),
        (0, (0, 300 + p, low + 1)),
    );
    // Refused: soft above hard, an unknown resource; nothing changes.
    c.eq(
        &format!("part {part}: soft above hard: EINVAL"),
        setrlimit(RLIMIT_NOFILE, 100, 50),
        -EINVAL,
    );
    c.eq(
        &format!("part {part}: resource 99: EINVAL"),
        prlimit(0, 99, Some((1, 1))).0,
        -EINVAL,
    );
    c.eq(
        &format!("part {part}: the limits as they were"),
        getrlimit(RLIMIT_NOFILE),
        (0, 300 + p, low + 1),
    );
    // The address-space limit acts where the process runs.
    let (r, soft, hard) = getrlimit(RLIMIT_AS);
    c.eq(&format!("part {part}: getrlimit AS"), r, 0);
    c.eq(
        &format!("part {part}: 128 GiB reserved without a limit"),
        reserve_much(),
        0,
    );
    c.eq(
        &format!("part {part}: AS limited to 64 GiB"),
        setrlimit(RLIMIT_AS, 64 << 30, hard),
        0,
    );
    c.eq(
        &format!("part {part}: 128 GiB refused under it: ENOMEM"),
        reserve_much(),
        -ENOMEM,
    );
    c.eq(
        &format!("part {part}: AS as it was"),
        setrlimit(RLIMIT_AS, soft, hard),
        0,
    );
    c.eq(
        &format!("part {part}: 128 GiB reserved again"),
        reserve_much(),
        0,
    );
}

fn case_limits(c: &mut Checks, dir: &str) {
    in_three_parts(c, dir, limits_round);
}

// --- usage ------------------------------------------------------------------------------------

const RUSAGE_SELF: u64 = 0;
const RUSAGE_CHILDREN: u64 = u64::MAX; // -1
const CLOCK_PROCESS_CPUTIME_ID: u64 = 2;
/// CPU time each part burns.
const BURN_NS: u64 = 300_000_000;

/// User plus system time of `getrusage(who)`, in microseconds; `None` if the call failed.
fn rusage_us(who: u64) -> Option<u64> {
    let mut ru = [0i64; 18];
    let r = sys(98, [who, ru.as_mut_ptr() as u64, 0, 0, 0, 0]);
    (r == 0).then(|| (ru[0] * 1_000_000 + ru[1] + ru[2] * 1_000_000 + ru[3]) as u64)
}

/// User plus system ticks of `times`; `None` if the call failed.
fn times_ticks() -> Option<u64> {
    let mut t = [0u64; 4];
    let r = sys(100, [t.as_mut_ptr() as u64, 0, 0, 0, 0, 0]);
    (!(-4095..0).contains(&r)).then(|| t[0] + t[1])
}

/// The process's CPU clock here, in nanoseconds.
fn cpu_clock_ns() -> u64 {
    let mut ts = [0u64; 2];
    sys(
        228,
        [CLOCK_PROCESS_CPUTIME_ID, ts.as_mut_ptr() as u64, 0, 0, 0, 0],
    );
    ts[0] * 1_000_000_000 + ts[1]
}

/// Runs on the CPU until its clock says `ns` more (however long that takes on this machine).
fn burn(ns: u64) {
    let until = cpu_clock_ns() + ns;
    let mut x = 1u64;
    while cpu_clock_ns() < until {
        for _ in 0..10_000 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
    }
}

/// One part of the child: its own usage never goes back (across a move too), and grows by
/// what it burns here, in `getrusage` and in `times`.
fn usage_round(c: &mut Checks, part: u32, last: &mut (u64, u64, u64)) {
    let (Some(u0), Some(t0)) = (rusage_us(RUSAGE_SELF), times_ticks()) else {
        c.check(&format!("part {part}: getrusage and times"), false, || {
            "failed".into()
        });
        return;
    };
    c.check(
        &format!("part {part}: its CPU time never goes back"),
        u0 >= last.0 && t0 >= last.1,
        || {
            format!(
                "getrusage {u0} us after {}, times {t0} after {}",
                last.0, last.1
            )
        },
    );
    // Its CPU clock too (it counts what it burned: `burn` runs by it).
    let k0 = cpu_clock_ns();
    c.check(
        &format!("part {part}: its CPU clock never goes back"),
        k0 >= last.2,
        || format!("clock {k0} ns after {}", last.2),
    );
    // Another process's CPU clock (its parent's, at home), and one of no process: as at home.
    let clock_of_pid = |pid: i64| {
        let mut ts = [0u64; 2];
        let id = u64::from((!(pid as i32) << 3 | 2) as u32);
        sys(228, [id, ts.as_mut_ptr() as u64, 0, 0, 0, 0])
    };
    let parent = sys(110, [0; 6]);
    c.eq(
        &format!("part {part}: its parent's CPU clock"),
        clock_of_pid(parent),
        0,
    );
    c.eq(
        &format!("part {part}: the CPU clock of no process: EINVAL"),
        clock_of_pid(4_000_000),
        -22,
    );
    burn(BURN_NS);
    let (u1, t1) = (
        rusage_us(RUSAGE_SELF).unwrap_or(0),
        times_ticks().unwrap_or(0),
    );
    // What it burned, less a margin for rounding (ticks of 10 ms).
    c.check(
        &format!("part {part}: getrusage counts what it burned"),
        u1 >= u0 + BURN_NS / 1000 * 8 / 10,
        || format!("{u0} -> {u1} us"),
    );
    c.check(
        &format!("part {part}: times counts what it burned"),
        t1 >= t0 + BURN_NS / 10_000_000 * 8 / 10,
        || format!("{t0} -> {t1} ticks"),
    );
    *last = (u1, t1, cpu_clock_ns());
}

fn case_usage(c: &mut Checks, dir: &str) {
    use std::io::Write;
    std::io::stdout().flush().ok();
    // The child does the work (and is the one moved: its pid is in DIR/pid); the parent stays
    // and checks what its wait says of the child's CPU time.
    let child = sys(57, [0; 6]);
    if child == 0 {
        let _ = std::fs::write(Path::new(dir).join("pid"), pid().to_string());
        let mut last = (0, 0, 0);
        in_three_parts(c, dir, |c, part| usage_round(c, part, &mut last));
        std::io::stdout().flush().ok();
        std::process::exit(i32::from(c.failed));
    }
    if child < 0 {
        c.check("fork", false, || format!("{child}"));
        return;
    }
    let mut status = 0i32;
    let mut ru = [0i64; 18];
    let r = sys(
        61,
        [
            child as u64,
            &mut status as *mut i32 as u64,
            0,
            ru.as_mut_ptr() as u64,
            0,
            0,
        ],
    );
    c.eq("the child ends well", (r, status), (child, 0));
    let used = (ru[0] * 1_000_000 + ru[1] + ru[2] * 1_000_000 + ru[3]) as u64;
    let burned = 3 * BURN_NS / 1000;
    c.check(
        "wait4 counts all the child burned",
        used >= burned * 9 / 10,
        || format!("{used} us of {burned}"),
    );
    let children = rusage_us(RUSAGE_CHILDREN).unwrap_or(0);
    c.check(
        "getrusage of its children counts it",
        children >= burned * 9 / 10,
        || format!("{children} us of {burned}"),
    );
}

// --- procself ---------------------------------------------------------------------------------

/// Where `procself` maps its own area: 3 pages, read and write, private.
const AREA: u64 = 0x2000_0000_0000;
const AREA_LEN: u64 = 3 * 4096;

fn procself_round(c: &mut Checks, part: u32, dir: &str) {
    let me = pid();
    let read = |p: &str| std::fs::read(p).unwrap_or_default();
    // cmdline and environ: its own arguments and environment, as it started.
    let mut args = Vec::new();
    for a in std::env::args_os() {
        args.extend_from_slice(a.as_encoded_bytes());
        args.push(0);
    }
    let cmdline = read("/proc/self/cmdline");
    c.eq(
        &format!("part {part}: /proc/self/cmdline is its arguments"),
        String::from_utf8_lossy(&cmdline),
        String::from_utf8_lossy(&args),
    );
    c.eq(
        &format!("part {part}: /proc/PID/cmdline too"),
        read(&format!("/proc/{me}/cmdline")),
        cmdline.clone(),
    );
    let mut env = Vec::new();
    for (k, v) in std::env::vars_os() {
        env.extend_from_slice(k.as_encoded_bytes());
        env.push(b'=');
        env.extend_from_slice(v.as_encoded_bytes());
        env.push(0);
    }
    c.eq(
        &format!("part {part}: /proc/self/environ is its environment"),
        String::from_utf8_lossy(&read("/proc/self/environ")),
        String::from_utf8_lossy(&env),
    );
    // maps: its own area, where it is, as it is; its stack.
    let maps = String::from_utf8_lossy(&read("/proc/self/maps")).into_owned();
    let line = format!("{AREA:x}-{:x} rw-p 00000000 00:00 0", AREA + AREA_LEN);
    c.check(
        &format!("part {part}: /proc/self/maps shows its area"),
        maps.lines().any(|l| l.trim_end() == line),
        || format!("no {line:?} in:\n{maps}"),
    );
    c.check(
        &format!("part {part}: /proc/self/maps shows its stack"),
        maps.lines().any(|l| l.ends_with("[stack]")),
        || format!("no [stack] in:\n{maps}"),
    );
    let t = String::from_utf8_lossy(&read("/proc/thread-self/maps")).into_owned();
    c.check(
        &format!("part {part}: /proc/thread-self/maps too"),
        t.lines().any(|l| l.trim_end() == line),
        || format!("no {line:?} in:\n{t}"),
    );
    let rollup = String::from_utf8_lossy(&read("/proc/self/smaps_rollup")).into_owned();
    c.check(
        &format!("part {part}: smaps_rollup counts resident memory"),
        rollup.lines().any(|l| l.starts_with("Rss:")),
        || rollup.clone(),
    );
    let statm = String::from_utf8_lossy(&read("/proc/self/statm")).into_owned();
    let size: u64 = statm
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    c.check(
        &format!("part {part}: statm counts its area"),
        statm.split(' ').count() == 7 && size >= 3,
        || statm.clone(),
    );
    // auxv: pairs of words; AT_PAGESZ (6) is 4096.
    let auxv = read("/proc/self/auxv");
    let page = auxv
        .chunks_exact(16)
        .map(|p| {
            (
                u64::from_ne_bytes(p[..8].try_into().unwrap()),
                u64::from_ne_bytes(p[8..].try_into().unwrap()),
            )
        })
        .find(|&(k, _)| k == 6);
    c.eq(
        &format!("part {part}: auxv says the page size"),
        page,
        Some((6, 4096)),
    );
    // status, exe and fd: its ids, its program and its descriptors, from home.
    let status = String::from_utf8_lossy(&read("/proc/self/status")).into_owned();
    let ppid = sys(110, [0; 6]);
    for (what, want) in [
        ("name", "Name:\tomx-t".to_string()),
        ("pid", format!("Pid:\t{me}")),
        ("parent", format!("PPid:\t{ppid}")),
    ] {
        c.check(
            &format!("part {part}: /proc/self/status says its {what}"),
            status.lines().any(|l| l == want),
            || status.clone(),
        );
    }
    // Its memory lines are its own memory's: its area, locked, is what VmLck counts.
    let locked = sys(149, [AREA, AREA_LEN, 0, 0, 0, 0]); // mlock
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let vmlck = status
        .lines()
        .find_map(|l| l.strip_prefix("VmLck:"))
        .map(|v| v.trim().to_string());
    c.eq(
        &format!("part {part}: /proc/self/status counts its locked area"),
        (locked, vmlck),
        (0, Some(format!("{} kB", AREA_LEN / 1024))),
    );
    sys(150, [AREA, AREA_LEN, 0, 0, 0, 0]); // munlock
                                            // Opened as a directory, it is not one (ENOTDIR), as at home.
    let maps = std::ffi::CString::new("/proc/self/maps").unwrap();
    c.eq(
        &format!("part {part}: /proc/self/maps with O_DIRECTORY: ENOTDIR"),
        sys(2, [maps.as_ptr() as u64, 0o200000, 0, 0, 0, 0]),
        -20,
    );
    let exe = std::fs::read_link("/proc/self/exe").unwrap_or_default();
    c.check(
        &format!("part {part}: /proc/self/exe is its program"),
        exe.ends_with("omx-t"),
        || format!("{exe:?}"),
    );
    let path = format!("{dir}/procself.{part}");
    let f = std::fs::File::create(&path);
    let link = f.as_ref().ok().and_then(|f| {
        use std::os::fd::AsRawFd;
        std::fs::read_link(format!("/proc/self/fd/{}", f.as_raw_fd())).ok()
    });
    c.eq(
        &format!("part {part}: /proc/self/fd names its file"),
        link.map(|l| l.to_string_lossy().into_owned()),
        Some(path),
    );
}

fn case_procself(c: &mut Checks, dir: &str) {
    // mmap(AREA, 3 pages, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS |
    // MAP_FIXED_NOREPLACE, -1, 0), written.
    let at = sys(9, [AREA, AREA_LEN, 3, 0x2 | 0x20 | 0x100000, u64::MAX, 0]);
    c.eq("map its area", at, AREA as i64);
    if at == AREA as i64 {
        // SAFETY: the area was just mapped readable and writable, AREA_LEN bytes long.
        unsafe { std::ptr::write_bytes(AREA as *mut u8, 0x5a, AREA_LEN as usize) };
    }
    let d = dir.to_string();
    in_three_parts(c, dir, |c, part| procself_round(c, part, &d));
}

// --- prctl ------------------------------------------------------------------------------------

fn prctl(option: u64, a: u64, b: u64) -> i64 {
    sys(157, [option, a, b, 0, 0, 0])
}

fn prctl_round(c: &mut Checks, part: u32) {
    let p = u64::from(part);
    // Its name: here and at home (where /proc/self is).
    let name = format!("omx-t-p{part}");
    let cname = std::ffi::CString::new(name.clone()).unwrap();
    c.eq(
        &format!("part {part}: PR_SET_NAME"),
        prctl(15, cname.as_ptr() as u64, 0),
        0,
    );
    let mut got = [0u8; 16];
    let r = prctl(16, got.as_mut_ptr() as u64, 0);
    let len = got.iter().position(|&b| b == 0).unwrap_or(16);
    c.eq(
        &format!("part {part}: PR_GET_NAME says it"),
        (r, String::from_utf8_lossy(&got[..len]).into_owned()),
        (0, name.clone()),
    );
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    c.check(
        &format!("part {part}: /proc/self/status says it"),
        status.lines().any(|l| l == format!("Name:\t{name}")),
        || status.lines().next().unwrap_or("").to_string(),
    );
    c.eq(
        &format!("part {part}: /proc/self/comm says it"),
        std::fs::read_to_string("/proc/self/comm").unwrap_or_default(),
        format!("{name}\n"),
    );
    // Its parent's death signal.
    c.eq(
        &format!("part {part}: PR_SET_PDEATHSIG"),
        prctl(1, 10 + p, 0),
        0,
    );
    let mut sig = 0i32;
    let r = prctl(2, &mut sig as *mut i32 as u64, 0);
    c.eq(
        &format!("part {part}: PR_GET_PDEATHSIG says it"),
        (r, sig),
        (0, 10 + part as i32),
    );
    // Dumpable, as its credentials at home make it.
    c.eq(&format!("part {part}: dumpable"), prctl(3, 0, 0), 1);
    c.eq(
        &format!("part {part}: not dumpable, then again"),
        (
            prctl(4, 0, 0),
            prctl(3, 0, 0),
            prctl(4, 1, 0),
            prctl(3, 0, 0),
        ),
        (0, 0, 0, 1),
    );
    // A subreaper of its children (which are at home).
    let mut on = 0i32;
    c.eq(
        &format!("part {part}: PR_SET_CHILD_SUBREAPER"),
        (
            prctl(36, 1, 0),
            prctl(37, &mut on as *mut i32 as u64, 0),
            on,
            prctl(36, 0, 0),
        ),
        (0, 0, 1, 0),
    );
    // Its capabilities are root's at home: CAP_SYS_ADMIN is in its bounding set.
    c.eq(
        &format!("part {part}: PR_CAPBSET_READ"),
        prctl(23, 21, 0),
        1,
    );
    // Its timer slack, where it runs.
    c.eq(
        &format!("part {part}: PR_SET_TIMERSLACK"),
        (prctl(29, 200_000 + p, 0), prctl(30, 0, 0)),
        (0, 200_000 + i64::from(part)),
    );
    // No new privileges: not set, until the last part sets it.
    if part < 2 {
        c.eq(
            &format!("part {part}: no_new_privs unset"),
            prctl(39, 0, 0),
            0,
        );
    } else {
        c.eq(
            &format!("part {part}: no_new_privs set"),
            (prctl(38, 1, 0), prctl(39, 0, 0)),
            (0, 1),
        );
    }
}

fn case_prctl(c: &mut Checks, dir: &str) {
    in_three_parts(c, dir, prctl_round);
}

// --- ioctl ------------------------------------------------------------------------------------

const ENOTTY: i64 = 25;

/// `ioctl(fd, cmd, arg)`.
fn ioctl(fd: u64, cmd: u64, arg: u64) -> i64 {
    sys(16, [fd, cmd, arg, 0, 0, 0])
}

/// `ioctl(fd, cmd, ifreq)` for interface `name`: the result and the ifreq after it.
fn ifreq(fd: u64, cmd: u64, name: &[u8]) -> (i64, [u8; 40]) {
    let mut r = [0u8; 40];
    r[..name.len()].copy_from_slice(name);
    (ioctl(fd, cmd, r.as_mut_ptr() as u64), r)
}

fn ioctl_round(c: &mut Checks, part: u32, dir: &str) {
    // A socket asks about the loopback interface (of the home node).
    let s = sys(41, [2, 2, 0, 0, 0, 0]); // socket(AF_INET, SOCK_DGRAM, 0)
    c.check(&format!("part {part}: socket"), s >= 0, || format!("{s}"));
    let s = s as u64;
    let (r, idx) = ifreq(s, 0x8933, b"lo"); // SIOCGIFINDEX
    let index = i32::from_ne_bytes(idx[16..20].try_into().unwrap());
    c.eq(
        &format!("part {part}: SIOCGIFINDEX of lo"),
        (r, index),
        (0, 1),
    );
    let (r, fl) = ifreq(s, 0x8913, b"lo"); // SIOCGIFFLAGS
    let flags = u16::from_ne_bytes(fl[16..18].try_into().unwrap());
    c.eq(
        &format!("part {part}: SIOCGIFFLAGS of lo: up, loopback"),
        (r, flags & 0x9),
        (0, 0x9),
    );
    // SIOCGIFNAME: the name of index 1.
    let mut by_index = [0u8; 40];
    by_index[16..20].copy_from_slice(&1i32.to_ne_bytes());
    let r2 = ioctl(s, 0x8910, by_index.as_mut_ptr() as u64);
    c.eq(
        &format!("part {part}: SIOCGIFNAME of index 1"),
        (r2, &by_index[..3]),
        (0, &b"lo\0"[..]),
    );
    sys(3, [s, 0, 0, 0, 0, 0]);
    // A socket pair: nothing queued.
    let mut sv = [0i32; 2];
    sys(53, [1, 1, 0, sv.as_mut_ptr() as u64, 0, 0]);
    let mut n = -1i32;
    let r = ioctl(sv[0] as u64, 0x5411, &mut n as *mut i32 as u64); // TIOCOUTQ
    c.eq(
        &format!("part {part}: TIOCOUTQ of a socket"),
        (r, n),
        (0, 0),
    );
    sys(3, [sv[0] as u64, 0, 0, 0, 0, 0]);
    sys(3, [sv[1] as u64, 0, 0, 0, 0, 0]);
    // A regular file: its size, its block size; not a terminal.
    let path = format!("{dir}/ioctl.file");
    let _ = std::fs::write(&path, b"eleven byte");
    let f = open_ro(&path);
    // FIOQSIZE: the bytes it takes on its disk (what depends on the file system's allocation).
    let mut size = -1i64;
    let r = ioctl(f as u64, 0x5460, &mut size as *mut i64 as u64);
    c.check(
        &format!("part {part}: FIOQSIZE of a file"),
        r == 0 && size >= 0,
        || format!("{r}, {size}"),
    );
    let mut bs = 0i32;
    let r = ioctl(f as u64, 0x2, &mut bs as *mut i32 as u64); // FIGETBSZ
    c.check(
        &format!("part {part}: FIGETBSZ of a file"),
        r == 0 && bs > 0,
        || format!("{r}, {bs}"),
    );
    let mut termio = [0u8; 18];
    c.eq(
        &format!("part {part}: TCGETA of a file: ENOTTY"),
        ioctl(f as u64, 0x5405, termio.as_mut_ptr() as u64),
        -ENOTTY,
    );
    let on = 0i32;
    c.eq(
        &format!("part {part}: FIOASYNC off"),
        ioctl(f as u64, 0x5452, &on as *const i32 as u64),
        0,
    );
    sys(3, [f as u64, 0, 0, 0, 0, 0]);
}

fn case_ioctl(c: &mut Checks, dir: &str) {
    let d = dir.to_string();
    in_three_parts(c, dir, |c, part| ioctl_round(c, part, &d));
}

// --- mmsg -------------------------------------------------------------------------------------

/// `struct mmsghdr` for one buffer each: headers, iovecs and the buffers they point to.
struct Mmsg {
    hdrs: Vec<[u64; 8]>,
    iovs: Vec<[u64; 2]>,
    bufs: Vec<Vec<u8>>,
}

impl Mmsg {
    fn new(bufs: Vec<Vec<u8>>) -> Self {
        let mut m = Self {
            hdrs: vec![[0; 8]; bufs.len()],
            iovs: vec![[0; 2]; bufs.len()],
            bufs,
        };
        for i in 0..m.bufs.len() {
            m.iovs[i] = [m.bufs[i].as_mut_ptr() as u64, m.bufs[i].len() as u64];
            // msghdr: name, namelen, iov, iovlen, control, controllen, flags; then msg_len.
            m.hdrs[i][2] = m.iovs[i].as_ptr() as u64;
            m.hdrs[i][3] = 1;
        }
        m
    }

    fn lens(&self) -> Vec<u32> {
        self.hdrs.iter().map(|h| h[7] as u32).collect()
    }
}

fn mmsg_round(c: &mut Checks, part: u32, sv: [u64; 2]) {
    // Three datagrams in one sendmmsg, then all in one recvmmsg.
    let mut out = Mmsg::new(vec![
        b"a".to_vec(),
        b"bb".to_vec(),
        format!("part {part}").into(),
    ]);
    let n = out.hdrs.len() as u64;
    let r = sys(307, [sv[0], out.hdrs.as_mut_ptr() as u64, n, 0, 0, 0]);
    c.eq(
        &format!("part {part}: sendmmsg of 3"),
        (r, out.lens()),
        (3, vec![1, 2, 6]),
    );
    let mut inp = Mmsg::new(vec![vec![0u8; 16]; 4]);
    let r = sys(299, [sv[1], inp.hdrs.as_mut_ptr() as u64, 4, 0x40, 0, 0]);
    let got: Vec<Vec<u8>> = (0..3)
        .map(|i| inp.bufs[i][..inp.hdrs[i][7] as usize].to_vec())
        .collect();
    c.eq(
        &format!("part {part}: recvmmsg of 4 gets the 3"),
        (r, got),
        (
            3,
            vec![b"a".to_vec(), b"bb".to_vec(), format!("part {part}").into()],
        ),
    );
    let r = sys(299, [sv[1], inp.hdrs.as_mut_ptr() as u64, 4, 0x40, 0, 0]);
    c.eq(&format!("part {part}: none left: EAGAIN"), r, -EAGAIN);
    // MSG_WAITFORONE: waits for the first, takes what else is there.
    let mut two = Mmsg::new(vec![b"x".to_vec(), b"yz".to_vec()]);
    sys(307, [sv[0], two.hdrs.as_mut_ptr() as u64, 2, 0, 0, 0]);
    let mut inp = Mmsg::new(vec![vec![0u8; 16]; 4]);
    let r = sys(299, [sv[1], inp.hdrs.as_mut_ptr() as u64, 4, 0x10000, 0, 0]);
    c.eq(
        &format!("part {part}: recvmmsg MSG_WAITFORONE"),
        (r, inp.lens()[..2].to_vec()),
        (2, vec![1, 2]),
    );
    // A bad address for the first message: its error.
    c.eq(
        &format!("part {part}: sendmmsg of a bad vector: EFAULT"),
        sys(307, [sv[0], 8, 1, 0, 0, 0]),
        -14,
    );
}

fn case_mmsg(c: &mut Checks, dir: &str) {
    let mut sv = [0i32; 2];
    // socketpair(AF_UNIX, SOCK_DGRAM, 0, sv)
    c.eq(
        "socketpair",
        sys(53, [1, 2, 0, sv.as_mut_ptr() as u64, 0, 0]),
        0,
    );
    let sv = [sv[0] as u64, sv[1] as u64];
    in_three_parts(c, dir, |c, part| mmsg_round(c, part, sv));
}

// --- pvec -------------------------------------------------------------------------------------

fn pvec_round(c: &mut Checks, part: u32, dir: &str) {
    let path = format!("{dir}/pvec.{part}");
    let cpath = std::ffi::CString::new(path.clone()).unwrap();
    // open(path, O_RDWR | O_CREAT | O_TRUNC, 0600)
    let f = sys(2, [cpath.as_ptr() as u64, 0o1102, 0o600, 0, 0, 0]);
    c.check(&format!("part {part}: open"), f >= 0, || format!("{f}"));
    let f = f as u64;
    // pwritev at 4 of two buffers; the file's own position stays 0.
    let (a, b) = (b"hello ".to_vec(), format!("part {part}").into_bytes());
    let iov: [u64; 4] = [a.as_ptr() as u64, 6, b.as_ptr() as u64, b.len() as u64];
    c.eq(
        &format!("part {part}: pwritev at 4"),
        sys(296, [f, iov.as_ptr() as u64, 2, 4, 0, 0]),
        12,
    );
    c.eq(
        &format!("part {part}: its position stays"),
        sys(8, [f, 0, 1, 0, 0, 0]),
        0,
    );
    // preadv at 0 into three buffers.
    let mut bufs = [[0u8; 4]; 3];
    let iov: [u64; 6] = core::array::from_fn(|i| {
        if i % 2 == 0 {
            bufs[i / 2].as_mut_ptr() as u64
        } else {
            4
        }
    });
    let r = sys(295, [f, iov.as_ptr() as u64, 3, 0, 0, 0]);
    c.eq(
        &format!("part {part}: preadv at 0"),
        (r, bufs.concat()),
        (12, [&[0u8; 4][..], b"hello part"].concat()[..12].to_vec()),
    );
    // pwritev2 and preadv2 at -1: at the file's own position, which moves.
    let z = b"Z".to_vec();
    let iov: [u64; 2] = [z.as_ptr() as u64, 1];
    c.eq(
        &format!("part {part}: pwritev2 at its position"),
        (
            sys(328, [f, iov.as_ptr() as u64, 1, u64::MAX, 0, 0]),
            sys(8, [f, 0, 1, 0, 0, 0]),
        ),
        (1, 1),
    );
    let mut one = [0u8; 3];
    let iov: [u64; 2] = [one.as_mut_ptr() as u64, 3];
    let r = sys(327, [f, iov.as_ptr() as u64, 1, u64::MAX, 0, 0]);
    c.eq(
        &format!("part {part}: preadv2 at its position"),
        (r, one, sys(8, [f, 0, 1, 0, 0, 0])),
        (3, [0, 0, 0], 4),
    );
    sys(3, [f, 0, 0, 0, 0, 0]);
    // A process descriptor of its parent (at home): signal 0 goes.
    let ppid = sys(110, [0; 6]) as u64;
    let pfd = sys(434, [ppid, 0, 0, 0, 0, 0]);
    c.check(
        &format!("part {part}: pidfd_open of its parent"),
        pfd >= 0,
        || format!("{pfd}"),
    );
    c.eq(
        &format!("part {part}: pidfd_send_signal 0"),
        sys(424, [pfd as u64, 0, 0, 0, 0, 0]),
        0,
    );
    sys(3, [pfd as u64, 0, 0, 0, 0, 0]);
    // kcmp of its own descriptors at home: a duplicate is the same file, another open is not.
    let me = pid();
    let (a, b) = (open_ro(&path), open_ro(&path));
    let d = sys(32, [a as u64, 0, 0, 0, 0, 0]); // dup
    c.eq(
        &format!("part {part}: kcmp KCMP_FILE of a duplicate and of another open"),
        (
            sys(312, [me, me, 0, a as u64, d as u64, 0]),
            sys(312, [me, me, 0, a as u64, b as u64, 0]) > 0,
        ),
        (0, true),
    );
    for f in [a, b, d] {
        sys(3, [f as u64, 0, 0, 0, 0, 0]);
    }
    // The kernel log (its size, and the last of it), of the home node.
    let size = sys(103, [10, 0, 0, 0, 0, 0]); // SYSLOG_ACTION_SIZE_BUFFER
    let mut log = vec![0u8; 4096];
    let r = sys(103, [3, log.as_mut_ptr() as u64, 4096, 0, 0, 0]); // SYSLOG_ACTION_READ_ALL
    c.check(
        &format!("part {part}: syslog: its size, and some of it"),
        size > 0 && r > 0 && log[..r as usize].contains(&b'\n'),
        || format!("{size}, {r}"),
    );
}

fn case_pvec(c: &mut Checks, dir: &str) {
    let d = dir.to_string();
    in_three_parts(c, dir, |c, part| pvec_round(c, part, &d));
}

// --- sysv -------------------------------------------------------------------------------------

fn sysv_round(c: &mut Checks, part: u32, sem: u64, shm: u64) {
    let me = pid();
    let word = |b: &[u8], at: usize| u64::from_ne_bytes(b[at..at + 8].try_into().unwrap());
    let half = |b: &[u8], at: usize| u32::from_ne_bytes(b[at..at + 4].try_into().unwrap());
    // semctl IPC_STAT: two semaphores; IPC_SET changes the mode, which IPC_STAT then says.
    let mut ds = [0u8; 104];
    let r = sys(66, [sem, 0, 2, ds.as_mut_ptr() as u64, 0, 0]);
    c.eq(
        &format!("part {part}: semctl IPC_STAT: 2 semaphores"),
        (r, word(&ds, 80)),
        (0, 2),
    );
    let mode = 0o600 | part << 3;
    ds[20..24].copy_from_slice(&mode.to_ne_bytes());
    let set = sys(66, [sem, 0, 1, ds.as_ptr() as u64, 0, 0]);
    let r = sys(66, [sem, 0, 2, ds.as_mut_ptr() as u64, 0, 0]);
    c.eq(
        &format!("part {part}: semctl IPC_SET of the mode"),
        (set, r, half(&ds, 20) & 0o777),
        (0, 0, mode),
    );
    // SETALL and GETALL: the values of the whole set; GETVAL of one.
    let p = part as u16;
    let vals: [u16; 2] = [p + 1, p + 2];
    let mut got = [0u16; 3];
    let set = sys(66, [sem, 0, 17, vals.as_ptr() as u64, 0, 0]);
    let get = sys(66, [sem, 0, 13, got.as_mut_ptr() as u64, 0, 0]);
    c.eq(
        &format!("part {part}: semctl SETALL, GETALL (no more than the set)"),
        (set, get, got),
        (0, 0, [p + 1, p + 2, 0]),
    );
    c.eq(
        &format!("part {part}: semctl GETVAL of the second"),
        sys(66, [sem, 1, 12, 0, 0, 0]),
        i64::from(p + 2),
    );
    let mut info = [0u8; 40];
    let r = sys(66, [0, 0, 19, info.as_mut_ptr() as u64, 0, 0]); // SEM_INFO
    c.check(
        &format!("part {part}: semctl SEM_INFO"),
        r >= 0 && half(&info, 0) > 0,
        || format!("{r}"),
    );
    // shmctl IPC_STAT: its size, made by its own pid; IPC_INFO: a largest size.
    let mut ds = [0u8; 112];
    let r = sys(31, [shm, 2, ds.as_mut_ptr() as u64, 0, 0, 0]);
    c.eq(
        &format!("part {part}: shmctl IPC_STAT: its size and maker"),
        (r, word(&ds, 48), u64::from(half(&ds, 80))),
        (0, 4096, me),
    );
    let mut info = [0u8; 72];
    let r = sys(31, [0, 3, info.as_mut_ptr() as u64, 0, 0, 0]); // IPC_INFO
    c.check(
        &format!("part {part}: shmctl IPC_INFO"),
        r >= 0 && word(&info, 0) > 0,
        || format!("{r}"),
    );
}

fn case_sysv(c: &mut Checks, dir: &str) {
    // semget(IPC_PRIVATE, 2, IPC_CREAT | 0600), shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600)
    let sem = sys(64, [0, 2, 0o1000 | 0o600, 0, 0, 0]);
    let shm = sys(29, [0, 4096, 0o1000 | 0o600, 0, 0, 0]);
    c.check("semget and shmget", sem >= 0 && shm >= 0, || {
        format!("{sem}, {shm}")
    });
    let (sem, shm) = (sem as u64, shm as u64);
    in_three_parts(c, dir, |c, part| sysv_round(c, part, sem, shm));
    c.eq(
        "IPC_RMID of both",
        (sys(66, [sem, 0, 0, 0, 0, 0]), sys(31, [shm, 0, 0, 0, 0, 0])),
        (0, 0),
    );
}

// --- itimer -----------------------------------------------------------------------------------

const SIGVTALRM: u64 = 26;
const SIGPROF: u64 = 27;

/// setitimer(which, {interval, value} in microseconds): the result.
fn setitimer(which: u64, interval_us: u64, value_us: u64) -> i64 {
    let t: [u64; 4] = [
        interval_us / 1_000_000,
        interval_us % 1_000_000,
        value_us / 1_000_000,
        value_us % 1_000_000,
    ];
    sys(38, [which, t.as_ptr() as u64, 0, 0, 0, 0])
}

/// getitimer(which): the result, the interval and the value left, in microseconds.
fn getitimer(which: u64) -> (i64, u64, u64) {
    let mut t = [0u64; 4];
    let r = sys(36, [which, t.as_mut_ptr() as u64, 0, 0, 0, 0]);
    (r, t[0] * 1_000_000 + t[1], t[2] * 1_000_000 + t[3])
}

fn itimer_round(c: &mut Checks, part: u32) {
    for (name, which, fired) in [
        ("ITIMER_VIRTUAL", 1, fired(SIGVTALRM)),
        ("ITIMER_PROF", 2, fired(SIGPROF)),
    ] {
        fired.store(0, SeqCst);
        c.eq(
            &format!("part {part}: {name} every 20 ms"),
            setitimer(which, 20_000, 20_000),
            0,
        );
        // It fires as the process uses its CPU, wherever it runs (at most 20 s of it).
        let until = cpu_clock_ns() + 20_000_000_000;
        while fired.load(SeqCst) < 3 && cpu_clock_ns() < until {
            burn(1_000_000);
        }
        c.check(
            &format!("part {part}: {name} fired as it ran"),
            fired.load(SeqCst) >= 3,
            || format!("{} times", fired.load(SeqCst)),
        );
        let (r, interval, left) = getitimer(which);
        c.check(
            &format!("part {part}: getitimer {name}"),
            r == 0 && interval == 20_000 && left <= 20_000,
            || format!("{r}, {interval}, {left}"),
        );
        c.eq(
            &format!("part {part}: {name} off"),
            (setitimer(which, 0, 0), getitimer(which)),
            (0, (0, 0, 0)),
        );
    }
    c.eq(
        &format!("part {part}: a bad timer: EINVAL"),
        setitimer(7, 0, 0),
        -EINVAL,
    );
}

fn case_itimer(c: &mut Checks, dir: &str) {
    c.eq("SIGPROF handler", catch(SIGPROF, count), 0);
    c.eq("SIGVTALRM handler", catch(SIGVTALRM, count), 0);
    in_three_parts(c, dir, itimer_round);
}

// --- fmap -------------------------------------------------------------------------------------

const PROT_READ: u64 = 1;
const PROT_WRITE: u64 = 2;
const PROT_EXEC: u64 = 4;
const MAP_SHARED_: u64 = 1;
const MAP_PRIVATE_: u64 = 2;
const PG: usize = 4096;
/// The data file: five pages and a bit.
const DATA_LEN: usize = 5 * PG + 100;
/// The sparse file: 1 GiB, two pages written in its second half.
const SPARSE_LEN: u64 = 1 << 30;
const SPARSE_AT: u64 = 512 << 20;
const SPARSE_AT2: u64 = 768 << 20;

fn pattern(i: usize) -> u8 {
    ((i.wrapping_mul(131) >> 3) ^ (i >> 12)) as u8
}

fn mmap(len: usize, prot: u64, flags: u64, fd: u64, off: u64) -> i64 {
    sys(9, [0, len as u64, prot, flags, fd, off])
}

/// Bytes at `addr`, `len` long (a mapping of this process).
fn bytes_at(addr: i64, len: usize) -> &'static [u8] {
    // SAFETY: the caller names a mapping of at least `len` readable bytes that stays mapped
    // while the slice is used.
    unsafe { std::slice::from_raw_parts(addr as *const u8, len) }
}

/// `home_paged_bytes` of the home node's counters (read at home wherever the process runs).
fn home_paged() -> u64 {
    std::fs::read_to_string("/proc/openmosix/stats")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("home_paged_bytes ")?.trim().parse().ok())
        })
        .unwrap_or(0)
}

fn fmap_round(
    c: &mut Checks,
    part: u32,
    dir: &str,
    kept: &mut Vec<(i64, u32)>,
    big_kept: &mut i64,
) {
    let data = format!("{dir}/fmap.data");
    let fd = open_ro(&data);
    c.check(&format!("part {part}: open the data file"), fd >= 0, || {
        format!("{fd}")
    });
    let fd = fd as u64;
    let want: Vec<u8> = (0..DATA_LEN).map(pattern).collect();
    let maplen = 6 * PG;
    // A private mapping: the file's bytes, zeros after its end in its last page.
    let a = mmap(maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE_, fd, 0);
    c.check(&format!("part {part}: private mapping"), a > 0, || {
        format!("{a}")
    });
    if a > 0 {
        let m = bytes_at(a, maplen);
        c.check(
            &format!("part {part}: private mapping reads the file"),
            m[..DATA_LEN] == want[..],
            || "differs".into(),
        );
        c.check(
            &format!("part {part}: zeros after the end of the file"),
            m[DATA_LEN..].iter().all(|&b| b == 0),
            || "not zero".into(),
        );
        // Written: the mapping changes, the file does not.
        // SAFETY: page 2 of the private writable mapping just checked.
        unsafe { std::ptr::write_bytes((a as *mut u8).add(2 * PG + 10), 0xa5 ^ part as u8, 100) };
        let m = bytes_at(a, maplen);
        c.check(
            &format!("part {part}: a write to it reads back"),
            m[2 * PG + 10..2 * PG + 110]
                .iter()
                .all(|&b| b == 0xa5 ^ part as u8),
            || "lost".into(),
        );
        let mut back = vec![0u8; DATA_LEN];
        let r = sys(17, [fd, back.as_mut_ptr() as u64, DATA_LEN as u64, 0, 0, 0]);
        c.check(
            &format!("part {part}: the file is unchanged"),
            r == DATA_LEN as i64 && back == want,
            || format!("pread {r}"),
        );
        // A page past the end of the file cannot be read (SIGBUS; EFAULT for the kernel).
        let mut pipe = [0i32; 2];
        sys(293, [pipe.as_mut_ptr() as u64, 0o2000000, 0, 0, 0, 0]);
        let r = sys(
            1,
            [pipe[1] as u64, (a as u64) + 5 * PG as u64 + 200, 1, 0, 0, 0],
        );
        c.eq(
            &format!("part {part}: in its last page, after the end of the file"),
            r,
            1,
        );
        let b = mmap(8 * PG, PROT_READ, MAP_PRIVATE_, fd, 0);
        let r = sys(1, [pipe[1] as u64, (b as u64) + 7 * PG as u64, 1, 0, 0, 0]);
        c.eq(
            &format!("part {part}: a page past the end of the file: EFAULT"),
            r,
            -14,
        );
        sys(11, [b as u64, 8 * PG as u64, 0, 0, 0, 0]);
        sys(3, [pipe[0] as u64, 0, 0, 0, 0, 0]);
        sys(3, [pipe[1] as u64, 0, 0, 0, 0, 0]);
        kept.push((a, part));
    }
    // Those of earlier parts (made before a move, or on another node) keep the writes made
    // to them, and the file's other bytes.
    for &(k, p) in kept.iter() {
        let m = bytes_at(k, maplen);
        let ok = m[..2 * PG + 10] == want[..2 * PG + 10]
            && m[2 * PG + 10..2 * PG + 110]
                .iter()
                .all(|&b| b == 0xa5 ^ p as u8)
            && m[2 * PG + 110..DATA_LEN] == want[2 * PG + 110..];
        c.check(
            &format!("part {part}: the private mapping of part {p} kept its write"),
            ok,
            || "differs".into(),
        );
    }
    // A shared mapping that cannot write: the file's bytes; never made writable (the file is
    // open read-only).
    let s = mmap(DATA_LEN, PROT_READ, MAP_SHARED_, fd, PG as u64);
    c.check(
        &format!("part {part}: shared read-only mapping"),
        s > 0,
        || format!("{s}"),
    );
    if s > 0 {
        let m = bytes_at(s, DATA_LEN - PG);
        c.check(
            &format!("part {part}: it reads the file from its offset"),
            m == &want[PG..],
            || "differs".into(),
        );
        let r = sys(10, [s as u64, PG as u64, PROT_READ | PROT_WRITE, 0, 0, 0]);
        c.eq(
            &format!("part {part}: mprotect to write it: EACCES"),
            r,
            -13,
        );
        sys(11, [s as u64, DATA_LEN as u64, 0, 0, 0, 0]);
    }
    // Code mapped from a file runs (as a library `dlopen` maps does): `mov eax, 42 + part; ret`.
    let code = open_ro(&format!("{dir}/fmap.code{part}"));
    let x = mmap(PG, PROT_READ | PROT_EXEC, MAP_PRIVATE_, code as u64, 0);
    c.check(&format!("part {part}: executable mapping"), x > 0, || {
        format!("{x}")
    });
    if x > 0 {
        // SAFETY: the mapping holds a whole function of this signature (written by
        // `case_fmap`), readable and executable.
        let f: extern "C" fn() -> u32 = unsafe { std::mem::transmute(x as usize) };
        c.eq(
            &format!("part {part}: code mapped from a file runs"),
            f(),
            42 + part,
        );
        sys(11, [x as u64, PG as u64, 0, 0, 0, 0]);
    }
    sys(3, [code as u64, 0, 0, 0, 0, 0]);
    // Errors as at home: an offset not a page multiple, a descriptor that is not open.
    c.eq(
        &format!("part {part}: unaligned offset: EINVAL"),
        mmap(PG, PROT_READ, MAP_PRIVATE_, fd, 100),
        -22,
    );
    c.eq(
        &format!("part {part}: closed descriptor: EBADF"),
        mmap(PG, PROT_READ, MAP_PRIVATE_, 999, 0),
        -9,
    );
    // A 1 GiB file touched at one page: that page and a bounded read-ahead move, never the
    // file.
    let sfd = open_ro(&format!("{dir}/fmap.sparse")) as u64;
    let big = mmap(SPARSE_LEN as usize, PROT_READ, MAP_PRIVATE_, sfd, 0);
    c.check(&format!("part {part}: 1 GiB mapping"), big > 0, || {
        format!("{big}")
    });
    if big > 0 {
        // Twice, the same code: the first touch also brings this program's code for it (its
        // own file, paged from home too), the second is measured.
        let touch = |at: u64| {
            let before = home_paged();
            let m = bytes_at(big + at as i64, PG);
            let ok = m.iter().enumerate().all(|(i, &b)| b == pattern(i));
            (ok, home_paged().saturating_sub(before))
        };
        let (first, _) = touch(SPARSE_AT);
        let (ok, moved) = touch(SPARSE_AT2);
        let ok = ok && first;
        c.check(
            &format!("part {part}: its written pages read back"),
            ok,
            || "differs".into(),
        );
        c.check(
            &format!("part {part}: touching one page moved at most 64 KiB"),
            moved <= 65536,
            || format!("{moved} bytes"),
        );
        let _ = std::fs::write(format!("{dir}/paged.{part}"), format!("{moved}\n"));
        // The one of part 1 stays to the next part (it moves, a 1 GiB area, with one page).
        if part == 1 {
            *big_kept = big;
        } else {
            sys(11, [big as u64, SPARSE_LEN, 0, 0, 0, 0]);
        }
    }
    if part == 2 && *big_kept > 0 {
        let m = bytes_at(*big_kept + SPARSE_AT as i64, PG);
        let ok = m.iter().enumerate().all(|(i, &b)| b == pattern(i));
        c.check(
            "part 2: the 1 GiB mapping of part 1 reads its page",
            ok,
            || "differs".into(),
        );
        let z = bytes_at(*big_kept + (SPARSE_AT + (64 << 20)) as i64, PG);
        c.check(
            "part 2: and a hole of it zeros",
            z.iter().all(|&b| b == 0),
            || "not zero".into(),
        );
        sys(11, [*big_kept as u64, SPARSE_LEN, 0, 0, 0, 0]);
    }
    sys(3, [sfd, 0, 0, 0, 0, 0]);
    sys(3, [fd, 0, 0, 0, 0, 0]);
    // Last (they bring a moved process home): a device's mapping (made at home), and a shared
    // read-only mapping of the file open for writing made writable writes the file.
    if part == 2 {
        let z = open_ro("/dev/zero");
        let m = mmap(2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE_, z as u64, 0);
        c.check("part 2: a mapping of /dev/zero", m > 0, || format!("{m}"));
        if m > 0 {
            // SAFETY: the private writable mapping just made, two pages.
            unsafe { *((m as *mut u8).add(PG)) = 7 };
            let b = bytes_at(m, 2 * PG);
            c.check(
                "part 2: it reads zeros and its write",
                b[..PG].iter().all(|&x| x == 0) && b[PG] == 7,
                || "differs".into(),
            );
            sys(11, [m as u64, 2 * PG as u64, 0, 0, 0, 0]);
        }
        sys(3, [z as u64, 0, 0, 0, 0, 0]);
        let rw = sys(2, [format!("{data}\0").as_ptr() as u64, 2, 0, 0, 0, 0]);
        let s = mmap(PG, PROT_READ, MAP_SHARED_, rw as u64, 0);
        let r = sys(10, [s as u64, PG as u64, PROT_READ | PROT_WRITE, 0, 0, 0]);
        c.eq(
            "part 2: mprotect to write a shared mapping of the file open for writing",
            r,
            0,
        );
        if r == 0 {
            // SAFETY: the first byte of the shared mapping, writable now.
            unsafe { *(s as *mut u8) = !pattern(0) };
            let mut b = [0u8; 1];
            sys(17, [rw as u64, b.as_mut_ptr() as u64, 1, 0, 0, 0]);
            c.eq("part 2: its write reaches the file", b[0], !pattern(0));
            // SAFETY: as above.
            unsafe { *(s as *mut u8) = pattern(0) };
        }
        sys(11, [s as u64, PG as u64, 0, 0, 0, 0]);
        sys(3, [rw as u64, 0, 0, 0, 0, 0]);
    }
}

fn case_fmap(c: &mut Checks, dir: &str) {
    let data: Vec<u8> = (0..DATA_LEN).map(pattern).collect();
    let made = std::fs::write(format!("{dir}/fmap.data"), &data).and_then(|()| {
        let f = std::fs::File::create(format!("{dir}/fmap.sparse"))?;
        f.set_len(SPARSE_LEN)?;
        let page: Vec<u8> = (0..PG).map(pattern).collect();
        std::os::unix::fs::FileExt::write_all_at(&f, &page, SPARSE_AT)?;
        std::os::unix::fs::FileExt::write_all_at(&f, &page, SPARSE_AT2)
    });
    let made = made.and_then(|()| {
        (0..3u8).try_for_each(|k| {
            // mov eax, 42 + k; ret
            let f = [0xb8, 42 + k, 0, 0, 0, 0xc3];
            std::fs::write(format!("{dir}/fmap.code{k}"), f)
        })
    });
    c.check("the files to map", made.is_ok(), || format!("{made:?}"));
    let d = dir.to_string();
    let mut kept = Vec::new();
    let mut big = 0;
    in_three_parts(c, dir, |c, part| {
        fmap_round(c, part, &d, &mut kept, &mut big)
    });
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(case), Some(dir)) = (args.get(1), args.get(2)) else {
        eprintln!(
            "usage: omx-t signalfd|sigwait|masks|scm|msgq|limits|usage|procself|prctl|ioctl|mmsg|pvec|sysv|itimer|fmap|rseq|clocks|pipes|sockets|epoll|handlers|timers|files|ids|memory|fdops|events|locks|jobctl|children|exec|sched|futex|sleeps|tty|udp|dirs|devices|fpu|uname DIR"
        );
        std::process::exit(2);
    };
    let mut c = Checks { failed: false };
    match case.as_str() {
        "signalfd" => case_signalfd(&mut c, dir),
        "sigwait" => case_sigwait(&mut c, dir),
        "masks" => case_masks(&mut c, dir),
        "scm" => case_scm(&mut c, dir),
        "msgq" => case_msgq(&mut c, dir),
        "limits" => case_limits(&mut c, dir),
        "usage" => case_usage(&mut c, dir),
        "procself" => case_procself(&mut c, dir),
        "prctl" => case_prctl(&mut c, dir),
        "ioctl" => case_ioctl(&mut c, dir),
        "mmsg" => case_mmsg(&mut c, dir),
        "pvec" => case_pvec(&mut c, dir),
        "sysv" => case_sysv(&mut c, dir),
        "itimer" => case_itimer(&mut c, dir),
        "fmap" => case_fmap(&mut c, dir),
        "rseq" => rseqs::case_rseq(&mut c, dir),
        "clocks" => clocks::case_clocks(&mut c, dir),
        "pipes" => basics::case_pipes(&mut c, dir),
        "sockets" => basics::case_sockets(&mut c, dir),
        "epoll" => basics::case_epoll(&mut c, dir),
        "handlers" => basics::case_handlers(&mut c, dir),
        "timers" => basics::case_timers(&mut c, dir),
        "files" => basics::case_files(&mut c, dir),
        "ids" => basics::case_ids(&mut c, dir),
        "memory" => basics::case_memory(&mut c, dir),
        "fdops" => fdops::case_fdops(&mut c, dir),
        "events" => fdops::case_events(&mut c, dir),
        "locks" => fdops::case_locks(&mut c, dir),
        "jobctl" => procs::case_jobctl(&mut c, dir),
        "children" => procs::case_children(&mut c, dir),
        "exec" => procs::case_exec(&mut c, dir),
        "sched" => procs::case_sched(&mut c, dir),
        "futex" => procs::case_futex(&mut c, dir),
        "sleeps" => procs::case_sleeps(&mut c, dir),
        "tty" => devs::case_tty(&mut c, dir),
        "udp" => devs::case_udp(&mut c, dir),
        "dirs" => devs::case_dirs(&mut c, dir),
        "devices" => devs::case_devices(&mut c, dir),
        "fpu" => devs::case_fpu(&mut c, dir),
        "uname" => devs::case_uname(&mut c, dir),
        _ => {
            eprintln!("omx-t: no case {case}");
            std::process::exit(2);
        }
    }
    std::process::exit(i32::from(c.failed));
}
