// SPDX-License-Identifier: GPL-2.0

//! Process migration: capture at home, transfer over the mesh, restore on the host, the deputy
//! that stays home, and the guests a node hosts. See `Documentation/migration.md`.
//!
//! Home side: a write of `PID NODE` to `/proc/openmosix/migrate` checks the process and queues
//! task work on it. In the process's own context, on its way back to user mode, the work
//! captures registers, FPU state, memory areas, pages and signal state as image records and
//! streams them to the target in `MigImage` frames, then waits for the target's `MigResult`.
//! If the guest runs, the process becomes its *deputy*: it gives up its user memory, forwards the
//! signals it receives to the guest, and ends with the guest's wait status. If not, it goes on at
//! home as if nothing happened.
//!
//! Host side: the first frame of an image makes a guest slot and starts the guest stub
//! (`/lib/openmosix/omx-guest`, the `omctl` binary) as a user-mode helper. The stub puts its vDSO
//! where the image had it (read from `/proc/openmosix/guest`), then writes `restore` there: in
//! that write, in the stub's own context, the module replaces the stub's memory with the image's,
//! checking every record first, and sets registers, FPU state and signal state for the return to
//! user mode. The stub drops every privilege: guests run as `nobody`. The `omx-mig` thread
//! reports ended guests to their home and kills guests whose home went down.
//!
//! Moves of a running guest are decided at home: `MigCtl Depart` makes the host capture the
//! guest (same capture, in the guest's context) and stream it to the target, which answers the
//! home; the home switches its deputy over and sends the old host its verdict. When the target is
//! the home itself, the deputy restores the image into itself (the same checked restore) and
//! returns to user mode as the process.

use crate::cluster::Cluster;
use crate::ksys::errno::{ebadmsg, ecanceled, ehostunreach, enosys, enotconn};
use crate::ksys::sys::now_ms;
use crate::ksys::task::{self, cur, ModuleRef, Task};
use crate::ksys::thread;
use crate::ksys::trace::{Hooks, SyscallHook};
use crate::ksys::{cstr_fmt, Disp};
use crate::omcore::frame::MessageKind;
use crate::omcore::fwd;
use crate::omcore::image::{
    self, Begin, ImageReader, Kind, Record, RecordHeader, VmaKind, NREGS, PAGE_SIZE,
    RECORD_HEADER_LEN,
};
use crate::omcore::mig::{self, MigResult, Pair, Records, MAX_CHUNK};
use crate::omcore::syscalls;
use core::fmt::Write;
use core::sync::atomic::{AtomicU32, Ordering::Relaxed};
use kernel::prelude::*;
use kernel::sync::{new_condvar, new_mutex, Arc, CondVar, Mutex};
use kernel::time::msecs_to_jiffies;

/// The guest stub a host starts for each incoming process.
pub(crate) const STUB_PATH: &CStr = c"/lib/openmosix/omx-guest";
/// User and group guests run as on their host.
const NOBODY: u32 = 65534;
/// Most image bytes waiting for a guest's restore before the sender is held back.
const GUEST_QUEUE_BYTES: usize = 4 << 20;
/// Pages per `Pages` record.
const PAGES_PER_RECORD: usize = 64;
/// How long a home waits for the host's answer, and a guest slot for its image, in ms.
const ANSWER_MS: u64 = 30_000;
/// Poll period of waits that also watch for a dead peer, in ms.
const POLL_MS: u32 = 100;
/// How long a guest waits for its home to take it back before a call that needs home fails
/// with `EAGAIN` (and how long such calls keep failing after), in ms.
const HOME_RETRY_MS: u64 = 5000;

/// Stay reasons (openMosix's): why a process cannot leave its node.
const STAY_REASONS: [(u32, &str); 9] = [
    (1 << 0, "kernel thread"),
    (1 << 1, "init"),
    (1 << 2, "threads or shared memory (CLONE_VM)"),
    (1 << 3, "real-time scheduling"),
    (1 << 4, "no user memory"),
    (1 << 5, "exiting"),
    (1 << 6, "locked memory (mlock)"),
    (1 << 7, "shared writable or device mapping"),
    (1 << 8, "already migrating or remote"),
];

/// Writes the names of the stay bits in `bits`.
fn write_reasons(out: &mut impl Write, bits: u32) -> core::fmt::Result {
    let mut first = true;
    for (b, name) in STAY_REASONS {
        if bits & b != 0 {
            write!(out, "{}{}", if first { "" } else { ", " }, name)?;
            first = false;
        }
    }
    Ok(())
}

/// Where a migration of a home process stands.
#[derive(Clone, Copy, PartialEq, Eq)]
enum DepState {
    /// Image on its way; no answer yet.
    Sending,
    /// The guest runs on the target with this pid there.
    Remote(u32),
    /// The target refused or failed (negative errno).
    Failed(i32),
    /// The guest ended with this wait status.
    Exited(u32),
}

/// A home process that is migrating or whose guest runs elsewhere.
#[pin_data]
struct Deputy {
    pid: i32,
    /// The migration's current name and the guest's node: both change when the guest moves on
    /// (under the deputies' list lock, so that a lookup sees both or neither).
    mig_id: AtomicU32,
    target: AtomicU32,
    #[pin]
    state: Mutex<DepState>,
    /// Forwarded calls and the one being made.
    #[pin]
    io: Mutex<DepIo>,
    #[pin]
    cv: CondVar,
}

impl Deputy {
    /// The migration's current name.
    fn mig_id(&self) -> u32 {
        self.mig_id.load(Relaxed)
    }

    /// The node the guest runs on.
    fn target(&self) -> u32 {
        self.target.load(Relaxed)
    }
}

/// The deputy's side of forwarded calls.
struct DepIo {
    /// Requests from the guest, checked, oldest first.
    reqs: KVec<KVec<u8>>,
    /// The call the deputy is making in user mode, if any.
    exec: Option<Exec>,
    /// The deputy task, once it serves.
    task: Option<Task>,
    /// Start of the deputy's scratch memory: the trampoline page, then data.
    scratch: u64,
    /// Holds the module while the deputy serves (its code runs in the deputy).
    module: Option<ModuleRef>,
    /// The guest is moving on (or home), if it is.
    hop: Option<Hop>,
    /// The image of a guest coming home, as it comes.
    inflow: Option<Inflow>,
}

/// A move of a running guest, asked of its host and not answered yet.
#[derive(Clone, Copy)]
struct Hop {
    /// Where the guest goes, and the migration's name there.
    target: u32,
    mig_id: u32,
    /// The target is this node: the guest comes home.
    home: bool,
    since: u64,
}

/// A forwarded call being made by the deputy.
struct Exec {
    seq: u32,
    nr: u32,
    /// The guest's arguments (pointers as the guest has them).
    args: [u64; 6],
    /// Where each output argument's buffer is in scratch memory, and its length.
    outs: [Option<(u64, usize)>; 6],
}

/// A guest's slot: its image until restored, then the running guest.
struct GuestQueue {
    /// The image, as it comes.
    img: Inflow,
    /// Its head records, once the stub asked where its vDSO goes; the restore takes them.
    head: Option<Head>,
    /// The process's pid at home, once restored.
    home_pid: u32,
    /// The stub task, once it started.
    task: Option<Task>,
    /// The restore finished (successfully or not).
    restored: bool,
    /// The home gave up, the restore failed, or the guest moved on: stop, report nothing.
    aborted: bool,
    /// Pid of the guest on this node.
    pid: u32,
    created_ms: u64,
    /// The reply to the guest's forwarded call, when it came.
    reply: Option<KVec<u8>>,
    /// Counter of the guest's forwarded calls.
    seq: u32,
    /// The guest is moving on: its capture runs or it waits for the home's verdict.
    departing: bool,
    /// The home's verdict on the move (0 or -errno).
    verdict: Option<i32>,
    /// When a move home last failed (ms since boot; 0: never).
    home_failed_ms: u64,
    /// Holds the module while the guest runs (its task work and hooks are module code).
    module: Option<ModuleRef>,
}

/// A process hosted here for another node.
#[pin_data]
struct Guest {
    /// The guest's home node, and the node that sent its image (the home, or its last host).
    home: u32,
    src: u32,
    mig_id: u32,
    #[pin]
    q: Mutex<GuestQueue>,
    #[pin]
    cv: CondVar,
}

/// All migrations of this node.
#[pin_data]
pub(crate) struct Migrations {
    next_id: AtomicU32,
    #[pin]
    deputies: Mutex<KVec<Arc<Deputy>>>,
    #[pin]
    guests: Mutex<KVec<Arc<Guest>>>,
    /// Deputies serving a guest, and guests running here: the system-call hooks do nothing
    /// while both are 0.
    pub(crate) deputies_serving: AtomicU32,
    pub(crate) guests_running: AtomicU32,
    /// The system-call hooks, registered only while a guest runs here or a deputy serves
    /// (registered, they put every system call of the node on the slower traced path).
    #[pin]
    hooks: Mutex<Option<Hooks<Hook>>>,
    /// Migrations in and out, and failures, for `stats`.
    pub(crate) out_ok: AtomicU32,
    pub(crate) out_failed: AtomicU32,
    pub(crate) in_ok: AtomicU32,
    pub(crate) in_failed: AtomicU32,
}

impl Migrations {
    pub(crate) fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            next_id: AtomicU32::new(1),
            deputies_serving: AtomicU32::new(0),
            guests_running: AtomicU32::new(0),
            hooks <- new_mutex!(None),
            deputies <- new_mutex!(KVec::new()),
            guests <- new_mutex!(KVec::new()),
            out_ok: AtomicU32::new(0),
            out_failed: AtomicU32::new(0),
            in_ok: AtomicU32::new(0),
            in_failed: AtomicU32::new(0),
        })
    }

    // --- Home side ----------------------------------------------------------------------------

    /// `/proc/openmosix/migrate`: moves process `pid` to node `target` (0: home).
    pub(crate) fn request(&self, cluster: &Arc<Cluster>, pid: i32, target: u32) -> Result {
        let task = Task::by_pid(pid).ok_or(ESRCH)?;
        if !task.may_be_migrated_by_current() {
            pr_warn!("migrate {}: permission denied\n", pid);
            return Err(EPERM);
        }
        let me = cluster.self_id();
        let dep = self.deputies.lock().iter().find(|d| d.pid == pid).cloned();
        if let Some(dep) = dep {
            // Its guest runs elsewhere: it moves on, or comes home.
            return self.move_guest(cluster, &dep, target);
        }
        if target == 0 || target == me {
            // At home already.
            return Ok(());
        }
        if !cluster.peer_accepts_guests(target) {
            pr_warn!(
                "migrate {}: node {} is not up or refuses guests\n",
                pid,
                target
            );
            return Err(ehostunreach());
        }
        let bits = task.stay_bits();
        if bits != 0 {
            let mut why = KVec::<u8>::new();
            let mut w = ByteWriter(&mut why);
            let _ = write_reasons(&mut w, bits);
            pr_warn!(
                "migrate {}: stays home: {}\n",
                pid,
                core::str::from_utf8(&why).unwrap_or("?")
            );
            return Err(EPERM);
        }
        let module = ModuleRef::get().ok_or(ENODEV)?;
        let dep = Arc::pin_init(
            try_pin_init!(Deputy {
                mig_id: AtomicU32::new(self.next_id.fetch_add(1, Relaxed)),
                pid,
                target: AtomicU32::new(target),
                state <- new_mutex!(DepState::Sending),
                io <- new_mutex!(DepIo {
                    reqs: KVec::new(),
                    exec: None,
                    task: None,
                    scratch: 0,
                    module: None,
                    hop: None,
                    inflow: None,
                }),
                cv <- new_condvar!(),
            }),
            GFP_KERNEL,
        )?;
        self.deputies.lock().push(dep.clone(), GFP_KERNEL)?;
        let c = cluster.clone();
        let d = dep.clone();
        let r = task.queue_work(
            move || {
                let end = deputy_main(&c, &d, module);
                drop((c, d));
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

    /// Moves the guest of `dep` from its host to `target` (0 or this node: home).
    fn move_guest(&self, cluster: &Cluster, dep: &Arc<Deputy>, target: u32) -> Result {
        let me = cluster.self_id();
        let target = if target == 0 { me } else { target };
        let from = dep.target();
        if !matches!(*dep.state.lock(), DepState::Remote(_)) {
            pr_warn!("migrate {}: it is migrating already\n", dep.pid);
            return Err(EBUSY);
        }
        if target == from {
            return Ok(());
        }
        if target != me && !cluster.peer_accepts_guests(target) {
            pr_warn!(
                "migrate {}: node {} is not up or refuses guests\n",
                dep.pid,
                target
            );
            return Err(ehostunreach());
        }
        let hop = Hop {
            target,
            mig_id: self.next_id.fetch_add(1, Relaxed),
            home: target == me,
            since: now_ms(),
        };
        {
            let mut io = dep.io.lock();
            if io.hop.is_some() {
                pr_warn!("migrate {}: it is moving already\n", dep.pid);
                return Err(EBUSY);
            }
            io.hop = Some(hop);
            io.inflow = None;
        }
        let c = mig::Ctl::Depart {
            mig_id: dep.mig_id(),
            target,
            new_mig_id: hop.mig_id,
        };
        if let Err(e) = cluster.send_to(from, MessageKind::MigCtl, &c.encode(), true) {
            dep.io.lock().hop = None;
            return Err(e);
        }
        Ok(())
    }

    fn forget_deputy(&self, dep: &Deputy) {
        self.deputies
            .lock()
            .retain(|d| !core::ptr::eq::<Deputy>(&**d, dep));
    }

    fn deputy(&self, peer: u32, mig_id: u32) -> Option<Arc<Deputy>> {
        self.deputies
            .lock()
            .iter()
            .find(|d| d.target() == peer && d.mig_id() == mig_id)
            .cloned()
    }

    /// `MigResult` from `peer`: the answer to a first migration from here, or to a move of a
    /// guest of this node's (from its target, or from the old host when the capture failed).
    #[inline(never)]
    pub(crate) fn on_result(&self, cluster: &Cluster, peer: u32, payload: &[u8]) -> Result {
        let r = MigResult::decode(payload).map_err(|_| ebadmsg())?;
        if let Some(dep) = self.deputy(peer, r.mig_id) {
            let mut st = dep.state.lock();
            if *st != DepState::Sending {
                return Err(ebadmsg());
            }
            *st = if r.result == 0 {
                DepState::Remote(r.guest_pid)
            } else {
                DepState::Failed(r.result)
            };
            drop(st);
            dep.cv.notify_all();
            return Ok(());
        }
        let moving = self.deputies.lock().iter().find_map(|d| {
            let hop = d.io.lock().hop?;
            let from_host = peer == d.target() && r.result != 0;
            (hop.mig_id == r.mig_id && !hop.home && (peer == hop.target || from_host))
                .then(|| (d.clone(), hop))
        });
        let Some((dep, hop)) = moving else {
            if r.result == 0 {
                // A guest nobody here waits for (its move was given up): it must not run.
                send_signal(cluster, peer, r.mig_id, 9, false);
            }
            return Ok(());
        };
        if r.result != 0 {
            // The target refused or failed, or the old host could not capture the guest.
            give_up_hop(cluster, &dep, Error::from_errno(r.result));
            return Ok(());
        }
        let (old_host, old_id) = (dep.target(), dep.mig_id());
        {
            let _list = self.deputies.lock();
            dep.target.store(hop.target, Relaxed);
            dep.mig_id.store(hop.mig_id, Relaxed);
        }
        *dep.state.lock() = DepState::Remote(r.guest_pid);
        self.out_ok.fetch_add(1, Relaxed);
        pr_info!(
            "process {} moved on from node {} to node {} (pid {} there)\n",
            dep.pid,
            old_host,
            hop.target,
            r.guest_pid
        );
        dep.io.lock().hop = None;
        let v = mig::Ctl::Verdict {
            mig_id: old_id,
            result: 0,
        };
        let _ = cluster.send_to(old_host, MessageKind::MigCtl, &v.encode(), false);
        dep.cv.notify_all();
        Ok(())
    }

    /// `GuestExit` from `peer`.
    #[inline(never)]
    pub(crate) fn on_exit(&self, peer: u32, payload: &[u8]) -> Result {
        let x = Pair::decode_exit(payload).map_err(|_| ebadmsg())?;
        // A guest may end before its home heard the result; an unknown one is stale, not hostile.
        let Some(dep) = self.deputy(peer, x.mig_id) else {
            return Ok(());
        };
        *dep.state.lock() = DepState::Exited(x.value);
        dep.cv.notify_all();
        Ok(())
    }

    // --- Host side ----------------------------------------------------------------------------

    fn guest(&self, home: u32, mig_id: u32) -> Option<Arc<Guest>> {
        self.guests
            .lock()
            .iter()
            .find(|g| g.home == home && g.mig_id == mig_id)
            .cloned()
    }

    /// `MigImage` from `peer`: a new guest's first records, or more of them; or, when the home
    /// named is this node, a process of this node coming back.
    #[inline(never)]
    pub(crate) fn on_image(&self, cluster: &Cluster, peer: u32, payload: &[u8]) -> Result {
        let (home, mig_id, part) = mig::decode_image(payload).map_err(|_| ebadmsg())?;
        if home == cluster.self_id() {
            return self.on_image_home(peer, mig_id, part);
        }
        let g = match self.guest(home, mig_id) {
            Some(g) if g.src == peer => g,
            Some(_) => return Err(ebadmsg()),
            None => {
                let first = RecordHeader::decode(part).map_err(|_| ebadmsg())?;
                if first.kind != Kind::Begin {
                    // The rest of an image whose guest was given up: drop it.
                    return Ok(());
                }
                return self.new_guest(cluster, peer, home, mig_id, part);
            }
        };
        let mut q = g.q.lock();
        while q.img.bytes > GUEST_QUEUE_BYTES && !q.aborted && !thread::should_stop() {
            let _ =
                g.cv.wait_interruptible_timeout(&mut q, msecs_to_jiffies(POLL_MS));
        }
        if q.aborted || q.restored {
            return Ok(());
        }
        q.img.push(part)?;
        drop(q);
        g.cv.notify_all();
        Ok(())
    }

    /// `MigImage` from `peer` for a process of this node coming home from there.
    fn on_image_home(&self, peer: u32, mig_id: u32, part: &[u8]) -> Result {
        let Some(dep) = self
            .deputies
            .lock()
            .iter()
            .find(|d| d.target() == peer)
            .cloned()
        else {
            return Ok(());
        };
        let me = |io: &DepIo| {
            io.hop
                .as_ref()
                .is_some_and(|h| h.mig_id == mig_id && h.home)
        };
        let mut io = dep.io.lock();
        while me(&io)
            && io
                .inflow
                .as_ref()
                .is_some_and(|i| i.bytes > GUEST_QUEUE_BYTES)
            && !thread::should_stop()
        {
            let _ = dep
                .cv
                .wait_interruptible_timeout(&mut io, msecs_to_jiffies(POLL_MS));
        }
        if !me(&io) {
            // Given up, or not for this deputy: stale.
            return Ok(());
        }
        io.inflow.get_or_insert_with(Inflow::new).push(part)?;
        drop(io);
        dep.cv.notify_all();
        Ok(())
    }

    #[inline(never)]
    fn new_guest(
        &self,
        cluster: &Cluster,
        peer: u32,
        home: u32,
        mig_id: u32,
        part: &[u8],
    ) -> Result {
        let refuse = |errno: Error| {
            self.in_failed.fetch_add(1, Relaxed);
            report_failure(cluster, home, mig_id, errno, false);
            Ok(())
        };
        if cluster.blocks_guests() {
            pr_info!("guest from node {} refused: admin/block is set\n", peer);
            return refuse(EAGAIN);
        }
        if !cluster.peer_up(home) {
            pr_info!(
                "guest from node {} refused: its home, node {}, is not up\n",
                peer,
                home
            );
            return refuse(ehostunreach());
        }
        let mut img = Inflow::new();
        img.push(part)?;
        let g = Arc::pin_init(
            try_pin_init!(Guest {
                home,
                src: peer,
                mig_id,
                q <- new_mutex!(GuestQueue {
                    img,
                    head: None,
                    home_pid: 0,
                    task: None,
                    restored: false,
                    aborted: false,
                    pid: 0,
                    created_ms: now_ms(),
                    reply: None,
                    seq: 0,
                    departing: false,
                    verdict: None,
                    home_failed_ms: 0,
                    module: None,
                }),
                cv <- new_condvar!(),
            }),
            GFP_KERNEL,
        )?;
        self.guests.lock().push(g.clone(), GFP_KERNEL)?;
        let mut arg = [0u8; 24];
        let arg = cstr_fmt(&mut arg, format_args!("{}:{}", home, mig_id));
        let gs = g.clone();
        let mut init = move || -> Result {
            let mut q = gs.q.lock();
            q.pid = Task::current_pid();
            q.task = Some(Task::current());
            Ok(())
        };
        if let Err(e) = task::spawn(STUB_PATH, &[c"omx-guest", arg], &mut init) {
            pr_warn!(
                "guest from node {}: cannot start {}: error {}\n",
                peer,
                STUB_PATH.to_str().unwrap_or("?"),
                e.to_errno()
            );
            self.guests
                .lock()
                .retain(|x| !core::ptr::eq::<Guest>(&**x, &*g));
            return refuse(e);
        }
        Ok(())
    }

    /// The guest slot whose stub is the calling task.
    fn my_guest(&self) -> Option<Arc<Guest>> {
        self.guests
            .lock()
            .iter()
            .find(|g| g.q.lock().task.as_ref().is_some_and(|t| t.is_current()))
            .cloned()
    }

    /// Read of `/proc/openmosix/guest` by a stub: where its vDSO must go.
    #[inline(never)]
    pub(crate) fn stub_info(&self, out: &mut impl Write) -> Result {
        let g = self.my_guest().ok_or(EPERM)?;
        let known = g.q.lock().head.as_ref().map(|h| h.mm[11]);
        let vdso = match known {
            Some(v) => v,
            None => {
                let mut next = || wait_record(&g.q, &g.cv, g.src, guest_inflow);
                let head = read_head(&mut next)?;
                let v = head.mm[11];
                g.q.lock().head = Some(head);
                v
            }
        };
        let _ = writeln!(out, "vdso {:#x}", vdso);
        Ok(())
    }

    /// Write of `restore` to `/proc/openmosix/guest` by a stub: becomes the guest.
    #[inline(never)]
    pub(crate) fn restore(&self, cluster: &Arc<Cluster>) -> Result {
        let g = self.my_guest().ok_or(EPERM)?;
        let r = restore_guest(&g).and_then(|()| {
            // From here the guest counts as running (its exit gives the count back), and its
            // system calls must be hooked before it returns to user mode.
            g.q.lock().module = ModuleRef::get();
            self.guests_running.fetch_add(1, Relaxed);
            self.ensure_hooks(cluster)
        });
        let result = MigResult {
            mig_id: g.mig_id,
            result: match &r {
                Ok(()) => 0,
                Err(e) => e.to_errno(),
            },
            guest_pid: if r.is_ok() { Task::current_pid() } else { 0 },
        };
        {
            let mut q = g.q.lock();
            q.restored = true;
            q.img = Inflow::new();
            if r.is_err() {
                q.aborted = true;
            }
        }
        g.cv.notify_all();
        if cluster
            .send_to(g.home, MessageKind::MigResult, &result.encode(), true)
            .is_err()
        {
            pr_warn!("guest from node {}: home unreachable, killed\n", g.home);
            Task::current().signal(9);
            return Err(enotconn());
        }
        match r {
            Ok(()) => {
                self.in_ok.fetch_add(1, Relaxed);
                Ok(())
            }
            Err(e) => {
                self.in_failed.fetch_add(1, Relaxed);
                pr_warn!(
                    "guest from node {}: restore failed: error {}\n",
                    g.home,
                    e.to_errno()
                );
                // The stub's memory may be gone already: it cannot go on.
                Task::current().signal(9);
                Err(e)
            }
        }
    }

    /// `Syscall` from `peer`: a call for one of this node's deputies.
    pub(crate) fn on_syscall(&self, cluster: &Cluster, peer: u32, payload: &[u8]) -> Result {
        let r = fwd::Request::decode(payload).map_err(|_| ebadmsg())?;
        let Some(dep) = self.deputy(peer, r.mig_id) else {
            // Its deputy is gone (the process was killed as the call left): stale, not hostile.
            // The guest must not go on without it.
            send_signal(cluster, peer, r.mig_id, 9, false);
            return Ok(());
        };
        let mut v = KVec::with_capacity(payload.len(), GFP_KERNEL)?;
        v.extend_from_slice(payload, GFP_KERNEL)?;
        dep.io.lock().reqs.push(v, GFP_KERNEL)?;
        dep.cv.notify_all();
        Ok(())
    }

    /// `SyscallReply` from `peer`: the result of a guest's forwarded call.
    pub(crate) fn on_reply(&self, peer: u32, payload: &[u8]) -> Result {
        let r = fwd::Reply::decode(payload).map_err(|_| ebadmsg())?;
        // A reply for a guest that is gone is stale, not hostile.
        let Some(g) = self.guest(peer, r.mig_id) else {
            return Ok(());
        };
        let mut v = KVec::with_capacity(payload.len(), GFP_KERNEL)?;
        v.extend_from_slice(payload, GFP_KERNEL)?;
        g.q.lock().reply = Some(v);
        g.cv.notify_all();
        Ok(())
    }

    /// The running guest whose task is the caller.
    fn running_guest(&self) -> Option<Arc<Guest>> {
        self.guests
            .lock()
            .iter()
            .find(|g| {
                let q = g.q.lock();
                q.module.is_some() && q.task.as_ref().is_some_and(|t| t.is_current())
            })
            .cloned()
    }

    /// The pids of the guests on this node (those that have one yet).
    pub(crate) fn guest_pids(&self) -> KVec<i32> {
        let mut v = KVec::new();
        for g in self.guests.lock().iter() {
            let pid = g.q.lock().pid as i32;
            if pid > 0 && v.push(pid, GFP_KERNEL).is_err() {
                break;
            }
        }
        v
    }

    /// The serving deputy whose task is the caller, if it is making a forwarded call.
    fn calling_deputy(&self) -> Option<Arc<Deputy>> {
        self.deputies
            .lock()
            .iter()
            .find(|d| {
                let io = d.io.lock();
                io.exec.is_some() && io.task.as_ref().is_some_and(|t| t.is_current())
            })
            .cloned()
    }

    /// `GuestSignal` from `peer`: signal a guest (or, before it runs, give it up).
    #[inline(never)]
    pub(crate) fn on_signal(&self, peer: u32, payload: &[u8]) -> Result {
        let x = Pair::decode_signal(payload).map_err(|_| ebadmsg())?;
        let Some(g) = self.guest(peer, x.mig_id) else {
            return Ok(());
        };
        let mut q = g.q.lock();
        if !q.restored {
            q.aborted = true;
            if let Some(t) = &q.task {
                t.signal(9);
            }
        } else if let Some(t) = &q.task {
            t.signal(x.value);
        }
        drop(q);
        g.cv.notify_all();
        Ok(())
    }

    /// `MigCtl` from `peer`: see [`mig::Ctl`].
    #[inline(never)]
    pub(crate) fn on_ctl(&self, cluster: &Arc<Cluster>, peer: u32, payload: &[u8]) -> Result {
        match mig::Ctl::decode(payload).map_err(|_| ebadmsg())? {
            mig::Ctl::Depart {
                mig_id,
                target,
                new_mig_id,
            } => {
                // From the guest's home only: `guest` looks it up by home.
                let refuse = |e: Error| {
                    report_failure(cluster, peer, new_mig_id, e, false);
                    Ok(())
                };
                let Some(g) = self.guest(peer, mig_id) else {
                    return refuse(ESRCH);
                };
                let task = {
                    let mut q = g.q.lock();
                    let runs = q.restored && !q.aborted && q.module.is_some() && !q.departing;
                    match q.task.clone() {
                        Some(t) if runs => {
                            q.departing = true;
                            q.verdict = None;
                            t
                        }
                        _ => {
                            drop(q);
                            return refuse(EBUSY);
                        }
                    }
                };
                let (c, gg) = (cluster.clone(), g.clone());
                let queued = task.queue_work(
                    move || {
                        let end = guest_depart(&c, &gg, target, new_mig_id);
                        drop((c, gg));
                        if end {
                            // Moved on: it ends here without a word to its home.
                            cur::exit(0);
                        }
                    },
                    true,
                );
                if queued.is_err() {
                    g.q.lock().departing = false;
                    return refuse(ESRCH);
                }
                Ok(())
            }
            mig::Ctl::Verdict { mig_id, result } => {
                if let Some(g) = self.guest(peer, mig_id) {
                    let mut q = g.q.lock();
                    if q.departing {
                        q.verdict = Some(result);
                    }
                    drop(q);
                    g.cv.notify_all();
                }
                Ok(())
            }
            mig::Ctl::Move { mig_id, target } => {
                // A host asks that a guest of this node's leave it (its `admin/expel`).
                if let Some(dep) = self.deputy(peer, mig_id) {
                    let _ = self.move_guest(cluster, &dep, target);
                }
                Ok(())
            }
        }
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
            let q = g.q.lock();
            let pid = q.pid as i32;
            if q.restored && !q.aborted && !q.departing && q.module.is_some() {
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
        let deps = self
            .deputies
            .lock()
            .iter()
            .any(|d| *d.state.lock() == DepState::Sending || d.io.lock().hop.is_some());
        deps || self.guests.lock().iter().any(|g| {
            let q = g.q.lock();
            !q.restored || q.departing
        })
    }

    /// Asks `home` to move its guest `mig_id`, running here, to `target` (0: home); with
    /// `wait`, waits for room in the connection's queue.
    pub(crate) fn ask_move(
        &self,
        cluster: &Cluster,
        home: u32,
        mig_id: u32,
        target: u32,
        wait: bool,
    ) -> Result {
        let c = mig::Ctl::Move { mig_id, target };
        cluster.send_to(home, MessageKind::MigCtl, &c.encode(), wait)
    }

    /// `admin/bring`: every process of this node running elsewhere comes home.
    pub(crate) fn bring_all(&self, cluster: &Cluster) -> Result {
        let deps: KVec<Arc<Deputy>> = {
            let l = self.deputies.lock();
            let mut v = KVec::with_capacity(l.len(), GFP_KERNEL)?;
            for d in l.iter() {
                v.push(d.clone(), GFP_KERNEL)?;
            }
            v
        };
        for d in deps.iter() {
            if matches!(*d.state.lock(), DepState::Remote(_)) {
                let _ = self.move_guest(cluster, d, 0);
            }
        }
        Ok(())
    }

    /// `admin/expel`: every guest of this node is asked to go home.
    pub(crate) fn expel_all(&self, cluster: &Cluster) -> Result {
        let mut asks: KVec<(u32, u32)> = KVec::new();
        for g in self.guests.lock().iter() {
            let q = g.q.lock();
            if q.restored && !q.aborted {
                asks.push((g.home, g.mig_id), GFP_KERNEL)?;
            }
        }
        for &(home, mig_id) in asks.iter() {
            let _ = self.ask_move(cluster, home, mig_id, 0, true);
        }
        Ok(())
    }

    /// Periodic work of the `omx-mig` thread: report ended guests, kill orphans, drop stale
    /// slots.
    pub(crate) fn watch(&self, cluster: &Cluster) {
        self.watch_deputies(cluster);
        self.drop_hooks_if_idle();
        let now = now_ms();
        let guests: KVec<Arc<Guest>> = {
            let l = self.guests.lock();
            let mut v = KVec::new();
            for g in l.iter() {
                let _ = v.push(g.clone(), GFP_KERNEL);
            }
            v
        };
        for g in guests.iter() {
            let mut q = g.q.lock();
            let home_up = cluster.peer_up(g.home);
            let mut done = false;
            let exited = q.task.as_ref().map(|t| t.exit_code());
            if let Some(exit) = exited {
                if let Some(code) = exit {
                    if q.module.take().is_some() {
                        self.guests_running.fetch_sub(1, Relaxed);
                    }
                    if !q.restored && !q.aborted {
                        // The stub ended before the restore: the home must not wait for it.
                        pr_warn!(
                            "guest from node {}: stub ended with status {:#x}\n",
                            g.home,
                            code
                        );
                        report_failure(cluster, g.home, g.mig_id, ECHILD, false);
                        self.in_failed.fetch_add(1, Relaxed);
                    } else if q.restored && !q.aborted {
                        let p = Pair {
                            mig_id: g.mig_id,
                            value: code & 0xffff,
                        };
                        let _ = cluster.send_to(g.home, MessageKind::GuestExit, &p.encode(), false);
                    }
                    done = true;
                } else if !home_up && !q.aborted {
                    pr_warn!("guest from node {} killed: its home is down\n", g.home);
                    q.aborted = true;
                    if let Some(t) = &q.task {
                        t.signal(9);
                    }
                }
            } else if !home_up || now.saturating_sub(q.created_ms) > ANSWER_MS {
                done = true;
            }
            drop(q);
            if done {
                self.guests
                    .lock()
                    .retain(|x| !core::ptr::eq::<Guest>(&**x, &**g));
            }
            g.cv.notify_all();
        }
    }

    /// A deputy that ended without going through its own end (killed while making a forwarded
    /// call in user mode) takes its guest with it, and gives back its module reference.
    fn watch_deputies(&self, cluster: &Cluster) {
        let mut gone: KVec<Arc<Deputy>> = KVec::new();
        for d in self.deputies.lock().iter() {
            let ended = d.io.lock().task.as_ref().and_then(|t| t.exit_code());
            if ended.is_some() {
                let _ = gone.push(d.clone(), GFP_KERNEL);
            }
        }
        for d in gone.iter() {
            let code = d.io.lock().task.as_ref().and_then(|t| t.exit_code());
            pr_warn!(
                "process {}: deputy ended (status {:#x}) while its guest ran on node {}: guest killed\n",
                d.pid,
                code.unwrap_or(0),
                d.target()
            );
            signal_guest(cluster, d, 9, false);
            self.deputies_serving.fetch_sub(1, Relaxed);
            let module = d.io.lock().module.take();
            self.forget_deputy(d);
            drop(module);
        }
    }

    /// Registers the system-call hooks if they are not.
    fn ensure_hooks(&self, cluster: &Arc<Cluster>) -> Result {
        let mut h = self.hooks.lock();
        if h.is_none() {
            let hook = Arc::new(Hook(cluster.clone()), GFP_KERNEL)?;
            *h = Some(Hooks::register(hook).inspect_err(|e| {
                pr_err!("cannot hook system calls: error {}\n", e.to_errno());
            })?);
        }
        Ok(())
    }

    /// Unregisters the system-call hooks when no guest runs and no deputy serves.
    fn drop_hooks_if_idle(&self) {
        let mut h = self.hooks.lock();
        if h.is_some()
            && self.guests_running.load(Relaxed) == 0
            && self.deputies_serving.load(Relaxed) == 0
        {
            // Under the lock: a guest or deputy starting now waits for the new registration.
            drop(h.take());
        }
    }

    /// On module removal: kill every guest, unhook.
    pub(crate) fn shutdown(&self) {
        drop(self.hooks.lock().take());
        for g in self.guests.lock().iter() {
            let mut q = g.q.lock();
            q.aborted = true;
            if let Some(t) = &q.task {
                t.signal(9);
            }
            drop(q);
            g.cv.notify_all();
        }
    }

    /// `/proc/openmosix/migrate` read: one line per migrating process and guest.
    pub(crate) fn show(&self, out: &mut impl Write) -> core::fmt::Result {
        writeln!(out, "# pid where state")?;
        for d in self.deputies.lock().iter() {
            let (where_, state) = match *d.state.lock() {
                DepState::Sending => (d.target(), "migrating"),
                DepState::Remote(_) => (d.target(), "remote"),
                DepState::Failed(_) => (0, "failed"),
                DepState::Exited(_) => (d.target(), "exited"),
            };
            writeln!(out, "{} {} {}", d.pid, where_, state)?;
        }
        for g in self.guests.lock().iter() {
            let q = g.q.lock();
            writeln!(out, "{} guest-of {} home-pid {}", q.pid, g.home, q.home_pid)?;
        }
        Ok(())
    }
}

/// Appends formatted text to a byte vector (what does not fit is dropped).
struct ByteWriter<'a>(&'a mut KVec<u8>);

impl Write for ByteWriter<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.0
            .extend_from_slice(s.as_bytes(), GFP_KERNEL)
            .map_err(|_| core::fmt::Error)
    }
}

// --- Capture (home, in the migrating process) -------------------------------------------------

/// Where an image goes and what it is called.
struct Dest {
    target: u32,
    home: u32,
    mig_id: u32,
    /// The process's pid at home.
    home_pid: u32,
}

/// Builds `MigImage` frames of whole records and sends each when full.
struct ImageSender<'a> {
    cluster: &'a Cluster,
    target: u32,
    /// `mig_id`, then the records of the frame being filled.
    buf: KVec<u8>,
}

impl<'a> ImageSender<'a> {
    fn new(cluster: &'a Cluster, to: &Dest) -> Result<Self> {
        let mut buf = KVec::with_capacity(mig::IMAGE_PREFIX + MAX_CHUNK, GFP_KERNEL)?;
        buf.extend_from_slice(&mig::image_prefix(to.home, to.mig_id), GFP_KERNEL)?;
        let target = to.target;
        Ok(Self {
            cluster,
            target,
            buf,
        })
    }

    /// Adds a record whose body is the concatenation of `parts`.
    fn record(&mut self, kind: Kind, parts: &[&[u8]]) -> Result {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        if self.buf.len() + RECORD_HEADER_LEN + len > mig::IMAGE_PREFIX + MAX_CHUNK {
            self.flush()?;
        }
        let h = RecordHeader {
            kind,
            len: len as u32,
        };
        self.buf.extend_from_slice(&h.encode(), GFP_KERNEL)?;
        for p in parts {
            self.buf.extend_from_slice(p, GFP_KERNEL)?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result {
        if self.buf.len() > mig::IMAGE_PREFIX {
            self.cluster
                .send_to(self.target, MessageKind::MigImage, &self.buf, true)?;
            self.buf.truncate(mig::IMAGE_PREFIX);
        }
        Ok(())
    }
}

/// Everything the deputy does, in the migrating process's own context.
#[inline(never)]
fn deputy_main(cluster: &Arc<Cluster>, dep: &Arc<Deputy>, module: ModuleRef) -> Option<Ending> {
    let mig = &cluster.mig;
    let t0 = now_ms();
    let to = Dest {
        target: dep.target(),
        home: cluster.self_id(),
        mig_id: dep.mig_id(),
        home_pid: dep.pid as u32,
    };
    let captured = capture(cluster, &to, None);
    if let Err(e) = captured {
        pr_warn!(
            "migrate {} to node {}: capture failed: error {}; it stays home\n",
            dep.pid,
            dep.target(),
            e.to_errno()
        );
        // Tell the target to drop what it got.
        signal_guest(cluster, dep, 9, false);
        mig.out_failed.fetch_add(1, Relaxed);
        mig.forget_deputy(dep);
        return None;
    }
    let pages = captured.unwrap_or(0);
    // Wait for the answer.
    let sent = now_ms();
    loop {
        let st = *dep.state.lock();
        match st {
            DepState::Sending => {
                if !cluster.peer_up(dep.target()) || now_ms().saturating_sub(sent) > ANSWER_MS {
                    pr_warn!(
                        "migrate {} to node {}: no answer; it stays home\n",
                        dep.pid,
                        dep.target()
                    );
                    signal_guest(cluster, dep, 9, false);
                    mig.out_failed.fetch_add(1, Relaxed);
                    mig.forget_deputy(dep);
                    return None;
                }
                let mut g = dep.state.lock();
                if *g == DepState::Sending {
                    let _ = dep
                        .cv
                        .wait_interruptible_timeout(&mut g, msecs_to_jiffies(POLL_MS));
                }
            }
            DepState::Failed(e) => {
                pr_warn!(
                    "migrate {} to node {}: refused: error {}; it stays home\n",
                    dep.pid,
                    dep.target(),
                    e
                );
                mig.out_failed.fetch_add(1, Relaxed);
                mig.forget_deputy(dep);
                return None;
            }
            DepState::Remote(gpid) => {
                pr_info!(
                    "process {} now runs on node {} (pid {} there; {} KiB of pages, frozen {} ms)\n",
                    dep.pid,
                    dep.target(),
                    gpid,
                    pages * (PAGE_SIZE as u64 / 1024),
                    now_ms().saturating_sub(t0)
                );
                mig.out_ok.fetch_add(1, Relaxed);
                break;
            }
            DepState::Exited(_) => break,
        }
    }
    // The guest runs: this process is its deputy from now on. It keeps no memory of its own
    // but a scratch area where it makes the guest's forwarded calls.
    if let Err(e) = unmap_ordinary_areas() {
        pr_warn!(
            "process {}: its deputy kept some memory: error {}\n",
            dep.pid,
            e.to_errno()
        );
    }
    dep.io.lock().module = Some(module);
    match map_scratch() {
        Ok(base) => {
            let mut io = dep.io.lock();
            io.scratch = base;
            io.task = Some(Task::current());
        }
        Err(e) => {
            pr_warn!(
                "process {}: no scratch memory for its deputy: error {}\n",
                dep.pid,
                e.to_errno()
            );
        }
    }
    mig.deputies_serving.fetch_add(1, Relaxed);
    if mig.ensure_hooks(cluster).is_err() {
        // Without hooks the deputy cannot make forwarded calls: the guest must go.
        signal_guest(cluster, dep, 9, false);
        return Some(deputy_end(cluster, dep, 9));
    }
    deputy_serve(cluster, dep)
}

/// Size of the deputy's scratch memory after its trampoline page.
const SCRATCH_DATA: u64 = 2 << 20;

/// Maps the deputy's scratch memory: a page with `syscall; ud2`, then data and a stack.
fn map_scratch() -> Result<u64> {
    let code = cur::map_anywhere(
        PAGE_SIZE as u64 + SCRATCH_DATA,
        image::PROT_READ | image::PROT_WRITE,
    )?;
    // The trampoline page is read-only and executable: remapped so, then written by force.
    cur::unmap(code, PAGE_SIZE as u64)?;
    cur::map_anon(
        code,
        PAGE_SIZE as u64,
        image::PROT_READ | image::PROT_EXEC,
        false,
    )?;
    cur::write_user(code, &[0x0f, 0x05, 0x0f, 0x0b])?;
    Ok(code)
}

/// Tells `node` that migration `mig_id` failed with `e` (a `MigResult` with no guest); with
/// `wait`, waits for room in the connection's queue.
fn report_failure(cluster: &Cluster, node: u32, mig_id: u32, e: Error, wait: bool) {
    let r = MigResult {
        mig_id,
        result: e.to_errno(),
        guest_pid: 0,
    };
    let _ = cluster.send_to(node, MessageKind::MigResult, &r.encode(), wait);
}

/// Sends signal `sig` to `dep`'s guest (SIGKILL also gives up an image in transit); with
/// `wait`, waits for room in the connection's queue.
fn signal_guest(cluster: &Cluster, dep: &Deputy, sig: u32, wait: bool) {
    send_signal(cluster, dep.target(), dep.mig_id(), sig, wait);
}

/// Sends signal `sig` to the guest of migration `mig_id` on `node`, as [`signal_guest`] does.
fn send_signal(cluster: &Cluster, node: u32, mig_id: u32, sig: u32, wait: bool) {
    let p = Pair { mig_id, value: sig };
    let _ = cluster.send_to(node, MessageKind::GuestSignal, &p.encode(), wait);
}

/// How a deputy ends: its wait status, and the module reference it held.
struct Ending {
    status: u32,
    module: Option<ModuleRef>,
}

/// Ends the calling deputy, if `end` says so: last thing the outermost task work does, once
/// it dropped everything it owned (`do_exit` does not return).
fn finish(end: Option<Ending>) {
    if let Some(Ending { status, module }) = end {
        // The reference goes right before the call into the core kernel's `do_exit`: only
        // the call instruction of this module runs after it (as kthreads did before
        // `module_put_and_kthread_exit`).
        drop(module);
        cur::exit(status);
    }
}

/// The deputy stops serving and is to end with wait status `status`.
fn deputy_end(cluster: &Cluster, dep: &Deputy, status: u32) -> Ending {
    let mig = &cluster.mig;
    mig.deputies_serving.fetch_sub(1, Relaxed);
    let module = dep.io.lock().module.take();
    mig.forget_deputy(dep);
    Ending { status, module }
}

/// Serves the guest in the deputy's context: forwards signals, and makes the next forwarded
/// call by returning to user mode at the trampoline (the `sys_exit` hook brings it back to
/// [`deputy_resume`]); takes the process back when its guest comes home. Says how the deputy
/// ends when the guest ended or was lost; `None` to return to user mode.
#[inline(never)]
fn deputy_serve(cluster: &Cluster, dep: &Deputy) -> Option<Ending> {
    // Signals wake the deputy here; they are blocked whenever it is in user mode, at the
    // trampoline, where it has no handlers (see `Hook`).
    cur::block_signals(false);
    loop {
        if let DepState::Exited(s) = *dep.state.lock() {
            return Some(deputy_end(cluster, dep, s));
        }
        if cur::fatal_signal_pending() {
            // A signal whose default action kills (or SIGKILL) was sent to the home pid: the
            // guest dies of the same signal, and so does the deputy.
            let code = match cur::group_exit_code() & 0x7f {
                0 => 9,
                sig => sig,
            };
            signal_guest(cluster, dep, code, false);
            return Some(deputy_end(cluster, dep, code));
        }
        let coming = {
            let io = dep.io.lock();
            io.hop.is_some_and(|h| h.home) && io.inflow.is_some()
        };
        if coming {
            match come_home(cluster, dep) {
                Ok(()) => return None,
                Err(e) => give_up_hop(cluster, dep, e),
            }
            continue;
        }
        check_hop(cluster, dep);
        let held = forward_signals(cluster, dep);
        if !cluster.peer_up(dep.target()) {
            pr_warn!(
                "process {}: node {} went down with its guest: killed\n",
                dep.pid,
                dep.target()
            );
            return Some(deputy_end(cluster, dep, 9));
        }
        let mut io = dep.io.lock();
        if !io.reqs.is_empty() {
            let req = io.reqs.remove(0).unwrap_or_default();
            let scratch = io.scratch;
            drop(io);
            match start_call(&req, scratch) {
                Ok(exec) => {
                    dep.io.lock().exec = Some(exec);
                    // To user mode: the trampoline makes the call. A signal that comes from
                    // now on waits, blocked, and interrupts the call when it starts.
                    cur::block_signals(true);
                    return None;
                }
                Err((seq, e)) => {
                    send_reply(
                        cluster,
                        dep,
                        seq,
                        -i64::from(e.to_errno().unsigned_abs()),
                        &[None; 6],
                    );
                }
            }
            continue;
        }
        if held {
            // Signals wait for the move to end: an interruptible wait would return at once.
            drop(io);
            thread::pause_ms(10);
            continue;
        }
        let _ = dep
            .cv
            .wait_interruptible_timeout(&mut io, msecs_to_jiffies(POLL_MS));
    }
}

/// Gives up a move of the guest that is not answered in time, or whose target went down: the
/// guest stays where it is (its host gets the verdict), a partial image at the target goes.
fn check_hop(cluster: &Cluster, dep: &Deputy) {
    let Some(hop) = dep.io.lock().hop else {
        return;
    };
    let late = now_ms().saturating_sub(hop.since) > ANSWER_MS;
    if late || (!hop.home && !cluster.peer_up(hop.target)) {
        give_up_hop(cluster, dep, ETIMEDOUT);
    }
}

/// Ends the move under way with error `e`: tells the host (its guest goes on) and the target.
fn give_up_hop(cluster: &Cluster, dep: &Deputy, e: Error) {
    let hop = {
        let mut io = dep.io.lock();
        io.inflow = None;
        io.hop.take()
    };
    let Some(hop) = hop else {
        return;
    };
    cluster.mig.out_failed.fetch_add(1, Relaxed);
    pr_warn!(
        "process {}: move from node {} to node {} failed: error {}; it stays on node {}\n",
        dep.pid,
        dep.target(),
        hop.target,
        e.to_errno(),
        dep.target()
    );
    let v = mig::Ctl::Verdict {
        mig_id: dep.mig_id(),
        result: e.to_errno(),
    };
    let _ = cluster.send_to(dep.target(), MessageKind::MigCtl, &v.encode(), true);
    if !hop.home {
        send_signal(cluster, hop.target, hop.mig_id, 9, false);
    }
    dep.cv.notify_all();
}

/// The guest comes home: the deputy replaces its scratch memory with the image its host sends,
/// tells the host to end the guest, and returns to user mode as the process itself. On an
/// error the deputy gets scratch memory again and serves on (the guest goes on remotely).
#[inline(never)]
fn come_home(cluster: &Cluster, dep: &Deputy) -> Result {
    let host = dep.target();
    let t0 = now_ms();
    let mut next = || wait_record(&dep.io, &dep.cv, host, deputy_inflow);
    let head = read_head(&mut next)?;
    if head.begin.home_node != cluster.self_id() || head.begin.home_pid != dep.pid as u32 {
        pr_warn!(
            "process {}: image from node {} is not its own\n",
            dep.pid,
            host
        );
        return Err(EINVAL);
    }
    check_head(&head, host)?;
    if let Err(e) = restore_body(&mut next, &head) {
        // Its memory is gone: serve on with new scratch memory.
        let _ = unmap_ordinary_areas();
        let base = map_scratch();
        dep.io.lock().scratch = *base.as_ref().unwrap_or(&0);
        return Err(e);
    }
    // Nothing can fail any more: the guest must end before the process runs here.
    let v = mig::Ctl::Verdict {
        mig_id: dep.mig_id(),
        result: 0,
    };
    let _ = cluster.send_to(host, MessageKind::MigCtl, &v.encode(), true);
    load_regs(&head.regs, &head.xstate);
    let mig = &cluster.mig;
    mig.in_ok.fetch_add(1, Relaxed);
    pr_info!(
        "process {} is back home from node {} (frozen {} ms)\n",
        dep.pid,
        host,
        now_ms().saturating_sub(t0)
    );
    let module = {
        let mut io = dep.io.lock();
        io.hop = None;
        io.inflow = None;
        io.task = None;
        io.module.take()
    };
    mig.deputies_serving.fetch_sub(1, Relaxed);
    mig.forget_deputy(dep);
    // Module code runs on for a few instructions back to the task-work runner; the module's
    // removal first stops every thread and unhooks, which takes far longer.
    drop(module);
    Ok(())
}

/// Takes every pending signal off the deputy and sends it to the guest. While the guest moves,
/// they wait on the deputy, for the new host (or the old one, if the move fails); says whether
/// some wait. The check and the sends hold `io`, which a move takes to start: so a signal goes
/// out either before the move's `Depart` (the old host has it before it captures the guest, and
/// it travels in the image) or once the move is over, never to a guest that is already captured.
fn forward_signals(cluster: &Cluster, dep: &Deputy) -> bool {
    let io = dep.io.lock();
    if io.hop.is_some() {
        return cur::signal_pending();
    }
    loop {
        let sig = cur::dequeue_signal();
        if sig == 0 {
            break;
        }
        signal_guest(cluster, dep, sig, true);
    }
    drop(io);
    false
}

/// Sets the deputy's registers to make the call of request `req`, its inputs copied to scratch
/// memory. On failure, the request's `seq` and the error to answer.
fn start_call(req: &[u8], scratch: u64) -> core::result::Result<Exec, (u32, Error)> {
    let r = fwd::Request::decode(req).map_err(|_| (0, EINVAL))?;
    if scratch == 0 {
        return Err((r.seq, ENOMEM));
    }
    let spec = fwd::spec(r.nr, &r.args).ok_or((r.seq, enosys()))?;
    let mut args = r.args;
    let mut outs = [None; 6];
    let data = scratch + PAGE_SIZE as u64;
    let mut at = data;
    for (i, a) in spec.iter().enumerate() {
        if *a == fwd::Arg::Int || r.args[i] == 0 {
            continue;
        }
        let len = match (a, r.bufs[i]) {
            (fwd::Arg::Str, Some(b)) => b.len(),
            _ => a.len(&r.args).unwrap_or(0),
        };
        if at + len as u64 > data + SCRATCH_DATA - 64 * 1024 {
            return Err((r.seq, E2BIG));
        }
        if let Some(b) = r.bufs[i] {
            cur::write_user(at, b).map_err(|e| (r.seq, e))?;
        }
        if a.is_output() {
            outs[i] = Some((at, len));
        }
        args[i] = at;
        at = (at + len as u64).next_multiple_of(16);
    }
    let mut pt = cur::regs();
    // ax = nr, then di, si, dx, r10, r8, r9; ip at the trampoline; stack at the scratch top.
    pt[10] = u64::from(r.nr);
    pt[15] = u64::MAX;
    for (reg, v) in [14usize, 13, 12, 7, 9, 8].iter().zip(args.iter()) {
        pt[*reg] = *v;
    }
    pt[image::REG_RIP] = scratch;
    pt[image::REG_EFLAGS] = 0x202;
    pt[image::REG_RSP] = data + SCRATCH_DATA - 16;
    cur::set_regs(&pt);
    Ok(Exec {
        seq: r.seq,
        nr: r.nr,
        args: r.args,
        outs,
    })
}

/// Buffers by argument index, borrowed from `held`.
fn as_bufs(held: &[Option<KVec<u8>>; 6]) -> fwd::Bufs<'_> {
    core::array::from_fn(|i| held[i].as_deref())
}

/// Sends the reply to call `seq`.
fn send_reply(cluster: &Cluster, dep: &Deputy, seq: u32, result: i64, bufs: &fwd::Bufs<'_>) {
    let reply = fwd::Reply {
        mig_id: dep.mig_id(),
        seq,
        result,
        bufs: *bufs,
    };
    let Ok(mut out) = KVec::from_elem(0u8, reply.encoded_len(), GFP_KERNEL) else {
        return;
    };
    if reply.encode(&mut out).is_some() {
        let _ = cluster.send_to(dep.target(), MessageKind::SyscallReply, &out, true);
    }
}

/// Back from a forwarded call the deputy made (task work queued by the `sys_exit` hook): sends
/// the result and the outputs to the guest, then serves on.
fn deputy_resume(cluster: &Cluster, dep: &Deputy) -> Option<Ending> {
    let exec = dep.io.lock().exec.take()?;
    let result = cur::regs()[10] as i64;
    let mut held: [Option<KVec<u8>>; 6] = Default::default();
    let spec = fwd::spec(exec.nr, &exec.args);
    if result >= 0 {
        for (i, o) in exec.outs.iter().enumerate() {
            let Some((addr, len)) = *o else { continue };
            let len = spec.map_or(len, |s| s[i].written(len, result as u64));
            let Ok(mut v) = KVec::from_elem(0u8, len, GFP_KERNEL) else {
                continue;
            };
            if cur::read_user(addr, &mut v).is_ok() {
                held[i] = Some(v);
            }
        }
    }
    // Signals that interrupted the call go to the guest first, so that it sees them with the
    // result (restart or EINTR as at home).
    forward_signals(cluster, dep);
    send_reply(cluster, dep, exec.seq, result, &as_bufs(&held));
    deputy_serve(cluster, dep)
}

/// Unmaps every area of the calling process but the special mappings (vDSO): a deputy keeps
/// none of its memory, a guest stub makes room for the image.
fn unmap_ordinary_areas() -> Result {
    let mut addr = 0;
    while let Some(a) = cur::area_after(addr)? {
        addr = a.end;
        if !a.special {
            cur::unmap(a.start, a.end - a.start)?;
        }
    }
    Ok(())
}

/// Whether an area may not move, with the reason bit.
fn area_refused(a: &cur::Area) -> bool {
    (a.flags & cur::VM_SHARED != 0 && a.flags & cur::VM_WRITE != 0)
        || a.flags & (cur::VM_IO | cur::VM_PFNMAP | cur::VM_LOCKED) != 0
}

/// Adds the `Vma` record of area `a`; returns its protection.
fn send_area(tx: &mut ImageSender<'_>, a: &cur::Area, layout: &[u64; 12]) -> Result<u8> {
    let mut prot = 0u8;
    if a.flags & cur::VM_READ != 0 {
        prot |= image::PROT_READ;
    }
    if a.flags & cur::VM_WRITE != 0 {
        prot |= image::PROT_WRITE;
    }
    if a.flags & cur::VM_EXEC != 0 {
        prot |= image::PROT_EXEC;
    }
    let kind = if a.start <= layout[6] && layout[6] < a.end {
        VmaKind::Stack
    } else if a.start >= layout[4] && a.end <= layout[5].next_multiple_of(PAGE_SIZE as u64) {
        VmaKind::Heap
    } else if !a.path.is_empty() {
        VmaKind::File
    } else {
        VmaKind::Anon
    };
    let (pgoff, path): (u64, &[u8]) = if kind == VmaKind::File {
        (a.pgoff, &a.path)
    } else {
        (0, &[])
    };
    let v = image::Vma {
        start: a.start,
        end: a.end,
        prot,
        kind,
        pgoff,
        path,
    };
    let mut body = KVec::from_elem(0u8, 40 + path.len(), GFP_KERNEL)?;
    let n = v.encode(&mut body);
    tx.record(Kind::Vma, &[&body[..n]])?;
    Ok(prot)
}

/// Adds the signal state (kept off the stack: it is 2 KiB, twice). With `pending`, the
/// signals pending for the task are taken off it into the image (and into `pending`, to raise
/// them again if the move fails); without, they stay for the deputy to forward.
#[inline(never)]
fn capture_signals(tx: &mut ImageSender<'_>, pending: Option<&mut u64>) -> Result {
    let mut s = cur::SigState::new()?;
    cur::signals(&mut s);
    let mut taken = 0u64;
    if let Some(p) = pending {
        loop {
            let sig = cur::dequeue_signal();
            if sig == 0 || sig > 64 {
                break;
            }
            taken |= 1 << (sig - 1);
        }
        *p = taken;
    }
    let mut sig = KBox::new(
        image::Signals {
            blocked: s.blocked,
            pending: taken,
            altstack: (s.alt[0], s.alt[2] as u32, s.alt[1]),
            actions: [(0, 0, 0, 0); image::NSIG],
        },
        GFP_KERNEL,
    )?;
    for (a, b) in sig.actions.iter_mut().zip(s.act.iter()) {
        *a = (b[0], b[1], b[2], b[3]);
    }
    let body = KBox::new(sig.encode(), GFP_KERNEL)?;
    tx.record(Kind::Signals, &[&body[..]])
}

/// Sets the signal state from a `Signals` record the reader accepted.
#[inline(never)]
fn restore_signals(body: &[u8]) -> Result {
    let sig = KBox::new(
        image::Signals::decode(body).map_err(|_| EINVAL)?,
        GFP_KERNEL,
    )?;
    let mut s = cur::SigState::new()?;
    s.blocked = sig.blocked;
    s.alt = [sig.altstack.0, sig.altstack.2, u64::from(sig.altstack.1)];
    for (a, b) in s.act.iter_mut().zip(sig.actions.iter()) {
        *a = [b.0, b.1, b.2, b.3];
    }
    cur::set_signals(&s);
    raise_pending(sig.pending);
    Ok(())
}

/// Sends the calling task the signals of bit mask `pending` (bit 0: signal 1).
fn raise_pending(pending: u64) {
    for n in 0..64u32 {
        if pending & (1 << n) != 0 {
            Task::current().signal(n + 1);
        }
    }
}

/// Captures the calling process and streams it to the target; returns the pages sent.
#[inline(never)]
fn capture(cluster: &Cluster, to: &Dest, pending: Option<&mut u64>) -> Result<u64> {
    let mut tx = ImageSender::new(cluster, to)?;
    let layout = cur::mm_layout()?;

    // Check every area before sending anything.
    let mut addr = 0;
    while let Some(a) = cur::area_after(addr)? {
        addr = a.end;
        if !a.special && area_refused(&a) {
            pr_warn!(
                "migrate {}: stays home: shared writable or device mapping at {:#x}\n",
                to.home_pid,
                a.start
            );
            return Err(EPERM);
        }
    }

    let mut xstate = KVec::new();
    let xfeatures = cur::with_fpu(|buf, xf| {
        let _ = xstate.extend_from_slice(buf, GFP_KERNEL);
        xf
    });
    if xstate.is_empty() {
        return Err(ENOMEM);
    }
    let begin = Begin {
        xfeatures,
        xstate_size: xstate.len() as u32,
        home_node: to.home,
        home_pid: to.home_pid,
        comm: cur::comm(),
    };
    tx.record(Kind::Begin, &[&begin.encode()])?;

    let mut pt = cur::regs();
    // Interrupted in a system call that is to be restarted (the task work runs before the
    // kernel's restart fix-up): the guest restarts it instead.
    const ERESTART: [i64; 4] = [-512, -513, -514, -516];
    if (pt[15] as i64) >= 0 && ERESTART.contains(&(pt[10] as i64)) {
        pt[10] = pt[15];
        pt[image::REG_RIP] -= 2;
    }
    let (fs, gs) = cur::fsgs();
    let mut r = [0u64; NREGS];
    for (d, v) in r.iter_mut().zip(pt.iter()) {
        *d = *v;
    }
    r[image::REG_FS_BASE] = fs;
    r[image::REG_GS_BASE] = gs;
    tx.record(Kind::Regs, &[&image::Regs { r }.encode()])?;
    tx.record(Kind::Xstate, &[&xstate])?;
    drop(xstate);
    tx.record(Kind::Mm, &[&image::Mm { v: layout }.encode()])?;

    capture_signals(&mut tx, pending)?;
    let rl = cur::rlimits();
    let limits = image::Limits {
        l: core::array::from_fn(|i| (rl[2 * i], rl[2 * i + 1])),
    };
    tx.record(Kind::Limits, &[&limits.encode()])?;
    let (umask, personality) = cur::misc();
    let misc = image::Misc {
        umask,
        personality,
        itimers: [(0, 0); 3],
    };
    tx.record(Kind::Misc, &[&misc.encode()])?;

    // Each area, then its pages.
    let mut pages = 0u64;
    let mut run = KVec::with_capacity(PAGES_PER_RECORD * PAGE_SIZE, GFP_KERNEL)?;
    let mut page = KVec::from_elem(0u8, PAGE_SIZE, GFP_KERNEL)?;
    let mut addr = 0;
    while let Some(a) = cur::area_after(addr)? {
        addr = a.end;
        if a.special {
            continue;
        }
        let prot = send_area(&mut tx, &a, &layout)?;
        if prot & image::PROT_READ == 0 {
            continue;
        }
        let mut run_start = 0u64;
        let mut at = a.start;
        while at < a.end {
            let nonzero = cur::read_user(at, &mut page).is_ok() && page.iter().any(|&b| b != 0);
            let contiguous = !run.is_empty() && run_start + run.len() as u64 == at;
            if !run.is_empty() && (!nonzero || !contiguous || run.len() == run.capacity()) {
                tx.record(Kind::Pages, &[&run_start.to_be_bytes(), &run])?;
                pages += (run.len() / PAGE_SIZE) as u64;
                run.clear();
            }
            if nonzero {
                if run.is_empty() {
                    run_start = at;
                }
                run.extend_from_slice(&page, GFP_KERNEL)?;
            }
            at += PAGE_SIZE as u64;
            if cur::fatal_signal_pending() {
                return Err(EINTR);
            }
        }
        if !run.is_empty() {
            tx.record(Kind::Pages, &[&run_start.to_be_bytes(), &run])?;
            pages += (run.len() / PAGE_SIZE) as u64;
            run.clear();
        }
    }
    tx.record(Kind::End, &[&pages.to_be_bytes()])?;
    tx.flush()?;
    Ok(pages)
}

// --- Restore (host, in the guest stub; home, in a deputy taking its process back) -------------

/// An image coming in: the parts received and not taken yet, checked record by record.
struct Inflow {
    /// Image parts and how much of each was taken already.
    parts: KVec<(KVec<u8>, usize)>,
    /// Bytes queued and not taken.
    bytes: usize,
    reader: ImageReader,
}

impl Inflow {
    fn new() -> Self {
        Self {
            parts: KVec::new(),
            bytes: 0,
            reader: ImageReader::new(),
        }
    }

    /// Queues the records of one `MigImage` payload.
    fn push(&mut self, part: &[u8]) -> Result {
        let mut v = KVec::with_capacity(part.len(), GFP_KERNEL)?;
        v.extend_from_slice(part, GFP_KERNEL)?;
        self.parts.push((v, 0), GFP_KERNEL)?;
        self.bytes += part.len();
        Ok(())
    }

    /// Pops the next whole record (header and body); a malformed part comes out as a record the
    /// reader refuses.
    #[inline(never)]
    fn next_raw(&mut self) -> Option<(RecordHeader, KVec<u8>)> {
        loop {
            let (part, taken) = self.parts.first_mut()?;
            if *taken >= part.len() {
                let _ = self.parts.remove(0);
                continue;
            }
            let mut it = Records::new(&part[*taken..]);
            let (h, body) = match it.next()? {
                Ok(x) => x,
                Err(_) => {
                    let len = part.len() - *taken;
                    self.bytes -= len.min(self.bytes);
                    let _ = self.parts.remove(0);
                    // A second `End` is refused by any reader, whatever state it is in.
                    return Some((
                        RecordHeader {
                            kind: Kind::End,
                            len: 0,
                        },
                        KVec::new(),
                    ));
                }
            };
            let mut v = KVec::with_capacity(body.len(), GFP_KERNEL).ok()?;
            v.extend_from_slice(body, GFP_KERNEL).ok()?;
            let used = RECORD_HEADER_LEN + body.len();
            *taken += used;
            self.bytes -= used.min(self.bytes);
            return Some((h, v));
        }
    }
}

/// What the restore keeps of a record once the reader has checked it (its body is kept apart).
enum Owned {
    Begin(Begin),
    Regs([u64; NREGS]),
    Xstate,
    Mm([u64; 12]),
    Vma(u64, u64, u8, VmaKind),
    Pages(u64),
    Signals,
    Limits(image::Limits),
    Misc(image::Misc),
    End,
}

fn copy_record(r: Record<'_>) -> Owned {
    match r {
        Record::Begin(b) => Owned::Begin(b),
        Record::Regs(r) => Owned::Regs(r.r),
        Record::Xstate(_) => Owned::Xstate,
        Record::Mm(m) => Owned::Mm(m.v),
        Record::Vma(v) => Owned::Vma(v.start, v.end, v.prot, v.kind),
        Record::Pages { addr, .. } => Owned::Pages(addr),
        Record::Signals(_) => Owned::Signals,
        Record::Limits(l) => Owned::Limits(l),
        Record::Misc(m) => Owned::Misc(m),
        Record::End(_) => Owned::End,
    }
}

/// The guest's queue, unless the guest was given up.
fn guest_inflow(q: &mut GuestQueue) -> Result<&mut Inflow> {
    if q.aborted {
        return Err(ecanceled());
    }
    Ok(&mut q.img)
}

/// The image a deputy receives, unless the move was given up.
fn deputy_inflow(io: &mut DepIo) -> Result<&mut Inflow> {
    match (&io.hop, &mut io.inflow) {
        (Some(_), Some(img)) => Ok(img),
        _ => Err(ecanceled()),
    }
}

/// Waits for the next record of the image behind `lock` (`inflow` finds it) and checks it with
/// the image's reader. Gives up after [`ANSWER_MS`] of silence, on a fatal signal, or when
/// `inflow` says the image was given up.
fn wait_record<T: Unpin>(
    lock: &Mutex<T>,
    cv: &CondVar,
    from: u32,
    inflow: fn(&mut T) -> Result<&mut Inflow>,
) -> Result<(KVec<u8>, Owned)> {
    let t0 = now_ms();
    let mut g = lock.lock();
    loop {
        let img = inflow(&mut *g)?;
        if let Some((h, body)) = img.next_raw() {
            let rec = match img.reader.feed(h, &body) {
                Ok(r) => copy_record(r),
                Err(e) => {
                    pr_warn!("image from node {}: {}\n", from, Disp(&e));
                    return Err(EINVAL);
                }
            };
            drop(g);
            // Room in the queue for the receiver.
            cv.notify_all();
            return Ok((body, rec));
        }
        if now_ms().saturating_sub(t0) > ANSWER_MS {
            return Err(ETIMEDOUT);
        }
        if cur::fatal_signal_pending() {
            return Err(EINTR);
        }
        g = nap(lock, cv, g);
    }
}

/// A held lock of a `Mutex`.
type Held<'a, T> = kernel::sync::lock::Guard<'a, T, kernel::sync::lock::mutex::MutexBackend>;

/// Waits on `cv` with `held` (of `lock`) for a notification or [`POLL_MS`]; returns it held
/// again. With a signal pending (which stays for the process) it sleeps 5 ms instead: an
/// interruptible wait would return at once.
fn nap<'a, T: Unpin>(lock: &'a Mutex<T>, cv: &CondVar, mut held: Held<'a, T>) -> Held<'a, T> {
    if cur::signal_pending() {
        drop(held);
        thread::pause_ms(5);
        lock.lock()
    } else {
        let _ = cv.wait_interruptible_timeout(&mut held, msecs_to_jiffies(POLL_MS));
        held
    }
}

/// The records an image starts with.
struct Head {
    begin: Begin,
    regs: [u64; NREGS],
    xstate: KVec<u8>,
    mm: [u64; 12],
}

/// Reads the head records (the reader has them in this order) from `next`.
fn read_head(next: &mut dyn FnMut() -> Result<(KVec<u8>, Owned)>) -> Result<Head> {
    let (_, Owned::Begin(begin)) = next()? else {
        return Err(EINVAL);
    };
    let (_, Owned::Regs(regs)) = next()? else {
        return Err(EINVAL);
    };
    let (xstate, Owned::Xstate) = next()? else {
        return Err(EINVAL);
    };
    let (_, Owned::Mm(mm)) = next()? else {
        return Err(EINVAL);
    };
    Ok(Head {
        begin,
        regs,
        xstate,
        mm,
    })
}

/// Checks what the head says against this node and the calling process before anything is
/// replaced: the FPU state must be in this node's format, the vDSO where the image has it.
fn check_head(head: &Head, from: u32) -> Result {
    let xstate_ok = cur::with_fpu(|buf, xf| {
        if xf != head.begin.xfeatures || buf.len() != head.xstate.len() {
            return false;
        }
        let at = image::XSAVE_HEADER + 8;
        buf[at..at + 8] == head.xstate[at..at + 8]
    });
    if !xstate_ok {
        pr_warn!(
            "image from node {}: FPU state format differs from this node's\n",
            from
        );
        return Err(EINVAL);
    }
    let here = cur::mm_layout()?;
    if head.mm[11] != 0 && here[11] != head.mm[11] {
        pr_warn!("image from node {}: vDSO not at {:#x}\n", from, head.mm[11]);
        return Err(EINVAL);
    }
    Ok(())
}

/// Replaces the calling process's memory, signal state, limits and names with the rest of the
/// image (after its head), record by record from `next`.
#[inline(never)]
fn restore_body(next: &mut dyn FnMut() -> Result<(KVec<u8>, Owned)>, head: &Head) -> Result {
    // Everything but the special mappings goes.
    unmap_ordinary_areas()?;
    let mut sig = None;
    let mut limits = None;
    let mut misc = None;
    loop {
        let (body, rec) = next()?;
        match rec {
            Owned::Vma(start, end, prot, kind) => {
                cur::map_anon(start, end - start, prot, kind == VmaKind::Stack)?
            }
            Owned::Pages(addr) => cur::write_user(addr, &body[8..])?,
            Owned::Signals => sig = Some(body),
            Owned::Limits(l) => limits = Some(l),
            Owned::Misc(m) => misc = Some(m),
            Owned::End => break,
            _ => return Err(EINVAL),
        }
    }
    let m11: [u64; 11] = core::array::from_fn(|i| head.mm[i]);
    cur::set_mm_layout(&m11);
    if let Some(body) = sig {
        restore_signals(&body)?;
    }
    if let Some(l) = limits {
        let mut v = [0u64; 32];
        for (i, (c, m)) in l.l.iter().enumerate() {
            v[2 * i] = *c;
            v[2 * i + 1] = *m;
        }
        cur::set_rlimits(&v);
    }
    if let Some(m) = misc {
        cur::set_misc(m.umask, m.personality);
    }
    cur::set_comm(&head.begin.comm);
    Ok(())
}

/// Loads the image's registers and FPU state into the calling task's saved user state: call
/// on the way back to user mode (task work), after any system call result was stored.
fn load_regs(regs: &[u64; NREGS], xstate: &[u8]) {
    let mut pt = cur::regs();
    // r15 ... rdi and rip, flags, rsp from the image; orig_ax -1 (no system call to restart);
    // cs and ss stay this node's user segments.
    for (d, v) in pt.iter_mut().zip(regs.iter()).take(15) {
        *d = *v;
    }
    pt[15] = u64::MAX;
    pt[image::REG_RIP] = regs[image::REG_RIP];
    pt[image::REG_EFLAGS] = (regs[image::REG_EFLAGS] & image::USER_EFLAGS) | 0x202;
    pt[image::REG_RSP] = regs[image::REG_RSP];
    cur::set_regs(&pt);
    cur::set_fsgs(regs[image::REG_FS_BASE], regs[image::REG_GS_BASE]);
    cur::with_fpu(|buf, _| {
        if buf.len() == xstate.len() {
            buf.copy_from_slice(xstate);
        }
    });
}

/// The restore, in the stub's context: see the module documentation.
#[inline(never)]
fn restore_guest(g: &Guest) -> Result {
    let head = g.q.lock().head.take().ok_or(EINVAL)?;
    if head.begin.home_node != g.home {
        pr_warn!(
            "guest from node {}: image names node {} as home\n",
            g.src,
            head.begin.home_node
        );
        return Err(EINVAL);
    }
    check_head(&head, g.src)?;
    let mut next = || wait_record(&g.q, &g.cv, g.src, guest_inflow);
    let r = restore_body(&mut next, &head);
    // What `show` and the system-call hooks read.
    g.q.lock().home_pid = head.begin.home_pid;
    r?;
    cur::drop_privileges(NOBODY, NOBODY)?;
    // Nothing of the stub's stays open: a guest's files are at home.
    cur::close_all_files();

    // Registers and FPU state are loaded on the way back to user mode, after this write's
    // return value was stored.
    Task::current().queue_work(move || load_regs(&head.regs, &head.xstate), false)?;
    Ok(())
}

/// A guest moves on to `target` (its home, or a third node), in its own context (task work):
/// captured here and streamed there as migration `new_mig_id`; then the home's verdict. Returns
/// whether the guest moved (it is to end here); if not, it goes on here as before.
#[inline(never)]
fn guest_depart(cluster: &Cluster, g: &Guest, target: u32, new_mig_id: u32) -> bool {
    let home_pid = g.q.lock().home_pid;
    let to = Dest {
        target,
        home: g.home,
        mig_id: new_mig_id,
        home_pid,
    };
    let mut pending = 0u64;
    if let Err(e) = capture(cluster, &to, Some(&mut pending)) {
        pr_warn!(
            "guest {} (pid {} of node {}): capture for node {} failed: error {}\n",
            Task::current_pid(),
            home_pid,
            g.home,
            target,
            e.to_errno()
        );
        report_failure(cluster, g.home, new_mig_id, e, true);
        raise_pending(pending);
        g.q.lock().departing = false;
        return false;
    }
    let t0 = now_ms();
    let verdict = {
        let mut q = g.q.lock();
        loop {
            if let Some(v) = q.verdict.take() {
                break v;
            }
            // The home gone (its guest is killed anyway), or no answer: it stays.
            if q.aborted || !cluster.peer_up(g.home) || cur::fatal_signal_pending() {
                break EINTR.to_errno();
            }
            if now_ms().saturating_sub(t0) > 2 * ANSWER_MS {
                break ETIMEDOUT.to_errno();
            }
            q = nap(&g.q, &g.cv, q);
        }
    };
    let mut q = g.q.lock();
    q.departing = false;
    if verdict == 0 {
        // Its home hears nothing of this ending: the process runs on elsewhere.
        q.aborted = true;
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
    if target == g.home {
        q.home_failed_ms = now_ms().max(1);
    }
    drop(q);
    raise_pending(pending);
    false
}

/// A guest enters call `nr`, which only its home can make (`fork`, `execve`, ...): it is
/// rewound to be made again, and the guest asks to come home. Once home, the process makes it
/// there; if the move fails, here, where the next attempt fails with `EAGAIN` for a while.
fn call_at_home(cluster: &Arc<Cluster>, g: Arc<Guest>, nr: u32) {
    let failed = g.q.lock().home_failed_ms;
    if failed != 0 && now_ms().saturating_sub(failed) < HOME_RETRY_MS {
        not_available(nr, "its home could not take it back");
        skip_call(-i64::from(EAGAIN.to_errno().unsigned_abs()));
        return;
    }
    let mut pt = cur::regs();
    // No call now; the `syscall` instruction again, with the same number, when it runs next.
    pt[15] = u64::MAX;
    pt[10] = u64::from(nr);
    pt[image::REG_RIP] -= 2;
    cur::set_regs(&pt);
    let c = cluster.clone();
    if Task::current()
        .queue_work(move || ask_home(&c, &g), false)
        .is_err()
    {
        skip_call(-i64::from(ENOMEM.to_errno().unsigned_abs()));
    }
}

/// Asks the home to take the guest back, and waits for its `Depart` (which queues the move
/// itself as the next task work). Task work in the guest.
fn ask_home(cluster: &Cluster, g: &Guest) {
    let asked = cluster.mig.ask_move(cluster, g.home, g.mig_id, 0, false);
    let t0 = now_ms();
    let mut q = g.q.lock();
    while asked.is_ok() && !q.departing && !q.aborted {
        if now_ms().saturating_sub(t0) > HOME_RETRY_MS
            || !cluster.peer_up(g.home)
            || cur::fatal_signal_pending()
        {
            break;
        }
        q = nap(&g.q, &g.cv, q);
    }
    if !q.departing {
        q.home_failed_ms = now_ms().max(1);
    }
}

// --- System calls of guests (host) and of deputies (home) ---------------------------------------

/// What the system-call hooks act for: the cluster, with its migrations.
pub(crate) struct Hook(pub(crate) Arc<Cluster>);

impl SyscallHook for Hook {
    fn enter(&self, nr: i64) {
        let mig = &self.0.mig;
        let guests = mig.guests_running.load(Relaxed) != 0;
        let deputies = mig.deputies_serving.load(Relaxed) != 0;
        if nr < 0 || !(guests || deputies) {
            return;
        }
        if let Some(g) = guests.then(|| mig.running_guest()).flatten() {
            guest_syscall(&self.0, g, nr as u32);
            return;
        }
        if deputies && mig.calling_deputy().is_some() {
            // The deputy's forwarded call: signals interrupt it as they would at home.
            cur::block_signals(false);
        }
        if guests {
            crate::hide::enter(mig, nr);
        }
    }

    fn exit(&self) {
        let mig = &self.0.mig;
        if mig.guests_running.load(Relaxed) != 0 {
            let pt = cur::regs();
            // rt_sigaction that succeeded: a guest's is mirrored to its deputy.
            if pt[15] == 13 && pt[10] == 0 {
                if let Some(g) = mig.running_guest() {
                    mirror_action(&self.0, g, call_args(&pt));
                    return;
                }
            }
            crate::hide::exit(mig, pt);
        }
        if mig.deputies_serving.load(Relaxed) == 0 {
            return;
        }
        if let Some(d) = mig.calling_deputy() {
            // Back to user mode only through `deputy_resume`: signals wait, blocked, for it to
            // forward them (the deputy has no handlers of its own).
            cur::block_signals(true);
            let c = self.0.clone();
            let _ = Task::current().queue_work(
                move || {
                    let end = deputy_resume(&c, &d);
                    drop((c, d));
                    finish(end);
                },
                false,
            );
        }
    }
}

/// The guest set a signal action (`rt_sigaction(sig, act, ...)` succeeded here): its deputy
/// takes the action's disposition too (`fwd::mirrored_action`), before the guest's next
/// forwarded call, so that the home judges a signal sent to the home pid as the guest would.
fn mirror_action(cluster: &Arc<Cluster>, g: Arc<Guest>, args: [u64; 6]) {
    let mut act = [0u8; 32];
    if args[1] == 0 || args[3] != 8 || cur::read_user(args[1], &mut act).is_err() {
        return;
    }
    let m = fwd::mirrored_action(&act);
    let c = cluster.clone();
    let _ = Task::current().queue_work(
        move || {
            let _ = forward_call(&c, &g, 13, [args[0], 1, 0, 8, 0, 0], Some(&m), false);
        },
        false,
    );
}

/// Arguments of the call being entered: di, si, dx, r10, r8, r9.
pub(crate) fn call_args(pt: &[u64; cur::PT_REGS]) -> [u64; 6] {
    [pt[14], pt[13], pt[12], pt[7], pt[9], pt[8]]
}

/// Skips the call being entered; it returns `value`.
pub(crate) fn skip_call(value: i64) {
    let mut pt = cur::regs();
    pt[15] = u64::MAX;
    pt[10] = value as u64;
    cur::set_regs(&pt);
}

/// A guest enters system call `nr`: let it run here, answer it, or forward it home.
fn guest_syscall(cluster: &Arc<Cluster>, g: Arc<Guest>, nr: u32) {
    let pt = cur::regs();
    let mut args = call_args(&pt);
    if let Some((ptr, carry)) = fwd::returned_len(nr, &args) {
        // The buffer's length, read here where the guest's memory is, travels in an argument
        // the call does not use (an unreadable pointer fails the forwarded call with EFAULT).
        let mut b = [0u8; 4];
        let len = match cur::read_user(args[ptr], &mut b) {
            Ok(()) => u64::from(u32::from_ne_bytes(b)),
            Err(_) => 0,
        };
        carry.put(&mut args, len);
    }
    // pselect6's last argument points to {mask pointer, size}: with no mask there (the C
    // library's `select`), the call is forwarded without it.
    if nr == 270 && args[5] != 0 {
        let mut b = [0u8; 8];
        if cur::read_user(args[5], &mut b).is_ok() && u64::from_ne_bytes(b) == 0 {
            args[5] = 0;
        }
    }
    match nr {
        // getpid, gettid: the home pid.
        39 | 186 => {
            let pid = g.q.lock().home_pid;
            skip_call(i64::from(pid));
            return;
        }
        // exit, exit_group: the guest ends here; its home learns the status.
        60 | 231 => return,
        // clone, fork, vfork, execve, execveat, clone3: the process comes home and makes the
        // call there.
        56 | 57 | 58 | 59 | 322 | 435 => {
            call_at_home(cluster, g, nr);
            return;
        }
        // mmap: private anonymous memory is made here; files are at home.
        9 => {
            const MAP_ANONYMOUS: u64 = 0x20;
            if args[3] & MAP_ANONYMOUS != 0 {
                return;
            }
            not_available(
                nr,
                "file mappings are not available to a migrated process yet",
            );
            skip_call(-i64::from(ENODEV.to_errno().unsigned_abs()));
            return;
        }
        _ => {}
    }
    // readv, writev, sendmsg, recvmsg: gathered or scattered here, forwarded as one call.
    let forward = matches!(nr, 19 | 20 | 46 | 47) || fwd::spec(nr, &args).is_some();
    match syscalls::class_of(nr) {
        None | Some(syscalls::Class::Local) => {}
        Some(_) if forward => {
            skip_call(-i64::from(enosys().to_errno().unsigned_abs()));
            let c = cluster.clone();
            if Task::current()
                .queue_work(move || guest_forward(&c, &g, nr, args), false)
                .is_err()
            {
                skip_call(-i64::from(ENOMEM.to_errno().unsigned_abs()));
            }
        }
        Some(_) => {
            not_available(nr, "not forwarded to the home node yet");
            skip_call(-i64::from(enosys().to_errno().unsigned_abs()));
        }
    }
}

/// Logs (rate-limited) that a guest's call `nr` is refused.
fn not_available(nr: u32, why: &str) {
    static LAST: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);
    let now = now_ms();
    if now.saturating_sub(LAST.load(Relaxed)) >= 1000 {
        LAST.store(now, Relaxed);
        let name = syscalls::SYSCALLS
            .iter()
            .find(|s| s.0 == nr)
            .map_or("?", |s| s.1);
        pr_warn!(
            "guest {}: system call {} ({}) refused: {}\n",
            Task::current_pid(),
            name,
            nr,
            why
        );
    }
}

/// Sets the guest's result of call `nr` on its way back to user mode.
fn set_result(nr: u32, result: i64) {
    let mut pt = cur::regs();
    pt[10] = result as u64;
    pt[15] = u64::from(nr);
    // Interrupted at home: with a signal pending here the kernel restarts it or fails it with
    // EINTR as the handler says; with none, restart it now (as the kernel would).
    const ERESTARTSYS: i64 = -512;
    const ERESTARTNOHAND: i64 = -514;
    const ERESTART_RESTARTBLOCK: i64 = -516;
    if (ERESTART_RESTARTBLOCK..=ERESTARTSYS).contains(&result) && !cur::signal_pending() {
        if result == ERESTART_RESTARTBLOCK {
            pt[10] = (-4i64) as u64; // EINTR
        } else if result >= ERESTARTNOHAND {
            pt[10] = u64::from(nr);
            pt[image::REG_RIP] -= 2;
        }
    }
    cur::set_regs(&pt);
}

/// Forwards the guest's call `nr` to its deputy and waits for the result (task work, in the
/// guest, before it returns to user mode).
fn guest_forward(cluster: &Cluster, g: &Guest, nr: u32, args: [u64; 6]) {
    let result = match nr {
        20 => writev(cluster, g, args),
        19 => readv(cluster, g, args),
        46 => sendmsg(cluster, g, args),
        47 => recvmsg(cluster, g, args),
        _ => forward_call(cluster, g, nr, args, None, false).map(|(r, _)| r),
    };
    match result {
        Ok(r) => set_result(nr, r),
        Err(e) => set_result(nr, -i64::from(e.to_errno().unsigned_abs())),
    }
}

/// `writev` as one `write` of the gathered buffers (at most [`fwd::MAX_BUF`] bytes).
fn writev(cluster: &Cluster, g: &Guest, args: [u64; 6]) -> Result<i64> {
    let iov = read_iovecs(args[1], args[2])?;
    let data = gather(&iov)?;
    let w = [args[0], 1, data.len() as u64, 0, 0, 0];
    forward_call(cluster, g, 1, w, Some(&data), false).map(|(r, _)| r)
}

/// A `struct msghdr` as the guest has it.
struct MsgHdr {
    name: u64,
    name_len: u64,
    iov: KVec<(u64, u64)>,
    control_len: u64,
}

/// Reads the guest's `struct msghdr` at `addr` and its iovec array.
fn read_msghdr(addr: u64) -> Result<MsgHdr> {
    let mut b = [0u8; 56];
    cur::read_user(addr, &mut b)?;
    let word = |at: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[at..at + 8]);
        u64::from_ne_bytes(w)
    };
    Ok(MsgHdr {
        name: word(0),
        name_len: word(8) & 0xffff_ffff,
        iov: read_iovecs(word(16), word(24))?,
        control_len: word(40),
    })
}

/// `sendmsg` with no control data as one `sendto` of the gathered buffers, to the message's
/// address if it has one.
fn sendmsg(cluster: &Cluster, g: &Guest, args: [u64; 6]) -> Result<i64> {
    let m = read_msghdr(args[1])?;
    if m.control_len != 0 {
        not_available(46, "control messages are not forwarded yet");
        return Err(enosys());
    }
    let data = gather(&m.iov)?;
    let (name, len) = if m.name == 0 {
        (0, 0)
    } else {
        (m.name, m.name_len)
    };
    let w = [args[0], 1, data.len() as u64, args[2], name, len];
    forward_call(cluster, g, 44, w, Some(&data), false).map(|(r, _)| r)
}

/// `recvmsg` with no control buffer as one `recvfrom`, scattered into the buffers; the source
/// address, if the message has room for one, and its length come back into the message as
/// `recvfrom` returns them (its length is carried as `fwd::returned_len` says); the message's
/// flags come back 0.
fn recvmsg(cluster: &Cluster, g: &Guest, args: [u64; 6]) -> Result<i64> {
    let m = read_msghdr(args[1])?;
    if m.control_len != 0 {
        not_available(47, "control messages are not forwarded yet");
        return Err(enosys());
    }
    let mut r = [args[0], 1, 0, args[2] & 0xffff_ffff, 0, 0];
    if m.name != 0 {
        // recvfrom(fd, buf, size, flags, msg_name, &msg_namelen).
        r[4] = m.name;
        r[5] = args[1] + 8;
        fwd::Carry::High(3).put(&mut r, m.name_len);
    }
    let r = scatter(cluster, g, &m.iov, 45, r)?;
    if r >= 0 {
        cur::write_user(args[1] + 48, &0u32.to_ne_bytes())?;
    }
    Ok(r)
}

/// The contents of the buffers `iov`, at most [`fwd::MAX_BUF`] bytes.
fn gather(iov: &[(u64, u64)]) -> Result<KVec<u8>> {
    let mut data = KVec::new();
    for &(base, len) in iov.iter() {
        let room = fwd::MAX_BUF - data.len();
        let n = (len as usize).min(room);
        let at = data.len();
        data.resize(at + n, 0, GFP_KERNEL)?;
        cur::read_user(base, &mut data[at..])?;
        if n < len as usize {
            break;
        }
    }
    Ok(data)
}

/// `readv` as one `read`, scattered into the buffers.
fn readv(cluster: &Cluster, g: &Guest, args: [u64; 6]) -> Result<i64> {
    let iov = read_iovecs(args[1], args[2])?;
    scatter(cluster, g, &iov, 0, [args[0], 1, 0, 0, 0, 0])
}

/// Makes the read-like call `nr` (`read`, `recvfrom`) with `args`, its length (argument 2) the
/// buffers' total, and scatters what it read into `iov`.
fn scatter(
    cluster: &Cluster,
    g: &Guest,
    iov: &[(u64, u64)],
    nr: u32,
    mut args: [u64; 6],
) -> Result<i64> {
    args[2] = iov
        .iter()
        .map(|v| v.1)
        .sum::<u64>()
        .min(fwd::MAX_BUF as u64);
    let (res, out) = forward_call(cluster, g, nr, args, None, true)?;
    if let Some(data) = out {
        let mut at = 0usize;
        for &(base, len) in iov.iter() {
            if at >= data.len() {
                break;
            }
            let n = (len as usize).min(data.len() - at);
            cur::write_user(base, &data[at..at + n])?;
            at += n;
        }
    }
    Ok(res)
}

/// The `(base, len)` pairs of an iovec array of `count` entries at `addr`.
fn read_iovecs(addr: u64, count: u64) -> Result<KVec<(u64, u64)>> {
    if count > 1024 {
        return Err(EINVAL);
    }
    let mut raw = KVec::from_elem(0u8, count as usize * 16, GFP_KERNEL)?;
    cur::read_user(addr, &mut raw)?;
    let mut v = KVec::with_capacity(count as usize, GFP_KERNEL)?;
    for c in raw.chunks_exact(16) {
        let mut b = [0u8; 8];
        b.copy_from_slice(&c[..8]);
        let base = u64::from_ne_bytes(b);
        b.copy_from_slice(&c[8..]);
        v.push((base, u64::from_ne_bytes(b)), GFP_KERNEL)?;
    }
    Ok(v)
}

/// Sends call `nr` with `args` to the deputy and waits for its reply; writes its outputs to the
/// guest's memory. `input` gives the contents of argument 1 (`writev`); with `collect`,
/// argument 1's output is returned instead of written (`readv`).
fn forward_call(
    cluster: &Cluster,
    g: &Guest,
    nr: u32,
    mut args: [u64; 6],
    input: Option<&[u8]>,
    collect: bool,
) -> Result<(i64, Option<KVec<u8>>)> {
    let spec = fwd::spec(nr, &args).ok_or(enosys())?;
    // Lengths beyond what one call carries are cut (a read or write transfers less, an
    // `epoll_wait` returns fewer events).
    for a in spec.iter() {
        if let Some((i, limit)) = a.count_limit() {
            args[i] = args[i].min(limit);
        }
    }
    let mut held: [Option<KVec<u8>>; 6] = Default::default();
    for (i, a) in spec.iter().enumerate() {
        if !a.is_input() || args[i] == 0 {
            continue;
        }
        let v = if let (1, Some(d)) = (i, input) {
            let mut v = KVec::with_capacity(d.len(), GFP_KERNEL)?;
            v.extend_from_slice(d, GFP_KERNEL)?;
            v
        } else if *a == fwd::Arg::Str {
            let mut v = KVec::from_elem(0u8, fwd::MAX_STR + 1, GFP_KERNEL)?;
            let n = cur::read_user_str(args[i], &mut v)?;
            v.truncate(n);
            v
        } else {
            let len = a.len(&args).ok_or(EINVAL)?;
            let mut v = KVec::from_elem(0u8, len, GFP_KERNEL)?;
            cur::read_user(args[i], &mut v)?;
            v
        };
        held[i] = Some(v);
    }
    let bufs = as_bufs(&held);
    let seq = {
        let mut q = g.q.lock();
        q.seq = q.seq.wrapping_add(1);
        q.reply = None;
        q.seq
    };
    let req = fwd::Request {
        mig_id: g.mig_id,
        seq,
        nr,
        args,
        bufs,
    };
    let mut out = KVec::from_elem(0u8, req.encoded_len(), GFP_KERNEL)?;
    req.encode(&mut out).ok_or(EINVAL)?;
    cluster.send_to(g.home, MessageKind::Syscall, &out, true)?;
    drop(out);
    drop(held);

    // Wait for the reply; a fatal signal or the loss of the home ends the wait.
    let payload = {
        let mut q = g.q.lock();
        loop {
            if let Some(p) = q.reply.take() {
                break p;
            }
            if q.aborted || cur::fatal_signal_pending() || !cluster.peer_up(g.home) {
                return Err(EINTR);
            }
            let _ =
                g.cv.wait_interruptible_timeout(&mut q, msecs_to_jiffies(POLL_MS));
        }
    };
    let reply = fwd::Reply::decode(&payload).map_err(|_| EIO)?;
    if reply.seq != seq || reply.check(nr, &args).is_err() {
        pr_warn!(
            "guest {}: bad reply from node {}\n",
            Task::current_pid(),
            g.home
        );
        return Err(EIO);
    }
    let mut one = None;
    for (i, b) in reply.bufs.iter().enumerate() {
        let Some(b) = b else { continue };
        if i == 1 && collect {
            // readv: the caller scatters.
            let mut v = KVec::with_capacity(b.len(), GFP_KERNEL)?;
            v.extend_from_slice(b, GFP_KERNEL)?;
            one = Some(v);
            continue;
        }
        cur::write_user(args[i], b)?;
    }
    Ok((reply.result, one))
}
