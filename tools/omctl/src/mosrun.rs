// SPDX-License-Identifier: GPL-2.0

//! `mosrun` (`omctl mosrun`), and openMosix's short forms `nomig`, `runhome`, `runon`, `cpujob`
//! and `iojob`: run a program with a start node and balancer tags.
//!
//! The tags go to `/proc/openmosix/tag` for this process before it runs the program, so they
//! hold for the program and, inherited, for its descendants. Without a start node the program
//! replaces this process (same pid). With one, the program is started as a child, migrated
//! there as soon as it runs, and waited for; `mosrun` then exits with the child's status
//! (128 + N when a signal N ended it). With `-C SECONDS` the program is always a child, kept by
//! checkpoints (`keep.rs`).

use crate::{node_field, node_ids, write_proc, Failure, Res};
use omcore::msg::STATUS_UP;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::Command;

/// What `mosrun` was asked.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Start nodes to choose among (the least loaded that is up); empty: here.
    pub(crate) nodes: Vec<u32>,
    /// Tag words for `/proc/openmosix/tag`.
    pub(crate) tags: Vec<&'static str>,
    /// Start at home even when no listed node is up.
    pub(crate) force: bool,
    /// The program and its arguments.
    pub(crate) argv: Vec<String>,
    /// `-C SECONDS`: kept by a checkpoint every SECONDS (`keep.rs`).
    pub(crate) every: Option<u64>,
    /// `-D DIR`: where those checkpoints go.
    pub(crate) dir: Option<String>,
}

pub(crate) const USAGE: &str =
    "usage: mosrun [-h | -ID | -jID1-ID2,ID3...] [-l | -L] [-c | -i] [-F] PROGRAM [ARGS]
  -h      run at home, locked (never moved by the balancer)
  -ID     start on node ID (locked unless -L)
  -jLIST  start on the least loaded node of LIST (IDs and ranges A-B), locked unless -L
  -l      lock: the balancer never moves it
  -L      do not lock
  -c      cpujob: counts as one full CPU for the balancer
  -i      iojob: fast decay; never moved away from home for load
  -F      when no requested node is up, run at home instead of failing
  -C SECS checkpoint it every SECS seconds; if the node it runs on goes down, run it again
          at home from its latest checkpoint
  -D DIR  where those checkpoints go (default: admin/ckpt_dir, /var/lib/openmosix/ckpt)
short forms: nomig PROG (-l), runhome PROG (-h), runon ID PROG (-ID), cpujob PROG (-c),
iojob PROG (-i)";

/// Parses a node list such as `1-3,5`.
fn node_list(s: &str) -> Result<Vec<u32>, Failure> {
    let bad = || Failure(format!("mosrun: bad node list '{s}'\n{USAGE}"), 2);
    let mut v = Vec::new();
    for part in s.split(',') {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a, b),
            None => (part, part),
        };
        let a: u32 = a.parse().map_err(|_| bad())?;
        let b: u32 = b.parse().map_err(|_| bad())?;
        if a == 0 || b < a || b - a > 65535 {
            return Err(bad());
        }
        v.extend(a..=b);
    }
    Ok(v)
}

/// Parses `mosrun` options as called by `name` (`mosrun` or a short form).
pub(crate) fn parse(name: &str, args: &[String]) -> Result<Plan, Failure> {
    let usage = || Failure(USAGE.to_string(), 2);
    let mut plan = Plan::default();
    let mut lock = None;
    let mut rest = args;
    match name {
        "nomig" => lock = Some(true),
        "runhome" => lock = Some(true),
        "cpujob" => plan.tags.push("cpujob"),
        "iojob" => plan.tags.push("iojob"),
        "runon" => {
            let (id, more) = rest.split_first().ok_or_else(usage)?;
            plan.nodes = node_list(id)?;
            if plan.nodes.len() != 1 {
                return Err(usage());
            }
            rest = more;
        }
        _ => {
            while let Some((a, more)) = rest.split_first() {
                let Some(opt) = a.strip_prefix('-') else {
                    break;
                };
                match opt {
                    "h" => {
                        plan.nodes.clear();
                        lock = Some(true);
                    }
                    "l" => lock = Some(true),
                    "L" => lock = Some(false),
                    "c" => plan.tags.push("cpujob"),
                    "i" => plan.tags.push("iojob"),
                    "F" => plan.force = true,
                    "C" | "D" => {
                        let (v, after) = more.split_first().ok_or_else(usage)?;
                        if opt == "C" {
                            let secs = v.parse::<u64>().ok().filter(|&n| (1..=86_400).contains(&n));
                            plan.every = Some(secs.ok_or_else(|| {
                                Failure(format!("mosrun: -C takes 1..86400 seconds, not '{v}'"), 2)
                            })?);
                        } else {
                            plan.dir = Some(v.clone());
                        }
                        rest = after;
                        continue;
                    }
                    "-" => {
                        rest = more;
                        break;
                    }
                    _ => {
                        if let Some(list) = opt.strip_prefix('j') {
                            plan.nodes = node_list(list)?;
                        } else if opt.bytes().all(|b| b.is_ascii_digit()) && !opt.is_empty() {
                            plan.nodes = node_list(opt)?;
                        } else {
                            return Err(usage());
                        }
                    }
                }
                rest = more;
            }
        }
    }
    if plan.tags.contains(&"cpujob") && plan.tags.contains(&"iojob") {
        return Err(Failure("mosrun: -c and -i exclude each other".into(), 2));
    }
    // A process started on a chosen node stays there unless -L says otherwise.
    if lock.unwrap_or(!plan.nodes.is_empty()) {
        plan.tags.push("lock");
    }
    if rest.is_empty() {
        return Err(usage());
    }
    plan.argv = rest.to_vec();
    Ok(plan)
}

/// The least loaded node of `nodes` that is up (this node, `me`, counts when listed).
fn choose(nodes: &[u32], me: u32) -> Result<Option<u32>, Failure> {
    let known = node_ids()?;
    let mut best: Option<(i64, u32)> = None;
    for &id in nodes {
        if !known.contains(&id) {
            continue;
        }
        let up = id == me || node_field(id, "status").is_ok_and(|s| s & i64::from(STATUS_UP) != 0);
        if !up {
            continue;
        }
        let load = node_field(id, "load").unwrap_or(i64::MAX);
        if best.is_none_or(|(l, _)| load < l) {
            best = Some((load, id));
        }
    }
    Ok(best.map(|(_, id)| id))
}

/// Runs `mosrun` as called by `name`; returns only on failure or with the child's status.
pub(crate) fn run(name: &str, args: &[String]) -> Result<u8, Failure> {
    let plan = parse(name, args)?;
    let me = std::process::id();
    if !plan.tags.is_empty() {
        let line = format!("{me} {}\n", plan.tags.join(" "));
        write_proc("tag", line.as_bytes())?;
    }
    let target = if plan.nodes.is_empty() {
        None
    } else {
        let me = crate::this_node()?;
        match choose(&plan.nodes, me)? {
            Some(id) if id == me => None,
            Some(id) => Some(id),
            None if plan.force => None,
            None => {
                return Err(Failure(
                    "mosrun: none of the requested nodes is up (-F runs it at home)".into(),
                    1,
                ))
            }
        }
    };
    let mut cmd = Command::new(&plan.argv[0]);
    cmd.args(&plan.argv[1..]);
    if let Some(secs) = plan.every {
        let dir = plan.dir.clone().unwrap_or_else(crate::keep::default_dir);
        let dir = dir.as_str();
        crate::keep::prepare(dir)?;
        let child = cmd
            .spawn()
            .map_err(|e| Failure(format!("mosrun: {}: {e}", plan.argv[0]), 1))?;
        if let Some(node) = target {
            let moved: Res = write_proc("migrate", format!("{} {node}\n", child.id()).as_bytes());
            if let Err(Failure(msg, _)) = moved {
                eprintln!("mosrun: it runs at home: {msg}");
            }
        }
        return crate::keep::keep(
            child,
            std::time::Duration::from_secs(secs),
            dir,
            &plan.argv[0],
        );
    }
    let Some(node) = target else {
        let e = cmd.exec();
        return Err(Failure(format!("mosrun: {}: {e}", plan.argv[0]), 1));
    };
    // `spawn` returns once the program runs (an exec failure is reported here).
    let mut child = cmd
        .spawn()
        .map_err(|e| Failure(format!("mosrun: {}: {e}", plan.argv[0]), 1))?;
    let moved: Res = write_proc("migrate", format!("{} {node}\n", child.id()).as_bytes());
    if let Err(Failure(msg, _)) = moved {
        eprintln!("mosrun: it runs at home: {msg}");
    }
    let status = child
        .wait()
        .map_err(|e| Failure(format!("mosrun: wait: {e}"), 1))?;
    Ok(match (status.code(), status.signal()) {
        (Some(c), _) => c as u8,
        (None, Some(s)) => 128u8.saturating_add(s as u8),
        _ => 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str, args: &[&str]) -> Result<Plan, u8> {
        let v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        parse(name, &v).map_err(|Failure(_, c)| c)
    }

    #[test]
    fn options_and_short_forms() {
        let h = p("mosrun", &["-h", "prog", "-x"]).unwrap();
        assert_eq!((h.nodes.len(), h.tags.clone()), (0, vec!["lock"]));
        assert_eq!(h.argv, vec!["prog", "-x"]);
        let n = p("mosrun", &["-3", "prog"]).unwrap();
        assert_eq!((n.nodes, n.tags), (vec![3], vec!["lock"]));
        let j = p("mosrun", &["-j1-3,5", "-L", "-c", "prog"]).unwrap();
        assert_eq!((j.nodes, j.tags), (vec![1, 2, 3, 5], vec!["cpujob"]));
        let plain = p("mosrun", &["-i", "prog"]).unwrap();
        assert_eq!((plain.nodes.len(), plain.tags), (0, vec!["iojob"]));
        assert_eq!(p("nomig", &["prog"]).unwrap().tags, vec!["lock"]);
        assert_eq!(p("runhome", &["prog"]).unwrap().tags, vec!["lock"]);
        let on = p("runon", &["2", "prog"]).unwrap();
        assert_eq!((on.nodes, on.tags), (vec![2], vec!["lock"]));
        assert_eq!(p("cpujob", &["prog"]).unwrap().tags, vec!["cpujob"]);
        assert_eq!(p("iojob", &["prog"]).unwrap().tags, vec!["iojob"]);
        let k = p("mosrun", &["-C", "30", "-D", "/tmp/k", "-2", "prog"]).unwrap();
        assert_eq!(
            (k.every, k.dir.as_deref(), k.nodes),
            (Some(30), Some("/tmp/k"), vec![2])
        );
        let f = p("mosrun", &["-F", "-2", "--", "-prog"]).unwrap();
        assert!(f.force);
        assert_eq!(f.argv, vec!["-prog"]);
    }

    #[test]
    fn bad_input_is_a_usage_error() {
        for bad in [
            &["prog"][..0],
            &["-h"],
            &["-x", "prog"],
            &["-j", "prog"],
            &["-j3-1", "prog"],
            &["-0", "prog"],
            &["-c", "-i", "prog"],
            &["-jx", "prog"],
            &["-C", "prog"],
            &["-C", "0", "prog"],
            &["-C", "x", "prog"],
            &["-D"],
        ] {
            assert_eq!(p("mosrun", bad).err(), Some(2), "{bad:?}");
        }
        assert_eq!(p("runon", &["prog"]).err(), Some(2));
        assert_eq!(p("runon", &["1-2", "prog"]).err(), Some(2));
    }
}
