//! The `liandong certs` commands, run as the real binary on real files.

mod common;

use common::{arg, liandong, stderr, stdout};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/topology/examples/demo.toml");

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).expect("file exists").permissions().mode() & 0o777
}

/// Runs `certs init` for the demo topology into `dir/certs`.
fn init_demo(dir: &Path) -> PathBuf {
    let out = dir.join("certs");
    let init = liandong(&["certs", "init", "--topology", DEMO, "--out", arg(&out)]);
    assert!(init.status.success(), "{}", stderr(&init));
    out
}

#[test]
fn init_issues_every_node_then_tops_up() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("certs");
    let first = liandong(&["certs", "init", "--topology", DEMO, "--out", arg(&out)]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(
        stdout(&first).contains("issued 17 node certificates, kept 0 existing"),
        "{}",
        stdout(&first)
    );
    for id in ["350100", "350102-police", "350121002002"] {
        let node = out.join("nodes").join(id);
        assert_eq!(mode(&node.join("node.key")), 0o600, "{id} key mode");
        assert!(node.join("ca.pem").exists());
        let inspect = liandong(&["certs", "inspect", arg(&node.join("node.pem")), "--ca", arg(&out)]);
        assert!(inspect.status.success(), "{}", stderr(&inspect));
        assert!(
            stdout(&inspect).contains(&format!("liandong://node/{id}")),
            "{}",
            stdout(&inspect)
        );
    }
    assert_eq!(mode(&out.join("ca.key")), 0o600);
    let second = liandong(&["certs", "init", "--topology", DEMO, "--out", arg(&out)]);
    assert!(second.status.success(), "{}", stderr(&second));
    assert!(stdout(&second).contains("reused the CA"), "{}", stdout(&second));
    assert!(
        stdout(&second).contains("issued 0 node certificates, kept 17 existing"),
        "{}",
        stdout(&second)
    );
}

#[test]
fn operator_certificates_carry_node_name_and_role() {
    let dir = tempfile::tempdir().unwrap();
    let out = init_demo(dir.path());
    let issue = liandong(&[
        "certs",
        "issue-operator",
        "--ca",
        arg(&out),
        "--node",
        "350102",
        "--name",
        "王芳",
        "--role",
        "leader",
        "--topology",
        DEMO,
    ]);
    assert!(issue.status.success(), "{}", stderr(&issue));
    let pem = out.join("operators/350102/王芳.pem");
    assert_eq!(mode(&out.join("operators/350102/王芳.key")), 0o600);
    let inspect = liandong(&["certs", "inspect", arg(&pem), "--ca", arg(&out)]);
    assert!(inspect.status.success(), "{}", stderr(&inspect));
    assert!(
        stdout(&inspect).contains("identity     leader 王芳 at node 350102"),
        "{}",
        stdout(&inspect)
    );

    let unknown = liandong(&[
        "certs",
        "issue-operator",
        "--ca",
        arg(&out),
        "--node",
        "350199",
        "--name",
        "李明",
        "--role",
        "operator",
        "--topology",
        DEMO,
    ]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        stderr(&unknown).starts_with("error: node 350199 is not in"),
        "{}",
        stderr(&unknown)
    );
}

#[test]
fn a_revoked_certificate_is_refused_on_inspection() {
    let dir = tempfile::tempdir().unwrap();
    let out = init_demo(dir.path());
    let cert = out.join("nodes/350121/node.pem");
    let revoke = liandong(&[
        "certs",
        "revoke",
        "--ca",
        arg(&out),
        "--cert",
        arg(&cert),
        "--reason",
        "key-compromise",
        "--note",
        "县里笔记本被盗",
    ]);
    assert!(revoke.status.success(), "{}", stderr(&revoke));
    let list = std::fs::read_to_string(out.join("revoked.toml")).unwrap();
    assert!(
        list.contains("key-compromise") && list.contains("liandong://node/350121"),
        "{list}"
    );
    let inspect = liandong(&["certs", "inspect", arg(&cert), "--ca", arg(&out)]);
    assert_eq!(inspect.status.code(), Some(1));
    assert!(stderr(&inspect).contains("revoked"), "{}", stderr(&inspect));
}

#[test]
fn init_refuses_an_invalid_topology_with_its_problem() {
    let dir = tempfile::tempdir().unwrap();
    let topo = dir.path().join("bad.toml");
    std::fs::write(
        &topo,
        "[[node]]\nid = \"3501\"\nname = \"x\"\nlevel = \"city\"\nlisten = \"127.0.0.1:7100\"\n",
    )
    .unwrap();
    let init = liandong(&[
        "certs",
        "init",
        "--topology",
        arg(&topo),
        "--out",
        arg(&dir.path().join("c")),
    ]);
    assert_eq!(init.status.code(), Some(1));
    assert!(
        stderr(&init).contains("bad.toml:2:6: node id \"3501\" must start with a division code"),
        "{}",
        stderr(&init)
    );
    assert!(
        !dir.path().join("c").exists(),
        "nothing is written for an invalid topology"
    );
}

#[test]
fn every_certs_command_has_help_with_an_example() {
    for cmd in [
        "init",
        "request",
        "sign",
        "issue-operator",
        "issue-admin",
        "inspect",
        "revoke",
    ] {
        let help = liandong(&["certs", cmd, "--help"]);
        assert!(help.status.success());
        assert!(stdout(&help).contains("Example"), "certs {cmd} --help has no example");
    }
}
