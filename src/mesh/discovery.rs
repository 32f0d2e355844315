// SPDX-License-Identifier: GPL-2.0

//! Discovery: with `admin/discovery` on, every node broadcasts a beacon (its ID and address,
//! authenticated with the cluster key) once a second on each IPv4 network it is on, and adds
//! the nodes whose beacons it receives to its peers. A beacon counts only when it comes from
//! the address it announces, and moves a known node only while that node has no connection.

use super::config::{MAX_PEERS, TCP_PORT, UDP_PORT};
use super::frame::{build_frame, check_frame};
use super::keys::Keys;
use super::{Mesh, Peer};
use crate::ksys::crypto::TAG_LEN;
use crate::ksys::sys;
use crate::ksys::thread;
use crate::ksys::Disp;
use crate::omcore::frame::{MessageKind, HEADER_LEN};
use crate::omcore::msg;
use core::sync::atomic::Ordering::Relaxed;
use kernel::prelude::*;
use kernel::sync::Arc;

impl Mesh {
    /// Sends this node's beacons (from the `omx-tick` thread).
    pub(super) fn send_beacons(&self) {
        let (keys, me, addr) = {
            let st = self.state.lock();
            match (&st.keys, st.self_id) {
                (Some(k), me) if me != 0 => (k.clone(), me, st.self_addr),
                _ => return,
            }
        };
        let Some(key) = keys.for_beacons() else {
            return;
        };
        for (local, bcast) in sys::local_ipv4().iter() {
            let beacon = msg::Beacon {
                node: me,
                addr: addr.unwrap_or(*local),
                port: TCP_PORT,
            }
            .encode();
            let Ok(f) = build_frame(MessageKind::Beacon, me, 0, 0, &beacon, key) else {
                continue;
            };
            if self.disc.send_to(&f, bcast, UDP_PORT).is_ok() {
                self.counters.beacons_sent.fetch_add(1, Relaxed);
            }
        }
    }

    /// The `omx-disc` thread: receives beacons.
    pub(super) fn disc_loop(self: Arc<Self>) {
        let mut buf = [0u8; HEADER_LEN + msg::Beacon::LEN + TAG_LEN + 1];
        while !self.stopping() {
            let (n, from) = match self.disc.recv_from(&mut buf) {
                Ok(r) => r,
                Err(e) if e == EAGAIN || e == EINTR => continue,
                Err(_) => {
                    thread::sleep_ms(100);
                    continue;
                }
            };
            let (keys, me, discovery) = {
                let st = self.state.lock();
                (st.keys.clone(), st.self_id, st.tun.discovery)
            };
            let (Some(key), Some((src, _))) = (keys.as_deref().and_then(Keys::for_beacons), from)
            else {
                continue;
            };
            if !discovery {
                continue;
            }
            let Some(b) = check_frame(&buf[..n], key)
                .ok()
                .filter(|h| h.kind == MessageKind::Beacon)
                .and_then(|h| {
                    let b =
                        msg::Beacon::decode(&buf[HEADER_LEN..HEADER_LEN + h.len as usize]).ok()?;
                    (b.node == h.source).then_some(b)
                })
            else {
                self.counters.beacons_rejected.fetch_add(1, Relaxed);
                continue;
            };
            // A beacon counts only from the address it announces: one recorded off the wire and
            // replayed from elsewhere (it needs no key) must not point a node somewhere else.
            if b.addr != src {
                self.counters.beacons_rejected.fetch_add(1, Relaxed);
                continue;
            }
            self.counters.beacons_received.fetch_add(1, Relaxed);
            if b.node == me {
                continue;
            }
            let mut st = self.state.lock();
            let full = st.peers.len() >= MAX_PEERS;
            match st.peers.iter_mut().find(|p| p.id == b.node) {
                Some(p) => {
                    // A live connection is the proof of where a node is: a beacon (perhaps an
                    // old one replayed from the node's former address) moves it only when
                    // there is none.
                    let live = p.conn.as_ref().is_some_and(|c| !c.is_dead());
                    if p.discovered && !p.in_map && p.addr != src && !live {
                        p.addr = src;
                    }
                }
                None if !full => {
                    if st
                        .peers
                        .push(Peer::new(b.node, src, false, true), GFP_KERNEL)
                        .is_ok()
                    {
                        st.nodes_dirty = true;
                        pr_info!("discovered node {} at {}\n", b.node, Disp(&src));
                    }
                }
                None => {}
            }
        }
    }
}
