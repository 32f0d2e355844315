// SPDX-License-Identifier: GPL-2.0

//! Load balancing decisions: which processes of this node should move, where, and why.
//!
//! The module and the simulator (`tools/omsim`) call the same code: [`ProcStats`] keeps each
//! process's decayed CPU usage, [`NodeView`] is what gossip says about a node, and [`decide`] turns
//! this node's view, its peers' views and its movable processes into at most a few
//! [`Decision`]s. Everything is integer arithmetic that saturates instead of overflowing, and no
//! input makes it panic. See `Documentation/balancing.md` for the algorithm and its knobs.
//!
//! Units: a node's load is its smoothed number of runnable tasks times 100, normalised to
//! [`STD_SPEED`] (as in [`LoadEntry`]); "runnable" below is the same count times 100 but not
//! normalised; a slowdown is per mille (1000: the process runs at the speed of one standard CPU of
//! its own).

use super::msg::{LoadEntry, STATUS_BLOCK, STATUS_LSTAY, STATUS_STAY, STATUS_UP, STD_SPEED};
use core::fmt;

/// Most decisions one call of [`decide`] makes.
pub const MAX_DECISIONS: usize = 16;
/// How many of the least loaded peers [`decide`] weighs for each load move.
const SHORTLIST: usize = 8;
/// Cap on the number of samples a `nodecay` average counts, so its arithmetic stays in range.
const NODECAY_MAX_SAMPLES: u64 = 1_000_000;

/// One knob of [`Tunables`]: its name under `/proc/openmosix/admin/`, default and range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Knob {
    /// Name of the knob and of the [`Tunables`] field.
    pub name: &'static str,
    /// Default value.
    pub default: u64,
    /// Smallest accepted value.
    pub min: u64,
    /// Largest accepted value.
    pub max: u64,
}

/// Why a tunable value was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TunableError {
    /// No knob has this name.
    Unknown,
    /// The value is outside the knob's range.
    Range {
        /// The knob.
        name: &'static str,
        /// The refused value.
        value: u64,
        /// Smallest accepted value.
        min: u64,
        /// Largest accepted value.
        max: u64,
    },
    /// The value is in range but contradicts another knob.
    Conflict(&'static str),
}

impl fmt::Display for TunableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unknown => write!(f, "no such balancing knob"),
            Self::Range {
                name,
                value,
                min,
                max,
            } => write!(f, "{name}: {value} is outside {min}..={max}"),
            Self::Conflict(why) => write!(f, "{why}"),
        }
    }
}

/// Declares [`Tunables`], its defaults and its knob table from one list.
macro_rules! tunables {
    ($($(#[doc = $doc:literal])* $name:ident = $default:literal, $min:literal ..= $max:literal;)*) => {
        /// The balancer's knobs, one `/proc/openmosix/admin/` file each (same names).
        ///
        /// # Invariants
        ///
        /// A value built by [`Tunables::default`] or changed only through [`Tunables::set`] passes
        /// [`Tunables::validate`]. [`decide`] still works (never panics) on any value.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct Tunables {
            $($(#[doc = $doc])* pub $name: u64,)*
        }

        impl Tunables {
            /// The defaults.
            pub const DEFAULT: Self = Self { $($name: $default,)* };

            /// Every knob with its default and range, in declaration order.
            pub const KNOBS: &'static [Knob] = &[
                $(Knob { name: stringify!($name), default: $default, min: $min, max: $max },)*
            ];

            /// The value of the knob `name`.
            pub fn get(&self, name: &str) -> Option<u64> {
                match name {
                    $(stringify!($name) => Some(self.$name),)*
                    _ => None,
                }
            }

            fn slot(&mut self, name: &str) -> Option<&mut u64> {
                match name {
                    $(stringify!($name) => Some(&mut self.$name),)*
                    _ => None,
                }
            }
        }
    };
}

tunables! {
    /// How often [`decide`] runs, ms.
    balance_interval_ms = 1000, 100..=60_000;
    /// How often process usage is sampled and decayed ([`ProcStats::update`]), ms.
    decay_interval_ms = 1000, 100..=60_000;
    /// Weight of the past per decay interval for ordinary processes, per mille (openMosix: 975).
    slow_decay = 975, 0..=999;
    /// Weight of the past per decay interval for `iojob` processes, per mille (openMosix: 926).
    fast_decay = 926, 0..=999;
    /// Fixed cost of one migration (freeze, guest set-up, restart), ms.
    mig_overhead_ms = 100, 0..=60_000;
    /// Least expected gain of a load move, per mille of its cost (2000: the move must save twice
    /// what it costs).
    min_gain = 2000, 1000..=100_000;
    /// Margin, in load per CPU (100: one process), by which the target after a move must stay
    /// below the source before it.
    hysteresis = 30, 1..=10_000;
    /// Time after a migration during which a process is not moved again for load or memory, ms.
    min_residency_ms = 2000, 0..=3_600_000;
    /// Most migrations one round decides.
    max_migrations = 4, 1..=16;
    /// Memory ushering starts when available memory falls below this share of total memory,
    /// per mille.
    usher_free_permille = 50, 0..=500;
    /// Memory ushering starts when available memory falls below this many KiB.
    usher_free_kb = 0, 0..=1_099_511_627_776;
    /// Throughput assumed for a link that was not measured, KiB/s.
    link_kib_s = 10_000, 1..=100_000_000;
    /// Load entries older than this are not used to pick targets, ms.
    stale_ms = 3000, 100..=600_000;
    /// Most processes of one user that the balancer keeps away from this home node at once
    /// (0: no limit). Applied by the node, around [`decide`].
    user_max_away = 0, 0..=65_535;
    /// 1: the balancer may move processes whose real or effective user id is 0 (root); 0: it
    /// never picks them (a manual migration still may).
    migrate_root = 0, 0..=1;
}

impl Default for Tunables {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl Tunables {
    /// Checks every knob's range and the rules between knobs.
    pub fn validate(&self) -> Result<(), TunableError> {
        for k in Self::KNOBS {
            let value = self.get(k.name).unwrap_or(k.default);
            if !(k.min..=k.max).contains(&value) {
                return Err(TunableError::Range {
                    name: k.name,
                    value,
                    min: k.min,
                    max: k.max,
                });
            }
        }
        if self.fast_decay > self.slow_decay {
            return Err(TunableError::Conflict(
                "fast_decay must not exceed slow_decay",
            ));
        }
        Ok(())
    }

    /// Sets knob `name` to `value`, or changes nothing and says why.
    pub fn set(&mut self, name: &str, value: u64) -> Result<(), TunableError> {
        let mut next = *self;
        *next.slot(name).ok_or(TunableError::Unknown)? = value;
        next.validate()?;
        *self = next;
        Ok(())
    }
}

/// Process tag: treat the process as CPU-bound (demand of one full CPU) whatever its usage says.
pub const TAG_CPUJOB: u8 = 1 << 0;
/// Process tag: the process is I/O-bound: usage decays fast, and load never moves it away from
/// home (its I/O would travel through its deputy); memory ushering and going home still can.
pub const TAG_IOJOB: u8 = 1 << 1;
/// Process tag: usage is the plain mean over the process's life, without decay.
pub const TAG_NODECAY: u8 = 1 << 2;

/// A process's CPU usage, decayed openMosix-style.
///
/// Each decay interval the caller reports the time the process used a CPU or waited on a run
/// queue for one: on a node with a CPU to spare that is its CPU usage, on a crowded node it is the
/// CPU it would use elsewhere, which is what moving it shifts. The usage is an exponential average
/// whose weight of the past is `slow_decay` (`fast_decay` for `iojob`) per interval, except while
/// the process is young: for its first samples the weight is `n / (n + 1)` after `n` samples when
/// that is smaller, so the average starts as the plain mean of what was seen instead of rising
/// from zero (a new CPU-bound process counts as one from its first interval, not after a minute).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProcStats {
    /// Usage in parts per million of one CPU (finer than the per mille reported, so that
    /// truncation does not freeze small values).
    usage_ppm: u64,
    /// Samples taken, up to [`NODECAY_MAX_SAMPLES`].
    samples: u64,
    /// `TAG_*` bits.
    pub tags: u8,
}

impl ProcStats {
    /// A process that has not run yet.
    pub const fn new(tags: u8) -> Self {
        Self {
            usage_ppm: 0,
            samples: 0,
            tags,
        }
    }

    /// Decayed usage, per mille of one CPU (0..=1000).
    pub fn usage(&self) -> u32 {
        u32::try_from(self.usage_ppm.saturating_add(500) / 1000)
            .unwrap_or(1000)
            .min(1000)
    }

    /// The weight of the past per interval for this process, per mille; `None` for `nodecay`.
    pub fn decay(&self, tun: &Tunables) -> Option<u64> {
        if self.tags & TAG_NODECAY != 0 {
            None
        } else if self.tags & TAG_IOJOB != 0 {
            Some(tun.fast_decay.min(1000))
        } else {
            Some(tun.slow_decay.min(1000))
        }
    }

    /// Accounts `runnable_ms` (running or waiting for a CPU) over the last `interval_ms` of wall
    /// time (one decay interval).
    pub fn update(&mut self, runnable_ms: u64, interval_ms: u64, tun: &Tunables) {
        let sample = (runnable_ms.saturating_mul(1_000_000) / interval_ms.max(1)).min(1_000_000);
        let n = self.samples;
        // Weight of the past, per mille of per mille: the running mean's n / (n + 1) until the
        // decay is smaller.
        let mean = n * 1_000_000 / (n + 1);
        let past = match self.decay(tun) {
            Some(d) => mean.min(d * 1000),
            None => mean,
        };
        self.usage_ppm = (self.usage_ppm * past + sample * (1_000_000 - past)) / 1_000_000;
        self.samples = (self.samples + 1).min(NODECAY_MAX_SAMPLES);
    }
}

/// What is known about a node, from its load entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NodeView {
    /// Node ID.
    pub node: u32,
    /// Smoothed runnable tasks x 100, normalised to [`STD_SPEED`].
    pub load: u32,
    /// Relative speed ([`STD_SPEED`]: standard).
    pub speed: u32,
    /// Online CPUs.
    pub cpus: u16,
    /// `STATUS_*` bits.
    pub status: u32,
    /// Memory available for new work, KiB.
    pub mem_kb: u64,
    /// Total memory, KiB.
    pub tmem_kb: u64,
    /// Milliseconds since the node measured this.
    pub age_ms: u32,
    /// Measured throughput from this node to that one, bytes/s; 0 when not measured.
    pub link_bps: u64,
}

impl NodeView {
    /// The view of a load entry measured `age_ms` ago, with the link throughput measured to it.
    pub fn from_entry(e: &LoadEntry, age_ms: u32, link_bps: u64) -> Self {
        Self {
            node: e.node,
            load: e.load,
            speed: e.speed,
            cpus: e.cpus,
            status: e.status,
            mem_kb: e.mem_kb,
            tmem_kb: e.tmem_kb,
            age_ms,
            link_bps,
        }
    }

    fn speed(&self) -> u64 {
        u64::from(self.speed.max(1))
    }

    fn cpus(&self) -> u64 {
        u64::from(self.cpus.max(1))
    }

    /// Runnable tasks x 100 (not speed-normalised).
    pub fn runnable(&self) -> u64 {
        u64::from(self.load).saturating_mul(self.speed()) / u64::from(STD_SPEED)
    }

    /// Available memory below which this node ushers processes away, KiB.
    pub fn usher_threshold_kb(&self, tun: &Tunables) -> u64 {
        let share = self.tmem_kb.saturating_mul(tun.usher_free_permille) / 1000;
        share.max(tun.usher_free_kb)
    }
}

/// Slowdown, per mille, of a process that shares a node of `cpus` CPUs and speed `speed` with
/// `others` runnable tasks (x 100): `max(1, (others/100 + 1) / cpus) * STD_SPEED / speed`.
pub fn slowdown(others: u64, cpus: u64, speed: u64) -> u64 {
    let share = (others.saturating_add(100).saturating_mul(10) / cpus.max(1)).max(1000);
    share.saturating_mul(u64::from(STD_SPEED)) / speed.max(1)
}

/// Load per CPU (x 100, normalised to [`STD_SPEED`]) of `runnable` tasks (x 100) on a node.
fn load_per_cpu(runnable: u64, cpus: u64, speed: u64) -> u64 {
    runnable.saturating_mul(u64::from(STD_SPEED)) / speed.max(1) / cpus.max(1)
}

/// Time a migration of `image_bytes` over a link of `link_bps` bytes/s costs the process, ms
/// (`link_bps` 0: the `link_kib_s` default).
pub fn migration_cost_ms(image_bytes: u64, link_bps: u64, tun: &Tunables) -> u64 {
    let bps = if link_bps == 0 {
        tun.link_kib_s.saturating_mul(1024)
    } else {
        link_bps
    };
    let transfer = image_bytes.saturating_mul(1000) / bps.max(1);
    tun.mig_overhead_ms.saturating_add(transfer)
}

/// Shortest time between two rounds that [`next_round_in_ms`] asks for, ms.
pub const MIN_ROUND_MS: u64 = 10;

/// This node's own link as [`decide_paced`] sees it: every image it sends leaves through it, one
/// after the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Link {
    /// Throughput of this node's link, bytes/s (0: not known, the round is not paced).
    pub bps: u64,
    /// Bytes of migration images queued on it and not sent yet.
    pub queued_bytes: u64,
}

impl Link {
    /// No pacing: [`decide`]'s behaviour.
    pub const UNPACED: Self = Self {
        bps: 0,
        queued_bytes: 0,
    };

    /// Time to send what is queued, ms (0 when not paced).
    pub fn drain_ms(&self) -> u64 {
        if self.bps == 0 {
            return 0;
        }
        self.queued_bytes.saturating_mul(1000) / self.bps
    }

    /// Whether the queue already holds a round's worth of sending (`balance_interval_ms`).
    fn full(&self, tun: &Tunables) -> bool {
        self.bps != 0 && self.drain_ms() >= tun.balance_interval_ms
    }

    fn queue(&mut self, bytes: u64) {
        if self.bps != 0 {
            self.queued_bytes = self.queued_bytes.saturating_add(bytes);
        }
    }

    /// Cost of sending `image_bytes` to a peer measured at `peer_bps`, ms: the wait for what is
    /// queued, then [`migration_cost_ms`] over the slower of this link and the peer's.
    pub fn cost_ms(&self, image_bytes: u64, peer_bps: u64, tun: &Tunables) -> u64 {
        let bps = match (self.bps, peer_bps) {
            (0, p) => p,
            (b, 0) => b,
            (b, p) => b.min(p),
        };
        self.drain_ms()
            .saturating_add(migration_cost_ms(image_bytes, bps, tun))
    }
}

/// When to run the next round after one that decided `made` moves, ms from now: when the link
/// has drained (at least [`MIN_ROUND_MS`], at most `balance_interval_ms`) if it moved
/// something, `balance_interval_ms` otherwise. `link` is the link with the round's moves queued.
pub fn next_round_in_ms(made: usize, link: &Link, tun: &Tunables) -> u64 {
    let interval = tun.balance_interval_ms.max(1);
    if made == 0 {
        return interval;
    }
    link.drain_ms().clamp(MIN_ROUND_MS.min(interval), interval)
}

/// Time a process expected to need `work_ms` more CPU time saves by running at slowdown `there`
/// instead of `here` (both per mille), ms.
pub fn expected_gain_ms(work_ms: u64, here: u64, there: u64) -> u64 {
    work_ms.saturating_mul(here.saturating_sub(there)) / 1000
}

/// A process of this node that the balancer may move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Candidate {
    /// Caller's identifier (a PID, an index); [`decide`] does not interpret it.
    pub id: u32,
    /// Decayed CPU usage (running or waiting for a CPU), per mille of one CPU
    /// ([`ProcStats::usage`]).
    pub usage: u32,
    /// `TAG_*` bits.
    pub tags: u8,
    /// CPU time used so far, ms: the estimate of the CPU time it still needs (a process that has
    /// run long is expected to run about as long again).
    pub cpu_ms: u64,
    /// Bytes a migration sends (the migration image).
    pub image_bytes: u64,
    /// The process's home node (this node unless it is a guest here).
    pub home: u32,
    /// Locked in place by its user or an administrator: never moved.
    pub locked: bool,
    /// Runs as root (real or effective user id 0): moved only if [`Tunables::migrate_root`]
    /// is 1.
    pub root: bool,
    /// Reasons it cannot migrate (shared memory, devices...): any bit set and it is never moved.
    pub stay: u32,
    /// Time since it last migrated, ms (`u64::MAX`: never).
    pub since_migration_ms: u64,
}

/// Why [`decide`] moves a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// It is expected to finish sooner on the target, by more than the move costs.
    Load,
    /// This node is short of memory and the target has room.
    Memory,
    /// A guest goes back to its home node (this node blocks guests, or home is as good a place).
    GoHome,
}

/// One migration to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Index of the process in the candidate slice.
    pub candidate: usize,
    /// Node to move it to.
    pub target: u32,
    /// Why.
    pub reason: Reason,
    /// Runnable tasks (x 100) the process adds to the target, for [`admit`].
    pub demand: u32,
}

impl Default for Decision {
    fn default() -> Self {
        Self {
            candidate: 0,
            target: 0,
            reason: Reason::Load,
            demand: 0,
        }
    }
}

/// The target's answer to a migration request: whether it takes a process that `source` decided
/// to send it, judged on the target's own numbers now (`target`: its load with the processes
/// already on their way to it counted in; `source`: the view the request carries).
///
/// Gossip is up to a few heartbeats old, so several nodes may pick the same idle node in the same
/// second; this check stops them piling on it. A process going home is always taken; a load move
/// must still leave the target `hysteresis` below the source; any move but going home must leave
/// the target above its ushering threshold, and is refused while the target blocks guests.
pub fn admit(
    target: &NodeView,
    source: &NodeView,
    d: &Decision,
    image_bytes: u64,
    tun: &Tunables,
) -> bool {
    if d.reason == Reason::GoHome {
        return true;
    }
    let room = target.mem_kb
        >= image_bytes
            .div_ceil(1024)
            .saturating_add(target.usher_threshold_kb(tun));
    if !room || target.status & STATUS_BLOCK != 0 {
        return false;
    }
    if d.reason == Reason::Memory {
        return true;
    }
    let after = load_per_cpu(
        target.runnable().saturating_add(u64::from(d.demand)),
        target.cpus(),
        target.speed(),
    );
    let before = load_per_cpu(source.runnable(), source.cpus(), source.speed());
    after.saturating_add(tun.hysteresis) <= before
}

/// Changes that earlier decisions of the same round made to node loads and memory.
struct Shifts {
    node: [u32; MAX_DECISIONS],
    runnable: [u64; MAX_DECISIONS],
    mem_kb: [u64; MAX_DECISIONS],
    len: usize,
}

impl Shifts {
    fn new() -> Self {
        Self {
            node: [0; MAX_DECISIONS],
            runnable: [0; MAX_DECISIONS],
            mem_kb: [0; MAX_DECISIONS],
            len: 0,
        }
    }

    /// Runnable tasks (x 100) and available memory of `v` once the round's moves arrive.
    fn apply(&self, v: &NodeView) -> (u64, u64) {
        let mut r = v.runnable();
        let mut m = v.mem_kb;
        for i in 0..self.len.min(MAX_DECISIONS) {
            if self.node[i] == v.node {
                r = r.saturating_add(self.runnable[i]);
                m = m.saturating_sub(self.mem_kb[i]);
            }
        }
        (r, m)
    }

    fn add(&mut self, node: u32, runnable: u64, mem_kb: u64) {
        if let (Some(n), Some(r), Some(m)) = (
            self.node.get_mut(self.len),
            self.runnable.get_mut(self.len),
            self.mem_kb.get_mut(self.len),
        ) {
            *n = node;
            *r = runnable;
            *m = mem_kb;
            self.len += 1;
        }
    }
}

/// This node's state during a round: what is left after the round's moves so far.
struct Here<'a> {
    view: &'a NodeView,
    runnable: u64,
    mem_kb: u64,
    tun: &'a Tunables,
    /// This node's link, with the images of the round's moves so far queued on it.
    link: Link,
}

impl Here<'_> {
    /// Whether `c` may move at all (not counting residency).
    fn may_move(&self, c: &Candidate) -> bool {
        let home_stays =
            c.home == self.view.node && self.view.status & (STATUS_STAY | STATUS_LSTAY) != 0;
        let root_stays = c.root && self.tun.migrate_root == 0;
        !c.locked && c.stay == 0 && !home_stays && !root_stays
    }

    fn settled(&self, c: &Candidate) -> bool {
        c.since_migration_ms >= self.tun.min_residency_ms
    }

    /// Whether `p` can take processes at all: up, fresh, another node.
    fn reachable(&self, p: &NodeView) -> bool {
        p.node != 0
            && p.node != self.view.node
            && p.status & STATUS_UP != 0
            && u64::from(p.age_ms) <= self.tun.stale_ms
    }

    /// Whether `p` can take `c`: reachable, and guests welcome unless `c` goes home.
    fn accepts(&self, p: &NodeView, c: &Candidate) -> bool {
        self.reachable(p) && (p.status & STATUS_BLOCK == 0 || p.node == c.home)
    }

    /// Runnable tasks (x 100) that `c` adds to a node: its usage, or a whole CPU for `cpujob`.
    fn demand(&self, c: &Candidate) -> u64 {
        if c.tags & TAG_CPUJOB != 0 {
            return 100;
        }
        (u64::from(c.usage) / 10).min(100)
    }
}

/// A possible target of one move, and how good it is.
#[derive(Clone, Copy)]
struct Move {
    peer: usize,
    /// Load per CPU of the target after the move.
    after: u64,
    /// Expected gain minus cost, ms.
    net: u64,
}

/// Weighs moving `c` (adding `demand`) to `peers[i]`: `Some` when every rule allows it.
fn weigh(
    here: &Here<'_>,
    shifts: &Shifts,
    peers: &[NodeView],
    i: usize,
    c: &Candidate,
    demand: u64,
) -> Option<Move> {
    let p = peers.get(i)?;
    let tun = here.tun;
    let (r, mem) = shifts.apply(p);
    let image_kb = c.image_bytes.div_ceil(1024);
    if mem < image_kb.saturating_add(p.usher_threshold_kb(tun)) {
        return None;
    }
    let after = load_per_cpu(r.saturating_add(demand), p.cpus(), p.speed());
    let before = load_per_cpu(here.runnable, here.view.cpus(), here.view.speed());
    if after.saturating_add(tun.hysteresis) > before {
        return None;
    }
    let sd_here = slowdown(
        here.runnable.saturating_sub(demand),
        here.view.cpus(),
        here.view.speed(),
    );
    let sd_there = slowdown(r, p.cpus(), p.speed());
    let gain = expected_gain_ms(c.cpu_ms, sd_here, sd_there);
    let cost = here.link.cost_ms(c.image_bytes, p.link_bps, tun);
    if gain.saturating_mul(1000) <= cost.saturating_mul(tun.min_gain) {
        return None;
    }
    Some(Move {
        peer: i,
        after,
        net: gain.saturating_sub(cost),
    })
}

fn find(peers: &[NodeView], node: u32) -> Option<usize> {
    peers.iter().position(|p| p.node == node)
}

fn taken(out: &[Decision], i: usize) -> bool {
    out.iter().any(|d| d.candidate == i)
}

/// The [`SHORTLIST`] peers where a new CPU-bound process would run fastest, best first.
fn shortlist(here: &Here<'_>, shifts: &Shifts, peers: &[NodeView]) -> ([usize; SHORTLIST], usize) {
    let mut best = [(0usize, (0u64, 0u64, 0u64)); SHORTLIST];
    let mut len = 0usize;
    for (i, p) in peers.iter().enumerate() {
        if !here.reachable(p) || p.status & STATUS_BLOCK != 0 {
            continue;
        }
        let (r, _) = shifts.apply(p);
        // Lower slowdown first, then the emptier node (idle CPUs all score 1000), then the
        // faster one; among equals the earlier peer.
        let key = (
            slowdown(r, p.cpus(), p.speed()),
            load_per_cpu(r, p.cpus(), p.speed()),
            u64::MAX - p.speed(),
        );
        let pos = best[..len]
            .iter()
            .position(|&(_, k)| key < k)
            .unwrap_or(len);
        if pos == SHORTLIST {
            continue;
        }
        let last = len.min(SHORTLIST - 1);
        best.copy_within(pos..last, pos + 1);
        best[pos] = (i, key);
        len = (len + 1).min(SHORTLIST);
    }
    (best.map(|(i, _)| i), len)
}

/// Decides which processes of this node move where, best first; returns how many decisions it
/// wrote to `out` (at most `out.len()`, `tun.max_migrations` and [`MAX_DECISIONS`]).
///
/// `local` is this node's own view (its status bits say whether it blocks guests or keeps its
/// processes home; for its load pass the smaller of the smoothed load and the runnable count now,
/// so that processes that just left stop counting), `peers` the other nodes' views, `procs` the
/// processes that could move. Each decision is a request the target answers with [`admit`].
/// In order:
///
/// 1. Expel: when this node blocks guests, guests go home (residency does not hold them).
/// 2. Memory: while available memory is below the ushering threshold, the largest process that
///    some node has room for goes to the fastest such node that keeps above its own threshold.
/// 3. Load: the move with the largest expected gain minus cost, among moves whose gain exceeds
///    `min_gain` per mille of the cost and whose target stays `hysteresis` below this node; a
///    guest goes home instead when home is allowed and about as lightly loaded. Repeated with
///    the loads the earlier moves leave.
///
/// Locked processes, processes with a stay reason, and (with `stay`/`lstay` set) processes born
/// here never move; nodes that are down, stale, this node, or blocking guests (except as a guest's
/// home) are never targets.
pub fn decide(
    local: &NodeView,
    peers: &[NodeView],
    procs: &[Candidate],
    tun: &Tunables,
    out: &mut [Decision],
) -> usize {
    decide_paced(local, peers, procs, tun, &Link::UNPACED, out)
}

/// [`decide`] on a node whose own link is the scarce resource: `link` says its throughput and
/// the images already queued on it (migrations under way).
///
/// Each load move waits for what is queued before it: its cost counts that wait, and no load
/// move is decided once the queue holds more than `balance_interval_ms` of sending (the link
/// could not carry it before the next round). With [`Link::UNPACED`] this is [`decide`]. After
/// a round that moved something, [`next_round_in_ms`] says when to run the next one: as soon as
/// the link has room again, so that a node with a burst of work sends at its link's speed rather
/// than `max_migrations` per interval.
pub fn decide_paced(
    local: &NodeView,
    peers: &[NodeView],
    procs: &[Candidate],
    tun: &Tunables,
    link: &Link,
    out: &mut [Decision],
) -> usize {
    let max = out
        .len()
        .min(MAX_DECISIONS)
        .min(usize::try_from(tun.max_migrations).unwrap_or(MAX_DECISIONS));
    let mut here = Here {
        view: local,
        runnable: local.runnable(),
        mem_kb: local.mem_kb,
        tun,
        link: *link,
    };
    let mut shifts = Shifts::new();
    let mut n = 0usize;

    // 1. Expel guests when this node blocks them.
    if local.status & STATUS_BLOCK != 0 {
        for (i, c) in procs.iter().enumerate() {
            if n >= max {
                return n;
            }
            if c.home == local.node || !here.may_move(c) {
                continue;
            }
            let Some(h) = find(peers, c.home) else {
                continue;
            };
            if here.reachable(&peers[h]) {
                let d = here.demand(c);
                push(
                    &mut n,
                    out,
                    Decision {
                        candidate: i,
                        target: c.home,
                        reason: Reason::GoHome,
                        demand: u32::try_from(d).unwrap_or(u32::MAX),
                    },
                );
                here.runnable = here.runnable.saturating_sub(d);
                here.mem_kb = here.mem_kb.saturating_add(c.image_bytes.div_ceil(1024));
                shifts.add(c.home, d, c.image_bytes.div_ceil(1024));
            }
        }
    }

    // 2. Memory ushering.
    let threshold = local.usher_threshold_kb(tun);
    while n < max && here.mem_kb < threshold {
        // The most room any node has above its own threshold.
        let mut room = 0u64;
        for p in peers {
            if here.reachable(p) {
                let (_, m) = shifts.apply(p);
                room = room.max(m.saturating_sub(p.usher_threshold_kb(tun)));
            }
        }
        // The largest movable process that fits there.
        let mut pick: Option<(usize, u64)> = None;
        for (i, c) in procs.iter().enumerate() {
            let kb = c.image_bytes.div_ceil(1024);
            let fits = kb <= room && pick.is_none_or(|(_, best)| kb > best);
            if fits && here.may_move(c) && here.settled(c) && !taken(&out[..n], i) {
                pick = Some((i, kb));
            }
        }
        let Some((i, kb)) = pick else {
            break;
        };
        let c = &procs[i];
        // The node with room where it would run fastest.
        let mut target: Option<(usize, u64)> = None;
        for (j, p) in peers.iter().enumerate() {
            if !here.accepts(p, c) {
                continue;
            }
            let (r, m) = shifts.apply(p);
            if m < kb.saturating_add(p.usher_threshold_kb(tun)) {
                continue;
            }
            let sd = slowdown(r, p.cpus(), p.speed());
            if target.is_none_or(|(_, best)| sd < best) {
                target = Some((j, sd));
            }
        }
        let Some((j, _)) = target else {
            break;
        };
        let d = here.demand(c);
        let node = peers[j].node;
        push(
            &mut n,
            out,
            Decision {
                candidate: i,
                target: node,
                reason: if node == c.home {
                    Reason::GoHome
                } else {
                    Reason::Memory
                },
                demand: u32::try_from(d).unwrap_or(u32::MAX),
            },
        );
        here.runnable = here.runnable.saturating_sub(d);
        here.mem_kb = here.mem_kb.saturating_add(kb);
        shifts.add(node, d, kb);
        here.link.queue(procs[i].image_bytes);
    }

    // 3. Load, while the link has room for it.
    while n < max && !here.link.full(tun) {
        let (list, len) = shortlist(&here, &shifts, peers);
        let mut best: Option<(usize, Move, Reason)> = None;
        for (i, c) in procs.iter().enumerate() {
            if !here.may_move(c) || !here.settled(c) || taken(&out[..n], i) {
                continue;
            }
            let d = here.demand(c);
            let away_ok = c.tags & TAG_IOJOB == 0;
            let mut pick: Option<Move> = None;
            if away_ok {
                for &j in &list[..len] {
                    if let Some(o) = weigh(&here, &shifts, peers, j, c, d) {
                        if pick.is_none_or(|b| o.net > b.net) {
                            pick = Some(o);
                        }
                    }
                }
            }
            let mut reason = Reason::Load;
            if c.home != local.node {
                let home = find(peers, c.home)
                    .filter(|&h| here.accepts(&peers[h], c))
                    .and_then(|h| weigh(&here, &shifts, peers, h, c, d));
                if let Some(h) = home {
                    if pick.is_none_or(|b| h.after <= b.after.saturating_add(tun.hysteresis)) {
                        pick = Some(h);
                        reason = Reason::GoHome;
                    }
                }
            }
            if let Some(o) = pick {
                if best.is_none_or(|(_, b, _)| o.net > b.net) {
                    best = Some((i, o, reason));
                }
            }
        }
        let Some((i, o, reason)) = best else {
            break;
        };
        let c = &procs[i];
        let d = here.demand(c);
        let kb = c.image_bytes.div_ceil(1024);
        let node = peers[o.peer].node;
        push(
            &mut n,
            out,
            Decision {
                candidate: i,
                target: node,
                reason,
                demand: u32::try_from(d).unwrap_or(u32::MAX),
            },
        );
        here.runnable = here.runnable.saturating_sub(d);
        here.mem_kb = here.mem_kb.saturating_add(kb);
        shifts.add(node, d, kb);
        here.link.queue(c.image_bytes);
    }
    n
}

/// Writes `d` at `out[*n]` and counts it, when there is room.
fn push(n: &mut usize, out: &mut [Decision], d: Decision) {
    if let Some(slot) = out.get_mut(*n) {
        *slot = d;
        *n += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::{STATUS_DEF, STATUS_QUIET};

    const UP: u32 = STATUS_DEF | STATUS_UP;
    const GIB_KB: u64 = 1 << 20;

    /// A standard one-CPU node with 1 GiB, half of it available, carrying `load`.
    fn node(id: u32, load: u32) -> NodeView {
        NodeView {
            node: id,
            load,
            speed: STD_SPEED,
            cpus: 1,
            status: UP,
            mem_kb: GIB_KB / 2,
            tmem_kb: GIB_KB,
            age_ms: 100,
            link_bps: 100_000_000,
        }
    }

    /// A CPU-bound local process that has run `cpu_ms`, with a 1 MB image.
    fn job(id: u32, home: u32, cpu_ms: u64) -> Candidate {
        Candidate {
            id,
            usage: 1000,
            tags: TAG_CPUJOB,
            cpu_ms,
            image_bytes: 1_000_000,
            home,
            locked: false,
            root: false,
            stay: 0,
            since_migration_ms: u64::MAX,
        }
    }

    fn run(local: &NodeView, peers: &[NodeView], procs: &[Candidate]) -> ([Decision; 16], usize) {
        run_with(local, peers, procs, &Tunables::default())
    }

    fn run_with(
        local: &NodeView,
        peers: &[NodeView],
        procs: &[Candidate],
        tun: &Tunables,
    ) -> ([Decision; 16], usize) {
        let mut out = [Decision::default(); 16];
        let n = decide(local, peers, procs, tun, &mut out);
        (out, n)
    }

    /// xorshift64*: a small deterministic generator for the noise tests.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        /// Uniform in `-amp..=amp`.
        fn noise(&mut self, amp: i64) -> i64 {
            (self.next() % (2 * amp as u64 + 1)) as i64 - amp
        }
    }

    #[test]
    fn slowdown_and_cost_arithmetic() {
        // Alone on a standard CPU; one other task; four tasks on two CPUs; on a node twice as fast.
        assert_eq!(slowdown(0, 1, 10_000), 1000);
        assert_eq!(slowdown(100, 1, 10_000), 2000);
        assert_eq!(slowdown(300, 2, 10_000), 2000);
        assert_eq!(slowdown(100, 4, 10_000), 1000);
        assert_eq!(slowdown(0, 1, 20_000), 500);
        assert_eq!(slowdown(u64::MAX, 0, 0), u64::MAX);
        let tun = Tunables::default();
        // 100 ms fixed + 10 MB at 1 MB/s; an unmeasured link uses link_kib_s.
        assert_eq!(migration_cost_ms(10_000_000, 1_000_000, &tun), 10_100);
        assert_eq!(migration_cost_ms(10_240_000, 0, &tun), 1100);
        assert_eq!(expected_gain_ms(1000, 2000, 1000), 1000);
        assert_eq!(expected_gain_ms(1000, 1000, 2000), 0);
    }

    #[test]
    fn no_move_when_gain_does_not_beat_cost() {
        // Two CPU-bound processes here, an idle peer: moving one saves cpu_ms * (2000 - 1000) /
        // 1000 = 1000 ms. With min_gain 2000 it moves only if the cost is under 500 ms.
        let local = node(1, 200);
        let mut peer = node(2, 0);
        peer.link_bps = 1_000_000;
        let mut p = job(10, 1, 1000);
        // 100 ms + 400_000 bytes at 1 MB/s = 500 ms: gain is exactly twice the cost, no move.
        p.image_bytes = 400_000;
        assert_eq!(run(&local, &[peer], &[p]).1, 0);
        // 499 ms: moves.
        p.image_bytes = 399_000;
        let (out, n) = run(&local, &[peer], &[p]);
        assert_eq!(n, 1);
        assert_eq!(
            out[0],
            Decision {
                candidate: 0,
                target: 2,
                reason: Reason::Load,
                demand: 100,
            }
        );
        // A large image over the same link: 10.1 s of cost for 1 s of gain.
        p.image_bytes = 10_000_000;
        assert_eq!(run(&local, &[peer], &[p]).1, 0);
        // A process that has not run yet is expected to gain nothing.
        assert_eq!(run(&local, &[peer], &[job(10, 1, 0)]).1, 0);
    }

    #[test]
    fn hysteresis_boundary() {
        // Three CPU-bound processes here (per-CPU load 300). After the move the target must be
        // at most 300 - 30: a target carrying 170 ends at 270 and qualifies, 171 does not.
        let local = node(1, 300);
        let p = job(10, 1, 100_000);
        assert_eq!(run(&local, &[node(2, 170)], &[p]).1, 1);
        assert_eq!(run(&local, &[node(2, 171)], &[p]).1, 0);
        // Two nodes both at 200: never.
        assert_eq!(run(&node(1, 200), &[node(2, 200)], &[p]).1, 0);
        // 2 against 1: moving would only swap the loads.
        assert_eq!(run(&node(1, 200), &[node(2, 100)], &[p]).1, 0);
    }

    /// Two one-CPU nodes; each round both decide on noisy views of the true loads and the moves
    /// are applied. Returns the number of moves and the most any one process moved.
    fn noisy_rounds(start: [usize; 2], amp: i64, rounds: u32, seed: u64) -> (u32, u32) {
        let tun = Tunables::default();
        let mut rng = Rng(seed);
        // (node index, cpu_ms, since migration, moves)
        let mut procs: [(usize, u64, u64, u32); 8] = [(0, 0, u64::MAX, 0); 8];
        let total = start[0] + start[1];
        for (k, p) in procs.iter_mut().enumerate().take(total) {
            p.0 = usize::from(k >= start[0]);
        }
        let mut moves = 0;
        for _ in 0..rounds {
            let counts = [count(&procs[..total], 0), count(&procs[..total], 1)];
            let count = |n: usize| counts[n];
            let load = |n: usize, rng: &mut Rng| (count(n) * 100 + rng.noise(amp)).max(0) as u32;
            let views = [node(1, load(0, &mut rng)), node(2, load(1, &mut rng))];
            for me in 0..2 {
                let mut cands = [Candidate::default(); 8];
                let mut map = [0usize; 8];
                let mut c = 0;
                for (k, p) in procs[..total].iter().enumerate() {
                    if p.0 == me {
                        cands[c] = Candidate {
                            cpu_ms: p.1,
                            since_migration_ms: p.2,
                            usage: 1000,
                            tags: 0,
                            ..job(k as u32, 1, 0)
                        };
                        map[c] = k;
                        c += 1;
                    }
                }
                let (out, n) = run_with(&views[me], &views[1 - me..2 - me], &cands[..c], &tun);
                for d in &out[..n] {
                    let p = &mut procs[map[d.candidate]];
                    p.0 = (d.target - 1) as usize;
                    p.2 = 0;
                    p.3 += 1;
                    moves += 1;
                }
            }
            let share = |n: usize| 1000 / count(n).max(1) as u64;
            for p in procs[..total].iter_mut() {
                p.1 += share(p.0);
                p.2 = p.2.saturating_add(1000);
            }
        }
        let most = procs[..total].iter().map(|p| p.3).max().unwrap_or(0);
        (moves, most)
    }

    fn count(procs: &[(usize, u64, u64, u32)], n: usize) -> i64 {
        procs.iter().filter(|p| p.0 == n).count() as i64
    }

    #[test]
    fn no_ping_pong_over_1000_noisy_rounds() {
        // Balanced 2 and 2, loads jittering by up to 60 each way: a move needs the views to
        // differ by demand + hysteresis = 130, so nothing may move.
        for seed in 1..=5 {
            assert_eq!(noisy_rounds([2, 2], 60, 1000, seed), (0, 0));
        }
        // 4 and 0: exactly two processes move, once each, then 1000 rounds of noise move nothing.
        for seed in 1..=5 {
            assert_eq!(noisy_rounds([4, 0], 60, 1000, seed), (2, 1));
        }
        // 3 and 1 is as balanced as 4 processes on 2 CPUs get with noise: one move at most.
        for seed in 1..=5 {
            assert_eq!(noisy_rounds([3, 1], 60, 1000, seed).0, 1);
        }
    }

    #[test]
    fn memory_ushering_threshold() {
        // 1 GiB total, 5 % threshold = 52428 KiB (rounded down). Loads equal: no load moves.
        let threshold = GIB_KB * 50 / 1000;
        let mut local = node(1, 300);
        let peers = [
            // Fast but short of room: 60000 KiB available, 52428 of it reserved.
            NodeView {
                speed: 40_000,
                mem_kb: 60_000,
                ..node(2, 300)
            },
            node(3, 300),
        ];
        let mut big = job(11, 1, 1000);
        big.image_bytes = 200 << 20;
        let mut locked = job(12, 1, 1000);
        locked.image_bytes = 500 << 20;
        locked.locked = true;
        let mut small = job(10, 1, 1000);
        small.image_bytes = 100 << 20;
        let procs = [small, big, locked];
        for (mem, moves) in [
            (threshold + 1, 0),
            (threshold, 0),
            (threshold - 1, 1),
            (0, 1),
        ] {
            local.mem_kb = mem;
            let (out, n) = run(&local, &peers, &procs);
            assert_eq!(n, moves, "available {mem} KiB");
            if n == 1 {
                assert_eq!(
                    out[0],
                    Decision {
                        candidate: 1,
                        target: 3,
                        reason: Reason::Memory,
                        demand: 100,
                    }
                );
            }
        }
        // An absolute threshold above the share takes over.
        let tun = Tunables {
            usher_free_kb: 100_000,
            ..Tunables::default()
        };
        local.mem_kb = 99_999;
        assert_eq!(run_with(&local, &peers, &procs, &tun).1, 1);
        // Nobody has room for 200 MiB: the 100 MiB one goes instead.
        let tight = [NodeView {
            mem_kb: 200_000,
            ..node(3, 300)
        }];
        local.mem_kb = 0;
        let (out, n) = run(&local, &tight, &procs);
        assert_eq!((n, out[0].candidate, out[0].target), (1, 0, 3));
    }

    #[test]
    fn locked_and_staying_processes_never_move() {
        let local = node(1, 800);
        let peers = [node(2, 0), node(3, 0)];
        let mut locked = job(10, 1, 100_000);
        locked.locked = true;
        let mut shm = job(11, 1, 100_000);
        shm.stay = 1 << 3;
        let mut fresh = job(12, 1, 100_000);
        fresh.since_migration_ms = 1999;
        let mut low = NodeView { mem_kb: 0, ..local };
        assert_eq!(run(&local, &peers, &[locked, shm, fresh]).1, 0);
        assert_eq!(run(&low, &peers, &[locked, shm, fresh]).1, 0);
        // admin/stay and admin/lstay keep processes born here; a guest still moves.
        let guest = job(13, 7, 100_000);
        for bit in [STATUS_STAY, STATUS_LSTAY] {
            low.status = UP | bit;
            let busy = NodeView {
                status: UP | bit,
                ..local
            };
            assert_eq!(run(&busy, &peers, &[job(10, 1, 100_000)]).1, 0);
            assert_eq!(run(&low, &peers, &[job(10, 1, 100_000)]).1, 0);
            let (out, n) = run(&busy, &peers, &[job(10, 1, 100_000), guest]);
            assert_eq!((n, out[0].candidate), (1, 1));
        }
        // Settled again after min_residency_ms.
        fresh.since_migration_ms = 2000;
        assert_eq!(run(&local, &peers, &[locked, shm, fresh]).1, 1);
    }

    #[test]
    fn root_processes_move_only_with_migrate_root() {
        let local = node(1, 800);
        let peers = [node(2, 0), node(3, 0)];
        let mut root = job(10, 1, 100_000);
        root.root = true;
        let low = NodeView { mem_kb: 0, ..local };
        let mut tun = Tunables::default();
        assert_eq!(tun.migrate_root, 0);
        // Neither for load nor for memory, and an equal ordinary process does move.
        assert_eq!(run_with(&local, &peers, &[root], &tun).1, 0);
        assert_eq!(run_with(&low, &peers, &[root], &tun).1, 0);
        let (out, n) = run_with(&local, &peers, &[root, job(11, 1, 100_000)], &tun);
        assert_eq!((n, out[0].candidate), (1, 1));
        // With the knob, root is like anyone else.
        tun.set("migrate_root", 1).unwrap();
        let (out, n) = run_with(&local, &peers, &[root], &tun);
        assert_eq!((n, out[0].candidate), (1, 0));
        assert_eq!(run_with(&low, &peers, &[root], &tun).1, 1);
        // The knob is 0 or 1.
        assert_eq!(
            tun.set("migrate_root", 2),
            Err(TunableError::Range {
                name: "migrate_root",
                value: 2,
                min: 0,
                max: 1
            })
        );
        assert_eq!(tun.migrate_root, 1);
    }

    #[test]
    fn unusable_nodes_are_never_targets() {
        let local = node(1, 800);
        let p = job(10, 1, 100_000);
        let blocked = NodeView {
            status: UP | STATUS_BLOCK,
            ..node(2, 0)
        };
        let down = NodeView {
            status: STATUS_DEF,
            ..node(3, 0)
        };
        let stale = NodeView {
            age_ms: 3001,
            ..node(4, 0)
        };
        let quiet_but_up = NodeView {
            status: UP | STATUS_QUIET,
            ..node(5, 0)
        };
        let me = node(1, 0);
        let none = NodeView {
            node: 0,
            ..node(6, 0)
        };
        let peers = [blocked, down, stale, me, none];
        assert_eq!(run(&local, &peers, &[p]).1, 0);
        let low = NodeView { mem_kb: 0, ..local };
        assert_eq!(run(&low, &peers, &[p]).1, 0);
        // The one usable node is chosen.
        let (out, n) = run(&local, &[blocked, down, stale, quiet_but_up], &[p]);
        assert_eq!((n, out[0].target), (1, 5));
    }

    #[test]
    fn faster_node_preferred() {
        let local = node(1, 200);
        let slow = node(2, 0);
        let fast = NodeView {
            speed: 20_000,
            ..node(3, 0)
        };
        let p = job(10, 1, 10_000);
        for peers in [[slow, fast], [fast, slow]] {
            let (out, n) = run(&local, &peers, &[p]);
            assert_eq!((n, out[0].target), (1, 3));
        }
        // Alone on a slow node, a process still gains from an idle node four times as fast.
        let slow_here = NodeView {
            speed: 5000,
            load: 200,
            ..node(1, 0)
        };
        let fast4 = NodeView {
            speed: 20_000,
            ..node(3, 0)
        };
        let (out, n) = run(&slow_here, &[fast4], &[p]);
        assert_eq!((n, out[0].target), (1, 3));
        // But not to a node of the same speed: the slowdown is the same.
        assert_eq!(
            run(
                &slow_here,
                &[NodeView {
                    speed: 5000,
                    ..node(3, 0)
                }],
                &[p]
            )
            .1,
            0
        );
    }

    #[test]
    fn guests_move_on_or_go_home() {
        let busy = node(1, 400);
        let guest = job(10, 2, 100_000);
        // Home as good as another node: home wins, even when home blocks guests.
        for home in [
            node(2, 0),
            NodeView {
                status: UP | STATUS_BLOCK,
                ..node(2, 0)
            },
        ] {
            let (out, n) = run(&busy, &[node(3, 0), home], &[guest]);
            assert_eq!((n, out[0].target, out[0].reason), (1, 2, Reason::GoHome));
        }
        // Home busier than another node by more than the hysteresis: the guest moves on.
        let (out, n) = run(&busy, &[node(3, 0), node(2, 100)], &[guest]);
        assert_eq!((n, out[0].target, out[0].reason), (1, 3, Reason::Load));
        // Home down: moves on.
        let down = NodeView {
            status: STATUS_DEF,
            ..node(2, 0)
        };
        let (out, n) = run(&busy, &[down, node(3, 0)], &[guest]);
        assert_eq!((n, out[0].target), (1, 3));
        // An iojob guest only goes home: not to node 3 while home is as busy as here.
        let io = Candidate {
            tags: TAG_IOJOB,
            ..guest
        };
        assert_eq!(run(&busy, &[node(3, 0), node(2, 400)], &[io]).1, 0);
        let (out, n) = run(&busy, &[node(3, 0), node(2, 0)], &[io]);
        assert_eq!((n, out[0].target), (1, 2));
        // This node blocks guests: they go home whatever the loads and residency, local
        // processes stay.
        let blocking = NodeView {
            status: UP | STATUS_BLOCK,
            ..node(1, 0)
        };
        let fresh = Candidate {
            since_migration_ms: 0,
            cpu_ms: 0,
            ..guest
        };
        let (out, n) = run(&blocking, &[node(2, 900)], &[job(11, 1, 100_000), fresh]);
        assert_eq!(
            (n, out[0].candidate, out[0].target, out[0].reason),
            (1, 1, 2, Reason::GoHome)
        );
    }

    #[test]
    fn one_round_spreads_over_several_targets() {
        // Eight CPU-bound processes, eight idle peers, four moves per round: four distinct
        // targets, the process that ran longest first.
        let local = node(1, 800);
        let peers: [NodeView; 8] = core::array::from_fn(|i| node(i as u32 + 2, 0));
        let procs: [Candidate; 8] =
            core::array::from_fn(|i| job(i as u32, 1, 1000 * (i as u64 + 1)));
        let (out, n) = run(&local, &peers, &procs);
        assert_eq!(n, 4);
        assert_eq!(out[0].candidate, 7);
        for i in 0..n {
            for j in 0..i {
                assert_ne!(out[i].target, out[j].target);
                assert_ne!(out[i].candidate, out[j].candidate);
            }
        }
        // Processes that have barely started add little load, yet still go to distinct idle
        // nodes rather than piling on the first.
        let young: [Candidate; 8] = core::array::from_fn(|i| Candidate {
            usage: 10,
            tags: 0,
            ..procs[i]
        });
        let (out, n) = run(&local, &peers, &young);
        assert_eq!(n, 4);
        for i in 0..n {
            for j in 0..i {
                assert_ne!(out[i].target, out[j].target);
            }
        }
        // The caller's slice bounds the count too.
        let mut two = [Decision::default(); 2];
        assert_eq!(
            decide(&local, &peers, &procs, &Tunables::default(), &mut two),
            2
        );
    }

    #[test]
    fn targets_admit_on_their_own_numbers() {
        // Node 1 at 400 sent a whole process to node 2, which gossip showed idle.
        let source = node(1, 400);
        let d = Decision {
            candidate: 0,
            target: 2,
            reason: Reason::Load,
            demand: 100,
        };
        let tun = Tunables::default();
        assert!(admit(&node(2, 0), &source, &d, 1 << 20, &tun));
        // Others got there first: 270 + 30 is still at most 400, 271 + 30 is not.
        assert!(admit(&node(2, 170), &source, &d, 1 << 20, &tun));
        assert!(admit(&node(2, 270), &source, &d, 1 << 20, &tun));
        assert!(!admit(&node(2, 271), &source, &d, 1 << 20, &tun));
        // Blocking guests, or no room left above the ushering threshold.
        let blocked = NodeView {
            status: UP | STATUS_BLOCK,
            ..node(2, 0)
        };
        assert!(!admit(&blocked, &source, &d, 1 << 20, &tun));
        let full = NodeView {
            mem_kb: GIB_KB * 50 / 1000 + 1023,
            ..node(2, 0)
        };
        assert!(!admit(&full, &source, &d, 1 << 20, &tun));
        assert!(admit(&full, &source, &d, 1023 * 1024, &tun));
        // Memory moves need only room; going home is always taken.
        let mem = Decision {
            reason: Reason::Memory,
            ..d
        };
        assert!(admit(&node(2, 900), &source, &mem, 1 << 20, &tun));
        assert!(!admit(&full, &source, &mem, 1 << 20, &tun));
        let home = Decision {
            reason: Reason::GoHome,
            ..d
        };
        assert!(admit(&blocked, &source, &home, 1 << 30, &tun));
    }

    #[test]
    fn decay_arithmetic() {
        let tun = Tunables::default();
        // Young: the plain mean of the samples so far.
        let mut s = ProcStats::new(0);
        let mut f = ProcStats::new(TAG_IOJOB);
        s.update(1000, 1000, &tun);
        f.update(1000, 1000, &tun);
        assert_eq!((s.usage(), f.usage()), (1000, 1000));
        for _ in 0..3 {
            s.update(0, 1000, &tun);
            f.update(0, 1000, &tun);
        }
        assert_eq!((s.usage(), f.usage()), (250, 250));
        // Old: one idle interval after a long busy run keeps 975 and 926 per mille.
        let mut s1 = ProcStats::new(0);
        let mut f1 = ProcStats::new(TAG_IOJOB);
        for _ in 0..100 {
            s1.update(1000, 1000, &tun);
            f1.update(1000, 1000, &tun);
        }
        assert_eq!((s1.usage(), f1.usage()), (1000, 1000));
        s1.update(0, 1000, &tun);
        f1.update(0, 1000, &tun);
        assert_eq!((s1.usage(), f1.usage()), (975, 926));
        // Half a CPU for a long time converges to 500; idle decays back to 0.
        for _ in 0..1000 {
            s.update(500, 1000, &tun);
            f.update(500, 1000, &tun);
        }
        assert_eq!((s.usage(), f.usage()), (500, 500));
        // The slow one remembers more: after 10 idle intervals 500 * 0.975^10 = 388 against
        // 500 * 0.926^10 = 231.8.
        for _ in 0..10 {
            s.update(0, 1000, &tun);
            f.update(0, 1000, &tun);
        }
        assert_eq!((s.usage(), f.usage()), (388, 232));
        for _ in 0..2000 {
            s.update(0, 1000, &tun);
        }
        assert_eq!(s.usage(), 0);
        // nodecay: the plain mean, however old.
        let mut n = ProcStats::new(TAG_NODECAY);
        for _ in 0..100 {
            n.update(1000, 1000, &tun);
        }
        for _ in 0..300 {
            n.update(0, 1000, &tun);
        }
        assert_eq!(n.usage(), 250);
        // Longer intervals, more used than elapsed, a zero interval.
        let mut x = ProcStats::new(TAG_NODECAY);
        x.update(4000, 2000, &tun);
        assert_eq!(x.usage(), 1000);
        x.update(u64::MAX, 0, &tun);
        assert_eq!(x.usage(), 1000);
        assert_eq!(ProcStats::new(TAG_NODECAY).decay(&tun), None);
        assert_eq!(ProcStats::new(TAG_CPUJOB).decay(&tun), Some(975));
    }

    #[test]
    fn tunables_validate_and_set_whole_or_not_at_all() {
        let mut t = Tunables::default();
        assert_eq!(t.validate(), Ok(()));
        for k in Tunables::KNOBS {
            assert_eq!(t.get(k.name), Some(k.default));
            assert!(k.min <= k.default && k.default <= k.max, "{}", k.name);
        }
        assert_eq!(t.set("slow_decay", 990), Ok(()));
        assert_eq!(t.slow_decay, 990);
        let e = t.set("slow_decay", 1000);
        assert_eq!(
            e,
            Err(TunableError::Range {
                name: "slow_decay",
                value: 1000,
                min: 0,
                max: 999
            })
        );
        let mut msg = [0u8; 64];
        let mut w = Buf(&mut msg, 0);
        fmt::write(&mut w, format_args!("{}", e.unwrap_err())).unwrap();
        let len = w.1;
        assert_eq!(&msg[..len], b"slow_decay: 1000 is outside 0..=999");
        assert_eq!(
            t.set("fast_decay", 991),
            Err(TunableError::Conflict(
                "fast_decay must not exceed slow_decay"
            ))
        );
        assert!(t.set("hysteresis", 0).is_err());
        assert!(t.set("max_migrations", 17).is_err());
        assert_eq!(t.set("no_such_knob", 1), Err(TunableError::Unknown));
        assert_eq!(t.get("no_such_knob"), None);
        // Nothing of the refused writes stuck.
        assert_eq!(
            t,
            Tunables {
                slow_decay: 990,
                ..Tunables::default()
            }
        );
    }

    struct Buf<'a>(&'a mut [u8], usize);

    impl fmt::Write for Buf<'_> {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            let end = self.1 + s.len();
            self.0
                .get_mut(self.1..end)
                .ok_or(fmt::Error)?
                .copy_from_slice(s.as_bytes());
            self.1 = end;
            Ok(())
        }
    }

    #[test]
    fn never_panics_on_extreme_inputs() {
        let mut rng = Rng(7);
        let pick = |rng: &mut Rng| match rng.next() % 4 {
            0 => 0,
            1 => u64::MAX,
            2 => rng.next() % 1000,
            _ => rng.next(),
        };
        for _ in 0..2000 {
            let mut views = [NodeView::default(); 6];
            for v in views.iter_mut() {
                *v = NodeView {
                    node: (pick(&mut rng) % 8) as u32,
                    load: pick(&mut rng) as u32,
                    speed: pick(&mut rng) as u32,
                    cpus: pick(&mut rng) as u16,
                    status: pick(&mut rng) as u32,
                    mem_kb: pick(&mut rng),
                    tmem_kb: pick(&mut rng),
                    age_ms: pick(&mut rng) as u32,
                    link_bps: pick(&mut rng),
                };
            }
            let mut procs = [Candidate::default(); 5];
            for c in procs.iter_mut() {
                *c = Candidate {
                    id: 0,
                    usage: pick(&mut rng) as u32,
                    tags: pick(&mut rng) as u8,
                    cpu_ms: pick(&mut rng),
                    image_bytes: pick(&mut rng),
                    home: (pick(&mut rng) % 8) as u32,
                    locked: rng.next() % 4 == 0,
                    root: rng.next() % 4 == 0,
                    stay: (rng.next() % 2) as u32,
                    since_migration_ms: pick(&mut rng),
                };
            }
            let mut tun = Tunables::default();
            if rng.next() % 2 == 0 {
                for k in Tunables::KNOBS {
                    *tun.slot(k.name).unwrap() = pick(&mut rng);
                }
            }
            let mut out = [Decision::default(); MAX_DECISIONS];
            let n = decide(&views[0], &views[1..], &procs, &tun, &mut out);
            assert!(n <= MAX_DECISIONS);
            for d in &out[..n] {
                assert!(d.candidate < procs.len());
                let c = &procs[d.candidate];
                assert!(!c.locked && c.stay == 0);
                assert!(!c.root || tun.migrate_root != 0);
            }
            let mut s = ProcStats::new(pick(&mut rng) as u8);
            s.update(pick(&mut rng), pick(&mut rng), &tun);
            assert!(s.usage() <= 1000);
        }
    }

    #[test]
    fn paced_rounds_fill_the_link_and_no_more() {
        // Eight CPU-bound 1 MiB processes, eight idle peers.
        let local = node(1, 800);
        let peers: [NodeView; 8] = core::array::from_fn(|i| node(i as u32 + 2, 0));
        let procs: [Candidate; 8] =
            core::array::from_fn(|i| job(i as u32, 1, 100_000 * (i as u64 + 1)));
        let tun = Tunables::default();
        let mut out = [Decision::default(); MAX_DECISIONS];
        let paced = |link: &Link, out: &mut [Decision]| {
            decide_paced(&local, &peers, &procs, &tun, link, out)
        };
        // Unpaced, and over a fast link: max_migrations (4), as decide.
        let unpaced = decide(&local, &peers, &procs, &tun, &mut out);
        let fast = Link {
            bps: 125_000_000,
            queued_bytes: 0,
        };
        assert_eq!((unpaced, paced(&fast, &mut out)), (4, 4));
        // A 1 MB/s link carries one image a round: one move.
        let slow = Link {
            bps: 1_000_000,
            queued_bytes: 0,
        };
        assert_eq!(paced(&slow, &mut out), 1);
        // A link already busy for a whole round: none.
        let busy = Link {
            bps: 1_000_000,
            queued_bytes: 1_000_000,
        };
        assert_eq!(paced(&busy, &mut out), 0);
        // The wait counts in the cost: a process that gains 700 ms from an idle node (100 ms
        // run at slowdown 8000 here, 1000 there) moves over an idle link (cost 100 + 10 ms, at
        // least twice covered), not behind 900 ms of queue.
        let small = [job(0, 1, 100)];
        let mut one = [Decision::default(); 1];
        let idle = Link {
            bps: 100_000_000,
            queued_bytes: 0,
        };
        let queued = Link {
            bps: 100_000_000,
            queued_bytes: 90_000_000,
        };
        assert_eq!(
            decide_paced(&local, &peers, &small, &tun, &idle, &mut one),
            1
        );
        assert_eq!(
            decide_paced(&local, &peers, &small, &tun, &queued, &mut one),
            0
        );
        assert_eq!(queued.cost_ms(1 << 20, 0, &tun), 900 + 100 + 10);
        // Next round: after the link drains, within [MIN_ROUND_MS, interval].
        let after = Link {
            bps: 125_000_000,
            queued_bytes: 4 << 20,
        };
        assert_eq!(next_round_in_ms(4, &after, &tun), 33);
        assert_eq!(next_round_in_ms(1, &fast, &tun), MIN_ROUND_MS);
        assert_eq!(next_round_in_ms(1, &busy, &tun), 1000);
        assert_eq!(next_round_in_ms(0, &after, &tun), 1000);
    }
}
