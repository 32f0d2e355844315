// SPDX-License-Identifier: GPL-2.0

//! Which load entries a node gossips, and which gossiped entries it keeps.
//!
//! Every heartbeat period a node that is not quiet sends one [`Gossip`] to a few random peers: its
//! own entry first, then the freshest entries it holds about other nodes, each aged by the time
//! since it was measured, up to [`GOSSIP_WINDOW`] entries. Entries older than the failure timeout
//! are not passed on. A receiver keeps an entry when it is newer than the one it holds, and ignores
//! entries about itself and about the sender (the sender's heartbeat is fresher).

use super::msg::{Gossip, LoadEntry, GOSSIP_WINDOW};

/// Fills `out` with `own` and the freshest of `known` (`(entry, measured_at_ms)` pairs).
///
/// Entries measured more than `timeout_ms` before `now_ms` are skipped; the others are sent with
/// `age_ms` set to `now_ms - measured_at_ms`. `out` is cleared first. Of entries measured at the
/// same instant, the earlier in `known` wins.
pub fn select<I>(own: &LoadEntry, known: I, now_ms: u64, timeout_ms: u64, out: &mut Gossip)
where
    I: IntoIterator<Item = (LoadEntry, u64)>,
{
    let mut window = [LoadEntry::default(); GOSSIP_WINDOW];
    let n = select_into(own, known, now_ms, timeout_ms, &mut window);
    *out = Gossip::default();
    for e in window.iter().take(n) {
        out.push(*e);
    }
}

/// Most entries [`select_into`] fills.
pub const SELECT_MAX: usize = GOSSIP_WINDOW;

/// [`select`] into a slice: `own` at `out[0]`, then the freshest of `known`, aged, up to
/// `out.len()` entries in all (at most [`SELECT_MAX`]); returns how many it wrote.
pub fn select_into<I>(
    own: &LoadEntry,
    known: I,
    now_ms: u64,
    timeout_ms: u64,
    out: &mut [LoadEntry],
) -> usize
where
    I: IntoIterator<Item = (LoadEntry, u64)>,
{
    let Some((first, rest)) = out.split_first_mut() else {
        return 0;
    };
    *first = *own;
    let others = rest.len().min(SELECT_MAX - 1);
    // The freshest `others` entries, newest first.
    let mut best = [(LoadEntry::default(), 0u64); SELECT_MAX - 1];
    let mut len = 0usize;
    for (e, at) in known {
        let age = now_ms.saturating_sub(at);
        if age > timeout_ms || others == 0 {
            continue;
        }
        let aged = LoadEntry {
            age_ms: u32::try_from(age).unwrap_or(u32::MAX),
            ..e
        };
        // Insertion point: after every entry at least as fresh.
        let pos = best[..len].iter().position(|(_, b)| *b < at).unwrap_or(len);
        if pos == others {
            continue;
        }
        let last = len.min(others - 1);
        best.copy_within(pos..last, pos + 1);
        best[pos] = (aged, at);
        len = (len + 1).min(others);
    }
    for (slot, (e, _)) in rest.iter_mut().zip(&best[..len]) {
        *slot = *e;
    }
    len + 1
}

/// When a gossiped entry should replace what a node holds, the instant it was measured.
///
/// `me` is the receiving node, `sender` the node the gossip came from, `held_at_ms` when the entry
/// held about `e.node` was measured (`None`: nothing held).
pub fn accept(
    e: &LoadEntry,
    me: u32,
    sender: u32,
    now_ms: u64,
    held_at_ms: Option<u64>,
) -> Option<u64> {
    if e.node == me || e.node == sender {
        return None;
    }
    let at = now_ms.saturating_sub(u64::from(e.age_ms));
    match held_at_ms {
        Some(old) if at <= old => None,
        _ => Some(at),
    }
}

/// Most entries a [`LoadView`] holds.
pub const VIEW: usize = 64;

/// A bounded table of load entries about other nodes, as gossip fills it: at most [`VIEW`]
/// entries whatever the cluster's size, so a node of a cluster of thousands knows the load of a
/// few dozen peers, the freshest that reached it (MOSIX's bounded load vector).
///
/// When the table is full a new node's entry takes the place of the older of two entries picked
/// at random, near enough to the oldest in constant time. Lookups scan the table: [`VIEW`] steps,
/// bounded, not the cluster's size.
#[derive(Debug, Clone)]
pub struct LoadView {
    entries: [(LoadEntry, u64); VIEW],
    len: usize,
}

impl Default for LoadView {
    fn default() -> Self {
        Self::new()
    }
}

impl LoadView {
    /// An empty table.
    pub const fn new() -> Self {
        const EMPTY: LoadEntry = LoadEntry {
            node: 0,
            age_ms: 0,
            load: 0,
            speed: 0,
            cpus: 0,
            util: 0,
            status: 0,
            mem_kb: 0,
            rmem_kb: 0,
            tmem_kb: 0,
        };
        Self {
            entries: [(EMPTY, 0); VIEW],
            len: 0,
        }
    }

    /// The entries held, each with the local time it was measured at (`age_ms` is 0).
    pub fn entries(&self) -> &[(LoadEntry, u64)] {
        self.entries.get(..self.len).unwrap_or(&[])
    }

    /// The entry held about `node`, and when it was measured.
    pub fn get_mut(&mut self, node: u32) -> Option<&mut (LoadEntry, u64)> {
        let len = self.len;
        self.entries
            .get_mut(..len)?
            .iter_mut()
            .find(|(e, _)| e.node == node)
    }

    /// Keeps the gossiped entry `e` (from `sender`, received by `me` at `now_ms`) when
    /// [`accept`] says it is news; `pick` is a random number that chooses the entry that makes
    /// room when the table is full. Returns whether it was kept.
    pub fn learn(&mut self, e: &LoadEntry, me: u32, sender: u32, now_ms: u64, pick: u32) -> bool {
        let held = self.get_mut(e.node).map(|(_, at)| *at);
        let Some(at) = accept(e, me, sender, now_ms, held) else {
            return false;
        };
        self.put(&LoadEntry { age_ms: 0, ..*e }, at, pick);
        true
    }

    /// Holds `e`, measured at `at_ms`, in place of whatever was held about its node (a target's
    /// answer, which is news whatever gossip said); `pick` as for [`LoadView::learn`].
    pub fn put(&mut self, e: &LoadEntry, at_ms: u64, pick: u32) {
        if e.node == 0 {
            return;
        }
        if let Some(slot) = self.get_mut(e.node) {
            *slot = (*e, at_ms);
            return;
        }
        let slot = if self.len < VIEW {
            self.len += 1;
            self.len - 1
        } else {
            let a = (pick & 0xffff) as usize % VIEW;
            let b = (pick >> 16) as usize % VIEW;
            if self.entries[a].1 <= self.entries[b].1 {
                a
            } else {
                b
            }
        };
        if let Some(s) = self.entries.get_mut(slot) {
            *s = (*e, at_ms);
        }
    }

    /// Drops what is held about `node` (declared dead).
    pub fn forget(&mut self, node: u32) {
        let len = self.len;
        if let Some(i) = self.entries[..len].iter().position(|(e, _)| e.node == node) {
            self.entries.swap(i, len - 1);
            self.len -= 1;
        }
    }

    /// Fills `out` with `own` and the entries held that advertise the most spare capacity:
    /// lowest load per CPU first, the fresher first among equals, none older than `timeout_ms`,
    /// each aged; returns how many it wrote.
    ///
    /// Unlike [`select`] (the freshest, whatever they say), this passes on what a loaded node
    /// needs to hear: where the idle CPUs are. An entry that went stale is corrected by its
    /// node's own messages, by the senders of the moves that reached it, and by its answer to a
    /// request ([`crate::balance::admit`]).
    pub fn select(
        &self,
        own: &LoadEntry,
        now_ms: u64,
        timeout_ms: u64,
        out: &mut [LoadEntry],
    ) -> usize {
        let Some((first, rest)) = out.split_first_mut() else {
            return 0;
        };
        *first = *own;
        let want = rest.len().min(VIEW);
        // (load per CPU, measured at, index), best first.
        let mut best = [(0u64, 0u64, 0usize); VIEW];
        let mut len = 0usize;
        for (i, (e, at)) in self.entries().iter().enumerate() {
            if now_ms.saturating_sub(*at) > timeout_ms || want == 0 {
                continue;
            }
            let key = (u64::from(e.load) / u64::from(e.cpus.max(1)), *at, i);
            let better = |b: &(u64, u64, usize)| key.0 < b.0 || (key.0 == b.0 && key.1 > b.1);
            let pos = best[..len].iter().position(better).unwrap_or(len);
            if pos == want {
                continue;
            }
            let last = len.min(want - 1);
            best.copy_within(pos..last, pos + 1);
            best[pos] = key;
            len = (len + 1).min(want);
        }
        for (slot, &(_, at, i)) in rest.iter_mut().zip(&best[..len]) {
            let (e, _) = self.entries[i];
            let age = now_ms.saturating_sub(at);
            *slot = LoadEntry {
                age_ms: u32::try_from(age).unwrap_or(u32::MAX),
                ..e
            };
        }
        len + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(node: u32, load: u32) -> LoadEntry {
        LoadEntry {
            node,
            load,
            speed: 10000,
            cpus: 1,
            ..LoadEntry::default()
        }
    }

    #[test]
    fn own_entry_first_then_freshest_aged() {
        let own = entry(1, 5);
        let known = [
            (entry(2, 0), 900),
            (entry(3, 0), 990),
            (entry(4, 0), 100), // older than the timeout
            (entry(5, 0), 950),
        ];
        let mut g = Gossip::default();
        select(&own, known, 1000, 800, &mut g);
        let nodes: [u32; 4] = core::array::from_fn(|i| g.entries()[i].node);
        assert_eq!(g.entries().len(), 4);
        assert_eq!(nodes, [1, 3, 5, 2]);
        assert_eq!(g.entries()[0].age_ms, 0);
        assert_eq!(g.entries()[1].age_ms, 10);
        assert_eq!(g.entries()[3].age_ms, 100);
    }

    #[test]
    fn window_keeps_the_freshest() {
        let own = entry(1, 0);
        // Nodes 2..=101 measured at 2..=101: the freshest 19 are 101 down to 83.
        let known = (2..=101u32).map(|n| (entry(n, 0), u64::from(n)));
        let mut g = Gossip::default();
        select(&own, known, 200, 1000, &mut g);
        assert_eq!(g.entries().len(), GOSSIP_WINDOW);
        for (i, e) in g.entries().iter().enumerate().skip(1) {
            assert_eq!(e.node, 102 - i as u32);
        }
        // Reverse order gives the same choice.
        let known = (2..=101u32).rev().map(|n| (entry(n, 0), u64::from(n)));
        let mut h = Gossip::default();
        select(&own, known, 200, 1000, &mut h);
        assert_eq!(g, h);
    }

    #[test]
    fn merge_newer_wins_ignoring_self_and_sender() {
        let e = LoadEntry {
            age_ms: 100,
            ..entry(7, 0)
        };
        assert_eq!(accept(&e, 7, 2, 1000, None), None);
        assert_eq!(accept(&e, 1, 7, 1000, None), None);
        assert_eq!(accept(&e, 1, 2, 1000, None), Some(900));
        assert_eq!(accept(&e, 1, 2, 1000, Some(899)), Some(900));
        assert_eq!(accept(&e, 1, 2, 1000, Some(900)), None);
        assert_eq!(accept(&e, 1, 2, 50, None), Some(0));
    }

    #[test]
    fn view_is_bounded_keeps_news_and_forgets() {
        let mut v = LoadView::new();
        for n in 2..=(VIEW as u32 + 1) {
            assert!(v.learn(&entry(n, 0), 1, 0, u64::from(n), n * 7919));
        }
        assert_eq!(v.entries().len(), VIEW);
        // Older news about a node held is refused, fresher taken.
        let old = LoadEntry {
            age_ms: 10,
            ..entry(5, 300)
        };
        assert!(!v.learn(&old, 1, 0, 10, 0));
        assert!(v.learn(&entry(5, 300), 1, 0, 1000, 0));
        assert_eq!(v.get_mut(5).map(|(e, at)| (e.load, *at)), Some((300, 1000)));
        // A new node evicts one of the two picked, the older: entries 0 and 1 hold nodes 2 and
        // 3, measured at 2 and 3.
        assert!(v.learn(&entry(500, 0), 1, 0, 2000, 1 << 16));
        assert_eq!(v.entries().len(), VIEW);
        assert!(v.get_mut(2).is_none());
        assert!(v.get_mut(3).is_some() && v.get_mut(500).is_some());
        // The selection: own first, then the least loaded, fresher first (node 5 is loaded).
        let mut out = [LoadEntry::default(); 4];
        assert_eq!(v.select(&entry(1, 0), 2000, 5000, &mut out), 4);
        let nodes = out.map(|e| e.node);
        assert_eq!(nodes, [1, 500, VIEW as u32 + 1, VIEW as u32]);
        assert_eq!(out[2].age_ms, 2000 - (VIEW as u32 + 1));
        // Only entries within the timeout: node 5 (at 1000) and node 500 (at 2000).
        assert_eq!(v.select(&entry(1, 0), 2000, 1000, &mut out), 3);
        assert_eq!(out.map(|e| e.node)[..3], [1, 500, 5]);
        assert_eq!(v.select(&entry(1, 0), 2000, 5000, &mut []), 0);
        v.forget(500);
        v.forget(12345);
        assert_eq!(v.entries().len(), VIEW - 1);
        assert!(v.get_mut(500).is_none());
        // Nothing about node 0 is held.
        v.put(&entry(0, 0), 1, 0);
        assert!(v.get_mut(0).is_none());
    }
}
