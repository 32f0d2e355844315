// SPDX-License-Identifier: GPL-2.0

//! `omx-tcp`: plain TCP measurements between two nodes, the reference for migration figures.
//!
//!     omx-tcp sink PORT             accept one connection, read it to the end, print bytes
//!     omx-tcp send HOST PORT MB     send MB MiB, wait for the sink to finish; prints
//!                                   `bytes N ms T`
//!     omx-tcp echo PORT             accept one connection, echo what comes until its end
//!     omx-tcp ping HOST PORT N      N one-byte round trips; prints `rtt_ns MEAN`

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::exit;
use std::time::Instant;

fn usage() -> ! {
    eprintln!("usage: omx-tcp sink PORT | send HOST PORT MB | echo PORT | ping HOST PORT N");
    exit(2)
}

fn accept(port: &str) -> TcpStream {
    let l = TcpListener::bind(("0.0.0.0", port.parse::<u16>().unwrap_or_else(|_| usage())))
        .expect("bind");
    l.accept().expect("accept").0
}

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    match a[..] {
        ["sink", port] => {
            let mut s = accept(port);
            let mut buf = vec![0u8; 1 << 16];
            let mut total = 0u64;
            loop {
                match s.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => total += n as u64,
                    Err(e) => panic!("read: {e}"),
                }
            }
            println!("{total}");
        }
        ["send", host, port, mb] => {
            let mb: usize = mb.parse().unwrap_or_else(|_| usage());
            let mut s = TcpStream::connect((host, port.parse::<u16>().unwrap_or_else(|_| usage())))
                .expect("connect");
            let buf = vec![0u8; 1 << 20];
            let t0 = Instant::now();
            for _ in 0..mb {
                s.write_all(&buf).expect("write");
            }
            s.shutdown(Shutdown::Write).expect("shutdown");
            // The sink closes once it has read everything.
            let _ = s.read(&mut [0u8; 1]);
            println!("bytes {} ms {}", mb << 20, t0.elapsed().as_millis());
        }
        ["echo", port] => {
            let mut s = accept(port);
            s.set_nodelay(true).expect("nodelay");
            let mut b = [0u8; 1];
            while let Ok(1) = s.read(&mut b) {
                s.write_all(&b).expect("write");
            }
        }
        ["ping", host, port, n] => {
            let n: u32 = n.parse().unwrap_or_else(|_| usage());
            let mut s = TcpStream::connect((host, port.parse::<u16>().unwrap_or_else(|_| usage())))
                .expect("connect");
            s.set_nodelay(true).expect("nodelay");
            let mut b = [1u8; 1];
            let t0 = Instant::now();
            for _ in 0..n {
                s.write_all(&b).expect("write");
                s.read_exact(&mut b).expect("read");
            }
            println!("rtt_ns {}", t0.elapsed().as_nanos() / u128::from(n.max(1)));
        }
        _ => usage(),
    }
}
