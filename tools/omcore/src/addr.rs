// SPDX-License-Identifier: GPL-2.0

//! Node addresses: IPv4 or IPv6, parsed from and written as text without `std`.

use core::fmt;

/// An IPv4 or IPv6 address (network byte order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Addr {
    /// An IPv4 address.
    V4([u8; 4]),
    /// An IPv6 address.
    V6([u8; 16]),
}

/// Why a text is not an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddrParseError;

impl fmt::Display for AddrParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not an IPv4 or IPv6 address")
    }
}

/// Parses a dotted-quad IPv4 address (four decimal numbers 0..=255, no leading zeros).
fn parse_v4(s: &str) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut parts = s.split('.');
    for o in &mut out {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if p.len() > 1 && p.starts_with('0') {
            return None;
        }
        *o = p.parse().ok()?;
    }
    parts.next().is_none().then_some(out)
}

/// Parses up to 8 colon-separated hex groups (possibly ending in a dotted quad) into `out`,
/// returning how many 16-bit groups were written.
fn parse_groups(s: &str, out: &mut [u16; 8]) -> Option<usize> {
    if s.is_empty() {
        return Some(0);
    }
    let mut n = 0;
    let mut parts = s.split(':').peekable();
    while let Some(p) = parts.next() {
        if parts.peek().is_none() && p.contains('.') {
            let v4 = parse_v4(p)?;
            if n + 2 > 8 {
                return None;
            }
            out[n] = u16::from_be_bytes([v4[0], v4[1]]);
            out[n + 1] = u16::from_be_bytes([v4[2], v4[3]]);
            n += 2;
            break;
        }
        if p.is_empty() || p.len() > 4 || n >= 8 {
            return None;
        }
        out[n] = u16::from_str_radix(p, 16).ok()?;
        n += 1;
    }
    Some(n)
}

/// Parses an IPv6 address in any RFC 4291 text form (with `::` and an IPv4 tail).
fn parse_v6(s: &str) -> Option<[u8; 16]> {
    if !s
        .bytes()
        .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
    {
        return None;
    }
    let mut groups = [0u16; 8];
    match s.find("::") {
        Some(at) => {
            let (head, tail) = (&s[..at], &s[at + 2..]);
            if tail.contains("::") {
                return None;
            }
            let mut h = [0u16; 8];
            let mut t = [0u16; 8];
            let nh = parse_groups(head, &mut h)?;
            let nt = parse_groups(tail, &mut t)?;
            // `::` stands for at least one zero group.
            if nh + nt > 7 || head.contains('.') {
                return None;
            }
            groups[..nh].copy_from_slice(&h[..nh]);
            groups[8 - nt..].copy_from_slice(&t[..nt]);
        }
        None => {
            if parse_groups(s, &mut groups)? != 8 {
                return None;
            }
        }
    }
    let mut out = [0u8; 16];
    for (i, g) in groups.iter().enumerate() {
        out[2 * i..2 * i + 2].copy_from_slice(&g.to_be_bytes());
    }
    Some(out)
}

impl Addr {
    /// Parses an IPv4 dotted quad or an IPv6 address.
    pub fn parse(s: &str) -> Result<Self, AddrParseError> {
        if s.contains(':') {
            parse_v6(s).map(Self::V6).ok_or(AddrParseError)
        } else {
            parse_v4(s).map(Self::V4).ok_or(AddrParseError)
        }
    }

    /// The address `n` places after this one, or `None` if that wraps around the address space.
    pub fn offset(&self, n: u32) -> Option<Self> {
        match self {
            Self::V4(b) => u32::from_be_bytes(*b)
                .checked_add(n)
                .map(|v| Self::V4(v.to_be_bytes())),
            Self::V6(b) => u128::from_be_bytes(*b)
                .checked_add(u128::from(n))
                .map(|v| Self::V6(v.to_be_bytes())),
        }
    }

    /// How many places `other` lies after `self`, if it is in the same family and not before.
    pub fn distance_to(&self, other: &Self) -> Option<u128> {
        match (self, other) {
            (Self::V4(a), Self::V4(b)) => u32::from_be_bytes(*b)
                .checked_sub(u32::from_be_bytes(*a))
                .map(u128::from),
            (Self::V6(a), Self::V6(b)) => {
                u128::from_be_bytes(*b).checked_sub(u128::from_be_bytes(*a))
            }
            _ => None,
        }
    }

    /// Wire form: family byte (4 or 6) and 16 address bytes (IPv4 in the first 4).
    pub fn to_wire(&self) -> [u8; 17] {
        let mut w = [0u8; 17];
        match self {
            Self::V4(b) => {
                w[0] = 4;
                w[1..5].copy_from_slice(b);
            }
            Self::V6(b) => {
                w[0] = 6;
                w[1..17].copy_from_slice(b);
            }
        }
        w
    }

    /// Reads the wire form; IPv4 must have its 12 unused bytes zero.
    pub fn from_wire(w: &[u8; 17]) -> Option<Self> {
        match w[0] {
            4 if w[5..].iter().all(|&b| b == 0) => Some(Self::V4([w[1], w[2], w[3], w[4]])),
            6 => {
                let mut b = [0u8; 16];
                b.copy_from_slice(&w[1..]);
                Some(Self::V6(b))
            }
            _ => None,
        }
    }
}

impl fmt::Display for Addr {
    /// IPv4 as a dotted quad, IPv6 in the RFC 5952 canonical form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::V4(b) => write!(f, "{}.{}.{}.{}", b[0], b[1], b[2], b[3]),
            Self::V6(b) => {
                let g: [u16; 8] =
                    core::array::from_fn(|i| u16::from_be_bytes([b[2 * i], b[2 * i + 1]]));
                // The longest run of two or more zero groups (the first one on a tie) becomes `::`.
                let (mut best, mut best_len, mut i) = (8, 1, 0);
                while i < 8 {
                    let start = i;
                    while i < 8 && g[i] == 0 {
                        i += 1;
                    }
                    if i - start > best_len {
                        best = start;
                        best_len = i - start;
                    }
                    i += 1;
                }
                let mut i = 0;
                while i < 8 {
                    if i == best {
                        write!(f, "::")?;
                        i += best_len;
                        continue;
                    }
                    if i > 0 && i != best + best_len {
                        write!(f, ":")?;
                    }
                    write!(f, "{:x}", g[i])?;
                    i += 1;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::format;
    use std::string::ToString;

    #[test]
    fn v4() {
        assert_eq!(Addr::parse("198.18.0.1"), Ok(Addr::V4([198, 18, 0, 1])));
        assert_eq!(Addr::parse("0.0.0.0"), Ok(Addr::V4([0; 4])));
        for bad in [
            "",
            "1.2.3",
            "1.2.3.4.5",
            "256.1.1.1",
            "01.2.3.4",
            "1..2.3",
            "a.b.c.d",
            "1.2.3.4 ",
            "+1.2.3.4",
            "1.2.3.-4",
        ] {
            assert_eq!(Addr::parse(bad), Err(AddrParseError), "{bad:?}");
        }
        assert_eq!(Addr::V4([10, 0, 0, 255]).to_string(), "10.0.0.255");
    }

    #[test]
    fn v6() {
        let p = |s| Addr::parse(s).map(|a| a.to_string());
        assert_eq!(p("::"), Ok("::".into()));
        assert_eq!(p("::1"), Ok("::1".into()));
        assert_eq!(p("fd00::1"), Ok("fd00::1".into()));
        assert_eq!(p("FD00:0:0:0:0:0:0:1"), Ok("fd00::1".into()));
        assert_eq!(p("2001:db8:0:0:1:0:0:1"), Ok("2001:db8::1:0:0:1".into()));
        assert_eq!(p("2001:db8:0:1:1:1:1:1"), Ok("2001:db8:0:1:1:1:1:1".into()));
        assert_eq!(p("::ffff:1.2.3.4"), Ok("::ffff:102:304".into()));
        assert_eq!(p("1:2:3:4:5:6:7::"), Ok("1:2:3:4:5:6:7:0".into()));
        for bad in [
            ":",
            ":::",
            "1::2::3",
            "1:2:3:4:5:6:7:8:9",
            "1:2:3:4:5:6:7",
            "12345::",
            "g::",
            "1:2:3:4:5:6:7:8::",
            "::1.2.3.4.5",
            "1.2.3.4::",
            "fd00::1 ",
            "::%1",
        ] {
            assert_eq!(Addr::parse(bad), Err(AddrParseError), "{bad:?}");
        }
    }

    #[test]
    fn offsets_and_wire() {
        let a = Addr::V4([10, 0, 0, 250]);
        assert_eq!(a.offset(5), Some(Addr::V4([10, 0, 0, 255])));
        assert_eq!(a.offset(6), Some(Addr::V4([10, 0, 1, 0])));
        assert_eq!(Addr::V4([255; 4]).offset(1), None);
        assert_eq!(a.distance_to(&Addr::V4([10, 0, 1, 0])), Some(6));
        assert_eq!(a.distance_to(&Addr::V4([10, 0, 0, 1])), None);
        assert_eq!(a.distance_to(&Addr::V6([0; 16])), None);
        for x in [a, Addr::parse("fd00::7").unwrap()] {
            assert_eq!(Addr::from_wire(&x.to_wire()), Some(x));
        }
        let mut w = a.to_wire();
        w[16] = 1;
        assert_eq!(Addr::from_wire(&w), None);
        w[0] = 5;
        assert_eq!(Addr::from_wire(&w), None);
        assert_eq!(format!("{}", Addr::V6([0; 16])), "::");
    }
}
