// SPDX-License-Identifier: GPL-2.0

//! ChaCha20-Poly1305 (RFC 8439) in plain Rust, for the userspace tools that speak the protocol
//! (test peers). The module uses the kernel's own implementation (`lib/crypto`, which picks the
//! CPU's vector instructions); both follow the frame convention of [`super::frame`]: the 96-bit
//! nonce is four zero bytes then the frame's 64-bit sequence number, little-endian.

/// Size of a ChaCha20-Poly1305 key.
pub const KEY_LEN: usize = 32;
/// Size of a Poly1305 tag.
pub const TAG_LEN: usize = 16;

fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

fn quarter(s: &mut [u32; 16], a: usize, b: usize, c: usize, d: usize) {
    s[a] = s[a].wrapping_add(s[b]);
    s[d] = (s[d] ^ s[a]).rotate_left(16);
    s[c] = s[c].wrapping_add(s[d]);
    s[b] = (s[b] ^ s[c]).rotate_left(12);
    s[a] = s[a].wrapping_add(s[b]);
    s[d] = (s[d] ^ s[a]).rotate_left(8);
    s[c] = s[c].wrapping_add(s[d]);
    s[b] = (s[b] ^ s[c]).rotate_left(7);
}

/// The ChaCha20 key stream block `counter` for `key` and the 96-bit `nonce`.
fn block(key: &[u8; KEY_LEN], counter: u32, nonce: &[u8; 12]) -> [u8; 64] {
    let mut init = [0u32; 16];
    init[..4].copy_from_slice(&[0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574]);
    for i in 0..8 {
        init[4 + i] = le32(&key[4 * i..]);
    }
    init[12] = counter;
    for i in 0..3 {
        init[13 + i] = le32(&nonce[4 * i..]);
    }
    let mut s = init;
    for _ in 0..10 {
        quarter(&mut s, 0, 4, 8, 12);
        quarter(&mut s, 1, 5, 9, 13);
        quarter(&mut s, 2, 6, 10, 14);
        quarter(&mut s, 3, 7, 11, 15);
        quarter(&mut s, 0, 5, 10, 15);
        quarter(&mut s, 1, 6, 11, 12);
        quarter(&mut s, 2, 7, 8, 13);
        quarter(&mut s, 3, 4, 9, 14);
    }
    let mut out = [0u8; 64];
    for i in 0..16 {
        out[4 * i..4 * i + 4].copy_from_slice(&s[i].wrapping_add(init[i]).to_le_bytes());
    }
    out
}

/// XORs `data` with the key stream from block `counter` on.
fn xor_stream(key: &[u8; KEY_LEN], mut counter: u32, nonce: &[u8; 12], data: &mut [u8]) {
    for chunk in data.chunks_mut(64) {
        let ks = block(key, counter, nonce);
        for (d, k) in chunk.iter_mut().zip(ks.iter()) {
            *d ^= k;
        }
        counter = counter.wrapping_add(1);
    }
}

/// Poly1305 (26-bit limbs).
struct Poly1305 {
    r: [u32; 5],
    h: [u32; 5],
    pad: [u32; 4],
}

const M26: u32 = 0x3ff_ffff;

impl Poly1305 {
    fn new(key: &[u8; 32]) -> Self {
        Self {
            r: [
                le32(&key[0..]) & 0x3ff_ffff,
                (le32(&key[3..]) >> 2) & 0x3ff_ff03,
                (le32(&key[6..]) >> 4) & 0x3ff_c0ff,
                (le32(&key[9..]) >> 6) & 0x3f0_3fff,
                (le32(&key[12..]) >> 8) & 0x00f_ffff,
            ],
            h: [0; 5],
            pad: [
                le32(&key[16..]),
                le32(&key[20..]),
                le32(&key[24..]),
                le32(&key[28..]),
            ],
        }
    }

    /// Absorbs one 16-byte block; `hibit` is 1 << 24 for a whole block of the message.
    fn block(&mut self, m: &[u8; 16], hibit: u32) {
        let [r0, r1, r2, r3, r4] = self.r.map(u64::from);
        let (s1, s2, s3, s4) = (r1 * 5, r2 * 5, r3 * 5, r4 * 5);
        let h = &mut self.h;
        h[0] += le32(&m[0..]) & M26;
        h[1] += (le32(&m[3..]) >> 2) & M26;
        h[2] += (le32(&m[6..]) >> 4) & M26;
        h[3] += (le32(&m[9..]) >> 6) & M26;
        h[4] += (le32(&m[12..]) >> 8) | hibit;
        let [h0, h1, h2, h3, h4] = h.map(u64::from);
        let d0 = h0 * r0 + h1 * s4 + h2 * s3 + h3 * s2 + h4 * s1;
        let mut d1 = h0 * r1 + h1 * r0 + h2 * s4 + h3 * s3 + h4 * s2;
        let mut d2 = h0 * r2 + h1 * r1 + h2 * r0 + h3 * s4 + h4 * s3;
        let mut d3 = h0 * r3 + h1 * r2 + h2 * r1 + h3 * r0 + h4 * s4;
        let mut d4 = h0 * r4 + h1 * r3 + h2 * r2 + h3 * r1 + h4 * r0;
        let m = u64::from(M26);
        d1 += d0 >> 26;
        d2 += d1 >> 26;
        d3 += d2 >> 26;
        d4 += d3 >> 26;
        let c = d4 >> 26;
        let mut t0 = (d0 & m) + c * 5;
        let t1 = (d1 & m) + (t0 >> 26);
        t0 &= m;
        *h = [t0, t1, d2 & m, d3 & m, d4 & m].map(|v| v as u32);
    }

    /// Absorbs `data`, zero-padded to whole blocks (the AEAD's padding).
    fn padded(&mut self, data: &[u8]) {
        for chunk in data.chunks(16) {
            let mut b = [0u8; 16];
            b[..chunk.len()].copy_from_slice(chunk);
            self.block(&b, 1 << 24);
        }
    }

    fn finish(mut self) -> [u8; TAG_LEN] {
        let h = &mut self.h;
        let mut c;
        for i in 1..5 {
            c = h[i - 1] >> 26;
            h[i - 1] &= M26;
            h[i] += c;
        }
        c = h[4] >> 26;
        h[4] &= M26;
        h[0] += c * 5;
        c = h[0] >> 26;
        h[0] &= M26;
        h[1] += c;
        // g = h + 5 - 2^130; take g when it does not borrow.
        let mut g = [0u32; 5];
        let mut carry = 5;
        for i in 0..4 {
            let v = h[i] + carry;
            g[i] = v & M26;
            carry = v >> 26;
        }
        g[4] = (h[4] + carry).wrapping_sub(1 << 26);
        let take_g = (g[4] >> 31).wrapping_sub(1);
        for i in 0..5 {
            h[i] = (h[i] & !take_g) | (g[i] & take_g);
        }
        let w = [
            h[0] | (h[1] << 26),
            (h[1] >> 6) | (h[2] << 20),
            (h[2] >> 12) | (h[3] << 14),
            (h[3] >> 18) | (h[4] << 8),
        ];
        let mut out = [0u8; TAG_LEN];
        let mut f = 0u64;
        for i in 0..4 {
            f = u64::from(w[i]) + u64::from(self.pad[i]) + (f >> 32);
            out[4 * i..4 * i + 4].copy_from_slice(&(f as u32).to_le_bytes());
        }
        out
    }
}

fn tag(key: &[u8; KEY_LEN], nonce: &[u8; 12], ad: &[u8], ct: &[u8]) -> [u8; TAG_LEN] {
    let mut otk = [0u8; 32];
    otk.copy_from_slice(&block(key, 0, nonce)[..32]);
    let mut p = Poly1305::new(&otk);
    p.padded(ad);
    p.padded(ct);
    let mut lens = [0u8; 16];
    lens[..8].copy_from_slice(&(ad.len() as u64).to_le_bytes());
    lens[8..].copy_from_slice(&(ct.len() as u64).to_le_bytes());
    p.block(&lens, 1 << 24);
    p.finish()
}

/// The 96-bit nonce of the frame with sequence number `seq`.
pub fn frame_nonce(seq: u64) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&seq.to_le_bytes());
    n
}

/// Encrypts `data` in place under `key` and `nonce` with the associated data `ad`; returns the
/// tag.
pub fn seal(key: &[u8; KEY_LEN], nonce: &[u8; 12], ad: &[u8], data: &mut [u8]) -> [u8; TAG_LEN] {
    xor_stream(key, 1, nonce, data);
    tag(key, nonce, ad, data)
}

/// Checks `tag` over `ad` and the ciphertext `data` and, only if it is right, decrypts `data` in
/// place. Whether the tag was right (compared in constant time).
pub fn open(
    key: &[u8; KEY_LEN],
    nonce: &[u8; 12],
    ad: &[u8],
    data: &mut [u8],
    tag_in: &[u8; TAG_LEN],
) -> bool {
    let want = tag(key, nonce, ad, data);
    if want
        .iter()
        .zip(tag_in)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        != 0
    {
        return false;
    }
    xor_stream(key, 1, nonce, data);
    true
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::String;
    use std::vec::Vec;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn rfc8439_aead_vector() {
        // RFC 8439, section 2.8.2.
        let key: [u8; 32] = core::array::from_fn(|i| 0x80 + i as u8);
        let nonce: [u8; 12] = hex("070000004041424344454647").try_into().unwrap();
        let ad = hex("50515253c0c1c2c3c4c5c6c7");
        let pt = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip \
for the future, sunscreen would be it.";
        let mut data = pt.to_vec();
        let t = seal(&key, &nonce, &ad, &mut data);
        assert_eq!(data, hex(CT_2_8_2));
        assert_eq!(t.to_vec(), hex("1ae10b594f09e26a7e902ecbd0600691"));
        assert!(open(&key, &nonce, &ad, &mut data, &t));
        assert_eq!(&data[..], &pt[..]);
    }

    const CT_2_8_2: &str = "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6\
        3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36\
        92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc\
        3ff4def08e4b7a9de576d26586cec64b6116";

    /// Vectors of the frame convention (`frame_nonce`), from an independent implementation:
    /// key bytes 0..32, a 32-byte header-like `ad` of bytes 0xa0.., plaintext byte i = 7 i + 3.
    #[test]
    fn frame_vectors() {
        let key: [u8; 32] = core::array::from_fn(|i| i as u8);
        let ad: Vec<u8> = (0..32).map(|i| 0xa0u8.wrapping_add(i)).collect();
        for (len, seq, want_tag) in FRAME_VECTORS {
            let pt: Vec<u8> = (0..*len).map(|i| (7 * i + 3) as u8).collect();
            let mut data = pt.clone();
            let t = seal(&key, &frame_nonce(*seq), &ad, &mut data);
            assert_eq!(t.to_vec(), hex(want_tag), "len {len} seq {seq}");
            assert!(open(&key, &frame_nonce(*seq), &ad, &mut data, &t));
            assert_eq!(data, pt);
        }
    }

    #[test]
    fn any_change_is_refused() {
        let key = [7u8; 32];
        let ad = [1u8; 32];
        let mut data = [9u8; 100];
        let t = seal(&key, &frame_nonce(5), &ad, &mut data);
        let ct = data;
        for i in 0..ct.len() {
            let mut d = ct;
            d[i] ^= 1;
            assert!(!open(&key, &frame_nonce(5), &ad, &mut d, &t));
            assert_eq!(d, {
                let mut e = ct;
                e[i] ^= 1;
                e
            });
        }
        for i in 0..ad.len() {
            let mut a = ad;
            a[i] ^= 0x80;
            assert!(!open(&key, &frame_nonce(5), &a, &mut data.clone(), &t));
        }
        let mut t2 = t;
        t2[15] ^= 1;
        assert!(!open(&key, &frame_nonce(5), &ad, &mut data.clone(), &t2));
        assert!(!open(&key, &frame_nonce(6), &ad, &mut data.clone(), &t));
        assert!(open(&key, &frame_nonce(5), &ad, &mut data, &t));
        assert_eq!(data, [9u8; 100]);
    }

    const FRAME_VECTORS: &[(usize, u64, &str)] = &[
        (0, 1, "223f62e768ca77dbd78462488f3a32ca"),
        (1, 2, "0bbb1539b1501635a343cee4345b3174"),
        (15, 3, "0b0b7f9c3b7888fe5b5b1208cadc02a9"),
        (16, 4, "eee7b3a675c972fb281991e1076b6d70"),
        (17, 5, "769a400fa519be327a79f447d1a987ef"),
        (63, 6, "d0e90354a1a038e1acb3629c329ea6ca"),
        (64, 7, "1e39a0bdcc7987e43bc0ca32cd84f3ba"),
        (65, 8, "ba9c51ae5c233d958d27dae30ac0e6d9"),
        (300, 1_099_511_627_785, "73192f072ad104a499b0d78ee696fb07"),
        (1000, u64::MAX, "630f38e98e0c6512822e3cb89bdd6bfb"),
    ];
}
