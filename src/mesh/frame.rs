// SPDX-License-Identifier: GPL-2.0

//! Authenticated framing: a frame is an `omcore::frame` header, a payload no longer than its kind
//! allows, and a tag. Handshake frames and beacons carry an HMAC-SHA256 tag under the pair's
//! (or the cluster's) key; the frames of a connection are sealed with ChaCha20-Poly1305 under
//! the key of their direction ([`Session`]), encrypted or only authenticated
//! (`admin/encrypt`). See `Documentation/protocol.md`.

use crate::error::{Fault, Result};
use crate::ksys::copy_exact;
use crate::ksys::crypto::{wipe, AeadKey, HmacKey, AEAD_KEY_LEN, AEAD_TAG_LEN, TAG_LEN};
use crate::ksys::errno::{ebadmsg, econnreset};
use crate::ksys::net::Socket;
use crate::omcore::frame::{FrameHeader, MessageKind, FLAG_SEALED, HEADER_LEN};
use crate::omcore::msg::{self, GOSSIP_MAX_LEN, NONCE_LEN};
use crate::omcore::{fwd, mig};
use kernel::prelude::*;

/// The keys of an authenticated connection, one for each direction.
pub(crate) struct Session {
    /// Seals the frames this node sends.
    pub(crate) tx: AeadKey,
    /// Opens the frames the peer sends.
    pub(crate) rx: AeadKey,
}

/// A frame's header and a buffer of `len` payload bytes and `tag` tag bytes after it, the
/// payload written in place by `fill` (which may give up: `EINVAL`).
fn frame_buffer(
    header: FrameHeader,
    tag: usize,
    fill: impl FnOnce(&mut [u8]) -> bool,
) -> Result<KVec<u8>> {
    let len = header.len as usize;
    if len > max_payload(header.kind) {
        return Err(EINVAL.into());
    }
    let mut f = KVec::from_elem(0u8, HEADER_LEN + len + tag, GFP_KERNEL)?;
    copy_exact(&mut f[..HEADER_LEN], &header.encode());
    if !fill(&mut f[HEADER_LEN..HEADER_LEN + len]) {
        return Err(EINVAL.into());
    }
    Ok(f)
}

/// Builds a handshake frame or a beacon: header, payload, HMAC tag under `key`.
pub(crate) fn build_frame(
    kind: MessageKind,
    source: u32,
    target: u32,
    sequence: u64,
    payload: &[u8],
    key: &HmacKey,
) -> Result<KVec<u8>> {
    let header = FrameHeader {
        kind,
        len: u32::try_from(payload.len()).map_err(|_| EINVAL)?,
        source,
        target,
        sequence,
        flags: 0,
    };
    let mut f = frame_buffer(header, TAG_LEN, |b| copy_exact(b, payload))?;
    let len = payload.len();
    let tag = key.tag(&f[..HEADER_LEN + len]);
    copy_exact(&mut f[HEADER_LEN + len..], &tag);
    Ok(f)
}

/// Builds a frame of a connection whose payload of `len` bytes `fill` writes in place (it may
/// give up: `EINVAL`), sealed under `key` with its sequence number as nonce: encrypted with
/// `encrypt`, else only authenticated.
#[allow(clippy::too_many_arguments)]
pub(crate) fn build_sealed(
    kind: MessageKind,
    source: u32,
    target: u32,
    sequence: u64,
    len: usize,
    key: &AeadKey,
    encrypt: bool,
    fill: impl FnOnce(&mut [u8]) -> bool,
) -> Result<KVec<u8>> {
    let header = FrameHeader {
        kind,
        len: u32::try_from(len).map_err(|_| EINVAL)?,
        source,
        target,
        sequence,
        flags: if encrypt { FLAG_SEALED } else { 0 },
    };
    let mut f = frame_buffer(header, AEAD_TAG_LEN, fill)?;
    key.seal(&mut f, HEADER_LEN, sequence, encrypt)?;
    Ok(f)
}

/// Largest payload each kind may have on a connection or in a beacon.
pub(crate) fn max_payload(kind: MessageKind) -> usize {
    match kind {
        MessageKind::Hello => msg::Hello::LEN,
        MessageKind::HelloReply => msg::HelloReply::LEN,
        MessageKind::Auth => msg::Auth::LEN,
        MessageKind::Heartbeat => msg::LOAD_ENTRY_LEN,
        MessageKind::Gossip => GOSSIP_MAX_LEN,
        MessageKind::Beacon => msg::Beacon::LEN,
        MessageKind::MigImage => mig::MAX_IMAGE_PAYLOAD,
        MessageKind::MigResult => mig::RESULT_LEN,
        MessageKind::GuestExit => mig::EXIT_LEN,
        MessageKind::GuestSignal => mig::PAIR_LEN + mig::SENDER_LEN,
        MessageKind::MigCtl => mig::CTL_LEN,
        MessageKind::Syscall | MessageKind::SyscallReply => fwd::MAX_PAYLOAD,
    }
}

/// Checks a whole handshake frame or beacon in `buf` (header, payload, HMAC tag) with `key`;
/// returns the header.
pub(crate) fn check_frame(buf: &[u8], key: &HmacKey) -> Result<FrameHeader> {
    let h = FrameHeader::decode(buf)?;
    let len = h.len as usize;
    if len > max_payload(h.kind) || buf.len() != HEADER_LEN + len + TAG_LEN || h.flags != 0 {
        return Err(ebadmsg().into());
    }
    let (body, tag) = buf.split_at(HEADER_LEN + len);
    if !key.verify(body, tag) {
        return Err(ebadmsg().into());
    }
    Ok(h)
}

/// Reads one frame of a connection from a stream and opens it with `key` (decrypting its
/// payload when the header says it is sealed). `Ok(None)` on a clean close; a receive timeout
/// before the frame's first byte is `EAGAIN`, and once it began the rest is waited for while
/// `keep` says so (see [`Socket::recv_exact`]).
pub(crate) fn read_frame(
    sock: &Socket,
    key: &AeadKey,
    keep: impl Fn(u64) -> bool,
) -> Result<Option<(FrameHeader, KVec<u8>)>> {
    let mut head = [0u8; HEADER_LEN];
    if !sock.recv_exact(&mut head, &keep)? {
        return Ok(None);
    }
    let h = FrameHeader::decode(&head)?;
    let len = h.len as usize;
    if len > max_payload(h.kind) {
        return Err(ebadmsg().into());
    }
    let mut buf = read_rest(&head, len, AEAD_TAG_LEN, |b| {
        match sock.recv_exact(b, &keep)? {
            true => Ok(()),
            false => Err(econnreset().into()),
        }
    })?;
    if !key.open(&mut buf, HEADER_LEN, h.sequence, h.flags & FLAG_SEALED != 0) {
        return Err(ebadmsg().into());
    }
    Ok(Some((h, payload_alone(buf, len))))
}

/// Reads one handshake frame of `kind` before `deadline` (a `now_ms` time) and checks it with
/// the key `key_of` gives for its header (none: `EPERM`). Before a connection is authenticated
/// nothing else is read: a header of another kind, or of another length than the kind's fixed
/// one, ends the handshake right after its [`HEADER_LEN`] bytes, and a peer that has not sent
/// the whole frame by the deadline is `ETIMEDOUT`, however it paces its bytes.
pub(crate) fn read_handshake<'k>(
    sock: &Socket,
    kind: MessageKind,
    deadline: u64,
    key_of: impl FnOnce(&FrameHeader) -> Option<&'k HmacKey>,
) -> Result<(FrameHeader, KVec<u8>)> {
    let mut head = [0u8; HEADER_LEN];
    sock.recv_exact_until(&mut head, deadline)?;
    let h = FrameHeader::decode(&head)?;
    if h.kind != kind || h.len as usize != max_payload(kind) || h.flags != 0 {
        return Err(ebadmsg().into());
    }
    let key = key_of(&h).ok_or(Fault::Errno(EPERM))?;
    let len = h.len as usize;
    let buf = read_rest(&head, len, TAG_LEN, |b| {
        Ok(sock.recv_exact_until(b, deadline)?)
    })?;
    let h = check_frame(&buf, key)?;
    Ok((h, payload_alone(buf, len)))
}

/// Allocates a whole frame of `len` payload bytes and a `tag`-byte tag after `head`, and fills
/// the rest with `recv`.
fn read_rest(
    head: &[u8; HEADER_LEN],
    len: usize,
    tag: usize,
    recv: impl FnOnce(&mut [u8]) -> Result,
) -> Result<KVec<u8>> {
    let mut buf = KVec::with_capacity(HEADER_LEN + len + tag, GFP_KERNEL)?;
    buf.extend_from_slice(head, GFP_KERNEL)?;
    buf.resize(HEADER_LEN + len + tag, 0, GFP_KERNEL)?;
    recv(&mut buf[HEADER_LEN..])?;
    Ok(buf)
}

/// Leaves the `len`-byte payload of the checked frame in `buf` alone in it.
fn payload_alone(mut buf: KVec<u8>, len: usize) -> KVec<u8> {
    // The payload moves to the front of the same buffer: no second allocation.
    buf.copy_within(HEADER_LEN..HEADER_LEN + len, 0);
    buf.truncate(len);
    buf
}

/// Derives the keys of a connection from the key `key` the two nodes share and the
/// handshake's nonces: `PRK = HMAC(key, session_key_input)`, then one HKDF-Expand block of PRK
/// for each direction (`omcore::msg`). `initiator` says which side this node is.
pub(crate) fn session_keys(
    key: &HmacKey,
    initiator: u32,
    acceptor: u32,
    ni: &[u8; NONCE_LEN],
    na: &[u8; NONCE_LEN],
    this_is_initiator: bool,
) -> Result<Session> {
    let mut prk = key.tag(&msg::session_key_input(initiator, acceptor, ni, na));
    let prk_key = HmacKey::new(&prk);
    wipe(&mut prk);
    let prk_key = prk_key?;
    let expand = |info: &[u8]| -> AeadKey {
        let mut t = prk_key.tag(info);
        let mut raw = [0u8; AEAD_KEY_LEN];
        raw.copy_from_slice(&t[..AEAD_KEY_LEN]);
        wipe(&mut t);
        AeadKey::new(raw)
    };
    let i2a = expand(msg::EXPAND_I2A);
    let a2i = expand(msg::EXPAND_A2I);
    Ok(if this_is_initiator {
        Session { tx: i2a, rx: a2i }
    } else {
        Session { tx: a2i, rx: i2a }
    })
}

/// Whether `f` is a refused frame (rather than a closed or timed-out socket).
pub(crate) fn is_refusal(f: &Fault) -> bool {
    !matches!(f, Fault::Errno(e) if *e != ebadmsg())
}
