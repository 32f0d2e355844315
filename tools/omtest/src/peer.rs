// SPDX-License-Identifier: GPL-2.0

//! `omx-peer RING HOST ID ATTACK [N]`: a hostile peer that holds a key. With the keyring RING
//! (a node's own, as a node an attacker has taken over has), it dials node ID at HOST as the
//! ring's node, passes the handshake, and then sends what a well-behaved node never would. When
//! the node closes the connection (as it does on a hostile frame), it connects again and goes
//! on. It prints `ATTACK: sent S, connections C` and exits 0 when it could send everything.
//!
//! Attacks:
//! - `hello`: the handshake alone (the connection is then held for a second);
//! - `seq`: a heartbeat with a sequence number out of order;
//! - `junk N`: N frames of each migration kind (MigResult, GuestExit, GuestSignal, MigCtl,
//!   Syscall) with random payloads of plausible lengths;
//! - `garbage N`: N image frames with a valid prefix and random records;
//! - `begins N`: N images that announce a new process (a valid Begin record) and never go on:
//!   each would make a guest slot and start a stub (the connection is then held for 20 s, so
//!   that the node sees them all while "their home" is up);
//! - `squat N`: as `begins`, but in the name of another home (the node after both the peer and
//!   the target): moves that home never announced, which must start nothing;
//! - `flood N`: N heartbeats as fast as the connection takes them.

use omcore::aead;
use omcore::frame::{FrameHeader, MessageKind, FLAG_SEALED, HEADER_LEN, TAG_LEN};
use omcore::image::{Begin, Kind, RecordHeader};
use omcore::keyring::Ring;
use omcore::mig;
use omcore::msg::{self, LoadEntry, NONCE_LEN};
use omcore::sha256::hmac_sha256;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::exit;
use std::time::Duration;

const PORT: u16 = 7300;

fn die(what: &str) -> ! {
    eprintln!("omx-peer: {what}");
    exit(1)
}

/// A small xorshift generator: the attacks need variety, not secrecy.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// An authenticated connection, from the peer's side.
struct Session {
    sock: TcpStream,
    /// The key of the frames this peer (the initiator) sends.
    key: [u8; 32],
    me: u32,
    id: u32,
    seq: u64,
}

fn header(kind: MessageKind, me: u32, id: u32, seq: u64, len: usize, flags: u16) -> [u8; 32] {
    FrameHeader {
        kind,
        len: len as u32,
        source: me,
        target: id,
        sequence: seq,
        flags,
    }
    .encode()
}

/// A handshake frame, tagged with HMAC-SHA256 under `key`.
fn frame(kind: MessageKind, me: u32, id: u32, seq: u64, payload: &[u8], key: &[u8]) -> Vec<u8> {
    let head = header(kind, me, id, seq, payload.len(), 0);
    let tag = hmac_sha256(key, &[&head, payload]);
    [&head[..], payload, &tag].concat()
}

/// A frame of an authenticated connection, sealed (ChaCha20-Poly1305) under `key`.
fn sealed(
    kind: MessageKind,
    me: u32,
    id: u32,
    seq: u64,
    payload: &[u8],
    key: &[u8; 32],
) -> Vec<u8> {
    let head = header(kind, me, id, seq, payload.len(), FLAG_SEALED);
    let mut body = payload.to_vec();
    let tag = aead::seal(key, &aead::frame_nonce(seq), &head, &mut body);
    [&head[..], &body, &tag].concat()
}

fn read_frame(sock: &mut TcpStream) -> std::io::Result<(FrameHeader, Vec<u8>)> {
    let mut head = [0u8; HEADER_LEN];
    sock.read_exact(&mut head)?;
    let h = FrameHeader::decode(&head)
        .map_err(|_| std::io::Error::other("bad frame header from the node"))?;
    // The handshake's frames only: HMAC tags.
    let mut rest = vec![0u8; h.len as usize + TAG_LEN];
    sock.read_exact(&mut rest)?;
    rest.truncate(h.len as usize);
    Ok((h, rest))
}

impl Session {
    /// Dials node `id` at `host` as node `me` and passes the handshake under `pair`.
    fn open(host: &str, me: u32, id: u32, pair: &[u8; 32], rng: &mut Rng) -> std::io::Result<Self> {
        let mut sock = TcpStream::connect((host, PORT))?;
        sock.set_nodelay(true)?;
        sock.set_read_timeout(Some(Duration::from_secs(30)))?;
        let ni: [u8; NONCE_LEN] = std::array::from_fn(|_| rng.next() as u8);
        let hello = msg::Hello { nonce: ni }.encode();
        sock.write_all(&frame(MessageKind::Hello, me, id, 0, &hello, pair))?;
        let (h, p) = read_frame(&mut sock)?;
        if h.kind != MessageKind::HelloReply {
            return Err(std::io::Error::other("no HelloReply"));
        }
        let reply =
            msg::HelloReply::decode(&p).map_err(|_| std::io::Error::other("bad HelloReply"))?;
        let auth = msg::Auth { echo: reply.nonce }.encode();
        sock.write_all(&frame(MessageKind::Auth, me, id, 0, &auth, pair))?;
        let prk = hmac_sha256(pair, &[&msg::session_key_input(me, id, &ni, &reply.nonce)]);
        let key = hmac_sha256(&prk, &[msg::EXPAND_I2A]);
        // Whatever the node sends from now on is read and dropped, so that it never waits on us.
        let mut drain = sock.try_clone()?;
        std::thread::spawn(move || {
            let mut buf = [0u8; 65536];
            while matches!(drain.read(&mut buf), Ok(n) if n > 0) {}
        });
        Ok(Self {
            sock,
            key,
            me,
            id,
            seq: 0,
        })
    }

    /// Sends a frame of `kind`; `Err` when the node has closed the connection.
    fn send(&mut self, kind: MessageKind, payload: &[u8]) -> std::io::Result<()> {
        self.seq += 1;
        let f = sealed(kind, self.me, self.id, self.seq, payload, &self.key);
        self.sock.write_all(&f)
    }
}

/// The frames of an attack, each a kind and a payload.
fn frames(
    attack: &str,
    n: usize,
    me: u32,
    target: u32,
    rng: &mut Rng,
) -> Vec<(MessageKind, Vec<u8>)> {
    let heartbeat = LoadEntry {
        node: me,
        speed: msg::STD_SPEED,
        cpus: 1,
        status: msg::STATUS_DEF | msg::STATUS_UP,
        tmem_kb: 1024,
        ..LoadEntry::default()
    }
    .encode()
    .to_vec();
    let mut out = Vec::new();
    match attack {
        "hello" | "seq" => {}
        "flood" => out.extend((0..n).map(|_| (MessageKind::Heartbeat, heartbeat.clone()))),
        "junk" => {
            for _ in 0..n {
                out.push((MessageKind::MigResult, rng.bytes(mig::RESULT_LEN)));
                out.push((MessageKind::GuestExit, rng.bytes(mig::EXIT_LEN)));
                out.push((MessageKind::GuestSignal, rng.bytes(mig::PAIR_LEN)));
                out.push((MessageKind::MigCtl, rng.bytes(mig::CTL_LEN)));
                let len = 16 + (rng.next() % 4096) as usize;
                out.push((MessageKind::Syscall, rng.bytes(len)));
            }
        }
        "garbage" => {
            for _ in 0..n {
                let mut p = mig::image_prefix(me, rng.next() as u32 | 1).to_vec();
                let len = (rng.next() % 8192) as usize;
                p.extend(rng.bytes(len));
                out.push((MessageKind::MigImage, p));
            }
        }
        "begins" | "squat" => {
            let home = if attack == "squat" {
                1 + me.max(target)
            } else {
                me
            };
            for _ in 0..n {
                let begin = Begin {
                    xfeatures: 3,
                    xstate_size: 576,
                    home_node: home,
                    home_pid: 1 + (rng.next() % 30000) as u32,
                    comm: *b"omx-peer\0\0\0\0\0\0\0\0",
                    clocks: [rng.next(), rng.next()],
                }
                .encode();
                let rec = RecordHeader {
                    kind: Kind::Begin,
                    len: Begin::LEN as u32,
                };
                let mut p = mig::image_prefix(home, rng.next() as u32 | 1).to_vec();
                p.extend(rec.encode());
                p.extend(begin);
                out.push((MessageKind::MigImage, p));
            }
        }
        _ => die(&format!("no attack called {attack}")),
    }
    out
}

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let (ring, host, id, attack, n) = match a[..] {
        [ring, host, id, attack] => (ring, host, id, attack, 1),
        [ring, host, id, attack, n] => (ring, host, id, attack, n.parse().unwrap_or(0)),
        _ => {
            eprintln!("usage: omx-peer RING HOST ID hello|seq|junk|garbage|begins|squat|flood [N]");
            exit(2)
        }
    };
    let id: u32 = id.parse().unwrap_or_else(|_| die("bad node ID"));
    let text = std::fs::read(ring).unwrap_or_else(|e| die(&format!("{ring}: {e}")));
    let ring = Ring::parse(&text).unwrap_or_else(|e| die(&e.to_string()));
    let me = ring.node;
    let pair = ring
        .pairs()
        .find(|(p, _)| *p == id)
        .map(|(_, k)| k)
        .unwrap_or_else(|| die(&format!("the ring holds no key for node {id}")));
    let mut rng = Rng(0x2545_f491_4f6c_dd1d ^ u64::from(std::process::id()));
    let open = |rng: &mut Rng| {
        Session::open(host, me, id, &pair, rng).unwrap_or_else(|e| die(&format!("handshake: {e}")))
    };
    let mut s = open(&mut rng);
    let mut connections = 1;
    let mut sent = 0;
    match attack {
        "hello" => std::thread::sleep(Duration::from_secs(1)),
        "seq" => {
            s.seq += 4;
            let _ = s.send(MessageKind::Heartbeat, &[0; msg::LOAD_ENTRY_LEN]);
            sent += 1;
            // The node closes the connection: a read sees the end.
            let mut b = [0u8; 1];
            let closed = matches!(s.sock.read(&mut b), Ok(0) | Err(_));
            println!("seq: closed {closed}");
        }
        _ => {
            for (kind, payload) in frames(attack, n, me, id, &mut rng) {
                if s.send(kind, &payload).is_err() {
                    // Closed by the node: again, and the frame once more on the new connection.
                    s = open(&mut rng);
                    connections += 1;
                    let _ = s.send(kind, &payload);
                }
                sent += 1;
            }
        }
    }
    let _ = s.sock.flush();
    if attack == "begins" || attack == "squat" {
        std::thread::sleep(Duration::from_secs(20));
    }
    println!("{attack}: sent {sent}, connections {connections}");
}
