// SPDX-License-Identifier: GPL-2.0

//! Load: this node's measurement (runnable tasks smoothed openMosix-style, CPU utilisation,
//! memory), the heartbeats that carry it to every connected peer, the gossip that spreads the
//! freshest entries about other nodes, and failure detection (a peer silent for `timeout_ms` is
//! down). The gossip selection and merge rule are `omcore::gossip`, shared with the simulator.

use super::config::GOSSIP_FANOUT;
use super::conn::Conn;
use super::Mesh;
use crate::error;
use crate::ksys::crypto::random_bytes;
use crate::ksys::errno::ebadmsg;
use crate::ksys::sys;
use crate::omcore::frame::MessageKind;
use crate::omcore::gossip;
use crate::omcore::msg::{Gossip, LoadEntry, GOSSIP_MAX_LEN, STD_SPEED};
use kernel::prelude::*;
use kernel::sync::Arc;

impl Mesh {
    /// Measures this node; returns the heartbeat period and whether discovery is on.
    pub(super) fn sample(&self, now: u64) -> (u32, bool) {
        let runnable = u64::from(sys::nr_runnable());
        let mut st = self.state.lock();
        let s = &mut st.sampler;
        // openMosix-style exponential smoothing: each 100 ms sample weighs 1/8.
        s.smoothed = (s.smoothed * 7 + runnable * 100 * 256) / 8;
        if now.saturating_sub(s.last_util_at) >= 1000 {
            let idle = sys::cpu_idle_ns();
            let wall_ns = (now - s.last_util_at) * 1_000_000 * u64::from(sys::online_cpus());
            let idle_d = idle.saturating_sub(s.last_idle_ns).min(wall_ns);
            s.util = (1000 - idle_d * 1000 / wall_ns.max(1)) as u16;
            s.last_idle_ns = idle;
            s.last_util_at = now;
            let mem = sys::meminfo();
            st.own.mem_kb = mem.avail_kb;
            st.own.rmem_kb = mem.free_kb;
            st.own.tmem_kb = mem.total_kb;
            st.own.cpus = sys::online_cpus().min(u16::MAX.into()) as u16;
            if st.self_id == 0 {
                Self::resolve_self(&mut st);
            }
        }
        let speed = u64::from(st.tun.speed.max(1));
        let load = st.sampler.smoothed / 256 * u64::from(STD_SPEED) / speed;
        st.own.load = load.min(u64::from(u32::MAX)) as u32;
        st.own.util = st.sampler.util;
        st.own.speed = st.tun.speed;
        st.own.status = st.tun.status();
        (st.tun.heartbeat_ms, st.tun.discovery)
    }

    /// Heartbeats to every connected peer, gossip to a few, failure detection.
    pub(super) fn beat(&self, now: u64) {
        let mut conns: KVec<Arc<Conn>> = KVec::new();
        let mut down: KVec<Arc<Conn>> = KVec::new();
        let mut gossip = Gossip::default();
        let own;
        let quiet;
        let encrypt;
        {
            let mut st = self.state.lock();
            own = st.own;
            quiet = st.tun.quiet;
            encrypt = st.tun.encrypt;
            let timeout = u64::from(st.tun.timeout_ms);
            let mut changed = false;
            for p in st.peers.iter_mut() {
                if p.conn.as_ref().is_some_and(|c| c.is_dead()) {
                    p.conn = None;
                }
                if p.up && now.saturating_sub(p.last_heard) > timeout {
                    pr_info!(
                        "node {} down (silent for {} ms)\n",
                        p.id,
                        now - p.last_heard
                    );
                    p.up = false;
                    changed = true;
                    if let Some(c) = p.conn.take() {
                        let _ = down.push(c, GFP_KERNEL);
                    }
                }
                if let Some(c) = &p.conn {
                    let _ = conns.push(c.clone(), GFP_KERNEL);
                }
            }
            if changed {
                st.nodes_dirty = true;
            }
            if !quiet {
                // Its own entry, then the freshest about other nodes (the simulator's code too).
                let known = st.peers.iter().filter_map(|p| p.load);
                gossip::select(&own, known, now, timeout, &mut gossip);
            }
        }
        for c in down.iter() {
            c.kill();
        }
        if quiet || conns.is_empty() {
            return;
        }
        let hb = own.encode();
        for c in conns.iter() {
            self.count_send(c.send(MessageKind::Heartbeat, &hb, encrypt), hb.len());
        }
        let mut buf = [0u8; GOSSIP_MAX_LEN];
        let n = gossip.encode(&mut buf);
        let mut r = [0u8; 4];
        random_bytes(&mut r);
        let start = u32::from_ne_bytes(r) as usize % conns.len();
        for k in 0..GOSSIP_FANOUT.min(conns.len()) {
            let c = &conns[(start + k) % conns.len()];
            self.count_send(c.send(MessageKind::Gossip, &buf[..n], encrypt), n);
        }
    }

    /// A heartbeat from `peer`: its own load entry.
    pub(super) fn on_heartbeat(&self, peer: u32, payload: &[u8], now: u64) -> error::Result {
        let e = LoadEntry::decode(payload)?;
        if e.node != peer {
            return Err(ebadmsg().into());
        }
        let mut st = self.state.lock();
        if let Some(p) = st.peers.iter_mut().find(|p| p.id == peer) {
            p.last_heard = now;
            if !p.up {
                pr_info!("node {} up\n", p.id);
                p.up = true;
            }
            p.load = Some((e, now.saturating_sub(u64::from(e.age_ms))));
        }
        Ok(())
    }

    /// Gossip from `peer`: entries about other nodes, kept where fresher than what is known.
    pub(super) fn on_gossip(&self, peer: u32, payload: &[u8], now: u64) -> error::Result {
        let g = Gossip::decode(payload)?;
        let mut st = self.state.lock();
        let me = st.self_id;
        if let Some(p) = st.peers.iter_mut().find(|p| p.id == peer) {
            p.last_heard = now;
        }
        for e in g.entries() {
            if let Some(p) = st.peers.iter_mut().find(|p| p.id == e.node) {
                let held = p.load.map(|(_, at)| at);
                if let Some(at) = gossip::accept(e, me, peer, now, held) {
                    p.load = Some((*e, at));
                }
            }
        }
        Ok(())
    }
}
