// SPDX-License-Identifier: GPL-2.0

//! The CPU-only first phase the test programs share: time to be migrated.

use std::time::Instant;

/// Runs a linear congruential generator for about `secs` seconds; returns its state, so that
/// the work cannot be optimised away.
pub(crate) fn burn(secs: f64) -> u64 {
    let t0 = Instant::now();
    let mut x = 1u64;
    while t0.elapsed().as_secs_f64() < secs {
        for _ in 0..100_000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
        }
    }
    x
}
