// SPDX-License-Identifier: GPL-2.0
//! Frame headers: decoding never panics, and what decodes encodes back to the same 32 bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use omcore::frame::{FrameHeader, HEADER_LEN};

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = FrameHeader::decode(data) {
        assert_eq!(&h.encode()[..], &data[..HEADER_LEN]);
    }
});
