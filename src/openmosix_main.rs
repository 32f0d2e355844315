// SPDX-License-Identifier: GPL-2.0

//! openmosix-rs: openMosix single-system-image process migration as a Rust kernel module.
//!
//! This file declares the module's parts and its lifecycle only; see `Documentation/` for the
//! design. `ksys` (in `rust/`) wraps the kernel objects the `kernel` crate lacks, `omcore` (in
//! `tools/omcore/`) is the `no_std` wire-format and logic crate shared with the userspace tools.

mod balance;
mod cluster;
mod hide;
#[path = "../rust/ksys.rs"]
mod ksys;
mod migrate;
#[path = "../tools/omcore/src/lib.rs"]
pub mod omcore;
mod procfs;

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
    cluster: Arc<cluster::Cluster>,
}

impl kernel::Module for OpenMosix {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let cluster = cluster::Cluster::new()?;
        // From here on, `shutdown` undoes whatever part of the start-up succeeded.
        if let Err(e) = procfs::install(&cluster).and_then(|()| cluster.start()) {
            cluster.shutdown();
            return Err(e);
        }

        pr_info!(
            "openmosix {} (protocol {}) loaded\n",
            omcore::version::RELEASE,
            omcore::version::PROTOCOL_VERSION
        );
        Ok(Self { cluster })
    }
}

impl Drop for OpenMosix {
    fn drop(&mut self) {
        self.cluster.shutdown();
        pr_info!("openmosix unloaded\n");
    }
}
