// SPDX-License-Identifier: GPL-2.0

//! The cluster layer: node map, authenticated TCP mesh, heartbeats, failure detection, load
//! measurement and gossip, discovery beacons.
//!
//! Threads (all stopped by [`Cluster::shutdown`]):
//! - `omx-listen` accepts connections and runs the acceptor side of the handshake;
//! - `omx-dial` connects to peers with a higher node ID that have no connection (the lower ID
//!   always dials, so two nodes never race to connect to each other);
//! - `omx-tick` measures the load, sends heartbeats and gossip, marks silent nodes down, sends
//!   discovery beacons and reaps finished connection threads;
//! - `omx-disc` receives discovery beacons;
//! - per connection, `omx-rx/ID` reads and checks frames and `omx-tx/ID` drains the connection's
//!   bounded send queue (its back-pressure: a full queue refuses new frames).
//!
//! Lock order: `state`, then a connection's `tx`. `proc` is never taken with either held.

use crate::balance::Balancer;
use crate::ksys::crypto::{random_bytes, HmacKey, TAG_LEN};
use crate::ksys::errno::{ebadmsg, econnreset, enotconn, eshutdown};
use crate::ksys::net::{Kind, Socket};
use crate::ksys::proc::ProcDir;
use crate::ksys::sys::{self, now_ms};
use crate::ksys::thread::{self, KThread};
use crate::ksys::{cstr_fmt, Disp};
use crate::migrate::Migrations;
use crate::omcore::addr::Addr;
use crate::omcore::frame::{FrameHeader, MessageKind, HEADER_LEN};
use crate::omcore::gossip;
use crate::omcore::map::NodeMap;
use crate::omcore::msg::{self, Gossip, LoadEntry, GOSSIP_MAX_LEN, NONCE_LEN, STD_SPEED};
use crate::omcore::{fwd, mig};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use kernel::prelude::*;
use kernel::sync::{new_condvar, new_mutex, Arc, CondVar, Mutex};

/// TCP port of the mesh.
pub(crate) const TCP_PORT: u16 = 7300;
/// UDP port of discovery beacons.
pub(crate) const UDP_PORT: u16 = 7301;
/// Shortest cluster key accepted, in bytes.
pub(crate) const MIN_KEY: usize = 8;
/// Longest cluster key accepted, in bytes.
pub(crate) const MAX_KEY: usize = 256;
/// Most bytes waiting in one connection's send queue.
const TX_QUEUE_BYTES: usize = 256 * 1024;
/// Timeouts of handshakes and connects, in milliseconds.
const HANDSHAKE_MS: u32 = 1500;
/// Receive timeout of connection sockets (bounds how long a stop waits), in milliseconds.
const RX_POLL_MS: u32 = 500;
/// Send timeout of connection sockets: a peer that takes no data for this long is broken.
const TX_TIMEOUT_MS: u32 = 5000;
/// Period of the tick thread, in milliseconds.
const TICK_MS: u32 = 100;
/// Delay before dialing a peer again after a failure, in milliseconds.
const REDIAL_MS: u64 = 1000;
/// Period of the migration watcher (ended guests, orphans), in milliseconds.
const MIG_WATCH_MS: u32 = 20;
/// Peers a gossip round goes to.
const GOSSIP_FANOUT: usize = 2;
/// Most nodes the module keeps track of (map nodes plus discovered ones).
pub(crate) const MAX_PEERS: usize = 1024;

/// Counters shown in `/proc/openmosix/stats`.
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) frames_sent: AtomicU64,
    pub(crate) frames_received: AtomicU64,
    pub(crate) frames_rejected: AtomicU64,
    pub(crate) bytes_sent: AtomicU64,
    pub(crate) bytes_received: AtomicU64,
    pub(crate) frames_dropped: AtomicU64,
    pub(crate) handshakes_ok: AtomicU64,
    pub(crate) handshakes_failed: AtomicU64,
    pub(crate) beacons_sent: AtomicU64,
    pub(crate) beacons_received: AtomicU64,
    pub(crate) beacons_rejected: AtomicU64,
}

impl Counters {
    /// `(name, value)` of every counter, in display order.
    pub(crate) fn all(&self) -> [(&'static str, u64); 11] {
        [
            ("frames_sent", self.frames_sent.load(Relaxed)),
            ("frames_received", self.frames_received.load(Relaxed)),
            ("frames_rejected", self.frames_rejected.load(Relaxed)),
            ("frames_dropped", self.frames_dropped.load(Relaxed)),
            ("bytes_sent", self.bytes_sent.load(Relaxed)),
            ("bytes_received", self.bytes_received.load(Relaxed)),
            ("handshakes_ok", self.handshakes_ok.load(Relaxed)),
            ("handshakes_failed", self.handshakes_failed.load(Relaxed)),
            ("beacons_sent", self.beacons_sent.load(Relaxed)),
            ("beacons_received", self.beacons_received.load(Relaxed)),
            ("beacons_rejected", self.beacons_rejected.load(Relaxed)),
        ]
    }
}

/// Values an administrator can change through `/proc/openmosix/admin/`.
#[derive(Clone, Copy)]
pub(crate) struct Tunables {
    /// Node ID set by hand (0: from the map, or from the IPv4 address with discovery).
    pub(crate) mospe: u32,
    /// Heartbeat and gossip period, ms.
    pub(crate) heartbeat_ms: u32,
    /// Silence after which a node is marked down, ms.
    pub(crate) timeout_ms: u32,
    /// This node's speed ([`STD_SPEED`] is a standard node).
    pub(crate) speed: u32,
    /// Discovery beacons sent and accepted.
    pub(crate) discovery: bool,
    /// `admin/block`: refuse guest processes.
    pub(crate) block: bool,
    /// `admin/stay`: local processes stay home.
    pub(crate) stay: bool,
    /// `admin/lstay`: local processes stay home unless moved by hand.
    pub(crate) lstay: bool,
    /// `admin/quiet`: send no load information.
    pub(crate) quiet: bool,
}

impl Tunables {
    const DEFAULT: Self = Self {
        mospe: 0,
        heartbeat_ms: 500,
        timeout_ms: 3000,
        speed: STD_SPEED,
        discovery: false,
        block: false,
        stay: false,
        lstay: false,
        quiet: false,
    };

    /// Status bits this node announces.
    fn status(&self) -> u32 {
        let mut s = msg::STATUS_DEF | msg::STATUS_UP;
        for (on, bit) in [
            (self.stay, msg::STATUS_STAY),
            (self.lstay, msg::STATUS_LSTAY),
            (self.block, msg::STATUS_BLOCK),
            (self.quiet, msg::STATUS_QUIET),
        ] {
            if on {
                s |= bit;
            }
        }
        s
    }
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
}

/// A node's line in `/proc/openmosix/nodes/ID/`, as the files show it.
#[derive(Clone, Copy)]
pub(crate) struct NodeView {
    pub(crate) status: u32,
    pub(crate) load: Option<LoadEntry>,
}

/// Load measurement of this node.
struct Sampler {
    /// Smoothed runnable tasks x 100, times 256 (fixed point).
    smoothed: u64,
    last_idle_ns: u64,
    last_util_at: u64,
    util: u16,
}

struct State {
    map: KBox<NodeMap>,
    key: Option<Arc<HmacKey>>,
    tun: Tunables,
    self_id: u32,
    self_addr: Option<Addr>,
    peers: KVec<Peer>,
    own: LoadEntry,
    sampler: Sampler,
    /// The set of nodes changed: `/proc/openmosix/nodes/` must follow.
    nodes_dirty: bool,
    stopping: bool,
}

/// The cluster layer of this node.
#[pin_data]
pub(crate) struct Cluster {
    #[pin]
    state: Mutex<State>,
    pub(crate) counters: Counters,
    /// Threads that run for as long as the module is loaded.
    #[pin]
    main_threads: Mutex<KVec<KThread>>,
    /// Threads of connections, with the connection they serve.
    #[pin]
    conn_threads: Mutex<KVec<(Arc<Conn>, KThread)>>,
    /// `/proc/openmosix`, owned here so that node directories can follow the node set.
    #[pin]
    proc: Mutex<Option<ProcDir>>,
    listener: Socket,
    disc: Socket,
    /// Processes migrating out, their deputies, and guests hosted here.
    #[pin]
    pub(crate) mig: Migrations,
    /// The load balancer.
    #[pin]
    pub(crate) bal: Balancer,
}

/// An authenticated connection to a peer.
#[pin_data]
pub(crate) struct Conn {
    peer: u32,
    me: u32,
    sock: Socket,
    session: HmacKey,
    dead: AtomicBool,
    #[pin]
    tx: Mutex<TxQueue>,
    #[pin]
    tx_cv: CondVar,
    /// Signalled when the send queue shrinks.
    #[pin]
    room_cv: CondVar,
}

struct TxQueue {
    frames: KVec<KVec<u8>>,
    bytes: usize,
    seq: u64,
}

/// Builds a frame: header, payload, tag under `key`.
fn build_frame(
    kind: MessageKind,
    source: u32,
    target: u32,
    sequence: u64,
    payload: &[u8],
    key: &HmacKey,
) -> Result<KVec<u8>> {
    let header = FrameHeader {
        kind,
        len: payload.len() as u32,
        source,
        target,
        sequence,
    };
    let mut f = KVec::with_capacity(HEADER_LEN + payload.len() + TAG_LEN, GFP_KERNEL)?;
    f.extend_from_slice(&header.encode(), GFP_KERNEL)?;
    f.extend_from_slice(payload, GFP_KERNEL)?;
    let tag = key.tag(&f);
    f.extend_from_slice(&tag, GFP_KERNEL)?;
    Ok(f)
}

/// Largest payload each kind may have on a connection or in a beacon.
fn max_payload(kind: MessageKind) -> usize {
    match kind {
        MessageKind::Hello => msg::Hello::LEN,
        MessageKind::HelloReply => msg::HelloReply::LEN,
        MessageKind::Auth => msg::Auth::LEN,
        MessageKind::Heartbeat => msg::LOAD_ENTRY_LEN,
        MessageKind::Gossip => GOSSIP_MAX_LEN,
        MessageKind::Beacon => msg::Beacon::LEN,
        MessageKind::MigImage => mig::MAX_IMAGE_PAYLOAD,
        MessageKind::MigResult => mig::RESULT_LEN,
        MessageKind::GuestExit | MessageKind::GuestSignal => mig::PAIR_LEN,
        MessageKind::MigCtl => mig::CTL_LEN,
        MessageKind::Syscall | MessageKind::SyscallReply => fwd::MAX_PAYLOAD,
    }
}

/// Checks a whole frame in `buf` (header, payload, tag) with `key`; returns the header.
fn check_frame(buf: &[u8], key: &HmacKey) -> Result<FrameHeader> {
    let h = FrameHeader::decode(buf).map_err(|_| ebadmsg())?;
    let len = h.len as usize;
    if len > max_payload(h.kind) || buf.len() != HEADER_LEN + len + TAG_LEN {
        return Err(ebadmsg());
    }
    let (body, tag) = buf.split_at(HEADER_LEN + len);
    if !key.verify(body, tag) {
        return Err(ebadmsg());
    }
    Ok(h)
}

/// Reads one frame from a stream and checks it with `key`. `Ok(None)` on a clean close.
fn read_frame(sock: &Socket, key: &HmacKey) -> Result<Option<(FrameHeader, KVec<u8>)>> {
    let mut head = [0u8; HEADER_LEN];
    if !sock.recv_exact(&mut head)? {
        return Ok(None);
    }
    let h = FrameHeader::decode(&head).map_err(|_| ebadmsg())?;
    let len = h.len as usize;
    if len > max_payload(h.kind) {
        return Err(ebadmsg());
    }
    let mut buf = KVec::with_capacity(HEADER_LEN + len + TAG_LEN, GFP_KERNEL)?;
    buf.extend_from_slice(&head, GFP_KERNEL)?;
    buf.resize(HEADER_LEN + len + TAG_LEN, 0, GFP_KERNEL)?;
    if !sock.recv_exact(&mut buf[HEADER_LEN..])? {
        return Err(econnreset());
    }
    let h = check_frame(&buf, key)?;
    let mut payload = KVec::with_capacity(len, GFP_KERNEL)?;
    payload.extend_from_slice(&buf[HEADER_LEN..HEADER_LEN + len], GFP_KERNEL)?;
    Ok(Some((h, payload)))
}

/// Derives the session key of a connection.
fn session_key(
    key: &HmacKey,
    initiator: u32,
    acceptor: u32,
    ni: &[u8; NONCE_LEN],
    na: &[u8; NONCE_LEN],
) -> Result<HmacKey> {
    HmacKey::new(&key.tag(&msg::session_key_input(initiator, acceptor, ni, na)))
}

impl Conn {
    fn new(peer: u32, me: u32, sock: Socket, session: HmacKey) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            peer,
            me,
            sock,
            session,
            dead: AtomicBool::new(false),
            tx <- new_mutex!(TxQueue { frames: KVec::new(), bytes: 0, seq: 0 }),
            tx_cv <- new_condvar!(),
            room_cv <- new_condvar!(),
        })
    }

    /// Closes the connection: both threads notice and end.
    fn kill(&self) {
        self.dead.store(true, Relaxed);
        self.sock.shutdown();
        self.tx_cv.notify_all();
        self.room_cv.notify_all();
    }

    fn is_dead(&self) -> bool {
        self.dead.load(Relaxed)
    }

    /// Queues a frame; `EAGAIN` when the queue is full (the frame is dropped).
    fn send(&self, kind: MessageKind, payload: &[u8]) -> Result {
        if self.is_dead() {
            return Err(enotconn());
        }
        let q = self.tx.lock();
        // A heartbeat (one small frame a period) is never dropped for a queue full of bulk
        // frames such as an image: its peer would take this node for dead.
        let room = if kind == MessageKind::Heartbeat {
            TX_QUEUE_BYTES + 4096
        } else {
            TX_QUEUE_BYTES
        };
        if q.bytes + payload.len() > room {
            return Err(EAGAIN);
        }
        self.push(q, kind, payload)
    }

    /// Queues a frame, waiting while the queue is full (at most [`TX_TIMEOUT_MS`]).
    fn send_wait(&self, kind: MessageKind, payload: &[u8]) -> Result {
        let t0 = now_ms();
        let mut q = self.tx.lock();
        // A frame larger than the whole queue goes alone into an empty one.
        while q.bytes > 0 && q.bytes + payload.len() > TX_QUEUE_BYTES {
            if self.is_dead() {
                return Err(enotconn());
            }
            if now_ms().saturating_sub(t0) > u64::from(TX_TIMEOUT_MS) {
                return Err(ETIMEDOUT);
            }
            let _ = self
                .room_cv
                .wait_interruptible_timeout(&mut q, kernel::time::msecs_to_jiffies(RX_POLL_MS));
        }
        if self.is_dead() {
            return Err(enotconn());
        }
        self.push(q, kind, payload)
    }

    fn push(
        &self,
        mut q: kernel::sync::lock::Guard<'_, TxQueue, kernel::sync::lock::mutex::MutexBackend>,
        kind: MessageKind,
        payload: &[u8],
    ) -> Result {
        let f = build_frame(kind, self.me, self.peer, q.seq + 1, payload, &self.session)?;
        q.frames.reserve(1, GFP_KERNEL)?;
        q.seq += 1;
        q.bytes += f.len();
        q.frames.push_within_capacity(f).map_err(|_| ENOMEM)?;
        drop(q);
        self.tx_cv.notify_one();
        Ok(())
    }
}

impl Cluster {
    /// Creates the cluster layer and binds its sockets (threads start with [`Cluster::start`]).
    pub(crate) fn new() -> Result<Arc<Self>> {
        let any = Addr::V4([0; 4]);
        let listener = Socket::new(Kind::Tcp, &any)?;
        listener.set_reuseaddr();
        listener.set_timeouts(RX_POLL_MS, 0);
        listener.bind(&any, TCP_PORT).inspect_err(|e| {
            pr_err!(
                "cannot bind TCP port {}: error {}\n",
                TCP_PORT,
                e.to_errno()
            );
        })?;
        listener.listen(64)?;
        let disc = Socket::new(Kind::Udp, &any)?;
        disc.set_reuseaddr();
        disc.set_broadcast();
        disc.set_timeouts(RX_POLL_MS, 0);
        disc.bind(&any, UDP_PORT).inspect_err(|e| {
            pr_err!(
                "cannot bind UDP port {}: error {}\n",
                UDP_PORT,
                e.to_errno()
            );
        })?;
        let mem = sys::meminfo();
        let map = KBox::new(NodeMap::EMPTY, GFP_KERNEL)?;
        Arc::pin_init(
            try_pin_init!(Self {
                state <- new_mutex!(State {
                    map,
                    key: None,
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
                }),
                counters: Counters::default(),
                main_threads <- new_mutex!(KVec::new()),
                conn_threads <- new_mutex!(KVec::new()),
                proc <- new_mutex!(None),
                listener,
                disc,
                mig <- Migrations::new(),
                bal <- Balancer::new(),
            }),
            GFP_KERNEL,
        )
    }

    /// Installs the `/proc/openmosix` tree, which lives until [`Cluster::shutdown`].
    pub(crate) fn set_proc(&self, dir: ProcDir) {
        *self.proc.lock() = Some(dir);
    }

    /// Runs `f` on the `/proc/openmosix` tree, if it is still there.
    pub(crate) fn with_proc(&self, f: impl FnOnce(&mut ProcDir)) {
        let mut guard = self.proc.lock();
        if let Some(dir) = &mut *guard {
            f(dir);
        }
    }

    /// Starts the threads.
    pub(crate) fn start(self: &Arc<Self>) -> Result {
        let mut threads = KVec::new();
        let me = self.clone();
        threads.push(
            KThread::spawn(c"omx-listen", move || me.listen_loop())?,
            GFP_KERNEL,
        )?;
        let me = self.clone();
        threads.push(
            KThread::spawn(c"omx-dial", move || me.dial_loop())?,
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
        let me = self.clone();
        threads.push(
            KThread::spawn(c"omx-mig", move || {
                while !me.stopping() {
                    thread::sleep_ms(MIG_WATCH_MS);
                    me.mig.watch(&me);
                    me.bal.tick(&me);
                }
            })?,
            GFP_KERNEL,
        )?;
        *self.main_threads.lock() = threads;
        Ok(())
    }

    /// Stops every thread, closes every connection and removes `/proc/openmosix`.
    pub(crate) fn shutdown(&self) {
        self.mig.shutdown();
        self.state.lock().stopping = true;
        self.listener.shutdown();
        self.disc.shutdown();
        let main = core::mem::take(&mut *self.main_threads.lock());
        drop(main);
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
        let dir = self.proc.lock().take();
        drop(dir);
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

    /// Sets the cluster key; every connection is closed and authenticates again.
    pub(crate) fn set_key(&self, raw: &[u8]) -> Result {
        let key = Arc::new(HmacKey::new(raw)?, GFP_KERNEL)?;
        let mut st = self.state.lock();
        st.key = Some(key);
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

    // --- Connections ------------------------------------------------------------------------

    /// Starts the threads of an authenticated connection and makes it the peer's connection.
    fn install(self: &Arc<Self>, conn: Arc<Conn>) -> Result {
        let id = conn.peer;
        let mut name = [0u8; 16];
        let rx = {
            let me = self.clone();
            let c = conn.clone();
            let n = cstr_fmt(&mut name, format_args!("omx-rx/{id}"));
            KThread::spawn(n, move || me.rx_loop(&c))?
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
                return Err(e);
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
            return Err(eshutdown());
        }
        let now = now_ms();
        let Some(p) = st.peers.iter_mut().find(|p| p.id == id) else {
            drop(st);
            conn.kill();
            return Err(ENOENT);
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
            return Err(ebadmsg());
        }
        let reply = msg::HelloReply::decode(&p).map_err(|_| ebadmsg())?;
        if reply.echo != ni {
            return Err(ebadmsg());
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
            (st.key.clone().ok_or(EACCES)?, st.self_id, st.tun.discovery)
        };
        if me == 0 {
            return Err(EAGAIN);
        }
        let (h, p) = read_frame(sock, &key)?.ok_or(econnreset())?;
        if h.kind != MessageKind::Hello || h.target != me || h.source == me {
            return Err(ebadmsg());
        }
        let peer = h.source;
        // The lower ID dials: a connection from a higher ID breaks the rule.
        if peer > me {
            return Err(ebadmsg());
        }
        let hello = msg::Hello::decode(&p).map_err(|_| ebadmsg())?;
        let (paddr, _) = sock.peer()?;
        // An unknown node is only welcome with discovery on; it is added once it has proved the
        // key on this connection (below), never on the strength of a Hello that could be a replay.
        let known = self.state.lock().peers.iter().any(|p| p.id == peer);
        if !known && !discovery {
            return Err(EPERM);
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
            return Err(ebadmsg());
        }
        if msg::Auth::decode(&p).map_err(|_| ebadmsg())?.echo != na {
            return Err(ebadmsg());
        }
        if !known {
            let mut st = self.state.lock();
            if !st.peers.iter().any(|p| p.id == peer) {
                if st.peers.len() >= MAX_PEERS {
                    return Err(EPERM);
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

    fn stopping(&self) -> bool {
        thread::should_stop() || self.state.lock().stopping
    }

    fn listen_loop(self: Arc<Self>) {
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
                            let _ = self.install(c);
                        }
                        Err(_) => continue,
                    }
                }
                Err(e) => {
                    self.counters.handshakes_failed.fetch_add(1, Relaxed);
                    if e == ebadmsg() || e == EPERM {
                        self.counters.frames_rejected.fetch_add(1, Relaxed);
                    }
                }
            }
        }
    }

    fn dial_loop(self: Arc<Self>) {
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
                        let _ = self.install(c);
                    }
                }
                Err(e) => {
                    if e == ebadmsg() {
                        self.counters.handshakes_failed.fetch_add(1, Relaxed);
                        self.counters.frames_rejected.fetch_add(1, Relaxed);
                    }
                }
            }
        }
    }

    fn rx_loop(self: Arc<Self>, conn: &Arc<Conn>) {
        let mut expect = 1u64;
        while !thread::should_stop() && !conn.is_dead() {
            let frame = match read_frame(&conn.sock, &conn.session) {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) if e == EAGAIN || e == EINTR => continue,
                Err(e) => {
                    if e == ebadmsg() {
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
            expect += 1;
            self.counters.frames_received.fetch_add(1, Relaxed);
            self.counters
                .bytes_received
                .fetch_add((HEADER_LEN + payload.len() + TAG_LEN) as u64, Relaxed);
            if let Err(e) = self.handle(conn, h.kind, &payload) {
                self.counters.frames_rejected.fetch_add(1, Relaxed);
                pr_warn!(
                    "node {}: {:?} frame refused (error {}): connection closed\n",
                    conn.peer,
                    h.kind,
                    e.to_errno()
                );
                break;
            }
        }
        conn.kill();
    }

    /// Acts on one authenticated frame from `conn`'s peer.
    fn handle(self: &Arc<Self>, conn: &Conn, kind: MessageKind, payload: &[u8]) -> Result {
        let now = now_ms();
        if !matches!(kind, MessageKind::Heartbeat | MessageKind::Gossip) {
            // Any authenticated frame shows the peer alive (heartbeats wait behind bulk ones).
            let mut st = self.state.lock();
            if let Some(p) = st.peers.iter_mut().find(|p| p.id == conn.peer) {
                p.last_heard = now;
            }
        }
        match kind {
            MessageKind::Heartbeat => {
                let e = LoadEntry::decode(payload).map_err(|_| ebadmsg())?;
                if e.node != conn.peer {
                    return Err(ebadmsg());
                }
                let mut st = self.state.lock();
                if let Some(p) = st.peers.iter_mut().find(|p| p.id == conn.peer) {
                    p.last_heard = now;
                    if !p.up {
                        pr_info!("node {} up\n", p.id);
                        p.up = true;
                    }
                    p.load = Some((e, now.saturating_sub(u64::from(e.age_ms))));
                }
                Ok(())
            }
            MessageKind::Gossip => {
                let g = Gossip::decode(payload).map_err(|_| ebadmsg())?;
                let mut st = self.state.lock();
                let me = st.self_id;
                if let Some(p) = st.peers.iter_mut().find(|p| p.id == conn.peer) {
                    p.last_heard = now;
                }
                for e in g.entries() {
                    if let Some(p) = st.peers.iter_mut().find(|p| p.id == e.node) {
                        let held = p.load.map(|(_, at)| at);
                        if let Some(at) = gossip::accept(e, me, conn.peer, now, held) {
                            p.load = Some((*e, at));
                        }
                    }
                }
                Ok(())
            }
            MessageKind::MigImage => self.mig.on_image(self, conn.peer, payload),
            MessageKind::MigResult => self.mig.on_result(self, conn.peer, payload),
            MessageKind::GuestExit => self.mig.on_exit(conn.peer, payload),
            MessageKind::GuestSignal => self.mig.on_signal(conn.peer, payload),
            MessageKind::MigCtl => self.mig.on_ctl(self, conn.peer, payload),
            MessageKind::Syscall => self.mig.on_syscall(self, conn.peer, payload),
            MessageKind::SyscallReply => self.mig.on_reply(conn.peer, payload),
            _ => Err(ebadmsg()),
        }
    }

    // --- Services for migration ---------------------------------------------------------------

    /// Sends a message to `peer` over its connection; with `wait`, waits for room in the queue.
    pub(crate) fn send_to(
        &self,
        peer: u32,
        kind: MessageKind,
        payload: &[u8],
        wait: bool,
    ) -> Result {
        let conn = {
            let st = self.state.lock();
            let p = st.peers.iter().find(|p| p.id == peer).ok_or(enotconn())?;
            p.conn.clone().ok_or(enotconn())?
        };
        let r = if wait {
            conn.send_wait(kind, payload)
        } else {
            conn.send(kind, payload)
        };
        self.count_send(r, payload.len());
        r
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
            self.sync_proc_nodes();
        }
    }

    /// Measures this node; returns the heartbeat period and whether discovery is on.
    fn sample(&self, now: u64) -> (u32, bool) {
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
    fn beat(&self, now: u64) {
        let mut conns: KVec<Arc<Conn>> = KVec::new();
        let mut down: KVec<Arc<Conn>> = KVec::new();
        let mut gossip = Gossip::default();
        let own;
        let quiet;
        {
            let mut st = self.state.lock();
            own = st.own;
            quiet = st.tun.quiet;
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
            self.count_send(c.send(MessageKind::Heartbeat, &hb), hb.len());
        }
        let mut buf = [0u8; GOSSIP_MAX_LEN];
        let n = gossip.encode(&mut buf);
        let mut r = [0u8; 4];
        random_bytes(&mut r);
        let start = u32::from_ne_bytes(r) as usize % conns.len();
        for k in 0..GOSSIP_FANOUT.min(conns.len()) {
            let c = &conns[(start + k) % conns.len()];
            self.count_send(c.send(MessageKind::Gossip, &buf[..n]), n);
        }
    }

    fn count_send(&self, r: Result, payload: usize) {
        match r {
            Ok(()) => {
                self.counters.frames_sent.fetch_add(1, Relaxed);
                self.counters
                    .bytes_sent
                    .fetch_add((HEADER_LEN + payload + TAG_LEN) as u64, Relaxed);
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
    }

    // --- Discovery ---------------------------------------------------------------------------

    fn send_beacons(&self) {
        let (key, me, addr) = {
            let st = self.state.lock();
            match (&st.key, st.self_id) {
                (Some(k), me) if me != 0 => (k.clone(), me, st.self_addr),
                _ => return,
            }
        };
        for (local, bcast) in sys::local_ipv4().iter() {
            let beacon = msg::Beacon {
                node: me,
                addr: addr.unwrap_or(*local),
                port: TCP_PORT,
            }
            .encode();
            let Ok(f) = build_frame(MessageKind::Beacon, me, 0, 0, &beacon, &key) else {
                continue;
            };
            if self.disc.send_to(&f, bcast, UDP_PORT).is_ok() {
                self.counters.beacons_sent.fetch_add(1, Relaxed);
            }
        }
    }

    fn disc_loop(self: Arc<Self>) {
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
            let (key, me, discovery) = {
                let st = self.state.lock();
                (st.key.clone(), st.self_id, st.tun.discovery)
            };
            let (Some(key), Some((src, _))) = (key, from) else {
                continue;
            };
            if !discovery {
                continue;
            }
            let Some(b) = check_frame(&buf[..n], &key)
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
            self.counters.beacons_received.fetch_add(1, Relaxed);
            if b.node == me {
                continue;
            }
            let mut st = self.state.lock();
            let full = st.peers.len() >= MAX_PEERS;
            match st.peers.iter_mut().find(|p| p.id == b.node) {
                Some(p) => {
                    if p.discovered && !p.in_map && p.addr != src {
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

    /// Makes `/proc/openmosix/nodes/` hold one directory per known node.
    fn sync_proc_nodes(self: &Arc<Self>) {
        {
            let mut st = self.state.lock();
            if !st.nodes_dirty {
                return;
            }
            st.nodes_dirty = false;
        }
        let ids = self.node_ids();
        let me = self.clone();
        self.with_proc(|dir| {
            if crate::procfs::sync_nodes(dir, &me, &ids).is_err() {
                // Try again at the next tick.
                me.state.lock().nodes_dirty = true;
            }
        });
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
        }
    }
}

/// Drains `conn`'s send queue into its socket until the connection dies or the thread stops.
fn tx_loop(conn: &Arc<Conn>) {
    loop {
        let frame = {
            let mut q = conn.tx.lock();
            loop {
                if thread::should_stop() || conn.is_dead() {
                    return;
                }
                if !q.frames.is_empty() {
                    break;
                }
                let _ = conn
                    .tx_cv
                    .wait_interruptible_timeout(&mut q, kernel::time::msecs_to_jiffies(RX_POLL_MS));
            }
            let f = q.frames.remove(0).unwrap_or_default();
            q.bytes -= f.len().min(q.bytes);
            f
        };
        conn.room_cv.notify_all();
        if conn.sock.send_all(&frame).is_err() {
            conn.kill();
            return;
        }
    }
}
