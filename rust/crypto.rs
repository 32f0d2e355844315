// SPDX-License-Identifier: GPL-2.0

//! HMAC-SHA256 from the kernel's crypto library, and random bytes.
//!
//! C header: [`include/crypto/sha2.h`](srctree/include/crypto/sha2.h)

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
