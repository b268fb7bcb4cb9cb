//! [`Core`]: one node's protocol state machine.
//!
//! One `Core`, its methods in one file per job (child modules, each an
//! `impl Core` block):
//! - this file: the state, `new`/`restore`, the getters, the `handle_*`
//!   inputs and `poll_*` outputs, effect plumbing, topology helpers;
//! - `types`: the public types (config, effects, events, commands, errors);
//! - `routing`: next hops, queuing, sending, backoff;
//! - `window`: sending windows on links that declare their rate;
//! - `links`: links up and down, re-routing, failover;
//! - `frames`: frames from peers and the checks on a carried envelope;
//! - `keys`: origin keys the check lacks, asked of the driver;
//! - `incidents`, `orders`: the two lifecycles;
//! - `originate`: what this node sends in its own name;
//! - `rules`: operators' input rules (text bounds, trimming, the kinds
//!   of acknowledgement), checked before anything else;
//! - `commands`: operators' commands;
//! - `timers`: the closed `Timer` enum and what each timer does;
//! - `room_asks`, `room_events`: coordination rooms (asks and the home's
//!   ordering; in-order application, tasks, catch-up).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use liandong_topology::{NodeId, NodeIx, Severity, Topology};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::codec::{CodecError, decode_frame, encode_frame};
use crate::document::{DocumentCheck, NoDocuments};
use crate::sign::{SignatureCheck, SignatureError, Signer, sign_envelope, verify_envelope};
use crate::store::{
    AuditEntry, Incident, IncidentState, OrderRecord, OutboxEntry, Record, RollUp, Store, StoredEnvelope, TargetStatus,
    item_name,
};
use crate::wire::{
    Action, Body, Carry, DeadLetter, Document, Envelope, EnvelopeId, Frame, Hop, Item, Lane, Mode, Order, OrderAck,
    Report, Role, RoomAct, RoomBody, Stage, Supervise, TargetState, Targets, Timestamp, Update,
};

mod commands;
mod document;
mod frames;
mod incidents;
mod keys;
mod links;
mod orders;
mod originate;
mod room_asks;
mod room_events;
mod routing;
pub mod rules;
mod summaries;
mod timers;
mod types;
mod window;

pub use document::DOCUMENT_TTL;
pub use frames::STORED_AT_NEXT_HOP;
pub use summaries::SUMMARY_TTL;
use timers::Timer;
pub use types::{Command, CommandError, CoreConfig, CoreError, Effect, Event, Signature};

/// What the copy for one next hop covers: the destinations it is on its
/// way to (empty for an order: its targets decide), and whether it is a
/// late copy for a center skipped while it was down (it goes on the bulk
/// lane when that center returns).
#[derive(Debug, Default)]
struct Covers {
    to: Vec<NodeId>,
    late: bool,
}

/// When an unacked copy is sent again, and which attempt that will be
/// (its retry timer fires only if `due` is still its time).
#[derive(Debug, Clone, Copy)]
struct NextTry {
    attempt: u32,
    due: Timestamp,
}

/// A copy still to queue: its next hop and what it covers.
#[derive(Debug)]
struct NextHop {
    peer: NodeId,
    to: Vec<NodeId>,
    late: bool,
}

#[derive(Debug, Clone)]
struct Link {
    up: bool,
    last_heard: Timestamp,
    rtt: Option<Duration>,
    /// Down because the peer fell silent, not because the driver said the
    /// connection is gone: keep probing it with heartbeats.
    silent: bool,
}

/// Link health as the core sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkStatus {
    pub peer: NodeId,
    pub up: bool,
    pub last_heard: Timestamp,
    pub rtt: Option<Duration>,
    /// Unacked copies queued for this peer.
    pub queued: usize,
}

/// One node's protocol state machine, sans I/O.
///
/// The driver (the node runtime or the simulator) owns the sockets, the
/// disk and the clock, and calls:
/// - inputs: [`handle_frame`](Core::handle_frame) for bytes from a peer,
///   [`handle_link`](Core::handle_link) when a connection comes up or goes
///   down, [`handle_command`](Core::handle_command) for operator actions,
///   [`handle_timeout`](Core::handle_timeout) when the time from
///   [`poll_timeout`](Core::poll_timeout) has come;
/// - outputs, after every input: [`poll_effect`](Core::poll_effect) until it
///   returns `None`, executing each effect in order, then
///   [`poll_timeout`](Core::poll_timeout) to set the timer.
///
/// **The durability rule:** every effect an input produces comes after
/// that input's [`Effect::Persist`]. The driver must make a Persist durable
/// before executing any later effect; then a hop ack is only ever sent for
/// what is on disk, and a crash at any point loses nothing acked.
/// [`Core::restore`] rebuilds a core from the records persisted so far.
pub struct Core {
    topology: Arc<Topology>,
    me: NodeId,
    me_ix: NodeIx,
    config: CoreConfig,
    signer: Box<dyn Signer>,
    check: Box<dyn SignatureCheck>,
    /// Checks federation documents (see `document`).
    documents: Box<dyn DocumentCheck>,
    /// The version of the federation document this node runs on.
    document: Option<u64>,
    /// Origin keys asked of the driver, and loads that failed.
    key_asks: keys::KeyAsks,
    rng: StdRng,
    /// The id the command being handled chose for the envelope it
    /// originates ([`Command::Once`]); taken by the first `originate`.
    chosen: Option<EnvelopeId>,
    store: Store,
    /// Records of the input being handled, emitted as one Persist.
    batch: Vec<Record>,
    /// Effects of the input being handled, emitted after the Persist.
    after: Vec<Effect>,
    effects: VecDeque<Effect>,
    links: BTreeMap<NodeId, Link>,
    /// The next try of each unacked copy in flight.
    retries: HashMap<(NodeId, EnvelopeId), NextTry>,
    /// Up, declared links' copies in flight and waiting (`window`).
    windows: HashMap<NodeId, window::Window>,
    timers: BTreeSet<(Timestamp, Timer)>,
    queued: HashMap<NodeId, usize>,
    parent_down_since: Option<Timestamp>,
    failed_over: bool,
    /// The ancestor last announced as carrying traffic around the parent
    /// (announced once per change, not every check).
    failed_over_via: Option<NodeId>,
    failover_attempts: usize,
    /// Updates that arrived before their incident, by incident.
    orphans: HashMap<EnvelopeId, Vec<EnvelopeId>>,
    /// Order acks that arrived before their order (it went around this
    /// center while it was down), by order.
    orphan_acks: HashMap<EnvelopeId, Vec<EnvelopeId>>,
    /// Room events stored here but not yet applied, because an earlier
    /// one is missing (or the room is not known here): by room, by seq.
    /// Bounded by what the store holds; rebuilt at restore.
    room_waiting: HashMap<EnvelopeId, BTreeMap<u64, EnvelopeId>>,
    /// Rooms with a gap timer armed.
    room_gap_armed: HashSet<EnvelopeId>,
    /// The last catch-up asked per room, so a gap that persists is asked
    /// for again only after a while.
    room_synced: HashMap<EnvelopeId, SyncAsked>,
    /// Periods whose summary timer is armed.
    summary_armed: BTreeSet<crate::figures::Period>,
}

/// A catch-up this node asked of a room's home: from which sequence
/// number, and when.
#[derive(Debug, Clone, Copy)]
struct SyncAsked {
    from: u64,
    at: Timestamp,
}

impl Core {
    /// A fresh core for node `me`. `seed` feeds the only randomness the
    /// core uses (envelope ids, retry jitter).
    pub fn new(
        topology: Arc<Topology>,
        me: NodeId,
        config: CoreConfig,
        signer: Box<dyn Signer>,
        check: Box<dyn SignatureCheck>,
        seed: u64,
        now: Timestamp,
    ) -> Result<Core, CoreError> {
        Core::restore(topology, me, config, signer, check, seed, Store::default(), now)
    }

    /// A core rebuilt from its persisted `store` after a restart or crash.
    /// Links start down; unacked copies are resent when links come up;
    /// deadlines are re-armed from the records.
    #[allow(clippy::too_many_arguments)]
    pub fn restore(
        topology: Arc<Topology>,
        me: NodeId,
        config: CoreConfig,
        signer: Box<dyn Signer>,
        check: Box<dyn SignatureCheck>,
        seed: u64,
        store: Store,
        now: Timestamp,
    ) -> Result<Core, CoreError> {
        let me_ix = topology.ix(&me).ok_or_else(|| CoreError::UnknownNode(me.clone()))?;
        let document = Core::stored_document_version(&store);
        let mut core = Core {
            topology,
            me,
            me_ix,
            config,
            signer,
            check,
            documents: Box::new(NoDocuments),
            document,
            key_asks: keys::KeyAsks::default(),
            rng: StdRng::seed_from_u64(seed),
            chosen: None,
            store,
            batch: Vec::new(),
            after: Vec::new(),
            effects: VecDeque::new(),
            links: BTreeMap::new(),
            retries: HashMap::new(),
            windows: HashMap::new(),
            timers: BTreeSet::new(),
            queued: HashMap::new(),
            parent_down_since: None,
            failed_over: false,
            failed_over_via: None,
            failover_attempts: 0,
            orphans: HashMap::new(),
            orphan_acks: HashMap::new(),
            room_waiting: HashMap::new(),
            room_gap_armed: HashSet::new(),
            room_synced: HashMap::new(),
            summary_armed: BTreeSet::new(),
        };
        let pending: Vec<(NodeId, EnvelopeId)> = core.store.pending().map(|(p, id, _)| (p.clone(), *id)).collect();
        for (peer, id) in pending {
            *core.queued.entry(peer.clone()).or_default() += 1;
            if let Some(expires) = core.store.envelopes.get(&id).map(|s| s.envelope.expires) {
                core.timer(expires, Timer::Expire { peer, item: id });
            }
        }
        // The store's envelopes are a HashMap: walk them in a fixed order
        // (creation time, then id), so orphans are applied in the same
        // order in every process and a simulation replays byte for byte.
        let mut held: Vec<&StoredEnvelope> = core.store.envelopes.values().collect();
        held.sort_by_key(|s| (s.envelope.created, s.envelope.id));
        for stored in held {
            if let Body::Update(u) = &stored.envelope.body
                && !core.store.incidents.contains_key(&u.incident)
            {
                core.orphans.entry(u.incident).or_default().push(stored.envelope.id);
            }
            if let Body::OrderAck(a) = &stored.envelope.body
                && !core.store.orders.contains_key(&a.order)
            {
                core.orphan_acks.entry(a.order).or_default().push(stored.envelope.id);
            }
        }
        core.restore_rooms(now);
        let incidents: Vec<EnvelopeId> = core.store.incidents.keys().copied().collect();
        for id in incidents {
            core.arm_incident_timers(id);
        }
        let orders: Vec<EnvelopeId> = core.store.orders.keys().copied().collect();
        // Deadlines that passed while this node was down wait for the
        // failover threshold: acks made in time may be on their way.
        let not_before = now.plus(core.topology.link().failover_after);
        for id in orders {
            core.arm_order_timers(id, not_before);
        }
        if core.parent().is_some() {
            // Nothing is connected yet: the parent counts as down from now.
            core.parent_down_since = Some(now);
            core.timer(now.plus(core.topology.link().failover_after), Timer::ParentCheck);
        }
        core.timer(now.plus(core.config.sweep_every), Timer::Sweep);
        core.arm_summaries(now);
        Ok(core)
    }

    /// How federation documents are checked (by default, none is taken:
    /// [`NoDocuments`]).
    pub fn set_documents(&mut self, check: Box<dyn DocumentCheck>) {
        self.documents = check;
    }

    // ---- getters ----

    pub fn id(&self) -> &NodeId {
        &self.me
    }

    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// The durable state: what a restore would start from.
    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn incident(&self, id: EnvelopeId) -> Option<&Incident> {
        self.store.incidents.get(&id)
    }

    pub fn incidents(&self) -> impl Iterator<Item = &Incident> {
        self.store.incidents.values()
    }

    pub fn order(&self, id: EnvelopeId) -> Option<&OrderRecord> {
        self.store.orders.get(&id)
    }

    pub fn orders(&self) -> impl Iterator<Item = &OrderRecord> {
        self.store.orders.values()
    }

    /// Targets of an order as known here, with their states.
    pub fn order_targets(&self, id: EnvelopeId) -> impl Iterator<Item = (&NodeId, &TargetStatus)> {
        self.store.targets.get(&id).into_iter().flat_map(|t| t.iter())
    }

    pub fn roll_up(&self, order: EnvelopeId) -> RollUp {
        self.store.roll_up(order)
    }

    pub fn links(&self) -> Vec<LinkStatus> {
        self.links
            .iter()
            .map(|(peer, l)| LinkStatus {
                peer: peer.clone(),
                up: l.up,
                last_heard: l.last_heard,
                rtt: l.rtt,
                queued: self.queued.get(peer).copied().unwrap_or(0),
            })
            .collect()
    }

    /// Whether this node may hold a connection with `peer`: its parent and
    /// children, and for skip-level failover any other ancestor or
    /// descendant. The transport refuses everyone else (siblings, cousins,
    /// unknown nodes) before reading a frame.
    pub fn may_link(&self, peer: &NodeId) -> bool {
        self.ix(peer)
            .is_some_and(|p| self.is_below(p, self.me_ix) || self.is_below(self.me_ix, p))
    }

    /// True while the parent has been unreachable past the failover
    /// threshold and traffic goes around it.
    pub fn is_failed_over(&self) -> bool {
        self.failed_over
    }

    // ---- inputs ----

    /// Bytes from `peer`, already authenticated by the transport. Bad bytes
    /// are refused with a typed error and an audit record; nothing in them
    /// is accepted.
    pub fn handle_frame(&mut self, peer: &NodeId, bytes: &[u8], now: Timestamp) -> Result<(), CodecError> {
        let result = match decode_frame(bytes) {
            Ok(frame) => {
                self.on_frame(peer, frame, Signature::Unchecked, now);
                Ok(())
            }
            Err(e) => {
                self.refuse(peer, format!("undecodable frame: {e}"), now);
                Err(e)
            }
        };
        self.flush();
        result
    }

    /// A frame from `peer` its driver decoded already (off the core's
    /// path, as [`decode_frame`] does), with what it found of the carried
    /// envelope's origin signature. [`Signature::Holds`] is the driver's
    /// word that the signature holds under a key this core's check holds
    /// for the origin: the core skips that one check and makes every
    /// other (who may send what, dedup, expiry, queues). A driver that did
    /// not check says [`Signature::Unchecked`], and the core checks.
    pub fn handle_decoded_frame(&mut self, peer: &NodeId, frame: Frame, signature: Signature, now: Timestamp) {
        self.on_frame(peer, frame, signature, now);
        self.flush();
    }

    /// A connection to `peer` came up or went down.
    pub fn handle_link(&mut self, peer: &NodeId, up: bool, now: Timestamp) {
        self.set_link(peer, up, now);
        self.flush();
    }

    /// An operator's action. On success returns the id of the envelope it
    /// created (the incident or order id for a report or dispatch).
    pub fn handle_command(&mut self, command: Command, now: Timestamp) -> Result<EnvelopeId, CommandError> {
        let result = self.on_command(command, now);
        self.flush();
        result
    }

    /// Time has reached at least the last [`poll_timeout`](Core::poll_timeout).
    pub fn handle_timeout(&mut self, now: Timestamp) {
        while let Some(&(at, _)) = self.timers.first() {
            if at > now {
                break;
            }
            let Some((at, timer)) = self.timers.pop_first() else {
                break;
            };
            self.on_timer(at, timer, now);
        }
        self.flush();
    }

    // ---- outputs ----

    /// The next effect to execute, in order. See the type doc.
    #[must_use]
    pub fn poll_effect(&mut self) -> Option<Effect> {
        self.effects.pop_front()
    }

    /// When to call [`handle_timeout`](Core::handle_timeout) next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.timers.first().map(|(at, _)| *at)
    }

    // ---- effect plumbing ----

    fn persist(&mut self, record: Record) {
        self.store.apply(&record);
        self.batch.push(record);
    }

    fn audit(&mut self, now: Timestamp, what: String) {
        self.persist(Record::Audit(AuditEntry { at: now, what }));
    }

    fn notify(&mut self, event: Event) {
        self.after.push(Effect::Notify(event));
    }

    /// Ends an input: one Persist, then everything that depends on it:
    /// sends in lane order (a new document still goes to a child that
    /// moved), then a new topology for the driver, then the dials it
    /// allows, then the rest.
    fn flush(&mut self) {
        if !self.batch.is_empty() {
            self.effects.push_back(Effect::Persist(std::mem::take(&mut self.batch)));
        }
        let mut after = std::mem::take(&mut self.after);
        after.sort_by_key(|e| match e {
            Effect::Send { lane, .. } => *lane as u8,
            Effect::Reconfigure { .. } => 8,
            Effect::Connect(_) => 10,
            _ => 20,
        });
        self.effects.extend(after);
    }

    fn timer(&mut self, at: Timestamp, timer: Timer) {
        self.timers.insert((at, timer));
    }

    fn send_frame(&mut self, peer: &NodeId, lane: Lane, frame: &Frame) {
        match encode_frame(frame) {
            Ok(bytes) => self.after.push(Effect::Send {
                peer: peer.clone(),
                lane,
                frame: bytes,
            }),
            Err(e) => {
                // Only an envelope over the size limit can fail, and
                // commands refuse those before signing.
                self.after.push(Effect::Notify(Event::Refused {
                    peer: peer.clone(),
                    reason: format!("cannot send: {e}"),
                }));
            }
        }
    }

    // ---- topology helpers ----

    fn parent(&self) -> Option<NodeId> {
        self.topology
            .parent_ix(self.me_ix)
            .map(|p| self.topology.node(p).id.clone())
    }

    fn ix(&self, id: &NodeId) -> Option<NodeIx> {
        self.topology.ix(id)
    }

    fn is_below(&self, above: NodeIx, below: NodeIx) -> bool {
        above != below && self.topology.subtree_range(above).contains(&below.0)
    }

    fn link_up(&self, peer: &NodeId) -> bool {
        self.links.get(peer).is_some_and(|l| l.up)
    }

    /// Worth sending copies to: up, or only silent (the connection may
    /// still carry what this node sends even if nothing comes back — a
    /// node that can send but not receive must still get its reports out).
    fn may_send(&self, peer: &NodeId) -> bool {
        self.links.get(peer).is_some_and(|l| l.up || l.silent)
    }

    fn parent_of(&self, id: &NodeId) -> Option<NodeId> {
        self.topology.parent(id).map(|p| p.id.clone())
    }

    fn lane_for(envelope: &Envelope, catch_up: bool) -> Lane {
        if catch_up || matches!(envelope.body, Body::Room(RoomBody::History { .. }) | Body::Summary(_)) {
            Lane::Bulk
        } else if envelope.severity().is_some_and(|s| s >= Severity::II) {
            Lane::Urgent
        } else {
            Lane::Normal
        }
    }
}

/// Both parties of an incident, the owner and the reporting side: where an
/// update anyone may send (feedback, notes, cancel) goes. Routing skips
/// this node itself.
fn parties(i: &Incident) -> Vec<NodeId> {
    vec![i.owner.clone(), i.origin.clone()]
}
