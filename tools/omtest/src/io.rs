// SPDX-License-Identifier: GPL-2.0

//! `omx-io SECONDS [ROUNDS]`: a test program that, ROUNDS times (default 1), burns the CPU for
//! about SECONDS (time to be migrated), then works with files in its current directory and writes
//! a transcript to standard output (and a line to standard error, whether it is a terminal):
//! create and write a file by a relative path, seek and read it back, append with `O_APPEND`,
//! check sizes with `fstat`/`statx`, write and read a file (`write`, `read`, `pwrite64`,
//! `pread64`) 1 MiB at a time, `statfs`/`fstatfs`, `flock`, `inotify`, a memfd, `utimensat`,
//! `linkat`, a SysV semaphore and an extended attribute, list the directory, rename and remove
//! files, read standard
//! input to its end (the first round reads it all), wait with `epoll` on a pipe of its own, send
//! and receive a message in pieces (`sendmsg`, `pselect6`, `recvmsg`) on a socket pair of its
//! own, and datagrams with their source address (`recvfrom`, `recvmsg`). The transcript is the
//! same wherever the process runs, as long as its files, directory and standard streams are the
//! home node's.

mod cpu;
mod raw;

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;

fn main() {
    let (secs, rounds) = cpu::seconds_and_rounds();
    let out = std::io::stdout();
    let mut out = out.lock();
    let mut x = 0;
    for round in 0..rounds {
        // CPU only, then the files.
        x ^= cpu::burn(secs);
        writeln!(out, "round {round}").ok();
        if let Err(e) = run(&mut out) {
            writeln!(out, "error: {e}").ok();
            std::process::exit(1);
        }
    }
    writeln!(out, "done {}", x & 1 | 1).ok();
}

fn run(out: &mut impl Write) -> std::io::Result<()> {
    writeln!(out, "cwd {}", std::env::current_dir()?.display())?;
    // Standard error: the terminal it had at home, if it had one (TCGETS; c_lflag at 12).
    let mut termios = [0u8; 36];
    let tty = sys(16, [2, 0x5401, termios.as_mut_ptr() as u64, 0, 0, 0]).is_ok();
    let lflag = u32::from_ne_bytes([termios[12], termios[13], termios[14], termios[15]]);
    writeln!(out, "stderr is a terminal: {tty} (c_lflag {lflag:#x})")?;
    eprintln!("omx-io: a line on standard error");
    let mut f = File::create("data.txt")?;
    for i in 0..100 {
        writeln!(f, "line {i}")?;
    }
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    f.write_all(&big)?;
    drop(f);
    let mut f = File::open("data.txt")?;
    f.seek(SeekFrom::Start(5))?;
    let mut b = [0u8; 10];
    f.read_exact(&mut b)?;
    writeln!(out, "at 5: {:?}", String::from_utf8_lossy(&b))?;
    let mut all = Vec::new();
    f.seek(SeekFrom::Start(0))?;
    f.read_to_end(&mut all)?;
    let sum = all
        .iter()
        .fold(0u64, |s, &c| s.wrapping_mul(31).wrapping_add(u64::from(c)));
    writeln!(out, "read {} bytes, hash {sum:x}", all.len())?;
    let mut a = OpenOptions::new().append(true).open("data.txt")?;
    a.write_all(b"appended\n")?;
    writeln!(out, "size after append {}", a.metadata()?.len())?;
    drop(a);
    fs::rename("data.txt", "moved.txt")?;
    fs::write("other.txt", b"x")?;
    let mut names: Vec<String> = fs::read_dir(".")?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()?;
    names.sort();
    writeln!(out, "dir {names:?}")?;
    fs::remove_file("other.txt")?;
    writeln!(out, "other exists {}", fs::metadata("other.txt").is_ok())?;
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input)?;
    writeln!(
        out,
        "stdin {} bytes: {:?}",
        input.len(),
        input.lines().last()
    )?;
    whole(out)?;
    calls(out)?;
    epoll(out)?;
    messages(out)
}

/// Transfers of a regular file larger than a forwarded call carries, one system call each
/// (`write` and `read` of 1 MiB and 3 bytes, `pwrite64` and `pread64` of over half a MiB): each
/// does it all, as the kernel does for a regular file, and the bytes are right.
fn whole(out: &mut impl Write) -> std::io::Result<()> {
    let data: Vec<u8> = (0..(1u32 << 20) + 3).map(|i| (i % 253) as u8).collect();
    let f = File::create("whole.bin")?;
    let fd = f.as_raw_fd() as u64;
    let w = sys(1, [fd, data.as_ptr() as u64, data.len() as u64, 0, 0, 0])?;
    let pw = sys(18, [fd, data.as_ptr() as u64, 600_000, 100_000, 0, 0])?;
    drop(f);
    let mut want = data.clone();
    want[100_000..700_000].copy_from_slice(&data[..600_000]);
    let f = File::open("whole.bin")?;
    let fd = f.as_raw_fd() as u64;
    let mut back = vec![0u8; 2 << 20];
    let r = sys(
        0,
        [fd, back.as_mut_ptr() as u64, back.len() as u64, 0, 0, 0],
    )?;
    let read_right = back.get(..want.len()) == Some(&want[..]);
    let pr = sys(17, [fd, back.as_mut_ptr() as u64, 700_000, 50_000, 0, 0])?;
    let pread_right = back[..700_000] == want[50_000..750_000];
    drop(f);
    fs::remove_file("whole.bin")?;
    writeln!(
        out,
        "whole: write {w}, pwrite {pw}, read {r} ({read_right}), pread {pr} ({pread_right})"
    )
}

/// A call's result as it would print at home: the value, or `-errno`.
fn res(r: std::io::Result<i64>) -> i64 {
    r.unwrap_or_else(|e| -i64::from(e.raw_os_error().unwrap_or(0)))
}

/// File-system, inotify, memfd, SysV semaphore and extended-attribute calls, each result in
/// the transcript: statfs and fstatfs agree on the file system, an flock is taken and dropped, inotify reports a
/// file created in the directory, a memfd keeps what is written to it, utimensat sets a file's
/// times, linkat makes a second name, a semaphore counts, an attribute is set and read back (or
/// the file system's own error, the same wherever the process runs).
fn calls(out: &mut impl Write) -> std::io::Result<()> {
    const AT_FDCWD: u64 = -100i64 as u64;
    let dot = c".";
    let mut a = [0u8; 120];
    let mut b = [0u8; 120];
    let statfs = res(sys(
        137,
        [dot.as_ptr() as u64, a.as_mut_ptr() as u64, 0, 0, 0, 0],
    ));
    let d = File::open(".")?;
    let fstatfs = res(sys(
        138,
        [d.as_raw_fd() as u64, b.as_mut_ptr() as u64, 0, 0, 0, 0],
    ));
    let fs_type = u64::from_ne_bytes(a[..8].try_into().unwrap_or_default());
    // Type, block size and size agree (free counts may move meanwhile).
    let same = a[..24] == b[..24];
    writeln!(
        out,
        "statfs {statfs} fstatfs {fstatfs}: type {fs_type:#x}, same {same}"
    )?;
    let f = File::create("calls.txt")?;
    let fd = f.as_raw_fd() as u64;
    let lock = res(sys(73, [fd, 2, 0, 0, 0, 0]));
    let unlock = res(sys(73, [fd, 8, 0, 0, 0, 0]));
    writeln!(out, "flock {lock} {unlock}")?;
    drop(f);
    // inotify: a watch on the directory (IN_CREATE), then a file made in it.
    let ifd = res(sys(294, [0, 0, 0, 0, 0, 0]));
    let wd = res(sys(254, [ifd as u64, dot.as_ptr() as u64, 0x100, 0, 0, 0]));
    fs::write("made.txt", b"m")?;
    let mut ev = [0u8; 4096];
    let n = res(sys(
        0,
        [ifd as u64, ev.as_mut_ptr() as u64, ev.len() as u64, 0, 0, 0],
    ));
    let word = |at: usize| u32::from_ne_bytes([ev[at], ev[at + 1], ev[at + 2], ev[at + 3]]);
    let name_len = (word(12) as usize).min(ev.len() - 16);
    let name = String::from_utf8_lossy(&ev[16..16 + name_len]);
    writeln!(
        out,
        "inotify watch {}, read {}: mask {:#x} name {:?}",
        wd > 0,
        n > 0,
        word(4),
        name.trim_end_matches('\0')
    )?;
    res(sys(3, [ifd as u64, 0, 0, 0, 0, 0]));
    fs::remove_file("made.txt")?;
    // A memfd (at home) keeps what is written to it.
    let mfd = res(sys(319, [c"omx".as_ptr() as u64, 0, 0, 0, 0, 0]));
    let data = b"in a memfd";
    let w = res(sys(
        1,
        [mfd as u64, data.as_ptr() as u64, data.len() as u64, 0, 0, 0],
    ));
    let mut back = [0u8; 32];
    let r = res(sys(17, [mfd as u64, back.as_mut_ptr() as u64, 32, 0, 0, 0]));
    let got = String::from_utf8_lossy(&back[..r.clamp(0, 32) as usize]).into_owned();
    writeln!(out, "memfd {}: wrote {w}, read {got:?}", mfd >= 0)?;
    res(sys(3, [mfd as u64, 0, 0, 0, 0, 0]));
    // utimensat: access and modification times set, read back.
    let times: [u64; 4] = [1_000_000_000, 0, 1_234_567_890, 5];
    let ut = res(sys(
        280,
        [
            AT_FDCWD,
            c"calls.txt".as_ptr() as u64,
            times.as_ptr() as u64,
            0,
            0,
            0,
        ],
    ));
    let mtime = fs::metadata("calls.txt")?
        .modified()?
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let link = res(sys(
        265,
        [
            AT_FDCWD,
            c"calls.txt".as_ptr() as u64,
            AT_FDCWD,
            c"calls.2".as_ptr() as u64,
            0,
            0,
        ],
    ));
    let links = fs::metadata("calls.txt").map(|m| std::os::unix::fs::MetadataExt::nlink(&m))?;
    writeln!(
        out,
        "utimensat {ut}: mtime {mtime}; linkat {link}: {links} links"
    )?;
    // A SysV semaphore at home: up by 2, down by 1, down by 2 refused (IPC_NOWAIT), removed.
    let id = res(sys(64, [0, 1, 0o1600, 0, 0, 0]));
    let op = |num: i16, flg: i16| -> i64 {
        let mut b = [0u8; 6];
        b[2..4].copy_from_slice(&num.to_ne_bytes());
        b[4..6].copy_from_slice(&flg.to_ne_bytes());
        res(sys(65, [id as u64, b.as_ptr() as u64, 1, 0, 0, 0]))
    };
    let (up, down, refused) = (op(2, 0), op(-1, 0x800), op(-2, 0x800));
    let val = res(sys(66, [id as u64, 0, 12, 0, 0, 0]));
    let rm = res(sys(66, [id as u64, 0, 0, 0, 0, 0]));
    writeln!(
        out,
        "semaphore {}: {up} {down} {refused}, value {val}, removed {rm}",
        id >= 0
    )?;
    // An extended attribute in the user namespace, set and read back.
    let set = res(sys(
        188,
        [
            c"calls.txt".as_ptr() as u64,
            c"user.omx".as_ptr() as u64,
            b"v1".as_ptr() as u64,
            2,
            0,
            0,
        ],
    ));
    let mut v = [0u8; 16];
    let get = res(sys(
        191,
        [
            c"calls.txt".as_ptr() as u64,
            c"user.omx".as_ptr() as u64,
            v.as_mut_ptr() as u64,
            16,
            0,
            0,
        ],
    ));
    writeln!(out, "setxattr {set}, getxattr {get}")?;
    fs::remove_file("calls.txt")?;
    fs::remove_file("calls.2")?;
    Ok(())
}

/// A raw system call whose pointer arguments, if any, point to buffers the caller owns.
fn sys(nr: u64, a: [u64; 6]) -> std::io::Result<i64> {
    // SAFETY: the calls made here (pipe2, epoll_create1, epoll_ctl, epoll_wait, epoll_pwait,
    // read, write, pread64, pwrite64, close, socketpair, bind, sendto, sendmsg, pselect6,
    // recvfrom, recvmsg, statfs, fstatfs, flock, inotify_init1, inotify_add_watch,
    // memfd_create, utimensat, linkat, semget, semop, semctl with a number, setxattr,
    // getxattr) touch only the buffers and strings their arguments point to (directly, or
    // through a msghdr's iovecs), which `whole`, `calls`, `epoll`, `messages` and `datagrams`
    // own for the call, with room for what the call writes (at least the count it is given).
    let r = unsafe { raw::syscall6(nr, a) };
    if r < 0 {
        return Err(std::io::Error::from_raw_os_error(-r as i32));
    }
    Ok(r)
}

/// `epoll` on a pipe of its own: a wait that times out, then one that finds the byte written.
fn epoll(out: &mut impl Write) -> std::io::Result<()> {
    const EPOLLIN: u32 = 1;
    const COOKIE: u64 = 0x5eed_0fe9;
    let mut fds = [0i32; 2];
    sys(293, [fds.as_mut_ptr() as u64, 0o2_000_000, 0, 0, 0, 0])?; // pipe2, O_CLOEXEC
    let ep = sys(291, [0o2_000_000, 0, 0, 0, 0, 0])? as u64; // epoll_create1
                                                             // struct epoll_event (packed): events, data.
    let mut ev = [0u8; 12];
    ev[..4].copy_from_slice(&EPOLLIN.to_ne_bytes());
    ev[4..].copy_from_slice(&COOKIE.to_ne_bytes());
    sys(233, [ep, 1, fds[0] as u64, ev.as_ptr() as u64, 0, 0])?; // epoll_ctl ADD
    let mut evs = [0xffu8; 12 * 4];
    let before = sys(232, [ep, evs.as_mut_ptr() as u64, 4, 50, 0, 0])?; // epoll_wait
    sys(1, [fds[1] as u64, b"x".as_ptr() as u64, 1, 0, 0, 0])?;
    // epoll_pwait, no signal mask.
    let after = sys(281, [ep, evs.as_mut_ptr() as u64, 4, 1000, 0, 8])?;
    let events = u32::from_ne_bytes(evs[..4].try_into().unwrap_or_default());
    let data = u64::from_ne_bytes(evs[4..12].try_into().unwrap_or_default());
    let untouched = evs[12..].iter().all(|&b| b == 0xff);
    writeln!(
        out,
        "epoll: {before} ready before a write, {after} after: events {events:#x} data {data:#x}, \
         rest untouched {untouched}"
    )?;
    for fd in [ep, fds[0] as u64, fds[1] as u64] {
        sys(3, [fd, 0, 0, 0, 0, 0])?;
    }
    Ok(())
}

/// A socket pair of its own: `sendmsg` of two pieces, `pselect6` until the other end is readable,
/// `recvmsg` into two buffers.
fn messages(out: &mut impl Write) -> std::io::Result<()> {
    let mut sv = [0i32; 2];
    // socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC).
    sys(53, [1, 1 | 0o2_000_000, 0, sv.as_mut_ptr() as u64, 0, 0])?;
    let (a, b) = (b"hello, ", b"world");
    let iov = [
        a.as_ptr() as u64,
        a.len() as u64,
        b.as_ptr() as u64,
        b.len() as u64,
    ];
    // struct msghdr: name, namelen, iov, iovlen, control, controllen, flags.
    let msg = [0, 0, iov.as_ptr() as u64, 2, 0, 0, 0u64];
    let sent = sys(46, [sv[0] as u64, msg.as_ptr() as u64, 0, 0, 0, 0])?;
    let fd = sv[1] as usize;
    let mut set = [0u64; 16];
    set[fd / 64] |= 1 << (fd % 64);
    let mut ts = [5u64, 0];
    // The last argument of pselect6: {mask pointer, size}, here with no mask.
    let no_mask = [0u64, 8];
    let ready = sys(
        270,
        [
            fd as u64 + 1,
            set.as_mut_ptr() as u64,
            0,
            0,
            ts.as_mut_ptr() as u64,
            no_mask.as_ptr() as u64,
        ],
    )?;
    let readable = set[fd / 64] >> (fd % 64) & 1;
    let (mut x, mut y) = ([0u8; 4], [0u8; 32]);
    let riov = [
        x.as_mut_ptr() as u64,
        x.len() as u64,
        y.as_mut_ptr() as u64,
        y.len() as u64,
    ];
    let mut rmsg = [0, 0, riov.as_ptr() as u64, 2, 0, 0, 0xffff_ffffu64];
    let got = sys(47, [fd as u64, rmsg.as_mut_ptr() as u64, 0, 0, 0, 0])? as usize;
    let text = [&x[..], &y[..got.saturating_sub(4)]].concat();
    writeln!(
        out,
        "socketpair: sendmsg {sent}, pselect6 {ready} (readable {readable}), recvmsg {got} {:?}, \
         flags {}",
        String::from_utf8_lossy(&text),
        rmsg[6] & 0xffff_ffff
    )?;
    for fd in sv {
        sys(3, [fd as u64, 0, 0, 0, 0, 0])?;
    }
    datagrams(out)
}

/// A datagram socket pair of its own, the sender bound to an abstract name: `recvfrom` and
/// `recvmsg` with room for the source address.
fn datagrams(out: &mut impl Write) -> std::io::Result<()> {
    let mut dv = [0i32; 2];
    // socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC).
    sys(53, [1, 2 | 0o2_000_000, 0, dv.as_mut_ptr() as u64, 0, 0])?;
    let (tx, rx) = (dv[0] as u64, dv[1] as u64);
    // struct sockaddr_un: AF_UNIX, then an abstract name (a leading NUL).
    let name = b"\0omx-io-dgram";
    let mut me = [0u8; 2 + 13];
    me[..2].copy_from_slice(&1u16.to_ne_bytes());
    me[2..].copy_from_slice(name);
    sys(49, [tx, me.as_ptr() as u64, me.len() as u64, 0, 0, 0])?; // bind
    for m in [&b"ping"[..], b"pong!"] {
        sys(44, [tx, m.as_ptr() as u64, m.len() as u64, 0, 0, 0])?; // sendto
    }
    let show = |a: &[u8]| a.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let (mut buf, mut addr, mut alen) = ([0u8; 16], [0xaau8; 24], 24u32);
    let n = sys(
        45,
        [
            rx,
            buf.as_mut_ptr() as u64,
            buf.len() as u64,
            0,
            addr.as_mut_ptr() as u64,
            core::ptr::from_mut(&mut alen) as u64,
        ],
    )? as usize;
    writeln!(
        out,
        "recvfrom {n} {:?} from {alen} bytes {}",
        String::from_utf8_lossy(&buf[..n]),
        show(&addr)
    )?;
    let (mut buf, mut addr) = ([0u8; 16], [0xaau8; 24]);
    let iov = [buf.as_mut_ptr() as u64, buf.len() as u64];
    let mut msg = [
        addr.as_mut_ptr() as u64,
        24,
        iov.as_ptr() as u64,
        1,
        0,
        0,
        0,
    ];
    let n = sys(47, [rx, msg.as_mut_ptr() as u64, 0, 0, 0, 0])? as usize;
    writeln!(
        out,
        "recvmsg {n} {:?} from {} bytes {}",
        String::from_utf8_lossy(&buf[..n]),
        msg[1] & 0xffff_ffff,
        show(&addr)
    )?;
    for fd in [tx, rx] {
        sys(3, [fd, 0, 0, 0, 0, 0])?;
    }
    Ok(())
}
