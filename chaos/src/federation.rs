//! The node processes: `liandong node run` per node, spawned with its
//! proxied topology and killed with the harness (`PR_SET_PDEATHSIG`);
//! "node running" seen in its log; kill -9, SIGTERM, and a control client
//! with the center's operator certificate.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use liandong_control::ControlClient;
use liandong_node::runtime::default_control_addr;
use liandong_topology::{NodeId, Topology};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::watch;
use tokio::time::Instant;

/// One node process and its log.
pub(crate) struct NodeProc {
    pub(crate) child: Option<Child>,
    /// How many times it has logged "node running".
    running: watch::Receiver<usize>,
    running_tx: Arc<watch::Sender<usize>>,
    starts: usize,
}

pub(crate) struct Federation {
    pub(crate) binary: PathBuf,
    pub(crate) dir: PathBuf,
    pub(crate) topology: Arc<Topology>,
    pub(crate) certs: PathBuf,
    pub(crate) nodes: BTreeMap<NodeId, NodeProc>,
}

pub(crate) const STARTUP: Duration = Duration::from_secs(30);
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(3);
pub(crate) const OPERATOR: &str = "值班员";

pub(crate) fn say(verbose: bool, t0: Instant, what: impl fmt::Display) {
    if verbose {
        eprintln!("[{:>6.1}s] {what}", t0.elapsed().as_secs_f64());
    }
}

pub(crate) async fn run_binary(binary: &Path, args: &[&std::ffi::OsStr]) -> anyhow::Result<()> {
    let out = Command::new(binary)
        .args(args)
        .output()
        .await
        .with_context(|| format!("cannot run {}", binary.display()))?;
    if !out.status.success() {
        bail!(
            "{} {:?} failed: {}{}",
            binary.display(),
            args,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

impl Federation {
    pub(crate) fn data_dir(&self, id: &NodeId) -> PathBuf {
        self.dir.join("data").join(id.as_str())
    }

    fn control_addr(&self, id: &NodeId) -> SocketAddr {
        default_control_addr(self.topology.get(id).expect("node in topology").listen)
    }

    fn operator_files(&self, id: &NodeId) -> (PathBuf, PathBuf) {
        let d = self.certs.join("operators").join(id.as_str());
        (d.join(format!("{OPERATOR}.pem")), d.join(format!("{OPERATOR}.key")))
    }

    /// Spawns `node run` for `id`; [`Federation::wait_running`] waits for it.
    pub(crate) fn spawn(&mut self, id: &NodeId) -> anyhow::Result<()> {
        self.spawn_with(id, &[])
    }

    /// [`Federation::spawn`] with `extra` arguments to `node run` (the gateway's).
    pub(crate) fn spawn_with(&mut self, id: &NodeId, extra: &[std::ffi::OsString]) -> anyhow::Result<()> {
        let listen = self.topology.get(id).expect("node in topology").listen;
        let mut cmd = Command::new(&self.binary);
        cmd.arg("node")
            .arg("run")
            .arg("--topology")
            .arg(self.dir.join("topology").join(format!("{id}.toml")))
            .arg("--id")
            .arg(id.as_str())
            .arg("--certs")
            .arg(&self.certs)
            .arg("--data")
            .arg(self.data_dir(id))
            .arg("--listen")
            .arg(listen.to_string())
            .args(extra)
            // LIANDONG_NODE_LOG sets the nodes' log filter (RUST_LOG syntax).
            .env(
                "RUST_LOG",
                std::env::var("LIANDONG_NODE_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                // A node dies with the harness that started it.
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut child = cmd.spawn().with_context(|| format!("cannot start node {id}"))?;
        let stderr = child.stderr.take().expect("piped stderr");
        let entry = self.nodes.entry(id.clone()).or_insert_with(|| {
            let (tx, rx) = watch::channel(0);
            NodeProc {
                child: None,
                running: rx,
                running_tx: Arc::new(tx),
                starts: 0,
            }
        });
        entry.starts += 1;
        entry.child = Some(child);
        let tx = entry.running_tx.clone();
        let log_path = self.dir.join("logs").join(format!("{id}.log"));
        tokio::spawn(async move {
            let mut file = tokio::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log_path)
                .await
                .ok();
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains("node running") {
                    tx.send_modify(|n| *n += 1);
                }
                if let Some(f) = file.as_mut() {
                    let _ = f.write_all(line.as_bytes()).await;
                    let _ = f.write_all(b"\n").await;
                }
            }
        });
        Ok(())
    }

    /// The process id of `id`'s node, while it runs.
    pub(crate) fn pid(&self, id: &NodeId) -> Option<u32> {
        self.nodes.get(id)?.child.as_ref()?.id()
    }

    pub(crate) fn is_running(&self, id: &NodeId) -> bool {
        self.nodes
            .get(id)
            .is_some_and(|p| p.child.is_some() && *p.running.borrow() >= p.starts)
    }

    pub(crate) async fn wait_running(&self, id: &NodeId) -> anyhow::Result<()> {
        let p = &self.nodes[id];
        let mut rx = p.running.clone();
        let want = p.starts;
        tokio::time::timeout(STARTUP, rx.wait_for(|n| *n >= want))
            .await
            .map_err(|_| anyhow::anyhow!("node {id} did not log \"node running\" within {STARTUP:?}"))?
            .map_err(|_| anyhow::anyhow!("node {id}: log reader ended"))?;
        Ok(())
    }

    /// SIGKILL, and reap it.
    pub(crate) async fn kill9(&mut self, id: &NodeId) {
        if let Some(mut child) = self.nodes.get_mut(id).and_then(|p| p.child.take()) {
            let _ = child.kill().await;
        }
    }

    /// SIGTERM and wait for a clean exit.
    pub(crate) async fn stop(&mut self, id: &NodeId) -> Result<(), String> {
        let Some(mut child) = self.nodes.get_mut(id).and_then(|p| p.child.take()) else {
            return Ok(());
        };
        if let Some(pid) = child.id() {
            // SAFETY: signalling a child we started and have not reaped.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGTERM);
            }
        }
        match tokio::time::timeout(Duration::from_secs(20), child.wait()).await {
            Ok(Ok(status)) if status.success() => Ok(()),
            Ok(Ok(status)) => Err(format!("node {id} exited with {status} on SIGTERM")),
            Ok(Err(e)) => Err(format!("waiting for node {id}: {e}")),
            Err(_) => {
                let _ = child.kill().await;
                Err(format!("node {id} did not stop within 20 s of SIGTERM"))
            }
        }
    }

    pub(crate) async fn client(&self, id: &NodeId) -> anyhow::Result<ControlClient> {
        let (cert, key) = self.operator_files(id);
        let ca = self.certs.join("ca.pem");
        let c = tokio::time::timeout(
            CALL_TIMEOUT,
            ControlClient::connect_with_files(self.control_addr(id), &ca, &cert, &key),
        )
        .await
        .map_err(|_| anyhow::anyhow!("control API of {id}: no answer"))??;
        Ok(c)
    }
}
