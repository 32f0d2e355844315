// SPDX-License-Identifier: GPL-2.0
//! Node maps: parsing never panics, and an accepted map written back parses to the same map.
#![no_main]

use libfuzzer_sys::fuzz_target;
use omcore::map::NodeMap;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = NodeMap::parse(data) {
        let mut text = String::new();
        m.write_to(&mut text).unwrap();
        assert_eq!(NodeMap::parse(text.as_bytes()).as_ref(), Ok(&m));
        for (id, addr) in m.nodes() {
            assert_eq!(m.addr_of(id), Some(addr));
            assert_eq!(m.id_of(&addr), Some(id));
        }
    }
});
