// SPDX-License-Identifier: GPL-2.0

//! How recent moves of a node's processes ended: the lines of `/proc/openmosix/moves`.
//!
//! The home node of a process records one [`Outcome`] for every move asked of it: the first
//! move out, a move on from one host to another, a move home, a request that had nothing to
//! do. The module writes them with [`Outcome::write_to`], `omctl migrate` reads them back with
//! [`Outcome::parse`] to say how the move it asked for went; the pid of the task that asked
//! (`asked_by`) tells its own move from others of the same process.
//!
//! A line: `SEQ PID FROM TO ERROR KIB FROZEN_MS ASKED_BY`, numbers in decimal, `-` for a figure
//! the home does not know (the pages sent when the image went from one host to another).

use core::fmt;

/// The header line of the file.
pub const HEADER: &str = "# seq pid from to error kib frozen_ms asked_by";

/// How many outcomes a node keeps (the oldest goes first).
pub const KEPT: usize = 64;

/// How one move ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Its number on this node: one more than the outcome recorded before it.
    pub seq: u64,
    /// The process's pid at home.
    pub pid: u32,
    /// Where it ran before the move (the home's ID for a process at home).
    pub from: u32,
    /// Where it was to run (the home's ID for a move home).
    pub to: u32,
    /// 0 when it runs on `to` now, else the errno of the failure (it runs on `from`).
    pub error: u32,
    /// KiB of pages sent, when the home knows it.
    pub kib: Option<u64>,
    /// How long the process was stopped, in ms, as the home measured it, when it was.
    pub frozen_ms: Option<u64>,
    /// The pid of the task that asked for the move (a kernel thread for the balancer).
    pub asked_by: u32,
}

/// A figure that may be unknown: the number, or `-`.
struct Figure(Option<u64>);

impl fmt::Display for Figure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(v) => write!(f, "{v}"),
            None => f.write_str("-"),
        }
    }
}

impl Outcome {
    /// Writes the outcome as one line, with its newline.
    pub fn write_to(&self, out: &mut impl fmt::Write) -> fmt::Result {
        writeln!(
            out,
            "{} {} {} {} {} {} {} {}",
            self.seq,
            self.pid,
            self.from,
            self.to,
            self.error,
            Figure(self.kib),
            Figure(self.frozen_ms),
            self.asked_by
        )
    }

    /// Reads a line written by [`Self::write_to`] (without its newline); `None` for the header,
    /// an empty line or anything malformed.
    pub fn parse(line: &str) -> Option<Self> {
        let mut w = line.split_ascii_whitespace();
        let mut num = || w.next()?.parse::<u64>().ok();
        let (seq, pid, from, to, error) = (num()?, num()?, num()?, num()?, num()?);
        let mut figure = || match w.next()? {
            "-" => Some(None),
            v => v.parse::<u64>().ok().map(Some),
        };
        let (kib, frozen_ms) = (figure()?, figure()?);
        let asked_by = w.next()?.parse::<u32>().ok()?;
        if w.next().is_some() {
            return None;
        }
        Some(Self {
            seq,
            pid: u32::try_from(pid).ok()?,
            from: u32::try_from(from).ok()?,
            to: u32::try_from(to).ok()?,
            error: u32::try_from(error).ok()?,
            kib,
            frozen_ms,
            asked_by,
        })
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::String;

    fn sample() -> Outcome {
        Outcome {
            seq: 7,
            pid: 345,
            from: 1,
            to: 2,
            error: 0,
            kib: Some(66816),
            frozen_ms: Some(5261),
            asked_by: 567,
        }
    }

    #[test]
    fn round_trip() {
        let mut s = String::new();
        sample().write_to(&mut s).unwrap();
        assert_eq!(s, "7 345 1 2 0 66816 5261 567\n");
        assert_eq!(Outcome::parse(s.trim_end()), Some(sample()));
        let unknown = Outcome {
            kib: None,
            frozen_ms: None,
            error: 113,
            ..sample()
        };
        let mut s = String::new();
        unknown.write_to(&mut s).unwrap();
        assert_eq!(s, "7 345 1 2 113 - - 567\n");
        assert_eq!(Outcome::parse(s.trim_end()), Some(unknown));
    }

    #[test]
    fn refuses_malformed_lines() {
        for bad in [
            HEADER,
            "",
            "7 345 1 2 0 66816 5261",
            "7 345 1 2 0 66816 5261 567 9",
            "7 345 1 2 0 x 5261 567",
            "7 345 1 2 -1 - - 567",
            "7 4294967296 1 2 0 - - 567",
            "7 345 1 2 0 - - -",
        ] {
            assert_eq!(Outcome::parse(bad), None, "{bad:?}");
        }
    }
}
