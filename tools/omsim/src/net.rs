// SPDX-License-Identifier: GPL-2.0

//! Membership traffic in the model: each node's [`Swim`](omcore::swim::Swim) ticks when it says,
//! its messages are encoded, counted (with the frame header and tag the module would add), lost
//! with the configured probability or decoded and handed to the receiver at once; what the nodes
//! decide about each other is checked against the truth: how long a failure takes to be known
//! by every live node, and how many live nodes were suspected or declared dead.

use crate::sim::{Event as SimEvent, Sim};
use omcore::frame::{AEAD_TAG_LEN, HEADER_LEN};
use omcore::swim::{Event, Message, Output, State, MAX_LEN};
use std::collections::HashSet;

/// What one call into a node's `Swim` produced.
#[derive(Default)]
struct Outbox {
    sent: Vec<(u32, Message)>,
    events: Vec<(u32, Event)>,
}

impl Output for Outbox {
    fn send(&mut self, to: u32, msg: &Message) {
        self.sent.push((to, *msg));
    }

    fn event(&mut self, node: u32, event: Event) {
        self.events.push((node, event));
    }
}

/// Failure detection being measured: which nodes failed, and which live nodes know.
#[derive(Debug, Default)]
pub(crate) struct Detection {
    /// The nodes that failed.
    failed: HashSet<u32>,
    /// When they failed, ms.
    at: Option<u64>,
    /// (observer, failed node) pairs that must become known: live observers x failed nodes.
    total: u64,
    /// The pairs known so far.
    known: HashSet<(u32, u32)>,
}

impl Detection {
    /// Whether every pair is known (true when nothing failed).
    pub(crate) fn complete(&self) -> bool {
        self.known.len() as u64 >= self.total
    }
}

impl Sim {
    /// Node `id`'s membership protocol does what is due, with its current load entry.
    pub(crate) fn swim_tick(&mut self, id: u32) {
        self.advance(id);
        let own = self.own_entry(id);
        let now = self.now;
        let mut out = Outbox::default();
        let node = &mut self.nodes[(id - 1) as usize];
        node.swim.set_own_load(own);
        node.swim.tick(now, &mut self.rng, &mut out);
        node.swim_at = u64::MAX;
        self.deliver(id, out);
        self.schedule_swim(id);
    }

    /// Makes sure a `Swim` event is queued for node `id` no later than its protocol needs.
    fn schedule_swim(&mut self, id: u32) {
        let now = self.now;
        let n = self.node_mut(id);
        let due = n.swim.next_due().max(now + 1);
        if due < n.swim_at || n.swim_at <= now {
            n.swim_at = due;
            self.at(due, SimEvent::Swim(id));
        }
    }

    /// Sends what `from` produced, and what the receivers answer, until nothing is left.
    fn deliver(&mut self, from: u32, out: Outbox) {
        let mut work = vec![(from, out)];
        let mut buf = [0u8; MAX_LEN];
        while let Some((from, out)) = work.pop() {
            for (node, e) in out.events {
                self.observe(from, node, e);
            }
            for (to, msg) in out.sent {
                let len = msg.encode(&mut buf);
                self.node_mut(from).bytes += (HEADER_LEN + len + AEAD_TAG_LEN) as u64;
                self.report.messages += 1;
                if self.cfg.loss > 0.0 && self.rng.unit() < self.cfg.loss {
                    self.report.lost += 1;
                    continue;
                }
                if !self.node(to).up {
                    continue;
                }
                let Ok(msg) = Message::decode(&buf[..len]) else {
                    continue;
                };
                let mut o = Outbox::default();
                let now = self.now;
                let node = &mut self.nodes[(to - 1) as usize];
                node.swim.on_message(from, &msg, now, &mut self.rng, &mut o);
                self.schedule_swim(to);
                work.push((to, o));
            }
        }
    }

    /// `observer` changed its mind about `node`: checked against the truth.
    fn observe(&mut self, observer: u32, node: u32, e: Event) {
        let up = self.node(node).up;
        match e {
            Event::Suspect if up => self.report.false_suspicions += 1,
            Event::Down if up => self.report.false_downs += 1,
            Event::Down => self.learned(observer, node),
            Event::Suspect | Event::Up => {}
        }
    }

    fn learned(&mut self, observer: u32, node: u32) {
        let d = &mut self.detect;
        let Some(at) = d.at else {
            return;
        };
        if !d.failed.contains(&node) || d.failed.contains(&observer) {
            return;
        }
        if !d.known.insert((observer, node)) {
            return;
        }
        let since = self.now.saturating_sub(at) as f64 / 1000.0;
        let share = d.known.len() as f64 / d.total.max(1) as f64;
        self.report.detect_curve.push((since, share));
        self.report.detect_first_s.get_or_insert(since);
        if d.complete() {
            self.report.detect_all_s = Some(since);
        }
    }

    /// Node `id` fails now: from here on every live node should learn it.
    pub(crate) fn detect_failure(&mut self, id: u32) {
        let now = self.now;
        self.detect.at.get_or_insert(now);
        self.detect.failed.insert(id);
        let failed = self.detect.failed.len() as u64;
        let live = self
            .nodes
            .iter()
            .filter(|n| n.up && !self.detect.failed.contains(&n.swim.me()))
            .count() as u64;
        self.detect.total = live * failed;
        // Nodes that had already declared it dead (wrongly, then) know it already.
        let knew: Vec<u32> = self
            .nodes
            .iter()
            .filter(|n| n.up && n.swim.member(id).is_some_and(|m| m.state == State::Dead))
            .map(|n| n.swim.me())
            .collect();
        for o in knew {
            self.learned(o, id);
        }
    }
}
