// SPDX-License-Identifier: GPL-2.0

//! Handshakes under way, each in a kernel thread of its own (see `handshake`), with the address
//! at the other end so that their number per address can be bounded.

use crate::error::Result;
use crate::ksys::thread::KThread;
use crate::omcore::addr::Addr;
use core::sync::atomic::{
    AtomicBool,
    Ordering::{Acquire, Release},
};
use kernel::prelude::*;
use kernel::sync::Arc;

/// A handshake under way in its own thread; dropping it waits for the thread to end.
pub(super) struct Handshake {
    /// The address at the other end.
    pub(super) addr: Addr,
    /// Set by the thread when it is done.
    done: Arc<AtomicBool>,
    /// Joined when the handshake is dropped.
    _thread: KThread,
}

impl Handshake {
    /// Runs `f`, a handshake with `addr`, in a new thread called `name`.
    pub(super) fn spawn<F: FnOnce() + Send + 'static>(
        addr: Addr,
        name: &CStr,
        f: F,
    ) -> Result<Self> {
        let done = Arc::new(AtomicBool::new(false), GFP_KERNEL)?;
        let flag = done.clone();
        let thread = KThread::spawn(name, move || {
            f();
            flag.store(true, Release);
        })?;
        Ok(Self {
            addr,
            done,
            _thread: thread,
        })
    }

    fn is_done(&self) -> bool {
        self.done.load(Acquire)
    }
}

/// Moves the finished handshakes of `list` into the returned vector, for the caller to drop
/// (join) once it no longer holds the lock around `list`.
pub(super) fn take_finished(list: &mut KVec<Handshake>) -> KVec<Handshake> {
    let mut finished = KVec::new();
    let mut i = 0;
    while i < list.len() {
        if list[i].is_done() {
            if let Ok(h) = list.remove(i) {
                let _ = finished.push(h, GFP_KERNEL);
            }
        } else {
            i += 1;
        }
    }
    finished
}
