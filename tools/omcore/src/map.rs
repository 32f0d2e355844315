// SPDX-License-Identifier: GPL-2.0

//! The openMosix node map: which node ID has which address.
//!
//! Text format (as openMosix's `/etc/openmosix.map`), one range per line:
//!
//! ```text
//! # FIRST-ID  ADDRESS       COUNT
//! 1           198.18.0.1    3       # nodes 1, 2, 3 at 198.18.0.1, .2, .3
//! 10          fd00::a       1
//! ```
//!
//! A line gives `COUNT` consecutive node IDs starting at `FIRST-ID`, with consecutive addresses
//! starting at `ADDRESS`. `#` starts a comment; blank lines are ignored. Node IDs are 1 to
//! [`MAX_NODE_ID`]; no ID and no address may appear twice; at most [`MAX_LINES`] ranges.
//! A map with a fault is refused whole, with the line number of the first fault.

use super::addr::Addr;
use core::fmt;

/// Most ranges a map may have.
pub const MAX_LINES: usize = 64;
/// Highest node ID (openMosix node numbers are 16-bit).
pub const MAX_NODE_ID: u32 = 65535;
/// Longest map text accepted, in bytes.
pub const MAX_TEXT: usize = 8192;

/// One line of a map: IDs `first .. first + count` at addresses `addr ..`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapRange {
    /// First node ID of the range.
    pub first: u32,
    /// Address of node `first`.
    pub addr: Addr,
    /// Number of nodes, at least 1.
    pub count: u32,
}

impl MapRange {
    /// The address of node `id`, if the range holds it.
    pub fn addr_of(&self, id: u32) -> Option<Addr> {
        let off = id.checked_sub(self.first)?;
        (off < self.count).then(|| self.addr.offset(off)).flatten()
    }

    /// The node ID at address `addr`, if the range holds it.
    pub fn id_of(&self, addr: &Addr) -> Option<u32> {
        let d = self.addr.distance_to(addr)?;
        let d = u32::try_from(d).ok()?;
        // `then`, not `then_some`: `first + d` may overflow when `d` is out of the range.
        (d < self.count).then(|| self.first + d)
    }

    /// Last node ID of the range.
    pub fn last(&self) -> u32 {
        self.first + (self.count - 1)
    }
}

/// What is wrong with a map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapErrorKind {
    /// The text is longer than [`MAX_TEXT`] or not UTF-8.
    TooLong,
    /// Not three fields `FIRST-ID ADDRESS COUNT`.
    Fields,
    /// FIRST-ID is not a number from 1 to [`MAX_NODE_ID`].
    BadId,
    /// ADDRESS is not an IPv4 or IPv6 address.
    BadAddress,
    /// COUNT is not a positive number, or the range passes [`MAX_NODE_ID`] or the address space.
    BadCount,
    /// The range overlaps the IDs of an earlier line.
    IdOverlap,
    /// The range overlaps the addresses of an earlier line.
    AddressOverlap,
    /// More than [`MAX_LINES`] ranges.
    TooManyLines,
}

/// A refused map: the first fault and its line (1-based; 0 for the whole text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapError {
    /// Line number of the fault, counting from 1.
    pub line: usize,
    /// The fault.
    pub kind: MapErrorKind,
}

impl fmt::Display for MapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            MapErrorKind::TooLong => "map text too long or not UTF-8",
            MapErrorKind::Fields => "expected 'FIRST-ID ADDRESS COUNT'",
            MapErrorKind::BadId => "node ID must be 1..65535",
            MapErrorKind::BadAddress => "bad IPv4/IPv6 address",
            MapErrorKind::BadCount => "COUNT must be >= 1 and keep IDs and addresses in range",
            MapErrorKind::IdOverlap => "node IDs overlap an earlier line",
            MapErrorKind::AddressOverlap => "addresses overlap an earlier line",
            MapErrorKind::TooManyLines => "too many lines (at most 64 ranges)",
        };
        if self.line == 0 {
            write!(f, "{what}")
        } else {
            write!(f, "line {}: {what}", self.line)
        }
    }
}

/// A validated node map. Fixed capacity, so the module can hold one without reallocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeMap {
    ranges: [MapRange; MAX_LINES],
    len: usize,
}

impl Default for NodeMap {
    fn default() -> Self {
        Self::EMPTY
    }
}

/// Parses a decimal number without sign or leading `+`.
fn number(s: &str) -> Option<u32> {
    (!s.is_empty() && s.len() <= 10 && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

impl NodeMap {
    /// The map with no nodes.
    pub const EMPTY: Self = Self {
        ranges: [MapRange {
            first: 0,
            addr: Addr::V4([0; 4]),
            count: 0,
        }; MAX_LINES],
        len: 0,
    };

    /// Parses and validates map text; on any fault nothing is returned but the fault.
    pub fn parse(bytes: &[u8]) -> Result<Self, MapError> {
        let whole = |kind| MapError { line: 0, kind };
        if bytes.len() > MAX_TEXT {
            return Err(whole(MapErrorKind::TooLong));
        }
        let text = core::str::from_utf8(bytes).map_err(|_| whole(MapErrorKind::TooLong))?;
        let mut map = Self::EMPTY;
        for (n, raw) in text.lines().enumerate() {
            let line = n + 1;
            let err = |kind| MapError { line, kind };
            let content = raw.split('#').next().unwrap_or("");
            let mut fields = content.split_ascii_whitespace();
            let (first, addr, count) = match (fields.next(), fields.next(), fields.next()) {
                (None, _, _) => continue,
                (Some(a), Some(b), Some(c)) if fields.next().is_none() => (a, b, c),
                _ => return Err(err(MapErrorKind::Fields)),
            };
            let first = number(first)
                .filter(|&v| (1..=MAX_NODE_ID).contains(&v))
                .ok_or(err(MapErrorKind::BadId))?;
            let addr = Addr::parse(addr).map_err(|_| err(MapErrorKind::BadAddress))?;
            let count = number(count)
                .filter(|&c| c >= 1 && first + (c - 1) <= MAX_NODE_ID)
                .filter(|&c| addr.offset(c - 1).is_some())
                .ok_or(err(MapErrorKind::BadCount))?;
            let new = MapRange { first, addr, count };
            for old in map.ranges() {
                if new.first <= old.last() && old.first <= new.last() {
                    return Err(err(MapErrorKind::IdOverlap));
                }
                let after_old = old
                    .addr
                    .distance_to(&new.addr)
                    .map(|d| d >= u128::from(old.count));
                let before_old = new
                    .addr
                    .distance_to(&old.addr)
                    .map(|d| d >= u128::from(new.count));
                if after_old == Some(false) || before_old == Some(false) {
                    return Err(err(MapErrorKind::AddressOverlap));
                }
            }
            if map.len == MAX_LINES {
                return Err(err(MapErrorKind::TooManyLines));
            }
            map.ranges[map.len] = new;
            map.len += 1;
        }
        Ok(map)
    }

    /// The ranges, in the order of the text.
    pub fn ranges(&self) -> &[MapRange] {
        &self.ranges[..self.len]
    }

    /// Whether the map has no nodes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of nodes in the map.
    pub fn node_count(&self) -> u32 {
        self.ranges().iter().map(|r| r.count).sum()
    }

    /// Address of node `id`.
    pub fn addr_of(&self, id: u32) -> Option<Addr> {
        self.ranges().iter().find_map(|r| r.addr_of(id))
    }

    /// Node ID at `addr`.
    pub fn id_of(&self, addr: &Addr) -> Option<u32> {
        self.ranges().iter().find_map(|r| r.id_of(addr))
    }

    /// Every `(id, address)` of the map, range by range.
    pub fn nodes(&self) -> impl Iterator<Item = (u32, Addr)> + '_ {
        self.ranges()
            .iter()
            .flat_map(|r| (0..r.count).filter_map(move |i| Some((r.first + i, r.addr.offset(i)?))))
    }

    /// Writes the map back as text, one range per line; [`NodeMap::parse`] reads it back equal.
    pub fn write_to(&self, out: &mut impl fmt::Write) -> fmt::Result {
        for r in self.ranges() {
            writeln!(out, "{} {} {}", r.first, r.addr, r.count)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::string::String;
    use std::vec::Vec;

    fn err(text: &str) -> MapError {
        NodeMap::parse(text.as_bytes()).unwrap_err()
    }

    #[test]
    fn parses_ranges_comments_and_blank_lines() {
        let m = NodeMap::parse(
            b"# cluster\n\n1 198.18.0.1 3   # three nodes\n  10\tfd00::a 2\n7 10.0.0.7 1\n",
        )
        .unwrap();
        assert_eq!(m.ranges().len(), 3);
        assert_eq!(m.node_count(), 6);
        assert_eq!(m.addr_of(3), Some(Addr::V4([198, 18, 0, 3])));
        assert_eq!(m.addr_of(4), None);
        assert_eq!(m.addr_of(11), Addr::parse("fd00::b").ok());
        assert_eq!(m.id_of(&Addr::V4([198, 18, 0, 2])), Some(2));
        assert_eq!(m.id_of(&Addr::V4([198, 18, 0, 4])), None);
        let ids: Vec<u32> = m.nodes().map(|(i, _)| i).collect();
        assert_eq!(ids, [1, 2, 3, 10, 11, 7]);
        let mut s = String::new();
        m.write_to(&mut s).unwrap();
        assert_eq!(s, "1 198.18.0.1 3\n10 fd00::a 2\n7 10.0.0.7 1\n");
        assert_eq!(NodeMap::parse(s.as_bytes()), Ok(m));
    }

    #[test]
    fn far_addresses_have_no_id() {
        // Found by fuzzing: an address far above a range (beyond u32 IDs from its first) must
        // give None, not overflow.
        let m = NodeMap::parse(b"51 0:1:1:2:A::A:f 4\n11 0:1:1:2:A:1:A:d 6").unwrap();
        assert_eq!(m.id_of(&Addr::parse("0:1:1:2:A:1:A:d").unwrap()), Some(11));
        assert_eq!(m.id_of(&Addr::parse("0:1:1:2:A:1:A:e").unwrap()), Some(12));
    }

    #[test]
    fn empty_map_is_valid() {
        assert!(NodeMap::parse(b"").unwrap().is_empty());
        assert!(NodeMap::parse(b"# nothing\n\n").unwrap().is_empty());
    }

    #[test]
    fn refuses_bad_lines_naming_them() {
        use MapErrorKind::*;
        let cases: &[(&str, usize, MapErrorKind)] = &[
            ("1 10.0.0.1", 1, Fields),
            ("1 10.0.0.1 1 extra", 1, Fields),
            ("\n\n0 10.0.0.1 1", 3, BadId),
            ("65536 10.0.0.1 1", 1, BadId),
            ("-1 10.0.0.1 1", 1, BadId),
            ("+1 10.0.0.1 1", 1, BadId),
            ("x 10.0.0.1 1", 1, BadId),
            ("1 10.0.0.256 1", 1, BadAddress),
            ("1 host.example 1", 1, BadAddress),
            ("1 10.0.0.1 0", 1, BadCount),
            ("1 10.0.0.1 99999999999", 1, BadCount),
            ("65535 10.0.0.1 2", 1, BadCount),
            ("1 255.255.255.255 2", 1, BadCount),
            ("1 10.0.0.1 3\n3 10.0.1.1 1", 2, IdOverlap),
            ("5 10.0.0.1 3\n1 10.0.1.1 5", 2, IdOverlap),
            ("1 10.0.0.1 3\n4 10.0.0.3 1", 2, AddressOverlap),
            ("4 10.0.0.3 1\n1 10.0.0.1 3", 2, AddressOverlap),
            ("1 fd00::1 3\n9 fd00::1 1", 2, AddressOverlap),
        ];
        for &(text, line, kind) in cases {
            assert_eq!(err(text), MapError { line, kind }, "{text:?}");
        }
        // Same address numbers in different families do not overlap.
        assert!(NodeMap::parse(b"1 0.0.0.1 1\n2 ::1 1").is_ok());
    }

    #[test]
    fn limits() {
        let mut s = String::new();
        for i in 0..MAX_LINES {
            s += &std::format!("{} 10.0.{}.1 1\n", i + 1, i);
        }
        assert_eq!(
            NodeMap::parse(s.as_bytes()).unwrap().ranges().len(),
            MAX_LINES
        );
        s += "100 10.1.0.1 1\n";
        assert_eq!(
            err(&s),
            MapError {
                line: MAX_LINES + 1,
                kind: MapErrorKind::TooManyLines
            }
        );
        let long = std::vec![b'#'; MAX_TEXT + 1];
        assert_eq!(
            NodeMap::parse(&long).unwrap_err().kind,
            MapErrorKind::TooLong
        );
        assert_eq!(
            NodeMap::parse(b"\xff").unwrap_err().kind,
            MapErrorKind::TooLong
        );
        assert!(std::format!("{}", err("1 x 1")).contains("line 1"));
    }
}
