// SPDX-License-Identifier: GPL-2.0

//! Keyrings: a node's own identity in the cluster. With a shared cluster key every holder can
//! claim any node ID; with keyrings each pair of nodes shares a key of its own, so a node can
//! authenticate only as itself. The administrator keeps a master secret and derives each
//! node's ring from it (`omctl keyring`); a node holds the keys of the pairs it is part of and
//! nothing else, so it cannot take another node's place, even knowing its own ring.
//!
//! Format (text, what is written to `/proc/openmosix/admin/key`):
//!
//! ```text
//! openmosix-keyring 1
//! # comments and blank lines are allowed
//! node 3
//! discovery 5f0e...(64 hex digits: the key of discovery beacons, optional)
//! 1 9a41...(64 hex digits: the key node 3 shares with node 1)
//! 2 0c7d...
//! 4 e218...
//! ```
//!
//! The first line is [`MAGIC`]; then exactly one `node ID`, at most one `discovery KEY`, and
//! any number of `ID KEY` lines in ascending order of ID, none of them the node's own. IDs are
//! 1..=[`MAX_NODE_ID`], keys [`PAIR_KEY_LEN`] bytes in hexadecimal.
//!
//! Derivation (in the tools only): the key of nodes `a < b` is HMAC-SHA256(master, `"omx pair key\0"` || be32(a) ||
//! be32(b)); the discovery key is HMAC-SHA256(master, `"omx discovery key\0"`).

use super::map::MAX_NODE_ID;
#[cfg(not(MODULE))]
use super::sha256::hmac_sha256;
use core::fmt;

/// First line of every keyring.
pub const MAGIC: &str = "openmosix-keyring 1";
/// Size of a pair key and of the discovery key, in bytes.
pub const PAIR_KEY_LEN: usize = 32;

/// Why a keyring was refused, and on which line (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingError {
    /// The line, 1-based (0: the ring as a whole).
    pub line: usize,
    /// What is wrong with it.
    pub what: &'static str,
}

impl fmt::Display for RingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "keyring: {}", self.what)
        } else {
            write!(f, "keyring line {}: {}", self.line, self.what)
        }
    }
}

/// A keyring that [`Ring::parse`] accepted.
#[derive(Debug, Clone, Copy)]
pub struct Ring<'a> {
    /// The node this ring belongs to.
    pub node: u32,
    /// The key of discovery beacons, if the ring has one.
    pub discovery: Option<[u8; PAIR_KEY_LEN]>,
    /// How many pair keys it holds.
    pub peers: usize,
    text: &'a str,
}

enum Line {
    Blank,
    Node(u32),
    Discovery([u8; PAIR_KEY_LEN]),
    Peer(u32, [u8; PAIR_KEY_LEN]),
    Bad(&'static str),
}

fn id(word: &str) -> Option<u32> {
    if word.is_empty() || word.len() > 5 || !word.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    word.parse().ok().filter(|n| (1..=MAX_NODE_ID).contains(n))
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn key(word: &str) -> Option<[u8; PAIR_KEY_LEN]> {
    let b = word.as_bytes();
    if b.len() != 2 * PAIR_KEY_LEN {
        return None;
    }
    let mut out = [0u8; PAIR_KEY_LEN];
    for (i, o) in out.iter_mut().enumerate() {
        *o = hex_digit(*b.get(2 * i)?)? << 4 | hex_digit(*b.get(2 * i + 1)?)?;
    }
    Some(out)
}

fn classify(line: &str) -> Line {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Line::Blank;
    }
    let mut w = line.split_ascii_whitespace();
    let (Some(a), Some(b), None) = (w.next(), w.next(), w.next()) else {
        return Line::Bad("expected two words");
    };
    match a {
        "node" => id(b).map_or(Line::Bad("bad node ID"), Line::Node),
        "discovery" => key(b).map_or(Line::Bad("bad discovery key"), Line::Discovery),
        _ => match (id(a), key(b)) {
            (Some(i), Some(k)) => Line::Peer(i, k),
            (None, _) => Line::Bad("bad node ID"),
            (_, None) => Line::Bad("a key is 64 hexadecimal digits"),
        },
    }
}

impl<'a> Ring<'a> {
    /// Whether `input` is meant as a keyring (it starts with [`MAGIC`]) rather than as a shared
    /// cluster key.
    pub fn is_ring(input: &[u8]) -> bool {
        input.starts_with(MAGIC.as_bytes())
    }

    /// Checks a whole keyring.
    pub fn parse(input: &'a [u8]) -> Result<Self, RingError> {
        let whole = |what| RingError { line: 0, what };
        let text = core::str::from_utf8(input).map_err(|_| whole("not text"))?;
        let mut lines = text.lines();
        if lines.next().map(str::trim_end) != Some(MAGIC) {
            return Err(RingError {
                line: 1,
                what: "the first line must be 'openmosix-keyring 1'",
            });
        }
        let (mut node, mut discovery, mut peers, mut last) = (None, None, 0usize, 0u32);
        for (i, l) in lines.enumerate() {
            let bad = |what| RingError { line: i + 2, what };
            match classify(l) {
                Line::Blank => {}
                Line::Bad(what) => return Err(bad(what)),
                Line::Node(n) if node.is_none() => node = Some(n),
                Line::Node(_) => return Err(bad("a second node line")),
                Line::Discovery(k) if discovery.is_none() => discovery = Some(k),
                Line::Discovery(_) => return Err(bad("a second discovery key")),
                Line::Peer(p, _) => {
                    if p <= last {
                        return Err(bad("node IDs must ascend, each once"));
                    }
                    last = p;
                    peers += 1;
                }
            }
        }
        let node = node.ok_or(whole("no node line"))?;
        let ring = Self {
            node,
            discovery,
            peers,
            text,
        };
        if ring.pairs().any(|(p, _)| p == node) {
            return Err(whole("a key for the node itself"));
        }
        Ok(ring)
    }

    /// The pair keys, in ascending order of the other node's ID.
    pub fn pairs(&self) -> impl Iterator<Item = (u32, [u8; PAIR_KEY_LEN])> + 'a {
        self.text.lines().skip(1).filter_map(|l| match classify(l) {
            Line::Peer(p, k) => Some((p, k)),
            _ => None,
        })
    }
}

#[cfg(not(MODULE))]
/// The key nodes `a` and `b` share, derived from `master`.
pub fn pair_key(master: &[u8], a: u32, b: u32) -> [u8; PAIR_KEY_LEN] {
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    hmac_sha256(
        master,
        &[b"omx pair key\0", &lo.to_be_bytes(), &hi.to_be_bytes()],
    )
}

#[cfg(not(MODULE))]
/// The key of discovery beacons, derived from `master`.
pub fn discovery_key(master: &[u8]) -> [u8; PAIR_KEY_LEN] {
    hmac_sha256(master, &[b"omx discovery key\0"])
}

#[cfg(not(MODULE))]
/// Writes the keyring of node `node` holding its keys with each node of `peers` (ascending;
/// `node` itself is left out), derived from `master`.
pub fn write_ring(
    out: &mut impl fmt::Write,
    master: &[u8],
    node: u32,
    peers: impl IntoIterator<Item = u32>,
) -> fmt::Result {
    let hex = |out: &mut dyn fmt::Write, k: &[u8]| -> fmt::Result {
        k.iter().try_for_each(|b| write!(out, "{b:02x}"))
    };
    writeln!(out, "{MAGIC}")?;
    writeln!(out, "node {node}")?;
    write!(out, "discovery ")?;
    hex(out, &discovery_key(master))?;
    writeln!(out)?;
    for p in peers.into_iter().filter(|&p| p != node) {
        write!(out, "{p} ")?;
        hex(out, &pair_key(master, node, p))?;
        writeln!(out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::String;
    use std::vec::Vec;

    const MASTER: &[u8] = b"master secret of the test cluster";

    fn ring_of(node: u32, peers: &[u32]) -> String {
        let mut s = String::new();
        write_ring(&mut s, MASTER, node, peers.iter().copied()).unwrap();
        s
    }

    #[test]
    fn a_written_ring_reads_back() {
        let text = ring_of(3, &[1, 2, 3, 4]);
        assert!(Ring::is_ring(text.as_bytes()));
        let r = Ring::parse(text.as_bytes()).unwrap();
        assert_eq!(r.node, 3);
        assert_eq!(r.peers, 3);
        assert_eq!(r.discovery, Some(discovery_key(MASTER)));
        let pairs: Vec<_> = r.pairs().collect();
        assert_eq!(
            pairs,
            [1, 2, 4].map(|p| (p, pair_key(MASTER, 3, p))).to_vec()
        );
    }

    #[test]
    fn both_ends_of_a_pair_hold_the_same_key_and_no_one_else_does() {
        let k13 = pair_key(MASTER, 1, 3);
        assert_eq!(k13, pair_key(MASTER, 3, 1));
        assert_ne!(k13, pair_key(MASTER, 1, 2));
        assert_ne!(k13, pair_key(MASTER, 2, 3));
        assert_ne!(k13, pair_key(b"another master", 1, 3));
        // Node 1's ring holds nothing that is node 2's key with node 3.
        let text = ring_of(1, &[2, 3]);
        let r = Ring::parse(text.as_bytes()).unwrap();
        assert!(r.pairs().all(|(_, k)| k != pair_key(MASTER, 2, 3)));
    }

    #[test]
    fn comments_and_blank_lines_are_allowed() {
        let k = "ab".repeat(32);
        let text = std::format!("{MAGIC}\n# mine\n\nnode 2\n  1 {k}  \n# end\n");
        let r = Ring::parse(text.as_bytes()).unwrap();
        assert_eq!((r.node, r.peers, r.discovery), (2, 1, None));
        assert_eq!(r.pairs().next(), Some((1, [0xab; 32])));
    }

    #[test]
    fn hostile_rings_are_refused() {
        let k = "0f".repeat(32);
        let bad = [
            (std::format!("node 1\n2 {k}\n"), 1),
            (std::format!("{MAGIC}\n2 {k}\n"), 0),
            (std::format!("{MAGIC}\nnode 1\nnode 2\n"), 3),
            (std::format!("{MAGIC}\nnode 0\n"), 2),
            (std::format!("{MAGIC}\nnode 65536\n"), 2),
            (std::format!("{MAGIC}\nnode 1\n1 {k}\n"), 0),
            (std::format!("{MAGIC}\nnode 1\n3 {k}\n2 {k}\n"), 4),
            (std::format!("{MAGIC}\nnode 1\n2 {k}\n2 {k}\n"), 4),
            (std::format!("{MAGIC}\nnode 1\n2 {}\n", &k[..62]), 3),
            (std::format!("{MAGIC}\nnode 1\n2 {k}0f\n"), 3),
            (std::format!("{MAGIC}\nnode 1\n2 {}\n", "zz".repeat(32)), 3),
            (std::format!("{MAGIC}\nnode 1\n2 {k} extra\n"), 3),
            (std::format!("{MAGIC}\nnode 1\n+2 {k}\n"), 3),
            (
                std::format!("{MAGIC}\nnode 1\ndiscovery {k}\ndiscovery {k}\n"),
                4,
            ),
            (std::format!("{MAGIC}\nnode 1\n2 {}\n", "é".repeat(32)), 3),
        ];
        for (text, line) in bad {
            let e = Ring::parse(text.as_bytes()).unwrap_err();
            assert_eq!(e.line, line, "{text:?}: {e}");
        }
        assert!(Ring::parse(&[0xff, 0xfe]).is_err());
    }
}
