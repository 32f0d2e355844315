// SPDX-License-Identifier: GPL-2.0

//! The CPU-only phase the test programs share (time to be migrated), and their `SECONDS
//! [ROUNDS]` arguments.

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

/// The `SECONDS [ROUNDS]` arguments: how long each CPU phase lasts (default 1 s), and how many
/// rounds of phase and work the program makes (default 1).
pub(crate) fn seconds_and_rounds() -> (f64, u32) {
    let arg = |i: usize| std::env::args().nth(i).and_then(|a| a.parse::<f64>().ok());
    (arg(1).unwrap_or(1.0), arg(2).unwrap_or(1.0) as u32)
}
