// SPDX-License-Identifier: GPL-2.0

//! `omx-sys N [LOOPS]`: a measuring program for benchmarks. It opens `/dev/null`, sleeps a second (time
//! to be migrated), then makes N one-byte `write`s to it and prints the mean time per call, and
//! runs a CPU loop of LOOPS million iterations (default 500) and prints its time:
//!
//!     write_ns MEAN
//!     loop_ms TIME
//!
//! Run at home and migrated, the two give the cost of a forwarded call against a local one and
//! the guest's CPU speed against home.

use std::io::Write;
use std::time::{Duration, Instant};

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let loops: u64 = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(500);
    let mut null = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .expect("/dev/null");
    std::thread::sleep(Duration::from_secs(1));
    let t0 = Instant::now();
    for _ in 0..n {
        null.write_all(b"x").expect("write");
    }
    // Guest clocks may tick in jiffies: run long enough for that not to matter.
    let per = t0.elapsed().as_nanos() / u128::from(n.max(1));
    let t1 = Instant::now();
    let mut x = 1u64;
    for _ in 0..loops * 1_000_000 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
    }
    let ms = t1.elapsed().as_millis();
    println!("write_ns {per}");
    println!("loop_ms {ms} ({})", x & 1);
}
