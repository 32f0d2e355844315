// SPDX-License-Identifier: GPL-2.0

//! Making connections: the dialing and accepting sides of the challenge-response handshake
//! (`Hello`, `HelloReply`, `Auth` under the cluster key; see `Documentation/protocol.md`), and
//! installing an authenticated connection with its two threads.
//!
//! Lock order: `Mesh::conn_threads` and `Mesh::state` are taken one at a time, never nested
//! (`Conn::kill`, called with `Mesh::state` held, takes no lock).

use super::config::{HANDSHAKE_MS, MAX_PEERS, REDIAL_MS, RX_POLL_MS, TCP_PORT, TX_TIMEOUT_MS};
use super::conn::{tx_loop, Conn};
use super::frame::{build_frame, is_refusal, read_frame, session_key};
use super::{Inbound, Mesh, Peer};
use crate::error::{Fault, Result};
use crate::ksys::crypto::{random_bytes, HmacKey};
use crate::ksys::errno::{ebadmsg, econnreset, eshutdown};
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

impl Mesh {
    /// Starts the threads of an authenticated connection and makes it the peer's connection.
    fn install<I: Inbound>(self: &Arc<Self>, conn: Arc<Conn>, inbound: &Arc<I>) -> Result {
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
            KThread::spawn(n, move || tx_loop(&c))
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

    /// Initiator side of the handshake with node `id` at `addr`.
    fn dial(&self, me: u32, id: u32, addr: &Addr, key: &HmacKey) -> Result<(Socket, HmacKey)> {
        let sock = Socket::new(Kind::Tcp, addr)?;
        sock.set_timeouts(HANDSHAKE_MS, HANDSHAKE_MS);
        sock.connect(addr, TCP_PORT)?;
        sock.set_nodelay();
        let mut ni = [0u8; NONCE_LEN];
        random_bytes(&mut ni);
        let hello = msg::Hello { nonce: ni }.encode();
        sock.send_all(&build_frame(MessageKind::Hello, me, id, 0, &hello, key)?)?;
        let (h, p) = read_frame(&sock, key)?.ok_or(econnreset())?;
        if h.kind != MessageKind::HelloReply || h.source != id || h.target != me {
            return Err(ebadmsg().into());
        }
        let reply = msg::HelloReply::decode(&p)?;
        if reply.echo != ni {
            return Err(ebadmsg().into());
        }
        let auth = msg::Auth { echo: reply.nonce }.encode();
        sock.send_all(&build_frame(MessageKind::Auth, me, id, 0, &auth, key)?)?;
        let session = session_key(key, me, id, &ni, &reply.nonce)?;
        sock.set_timeouts(RX_POLL_MS, TX_TIMEOUT_MS);
        Ok((sock, session))
    }

    /// Acceptor side of the handshake. Returns the peer's ID and the session key.
    fn accept_handshake(&self, sock: &Socket) -> Result<(u32, HmacKey)> {
        sock.set_timeouts(HANDSHAKE_MS, HANDSHAKE_MS);
        let (key, me, discovery) = {
            let st = self.state.lock();
            (
                st.key.clone().ok_or(Fault::Errno(EACCES))?,
                st.self_id,
                st.tun.discovery,
            )
        };
        if me == 0 {
            return Err(EAGAIN.into());
        }
        let (h, p) = read_frame(sock, &key)?.ok_or(econnreset())?;
        if h.kind != MessageKind::Hello || h.target != me || h.source == me {
            return Err(ebadmsg().into());
        }
        let peer = h.source;
        // The lower ID dials: a connection from a higher ID breaks the rule.
        if peer > me {
            return Err(ebadmsg().into());
        }
        let hello = msg::Hello::decode(&p)?;
        let (paddr, _) = sock.peer()?;
        // An unknown node is only welcome with discovery on; it is added once it has proved the
        // key on this connection (below), never on the strength of a Hello that could be a replay.
        let known = self.state.lock().peers.iter().any(|p| p.id == peer);
        if !known && !discovery {
            return Err(EPERM.into());
        }
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
            &key,
        )?)?;
        let (h, p) = read_frame(sock, &key)?.ok_or(econnreset())?;
        if h.kind != MessageKind::Auth || h.source != peer || h.target != me {
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
        Ok((peer, session_key(&key, peer, me, &hello.nonce, &na)?))
    }

    /// The `omx-listen` thread.
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
            match self.accept_handshake(&sock) {
                Ok((peer, session)) => {
                    self.counters.handshakes_ok.fetch_add(1, Relaxed);
                    let me = self.self_id();
                    match Arc::pin_init(Conn::new(peer, me, sock, session), GFP_KERNEL) {
                        Ok(c) => {
                            let _ = self.install(c, &inbound);
                        }
                        Err(_) => continue,
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
    }

    /// The `omx-dial` thread.
    pub(super) fn dial_loop<I: Inbound>(self: Arc<Self>, inbound: Arc<I>) {
        while !self.stopping() {
            thread::sleep_ms(200);
            // One candidate per round keeps the state lock short.
            let now = now_ms();
            let pick = {
                let st = self.state.lock();
                match (&st.key, st.self_id) {
                    (Some(k), me) if me != 0 => st
                        .peers
                        .iter()
                        .filter(|p| p.id > me && p.conn.is_none() && now >= p.dial_after)
                        .min_by_key(|p| p.dial_after)
                        .map(|p| (k.clone(), me, p.id, p.addr)),
                    _ => None,
                }
            };
            let Some((key, me, id, addr)) = pick else {
                continue;
            };
            {
                let mut st = self.state.lock();
                if let Some(p) = st.peers.iter_mut().find(|p| p.id == id) {
                    p.dial_after = now + REDIAL_MS;
                }
            }
            match self.dial(me, id, &addr, &key) {
                Ok((sock, session)) => {
                    self.counters.handshakes_ok.fetch_add(1, Relaxed);
                    if let Ok(c) = Arc::pin_init(Conn::new(id, me, sock, session), GFP_KERNEL) {
                        let _ = self.install(c, &inbound);
                    }
                }
                Err(f) => {
                    if is_refusal(&f) {
                        self.counters.handshakes_failed.fetch_add(1, Relaxed);
                        self.counters.frames_rejected.fetch_add(1, Relaxed);
                    }
                }
            }
        }
    }
}
