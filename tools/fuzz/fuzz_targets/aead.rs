// SPDX-License-Identifier: GPL-2.0
//! ChaCha20-Poly1305 of the tools: opening any bytes never panics and never succeeds without the
//! right tag; what is sealed opens to the same bytes, and any one changed bit is refused.
#![no_main]

use libfuzzer_sys::fuzz_target;
use omcore::aead::{frame_nonce, open, seal, TAG_LEN};

fuzz_target!(|data: &[u8]| {
    if data.len() < 32 + 8 + 2 + TAG_LEN {
        return;
    }
    let (key, rest) = data.split_at(32);
    let key: [u8; 32] = key.try_into().unwrap();
    let (seq, rest) = rest.split_at(8);
    let nonce = frame_nonce(u64::from_le_bytes(seq.try_into().unwrap()));
    let flip = usize::from(u16::from_le_bytes([rest[0], rest[1]]));
    let (tag, body) = rest[2..].split_at(TAG_LEN);
    let tag: [u8; TAG_LEN] = tag.try_into().unwrap();
    let ad_len = body.len().min(32);
    let (ad, msg) = body.split_at(ad_len);
    // Random bytes and a random tag: refused (a forgery by chance is a 2^-128 event), unchanged.
    let mut m = msg.to_vec();
    assert!(!open(&key, &nonce, ad, &mut m, &tag));
    assert_eq!(m, msg);
    // Sealed, then opened: the same bytes.
    let mut m = msg.to_vec();
    let t = seal(&key, &nonce, ad, &mut m);
    let sealed = m.clone();
    assert!(open(&key, &nonce, ad, &mut m, &t));
    assert_eq!(m, msg);
    // One bit changed anywhere in data or tag: refused.
    let total = (sealed.len() + TAG_LEN) * 8;
    let bit = flip % total;
    let (mut c, mut t2) = (sealed, t);
    if bit / 8 < c.len() {
        c[bit / 8] ^= 1 << (bit % 8);
    } else {
        t2[bit / 8 - c.len()] ^= 1 << (bit % 8);
    }
    assert!(!open(&key, &nonce, ad, &mut c, &t2));
});
