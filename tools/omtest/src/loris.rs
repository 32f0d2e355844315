// SPDX-License-Identifier: GPL-2.0

//! `omx-loris`: a client without the cluster key that connects to a node's mesh port, sends a
//! frame header and then the rest of the frame one byte a second, the way a slow or hostile
//! client holds a server's attention.
//!
//!     omx-loris probe HOST KIND LEN SECONDS
//!         one connection: a frame header of wire kind KIND with payload length LEN, then the
//!         payload and a tag of zeros a byte a second, until the node closes the connection,
//!         the frame is all sent, or SECONDS pass. Prints `closed after B of T bytes` (exit 0),
//!         `sent all T bytes` or `still open after SECONDS s` (exit 1).
//!     omx-loris hold HOST CONNS SECONDS KIND LEN
//!         keeps CONNS such connections open to HOST for SECONDS, opening a new one a second
//!         after the node closes one. Prints `opened N, closed by the node M`.
//!
//! The node's mesh port is 7300.

use omcore::frame::{FrameHeader, MessageKind, HEADER_LEN, TAG_LEN};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::exit;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const PORT: u16 = 7300;
/// The pause between two bytes, during which the node's close is looked for.
const PACE: Duration = Duration::from_secs(1);

fn usage() -> ! {
    eprintln!("usage: omx-loris probe HOST KIND LEN SECONDS | hold HOST CONNS SECONDS KIND LEN");
    exit(2)
}

fn num<T: std::str::FromStr>(s: &str) -> T {
    s.parse().unwrap_or_else(|_| usage())
}

/// A frame of wire kind `kind` and payload length `len`, payload and tag all zero, from node
/// 1 to node 2 (the IDs do not matter: the node may look at nothing before the tag).
fn frame(kind: u16, len: u32) -> Vec<u8> {
    let kind = MessageKind::from_wire(kind).unwrap_or_else(|| usage());
    let head = FrameHeader {
        kind,
        len,
        source: 1,
        target: 2,
        sequence: 0,
        flags: 0,
    }
    .encode();
    let mut f = head.to_vec();
    // Only what a dribble can send in a day: the rest would never go out anyway.
    let body = (len as usize + TAG_LEN).min(86_400);
    f.resize(HEADER_LEN + body, 0);
    f
}

enum End {
    /// The node closed the connection after this many bytes, before the last.
    Closed(usize),
    /// Every byte went out (the node may have closed the connection after the last).
    Sent,
    /// The time ran out first.
    Open,
}

/// Sends `f` a byte per [`PACE`] on a new connection to `host` until the node closes it,
/// everything is sent or `until` passes.
fn dribble(host: &str, f: &[u8], until: Instant) -> std::io::Result<End> {
    let mut s = TcpStream::connect((host, PORT))?;
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(PACE))?;
    let mut junk = [0u8; 64];
    // The header goes at once, the rest a byte at a time.
    s.write_all(&f[..HEADER_LEN])?;
    for i in HEADER_LEN..f.len() {
        if Instant::now() >= until {
            return Ok(End::Open);
        }
        if s.write_all(&f[i..=i]).is_err() {
            return Ok(End::Closed(i));
        }
        if i + 1 == f.len() {
            break;
        }
        // Waiting for an answer paces the bytes: a close (or anything the node sends, which
        // it never should before the whole Hello) ends the wait at once.
        match s.read(&mut junk) {
            Ok(0) => return Ok(End::Closed(i + 1)),
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return Ok(End::Closed(i + 1)),
        }
    }
    Ok(End::Sent)
}

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    match a[..] {
        ["probe", host, kind, len, secs] => {
            let f = frame(num(kind), num(len));
            let until = Instant::now() + Duration::from_secs(num(secs));
            match dribble(host, &f, until) {
                Ok(End::Closed(n)) => println!("closed after {n} of {} bytes", f.len()),
                Ok(End::Sent) => {
                    println!("sent all {} bytes", f.len());
                    exit(1)
                }
                Ok(End::Open) => {
                    println!("still open after {secs} s");
                    exit(1)
                }
                Err(e) => {
                    eprintln!("omx-loris: {host}: {e}");
                    exit(1)
                }
            }
        }
        ["hold", host, conns, secs, kind, len] => {
            let f = Arc::new(frame(num(kind), num(len)));
            let until = Instant::now() + Duration::from_secs(num(secs));
            let (opened, closed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
            let workers: Vec<_> = (0..num::<usize>(conns))
                .map(|_| {
                    let (host, f) = (host.to_string(), f.clone());
                    let (opened, closed) = (opened.clone(), closed.clone());
                    thread::spawn(move || {
                        while Instant::now() < until {
                            opened.fetch_add(1, Relaxed);
                            if let Ok(End::Closed(_)) | Err(_) = dribble(&host, &f, until) {
                                closed.fetch_add(1, Relaxed);
                                thread::sleep(PACE);
                            }
                        }
                    })
                })
                .collect();
            for w in workers {
                let _ = w.join();
            }
            println!(
                "opened {}, closed by the node {}",
                opened.load(Relaxed),
                closed.load(Relaxed)
            );
        }
        _ => usage(),
    }
}
