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
    let dir = fake_proc("ok", Some("module 0.1.0\nprotocol 1\nkernel 7.2.12\n"));
    let (code, out, _) = omctl(&dir, &["version"]);
    assert_eq!(code, 0);
    assert!(out.contains("omctl 0.1.0 protocol 1\n"), "{out}");
    assert!(
        out.contains("module 0.1.0 protocol 1 kernel 7.2.12\n"),
        "{out}"
    );
}

#[test]
fn version_fails_on_protocol_mismatch() {
    let dir = fake_proc(
        "mismatch",
        Some("module 0.2.0\nprotocol 2\nkernel 7.2.12\n"),
    );
    let (code, _, err) = omctl(&dir, &["version"]);
    assert_eq!(code, 1);
    assert!(err.contains("module speaks protocol 2"), "{err}");
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
