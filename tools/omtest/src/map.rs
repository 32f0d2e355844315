// SPDX-License-Identifier: GPL-2.0

//! `omx-map FILE GOFILE`: maps a file and shared memory at a moment the test chooses. It burns
//! the CPU until GOFILE exists (looked for every 50 ms; time to be migrated), then maps FILE
//! privately and read-only and prints its length and a checksum of its bytes read through the
//! mapping, maps a shared anonymous page, writes and reads it back, and prints its home pid.
//! Exit status 0, or 1 when something went wrong. A migrated process comes home to make such
//! mappings: the transcript must be the one of a run that never moved.

mod raw;

use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::Path;

const MMAP: u64 = 9;
const MUNMAP: u64 = 11;
const PROT_READ: u64 = 1;
const PROT_WRITE: u64 = 2;
const MAP_SHARED: u64 = 0x01;
const MAP_PRIVATE: u64 = 0x02;
const MAP_ANONYMOUS: u64 = 0x20;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(file), Some(go)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: omx-map FILE GOFILE");
        std::process::exit(2);
    };
    let mut x = 1u64;
    while !Path::new(go).exists() {
        let t0 = std::time::Instant::now();
        while t0.elapsed().as_millis() < 50 {
            x = std::hint::black_box(
                x.wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407),
            );
        }
    }
    let out = std::io::stdout();
    let mut out = out.lock();
    let mut ok = true;

    let f = match std::fs::File::open(file) {
        Ok(f) => f,
        Err(e) => {
            writeln!(out, "open {file}: {e}").ok();
            std::process::exit(1);
        }
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    // SAFETY: a new private read-only mapping of the file: it replaces nothing (no MAP_FIXED).
    let at = unsafe {
        raw::syscall6(
            MMAP,
            [0, len, PROT_READ, MAP_PRIVATE, f.as_raw_fd() as u64, 0],
        )
    };
    if at < 0 || len == 0 {
        writeln!(out, "file mapping: {at} (length {len})").ok();
        ok = false;
    } else {
        // SAFETY: `at` maps `len` readable bytes of the file until the munmap below.
        let bytes = unsafe { std::slice::from_raw_parts(at as *const u8, len as usize) };
        let sum = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        writeln!(out, "file mapping: {len} bytes, checksum {sum:016x}").ok();
        // SAFETY: unmaps the mapping made above, which `bytes` no longer borrows.
        unsafe { raw::syscall6(MUNMAP, [at as u64, len, 0, 0, 0, 0]) };
    }
    drop(f);

    let flags = MAP_SHARED | MAP_ANONYMOUS;
    let prot = PROT_READ | PROT_WRITE;
    // SAFETY: a new shared anonymous page: it replaces nothing (no MAP_FIXED).
    let at = unsafe { raw::syscall6(MMAP, [0, 4096, prot, flags, u64::MAX, 0]) };
    if at < 0 {
        writeln!(out, "shared mapping: {at}").ok();
        ok = false;
    } else {
        let p = at as *mut u64;
        // SAFETY: `p` points to the 4096 writable bytes of the page mapped above.
        let back = unsafe {
            for i in 0..512 {
                p.add(i).write_volatile(i as u64 * 3 + 1);
            }
            (0..512).all(|i| p.add(i).read_volatile() == i as u64 * 3 + 1)
        };
        writeln!(out, "shared mapping: written and read back {back}").ok();
        ok &= back;
        // SAFETY: unmaps the page mapped above; `p` is not used after.
        unsafe { raw::syscall6(MUNMAP, [at as u64, 4096, 0, 0, 0, 0]) };
    }
    writeln!(
        out,
        "pid {} {}",
        std::process::id(),
        if ok { "ok" } else { "FAILED" }
    )
    .ok();
    out.flush().ok();
    std::process::exit(if ok { 0 } else { 1 });
}
