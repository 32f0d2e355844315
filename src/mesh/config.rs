// SPDX-License-Identifier: GPL-2.0

//! What an administrator sets and reads of the mesh: the tunables of `/proc/openmosix/admin/`,
//! the counters of `/proc/openmosix/stats`, and the mesh's fixed sizes and ports.

use crate::omcore::msg::{self, STD_SPEED};
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// TCP port of the mesh.
pub(crate) const TCP_PORT: u16 = 7300;
/// UDP port of discovery beacons.
pub(crate) const UDP_PORT: u16 = 7301;
/// Shortest cluster key accepted, in bytes.
pub(crate) const MIN_KEY: usize = 8;
/// Longest cluster key accepted, in bytes.
pub(crate) const MAX_KEY: usize = 256;
/// Most bytes waiting in one connection's send queue.
pub(crate) const TX_QUEUE_BYTES: usize = 256 * 1024;
/// Longest a handshake may take, from the connect or accept to its last frame, in
/// milliseconds, however the peer paces its bytes.
pub(crate) const HANDSHAKE_MS: u32 = 5000;
/// Most handshakes under way at once (each in a thread of its own), both sides together.
pub(crate) const MAX_HANDSHAKES: usize = 32;
/// Most handshakes under way at once with one address: a node needs one at a time, and one
/// more while a broken connection is replaced.
pub(crate) const MAX_HANDSHAKES_PER_ADDR: usize = 2;
/// Receive timeout of connection sockets (bounds how long a stop waits), in milliseconds.
pub(crate) const RX_POLL_MS: u32 = 500;
/// Send timeout of connection sockets (how often a blocked send looks up), in milliseconds.
pub(crate) const TX_TIMEOUT_MS: u32 = 1000;
/// A connection whose peer takes none of its data for this long is broken, in milliseconds:
/// far above the longest wait of TCP's retransmissions on a lossy link that still works
/// (at 10 % loss each way, 30 s of backoff takes eight losses of the same segment in a row).
pub(crate) const TX_STALL_MS: u64 = 30_000;
/// Period of the tick thread, in milliseconds.
pub(crate) const TICK_MS: u32 = 100;
/// Delay before dialing a peer again after a failure, in milliseconds.
pub(crate) const REDIAL_MS: u64 = 1000;
/// Peers a gossip round goes to.
pub(crate) const GOSSIP_FANOUT: usize = 2;
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
    pub(crate) handshakes_refused: AtomicU64,
    pub(crate) beacons_sent: AtomicU64,
    pub(crate) beacons_received: AtomicU64,
    pub(crate) beacons_rejected: AtomicU64,
}

impl Counters {
    /// `(name, value)` of every counter, in display order.
    pub(crate) fn all(&self) -> [(&'static str, u64); 12] {
        [
            ("frames_sent", self.frames_sent.load(Relaxed)),
            ("frames_received", self.frames_received.load(Relaxed)),
            ("frames_rejected", self.frames_rejected.load(Relaxed)),
            ("frames_dropped", self.frames_dropped.load(Relaxed)),
            ("bytes_sent", self.bytes_sent.load(Relaxed)),
            ("bytes_received", self.bytes_received.load(Relaxed)),
            ("handshakes_ok", self.handshakes_ok.load(Relaxed)),
            ("handshakes_failed", self.handshakes_failed.load(Relaxed)),
            ("handshakes_refused", self.handshakes_refused.load(Relaxed)),
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
    /// `admin/encrypt`: connection frames are encrypted, and frames that are not are refused;
    /// off, frames are only authenticated (and both kinds are taken).
    pub(crate) encrypt: bool,
}

impl Tunables {
    pub(crate) const DEFAULT: Self = Self {
        mospe: 0,
        heartbeat_ms: 500,
        timeout_ms: 3000,
        speed: STD_SPEED,
        discovery: false,
        block: false,
        stay: false,
        lstay: false,
        quiet: false,
        encrypt: true,
    };

    /// Status bits this node announces.
    pub(crate) fn status(&self) -> u32 {
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
