// SPDX-License-Identifier: GPL-2.0

//! The `/proc/openmosix` tree: the module's user interface.
//!
//! | path       | mode | content                                                   |
//! | ---------- | ---- | --------------------------------------------------------- |
//! | `version`  | 0444 | `module RELEASE`, `protocol N`, `kernel RELEASE` lines     |

use crate::ksys::kernel_release;
use crate::ksys::proc::ProcDir;
use crate::ksys::proc::ProcFile;
use crate::ksys::proc::ProcOutput;
use crate::omcore::version::VersionInfo;
use kernel::prelude::*;
use kernel::sync::Arc;

/// `/proc/openmosix` and everything in it; removed when dropped.
pub(crate) struct ProcTree {
    _dir: ProcDir,
}

impl ProcTree {
    /// Creates `/proc/openmosix` with all its files.
    pub(crate) fn new() -> Result<Self> {
        let mut dir = ProcDir::new(c"openmosix")?;
        dir.create_file(c"version", 0o444, Arc::new(VersionFile, GFP_KERNEL)?)?;
        Ok(Self { _dir: dir })
    }
}

/// `/proc/openmosix/version`.
struct VersionFile;

impl ProcFile for VersionFile {
    fn show(&self, out: &mut ProcOutput<'_>) -> Result {
        VersionInfo::this_build(kernel_release())
            .write_to(out)
            .map_err(|_| EINVAL)
    }
}
