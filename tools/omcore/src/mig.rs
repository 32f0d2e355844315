// SPDX-License-Identifier: GPL-2.0

//! Payloads of the migration messages.
//!
//! A migration is named by the home node's `mig_id` (unique on the home node while the module is
//! loaded); with the peer's node ID it names one guest on its host. All integers big-endian.
//!
//! | kind          | direction    | payload                                              |
//! | ------------- | ------------ | ---------------------------------------------------- |
//! | `MigImage`    | home -> host | mig_id u32, then whole image records (see `image`)   |
//! | `MigResult`   | host -> home | mig_id u32, result i32 (0 or -errno), guest pid u32  |
//! | `GuestExit`   | host -> home | mig_id u32, wait status u32                          |
//! | `GuestSignal` | home -> host | mig_id u32, signal u32                               |
//!
//! A `MigImage` payload holds whole records only, so a receiver can check each one as it comes,
//! with no reassembly across frames; [`Records`] splits it.

use super::image::{ImageError, RecordHeader, RECORD_HEADER_LEN};
use super::msg::PayloadError;

/// Largest image part one `MigImage` frame carries (the records, without `mig_id`).
pub const MAX_CHUNK: usize = 320 * 1024;
/// Largest `MigImage` payload.
pub const MAX_IMAGE_PAYLOAD: usize = 4 + MAX_CHUNK;
/// Size of a `MigResult` payload.
pub const RESULT_LEN: usize = 12;
/// Size of a `GuestExit` or `GuestSignal` payload.
pub const PAIR_LEN: usize = 8;
/// Highest signal number.
pub const MAX_SIGNAL: u32 = 64;

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Splits a `MigImage` payload into `mig_id` and its records.
pub fn decode_image(p: &[u8]) -> Result<(u32, &[u8]), PayloadError> {
    if p.len() < 4 + RECORD_HEADER_LEN || p.len() > MAX_IMAGE_PAYLOAD {
        return Err(PayloadError::Length);
    }
    Ok((be32(p, 0), &p[4..]))
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

/// `GuestExit` and `GuestSignal`: a migration and one number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pair {
    /// The migration.
    pub mig_id: u32,
    /// Wait status (`GuestExit`) or signal number (`GuestSignal`).
    pub value: u32,
}

impl Pair {
    /// Encodes the payload.
    pub fn encode(&self) -> [u8; PAIR_LEN] {
        let mut b = [0u8; PAIR_LEN];
        b[0..4].copy_from_slice(&self.mig_id.to_be_bytes());
        b[4..8].copy_from_slice(&self.value.to_be_bytes());
        b
    }

    fn decode(p: &[u8]) -> Result<Self, PayloadError> {
        if p.len() != PAIR_LEN {
            return Err(PayloadError::Length);
        }
        Ok(Self {
            mig_id: be32(p, 0),
            value: be32(p, 4),
        })
    }

    /// Decodes a `GuestExit` payload: a wait status is an exit code shifted by 8, or a signal
    /// number (with 0x80 for a core dump).
    pub fn decode_exit(p: &[u8]) -> Result<Self, PayloadError> {
        let x = Self::decode(p)?;
        let (code, sig) = (x.value >> 8, x.value & 0x7f);
        let valid = if sig == 0 {
            code <= 0xff && x.value & 0x80 == 0
        } else {
            code == 0 && sig <= MAX_SIGNAL
        };
        if !valid {
            return Err(PayloadError::Field("status"));
        }
        Ok(x)
    }

    /// Decodes a `GuestSignal` payload.
    pub fn decode_signal(p: &[u8]) -> Result<Self, PayloadError> {
        let x = Self::decode(p)?;
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
        let mut p = 7u32.to_be_bytes().to_vec();
        p.extend(rec(Kind::End, &5u64.to_be_bytes()));
        p.extend(rec(Kind::End, &6u64.to_be_bytes()));
        let (id, part) = decode_image(&p).unwrap();
        assert_eq!(id, 7);
        let v: Vec<_> = Records::new(part).collect();
        assert_eq!(v.len(), 2);
        assert_eq!(v[1].as_ref().unwrap().1, &6u64.to_be_bytes());
    }

    #[test]
    fn cut_records_and_bad_sizes_are_refused() {
        let mut p = 7u32.to_be_bytes().to_vec();
        let r = rec(Kind::End, &5u64.to_be_bytes());
        p.extend_from_slice(&r[..r.len() - 1]);
        let (_, part) = decode_image(&p).unwrap();
        let v: Vec<_> = Records::new(part).collect();
        assert_eq!(v.len(), 1);
        assert!(v[0].is_err());
        assert!(decode_image(&[0; 4]).is_err());
        assert!(decode_image(&vec![0; MAX_IMAGE_PAYLOAD + 1]).is_err());
        let mut junk = 1u32.to_be_bytes().to_vec();
        junk.extend_from_slice(&[0xff; 16]);
        let (_, part) = decode_image(&junk).unwrap();
        assert!(Records::new(part).next().unwrap().is_err());
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
            let p = Pair {
                mig_id: 1,
                value: good,
            };
            assert_eq!(Pair::decode_exit(&p.encode()), Ok(p), "{good:#x}");
        }
        for bad in [256 << 8, (1 << 8) | 9, 65, 0x80, 0x7f] {
            let p = Pair {
                mig_id: 1,
                value: bad,
            };
            assert!(Pair::decode_exit(&p.encode()).is_err(), "{bad:#x}");
        }
        for (v, ok) in [(0, false), (1, true), (64, true), (65, false)] {
            let p = Pair {
                mig_id: 1,
                value: v,
            };
            assert_eq!(Pair::decode_signal(&p.encode()).is_ok(), ok);
        }
        assert!(Pair::decode_signal(&[0; 7]).is_err());
    }
}
