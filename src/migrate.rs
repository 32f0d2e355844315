// SPDX-License-Identifier: GPL-2.0

//! Process migration: the processes of this node that run elsewhere (their deputies), the
//! guests this node hosts, and the system-call hooks both need. See
//! `Documentation/migration.md` and `Documentation/architecture.md`.
//!
//! Home side: a write of `PID NODE` to `/proc/openmosix/migrate` checks the process and queues
//! task work on it (`request.rs`). In the process's own context the work captures it
//! (`capture.rs`) and streams the image (`stream.rs`) to the target, then waits for the answer.
//! If the guest runs, the process becomes its deputy (`deputy.rs`, at work in `serve.rs`): it
//! gives up its user memory, makes the guest's forwarded calls and forwards its signals.
//!
//! Host side: the first frame of an image makes a guest slot (`guest.rs`) and starts the guest
//! stub, in which the image is restored (`arrive.rs`, `restore.rs`). The guest's system calls
//! are routed by the hooks (`hooks.rs`): made here, forwarded home (`forward.rs`,
//! `vectored.rs`), or made at home after the process came back (`depart.rs`, which also moves
//! guests on). The host's own processes do not see the guests (`hide.rs`).
//!
//! This file is the registry: the lists of deputies and guests, the lookups the frame handlers
//! use, the hooks' registration and the views for `/proc` and the balancer. Each frame kind's
//! handler (`Migrations::on_*`) is in the file of what it acts on.
//!
//! Lock order: `Migrations::deputies`, then a `Deputy::inner`, then the mesh's locks (a frame
//! sent); `Migrations::guests`, then a `Guest::inner`, then the mesh's locks. `Migrations::hooks`
//! is taken with none of them held; `Migrations::moves` is taken last (nothing is taken while it
//! is held). No lock is held while waiting for a peer or for room in a
//! connection's queue (only a frame queued without waiting goes out under a lock), except as a
//! condition variable's own lock.

mod arrive;
mod capture;
mod checkpoint;
mod ckpt;
mod config;
mod depart;
mod deputy;
mod forward;
mod guest;
mod hide;
mod homefile;
mod hooks;
mod keep;
mod own;
mod request;
mod restore;
mod revive;
mod serve;
mod stream;
mod vectored;
mod watch;

use crate::ksys::task::ModuleRef;
use crate::ksys::trace::Hooks;
use crate::mesh::Mesh;
use crate::omcore::frame::MessageKind;
use crate::omcore::mig::{self, MigResult, Pair};
use crate::omcore::moves::{self, Outcome};
use crate::omcore::pids::PidFilter;
use ckpt::Ckpt;
pub(crate) use ckpt::{After, Chain, MAX_CLOSE};
use core::fmt::Write;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use deputy::{Deputy, DeputyState};
use guest::{Expected, Guest, GuestState};
use kernel::prelude::*;
use kernel::sync::{new_mutex, Arc, Mutex};

/// What the system-call hooks act for: the migrations of this node.
pub(crate) struct Hook(pub(crate) Arc<Migrations>);

/// All migrations of this node.
///
/// # Invariants
///
/// A deputy is in `deputies` from its request until it ends or takes its process back; a guest
/// is in `guests` from the first frame of its image until its end was reported (or it was
/// given up). `serving` holds the pids of the deputies that hold the module, `hosting` those of
/// the guests that do (see [`Deputy`] and [`Guest`]); the hooks are registered while either is
/// not empty.
#[pin_data]
pub(crate) struct Migrations {
    pub(crate) mesh: Arc<Mesh>,
    next_id: AtomicU32,
    #[pin]
    deputies: Mutex<KVec<Arc<Deputy>>>,
    #[pin]
    guests: Mutex<KVec<Arc<Guest>>>,
    /// Images this node takes from a node other than the guest's home, as homes announced
    /// them (`arrive.rs`).
    #[pin]
    expected: Mutex<KVec<Expected>>,
    /// Deputies serving a guest, and guests running here, by pid: the hooks' first test.
    serving: PidFilter,
    hosting: PidFilter,
    /// The system-call hooks, registered only while a guest runs here or a deputy serves
    /// (registered, they put every system call of the node on the slower traced path).
    #[pin]
    hooks: Mutex<Option<Hooks<Hook>>>,
    /// `admin/migrate_root` as set (the balancer's knob, mirrored by `procfs`): whether a
    /// host may ask that a root process of this node's move on to a third node.
    pub(crate) root_may_leave: AtomicBool,
    /// `admin/page_files` (0 by default): whether a process leaving home takes its file
    /// mappings as areas paged from home (else as memory, every page).
    pub(crate) page_files: AtomicBool,
    /// How the latest moves of this node's processes ended (`/proc/openmosix/moves`).
    #[pin]
    moves: Mutex<MoveLog>,
    /// Checkpoints under way (`checkpoint.rs`, `ckpt.rs`).
    #[pin]
    ckpts: Mutex<KVec<Arc<Ckpt>>>,
    /// The latest save of each process in a chain (`checkpoint.rs`), the oldest first.
    #[pin]
    marks: Mutex<KVec<ckpt::Mark>>,
    /// The latest save of each process, to restart it from if its host is lost (`revive.rs`).
    #[pin]
    saves: Mutex<KVec<ckpt::Saved>>,
    /// The processes saved periodically (`keep.rs`).
    #[pin]
    kept: Mutex<KVec<ckpt::Kept>>,
    /// The latest processes restarted by their deputy (`revive.rs`).
    #[pin]
    revived: Mutex<KVec<ckpt::Revived>>,
    /// Where checkpoints go by default (`admin/ckpt_dir`, checked by `omcore::ckpt::check_dir`).
    #[pin]
    pub(crate) ckpt_dir: Mutex<ckpt::Dir>,
    /// Migrations in and out, and failures, for `stats`.
    pub(crate) out_ok: AtomicU32,
    pub(crate) out_failed: AtomicU32,
    pub(crate) in_ok: AtomicU32,
    /// Bytes of files read at home for guests' areas paged from home (`homefile.rs`).
    pub(crate) paged_from_home: AtomicU64,
    pub(crate) in_failed: AtomicU32,
}

impl Migrations {
    /// No migrations yet; frames go out through `mesh`.
    pub(crate) fn new(mesh: Arc<Mesh>) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            mesh,
            next_id: AtomicU32::new(1),
            deputies <- new_mutex!(KVec::new(), "Migrations::deputies"),
            guests <- new_mutex!(KVec::new(), "Migrations::guests"),
            expected <- new_mutex!(KVec::new(), "Migrations::expected"),
            serving: PidFilter::new(),
            hosting: PidFilter::new(),
            hooks <- new_mutex!(None, "Migrations::hooks"),
            moves <- new_mutex!(
                MoveLog {
                    next: 1,
                    ring: [None; moves::KEPT],
                },
                "Migrations::moves"
            ),
            ckpts <- new_mutex!(KVec::new(), "Migrations::ckpts"),
            marks <- new_mutex!(KVec::new(), "Migrations::marks"),
            saves <- new_mutex!(KVec::new(), "Migrations::saves"),
            revived <- new_mutex!(KVec::new(), "Migrations::revived"),
            kept <- new_mutex!(KVec::new(), "Migrations::kept"),
            ckpt_dir <- new_mutex!(ckpt::Dir::default(), "Migrations::ckpt_dir"),
            root_may_leave: AtomicBool::new(false),
            page_files: AtomicBool::new(false),
            out_ok: AtomicU32::new(0),
            out_failed: AtomicU32::new(0),
            in_ok: AtomicU32::new(0),
            paged_from_home: AtomicU64::new(0),
            in_failed: AtomicU32::new(0),
        })
    }

    /// A new migration name.
    fn new_mig_id(&self) -> u32 {
        self.next_id.fetch_add(1, Relaxed)
    }

    // --- Deputies ------------------------------------------------------------------------------

    /// The deputy of migration `mig_id`, whose guest runs on `peer`.
    fn deputy(&self, peer: u32, mig_id: u32) -> Option<Arc<Deputy>> {
        self.deputies
            .lock()
            .iter()
            .find(|d| d.target() == peer && d.mig_id() == mig_id)
            .cloned()
    }

    /// The deputy of home process `pid`.
    fn deputy_of(&self, pid: i32) -> Option<Arc<Deputy>> {
        self.deputies.lock().iter().find(|d| d.pid == pid).cloned()
    }

    /// Every deputy, for work done without the list's lock.
    fn all_deputies(&self) -> Result<KVec<Arc<Deputy>>> {
        snapshot(&self.deputies)
    }

    /// How a guest's host `node` was lost, for a log line: it went down, or the connection the
    /// guest lived on broke (see `Deputy::host_linked`).
    fn loss(&self, node: u32) -> &'static str {
        match self.mesh.peer_up(node) {
            true => "dropped the connection it lived on",
            false => "went down",
        }
    }

    fn forget_deputy(&self, dep: &Deputy) {
        self.deputies
            .lock()
            .retain(|d| !core::ptr::eq::<Deputy>(&**d, dep));
    }

    /// The calling deputy starts serving its guest: it holds `module`, and the hooks act for
    /// it from now on.
    fn start_serving(self: &Arc<Self>, dep: &Deputy, module: ModuleRef) -> Result {
        // INVARIANT (`Deputy`): the module is set and the pid counted together.
        dep.inner.lock().module = Some(module);
        self.serving.insert(dep.pid as u32);
        self.ensure_hooks()
    }

    /// The deputy stops serving and leaves the registry; returns the module reference it held
    /// (to be dropped as late as possible: module code may still run in the deputy).
    fn retire_deputy(&self, dep: &Deputy) -> Option<ModuleRef> {
        let (module, hop) = {
            let mut i = dep.inner.lock();
            (i.module.take(), i.hop)
        };
        if let Some(hop) = hop {
            // The process ended during a move of its guest.
            self.record_move(Outcome {
                error: errno_of(ESRCH.to_errno()),
                ..moved(dep.pid, dep.target(), hop.target, hop.asked_by)
            });
        }
        if module.is_some() {
            self.serving.remove(dep.pid as u32);
        }
        self.forget_deputy(dep);
        module
    }

    /// The serving deputy whose task is the caller (of pid `pid`), if it is making a forwarded
    /// call.
    fn calling_deputy(&self, pid: u32) -> Option<Arc<Deputy>> {
        if !self.serving.may_contain(pid) {
            return None;
        }
        self.deputies
            .lock()
            .iter()
            .find(|d| d.inner.lock().is_calling())
            .cloned()
    }

    // --- Guests --------------------------------------------------------------------------------

    /// The guest of migration `mig_id` of node `home`.
    fn guest(&self, home: u32, mig_id: u32) -> Option<Arc<Guest>> {
        self.guests
            .lock()
            .iter()
            .find(|g| g.home == home && g.mig_id == mig_id)
            .cloned()
    }

    /// Every guest, for work done without the list's lock.
    fn all_guests(&self) -> Result<KVec<Arc<Guest>>> {
        snapshot(&self.guests)
    }

    fn forget_guest(&self, g: &Guest) {
        self.guests
            .lock()
            .retain(|x| !core::ptr::eq::<Guest>(&**x, g));
    }

    /// The restored guest whose task is the caller (of pid `pid`).
    fn running_guest(&self, pid: u32) -> Option<Arc<Guest>> {
        if !self.hosting.may_contain(pid) {
            return None;
        }
        self.guests
            .lock()
            .iter()
            .find(|g| g.inner.lock().is_current())
            .cloned()
    }

    /// `(home, mig_id)` of the guest whose pid on this node is `pid`, if it is one.
    fn guest_route(&self, pid: i32) -> Option<(u32, u32)> {
        let pid = u32::try_from(pid).ok().filter(|&p| p != 0)?;
        self.guests
            .lock()
            .iter()
            .find(|g| g.inner.lock().pid == pid)
            .map(|g| (g.home, g.mig_id))
    }

    /// The pids of the guests on this node (those that have one yet).
    pub(crate) fn guest_pids(&self) -> KVec<i32> {
        let mut v = KVec::new();
        for g in self.guests.lock().iter() {
            let pid = g.inner.lock().pid as i32;
            if pid > 0 && v.push(pid, GFP_KERNEL).is_err() {
                break;
            }
        }
        v
    }

    /// Whether guests run here (the hooks then hide them from the host's processes).
    fn hosts_guests(&self) -> bool {
        !self.hosting.is_empty()
    }

    // --- Frames out ----------------------------------------------------------------------------

    /// Tells `node` that migration `mig_id` failed with `e` (a `MigResult` with no guest); with
    /// `wait`, waits for room in the connection's queue.
    fn report_failure(&self, node: u32, mig_id: u32, e: Error, wait: bool) {
        let r = MigResult {
            mig_id,
            result: e.to_errno(),
            guest_pid: 0,
        };
        let _ = self
            .mesh
            .send_to(node, MessageKind::MigResult, &r.encode(), wait);
    }

    /// Sends signal `sig` to the guest of migration `mig_id` on `node` (SIGKILL also gives up
    /// an image in transit); with `wait`, waits for room in the connection's queue.
    fn send_signal(&self, node: u32, mig_id: u32, sig: u32, wait: bool) {
        let _ = self.try_send_signal(node, mig_id, sig, wait);
    }

    /// Sends signal `sig` as [`Migrations::send_signal`] does, and says whether the frame was
    /// queued.
    fn try_send_signal(&self, node: u32, mig_id: u32, sig: u32, wait: bool) -> Result {
        self.try_send_signal_from(node, mig_id, sig, None, wait)
    }

    /// Sends signal `sig` with the `siginfo` `from` it had at home (none: the module's own), as
    /// [`Migrations::try_send_signal`].
    fn try_send_signal_from(
        &self,
        node: u32,
        mig_id: u32,
        sig: u32,
        from: Option<mig::SigInfo>,
        wait: bool,
    ) -> Result {
        let p = Pair {
            mig_id,
            value: sig,
            from,
        };
        let (b, n) = p.encode();
        self.mesh
            .send_to(node, MessageKind::GuestSignal, &b[..n], wait)
    }

    /// Sends signal `sig` to `dep`'s guest, as [`Migrations::send_signal`] does.
    fn signal_guest(&self, dep: &Deputy, sig: u32, wait: bool) {
        self.send_signal(dep.target(), dep.mig_id(), sig, wait);
    }

    /// Sends signal `sig` with the `siginfo` `from` to `dep`'s guest as
    /// [`Migrations::signal_guest`] does, and says whether the frame was queued.
    fn try_signal_guest_from(
        &self,
        dep: &Deputy,
        sig: u32,
        from: Option<mig::SigInfo>,
        wait: bool,
    ) -> Result {
        self.try_send_signal_from(dep.target(), dep.mig_id(), sig, from, wait)
    }

    /// Sends the host of migration `mig_id` the home's verdict on its guest's move.
    fn send_verdict(&self, host: u32, mig_id: u32, result: i32, wait: bool) {
        let v = mig::Ctl::Verdict { mig_id, result };
        let _ = self
            .mesh
            .send_to(host, MessageKind::MigCtl, &v.encode(), wait);
    }

    /// Asks `home` to move its guest `mig_id`, running here, to `target` (0: home); with
    /// `wait`, waits for room in the connection's queue.
    pub(crate) fn ask_move(&self, home: u32, mig_id: u32, target: u32, wait: bool) -> Result {
        let c = mig::Ctl::Move { mig_id, target };
        self.mesh
            .send_to(home, MessageKind::MigCtl, &c.encode(), wait)
    }

    // --- Hooks and lifecycle -------------------------------------------------------------------

    /// Registers the system-call hooks if they are not.
    fn ensure_hooks(self: &Arc<Self>) -> Result {
        let mut h = self.hooks.lock();
        if h.is_none() {
            let hook = Arc::new(Hook(self.clone()), GFP_KERNEL)?;
            *h = Some(Hooks::register(hook).inspect_err(|e| {
                pr_err!("cannot hook system calls: error {}\n", e.to_errno());
            })?);
        }
        Ok(())
    }

    /// Unregisters the system-call hooks when no guest runs and no deputy serves.
    fn drop_hooks_if_idle(&self) {
        let mut h = self.hooks.lock();
        if h.is_some() && self.hosting.is_empty() && self.serving.is_empty() {
            // Under the lock: a guest or deputy starting now waits for the new registration.
            drop(h.take());
        }
    }

    /// Periodic work of the `omx-mig` thread: deputies that ended, guests that ended or lost
    /// their home, idle hooks.
    pub(crate) fn watch(&self) {
        self.watch_deputies();
        self.prune_saves();
        self.drop_hooks_if_idle();
        self.watch_guests();
    }

    /// On module removal: kill every guest, unhook.
    pub(crate) fn shutdown(&self) {
        drop(self.hooks.lock().take());
        for g in self.guests.lock().iter() {
            g.inner.lock().give_up();
            g.cv.notify_all();
        }
    }

    // --- Views ---------------------------------------------------------------------------------

    /// `/proc/openmosix/migrate` read: one line per migrating process and guest.
    pub(crate) fn show(&self, out: &mut impl Write) -> core::fmt::Result {
        writeln!(out, "# pid where state")?;
        for d in self.deputies.lock().iter() {
            let (where_, state) = match d.state() {
                _ if d.inner.lock().reviving => (d.target(), "restarting"),
                DeputyState::Sending => (d.target(), "migrating"),
                DeputyState::Remote(_) => (d.target(), "remote"),
                DeputyState::Failed(_) => (0, "failed"),
                DeputyState::Exited(_) => (d.target(), "exited"),
            };
            writeln!(out, "{} {} {}", d.pid, where_, state)?;
        }
        for g in self.guests.lock().iter() {
            let q = g.inner.lock();
            writeln!(out, "{} guest-of {} home-pid {}", q.pid, g.home, q.home_pid)?;
        }
        self.show_revived(out)
    }

    /// Records how a move of a process of this node ended (its `seq` is set here).
    fn record_move(&self, mut o: Outcome) {
        let mut log = self.moves.lock();
        o.seq = log.next;
        let slot = (log.next % moves::KEPT as u64) as usize;
        log.ring[slot] = Some(o);
        log.next += 1;
    }

    /// `/proc/openmosix/moves` read: the outcomes kept, the oldest first.
    pub(crate) fn show_moves(&self, out: &mut impl Write) -> core::fmt::Result {
        writeln!(out, "{}", moves::HEADER)?;
        let log = self.moves.lock();
        for seq in log.next.saturating_sub(moves::KEPT as u64)..log.next {
            if let Some(o) = log.ring[(seq % moves::KEPT as u64) as usize] {
                o.write_to(out)?;
            }
        }
        Ok(())
    }

    /// For the balancer: the pids of this node's deputies, and of guests that are not simply
    /// running (arriving, departing), which it must leave alone, and the running guests as
    /// `(pid, home, mig_id)`.
    pub(crate) fn balance_view(
        &self,
        deputies: &mut KVec<i32>,
        skip: &mut KVec<i32>,
        guests: &mut KVec<(i32, u32, u32)>,
    ) -> Result {
        for d in self.deputies.lock().iter() {
            deputies.push(d.pid, GFP_KERNEL)?;
        }
        for g in self.guests.lock().iter() {
            let q = g.inner.lock();
            let pid = q.pid as i32;
            if q.state == GuestState::Running && q.hooked() {
                guests.push((pid, g.home, g.mig_id), GFP_KERNEL)?;
            } else if pid != 0 {
                skip.push(pid, GFP_KERNEL)?;
            }
        }
        Ok(())
    }

    /// Whether a migration in or out of this node, or a move of one of its guests, is under
    /// way (the loads the balancer sees do not show it yet).
    pub(crate) fn busy(&self) -> bool {
        let deps = self.deputies.lock().iter().any(|d| {
            let i = d.inner.lock();
            i.state == DeputyState::Sending || i.hop.is_some()
        });
        deps || self.guests.lock().iter().any(|g| {
            matches!(
                g.inner.lock().state,
                GuestState::Arriving | GuestState::Departing
            )
        })
    }
}

/// The outcomes of the latest moves, in a ring: outcome number `seq` is at `seq % KEPT` until
/// `KEPT` newer ones came.
struct MoveLog {
    /// The number of the next outcome.
    next: u64,
    ring: [Option<Outcome>; moves::KEPT],
}

/// The outcome of a move of process `pid` from node `from` to node `to`, asked by the task of
/// pid `asked_by`, that succeeded, with no figures: the caller sets what it knows.
fn moved(pid: i32, from: u32, to: u32, asked_by: u32) -> Outcome {
    Outcome {
        seq: 0,
        pid: pid as u32,
        from,
        to,
        error: 0,
        kib: None,
        frozen_ms: None,
        asked_by,
    }
}

/// The errno of a failure, as an outcome holds it (positive).
fn errno_of(e: i32) -> u32 {
    e.unsigned_abs()
}

/// A copy of the list behind `list`, taken under its lock.
fn snapshot<T>(list: &Mutex<KVec<Arc<T>>>) -> Result<KVec<Arc<T>>> {
    let l = list.lock();
    let mut v = KVec::with_capacity(l.len(), GFP_KERNEL)?;
    for x in l.iter() {
        v.push(x.clone(), GFP_KERNEL)?;
    }
    Ok(v)
}
