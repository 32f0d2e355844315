// SPDX-License-Identifier: GPL-2.0
//! Migration payloads: `MigImage` splitting into records and the image reader fed with them,
//! `MigResult`, `GuestExit`, `GuestSignal`, `MigCtl`, forwarded-call requests (decoded and parsed
//! alike, and placed) and replies (a reply also checked against the call its first bytes name),
//! packed messages (the pointers the deputy sets stay inside the pack). Nothing panics; what
//! decodes encodes back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use omcore::fwd::{self, Reply, Request};
use omcore::image::ImageReader;
use omcore::mig::{self, Ctl, Exit, MigResult, Pair, Records};
use omcore::packed::{self, MsgLayout, Received};
use omcore::syscalls::nr;

fuzz_target!(|data: &[u8]| {
    if let Ok((_, _, part)) = mig::decode_image(data) {
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
    if let Ok(x) = Exit::decode(data) {
        assert_eq!(&x.encode()[..], data);
    }
    if let Ok(c) = Ctl::decode(data) {
        assert_eq!(&c.encode()[..], data);
    }
    if let Ok(p) = Pair::decode_signal(data) {
        let (b, n) = p.encode();
        assert_eq!(&b[..n], data);
    }
    match (Request::decode_with_spec(data), fwd::parse(data)) {
        (Ok((r, spec)), Ok(parsed)) => {
            let mut out = vec![0u8; r.encoded_len()];
            assert_eq!(r.encode(&mut out), Some(data.len()));
            assert_eq!(&out[..], data);
            assert_eq!(Request::decode(data), Ok(r));
            assert_eq!(parsed.request(data), r);
            assert_eq!(parsed.spec, spec);
            // The deputy's placement stays in its room.
            let (base, room) = (0x10_0000, 1 << 20);
            if let Some(p) = fwd::place(&spec, &r.args, &r.bufs, base, room) {
                assert!(p.end >= base && p.end <= base + room);
                for (i, at) in p.at.iter().enumerate() {
                    match at {
                        Some((a, len)) => {
                            assert_eq!(p.args[i], *a);
                            assert!(*a >= base && *a + *len as u64 <= p.end);
                        }
                        None => assert_eq!(p.args[i], r.args[i]),
                    }
                }
            }
        }
        (Err(a), Err(b)) => assert_eq!(a, b),
        (a, b) => panic!("decode {a:?}, parse {b:?}"),
    }
    if let Some(l) = MsgLayout::of(data) {
        assert_eq!(l.total(), Some(data.len()));
        assert!(l.control_at() <= l.data_at() && l.data_at() <= data.len());
        assert!(l.control() <= packed::MAX_CONTROL && l.name() <= packed::MAX_NAME);
        let _ = Received::of(data, &l).map(|r| assert!(r.control_len <= l.control()));
        let base = 0x10_0000u64;
        for call in [nr::SENDMSG, nr::RECVMSG] {
            assert!(packed::check(call, 1, data));
            let ptrs = packed::pointers(call, data, base).expect("a well-formed pack");
            for (off, value) in ptrs.into_iter().flatten() {
                assert!(off + 8 <= packed::MSG_HEAD);
                assert!(value == 0 || (value >= base && value <= base + data.len() as u64));
            }
        }
    }
    if data.len() > 52 {
        let (call, rest) = data.split_at(52);
        if let Ok(r) = Reply::decode(rest) {
            let nr = u32::from(call[0]) | u32::from(call[1]) << 8;
            let args: [u64; 6] = core::array::from_fn(|i| {
                u64::from_le_bytes(call[4 + 8 * i..12 + 8 * i].try_into().unwrap())
            });
            let _ = r.check(nr, &args);
            let mut out = vec![0u8; r.encoded_len()];
            assert_eq!(r.encode(&mut out), Some(rest.len()));
        }
    }
});
