// SPDX-License-Identifier: GPL-2.0

//! The frame header that starts every message between nodes.
//!
//! Layout (all integers big-endian, [`HEADER_LEN`] bytes):
//!
//! | offset | size | field      | meaning                                              |
//! | ------ | ---- | ---------- | ---------------------------------------------------- |
//! | 0      | 4    | magic      | [`MAGIC`] (`"OMX1"`)                                 |
//! | 4      | 2    | version    | [`PROTOCOL_VERSION`]; any other value is refused     |
//! | 6      | 2    | kind       | a [`MessageKind`]                                    |
//! | 8      | 2    | flags      | [`FLAG_SEALED`] or 0; no other bit is defined        |
//! | 10     | 2    | reserved   | must be 0                                            |
//! | 12     | 4    | length     | payload bytes that follow, at most [`MAX_PAYLOAD`]   |
//! | 16     | 4    | source     | node ID of the sender                                |
//! | 20     | 4    | target     | node ID of the receiver                              |
//! | 24     | 8    | sequence   | per-connection sequence number (replay protection)   |
//!
//! The payload follows, then the tag. The three handshake frames and discovery beacons carry a
//! [`TAG_LEN`]-byte HMAC-SHA256 tag over header and payload under the pair's (or the cluster's)
//! key, and never [`FLAG_SEALED`]. Every frame of an authenticated connection carries a
//! [`AEAD_TAG_LEN`]-byte ChaCha20-Poly1305 tag (RFC 8439) under the key of its direction, with
//! the 96-bit nonce `0u32 || sequence` (little-endian, [`crate::msg`] derives the keys):
//! - sealed ([`FLAG_SEALED`], the default): the payload is encrypted, the header is the
//!   associated data;
//! - not sealed (`admin/encrypt` 0): the payload is sent as it is, and header and payload
//!   together are the associated data of an empty message: Poly1305 authenticates them.
//!
//! [`FrameHeader::decode`] checks everything that can be checked without the key; the tag is
//! checked by the receiver before the payload is looked at.

use super::version::PROTOCOL_VERSION;
use core::fmt;

/// First four bytes of every frame.
pub const MAGIC: u32 = u32::from_be_bytes(*b"OMX1");
/// Size of an encoded [`FrameHeader`].
pub const HEADER_LEN: usize = 32;
/// Largest payload a frame may carry.
pub const MAX_PAYLOAD: u32 = 1 << 20;
/// Size of the authentication tag (HMAC-SHA256) of a handshake frame or a beacon.
pub const TAG_LEN: usize = 32;
/// Size of the authentication tag (Poly1305) of a frame on an authenticated connection.
pub const AEAD_TAG_LEN: usize = 16;
/// Flag: the payload is encrypted (ChaCha20-Poly1305).
pub const FLAG_SEALED: u16 = 1;

/// What a frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum MessageKind {
    /// First frame on a new connection: the sender introduces itself.
    Hello = 1,
    /// Periodic liveness signal carrying the sender's own load entry.
    Heartbeat = 2,
    /// The acceptor's answer to `Hello`.
    HelloReply = 3,
    /// The initiator's proof that completes the handshake.
    Auth = 4,
    /// A window of load entries about any nodes.
    Gossip = 5,
    /// Discovery beacon (UDP).
    Beacon = 6,
    /// A piece of a migrating process's image (home to target).
    MigImage = 7,
    /// The target's answer to a migration: the guest runs, or why not (target to home).
    MigResult = 8,
    /// A guest ended, with its wait status (guest's host to home).
    GuestExit = 9,
    /// Deliver a signal to a guest (home to host), or kill it.
    GuestSignal = 10,
    /// A guest's system call for its deputy (host to home).
    Syscall = 11,
    /// The deputy's result of a forwarded call (home to host).
    SyscallReply = 12,
    /// Moving a guest that runs already: depart, verdict, move request (`mig::Ctl`).
    MigCtl = 13,
}

impl MessageKind {
    /// The kind with wire value `v`, if there is one.
    pub fn from_wire(v: u16) -> Option<Self> {
        match v {
            1 => Some(Self::Hello),
            2 => Some(Self::Heartbeat),
            3 => Some(Self::HelloReply),
            4 => Some(Self::Auth),
            5 => Some(Self::Gossip),
            6 => Some(Self::Beacon),
            7 => Some(Self::MigImage),
            8 => Some(Self::MigResult),
            9 => Some(Self::GuestExit),
            10 => Some(Self::GuestSignal),
            11 => Some(Self::Syscall),
            12 => Some(Self::SyscallReply),
            13 => Some(Self::MigCtl),
            _ => None,
        }
    }
}

/// A decoded, validated frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// What the frame carries.
    pub kind: MessageKind,
    /// Payload length in bytes, at most [`MAX_PAYLOAD`].
    pub len: u32,
    /// Node ID of the sender.
    pub source: u32,
    /// Node ID of the receiver.
    pub target: u32,
    /// Per-connection sequence number.
    pub sequence: u64,
    /// [`FLAG_SEALED`] or 0.
    pub flags: u16,
}

/// Why a frame header was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// Fewer than [`HEADER_LEN`] bytes.
    Short,
    /// The magic number is wrong: not an openmosix-rs frame.
    Magic,
    /// The peer speaks another protocol version.
    Version(u16),
    /// The kind is not one this protocol version knows.
    Kind(u16),
    /// Undefined flag bits or reserved bits are set.
    Reserved,
    /// The payload length exceeds [`MAX_PAYLOAD`].
    TooLong(u32),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Short => write!(f, "short frame header"),
            Self::Magic => write!(f, "bad magic"),
            Self::Version(v) => write!(f, "protocol version {v}, expected {PROTOCOL_VERSION}"),
            Self::Kind(k) => write!(f, "unknown message kind {k}"),
            Self::Reserved => write!(f, "reserved bits set"),
            Self::TooLong(n) => write!(f, "payload of {n} bytes exceeds {MAX_PAYLOAD}"),
        }
    }
}

fn be16(b: &[u8; HEADER_LEN], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8; HEADER_LEN], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl FrameHeader {
    /// Encodes the header in wire order.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0..4].copy_from_slice(&MAGIC.to_be_bytes());
        b[4..6].copy_from_slice(&PROTOCOL_VERSION.to_be_bytes());
        b[6..8].copy_from_slice(&(self.kind as u16).to_be_bytes());
        b[8..10].copy_from_slice(&self.flags.to_be_bytes());
        // Bytes 10..12: reserved, zero.
        b[12..16].copy_from_slice(&self.len.to_be_bytes());
        b[16..20].copy_from_slice(&self.source.to_be_bytes());
        b[20..24].copy_from_slice(&self.target.to_be_bytes());
        b[24..32].copy_from_slice(&self.sequence.to_be_bytes());
        b
    }

    /// Decodes and validates a header from the first [`HEADER_LEN`] bytes of `bytes`.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let b: &[u8; HEADER_LEN] = bytes
            .get(..HEADER_LEN)
            .and_then(|s| s.try_into().ok())
            .ok_or(DecodeError::Short)?;
        if be32(b, 0) != MAGIC {
            return Err(DecodeError::Magic);
        }
        let version = be16(b, 4);
        if version != PROTOCOL_VERSION {
            return Err(DecodeError::Version(version));
        }
        let kind = be16(b, 6);
        let kind = MessageKind::from_wire(kind).ok_or(DecodeError::Kind(kind))?;
        let flags = be16(b, 8);
        if flags & !FLAG_SEALED != 0 || be16(b, 10) != 0 {
            return Err(DecodeError::Reserved);
        }
        let len = be32(b, 12);
        if len > MAX_PAYLOAD {
            return Err(DecodeError::TooLong(len));
        }
        let sequence = u64::from_be_bytes([b[24], b[25], b[26], b[27], b[28], b[29], b[30], b[31]]);
        Ok(Self {
            kind,
            len,
            source: be32(b, 16),
            target: be32(b, 20),
            sequence,
            flags,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> FrameHeader {
        FrameHeader {
            kind: MessageKind::Heartbeat,
            len: 513,
            source: 2,
            target: 0x0102_0304,
            sequence: 0x1122_3344_5566_7788,
            flags: FLAG_SEALED,
        }
    }

    #[test]
    fn round_trip_and_layout() {
        let h = sample();
        let b = h.encode();
        assert_eq!(&b[0..4], b"OMX1");
        assert_eq!(&b[4..6], &[0, 7]);
        assert_eq!(&b[6..8], &[0, 2]);
        assert_eq!(&b[8..10], &[0, 1]);
        assert_eq!(&b[12..16], &[0, 0, 2, 1]);
        assert_eq!(&b[20..24], &[1, 2, 3, 4]);
        assert_eq!(
            &b[24..32],
            &[0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]
        );
        assert_eq!(FrameHeader::decode(&b), Ok(h));
        // Trailing bytes (the payload) are not the header's business.
        let mut longer = [0u8; HEADER_LEN + 7];
        longer[..HEADER_LEN].copy_from_slice(&b);
        assert_eq!(FrameHeader::decode(&longer), Ok(h));
    }

    #[test]
    fn every_kind_round_trips() {
        for kind in [
            MessageKind::Hello,
            MessageKind::Heartbeat,
            MessageKind::HelloReply,
            MessageKind::Auth,
            MessageKind::Gossip,
            MessageKind::Beacon,
            MessageKind::MigImage,
            MessageKind::MigResult,
            MessageKind::GuestExit,
            MessageKind::GuestSignal,
            MessageKind::Syscall,
            MessageKind::SyscallReply,
            MessageKind::MigCtl,
        ] {
            assert_eq!(MessageKind::from_wire(kind as u16), Some(kind));
            let h = FrameHeader { kind, ..sample() };
            assert_eq!(FrameHeader::decode(&h.encode()), Ok(h));
        }
    }

    #[test]
    fn refuses_malformed_headers() {
        let good = sample().encode();
        for n in 0..HEADER_LEN {
            assert_eq!(FrameHeader::decode(&good[..n]), Err(DecodeError::Short));
        }
        let with = |at: usize, v: &[u8]| {
            let mut b = good;
            b[at..at + v.len()].copy_from_slice(v);
            FrameHeader::decode(&b)
        };
        assert_eq!(with(0, b"OMX2"), Err(DecodeError::Magic));
        assert_eq!(with(4, &[0, 8]), Err(DecodeError::Version(8)));
        assert_eq!(with(4, &[0, 6]), Err(DecodeError::Version(6)));
        assert_eq!(with(4, &[0, 5]), Err(DecodeError::Version(5)));
        assert_eq!(with(4, &[0, 4]), Err(DecodeError::Version(4)));
        assert_eq!(with(4, &[0, 3]), Err(DecodeError::Version(3)));
        assert_eq!(with(4, &[0, 1]), Err(DecodeError::Version(1)));
        assert_eq!(with(4, &[0, 0]), Err(DecodeError::Version(0)));
        assert_eq!(with(6, &[0, 0]), Err(DecodeError::Kind(0)));
        assert_eq!(with(6, &[0, 14]), Err(DecodeError::Kind(14)));
        assert_eq!(with(6, &[0xff, 0xff]), Err(DecodeError::Kind(0xffff)));
        assert_eq!(with(8, &[0, 2]), Err(DecodeError::Reserved));
        assert_eq!(with(8, &[0x80, 1]), Err(DecodeError::Reserved));
        assert_eq!(with(8, &[0, 0]).map(|h| h.flags), Ok(0));
        assert_eq!(with(10, &[0x80, 0]), Err(DecodeError::Reserved));
        assert_eq!(
            with(12, &[0, 0x10, 0, 1]),
            Err(DecodeError::TooLong(MAX_PAYLOAD + 1))
        );
        assert_eq!(with(12, &[0xff; 4]), Err(DecodeError::TooLong(u32::MAX)));
        assert!(with(12, &MAX_PAYLOAD.to_be_bytes()).is_ok());
    }

    #[test]
    fn decode_never_panics_on_any_single_byte_change() {
        let good = sample().encode();
        for at in 0..HEADER_LEN {
            for v in 0..=255u8 {
                let mut b = good;
                b[at] = v;
                let _ = FrameHeader::decode(&b);
            }
        }
    }
}
