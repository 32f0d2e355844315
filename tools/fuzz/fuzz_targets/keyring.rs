// SPDX-License-Identifier: GPL-2.0
//! Keyrings: parsing never panics, and an accepted ring's pair keys are as many as it counted,
//! ascending, none of them the node's own.
#![no_main]

use libfuzzer_sys::fuzz_target;
use omcore::keyring::Ring;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = Ring::parse(data) {
        assert!(Ring::is_ring(data));
        let mut last = 0;
        let mut n = 0;
        for (p, _) in r.pairs() {
            assert!(p > last && p != r.node);
            last = p;
            n += 1;
        }
        assert_eq!(n, r.peers);
    }
});
