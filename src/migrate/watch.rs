// SPDX-License-Identifier: GPL-2.0

//! The deputies watched from the module's tick (`Migrations::watch`): those that ended without
//! their own end, and those blocked in a forwarded call when their host went down.

use super::Migrations;
use crate::omcore::syscalls::sig::SIGKILL;
use kernel::prelude::*;

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
                let calling = if i.exec.is_some() && !i.host_lost {
                    i.task.clone()
                } else {
                    None
                };
                (ended, calling)
            };
            let Some(code) = ended else {
                if let Some(t) = calling.filter(|_| !d.host_linked(&self.mesh)) {
                    d.inner.lock().host_lost = true;
                    if self.wake_to_revive(d.pid, &t) {
                        // Out of the call to serving, which restarts the process.
                        continue;
                    }
                    pr_warn!(
                        "process {}: node {} {} with its guest during a forwarded call: killed\n",
                        d.pid,
                        d.target(),
                        self.loss(d.target())
                    );
                    t.signal(SIGKILL);
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
}
