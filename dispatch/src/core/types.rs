//! The core's public types: its settings, the effects a driver executes,
//! the events it is told, operators' commands and why one is refused.

use super::*;
use crate::figures::Period;

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
    /// A deliberate bug, for the simulator's planted bug
    /// `room-out-of-order` only (it proves its room oracle can fail): a
    /// room event that arrives early is applied at once instead of
    /// waiting for the ones before it. Never set in service.
    #[doc(hidden)]
    pub plant_room_out_of_order: bool,
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
            plant_room_out_of_order: false,
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
    /// An envelope came from (or carries one signed by) this node of the
    /// federation, whose key the core's check does not hold: load it off
    /// the core's path (from its CA-checked certificate) and hand it back
    /// with [`Core::handle_key`](super::Core::handle_key). The envelope was
    /// neither stored nor acked; its sender's retry will be.
    NeedKey(NodeId),
    /// Neighbour `peer` asks for the certificates of `node` this node
    /// holds: answer with [`Core::answer_key`](super::Core::answer_key)
    /// (an empty list if none).
    KeyAsked { peer: NodeId, node: NodeId },
    /// Neighbour `peer` sent certificates of `node` (DER, newest first),
    /// as asked: unchecked. The driver checks them against the CA and the
    /// revocation list, keeps the good ones, and hands `node`'s keys to
    /// [`Core::handle_key`](super::Core::handle_key).
    KeyOffered {
        peer: NodeId,
        node: NodeId,
        certificates: Vec<Vec<u8>>,
    },
    /// `peer` asks for photo `sha256` (a report this node sent it carries
    /// one): the driver sends what its photo files hold, on the bulk lane.
    PhotoAsked { peer: NodeId, sha256: [u8; 32] },
    /// A piece of a photo from `peer`: the driver keeps it with the photo
    /// it asked for, and checks the whole against its hash.
    PhotoPiece {
        peer: NodeId,
        sha256: [u8; 32],
        offset: u64,
        total: u64,
        bytes: Vec<u8>,
    },
    /// A federation document was applied: the core runs on the topology
    /// it describes ([`Core::topology_handle`](super::Core::topology_handle)).
    /// The driver follows: its links (refuse and close nodes no longer
    /// allowed, dial the new parent), the document's revocation list (the
    /// stored envelope `document`).
    Reconfigure { version: u64, document: EnvelopeId },
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
    /// An update was applied to an incident here (whether or not its
    /// state moved).
    IncidentChanged {
        incident: EnvelopeId,
        /// The update envelope applied: one event per update.
        update: EnvelopeId,
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
    /// A neighbour sent an envelope this node already holds, the same
    /// in every byte (a retry after a lost hop ack, or a replay): acked
    /// again, neither stored nor delivered twice.
    Duplicate {
        peer: NodeId,
        id: EnvelopeId,
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
    /// A version of the federation document was applied here.
    DocumentApplied {
        version: u64,
        previous: Option<u64>,
    },
    /// A checked, newer document no longer names this node: it keeps
    /// running on the version before, and its neighbours refuse it.
    RemovedFromFederation {
        version: u64,
    },
    /// A child's summary of figures (平安报表) was stored here.
    SummaryReceived {
        child: NodeId,
        period: Period,
        version: u32,
        late: bool,
    },
    /// A child's 平安指数 for a period is under the policy's
    /// `alarm_below`: the early warning, raised at the parent.
    IndexAlarm {
        child: NodeId,
        period: Period,
        /// Tenths of a point.
        index: u32,
        /// The line it is under, whole points.
        below: u32,
    },
}

/// An operator's action at this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Report {
        report: Report,
        mode: Mode,
    },
    /// A report filed under an id its filer chose (derived from an
    /// idempotency key): if this node holds an envelope with that id, it
    /// is answered and nothing is filed again.
    ReportOnce {
        id: EnvelopeId,
        report: Report,
        mode: Mode,
    },
    /// `command`, its envelope under an id the caller chose (derived from
    /// what it imports, such as a CAP alert): if this node holds an
    /// envelope with that id, it is answered and nothing is done again.
    Once {
        id: EnvelopeId,
        command: Box<Command>,
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
    /// The root publishes a new version of the federation document: it
    /// is checked, applied here and carried down to every node.
    Publish(Document),
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
    #[error("a report carries at most {max} photos, not {count}")]
    TooManyPhotos { count: usize, max: usize },
    #[error("photo {0} is named twice")]
    PhotoTwice(String),
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
    /// A report's title is empty once trimmed (see `rules`).
    #[error("a report needs a title")]
    NoTitle,
    /// A required text is empty once trimmed.
    #[error("the {field} must not be empty")]
    EmptyText { field: &'static str },
    /// A text is longer than its bound, in characters.
    #[error("the {field} is {chars} characters long; at most {max} are allowed")]
    TooLong {
        field: &'static str,
        chars: usize,
        max: usize,
    },
    /// An acknowledgement of a state that is the core's, not an
    /// operator's (pending, delivered).
    #[error("an acknowledgement signs for, reports progress on, finishes or refuses")]
    NotAnAck { state: &'static str },
    #[error("federation documents are published at the root ({root}), not here")]
    NotRoot { root: NodeId },
    #[error("document version {version} is not newer than version {current}, which this federation already has")]
    StaleDocument { version: u64, current: u64 },
    #[error("the document is refused: {0}")]
    BadDocument(String),
}

/// Why the core could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoreError {
    #[error("node {0} is not in the topology")]
    UnknownNode(NodeId),
}

/// What a driver found of a carried envelope's origin signature before
/// it handed the frame over ([`Core::handle_decoded_frame`](super::Core::handle_decoded_frame)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signature {
    /// Not checked: the core checks it.
    Unchecked,
    /// It holds under a key the core's check holds for the origin.
    Holds,
}
