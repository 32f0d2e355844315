// SPDX-License-Identifier: GPL-2.0

//! A guest arriving on this host: the first frame of its image makes its slot and starts the
//! guest stub (`/lib/openmosix/omx-guest`, the `omctl` binary) as a user-mode helper. The stub
//! puts its vDSO where the image had it (it reads `/proc/openmosix/guest`), drops every
//! privilege itself (guests run as `nobody`: `setresuid` and friends, so the kernel charges it
//! to that user), confines itself, then writes `restore` there: in that write, in the stub's
//! own context, the module checks that the writer is its stub and unprivileged, the image
//! replaces the stub's memory and state, and the registers are loaded on its return to user
//! mode. The `omx-mig` thread reports ended guests
//! to their home and kills guests whose home went down ([`Migrations::watch_guests`]).
//!
//! Lock order (as in `migrate.rs`): `Migrations::guests`, then a `Guest::inner`, then the
//! mesh's locks; the restore and the stub's waits hold no list lock.

use super::config::{
    ANSWER_MS, GUEST_QUEUE_BYTES, MAX_ARRIVING, MAX_ARRIVING_PER_PEER, MAX_EXPECTED, MAX_GUESTS,
    STUB_PATH,
};
use super::guest::{Expected, Guest, GuestInner, GuestState};
use super::restore::{check_head, load_regs, restore_body, Restoring};
use super::stream::{image_part, read_head, wait_for_room, wait_record, Inflow};
use super::Migrations;
use crate::error;
use crate::ksys::cstr_fmt;
use crate::ksys::errno::{ebadmsg, ehostunreach, enotconn};
use crate::ksys::proc;
use crate::ksys::sys::now_ms;
use crate::ksys::task::{self, cur, ModuleRef, Task};
use crate::ksys::thread;
use crate::omcore::frame::MessageKind;
use crate::omcore::image::{Kind, RecordHeader, MM_VDSO};
use crate::omcore::mig::{Exit, MigResult, Pair};
use crate::omcore::syscalls::sig::SIGKILL;
use crate::userlog::peer_warn;
use core::fmt::Write;
use core::sync::atomic::Ordering::Relaxed;
use kernel::prelude::*;
use kernel::sync::Arc;

/// User and group guests run as on their host; the stub drops to them before the restore.
const NOBODY: u32 = 65534;

impl Migrations {
    /// `MigImage` from `peer`: a new guest's first records, or more of them; or, when the home
    /// named is this node, a process of this node coming back.
    #[inline(never)]
    pub(crate) fn on_image(&self, peer: u32, payload: KVec<u8>) -> error::Result {
        let (home, mig_id, at) = image_part(&payload)?;
        if home == self.mesh.self_id() {
            if let Some(ck) = self.ckpt_stream(peer, mig_id) {
                return Ok(self.on_ckpt_image(&ck, payload, at)?);
            }
            return self.on_image_home(peer, mig_id, payload, at);
        }
        let g = match self.guest(home, mig_id) {
            Some(g) if g.src == peer => g,
            Some(_) => return Err(ebadmsg().into()),
            None => {
                let first = RecordHeader::decode(&payload[at..])?;
                if first.kind != Kind::Begin {
                    // The rest of an image whose guest was given up: drop it.
                    return Ok(());
                }
                return Ok(self.new_guest(peer, home, mig_id, payload, at)?);
            }
        };
        let q = g.inner.lock();
        let mut q = wait_for_room(&g.cv, q, |q| {
            q.state == GuestState::Arriving && q.img.bytes > GUEST_QUEUE_BYTES
        });
        if q.state != GuestState::Arriving {
            return Ok(());
        }
        q.img.push(payload, at)?;
        drop(q);
        g.cv.notify_all();
        Ok(())
    }

    /// `MigCtl Expect` from `home`: the image of its migration `mig_id` will come from `from`.
    pub(crate) fn expect(&self, home: u32, mig_id: u32, from: u32) -> Result {
        let now = now_ms();
        let mut list = self.expected.lock();
        list.retain(|e| e.until > now && !(e.home == home && e.mig_id == mig_id));
        if list.len() >= MAX_EXPECTED {
            list.remove(0)?;
        }
        list.push(
            Expected {
                home,
                mig_id,
                from,
                until: now + 2 * ANSWER_MS,
            },
            GFP_KERNEL,
        )?;
        Ok(())
    }

    /// Takes the announcement of migration `mig_id` of `home` from `from`, if there is one.
    fn take_expected(&self, home: u32, mig_id: u32, from: u32) -> bool {
        let now = now_ms();
        let mut list = self.expected.lock();
        let found = list
            .iter()
            .position(|e| e.home == home && e.mig_id == mig_id && e.from == from && e.until > now);
        if let Some(i) = found {
            let _ = list.remove(i);
        }
        found.is_some()
    }

    #[inline(never)]
    fn new_guest(&self, peer: u32, home: u32, mig_id: u32, payload: KVec<u8>, at: usize) -> Result {
        let refuse = |errno: Error| {
            self.in_failed.fetch_add(1, Relaxed);
            self.report_failure(home, mig_id, errno, false);
            Ok(())
        };
        if peer != home && !self.take_expected(home, mig_id, peer) {
            // A node may send its own processes, and guests of others only as their homes
            // said: it cannot start guests in another node's name.
            // The home hears nothing of it: it may be moving a guest of that name itself.
            peer_warn!(
                "guest from node {} refused: node {}, its home, did not announce it\n",
                peer,
                home
            );
            self.in_failed.fetch_add(1, Relaxed);
            return Ok(());
        }
        if self.mesh.blocks_guests() {
            pr_info!("guest from node {} refused: admin/block is set\n", peer);
            return refuse(EAGAIN);
        }
        let Some(home_link) = self.mesh.link(home) else {
            pr_info!(
                "guest from node {} refused: its home, node {}, is not up\n",
                peer,
                home
            );
            return refuse(ehostunreach());
        };
        let mut img = Inflow::new();
        img.push(payload, at)?;
        let g = Arc::pin_init(Guest::new(home, home_link, peer, mig_id, img), GFP_KERNEL)?;
        if let Err(why) = self.admit(&g) {
            peer_warn!("guest from node {} refused: {}\n", peer, why);
            return refuse(EAGAIN);
        }
        let mut arg = [0u8; 24];
        let arg = cstr_fmt(&mut arg, format_args!("{}:{}", home, mig_id));
        let gs = g.clone();
        let mut init = move || -> Result {
            let mut q = gs.inner.lock();
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
            self.forget_guest(&g);
            return refuse(e);
        }
        Ok(())
    }

    /// Adds `g`, arriving, to the guests, unless as many guests as allowed are arriving (in all,
    /// or from its peer: each has a stub running as root until its restore) or are here: then
    /// says why. Counted and added under one lock, so that two peers cannot both pass.
    fn admit(&self, g: &Arc<Guest>) -> core::result::Result<(), &'static str> {
        let mut list = self.guests.lock();
        if list.len() >= MAX_GUESTS {
            return Err("this node hosts as many guests as it may");
        }
        let (mut arriving, mut from_peer) = (0, 0);
        for other in list.iter() {
            if other.inner.lock().state == GuestState::Arriving {
                arriving += 1;
                if other.src == g.src {
                    from_peer += 1;
                }
            }
        }
        if arriving >= MAX_ARRIVING || from_peer >= MAX_ARRIVING_PER_PEER {
            return Err("too many guests arriving at once");
        }
        list.push(g.clone(), GFP_KERNEL)
            .map_err(|_| "out of memory")
    }

    /// The guest slot whose stub is the calling task.
    fn my_guest(&self) -> Option<Arc<Guest>> {
        self.guests
            .lock()
            .iter()
            .find(|g| g.inner.lock().task.as_ref().is_some_and(|t| t.is_current()))
            .cloned()
    }

    /// Read of `/proc/openmosix/guest` by a stub: where its vDSO must go, and the offsets of
    /// the time namespace that continues the process's clocks (lines as
    /// `/proc/PID/timens_offsets` takes them).
    #[inline(never)]
    pub(crate) fn stub_info(&self, out: &mut impl Write) -> Result {
        let g = self.my_guest().ok_or(EPERM)?;
        let known = g
            .inner
            .lock()
            .head
            .as_ref()
            .map(|h| (h.mm[MM_VDSO], h.begin.clock_offsets(cur::clocks(false))));
        let (vdso, offsets) = match known {
            Some(v) => v,
            None => {
                let mut next = || wait_record(&g.inner, &g.cv, g.src, GuestInner::inflow);
                let head = read_head(&mut next)?;
                let v = (
                    head.mm[MM_VDSO],
                    head.begin.clock_offsets(cur::clocks(false)),
                );
                g.inner.lock().head = Some(head);
                v
            }
        };
        let _ = writeln!(out, "vdso {:#x}", vdso);
        for (name, o) in ["monotonic", "boottime"].iter().zip(offsets) {
            let _ = writeln!(out, "{} {} {}", name, o.secs, o.nsecs);
        }
        Ok(())
    }

    /// Write of `restore` to `/proc/openmosix/guest` by a stub: becomes the guest.
    #[inline(never)]
    pub(crate) fn restore(self: &Arc<Self>) -> Result {
        let g = self.my_guest().ok_or(EPERM)?;
        // The restore goes at the CPU's pace; the guest then runs at the stub's nice value.
        let boost = thread::Boost::new();
        let restored = restore_guest(&g);
        drop(boost);
        let r = restored.and_then(|()| {
            // From here the guest counts as running (its exit gives the count back), and its
            // system calls must be hooked before it returns to user mode.
            let module = ModuleRef::get();
            // Its deputy blocks what the image says it blocked.
            g.mask_mirrored.store(cur::blocked_mask(), Relaxed);
            let mut q = g.inner.lock();
            // INVARIANT (`GuestInner::module`): set and counted together.
            if module.is_some() {
                self.hosting.insert(q.pid);
                // Its /proc/PID too, as its entry in the listing (`hide.rs`).
                if !proc::hide_pid(q.pid) {
                    pr_warn!("guest {}: /proc/{} not hidden (too many)\n", q.pid, q.pid);
                }
            }
            q.module = module;
            drop(q);
            self.ensure_hooks()
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
            let mut q = g.inner.lock();
            q.state = if r.is_ok() {
                GuestState::Running
            } else {
                GuestState::Gone
            };
            q.img = Inflow::new();
        }
        g.cv.notify_all();
        if self
            .mesh
            .send_to(g.home, MessageKind::MigResult, &result.encode(), true)
            .is_err()
        {
            pr_warn!("guest from node {}: home unreachable, killed\n", g.home);
            Task::current().signal(SIGKILL);
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
                Task::current().signal(SIGKILL);
                Err(e)
            }
        }
    }

    /// `GuestSignal` from `peer`: signal a guest (or, before it runs, give it up).
    #[inline(never)]
    pub(crate) fn on_signal(&self, peer: u32, payload: &[u8]) -> error::Result {
        let x = Pair::decode_signal(payload)?;
        let Some(g) = self.guest(peer, x.mig_id) else {
            return Ok(());
        };
        let mut q = g.inner.lock();
        if q.state == GuestState::Arriving {
            q.give_up();
        } else if let Some(t) = &q.task {
            match x.from {
                // Its handler sees the siginfo it had at home (sender, child's status...).
                Some(f) => t.signal_with(x.value, &f),
                None => t.signal(x.value),
            }
        }
        drop(q);
        g.cv.notify_all();
        Ok(())
    }

    /// Guests whose task ended (their home gets the status), whose home went down (killed), or
    /// whose stub never started in time (dropped).
    pub(crate) fn watch_guests(&self) {
        let now = now_ms();
        let Ok(guests) = self.all_guests() else {
            return;
        };
        for g in guests.iter() {
            let mut q = g.inner.lock();
            let home_up = g.home_linked(&self.mesh);
            let mut done = false;
            let exited = q.task.as_ref().map(|t| t.exit_code());
            if let Some(exit) = exited {
                if let Some(code) = exit {
                    // What it used here, for its home's account.
                    let t_cpu = q.task.as_ref().map_or([0, 0], |t| t.cputime());
                    if q.module.take().is_some() {
                        self.hosting.remove(q.pid);
                        proc::unhide_pid(q.pid);
                    }
                    match q.state {
                        GuestState::Arriving => {
                            // The stub ended before the restore: the home must not wait for it.
                            pr_warn!(
                                "guest from node {}: stub ended with status {:#x}\n",
                                g.home,
                                code
                            );
                            self.report_failure(g.home, g.mig_id, ECHILD, false);
                            self.in_failed.fetch_add(1, Relaxed);
                        }
                        GuestState::Running | GuestState::Departing => {
                            let p = Exit {
                                mig_id: g.mig_id,
                                status: code & 0xffff,
                                away_cpu_ns: q.cpu_away(t_cpu),
                            };
                            let _ = self.mesh.send_to(
                                g.home,
                                MessageKind::GuestExit,
                                &p.encode(),
                                false,
                            );
                        }
                        GuestState::Gone => {}
                    }
                    done = true;
                } else if !home_up && q.state != GuestState::Gone {
                    pr_warn!(
                        "guest from node {} killed: its home {}\n",
                        g.home,
                        match self.mesh.peer_up(g.home) {
                            true => "dropped the connection it lived on",
                            false => "is down",
                        }
                    );
                    q.give_up();
                }
            } else if !home_up || now.saturating_sub(q.created_ms) > ANSWER_MS {
                done = true;
            }
            drop(q);
            if done {
                self.forget_guest(g);
            }
            g.cv.notify_all();
        }
    }
}

/// The restore, in the stub's context: see the module documentation.
#[inline(never)]
fn restore_guest(g: &Guest) -> Result {
    if !cur::runs_as(NOBODY, NOBODY) {
        // The stub drops every privilege with the ordinary system calls before it asks for the
        // restore: the image is restored by an unprivileged task (the kernel's own checks
        // apply to what it maps), and the guest is charged to the user it runs as.
        pr_warn!(
            "guest from node {}: the stub still has privileges; restore refused\n",
            g.src
        );
        return Err(EPERM);
    }
    if !cur::seccomp_filtered() {
        // The stub installs the guest's seccomp filter before it asks for the restore: a
        // guest never runs without it.
        pr_warn!(
            "guest from node {}: the stub has no system-call filter; restore refused\n",
            g.src
        );
        return Err(EPERM);
    }
    let head = g.inner.lock().head.take().ok_or(EINVAL)?;
    if head.begin.home_node != g.home {
        pr_warn!(
            "guest from node {}: image names node {} as home\n",
            g.src,
            head.begin.home_node
        );
        return Err(EINVAL);
    }
    check_head(&head, g.src)?;
    let mut next = || wait_record(&g.inner, &g.cv, g.src, GuestInner::inflow);
    let r = restore_body(&mut next, &head, Restoring::Guest, g.src);
    // What `show` and the system-call hooks read.
    g.inner.lock().home_pid = head.begin.home_pid;
    let (cpu_before, home_uid) = r?;
    {
        let mut q = g.inner.lock();
        q.cpu_before = cpu_before;
        q.home_uid = home_uid;
    }
    // Nothing of the stub's stays open: a guest's files are at home.
    cur::close_all_files();

    // Registers and FPU state are loaded on the way back to user mode, after this write's
    // return value was stored.
    Task::current().queue_work(move || load_regs(&head.regs, &head.xstate), false)?;
    Ok(())
}
