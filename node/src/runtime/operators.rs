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
//! a unique prefix of its hex digits) and texts bounded (`limits`), so the
//! core gets full ids and bounded texts; every protocol rule (who may do
//! what, when) stays in the core, whose refusal reaches the operator as
//! its own words.

use liandong_control::proto::{IdRef, LinkView, NodeStatus, Operator, OrderView, Response, RoomView};
use liandong_control::{Act, Query};
use liandong_dispatch::room::{Minutes, Room};
use liandong_dispatch::store::Incident;
use liandong_dispatch::wire::{Report, Role, RoomAct};
use liandong_dispatch::{Command, CommandError, Core, EnvelopeId, Order, TargetState, Timestamp};
use liandong_topology::Kind;

use super::limits;

/// What the driver knows about the node that the core does not: shown in
/// `Status` (and so in a subscription's snapshot).
#[derive(Debug, Clone, Copy)]
pub(super) struct NodeFacts<'a> {
    /// Why the store refuses writes, while it does.
    pub storage_problem: Option<&'a str>,
    /// When this process started driving the core.
    pub started: Timestamp,
    pub now: Timestamp,
}

/// The command an operator's act asks of the core, with ids resolved and
/// texts checked; or why it is refused before the core sees it.
pub(super) fn command(op: &Operator, act: Act, core: &Core) -> Result<Command, String> {
    let by = op.name.clone();
    let command = match act {
        Act::Report {
            severity,
            category,
            title,
            detail,
            place,
            mode,
        } => {
            let title = limits::report(title, &detail, &place)?;
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
        Act::Accept { incident } => Command::Accept {
            incident: incident_id(core, &incident)?,
            by,
        },
        Act::Escalate { incident, reason } => Command::Escalate {
            incident: incident_id(core, &incident)?,
            by,
            reason: limits::text("reason", reason)?,
        },
        Act::Feedback { incident, text: t } => Command::Feedback {
            incident: incident_id(core, &incident)?,
            by,
            text: limits::text("feedback", t)?,
        },
        Act::Resolve { incident, summary } => Command::Resolve {
            incident: incident_id(core, &incident)?,
            by,
            summary: limits::text("summary", summary)?,
        },
        Act::Verify {
            incident,
            accepted,
            note,
        } => Command::Verify {
            incident: incident_id(core, &incident)?,
            by,
            accepted,
            note: limits::text_or_empty("note", note)?,
        },
        Act::Close { incident } => Command::Close {
            incident: incident_id(core, &incident)?,
            by,
        },
        Act::Note { incident, text: t } => Command::Note {
            incident: incident_id(core, &incident)?,
            by,
            text: limits::text("note", t)?,
        },
        Act::Cancel { incident, reason } => Command::Cancel {
            incident: incident_id(core, &incident)?,
            by,
            reason: limits::text("reason", reason)?,
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
                    instruction: limits::text("instruction", instruction)?,
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
            let act = match act {
                RoomAct::Say { text: t } => RoomAct::Say {
                    text: limits::text("message", t)?,
                },
                RoomAct::Decide { text: t } => RoomAct::Decide {
                    text: limits::text("decision", t)?,
                },
                RoomAct::Task {
                    target,
                    instruction,
                    finish_by,
                } => RoomAct::Task {
                    target,
                    instruction: limits::text("task", instruction)?,
                    finish_by,
                },
                RoomAct::Close { summary } => RoomAct::Close {
                    summary: limits::text_or_empty("summary", summary)?,
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
        Act::Acknowledge { order, state } => {
            let state = match state {
                TargetState::SignedFor { .. } => TargetState::SignedFor { by },
                TargetState::Pending | TargetState::Delivered => {
                    return Err("an acknowledgement signs for, reports progress on, finishes or refuses".into());
                }
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
}

impl Subject {
    pub fn of(c: &Command) -> Subject {
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
                format!("report {created} stored at {}; its owner is {owner}", me),
            )
        }
        Subject::Order => (created, format!("order {created} stored at {}", me)),
        Subject::Incident(incident, action) => {
            let state = core.incident(incident).map_or("unknown", |i| i.state.name());
            (
                incident,
                format!("incident {incident}: {action} stored at {}; now {state}", me),
            )
        }
        Subject::Acknowledged(order, state) => (order, format!("order {order}: {state} stored at {}", me)),
        Subject::Room(room, act) => {
            let home = core
                .room(room)
                .map_or_else(|| "its home".to_owned(), |r| format!("its home {}", r.home));
            return Response::Asked {
                room,
                ask: created,
                what: format!("{act} in the room of incident {room}: stored at {}, sent to {home}", me),
            };
        }
    };
    Response::Done { id, what }
}

/// The answer to a question, from what the core holds (and, for the
/// status, the driver's `facts`).
pub(super) fn answer(query: Query, core: &Core, facts: NodeFacts<'_>) -> Response {
    match query {
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
    }
}

fn incident_id(core: &Core, r: &IdRef) -> Result<EnvelopeId, String> {
    resolve(r, "incident", core.incidents().map(|i| i.id))
}

fn order_id(core: &Core, r: &IdRef) -> Result<EnvelopeId, String> {
    resolve(r, "order", core.orders().map(|o| o.id))
}

fn room_id(core: &Core, r: &IdRef) -> Result<EnvelopeId, String> {
    resolve(r, "room", core.rooms().map(|o| o.id))
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
    use std::sync::Arc;

    use liandong_certs::Role as OperatorRole;
    use liandong_dispatch::wire::{Category, Mode};
    use liandong_dispatch::{CoreConfig, TestKeys};
    use liandong_topology::{Addressing, NodeId, Preset, Severity, Shape, generate};

    use super::*;

    const CITY: &str = "350100";
    const COUNTY: &str = "350102";
    const NOW: Timestamp = Timestamp(1_800_000_000_000);

    fn id(s: &str) -> NodeId {
        NodeId::parse(s).unwrap()
    }

    /// A core of the demo federation's city, started at [`NOW`].
    fn city() -> Core {
        let topology = Arc::new(generate(&Shape::Preset(Preset::Demo), Addressing::default()).unwrap());
        let keys = TestKeys::new(7);
        let me = id(CITY);
        Core::new(
            topology,
            me.clone(),
            CoreConfig::default(),
            Box::new(keys.signer(&me)),
            keys.check(),
            1,
            NOW,
        )
        .unwrap()
    }

    fn operator() -> Operator {
        Operator {
            node: id(CITY),
            name: "值班员李娜".into(),
            role: OperatorRole::Operator,
        }
    }

    fn report(title: &str) -> Act {
        Act::Report {
            severity: Severity::Routine,
            category: Category::Dispute,
            title: title.into(),
            detail: "两户因宅基地边界发生争执".into(),
            place: "五一社区3号楼".into(),
            mode: Mode::Actual,
        }
    }

    /// Files `title` as the operator would, through [`command`] and
    /// [`outcome`]: the core's answer and the incident's id.
    fn file(core: &mut Core, title: &str) -> (Response, EnvelopeId) {
        let command = command(&operator(), report(title), core).expect("a valid report");
        let subject = Subject::of(&command);
        let created = core.handle_command(command, NOW);
        let id = *created.as_ref().expect("the core takes the report");
        (outcome(subject, created, core), id)
    }

    fn facts() -> NodeFacts<'static> {
        NodeFacts {
            storage_problem: None,
            started: NOW,
            now: NOW,
        }
    }

    fn hex(id: EnvelopeId) -> String {
        format!("{:032x}", id.0)
    }

    fn refused(response: Response) -> String {
        match response {
            Response::Refused { reason } => reason,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

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
        assert_eq!(
            resolve(&IdRef(" 3FA2B1C09D12 ".into()), "incident", ids.into_iter()),
            Ok(b),
            "trimmed, any case"
        );
        assert_eq!(
            resolve(&IdRef("3fa2".into()), "incident", ids.into_iter()),
            Err("3fa2 matches more than one incident: give more digits".into())
        );
        assert_eq!(
            resolve(&IdRef("ffff".into()), "order", ids.into_iter()),
            Err("no order ffff is known here".into())
        );
        assert_eq!(
            resolve(&IdRef("村".into()), "order", ids.into_iter()),
            Err("\"村\" is not an order id (up to 32 hex digits)".into())
        );
        assert_eq!(
            resolve(&IdRef(String::new()), "room", ids.into_iter()),
            Err("\"\" is not an room id (up to 32 hex digits)".into())
        );
    }

    #[test]
    fn acts_name_incidents_by_a_unique_prefix() {
        let mut core = city();
        let (_, incident) = file(&mut core, "邻里纠纷");
        let prefix = hex(incident)[..12].to_owned();
        let accept = Act::Accept {
            incident: IdRef(prefix.clone()),
        };
        match command(&operator(), accept, &core) {
            Ok(Command::Accept { incident: got, by }) => {
                assert_eq!(got, incident);
                assert_eq!(by, "值班员李娜", "the operator's name from the certificate");
            }
            other => panic!("expected an accept, got {other:?}"),
        }
        let unknown = Act::Close {
            incident: IdRef("0000".into()),
        };
        assert_eq!(
            command(&operator(), unknown, &core).unwrap_err(),
            "no incident 0000 is known here"
        );
    }

    #[test]
    fn a_reports_title_is_trimmed_and_refused_when_empty_or_too_long() {
        let mut core = city();
        match command(&operator(), report("  邻里纠纷 \n"), &core) {
            Ok(Command::Report { report, mode }) => {
                assert_eq!(report.title, "邻里纠纷");
                assert_eq!(report.reporter, "值班员李娜");
                assert_eq!(report.place, "五一社区3号楼");
                assert_eq!(mode, Mode::Actual);
            }
            other => panic!("expected a report, got {other:?}"),
        }
        assert_eq!(
            command(&operator(), report(" \t "), &core).unwrap_err(),
            "a report needs a title"
        );
        let long = "水".repeat(201);
        assert_eq!(
            command(&operator(), report(&long), &core).unwrap_err(),
            "the title is 201 characters long; at most 200 are allowed"
        );
        let (done, incident) = file(&mut core, &"水".repeat(200));
        assert_eq!(
            done,
            Response::Done {
                id: incident,
                what: format!("report {incident} stored at {CITY}; its owner is {CITY}"),
            }
        );
    }

    #[test]
    fn required_texts_are_trimmed_and_checked() {
        let mut core = city();
        let (_, incident) = file(&mut core, "邻里纠纷");
        let escalate = |reason: &str| Act::Escalate {
            incident: IdRef(hex(incident)),
            reason: reason.into(),
        };
        assert_eq!(
            command(&operator(), escalate("   "), &core).unwrap_err(),
            "the reason must not be empty"
        );
        assert_eq!(
            command(&operator(), escalate(&"x".repeat(8001)), &core).unwrap_err(),
            "the reason is 8001 characters long; at most 8000 are allowed"
        );
        match command(&operator(), escalate(" 需要市级协调 "), &core) {
            Ok(Command::Escalate { reason, .. }) => assert_eq!(reason, "需要市级协调"),
            other => panic!("expected an escalation, got {other:?}"),
        }
    }

    #[test]
    fn a_room_act_for_an_unknown_room_named_in_full_goes_to_the_core() {
        let core = city();
        let full = EnvelopeId(0x3fa2_b1c0_9d11_4e5f_8a7b_6c5d_4e3f_2a1b);
        let say = |room: String, home: Option<NodeId>| Act::RoomAct {
            room: IdRef(room),
            act: RoomAct::Say {
                text: " 收到 ".into()
            },
            home,
        };
        match command(&operator(), say(hex(full), Some(id(COUNTY))), &core) {
            Ok(Command::Room {
                room,
                by,
                role,
                act,
                home,
            }) => {
                assert_eq!(room, full);
                assert_eq!(by, "值班员李娜");
                assert_eq!(role, Role::Operator);
                assert_eq!(act, RoomAct::Say { text: "收到".into() });
                assert_eq!(home, Some(id(COUNTY)));
            }
            other => panic!("expected a room act, got {other:?}"),
        }
        assert!(
            matches!(
                command(&operator(), say(hex(full), None), &core),
                Ok(Command::Room { room, home: None, .. }) if room == full
            ),
            "without a home too: the core explains why"
        );
        assert_eq!(
            command(&operator(), say("3fa2b1c0".into(), Some(id(COUNTY))), &core).unwrap_err(),
            "\"3fa2b1c0\": to ask to enter a room this center does not know, give the incident's full 32-digit id"
        );
        assert_eq!(
            command(&operator(), say("3fa2b1c0".into(), None), &core).unwrap_err(),
            "no room 3fa2b1c0 is known here"
        );
    }

    #[test]
    fn an_acknowledgement_of_pending_or_delivered_is_refused() {
        let core = city();
        for state in [TargetState::Pending, TargetState::Delivered] {
            let ack = Act::Acknowledge {
                order: IdRef("3fa2".into()),
                state,
            };
            assert_eq!(
                command(&operator(), ack, &core).unwrap_err(),
                "an acknowledgement signs for, reports progress on, finishes or refuses"
            );
        }
        let sign = Act::Acknowledge {
            order: IdRef("3fa2".into()),
            state: TargetState::SignedFor {
                by: "someone else".into(),
            },
        };
        assert_eq!(
            command(&operator(), sign, &core).unwrap_err(),
            "no order 3fa2 is known here",
            "a valid state goes on to name the order"
        );
    }

    #[test]
    fn the_cores_refusal_is_the_answer() {
        let mut core = city();
        let (_, incident) = file(&mut core, "邻里纠纷");
        let close = command(
            &operator(),
            Act::Close {
                incident: IdRef(hex(incident)),
            },
            &core,
        )
        .unwrap();
        let subject = Subject::of(&close);
        let outcome = outcome(subject, core.handle_command(close, NOW), &core);
        let reason = refused(outcome);
        assert!(reason.starts_with("cannot close incident"), "{reason}");
    }

    #[test]
    fn queries_answer_from_the_core() {
        let mut core = city();
        assert_eq!(
            answer(Query::Incidents { closed: false }, &core, facts()),
            Response::Incidents(Vec::new())
        );
        let (_, incident) = file(&mut core, "邻里纠纷");
        match answer(Query::Incidents { closed: false }, &core, facts()) {
            Response::Incidents(list) => {
                assert_eq!(list.iter().map(|i| i.id).collect::<Vec<_>>(), [incident]);
                assert_eq!(list[0].report.title, "邻里纠纷");
            }
            other => panic!("expected incidents, got {other:?}"),
        }
        let one = Query::Incident {
            id: IdRef(hex(incident)[..8].to_owned()),
        };
        assert_eq!(
            answer(one, &core, facts()),
            Response::Incident(core.incident(incident).unwrap().clone())
        );
        let none = Query::Order {
            id: IdRef("abc".into()),
        };
        assert_eq!(refused(answer(none, &core, facts())), "no order abc is known here");
        let room = Query::Minutes {
            room: IdRef("abc".into()),
        };
        assert_eq!(refused(answer(room, &core, facts())), "no room abc is known here");
        assert_eq!(
            answer(Query::Topology, &core, facts()),
            Response::Topology(core.topology().to_toml())
        );
    }

    #[test]
    fn the_status_joins_the_core_and_the_drivers_facts() {
        let mut core = city();
        file(&mut core, "邻里纠纷");
        let later = Timestamp(NOW.0 + 5_000);
        let facts = NodeFacts {
            storage_problem: Some("disk full"),
            started: NOW,
            now: later,
        };
        let status = match answer(Query::Status, &core, facts) {
            Response::Status(status) => status,
            other => panic!("expected a status, got {other:?}"),
        };
        assert_eq!(status.node, id(CITY));
        assert_eq!(status.parent, None);
        assert_eq!(status.incidents_open, 1);
        assert_eq!(status.orders_open, 0);
        assert_eq!(status.storage_problem.as_deref(), Some("disk full"));
        assert_eq!((status.started, status.now), (NOW, later));
        match answer(Query::Subscribe, &core, facts) {
            Response::Snapshot {
                status: snapshot,
                incidents,
                orders,
                rooms,
            } => {
                assert_eq!(snapshot, status);
                assert_eq!(incidents.len(), 1);
                assert!(orders.is_empty() && rooms.is_empty());
            }
            other => panic!("expected a snapshot, got {other:?}"),
        }
    }
}
