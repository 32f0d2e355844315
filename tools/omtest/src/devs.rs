// SPDX-License-Identifier: GPL-2.0

//! `omx-t` cases of devices, datagrams, directories, the CPU and the system, each checked in
//! every part (so, in a moved run, on what was made before the move and anew away):
//! - `tty`: pseudo-terminals from `/dev/ptmx` (`TIOCSPTLCK`, `TIOCGPTN`, the slave's name):
//!   one of part 0 keeps the terminal modes (`TCSETS`, no echo) and the window size
//!   (`TIOCSWINSZ`/`TIOCGWINSZ`) each part set, and carries lines; a new one's default modes,
//!   a line through the line discipline with its echo, output with `ONLCR`, `FIONREAD`, `ENOTTY`
//!   for a pipe, `EIO` once the master is closed.
//! - `udp`: datagrams on the loopback: `sendto`/`recvfrom` with their source, boundaries kept,
//!   `MSG_PEEK`, `MSG_TRUNC` (the whole length), the rest of a datagram cut off, `FIONREAD`, a
//!   connected socket (`getpeername`, `write`, datagrams of others not received, `AF_UNSPEC`
//!   dissolving it), `EDESTADDRREQ`; a datagram queued before the move.
//! - `dirs`: a directory of 240 files read with `getdents64` a little in every part through a
//!   descriptor of part 0 (every entry once in all), `lseek` back to a position of it, a new
//!   descriptor read whole and rewound, `ENOTDIR`, `EISDIR`, `mkdirat`, `fchdir`.
//! - `devices`: `/dev/zero`, `/dev/null`, `/dev/full` (`ENOSPC`), `/dev/urandom` opened in part
//!   0 and anew (their device numbers, reads, writes), `getrandom` with its flags.
//! - `fpu`: sixteen YMM registers and two x87 registers loaded before each step and read back
//!   after it (the step waits in a loop of raw system calls, so a move catches them live), the
//!   rounding modes of MXCSR and of the x87 control word set in part 0 in force in every part,
//!   and divisions rounded by them.
//! - `uname`: `uname` as in part 0 and as `/proc/sys/kernel` says, `sysinfo` (the memory, an
//!   uptime that never goes back), `getcpu`, the personality set in part 0 kept, `UNAME26` set
//!   and taken off. (The release `uname` gives under `UNAME26` is not checked: moved, it is the
//!   home's, whose copy of the personality has no `UNAME26`.)

use super::basics::{close, cpath, loopback, open, pipe, read, write};
use super::procs::Part;
use super::{in_three_parts, sys, Checks};
use std::time::Duration;

const O_RDWR: u64 = 2;
const O_NOCTTY: u64 = 0o400;
const O_DIRECTORY: u64 = 0o200000;
const EIO: i64 = 5;
const EAGAIN: i64 = 11;
const ENOTDIR: i64 = 20;
const EISDIR: i64 = 21;
const EINVAL: i64 = 22;
const ENOTTY: i64 = 25;
const ENOSPC: i64 = 28;
const EDESTADDRREQ: i64 = 89;
const ENOTCONN: i64 = 107;
const POLLIN: u64 = 1;

fn ioctl<T>(fd: u64, cmd: u64, arg: &mut T) -> i64 {
    sys(16, [fd, cmd, arg as *mut T as u64, 0, 0, 0])
}

/// Reads until `n` bytes came, each read after `poll` said so (within 5 s).
fn read_n(fd: u64, n: usize) -> Vec<u8> {
    let mut got = Vec::new();
    while got.len() < n {
        let mut pfd = [u64::from(fd as u32) | POLLIN << 32];
        if sys(7, [pfd.as_mut_ptr() as u64, 1, 5000, 0, 0, 0]) != 1 {
            break;
        }
        let mut b = vec![0u8; n - got.len()];
        let r = read(fd, &mut b);
        if r <= 0 {
            break;
        }
        got.extend_from_slice(&b[..r as usize]);
    }
    got
}

// --- tty --------------------------------------------------------------------------------------

const TCGETS: u64 = 0x5401;
const TCSETS: u64 = 0x5402;
const TIOCGWINSZ: u64 = 0x5413;
const TIOCSWINSZ: u64 = 0x5414;
const FIONREAD: u64 = 0x541b;
const TIOCSPTLCK: u64 = 0x4004_5431;
const TIOCGPTN: u64 = 0x8004_5430;
const ICANON: u32 = 0o2;
const ECHO: u32 = 0o10;

/// A new pseudo-terminal: master, slave, its number.
fn pty() -> (u64, u64, u32) {
    let m = open("/dev/ptmx", O_RDWR | O_NOCTTY);
    let mut unlock = 0i32;
    let mut n = u32::MAX;
    ioctl(m as u64, TIOCSPTLCK, &mut unlock);
    ioctl(m as u64, TIOCGPTN, &mut n);
    let s = open(&format!("/dev/pts/{n}"), O_RDWR | O_NOCTTY);
    (m as u64, s as u64, n)
}

/// `TCGETS`: the result and `struct termios` (36 bytes).
fn termios(fd: u64) -> (i64, [u8; 36]) {
    let mut t = [0u8; 36];
    (ioctl(fd, TCGETS, &mut t), t)
}

/// The local modes of a terminal (`c_lflag`), or the error.
fn lflag(fd: u64) -> i64 {
    let (r, t) = termios(fd);
    if r < 0 {
        r
    } else {
        i64::from(u32::from_ne_bytes([t[12], t[13], t[14], t[15]]))
    }
}

/// `TCSETS` of `t` with its local modes `lflag`.
fn set_lflag(fd: u64, mut t: [u8; 36], lflag: u32) -> i64 {
    t[12..16].copy_from_slice(&lflag.to_ne_bytes());
    ioctl(fd, TCSETS, &mut t)
}

fn tty_round(c: &mut Checks, part: u32, kept: (u64, u64, u32)) {
    let mut k = Part(c, part);
    let (m0, s0, n0) = kept;
    let modes = lflag(s0);
    let got = modes & i64::from(ICANON | ECHO);
    let want = i64::from(ICANON);
    k.eq("the terminal of part 0: canonical, no echo", got, want);
    let mut n = u32::MAX;
    k.eq("its number", (ioctl(m0, TIOCGPTN, &mut n), n), (0, n0));
    let mut ws = [0u16; 4];
    let got = (ioctl(s0, TIOCGWINSZ, &mut ws), ws);
    let want = (0, [30 + part as u16, 100, 0, 0]);
    k.eq("its window size as the last part set it", got, want);
    let mut next = [31 + part as u16, 100, 0, 0];
    k.eq("TIOCSWINSZ", ioctl(m0, TIOCSWINSZ, &mut next), 0);
    let line = format!("line {part}\n");
    let got = write(m0, line.as_bytes());
    k.eq("a line into it", got, line.len() as i64);
    let got = read_n(s0, line.len());
    k.eq("read as a line", got, line.as_bytes().to_vec());
    // A new one: its default modes, a line and its echo, output with ONLCR.
    let (m, s, num) = pty();
    let got = m < 1 << 20 && s < 1 << 20;
    k.ok("a new pseudo-terminal", got, || format!("{m} {s}"));
    let link = std::fs::read_link(format!("/proc/self/fd/{s}")).unwrap_or_default();
    let got = link.to_string_lossy().into_owned();
    k.eq("its slave's name", got, format!("/dev/pts/{num}"));
    let got = lflag(s) & i64::from(ICANON | ECHO);
    k.eq("canonical, echo", got, i64::from(ICANON | ECHO));
    k.eq("a line in", write(m, b"hi\n"), 3);
    k.eq("the slave reads it", read_n(s, 3), b"hi\n".to_vec());
    let got = read_n(m, 4);
    k.eq("the master reads its echo", got, b"hi\r\n".to_vec());
    k.eq("output", write(s, b"out\nput\n"), 8);
    let got = read_n(m, 10);
    let want = b"out\r\nput\r\n".to_vec();
    k.eq("the master reads it with ONLCR", got, want);
    // Not canonical, a byte at least (VMIN, c_cc[6]: byte 23; VTIME, byte 22).
    let (_, mut t) = termios(s);
    (t[22], t[23]) = (0, 1);
    let modes = lflag(s) as u32 & !ICANON;
    k.eq("TCSETS: not canonical", set_lflag(s, t, modes), 0);
    k.eq("its modes", lflag(s) & i64::from(ICANON), 0);
    k.eq("bytes in", write(m, b"ab"), 2);
    k.eq("read without a line", read_n(s, 2), b"ab".to_vec());
    k.eq("their echo", read_n(m, 2), b"ab".to_vec());
    let mut pend = -1i32;
    write(s, b"xyz");
    let mut waited = 0;
    while ioctl(m, FIONREAD, &mut pend) == 0 && pend < 3 && waited < 5000 {
        std::thread::sleep(Duration::from_millis(10));
        waited += 10;
    }
    k.eq("FIONREAD", pend, 3);
    k.eq("they read", read_n(m, 3), b"xyz".to_vec());
    let fds = pipe(0);
    k.eq("a pipe is no terminal", lflag(fds.0), -ENOTTY);
    close(fds.0);
    close(fds.1);
    close(m);
    let mut b = [0u8; 4];
    k.eq("the master closed: end of file", read(s, &mut b), 0);
    k.eq("and EIO to write", write(s, b"x"), -EIO);
    close(s);
}

pub(super) fn case_tty(c: &mut Checks, dir: &str) {
    let kept = pty();
    let made = kept.0 < 1 << 20 && kept.1 < 1 << 20;
    c.check("a pseudo-terminal", made, || format!("{kept:?}"));
    let (_, t) = termios(kept.1);
    let r = set_lflag(kept.1, t, lflag(kept.1) as u32 & !ECHO);
    c.eq("TCSETS: no echo", r, 0);
    let mut ws = [30u16, 100, 0, 0];
    c.eq("TIOCSWINSZ", ioctl(kept.0, TIOCSWINSZ, &mut ws), 0);
    in_three_parts(c, dir, |c, part| tty_round(c, part, kept));
}

// --- udp --------------------------------------------------------------------------------------

const AF_INET: u64 = 2;
const SOCK_DGRAM: u64 = 2;
const MSG_PEEK: u64 = 2;
const MSG_TRUNC: u64 = 0x20;
const MSG_DONTWAIT: u64 = 0x40;

/// A UDP socket bound to the loopback: it and its port.
fn udp_socket() -> (u64, u16) {
    let s = sys(41, [AF_INET, SOCK_DGRAM, 0, 0, 0, 0]).max(0) as u64;
    let a = loopback(0);
    sys(49, [s, a.as_ptr() as u64, 16, 0, 0, 0]);
    (s, sockname(s, 51).1)
}

/// `getsockname` (51) or `getpeername` (52): the result and the port.
fn sockname(s: u64, nr: u64) -> (i64, u16) {
    let mut a = [0u8; 16];
    let mut len = 16u32;
    let len = &mut len as *mut u32 as u64;
    let r = sys(nr, [s, a.as_mut_ptr() as u64, len, 0, 0, 0]);
    (r, u16::from_be_bytes([a[2], a[3]]))
}

fn send_to(s: u64, b: &[u8], port: u16) -> i64 {
    let a = loopback(port);
    let (buf, to) = (b.as_ptr() as u64, a.as_ptr() as u64);
    sys(44, [s, buf, b.len() as u64, 0, to, 16])
}

/// `recvfrom` into `room` bytes: the result, the bytes, the source's port.
fn recv_from(s: u64, room: usize, flags: u64) -> (i64, Vec<u8>, u16) {
    let mut b = vec![0u8; room];
    let mut a = [0u8; 16];
    let mut len = 16u32;
    let (buf, from) = (b.as_mut_ptr() as u64, a.as_mut_ptr() as u64);
    let r = sys(
        45,
        [
            s,
            buf,
            room as u64,
            flags,
            from,
            &mut len as *mut u32 as u64,
        ],
    );
    b.truncate(r.clamp(0, room as i64) as usize);
    (r, b, u16::from_be_bytes([a[2], a[3]]))
}

fn udp_round(c: &mut Checks, part: u32, kept: (u64, u16), old: (u64, u16)) {
    let mut k = Part(c, part);
    let (a, pa) = kept;
    if part > 0 {
        let want = (8, format!("queued {}", part - 1).into_bytes(), old.1);
        k.eq("the datagram queued before", recv_from(a, 64, 0), want);
    }
    let (b, pb) = udp_socket();
    k.ok("a new socket has a port", pb != 0, String::new);
    for m in ["one", "two-two", "three-three-three"] {
        k.eq("sendto", send_to(b, m.as_bytes(), pa), m.len() as i64);
    }
    let mut pending = 0i32;
    let got = (ioctl(a, FIONREAD, &mut pending), pending);
    k.eq("FIONREAD: the first datagram's size", got, (0, 3));
    for m in ["one", "two-two", "three-three-three"] {
        let got = recv_from(a, 64, 0);
        let want = (m.len() as i64, m.as_bytes().to_vec(), pb);
        k.eq("recvfrom: one datagram, its source", got, want);
    }
    send_to(b, b"peek", pa);
    let got = recv_from(a, 64, MSG_PEEK);
    k.eq("MSG_PEEK", got, (4, b"peek".to_vec(), pb));
    k.eq("then the same", recv_from(a, 64, 0).1, b"peek".to_vec());
    let got = recv_from(a, 64, MSG_DONTWAIT).0;
    k.eq("then none: EAGAIN", got, -EAGAIN);
    let big = [b'z'; 100];
    send_to(b, &big, pa);
    let got = recv_from(a, 10, MSG_TRUNC);
    let want = (100, vec![b'z'; 10], pb);
    k.eq("MSG_TRUNC: the whole length", got, want);
    send_to(b, &big[..50], pa);
    k.eq("a datagram cut to the room", recv_from(a, 10, 0).0, 10);
    let got = recv_from(a, 64, MSG_DONTWAIT).0;
    k.eq("its rest is gone", got, -EAGAIN);
    // Connected to the kept socket.
    let to_a = loopback(pa);
    let got = sys(42, [b, to_a.as_ptr() as u64, 16, 0, 0, 0]);
    k.eq("connect", got, 0);
    k.eq("getpeername", sockname(b, 52), (0, pa));
    k.eq("write", write(b, b"conn"), 4);
    let got = recv_from(a, 64, 0);
    k.eq("received from it", got, (4, b"conn".to_vec(), pb));
    k.eq("an answer", send_to(a, b"back", pb), 4);
    let (other, _) = udp_socket();
    send_to(other, b"stranger", pb);
    let mut r = [0u8; 16];
    k.eq("read: only its peer's", read(b, &mut r), 4);
    let got = recv_from(b, 64, MSG_DONTWAIT).0;
    k.eq("nothing of a stranger", got, -EAGAIN);
    let unspec = [0u8; 16];
    let got = sys(42, [b, unspec.as_ptr() as u64, 16, 0, 0, 0]);
    k.eq("AF_UNSPEC dissolves it", got, 0);
    k.eq("getpeername: ENOTCONN", sockname(b, 52).0, -ENOTCONN);
    let got = write(b, b"x");
    k.eq("write with no peer: EDESTADDRREQ", got, -EDESTADDRREQ);
    close(b);
    close(other);
    if part < 2 {
        let m = format!("queued {part}");
        let got = write(old.0, m.as_bytes());
        k.eq("a datagram to read after the move", got, 8);
    }
}

pub(super) fn case_udp(c: &mut Checks, dir: &str) {
    let kept = udp_socket();
    c.check("a UDP socket on the loopback", kept.1 != 0, String::new);
    let (o, po) = udp_socket();
    let to = loopback(kept.1);
    let r = sys(42, [o, to.as_ptr() as u64, 16, 0, 0, 0]);
    c.eq("one connected to it", r, 0);
    in_three_parts(c, dir, |c, part| udp_round(c, part, kept, (o, po)));
}

// --- dirs -------------------------------------------------------------------------------------

const FILES: usize = 240;

/// One `getdents64` of up to `room` bytes: the result and the names.
fn dents(fd: u64, room: usize) -> (i64, Vec<String>) {
    let mut buf = vec![0u8; room];
    let n = sys(217, [fd, buf.as_mut_ptr() as u64, room as u64, 0, 0, 0]);
    let mut names = Vec::new();
    let mut at = 0usize;
    while at + 19 < n.max(0) as usize {
        let reclen = usize::from(u16::from_ne_bytes([buf[at + 16], buf[at + 17]]));
        let name = &buf[at + 19..at + reclen];
        let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
        names.push(String::from_utf8_lossy(&name[..end]).into_owned());
        at += reclen.max(1);
    }
    (n, names)
}

fn dirs_round(c: &mut Checks, part: u32, dir: &str, kept: u64, seen: &mut Vec<String>) {
    let mut k = Part(c, part);
    // The descriptor of part 0 reads on: three more reads (to the end in part 2).
    let pos = sys(8, [kept, 0, 1, 0, 0, 0]);
    let (_, first) = dents(kept, 512);
    let got = sys(8, [kept, pos as u64, 0, 0, 0, 0]);
    k.eq("lseek back to its position", got, pos);
    let got = dents(kept, 512).1;
    k.eq("reads the same entries again", got, first.clone());
    let mut new = first;
    for _ in 0..if part == 2 { 100 } else { 2 } {
        let (n, names) = dents(kept, 512);
        if n <= 0 {
            break;
        }
        new.extend(names);
    }
    let got = !new.is_empty();
    k.ok("the descriptor of part 0 reads on", got, String::new);
    let again = new.iter().filter(|n| seen.contains(n)).count();
    k.eq("entries not seen before", again, 0);
    seen.extend(new);
    if part == 2 {
        let mut all = seen.clone();
        all.sort();
        let mut want: Vec<String> = (0..FILES).map(|i| format!("f{i:03}")).collect();
        want.extend([".".to_string(), "..".into()]);
        want.sort();
        k.0.eq("part 2: every entry once in all", all, want);
    }
    // A new descriptor: read whole, rewound, read again.
    let d = format!("{dir}/many");
    let fd = open(&d, O_DIRECTORY).max(0) as u64;
    let (_, head) = dents(fd, 512);
    let mut count = head.len();
    loop {
        let (n, names) = dents(fd, 4096);
        if n <= 0 {
            break;
        }
        count += names.len();
    }
    k.eq("a new descriptor reads every entry", count, FILES + 2);
    k.eq("at the end: nothing", dents(fd, 4096).0, 0);
    k.eq("rewind", sys(8, [fd, 0, 0, 0, 0, 0]), 0);
    k.eq("the same first entries", dents(fd, 512).1, head);
    let mut b = [0u8; 8];
    k.eq("read of a directory: EISDIR", read(fd, &mut b), -EISDIR);
    let sub = cpath(&format!("sub.{part}"));
    let got = sys(258, [fd, sub.as_ptr() as u64, 0o755, 0, 0, 0]);
    k.eq("mkdirat", got, 0);
    let sfd = sys(257, [fd, sub.as_ptr() as u64, O_DIRECTORY, 0, 0, 0]);
    let got = sys(81, [sfd.max(0) as u64, 0, 0, 0, 0, 0]);
    k.eq("fchdir into it", got, 0);
    let mut w = [0u8; 4096];
    let n = sys(79, [w.as_mut_ptr() as u64, 4096, 0, 0, 0, 0]);
    let cwd = String::from_utf8_lossy(&w[..(n.max(1) - 1) as usize]).into_owned();
    k.eq("getcwd", cwd, format!("{d}/sub.{part}"));
    let root = cpath("/");
    sys(80, [root.as_ptr() as u64, 0, 0, 0, 0, 0]);
    let got = sys(263, [fd, sub.as_ptr() as u64, 0x200, 0, 0, 0]);
    k.eq("unlinkat(AT_REMOVEDIR)", got, 0);
    let f = open(&format!("{d}/f007"), 0).max(0) as u64;
    k.eq("getdents64 of a file: ENOTDIR", dents(f, 512).0, -ENOTDIR);
    let got = open(&format!("{d}/f007"), O_DIRECTORY);
    k.eq("O_DIRECTORY of a file: ENOTDIR", got, -ENOTDIR);
    for x in [sfd.max(0) as u64, fd, f] {
        close(x);
    }
}

pub(super) fn case_dirs(c: &mut Checks, dir: &str) {
    let d = format!("{dir}/many");
    let made = std::fs::create_dir(&d)
        .and_then(|()| (0..FILES).try_for_each(|i| std::fs::write(format!("{d}/f{i:03}"), b"")));
    c.check("a directory of 240 files", made.is_ok(), || {
        format!("{made:?}")
    });
    let kept = open(&d, O_DIRECTORY);
    c.check("its descriptor", kept >= 0, || format!("{kept}"));
    let mut seen = Vec::new();
    let (_, names) = dents(kept.max(0) as u64, 512);
    seen.extend(names);
    in_three_parts(c, dir, |c, part| {
        dirs_round(c, part, dir, kept.max(0) as u64, &mut seen)
    });
}

// --- devices ----------------------------------------------------------------------------------

const DEVICES: [(&str, u64); 4] = [
    ("/dev/null", 3),
    ("/dev/zero", 5),
    ("/dev/full", 7),
    ("/dev/urandom", 9),
];
const GRND_NONBLOCK: u64 = 1;
const GRND_RANDOM: u64 = 2;
const GRND_INSECURE: u64 = 4;

fn getrandom(len: usize, flags: u64) -> (i64, Vec<u8>) {
    let mut b = vec![0u8; len];
    let r = sys(318, [b.as_mut_ptr() as u64, len as u64, flags, 0, 0, 0]);
    (r, b)
}

fn open_devices() -> Vec<u64> {
    DEVICES
        .iter()
        .map(|d| open(d.0, O_RDWR).max(0) as u64)
        .collect()
}

fn devices_round(c: &mut Checks, part: u32, kept: &[u64]) {
    let mut k = Part(c, part);
    let fresh = open_devices();
    for (which, fds) in [("of part 0", kept), ("new", &fresh)] {
        let t = |what: &str| format!("{what} ({which})");
        let [null, zero, full, urandom] = [fds[0], fds[1], fds[2], fds[3]];
        for (fd, (name, minor)) in fds.iter().zip(DEVICES) {
            let mut st = [0u64; 18];
            sys(5, [*fd, st.as_mut_ptr() as u64, 0, 0, 0, 0]);
            let got = (st[3] as u32 & 0o170000, st[5]);
            let want = (0o020000, 0x100 | minor);
            k.eq(&t(&format!("{name}: device 1:{minor}")), got, want);
        }
        let mut b = vec![0xaau8; 100_000];
        k.eq(&t("/dev/zero: reads"), read(zero, &mut b), 100_000);
        k.ok(&t("zeros"), b.iter().all(|&x| x == 0), String::new);
        let got = sys(8, [zero, 123, 0, 0, 0, 0]);
        k.eq(&t("/dev/zero: lseek does nothing"), got, 0);
        k.eq(&t("/dev/null: takes it all"), write(null, &b), 100_000);
        k.eq(&t("/dev/null: reads nothing"), read(null, &mut b), 0);
        k.eq(&t("/dev/full: ENOSPC"), write(full, b"x"), -ENOSPC);
        b[..64].fill(1);
        let got = (read(full, &mut b[..64]), b[..64].iter().all(|&x| x == 0));
        k.eq(&t("/dev/full: reads zeros"), got, (64, true));
        let mut r1 = [0u8; 64];
        let mut r2 = [0u8; 64];
        let got = (read(urandom, &mut r1), read(urandom, &mut r2));
        k.eq(&t("/dev/urandom"), got, (64, 64));
        let differ = r1 != r2 && r1 != [0; 64];
        k.ok(&t("two reads differ"), differ, String::new);
    }
    for fd in fresh {
        close(fd);
    }
    let (r, a) = getrandom(64, 0);
    let (r2, b) = getrandom(64, GRND_NONBLOCK);
    k.eq("getrandom, and GRND_NONBLOCK", (r, r2), (64, 64));
    k.ok("they differ", a != b && a != vec![0; 64], String::new);
    k.eq("GRND_INSECURE", getrandom(16, GRND_INSECURE).0, 16);
    let got = getrandom(16, GRND_RANDOM | GRND_INSECURE).0;
    k.eq("GRND_RANDOM | GRND_INSECURE: EINVAL", got, -EINVAL);
    k.eq("an unknown flag: EINVAL", getrandom(16, 0x100).0, -EINVAL);
}

pub(super) fn case_devices(c: &mut Checks, dir: &str) {
    let kept = open_devices();
    let made = kept.iter().all(|&f| f > 2);
    c.check("open the devices", made, || format!("{kept:?}"));
    in_three_parts(c, dir, |c, part| devices_round(c, part, &kept));
}

// --- fpu --------------------------------------------------------------------------------------

/// MXCSR: every exception masked, rounding down.
const MXCSR_DOWN: u32 = 0x3f80;
/// x87 control word: every exception masked, 64-bit precision, rounding up.
const FCW_UP: u16 = 0x0b7f;
const MXCSR_DEFAULT: u32 = 0x1f80;
const FCW_DEFAULT: u16 = 0x037f;

/// What the registers hold across a step: YMM0..15 (offset 0), ST0 and ST1 (512, 520).
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Debug)]
struct Held {
    ymm: [[u64; 4]; 16],
    st: [u64; 2],
}

fn held(k: u32) -> Held {
    let mut h = Held {
        ymm: [[0; 4]; 16],
        st: [0; 2],
    };
    for (i, r) in h.ymm.iter_mut().enumerate() {
        for (j, lane) in r.iter_mut().enumerate() {
            *lane = 0x5a5a_0000_0000_0000 ^ u64::from(k) << 40 ^ (i as u64) << 8 ^ j as u64;
        }
    }
    h.st = [
        (1.0f64 / 7.0 + f64::from(k)).to_bits(),
        (-2.5 * f64::from(k + 1)).to_bits(),
    ];
    h
}

/// Loads `load` into the registers, waits with them live until the file `go` exists (a loop of
/// `access` and `nanosleep`), and stores them to `out`.
///
/// # Safety
///
/// The CPU supports AVX; `go` is a NUL-terminated path.
#[target_feature(enable = "avx")]
unsafe fn hold(load: &Held, out: &mut Held, go: *const u8) {
    let ts: [u64; 2] = [0, 20_000_000];
    // SAFETY: the block reads `load` and `ts` and writes `out`, whose layout the offsets
    // follow (`repr(C)`); it makes only `access` and `nanosleep` (which read the path and the
    // time); the registers it uses are declared clobbered (the vector and x87 ones by the C
    // ABI); the x87 stack is empty again at its end; the caller guarantees AVX.
    unsafe {
        std::arch::asm!(
            "vmovdqu ymm0, [r12]", "vmovdqu ymm1, [r12 + 32]",
            "vmovdqu ymm2, [r12 + 64]", "vmovdqu ymm3, [r12 + 96]",
            "vmovdqu ymm4, [r12 + 128]", "vmovdqu ymm5, [r12 + 160]",
            "vmovdqu ymm6, [r12 + 192]", "vmovdqu ymm7, [r12 + 224]",
            "vmovdqu ymm8, [r12 + 256]", "vmovdqu ymm9, [r12 + 288]",
            "vmovdqu ymm10, [r12 + 320]", "vmovdqu ymm11, [r12 + 352]",
            "vmovdqu ymm12, [r12 + 384]", "vmovdqu ymm13, [r12 + 416]",
            "vmovdqu ymm14, [r12 + 448]", "vmovdqu ymm15, [r12 + 480]",
            "fld qword ptr [r12 + 520]",
            "fld qword ptr [r12 + 512]",
            "2:",
            "mov eax, 21",
            "mov rdi, r14",
            "xor esi, esi",
            "syscall",
            "test rax, rax",
            "jz 3f",
            "mov eax, 35",
            "mov rdi, r15",
            "xor esi, esi",
            "syscall",
            "jmp 2b",
            "3:",
            "vmovdqu [r13], ymm0", "vmovdqu [r13 + 32], ymm1",
            "vmovdqu [r13 + 64], ymm2", "vmovdqu [r13 + 96], ymm3",
            "vmovdqu [r13 + 128], ymm4", "vmovdqu [r13 + 160], ymm5",
            "vmovdqu [r13 + 192], ymm6", "vmovdqu [r13 + 224], ymm7",
            "vmovdqu [r13 + 256], ymm8", "vmovdqu [r13 + 288], ymm9",
            "vmovdqu [r13 + 320], ymm10", "vmovdqu [r13 + 352], ymm11",
            "vmovdqu [r13 + 384], ymm12", "vmovdqu [r13 + 416], ymm13",
            "vmovdqu [r13 + 448], ymm14", "vmovdqu [r13 + 480], ymm15",
            "fstp qword ptr [r13 + 512]",
            "fstp qword ptr [r13 + 520]",
            in("r12") load as *const Held,
            in("r13") out as *mut Held,
            in("r14") go,
            in("r15") ts.as_ptr(),
            clobber_abi("C"),
        );
    }
}

fn mxcsr() -> u32 {
    let mut v = 0u32;
    // SAFETY: stores MXCSR to `v`.
    unsafe { std::arch::asm!("stmxcsr [{}]", in(reg) &mut v, options(nostack)) };
    v
}

fn fcw() -> u16 {
    let mut v = 0u16;
    // SAFETY: stores the x87 control word to `v`.
    unsafe { std::arch::asm!("fnstcw [{}]", in(reg) &mut v, options(nostack)) };
    v
}

/// Sets MXCSR and the x87 control word.
fn set_modes(m: u32, f: u16) {
    // SAFETY: loads both control registers from memory; only rounding and masks change.
    unsafe {
        std::arch::asm!("ldmxcsr [{}]", "fldcw [{}]", in(reg) &m, in(reg) &f, options(nostack))
    };
}

/// `a / b` by SSE and by the x87 unit (stored as a double), as bits.
fn divide(a: f64, b: f64) -> [u64; 2] {
    let mut q = a;
    let mut x = 0f64;
    // SAFETY: a division in registers, and one on the x87 stack (left empty) into `x`.
    unsafe {
        std::arch::asm!("divsd {q}, {b}", q = inout(xmm_reg) q, b = in(xmm_reg) b, options(nostack));
        std::arch::asm!(
            "fld qword ptr [{a}]",
            "fdiv qword ptr [{b}]",
            "fstp qword ptr [{x}]",
            a = in(reg) &a,
            b = in(reg) &b,
            x = in(reg) &mut x,
            out("st(0)") _,
            options(nostack),
        );
    }
    [q.to_bits(), x.to_bits()]
}

fn fpu_round(c: &mut Checks, part: u32) {
    let mut k = Part(c, part);
    // (MXCSR's low six bits are the exceptions seen so far.)
    let modes = (mxcsr() & !0x3f, fcw());
    let want = (MXCSR_DOWN, FCW_UP);
    k.eq("MXCSR and the x87 control word of part 0", modes, want);
    // 1/3 and -1/3: SSE rounds down, the x87 unit up (the nearest would be ..555 for both).
    let third = divide(1.0, 3.0);
    let minus = divide(-1.0, 3.0);
    let want = (
        [0x3fd5_5555_5555_5555, 0x3fd5_5555_5555_5556],
        [0xbfd5_5555_5555_5556, 0xbfd5_5555_5555_5555],
    );
    k.eq("divisions rounded so", (third, minus), want);
    let root: f64 = std::hint::black_box(2.0f64);
    let r = root.sqrt().to_bits();
    k.eq("a square root rounded down", r, 0x3ff6_a09e_667f_3bcc);
}

/// The step `k` with registers live across it.
fn fpu_step(c: &mut Checks, dir: &str, k: u32) {
    let _ = std::fs::File::create(format!("{dir}/at.{k}"));
    let go = cpath(&format!("{dir}/go.{k}"));
    let load = held(k);
    let mut out = held(99);
    if std::arch::is_x86_feature_detected!("avx") {
        // SAFETY: AVX is there; `go` ends with a NUL.
        unsafe { hold(&load, &mut out, go.as_ptr()) };
    } else {
        super::step(dir, k);
    }
    let what = format!("step {k}: the YMM registers held");
    c.eq(&what, out.ymm, load.ymm);
    c.eq(&format!("step {k}: the x87 registers"), out.st, load.st);
}

pub(super) fn case_fpu(c: &mut Checks, dir: &str) {
    let avx = std::arch::is_x86_feature_detected!("avx");
    c.check("the CPU has AVX", avx, String::new);
    set_modes(MXCSR_DOWN, FCW_UP);
    fpu_round(c, 0);
    for k in 1..=2 {
        fpu_step(c, dir, k);
        fpu_round(c, k);
    }
    set_modes(MXCSR_DEFAULT, FCW_DEFAULT);
    let nearest = [0x3fd5_5555_5555_5555; 2];
    c.eq("the default modes back", divide(1.0, 3.0), nearest);
}

// --- uname ------------------------------------------------------------------------------------

/// The six fields of `uname`.
fn uname() -> Vec<String> {
    let mut u = [0u8; 390];
    sys(63, [u.as_mut_ptr() as u64, 0, 0, 0, 0, 0]);
    let field = |f: &[u8]| f.split(|&b| b == 0).next().unwrap_or(f).to_vec();
    u.chunks(65)
        .map(|f| String::from_utf8_lossy(&field(f)).into())
        .collect()
}

fn personality(p: u64) -> i64 {
    sys(135, [p, 0, 0, 0, 0, 0])
}

const ADDR_NO_RANDOMIZE: u64 = 0x0004_0000;
const UNAME26: u64 = 0x0002_0000;

fn uname_round(c: &mut Checks, part: u32, first: &[String], last: &mut [u64; 2]) {
    let mut k = Part(c, part);
    k.eq("uname as in part 0", uname(), first.to_vec());
    let kernel =
        |f: &str| std::fs::read_to_string(format!("/proc/sys/kernel/{f}")).unwrap_or_default();
    let got = [kernel("hostname"), kernel("osrelease")];
    let want = [format!("{}\n", first[1]), format!("{}\n", first[2])];
    k.eq("/proc/sys/kernel: host name and release", got, want);
    let got = personality(0xffff_ffff);
    k.eq("the personality of part 0", got, ADDR_NO_RANDOMIZE as i64);
    // UNAME26 set and taken off again. (What uname then says is not checked: moved, the
    // process's personality is its host's copy, and uname, made at home, says 7.x.)
    let got = personality(ADDR_NO_RANDOMIZE | UNAME26);
    k.eq("UNAME26", got, ADDR_NO_RANDOMIZE as i64);
    let got = personality(ADDR_NO_RANDOMIZE);
    k.eq("and off again", got, (ADDR_NO_RANDOMIZE | UNAME26) as i64);
    let got = uname()[2].clone();
    k.eq("and its own release again", got, first[2].clone());
    let mut si = [0u64; 14];
    let got = sys(99, [si.as_mut_ptr() as u64, 0, 0, 0, 0, 0]);
    k.eq("sysinfo", got, 0);
    let got = (si[4], si[13] as u32);
    k.eq("its memory as in part 0, in bytes", got, (last[1], 1));
    let got = si[0] >= last[0];
    k.ok("its uptime never goes back", got, || {
        format!("{} after {}", si[0], last[0])
    });
    let got = si[10] as u16 > 0;
    k.ok("processes", got, || format!("{}", si[10] as u16));
    last[0] = si[0];
    let (mut cpu, mut node) = (u32::MAX, u32::MAX);
    let (at_cpu, at_node) = (&mut cpu as *mut u32 as u64, &mut node as *mut u32 as u64);
    let r = sys(309, [at_cpu, at_node, 0, 0, 0, 0]);
    let mut set = [0u64; 16];
    sys(204, [0, 128, set.as_mut_ptr() as u64, 0, 0, 0]);
    let allowed = cpu < 1024 && set[cpu as usize / 64] >> (cpu % 64) & 1 == 1;
    let got = (r, allowed, node);
    k.eq("getcpu: a CPU it may run on, node 0", got, (0, true, 0));
}

pub(super) fn case_uname(c: &mut Checks, dir: &str) {
    let first = uname();
    let kind = [first[0].as_str(), first[4].as_str()];
    c.eq("uname: Linux on x86_64", kind, ["Linux", "x86_64"]);
    c.eq("personality", personality(ADDR_NO_RANDOMIZE), 0);
    let mut si = [0u64; 14];
    sys(99, [si.as_mut_ptr() as u64, 0, 0, 0, 0, 0]);
    let mut last = [si[0], si[4]];
    in_three_parts(c, dir, |c, part| uname_round(c, part, &first, &mut last));
}
