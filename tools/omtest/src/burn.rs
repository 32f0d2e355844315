// SPDX-License-Identifier: GPL-2.0

//! `omx-burn MB PASSES [threads | sparse:SMB | areas:N]...`: a CPU- and memory-bound test
//! program (the options in any order).
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
//! must still read zero: a process with a large heap it never touched. With `areas:N`, it also
//! maps N one-page areas that do not merge (read-write and read-only by turns), each with its own
//! word, folded into the checksum at the end, and last a 64 KiB area that grows down
//! (`MAP_GROWSDOWN`), which it makes grow by 256 KiB at the end: a process with many areas, and
//! one that must still grow down after a move. It makes no system call between start-up and the
//! final line other than what memory allocation does.

mod raw;

use std::process::exit;

const PAGE: u64 = 4096;

/// `mmap(hint, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | more)`; exits 4 when it fails.
fn map(hint: u64, len: u64, prot: u64, more: u64) -> u64 {
    // SAFETY: a new private anonymous mapping touches no memory the program uses; `hint` is a
    // hint only (no MAP_FIXED), so nothing mapped is replaced.
    let a = unsafe { raw::syscall6(9, [hint, len, prot, 0x02 | 0x20 | more, u64::MAX, 0]) };
    if a < 0 {
        println!("mmap failed: {a}");
        exit(4);
    }
    a as u64
}

/// N one-page areas that do not merge, and a 64 KiB area that grows down; returns the pages'
/// addresses and the growing area's start.
fn many_areas(n: usize) -> (Vec<u64>, u64) {
    let mut pages = Vec::with_capacity(n);
    for i in 0..n {
        let a = map(0, PAGE, 3, 0);
        // SAFETY: `a` is the start of a fresh read-write page of this process.
        unsafe { (a as *mut u64).write_volatile((i as u64 + 7).wrapping_mul(0x2545_f491)) };
        if i % 2 == 1 {
            // SAFETY: mprotect of the page just mapped.
            unsafe { raw::syscall6(10, [a, PAGE, 1, 0, 0, 0]) };
        }
        pages.push(a);
    }
    let grows = map(0, 16 * PAGE, 3, 0x0100);
    (pages, grows)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(mb), Some(passes)) = (
        args.get(1).and_then(|a| a.parse::<usize>().ok()),
        args.get(2).and_then(|a| a.parse::<u64>().ok()),
    ) else {
        eprintln!("usage: omx-burn MB PASSES [threads | sparse:SMB | areas:N]...");
        exit(2);
    };
    let opt = |name: &str| args.iter().skip(3).find_map(|a| a.strip_prefix(name));
    let _helper = (opt("threads") == Some(""))
        .then(|| std::thread::spawn(|| std::thread::sleep(std::time::Duration::from_secs(3600))));
    let sparse_mb = opt("sparse:")
        .and_then(|a| a.parse::<usize>().ok())
        .unwrap_or(0);
    let areas = opt("areas:")
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
    // Mapped last, so that no later mapping lands right below the area that grows down.
    let (pages, grows) = if areas > 0 {
        many_areas(areas)
    } else {
        (Vec::new(), 0)
    };
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
    for &a in &pages {
        // SAFETY: each is a page this process mapped readable in `many_areas`.
        sum = sum.wrapping_add(unsafe { (a as *const u64).read_volatile() });
    }
    if grows != 0 {
        // The area grows down by 64 pages as each is written, from the top down.
        for k in 1..=64u64 {
            let at = grows - k * PAGE;
            // SAFETY: just below the area that grows down (MAP_GROWSDOWN): the kernel extends
            // the area over the address as it is written; nothing else is mapped there.
            unsafe { (at as *mut u64).write_volatile(k) };
            // SAFETY: the page was just written: the area now covers it.
            sum = sum.wrapping_add(unsafe { (at as *const u64).read_volatile() });
        }
    }
    let code = (sum ^ f.to_bits()) as u8 ^ (f as u64 as u8);
    println!(
        "checksum {sum:016x} pid {} ppid {}",
        std::process::id(),
        std::os::unix::process::parent_id()
    );
    exit(i32::from(code));
}
