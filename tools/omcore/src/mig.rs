// SPDX-License-Identifier: GPL-2.0

//! Payloads of the migration messages.
//!
//! A migration is named by the home node's `mig_id` (unique on the home node while the module is
//! loaded; each hop of a process gets a new one); with the home's node ID it names one guest on
//! its host. All integers big-endian.
//!
//! | kind          | direction       | payload                                                 |
//! | ------------- | --------------- | ------------------------------------------------------- |
//! | `MigImage`    | sender -> target| home u32, mig_id u32, then whole image records          |
//! | `MigResult`   | target -> home  | mig_id u32, result i32 (0 or -errno), guest pid u32     |
//! | `GuestExit`   | host -> home    | mig_id u32, wait status u32                             |
//! | `GuestSignal` | home -> host    | mig_id u32, signal u32 [, code i32, errno i32, fields 32 bytes] |
//! | `MigCtl`      | either way      | op u32, mig_id u32, a u32, b u32 (see [`Ctl`])          |
//!
//! The sender of an image is the home (first migration) or the guest's current host (a guest
//! moving on, or coming home: then the target is the home itself).
//!
//! A `MigImage` payload holds whole records only, so a receiver can check each one as it comes,
//! with no reassembly across frames; [`Records`] splits it.

use super::image::{ImageError, RecordHeader, RECORD_HEADER_LEN};
use super::msg::PayloadError;

/// Largest image part one `MigImage` frame carries (the records, without home and `mig_id`).
pub const MAX_CHUNK: usize = 320 * 1024;
/// Bytes before the records of a `MigImage` payload.
pub const IMAGE_PREFIX: usize = 8;
/// Largest `MigImage` payload.
pub const MAX_IMAGE_PAYLOAD: usize = IMAGE_PREFIX + MAX_CHUNK;
/// Size of a `MigCtl` payload.
pub const CTL_LEN: usize = 16;
/// Size of a `MigResult` payload.
pub const RESULT_LEN: usize = 12;
/// Size of a `GuestSignal` payload without its `siginfo`.
pub const PAIR_LEN: usize = 8;
/// Size of a `GuestExit` payload.
pub const EXIT_LEN: usize = 24;
/// Highest signal number.
pub const MAX_SIGNAL: u32 = 64;

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The start of a `MigImage` payload: home node and `mig_id`.
pub fn image_prefix(home: u32, mig_id: u32) -> [u8; IMAGE_PREFIX] {
    let mut b = [0u8; IMAGE_PREFIX];
    b[..4].copy_from_slice(&home.to_be_bytes());
    b[4..].copy_from_slice(&mig_id.to_be_bytes());
    b
}

/// Splits a `MigImage` payload into home node, `mig_id` and its records.
pub fn decode_image(p: &[u8]) -> Result<(u32, u32, &[u8]), PayloadError> {
    if p.len() < IMAGE_PREFIX + RECORD_HEADER_LEN || p.len() > MAX_IMAGE_PAYLOAD {
        return Err(PayloadError::Length);
    }
    let home = be32(p, 0);
    if !(1..=super::map::MAX_NODE_ID).contains(&home) {
        return Err(PayloadError::Field("home"));
    }
    Ok((home, be32(p, 4), &p[IMAGE_PREFIX..]))
}

/// `MigCtl`: moving a guest that runs already.
///
/// A guest moves on (to a third node, or home) in three steps: the home sends [`Ctl::Depart`] to
/// the guest's host; the host captures the guest and streams it as a new migration `new_mig_id`
/// to `target`; the target answers the home with `MigResult`, and the home gives the old host its
/// [`Ctl::Verdict`]: on success the old guest ends quietly, else it goes on where it is. When the
/// target is the home, the deputy restores the image into itself and gives the verdict. Before
/// the `Depart`, the home tells the target to [`Ctl::Expect`] the image: a node takes a guest
/// whose image comes from another node than its home only as the home announced it. While it
/// sends the image to a third node the old host tells the home how far it got
/// ([`Ctl::Progress`]): the home waits for the move as long as it moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ctl {
    /// Home to host: capture guest `mig_id` and send it to `target` as `new_mig_id`.
    Depart {
        /// The guest.
        mig_id: u32,
        /// Where it goes (the home node's ID: it comes home).
        target: u32,
        /// The migration's name from now on.
        new_mig_id: u32,
    },
    /// Home to the old host: the move of guest `mig_id` succeeded (`result` 0: end it) or failed
    /// (`-errno`: it goes on there).
    Verdict {
        /// The guest.
        mig_id: u32,
        /// 0 or a negative errno.
        result: i32,
    },
    /// Host to home: please move guest `mig_id` to `target` (0: home), e.g. `admin/expel`.
    Move {
        /// The guest.
        mig_id: u32,
        /// Where it should go; 0 is its home.
        target: u32,
    },
    /// Home to the target of a move: the image of migration `mig_id` of the home's will come
    /// from node `from` (the guest's host now); take it.
    Expect {
        /// The migration's name (the `new_mig_id` of the `Depart`).
        mig_id: u32,
        /// The node the image comes from.
        from: u32,
    },
    /// Old host to home, while it sends a guest's image to a third node, about once a second
    /// and when the image is sent: `kib` KiB of it are on their way (at the end: the KiB of
    /// pages, as a first move counts them).
    Progress {
        /// The migration's new name (the `new_mig_id` of the `Depart`).
        mig_id: u32,
        /// KiB sent so far.
        kib: u32,
    },
    /// Home to host: capture guest `mig_id` where it runs, send its image home as `ckpt_id`
    /// (a checkpoint, every area as memory), then hold it until [`Ctl::Release`].
    Checkpoint {
        /// The guest.
        mig_id: u32,
        /// The name of the image stream.
        ckpt_id: u32,
        /// Only the pages the guest wrote since the host last cleared its soft-dirty bits go
        /// with their contents (`Parent` records for the others: an incremental checkpoint).
        incremental: bool,
    },
    /// Home to host: guest `mig_id`, held after a checkpoint's capture, goes on.
    Release {
        /// The guest.
        mig_id: u32,
    },
}

impl Ctl {
    /// Encodes the payload.
    pub fn encode(&self) -> [u8; CTL_LEN] {
        let (op, id, a, b) = match *self {
            Self::Depart {
                mig_id,
                target,
                new_mig_id,
            } => (1u32, mig_id, target, new_mig_id),
            Self::Verdict { mig_id, result } => (2, mig_id, result as u32, 0),
            Self::Move { mig_id, target } => (3, mig_id, target, 0),
            Self::Expect { mig_id, from } => (4, mig_id, from, 0),
            Self::Progress { mig_id, kib } => (5, mig_id, kib, 0),
            Self::Checkpoint {
                mig_id,
                ckpt_id,
                incremental,
            } => (6, mig_id, ckpt_id, incremental.into()),
            Self::Release { mig_id } => (7, mig_id, 0, 0),
        };
        let mut p = [0u8; CTL_LEN];
        for (i, v) in [op, id, a, b].iter().enumerate() {
            p[4 * i..4 * i + 4].copy_from_slice(&v.to_be_bytes());
        }
        p
    }

    /// Decodes and checks a payload.
    pub fn decode(p: &[u8]) -> Result<Self, PayloadError> {
        if p.len() != CTL_LEN {
            return Err(PayloadError::Length);
        }
        let (op, mig_id, a, b) = (be32(p, 0), be32(p, 4), be32(p, 8), be32(p, 12));
        let node = |n: u32, zero_ok: bool| {
            if (zero_ok && n == 0) || (1..=super::map::MAX_NODE_ID).contains(&n) {
                Ok(n)
            } else {
                Err(PayloadError::Field("target"))
            }
        };
        let unused = |b: u32| {
            if b == 0 {
                Ok(())
            } else {
                Err(PayloadError::Field("reserved"))
            }
        };
        match op {
            1 => Ok(Self::Depart {
                mig_id,
                target: node(a, false)?,
                new_mig_id: b,
            }),
            2 => {
                unused(b)?;
                let result = a as i32;
                if !(-4095..=0).contains(&result) {
                    return Err(PayloadError::Field("result"));
                }
                Ok(Self::Verdict { mig_id, result })
            }
            3 => {
                unused(b)?;
                Ok(Self::Move {
                    mig_id,
                    target: node(a, true)?,
                })
            }
            4 => {
                unused(b)?;
                Ok(Self::Expect {
                    mig_id,
                    from: node(a, false)?,
                })
            }
            5 => {
                unused(b)?;
                Ok(Self::Progress { mig_id, kib: a })
            }
            6 => {
                if b > 1 {
                    return Err(PayloadError::Field("incremental"));
                }
                Ok(Self::Checkpoint {
                    mig_id,
                    ckpt_id: a,
                    incremental: b == 1,
                })
            }
            7 => {
                unused(a)?;
                unused(b)?;
                Ok(Self::Release { mig_id })
            }
            _ => Err(PayloadError::Field("op")),
        }
    }
}

/// Iterates over the whole records of an image part; the first malformed header or a record cut
/// short ends it with an error.
pub struct Records<'a> {
    rest: &'a [u8],
}

impl<'a> Records<'a> {
    /// Records of `part`.
    pub fn new(part: &'a [u8]) -> Self {
        Self { rest: part }
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<(RecordHeader, &'a [u8]), ImageError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let h = match RecordHeader::decode(self.rest) {
            Ok(h) => h,
            Err(e) => {
                self.rest = &[];
                return Some(Err(e));
            }
        };
        let end = RECORD_HEADER_LEN + h.len as usize;
        if self.rest.len() < end {
            self.rest = &[];
            return Some(Err(ImageError::Length(h.kind)));
        }
        let body = &self.rest[RECORD_HEADER_LEN..end];
        self.rest = &self.rest[end..];
        Some(Ok((h, body)))
    }
}

/// The answer to a migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MigResult {
    /// The migration.
    pub mig_id: u32,
    /// 0 when the guest runs, else a negative errno saying why it does not.
    pub result: i32,
    /// The guest's pid on its host (0 on failure).
    pub guest_pid: u32,
}

impl MigResult {
    /// Encodes the payload.
    pub fn encode(&self) -> [u8; RESULT_LEN] {
        let mut b = [0u8; RESULT_LEN];
        b[0..4].copy_from_slice(&self.mig_id.to_be_bytes());
        b[4..8].copy_from_slice(&self.result.to_be_bytes());
        b[8..12].copy_from_slice(&self.guest_pid.to_be_bytes());
        b
    }

    /// Decodes and checks a payload.
    pub fn decode(p: &[u8]) -> Result<Self, PayloadError> {
        if p.len() != RESULT_LEN {
            return Err(PayloadError::Length);
        }
        let r = Self {
            mig_id: be32(p, 0),
            result: be32(p, 4) as i32,
            guest_pid: be32(p, 8),
        };
        if r.result > 0 || r.result < -4095 {
            return Err(PayloadError::Field("result"));
        }
        if (r.result == 0) != (r.guest_pid != 0) {
            return Err(PayloadError::Field("guest_pid"));
        }
        Ok(r)
    }
}

/// `GuestExit`: a guest ended, with its wait status and the CPU time it used away from home.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    /// The migration.
    pub mig_id: u32,
    /// Wait status: an exit code shifted by 8, or a signal number (with 0x80 for a core dump).
    pub status: u32,
    /// CPU time the process used on hosts since it left home, user and system, in
    /// nanoseconds: its home counts it before it ends there too.
    pub away_cpu_ns: [u64; 2],
}

impl Exit {
    /// Encodes the payload.
    pub fn encode(&self) -> [u8; EXIT_LEN] {
        let mut b = [0u8; EXIT_LEN];
        b[0..4].copy_from_slice(&self.mig_id.to_be_bytes());
        b[4..8].copy_from_slice(&self.status.to_be_bytes());
        b[8..16].copy_from_slice(&self.away_cpu_ns[0].to_be_bytes());
        b[16..24].copy_from_slice(&self.away_cpu_ns[1].to_be_bytes());
        b
    }

    /// Decodes and checks a payload.
    pub fn decode(p: &[u8]) -> Result<Self, PayloadError> {
        if p.len() != EXIT_LEN {
            return Err(PayloadError::Length);
        }
        let be64 = |at: usize| u64::from(be32(p, at)) << 32 | u64::from(be32(p, at + 4));
        let x = Self {
            mig_id: be32(p, 0),
            status: be32(p, 4),
            away_cpu_ns: [be64(8), be64(16)],
        };
        let (code, sig) = (x.status >> 8, x.status & 0x7f);
        let valid = if sig == 0 {
            code <= 0xff && x.status & 0x80 == 0
        } else {
            code == 0 && sig <= MAX_SIGNAL
        };
        if !valid {
            return Err(PayloadError::Field("status"));
        }
        Ok(x)
    }
}

/// `si_code` values of the signals a process sends (`kill`, `sigqueue`, `tkill`/`tgkill`).
pub mod si {
    /// `kill`.
    pub const USER: i32 = 0;
    /// `sigqueue` (`rt_sigqueueinfo`).
    pub const QUEUE: i32 = -1;
    /// `tkill`, `tgkill`.
    pub const TKILL: i32 = -6;
}

/// Size of the fields of a `siginfo` after its number, error and code (`_sifields` of x86-64:
/// the largest member, `_sigchld` or `_sigfault`, is 32 bytes).
pub const SIGINFO_FIELDS: usize = 32;

/// What a signal's receiver reads in its `siginfo` besides the number, as the kernel at home
/// filled it for the process: `si_code`, `si_errno` and the fields of that code (the sender's
/// pid and user, a `sigqueue` or timer value, a child's status and CPU times...) in x86-64's
/// layout, pids and users in the process's view at home. Opaque to the module: it copies them
/// into the `siginfo` of the signal it sends the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SigInfo {
    /// `si_code`.
    pub code: i32,
    /// `si_errno`.
    pub errno: i32,
    /// `_sifields`, as laid out on x86-64.
    pub fields: [u8; SIGINFO_FIELDS],
}

impl SigInfo {
    /// The `siginfo` of a signal process `pid` of user `uid` sent with `code` (one of [`si`]):
    /// `si_pid`, `si_uid`, then `si_value` (a `sigqueue`'s value, else 0).
    pub fn sent_by(code: i32, pid: u32, uid: u32, value: u64) -> Self {
        let mut fields = [0u8; SIGINFO_FIELDS];
        fields[0..4].copy_from_slice(&pid.to_ne_bytes());
        fields[4..8].copy_from_slice(&uid.to_ne_bytes());
        fields[8..16].copy_from_slice(&value.to_ne_bytes());
        Self {
            code,
            errno: 0,
            fields,
        }
    }

    /// `si_pid` (of the codes with a sender: [`si`], and `SIGCHLD`'s).
    pub fn pid(&self) -> u32 {
        u32::from_ne_bytes([
            self.fields[0],
            self.fields[1],
            self.fields[2],
            self.fields[3],
        ])
    }
}

/// Size of the `siginfo` part of a `GuestSignal` payload: code, errno, fields.
pub const SENDER_LEN: usize = 8 + SIGINFO_FIELDS;

/// `GuestSignal`: a migration, a signal number and, for a signal sent at home, its `siginfo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pair {
    /// The migration.
    pub mig_id: u32,
    /// Signal number.
    pub value: u32,
    /// Its `siginfo` at home (none: the host's module is its sender, `SI_KERNEL`).
    pub from: Option<SigInfo>,
}

impl Pair {
    /// Encodes the payload: the bytes and how many of them are used.
    pub fn encode(&self) -> ([u8; PAIR_LEN + SENDER_LEN], usize) {
        let mut b = [0u8; PAIR_LEN + SENDER_LEN];
        b[0..4].copy_from_slice(&self.mig_id.to_be_bytes());
        b[4..8].copy_from_slice(&self.value.to_be_bytes());
        let Some(f) = self.from else {
            return (b, PAIR_LEN);
        };
        b[8..12].copy_from_slice(&f.code.to_be_bytes());
        b[12..16].copy_from_slice(&f.errno.to_be_bytes());
        b[16..PAIR_LEN + SENDER_LEN].copy_from_slice(&f.fields);
        (b, PAIR_LEN + SENDER_LEN)
    }

    /// Decodes a `GuestSignal` payload.
    pub fn decode_signal(p: &[u8]) -> Result<Self, PayloadError> {
        let from = match p.len() {
            PAIR_LEN => None,
            // Any code and fields: the home is the process's own (it sent its whole memory),
            // and the host's kernel checks nothing of a siginfo but its number.
            n if n == PAIR_LEN + SENDER_LEN => Some(SigInfo {
                code: be32(p, 8) as i32,
                errno: be32(p, 12) as i32,
                fields: p[16..n].try_into().map_err(|_| PayloadError::Length)?,
            }),
            _ => return Err(PayloadError::Length),
        };
        let x = Self {
            mig_id: be32(p, 0),
            value: be32(p, 4),
            from,
        };
        if x.value == 0 || x.value > MAX_SIGNAL {
            return Err(PayloadError::Field("signal"));
        }
        Ok(x)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::image::Kind;
    use std::{vec, vec::Vec};

    fn rec(kind: Kind, body: &[u8]) -> Vec<u8> {
        let mut v = RecordHeader {
            kind,
            len: body.len() as u32,
        }
        .encode()
        .to_vec();
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn image_payload_splits_into_records() {
        let mut p = image_prefix(2, 7).to_vec();
        p.extend(rec(Kind::End, &5u64.to_be_bytes()));
        p.extend(rec(Kind::End, &6u64.to_be_bytes()));
        let (home, id, part) = decode_image(&p).unwrap();
        assert_eq!((home, id), (2, 7));
        let v: Vec<_> = Records::new(part).collect();
        assert_eq!(v.len(), 2);
        assert_eq!(v[1].as_ref().unwrap().1, &6u64.to_be_bytes());
    }

    #[test]
    fn cut_records_and_bad_sizes_are_refused() {
        let mut p = image_prefix(1, 7).to_vec();
        let r = rec(Kind::End, &5u64.to_be_bytes());
        p.extend_from_slice(&r[..r.len() - 1]);
        let (_, _, part) = decode_image(&p).unwrap();
        let v: Vec<_> = Records::new(part).collect();
        assert_eq!(v.len(), 1);
        assert!(v[0].is_err());
        assert!(decode_image(&[0; 4]).is_err());
        assert!(decode_image(&vec![0; MAX_IMAGE_PAYLOAD + 1]).is_err());
        let mut junk = image_prefix(1, 1).to_vec();
        junk.extend_from_slice(&[0xff; 16]);
        let (_, _, part) = decode_image(&junk).unwrap();
        assert!(Records::new(part).next().unwrap().is_err());
        // Home 0 and IDs above the largest node ID are refused.
        for home in [0, crate::map::MAX_NODE_ID + 1] {
            let mut p = image_prefix(home, 1).to_vec();
            p.extend(rec(Kind::End, &5u64.to_be_bytes()));
            assert_eq!(decode_image(&p), Err(PayloadError::Field("home")));
        }
    }

    #[test]
    fn control_messages_round_trip_and_are_checked() {
        for c in [
            Ctl::Depart {
                mig_id: 4,
                target: 3,
                new_mig_id: 9,
            },
            Ctl::Verdict {
                mig_id: 4,
                result: 0,
            },
            Ctl::Verdict {
                mig_id: 4,
                result: -113,
            },
            Ctl::Move {
                mig_id: 4,
                target: 0,
            },
            Ctl::Move {
                mig_id: 4,
                target: 2,
            },
            Ctl::Expect { mig_id: 7, from: 3 },
            Ctl::Progress { mig_id: 7, kib: 0 },
            Ctl::Progress {
                mig_id: 7,
                kib: u32::MAX,
            },
            Ctl::Checkpoint {
                mig_id: 7,
                ckpt_id: 9,
                incremental: false,
            },
            Ctl::Checkpoint {
                mig_id: 7,
                ckpt_id: 9,
                incremental: true,
            },
            Ctl::Release { mig_id: 7 },
        ] {
            assert_eq!(Ctl::decode(&c.encode()), Ok(c), "{c:?}");
        }
        let raw = |v: [u32; 4]| {
            let mut p = [0u8; CTL_LEN];
            for (i, x) in v.iter().enumerate() {
                p[4 * i..4 * i + 4].copy_from_slice(&x.to_be_bytes());
            }
            p
        };
        for bad in [
            [0, 1, 1, 0],
            [8, 1, 1, 0],
            [6, 1, 1, 2],
            [7, 1, 1, 0],
            [7, 1, 0, 1],
            [5, 1, 1, 1],
            [4, 1, 0, 0],
            [4, 1, 2, 1],
            [4, 1, crate::map::MAX_NODE_ID + 1, 0],
            [1, 1, 0, 5],
            [1, 1, crate::map::MAX_NODE_ID + 1, 5],
            [2, 1, 1, 0],
            [2, 1, (-4096i32) as u32, 0],
            [2, 1, 0, 1],
            [3, 1, 2, 1],
            [3, 1, crate::map::MAX_NODE_ID + 1, 0],
        ] {
            assert!(Ctl::decode(&raw(bad)).is_err(), "{bad:?}");
        }
        assert_eq!(Ctl::decode(&[0; 15]), Err(PayloadError::Length));
    }

    #[test]
    fn results_round_trip_and_are_checked() {
        let ok = MigResult {
            mig_id: 3,
            result: 0,
            guest_pid: 88,
        };
        assert_eq!(MigResult::decode(&ok.encode()), Ok(ok));
        let err = MigResult {
            mig_id: 3,
            result: -22,
            guest_pid: 0,
        };
        assert_eq!(MigResult::decode(&err.encode()), Ok(err));
        for bad in [
            MigResult { result: 1, ..err },
            MigResult {
                result: -5000,
                ..err
            },
            MigResult {
                guest_pid: 5,
                ..err
            },
            MigResult { guest_pid: 0, ..ok },
        ] {
            assert!(MigResult::decode(&bad.encode()).is_err(), "{bad:?}");
        }
        assert!(MigResult::decode(&[0; 11]).is_err());
    }

    #[test]
    fn exit_status_and_signal_are_checked() {
        for good in [0, 1 << 8, 255 << 8, 9, 15, 0x80 | 11, 64] {
            let p = Exit {
                mig_id: 1,
                status: good,
                away_cpu_ns: [u64::MAX, 1 << 40],
            };
            assert_eq!(Exit::decode(&p.encode()), Ok(p), "{good:#x}");
        }
        for bad in [256 << 8, (1 << 8) | 9, 65, 0x80, 0x7f] {
            let p = Exit {
                mig_id: 1,
                status: bad,
                away_cpu_ns: [0, 0],
            };
            assert!(Exit::decode(&p.encode()).is_err(), "{bad:#x}");
        }
        assert_eq!(Exit::decode(&[0; 8]), Err(PayloadError::Length));
        let child = SigInfo {
            code: 1,
            errno: 0,
            fields: core::array::from_fn(|i| i as u8),
        };
        let kill = SigInfo::sent_by(si::QUEUE, 17, 1000, 0x1234_5678_9abc);
        assert_eq!(kill.pid(), 17);
        assert_eq!(kill.fields[4..8], 1000u32.to_ne_bytes());
        for from in [None, Some(kill), Some(child)] {
            for (v, ok) in [(0, false), (1, true), (64, true), (65, false)] {
                let p = Pair {
                    mig_id: 1,
                    value: v,
                    from,
                };
                let (b, n) = p.encode();
                assert_eq!(Pair::decode_signal(&b[..n]).ok(), ok.then_some(p));
            }
        }
        assert!(Pair::decode_signal(&[0; 7]).is_err());
        assert!(Pair::decode_signal(&[0; PAIR_LEN + SENDER_LEN - 1]).is_err());
        assert!(Pair::decode_signal(&[0; PAIR_LEN + SENDER_LEN + 1]).is_err());
    }
}
