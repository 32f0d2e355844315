// SPDX-License-Identifier: GPL-2.0

//! A guest: a process hosted on this node for another node, its home. Its slot exists from the
//! first frame of its image on; the stub task it runs in is started then, and becomes the
//! process when the image is restored (`arrive.rs`). This file is the object and its state.

use super::stream::{Head, Inflow};
use crate::ksys::errno::ecanceled;
use crate::ksys::sys::now_ms;
use crate::ksys::task::{ModuleRef, Task};
use crate::mesh::Mesh;
use crate::omcore::image::PAGE_SIZE;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64};
use kernel::prelude::*;
use kernel::sync::{new_condvar, new_mutex, CondVar, Mutex};

/// Where a guest stands.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum GuestState {
    /// Its image is coming; the stub starts or restores it.
    Arriving,
    /// Restored: it runs here.
    Running,
    /// It is moving on (or home): its capture runs, or it waits for the home's verdict.
    Departing,
    /// Given up (by its home, a failed restore, the loss of its home, the module's removal)
    /// or moved on: it is to stop, and its home hears nothing more of it from here.
    Gone,
}

/// The pages read with the last page a guest's areas faulted on (`homefile.rs`): up to
/// `fwd::home::MAX_READ` bytes of file `id` from page `first`. The next faults in them are
/// served from here (a bounded read-ahead: a program reading a mapping in order waits for one
/// round trip per 16 pages).
pub(crate) struct Ahead {
    pub(crate) id: u16,
    pub(crate) first: u64,
    pub(crate) data: KVec<u8>,
}

impl Ahead {
    /// Page `pgoff` of file `id` (shorter at the end of the file), if it was read.
    pub(crate) fn page(&self, id: u16, pgoff: u64) -> Option<&[u8]> {
        let at = usize::try_from(pgoff.checked_sub(self.first)?)
            .ok()?
            .checked_mul(PAGE_SIZE)?;
        if id != self.id || at >= self.data.len() {
            return None;
        }
        self.data.get(at..(at + PAGE_SIZE).min(self.data.len()))
    }
}

/// The fields of a [`Guest`] under its lock.
pub(crate) struct GuestInner {
    pub(crate) state: GuestState,
    /// The image, as it comes (empty once restored).
    pub(crate) img: Inflow,
    /// Its head records, once the stub asked where its vDSO goes; the restore takes them.
    pub(crate) head: Option<Head>,
    /// The process's pid at home, once restored.
    pub(crate) home_pid: u32,
    /// Its real user id at home (from the image).
    pub(crate) home_uid: u32,
    /// The stub task, once it started (then the guest itself).
    pub(crate) task: Option<Task>,
    /// Pid of the guest on this node (0 until the stub started).
    pub(crate) pid: u32,
    pub(crate) created_ms: u64,
    /// The reply to the guest's forwarded call, when it came.
    pub(crate) reply: Option<KVec<u8>>,
    /// Counter of the guest's forwarded calls.
    pub(crate) seq: u32,
    /// The home's verdict on a move (0 or -errno), while departing.
    pub(crate) verdict: Option<i32>,
    /// When a move home last failed (ms since boot; 0: never).
    pub(crate) home_failed_ms: u64,
    /// Holds the module from the restore until its exit is seen (its task work and hooks are
    /// module code); while it is held, `pid` is counted in `Migrations::hosting`.
    pub(crate) module: Option<ModuleRef>,
    /// CPU time the process used on other hosts since it left home (user, system, in ns).
    pub(crate) cpu_before: [u64; 2],
    /// The pages of a file at home read with the last one its areas faulted on
    /// (`homefile.rs`).
    pub(crate) ahead: Option<Ahead>,
    /// The home's process CPU clocks (`CPUCLOCK_PROF`, `VIRT`, `SCHED`, in ns), each read
    /// once on this host (`own::cpu_clock`).
    pub(crate) home_clock: [Option<u64>; 3],
    /// A checkpoint of the guest was asked for and its home has not released it yet
    /// (`checkpoint.rs`): after its capture it is held.
    pub(crate) saving: bool,
}

impl GuestInner {
    /// The CPU time the process used away from home (user, system, in ns): on other hosts,
    /// and `here`, its task's on this one.
    pub(crate) fn cpu_away(&self, here: [u64; 2]) -> [u64; 2] {
        [
            self.cpu_before[0].saturating_add(here[0]),
            self.cpu_before[1].saturating_add(here[1]),
        ]
    }

    /// Whether the system-call hooks act for this guest (restored, and its exit not seen yet).
    pub(crate) fn hooked(&self) -> bool {
        self.module.is_some()
    }

    /// Whether the calling task is this guest, restored.
    pub(crate) fn is_current(&self) -> bool {
        self.hooked() && self.task.as_ref().is_some_and(|t| t.is_current())
    }

    /// The image queue, unless the guest was given up.
    pub(crate) fn inflow(&mut self) -> Result<&mut Inflow> {
        if self.state == GuestState::Gone {
            return Err(ecanceled());
        }
        Ok(&mut self.img)
    }

    /// Gives the guest up and kills its task, if it has one.
    pub(crate) fn give_up(&mut self) {
        self.state = GuestState::Gone;
        if let Some(t) = &self.task {
            t.signal(crate::omcore::syscalls::sig::SIGKILL);
        }
    }
}

/// A guest's move from one host to this node, announced by its home (`MigCtl Expect`).
pub(crate) struct Expected {
    pub(crate) home: u32,
    pub(crate) mig_id: u32,
    pub(crate) from: u32,
    /// Forgotten after this (ms since boot): the move is given up by then.
    pub(crate) until: u64,
}

/// A process hosted here for another node.
///
/// # Invariants
///
/// `home`, `src` and `mig_id` never change: a guest that moves on gets a new slot on its new
/// host. `inner.state` only moves forward: `Arriving` to `Running` (or `Gone`), `Running` to
/// `Departing` and back, anything to `Gone`.
#[pin_data]
pub(crate) struct Guest {
    /// The guest's home node.
    pub(crate) home: u32,
    /// The node that sent its image (the home, or its last host).
    pub(crate) src: u32,
    /// The migration's name, given by the home.
    pub(crate) mig_id: u32,
    /// The connection to the home the guest lives on (see `Conn::link`): when it dies, the
    /// guest goes, as its deputy does (see `Deputy::host_linked`).
    pub(crate) home_link: u64,
    /// The blocked mask its deputy was last told of (see `hooks::mirror_mask`).
    pub(crate) mask_mirrored: AtomicU64,
    /// Forwarded calls queued as the guest's task work and not done yet (`hooks::queue_call`):
    /// a move waits for them, so that none is left half made (see `depart.rs`).
    pub(crate) calls_queued: AtomicU32,
    /// A forwarded call's request is being built, from the guest's memory, under the
    /// connection's send: a fault then cannot page from home (`homefile.rs`), which would send
    /// too.
    pub(crate) building: AtomicBool,
    #[pin]
    pub(crate) inner: Mutex<GuestInner>,
    /// Signalled on every change of `inner` that someone may wait for.
    #[pin]
    pub(crate) cv: CondVar,
}

impl Guest {
    /// A guest slot for migration `mig_id` of `home`, reached over the connection
    /// `home_link`, whose image comes from `src`.
    pub(crate) fn new(
        home: u32,
        home_link: u64,
        src: u32,
        mig_id: u32,
        img: Inflow,
    ) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            home,
            home_link,
            src,
            mig_id,
            mask_mirrored: AtomicU64::new(0),
            calls_queued: AtomicU32::new(0),
            building: AtomicBool::new(false),
            inner <- new_mutex!(
                GuestInner {
                    state: GuestState::Arriving,
                    img,
                    head: None,
                    home_pid: 0,
                    home_uid: 0,
                    task: None,
                    pid: 0,
                    created_ms: now_ms(),
                    reply: None,
                    seq: 0,
                    verdict: None,
                    home_failed_ms: 0,
                    cpu_before: [0, 0],
                    module: None,
                    ahead: None,
                    home_clock: [None; 3],
                    saving: false,
                },
                "Guest::inner"
            ),
            cv <- new_condvar!("Guest::cv"),
        })
    }

    /// Whether the connection to the home that the guest lives on is still up.
    pub(crate) fn home_linked(&self, mesh: &Mesh) -> bool {
        mesh.link(self.home) == Some(self.home_link)
    }
}
