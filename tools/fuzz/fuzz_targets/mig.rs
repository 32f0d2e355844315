// SPDX-License-Identifier: GPL-2.0
//! Migration payloads: `MigImage` splitting into records and the image reader fed with them,
//! `MigResult`, `GuestExit`, `GuestSignal`. Nothing panics; what decodes encodes back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use omcore::image::ImageReader;
use omcore::mig::{self, MigResult, Pair, Records};

fuzz_target!(|data: &[u8]| {
    if let Ok((_, part)) = mig::decode_image(data) {
        let mut reader = ImageReader::new();
        for r in Records::new(part) {
            let Ok((h, body)) = r else { break };
            if reader.feed(h, body).is_err() {
                break;
            }
        }
    }
    if let Ok(r) = MigResult::decode(data) {
        assert_eq!(&r.encode()[..], data);
    }
    if let Ok(p) = Pair::decode_exit(data) {
        assert_eq!(&p.encode()[..], data);
    }
    if let Ok(p) = Pair::decode_signal(data) {
        assert_eq!(&p.encode()[..], data);
    }
});
