// SPDX-License-Identifier: GPL-2.0

//! A guest's calls about its own resource limits, which hold in two places: at home, whose
//! kernel checks a change (the process's credentials are there) and keeps it for when the
//! process comes back, and on the host, where the limits of memory and stack act on the
//! process as it runs. `setrlimit` and `prlimit64` of the process itself are made at home as
//! `prlimit64`, and a change the home accepted is applied here too; `prlimit64` of another
//! process is made at home alone.

use super::forward::forward_call;
use super::guest::Guest;
use super::Migrations;
use crate::ksys::errno::enosys;
use crate::ksys::task::{cur, Task};
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
