// SPDX-License-Identifier: GPL-2.0

//! Making connections: the dialing and accepting sides of the challenge-response handshake
//! (`Hello`, `HelloReply`, `Auth` under the cluster key; see `Documentation/protocol.md`), and
//! installing an authenticated connection with its two threads.
//!
//! Every handshake runs in a thread of its own (`omx-hs-in` for an accepted connection,
//! `omx-hs/ID` for a dial), at most [`MAX_HANDSHAKES`] at once and
//! [`MAX_HANDSHAKES_PER_ADDR`] with one address, and ends by [`HANDSHAKE_MS`] after it began
//! whatever the other side does: before authentication only the handshake kinds are read, at
//! their fixed sizes. So a client that connects and dawdles, or many of them, holds one slot
//! each for a bounded time and never keeps a node from (re)connecting.
//!
//! Lock order: `Mesh::handshakes`, `Mesh::conn_threads` and `Mesh::state` are taken one at a
//! time, never nested (`Conn::kill`, called with `Mesh::state` held, takes no lock).

use super::config::{
    HANDSHAKE_MS, MAX_HANDSHAKES, MAX_HANDSHAKES_PER_ADDR, MAX_PEERS, REDIAL_MS, RX_POLL_MS,
    TCP_PORT, TX_TIMEOUT_MS,
};
use super::conn::{tx_loop, Conn};
use super::frame::{build_frame, is_refusal, read_handshake, session_keys, Session};
use super::keys::Keys;
use super::pending::{take_finished, Handshake};
use super::{Inbound, Mesh, Peer};
use crate::error::{Fault, Result};
use crate::ksys::crypto::{random_bytes, HmacKey};
use crate::ksys::errno::{ebadmsg, eshutdown};
use crate::ksys::net::{Kind, Socket};
use crate::ksys::sys::now_ms;
use crate::ksys::thread::{self, KThread};
use crate::ksys::{cstr_fmt, Disp};
use crate::omcore::addr::Addr;
use crate::omcore::frame::MessageKind;
use crate::omcore::msg::{self, NONCE_LEN};
use core::sync::atomic::Ordering::Relaxed;
use kernel::prelude::*;
use kernel::sync::Arc;

/// What an accepted handshake made: the peer, this node's ID and the keys it was made under,
/// and the connection's keys.
struct Accepted {
    peer: u32,
    me: u32,
    session: Session,
    keys: Arc<Keys>,
}

impl Mesh {
    /// Starts the threads of an authenticated connection, made under `keys`, and makes it the
    /// peer's connection, unless the keys or this node's ID changed while it was being made
    /// (then it is closed: every connection must be one of the keys and ID in force).
    fn install<I: Inbound>(
        self: &Arc<Self>,
        conn: Arc<Conn>,
        keys: &Arc<Keys>,
        inbound: &Arc<I>,
    ) -> Result {
        let id = conn.peer;
        let mut name = [0u8; 16];
        let rx = {
            let (me, c, to) = (self.clone(), conn.clone(), inbound.clone());
            let n = cstr_fmt(&mut name, format_args!("omx-rx/{id}"));
            KThread::spawn(n, move || me.rx_loop(&c, &*to))?
        };
        let tx = {
            let c = conn.clone();
            let n = cstr_fmt(&mut name, format_args!("omx-tx/{id}"));
            // The sender has this node's priority for its own traffic: the frames it sends
            // were queued by this node (a migrating process's image, forwarded calls), which
            // must not wait for the CPU share of a kernel thread on a crowded node. The
            // receiver, which does what a peer sends, keeps the ordinary priority.
            KThread::spawn(n, move || {
                let _boost = thread::Boost::new();
                tx_loop(&c)
            })
        };
        let tx = match tx {
            Ok(t) => t,
            Err(e) => {
                conn.kill();
                drop(rx);
                return Err(e.into());
            }
        };
        {
            let mut threads = self.conn_threads.lock();
            threads.reserve(2, GFP_KERNEL)?;
            let _ = threads.push_within_capacity((conn.clone(), rx));
            let _ = threads.push_within_capacity((conn.clone(), tx));
        }
        let mut st = self.state.lock();
        if st.stopping {
            drop(st);
            conn.kill();
            return Err(eshutdown().into());
        }
        let current = st.keys.as_ref().is_some_and(|k| Arc::ptr_eq(k, keys));
        if !current || conn.me != st.self_id {
            drop(st);
            conn.kill();
            return Err(EAGAIN.into());
        }
        let now = now_ms();
        let Some(p) = st.peers.iter_mut().find(|p| p.id == id) else {
            drop(st);
            conn.kill();
            return Err(ENOENT.into());
        };
        if let Some(old) = p.conn.replace(conn) {
            old.kill();
        }
        if !p.up {
            pr_info!("node {} up\n", id);
        }
        p.up = true;
        p.last_heard = now;
        st.nodes_dirty = true;
        Ok(())
    }

    /// Starts `f`, a handshake with `addr`, in a thread called `name`, unless as many
    /// handshakes as allowed are under way, in all or with `addr` (`EBUSY`: `f` is dropped,
    /// with the socket it holds).
    fn spawn_handshake<F: FnOnce() + Send + 'static>(
        &self,
        addr: Addr,
        name: &CStr,
        f: F,
    ) -> Result {
        let mut list = self.handshakes.lock();
        // Finished threads give their slot back first (joined below, outside the lock).
        let finished = take_finished(&mut list);
        let same = list.iter().filter(|h| h.addr == addr).count();
        let r = if list.len() >= MAX_HANDSHAKES || same >= MAX_HANDSHAKES_PER_ADDR {
            Err(Fault::Errno(EBUSY))
        } else {
            list.reserve(1, GFP_KERNEL)
                .map_err(Fault::from)
                .and_then(|()| Handshake::spawn(addr, name, f))
                .map(|h| {
                    let _ = list.push_within_capacity(h);
                })
        };
        drop(list);
        drop(finished);
        r
    }

    /// Joins the threads of finished handshakes.
    pub(super) fn reap_handshakes(&self) {
        let finished = take_finished(&mut self.handshakes.lock());
        drop(finished);
    }

    /// Waits for every handshake thread to end (each ends by its deadline).
    pub(super) fn stop_handshakes(&self) {
        let all = core::mem::take(&mut *self.handshakes.lock());
        drop(all);
    }

    /// Initiator side of the handshake with node `id` at `addr`.
    fn dial(&self, me: u32, id: u32, addr: &Addr, key: &HmacKey) -> Result<(Socket, Session)> {
        let deadline = now_ms() + u64::from(HANDSHAKE_MS);
        let sock = Socket::new(Kind::Tcp, addr)?;
        sock.set_timeouts(HANDSHAKE_MS, HANDSHAKE_MS);
        sock.connect(addr, TCP_PORT)?;
        sock.set_nodelay();
        let mut ni = [0u8; NONCE_LEN];
        random_bytes(&mut ni);
        let hello = msg::Hello { nonce: ni }.encode();
        sock.send_all(&build_frame(MessageKind::Hello, me, id, 0, &hello, key)?)?;
        let (h, p) = read_handshake(&sock, MessageKind::HelloReply, deadline, |_| Some(key))?;
        if h.source != id || h.target != me {
            return Err(ebadmsg().into());
        }
        let reply = msg::HelloReply::decode(&p)?;
        if reply.echo != ni {
            return Err(ebadmsg().into());
        }
        let auth = msg::Auth { echo: reply.nonce }.encode();
        sock.send_all(&build_frame(MessageKind::Auth, me, id, 0, &auth, key)?)?;
        let session = session_keys(key, me, id, &ni, &reply.nonce, true)?;
        sock.set_timeouts(RX_POLL_MS, TX_TIMEOUT_MS);
        Ok((sock, session))
    }

    /// Acceptor side of the handshake on `sock`, a connection from `paddr`.
    fn accept_handshake(&self, sock: &Socket, paddr: Addr) -> Result<Accepted> {
        let deadline = now_ms() + u64::from(HANDSHAKE_MS);
        let (keys, me, discovery) = {
            let st = self.state.lock();
            (
                st.keys.clone().ok_or(Fault::Errno(EACCES))?,
                st.self_id,
                st.tun.discovery,
            )
        };
        if me == 0 {
            return Err(EAGAIN.into());
        }
        // The Hello is checked with the key of the pair it claims to be from: with a keyring,
        // only that node has it.
        let (h, p) = read_handshake(sock, MessageKind::Hello, deadline, |h| {
            keys.for_pair(me, h.source)
        })?;
        if h.target != me || h.source == me {
            return Err(ebadmsg().into());
        }
        let peer = h.source;
        // The lower ID dials: a connection from a higher ID breaks the rule.
        if peer > me {
            return Err(ebadmsg().into());
        }
        let key = keys.for_pair(me, peer).ok_or(Fault::Errno(EPERM))?;
        let hello = msg::Hello::decode(&p)?;
        // A known node connects from its own address (its map entry's, or the one it was
        // discovered at): a key holder elsewhere cannot take its place. An unknown node is only
        // welcome with discovery on; it is added once it has proved the key on this connection
        // (below), never on the strength of a Hello that could be a replay.
        let known = self
            .state
            .lock()
            .peers
            .iter()
            .find(|p| p.id == peer)
            .map(|p| p.addr);
        match known {
            Some(addr) if addr != paddr => return Err(EPERM.into()),
            None if !discovery => return Err(EPERM.into()),
            _ => {}
        }
        let known = known.is_some();
        let mut na = [0u8; NONCE_LEN];
        random_bytes(&mut na);
        let reply = msg::HelloReply {
            nonce: na,
            echo: hello.nonce,
        }
        .encode();
        sock.send_all(&build_frame(
            MessageKind::HelloReply,
            me,
            peer,
            0,
            &reply,
            key,
        )?)?;
        let (h, p) = read_handshake(sock, MessageKind::Auth, deadline, |_| Some(key))?;
        if h.source != peer || h.target != me {
            return Err(ebadmsg().into());
        }
        if msg::Auth::decode(&p)?.echo != na {
            return Err(ebadmsg().into());
        }
        if !known {
            let mut st = self.state.lock();
            if !st.peers.iter().any(|p| p.id == peer) {
                if st.peers.len() >= MAX_PEERS {
                    return Err(EPERM.into());
                }
                st.peers
                    .push(Peer::new(peer, paddr, false, true), GFP_KERNEL)?;
                st.nodes_dirty = true;
                pr_info!("node {} joined from {}\n", peer, Disp(&paddr));
            }
        }
        sock.set_nodelay();
        sock.set_timeouts(RX_POLL_MS, TX_TIMEOUT_MS);
        let session = session_keys(key, peer, me, &hello.nonce, &na, false)?;
        Ok(Accepted {
            peer,
            me,
            session,
            keys,
        })
    }

    /// Runs the acceptor side of the handshake on `sock` and installs the connection it makes.
    fn accept_and_install<I: Inbound>(
        self: &Arc<Self>,
        sock: Socket,
        paddr: Addr,
        inbound: &Arc<I>,
    ) {
        match self.accept_handshake(&sock, paddr) {
            Ok(Accepted {
                peer,
                me,
                session,
                keys,
            }) => {
                self.counters.handshakes_ok.fetch_add(1, Relaxed);
                if let Ok(c) = Arc::pin_init(Conn::new(peer, me, sock, session), GFP_KERNEL) {
                    let _ = self.install(c, &keys, inbound);
                }
            }
            Err(f) => {
                self.counters.handshakes_failed.fetch_add(1, Relaxed);
                if is_refusal(&f) || matches!(f, Fault::Errno(e) if e == EPERM) {
                    self.counters.frames_rejected.fetch_add(1, Relaxed);
                }
            }
        }
    }

    /// Dials node `id` at `addr` and installs the connection it makes; the peer may be dialed
    /// again once this returns.
    fn dial_and_install<I: Inbound>(
        self: &Arc<Self>,
        (keys, me, id, addr): (Arc<Keys>, u32, u32, Addr),
        inbound: &Arc<I>,
    ) {
        let r = match keys.for_pair(me, id) {
            Some(key) => self.dial(me, id, &addr, key),
            None => Err(Fault::Errno(EPERM)),
        };
        match r {
            Ok((sock, session)) => {
                self.counters.handshakes_ok.fetch_add(1, Relaxed);
                if let Ok(c) = Arc::pin_init(Conn::new(id, me, sock, session), GFP_KERNEL) {
                    let _ = self.install(c, &keys, inbound);
                }
            }
            Err(f) => {
                if is_refusal(&f) {
                    self.counters.handshakes_failed.fetch_add(1, Relaxed);
                    self.counters.frames_rejected.fetch_add(1, Relaxed);
                }
            }
        }
        if let Some(p) = self.state.lock().peers.iter_mut().find(|p| p.id == id) {
            p.dialing = false;
        }
    }

    /// The `omx-listen` thread: accepts connections and starts a handshake thread for each.
    pub(super) fn listen_loop<I: Inbound>(self: Arc<Self>, inbound: Arc<I>) {
        while !self.stopping() {
            let sock = match self.listener.accept() {
                Ok(s) => s,
                Err(e) if e == EAGAIN || e == EINTR => continue,
                Err(_) => {
                    thread::sleep_ms(100);
                    continue;
                }
            };
            let Ok((paddr, _)) = sock.peer() else {
                continue;
            };
            let (me, to) = (self.clone(), inbound.clone());
            let run = move || me.accept_and_install(sock, paddr, &to);
            if self.spawn_handshake(paddr, c"omx-hs-in", run).is_err() {
                self.counters.handshakes_refused.fetch_add(1, Relaxed);
            }
        }
    }

    /// The `omx-dial` thread: starts a dial, in a handshake thread of its own, to every peer
    /// with a higher ID that has no connection and is due.
    pub(super) fn dial_loop<I: Inbound>(self: Arc<Self>, inbound: Arc<I>) {
        while !self.stopping() {
            thread::sleep_ms(200);
            let now = now_ms();
            let mut due = KVec::new();
            {
                let mut st = self.state.lock();
                let me = st.self_id;
                let Some(keys) = st.keys.clone() else {
                    continue;
                };
                if me == 0 {
                    continue;
                }
                for p in st.peers.iter_mut() {
                    if due.len() >= MAX_HANDSHAKES {
                        break;
                    }
                    // With a keyring, only the nodes it holds a key for.
                    let keyed = keys.for_pair(me, p.id).is_some();
                    if p.id > me && keyed && p.conn.is_none() && !p.dialing && now >= p.dial_after {
                        if due
                            .push((keys.clone(), me, p.id, p.addr), GFP_KERNEL)
                            .is_err()
                        {
                            break;
                        }
                        p.dialing = true;
                        p.dial_after = now + REDIAL_MS;
                    }
                }
            }
            for pick in due {
                let (id, addr) = (pick.2, pick.3);
                let mut name = [0u8; 16];
                let n = cstr_fmt(&mut name, format_args!("omx-hs/{id}"));
                let (me, to) = (self.clone(), inbound.clone());
                let run = move || me.dial_and_install(pick, &to);
                if self.spawn_handshake(addr, n, run).is_err() {
                    self.counters.handshakes_refused.fetch_add(1, Relaxed);
                    if let Some(p) = self.state.lock().peers.iter_mut().find(|p| p.id == id) {
                        p.dialing = false;
                    }
                }
            }
        }
    }
}
