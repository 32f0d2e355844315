// SPDX-License-Identifier: GPL-2.0

//! The deputies watched from the module's tick (`Migrations::watch`): those that ended without
//! their own end, and those blocked in a forwarded call when their host went down.

use super::deputy::Deputy;
use super::Migrations;
use crate::ksys::sys::now_ms;
use crate::ksys::task::Task;
use crate::omcore::syscalls::sig::SIGKILL;
use kernel::prelude::*;

/// How long a deputy woken out of its call to restart its process may take to leave it
/// before it is killed (ms).
const WAKE_MS: u64 = 10_000;

impl Migrations {
    /// A deputy that ended without going through its own end (killed while making a forwarded
    /// call in user mode) takes its guest with it, and gives back its module reference. A
    /// deputy in a forwarded call whose host went down is ended: the call may block for as long
    /// as it likes (a read of a pipe or terminal), and its guest is gone; if its process has a
    /// checkpoint, the deputy is woken out of the call instead, to restart it (`revive.rs`).
    pub(crate) fn watch_deputies(&self) {
        let Ok(all) = self.all_deputies() else {
            return;
        };
        for d in all.iter() {
            let (ended, calling) = {
                let i = d.inner.lock();
                let ended = i.task.as_ref().and_then(|t| t.exit_code());
                let calling = if i.exec.is_some() && !i.reviving && !i.doomed {
                    i.task.clone()
                } else {
                    None
                };
                (ended, calling)
            };
            let Some(code) = ended else {
                if let Some(t) = calling.filter(|_| !d.host_linked(&self.mesh)) {
                    self.lost_in_call(d, &t);
                }
                continue;
            };
            pr_warn!(
                "process {}: deputy ended (status {:#x}) while its guest ran on node {}: guest killed\n",
                d.pid,
                code,
                d.target()
            );
            self.signal_guest(d, SIGKILL, false);
            let module = self.retire_deputy(d);
            drop(module);
        }
    }

    /// The host of deputy `d`'s guest went down while `t`, the deputy, makes a forwarded call.
    /// If its process has a save, the deputy is woken out of the call (task work that
    /// interrupts an interruptible sleep) to restart it; otherwise, or if it is still in the
    /// call [`WAKE_MS`] after (a sleep that work does not end), it is killed. Decided under
    /// its lock, so that a deputy that left its call meanwhile, and restarts its process, is
    /// not killed.
    fn lost_in_call(&self, d: &Deputy, t: &Task) {
        let now = now_ms();
        let mut i = d.inner.lock();
        if i.exec.is_none() || i.reviving || i.doomed {
            return;
        }
        let kill = if !i.host_lost {
            i.host_lost = true;
            i.lost_at_ms = now;
            !(self.has_save(d.pid, t.start_time()) && t.queue_work(|| {}, true).is_ok())
        } else {
            now.saturating_sub(i.lost_at_ms) > WAKE_MS
        };
        i.doomed = kill;
        drop(i);
        if kill {
            pr_warn!(
                "process {}: node {} {} with its guest during a forwarded call: killed\n",
                d.pid,
                d.target(),
                self.loss(d.target())
            );
            t.signal(SIGKILL);
        }
    }
}
