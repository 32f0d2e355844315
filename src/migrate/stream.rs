// SPDX-License-Identifier: GPL-2.0

//! Both directions of an image's record stream: [`ImageSender`] packs records into `MigImage`
//! frames as a capture makes them; [`Inflow`] queues the frames a restore has not taken yet and
//! [`wait_record`] hands it the next record once the image's reader has checked it.
//!
//! The sender is held back by the connection's queue (it waits for room); the receiver holds
//! the connection's `omx-rx` thread back while more than [`super::config::GUEST_QUEUE_BYTES`] wait.

use super::config::{ANSWER_MS, POLL_MS, PROGRESS_MS};
use crate::error::Fault;
use crate::ksys::errno::ebadmsg;
use crate::ksys::file::UserFile;
use crate::ksys::sys::now_ms;
use crate::ksys::task::cur;
use crate::ksys::thread;
use crate::ksys::Disp;
use crate::mesh::Mesh;
use crate::omcore::frame::MessageKind;
use crate::omcore::image::{self, MM_FIELDS};
use crate::omcore::image::{
    Begin, ImageReader, Kind, Record, RecordHeader, VmaKind, NREGS, RECORD_HEADER_LEN,
};
use crate::omcore::mig::{self, Records, MAX_CHUNK};
use crate::userlog::peer_warn;
use kernel::prelude::*;
use kernel::sync::{CondVar, Mutex};
use kernel::time::msecs_to_jiffies;

/// Where an image goes and what it is called.
pub(crate) struct Dest {
    pub(crate) target: u32,
    pub(crate) home: u32,
    pub(crate) mig_id: u32,
    /// The process's pid at home.
    pub(crate) home_pid: u32,
    /// Its real user id as its home sees it.
    pub(crate) home_uid: u32,
}

/// Where an image's records go.
enum Out<'a> {
    /// `MigImage` frames to node `target`.
    Peer { mesh: &'a Mesh, target: u32 },
    /// The end of a checkpoint file: the records alone.
    File(&'a UserFile),
}

/// Builds `MigImage` frames of whole records and sends each when full (or appends the records
/// to a checkpoint file).
pub(crate) struct ImageSender<'a> {
    out: Out<'a>,
    /// `mig_id`, then the records of the frame being filled (for a file, the prefix is
    /// zeros and never written).
    buf: KVec<u8>,
    /// How far the image got, for its home when a host sends it to a third node.
    report: Option<Report>,
    /// A checkpoint: every area travels as memory, none as an area paged from home.
    all_memory: bool,
    /// An incremental checkpoint: pages unchanged since the process's previous save go as
    /// `Parent` records.
    incremental: bool,
}

/// What the home of a guest whose image goes from its host to a third node is told
/// (`MigCtl Progress`).
struct Report {
    home: u32,
    mig_id: u32,
    /// Image bytes sent so far.
    sent: u64,
    /// When the home was last told (ms since boot).
    told: u64,
}

impl<'a> ImageSender<'a> {
    pub(crate) fn new(mesh: &'a Mesh, to: &Dest) -> Result<Self> {
        let mut buf = KVec::with_capacity(mig::IMAGE_PREFIX + MAX_CHUNK, GFP_KERNEL)?;
        buf.extend_from_slice(&mig::image_prefix(to.home, to.mig_id), GFP_KERNEL)?;
        let onward = mesh.self_id() != to.home && to.target != to.home;
        Ok(Self {
            out: Out::Peer {
                mesh,
                target: to.target,
            },
            buf,
            all_memory: false,
            incremental: false,
            report: onward.then(|| Report {
                home: to.home,
                mig_id: to.mig_id,
                sent: 0,
                told: now_ms(),
            }),
        })
    }

    /// Records appended to `file` as they are made (a checkpoint).
    pub(crate) fn to_file(file: &'a UserFile) -> Result<Self> {
        let mut buf = KVec::with_capacity(mig::IMAGE_PREFIX + MAX_CHUNK, GFP_KERNEL)?;
        buf.extend_from_slice(&[0; mig::IMAGE_PREFIX], GFP_KERNEL)?;
        Ok(Self {
            out: Out::File(file),
            buf,
            report: None,
            all_memory: true,
            incremental: false,
        })
    }

    /// A checkpoint's records, sent as `MigImage` frames as `to` says.
    pub(crate) fn checkpoint(mesh: &'a Mesh, to: &Dest) -> Result<Self> {
        let mut tx = Self::new(mesh, to)?;
        tx.all_memory = true;
        Ok(tx)
    }

    /// Whether every area travels as memory (a checkpoint).
    pub(crate) fn all_memory(&self) -> bool {
        self.all_memory
    }

    /// Makes this checkpoint's image incremental (see `capture`).
    pub(crate) fn incremental(mut self) -> Self {
        self.incremental = self.all_memory;
        self
    }

    /// Whether pages unchanged since the previous save go as `Parent` records.
    pub(crate) fn is_incremental(&self) -> bool {
        self.incremental
    }

    /// Adds a record whose body is the concatenation of `parts`.
    pub(crate) fn record(&mut self, kind: Kind, parts: &[&[u8]]) -> Result {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        if self.buf.len() + RECORD_HEADER_LEN + len > mig::IMAGE_PREFIX + MAX_CHUNK {
            self.flush()?;
        }
        let h = RecordHeader {
            kind,
            len: u32::try_from(len).map_err(|_| EINVAL)?,
        };
        self.buf.extend_from_slice(&h.encode(), GFP_KERNEL)?;
        for p in parts {
            self.buf.extend_from_slice(p, GFP_KERNEL)?;
        }
        Ok(())
    }

    /// Sends the records added since the last flush.
    pub(crate) fn flush(&mut self) -> Result {
        if self.buf.len() <= mig::IMAGE_PREFIX {
            return Ok(());
        }
        let len = (self.buf.len() - mig::IMAGE_PREFIX) as u64;
        match self.out {
            Out::File(f) => f.append(&self.buf[mig::IMAGE_PREFIX..])?,
            Out::Peer { mesh, target } => {
                mesh.send_to(target, MessageKind::MigImage, &self.buf, true)?;
                if let Some(r) = &mut self.report {
                    r.sent += len;
                    let now = now_ms();
                    if now.saturating_sub(r.told) >= PROGRESS_MS {
                        r.told = now;
                        let kib = u32::try_from(r.sent / 1024).unwrap_or(u32::MAX);
                        report_progress(mesh, r.home, r.mig_id, kib);
                    }
                }
            }
        }
        self.buf.truncate(mig::IMAGE_PREFIX);
        Ok(())
    }
}

/// Tells `home` that `kib` KiB of the image of its move `mig_id` are on their way (not
/// waiting for room: a report that does not fit is dropped, the next one says more).
pub(crate) fn report_progress(mesh: &Mesh, home: u32, mig_id: u32, kib: u32) {
    let c = mig::Ctl::Progress { mig_id, kib };
    let _ = mesh.send_to(home, MessageKind::MigCtl, &c.encode(), false);
}

/// An image coming in: the parts received and not taken yet, checked record by record.
pub(crate) struct Inflow {
    /// Image parts (whole `MigImage` payloads) and how much of each was taken already.
    parts: KVec<(KVec<u8>, usize)>,
    /// Bytes queued and not taken.
    pub(crate) bytes: usize,
    reader: ImageReader,
}

impl Inflow {
    pub(crate) fn new() -> Self {
        Self {
            parts: KVec::new(),
            bytes: 0,
            reader: ImageReader::new(),
        }
    }

    /// The image of an incremental checkpoint: `Parent` records are accepted.
    pub(crate) fn incremental() -> Self {
        Self {
            reader: ImageReader::incremental(),
            ..Self::new()
        }
    }

    /// Queues the records of one `MigImage` payload: `payload` is the whole frame payload,
    /// whose records start at `at` (it is kept as it came, not copied).
    pub(crate) fn push(&mut self, payload: KVec<u8>, at: usize) -> Result {
        let len = payload.len().saturating_sub(at);
        self.parts.push((payload, at), GFP_KERNEL)?;
        self.bytes += len;
        Ok(())
    }

    /// Pops the next whole record (header and body); a malformed part comes out as a record the
    /// reader refuses.
    #[inline(never)]
    fn next_raw(&mut self) -> Option<(RecordHeader, KVec<u8>)> {
        loop {
            let (part, taken) = self.parts.first_mut()?;
            if *taken >= part.len() {
                let _ = self.parts.remove(0);
                continue;
            }
            let mut it = Records::new(&part[*taken..]);
            let (h, body) = match it.next()? {
                Ok(x) => x,
                Err(_) => {
                    let len = part.len() - *taken;
                    self.bytes -= len.min(self.bytes);
                    let _ = self.parts.remove(0);
                    // A second `End` is refused by any reader, whatever state it is in.
                    return Some((
                        RecordHeader {
                            kind: Kind::End,
                            len: 0,
                        },
                        KVec::new(),
                    ));
                }
            };
            let mut v = KVec::with_capacity(body.len(), GFP_KERNEL).ok()?;
            v.extend_from_slice(body, GFP_KERNEL).ok()?;
            let used = RECORD_HEADER_LEN + body.len();
            *taken += used;
            self.bytes -= used.min(self.bytes);
            return Some((h, v));
        }
    }
}

/// What the restore keeps of a record once the reader has checked it (its body is kept apart).
pub(crate) enum Owned {
    Begin(Begin),
    Regs([u64; NREGS]),
    Xstate,
    Mm([u64; MM_FIELDS]),
    /// start, end, protection, kind, home file, page offset.
    Vma(u64, u64, u8, VmaKind, u16, u64),
    Pages(u64),
    /// Pages unchanged since the previous checkpoint.
    Parent,
    Signals,
    Limits(image::Limits),
    Misc(image::Misc),
    End,
}

fn copy_record(r: Record<'_>) -> Owned {
    match r {
        Record::Begin(b) => Owned::Begin(b),
        Record::Regs(r) => Owned::Regs(r.r),
        Record::Xstate(_) => Owned::Xstate,
        Record::Mm(m) => Owned::Mm(m.v),
        Record::Vma(v) => Owned::Vma(v.start, v.end, v.prot, v.kind, v.file, v.pgoff),
        Record::Pages { addr, .. } => Owned::Pages(addr),
        Record::Parent { .. } => Owned::Parent,
        Record::Signals(_) => Owned::Signals,
        Record::Limits(l) => Owned::Limits(l),
        Record::Misc(m) => Owned::Misc(m),
        Record::End(_) => Owned::End,
    }
}

/// Waits for the next record of the image behind `lock` (`inflow` finds it) and checks it with
/// the image's reader. Gives up after [`ANSWER_MS`] of silence, on a fatal signal, or when
/// `inflow` says the image was given up.
pub(crate) fn wait_record<T: Unpin>(
    lock: &Mutex<T>,
    cv: &CondVar,
    from: u32,
    inflow: fn(&mut T) -> Result<&mut Inflow>,
) -> Result<(KVec<u8>, Owned)> {
    let t0 = now_ms();
    let mut g = lock.lock();
    loop {
        let img = inflow(&mut *g)?;
        if let Some((h, body)) = img.next_raw() {
            let rec = match img.reader.feed(h, &body) {
                Ok(r) => copy_record(r),
                Err(e) => {
                    peer_warn!("image from node {}: {}\n", from, Disp(&e));
                    return Err(Fault::from(e).errno());
                }
            };
            drop(g);
            // Room in the queue for the receiver.
            cv.notify_all();
            return Ok((body, rec));
        }
        if now_ms().saturating_sub(t0) > ANSWER_MS {
            return Err(ETIMEDOUT);
        }
        if cur::fatal_signal_pending() {
            return Err(EINTR);
        }
        g = nap(lock, cv, g);
    }
}

/// An image read back from a checkpoint file, record by record, each checked by the image's
/// reader before it is used (the file is as hostile as a peer's image).
pub(crate) struct FileImage<'a> {
    file: &'a UserFile,
    /// Where the next record starts.
    pos: u64,
    reader: ImageReader,
}

impl<'a> FileImage<'a> {
    /// The image whose first record starts at byte `pos` of `file`.
    pub(crate) fn new(file: &'a UserFile, pos: u64) -> Self {
        Self {
            file,
            pos,
            reader: ImageReader::new(),
        }
    }

    /// The next record, checked: `EINVAL` (and a log line) for what the reader refuses, `EIO`
    /// for a file that ends too soon.
    pub(crate) fn next(&mut self) -> Result<(KVec<u8>, Owned)> {
        let mut h = [0u8; RECORD_HEADER_LEN];
        self.file.read_exact_at(&mut h, self.pos)?;
        let refuse = |e: image::ImageError| {
            pr_warn!("checkpoint image: {}\n", Disp(&e));
            EINVAL
        };
        // The header's length is at most its kind's largest body (`RecordHeader::decode`).
        let h = RecordHeader::decode(&h).map_err(refuse)?;
        let body_at = self
            .pos
            .checked_add(RECORD_HEADER_LEN as u64)
            .ok_or(EINVAL)?;
        let mut body = KVec::from_elem(0u8, h.len as usize, GFP_KERNEL)?;
        self.file.read_exact_at(&mut body, body_at)?;
        self.pos = body_at.checked_add(u64::from(h.len)).ok_or(EINVAL)?;
        let rec = self
            .reader
            .feed(h, &body)
            .map(copy_record)
            .map_err(refuse)?;
        Ok((body, rec))
    }
}

/// Waits, holding back the caller (an `omx-rx` thread), while `full` says the image behind
/// `held` has too much waiting; returns the lock held again.
pub(crate) fn wait_for_room<'a, T: Unpin>(
    cv: &CondVar,
    mut held: Held<'a, T>,
    full: impl Fn(&T) -> bool,
) -> Held<'a, T> {
    while full(&held) && !thread::should_stop() {
        let _ = cv.wait_interruptible_timeout(&mut held, msecs_to_jiffies(POLL_MS));
    }
    held
}

/// A held lock of a `Mutex`.
pub(crate) type Held<'a, T> =
    kernel::sync::lock::Guard<'a, T, kernel::sync::lock::mutex::MutexBackend>;

/// Waits on `cv` with `held` (of `lock`) for a notification or [`POLL_MS`]; returns it held
/// again. With a signal pending (which stays for the process) it sleeps 5 ms instead: an
/// interruptible wait would return at once.
pub(crate) fn nap<'a, T: Unpin>(
    lock: &'a Mutex<T>,
    cv: &CondVar,
    mut held: Held<'a, T>,
) -> Held<'a, T> {
    if cur::signal_pending() {
        drop(held);
        thread::pause_ms(5);
        lock.lock()
    } else {
        let _ = cv.wait_interruptible_timeout(&mut held, msecs_to_jiffies(POLL_MS));
        held
    }
}

/// The records an image starts with.
pub(crate) struct Head {
    pub(crate) begin: Begin,
    pub(crate) regs: [u64; NREGS],
    pub(crate) xstate: KVec<u8>,
    pub(crate) mm: [u64; MM_FIELDS],
}

/// Reads the head records (the reader has them in this order) from `next`.
pub(crate) fn read_head(next: &mut dyn FnMut() -> Result<(KVec<u8>, Owned)>) -> Result<Head> {
    let (_, Owned::Begin(begin)) = next()? else {
        return Err(EINVAL);
    };
    let (_, Owned::Regs(regs)) = next()? else {
        return Err(EINVAL);
    };
    let (xstate, Owned::Xstate) = next()? else {
        return Err(EINVAL);
    };
    let (_, Owned::Mm(mm)) = next()? else {
        return Err(EINVAL);
    };
    Ok(Head {
        begin,
        regs,
        xstate,
        mm,
    })
}

/// The image part of a `MigImage` payload: `(home, mig_id, offset of its records)`.
pub(crate) fn image_part(payload: &[u8]) -> crate::error::Result<(u32, u32, usize)> {
    let (home, mig_id, part) = mig::decode_image(payload)?;
    let at = payload.len().checked_sub(part.len()).ok_or(ebadmsg())?;
    Ok((home, mig_id, at))
}
