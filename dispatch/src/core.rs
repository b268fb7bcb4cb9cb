//! [`Core`]: one node's protocol state machine.
//!
//! Coordination rooms are in the child module `room` (same state machine,
//! its own file).

mod room;
mod timer;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use liandong_topology::{NodeId, NodeIx, Severity, Topology};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::codec::{CodecError, decode_frame, encode_frame};
use crate::sign::{SignatureCheck, Signer, sign_envelope, verify_envelope};
use crate::store::{
    AuditEntry, Incident, IncidentState, OrderRecord, OutboxEntry, Record, RollUp, Store, StoredEnvelope, TargetStatus,
    item_name,
};
use crate::wire::{
    Action, Body, Carry, DeadLetter, Envelope, EnvelopeId, Frame, Hop, Item, Lane, Mode, Order, OrderAck, Report, Role,
    RoomAct, RoomBody, Stage, Supervise, TargetState, Targets, Timestamp, Update,
};

/// Settings of a core that are not in the topology's policy.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// How long an envelope may travel before it is dead-lettered.
    pub ttl: Duration,
    /// First retry delay for an unacked copy; doubles up to `retry_cap`.
    pub retry_base: Duration,
    pub retry_cap: Duration,
    /// Most unacked copies queued for one peer. Past it the node refuses
    /// new work (commands fail, frames go unacked so senders retry later).
    pub outbox_limit: usize,
    /// How often expired envelopes are dropped from the dedup window.
    pub sweep_every: Duration,
    /// How long a room event may wait for an earlier one before this node
    /// asks the room's home for the gap.
    pub room_gap_wait: Duration,
}

impl Default for CoreConfig {
    fn default() -> Self {
        CoreConfig {
            ttl: Duration::from_secs(3 * 24 * 3600),
            retry_base: Duration::from_millis(500),
            retry_cap: Duration::from_secs(60),
            outbox_limit: 100_000,
            sweep_every: Duration::from_secs(3600),
            room_gap_wait: Duration::from_secs(3),
        }
    }
}

/// What the driver must do, in the order polled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Make these records durable. Every effect polled after this one may
    /// depend on it: complete it first.
    Persist(Vec<Record>),
    /// Send an encoded frame to a peer on the given priority lane.
    Send { peer: NodeId, lane: Lane, frame: Vec<u8> },
    /// Tell the operators (UI, logs).
    Notify(Event),
    /// Open a connection to this node (skip-level failover).
    Connect(NodeId),
}

/// What operators and logs are told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// An incident is recorded here for the first time. `alert` is set at
    /// its owner, and on every center on the way for severities the policy
    /// alerts along the path.
    IncidentRecorded {
        incident: EnvelopeId,
        owner: NodeId,
        severity: Severity,
        alert: bool,
    },
    IncidentChanged {
        incident: EnvelopeId,
        action: &'static str,
        by: NodeId,
        state: IncidentState,
    },
    /// An order arrived here for this node to carry out.
    OrderReceived {
        order: EnvelopeId,
        issuer: NodeId,
    },
    /// A target's state changed, as seen here (issuer or a center on the way).
    OrderProgress {
        order: EnvelopeId,
        target: NodeId,
        state: TargetState,
        roll_up: RollUp,
    },
    Supervised {
        item: Item,
        stage: Stage,
        supervisor: NodeId,
    },
    DeadLettered {
        id: EnvelopeId,
        stuck_at: NodeId,
    },
    /// The next hop has stored an envelope that started here: the
    /// reporter's "at the township".
    Forwarded {
        id: EnvelopeId,
        to: NodeId,
    },
    LinkChanged {
        peer: NodeId,
        up: bool,
    },
    FailedOver {
        parent: NodeId,
        via: NodeId,
    },
    /// A frame was refused; nothing in it was accepted.
    Refused {
        peer: NodeId,
        reason: String,
    },
    /// A coordination room took its event `seq` here, in order (the
    /// first, seq 1, is the opening).
    RoomChanged {
        room: EnvelopeId,
        seq: u64,
        line: &'static str,
    },
    /// The room's home did not take an ask from this node.
    RoomRefused {
        room: EnvelopeId,
        ask: EnvelopeId,
        reason: String,
    },
}

/// An operator's action at this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Report {
        report: Report,
        mode: Mode,
    },
    Accept {
        incident: EnvelopeId,
        by: String,
    },
    Escalate {
        incident: EnvelopeId,
        by: String,
        reason: String,
    },
    Feedback {
        incident: EnvelopeId,
        by: String,
        text: String,
    },
    Resolve {
        incident: EnvelopeId,
        by: String,
        summary: String,
    },
    Verify {
        incident: EnvelopeId,
        by: String,
        accepted: bool,
        note: String,
    },
    Close {
        incident: EnvelopeId,
        by: String,
    },
    Note {
        incident: EnvelopeId,
        by: String,
        text: String,
    },
    Cancel {
        incident: EnvelopeId,
        by: String,
        reason: String,
    },
    Dispatch {
        order: Order,
        mode: Mode,
    },
    /// Sign for, report progress on, finish or refuse an order addressed
    /// to this node.
    Acknowledge {
        order: EnvelopeId,
        state: TargetState,
    },
    /// Someone at this node acts in the coordination room of incident
    /// `room` (open it, enter, speak, decide, assign a task, invite,
    /// leave, close). `home` names the room's home for a room this node
    /// does not know (asking to enter from off the incident's path); the
    /// home then decides. Succeeds once the ask is stored here and on its
    /// way; the room's event (or the home's refusal) follows.
    Room {
        room: EnvelopeId,
        by: String,
        role: Role,
        act: RoomAct,
        home: Option<NodeId>,
    },
}

/// Why a command was refused. Nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("no incident {0} is known here")]
    UnknownIncident(EnvelopeId),
    #[error("no order {0} is known here")]
    UnknownOrder(EnvelopeId),
    #[error("only the owner ({owner}) can {action} incident {incident}")]
    NotOwner {
        incident: EnvelopeId,
        owner: NodeId,
        action: &'static str,
    },
    #[error("only the reporting side ({origin}) can {action} incident {incident}")]
    NotReporter {
        incident: EnvelopeId,
        origin: NodeId,
        action: &'static str,
    },
    #[error("cannot {action} incident {incident}: it is {state}")]
    BadTransition {
        incident: EnvelopeId,
        action: &'static str,
        state: &'static str,
    },
    #[error("incident {0} is already at the top of the federation")]
    AtTop(EnvelopeId),
    #[error("order targets must be nodes below this one; {0} is not")]
    TargetNotBelow(NodeId),
    #[error("order has no targets")]
    NoTargets,
    #[error("this node is not a target of order {0}")]
    NotATarget(EnvelopeId),
    #[error("cannot go from {from} to {to} for order {order}")]
    BadAck {
        order: EnvelopeId,
        from: &'static str,
        to: &'static str,
    },
    #[error("the queue to {0} is full: try again when the link has caught up")]
    Overloaded(NodeId),
    #[error("only a leader may {action} a coordination room; {name} signs in as an operator")]
    NotLeader { action: &'static str, name: String },
    #[error(
        "no coordination room for incident {0} is known here: this center is not on the incident's path and was not invited (give the room's home to ask it)"
    )]
    UnknownRoom(EnvelopeId),
    #[error("the coordination room of incident {0} is closed")]
    RoomClosed(EnvelopeId),
    #[error("incident {0} already has a coordination room")]
    RoomExists(EnvelopeId),
    #[error("{name} is not in the coordination room of incident {room}: enter it first")]
    NotPresent { room: EnvelopeId, name: String },
    #[error("{name} is already in the coordination room of incident {room}")]
    AlreadyPresent { room: EnvelopeId, name: String },
    #[error("only the room's home ({home}) can {action} in the coordination room of incident {room}")]
    NotAtHome {
        room: EnvelopeId,
        home: NodeId,
        action: &'static str,
    },
    #[error(
        "{node} is not on the path of incident {room} and was not invited: the room's home ({home}) refuses its people"
    )]
    NotAdmitted {
        room: EnvelopeId,
        node: NodeId,
        home: NodeId,
    },
    #[error("a room task must go to a center or unit below the room's home {home}; {target} is not")]
    TaskNotBelow { target: NodeId, home: NodeId },
    #[error("the coordination room of incident {room} is full: {what}")]
    RoomFull { room: EnvelopeId, what: String },
    #[error("{0} is already invited or on the incident's path")]
    AlreadyInvited(NodeId),
    #[error("no node {0} is in the topology")]
    UnknownNode(NodeId),
}

/// Why the core could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoreError {
    #[error("node {0} is not in the topology")]
    UnknownNode(NodeId),
}

use timer::Timer;

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
    check: Arc<dyn SignatureCheck>,
    rng: StdRng,
    store: Store,
    /// Records of the input being handled, emitted as one Persist.
    batch: Vec<Record>,
    /// Effects of the input being handled, emitted after the Persist.
    after: Vec<Effect>,
    effects: VecDeque<Effect>,
    links: BTreeMap<NodeId, Link>,
    /// The next try of each unacked copy in flight.
    retries: HashMap<(NodeId, EnvelopeId), NextTry>,
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
    /// The last catch-up asked per room: (first missing seq, when), so a
    /// gap that persists is asked for again only after a while.
    room_synced: HashMap<EnvelopeId, (u64, Timestamp)>,
}

impl Core {
    /// A fresh core for node `me`. `seed` feeds the only randomness the
    /// core uses (envelope ids, retry jitter).
    pub fn new(
        topology: Arc<Topology>,
        me: NodeId,
        config: CoreConfig,
        signer: Box<dyn Signer>,
        check: Arc<dyn SignatureCheck>,
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
        check: Arc<dyn SignatureCheck>,
        seed: u64,
        store: Store,
        now: Timestamp,
    ) -> Result<Core, CoreError> {
        let me_ix = topology.ix(&me).ok_or_else(|| CoreError::UnknownNode(me.clone()))?;
        let mut core = Core {
            topology,
            me,
            me_ix,
            config,
            signer,
            check,
            rng: StdRng::seed_from_u64(seed),
            store,
            batch: Vec::new(),
            after: Vec::new(),
            effects: VecDeque::new(),
            links: BTreeMap::new(),
            retries: HashMap::new(),
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
        for id in orders {
            core.arm_order_timers(id);
        }
        if core.parent().is_some() {
            // Nothing is connected yet: the parent counts as down from now.
            core.parent_down_since = Some(now);
            core.timer(now.plus(core.topology.link().failover_after), Timer::ParentCheck);
        }
        core.timer(now.plus(core.config.sweep_every), Timer::Sweep);
        Ok(core)
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
                self.on_frame(peer, frame, now);
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

    /// Ends an input: one Persist, then everything that depends on it,
    /// sends in lane order.
    fn flush(&mut self) {
        if !self.batch.is_empty() {
            self.effects.push_back(Effect::Persist(std::mem::take(&mut self.batch)));
        }
        let mut after = std::mem::take(&mut self.after);
        after.sort_by_key(|e| match e {
            Effect::Send { lane, .. } => *lane as u8,
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
        if catch_up || matches!(envelope.body, Body::Room(RoomBody::History { .. })) {
            Lane::Bulk
        } else if envelope.severity().is_some_and(|s| s >= Severity::II) {
            Lane::Urgent
        } else {
            Lane::Normal
        }
    }

    // ---- routing ----

    /// Next hops for a copy of `envelope` going to `to` (empty for an
    /// order: its targets). Each hop comes with the destinations it
    /// covers and whether it is a late copy for a skipped center. The
    /// tree neighbour on the way is always a hop, even while it is down:
    /// when it returns it gets what it missed. While it is down past the
    /// failover threshold, a live node further along the path is a hop too.
    fn route(&self, envelope: &Envelope, to: &[NodeId]) -> BTreeMap<NodeId, Covers> {
        let t = &*self.topology;
        let mut hops: BTreeMap<NodeId, Covers> = BTreeMap::new();
        let add = |hops: &mut BTreeMap<NodeId, Covers>, peer: &NodeId, dest: Option<&NodeId>| {
            let e = hops.entry(peer.clone()).or_default();
            if let Some(d) = dest
                && !e.to.contains(d)
            {
                e.to.push(d.clone());
            }
        };
        if let Body::Order(order) = &envelope.body {
            for &child in t.children_ix(self.me_ix) {
                if !self.has_targets_in(order, child) {
                    continue;
                }
                let child_id = t.node(child).id.clone();
                add(&mut hops, &child_id, None);
                if !self.link_up(&child_id) {
                    // Failed-over descendants of the down child take it directly.
                    let live: Vec<NodeId> = self
                        .links
                        .iter()
                        .filter(|(p, l)| {
                            l.up && self
                                .ix(p)
                                .is_some_and(|ix| self.is_below(child, ix) && self.has_targets_in(order, ix))
                        })
                        .map(|(p, _)| p.clone())
                        .collect();
                    if !live.is_empty() {
                        hops.entry(child_id).or_default().late = true;
                        for p in live {
                            add(&mut hops, &p, None);
                        }
                    }
                }
            }
            return hops;
        }
        for dest in to {
            let Some(d) = self.ix(dest) else { continue };
            if d == self.me_ix {
                continue;
            }
            if self.is_below(self.me_ix, d) {
                // Down the tree: the child on the way, then deeper if it is down.
                let mut path = vec![d];
                while let Some(p) = t.parent_ix(*path.last().unwrap_or(&d)) {
                    if p == self.me_ix {
                        break;
                    }
                    path.push(p);
                }
                path.reverse();
                let child = t.node(path[0]).id.clone();
                add(&mut hops, &child, Some(dest));
                if !self.link_up(&child)
                    && let Some(live) = path[1..].iter().map(|&ix| &t.node(ix).id).find(|id| self.link_up(id))
                {
                    hops.entry(child.clone()).or_default().late = true;
                    add(&mut hops, live, Some(dest));
                }
            } else if let Some(parent) = self.parent() {
                add(&mut hops, &parent, Some(dest));
                if self.failed_over
                    && !self.link_up(&parent)
                    && let Some(live) = t.ancestors(&self.me).skip(1).map(|a| &a.id).find(|a| self.link_up(a))
                {
                    hops.entry(parent.clone()).or_default().late = true;
                    add(&mut hops, live, Some(dest));
                }
            }
        }
        hops
    }

    /// Does the subtree at `at` hold a target of `order`?
    fn has_targets_in(&self, order: &Order, at: NodeIx) -> bool {
        let t = &*self.topology;
        let within = |id: &NodeId| self.ix(id).is_some_and(|ix| ix == at || self.is_below(at, ix));
        match &order.targets {
            Targets::Node(n) => within(n),
            Targets::List(list) => list.iter().any(within),
            Targets::Subtree { root, level } => {
                let Some(r) = self.ix(root) else { return false };
                let (a, b) = (t.subtree_range(r), t.subtree_range(at));
                let (lo, hi) = (a.start.max(b.start), a.end.min(b.end));
                (lo..hi).any(|i| i != r.0 && level.is_none_or(|l| t.node(NodeIx(i)).level == l))
            }
        }
    }

    /// The targets of `order` inside the subtree at `at` (`at` included).
    fn targets_in(&self, order: &Order, at: NodeIx) -> Vec<NodeId> {
        let t = &*self.topology;
        let within = |ix: NodeIx| ix == at || self.is_below(at, ix);
        match &order.targets {
            Targets::Node(n) => self
                .ix(n)
                .filter(|&ix| within(ix))
                .map(|_| vec![n.clone()])
                .unwrap_or_default(),
            Targets::List(list) => {
                let mut v: Vec<NodeId> = list
                    .iter()
                    .filter(|n| self.ix(n).is_some_and(within))
                    .cloned()
                    .collect();
                v.sort();
                v.dedup();
                v
            }
            Targets::Subtree { root, level } => {
                let Some(r) = self.ix(root) else { return Vec::new() };
                let (a, b) = (t.subtree_range(r), t.subtree_range(at));
                (a.start.max(b.start)..a.end.min(b.end))
                    .filter(|&i| i != r.0)
                    .map(NodeIx)
                    .filter(|&ix| level.is_none_or(|l| t.node(ix).level == l))
                    .map(|ix| t.node(ix).id.clone())
                    .collect()
            }
        }
    }

    /// The copies of `envelope` still to queue for its next hops: hops it
    /// was already queued for (acked or not) are skipped, so the same
    /// envelope is queued for the same peer at most once.
    fn plan(&self, envelope: &Envelope, to: &[NodeId]) -> Vec<NextHop> {
        self.route(envelope, to)
            .into_iter()
            .filter(|(peer, _)| !self.store.outbox.contains_key(&(peer.clone(), envelope.id)))
            .map(|(peer, Covers { to, late })| NextHop { peer, to, late })
            .collect()
    }

    /// A peer whose queue is at its bound, if the plan needs one.
    fn full_queue(&self, plan: &[NextHop]) -> Option<NodeId> {
        plan.iter()
            .map(|hop| &hop.peer)
            .find(|p| self.queued.get(*p).copied().unwrap_or(0) >= self.config.outbox_limit)
            .cloned()
    }

    /// Queues a stored envelope's planned copies and sends those whose link is up.
    fn enqueue(&mut self, id: EnvelopeId, plan: Vec<NextHop>, catch_up: bool, now: Timestamp) {
        let Some(stored) = self.store.envelopes.get(&id) else {
            return;
        };
        let envelope_lane = Self::lane_for(&stored.envelope, catch_up);
        let expires = stored.envelope.expires;
        for NextHop { peer, to: dests, late } in plan {
            let lane = if late { Lane::Bulk } else { envelope_lane };
            let entry = OutboxEntry {
                to: dests,
                lane,
                catch_up: late || catch_up,
                acked: false,
                gave_up: false,
            };
            self.persist(Record::Outbox {
                peer: peer.clone(),
                id,
                entry,
            });
            *self.queued.entry(peer.clone()).or_default() += 1;
            self.timer(
                expires,
                Timer::Expire {
                    peer: peer.clone(),
                    item: id,
                },
            );
            if self.may_send(&peer) {
                self.transmit(&peer, id, 0, now);
            }
        }
    }

    /// Queues copies of a stored envelope for its next hops. Bounds are
    /// checked where new work is accepted (frames, commands), not here:
    /// what this node already holds is never dropped for a full queue.
    fn forward(&mut self, id: EnvelopeId, to: &[NodeId], catch_up: bool, now: Timestamp) {
        let Some(stored) = self.store.envelopes.get(&id) else {
            return;
        };
        let plan = self.plan(&stored.envelope, to);
        self.enqueue(id, plan, catch_up, now);
    }

    /// Sends one queued copy and arms its retry.
    fn transmit(&mut self, peer: &NodeId, id: EnvelopeId, attempt: u32, now: Timestamp) {
        let key = (peer.clone(), id);
        let (Some(entry), Some(stored)) = (self.store.outbox.get(&key), self.store.envelopes.get(&id)) else {
            return;
        };
        let frame = Frame::Carry(Carry {
            envelope: stored.envelope.clone(),
            to: entry.to.clone(),
            trace: stored.trace.clone(),
            catch_up: entry.catch_up,
        });
        let lane = entry.lane;
        self.send_frame(peer, lane, &frame);
        let backoff = self.backoff(attempt);
        let due = now.plus(backoff);
        self.retries.insert(
            key,
            NextTry {
                attempt: attempt.saturating_add(1),
                due,
            },
        );
        self.timer(
            due,
            Timer::Retry {
                peer: peer.clone(),
                item: id,
            },
        );
    }

    /// Capped exponential backoff with ±25% jitter from the seeded RNG.
    fn backoff(&mut self, attempt: u32) -> Duration {
        let base = self.config.retry_base.as_millis() as u64;
        let cap = self.config.retry_cap.as_millis() as u64;
        let raw = base.saturating_mul(1u64 << attempt.min(20)).min(cap).max(1);
        let jitter = self.rng.random_range(0..=raw / 2);
        Duration::from_millis(raw - raw / 4 + jitter)
    }

    /// After a link change, copies waiting on a down neighbour that now
    /// has a way around it get that way too.
    fn reroute(&mut self, now: Timestamp) {
        let stuck: Vec<(NodeId, EnvelopeId, Vec<NodeId>)> = self
            .store
            .pending()
            .filter(|(peer, _, e)| !e.catch_up && !self.link_up(peer))
            .map(|(peer, id, e)| (peer.clone(), *id, e.to.clone()))
            .collect();
        for (peer, id, to) in stuck {
            let Some(stored) = self.store.envelopes.get(&id) else {
                continue;
            };
            let hops = self.route(&stored.envelope, &to);
            if hops.keys().any(|p| *p != peer && self.link_up(p)) {
                if let Some(entry) = self.store.outbox.get(&(peer.clone(), id)) {
                    let entry = OutboxEntry {
                        catch_up: true,
                        lane: Lane::Bulk,
                        ..entry.clone()
                    };
                    self.persist(Record::Outbox {
                        peer: peer.clone(),
                        id,
                        entry,
                    });
                }
                self.forward(id, &to, false, now);
            }
        }
    }

    fn set_link(&mut self, peer: &NodeId, up: bool, now: Timestamp) {
        let was_up = self.link_up(peer);
        let link = self.links.entry(peer.clone()).or_insert(Link {
            up,
            last_heard: now,
            rtt: None,
            silent: false,
        });
        link.up = up;
        link.silent = false;
        // A link that went down has been unreachable since it was last heard.
        let unreachable_since = link.last_heard.min(now);
        if up {
            link.last_heard = now;
        }
        if was_up == up {
            return;
        }
        self.notify(Event::LinkChanged { peer: peer.clone(), up });
        let is_parent = self.parent().as_ref() == Some(peer);
        if up {
            if is_parent {
                self.parent_down_since = None;
                self.failed_over = false;
                self.failed_over_via = None;
                self.failover_attempts = 0;
            } else if self.failed_over && self.topology.is_ancestor(peer, &self.me) {
                // The ancestor dialed for failover answered: route through it now
                // rather than at the next check.
                self.announce_failover(peer.clone());
            }
            let hb = self.topology.link().heartbeat;
            // One heartbeat chain per peer: drop the one of an earlier up or of probing.
            self.timers
                .retain(|(_, t)| !matches!(t, Timer::Heartbeat { peer: p } if p == peer));
            self.timer(now.plus(hb), Timer::Heartbeat { peer: peer.clone() });
            // Everything owed to this peer, urgent first.
            let mut owed: Vec<(Lane, EnvelopeId)> = self
                .store
                .outbox
                .range((peer.clone(), EnvelopeId(0))..=(peer.clone(), EnvelopeId(u128::MAX)))
                .filter(|(_, e)| !e.acked)
                .map(|((_, id), e)| (e.lane, *id))
                .collect();
            owed.sort();
            for (_, id) in owed {
                self.transmit(peer, id, 0, now);
            }
        } else {
            for key in self
                .retries
                .keys()
                .filter(|(p, _)| p == peer)
                .cloned()
                .collect::<Vec<_>>()
            {
                self.retries.remove(&key);
            }
            if is_parent {
                self.parent_down_since = Some(unreachable_since);
                self.timer(
                    unreachable_since.plus(self.topology.link().failover_after),
                    Timer::ParentCheck,
                );
            }
        }
        self.reroute(now);
    }

    // ---- frames ----

    fn refuse(&mut self, peer: &NodeId, reason: String, now: Timestamp) {
        self.audit(now, format!("refused from {peer}: {reason}"));
        self.notify(Event::Refused {
            peer: peer.clone(),
            reason,
        });
    }

    fn on_frame(&mut self, peer: &NodeId, frame: Frame, now: Timestamp) {
        if let Some(link) = self.links.get_mut(peer) {
            link.last_heard = now;
        }
        if !self.link_up(peer) {
            self.set_link(peer, true, now);
        }
        match frame {
            Frame::Heartbeat { sent } => self.send_frame(peer, Lane::Control, &Frame::HeartbeatEcho { sent }),
            Frame::HeartbeatEcho { sent } => {
                if let Some(link) = self.links.get_mut(peer) {
                    link.rtt = Some(now.since(sent));
                }
            }
            Frame::HopAck { id } => {
                let key = (peer.clone(), id);
                if self.store.outbox.get(&key).is_some_and(|e| !e.acked) {
                    self.persist(Record::Acked { peer: peer.clone(), id });
                    self.retries.remove(&key);
                    if let Some(n) = self.queued.get_mut(peer) {
                        *n = n.saturating_sub(1);
                    }
                    if self
                        .store
                        .envelopes
                        .get(&id)
                        .is_some_and(|s| s.envelope.origin == self.me)
                    {
                        self.notify(Event::Forwarded { id, to: peer.clone() });
                    }
                }
            }
            Frame::Carry(carry) => self.on_carry(peer, carry, now),
        }
    }

    fn on_carry(&mut self, peer: &NodeId, carry: Carry, now: Timestamp) {
        let id = carry.envelope.id;
        if let Err(e) = verify_envelope(&carry.envelope, &*self.check) {
            self.refuse(peer, format!("envelope {id}: {e}"), now);
            return;
        }
        if let Err(reason) = self.permitted(peer, &carry.envelope) {
            self.refuse(peer, format!("envelope {id}: {reason}"), now);
            return;
        }
        let known = self.store.envelopes.contains_key(&id);
        if !known && carry.envelope.expires <= now {
            // Too late to act on: take it off the sender's hands and tell the origin.
            self.audit(now, format!("{id} from {peer} arrived expired"));
            self.dead_letter(&carry.envelope, now);
            self.send_frame(peer, Lane::Control, &Frame::HopAck { id });
            return;
        }
        let plan = self.plan(&carry.envelope, &carry.to);
        if let Some(full) = self.full_queue(&plan) {
            // Nothing stored and no ack: the sender keeps it and retries.
            self.audit(now, format!("queue to {full} full: {id} from {peer} not accepted"));
            self.notify(Event::Refused {
                peer: peer.clone(),
                reason: format!("envelope {id}: queue to {full} full, retry later"),
            });
            return;
        }
        if !known {
            let mut trace = carry.trace;
            trace.push(Hop {
                node: self.me.clone(),
                at: now,
            });
            let stored = StoredEnvelope {
                envelope: carry.envelope,
                trace,
                catch_up: carry.catch_up,
            };
            self.persist(Record::Envelope(stored));
        }
        self.enqueue(id, plan, carry.catch_up, now);
        self.send_frame(peer, Lane::Control, &Frame::HopAck { id });
        if !known {
            self.deliver(id, carry.to.contains(&self.me), now);
        }
    }

    /// Rules a frame's content must follow whatever the signature says.
    fn permitted(&self, peer: &NodeId, envelope: &Envelope) -> Result<(), String> {
        if let Body::Order(_) = &envelope.body {
            let issuer = self
                .ix(&envelope.origin)
                .ok_or_else(|| format!("unknown issuer {}", envelope.origin))?;
            if !self.is_below(issuer, self.me_ix) {
                return Err(format!(
                    "order from {} which is not above this node (sent by {peer})",
                    envelope.origin
                ));
            }
        }
        if self.ix(&envelope.origin).is_none() {
            return Err(format!("unknown origin {}", envelope.origin));
        }
        Ok(())
    }

    // ---- the application: lifecycles ----

    /// Applies a newly stored envelope to incidents, orders and rooms
    /// here. `addressed`: this node is one of the copy's destinations (not
    /// only a center on the way), which rooms need to tell members from
    /// relays.
    fn deliver(&mut self, id: EnvelopeId, addressed: bool, now: Timestamp) {
        let Some(stored) = self.store.envelopes.get(&id) else {
            return;
        };
        let envelope = stored.envelope.clone();
        let at = stored.trace.last().map_or(now, |h| h.at);
        match &envelope.body {
            Body::Report(report) => self.open_incident(&envelope, report, None, at),
            Body::Update(update) => self.apply_update(&envelope, update, at),
            Body::Order(order) => self.record_order(&envelope, order, now),
            Body::OrderAck(ack) => self.apply_ack(&envelope, ack, at),
            Body::Supervise(s) => self.apply_supervise(&envelope, s, at),
            Body::Room(body) => self.on_room(&envelope, body, addressed, now),
            Body::DeadLetter(d) => {
                if envelope.origin != self.me {
                    self.audit(
                        now,
                        format!("dead letter: {} ({:?}) expired at {}", d.id, d.kind, d.stuck_at),
                    );
                    self.notify(Event::DeadLettered {
                        id: d.id,
                        stuck_at: d.stuck_at.clone(),
                    });
                }
            }
        }
    }

    fn open_incident(&mut self, envelope: &Envelope, report: &Report, owner: Option<NodeId>, at: Timestamp) {
        let id = envelope.id;
        if self.store.incidents.contains_key(&id) {
            return;
        }
        let owner = owner.unwrap_or_else(|| {
            self.topology
                .owner(&envelope.origin, report.severity)
                .map_or_else(|| self.me.clone(), |n| n.id.clone())
        });
        let deadlines = self.topology.policy().deadlines(report.severity);
        let mut incident = Incident {
            id,
            origin: envelope.origin.clone(),
            report: report.clone(),
            mode: envelope.mode,
            reported: envelope.created,
            owner: owner.clone(),
            state: IncidentState::Reported,
            accepted_by: None,
            accept_by: envelope.created.plus(deadlines.accept),
            finish_by: None,
            supervisor: None,
            orders: Vec::new(),
            timeline: Vec::new(),
        };
        incident.log(
            envelope.created,
            &envelope.origin,
            format!("reported by {}", report.reporter),
        );
        if envelope.origin != self.me {
            incident.log(at, &self.me, "recorded here".into());
        }
        self.persist(Record::Incident(incident));
        let owned_here = owner == self.me;
        let alert = owned_here || self.topology.policy().alerts_path(report.severity);
        self.notify(Event::IncidentRecorded {
            incident: id,
            owner,
            severity: report.severity,
            alert,
        });
        self.arm_incident_timers(id);
        if owned_here && envelope.origin != self.me {
            // The receipt: the reporter sees its report reached its owner.
            let update = Update {
                incident: id,
                by: String::new(),
                action: Action::Received,
            };
            self.originate(Body::Update(update), vec![envelope.origin.clone()], envelope.mode, at);
        }
        if owned_here {
            self.auto_open_room(id, at);
        }
        for update in self.orphans.remove(&id).unwrap_or_default() {
            if let Some(stored) = self.store.envelopes.get(&update)
                && let Body::Update(u) = &stored.envelope.body
            {
                let (env, u) = (stored.envelope.clone(), u.clone());
                self.apply_update(&env, &u, at);
            }
        }
    }

    fn arm_incident_timers(&mut self, id: EnvelopeId) {
        let Some(i) = self.store.incidents.get(&id) else { return };
        let accept = (i.state == IncidentState::Reported && i.origin == self.me).then_some(i.accept_by);
        let finish = i
            .finish_by
            .filter(|_| matches!(i.state, IncidentState::Accepted | IncidentState::Dispatched))
            .filter(|_| i.owner == self.me && i.supervisor.is_none());
        if let Some(at) = accept {
            self.timer(at, Timer::Accept { item: id });
        }
        if let Some(at) = finish {
            self.timer(at, Timer::Finish { item: id });
        }
    }

    fn apply_update(&mut self, envelope: &Envelope, update: &Update, at: Timestamp) {
        let id = update.incident;
        let existed = self.store.incidents.contains_key(&id);
        if !existed {
            if let Action::Escalate { to, report, .. } = &update.action {
                // The new owner may never have seen the report: open it from
                // the signed original the escalation carries.
                if report.id == id
                    && verify_envelope(report, &*self.check).is_ok()
                    && let Body::Report(r) = &report.body
                {
                    let r = r.clone();
                    self.open_incident(report, &r, Some(to.clone()), at);
                }
            }
            if !self.store.incidents.contains_key(&id) {
                self.orphans.entry(id).or_default().push(envelope.id);
                return;
            }
        }
        let Some(mut incident) = self.store.incidents.get(&id).cloned() else {
            return;
        };
        let actor = &envelope.origin;
        let policy = self.topology.policy();
        let deadlines = policy.deadlines(incident.report.severity);
        let closed = !incident.state.is_open();
        // Ownership only climbs: an escalation that is stale here (it raced
        // another one, or arrived out of order) neither moves the owner
        // back nor reopens what the owner has accepted, nor alerts again.
        let climbs = matches!(&update.action, Action::Escalate { to, .. }
            if !closed && (!existed || self.topology.is_ancestor(to, &incident.owner)));
        match &update.action {
            // Only the owner accepts: an accept from a center the incident
            // has since been escalated away from is stale. One from above
            // the owner known here overtook the escalation that made it owner.
            Action::Accept
                if incident.state == IncidentState::Reported
                    && (*actor == incident.owner || self.topology.is_ancestor(actor, &incident.owner)) =>
            {
                incident.owner = actor.clone();
                incident.state = IncidentState::Accepted;
                incident.accepted_by = Some(update.by.clone());
                incident.finish_by = Some(envelope.created.plus(deadlines.finish));
            }
            Action::Escalate { to, supervised, .. } if climbs => {
                incident.owner = to.clone();
                incident.state = IncidentState::Reported;
                incident.accept_by = envelope.created.plus(deadlines.accept);
                if *supervised {
                    incident.supervisor = Some(to.clone());
                }
            }
            Action::Resolve { .. } if !closed => incident.state = IncidentState::Resolved,
            Action::Verify { accepted, .. } if incident.state == IncidentState::Resolved => {
                incident.state = if *accepted {
                    IncidentState::Verified
                } else {
                    IncidentState::Accepted
                };
            }
            Action::Close if !closed => incident.state = IncidentState::Closed,
            Action::Cancel { .. } if !closed => incident.state = IncidentState::Cancelled,
            _ => {}
        }
        let what = match &update.action {
            Action::Received => format!("received by its owner {actor}"),
            Action::Accept => format!("accepted by {}", update.by),
            Action::Escalate { to, reason, .. } => format!("escalated to {to} by {}: {reason}", update.by),
            Action::Feedback { text } => format!("feedback from {}: {text}", update.by),
            Action::Resolve { summary } => format!("resolved by {}: {summary}", update.by),
            Action::Verify { accepted: true, note } => format!("verified by {}: {note}", update.by),
            Action::Verify { accepted: false, note } => format!("sent back by {}: {note}", update.by),
            Action::Close => format!("closed by {}", update.by),
            Action::Note { text } => format!("note from {}: {text}", update.by),
            Action::Cancel { reason } => format!("cancelled by {}: {reason}", update.by),
        };
        incident.log(envelope.created, actor, what);
        let state = incident.state;
        self.persist(Record::Incident(incident));
        self.arm_incident_timers(id);
        // Handed an incident it already knew: alert it as its new owner.
        // (One it did not know was just opened, with the alert.)
        if let Action::Escalate { to, .. } = &update.action
            && *to == self.me
            && existed
            && climbs
        {
            let severity = self
                .store
                .incidents
                .get(&id)
                .map_or(Severity::Routine, |i| i.report.severity);
            self.notify(Event::IncidentRecorded {
                incident: id,
                owner: to.clone(),
                severity,
                alert: true,
            });
            self.auto_open_room(id, at);
        }
        self.notify(Event::IncidentChanged {
            incident: id,
            action: update.action.name(),
            by: actor.clone(),
            state,
        });
    }

    fn record_order(&mut self, envelope: &Envelope, order: &Order, now: Timestamp) {
        let id = envelope.id;
        if self.store.orders.contains_key(&id) {
            return;
        }
        let deadlines = self.topology.policy().deadlines(order.severity);
        let record = OrderRecord {
            id,
            issuer: envelope.origin.clone(),
            order: order.clone(),
            mode: envelope.mode,
            issued: envelope.created,
            sign_for_by: envelope.created.plus(deadlines.sign_for),
            finish_by: order
                .finish_by
                .unwrap_or_else(|| envelope.created.plus(deadlines.finish)),
        };
        self.persist(Record::Order(record));
        let targets = self.targets_in(order, self.me_ix);
        let i_am_target = targets.contains(&self.me);
        for target in targets {
            let status = TargetStatus {
                state: TargetState::Pending,
                at: envelope.created,
                overdue: None,
            };
            self.persist(Record::Target {
                order: id,
                target,
                status,
            });
        }
        for ack in self.orphan_acks.remove(&id).unwrap_or_default() {
            if let Some(stored) = self.store.envelopes.get(&ack)
                && let Body::OrderAck(a) = &stored.envelope.body
            {
                let (env, a, at) = (
                    stored.envelope.clone(),
                    a.clone(),
                    stored.trace.last().map_or(now, |h| h.at),
                );
                self.apply_ack(&env, &a, at);
            }
        }
        if envelope.origin == self.me {
            if let Some(incident) = order.incident
                && let Some(mut i) = self.store.incidents.get(&incident).cloned()
            {
                i.orders.push(id);
                if i.state == IncidentState::Accepted {
                    i.state = IncidentState::Dispatched;
                }
                i.log(
                    envelope.created,
                    &self.me,
                    format!("order {id} dispatched by {}", order.by),
                );
                self.persist(Record::Incident(i));
            }
            self.arm_order_timers(id);
        }
        if i_am_target {
            self.notify(Event::OrderReceived {
                order: id,
                issuer: envelope.origin.clone(),
            });
            let ack = OrderAck {
                order: id,
                issuer: envelope.origin.clone(),
                state: TargetState::Delivered,
            };
            self.originate(Body::OrderAck(ack), vec![envelope.origin.clone()], envelope.mode, now);
        }
    }

    fn arm_order_timers(&mut self, id: EnvelopeId) {
        let Some(o) = self.store.orders.get(&id) else { return };
        if o.issuer != self.me {
            return;
        }
        let (sign_for_by, finish_by) = (o.sign_for_by, o.finish_by);
        let roll = self.store.roll_up(id);
        if roll.signed_for + roll.refused < roll.targets {
            self.timer(sign_for_by, Timer::OrderSignFor { item: id });
        }
        if roll.done + roll.refused < roll.targets {
            self.timer(finish_by, Timer::OrderFinish { item: id });
        }
    }

    fn apply_ack(&mut self, envelope: &Envelope, ack: &OrderAck, at: Timestamp) {
        if !self.store.orders.contains_key(&ack.order) {
            // The ack overtook its order: apply it when the order arrives.
            self.orphan_acks.entry(ack.order).or_default().push(envelope.id);
            return;
        }
        let target = envelope.origin.clone();
        let Some(current) = self.store.targets.get(&ack.order).and_then(|t| t.get(&target)).cloned() else {
            return;
        };
        if ack.state.rank() <= current.state.rank() {
            return;
        }
        let status = TargetStatus {
            state: ack.state.clone(),
            at,
            overdue: current.overdue,
        };
        self.persist(Record::Target {
            order: ack.order,
            target: target.clone(),
            status,
        });
        let roll_up = self.store.roll_up(ack.order);
        self.room_task_progress(ack.order, &target, &ack.state, at);
        self.notify(Event::OrderProgress {
            order: ack.order,
            target,
            state: ack.state.clone(),
            roll_up,
        });
    }

    fn apply_supervise(&mut self, envelope: &Envelope, s: &Supervise, at: Timestamp) {
        match &s.item {
            Item::Incident(id) => {
                if let Some(mut i) = self.store.incidents.get(id).cloned() {
                    i.supervisor = Some(s.supervisor.clone());
                    i.log(
                        at,
                        &envelope.origin,
                        format!("{:?} deadline missed: supervised by {}", s.stage, s.supervisor),
                    );
                    self.persist(Record::Incident(i));
                }
            }
            Item::OrderTarget { order, target } => {
                if let Some(mut status) = self.store.targets.get(order).and_then(|t| t.get(target)).cloned() {
                    status.overdue = Some(s.stage);
                    self.persist(Record::Target {
                        order: *order,
                        target: target.clone(),
                        status,
                    });
                }
            }
        }
        if s.supervisor == self.me {
            self.audit(
                at,
                format!("supervising {} ({:?} deadline missed)", item_name(&s.item), s.stage),
            );
        }
        self.notify(Event::Supervised {
            item: s.item.clone(),
            stage: s.stage,
            supervisor: s.supervisor.clone(),
        });
    }

    /// Creates, signs, stores, applies and routes an envelope from this node.
    fn originate(&mut self, body: Body, to: Vec<NodeId>, mode: Mode, now: Timestamp) -> EnvelopeId {
        let id = EnvelopeId(self.rng.random());
        let mut envelope = Envelope {
            id,
            origin: self.me.clone(),
            created: now,
            expires: now.plus(self.config.ttl),
            mode,
            body,
            signature: Vec::new(),
        };
        sign_envelope(&mut envelope, &*self.signer);
        let trace = vec![Hop {
            node: self.me.clone(),
            at: now,
        }];
        self.persist(Record::Envelope(StoredEnvelope {
            envelope,
            trace,
            catch_up: false,
        }));
        self.deliver(id, true, now);
        self.forward(id, &to, false, now);
        id
    }

    fn dead_letter(&mut self, envelope: &Envelope, now: Timestamp) {
        if matches!(envelope.body, Body::DeadLetter(_)) {
            return;
        }
        let notice = DeadLetter {
            id: envelope.id,
            kind: envelope.kind(),
            stuck_at: self.me.clone(),
            expired: now,
        };
        if envelope.origin == self.me {
            self.audit(
                now,
                format!("own {:?} {} expired undelivered", envelope.kind(), envelope.id),
            );
            self.notify(Event::DeadLettered {
                id: envelope.id,
                stuck_at: self.me.clone(),
            });
        } else {
            self.originate(
                Body::DeadLetter(notice),
                vec![envelope.origin.clone()],
                envelope.mode,
                now,
            );
        }
    }

    // ---- commands ----

    fn on_command(&mut self, command: Command, now: Timestamp) -> Result<EnvelopeId, CommandError> {
        // New operator work waits while any queue is at its bound; what the
        // node already accepted is never dropped for it.
        if let Some((peer, _)) = self.queued.iter().find(|(_, n)| **n >= self.config.outbox_limit) {
            return Err(CommandError::Overloaded(peer.clone()));
        }
        match command {
            Command::Report { report, mode } => {
                let owner = self.topology.owner(&self.me, report.severity).map(|n| n.id.clone());
                let to = owner.into_iter().collect();
                Ok(self.originate(Body::Report(report), to, mode, now))
            }
            Command::Accept { incident, by } => {
                let i = self.owned(incident, "accept")?;
                self.expect_state(&i, "accept", &[IncidentState::Reported])?;
                Ok(self.update(&i, by, Action::Accept, vec![i.origin.clone()], now))
            }
            Command::Escalate { incident, by, reason } => {
                let i = self.owned(incident, "escalate")?;
                self.expect_open(&i, "escalate")?;
                let to = self.parent_of(&i.owner).ok_or(CommandError::AtTop(incident))?;
                let report = self.report_envelope(incident)?;
                let action = Action::Escalate {
                    to: to.clone(),
                    reason,
                    supervised: false,
                    report: Box::new(report),
                };
                Ok(self.update(&i, by, action, vec![to, i.origin.clone()], now))
            }
            Command::Feedback { incident, by, text } => {
                let i = self.known(incident)?;
                self.expect_open(&i, "add feedback to")?;
                Ok(self.update(&i, by, Action::Feedback { text }, parties(&i), now))
            }
            Command::Note { incident, by, text } => {
                let i = self.known(incident)?;
                Ok(self.update(&i, by, Action::Note { text }, parties(&i), now))
            }
            Command::Resolve { incident, by, summary } => {
                let i = self.owned(incident, "resolve")?;
                self.expect_state(&i, "resolve", &[IncidentState::Accepted, IncidentState::Dispatched])?;
                Ok(self.update(&i, by, Action::Resolve { summary }, vec![i.origin.clone()], now))
            }
            Command::Verify {
                incident,
                by,
                accepted,
                note,
            } => {
                let i = self.known(incident)?;
                if i.origin != self.me {
                    return Err(CommandError::NotReporter {
                        incident,
                        origin: i.origin,
                        action: "verify",
                    });
                }
                self.expect_state(&i, "verify", &[IncidentState::Resolved])?;
                Ok(self.update(&i, by, Action::Verify { accepted, note }, vec![i.owner.clone()], now))
            }
            Command::Close { incident, by } => {
                let i = self.owned(incident, "close")?;
                self.expect_state(&i, "close", &[IncidentState::Verified])?;
                Ok(self.update(&i, by, Action::Close, vec![i.origin.clone()], now))
            }
            Command::Cancel { incident, by, reason } => {
                let i = self.known(incident)?;
                if i.origin != self.me && i.owner != self.me {
                    return Err(CommandError::NotOwner {
                        incident,
                        owner: i.owner,
                        action: "cancel",
                    });
                }
                self.expect_open(&i, "cancel")?;
                Ok(self.update(&i, by, Action::Cancel { reason }, parties(&i), now))
            }
            Command::Dispatch { order, mode } => self.dispatch(order, mode, now),
            Command::Acknowledge { order, state } => self.acknowledge(order, state, now),
            Command::Room {
                room,
                by,
                role,
                act,
                home,
            } => self.room_command(room, by, role, act, home, now),
        }
    }

    fn known(&self, incident: EnvelopeId) -> Result<Incident, CommandError> {
        self.store
            .incidents
            .get(&incident)
            .cloned()
            .ok_or(CommandError::UnknownIncident(incident))
    }

    fn owned(&self, incident: EnvelopeId, action: &'static str) -> Result<Incident, CommandError> {
        let i = self.known(incident)?;
        if i.owner != self.me {
            return Err(CommandError::NotOwner {
                incident,
                owner: i.owner,
                action,
            });
        }
        Ok(i)
    }

    fn expect_state(&self, i: &Incident, action: &'static str, allowed: &[IncidentState]) -> Result<(), CommandError> {
        if allowed.contains(&i.state) {
            Ok(())
        } else {
            Err(CommandError::BadTransition {
                incident: i.id,
                action,
                state: i.state.name(),
            })
        }
    }

    fn expect_open(&self, i: &Incident, action: &'static str) -> Result<(), CommandError> {
        if i.state.is_open() {
            Ok(())
        } else {
            Err(CommandError::BadTransition {
                incident: i.id,
                action,
                state: i.state.name(),
            })
        }
    }

    fn report_envelope(&self, incident: EnvelopeId) -> Result<Envelope, CommandError> {
        self.store
            .envelopes
            .get(&incident)
            .map(|s| s.envelope.clone())
            .ok_or(CommandError::UnknownIncident(incident))
    }

    /// Sends an incident update to `to`; every center on the way records it.
    fn update(&mut self, i: &Incident, by: String, action: Action, to: Vec<NodeId>, now: Timestamp) -> EnvelopeId {
        let update = Update {
            incident: i.id,
            by,
            action,
        };
        self.originate(Body::Update(update), to, i.mode, now)
    }

    fn dispatch(&mut self, order: Order, mode: Mode, now: Timestamp) -> Result<EnvelopeId, CommandError> {
        let listed: Vec<&NodeId> = match &order.targets {
            Targets::Node(n) => vec![n],
            Targets::List(l) => l.iter().collect(),
            Targets::Subtree { root, .. } => {
                let r = self
                    .ix(root)
                    .ok_or_else(|| CommandError::TargetNotBelow(root.clone()))?;
                if r != self.me_ix && !self.is_below(self.me_ix, r) {
                    return Err(CommandError::TargetNotBelow(root.clone()));
                }
                vec![]
            }
        };
        for n in listed {
            if !self.ix(n).is_some_and(|ix| self.is_below(self.me_ix, ix)) {
                return Err(CommandError::TargetNotBelow(n.clone()));
            }
        }
        if self.targets_in(&order, self.me_ix).is_empty() {
            return Err(CommandError::NoTargets);
        }
        if let Some(incident) = order.incident {
            let i = self.owned(incident, "dispatch for")?;
            self.expect_state(
                &i,
                "dispatch for",
                &[IncidentState::Accepted, IncidentState::Dispatched],
            )?;
        }
        Ok(self.originate(Body::Order(order), Vec::new(), mode, now))
    }

    fn acknowledge(
        &mut self,
        order: EnvelopeId,
        state: TargetState,
        now: Timestamp,
    ) -> Result<EnvelopeId, CommandError> {
        let record = self
            .store
            .orders
            .get(&order)
            .cloned()
            .ok_or(CommandError::UnknownOrder(order))?;
        let current = self
            .store
            .targets
            .get(&order)
            .and_then(|t| t.get(&self.me))
            .cloned()
            .ok_or(CommandError::NotATarget(order))?;
        let allowed = matches!(
            (&current.state, &state),
            (TargetState::Delivered, TargetState::SignedFor { .. })
                | (
                    TargetState::Delivered | TargetState::SignedFor { .. },
                    TargetState::Refused { .. }
                )
                | (
                    TargetState::SignedFor { .. } | TargetState::InProgress { .. },
                    TargetState::InProgress { .. } | TargetState::Done { .. }
                )
        );
        if !allowed {
            return Err(CommandError::BadAck {
                order,
                from: current.state.name(),
                to: state.name(),
            });
        }
        let status = TargetStatus {
            state: state.clone(),
            at: now,
            overdue: current.overdue,
        };
        self.persist(Record::Target {
            order,
            target: self.me.clone(),
            status,
        });
        let ack = OrderAck {
            order,
            issuer: record.issuer.clone(),
            state,
        };
        Ok(self.originate(Body::OrderAck(ack), vec![record.issuer], record.mode, now))
    }

    // ---- timers ----

    fn on_timer(&mut self, at: Timestamp, timer: Timer, now: Timestamp) {
        match timer {
            Timer::Retry { peer, item } => self.on_retry(at, peer, item, now),
            Timer::Expire { peer, item } => self.on_expire(peer, item, now),
            Timer::Heartbeat { peer } => self.on_heartbeat(peer, now),
            Timer::ParentCheck => self.on_parent_check(now),
            Timer::Accept { item } => self.on_accept_deadline(item, now),
            Timer::Finish { item } => self.on_finish_deadline(item, now),
            Timer::OrderSignFor { item } => self.on_order_deadline(item, Stage::SignFor, now),
            Timer::OrderFinish { item } => self.on_order_deadline(item, Stage::Finish, now),
            Timer::Sweep => self.on_sweep(now),
            Timer::RoomGap { room } => self.on_room_gap(room, now),
        }
    }

    fn on_retry(&mut self, at: Timestamp, peer: NodeId, id: EnvelopeId, now: Timestamp) {
        let key = (peer.clone(), id);
        let Some(&NextTry { attempt, due }) = self.retries.get(&key) else {
            return;
        };
        if due != at || self.store.outbox.get(&key).is_none_or(|e| e.acked) {
            return;
        }
        if self.may_send(&peer) {
            self.transmit(&peer, id, attempt, now);
        }
    }

    /// A copy still unacked at its envelope's expiry is given up: the
    /// origin gets a dead-letter notice (unless it was only a late copy
    /// for a skipped center, which the real route already delivered).
    fn on_expire(&mut self, peer: NodeId, id: EnvelopeId, now: Timestamp) {
        let key = (peer.clone(), id);
        let Some(entry) = self.store.outbox.get(&key).filter(|e| !e.acked) else {
            return;
        };
        let catch_up = entry.catch_up;
        let Some(envelope) = self.store.envelopes.get(&id).map(|s| s.envelope.clone()) else {
            return;
        };
        self.retries.remove(&key);
        self.persist(Record::GaveUp { peer: peer.clone(), id });
        if let Some(n) = self.queued.get_mut(&peer) {
            *n = n.saturating_sub(1);
        }
        self.audit(now, format!("{id} to {peer} expired undelivered"));
        if !catch_up {
            self.dead_letter(&envelope, now);
        }
    }

    fn on_heartbeat(&mut self, peer: NodeId, now: Timestamp) {
        let hb = self.topology.link().heartbeat;
        let Some(link) = self.links.get(&peer) else { return };
        if !link.up && !link.silent {
            return;
        }
        if link.up && now.since(link.last_heard) > hb * 3 {
            // Silent for three heartbeats: treat the link as down, but keep
            // probing. The connection may still be there (a burst of loss);
            // if both ends gave up on it and stopped sending, nothing would
            // ever bring it back. The first frame heard revives it.
            self.set_link(&peer, false, now);
            if let Some(link) = self.links.get_mut(&peer) {
                link.silent = true;
            }
            // Keep retrying what is owed to it, at the capped backoff: the
            // peer may hear this node even if this node no longer hears it.
            let owed: Vec<EnvelopeId> = self
                .store
                .outbox
                .range((peer.clone(), EnvelopeId(0))..=(peer.clone(), EnvelopeId(u128::MAX)))
                .filter(|(_, e)| !e.acked)
                .map(|((_, id), _)| *id)
                .collect();
            for id in owed {
                let due = now.plus(self.backoff(20));
                self.retries.insert((peer.clone(), id), NextTry { attempt: 20, due });
                self.timer(
                    due,
                    Timer::Retry {
                        peer: peer.clone(),
                        item: id,
                    },
                );
            }
        }
        self.send_frame(&peer, Lane::Control, &Frame::Heartbeat { sent: now });
        self.timer(now.plus(hb), Timer::Heartbeat { peer });
    }

    fn on_parent_check(&mut self, now: Timestamp) {
        let Some(parent) = self.parent() else { return };
        let threshold = self.topology.link().failover_after;
        let Some(since) = self.parent_down_since else { return };
        if self.link_up(&parent) || now.since(since) < threshold {
            return;
        }
        let ancestors: Vec<NodeId> = self
            .topology
            .ancestors(&self.me)
            .skip(1)
            .map(|a| a.id.clone())
            .collect();
        if ancestors.is_empty() {
            return;
        }
        let live = ancestors.iter().find(|a| self.link_up(a)).cloned();
        if !self.failed_over {
            self.failed_over = true;
            self.audit(
                now,
                format!(
                    "parent {parent} unreachable for {}s: failing over",
                    now.since(since).as_secs()
                ),
            );
        }
        match live {
            Some(via) => self.announce_failover(via),
            None => {
                // Dial the nearest ancestor first, then further up each round.
                let target = ancestors[self.failover_attempts % ancestors.len()].clone();
                self.failover_attempts += 1;
                self.after.push(Effect::Connect(target));
            }
        }
        self.reroute(now);
        self.timer(now.plus(threshold), Timer::ParentCheck);
    }

    fn announce_failover(&mut self, via: NodeId) {
        let Some(parent) = self.parent() else { return };
        if self.failed_over_via.as_ref() != Some(&via) {
            self.failed_over_via = Some(via.clone());
            self.notify(Event::FailedOver { parent, via });
        }
    }

    fn on_accept_deadline(&mut self, id: EnvelopeId, now: Timestamp) {
        let Some(i) = self.store.incidents.get(&id).cloned() else {
            return;
        };
        if i.state != IncidentState::Reported || i.origin != self.me || now < i.accept_by {
            return;
        }
        let Some(to) = self.parent_of(&i.owner) else {
            self.audit(
                now,
                format!("incident {id} not accepted in time at the top ({})", i.owner),
            );
            self.notify(Event::Supervised {
                item: Item::Incident(id),
                stage: Stage::Accept,
                supervisor: i.owner,
            });
            return;
        };
        let Ok(report) = self.report_envelope(id) else { return };
        let reason = format!("not accepted by {} in time", i.owner);
        let action = Action::Escalate {
            to: to.clone(),
            reason,
            supervised: true,
            report: Box::new(report),
        };
        self.update(&i, "system".into(), action, vec![to], now);
    }

    fn on_finish_deadline(&mut self, id: EnvelopeId, now: Timestamp) {
        let Some(i) = self.store.incidents.get(&id).cloned() else {
            return;
        };
        let late = matches!(i.state, IncidentState::Accepted | IncidentState::Dispatched)
            && i.owner == self.me
            && i.supervisor.is_none()
            && i.finish_by.is_some_and(|f| now >= f);
        if !late {
            return;
        }
        let supervisor = self.parent().unwrap_or_else(|| self.me.clone());
        let deadline = i.finish_by.unwrap_or(now);
        let s = Supervise {
            item: Item::Incident(id),
            stage: Stage::Finish,
            supervisor: supervisor.clone(),
            deadline,
        };
        self.originate(Body::Supervise(s), vec![supervisor, i.origin.clone()], i.mode, now);
    }

    fn on_order_deadline(&mut self, id: EnvelopeId, stage: Stage, now: Timestamp) {
        let Some(o) = self.store.orders.get(&id).cloned() else {
            return;
        };
        if o.issuer != self.me {
            return;
        }
        let deadline = if stage == Stage::SignFor {
            o.sign_for_by
        } else {
            o.finish_by
        };
        let late: Vec<NodeId> = self
            .order_targets(id)
            .filter(|(_, s)| {
                s.overdue != Some(stage)
                    && match stage {
                        Stage::SignFor => s.state.rank() < 2,
                        _ => !s.state.is_final(),
                    }
            })
            .map(|(t, _)| t.clone())
            .collect();
        for target in late {
            let supervisor = self.parent_of(&target).unwrap_or_else(|| self.me.clone());
            let item = Item::OrderTarget { order: id, target };
            let s = Supervise {
                item,
                stage,
                supervisor: supervisor.clone(),
                deadline,
            };
            self.originate(Body::Supervise(s), vec![supervisor], o.mode, now);
        }
    }

    fn on_sweep(&mut self, now: Timestamp) {
        // Kept: reports of open incidents (an escalation carries them) and
        // anything still owed to a peer (its expiry is handled by retries).
        let mut keep: std::collections::HashSet<EnvelopeId> = self
            .store
            .incidents
            .values()
            .filter(|i| i.state.is_open())
            .map(|i| i.id)
            .collect();
        keep.extend(self.store.pending().map(|(_, id, _)| *id));
        // And the events of open rooms: a late member gets them as history.
        for room in self.store.rooms.values().filter(|r| r.is_open()) {
            keep.extend(self.store.room_log(room.id).map(|e| e.event));
        }
        let expired: Vec<EnvelopeId> = self
            .store
            .envelopes
            .values()
            .filter(|s| s.envelope.expires <= now && !keep.contains(&s.envelope.id))
            .map(|s| s.envelope.id)
            .collect();
        if !expired.is_empty() {
            self.persist(Record::Forget(expired));
            // Room events that waited here and are now forgotten wait no more.
            let held = &self.store.envelopes;
            self.room_waiting.retain(|_, w| {
                w.retain(|_, id| held.contains_key(id));
                !w.is_empty()
            });
        }
        self.timer(now.plus(self.config.sweep_every), Timer::Sweep);
    }
}

/// Both parties of an incident, the owner and the reporting side: where an
/// update anyone may send (feedback, notes, cancel) goes. Routing skips
/// this node itself.
fn parties(i: &Incident) -> Vec<NodeId> {
    vec![i.owner.clone(), i.origin.clone()]
}
