// SPDX-License-Identifier: GPL-2.0

//! The `/proc/openmosix` tree: the module's user interface (see `Documentation/proc.md`).
//!
//! | path              | mode | content                                                  |
//! | ----------------- | ---- | -------------------------------------------------------- |
//! | `version`         | 0444 | `module RELEASE`, `protocol N`, `kernel RELEASE` lines    |
//! | `config`          | 0644 | the node map in force; a write replaces it whole         |
//! | `stats`           | 0444 | `NAME VALUE` counters of the mesh                         |
//! | `peers`           | 0444 | `ID ADDRESS up|down connected|- map|discovered` lines     |
//! | `migrate`         | 0666 | migrating processes and guests; write `PID NODE` to move  |
//! | `moves`           | 0444 | how the latest moves of this node's processes ended       |
//! | `checkpoint`      | 0666 | write `PID FD [ID [PARENT]]` to save a process, `PID continue|stop|kill` |
//! | `restart`         | 0666 | write `FD OFFSET [CLOSE...]`: become the saved process    |
//! | `revive`          | 0666 | write `PID FD OFFSET [N:POS...]`: restart a lost guest    |
//! | `keep`            | 0666 | write `PID SECONDS`: save a process every SECONDS (0: stop) |
//! | `guest`           | 0600 | the guest stub's interface (only guest stubs may use it)  |
//! | `tag`             | 0666 | tagged processes; write `PID lock|unlock|cpujob|...`      |
//! | `admin/mospe`     | 0644 | this node's ID; write an ID, or 0 for automatic           |
//! | `admin/key`       | 0200 | the cluster key (write only)                              |
//! | `admin/*`         | 0644 | toggles and tunables, see [`Knob`]; balancer knobs        |
//! | `nodes/ID/*`      | 0444 | status, load, speed, mem, rmem, tmem, cpus, util of a node |

use crate::ksys::proc::{ProcDir, ProcFile, ProcOutput};
use crate::ksys::thread::{self, KThread};
use crate::ksys::{cstr_fmt, kernel_release, Disp};
use crate::mesh::Tunables;
use crate::migrate::{After, Chain, MAX_CLOSE};
use crate::node::Node;
use crate::omcore::balance::Tunables as BalanceTunables;
use crate::omcore::map::NodeMap;
use crate::omcore::msg::MAX_SPEED;
use crate::omcore::text::Escaped;
use crate::omcore::version::VersionInfo;
use crate::userlog::user_warn;
use core::fmt::Write;
use kernel::prelude::*;
use kernel::sync::{new_mutex, Arc, Mutex};

/// Creates `/proc/openmosix` with all its files.
fn create(node: &Arc<Node>) -> Result<ProcDir> {
    let mut dir = ProcDir::new(c"openmosix")?;
    dir.create_file(c"version", 0o444, Arc::new(VersionFile, GFP_KERNEL)?)?;
    let c = || OfNode(node.clone());
    dir.create_file(c"config", 0o644, Arc::new(ConfigFile(c()), GFP_KERNEL)?)?;
    dir.create_file(c"stats", 0o444, Arc::new(StatsFile(c()), GFP_KERNEL)?)?;
    dir.create_file(c"peers", 0o444, Arc::new(PeersFile(c()), GFP_KERNEL)?)?;
    dir.create_file(c"migrate", 0o666, Arc::new(MigrateFile(c()), GFP_KERNEL)?)?;
    dir.create_file(c"moves", 0o444, Arc::new(MovesFile(c()), GFP_KERNEL)?)?;
    let ck = Arc::new(CheckpointFile(c()), GFP_KERNEL)?;
    dir.create_file(c"checkpoint", 0o666, ck)?;
    dir.create_file(c"restart", 0o666, Arc::new(RestartFile(c()), GFP_KERNEL)?)?;
    dir.create_file(c"revive", 0o666, Arc::new(ReviveFile(c()), GFP_KERNEL)?)?;
    dir.create_file(c"keep", 0o666, Arc::new(KeepFile(c()), GFP_KERNEL)?)?;
    dir.create_file(c"guest", 0o600, Arc::new(GuestFile(c()), GFP_KERNEL)?)?;
    dir.create_file(c"tag", 0o666, Arc::new(TagFile(c()), GFP_KERNEL)?)?;
    let admin = dir.subdir(c"admin")?;
    for k in BalanceTunables::KNOBS {
        let mut buf = [0u8; 48];
        let name = cstr_fmt(&mut buf, format_args!("{}", k.name));
        admin.create_file(
            name,
            0o644,
            Arc::new(
                BalanceFile {
                    node: node.clone(),
                    name: k.name,
                },
                GFP_KERNEL,
            )?,
        )?;
    }
    for (name, knob) in KNOBS {
        let mode = match knob {
            Knob::Key | Knob::Bring | Knob::Expel => 0o200,
            _ => 0o644,
        };
        admin.create_file(
            name,
            mode,
            Arc::new(
                AdminFile {
                    node: node.clone(),
                    knob: *knob,
                },
                GFP_KERNEL,
            )?,
        )?;
    }
    dir.subdir(c"nodes")?;
    Ok(dir)
}

/// Period of the check for a changed node set (`nodes/` follows it), in ms.
const NODES_SYNC_MS: u32 = 100;

/// What the tree's thread shares with it.
#[pin_data]
struct Shared {
    node: Arc<Node>,
    /// The tree; taken out when it is removed.
    #[pin]
    dir: Mutex<Option<ProcDir>>,
}

/// The `/proc/openmosix` tree, and the `omx-proc` thread that makes `nodes/` follow the set of
/// known nodes. Removed on drop (after the thread stopped).
pub(crate) struct Tree {
    shared: Arc<Shared>,
    thread: Option<KThread>,
}

impl Tree {
    /// Creates `/proc/openmosix` for `node` and starts its thread.
    pub(crate) fn install(node: &Arc<Node>) -> Result<Self> {
        let dir = create(node)?;
        let shared = Arc::pin_init(
            try_pin_init!(Shared {
                node: node.clone(),
                dir <- new_mutex!(Some(dir), "procfs::Shared::dir"),
            }),
            GFP_KERNEL,
        )?;
        let s = shared.clone();
        let thread = KThread::spawn(c"omx-proc", move || {
            while !thread::should_stop() {
                s.sync();
                thread::sleep_ms(NODES_SYNC_MS);
            }
        })?;
        Ok(Self {
            shared,
            thread: Some(thread),
        })
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        drop(self.thread.take());
        let dir = self.shared.dir.lock().take();
        drop(dir);
    }
}

impl Shared {
    /// Makes `nodes/` hold one directory per known node, if the set changed.
    fn sync(&self) {
        if !self.node.mesh.take_nodes_changed() {
            return;
        }
        let ids = self.node.mesh.node_ids();
        let mut guard = self.dir.lock();
        let Some(dir) = &mut *guard else { return };
        if sync_nodes(dir, &self.node, &ids).is_err() {
            // Try again at the next round.
            drop(guard);
            self.node.mesh.mark_nodes_changed();
        }
    }
}

/// Makes `nodes/` hold exactly one directory per ID in `ids`.
fn sync_nodes(dir: &mut ProcDir, node: &Arc<Node>, ids: &[u32]) -> Result {
    // `nodes` is created by `install`; without it there is nothing to do.
    let Some(nodes) = dir.child_mut(c"nodes") else {
        return Ok(());
    };
    let mut stale = KVec::new();
    for name in nodes.subdir_names() {
        let id = core::str::from_utf8(name)
            .ok()
            .and_then(|s| s.parse::<u32>().ok());
        if !id.is_some_and(|id| ids.contains(&id)) {
            let mut n = KVec::new();
            n.extend_from_slice(name, GFP_KERNEL)?;
            n.push(0, GFP_KERNEL)?;
            stale.push(n, GFP_KERNEL)?;
        }
    }
    for n in stale.iter() {
        if let Ok(name) = CStr::from_bytes_with_nul(n) {
            nodes.remove_subdir(name);
        }
    }
    for &id in ids {
        let mut buf = [0u8; 12];
        let name = cstr_fmt(&mut buf, format_args!("{id}"));
        if nodes.has_subdir(name) {
            continue;
        }
        let d = nodes.subdir(name)?;
        for (fname, field) in NODE_FIELDS {
            let f = NodeFile {
                node: node.clone(),
                id,
                field: *field,
            };
            d.create_file(fname, 0o444, Arc::new(f, GFP_KERNEL)?)?;
        }
    }
    Ok(())
}

/// A file whose data is the node.
struct OfNode(Arc<Node>);

/// `/proc/openmosix/version`.
struct VersionFile;

impl ProcFile for VersionFile {
    fn show(&self, out: &mut ProcOutput<'_>) -> Result {
        VersionInfo::this_build(kernel_release())
            .write_to(out)
            .map_err(|_| EINVAL)
    }
}

/// `/proc/openmosix/config`: the node map.
struct ConfigFile(OfNode);

impl ProcFile for ConfigFile {
    const WRITABLE: bool = true;

    fn show(&self, out: &mut ProcOutput<'_>) -> Result {
        self.0 .0.mesh.write_map(out).map_err(|_| EINVAL)
    }

    fn store(&self, input: &[u8]) -> Result {
        let mut map = KBox::new(NodeMap::EMPTY, GFP_KERNEL)?;
        match NodeMap::parse(input) {
            Ok(m) => *map = m,
            Err(e) => {
                pr_warn!("map refused, old map kept: {}\n", Disp(&e));
                return Err(EINVAL);
            }
        }
        let nodes = map.node_count();
        self.0 .0.mesh.set_map(map)?;
        pr_info!("map loaded: {} nodes\n", nodes);
        Ok(())
    }
}

/// `/proc/openmosix/migrate`: write `PID NODE` (or `PID home`) to migrate a process.
struct MigrateFile(OfNode);

impl ProcFile for MigrateFile {
    const WRITABLE: bool = true;

    fn show(&self, out: &mut ProcOutput<'_>) -> Result {
        self.0 .0.mig.show(out).map_err(|_| EINVAL)
    }

    fn store(&self, input: &[u8]) -> Result {
        let text = core::str::from_utf8(input).map_err(|_| EINVAL)?;
        let mut words = text.split_ascii_whitespace();
        let (Some(pid), Some(node), None) = (words.next(), words.next(), words.next()) else {
            user_warn!("migrate: expected 'PID NODE' or 'PID home'\n");
            return Err(EINVAL);
        };
        let pid = parse_pid(pid, "migrate")?;
        let node = if node == "home" {
            0
        } else {
            match node.parse::<u32>() {
                Ok(n) if n > 0 => n,
                _ => {
                    user_warn!("migrate: bad node '{}'\n", Disp(&Escaped(node.as_bytes())));
                    return Err(EINVAL);
                }
            }
        };
        self.0 .0.mig.request(pid, node)
    }
}

/// `/proc/openmosix/checkpoint`: `PID FD` saves process PID to the caller's file FD; `PID
/// continue|stop|kill` releases it once saved (`migrate/checkpoint.rs`).
struct CheckpointFile(OfNode);

impl ProcFile for CheckpointFile {
    const WRITABLE: bool = true;

    fn store(&self, input: &[u8]) -> Result {
        let text = core::str::from_utf8(input).map_err(|_| EINVAL)?;
        let mut words = text.split_ascii_whitespace();
        let (Some(pid), Some(what)) = (words.next(), words.next()) else {
            user_warn!("checkpoint: expected 'PID FD [ID [PARENT]]' or 'PID continue|stop|kill'\n");
            return Err(EINVAL);
        };
        let pid = parse_pid(pid, "checkpoint")?;
        let mig = &self.0 .0.mig;
        // Chain names: non-zero numbers.
        let mut names = [0u64; 2];
        let mut n = 0;
        for w in words {
            match w.parse::<u64>() {
                Ok(v) if v != 0 && n < 2 => names[n] = v,
                _ => {
                    user_warn!(
                        "checkpoint: expected 'PID FD [ID [PARENT]]' with non-zero names, not '{}'\n",
                        Disp(&Escaped(w.as_bytes()))
                    );
                    return Err(EINVAL);
                }
            }
            n += 1;
        }
        let chain = (n > 0).then_some(Chain {
            id: names[0],
            parent: names[1],
        });
        if chain.is_some_and(|c| c.id == c.parent) {
            user_warn!("checkpoint: a save cannot be its own parent\n");
            return Err(EINVAL);
        }
        match what {
            "continue" | "stop" | "kill" if n > 0 => {
                user_warn!("checkpoint: '{}' takes no names\n", what);
                Err(EINVAL)
            }
            "continue" => mig.release_checkpoint(pid, After::Continue),
            "stop" => mig.release_checkpoint(pid, After::Stop),
            "kill" => mig.release_checkpoint(pid, After::Kill),
            fd => match fd.parse::<i32>() {
                Ok(fd) if fd >= 0 => mig.checkpoint(pid, fd, chain),
                _ => {
                    user_warn!(
                        "checkpoint: bad descriptor or action '{}'\n",
                        Disp(&Escaped(fd.as_bytes()))
                    );
                    Err(EINVAL)
                }
            },
        }
    }
}

/// `/proc/openmosix/restart`: `FD OFFSET [CLOSE...]` makes the caller the process saved in its
/// file FD from byte OFFSET (`migrate/checkpoint.rs`).
struct RestartFile(OfNode);

impl ProcFile for RestartFile {
    const WRITABLE: bool = true;

    fn store(&self, input: &[u8]) -> Result {
        let text = core::str::from_utf8(input).map_err(|_| EINVAL)?;
        let mut words = text.split_ascii_whitespace();
        let usage = || {
            user_warn!(
                "restart: expected 'FD OFFSET' and up to {} descriptors to close\n",
                MAX_CLOSE
            );
            EINVAL
        };
        let fd = words.next().and_then(|w| w.parse::<i32>().ok());
        let offset = words.next().and_then(|w| w.parse::<u64>().ok());
        let (Some(fd), Some(offset)) = (fd.filter(|&f| f >= 0), offset) else {
            return Err(usage());
        };
        let mut close = [0u32; MAX_CLOSE];
        let mut n = 0;
        for w in words {
            let f = w.parse::<u32>().map_err(|_| usage())?;
            *close.get_mut(n).ok_or_else(usage)? = f;
            n += 1;
        }
        self.0 .0.mig.restart(fd, offset, &close[..n])
    }
}

/// `/proc/openmosix/revive`: `PID FD OFFSET [N:POS...]` hands the deputy of PID, whose host
/// was lost, the image to restart its process from (`migrate/revive.rs`).
struct ReviveFile(OfNode);

impl ProcFile for ReviveFile {
    const WRITABLE: bool = true;

    fn store(&self, input: &[u8]) -> Result {
        let text = core::str::from_utf8(input).map_err(|_| EINVAL)?;
        self.0 .0.mig.revive_with(text)
    }
}

/// `/proc/openmosix/keep`: `PID SECONDS` saves process PID every SECONDS (0: no longer)
/// (`migrate/keep.rs`).
struct KeepFile(OfNode);

impl ProcFile for KeepFile {
    const WRITABLE: bool = true;

    fn show(&self, out: &mut ProcOutput<'_>) -> Result {
        self.0 .0.mig.keep_show(out).map_err(|_| EINVAL)
    }

    fn store(&self, input: &[u8]) -> Result {
        let text = core::str::from_utf8(input).map_err(|_| EINVAL)?;
        self.0 .0.mig.keep_set(text)
    }
}

/// `/proc/openmosix/moves`: how the latest moves of this node's processes ended
/// (`omcore::moves`).
struct MovesFile(OfNode);

impl ProcFile for MovesFile {
    fn show(&self, out: &mut ProcOutput<'_>) -> Result {
        self.0 .0.mig.show_moves(out).map_err(|_| EINVAL)
    }
}

/// `/proc/openmosix/guest`: the guest stub reads where its vDSO goes, then writes `restore`.
struct GuestFile(OfNode);

impl ProcFile for GuestFile {
    const WRITABLE: bool = true;

    fn show(&self, out: &mut ProcOutput<'_>) -> Result {
        self.0 .0.mig.stub_info(out)
    }

    fn store(&self, input: &[u8]) -> Result {
        if input.trim_ascii() != b"restore" {
            return Err(EINVAL);
        }
        self.0 .0.mig.restore()
    }
}

/// `/proc/openmosix/stats`.
struct StatsFile(OfNode);

impl ProcFile for StatsFile {
    fn show(&self, out: &mut ProcOutput<'_>) -> Result {
        for (name, v) in self.0 .0.mesh.counters.all() {
            writeln!(out, "{name} {v}").map_err(|_| EINVAL)?;
        }
        let decided = self
            .0
             .0
            .bal
            .decided
            .load(core::sync::atomic::Ordering::Relaxed);
        writeln!(out, "balancer_decisions {decided}").map_err(|_| EINVAL)?;
        let paged = self
            .0
             .0
            .mig
            .paged_from_home
            .load(core::sync::atomic::Ordering::Relaxed);
        writeln!(out, "home_paged_bytes {paged}").map_err(|_| EINVAL)?;
        Ok(())
    }
}

/// `/proc/openmosix/tag`: write `PID WORD...` to tag a process (and its descendants) for the
/// balancer; read the tagged processes.
struct TagFile(OfNode);

impl ProcFile for TagFile {
    const WRITABLE: bool = true;

    fn show(&self, out: &mut ProcOutput<'_>) -> Result {
        self.0 .0.bal.show_tags(out).map_err(|_| EINVAL)
    }

    fn store(&self, input: &[u8]) -> Result {
        let text = core::str::from_utf8(input).map_err(|_| EINVAL)?;
        self.0 .0.bal.tag(text)
    }
}

/// A balancer knob under `admin/` (`omcore::balance::Tunables`, same name).
struct BalanceFile {
    node: Arc<Node>,
    name: &'static str,
}

impl ProcFile for BalanceFile {
    const WRITABLE: bool = true;

    fn show(&self, out: &mut ProcOutput<'_>) -> Result {
        let v = self.node.bal.tunables().get(self.name).unwrap_or(0);
        writeln!(out, "{v}").map_err(|_| EINVAL)
    }

    fn store(&self, input: &[u8]) -> Result {
        let v = parse_decimal::<u64>(input, 20, self.name)?;
        self.node.bal.set(self.name, v).map_err(|e| {
            pr_warn!("admin/{}: {}\n", self.name, Disp(&e));
            EINVAL
        })?;
        if self.name == "migrate_root" {
            // Hosts' requests to move a root process on are judged by it too (`on_ctl`).
            self.node
                .mig
                .root_may_leave
                .store(v != 0, core::sync::atomic::Ordering::Relaxed);
        }
        Ok(())
    }
}

/// `/proc/openmosix/peers`.
struct PeersFile(OfNode);

impl ProcFile for PeersFile {
    fn show(&self, out: &mut ProcOutput<'_>) -> Result {
        let mut r = Ok(());
        self.0
             .0
            .mesh
            .for_each_peer(|id, addr, up, connected, discovered| {
                if r.is_ok() {
                    r = writeln!(
                        out,
                        "{id} {addr} {} {} {}",
                        if up { "up" } else { "down" },
                        if connected { "connected" } else { "-" },
                        if discovered { "discovered" } else { "map" }
                    );
                }
            });
        r.map_err(|_| EINVAL)
    }
}

/// What a file under `admin/` controls.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Knob {
    Mospe,
    Key,
    Block,
    Stay,
    Lstay,
    Quiet,
    Encrypt,
    Speed,
    Discovery,
    Heartbeat,
    Timeout,
    Bring,
    Expel,
    PageFiles,
    CkptDir,
}

const KNOBS: &[(&CStr, Knob)] = &[
    (c"mospe", Knob::Mospe),
    (c"key", Knob::Key),
    (c"block", Knob::Block),
    (c"stay", Knob::Stay),
    (c"lstay", Knob::Lstay),
    (c"quiet", Knob::Quiet),
    (c"encrypt", Knob::Encrypt),
    (c"speed", Knob::Speed),
    (c"discovery", Knob::Discovery),
    (c"heartbeat_ms", Knob::Heartbeat),
    (c"timeout_ms", Knob::Timeout),
    (c"bring", Knob::Bring),
    (c"expel", Knob::Expel),
    (c"page_files", Knob::PageFiles),
    (c"ckpt_dir", Knob::CkptDir),
];

/// A file under `admin/`.
struct AdminFile {
    node: Arc<Node>,
    knob: Knob,
}

/// A pid written to file `what`: a positive number, else `EINVAL` and a log line.
fn parse_pid(word: &str, what: &str) -> Result<i32> {
    match word.parse::<i32>() {
        Ok(p) if p > 0 => Ok(p),
        _ => {
            user_warn!("{}: bad pid '{}'\n", what, Disp(&Escaped(word.as_bytes())));
            Err(EINVAL)
        }
    }
}

/// Parses a write as one decimal number (a trailing newline is allowed).
fn parse_number(input: &[u8], what: &str) -> Result<u32> {
    parse_decimal(input, 10, what)
}

/// Parses a write as one decimal number of at most `digits` digits (a trailing newline is
/// allowed) for the `admin/` file `what`.
fn parse_decimal<T: core::str::FromStr>(input: &[u8], digits: usize, what: &str) -> Result<T> {
    let s = core::str::from_utf8(input).map_err(|_| EINVAL)?;
    let s = s.strip_suffix('\n').unwrap_or(s);
    if s.is_empty() || s.len() > digits || !s.bytes().all(|b| b.is_ascii_digit()) {
        pr_warn!("admin/{}: '{}' is not a number\n", what, s);
        return Err(EINVAL);
    }
    s.parse::<T>().map_err(|_| {
        pr_warn!("admin/{}: {} is out of range\n", what, s);
        EINVAL
    })
}

/// Parses a write as `0` or `1`.
fn parse_bool(input: &[u8], what: &str) -> Result<bool> {
    match parse_number(input, what)? {
        0 => Ok(false),
        1 => Ok(true),
        v => {
            pr_warn!("admin/{}: {} must be 0 or 1\n", what, v);
            Err(EINVAL)
        }
    }
}

fn check_range(v: u32, lo: u32, hi: u32, what: &str) -> Result<u32> {
    if (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        pr_warn!("admin/{}: {} is outside {}..={}\n", what, v, lo, hi);
        Err(EINVAL)
    }
}

impl AdminFile {
    fn name(&self) -> &'static str {
        KNOBS
            .iter()
            .find(|(_, k)| *k == self.knob)
            .and_then(|(n, _)| n.to_str().ok())
            .unwrap_or("?")
    }
}

impl ProcFile for AdminFile {
    const WRITABLE: bool = true;
    /// A keyring for the largest cluster (`admin/key`): about 75 bytes a node.
    const MAX_INPUT: usize = 512 * 1024;

    fn show(&self, out: &mut ProcOutput<'_>) -> Result {
        if self.knob == Knob::CkptDir {
            let d = self.node.mig.ckpt_dir.lock();
            // Printable ASCII (`check_dir`).
            let p = core::str::from_utf8(d.get()).unwrap_or("?");
            return writeln!(out, "{p}").map_err(|_| EINVAL);
        }
        let t = self.node.mesh.tunables();
        let v = match self.knob {
            Knob::Mospe => self.node.mesh.self_id(),
            Knob::Block => t.block.into(),
            Knob::Stay => t.stay.into(),
            Knob::Lstay => t.lstay.into(),
            Knob::Quiet => t.quiet.into(),
            Knob::Encrypt => t.encrypt.into(),
            Knob::Speed => t.speed,
            Knob::Discovery => t.discovery.into(),
            Knob::Heartbeat => t.heartbeat_ms,
            Knob::Timeout => t.timeout_ms,
            Knob::PageFiles => self
                .node
                .mig
                .page_files
                .load(core::sync::atomic::Ordering::Relaxed)
                .into(),
            // Write-only files, and the one shown above.
            Knob::Key | Knob::Bring | Knob::Expel | Knob::CkptDir => return Err(EACCES),
        };
        writeln!(out, "{v}").map_err(|_| EINVAL)
    }

    fn store(&self, input: &[u8]) -> Result {
        let what = self.name();
        match self.knob {
            Knob::Key => self.node.mesh.set_key(input),
            Knob::CkptDir => {
                let p = input.strip_suffix(b"\n").unwrap_or(input);
                self.node.mig.ckpt_dir.lock().set(p).map_err(|why| {
                    pr_warn!("admin/ckpt_dir: '{}': {}\n", Disp(&Escaped(p)), why);
                    EINVAL
                })
            }
            Knob::PageFiles => {
                let on = parse_bool(input, what)?;
                self.node
                    .mig
                    .page_files
                    .store(on, core::sync::atomic::Ordering::Relaxed);
                Ok(())
            }
            Knob::Bring | Knob::Expel => {
                if !parse_bool(input, what)? {
                    return Ok(());
                }
                let mig = &self.node.mig;
                if self.knob == Knob::Bring {
                    mig.bring_all()
                } else {
                    mig.expel_all()
                }
            }
            _ => {
                let knob = self.knob;
                let v = parse_number(input, what)?;
                self.node.mesh.update_tunables(|t: &mut Tunables| {
                    match knob {
                        Knob::Mospe => t.mospe = check_range(v, 0, 65535, what)?,
                        Knob::Block => t.block = parse_bool(input, what)?,
                        Knob::Stay => t.stay = parse_bool(input, what)?,
                        Knob::Lstay => t.lstay = parse_bool(input, what)?,
                        Knob::Quiet => t.quiet = parse_bool(input, what)?,
                        Knob::Encrypt => t.encrypt = parse_bool(input, what)?,
                        Knob::Discovery => t.discovery = parse_bool(input, what)?,
                        Knob::Speed => t.speed = check_range(v, 1, MAX_SPEED, what)?,
                        Knob::Heartbeat => {
                            let hb = check_range(v, 100, 10_000, what)?;
                            if t.timeout_ms < 2 * hb {
                                pr_warn!(
                                    "admin/heartbeat_ms: {} needs timeout_ms >= {}\n",
                                    hb,
                                    2 * hb
                                );
                                return Err(EINVAL);
                            }
                            t.heartbeat_ms = hb;
                        }
                        Knob::Timeout => {
                            let to = check_range(v, 500, 600_000, what)?;
                            if to < 2 * t.heartbeat_ms {
                                pr_warn!(
                                    "admin/timeout_ms: {} is under twice heartbeat_ms ({})\n",
                                    to,
                                    t.heartbeat_ms
                                );
                                return Err(EINVAL);
                            }
                            t.timeout_ms = to;
                        }
                        Knob::Key | Knob::Bring | Knob::Expel | Knob::PageFiles | Knob::CkptDir => {
                            return Err(EINVAL)
                        }
                    }
                    Ok(())
                })
            }
        }
    }
}

/// What a file under `nodes/ID/` shows.
#[derive(Clone, Copy)]
enum NodeField {
    Status,
    Load,
    Speed,
    Mem,
    Rmem,
    Tmem,
    Cpus,
    Util,
}

const NODE_FIELDS: &[(&CStr, NodeField)] = &[
    (c"status", NodeField::Status),
    (c"load", NodeField::Load),
    (c"speed", NodeField::Speed),
    (c"mem", NodeField::Mem),
    (c"rmem", NodeField::Rmem),
    (c"tmem", NodeField::Tmem),
    (c"cpus", NodeField::Cpus),
    (c"util", NodeField::Util),
];

/// A file under `nodes/ID/`. Values of a node with no fresh load information read as `-1`.
struct NodeFile {
    node: Arc<Node>,
    id: u32,
    field: NodeField,
}

impl ProcFile for NodeFile {
    fn show(&self, out: &mut ProcOutput<'_>) -> Result {
        let Some(v) = self.node.mesh.node_view(self.id) else {
            return writeln!(out, "0").map_err(|_| EINVAL);
        };
        let r = match (self.field, v.load) {
            (NodeField::Status, _) => writeln!(out, "{}", v.status),
            (_, None) => writeln!(out, "-1"),
            (NodeField::Load, Some(e)) => writeln!(out, "{}", e.load),
            (NodeField::Speed, Some(e)) => writeln!(out, "{}", e.speed),
            (NodeField::Mem, Some(e)) => writeln!(out, "{}", e.mem_kb),
            (NodeField::Rmem, Some(e)) => writeln!(out, "{}", e.rmem_kb),
            (NodeField::Tmem, Some(e)) => writeln!(out, "{}", e.tmem_kb),
            (NodeField::Cpus, Some(e)) => writeln!(out, "{}", e.cpus),
            (NodeField::Util, Some(e)) => writeln!(out, "{}", e.util),
        };
        r.map_err(|_| EINVAL)
    }
}
