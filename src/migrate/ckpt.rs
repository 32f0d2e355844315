// SPDX-License-Identifier: GPL-2.0

//! [`Ckpt`]: one checkpoint being made, shared by the task that asked for it and the process
//! being saved (`checkpoint.rs` has what they do with it).

use super::stream::Inflow;
use crate::ksys::file::UserFile;
use crate::ksys::task::Task;
use kernel::prelude::*;
use kernel::sync::{new_condvar, new_mutex, CondVar, Mutex};

/// Longest a saved process is held for its saver to release it, in ms.
pub(super) const HOLD_MS: u64 = 30_000;
/// Checkpoints under way on this node at once.
pub(super) const MAX_CKPTS: usize = 16;
/// Descriptors a restart may close besides the checkpoint's.
pub(crate) const MAX_CLOSE: usize = 4;
/// Processes whose latest save in a chain this node remembers at most; the oldest mark goes
/// first (its process's next save must then be whole).
pub(super) const MAX_MARKS: usize = 256;

/// A checkpoint directory (`admin/ckpt_dir`): a path `omcore::ckpt::check_dir` accepts.
pub(crate) struct Dir {
    path: [u8; crate::omcore::ckptdir::MAX_DIR],
    len: usize,
}

impl Default for Dir {
    fn default() -> Self {
        let d = crate::omcore::ckptdir::DEFAULT_DIR.as_bytes();
        let mut path = [0; crate::omcore::ckptdir::MAX_DIR];
        path[..d.len()].copy_from_slice(d);
        Self { path, len: d.len() }
    }
}

impl Dir {
    /// The path.
    pub(crate) fn get(&self) -> &[u8] {
        &self.path[..self.len]
    }

    /// Sets `p`, if `omcore::ckpt::check_dir` accepts it; else says why not.
    pub(crate) fn set(&mut self, p: &[u8]) -> core::result::Result<(), &'static str> {
        crate::omcore::ckptdir::check_dir(p)?;
        self.path[..p.len()].copy_from_slice(p);
        self.len = p.len();
        Ok(())
    }
}

/// A save that is part of a chain (`omctl checkpoint --parent`): its name, and the name of
/// the previous save it only adds to (0: it is whole).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Chain {
    pub(crate) id: u64,
    pub(crate) parent: u64,
}

/// The latest save of a process in a chain: an incremental save may follow only this one,
/// whose capture cleared the process's soft-dirty bits.
pub(super) struct Mark {
    pub(super) pid: i32,
    /// The process's start time (a pid used again is another process).
    pub(super) start: u64,
    pub(super) id: u64,
}

/// What a saved process does once released.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum After {
    /// It goes on.
    Continue,
    /// It stops (`SIGSTOP`), as `omctl checkpoint --stop` asks.
    Stop,
    /// It ends (`SIGKILL`), as `omctl checkpoint --kill` asks.
    Kill,
}

#[derive(Default)]
pub(super) struct CkptInner {
    /// The capture has begun: the saver no longer waits for it to start.
    pub(super) started: bool,
    /// The saver gave up: the capture is not made, or the process not held.
    pub(super) abandoned: bool,
    /// How the capture ended.
    pub(super) result: Option<Result>,
    pub(super) release: Option<After>,
    /// The image of a process away, as its host sends it, until the saver takes it.
    pub(super) inflow: Option<Inflow>,
    /// The capture cleared the process's soft-dirty bits: an incremental save may follow.
    pub(super) cleared: bool,
}

impl CkptInner {
    /// The image queue of a process away, unless the checkpoint failed or ended.
    pub(super) fn inflow(&mut self) -> Result<&mut Inflow> {
        if let Some(Err(e)) = self.result {
            return Err(e);
        }
        self.inflow.as_mut().ok_or(EINVAL)
    }
}

/// One checkpoint being made.
#[pin_data]
pub(crate) struct Ckpt {
    pub(super) pid: i32,
    /// The task that asked for it: the one that may release the process.
    pub(super) by: u32,
    /// The node the process runs on, which sends its image (0: it is at home).
    pub(super) host: u32,
    /// The name of the image stream from `host`.
    pub(super) id: u32,
    #[pin]
    pub(super) inner: Mutex<CkptInner>,
    #[pin]
    pub(super) cv: CondVar,
}

impl Ckpt {
    pub(super) fn new(pid: i32, by: u32, host: u32, id: u32) -> impl PinInit<Self> {
        pin_init!(Self {
            pid,
            by,
            host,
            id,
            inner <- new_mutex!(CkptInner::default(), "Ckpt::inner"),
            cv <- new_condvar!("Ckpt::cv"),
        })
    }
}

/// The latest save of a process.
pub(super) struct Saved {
    pub(super) pid: i32,
    /// The process's start time (a pid used again is another process).
    pub(super) start: u64,
    /// The file it went to.
    pub(super) file: UserFile,
    /// The real user and group of the task that saved it: the helper reads the chain as them.
    pub(super) uid: u32,
    pub(super) gid: u32,
    /// When it was saved (`now_ms`).
    pub(super) at_ms: u64,
    /// The task that saved it.
    pub(super) by: u32,
    /// Its saver released the process, its file whole: only then does it replace the save
    /// before it.
    pub(super) complete: bool,
}

/// Whether process `pid` started at `start` still lives.
pub(super) fn alive(pid: i32, start: u64) -> bool {
    Task::by_pid(pid).is_some_and(|t| t.start_time() == start)
}

/// A process restarted by its deputy.
#[derive(Clone, Copy)]
pub(super) struct Revived {
    pub(super) pid: i32,
    pub(super) start: u64,
    /// The node that went down with its guest.
    pub(super) lost: u32,
    /// How old its checkpoint was then (ms).
    pub(super) age_ms: u64,
}

/// What the helper hands a waiting deputy: the image at `offset` of `file`, and the
/// descriptors to set back.
pub(crate) struct Revival {
    pub(super) file: UserFile,
    pub(super) offset: u64,
    pub(super) seeks: KVec<(i32, u64)>,
}

/// A process saved periodically (`/proc/openmosix/keep`, `keep.rs`).
#[derive(Clone, Copy)]
pub(super) struct Kept {
    pub(super) pid: i32,
    /// The process's start time (a pid used again is another process).
    pub(super) start: u64,
    /// The period, in seconds (1..=[`MAX_KEEP_S`]).
    pub(super) secs: u32,
    /// Which setting this is: the helper that saves it ends once the entry has another.
    pub(super) generation: u32,
}

/// The longest period of `/proc/openmosix/keep`, in seconds (a day).
pub(super) const MAX_KEEP_S: u64 = 86_400;
/// How many processes a node saves periodically.
pub(super) const MAX_KEPT: usize = 64;
