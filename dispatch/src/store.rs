//! Durable state: what a node must not forget, as a fold over [`Record`]s.
//!
//! The core changes its durable state only by applying a record to its
//! [`Store`] and emitting the same record in a Persist effect. The driver
//! writes the records to disk (or, in the simulator, to a `Store` that
//! stands for the disk); after a crash `Core::restore` starts from the
//! `Store` rebuilt from what was written. So the state a restored core
//! sees is, by construction, exactly what was persisted.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use liandong_topology::NodeId;
use serde::{Deserialize, Serialize};

use crate::figures::{Period, SummaryRecord};
use crate::room::{Room, RoomEntry};
use crate::wire::{
    Body, Document, Envelope, EnvelopeId, Hop, Item, Lane, Mode, Order, Report, Stage, TargetState, Timestamp,
};

/// One change to durable state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Record {
    /// An envelope now held here (received or originated). Its presence is
    /// also the dedup window: an id held here is never delivered again.
    Envelope(StoredEnvelope),
    /// A copy owed to `peer`: until acked it is retried; once acked it
    /// stays (until expiry) so the same envelope is never sent to the same
    /// peer twice.
    Outbox {
        peer: NodeId,
        id: EnvelopeId,
        entry: OutboxEntry,
    },
    /// `peer` has persisted `id`.
    Acked { peer: NodeId, id: EnvelopeId },
    /// The envelope expired before `peer` acked it: no more attempts.
    GaveUp { peer: NodeId, id: EnvelopeId },
    /// This node's view of an incident, replaced whole.
    Incident(Incident),
    /// An order's header as this node knows it.
    Order(OrderRecord),
    /// One target's state for an order.
    Target {
        order: EnvelopeId,
        target: NodeId,
        status: TargetStatus,
    },
    /// Something an auditor must be able to see later.
    Audit(AuditEntry),
    /// The dedup window moved past these expired envelopes: drop them and
    /// their outbox entries (one pass over the outbox for the whole batch).
    Forget(Vec<EnvelopeId>),
    /// A coordination room's header, replaced whole.
    Room(Room),
    /// One more line of a room's log, applied in sequence order.
    RoomEntry(RoomEntry),
    /// A summary of figures (平安报表): a child's, as it came, or this
    /// center's own, as it was sent. The highest version per (center,
    /// period) is kept.
    Summary(Box<SummaryRecord>),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredEnvelope {
    pub envelope: Envelope,
    /// Hops before this node, then this node.
    pub trace: Vec<Hop>,
    /// Arrived as a late copy for a center that was skipped.
    pub catch_up: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    /// Destinations this copy is routed toward; empty for an order, whose
    /// targets say where it goes.
    pub to: Vec<NodeId>,
    pub lane: Lane,
    /// The peer was skipped when this copy was made; it is delivered when
    /// the peer returns.
    pub catch_up: bool,
    /// No longer owed: acked by the peer, or given up at expiry.
    pub acked: bool,
    /// Given up at expiry, never acked.
    #[serde(default)]
    pub gave_up: bool,
}

/// Where an incident is in its life, as this node knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum IncidentState {
    /// Reported, not yet accepted by its owner.
    Reported,
    Accepted,
    /// Accepted and at least one order issued for it.
    Dispatched,
    Resolved,
    Verified,
    Closed,
    Cancelled,
}

impl IncidentState {
    pub fn name(self) -> &'static str {
        match self {
            IncidentState::Reported => "reported",
            IncidentState::Accepted => "accepted",
            IncidentState::Dispatched => "dispatched",
            IncidentState::Resolved => "resolved",
            IncidentState::Verified => "verified",
            IncidentState::Closed => "closed",
            IncidentState::Cancelled => "cancelled",
        }
    }

    pub fn is_open(self) -> bool {
        !matches!(self, IncidentState::Closed | IncidentState::Cancelled)
    }
}

/// One line of an incident's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub at: Timestamp,
    pub node: NodeId,
    pub what: String,
}

/// How a timeline line begins for the steps the figures count: the core
/// writes them so and `figures` reads them back, both from here.
pub mod step {
    pub const REPORTED: &str = "reported by ";
    pub const ACCEPTED: &str = "accepted by ";
    pub const ESCALATED: &str = "escalated to ";
    pub const RESOLVED: &str = "resolved by ";
    pub const VERIFIED: &str = "verified by ";
    pub const CLOSED: &str = "closed by ";
    pub const CANCELLED: &str = "cancelled by ";
}

/// Longest timeline kept per incident; older middle entries are dropped
/// (the first entries and the envelopes themselves remain).
pub const MAX_TIMELINE: usize = 256;

/// This node's view of one incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    /// The id of the report envelope.
    pub id: EnvelopeId,
    pub origin: NodeId,
    pub report: Report,
    pub mode: Mode,
    pub reported: Timestamp,
    /// The center that owns it now.
    pub owner: NodeId,
    pub state: IncidentState,
    pub accepted_by: Option<String>,
    /// Deadline for the current owner to accept.
    pub accept_by: Timestamp,
    /// Deadline to finish, from acceptance.
    pub finish_by: Option<Timestamp>,
    /// The center supervising it after a missed deadline (督办).
    pub supervisor: Option<NodeId>,
    pub orders: Vec<EnvelopeId>,
    pub timeline: Vec<TimelineEntry>,
}

impl Incident {
    pub(crate) fn log(&mut self, at: Timestamp, node: &NodeId, what: String) {
        if self.timeline.len() >= MAX_TIMELINE {
            self.timeline.remove(MAX_TIMELINE / 2);
        }
        self.timeline.push(TimelineEntry {
            at,
            node: node.clone(),
            what,
        });
    }
}

/// An order as this node knows it: the issuer knows every target, a
/// center on the way the targets in its subtree, a target itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRecord {
    pub id: EnvelopeId,
    pub issuer: NodeId,
    pub order: Order,
    pub mode: Mode,
    pub issued: Timestamp,
    pub sign_for_by: Timestamp,
    pub finish_by: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetStatus {
    pub state: TargetState,
    pub at: Timestamp,
    /// Missed a deadline; the stage says which.
    pub overdue: Option<Stage>,
}

/// Counts over an order's targets: "37 of 40 signed for, 3 overdue".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollUp {
    pub targets: usize,
    pub delivered: usize,
    pub signed_for: usize,
    pub done: usize,
    pub refused: usize,
    pub overdue: usize,
}

impl fmt::Display for RollUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} of {} signed for", self.signed_for, self.targets)?;
        if self.done > 0 {
            write!(f, ", {} done", self.done)?;
        }
        if self.refused > 0 {
            write!(f, ", {} refused", self.refused)?;
        }
        if self.overdue > 0 {
            write!(f, ", {} overdue", self.overdue)?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: Timestamp,
    pub what: String,
}

/// Audit entries kept in memory; the driver's log keeps them all.
pub const AUDIT_IN_MEMORY: usize = 1024;

/// The durable state of one node: the fold of every record it persisted.
#[derive(Debug, Clone, Default)]
pub struct Store {
    pub envelopes: HashMap<EnvelopeId, StoredEnvelope>,
    pub outbox: BTreeMap<(NodeId, EnvelopeId), OutboxEntry>,
    pub incidents: BTreeMap<EnvelopeId, Incident>,
    /// The incidents by the time they were reported, so the figures of a
    /// period read only its own ([`Store::reported_in`]). Kept by
    /// [`Store::apply`]; a store filled otherwise calls [`Store::reindex`].
    pub reported: BTreeSet<(Timestamp, EnvelopeId)>,
    pub orders: BTreeMap<EnvelopeId, OrderRecord>,
    pub targets: BTreeMap<EnvelopeId, BTreeMap<NodeId, TargetStatus>>,
    /// The most recent audit entries, and how many there were in all.
    pub audit: Vec<AuditEntry>,
    pub audit_count: u64,
    /// Coordination rooms this node is part of (or the home of).
    pub rooms: BTreeMap<EnvelopeId, Room>,
    /// Their logs, by (room, sequence number).
    pub room_log: BTreeMap<(EnvelopeId, u64), RoomEntry>,
    /// Summaries of figures by (center, period): the children's latest
    /// and this center's last sent.
    pub summaries: BTreeMap<(NodeId, Period), SummaryRecord>,
}

impl Store {
    /// Applies one record. Applying the records a core emitted, in order,
    /// to an empty store gives that core's durable state.
    pub fn apply(&mut self, record: &Record) {
        match record {
            Record::Envelope(stored) => {
                self.envelopes.insert(stored.envelope.id, stored.clone());
            }
            Record::Outbox { peer, id, entry } => {
                self.outbox.insert((peer.clone(), *id), entry.clone());
            }
            Record::Acked { peer, id } => {
                if let Some(entry) = self.outbox.get_mut(&(peer.clone(), *id)) {
                    entry.acked = true;
                }
            }
            Record::GaveUp { peer, id } => {
                if let Some(entry) = self.outbox.get_mut(&(peer.clone(), *id)) {
                    entry.acked = true;
                    entry.gave_up = true;
                }
            }
            Record::Incident(incident) => {
                if let Some(old) = self.incidents.insert(incident.id, incident.clone()) {
                    self.reported.remove(&(old.reported, old.id));
                }
                self.reported.insert((incident.reported, incident.id));
            }
            Record::Order(order) => {
                self.orders.insert(order.id, order.clone());
            }
            Record::Target { order, target, status } => {
                self.targets
                    .entry(*order)
                    .or_default()
                    .insert(target.clone(), status.clone());
            }
            Record::Audit(entry) => {
                if self.audit.len() >= AUDIT_IN_MEMORY {
                    self.audit.remove(0);
                }
                self.audit.push(entry.clone());
                self.audit_count += 1;
            }
            Record::Forget(ids) => {
                for id in ids {
                    self.envelopes.remove(id);
                }
                let ids: std::collections::HashSet<&EnvelopeId> = ids.iter().collect();
                self.outbox.retain(|(_, e), _| !ids.contains(e));
            }
            Record::Room(room) => {
                self.rooms.insert(room.id, room.clone());
            }
            Record::RoomEntry(entry) => {
                self.room_log.insert((entry.room, entry.seq), entry.clone());
            }
            Record::Summary(record) => {
                let s = &record.summary;
                let key = (s.center.clone(), s.period);
                if self
                    .summaries
                    .get(&key)
                    .is_none_or(|held| held.summary.version <= s.version)
                {
                    self.summaries.insert(key, (**record).clone());
                }
            }
        }
    }

    /// The incidents reported from `start` (inclusive) to `end`
    /// (exclusive), in the order they were reported.
    pub fn reported_in(&self, start: Timestamp, end: Timestamp) -> impl Iterator<Item = &Incident> {
        (self.reported.range((start, EnvelopeId(0))..(end, EnvelopeId(0)))).filter_map(|(_, id)| self.incidents.get(id))
    }

    /// Rebuilds [`Store::reported`] from the incidents (after filling
    /// them other than by [`Store::apply`]).
    pub fn reindex(&mut self) {
        self.reported = self.incidents.values().map(|i| (i.reported, i.id)).collect();
    }

    /// A room's log in sequence order.
    pub fn room_log(&self, room: EnvelopeId) -> impl Iterator<Item = &RoomEntry> {
        self.room_log.range((room, 0)..=(room, u64::MAX)).map(|(_, e)| e)
    }

    /// The roll-up of an order's targets as this node knows them.
    pub fn roll_up(&self, order: EnvelopeId) -> RollUp {
        let mut r = RollUp::default();
        for status in self.targets.get(&order).into_iter().flat_map(|t| t.values()) {
            r.targets += 1;
            r.delivered += usize::from(status.state.rank() >= 1);
            r.signed_for += usize::from(status.state.is_signed_for());
            r.done += usize::from(matches!(status.state, TargetState::Done { .. }));
            r.refused += usize::from(matches!(status.state, TargetState::Refused { .. }));
            r.overdue += usize::from(status.overdue.is_some() && !status.state.is_final());
        }
        r
    }

    /// Copies owed to peers and not yet acked.
    pub fn pending(&self) -> impl Iterator<Item = (&NodeId, &EnvelopeId, &OutboxEntry)> {
        self.outbox
            .iter()
            .filter(|(_, e)| !e.acked)
            .map(|((p, id), e)| (p, id, e))
    }

    /// The newest federation document stored here (only checked ones are
    /// stored): what a node restarts on.
    pub fn document(&self) -> Option<&Document> {
        self.envelopes
            .values()
            .filter_map(|s| match &s.envelope.body {
                Body::Document(d) => Some(d),
                _ => None,
            })
            .max_by_key(|d| d.version)
    }
}

/// What is late, for supervision records.
pub(crate) fn item_name(item: &Item) -> String {
    match item {
        Item::Incident(id) => format!("incident {id}"),
        Item::OrderTarget { order, target } => format!("order {order} at {target}"),
    }
}
