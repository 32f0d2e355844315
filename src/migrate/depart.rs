// SPDX-License-Identifier: GPL-2.0

//! A running guest leaving this host, on its home's word (`MigCtl Depart`): it is captured in
//! its own context (task work) and streamed to its next host or home as a new migration; the
//! home then sends its verdict. A guest that enters a call only its home can make (`fork`,
//! `execve`, ...) asks its home to take it back first ([`call_at_home`]).

use super::capture::{capture, raise_pending};
use super::config::{ANSWER_MS, HOME_RETRY_MS};
use super::guest::{Guest, GuestState};
use super::stream::{nap, report_progress, Dest, ImageSender};
use super::Migrations;
use crate::error::{self, syscall_result};
use crate::ksys::sys::now_ms;
use crate::ksys::task::{cur, Task};
use crate::ksys::thread;
use crate::omcore::image::PAGE_SIZE;
use crate::omcore::mig;
use crate::omcore::syscalls::name_of;
use crate::userlog::peer_warn;
use core::sync::atomic::Ordering::{Acquire, Relaxed};
use kernel::prelude::*;
use kernel::sync::Arc;

impl Migrations {
    /// `MigCtl` from `peer`: see [`mig::Ctl`].
    #[inline(never)]
    pub(crate) fn on_ctl(self: &Arc<Self>, peer: u32, payload: &[u8]) -> error::Result {
        match mig::Ctl::decode(payload)? {
            mig::Ctl::Depart {
                mig_id,
                target,
                new_mig_id,
            } => {
                // From the guest's home only: `guest` looks it up by home.
                let refuse = |e: Error| {
                    self.report_failure(peer, new_mig_id, e, false);
                    Ok(())
                };
                let Some(g) = self.guest(peer, mig_id) else {
                    return refuse(ESRCH);
                };
                let task = {
                    let mut q = g.inner.lock();
                    match q.task.clone() {
                        Some(t) if q.state == GuestState::Running && q.hooked() => {
                            q.state = GuestState::Departing;
                            q.verdict = None;
                            t
                        }
                        _ => {
                            drop(q);
                            return refuse(EBUSY);
                        }
                    }
                };
                let queued = task.queue_work(
                    depart_work(self.clone(), g.clone(), target, new_mig_id),
                    true,
                );
                if queued.is_err() {
                    g.inner.lock().state = GuestState::Running;
                    return refuse(ESRCH);
                }
                Ok(())
            }
            mig::Ctl::Verdict { mig_id, result } => {
                if let Some(g) = self.guest(peer, mig_id) {
                    let mut q = g.inner.lock();
                    if q.state == GuestState::Departing {
                        q.verdict = Some(result);
                    }
                    drop(q);
                    g.cv.notify_all();
                }
                Ok(())
            }
            mig::Ctl::Progress { mig_id, kib } => {
                self.on_progress(peer, mig_id, kib);
                Ok(())
            }
            mig::Ctl::Checkpoint {
                mig_id,
                ckpt_id,
                incremental,
            } => Ok(self.on_ckpt_ask(peer, mig_id, ckpt_id, incremental)?),
            mig::Ctl::Release { mig_id } => {
                self.on_ckpt_release(peer, mig_id);
                Ok(())
            }
            mig::Ctl::Expect { mig_id, from } => {
                // From the guest's home (`peer`): its image may come from `from`.
                if from == self.mesh.self_id() || from == peer {
                    return Err(crate::ksys::errno::ebadmsg().into());
                }
                Ok(self.expect(peer, mig_id, from)?)
            }
            mig::Ctl::Move { mig_id, target } => {
                // A host asks that a guest of this node's leave it (its `admin/expel`, its
                // balancer, the guest's call only its home can make). Its `omx-rx` thread does
                // not wait for signals the deputy is sending: the deputy starts the move then.
                let Some(dep) = self.deputy(peer, mig_id) else {
                    return Ok(());
                };
                let onward = target != 0 && target != self.mesh.self_id();
                if onward
                    && !self.root_may_leave.load(Relaxed)
                    && Task::by_pid(dep.pid).is_some_and(|t| t.is_root())
                {
                    // Coming home is always allowed; going on to a third node is the
                    // balancer's decision for root's processes, and `admin/migrate_root` is 0.
                    peer_warn!(
                        "process {}: node {} asked to move it on to node {}: refused, it runs \
                         as root (admin/migrate_root is 0)\n",
                        dep.pid,
                        peer,
                        target
                    );
                    return Ok(());
                }
                let _ = self.move_guest(&dep, target, false);
                Ok(())
            }
        }
    }
}

/// The task work that moves guest `g` on to `target` as migration `new_mig_id`
/// ([`guest_depart`]), and ends it here once it moved.
///
/// A forwarded call the guest entered is made first: its result was set at entry (`ENOSYS`,
/// for the case the call is not made) and its task work may be queued after this one, or run
/// after it; captured before it, the guest would restart on its next host with that result, and
/// the call be made from here as the task ends. So while calls are queued the move puts itself
/// back at the end of the queue: the task-work runner takes it again once they are done.
fn depart_work(
    mig: Arc<Migrations>,
    g: Arc<Guest>,
    target: u32,
    new_mig_id: u32,
) -> impl FnOnce() + Send + 'static {
    move || {
        if g.calls_queued.load(Acquire) != 0 {
            let again = Task::current().queue_work(
                depart_work(mig.clone(), g.clone(), target, new_mig_id),
                true,
            );
            if again.is_err() {
                // The task is exiting: there is nothing left to move.
                g.inner.lock().state = GuestState::Running;
                mig.report_failure(g.home, new_mig_id, ESRCH, true);
            }
            return;
        }
        {
            // Given up while a call was made (the home's verdict came first): it stays.
            let mut q = g.inner.lock();
            if q.verdict.take().is_some() {
                if q.state == GuestState::Departing {
                    q.state = GuestState::Running;
                }
                return;
            }
        }
        let end = guest_depart(&mig, &g, target, new_mig_id);
        drop((mig, g));
        if end {
            // Moved on: it ends here without a word to its home.
            cur::exit(0);
        }
    }
}

/// A guest moves on to `target` (its home, or a third node), in its own context (task work):
/// captured here and streamed there as migration `new_mig_id`; then the home's verdict. Returns
/// whether the guest moved (it is to end here); if not, it goes on here as before.
#[inline(never)]
fn guest_depart(mig: &Migrations, g: &Guest, target: u32, new_mig_id: u32) -> bool {
    let (home_pid, home_uid, away) = {
        let q = g.inner.lock();
        (
            q.home_pid,
            q.home_uid,
            q.cpu_away(Task::current().cputime()),
        )
    };
    let to = Dest {
        target,
        home: g.home,
        mig_id: new_mig_id,
        home_pid,
        home_uid,
    };
    let mut pending = 0u64;
    let boost = thread::Boost::new();
    let captured = ImageSender::new(&mig.mesh, &to)
        .and_then(|tx| capture(tx, &to, Some(&mut pending), away, None));
    drop(boost);
    let pages = match captured {
        Ok(pages) => pages,
        Err(e) => {
            pr_warn!(
                "guest {} (pid {} of node {}): capture for node {} failed: error {}\n",
                Task::current_pid(),
                home_pid,
                g.home,
                target,
                e.to_errno()
            );
            mig.report_failure(g.home, new_mig_id, e, true);
            raise_pending(pending);
            g.inner.lock().state = GuestState::Running;
            return false;
        }
    };
    if target != g.home {
        // All of it is on its way; the home now waits for the target's answer.
        let kib = pages * (PAGE_SIZE as u64 / 1024);
        report_progress(
            &mig.mesh,
            g.home,
            new_mig_id,
            u32::try_from(kib).unwrap_or(u32::MAX),
        );
    }
    let t0 = now_ms();
    let verdict = {
        let mut q = g.inner.lock();
        loop {
            if let Some(v) = q.verdict.take() {
                break v;
            }
            // The home gone (its guest is killed anyway), or no answer: it stays.
            if q.state == GuestState::Gone
                || !g.home_linked(&mig.mesh)
                || cur::fatal_signal_pending()
            {
                break EINTR.to_errno();
            }
            if now_ms().saturating_sub(t0) > 2 * ANSWER_MS {
                break ETIMEDOUT.to_errno();
            }
            q = nap(&g.inner, &g.cv, q);
        }
    };
    let mut q = g.inner.lock();
    if verdict == 0 {
        // Its home hears nothing of this ending: the process runs on elsewhere.
        q.state = GuestState::Gone;
        drop(q);
        pr_info!(
            "guest {} (pid {} of node {}) moved on to node {}\n",
            Task::current_pid(),
            home_pid,
            g.home,
            target
        );
        return true;
    }
    if q.state == GuestState::Departing {
        q.state = GuestState::Running;
    }
    if target == g.home {
        q.home_failed_ms = now_ms().max(1);
    }
    drop(q);
    raise_pending(pending);
    false
}

/// Logs (rate-limited) that a guest's call `nr` is refused.
pub(crate) fn not_available(nr: u32, why: &str) {
    static LAST: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);
    let now = now_ms();
    if now.saturating_sub(LAST.load(core::sync::atomic::Ordering::Relaxed)) >= 1000 {
        LAST.store(now, core::sync::atomic::Ordering::Relaxed);
        pr_warn!(
            "guest {}: system call {} ({}) refused: {}\n",
            Task::current_pid(),
            name_of(nr).unwrap_or("?"),
            nr,
            why
        );
    }
}

/// A guest enters call `nr`, which only its home can make (`fork`, `execve`, ...): it is
/// rewound to be made again, and the guest asks to come home. Once home, the process makes it
/// there; if the move fails, here, where the next attempt fails with `EAGAIN` for a while.
pub(crate) fn call_at_home(mig: &Arc<Migrations>, g: Arc<Guest>, nr: u32) {
    let failed = g.inner.lock().home_failed_ms;
    let mut regs = cur::user_regs();
    if failed != 0 && now_ms().saturating_sub(failed) < HOME_RETRY_MS {
        not_available(nr, "its home could not take it back");
        regs.skip_call(syscall_result(EAGAIN));
        cur::set_user_regs(&regs);
        return;
    }
    // No call now; the `syscall` instruction again, with the same number, when it runs next.
    regs.rewind_call(nr);
    cur::set_user_regs(&regs);
    let m = mig.clone();
    if Task::current()
        .queue_work(move || ask_home(&m, &g), false)
        .is_err()
    {
        regs.skip_call(syscall_result(ENOMEM));
        cur::set_user_regs(&regs);
    }
}

/// Asks the home to take the guest back, and waits for its `Depart` (which queues the move
/// itself as the next task work). Task work in the guest.
fn ask_home(mig: &Migrations, g: &Guest) {
    let asked = mig.ask_move(g.home, g.mig_id, 0, false);
    let t0 = now_ms();
    let mut q = g.inner.lock();
    while asked.is_ok() && q.state == GuestState::Running {
        if now_ms().saturating_sub(t0) > HOME_RETRY_MS
            || !g.home_linked(&mig.mesh)
            || cur::fatal_signal_pending()
        {
            break;
        }
        q = nap(&g.inner, &g.cv, q);
    }
    if q.state != GuestState::Departing {
        q.home_failed_ms = now_ms().max(1);
    }
}
