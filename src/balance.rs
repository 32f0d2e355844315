// SPDX-License-Identifier: GPL-2.0

//! The load balancer: samples this node's processes, keeps their decayed usage, and every
//! `balance_interval_ms` runs `omcore::balance::decide` on its own load and the loads gossip
//! brought, then starts the migrations it decided (see `Documentation/balancing.md`).
//!
//! It runs in the `omx-mig` thread. Home processes move with the same request as a manual
//! `migrate`; a guest hosted here is moved by asking its home (`MigCtl Move`), which alone
//! decides where its processes go. Processes tagged with `/proc/openmosix/tag` (by `mosrun`)
//! carry their tags to their descendants: the nearest tagged ancestor's tags apply.
//!
//! Lock order: `Balancer::tags`, then `Balancer::state`, then the migrations' locks (the round
//! asks `Migrations::busy` with `state` held); `Balancer::tun` alone. Neither the migrations
//! nor the mesh ever call the balancer, so no order runs the other way.

use crate::ksys::sys::{self, now_ms};
use crate::ksys::task::{self, ProcSample};
use crate::ksys::Disp;
use crate::mesh::Mesh;
use crate::migrate::Migrations;
use crate::omcore::balance::{
    self as bal, Candidate, Decision, NodeView, ProcStats, Reason, Tunables, MAX_DECISIONS,
    TAG_CPUJOB, TAG_IOJOB, TAG_NODECAY,
};
use crate::omcore::msg::STD_SPEED;
use crate::omcore::text::Escaped;
use crate::userlog::user_warn;
use core::fmt::Write;
use core::sync::atomic::{AtomicU32, Ordering::Relaxed};
use kernel::prelude::*;
use kernel::sync::{new_mutex, Arc, Mutex};

/// Tag bit (beyond omcore's `TAG_*`): never moved by the balancer.
pub(crate) const TAG_LOCK: u8 = 1 << 7;
/// Most processes one sample looks at.
const MAX_PROCS: usize = 1024;
/// CPU time a process must have used before the balancer moves it, ns.
const MIN_CPU_NS: u64 = 1_000_000_000;
/// How far up the parent chain a tag is inherited.
const MAX_DEPTH: usize = 32;
/// Tag words accepted by `/proc/openmosix/tag`, and their bits.
const TAG_WORDS: [(&str, u8); 4] = [
    ("lock", TAG_LOCK),
    ("cpujob", TAG_CPUJOB),
    ("iojob", TAG_IOJOB),
    ("nodecay", TAG_NODECAY),
];

/// A process the balancer follows.
struct Tracked {
    pid: i32,
    start: u64,
    stats: ProcStats,
    exec_ns: u64,
    /// When it arrived here or was last sent away by the balancer (ms since boot).
    moved_ms: u64,
    seen: bool,
}

/// Tags given to a process (and inherited by its descendants).
struct Tag {
    pid: i32,
    start: u64,
    bits: u8,
}

struct State {
    procs: KVec<Tracked>,
    last_decay: u64,
    last_round: u64,
    /// No round before this time: a migration was under way, and loads take a while to show
    /// where it went (smoothing, gossip).
    quiet_until: u64,
}

/// Time after the last migration under way before the balancer decides again, ms.
const SETTLE_MS: u64 = 2000;

/// The balancer of this node.
#[pin_data]
pub(crate) struct Balancer {
    #[pin]
    tun: Mutex<Tunables>,
    #[pin]
    state: Mutex<State>,
    #[pin]
    tags: Mutex<KVec<Tag>>,
    /// Migrations decided, for `stats`.
    pub(crate) decided: AtomicU32,
}

impl Balancer {
    pub(crate) fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            tun <- new_mutex!(Tunables::DEFAULT, "Balancer::tun"),
            state <- new_mutex!(State {
                procs: KVec::new(),
                last_decay: 0,
                last_round: 0,
                quiet_until: 0,
            }, "Balancer::state"),
            tags <- new_mutex!(KVec::new(), "Balancer::tags"),
            decided: AtomicU32::new(0),
        })
    }

    /// The knobs in force.
    pub(crate) fn tunables(&self) -> Tunables {
        *self.tun.lock()
    }

    /// Sets knob `name` to `value`, whole or not at all; the error says why.
    pub(crate) fn set(
        &self,
        name: &str,
        value: u64,
    ) -> core::result::Result<(), bal::TunableError> {
        self.tun.lock().set(name, value)
    }

    /// `/proc/openmosix/tag` write: `PID WORD...` with words `lock`, `unlock`, `cpujob`,
    /// `iojob`, `nodecay`, `clear`. Only root or the process's owner may tag it.
    pub(crate) fn tag(&self, text: &str) -> Result {
        let mut words = text.split_ascii_whitespace();
        let Some(pid) = words
            .next()
            .and_then(|w| w.parse::<i32>().ok())
            .filter(|&p| p > 0)
        else {
            user_warn!("tag: expected 'PID WORD...'\n");
            return Err(EINVAL);
        };
        let (mut set, mut clear) = (0u8, 0u8);
        let mut any = false;
        for w in words {
            any = true;
            match w {
                "unlock" => clear |= TAG_LOCK,
                "clear" => clear = u8::MAX,
                _ => match TAG_WORDS.iter().find(|(name, _)| *name == w) {
                    Some((_, bit)) => set |= bit,
                    None => {
                        user_warn!(
                            "tag: unknown word '{}' (lock, unlock, cpujob, iojob, nodecay, clear)\n",
                            Disp(&Escaped(w.as_bytes()))
                        );
                        return Err(EINVAL);
                    }
                },
            }
        }
        if !any {
            user_warn!("tag: no tag given for {}\n", pid);
            return Err(EINVAL);
        }
        let t = task::Task::by_pid(pid).ok_or(ESRCH)?;
        if !t.may_be_migrated_by_current() {
            user_warn!("tag {}: permission denied\n", pid);
            return Err(EPERM);
        }
        let start = t.start_time();
        let mut tags = self.tags.lock();
        tags.retain(|x| x.pid != pid || x.start == start);
        match tags.iter_mut().find(|x| x.pid == pid) {
            Some(x) => x.bits = (x.bits & !clear) | set,
            None => tags.push(
                Tag {
                    pid,
                    start,
                    bits: set,
                },
                GFP_KERNEL,
            )?,
        }
        Ok(())
    }

    /// `/proc/openmosix/tag` read: one `PID tags...` line per tagged process.
    pub(crate) fn show_tags(&self, out: &mut impl Write) -> core::fmt::Result {
        writeln!(out, "# pid tags")?;
        for t in self.tags.lock().iter() {
            write!(out, "{}", t.pid)?;
            for (name, bit) in TAG_WORDS {
                if t.bits & bit != 0 {
                    write!(out, " {name}")?;
                }
            }
            writeln!(out)?;
        }
        Ok(())
    }

    /// Periodic work (from the `omx-mig` thread): sample and decay, then balance when due.
    pub(crate) fn tick(&self, mesh: &Mesh, mig: &Arc<Migrations>) {
        let tun = self.tunables();
        let now = now_ms();
        let (decay_due, round_due) = {
            let st = self.state.lock();
            (
                now.saturating_sub(st.last_decay) >= tun.decay_interval_ms,
                now.saturating_sub(st.last_round) >= tun.balance_interval_ms,
            )
        };
        if !decay_due && !round_due {
            return;
        }
        let Ok(procs) = task::processes(MAX_PROCS) else {
            return;
        };
        if decay_due {
            self.sample(&procs, now, &tun);
        }
        if round_due {
            let quiet = {
                let mut st = self.state.lock();
                st.last_round = now;
                if mig.busy() {
                    st.quiet_until = now + SETTLE_MS;
                }
                now < st.quiet_until
            };
            if quiet {
                return;
            }
            if let Err(e) = self.round(mesh, mig, &procs, now, &tun) {
                pr_warn!("balancer: round failed: error {}\n", e.to_errno());
            }
        }
    }

    /// Updates every process's usage with what it did since the last sample.
    fn sample(&self, procs: &[ProcSample], now: u64, tun: &Tunables) {
        let tags = self.tags.lock();
        let mut st = self.state.lock();
        let interval = now.saturating_sub(st.last_decay).max(1);
        let first = st.last_decay == 0;
        // Runnable tasks per CPU now, x 100 (the sampling thread itself aside).
        let crowd = u64::from(sys::nr_runnable().saturating_sub(1)).max(1) * 100
            / u64::from(sys::online_cpus().max(1));
        st.last_decay = now;
        for t in st.procs.iter_mut() {
            t.seen = false;
        }
        for p in procs {
            let bits = inherited(&tags, procs, p);
            match st
                .procs
                .iter_mut()
                .find(|t| t.pid == p.pid && t.start == p.start)
            {
                Some(t) => {
                    let ran = p.exec_ns.saturating_sub(t.exec_ns) / 1_000_000;
                    // Time running or waiting for a CPU. Without scheduler statistics: what it
                    // ran, scaled by how crowded the CPUs are when it is runnable now (a
                    // CPU-bound process sharing one CPU with three others ran a quarter of the
                    // time and waited the rest).
                    let runnable = if p.running {
                        ran.saturating_mul(crowd.max(100)) / 100
                    } else {
                        ran
                    };
                    t.stats.tags = bits & !TAG_LOCK;
                    t.stats.update(runnable.min(interval), interval, tun);
                    t.exec_ns = p.exec_ns;
                    t.seen = true;
                }
                None => {
                    let t = Tracked {
                        pid: p.pid,
                        start: p.start,
                        stats: ProcStats::new(bits & !TAG_LOCK),
                        exec_ns: p.exec_ns,
                        moved_ms: if first { 0 } else { now },
                        seen: true,
                    };
                    if st.procs.push(t, GFP_KERNEL).is_err() {
                        break;
                    }
                }
            }
        }
        st.procs.retain(|t| t.seen);
        drop(st);
        drop(tags);
        // Tags of processes that are gone go too.
        self.tags
            .lock()
            .retain(|t| procs.iter().any(|p| p.pid == t.pid && p.start == t.start));
    }

    /// One balancing round: decide on the current views, then act.
    fn round(
        &self,
        mesh: &Mesh,
        mig: &Arc<Migrations>,
        procs: &[ProcSample],
        now: u64,
        tun: &Tunables,
    ) -> Result {
        let me = mesh.self_id();
        if me == 0 {
            return Ok(());
        }
        let link_bps = tun.link_kib_s.saturating_mul(1024);
        let Some(own) = mesh.node_view(me).and_then(|v| v.load) else {
            return Ok(());
        };
        let mut local = NodeView::from_entry(&own, 0, link_bps);
        local.status = own.status;
        // Processes that just left stop counting at once; a burst of new ones counts slowly.
        let now_runnable = u64::from(sys::nr_runnable().saturating_sub(1)) * 100;
        let now_load = now_runnable * u64::from(STD_SPEED) / u64::from(own.speed.max(1));
        local.load = local.load.min(u32::try_from(now_load).unwrap_or(u32::MAX));

        let mut peers: KVec<NodeView> = KVec::new();
        let mut ids: KVec<u32> = KVec::new();
        mesh.for_each_peer(|id, _, up, _, _| {
            if up && id != me {
                let _ = ids.push(id, GFP_KERNEL);
            }
        });
        for &id in ids.iter() {
            let Some(v) = mesh.node_view(id) else {
                continue;
            };
            let Some(e) = v.load else { continue };
            let mut nv = NodeView::from_entry(&e, e.age_ms, link_bps);
            nv.status = v.status;
            peers.push(nv, GFP_KERNEL)?;
        }
        if peers.is_empty() {
            return Ok(());
        }

        let (mut deputies, mut skip, mut guests) = (KVec::new(), KVec::new(), KVec::new());
        mig.balance_view(&mut deputies, &mut skip, &mut guests)?;
        // Processes of each user away now (their deputies are here), for `user_max_away`.
        let mut away: KVec<(u32, u64)> = KVec::new();
        for p in procs.iter().filter(|p| deputies.contains(&p.pid)) {
            count_away(&mut away, p.uid)?;
        }
        let at_limit = |away: &KVec<(u32, u64)>, uid: u32| {
            tun.user_max_away != 0
                && away
                    .iter()
                    .any(|&(u, n)| u == uid && n >= tun.user_max_away)
        };
        // Pids that are some process's parent, sorted.
        let mut parents: KVec<i32> = KVec::with_capacity(procs.len(), GFP_KERNEL)?;
        for p in procs.iter() {
            parents.push(p.ppid, GFP_KERNEL)?;
        }
        parents.sort_unstable();
        // Candidates, and per candidate (pid, home, mig_id).
        let mut cands: KVec<Candidate> = KVec::new();
        let mut who: KVec<(i32, u32, u32, u32)> = KVec::new();
        {
            let tags = self.tags.lock();
            let st = self.state.lock();
            for p in procs {
                // A process with children (a shell, a supervisor) forks and waits: it stays,
                // as each fork of a migrated process brings it home (it would go to and fro).
                let parent = parents.binary_search(&p.pid).is_ok();
                // Daemons and interactive tools that barely run are not worth a move (and
                // would lose the calls a migrated process cannot make yet).
                let idle = p.exec_ns < MIN_CPU_NS;
                let left_alone = skip.contains(&p.pid) || deputies.contains(&p.pid);
                if p.stay != 0 || parent || idle || left_alone {
                    continue;
                }
                let Some(t) = st
                    .procs
                    .iter()
                    .find(|t| t.pid == p.pid && t.start == p.start)
                else {
                    continue;
                };
                let (home, mig_id) = match guests.iter().find(|g| g.0 == p.pid) {
                    Some(&(_, home, mig_id)) => (home, mig_id),
                    None => (me, 0),
                };
                let bits = inherited(&tags, procs, p);
                cands.push(
                    Candidate {
                        id: p.pid as u32,
                        usage: t.stats.usage(),
                        tags: bits & !TAG_LOCK,
                        cpu_ms: p.exec_ns / 1_000_000,
                        image_bytes: p.rss_pages.saturating_mul(4096),
                        home,
                        locked: bits & TAG_LOCK != 0 || (home == me && at_limit(&away, p.uid)),
                        root: p.uid == 0 || p.euid == 0,
                        stay: 0,
                        since_migration_ms: if t.moved_ms == 0 {
                            u64::MAX
                        } else {
                            now.saturating_sub(t.moved_ms)
                        },
                    },
                    GFP_KERNEL,
                )?;
                who.push((p.pid, home, mig_id, p.uid), GFP_KERNEL)?;
            }
        }
        if cands.is_empty() {
            return Ok(());
        }
        let mut out = [Decision::default(); MAX_DECISIONS];
        let n = bal::decide(&local, &peers, &cands, tun, &mut out);
        for d in out.iter().take(n) {
            let Some(&(pid, home, mig_id, uid)) = who.get(d.candidate) else {
                continue;
            };
            if home == me {
                if at_limit(&away, uid) {
                    continue;
                }
                count_away(&mut away, uid)?;
            }
            let why = match d.reason {
                Reason::Load => "load",
                Reason::Memory => "memory",
                Reason::GoHome => "home",
            };
            let r = if home == me {
                pr_info!("balancer: process {} to node {} ({})\n", pid, d.target, why);
                mig.request(pid, d.target)
            } else {
                let target = if d.target == home { 0 } else { d.target };
                pr_info!(
                    "balancer: guest {} (of node {}) to node {} ({})\n",
                    pid,
                    home,
                    d.target,
                    why
                );
                mig.ask_move(home, mig_id, target, false)
            };
            // Moved or not, it is left alone for the residency time.
            if let Some(t) = self.state.lock().procs.iter_mut().find(|t| t.pid == pid) {
                t.moved_ms = now;
            }
            if r.is_ok() {
                self.decided.fetch_add(1, Relaxed);
            }
        }
        Ok(())
    }
}

/// Counts one more process of user `uid` away from home.
fn count_away(away: &mut KVec<(u32, u64)>, uid: u32) -> Result {
    match away.iter_mut().find(|(u, _)| *u == uid) {
        Some((_, n)) => *n += 1,
        None => away.push((uid, 1), GFP_KERNEL)?,
    }
    Ok(())
}

/// Tags that apply to `p`: its own, else its nearest tagged ancestor's.
fn inherited(tags: &[Tag], procs: &[ProcSample], p: &ProcSample) -> u8 {
    if tags.is_empty() {
        return 0;
    }
    let mut cur = *p;
    for _ in 0..MAX_DEPTH {
        if let Some(t) = tags
            .iter()
            .find(|t| t.pid == cur.pid && t.start == cur.start)
        {
            return t.bits;
        }
        match procs.iter().find(|q| q.pid == cur.ppid) {
            Some(q) if q.pid != cur.pid => cur = *q,
            _ => break,
        }
    }
    0
}
