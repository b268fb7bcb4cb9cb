//! The live run: a federation of real `liandong node run` processes on
//! loopback, a chaos [`Proxy`] in front of every ancestor each node may
//! dial, load through the control API, kill -9 and restart, then heal,
//! converge and check every store.
//!
//! # Proxied topologies
//! Children dial the `listen` address their topology file gives for their
//! parent (and, on failover, for a further ancestor). Each node therefore
//! gets its own copy of the topology in which the address of every one of
//! its ancestors is replaced by a proxy's address in front of that ancestor
//! (one proxy per (node, ancestor) pair); its own address stays real, and
//! it is started with `--listen` on it. Certificates name node ids, not
//! addresses, so the rewrite is invisible to TLS.
//!
//! # The run
//! 1. `liandong certs init`, one operator per center (`certs issue-operator`),
//!    every node started and seen to log "node running".
//! 2. For `duration`: every `report_every` a random non-root center files a
//!    report (random severity) through its control API; every `kill_every`
//!    a random non-root node is killed with SIGKILL and restarted from its
//!    SQLite file after a random pause (sometimes longer than the
//!    failover threshold); scheduled partitions cut single parent links.
//! 3. Heal: every node up, every proxy stops dropping. Wait (on pushed
//!    "recorded" notices, re-checking what is missing, up to a deadline)
//!    until every filed report is at every center from its origin to its
//!    owner.
//! 4. Stop every node with SIGTERM, open every store and check: nothing
//!    acked is missing at the peer that acked it, nothing stored twice,
//!    every filed report at every center on its path, audit chains intact.

use liandong_control::{Act, Query};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use liandong_control::ControlClient;
use liandong_control::proto::{IdRef, Notice, Request, Response};
use liandong_dispatch::Store;
use liandong_dispatch::wire::{Category, EnvelopeId, Mode};
use liandong_node::runtime::default_control_addr;
use liandong_node::store::{Durable, StoreLocation, StoreOptions};
use liandong_topology::{Addressing, NodeId, Preset, Severity, Shape, Topology};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use super::proxy::{ChaosConfig, Proxy, StatsSnapshot};

/// Where the federation's shape comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopologySource {
    /// A generator preset (`demo`, `fuzhou`...) on [`LiveConfig::ip`].
    Preset(String),
    /// A topology file; its addresses are used as they are (loopback only).
    File(PathBuf),
}

/// One live run.
#[derive(Debug, Clone)]
pub struct LiveConfig {
    /// The `liandong` binary to run nodes with.
    pub binary: PathBuf,
    pub topology: TopologySource,
    /// Where a preset's nodes listen (consecutive ports from 7100).
    pub ip: Ipv4Addr,
    /// How long load and faults go on.
    pub duration: Duration,
    /// The faults of every link (partitions come from `partition_every`).
    pub chaos: ChaosConfig,
    /// Kill -9 a random non-root node this often; `None` for never.
    pub kill_every: Option<Duration>,
    /// Longest a killed node stays down (the pause is random, from 0.5 s).
    pub max_down: Duration,
    /// Cut one random parent link this often...
    pub partition_every: Option<Duration>,
    /// ...for this long.
    pub partition_for: Duration,
    /// File one report this often.
    pub report_every: Duration,
    pub seed: u64,
    /// How long after healing every report must be where it belongs.
    pub converge_within: Duration,
    /// Keep the run's directory (logs, stores) here instead of a temp dir.
    pub dir: Option<PathBuf>,
    /// Say what happens on stderr as it happens.
    pub verbose: bool,
}

impl LiveConfig {
    /// The demo topology on `127.0.40.1`, 60 s, 20% loss, a little delay
    /// and jitter, 1% duplication, a kill every 10 s, a report every 0.5 s.
    pub fn new(binary: PathBuf) -> LiveConfig {
        LiveConfig {
            binary,
            topology: TopologySource::Preset("demo".into()),
            ip: Ipv4Addr::new(127, 0, 40, 1),
            duration: Duration::from_secs(60),
            chaos: ChaosConfig {
                loss: 0.2,
                delay: Duration::from_millis(2),
                jitter: Duration::from_millis(8),
                duplicate: 0.01,
                bandwidth: None,
                ..ChaosConfig::default()
            },
            kill_every: Some(Duration::from_secs(10)),
            max_down: Duration::from_secs(7),
            partition_every: None,
            partition_for: Duration::from_secs(3),
            report_every: Duration::from_millis(500),
            seed: 1,
            converge_within: Duration::from_secs(120),
            dir: None,
            verbose: false,
        }
    }
}

/// What a run did and found.
#[derive(Debug, Clone, Default)]
pub struct LiveSummary {
    pub seed: u64,
    pub nodes: usize,
    pub proxies: usize,
    pub duration: Duration,
    pub loss: f64,
    /// Reports the nodes confirmed (Done) through the control API.
    pub filed: usize,
    /// Report calls that failed (node just killed) or were refused.
    pub calls_failed: usize,
    /// Filed reports found at their owner at the end.
    pub at_owner: usize,
    pub kills: usize,
    pub partitions: usize,
    /// "failed over" lines in the node logs (skip-level failover).
    pub failovers: usize,
    pub proxy: StatsSnapshot,
    /// From healing to every report at every center on its path.
    pub converged_after: Option<Duration>,
    /// Envelopes held over all stores, and acked outbox copies checked.
    pub envelopes_checked: usize,
    pub acked_checked: usize,
    /// Every check that failed, in words.
    pub failures: Vec<String>,
    /// Where the logs and stores are...
    pub dir: PathBuf,
    /// ...if they were kept (`LiveConfig::dir` given, or the run failed).
    pub kept: bool,
    pub wall: Duration,
}

impl LiveSummary {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

impl fmt::Display for LiveSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.proxy;
        writeln!(f, "live chaos run, seed {}", self.seed)?;
        writeln!(
            f,
            "  {} nodes, {} proxied links, {:.0} s of load at {:.0}% loss",
            self.nodes,
            self.proxies,
            self.duration.as_secs_f64(),
            self.loss * 100.0
        )?;
        writeln!(
            f,
            "  reports filed: {} ({} calls failed or refused), at their owner: {}",
            self.filed, self.calls_failed, self.at_owner
        )?;
        writeln!(
            f,
            "  kill -9: {}, partitions: {}, failovers logged: {}",
            self.kills, self.partitions, self.failovers
        )?;
        writeln!(
            f,
            "  datagrams: {} in, {} out; dropped {} (loss {}, partition {}, overflow {}); duplicated {}; delayed {}; reordered {}",
            p.received,
            p.forwarded,
            p.dropped(),
            p.dropped_loss,
            p.dropped_partition,
            p.dropped_overflow,
            p.duplicated,
            p.delayed,
            p.reordered
        )?;
        match self.converged_after {
            Some(d) => writeln!(f, "  converged {:.1} s after healing", d.as_secs_f64())?,
            None => writeln!(f, "  did not converge")?,
        }
        writeln!(
            f,
            "  stores: {} envelopes, {} acked copies checked",
            self.envelopes_checked, self.acked_checked
        )?;
        writeln!(
            f,
            "  wall time {:.1} s; {} {}",
            self.wall.as_secs_f64(),
            if self.kept { "files in" } else { "removed" },
            self.dir.display()
        )?;
        if self.failures.is_empty() {
            write!(f, "  end check: PASSED")
        } else {
            writeln!(f, "  end check: FAILED ({} problems)", self.failures.len())?;
            for (i, x) in self.failures.iter().enumerate() {
                if i == 20 {
                    writeln!(f, "    ... and {} more", self.failures.len() - 20)?;
                    break;
                }
                writeln!(f, "    - {x}")?;
            }
            Ok(())
        }
    }
}

/// A report the harness filed and the node confirmed.
#[derive(Debug, Clone)]
struct Filed {
    origin: NodeId,
    id: EnvelopeId,
    /// Origin first, owner last.
    path: Vec<NodeId>,
}

/// One node process and its log.
struct NodeProc {
    child: Option<Child>,
    /// How many times it has logged "node running".
    running: watch::Receiver<usize>,
    running_tx: Arc<watch::Sender<usize>>,
    starts: usize,
}

struct Federation {
    binary: PathBuf,
    dir: PathBuf,
    topology: Arc<Topology>,
    certs: PathBuf,
    nodes: BTreeMap<NodeId, NodeProc>,
}

const STARTUP: Duration = Duration::from_secs(30);
const CALL_TIMEOUT: Duration = Duration::from_secs(3);
const OPERATOR: &str = "值班员";

fn say(verbose: bool, t0: Instant, what: impl fmt::Display) {
    if verbose {
        eprintln!("[{:>6.1}s] {what}", t0.elapsed().as_secs_f64());
    }
}

async fn run_binary(binary: &Path, args: &[&std::ffi::OsStr]) -> anyhow::Result<()> {
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
    fn data_dir(&self, id: &NodeId) -> PathBuf {
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
    fn spawn(&mut self, id: &NodeId) -> anyhow::Result<()> {
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
            .env("RUST_LOG", "info")
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

    fn is_running(&self, id: &NodeId) -> bool {
        self.nodes
            .get(id)
            .is_some_and(|p| p.child.is_some() && *p.running.borrow() >= p.starts)
    }

    async fn wait_running(&self, id: &NodeId) -> anyhow::Result<()> {
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
    async fn kill9(&mut self, id: &NodeId) {
        if let Some(mut child) = self.nodes.get_mut(id).and_then(|p| p.child.take()) {
            let _ = child.kill().await;
        }
    }

    /// SIGTERM and wait for a clean exit.
    async fn stop(&mut self, id: &NodeId) -> Result<(), String> {
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

    async fn client(&self, id: &NodeId) -> anyhow::Result<ControlClient> {
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

fn load_topology(config: &LiveConfig) -> anyhow::Result<Topology> {
    match &config.topology {
        TopologySource::Preset(name) => {
            let preset = Preset::parse(name).with_context(|| format!("no topology preset {name:?}"))?;
            let addressing = Addressing {
                ip: IpAddr::V4(config.ip),
                base_port: 7100,
            };
            Ok(liandong_topology::generate(&Shape::Preset(preset), addressing)?)
        }
        TopologySource::File(path) => Topology::load(path).with_context(|| format!("topology {}", path.display())),
    }
}

/// The path a report takes: its origin, then each ancestor up to its owner.
fn report_path(topology: &Topology, origin: &NodeId, severity: Severity) -> Vec<NodeId> {
    let owner = topology.owner(origin, severity).map(|n| n.id.clone());
    let mut path = vec![origin.clone()];
    if owner.as_ref() == Some(origin) {
        return path;
    }
    for a in topology.ancestors(origin) {
        path.push(a.id.clone());
        if Some(&a.id) == owner.as_ref() {
            break;
        }
    }
    path
}

fn hex(id: EnvelopeId) -> IdRef {
    IdRef(format!("{:032x}", id.0))
}

/// Random partition windows over `duration`: every `every`, one random
/// parent link for `length`. Returns (child, start, length).
fn partition_schedule(
    rng: &mut StdRng,
    children: &[NodeId],
    duration: Duration,
    every: Option<Duration>,
    length: Duration,
) -> Vec<(NodeId, Duration, Duration)> {
    let Some(every) = every.filter(|e| !e.is_zero()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut t = every;
    while t + length <= duration && !children.is_empty() {
        let c = children[rng.random_range(0..children.len())].clone();
        out.push((c, t, length));
        t += every;
    }
    out
}

/// Runs the federation under chaos, then checks it. An `Err` means the
/// harness itself could not run; failed checks are in
/// [`LiveSummary::failures`].
pub async fn run(config: LiveConfig) -> anyhow::Result<LiveSummary> {
    let wall = Instant::now();
    let t0 = wall;
    let v = config.verbose;
    let mut rng = StdRng::seed_from_u64(config.seed);
    let (tempdir, dir) = match &config.dir {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
            (None, d.clone())
        }
        None => {
            let t = tempfile::Builder::new().prefix("liandong-live-").tempdir()?;
            let p = t.path().to_path_buf();
            (Some(t), p)
        }
    };
    for sub in ["topology", "logs", "data"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }

    // The federation, its certificates, and one proxied topology per node.
    let topology = Arc::new(load_topology(&config)?);
    for n in topology.nodes() {
        if !n.listen.ip().is_loopback() {
            bail!(
                "node {} listens on {}: the live harness runs on loopback only",
                n.id,
                n.listen
            );
        }
    }
    let canonical = topology.to_toml();
    let topology_file = dir.join("topology.toml");
    std::fs::write(&topology_file, &canonical)?;
    let certs = dir.join("certs");
    run_binary(
        &config.binary,
        &[
            "certs".as_ref(),
            "init".as_ref(),
            "--topology".as_ref(),
            topology_file.as_os_str(),
            "--out".as_ref(),
            certs.as_os_str(),
        ],
    )
    .await?;
    let non_root: Vec<NodeId> = topology
        .nodes()
        .filter(|n| n.parent.is_some())
        .map(|n| n.id.clone())
        .collect();
    let schedule = partition_schedule(
        &mut rng,
        &non_root,
        config.duration,
        config.partition_every,
        config.partition_for,
    );
    let mut proxies: Vec<((NodeId, NodeId), Proxy)> = Vec::new();
    for n in topology.nodes() {
        let mut text = canonical.clone();
        for a in topology.ancestors(&n.id) {
            let mut chaos = config.chaos.clone();
            chaos.partitions = schedule
                .iter()
                .filter(|(c, _, _)| *c == n.id && n.parent.as_ref() == Some(&a.id))
                .map(|(_, s, l)| (*s, *l))
                .collect();
            let seed = config.seed ^ (proxies.len() as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let proxy = Proxy::start(SocketAddr::new(a.listen.ip(), 0), a.listen, chaos, seed)
                .await
                .with_context(|| format!("proxy {} -> {}", n.id, a.id))?;
            let real = format!("listen = \"{}\"", a.listen);
            if text.matches(&real).count() != 1 {
                bail!("cannot find {real} once in the topology text");
            }
            text = text.replace(&real, &format!("listen = \"{}\"", proxy.addr()));
            proxies.push(((n.id.clone(), a.id.clone()), proxy));
        }
        Topology::parse(&text, None).map_err(|e| anyhow::anyhow!("proxied topology for {}: {e}", n.id))?;
        std::fs::write(dir.join("topology").join(format!("{}.toml", n.id)), text)?;
    }
    say(
        v,
        t0,
        format!(
            "{} nodes, {} proxies in {}",
            topology.len(),
            proxies.len(),
            dir.display()
        ),
    );

    let mut fed = Federation {
        binary: config.binary.clone(),
        dir: dir.clone(),
        topology: topology.clone(),
        certs: certs.clone(),
        nodes: BTreeMap::new(),
    };
    for n in topology.nodes() {
        run_binary(
            &config.binary,
            &[
                "certs".as_ref(),
                "issue-operator".as_ref(),
                "--ca".as_ref(),
                certs.as_os_str(),
                "--node".as_ref(),
                n.id.as_str().as_ref(),
                "--name".as_ref(),
                OPERATOR.as_ref(),
                "--role".as_ref(),
                "operator".as_ref(),
            ],
        )
        .await?;
    }
    let ids: Vec<NodeId> = topology.nodes().map(|n| n.id.clone()).collect();
    for id in &ids {
        fed.spawn(id)?;
    }
    for id in &ids {
        fed.wait_running(id).await?;
    }
    say(v, t0, "every node running; load and faults begin");

    let mut summary = LiveSummary {
        seed: config.seed,
        nodes: topology.len(),
        proxies: proxies.len(),
        duration: config.duration,
        loss: config.chaos.loss,
        partitions: schedule.len(),
        dir: dir.clone(),
        ..LiveSummary::default()
    };
    let outcome = drive(&config, &mut fed, &mut rng, &non_root, &mut summary, t0).await;
    let filed = match outcome {
        Ok(filed) => filed,
        Err(e) => {
            for id in &ids {
                fed.kill9(id).await;
            }
            return Err(e);
        }
    };

    // Heal: every node up, no more loss.
    for id in &ids {
        if fed.nodes[id].child.is_none() {
            fed.spawn(id)?;
        }
    }
    for id in &ids {
        fed.wait_running(id).await?;
    }
    for (_, p) in &proxies {
        p.heal();
    }
    let healed = Instant::now();
    say(
        v,
        t0,
        format!("healed; waiting for {} reports to converge", filed.len()),
    );
    let missing = converge(&fed, &filed, healed + config.converge_within).await?;
    if missing.is_empty() {
        summary.converged_after = Some(healed.elapsed());
    } else {
        for (center, id) in missing.iter().take(50) {
            summary.failures.push(format!(
                "report {id} not at {center} {:?} after healing",
                config.converge_within
            ));
        }
    }
    say(v, t0, "stopping every node");
    for id in ids.iter().rev() {
        if let Err(e) = fed.stop(id).await {
            summary.failures.push(e);
        }
    }
    for (_, p) in &mut proxies {
        summary.proxy += p.stats();
        p.stop();
    }
    check_stores(&fed, &filed, &mut summary).await?;
    let (panics, failovers) = scan_logs(&dir);
    summary.failovers = failovers;
    for p in panics {
        summary.failures.push(format!("a node panicked: {p}"));
    }
    summary.wall = wall.elapsed();
    summary.kept = tempdir.is_none() || !summary.passed();
    if let Some(t) = tempdir {
        if summary.passed() {
            drop(t);
        } else {
            // Keep the logs and stores of a failed run.
            let _ = t.keep();
        }
    }
    Ok(summary)
}

/// Load and kills for `config.duration`; returns what was filed.
async fn drive(
    config: &LiveConfig,
    fed: &mut Federation,
    rng: &mut StdRng,
    non_root: &[NodeId],
    summary: &mut LiveSummary,
    t0: Instant,
) -> anyhow::Result<Vec<Filed>> {
    let v = config.verbose;
    let start = Instant::now();
    let end = start + config.duration;
    let mut filed = Vec::new();
    let mut clients: HashMap<NodeId, ControlClient> = HashMap::new();
    let mut report_tick = tokio::time::interval_at(start + config.report_every, config.report_every);
    let kill_every = config
        .kill_every
        .filter(|k| !k.is_zero())
        .unwrap_or(Duration::from_secs(86_400 * 365));
    let mut kill_tick = tokio::time::interval_at(start + kill_every, kill_every);
    // Nodes down, and when each comes back.
    let mut down: BTreeMap<NodeId, Instant> = BTreeMap::new();
    let severities = [
        (Severity::Routine, 40),
        (Severity::IV, 25),
        (Severity::III, 20),
        (Severity::II, 10),
        (Severity::I, 5),
    ];
    let mut n = 0u64;
    loop {
        let next_restart = down.values().min().copied();
        tokio::select! {
            // The end first: a tick due at the same instant does not run.
            biased;
            _ = tokio::time::sleep_until(end) => break,
            _ = report_tick.tick() => {
                let up: Vec<&NodeId> = non_root.iter().filter(|id| fed.is_running(id)).collect();
                if up.is_empty() {
                    continue;
                }
                let origin = up[rng.random_range(0..up.len())].clone();
                let mut pick = rng.random_range(0..100);
                let mut severity = Severity::Routine;
                for (s, w) in severities {
                    if pick < w {
                        severity = s;
                        break;
                    }
                    pick -= w;
                }
                n += 1;
                if !clients.contains_key(&origin) {
                    match fed.client(&origin).await {
                        Ok(c) => {
                            clients.insert(origin.clone(), c);
                        }
                        Err(e) => {
                            say(v, t0, format!("no control connection to {origin}: {e}"));
                            summary.calls_failed += 1;
                            continue;
                        }
                    }
                }
                let request = Request::Act(Act::Report {
                    severity,
                    category: Category::Flood,
                    title: format!("演练 第{n}报"),
                    detail: "混沌测试：链路丢包与节点重启下的上报".into(),
                    place: "测试点".into(),
                    mode: Mode::Exercise,
                });
                let answer = tokio::time::timeout(CALL_TIMEOUT, clients[&origin].call(request)).await;
                match answer {
                    Ok(Ok(Response::Done { id, .. })) => {
                        let path = report_path(&fed.topology, &origin, severity);
                        filed.push(Filed { origin, id, path });
                    }
                    Ok(Ok(other)) => {
                        say(v, t0, format!("report at {origin} refused: {other:?}"));
                        summary.calls_failed += 1;
                    }
                    Ok(Err(_)) | Err(_) => {
                        clients.remove(&origin);
                        summary.calls_failed += 1;
                    }
                }
            }
            _ = kill_tick.tick(), if config.kill_every.is_some() => {
                let up: Vec<&NodeId> = non_root.iter().filter(|id| fed.is_running(id)).collect();
                if up.is_empty() {
                    continue;
                }
                let victim = up[rng.random_range(0..up.len())].clone();
                let max = config.max_down.max(Duration::from_millis(600));
                let pause = Duration::from_millis(rng.random_range(500..=max.as_millis() as u64));
                fed.kill9(&victim).await;
                clients.remove(&victim);
                summary.kills += 1;
                say(v, t0, format!("kill -9 {victim}; back in {:.1} s", pause.as_secs_f64()));
                down.insert(victim, Instant::now() + pause);
            }
            _ = sleep_until_opt(next_restart) => {
                let now = Instant::now();
                let due: Vec<NodeId> = down.iter().filter(|(_, t)| **t <= now).map(|(id, _)| id.clone()).collect();
                for id in due {
                    down.remove(&id);
                    fed.spawn(&id)?;
                    say(v, t0, format!("restarted {id}"));
                }
            }
        }
    }
    say(
        v,
        t0,
        format!("load over: {} reports filed, {} kills", filed.len(), summary.kills),
    );
    Ok(filed)
}

async fn sleep_until_opt(due: Option<Instant>) {
    match due {
        Some(due) => tokio::time::sleep_until(due).await,
        None => std::future::pending().await,
    }
}

/// Waits until every filed report is at every center on its path, or the
/// deadline; returns what is still missing (center, report).
async fn converge(fed: &Federation, filed: &[Filed], deadline: Instant) -> anyhow::Result<Vec<(NodeId, EnvelopeId)>> {
    let mut wanted: BTreeSet<(NodeId, EnvelopeId)> = BTreeSet::new();
    for f in filed {
        for c in &f.path {
            wanted.insert((c.clone(), f.id));
        }
    }
    let centers: BTreeSet<NodeId> = wanted.iter().map(|(c, _)| c.clone()).collect();
    let mut clients: BTreeMap<NodeId, ControlClient> = BTreeMap::new();
    let recorded = Arc::new(Notify::new());
    let mut watchers = Vec::new();
    for c in &centers {
        let client = fed.client(c).await?;
        // Pushed "recorded" notices wake the re-check; a re-check every
        // second covers a lagged or broken subscription.
        if let Ok(mut sub) = client.subscribe().await {
            let recorded = recorded.clone();
            watchers.push(tokio::spawn(async move {
                while let Some(Ok(r)) = sub.next().await {
                    if let Response::Pushed(p) = r
                        && matches!(p.notice, Notice::IncidentRecorded { .. } | Notice::Lagged { .. })
                    {
                        recorded.notify_one();
                    }
                }
            }));
        }
        clients.insert(c.clone(), client);
    }
    loop {
        let mut still = BTreeSet::new();
        for (c, id) in &wanted {
            let answer = tokio::time::timeout(
                CALL_TIMEOUT,
                clients[c].call(Request::Query(Query::Incident { id: hex(*id) })),
            )
            .await;
            if !matches!(answer, Ok(Ok(Response::Incident(_)))) {
                still.insert((c.clone(), *id));
            }
        }
        wanted = still;
        if wanted.is_empty() || Instant::now() >= deadline {
            break;
        }
        let wait = (deadline - Instant::now()).min(Duration::from_secs(1));
        let _ = tokio::time::timeout(wait, recorded.notified()).await;
    }
    for w in watchers {
        w.abort();
    }
    for c in clients.values() {
        c.close().await;
    }
    Ok(wanted.into_iter().collect())
}

/// Opens every store (nodes stopped) and checks the invariants.
async fn check_stores(fed: &Federation, filed: &[Filed], summary: &mut LiveSummary) -> anyhow::Result<()> {
    let mut stores: BTreeMap<NodeId, Store> = BTreeMap::new();
    let mut stored_counts: BTreeMap<NodeId, HashMap<EnvelopeId, usize>> = BTreeMap::new();
    for n in fed.topology.nodes() {
        let location = StoreLocation::Sqlite(fed.data_dir(&n.id).join("node.db"));
        let durable = Durable::open(&location, &n.id, StoreOptions::default())
            .await
            .with_context(|| format!("open the store of {}", n.id))?;
        if let Err(e) = durable.verify_audit().await {
            summary.failures.push(format!("audit chain of {}: {e}", n.id));
        }
        let store = durable
            .load()
            .await
            .with_context(|| format!("load the store of {}", n.id))?;
        let mut counts: HashMap<EnvelopeId, usize> = HashMap::new();
        for row in durable.audit_tail(u32::MAX).await? {
            if let Some(id) = row.envelope
                && row.what.starts_with("stored ")
            {
                *counts.entry(id).or_default() += 1;
            }
        }
        durable.close().await;
        stores.insert(n.id.clone(), store);
        stored_counts.insert(n.id.clone(), counts);
    }
    check_invariants(&stores, &stored_counts, filed, summary);
    summary.filed = filed.len();
    Ok(())
}

/// The end checks over every node's loaded store and its audit counts
/// ("stored" rows per envelope): failures go to `summary.failures`.
fn check_invariants(
    stores: &BTreeMap<NodeId, Store>,
    stored_counts: &BTreeMap<NodeId, HashMap<EnvelopeId, usize>>,
    filed: &[Filed],
    summary: &mut LiveSummary,
) {
    // Nothing acked is missing at the peer that acked it.
    for (node, store) in stores {
        summary.envelopes_checked += store.envelopes.len();
        for ((peer, envelope), entry) in &store.outbox {
            if entry.acked && !entry.gave_up {
                summary.acked_checked += 1;
                let held = stores.get(peer).is_some_and(|s| s.envelopes.contains_key(envelope));
                if !held {
                    summary.failures.push(format!(
                        "{node} holds {envelope} as acked by {peer}, which does not have it"
                    ));
                }
            }
        }
    }
    // Nothing stored twice.
    for (node, counts) in stored_counts {
        for (id, c) in counts {
            if *c > 1 {
                summary.failures.push(format!("{id} stored {c} times at {node}"));
            }
        }
    }
    // Every filed report at every center on its path, stored once there.
    for f in filed {
        if stores
            .get(f.path.last().expect("a path"))
            .is_some_and(|s| s.incidents.contains_key(&f.id))
        {
            summary.at_owner += 1;
        }
        for c in &f.path {
            if !stores[c].incidents.contains_key(&f.id) {
                summary
                    .failures
                    .push(format!("report {} from {} missing in the store of {c}", f.id, f.origin));
            }
            let n = stored_counts[c].get(&f.id).copied().unwrap_or(0);
            if n != 1 {
                summary
                    .failures
                    .push(format!("report {} from {} stored {n} times at {c}", f.id, f.origin));
            }
        }
    }
    summary.filed = filed.len();
}

/// From the node logs: every line that reports a panic, and how many
/// times a node logged that it failed over to an ancestor.
fn scan_logs(dir: &Path) -> (Vec<String>, usize) {
    let mut panics = Vec::new();
    let mut failovers = 0;
    let Ok(entries) = std::fs::read_dir(dir.join("logs")) else {
        return (panics, failovers);
    };
    for e in entries.flatten() {
        let Ok(text) = std::fs::read_to_string(e.path()) else {
            continue;
        };
        for line in text.lines() {
            if line.contains("panicked at") {
                panics.push(format!("{}: {line}", e.file_name().to_string_lossy()));
            }
            if line.contains("failed over") {
                failovers += 1;
            }
        }
    }
    (panics, failovers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_path_runs_from_origin_to_owner() {
        let t = liandong_topology::generate(&Shape::Preset(Preset::Demo), Addressing::default()).unwrap();
        let id = |s: &str| NodeId::parse(s).unwrap();
        let village = id("350102001001");
        assert_eq!(
            report_path(&t, &village, Severity::Routine),
            vec![village.clone(), id("350102001")]
        );
        assert_eq!(
            report_path(&t, &village, Severity::III),
            vec![village.clone(), id("350102001"), id("350102"), id("350100")]
        );
    }

    #[test]
    fn partitions_are_scheduled_inside_the_run() {
        let mut rng = StdRng::seed_from_u64(1);
        let kids = vec![NodeId::parse("350102").unwrap()];
        let s = partition_schedule(
            &mut rng,
            &kids,
            Duration::from_secs(20),
            Some(Duration::from_secs(5)),
            Duration::from_secs(3),
        );
        assert_eq!(s.len(), 3);
        assert!(s.iter().all(|(_, start, len)| *start + *len <= Duration::from_secs(20)));
        assert!(partition_schedule(&mut rng, &kids, Duration::from_secs(20), None, Duration::from_secs(3)).is_empty());
    }

    #[test]
    fn the_checker_fails_on_a_lost_ack_a_double_store_and_a_missing_report() {
        use liandong_dispatch::store::OutboxEntry;
        use liandong_dispatch::wire::Lane;
        let id = |s: &str| NodeId::parse(s).unwrap();
        let (town, county) = (id("350102001"), id("350102"));
        let report = EnvelopeId(7);
        let mut stores = BTreeMap::new();
        let mut town_store = Store::default();
        town_store.outbox.insert(
            (county.clone(), report),
            OutboxEntry {
                to: vec![county.clone()],
                lane: Lane::Normal,
                catch_up: false,
                acked: true,
                gave_up: false,
            },
        );
        stores.insert(town.clone(), town_store);
        stores.insert(county.clone(), Store::default());
        let mut counts = BTreeMap::new();
        counts.insert(town.clone(), HashMap::from([(report, 2)]));
        counts.insert(county.clone(), HashMap::new());
        let filed = [Filed {
            origin: town.clone(),
            id: report,
            path: vec![town.clone(), county.clone()],
        }];
        let mut summary = LiveSummary::default();
        check_invariants(&stores, &counts, &filed, &mut summary);
        let all = summary.failures.join("\n");
        assert!(all.contains("as acked by 350102, which does not have it"), "{all}");
        assert!(all.contains("stored 2 times at 350102001"), "{all}");
        assert!(all.contains("missing in the store of 350102001"), "{all}");
        assert!(all.contains("missing in the store of 350102"), "{all}");
        assert_eq!(summary.at_owner, 0);
        assert!(!summary.passed());
    }
}
