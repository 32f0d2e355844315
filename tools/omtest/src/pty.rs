// SPDX-License-Identifier: GPL-2.0

//! `omx-pty INPUT TRANSCRIPT COMMAND [ARGS...]`: runs COMMAND on a new pseudo-terminal, as a
//! terminal emulator does, so that a test can drive an interactive shell with job control.
//!
//! It opens `/dev/ptmx`, unlocks its slave (`TIOCSPTLCK`), learns its number (`TIOCGPTN`) and
//! gives it 24 rows of 200 columns; the child makes a session of its own (`setsid`), opens the
//! slave, makes it its controlling terminal (`TIOCSCTTY`), puts it on descriptors 0, 1 and 2 and
//! runs COMMAND (e.g. `busybox sh -i`). The parent relays: whatever arrives on INPUT (a named
//! pipe, kept open for writing too so that a writer closing it is no end; `-` for its own
//! standard input) is typed on the terminal (`\x1a` is Ctrl-Z, `\x03` Ctrl-C), and everything
//! the terminal prints is appended to TRANSCRIPT as it comes. When COMMAND ends, what is left
//! to read is appended and `omx-pty` exits with COMMAND's status (128 + N when signal N ended
//! it); 2 for a bad command line, 1 when the terminal cannot be set up.
//!
//! `omx-pty --reader GOFILE`: a job that reads its terminal. It burns the CPU until GOFILE
//! exists (so a test can move it first), then reads a line from its standard input and prints
//! `read: LINE` and exits 0 (`read failed: ERROR`, exit 1, when the read fails; `read: end`
//! at end of file).

mod raw;

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{exit, Command};

const SYS_OPEN: u64 = 2;
const SYS_CLOSE: u64 = 3;
const SYS_POLL: u64 = 7;
const SYS_RT_SIGACTION: u64 = 13;
const SYS_RT_SIGPROCMASK: u64 = 14;
const SYS_IOCTL: u64 = 16;
const SYS_DUP2: u64 = 33;
const SYS_SETSID: u64 = 112;

const O_RDWR: u64 = 2;
const O_NOCTTY: i32 = 0o400;
const TIOCSCTTY: u64 = 0x540e;
const TIOCSWINSZ: u64 = 0x5414;
const TIOCGPTN: u64 = 0x8004_5430;
const TIOCSPTLCK: u64 = 0x4004_5431;
const POLLIN: i16 = 1;
const POLLERR: i16 = 8;
const POLLHUP: i16 = 0x10;
const EINTR: i64 = 4;

/// A `struct pollfd`.
#[repr(C)]
struct PollFd {
    fd: i32,
    events: i16,
    revents: i16,
}

/// `poll` on `fds` for up to `ms` milliseconds; the number ready, 0 on a timeout or EINTR.
fn poll(fds: &mut [PollFd], ms: i64) -> io::Result<usize> {
    // SAFETY: poll writes only the `revents` of the `fds.len()` entries `fds` points to, which
    // this function borrows mutably for the call.
    let r = unsafe {
        raw::syscall6(
            SYS_POLL,
            [
                fds.as_mut_ptr() as u64,
                fds.len() as u64,
                ms as u64,
                0,
                0,
                0,
            ],
        )
    };
    match r {
        r if r >= 0 => Ok(r as usize),
        r if r == -EINTR => Ok(0),
        r => Err(io::Error::from_raw_os_error(-r as i32)),
    }
}

/// `ioctl(fd, cmd, &arg)` with an argument of type `T` that the call reads or writes.
fn ioctl<T>(fd: RawFd, cmd: u64, arg: &mut T) -> io::Result<()> {
    // SAFETY: the commands used here read or write exactly one `T` (an int or a `winsize`) at
    // the address given, which this function borrows mutably for the call.
    let r = unsafe {
        raw::syscall6(
            SYS_IOCTL,
            [fd as u64, cmd, core::ptr::from_mut(arg) as u64, 0, 0, 0],
        )
    };
    if r < 0 {
        return Err(io::Error::from_raw_os_error(-r as i32));
    }
    Ok(())
}

/// The signals a terminal's session leader must start with at their default action, whatever
/// `omx-pty` inherited (a script's background command has SIGINT and SIGQUIT ignored, and a
/// shell passes an ignored signal on to its jobs): SIGHUP, SIGINT, SIGQUIT, SIGPIPE, and the
/// job-control stops SIGTSTP, SIGTTIN and SIGTTOU.
const DEFAULT_SIGNALS: [u64; 7] = [1, 2, 3, 13, 20, 21, 22];

/// The child's side, between `fork` and `exec`: every signal unblocked and those of
/// `DEFAULT_SIGNALS` at their default action, a new session whose controlling terminal is the
/// slave `path` (NUL-terminated), on descriptors 0, 1 and 2. Allocates nothing.
fn take_terminal(path: &[u8]) -> io::Result<()> {
    let fail = |r: i64| Err(io::Error::from_raw_os_error(-r as i32));
    // struct sigaction: handler SIG_DFL, no flags, no restorer, an empty mask.
    let dfl = [0u64; 4];
    for sig in DEFAULT_SIGNALS {
        // SAFETY: rt_sigaction reads the 32-byte action `dfl` holds, borrowed for the call, and
        // writes no old action.
        let r = unsafe { raw::syscall6(SYS_RT_SIGACTION, [sig, dfl.as_ptr() as u64, 0, 8, 0, 0]) };
        if r < 0 {
            return fail(r);
        }
    }
    let none = 0u64;
    // SAFETY: rt_sigprocmask reads the 8-byte set `none`, borrowed for the call.
    let r = unsafe {
        raw::syscall6(
            SYS_RT_SIGPROCMASK,
            [2, core::ptr::from_ref(&none) as u64, 0, 8, 0, 0],
        )
    };
    if r < 0 {
        return fail(r);
    }
    // SAFETY: setsid touches no memory.
    let r = unsafe { raw::syscall6(SYS_SETSID, [0; 6]) };
    if r < 0 {
        return fail(r);
    }
    // SAFETY: open reads the NUL-terminated path `path` holds, borrowed for the call.
    let fd = unsafe { raw::syscall6(SYS_OPEN, [path.as_ptr() as u64, O_RDWR, 0, 0, 0, 0]) };
    if fd < 0 {
        return fail(fd);
    }
    // SAFETY: TIOCSCTTY takes an integer argument (0: do not steal), no memory.
    let r = unsafe { raw::syscall6(SYS_IOCTL, [fd as u64, TIOCSCTTY, 0, 0, 0, 0]) };
    if r < 0 {
        return fail(r);
    }
    for to in 0..3u64 {
        // SAFETY: dup2 touches no memory; descriptors 0, 1 and 2 are replaced, as intended.
        let r = unsafe { raw::syscall6(SYS_DUP2, [fd as u64, to, 0, 0, 0, 0]) };
        if r < 0 {
            return fail(r);
        }
    }
    if fd > 2 {
        // SAFETY: close of the slave descriptor opened above, now duplicated.
        unsafe { raw::syscall6(SYS_CLOSE, [fd as u64, 0, 0, 0, 0, 0]) };
    }
    Ok(())
}

/// Opens the master of a new pseudo-terminal; returns it and its slave's path (NUL-terminated).
fn open_master() -> io::Result<(File, Vec<u8>)> {
    let master = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(O_NOCTTY)
        .open("/dev/ptmx")?;
    let mut unlock = 0i32;
    ioctl(master.as_raw_fd(), TIOCSPTLCK, &mut unlock)?;
    let mut n = 0u32;
    ioctl(master.as_raw_fd(), TIOCGPTN, &mut n)?;
    // struct winsize: rows, columns, x and y pixels. Wide, so that no command line wraps.
    let mut size: [u16; 4] = [24, 200, 0, 0];
    ioctl(master.as_raw_fd(), TIOCSWINSZ, &mut size)?;
    Ok((master, format!("/dev/pts/{n}\0").into_bytes()))
}

/// Appends what the master has to read now (without waiting) to the transcript; false once
/// the terminal is closed (end of file, or `EIO` when no slave is open any more).
fn relay_output(master: &mut File, out: &mut File) -> io::Result<bool> {
    let mut buf = [0u8; 4096];
    match master.read(&mut buf) {
        Ok(0) => Ok(false),
        Ok(n) => {
            out.write_all(&buf[..n])?;
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(true),
        Err(e) if e.raw_os_error() == Some(5) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Types `bytes` on the terminal.
fn type_in(master: &mut File, bytes: &[u8]) -> io::Result<()> {
    master.write_all(bytes)
}

fn run(input: &str, transcript: &str, cmd: &[String]) -> io::Result<i32> {
    let mut out = OpenOptions::new()
        .create(true)
        .append(true)
        .open(transcript)?;
    let mut inp = if input == "-" {
        None
    } else {
        Some(OpenOptions::new().read(true).write(true).open(input)?)
    };
    let (mut master, slave) = open_master()?;
    let mut command = Command::new(&cmd[0]);
    command.args(&cmd[1..]);
    // SAFETY: the closure runs in the child between fork and exec and only makes system calls
    // on data prepared before the fork (`slave`); it allocates nothing and takes no lock.
    unsafe { command.pre_exec(move || take_terminal(&slave)) };
    // Every descriptor of this process is opened close-on-exec (the standard library's way),
    // so the command has the terminal's slave only.
    let mut child = command.spawn()?;
    let stdin = io::stdin();
    let in_fd = inp.as_ref().map_or(0, AsRawFd::as_raw_fd);
    let mut input_open = true;
    let mut terminal_open = true;
    loop {
        let mut fds = [
            PollFd {
                fd: if input_open { in_fd } else { -1 },
                events: POLLIN,
                revents: 0,
            },
            PollFd {
                fd: if terminal_open {
                    master.as_raw_fd()
                } else {
                    -1
                },
                events: POLLIN,
                revents: 0,
            },
        ];
        poll(&mut fds, 200)?;
        if fds[0].revents & (POLLIN | POLLHUP | POLLERR) != 0 {
            let mut buf = [0u8; 4096];
            let n = match inp.as_mut() {
                Some(f) => f.read(&mut buf),
                None => stdin.lock().read(&mut buf),
            };
            match n {
                Ok(0) | Err(_) => input_open = false,
                Ok(n) => type_in(&mut master, &buf[..n])?,
            }
        }
        if fds[1].revents & (POLLIN | POLLHUP | POLLERR) != 0 {
            terminal_open = relay_output(&mut master, &mut out)?;
        }
        if let Some(status) = child.try_wait()? {
            // What the command printed last may still wait in the master.
            while terminal_open {
                let mut fds = [PollFd {
                    fd: master.as_raw_fd(),
                    events: POLLIN,
                    revents: 0,
                }];
                if poll(&mut fds, 0)? == 0 {
                    break;
                }
                terminal_open = relay_output(&mut master, &mut out)?;
            }
            return Ok(status
                .code()
                .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)));
        }
        if !terminal_open {
            // The slave is closed: the command is ending.
            let status = child.wait()?;
            return Ok(status
                .code()
                .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)));
        }
    }
}

/// `--reader GOFILE`: burns the CPU until GOFILE exists, then reads a line of the terminal.
fn reader(go: &str) -> i32 {
    let mut x = 1u64;
    while !Path::new(go).exists() {
        for _ in 0..1_000_000 {
            x = std::hint::black_box(
                x.wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407),
            );
        }
    }
    let mut line = String::new();
    match io::stdin().read_line(&mut line) {
        Ok(0) => {
            println!("read: end");
            0
        }
        Ok(_) => {
            println!("read: {}", line.trim_end_matches('\n'));
            0
        }
        Err(e) => {
            println!("read failed: {e}");
            1
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--reader") {
        let Some(go) = args.get(1) else {
            eprintln!("usage: omx-pty --reader GOFILE");
            exit(2);
        };
        exit(reader(go));
    }
    if args.len() < 3 {
        eprintln!("usage: omx-pty INPUT TRANSCRIPT COMMAND [ARGS...] | omx-pty --reader GOFILE");
        exit(2);
    }
    match run(&args[0], &args[1], &args[2..]) {
        Ok(code) => exit(code),
        Err(e) => {
            eprintln!("omx-pty: {e}");
            exit(1);
        }
    }
}
