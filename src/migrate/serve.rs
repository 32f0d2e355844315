// SPDX-License-Identifier: GPL-2.0

//! The deputy at work, in its process's own context at home: the capture and the wait for the
//! answer ([`deputy_main`]), then serving the guest ([`deputy_serve`]): making its forwarded
//! calls at the trampoline in its scratch memory, forwarding the signals sent to the home pid,
//! following moves of the guest, and taking the process back when the guest comes home.
//!
//! Lock order (as in `migrate.rs`): `Migrations::deputies`, then a `Deputy::inner`, then the
//! mesh's locks. No lock is held across a send that waits for room: `forward_signals` marks the
//! deputy `signalling` under `inner` and sends without it, and a move waits for the mark to
//! clear (so that no signal crosses a move).

use super::capture::capture;
use super::config::{ANSWER_MS, GUEST_QUEUE_BYTES, POLL_MS};
use super::deputy::{Call, Deputy, DeputyInner, DeputyState, Exec, HomeFiles, JobStop};
use super::restore::{check_head, load_regs, restore_body, unmap_ordinary_areas, Restoring};
use super::revive;
use super::stream::{read_head, wait_for_room, wait_record, Dest, ImageSender, Inflow};
use super::{errno_of, homefile, moved, Migrations};
use crate::error::{self, syscall_result};
use crate::ksys::sys::now_ms;
use crate::ksys::task::{cur, ModuleRef, Task};
use crate::ksys::thread;
use crate::omcore::frame::MessageKind;
use crate::omcore::fwd;
use crate::omcore::image::{self, PAGE_SIZE};
use crate::omcore::moves::Outcome;
use crate::omcore::packed;
use crate::omcore::syscalls::nr;
use crate::omcore::syscalls::sig::{SIGCONT, SIGKILL, SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU};
use core::sync::atomic::Ordering::Relaxed;
use kernel::prelude::*;
use kernel::sync::Arc;
use kernel::time::msecs_to_jiffies;

/// Size of the deputy's scratch memory after its trampoline page.
const SCRATCH_DATA: u64 = 2 << 20;
/// Room kept free at the top of the scratch data for the stack of the call.
const SCRATCH_STACK: u64 = 64 * 1024;
/// Most signals taken off the deputy per batch of sends (a batch keeps a move waiting).
const SIGNAL_BATCH: usize = 16;
/// The trampoline page's code: the forwarded call (`syscall; ud2` at 0), then the deputy's
/// stop (see [`stop_deputy`]): `syscall` at [`STOP_AT`] (the stop signal to itself), `mov
/// eax, 39; syscall` (`getpid`, which brings it back to serving), `ud2`.
const TRAMPOLINE: [u8; 15] = [
    0x0f, 0x05, 0x0f, 0x0b, 0x0f, 0x05, 0xb8, 0x27, 0x00, 0x00, 0x00, 0x0f, 0x05, 0x0f, 0x0b,
];
/// Where the stop sequence starts in the trampoline page.
const STOP_AT: u64 = 4;

/// How a deputy ends: its wait status, and the module reference it held.
pub(crate) struct Ending {
    status: u32,
    module: Option<ModuleRef>,
}

/// Ends the calling deputy, if `end` says so: last thing the outermost task work does, once
/// it dropped everything it owned (`do_exit` does not return).
pub(crate) fn finish(end: Option<Ending>) {
    if let Some(Ending { status, module }) = end {
        // The reference goes right before the call into the core kernel's `do_exit`: only
        // the call instruction of this module runs after it (as kthreads did before
        // `module_put_and_kthread_exit`).
        drop(module);
        cur::exit(status);
    }
}

/// The deputy stops serving and is to end with wait status `status`.
fn deputy_end(mig: &Migrations, dep: &Deputy, status: u32) -> Ending {
    Ending {
        status,
        module: mig.retire_deputy(dep),
    }
}

/// Everything the deputy does, in the migrating process's own context.
#[inline(never)]
pub(crate) fn deputy_main(
    mig: &Arc<Migrations>,
    dep: &Arc<Deputy>,
    module: ModuleRef,
) -> Option<Ending> {
    let t0 = now_ms();
    let to = Dest {
        target: dep.target(),
        home: mig.mesh.self_id(),
        mig_id: dep.mig_id(),
        home_pid: dep.pid as u32,
        home_uid: cur::real_uid(),
    };
    // What the process blocks now its guest blocks when it starts.
    dep.guest_blocked.store(cur::blocked_mask(), Relaxed);
    let me = mig.mesh.self_id();
    let failed = |e: i32| Outcome {
        error: errno_of(e),
        ..moved(dep.pid, me, dep.target(), dep.asked_by)
    };
    // The capture goes at the CPU's pace, not at the process's share of it.
    let boost = thread::Boost::new();
    // From home: no CPU time used away to carry (what it used before is counted here).
    // Its file mappings travel paged from home, from the files that `files` holds for the
    // deputy to read (before it serves a call).
    // (`admin/page_files`: else they travel as memory).
    let mut files = HomeFiles::default();
    let paging = mig.page_files.load(Relaxed).then_some(&mut files);
    let captured =
        ImageSender::new(&mig.mesh, &to).and_then(|tx| capture(tx, &to, None, [0, 0], paging));
    drop(boost);
    dep.inner.lock().files = files;
    let pages = match captured {
        Ok(p) => p,
        Err(e) => {
            pr_warn!(
                "migrate {} to node {}: capture failed: error {}; it stays home\n",
                dep.pid,
                dep.target(),
                e.to_errno()
            );
            // Tell the target to drop what it got.
            mig.signal_guest(dep, SIGKILL, false);
            mig.out_failed.fetch_add(1, Relaxed);
            mig.record_move(failed(e.to_errno()));
            mig.forget_deputy(dep);
            return None;
        }
    };
    // Wait for the answer.
    let sent = now_ms();
    loop {
        let mut i = dep.inner.lock();
        match i.state {
            DeputyState::Sending => {
                if !dep.host_linked(&mig.mesh) || now_ms().saturating_sub(sent) > ANSWER_MS {
                    drop(i);
                    pr_warn!(
                        "migrate {} to node {}: no answer; it stays home\n",
                        dep.pid,
                        dep.target()
                    );
                    mig.signal_guest(dep, SIGKILL, false);
                    mig.out_failed.fetch_add(1, Relaxed);
                    mig.record_move(failed(ETIMEDOUT.to_errno()));
                    mig.forget_deputy(dep);
                    return None;
                }
                let _ = dep
                    .cv
                    .wait_interruptible_timeout(&mut i, msecs_to_jiffies(POLL_MS));
            }
            DeputyState::Failed(e) => {
                drop(i);
                pr_warn!(
                    "migrate {} to node {}: refused: error {}; it stays home\n",
                    dep.pid,
                    dep.target(),
                    e
                );
                mig.out_failed.fetch_add(1, Relaxed);
                mig.record_move(failed(e));
                mig.forget_deputy(dep);
                return None;
            }
            DeputyState::Remote(gpid) => {
                drop(i);
                let kib = pages * (PAGE_SIZE as u64 / 1024);
                let frozen = now_ms().saturating_sub(t0);
                pr_info!(
                    "process {} now runs on node {} (pid {} there; {} KiB of pages, frozen {} ms)\n",
                    dep.pid,
                    dep.target(),
                    gpid,
                    kib,
                    frozen
                );
                mig.out_ok.fetch_add(1, Relaxed);
                mig.record_move(Outcome {
                    kib: Some(kib),
                    frozen_ms: Some(frozen),
                    ..moved(dep.pid, me, dep.target(), dep.asked_by)
                });
                break;
            }
            DeputyState::Exited(_) => {
                // It ran there, and ended before the answer came.
                drop(i);
                mig.record_move(moved(dep.pid, me, dep.target(), dep.asked_by));
                break;
            }
        }
    }
    // The guest runs: this process is its deputy from now on. It keeps no memory of its own
    // but a scratch area where it makes the guest's forwarded calls.
    if let Err(e) = unmap_ordinary_areas() {
        pr_warn!(
            "process {}: its deputy kept some memory: error {}\n",
            dep.pid,
            e.to_errno()
        );
    }
    match map_scratch() {
        Ok(base) => {
            let mut i = dep.inner.lock();
            i.scratch = base;
            i.task = Some(Task::current());
        }
        Err(e) => {
            pr_warn!(
                "process {}: no scratch memory for its deputy: error {}\n",
                dep.pid,
                e.to_errno()
            );
        }
    }
    if mig.start_serving(dep, module).is_err() {
        // Without hooks the deputy cannot make forwarded calls: the guest must go.
        mig.signal_guest(dep, SIGKILL, false);
        return Some(deputy_end(mig, dep, SIGKILL));
    }
    deputy_serve(mig, dep)
}

/// Maps the deputy's scratch memory: a page with the [`TRAMPOLINE`], then data and a stack.
fn map_scratch() -> Result<u64> {
    let code = cur::map_anywhere(
        PAGE_SIZE as u64 + SCRATCH_DATA,
        image::PROT_READ | image::PROT_WRITE,
    )?;
    // The trampoline page is read-only and executable: remapped so, then written by force.
    cur::unmap(code, PAGE_SIZE as u64)?;
    cur::map_anon(
        code,
        PAGE_SIZE as u64,
        image::PROT_READ | image::PROT_EXEC,
        false,
    )?;
    cur::write_user(code, &TRAMPOLINE)?;
    Ok(code)
}

/// Serves the guest in the deputy's context: forwards signals, and makes the next forwarded
/// call by returning to user mode at the trampoline (the `sys_exit` hook brings it back to
/// [`deputy_resume`]); takes the process back when its guest comes home. Says how the deputy
/// ends when the guest ended or was lost; `None` to return to user mode.
#[inline(never)]
fn deputy_serve(mig: &Migrations, dep: &Deputy) -> Option<Ending> {
    // Signals wake the deputy here, but for those its guest blocks and would take the default
    // action of; they are all blocked whenever it is in user mode, at the trampoline, where it
    // has no handlers (see `hooks.rs`).
    deputy_mask(dep);
    loop {
        if let DeputyState::Exited(s) = dep.state() {
            // The CPU time its guest used counts as the process's, for its parent's wait too.
            cur::account_away(dep.inner.lock().exited_cpu_ns);
            return Some(deputy_end(mig, dep, s));
        }
        if cur::fatal_signal_pending() {
            // A signal whose default action kills (or SIGKILL) was sent to the home pid: the
            // guest dies of the same signal, and so does the deputy.
            let code = match cur::group_exit_code() & 0x7f {
                0 => SIGKILL,
                sig => sig,
            };
            mig.signal_guest(dep, code, false);
            return Some(deputy_end(mig, dep, code));
        }
        if dep.inner.lock().coming_home() {
            match come_home(mig, dep) {
                Ok(()) => return None,
                Err(e) => give_up_hop(mig, dep, e),
            }
            continue;
        }
        check_hop(mig, dep);
        let held = forward_signals(mig, dep);
        if !dep.host_linked(&mig.mesh) {
            if revive::on_host_lost(mig, dep) {
                return None;
            }
            pr_warn!(
                "process {}: node {} {} with its guest: killed\n",
                dep.pid,
                dep.target(),
                mig.loss(dep.target())
            );
            return Some(deputy_end(mig, dep, SIGKILL));
        }
        let mut i = dep.inner.lock();
        if let JobStop::Due(sig) = i.job {
            if i.scratch != 0 {
                stop_deputy(dep, &mut i, sig);
                return None;
            }
            i.job = JobStop::Running;
        }
        if let Some(call) = i.call.take() {
            let scratch = i.scratch;
            drop(i);
            if call.req.nr == fwd::home::MAP_FILE || call.req.nr == fwd::home::READ_FILE {
                homefile::serve(mig, dep, &call);
                continue;
            }
            if call.req.nr == nr::RT_SIGPROCMASK {
                // The guest's new blocked mask (the only form `fwd::spec` lets through).
                let mask = call.req.bufs(&call.payload)[1]
                    .and_then(|b| b.try_into().ok())
                    .map(u64::from_ne_bytes);
                if let Some(mask) = mask {
                    dep.guest_blocked.store(mask, Relaxed);
                    deputy_mask(dep);
                    // What it unblocked goes to it before the reply: it takes the signals as
                    // it returns from `rt_sigprocmask`, as it would at home.
                    forward_signals(mig, dep);
                }
                dep.inner.lock().slot.close();
                let r = if mask.is_some() {
                    0
                } else {
                    syscall_result(EINVAL)
                };
                send_reply(mig, dep, call.req.seq, r);
                continue;
            }
            match start_call(&call, scratch) {
                Ok(exec) => {
                    dep.inner.lock().exec = Some(exec);
                    // To user mode: the trampoline makes the call. A signal that comes from
                    // now on waits, blocked, and interrupts the call when it starts.
                    cur::block_signals(true);
                    return None;
                }
                Err(e) => {
                    // The reply goes now: the guest may send its next call.
                    dep.inner.lock().slot.close();
                    send_reply(mig, dep, call.req.seq, syscall_result(e));
                }
            }
            continue;
        }
        if held {
            // Signals wait for the move to end: an interruptible wait would return at once.
            drop(i);
            thread::pause_ms(10);
            continue;
        }
        let _ = dep
            .cv
            .wait_interruptible_timeout(&mut i, msecs_to_jiffies(POLL_MS));
    }
}

/// Stops the deputy with stop signal `sig`, which its guest was sent (see [`JobStop`]): it
/// returns to user mode at the trampoline's stop sequence, where it sends `sig` to itself with
/// every other signal blocked (the `sys_enter` hook sets the mask) and the kernel stops it as
/// the call returns, as it stops any process: the parent is told, `SIGCONT` continues it. Then
/// the sequence's `getpid` brings it back to serving (`deputy_resume`), where it sends the
/// `SIGCONT` it took, blocked, on to the guest.
fn stop_deputy(dep: &Deputy, i: &mut DeputyInner, sig: u32) {
    i.job = JobStop::Stopping(sig);
    i.exec = Some(Exec {
        seq: 0,
        spec: [fwd::Arg::Int; 6],
        outs: [None; 6],
        interrupted_under: None,
    });
    let pid = dep.pid as u64;
    let mut regs = cur::user_regs();
    let top = i.scratch + PAGE_SIZE as u64 + SCRATCH_DATA - 16;
    regs.set_call(
        nr::TGKILL,
        &[pid, pid, u64::from(sig), 0, 0, 0],
        i.scratch + STOP_AT,
        top,
    );
    cur::set_user_regs(&regs);
    cur::block_signals(true);
}

/// Whether `sig`, taken off the deputy, stops its process: `Some(true)` for `SIGSTOP`, and for
/// `SIGTSTP`, `SIGTTIN`, `SIGTTOU` with the default action (the deputy's actions mirror the
/// guest's); `Some(false)` for those three when the process group at home is orphaned, where
/// the kernel discards them; `None` for any other signal, or one the guest catches or ignores.
fn stops(sig: u32) -> Option<bool> {
    match sig {
        SIGSTOP => Some(true),
        SIGTSTP | SIGTTIN | SIGTTOU => {
            let mut s = cur::SigState::new().ok()?;
            cur::signals(&mut s);
            (s.act[sig as usize - 1][0] == 0).then(|| !cur::pgrp_orphaned())
        }
        _ => None,
    }
}

/// The deputy's mask between forwarded calls: of the signals its guest blocks, those whose
/// action is the default. They wait at home, pending, as they would if the process were there
/// (one whose default is to end the process would otherwise end the deputy as it is sent); the
/// others wake the deputy, which forwards them, and wait at the guest if it blocks them.
fn deputy_mask(dep: &Deputy) {
    cur::set_blocked_mask(deputy_blocks(dep), true);
}

/// What the deputy blocks of the guest's mask: all of it, and `SIGCONT`, which the deputy
/// would otherwise ignore as it is sent (its default action) instead of forwarding it to a
/// guest that a `SIGSTOP` stopped. Blocked, it is queued and taken all the same
/// (`cur::dequeue_signal`), within `POLL_MS`.
pub(crate) fn deputy_blocks(dep: &Deputy) -> u64 {
    dep.guest_blocked.load(Relaxed) | 1 << (SIGCONT - 1)
}

/// Gives up a move of the guest that is not answered in time, or whose target went down: the
/// guest stays where it is (its host gets the verdict), a partial image at the target goes.
fn check_hop(mig: &Migrations, dep: &Deputy) {
    let Some(hop) = dep.inner.lock().hop else {
        return;
    };
    // Given up after `ANSWER_MS` without a word: from the request, or from the old host's
    // latest report of how far the image got (a large image takes longer than that).
    let late = now_ms().saturating_sub(hop.heard) > ANSWER_MS;
    if late || (!hop.home && !mig.mesh.peer_up(hop.target)) {
        give_up_hop(mig, dep, ETIMEDOUT);
    }
}

/// Ends the move under way with error `e`: tells the host (its guest goes on) and the target.
pub(crate) fn give_up_hop(mig: &Migrations, dep: &Deputy, e: Error) {
    let hop = {
        let mut i = dep.inner.lock();
        i.inflow = None;
        i.hop.take()
    };
    let Some(hop) = hop else {
        return;
    };
    mig.out_failed.fetch_add(1, Relaxed);
    mig.record_move(Outcome {
        error: errno_of(e.to_errno()),
        ..moved(dep.pid, dep.target(), hop.target, hop.asked_by)
    });
    pr_warn!(
        "process {}: move from node {} to node {} failed: error {}; it stays on node {}\n",
        dep.pid,
        dep.target(),
        hop.target,
        e.to_errno(),
        dep.target()
    );
    mig.send_verdict(dep.target(), dep.mig_id(), e.to_errno(), true);
    if !hop.home {
        mig.send_signal(hop.target, hop.mig_id, SIGKILL, false);
    }
    dep.cv.notify_all();
}

/// The guest comes home: the deputy replaces its scratch memory with the image its host sends,
/// tells the host to end the guest, and returns to user mode as the process itself. On an
/// error the deputy gets scratch memory again and serves on (the guest goes on remotely).
#[inline(never)]
fn come_home(mig: &Migrations, dep: &Deputy) -> Result {
    let host = dep.target();
    let t0 = now_ms();
    let mut next = || wait_record(&dep.inner, &dep.cv, host, DeputyInner::inflow);
    let head = read_head(&mut next)?;
    if head.begin.home_node != mig.mesh.self_id() || head.begin.home_pid != dep.pid as u32 {
        pr_warn!(
            "process {}: image from node {} is not its own\n",
            dep.pid,
            host
        );
        return Err(EINVAL);
    }
    check_head(&head, host)?;
    let boost = thread::Boost::new();
    // The files its areas paged from are mapped again, at home, by the restore.
    let files = core::mem::take(&mut dep.inner.lock().files);
    let restored = restore_body(&mut next, &head, Restoring::Home(&files), host);
    drop(boost);
    if let Err(e) = restored {
        dep.inner.lock().files = files;
        // Its memory is gone: serve on with new scratch memory.
        let _ = unmap_ordinary_areas();
        let base = map_scratch();
        dep.inner.lock().scratch = *base.as_ref().unwrap_or(&0);
        return Err(e);
    }
    // Nothing can fail any more: the guest must end before the process runs here.
    mig.send_verdict(host, dep.mig_id(), 0, true);
    if let Ok((away, _)) = restored {
        // The CPU time it used on hosts counts as the process's own from now on.
        cur::account_away(away);
    }
    load_regs(&head.regs, &head.xstate);
    mig.in_ok.fetch_add(1, Relaxed);
    let frozen = now_ms().saturating_sub(t0);
    pr_info!(
        "process {} is back home from node {} (frozen {} ms)\n",
        dep.pid,
        host,
        frozen
    );
    let hop = {
        let mut i = dep.inner.lock();
        i.inflow = None;
        i.task = None;
        i.hop.take()
    };
    let me = mig.mesh.self_id();
    mig.record_move(Outcome {
        frozen_ms: Some(frozen),
        ..moved(dep.pid, host, me, hop.map_or(0, |h| h.asked_by))
    });
    let module = mig.retire_deputy(dep);
    // Module code runs on for a few instructions back to the task-work runner: the module's
    // exit waits for every task to be out of its code (`task::wait_tasks_off_module`).
    drop(module);
    Ok(())
}

/// Takes every pending signal off the deputy and sends it to the guest. While the guest moves,
/// they wait on the deputy, for the new host (or the old one, if the move fails); says whether
/// some wait.
///
/// A batch of signals is taken off and sent with the deputy marked `signalling` (set under
/// `inner` only while no move is under way); a move waits for the mark to clear before it
/// starts (`Migrations::move_guest`). So a signal goes out either before the move's `Depart`
/// on the same connection (the old host has it before it captures the guest, and it travels in
/// the image) or once the move is over, never to a guest that is already captured. The sends
/// may wait for room in the connection's queue; `inner` is not held meanwhile, so the
/// connection's `omx-rx` thread, which takes it for every frame about this deputy, goes on.
fn forward_signals(mig: &Migrations, dep: &Deputy) -> bool {
    loop {
        let continued = {
            let mut i = dep.inner.lock();
            if i.hop.is_some() {
                return cur::signal_pending();
            }
            i.signalling = true;
            core::mem::take(&mut i.continued)
        };
        // Each with its siginfo: the guest's handler sees it as here.
        let mut sigs = [(0u32, None); SIGNAL_BATCH];
        let mut n = 0;
        // Back from a stop whose `SIGCONT` is no longer queued (a stop signal sent since took it
        // out): the guest is continued first all the same, before that stop signal reaches it
        // (a `SIGCONT` after it would take it out of the guest's queue in turn).
        if continued && cur::pending_mask() >> (SIGCONT - 1) & 1 == 0 {
            sigs[0] = (SIGCONT, None);
            n = 1;
        }
        while n < SIGNAL_BATCH {
            let t = cur::dequeue_signal_info(false);
            if t.sig == 0 {
                break;
            }
            sigs[n] = (t.sig, Some(t.info));
            n += 1;
        }
        // Once a send failed (the queue stayed full for the send's whole time limit, or the
        // connection is gone), the rest of the batch does not wait again.
        let mut wait = true;
        let mut stop = None;
        for &(sig, from) in &sigs[..n] {
            // A stop: the guest gets `SIGSTOP` (its host would judge another stop signal by
            // the process group the guest has there, not the home's), and the deputy stops.
            let (sent, from) = match stops(sig) {
                Some(false) => continue,
                Some(true) => {
                    stop = Some(sig);
                    (SIGSTOP, None)
                }
                None => (sig, from),
            };
            if mig.try_signal_guest_from(dep, sent, from, wait).is_err() {
                wait = false;
            }
        }
        let asked = {
            let mut i = dep.inner.lock();
            if let Some(sig) = stop {
                i.job = JobStop::Due(sig);
            }
            i.signalling = false;
            i.move_asked.take()
        };
        dep.cv.notify_all();
        if let Some(target) = asked {
            // Asked by the host while the signals went out: the move starts now (a failure
            // was logged; the guest stays where it is).
            let _ = mig.move_guest(dep, target, true);
            return cur::signal_pending();
        }
        if n < SIGNAL_BATCH {
            return false;
        }
    }
}

/// Sets the deputy's registers to make `call`, its inputs copied to scratch memory.
fn start_call(call: &Call, scratch: u64) -> Result<Exec> {
    let r = &call.req;
    if scratch == 0 {
        return Err(ENOMEM);
    }
    let bufs = r.bufs(&call.payload);
    let data = scratch + PAGE_SIZE as u64;
    let placed =
        fwd::place(&r.spec, &r.args, &bufs, data, SCRATCH_DATA - SCRATCH_STACK).ok_or(E2BIG)?;
    let mut outs = [None; 6];
    for (i, at) in placed.at.iter().enumerate() {
        let Some((addr, len)) = *at else { continue };
        if let Some(b) = bufs[i] {
            cur::write_user(addr, b)?;
        }
        if r.spec[i].is_output() {
            outs[i] = Some((addr, len));
        }
    }
    // A packed structure's pointers point into the pack itself, set from its lengths alone
    // (`omcore::packed`; checked when the request was parsed).
    if let Some(i) = packed::packed_arg(r.nr, &r.args) {
        let (Some((addr, _)), Some(b)) = (placed.at[i], bufs[i]) else {
            return Err(EINVAL);
        };
        let ptrs = packed::pointers(r.nr, b, addr).ok_or(EINVAL)?;
        for (off, value) in ptrs.into_iter().flatten() {
            let at = addr.checked_add(off as u64).ok_or(EINVAL)?;
            cur::write_user(at, &value.to_ne_bytes())?;
        }
    }
    let mut regs = cur::user_regs();
    // The call at the trampoline; its stack at the top of the scratch memory.
    regs.set_call(r.nr, &placed.args, scratch, data + SCRATCH_DATA - 16);
    cur::set_user_regs(&regs);
    Ok(Exec {
        seq: r.seq,
        spec: r.spec,
        outs,
        interrupted_under: None,
    })
}

/// Sends the reply to call `seq`: its result and no buffers.
fn send_reply(mig: &Migrations, dep: &Deputy, seq: u32, result: i64) {
    dep.reply(&mig.mesh, seq, result, None);
}

/// Back from a forwarded call the deputy made (task work queued by the `sys_exit` hook): sends
/// the result and the outputs to the guest, then serves on.
pub(crate) fn deputy_resume(mig: &Migrations, dep: &Deputy) -> Option<Ending> {
    let exec = {
        let mut i = dep.inner.lock();
        let exec = i.exec.take()?;
        if i.job == JobStop::Back {
            // Back from its stop (see `stop_deputy`): no guest waits for this call; the guest
            // goes on too (`forward_signals`).
            i.job = JobStop::Running;
            i.continued = true;
            drop(i);
            return deputy_serve(mig, dep);
        }
        // Its reply goes below: the guest may send its next call from then on.
        i.slot.close();
        exec
    };
    let result = cur::user_regs().result();
    let mut lens: fwd::Lens = [None; 6];
    if result >= 0 {
        for (i, o) in exec.outs.iter().enumerate() {
            if let Some((_, len)) = *o {
                lens[i] = Some(exec.spec[i].written(len, result as u64));
            }
        }
    }
    // Signals that interrupted the call go to the guest first, so that it sees them with the
    // result (restart or EINTR as at home); those of a call made under a temporary mask, as
    // that mask lets them through (the guest takes them under it too: `hooks.rs`).
    match exec.interrupted_under {
        Some(temp) => cur::set_blocked_mask(temp, false),
        None => deputy_mask(dep),
    }
    forward_signals(mig, dep);
    // The outputs go straight from the scratch memory into the frame.
    let sent = mig.mesh.send_encoded(
        dep.target(),
        MessageKind::SyscallReply,
        fwd::reply_len(&lens),
        true,
        |out| {
            let fill = |i: usize, dst: &mut [u8]| {
                exec.outs[i].is_some_and(|(addr, _)| cur::read_user(addr, dst).is_ok())
            };
            fwd::encode_reply_with(out, dep.mig_id(), exec.seq, result, &lens, fill).is_some()
        },
    );
    if sent == Err(EINVAL) {
        // An output could not be read back (never expected of the deputy's own scratch
        // memory): the result goes without it.
        send_reply(mig, dep, exec.seq, result);
    }
    deputy_serve(mig, dep)
}

impl Migrations {
    /// `Syscall` from `peer`: a call for one of this node's deputies, checked once here. A
    /// guest makes one call at a time: a request that comes while its previous one has not been
    /// answered is refused (the connection closes), so a deputy holds at most one request.
    pub(crate) fn on_syscall(&self, peer: u32, payload: KVec<u8>) -> error::Result {
        let req = fwd::parse(&payload)?;
        let Some(dep) = self.deputy(peer, req.mig_id) else {
            // Its deputy is gone (the process was killed as the call left): stale, not hostile.
            // The guest must not go on without it.
            self.send_signal(peer, req.mig_id, SIGKILL, false);
            return Ok(());
        };
        let mut i = dep.inner.lock();
        i.slot.open(req.seq)?;
        i.call = Some(Call { payload, req });
        drop(i);
        dep.cv.notify_all();
        Ok(())
    }

    /// `MigImage` from `peer` for a process of this node coming home from there.
    pub(crate) fn on_image_home(
        &self,
        peer: u32,
        mig_id: u32,
        payload: KVec<u8>,
        at: usize,
    ) -> error::Result {
        let mine = |i: &DeputyInner| i.hop.as_ref().is_some_and(|h| h.mig_id == mig_id && h.home);
        // The deputy whose guest, on `peer`, is coming home as migration `mig_id` (several
        // deputies may have their guests on one host: `admin/bring`).
        let Some(dep) = self
            .deputies
            .lock()
            .iter()
            .find(|d| d.target() == peer && mine(&d.inner.lock()))
            .cloned()
        else {
            return Ok(());
        };
        let i = dep.inner.lock();
        let mut i = wait_for_room(&dep.cv, i, |i| {
            mine(i)
                && i.inflow
                    .as_ref()
                    .is_some_and(|f| f.bytes > GUEST_QUEUE_BYTES)
        });
        if !mine(&i) {
            // Given up, or not for this deputy: stale.
            return Ok(());
        }
        i.inflow.get_or_insert_with(Inflow::new).push(payload, at)?;
        drop(i);
        dep.cv.notify_all();
        Ok(())
    }
}
