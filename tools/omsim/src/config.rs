// SPDX-License-Identifier: GPL-2.0

//! What a run simulates ([`Config`]), what it measures ([`Report`]) and its only source of
//! randomness ([`Rng`]).

use omcore::balance::Tunables;
use omcore::swim::{Params, Random};

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

impl Random for Rng {
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
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
    /// Probability that a membership message is lost.
    pub loss: f64,
    /// Membership protocol parameters.
    pub swim: Params,
    /// Pace rounds by the link (`balance::decide_paced`); false: `balance::decide` once per
    /// `balance_interval_ms`, as the module does today.
    pub paced: bool,
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
            loss: 0.0,
            swim: Params::DEFAULT,
            paced: true,
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
    /// Membership bytes sent in the last second, per live node.
    pub traffic: f64,
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
    /// `ideal_s` plus the time node 1's link needs to send every image that must leave it: how
    /// close to the physical limit a batch can get.
    pub link_bound_s: f64,
    /// Membership and load bytes sent per node per second (frames with header and tag).
    pub traffic_bps_per_node: f64,
    /// Membership messages sent.
    pub messages: u64,
    /// Membership messages lost.
    pub lost: u64,
    /// Heartbeat bytes per node per second that heartbeats to every peer would cost.
    pub heartbeat_bps_per_node: f64,
    /// Seconds from the failures until the first live node declared a failed node dead.
    pub detect_first_s: Option<f64>,
    /// Seconds from the failures until every live node had declared every failed node dead.
    pub detect_all_s: Option<f64>,
    /// (seconds since the failures, share of the (live node, failed node) pairs known dead).
    pub detect_curve: Vec<(f64, f64)>,
    /// Suspicions raised about nodes that were up.
    pub false_suspicions: u64,
    /// Nodes declared dead while up (by any node): false positives.
    pub false_downs: u64,
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

    /// Makespan over the link-limited bound.
    pub fn link_ratio(&self) -> f64 {
        if self.link_bound_s > 0.0 {
            self.makespan_s / self.link_bound_s
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
