// SPDX-License-Identifier: GPL-2.0
//! Checkpoint files: the header and the home section never panic, and a home section that
//! decodes encodes back to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use omcore::ckpt;

fuzz_target!(|data: &[u8]| {
    let _ = ckpt::decode_header(data);
    let rest = data.get(ckpt::HEADER_LEN..).unwrap_or_default();
    let _ = ckpt::home_section_len(rest);
    if let Ok(h) = ckpt::decode_home(rest) {
        let fds: Vec<_> = h.fds().collect();
        assert_eq!(fds.len(), h.len());
        let n = ckpt::home_len(&h.lineage, h.cwd, &fds, &h.job).unwrap();
        let mut out = vec![0u8; n];
        assert_eq!(
            ckpt::encode_home(h.saved_ms, h.pid, &h.lineage, h.cwd, &fds, &h.job, &mut out),
            Ok(n)
        );
        assert_eq!(&out[..], rest);
    }
});
