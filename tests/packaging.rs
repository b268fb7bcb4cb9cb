//! The Debian packaging's sources (`packaging/`): a dry run of the
//! maintainer scripts (`packaging/test-maintainer-scripts.sh`: every
//! command that would change the machine is a stub, the directories go
//! under a throwaway root), shellcheck over every shell script (without
//! shellcheck: skipped, unless `CI` is set), and what the systemd unit
//! must say. The built package itself is checked by `.ci/run`
//! (`packaging/check-deb.sh`).

mod common;

use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_maintainer_scripts_create_the_user_and_directories_once_and_purge_keeps_the_data() {
    let o = Command::new("sh")
        .arg(root().join("packaging/test-maintainer-scripts.sh"))
        .arg(root().join("packaging/debian"))
        .output()
        .expect("run sh");
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{out}\n{err}");
    assert!(out.contains("checks passed"), "{out}\n{err}");
}

#[test]
fn the_maintainer_scripts_fail_the_dry_run_when_broken() {
    // The dry run can fail: a postinst that creates the user on every run
    // (no getent check) is caught.
    let dir = tempfile::tempdir().unwrap();
    let src = root().join("packaging/debian");
    let postinst = std::fs::read_to_string(src.join("postinst")).unwrap();
    let broken = postinst.replace("if ! getent passwd liandong >/dev/null; then", "if true; then");
    assert_ne!(broken, postinst, "the user check is where this test expects it");
    std::fs::write(dir.path().join("postinst"), broken).unwrap();
    std::fs::copy(src.join("postrm"), dir.path().join("postrm")).unwrap();
    let o = Command::new("sh")
        .arg(root().join("packaging/test-maintainer-scripts.sh"))
        .arg(dir.path())
        .output()
        .expect("run sh");
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("FAIL: no second user"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn shellcheck_finds_nothing_in_the_scripts() {
    if !common::tool::require(
        "shellcheck",
        "tests/packaging.rs",
        "checking the packaging's shell scripts",
    ) {
        return;
    }
    let scripts: Vec<PathBuf> = [
        "packaging/debian/postinst",
        "packaging/debian/postrm",
        "packaging/test-maintainer-scripts.sh",
        "packaging/check-deb.sh",
        ".ci/run",
        "fuzz/run.sh",
    ]
    .iter()
    .map(|p| root().join(p))
    .collect();
    let o = Command::new("shellcheck")
        .args(&scripts)
        .output()
        .expect("run shellcheck");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
}

#[test]
fn the_unit_runs_the_config_as_liandong_hardened_and_reloads_on_sighup() {
    let unit = std::fs::read_to_string(root().join("packaging/liandong.service")).unwrap();
    let lines: Vec<&str> = unit.lines().map(str::trim).collect();
    for want in [
        "ExecStart=/usr/bin/liandong node run --config /etc/liandong/node.toml",
        "ConditionPathExists=/etc/liandong/node.toml",
        "User=liandong",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "Restart=on-failure",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/liandong",
        "StateDirectory=liandong",
        "WantedBy=multi-user.target",
    ] {
        assert!(lines.contains(&want), "the unit lacks {want:?}");
    }
    // The paths the unit names are the ones `node init` is told to write.
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    assert!(
        readme.contains("--out /etc/liandong/node.toml"),
        "README's set-up section"
    );
}
