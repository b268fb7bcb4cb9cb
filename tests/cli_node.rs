//! `liandong node run` as a process: JSON logs on request, clean stop on
//! SIGTERM, clear errors for a bad invocation; `liandong audit verify` on
//! the store it leaves.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{arg, liandong, stderr, stdout};

const WAIT: Duration = Duration::from_secs(30);

fn prepare(dir: &std::path::Path) {
    let topo = dir.join("demo.toml");
    let certs = dir.join("certs");
    let o = liandong(&[
        "topology",
        "generate",
        "--preset",
        "demo",
        "--ip",
        "127.0.16.1",
        "--out",
        arg(&topo),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = liandong(&["certs", "init", "--topology", arg(&topo), "--out", arg(&certs)]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn a_node_logs_json_stops_on_sigterm_and_leaves_an_intact_audit_log() {
    let dir = tempfile::tempdir().unwrap();
    prepare(dir.path());
    let data = dir.path().join("data");
    let mut child = Command::new(env!("CARGO_BIN_EXE_liandong"))
        .args(["node", "run", "--topology"])
        .arg(dir.path().join("demo.toml"))
        .args(["--id", "350100", "--certs"])
        .arg(dir.path().join("certs"))
        .arg("--data")
        .arg(&data)
        .args(["--log-format", "json"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // Every line is a JSON object; the node says where it listens.
    let running = loop {
        let line = rx.recv_timeout(WAIT).expect("the node logs that it runs");
        let value: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        if value["message"] == "node running" {
            break value;
        }
    };
    assert_eq!(running["control"], "127.0.16.1:8100", "{running}");
    assert_eq!(running["links"], "127.0.16.1:7100", "{running}");

    let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done_tx.send(child.wait());
    });
    let status = done_rx.recv_timeout(WAIT).expect("stops within 30 s").unwrap();
    assert!(status.success(), "exit status {status}");

    let node_data = arg(&data);
    let o = liandong(&["audit", "verify", "--id", "350100", "--data", node_data]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("audit log of 350100 intact"), "{}", stdout(&o));

    // The store belongs to 350100: opening it as another node is refused.
    let o = liandong(&["audit", "verify", "--id", "350102", "--data", node_data]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("350100") && stderr(&o).contains("350102"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn bad_invocations_of_node_run_say_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    prepare(dir.path());
    let topo = dir.path().join("demo.toml");
    let certs = dir.path().join("certs");
    let data = dir.path().join("data");

    let o = liandong(&[
        "node",
        "run",
        "--topology",
        arg(&topo),
        "--id",
        "350199",
        "--certs",
        arg(&certs),
        "--data",
        arg(&data),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("node 350199 is not in the topology"),
        "{}",
        stderr(&o)
    );

    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let o = liandong(&[
        "node",
        "run",
        "--topology",
        arg(&topo),
        "--id",
        "350100",
        "--certs",
        arg(&empty),
        "--data",
        arg(&data),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no certificate for node 350100"), "{}", stderr(&o));

    let o = liandong(&[
        "node",
        "run",
        "--topology",
        arg(&topo),
        "--id",
        "350100",
        "--certs",
        arg(&certs),
        "--data",
        arg(&data),
        "--database",
        "mysql://nope",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("mysql://nope"), "{}", stderr(&o));

    let o = liandong(&["audit", "verify", "--id", "350100", "--data", arg(&empty)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no store at"), "{}", stderr(&o));
}
