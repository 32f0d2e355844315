// SPDX-License-Identifier: GPL-2.0

//! `mosrun -C SECONDS [-D DIR] PROGRAM`: a program kept by checkpoints. `mosrun` waits for its
//! child and saves it every SECONDS (`ckpt::save`, wherever it runs: a process away is captured
//! on its host) to `DIR/mosrun-PID.N.ckpt` (PID: `mosrun`'s, N counting the saves). The first
//! save is whole; each next one holds only what the child changed since the one before (a chain,
//! `chain.rs`), until [`CHAIN`] saves, when a whole one starts a new chain and the old one's
//! files are removed. When the node the child runs on goes down, the module restarts it in
//! place from its latest save (its deputy: `omx-revive`, `revive.rs`), and `mosrun` goes on
//! with the same child. Only when that failed, and the child ends by `SIGKILL` while it ran on
//! a node that is down now, is it run again here at home from its latest checkpoint
//! (`ckpt::spawn_restart`), as a new process, and kept on; whatever else ends it ends `mosrun`
//! with its status. The files are removed at the end.

use crate::snapshot::{parse_migrate, Process};
use crate::{ckpt, node_field, read_proc, Failure};
use omcore::msg::STATUS_UP;
use std::os::unix::process::ExitStatusExt;
use std::process::Child;
use std::time::{Duration, Instant};

/// Where checkpoints go without a directory given: this node's `admin/ckpt_dir`, or its
/// first value if it cannot be read.
pub(crate) fn default_dir() -> String {
    read_proc("admin/ckpt_dir")
        .ok()
        .map(|s| s.trim_end_matches('\n').to_string())
        .filter(|d| omcore::ckptdir::check_dir(d.as_bytes()).is_ok())
        .unwrap_or_else(|| omcore::ckptdir::DEFAULT_DIR.to_string())
}
/// How often the child is looked at.
const POLL: Duration = Duration::from_millis(100);
/// How long a node whose guest died is given to be counted down (a node is down after
/// `admin/timeout_ms` of silence, at most 600 s).
const DOWN_WAIT: Duration = Duration::from_secs(15);
/// `SIGKILL`.
const SIGKILL: i32 = 9;
/// Saves in a chain: the whole one and the incremental ones after it.
const CHAIN: usize = 8;

/// Makes `dir` (mode 0700 when new) and checks that this user may write there.
pub(crate) fn prepare(dir: &str) -> Result<(), Failure> {
    use std::os::unix::fs::DirBuilderExt;
    let fail = |e: std::io::Error| Failure(format!("{dir}: {e}"), 1);
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(fail)?;
    let probe = format!("{dir}/.mosrun-{}", std::process::id());
    std::fs::write(&probe, b"").map_err(fail)?;
    std::fs::remove_file(&probe).map_err(fail)
}

/// Where this node's process `pid` runs: `Some(Some(node))` away, `Some(None)` at home,
/// `None` while it moves (or `/proc/openmosix/migrate` cannot be read).
fn runs_on(pid: u32) -> Option<Option<u32>> {
    let text = read_proc("migrate").ok()?;
    match parse_migrate(&text).into_iter().find(|p| p.pid() == pid) {
        Some(Process::Away { node, state, .. }) if state == "remote" => Some(Some(node)),
        Some(Process::Away { .. }) => None,
        _ => Some(None),
    }
}

fn node_up(id: u32) -> bool {
    node_field(id, "status").is_ok_and(|s| s & i64::from(STATUS_UP) != 0)
}

/// Whether node `id` is down, or goes down within [`DOWN_WAIT`]: a guest's home process may end
/// as its connection to a lost host breaks, before the node is counted down.
fn went_down(id: u32) -> bool {
    let t0 = Instant::now();
    while node_up(id) {
        if t0.elapsed() > DOWN_WAIT {
            return false;
        }
        std::thread::sleep(POLL);
    }
    true
}

/// Keeps `child` (see the module documentation); returns its exit status.
pub(crate) fn keep(
    mut child: Child,
    every: Duration,
    dir: &str,
    name: &str,
) -> Result<u8, Failure> {
    let mut files = Files::new(dir, format!("mosrun-{}", std::process::id()));
    let mut saved: Option<Instant> = None;
    let mut last = Instant::now();
    let mut away = None;
    let mut warned = false;
    loop {
        let ended = child
            .try_wait()
            .map_err(|e| Failure(format!("mosrun: wait: {e}"), 1))?;
        if let Some(status) = ended {
            let lost = away.filter(|&n| status.signal() == Some(SIGKILL) && went_down(n));
            if let (Some(node), Some(at)) = (lost, saved) {
                let msg = format!(
                    "mosrun: {name}: node {node}, where it ran, went down: run again at home from \
                     its checkpoint of {} s before",
                    at.elapsed().as_secs()
                );
                eprintln!("{msg}");
                // In the node's log too, where the home process's end was logged (root only).
                if let Ok(mut k) = std::fs::OpenOptions::new().write(true).open("/dev/kmsg") {
                    let _ = std::io::Write::write_all(&mut k, format!("<5>{msg}\n").as_bytes());
                }
                child = ckpt::spawn_restart(files.latest(), false)?;
                (away, last) = (None, Instant::now());
                // Another process now: its first save is whole.
                files.whole_next = true;
                continue;
            }
            files.remove(0);
            return Ok(match (status.code(), status.signal()) {
                (Some(c), _) => c as u8,
                (None, Some(s)) => 128u8.saturating_add(s as u8),
                _ => 1,
            });
        }
        // Where it runs, as last seen (a move under way keeps the node it left).
        let pid = child.id();
        if let Some(on) = runs_on(pid) {
            away = on;
        }
        if last.elapsed() >= every {
            last = Instant::now();
            match files.save(pid) {
                Ok(()) => saved = Some(Instant::now()),
                Err(Failure(msg, _)) if !warned => {
                    eprintln!("mosrun: {name}: not saved ({msg}); tried again every period");
                    warned = true;
                }
                Err(_) => {}
            }
        }
        std::thread::sleep(POLL);
    }
}

/// The checkpoint files of one `mosrun` (or one `omx-keep`): the current chain, oldest (whole)
/// first.
pub(crate) struct Files<'a> {
    dir: &'a str,
    /// What the files' names start with.
    prefix: String,
    /// Saves made so far (the next file's number).
    n: u64,
    /// Each save's file and name.
    chain: Vec<(String, u64)>,
    /// The next save must be whole (none yet, a new process, or a chain broken).
    whole_next: bool,
}

impl<'a> Files<'a> {
    /// No saves yet; they go to `DIR/PREFIX.N.ckpt`.
    pub(crate) fn new(dir: &'a str, prefix: String) -> Self {
        Files {
            dir,
            prefix,
            n: 0,
            chain: Vec::new(),
            whole_next: true,
        }
    }

    fn latest(&self) -> &str {
        self.chain.last().map_or("", |(f, _)| f.as_str())
    }

    /// Saves process `pid`: whole, or adding to the latest save.
    pub(crate) fn save(&mut self, pid: u32) -> Result<(), Failure> {
        let file = format!("{}/{}.{}.ckpt", self.dir, self.prefix, self.n);
        self.n += 1;
        let whole = self.whole_next || self.chain.is_empty() || self.chain.len() >= CHAIN;
        let parent = match self.chain.last() {
            Some((f, id)) if !whole => Some(ckpt::Parent {
                id: *id,
                path: std::fs::canonicalize(f).map_err(|e| Failure(format!("{f}: {e}"), 1))?,
            }),
            _ => None,
        };
        match ckpt::save(pid, &file, "continue", false, parent.as_ref()) {
            Ok((id, _)) => {
                if parent.is_none() {
                    // A new chain: the old one is no longer needed.
                    self.remove(0);
                }
                self.chain.push((file, id));
                self.whole_next = false;
                Ok(())
            }
            Err(e) => {
                // The module may have taken the save as the latest: the next starts over.
                self.whole_next = true;
                Err(e)
            }
        }
    }

    /// Removes the files of the chain from save `from` on.
    pub(crate) fn remove(&mut self, from: usize) {
        for (f, _) in self.chain.drain(from..) {
            let _ = std::fs::remove_file(f);
        }
    }
}
