//! The driver: one task per node that runs the dispatch core.
//!
//! ```text
//!   transport (QUIC links) ──LinkEvent──┐
//!   control API (operators) ───Call─────┼──> driver task ──> Core::handle_*
//!   timer (Core::poll_timeout) ─────────┘        │
//!                                                 ├─ Persist → batch ─┐ one commit
//!                                                 └─ Send / Notify /  │ (group commit)
//!                                                    Connect / reply ─┴─> executed after it
//! ```
//!
//! Each turn the driver takes every input that is ready (up to
//! [`BATCH_INPUTS`]), hands each to the core, collects the records of
//! every Persist into one batch and every other effect, in order, into a
//! list; commits the batch in one transaction; and only then executes the
//! list. So a hop ack, a send or an operator's "done" never goes out before
//! what it depends on is on disk, and durable throughput is not one fsync
//! per message.
//!
//! A failed commit (disk full, database gone) is treated as a crash of the
//! in-memory state, not of the process: the effects of that batch are
//! discarded (peers were not acked, so they resend; operators are told
//! their action was not stored), the core is rebuilt from what the store
//! holds, and new work is refused with the storage error until a probe
//! commit succeeds. Nothing already acked is lost, because it was
//! committed before it was acked.
//!
//! The driver makes no protocol decisions: it waits, hands over, drains
//! and executes. Everything it knows about incidents and orders it reads
//! from the core.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use liandong_certs::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use liandong_certs::{
    CaDir, Identity, RevocationList, Revocations, Usage, Verifier, ed25519_public_key, load_ca_certificate,
    load_certificates, load_private_key,
};
use liandong_control::clock;
use liandong_control::{Act, Query};
use liandong_dispatch::room::{Minutes, Room};
use liandong_dispatch::sign::{SignatureCheck, SignatureError};
use liandong_dispatch::store::Incident;
use liandong_dispatch::wire::{Report, Role, RoomAct};
use liandong_dispatch::{
    Command, Core, CoreConfig, Ed25519Signer, Effect, EnvelopeId, Event, Order, Record, TargetState, Timestamp,
};
use liandong_topology::{Kind, NodeId, Topology};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tracing::{debug, error, info, info_span, warn};

use crate::control::{Call, ControlConfig, ControlServer};
use crate::observe::serve_metrics;
use crate::store::{Durable, StoreLocation, StoreOptions};
use crate::transport::{LinkEvent, Transport, TransportConfig};
use liandong_control::proto::{
    IdRef, LinkView, NodeStatus, Notice, Operator, OrderView, Pushed, Request, Response, RoomView,
};

/// Most inputs handled per turn, i.e. per commit. Bounds the latency one
/// turn adds and the size of one transaction.
pub const BATCH_INPUTS: usize = 1024;
/// Inputs waiting from links and from operators (channel bounds). A full
/// link channel back-pressures QUIC flow control: peers slow down, and
/// their unacked copies wait in their own outboxes.
const LINK_QUEUE: usize = 8192;
const CALL_QUEUE: usize = 1024;
/// Notices kept for slow subscribers before they are told they lagged.
const PUSH_QUEUE: usize = 4096;
/// Longest texts an operator may enter, in characters.
const MAX_TITLE: usize = 200;
const MAX_TEXT: usize = 8000;
/// How often the revocation file is checked for changes.
const REVOCATION_CHECK: Duration = Duration::from_secs(2);

/// Why a node could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("node {0} is not in the topology")]
    UnknownNode(NodeId),
    #[error("certificates: {0}")]
    Certs(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Transport(#[from] crate::transport::TransportError),
    #[error(transparent)]
    Control(#[from] liandong_control::ControlError),
    #[error("metrics endpoint on {addr}: {source}")]
    Metrics { addr: SocketAddr, source: std::io::Error },
    #[error("cannot create the data directory {path}: {source}")]
    DataDir { path: PathBuf, source: std::io::Error },
}

/// Where a node's certificate material is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertPaths {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: PathBuf,
    /// The revocation list, reloaded when it changes; none means nothing
    /// is revoked.
    pub revoked: Option<PathBuf>,
    /// Where other nodes' certificates are (`<dir>/<id>/node.pem`): their
    /// public keys check the origin signatures of what they send.
    pub peers: PathBuf,
}

impl CertPaths {
    /// Finds node `id`'s files in `dir`, which is either the federation's
    /// certificate directory (`nodes/<id>/node.pem`, `ca.pem`,
    /// `revoked.toml`; `ca.key` need not be there, and should not be on a
    /// center's machine) or one node's own directory (`node.pem`,
    /// `node.key`, `ca.pem`, optional `revoked.toml`, other nodes'
    /// certificates in the sibling directories).
    pub fn locate(dir: &Path, id: &NodeId) -> Result<CertPaths, NodeError> {
        let fed = CaDir::new(dir);
        if fed.node_cert(id).is_file() {
            let revoked = fed.revocations();
            return Ok(CertPaths {
                cert: fed.node_cert(id),
                key: fed.node_key(id),
                ca: fed.ca_cert(),
                revoked: revoked.is_file().then_some(revoked),
                peers: dir.join("nodes"),
            });
        }
        let own = dir.join("node.pem");
        if own.is_file() {
            let revoked = dir.join("revoked.toml");
            let up = dir.parent().unwrap_or(dir);
            let fed_revoked = up.parent().map(|p| p.join("revoked.toml"));
            return Ok(CertPaths {
                cert: own,
                key: dir.join("node.key"),
                ca: dir.join("ca.pem"),
                revoked: if revoked.is_file() {
                    Some(revoked)
                } else {
                    fed_revoked.filter(|p| p.is_file())
                },
                peers: up.to_path_buf(),
            });
        }
        Err(NodeError::Certs(format!(
            "no certificate for node {id} in {}: expected {} (a federation directory) or {} (a node directory)",
            dir.display(),
            fed.node_cert(id).display(),
            own.display()
        )))
    }
}

/// Everything a node needs to run.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    pub topology: Arc<Topology>,
    pub id: NodeId,
    pub certs: CertPaths,
    pub data_dir: PathBuf,
    pub store: StoreLocation,
    pub store_options: StoreOptions,
    /// Node links; normally the topology's address for this node.
    pub listen: SocketAddr,
    /// The control API (operators' console and CLI).
    pub control: SocketAddr,
    /// The Prometheus endpoint, if wanted.
    pub metrics: Option<SocketAddr>,
    pub core: CoreConfig,
}

/// The control port a node uses when none is given: the link port plus
/// this, on loopback (operators sit at the center's own machine).
pub const CONTROL_PORT_OFFSET: u16 = 1000;

impl NodeConfig {
    /// The usual configuration: links on the topology's address, control
    /// on loopback at the link port + 1000, SQLite in `data_dir` unless
    /// `database` is a PostgreSQL URL.
    pub fn new(
        topology: Arc<Topology>,
        id: NodeId,
        certs_dir: &Path,
        data_dir: &Path,
        database: Option<&str>,
    ) -> Result<NodeConfig, NodeError> {
        let ix = topology.ix(&id).ok_or_else(|| NodeError::UnknownNode(id.clone()))?;
        let listen = topology.node(ix).listen;
        let control = default_control_addr(listen);
        Ok(NodeConfig {
            certs: CertPaths::locate(certs_dir, &id)?,
            store: StoreLocation::choose(database, data_dir)?,
            store_options: StoreOptions::default(),
            data_dir: data_dir.to_path_buf(),
            listen,
            control,
            metrics: None,
            core: CoreConfig::default(),
            topology,
            id,
        })
    }
}

/// The link port + 1000, on loopback: on the link address itself when that
/// is a loopback address (several federations on one machine, as in tests),
/// else on 127.0.0.1 (operators sit at the center's own machine).
pub fn default_control_addr(listen: SocketAddr) -> SocketAddr {
    let port = listen
        .port()
        .checked_add(CONTROL_PORT_OFFSET)
        .unwrap_or(listen.port() % 1000 + 1024);
    let ip = if listen.ip().is_loopback() {
        listen.ip()
    } else {
        std::net::Ipv4Addr::LOCALHOST.into()
    };
    SocketAddr::new(ip, port)
}

/// A running node. Dropping it without [`Node::shutdown`] aborts it.
pub struct Node {
    id: NodeId,
    link_addr: SocketAddr,
    control_addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    calls: mpsc::Sender<Call>,
    pushed: broadcast::Sender<Pushed>,
    stop: watch::Sender<bool>,
    driver: Option<JoinHandle<()>>,
    metrics_task: Option<JoinHandle<()>>,
}

impl Node {
    /// Opens the store (running migrations), restores the core from it,
    /// binds links, control API and metrics, and starts driving.
    pub async fn start(config: NodeConfig) -> Result<Node, NodeError> {
        let span = info_span!("node", id = %config.id);
        let _enter = span.enter();
        let topology = config.topology.clone();
        let me = config.id.clone();
        topology.ix(&me).ok_or_else(|| NodeError::UnknownNode(me.clone()))?;
        std::fs::create_dir_all(&config.data_dir).map_err(|source| NodeError::DataDir {
            path: config.data_dir.clone(),
            source,
        })?;

        let creds = Credentials::load(&config.certs, &topology, &me)?;
        let durable = Durable::open(&config.store, &me, config.store_options.clone()).await?;
        let restored = durable.load().await?;
        let now = clock::now();
        let held = restored.envelopes.len();
        let core = creds.core(&topology, &me, &config.core, restored, now)?;
        info!(
            envelopes = held,
            incidents = core.incidents().count(),
            "restored from the store"
        );

        let (link_tx, link_rx) = mpsc::channel(LINK_QUEUE);
        let transport = Transport::start(
            TransportConfig {
                topology: topology.clone(),
                me: me.clone(),
                listen: config.listen,
                verifier: creds.verifier.clone(),
                chain: creds.chain.clone(),
                key: creds.key.clone_key(),
            },
            link_tx,
        )?;
        let link_addr = transport.local_addr();
        if let Some(parent) = topology.parent(&me) {
            transport.connect(&parent.id);
        }

        let (call_tx, call_rx) = mpsc::channel(CALL_QUEUE);
        let (pushed, _) = broadcast::channel(PUSH_QUEUE);
        let control = ControlServer::start(
            ControlConfig {
                listen: config.control,
                me: me.clone(),
                verifier: creds.verifier.clone(),
                chain: creds.chain.clone(),
                key: creds.key.clone_key(),
            },
            call_tx.clone(),
            pushed.clone(),
        )?;
        let control_addr = control.local_addr();
        // Tell the CLI where to find the control API of this data directory.
        let _ = std::fs::write(config.data_dir.join("control.addr"), format!("{control_addr}\n"));

        let (metrics_addr, metrics_task) = match config.metrics {
            Some(addr) => {
                let (bound, task) = serve_metrics(addr)
                    .await
                    .map_err(|source| NodeError::Metrics { addr, source })?;
                (Some(bound), Some(task))
            }
            None => (None, None),
        };
        info!(links = %link_addr, control = %control_addr, metrics = ?metrics_addr, "node running");

        let (stop, stop_rx) = watch::channel(false);
        let driver = Driver {
            me: me.clone(),
            topology,
            core,
            creds,
            core_config: config.core.clone(),
            durable,
            transport,
            control,
            pushed: pushed.clone(),
            link_rx,
            call_rx,
            stop: stop_rx,
            started: now,
            storage_problem: None,
            probe_at: None,
            revoked_seen: None,
            revoked_path: config.certs.revoked.clone(),
            labels: me.to_string(),
            links_observed: None,
        };
        let handle = tokio::spawn(driver.run());
        drop(_enter);
        Ok(Node {
            id: me,
            link_addr,
            control_addr,
            metrics_addr,
            calls: call_tx,
            pushed,
            stop,
            driver: Some(handle),
            metrics_task,
        })
    }

    pub fn id(&self) -> &NodeId {
        &self.id
    }

    pub fn link_addr(&self) -> SocketAddr {
        self.link_addr
    }

    pub fn control_addr(&self) -> SocketAddr {
        self.control_addr
    }

    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// Every change from now on, as the control API pushes it.
    pub fn subscribe(&self) -> broadcast::Receiver<Pushed> {
        self.pushed.subscribe()
    }

    /// Asks the node in-process, as `operator` (the demo's traffic
    /// generator and tests use this; consoles use the control API).
    pub async fn call(&self, operator: Operator, request: Request) -> Response {
        let (reply, answer) = oneshot::channel();
        if self
            .calls
            .send(Call {
                operator,
                request,
                reply,
            })
            .await
            .is_err()
        {
            return stopped();
        }
        answer.await.unwrap_or_else(|_| stopped())
    }

    /// Stops taking input, commits what is pending, closes links and the
    /// control API gracefully, and closes the store.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(driver) = self.driver.take() {
            let _ = driver.await;
        }
        if let Some(task) = self.metrics_task.take() {
            task.abort();
        }
    }

    /// Stops at once, as a crash would: nothing pending is committed and
    /// nothing is closed gracefully (what was committed stays).
    pub fn abort(mut self) {
        if let Some(driver) = self.driver.take() {
            driver.abort();
        }
        if let Some(task) = self.metrics_task.take() {
            task.abort();
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(driver) = self.driver.take() {
            driver.abort();
        }
        if let Some(task) = self.metrics_task.take() {
            task.abort();
        }
    }
}

fn stopped() -> Response {
    Response::Refused {
        reason: "the node is shutting down".into(),
    }
}

// ---- credentials ----

/// This node's certificate and key, the CA verifier, and the public keys of
/// the nodes whose envelopes it may receive.
struct Credentials {
    verifier: Arc<Verifier>,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    check: Arc<Keyring>,
}

impl Credentials {
    fn load(paths: &CertPaths, topology: &Arc<Topology>, me: &NodeId) -> Result<Credentials, NodeError> {
        let certs = |e: liandong_certs::CertError| NodeError::Certs(e.to_string());
        let list = match &paths.revoked {
            Some(p) => RevocationList::load(p).map_err(|e| NodeError::Certs(e.to_string()))?,
            None => RevocationList::new(),
        };
        let ca = load_ca_certificate(&paths.ca).map_err(certs)?;
        let verifier =
            Arc::new(Verifier::new(ca, Revocations::new(list)).map_err(|e| NodeError::Certs(e.to_string()))?);
        let chain = load_certificates(&paths.cert).map_err(certs)?;
        let key = load_private_key(&paths.key).map_err(certs)?;
        let own = verifier
            .verify(&chain, UnixTime::now(), Usage::Client)
            .map_err(|e| NodeError::Certs(format!("{}: {e}", paths.cert.display())))?;
        if own.identity != Identity::Node(me.clone()) {
            return Err(NodeError::Certs(format!(
                "{} is the certificate of {}, not of node {me}",
                paths.cert.display(),
                own.identity
            )));
        }
        let check = Arc::new(Keyring::load(&paths.peers, topology, me, &verifier, &chain));
        Ok(Credentials {
            verifier,
            chain,
            key,
            check,
        })
    }

    fn signer(&self) -> Result<Ed25519Signer, NodeError> {
        Ed25519Signer::from_pkcs8(self.key.secret_der()).map_err(|e| NodeError::Certs(format!("node key: {e}")))
    }

    fn core(
        &self,
        topology: &Arc<Topology>,
        me: &NodeId,
        config: &CoreConfig,
        store: liandong_dispatch::Store,
        now: Timestamp,
    ) -> Result<Core, NodeError> {
        Core::restore(
            topology.clone(),
            me.clone(),
            config.clone(),
            Box::new(self.signer()?),
            self.check.clone(),
            os_seed(),
            store,
            now,
        )
        .map_err(|_| NodeError::UnknownNode(me.clone()))
    }
}

/// A fresh seed for the core's ids and jitter.
fn os_seed() -> u64 {
    use ring::rand::{SecureRandom, SystemRandom};
    let mut bytes = [0u8; 8];
    // SystemRandom only fails when the OS has no randomness at all.
    if SystemRandom::new().fill(&mut bytes).is_err() {
        return clock::now().0 ^ u64::from(std::process::id());
    }
    u64::from_le_bytes(bytes)
}

/// Public keys of the nodes whose envelopes this node checks, from their
/// CA-verified certificates in the federation directory: its ancestors
/// and subtree at start, and any other node of the topology the first
/// time one of its envelopes arrives (a coordination room carries what
/// an invited unit of another county said; a node added to the
/// federation later). A certificate that cannot be read is tried again
/// after [`KEY_RETRY`], not on every envelope.
struct Keyring {
    keys: RwLock<HashMap<NodeId, Vec<u8>>>,
    dir: PathBuf,
    verifier: Arc<Verifier>,
    topology: Arc<Topology>,
    /// Ids whose certificate was missing or invalid, and when.
    missing: std::sync::Mutex<HashMap<NodeId, std::time::Instant>>,
}

/// How long a node whose certificate could not be read waits before it
/// is read again.
const KEY_RETRY: Duration = Duration::from_secs(30);

impl Keyring {
    fn load(
        dir: &Path,
        topology: &Arc<Topology>,
        me: &NodeId,
        verifier: &Arc<Verifier>,
        own: &[CertificateDer],
    ) -> Keyring {
        let ring = Keyring {
            keys: RwLock::new(HashMap::new()),
            dir: dir.to_path_buf(),
            verifier: verifier.clone(),
            topology: topology.clone(),
            missing: std::sync::Mutex::new(HashMap::new()),
        };
        let mut keys = HashMap::new();
        if let Some(leaf) = own.first()
            && let Ok(k) = ed25519_public_key(leaf)
        {
            keys.insert(me.clone(), k);
        }
        let mut missing = Vec::new();
        let related = topology
            .ancestors(me)
            .map(|n| n.id.clone())
            .chain(topology.subtree(me, None).map(|n| n.id.clone()))
            .filter(|id| id != me);
        for id in related {
            match ring.read(&id) {
                Some(k) => {
                    keys.insert(id, k);
                }
                None => missing.push(id),
            }
        }
        if !missing.is_empty() {
            warn!(
                count = missing.len(),
                first = %missing[0],
                dir = %dir.display(),
                "no valid certificate for some related nodes: envelopes they originate will be refused"
            );
        }
        *ring.keys.write().unwrap_or_else(|e| e.into_inner()) = keys;
        ring
    }

    /// The public key in `id`'s certificate, if it is there and the CA
    /// issued it to that node.
    fn read(&self, id: &NodeId) -> Option<Vec<u8>> {
        let path = self.dir.join(id.as_str()).join("node.pem");
        let chain = load_certificates(&path).ok()?;
        let peer = self.verifier.verify(&chain, UnixTime::now(), Usage::Client).ok()?;
        if peer.identity != Identity::Node(id.clone()) {
            return None;
        }
        ed25519_public_key(&chain[0]).ok()
    }

    /// The key of `origin`, reading its certificate on first need.
    fn key(&self, origin: &NodeId) -> Option<Vec<u8>> {
        if let Some(k) = self.keys.read().unwrap_or_else(|e| e.into_inner()).get(origin) {
            return Some(k.clone());
        }
        // Only nodes of the federation have certificates worth reading.
        self.topology.get(origin)?;
        {
            let missing = self.missing.lock().unwrap_or_else(|e| e.into_inner());
            if missing.get(origin).is_some_and(|at| at.elapsed() < KEY_RETRY) {
                return None;
            }
        }
        match self.read(origin) {
            Some(k) => {
                info!(node = %origin, "read the certificate of a node outside this one's branch");
                self.keys
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(origin.clone(), k.clone());
                Some(k)
            }
            None => {
                warn!(node = %origin, dir = %self.dir.display(), "no valid certificate: its envelopes are refused");
                let mut missing = self.missing.lock().unwrap_or_else(|e| e.into_inner());
                missing.insert(origin.clone(), std::time::Instant::now());
                None
            }
        }
    }
}

impl SignatureCheck for Keyring {
    fn verify(&self, origin: &NodeId, message: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
        use ring::signature::{ED25519, UnparsedPublicKey};
        let key = self
            .key(origin)
            .ok_or_else(|| SignatureError::UnknownOrigin(origin.clone()))?;
        UnparsedPublicKey::new(&ED25519, key)
            .verify(message, signature)
            .map_err(|_| SignatureError::Mismatch(origin.clone()))
    }
}

// ---- the driver ----

enum Input {
    Link(LinkEvent),
    Call(Call),
    Timeout,
}

/// What to do once the batch is durable.
enum After {
    Effect(Effect),
    Reply(oneshot::Sender<Response>, Box<Response>),
}

struct Driver {
    me: NodeId,
    topology: Arc<Topology>,
    core: Core,
    creds: Credentials,
    core_config: CoreConfig,
    durable: Durable,
    transport: Transport,
    control: ControlServer,
    pushed: broadcast::Sender<Pushed>,
    link_rx: mpsc::Receiver<LinkEvent>,
    call_rx: mpsc::Receiver<Call>,
    stop: watch::Receiver<bool>,
    started: Timestamp,
    /// Set while the store fails: new work is refused until a probe
    /// commit at `probe_at` succeeds.
    storage_problem: Option<String>,
    probe_at: Option<tokio::time::Instant>,
    revoked_path: Option<PathBuf>,
    revoked_seen: Option<SystemTime>,
    labels: String,
    /// When link gauges were last set: at most once a second, not per turn
    /// (a busy center has hundreds of links and thousands of turns).
    links_observed: Option<std::time::Instant>,
}

impl Driver {
    async fn run(mut self) {
        let mut revocation_tick = tokio::time::interval(REVOCATION_CHECK);
        revocation_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        self.revoked_seen = self.revoked_mtime();
        loop {
            let deadline = self.next_wake();
            let first = tokio::select! {
                biased;
                _ = self.stop.changed() => break,
                Some(ev) = self.link_rx.recv(), if self.storage_problem.is_none() => Input::Link(ev),
                Some(call) = self.call_rx.recv() => Input::Call(call),
                _ = sleep_until(deadline) => Input::Timeout,
                _ = revocation_tick.tick() => {
                    self.check_revocations();
                    continue;
                }
            };
            if self.storage_problem.is_some() {
                self.degraded_turn(first).await;
                continue;
            }
            let mut inputs = vec![first];
            while inputs.len() < BATCH_INPUTS {
                if let Ok(ev) = self.link_rx.try_recv() {
                    inputs.push(Input::Link(ev));
                } else if let Ok(call) = self.call_rx.try_recv() {
                    inputs.push(Input::Call(call));
                } else {
                    break;
                }
            }
            self.turn(inputs).await;
        }
        // Shutting down: what was handled is committed (each turn commits
        // before it ends), so only the connections are left to close.
        self.transport.shutdown().await;
        self.control.shutdown().await;
        info!(node = %self.me, "stopped");
    }

    /// When to wake for the core's timer, or to probe a failing store.
    fn next_wake(&self) -> Option<tokio::time::Instant> {
        if self.storage_problem.is_some() {
            return self.probe_at;
        }
        self.core.poll_timeout().map(|at| {
            let wait = at.since(clock::now());
            tokio::time::Instant::now() + wait
        })
    }

    /// One group commit: handle every input, commit once, then act.
    async fn turn(&mut self, inputs: Vec<Input>) {
        let now = clock::now();
        let mut records: Vec<Record> = Vec::new();
        let mut after: Vec<After> = Vec::new();
        for input in inputs {
            match input {
                Input::Link(ev) => self.on_link(ev, now),
                Input::Call(call) => {
                    let response = self.on_call(&call.operator, call.request, now);
                    after.push(After::Reply(call.reply, Box::new(response)));
                }
                Input::Timeout => self.core.handle_timeout(now),
            }
            self.drain(&mut records, &mut after);
        }
        if !records.is_empty() {
            let started = std::time::Instant::now();
            if let Err(e) = self.durable.commit(&records, now).await {
                self.storage_failed(e.to_string(), after).await;
                return;
            }
            metrics::histogram!("liandong_commit_seconds", "node" => self.labels.clone())
                .record(started.elapsed().as_secs_f64());
            metrics::histogram!("liandong_commit_records", "node" => self.labels.clone()).record(records.len() as f64);
            self.observe_records(&records);
        }
        for a in after {
            self.execute(a, now);
        }
        self.observe_links();
    }

    fn drain(&mut self, records: &mut Vec<Record>, after: &mut Vec<After>) {
        while let Some(effect) = self.core.poll_effect() {
            match effect {
                Effect::Persist(batch) => records.extend(batch),
                other => after.push(After::Effect(other)),
            }
        }
    }

    fn on_link(&mut self, ev: LinkEvent, now: Timestamp) {
        match ev {
            LinkEvent::Up { peer } => {
                info!(%peer, "link up");
                self.core.handle_link(&peer, true, now);
            }
            LinkEvent::Down { peer, reason } => {
                info!(%peer, %reason, "link down");
                self.core.handle_link(&peer, false, now);
            }
            LinkEvent::Frame { peer, bytes } => {
                // A bad frame is refused inside the core (Event::Refused).
                let _ = self.core.handle_frame(&peer, &bytes, now);
            }
            LinkEvent::Refused { peer, remote, reason } => {
                warn!(peer = ?peer.as_ref().map(|p| p.to_string()), %remote, %reason, "connection refused");
                metrics::counter!("liandong_refused_total", "node" => self.labels.clone()).increment(1);
                self.push(
                    now,
                    Notice::Refused {
                        peer: peer.unwrap_or_else(|| self.me.clone()),
                        reason: format!("{remote}: {reason}"),
                    },
                );
            }
        }
    }

    fn execute(&mut self, after: After, now: Timestamp) {
        match after {
            After::Reply(reply, response) => {
                let _ = reply.send(*response);
            }
            After::Effect(Effect::Send { peer, lane, frame }) => {
                metrics::counter!("liandong_frames_sent_total", "node" => self.labels.clone(), "lane" => lane.name())
                    .increment(1);
                if let Err(e) = self.transport.send(&peer, lane, frame) {
                    // The core keeps the copy and retries; nothing is lost.
                    debug!(%peer, error = %e, "send not queued");
                    metrics::counter!("liandong_sends_dropped_total", "node" => self.labels.clone()).increment(1);
                }
            }
            After::Effect(Effect::Connect(peer)) => {
                info!(%peer, "connecting (failover)");
                self.transport.connect(&peer);
            }
            After::Effect(Effect::Notify(event)) => self.on_event(event, now),
            After::Effect(Effect::Persist(_)) => unreachable!("persists are batched before execution"),
        }
    }

    // ---- store failures ----

    async fn storage_failed(&mut self, reason: String, after: Vec<After>) {
        error!(%reason, "commit failed: refusing new work until the store recovers");
        metrics::counter!("liandong_storage_failures_total", "node" => self.labels.clone()).increment(1);
        let refusal = storage_refusal(&reason);
        for a in after {
            // Replies say nothing was stored; sends and acks are dropped
            // (peers resend what was not acked); notices are dropped with
            // the state they described.
            if let After::Reply(reply, response) = a {
                let _ = reply.send(match *response {
                    Response::Done { .. } => Response::Refused {
                        reason: refusal.clone(),
                    },
                    other => other,
                });
            }
        }
        let first = self.storage_problem.is_none();
        self.storage_problem = Some(reason.clone());
        self.probe_at = Some(tokio::time::Instant::now() + Duration::from_secs(1));
        if first {
            self.push(clock::now(), Notice::Storage { problem: Some(reason) });
        }
        self.rebuild_core().await;
    }

    /// Rebuilds the core from what the store holds, dropping what the
    /// failed commit would have added.
    async fn rebuild_core(&mut self) -> bool {
        let store = match self.durable.load().await {
            Ok(s) => s,
            Err(e) => {
                warn!(error = %e, "cannot read the store yet");
                return false;
            }
        };
        let now = clock::now();
        match self.creds.core(&self.topology, &self.me, &self.core_config, store, now) {
            Ok(core) => {
                self.core = core;
                // The links are still there: tell the new core.
                let peers: Vec<NodeId> = self
                    .topology
                    .ancestors(&self.me)
                    .chain(self.topology.subtree(&self.me, None))
                    .map(|n| n.id.clone())
                    .filter(|p| *p != self.me && self.transport.is_connected(p))
                    .collect();
                for p in peers {
                    self.core.handle_link(&p, true, now);
                }
                true
            }
            Err(e) => {
                error!(error = %e, "cannot rebuild the core");
                false
            }
        }
    }

    /// While the store fails: answer questions, refuse commands, and probe.
    async fn degraded_turn(&mut self, input: Input) {
        let now = clock::now();
        match input {
            Input::Call(call) => {
                let reason = self.storage_problem.clone().unwrap_or_default();
                let response = if matches!(call.request, Request::Query(_)) {
                    self.on_call(&call.operator, call.request, now)
                } else {
                    Response::Refused {
                        reason: storage_refusal(&reason),
                    }
                };
                let mut discard = (Vec::new(), Vec::new());
                self.drain(&mut discard.0, &mut discard.1);
                let _ = call.reply.send(response);
            }
            Input::Timeout => {
                // Probe with a real write: only a commit that succeeds says
                // the store takes work again (an empty turn would not).
                self.probe_at = Some(tokio::time::Instant::now() + Duration::from_secs(2));
                let reason = self.storage_problem.clone().unwrap_or_default();
                let probe = Record::Audit(liandong_dispatch::store::AuditEntry {
                    at: now,
                    what: format!("store writable again after: {reason}"),
                });
                if let Err(e) = self.durable.commit(&[probe], now).await {
                    debug!(error = %e, "store still failing");
                    self.storage_problem = Some(e.to_string());
                    return;
                }
                // The core restarts from the store, probe record included.
                if !self.rebuild_core().await {
                    return;
                }
                self.storage_problem = None;
                info!("store recovered: taking new work again");
                self.push(now, Notice::Storage { problem: None });
            }
            Input::Link(_) => {}
        }
    }

    // ---- operators ----

    fn on_call(&mut self, op: &Operator, request: Request, now: Timestamp) -> Response {
        match self.answer(op, request, now) {
            Ok(r) => r,
            Err(reason) => Response::Refused { reason },
        }
    }

    fn answer(&mut self, op: &Operator, request: Request, now: Timestamp) -> Result<Response, String> {
        let by = op.name.clone();
        let command = match request {
            Request::Act(Act::Report {
                severity,
                category,
                title,
                detail,
                place,
                mode,
            }) => {
                let title = title.trim().to_string();
                if title.is_empty() {
                    return Err("a report needs a title".into());
                }
                check_len("title", &title, MAX_TITLE)?;
                check_len("detail", &detail, MAX_TEXT)?;
                check_len("place", &place, MAX_TITLE)?;
                Command::Report {
                    report: Report {
                        severity,
                        category,
                        title,
                        detail,
                        place,
                        reporter: by,
                    },
                    mode,
                }
            }
            Request::Act(Act::Accept { incident }) => Command::Accept {
                incident: self.incident_id(&incident)?,
                by,
            },
            Request::Act(Act::Escalate { incident, reason }) => Command::Escalate {
                incident: self.incident_id(&incident)?,
                by,
                reason: text("reason", reason)?,
            },
            Request::Act(Act::Feedback { incident, text: t }) => Command::Feedback {
                incident: self.incident_id(&incident)?,
                by,
                text: text("feedback", t)?,
            },
            Request::Act(Act::Resolve { incident, summary }) => Command::Resolve {
                incident: self.incident_id(&incident)?,
                by,
                summary: text("summary", summary)?,
            },
            Request::Act(Act::Verify {
                incident,
                accepted,
                note,
            }) => Command::Verify {
                incident: self.incident_id(&incident)?,
                by,
                accepted,
                note: text_or_empty("note", note)?,
            },
            Request::Act(Act::Close { incident }) => Command::Close {
                incident: self.incident_id(&incident)?,
                by,
            },
            Request::Act(Act::Note { incident, text: t }) => Command::Note {
                incident: self.incident_id(&incident)?,
                by,
                text: text("note", t)?,
            },
            Request::Act(Act::Cancel { incident, reason }) => Command::Cancel {
                incident: self.incident_id(&incident)?,
                by,
                reason: text("reason", reason)?,
            },
            Request::Act(Act::Dispatch {
                incident,
                targets,
                severity,
                instruction,
                finish_by,
                mode,
            }) => {
                let incident = incident.map(|i| self.incident_id(&i)).transpose()?;
                Command::Dispatch {
                    order: Order {
                        incident,
                        targets,
                        severity,
                        instruction: text("instruction", instruction)?,
                        by,
                        finish_by,
                    },
                    mode,
                }
            }
            Request::Act(Act::RoomAct { room, act, home }) => {
                let room = match &act {
                    RoomAct::Open => self.incident_id(&room)?,
                    // A room not known here, named in full, goes to the core:
                    // it explains why, or asks the home named.
                    _ => match (self.room_id(&room), full_id(&room)) {
                        (Ok(id), _) | (Err(_), Some(id)) => id,
                        (Err(_), None) if home.is_some() => {
                            return Err(format!(
                                "{:?}: to ask to enter a room this center does not know, give the incident's full 32-digit id",
                                room.0
                            ));
                        }
                        (Err(unknown), None) => return Err(unknown),
                    },
                };
                let act = match act {
                    RoomAct::Say { text: t } => RoomAct::Say {
                        text: text("message", t)?,
                    },
                    RoomAct::Decide { text: t } => RoomAct::Decide {
                        text: text("decision", t)?,
                    },
                    RoomAct::Task {
                        target,
                        instruction,
                        finish_by,
                    } => RoomAct::Task {
                        target,
                        instruction: text("task", instruction)?,
                        finish_by,
                    },
                    RoomAct::Close { summary } => RoomAct::Close {
                        summary: text_or_empty("summary", summary)?,
                    },
                    other => other,
                };
                Command::Room {
                    room,
                    by,
                    role: match op.role {
                        liandong_certs::Role::Leader => Role::Leader,
                        liandong_certs::Role::Operator => Role::Operator,
                    },
                    act,
                    home,
                }
            }
            Request::Act(Act::Acknowledge { order, state }) => {
                let state = match state {
                    TargetState::SignedFor { .. } => TargetState::SignedFor { by },
                    TargetState::Pending | TargetState::Delivered => {
                        return Err("an acknowledgement signs for, reports progress on, finishes or refuses".into());
                    }
                    other => other,
                };
                Command::Acknowledge {
                    order: self.order_id(&order)?,
                    state,
                }
            }
            Request::Query(query) => return Ok(self.query(query, now)),
        };
        let subject = subject_of(&command);
        let created = self.core.handle_command(command, now).map_err(|e| e.to_string())?;
        // Operators name incidents and orders, not the update envelopes
        // that changed them: answer with the id they can use next.
        let (id, what) = match subject {
            Subject::Report => {
                let owner = self
                    .core
                    .incident(created)
                    .map(|i| i.owner.clone())
                    .unwrap_or_else(|| self.me.clone());
                (
                    created,
                    format!("report {created} stored at {}; its owner is {owner}", self.me),
                )
            }
            Subject::Order => (created, format!("order {created} stored at {}", self.me)),
            Subject::Incident(incident, action) => {
                let state = self.core.incident(incident).map_or("unknown", |i| i.state.name());
                (
                    incident,
                    format!("incident {incident}: {action} stored at {}; now {state}", self.me),
                )
            }
            Subject::Acknowledged(order, state) => (order, format!("order {order}: {state} stored at {}", self.me)),
            Subject::Room(room, act) => {
                let home = self
                    .core
                    .room(room)
                    .map_or_else(|| "its home".to_owned(), |r| format!("its home {}", r.home));
                return Ok(Response::Asked {
                    room,
                    ask: created,
                    what: format!(
                        "{act} in the room of incident {room}: stored at {}, sent to {home}",
                        self.me
                    ),
                });
            }
        };
        Ok(Response::Done { id, what })
    }

    fn query(&self, query: Query, now: Timestamp) -> Response {
        match query {
            Query::Incidents { closed } => Response::Incidents(self.incidents(closed)),
            Query::Incident { id } => match self.incident_id(&id) {
                Ok(id) => self.core.incident(id).cloned().map_or_else(
                    || Response::Refused {
                        reason: format!("no incident {id} here"),
                    },
                    Response::Incident,
                ),
                Err(reason) => Response::Refused { reason },
            },
            Query::Orders { finished } => Response::Orders(self.orders(finished)),
            Query::Order { id } => match self.order_id(&id) {
                Ok(id) => Response::Order(self.order_view(id)),
                Err(reason) => Response::Refused { reason },
            },
            Query::Status => Response::Status(self.status(now)),
            Query::Rooms { closed } => Response::Rooms(self.rooms(closed)),
            Query::Room { id } => match self.room_id(&id) {
                Ok(id) => Response::Room(self.room_view(id)),
                Err(reason) => Response::Refused { reason },
            },
            Query::Minutes { room } => match self.room_id(&room) {
                Ok(id) => Response::Minutes(self.minutes(id)),
                Err(reason) => Response::Refused { reason },
            },
            Query::Topology => Response::Topology(self.topology.to_toml()),
            Query::Subscribe => Response::Snapshot {
                status: self.status(now),
                incidents: self.incidents(false),
                orders: self.orders(false),
                rooms: self.rooms(false),
            },
        }
    }

    fn incidents(&self, closed: bool) -> Vec<Incident> {
        let mut list: Vec<Incident> = self
            .core
            .incidents()
            .filter(|i| closed || i.state.is_open())
            .cloned()
            .collect();
        // Most severe first, then oldest first.
        list.sort_by(|a, b| {
            b.report
                .severity
                .cmp(&a.report.severity)
                .then(a.reported.cmp(&b.reported))
        });
        list
    }

    fn orders(&self, finished: bool) -> Vec<OrderView> {
        let mut list: Vec<OrderView> = self
            .core
            .orders()
            .map(|o| self.order_view(o.id))
            .filter(|v| finished || v.roll_up.done + v.roll_up.refused < v.roll_up.targets)
            .collect();
        list.sort_by_key(|v| std::cmp::Reverse(v.order.issued));
        list
    }

    fn rooms(&self, closed: bool) -> Vec<Room> {
        let mut list: Vec<Room> = self.core.rooms().filter(|r| closed || r.is_open()).cloned().collect();
        list.sort_by(|a, b| b.severity.cmp(&a.severity).then(b.opened.cmp(&a.opened)));
        list
    }

    fn room_view(&self, id: EnvelopeId) -> RoomView {
        let room = self.core.room(id).cloned().expect("resolved ids name known rooms");
        RoomView {
            room,
            log: self.core.room_log(id).cloned().collect(),
        }
    }

    fn minutes(&self, id: EnvelopeId) -> Minutes {
        let room = self.core.room(id).expect("resolved ids name known rooms");
        Minutes::of(room, self.core.room_log(id), &self.topology)
    }

    fn order_view(&self, id: EnvelopeId) -> OrderView {
        let order = self.core.order(id).cloned().expect("resolved ids name known orders");
        OrderView {
            order,
            roll_up: self.core.roll_up(id),
            targets: self
                .core
                .order_targets(id)
                .map(|(n, s)| (n.clone(), s.clone()))
                .collect(),
        }
    }

    fn status(&self, now: Timestamp) -> NodeStatus {
        let me = self.topology.get(&self.me).expect("the node is in the topology");
        let parent = self.topology.parent(&self.me).map(|p| p.id.clone());
        let links = self
            .core
            .links()
            .into_iter()
            .map(|l| {
                let node = self.topology.get(&l.peer);
                let relation = match node {
                    Some(n) if Some(&n.id) == parent.as_ref() => "parent",
                    Some(n) if self.topology.parent(&n.id).is_some_and(|p| p.id == self.me) => {
                        if n.kind == Kind::MemberUnit { "unit" } else { "child" }
                    }
                    Some(n) if self.topology.is_ancestor(&n.id, &self.me) => "ancestor",
                    _ => "descendant",
                };
                LinkView {
                    name: node.map(|n| n.name.clone()).unwrap_or_default(),
                    relation: relation.into(),
                    up: l.up,
                    last_heard: l.last_heard,
                    rtt_ms: l.rtt.map(|d| d.as_millis() as u64),
                    queued: l.queued,
                    peer: l.peer,
                }
            })
            .collect();
        NodeStatus {
            node: self.me.clone(),
            name: me.name.clone(),
            level: me.level,
            parent,
            failed_over: self.core.is_failed_over(),
            links,
            incidents_open: self.core.incidents().filter(|i| i.state.is_open()).count(),
            orders_open: self
                .core
                .orders()
                .filter(|o| {
                    let r = self.core.roll_up(o.id);
                    r.done + r.refused < r.targets
                })
                .count(),
            storage_problem: self.storage_problem.clone(),
            started: self.started,
            now,
        }
    }

    fn incident_id(&self, r: &IdRef) -> Result<EnvelopeId, String> {
        resolve(r, "incident", self.core.incidents().map(|i| i.id))
    }

    fn order_id(&self, r: &IdRef) -> Result<EnvelopeId, String> {
        resolve(r, "order", self.core.orders().map(|o| o.id))
    }

    fn room_id(&self, r: &IdRef) -> Result<EnvelopeId, String> {
        resolve(r, "room", self.core.rooms().map(|o| o.id))
    }

    // ---- what operators and logs are told ----

    fn on_event(&mut self, event: Event, now: Timestamp) {
        // One span per message id, so a message can be followed in the
        // logs of every node it passed (JSON logs carry the span fields).
        let span = match &event {
            Event::IncidentRecorded { incident: id, .. }
            | Event::IncidentChanged { incident: id, .. }
            | Event::OrderReceived { order: id, .. }
            | Event::OrderProgress { order: id, .. }
            | Event::Forwarded { id, .. }
            | Event::DeadLettered { id, .. } => info_span!("message", id = %id),
            _ => tracing::Span::none(),
        };
        let _entered = span.enter();
        let labels = self.labels.clone();
        let notice = match event {
            Event::IncidentRecorded {
                incident,
                owner,
                severity,
                alert,
            } => {
                info!(%incident, %owner, %severity, alert, "incident recorded");
                let Some(i) = self.core.incident(incident).cloned() else {
                    return;
                };
                Notice::IncidentRecorded { incident: i, alert }
            }
            Event::IncidentChanged {
                incident,
                action,
                by,
                state,
            } => {
                info!(%incident, action, %by, state = state.name(), "incident changed");
                let Some(i) = self.core.incident(incident).cloned() else {
                    return;
                };
                Notice::IncidentChanged {
                    incident: i,
                    action: action.into(),
                    by,
                }
            }
            Event::OrderReceived { order, issuer } => {
                info!(%order, %issuer, "order received");
                if self.core.order(order).is_none() {
                    return;
                }
                Notice::OrderReceived {
                    order: self.order_view(order),
                }
            }
            Event::OrderProgress {
                order,
                target,
                state,
                roll_up,
            } => {
                info!(%order, %target, state = state.name(), %roll_up, "order progress");
                Notice::OrderProgress {
                    order,
                    target,
                    state,
                    roll_up,
                }
            }
            Event::Forwarded { id, to } => {
                debug!(%id, %to, "stored at the next hop");
                Notice::Forwarded { id, to }
            }
            Event::Supervised {
                item,
                stage,
                supervisor,
            } => {
                warn!(?item, ?stage, %supervisor, "deadline missed: supervised");
                metrics::counter!("liandong_sla_misses_total", "node" => labels, "stage" => format!("{stage:?}"))
                    .increment(1);
                Notice::Supervised {
                    item,
                    stage,
                    supervisor,
                }
            }
            Event::DeadLettered { id, stuck_at } => {
                warn!(%id, %stuck_at, "dead-lettered");
                Notice::DeadLettered { id, stuck_at }
            }
            Event::LinkChanged { peer, up } => {
                info!(%peer, up, "link state");
                // Link gauges follow a change at once, not at the next second.
                self.links_observed = None;
                Notice::LinkChanged { peer, up }
            }
            Event::FailedOver { parent, via } => {
                warn!(%parent, %via, "parent unreachable: failed over");
                Notice::FailedOver { parent, via }
            }
            Event::Refused { peer, reason } => {
                warn!(%peer, %reason, "refused");
                metrics::counter!("liandong_refused_total", "node" => labels).increment(1);
                Notice::Refused { peer, reason }
            }
            Event::RoomChanged { room, seq, line } => {
                let (Some(r), Some(entry)) = (self.core.room(room), self.core.store().room_log.get(&(room, seq)))
                else {
                    return;
                };
                info!(%room, seq, line, "room event");
                Notice::RoomChanged {
                    room: r.clone(),
                    entry: entry.clone(),
                }
            }
            Event::RoomRefused { room, ask, reason } => {
                warn!(%room, %ask, %reason, "room ask refused");
                Notice::RoomRefused { room, ask, reason }
            }
        };
        self.push(now, notice);
    }

    fn push(&self, at: Timestamp, notice: Notice) {
        // No subscriber is fine: nobody is watching.
        let _ = self.pushed.send(Pushed { at, notice });
    }

    fn observe_records(&self, records: &[Record]) {
        for r in records {
            if let Record::Envelope(stored) = r {
                let kind = stored.envelope.kind().name();
                let n = stored.trace.len();
                if n >= 2 {
                    let hop = stored.trace[n - 1].at.since(stored.trace[n - 2].at);
                    let e2e = stored.trace[n - 1].at.since(stored.envelope.created);
                    metrics::histogram!("liandong_hop_latency_seconds", "node" => self.labels.clone(), "kind" => kind)
                        .record(hop.as_secs_f64());
                    metrics::histogram!("liandong_delivery_latency_seconds", "node" => self.labels.clone(), "kind" => kind)
                        .record(e2e.as_secs_f64());
                }
                debug!(id = %stored.envelope.id, kind, origin = %stored.envelope.origin, "stored");
                metrics::counter!("liandong_envelopes_stored_total", "node" => self.labels.clone(), "kind" => kind)
                    .increment(1);
            }
        }
    }

    fn observe_links(&mut self) {
        let now = std::time::Instant::now();
        if self
            .links_observed
            .is_some_and(|t| now.duration_since(t) < Duration::from_secs(1))
        {
            return;
        }
        self.links_observed = Some(now);
        for l in self.core.links() {
            let peer = l.peer.to_string();
            metrics::gauge!("liandong_queue_depth", "node" => self.labels.clone(), "peer" => peer.clone())
                .set(l.queued as f64);
            metrics::gauge!("liandong_link_up", "node" => self.labels.clone(), "peer" => peer.clone()).set(if l.up {
                1.0
            } else {
                0.0
            });
            if let Some(rtt) = l.rtt {
                metrics::gauge!("liandong_link_rtt_seconds", "node" => self.labels.clone(), "peer" => peer)
                    .set(rtt.as_secs_f64());
            }
        }
    }

    // ---- revocations ----

    fn revoked_mtime(&self) -> Option<SystemTime> {
        self.revoked_path
            .as_ref()
            .and_then(|p| std::fs::metadata(p).ok())
            .and_then(|m| m.modified().ok())
    }

    /// Reloads the revocation list when its file changed, and drops live
    /// connections whose certificates are now revoked.
    fn check_revocations(&mut self) {
        let Some(path) = self.revoked_path.clone() else { return };
        let seen = self.revoked_mtime();
        if seen == self.revoked_seen {
            return;
        }
        self.revoked_seen = seen;
        match self.creds.verifier.revocations().reload(&path) {
            Ok(n) => {
                info!(revoked = n, file = %path.display(), "revocation list reloaded");
                self.transport.recheck();
            }
            Err(e) => error!(error = %e, "revocation list not reloaded; the previous one stays in force"),
        }
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

fn storage_refusal(reason: &str) -> String {
    format!("not stored: the node's store is failing ({reason}); it takes no new work until the store recovers")
}

/// What a command is about, for the answer.
enum Subject {
    Report,
    Order,
    Incident(EnvelopeId, &'static str),
    Acknowledged(EnvelopeId, &'static str),
    Room(EnvelopeId, &'static str),
}

fn subject_of(c: &Command) -> Subject {
    match c {
        Command::Report { .. } => Subject::Report,
        Command::Dispatch { .. } => Subject::Order,
        Command::Acknowledge { order, state } => Subject::Acknowledged(*order, state.name()),
        Command::Accept { incident, .. } => Subject::Incident(*incident, "accept"),
        Command::Escalate { incident, .. } => Subject::Incident(*incident, "escalation"),
        Command::Feedback { incident, .. } => Subject::Incident(*incident, "feedback"),
        Command::Resolve { incident, .. } => Subject::Incident(*incident, "resolution"),
        Command::Verify { incident, .. } => Subject::Incident(*incident, "verification"),
        Command::Close { incident, .. } => Subject::Incident(*incident, "closing"),
        Command::Note { incident, .. } => Subject::Incident(*incident, "note"),
        Command::Cancel { incident, .. } => Subject::Incident(*incident, "cancellation"),
        Command::Room { room, act, .. } => Subject::Room(*room, act.name()),
    }
}

fn check_len(field: &str, value: &str, max: usize) -> Result<(), String> {
    let n = value.chars().count();
    if n > max {
        return Err(format!("the {field} is {n} characters long; at most {max} are allowed"));
    }
    Ok(())
}

fn text(field: &str, value: String) -> Result<String, String> {
    let value = value.trim().to_string();
    if value.is_empty() {
        return Err(format!("the {field} must not be empty"));
    }
    check_len(field, &value, MAX_TEXT)?;
    Ok(value)
}

fn text_or_empty(field: &str, value: String) -> Result<String, String> {
    check_len(field, &value, MAX_TEXT)?;
    Ok(value.trim().to_string())
}

/// An id given in full (32 hex digits), for items not known here.
fn full_id(r: &IdRef) -> Option<EnvelopeId> {
    let hex = r.0.trim();
    (hex.len() == 32)
        .then(|| u128::from_str_radix(hex, 16).ok())
        .flatten()
        .map(EnvelopeId)
}

/// An id from its full hex form or a unique prefix of it.
fn resolve(r: &IdRef, what: &str, known: impl Iterator<Item = EnvelopeId>) -> Result<EnvelopeId, String> {
    let wanted = r.0.trim().to_ascii_lowercase();
    if wanted.is_empty() || !wanted.chars().all(|c| c.is_ascii_hexdigit()) || wanted.len() > 32 {
        return Err(format!("{:?} is not an {what} id (up to 32 hex digits)", r.0));
    }
    let mut found = known.filter(|id| format!("{:032x}", id.0).starts_with(&wanted));
    match (found.next(), found.next()) {
        (Some(id), None) => Ok(id),
        (None, _) => Err(format!("no {what} {wanted} is known here")),
        (Some(_), Some(_)) => Err(format!("{wanted} matches more than one {what}: give more digits")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_resolve_from_unique_prefixes_with_clear_refusals() {
        let a = EnvelopeId(0x3fa2_b1c0_9d11_0000_0000_0000_0000_0001);
        let b = EnvelopeId(0x3fa2_b1c0_9d12_0000_0000_0000_0000_0002);
        let ids = [a, b];
        assert_eq!(
            resolve(&IdRef("3fa2b1c09d11".into()), "incident", ids.into_iter()),
            Ok(a)
        );
        assert_eq!(
            resolve(&IdRef(format!("{:032x}", b.0)), "incident", ids.into_iter()),
            Ok(b)
        );
        let both = resolve(&IdRef("3fa2".into()), "incident", ids.into_iter()).unwrap_err();
        assert!(both.contains("more than one incident"), "{both}");
        let none = resolve(&IdRef("ffff".into()), "order", ids.into_iter()).unwrap_err();
        assert!(none.contains("no order ffff"), "{none}");
        let bad = resolve(&IdRef("村".into()), "order", ids.into_iter()).unwrap_err();
        assert!(bad.contains("not an order id"), "{bad}");
    }

    #[test]
    fn control_port_defaults_next_to_the_link_port_on_loopback() {
        assert_eq!(
            default_control_addr("10.1.2.3:7100".parse().unwrap()),
            "127.0.0.1:8100".parse().unwrap()
        );
        assert_eq!(
            default_control_addr("127.0.11.1:7105".parse().unwrap()),
            "127.0.11.1:8105".parse().unwrap()
        );
    }
}
