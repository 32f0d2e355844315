// SPDX-License-Identifier: GPL-2.0

//! `omx-burn MB PASSES [threads]`: a CPU- and memory-bound test program.
//!
//! Fills MB megabytes of heap with a pseudo-random pattern, then makes PASSES passes over it,
//! each updating every word from its neighbour and folding it into a checksum, with the FPU and
//! SSE registers carrying part of the state across the whole run. It exits with the checksum's
//! low byte, so a run that was migrated mid-way must exit with the same status as one that was
//! not. It prints the checksum and its pid and parent pid last (`checksum HEX pid N ppid N`), which
//! must also be the same: the output goes home, and the ids are the home ids. With `threads`, a
//! second thread exists for the whole run (such a process cannot move). It makes no system call
//! between start-up and the final line other than what memory allocation does.

use std::process::exit;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(mb), Some(passes)) = (
        args.get(1).and_then(|a| a.parse::<usize>().ok()),
        args.get(2).and_then(|a| a.parse::<u64>().ok()),
    ) else {
        eprintln!("usage: omx-burn MB PASSES [threads]");
        exit(2);
    };
    let _helper = (args.get(3).map(String::as_str) == Some("threads"))
        .then(|| std::thread::spawn(|| std::thread::sleep(std::time::Duration::from_secs(3600))));
    let words = mb * 1024 * 1024 / 8;
    let mut v: Vec<u64> = Vec::with_capacity(words);
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..words {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.push(x);
    }
    let mut sum = 0u64;
    // Floating-point state lives in registers across the passes.
    let mut f = 1.000_001f64;
    for p in 0..passes {
        let mut prev = p;
        for w in v.iter_mut() {
            *w = w.rotate_left(5) ^ prev.wrapping_mul(0x100_0000_01b3);
            prev = *w;
            sum = sum.wrapping_add(*w);
        }
        f = f * 1.000_37 + (sum & 0xff) as f64 / 1024.0;
    }
    let code = (sum ^ f.to_bits()) as u8 ^ (f as u64 as u8);
    println!(
        "checksum {sum:016x} pid {} ppid {}",
        std::process::id(),
        std::os::unix::process::parent_id()
    );
    exit(i32::from(code));
}
