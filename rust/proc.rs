// SPDX-License-Identifier: GPL-2.0

//! Files and directories in `/proc`.
//!
//! A [`ProcDir`] is a directory directly under `/proc` that owns everything created beneath it:
//! dropping it removes the whole subtree (`proc_remove` waits for readers and writers that are
//! still inside a callback) and only then releases the data each file was given. A file's
//! behaviour is a [`ProcFile`] implementation; reading goes through `seq_file` (`single_open`),
//! so a file's text is produced whole by one [`ProcFile::show`] call and read in pieces by the
//! VFS.
//!
//! C header: [`include/linux/proc_fs.h`](srctree/include/linux/proc_fs.h)

use super::bindings;
use core::fmt;
use core::marker::PhantomData;
use core::ptr::NonNull;
use kernel::ffi::c_char;
use kernel::ffi::c_int;
use kernel::ffi::c_void;
use kernel::prelude::*;
use kernel::seq_file::SeqFile;
use kernel::sync::Arc;
use kernel::uaccess::UserPtr;
use kernel::uaccess::UserSlice;

/// Longest write a [`ProcFile`] accepts in one call, unless it says otherwise
/// ([`ProcFile::MAX_INPUT`]).
pub(crate) const MAX_WRITE: usize = 8192;

/// Where [`ProcFile::show`] writes a file's text.
pub(crate) struct ProcOutput<'a>(&'a SeqFile);

impl fmt::Write for ProcOutput<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.call_printf(format_args!("{s}"));
        Ok(())
    }

    fn write_fmt(&mut self, args: fmt::Arguments<'_>) -> fmt::Result {
        self.0.call_printf(args);
        Ok(())
    }
}

/// What a `/proc` file does when it is read or written.
pub(crate) trait ProcFile: Send + Sync + 'static {
    /// Whether the file takes writes; [`ProcFile::store`] is only called when it does.
    const WRITABLE: bool = false;

    /// Longest write the file takes in one call (a longer one is `EINVAL`).
    const MAX_INPUT: usize = MAX_WRITE;

    /// Produces the file's whole text (by default none: a file that is only written).
    fn show(&self, _out: &mut ProcOutput<'_>) -> Result {
        Ok(())
    }

    /// Takes one write of at most [`ProcFile::MAX_INPUT`] bytes, whole: it is applied
    /// completely or refused with an error and changes nothing.
    fn store(&self, _input: &[u8]) -> Result {
        Err(EINVAL)
    }
}

/// A reference held on a file's data, released when the owning [`ProcDir`] is dropped.
struct Held {
    ptr: *const c_void,
    release: unsafe fn(*const c_void),
}

/// Releases a reference obtained with [`Arc::into_raw`].
///
/// # Safety
///
/// `ptr` must come from `Arc::<T>::into_raw` and its reference must not be used afterwards.
unsafe fn release_arc<T: ProcFile>(ptr: *const c_void) {
    // SAFETY: By the function's safety requirements `ptr` came from `Arc::<T>::into_raw` and is
    // given back exactly once.
    drop(unsafe { Arc::<T>::from_raw(ptr.cast::<T>()) });
}

/// A directory under `/proc` owning the subtree beneath it.
///
/// # Invariants
///
/// `root` was returned by `proc_mkdir` and has not been removed. Every element of `held` is a
/// reference installed as the data of a file directly under `root`; it stays valid until `root`
/// is removed. Every element of `children` is a directory directly under `root`.
pub(crate) struct ProcDir {
    root: NonNull<bindings::proc_dir_entry>,
    held: KVec<Held>,
    children: KVec<(KVec<u8>, ProcDir)>,
}

// SAFETY: proc entries may be created under and removed from any thread, and the data pointers in
// `held` are references on `Arc<T>` with `T: Send + Sync`.
unsafe impl Send for ProcDir {}
// SAFETY: `&ProcDir` offers no method; all changes go through `&mut ProcDir`.
unsafe impl Sync for ProcDir {}

impl ProcDir {
    /// Creates `/proc/NAME`. Fails with `EEXIST` when it exists already.
    pub(crate) fn new(name: &CStr) -> Result<Self> {
        // SAFETY: `name` is a NUL-terminated string; a null parent means the `/proc` root.
        let root = unsafe { bindings::proc_mkdir(name.as_char_ptr(), core::ptr::null_mut()) };
        // INVARIANT: `root` comes from `proc_mkdir` and `held` is empty.
        Ok(Self {
            root: NonNull::new(root).ok_or(EEXIST)?,
            held: KVec::new(),
            children: KVec::new(),
        })
    }

    /// Creates the subdirectory `name` (one path component), owned by this directory.
    pub(crate) fn subdir(&mut self, name: &CStr) -> Result<&mut ProcDir> {
        if self.has_subdir(name) {
            return Err(EEXIST);
        }
        let mut key = KVec::new();
        key.extend_from_slice(name.to_bytes(), GFP_KERNEL)?;
        self.children.reserve(1, GFP_KERNEL)?;
        // SAFETY: `name` is NUL-terminated and `self.root` is a live directory (type invariant).
        let dir = unsafe { bindings::proc_mkdir(name.as_char_ptr(), self.root.as_ptr()) };
        // INVARIANT: `dir` is a fresh directory directly under `root`.
        let child = ProcDir {
            root: NonNull::new(dir).ok_or(EEXIST)?,
            held: KVec::new(),
            children: KVec::new(),
        };
        self.children
            .push_within_capacity((key, child))
            .map_err(|_| ENOMEM)?;
        let last = self.children.len() - 1;
        Ok(&mut self.children[last].1)
    }

    /// Whether the subdirectory `name` exists.
    pub(crate) fn has_subdir(&self, name: &CStr) -> bool {
        self.children.iter().any(|(k, _)| &k[..] == name.to_bytes())
    }

    /// Removes the subdirectory `name` and everything in it (nothing if there is none).
    pub(crate) fn remove_subdir(&mut self, name: &CStr) {
        if let Some(i) = self
            .children
            .iter()
            .position(|(k, _)| &k[..] == name.to_bytes())
        {
            // Dropping the child removes its subtree.
            drop(self.children.remove(i));
        }
    }

    /// The subdirectory `name`, if it exists.
    pub(crate) fn child_mut(&mut self, name: &CStr) -> Option<&mut ProcDir> {
        self.children
            .iter_mut()
            .find(|(k, _)| &k[..] == name.to_bytes())
            .map(|(_, d)| d)
    }

    /// Names of the subdirectories.
    pub(crate) fn subdir_names(&self) -> impl Iterator<Item = &[u8]> {
        self.children.iter().map(|(k, _)| &k[..])
    }

    /// Creates the file `path` with permission bits `mode`, backed by `data`.
    pub(crate) fn create_file<T: ProcFile>(
        &mut self,
        path: &CStr,
        mode: u16,
        data: Arc<T>,
    ) -> Result {
        // Reserve room first so that nothing can fail once the entry exists.
        self.held.reserve(1, GFP_KERNEL)?;
        let ptr = Arc::into_raw(data).cast::<c_void>();
        // SAFETY: `path` is NUL-terminated, `self.root` is a live directory (type invariant), and
        // `ProcOps::<T>::TABLE` is a static table whose callbacks expect `T` data, which `ptr` is.
        let entry = unsafe {
            bindings::proc_create_data(
                path.as_char_ptr(),
                bindings::S_IFREG as u16 | (mode & 0o777),
                self.root.as_ptr(),
                ProcOps::<T>::table(),
                ptr.cast_mut(),
            )
        };
        if entry.is_null() {
            // SAFETY: No entry was created, so `ptr` was never published; give it back.
            unsafe { release_arc::<T>(ptr) };
            return Err(EEXIST);
        }
        // INVARIANT: the reference now backs a file under `root`.
        self.held
            .push_within_capacity(Held {
                ptr,
                release: release_arc::<T>,
            })
            // Cannot fail: room was reserved above.
            .map_err(|_| ENOMEM)
    }
}

impl Drop for ProcDir {
    fn drop(&mut self) {
        // Subdirectories first: each removes its own entries and releases its own data.
        self.children.clear();
        // SAFETY: `self.root` is live (type invariant). `proc_remove` removes the subtree and
        // waits until no callback is running in any of its files.
        unsafe { bindings::proc_remove(self.root.as_ptr()) };
        for held in self.held.drain_all() {
            // SAFETY: The entry that used this reference is gone and no callback can run any
            // more, so this is the reference's last use.
            unsafe { (held.release)(held.ptr) };
        }
    }
}

/// The `proc_ops` table for files backed by `T`.
struct ProcOps<T>(PhantomData<T>);

impl<T: ProcFile> ProcOps<T> {
    const TABLE: bindings::proc_ops = bindings::proc_ops {
        proc_open: Some(Self::open),
        proc_read: Some(bindings::seq_read),
        proc_lseek: Some(bindings::seq_lseek),
        proc_release: Some(bindings::single_release),
        proc_write: if T::WRITABLE { Some(Self::write) } else { None },
        // SAFETY: `proc_ops` is plain data: all-zero is "no flags, no callback".
        ..unsafe { core::mem::zeroed() }
    };

    const fn table() -> &'static bindings::proc_ops {
        &Self::TABLE
    }

    /// # Safety
    ///
    /// Called by the VFS for an inode of a file created by [`ProcDir::create_file::<T>`].
    unsafe extern "C" fn open(inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
        // SAFETY: `inode` is a live proc inode (function safety requirements).
        let data = unsafe { bindings::omx_pde_data(inode) };
        // SAFETY: `file` is being opened; `show::<T>` expects the `T` data that `data` is, and
        // `single_open` stores it in the `seq_file`'s `private` field.
        unsafe { bindings::single_open(file, Some(Self::show), data) }
    }

    /// # Safety
    ///
    /// Called by `seq_read` on a `seq_file` set up by [`Self::open`].
    unsafe extern "C" fn show(m: *mut bindings::seq_file, _v: *mut c_void) -> c_int {
        // SAFETY: `m` is live; `private` holds the `T` data given to `single_open`, which the
        // owning `ProcDir` keeps alive until the file is removed.
        let this = unsafe { &*(*m).private.cast::<T>() };
        // SAFETY: `m` is live and only this thread uses it during `show` (seq_read holds its lock).
        let mut out = ProcOutput(unsafe { SeqFile::from_raw(m) });
        match this.show(&mut out) {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        }
    }

    /// # Safety
    ///
    /// Called by the VFS on a file opened by [`Self::open`], with a user buffer of `count` bytes.
    unsafe extern "C" fn write(
        file: *mut bindings::file,
        buf: *const c_char,
        count: usize,
        _pos: *mut bindings::loff_t,
    ) -> isize {
        if count > T::MAX_INPUT {
            return EINVAL.to_errno() as isize;
        }
        // A request is made with the writer's rights, which must be no more than the opener's
        // (see the shim): a privileged program cannot be made to write one for another user.
        // SAFETY: `file` is the live file of this write (function safety requirements).
        if !unsafe { bindings::omx_writer_may_write(file) } {
            return EACCES.to_errno() as isize;
        }
        let mut input = KVVec::new();
        let user = UserSlice::new(UserPtr::from_ptr(buf.cast_mut().cast::<c_void>()), count);
        if let Err(e) = user.read_all(&mut input, GFP_KERNEL) {
            return e.to_errno() as isize;
        }
        // SAFETY: `file` was opened by `open`, so `private_data` is the `seq_file` from
        // `single_open`, whose `private` is the `T` data kept alive by the owning `ProcDir`.
        let this = unsafe {
            &*(*(*file).private_data.cast::<bindings::seq_file>())
                .private
                .cast::<T>()
        };
        let r = match this.store(&input) {
            Ok(()) => count as isize,
            Err(e) => e.to_errno() as isize,
        };
        // What was written may be a secret (`admin/key`): it leaves no copy in freed memory.
        wipe(&mut input);
        r
    }
}

/// Overwrites `buf` with zeros in a way the compiler cannot leave out.
fn wipe(buf: &mut [u8]) {
    for b in buf.iter_mut() {
        // SAFETY: `b` is a valid, aligned, exclusive reference to a byte.
        unsafe { core::ptr::write_volatile(b, 0) };
    }
}

/// The hiding of guests' `/proc/PID` from this node's own processes: return probes on the
/// kernel's lookup of `/proc/PID` and on its check of a cached one (see `helpers.c`), which
/// answer "no such entry" for a hidden pid to every task but that pid's own and an
/// administrator's (`CAP_SYS_ADMIN`). Active while this value lives.
///
/// # Invariants
///
/// The probes are registered (`omx_pid_hiding_register` succeeded); only one value exists at a
/// time, since the probes are static and a second registration fails.
pub(crate) struct PidHiding(());

impl PidHiding {
    /// Registers the probes.
    pub(crate) fn register() -> Result<Self> {
        // SAFETY: no precondition; a failure leaves nothing registered.
        kernel::error::to_result(unsafe { bindings::omx_pid_hiding_register() })?;
        // INVARIANT: registered just now.
        Ok(Self(()))
    }
}

impl Drop for PidHiding {
    fn drop(&mut self) {
        // SAFETY: registered (type invariant), and unregistered once, here; unregistering waits
        // for the handlers that run.
        unsafe { bindings::omx_pid_hiding_unregister() };
    }
}

/// Hides `/proc/pid` (of a guest) from every task but its own; false if no more pids can be.
pub(crate) fn hide_pid(pid: u32) -> bool {
    // SAFETY: no precondition; lock-free.
    unsafe { bindings::omx_hide_pid(pid) }
}

/// Shows `/proc/pid` again.
pub(crate) fn unhide_pid(pid: u32) {
    // SAFETY: no precondition; lock-free.
    unsafe { bindings::omx_unhide_pid(pid) }
}
