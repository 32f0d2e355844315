// SPDX-License-Identifier: GPL-2.0
//! The restart helper's request (`/proc/openmosix/revive`): parsing never panics, takes at most
//! `MAX_SEEKS` descriptors, and what parses is written back to text that parses the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use omcore::revive::{Request, MAX_SEEKS};

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = core::str::from_utf8(data) {
        if let Some(r) = Request::parse(s) {
            assert!(r.pid >= 0 && r.fd >= 0);
            let seeks: Vec<_> = r.seeks().collect();
            assert!(seeks.len() <= MAX_SEEKS);
            let text = r.to_string();
            let again = Request::parse(&text).expect("written back, it parses");
            assert_eq!((again.pid, again.fd, again.offset), (r.pid, r.fd, r.offset));
            assert_eq!(again.seeks().collect::<Vec<_>>(), seeks);
        }
    }
});
