// SPDX-License-Identifier: GPL-2.0

//! The checkpoint file (`omctl checkpoint`, `omctl restart`; see `Documentation/checkpoint.md`):
//! a header, the process's image (the records of [`crate::image`], `Begin` to `End`, as a
//! migration streams them), then what only its home knows: its working directory and its open
//! files, each by path, flags and offset.
//!
//! | bytes | field |
//! | --- | --- |
//! | 8 | magic `OMXCKPT\n` |
//! | 2 | checkpoint format version ([`VERSION`]) |
//! | 2 | image version ([`crate::image::IMAGE_VERSION`]) |
//! | 4 | reserved, 0 |
//! | ... | image records, `Begin` to `End` |
//! | 4 | magic `OMXH` |
//! | 4 | length of the rest (at most [`MAX_HOME`]) |
//! | 8, 4 | when it was saved (ms since the Unix epoch), the pid it had |
//! | 8, 8 | this save's name (not 0), the name of the save it adds to (0: none, it is whole) |
//! | 2 + n | the path of that save (empty for none; a relative one is in this file's directory) |
//! | 2 + n | its working directory |
//! | 2 | number of descriptors (at most [`MAX_FDS`]), then each: |
//! | 4, 1, 4, 8 | descriptor, [`FdKind`], `open` flags, offset |
//! | 2 + n | path |
//! | 1 | the process's place in its session ([`Job`] flags) |
//! | 2 + n | its controlling terminal's path (empty for none) |
//!
//! An incremental save's image has `Parent` records (pages unchanged since the save it adds
//! to); a restart merges the chain of saves back into one whole image.
//!
//! Numbers are big-endian. A file is as hostile as a peer's image: [`decode_header`] and
//! [`decode_home`] check every byte, and the module checks the image as it reads it.

use crate::image::{IMAGE_VERSION, MAX_PATH};
use core::fmt;

/// The file's first bytes.
pub const MAGIC: [u8; 8] = *b"OMXCKPT\n";
/// This format's version.
pub const VERSION: u16 = 3;
/// Length of the header before the image.
pub const HEADER_LEN: usize = 16;
/// The home section's first bytes.
pub const HOME_MAGIC: [u8; 4] = *b"OMXH";
/// Most descriptors a checkpoint keeps.
pub const MAX_FDS: usize = 1024;
/// Highest descriptor number kept.
pub const MAX_FD: u32 = 1 << 20;
const FD_FIXED: usize = 4 + 1 + 4 + 8 + 2;
/// Longest home section after its magic and length.
pub const MAX_HOME: usize = 8
    + 4
    + 8
    + 8
    + 2
    + MAX_PATH
    + 2
    + MAX_PATH
    + 2
    + MAX_FDS * (FD_FIXED + MAX_PATH)
    + 1
    + 2
    + MAX_PATH;
/// Most saves a chain may have, the whole one included.
pub const MAX_CHAIN: usize = 64;

/// What a restart does with a descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum FdKind {
    /// A regular file, opened again by path with its flags, at its offset.
    Reopen = 0,
    /// A terminal, pipe or socket of 0, 1 or 2: the restarting command's own.
    Inherit = 1,
    /// Something that cannot be restored (kept with `--force`): `/dev/null` instead; its path
    /// says what it was.
    Null = 2,
}

impl FdKind {
    fn from_wire(b: u8) -> Option<Self> {
        match b {
            0 => Some(Self::Reopen),
            1 => Some(Self::Inherit),
            2 => Some(Self::Null),
            _ => None,
        }
    }
}

/// Why a checkpoint file was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CkptError {
    /// Not a checkpoint file (magic).
    Magic,
    /// A format or image version this build does not read.
    Version(u16, u16),
    /// Reserved bytes not zero.
    Reserved,
    /// The file ends too soon.
    Truncated,
    /// The home section's length is not what its body takes, or is over [`MAX_HOME`].
    Length,
    /// A path too long, empty, or holding a NUL byte.
    Path,
    /// More than [`MAX_FDS`] descriptors, or a number over [`MAX_FD`], or one twice.
    Fds,
    /// An unknown descriptor kind.
    Kind(u8),
    /// A save named 0, its own parent, or a parent without a path (or a path without one).
    Lineage,
    /// Unknown job flags, or a terminal's path with none of them saying it had one.
    Job,
}

impl fmt::Display for CkptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Magic => write!(f, "not a checkpoint file"),
            Self::Version(v, i) => write!(
                f,
                "checkpoint format {v} image {i}; this build reads format {VERSION} image {IMAGE_VERSION}"
            ),
            Self::Reserved => write!(f, "reserved header bytes are not zero"),
            Self::Truncated => write!(f, "the file ends too soon"),
            Self::Length => write!(f, "home section length is wrong"),
            Self::Path => write!(f, "a path is empty, too long or holds a NUL byte"),
            Self::Fds => write!(f, "too many descriptors, or one out of range or twice"),
            Self::Kind(k) => write!(f, "unknown descriptor kind {k}"),
            Self::Lineage => write!(f, "bad save names or parent path"),
            Self::Job => write!(f, "bad session or terminal"),
        }
    }
}

/// The header of a checkpoint of this format.
pub fn encode_header() -> [u8; HEADER_LEN] {
    let mut b = [0u8; HEADER_LEN];
    b[..8].copy_from_slice(&MAGIC);
    b[8..10].copy_from_slice(&VERSION.to_be_bytes());
    b[10..12].copy_from_slice(&IMAGE_VERSION.to_be_bytes());
    b
}

/// Checks a file's header: this format, this image version.
pub fn decode_header(b: &[u8]) -> Result<(), CkptError> {
    let b = b.get(..HEADER_LEN).ok_or(CkptError::Truncated)?;
    if b[..8] != MAGIC {
        return Err(CkptError::Magic);
    }
    let v = u16::from_be_bytes([b[8], b[9]]);
    let i = u16::from_be_bytes([b[10], b[11]]);
    if v != VERSION || i != IMAGE_VERSION {
        return Err(CkptError::Version(v, i));
    }
    if b[12..] != [0; 4] {
        return Err(CkptError::Reserved);
    }
    Ok(())
}

/// One descriptor as saved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SavedFd<'a> {
    /// Its number.
    pub fd: u32,
    /// What a restart does with it.
    pub kind: FdKind,
    /// Its `open` flags (`O_ACCMODE`, `O_APPEND`...), as `/proc/PID/fdinfo` shows them.
    pub flags: u32,
    /// Its offset.
    pub pos: u64,
    /// Its path (for [`FdKind::Null`], a description of what it was).
    pub path: &'a [u8],
}

/// Where a save stands in its chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lineage<'a> {
    /// This save's name (not 0): what the module calls it, and a later save's `parent`.
    pub id: u64,
    /// The save this one adds to (0: it is whole).
    pub parent: u64,
    /// That save's file (empty when there is none); a relative path is in the directory of
    /// this one.
    pub parent_path: &'a [u8],
}

impl Lineage<'_> {
    fn check(&self) -> Result<(), CkptError> {
        let ok = self.id != 0
            && self.id != self.parent
            && if self.parent == 0 {
                self.parent_path.is_empty()
            } else {
                path_ok(self.parent_path)
            };
        if ok {
            Ok(())
        } else {
            Err(CkptError::Lineage)
        }
    }
}

/// Where the process stood in its session when it was saved: whether it led its session or
/// its process group, whether its group was its terminal's foreground one, and the terminal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Job<'a> {
    /// [`Job::SESSION_LEADER`], [`Job::GROUP_LEADER`], [`Job::FOREGROUND`].
    pub flags: u8,
    /// Its controlling terminal's path (empty for none).
    pub terminal: &'a [u8],
}

impl Job<'_> {
    /// It led its session (its pid was the session's id).
    pub const SESSION_LEADER: u8 = 1;
    /// It led its process group.
    pub const GROUP_LEADER: u8 = 2;
    /// Its group was its terminal's foreground group.
    pub const FOREGROUND: u8 = 4;

    /// Known flags only; a terminal path only if valid; the foreground only with a terminal.
    fn check(&self) -> Result<(), CkptError> {
        let known = Self::SESSION_LEADER | Self::GROUP_LEADER | Self::FOREGROUND;
        let terminal_ok = self.terminal.is_empty() || path_ok(self.terminal);
        let fg_ok = self.flags & Self::FOREGROUND == 0 || !self.terminal.is_empty();
        if self.flags & !known == 0 && terminal_ok && fg_ok {
            Ok(())
        } else {
            Err(CkptError::Job)
        }
    }
}

/// The home section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Home<'a> {
    /// When it was saved, ms since the Unix epoch.
    pub saved_ms: u64,
    /// The pid the process had.
    pub pid: u32,
    /// Its place in a chain of saves.
    pub lineage: Lineage<'a>,
    /// Its working directory.
    pub cwd: &'a [u8],
    nfds: usize,
    fds: &'a [u8],
    /// Its place in its session.
    pub job: Job<'a>,
}

fn path_ok(p: &[u8]) -> bool {
    !p.is_empty() && p.len() <= MAX_PATH && !p.contains(&0)
}

/// Length of the home section (magic and length included) of `cwd` and `fds`, if valid.
pub fn home_len(
    lineage: &Lineage<'_>,
    cwd: &[u8],
    fds: &[SavedFd<'_>],
    job: &Job<'_>,
) -> Result<usize, CkptError> {
    lineage.check()?;
    job.check()?;
    if !path_ok(cwd) || fds.iter().any(|f| !path_ok(f.path)) {
        return Err(CkptError::Path);
    }
    if fds.len() > MAX_FDS || !fds_unique(fds.iter().map(|f| f.fd)) {
        return Err(CkptError::Fds);
    }
    let body: usize = 8
        + 4
        + 8
        + 8
        + 2
        + lineage.parent_path.len()
        + 2
        + cwd.len()
        + 2
        + fds.iter().map(|f| FD_FIXED + f.path.len()).sum::<usize>()
        + 1
        + 2
        + job.terminal.len();
    Ok(8 + body)
}

/// Whether the numbers are all at most [`MAX_FD`] and each comes once.
fn fds_unique(mut fds: impl Iterator<Item = u32> + Clone) -> bool {
    let all = fds.clone();
    let mut i = 0;
    fds.all(|fd| {
        i += 1;
        fd <= MAX_FD && all.clone().skip(i).all(|other| other != fd)
    })
}

/// Encodes the home section into `out` (of [`home_len`] bytes at least); returns its length.
pub fn encode_home(
    saved_ms: u64,
    pid: u32,
    lineage: &Lineage<'_>,
    cwd: &[u8],
    fds: &[SavedFd<'_>],
    job: &Job<'_>,
    out: &mut [u8],
) -> Result<usize, CkptError> {
    let len = home_len(lineage, cwd, fds, job)?;
    let out = out.get_mut(..len).ok_or(CkptError::Length)?;
    let mut w = 0;
    let mut put = |b: &[u8]| {
        out[w..w + b.len()].copy_from_slice(b);
        w += b.len();
    };
    put(&HOME_MAGIC);
    put(&((len - 8) as u32).to_be_bytes());
    put(&saved_ms.to_be_bytes());
    put(&pid.to_be_bytes());
    put(&lineage.id.to_be_bytes());
    put(&lineage.parent.to_be_bytes());
    put(&(lineage.parent_path.len() as u16).to_be_bytes());
    put(lineage.parent_path);
    put(&(cwd.len() as u16).to_be_bytes());
    put(cwd);
    put(&(fds.len() as u16).to_be_bytes());
    for f in fds {
        put(&f.fd.to_be_bytes());
        put(&[f.kind as u8]);
        put(&f.flags.to_be_bytes());
        put(&f.pos.to_be_bytes());
        put(&(f.path.len() as u16).to_be_bytes());
        put(f.path);
    }
    put(&[job.flags]);
    put(&(job.terminal.len() as u16).to_be_bytes());
    put(job.terminal);
    Ok(len)
}

/// Big-endian reader that fails at the end of its bytes.
#[derive(Clone)]
struct Rd<'a>(&'a [u8]);

impl<'a> Rd<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], CkptError> {
        if n > self.0.len() {
            return Err(CkptError::Truncated);
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, CkptError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, CkptError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, CkptError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, CkptError> {
        let mut v = [0u8; 8];
        v.copy_from_slice(self.take(8)?);
        Ok(u64::from_be_bytes(v))
    }
    fn path(&mut self) -> Result<&'a [u8], CkptError> {
        let n = self.u16()? as usize;
        let p = self.take(n)?;
        if !path_ok(p) {
            return Err(CkptError::Path);
        }
        Ok(p)
    }
    fn fd(&mut self) -> Result<SavedFd<'a>, CkptError> {
        let fd = self.u32()?;
        let k = self.u8()?;
        let kind = FdKind::from_wire(k).ok_or(CkptError::Kind(k))?;
        let flags = self.u32()?;
        let pos = self.u64()?;
        let path = self.path()?;
        Ok(SavedFd {
            fd,
            kind,
            flags,
            pos,
            path,
        })
    }
}

/// The length of the home section at the start of `b` (magic and length included), once its
/// magic and length field are read: what a reader must have to decode it.
pub fn home_section_len(b: &[u8]) -> Result<usize, CkptError> {
    let b = b.get(..8).ok_or(CkptError::Truncated)?;
    if b[..4] != HOME_MAGIC {
        return Err(CkptError::Magic);
    }
    let len = u32::from_be_bytes([b[4], b[5], b[6], b[7]]) as usize;
    if len > MAX_HOME {
        return Err(CkptError::Length);
    }
    Ok(8 + len)
}

/// Decodes a whole home section: exactly `b`, nothing after it.
pub fn decode_home(b: &[u8]) -> Result<Home<'_>, CkptError> {
    let len = home_section_len(b)?;
    if len != b.len() {
        return Err(if len > b.len() {
            CkptError::Truncated
        } else {
            CkptError::Length
        });
    }
    let mut r = Rd(&b[8..]);
    let saved_ms = r.u64()?;
    let pid = r.u32()?;
    let (id, parent) = (r.u64()?, r.u64()?);
    let n = r.u16()? as usize;
    let lineage = Lineage {
        id,
        parent,
        parent_path: r.take(n)?,
    };
    lineage.check()?;
    let cwd = r.path()?;
    let nfds = r.u16()? as usize;
    if nfds > MAX_FDS {
        return Err(CkptError::Fds);
    }
    let fds = r.0;
    for _ in 0..nfds {
        r.fd()?;
    }
    let fds = &fds[..fds.len() - r.0.len()];
    let flags = r.u8()?;
    let n = r.u16()? as usize;
    let job = Job {
        flags,
        terminal: r.take(n)?,
    };
    job.check()?;
    if !r.0.is_empty() {
        return Err(CkptError::Length);
    }
    let h = Home {
        saved_ms,
        pid,
        lineage,
        cwd,
        nfds,
        fds,
        job,
    };
    if !fds_unique(h.fds().map(|f| f.fd)) {
        return Err(CkptError::Fds);
    }
    Ok(h)
}

impl<'a> Home<'a> {
    /// The descriptors, as checked by [`decode_home`].
    pub fn fds(&self) -> impl Iterator<Item = SavedFd<'a>> + Clone + 'a {
        let mut r = Rd(self.fds);
        (0..self.nfds).map_while(move |_| r.fd().ok())
    }

    /// How many descriptors there are.
    pub fn len(&self) -> usize {
        self.nfds
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.nfds == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::vec;

    fn sample() -> std::vec::Vec<u8> {
        let fds = [
            SavedFd {
                fd: 0,
                kind: FdKind::Inherit,
                flags: 2,
                pos: 0,
                path: b"/dev/pts/0",
            },
            SavedFd {
                fd: 3,
                kind: FdKind::Reopen,
                flags: 0o2001,
                pos: 12345,
                path: b"/tmp/out",
            },
        ];
        let n = home_len(&LINEAGE, b"/root", &fds, &JOB).unwrap();
        let mut v = vec![0u8; n];
        assert_eq!(
            encode_home(7, 42, &LINEAGE, b"/root", &fds, &JOB, &mut v),
            Ok(n)
        );
        v
    }

    const LINEAGE: Lineage<'static> = Lineage {
        id: 0x1234,
        parent: 0x99,
        parent_path: b"app.1.ckpt",
    };

    const JOB: Job<'static> = Job {
        flags: Job::GROUP_LEADER | Job::FOREGROUND,
        terminal: b"/dev/pts/0",
    };

    #[test]
    fn lineage_is_checked() {
        let fds = [];
        assert!(home_len(&LINEAGE, b"/", &fds, &JOB).is_ok());
        let whole = Lineage {
            parent: 0,
            parent_path: b"",
            ..LINEAGE
        };
        assert!(home_len(&whole, b"/", &fds, &JOB).is_ok());
        for bad in [
            Lineage { id: 0, ..whole },
            Lineage {
                parent: 0x1234,
                ..LINEAGE
            },
            Lineage {
                parent_path: b"",
                ..LINEAGE
            },
            Lineage {
                parent_path: b"x",
                ..whole
            },
            Lineage {
                parent_path: b"a\0b",
                ..LINEAGE
            },
        ] {
            assert_eq!(
                home_len(&bad, b"/", &fds, &JOB),
                Err(CkptError::Lineage),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn header_round_trip_and_refusals() {
        let h = encode_header();
        assert_eq!(decode_header(&h), Ok(()));
        assert_eq!(decode_header(&h[..15]), Err(CkptError::Truncated));
        let mut b = h;
        b[0] ^= 1;
        assert_eq!(decode_header(&b), Err(CkptError::Magic));
        let mut b = h;
        b[9] = 9;
        assert_eq!(decode_header(&b), Err(CkptError::Version(9, IMAGE_VERSION)));
        let mut b = h;
        b[11] ^= 1;
        assert!(matches!(decode_header(&b), Err(CkptError::Version(..))));
        let mut b = h;
        b[15] = 1;
        assert_eq!(decode_header(&b), Err(CkptError::Reserved));
    }

    #[test]
    fn home_round_trip() {
        let v = sample();
        let h = decode_home(&v).unwrap();
        assert_eq!(
            (h.saved_ms, h.pid, h.cwd, h.len()),
            (7, 42, &b"/root"[..], 2)
        );
        assert_eq!(h.lineage, LINEAGE);
        assert_eq!(h.job, JOB);
        let fds: std::vec::Vec<_> = h.fds().collect();
        assert_eq!(fds[1].fd, 3);
        assert_eq!(fds[1].kind, FdKind::Reopen);
        assert_eq!(fds[1].pos, 12345);
        assert_eq!(fds[1].path, b"/tmp/out");
        assert_eq!(home_section_len(&v), Ok(v.len()));
    }

    #[test]
    fn home_refusals() {
        let v = sample();
        // Every shorter prefix is refused, never a panic.
        for n in 0..v.len() {
            assert!(decode_home(&v[..n]).is_err(), "prefix {n}");
        }
        // A byte after it.
        let mut w = v.clone();
        w.push(0);
        assert_eq!(decode_home(&w), Err(CkptError::Length));
        // An unknown kind (the second descriptor's kind byte).
        let at = 8 + 8 + 4 + 8 + 8 + 2 + 10 + 2 + 5 + 2 + FD_FIXED + 10 + 4;
        let mut w = v.clone();
        w[at] = 7;
        assert_eq!(decode_home(&w), Err(CkptError::Kind(7)));
        // The same descriptor twice.
        let mut w = v.clone();
        w[at - 4..at].copy_from_slice(&0u32.to_be_bytes());
        assert_eq!(decode_home(&w), Err(CkptError::Fds));
        // A huge length.
        let mut w = v.clone();
        w[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(decode_home(&w), Err(CkptError::Length));
        // Unknown job flags; the foreground without a terminal; a bad terminal path.
        let mut w = v.clone();
        let at = w.len() - 2 - JOB.terminal.len() - 1;
        w[at] = 8;
        assert_eq!(decode_home(&w), Err(CkptError::Job));
        let lone = Job {
            flags: Job::FOREGROUND,
            terminal: b"",
        };
        assert_eq!(home_len(&LINEAGE, b"/", &[], &lone), Err(CkptError::Job));
        let nul = Job {
            flags: 0,
            terminal: b"/dev/\0",
        };
        assert_eq!(home_len(&LINEAGE, b"/", &[], &nul), Err(CkptError::Job));
        // A NUL in a path, an empty path.
        let bad = [SavedFd {
            fd: 1,
            kind: FdKind::Reopen,
            flags: 0,
            pos: 0,
            path: b"/a\0b",
        }];
        assert_eq!(home_len(&LINEAGE, b"/", &bad, &JOB), Err(CkptError::Path));
        assert_eq!(home_len(&LINEAGE, b"", &[], &JOB), Err(CkptError::Path));
        // Flipped bytes anywhere: refused or decoded, never a panic.
        for i in 0..v.len() {
            for bit in 0..8 {
                let mut w = v.clone();
                w[i] ^= 1 << bit;
                let _ = decode_home(&w).map(|h| h.fds().count());
            }
        }
    }
}
