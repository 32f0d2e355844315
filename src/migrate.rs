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

use crate::cluster::Cluster;
use crate::ksys::errno::{ebadmsg, ecanceled, ehostunreach, enotconn};
use crate::ksys::task::{self, cur, ModuleRef, Task};
use crate::ksys::thread;
use crate::ksys::{cstr_fmt, Disp};
use crate::omcore::frame::MessageKind;
use crate::omcore::image::{
    self, Begin, ImageReader, Kind, Record, RecordHeader, VmaKind, NREGS, PAGE_SIZE,
    RECORD_HEADER_LEN,
};
use crate::omcore::mig::{self, MigResult, Pair, Records, MAX_CHUNK};
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
    mig_id: u32,
    pid: i32,
    target: u32,
    #[pin]
    state: Mutex<DepState>,
    #[pin]
    cv: CondVar,
}

/// Image parts received for a guest, waiting for its restore.
struct GuestQueue {
    /// Image parts and how much of each was taken already.
    parts: KVec<(KVec<u8>, usize)>,
    bytes: usize,
    /// The stub task, once it started.
    task: Option<Task>,
    /// The restore finished (successfully or not).
    restored: bool,
    /// The home gave up, or the restore failed: stop.
    aborted: bool,
    /// Pid of the guest on this node.
    pid: u32,
    /// Image records the restore has already taken, and what they said.
    reader: ImageReader,
    begin: Option<Begin>,
    regs: Option<[u64; NREGS]>,
    xstate: KVec<u8>,
    mm: Option<[u64; 12]>,
    created_ms: u64,
}

/// A process hosted here for another node.
#[pin_data]
struct Guest {
    home: u32,
    mig_id: u32,
    home_pid: u32,
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
        if target == 0 || target == me {
            // Home processes are home already; bringing guests back comes with remote return.
            if self.deputies.lock().iter().any(|d| d.pid == pid) {
                pr_warn!("migrate {} home: a guest cannot come back yet\n", pid);
                return Err(crate::ksys::errno::eopnotsupp());
            }
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
        let mut bits = task.stay_bits();
        if self.deputies.lock().iter().any(|d| d.pid == pid) {
            bits |= 1 << 8;
        }
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
                mig_id: self.next_id.fetch_add(1, Relaxed),
                pid,
                target,
                state <- new_mutex!(DepState::Sending),
                cv <- new_condvar!(),
            }),
            GFP_KERNEL,
        )?;
        self.deputies.lock().push(dep.clone(), GFP_KERNEL)?;
        let c = cluster.clone();
        let d = dep.clone();
        let r = task.queue_work(
            move || {
                let _module = module;
                deputy_main(&c, &d);
            },
            true,
        );
        if r.is_err() {
            self.forget_deputy(&dep);
            return Err(ESRCH);
        }
        Ok(())
    }

    fn forget_deputy(&self, dep: &Arc<Deputy>) {
        self.deputies
            .lock()
            .retain(|d| !core::ptr::eq::<Deputy>(&**d, &**dep));
    }

    fn deputy(&self, peer: u32, mig_id: u32) -> Option<Arc<Deputy>> {
        self.deputies
            .lock()
            .iter()
            .find(|d| d.target == peer && d.mig_id == mig_id)
            .cloned()
    }

    /// `MigResult` from `peer`.
    #[inline(never)]
    pub(crate) fn on_result(&self, peer: u32, payload: &[u8]) -> Result {
        let r = MigResult::decode(payload).map_err(|_| ebadmsg())?;
        let dep = self.deputy(peer, r.mig_id).ok_or(ebadmsg())?;
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

    /// `MigImage` from `peer`: a new guest's first records, or more of them.
    #[inline(never)]
    pub(crate) fn on_image(&self, cluster: &Cluster, peer: u32, payload: &[u8]) -> Result {
        let (mig_id, part) = mig::decode_image(payload).map_err(|_| ebadmsg())?;
        let g = match self.guest(peer, mig_id) {
            Some(g) => g,
            None => {
                let first = RecordHeader::decode(part).map_err(|_| ebadmsg())?;
                if first.kind != Kind::Begin {
                    // The rest of an image whose guest was given up: drop it.
                    return Ok(());
                }
                return self.new_guest(cluster, peer, mig_id, part);
            }
        };
        let mut q = g.q.lock();
        while q.bytes > GUEST_QUEUE_BYTES && !q.aborted && !thread::should_stop() {
            let _ =
                g.cv.wait_interruptible_timeout(&mut q, msecs_to_jiffies(POLL_MS));
        }
        if q.aborted || q.restored {
            return Ok(());
        }
        let mut v = KVec::with_capacity(part.len(), GFP_KERNEL)?;
        v.extend_from_slice(part, GFP_KERNEL)?;
        q.bytes += v.len();
        q.parts.push((v, 0), GFP_KERNEL)?;
        drop(q);
        g.cv.notify_all();
        Ok(())
    }

    #[inline(never)]
    fn new_guest(&self, cluster: &Cluster, peer: u32, mig_id: u32, part: &[u8]) -> Result {
        let refuse = |errno: Error| {
            let r = MigResult {
                mig_id,
                result: errno.to_errno(),
                guest_pid: 0,
            };
            self.in_failed.fetch_add(1, Relaxed);
            let _ = cluster.send_to(peer, MessageKind::MigResult, &r.encode(), false);
            Ok(())
        };
        if cluster.blocks_guests() {
            pr_info!("guest from node {} refused: admin/block is set\n", peer);
            return refuse(EAGAIN);
        }
        let mut first = KVec::with_capacity(part.len(), GFP_KERNEL)?;
        first.extend_from_slice(part, GFP_KERNEL)?;
        let mut parts = KVec::new();
        parts.push((first, 0), GFP_KERNEL)?;
        let reader = ImageReader::new();
        let g = Arc::pin_init(
            try_pin_init!(Guest {
                home: peer,
                mig_id,
                home_pid: 0,
                q <- new_mutex!(GuestQueue {
                    parts,
                    bytes: part.len(),
                    task: None,
                    restored: false,
                    aborted: false,
                    pid: 0,
                    reader,
                    begin: None,
                    regs: None,
                    xstate: KVec::new(),
                    mm: None,
                    created_ms: crate::ksys::sys::now_ms(),
                }),
                cv <- new_condvar!(),
            }),
            GFP_KERNEL,
        )?;
        self.guests.lock().push(g.clone(), GFP_KERNEL)?;
        let mut arg = [0u8; 24];
        let arg = cstr_fmt(&mut arg, format_args!("{}:{}", peer, mig_id));
        let gs = g.clone();
        let mut init = move || -> Result {
            let mut q = gs.q.lock();
            q.pid = current_pid();
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
        let mut q = g.q.lock();
        loop {
            if let Some(mm) = q.mm {
                let _ = writeln!(out, "vdso {:#x}", mm[11]);
                return Ok(());
            }
            if q.aborted {
                return Err(ecanceled());
            }
            match take_record(&g, &mut q)? {
                Some(()) => {}
                None => {
                    if matches!(
                        g.cv.wait_interruptible_timeout(&mut q, msecs_to_jiffies(POLL_MS)),
                        kernel::sync::CondVarTimeoutResult::Signal { .. }
                    ) {
                        return Err(EINTR);
                    }
                }
            }
        }
    }

    /// Write of `restore` to `/proc/openmosix/guest` by a stub: becomes the guest.
    #[inline(never)]
    pub(crate) fn restore(&self, cluster: &Cluster) -> Result {
        let g = self.my_guest().ok_or(EPERM)?;
        let r = restore_guest(&g);
        let result = MigResult {
            mig_id: g.mig_id,
            result: match &r {
                Ok(()) => 0,
                Err(e) => e.to_errno(),
            },
            guest_pid: if r.is_ok() { current_pid() } else { 0 },
        };
        {
            let mut q = g.q.lock();
            q.restored = true;
            q.parts.clear();
            q.bytes = 0;
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

    /// Periodic work of the `omx-mig` thread: report ended guests, kill orphans, drop stale
    /// slots.
    pub(crate) fn watch(&self, cluster: &Cluster) {
        let now = crate::ksys::sys::now_ms();
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
                    if !q.restored && !q.aborted {
                        // The stub ended before the restore: the home must not wait for it.
                        pr_warn!(
                            "guest from node {}: stub ended with status {:#x}\n",
                            g.home,
                            code
                        );
                        let r = MigResult {
                            mig_id: g.mig_id,
                            result: ECHILD.to_errno(),
                            guest_pid: 0,
                        };
                        let _ = cluster.send_to(g.home, MessageKind::MigResult, &r.encode(), false);
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

    /// On module removal: kill every guest.
    pub(crate) fn shutdown(&self) {
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
                DepState::Sending => (d.target, "migrating"),
                DepState::Remote(_) => (d.target, "remote"),
                DepState::Failed(_) => (0, "failed"),
                DepState::Exited(_) => (d.target, "exited"),
            };
            writeln!(out, "{} {} {}", d.pid, where_, state)?;
        }
        for g in self.guests.lock().iter() {
            let q = g.q.lock();
            writeln!(
                out,
                "{} guest-of {} home-pid {}",
                q.pid,
                g.home,
                q.begin.map_or(g.home_pid, |b| b.home_pid)
            )?;
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

fn current_pid() -> u32 {
    Task::current_pid()
}

// --- Capture (home, in the migrating process) -------------------------------------------------

/// Builds `MigImage` frames of whole records and sends each when full.
struct ImageSender<'a> {
    cluster: &'a Cluster,
    target: u32,
    mig_id: u32,
    buf: KVec<u8>,
}

impl<'a> ImageSender<'a> {
    fn new(cluster: &'a Cluster, target: u32, mig_id: u32) -> Result<Self> {
        let mut buf = KVec::with_capacity(4 + MAX_CHUNK, GFP_KERNEL)?;
        buf.extend_from_slice(&mig_id.to_be_bytes(), GFP_KERNEL)?;
        Ok(Self {
            cluster,
            target,
            mig_id,
            buf,
        })
    }

    /// Adds a record whose body is the concatenation of `parts`.
    fn record(&mut self, kind: Kind, parts: &[&[u8]]) -> Result {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        if self.buf.len() + RECORD_HEADER_LEN + len > 4 + MAX_CHUNK {
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
        if self.buf.len() > 4 {
            self.cluster
                .send_to(self.target, MessageKind::MigImage, &self.buf, true)?;
            self.buf.truncate(4);
        }
        let _ = self.mig_id;
        Ok(())
    }
}

/// Everything the deputy does, in the migrating process's own context.
#[inline(never)]
fn deputy_main(cluster: &Arc<Cluster>, dep: &Arc<Deputy>) {
    let mig = &cluster.mig;
    let t0 = crate::ksys::sys::now_ms();
    let captured = capture(cluster, dep);
    if let Err(e) = captured {
        pr_warn!(
            "migrate {} to node {}: capture failed: error {}; it stays home\n",
            dep.pid,
            dep.target,
            e.to_errno()
        );
        // Tell the target to drop what it got.
        let p = Pair {
            mig_id: dep.mig_id,
            value: 9,
        };
        let _ = cluster.send_to(dep.target, MessageKind::GuestSignal, &p.encode(), false);
        mig.out_failed.fetch_add(1, Relaxed);
        mig.forget_deputy(dep);
        return;
    }
    let pages = captured.unwrap_or(0);
    // Wait for the answer.
    let sent = crate::ksys::sys::now_ms();
    loop {
        let st = *dep.state.lock();
        match st {
            DepState::Sending => {
                if !cluster.peer_up(dep.target)
                    || crate::ksys::sys::now_ms().saturating_sub(sent) > ANSWER_MS
                {
                    pr_warn!(
                        "migrate {} to node {}: no answer; it stays home\n",
                        dep.pid,
                        dep.target
                    );
                    let p = Pair {
                        mig_id: dep.mig_id,
                        value: 9,
                    };
                    let _ =
                        cluster.send_to(dep.target, MessageKind::GuestSignal, &p.encode(), false);
                    mig.out_failed.fetch_add(1, Relaxed);
                    mig.forget_deputy(dep);
                    return;
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
                    dep.target,
                    e
                );
                mig.out_failed.fetch_add(1, Relaxed);
                mig.forget_deputy(dep);
                return;
            }
            DepState::Remote(gpid) => {
                pr_info!(
                    "process {} now runs on node {} (pid {} there; {} KiB of pages, frozen {} ms)\n",
                    dep.pid,
                    dep.target,
                    gpid,
                    pages * (PAGE_SIZE as u64 / 1024),
                    crate::ksys::sys::now_ms().saturating_sub(t0)
                );
                mig.out_ok.fetch_add(1, Relaxed);
                break;
            }
            DepState::Exited(_) => break,
        }
    }
    // The guest runs: this process is its deputy from now on and never returns to user mode.
    release_user_memory();
    let status = serve(cluster, dep);
    mig.forget_deputy(dep);
    cur::exit(status);
}

/// Forwards signals to the guest until it ends; returns its wait status.
#[inline(never)]
fn serve(cluster: &Cluster, dep: &Deputy) -> u32 {
    loop {
        if let DepState::Exited(s) = *dep.state.lock() {
            return s;
        }
        if cur::fatal_signal_pending() {
            // A signal whose default action kills (or SIGKILL) was sent to the home pid: the
            // guest dies of the same signal, and so does the deputy.
            let code = match cur::group_exit_code() & 0x7f {
                0 => 9,
                sig => sig,
            };
            let p = Pair {
                mig_id: dep.mig_id,
                value: code,
            };
            let _ = cluster.send_to(dep.target, MessageKind::GuestSignal, &p.encode(), false);
            return code;
        }
        loop {
            let sig = cur::dequeue_signal();
            if sig == 0 {
                break;
            }
            let p = Pair {
                mig_id: dep.mig_id,
                value: sig,
            };
            let _ = cluster.send_to(dep.target, MessageKind::GuestSignal, &p.encode(), true);
        }
        if !cluster.peer_up(dep.target) {
            pr_warn!(
                "process {}: node {} went down with its guest: killed\n",
                dep.pid,
                dep.target
            );
            return 9;
        }
        let mut g = dep.state.lock();
        if !matches!(*g, DepState::Exited(_)) {
            let _ = dep
                .cv
                .wait_interruptible_timeout(&mut g, msecs_to_jiffies(POLL_MS));
        }
    }
}

/// Unmaps every ordinary area of the calling process (a deputy keeps no user memory).
fn release_user_memory() {
    let mut addr = 0;
    while let Ok(Some(a)) = cur::area_after(addr) {
        addr = a.end;
        if !a.special {
            let _ = cur::unmap(a.start, a.end - a.start);
        }
    }
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

/// Adds the signal state (kept off the stack: it is 2 KiB, twice).
#[inline(never)]
fn capture_signals(tx: &mut ImageSender<'_>) -> Result {
    let mut s = cur::SigState::new()?;
    cur::signals(&mut s);
    let mut sig = KBox::new(
        image::Signals {
            blocked: s.blocked,
            pending: 0,
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
    Ok(())
}

/// Captures the calling process and streams it to the target; returns the pages sent.
#[inline(never)]
fn capture(cluster: &Cluster, dep: &Deputy) -> Result<u64> {
    let mut tx = ImageSender::new(cluster, dep.target, dep.mig_id)?;
    let layout = cur::mm_layout()?;

    // Check every area before sending anything.
    let mut addr = 0;
    while let Some(a) = cur::area_after(addr)? {
        addr = a.end;
        if !a.special && area_refused(&a) {
            pr_warn!(
                "migrate {}: stays home: shared writable or device mapping at {:#x}\n",
                dep.pid,
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
        home_node: cluster.self_id(),
        home_pid: dep.pid as u32,
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

    capture_signals(&mut tx)?;
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

// --- Restore (host, in the guest stub) --------------------------------------------------------

/// Takes the next record of the queue through the image reader and keeps what the restore needs
/// before the memory is replaced. `Ok(None)` when nothing is queued.
#[inline(never)]
fn take_record(g: &Guest, q: &mut GuestQueue) -> Result<Option<()>> {
    let Some(rec) = next_raw(q) else {
        return Ok(None);
    };
    let (h, body) = (rec.0, &rec.1[..]);
    match q.reader.feed(h, body) {
        Ok(Record::Begin(b)) => q.begin = Some(b),
        Ok(Record::Regs(r)) => q.regs = Some(r.r),
        Ok(Record::Xstate(x)) => {
            q.xstate.clear();
            q.xstate.extend_from_slice(x, GFP_KERNEL)?;
        }
        Ok(Record::Mm(m)) => q.mm = Some(m.v),
        Ok(_) => {
            // Later records are applied by the restore itself, which takes them one by one.
            pr_warn!("guest from node {}: image out of order\n", g.home);
            return Err(EINVAL);
        }
        Err(e) => {
            pr_warn!("guest from node {}: bad image: {}\n", g.home, Disp(&e));
            return Err(EINVAL);
        }
    }
    Ok(Some(()))
}

/// Pops the next whole record (header and body) from the queue.
#[inline(never)]
fn next_raw(q: &mut GuestQueue) -> Option<(RecordHeader, KVec<u8>)> {
    loop {
        let (part, taken) = q.parts.first_mut()?;
        if *taken >= part.len() {
            let _ = q.parts.remove(0);
            continue;
        }
        let mut it = Records::new(&part[*taken..]);
        let (h, body) = match it.next()? {
            Ok(x) => x,
            Err(_) => {
                // A malformed part: make the reader refuse it as a whole.
                let len = part.len() - *taken;
                q.bytes -= len.min(q.bytes);
                let _ = q.parts.remove(0);
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
        q.bytes -= used.min(q.bytes);
        return Some((h, v));
    }
}

/// Waits for and returns the next record, checked.
fn next_record(g: &Guest) -> Result<(RecordHeader, KVec<u8>)> {
    let mut q = g.q.lock();
    let t0 = crate::ksys::sys::now_ms();
    loop {
        if q.aborted {
            return Err(ecanceled());
        }
        if let Some(r) = next_raw(&mut q) {
            drop(q);
            g.cv.notify_all();
            return Ok(r);
        }
        if crate::ksys::sys::now_ms().saturating_sub(t0) > ANSWER_MS {
            return Err(ETIMEDOUT);
        }
        let _ =
            g.cv.wait_interruptible_timeout(&mut q, msecs_to_jiffies(POLL_MS));
        if cur::fatal_signal_pending() {
            return Err(EINTR);
        }
    }
}

/// The restore, in the stub's context: see the module documentation.
#[inline(never)]
fn restore_guest(g: &Guest) -> Result {
    let (begin, regs, mm) = {
        let q = g.q.lock();
        match (q.begin, q.regs, q.mm) {
            (Some(b), Some(r), Some(m)) => (b, r, m),
            _ => return Err(EINVAL),
        }
    };
    // The FPU state must be in this node's own format.
    let xstate_ok = {
        let q = g.q.lock();
        cur::with_fpu(|buf, xf| {
            if xf != begin.xfeatures || buf.len() != q.xstate.len() {
                return false;
            }
            let x = &q.xstate;
            let at = image::XSAVE_HEADER + 8;
            buf[at..at + 8] == x[at..at + 8]
        })
    };
    if !xstate_ok {
        pr_warn!(
            "guest from node {}: FPU state format differs from this node's\n",
            g.home
        );
        return Err(EINVAL);
    }
    // The stub must have put its vDSO where the image has it.
    let here = cur::mm_layout()?;
    if mm[11] != 0 && here[11] != mm[11] {
        pr_warn!("guest from node {}: vDSO not at {:#x}\n", g.home, mm[11]);
        return Err(EINVAL);
    }

    // Replace the stub's memory: everything but the special mappings goes.
    let mut addr = 0;
    while let Some(a) = cur::area_after(addr)? {
        addr = a.end;
        if !a.special {
            cur::unmap(a.start, a.end - a.start)?;
        }
    }

    let mut sig = None;
    let mut limits = None;
    let mut misc = None;
    loop {
        let (h, body) = next_record(g)?;
        let rec = {
            let mut q = g.q.lock();
            match q.reader.feed(h, &body) {
                Ok(r) => copy_record(r)?,
                Err(e) => {
                    pr_warn!("guest from node {}: bad image: {}\n", g.home, Disp(&e));
                    return Err(EINVAL);
                }
            }
        };
        match rec {
            Owned::Vma(start, end, prot, kind) => {
                cur::map_anon(start, end - start, prot, kind == VmaKind::Stack)?
            }
            Owned::Pages(addr) => cur::write_user(addr, &body[8..])?,
            Owned::Signals => sig = Some(body),
            Owned::Limits(l) => limits = Some(l),
            Owned::Misc(m) => misc = Some(m),
            Owned::End => break,
            Owned::Other => return Err(EINVAL),
        }
    }

    let m11: [u64; 11] = core::array::from_fn(|i| mm[i]);
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
    cur::set_comm(&begin.comm);
    cur::drop_privileges(NOBODY, NOBODY)?;
    // Nothing of the stub's stays open: a guest's files are at home.
    cur::close_all_files();

    // Registers and FPU state are loaded on the way back to user mode, after this write's
    // return value was stored.
    let mut xstate = KVec::new();
    xstate.extend_from_slice(&g.q.lock().xstate, GFP_KERNEL)?;
    let me = Task::current();
    me.queue_work(
        move || {
            let mut pt = cur::regs();
            // r15 ... rdi and rip, flags, rsp from the image; orig_ax -1 (no syscall to
            // restart); cs and ss stay this node's user segments.
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
                    buf.copy_from_slice(&xstate);
                }
            });
        },
        false,
    )?;
    Ok(())
}

/// What the restore keeps of a record once the reader has checked it.
enum Owned {
    Vma(u64, u64, u8, VmaKind),
    Pages(u64),
    Signals,
    Limits(image::Limits),
    Misc(image::Misc),
    End,
    Other,
}

fn copy_record(r: Record<'_>) -> Result<Owned> {
    Ok(match r {
        Record::Vma(v) => Owned::Vma(v.start, v.end, v.prot, v.kind),
        Record::Pages { addr, .. } => Owned::Pages(addr),
        Record::Signals(_) => Owned::Signals,
        Record::Limits(l) => Owned::Limits(l),
        Record::Misc(m) => Owned::Misc(m),
        Record::End(_) => Owned::End,
        _ => Owned::Other,
    })
}
