// SPDX-License-Identifier: GPL-2.0

//! The discrete-event model: nodes, jobs, membership, migrations, failures and a joining node.
//!
//! Each node runs what the module is to run: an [`omcore::swim::Swim`] that probes its members,
//! detects failures and carries load entries on its messages (see [`crate::net`]); every
//! `balance_interval_ms` (and, paced, again as soon as its link has drained after a round that
//! moved something) it decays its processes' usage with [`ProcStats::update`] and calls
//! [`balance::decide_paced`] on the load entries its membership messages brought, each decision
//! then answered by the target's [`balance::admit`]. Its load is sampled every 100 ms and
//! smoothed with weight 1/8 as in the module.
//!
//! Simplifications, each stated in `Documentation/balancing.md`: a node's CPUs are shared equally
//! among its jobs (processor sharing), membership messages arrive at once or are lost, a
//! migration occupies the sender's link for `image / throughput` (images leaving one node queue
//! on its link) and freezes the job for that plus the fixed overhead, migration requests and
//! answers are not counted as traffic, and the jobs of a failed node die, as do guests whose home
//! node fails.

pub use crate::config::{Config, Report, Rng, Sample};
use omcore::balance::{self, Candidate, Decision, Link, NodeView, ProcStats};
use omcore::frame::{AEAD_TAG_LEN, HEADER_LEN};
use omcore::msg::{LoadEntry, LOAD_ENTRY_LEN, STATUS_DEF, STATUS_UP, STD_SPEED};
use omcore::swim::{Member, Swim};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// The module's heartbeat period (its `heartbeat_ms`), for the cost of heartbeats to every
/// peer that membership replaces, ms.
const MODULE_HEARTBEAT_MS: u64 = 500;
/// Load sampling period, ms.
const SAMPLE_MS: u64 = 100;
/// Memory each node uses for itself, per mille of its total.
const BASE_MEM_PERMILLE: u64 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Event {
    /// A node's membership protocol has something due.
    Swim(u32),
    /// A node runs its balancer.
    Balance(u32),
    /// A job may have finished on a node (valid for the node's version).
    Done(u32, u64),
    /// A migrating job reaches its target (job, from, to).
    Arrive(usize, u32, u32),
    /// A job arrives at a node.
    Start(usize, u32),
    /// A node fails.
    Fail(u32),
    /// A node joins.
    Join(u32),
    /// Once a second: measure imbalance.
    Sample,
}

pub(crate) struct Node {
    speed: u32,
    cpus: u16,
    tmem_kb: u64,
    link_bps: u64,
    pub(crate) up: bool,
    jobs: Vec<usize>,
    /// Runnable x 100 x 256, smoothed as in the module.
    smoothed: u64,
    /// Last load sample taken, ms.
    sampled_at: u64,
    /// Jobs progressed up to here, ms.
    progressed_at: u64,
    /// Usage decayed up to here, ms.
    decayed_at: u64,
    /// Bumped whenever the job set changes: older `Done` events are stale.
    version: u64,
    /// Its membership protocol, with the load table its messages fill.
    pub(crate) swim: Swim<Vec<Member>>,
    /// When its `Swim` event is scheduled (older events are stale), ms.
    pub(crate) swim_at: u64,
    /// When its next balancing round is scheduled, ms.
    balance_at: u64,
    /// The node's link sends nothing before this, ms.
    tx_free_at: u64,
    /// Membership bytes sent.
    pub(crate) bytes: u64,
    /// Jobs on their way here, and their images in KiB.
    incoming: u64,
    incoming_kb: u64,
    up_since: u64,
    down_at: Option<u64>,
}

#[derive(Debug, Clone)]
struct Job {
    /// Standard-CPU ms left.
    left: f64,
    /// CPU ms used (on whatever CPUs).
    used: f64,
    /// Runnable ms since the last decay.
    used_since: f64,
    stats: ProcStats,
    image: u64,
    home: u32,
    node: Option<u32>,
    migrated_at: Option<u64>,
    batch: bool,
    started: bool,
    dead: bool,
    done: bool,
}

/// A simulation in progress.
pub struct Sim {
    pub(crate) cfg: Config,
    pub(crate) now: u64,
    pub(crate) nodes: Vec<Node>,
    jobs: Vec<Job>,
    queue: BinaryHeap<Reverse<(u64, u64, Event)>>,
    seq: u64,
    pub(crate) rng: Rng,
    pub(crate) report: Report,
    join: Option<(u32, u64)>,
    batch_left: u32,
    /// Failure detection under way (see [`crate::net`]).
    pub(crate) detect: crate::net::Detection,
    /// Membership bytes sent by all nodes up to the last sample.
    last_bytes: u64,
}

/// Node `id`'s member table at the start: the first `nodes` nodes but itself (a node joining
/// later is in no one's table; it knows the others from the cluster map).
fn members(id: u32, nodes: u32) -> Vec<Member> {
    (1..=nodes).filter(|&k| k != id).map(Member::new).collect()
}

pub(crate) fn ms(s: f64) -> u64 {
    (s * 1000.0).max(0.0) as u64
}

impl Sim {
    /// Builds the cluster and the initial events.
    pub fn new(cfg: Config) -> Self {
        let mut rng = Rng::new(cfg.seed);
        let total = cfg.nodes + u32::from(cfg.join_s.is_some());
        let nodes = (1..=total)
            .map(|id| {
                let (speed, cpus, tmem_kb, link_bps) = if cfg.hetero {
                    let speed = [5000, 10_000, 10_000, 20_000][rng.below(4) as usize];
                    let cpus = [1, 2, 4][rng.below(3) as usize];
                    let mem = (2u64 << 20) << rng.below(4);
                    let link = [12_500_000, 125_000_000, 125_000_000, 1_250_000_000]
                        [rng.below(4) as usize];
                    (speed, cpus, mem, link)
                } else {
                    (STD_SPEED, cfg.cpus.max(1), cfg.mem_kb, cfg.link_bps)
                };
                Node {
                    speed,
                    cpus,
                    tmem_kb,
                    link_bps,
                    up: id <= cfg.nodes,
                    jobs: Vec::new(),
                    smoothed: 0,
                    sampled_at: 0,
                    progressed_at: 0,
                    decayed_at: 0,
                    version: 0,
                    swim: Swim::new(id, 0, cfg.swim, members(id, cfg.nodes), 0),
                    swim_at: 0,
                    balance_at: 0,
                    tx_free_at: 0,
                    bytes: 0,
                    incoming: 0,
                    incoming_kb: 0,
                    up_since: 0,
                    down_at: None,
                }
            })
            .collect();
        let mut sim = Self {
            now: 0,
            nodes,
            jobs: Vec::new(),
            queue: BinaryHeap::new(),
            seq: 0,
            rng,
            report: Report {
                nodes: cfg.nodes,
                ..Report::default()
            },
            join: None,
            batch_left: cfg.batch,
            detect: crate::net::Detection::default(),
            last_bytes: 0,
            cfg,
        };
        for id in 1..=sim.cfg.nodes {
            sim.start_node(id, 0);
        }
        for _ in 0..sim.cfg.batch {
            let j = sim.new_job(sim.cfg.work_s, sim.cfg.image_bytes, 1, true);
            sim.at(0, Event::Start(j, 1));
        }
        if sim.cfg.arrival_rate > 0.0 {
            let mut t = 0.0;
            loop {
                t += sim.rng.exp(1.0 / sim.cfg.arrival_rate);
                if t >= sim.cfg.arrival_until_s {
                    break;
                }
                let node = 1 + sim.rng.below(u64::from(sim.cfg.nodes)) as u32;
                let work = sim.rng.exp(sim.cfg.arrival_work_s);
                let image = if sim.cfg.hetero {
                    (1u64 << 20) << sim.rng.below(10)
                } else {
                    sim.cfg.image_bytes
                };
                let j = sim.new_job(work, image, node, false);
                sim.at(ms(t), Event::Start(j, node));
            }
        }
        if let Some((count, t)) = sim.cfg.fail {
            // Never node 1, which holds the batch.
            for k in 0..count.min(sim.cfg.nodes.saturating_sub(1)) {
                sim.at(ms(t), Event::Fail(sim.cfg.nodes - k));
            }
        }
        if let Some(t) = sim.cfg.join_s {
            sim.at(ms(t), Event::Join(sim.cfg.nodes + 1));
        }
        sim.at(1000, Event::Sample);
        sim
    }

    fn new_job(&mut self, work_s: f64, image: u64, home: u32, batch: bool) -> usize {
        self.jobs.push(Job {
            left: work_s * 1000.0,
            used: 0.0,
            used_since: 0.0,
            stats: ProcStats::new(0),
            image,
            home,
            node: None,
            migrated_at: None,
            batch,
            started: false,
            dead: false,
            done: false,
        });
        self.jobs.len() - 1
    }

    pub(crate) fn at(&mut self, t: u64, e: Event) {
        self.seq += 1;
        self.queue.push(Reverse((t, self.seq, e)));
    }

    fn start_node(&mut self, id: u32, now: u64) {
        let period = self.cfg.swim.period_ms.max(1);
        let bal = self.cfg.tun.balance_interval_ms.max(1);
        let (b, r) = (self.rng.below(period), self.rng.below(bal));
        let n = self.node_mut(id);
        n.up = true;
        n.up_since = now;
        n.sampled_at = now;
        n.progressed_at = now;
        n.decayed_at = now;
        n.swim_at = now + b;
        n.balance_at = now + r;
        self.at(now + b, Event::Swim(id));
        self.at(now + r, Event::Balance(id));
    }

    pub(crate) fn node_mut(&mut self, id: u32) -> &mut Node {
        &mut self.nodes[(id - 1) as usize]
    }

    pub(crate) fn node(&self, id: u32) -> &Node {
        &self.nodes[(id - 1) as usize]
    }

    /// Brings node `id`'s jobs and load samples up to now.
    pub(crate) fn advance(&mut self, id: u32) {
        let now = self.now;
        let i = (id - 1) as usize;
        let n = &mut self.nodes[i];
        let count = n.jobs.len() as u64;
        let dt = now.saturating_sub(n.progressed_at) as f64;
        if dt > 0.0 && count > 0 {
            let share = (f64::from(n.cpus) / count as f64).min(1.0);
            let rate = share * f64::from(n.speed) / f64::from(STD_SPEED);
            for &j in &n.jobs {
                let job = &mut self.jobs[j];
                job.left -= dt * rate;
                job.used += dt * share;
                // CPU-bound: runnable all the time it is on a node.
                job.used_since += dt;
            }
        }
        n.progressed_at = now;
        let samples = now.saturating_sub(n.sampled_at) / SAMPLE_MS;
        let target = count * 100 * 256;
        if samples > 300 {
            n.smoothed = target;
        } else {
            for _ in 0..samples {
                n.smoothed = (n.smoothed * 7 + target) / 8;
            }
        }
        n.sampled_at += samples * SAMPLE_MS;
    }

    /// Schedules the next completion on node `id` (after any change to its jobs).
    fn reschedule(&mut self, id: u32) {
        let n = self.node_mut(id);
        n.version += 1;
        let count = n.jobs.len();
        if count == 0 {
            return;
        }
        let share = (f64::from(n.cpus) / count as f64).min(1.0);
        let rate = share * f64::from(n.speed) / f64::from(STD_SPEED);
        let version = n.version;
        let jobs = n.jobs.clone();
        let least = jobs
            .iter()
            .map(|&j| self.jobs[j].left)
            .fold(f64::INFINITY, f64::min);
        let t = self.now + (least.max(0.0) / rate).ceil() as u64;
        self.at(t, Event::Done(id, version));
    }

    /// The entry node `id` gossips: smoothed load, as the module measures it.
    pub(crate) fn own_entry(&self, id: u32) -> LoadEntry {
        self.entry(id, self.node(id).smoothed / 256)
    }

    /// What node `id` knows of itself right now: the jobs here and on their way, unsmoothed.
    fn current_entry(&self, id: u32) -> LoadEntry {
        let n = self.node(id);
        let mut e = self.entry(id, (n.jobs.len() as u64 + n.incoming) * 100);
        e.mem_kb = e.mem_kb.saturating_sub(n.incoming_kb);
        e
    }

    /// An entry for node `id` with `runnable` (x 100).
    fn entry(&self, id: u32, runnable: u64) -> LoadEntry {
        let n = self.node(id);
        let load = runnable * u64::from(STD_SPEED) / u64::from(n.speed.max(1));
        let used: u64 = n.jobs.iter().map(|&j| self.jobs[j].image / 1024).sum();
        let base = n.tmem_kb * BASE_MEM_PERMILLE / 1000;
        let mem = n.tmem_kb.saturating_sub(base).saturating_sub(used);
        LoadEntry {
            node: id,
            age_ms: 0,
            load: load.min(u64::from(u32::MAX)) as u32,
            speed: n.speed,
            cpus: n.cpus,
            util: 0,
            status: STATUS_DEF | STATUS_UP,
            mem_kb: mem,
            rmem_kb: mem,
            tmem_kb: n.tmem_kb,
        }
    }

    /// Node `id`'s balancing round: decays its jobs' usage once per `decay_interval_ms`, decides
    /// on the load entries its membership messages brought, and starts the moves its targets
    /// admit; the next round is due after the interval, or (paced) when the link has drained.
    fn balance(&mut self, id: u32) {
        self.advance(id);
        let now = self.now;
        let tun = self.cfg.tun;
        let (elapsed, jobs) = {
            let n = self.node_mut(id);
            (now.saturating_sub(n.decayed_at), n.jobs.clone())
        };
        if elapsed >= tun.decay_interval_ms {
            self.node_mut(id).decayed_at = now;
            for &j in &jobs {
                let job = &mut self.jobs[j];
                job.stats
                    .update(job.used_since.round() as u64, elapsed, &tun);
                job.used_since = 0.0;
            }
        }
        let interval = tun.balance_interval_ms.max(1);
        if jobs.is_empty() {
            self.next_round(id, now + interval);
            return;
        }
        // Smoothed, but jobs that left no longer count.
        let own = self.own_entry(id);
        let now_load = self.entry(id, self.node(id).jobs.len() as u64 * 100).load;
        let local = NodeView::from_entry(
            &LoadEntry {
                load: own.load.min(now_load),
                ..own
            },
            0,
            0,
        );
        let my_link = self.node(id).link_bps;
        let peers: Vec<NodeView> = self
            .node(id)
            .swim
            .loads()
            .entries()
            .iter()
            .map(|(e, at)| {
                let age = now.saturating_sub(*at).min(u64::from(u32::MAX)) as u32;
                let link = my_link.min(self.node(e.node).link_bps);
                NodeView::from_entry(e, age, link)
            })
            .collect();
        let procs: Vec<Candidate> = jobs
            .iter()
            .map(|&j| {
                let job = &self.jobs[j];
                Candidate {
                    id: j as u32,
                    usage: job.stats.usage(),
                    tags: job.stats.tags,
                    cpu_ms: job.used as u64,
                    image_bytes: job.image,
                    home: job.home,
                    locked: false,
                    root: false,
                    stay: 0,
                    since_migration_ms: job.migrated_at.map_or(u64::MAX, |t| now - t),
                }
            })
            .collect();
        let link = self.link(id);
        let mut out = [Decision::default(); balance::MAX_DECISIONS];
        let n = balance::decide_paced(&local, &peers, &procs, &tun, &link, &mut out);
        for d in &out[..n] {
            let j = jobs[d.candidate];
            let to = d.target;
            let image = self.jobs[j].image;
            if self.node(to).up {
                let answer = self.current_entry(to);
                let target = NodeView::from_entry(&answer, 0, 0);
                if !balance::admit(&target, &local, d, image, &tun) {
                    // The refusal carries the target's numbers.
                    self.report.refused += 1;
                    let pick = omcore::swim::Random::next_u32(&mut self.rng);
                    self.node_mut(id).swim.loads_mut().put(&answer, now, pick);
                    continue;
                }
            }
            let link = my_link.min(self.node(to).link_bps).max(1);
            let transfer = image.saturating_mul(1000) / link;
            let start = now.max(self.node(id).tx_free_at);
            self.node_mut(id).tx_free_at = start + transfer;
            let arrive = start + transfer + tun.mig_overhead_ms;
            self.jobs[j].node = None;
            self.node_mut(id).jobs.retain(|&x| x != j);
            let t = self.node_mut(to);
            t.incoming += 1;
            t.incoming_kb += image / 1024;
            self.report.migrations += 1;
            if d.reason == balance::Reason::Memory {
                self.report.usher_migrations += 1;
            }
            // Count the job on the target until its own entry says otherwise.
            let speed = u64::from(self.node(to).speed.max(1));
            let bump = (100 * u64::from(STD_SPEED) / speed) as u32;
            let kb = image / 1024;
            if let Some(k) = self.node_mut(id).swim.loads_mut().get_mut(to) {
                k.0.load = k.0.load.saturating_add(bump);
                k.0.mem_kb = k.0.mem_kb.saturating_sub(kb);
            }
            self.at(arrive, Event::Arrive(j, id, to));
        }
        self.reschedule(id);
        let next = if self.cfg.paced {
            balance::next_round_in_ms(n, &self.link(id), &tun)
        } else {
            interval
        };
        self.next_round(id, now + next);
    }

    /// Node `id`'s link as the balancer sees it: its throughput and the images queued on it
    /// (not paced: [`Link::UNPACED`]).
    fn link(&self, id: u32) -> Link {
        if !self.cfg.paced {
            return Link::UNPACED;
        }
        let n = self.node(id);
        Link {
            bps: n.link_bps,
            queued_bytes: n
                .tx_free_at
                .saturating_sub(self.now)
                .saturating_mul(n.link_bps)
                / 1000,
        }
    }

    fn next_round(&mut self, id: u32, at: u64) {
        self.node_mut(id).balance_at = at;
        self.at(at, Event::Balance(id));
    }

    fn place(&mut self, j: usize, id: u32) {
        self.advance(id);
        self.jobs[j].node = Some(id);
        self.node_mut(id).jobs.push(j);
        self.reschedule(id);
    }

    fn arrive(&mut self, j: usize, from: u32, to: u32) {
        let kb = self.jobs[j].image / 1024;
        let t = self.node_mut(to);
        t.incoming = t.incoming.saturating_sub(1);
        t.incoming_kb = t.incoming_kb.saturating_sub(kb);
        if self.jobs[j].dead {
            return;
        }
        let dest = if self.node(to).up {
            to
        } else if self.node(from).up {
            self.report.failed_migrations += 1;
            from
        } else {
            self.kill(j);
            return;
        };
        if dest == to {
            self.jobs[j].migrated_at = Some(self.now);
            if let Some((jn, t)) = self.join {
                if jn == to && self.report.join_to_work_s.is_none() {
                    self.report.join_to_work_s = Some((self.now - t) as f64 / 1000.0);
                }
            }
        }
        self.place(j, dest);
    }

    fn kill(&mut self, j: usize) {
        let job = &mut self.jobs[j];
        if job.dead || job.done {
            return;
        }
        job.dead = true;
        self.report.killed += 1;
        if job.batch {
            self.batch_left -= 1;
        }
        if let Some(id) = job.node.take() {
            self.advance(id);
            self.node_mut(id).jobs.retain(|&x| x != j);
            self.reschedule(id);
        }
    }

    fn done(&mut self, id: u32, version: u64) {
        if self.node(id).version != version || !self.node(id).up {
            return;
        }
        self.advance(id);
        let jobs = self.node(id).jobs.clone();
        let mut left = Vec::with_capacity(jobs.len());
        for j in jobs {
            if self.jobs[j].left <= 1e-6 {
                let job = &mut self.jobs[j];
                job.done = true;
                job.node = None;
                self.report.finished += 1;
                if job.batch {
                    self.batch_left -= 1;
                    if self.batch_left == 0 {
                        self.report.makespan_s = self.now as f64 / 1000.0;
                    }
                }
            } else {
                left.push(j);
            }
        }
        self.node_mut(id).jobs = left;
        self.reschedule(id);
    }

    fn fail(&mut self, id: u32) {
        self.advance(id);
        let jobs = self.node(id).jobs.clone();
        for j in jobs {
            self.kill(j);
        }
        let now = self.now;
        let n = self.node_mut(id);
        n.up = false;
        n.down_at = Some(now);
        self.detect_failure(id);
        // Guests of the failed node, running or migrating, lose their deputy.
        for j in 0..self.jobs.len() {
            if self.jobs[j].home == id && self.jobs[j].started {
                self.kill(j);
            }
        }
    }

    fn sample(&mut self) {
        let mut loads = Vec::with_capacity(self.nodes.len());
        for i in 0..self.nodes.len() {
            if self.nodes[i].up {
                let n = &self.nodes[i];
                let cap = f64::from(n.cpus) * f64::from(n.speed) / f64::from(STD_SPEED);
                loads.push(n.jobs.len() as f64 / cap);
            }
        }
        let mean = loads.iter().sum::<f64>() / loads.len().max(1) as f64;
        let max = loads.iter().copied().fold(0.0, f64::max);
        let var =
            loads.iter().map(|l| (l - mean) * (l - mean)).sum::<f64>() / loads.len().max(1) as f64;
        let live = self
            .jobs
            .iter()
            .filter(|j| j.started && !j.dead && !j.done)
            .count() as u32;
        let bytes: u64 = self.nodes.iter().map(|n| n.bytes).sum();
        let traffic = (bytes - self.last_bytes) as f64 / loads.len().max(1) as f64;
        self.last_bytes = bytes;
        self.report.samples.push(Sample {
            t: self.now as f64 / 1000.0,
            max_over_mean: if mean > 0.0 { max / mean } else { 0.0 },
            cv: if mean > 0.0 { var.sqrt() / mean } else { 0.0 },
            live,
            traffic,
        });
        self.at(self.now + 1000, Event::Sample);
    }

    fn finished(&self) -> bool {
        let arrivals_over =
            self.now >= ms(self.cfg.arrival_until_s) || self.cfg.arrival_rate <= 0.0;
        let joins_over = self.cfg.join_s.is_none_or(|t| self.now >= ms(t));
        let fails_over = self.cfg.fail.is_none_or(|(_, t)| self.now >= ms(t));
        arrivals_over
            && joins_over
            && fails_over
            && self.detect.complete()
            && self.batch_left == 0
            && self.jobs.iter().all(|j| j.dead || j.done)
    }

    /// Runs to the end and returns what was measured.
    pub fn run(mut self) -> Report {
        let end = ms(self.cfg.max_time_s);
        while let Some(Reverse((t, _, e))) = self.queue.pop() {
            if t > end {
                break;
            }
            self.now = t;
            self.report.events += 1;
            match e {
                Event::Swim(id) if self.node(id).up && self.node(id).swim_at == t => {
                    self.swim_tick(id)
                }
                Event::Balance(id) if self.node(id).up && self.node(id).balance_at == t => {
                    self.balance(id)
                }
                Event::Done(id, v) => self.done(id, v),
                Event::Arrive(j, from, to) => self.arrive(j, from, to),
                Event::Start(j, id) => {
                    self.report.jobs += 1;
                    self.jobs[j].started = true;
                    if self.node(id).up {
                        self.place(j, id);
                    } else {
                        self.kill(j);
                    }
                }
                Event::Fail(id) => self.fail(id),
                Event::Join(id) => {
                    self.join = Some((id, t));
                    self.start_node(id, t);
                }
                Event::Sample => {
                    self.sample();
                    if self.finished() {
                        break;
                    }
                }
                Event::Swim(_) | Event::Balance(_) => {}
            }
        }
        self.report.end_s = self.now as f64 / 1000.0;
        let cpus: u64 = self
            .nodes
            .iter()
            .take(self.cfg.nodes as usize)
            .map(|n| u64::from(n.cpus))
            .sum();
        if self.cfg.batch > 0 {
            let rounds = u64::from(self.cfg.batch).div_ceil(cpus.max(1));
            self.report.ideal_s = rounds as f64 * self.cfg.work_s;
            // Node 1 keeps its share; every other image leaves through its link.
            let keep = u64::from(self.nodes[0].cpus) * rounds;
            let leave = u64::from(self.cfg.batch).saturating_sub(keep);
            let send_s =
                (leave * self.cfg.image_bytes) as f64 / self.nodes[0].link_bps.max(1) as f64;
            self.report.link_bound_s = self.report.ideal_s + send_s;
        }
        let node_s: f64 = self
            .nodes
            .iter()
            .filter(|n| n.up || n.down_at.is_some())
            .map(|n| n.down_at.unwrap_or(self.now).saturating_sub(n.up_since) as f64 / 1000.0)
            .sum();
        let bytes: u64 = self.nodes.iter().map(|n| n.bytes).sum();
        self.report.traffic_bps_per_node = bytes as f64 / node_s.max(1e-9);
        let hb = (HEADER_LEN + LOAD_ENTRY_LEN + AEAD_TAG_LEN) as f64;
        self.report.heartbeat_bps_per_node =
            (self.nodes.len().saturating_sub(1)) as f64 * hb * 1000.0 / MODULE_HEARTBEAT_MS as f64;
        self.report
    }
}
