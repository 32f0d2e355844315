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
use crate::ksys::task::cur;
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
