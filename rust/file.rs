// SPDX-License-Identifier: GPL-2.0

//! A regular file that a process handed the module by its descriptor: a checkpoint being
//! written (appended to) or read back for a restart.

use super::bindings;
use super::errno::to_result;
use super::homemap::file_or_err;
use core::ptr::NonNull;
use kernel::prelude::*;

/// A regular file open in the calling process, taken by descriptor.
///
/// # Invariants
///
/// `file` is a valid `struct file` of a regular file on which this value owns one reference;
/// with `append`, it was open for writing with `O_APPEND` when taken, else for reading.
pub(crate) struct UserFile {
    file: NonNull<bindings::file>,
    append: bool,
}

// SAFETY: a `struct file` reference may be used and dropped (`fput`) from any task.
unsafe impl Send for UserFile {}
// SAFETY: every use (`kernel_read`, `kernel_write`) takes the file's own locks.
unsafe impl Sync for UserFile {}

impl UserFile {
    /// The regular file open as `fd` in the calling process: to append to (`append`: it must be
    /// open for writing with `O_APPEND`) or to read. `EBADF`, `EINVAL` for what is not a
    /// regular file, `EACCES` for the wrong access mode.
    pub(crate) fn get(fd: i32, append: bool) -> Result<Self> {
        // SAFETY: `omx_ckpt_file_get` looks `fd` up in the calling process's table and returns a
        // new reference or an error pointer; any values are allowed.
        let f = unsafe { bindings::omx_ckpt_file_get(fd, append) };
        // INVARIANT: not an error: a regular file, open as asked, with the reference
        // `omx_ckpt_file_get` took for us.
        file_or_err(f).map(|file| Self { file, append })
    }

    /// Appends all of `data` to the file (`EBADF` for a file taken for reading).
    pub(crate) fn append(&self, data: &[u8]) -> Result {
        if !self.append {
            return Err(EBADF);
        }
        // SAFETY: by the type invariant `file` is valid and open for writing with `O_APPEND`;
        // `data` is `data.len()` readable bytes (`kernel_write` reads a kernel address).
        let r = unsafe {
            bindings::omx_ckpt_file_append(self.file.as_ptr(), data.as_ptr().cast(), data.len())
        };
        to_result(r).map(|_| ())
    }

    /// Fills `buf` from the file at byte `off`: `EIO` if the file ends first.
    pub(crate) fn read_exact_at(&self, buf: &mut [u8], mut off: u64) -> Result {
        let mut done = 0;
        while done < buf.len() {
            let rest = &mut buf[done..];
            // SAFETY: by the type invariant `file` is valid; `rest` is `rest.len()` writable
            // bytes (`kernel_read` writes through a kernel address and checks the access mode).
            let r = unsafe {
                bindings::omx_home_file_read(
                    self.file.as_ptr(),
                    rest.as_mut_ptr().cast(),
                    rest.len(),
                    off,
                )
            };
            let n = to_result(r)? as usize;
            if n == 0 {
                return Err(EIO);
            }
            let n = n.min(rest.len());
            done += n;
            off = off.checked_add(n as u64).ok_or(EINVAL)?;
        }
        Ok(())
    }
}

impl UserFile {
    /// Installs a new reference on the file as the calling task's lowest free descriptor
    /// (no flags), which it returns.
    pub(crate) fn install(&self) -> Result<i32> {
        // SAFETY: by the type invariant `file` is valid; the shim takes its own reference
        // for the descriptor table.
        let fd = unsafe { bindings::omx_file_install(self.file.as_ptr()) };
        to_result(fd as isize).map(|fd| fd as i32)
    }
}

/// Sets the position of the calling task's descriptor `fd`, a regular file, to `pos`:
/// `EBADF` for no such descriptor, `EINVAL` for one that is not a regular file or a position
/// the file refuses.
pub(crate) fn seek_own(fd: i32, pos: u64) -> Result {
    let pos = i64::try_from(pos).map_err(|_| EINVAL)?;
    // SAFETY: no precondition: the shim looks `fd` up in the calling task's own table.
    let r = unsafe { bindings::omx_own_seek(fd, pos) };
    to_result(r as isize).map(|_| ())
}

impl Drop for UserFile {
    fn drop(&mut self) {
        // SAFETY: by the type invariant this value owns one reference on `file`.
        unsafe { bindings::omx_fput(self.file.as_ptr()) };
    }
}
