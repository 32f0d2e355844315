// SPDX-License-Identifier: GPL-2.0

//! Guests are not the host's processes (openMosix semantics): while guests run here, the
//! system-call hooks keep them out of the host's own processes' sight and reach. A call that names
//! a guest by pid (kill, tgkill, sigqueue, pidfd_open, ptrace, process_vm_*, prlimit, sched_*,
//! priorities...) fails with `ESRCH`, as for a pid that does not exist; `kill(-1, sig)` is made
//! by the module in the caller's name for every process but the guests; a listing of `/proc`'s
//! root leaves their entries out. The pure parts (which arguments name a process, the listing
//! filter) are `omcore::hide`, tested on the host.
//!
//! A path naming `/proc/PID` of a guest is refused by return probes on the kernel's own lookup
//! of it (`ksys::proc::PidHiding`, `helpers.c`): to every task but the guest and an
//! administrator (`CAP_SYS_ADMIN`); the guests' pids are given to it as they come and go
//! (`arrive.rs`).

use super::Migrations;
use crate::error::syscall_result;
use crate::ksys::task::cur;
use crate::omcore::hide;
use crate::omcore::regs::UserRegs;
use kernel::prelude::*;

/// Largest listing filtered (a `getdents64` buffer; `ls` and `ps` use 32 KiB).
const MAX_LISTING: usize = 1 << 20;

/// `sys_enter` of one of this node's own processes while guests run here: a call naming a guest
/// does not happen and returns `ESRCH`.
pub(crate) fn enter(mig: &Migrations, nr: u32) {
    let args = cur::user_regs().args();
    if hide::is_kill_all(nr, &args) {
        // kill(-1, sig): made here, without the guests.
        let r = cur::kill_all_except(args[1] as i32, &mig.guest_pids());
        cur::skip_call(i64::from(r));
        return;
    }
    let mut named = hide::named_pids(nr, &args).peekable();
    if named.peek().is_some() {
        let guests = mig.guest_pids();
        if named.any(|pid| guests.contains(&pid)) {
            cur::skip_call(syscall_result(ESRCH));
        }
    }
}

/// `sys_exit` of one of this node's own processes while guests run here: a `getdents64` of a
/// proc file system's root loses the guests' entries. When they were all the call returned,
/// the call is made again (the directory position is already past them), so that an empty
/// result still means the end. `regs` are the caller's saved registers.
pub(crate) fn exit(mig: &Migrations, mut regs: UserRegs) {
    let [fd, dirp, ..] = regs.args();
    let ret = regs.result();
    if regs.syscall_nr() != Some(hide::GETDENTS64) || ret <= 0 || ret as usize > MAX_LISTING {
        return;
    }
    if !cur::fd_is_proc_root(fd as i32) {
        return;
    }
    let pids = mig.guest_pids();
    if pids.is_empty() {
        return;
    }
    let Ok(mut buf) = KVec::from_elem(0u8, ret as usize, GFP_KERNEL) else {
        return;
    };
    if cur::read_user(dirp, &mut buf).is_err() {
        return;
    }
    let Some(n) = hide::filter_dirents(&mut buf, |p| pids.contains(&p)) else {
        return;
    };
    if n == buf.len() {
        return;
    }
    if n == 0 {
        // Again, from where the listing is now.
        regs.rewind_call(hide::GETDENTS64);
    } else {
        if cur::write_user(dirp, &buf[..n]).is_err() {
            return;
        }
        regs.set_result(n as i64);
    }
    cur::set_user_regs(&regs);
}
