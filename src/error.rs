// SPDX-License-Identifier: GPL-2.0

//! The module's own error type: a kernel errno, or why one of `omcore`'s decoders refused a
//! peer's bytes.
//!
//! A frame handler that refuses a frame returns a [`Fault`] that keeps the decoder's reason, so
//! the log line that closes the connection says what was wrong with it ("field nr out of range")
//! rather than only `EBADMSG`. Converting to an errno happens in one place: [`Fault::errno`] (and
//! [`syscall_result`] for the negative value a system call returns).

use crate::ksys::errno::ebadmsg;
use crate::omcore::frame::DecodeError;
use crate::omcore::image::ImageError;
use crate::omcore::msg::PayloadError;
use kernel::alloc::AllocError;
use kernel::error::{code::EINVAL, Error};

/// Why an operation failed.
#[derive(Clone, Copy)]
pub(crate) enum Fault {
    /// A kernel error, or one the module chose.
    Errno(Error),
    /// A frame header from a peer that does not decode.
    Frame(DecodeError),
    /// A payload from a peer that does not decode.
    Payload(PayloadError),
    /// A migration image record from a peer that does not decode or comes out of order.
    Image(ImageError),
}

/// Result of the module's own operations.
pub(crate) type Result<T = ()> = core::result::Result<T, Fault>;

impl Fault {
    /// The errno this stands for: refused peer bytes are `EBADMSG` (image records `EINVAL`, as
    /// a process's restore reports them).
    pub(crate) fn errno(self) -> Error {
        match self {
            Self::Errno(e) => e,
            Self::Frame(_) | Self::Payload(_) => ebadmsg(),
            Self::Image(_) => EINVAL,
        }
    }
}

impl From<Error> for Fault {
    fn from(e: Error) -> Self {
        Self::Errno(e)
    }
}

impl From<AllocError> for Fault {
    fn from(e: AllocError) -> Self {
        Self::Errno(e.into())
    }
}

impl From<DecodeError> for Fault {
    fn from(e: DecodeError) -> Self {
        Self::Frame(e)
    }
}

impl From<PayloadError> for Fault {
    fn from(e: PayloadError) -> Self {
        Self::Payload(e)
    }
}

impl From<ImageError> for Fault {
    fn from(e: ImageError) -> Self {
        Self::Image(e)
    }
}

impl From<Fault> for Error {
    fn from(f: Fault) -> Self {
        f.errno()
    }
}

impl kernel::fmt::Display for Fault {
    fn fmt(&self, f: &mut kernel::fmt::Formatter<'_>) -> kernel::fmt::Result {
        match self {
            Self::Errno(e) => write!(f, "error {}", e.to_errno()),
            Self::Frame(d) => write!(f, "bad frame: {d}"),
            Self::Payload(p) => write!(f, "bad message: {p}"),
            Self::Image(i) => write!(f, "bad image: {i}"),
        }
    }
}

/// The value a system call returns for error `e` (a negative errno).
pub(crate) fn syscall_result(e: impl Into<Fault>) -> i64 {
    i64::from(e.into().errno().to_errno())
}
