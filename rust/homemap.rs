// SPDX-License-Identifier: GPL-2.0

//! Areas whose pages come from home.
//!
//! On a host, [`map_home`] maps an area of a file of the module's own (a shmem file whose
//! operations are the module's, so that it pins the module while the area exists): each page
//! fault in it asks the registered [`Pager`] for the page, by the area's cookie and the page's
//! offset; the page is then mapped like a file's page, and a private area copies it when the
//! process writes. At home, [`HomeFile`] holds a reference to a file the process mapped, reads
//! its pages for a host, and maps it again when the process comes home.

use super::bindings;
use super::errno::to_result;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::ffi::{c_int, c_void};
use kernel::prelude::*;
use kernel::sync::Arc;

/// Size of a page.
pub(crate) const PAGE: usize = 4096;

/// The cookie bit of an area that is shared (and read-only) at home.
pub(crate) const SHARED: u64 = bindings::OMX_HOME_SHARED as u64;

/// The home file field (`image::Vma::file`: the id, and `image::HOME_MAY_WRITE`) and the
/// sharing of an area's cookie.
pub(crate) fn cookie_parts(cookie: u64) -> (u16, bool) {
    ((cookie & 0xffff) as u16, cookie & SHARED != 0)
}

/// The cookie of an area of home file field `file` (see [`cookie_parts`]).
pub(crate) fn cookie_of(file: u16, shared: bool) -> u64 {
    u64::from(file) | if shared { SHARED } else { 0 }
}

/// Whether a cookie's area is shared with a file open for writing at home.
pub(crate) fn may_write(cookie: u64) -> bool {
    cookie & SHARED != 0 && cookie & u64::from(bindings::OMX_HOME_MAY_WRITE) != 0
}

/// What fills a page of an area of [`map_home`] when the process touches it.
pub(crate) trait HomePager: Send + Sync + 'static {
    /// Fills `page` with page `pgoff` of what `cookie` names, for the calling process, whose
    /// area faulted. An error fails the access (`SIGBUS`; `ENOMEM`: out of memory).
    fn page_in(&self, cookie: u64, pgoff: u64, page: &mut [u8; PAGE]) -> Result;
}

/// Whether a pager is registered (there is one slot).
static REGISTERED: AtomicBool = AtomicBool::new(false);

/// The registered pager; unregistered on drop, which waits for every fault using it.
///
/// # Invariants
///
/// `data` comes from `Arc::into_raw`, whose reference this value owns, and is registered with
/// `page_in::<T>` as the shim's pager; `REGISTERED` is true.
pub(crate) struct Pager<T: HomePager> {
    data: *const T,
}

// SAFETY: `data` is an `Arc<T>` with `T: Send + Sync`.
unsafe impl<T: HomePager> Send for Pager<T> {}
// SAFETY: as above; `&Pager` allows nothing.
unsafe impl<T: HomePager> Sync for Pager<T> {}

/// The shim's pager callback.
///
/// # Safety
///
/// `data` must be the pointer registered by [`Pager::register`], still registered (the shim
/// calls it inside its SRCU read section, which unregistering waits for); `page` must point to
/// `PAGE` writable bytes that nothing else uses during the call.
unsafe extern "C" fn page_in<T: HomePager>(
    data: *mut c_void,
    cookie: u64,
    pgoff: u64,
    page: *mut c_void,
) -> c_int {
    // SAFETY: by the function's contract `data` is the `Arc<T>` pointer the `Pager` holds a
    // reference on until after every call has finished.
    let pager = unsafe { &*data.cast::<T>() };
    // SAFETY: by the function's contract `page` is `PAGE` bytes, writable and ours alone for
    // the call; `[u8; PAGE]` has alignment 1.
    let page = unsafe { &mut *page.cast::<[u8; PAGE]>() };
    match pager.page_in(cookie, pgoff, page) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

impl<T: HomePager> Pager<T> {
    /// Registers `pager` as the one that fills areas' pages; `EBUSY` if one is registered.
    pub(crate) fn register(pager: Arc<T>) -> Result<Self> {
        if REGISTERED.swap(true, Ordering::AcqRel) {
            return Err(EBUSY);
        }
        let data = Arc::into_raw(pager);
        // SAFETY: `page_in::<T>` has the shim's pager signature; `data` stays valid until the
        // pager is unregistered and its callers have finished (see `Drop`).
        unsafe { bindings::omx_home_pager_set(Some(page_in::<T>), data.cast_mut().cast()) };
        // INVARIANT: registered with `data`, whose reference is ours; `REGISTERED` is set.
        Ok(Self { data })
    }
}

impl<T: HomePager> Drop for Pager<T> {
    fn drop(&mut self) {
        // SAFETY: clearing the pager waits (`synchronize_srcu`) for every fault that took it;
        // after that no one uses `data` and its reference can be given back.
        unsafe {
            bindings::omx_home_pager_set(None, core::ptr::null_mut());
            drop(Arc::from_raw(self.data));
        }
        REGISTERED.store(false, Ordering::Release);
    }
}

/// Whether a pager is registered: without one, an area of [`map_home`] fails every access.
pub(crate) fn paging() -> bool {
    REGISTERED.load(Ordering::Acquire)
}

/// Maps, in the calling process, an area of `len` bytes at `addr` (a hint, or exact with
/// `MAP_FIXED` in `flags`, as `mmap` takes them; the mapping type bits are ignored: the area
/// is private) whose pages the pager fills, page `pgoff` of `cookie` at its start. Returns its
/// address.
pub(crate) fn map_home(
    addr: u64,
    len: u64,
    prot: u64,
    flags: u64,
    pgoff: u64,
    cookie: u64,
) -> Result<u64> {
    let (Ok(addr), Ok(len), Ok(prot), Ok(flags)) = (
        usize::try_from(addr),
        usize::try_from(len),
        usize::try_from(prot),
        usize::try_from(flags),
    ) else {
        return Err(EINVAL);
    };
    // SAFETY: `omx_map_home` maps in the calling process under its own locks (`vm_mmap`),
    // which checks every argument as `mmap` does; any values are allowed.
    let r = unsafe { bindings::omx_map_home(addr, len, prot, flags, pgoff, cookie) };
    to_result(r)
}

/// Entries of one [`own_pagemap`] read: the most the shim reads at once.
pub(crate) const PAGEMAP_CHUNK: usize = 512;

/// Whether a `/proc/PID/pagemap` entry is a page of the process's own: anonymous, present
/// (bit 63) or swapped (bit 62), not a file's page (bit 61). In a private file mapping, the
/// pages it changed; the others are the file's.
pub(crate) fn own_page(entry: u64) -> bool {
    entry & (1 << 62) != 0 || (entry & (1 << 63) != 0 && entry & (1 << 61) == 0)
}

/// Whether a `/proc/PID/pagemap` entry is of a page mapped, present or swapped: a page never
/// touched (or dropped) is neither.
pub(crate) fn mapped(entry: u64) -> bool {
    entry & (3 << 62) != 0
}

/// Whether a `/proc/PID/pagemap` entry is of a page written since the process's soft-dirty
/// bits were last cleared (bit 55), or of an area made since (the kernel marks a new area's
/// pages so, mapped or not).
pub(crate) fn soft_dirty(entry: u64) -> bool {
    entry & (1 << 55) != 0
}

/// Clears the calling process's soft-dirty bits: its next pagemap marks only the pages it
/// writes from now on, and the areas it maps.
pub(crate) fn clear_own_soft_dirty() -> Result {
    // SAFETY: no precondition; the shim writes one byte below the calling task's user stack
    // pointer and red zone, as `omx_own_pagemap` uses that space.
    to_result(unsafe { bindings::omx_own_clear_soft_dirty() } as isize).map(|_| ())
}

/// Reads the calling process's `/proc/self/pagemap` entries of `out.len()` (at most
/// [`PAGEMAP_CHUNK`]) pages from `addr`'s.
pub(crate) fn own_pagemap(addr: u64, out: &mut [u64]) -> Result {
    let (Ok(addr), Ok(n)) = (usize::try_from(addr), u32::try_from(out.len())) else {
        return Err(EINVAL);
    };
    if out.len() > PAGEMAP_CHUNK {
        return Err(EINVAL);
    }
    // SAFETY: `out` is `n` writable `u64`s; the shim reads at most that many entries of the
    // calling process's own pagemap through its user stack (scratch below the red zone).
    let r = unsafe { bindings::omx_own_pagemap(addr, out.as_mut_ptr(), n) };
    if r < 0 {
        return Err(Error::from_errno(r));
    }
    Ok(())
}

/// The file a shim returned, or the error its pointer encodes (`EBADF` for NULL).
pub(super) fn file_or_err(f: *mut bindings::file) -> Result<NonNull<bindings::file>> {
    // SAFETY: no precondition: it reads the pointer's value only.
    let e = unsafe { bindings::omx_ptr_err(f.cast::<c_void>()) };
    if e != 0 {
        return Err(Error::from_errno(e as i32));
    }
    NonNull::new(f).ok_or(EBADF)
}

/// A reference to a file open at home, which areas of a process page from.
///
/// # Invariants
///
/// `file` is a valid `struct file` on which this value owns one reference.
pub(crate) struct HomeFile {
    file: NonNull<bindings::file>,
}

// SAFETY: a `struct file` reference may be used and dropped (`fput`) from any task.
unsafe impl Send for HomeFile {}
// SAFETY: every use (`kernel_read`, `vm_mmap`) takes its own locks.
unsafe impl Sync for HomeFile {}

impl HomeFile {
    /// The file open as `fd` in the calling process, if a mapping of it with `prot` may page
    /// from home: `ENODEV` for what is not a regular file, `EACCES` if not open for reading,
    /// `EPERM` for `PROT_EXEC` on a `noexec` mount, `EBADF`.
    pub(crate) fn get(fd: u64, prot: u64) -> Result<Self> {
        let fd = i32::try_from(fd).map_err(|_| EBADF)?;
        let prot = usize::try_from(prot).map_err(|_| EINVAL)?;
        // SAFETY: `omx_home_file_get` looks `fd` up in the calling process's table and returns
        // a new reference or an error pointer; any values are allowed.
        let f = unsafe { bindings::omx_home_file_get(fd, prot) };
        // INVARIANT: not an error: a file with the reference `omx_home_file_get` took for us.
        file_or_err(f).map(|file| Self { file })
    }

    /// The regular file mapped at `addr` by the calling process (not an area paged from home).
    pub(crate) fn of_area(addr: u64) -> Option<Self> {
        let addr = usize::try_from(addr).ok()?;
        // SAFETY: `omx_area_file` looks `addr` up in the calling process's areas under its
        // `mmap_lock` and returns a new reference or NULL; any address is allowed.
        let f = unsafe { bindings::omx_area_file(addr) };
        // INVARIANT: not NULL: a file with the reference `omx_area_file` took for us.
        NonNull::new(f).map(|file| Self { file })
    }

    /// Whether the file is open for writing.
    pub(crate) fn writable(&self) -> bool {
        // SAFETY: by the type invariant `file` is valid.
        unsafe { bindings::omx_file_writable(self.file.as_ptr()) }
    }

    /// Whether both are the same open file.
    pub(crate) fn same(&self, other: &Self) -> bool {
        self.file == other.file
    }

    /// Reads the file at byte `off` into `buf`, as `pread` does; returns the bytes read.
    pub(crate) fn read(&self, buf: &mut [u8], off: u64) -> Result<usize> {
        // SAFETY: by the type invariant `file` is valid; `buf` is `buf.len()` writable bytes
        // (`kernel_read` writes through a kernel address).
        let r = unsafe {
            bindings::omx_home_file_read(
                self.file.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                off,
            )
        };
        to_result(r).map(|n| (n as usize).min(buf.len()))
    }

    /// Maps `len` bytes of the file from byte `off` at exactly `addr` in the calling process,
    /// shared or private, with `prot`; never over another area.
    pub(crate) fn map_fixed(
        &self,
        addr: u64,
        len: u64,
        prot: u64,
        shared: bool,
        off: u64,
    ) -> Result {
        let (Ok(addr), Ok(len), Ok(prot)) = (
            usize::try_from(addr),
            usize::try_from(len),
            usize::try_from(prot),
        ) else {
            return Err(EINVAL);
        };
        // SAFETY: by the type invariant `file` is valid; `vm_mmap` checks every argument as
        // `mmap` does and takes its own reference for the area.
        let r = unsafe {
            bindings::omx_home_file_map(self.file.as_ptr(), addr, len, prot, shared, off)
        };
        match to_result(r)? {
            a if a == addr as u64 => Ok(()),
            _ => Err(ENOMEM),
        }
    }
}

impl Drop for HomeFile {
    fn drop(&mut self) {
        // SAFETY: by the type invariant this value owns one reference on `file`.
        unsafe { bindings::omx_fput(self.file.as_ptr()) };
    }
}
