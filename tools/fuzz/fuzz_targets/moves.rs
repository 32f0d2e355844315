// SPDX-License-Identifier: GPL-2.0
//! The lines of /proc/openmosix/moves: parsing never panics, and what parses is written back to
//! a line that parses to the same outcome.
#![no_main]

use libfuzzer_sys::fuzz_target;
use omcore::moves::Outcome;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = core::str::from_utf8(data) {
        if let Some(o) = Outcome::parse(s) {
            let mut text = String::new();
            o.write_to(&mut text).unwrap();
            assert_eq!(Outcome::parse(text.trim_end()), Some(o));
        }
    }
});
