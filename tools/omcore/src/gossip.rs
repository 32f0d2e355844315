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
    const OTHERS: usize = GOSSIP_WINDOW - 1;
    *out = Gossip::default();
    out.push(*own);
    // The freshest `OTHERS` entries, newest first.
    let mut best = [(LoadEntry::default(), 0u64); OTHERS];
    let mut len = 0usize;
    for (e, at) in known {
        let age = now_ms.saturating_sub(at);
        if age > timeout_ms {
            continue;
        }
        let aged = LoadEntry {
            age_ms: u32::try_from(age).unwrap_or(u32::MAX),
            ..e
        };
        // Insertion point: after every entry at least as fresh.
        let pos = best[..len].iter().position(|(_, b)| *b < at).unwrap_or(len);
        if pos == OTHERS {
            continue;
        }
        let last = len.min(OTHERS - 1);
        best.copy_within(pos..last, pos + 1);
        best[pos] = (aged, at);
        len = (len + 1).min(OTHERS);
    }
    for (e, _) in &best[..len] {
        out.push(*e);
    }
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
}
