// SPDX-License-Identifier: GPL-2.0

//! `omx-sniff PORT MARKER STOPFILE`: watches what this node sends and receives on the wire (a
//! packet socket, as `tcpdump` would; root only) until STOPFILE exists and what it captured is
//! read, and says how much TCP
//! payload went to or from PORT and in how many of those packets MARKER appears in the clear:
//! `packets N bytes B marker K dropped D` (D: packets the kernel dropped because the capture's
//! buffer, 64 MiB, was full). It prints `ready` once it listens. Exits 0, or 1 with the error.
//!
//! Only IPv4 over Ethernet is looked at (the cluster harness's link). A marker that straddles
//! two packets is not seen: a test repeats it many times in what it wants found.

mod raw;

use std::io::Write;
use std::path::Path;
use std::process::exit;

const SYS_SOCKET: u64 = 41;
const SYS_RECVFROM: u64 = 45;
const SYS_SETSOCKOPT: u64 = 54;
const AF_PACKET: u64 = 17;
const SOCK_RAW: u64 = 3;
const ETH_P_ALL: u16 = 3;
const SOL_SOCKET: u64 = 1;
const SO_RCVBUFFORCE: u64 = 33;
const SOL_PACKET: u64 = 263;
const PACKET_STATISTICS: u64 = 6;
const SYS_GETSOCKOPT: u64 = 55;
const SO_RCVTIMEO: u64 = 20;
const EAGAIN: i64 = 11;
const EINTR: i64 = 4;

fn die(what: &str, e: i64) -> ! {
    eprintln!("omx-sniff: {what}: errno {}", -e);
    exit(1)
}

/// The TCP payload of an Ethernet frame `f` carrying IPv4, and its source and destination
/// ports.
fn tcp_payload(f: &[u8]) -> Option<(u16, u16, &[u8])> {
    if f.get(12..14)? != [0x08, 0x00] {
        return None;
    }
    let ip = f.get(14..)?;
    let ihl = usize::from(*ip.first()? & 0x0f) * 4;
    if *ip.first()? >> 4 != 4 || ihl < 20 || *ip.get(9)? != 6 {
        return None;
    }
    let total = usize::from(u16::from_be_bytes([*ip.get(2)?, *ip.get(3)?]));
    // A packet sent with segmentation offload may say 0: it runs to the end of the frame.
    let end = if total == 0 {
        ip.len()
    } else {
        total.min(ip.len())
    };
    let tcp = ip.get(ihl..end)?;
    let sport = u16::from_be_bytes([*tcp.first()?, *tcp.get(1)?]);
    let dport = u16::from_be_bytes([*tcp.get(2)?, *tcp.get(3)?]);
    let doff = usize::from(*tcp.get(12)? >> 4) * 4;
    Some((sport, dport, tcp.get(doff..)?))
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(port), Some(marker), Some(stop)) = (
        args.get(1).and_then(|a| a.parse::<u16>().ok()),
        args.get(2),
        args.get(3),
    ) else {
        eprintln!("usage: omx-sniff PORT MARKER STOPFILE");
        exit(2);
    };
    let marker = marker.as_bytes();
    // SAFETY: socket() touches no memory of the process.
    let fd = unsafe {
        raw::syscall6(
            SYS_SOCKET,
            [AF_PACKET, SOCK_RAW, u64::from(ETH_P_ALL.to_be()), 0, 0, 0],
        )
    };
    if fd < 0 {
        die("socket", fd);
    }
    let fd = fd as u64;
    // Room for a whole migration's packets: the capture must not miss what it looks for
    // while its reader waits for the CPU (root may exceed `rmem_max`).
    let rcvbuf: i32 = 64 << 20;
    let timeout: [i64; 2] = [0, 200_000];
    for (opt, p, n) in [
        (SO_RCVBUFFORCE, (&raw const rcvbuf).cast::<u8>(), 4u64),
        (SO_RCVTIMEO, (&raw const timeout).cast::<u8>(), 16u64),
    ] {
        // SAFETY: the kernel reads `n` bytes at `p`, the option value we own for the call.
        let r = unsafe { raw::syscall6(SYS_SETSOCKOPT, [fd, SOL_SOCKET, opt, p as u64, n, 0]) };
        if r < 0 {
            die("setsockopt", r);
        }
    }
    println!("ready");
    let _ = std::io::stdout().flush();
    let (mut packets, mut bytes, mut seen) = (0u64, 0u64, 0u64);
    let mut buf = vec![0u8; 1 << 17];
    // Once STOPFILE exists, what the socket still holds is read too (the capture may lag behind
    // the link on a busy node): it ends at the first 200 ms without a packet.
    let mut stopping = false;
    loop {
        stopping = stopping || Path::new(stop).exists();
        // SAFETY: the kernel writes at most `buf.len()` bytes into `buf`, which we own.
        let n = unsafe {
            raw::syscall6(
                SYS_RECVFROM,
                [fd, buf.as_mut_ptr() as u64, buf.len() as u64, 0, 0, 0],
            )
        };
        if n == -EAGAIN && stopping {
            break;
        }
        if n == -EAGAIN || n == -EINTR {
            continue;
        }
        if n < 0 {
            die("recvfrom", n);
        }
        let Some((sport, dport, payload)) = tcp_payload(&buf[..n as usize]) else {
            continue;
        };
        if (sport != port && dport != port) || payload.is_empty() {
            continue;
        }
        packets += 1;
        bytes += payload.len() as u64;
        if contains(payload, marker) {
            seen += 1;
        }
    }
    // struct tpacket_stats: packets, drops (u32 each); reading resets them.
    let mut stats = [0u32; 2];
    let mut len: u32 = 8;
    // SAFETY: the kernel writes at most `len` (8) bytes at `stats` and the length at `len`,
    // both ours for the call.
    let r = unsafe {
        raw::syscall6(
            SYS_GETSOCKOPT,
            [
                fd,
                SOL_PACKET,
                PACKET_STATISTICS,
                stats.as_mut_ptr() as u64,
                (&raw mut len) as u64,
                0,
            ],
        )
    };
    if r < 0 {
        die("getsockopt", r);
    }
    println!(
        "packets {packets} bytes {bytes} marker {seen} dropped {}",
        stats[1]
    );
}
