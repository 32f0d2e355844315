// SPDX-License-Identifier: GPL-2.0

//! The guest's side of a forwarded call: its input buffers read from its memory, the request
//! sent to its deputy, the wait for the reply, the outputs written back and the result set for
//! the return to user mode. It runs as task work in the guest, queued by the `sys_enter` hook
//! (the call itself was skipped there). The deputy's side is in `serve.rs`.

use super::config::POLL_MS;
use super::guest::{Guest, GuestState};
use super::Migrations;
use crate::error;
use crate::ksys::copy_exact;
use crate::ksys::task::{cur, Task};
use crate::ksys::thread;
use crate::omcore::frame::MessageKind;
use crate::omcore::fwd;
use crate::omcore::image::PAGE_SIZE;
use crate::omcore::syscalls::nr;
use core::sync::atomic::Ordering::Relaxed;
use kernel::prelude::*;
use kernel::time::msecs_to_jiffies;

/// How often a guest with a signal or task work pending looks for its call's answer, in ms.
const SIGNALLED_POLL_MS: u32 = 2;

/// Sets the guest's result of call `nr` on its way back to user mode.
pub(crate) fn set_result(nr: u32, result: i64) {
    let mut regs = cur::user_regs();
    // Interrupted at home: with a signal pending here the kernel restarts it or fails it with
    // EINTR as the handler says; with none, restart it now (as the kernel would).
    regs.finish_forwarded(nr, result, cur::signal_pending());
    cur::set_user_regs(&regs);
}

/// Reads a byte of each page of the guest's `len` bytes at `addr` (errors are the later
/// read's to report).
fn touch(addr: u64, len: usize) {
    let mut b = [0u8; 1];
    let end = addr.saturating_add(len as u64);
    let mut at = addr;
    while at < end {
        let _ = cur::read_user(at, &mut b);
        at = (at | (PAGE_SIZE as u64 - 1)).saturating_add(1);
    }
}

/// Sends call `nr` with `args`, forwarded as `spec` says, to the deputy and waits for its
/// reply; writes its outputs to the guest's memory. `input` gives the contents of one argument,
/// `(index, bytes)`, instead of the guest's memory (`writev`'s gathered buffers, a pack of
/// `omcore::packed`); with `collect`, the first output (by argument index: argument 1's for
/// `readv`, `recvmsg`, `fstat`) is returned instead of written.
pub(crate) fn forward_call(
    mig: &Migrations,
    g: &Guest,
    nr: u32,
    spec: &fwd::Spec,
    mut args: [u64; 6],
    input: Option<(usize, &[u8])>,
    collect: bool,
) -> Result<(i64, Option<KVec<u8>>)> {
    // Lengths beyond what one call carries are cut (a read or write transfers less, an
    // `epoll_wait` returns fewer events).
    for a in spec.iter() {
        if let Some((i, limit)) = a.count_limit() {
            args[i] = args[i].min(limit);
        }
    }
    // Input buffers go straight from the guest's memory into the frame; only strings, whose
    // length is known once read, pass through a buffer of their own.
    let mut strs: [Option<KVec<u8>>; 6] = Default::default();
    let mut lens: fwd::Lens = [None; 6];
    for (i, a) in spec.iter().enumerate() {
        if !a.is_input() || args[i] == 0 {
            continue;
        }
        lens[i] = Some(if let Some((_, d)) = input.filter(|&(at, _)| at == i) {
            d.len()
        } else if *a == fwd::Arg::Str {
            let mut v = KVec::from_elem(0u8, fwd::MAX_STR + 1, GFP_KERNEL)?;
            let n = cur::read_user_str(args[i], &mut v)?;
            v.truncate(n);
            let n = v.len();
            strs[i] = Some(v);
            n
        } else {
            a.len(&args).ok_or(EINVAL)?
        });
    }
    // The buffers read while the frame is built are touched first: a page of an area paged
    // from home comes now, by a call of its own, not under the connection's send.
    for (i, len) in lens.iter().enumerate() {
        if let Some(len) = *len {
            if strs[i].is_none() && input.is_none_or(|(at, _)| at != i) {
                touch(args[i], len);
            }
        }
    }
    let seq = {
        let mut q = g.inner.lock();
        // Pages read ahead are good until the process makes another call (which may change
        // the file at home).
        if nr != fwd::home::READ_FILE {
            q.ahead = None;
        }
        q.seq = q.seq.wrapping_add(1);
        q.reply = None;
        q.seq
    };
    let mut fault = None;
    g.building.store(true, Relaxed);
    let sent = mig.mesh.send_encoded(
        g.home,
        MessageKind::Syscall,
        fwd::request_len(&lens),
        true,
        |out| {
            let fill = |i: usize, dst: &mut [u8]| {
                if let Some(s) = &strs[i] {
                    return copy_exact(dst, s);
                } else if let Some((_, d)) = input.filter(|&(at, _)| at == i) {
                    return copy_exact(dst, d);
                } else if let Err(e) = cur::read_user(args[i], dst) {
                    fault = Some(e);
                    return false;
                }
                true
            };
            fwd::encode_request_with(out, g.mig_id, seq, nr, &args, &lens, fill).is_some()
        },
    );
    g.building.store(false, Relaxed);
    if let Some(e) = fault {
        return Err(e);
    }
    sent?;
    drop(strs);

    // Wait for the reply; a fatal signal or the loss of the home ends the wait.
    let payload = {
        let mut q = g.inner.lock();
        loop {
            if let Some(p) = q.reply.take() {
                break p;
            }
            if q.state == GuestState::Gone
                || cur::fatal_signal_pending()
                || !g.home_linked(&mig.mesh)
            {
                return Err(EINTR);
            }
            if cur::signal_pending() {
                // A signal or task work waits (a capture for a move: its home interrupts the
                // deputy's call): an interruptible wait would return at once, so a short
                // sleep until the answer comes, not a spin.
                drop(q);
                thread::pause_ms(SIGNALLED_POLL_MS);
                q = g.inner.lock();
                continue;
            }
            let _ =
                g.cv.wait_interruptible_timeout(&mut q, msecs_to_jiffies(POLL_MS));
        }
    };
    let reply = fwd::Reply::decode(&payload).map_err(|_| EIO)?;
    if reply.seq != seq || reply.check_with(spec, &args).is_err() {
        pr_warn!(
            "guest {}: bad reply from node {}\n",
            Task::current_pid(),
            g.home
        );
        return Err(EIO);
    }
    let mut one = None;
    for (i, b) in reply.bufs.iter().enumerate() {
        let Some(b) = b else { continue };
        if collect && one.is_none() {
            // readv: the caller scatters.
            let mut v = KVec::with_capacity(b.len(), GFP_KERNEL)?;
            v.extend_from_slice(b, GFP_KERNEL)?;
            one = Some(v);
            continue;
        }
        cur::write_user(args[i], b)?;
    }
    Ok((reply.result, one))
}

/// `st_mode`'s offset in `struct stat` on x86-64, and the file type bits in it.
const STAT_MODE_AT: usize = 24;
const S_IFMT: u32 = 0o170_000;
const S_IFREG: u32 = 0o100_000;
const S_IFBLK: u32 = 0o060_000;

/// Whether the guest's `fd` is a regular file or a block device at home (a forwarded `fstat`):
/// a read of those is never cut short but at the end of the file.
fn reads_whole(mig: &Migrations, g: &Guest, fd: u64) -> bool {
    let spec = fwd::spec(nr::FSTAT, &[0; 6]);
    // The stat buffer comes back here (`collect`): 1 only says that there is one.
    let Some(Ok((0, Some(st)))) =
        spec.map(|sp| forward_call(mig, g, nr::FSTAT, &sp, [fd, 1, 0, 0, 0, 0], None, true))
    else {
        return false;
    };
    let Some(m) = st.get(STAT_MODE_AT..STAT_MODE_AT + 4) else {
        return false;
    };
    let ty = u32::from_ne_bytes([m[0], m[1], m[2], m[3]]) & S_IFMT;
    ty == S_IFREG || ty == S_IFBLK
}

/// `read`, `write`, `pread64` or `pwrite64` (`nr`, with `spec`) of more bytes than one forwarded
/// call carries ([`fwd::MAX_BUF`]), made as as many calls as it takes: the kernel never cuts
/// a regular file's transfer short, and programs rely on it. The calls go on while each does
/// all it was asked and no fatal signal is pending (a signal at home interrupts the call there,
/// which then does less); a read goes on only on a regular file or a block device (a pipe or a
/// socket answers with what it has, and would block for more). The result is the bytes done,
/// or the first call's error when it did none.
pub(crate) fn forward_whole(
    mig: &Migrations,
    g: &Guest,
    nr: u32,
    spec: &fwd::Spec,
    args: [u64; 6],
) -> Result<i64> {
    // The kernel's own bound on one transfer (`MAX_RW_COUNT`).
    let total = args[2].min(0x7fff_f000);
    let positional = nr == nr::PREAD64 || nr == nr::PWRITE64;
    let reading = nr == nr::READ || nr == nr::PREAD64;
    let step = fwd::MAX_BUF as u64;
    let mut done = 0u64;
    loop {
        let want = (total - done).min(step);
        let mut a = args;
        a[1] = args[1].checked_add(done).ok_or(EFAULT)?;
        a[2] = want;
        if positional {
            a[3] = args[3].checked_add(done).ok_or(EINVAL)?;
        }
        let r = forward_call(mig, g, nr, spec, a, None, false).map(|(r, _)| r);
        let got = match r {
            Ok(n) if n >= 0 => n.unsigned_abs().min(want),
            // An error (or a restart) after some bytes: they are the result, as in the kernel.
            Ok(_) | Err(_) if done > 0 => return Ok(done as i64),
            other => return other,
        };
        done += got;
        if got < want || done >= total || cur::fatal_signal_pending() {
            return Ok(done as i64);
        }
        if done == got && reading && !reads_whole(mig, g, args[0]) {
            return Ok(done as i64);
        }
    }
}

impl Migrations {
    /// `SyscallReply` from `peer`: the result of a guest's forwarded call, kept as it came.
    pub(crate) fn on_reply(&self, peer: u32, payload: KVec<u8>) -> error::Result {
        let r = fwd::Reply::decode(&payload)?;
        // A reply for a guest that is gone is stale, not hostile.
        let Some(g) = self.guest(peer, r.mig_id) else {
            return Ok(());
        };
        g.inner.lock().reply = Some(payload);
        g.cv.notify_all();
        Ok(())
    }
}
