// SPDX-License-Identifier: GPL-2.0

//! Capture: the calling process (a home process leaving, or a guest moving on) turned into
//! image records, in its own context (task work on its way back to user mode), and streamed
//! to the target as they are made. See `Documentation/image.md` for the records.
//!
//! Order: the areas are checked first (nothing is sent for a process that must stay), then
//! `Begin`, registers (a system call to be restarted is rewound so that the target restarts
//! it), FPU state, memory layout, signal state, limits, misc, then each area and its non-zero
//! pages, and `End`.

use super::deputy::HomeFiles;
use super::stream::{Dest, ImageSender};
use crate::ksys::homemap::{self, HomeFile};
use crate::ksys::mem;
use crate::ksys::task::{cur, Task};
use crate::omcore::image::{
    self, Begin, Kind, VmaKind, HOME_MAY_WRITE, MM_BRK, MM_FIELDS, MM_START_BRK, MM_START_STACK,
    PAGE_SIZE,
};
use crate::omcore::syscalls::sig::{NSIG, SIGKILL, SIGSTOP};
use kernel::prelude::*;

/// Pages per `Pages` record.
const PAGES_PER_RECORD: usize = 64;

/// Whether an area may not move: shared and writable, device memory, or locked.
fn area_refused(a: &cur::Area) -> bool {
    (a.flags & cur::VM_SHARED != 0 && a.flags & cur::VM_WRITE != 0)
        || a.flags & (cur::VM_IO | cur::VM_PFNMAP | cur::VM_LOCKED) != 0
}

/// Adds the `Vma` record of area `a`, paged from `home` file `(id, shared)` if it is; returns
/// its protection.
fn send_area(
    tx: &mut ImageSender<'_>,
    a: &cur::Area,
    layout: &[u64; MM_FIELDS],
    home: Option<(u16, bool)>,
) -> Result<u8> {
    let mut prot = 0u8;
    if a.flags & cur::VM_READ != 0 {
        prot |= image::PROT_READ;
    }
    if a.flags & cur::VM_WRITE != 0 {
        prot |= image::PROT_WRITE;
    }
    if a.flags & cur::VM_EXEC != 0 {
        prot |= image::PROT_EXEC;
    }
    let stack = layout[MM_START_STACK];
    let kind = if let Some((_, shared)) = home {
        if shared {
            VmaKind::HomeShared
        } else {
            VmaKind::HomeFile
        }
    } else if (a.start <= stack && stack < a.end) || a.flags & cur::VM_GROWSDOWN != 0 {
        VmaKind::Stack
    } else if a.start >= layout[MM_START_BRK]
        && a.end <= layout[MM_BRK].next_multiple_of(PAGE_SIZE as u64)
    {
        VmaKind::Heap
    } else if !a.path.is_empty() {
        VmaKind::File
    } else {
        VmaKind::Anon
    };
    let (pgoff, path): (u64, &[u8]) = match kind {
        VmaKind::File => (a.pgoff, &a.path),
        VmaKind::HomeFile | VmaKind::HomeShared => (a.pgoff, &[]),
        _ => (0, &[]),
    };
    let v = image::Vma {
        start: a.start,
        end: a.end,
        prot,
        kind,
        file: home.map_or(0, |(id, _)| id),
        pgoff,
        path,
    };
    let mut body = KVec::from_elem(0u8, 40 + path.len(), GFP_KERNEL)?;
    let n = v.encode(&mut body);
    tx.record(Kind::Vma, &[&body[..n]])?;
    Ok(prot)
}

/// Adds the signal state (kept off the stack: it is 2 KiB, twice). With `pending`, the
/// signals pending for the task are taken off it into the image (and into `pending`, to raise
/// them again if the move fails); without, they stay for the deputy to forward, and a
/// checkpoint's image (`tx.all_memory()`) has them as they stand (a restart raises them).
#[inline(never)]
fn capture_signals(tx: &mut ImageSender<'_>, pending: Option<&mut u64>) -> Result {
    let mut s = cur::SigState::new()?;
    cur::signals(&mut s);
    let mut taken = 0u64;
    if let Some(p) = pending {
        loop {
            let sig = cur::dequeue_signal(true);
            if sig == 0 || sig > NSIG {
                break;
            }
            taken |= 1 << (sig - 1);
        }
        *p = taken;
        // A fault's signal (bad memory, instruction, arithmetic) pending at the capture is
        // rare enough to say: it goes with the process and is taken where it arrives.
        let faults = taken & FAULT_SIGNALS;
        if faults != 0 {
            pr_info!(
                "process {}: fault signals {:#x} pending as it leaves: they go with it\n",
                Task::current_pid(),
                faults
            );
        }
    } else if tx.all_memory() {
        // Not `SIGKILL` or `SIGSTOP`: those a saved process cannot have waiting.
        taken = cur::pending_mask() & !(1 << (SIGKILL - 1) | 1 << (SIGSTOP - 1));
    }
    let mut sig = KBox::new(
        image::Signals {
            blocked: s.blocked,
            pending: taken,
            altstack: (s.alt[0], s.alt[2] as u32, s.alt[1]),
            actions: [(0, 0, 0, 0); image::NSIG],
        },
        GFP_KERNEL,
    )?;
    for (a, b) in sig.actions.iter_mut().zip(s.act.iter()) {
        *a = (b[0], b[1], b[2], b[3]);
    }
    let body = KBox::new(sig.encode(), GFP_KERNEL)?;
    tx.record(Kind::Signals, &[&body[..]])
}

/// `SIGILL`, `SIGTRAP`, `SIGBUS`, `SIGFPE`, `SIGSEGV` as a mask (bit 0: signal 1).
const FAULT_SIGNALS: u64 = 1 << 3 | 1 << 4 | 1 << 6 | 1 << 7 | 1 << 10;

/// Sends the calling task the signals of bit mask `pending` (bit 0: signal 1).
pub(crate) fn raise_pending(pending: u64) {
    for n in 0..NSIG {
        if pending & (1 << n) != 0 {
            Task::current().signal(n + 1);
        }
    }
}

/// The home file `(id, shared)` that area `a` pages from on the next node, if it does: an area
/// paged from home here (its cookie), or, at home (with `files`, the deputy's table to be), a
/// mapping of a regular file that is not the main stack or the heap. Anything else moves as
/// memory.
fn home_area(a: &cur::Area, files: Option<&mut HomeFiles>) -> Option<(u16, bool)> {
    if a.home != 0 {
        return Some(homemap::cookie_parts(a.home));
    }
    let files = files?;
    if a.path.is_empty() || a.flags & (cur::VM_IO | cur::VM_PFNMAP | cur::VM_GROWSDOWN) != 0 {
        return None;
    }
    let f = HomeFile::of_area(a.start)?;
    let shared = a.flags & cur::VM_SHARED != 0;
    let may_write = shared && a.flags & cur::VM_MAYWRITE != 0;
    let id = files.add(f).ok()?;
    Some((if may_write { id | HOME_MAY_WRITE } else { id }, shared))
}

/// The calling process's pagemap entries (`/proc/self/pagemap`), read a chunk at a time as an
/// area's pages are walked in order.
struct PageMap {
    first: u64,
    len: usize,
    entries: KVec<u64>,
    valid: bool,
}

impl PageMap {
    fn new() -> Result<Self> {
        Ok(Self {
            first: 0,
            len: 0,
            entries: KVec::from_elem(0, homemap::PAGEMAP_CHUNK, GFP_KERNEL)?,
            valid: false,
        })
    }

    /// The entry of the page at `addr` of an area ending at `end`; `None` if its chunk could
    /// not be read.
    fn entry(&mut self, addr: u64, end: u64) -> Option<u64> {
        let page = PAGE_SIZE as u64;
        let n = ((end - addr) / page).min(homemap::PAGEMAP_CHUNK as u64) as usize;
        if !self.valid || addr < self.first || (addr - self.first) / page >= self.len as u64 {
            self.first = addr;
            self.len = n;
            self.valid = homemap::own_pagemap(addr, &mut self.entries[..n]).is_ok();
        }
        self.valid
            .then(|| self.entries[((addr - self.first) / page) as usize])
    }

    /// Forgets what was read: a new area follows.
    fn reset(&mut self) {
        self.valid = false;
    }
}

/// Sends the `Parent` record of `same` (first page, count) if it counts any page, and empties
/// it.
fn send_same(tx: &mut ImageSender<'_>, same: &mut (u64, u32)) -> Result {
    if same.1 == 0 {
        return Ok(());
    }
    let r = tx.record(
        Kind::Parent,
        &[&same.0.to_be_bytes(), &same.1.to_be_bytes()],
    );
    *same = (0, 0);
    r
}

/// Captures the calling process into `tx` (streamed as `to` says, or to a checkpoint file);
/// returns the pages sent. With
/// `pending`, the signals pending for it travel in the image (see [`capture_signals`]);
/// `away_cpu_ns` is the CPU time it used away from home (user, system, in ns). At home,
/// `files` is the deputy's table to be: the regular files the process maps are added to it and
/// their areas travel paged from home, with only the pages the process changed.
#[inline(never)]
pub(crate) fn capture(
    mut tx: ImageSender<'_>,
    to: &Dest,
    pending: Option<&mut u64>,
    away_cpu_ns: [u64; 2],
    mut files: Option<&mut HomeFiles>,
) -> Result<u64> {
    let layout = cur::mm_layout()?;

    // Check every area before sending anything.
    let mut addr = 0;
    while let Some(a) = cur::area_after(addr)? {
        addr = a.end;
        if !a.special && area_refused(&a) {
            pr_warn!(
                "migrate {}: stays home: shared writable or device mapping at {:#x}\n",
                to.home_pid,
                a.start
            );
            return Err(EPERM);
        }
    }

    let mut xstate = KVec::new();
    let xfeatures = cur::with_fpu(|buf, xf| {
        let _ = xstate.extend_from_slice(buf, GFP_KERNEL);
        xf
    });
    if xstate.is_empty() {
        return Err(ENOMEM);
    }
    let begin = Begin {
        xfeatures,
        xstate_size: u32::try_from(xstate.len()).map_err(|_| EINVAL)?,
        home_node: to.home,
        home_pid: to.home_pid,
        comm: cur::comm(),
        // As the process reads them: where it goes, they go on from there.
        clocks: cur::clocks(true),
    };
    tx.record(Kind::Begin, &[&begin.encode()])?;

    // Interrupted in a system call that is to be restarted, the registers say so as they stand
    // (the task work runs before the kernel's restart fix-up): where the process goes on, the
    // call is made again or fails with `EINTR` as the signals it finds pending there say
    // (`load_regs`).
    let mut regs = cur::user_regs();
    // A wait the capture itself cut short with `EINTR` is made again where it goes on.
    regs.restart_cut_wait();
    let (fs, gs) = cur::fsgs();
    let r = regs.to_image(fs, gs);
    tx.record(Kind::Regs, &[&image::Regs { r }.encode()])?;
    tx.record(Kind::Xstate, &[&xstate])?;
    drop(xstate);
    tx.record(Kind::Mm, &[&image::Mm { v: layout }.encode()])?;

    capture_signals(&mut tx, pending)?;
    let rl = cur::rlimits();
    let limits = image::Limits {
        l: core::array::from_fn(|i| (rl[2 * i], rl[2 * i + 1])),
    };
    tx.record(Kind::Limits, &[&limits.encode()])?;
    let (umask, personality) = cur::misc();
    let misc = image::Misc {
        umask,
        personality,
        // A checkpoint's; a migration leaves them running at home, where the deputy keeps
        // them (and a guest has none of its own).
        itimers: if tx.all_memory() {
            cur::itimers()
        } else {
            [(0, 0); 3]
        },
        away_cpu_ns,
        rseq: {
            let (addr, len, sig) = cur::rseq();
            image::Rseq { addr, len, sig }
        },
        uid: to.home_uid,
    };
    tx.record(Kind::Misc, &[&misc.encode()])?;

    // Each area, then its pages.
    let mut pages = 0u64;
    let mut run = KVec::with_capacity(PAGES_PER_RECORD * PAGE_SIZE, GFP_KERNEL)?;
    let mut page = KVec::from_elem(0u8, PAGE_SIZE, GFP_KERNEL)?;
    let mut map = PageMap::new()?;
    let mut addr = 0;
    while let Some(a) = cur::area_after(addr)? {
        addr = a.end;
        if a.special {
            continue;
        }
        let home = if tx.all_memory() {
            None
        } else {
            home_area(&a, files.as_deref_mut())
        };
        let prot = send_area(&mut tx, &a, &layout, home)?;
        // A shared area paged from home holds only the file's pages, which the next node
        // pages from home again.
        if prot & image::PROT_READ == 0 || home.is_some_and(|(_, shared)| shared) {
            continue;
        }
        // Pages of an anonymous area never touched are zeros: skipped without a fault each.
        let sparse = a.path.is_empty() && a.flags & (cur::VM_IO | cur::VM_PFNMAP) == 0;
        map.reset();
        let mut run_start = 0u64;
        // Pages unchanged since the previous save (an incremental checkpoint): first, count.
        let mut same = (0u64, 0u32);
        let mut at = a.start;
        while at < a.end {
            // Of an incremental checkpoint, a page the process did not write since its previous
            // save is that save's: one of an anonymous area if it is mapped (one that is not
            // is zeros, as in any image), any of another area. A page whose entry cannot be
            // read goes whole.
            let unchanged = tx.is_incremental()
                && map
                    .entry(at, a.end)
                    .is_some_and(|e| !homemap::soft_dirty(e) && (!sparse || homemap::mapped(e)));
            // Of an area paged from home, the process's own pages go (those it changed),
            // zeros too, and no other: the next node pages the file's from home (an entry
            // that cannot be read counts as its own: the page is read, from home if need be).
            // Of an anonymous one, those mapped (present or swapped) that are not all zeros.
            let nonzero = !unchanged
                && if home.is_some() {
                    map.entry(at, a.end).is_none_or(homemap::own_page)
                        && cur::read_user(at, &mut page).is_ok()
                } else {
                    (!sparse
                        || map
                            .entry(at, a.end)
                            .map_or_else(|| mem::page_has_data(at), homemap::mapped))
                        && cur::read_user(at, &mut page).is_ok()
                        && page.iter().any(|&b| b != 0)
                };
            let contiguous = !run.is_empty() && run_start + run.len() as u64 == at;
            if !run.is_empty() && (!nonzero || !contiguous || run.len() == run.capacity()) {
                tx.record(Kind::Pages, &[&run_start.to_be_bytes(), &run])?;
                pages += (run.len() / PAGE_SIZE) as u64;
                run.clear();
            }
            if !unchanged
                || same.0 + u64::from(same.1) * PAGE_SIZE as u64 != at
                || same.1 == u32::MAX
            {
                send_same(&mut tx, &mut same)?;
            }
            if unchanged {
                if same.1 == 0 {
                    same.0 = at;
                }
                same.1 += 1;
            }
            if nonzero {
                if run.is_empty() {
                    run_start = at;
                }
                run.extend_from_slice(&page, GFP_KERNEL)?;
            }
            at += PAGE_SIZE as u64;
            if cur::fatal_signal_pending() {
                return Err(EINTR);
            }
        }
        if !run.is_empty() {
            tx.record(Kind::Pages, &[&run_start.to_be_bytes(), &run])?;
            pages += (run.len() / PAGE_SIZE) as u64;
            run.clear();
        }
        send_same(&mut tx, &mut same)?;
    }
    tx.record(Kind::End, &[&pages.to_be_bytes()])?;
    tx.flush()?;
    Ok(pages)
}
