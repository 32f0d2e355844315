// SPDX-License-Identifier: GPL-2.0

//! Membership and failure detection whose traffic per node does not grow with the cluster: a
//! SWIM-style protocol (probe one member at a time, probe indirectly through a few others before
//! suspecting it, suspicion with incarnation numbers, updates piggybacked on the probes), and the
//! load entries that travel on the same messages.
//!
//! [`Swim`] is a pure state machine: the caller gives it the time, its randomness ([`Random`])
//! and the messages that arrive ([`Swim::on_message`]), and calls [`Swim::tick`] when
//! [`Swim::next_due`] says; it answers through an [`Output`]: messages to send, and members seen
//! up, suspected or down. The module drives it from its tick with its own clock and random bytes;
//! the simulator (`tools/omsim`) drives thousands of them. `Documentation/membership.md` gives the
//! protocol, its parameters and what they cost.
//!
//! Every `period_ms` a node probes the next member of a shuffled round: a `Ping`, to be answered by
//! an `Ack`. Without an answer within `probe_timeout_ms` it asks `indirect` other members to
//! probe it (`PingReq`); they relay the answer. Without any answer by the end of the period the
//! member is suspected; a member that hears itself suspected refutes by raising its incarnation;
//! a suspicion not refuted within the suspicion timeout makes the member dead. Each change is
//! piggybacked on the next messages a node sends, a bounded number of times.
//!
//! # Memory and time
//!
//! The member table is the caller's ([`Members`]), one [`Member`] (24 bytes) per peer, sorted by
//! node ID: a lookup is a binary search. Everything else is fixed: the updates waiting to be
//! passed on ([`QUEUE`]), the suspicions being timed ([`SUSPECTS`]), the indirect probes relayed
//! ([`RELAYS`]) and the load table ([`LoadView`], [`super::gossip::VIEW`] entries), about 6 KiB in all.
//! A message costs O(updates x log N + loads x [`super::gossip::VIEW`]); a tick O([`QUEUE`] +
//! [`SUSPECTS`]). What remains O(N): inserting a member never seen before (the table shifts) and,
//! when nearly every member is dead, the search for the next live one to probe.

mod member;
pub mod wire;

use super::gossip::LoadView;
use super::msg::LoadEntry;
pub use member::{Event, Member, Members, Output, Params, Random};
pub use wire::{Kind, Message, State, Update, MAX_LEN, MAX_LOADS, MAX_UPDATES};

/// Updates waiting to be piggybacked, at most.
pub const QUEUE: usize = 64;
/// Suspicions timed at once, at most (more are found when their member is next probed).
pub const SUSPECTS: usize = 64;
/// Indirect probes a node relays at once, at most.
pub const RELAYS: usize = 8;

/// `ceil(log10(n + 1))`, at least 1.
fn log10_ceil(n: usize) -> u32 {
    let mut k = 1u32;
    let mut p = 10usize;
    while p <= n && k < 20 {
        k += 1;
        p = p.saturating_mul(10);
    }
    k
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The probe under way.
#[derive(Debug, Clone, Copy)]
struct Probe {
    target: u32,
    seq: u32,
    sent_at: u64,
    acked: bool,
    indirect: bool,
}

/// An indirect probe relayed for `origin`, until `until`.
#[derive(Debug, Clone, Copy, Default)]
struct Relay {
    origin: u32,
    seq: u32,
    target: u32,
    until: u64,
}

/// The probing order of one round: member `(offset + step x stride) mod len`, `stride` prime to
/// `len`, so every member once per round in an order that changes each round, in O(1) memory.
#[derive(Debug, Clone, Copy, Default)]
struct Round {
    len: u32,
    offset: u32,
    stride: u32,
    step: u32,
}

/// One node's membership protocol state (see the module documentation).
pub struct Swim<M: Members> {
    me: u32,
    incarnation: u32,
    params: Params,
    members: M,
    round: Round,
    next_probe_at: u64,
    probe: Option<Probe>,
    seq: u32,
    relays: [Relay; RELAYS],
    /// Updates to pass on: (node, transmissions left).
    queue: [(u32, u32); QUEUE],
    queue_len: usize,
    /// Suspicions timed: (node, incarnation, deadline).
    suspects: [(u32, u32, u64); SUSPECTS],
    suspects_len: usize,
    loads: LoadView,
    own_load: LoadEntry,
}

impl<M: Members> Swim<M> {
    /// This node `me` at `incarnation` (a restarted node must use a higher one than before, e.g.
    /// from its clock), knowing `members` (its cluster map). It announces itself on its first
    /// messages.
    pub fn new(me: u32, incarnation: u32, params: Params, members: M, now_ms: u64) -> Self {
        let mut s = Self {
            me,
            incarnation,
            params,
            members,
            round: Round::default(),
            next_probe_at: now_ms,
            probe: None,
            seq: 0,
            relays: [Relay::default(); RELAYS],
            queue: [(0, 0); QUEUE],
            queue_len: 0,
            suspects: [(0, 0, 0); SUSPECTS],
            suspects_len: 0,
            loads: LoadView::new(),
            own_load: LoadEntry::default(),
        };
        s.enqueue(me);
        s
    }

    /// This node's ID.
    pub fn me(&self) -> u32 {
        self.me
    }

    /// This node's incarnation.
    pub fn incarnation(&self) -> u32 {
        self.incarnation
    }

    /// The parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The member table.
    pub fn members(&self) -> &[Member] {
        self.members.as_slice()
    }

    /// What this node believes about `node`.
    pub fn member(&self, node: u32) -> Option<&Member> {
        let m = self.members.as_slice();
        m.binary_search_by_key(&node, |m| m.node)
            .ok()
            .and_then(|i| m.get(i))
    }

    /// The load entries known about other nodes.
    pub fn loads(&self) -> &LoadView {
        &self.loads
    }

    /// The load entries known about other nodes, to change (a target's answer, a move sent).
    pub fn loads_mut(&mut self) -> &mut LoadView {
        &mut self.loads
    }

    /// Sets the load entry this node sends about itself.
    pub fn set_own_load(&mut self, e: LoadEntry) {
        self.own_load = e;
    }

    /// Members in the table, this node included: the N of the timeouts and counts.
    fn cluster_size(&self) -> usize {
        self.members.as_slice().len().saturating_add(1)
    }

    /// How long a suspicion lasts before the member is declared dead, ms.
    pub fn suspicion_timeout_ms(&self) -> u64 {
        let k = u64::from(log10_ceil(self.cluster_size()));
        self.params
            .suspicion_mult
            .saturating_mul(k)
            .saturating_mul(self.params.period_ms)
    }

    /// How many times each update is piggybacked.
    pub fn transmissions(&self) -> u32 {
        self.params
            .lambda
            .saturating_mul(log10_ceil(self.cluster_size()))
            .max(1)
    }

    /// When [`Swim::tick`] next has something to do, ms.
    pub fn next_due(&self) -> u64 {
        let mut due = self.next_probe_at;
        if let Some(p) = &self.probe {
            if !p.acked && !p.indirect {
                due = due.min(p.sent_at.saturating_add(self.params.probe_timeout_ms));
            }
        }
        for s in &self.suspects[..self.suspects_len] {
            due = due.min(s.2);
        }
        due
    }

    /// Does what is due at `now_ms`: suspicions that timed out, indirect probes, the next probe.
    pub fn tick(&mut self, now_ms: u64, rng: &mut impl Random, out: &mut impl Output) {
        self.expire_suspicions(now_ms, out);
        if let Some(p) = self.probe {
            let late = now_ms >= p.sent_at.saturating_add(self.params.probe_timeout_ms);
            if !p.acked && !p.indirect && late {
                self.ask_indirect(p, now_ms, rng, out);
            }
        }
        if now_ms >= self.next_probe_at {
            if let Some(p) = self.probe.take() {
                if !p.acked {
                    self.suspect(p.target, now_ms, out);
                }
            }
            self.start_probe(now_ms, rng, out);
            self.next_probe_at = now_ms.saturating_add(self.params.period_ms.max(1));
        }
    }

    /// Handles `msg` from node `from` (authenticated by the caller's transport).
    pub fn on_message(
        &mut self,
        from: u32,
        msg: &Message,
        now_ms: u64,
        rng: &mut impl Random,
        out: &mut impl Output,
    ) {
        if from == self.me || from == 0 {
            return;
        }
        if self.index(from).is_err() {
            // A node not in the table talks to us: it is alive at least at incarnation 0 (its
            // own update, if it carries one, may say more).
            self.apply(
                &Update {
                    node: from,
                    incarnation: 0,
                    state: State::Alive,
                },
                now_ms,
                out,
            );
        }
        for u in msg.updates() {
            self.apply(u, now_ms, out);
        }
        for e in msg.loads() {
            // The sender's own entry is its freshest word about itself.
            let sender = if e.node == from { 0 } else { from };
            let alive = self.member(e.node).is_some_and(|m| m.state != State::Dead);
            if alive {
                self.loads.learn(e, self.me, sender, now_ms, rng.next_u32());
            }
        }
        match msg.kind {
            Kind::Ping if msg.target == self.me => {
                let ack = Message::new(Kind::Ack, msg.seq, self.me, msg.origin);
                self.send(from, ack, now_ms, out);
            }
            Kind::Ping => {}
            Kind::Ack if msg.origin == 0 || msg.origin == self.me => {
                if let Some(p) = &mut self.probe {
                    if p.seq == msg.seq && p.target == msg.target {
                        p.acked = true;
                    }
                }
            }
            Kind::Ack => self.relay_ack(msg, now_ms, out),
            Kind::PingReq => {
                if msg.target == self.me || self.index(msg.target).is_err() {
                    return;
                }
                let slot = self.relay_slot(now_ms);
                self.relays[slot] = Relay {
                    origin: from,
                    seq: msg.seq,
                    target: msg.target,
                    until: now_ms.saturating_add(self.params.period_ms),
                };
                let ping = Message::new(Kind::Ping, msg.seq, msg.target, from);
                self.send(msg.target, ping, now_ms, out);
            }
        }
    }

    /// Up to `out.len()` distinct members not known dead, picked at random (power-of-d choices
    /// for the balancer); returns how many. Constant expected time while most members live.
    pub fn sample(&self, rng: &mut impl Random, out: &mut [u32]) -> usize {
        let m = self.members.as_slice();
        let len = u32::try_from(m.len()).unwrap_or(u32::MAX);
        let mut n = 0usize;
        let tries = out.len().saturating_mul(4);
        for _ in 0..tries {
            if n == out.len() {
                break;
            }
            let Some(c) = m.get(rng.below(len) as usize) else {
                break;
            };
            if c.state != State::Dead && !out[..n].contains(&c.node) {
                out[n] = c.node;
                n += 1;
            }
        }
        n
    }

    fn index(&self, node: u32) -> Result<usize, usize> {
        self.members
            .as_slice()
            .binary_search_by_key(&node, |m| m.node)
    }

    /// Sends `msg` with the freshest updates and load entries piggybacked.
    fn send(&mut self, to: u32, mut msg: Message, now_ms: u64, out: &mut impl Output) {
        self.piggyback(&mut msg);
        let mut loads = [LoadEntry::default(); MAX_LOADS];
        let want = self.params.loads_per_msg.min(MAX_LOADS);
        let own = LoadEntry {
            node: self.me,
            age_ms: 0,
            ..self.own_load
        };
        let n = if own.speed == 0 {
            // No measurement yet: pass on others' entries only.
            0
        } else {
            self.loads.select(
                &own,
                now_ms,
                self.params.load_timeout_ms,
                &mut loads[..want],
            )
        };
        for e in &loads[..n] {
            msg.push_load(*e);
        }
        out.send(to, &msg);
    }

    /// Adds the updates sent the fewest times so far, and counts them.
    fn piggyback(&mut self, msg: &mut Message) {
        let mut picked = [0usize; MAX_UPDATES];
        let mut n = 0usize;
        // Most transmissions left first: the newest news.
        while n < MAX_UPDATES {
            let mut best: Option<usize> = None;
            for i in 0..self.queue_len {
                if picked[..n].contains(&i) {
                    continue;
                }
                if best.is_none_or(|b| self.queue[i].1 > self.queue[b].1) {
                    best = Some(i);
                }
            }
            let Some(b) = best else {
                break;
            };
            picked[n] = b;
            n += 1;
        }
        for &i in &picked[..n] {
            let node = self.queue[i].0;
            let u = if node == self.me {
                Some(Update {
                    node,
                    incarnation: self.incarnation,
                    state: State::Alive,
                })
            } else {
                self.member(node).map(|m| Update {
                    node,
                    incarnation: m.incarnation,
                    state: m.state,
                })
            };
            if let Some(u) = u {
                msg.push_update(u);
            }
            self.queue[i].1 = self.queue[i].1.saturating_sub(1);
        }
        // Drop what was sent often enough (or is about a member gone from the table).
        let mut i = 0;
        while i < self.queue_len {
            if self.queue[i].1 == 0 {
                self.queue_len -= 1;
                self.queue[i] = self.queue[self.queue_len];
            } else {
                i += 1;
            }
        }
    }

    /// Queues news about `node` for [`Swim::transmissions`] messages; when the queue is full the
    /// entry sent most often makes room.
    fn enqueue(&mut self, node: u32) {
        let left = self.transmissions();
        let len = self.queue_len;
        if let Some(q) = self.queue[..len].iter_mut().find(|q| q.0 == node) {
            q.1 = left;
            return;
        }
        let slot = if len < QUEUE {
            self.queue_len += 1;
            len
        } else {
            let mut worst = 0;
            for i in 1..QUEUE {
                if self.queue[i].1 < self.queue[worst].1 {
                    worst = i;
                }
            }
            worst
        };
        self.queue[slot] = (node, left);
    }

    /// Applies one update heard from anyone, by SWIM's precedence of states and incarnations.
    fn apply(&mut self, u: &Update, now_ms: u64, out: &mut impl Output) {
        if u.node == self.me {
            if u.incarnation > self.incarnation {
                self.incarnation = u.incarnation;
            }
            if u.state != State::Alive && u.incarnation >= self.incarnation {
                // Refute: a newer incarnation of this node is alive.
                self.incarnation = u.incarnation.saturating_add(1);
                self.enqueue(self.me);
            }
            return;
        }
        let i = match self.index(u.node) {
            Ok(i) => i,
            Err(_) if u.state == State::Dead => return,
            Err(at) => {
                let m = Member {
                    node: u.node,
                    incarnation: u.incarnation,
                    state: State::Alive,
                    since_ms: now_ms,
                };
                if !self.members.insert(at, m) {
                    return;
                }
                out.event(u.node, Event::Up);
                self.enqueue(u.node);
                if u.state == State::Alive {
                    return;
                }
                at
            }
        };
        let Some(m) = self.members.as_slice().get(i).copied() else {
            return;
        };
        let newer = u.incarnation > m.incarnation;
        let event = match (m.state, u.state) {
            (State::Suspect | State::Dead, State::Alive) if newer => Some(Event::Up),
            (State::Alive, State::Alive) if newer => None,
            (State::Alive, State::Suspect) if u.incarnation >= m.incarnation => {
                Some(Event::Suspect)
            }
            (State::Suspect, State::Suspect) if newer => None,
            (State::Alive | State::Suspect, State::Dead) if u.incarnation >= m.incarnation => {
                Some(Event::Down)
            }
            (State::Dead, State::Dead) if newer => None,
            _ => return,
        };
        if let Some(slot) = self.members.as_mut_slice().get_mut(i) {
            let since = if slot.state == u.state {
                slot.since_ms
            } else {
                now_ms
            };
            *slot = Member {
                node: u.node,
                incarnation: u.incarnation,
                state: u.state,
                since_ms: since,
            };
        }
        self.enqueue(u.node);
        match u.state {
            State::Suspect => self.time_suspicion(u.node, u.incarnation, now_ms),
            State::Dead => self.loads.forget(u.node),
            State::Alive => {}
        }
        if let Some(e) = event {
            out.event(u.node, e);
        }
    }

    /// Starts timing a suspicion (when the table of timed ones has room; otherwise it is found
    /// when the member is next probed).
    fn time_suspicion(&mut self, node: u32, incarnation: u32, now_ms: u64) {
        let until = now_ms.saturating_add(self.suspicion_timeout_ms());
        let len = self.suspects_len;
        if let Some(s) = self.suspects[..len].iter_mut().find(|s| s.0 == node) {
            *s = (node, incarnation, until);
        } else if len < SUSPECTS {
            self.suspects[len] = (node, incarnation, until);
            self.suspects_len += 1;
        }
    }

    /// Declares dead the suspects whose time ran out without a refutation.
    fn expire_suspicions(&mut self, now_ms: u64, out: &mut impl Output) {
        let mut i = 0;
        while i < self.suspects_len {
            let (node, inc, until) = self.suspects[i];
            if until > now_ms {
                i += 1;
                continue;
            }
            self.suspects_len -= 1;
            self.suspects[i] = self.suspects[self.suspects_len];
            let still = self
                .member(node)
                .is_some_and(|m| m.state == State::Suspect && m.incarnation == inc);
            if still {
                self.declare_dead(node, inc, now_ms, out);
            }
        }
    }

    fn declare_dead(&mut self, node: u32, incarnation: u32, now_ms: u64, out: &mut impl Output) {
        self.apply(
            &Update {
                node,
                incarnation,
                state: State::Dead,
            },
            now_ms,
            out,
        );
    }

    /// This node's own probe of `node` failed: suspect it at the incarnation held.
    fn suspect(&mut self, node: u32, now_ms: u64, out: &mut impl Output) {
        if let Some(m) = self.member(node).copied() {
            if m.state == State::Alive {
                let u = Update {
                    node,
                    incarnation: m.incarnation,
                    state: State::Suspect,
                };
                self.apply(&u, now_ms, out);
            }
        }
    }

    /// The next member of the round to probe that is not dead.
    fn next_target(
        &mut self,
        now_ms: u64,
        rng: &mut impl Random,
        out: &mut impl Output,
    ) -> Option<u32> {
        let len = u32::try_from(self.members.as_slice().len()).ok()?;
        if len == 0 {
            return None;
        }
        for _ in 0..len {
            if self.round.len != len || self.round.step >= len {
                let mut stride = 1 + rng.below(len);
                while gcd(stride, len) != 1 {
                    stride = stride % len + 1;
                }
                self.round = Round {
                    len,
                    offset: rng.below(len),
                    stride,
                    step: 0,
                };
            }
            let r = self.round;
            self.round.step += 1;
            let at =
                (u64::from(r.offset) + u64::from(r.step) * u64::from(r.stride)) % u64::from(len);
            let m = *self.members.as_slice().get(at as usize)?;
            match m.state {
                State::Alive => return Some(m.node),
                State::Suspect => {
                    // A suspicion the timed table had no room for ends here.
                    if now_ms >= m.since_ms.saturating_add(self.suspicion_timeout_ms()) {
                        self.declare_dead(m.node, m.incarnation, now_ms, out);
                    } else {
                        return Some(m.node);
                    }
                }
                State::Dead => {}
            }
        }
        None
    }

    fn start_probe(&mut self, now_ms: u64, rng: &mut impl Random, out: &mut impl Output) {
        let Some(target) = self.next_target(now_ms, rng, out) else {
            return;
        };
        self.seq = self.seq.wrapping_add(1);
        self.probe = Some(Probe {
            target,
            seq: self.seq,
            sent_at: now_ms,
            acked: false,
            indirect: false,
        });
        let ping = Message::new(Kind::Ping, self.seq, target, 0);
        self.send(target, ping, now_ms, out);
    }

    /// The direct probe went unanswered: ask `indirect` random members to probe the target.
    fn ask_indirect(
        &mut self,
        p: Probe,
        now_ms: u64,
        rng: &mut impl Random,
        out: &mut impl Output,
    ) {
        if let Some(probe) = &mut self.probe {
            probe.indirect = true;
        }
        let k = self.params.indirect.min(8) as usize;
        let mut via = [0u32; 8];
        let n = self.sample(rng, &mut via[..k.saturating_add(1).min(8)]);
        let mut sent = 0usize;
        for &node in &via[..n] {
            if node == p.target || sent == k {
                continue;
            }
            sent += 1;
            let req = Message::new(Kind::PingReq, p.seq, p.target, 0);
            self.send(node, req, now_ms, out);
        }
    }

    /// A slot for a new relay: a free or expired one, else the one that expires first.
    fn relay_slot(&self, now_ms: u64) -> usize {
        let mut best = 0;
        for (i, r) in self.relays.iter().enumerate() {
            if r.origin == 0 || r.until <= now_ms {
                return i;
            }
            if r.until < self.relays[best].until {
                best = i;
            }
        }
        best
    }

    /// An answer to an indirect probe: forwarded to its origin when this node relayed it.
    fn relay_ack(&mut self, msg: &Message, now_ms: u64, out: &mut impl Output) {
        let found = self.relays.iter_mut().find(|r| {
            r.origin == msg.origin && r.seq == msg.seq && r.target == msg.target && r.until > now_ms
        });
        if let Some(r) = found {
            *r = Relay::default();
            let ack = Message::new(Kind::Ack, msg.seq, msg.target, msg.origin);
            self.send(msg.origin, ack, now_ms, out);
        }
    }

    /// Counts of members by state: (alive, suspect, dead). O(N): for reports, not per message.
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut c = (0, 0, 0);
        for m in self.members.as_slice() {
            match m.state {
                State::Alive => c.0 += 1,
                State::Suspect => c.1 += 1,
                State::Dead => c.2 += 1,
            }
        }
        c
    }
}

#[cfg(test)]
mod tests;
