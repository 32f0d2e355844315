// SPDX-License-Identifier: GPL-2.0

//! HMAC-SHA256 and ChaCha20-Poly1305 from the kernel's crypto library, and random bytes.
//!
//! C headers: [`include/crypto/sha2.h`](srctree/include/crypto/sha2.h),
//! [`include/crypto/chacha20poly1305.h`](srctree/include/crypto/chacha20poly1305.h)

use super::bindings;
use kernel::prelude::*;

/// Size of an HMAC-SHA256 tag.
pub(crate) const TAG_LEN: usize = 32;

/// A prepared HMAC-SHA256 key; the key schedule is wiped when dropped.
pub(crate) struct HmacKey {
    key: KBox<bindings::hmac_sha256_key>,
}

impl HmacKey {
    /// Prepares `raw` (any length) as an HMAC-SHA256 key.
    pub(crate) fn new(raw: &[u8]) -> Result<Self> {
        // SAFETY: `hmac_sha256_key` is plain data; all-zero is a valid (if useless) value.
        let mut key = KBox::new(
            unsafe { core::mem::zeroed::<bindings::hmac_sha256_key>() },
            GFP_KERNEL,
        )?;
        // SAFETY: `key` is writable and `raw` readable for `raw.len()` bytes.
        unsafe { bindings::hmac_sha256_preparekey(&mut *key, raw.as_ptr(), raw.len()) };
        Ok(Self { key })
    }

    /// The tag of `data`.
    pub(crate) fn tag(&self, data: &[u8]) -> [u8; TAG_LEN] {
        let mut out = [0u8; TAG_LEN];
        // SAFETY: `self.key` is a prepared key, `data` is readable for its length and `out` has
        // room for a SHA-256 digest.
        unsafe { bindings::hmac_sha256(&*self.key, data.as_ptr(), data.len(), out.as_mut_ptr()) };
        out
    }

    /// Whether `tag` is the tag of `data`, compared in constant time.
    pub(crate) fn verify(&self, data: &[u8], tag: &[u8]) -> bool {
        let want = self.tag(data);
        if tag.len() != TAG_LEN {
            return false;
        }
        want.iter().zip(tag).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }
}

impl Drop for HmacKey {
    fn drop(&mut self) {
        let p = core::ptr::from_mut(&mut *self.key).cast::<u8>();
        for i in 0..core::mem::size_of::<bindings::hmac_sha256_key>() {
            // SAFETY: `p + i` lies inside the key, which we own; volatile so the wipe stays.
            unsafe { core::ptr::write_volatile(p.add(i), 0) };
        }
    }
}

/// Fills `buf` with cryptographically secure random bytes.
pub(crate) fn random_bytes(buf: &mut [u8]) {
    // SAFETY: `buf` is writable for its length.
    unsafe { bindings::get_random_bytes(buf.as_mut_ptr().cast(), buf.len()) };
}

/// Size of a ChaCha20-Poly1305 key.
pub(crate) const AEAD_KEY_LEN: usize = 32;
/// Size of a ChaCha20-Poly1305 tag.
pub(crate) const AEAD_TAG_LEN: usize = 16;

/// A ChaCha20-Poly1305 key (RFC 8439, the kernel's library); wiped when dropped.
///
/// The nonce of a message is four zero bytes then a 64-bit number: a key must never see the
/// same number twice for two messages.
pub(crate) struct AeadKey([u8; AEAD_KEY_LEN]);

impl AeadKey {
    pub(crate) fn new(raw: [u8; AEAD_KEY_LEN]) -> Self {
        Self(raw)
    }

    /// Seals `buf` = associated data (its first `ad_len` bytes), message, room for the tag
    /// (its last [`AEAD_TAG_LEN`] bytes) in place, under number `nonce`: with `encrypt` the
    /// message is encrypted and the tag covers both; without, the message stays as it is and
    /// the tag covers associated data and message together (as the associated data of an empty
    /// message). `EINVAL` when `buf` is shorter than `ad_len` and the tag.
    pub(crate) fn seal(&self, buf: &mut [u8], ad_len: usize, nonce: u64, encrypt: bool) -> Result {
        let (ad_len, msg_len) = Self::split(buf.len(), ad_len, encrypt)?;
        let (ad, rest) = buf.split_at_mut(ad_len);
        // `rest` is message then tag: `msg_len` + AEAD_TAG_LEN bytes (checked by `split`).
        let p = rest.as_mut_ptr();
        // SAFETY: `ad` is readable for `ad_len` bytes; `p` is valid for reads and writes of
        // `msg_len + AEAD_TAG_LEN` bytes (`rest`), which do not overlap `ad`. The library
        // encrypts the message in place (the same pointer as source and destination is how its
        // scatter-gather variant uses it) and writes the tag right after the message, within
        // `rest`. The key is `AEAD_KEY_LEN` bytes.
        unsafe {
            bindings::chacha20poly1305_encrypt(
                p,
                p.cast_const(),
                msg_len,
                ad.as_ptr(),
                ad_len,
                nonce,
                self.0.as_ptr(),
            )
        };
        Ok(())
    }

    /// Checks the tag of a `buf` sealed by [`Self::seal`] with the same `ad_len`, `nonce` and
    /// `encrypt`, and when it is right decrypts the message in place. Whether it was right
    /// (nothing in `buf` is changed when it is not).
    pub(crate) fn open(&self, buf: &mut [u8], ad_len: usize, nonce: u64, encrypt: bool) -> bool {
        let Ok((ad_len, msg_len)) = Self::split(buf.len(), ad_len, encrypt) else {
            return false;
        };
        let (ad, rest) = buf.split_at_mut(ad_len);
        let p = rest.as_mut_ptr();
        // SAFETY: as in `seal`: `ad` is readable for `ad_len` bytes, `p` valid for reads and
        // writes of `msg_len + AEAD_TAG_LEN` bytes that do not overlap `ad`. The library checks
        // the tag over the source before it writes anything, then decrypts in place.
        unsafe {
            bindings::chacha20poly1305_decrypt(
                p,
                p.cast_const(),
                msg_len + AEAD_TAG_LEN,
                ad.as_ptr(),
                ad_len,
                nonce,
                self.0.as_ptr(),
            )
        }
    }

    /// The associated data's and the message's lengths for a buffer of `len` bytes whose
    /// first `ad_len` are associated data: without `encrypt` the message is empty and all but
    /// the tag is associated data.
    fn split(len: usize, ad_len: usize, encrypt: bool) -> Result<(usize, usize)> {
        let body = len.checked_sub(AEAD_TAG_LEN).ok_or(EINVAL)?;
        let msg = body.checked_sub(ad_len).ok_or(EINVAL)?;
        Ok(if encrypt { (ad_len, msg) } else { (body, 0) })
    }
}

impl Drop for AeadKey {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

/// Overwrites `secret` with zeros in a way the compiler keeps.
pub(crate) fn wipe(secret: &mut [u8]) {
    for b in secret.iter_mut() {
        // SAFETY: `b` is a valid, writable byte (a `&mut u8`); volatile so the wipe stays.
        unsafe { core::ptr::write_volatile(b, 0) };
    }
}
