// SPDX-License-Identifier: GPL-2.0

//! Authenticated framing: a frame is an `omcore::frame` header, a payload no longer than its kind
//! allows, and an HMAC-SHA256 tag over both under the connection's session key (or the cluster
//! key, for handshakes and beacons). See `Documentation/protocol.md`.

use crate::error::{Fault, Result};
use crate::ksys::copy_exact;
use crate::ksys::crypto::{HmacKey, TAG_LEN};
use crate::ksys::errno::{ebadmsg, econnreset};
use crate::ksys::net::Socket;
use crate::omcore::frame::{FrameHeader, MessageKind, HEADER_LEN};
use crate::omcore::msg::{self, GOSSIP_MAX_LEN, NONCE_LEN};
use crate::omcore::{fwd, mig};
use kernel::prelude::*;

/// Builds a frame: header, payload, tag under `key`.
pub(crate) fn build_frame(
    kind: MessageKind,
    source: u32,
    target: u32,
    sequence: u64,
    payload: &[u8],
    key: &HmacKey,
) -> Result<KVec<u8>> {
    build_frame_with(kind, source, target, sequence, payload.len(), key, |b| {
        copy_exact(b, payload)
    })
}

/// Builds a frame whose payload of `len` bytes `fill` writes in place (it may give up:
/// `EINVAL`), with its header and its tag under `key`.
pub(crate) fn build_frame_with(
    kind: MessageKind,
    source: u32,
    target: u32,
    sequence: u64,
    len: usize,
    key: &HmacKey,
    fill: impl FnOnce(&mut [u8]) -> bool,
) -> Result<KVec<u8>> {
    if len > max_payload(kind) {
        return Err(EINVAL.into());
    }
    let header = FrameHeader {
        kind,
        len: u32::try_from(len).map_err(|_| EINVAL)?,
        source,
        target,
        sequence,
    };
    let mut f = KVec::from_elem(0u8, HEADER_LEN + len + TAG_LEN, GFP_KERNEL)?;
    copy_exact(&mut f[..HEADER_LEN], &header.encode());
    if !fill(&mut f[HEADER_LEN..HEADER_LEN + len]) {
        return Err(EINVAL.into());
    }
    let tag = key.tag(&f[..HEADER_LEN + len]);
    copy_exact(&mut f[HEADER_LEN + len..], &tag);
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
        MessageKind::GuestExit | MessageKind::GuestSignal => mig::PAIR_LEN,
        MessageKind::MigCtl => mig::CTL_LEN,
        MessageKind::Syscall | MessageKind::SyscallReply => fwd::MAX_PAYLOAD,
    }
}

/// Checks a whole frame in `buf` (header, payload, tag) with `key`; returns the header.
pub(crate) fn check_frame(buf: &[u8], key: &HmacKey) -> Result<FrameHeader> {
    let h = FrameHeader::decode(buf)?;
    let len = h.len as usize;
    if len > max_payload(h.kind) || buf.len() != HEADER_LEN + len + TAG_LEN {
        return Err(ebadmsg().into());
    }
    let (body, tag) = buf.split_at(HEADER_LEN + len);
    if !key.verify(body, tag) {
        return Err(ebadmsg().into());
    }
    Ok(h)
}

/// Reads one frame from a stream and checks it with `key`. `Ok(None)` on a clean close.
pub(crate) fn read_frame(sock: &Socket, key: &HmacKey) -> Result<Option<(FrameHeader, KVec<u8>)>> {
    let mut head = [0u8; HEADER_LEN];
    if !sock.recv_exact(&mut head)? {
        return Ok(None);
    }
    let h = FrameHeader::decode(&head)?;
    if h.len as usize > max_payload(h.kind) {
        return Err(ebadmsg().into());
    }
    let buf = read_rest(&head, h.len as usize, |b| match sock.recv_exact(b)? {
        true => Ok(()),
        false => Err(econnreset().into()),
    })?;
    finish_frame(buf, key).map(Some)
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
    if h.kind != kind || h.len as usize != max_payload(kind) {
        return Err(ebadmsg().into());
    }
    let key = key_of(&h).ok_or(Fault::Errno(EPERM))?;
    let buf = read_rest(&head, h.len as usize, |b| {
        Ok(sock.recv_exact_until(b, deadline)?)
    })?;
    finish_frame(buf, key)
}

/// Allocates a whole frame of `len` payload bytes after `head`, and fills the rest with `recv`.
fn read_rest(
    head: &[u8; HEADER_LEN],
    len: usize,
    recv: impl FnOnce(&mut [u8]) -> Result,
) -> Result<KVec<u8>> {
    let mut buf = KVec::with_capacity(HEADER_LEN + len + TAG_LEN, GFP_KERNEL)?;
    buf.extend_from_slice(head, GFP_KERNEL)?;
    buf.resize(HEADER_LEN + len + TAG_LEN, 0, GFP_KERNEL)?;
    recv(&mut buf[HEADER_LEN..])?;
    Ok(buf)
}

/// Checks a whole frame read into `buf` and leaves its payload alone in it.
fn finish_frame(mut buf: KVec<u8>, key: &HmacKey) -> Result<(FrameHeader, KVec<u8>)> {
    let h = check_frame(&buf, key)?;
    let len = h.len as usize;
    // The payload moves to the front of the same buffer: no second allocation.
    buf.copy_within(HEADER_LEN..HEADER_LEN + len, 0);
    buf.truncate(len);
    Ok((h, buf))
}

/// Derives the session key of a connection.
pub(crate) fn session_key(
    key: &HmacKey,
    initiator: u32,
    acceptor: u32,
    ni: &[u8; NONCE_LEN],
    na: &[u8; NONCE_LEN],
) -> Result<HmacKey> {
    Ok(HmacKey::new(&key.tag(&msg::session_key_input(
        initiator, acceptor, ni, na,
    )))?)
}

/// Whether `f` is a refused frame (rather than a closed or timed-out socket).
pub(crate) fn is_refusal(f: &Fault) -> bool {
    !matches!(f, Fault::Errno(e) if *e != ebadmsg())
}
