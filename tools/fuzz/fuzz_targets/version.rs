// SPDX-License-Identifier: GPL-2.0
//! The version file: parsing never panics, and what parses is written back to equal text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use omcore::version::VersionInfo;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = core::str::from_utf8(data) {
        if let Ok(v) = VersionInfo::parse(s) {
            let mut text = String::new();
            v.write_to(&mut text).unwrap();
            assert_eq!(VersionInfo::parse(&text), Ok(v));
        }
    }
});
