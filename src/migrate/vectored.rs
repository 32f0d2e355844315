// SPDX-License-Identifier: GPL-2.0

//! The vectored calls of a guest, each forwarded as one plain call: `writev` as a `write` of
//! the gathered buffers, `readv` as a `read` scattered into them, `sendmsg` and `recvmsg` with
//! no control data as `sendto` and `recvfrom`. Every length and count the guest gives is
//! checked before it is used: the kernel's own errors (`EINVAL`) come back for those it would
//! refuse.

use super::forward::forward_call;
use super::guest::Guest;
use super::Migrations;
use crate::ksys::errno::enosys;
use crate::ksys::task::cur;
use crate::omcore::fwd;
use crate::omcore::syscalls::nr;
use kernel::prelude::*;

/// Most entries of an iovec array (the kernel's `UIO_MAXIOV`).
const MAX_IOV: u64 = 1024;

/// Forwards read- or write-like call `nr`, which must be forwardable.
fn call(
    mig: &Migrations,
    g: &Guest,
    nr: u32,
    args: [u64; 6],
    input: Option<&[u8]>,
    collect: bool,
) -> Result<(i64, Option<KVec<u8>>)> {
    let spec = fwd::spec(nr, &args).ok_or(enosys())?;
    forward_call(mig, g, nr, &spec, args, input, collect)
}

/// `writev` as one `write` of the gathered buffers (at most [`fwd::MAX_BUF`] bytes).
pub(crate) fn writev(mig: &Migrations, g: &Guest, args: [u64; 6]) -> Result<i64> {
    let iov = read_iovecs(args[1], args[2])?;
    let data = gather(&iov)?;
    let w = [args[0], 1, data.len() as u64, 0, 0, 0];
    call(mig, g, nr::WRITE, w, Some(&data), false).map(|(r, _)| r)
}

/// A `struct msghdr` as the guest has it.
struct MsgHdr {
    name: u64,
    name_len: u64,
    iov: KVec<(u64, u64)>,
    control_len: u64,
}

/// Reads the guest's `struct msghdr` at `addr` and its iovec array.
fn read_msghdr(addr: u64) -> Result<MsgHdr> {
    let mut b = [0u8; 56];
    cur::read_user(addr, &mut b)?;
    let word = |at: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[at..at + 8]);
        u64::from_ne_bytes(w)
    };
    Ok(MsgHdr {
        name: word(0),
        name_len: word(8) & 0xffff_ffff,
        iov: read_iovecs(word(16), word(24))?,
        control_len: word(40),
    })
}

/// `sendmsg` with no control data as one `sendto` of the gathered buffers, to the message's
/// address if it has one.
pub(crate) fn sendmsg(mig: &Migrations, g: &Guest, args: [u64; 6]) -> Result<i64> {
    let m = read_msghdr(args[1])?;
    if m.control_len != 0 {
        super::depart::not_available(nr::SENDMSG, "control messages are not forwarded yet");
        return Err(enosys());
    }
    let data = gather(&m.iov)?;
    let (name, len) = if m.name == 0 {
        (0, 0)
    } else {
        (m.name, m.name_len)
    };
    let w = [args[0], 1, data.len() as u64, args[2], name, len];
    call(mig, g, nr::SENDTO, w, Some(&data), false).map(|(r, _)| r)
}

/// `recvmsg` with no control buffer as one `recvfrom`, scattered into the buffers; the source
/// address, if the message has room for one, and its length come back into the message as
/// `recvfrom` returns them (its length is carried as `fwd::returned_len` says); the message's
/// flags come back 0.
pub(crate) fn recvmsg(mig: &Migrations, g: &Guest, args: [u64; 6]) -> Result<i64> {
    let m = read_msghdr(args[1])?;
    if m.control_len != 0 {
        super::depart::not_available(nr::RECVMSG, "control messages are not forwarded yet");
        return Err(enosys());
    }
    let mut r = [args[0], 1, 0, args[2] & 0xffff_ffff, 0, 0];
    if m.name != 0 {
        // recvfrom(fd, buf, size, flags, msg_name, &msg_namelen).
        r[4] = m.name;
        r[5] = args[1].checked_add(8).ok_or(EFAULT)?;
        fwd::Carry::High(3).put(&mut r, m.name_len);
    }
    let r = scatter(mig, g, &m.iov, nr::RECVFROM, r)?;
    if r >= 0 {
        cur::write_user(args[1].checked_add(48).ok_or(EFAULT)?, &0u32.to_ne_bytes())?;
    }
    Ok(r)
}

/// The contents of the buffers `iov`, at most [`fwd::MAX_BUF`] bytes.
fn gather(iov: &[(u64, u64)]) -> Result<KVec<u8>> {
    let mut data = KVec::new();
    for &(base, len) in iov.iter() {
        let room = fwd::MAX_BUF - data.len();
        let n = usize::try_from(len).unwrap_or(usize::MAX).min(room);
        let at = data.len();
        data.resize(at + n, 0, GFP_KERNEL)?;
        cur::read_user(base, &mut data[at..])?;
        if (n as u64) < len {
            break;
        }
    }
    Ok(data)
}

/// `readv` as one `read`, scattered into the buffers.
pub(crate) fn readv(mig: &Migrations, g: &Guest, args: [u64; 6]) -> Result<i64> {
    let iov = read_iovecs(args[1], args[2])?;
    scatter(mig, g, &iov, nr::READ, [args[0], 1, 0, 0, 0, 0])
}

/// Makes the read-like call `nr` (`read`, `recvfrom`) with `args`, its length (argument 2) the
/// buffers' total, and scatters what it read into `iov`.
fn scatter(
    mig: &Migrations,
    g: &Guest,
    iov: &[(u64, u64)],
    nr: u32,
    mut args: [u64; 6],
) -> Result<i64> {
    args[2] = total_len(iov)?.min(fwd::MAX_BUF as u64);
    let (res, out) = call(mig, g, nr, args, None, true)?;
    if let Some(data) = out {
        let mut at = 0usize;
        for &(base, len) in iov.iter() {
            if at >= data.len() {
                break;
            }
            let n = usize::try_from(len)
                .unwrap_or(usize::MAX)
                .min(data.len() - at);
            cur::write_user(base, &data[at..at + n])?;
            at += n;
        }
    }
    Ok(res)
}

/// The buffers' total length; `EINVAL` when it overflows `ssize_t`, as the kernel answers.
fn total_len(iov: &[(u64, u64)]) -> Result<u64> {
    let mut total = 0u64;
    for &(_, len) in iov {
        total = total
            .checked_add(len)
            .filter(|&t| t <= isize::MAX as u64)
            .ok_or(EINVAL)?;
    }
    Ok(total)
}

/// The `(base, len)` pairs of an iovec array of `count` entries at `addr`; `EINVAL` for more
/// than [`MAX_IOV`] entries or lengths that overflow `ssize_t`.
fn read_iovecs(addr: u64, count: u64) -> Result<KVec<(u64, u64)>> {
    if count > MAX_IOV {
        return Err(EINVAL);
    }
    let mut raw = KVec::from_elem(0u8, count as usize * 16, GFP_KERNEL)?;
    cur::read_user(addr, &mut raw)?;
    let mut v = KVec::with_capacity(count as usize, GFP_KERNEL)?;
    for c in raw.chunks_exact(16) {
        let mut b = [0u8; 8];
        b.copy_from_slice(&c[..8]);
        let base = u64::from_ne_bytes(b);
        b.copy_from_slice(&c[8..]);
        v.push((base, u64::from_ne_bytes(b)), GFP_KERNEL)?;
    }
    total_len(&v)?;
    Ok(v)
}
