// SPDX-License-Identifier: GPL-2.0

//! What a node can measure about itself: memory, CPUs, CPU time, runnable tasks, addresses.

use super::bindings;
use crate::omcore::addr::Addr;
use kernel::prelude::*;

/// Milliseconds on the monotonic clock.
pub(crate) fn now_ms() -> u64 {
    // SAFETY: `ktime_get` reads the monotonic clock; no preconditions.
    let ns = unsafe { bindings::ktime_get() };
    (ns.max(0) as u64) / 1_000_000
}

/// Memory of this node in KiB.
pub(crate) struct MemInfo {
    /// All memory.
    pub(crate) total_kb: u64,
    /// Free memory.
    pub(crate) free_kb: u64,
    /// Free memory plus buffers (what new work could use at once).
    pub(crate) avail_kb: u64,
}

/// Reads the memory counters.
pub(crate) fn meminfo() -> MemInfo {
    // SAFETY: `sysinfo` is plain data; all-zero is valid.
    let mut si: bindings::sysinfo = unsafe { core::mem::zeroed() };
    // SAFETY: `si` is writable.
    unsafe { bindings::si_meminfo(&mut si) };
    let kb = |pages: u64| pages * u64::from(si.mem_unit) / 1024;
    let total_kb = kb(si.totalram as u64);
    let free_kb = kb(si.freeram as u64).min(total_kb);
    let avail_kb = kb(si.freeram as u64 + si.bufferram as u64).min(total_kb);
    MemInfo {
        total_kb,
        free_kb,
        avail_kb,
    }
}

/// Online CPUs (at least 1).
pub(crate) fn online_cpus() -> u32 {
    // SAFETY: Reads a cpumask weight; no preconditions.
    unsafe { bindings::omx_online_cpus() }.max(1)
}

/// Idle and iowait time of all online CPUs, in nanoseconds since boot.
pub(crate) fn cpu_idle_ns() -> u64 {
    // SAFETY: Sums per-CPU counters; no preconditions.
    unsafe { bindings::omx_cpu_idle_ns() }
}

/// Runnable tasks on this node, not counting the caller.
pub(crate) fn nr_runnable() -> u32 {
    // SAFETY: Walks the task list under RCU; callable from process context.
    unsafe { bindings::omx_nr_runnable() }
}

/// The IPv4 addresses of this node's non-loopback interfaces with their broadcast addresses
/// (at most 8).
pub(crate) fn local_ipv4() -> KVec<(Addr, Addr)> {
    let mut addr = [0u32; 8];
    let mut bcast = [0u32; 8];
    // SAFETY: both arrays have room for `addr.len()` addresses.
    let n = unsafe {
        bindings::omx_local_ipv4(addr.as_mut_ptr(), bcast.as_mut_ptr(), addr.len() as i32)
    };
    let mut out = KVec::new();
    for (a, b) in addr.iter().zip(bcast.iter()).take(n.max(0) as usize) {
        let pair = (Addr::V4(a.to_ne_bytes()), Addr::V4(b.to_ne_bytes()));
        if out.push(pair, GFP_KERNEL).is_err() {
            break;
        }
    }
    out
}
