// SPDX-License-Identifier: GPL-2.0

//! Log lines that other people cause: what a local user wrote to a world-writable file
//! (`/proc/openmosix/migrate`, `tag`) goes into the kernel log escaped and cut short
//! ([`Escaped`]), and such lines are rate-limited ([`LogLimit`]), so that no user can flood the
//! log or forge lines in it.

use core::fmt;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};

/// Most bytes of a user's text that a log line shows.
pub const MAX_SHOWN: usize = 32;
/// Lines a [`LogLimit`] lets through in one window.
pub const BURST: u32 = 10;
/// Length of a [`LogLimit`] window, in milliseconds.
pub const WINDOW_MS: u64 = 5000;

/// Shows untrusted bytes: printable ASCII as it is, a backslash and every other byte as
/// `\xNN`, at most [`MAX_SHOWN`] bytes and then `...`. The output never holds a control
/// character, so it can neither end a log line nor move a terminal's cursor.
pub struct Escaped<'a>(pub &'a [u8]);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &b in self.0.iter().take(MAX_SHOWN) {
            if (b.is_ascii_graphic() && b != b'\\') || b == b' ' {
                f.write_fmt(format_args!("{}", b as char))?;
            } else {
                f.write_fmt(format_args!("\\x{b:02x}"))?;
            }
        }
        if self.0.len() > MAX_SHOWN {
            f.write_str("...")?;
        }
        Ok(())
    }
}

/// A budget of log lines: at most [`BURST`] in each window of [`WINDOW_MS`]. Shared by
/// threads without a lock; two threads that race at a window's edge may let a line or two
/// more through, never an unbounded number.
pub struct LogLimit {
    window: AtomicU64,
    used: AtomicU32,
    dropped: AtomicU32,
}

impl Default for LogLimit {
    fn default() -> Self {
        Self::new()
    }
}

impl LogLimit {
    /// A budget with nothing spent.
    pub const fn new() -> Self {
        Self {
            window: AtomicU64::new(0),
            used: AtomicU32::new(0),
            dropped: AtomicU32::new(0),
        }
    }

    /// Whether a line may go to the log at `now_ms`: `Some(n)` when it may, `n` being the
    /// lines left out since the last one that went (to be said first), `None` when it may not.
    pub fn admit(&self, now_ms: u64) -> Option<u32> {
        let w = now_ms / WINDOW_MS;
        if self.window.swap(w, Relaxed) != w {
            self.used.store(0, Relaxed);
        }
        if self.used.fetch_add(1, Relaxed) < BURST {
            Some(self.dropped.swap(0, Relaxed))
        } else {
            self.used.store(BURST, Relaxed);
            self.dropped.fetch_add(1, Relaxed);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::format;

    #[test]
    fn escapes_control_bytes_and_backslashes() {
        assert_eq!(format!("{}", Escaped(b"12ab")), "12ab");
        assert_eq!(format!("{}", Escaped(b"a b")), "a b");
        assert_eq!(
            format!("{}", Escaped(b"\x1b[2J\nopenmosix: forged\r")),
            "\\x1b[2J\\x0aopenmosix: forged\\x0d"
        );
        assert_eq!(format!("{}", Escaped(b"\\x41")), "\\x5cx41");
        assert_eq!(
            format!("{}", Escaped(&[0xff, 0x00, 0x7f])),
            "\\xff\\x00\\x7f"
        );
    }

    #[test]
    fn cuts_long_text() {
        let long = [b'a'; 100];
        let shown = format!("{}", Escaped(&long));
        assert_eq!(shown.len(), MAX_SHOWN + 3);
        assert!(shown.ends_with("..."));
        assert_eq!(format!("{}", Escaped(&long[..MAX_SHOWN])).len(), MAX_SHOWN);
    }

    #[test]
    fn never_shows_a_control_character() {
        let all: std::vec::Vec<u8> = (0..=255).collect();
        for chunk in all.chunks(MAX_SHOWN) {
            let shown = format!("{}", Escaped(chunk));
            assert!(shown.bytes().all(|b| (0x20..0x7f).contains(&b)), "{shown}");
        }
    }

    #[test]
    fn limits_lines_per_window_and_counts_the_rest() {
        let l = LogLimit::new();
        let t = 10 * WINDOW_MS;
        for _ in 0..BURST {
            assert_eq!(l.admit(t), Some(0));
        }
        for i in 0..1000 {
            assert_eq!(l.admit(t + i % WINDOW_MS.min(1000)), None);
        }
        // The next window lets lines through again, the first saying how many were left out.
        assert_eq!(l.admit(t + WINDOW_MS), Some(1000));
        assert_eq!(l.admit(t + WINDOW_MS + 1), Some(0));
    }

    #[test]
    fn a_quiet_log_lets_every_line_through() {
        let l = LogLimit::new();
        for i in 0..100 {
            assert_eq!(l.admit(i * WINDOW_MS), Some(0));
        }
    }
}
