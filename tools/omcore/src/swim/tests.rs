// SPDX-License-Identifier: GPL-2.0

//! Seeded runs of small clusters of [`Swim`] state machines, messages delivered through their
//! wire form, some lost on purpose.

extern crate std;

use super::super::msg::{STATUS_DEF, STATUS_UP};
use super::*;
use std::vec::Vec;

/// splitmix64, seeded: the tests' randomness.
struct Rng(u64);

impl Random for Rng {
    fn next_u32(&mut self) -> u32 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 32) as u32
    }
}

type Table = Vec<Member>;

#[derive(Default)]
struct Out {
    sent: Vec<(u32, Vec<u8>)>,
    events: Vec<(u32, Event)>,
}

impl Output for Out {
    fn send(&mut self, to: u32, msg: &Message) {
        let mut b = [0u8; MAX_LEN];
        let n = msg.encode(&mut b);
        self.sent.push((to, b[..n].to_vec()));
    }
    fn event(&mut self, node: u32, event: Event) {
        self.events.push((node, event));
    }
}

fn load(node: u32, load: u32) -> LoadEntry {
    LoadEntry {
        node,
        load,
        speed: 10_000,
        cpus: 1,
        status: STATUS_DEF | STATUS_UP,
        mem_kb: 100,
        tmem_kb: 200,
        ..LoadEntry::default()
    }
}

/// Nodes 1..=n, each knowing all the others; messages arrive at once unless lost.
struct Cluster {
    nodes: Vec<Swim<Table>>,
    up: Vec<bool>,
    rng: Rng,
    /// Loss per message, per million.
    loss_ppm: u32,
    /// Messages from `.0` to `.1` are always lost.
    cut: Option<(u32, u32)>,
    /// Every event: (time, observer, member, event).
    events: Vec<(u64, u32, u32, Event)>,
    sent: Vec<u64>,
    bytes: Vec<u64>,
    now: u64,
}

impl Cluster {
    fn new(n: u32, seed: u64) -> Self {
        let nodes = (1..=n)
            .map(|me| {
                let table = (1..=n).filter(|&k| k != me).map(Member::new).collect();
                let mut s = Swim::new(me, 1, Params::default(), table, 0);
                s.set_own_load(load(me, me * 10));
                s
            })
            .collect();
        Self {
            nodes,
            up: std::vec![true; n as usize],
            rng: Rng(seed),
            loss_ppm: 0,
            cut: None,
            events: Vec::new(),
            sent: std::vec![0; n as usize],
            bytes: std::vec![0; n as usize],
            now: 0,
        }
    }

    /// Runs until `until_ms`, ticking every node every millisecond it has something due.
    fn run(&mut self, until_ms: u64) {
        while self.now < until_ms {
            self.now += 1;
            for i in 0..self.nodes.len() {
                if self.up[i] && self.nodes[i].next_due() <= self.now {
                    let mut out = Out::default();
                    self.nodes[i].tick(self.now, &mut self.rng, &mut out);
                    self.deliver(i as u32 + 1, out);
                }
            }
        }
    }

    fn deliver(&mut self, from: u32, out: Out) {
        let mut work = std::vec![(from, out)];
        while let Some((from, out)) = work.pop() {
            for (node, e) in out.events {
                self.events.push((self.now, from, node, e));
            }
            for (to, bytes) in out.sent {
                self.sent[from as usize - 1] += 1;
                self.bytes[from as usize - 1] += bytes.len() as u64;
                let lost = self.rng.below(1_000_000) < self.loss_ppm;
                let i = to as usize - 1;
                if lost || self.cut == Some((from, to)) || !self.up[i] {
                    continue;
                }
                let msg = Message::decode(&bytes).expect("own messages decode");
                let mut o = Out::default();
                self.nodes[i].on_message(from, &msg, self.now, &mut self.rng, &mut o);
                work.push((to, o));
            }
        }
    }

    /// Time every live node other than `node` had declared it down, if all have.
    fn all_down(&self, node: u32) -> Option<u64> {
        let mut last = 0;
        for (i, s) in self.nodes.iter().enumerate() {
            if !self.up[i] || i as u32 + 1 == node {
                continue;
            }
            s.member(node).filter(|m| m.state == State::Dead)?;
            let t = self
                .events
                .iter()
                .find(|e| e.1 == i as u32 + 1 && e.2 == node && e.3 == Event::Down)?
                .0;
            last = last.max(t);
        }
        Some(last)
    }

    fn count(&self, event: Event) -> usize {
        self.events.iter().filter(|e| e.3 == event).count()
    }
}

#[test]
fn quiet_cluster_suspects_no_one_and_traffic_is_bounded() {
    let mut c = Cluster::new(16, 1);
    c.run(20_000);
    assert_eq!(c.count(Event::Suspect), 0);
    assert_eq!(c.count(Event::Down), 0);
    // One probe per 200 ms period and the acks of the probes received: about 2 messages per
    // period each, never more than MAX_LEN bytes.
    for (&n, &b) in c.sent.iter().zip(&c.bytes) {
        assert!((150..=260).contains(&n), "{n} messages in 100 periods");
        assert!(b <= n * MAX_LEN as u64);
    }
    // Loads spread: every node holds fresh entries about others.
    for s in &c.nodes {
        assert!(
            s.loads().entries().len() >= 10,
            "{}",
            s.loads().entries().len()
        );
        for (e, _) in s.loads().entries() {
            assert_eq!(e.load, e.node * 10);
        }
    }
}

#[test]
fn every_member_probed_once_per_round() {
    let mut s = Swim::new(
        1,
        0,
        Params::default(),
        (2..=8).map(Member::new).collect::<Table>(),
        0,
    );
    let mut rng = Rng(3);
    for round in 0..3 {
        let mut seen = Vec::new();
        for k in 0..7u64 {
            let mut out = Out::default();
            let t = (round * 7 + k) * 200;
            s.tick(t, &mut rng, &mut out);
            // The probe is answered, so no one is suspected.
            let (to, b) = out.sent.pop().expect("a ping");
            let ping = Message::decode(&b).unwrap();
            assert_eq!((ping.kind, ping.target), (Kind::Ping, to));
            let ack = Message::new(Kind::Ack, ping.seq, to, 0);
            s.on_message(to, &ack, t + 1, &mut rng, &mut Out::default());
            seen.push(to);
        }
        seen.sort();
        assert_eq!(seen, (2..=8).collect::<Vec<_>>(), "round {round}");
    }
}

#[test]
fn failure_seen_by_all_within_the_timeouts() {
    for seed in [1, 2, 3] {
        let mut c = Cluster::new(32, seed);
        c.run(2000);
        c.up[6] = false; // node 7
        c.run(20_000);
        let t = c.all_down(7).expect("every node declared node 7 dead");
        // First probe within a round (32 periods at worst, a few on average), then the
        // suspicion timeout (3 x 2 periods), then dissemination: well under 10 s.
        let took = t - 2000;
        assert!(took <= 8000, "seed {seed}: {took} ms");
        assert!(took >= c.nodes[0].suspicion_timeout_ms(), "{took}");
        // Nobody else was ever suspected.
        assert!(c.events.iter().all(|e| e.2 == 7), "seed {seed}");
    }
}

#[test]
fn indirect_probes_save_a_member_behind_a_broken_link() {
    let mut c = Cluster::new(8, 4);
    // Node 1 never reaches node 2 directly; others do, and relay.
    c.cut = Some((1, 2));
    c.run(30_000);
    assert_eq!(c.count(Event::Suspect), 0, "{:?}", c.events);
    assert_eq!(c.nodes[0].member(2).map(|m| m.state), Some(State::Alive));
}

#[test]
fn with_loss_suspicions_are_refuted_and_no_one_dies() {
    let mut c = Cluster::new(32, 5);
    // 5 % loss: direct probes fail often, a few indirect ones too.
    c.loss_ppm = 50_000;
    c.run(60_000);
    assert_eq!(c.count(Event::Down), 0, "{:?}", c.events);
    for s in &c.nodes {
        assert_eq!(s.counts(), (31, 0, 0));
    }
}

#[test]
fn refutes_suspicion_of_itself_and_precedence_holds() {
    let mut s = Swim::new(
        1,
        4,
        Params::default(),
        (2..=4).map(Member::new).collect::<Table>(),
        0,
    );
    let mut rng = Rng(1);
    let mut out = Out::default();
    let mut m = Message::new(Kind::Ack, 9, 2, 0);
    m.push_update(Update {
        node: 1,
        incarnation: 4,
        state: State::Suspect,
    });
    s.on_message(2, &m, 10, &mut rng, &mut out);
    assert_eq!(s.incarnation(), 5);
    // The refutation is on the next message.
    s.tick(10, &mut rng, &mut out);
    let msg = Message::decode(&out.sent.last().unwrap().1).unwrap();
    assert!(msg.updates().contains(&Update {
        node: 1,
        incarnation: 5,
        state: State::Alive
    }));
    // Precedence about node 3, at incarnation 2.
    let step = |s: &mut Swim<Table>, inc, state| {
        let mut m = Message::new(Kind::Ack, 0, 2, 0);
        m.push_update(Update {
            node: 3,
            incarnation: inc,
            state,
        });
        let mut out = Out::default();
        s.on_message(2, &m, 20, &mut Rng(2), &mut out);
        let mm = s.member(3).unwrap();
        ((mm.incarnation, mm.state), out.events)
    };
    let (a, e) = step(&mut s, 2, State::Alive);
    assert_eq!((a, e), ((2, State::Alive), Vec::new()));
    let (a, e) = step(&mut s, 2, State::Suspect);
    assert_eq!(
        (a, e),
        ((2, State::Suspect), std::vec![(3, Event::Suspect)])
    );
    // Alive at the same incarnation does not clear a suspicion; a newer one does.
    assert_eq!(step(&mut s, 2, State::Alive).0, (2, State::Suspect));
    let (a, e) = step(&mut s, 3, State::Alive);
    assert_eq!((a, e), ((3, State::Alive), std::vec![(3, Event::Up)]));
    // An older suspicion is ignored; dead at the incarnation held wins and sticks.
    assert_eq!(step(&mut s, 2, State::Suspect).0, (3, State::Alive));
    let (a, e) = step(&mut s, 3, State::Dead);
    assert_eq!((a, e), ((3, State::Dead), std::vec![(3, Event::Down)]));
    assert_eq!(step(&mut s, 3, State::Alive).0, (3, State::Dead));
    assert_eq!(step(&mut s, 9, State::Suspect).0, (3, State::Dead));
    // A restarted node, with a higher incarnation, is back.
    let (a, e) = step(&mut s, 10, State::Alive);
    assert_eq!((a, e), ((10, State::Alive), std::vec![(3, Event::Up)]));
    // News of a dead stranger is dropped, of a live one taken.
    let mut m = Message::new(Kind::Ack, 0, 2, 0);
    m.push_update(Update {
        node: 40,
        incarnation: 0,
        state: State::Dead,
    });
    m.push_update(Update {
        node: 30,
        incarnation: 1,
        state: State::Alive,
    });
    s.on_message(2, &m, 30, &mut rng, &mut Out::default());
    assert!(s.member(40).is_none());
    assert_eq!(s.member(30).map(|m| m.incarnation), Some(1));
    assert!(s.members().windows(2).all(|w| w[0].node < w[1].node));
}

#[test]
fn a_joining_node_becomes_known_to_all() {
    let mut c = Cluster::new(24, 6);
    // Node 24 is new: the others do not know it; it knows them (the map).
    for s in c.nodes.iter_mut().take(23) {
        let t: Vec<Member> = s
            .members()
            .iter()
            .copied()
            .filter(|m| m.node != 24)
            .collect();
        *s = Swim::new(s.me(), 1, Params::default(), t, 0);
    }
    c.run(10_000);
    for s in &c.nodes[..23] {
        assert_eq!(s.member(24).map(|m| m.state), Some(State::Alive));
    }
    assert_eq!(c.count(Event::Up), 23);
    assert_eq!(c.count(Event::Suspect), 0);
}

#[test]
fn hostile_messages_do_no_harm() {
    let mut s = Swim::new(
        1,
        0,
        Params::default(),
        (2..=4).map(Member::new).collect::<Table>(),
        0,
    );
    let mut rng = Rng(9);
    let mut buf = [0u8; MAX_LEN];
    for i in 0..20_000u32 {
        // Random bytes rarely decode; random messages built field by field always do.
        let n = rng.below(MAX_LEN as u32 + 1) as usize;
        for b in buf[..n].iter_mut() {
            *b = rng.next_u32() as u8;
        }
        if let Ok(m) = Message::decode(&buf[..n]) {
            s.on_message(2, &m, u64::from(i), &mut rng, &mut Out::default());
        }
        let kind = [Kind::Ping, Kind::Ack, Kind::PingReq][i as usize % 3];
        let mut m = Message::new(kind, rng.next_u32(), 1 + rng.below(8), 0);
        if kind != Kind::PingReq {
            m.origin = rng.below(8);
        }
        for _ in 0..rng.below(MAX_UPDATES as u32 + 1) {
            m.push_update(Update {
                node: 1 + rng.below(8),
                incarnation: rng.next_u32(),
                state: [State::Alive, State::Suspect, State::Dead][rng.below(3) as usize],
            });
        }
        let from = 1 + rng.below(9);
        s.on_message(from, &m, u64::from(i), &mut rng, &mut Out::default());
        s.tick(u64::from(i) * 50, &mut rng, &mut Out::default());
    }
    // The table stays sorted and bounded by the IDs seen (1..=9, 1 being this node).
    assert!(s.members().windows(2).all(|w| w[0].node < w[1].node));
    assert!(s.members().len() <= 8);
}
