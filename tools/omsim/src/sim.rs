// SPDX-License-Identifier: GPL-2.0

//! The discrete-event model: nodes, jobs, gossip, migrations, failures and a joining node.
//!
//! Each node runs what the module runs: every `heartbeat_ms` it gossips to [`GOSSIP_FANOUT`]
//! random nodes with [`gossip::select`] and [`Gossip::encode`] (bytes counted with frame header and
//! tag), receivers merge with [`gossip::accept`]; every `balance_interval_ms` it decays its
//! processes' usage with [`ProcStats::update`] and calls [`balance::decide`] on what gossip told
//! it. Its load is sampled every 100 ms and smoothed with weight 1/8 as in the module.
//!
//! Simplifications, each stated in `Documentation/balancing.md`: knowledge comes from gossip only
//! (the sender's own entry counts as its heartbeat to that receiver; the module also heartbeats
//! every connected peer), each node keeps at most `view` entries (the older of two random ones goes), a node's CPUs
//! are shared equally among its jobs (processor sharing), messages arrive at once, a migration
//! occupies the sender's link for `image / throughput` and freezes the job for that plus the
//! fixed overhead, and the jobs of a failed node die, as do guests whose home node fails.

use omcore::balance::{self, Candidate, Decision, NodeView, ProcStats, Tunables};
use omcore::frame::{AEAD_TAG_LEN, HEADER_LEN};
use omcore::gossip;
use omcore::msg::STD_SPEED;
use omcore::msg::{Gossip, LoadEntry, GOSSIP_MAX_LEN, LOAD_ENTRY_LEN, STATUS_DEF, STATUS_UP};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Gossip messages a node sends per heartbeat period (the module's `GOSSIP_FANOUT`).
pub const GOSSIP_FANOUT: usize = 2;
/// Entries older than this are not gossiped on (the module's `timeout_ms`), ms.
const TIMEOUT_MS: u64 = 3000;
/// Load sampling period, ms.
const SAMPLE_MS: u64 = 100;
/// Memory each node uses for itself, per mille of its total.
const BASE_MEM_PERMILLE: u64 = 100;

/// splitmix64: the simulator's only source of randomness, seeded.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x9e37_79b9_7f4a_7c15)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Exponentially distributed with mean `mean`.
    pub fn exp(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.unit()).ln()
    }
}

/// What to simulate.
#[derive(Debug, Clone)]
pub struct Config {
    /// Nodes at the start (IDs 1..=nodes).
    pub nodes: u32,
    /// Jobs started on node 1 at time 0.
    pub batch: u32,
    /// CPU time of one batch job on a standard CPU, s.
    pub work_s: f64,
    /// Migration image of a batch job, bytes.
    pub image_bytes: u64,
    /// Poisson arrivals per second over the whole cluster (0: none), at random nodes.
    pub arrival_rate: f64,
    /// Mean CPU time of an arriving job (exponential), s.
    pub arrival_work_s: f64,
    /// Arrivals stop after this time, s.
    pub arrival_until_s: f64,
    /// Heterogeneous nodes: speeds 5000/10000/20000, 1/2/4 CPUs, 2 to 16 GiB, 100 Mbit/s to
    /// 10 Gbit/s links; arriving jobs get 1 to 512 MiB images.
    pub hetero: bool,
    /// CPUs per node when not heterogeneous.
    pub cpus: u16,
    /// Memory per node when not heterogeneous, KiB.
    pub mem_kb: u64,
    /// Link throughput per node when not heterogeneous, bytes/s.
    pub link_bps: u64,
    /// Nodes that fail, and when (s).
    pub fail: Option<(u32, f64)>,
    /// A node joins at this time (s), with ID `nodes + 1`.
    pub join_s: Option<f64>,
    /// Most entries a node's load table keeps.
    pub view: usize,
    /// Heartbeat and gossip period, ms.
    pub heartbeat_ms: u64,
    /// Balancer knobs.
    pub tun: Tunables,
    /// Seed of every random choice.
    pub seed: u64,
    /// The run stops at this time even with work left, s.
    pub max_time_s: f64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            nodes: 64,
            batch: 256,
            work_s: 300.0,
            image_bytes: 4 << 20,
            arrival_rate: 0.0,
            arrival_work_s: 120.0,
            arrival_until_s: 600.0,
            hetero: false,
            cpus: 1,
            mem_kb: 4 << 20,
            link_bps: 125_000_000,
            fail: None,
            join_s: None,
            view: 64,
            heartbeat_ms: 500,
            tun: Tunables::default(),
            seed: 1,
            max_time_s: 100_000.0,
        }
    }
}

/// One point of the imbalance time series.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Time, s.
    pub t: f64,
    /// Highest load per CPU (runnable jobs / CPUs, speed-normalised) over mean load per CPU.
    pub max_over_mean: f64,
    /// Standard deviation of load per CPU over its mean.
    pub cv: f64,
    /// Jobs running or migrating.
    pub live: u32,
}

/// What a run measured.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Nodes at the start.
    pub nodes: u32,
    /// Jobs that started (batch and arrivals).
    pub jobs: u32,
    /// Jobs that finished.
    pub finished: u32,
    /// Jobs killed by a node failure.
    pub killed: u32,
    /// Migrations started.
    pub migrations: u64,
    /// Migrations for memory.
    pub usher_migrations: u64,
    /// Migrations that found their target down (the job stayed).
    pub failed_migrations: u64,
    /// Migration requests the target refused ([`balance::admit`]).
    pub refused: u64,
    /// Time the last batch job finished, s (0: no batch).
    pub makespan_s: f64,
    /// `ceil(batch / CPUs) * work` on standard nodes, s.
    pub ideal_s: f64,
    /// Gossip bytes sent per node per second (frames with header and tag).
    pub gossip_bps_per_node: f64,
    /// Heartbeat bytes per node per second the module would add (one to every other node).
    pub heartbeat_bps_per_node: f64,
    /// Seconds from the join until the joined node first received a job.
    pub join_to_work_s: Option<f64>,
    /// Simulated time at the end, s.
    pub end_s: f64,
    /// Imbalance once per second.
    pub samples: Vec<Sample>,
    /// Events processed.
    pub events: u64,
}

impl Report {
    /// Makespan over ideal.
    pub fn makespan_ratio(&self) -> f64 {
        if self.ideal_s > 0.0 {
            self.makespan_s / self.ideal_s
        } else {
            0.0
        }
    }

    /// Mean of `max_over_mean` over the samples with `from_s <= t < to_s`.
    pub fn mean_imbalance(&self, from_s: f64, to_s: f64) -> f64 {
        let v: Vec<f64> = self
            .samples
            .iter()
            .filter(|s| s.t >= from_s && s.t < to_s)
            .map(|s| s.max_over_mean)
            .collect();
        if v.is_empty() {
            0.0
        } else {
            v.iter().sum::<f64>() / v.len() as f64
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    /// A node gossips.
    Beat(u32),
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

#[derive(Debug, Clone)]
struct Node {
    speed: u32,
    cpus: u16,
    tmem_kb: u64,
    link_bps: u64,
    up: bool,
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
    /// Load table: (entry, measured at).
    known: Vec<(LoadEntry, u64)>,
    /// The node IDs and measurement times of `known`, in the same order: compact arrays that
    /// merging searches without touching the entries.
    ids: Vec<u32>,
    ats: Vec<u64>,
    /// The node's link sends nothing before this, ms.
    tx_free_at: u64,
    gossip_bytes: u64,
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
    cfg: Config,
    now: u64,
    nodes: Vec<Node>,
    jobs: Vec<Job>,
    queue: BinaryHeap<Reverse<(u64, u64, Event)>>,
    seq: u64,
    rng: Rng,
    report: Report,
    join: Option<(u32, u64)>,
    batch_left: u32,
}

fn ms(s: f64) -> u64 {
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
                    known: Vec::new(),
                    ids: Vec::new(),
                    ats: Vec::new(),
                    tx_free_at: 0,
                    gossip_bytes: 0,
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

    fn at(&mut self, t: u64, e: Event) {
        self.seq += 1;
        self.queue.push(Reverse((t, self.seq, e)));
    }

    fn start_node(&mut self, id: u32, now: u64) {
        let hb = self.cfg.heartbeat_ms.max(1);
        let bal = self.cfg.tun.balance_interval_ms.max(1);
        let (b, r) = (self.rng.below(hb), self.rng.below(bal));
        let n = self.node_mut(id);
        n.up = true;
        n.up_since = now;
        n.sampled_at = now;
        n.progressed_at = now;
        n.decayed_at = now;
        self.at(now + b, Event::Beat(id));
        self.at(now + r, Event::Balance(id));
    }

    fn node_mut(&mut self, id: u32) -> &mut Node {
        &mut self.nodes[(id - 1) as usize]
    }

    fn node(&self, id: u32) -> &Node {
        &self.nodes[(id - 1) as usize]
    }

    /// Brings node `id`'s jobs and load samples up to now.
    fn advance(&mut self, id: u32) {
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
    fn own_entry(&self, id: u32) -> LoadEntry {
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

    /// Keeps `e` in node `id`'s table when it is news; when the table is full, the older of two
    /// random entries makes room.
    fn learn(&mut self, id: u32, e: &LoadEntry, sender: u32) {
        let now = self.now;
        let view = self.cfg.view.max(1);
        let (r1, r2) = (self.rng.below(view as u64), self.rng.below(view as u64));
        let n = self.node_mut(id);
        let held = n.ids.iter().position(|&k| k == e.node);
        let Some(at) = gossip::accept(e, id, sender, now, held.map(|h| n.ats[h])) else {
            return;
        };
        let entry = LoadEntry { age_ms: 0, ..*e };
        let k = match held {
            Some(h) => h,
            None if n.known.len() < view => {
                n.known.push((entry, at));
                n.ids.push(e.node);
                n.ats.push(at);
                n.known.len() - 1
            }
            None => {
                // The older of two random entries goes: near enough to the oldest, in O(1).
                let (a, b) = (r1 as usize % n.known.len(), r2 as usize % n.known.len());
                let old = if n.ats[a] <= n.ats[b] { a } else { b };
                n.ids[old] = e.node;
                old
            }
        };
        n.known[k] = (entry, at);
        n.ats[k] = at;
    }

    fn beat(&mut self, id: u32) {
        self.advance(id);
        let own = self.own_entry(id);
        let mut g = Gossip::default();
        let known = self.node(id).known.iter().copied();
        gossip::select(&own, known, self.now, TIMEOUT_MS, &mut g);
        let mut buf = [0u8; GOSSIP_MAX_LEN];
        let len = g.encode(&mut buf);
        let decoded = Gossip::decode(&buf[..len]).unwrap_or_default();
        let total = self.nodes.len() as u64;
        for _ in 0..GOSSIP_FANOUT.min(self.nodes.len().saturating_sub(1)) {
            let mut to = 1 + self.rng.below(total) as u32;
            if to == id {
                to = to % total as u32 + 1;
            }
            // A node that has not joined yet has no connection; a failed one loses the frame.
            if self.node(to).down_at.is_none() && !self.node(to).up {
                continue;
            }
            self.node_mut(id).gossip_bytes += (HEADER_LEN + len + AEAD_TAG_LEN) as u64;
            if !self.node(to).up {
                continue;
            }
            for (k, e) in decoded.entries().iter().enumerate() {
                // The sender's own entry stands for its heartbeat to this receiver.
                self.learn(to, e, if k == 0 { 0 } else { id });
            }
        }
        let next = self.now + self.cfg.heartbeat_ms.max(1);
        self.at(next, Event::Beat(id));
    }

    fn balance(&mut self, id: u32) {
        self.advance(id);
        let now = self.now;
        let tun = self.cfg.tun;
        // Decay usage for the interval that passed.
        let (elapsed, jobs) = {
            let n = self.node_mut(id);
            let e = now.saturating_sub(n.decayed_at);
            n.decayed_at = now;
            (e, n.jobs.clone())
        };
        for &j in &jobs {
            let job = &mut self.jobs[j];
            job.stats
                .update(job.used_since.round() as u64, elapsed, &tun);
            job.used_since = 0.0;
        }
        let next = now + tun.balance_interval_ms.max(1);
        self.at(next, Event::Balance(id));
        if jobs.is_empty() {
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
            .known
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
        let mut out = [Decision::default(); balance::MAX_DECISIONS];
        let n = balance::decide(&local, &peers, &procs, &tun, &mut out);
        if n == 0 {
            return;
        }
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
                    let me = self.node_mut(id);
                    if let Some(k) = me.ids.iter().position(|&n| n == to) {
                        me.known[k] = (answer, now);
                        me.ats[k] = now;
                    }
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
            // Count the job on the target until gossip says otherwise.
            let speed = u64::from(self.node(to).speed.max(1));
            let bump = (100 * u64::from(STD_SPEED) / speed) as u32;
            let kb = image / 1024;
            if let Some(k) = self
                .node_mut(id)
                .known
                .iter_mut()
                .find(|(e, _)| e.node == to)
            {
                k.0.load = k.0.load.saturating_add(bump);
                k.0.mem_kb = k.0.mem_kb.saturating_sub(kb);
            }
            self.at(arrive, Event::Arrive(j, id, to));
        }
        self.reschedule(id);
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
        self.report.samples.push(Sample {
            t: self.now as f64 / 1000.0,
            max_over_mean: if mean > 0.0 { max / mean } else { 0.0 },
            cv: if mean > 0.0 { var.sqrt() / mean } else { 0.0 },
            live,
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
                Event::Beat(id) if self.node(id).up => self.beat(id),
                Event::Balance(id) if self.node(id).up => self.balance(id),
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
                Event::Beat(_) | Event::Balance(_) => {}
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
        }
        let node_s: f64 = self
            .nodes
            .iter()
            .filter(|n| n.up || n.down_at.is_some())
            .map(|n| n.down_at.unwrap_or(self.now).saturating_sub(n.up_since) as f64 / 1000.0)
            .sum();
        let bytes: u64 = self.nodes.iter().map(|n| n.gossip_bytes).sum();
        self.report.gossip_bps_per_node = bytes as f64 / node_s.max(1e-9);
        let hb = (HEADER_LEN + LOAD_ENTRY_LEN + AEAD_TAG_LEN) as f64;
        self.report.heartbeat_bps_per_node =
            (self.nodes.len().saturating_sub(1)) as f64 * hb * 1000.0
                / self.cfg.heartbeat_ms.max(1) as f64;
        self.report
    }
}
