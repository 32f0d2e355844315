// SPDX-License-Identifier: GPL-2.0

//! Error codes that `kernel::error::code` does not declare.

use super::bindings;
use kernel::error::Error;

fn code(errno: u32) -> Error {
    Error::from_errno(-(errno as i32))
}

/// `EBADMSG`: a peer sent a malformed or unauthenticated frame.
pub(crate) fn ebadmsg() -> Error {
    code(bindings::EBADMSG)
}

/// `ECONNRESET`: the peer closed the connection in the middle of a frame.
pub(crate) fn econnreset() -> Error {
    code(bindings::ECONNRESET)
}

/// `ENOTCONN`: the connection is closed.
pub(crate) fn enotconn() -> Error {
    code(bindings::ENOTCONN)
}

/// `ESHUTDOWN`: the module is stopping.
pub(crate) fn eshutdown() -> Error {
    code(bindings::ESHUTDOWN)
}

/// `EAFNOSUPPORT`: an address of a family other than IPv4/IPv6.
pub(crate) fn eafnosupport() -> Error {
    code(bindings::EAFNOSUPPORT)
}

/// `EHOSTUNREACH`: the node is not up (or refuses what was asked).
pub(crate) fn ehostunreach() -> Error {
    code(bindings::EHOSTUNREACH)
}

/// `ECANCELED`: the other side gave the operation up.
pub(crate) fn ecanceled() -> Error {
    code(bindings::ECANCELED)
}

/// `ENOSYS`: the system call is not available (here, to a migrated process).
pub(crate) fn enosys() -> Error {
    code(bindings::ENOSYS)
}

/// `ENAMETOOLONG`: a path or string argument is too long.
pub(crate) fn enametoolong() -> Error {
    code(bindings::ENAMETOOLONG)
}

/// `ENOBUFS`: more ancillary data than a message may carry.
pub(crate) fn enobufs() -> Error {
    code(bindings::ENOBUFS)
}

/// `ESTALE`: a save named as the parent of an incremental one is not the process's latest.
pub(crate) fn estale() -> Error {
    code(bindings::ESTALE)
}

/// Turns a shim result (a value or -errno) into a `Result`.
pub(crate) fn to_result(r: isize) -> kernel::error::Result<u64> {
    if r < 0 {
        let e = i32::try_from(r).unwrap_or(-(bindings::EINVAL as i32));
        return Err(Error::from_errno(e));
    }
    Ok(r as u64)
}
