//! The control API's messages: what a console or the CLI asks its own
//! node, and what the node answers or pushes.
//!
//! One request per bidirectional QUIC stream. The client writes one
//! [`Request`] and finishes its side; the node answers with one
//! [`Response`]. For [`Query::Subscribe`] the node answers with a
//! [`Response::Snapshot`] and then keeps pushing [`Response::Pushed`] on the
//! same stream until either side closes it, so a console never polls.
//!
//! Messages are length-prefixed (u32, big endian) bincode; the length is
//! checked against [`MAX_REQUEST`] / [`MAX_RESPONSE`] before anything is
//! allocated.
//!
//! The operator's name and role come from the certificate they connect
//! with, never from a request: a request cannot claim to be someone else.

use liandong_certs::Role;
use liandong_dispatch::figures::{Period, Report};
use liandong_dispatch::room::{Minutes, Room, RoomEntry};
use liandong_dispatch::store::{Incident, OrderRecord, RollUp, TargetStatus};
use liandong_dispatch::wire::{
    Category, Document, EnvelopeId, Item, Mode, PhotoRef, RoomAct, Stage, TargetState, Targets, Timestamp,
};
use liandong_topology::{Level, NodeId, Severity};
use serde::{Deserialize, Serialize};

/// ALPN of the control API, distinct from node links (`liandong/1`) so a
/// console can never be mistaken for a peer node or the other way round.
pub const CONTROL_ALPN: &[u8] = b"liandong-control/1";

/// Largest request a node reads.
pub const MAX_REQUEST: usize = 256 * 1024;
/// Largest response a client reads (a board of thousands of incidents).
pub const MAX_RESPONSE: usize = 64 * 1024 * 1024;

/// Who is asking, as read from their operator certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operator {
    /// The center whose operator this is; a node serves only its own.
    pub node: NodeId,
    pub name: String,
    pub role: Role,
}

/// An incident or order as people type it: the full 32 hex digits, or a
/// unique prefix of them (the 12 digits lists show are enough).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdRef(pub String);

/// What a console or the CLI sends: a question, or an operator's action.
/// The split is the wire's: nothing else lists which request is which.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// Answered from what the node holds; changes nothing (so a node whose
    /// store fails still answers it).
    Query(Query),
    /// An operator's action: the node's core checks it and stores what it
    /// changes before answering.
    Act(Act),
}

impl From<Query> for Request {
    fn from(q: Query) -> Request {
        Request::Query(q)
    }
}

impl From<Act> for Request {
    fn from(a: Act) -> Request {
        Request::Act(a)
    }
}

/// A question about what the node holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Query {
    /// Incidents known here, open ones only unless `closed`.
    Incidents {
        closed: bool,
    },
    Incident {
        id: IdRef,
    },
    /// Orders known here, unfinished ones only unless `finished`.
    Orders {
        finished: bool,
    },
    Order {
        id: IdRef,
    },
    Status,
    /// Coordination rooms this node is part of, open ones only unless
    /// `closed`.
    Rooms {
        closed: bool,
    },
    /// One room with its whole log as applied here.
    Room {
        id: IdRef,
    },
    /// The room's minutes (a draft while it is open).
    Minutes {
        room: IdRef,
    },
    /// The federation's topology file as this node runs it (consoles show
    /// readable paths and pick order targets from it).
    Topology,
    /// The subtree report (平安报表) for a period, `2026-11` or
    /// `2026-11-05` ([`Response::Figures`]): this center's own figures
    /// and its children's summaries, or with `center` a child's subtree
    /// from the child's latest summary.
    Figures {
        period: String,
        #[serde(default)]
        center: Option<NodeId>,
    },
    /// An incident as the CAP 1.2 alert this center sends
    /// ([`Response::CapAlert`]).
    IncidentCap {
        id: IdRef,
    },
    /// A snapshot, then every change as it happens.
    Subscribe,
}

/// An operator's action at their own node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Act {
    /// File a report (上报) at this node.
    Report {
        severity: Severity,
        category: Category,
        title: String,
        detail: String,
        place: String,
        mode: Mode,
    },
    /// File a report under an id derived from an idempotency key (the
    /// gateway's `Idempotency-Key`): the same id again answers the report
    /// already filed and files nothing.
    ReportOnce {
        /// 32 hex digits.
        id: IdRef,
        severity: Severity,
        category: Category,
        title: String,
        detail: String,
        place: String,
        mode: Mode,
        /// Photos already held at this node (the gateway stored them),
        /// at most four.
        photos: Vec<PhotoRef>,
    },
    Accept {
        incident: IdRef,
    },
    Escalate {
        incident: IdRef,
        reason: String,
    },
    Feedback {
        incident: IdRef,
        text: String,
    },
    Resolve {
        incident: IdRef,
        summary: String,
    },
    Verify {
        incident: IdRef,
        accepted: bool,
        note: String,
    },
    Close {
        incident: IdRef,
    },
    Note {
        incident: IdRef,
        text: String,
    },
    Cancel {
        incident: IdRef,
        reason: String,
    },
    /// Issue a dispatch order (交办) to nodes below this one.
    Dispatch {
        incident: Option<IdRef>,
        targets: Targets,
        severity: Severity,
        instruction: String,
        finish_by: Option<Timestamp>,
        mode: Mode,
    },
    /// Sign for (签收), report progress on, finish or refuse an order
    /// addressed to this node.
    Acknowledge {
        order: IdRef,
        state: TargetState,
    },
    /// Act in the coordination room of incident `room` (综合协调室): open
    /// it (a leader at the owning center), enter, say, decide (leaders),
    /// assign a task, invite (at the home), leave, close (a leader at the
    /// home). Answered with [`Response::Asked`] once the ask is stored
    /// here; the room's event follows as a pushed
    /// [`Notice::RoomChanged`] carrying the same ask id, or the home's
    /// refusal as [`Notice::RoomRefused`]. `home` is for asking to enter a
    /// room this node does not know (it is not on the incident's path):
    /// then `room` must be the full 32-digit id.
    RoomAct {
        room: IdRef,
        act: RoomAct,
        home: Option<NodeId>,
    },
    /// Import a CAP 1.2 alert (its XML as sent, at most
    /// [`MAX_CAP`] bytes): filed as a report or an order, an update, a
    /// cancellation or a note, or not filed; answered with
    /// [`Response::CapImported`].
    ImportCap {
        xml: Vec<u8>,
    },
    /// Publish a new version of the federation document (a leader at the
    /// root): checked, applied at the root and carried to every node. Its
    /// text and the admin's signature and certificate chain, as signed.
    Publish(Document),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// The command was taken: `id` is the new or changed item.
    Done {
        id: EnvelopeId,
        what: String,
    },
    /// Nothing was changed; `reason` says why, in words for the operator.
    Refused {
        reason: String,
    },
    Incidents(Vec<Incident>),
    Incident(Incident),
    Orders(Vec<OrderView>),
    Order(OrderView),
    Status(NodeStatus),
    /// A room act was stored here and sent to the room's home.
    Asked {
        room: EnvelopeId,
        ask: EnvelopeId,
        what: String,
    },
    Rooms(Vec<Room>),
    Room(RoomView),
    Minutes(Minutes),
    /// The topology, as TOML text (see `liandong_topology::Topology::parse`).
    Topology(String),
    /// First answer to [`Query::Subscribe`].
    Snapshot {
        status: NodeStatus,
        incidents: Vec<Incident>,
        orders: Vec<OrderView>,
        /// Open rooms (headers; ask for [`Query::Room`] for a log).
        rooms: Vec<Room>,
    },
    /// Every later answer to [`Query::Subscribe`].
    Pushed(Pushed),
    /// An incident as a CAP 1.2 alert, XML.
    CapAlert {
        xml: String,
    },
    /// What an imported CAP alert became.
    CapImported(CapImport),
    /// A subtree report for a period.
    Figures(Box<Report>),
}

/// Largest CAP alert a node imports, in bytes: under [`MAX_REQUEST`] with
/// room for the request around it.
pub const MAX_CAP: usize = 240 * 1024;

/// What an imported CAP alert became at the node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapImport {
    pub outcome: CapOutcome,
    /// The incident or order it filed or changed, if any.
    pub id: Option<EnvelopeId>,
    /// In words, for the sending platform's operator.
    pub what: String,
}

/// The kinds of [`CapImport`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CapOutcome {
    /// An Alert filed as a report at this center (an incident).
    Filed,
    /// An Alert for divisions below this center, issued to them as an order.
    Ordered,
    /// An Update added to the incident it refers to.
    Updated,
    /// A Cancel cancelled the incident it refers to.
    Cancelled,
    /// An Ack or Error noted on the incident it refers to.
    Recorded,
    /// The same alert (sender, identifier, sent) was imported before.
    Duplicate,
    /// Read, but not filed (Test, System, Draft; nothing referred to held here).
    NotFiled,
    /// Not a valid CAP 1.2 alert; `what` names the element and line.
    Invalid,
}

impl CapOutcome {
    /// The word on the wire and in the gateway's JSON.
    pub fn name(self) -> &'static str {
        match self {
            CapOutcome::Filed => "filed",
            CapOutcome::Ordered => "ordered",
            CapOutcome::Updated => "updated",
            CapOutcome::Cancelled => "cancelled",
            CapOutcome::Recorded => "recorded",
            CapOutcome::Duplicate => "duplicate",
            CapOutcome::NotFiled => "not_filed",
            CapOutcome::Invalid => "invalid",
        }
    }
}

impl Response {
    /// The variant's name, for messages about unexpected answers.
    pub fn kind(&self) -> &'static str {
        match self {
            Response::Done { .. } => "Done",
            Response::Refused { .. } => "Refused",
            Response::Incidents(_) => "Incidents",
            Response::Incident(_) => "Incident",
            Response::Orders(_) => "Orders",
            Response::Order(_) => "Order",
            Response::Status(_) => "Status",
            Response::Asked { .. } => "Asked",
            Response::Rooms(_) => "Rooms",
            Response::Room(_) => "Room",
            Response::Minutes(_) => "Minutes",
            Response::Topology(_) => "Topology",
            Response::Snapshot { .. } => "Snapshot",
            Response::Pushed(_) => "Pushed",
            Response::CapAlert { .. } => "CapAlert",
            Response::CapImported(_) => "CapImported",
            Response::Figures(_) => "Figures",
        }
    }
}

/// An order with its targets as this node knows them (the issuer knows
/// every target; a center on the way those in its subtree; a target
/// itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderView {
    pub order: OrderRecord,
    pub roll_up: RollUp,
    pub targets: Vec<(NodeId, TargetStatus)>,
}

/// A coordination room with its log as applied here, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomView {
    pub room: Room,
    pub log: Vec<RoomEntry>,
}

/// One link of this node as an operator sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkView {
    pub peer: NodeId,
    /// The peer's name from the topology.
    pub name: String,
    /// "parent", "child", "unit", or "ancestor" / "descendant" for links
    /// opened during skip-level failover.
    pub relation: String,
    pub up: bool,
    pub last_heard: Timestamp,
    pub rtt_ms: Option<u64>,
    /// Copies queued for this peer and not yet acked.
    pub queued: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStatus {
    pub node: NodeId,
    pub name: String,
    pub level: Level,
    pub parent: Option<NodeId>,
    /// Routing around the parent through an ancestor.
    pub failed_over: bool,
    pub links: Vec<LinkView>,
    pub incidents_open: usize,
    pub orders_open: usize,
    /// `Some(reason)` while the store fails (disk full, database down): the
    /// node refuses new work until it recovers.
    pub storage_problem: Option<String>,
    pub started: Timestamp,
    pub now: Timestamp,
    /// The node's own certificate (the leaf it presents on its links), as
    /// of `now`; `None` if the node could not read it.
    pub certificate: Option<CertificateStatus>,
    /// The gateway's API tokens and webhook subscriptions.
    pub gateway: GatewayStatus,
}

/// The gateway in a node's status: who may file (tokens, never their
/// secrets) and who is told (webhook subscriptions, with their
/// deliveries).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayStatus {
    pub tokens: Vec<TokenView>,
    pub webhooks: Vec<WebhookView>,
}

/// An API token as the status shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenView {
    /// 8 hex digits.
    pub id: String,
    /// The system it was issued to.
    pub name: String,
    pub scopes: Vec<String>,
    pub revoked: bool,
}

/// A webhook subscription as the status shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookView {
    /// 8 hex digits.
    pub id: String,
    /// The system subscribed.
    pub name: String,
    pub url: String,
    pub events: Vec<String>,
    /// Deliveries still being tried.
    pub pending: u64,
    /// Accepted by the receiver (a 2xx).
    pub delivered: u64,
    /// Given up at expiry (or when the subscription was removed), kept.
    pub dead_lettered: u64,
    /// The last error of a failed attempt still pending or dead-lettered.
    pub last_error: Option<String>,
}

/// Renew a node's certificate once it has this many days or fewer left:
/// from then on `liandong status` and the node's log warn about it.
pub const RENEW_WITHIN_DAYS: i64 = 30;

const DAY_MS: i128 = 24 * 60 * 60 * 1000;

/// A node's own certificate in its status: which one, and how long it
/// has left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateStatus {
    /// Its serial as `liandong certs inspect` prints it (`5f:3a:...`).
    pub serial: String,
    /// Its last valid instant.
    pub not_after: Timestamp,
    /// Whole days from the status's `now` to `not_after`, rounded down:
    /// 0 on its last day, negative once it has expired.
    pub days_left: i64,
}

impl CertificateStatus {
    /// The certificate `serial`, valid until `not_after`, as of `now`.
    pub fn at(serial: String, not_after: Timestamp, now: Timestamp) -> CertificateStatus {
        CertificateStatus {
            serial,
            not_after,
            days_left: days_left(not_after, now),
        }
    }

    /// Past its last valid instant.
    pub fn expired(&self) -> bool {
        self.days_left < 0
    }

    /// Within [`RENEW_WITHIN_DAYS`] of expiring (or expired): time to renew.
    pub fn renew_due(&self) -> bool {
        self.days_left <= RENEW_WITHIN_DAYS
    }
}

/// Whole days from `now` to `not_after`, rounded down (towards the past,
/// so a certificate that expired a minute ago has -1 days left).
fn days_left(not_after: Timestamp, now: Timestamp) -> i64 {
    let ms = i128::from(not_after.0) - i128::from(now.0);
    // |ms| < 2^64, so the number of days fits an i64.
    ms.div_euclid(DAY_MS) as i64
}

/// A change pushed to subscribers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pushed {
    pub at: Timestamp,
    pub notice: Notice,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Notice {
    /// An incident is recorded here for the first time; `alert` asks for
    /// the operator's attention (owner, or alert-path severity).
    IncidentRecorded {
        incident: Incident,
        alert: bool,
    },
    IncidentChanged {
        incident: Incident,
        action: String,
        by: NodeId,
    },
    /// An order arrived for this node to carry out.
    OrderReceived {
        order: OrderView,
    },
    OrderProgress {
        order: EnvelopeId,
        target: NodeId,
        state: TargetState,
        roll_up: RollUp,
    },
    /// The next hop has stored something that started here: "at the
    /// township", as the reporter sees it.
    Forwarded {
        id: EnvelopeId,
        to: NodeId,
    },
    /// A late item was flagged to the level above (督办).
    Supervised {
        item: Item,
        stage: Stage,
        supervisor: NodeId,
    },
    DeadLettered {
        id: EnvelopeId,
        stuck_at: NodeId,
    },
    LinkChanged {
        peer: NodeId,
        up: bool,
    },
    FailedOver {
        parent: NodeId,
        via: NodeId,
    },
    /// A peer sent something refused; nothing in it was accepted.
    Refused {
        peer: NodeId,
        reason: String,
    },
    /// This node runs on a new version of the federation document.
    DocumentApplied {
        version: u64,
    },
    /// A coordination room took its next event here: the header after it,
    /// and the log line (with the ask it answers, if any).
    RoomChanged {
        room: Room,
        entry: RoomEntry,
    },
    /// The room's home did not take an ask from this node.
    RoomRefused {
        room: EnvelopeId,
        ask: EnvelopeId,
        reason: String,
    },
    /// The store failed (`problem` set) or recovered (`None`).
    Storage {
        problem: Option<String>,
    },
    /// This subscriber fell behind and missed `missed` notices: ask for a
    /// fresh snapshot.
    Lagged {
        missed: u64,
    },
    /// A child's summary of figures (平安报表) for `period` came.
    Summary {
        child: NodeId,
        period: Period,
        version: u32,
        late: bool,
    },
    /// A child's 平安指数 for `period` fell under the policy's line: the
    /// early warning (`index` in tenths, `below` in points).
    IndexAlarm {
        child: NodeId,
        period: Period,
        index: u32,
        below: u32,
    },
}

/// The node's first word on a new control connection, on a unidirectional
/// stream it opens once it has accepted the operator's certificate: who it
/// is and whom it recognised. A client waits for it before its first
/// request, so a refused certificate or an operator of another center is
/// reported when connecting, with the node's reason, not on the first call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    pub node: NodeId,
    pub operator: Operator,
}

/// Largest [`Welcome`] a client reads.
pub const MAX_WELCOME: usize = 4 * 1024;

/// QUIC application close codes of a control connection; the close reason
/// carries the words for the operator.
pub mod close {
    /// The client is done.
    pub const DONE: u32 = 0;
    /// The certificate is valid but not served here: a node certificate,
    /// or an operator of another center.
    pub const REFUSED: u32 = 1;
    /// The node is shutting down.
    pub const SHUTDOWN: u32 = 2;
    /// The node serves as many consoles as it may.
    pub const BUSY: u32 = 3;
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = Timestamp(1_796_000_000_000);

    fn expiring_in(ms: i128) -> CertificateStatus {
        let not_after = Timestamp(u64::try_from(i128::from(NOW.0) + ms).unwrap());
        CertificateStatus::at("5f:3a".into(), not_after, NOW)
    }

    #[test]
    fn days_left_are_whole_days_rounded_down_and_negative_once_expired() {
        let minute = 60_000;
        assert_eq!(expiring_in(0).days_left, 0, "its last instant");
        assert_eq!(expiring_in(DAY_MS - 1).days_left, 0);
        assert_eq!(expiring_in(DAY_MS).days_left, 1);
        assert_eq!(expiring_in(730 * DAY_MS + minute).days_left, 730);
        assert_eq!(expiring_in(-minute).days_left, -1, "expired a minute ago");
        assert_eq!(expiring_in(-DAY_MS).days_left, -1);
        assert_eq!(expiring_in(-DAY_MS - 1).days_left, -2);
        // Before 1970 and after u64::MAX ms nothing overflows.
        assert_eq!(
            CertificateStatus::at(String::new(), Timestamp(0), NOW).days_left,
            -20_788
        );
        let far = CertificateStatus::at(String::new(), Timestamp(u64::MAX), Timestamp(0));
        assert_eq!(far.days_left, 213_503_982_334);
    }

    #[test]
    fn renewal_is_due_from_30_days_left_and_expiry_from_the_first_late_instant() {
        let hour = 3_600_000;
        for (days, due) in [(31, false), (30, true), (29, true), (1, true), (0, true)] {
            let status = expiring_in(days * DAY_MS + hour);
            assert_eq!(status.days_left, days as i64);
            assert_eq!(status.renew_due(), due, "{days} days left");
            assert!(!status.expired(), "{days} days left");
        }
        let just_over = expiring_in(RENEW_WITHIN_DAYS as i128 * DAY_MS + DAY_MS - 1);
        assert!(just_over.renew_due(), "30 days and 23:59:59.999 still counts as 30");
        assert!(!expiring_in(0).expired());
        let expired = expiring_in(-1);
        assert!(expired.expired() && expired.renew_due(), "{expired:?}");
    }
}
