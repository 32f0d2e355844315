// SPDX-License-Identifier: GPL-2.0

//! openmosix-rs: openMosix single-system-image process migration as a Rust kernel module.
//!
//! This file declares the module's parts and its lifecycle only; see `Documentation/` for the
//! design. `ksys` (in `rust/`) wraps the kernel objects the `kernel` crate lacks, `omcore` (in
//! `tools/omcore/`) is the `no_std` wire-format and logic crate shared with the userspace tools.

#[path = "../rust/ksys.rs"]
mod ksys;
#[path = "../tools/omcore/src/lib.rs"]
pub mod omcore;
mod procfs;

use kernel::prelude::*;

module! {
    type: OpenMosix,
    name: "openmosix",
    authors: ["openmosix-rs contributors"],
    description: "openMosix single-system-image process migration",
    license: "GPL",
}

struct OpenMosix {
    _proc: procfs::ProcTree,
}

impl kernel::Module for OpenMosix {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let proc = procfs::ProcTree::new()?;
        pr_info!(
            "openmosix {} (protocol {}) loaded\n",
            omcore::version::RELEASE,
            omcore::version::PROTOCOL_VERSION
        );
        Ok(Self { _proc: proc })
    }
}

impl Drop for OpenMosix {
    fn drop(&mut self) {
        pr_info!("openmosix unloaded\n");
    }
}
