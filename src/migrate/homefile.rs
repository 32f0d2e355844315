// SPDX-License-Identifier: GPL-2.0

//! File mappings paged from home: a guest's `mmap` of a file (private, or shared without
//! write) makes an area on the host whose pages come from the home node as the process touches
//! them (`ksys::homemap`), never the whole file.
//!
//! - The guest asks its deputy for the file (`fwd::home::MAP_FILE`): the deputy keeps a
//!   reference to the file open under that descriptor in its table ([`HomeFiles`], the id is
//!   the index plus one) and answers the id; then the guest maps the area here, its cookie the
//!   id (and [`homemap::SHARED`] for a shared mapping).
//! - A page fault in the area asks the deputy for the page (`fwd::home::READ_FILE`, made as
//!   a forwarded call from the fault, in the guest's own context); a private area copies it
//!   when written, as any private file mapping does. A page past the end of the file fails the
//!   access with `SIGBUS`, as at home.
//! - A capture sends the area as `image::VmaKind::HomeFile` (or `HomeShared`) with only the
//!   pages present here (the process's changes, and those it read); the next host pages the
//!   rest from home again. At home the area becomes a mapping of the file itself again, with
//!   the pages that came written over it (`restore.rs`).
//!
//! This is a general "pages of this area come from home" facility: the cookie names what the
//! deputy reads the pages from.

use super::forward::forward_call;
use super::guest::{Ahead, Guest, GuestState};
use super::{deputy::Call, deputy::Deputy, Migrations};
use crate::error::syscall_result;
use crate::ksys::homemap::{self, HomeFile, HomePager, PAGE};
use crate::ksys::task::Task;
use crate::omcore::fwd::{self, home};
use crate::omcore::image::{HOME_MAY_WRITE, MAX_HOME_FILES};
use core::sync::atomic::Ordering::Relaxed;
use kernel::prelude::*;

/// `PROT_WRITE` of `mmap`.
const PROT_WRITE: u64 = 0x2;

/// The deputy's side: serves `MAP_FILE` and `READ_FILE` (`call`) in the kernel and replies.
pub(crate) fn serve(mig: &Migrations, dep: &Deputy, call: &Call) {
    let r = &call.req;
    let reply = |result: i64, out: Option<&[u8]>| {
        // The slot closes before the reply goes: the guest may send its next call then.
        dep.inner.lock().slot.close();
        dep.reply(&mig.mesh, r.seq, result, out.map(|b| (3, b)));
    };
    match r.nr {
        home::MAP_FILE => {
            // The id, with `HOME_MAY_WRITE` for a shared mapping of a file open for writing.
            let id = HomeFile::get(r.args[0], r.args[1]).and_then(|f| {
                let may_write = r.args[2] != 0 && f.writable();
                let id = dep.inner.lock().files.add(f)?;
                Ok(if may_write { id | HOME_MAY_WRITE } else { id })
            });
            reply(id.map_or_else(syscall_result, i64::from), None);
        }
        home::READ_FILE => {
            // Read without the deputy's lock (the read may wait for the disk).
            let file = u16::try_from(r.args[0])
                .ok()
                .and_then(|id| dep.inner.lock().files.get(id));
            let Some(file) = file else {
                return reply(syscall_result(EBADF), None);
            };
            // `fwd::spec` let through only page multiples up to `home::MAX_READ`.
            let mut buf = match KVec::from_elem(0u8, r.args[2] as usize, GFP_KERNEL) {
                Ok(b) => b,
                Err(_) => return reply(syscall_result(ENOMEM), None),
            };
            match file.read(&mut buf, r.args[1]) {
                Ok(n) => {
                    mig.paged_from_home.fetch_add(n as u64, Relaxed);
                    reply(n as i64, Some(&buf[..n]));
                }
                Err(e) => reply(syscall_result(e), None),
            }
        }
        _ => reply(syscall_result(EINVAL), None),
    }
}

/// The guest's `mmap` of file descriptor `args[4]` (private, or shared without `PROT_WRITE`),
/// made as an area paged from home. `Ok(None)`: the file cannot be paged from home (not a
/// regular file, or the table is full): the process maps it at home.
pub(crate) fn map(
    mig: &Migrations,
    g: &Guest,
    args: &[u64; 6],
    shared: bool,
) -> Result<Option<u64>> {
    let (addr, len, prot, flags, fd, off) = (args[0], args[1], args[2], args[3], args[4], args[5]);
    if len == 0 || off % PAGE as u64 != 0 {
        return Err(EINVAL);
    }
    if shared && prot & PROT_WRITE != 0 {
        return Ok(None);
    }
    let spec = fwd::spec(home::MAP_FILE, &[0; 6]).ok_or(EINVAL)?;
    let a = [fd, prot, u64::from(shared), 0, 0, 0];
    let (id, _) = forward_call(mig, g, home::MAP_FILE, &spec, a, None, false)?;
    let id = match id {
        id if (1..=i64::from(MAX_HOME_FILES)).contains(&(id & !i64::from(HOME_MAY_WRITE)))
            && (shared || id & i64::from(HOME_MAY_WRITE) == 0) =>
        {
            id as u16
        }
        e if e == i64::from(ENODEV.to_errno()) || e == i64::from(ENFILE.to_errno()) => {
            return Ok(None)
        }
        e if e < 0 => return Err(Error::from_errno(e as i32)),
        _ => return Err(EIO),
    };
    let cookie = homemap::cookie_of(id, shared);
    homemap::map_home(addr, len, prot, flags, off / PAGE as u64, cookie).map(Some)
}

/// Fills `page` with `data` and zeros after it.
fn fill_page(page: &mut [u8; PAGE], data: &[u8]) {
    let n = data.len().min(PAGE);
    page[..n].copy_from_slice(&data[..n]);
    page[n..].fill(0);
}

impl HomePager for Migrations {
    fn page_in(&self, cookie: u64, pgoff: u64, page: &mut [u8; PAGE]) -> Result {
        let me = Task::current_pid();
        let g = self
            .guests
            .lock()
            .iter()
            .find(|g| g.inner.lock().task.as_ref().is_some_and(|t| t.is_current()))
            .cloned();
        let Some(g) = g else {
            pr_warn!(
                "process {}: fault in an area paged from home, not a guest\n",
                me
            );
            return Err(EFAULT);
        };
        match g.inner.lock().state {
            // The restore writes whole pages over it: nothing to fetch.
            GuestState::Arriving => {
                page.fill(0);
                return Ok(());
            }
            GuestState::Running | GuestState::Departing => {}
            GuestState::Gone => return Err(EFAULT),
        }
        // Under a send (a page that `forward::touch` could not bring): the access fails.
        if g.building.load(Relaxed) {
            return Err(EFAULT);
        }
        let (id, _) = homemap::cookie_parts(cookie);
        if let Some(p) = g
            .inner
            .lock()
            .ahead
            .as_ref()
            .and_then(|a| a.page(id, pgoff))
        {
            fill_page(page, p);
            return Ok(());
        }
        let off = pgoff.checked_mul(PAGE as u64).ok_or(EFAULT)?;
        let a = [u64::from(id), off, home::MAX_READ, 1, 0, 0];
        let spec = fwd::spec(home::READ_FILE, &a).ok_or(EINVAL)?;
        // The pages come back here (`collect`): 1 only says that there is a buffer.
        let (n, data) =
            forward_call(self, &g, home::READ_FILE, &spec, a, None, true).inspect_err(|e| {
                pr_warn!(
                    "guest {}: page {} of home file {} not read: error {}\n",
                    me,
                    pgoff,
                    id,
                    e.to_errno()
                )
            })?;
        let data = data.unwrap_or_default();
        if n <= 0 || data.is_empty() {
            // Past the end of the file (or the file is gone at home).
            pr_warn!(
                "guest {}: page {} of home file {}: none at home ({}): SIGBUS\n",
                me,
                pgoff,
                id,
                n
            );
            return Err(EFAULT);
        }
        fill_page(page, &data);
        g.inner.lock().ahead = Some(Ahead {
            id,
            first: pgoff,
            data,
        });
        Ok(())
    }
}
