// SPDX-License-Identifier: GPL-2.0

//! A guest lost with its host, restarted by its deputy from its latest checkpoint.
//!
//! Every save that reached its file (`checkpoint.rs`) is remembered here for its process: the
//! file itself (a reference, so that a rename or a move of its directory does not lose it), who
//! saved it, and when. When the host of a guest that has one goes down, its deputy does not end
//! with `SIGKILL`: it starts `omx-revive` (the `omctl` binary, as the guest stub is) with that
//! file as its descriptor 0. The helper gives up root for the saver's user and group, checks
//! the chain of saves the file ends, merges it into one whole image in a memfd (as `omctl
//! restart` does) and writes `PID FD OFFSET [N:POS...]` on `/proc/openmosix/revive`. The
//! deputy, waiting for that in its own context, then replaces its memory and state with the
//! image, as a restart does, sets its regular files back to their offsets at the save (the
//! helper lists those whose path is still the one saved), and returns to user mode as the
//! process: same pid, parent, descriptors, working directory and terminal. If the helper cannot
//! be started, or no image comes within [`REVIVE_MS`], or the image is refused, the process ends
//! with `SIGKILL` status as a guest without a checkpoint does.
//!
//! A deputy blocked in a forwarded call when its host goes down is woken out of it first (task
//! work that interrupts the call, `Migrations::watch_deputies`).

use super::ckpt::{alive, Revival, Revived, Saved, MAX_MARKS};
use super::config::STUB_PATH;
use super::deputy::Deputy;
use super::restore::{check_head, load_regs, restore_body, Restoring};
use super::stream::{read_head, FileImage};
use super::Migrations;
use crate::ksys::cstr_fmt;
use crate::ksys::file::{seek_own, UserFile};
use crate::ksys::sys::now_ms;
use crate::ksys::task::{self, cur, Task};
use crate::ksys::thread;
use crate::omcore::revive;
use crate::userlog::user_warn;
use core::fmt::Write;
use kernel::prelude::*;
use kernel::time::msecs_to_jiffies;

/// How long a deputy whose host went down waits for its image (ms).
pub(super) const REVIVE_MS: u64 = 60_000;
/// How many restarts `/proc/openmosix/migrate` shows.
const MAX_REVIVED: usize = 16;

impl Migrations {
    /// Remembers that process `pid` (started at `start`) is being saved by the caller to the
    /// file it has open as `fd`: the save replaces the one before once complete
    /// ([`Migrations::complete_save`]).
    pub(super) fn remember_save(&self, pid: i32, start: u64, fd: i32) {
        let Ok(file) = UserFile::get(fd, true) else {
            return;
        };
        let (uid, gid) = cur::init_real_ids();
        let s = Saved {
            pid,
            start,
            file,
            uid,
            gid,
            at_ms: now_ms(),
            by: Task::current_pid(),
            complete: false,
        };
        let mut saves = self.saves.lock();
        // Those of processes that ended go, and a save of this one left unfinished.
        saves.retain(|s| (s.pid != pid || s.complete) && alive(s.pid, s.start));
        if saves.len() >= MAX_MARKS {
            let _ = saves.remove(0);
        }
        let _ = saves.push(s, GFP_KERNEL);
    }

    /// The caller, which saved process `pid`, released it with its file whole: that save is
    /// the one to restart it from.
    pub(super) fn complete_save(&self, pid: i32) {
        let by = Task::current_pid();
        let mut saves = self.saves.lock();
        if !saves
            .iter()
            .any(|s| s.pid == pid && s.by == by && !s.complete)
        {
            return;
        }
        saves.retain(|s| s.pid != pid || !s.complete);
        for s in saves.iter_mut().filter(|s| s.pid == pid) {
            s.complete = true;
        }
    }

    /// Forgets process `pid`'s saves (it ends after one: `--kill`).
    pub(super) fn forget_save(&self, pid: i32) {
        self.saves.lock().retain(|s| s.pid != pid);
    }

    /// Forgets the saves of processes that ended (from the tick).
    pub(super) fn prune_saves(&self) {
        let mut saves = self.saves.lock();
        if !saves.is_empty() {
            saves.retain(|s| alive(s.pid, s.start));
        }
    }

    /// Whether process `pid`, started at `start`, has a save to be restarted from.
    pub(super) fn has_save(&self, pid: i32, start: u64) -> bool {
        self.saves
            .lock()
            .iter()
            .any(|s| s.pid == pid && s.start == start && s.complete)
    }

    fn take_save(&self, pid: i32, start: u64) -> Option<Saved> {
        let mut saves = self.saves.lock();
        let i = saves
            .iter()
            .position(|s| s.pid == pid && s.start == start && s.complete)?;
        saves.remove(i).ok()
    }

    /// `PID FD OFFSET [N:POS...]` on `/proc/openmosix/revive`: the image at byte OFFSET of the
    /// caller's file FD, for the deputy of process PID that waits for one, and the positions
    /// to set its descriptors N back to.
    pub(crate) fn revive_with(&self, text: &str) -> Result {
        let Some(req) = revive::Request::parse(text) else {
            user_warn!(
                "revive: expected 'PID FD OFFSET' and up to {} 'N:POS'\n",
                revive::MAX_SEEKS
            );
            return Err(EINVAL);
        };
        let (pid, fd, offset) = (req.pid, req.fd, req.offset);
        let mut seeks = KVec::new();
        for s in req.seeks() {
            seeks.push(s, GFP_KERNEL)?;
        }
        let task = Task::by_pid(pid).ok_or(ESRCH)?;
        if !task.may_be_migrated_by_current() {
            user_warn!("revive {}: permission denied\n", pid);
            return Err(EPERM);
        }
        let Some(dep) = self.deputy_of(pid) else {
            user_warn!("revive {}: not a process that waits to be restarted\n", pid);
            return Err(ESRCH);
        };
        let file = UserFile::get(fd, false).inspect_err(|_| {
            user_warn!(
                "revive {}: descriptor {} is not a regular file open for reading\n",
                pid,
                fd
            )
        })?;
        let mut i = dep.inner.lock();
        if !i.reviving {
            user_warn!("revive {}: not a process that waits to be restarted\n", pid);
            return Err(ESRCH);
        }
        if i.handed {
            user_warn!("revive {}: its image was handed over already\n", pid);
            return Err(EBUSY);
        }
        i.handed = true;
        i.revival = Some(Revival {
            file,
            offset,
            seeks,
        });
        drop(i);
        dep.cv.notify_all();
        Ok(())
    }

    /// The lines of `/proc/openmosix/migrate` for processes restarted by their deputy that
    /// still run, as comments (they run at home: no migration): `# restarted PID (node NODE
    /// lost; checkpoint AGE s old)`.
    pub(crate) fn show_revived(&self, out: &mut impl Write) -> core::fmt::Result {
        for r in self.revived.lock().iter() {
            if Task::by_pid(r.pid).is_some_and(|t| t.start_time() == r.start) {
                writeln!(
                    out,
                    "# restarted {} (node {} lost; checkpoint {} s old)",
                    r.pid,
                    r.lost,
                    r.age_ms / 1000
                )?;
            }
        }
        Ok(())
    }
}

/// The deputy `dep` found its host gone: restarts the process from its latest save if it has
/// one. `true` when it did (the caller returns to user mode as the process); `false` when it
/// must end as before.
pub(super) fn on_host_lost(mig: &Migrations, dep: &Deputy) -> bool {
    let start = Task::current().start_time();
    {
        let mut i = dep.inner.lock();
        if i.doomed {
            // The watcher found no save when it ended the call this deputy was making.
            return false;
        }
        i.reviving = true;
    }
    let Some(saved) = mig.take_save(dep.pid, start) else {
        dep.inner.lock().reviving = false;
        return false;
    };
    let lost = dep.target();
    let age_ms = now_ms().saturating_sub(saved.at_ms);
    pr_warn!(
        "process {}: node {} {} with its guest: restarting it at home from its checkpoint of {} s before\n",
        dep.pid,
        lost,
        mig.loss(lost),
        age_ms / 1000
    );
    let r = wait_revival(dep, &saved).and_then(|r| revive(mig, dep, r));
    {
        let mut i = dep.inner.lock();
        i.reviving = false;
        i.revival = None;
    }
    match r {
        Ok(()) => {
            let mut list = mig.revived.lock();
            if list.len() >= MAX_REVIVED {
                let _ = list.remove(0);
            }
            let _ = list.push(
                Revived {
                    pid: dep.pid,
                    start,
                    lost,
                    age_ms,
                },
                GFP_KERNEL,
            );
            drop(list);
            let module = mig.retire_deputy(dep);
            pr_info!(
                "process {} restarted at home from its checkpoint of {} s before node {} was lost\n",
                dep.pid,
                age_ms / 1000,
                lost
            );
            // As at the end of a move home: module code runs on for a few instructions back
            // to the task-work runner (`task::wait_tasks_off_module`).
            drop(module);
            true
        }
        Err(e) => {
            pr_warn!(
                "process {}: no restart from its checkpoint: error {}; killed\n",
                dep.pid,
                e.to_errno()
            );
            false
        }
    }
}

/// Starts the helper on `saved` and waits for what it hands over.
fn wait_revival(dep: &Deputy, saved: &Saved) -> Result<Revival> {
    let (mut pid, mut uid, mut gid) = ([0u8; 16], [0u8; 16], [0u8; 16]);
    let pid = cstr_fmt(&mut pid, format_args!("{}", dep.pid));
    let uid = cstr_fmt(&mut uid, format_args!("{}", saved.uid));
    let gid = cstr_fmt(&mut gid, format_args!("{}", saved.gid));
    // The save becomes the helper's descriptor 0 (a user-mode helper starts with none open).
    let mut init = || -> Result {
        match saved.file.install()? {
            0 => Ok(()),
            _ => Err(EBADF),
        }
    };
    task::spawn(STUB_PATH, &[c"omx-revive", pid, uid, gid], &mut init).inspect_err(|e| {
        pr_warn!(
            "process {}: cannot start {}: error {}\n",
            dep.pid,
            STUB_PATH.to_str().unwrap_or("?"),
            e.to_errno()
        )
    })?;
    let t0 = now_ms();
    loop {
        if cur::fatal_signal_pending() {
            return Err(EINTR);
        }
        let mut i = dep.inner.lock();
        if let Some(r) = i.revival.take() {
            return Ok(r);
        }
        if now_ms().saturating_sub(t0) > REVIVE_MS {
            return Err(ETIMEDOUT);
        }
        let waited = dep
            .cv
            .wait_interruptible_timeout(&mut i, msecs_to_jiffies(100));
        drop(i);
        if matches!(waited, kernel::sync::CondVarTimeoutResult::Signal { .. }) {
            // A signal for the process waits for it to run again.
            thread::pause_ms(20);
        }
    }
}

/// Replaces the calling deputy's memory and state with the image `r` hands over, sets its
/// descriptors back, and loads the image's registers for the way back to user mode.
fn revive(mig: &Migrations, dep: &Deputy, r: Revival) -> Result {
    let mut img = FileImage::new(&r.file, r.offset);
    let mut next = || img.next();
    let head = read_head(&mut next)?;
    if head.begin.home_pid != dep.pid as u32 {
        pr_warn!(
            "process {}: the checkpoint is of process {}\n",
            dep.pid,
            head.begin.home_pid
        );
        return Err(EINVAL);
    }
    check_head(&head, mig.mesh.self_id())?;
    let boost = thread::Boost::new();
    let restored = restore_body(&mut next, &head, Restoring::Restart, mig.mesh.self_id());
    drop(boost);
    restored?;
    for &(fd, pos) in r.seeks.iter() {
        if let Err(e) = seek_own(fd, pos) {
            pr_warn!(
                "process {}: descriptor {} not set back to {}: error {}\n",
                dep.pid,
                fd,
                pos,
                e.to_errno()
            );
        }
    }
    load_regs(&head.regs, &head.xstate);
    Ok(())
}
