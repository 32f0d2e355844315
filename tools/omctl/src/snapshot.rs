// SPDX-License-Identifier: GPL-2.0

//! What this node knows of the cluster at one moment, read from `/proc/openmosix`: the figures
//! of every node (`nodes/ID/*`), the peer list, the counters (`stats`), this node's migrating
//! processes and guests (`migrate`) and how its latest moves ended (`moves`).
//!
//! `omctl mon` draws it and `omctl metrics` prints it; both take a [`Snapshot`] and never read a
//! file themselves, so they are tested on snapshots made from sample texts. The parsers here
//! take the text of one file each (`Documentation/proc.md` says what the module writes) and
//! skip a line they do not understand rather than fail: a newer module may add lines.

use omcore::map::NodeMap;
use omcore::moves::Outcome;
use omcore::msg::{STATUS_BLOCK, STATUS_DEF, STATUS_LSTAY, STATUS_QUIET, STATUS_STAY, STATUS_UP};
use std::path::Path;

/// The figures of `nodes/ID/`: `None` where the node has no fresh information (`-1`) or the
/// file could not be read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct NodeFigures {
    /// The node's ID.
    pub(crate) id: u32,
    /// Status bits (`omcore::msg::STATUS_*`).
    pub(crate) status: Option<u32>,
    /// Runnable tasks x 100, normalised to speed 10000.
    pub(crate) load: Option<u64>,
    /// Speed (10000 is a standard node).
    pub(crate) speed: Option<u64>,
    /// Memory available for new work, KiB.
    pub(crate) mem: Option<u64>,
    /// Raw free memory, KiB.
    pub(crate) rmem: Option<u64>,
    /// Total memory, KiB.
    pub(crate) tmem: Option<u64>,
    /// Online CPUs.
    pub(crate) cpus: Option<u64>,
    /// CPU utilisation, per mille of all CPUs.
    pub(crate) util: Option<u64>,
}

impl NodeFigures {
    /// The node is configured and up.
    pub(crate) fn is_up(&self) -> bool {
        self.status
            .is_some_and(|s| s & STATUS_DEF != 0 && s & STATUS_UP != 0)
    }
}

/// One line of `peers`: another node as this node's network layer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Peer {
    /// The node's ID.
    pub(crate) id: u32,
    /// Its address.
    pub(crate) addr: String,
    /// Seen up (an authenticated frame within `timeout_ms`).
    pub(crate) up: bool,
    /// An authenticated connection is open.
    pub(crate) connected: bool,
}

/// What one line of `migrate` says of a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Process {
    /// A process of this node that is migrating, remote, failed or exited: `PID NODE STATE`.
    Away {
        /// Its pid here, at home.
        pid: u32,
        /// The node it runs on or is going to (0 when its move failed).
        node: u32,
        /// `migrating`, `remote`, `failed`, `exited`.
        state: String,
    },
    /// A guest this node hosts: `PID guest-of HOME home-pid HOMEPID`.
    Guest {
        /// Its pid here, on the host.
        pid: u32,
        /// Its home node.
        home: u32,
        /// Its pid at home.
        home_pid: u32,
    },
}

impl Process {
    /// The pid on this node.
    pub(crate) fn pid(&self) -> u32 {
        match self {
            Process::Away { pid, .. } | Process::Guest { pid, .. } => *pid,
        }
    }
}

/// Everything `mon` and `metrics` show.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Snapshot {
    /// This node's ID, 0 while it has none.
    pub(crate) me: u32,
    /// Every known node, by ascending ID.
    pub(crate) nodes: Vec<NodeFigures>,
    /// The other nodes as `peers` lists them.
    pub(crate) peers: Vec<Peer>,
    /// The address of each node of `nodes` that has one in the map in force (`config`).
    pub(crate) map_addrs: Vec<(u32, String)>,
    /// The counters of `stats`, in the file's order.
    pub(crate) stats: Vec<(String, u64)>,
    /// This node's migrating processes and its guests.
    pub(crate) processes: Vec<Process>,
    /// The latest moves of this node's processes, oldest first.
    pub(crate) moves: Vec<Outcome>,
}

impl Snapshot {
    /// Guests hosted here.
    pub(crate) fn guests(&self) -> usize {
        self.processes
            .iter()
            .filter(|p| matches!(p, Process::Guest { .. }))
            .count()
    }

    /// Processes of this node in `state` (`remote`, `migrating`, ...).
    pub(crate) fn away_in(&self, state: &str) -> usize {
        self.processes
            .iter()
            .filter(|p| matches!(p, Process::Away { state: s, .. } if s == state))
            .count()
    }

    /// Processes related to node `id` as this node sees them: for this node, the guests it
    /// hosts; for another, this node's processes running or going there.
    pub(crate) fn processes_on(&self, id: u32) -> usize {
        if id == self.me {
            return self.guests();
        }
        self.processes
            .iter()
            .filter(|p| {
                matches!(p, Process::Away { node, state, .. }
                    if *node == id && (state == "remote" || state == "migrating"))
            })
            .count()
    }

    /// The address of node `id`: the peer list's, else the map's.
    pub(crate) fn address(&self, id: u32) -> Option<&str> {
        let peer = self
            .peers
            .iter()
            .find(|p| p.id == id)
            .map(|p| p.addr.as_str());
        peer.or_else(|| {
            let m = self.map_addrs.iter().find(|(i, _)| *i == id);
            m.map(|(_, a)| a.as_str())
        })
    }
}

/// The address the map text `config` gives each of `ids` (a map that does not parse gives
/// none).
pub(crate) fn map_addresses(config: &str, ids: &[u32]) -> Vec<(u32, String)> {
    let Ok(map) = NodeMap::parse(config.as_bytes()) else {
        return Vec::new();
    };
    ids.iter()
        .filter_map(|&id| Some((id, map.addr_of(id)?.to_string())))
        .collect()
}

/// A figure of `nodes/ID/`: a number, `None` for `-1` (unknown) or anything else.
pub(crate) fn parse_figure(text: &str) -> Option<u64> {
    text.trim().parse::<u64>().ok()
}

/// A node's status as words: `up`, `down` or `unknown`, then `stay`, `lstay`, `block`, `quiet`.
pub(crate) fn status_words(status: Option<u32>) -> String {
    let Some(s) = status.filter(|s| s & STATUS_DEF != 0) else {
        return "unknown".into();
    };
    let mut words = vec![if s & STATUS_UP != 0 { "up" } else { "down" }];
    for (bit, word) in [
        (STATUS_STAY, "stay"),
        (STATUS_LSTAY, "lstay"),
        (STATUS_BLOCK, "block"),
        (STATUS_QUIET, "quiet"),
    ] {
        if s & bit != 0 {
            words.push(word);
        }
    }
    words.join(",")
}

/// The lines of `peers`.
pub(crate) fn parse_peers(text: &str) -> Vec<Peer> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            match f.as_slice() {
                [id, addr, up, conn, ..] => Some(Peer {
                    id: id.parse().ok()?,
                    addr: (*addr).to_string(),
                    up: *up == "up",
                    connected: *conn == "connected",
                }),
                _ => None,
            }
        })
        .collect()
}

/// The `NAME VALUE` lines of `stats`.
pub(crate) fn parse_stats(text: &str) -> Vec<(String, u64)> {
    text.lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            let (name, value) = (f.next()?, f.next()?.parse().ok()?);
            (f.next().is_none() && !name.starts_with('#')).then(|| (name.to_string(), value))
        })
        .collect()
}

/// The lines of `migrate` (the `#` header is skipped).
pub(crate) fn parse_migrate(text: &str) -> Vec<Process> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            match f.as_slice() {
                [pid, "guest-of", home, "home-pid", home_pid] => Some(Process::Guest {
                    pid: pid.parse().ok()?,
                    home: home.parse().ok()?,
                    home_pid: home_pid.parse().ok()?,
                }),
                [pid, node, state] => Some(Process::Away {
                    pid: pid.parse().ok()?,
                    node: node.parse().ok()?,
                    state: (*state).to_string(),
                }),
                _ => None,
            }
        })
        .collect()
}

/// The outcomes of `moves`, in the file's order (oldest first).
pub(crate) fn parse_moves(text: &str) -> Vec<Outcome> {
    text.lines().filter_map(Outcome::parse).collect()
}

/// Why a snapshot could not be taken.
#[derive(Debug)]
pub(crate) struct ReadError(pub(crate) String);

/// The text of file `name` of the tree at `root`, or a message that names the file.
pub(crate) fn read(root: &Path, name: &str) -> Result<String, ReadError> {
    let path = root.join(name);
    std::fs::read_to_string(&path).map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::NotFound {
            " (is the openmosix module loaded?)"
        } else {
            ""
        };
        ReadError(format!("{}: {e}{hint}", path.display()))
    })
}

/// Reads `nodes/ID/*` of one node; a file that cannot be read counts as unknown (the node may
/// have just left the map).
fn read_node(root: &Path, id: u32) -> NodeFigures {
    let dir = root.join("nodes").join(id.to_string());
    let f = |name: &str| {
        std::fs::read_to_string(dir.join(name))
            .ok()
            .and_then(|t| parse_figure(&t))
    };
    NodeFigures {
        id,
        status: f("status").and_then(|s| u32::try_from(s).ok()),
        load: f("load"),
        speed: f("speed"),
        mem: f("mem"),
        rmem: f("rmem"),
        tmem: f("tmem"),
        cpus: f("cpus"),
        util: f("util"),
    }
}

/// Reads a snapshot from the tree at `root` (`/proc/openmosix`). A missing tree or one of its
/// main files is an error; a node that vanishes while it is read is left out or unknown.
pub(crate) fn read_snapshot(root: &Path) -> Result<Snapshot, ReadError> {
    let me = parse_figure(&read(root, "admin/mospe")?)
        .and_then(|v| u32::try_from(v).ok())
        .unwrap_or(0);
    let dir = root.join("nodes");
    let mut ids: Vec<u32> = std::fs::read_dir(&dir)
        .map_err(|e| ReadError(format!("{}: {e}", dir.display())))?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    ids.sort_unstable();
    Ok(Snapshot {
        me,
        map_addrs: map_addresses(&read(root, "config")?, &ids),
        nodes: ids.into_iter().map(|id| read_node(root, id)).collect(),
        peers: parse_peers(&read(root, "peers")?),
        stats: parse_stats(&read(root, "stats")?),
        processes: parse_migrate(&read(root, "migrate")?),
        moves: parse_moves(&read(root, "moves")?),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A snapshot of a 3-node cluster seen from node 1: node 3 is down, one process of node 1
    /// runs on node 2 and one is on its way to node 3, one guest of node 2 runs here.
    pub(crate) fn sample() -> Snapshot {
        let node = |id, status, load, mem| NodeFigures {
            id,
            status: Some(status),
            load,
            speed: load.map(|_| 10000),
            mem,
            rmem: mem,
            tmem: mem.map(|_| 500_000),
            cpus: load.map(|_| 1),
            util: load.map(|l| l * 5),
        };
        Snapshot {
            me: 1,
            nodes: vec![
                node(1, 3, Some(150), Some(400_000)),
                node(2, 3 | 16, Some(40), Some(100_000)),
                node(3, 1, None, None),
            ],
            peers: parse_peers("2 198.18.0.2 up connected map\n3 198.18.0.3 down - map\n"),
            map_addrs: map_addresses("1 198.18.0.1 3\n", &[1, 2, 3]),
            stats: parse_stats("frames_sent 10\nbytes_sent 2000\nhandshakes_ok 2\n"),
            processes: parse_migrate(
                "# pid where state\n101 2 remote\n102 3 migrating\n200 guest-of 2 home-pid 77\n",
            ),
            moves: parse_moves(&format!(
                "{}\n1 101 1 2 0 1234 56 300\n2 103 1 3 113 - - 301\n",
                omcore::moves::HEADER
            )),
        }
    }

    #[test]
    fn words() {
        assert_eq!(status_words(None), "unknown");
        assert_eq!(status_words(Some(0)), "unknown");
        assert_eq!(status_words(Some(1)), "down");
        assert_eq!(status_words(Some(3 | 4 | 32)), "up,stay,quiet");
    }

    #[test]
    fn figures() {
        assert_eq!(parse_figure("42\n"), Some(42));
        assert_eq!(parse_figure("-1\n"), None);
        assert_eq!(parse_figure("x"), None);
        assert_eq!(parse_figure(""), None);
    }

    #[test]
    fn peers_stats_migrate_moves() {
        let s = sample();
        assert_eq!(s.peers.len(), 2);
        assert!(s.peers[0].up && s.peers[0].connected && s.peers[0].addr == "198.18.0.2");
        assert!(!s.peers[1].up && !s.peers[1].connected);
        assert_eq!(s.stats[1], ("bytes_sent".to_string(), 2000));
        assert_eq!(s.processes.len(), 3);
        assert_eq!(s.guests(), 1);
        assert_eq!(s.away_in("remote"), 1);
        assert_eq!(s.processes_on(1), 1);
        assert_eq!(s.processes_on(2), 1);
        assert_eq!(s.processes_on(3), 1);
        assert_eq!(s.processes[2].pid(), 200);
        assert_eq!(s.map_addrs.len(), 3);
        assert_eq!(s.address(1), Some("198.18.0.1"));
        assert_eq!(s.address(3), Some("198.18.0.3"));
        assert_eq!(s.address(4), None);
        assert!(map_addresses("not a map", &[1]).is_empty());
        assert_eq!(s.moves.len(), 2);
        assert_eq!(s.moves[1].error, 113);
        assert!(s.nodes[0].is_up() && !s.nodes[2].is_up());
        // Lines of another shape are skipped, not fatal.
        assert!(parse_migrate("garbage\n1 2\n").is_empty());
        assert!(parse_stats("a b\nc 1 2\n# x 1\n").is_empty());
        assert!(parse_peers("x 1.2.3.4 up connected\n").is_empty());
    }

    #[test]
    fn reads_a_tree() {
        let root = std::env::temp_dir().join(format!("omctl-snap-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for (name, text) in [
            ("admin/mospe", "2\n"),
            ("config", "1 10.0.0.1 2\n"),
            ("nodes/1/status", "1\n"),
            ("nodes/1/load", "-1\n"),
            ("nodes/2/status", "3\n"),
            ("nodes/2/load", "120\n"),
            ("nodes/10/status", "3\n"),
            ("peers", "1 198.18.0.1 down - map\n"),
            ("stats", "frames_sent 5\n"),
            ("migrate", "# pid where state\n"),
            ("moves", "# seq pid from to error kib frozen_ms asked_by\n"),
        ] {
            let p = root.join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        let s = read_snapshot(&root).unwrap();
        assert_eq!(s.me, 2);
        let ids: Vec<u32> = s.nodes.iter().map(|n| n.id).collect();
        assert_eq!(ids, [1, 2, 10]);
        assert_eq!(s.nodes[0].load, None);
        assert_eq!(s.nodes[1].load, Some(120));
        assert_eq!(s.nodes[1].mem, None);
        assert_eq!(s.address(2), Some("10.0.0.2"));
        assert_eq!(s.address(10), None);
        std::fs::remove_dir_all(&root).unwrap();
        let e = read_snapshot(&root).unwrap_err();
        assert!(e.0.contains("module loaded"), "{}", e.0);
    }
}
