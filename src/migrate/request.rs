// SPDX-License-Identifier: GPL-2.0

//! Asking for moves, at home: a process of this node to another node ([`Migrations::request`]),
//! a guest of this node's on to a third node or home (`MigCtl Depart` to its host),
//! `admin/bring` and `admin/expel`; and the answers (`MigResult`, `GuestExit`).
//!
//! Lock order (as in `migrate.rs`): `Migrations::deputies`, then a `Deputy::inner`, then the
//! mesh's locks; `Migrations::guests`, then a `Guest::inner`. A move waits, on the deputy's
//! condition variable, for the signals its deputy is sending (`Deputy::inner` is not held by
//! the sender meanwhile).

use super::config::ANSWER_MS;
use super::deputy::{Deputy, DeputyState, Hop, JobStop};
use super::serve::{deputy_main, finish, give_up_hop};
use super::stream::nap;
use super::{moved, Migrations};
use crate::error;
use crate::ksys::errno::ehostunreach;
use crate::ksys::sys::now_ms;
use crate::ksys::task::{cur, stay, ModuleRef, Task};
use crate::omcore::frame::MessageKind;
use crate::omcore::mig::{self, Exit, MigResult};
use crate::omcore::moves::Outcome;
use crate::omcore::syscalls::sig::SIGKILL;
use crate::userlog::user_warn;
use core::sync::atomic::Ordering::Relaxed;
use kernel::prelude::*;
use kernel::sync::Arc;

/// Appends formatted text to a byte vector (what does not fit is dropped).
struct ByteWriter<'a>(&'a mut KVec<u8>);

impl core::fmt::Write for ByteWriter<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.0
            .extend_from_slice(s.as_bytes(), GFP_KERNEL)
            .map_err(|_| core::fmt::Error)
    }
}

/// The names of stay bits `bits`, separated by commas, as a refusal reports them.
pub(super) fn stay_reasons(bits: u32) -> KVec<u8> {
    let mut why = KVec::new();
    let _ = stay::write_reasons(&mut ByteWriter(&mut why), bits);
    why
}

impl Migrations {
    /// `/proc/openmosix/migrate`: moves process `pid` to node `target` (0: home).
    pub(crate) fn request(self: &Arc<Self>, pid: i32, target: u32) -> Result {
        if let Some((home, mig_id)) = self.guest_route(pid) {
            // A guest hosted here: only its home moves it. Root on the host may ask it to.
            if !cur::is_admin() {
                user_warn!(
                    "migrate {}: a guest here; only root may ask its home to move it\n",
                    pid
                );
                return Err(EPERM);
            }
            let to = if target == home { 0 } else { target };
            pr_info!(
                "migrate {}: a guest of node {}; its home is asked to move it\n",
                pid,
                home
            );
            return self.ask_move(home, mig_id, to, true);
        }
        let task = Task::by_pid(pid).ok_or(ESRCH)?;
        if !task.may_be_migrated_by_current() {
            user_warn!("migrate {}: permission denied\n", pid);
            return Err(EPERM);
        }
        let me = self.mesh.self_id();
        if let Some(dep) = self.deputy_of(pid) {
            // Its guest runs elsewhere: it moves on, or comes home.
            return self.move_guest(&dep, target, true);
        }
        if target == 0 || target == me {
            // At home already: nothing to do, which is how the move ends.
            self.record_move(moved(pid, me, me, Task::current_pid()));
            return Ok(());
        }
        if !self.mesh.peer_accepts_guests(target) {
            user_warn!(
                "migrate {}: node {} is not up or refuses guests\n",
                pid,
                target
            );
            return Err(ehostunreach());
        }
        let bits = task.stay_bits();
        if bits != 0 {
            let why = stay_reasons(bits);
            user_warn!(
                "migrate {}: stays home: {}\n",
                pid,
                core::str::from_utf8(&why).unwrap_or("?")
            );
            return Err(EPERM);
        }
        let module = ModuleRef::get().ok_or(ENODEV)?;
        // The connection the migration will live on (0, a name no connection has: gone).
        let link = self.mesh.link(target).unwrap_or(0);
        let dep = Arc::pin_init(
            Deputy::new(pid, self.new_mig_id(), target, link, Task::current_pid()),
            GFP_KERNEL,
        )?;
        {
            // Checked again under the lock: of two requests at once, one makes the deputy.
            let mut list = self.deputies.lock();
            if list.iter().any(|d| d.pid == pid) {
                user_warn!("migrate {}: it is migrating already\n", pid);
                return Err(EBUSY);
            }
            list.push(dep.clone(), GFP_KERNEL)?;
        }
        let (mig, d) = (self.clone(), dep.clone());
        let r = task.queue_work(
            move || {
                let end = deputy_main(&mig, &d, module);
                drop((mig, d));
                finish(end);
            },
            true,
        );
        if r.is_err() {
            self.forget_deputy(&dep);
            return Err(ESRCH);
        }
        Ok(())
    }

    /// Moves the guest of `dep` from its host to `target` (0 or this node: home). The move
    /// starts once the signals the deputy is sending are sent (see `forward_signals`); without
    /// `wait`, a move that would have to wait for them is left to the deputy, which starts it
    /// once they are sent.
    pub(crate) fn move_guest(&self, dep: &Deputy, target: u32, wait: bool) -> Result {
        let me = self.mesh.self_id();
        let target = if target == 0 { me } else { target };
        let from = dep.target();
        if !matches!(dep.state(), DeputyState::Remote(_)) {
            user_warn!("migrate {}: it is migrating already\n", dep.pid);
            return Err(EBUSY);
        }
        if dep.inner.lock().job != JobStop::Running {
            // A stopped guest runs no task work (its capture) until it is continued. Not
            // `EBUSY`, which tells a waiting `omctl migrate` that a move is under way.
            user_warn!(
                "migrate {}: it is stopped (job control): it can move once continued\n",
                dep.pid
            );
            return Err(EAGAIN);
        }
        if target == from {
            self.record_move(moved(dep.pid, from, from, Task::current_pid()));
            return Ok(());
        }
        if target != me && !self.mesh.peer_accepts_guests(target) {
            user_warn!(
                "migrate {}: node {} is not up or refuses guests\n",
                dep.pid,
                target
            );
            return Err(ehostunreach());
        }
        let hop = Hop {
            target,
            mig_id: self.new_mig_id(),
            home: target == me,
            since: now_ms(),
            asked_by: Task::current_pid(),
            heard: now_ms(),
            kib: None,
        };
        {
            let mut i = dep.inner.lock();
            let t0 = now_ms();
            while i.signalling {
                if !wait {
                    i.move_asked = Some(target);
                    return Ok(());
                }
                if now_ms().saturating_sub(t0) > ANSWER_MS || cur::fatal_signal_pending() {
                    return Err(EBUSY);
                }
                i = nap(&dep.inner, &dep.cv, i);
            }
            if i.hop.is_some() {
                pr_warn!("migrate {}: it is moving already\n", dep.pid);
                return Err(EBUSY);
            }
            i.hop = Some(hop);
            i.inflow = None;
        }
        // The target takes the image from the host only as announced here, before it is sent.
        let expect = mig::Ctl::Expect {
            mig_id: hop.mig_id,
            from,
        };
        let c = mig::Ctl::Depart {
            mig_id: dep.mig_id(),
            target,
            new_mig_id: hop.mig_id,
        };
        let sent = if target == me {
            Ok(())
        } else {
            self.mesh
                .send_to(target, MessageKind::MigCtl, &expect.encode(), true)
        };
        if let Err(e) = sent.and_then(|()| {
            self.mesh
                .send_to(from, MessageKind::MigCtl, &c.encode(), true)
        }) {
            dep.inner.lock().hop = None;
            return Err(e);
        }
        // The guest makes it again where it goes on, or ends it with `EINTR` if a signal's
        // handler says so.
        dep.interrupt_call();
        Ok(())
    }

    /// `admin/bring`: every process of this node running elsewhere comes home.
    pub(crate) fn bring_all(&self) -> Result {
        for d in self.all_deputies()?.iter() {
            if matches!(d.state(), DeputyState::Remote(_)) {
                let _ = self.move_guest(d, 0, true);
            }
        }
        Ok(())
    }

    /// `admin/expel`: every guest of this node is asked to go home.
    pub(crate) fn expel_all(&self) -> Result {
        let mut asks: KVec<(u32, u32)> = KVec::new();
        for g in self.guests.lock().iter() {
            let state = g.inner.lock().state;
            if matches!(
                state,
                super::GuestState::Running | super::GuestState::Departing
            ) {
                asks.push((g.home, g.mig_id), GFP_KERNEL)?;
            }
        }
        for &(home, mig_id) in asks.iter() {
            let _ = self.ask_move(home, mig_id, 0, true);
        }
        Ok(())
    }

    /// `MigResult` from `peer`: the answer to a first migration from here, or to a move of a
    /// guest of this node's (from its target, or from the old host when the capture failed).
    #[inline(never)]
    pub(crate) fn on_result(&self, peer: u32, payload: &[u8]) -> error::Result {
        let r = MigResult::decode(payload)?;
        if r.result != 0 && self.on_ckpt_failed(peer, r.mig_id, r.result) {
            return Ok(());
        }
        if let Some(dep) = self.deputy(peer, r.mig_id) {
            let mut i = dep.inner.lock();
            if i.state != DeputyState::Sending {
                return Err(crate::ksys::errno::ebadmsg().into());
            }
            i.state = if r.result == 0 {
                DeputyState::Remote(r.guest_pid)
            } else {
                DeputyState::Failed(r.result)
            };
            drop(i);
            dep.cv.notify_all();
            return Ok(());
        }
        let moving = self.deputies.lock().iter().find_map(|d| {
            let hop = d.inner.lock().hop?;
            let from_host = peer == d.target() && r.result != 0;
            (hop.mig_id == r.mig_id && !hop.home && (peer == hop.target || from_host))
                .then(|| (d.clone(), hop))
        });
        let Some((dep, hop)) = moving else {
            if r.result == 0 {
                // A guest nobody here waits for (its move was given up): it must not run.
                self.send_signal(peer, r.mig_id, SIGKILL, false);
            }
            return Ok(());
        };
        if r.result != 0 {
            // The target refused or failed, or the old host could not capture the guest.
            give_up_hop(self, &dep, Error::from_errno(r.result));
            return Ok(());
        }
        let (old_host, old_id) = (dep.target(), dep.mig_id());
        let link = self.mesh.link(hop.target).unwrap_or(0);
        {
            let list = self.deputies.lock();
            dep.set_route(&list, hop.target, hop.mig_id, link);
        }
        dep.inner.lock().state = DeputyState::Remote(r.guest_pid);
        self.out_ok.fetch_add(1, Relaxed);
        let took = now_ms().saturating_sub(hop.since);
        self.record_move(Outcome {
            frozen_ms: Some(took),
            kib: hop.kib.map(u64::from),
            ..moved(dep.pid, old_host, hop.target, hop.asked_by)
        });
        pr_info!(
            "process {} moved on from node {} to node {} (pid {} there)\n",
            dep.pid,
            old_host,
            hop.target,
            r.guest_pid
        );
        dep.inner.lock().hop = None;
        self.send_verdict(old_host, old_id, 0, false);
        dep.cv.notify_all();
        Ok(())
    }

    /// `MigCtl Progress` from `peer`: the host of a guest of this node's has sent `kib` KiB of
    /// its image on to the target of move `mig_id`. Anything else (a node that is not the
    /// guest's host, a move that is over) is stale and ignored.
    pub(crate) fn on_progress(&self, peer: u32, mig_id: u32, kib: u32) {
        for d in self.deputies.lock().iter() {
            if d.target() != peer {
                continue;
            }
            let mut i = d.inner.lock();
            if let Some(hop) = i.hop.as_mut() {
                if hop.mig_id == mig_id && !hop.home {
                    hop.heard = now_ms();
                    hop.kib = Some(kib);
                    return;
                }
            }
        }
    }

    /// `GuestExit` from `peer`.
    #[inline(never)]
    pub(crate) fn on_exit(&self, peer: u32, payload: &[u8]) -> error::Result {
        let x = Exit::decode(payload)?;
        // A guest may end before its home heard the result; an unknown one is stale, not hostile.
        let Some(dep) = self.deputy(peer, x.mig_id) else {
            return Ok(());
        };
        let mut i = dep.inner.lock();
        i.state = DeputyState::Exited(x.status);
        i.exited_cpu_ns = x.away_cpu_ns;
        drop(i);
        dep.cv.notify_all();
        Ok(())
    }
}
