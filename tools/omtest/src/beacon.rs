// SPDX-License-Identifier: GPL-2.0

//! `omx-beacon`: records a discovery beacon off the wire and replays it from elsewhere, as an
//! attacker without the cluster key can.
//!
//!     omx-beacon capture NODE FILE SECONDS
//!         listens on UDP 7301 beside the module (both with SO_REUSEADDR, so both get every
//!         broadcast) until a beacon from node NODE arrives; writes the datagram to FILE.
//!     omx-beacon replay FILE HOST
//!         sends the datagram in FILE to HOST's UDP 7301, from this node's address.

mod raw;

use omcore::frame::{FrameHeader, MessageKind};
use std::net::UdpSocket;
use std::os::fd::FromRawFd;
use std::process::exit;
use std::time::{Duration, Instant};

const PORT: u16 = 7301;
const AF_INET: u64 = 2;
const SOCK_DGRAM: u64 = 2;
const SOCK_CLOEXEC: u64 = 0o2000000;
const SOL_SOCKET: u64 = 1;
const SO_REUSEADDR: u64 = 2;
const NR_SOCKET: u64 = 41;
const NR_BIND: u64 = 49;
const NR_SETSOCKOPT: u64 = 54;

fn usage() -> ! {
    eprintln!("usage: omx-beacon capture NODE FILE SECONDS | replay FILE HOST");
    exit(2)
}

fn die(what: &str) -> ! {
    eprintln!("omx-beacon: {what}");
    exit(1)
}

/// A UDP socket bound to every address's port 7301 with SO_REUSEADDR, as the module's is.
fn shared_listener() -> UdpSocket {
    // SAFETY: socket(2) touches no memory of the process.
    let fd = unsafe { raw::syscall6(NR_SOCKET, [AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0, 0, 0, 0]) };
    if fd < 0 {
        die(&format!("socket: errno {}", -fd));
    }
    let one: i32 = 1;
    // SAFETY: setsockopt(2) reads the 4 bytes of `one`, which lives across the call.
    let r = unsafe {
        raw::syscall6(
            NR_SETSOCKOPT,
            [
                fd as u64,
                SOL_SOCKET,
                SO_REUSEADDR,
                &one as *const i32 as u64,
                4,
                0,
            ],
        )
    };
    if r < 0 {
        die(&format!("SO_REUSEADDR: errno {}", -r));
    }
    // struct sockaddr_in: family, port (big-endian), address 0.0.0.0, 8 bytes of padding.
    let mut sin = [0u8; 16];
    sin[..2].copy_from_slice(&(AF_INET as u16).to_ne_bytes());
    sin[2..4].copy_from_slice(&PORT.to_be_bytes());
    // SAFETY: bind(2) reads the 16 bytes of `sin`, which lives across the call.
    let r = unsafe { raw::syscall6(NR_BIND, [fd as u64, sin.as_ptr() as u64, 16, 0, 0, 0]) };
    if r < 0 {
        die(&format!("bind: errno {}", -r));
    }
    // SAFETY: `fd` is a socket this function opened and hands over whole to the UdpSocket.
    unsafe { UdpSocket::from_raw_fd(fd as i32) }
}

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    match a[..] {
        ["capture", node, file, secs] => {
            let node: u32 = node.parse().unwrap_or_else(|_| usage());
            let secs: u64 = secs.parse().unwrap_or_else(|_| usage());
            let until = Instant::now() + Duration::from_secs(secs);
            let s = shared_listener();
            let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
            let mut buf = [0u8; 2048];
            while Instant::now() < until {
                let Ok((n, _)) = s.recv_from(&mut buf) else {
                    continue;
                };
                let beacon_of = FrameHeader::decode(&buf[..n])
                    .ok()
                    .filter(|h| h.kind == MessageKind::Beacon)
                    .map(|h| h.source);
                if beacon_of == Some(node) {
                    std::fs::write(file, &buf[..n]).unwrap_or_else(|e| die(&e.to_string()));
                    println!("captured a beacon of node {node}: {n} bytes");
                    return;
                }
            }
            die(&format!("no beacon of node {node} in {secs} s"))
        }
        ["replay", file, host] => {
            let f = std::fs::read(file).unwrap_or_else(|e| die(&e.to_string()));
            let s = UdpSocket::bind(("0.0.0.0", 0)).unwrap_or_else(|e| die(&e.to_string()));
            s.send_to(&f, (host, PORT))
                .unwrap_or_else(|e| die(&e.to_string()));
        }
        _ => usage(),
    }
}
