//! The node runtime: [`Node::start`] opens the store, restores the core
//! from it, starts the links, the control API and the metrics endpoint,
//! and spawns the driver task that runs the core from then on.
//!
//! # Layout
//! One job per file; dependencies point one way, up this list:
//! - `config`: [`NodeConfig`], [`CertPaths`] (which certificate files are
//!   this node's), the default control address, [`NodeError`]; the
//!   machine's config file `node.toml` ([`Settings`]: read, written, what a
//!   reload changes).
//! - `keys`: this node's credentials (chain, key, CA verifier, signer),
//!   the keys of its branch each core starts with, and the loader that
//!   reads another node's certificate when the core asks for its key.
//! - `expiry`: the node's own certificate: its days left for the status,
//!   the expiry gauge, the renewal warnings.
//! - `figures`: the safety report asked for (this subtree, or a child's).
//! - `operators`: pure functions of the core: an operator's act to a
//!   command, a command's outcome to the answer, a question to its answer.
//! - `notices`: core events to pushed notices, log lines and metrics.
//! - `storage`: the store as the driver uses it; a failed commit, the
//!   probe, the rebuilt core.
//! - `revocations`: the revocation-file watch.
//! - `driver`: the turn loop: wait, hand inputs to the core, commit once,
//!   act.
//! - this file: the [`Node`] handle and its start.

mod acks;
mod cap;
mod config;
mod driver;
mod expiry;
mod figures;
mod keys;
mod names;
mod notices;
mod operators;
mod renewal;
mod revocations;
mod storage;
mod verify;

use std::net::SocketAddr;
use std::sync::Arc;

use liandong_control::clock;
use liandong_control::proto::{Operator, Pushed, Request, Response};
use liandong_topology::{NodeId, Topology};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tracing::{info, info_span, warn};

pub use config::file::{FILE_NAME as CONFIG_FILE_NAME, FileError, FileProblem, ProblemKind as FileProblemKind};
pub use config::settings::{Changes, DEFAULT_LOG_FILTER, GatewaySettings, LiveChange, Settings};
pub use config::template::render as render_config;
pub use config::{CONTROL_PORT_OFFSET, CertPaths, NodeConfig, NodeError, default_control_addr};
pub use driver::BATCH_INPUTS;
pub use renewal::CertificateCheck;

use crate::control::{Call, ControlConfig, ControlServer};
use crate::observe::serve_metrics;
use crate::store::Durable;
use crate::transport::{DialAddresses, Transport, TransportConfig};
use driver::Driver;
use keys::{Credentials, KeyLoader};
use notices::Notices;
use revocations::RevocationWatch;
use storage::Storage;

/// Inputs waiting from links and from operators (channel bounds). A full
/// link channel back-pressures QUIC flow control: peers slow down, and
/// their unacked copies wait in their own outboxes.
const LINK_QUEUE: usize = 8192;
const CALL_QUEUE: usize = 1024;
/// Notices kept for slow subscribers before they are told they lagged.
const PUSH_QUEUE: usize = 4096;

/// A running node. Dropping it without [`Node::shutdown`] aborts it.
pub struct Node {
    id: NodeId,
    link_addr: SocketAddr,
    control_addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    /// The parent, if any, and where the transport dials it.
    parent: Option<NodeId>,
    dial: DialAddresses,
    calls: mpsc::Sender<Call>,
    /// The gateway, if this node serves one.
    gateway: Option<crate::gateway::Gateway>,
    renewals: Renewals,
    pushed: broadcast::Sender<Pushed>,
    stop: watch::Sender<bool>,
    driver: Option<JoinHandle<()>>,
    metrics_task: Option<JoinHandle<()>>,
}

/// Where this node's certificate files are, the certificate in force,
/// and the way to the driver that puts a renewed one in force.
struct Renewals {
    paths: CertPaths,
    verifier: Arc<liandong_certs::Verifier>,
    /// The leaf in force (DER).
    current: std::sync::Mutex<Vec<u8>>,
    driver: mpsc::Sender<renewal::Renewal>,
}

/// Keeps this node's own certificate in the store, beside the ones it
/// had before (a renewal): what it signed with any of them checks after
/// a restart. A store that cannot keep it is logged; the node runs.
async fn keep_own_certificate(durable: &Durable, creds: &Credentials, me: &NodeId) {
    let Some(leaf) = creds.chain.first().map(|c| c.as_ref().to_vec()) else {
        return;
    };
    let kept = match keys::check_certificate(&creds.verifier, me, &leaf) {
        Ok((serial, _)) => durable
            .keep_certificates(me, &[(serial, leaf)], clock::now())
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e),
    };
    if let Err(e) = kept {
        warn!(error = %e, "this node's certificate is not kept in the store");
    }
}

/// The topology a stored federation document describes.
fn stored_topology(doc: &liandong_dispatch::Document) -> Result<Arc<Topology>, String> {
    let text = doc.text()?;
    Topology::parse(&text, None).map(Arc::new).map_err(|e| e.to_string())
}

/// Commits what the core wrote while taking in its bootstrap document,
/// before anything runs (the rest of its effects are about links that
/// start on that document anyway).
async fn take_in_at_start(
    core: &mut liandong_dispatch::Core,
    durable: &Durable,
    now: liandong_dispatch::Timestamp,
) -> Result<(), NodeError> {
    while let Some(effect) = core.poll_effect() {
        if let liandong_dispatch::Effect::Persist(records) = effect {
            durable.commit(&records, now).await?;
        }
    }
    Ok(())
}

impl Node {
    /// Opens the store (running migrations), restores the core from it,
    /// binds links, control API and metrics, and starts driving.
    pub async fn start(config: NodeConfig) -> Result<Node, NodeError> {
        let span = info_span!("node", id = %config.id);
        let _enter = span.enter();
        let mut topology = config.topology.clone();
        let me = config.id.clone();
        topology.ix(&me).ok_or_else(|| NodeError::UnknownNode(me.clone()))?;
        std::fs::create_dir_all(&config.data_dir).map_err(|source| NodeError::DataDir {
            path: config.data_dir.clone(),
            source,
        })?;

        let mut creds = Credentials::load(&config.certs, &topology, &me)?;
        let durable = Durable::open(&config.store, &me, config.store_options.clone()).await?;
        keep_own_certificate(&durable, &creds, &me).await;
        let learned = creds.add_learned(durable.all_certificates().await?);
        let restored = durable.load().await?;
        let now = clock::now();
        let held = restored.envelopes.len();
        // The newest federation document this node holds runs it (checked
        // when it was stored), unless a newer one is given to start on.
        let mut bootstrap = config.document.clone();
        if let Some(doc) = restored.document() {
            let newer_given = bootstrap.as_ref().is_some_and(|b| b.version > doc.version);
            match stored_topology(doc) {
                Ok(t) if !newer_given && t.ix(&me).is_some() => {
                    info!(version = doc.version, "running on the federation document in the store");
                    topology = t;
                    bootstrap = None;
                }
                Ok(_) => {}
                Err(e) => warn!(
                    version = doc.version,
                    "the stored federation document does not read: {e}"
                ),
            }
        }
        let mut core = creds.core(&topology, &me, &config.core, restored, now)?;
        if let Some(doc) = bootstrap {
            let version = doc.version;
            core.handle_bootstrap(doc, now)
                .map_err(|e| NodeError::Certs(format!("the federation document to start on: {e}")))?;
            take_in_at_start(&mut core, &durable, now).await?;
            info!(version, "started on the federation document given");
        }
        info!(
            envelopes = held,
            incidents = core.incidents().count(),
            learned_keys = learned,
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
        let link_rx = verify::start(creds.keyring(), link_rx, LINK_QUEUE);
        let link_addr = transport.local_addr();
        let dial = transport.dial_addresses();
        let parent = topology.parent(&me).map(|p| (p.id.clone(), p.listen));
        if let Some((parent, listed)) = &parent {
            if let Some(addr) = config.parent_addr {
                dial.set(parent, Some(addr));
                if addr != *listed {
                    info!(%parent, %addr, topology = %listed, "dialing the parent at the configured address");
                }
            }
            transport.connect(parent);
        }
        let parent = parent.map(|(id, _)| id);
        let photos = crate::photos::Photos::start(crate::photos::PhotoFiles::new(&config.data_dir), transport.clone());
        want_photos(&core, &photos);

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
        let gateway = match config.gateway.clone() {
            Some(g) => Some(
                crate::gateway::Gateway::start(g, me.clone(), call_tx.clone(), photos.files().clone())
                    .await
                    .map_err(|e| NodeError::Gateway(e.to_string()))?,
            ),
            None => None,
        };
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
        if let Ok(text) = std::env::var(clock::OFFSET_VAR) {
            match text.trim().parse::<i64>() {
                Ok(ms) => warn!(
                    offset_ms = ms,
                    "the clock is shifted by {} ({ms} ms): for rehearsals and tests only",
                    clock::OFFSET_VAR
                ),
                Err(_) => warn!(
                    "{}={text:?} is not a number of milliseconds: the clock is not shifted",
                    clock::OFFSET_VAR
                ),
            }
        }

        let (key_tx, key_rx) = mpsc::channel(keys::KEY_QUEUE);
        let (renew_tx, renew_rx) = mpsc::channel(1);
        let renewals = Renewals {
            paths: config.certs.clone(),
            verifier: creds.verifier.clone(),
            current: std::sync::Mutex::new(creds.chain.first().map(|c| c.as_ref().to_vec()).unwrap_or_default()),
            driver: renew_tx,
        };
        let (stop, stop_rx) = watch::channel(false);
        let leaf = creds.chain.first().cloned();
        let mut driver = Driver {
            core,
            revocations: RevocationWatch::new(config.certs.revoked.clone(), creds.verifier.clone()),
            keys: KeyLoader::new(
                creds.peers.clone(),
                creds.verifier.clone(),
                durable.clone(),
                me.clone(),
                &creds.chain,
                key_tx,
            ),
            webhooks: crate::gateway::webhooks::Webhooks::start(&config.data_dir, me.clone(), durable.clone()),
            tokens: crate::gateway::tokens::TokenWatch::new(config.data_dir.join(crate::gateway::tokens::TOKENS_FILE)),
            in_flight: None,
            held_acks: acks::HeldAcks::default(),
            storage: Storage::new(durable, creds, topology, me.clone(), config.core.clone()),
            transport,
            photos,
            control,
            notices: Notices::new(pushed.clone(), &me),
            link_rx,
            call_rx,
            key_rx,
            renew_rx,
            stop: stop_rx,
            started: now,
            own_certificate: None,
        };
        if let Some(leaf) = &leaf {
            driver.set_own_certificate(leaf);
        }
        let handle = tokio::spawn(driver.run());
        drop(_enter);
        Ok(Node {
            id: me,
            link_addr,
            control_addr,
            metrics_addr,
            parent,
            dial,
            calls: call_tx,
            gateway,
            renewals,
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

    /// Where the gateway listens, if this node serves one.
    pub fn gateway_addr(&self) -> Option<SocketAddr> {
        self.gateway.as_ref().map(|g| g.local_addr())
    }

    /// Serves metrics at `addr` from now on (`None`: no more). The new
    /// address is bound before the old one is let go, so a failure leaves
    /// the old one serving. Returns the bound address.
    pub async fn set_metrics(&mut self, addr: Option<SocketAddr>) -> Result<Option<SocketAddr>, NodeError> {
        let next = match addr {
            Some(addr) => {
                let (bound, task) = serve_metrics(addr)
                    .await
                    .map_err(|source| NodeError::Metrics { addr, source })?;
                Some((bound, task))
            }
            None => None,
        };
        if let Some(task) = self.metrics_task.take() {
            task.abort();
            // Its listener is closed once the aborted task is gone: wait
            // for that, so "config reloaded" means the old port is free.
            let _ = task.await;
        }
        let (bound, task) = next.unzip();
        self.metrics_addr = bound;
        self.metrics_task = task;
        Ok(bound)
    }

    /// Dials the parent at `addr` from the next dial on (`None`: at its
    /// topology address); a live link is kept. The top center has no
    /// parent to dial.
    pub fn set_parent_addr(&self, addr: Option<SocketAddr>) -> Result<(), NodeError> {
        match (&self.parent, addr) {
            (Some(parent), addr) => {
                self.dial.set(parent, addr);
                Ok(())
            }
            (None, None) => Ok(()),
            (None, Some(addr)) => Err(NodeError::TopHasNoParent {
                id: self.id.clone(),
                addr,
            }),
        }
    }

    /// Reads this node's certificate and key files again; if they hold a
    /// renewed certificate (checked: the federation's CA, in date, not
    /// revoked, this node's, the key it certifies), puts it in force
    /// without a restart (see `renewal`). Run on every reload.
    pub async fn check_certificate(&self) -> Result<CertificateCheck, NodeError> {
        let r = &self.renewals;
        let current = renewal_lock(&r.current).clone();
        let read = renewal::read(&r.paths, &r.verifier, &self.id, &current).map_err(NodeError::Certs)?;
        let Some(renewal::Read {
            chain,
            key,
            serial,
            not_after,
        }) = read
        else {
            return Ok(CertificateCheck::Unchanged);
        };
        let leaf = chain.first().map(|c| c.as_ref().to_vec()).unwrap_or_default();
        let (reply, answer) = tokio::sync::oneshot::channel();
        let renewal = renewal::Renewal {
            chain,
            key,
            serial: serial.clone(),
            not_after: not_after.clone(),
            reply,
        };
        let gone = || NodeError::Certs("the node is shutting down".into());
        r.driver.send(renewal).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?.map_err(NodeError::Certs)?;
        *renewal_lock(&r.current) = leaf;
        Ok(CertificateCheck::Renewed { serial, not_after })
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
        if let Some(gateway) = self.gateway.take() {
            gateway.shutdown().await;
        }
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

/// Every photo of every report held here that is not here yet: fetched
/// from the neighbour that sent the report (after a restart, what was
/// still on its way).
fn want_photos(core: &liandong_dispatch::Core, photos: &crate::photos::Photos) {
    for stored in core.store().envelopes.values() {
        for (from, photo) in crate::photos::carried(stored) {
            photos.want(from, photo);
        }
    }
}

fn stopped() -> Response {
    Response::Refused {
        reason: "the node is shutting down".into(),
    }
}

fn renewal_lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
