// SPDX-License-Identifier: GPL-2.0

//! `omx-trickle SECONDS FILE`: copies FILE to standard output at an even pace, so that the copy
//! takes about SECONDS. It feeds a program reading a pipe slowly enough for that program to be
//! migrated several times while it still has input to read.

use std::fs::File;
use std::io::{Read, Write};
use std::process::exit;
use std::time::{Duration, Instant};

/// Bytes per write.
const CHUNK: usize = 64 * 1024;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(secs), Some(path)) = (args.get(1).and_then(|a| a.parse::<f64>().ok()), args.get(2))
    else {
        eprintln!("usage: omx-trickle SECONDS FILE");
        exit(2);
    };
    let mut f = File::open(path).unwrap_or_else(|e| {
        eprintln!("omx-trickle: {path}: {e}");
        exit(1);
    });
    let total = f.metadata().map(|m| m.len()).unwrap_or(0).max(1);
    let out = std::io::stdout();
    let mut out = out.lock();
    let mut buf = vec![0u8; CHUNK];
    let mut sent = 0u64;
    let t0 = Instant::now();
    loop {
        let n = match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                eprintln!("omx-trickle: {path}: {e}");
                exit(1);
            }
        };
        if out.write_all(&buf[..n]).and_then(|()| out.flush()).is_err() {
            exit(1);
        }
        sent += n as u64;
        // Where the copy should be by now, in seconds; wait until then.
        let due = Duration::from_secs_f64(secs * sent as f64 / total as f64);
        if let Some(wait) = due.checked_sub(t0.elapsed()) {
            std::thread::sleep(wait);
        }
    }
}
