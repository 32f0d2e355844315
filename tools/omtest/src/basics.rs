// SPDX-License-Identifier: GPL-2.0

//! `omx-t` cases of the classes every program uses, each checked in every part (so, in a moved
//! run, made away and on objects made before the move):
//! - `pipes`: a pipe made in part 0 carries what was written before each move; `O_NONBLOCK`
//!   (`EAGAIN`), the pipe's size (`F_GETPIPE_SZ`/`F_SETPIPE_SZ`), end of file once the writer
//!   is closed, `EPIPE` (with `SIGPIPE` ignored) once the reader is.
//! - `sockets`: a TCP listener on the loopback made in part 0; in each part a new connection
//!   to it, accepted, data both ways, `shutdown`, socket options; a connection of part 0 still
//!   carries data.
//! - `epoll`: level- and edge-triggered readiness of pipes, `EPOLLONESHOT` and its re-arming,
//!   `EPOLL_CTL_MOD`/`DEL`, an epoll made in part 0.
//! - `handlers`: `SA_SIGINFO` handlers with the sender (itself by `kill` and `tgkill`, its child
//!   by `kill` and `sigqueue` with a value: code, pid, uid; `SIGCHLD` of a child made at home
//!   that ends: code, pid, status), the
//!   handler's own mask (`sa_mask`), `SA_RESETHAND`, a handler on an alternate stack.
//! - `timers`: `timerfd` one-shot and periodic, a POSIX timer whose signal is caught, `alarm`
//!   cancelled, relative sleeps.
//! - `files`: create, write, `lseek`, `pread64`, `ftruncate`, `fstat`, `rename`, `link`,
//!   `symlink`/`readlink`, `mkdir`/`rmdir`, a directory listing, `O_APPEND` set by `fcntl`,
//!   `dup3` with `O_CLOEXEC`; a file opened in part 0 keeps its offset.
//! - `ids`: pid, parent, tid, process group, session, uids and gids, the host name, the working
//!   directory (changed in each part), `umask`, the scheduling affinity.
//! - `memory`: anonymous memory written in part 0 and read in each part, `mprotect`,
//!   `mremap` growing an area (moving it), `madvise(MADV_DONTNEED)` zeroing, `brk`, `mincore`.

use super::{catch, count, fired, in_three_parts, mask, pid, sys, Checks, SIG_BLOCK, SIG_UNBLOCK};
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::time::Duration;

const EAGAIN: i64 = 11;
const EPIPE: i64 = 32;
const O_NONBLOCK: u64 = 0o4000;
const O_CLOEXEC: u64 = 0o2000000;
const O_APPEND: u64 = 0o2000;
const F_GETFD: u64 = 1;
const F_GETFL: u64 = 3;
const F_SETFL: u64 = 4;
const F_SETPIPE_SZ: u64 = 1031;
const F_GETPIPE_SZ: u64 = 1032;
const SIGPIPE: u64 = 13;
const SIGALRM: u64 = 14;
const SIGUSR1: u64 = 10;
const SIGUSR2: u64 = 12;
const SIGRTMIN: u64 = 34;

pub(super) fn write(fd: u64, b: &[u8]) -> i64 {
    sys(1, [fd, b.as_ptr() as u64, b.len() as u64, 0, 0, 0])
}

pub(super) fn read(fd: u64, b: &mut [u8]) -> i64 {
    sys(0, [fd, b.as_mut_ptr() as u64, b.len() as u64, 0, 0, 0])
}

pub(super) fn close(fd: u64) -> i64 {
    sys(3, [fd, 0, 0, 0, 0, 0])
}

pub(super) fn pipe(flags: u64) -> (u64, u64) {
    let mut p = [0i32; 2];
    let r = sys(293, [p.as_mut_ptr() as u64, flags, 0, 0, 0, 0]);
    if r < 0 {
        return (u64::MAX, u64::MAX);
    }
    (p[0] as u64, p[1] as u64)
}

fn fcntl(fd: u64, cmd: u64, arg: u64) -> i64 {
    sys(72, [fd, cmd, arg, 0, 0, 0])
}

/// A NUL-terminated copy of `s`, for paths.
pub(super) fn cpath(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

// --- pipes ------------------------------------------------------------------------------------

fn pipes_round(c: &mut Checks, part: u32, kept: (u64, u64)) {
    let mut b = [0u8; 64];
    if part > 0 {
        let n = read(kept.0, &mut b);
        c.eq(
            &format!("part {part}: the pipe of part 0 holds what was written before"),
            &b[..n.max(0) as usize],
            format!("before part {part}").as_bytes(),
        );
    }
    if part < 2 {
        let msg = format!("before part {}", part + 1);
        c.eq(
            &format!("part {part}: write to the pipe of part 0"),
            write(kept.1, msg.as_bytes()),
            msg.len() as i64,
        );
    }
    let (r, w) = pipe(O_NONBLOCK | O_CLOEXEC);
    c.check(&format!("part {part}: pipe2"), r != u64::MAX, String::new);
    c.eq(
        &format!("part {part}: empty and non-blocking: EAGAIN"),
        read(r, &mut b),
        -EAGAIN,
    );
    c.eq(
        &format!("part {part}: close-on-exec"),
        fcntl(r, F_GETFD, 0),
        1,
    );
    c.eq(
        &format!("part {part}: F_SETPIPE_SZ"),
        fcntl(w, F_SETPIPE_SZ, 1 << 16),
        1 << 16,
    );
    c.eq(
        &format!("part {part}: F_GETPIPE_SZ"),
        fcntl(r, F_GETPIPE_SZ, 0),
        1 << 16,
    );
    c.eq(&format!("part {part}: write"), write(w, b"through"), 7);
    let n = read(r, &mut b);
    c.eq(
        &format!("part {part}: read"),
        &b[..n.max(0) as usize],
        &b"through"[..],
    );
    close(w);
    c.eq(
        &format!("part {part}: end of file once the writer is closed"),
        read(r, &mut b),
        0,
    );
    close(r);
    let (r, w) = pipe(0);
    close(r);
    c.eq(
        &format!("part {part}: EPIPE once the reader is closed"),
        write(w, b"x"),
        -EPIPE,
    );
    close(w);
}

pub(super) fn case_pipes(c: &mut Checks, dir: &str) {
    // SIGPIPE ignored: a write to a pipe with no reader fails with EPIPE.
    let ign: [u64; 4] = [1, 0, 0, 0];
    c.eq(
        "SIGPIPE ignored",
        sys(13, [SIGPIPE, ign.as_ptr() as u64, 0, 8, 0, 0]),
        0,
    );
    let kept = pipe(0);
    in_three_parts(c, dir, |c, part| pipes_round(c, part, kept));
}

// --- sockets ----------------------------------------------------------------------------------

const AF_INET: u64 = 2;
const SOCK_STREAM: u64 = 1;
const SOL_SOCKET: u64 = 1;
const SO_TYPE: u64 = 3;
const SO_RCVBUF: u64 = 8;
const SO_REUSEADDR: u64 = 2;
const SHUT_WR: u64 = 1;

/// `struct sockaddr_in` of 127.0.0.1:`port` (port in host order).
pub(super) fn loopback(port: u16) -> [u8; 16] {
    let mut a = [0u8; 16];
    a[..2].copy_from_slice(&(AF_INET as u16).to_ne_bytes());
    a[2..4].copy_from_slice(&port.to_be_bytes());
    a[4..8].copy_from_slice(&[127, 0, 0, 1]);
    a
}

fn getsockopt(fd: u64, opt: u64) -> i64 {
    let mut v = 0i32;
    let mut len = 4u32;
    let r = sys(
        55,
        [
            fd,
            SOL_SOCKET,
            opt,
            &mut v as *mut i32 as u64,
            &mut len as *mut u32 as u64,
            0,
        ],
    );
    if r < 0 {
        r
    } else {
        i64::from(v)
    }
}

fn setsockopt(fd: u64, opt: u64, v: i32) -> i64 {
    sys(54, [fd, SOL_SOCKET, opt, &v as *const i32 as u64, 4, 0])
}

/// The listener of part 0, its port, and a connection made then (client, server ends).
struct Net {
    listener: u64,
    port: u16,
    old: (u64, u64),
}

fn connect_to(port: u16) -> i64 {
    let s = sys(41, [AF_INET, SOCK_STREAM, 0, 0, 0, 0]);
    if s < 0 {
        return s;
    }
    let a = loopback(port);
    let r = sys(42, [s as u64, a.as_ptr() as u64, 16, 0, 0, 0]);
    if r < 0 {
        return r;
    }
    s
}

fn sockets_round(c: &mut Checks, part: u32, net: &Net) {
    let mut b = [0u8; 64];
    // The connection of part 0: what was sent before the move arrives after it.
    if part > 0 {
        let n = read(net.old.1, &mut b);
        c.eq(
            &format!("part {part}: the connection of part 0 carries data"),
            &b[..n.max(0) as usize],
            format!("sent before part {part}").as_bytes(),
        );
    }
    if part < 2 {
        let msg = format!("sent before part {}", part + 1);
        c.eq(
            &format!("part {part}: send on the connection of part 0"),
            write(net.old.0, msg.as_bytes()),
            msg.len() as i64,
        );
    }
    let cl = connect_to(net.port);
    c.check(&format!("part {part}: connect"), cl >= 0, || {
        format!("{cl}")
    });
    let sv = sys(43, [net.listener, 0, 0, 0, 0, 0]);
    c.check(&format!("part {part}: accept"), sv >= 0, || format!("{sv}"));
    if cl < 0 || sv < 0 {
        return;
    }
    let (cl, sv) = (cl as u64, sv as u64);
    c.eq(
        &format!("part {part}: SO_TYPE"),
        getsockopt(cl, SO_TYPE),
        SOCK_STREAM as i64,
    );
    c.eq(
        &format!("part {part}: set SO_RCVBUF"),
        setsockopt(sv, SO_RCVBUF, 8192),
        0,
    );
    // The kernel doubles what it is given.
    c.eq(
        &format!("part {part}: SO_RCVBUF"),
        getsockopt(sv, SO_RCVBUF),
        16384,
    );
    c.eq(&format!("part {part}: client sends"), write(cl, b"ping"), 4);
    let n = read(sv, &mut b);
    c.eq(
        &format!("part {part}: server receives"),
        &b[..n.max(0) as usize],
        &b"ping"[..],
    );
    c.eq(
        &format!("part {part}: server answers"),
        write(sv, b"pong"),
        4,
    );
    let n = read(cl, &mut b);
    c.eq(
        &format!("part {part}: client receives"),
        &b[..n.max(0) as usize],
        &b"pong"[..],
    );
    c.eq(
        &format!("part {part}: shutdown"),
        sys(48, [cl, SHUT_WR, 0, 0, 0, 0]),
        0,
    );
    c.eq(
        &format!("part {part}: the server sees the end"),
        read(sv, &mut b),
        0,
    );
    close(cl);
    close(sv);
}

pub(super) fn case_sockets(c: &mut Checks, dir: &str) {
    let l = sys(41, [AF_INET, SOCK_STREAM, 0, 0, 0, 0]);
    c.check("a TCP socket", l >= 0, || format!("{l}"));
    let l = l.max(0) as u64;
    c.eq("SO_REUSEADDR", setsockopt(l, SO_REUSEADDR, 1), 0);
    let a = loopback(0);
    c.eq(
        "bind to the loopback",
        sys(49, [l, a.as_ptr() as u64, 16, 0, 0, 0]),
        0,
    );
    c.eq("listen", sys(50, [l, 8, 0, 0, 0, 0]), 0);
    let mut got = [0u8; 16];
    let mut len = 16u32;
    let r = sys(
        51,
        [
            l,
            got.as_mut_ptr() as u64,
            &mut len as *mut u32 as u64,
            0,
            0,
            0,
        ],
    );
    c.eq("getsockname", r, 0);
    let port = u16::from_be_bytes([got[2], got[3]]);
    let old_c = connect_to(port).max(0) as u64;
    let old_s = sys(43, [l, 0, 0, 0, 0, 0]).max(0) as u64;
    let net = Net {
        listener: l,
        port,
        old: (old_c, old_s),
    };
    in_three_parts(c, dir, |c, part| sockets_round(c, part, &net));
}

// --- epoll ------------------------------------------------------------------------------------

const EPOLLIN: u32 = 1;
const EPOLLET: u32 = 1 << 31;
const EPOLLONESHOT: u32 = 1 << 30;
const EPOLL_CTL_ADD: u64 = 1;
const EPOLL_CTL_DEL: u64 = 2;
const EPOLL_CTL_MOD: u64 = 3;

/// `struct epoll_event` (packed on x86-64): events, data.
fn event(events: u32, data: u64) -> [u8; 12] {
    let mut e = [0u8; 12];
    e[..4].copy_from_slice(&events.to_ne_bytes());
    e[4..].copy_from_slice(&data.to_ne_bytes());
    e
}

fn ctl(ep: u64, op: u64, fd: u64, events: u32, data: u64) -> i64 {
    let e = event(events, data);
    sys(233, [ep, op, fd, e.as_ptr() as u64, 0, 0])
}

/// The data words of the events ready now.
fn ready(ep: u64) -> Vec<u64> {
    let mut evs = [0u8; 12 * 8];
    let n = sys(232, [ep, evs.as_mut_ptr() as u64, 8, 0, 0, 0]);
    let mut v: Vec<u64> = (0..n.max(0) as usize)
        .map(|i| {
            let d = &evs[12 * i + 4..12 * i + 12];
            u64::from_ne_bytes(d.try_into().unwrap_or([0; 8]))
        })
        .collect();
    v.sort_unstable();
    v
}

fn epoll_round(c: &mut Checks, part: u32, ep0: u64) {
    let mut b = [0u8; 16];
    let (r1, w1) = pipe(O_NONBLOCK);
    let (r2, w2) = pipe(O_NONBLOCK);
    let (r3, w3) = pipe(O_NONBLOCK);
    c.eq(
        &format!("part {part}: add level-triggered"),
        ctl(ep0, EPOLL_CTL_ADD, r1, EPOLLIN, 1),
        0,
    );
    c.eq(
        &format!("part {part}: add edge-triggered"),
        ctl(ep0, EPOLL_CTL_ADD, r2, EPOLLIN | EPOLLET, 2),
        0,
    );
    c.eq(
        &format!("part {part}: add one-shot"),
        ctl(ep0, EPOLL_CTL_ADD, r3, EPOLLIN | EPOLLONESHOT, 3),
        0,
    );
    c.eq(&format!("part {part}: nothing ready"), ready(ep0), vec![]);
    write(w1, b"a");
    write(w2, b"b");
    write(w3, b"c");
    c.eq(
        &format!("part {part}: all three ready"),
        ready(ep0),
        vec![1, 2, 3],
    );
    c.eq(
        &format!("part {part}: then the level-triggered one only"),
        ready(ep0),
        vec![1],
    );
    write(w2, b"b");
    c.eq(
        &format!("part {part}: new data: the edge again"),
        ready(ep0),
        vec![1, 2],
    );
    read(r1, &mut b);
    c.eq(&format!("part {part}: drained: none"), ready(ep0), vec![]);
    c.eq(
        &format!("part {part}: re-arm the one-shot"),
        ctl(ep0, EPOLL_CTL_MOD, r3, EPOLLIN | EPOLLONESHOT, 33),
        0,
    );
    c.eq(
        &format!("part {part}: the one-shot again"),
        ready(ep0),
        vec![33],
    );
    for fd in [r1, r2, r3] {
        c.eq(
            &format!("part {part}: delete"),
            ctl(ep0, EPOLL_CTL_DEL, fd, 0, 0),
            0,
        );
    }
    for fd in [r1, w1, r2, w2, r3, w3] {
        close(fd);
    }
}

pub(super) fn case_epoll(c: &mut Checks, dir: &str) {
    let ep = sys(291, [O_CLOEXEC, 0, 0, 0, 0, 0]);
    c.check("epoll_create1", ep >= 0, || format!("{ep}"));
    let ep = ep.max(0) as u64;
    in_three_parts(c, dir, |c, part| epoll_round(c, part, ep));
}

// --- handlers ---------------------------------------------------------------------------------

const SA_SIGINFO: u64 = 4;
const SA_ONSTACK: u64 = 0x0800_0000;
const SA_RESETHAND: u64 = 0x8000_0000;
const SA_RESTORER: u64 = 0x0400_0000;
const SI_USER: i32 = 0;
const SI_TKILL: i32 = -6;

/// What the `SA_SIGINFO` handler saw last: signal, code, sender pid, sender uid, the mask in
/// force (as a bit for SIGUSR2), whether it ran on the alternate stack, the `sigqueue` value.
static SEEN: [AtomicU64; 7] = [const { AtomicU64::new(0) }; 7];
static ALT: AtomicU64 = AtomicU64::new(0);
const ALT_SIZE: u64 = 64 * 1024;
const SI_QUEUE: i32 = -1;

extern "C" fn with_info(sig: i32, info: *const u8, _ctx: *const u8) {
    // SAFETY: the kernel passes a `siginfo_t` (128 bytes) for an SA_SIGINFO handler: signo at 0,
    // code at 8, the sender's pid at 16 and uid at 20, the value at 24.
    let (code, spid, suid, value) = unsafe {
        (
            info.add(8).cast::<i32>().read_unaligned(),
            info.add(16).cast::<i32>().read_unaligned(),
            info.add(20).cast::<u32>().read_unaligned(),
            info.add(24).cast::<u64>().read_unaligned(),
        )
    };
    let mut cur = 0u64;
    sys(14, [SIG_BLOCK, 0, &mut cur as *mut u64 as u64, 8, 0, 0]);
    let here = &sig as *const i32 as u64;
    let alt = ALT.load(SeqCst);
    SEEN[1].store(u64::from(code as u32), SeqCst);
    SEEN[2].store(u64::from(spid as u32), SeqCst);
    SEEN[3].store(u64::from(suid), SeqCst);
    SEEN[4].store(cur >> (SIGUSR2 - 1) & 1, SeqCst);
    SEEN[5].store(
        u64::from(alt != 0 && (alt..alt + ALT_SIZE).contains(&here)),
        SeqCst,
    );
    SEEN[6].store(value, SeqCst);
    // Last: a waiter sees the signal once the rest is there.
    SEEN[0].store(sig as u64, SeqCst);
}

/// Sets `with_info` for `sig` with `flags` and SIGUSR2 in its mask.
fn catch_info(sig: u64, flags: u64) -> i64 {
    let mut act = super::handler::action(count);
    act[0] = with_info as *const () as usize as u64;
    act[1] = SA_SIGINFO | SA_RESTORER | flags;
    act[3] = 1 << (SIGUSR2 - 1);
    sys(13, [sig, act.as_ptr() as u64, 0, 8, 0, 0])
}

fn seen() -> [u64; 7] {
    core::array::from_fn(|i| SEEN[i].swap(0, SeqCst))
}

/// Waits (up to 10 s) for the handler to have run, then what it saw.
fn seen_soon() -> [u64; 7] {
    for _ in 0..1000 {
        if SEEN[0].load(SeqCst) != 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    seen()
}

fn handlers_round(c: &mut Checks, part: u32, child: (u64, u64, u64), ending: (u64, u64)) {
    let me = pid();
    let uid = sys(102, [0; 6]) as u64;
    c.eq(
        &format!("part {part}: SA_SIGINFO handler"),
        catch_info(SIGUSR1, 0),
        0,
    );
    c.eq(
        &format!("part {part}: kill"),
        sys(62, [me, SIGUSR1, 0, 0, 0, 0]),
        0,
    );
    c.eq(
        &format!("part {part}: it ran with SI_USER, itself the sender, SIGUSR2 blocked"),
        seen(),
        [SIGUSR1, u64::from(SI_USER as u32), me, uid, 1, 0, 0],
    );
    c.eq(
        &format!("part {part}: tgkill"),
        sys(234, [me, me, SIGUSR1, 0, 0, 0]),
        0,
    );
    c.eq(
        &format!("part {part}: it ran with SI_TKILL, itself the sender"),
        seen(),
        [SIGUSR1, u64::from(SI_TKILL as u32), me, uid, 1, 0, 0],
    );
    c.eq(
        &format!("part {part}: the handler's mask is gone after it"),
        super::blocked() & (1 << (SIGUSR2 - 1)),
        0,
    );
    // Another process (its child, at home) sends it a signal, then a value with sigqueue.
    let (to_child, from_child, cpid) = child;
    c.eq(
        &format!("part {part}: ask the child"),
        write(to_child, b"k"),
        1,
    );
    c.eq(
        &format!("part {part}: the child's kill: SI_USER, the child the sender"),
        seen_soon(),
        [SIGUSR1, u64::from(SI_USER as u32), cpid, uid, 1, 0, 0],
    );
    let rq = SIGRTMIN + 2;
    c.eq(
        &format!("part {part}: SA_SIGINFO handler of a queued signal"),
        catch_info(rq, 0),
        0,
    );
    c.eq(
        &format!("part {part}: ask the child to queue"),
        write(to_child, &[b'0' + part as u8]),
        1,
    );
    c.eq(
        &format!("part {part}: its sigqueue: SI_QUEUE, the child, the value"),
        seen_soon(),
        [
            rq,
            u64::from(SI_QUEUE as u32),
            cpid,
            uid,
            1,
            0,
            0x4200 + u64::from(part),
        ],
    );
    let mut b = [0u8; 1];
    read(from_child, &mut b);
    // On the alternate stack.
    c.eq(
        &format!("part {part}: SA_ONSTACK handler"),
        catch_info(SIGUSR2, SA_ONSTACK),
        0,
    );
    c.eq(
        &format!("part {part}: raise on the alternate stack"),
        sys(62, [me, SIGUSR2, 0, 0, 0, 0]),
        0,
    );
    c.eq(
        &format!("part {part}: it ran on the alternate stack"),
        seen()[5],
        1,
    );
    // SA_RESETHAND: the handler runs once, and the action is the default again after it.
    let rt = SIGRTMIN + 1;
    c.eq(
        &format!("part {part}: SA_RESETHAND handler"),
        catch_info(rt, SA_RESETHAND),
        0,
    );
    c.eq(
        &format!("part {part}: first signal"),
        sys(62, [me, rt, 0, 0, 0, 0]),
        0,
    );
    c.eq(&format!("part {part}: caught once"), seen()[0], rt);
    let mut old = [0u64; 4];
    sys(13, [rt, 0, old.as_mut_ptr() as u64, 8, 0, 0]);
    c.eq(
        &format!("part {part}: the action is the default again"),
        old[0],
        0,
    );
    // A child ends (made in part 0, at home): SIGCHLD's siginfo names it and its status.
    let (end_w, end_pid) = ending;
    c.eq(
        &format!("part {part}: SA_SIGINFO handler of SIGCHLD"),
        catch_info(SIGCHLD, 0),
        0,
    );
    close(end_w);
    let status = ENDING_STATUS + u64::from(part);
    c.eq(
        &format!("part {part}: a child's end: CLD_EXITED, the child, its status"),
        seen_soon(),
        [SIGCHLD, CLD_EXITED, end_pid, uid, 1, 0, status],
    );
    let mut ws = 0i32;
    c.eq(
        &format!("part {part}: its wait"),
        sys(61, [end_pid, &mut ws as *mut i32 as u64, 0, 0, 0, 0]),
        end_pid as i64,
    );
    c.eq(
        &format!("part {part}: its wait status"),
        ws as u64,
        status << 8,
    );
}

const SIGCHLD: u64 = 17;
const CLD_EXITED: u64 = 1;
/// The exit status of the child that ends in part 0 (part k: one more).
const ENDING_STATUS: u64 = 7;

/// A child of `handlers` that ends with `status` once `from_parent` reads end of file.
fn ending_child(from_parent: u64, status: u64) -> ! {
    let mut b = [0u8; 1];
    while read(from_parent, &mut b) > 0 {}
    sys(60, [status, 0, 0, 0, 0, 0]);
    unreachable!("exit returned");
}

/// The child of `handlers`: for each byte it reads, `k` sends its parent SIGUSR1 with `kill`,
/// a digit D queues SIGRTMIN+2 with the value 0x4200 + D (`rt_sigqueueinfo`) and answers.
fn signalling_child(from_parent: u64, to_parent: u64, parent: u64) -> ! {
    let me = pid();
    let uid = sys(102, [0; 6]) as u32;
    let mut b = [0u8; 1];
    while read(from_parent, &mut b) == 1 {
        if b[0] == b'k' {
            sys(62, [parent, SIGUSR1, 0, 0, 0, 0]);
            continue;
        }
        // siginfo: signo, errno, code, pid, uid, value.
        let mut info = [0u8; 128];
        info[0..4].copy_from_slice(&((SIGRTMIN + 2) as i32).to_ne_bytes());
        info[8..12].copy_from_slice(&SI_QUEUE.to_ne_bytes());
        info[16..20].copy_from_slice(&(me as u32).to_ne_bytes());
        info[20..24].copy_from_slice(&uid.to_ne_bytes());
        info[24..32].copy_from_slice(&(0x4200 + u64::from(b[0] - b'0')).to_ne_bytes());
        sys(129, [parent, SIGRTMIN + 2, info.as_ptr() as u64, 0, 0, 0]);
        write(to_parent, b"q");
    }
    sys(60, [0; 6]);
    unreachable!("exit returned");
}

pub(super) fn case_handlers(c: &mut Checks, dir: &str) {
    // The alternate stack, set once at home: it moves with the process.
    let st = sys(9, [0, ALT_SIZE, 3, 0x22, u64::MAX, 0]);
    c.check("alternate stack memory", st > 0, || format!("{st}"));
    ALT.store(st.max(0) as u64, SeqCst);
    let ss: [u64; 3] = [st.max(0) as u64, 0, ALT_SIZE];
    c.eq(
        "sigaltstack",
        sys(131, [ss.as_ptr() as u64, 0, 0, 0, 0, 0]),
        0,
    );
    let (down_r, down_w) = pipe(0);
    let (up_r, up_w) = pipe(0);
    let parent = pid();
    let child = sys(57, [0; 6]);
    if child == 0 {
        close(down_w);
        close(up_r);
        signalling_child(down_r, up_w, parent);
    }
    close(down_r);
    close(up_w);
    c.check("a child that sends signals", child > 0, || {
        format!("{child}")
    });
    // One child to end in each part.
    let mut ending = [(0u64, 0u64); 3];
    for k in 0..ending.len() {
        let (r, w) = pipe(O_CLOEXEC);
        let p = sys(57, [0; 6]);
        if p == 0 {
            // Only its parent holds its pipe's writing end.
            for &(w, _) in &ending[..k] {
                close(w);
            }
            close(w);
            ending_child(r, ENDING_STATUS + k as u64);
        }
        close(r);
        c.check("a child to end", p > 0, || format!("{p}"));
        ending[k] = (w, p.max(0) as u64);
    }
    in_three_parts(c, dir, |c, part| {
        handlers_round(c, part, (down_w, up_r, child as u64), ending[part as usize])
    });
    close(down_w);
    sys(61, [child as u64, 0, 0, 0, 0, 0]);
}

// --- timers -----------------------------------------------------------------------------------

const CLOCK_MONOTONIC: u64 = 1;

fn timers_round(c: &mut Checks, part: u32, posix: u64) {
    // timerfd: one shot of 30 ms, then every 10 ms.
    let tfd = sys(283, [CLOCK_MONOTONIC, O_CLOEXEC, 0, 0, 0, 0]);
    c.check(&format!("part {part}: timerfd_create"), tfd >= 0, || {
        format!("{tfd}")
    });
    let tfd = tfd.max(0) as u64;
    let spec: [u64; 4] = [0, 10_000_000, 0, 30_000_000];
    c.eq(
        &format!("part {part}: timerfd_settime"),
        sys(286, [tfd, 0, spec.as_ptr() as u64, 0, 0, 0]),
        0,
    );
    let mut n = [0u8; 8];
    c.eq(
        &format!("part {part}: its first expiry is read"),
        read(tfd, &mut n),
        8,
    );
    c.check(
        &format!("part {part}: at least once"),
        u64::from_ne_bytes(n) >= 1,
        String::new,
    );
    std::thread::sleep(Duration::from_millis(50));
    c.eq(&format!("part {part}: then periodic"), read(tfd, &mut n), 8);
    c.check(
        &format!("part {part}: several expiries in 50 ms"),
        u64::from_ne_bytes(n) >= 2,
        || format!("{}", u64::from_ne_bytes(n)),
    );
    let mut cur = [0u64; 4];
    c.eq(
        &format!("part {part}: timerfd_gettime"),
        sys(287, [tfd, cur.as_mut_ptr() as u64, 0, 0, 0, 0]),
        0,
    );
    c.eq(&format!("part {part}: its interval"), cur[1], 10_000_000);
    close(tfd);
    // The POSIX timer made in part 0: 20 ms, its signal caught.
    fired(SIGUSR2).store(0, SeqCst);
    let its: [u64; 4] = [0, 0, 0, 20_000_000];
    c.eq(
        &format!("part {part}: timer_settime"),
        sys(223, [posix, 0, its.as_ptr() as u64, 0, 0, 0]),
        0,
    );
    let mut waited = 0;
    while fired(SIGUSR2).load(SeqCst) == 0 && waited < 5000 {
        std::thread::sleep(Duration::from_millis(10));
        waited += 10;
    }
    c.eq(
        &format!("part {part}: the POSIX timer's signal came"),
        fired(SIGUSR2).load(SeqCst),
        1,
    );
    // alarm: set, read back, cancelled.
    c.eq(
        &format!("part {part}: alarm"),
        sys(37, [100, 0, 0, 0, 0, 0]),
        0,
    );
    let left = sys(37, [0, 0, 0, 0, 0, 0]);
    c.check(
        &format!("part {part}: alarm cancelled, with its time left"),
        (99..=100).contains(&left),
        || format!("{left}"),
    );
}

pub(super) fn case_timers(c: &mut Checks, dir: &str) {
    c.eq("SIGUSR2 handler", catch(SIGUSR2, count), 0);
    c.eq("SIGALRM handler", catch(SIGALRM, count), 0);
    // struct sigevent: value, signo, notify (SIGEV_SIGNAL = 0).
    let mut ev = [0u8; 64];
    ev[8..12].copy_from_slice(&(SIGUSR2 as i32).to_ne_bytes());
    let mut id = 0i32;
    c.eq(
        "timer_create",
        sys(
            222,
            [
                CLOCK_MONOTONIC,
                ev.as_ptr() as u64,
                &mut id as *mut i32 as u64,
                0,
                0,
                0,
            ],
        ),
        0,
    );
    in_three_parts(c, dir, |c, part| timers_round(c, part, id as u64));
}

// --- files ------------------------------------------------------------------------------------

const AT_FDCWD: u64 = -100i64 as u64;
const O_RDWR: u64 = 2;
const O_CREAT: u64 = 0o100;
const O_TRUNC: u64 = 0o1000;
const O_DIRECTORY: u64 = 0o200000;

pub(super) fn open(path: &str, flags: u64) -> i64 {
    let p = cpath(path);
    sys(257, [AT_FDCWD, p.as_ptr() as u64, flags, 0o644, 0, 0])
}

/// The names of a directory's entries, sorted.
fn listing(path: &str) -> Vec<String> {
    let fd = open(path, O_DIRECTORY);
    if fd < 0 {
        return vec![format!("error {fd}")];
    }
    let mut names = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = sys(
            217,
            [
                fd as u64,
                buf.as_mut_ptr() as u64,
                buf.len() as u64,
                0,
                0,
                0,
            ],
        );
        if n <= 0 {
            break;
        }
        let mut at = 0usize;
        while at + 19 < n as usize {
            let reclen = u16::from_ne_bytes([buf[at + 16], buf[at + 17]]) as usize;
            let name = &buf[at + 19..at + reclen];
            let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
            let name = String::from_utf8_lossy(&name[..end]).into_owned();
            if name != "." && name != ".." {
                names.push(name);
            }
            at += reclen.max(1);
        }
    }
    close(fd as u64);
    names.sort();
    names
}

fn files_round(c: &mut Checks, part: u32, dir: &str, kept: u64) {
    let d = format!("{dir}/files.{part}");
    let p = cpath(&d);
    c.eq(
        &format!("part {part}: mkdir"),
        sys(83, [p.as_ptr() as u64, 0o755, 0, 0, 0, 0]),
        0,
    );
    let f = format!("{d}/a");
    let fd = open(&f, O_RDWR | O_CREAT | O_TRUNC);
    c.check(&format!("part {part}: create"), fd >= 0, || format!("{fd}"));
    let fd = fd.max(0) as u64;
    c.eq(&format!("part {part}: write"), write(fd, b"0123456789"), 10);
    c.eq(
        &format!("part {part}: lseek"),
        sys(8, [fd, 2, 0, 0, 0, 0]),
        2,
    );
    let mut b = [0u8; 4];
    c.eq(
        &format!("part {part}: read at the offset"),
        (read(fd, &mut b), b),
        (4, *b"2345"),
    );
    c.eq(
        &format!("part {part}: pread64"),
        (sys(17, [fd, b.as_mut_ptr() as u64, 4, 6, 0, 0]), b),
        (4, *b"6789"),
    );
    c.eq(
        &format!("part {part}: ftruncate"),
        sys(77, [fd, 5, 0, 0, 0, 0]),
        0,
    );
    let mut st = [0u64; 18];
    c.eq(
        &format!("part {part}: fstat"),
        sys(5, [fd, st.as_mut_ptr() as u64, 0, 0, 0, 0]),
        0,
    );
    c.eq(&format!("part {part}: its size"), st[6], 5);
    let fl = fcntl(fd, F_GETFL, 0);
    c.eq(
        &format!("part {part}: set O_APPEND"),
        fcntl(fd, F_SETFL, fl as u64 | O_APPEND),
        0,
    );
    sys(8, [fd, 0, 0, 0, 0, 0]);
    c.eq(&format!("part {part}: an append"), write(fd, b"!"), 1);
    c.eq(
        &format!("part {part}: it went to the end"),
        sys(8, [fd, 0, 1, 0, 0, 0]),
        6,
    );
    let dup = sys(292, [fd, 100 + u64::from(part), O_CLOEXEC, 0, 0, 0]);
    c.eq(&format!("part {part}: dup3"), dup, 100 + i64::from(part));
    c.eq(
        &format!("part {part}: with close-on-exec"),
        fcntl(dup.max(0) as u64, F_GETFD, 0),
        1,
    );
    close(dup.max(0) as u64);
    close(fd);
    let (a, b2, l, s) = (
        cpath(&f),
        cpath(&format!("{d}/b")),
        cpath(&format!("{d}/l")),
        cpath(&format!("{d}/s")),
    );
    c.eq(
        &format!("part {part}: rename"),
        sys(82, [a.as_ptr() as u64, b2.as_ptr() as u64, 0, 0, 0, 0]),
        0,
    );
    c.eq(
        &format!("part {part}: link"),
        sys(86, [b2.as_ptr() as u64, l.as_ptr() as u64, 0, 0, 0, 0]),
        0,
    );
    c.eq(
        &format!("part {part}: symlink"),
        sys(88, [c"b".as_ptr() as u64, s.as_ptr() as u64, 0, 0, 0, 0]),
        0,
    );
    let mut t = [0u8; 16];
    c.eq(
        &format!("part {part}: readlink"),
        (
            sys(89, [s.as_ptr() as u64, t.as_mut_ptr() as u64, 16, 0, 0, 0]),
            t[0],
        ),
        (1, b'b'),
    );
    c.eq(
        &format!("part {part}: the directory lists them"),
        listing(&d),
        vec!["b".to_string(), "l".into(), "s".into()],
    );
    for x in [&b2, &l, &s] {
        sys(87, [x.as_ptr() as u64, 0, 0, 0, 0, 0]);
    }
    c.eq(
        &format!("part {part}: rmdir"),
        sys(84, [p.as_ptr() as u64, 0, 0, 0, 0, 0]),
        0,
    );
    // The file of part 0 goes on where it was.
    let mut k = [0u8; 2];
    c.eq(
        &format!("part {part}: the file of part 0 reads on from its offset"),
        (read(kept, &mut k), k),
        (2, [b'a' + 2 * part as u8, b'b' + 2 * part as u8]),
    );
}

pub(super) fn case_files(c: &mut Checks, dir: &str) {
    let f = format!("{dir}/kept");
    let fd = open(&f, O_RDWR | O_CREAT | O_TRUNC);
    c.check("the file of part 0", fd >= 0, || format!("{fd}"));
    write(fd.max(0) as u64, b"abcdef");
    sys(8, [fd.max(0) as u64, 0, 0, 0, 0, 0]);
    in_three_parts(c, dir, |c, part| {
        files_round(c, part, dir, fd.max(0) as u64)
    });
}

// --- ids --------------------------------------------------------------------------------------

/// What a process knows of itself that must not change when it moves.
fn identity() -> Vec<i64> {
    let mut v = vec![
        sys(39, [0; 6]),              // getpid
        sys(110, [0; 6]),             // getppid
        sys(186, [0; 6]),             // gettid
        sys(121, [0; 6]),             // getpgid(0)
        sys(124, [0; 6]),             // getsid(0)
        sys(102, [0; 6]),             // getuid
        sys(107, [0; 6]),             // geteuid
        sys(104, [0; 6]),             // getgid
        sys(108, [0; 6]),             // getegid
        sys(115, [0, 0, 0, 0, 0, 0]), // getgroups count
    ];
    let mut uts = [0u8; 390];
    sys(63, [uts.as_mut_ptr() as u64, 0, 0, 0, 0, 0]);
    v.push(uts[65..130].iter().map(|&b| i64::from(b)).sum());
    v
}

fn ids_round(c: &mut Checks, part: u32, dir: &str, first: &[i64]) {
    c.eq(
        &format!("part {part}: pid, parent, tid, group, session, ids, host name"),
        identity(),
        first.to_vec(),
    );
    let sub = format!("{dir}/cwd.{part}");
    let p = cpath(&sub);
    sys(83, [p.as_ptr() as u64, 0o755, 0, 0, 0, 0]);
    c.eq(
        &format!("part {part}: chdir"),
        sys(80, [p.as_ptr() as u64, 0, 0, 0, 0, 0]),
        0,
    );
    let mut b = [0u8; 4096];
    let n = sys(79, [b.as_mut_ptr() as u64, b.len() as u64, 0, 0, 0, 0]);
    let cwd = String::from_utf8_lossy(&b[..(n.max(1) - 1) as usize]).into_owned();
    c.check(
        &format!("part {part}: getcwd is the new directory"),
        cwd.ends_with(&format!("/cwd.{part}")),
        || cwd.clone(),
    );
    let up = cpath("..");
    sys(80, [up.as_ptr() as u64, 0, 0, 0, 0, 0]);
    let old = sys(95, [0o027, 0, 0, 0, 0, 0]);
    c.eq(
        &format!("part {part}: umask"),
        (old, sys(95, [old as u64, 0, 0, 0, 0, 0])),
        (0o022, 0o027),
    );
    let mut set = [0u64; 16];
    let n = sys(204, [0, 128, set.as_mut_ptr() as u64, 0, 0, 0]);
    c.check(
        &format!("part {part}: sched_getaffinity names a CPU"),
        n > 0 && set[0] != 0,
        || format!("{n}"),
    );
}

pub(super) fn case_ids(c: &mut Checks, dir: &str) {
    sys(95, [0o022, 0, 0, 0, 0, 0]);
    let first = identity();
    c.check("its pid", first[0] > 0 && first[0] == first[2], || {
        format!("{first:?}")
    });
    in_three_parts(c, dir, |c, part| ids_round(c, part, dir, &first));
}

// --- memory -----------------------------------------------------------------------------------

const PROT_RW: u64 = 3;
const PROT_READ: u64 = 1;
const MAP_PRIVATE_ANON: u64 = 0x22;
const MREMAP_MAYMOVE: u64 = 1;
const MADV_DONTNEED: u64 = 4;
const PG: u64 = 4096;

fn fill(addr: u64, len: u64, seed: u8) {
    for i in 0..len {
        // SAFETY: [addr, addr + len) is an area of this process mapped read-write by the caller.
        unsafe { ((addr + i) as *mut u8).write_volatile(seed.wrapping_add((i / 7) as u8)) };
    }
}

fn holds(addr: u64, len: u64, seed: u8) -> bool {
    // SAFETY: [addr, addr + len) is mapped readable by the caller.
    (0..len).all(|i| unsafe { ((addr + i) as *const u8).read_volatile() } == seed.wrapping_add((i / 7) as u8))
}

fn memory_round(c: &mut Checks, part: u32, kept: u64) {
    c.check(
        &format!("part {part}: the memory of part 0 holds what was written"),
        holds(kept, 64 * PG, 7),
        String::new,
    );
    let a = sys(9, [0, 4 * PG, PROT_RW, MAP_PRIVATE_ANON, u64::MAX, 0]);
    c.check(&format!("part {part}: mmap"), a > 0, || format!("{a}"));
    let a = a.max(0) as u64;
    fill(a, 4 * PG, part as u8);
    c.eq(
        &format!("part {part}: mprotect read-only"),
        sys(10, [a, PG, PROT_READ, 0, 0, 0]),
        0,
    );
    c.check(
        &format!("part {part}: still readable"),
        holds(a, PG, part as u8),
        String::new,
    );
    sys(10, [a, PG, PROT_RW, 0, 0, 0]);
    let b = sys(25, [a, 4 * PG, 64 * PG, MREMAP_MAYMOVE, 0, 0]);
    c.check(&format!("part {part}: mremap grows it"), b > 0, || {
        format!("{b}")
    });
    let b = b.max(0) as u64;
    c.check(
        &format!("part {part}: with its contents"),
        holds(b, 4 * PG, part as u8),
        String::new,
    );
    fill(b + 60 * PG, 4 * PG, 9);
    c.eq(
        &format!("part {part}: madvise(MADV_DONTNEED)"),
        sys(28, [b, PG, MADV_DONTNEED, 0, 0, 0]),
        0,
    );
    // SAFETY: `b` is mapped read-write, 64 pages.
    c.eq(
        &format!("part {part}: the page reads zero"),
        unsafe { (b as *const u64).read_volatile() },
        0,
    );
    let mut vec = [0u8; 64];
    c.eq(
        &format!("part {part}: mincore"),
        sys(27, [b, 64 * PG, vec.as_mut_ptr() as u64, 0, 0, 0]),
        0,
    );
    c.eq(
        &format!("part {part}: the written end is in memory"),
        vec[63] & 1,
        1,
    );
    sys(11, [b, 64 * PG, 0, 0, 0, 0]);
    let cur = sys(12, [0; 6]) as u64;
    let grown = sys(12, [cur + 16 * PG, 0, 0, 0, 0, 0]) as u64;
    c.eq(&format!("part {part}: brk grows"), grown, cur + 16 * PG);
    fill(cur, 16 * PG, 3);
    c.check(
        &format!("part {part}: the heap holds"),
        holds(cur, 16 * PG, 3),
        String::new,
    );
    c.eq(
        &format!("part {part}: brk shrinks back"),
        sys(12, [cur, 0, 0, 0, 0, 0]) as u64,
        cur,
    );
}

pub(super) fn case_memory(c: &mut Checks, dir: &str) {
    let kept = sys(9, [0, 64 * PG, PROT_RW, MAP_PRIVATE_ANON, u64::MAX, 0]);
    c.check("the memory of part 0", kept > 0, || format!("{kept}"));
    fill(kept.max(0) as u64, 64 * PG, 7);
    // Blocked SIGUSR1 stays blocked (a mask is part of the process too).
    mask(SIG_BLOCK, 1 << (SIGUSR1 - 1));
    in_three_parts(c, dir, |c, part| memory_round(c, part, kept.max(0) as u64));
    mask(SIG_UNBLOCK, 1 << (SIGUSR1 - 1));
}
