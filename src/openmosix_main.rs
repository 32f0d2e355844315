// SPDX-License-Identifier: GPL-2.0

//! openmosix-rs: openMosix single-system-image process migration as a Rust kernel module.
//!
//! This file declares the module's parts and its lifecycle only; `Documentation/architecture.md`
//! says what each part owns. `ksys` (in `rust/`) wraps the kernel objects the `kernel` crate
//! lacks, `omcore` (in `tools/omcore/`) is the `no_std` wire-format and logic crate shared with
//! the userspace tools.
//!
//! Start: the node (mesh sockets bound, nothing running), then `/proc/openmosix`, then the
//! node's threads. Drop order: the node stops first (guests killed, hooks removed, threads and
//! connections ended), then the `/proc/openmosix` tree goes with its thread.

mod balance;
mod error;
#[path = "../rust/ksys.rs"]
mod ksys;
mod mesh;
mod migrate;
mod node;
#[path = "../tools/omcore/src/lib.rs"]
pub mod omcore;
mod procfs;
mod userlog;

use kernel::prelude::*;
use kernel::sync::Arc;

module! {
    type: OpenMosix,
    name: "openmosix",
    authors: ["openmosix-rs contributors"],
    description: "openMosix single-system-image process migration",
    license: "GPL",
}

struct OpenMosix {
    node: Arc<node::Node>,
    /// Dropped after [`Drop::drop`] stopped the node.
    _proc: procfs::Tree,
    /// Guests' `/proc/PID` hidden from the node's processes (`None` if the probes could not be
    /// set: then only their listing entries are left out). Dropped after the node stopped.
    _hiding: Option<ksys::proc::PidHiding>,
    /// What fills the pages of guests' areas paged from home (`None` if it could not be
    /// registered: then a guest's file mapping is made at home).
    _pager: Option<ksys::homemap::Pager<migrate::Migrations>>,
}

impl kernel::Module for OpenMosix {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let node = node::Node::new()?;
        let proc = procfs::Tree::install(&node)?;
        // From here on, `shutdown` undoes whatever part of the start-up succeeded.
        if let Err(e) = node.start() {
            node.shutdown();
            return Err(e);
        }

        let hiding = ksys::proc::PidHiding::register()
            .inspect_err(|e| {
                pr_warn!(
                    "guests' /proc/PID not hidden: probes not set (error {})\n",
                    e.to_errno()
                )
            })
            .ok();
        let pager = ksys::homemap::Pager::register(node.mig.clone())
            .inspect_err(|e| pr_warn!("no paging from home: error {}\n", e.to_errno()))
            .ok();
        pr_info!(
            "openmosix {} (protocol {}) loaded\n",
            omcore::version::RELEASE,
            omcore::version::PROTOCOL_VERSION
        );
        Ok(Self {
            node,
            _proc: proc,
            _hiding: hiding,
            _pager: pager,
        })
    }
}

impl Drop for OpenMosix {
    fn drop(&mut self) {
        self.node.shutdown();
        // A deputy that retired as its process came home dropped its reference on the module
        // on its way out of the module's code: it must be out before that code goes.
        crate::ksys::task::wait_tasks_off_module();
        pr_info!("openmosix unloaded\n");
    }
}
