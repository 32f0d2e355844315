// SPDX-License-Identifier: GPL-2.0

//! The wire form of a membership message: a probe, its answer or a request to probe, with the
//! membership updates and load entries it carries.
//!
//! Layout (big-endian), [`HEADER_LEN`] bytes then the updates then the load entries:
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 1 | kind: 1 `Ping`, 2 `Ack`, 3 `PingReq` |
//! | 1 | 1 | number of updates, at most [`MAX_UPDATES`] |
//! | 2 | 1 | number of load entries, at most [`MAX_LOADS`] |
//! | 3 | 1 | reserved, 0 |
//! | 4 | 4 | probe sequence number (of the node that started the probe) |
//! | 8 | 4 | target: the node probed (`Ping`, `Ack`) or to probe (`PingReq`) |
//! | 12 | 4 | origin: the node that asked for an indirect probe, 0 for a direct one |
//! | 16 | 9 each | updates: node, incarnation (u32 each), state (1 alive, 2 suspect, 3 dead) |
//! | ... | 48 each | load entries ([`LoadEntry`]) |
//!
//! The decoder checks the whole input: the length is exactly what the counts say (computed with
//! checked arithmetic after the counts are bounded), every node ID is in the map's range, every
//! state and load entry valid, the reserved byte zero.

use super::super::map::MAX_NODE_ID;
use super::super::msg::{LoadEntry, PayloadError, LOAD_ENTRY_LEN};

/// Most membership updates one message carries.
pub const MAX_UPDATES: usize = 12;
/// Most load entries one message carries (the sender's own first).
pub const MAX_LOADS: usize = 6;
/// Size of the fixed part.
pub const HEADER_LEN: usize = 16;
/// Encoded size of one update.
pub const UPDATE_LEN: usize = 9;
/// Largest encoded message.
pub const MAX_LEN: usize = HEADER_LEN + MAX_UPDATES * UPDATE_LEN + MAX_LOADS * LOAD_ENTRY_LEN;

/// What a message asks or answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// "Are you there?" to the target, directly or on behalf of `origin`.
    Ping,
    /// "I am": the target's answer, or a relay's forward of it to the origin.
    Ack,
    /// "Probe `target` for me": the origin's request to a relay.
    PingReq,
}

impl Kind {
    fn to_wire(self) -> u8 {
        match self {
            Self::Ping => 1,
            Self::Ack => 2,
            Self::PingReq => 3,
        }
    }

    fn from_wire(v: u8) -> Option<Self> {
        match v {
            1 => Some(Self::Ping),
            2 => Some(Self::Ack),
            3 => Some(Self::PingReq),
            _ => None,
        }
    }
}

/// What a node believes about a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum State {
    /// Answers probes.
    #[default]
    Alive,
    /// Missed a probe and every indirect probe; declared dead unless it refutes in time.
    Suspect,
    /// Declared dead: no longer probed, its processes' deputies gone.
    Dead,
}

impl State {
    fn to_wire(self) -> u8 {
        match self {
            Self::Alive => 1,
            Self::Suspect => 2,
            Self::Dead => 3,
        }
    }

    fn from_wire(v: u8) -> Option<Self> {
        match v {
            1 => Some(Self::Alive),
            2 => Some(Self::Suspect),
            3 => Some(Self::Dead),
            _ => None,
        }
    }
}

/// One membership update: "`node` is in `state` at `incarnation`".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Update {
    /// The member.
    pub node: u32,
    /// Its incarnation: only the member itself raises it, to refute a suspicion.
    pub incarnation: u32,
    /// Its state.
    pub state: State,
}

/// A membership message with what it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message {
    /// What it is.
    pub kind: Kind,
    /// Sequence number of the probe, chosen by the node that started it.
    pub seq: u32,
    /// The node probed, or to probe.
    pub target: u32,
    /// The node that asked for an indirect probe (0: none).
    pub origin: u32,
    updates: [Update; MAX_UPDATES],
    n_updates: usize,
    loads: [LoadEntry; MAX_LOADS],
    n_loads: usize,
}

impl Message {
    /// A message with nothing piggybacked.
    pub fn new(kind: Kind, seq: u32, target: u32, origin: u32) -> Self {
        Self {
            kind,
            seq,
            target,
            origin,
            updates: [Update::default(); MAX_UPDATES],
            n_updates: 0,
            loads: [LoadEntry::default(); MAX_LOADS],
            n_loads: 0,
        }
    }

    /// Adds an update; false when [`MAX_UPDATES`] are already there.
    pub fn push_update(&mut self, u: Update) -> bool {
        match self.updates.get_mut(self.n_updates) {
            Some(slot) => {
                *slot = u;
                self.n_updates += 1;
                true
            }
            None => false,
        }
    }

    /// Adds a load entry; false when [`MAX_LOADS`] are already there.
    pub fn push_load(&mut self, e: LoadEntry) -> bool {
        match self.loads.get_mut(self.n_loads) {
            Some(slot) => {
                *slot = e;
                self.n_loads += 1;
                true
            }
            None => false,
        }
    }

    /// The updates carried.
    pub fn updates(&self) -> &[Update] {
        self.updates.get(..self.n_updates).unwrap_or(&[])
    }

    /// The load entries carried.
    pub fn loads(&self) -> &[LoadEntry] {
        self.loads.get(..self.n_loads).unwrap_or(&[])
    }

    /// Encoded size.
    pub fn len(&self) -> usize {
        HEADER_LEN + self.updates().len() * UPDATE_LEN + self.loads().len() * LOAD_ENTRY_LEN
    }

    /// Whether the message carries nothing but its fixed part.
    pub fn is_empty(&self) -> bool {
        self.updates().is_empty() && self.loads().is_empty()
    }

    /// Encodes into `out`; returns the length used ([`Message::len`]).
    pub fn encode(&self, out: &mut [u8; MAX_LEN]) -> usize {
        // The counts fit a byte: they are at most MAX_UPDATES and MAX_LOADS.
        let mut w = Writer { b: out, at: 0 };
        w.put(&[
            self.kind.to_wire(),
            self.updates().len() as u8,
            self.loads().len() as u8,
            0,
        ]);
        w.put(&self.seq.to_be_bytes());
        w.put(&self.target.to_be_bytes());
        w.put(&self.origin.to_be_bytes());
        for u in self.updates() {
            w.put(&u.node.to_be_bytes());
            w.put(&u.incarnation.to_be_bytes());
            w.put(&[u.state.to_wire()]);
        }
        for e in self.loads() {
            w.put(&e.encode());
        }
        w.at
    }

    /// Decodes a payload, checking every field.
    pub fn decode(b: &[u8]) -> Result<Self, PayloadError> {
        let head = b.get(..HEADER_LEN).ok_or(PayloadError::Length)?;
        let kind = Kind::from_wire(head[0]).ok_or(PayloadError::Field("kind"))?;
        let nu = usize::from(head[1]);
        let nl = usize::from(head[2]);
        if nu > MAX_UPDATES {
            return Err(PayloadError::Field("updates"));
        }
        if nl > MAX_LOADS {
            return Err(PayloadError::Field("loads"));
        }
        if head[3] != 0 {
            return Err(PayloadError::Field("reserved"));
        }
        let want = nu
            .checked_mul(UPDATE_LEN)
            .and_then(|u| {
                nl.checked_mul(LOAD_ENTRY_LEN)
                    .and_then(|l| u.checked_add(l))
            })
            .and_then(|v| v.checked_add(HEADER_LEN))
            .ok_or(PayloadError::Length)?;
        if b.len() != want {
            return Err(PayloadError::Length);
        }
        let word = |at: usize| -> Result<u32, PayloadError> {
            let s = b.get(at..at + 4).ok_or(PayloadError::Length)?;
            Ok(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
        };
        let node_ok = |n: u32| (1..=MAX_NODE_ID).contains(&n);
        let target = word(8)?;
        let origin = word(12)?;
        if !node_ok(target) {
            return Err(PayloadError::Field("target"));
        }
        if origin != 0 && !node_ok(origin) {
            return Err(PayloadError::Field("origin"));
        }
        if kind == Kind::PingReq && origin != 0 {
            return Err(PayloadError::Field("origin"));
        }
        let mut m = Self::new(kind, word(4)?, target, origin);
        for i in 0..nu {
            let at = HEADER_LEN + i * UPDATE_LEN;
            let node = word(at)?;
            if !node_ok(node) {
                return Err(PayloadError::Field("update node"));
            }
            let state = b
                .get(at + 8)
                .copied()
                .and_then(State::from_wire)
                .ok_or(PayloadError::Field("update state"))?;
            m.push_update(Update {
                node,
                incarnation: word(at + 4)?,
                state,
            });
        }
        let loads_at = HEADER_LEN + nu * UPDATE_LEN;
        for i in 0..nl {
            let at = loads_at + i * LOAD_ENTRY_LEN;
            let s = b.get(at..at + LOAD_ENTRY_LEN).ok_or(PayloadError::Length)?;
            m.push_load(LoadEntry::decode(s)?);
        }
        Ok(m)
    }
}

/// Appends bytes to a buffer of [`MAX_LEN`] bytes; [`Message`]'s bounded counts keep it inside.
struct Writer<'a> {
    b: &'a mut [u8; MAX_LEN],
    at: usize,
}

impl Writer<'_> {
    fn put(&mut self, v: &[u8]) {
        if let Some(dst) = self.b.get_mut(self.at..self.at + v.len()) {
            dst.copy_from_slice(v);
        }
        self.at += v.len();
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::msg::{STATUS_DEF, STATUS_UP};
    use super::*;

    fn load(node: u32) -> LoadEntry {
        LoadEntry {
            node,
            age_ms: 7,
            load: 150,
            speed: 10_000,
            cpus: 2,
            util: 500,
            status: STATUS_DEF | STATUS_UP,
            mem_kb: 1000,
            rmem_kb: 900,
            tmem_kb: 2000,
        }
    }

    fn full() -> Message {
        let mut m = Message::new(Kind::Ping, 0xdead_beef, 7, 3);
        for i in 0..MAX_UPDATES as u32 {
            let state = [State::Alive, State::Suspect, State::Dead][i as usize % 3];
            assert!(m.push_update(Update {
                node: i + 1,
                incarnation: i * 1000,
                state,
            }));
        }
        assert!(!m.push_update(Update::default()));
        for i in 0..MAX_LOADS as u32 {
            assert!(m.push_load(load(i + 100)));
        }
        assert!(!m.push_load(load(1)));
        m
    }

    #[test]
    fn round_trip_empty_and_full() {
        let mut buf = [0u8; MAX_LEN];
        for m in [Message::new(Kind::Ack, 1, 2, 0), full()] {
            let n = m.encode(&mut buf);
            assert_eq!(n, m.len());
            assert_eq!(Message::decode(&buf[..n]), Ok(m));
        }
        assert_eq!(full().len(), MAX_LEN);
        assert!(Message::new(Kind::Ack, 1, 2, 0).is_empty());
    }

    #[test]
    fn refuses_every_malformed_field() {
        let mut buf = [0u8; MAX_LEN];
        let n = full().encode(&mut buf);
        let good = buf;
        // Every truncation and an extra byte.
        for cut in 0..n {
            assert!(Message::decode(&good[..cut]).is_err(), "{cut}");
        }
        let mut long = [0u8; MAX_LEN + 1];
        long[..n].copy_from_slice(&good[..n]);
        assert_eq!(Message::decode(&long), Err(PayloadError::Length));
        let bad = |at: usize, v: u8| {
            let mut b = good;
            b[at] = v;
            Message::decode(&b[..n])
        };
        assert_eq!(bad(0, 0), Err(PayloadError::Field("kind")));
        assert_eq!(bad(0, 4), Err(PayloadError::Field("kind")));
        assert_eq!(
            bad(1, MAX_UPDATES as u8 + 1),
            Err(PayloadError::Field("updates"))
        );
        assert_eq!(bad(1, 255), Err(PayloadError::Field("updates")));
        assert_eq!(
            bad(2, MAX_LOADS as u8 + 1),
            Err(PayloadError::Field("loads"))
        );
        assert_eq!(bad(3, 1), Err(PayloadError::Field("reserved")));
        // A count one lower leaves bytes over.
        assert_eq!(bad(1, MAX_UPDATES as u8 - 1), Err(PayloadError::Length));
        // Target 0 or past the map's range; an update about node 0; a bad state.
        assert_eq!(bad(11, 0), Err(PayloadError::Field("target")));
        assert_eq!(bad(9, 1), Err(PayloadError::Field("target")));
        assert_eq!(
            bad(HEADER_LEN + 3, 0),
            Err(PayloadError::Field("update node"))
        );
        assert_eq!(
            bad(HEADER_LEN + 8, 0),
            Err(PayloadError::Field("update state"))
        );
        assert_eq!(
            bad(HEADER_LEN + 8, 4),
            Err(PayloadError::Field("update state"))
        );
        // A load entry with node 0.
        let l = HEADER_LEN + MAX_UPDATES * UPDATE_LEN;
        assert_eq!(bad(l + 3, 0), Err(PayloadError::Field("node")));
        // A request to probe carries no origin.
        let mut b = good;
        b[0] = 3;
        assert_eq!(Message::decode(&b[..n]), Err(PayloadError::Field("origin")));
    }
}
