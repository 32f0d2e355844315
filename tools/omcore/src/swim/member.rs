// SPDX-License-Identifier: GPL-2.0

//! What [`Swim`](super::Swim) and its caller exchange: the caller's randomness, member table and
//! output, the members, the events and the protocol's parameters.

use super::wire::{Message, State, MAX_LOADS};

/// The randomness [`Swim`](super::Swim) needs: the caller's generator (the module's random bytes, the
/// simulator's seeded generator).
pub trait Random {
    /// 32 random bits.
    fn next_u32(&mut self) -> u32;

    /// Uniform in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: u32) -> u32 {
        ((u64::from(self.next_u32()) * u64::from(n)) >> 32) as u32
    }
}

/// The caller's member table: [`Member`]s sorted by node ID, this node not among them.
pub trait Members {
    /// The members.
    fn as_slice(&self) -> &[Member];
    /// The members, to change (never their node IDs: the order must stay).
    fn as_mut_slice(&mut self) -> &mut [Member];
    /// Inserts `m` at index `at`, shifting the rest; false when there is no room.
    fn insert(&mut self, at: usize, m: Member) -> bool;
}

#[cfg(not(MODULE))]
extern crate alloc;

/// Userspace keeps its members in a vector (the module in its own kernel vector).
#[cfg(not(MODULE))]
impl Members for alloc::vec::Vec<Member> {
    fn as_slice(&self) -> &[Member] {
        self
    }
    fn as_mut_slice(&mut self) -> &mut [Member] {
        self
    }
    fn insert(&mut self, at: usize, m: Member) -> bool {
        if at > self.len() || self.try_reserve(1).is_err() {
            return false;
        }
        alloc::vec::Vec::insert(self, at, m);
        true
    }
}

/// What [`Swim`](super::Swim) tells its caller.
pub trait Output {
    /// Send `msg` to node `to`.
    fn send(&mut self, to: u32, msg: &Message);
    /// Member `node` changed state.
    fn event(&mut self, node: u32, event: Event);
}

/// A change in what this node believes about a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// First heard of, or alive again (refuted a suspicion, came back with a new incarnation).
    Up,
    /// Suspected: missed a probe and its indirect probes, or another node says so.
    Suspect,
    /// Declared dead.
    Down,
}

/// One member as this node sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Member {
    /// Node ID.
    pub node: u32,
    /// Highest incarnation heard of.
    pub incarnation: u32,
    /// State at that incarnation.
    pub state: State,
    /// Local time it entered that state, ms.
    pub since_ms: u64,
}

impl Member {
    /// A member believed alive at incarnation 0 (from the cluster map).
    pub const fn new(node: u32) -> Self {
        Self {
            node,
            incarnation: 0,
            state: State::Alive,
            since_ms: 0,
        }
    }
}

/// The protocol's parameters (`Documentation/membership.md` gives their effect).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    /// One probe per period, ms.
    pub period_ms: u64,
    /// Time a direct probe has to be answered before indirect probes start, ms.
    pub probe_timeout_ms: u64,
    /// Members asked to probe indirectly (k).
    pub indirect: u32,
    /// Suspicion timeout: this many times `ceil(log10(N + 1))` periods.
    pub suspicion_mult: u64,
    /// Times each update is piggybacked: this many times `ceil(log10(N + 1))`.
    pub lambda: u32,
    /// Load entries (the sender's own first) carried per message, at most [`MAX_LOADS`].
    pub loads_per_msg: usize,
    /// Load entries older than this are not passed on, ms.
    pub load_timeout_ms: u64,
}

impl Params {
    /// The defaults.
    pub const DEFAULT: Self = Self {
        period_ms: 200,
        probe_timeout_ms: 80,
        indirect: 3,
        suspicion_mult: 3,
        lambda: 5,
        loads_per_msg: MAX_LOADS,
        load_timeout_ms: 3000,
    };
}

impl Default for Params {
    fn default() -> Self {
        Self::DEFAULT
    }
}
