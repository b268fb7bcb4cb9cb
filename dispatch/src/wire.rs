//! Wire types: what travels between nodes. Encoding lives in [`crate::codec`].
//!
//! Two layers:
//! - an [`Envelope`] is end-to-end and signed by its origin: nobody on the
//!   way can forge or alter it;
//! - a [`Frame`] is one hop: it carries an envelope with unsigned routing
//!   data (destinations, hop trace, catch-up flag), or a hop ack, or a
//!   heartbeat.

use liandong_topology::{Level, NodeId, Severity};
use serde::{Deserialize, Serialize};

pub use crate::basics::{Category, EnvelopeId, Mode, Timestamp};

/// End-to-end message, signed by its origin over everything but the
/// signature itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    pub id: EnvelopeId,
    pub origin: NodeId,
    pub created: Timestamp,
    /// After this the envelope is dead-lettered, with a notice to its origin.
    pub expires: Timestamp,
    pub mode: Mode,
    pub body: Body,
    pub signature: Vec<u8>,
}

impl Envelope {
    pub fn kind(&self) -> Kind {
        match &self.body {
            Body::Report(_) => Kind::Report,
            Body::Update(_) => Kind::Update,
            Body::Order(_) => Kind::Order,
            Body::OrderAck(_) => Kind::OrderAck,
            Body::Supervise(_) => Kind::Supervise,
            Body::DeadLetter(_) => Kind::DeadLetter,
            Body::Room(_) => Kind::Room,
            Body::Document(_) => Kind::Document,
            Body::Summary(_) => Kind::Summary,
        }
    }

    /// The severity this envelope travels at, for priority lanes.
    pub fn severity(&self) -> Option<Severity> {
        match &self.body {
            Body::Report(r) => Some(r.severity),
            Body::Order(o) => Some(o.severity),
            Body::Update(u) => match &u.action {
                Action::Escalate { report, .. } => report.severity(),
                _ => None,
            },
            Body::Room(r) => r.severity(),
            _ => None,
        }
    }
}

/// The kinds of envelope, for logs, audit and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Kind {
    Report,
    Update,
    Order,
    OrderAck,
    Supervise,
    DeadLetter,
    Room,
    Document,
    Summary,
}

impl Kind {
    /// The word for logs, storage and the UI.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Report => "report",
            Kind::Update => "update",
            Kind::Order => "order",
            Kind::OrderAck => "order ack",
            Kind::Supervise => "supervise",
            Kind::DeadLetter => "dead letter",
            Kind::Room => "room",
            Kind::Document => "document",
            Kind::Summary => "summary",
        }
    }
}

/// What an envelope says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Body {
    /// An incident report (上报), climbing to its owner.
    Report(Report),
    /// A step in an incident's life (accept, escalate, resolve, ...).
    Update(Update),
    /// A dispatch order (交办), travelling down to its targets.
    Order(Order),
    /// A target's acknowledgement of an order (签收, progress, done).
    OrderAck(OrderAck),
    /// A late item flagged to the level above (督办).
    Supervise(Supervise),
    /// An envelope expired before delivery: the notice to its origin.
    DeadLetter(DeadLetter),
    /// Coordination room traffic (综合协调室): asks to the room's home,
    /// its ordered events to the room's nodes, catch-up.
    Room(RoomBody),
    /// A version of the federation document (topology, policy, link
    /// settings, revocations), published at the root and carried down to
    /// every node.
    Document(Document),
    /// A center's figures for a period (平安报表), sent to its parent on
    /// the bulk lane at the period's end and again when they change.
    Summary(Box<crate::figures::summary::Summary>),
}

/// A federation document as it travels: the document's text, which says
/// its version, compressed (a province's is megabytes of TOML: Jiangsu's
/// 2.6 MB go in 217 kB), and the federation admin's signature over the
/// text with the admin's certificate chain. The envelope around it is the
/// root's; the admin's signature is what a node checks before it applies
/// it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    /// The version the text declares (`[document] version`), here so a
    /// node can tell an older or equal version without reading the text.
    pub version: u64,
    /// The document as the admin signed it, byte for byte, raw DEFLATE.
    pub deflated: Vec<u8>,
    /// Ed25519 over the text, by the admin's key.
    pub signature: Vec<u8>,
    /// The admin's certificate chain, DER, leaf first.
    pub admin: Vec<Vec<u8>>,
}

impl Document {
    /// Longest text a document may inflate to.
    pub const MAX_TEXT: usize = 64 << 20;

    /// A document of `text` (declaring `version`), signed as given.
    pub fn new(version: u64, text: &str, signature: Vec<u8>, admin: Vec<Vec<u8>>) -> Document {
        use std::io::Write;
        let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        // Writing to a Vec cannot fail.
        let _ = z.write_all(text.as_bytes());
        let deflated = z.finish().unwrap_or_default();
        Document {
            version,
            deflated,
            signature,
            admin,
        }
    }

    /// The text, inflated (at most [`Document::MAX_TEXT`] bytes), or why not.
    pub fn text(&self) -> Result<String, String> {
        use std::io::Read;
        let mut text = Vec::new();
        flate2::read::DeflateDecoder::new(self.deflated.as_slice())
            .take(Document::MAX_TEXT as u64 + 1)
            .read_to_end(&mut text)
            .map_err(|e| format!("the document does not inflate: {e}"))?;
        if text.len() > Document::MAX_TEXT {
            return Err(format!("the document inflates past {} bytes", Document::MAX_TEXT));
        }
        String::from_utf8(text).map_err(|_| "the document is not UTF-8 text".into())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub severity: Severity,
    pub category: Category,
    pub title: String,
    pub detail: String,
    /// Where it happened, as people say it.
    pub place: String,
    /// Who filed it (operator or grid worker name).
    pub reporter: String,
    /// Photos filed with it, by content hash: the bytes stay with the
    /// nodes (content-addressed files) and follow the report hop by hop on
    /// the bulk lane ([`Frame::PhotoAsk`], [`Frame::PhotoPiece`]).
    pub photos: Vec<PhotoRef>,
}

/// A photo a report carries: what it is, not its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PhotoRef {
    /// SHA-256 of the bytes: the photo's name everywhere.
    pub sha256: [u8; 32],
    pub size: u64,
    pub kind: PhotoKind,
}

impl PhotoRef {
    /// The hash in lowercase hex, as files and URLs name the photo.
    pub fn hex(&self) -> String {
        self.sha256.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// A photo's format, read from its first bytes (never from a name or a
/// header the sender chose).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PhotoKind {
    Jpeg,
    Png,
}

impl PhotoKind {
    /// The format of `bytes` by their signature, if JPEG or PNG.
    pub fn sniff(bytes: &[u8]) -> Option<PhotoKind> {
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(PhotoKind::Jpeg)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(PhotoKind::Png)
        } else {
            None
        }
    }

    /// Its media type.
    pub fn mime(self) -> &'static str {
        match self {
            PhotoKind::Jpeg => "image/jpeg",
            PhotoKind::Png => "image/png",
        }
    }
}

/// A step in an incident's life, sent by one party to the others.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Update {
    /// The incident: the id of its report envelope.
    pub incident: EnvelopeId,
    /// Operator who acted.
    pub by: String,
    pub action: Action,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    /// The owner has recorded the report: the receipt (回执) that tells
    /// the reporting side its report arrived where it must be handled.
    Received,
    /// The owner takes the report (受理).
    Accept,
    /// Ownership moves one level up, by an operator or automatically on a
    /// missed accept deadline. Carries the original signed report, so the
    /// new owner can check it and open the incident even if it never saw it.
    Escalate {
        to: NodeId,
        reason: String,
        supervised: bool,
        report: Box<Envelope>,
    },
    /// Progress from whoever is handling it (反馈).
    Feedback {
        text: String,
    },
    /// The owner says it is handled.
    Resolve {
        summary: String,
    },
    /// The reporting side checks the result (核查): accepted closes the
    /// loop, refused reopens it.
    Verify {
        accepted: bool,
        note: String,
    },
    /// The owner closes the case (结案).
    Close,
    Note {
        text: String,
    },
    Cancel {
        reason: String,
    },
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Action::Received => "received",
            Action::Accept => "accept",
            Action::Escalate { .. } => "escalate",
            Action::Feedback { .. } => "feedback",
            Action::Resolve { .. } => "resolve",
            Action::Verify { .. } => "verify",
            Action::Close => "close",
            Action::Note { .. } => "note",
            Action::Cancel { .. } => "cancel",
        }
    }
}

/// Who an order is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Targets {
    Node(NodeId),
    List(Vec<NodeId>),
    /// Every node under `root` (root excluded), optionally only one level:
    /// "every village under county X".
    Subtree {
        root: NodeId,
        level: Option<Level>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// The incident this order handles, if any.
    pub incident: Option<EnvelopeId>,
    pub targets: Targets,
    pub severity: Severity,
    pub instruction: String,
    /// Operator who issued it.
    pub by: String,
    /// When the work must be done; the policy's finish deadline if absent.
    pub finish_by: Option<Timestamp>,
}

/// A target's state for one order. The order of the variants is the order
/// of progress: an ack never moves a target backwards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TargetState {
    /// Sent, not yet known to have arrived.
    Pending,
    /// Stored at the target's node.
    Delivered,
    /// An operator at the target signed for it (签收).
    SignedFor {
        by: String,
    },
    InProgress {
        note: String,
    },
    Done {
        note: String,
    },
    Refused {
        reason: String,
    },
}

impl TargetState {
    /// Progress rank: acks that arrive out of order never regress a target.
    pub fn rank(&self) -> u8 {
        match self {
            TargetState::Pending => 0,
            TargetState::Delivered => 1,
            TargetState::SignedFor { .. } => 2,
            TargetState::InProgress { .. } => 3,
            TargetState::Done { .. } | TargetState::Refused { .. } => 4,
        }
    }

    pub fn is_final(&self) -> bool {
        self.rank() == 4
    }

    pub fn is_signed_for(&self) -> bool {
        self.rank() >= 2 && !matches!(self, TargetState::Refused { .. })
    }

    pub fn name(&self) -> &'static str {
        match self {
            TargetState::Pending => "pending",
            TargetState::Delivered => "delivered",
            TargetState::SignedFor { .. } => "signed for",
            TargetState::InProgress { .. } => "in progress",
            TargetState::Done { .. } => "done",
            TargetState::Refused { .. } => "refused",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderAck {
    pub order: EnvelopeId,
    /// The order's issuer, where the ack is going.
    pub issuer: NodeId,
    pub state: TargetState,
}

/// Which deadline was missed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Stage {
    Accept,
    SignFor,
    Finish,
}

/// What is late.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Item {
    Incident(EnvelopeId),
    OrderTarget { order: EnvelopeId, target: NodeId },
}

/// A late item flagged to the level above, which supervises it (督办).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Supervise {
    pub item: Item,
    pub stage: Stage,
    /// The center that now supervises the item.
    pub supervisor: NodeId,
    pub deadline: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub id: EnvelopeId,
    pub kind: Kind,
    /// Where it was stuck when it expired.
    pub stuck_at: NodeId,
    pub expired: Timestamp,
}

/// What a person may do in a coordination room, as their operator
/// certificate says. Only leaders open and close rooms and record
/// decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Role {
    Operator,
    Leader,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Leader => "leader",
        }
    }
}

/// Coordination room traffic. A room is named by the id of its incident
/// (one room per incident) and lives at its *home*, the center that owned
/// the incident when the room opened. People act from their own node: the
/// node sends an [`RoomAsk`] to the home; the home checks it, gives it the
/// room's next sequence number and fans the [`RoomEvent`] out to every
/// node of the room, which applies events strictly in sequence order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RoomBody {
    /// A person's action, from their node to the room's home.
    Ask(RoomAsk),
    /// The home's numbered record of something that happened in the room.
    Event(RoomEvent),
    /// A node behind on the room asks the home for events `from..=to`.
    Sync { room: EnvelopeId, from: u64, to: u64 },
    /// A bounded batch of earlier events (signed event envelopes, in
    /// sequence order) for a node that joined late or has a gap.
    History { room: EnvelopeId, events: Vec<Envelope> },
    /// The home did not take an ask: why, back to the asking node.
    Refused {
        room: EnvelopeId,
        ask: EnvelopeId,
        reason: String,
    },
}

impl RoomBody {
    /// Asks and events travel at their incident's severity (I and II go
    /// ahead on a thin link); history is bulk.
    fn severity(&self) -> Option<Severity> {
        match self {
            RoomBody::Ask(a) => Some(a.severity),
            RoomBody::Event(e) => Some(e.severity),
            _ => None,
        }
    }
}

/// A person's action in a room, signed by their node (the envelope's
/// origin); name and role come from the operator certificate there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomAsk {
    pub room: EnvelopeId,
    /// The room's home, where the ask goes.
    pub home: NodeId,
    /// The incident's severity, for the lane.
    pub severity: Severity,
    pub by: String,
    pub role: Role,
    pub act: RoomAct,
}

/// What people do in a room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RoomAct {
    /// Open the room on its incident (a leader at the owning center).
    Open,
    Enter,
    Leave,
    /// A message to everyone present.
    Say {
        text: String,
    },
    /// A decision, recorded as such for the minutes (leaders only).
    Decide {
        text: String,
    },
    /// A task for a center or unit below the home: it becomes a dispatch
    /// order from the home with its own acknowledgement tracking.
    Task {
        target: NodeId,
        instruction: String,
        finish_by: Option<Timestamp>,
    },
    /// Let a node off the incident's path (a member unit, another center)
    /// into the room; only from the home.
    Invite {
        node: NodeId,
    },
    /// Close the room; the minutes (会议纪要) follow from its log.
    Close {
        summary: String,
    },
}

impl RoomAct {
    pub fn name(&self) -> &'static str {
        match self {
            RoomAct::Open => "open",
            RoomAct::Enter => "enter",
            RoomAct::Leave => "leave",
            RoomAct::Say { .. } => "say",
            RoomAct::Decide { .. } => "decide",
            RoomAct::Task { .. } => "task",
            RoomAct::Invite { .. } => "invite",
            RoomAct::Close { .. } => "close",
        }
    }
}

/// One numbered event of a room, signed by its home.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomEvent {
    pub room: EnvelopeId,
    /// 1 for the opening, then one more for every event: members apply
    /// events in this order, once.
    pub seq: u64,
    pub severity: Severity,
    pub what: RoomWhat,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RoomWhat {
    /// An ask the home took, exactly as the asking node signed it: the
    /// home orders it but cannot put words in anyone's mouth.
    Asked {
        ask: Box<Envelope>,
        /// For the opening: the incident's signed report, so a node that
        /// never saw the incident (an invited unit) knows what it is about.
        report: Option<Box<Envelope>>,
        /// For a task: the dispatch order the home issued for it.
        order: Option<EnvelopeId>,
    },
    /// A task's target acknowledged its order (delivered, signed for,
    /// done, refused), as the home saw it.
    TaskProgress {
        task: u64,
        order: EnvelopeId,
        target: NodeId,
        state: TargetState,
    },
}

/// One hop of an envelope's journey: where it was stored, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hop {
    pub node: NodeId,
    pub at: Timestamp,
}

/// What one node sends another over a link.
// Carry dominates traffic; boxing it would cost an allocation per frame to
// save space only on the small control frames.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Frame {
    /// An envelope moving one hop toward `to`.
    Carry(Carry),
    /// The receiver has persisted the envelope: the sender may forget it.
    HopAck {
        id: EnvelopeId,
    },
    Heartbeat {
        sent: Timestamp,
    },
    HeartbeatEcho {
        sent: Timestamp,
    },
    /// "Send me what you hold of `node`'s certificates": asked of the
    /// neighbour that sent an envelope whose origin key this node lacks
    /// (the neighbour checked that envelope, so it holds the key).
    KeyAsk {
        node: NodeId,
    },
    /// The certificates (DER) of `node` the sender holds, newest first;
    /// empty if none. The asker checks them against the CA itself.
    KeyAnswer {
        node: NodeId,
        certificates: Vec<Vec<u8>>,
    },
    /// "Send me photo `sha256`": asked of the neighbour that sent a report
    /// carrying it. Answered, on the bulk lane, with its pieces.
    PhotoAsk {
        sha256: [u8; 32],
    },
    /// Bytes `offset..offset + bytes.len()` of photo `sha256` of `total`
    /// bytes. The receiver checks the whole against the hash.
    PhotoPiece {
        sha256: [u8; 32],
        offset: u64,
        total: u64,
        bytes: Vec<u8>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Carry {
    pub envelope: Envelope,
    /// Where this copy is going. Unsigned routing data: a center on the way
    /// can drop a message (so can a cut cable) but not change what it says.
    pub to: Vec<NodeId>,
    /// Every node that stored this copy before, oldest first.
    pub trace: Vec<Hop>,
    /// A copy for a center that was skipped while it was down: recorded
    /// there so its picture of its subtree is complete.
    pub catch_up: bool,
}

/// Send priority: lower lanes go first on a thin link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Lane {
    /// Heartbeats and hop acks.
    Control,
    /// Severity I and II.
    Urgent,
    Normal,
    /// Catch-up for a center that was skipped.
    Bulk,
}

impl Lane {
    /// The word for logs, metrics and storage.
    pub fn name(self) -> &'static str {
        match self {
            Lane::Control => "control",
            Lane::Urgent => "urgent",
            Lane::Normal => "normal",
            Lane::Bulk => "bulk",
        }
    }
}
