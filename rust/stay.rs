// SPDX-License-Identifier: GPL-2.0

//! openMosix stay bits: why a process cannot leave its node. Defined once, in
//! `rust/helpers.h` (`OMX_STAY_*`), which the C side sets in
//! [`Task::stay_bits`](super::task::Task::stay_bits).

use super::bindings;
use core::fmt::Write;

/// Each bit and what it means, as a refused move reports it.
pub(crate) const REASONS: [(u32, &str); 9] = [
    (bindings::OMX_STAY_KTHREAD, "kernel thread"),
    (bindings::OMX_STAY_INIT, "init"),
    (
        bindings::OMX_STAY_THREADS,
        "threads or shared memory (CLONE_VM)",
    ),
    (bindings::OMX_STAY_RT, "real-time scheduling"),
    (bindings::OMX_STAY_NOMM, "no user memory"),
    (bindings::OMX_STAY_EXITING, "exiting"),
    (bindings::OMX_STAY_MLOCK, "locked memory (mlock)"),
    (
        bindings::OMX_STAY_SHARED_MAP,
        "shared writable or device mapping",
    ),
    (bindings::OMX_STAY_REMOTE, "already migrating or remote"),
];

/// Writes the names of the stay bits in `bits`, separated by commas.
pub(crate) fn write_reasons(out: &mut impl Write, bits: u32) -> core::fmt::Result {
    let mut first = true;
    for (b, name) in REASONS {
        if bits & b != 0 {
            write!(out, "{}{}", if first { "" } else { ", " }, name)?;
            first = false;
        }
    }
    Ok(())
}
