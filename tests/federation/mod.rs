//! A real federation for end-to-end tests: the demo topology on its own
//! loopback address, certificates from `liandong certs init`, and one
//! `liandong node run` process per center, each with its own SQLite file.
//!
//! Every child's stderr is collected line by line, so tests wait on what a
//! node logged ("node running", a refusal with its reason) with a timeout
//! instead of sleeping.

#![allow(dead_code)]

use liandong_control::{Act, Query};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use liandong_control::proto::{IdRef, Notice, Request, Response};
use liandong_control::{ControlClient, Subscription};
use liandong_dispatch::wire::{Category, EnvelopeId, Mode, TargetState};
use liandong_node::store::{Durable, StoreLocation, StoreOptions};
use liandong_topology::{NodeId, Severity, Topology};
use tempfile::TempDir;

pub fn id(s: &str) -> NodeId {
    NodeId::parse(s).expect("a valid node id")
}

/// How long an end-to-end step may take on a busy 2-core machine.
pub const WAIT: Duration = Duration::from_secs(30);

/// An id as the control API takes it: all 32 hex digits.
pub fn hex(id: EnvelopeId) -> IdRef {
    IdRef(format!("{:032x}", id.0))
}

/// Files a flood report of `severity` at the client's node; its id.
pub async fn file_report(client: &ControlClient, severity: Severity, title: &str) -> EnvelopeId {
    let response = client
        .call(Request::Act(Act::Report {
            severity,
            category: Category::Flood,
            title: title.into(),
            detail: "五一路下穿通道积水约半米，两辆车熄火".into(),
            place: "五一路下穿通道".into(),
            mode: Mode::Actual,
        }))
        .await
        .expect("report call");
    match response {
        Response::Done { id, .. } => id,
        other => panic!("report refused: {other:?}"),
    }
}

/// The next pushed notice that `want` accepts, within [`WAIT`].
pub async fn wait_for(sub: &mut Subscription, what: &str, mut want: impl FnMut(&Notice) -> bool) -> Notice {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let next = tokio::time::timeout_at(deadline, sub.next())
            .await
            .unwrap_or_else(|_| panic!("no {what} within {WAIT:?}"));
        match next {
            Some(Ok(Response::Pushed(p))) if want(&p.notice) => return p.notice,
            Some(Ok(_)) => {}
            Some(Err(e)) => panic!("subscription failed waiting for {what}: {e}"),
            None => panic!("subscription ended waiting for {what}"),
        }
    }
}

/// Waits (on `sub`, the target's subscription) until `order` reaches the
/// client's node, then signs for it as the client's operator.
pub async fn sign_for_when_received(sub: &mut Subscription, client: &ControlClient, order: EnvelopeId) {
    wait_for(
        sub,
        "the order",
        |n| matches!(n, Notice::OrderReceived { order: o } if o.order.id == order),
    )
    .await;
    let signed = client
        .call(Request::Act(Act::Acknowledge {
            order: hex(order),
            state: TargetState::SignedFor { by: String::new() },
        }))
        .await
        .expect("sign");
    assert!(
        matches!(signed, Response::Done { .. }),
        "{}: {signed:?}",
        client.operator().node
    );
}

/// A subscription past its snapshot.
pub async fn subscribe(client: &ControlClient) -> Subscription {
    let mut sub = client.subscribe().await.expect("subscribe");
    match sub.next().await {
        Some(Ok(Response::Snapshot { .. })) => sub,
        other => panic!("expected a snapshot first, got {other:?}"),
    }
}

pub async fn incident_at(client: &ControlClient, incident: EnvelopeId) -> Option<liandong_dispatch::Incident> {
    match client
        .call(Request::Query(Query::Incident { id: hex(incident) }))
        .await
        .expect("call")
    {
        Response::Incident(i) => Some(i),
        _ => None,
    }
}

/// Every non-root node has logged its link to its parent as up.
pub fn wait_links_up(fed: &Federation) {
    for n in fed.topology.nodes() {
        if let Some(parent) = fed.topology.parent(&n.id) {
            fed.wait_log(&n.id, &format!("link up peer={}", parent.id), 1, WAIT);
        }
    }
}

/// Lines a child wrote to stderr, shared with the thread reading them.
#[derive(Default)]
struct Log {
    lines: Mutex<Vec<String>>,
    grew: Condvar,
}

pub struct Federation {
    pub dir: TempDir,
    pub topology_file: PathBuf,
    pub topology: Arc<Topology>,
    pub certs: PathBuf,
    children: HashMap<NodeId, Child>,
    logs: HashMap<NodeId, Arc<Log>>,
    /// Operators issued so far: (node, name) -> (cert, key).
    operators: HashMap<(NodeId, String), (PathBuf, PathBuf)>,
    /// Environment every node process starts with.
    env: Vec<(String, String)>,
}

fn liandong() -> Command {
    Command::new(env!("CARGO_BIN_EXE_liandong"))
}

/// A node process that is killed if the test that started it goes away
/// (a failed test must not leave nodes holding its ports).
fn node_process() -> Command {
    use std::os::unix::process::CommandExt;
    let mut cmd = liandong();
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    cmd
}

fn run_ok(cmd: &mut Command) {
    let out = cmd.output().expect("run liandong");
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Federation {
    /// The demo federation (15 centers, 2 police units) listening on `ip`
    /// (give each test its own 127.x.y.z), with certificates; no node runs yet.
    pub fn demo(ip: Ipv4Addr) -> Federation {
        let dir = tempfile::tempdir().expect("temp dir");
        let topology_file = dir.path().join("demo.toml");
        let certs = dir.path().join("certs");
        run_ok(
            liandong()
                .args(["topology", "generate", "--preset", "demo", "--ip"])
                .arg(ip.to_string())
                .arg("--out")
                .arg(&topology_file),
        );
        run_ok(
            liandong()
                .args(["certs", "init", "--topology"])
                .arg(&topology_file)
                .arg("--out")
                .arg(&certs),
        );
        let text = std::fs::read_to_string(&topology_file).expect("read topology");
        let topology = Arc::new(Topology::parse(&text, Some(topology_file.clone())).expect("valid topology"));
        Federation {
            dir,
            topology_file,
            topology,
            certs,
            children: HashMap::new(),
            logs: HashMap::new(),
            operators: HashMap::new(),
            env: Vec::new(),
        }
    }

    /// Every node started from now on has `key` set to `value`.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.push((key.into(), value.into()));
    }

    /// Appends `toml` (a table such as `[policy.summary]`) to the topology
    /// file every node starts on, before any starts.
    pub fn extend_topology(&mut self, toml: &str) {
        let mut text = std::fs::read_to_string(&self.topology_file).expect("read topology");
        text.push('\n');
        text.push_str(toml);
        std::fs::write(&self.topology_file, &text).expect("write topology");
        self.topology = Arc::new(Topology::parse(&text, Some(self.topology_file.clone())).expect("valid topology"));
    }

    pub fn data_dir(&self, node: &NodeId) -> PathBuf {
        self.dir.path().join("data").join(node.as_str())
    }

    /// Starts `node run` for `node` and waits until it says it is running.
    pub fn start(&mut self, node: &NodeId) {
        let args = self.node_args(node);
        self.start_with(node, &args);
    }

    /// `node run`'s arguments for `node` in this federation.
    pub fn node_args(&self, node: &NodeId) -> Vec<std::ffi::OsString> {
        vec![
            "--topology".into(),
            self.topology_file.clone().into(),
            "--id".into(),
            node.as_str().into(),
            "--certs".into(),
            self.certs.clone().into(),
            "--data".into(),
            self.data_dir(node).into(),
        ]
    }

    /// Starts `node run` for `node` serving a gateway at `at` with the
    /// certificate and key given, and waits until this start's gateway
    /// listens (a restart's line follows the first run's).
    pub fn start_gateway(&mut self, node: &NodeId, at: SocketAddr, cert: &Path, key: &Path) {
        let mut args = self.node_args(node);
        args.extend::<[std::ffi::OsString; 6]>([
            "--gateway".into(),
            at.to_string().into(),
            "--gateway-cert".into(),
            cert.into(),
            "--gateway-key".into(),
            key.into(),
        ]);
        let listening = self.log_count(node, "gateway listening");
        self.start_with(node, &args);
        self.wait_log(node, "gateway listening", listening + 1, Duration::from_secs(30));
    }

    /// Starts `node run ARGS` for `node` and waits until it says it is running.
    pub fn start_with(&mut self, node: &NodeId, args: &[std::ffi::OsString]) {
        // This start's own line: counted before the process can log it (a
        // restart's follows the first run's in the same log).
        let before = self.log_count(node, "node running");
        let mut child = node_process()
            .args(["node", "run"])
            .args(args)
            .env("RUST_LOG", "info")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn node");
        let stderr = child.stderr.take().expect("piped stderr");
        let log = self.logs.entry(node.clone()).or_default().clone();
        let log_file = self.dir.path().join(format!("{node}.log"));
        std::thread::spawn(move || {
            use std::io::Write;
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log_file)
                .ok();
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(f) = file.as_mut() {
                    let _ = writeln!(f, "{line}");
                }
                log.lines.lock().unwrap().push(line);
                log.grew.notify_all();
            }
        });
        self.children.insert(node.clone(), child);
        self.wait_log(node, "node running", before + 1, Duration::from_secs(20));
    }

    pub fn start_all(&mut self) {
        let ids: Vec<NodeId> = self.topology.nodes().map(|n| n.id.clone()).collect();
        for n in &ids {
            self.start(n);
        }
    }

    /// kill -9: no shutdown, nothing flushed beyond what was committed.
    pub fn kill9(&mut self, node: &NodeId) {
        let mut child = self.children.remove(node).expect("node is running");
        child.kill().expect("SIGKILL");
        let _ = child.wait();
    }

    /// SIGHUP: a reload (config file, renewed certificate).
    pub fn hangup(&self, node: &NodeId) {
        let child = self.children.get(node).expect("node is running");
        let status = Command::new("kill").arg("-HUP").arg(child.id().to_string()).status();
        assert!(status.is_ok_and(|s| s.success()), "kill -HUP {node}");
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(&mut self, node: &NodeId) {
        let mut child = self.children.remove(node).expect("node is running");
        let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait());
        });
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(Ok(status)) => assert!(status.success(), "{node} exited with {status}"),
            Ok(Err(e)) => panic!("waiting for {node}: {e}"),
            Err(_) => panic!("{node} did not stop within 20 s of SIGTERM"),
        }
    }

    pub fn stop_all(&mut self) {
        let ids: Vec<NodeId> = self.children.keys().cloned().collect();
        for n in ids {
            self.stop(&n);
        }
    }

    /// How many lines of `node`'s log contain `pattern`.
    pub fn log_count(&self, node: &NodeId, pattern: &str) -> usize {
        self.logs.get(node).map_or(0, |l| {
            l.lines.lock().unwrap().iter().filter(|x| x.contains(pattern)).count()
        })
    }

    /// Waits until `node` has logged `count` lines containing `pattern`;
    /// returns the last such line. Panics with the log's tail on timeout.
    pub fn wait_log(&self, node: &NodeId, pattern: &str, count: usize, timeout: Duration) -> String {
        let log = self.logs.get(node).expect("node was started").clone();
        let deadline = Instant::now() + timeout;
        let mut lines = log.lines.lock().unwrap();
        loop {
            let hits: Vec<&String> = lines.iter().filter(|l| l.contains(pattern)).collect();
            if hits.len() >= count {
                return hits.last().map_or_else(String::new, |s| (*s).clone());
            }
            let now = Instant::now();
            if now >= deadline {
                if count == 0 {
                    return String::new();
                }
                let tail: Vec<&String> = lines.iter().rev().take(30).collect();
                panic!("{node} did not log {pattern:?} x{count} in {timeout:?}; last lines:\n{tail:#?}");
            }
            lines = log.grew.wait_timeout(lines, deadline - now).unwrap().0;
        }
    }

    pub fn control_addr(&self, node: &NodeId) -> SocketAddr {
        let listen = self.topology.get(node).expect("node in topology").listen;
        liandong_node::runtime::default_control_addr(listen)
    }

    /// Issues (once) an operator certificate and returns its files.
    pub fn operator(&mut self, node: &NodeId, name: &str, role: &str) -> (PathBuf, PathBuf) {
        let key = (node.clone(), name.to_string());
        if let Some(files) = self.operators.get(&key) {
            return files.clone();
        }
        run_ok(
            liandong()
                .args(["certs", "issue-operator", "--ca"])
                .arg(&self.certs)
                .args(["--node", node.as_str(), "--name", name, "--role", role]),
        );
        let dir = self.certs.join("operators").join(node.as_str());
        let files = (dir.join(format!("{name}.pem")), dir.join(format!("{name}.key")));
        self.operators.insert(key, files.clone());
        files
    }

    /// A control API client for an operator of `node`.
    pub async fn client(&mut self, node: &NodeId, name: &str) -> ControlClient {
        let (cert, key) = self.operator(node, name, "operator");
        let ca = self.certs.join("ca.pem");
        ControlClient::connect_with_files(self.control_addr(node), &ca, &cert, &key)
            .await
            .unwrap_or_else(|e| panic!("control client for {node}: {e}"))
    }

    /// A control API client for a leader of `node` (role leader in the
    /// operator certificate).
    pub async fn leader(&mut self, node: &NodeId, name: &str) -> ControlClient {
        let (cert, key) = self.operator(node, name, "leader");
        let ca = self.certs.join("ca.pem");
        ControlClient::connect_with_files(self.control_addr(node), &ca, &cert, &key)
            .await
            .unwrap_or_else(|e| panic!("control client for leader {name} of {node}: {e}"))
    }

    pub fn node_store(&self, node: &NodeId) -> PathBuf {
        self.data_dir(node).join("node.db")
    }

    /// A stopped node's SQLite store, its audit chain checked.
    pub async fn open_store(&self, node: &NodeId) -> Durable {
        let durable = Durable::open(
            &StoreLocation::Sqlite(self.node_store(node)),
            node,
            StoreOptions::default(),
        )
        .await
        .expect("open store");
        durable
            .verify_audit()
            .await
            .unwrap_or_else(|e| panic!("audit of {node}: {e}"));
        durable
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Federation {
    fn drop(&mut self) {
        for (_, mut child) in self.children.drain() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
