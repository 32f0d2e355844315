// SPDX-License-Identifier: GPL-2.0

//! `omctl`: administer an openmosix-rs node through `/proc/openmosix` (openMosix's `mosctl`,
//! `setpe` and friends in one command). Run `omctl help` for the verbs.
//!
//! Called as `mosctl` (a link to `omctl`) it takes the same verbs; called as `setpe` it takes
//! openMosix's `setpe` options: `-r` prints the map in force, `-w -f FILE` (or `-f FILE`) loads one.
//! Called as `migrate` it takes `[--no-wait] PID NODE|home` (`migrate.rs`), as `mps` it is `omctl ps`, as `mosmon` it is
//! `omctl mon`, as `mosrun`, `nomig`, `runhome`, `runon`, `cpujob` or `iojob` it runs a program
//! with a start node and balancer tags (`mosrun.rs`), and as `omx-guest` it is the guest stub the
//! module starts on a host (`guest.rs`); `omx-revive` and `omx-keep` are helpers the module starts
//! to restart a process lost with its host (`revive.rs`) and to save one periodically
//! (`keeper.rs`).
//!
//! Exit status: 0 on success, 1 when the node refuses, the module is not loaded or (for `isup`)
//! the node is down, 2 on a usage error. `OPENMOSIX_PROC` names another directory than
//! `/proc/openmosix` (for tests).

use omcore::addr::Addr;
use omcore::map::NodeMap;
use omcore::msg::{MAX_SPEED, STATUS_UP};
use omcore::version::{VersionInfo, PROTOCOL_VERSION, RELEASE};
use std::io::Write;
mod chain;
mod ckpt;
mod guest;
mod job;
mod keep;
mod keeper;
mod metrics;
mod migrate;
mod mon;
mod mosrun;
mod raw;
mod revive;
mod snapshot;

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: omctl COMMAND [ARGS]

node and cluster:
  version             the tools' and the loaded module's versions
  nodes               a table of every known node: status, load, speed, CPUs, memory
  status [ID]         this node's (or node ID's) status
  isup ID             print up or down; exit status 0 only when node ID is up
  whois ID|ADDRESS    the address of node ID, or the ID at ADDRESS
  getload [ID]        load of this node or node ID (runnable tasks x100, speed-normalised)
  getspeed [ID]       speed (10000 is a standard node)
  getutil [ID]        CPU utilisation, per mille
  getmem [ID]         memory available / free / total, KiB
  stats               frame and handshake counters of this node
  metrics [--out FILE]
                      this node's figures in the Prometheus text format; with --out, written
                      to FILE.tmp and renamed to FILE (node exporter's textfile collector)
processes:
  migrate [--no-wait] PID NODE
                      move process PID to node NODE (`migrate PID home`: bring it back);
                      waits until the move is done and says how it went
  ps                  migrating processes and guests of this node (pid, node, state)
  mosrun [OPTS] PROG  run PROG with a start node and balancer tags (`omctl mosrun` for options)
  checkpoint PID FILE [--stop|--kill] [--force]
                      save process PID to FILE; it goes on (or stops, or ends)
  restart FILE [--on NODE]
                      run the process saved in FILE again (and move it to NODE); exits
                      with its status (`restart --check FILE`: only check the file)
  tag PID WORD...     tag a process for the balancer: lock, unlock, cpujob, iojob, nodecay
  mon [COUNT]         live monitor of the nodes (load, memory, processes, status) and this
                      node's migrations; keys l m g n switch views, q quits. With COUNT:
                      COUNT text frames, one a second
administration (root):
  setpe [-f FILE]     load the node map (default /etc/openmosix.map); refused whole if wrong
  getpe               this node's ID
  map                 print the map in force
  setpe -r            same as `map`
  setkey [-f FILE]    set the cluster key or this node's keyring (default /etc/openmosix.key)
  keyring -f MASTER ID IDS|-m MAP
                      print node ID's keyring (its own key with each node of IDS, e.g.
                      1-64,70, or of the map), derived from the master secret in MASTER
  setspeed N          set this node's speed (1..10000000)
  block | noblock     refuse / accept guest processes
  stay | nostay       keep local processes home / let them go
  lstay | nolstay     keep local processes home unless moved by hand
  quiet | noquiet     stop / resume sending load information
  discovery on|off    automatic discovery of nodes on the local segment
  bring | expel       bring this node's processes home / send guests home
  help                this text";

/// A failure to report: the message, and the exit status it calls for.
struct Failure(String, u8);

type Res = Result<(), Failure>;

fn usage() -> Failure {
    Failure(USAGE.to_string(), 2)
}

fn proc_root() -> PathBuf {
    std::env::var_os("OPENMOSIX_PROC")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/proc/openmosix"))
}

fn read_proc(name: &str) -> Result<String, Failure> {
    snapshot::read(&proc_root(), name).map_err(|e| Failure(e.0, 1))
}

/// Writes `data` to a /proc file in one `write` call, as the module wants it.
fn write_proc(name: &str, data: &[u8]) -> Res {
    write_proc_io(name, data).map_err(|e| write_failure(name, &e))
}

/// [`write_proc`], the error as the system gave it.
fn write_proc_io(name: &str, data: &[u8]) -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(proc_root().join(name))
        .and_then(|mut f| f.write_all(data))
}

/// What a refused write of /proc file `name` is told as.
fn write_failure(name: &str, e: &std::io::Error) -> Failure {
    let hint = match e.raw_os_error() {
        Some(22) => " (refused: the kernel log says why)",
        Some(11) => " (not now: the kernel log says why)",
        Some(95) => " (not supported by this release)",
        _ => "",
    };
    Failure(
        format!("{}: {e}{hint}", proc_root().join(name).display()),
        1,
    )
}

fn read_number(name: &str) -> Result<i64, Failure> {
    let text = read_proc(name)?;
    text.trim()
        .parse()
        .map_err(|_| Failure(format!("{name}: unexpected content {text:?}"), 1))
}

fn version() -> Res {
    println!("omctl {RELEASE} protocol {PROTOCOL_VERSION}");
    let text = read_proc("version")?;
    let module = VersionInfo::parse(&text)
        .map_err(|e| Failure(format!("{}/version: {e}", proc_root().display()), 1))?;
    println!(
        "module {} protocol {} kernel {}",
        module.release, module.protocol, module.kernel
    );
    if module.protocol != PROTOCOL_VERSION {
        return Err(Failure(
            format!(
                "module speaks protocol {}, these tools speak {PROTOCOL_VERSION}",
                module.protocol
            ),
            1,
        ));
    }
    Ok(())
}

fn this_node() -> Result<u32, Failure> {
    let id = read_number("admin/mospe")?;
    if id <= 0 {
        return Err(Failure(
            "this node has no ID yet (load a map with `omctl setpe`)".into(),
            1,
        ));
    }
    Ok(id as u32)
}

fn node_arg(arg: Option<&str>) -> Result<u32, Failure> {
    match arg {
        None => this_node(),
        Some(s) => s
            .parse::<u32>()
            .ok()
            .filter(|&v| v >= 1)
            .ok_or_else(|| Failure(format!("not a node ID: {s}"), 2)),
    }
}

fn node_field(id: u32, field: &str) -> Result<i64, Failure> {
    let name = format!("nodes/{id}/{field}");
    if !proc_root().join(&name).exists() {
        return Err(Failure(format!("no node {id} in this cluster"), 1));
    }
    read_number(&name)
}

fn status_words(status: i64) -> String {
    snapshot::status_words(u32::try_from(status).ok())
}

/// `(id, address)` of every node this node knows, from the map and the peer list.
fn addresses() -> Result<Vec<(u32, String)>, Failure> {
    let mut out: Vec<(u32, String)> = Vec::new();
    let map = read_proc("config")?;
    if let Ok(m) = NodeMap::parse(map.as_bytes()) {
        for (id, a) in m.nodes() {
            out.push((id, a.to_string()));
        }
    }
    for line in read_proc("peers")?.lines() {
        let mut f = line.split_whitespace();
        if let (Some(id), Some(addr)) = (f.next().and_then(|s| s.parse().ok()), f.next()) {
            if !out.iter().any(|(i, _)| *i == id) {
                out.push((id, addr.to_string()));
            }
        }
    }
    Ok(out)
}

fn node_ids() -> Result<Vec<u32>, Failure> {
    let dir = proc_root().join("nodes");
    let rd = std::fs::read_dir(&dir).map_err(|e| Failure(format!("{}: {e}", dir.display()), 1))?;
    let mut ids: Vec<u32> = rd
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    ids.sort_unstable();
    Ok(ids)
}

fn nodes() -> Res {
    let me = read_number("admin/mospe").unwrap_or(0);
    let addrs = addresses()?;
    println!(
        "{:>5}  {:<16} {:<14} {:>6} {:>6} {:>4} {:>5} {:>9} {:>9}",
        "NODE", "ADDRESS", "STATUS", "LOAD", "SPEED", "CPUS", "UTIL", "MEM(MB)", "TOTAL(MB)"
    );
    for id in node_ids()? {
        let f = |name| node_field(id, name).unwrap_or(-1);
        let num = |v: i64| {
            if v < 0 {
                "-".to_string()
            } else {
                v.to_string()
            }
        };
        let mb = |v: i64| {
            if v < 0 {
                "-".to_string()
            } else {
                (v / 1024).to_string()
            }
        };
        let addr = addrs
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, a)| a.as_str())
            .unwrap_or("-");
        let mut status = status_words(f("status"));
        if i64::from(id) == me {
            status.push_str(",self");
        }
        println!(
            "{:>5}  {:<16} {:<14} {:>6} {:>6} {:>4} {:>5} {:>9} {:>9}",
            id,
            addr,
            status,
            num(f("load")),
            num(f("speed")),
            num(f("cpus")),
            num(f("util")),
            mb(f("mem")),
            mb(f("tmem"))
        );
    }
    Ok(())
}

fn print_field(arg: Option<&str>, field: &str) -> Res {
    let id = node_arg(arg)?;
    println!("{}", node_field(id, field)?);
    Ok(())
}

fn whois(arg: &str) -> Res {
    let addrs = addresses()?;
    if let Ok(id) = arg.parse::<u32>() {
        return match addrs.iter().find(|(i, _)| *i == id) {
            Some((_, a)) => {
                println!("{a}");
                Ok(())
            }
            None => Err(Failure(format!("no node {id} in this cluster"), 1)),
        };
    }
    let want =
        Addr::parse(arg).map_err(|_| Failure(format!("not a node ID or address: {arg}"), 2))?;
    match addrs
        .iter()
        .find(|(_, a)| Addr::parse(a).ok() == Some(want))
    {
        Some((id, _)) => {
            println!("{id}");
            Ok(())
        }
        None => Err(Failure(format!("no node at {arg}"), 1)),
    }
}

/// `-f FILE` or the default file.
fn file_arg(args: &[&str], default: &str) -> Result<PathBuf, Failure> {
    match args {
        [] => Ok(PathBuf::from(default)),
        ["-f", f] => Ok(PathBuf::from(f)),
        _ => Err(usage()),
    }
}

fn read_file(path: &std::path::Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| Failure(format!("{}: {e}", path.display()), 1))
}

fn setpe(args: &[&str]) -> Res {
    if args == ["-r"] {
        print!("{}", read_proc("config")?);
        return Ok(());
    }
    let path = file_arg(args, "/etc/openmosix.map")?;
    let text = read_file(&path)?;
    // Check here first, for a message that names the line; the module checks again.
    NodeMap::parse(&text).map_err(|e| Failure(format!("{}: {e}", path.display()), 1))?;
    write_proc("config", &text)
}

fn setkey(args: &[&str]) -> Res {
    let path = file_arg(args, "/etc/openmosix.key")?;
    write_proc("admin/key", &read_file(&path)?)
}

/// Where `omctl keyring` takes the other nodes from.
enum Peers<'a> {
    /// A list of IDs and ranges: `1-64,70`.
    List(&'a str),
    /// Every node of a map file.
    Map(&'a str),
}

/// The node IDs of a list such as `1-64,70`, ascending, each once.
fn id_list(text: &str) -> Option<Vec<u32>> {
    let mut ids = Vec::new();
    for part in text.split(',') {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let (a, b): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
        if a == 0 || a > b || b > omcore::map::MAX_NODE_ID {
            return None;
        }
        ids.extend(a..=b);
    }
    ids.sort_unstable();
    ids.dedup();
    Some(ids)
}

/// `omctl keyring`: prints node `id`'s keyring, derived from the master secret in `master`.
fn keyring(master: &str, id: &str, peers: Peers<'_>) -> Res {
    let secret = read_file(std::path::Path::new(master))?;
    let secret = secret.strip_suffix(b"\n").unwrap_or(&secret);
    if secret.len() < 16 {
        return Err(Failure(
            format!("{master}: a master secret has at least 16 bytes"),
            1,
        ));
    }
    let id = id_list(id)
        .filter(|v| v.len() == 1)
        .map(|v| v[0])
        .ok_or_else(usage)?;
    let ids = match peers {
        Peers::List(text) => id_list(text).ok_or_else(usage)?,
        Peers::Map(path) => {
            let text = read_file(std::path::Path::new(path))?;
            let map = NodeMap::parse(&text).map_err(|e| Failure(format!("{path}: {e}"), 1))?;
            let mut v: Vec<u32> = map.nodes().map(|(n, _)| n).collect();
            v.sort_unstable();
            v
        }
    };
    let mut out = String::new();
    omcore::keyring::write_ring(&mut out, secret, id, ids)
        .map_err(|_| Failure("cannot write the keyring".into(), 1))?;
    print!("{out}");
    Ok(())
}

fn toggle(name: &str, on: bool) -> Res {
    write_proc(&format!("admin/{name}"), if on { b"1\n" } else { b"0\n" })
}

fn status(arg: Option<&str>) -> Res {
    let id = node_arg(arg)?;
    let s = node_field(id, "status")?;
    println!("node {id}: {} (status {s})", status_words(s));
    Ok(())
}

fn isup(arg: &str) -> Res {
    let id = node_arg(Some(arg))?;
    let s = node_field(id, "status")? as u32;
    if s & STATUS_UP != 0 {
        println!("up");
        Ok(())
    } else {
        println!("down");
        Err(Failure(format!("node {id} is down"), 1))
    }
}

fn getmem(arg: Option<&str>) -> Res {
    let id = node_arg(arg)?;
    println!(
        "available {} free {} total {}",
        node_field(id, "mem")?,
        node_field(id, "rmem")?,
        node_field(id, "tmem")?
    );
    Ok(())
}

fn setspeed(arg: &str) -> Res {
    let v: u32 = arg
        .parse()
        .ok()
        .filter(|v| (1..=MAX_SPEED).contains(v))
        .ok_or_else(|| Failure(format!("speed must be 1..{MAX_SPEED}: {arg}"), 2))?;
    write_proc("admin/speed", format!("{v}\n").as_bytes())
}

fn run(words: &[&str]) -> Res {
    match words {
        ["version"] => version(),
        ["nodes"] => nodes(),
        ["status"] => status(None),
        ["status", id] => status(Some(id)),
        ["isup", id] => isup(id),
        ["whois", x] => whois(x),
        ["getload"] => print_field(None, "load"),
        ["getload", id] => print_field(Some(id), "load"),
        ["getspeed"] => print_field(None, "speed"),
        ["getspeed", id] => print_field(Some(id), "speed"),
        ["getutil"] => print_field(None, "util"),
        ["getutil", id] => print_field(Some(id), "util"),
        ["getmem"] => getmem(None),
        ["getmem", id] => getmem(Some(id)),
        ["stats"] => {
            print!("{}", read_proc("stats")?);
            Ok(())
        }
        ["metrics"] => metrics(None),
        ["metrics", "--out", file] => metrics(Some(file)),
        ["migrate", rest @ ..] => migrate::run(rest),
        ["checkpoint", rest @ ..] => ckpt::checkpoint(rest),
        ["ps"] => {
            print!("{}", read_proc("migrate")?);
            Ok(())
        }
        ["tag", pid, rest @ ..] if !rest.is_empty() => {
            write_proc("tag", format!("{pid} {}\n", rest.join(" ")).as_bytes())
        }
        ["tag"] => {
            print!("{}", read_proc("tag")?);
            Ok(())
        }
        ["mon"] => mon::run(None),
        ["mon", n] => mon::run(Some(n.parse().ok().filter(|&c| c > 0).ok_or_else(usage)?)),
        ["setpe", rest @ ..] => setpe(rest),
        ["getpe"] => {
            println!("{}", this_node()?);
            Ok(())
        }
        ["map"] => setpe(&["-r"]),
        ["setkey", rest @ ..] => setkey(rest),
        ["keyring", "-f", master, id, "-m", map] => keyring(master, id, Peers::Map(map)),
        ["keyring", "-f", master, id, ids] => keyring(master, id, Peers::List(ids)),
        ["setspeed", v] => setspeed(v),
        ["block"] => toggle("block", true),
        ["noblock"] => toggle("block", false),
        ["stay"] => toggle("stay", true),
        ["nostay"] => toggle("stay", false),
        ["lstay"] => toggle("lstay", true),
        ["nolstay"] => toggle("lstay", false),
        ["quiet"] => toggle("quiet", true),
        ["noquiet"] => toggle("quiet", false),
        ["discovery", "on"] => toggle("discovery", true),
        ["discovery", "off"] => toggle("discovery", false),
        ["bring"] => write_proc("admin/bring", b"1\n"),
        ["expel"] => write_proc("admin/expel", b"1\n"),
        ["help"] | ["--help"] | ["-h"] => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(usage()),
    }
}

/// `omctl metrics [--out FILE]`.
fn metrics(out: Option<&str>) -> Res {
    let snap = snapshot::read_snapshot(&proc_root()).map_err(|e| Failure(e.0, 1))?;
    let text = metrics::render(&snap);
    match out {
        None => {
            print!("{text}");
            Ok(())
        }
        Some(file) => metrics::write_atomic(std::path::Path::new(file), &text)
            .map_err(|e| Failure(format!("{file}: {e}"), 1)),
    }
}

/// openMosix's `setpe` command line, as `omctl setpe` arguments.
fn setpe_alias(words: &[&str]) -> Result<Vec<String>, Failure> {
    let rest: Vec<&str> = words.iter().copied().filter(|w| *w != "-w").collect();
    match rest.as_slice() {
        ["-r"] => Ok(vec!["map".into()]),
        ["-f", file] => Ok(vec!["setpe".into(), "-f".into(), (*file).into()]),
        _ => Err(Failure("usage: setpe -r | setpe -w -f FILE".into(), 2)),
    }
}

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().collect();
    let name = args
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("omctl")
        .to_string();
    args.remove(0);
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    if name == "omx-guest" {
        return guest::main();
    }
    if name == "omx-revive" {
        return revive::main(&words);
    }
    if name == "omx-keep" {
        return keeper::main(&words);
    }
    match words.first() {
        Some(&"_restart") => return ckpt::restart_child(&words[1..]),
        Some(&"restart") => {
            return match ckpt::restart(&words[1..]) {
                Ok(code) => ExitCode::from(code),
                Err(Failure(msg, code)) => {
                    eprintln!("{msg}");
                    ExitCode::from(code)
                }
            }
        }
        _ => {}
    }
    const MOSRUN: [&str; 6] = ["mosrun", "nomig", "runhome", "runon", "cpujob", "iojob"];
    let mosrun = if MOSRUN.contains(&name.as_str()) {
        Some((name.as_str(), &args[..]))
    } else if words.first() == Some(&"mosrun") {
        Some(("mosrun", &args[1..]))
    } else {
        None
    };
    if let Some((name, rest)) = mosrun {
        return match mosrun::run(name, rest) {
            Ok(code) => ExitCode::from(code),
            Err(Failure(msg, code)) => {
                eprintln!("{msg}");
                ExitCode::from(code)
            }
        };
    }
    let result = if name == "setpe" {
        setpe_alias(&words).and_then(|v| run(&v.iter().map(String::as_str).collect::<Vec<_>>()))
    } else if name == "mps" {
        run(&["ps"])
    } else if name == "mosmon" {
        run(&[&["mon"], &words[..]].concat())
    } else if name == "migrate" {
        migrate::run(&words)
    } else {
        run(&words)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(msg, code)) => {
            eprintln!("omctl: {msg}");
            ExitCode::from(code)
        }
    }
}
