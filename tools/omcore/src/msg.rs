// SPDX-License-Identifier: GPL-2.0

//! Payloads of the cluster-layer messages, and the handshake that authenticates a connection.
//!
//! Every decoder takes the payload bytes of a frame whose header was already validated and whose
//! tag was already checked, and checks every field again: lengths exact, counts bounded, values in
//! range. See `Documentation/protocol.md` for the whole protocol.
//!
//! # Handshake (on every new TCP connection, initiator I, acceptor A, cluster key K)
//!
//! 1. I -> A `Hello`: I's node ID in the header, a fresh random nonce `ni`.
//! 2. A -> I `HelloReply`: a fresh nonce `na` and `ni` echoed.
//! 3. I -> A `Auth`: `na` echoed.
//!
//! Each of the three frames is tagged with HMAC-SHA256 under K, so each side proves it knows K by
//! tagging the other side's fresh nonce. The connection's secret is then
//! `PRK = HMAC-SHA256(K, session_key_input)` (both nonces and both IDs), and each direction gets
//! a ChaCha20-Poly1305 key of its own, expanded from PRK by HKDF-Expand (RFC 5869, one 32-byte
//! block: `HMAC-SHA256(PRK, info || 0x01)`, [`EXPAND_I2A`] and [`EXPAND_A2I`]): a frame recorded
//! on one connection, or sent the other way, is worthless on any other, and sequence numbers
//! (strictly +1 per direction, from 1, the AEAD's nonce) stop replay and reordering within a
//! connection.

use super::addr::Addr;
use core::fmt;

/// Size of a handshake nonce.
pub const NONCE_LEN: usize = 32;
/// Most load entries a gossip message carries (MOSIX's infod window).
pub const GOSSIP_WINDOW: usize = 20;
/// Encoded size of a [`LoadEntry`].
pub const LOAD_ENTRY_LEN: usize = 48;
/// Status bit: the node is configured (in the map, discovered, or this node).
pub const STATUS_DEF: u32 = 1 << 0;
/// Status bit: the node is up (answers heartbeats).
pub const STATUS_UP: u32 = 1 << 1;
/// Status bit: the node keeps its local processes home (`admin/stay`).
pub const STATUS_STAY: u32 = 1 << 2;
/// Status bit: the node keeps local processes home unless asked (`admin/lstay`).
pub const STATUS_LSTAY: u32 = 1 << 3;
/// Status bit: the node refuses guest processes (`admin/block`).
pub const STATUS_BLOCK: u32 = 1 << 4;
/// Status bit: the node sends no load information (`admin/quiet`).
pub const STATUS_QUIET: u32 = 1 << 5;
/// Every status bit a peer may send.
pub const STATUS_ALL: u32 =
    STATUS_DEF | STATUS_UP | STATUS_STAY | STATUS_LSTAY | STATUS_BLOCK | STATUS_QUIET;
/// The speed of a standard node; faster nodes report more.
pub const STD_SPEED: u32 = 10000;
/// Highest speed a node may claim.
pub const MAX_SPEED: u32 = 10_000_000;

/// Why a payload was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadError {
    /// The payload has the wrong length for its kind.
    Length,
    /// A field is out of range.
    Field(&'static str),
    /// A well-formed message that the protocol does not allow now (says why).
    Unexpected(&'static str),
}

impl fmt::Display for PayloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Length => write!(f, "payload length wrong for its kind"),
            Self::Field(name) => write!(f, "field {name} out of range"),
            Self::Unexpected(why) => write!(f, "{why}"),
        }
    }
}

/// Reads big-endian integers from a byte slice whose length the caller checked.
struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn new(b: &'a [u8]) -> Self {
        Self { b, at: 0 }
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N], PayloadError> {
        let s = self
            .b
            .get(self.at..self.at + N)
            .ok_or(PayloadError::Length)?;
        self.at += N;
        let mut out = [0u8; N];
        out.copy_from_slice(s);
        Ok(out)
    }

    fn u16(&mut self) -> Result<u16, PayloadError> {
        self.take().map(u16::from_be_bytes)
    }

    fn u32(&mut self) -> Result<u32, PayloadError> {
        self.take().map(u32::from_be_bytes)
    }

    fn u64(&mut self) -> Result<u64, PayloadError> {
        self.take().map(u64::from_be_bytes)
    }

    fn end(self) -> Result<(), PayloadError> {
        if self.at == self.b.len() {
            Ok(())
        } else {
            Err(PayloadError::Length)
        }
    }
}

/// Appends big-endian integers to a fixed buffer.
struct Writer<'a> {
    b: &'a mut [u8],
    at: usize,
}

impl<'a> Writer<'a> {
    fn put(&mut self, v: &[u8]) {
        self.b[self.at..self.at + v.len()].copy_from_slice(v);
        self.at += v.len();
    }
}

/// `Hello`: the initiator's nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hello {
    /// Fresh random nonce of the initiator.
    pub nonce: [u8; NONCE_LEN],
}

impl Hello {
    /// Encoded size.
    pub const LEN: usize = NONCE_LEN;

    /// Encodes the payload.
    pub fn encode(&self) -> [u8; Self::LEN] {
        self.nonce
    }

    /// Decodes a payload.
    pub fn decode(b: &[u8]) -> Result<Self, PayloadError> {
        let mut r = Reader::new(b);
        let nonce = r.take()?;
        r.end()?;
        Ok(Self { nonce })
    }
}

/// `HelloReply`: the acceptor's nonce and the initiator's, echoed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HelloReply {
    /// Fresh random nonce of the acceptor.
    pub nonce: [u8; NONCE_LEN],
    /// The initiator's nonce from `Hello`.
    pub echo: [u8; NONCE_LEN],
}

impl HelloReply {
    /// Encoded size.
    pub const LEN: usize = 2 * NONCE_LEN;

    /// Encodes the payload.
    pub fn encode(&self) -> [u8; Self::LEN] {
        let mut b = [0u8; Self::LEN];
        b[..NONCE_LEN].copy_from_slice(&self.nonce);
        b[NONCE_LEN..].copy_from_slice(&self.echo);
        b
    }

    /// Decodes a payload.
    pub fn decode(b: &[u8]) -> Result<Self, PayloadError> {
        let mut r = Reader::new(b);
        let nonce = r.take()?;
        let echo = r.take()?;
        r.end()?;
        Ok(Self { nonce, echo })
    }
}

/// `Auth`: the acceptor's nonce, echoed by the initiator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Auth {
    /// The acceptor's nonce from `HelloReply`.
    pub echo: [u8; NONCE_LEN],
}

impl Auth {
    /// Encoded size.
    pub const LEN: usize = NONCE_LEN;

    /// Encodes the payload.
    pub fn encode(&self) -> [u8; Self::LEN] {
        self.echo
    }

    /// Decodes a payload.
    pub fn decode(b: &[u8]) -> Result<Self, PayloadError> {
        let mut r = Reader::new(b);
        let echo = r.take()?;
        r.end()?;
        Ok(Self { echo })
    }
}

/// Size of the input of the session key derivation.
pub const SESSION_INPUT_LEN: usize = 16 + 2 * NONCE_LEN + 8;

/// The message whose HMAC under the cluster key is a connection's session key: a label, both
/// nonces and both node IDs, initiator first.
pub fn session_key_input(
    initiator: u32,
    acceptor: u32,
    ni: &[u8; NONCE_LEN],
    na: &[u8; NONCE_LEN],
) -> [u8; SESSION_INPUT_LEN] {
    let mut b = [0u8; SESSION_INPUT_LEN];
    let mut w = Writer { b: &mut b, at: 0 };
    w.put(b"omx session key\0");
    w.put(ni);
    w.put(na);
    w.put(&initiator.to_be_bytes());
    w.put(&acceptor.to_be_bytes());
    b
}

/// HKDF-Expand's input (`info || 0x01`) for the key of the frames the initiator sends.
pub const EXPAND_I2A: &[u8] = b"openmosix-rs frames, initiator to acceptor\x01";
/// HKDF-Expand's input (`info || 0x01`) for the key of the frames the acceptor sends.
pub const EXPAND_A2I: &[u8] = b"openmosix-rs frames, acceptor to initiator\x01";

/// What a node measured about itself, as carried by heartbeats and gossip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LoadEntry {
    /// Node the entry describes.
    pub node: u32,
    /// Milliseconds since the node measured it, when sent (gossip ages entries on the way).
    pub age_ms: u32,
    /// Smoothed number of runnable tasks, times 100, normalised to [`STD_SPEED`].
    pub load: u32,
    /// Relative speed; [`STD_SPEED`] is a standard node.
    pub speed: u32,
    /// Online CPUs.
    pub cpus: u16,
    /// CPU utilisation over the last second, per mille of all CPUs.
    pub util: u16,
    /// Status bits (`STATUS_*`).
    pub status: u32,
    /// Memory available for new work (free + reclaimable), KiB.
    pub mem_kb: u64,
    /// Raw free memory, KiB.
    pub rmem_kb: u64,
    /// Total memory, KiB.
    pub tmem_kb: u64,
}

impl LoadEntry {
    /// Encodes the entry ([`LOAD_ENTRY_LEN`] bytes).
    pub fn encode(&self) -> [u8; LOAD_ENTRY_LEN] {
        let mut b = [0u8; LOAD_ENTRY_LEN];
        let mut w = Writer { b: &mut b, at: 0 };
        w.put(&self.node.to_be_bytes());
        w.put(&self.age_ms.to_be_bytes());
        w.put(&self.load.to_be_bytes());
        w.put(&self.speed.to_be_bytes());
        w.put(&self.cpus.to_be_bytes());
        w.put(&self.util.to_be_bytes());
        w.put(&self.status.to_be_bytes());
        w.put(&self.mem_kb.to_be_bytes());
        w.put(&self.rmem_kb.to_be_bytes());
        w.put(&self.tmem_kb.to_be_bytes());
        b
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, PayloadError> {
        let e = Self {
            node: r.u32()?,
            age_ms: r.u32()?,
            load: r.u32()?,
            speed: r.u32()?,
            cpus: r.u16()?,
            util: r.u16()?,
            status: r.u32()?,
            mem_kb: r.u64()?,
            rmem_kb: r.u64()?,
            tmem_kb: r.u64()?,
        };
        let field = |ok: bool, name| {
            if ok {
                Ok(())
            } else {
                Err(PayloadError::Field(name))
            }
        };
        field((1..=super::map::MAX_NODE_ID).contains(&e.node), "node")?;
        field(e.age_ms <= 3_600_000, "age")?;
        field((1..=MAX_SPEED).contains(&e.speed), "speed")?;
        field(e.cpus >= 1, "cpus")?;
        field(e.util <= 1000, "util")?;
        field(e.status & !STATUS_ALL == 0, "status")?;
        field(e.mem_kb <= e.tmem_kb && e.rmem_kb <= e.tmem_kb, "memory")?;
        Ok(e)
    }

    /// Decodes one entry (a heartbeat payload).
    pub fn decode(b: &[u8]) -> Result<Self, PayloadError> {
        let mut r = Reader::new(b);
        let e = Self::read(&mut r)?;
        r.end()?;
        Ok(e)
    }
}

/// Gossip: up to [`GOSSIP_WINDOW`] load entries about any nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Gossip {
    entries: [LoadEntry; GOSSIP_WINDOW],
    len: usize,
}

/// Largest encoded gossip payload.
pub const GOSSIP_MAX_LEN: usize = 2 + GOSSIP_WINDOW * LOAD_ENTRY_LEN;

impl Gossip {
    /// Adds an entry; false when the window is full.
    pub fn push(&mut self, e: LoadEntry) -> bool {
        if self.len == GOSSIP_WINDOW {
            return false;
        }
        self.entries[self.len] = e;
        self.len += 1;
        true
    }

    /// The entries.
    pub fn entries(&self) -> &[LoadEntry] {
        &self.entries[..self.len]
    }

    /// Encodes into `out` (at least [`GOSSIP_MAX_LEN`] bytes); returns the length used.
    pub fn encode(&self, out: &mut [u8; GOSSIP_MAX_LEN]) -> usize {
        let mut w = Writer { b: out, at: 0 };
        w.put(&(self.len as u16).to_be_bytes());
        for e in self.entries() {
            w.put(&e.encode());
        }
        w.at
    }

    /// Decodes a payload: a count, then exactly that many valid entries.
    pub fn decode(b: &[u8]) -> Result<Self, PayloadError> {
        let mut r = Reader::new(b);
        let n = usize::from(r.u16()?);
        if n > GOSSIP_WINDOW {
            return Err(PayloadError::Field("count"));
        }
        let mut g = Self::default();
        for _ in 0..n {
            g.push(LoadEntry::read(&mut r)?);
        }
        r.end()?;
        Ok(g)
    }
}

/// Discovery beacon (UDP): "node `node` listens on `addr`:`port`".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Beacon {
    /// The sender's node ID.
    pub node: u32,
    /// The sender's cluster address.
    pub addr: Addr,
    /// The sender's TCP port.
    pub port: u16,
}

impl Beacon {
    /// Encoded size.
    pub const LEN: usize = 4 + 17 + 2;

    /// Encodes the payload.
    pub fn encode(&self) -> [u8; Self::LEN] {
        let mut b = [0u8; Self::LEN];
        let mut w = Writer { b: &mut b, at: 0 };
        w.put(&self.node.to_be_bytes());
        w.put(&self.addr.to_wire());
        w.put(&self.port.to_be_bytes());
        b
    }

    /// Decodes a payload.
    pub fn decode(b: &[u8]) -> Result<Self, PayloadError> {
        let mut r = Reader::new(b);
        let node = r.u32()?;
        let addr = Addr::from_wire(&r.take()?).ok_or(PayloadError::Field("addr"))?;
        let port = r.u16()?;
        r.end()?;
        if !(1..=super::map::MAX_NODE_ID).contains(&node) {
            return Err(PayloadError::Field("node"));
        }
        if port == 0 {
            return Err(PayloadError::Field("port"));
        }
        Ok(Self { node, addr, port })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(node: u32) -> LoadEntry {
        LoadEntry {
            node,
            age_ms: 250,
            load: 180,
            speed: STD_SPEED,
            cpus: 2,
            util: 900,
            status: STATUS_UP,
            mem_kb: 400_000,
            rmem_kb: 300_000,
            tmem_kb: 500_000,
        }
    }

    #[test]
    fn handshake_payloads_round_trip() {
        let h = Hello {
            nonce: [7; NONCE_LEN],
        };
        assert_eq!(Hello::decode(&h.encode()), Ok(h));
        let r = HelloReply {
            nonce: [1; NONCE_LEN],
            echo: [2; NONCE_LEN],
        };
        assert_eq!(HelloReply::decode(&r.encode()), Ok(r));
        let a = Auth {
            echo: [3; NONCE_LEN],
        };
        assert_eq!(Auth::decode(&a.encode()), Ok(a));
        assert_eq!(
            Hello::decode(&[0; NONCE_LEN - 1]),
            Err(PayloadError::Length)
        );
        assert_eq!(
            Hello::decode(&[0; NONCE_LEN + 1]),
            Err(PayloadError::Length)
        );
        assert_eq!(
            HelloReply::decode(&[0; NONCE_LEN]),
            Err(PayloadError::Length)
        );
        assert_eq!(Auth::decode(&[]), Err(PayloadError::Length));
    }

    #[test]
    fn session_input_binds_everything() {
        let a = session_key_input(1, 2, &[1; 32], &[2; 32]);
        assert_ne!(a, session_key_input(2, 1, &[1; 32], &[2; 32]));
        assert_ne!(a, session_key_input(1, 2, &[2; 32], &[1; 32]));
        assert_ne!(a, session_key_input(1, 3, &[1; 32], &[2; 32]));
    }

    #[test]
    fn load_entry_round_trip_and_validation() {
        let e = entry(3);
        assert_eq!(LoadEntry::decode(&e.encode()), Ok(e));
        let bad = |f: fn(&mut LoadEntry), name| {
            let mut x = entry(3);
            f(&mut x);
            assert_eq!(
                LoadEntry::decode(&x.encode()),
                Err(PayloadError::Field(name))
            );
        };
        bad(|x| x.node = 0, "node");
        bad(|x| x.node = 70000, "node");
        bad(|x| x.age_ms = u32::MAX, "age");
        bad(|x| x.speed = 0, "speed");
        bad(|x| x.speed = MAX_SPEED + 1, "speed");
        bad(|x| x.cpus = 0, "cpus");
        bad(|x| x.util = 1001, "util");
        bad(|x| x.status = 1 << 9, "status");
        bad(|x| x.mem_kb = x.tmem_kb + 1, "memory");
        assert_eq!(
            LoadEntry::decode(&e.encode()[1..]),
            Err(PayloadError::Length)
        );
    }

    #[test]
    fn gossip_round_trip_and_limits() {
        let mut g = Gossip::default();
        for i in 1..=GOSSIP_WINDOW as u32 {
            assert!(g.push(entry(i)));
        }
        assert!(!g.push(entry(99)));
        let mut buf = [0u8; GOSSIP_MAX_LEN];
        let n = g.encode(&mut buf);
        assert_eq!(n, GOSSIP_MAX_LEN);
        assert_eq!(Gossip::decode(&buf[..n]), Ok(g));
        // Count larger than the window, count disagreeing with the length.
        let mut b = buf;
        b[1] = GOSSIP_WINDOW as u8 + 1;
        assert_eq!(Gossip::decode(&b[..n]), Err(PayloadError::Field("count")));
        b[1] = 2;
        assert_eq!(Gossip::decode(&b[..n]), Err(PayloadError::Length));
        assert_eq!(
            Gossip::decode(&b[..2 + LOAD_ENTRY_LEN]),
            Err(PayloadError::Length)
        );
        assert_eq!(Gossip::decode(&[0, 0]).map(|g| g.entries().len()), Ok(0));
        assert_eq!(Gossip::decode(&[0]), Err(PayloadError::Length));
    }

    #[test]
    fn beacon_round_trip_and_validation() {
        let b = Beacon {
            node: 4,
            addr: Addr::V4([198, 18, 0, 4]),
            port: 7300,
        };
        assert_eq!(Beacon::decode(&b.encode()), Ok(b));
        let mut x = b.encode();
        x[3] = 0;
        assert_eq!(Beacon::decode(&x), Err(PayloadError::Field("node")));
        let mut x = b.encode();
        x[4] = 9;
        assert_eq!(Beacon::decode(&x), Err(PayloadError::Field("addr")));
        let mut x = b.encode();
        x[21] = 0;
        x[22] = 0;
        assert_eq!(Beacon::decode(&x), Err(PayloadError::Field("port")));
    }

    #[test]
    fn decoders_never_panic_on_prefixes_and_byte_flips() {
        let mut g = Gossip::default();
        g.push(entry(1));
        g.push(entry(2));
        let mut buf = [0u8; GOSSIP_MAX_LEN];
        let n = g.encode(&mut buf);
        for cut in 0..=n {
            let _ = Gossip::decode(&buf[..cut]);
            let _ = LoadEntry::decode(&buf[..cut]);
            let _ = Beacon::decode(&buf[..cut]);
        }
        for at in 0..n {
            for v in [0u8, 1, 0x7f, 0x80, 0xff] {
                let mut b = buf;
                b[at] = v;
                let _ = Gossip::decode(&b[..n]);
            }
        }
    }
}
