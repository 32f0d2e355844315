// SPDX-License-Identifier: GPL-2.0

//! A set of pids that the system-call hooks can test without a lock.
//!
//! While the hooks are registered every system call of every task on the node passes through
//! them; almost all of those tasks are neither a guest nor a deputy. [`PidFilter::may_contain`]
//! says "no" for them with one atomic load, without the lock of the guest or deputy list; a
//! "yes" (the pid is in the set, or shares its bucket with one that is) is then settled under
//! that lock as before.
//!
//! Shared with nothing in userspace, but pure: tested here on the host.

use core::sync::atomic::{AtomicU32, Ordering::Relaxed};

/// Buckets of the filter (a power of two).
const BUCKETS: usize = 256;

/// Pids, counted by bucket.
///
/// # Invariants
///
/// `buckets[b]` is the number of pids `p` in the set with `p % BUCKETS == b`, and `len` the
/// number of pids in the set, as far as [`PidFilter::insert`] and [`PidFilter::remove`] are
/// called in pairs for the same pid.
pub struct PidFilter {
    buckets: [AtomicU32; BUCKETS],
    len: AtomicU32,
}

impl PidFilter {
    /// An empty set.
    pub const fn new() -> Self {
        Self {
            buckets: [const { AtomicU32::new(0) }; BUCKETS],
            len: AtomicU32::new(0),
        }
    }

    fn bucket(&self, pid: u32) -> &AtomicU32 {
        &self.buckets[pid as usize % BUCKETS]
    }

    /// Adds `pid` (a task that is about to need the hooks, before it returns to user mode).
    pub fn insert(&self, pid: u32) {
        // Relaxed is enough: the task that needs the hooks is the one that inserts itself (or
        // is inserted before it runs on), and a task sees its own stores; another task only
        // ever needs "not in the set", which a stale count errs on the side of ("maybe").
        self.bucket(pid).fetch_add(1, Relaxed);
        self.len.fetch_add(1, Relaxed);
    }

    /// Removes `pid`, added before.
    pub fn remove(&self, pid: u32) {
        let _ = self
            .bucket(pid)
            .fetch_update(Relaxed, Relaxed, |n| n.checked_sub(1));
        let _ = self
            .len
            .fetch_update(Relaxed, Relaxed, |n| n.checked_sub(1));
    }

    /// Whether `pid` may be in the set; `false` means it surely is not.
    pub fn may_contain(&self, pid: u32) -> bool {
        self.bucket(pid).load(Relaxed) != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len.load(Relaxed) == 0
    }
}

impl Default for PidFilter {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_what_was_inserted_until_removed() {
        let f = PidFilter::new();
        assert!(f.is_empty());
        assert!(!f.may_contain(42));
        f.insert(42);
        f.insert(42 + BUCKETS as u32);
        assert!(!f.is_empty());
        assert!(f.may_contain(42));
        assert!(f.may_contain(42 + BUCKETS as u32));
        assert!(!f.may_contain(43));
        f.remove(42);
        // The other pid of the bucket keeps it: "maybe", never a wrong "no".
        assert!(f.may_contain(42 + BUCKETS as u32));
        f.remove(42 + BUCKETS as u32);
        assert!(!f.may_contain(42));
        assert!(f.is_empty());
    }

    #[test]
    fn an_unpaired_remove_does_not_wrap() {
        let f = PidFilter::new();
        f.remove(7);
        assert!(f.is_empty());
        assert!(!f.may_contain(7));
        f.insert(u32::MAX);
        assert!(f.may_contain(u32::MAX));
    }
}
