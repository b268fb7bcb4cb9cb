//! The `liandong topology` commands, run as the real binary on real files.

mod common;

use common::{arg, liandong, stderr, stdout};

#[test]
fn generate_then_check_jiangsu_reports_every_level() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("jiangsu.toml");
    let generated = liandong(&["topology", "generate", "--preset", "jiangsu", "--out", arg(&file)]);
    assert!(generated.status.success(), "{}", stderr(&generated));
    let check = liandong(&["topology", "check", arg(&file)]);
    assert!(check.status.success(), "{}", stderr(&check));
    let out = stdout(&check);
    assert!(
        out.contains("22812 nodes: 1 province, 13 city, 98 county, 1280 township, 21420 village"),
        "{out}"
    );
    assert!(out.contains("loaded and validated in"), "{out}");
}

#[test]
fn generate_refuses_to_overwrite_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("demo.toml");
    std::fs::write(&file, "keep me").unwrap();
    let again = liandong(&["topology", "generate", "--preset", "demo", "--out", arg(&file)]);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("already exists: pass --force"),
        "{}",
        stderr(&again)
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
    let forced = liandong(&[
        "topology",
        "generate",
        "--preset",
        "demo",
        "--out",
        arg(&file),
        "--force",
    ]);
    assert!(forced.status.success(), "{}", stderr(&forced));
    assert!(stdout(&forced).contains("17 nodes"), "{}", stdout(&forced));
}

#[test]
fn check_names_the_problem_and_exits_nonzero() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.toml");
    std::fs::write(
        &file,
        "[[node]]\nid = \"350100\"\nname = \"福州市\"\nlevel = \"city\"\nlisten = \"127.0.0.1:7100\"\n\n\
         [[node]]\nid = \"350102\"\nname = \"鼓楼区\"\nlevel = \"county\"\nparent = \"350100\"\nlisten = \"localhost\"\n",
    )
    .unwrap();
    let check = liandong(&["topology", "check", arg(&file)]);
    assert_eq!(check.status.code(), Some(1));
    let err = stderr(&check);
    let first = err.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("error: topology") && first.contains("is invalid"),
        "{err}"
    );
    assert!(
        err.contains("broken.toml:12:10: node 350102 has a bad listen address \"localhost\""),
        "{err}"
    );
}

#[test]
fn show_draws_the_tree_and_lists_json() {
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/topology/examples/demo.toml");
    let tree = liandong(&["topology", "show", demo]);
    assert!(tree.status.success(), "{}", stderr(&tree));
    let out = stdout(&tree);
    assert!(out.contains("350100 福州市 [city] 127.0.0.1:7100"), "{out}");
    assert!(
        out.contains("├── 350102-police 鼓楼公安分局 [county member unit]"),
        "{out}"
    );

    let sub = liandong(&["topology", "show", demo, "--node", "350121", "--depth", "1"]);
    let out = stdout(&sub);
    assert!(out.contains("under: 350100 福州市"), "{out}");
    assert!(out.contains("… 2 more below"), "{out}");
    assert!(!out.contains("350102"), "{out}");

    let json = liandong(&["topology", "show", demo, "--json"]);
    let nodes: serde_json::Value = serde_json::from_slice(&json.stdout).expect("valid JSON");
    let nodes = nodes.as_array().expect("an array of nodes");
    assert_eq!(nodes.len(), 17);
    let police = nodes
        .iter()
        .find(|n| n["id"] == "350102-police")
        .expect("police unit listed");
    assert_eq!(police["kind"], "member-unit");
    assert_eq!(police["parent"], "350102");
    assert_eq!(police["level"], "county");
    assert!(police["address"].as_str().unwrap().starts_with("127.0.0.1:"));

    let unknown = liandong(&["topology", "show", demo, "--node", "350199"]);
    assert!(!unknown.status.success());
    assert!(
        stderr(&unknown).contains("node 350199 is not in"),
        "{}",
        stderr(&unknown)
    );
}

#[test]
fn every_command_has_help_with_an_example() {
    for cmd in [
        &["topology", "check"][..],
        &["topology", "generate"],
        &["topology", "show"],
    ] {
        let mut args = cmd.to_vec();
        args.push("--help");
        let help = liandong(&args);
        assert!(help.status.success());
        assert!(stdout(&help).contains("Example"), "{cmd:?} --help has no example");
    }
}
