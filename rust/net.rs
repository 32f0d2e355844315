// SPDX-License-Identifier: GPL-2.0

//! Kernel sockets (TCP and UDP over IPv4 and IPv6) in the initial network namespace.
//!
//! A [`Socket`] owns a `struct socket` and releases it on drop. Blocking calls honour the
//! timeouts set with [`Socket::set_timeouts`] and return `EAGAIN` when one expires; another
//! thread can cut them short with [`Socket::shutdown`].
//!
//! C header: [`include/linux/net.h`](srctree/include/linux/net.h)

use super::bindings;
use super::errno::{eafnosupport, econnreset};
use super::sys::now_ms;
use crate::omcore::addr::Addr;
use core::mem::ManuallyDrop;
use core::ptr::NonNull;
use kernel::ffi::c_int;
use kernel::ffi::c_void;
use kernel::prelude::*;

/// A socket address in the form the kernel takes: IPv4 or IPv6 with a port.
#[repr(C)]
union RawAddr {
    v4: ManuallyDrop<bindings::sockaddr_in>,
    v6: ManuallyDrop<bindings::sockaddr_in6>,
}

impl RawAddr {
    fn new(addr: &Addr, port: u16) -> (Self, c_int) {
        match addr {
            Addr::V4(b) => {
                // SAFETY: `sockaddr_in` is plain data; all-zero is valid.
                let mut sin: bindings::sockaddr_in = unsafe { core::mem::zeroed() };
                sin.sin_family = bindings::AF_INET as u16;
                sin.sin_port = port.to_be();
                sin.sin_addr.s_addr = u32::from_ne_bytes(*b);
                (
                    Self {
                        v4: ManuallyDrop::new(sin),
                    },
                    core::mem::size_of::<bindings::sockaddr_in>() as c_int,
                )
            }
            Addr::V6(b) => {
                // SAFETY: `sockaddr_in6` is plain data; all-zero is valid.
                let mut sin6: bindings::sockaddr_in6 = unsafe { core::mem::zeroed() };
                sin6.sin6_family = bindings::AF_INET6 as u16;
                sin6.sin6_port = port.to_be();
                sin6.sin6_addr.in6_u.u6_addr8 = *b;
                (
                    Self {
                        v6: ManuallyDrop::new(sin6),
                    },
                    core::mem::size_of::<bindings::sockaddr_in6>() as c_int,
                )
            }
        }
    }

    fn zeroed() -> Self {
        // SAFETY: Both variants are plain data; all-zero is valid.
        unsafe { core::mem::zeroed() }
    }

    /// The address and port this holds, if it is an IPv4 or IPv6 address.
    fn get(&self) -> Option<(Addr, u16)> {
        // SAFETY: Every variant starts with the family field, and all bit patterns are valid.
        let family = u32::from(unsafe { self.v4.sin_family });
        if family == bindings::AF_INET {
            // SAFETY: The family says this is a `sockaddr_in`.
            let sin = unsafe { &self.v4 };
            Some((
                Addr::V4(sin.sin_addr.s_addr.to_ne_bytes()),
                u16::from_be(sin.sin_port),
            ))
        } else if family == bindings::AF_INET6 {
            // SAFETY: The family says this is a `sockaddr_in6`.
            let sin6 = unsafe { &self.v6 };
            // SAFETY: Every variant of the address union is plain bytes; any pattern is valid.
            let b = unsafe { sin6.sin6_addr.in6_u.u6_addr8 };
            Some((Addr::V6(b), u16::from_be(sin6.sin6_port)))
        } else {
            None
        }
    }
}

/// Turns a negative kernel return value into an error, a non-negative one into a count.
fn check(ret: c_int) -> Result<usize> {
    if ret < 0 {
        Err(Error::from_errno(ret))
    } else {
        Ok(ret as usize)
    }
}

/// Which transport a socket uses.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// TCP stream.
    Tcp,
    /// UDP datagrams.
    Udp,
}

/// An owned kernel socket.
///
/// # Invariants
///
/// `sock` is a live socket with a `sk`, created by the kernel for this object alone.
pub(crate) struct Socket {
    sock: NonNull<bindings::socket>,
}

// SAFETY: Kernel sockets may be used and released from any thread; concurrent calls are
// serialised by the socket's own lock.
unsafe impl Send for Socket {}
// SAFETY: Every `&self` method is a kernel socket call, safe to make concurrently.
unsafe impl Sync for Socket {}

impl Socket {
    /// A new socket of `kind` for addresses of the family of `like`.
    pub(crate) fn new(kind: Kind, like: &Addr) -> Result<Self> {
        let family = match like {
            Addr::V4(_) => bindings::AF_INET,
            Addr::V6(_) => bindings::AF_INET6,
        };
        let (ty, proto) = match kind {
            Kind::Tcp => (bindings::sock_type_SOCK_STREAM, bindings::IPPROTO_TCP),
            Kind::Udp => (bindings::sock_type_SOCK_DGRAM, bindings::IPPROTO_UDP),
        };
        let mut sock = core::ptr::null_mut();
        // SAFETY: `sock` is a valid out pointer.
        check(unsafe {
            bindings::omx_sock_create(family as c_int, ty as c_int, proto as c_int, &mut sock)
        })?;
        // INVARIANT: `sock_create_kern` succeeded, so `sock` is a fresh socket with a `sk`.
        Ok(Self {
            sock: NonNull::new(sock).ok_or(ENOMEM)?,
        })
    }

    fn raw(&self) -> *mut bindings::socket {
        self.sock.as_ptr()
    }

    /// Sets receive and send timeouts in milliseconds (0 waits forever).
    pub(crate) fn set_timeouts(&self, rcv_ms: u32, snd_ms: u32) {
        // SAFETY: `self.sock` is live (type invariant).
        unsafe { bindings::omx_sock_set_timeouts(self.raw(), rcv_ms, snd_ms) };
    }

    /// Allows binding a port that connections of an earlier listener still hold.
    pub(crate) fn set_reuseaddr(&self) {
        // SAFETY: `self.sock` and its `sk` are live (type invariant).
        unsafe { bindings::sock_set_reuseaddr((*self.raw()).sk) };
    }

    /// Sends small TCP writes at once (no Nagle delay).
    pub(crate) fn set_nodelay(&self) {
        // SAFETY: `self.sock` and its `sk` are live (type invariant); the caller made it TCP.
        unsafe { bindings::tcp_sock_set_nodelay((*self.raw()).sk) };
    }

    /// Allows sending UDP datagrams to broadcast addresses.
    pub(crate) fn set_broadcast(&self) {
        // SAFETY: `self.sock` is live (type invariant).
        unsafe { bindings::omx_sock_set_broadcast(self.raw()) };
    }

    /// Binds to `addr`:`port`.
    pub(crate) fn bind(&self, addr: &Addr, port: u16) -> Result {
        let (mut raw, len) = RawAddr::new(addr, port);
        // SAFETY: `raw` is a valid socket address of `len` bytes; the socket is live.
        check(unsafe {
            bindings::kernel_bind(
                self.raw(),
                (&raw mut raw).cast::<bindings::sockaddr_unsized>(),
                len,
            )
        })
        .map(|_| ())
    }

    /// Starts listening for connections.
    pub(crate) fn listen(&self, backlog: u32) -> Result {
        // SAFETY: The socket is live.
        check(unsafe { bindings::kernel_listen(self.raw(), backlog as c_int) }).map(|_| ())
    }

    /// Waits (up to the receive timeout) for a connection and returns it.
    pub(crate) fn accept(&self) -> Result<Socket> {
        let mut new = core::ptr::null_mut();
        // SAFETY: The socket is live and listening; `new` is a valid out pointer.
        check(unsafe { bindings::kernel_accept(self.raw(), &mut new, 0) })?;
        // INVARIANT: `kernel_accept` succeeded, so `new` is a fresh connected socket.
        Ok(Socket {
            sock: NonNull::new(new).ok_or(ENOMEM)?,
        })
    }

    /// Connects to `addr`:`port`, waiting at most the send timeout.
    pub(crate) fn connect(&self, addr: &Addr, port: u16) -> Result {
        let (mut raw, len) = RawAddr::new(addr, port);
        // SAFETY: `raw` is a valid socket address of `len` bytes; the socket is live.
        check(unsafe {
            bindings::kernel_connect(
                self.raw(),
                (&raw mut raw).cast::<bindings::sockaddr_unsized>(),
                len,
                0,
            )
        })
        .map(|_| ())
    }

    /// The address and port of the connected peer.
    pub(crate) fn peer(&self) -> Result<(Addr, u16)> {
        let mut raw = RawAddr::zeroed();
        // SAFETY: `raw` has room for any IPv4/IPv6 address; the socket is live.
        check(unsafe {
            bindings::kernel_getpeername(self.raw(), (&raw mut raw).cast::<bindings::sockaddr>())
        })?;
        raw.get().ok_or(eafnosupport())
    }

    /// Sends all of `buf` (a stream socket), or fails; a send timeout is `EAGAIN`.
    pub(crate) fn send_all(&self, buf: &[u8]) -> Result {
        self.send_all_while(buf, |_| false)
    }

    /// Sends all of `buf` (a stream socket), or fails. A send timeout with nothing sent is
    /// waited through while `keep`, told the milliseconds since a byte last went, says so;
    /// else it is `EAGAIN`.
    pub(crate) fn send_all_while(&self, mut buf: &[u8], keep: impl Fn(u64) -> bool) -> Result {
        let mut last = now_ms();
        while !buf.is_empty() {
            let n = match self.sendmsg(buf, None, bindings::MSG_NOSIGNAL) {
                Err(e) if e == EAGAIN && keep(now_ms().saturating_sub(last)) => continue,
                r => r?,
            };
            if n == 0 {
                return Err(EPIPE);
            }
            buf = &buf[n..];
            last = now_ms();
        }
        Ok(())
    }

    /// Sends one datagram to `addr`:`port` without waiting for buffer space.
    pub(crate) fn send_to(&self, buf: &[u8], addr: &Addr, port: u16) -> Result {
        self.sendmsg(
            buf,
            Some((addr, port)),
            bindings::MSG_DONTWAIT | bindings::MSG_NOSIGNAL,
        )
        .map(|_| ())
    }

    fn sendmsg(&self, buf: &[u8], to: Option<(&Addr, u16)>, flags: u32) -> Result<usize> {
        let mut msg = bindings::msghdr::default();
        let (mut raw, len) = match to {
            Some((addr, port)) => RawAddr::new(addr, port),
            None => (RawAddr::zeroed(), 0),
        };
        if to.is_some() {
            msg.msg_name = (&raw mut raw).cast::<c_void>();
            msg.msg_namelen = len;
        }
        msg.msg_flags = flags;
        let mut vec = bindings::kvec {
            iov_base: buf.as_ptr().cast_mut().cast::<c_void>(),
            iov_len: buf.len(),
        };
        // SAFETY: `msg` and `vec` describe `buf`, which the kernel only reads; `raw` outlives the
        // call; the socket is live.
        check(unsafe { bindings::kernel_sendmsg(self.raw(), &mut msg, &mut vec, 1, buf.len()) })
    }

    /// Fills all of `buf` from a stream socket. `Ok(false)` when the peer closed the connection
    /// before the first byte; a close in the middle is `ECONNRESET`. A receive timeout before
    /// the first byte is `EAGAIN`; once part of `buf` has arrived, the rest is waited for while
    /// `keep`, told the milliseconds since a byte last came, says so (then `ETIMEDOUT`), so
    /// that a timeout never splits what the caller reads.
    pub(crate) fn recv_exact(&self, buf: &mut [u8], keep: impl Fn(u64) -> bool) -> Result<bool> {
        let mut got = 0;
        let mut last = now_ms();
        while got < buf.len() {
            let n = match self.recvmsg(&mut buf[got..], None, bindings::MSG_WAITALL) {
                Err(e) if e == EAGAIN && got > 0 => {
                    if keep(now_ms().saturating_sub(last)) {
                        continue;
                    }
                    return Err(ETIMEDOUT);
                }
                r => r?,
            };
            if n == 0 {
                return if got == 0 {
                    Ok(false)
                } else {
                    Err(econnreset())
                };
            }
            got += n;
            last = now_ms();
        }
        Ok(true)
    }

    /// Fills all of `buf` from a stream socket before `deadline` (a [`now_ms`] time), however
    /// the peer paces its bytes: once the deadline passes, `ETIMEDOUT`. A peer that closes the
    /// connection first is `ECONNRESET`. Sets both timeouts of the socket to what is left, so a
    /// send in between is bounded by the same deadline.
    pub(crate) fn recv_exact_until(&self, buf: &mut [u8], deadline: u64) -> Result {
        let mut got = 0;
        while got < buf.len() {
            let left = deadline.saturating_sub(now_ms());
            if left == 0 {
                return Err(ETIMEDOUT);
            }
            let left = u32::try_from(left).unwrap_or(u32::MAX);
            self.set_timeouts(left, left);
            let n = match self.recvmsg(&mut buf[got..], None, bindings::MSG_WAITALL) {
                Err(e) if e == EAGAIN || e == EINTR => continue,
                r => r?,
            };
            if n == 0 {
                return Err(econnreset());
            }
            got += n;
        }
        Ok(())
    }

    /// Receives one datagram (waiting up to the receive timeout); returns its length and sender.
    pub(crate) fn recv_from(&self, buf: &mut [u8]) -> Result<(usize, Option<(Addr, u16)>)> {
        let mut from = RawAddr::zeroed();
        let n = self.recvmsg(buf, Some(&mut from), 0)?;
        Ok((n, from.get()))
    }

    fn recvmsg(&self, buf: &mut [u8], from: Option<&mut RawAddr>, flags: u32) -> Result<usize> {
        let mut msg = bindings::msghdr::default();
        if let Some(from) = from {
            msg.msg_name = core::ptr::from_mut(from).cast::<c_void>();
            msg.msg_namelen = core::mem::size_of::<RawAddr>() as c_int;
        }
        let mut vec = bindings::kvec {
            iov_base: buf.as_mut_ptr().cast::<c_void>(),
            iov_len: buf.len(),
        };
        // SAFETY: `msg` and `vec` describe `buf`, which the kernel may fill; `from` (if any) has
        // room for any address; the socket is live.
        check(unsafe {
            bindings::kernel_recvmsg(self.raw(), &mut msg, &mut vec, 1, buf.len(), flags as c_int)
        })
    }

    /// Shuts both directions down: blocked calls on this socket return at once.
    pub(crate) fn shutdown(&self) {
        // SAFETY: The socket is live. An error (not connected) is of no interest.
        unsafe {
            bindings::kernel_sock_shutdown(self.raw(), bindings::sock_shutdown_cmd_SHUT_RDWR)
        };
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        // SAFETY: `self.sock` is live and owned by this object alone (type invariant).
        unsafe { bindings::sock_release(self.sock.as_ptr()) };
    }
}
