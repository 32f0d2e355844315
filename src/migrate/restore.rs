// SPDX-License-Identifier: GPL-2.0

//! Restore: an image replaces the calling process's memory, signal state, limits, names and,
//! last, registers. It runs in the guest stub on a host (which has dropped every privilege
//! before it asks), in a deputy taking its process back at home, and in a process restarted
//! from a checkpoint; the same checks apply to all: every record has passed the image's reader
//! (`omcore::image`), [`check_head`] checks the head against this node (`omcore::restore`: the
//! FPU state before it can reach `XRSTOR`) before anything is replaced, and every area is
//! checked against this node's lowest mappable address before it is mapped. A process coming
//! home or restarted keeps no limit above what it has.

use super::deputy::HomeFiles;
use super::stream::{Head, Owned};
use crate::ksys::homemap;
use crate::ksys::task::cur;
use crate::ksys::Disp;
use crate::omcore::image::{self, VmaKind, MM_VDSO, NLIMITS, NREGS};
use crate::omcore::restore::{check_area, check_layout, check_xstate, limits_coming_home};
use kernel::prelude::*;

/// Where an image is restored: which rules apply to its limits, and what its areas paged from
/// home become.
#[derive(Clone, Copy)]
pub(crate) enum Restoring<'a> {
    /// A guest on a host: the limits the process had at home; an area paged from home is
    /// paged from home again.
    Guest,
    /// The process itself at home: no limit above what it has at home (`omcore::restore`);
    /// an area paged from home maps its file (of the deputy's table) again.
    Home(&'a HomeFiles),
    /// A checkpoint restarted as a new process: no limit above what it has now; it has no
    /// area paged from home (a checkpoint carries every page).
    Restart,
}

/// Unmaps every area of the calling process but the special mappings (vDSO): a deputy keeps
/// none of its memory, a guest stub makes room for the image. Its restartable-sequences
/// registration goes first: its area is gone too, and the kernel would write the CPU ids
/// there (and kill the task when it cannot) on the next way back to user mode.
pub(crate) fn unmap_ordinary_areas() -> Result {
    cur::set_rseq(0, 0, 0)?;
    let mut addr = 0;
    while let Some(a) = cur::area_after(addr)? {
        addr = a.end;
        if !a.special {
            cur::unmap(a.start, a.end - a.start)?;
        }
    }
    Ok(())
}

/// Checks what the head says against this node and the calling process before anything is
/// replaced: the FPU state must be in this node's format with only user components and valid
/// reserved bits (`omcore::restore::check_xstate`), a memory layout a process could set itself
/// (`check_layout`), the vDSO where the image has it.
pub(crate) fn check_head(head: &Head, from: u32) -> Result {
    let node = cur::fpu_format();
    if let Err(e) = check_xstate(&node, head.begin.xfeatures, &head.xstate) {
        pr_warn!("image from node {}: {}\n", from, Disp(&e));
        return Err(EINVAL);
    }
    if let Err(e) = check_layout(&head.mm, cur::mmap_min_addr()) {
        pr_warn!("image from node {}: {}\n", from, Disp(&e));
        return Err(EINVAL);
    }
    let here = cur::mm_layout()?;
    let vdso = head.mm[MM_VDSO];
    if vdso != 0 && here[MM_VDSO] != vdso {
        pr_warn!("image from node {}: vDSO not at {:#x}\n", from, vdso);
        return Err(EINVAL);
    }
    Ok(())
}

/// Sets the signal state from a `Signals` record the reader accepted.
#[inline(never)]
fn restore_signals(body: &[u8]) -> Result {
    let sig = KBox::new(
        image::Signals::decode(body).map_err(|_| EINVAL)?,
        GFP_KERNEL,
    )?;
    let mut s = cur::SigState::new()?;
    s.blocked = sig.blocked;
    s.alt = [sig.altstack.0, sig.altstack.2, u64::from(sig.altstack.1)];
    for (a, b) in s.act.iter_mut().zip(sig.actions.iter()) {
        *a = [b.0, b.1, b.2, b.3];
    }
    cur::set_signals(&s);
    super::capture::raise_pending(sig.pending);
    Ok(())
}

/// `MAP_FIXED_NOREPLACE` of `mmap`: the address exactly, never over another area.
const MAP_FIXED_NOREPLACE: u64 = 0x10_0000;

/// Maps area `start..end` (checked) of `kind` `HomeFile` or `HomeShared`, paging from file
/// `file` at page `pgoff`: on a host, paged from home again; at home, the file itself.
#[allow(clippy::too_many_arguments)]
fn map_from_home(
    start: u64,
    end: u64,
    prot: u8,
    kind: VmaKind,
    file: u16,
    pgoff: u64,
    into: Restoring<'_>,
    from: u32,
) -> Result {
    let shared = kind == VmaKind::HomeShared;
    let len = end - start;
    match into {
        Restoring::Guest => {
            let at = homemap::map_home(
                start,
                len,
                // The image's protection bits are `mmap`'s.
                u64::from(prot),
                MAP_FIXED_NOREPLACE,
                pgoff,
                homemap::cookie_of(file, shared),
            )?;
            if at != start {
                return Err(ENOMEM);
            }
            Ok(())
        }
        Restoring::Home(files) => {
            let Some(f) = files.get(file) else {
                pr_warn!("image from node {}: area of unknown file {}\n", from, file);
                return Err(EINVAL);
            };
            let off = pgoff.checked_mul(homemap::PAGE as u64).ok_or(EINVAL)?;
            f.map_fixed(start, len, u64::from(prot), shared, off)
        }
        Restoring::Restart => {
            pr_warn!("checkpoint image: an area paged from home\n");
            Err(EINVAL)
        }
    }
}

/// Replaces the calling process's memory, signal state, limits and names with the rest of the
/// image (after its head), record by record from `next`, `into` a guest or the process at
/// home; `from` is the sending node (for the log). Returns the CPU time the process used away
/// from home (user, system, in ns) and its real user id at home, which the image carries.
#[inline(never)]
pub(crate) fn restore_body(
    next: &mut dyn FnMut() -> Result<(KVec<u8>, Owned)>,
    head: &Head,
    into: Restoring<'_>,
    from: u32,
) -> Result<([u64; 2], u32)> {
    // Read before anything is replaced: what the process has at home.
    let home_limits = cur::rlimits();
    let min_addr = cur::mmap_min_addr();
    // Everything but the special mappings goes.
    unmap_ordinary_areas()?;
    let mut sig = None;
    let mut limits = None;
    let mut misc = None;
    loop {
        let (body, rec) = next()?;
        match rec {
            Owned::Vma(start, end, prot, kind, file, pgoff) => {
                if let Err(e) = check_area(start, end, min_addr) {
                    pr_warn!("image from node {}: {}\n", from, Disp(&e));
                    return Err(EPERM);
                }
                if kind.from_home() {
                    map_from_home(start, end, prot, kind, file, pgoff, into, from)?;
                } else {
                    cur::map_anon(start, end - start, prot, kind == VmaKind::Stack)?
                }
            }
            Owned::Pages(addr) => cur::write_user(addr, body.get(8..).ok_or(EINVAL)?)?,
            Owned::Signals => sig = Some(body),
            Owned::Limits(l) => limits = Some(l),
            Owned::Misc(m) => misc = Some(m),
            Owned::End => break,
            _ => return Err(EINVAL),
        }
    }
    let layout: [u64; MM_VDSO] = core::array::from_fn(|i| head.mm[i]);
    cur::set_mm_layout(&layout);
    if let Some(body) = sig {
        restore_signals(&body)?;
    }
    if let Some(l) = limits {
        let l = match into {
            Restoring::Guest => l,
            Restoring::Home(_) | Restoring::Restart => {
                let home = image::Limits {
                    l: core::array::from_fn(|i| (home_limits[2 * i], home_limits[2 * i + 1])),
                };
                limits_coming_home(&l, &home)
            }
        };
        let mut v = [0u64; 2 * NLIMITS];
        for (i, (c, m)) in l.l.iter().enumerate() {
            v[2 * i] = *c;
            v[2 * i + 1] = *m;
        }
        cur::set_rlimits(&v);
    }
    if let Some(m) = misc {
        cur::set_misc(m.umask, m.personality);
        // A restart's process gets its real-time interval timer back, as it stood when it
        // was saved (a migration leaves it at home; `omctl` sets the CPU-time ones).
        if matches!(into, Restoring::Restart) {
            let (value, interval) = m.itimers[0];
            cur::set_itimer_real(value, interval);
        }
    }
    // The process's restartable sequences, in its memory now, replace whatever registration
    // this task had (a guest stub's C library registers its own, in memory that is gone).
    let rseq = misc.map_or(Default::default(), |m| m.rseq);
    cur::set_rseq(rseq.addr, rseq.len, rseq.sig).inspect_err(|e| {
        pr_warn!(
            "image from node {}: rseq area {:#x}+{}: {:?}\n",
            from,
            rseq.addr,
            rseq.len,
            e
        )
    })?;
    cur::set_comm(&head.begin.comm);
    Ok(misc.map_or(([0, 0], 0), |m| (m.away_cpu_ns, m.uid)))
}

/// Loads the image's registers and FPU state into the calling task's saved user state: call
/// on the way back to user mode (task work), after any system call result was stored.
pub(crate) fn load_regs(regs: &[u64; NREGS], xstate: &[u8]) {
    let mut r = cur::user_regs();
    r.load_image(regs);
    // Taken in a call to be restarted: with the signals raised by now (the image's, and a home
    // task's own), as the kernel's restart fix-up would have it where the call was interrupted.
    r.resume_image_call(regs, cur::signal_pending());
    cur::set_user_regs(&r);
    cur::set_fsgs(regs[image::REG_FS_BASE], regs[image::REG_GS_BASE]);
    cur::with_fpu(|buf, _| {
        if buf.len() == xstate.len() {
            buf.copy_from_slice(xstate);
        }
    });
}
