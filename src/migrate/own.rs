// SPDX-License-Identifier: GPL-2.0

//! A guest's calls about itself that are in two places: at home and on its host.
//!
//! Limits: at home, whose kernel checks a change (the process's credentials are there) and
//! keeps it for when the process comes back, and on the host, where the limits of memory and
//! stack act on the process as it runs. `setrlimit` and `prlimit64` of the process itself are
//! made at home as `prlimit64`, and a change the home accepted is applied here too; `prlimit64`
//! of another process is made at home alone.
//!
//! Memory: a guest's `/proc/self/maps`, `cmdline`, `environ` and the other files of its own
//! memory (`omcore::ownproc`), opened read-only by an absolute path, are read here, where its
//! memory is, and given to it as a memfd at home holding them (a snapshot taken at the open),
//! which it reads as any descriptor; its `status` is the home's with the memory lines of here.
//!
//! Name: `prctl(PR_SET_NAME)` renames the process at home (what `ps` shows there) and here.
//!
//! Usage: the home counts the CPU time the process used there (and its deputy's), the hosts
//! what it used on them: `getrusage` of itself and `times` add the second to the first, which
//! the home answers. The home's own account takes the CPU time used away when the process
//! comes back or ends on a host (`Misc` of the image, `GuestExit`), so that its later calls
//! and its parent's `wait` count it.

use super::forward::forward_call;
use super::guest::Guest;
use super::vectored::call;
use super::Migrations;
use crate::ksys::errno::enosys;
use crate::ksys::task::{cur, Task};
use crate::ksys::Disp;
use crate::omcore::ownproc::{self, OwnProc};
use crate::omcore::text::Escaped;
use crate::omcore::{fwd, syscalls, syscalls::nr};
use kernel::prelude::*;

/// Resource limits the host keeps (as `RLIM_NLIMITS`).
const LIMITS: usize = 16;

/// `setrlimit(resource, new)` or `prlimit64(pid, resource, new, old)` of a guest.
pub(crate) fn prlimit(mig: &Migrations, g: &Guest, nr: u32, args: [u64; 6]) -> Result<i64> {
    let (pid, resource, new, old) = match nr {
        nr::SETRLIMIT => (0, args[0], args[1], 0),
        _ => (args[0], args[1], args[2], args[3]),
    };
    let home = g.inner.lock().home_pid;
    let own = syscalls::own_pid(pid, home);
    // The new limits are read once: what the home checks is what is applied here.
    let mut want = [0u8; 16];
    if new != 0 {
        cur::read_user(new, &mut want)?;
    }
    let call = [own.unwrap_or(pid), resource, new, old, 0, 0];
    let spec = fwd::spec(nr::PRLIMIT64, &call).ok_or(enosys())?;
    let input = (new != 0).then_some((2, &want[..]));
    let (r, _) = forward_call(mig, g, nr::PRLIMIT64, &spec, call, input, false)?;
    if r == 0 && own.is_some() && new != 0 {
        // The home's kernel took it, so `resource` is one it knows; the host keeps as many.
        let i = usize::try_from(resource)
            .ok()
            .filter(|&i| i < LIMITS)
            .ok_or(EINVAL)?;
        let (cur_limit, max_limit) = want.split_at(8);
        let mut limits = cur::rlimits();
        limits[2 * i] = u64::from_ne_bytes(cur_limit.try_into().map_err(|_| EINVAL)?);
        limits[2 * i + 1] = u64::from_ne_bytes(max_limit.try_into().map_err(|_| EINVAL)?);
        cur::set_rlimits(&limits);
    }
    Ok(r)
}

/// `RUSAGE_SELF` and `RUSAGE_THREAD`: a guest's own usage (one thread, so the same).
const OWN_USAGE: [i32; 2] = [0, 1];
/// Clock ticks of `times` (`USER_HZ`) per nanosecond's unit: 10 ms.
const NS_PER_TICK: u64 = 1_000_000_000 / 100;

/// The CPU time the calling guest used away from home (user, system, in ns).
fn cpu_away(g: &Guest) -> [u64; 2] {
    let here = Task::current().cputime();
    g.inner.lock().cpu_away(here)
}

/// Adds `ns` nanoseconds to the `struct timeval` at `tv` (seconds, then microseconds).
fn add_to_timeval(tv: &mut [u8], ns: u64) {
    let word = |b: &[u8]| i64::from_ne_bytes(b.try_into().unwrap_or([0; 8]));
    let us = ns / 1000;
    let mut sec = word(&tv[..8]).saturating_add(i64::try_from(us / 1_000_000).unwrap_or(i64::MAX));
    // A microsecond count from the kernel is below a second; taken so whatever it is.
    let mut usec = word(&tv[8..16]).rem_euclid(1_000_000) + (us % 1_000_000) as i64;
    if usec >= 1_000_000 {
        sec = sec.saturating_add(1);
        usec -= 1_000_000;
    }
    tv[..8].copy_from_slice(&sec.to_ne_bytes());
    tv[8..16].copy_from_slice(&usec.to_ne_bytes());
}

/// `getrusage(who, usage)`: made at home; the process's own usage gains the CPU time it used
/// away. The rest (memory, faults, switches) is the home's.
pub(crate) fn getrusage(
    mig: &Migrations,
    g: &Guest,
    spec: &fwd::Spec,
    args: [u64; 6],
) -> Result<i64> {
    let (r, _) = forward_call(mig, g, nr::GETRUSAGE, spec, args, None, false)?;
    if r == 0 && OWN_USAGE.contains(&(args[0] as i32)) {
        let away = cpu_away(g);
        let mut ru = [0u8; 32];
        cur::read_user(args[1], &mut ru)?;
        add_to_timeval(&mut ru[..16], away[0]);
        add_to_timeval(&mut ru[16..], away[1]);
        cur::write_user(args[1], &ru)?;
    }
    Ok(r)
}

/// `clock_gettime` of the calling guest's own process CPU clock of `kind`
/// (`syscalls::ClockOf::OwnProcess`) into the `struct timespec` at `args[1]`: the home's clock,
/// read once on this host (the CPU time the process used at home and on the hosts it came back
/// from), plus the CPU time it used away since it last left home: user time for the user-time
/// clock, user and system time for the others. So it never goes back as the process moves.
pub(crate) fn cpu_clock(mig: &Migrations, g: &Guest, args: [u64; 6], kind: u8) -> Result<i64> {
    let k = usize::from(kind.min(2));
    let cached = g.inner.lock().home_clock[k];
    let home = match cached {
        Some(ns) => ns,
        None => {
            // The timespec comes back here (`collect`): 1 only says that there is one.
            let a = [args[0], 1, 0, 0, 0, 0];
            let spec = fwd::spec(nr::CLOCK_GETTIME, &a).ok_or(EINVAL)?;
            let (r, ts) = forward_call(mig, g, nr::CLOCK_GETTIME, &spec, a, None, true)?;
            if r != 0 {
                return Ok(r);
            }
            let ts = ts.ok_or(EIO)?;
            let word = |at: usize| {
                ts.get(at..at + 8)
                    .and_then(|b| b.try_into().ok())
                    .map(u64::from_ne_bytes)
                    .ok_or(EIO)
            };
            let ns = word(0)?
                .saturating_mul(1_000_000_000)
                .saturating_add(word(8)?);
            g.inner.lock().home_clock[k] = Some(ns);
            ns
        }
    };
    let away = cpu_away(g);
    let used = if kind == 1 {
        away[0]
    } else {
        away[0].saturating_add(away[1])
    };
    let ns = home.saturating_add(used);
    let mut ts = [0u8; 16];
    ts[..8].copy_from_slice(&(ns / 1_000_000_000).to_ne_bytes());
    ts[8..].copy_from_slice(&(ns % 1_000_000_000).to_ne_bytes());
    cur::write_user(args[1], &ts)?;
    Ok(0)
}

/// `times(buf)`: made at home; the process's own user and system ticks gain the CPU time it
/// used away. The clock (the result) is the home's.
pub(crate) fn times(mig: &Migrations, g: &Guest, spec: &fwd::Spec, args: [u64; 6]) -> Result<i64> {
    let (r, _) = forward_call(mig, g, nr::TIMES, spec, args, None, false)?;
    // The clock may be any value but an error's (-4095..-1), which leaves `buf` unwritten.
    if args[0] != 0 && !(-4095..0).contains(&r) {
        let away = cpu_away(g);
        let mut t = [0u8; 16];
        cur::read_user(args[0], &mut t)?;
        for (i, ns) in away.iter().enumerate() {
            let at = &mut t[8 * i..8 * i + 8];
            let ticks = u64::from_ne_bytes(at.try_into().map_err(|_| EINVAL)?);
            at.copy_from_slice(&ticks.saturating_add(ns / NS_PER_TICK).to_ne_bytes());
        }
        cur::write_user(args[0], &t)?;
    }
    Ok(r)
}

/// Largest file of its own memory a guest is given (`maps` of 65530 areas takes about 6 MiB).
const MAX_OWN_PROC: usize = 16 << 20;
/// `O_CLOEXEC`, and `MFD_CLOEXEC`.
const O_CLOEXEC: u64 = 0o2000000;
const MFD_CLOEXEC: u64 = 1;
/// `EIO`.
const EIO_NR: i64 = 5;

/// Largest file read at home for a guest (`/proc/self/status` takes about 1.5 KiB).
const MAX_HOME_READ: usize = 64 * 1024;
/// `AT_FDCWD`, `O_RDONLY`.
const AT_FDCWD: u64 = -100i64 as u64;
const O_RDONLY: u64 = 0;

/// The guest's `/proc/self/status`: the home's (its ids, signals, capabilities...) with the lines
/// of its memory taken from `here`, the host's (`ownproc::merged_status`).
fn status_with(mig: &Migrations, g: &Guest, here: &[u8]) -> Result<KVVec<u8>> {
    let home = read_at_home(mig, g, b"/proc/self/status\0")?;
    let mut out = KVVec::with_capacity(home.len() + here.len(), GFP_KERNEL)?;
    for line in ownproc::merged_status(&home, here) {
        out.extend_from_slice(line, GFP_KERNEL)?;
    }
    Ok(out)
}

/// The contents of the small file `path` (with its NUL) at home, read by the deputy (at most
/// [`MAX_HOME_READ`] bytes: `EFBIG` past it).
fn read_at_home(mig: &Migrations, g: &Guest, path: &[u8]) -> Result<KVVec<u8>> {
    let open = [AT_FDCWD, 1, O_RDONLY | O_CLOEXEC, 0, 0, 0];
    let fd = home_call(mig, g, nr::OPENAT, open, Some((1, path)))?;
    if fd < 0 {
        return Err(Error::from_errno(fd as i32));
    }
    let mut out = KVVec::new();
    let read = (|| -> Result {
        loop {
            let (n, data) = call(mig, g, nr::READ, [fd as u64, 1, 4096, 0, 0, 0], None, true)?;
            if n < 0 {
                return Err(Error::from_errno(n as i32));
            }
            let Some(data) = data.filter(|d| !d.is_empty()) else {
                return Ok(());
            };
            if out.len() + data.len() > MAX_HOME_READ {
                return Err(EFBIG);
            }
            out.extend_from_slice(&data, GFP_KERNEL)?;
        }
    })();
    let _ = home_call(mig, g, nr::CLOSE, [fd as u64, 0, 0, 0, 0, 0], None);
    read.map(|()| out)
}

/// Forwards call `nr` with `args` and, for a string or an input buffer, `input` as argument
/// `at`.
fn home_call(
    mig: &Migrations,
    g: &Guest,
    nr: u32,
    args: [u64; 6],
    input: Option<(usize, &[u8])>,
) -> Result<i64> {
    call(mig, g, nr, args, input, false).map(|(r, _)| r)
}

/// The guest opens `file` of its own memory with `flags` (call `nr` with `args`): its contents
/// here, in a memfd at home whose descriptor is the result. If they cannot be read here (a
/// stack with no room for the read's buffer, a file too large), the call is made at home as any
/// open, which shows the deputy's memory.
pub(crate) fn open_own_proc(
    mig: &Migrations,
    g: &Guest,
    file: OwnProc,
    flags: u64,
    (nr, args): (u32, [u64; 6]),
) -> Result<i64> {
    let read = cur::read_own_proc(file.name_nul(), MAX_OWN_PROC);
    let read = match file {
        OwnProc::Status => read.and_then(|here| status_with(mig, g, &here)),
        _ => read,
    };
    let data = match read {
        Ok(d) => d,
        Err(e) => {
            pr_info!(
                "guest {}: /proc/self/{} read at home: error {}\n",
                Task::current_pid(),
                Disp(&Escaped(file.name())),
                e.to_errno()
            );
            return home_call(mig, g, nr, args, None);
        }
    };
    let cloexec = if flags & O_CLOEXEC != 0 {
        MFD_CLOEXEC
    } else {
        0
    };
    // The name goes as `input` (a pointer that is not NULL says there is one).
    let name = Some((0, file.memfd_name_nul()));
    let fd = home_call(mig, g, nr::MEMFD_CREATE, [1, cloexec, 0, 0, 0, 0], name)?;
    if fd < 0 {
        return Ok(fd);
    }
    let mut at = 0;
    let mut r = 0;
    while at < data.len() {
        let chunk = &data[at..data.len().min(at + fwd::MAX_BUF)];
        let w = [fd as u64, 1, chunk.len() as u64, 0, 0, 0];
        r = home_call(mig, g, nr::WRITE, w, Some((1, chunk)))?;
        if r <= 0 {
            // A memfd takes what it is given; one that takes nothing cannot be filled.
            r = if r == 0 { -EIO_NR } else { r };
            break;
        }
        at += r as usize;
    }
    if r >= 0 {
        r = home_call(mig, g, nr::LSEEK, [fd as u64, 0, 0, 0, 0, 0], None)?;
    }
    if r < 0 {
        let _ = home_call(mig, g, nr::CLOSE, [fd as u64, 0, 0, 0, 0, 0], None);
        return Ok(r);
    }
    Ok(fd)
}

/// `prctl(PR_SET_NAME, name)`: the process is renamed at home and, once the home took the name,
/// here too. The name is read as the kernel reads it: up to 15 bytes, or to its NUL.
pub(crate) fn set_name(
    mig: &Migrations,
    g: &Guest,
    spec: &fwd::Spec,
    args: [u64; 6],
) -> Result<i64> {
    let mut name = [0u8; 16];
    let mut buf = [0u8; 16];
    match cur::read_user_str(args[1], &mut buf) {
        Ok(n) => name[..n].copy_from_slice(&buf[..n]),
        // No NUL in the first 16 bytes: the first 15 are the name.
        Err(_) => cur::read_user(args[1], &mut name[..15])?,
    }
    let len = name.iter().position(|&b| b == 0).unwrap_or(15);
    let (r, _) = forward_call(
        mig,
        g,
        nr::PRCTL,
        spec,
        args,
        Some((1, &name[..=len])),
        false,
    )?;
    if r == 0 {
        cur::set_comm(&name);
    }
    Ok(r)
}
