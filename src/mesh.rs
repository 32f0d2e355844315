// SPDX-License-Identifier: GPL-2.0

//! The mesh: this node's view of the cluster (node map, peers, their load and liveness) and
//! the authenticated TCP connections to them. It carries frames and knows nothing of what they
//! mean beyond its own: frames of other kinds go to the [`Inbound`] the node gives
//! [`Mesh::start`].
//!
//! Threads (all stopped by [`Mesh::shutdown`]):
//! - `omx-listen` accepts connections and starts an `omx-hs-in` thread for the acceptor side
//!   of each handshake;
//! - `omx-dial` starts an `omx-hs/ID` thread that dials each peer with a higher node ID that
//!   has no connection (the lower ID always dials, so two nodes never race to connect to each
//!   other);
//! - `omx-tick` measures the load, sends heartbeats and gossip, marks silent nodes down, sends
//!   discovery beacons and reaps finished connection threads;
//! - `omx-disc` receives discovery beacons;
//! - per connection, `omx-rx/ID` reads and checks frames and `omx-tx/ID` drains the connection's
//!   bounded send queue (its back-pressure: a full queue refuses new frames).
//!
//! Files: `config` (tunables, counters, sizes), `frame` (authenticated framing), `conn` (one
//! connection), `handshake` (dial and accept), `pending` (handshake threads under way),
//! `discovery` (beacons), `load` (load measurement, heartbeats, gossip, failure detection).
//!
//! Lock order: `Mesh::state`, then a connection's `Conn::tx`; `Mesh::conn_threads`,
//! `Mesh::handshakes` and `Mesh::main_threads` are never taken with another lock held.

mod config;
mod conn;
mod discovery;
mod frame;
mod handshake;
mod keys;
mod load;
mod pending;

pub(crate) use config::{Counters, Tunables};

use crate::error::{self, Fault};
use crate::ksys::copy_exact;
use crate::ksys::crypto::AEAD_TAG_LEN;
use crate::ksys::errno::enotconn;
use crate::ksys::net::{Kind, Socket};
use crate::ksys::sys::{self, now_ms};
use crate::ksys::thread::{self, KThread};
use crate::omcore::addr::Addr;
use crate::omcore::frame::{MessageKind, FLAG_SEALED, HEADER_LEN};
use crate::omcore::map::NodeMap;
use crate::omcore::msg::{self, LoadEntry, STD_SPEED};
use crate::userlog::peer_warn;
use config::{MAX_PEERS, RX_POLL_MS, TCP_PORT, TICK_MS, UDP_PORT};
use conn::Conn;
use core::sync::atomic::Ordering::Relaxed;
use frame::{is_refusal, read_frame};
use kernel::prelude::*;
use kernel::sync::{new_mutex, Arc, Mutex};
use keys::Keys;

/// Where the mesh hands the authenticated frames that are not its own (anything but
/// heartbeats and gossip), in the connection's `omx-rx/ID` thread.
pub(crate) trait Inbound: Send + Sync + 'static {
    /// Acts on a frame of `kind` from node `peer`. An error closes the connection (the frame
    /// was hostile or malformed); its reason goes to the log.
    fn deliver(&self, peer: u32, kind: MessageKind, payload: KVec<u8>) -> error::Result;
}

/// What this node knows about another node.
struct Peer {
    id: u32,
    addr: Addr,
    in_map: bool,
    discovered: bool,
    conn: Option<Arc<Conn>>,
    up: bool,
    last_heard: u64,
    /// Latest load entry and the local time it was measured at.
    load: Option<(LoadEntry, u64)>,
    dial_after: u64,
    /// A dial to this peer is under way.
    dialing: bool,
}

/// A node's line in `/proc/openmosix/nodes/ID/`, as the files show it.
#[derive(Clone, Copy)]
pub(crate) struct NodeView {
    pub(crate) status: u32,
    pub(crate) load: Option<LoadEntry>,
}

/// Load measurement of this node (see `load`).
struct Sampler {
    /// Smoothed runnable tasks x 100, times 256 (fixed point).
    smoothed: u64,
    last_idle_ns: u64,
    last_util_at: u64,
    util: u16,
}

/// The mesh's state, under `Mesh::state`.
struct State {
    map: KBox<NodeMap>,
    keys: Option<Arc<Keys>>,
    tun: Tunables,
    self_id: u32,
    self_addr: Option<Addr>,
    peers: KVec<Peer>,
    own: LoadEntry,
    sampler: Sampler,
    /// The set of nodes changed since [`Mesh::take_nodes_changed`] was last called.
    nodes_dirty: bool,
    stopping: bool,
}

/// The mesh of this node.
///
/// # Invariants
///
/// `state.peers` holds at most [`MAX_PEERS`] peers with distinct IDs, none of them this node's
/// own ID; a peer's `conn`, when set, is a connection to that peer.
#[pin_data]
pub(crate) struct Mesh {
    #[pin]
    state: Mutex<State>,
    pub(crate) counters: Counters,
    /// Threads that run for as long as the module is loaded.
    #[pin]
    main_threads: Mutex<KVec<KThread>>,
    /// Threads of connections, with the connection they serve.
    #[pin]
    conn_threads: Mutex<KVec<(Arc<Conn>, KThread)>>,
    /// Handshakes under way, each in its own thread.
    #[pin]
    handshakes: Mutex<KVec<pending::Handshake>>,
    listener: Socket,
    disc: Socket,
}

impl Mesh {
    /// Creates the mesh and binds its sockets (threads start with [`Mesh::start`]).
    pub(crate) fn new() -> Result<Arc<Self>> {
        let listener = bound(Kind::Tcp, TCP_PORT)?;
        listener.listen(64)?;
        let disc = bound(Kind::Udp, UDP_PORT)?;
        disc.set_broadcast();
        let mem = sys::meminfo();
        let map = KBox::new(NodeMap::EMPTY, GFP_KERNEL)?;
        Arc::pin_init(
            try_pin_init!(Self {
                state <- new_mutex!(State {
                    map,
                    keys: None,
                    tun: Tunables::DEFAULT,
                    self_id: 0,
                    self_addr: None,
                    peers: KVec::new(),
                    own: LoadEntry {
                        node: 0,
                        age_ms: 0,
                        load: 0,
                        speed: STD_SPEED,
                        cpus: sys::online_cpus().min(u16::MAX.into()) as u16,
                        util: 0,
                        status: msg::STATUS_DEF | msg::STATUS_UP,
                        mem_kb: mem.avail_kb,
                        rmem_kb: mem.free_kb,
                        tmem_kb: mem.total_kb,
                    },
                    sampler: Sampler {
                        smoothed: 0,
                        last_idle_ns: sys::cpu_idle_ns(),
                        last_util_at: now_ms(),
                        util: 0,
                    },
                    nodes_dirty: true,
                    stopping: false,
                }, "Mesh::state"),
                counters: Counters::default(),
                main_threads <- new_mutex!(KVec::new(), "Mesh::main_threads"),
                conn_threads <- new_mutex!(KVec::new(), "Mesh::conn_threads"),
                handshakes <- new_mutex!(KVec::new(), "Mesh::handshakes"),
                listener,
                disc,
            }),
            GFP_KERNEL,
        )
    }

    /// Starts the threads; frames that are not the mesh's own go to `inbound`.
    pub(crate) fn start<I: Inbound>(self: &Arc<Self>, inbound: &Arc<I>) -> Result {
        let mut threads = KVec::new();
        let (me, to) = (self.clone(), inbound.clone());
        threads.push(
            KThread::spawn(c"omx-listen", move || me.listen_loop(to))?,
            GFP_KERNEL,
        )?;
        let (me, to) = (self.clone(), inbound.clone());
        threads.push(
            KThread::spawn(c"omx-dial", move || me.dial_loop(to))?,
            GFP_KERNEL,
        )?;
        let me = self.clone();
        threads.push(
            KThread::spawn(c"omx-tick", move || me.tick_loop())?,
            GFP_KERNEL,
        )?;
        let me = self.clone();
        threads.push(
            KThread::spawn(c"omx-disc", move || me.disc_loop())?,
            GFP_KERNEL,
        )?;
        *self.main_threads.lock() = threads;
        Ok(())
    }

    /// Stops every thread and closes every connection.
    pub(crate) fn shutdown(&self) {
        self.state.lock().stopping = true;
        self.listener.shutdown();
        self.disc.shutdown();
        let main = core::mem::take(&mut *self.main_threads.lock());
        drop(main);
        // No handshake starts any more; those under way end by their deadline, and any
        // connection they install now is killed at once (`stopping`).
        self.stop_handshakes();
        let conns: KVec<Arc<Conn>> = {
            let mut st = self.state.lock();
            let mut v = KVec::new();
            for p in st.peers.iter_mut() {
                if let Some(c) = p.conn.take() {
                    let _ = v.push(c, GFP_KERNEL);
                }
            }
            v
        };
        for c in conns.iter() {
            c.kill();
        }
        let threads = core::mem::take(&mut *self.conn_threads.lock());
        for (c, _) in threads.iter() {
            c.kill();
        }
        drop(threads);
    }

    /// Whether the mesh is stopping (or the calling kernel thread is asked to stop).
    pub(crate) fn stopping(&self) -> bool {
        thread::should_stop() || self.state.lock().stopping
    }

    /// Notes that the set of known nodes is to be looked at again.
    pub(crate) fn mark_nodes_changed(&self) {
        self.state.lock().nodes_dirty = true;
    }

    /// Whether the set of known nodes changed since the last call (`/proc/openmosix/nodes/`
    /// follows it).
    pub(crate) fn take_nodes_changed(&self) -> bool {
        core::mem::take(&mut self.state.lock().nodes_dirty)
    }

    // --- Configuration ------------------------------------------------------------------------

    /// Replaces the node map. Peers that left it are dropped; new ones are dialed.
    pub(crate) fn set_map(&self, map: KBox<NodeMap>) -> Result {
        let mut st = self.state.lock();
        // Room first, so that nothing fails half-way.
        let want = map.node_count() as usize;
        if want > MAX_PEERS {
            pr_warn!("map refused: {} nodes, at most {}\n", want, MAX_PEERS);
            return Err(EINVAL);
        }
        st.peers.reserve(want, GFP_KERNEL)?;
        st.map = map;
        let mut killed = KVec::new();
        let State { map, peers, .. } = &mut *st;
        for p in peers.iter_mut() {
            p.in_map = map.addr_of(p.id) == Some(p.addr);
        }
        // Keep map nodes and discovered nodes; drop the others with their connection.
        let mut i = 0;
        while i < peers.len() {
            if !peers[i].in_map && !peers[i].discovered {
                if let Ok(p) = peers.remove(i) {
                    if let Some(c) = p.conn {
                        let _ = killed.push(c, GFP_KERNEL);
                    }
                }
            } else {
                i += 1;
            }
        }
        for (id, addr) in map.nodes() {
            if !peers.iter().any(|p| p.id == id) {
                let _ = peers.push_within_capacity(Peer::new(id, addr, true, false));
            }
        }
        Self::resolve_self(&mut st);
        st.nodes_dirty = true;
        drop(st);
        for c in killed.iter() {
            c.kill();
        }
        Ok(())
    }

    /// Writes the map in force.
    pub(crate) fn write_map(&self, out: &mut impl core::fmt::Write) -> core::fmt::Result {
        self.state.lock().map.write_to(out)
    }

    /// Sets the cluster key or this node's keyring (what `admin/key` takes, see [`Keys`]);
    /// every connection is closed and authenticates again.
    pub(crate) fn set_key(&self, input: &[u8]) -> Result {
        let keys = Arc::new(Keys::from_input(input)?, GFP_KERNEL)?;
        keys.log_set();
        let mut st = self.state.lock();
        st.keys = Some(keys);
        let mut killed = KVec::new();
        for p in st.peers.iter_mut() {
            if let Some(c) = p.conn.take() {
                let _ = killed.push(c, GFP_KERNEL);
            }
        }
        drop(st);
        for c in killed.iter() {
            c.kill();
        }
        Ok(())
    }

    /// The tunables.
    pub(crate) fn tunables(&self) -> Tunables {
        self.state.lock().tun
    }

    /// Changes the tunables with `f`, which validates and may refuse.
    pub(crate) fn update_tunables(&self, f: impl FnOnce(&mut Tunables) -> Result) -> Result {
        let mut st = self.state.lock();
        let mut t = st.tun;
        f(&mut t)?;
        st.tun = t;
        Self::resolve_self(&mut st);
        let status = st.tun.status();
        st.own.status = status;
        st.own.speed = st.tun.speed;
        Ok(())
    }

    /// This node's ID (0 while unknown).
    pub(crate) fn self_id(&self) -> u32 {
        self.state.lock().self_id
    }

    /// Works out this node's ID: set by hand, else from the map, else from the IPv4 address when
    /// discovery is on.
    fn resolve_self(st: &mut State) {
        let old = st.self_id;
        let locals = sys::local_ipv4();
        let mut id = 0;
        let mut addr = None;
        if st.tun.mospe != 0 {
            id = st.tun.mospe;
            addr = st
                .map
                .addr_of(id)
                .or_else(|| locals.first().map(|(a, _)| *a));
        } else {
            for (a, _) in locals.iter() {
                if let Some(i) = st.map.id_of(a) {
                    id = i;
                    addr = Some(*a);
                    break;
                }
            }
            if id == 0 && st.tun.discovery {
                if let Some((a @ Addr::V4(b), _)) = locals.first() {
                    id = u32::from(u16::from_be_bytes([b[2], b[3]]));
                    addr = Some(*a);
                }
            }
        }
        st.self_id = id;
        st.self_addr = addr;
        st.own.node = id;
        // This node is not its own peer.
        if st.peers.iter().any(|p| p.id == id) {
            st.peers.retain(|p| p.id != id);
            st.nodes_dirty = true;
        }
        if old != id {
            st.nodes_dirty = true;
            // Connections made under another ID are stale.
            for p in st.peers.iter_mut() {
                if let Some(c) = p.conn.take() {
                    c.kill();
                }
            }
            if id != 0 {
                pr_info!("this is node {}\n", id);
            }
        }
    }

    // --- Views for /proc --------------------------------------------------------------------

    /// IDs of every node known (this one included), ascending.
    pub(crate) fn node_ids(&self) -> KVec<u32> {
        let st = self.state.lock();
        let mut v = KVec::new();
        if st.self_id != 0 {
            let _ = v.push(st.self_id, GFP_KERNEL);
        }
        for p in st.peers.iter() {
            let _ = v.push(p.id, GFP_KERNEL);
        }
        v.sort_unstable();
        v
    }

    /// What is known of node `id`.
    pub(crate) fn node_view(&self, id: u32) -> Option<NodeView> {
        let st = self.state.lock();
        if id != 0 && id == st.self_id {
            return Some(NodeView {
                status: st.own.status,
                load: Some(st.own),
            });
        }
        let now = now_ms();
        let p = st.peers.iter().find(|p| p.id == id)?;
        let fresh = p
            .load
            .filter(|(_, at)| now.saturating_sub(*at) <= u64::from(st.tun.timeout_ms) * 2)
            .map(|(e, at)| LoadEntry {
                age_ms: now.saturating_sub(at).min(u64::from(u32::MAX)) as u32,
                ..e
            });
        let mut status = msg::STATUS_DEF;
        if p.up {
            status |= msg::STATUS_UP;
            if let Some(e) = fresh {
                status |= e.status & !(msg::STATUS_DEF | msg::STATUS_UP);
            }
        }
        Some(NodeView {
            status,
            load: fresh,
        })
    }

    /// `(id, address, up, discovered)` of every peer, for `/proc/openmosix/peers`.
    pub(crate) fn for_each_peer(&self, mut f: impl FnMut(u32, &Addr, bool, bool, bool)) {
        let st = self.state.lock();
        for p in st.peers.iter() {
            let connected = p.conn.as_ref().is_some_and(|c| !c.is_dead());
            f(p.id, &p.addr, p.up, connected, p.discovered);
        }
    }

    // --- Services for the node's other parts ---------------------------------------------------------------

    /// Sends a message to `peer` over its connection; with `wait`, waits for room in the queue.
    pub(crate) fn send_to(
        &self,
        peer: u32,
        kind: MessageKind,
        payload: &[u8],
        wait: bool,
    ) -> Result {
        self.send_encoded(peer, kind, payload.len(), wait, |b| copy_exact(b, payload))
    }

    /// Sends a message of `len` bytes to `peer`, which `fill` encodes straight into the frame
    /// (it may give up: `EINVAL`); with `wait`, waits for room in the queue.
    pub(crate) fn send_encoded(
        &self,
        peer: u32,
        kind: MessageKind,
        len: usize,
        wait: bool,
        fill: impl FnOnce(&mut [u8]) -> bool,
    ) -> Result {
        let (conn, encrypt) = {
            let st = self.state.lock();
            let p = st.peers.iter().find(|p| p.id == peer).ok_or(enotconn())?;
            (p.conn.clone().ok_or(enotconn())?, st.tun.encrypt)
        };
        let r = conn.send_with(kind, len, wait, encrypt, fill);
        self.count_send(r, len);
        r
    }

    /// The name ([`Conn::link`]) of the live connection to `peer`, if it is up.
    pub(crate) fn link(&self, peer: u32) -> Option<u64> {
        let st = self.state.lock();
        let p = st.peers.iter().find(|p| p.id == peer && p.up)?;
        p.conn.as_ref().filter(|c| !c.is_dead()).map(|c| c.link)
    }

    /// Whether `peer` is up.
    pub(crate) fn peer_up(&self, peer: u32) -> bool {
        self.state
            .lock()
            .peers
            .iter()
            .any(|p| p.id == peer && p.up && p.conn.is_some())
    }

    /// Whether `peer` is up and does not refuse guests.
    pub(crate) fn peer_accepts_guests(&self, peer: u32) -> bool {
        self.peer_up(peer)
            && self
                .node_view(peer)
                .is_some_and(|v| v.status & msg::STATUS_BLOCK == 0)
    }

    /// Whether this node refuses guests (`admin/block`).
    pub(crate) fn blocks_guests(&self) -> bool {
        self.tunables().block
    }

    fn rx_loop<I: Inbound>(&self, conn: &Arc<Conn>, inbound: &I) {
        let mut expect = 1u64;
        while !thread::should_stop() && !conn.is_dead() {
            // A frame that stalls half-way is waited for while the connection lives: a peer
            // that goes silent is taken for down after `admin/timeout_ms` (which closes the
            // connection), whatever the loss on the link makes TCP wait meanwhile.
            let keep = |_| !thread::should_stop() && !conn.is_dead();
            let frame = match read_frame(&conn.sock, &conn.session.rx, keep) {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(Fault::Errno(e)) if e == EAGAIN || e == EINTR => continue,
                Err(f) => {
                    if is_refusal(&f) {
                        self.counters.frames_rejected.fetch_add(1, Relaxed);
                    }
                    break;
                }
            };
            let (h, payload) = frame;
            if h.sequence != expect || h.source != conn.peer || h.target != conn.me {
                self.counters.frames_rejected.fetch_add(1, Relaxed);
                break;
            }
            if h.flags & FLAG_SEALED == 0 && self.tunables().encrypt {
                self.counters.frames_rejected.fetch_add(1, Relaxed);
                peer_warn!(
                    "node {}: unencrypted frame while admin/encrypt is 1 here: connection closed\n",
                    conn.peer
                );
                break;
            }
            expect += 1;
            self.counters.frames_received.fetch_add(1, Relaxed);
            self.counters
                .bytes_received
                .fetch_add((HEADER_LEN + payload.len() + AEAD_TAG_LEN) as u64, Relaxed);
            if let Err(f) = self.handle(conn, h.kind, payload, inbound) {
                self.counters.frames_rejected.fetch_add(1, Relaxed);
                peer_warn!(
                    "node {}: {:?} frame refused ({}): connection closed\n",
                    conn.peer,
                    h.kind,
                    f
                );
                break;
            }
        }
        conn.kill();
    }

    /// Acts on one authenticated frame from `conn`'s peer: the mesh's own kinds here, the
    /// others through `inbound`.
    fn handle<I: Inbound>(
        &self,
        conn: &Conn,
        kind: MessageKind,
        payload: KVec<u8>,
        inbound: &I,
    ) -> error::Result {
        let now = now_ms();
        match kind {
            MessageKind::Heartbeat => self.on_heartbeat(conn.peer, &payload, now),
            MessageKind::Gossip => self.on_gossip(conn.peer, &payload, now),
            MessageKind::Hello
            | MessageKind::HelloReply
            | MessageKind::Auth
            | MessageKind::Beacon => Err(crate::ksys::errno::ebadmsg().into()),
            _ => {
                // Any authenticated frame shows the peer alive (heartbeats wait behind bulk
                // ones).
                self.heard(conn.peer, now);
                inbound.deliver(conn.peer, kind, payload)
            }
        }
    }

    /// Notes that `peer` was heard from at `now`.
    fn heard(&self, peer: u32, now: u64) {
        let mut st = self.state.lock();
        if let Some(p) = st.peers.iter_mut().find(|p| p.id == peer) {
            p.last_heard = now;
        }
    }

    // --- Periodic work ------------------------------------------------------------------------

    fn tick_loop(self: Arc<Self>) {
        let mut last_beat = 0u64;
        let mut last_beacon = 0u64;
        while !self.stopping() {
            thread::sleep_ms(TICK_MS);
            let now = now_ms();
            let (hb, discovery) = self.sample(now);
            if now.saturating_sub(last_beat) >= u64::from(hb) {
                last_beat = now;
                self.beat(now);
            }
            if discovery && now.saturating_sub(last_beacon) >= 1000 {
                last_beacon = now;
                self.send_beacons();
            }
            self.reap();
        }
    }

    fn count_send(&self, r: Result, payload: usize) {
        match r {
            Ok(()) => {
                self.counters.frames_sent.fetch_add(1, Relaxed);
                self.counters
                    .bytes_sent
                    .fetch_add((HEADER_LEN + payload + AEAD_TAG_LEN) as u64, Relaxed);
            }
            Err(_) => {
                self.counters.frames_dropped.fetch_add(1, Relaxed);
            }
        }
    }

    /// Stops the threads of dead connections.
    fn reap(&self) {
        let mut done = KVec::new();
        {
            let mut threads = self.conn_threads.lock();
            let mut i = 0;
            while i < threads.len() {
                if threads[i].0.is_dead() {
                    if let Ok(t) = threads.remove(i) {
                        let _ = done.push(t, GFP_KERNEL);
                    }
                } else {
                    i += 1;
                }
            }
        }
        // Joins outside the lock: the threads are ending (their connection is dead).
        drop(done);
        self.reap_handshakes();
    }
}

impl Peer {
    fn new(id: u32, addr: Addr, in_map: bool, discovered: bool) -> Self {
        Self {
            id,
            addr,
            in_map,
            discovered,
            conn: None,
            up: false,
            last_heard: 0,
            load: None,
            dial_after: 0,
            dialing: false,
        }
    }
}

/// A socket of `kind` bound to `port` on every address, with the receive timeout that bounds
/// how long a stop waits.
fn bound(kind: Kind, port: u16) -> Result<Socket> {
    let any = Addr::V4([0; 4]);
    let sock = Socket::new(kind, &any)?;
    sock.set_reuseaddr();
    sock.set_timeouts(RX_POLL_MS, 0);
    let name = if kind == Kind::Tcp { "TCP" } else { "UDP" };
    sock.bind(&any, port).inspect_err(|e| {
        pr_err!(
            "cannot bind {} port {}: error {}\n",
            name,
            port,
            e.to_errno()
        );
    })?;
    Ok(sock)
}
