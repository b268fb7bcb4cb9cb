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
//! The commit is pipelined with the next turn: it runs on a task of its
//! own ([`InFlight`]) while the driver hands the next turn's inputs to
//! the core, and builds that turn's statements
//! (`Durable::prepare_commit`) before it waits for the commit. Commits
//! still go one at a time and in order: before a turn's commit starts,
//! the one in flight must have ended; the effects of that one are
//! executed once the next has started, so sending them overlaps the
//! next commit. The driver also wakes when a commit ends, so a lone
//! input's effects wait for nothing but their own commit. If a commit
//! fails, the turn handled meanwhile is dropped with it (its replies say
//! nothing was stored) and the core is rebuilt from the store. Frames
//! come decoded, their origin signatures checked off the driver
//! (`verify`).
//!
//! One batch waits: a turn that persisted nothing but neighbours' acks
//! of copies this node sent (`Record::Acked`) is not committed on its
//! own. Nothing depends on those marks (a lost one costs a copy sent
//! again and dropped as a duplicate), so they ride with the next commit,
//! at most 0.5 s later, or at stop (`acks`).
//!
//! While the store fails (see `storage`), a turn is one input: questions
//! are answered, acts refused, link input left waiting (peers were not
//! acked, so they resend), and the timer is the next probe of the store.
//!
//! When the core asks for a key it lacks (`Effect::NeedKey`), the
//! [`KeyLoader`] reads that node's certificate on a blocking thread and
//! the result comes back as one more input; the core never waits on a
//! file.
//!
//! The core's events of a turn that subscribed systems want become
//! webhook delivery rows (`gateway::webhooks`), committed in the same
//! transaction as the turn's records; the webhook worker, not the
//! driver, delivers them.
//!
//! The driver makes no protocol decisions: it waits, hands over, drains
//! and executes. What an operator's request means is `operators`; what
//! the logs, metrics and subscribers are told is `notices`.

use liandong_control::clock;
use liandong_control::proto::{Act, Notice, Operator, Request, Response};
use std::path::PathBuf;

use liandong_certs::RevocationList;
use liandong_certs::pki_types::CertificateDer;
use liandong_dispatch::{Body, Core, Effect, EnvelopeId, Record, Timestamp};
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{error, info, warn};

use super::acks::HeldAcks;
use super::cap;
use super::expiry::OwnCertificate;
use super::keys::{KeyLoader, KeyNews};
use super::notices::Notices;
use super::operators::{self, NodeFacts, Subject};
use super::renewal::Renewal;
use super::revocations::RevocationWatch;
use super::storage::{self, Storage};
use super::verify::Checked;
use crate::control::{Call, ControlServer};
use crate::gateway::status::gateway_status;
use crate::gateway::tokens::TokenWatch;
use crate::gateway::webhooks::Webhooks;
use crate::transport::{LinkEvent, Transport};

/// Most inputs handled per turn, i.e. per commit. Bounds the latency one
/// turn adds and the size of one transaction.
pub const BATCH_INPUTS: usize = 1024;

enum Input {
    Link(Checked),
    Call(Call),
    Key(KeyNews),
    Renew(Renewal),
    Timeout,
}

/// What to do once the batch is durable.
enum After {
    Effect(Effect),
    Reply(oneshot::Sender<Response>, Box<Response>),
}

/// The driver task's state: the core, what it reads from and what it acts
/// on. Built by `Node::start`, consumed by [`Driver::run`].
pub(super) struct Driver {
    pub core: Core,
    /// Where each turn's batch is committed, and what a failure takes.
    pub storage: Storage,
    pub transport: Transport,
    /// Photos following the reports stored here.
    pub photos: crate::photos::Photos,
    pub control: ControlServer,
    pub notices: Notices,
    pub revocations: RevocationWatch,
    /// Reads the certificates of nodes whose keys the core asks for.
    pub keys: KeyLoader,
    /// Inputs: frames and link changes, operators' calls, the stop signal.
    pub link_rx: mpsc::Receiver<Checked>,
    pub call_rx: mpsc::Receiver<Call>,
    pub key_rx: mpsc::Receiver<KeyNews>,
    /// Renewed certificates to put in force (see `renewal`).
    pub renew_rx: mpsc::Receiver<Renewal>,
    pub stop: watch::Receiver<bool>,
    /// When the node started (shown in its status).
    pub started: Timestamp,
    /// The node's own certificate (its status, gauge and expiry
    /// warnings): see [`Driver::set_own_certificate`].
    pub own_certificate: Option<OwnCertificate>,
    /// The gateway's webhooks: each turn's events become delivery rows
    /// committed with its records; the worker delivers them.
    pub webhooks: Webhooks,
    /// The gateway's API tokens, for the status.
    pub tokens: TokenWatch,
    /// The turn being committed while the next one is handled.
    pub in_flight: Option<InFlight>,
    /// Neighbours' acks waiting to ride with the next commit (`acks`).
    pub held_acks: HeldAcks,
}

/// A turn whose batch is being committed (on the store's own task) while
/// the driver handles the next: what waits for that commit.
pub(super) struct InFlight {
    commit: tokio::task::JoinHandle<(Vec<Record>, Result<(), crate::store::StoreError>)>,
    after: Vec<After>,
    webhooks: bool,
    started: std::time::Instant,
    now: Timestamp,
}

impl Driver {
    pub async fn run(mut self) {
        let mut revocation_tick = RevocationWatch::interval();
        self.revocations.mark_loaded();
        loop {
            let deadline = self.next_wake();
            let first = tokio::select! {
                biased;
                _ = self.stop.changed() => break,
                done = wait_commit(&mut self.in_flight), if self.in_flight.is_some() => {
                    self.committed(done).await;
                    continue;
                }
                Some(ev) = self.link_rx.recv(), if self.storage.problem().is_none() => Input::Link(ev),
                Some(call) = self.call_rx.recv() => Input::Call(call),
                Some(key) = self.key_rx.recv() => Input::Key(key),
                Some(renewal) = self.renew_rx.recv() => Input::Renew(renewal),
                _ = sleep_until(deadline) => Input::Timeout,
                _ = revocation_tick.tick() => {
                    self.revocations.check(&self.transport);
                    // At most hourly and daily inside: a comparison per tick.
                    if let Some(own) = &mut self.own_certificate {
                        own.observe(clock::now());
                    }
                    continue;
                }
            };
            if self.storage.problem().is_some() {
                self.degraded_turn(first).await;
                continue;
            }
            let mut inputs = vec![first];
            while inputs.len() < BATCH_INPUTS {
                if let Ok(ev) = self.link_rx.try_recv() {
                    inputs.push(Input::Link(ev));
                } else if let Ok(call) = self.call_rx.try_recv() {
                    inputs.push(Input::Call(call));
                } else if let Ok(key) = self.key_rx.try_recv() {
                    inputs.push(Input::Key(key));
                } else {
                    break;
                }
            }
            self.turn(inputs).await;
        }
        // Shutting down: the turn in flight finishes (committed, then
        // acted on), so only the connections are left to close.
        if self.in_flight.is_some() {
            let done = wait_commit(&mut self.in_flight).await;
            self.committed(done).await;
        }
        let held = self.held_acks.take();
        if !held.is_empty()
            && let Err(e) = self.storage.durable().commit_with(&held, &[], clock::now()).await
        {
            // Not lost: the copies are sent again after the restart.
            warn!(error = %e, "committing the neighbours' last acks at stop");
        }
        self.transport.shutdown().await;
        self.control.shutdown().await;
        self.webhooks.shutdown().await;
        info!(node = %self.core.id(), "stopped");
    }

    /// When to wake for the core's timer, or to probe a failing store.
    fn next_wake(&self) -> Option<tokio::time::Instant> {
        if self.storage.problem().is_some() {
            return self.storage.probe_at();
        }
        let core = self.core.poll_timeout().map(|at| {
            let wait = at.since(clock::now());
            tokio::time::Instant::now() + wait
        });
        let acks = self.held_acks.deadline().map(tokio::time::Instant::from_std);
        core.into_iter().chain(acks).min()
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
                    let act = matches!(call.request, Request::Act(_));
                    let response = self.on_call(&call.operator, call.request, now);
                    if let (true, Response::Refused { reason }) = (act, &response) {
                        let op = &call.operator;
                        info!(operator = %op.name, role = %op.role, %reason, "act refused");
                    }
                    after.push(After::Reply(call.reply, Box::new(response)));
                }
                Input::Key(key) => self.on_key(key, now),
                Input::Renew(renewal) => self.renew(renewal, now).await,
                Input::Timeout => self.core.handle_timeout(now),
            }
            self.drain(&mut records, &mut after);
        }
        let events = after.iter().filter_map(|a| match a {
            After::Effect(Effect::Notify(event)) => Some(event),
            _ => None,
        });
        let deliveries = self.webhooks.deliveries(events, &self.core, now);
        // A batch of neighbours' acks alone waits for the next commit.
        let instant = std::time::Instant::now();
        let mut records = match deliveries.is_empty() {
            true => self.held_acks.hold(records, instant),
            false => records,
        };
        if !records.is_empty() || !deliveries.is_empty() || self.held_acks.due(instant) {
            records = self.held_acks.with(records);
        }
        // The statements are built now, while the turn before may still
        // be committing: only linking the audit rows to the chain waits.
        let prepared = (!records.is_empty() || !deliveries.is_empty())
            .then(|| self.storage.durable().prepare_commit(&records, &deliveries, now));
        // The turn before must be durable before this one's commit starts:
        // commits go in order, one at a time. Its effects go out while
        // this one commits (they wait for nothing more than its commit).
        let mut before = None;
        if self.in_flight.is_some() {
            let done = wait_commit(&mut self.in_flight).await;
            before = self.settle(done).await;
            if before.is_none() {
                // The store failed: the core was rebuilt from it, and this
                // turn (handled on the state that failed) is dropped too.
                self.storage_failed_again(after);
                return;
            }
        }
        let Some(prepared) = prepared else {
            if let Some(settled) = before {
                self.act(settled);
            }
            for a in after {
                self.execute(a, now);
            }
            self.notices.observe_links(&self.core);
            return;
        };
        let durable = self.storage.durable().clone();
        let webhooks = !deliveries.is_empty();
        let started = std::time::Instant::now();
        let commit = tokio::spawn(async move {
            let outcome = match prepared {
                Ok(prepared) => durable.commit_prepared(prepared).await,
                // Not encodable: nothing was written, as a failed commit.
                Err(e) => Err(e),
            };
            (records, outcome)
        });
        self.in_flight = Some(InFlight {
            commit,
            after,
            webhooks,
            started,
            now,
        });
        if let Some(settled) = before {
            self.act(settled);
            self.notices.observe_links(&self.core);
        }
    }

    /// The turn in flight was committed, or its commit failed: act on it,
    /// or drop it and rebuild the core. True if it was committed.
    async fn committed(&mut self, done: Done) -> bool {
        match self.settle(done).await {
            Some(settled) => {
                self.act(settled);
                self.notices.observe_links(&self.core);
                true
            }
            None => false,
        }
    }

    /// A commit ended. Committed: what was stored is noted, and what
    /// waited for it is returned, to be executed. Failed: the turn is
    /// dropped and the core rebuilt (`storage_failed`), and `None`.
    async fn settle(&mut self, done: Done) -> Option<Settled> {
        let (flight, records, outcome) = done;
        if let Err(e) = outcome {
            self.storage_failed(e, flight.after).await;
            return None;
        }
        self.notices.committed(&records, flight.started.elapsed());
        for record in &records {
            if let Record::Envelope(stored) = record {
                for (from, photo) in crate::photos::carried(stored) {
                    self.photos.want(from, photo);
                }
            }
        }
        if flight.webhooks {
            self.webhooks.committed();
        }
        Some(Settled {
            after: flight.after,
            now: flight.now,
        })
    }

    /// Executes what waited for a commit that succeeded (the caller then
    /// observes the links once for all it executed).
    fn act(&mut self, settled: Settled) {
        for a in settled.after {
            self.execute(a, settled.now);
        }
    }

    fn drain(&mut self, records: &mut Vec<Record>, after: &mut Vec<After>) {
        while let Some(effect) = self.core.poll_effect() {
            match effect {
                Effect::Persist(batch) => records.extend(batch),
                other => after.push(After::Effect(other)),
            }
        }
    }

    fn on_link(&mut self, ev: Checked, now: Timestamp) {
        let ev = match ev {
            Checked::Frame {
                peer,
                frame,
                signature,
                held,
            } => {
                self.core.handle_decoded_frame(&peer, frame, signature, now);
                // Handled: the peer may send the driver another.
                drop(held);
                return;
            }
            Checked::Undecodable { peer, bytes, held } => {
                // Refused inside the core (Event::Refused), with the reason.
                let _ = self.core.handle_frame(&peer, &bytes, now);
                drop(held);
                return;
            }
            Checked::Link(ev) => ev,
        };
        match ev {
            LinkEvent::Up { peer } => {
                info!(%peer, "link up");
                // Its certificate, checked by the TLS layer: learn its key
                // (a new neighbour, or one that renewed its certificate).
                if let Some(der) = self.transport.peer_certificate(&peer) {
                    self.keys.offer(peer.clone(), peer.clone(), vec![der], now);
                }
                self.core.handle_link(&peer, true, now);
            }
            LinkEvent::Down { peer, reason } => {
                info!(%peer, %reason, "link down");
                self.core.handle_link(&peer, false, now);
            }
            LinkEvent::Frame { peer, bytes, held } => {
                // The verify stage hands every frame on decoded; raw bytes
                // are still what the core reads on its own.
                let _ = self.core.handle_frame(&peer, &bytes, now);
                drop(held);
            }
            LinkEvent::Refused { peer, remote, reason } => {
                self.notices.link_refused(peer, remote, reason, self.core.id(), now);
            }
        }
    }

    /// What the key loader found: keys for the core (new ones kept for
    /// cores rebuilt later), or the answer to a neighbour's ask.
    fn on_key(&mut self, news: KeyNews, now: Timestamp) {
        match news {
            KeyNews::Loaded { node, keys: Ok(keys) } => {
                for key in keys {
                    if self.storage.holds_key(&node, &key) {
                        continue;
                    }
                    info!(%node, "learned a key of another node");
                    self.storage.keep_key(node.clone(), key.clone());
                    self.core.handle_key(&node, Ok(key), now);
                }
            }
            KeyNews::Loaded {
                node,
                keys: Err(reason),
            } => {
                warn!(%node, %reason, "no valid certificate held: its envelopes wait for a neighbour's answer");
                self.core.handle_key(&node, Err(reason), now);
            }
            KeyNews::Answer {
                peer,
                node,
                certificates,
            } => self.core.answer_key(&peer, &node, certificates),
        }
    }

    /// An operator's request: a question is answered from the core; an act
    /// becomes a command the core handles (its effects are drained with
    /// the turn's, and the answer is sent after the commit).
    fn on_call(&mut self, op: &Operator, request: Request, now: Timestamp) -> Response {
        match request {
            Request::Query(query) => {
                let gateway = query_needs_gateway(&query).then(|| gateway_status(&self.tokens, &self.webhooks));
                let facts = NodeFacts {
                    gateway: gateway.as_ref(),
                    ..self.facts(now)
                };
                operators::answer(query, &self.core, facts)
            }
            Request::Act(Act::ImportCap { xml }) => match cap::import(op, &xml, &self.core) {
                cap::Import::Command { command, outcome } => {
                    let done = self.core.handle_command(command, now);
                    cap::outcome(outcome, done, &self.core)
                }
                cap::Import::Answer(answer) => *answer,
            },
            Request::Act(act) => match operators::command(op, act, &self.core) {
                Ok(command) => {
                    let subject = Subject::of(&command);
                    let outcome = self.core.handle_command(command, now);
                    operators::outcome(subject, outcome, &self.core)
                }
                Err(reason) => Response::Refused { reason },
            },
        }
    }

    fn facts(&self, now: Timestamp) -> NodeFacts<'_> {
        NodeFacts {
            storage_problem: self.storage.problem(),
            started: self.started,
            now,
            certificate: self.own_certificate.as_ref().map(|c| (c.serial.as_str(), c.not_after)),
            gateway: None,
        }
    }

    /// The node presents `leaf` from now on (at start, and once its
    /// certificate is renewed): its status shows it, and the expiry gauge
    /// and any renewal warning follow at once.
    pub(super) fn set_own_certificate(&mut self, leaf: &CertificateDer<'_>) {
        self.own_certificate = match OwnCertificate::read(leaf, self.core.id()) {
            Ok(mut own) => {
                own.observe(clock::now());
                Some(own)
            }
            Err(e) => {
                error!(error = %e, "the node's own certificate does not read: its status shows no expiry");
                None
            }
        };
    }

    fn execute(&mut self, after: After, now: Timestamp) {
        match after {
            After::Reply(reply, response) => {
                let _ = reply.send(*response);
            }
            After::Effect(Effect::Send { peer, lane, frame }) => {
                self.notices.sent(lane);
                if let Err(e) = self.transport.send(&peer, lane, frame) {
                    // The core keeps the copy and retries; nothing is lost.
                    self.notices.send_dropped(&peer, &e);
                }
            }
            After::Effect(Effect::Connect(peer)) => {
                info!(%peer, "connecting (failover)");
                self.transport.connect(&peer);
            }
            After::Effect(Effect::Notify(event)) => self.notices.event(event, &self.core, now),
            After::Effect(Effect::NeedKey(node)) => self.keys.load(node),
            After::Effect(Effect::KeyAsked { peer, node }) => self.keys.answer(peer, node),
            After::Effect(Effect::KeyOffered {
                peer,
                node,
                certificates,
            }) => self.keys.offer(peer, node, certificates, now),
            After::Effect(Effect::PhotoAsked { peer, sha256 }) => {
                if crate::photos::sent_to(self.core.store(), &peer, &sha256) {
                    self.photos.asked(peer, sha256);
                } else {
                    warn!(%peer, photo = %crate::photos::hex(&sha256), "photo ask refused: this node sent it no report carrying that photo");
                }
            }
            After::Effect(Effect::PhotoPiece {
                peer,
                sha256,
                offset,
                total,
                bytes,
            }) => self.photos.piece(peer, sha256, offset, total, bytes),
            After::Effect(Effect::Reconfigure { version, document }) => self.reconfigure(version, document),
            After::Effect(Effect::Persist(_)) => unreachable!("persists are batched before execution"),
        }
    }

    /// The core runs on federation document `version` (stored as
    /// `document`): the transport follows its topology, and its
    /// revocation list goes in force.
    fn reconfigure(&mut self, version: u64, document: EnvelopeId) {
        let topology = self.core.topology_handle();
        self.storage.set_topology(topology.clone());
        let closed = self.transport.set_topology(topology);
        let text = match self.core.store().envelopes.get(&document).map(|s| &s.envelope.body) {
            Some(Body::Document(d)) => match d.text() {
                Ok(text) => text,
                Err(e) => {
                    error!(error = %e, "federation document version {version}: its revocation list not in force");
                    return;
                }
            },
            _ => return,
        };
        let name = PathBuf::from(format!("federation document version {version}"));
        match RevocationList::from_document(&text, &name) {
            Ok(list) => self.revocations.set_document(list, &self.transport),
            // The check read it before the document was applied.
            Err(e) => error!(error = %e, "federation document's revocation list not in force"),
        }
        info!(version, closed, "running on federation document version {version}");
    }

    /// The turn's commit failed: nothing of it happens. Replies say nothing
    /// was stored; sends and acks are dropped (peers resend what was not
    /// acked); notices are dropped with the state they described. Then the
    /// core is rebuilt from the store.
    /// A turn handled on a core the store then failed under: nothing of
    /// it was stored; operators are told so, everything else is dropped.
    fn storage_failed_again(&mut self, after: Vec<After>) {
        let refusal = storage::refusal(self.storage.problem().unwrap_or_default());
        for a in after {
            if let After::Reply(reply, response) = a {
                let _ = reply.send(storage::not_stored(*response, &refusal));
            }
        }
    }

    async fn storage_failed(&mut self, reason: String, after: Vec<After>) {
        let first = self.storage.failed(&reason);
        // Gone with the core they came from: the rebuilt one sends those
        // copies again, and the neighbours ack them again.
        self.held_acks.take();
        let refusal = storage::refusal(&reason);
        for a in after {
            if let After::Reply(reply, response) = a {
                let _ = reply.send(storage::not_stored(*response, &refusal));
            }
        }
        if first {
            self.notices
                .push(clock::now(), Notice::Storage { problem: Some(reason) });
        }
        if let Some(core) = self.storage.rebuild(&self.transport).await {
            self.core = core;
        }
    }

    /// While the store fails: answer questions, refuse acts, and probe.
    async fn degraded_turn(&mut self, input: Input) {
        let now = clock::now();
        match input {
            Input::Call(call) => {
                let response = match call.request {
                    Request::Query(query) => {
                        let gateway = query_needs_gateway(&query).then(|| gateway_status(&self.tokens, &self.webhooks));
                        let facts = NodeFacts {
                            gateway: gateway.as_ref(),
                            ..self.facts(now)
                        };
                        operators::answer(query, &self.core, facts)
                    }
                    Request::Act(_) => Response::Refused {
                        reason: storage::refusal(self.storage.problem().unwrap_or_default()),
                    },
                };
                let mut discard = (Vec::new(), Vec::new());
                self.drain(&mut discard.0, &mut discard.1);
                let _ = call.reply.send(response);
            }
            Input::Timeout => {
                if !self.storage.probe(now).await {
                    return;
                }
                // The core restarts from the store, probe record included.
                let Some(core) = self.storage.rebuild(&self.transport).await else {
                    return;
                };
                self.core = core;
                self.storage.recovered();
                self.notices.push(now, Notice::Storage { problem: None });
            }
            // Dropped with the link input: the rebuilt core asks again.
            Input::Key(_) | Input::Link(_) => {}
            Input::Renew(renewal) => {
                let _ = renewal.reply.send(Err(format!(
                    "the store fails ({}): a renewed certificate waits until it recovers; reload again then",
                    self.storage.problem().unwrap_or_default()
                )));
            }
        }
    }
}

/// What waited for a turn's commit, now durable: to be executed.
struct Settled {
    after: Vec<After>,
    now: Timestamp,
}

/// A turn in flight, its records back from the store, and the outcome.
type Done = (InFlight, Vec<Record>, Result<(), String>);

/// Waits for the turn in flight (there must be one) to be committed.
async fn wait_commit(in_flight: &mut Option<InFlight>) -> Done {
    let Some(flight) = in_flight.as_mut() else {
        unreachable!("waited for a commit with none in flight")
    };
    let joined = (&mut flight.commit).await;
    let flight = in_flight.take().expect("the turn in flight is there");
    match joined {
        Ok((records, outcome)) => (flight, records, outcome.map_err(|e| e.to_string())),
        Err(e) => (flight, Vec::new(), Err(format!("the commit's task ended: {e}"))),
    }
}

/// Whether answering `query` shows the gateway (tokens and webhooks are
/// read only then).
fn query_needs_gateway(query: &liandong_control::Query) -> bool {
    matches!(
        query,
        liandong_control::Query::Status | liandong_control::Query::Subscribe
    )
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
