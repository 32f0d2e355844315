// SPDX-License-Identifier: GPL-2.0

//! The calls of a guest whose arguments point to structures that hold pointers, each forwarded
//! as one call with flat buffers: `writev` as a `write` of the gathered buffers, `readv` as a
//! `read` scattered into them, `sendmsg` and `recvmsg` with no control data as `sendto` and
//! `recvfrom`; with control data (descriptors, credentials) and `pselect6` with a signal mask,
//! as the call itself with its structure packed (`omcore::packed`), whose pointers the deputy
//! sets. `sendmmsg` and `recvmmsg` as a `sendmsg` or `recvmsg` for each message; `preadv`,
//! `pwritev` and their `2` forms as a `pread64` or `pwrite64`; `semctl` `GETALL` and `SETALL`
//! with the set's size. `rt_sigpending` too, which answers for signals waiting in two places.
//! Every length and count the guest gives is checked before it is used: the kernel's own errors
//! (`EINVAL`) come back for those it would refuse.

use super::forward::forward_call;
use super::guest::Guest;
use super::Migrations;
use crate::ksys::errno::{enobufs, enosys};
use crate::ksys::task::cur;
use crate::omcore::packed::{self, MsgLayout, Received, MSG_HEAD};
use crate::omcore::{fwd, syscalls::nr};
use kernel::prelude::*;

/// Most entries of an iovec array (the kernel's `UIO_MAXIOV`).
const MAX_IOV: u64 = 1024;

/// Forwards call `nr`, which must be forwardable, with `input` as the contents of one of its
/// input arguments if given; with `collect`, its output buffer 1 comes back.
pub(crate) fn call(
    mig: &Migrations,
    g: &Guest,
    nr: u32,
    args: [u64; 6],
    input: Option<(usize, &[u8])>,
    collect: bool,
) -> Result<(i64, Option<KVec<u8>>)> {
    let spec = fwd::spec(nr, &args).ok_or(enosys())?;
    forward_call(mig, g, nr, &spec, args, input, collect)
}

/// `writev` as one `write` of the gathered buffers (at most [`fwd::MAX_BUF`] bytes).
pub(crate) fn writev(mig: &Migrations, g: &Guest, args: [u64; 6]) -> Result<i64> {
    let iov = read_iovecs(args[1], args[2])?;
    gathered(mig, g, &iov, nr::WRITE, [args[0], 0, 0, 0, 0, 0])
}

/// Makes the write-like call `nr` (`write`, `pwrite64`, `sendto`) with `args`, its buffer
/// (argument 1) the contents of `iov` gathered, at most [`fwd::MAX_BUF`] bytes, and its length
/// (argument 2) theirs: the twin of [`scatter`].
fn gathered(
    mig: &Migrations,
    g: &Guest,
    iov: &[(u64, u64)],
    nr: u32,
    mut args: [u64; 6],
) -> Result<i64> {
    let data = gather(iov, fwd::MAX_BUF)?;
    args[1] = 1;
    args[2] = data.len() as u64;
    call(mig, g, nr, args, Some((1, &data)), false).map(|(r, _)| r)
}

/// `preadv(fd, iov, iovcnt, pos, 0)` and `preadv2` with no flags as one `pread64` scattered
/// into the buffers, `pwritev` and `pwritev2` as one `pwrite64` of the gathered ones (on
/// x86-64 the position is all in argument 3; `preadv2`'s -1 means the file's own position: a
/// `read` or `write` then). Flags of `preadv2` and `pwritev2` are not handled: `ENOSYS`.
pub(crate) fn positional(mig: &Migrations, g: &Guest, nr: u32, args: [u64; 6]) -> Result<i64> {
    let two = matches!(nr, nr::PREADV2 | nr::PWRITEV2);
    if two && args[5] != 0 {
        return Err(enosys());
    }
    let here = two && args[3] as i64 == -1;
    let iov = read_iovecs(args[1], args[2])?;
    if matches!(nr, nr::PREADV | nr::PREADV2) {
        let (call_nr, pos) = if here {
            (nr::READ, 0)
        } else {
            (nr::PREAD64, args[3])
        };
        return scatter(mig, g, &iov, call_nr, [args[0], 1, 0, pos, 0, 0]);
    }
    let (call_nr, pos) = if here {
        (nr::WRITE, 0)
    } else {
        (nr::PWRITE64, args[3])
    };
    gathered(mig, g, &iov, call_nr, [args[0], 0, 0, pos, 0, 0])
}

/// A `struct msghdr` as the guest has it.
struct MsgHdr {
    name: u64,
    name_len: u64,
    iov: KVec<(u64, u64)>,
    control: u64,
    control_len: u64,
}

/// Offsets in `struct user_msghdr` of what a `recvmsg` updates: `msg_namelen`,
/// `msg_controllen`, `msg_flags`.
const MSG_NAMELEN: u64 = 8;
const MSG_CONTROLLEN: u64 = 40;
const MSG_FLAGS: u64 = 48;

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
        control: word(32),
        control_len: word(40),
    })
}

/// `sendmsg` with no control data as one `sendto` of the gathered buffers, to the message's
/// address if it has one.
pub(crate) fn sendmsg(mig: &Migrations, g: &Guest, args: [u64; 6]) -> Result<i64> {
    let m = read_msghdr(args[1])?;
    if m.control_len != 0 {
        return sendmsg_packed(mig, g, args, &m);
    }
    let (name, len) = if m.name == 0 {
        (0, 0)
    } else {
        (m.name, m.name_len)
    };
    gathered(
        mig,
        g,
        &m.iov,
        nr::SENDTO,
        [args[0], 0, 0, args[2], name, len],
    )
}

/// The address's length a message `m` gives, for a `sendmsg` (`EINVAL` past the largest
/// address, as the kernel answers) or, cut to the largest, for a `recvmsg`.
fn name_len(m: &MsgHdr, sending: bool) -> Result<usize> {
    let n = if m.name == 0 { 0 } else { m.name_len as usize };
    match n {
        n if n > packed::MAX_NAME && sending => Err(EINVAL),
        n => Ok(n.min(packed::MAX_NAME)),
    }
}

/// A packed message of layout `l` (`omcore::packed`), its address and control buffer read
/// from the guest's message `m` when `sending`, with `data`.
fn pack(l: &MsgLayout, m: &MsgHdr, sending: bool, data: &[u8]) -> Result<KVec<u8>> {
    let mut p = KVec::from_elem(0u8, l.total().ok_or(enobufs())?, GFP_KERNEL)?;
    let mut head = [0u8; MSG_HEAD];
    l.write_head(&mut head);
    p[..MSG_HEAD].copy_from_slice(&head);
    if sending {
        if l.name() > 0 {
            cur::read_user(m.name, &mut p[MSG_HEAD..MSG_HEAD + l.name()])?;
        }
        let c = l.control_at();
        cur::read_user(m.control, &mut p[c..c + l.control()])?;
        p[l.data_at()..].copy_from_slice(data);
    }
    Ok(p)
}

/// `sendmsg` with control messages (descriptors, credentials): the message is made whole at
/// home, where the descriptors it passes and the credentials it claims are the process's.
/// Control data over `packed::MAX_CONTROL` gets `ENOBUFS`, as over the kernel's own bound.
fn sendmsg_packed(mig: &Migrations, g: &Guest, args: [u64; 6], m: &MsgHdr) -> Result<i64> {
    let control = usize::try_from(m.control_len)
        .ok()
        .filter(|&c| c <= packed::MAX_CONTROL)
        .ok_or(enobufs())?;
    let name = name_len(m, true)?;
    let data = gather(&m.iov, MsgLayout::data_room(name, control, fwd::MAX_BUF))?;
    let l = MsgLayout::new(name, control, data.len(), fwd::MAX_BUF).ok_or(enobufs())?;
    let p = pack(&l, m, true, &data)?;
    let w = [args[0], 1, args[2], p.len() as u64, 0, 0];
    call(mig, g, nr::SENDMSG, w, Some((1, &p)), false).map(|(r, _)| r)
}

/// `recvmsg` with a control buffer: made whole at home (descriptors passed to the process are
/// installed in its table there), then its address, control messages, data, lengths and flags
/// written into the guest's message as the kernel writes them. The control buffer's room is cut
/// to `packed::MAX_CONTROL` (more is reported as `MSG_CTRUNC`, as by the kernel).
fn recvmsg_packed(mig: &Migrations, g: &Guest, args: [u64; 6], m: &MsgHdr) -> Result<i64> {
    let control = usize::try_from(m.control_len)
        .unwrap_or(usize::MAX)
        .min(packed::MAX_CONTROL);
    let name = name_len(m, false)?;
    let want = usize::try_from(total_len(&m.iov)?).unwrap_or(usize::MAX);
    let data = want.min(MsgLayout::data_room(name, control, fwd::MAX_BUF));
    let l = MsgLayout::new(name, control, data, fwd::MAX_BUF).ok_or(enobufs())?;
    let p = pack(&l, m, false, &[])?;
    let w = [args[0], 1, args[2] & 0xffff_ffff, p.len() as u64, 0, 0];
    let (res, out) = call(mig, g, nr::RECVMSG, w, Some((1, &p)), true)?;
    if res < 0 {
        return Ok(res);
    }
    // The reply is checked against what was asked: a deputy's lengths are not trusted further.
    let out = out.filter(|o| o.len() == p.len()).ok_or(EIO)?;
    let got = Received::of(&out, &l).ok_or(EIO)?;
    let n = usize::try_from(res)
        .ok()
        .filter(|&n| n <= l.data())
        .ok_or(EIO)?;
    let hdr = args[1];
    let field = |off: u64| hdr.checked_add(off).ok_or(EFAULT);
    if m.name != 0 {
        let cut = (got.name_len as usize).min(l.name());
        cur::write_user(m.name, &out[MSG_HEAD..MSG_HEAD + cut])?;
        cur::write_user(field(MSG_NAMELEN)?, &got.name_len.to_ne_bytes())?;
    }
    let c = l.control_at();
    if got.control_len > 0 {
        cur::write_user(m.control, &out[c..c + got.control_len])?;
    }
    cur::write_user(
        field(MSG_CONTROLLEN)?,
        &(got.control_len as u64).to_ne_bytes(),
    )?;
    cur::write_user(field(MSG_FLAGS)?, &got.flags.to_ne_bytes())?;
    let d = l.data_at();
    scatter_into(&m.iov, &out[d..d + n])?;
    Ok(res)
}

/// `recvmsg` with no control buffer as one `recvfrom`, scattered into the buffers; the source
/// address, if the message has room for one, and its length come back into the message as
/// `recvfrom` returns them (its length is carried as `fwd::returned_len` says); the message's
/// flags come back 0.
pub(crate) fn recvmsg(mig: &Migrations, g: &Guest, args: [u64; 6]) -> Result<i64> {
    let m = read_msghdr(args[1])?;
    if m.control_len != 0 {
        return recvmsg_packed(mig, g, args, &m);
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
        cur::write_user(
            args[1].checked_add(MSG_FLAGS).ok_or(EFAULT)?,
            &0u32.to_ne_bytes(),
        )?;
    }
    Ok(r)
}

/// `semctl(id, num, GETALL or SETALL, array)`: the set's size first (a forwarded `IPC_STAT`,
/// whose structure comes back here), then the call with it in argument 4, which the call does
/// not use and which says how long the array is (`fwd::spec`).
pub(crate) fn semctl_all(mig: &Migrations, g: &Guest, args: [u64; 6]) -> Result<i64> {
    let stat = [args[0], 0, 2, 1, 0, 0];
    let (r, ds) = call(mig, g, nr::SEMCTL, stat, None, true)?;
    let Some(ds) = ds.filter(|_| r == 0) else {
        return Ok(r);
    };
    // sem_nsems, after the 48-byte ipc64_perm and four words.
    let nsems = ds
        .get(80..88)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_ne_bytes)
        .ok_or(EIO)?;
    let all = [args[0], args[1], args[2], args[3], nsems, 0];
    call(mig, g, nr::SEMCTL, all, None, false).map(|(r, _)| r)
}

/// Size of a `struct mmsghdr`: a `struct msghdr` and the length sent or received (padded).
const MMSGHDR: u64 = 64;
/// Offset of `msg_len` in a `struct mmsghdr`.
const MMSG_LEN: u64 = 56;
/// `MSG_DONTWAIT`, `MSG_WAITFORONE`.
const MSG_DONTWAIT: u64 = 0x40;
const MSG_WAITFORONE: u64 = 0x10000;

/// `sendmmsg(fd, msgvec, vlen, flags)` or `recvmmsg(fd, msgvec, vlen, flags, timeout)`: a
/// `sendmsg` or `recvmsg` for each message in turn, its length written into its `msg_len`,
/// until one fails. As the kernel: the number of messages done, or the first one's error if
/// none was; at most `UIO_MAXIOV` messages. Receiving, after the first message the calls do not
/// wait if `MSG_WAITFORONE` is given, or a timeout (which the kernel itself only looks at
/// between messages).
pub(crate) fn mmsg(mig: &Migrations, g: &Guest, nr: u32, args: [u64; 6]) -> Result<i64> {
    let sending = nr == nr::SENDMMSG;
    let count = args[2].min(MAX_IOV);
    let flags = args[3] & 0xffff_ffff;
    let mut done = 0;
    while done < count {
        let at = done
            .checked_mul(MMSGHDR)
            .and_then(|o| args[1].checked_add(o))
            .ok_or(EFAULT)?;
        let r = if sending {
            sendmsg(mig, g, [args[0], at, flags, 0, 0, 0])
        } else {
            let mut f = flags & !MSG_WAITFORONE;
            if done > 0 && (flags & MSG_WAITFORONE != 0 || args[4] != 0) {
                f |= MSG_DONTWAIT;
            }
            recvmsg(mig, g, [args[0], at, f, 0, 0, 0])
        };
        match r {
            Ok(n) if n >= 0 => {
                cur::write_user(at + MMSG_LEN, &(n as u32).to_ne_bytes())?;
                done += 1;
            }
            Ok(e) if done == 0 => return Ok(e),
            Err(e) if done == 0 => return Err(e),
            _ => break,
        }
    }
    Ok(done as i64)
}

/// `pselect6` with a signal mask: its `{mask pointer, size}` pair and the mask go packed
/// (`omcore::packed::mask_pack`), and the deputy points the pair at the mask. A size other than
/// a mask's gets the kernel's `EINVAL`.
pub(crate) fn pselect6(mig: &Migrations, g: &Guest, args: [u64; 6]) -> Result<i64> {
    let mut pair = [0u8; 16];
    cur::read_user(args[5], &mut pair)?;
    let (mut ptr, mut size) = ([0u8; 8], [0u8; 8]);
    ptr.copy_from_slice(&pair[..8]);
    size.copy_from_slice(&pair[8..]);
    let size = u64::from_ne_bytes(size);
    if size != 8 {
        return Err(EINVAL);
    }
    let mut mask = [0u8; 8];
    cur::read_user(u64::from_ne_bytes(ptr), &mut mask)?;
    let p = packed::mask_pack(size, u64::from_ne_bytes(mask));
    call(mig, g, nr::PSELECT6, args, Some((5, &p)), false).map(|(r, _)| r)
}

/// `rt_sigpending(set, size)`: the signals waiting at home for the process (sent to its home
/// pid while it blocked them, they wait there) and those waiting here, both blocked.
pub(crate) fn sigpending(mig: &Migrations, g: &Guest, args: [u64; 6]) -> Result<i64> {
    // The kernel copies `size` bytes of the set, at most a whole one.
    let size = usize::try_from(args[1])
        .ok()
        .filter(|&s| s <= 8)
        .ok_or(EINVAL)?;
    let here = cur::pending_mask() & cur::blocked_mask();
    let (res, _) = call(mig, g, nr::RT_SIGPENDING, args, None, false)?;
    if res == 0 {
        let mut set = [0u8; 8];
        cur::read_user(args[0], &mut set[..size])?;
        let both = (u64::from_ne_bytes(set) | here).to_ne_bytes();
        cur::write_user(args[0], &both[..size])?;
    }
    Ok(res)
}

/// The contents of the buffers `iov`, at most `max` bytes.
fn gather(iov: &[(u64, u64)], max: usize) -> Result<KVec<u8>> {
    let mut data = KVec::new();
    for &(base, len) in iov.iter() {
        let room = max - data.len();
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
        scatter_into(iov, &data)?;
    }
    Ok(res)
}

/// Writes `data` into the buffers `iov`, one after the other.
fn scatter_into(iov: &[(u64, u64)], data: &[u8]) -> Result {
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
    Ok(())
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
