// SPDX-License-Identifier: GPL-2.0

//! `omctl metrics [--out FILE]`: this node's figures in the Prometheus text exposition format
//! (version 0.0.4), for the node exporter's textfile collector or any scraper that reads a file.
//!
//! Every known node's figures as this node knows them, labelled `node="ID"` (a figure the node
//! has no fresh information for, `-1` in `/proc`, is left out rather than given a false value);
//! this node's counters (`stats`); its guests and processes away (`migrate`); its moves
//! (`moves`). With `--out FILE` the text is written to `FILE.tmp` and renamed to FILE, so the
//! collector never reads half a file:
//!
//! ```sh
//! omctl metrics --out /var/lib/prometheus/node-exporter/openmosix.prom
//! ```

use crate::snapshot::{NodeFigures, Snapshot};
use std::fmt::Write;
use std::path::Path;

/// What the counters of `stats` count (`Documentation/proc.md`); a counter not listed here
/// (from a newer module) is still exported, with a plain help text.
const STAT_HELP: &[(&str, &str)] = &[
    ("frames_sent", "Frames queued for peers."),
    ("bytes_sent", "Bytes of the frames queued for peers."),
    ("frames_received", "Authenticated frames received."),
    (
        "bytes_received",
        "Bytes of the authenticated frames received.",
    ),
    ("frames_rejected", "Frames and handshakes refused."),
    (
        "frames_dropped",
        "Frames not queued because a peer's send queue was full or closed.",
    ),
    (
        "handshakes_ok",
        "Connection handshakes that succeeded, both sides.",
    ),
    (
        "handshakes_failed",
        "Connection handshakes that failed, both sides.",
    ),
    (
        "handshakes_refused",
        "Connections closed unheard (too many handshakes under way).",
    ),
    ("beacons_sent", "Discovery beacons sent."),
    ("beacons_received", "Discovery beacons received."),
    ("beacons_rejected", "Discovery beacons refused."),
    ("balancer_decisions", "Moves the balancer decided."),
    (
        "home_paged_bytes",
        "Bytes of files read at home for migrated processes' areas paged from home.",
    ),
];

/// The text being written: families with their `# HELP` and `# TYPE` lines, then samples.
struct Exposition(String);

impl Exposition {
    /// Starts family `name` (without the `openmosix_` prefix).
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP openmosix_{name} {help}");
        let _ = writeln!(self.0, "# TYPE openmosix_{name} {kind}");
    }

    /// A sample of family `name`, with label text such as `node="2"` (or none).
    fn sample(&mut self, name: &str, labels: &str, value: impl std::fmt::Display) {
        if labels.is_empty() {
            let _ = writeln!(self.0, "openmosix_{name} {value}");
        } else {
            let _ = writeln!(self.0, "openmosix_{name}{{{labels}}} {value}");
        }
    }

    /// A family of one gauge per node, from the figure `f` gives (a node without it has no
    /// sample).
    fn per_node(
        &mut self,
        nodes: &[NodeFigures],
        name: &str,
        help: &str,
        f: impl Fn(&NodeFigures) -> Option<f64>,
    ) {
        self.family(name, "gauge", help);
        for n in nodes {
            if let Some(v) = f(n) {
                self.sample(name, &format!("node=\"{}\"", n.id), v);
            }
        }
    }
}

/// A metric name made of a `stats` counter's name: anything but `[a-zA-Z0-9_]` becomes `_`.
fn metric_name(stat: &str) -> String {
    stat.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// The exposition text of a snapshot.
pub(crate) fn render(s: &Snapshot) -> String {
    let mut e = Exposition(String::new());
    let kib = |v: Option<u64>| v.map(|k| (k * 1024) as f64);
    e.family(
        "self_node_id",
        "gauge",
        "This node's ID (0 while it has none).",
    );
    e.sample("self_node_id", "", s.me);
    e.per_node(
        &s.nodes,
        "node_up",
        "1 when the node is up as this node sees it, else 0.",
        |n| Some(if n.is_up() { 1.0 } else { 0.0 }),
    );
    e.per_node(
        &s.nodes,
        "node_status",
        "The node's status bits (1 configured, 2 up, 4 stay, 8 lstay, 16 block, 32 quiet).",
        |n| n.status.map(f64::from),
    );
    e.per_node(
        &s.nodes,
        "node_load",
        "Smoothed runnable tasks normalised to a standard node (1 is one busy process).",
        |n| n.load.map(|l| l as f64 / 100.0),
    );
    e.per_node(
        &s.nodes,
        "node_speed",
        "The node's speed (10000 is a standard node).",
        |n| n.speed.map(|v| v as f64),
    );
    e.per_node(&s.nodes, "node_cpus", "The node's online CPUs.", |n| {
        n.cpus.map(|v| v as f64)
    });
    e.per_node(
        &s.nodes,
        "node_cpu_utilisation_ratio",
        "CPU utilisation over the last second, of all the node's CPUs (0 to 1).",
        |n| n.util.map(|u| u as f64 / 1000.0),
    );
    e.per_node(
        &s.nodes,
        "node_memory_available_bytes",
        "Memory available for new work (free and buffers).",
        |n| kib(n.mem),
    );
    e.per_node(
        &s.nodes,
        "node_memory_free_bytes",
        "Raw free memory.",
        |n| kib(n.rmem),
    );
    e.per_node(&s.nodes, "node_memory_total_bytes", "Total memory.", |n| {
        kib(n.tmem)
    });
    e.family(
        "peer_connected",
        "gauge",
        "1 when an authenticated connection to the node is open, else 0.",
    );
    for p in &s.peers {
        e.sample(
            "peer_connected",
            &format!("node=\"{}\"", p.id),
            u8::from(p.connected),
        );
    }
    for (stat, value) in &s.stats {
        let name = format!("{}_total", metric_name(stat));
        let help = STAT_HELP
            .iter()
            .find(|(n, _)| n == stat)
            .map(|(_, h)| (*h).to_string())
            .unwrap_or_else(|| format!("The counter {stat} of /proc/openmosix/stats."));
        e.family(&name, "counter", &help);
        e.sample(&name, "", value);
    }
    e.family("guests", "gauge", "Guest processes this node hosts.");
    e.sample("guests", "", s.guests());
    e.family(
        "processes_away",
        "gauge",
        "Processes of this node running on another node.",
    );
    e.sample("processes_away", "", s.away_in("remote"));
    e.family(
        "processes_migrating",
        "gauge",
        "Processes of this node on their way to another node.",
    );
    e.sample("processes_migrating", "", s.away_in("migrating"));
    e.family(
        "moves_total",
        "counter",
        "Moves of this node's processes that ended, failed or not.",
    );
    e.sample("moves_total", "", s.moves.last().map_or(0, |m| m.seq));
    e.family(
        "moves_recent",
        "gauge",
        "Of the latest moves this node keeps (up to 64), those that succeeded and failed.",
    );
    let failed = s.moves.iter().filter(|m| m.error != 0).count();
    e.sample("moves_recent", "result=\"ok\"", s.moves.len() - failed);
    e.sample("moves_recent", "result=\"failed\"", failed);
    e.0
}

/// Writes `text` to `path` atomically: `PATH.tmp` first, then renamed.
pub(crate) fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::tests::sample;
    use std::collections::HashSet;

    /// A metric or label name of the exposition format.
    fn valid_name(s: &str, colon: bool) -> bool {
        let mut c = s.chars();
        c.next()
            .is_some_and(|f| f.is_ascii_alphabetic() || f == '_' || (colon && f == ':'))
            && c.all(|x| x.is_ascii_alphanumeric() || x == '_' || (colon && x == ':'))
    }

    /// Checks that `text` is valid exposition format: every line a `# HELP`, a `# TYPE` or a
    /// sample whose family was typed and helped before it, each family once and contiguous.
    fn check_exposition(text: &str) -> Result<usize, String> {
        let (mut typed, mut helped, mut started) = (HashSet::new(), HashSet::new(), HashSet::new());
        let mut current = String::new();
        let mut samples = 0;
        if !text.ends_with('\n') {
            return Err("no final newline".into());
        }
        for line in text.lines() {
            let bad = |why: &str| Err(format!("{why}: {line:?}"));
            if let Some(rest) = line.strip_prefix("# ") {
                let (kw, rest) = rest.split_once(' ').ok_or("bad comment")?;
                let (name, arg) = rest.split_once(' ').ok_or("no name or argument")?;
                if !valid_name(name, true) {
                    return bad("bad name");
                }
                if name != current {
                    if !started.insert(name.to_string()) {
                        return bad("family repeated or not contiguous");
                    }
                    current = name.to_string();
                }
                match kw {
                    "HELP" if helped.insert(name.to_string()) && !arg.is_empty() => {}
                    "TYPE" if ["counter", "gauge"].contains(&arg) => {
                        if !typed.insert(name.to_string()) {
                            return bad("typed twice");
                        }
                        if arg == "counter" && !name.ends_with("_total") {
                            return bad("counter without _total");
                        }
                    }
                    _ => return bad("bad HELP or TYPE"),
                }
                continue;
            }
            let (series, value) = line.rsplit_once(' ').ok_or("no value")?;
            if value.parse::<f64>().is_err() {
                return bad("bad value");
            }
            let (name, labels) = match series.split_once('{') {
                Some((n, l)) => (n, l.strip_suffix('}').ok_or("unclosed labels")?),
                None => (series, ""),
            };
            if name != current || !typed.contains(name) || !helped.contains(name) {
                return bad("sample outside its family");
            }
            for pair in labels.split(',').filter(|p| !p.is_empty()) {
                let (l, v) = pair.split_once('=').ok_or("bad label")?;
                let v = v.strip_prefix('"').and_then(|v| v.strip_suffix('"'));
                if !valid_name(l, false) || v.is_none_or(|v| v.contains(['"', '\\', '\n'])) {
                    return bad("bad label");
                }
            }
            samples += 1;
        }
        Ok(samples)
    }

    #[test]
    fn every_line_parses() {
        let text = render(&sample());
        let samples = text.lines().filter(|l| !l.starts_with('#')).count();
        assert_eq!(check_exposition(&text), Ok(samples));
        assert_eq!(samples, 32, "{text}");
        assert!(text
            .lines()
            .all(|l| l.starts_with("# ") || l.starts_with("openmosix_")));
        // The checker finds faults.
        assert!(check_exposition("openmosix_x 1\n").is_err());
        assert!(check_exposition("# HELP a b\n# TYPE a counter\na 1\n").is_err());
        assert!(check_exposition("# HELP a b\n# TYPE a gauge\na{n=2} 1\n").is_err());
        assert!(check_exposition("# HELP a b\n# TYPE a gauge\na one\n").is_err());
        assert!(check_exposition(&format!("{text}{text}")).is_err());
    }

    #[test]
    fn figures() {
        let text = render(&sample());
        let has = |l: &str| text.lines().any(|x| x == l);
        for want in [
            "openmosix_self_node_id 1",
            "openmosix_node_up{node=\"1\"} 1",
            "openmosix_node_up{node=\"2\"} 1",
            "openmosix_node_up{node=\"3\"} 0",
            "openmosix_node_status{node=\"2\"} 19",
            "openmosix_node_load{node=\"1\"} 1.5",
            "openmosix_node_memory_available_bytes{node=\"2\"} 102400000",
            "openmosix_node_cpu_utilisation_ratio{node=\"2\"} 0.2",
            "openmosix_frames_sent_total 10",
            "openmosix_peer_connected{node=\"2\"} 1",
            "openmosix_peer_connected{node=\"3\"} 0",
            "# TYPE openmosix_handshakes_ok_total counter",
            "openmosix_guests 1",
            "openmosix_processes_away 1",
            "openmosix_processes_migrating 1",
            "openmosix_moves_total 2",
            "openmosix_moves_recent{result=\"failed\"} 1",
            "openmosix_moves_recent{result=\"ok\"} 1",
        ] {
            assert!(has(want), "no line {want:?} in\n{text}");
        }
        // Node 3 is down: no figure of it but its status.
        assert!(!text.contains("openmosix_node_load{node=\"3\"}"));
        assert!(!text.contains("openmosix_node_cpus{node=\"3\"}"));
    }

    #[test]
    fn odd_counter_names_and_empty_snapshot() {
        let mut s = Snapshot::default();
        s.stats.push(("new-counter.x".into(), 3));
        let text = render(&s);
        assert!(text.contains("openmosix_new_counter_x_total 3\n"));
        assert!(check_exposition(&text).is_ok(), "{text}");
    }

    #[test]
    fn atomic_write() {
        let dir = std::env::temp_dir().join(format!("omctl-metrics-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("openmosix.prom");
        write_atomic(&path, "a\n").unwrap();
        write_atomic(&path, "b\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "b\n");
        assert!(!dir.join("openmosix.prom.tmp").exists());
        assert!(write_atomic(&dir.join("no/such/dir"), "c\n").is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
