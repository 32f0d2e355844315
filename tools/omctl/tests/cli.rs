// SPDX-License-Identifier: GPL-2.0

//! `omctl` against a fake `/proc/openmosix` directory.

use std::process::Command;

fn omctl(proc_dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_omctl"))
        .args(args)
        .env("OPENMOSIX_PROC", proc_dir)
        .output()
        .expect("run omctl");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn fake_proc(name: &str, version: Option<&str>) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("omctl-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    if let Some(v) = version {
        std::fs::write(dir.join("version"), v).unwrap();
    }
    dir
}

#[test]
fn version_prints_module_version() {
    let p = omcore::version::PROTOCOL_VERSION;
    let v = format!("module 0.1.0\nprotocol {p}\nkernel 7.2.12\n");
    let dir = fake_proc("ok", Some(&v));
    let (code, out, _) = omctl(&dir, &["version"]);
    assert_eq!(code, 0);
    assert!(
        out.contains(&format!("omctl 0.1.0 protocol {p}\n")),
        "{out}"
    );
    assert!(
        out.contains(&format!("module 0.1.0 protocol {p} kernel 7.2.12\n")),
        "{out}"
    );
}

#[test]
fn version_fails_on_protocol_mismatch() {
    let other = omcore::version::PROTOCOL_VERSION + 1;
    let v = format!("module 0.2.0\nprotocol {other}\nkernel 7.2.12\n");
    let dir = fake_proc("mismatch", Some(&v));
    let (code, _, err) = omctl(&dir, &["version"]);
    assert_eq!(code, 1);
    assert!(
        err.contains(&format!("module speaks protocol {other}")),
        "{err}"
    );
}

#[test]
fn version_fails_without_module() {
    let dir = fake_proc("absent", None);
    let (code, _, err) = omctl(&dir, &["version"]);
    assert_eq!(code, 1);
    assert!(err.contains("is the openmosix module loaded?"), "{err}");
}

#[test]
fn version_fails_on_garbage() {
    let dir = fake_proc("garbage", Some("hello world\n"));
    let (code, _, err) = omctl(&dir, &["version"]);
    assert_eq!(code, 1);
    assert!(err.contains("malformed line"), "{err}");
}

#[test]
fn unknown_command_is_a_usage_error() {
    let dir = fake_proc("usage", None);
    let (code, _, err) = omctl(&dir, &["frobnicate"]);
    assert_eq!(code, 2);
    assert!(err.contains("usage: omctl"), "{err}");
}

/// A fake tree of a 3-node cluster seen from node 1, node 3 down.
fn fake_cluster(name: &str) -> std::path::PathBuf {
    let dir = fake_proc(name, Some("module 0.1.0\nprotocol 3\nkernel 7.2.12\n"));
    let w = |p: &str, v: &str| {
        let path = dir.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, v).unwrap();
    };
    w("config", "1 198.18.0.1 3\n");
    w("peers", "2 198.18.0.2 up connected map\n3 198.18.0.3 down - map\n7 198.18.0.7 up connected discovered\n");
    w("admin/mospe", "1\n");
    w("admin/key", "");
    w("admin/block", "0\n");
    w("stats", "frames_sent 4\n");
    for (id, status, load) in [
        (1, "3", "120"),
        (2, "19", "40"),
        (3, "1", "-1"),
        (7, "3", "0"),
    ] {
        w(&format!("nodes/{id}/status"), &format!("{status}\n"));
        for f in ["load", "speed", "cpus", "util", "mem", "rmem", "tmem"] {
            let v = if f == "load" {
                load
            } else if load == "-1" {
                "-1"
            } else {
                "2048"
            };
            w(&format!("nodes/{id}/{f}"), &format!("{v}\n"));
        }
    }
    dir
}

#[test]
fn nodes_table_lists_every_node() {
    let dir = fake_cluster("nodes");
    let (code, out, err) = omctl(&dir, &["nodes"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5, "{out}");
    assert!(
        lines[1].contains("198.18.0.1") && lines[1].contains("up,self"),
        "{out}"
    );
    assert!(
        lines[2].contains("up,block") && lines[2].contains(" 40 "),
        "{out}"
    );
    assert!(
        lines[3].contains("down") && lines[3].contains(" - "),
        "{out}"
    );
    assert!(lines[4].contains("198.18.0.7"), "{out}");
}

#[test]
fn status_isup_getload_whois() {
    let dir = fake_cluster("verbs");
    assert_eq!(omctl(&dir, &["getload"]).1, "120\n");
    assert_eq!(omctl(&dir, &["getload", "2"]).1, "40\n");
    assert_eq!(omctl(&dir, &["getpe"]).1, "1\n");
    let (code, out, _) = omctl(&dir, &["isup", "2"]);
    assert_eq!((code, out.as_str()), (0, "up\n"));
    let (code, out, _) = omctl(&dir, &["isup", "3"]);
    assert_eq!((code, out.as_str()), (1, "down\n"));
    let (code, _, err) = omctl(&dir, &["isup", "9"]);
    assert_eq!(code, 1);
    assert!(err.contains("no node 9"), "{err}");
    assert_eq!(omctl(&dir, &["isup", "x"]).0, 2);
    assert_eq!(omctl(&dir, &["whois", "3"]).1, "198.18.0.3\n");
    assert_eq!(omctl(&dir, &["whois", "198.18.0.7"]).1, "7\n");
    assert_eq!(omctl(&dir, &["whois", "10.0.0.1"]).0, 1);
    assert!(omctl(&dir, &["status", "2"]).1.contains("up,block"));
}

#[test]
fn setpe_checks_the_map_before_writing() {
    let dir = fake_cluster("setpe");
    let good = dir.join("good.map");
    std::fs::write(&good, "1 10.0.0.1 4\n").unwrap();
    let (code, _, err) = omctl(&dir, &["setpe", "-f", good.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.join("config")).unwrap(),
        "1 10.0.0.1 4\n"
    );
    let bad = dir.join("bad.map");
    std::fs::write(&bad, "1 10.0.0.1 4\n3 10.0.1.1 1\n").unwrap();
    let (code, _, err) = omctl(&dir, &["setpe", "-f", bad.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("line 2"), "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.join("config")).unwrap(),
        "1 10.0.0.1 4\n"
    );
    assert_eq!(omctl(&dir, &["setpe", "-r"]).1, "1 10.0.0.1 4\n");
}

#[test]
fn toggles_and_speed_write_their_knobs() {
    let dir = fake_cluster("toggles");
    assert_eq!(omctl(&dir, &["block"]).0, 0);
    assert_eq!(
        std::fs::read_to_string(dir.join("admin/block")).unwrap(),
        "1\n"
    );
    assert_eq!(omctl(&dir, &["noblock"]).0, 0);
    assert_eq!(
        std::fs::read_to_string(dir.join("admin/block")).unwrap(),
        "0\n"
    );
    std::fs::write(dir.join("admin/speed"), "").unwrap();
    assert_eq!(omctl(&dir, &["setspeed", "20000"]).0, 0);
    assert_eq!(
        std::fs::read_to_string(dir.join("admin/speed")).unwrap(),
        "20000\n"
    );
    assert_eq!(omctl(&dir, &["setspeed", "0"]).0, 2);
    assert_eq!(omctl(&dir, &["setspeed", "abc"]).0, 2);
}

#[test]
fn mosctl_and_setpe_aliases() {
    let dir = fake_cluster("aliases");
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_omctl"));
    let links = dir.join("bin");
    std::fs::create_dir_all(&links).unwrap();
    for alias in ["mosctl", "setpe"] {
        let _ = std::fs::remove_file(links.join(alias));
        std::os::unix::fs::symlink(bin, links.join(alias)).unwrap();
    }
    let run = |alias: &str, args: &[&str]| {
        let out = Command::new(links.join(alias))
            .args(args)
            .env("OPENMOSIX_PROC", &dir)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    assert_eq!(run("mosctl", &["getload", "2"]), (0, "40\n".into()));
    assert_eq!(run("setpe", &["-r"]), (0, "1 198.18.0.1 3\n".into()));
    let map = dir.join("alias.map");
    std::fs::write(&map, "1 10.0.0.1 2\n").unwrap();
    assert_eq!(run("setpe", &["-w", "-f", map.to_str().unwrap()]).0, 0);
    assert_eq!(
        std::fs::read_to_string(dir.join("config")).unwrap(),
        "1 10.0.0.1 2\n"
    );
    assert_eq!(run("setpe", &["-x"]).0, 2);
}

#[test]
fn keyring_gives_each_node_its_own_keys() {
    let dir = fake_proc("keyring", None);
    let master = dir.join("master");
    std::fs::write(&master, "a master secret of the test\n").unwrap();
    let m = master.to_str().unwrap();
    let (code, ring2, err) = omctl(&dir, &["keyring", "-f", m, "2", "1-3,5"]);
    assert_eq!(code, 0, "{err}");
    let r = omcore::keyring::Ring::parse(ring2.as_bytes()).unwrap();
    assert_eq!((r.node, r.peers), (2, 3));
    let ids: Vec<u32> = r.pairs().map(|(p, _)| p).collect();
    assert_eq!(ids, [1, 3, 5]);
    // Node 3's ring holds the same key for the pair 2-3, and none of node 2's others.
    let (_, ring3, _) = omctl(&dir, &["keyring", "-f", m, "3", "1-3,5"]);
    let r3 = omcore::keyring::Ring::parse(ring3.as_bytes()).unwrap();
    let key = |r: &omcore::keyring::Ring<'_>, p| r.pairs().find(|(i, _)| *i == p).unwrap().1;
    assert_eq!(key(&r, 3), key(&r3, 2));
    assert!(r3.pairs().all(|(_, k)| k != key(&r, 1) && k != key(&r, 5)));
    // From a map, and refusals.
    std::fs::write(dir.join("map"), "1 198.18.0.1 4\n").unwrap();
    let (code, ring, _) = omctl(
        &dir,
        &[
            "keyring",
            "-f",
            m,
            "4",
            "-m",
            dir.join("map").to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0);
    assert_eq!(
        omcore::keyring::Ring::parse(ring.as_bytes()).unwrap().peers,
        3
    );
    std::fs::write(dir.join("short"), "short").unwrap();
    let short = dir.join("short");
    assert_eq!(
        omctl(
            &dir,
            &["keyring", "-f", short.to_str().unwrap(), "1", "1-2"]
        )
        .0,
        1
    );
    assert_eq!(omctl(&dir, &["keyring", "-f", m, "0", "1-2"]).0, 2);
    assert_eq!(omctl(&dir, &["keyring", "-f", m, "1", "3-2"]).0, 2);
    assert_eq!(omctl(&dir, &["keyring", "-f", m, "1", "1-70000"]).0, 2);
}

#[test]
fn migrate_checks_its_words() {
    let dir = fake_cluster("migrate-words");
    std::fs::write(dir.join("migrate"), "# pid where state\n").unwrap();
    for bad in [
        &["migrate", "0", "2"][..],
        &["migrate", "x", "2"],
        &["migrate", "5", "0"],
        &["migrate", "5", "away"],
        &["migrate", "5"],
        &["migrate", "--no-wait", "5"],
    ] {
        let (code, _, err) = omctl(&dir, bad);
        assert_eq!(code, 2, "{bad:?}: {err}");
    }
    // Nothing was asked.
    assert_eq!(
        std::fs::read_to_string(dir.join("migrate")).unwrap(),
        "# pid where state\n"
    );
}

#[test]
fn migrate_no_wait_only_asks() {
    let dir = fake_cluster("migrate-nowait");
    std::fs::write(dir.join("migrate"), "").unwrap();
    let (code, out, err) = omctl(&dir, &["migrate", "--no-wait", "1234", "home"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "");
    assert_eq!(
        std::fs::read_to_string(dir.join("migrate")).unwrap(),
        "1234 home\n"
    );
}

#[test]
fn migrate_of_a_guest_is_passed_to_its_home() {
    let dir = fake_cluster("migrate-guest");
    std::fs::write(
        dir.join("migrate"),
        "# pid where state\n77 guest-of 3 home-pid 5\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("moves"),
        "# seq pid from to error kib frozen_ms asked_by\n",
    )
    .unwrap();
    let (code, out, err) = omctl(&dir, &["migrate", "77", "2"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "process 77 is a guest of node 3's: its home was asked to move it\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("migrate")).unwrap(),
        "77 2\n"
    );
}

#[test]
fn migrate_of_a_process_that_ends_says_so() {
    let dir = fake_cluster("migrate-gone");
    std::fs::write(dir.join("migrate"), "# pid where state\n").unwrap();
    // An outcome of an earlier move, asked by someone else: not this command's.
    std::fs::write(
        dir.join("moves"),
        "# seq pid from to error kib frozen_ms asked_by\n3 4194300 1 2 0 64 5 1\n",
    )
    .unwrap();
    let (code, _, err) = omctl(&dir, &["migrate", "4194300", "2"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("process 4194300 ended before its move was done"),
        "{err}"
    );
}
