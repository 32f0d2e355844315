// SPDX-License-Identifier: GPL-2.0

//! Checkpoints: a process of this node saved to a file (`omctl checkpoint`), and a process made
//! again from one (`omctl restart`). The file is the caller's: `omctl` opens it and hands the
//! module its descriptor, so the module opens no path itself, and the caller's own access to
//! the file is what lets it be written or read.
//!
//! Save (`/proc/openmosix/checkpoint`, `PID FD`): with the rights a migration needs, the capture
//! runs in the process's own context (task work, as a migration's: a call it was in is
//! restarted), appends the image's records to the file, then holds the process, asleep in the
//! kernel (a fatal signal still ends it), until the caller has added what only the home knows
//! (its open files, read from `/proc/PID`) and releases it (`PID continue`, `PID stop`, `PID
//! kill`), or for at most [`HOLD_MS`]. A process that runs on another node is captured there
//! (`MigCtl Checkpoint` to its host, which captures the guest in its own context, every area
//! as memory, and sends the image home as `MigImage` frames of a stream of its own): the saver
//! appends the records to the file as they come, each checked by the image's reader; the host
//! then holds the guest, so that the files it has at home do not change, until `MigCtl
//! Release`.
//!
//! Restart (`/proc/openmosix/restart`, `FD OFFSET [CLOSE...]`): in the calling process (a
//! single-threaded process `omctl` made, its files opened again and its vDSO placed as the
//! image has it), the image at byte `OFFSET` of file `FD` replaces its memory, signal state and
//! limits (none above what it has), as a restore from a peer would, record by record through
//! the image's reader; descriptor `FD` and those named are closed, and the image's registers
//! are loaded on the way back to user mode.
//!
//! Lock order: `Migrations::ckpts`, then a `Ckpt::inner` (`ckpt.rs`); neither is held across
//! the capture or a wait.

use super::capture::capture;
use super::ckpt::{After, Chain, Ckpt, CkptInner, Mark, HOLD_MS, MAX_CKPTS, MAX_MARKS};
use super::config::ANSWER_MS;
use super::config::GUEST_QUEUE_BYTES;
use super::deputy::{Deputy, DeputyState, JobStop};
use super::guest::{Guest, GuestState};
use super::request::stay_reasons;
use super::restore::{check_head, load_regs, restore_body, Restoring};
use super::stream::{
    nap, read_head, wait_for_room, wait_record, Dest, FileImage, ImageSender, Inflow, Owned,
};
use super::Migrations;
use crate::ksys::errno::{ehostunreach, estale};
use crate::ksys::file::UserFile;
use crate::ksys::homemap;
use crate::ksys::sys::now_ms;
use crate::ksys::task::{cur, ModuleRef, Task};
use crate::ksys::thread;
use crate::omcore::frame::MessageKind;
use crate::omcore::image::{self, Kind, RecordHeader};
use crate::omcore::mig;
use crate::omcore::syscalls::sig::{SIGKILL, SIGSTOP};
use crate::userlog::user_warn;
use kernel::prelude::*;
use kernel::sync::Arc;

impl Migrations {
    /// `PID FD [ID [PARENT]]` on `/proc/openmosix/checkpoint`: saves process `pid` to the file
    /// open as `fd` in the caller (regular, open for writing with `O_APPEND`); returns once its
    /// image is there, the process held until [`Migrations::release_checkpoint`]. With a
    /// `chain`, the save is named and, with a parent, holds only the pages changed since that
    /// save, which must be the process's latest one in a chain.
    pub(crate) fn checkpoint(self: &Arc<Self>, pid: i32, fd: i32, chain: Option<Chain>) -> Result {
        if self.guest_route(pid).is_some() {
            user_warn!("checkpoint {}: a guest here: its home saves it\n", pid);
            return Err(EPERM);
        }
        let task = Task::by_pid(pid).ok_or(ESRCH)?;
        if !task.may_be_migrated_by_current() {
            user_warn!("checkpoint {}: permission denied\n", pid);
            return Err(EPERM);
        }
        if task.is_current() {
            user_warn!(
                "checkpoint {}: a process cannot save itself this way\n",
                pid
            );
            return Err(EINVAL);
        }
        let start = task.start_time();
        if let Some(c) = chain.filter(|c| c.parent != 0) {
            if self.latest_save(pid, start) != Some(c.parent) {
                user_warn!(
                    "checkpoint {}: {:#x} is not its latest save in a chain: save it whole\n",
                    pid,
                    c.parent
                );
                return Err(estale());
            }
        }
        let r = match self.deputy_of(pid) {
            Some(dep) => {
                let incremental = chain.is_some_and(|c| c.parent != 0);
                self.checkpoint_away(&dep, pid, fd, incremental)
            }
            None => self.checkpoint_here(&task, pid, fd, chain),
        };
        // A chain goes on from this save only if it cleared the soft-dirty bits (a host clears
        // them after its capture; if it could not, they still mark at least every page written
        // since, and a save after it holds them all).
        match (r, chain) {
            (Ok(cleared), Some(c)) if cleared => self.set_latest_save(pid, start, Some(c.id)),
            _ => self.set_latest_save(pid, start, None),
        }
        if r.is_ok() {
            self.remember_save(pid, start, fd);
        }
        r.map(|_| ())
    }

    /// The name of process `pid`'s latest save in a chain, if this node remembers one.
    fn latest_save(&self, pid: i32, start: u64) -> Option<u64> {
        self.marks
            .lock()
            .iter()
            .find(|m| m.pid == pid && m.start == start)
            .map(|m| m.id)
    }

    /// Remembers `id` (or nothing) as process `pid`'s latest save in a chain.
    fn set_latest_save(&self, pid: i32, start: u64, id: Option<u64>) {
        let mut marks = self.marks.lock();
        marks.retain(|m| m.pid != pid);
        let Some(id) = id else { return };
        if marks.len() >= MAX_MARKS {
            let _ = marks.remove(0);
        }
        let _ = marks.push(Mark { pid, start, id }, GFP_KERNEL);
    }

    /// The save of a process at home (see [`Migrations::checkpoint`]); says whether its
    /// capture cleared its soft-dirty bits.
    fn checkpoint_here(
        self: &Arc<Self>,
        task: &Task,
        pid: i32,
        fd: i32,
        chain: Option<Chain>,
    ) -> Result<bool> {
        let bits = task.stay_bits();
        if bits != 0 {
            let why = stay_reasons(bits);
            user_warn!(
                "checkpoint {}: cannot be saved: {}\n",
                pid,
                core::str::from_utf8(&why).unwrap_or("?")
            );
            return Err(EPERM);
        }
        if task.is_stopped() {
            user_warn!(
                "checkpoint {}: it is stopped (job control or traced): continue it first\n",
                pid
            );
            return Err(EAGAIN);
        }
        let file = file_to_append(pid, fd)?;
        let module = ModuleRef::get().ok_or(ENODEV)?;
        let ck = Arc::pin_init(Ckpt::new(pid, Task::current_pid(), 0, 0), GFP_KERNEL)?;
        self.add_ckpt(&ck)?;
        let me = self.mesh.self_id();
        let (mig, c) = (self.clone(), ck.clone());
        let queued = task.queue_work(
            move || {
                save_in_task(&mig, &c, file, me, chain);
                drop((mig, c, module));
            },
            true,
        );
        if queued.is_err() {
            self.forget_ckpt(&ck);
            return Err(ESRCH);
        }
        let r = wait_saved(&ck);
        if r.is_err() {
            self.forget_ckpt(&ck);
        }
        r.map(|()| ck.inner.lock().cleared)
    }

    /// Adds `ck` to the checkpoints under way, unless its process is being saved already or as
    /// many checkpoints as allowed are.
    fn add_ckpt(&self, ck: &Arc<Ckpt>) -> Result {
        let mut list = self.ckpts.lock();
        if list.iter().any(|c| c.pid == ck.pid) {
            user_warn!("checkpoint {}: it is being saved already\n", ck.pid);
            return Err(EBUSY);
        }
        if list.len() >= MAX_CKPTS {
            user_warn!("checkpoint {}: too many checkpoints under way\n", ck.pid);
            return Err(EBUSY);
        }
        list.push(ck.clone(), GFP_KERNEL)?;
        Ok(())
    }

    /// The save of process `pid` whose guest runs on another node (`dep`): its host captures
    /// it where it runs and sends the image here, as a move home would, and holds it; the
    /// records are appended to the file as they come, in the saver's context.
    /// The host clears the guest's soft-dirty bits after its capture; says that a chain may go
    /// on from this save.
    fn checkpoint_away(
        self: &Arc<Self>,
        dep: &Deputy,
        pid: i32,
        fd: i32,
        incremental: bool,
    ) -> Result<bool> {
        {
            let i = dep.inner.lock();
            if !matches!(i.state, DeputyState::Remote(_)) || i.hop.is_some() {
                user_warn!("checkpoint {}: it is migrating\n", pid);
                return Err(EBUSY);
            }
            if i.job != JobStop::Running {
                user_warn!(
                    "checkpoint {}: it is stopped (job control): continue it first\n",
                    pid
                );
                return Err(EAGAIN);
            }
        }
        let file = file_to_append(pid, fd)?;
        let host = dep.target();
        let id = self.new_mig_id();
        let ck = Arc::pin_init(Ckpt::new(pid, Task::current_pid(), host, id), GFP_KERNEL)?;
        ck.inner.lock().inflow = Some(if incremental {
            Inflow::incremental()
        } else {
            Inflow::new()
        });
        self.add_ckpt(&ck)?;
        let ask = mig::Ctl::Checkpoint {
            mig_id: dep.mig_id(),
            ckpt_id: id,
            incremental,
        };
        dep.inner.lock().saving = true;
        let r = self
            .mesh
            .send_to(host, MessageKind::MigCtl, &ask.encode(), true)
            .map_err(|_| ehostunreach())
            .and_then(|()| {
                // The guest makes the call again once saved.
                dep.interrupt_call();
                receive_image(&ck, &file, Task::by_pid(pid).as_ref())
            });
        dep.inner.lock().saving = false;
        let failed = {
            let mut q = ck.inner.lock();
            q.inflow = None;
            // Frames of an image given up are dropped as they come.
            q.result = Some(r);
            r.is_err()
        };
        if failed {
            self.forget_ckpt(&ck);
            // Not held for nothing.
            let go = mig::Ctl::Release {
                mig_id: dep.mig_id(),
            };
            let _ = self
                .mesh
                .send_to(host, MessageKind::MigCtl, &go.encode(), false);
        }
        r.map(|()| true)
    }

    /// The checkpoint whose image stream `mig_id` comes from `peer`, if there is one.
    pub(crate) fn ckpt_stream(&self, peer: u32, mig_id: u32) -> Option<Arc<Ckpt>> {
        self.ckpts
            .lock()
            .iter()
            .find(|c| c.host == peer && c.id == mig_id && c.host != 0)
            .cloned()
    }

    /// `MigImage` from the host of a process being saved: more of its image, queued for the
    /// saver (the `omx-rx` thread waits while too much is queued).
    pub(crate) fn on_ckpt_image(&self, ck: &Ckpt, payload: KVec<u8>, at: usize) -> Result {
        let q = ck.inner.lock();
        let mut q = wait_for_room(&ck.cv, q, |q| {
            q.result.is_none()
                && q.inflow
                    .as_ref()
                    .is_some_and(|f| f.bytes > GUEST_QUEUE_BYTES)
        });
        if q.result.is_none() {
            if let Some(f) = q.inflow.as_mut() {
                f.push(payload, at)?;
            }
        }
        drop(q);
        ck.cv.notify_all();
        Ok(())
    }

    /// `MigResult` with an error from the host of a process being saved: its capture failed.
    /// Says whether `mig_id` was such a checkpoint.
    pub(crate) fn on_ckpt_failed(&self, peer: u32, mig_id: u32, errno: i32) -> bool {
        let Some(ck) = self.ckpt_stream(peer, mig_id) else {
            return false;
        };
        let mut q = ck.inner.lock();
        if q.result.is_none() {
            q.result = Some(Err(Error::from_errno(errno.min(-1))));
        }
        drop(q);
        ck.cv.notify_all();
        true
    }

    /// `MigCtl Checkpoint` from `home`: its guest `mig_id` is captured where it runs (only the
    /// pages it wrote since, if `incremental`) and its image sent home as `ckpt_id`; then it is
    /// held until `MigCtl Release` (or for at most [`HOLD_MS`]). A refusal or failure goes home
    /// as a `MigResult` of `ckpt_id`.
    pub(crate) fn on_ckpt_ask(
        self: &Arc<Self>,
        home: u32,
        mig_id: u32,
        ckpt_id: u32,
        incremental: bool,
    ) -> Result {
        let refuse = |e: Error| {
            self.report_failure(home, ckpt_id, e, false);
            Ok(())
        };
        let Some(g) = self.guest(home, mig_id) else {
            return refuse(ESRCH);
        };
        let task = {
            let mut q = g.inner.lock();
            match q.task.clone() {
                Some(t) if q.state == GuestState::Running && q.hooked() && !q.saving => {
                    q.saving = true;
                    t
                }
                _ => {
                    drop(q);
                    return refuse(EBUSY);
                }
            }
        };
        let Some(module) = ModuleRef::get() else {
            g.inner.lock().saving = false;
            return refuse(ENODEV);
        };
        let (mig, gs) = (self.clone(), g.clone());
        let queued = task.queue_work(
            move || {
                save_guest(&mig, &gs, ckpt_id, incremental);
                drop((mig, gs, module));
            },
            true,
        );
        if queued.is_err() {
            g.inner.lock().saving = false;
            return refuse(ESRCH);
        }
        Ok(())
    }

    /// `MigCtl Release` from `home`: its guest `mig_id`, held after a checkpoint, goes on.
    pub(crate) fn on_ckpt_release(&self, home: u32, mig_id: u32) {
        if let Some(g) = self.guest(home, mig_id) {
            g.inner.lock().saving = false;
            g.cv.notify_all();
        }
    }

    /// `PID continue|stop|kill` on `/proc/openmosix/checkpoint`: releases process `pid`, saved
    /// by the caller and held since.
    pub(crate) fn release_checkpoint(&self, pid: i32, after: After) -> Result {
        let me = Task::current_pid();
        let ck = self
            .ckpts
            .lock()
            .iter()
            .find(|c| c.pid == pid && c.by == me)
            .cloned();
        let Some(ck) = ck else {
            user_warn!("checkpoint {}: no checkpoint of yours holds it\n", pid);
            return Err(ESRCH);
        };
        if after == After::Kill {
            // Nothing left to restart.
            self.forget_save(pid);
        } else {
            // Its file is whole now (synced): the save to restart it from.
            self.complete_save(pid);
        }
        if ck.host == 0 {
            ck.inner.lock().release = Some(after);
            ck.cv.notify_all();
            return Ok(());
        }
        // Held on its host: the deputy here takes the stop or the end to it, then it goes on.
        self.forget_ckpt(&ck);
        let dep = self.deputy_of(pid);
        if let Some(t) = Task::by_pid(pid) {
            match after {
                After::Continue => {}
                After::Stop => t.signal(SIGSTOP),
                After::Kill => t.signal(SIGKILL),
            }
        }
        if let Some(dep) = dep {
            let go = mig::Ctl::Release {
                mig_id: dep.mig_id(),
            };
            let _ = self
                .mesh
                .send_to(ck.host, MessageKind::MigCtl, &go.encode(), true);
        }
        Ok(())
    }

    fn forget_ckpt(&self, ck: &Ckpt) {
        self.ckpts
            .lock()
            .retain(|c| !core::ptr::eq::<Ckpt>(&**c, ck));
    }

    /// `FD OFFSET [CLOSE...]` on `/proc/openmosix/restart`: the calling process becomes the one
    /// saved in the image at byte `offset` of the file open as `fd` (see the module
    /// documentation).
    pub(crate) fn restart(&self, fd: i32, offset: u64, close: &[u32]) -> Result {
        let me = Task::current_pid() as i32;
        if self.deputy_of(me).is_some() || self.guest_route(me).is_some() {
            // A deputy makes its guest's calls: its own memory is not the process's.
            user_warn!("restart: not from a process that runs away from home\n");
            return Err(EPERM);
        }
        let bits = Task::current().stay_bits();
        if bits != 0 {
            user_warn!("restart: the calling process must be single-threaded and ordinary\n");
            return Err(EINVAL);
        }
        let file = UserFile::get(fd, false).inspect_err(|_| {
            user_warn!(
                "restart: descriptor {} is not a regular file open for reading\n",
                fd
            )
        })?;
        let mut img = FileImage::new(&file, offset);
        let mut next = || img.next();
        let head = read_head(&mut next)?;
        check_head(&head, self.mesh.self_id())?;
        // Nothing is replaced before this point: a refused image leaves the caller as it was.
        let boost = thread::Boost::new();
        let r = restore_body(&mut next, &head, Restoring::Restart, self.mesh.self_id());
        drop(boost);
        if let Err(e) = r {
            pr_warn!(
                "restart: failed: error {}; the process cannot go on\n",
                e.to_errno()
            );
            // Its memory may be gone already.
            Task::current().signal(SIGKILL);
            return Err(e);
        }
        drop(file);
        for &f in close {
            cur::close_file(f);
        }
        cur::close_file(fd as u32);
        // Registers and FPU state are loaded on the way back to user mode, after this write's
        // return value was stored.
        Task::current().queue_work(move || load_regs(&head.regs, &head.xstate), false)
    }
}

/// The caller's file `fd` to save process `pid` to: a regular file open for appending.
fn file_to_append(pid: i32, fd: i32) -> Result<UserFile> {
    UserFile::get(fd, true).inspect_err(|_| {
        user_warn!(
            "checkpoint {}: descriptor {} is not a regular file open for appending\n",
            pid,
            fd
        )
    })
}

/// The saver's wait: until the capture ended, or it gave up (a signal, or a process that did
/// not start its capture within [`ANSWER_MS`]: asleep where no signal wakes it).
fn wait_saved(ck: &Ckpt) -> Result {
    let t0 = now_ms();
    let mut q = ck.inner.lock();
    loop {
        if let Some(r) = q.result {
            return r;
        }
        let late = !q.started && now_ms().saturating_sub(t0) > ANSWER_MS;
        if late || cur::signal_pending() {
            q.abandoned = true;
            return Err(if late { ETIMEDOUT } else { EINTR });
        }
        q = nap(&ck.inner, &ck.cv, q);
    }
}

/// The save, in the process's own context (see the module documentation).
fn save_in_task(mig: &Migrations, ck: &Ckpt, file: UserFile, me: u32, chain: Option<Chain>) {
    {
        let mut q = ck.inner.lock();
        if q.abandoned {
            drop(q);
            mig.forget_ckpt(ck);
            return;
        }
        q.started = true;
    }
    let to = Dest {
        target: me,
        home: me,
        mig_id: 0,
        home_pid: ck.pid as u32,
        home_uid: cur::real_uid(),
    };
    let incremental = chain.is_some_and(|c| c.parent != 0);
    let r = ImageSender::to_file(&file).and_then(|tx| {
        let tx = if incremental { tx.incremental() } else { tx };
        capture(tx, &to, None, [0, 0], None)
    });
    drop(file);
    // The next save of the chain holds what the process writes from now on.
    let cleared = r.is_ok()
        && chain.is_some()
        && homemap::clear_own_soft_dirty()
            .inspect_err(|e| {
                pr_warn!(
                    "checkpoint {}: soft-dirty bits not cleared (error {}): its next save is whole\n",
                    ck.pid,
                    e.to_errno()
                )
            })
            .is_ok();
    let hold = {
        let mut q = ck.inner.lock();
        q.cleared = cleared;
        q.result = Some(r.map(|_| ()));
        r.is_ok() && !q.abandoned
    };
    ck.cv.notify_all();
    let mut after = After::Continue;
    if hold {
        let t0 = now_ms();
        let mut q = ck.inner.lock();
        loop {
            if let Some(a) = q.release {
                after = a;
                break;
            }
            if now_ms().saturating_sub(t0) > HOLD_MS || cur::fatal_signal_pending() {
                break;
            }
            q = nap(&ck.inner, &ck.cv, q);
        }
    }
    mig.forget_ckpt(ck);
    match after {
        After::Continue => {}
        After::Stop => Task::current().signal(SIGSTOP),
        After::Kill => Task::current().signal(SIGKILL),
    }
}

/// The records of a checkpoint's image from the host, checked by the image's reader as they
/// come, appended to `file` until its `End`. The real-time interval timer is the home
/// process's (`home`): it runs here, where the deputy keeps it for its guest (those of CPU
/// time run on the host, and come with the image); so are the signals waiting here, which
/// the deputy has not passed on (blocked ones wait at home until the guest unblocks them).
fn receive_image(ck: &Ckpt, file: &UserFile, home: Option<&Task>) -> Result {
    loop {
        let (mut body, rec) = wait_record(&ck.inner, &ck.cv, ck.host, CkptInner::inflow)?;
        if let (Owned::Misc(mut m), Some(t)) = (&rec, home) {
            m.itimers[0] = t.itimers()[0];
            body.clear();
            body.extend_from_slice(&m.encode(), GFP_KERNEL)?;
        }
        if let (Owned::Signals, Some(t)) = (&rec, home) {
            let mut s = KBox::new(
                image::Signals::decode(&body).map_err(|_| EINVAL)?,
                GFP_KERNEL,
            )?;
            s.pending |= t.pending_mask() & !(1 << (SIGKILL - 1) | 1 << (SIGSTOP - 1));
            let enc = KBox::new(s.encode(), GFP_KERNEL)?;
            body.clear();
            body.extend_from_slice(&enc[..], GFP_KERNEL)?;
        }
        let h = RecordHeader {
            kind: kind_of(&rec),
            len: u32::try_from(body.len()).map_err(|_| EINVAL)?,
        };
        file.append(&h.encode())?;
        file.append(&body)?;
        if matches!(rec, Owned::End) {
            return Ok(());
        }
    }
}

/// The kind of a record the reader checked.
fn kind_of(rec: &Owned) -> Kind {
    match rec {
        Owned::Begin(_) => Kind::Begin,
        Owned::Regs(_) => Kind::Regs,
        Owned::Xstate => Kind::Xstate,
        Owned::Mm(_) => Kind::Mm,
        Owned::Vma(..) => Kind::Vma,
        Owned::Pages(_) => Kind::Pages,
        Owned::Parent => Kind::Parent,
        Owned::Signals => Kind::Signals,
        Owned::Limits(_) => Kind::Limits,
        Owned::Misc(_) => Kind::Misc,
        Owned::End => Kind::End,
    }
}

/// A checkpoint's capture of guest `g`, in its own context on its host (see
/// [`Migrations::on_ckpt_ask`]).
fn save_guest(mig: &Migrations, g: &Guest, ckpt_id: u32, incremental: bool) {
    let (home_pid, home_uid) = {
        let q = g.inner.lock();
        (q.home_pid, q.home_uid)
    };
    let to = Dest {
        target: g.home,
        home: g.home,
        mig_id: ckpt_id,
        home_pid,
        home_uid,
    };
    let r = ImageSender::checkpoint(&mig.mesh, &to).and_then(|tx| {
        let tx = if incremental { tx.incremental() } else { tx };
        capture(tx, &to, None, [0, 0], None)
    });
    // The next save adds to this one: what the guest writes from now on (if the bits cannot be
    // cleared, they keep marking at least that).
    if r.is_ok() {
        if let Err(e) = homemap::clear_own_soft_dirty() {
            pr_warn!(
                "checkpoint of a guest of node {}: soft-dirty bits not cleared (error {})\n",
                g.home,
                e.to_errno()
            );
        }
    }
    if let Err(e) = r {
        pr_warn!(
            "checkpoint of a guest of node {}: error {}\n",
            g.home,
            e.to_errno()
        );
        mig.report_failure(g.home, ckpt_id, e, false);
        g.inner.lock().saving = false;
        return;
    }
    // Held while its home reads what it keeps of the process (its files): the guest makes no
    // forwarded call meanwhile.
    let t0 = now_ms();
    let mut q = g.inner.lock();
    while q.saving
        && q.state != GuestState::Gone
        && now_ms().saturating_sub(t0) <= HOLD_MS
        && !cur::fatal_signal_pending()
    {
        q = nap(&g.inner, &g.cv, q);
    }
    q.saving = false;
}
