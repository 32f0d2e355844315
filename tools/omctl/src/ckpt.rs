// SPDX-License-Identifier: GPL-2.0

//! `omctl checkpoint PID FILE [--stop|--kill] [--force]` and `omctl restart FILE [--on NODE]`
//! (see `Documentation/checkpoint.md`; the file's format is `omcore::ckpt`).
//!
//! Checkpoint: the file is written under a temporary name (`FILE.part`), opened for appending,
//! with the header first; `PID FD` on `/proc/openmosix/checkpoint` makes the module append the
//! process's image (captured in its own context, where it runs: at home, or on the node it
//! migrated to, which sends it home) and hold it; its working directory and open
//! files are then read from `/proc/PID` (the process cannot change them while held), appended,
//! the file synced, the process released (`continue`, `stop` or `kill`) and the file renamed to
//! FILE. Descriptors that cannot be opened again by path (pipes, sockets, devices but
//! `/dev/null`, deleted files) refuse the checkpoint before anything is saved, unless
//! `--force`, which saves them as `/dev/null` (a terminal, pipe or socket on 0, 1 or 2 is the
//! restarting command's own).
//!
//! Restart: the file is checked whole (header, every image record through the image's reader,
//! the home section); a new process (this program again, as `omctl _restart`) opens the files
//! again at their descriptors and offsets, takes the working directory, places its vDSO where
//! the image has it, closes everything else, and writes `FD OFFSET` on
//! `/proc/openmosix/restart`, which makes it the saved process. `omctl restart` waits for it
//! and exits with its status (125 when the restart itself was refused: the kernel log says
//! why); with `--on NODE` it first asks for its move to NODE. `omctl restart --check FILE` only
//! checks the file and prints where its image and home section start and its vDSO address.

use crate::{chain, job, raw, write_failure, Failure, Res};
use omcore::ckpt::{self, FdKind, SavedFd};
use std::ffi::CString;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicI32, Ordering::Relaxed};

const USAGE: &str = "usage: omctl checkpoint PID [FILE] [--parent SAVE] [--stop|--kill] [--force]
       omctl restart FILE [--on NODE]
       omctl restart --check FILE";
/// Exit status of `omctl restart` when the restart itself failed.
const EX_RESTART: u8 = 125;
/// `O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY`: not repeated when a file is opened again.
const OPEN_ONCE: u32 = 0o100 | 0o200 | 0o1000 | 0o400;

/// A descriptor as found in `/proc/PID`.
struct Found {
    fd: u32,
    kind: FdKind,
    flags: u32,
    pos: u64,
    path: Vec<u8>,
}

/// The descriptors of process `pid`: what a restart does with each, and the ones it cannot
/// restore (with `force`, kept as `/dev/null`; without, listed in the error).
fn scan_fds(pid: u32, force: bool) -> Result<Vec<Found>, Failure> {
    let dir = format!("/proc/{pid}/fd");
    let rd = std::fs::read_dir(&dir).map_err(|e| Failure(format!("{dir}: {e}"), 1))?;
    let mut out = Vec::new();
    let mut refused = Vec::new();
    for e in rd.flatten() {
        let Some(fd) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let link = e.path();
        // A descriptor closed meanwhile (the process runs until it is held) is skipped.
        let Ok(target) = std::fs::read_link(&link) else {
            continue;
        };
        let info = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")).unwrap_or_default();
        let field = |name: &str| {
            info.lines()
                .find_map(|l| l.strip_prefix(name))
                .map(str::trim)
                .map(str::to_string)
        };
        let pos = field("pos:")
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        let flags = field("flags:")
            .and_then(|v| u32::from_str_radix(&v, 8).ok())
            .unwrap_or(0);
        let path = target.as_os_str().as_bytes().to_vec();
        let ty = std::fs::metadata(&link).map(|m| m.file_type());
        let deleted = path.ends_with(b" (deleted)");
        let kind = match ty {
            Ok(t) if t.is_file() && path.starts_with(b"/") && !deleted => Some(FdKind::Reopen),
            Ok(t) if t.is_char_device() && path == b"/dev/null" => Some(FdKind::Null),
            Ok(t) if fd <= 2 && (t.is_char_device() || t.is_fifo() || t.is_socket()) => {
                Some(FdKind::Inherit)
            }
            _ => None,
        };
        let kind = match kind {
            Some(k) => k,
            None if force => FdKind::Null,
            None => {
                refused.push(format!("{fd} ({})", String::from_utf8_lossy(&path)));
                continue;
            }
        };
        out.push(Found {
            fd,
            kind,
            flags,
            pos,
            path: if path.is_empty() { b"?".to_vec() } else { path },
        });
    }
    if !refused.is_empty() {
        return Err(Failure(
            format!(
                "checkpoint {pid}: descriptors that cannot be opened again by path: {} \
                 (--force saves them as /dev/null)",
                refused.join(", ")
            ),
            1,
        ));
    }
    out.sort_by_key(|f| f.fd);
    Ok(out)
}

/// `omctl checkpoint`.
pub(crate) fn checkpoint(args: &[&str]) -> Res {
    let usage = || Failure(USAGE.to_string(), 2);
    let mut after = "continue";
    let mut force = false;
    let mut parent = None;
    let mut pos = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match *a {
            "--stop" if after == "continue" => after = "stop",
            "--kill" if after == "continue" => after = "kill",
            "--force" => force = true,
            "--parent" if parent.is_none() => parent = Some(*it.next().ok_or_else(usage)?),
            a if !a.starts_with('-') => pos.push(a),
            _ => return Err(usage()),
        }
    }
    let (pid, file) = match pos[..] {
        [pid, file] => (pid, file.to_string()),
        [pid] => (pid, String::new()),
        _ => return Err(usage()),
    };
    let pid: u32 = pid.parse().ok().filter(|&p| p > 0).ok_or_else(usage)?;
    // Without a file: a new one in the node's checkpoint directory (`admin/ckpt_dir`).
    let file = if file.is_empty() {
        default_file(pid)?
    } else {
        file
    };
    let file = file.as_str();
    // Refused before anything is saved.
    scan_fds(pid, force)?;
    let parent = parent.map(parent_of).transpose()?;
    let (_, kib) = save(pid, file, after, force, parent.as_ref())?;
    println!("checkpoint {pid}: {file} ({kib} KiB)");
    Ok(())
}

/// A new file for a save of process `pid` in the node's checkpoint directory (made, mode
/// 0700, if missing): `DIR/PID.SECONDS.ckpt`, with `.N` before `.ckpt` if that is taken.
fn default_file(pid: u32) -> Result<String, Failure> {
    let dir = crate::keep::default_dir();
    crate::keep::prepare(&dir)?;
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    (0..1000)
        .map(|n| match n {
            0 => format!("{dir}/{pid}.{secs}.ckpt"),
            n => format!("{dir}/{pid}.{secs}.{n}.ckpt"),
        })
        .find(|f| !Path::new(f).exists())
        .ok_or_else(|| Failure(format!("checkpoint {pid}: no free file name in {dir}"), 1))
}

/// The save a new one adds to (`--parent`): its name, and its path as the new file keeps it.
pub(crate) struct Parent {
    pub(crate) id: u64,
    pub(crate) path: std::path::PathBuf,
}

/// The save in file `path`, checked whole, as the parent of a new one.
pub(crate) fn parent_of(path: &str) -> Result<Parent, Failure> {
    let s = chain::Save::read(Path::new(path))?;
    Ok(Parent {
        id: s.id,
        path: std::fs::canonicalize(path).map_err(|e| Failure(format!("{path}: {e}"), 1))?,
    })
}

/// A new save's name: random, never 0.
fn new_save_id() -> Result<u64, Failure> {
    let mut b = [0u8; 8];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .map_err(|e| Failure(format!("/dev/urandom: {e}"), 1))?;
    Ok(u64::from_ne_bytes(b).max(1))
}

/// How file `file` names its parent `parent`: by its name alone when both are in one
/// directory (a chain can then move as a directory), else by its whole path.
fn parent_path(file: &str, parent: &Path) -> Vec<u8> {
    let dir = std::fs::canonicalize(
        Path::new(file)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new(".")),
    );
    match (dir, parent.parent(), parent.file_name()) {
        (Ok(d), Some(pd), Some(name)) if d == pd => name.as_bytes().to_vec(),
        _ => parent.as_os_str().as_bytes().to_vec(),
    }
}

/// The save itself (see the module documentation): process `pid` to `file`, then `after`
/// (`continue`, `stop`, `kill`); with `parent`, only what changed since that save. Returns the
/// new save's name and the file's size in KiB.
pub(crate) fn save(
    pid: u32,
    file: &str,
    after: &str,
    force: bool,
    parent: Option<&Parent>,
) -> Result<(u64, u64), Failure> {
    let id = new_save_id()?;
    let parent_path = parent.map_or_else(Vec::new, |p| parent_path(file, &p.path));
    let lineage = ckpt::Lineage {
        id,
        parent: parent.map_or(0, |p| p.id),
        parent_path: &parent_path,
    };
    let part = format!("{file}.part");
    let fail = |msg: String| {
        let _ = std::fs::remove_file(&part);
        Failure(msg, 1)
    };
    let mut out = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&part)
        .map_err(|e| fail(format!("{part}: {e}")))?;
    out.set_len(0)
        .and_then(|()| out.write_all(&ckpt::encode_header()))
        .map_err(|e| fail(format!("{part}: {e}")))?;
    let mut ctl = std::fs::OpenOptions::new()
        .write(true)
        .open(crate::proc_root().join("checkpoint"))
        .map_err(|e| {
            fail(format!(
                "{}: {e}",
                crate::proc_root().join("checkpoint").display()
            ))
        })?;
    let ask = match parent {
        Some(p) => format!("{pid} {} {id} {}", out.as_raw_fd(), p.id),
        None => format!("{pid} {} {id}", out.as_raw_fd()),
    };
    if let Err(e) = ctl.write_all(ask.as_bytes()) {
        if e.raw_os_error() == Some(116) {
            return Err(fail(format!(
                "checkpoint {pid}: the parent is not its latest save: save it whole (no --parent)"
            )));
        }
        let Failure(msg, _) = write_failure("checkpoint", &e);
        return Err(fail(format!("checkpoint {pid}: {msg}")));
    }
    // Held now: its files and directory are read as they were when it was captured.
    let release =
        |ctl: &mut std::fs::File, what: &str| ctl.write_all(format!("{pid} {what}").as_bytes());
    let home = scan_fds(pid, force).and_then(|fds| {
        let cwd = std::fs::read_link(format!("/proc/{pid}/cwd"))
            .map_err(|e| Failure(format!("checkpoint {pid}: cwd: {e}"), 1))?;
        let saved: Vec<SavedFd<'_>> = fds
            .iter()
            .map(|f| SavedFd {
                fd: f.fd,
                kind: f.kind,
                flags: f.flags,
                pos: f.pos,
                path: &f.path,
            })
            .collect();
        let cwd = cwd.as_os_str().as_bytes();
        let (flags, terminal) = job::of(pid);
        let job = ckpt::Job {
            flags,
            terminal: &terminal,
        };
        let n = ckpt::home_len(&lineage, cwd, &saved, &job)
            .map_err(|e| Failure(format!("checkpoint {pid}: {e}"), 1))?;
        let mut v = vec![0u8; n];
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        ckpt::encode_home(now, pid, &lineage, cwd, &saved, &job, &mut v)
            .map_err(|e| Failure(format!("checkpoint {pid}: {e}"), 1))?;
        out.write_all(&v)
            .and_then(|()| out.sync_all())
            .map_err(|e| Failure(format!("{part}: {e}"), 1))
    });
    if let Err(Failure(msg, code)) = home {
        let _ = release(&mut ctl, "continue");
        let _ = std::fs::remove_file(&part);
        return Err(Failure(msg, code));
    }
    if let Err(e) = release(&mut ctl, after) {
        // Held past the limit, or ended by a signal meanwhile: the checkpoint is whole.
        eprintln!("checkpoint {pid}: not released ({e}): it went on, or ended, by itself");
    }
    std::fs::rename(&part, file).map_err(|e| fail(format!("{file}: {e}")))?;
    Ok((id, out.metadata().map_or(0, |m| m.len() / 1024)))
}

/// Checks checkpoint `file` and every save it adds to, and starts the process that becomes
/// the one saved (`omctl _restart`), a child of this one. A chain is first merged into one
/// whole image in memory, which the child reads through its own `/proc/self/fd`.
///
/// With `foreground`, the caller relays the process's job control (`job::wait`): the process
/// may take the terminal's foreground, as the save says it had it.
pub(crate) fn spawn_restart(file: &str, foreground: bool) -> Result<std::process::Child, Failure> {
    let chain = chain::read_chain(Path::new(file))?;
    let newest = &chain[0];
    let (path, image_at, home_at, merged) = if chain.len() == 1 {
        (file.to_string(), newest.image_at, newest.home_at, None)
    } else {
        let (m, home_at) = chain::merge(&chain)?;
        let path = format!("/proc/self/fd/{}", m.as_raw_fd());
        (path, ckpt::HEADER_LEN as u64, home_at, Some(m))
    };
    let exe = std::env::current_exe().map_err(|e| Failure(format!("restart: {e}"), 1))?;
    let child = std::process::Command::new(exe)
        .args([
            "_restart",
            &path,
            &image_at.to_string(),
            &home_at.to_string(),
            &newest.vdso.to_string(),
            if foreground { "fg" } else { "bg" },
        ])
        .spawn()
        .map_err(|e| Failure(format!("restart: {e}"), 1));
    // The child has its own copy of the merged image's descriptor.
    drop(merged);
    child
}

/// `omctl restart`: returns the restarted process's exit status.
pub(crate) fn restart(args: &[&str]) -> Result<u8, Failure> {
    let usage = || Failure(USAGE.to_string(), 2);
    let (file, on) = match args {
        ["--check", f] => {
            let chain = chain::read_chain(Path::new(f))?;
            let l = &chain[0];
            println!("image {} home {} vdso {:#x}", l.image_at, l.home_at, l.vdso);
            let t = std::fs::File::open(f)
                .ok()
                .and_then(|file| chain::itimers(&file, l.image_at));
            if let Some(t) = t {
                let us = |(v, i): (u64, u64)| format!("{v}/{i}");
                println!(
                    "interval timers (us left/interval): real {} virtual {} prof {}",
                    us(t[0]),
                    us(t[1]),
                    us(t[2])
                );
            }
            for s in &chain[1..] {
                println!("adds to {} ({:#x})", s.path.display(), s.id);
            }
            let (flags, terminal) = &chain[0].job;
            let yes = |b: u8| if flags & b != 0 { "yes" } else { "no" };
            println!(
                "session leader {} group leader {} foreground {} terminal {}",
                yes(ckpt::Job::SESSION_LEADER),
                yes(ckpt::Job::GROUP_LEADER),
                yes(ckpt::Job::FOREGROUND),
                if terminal.is_empty() {
                    "none".into()
                } else {
                    String::from_utf8_lossy(terminal)
                }
            );
            return Ok(0);
        }
        [f] => (*f, None),
        [f, "--on", n] | ["--on", n, f] => (*f, Some(n.parse::<u32>().map_err(|_| usage())?)),
        _ => return Err(usage()),
    };
    // Whether this command has its terminal's foreground, before the process may take it.
    let had_fg = raw::tcgetpgrp(0) == raw::getpgrp();
    let child = spawn_restart(file, had_fg)?;
    let pid = child.id();
    if let Some(node) = on {
        // Moved once it is the saved process (its name is the image's then).
        let me = std::fs::read_to_string("/proc/self/comm").unwrap_or_default();
        let t0 = std::time::Instant::now();
        loop {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm"));
            match comm {
                Ok(c) if c != me => {
                    if let Err(Failure(msg, _)) =
                        crate::write_proc("migrate", format!("{pid} {node}\n").as_bytes())
                    {
                        eprintln!("restart: it runs at home: {msg}");
                    }
                    break;
                }
                Ok(_) if t0.elapsed().as_secs() < 600 => {
                    std::thread::sleep(std::time::Duration::from_millis(20))
                }
                _ => break,
            }
        }
    }
    // Waited for by hand (its stops relayed as a shell's job's); `child` is not waited for
    // again.
    let status = job::wait(pid as i32, had_fg).map_err(|e| Failure(format!("restart: {e}"), 1))?;
    drop(child);
    Ok(match (status & 0x7f, (status >> 8) & 0xff) {
        (0, code) => code as u8,
        (sig, _) => 128u8.saturating_add(sig as u8),
    })
}

/// Where [`restart_child`] reports a failure: its standard error as it came, kept apart from
/// the descriptors being restored.
static ERR_FD: AtomicI32 = AtomicI32::new(2);

/// `omctl _restart FILE IMAGE_AT HOME_AT VDSO [fg|bg]`: the process that becomes the saved one
/// (`fg`: it may take the terminal's foreground, `job::take_place`; `bg` by default).
pub(crate) fn restart_child(args: &[&str]) -> ExitCode {
    match become_saved(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            let _ = raw::write(ERR_FD.load(Relaxed), format!("restart: {msg}\n").as_bytes());
            ExitCode::from(EX_RESTART)
        }
    }
}

fn become_saved(args: &[&str]) -> Result<(), String> {
    let (file, image_at, home_at, vdso, fg) = match args {
        [f, i, h, v] => (f, i, h, v, &"bg"),
        [f, i, h, v, fg] => (f, i, h, v, fg),
        _ => return Err("bad arguments".into()),
    };
    let num = |s: &str| {
        let v = match s.strip_prefix("0x") {
            Some(h) => u64::from_str_radix(h, 16),
            None => s.parse::<u64>(),
        };
        v.map_err(|_| format!("bad number {s}"))
    };
    let (image_at, home_at, vdso) = (num(image_at)?, num(home_at)?, num(vdso)?);
    let mut f = std::fs::File::open(file).map_err(|e| format!("{file}: {e}"))?;
    let mut rest = Vec::new();
    f.seek(SeekFrom::Start(home_at))
        .and_then(|_| f.read_to_end(&mut rest))
        .map_err(|e| format!("{file}: {e}"))?;
    let home = ckpt::decode_home(&rest).map_err(|e| format!("{file}: {e}"))?;
    let timers = chain::itimers(&f, image_at);
    let fds: Vec<SavedFd<'_>> = home.fds().collect();
    // The checkpoint file and the module's file go above every descriptor to restore.
    let top = fds.iter().map(|s| s.fd as i32).max().unwrap_or(2).max(2) + 1;
    let ck = raw::dup_at_least(f.as_raw_fd(), top);
    let ctl = std::fs::OpenOptions::new()
        .write(true)
        .open(crate::proc_root().join("restart"))
        .map_err(|e| format!("{}: {e}", crate::proc_root().join("restart").display()))?;
    let ctl_fd = raw::dup_at_least(ctl.as_raw_fd(), top + 1);
    let err_fd = raw::dup_at_least(2, top + 2);
    if ck < 0 || ctl_fd < 0 {
        return Err("no descriptor free".into());
    }
    let (ck, ctl_fd) = (ck as i32, ctl_fd as i32);
    if err_fd >= 0 {
        ERR_FD.store(err_fd as i32, Relaxed);
    }
    let err_fd = ERR_FD.load(Relaxed);
    // Nothing but 0, 1, 2 (until replaced) and those two stays open.
    drop((f, ctl));
    let open: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .map_err(|e| format!("/proc/self/fd: {e}"))?
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    for fd in open {
        if fd > 2 && fd != ck && fd != ctl_fd && fd != err_fd {
            raw::close(fd);
        }
    }
    for s in &fds {
        let fd = s.fd as i32;
        let (path, flags) = match s.kind {
            FdKind::Inherit => continue,
            FdKind::Null => (c"/dev/null".to_owned(), 2),
            FdKind::Reopen => (
                CString::new(s.path).map_err(|_| "a path holds a NUL byte")?,
                s.flags & !OPEN_ONCE,
            ),
        };
        let n = raw::open(&path, flags);
        if n < 0 {
            return Err(format!(
                "descriptor {fd}: {}: error {}",
                path.to_string_lossy(),
                -n
            ));
        }
        let n = n as i32;
        if s.kind == FdKind::Reopen && raw::seek(n, s.pos) < 0 {
            return Err(format!("descriptor {fd}: cannot seek to {}", s.pos));
        }
        if n != fd {
            if raw::dup2(n, fd) < 0 {
                return Err(format!("descriptor {fd}: dup2 failed"));
            }
            raw::close(n);
        }
    }
    for fd in 0..=2 {
        if !fds.iter().any(|s| s.fd == fd) {
            raw::close(fd as i32);
        }
    }
    std::env::set_current_dir(Path::new(std::ffi::OsStr::from_bytes(home.cwd)))
        .map_err(|e| format!("{}: {e}", String::from_utf8_lossy(home.cwd)))?;
    crate::guest::place_vdso(vdso as usize).map_err(|(e, _)| e)?;
    job::take_place(&home.job, *fg == "fg");
    // Its CPU-time interval timers (the module sets the real-time one at the end of the
    // restore): they count from here, so the restore's own system time counts for
    // `ITIMER_PROF`.
    if let Some(t) = timers {
        for (which, &(value, interval)) in t.iter().enumerate().skip(1) {
            if value != 0 {
                raw::setitimer(which as u32, value, interval);
            }
        }
    }
    // On success this write returns into the saved process and nothing below runs.
    let r = raw::write(
        ctl_fd,
        format!("{ck} {image_at} {ctl_fd} {err_fd}").as_bytes(),
    );
    Err(format!(
        "refused: error {} (the kernel log says why)",
        -r.min(0)
    ))
}
