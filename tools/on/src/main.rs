// SPDX-License-Identifier: GPL-2.0

//! `on`: run a command on another node of an openmosix-rs test cluster.
//!
//! ```text
//! on ID CMD [ARGS...]      run CMD on node ID; print its output; exit with its status
//! on --serve [--port P]    the agent each node runs at boot (scripts/cluster starts it)
//! ```
//!
//! Like `ssh host cmd`, the words of the command are joined with spaces and run by `/bin/sh -c`
//! on the node, with standard input from `/dev/null`. Standard output and error come back as they
//! are produced. The exit status is the command's (128 + N when a signal N killed it); `on` itself
//! exits with 255 when the node cannot be reached or the connection breaks.
//!
//! Node addresses come from `/etc/cluster.hosts` (`ID ADDRESS` lines, written by the harness).
//! This is a test-harness tool: the agent runs commands as root for anyone who reaches its port,
//! and is only ever started on the private bridge of a test cluster.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// TCP port of the agent.
const DEFAULT_PORT: u16 = 7070;
/// Where the harness writes the node table.
const HOSTS_FILE: &str = "/etc/cluster.hosts";
/// How long the client keeps trying to reach a node that is still booting.
const CONNECT_PATIENCE: Duration = Duration::from_secs(30);
/// Longest command line accepted by the agent.
const MAX_REQUEST: usize = 64 * 1024;

/// Response record tags.
const TAG_STDOUT: u8 = 1;
const TAG_STDERR: u8 = 2;
const TAG_EXIT: u8 = 3;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--serve") => {
            let port = match args.get(1).map(String::as_str) {
                None => DEFAULT_PORT,
                Some("--port") => match args.get(2).and_then(|p| p.parse().ok()) {
                    Some(p) => p,
                    None => return usage(),
                },
                Some(_) => return usage(),
            };
            match serve(port) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("on: agent: {e}");
                    ExitCode::from(255)
                }
            }
        }
        Some(id) if args.len() >= 2 => match run_on(id, &args[1..].join(" ")) {
            Ok(status) => ExitCode::from(status),
            Err(e) => {
                eprintln!("on: node {id}: {e}");
                ExitCode::from(255)
            }
        },
        _ => usage(),
    }
}

fn usage() -> ExitCode {
    eprintln!("usage: on ID CMD [ARGS...]\n       on --serve [--port P]");
    ExitCode::from(2)
}

/// Looks node `id` up in the hosts file and returns `ADDRESS:PORT`.
fn node_address(id: &str) -> io::Result<String> {
    let hosts = std::fs::read_to_string(HOSTS_FILE)
        .map_err(|e| io::Error::new(e.kind(), format!("{HOSTS_FILE}: {e}")))?;
    hosts
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            Some((w.next()?, w.next()?))
        })
        .find(|(n, _)| *n == id)
        .map(|(_, addr)| format!("{addr}:{DEFAULT_PORT}"))
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such node in the cluster"))
}

fn connect(addr: &str) -> io::Result<TcpStream> {
    let start = Instant::now();
    loop {
        match TcpStream::connect(addr) {
            Ok(s) => return Ok(s),
            Err(e) if start.elapsed() >= CONNECT_PATIENCE => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("cannot reach {addr}: {e}"),
                ))
            }
            Err(_) => thread::sleep(Duration::from_millis(200)),
        }
    }
}

/// Runs `command` on node `id` and returns its exit status.
fn run_on(id: &str, command: &str) -> io::Result<u8> {
    let mut s = connect(&node_address(id)?)?;
    s.set_nodelay(true)?;
    s.write_all(&(command.len() as u32).to_be_bytes())?;
    s.write_all(command.as_bytes())?;
    let mut out = io::stdout().lock();
    let mut err = io::stderr().lock();
    loop {
        let mut head = [0u8; 5];
        s.read_exact(&mut head).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("connection lost before the command ended: {e}"),
            )
        })?;
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        let mut body = vec![0u8; len];
        s.read_exact(&mut body)?;
        match head[0] {
            TAG_STDOUT => {
                out.write_all(&body)?;
                out.flush()?;
            }
            TAG_STDERR => err.write_all(&body)?,
            TAG_EXIT if len == 1 => return Ok(body[0]),
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "bad record from agent",
                ))
            }
        }
    }
}

fn serve(port: u16) -> io::Result<()> {
    let listener = TcpListener::bind(("0.0.0.0", port))?;
    for conn in listener.incoming() {
        let Ok(conn) = conn else { continue };
        thread::spawn(move || {
            if let Err(e) = serve_one(conn) {
                eprintln!("on: agent: {e}");
            }
        });
    }
    Ok(())
}

fn send(sink: &Mutex<TcpStream>, tag: u8, body: &[u8]) -> io::Result<()> {
    let mut s = sink.lock().unwrap_or_else(|p| p.into_inner());
    let mut rec = Vec::with_capacity(5 + body.len());
    rec.push(tag);
    rec.extend_from_slice(&(body.len() as u32).to_be_bytes());
    rec.extend_from_slice(body);
    s.write_all(&rec)
}

fn pump(mut from: impl Read, sink: &Mutex<TcpStream>, tag: u8) {
    let mut buf = [0u8; 16384];
    while let Ok(n @ 1..) = from.read(&mut buf) {
        if send(sink, tag, &buf[..n]).is_err() {
            break;
        }
    }
}

fn serve_one(mut conn: TcpStream) -> io::Result<()> {
    conn.set_nodelay(true)?;
    let mut len = [0u8; 4];
    conn.read_exact(&mut len)?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_REQUEST {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "request too long",
        ));
    }
    let mut command = vec![0u8; len];
    conn.read_exact(&mut command)?;
    let command = String::from_utf8(command)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "command is not UTF-8"))?;
    let sink = Arc::new(Mutex::new(conn));
    let child = Command::new("/bin/sh")
        .arg("-c")
        .arg(&command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            send(
                &sink,
                TAG_STDERR,
                format!("on: cannot run /bin/sh: {e}\n").as_bytes(),
            )?;
            return send(&sink, TAG_EXIT, &[127]);
        }
    };
    let pumps: Vec<_> = [
        child
            .stdout
            .take()
            .map(|o| (Box::new(o) as Box<dyn Read + Send>, TAG_STDOUT)),
        child
            .stderr
            .take()
            .map(|e| (Box::new(e) as Box<dyn Read + Send>, TAG_STDERR)),
    ]
    .into_iter()
    .flatten()
    .map(|(from, tag)| {
        let sink = Arc::clone(&sink);
        thread::spawn(move || pump(from, &sink, tag))
    })
    .collect();
    for p in pumps {
        let _ = p.join();
    }
    let status = child.wait()?;
    let code = match (
        status.code(),
        std::os::unix::process::ExitStatusExt::signal(&status),
    ) {
        (Some(c), _) => c as u8,
        (None, Some(sig)) => 128u8.wrapping_add(sig as u8),
        (None, None) => 255,
    };
    send(&sink, TAG_EXIT, &[code])
}
