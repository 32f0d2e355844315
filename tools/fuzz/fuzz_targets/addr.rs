// SPDX-License-Identifier: GPL-2.0
//! Addresses: text and wire forms never panic and round-trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use omcore::addr::Addr;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = core::str::from_utf8(data) {
        if let Ok(a) = Addr::parse(s) {
            assert_eq!(Addr::parse(&a.to_string()), Ok(a));
        }
    }
    if let Ok(w) = <&[u8; 17]>::try_from(data) {
        if let Some(a) = Addr::from_wire(w) {
            assert_eq!(&a.to_wire(), w);
        }
    }
});
