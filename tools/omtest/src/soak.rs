// SPDX-License-Identifier: GPL-2.0

//! `omx-soak STOPFILE MB`: a process that checks itself while it is moved around. Until
//! STOPFILE exists it runs rounds: each verifies the MB megabytes of memory it wrote in the
//! round before (a pattern of that round's seed), writes the next pattern, advances an FPU
//! state (SSE arithmetic), and every 16 rounds prints `round N ok` (the output goes
//! home) and looks for STOPFILE (the look goes home too). It counts the SIGUSR1 signals it
//! takes. At the end it recomputes the FPU state from scratch and compares it bit for bit, and
//! prints `soak rounds N corrupt C fpu ok|BAD signals S`; it exits 0 only when nothing was
//! corrupt. A corrupt word is reported at once (`corrupt round N word W`).

mod usr1;

fn pattern(seed: u64, i: usize) -> u64 {
    (i as u64 ^ seed)
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .rotate_left(17)
        ^ seed
}

/// One step of the FPU state: the same operations give the same bits, wherever they run.
fn fpu_step(a: f64, round: u64) -> f64 {
    let x = a * 1.000_000_1 + (round % 7) as f64 * 0.5;
    (x.sqrt() + x / 3.0).max(1.0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(stop), Some(mb)) = (
        args.get(1),
        args.get(2).and_then(|a| a.parse::<usize>().ok()),
    ) else {
        eprintln!("usage: omx-soak STOPFILE MB");
        std::process::exit(2)
    };
    usr1::count();
    let words = mb * 1024 * 1024 / 8;
    let mut mem: Vec<u64> = (0..words).map(|i| pattern(0, i)).collect();
    let (mut round, mut corrupt, mut fpu) = (0u64, 0u64, 1.0f64);
    loop {
        for (i, w) in mem.iter_mut().enumerate() {
            if *w != pattern(round, i) {
                corrupt += 1;
                println!("corrupt round {round} word {i}");
            }
            *w = pattern(round + 1, i);
        }
        fpu = fpu_step(fpu, round);
        round += 1;
        if round % 16 == 0 {
            println!("round {round} ok");
            if std::path::Path::new(stop).exists() {
                break;
            }
        }
    }
    let again = (0..round).fold(1.0f64, fpu_step);
    let fpu_ok = again.to_bits() == fpu.to_bits();
    println!(
        "soak rounds {round} corrupt {corrupt} fpu {} signals {}",
        if fpu_ok { "ok" } else { "BAD" },
        usr1::taken()
    );
    std::process::exit(if corrupt == 0 && fpu_ok { 0 } else { 1 });
}
