// SPDX-License-Identifier: GPL-2.0
//! Message payloads: every decoder never panics, and what decodes encodes back to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use omcore::msg::{Auth, Beacon, Gossip, Hello, HelloReply, LoadEntry, GOSSIP_MAX_LEN};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Hello::decode(data) {
        assert_eq!(&m.encode()[..], data);
    }
    if let Ok(m) = HelloReply::decode(data) {
        assert_eq!(&m.encode()[..], data);
    }
    if let Ok(m) = Auth::decode(data) {
        assert_eq!(&m.encode()[..], data);
    }
    if let Ok(m) = LoadEntry::decode(data) {
        assert_eq!(&m.encode()[..], data);
    }
    if let Ok(m) = Beacon::decode(data) {
        assert_eq!(&m.encode()[..], data);
    }
    if let Ok(g) = Gossip::decode(data) {
        let mut buf = [0u8; GOSSIP_MAX_LEN];
        let n = g.encode(&mut buf);
        assert_eq!(&buf[..n], data);
    }
});
