// SPDX-License-Identifier: GPL-2.0

//! One authenticated connection to a peer: its socket, keys and bounded send queue.
//!
//! Two kernel threads serve a connection: `omx-rx/ID` (in [`super::Mesh`]) reads and checks
//! frames, `omx-tx/ID` ([`tx_loop`]) drains the send queue into the socket. A full queue refuses
//! new frames ([`Conn::send`]) or holds the sender back ([`Conn::send_with`] with `wait`).
//!
//! Lock order: only `Conn::tx` is taken here, and never with another lock of this file held.

use super::config::{RX_POLL_MS, TX_QUEUE_BYTES, TX_STALL_MS};
use super::frame::{build_sealed, Session};
use crate::ksys::copy_exact;
use crate::ksys::errno::enotconn;
use crate::ksys::net::Socket;
use crate::ksys::sys::now_ms;
use crate::ksys::thread;
use crate::omcore::frame::MessageKind;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use kernel::prelude::*;
use kernel::sync::{new_condvar, new_mutex, Arc, CondVar, Mutex};

/// The name of the next connection made (see [`Conn::link`]).
static NEXT_LINK: AtomicU64 = AtomicU64::new(1);

/// An authenticated connection to a peer.
#[pin_data]
pub(crate) struct Conn {
    /// The peer's node ID, and this node's when the connection was made.
    pub(crate) peer: u32,
    pub(crate) me: u32,
    /// This connection's name, never given to another (never 0): what is under way with a peer
    /// (a guest, a deputy) holds the name of the connection it began on, and ends when that
    /// connection does, even if another one took its place at once, since frames queued on
    /// the dead one are lost.
    pub(crate) link: u64,
    pub(crate) sock: Socket,
    pub(crate) session: Session,
    dead: AtomicBool,
    #[pin]
    tx: Mutex<TxQueue>,
    #[pin]
    tx_cv: CondVar,
    /// Signalled when the send queue shrinks.
    #[pin]
    room_cv: CondVar,
}

struct TxQueue {
    frames: KVec<KVec<u8>>,
    bytes: usize,
    seq: u64,
    /// Frames taken off the queue so far (for senders waiting for it to move).
    taken: u64,
}

impl Conn {
    pub(crate) fn new(
        peer: u32,
        me: u32,
        sock: Socket,
        session: Session,
    ) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            peer,
            me,
            link: NEXT_LINK.fetch_add(1, Relaxed),
            sock,
            session,
            dead: AtomicBool::new(false),
            tx <- new_mutex!(
                TxQueue { frames: KVec::new(), bytes: 0, seq: 0, taken: 0 },
                "Conn::tx"
            ),
            tx_cv <- new_condvar!("Conn::tx_cv"),
            room_cv <- new_condvar!("Conn::room_cv"),
        })
    }

    /// Closes the connection: both threads notice and end.
    pub(crate) fn kill(&self) {
        self.dead.store(true, Relaxed);
        self.sock.shutdown();
        self.tx_cv.notify_all();
        self.room_cv.notify_all();
    }

    pub(crate) fn is_dead(&self) -> bool {
        self.dead.load(Relaxed)
    }

    /// Queues a frame, its payload encrypted with `encrypt`; `EAGAIN` when the queue is full
    /// (the frame is dropped).
    pub(crate) fn send(&self, kind: MessageKind, payload: &[u8], encrypt: bool) -> Result {
        self.send_with(kind, payload.len(), false, encrypt, |b| {
            copy_exact(b, payload)
        })
    }

    /// Queues a frame whose payload of `len` bytes `fill` writes in place in the frame (no
    /// copy of its own), encrypted with `encrypt` and else only authenticated. With `wait`,
    /// waits while the queue is full and the connection lives (`ETIMEDOUT` if the queue does
    /// not move for [`TX_STALL_MS`]); without, `EAGAIN` when it is (the frame is dropped).
    pub(crate) fn send_with(
        &self,
        kind: MessageKind,
        len: usize,
        wait: bool,
        encrypt: bool,
        fill: impl FnOnce(&mut [u8]) -> bool,
    ) -> Result {
        if self.is_dead() {
            return Err(enotconn());
        }
        let mut q = self.tx.lock();
        if wait {
            let mut t0 = now_ms();
            let mut taken = q.taken;
            // A frame larger than the whole queue goes alone into an empty one.
            while q.bytes > 0 && q.bytes + len > TX_QUEUE_BYTES {
                if self.is_dead() {
                    return Err(enotconn());
                }
                let now = now_ms();
                if q.taken != taken {
                    (t0, taken) = (now, q.taken);
                } else if now.saturating_sub(t0) > TX_STALL_MS {
                    return Err(ETIMEDOUT);
                }
                let _ = self
                    .room_cv
                    .wait_interruptible_timeout(&mut q, kernel::time::msecs_to_jiffies(RX_POLL_MS));
            }
            if self.is_dead() {
                return Err(enotconn());
            }
        } else {
            // A heartbeat (one small frame a period) is never dropped for a queue full of bulk
            // frames such as an image: its peer would take this node for dead.
            let room = if kind == MessageKind::Heartbeat {
                TX_QUEUE_BYTES + 4096
            } else {
                TX_QUEUE_BYTES
            };
            if q.bytes + len > room {
                return Err(EAGAIN);
            }
        }
        // The sequence number is the nonce of the direction's key: each is used once, as the
        // queue's lock makes numbers and frames go out in the same order.
        let seq = q.seq + 1;
        let f = build_sealed(
            kind,
            self.me,
            self.peer,
            seq,
            len,
            &self.session.tx,
            encrypt,
            fill,
        )?;
        q.frames.reserve(1, GFP_KERNEL)?;
        q.seq = seq;
        q.bytes += f.len();
        q.frames.push_within_capacity(f).map_err(|_| ENOMEM)?;
        drop(q);
        self.tx_cv.notify_one();
        Ok(())
    }
}

/// Drains `conn`'s send queue into its socket until the connection dies or the thread stops.
pub(crate) fn tx_loop(conn: &Arc<Conn>) {
    loop {
        let frame = {
            let mut q = conn.tx.lock();
            loop {
                if thread::should_stop() || conn.is_dead() {
                    return;
                }
                if !q.frames.is_empty() {
                    break;
                }
                let _ = conn
                    .tx_cv
                    .wait_interruptible_timeout(&mut q, kernel::time::msecs_to_jiffies(RX_POLL_MS));
            }
            let f = q.frames.remove(0).unwrap_or_default();
            q.bytes -= f.len().min(q.bytes);
            q.taken += 1;
            f
        };
        conn.room_cv.notify_all();
        // Waits out TCP's retransmissions on a lossy link (see `TX_STALL_MS`).
        let keep = |stalled| !thread::should_stop() && !conn.is_dead() && stalled < TX_STALL_MS;
        if conn.sock.send_all_while(&frame, keep).is_err() {
            conn.kill();
            return;
        }
    }
}
