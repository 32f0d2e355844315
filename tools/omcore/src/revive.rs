// SPDX-License-Identifier: GPL-2.0

//! The request the restart helper (`omx-revive`) writes to `/proc/openmosix/revive` for a
//! process whose host was lost: `PID FD OFFSET [N:POS...]`, the image at byte OFFSET of the
//! helper's descriptor FD, for the deputy of process PID, and the positions its descriptors N
//! are to be set back to (at most [`MAX_SEEKS`]). The helper writes it with [`Request`]'s
//! `Display`, the module reads it with [`Request::parse`]: both agree by construction, and the
//! parser, which reads what any local user may write, is tested here with hostile text.

use core::fmt;

/// Most descriptors a request sets back.
pub const MAX_SEEKS: usize = 64;

/// A request, checked whole: every word is well formed and there are at most [`MAX_SEEKS`]
/// descriptors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    /// The process to restart.
    pub pid: i32,
    /// The writer's descriptor of the merged image.
    pub fd: i32,
    /// Where the image starts in it.
    pub offset: u64,
    /// The whole request, checked: its `N:POS` words follow the first three.
    text: &'a str,
}

/// One `N:POS` word: descriptor N (not negative), position POS.
fn seek(word: &str) -> Option<(i32, u64)> {
    let (n, pos) = word.split_once(':')?;
    let n = n.parse::<i32>().ok().filter(|&n| n >= 0)?;
    Some((n, pos.parse().ok()?))
}

impl<'a> Request<'a> {
    /// Reads `text` (one line, words separated by ASCII white space); `None` unless it is a
    /// whole request: PID and FD fit an `i32` and are not negative, OFFSET a `u64`, then at
    /// most [`MAX_SEEKS`] `N:POS` words.
    pub fn parse(text: &'a str) -> Option<Self> {
        let mut words = text.split_ascii_whitespace();
        let mut id = || {
            words
                .next()
                .and_then(|w| w.parse::<i32>().ok())
                .filter(|&v| v >= 0)
        };
        let (pid, fd) = (id()?, id()?);
        let offset = words.next()?.parse::<u64>().ok()?;
        for (n, w) in words.enumerate() {
            seek(w)?;
            if n == MAX_SEEKS {
                return None;
            }
        }
        Some(Self {
            pid,
            fd,
            offset,
            text,
        })
    }

    /// A request with no descriptor to set back (add them with [`Request::fmt_seek`] after
    /// its `Display`).
    pub fn new(pid: i32, fd: i32, offset: u64) -> Self {
        Self {
            pid,
            fd,
            offset,
            text: "",
        }
    }

    /// The descriptors to set back and their positions, in the order written.
    pub fn seeks(&self) -> impl Iterator<Item = (i32, u64)> + 'a {
        self.text.split_ascii_whitespace().skip(3).filter_map(seek)
    }

    /// Writes one `N:POS` word, with its leading space, to follow a request's `Display`.
    pub fn fmt_seek(out: &mut impl fmt::Write, n: u32, pos: u64) -> fmt::Result {
        write!(out, " {n}:{pos}")
    }
}

impl fmt::Display for Request<'_> {
    /// `PID FD OFFSET` and the request's `N:POS` words.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.pid, self.fd, self.offset)?;
        for (n, pos) in self.seeks() {
            write!(f, " {n}:{pos}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::format;
    use std::string::String;
    use std::vec::Vec;

    #[test]
    fn round_trip() {
        let mut line = format!("{}", Request::new(812, 3, 16));
        for (n, pos) in [(0u32, 0u64), (4, 1 << 40), (63, 7)] {
            Request::fmt_seek(&mut line, n, pos).unwrap();
        }
        line.push('\n');
        let r = Request::parse(&line).unwrap();
        assert_eq!((r.pid, r.fd, r.offset), (812, 3, 16));
        assert_eq!(
            r.seeks().collect::<Vec<_>>(),
            [(0, 0), (4, 1 << 40), (63, 7)]
        );
        assert_eq!(format!("{r}\n"), line);
        assert_eq!(Request::parse("1 0 0").unwrap().seeks().count(), 0);
    }

    #[test]
    fn at_most_max_seeks() {
        let mut line = String::from("5 3 16");
        for n in 0..MAX_SEEKS as u32 {
            Request::fmt_seek(&mut line, n, 1).unwrap();
        }
        assert_eq!(Request::parse(&line).unwrap().seeks().count(), MAX_SEEKS);
        line.push_str(" 64:1");
        assert_eq!(Request::parse(&line), None);
    }

    #[test]
    fn refuses_what_is_not_a_request() {
        for bad in [
            "",
            "1 2",
            "1 2 x",
            "-1 2 3",
            "1 -2 3",
            "1 2 -3",
            "2147483648 2 3",
            "1 2 18446744073709551616",
            "1 2 3 4",
            "1 2 3 :5",
            "1 2 3 4:",
            "1 2 3 -4:5",
            "1 2 3 4:-5",
            "1 2 3 4:5:6",
            "1 2 3 4:5 x",
            "1\u{a0}2 3",
        ] {
            assert_eq!(Request::parse(bad), None, "{bad:?}");
        }
        // White space of any ASCII kind between words, and around the line.
        let r = Request::parse("\t1  2\n3 \t 4:5\n").unwrap();
        assert_eq!((r.pid, r.fd, r.offset), (1, 2, 3));
        assert_eq!(r.seeks().collect::<Vec<_>>(), [(4, 5)]);
    }
}
