// SPDX-License-Identifier: GPL-2.0

//! `omx-io SECONDS`: a test program that burns the CPU for about SECONDS (time to be migrated),
//! then works with files in its current directory and writes a transcript to standard output:
//! create and write a file by a relative path, seek and read it back, append with `O_APPEND`,
//! check sizes with `fstat`/`statx`, list the directory, rename and remove files, read
//! standard input to its end. The transcript is the same wherever the process runs, as long as
//! its files, directory and standard streams are the home node's.

mod cpu;

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};

fn main() {
    let secs: f64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1.0);
    // Phase 1: CPU only.
    let x = cpu::burn(secs);
    let out = std::io::stdout();
    let mut out = out.lock();
    let r = run(&mut out);
    if let Err(e) = r {
        writeln!(out, "error: {e}").ok();
        std::process::exit(1);
    }
    writeln!(out, "done {}", x & 1 | 1).ok();
}

fn run(out: &mut impl Write) -> std::io::Result<()> {
    writeln!(out, "cwd {}", std::env::current_dir()?.display())?;
    let mut f = File::create("data.txt")?;
    for i in 0..100 {
        writeln!(f, "line {i}")?;
    }
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    f.write_all(&big)?;
    drop(f);
    let mut f = File::open("data.txt")?;
    f.seek(SeekFrom::Start(5))?;
    let mut b = [0u8; 10];
    f.read_exact(&mut b)?;
    writeln!(out, "at 5: {:?}", String::from_utf8_lossy(&b))?;
    let mut all = Vec::new();
    f.seek(SeekFrom::Start(0))?;
    f.read_to_end(&mut all)?;
    let sum = all
        .iter()
        .fold(0u64, |s, &c| s.wrapping_mul(31).wrapping_add(u64::from(c)));
    writeln!(out, "read {} bytes, hash {sum:x}", all.len())?;
    let mut a = OpenOptions::new().append(true).open("data.txt")?;
    a.write_all(b"appended\n")?;
    writeln!(out, "size after append {}", a.metadata()?.len())?;
    drop(a);
    fs::rename("data.txt", "moved.txt")?;
    fs::write("other.txt", b"x")?;
    let mut names: Vec<String> = fs::read_dir(".")?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()?;
    names.sort();
    writeln!(out, "dir {names:?}")?;
    fs::remove_file("other.txt")?;
    writeln!(out, "other exists {}", fs::metadata("other.txt").is_ok())?;
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input)?;
    writeln!(
        out,
        "stdin {} bytes: {:?}",
        input.len(),
        input.lines().last()
    )?;
    Ok(())
}
