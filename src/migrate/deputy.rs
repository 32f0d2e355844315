// SPDX-License-Identifier: GPL-2.0

//! The deputy: a home process that is migrating, or whose guest runs on another node. It stays
//! in the process's own task at home, keeps its pid, files, cwd, credentials, terminal and
//! parent, makes the guest's forwarded calls and forwards its signals (the deputy at work is in
//! `serve.rs`; this file is the object and its state).

use super::ckpt::Revival;
use super::stream::{Held, Inflow};
use crate::ksys::copy_exact;
use crate::ksys::homemap::HomeFile;
use crate::ksys::task::{ModuleRef, Task};
use crate::mesh::Mesh;
use crate::omcore::frame::MessageKind;
use crate::omcore::fwd;
use crate::omcore::image::{HOME_MAY_WRITE, MAX_HOME_FILES};
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use kernel::prelude::*;
use kernel::sync::{new_condvar, new_mutex, Arc, CondVar, Mutex};

/// Where a migration of a home process stands.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum DeputyState {
    /// Image on its way; no answer yet.
    Sending,
    /// The guest runs on the target with this pid there.
    Remote(u32),
    /// The target refused or failed (negative errno).
    Failed(i32),
    /// The guest ended with this wait status.
    Exited(u32),
}

/// A move of a running guest, asked of its host and not answered yet.
#[derive(Clone, Copy)]
pub(crate) struct Hop {
    /// Where the guest goes, and the migration's name there.
    pub(crate) target: u32,
    pub(crate) mig_id: u32,
    /// The target is this node: the guest comes home.
    pub(crate) home: bool,
    /// When the move was asked (ms since boot).
    pub(crate) since: u64,
    /// The pid of the task that asked for it (`/proc/openmosix/moves`).
    pub(crate) asked_by: u32,
    /// When the old host last said how far the image got (`MigCtl Progress`), and what it
    /// said (KiB); `since` and `None` until it did.
    pub(crate) heard: u64,
    pub(crate) kib: Option<u32>,
}

/// The files at home that a process's areas page from (`homefile.rs`): id `i + 1` is
/// `files[i]`.
#[derive(Default)]
pub(crate) struct HomeFiles {
    files: KVec<Arc<HomeFile>>,
}

impl HomeFiles {
    /// The id of `f` in the table, added if it is not in it yet.
    pub(crate) fn add(&mut self, f: HomeFile) -> Result<u16> {
        if let Some(i) = self.files.iter().position(|g| g.same(&f)) {
            return Ok(i as u16 + 1);
        }
        if self.files.len() >= usize::from(MAX_HOME_FILES) {
            return Err(ENFILE);
        }
        self.files.push(Arc::new(f, GFP_KERNEL)?, GFP_KERNEL)?;
        Ok(self.files.len() as u16)
    }

    /// The file of id `id` (a home file field: `image::HOME_MAY_WRITE` does not count).
    pub(crate) fn get(&self, id: u16) -> Option<Arc<HomeFile>> {
        let id = id & !HOME_MAY_WRITE;
        self.files.get(usize::from(id).checked_sub(1)?).cloned()
    }
}

/// A forwarded call from the guest, checked when it came, not made yet.
pub(crate) struct Call {
    /// The `Syscall` payload as it came.
    pub(crate) payload: KVec<u8>,
    /// The request in it, decoded and checked once.
    pub(crate) req: fwd::Parsed,
}

/// A forwarded call being made by the deputy; or, while its [`JobStop`] is `Stopping` or
/// `Back`, the calls of its stop, whose result no guest waits for.
pub(crate) struct Exec {
    /// The guest's call counter for it.
    pub(crate) seq: u32,
    /// How its arguments are forwarded (looked up once, when the request came).
    pub(crate) spec: fwd::Spec,
    /// Where each output argument's buffer is in scratch memory, and its length.
    pub(crate) outs: [Option<(u64, usize)>; 6],
    /// The temporary signal mask the call left when a signal interrupted it (`pselect6`,
    /// `ppoll`, `epoll_pwait` with a mask): the signals it lets through go to the guest with
    /// the result. Set by the `sys_exit` hook.
    pub(crate) interrupted_under: Option<u64>,
}

/// The deputy's part in job control. A stop signal sent to the home pid whose action is the
/// default (`SIGSTOP`; `SIGTSTP`, `SIGTTIN`, `SIGTTOU` unless the guest catches or ignores them)
/// goes to the guest, which stops on its host, and the deputy stops at home with the same
/// signal, through the kernel's own stop: its parent's `waitpid(WUNTRACED)`, its shell's
/// `jobs` and `ps` see it stopped. `SIGCONT` continues the deputy, which sends it on to the
/// guest (`serve::stop_deputy`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum JobStop {
    /// Not stopping.
    Running,
    /// The guest was sent stop signal `.0`: the deputy stops with it once it has sent its
    /// batch of signals.
    Due(u32),
    /// At the trampoline, the deputy sends itself stop signal `.0` (`tgkill`), the only
    /// signal it does not block; the kernel stops it as that call returns.
    Stopping(u32),
    /// Continued (or not stopped after all: an orphaned process group's `SIGTSTP`): the
    /// trampoline's next call (`getpid`) brings it back to serving.
    Back,
}

/// The fields of a [`Deputy`] under its lock.
pub(crate) struct DeputyInner {
    pub(crate) state: DeputyState,
    /// The forwarded call from the guest, checked, not taken by the deputy yet.
    pub(crate) call: Option<Call>,
    /// The guest's call outstanding, from its request until its reply goes: at most one.
    pub(crate) slot: fwd::CallSlot,
    /// The call the deputy is making in user mode, if any.
    pub(crate) exec: Option<Exec>,
    /// The deputy task, once it serves.
    pub(crate) task: Option<Task>,
    /// Start of the deputy's scratch memory: the trampoline page, then data (0: none).
    pub(crate) scratch: u64,
    /// Holds the module while the deputy serves (its code runs in the deputy).
    pub(crate) module: Option<ModuleRef>,
    /// The guest is moving on (or home), if it is.
    pub(crate) hop: Option<Hop>,
    /// The image of a guest coming home, as it comes.
    pub(crate) inflow: Option<Inflow>,
    /// The guest's host went down during a forwarded call: the deputy was woken out of it to
    /// restart the process, or (`doomed`) sent SIGKILL; when (`now_ms`).
    pub(crate) host_lost: bool,
    pub(crate) lost_at_ms: u64,
    /// The deputy is to end with SIGKILL, not restart its process.
    pub(crate) doomed: bool,
    /// A save of the guest is under way (its host was asked to capture it).
    pub(crate) saving: bool,
    /// The deputy is sending signals it took off itself to the guest (without this lock
    /// held): a move of the guest does not start until they are sent.
    pub(crate) signalling: bool,
    /// A move its host asked for while the deputy was `signalling`: the deputy starts it
    /// once its signals are sent (the host's `omx-rx` thread does not wait for them).
    pub(crate) move_asked: Option<u32>,
    /// Job control: whether the deputy is stopping, stopped, or on its way back.
    pub(crate) job: JobStop,
    /// Back from a stop: its guest, sent `SIGSTOP`, is to be continued, whether or not the
    /// `SIGCONT` that continued the deputy is still queued for it to forward (a stop signal
    /// sent after the `SIGCONT` takes that out of the queue, as the kernel does to any
    /// process, while the deputy has yet to forward it).
    pub(crate) continued: bool,
    /// The CPU time its guest used away from home (user, system, in ns), once it `Exited`.
    pub(crate) exited_cpu_ns: [u64; 2],
    /// The files its guest's areas page from (`homefile.rs`).
    pub(crate) files: HomeFiles,
    /// Its host went down and it waits for an image to restart the process from
    /// (`revive.rs`).
    pub(crate) reviving: bool,
    /// That image, once the helper handed it over (`handed`: it was, even if taken since).
    pub(crate) revival: Option<Revival>,
    pub(crate) handed: bool,
}

impl DeputyInner {
    /// Whether the calling task is this deputy, making a forwarded call.
    pub(crate) fn is_calling(&self) -> bool {
        self.exec.is_some() && self.task.as_ref().is_some_and(|t| t.is_current())
    }

    /// Whether a capture of the guest was asked (a move or a save): a forwarded call the deputy
    /// starts then is made as if a signal came as it started (`hooks.rs`), so that none the
    /// capture waits for can block: one that would wait answers `ERESTARTSYS` at once (the
    /// guest makes it again), one that does not (a part of a long read of a file) is made.
    pub(crate) fn capture_due(&self) -> bool {
        self.hop.is_some() || self.saving
    }

    /// Whether the guest's image is coming home (a move home whose first records came).
    pub(crate) fn coming_home(&self) -> bool {
        self.hop.is_some_and(|h| h.home) && self.inflow.is_some()
    }

    /// The image a deputy receives, unless the move was given up.
    pub(crate) fn inflow(&mut self) -> Result<&mut Inflow> {
        match (&self.hop, &mut self.inflow) {
            (Some(_), Some(img)) => Ok(img),
            _ => Err(crate::ksys::errno::ecanceled()),
        }
    }
}

/// A home process that is migrating or whose guest runs elsewhere.
///
/// # Invariants
///
/// `mig_id`, `target` and `link` name the guest's current migration, its host and the
/// connection to the host the migration lives on. They change together, only with
/// `Migrations::deputies` locked ([`Deputy::set_route`]), so that a lookup by `(target, mig_id)`
/// under that lock sees both or neither. `inner.module` is set exactly while `pid` is counted
/// in `Migrations::serving`.
#[pin_data]
pub(crate) struct Deputy {
    /// The process's pid (and thread id) at home.
    pub(crate) pid: i32,
    /// The pid of the task that asked for the first move (`/proc/openmosix/moves`).
    pub(crate) asked_by: u32,
    mig_id: AtomicU32,
    target: AtomicU32,
    link: AtomicU64,
    /// The guest's blocked signal mask as it last told (at first, the process's at the
    /// move): the deputy blocks these signals during the guest's forwarded calls, and those
    /// of them whose action is `SIG_DFL` the rest of the time (see `serve::deputy_mask`).
    pub(crate) guest_blocked: AtomicU64,
    #[pin]
    pub(crate) inner: Mutex<DeputyInner>,
    /// Signalled on every change of `inner` that someone may wait for.
    #[pin]
    pub(crate) cv: CondVar,
}

impl Deputy {
    /// Sends its guest the reply to call `seq`: `result` and, with `out`, the contents of
    /// output argument `out.0` (from the kernel, not the scratch memory).
    pub(crate) fn reply(&self, mesh: &Mesh, seq: u32, result: i64, out: Option<(usize, &[u8])>) {
        let mut lens: fwd::Lens = [None; 6];
        if let Some((i, b)) = out {
            lens[i] = Some(b.len());
        }
        let _ = mesh.send_encoded(
            self.target(),
            MessageKind::SyscallReply,
            fwd::reply_len(&lens),
            true,
            |o| {
                let fill = |_: usize, dst: &mut [u8]| out.is_some_and(|(_, b)| copy_exact(dst, b));
                fwd::encode_reply_with(o, self.mig_id(), seq, result, &lens, fill).is_some()
            },
        );
    }

    /// A deputy for process `pid` migrating to `target` over the connection `link` (see
    /// `Conn::link`) as migration `mig_id`, as the task of pid `asked_by` asked.
    pub(crate) fn new(
        pid: i32,
        mig_id: u32,
        target: u32,
        link: u64,
        asked_by: u32,
    ) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            pid,
            asked_by,
            mig_id: AtomicU32::new(mig_id),
            target: AtomicU32::new(target),
            link: AtomicU64::new(link),
            guest_blocked: AtomicU64::new(0),
            inner <- new_mutex!(
                DeputyInner {
                    state: DeputyState::Sending,
                    call: None,
                    slot: fwd::CallSlot::new(),
                    exec: None,
                    task: None,
                    scratch: 0,
                    module: None,
                    hop: None,
                    inflow: None,
                    host_lost: false,
                    lost_at_ms: 0,
                    doomed: false,
                    saving: false,
                    signalling: false,
                    move_asked: None,
                    job: JobStop::Running,
                    continued: false,
                    exited_cpu_ns: [0, 0],
                    files: HomeFiles::default(),
                    reviving: false,
                    revival: None,
                    handed: false,
                },
                "Deputy::inner"
            ),
            cv <- new_condvar!("Deputy::cv"),
        })
    }

    /// Interrupts the forwarded call the deputy makes, if it makes one, as a signal would (a
    /// blocking `read` that has read nothing answers `ERESTARTSYS`, one that has, what it
    /// read): its guest, whose capture for a move or a save runs after its call's answer (both
    /// are its task work), is then captured even in a call that may block for ever. Call once
    /// the move (`hop`) or the save (`saving`) is set: a call started from then on is
    /// interrupted as it starts ([`DeputyInner::capture_due`]).
    pub(crate) fn interrupt_call(&self) {
        let i = self.inner.lock();
        if let (Some(_), Some(t)) = (&i.exec, &i.task) {
            let _ = t.queue_work(|| {}, true);
        }
    }

    /// The migration's current name.
    pub(crate) fn mig_id(&self) -> u32 {
        self.mig_id.load(Relaxed)
    }

    /// The node the guest runs on.
    pub(crate) fn target(&self) -> u32 {
        self.target.load(Relaxed)
    }

    /// The guest moved on to `target` (reached over the connection `link`) as migration
    /// `mig_id`; `_list` is the held lock of `Migrations::deputies` (see the type's invariants).
    pub(crate) fn set_route(
        &self,
        _list: &Held<'_, KVec<Arc<Deputy>>>,
        target: u32,
        mig_id: u32,
        link: u64,
    ) {
        // INVARIANT: all change under the deputies' list lock, which `_list` proves held.
        self.target.store(target, Relaxed);
        self.mig_id.store(mig_id, Relaxed);
        self.link.store(link, Relaxed);
    }

    /// Whether the connection to the guest's host that the migration lives on is still up: a
    /// connection that died takes the guest with it (its host drops a guest whose home
    /// connection died), even when a new one to the same node came up since.
    pub(crate) fn host_linked(&self, mesh: &Mesh) -> bool {
        mesh.link(self.target()) == Some(self.link.load(Relaxed))
    }

    /// The migration's state.
    pub(crate) fn state(&self) -> DeputyState {
        self.inner.lock().state
    }
}
