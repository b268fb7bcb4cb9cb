//! What operators ask, as pure functions of the core: an act becomes the
//! [`Command`] it asks of the core ([`command`]), the core's outcome
//! becomes the answer ([`outcome`]), and a question is answered from what
//! the core holds ([`answer`]). No tokio, no I/O, no clock: the driver
//! passes `now` and the few facts only it knows ([`NodeFacts`]), hands the
//! command to `Core::handle_command` itself and commits before replying.
//!
//! The split between acts and queries is the request's own
//! ([`Request::Act`](liandong_control::Request) and `Request::Query`):
//! nothing here lists which is which. Names are resolved here (an id from
//! a unique prefix of its hex digits), so the core gets full ids; every
//! rule (what an operator may type, who may do what, when) is the core's,
//! whose refusal reaches the operator as its own words. The core checks
//! the texts first ([`Command::checked`]), so an unresolvable name is still
//! reported before a text out of bounds, as it always was. One rule is
//! asked here early: the kind of an acknowledgement, before the order's id
//! is resolved (see `liandong_dispatch::core::rules`).

use liandong_control::proto::{
    CertificateStatus, GatewayStatus, LinkView, NodeStatus, Operator, OrderView, Response, RoomView,
};
use liandong_control::{Act, Query};
use liandong_dispatch::core::rules;
use liandong_dispatch::figures::Period;
use liandong_dispatch::room::{Minutes, Room};
use liandong_dispatch::store::Incident;
use liandong_dispatch::wire::{Category, Report, Role, RoomAct};
use liandong_dispatch::{Command, CommandError, Core, EnvelopeId, Order, TargetState, Timestamp};
use liandong_topology::{Kind, Severity};

use super::names::{full_id, incident_id, order_id, room_id};

/// What the driver knows about the node that the core does not: shown in
/// `Status` (and so in a subscription's snapshot).
#[derive(Debug, Clone, Copy)]
pub(super) struct NodeFacts<'a> {
    /// Why the store refuses writes, while it does.
    pub storage_problem: Option<&'a str>,
    /// When this process started driving the core.
    pub started: Timestamp,
    pub now: Timestamp,
    /// The node's own certificate: its serial (as `certs inspect` prints
    /// it) and last valid instant.
    pub certificate: Option<(&'a str, Timestamp)>,
    /// The gateway's tokens and webhooks (read only for a status).
    pub gateway: Option<&'a GatewayStatus>,
}

/// A report as an operator (or a gateway's system) `by` filed it.
fn report(by: String, severity: Severity, category: Category, title: String, detail: String, place: String) -> Report {
    Report {
        severity,
        category,
        title,
        detail,
        place,
        reporter: by,
        photos: Vec::new(),
    }
}

/// The command an operator's act asks of the core, with ids resolved; or
/// why it is refused before the core sees it (a name that resolves to no
/// id, or an acknowledgement of the wrong kind). The texts go as typed:
/// the core checks and trims them.
pub(super) fn command(op: &Operator, act: Act, core: &Core) -> Result<Command, String> {
    let by = op.name.clone();
    let command = match act {
        // The driver imports alerts itself (`cap`): their answer is their own.
        Act::ImportCap { .. } => return Err("a CAP alert is imported as a whole, not as a command".into()),
        Act::Report {
            severity,
            category,
            title,
            detail,
            place,
            mode,
        } => Command::Report {
            report: report(by, severity, category, title, detail, place),
            mode,
        },
        Act::ReportOnce {
            id,
            severity,
            category,
            title,
            detail,
            place,
            mode,
            photos,
        } => Command::ReportOnce {
            id: full_id(&id).ok_or_else(|| format!("an id to file under is 32 hex digits, not {:?}", id.0))?,
            report: Report {
                photos,
                ..report(by, severity, category, title, detail, place)
            },
            mode,
        },
        Act::Accept { incident } => Command::Accept {
            incident: incident_id(core, &incident)?,
            by,
        },
        Act::Escalate { incident, reason } => Command::Escalate {
            incident: incident_id(core, &incident)?,
            by,
            reason,
        },
        Act::Feedback { incident, text } => Command::Feedback {
            incident: incident_id(core, &incident)?,
            by,
            text,
        },
        Act::Resolve { incident, summary } => Command::Resolve {
            incident: incident_id(core, &incident)?,
            by,
            summary,
        },
        Act::Verify {
            incident,
            accepted,
            note,
        } => Command::Verify {
            incident: incident_id(core, &incident)?,
            by,
            accepted,
            note,
        },
        Act::Close { incident } => Command::Close {
            incident: incident_id(core, &incident)?,
            by,
        },
        Act::Note { incident, text } => Command::Note {
            incident: incident_id(core, &incident)?,
            by,
            text,
        },
        Act::Cancel { incident, reason } => Command::Cancel {
            incident: incident_id(core, &incident)?,
            by,
            reason,
        },
        Act::Dispatch {
            incident,
            targets,
            severity,
            instruction,
            finish_by,
            mode,
        } => {
            let incident = incident.map(|i| incident_id(core, &i)).transpose()?;
            Command::Dispatch {
                order: Order {
                    incident,
                    targets,
                    severity,
                    instruction,
                    by,
                    finish_by,
                },
                mode,
            }
        }
        Act::RoomAct { room, act, home } => {
            let room = match &act {
                RoomAct::Open => incident_id(core, &room)?,
                // A room not known here, named in full, goes to the core:
                // it explains why, or asks the home named.
                _ => match (room_id(core, &room), full_id(&room)) {
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
        Act::Publish(doc) => {
            if op.role != liandong_certs::Role::Leader {
                return Err(format!(
                    "only a leader may publish the federation document; {} signs in as an operator",
                    op.name
                ));
            }
            Command::Publish(doc)
        }
        Act::Acknowledge { order, state } => {
            // The core's rule, asked before the order's id is resolved:
            // operators hear of a wrong kind before an unknown order.
            rules::acknowledgement(&state).map_err(|e| e.to_string())?;
            let state = match state {
                TargetState::SignedFor { .. } => TargetState::SignedFor { by },
                other => other,
            };
            Command::Acknowledge {
                order: order_id(core, &order)?,
                state,
            }
        }
    };
    Ok(command)
}

/// What a command is about, taken before the core consumes it, to word
/// the answer.
pub(super) enum Subject {
    Report,
    Order,
    Incident(EnvelopeId, &'static str),
    Acknowledged(EnvelopeId, &'static str),
    Room(EnvelopeId, &'static str),
    Document(u64),
}

impl Subject {
    pub fn of(c: &Command) -> Subject {
        match c {
            Command::Once { command, .. } => Subject::of(command),
            Command::Report { .. } | Command::ReportOnce { .. } => Subject::Report,
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
            Command::Publish(doc) => Subject::Document(doc.version),
        }
    }
}

/// The answer to a command, from the core's outcome and its state after
/// it. Operators name incidents and orders, not the update envelopes that
/// changed them: the answer carries the id they can use next.
pub(super) fn outcome(subject: Subject, outcome: Result<EnvelopeId, CommandError>, core: &Core) -> Response {
    let created = match outcome {
        Ok(created) => created,
        Err(e) => return Response::Refused { reason: e.to_string() },
    };
    let me = core.id();
    let (id, what) = match subject {
        Subject::Report => {
            let owner = core
                .incident(created)
                .map(|i| i.owner.clone())
                .unwrap_or_else(|| me.clone());
            (
                created,
                format!("report {created} stored at {me}; its owner is {owner}"),
            )
        }
        Subject::Order => (created, format!("order {created} stored at {me}")),
        Subject::Incident(incident, action) => {
            let state = core.incident(incident).map_or("unknown", |i| i.state.name());
            (
                incident,
                format!("incident {incident}: {action} stored at {me}; now {state}"),
            )
        }
        Subject::Acknowledged(order, state) => (order, format!("order {order}: {state} stored at {me}")),
        Subject::Document(version) => (
            created,
            format!("federation document version {version} applied at {me}; on its way to every node"),
        ),
        Subject::Room(room, act) => {
            let home = core
                .room(room)
                .map_or_else(|| "its home".to_owned(), |r| format!("its home {}", r.home));
            return Response::Asked {
                room,
                ask: created,
                what: format!("{act} in the room of incident {room}: stored at {me}, sent to {home}"),
            };
        }
    };
    Response::Done { id, what }
}

/// The answer to a question, from what the core holds (and, for the
/// status, the driver's `facts`).
pub(super) fn answer(query: Query, core: &Core, facts: NodeFacts<'_>) -> Response {
    match query {
        Query::IncidentCap { id } => super::cap::alert(core, &id),
        Query::Figures { period, center } => match Period::parse(&period) {
            Ok(period) => super::figures::report(core, period, center.as_ref()),
            Err(e) => Response::Refused { reason: e.to_string() },
        },
        Query::Incidents { closed } => Response::Incidents(incidents(core, closed)),
        Query::Incident { id } => match incident_id(core, &id) {
            Ok(id) => core.incident(id).cloned().map_or_else(
                || Response::Refused {
                    reason: format!("no incident {id} here"),
                },
                Response::Incident,
            ),
            Err(reason) => Response::Refused { reason },
        },
        Query::Orders { finished } => Response::Orders(orders(core, finished)),
        Query::Order { id } => match order_id(core, &id) {
            Ok(id) => Response::Order(order_view(core, id)),
            Err(reason) => Response::Refused { reason },
        },
        Query::Status => Response::Status(status(core, facts)),
        Query::Rooms { closed } => Response::Rooms(rooms(core, closed)),
        Query::Room { id } => match room_id(core, &id) {
            Ok(id) => Response::Room(room_view(core, id)),
            Err(reason) => Response::Refused { reason },
        },
        Query::Minutes { room } => match room_id(core, &room) {
            Ok(id) => Response::Minutes(minutes(core, id)),
            Err(reason) => Response::Refused { reason },
        },
        Query::Topology => Response::Topology(core.topology().to_toml()),
        Query::Subscribe => Response::Snapshot {
            status: status(core, facts),
            incidents: incidents(core, false),
            orders: orders(core, false),
            rooms: rooms(core, false),
        },
    }
}

/// Incidents, open ones only unless `closed`: most severe first, then oldest.
fn incidents(core: &Core, closed: bool) -> Vec<Incident> {
    let mut list: Vec<Incident> = core
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

/// Orders, unfinished ones only unless `finished`: newest first.
fn orders(core: &Core, finished: bool) -> Vec<OrderView> {
    let mut list: Vec<OrderView> = core
        .orders()
        .map(|o| order_view(core, o.id))
        .filter(|v| finished || v.roll_up.done + v.roll_up.refused < v.roll_up.targets)
        .collect();
    list.sort_by_key(|v| std::cmp::Reverse(v.order.issued));
    list
}

/// Rooms, open ones only unless `closed`: most severe first, then newest.
fn rooms(core: &Core, closed: bool) -> Vec<Room> {
    let mut list: Vec<Room> = core.rooms().filter(|r| closed || r.is_open()).cloned().collect();
    list.sort_by(|a, b| b.severity.cmp(&a.severity).then(b.opened.cmp(&a.opened)));
    list
}

fn room_view(core: &Core, id: EnvelopeId) -> RoomView {
    let room = core.room(id).cloned().expect("resolved ids name known rooms");
    RoomView {
        room,
        log: core.room_log(id).cloned().collect(),
    }
}

fn minutes(core: &Core, id: EnvelopeId) -> Minutes {
    let room = core.room(id).expect("resolved ids name known rooms");
    Minutes::of(room, core.room_log(id), core.topology())
}

/// An order with its roll-up and every target's state (also what a
/// pushed `OrderReceived` carries).
pub(super) fn order_view(core: &Core, id: EnvelopeId) -> OrderView {
    let order = core.order(id).cloned().expect("resolved ids name known orders");
    OrderView {
        order,
        roll_up: core.roll_up(id),
        targets: core.order_targets(id).map(|(n, s)| (n.clone(), s.clone())).collect(),
    }
}

fn status(core: &Core, facts: NodeFacts<'_>) -> NodeStatus {
    let (topology, id) = (core.topology(), core.id());
    let me = topology.get(id).expect("the node is in the topology");
    let parent = topology.parent(id).map(|p| p.id.clone());
    let links =
        core.links()
            .into_iter()
            .map(|l| {
                let node = topology.get(&l.peer);
                let relation =
                    match node {
                        Some(n) if Some(&n.id) == parent.as_ref() => "parent",
                        Some(n) if topology.parent(&n.id).is_some_and(|p| p.id == *id) => {
                            if n.kind == Kind::MemberUnit { "unit" } else { "child" }
                        }
                        Some(n) if topology.is_ancestor(&n.id, id) => "ancestor",
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
        node: id.clone(),
        name: me.name.clone(),
        level: me.level,
        parent,
        failed_over: core.is_failed_over(),
        links,
        incidents_open: core.incidents().filter(|i| i.state.is_open()).count(),
        orders_open: core
            .orders()
            .filter(|o| {
                let r = core.roll_up(o.id);
                r.done + r.refused < r.targets
            })
            .count(),
        storage_problem: facts.storage_problem.map(str::to_owned),
        started: facts.started,
        now: facts.now,
        certificate: facts
            .certificate
            .map(|(serial, not_after)| CertificateStatus::at(serial.to_owned(), not_after, facts.now)),
        gateway: facts.gateway.cloned().unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests;
