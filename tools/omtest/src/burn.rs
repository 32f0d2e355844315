// SPDX-License-Identifier: GPL-2.0

//! `omx-burn MB PASSES [threads | sparse:SMB]`: a CPU- and memory-bound test program.
//!
//! Fills MB megabytes of heap with a pseudo-random pattern, then makes PASSES passes over it,
//! each updating every word from its neighbour and folding it into a checksum, with the FPU and
//! SSE registers carrying part of the state across the whole run. It exits with the checksum's
//! low byte, so a run that was migrated mid-way must exit with the same status as one that was
//! not. It prints the checksum and its pid and parent pid last (`checksum HEX pid N ppid N`), which
//! must also be the same: the output goes home, and the ids are the home ids. With `threads`, a
//! second thread exists for the whole run (such a process cannot move). With `sparse:SMB`, it
//! also has SMB megabytes of zeroed heap of which it writes one word a megabyte (one page in
//! 256), updated every pass and folded into the checksum with a word of every other page, which
//! must still read zero: a process with a large heap it never touched. It makes no system call
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
    let sparse_mb = args
        .get(3)
        .and_then(|a| a.strip_prefix("sparse:"))
        .and_then(|a| a.parse::<usize>().ok())
        .unwrap_or(0);
    // Zeroed and left untouched by the allocator (fresh pages from the kernel) but for the
    // words written below: one a megabyte, at an offset that moves within its page.
    const MB_WORDS: usize = 1024 * 1024 / 8;
    let mut sparse = vec![0u64; sparse_mb * MB_WORDS];
    for i in 0..sparse_mb {
        sparse[i * MB_WORDS + (i * 37) % 512] = (i as u64 + 1).wrapping_mul(0x9e37_79b9);
    }
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
        for i in 0..sparse_mb {
            let w = &mut sparse[i * MB_WORDS + (i * 37) % 512];
            *w = w.rotate_left(3) ^ p;
            sum = sum.wrapping_add(*w);
        }
    }
    // Every other page of the sparse heap still reads zero (one word a page).
    for (n, page) in sparse.chunks(512).enumerate() {
        let w = page[(n / 256 * 37) % 512];
        if n % 256 != 0 && w != 0 {
            println!("sparse heap: page {n} is not zero");
            exit(3);
        }
        sum = sum.wrapping_add(w);
    }
    let code = (sum ^ f.to_bits()) as u8 ^ (f as u64 as u8);
    println!(
        "checksum {sum:016x} pid {} ppid {}",
        std::process::id(),
        std::os::unix::process::parent_id()
    );
    exit(i32::from(code));
}
