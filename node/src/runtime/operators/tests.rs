//! Unit tests of the operators' functions against a real core (test
//! signatures, no I/O): the exact words operators are told.

use std::sync::Arc;

use liandong_certs::Role as OperatorRole;
use liandong_dispatch::wire::{Category, Mode};
use liandong_dispatch::{CoreConfig, TestKeys};
use liandong_topology::{Addressing, NodeId, Preset, Severity, Shape, generate};

use super::*;
use crate::runtime::names::resolve;
use liandong_control::proto::IdRef;

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

/// The command as the core takes it: [`command`], then the core's input
/// rules, which `Core::handle_command` applies before anything else; or
/// what the operator is told.
fn checked(op: &Operator, act: Act, core: &Core) -> Result<Command, String> {
    command(op, act, core)?.checked().map_err(|e| e.to_string())
}

fn facts() -> NodeFacts<'static> {
    NodeFacts {
        storage_problem: None,
        started: NOW,
        now: NOW,
        certificate: None,
        gateway: None,
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
    match checked(&operator(), report("  邻里纠纷 \n"), &core) {
        Ok(Command::Report { report, mode }) => {
            assert_eq!(report.title, "邻里纠纷");
            assert_eq!(report.reporter, "值班员李娜");
            assert_eq!(report.place, "五一社区3号楼");
            assert_eq!(mode, Mode::Actual);
        }
        other => panic!("expected a report, got {other:?}"),
    }
    assert_eq!(
        checked(&operator(), report(" \t "), &core).unwrap_err(),
        "a report needs a title"
    );
    let long = "水".repeat(201);
    assert_eq!(
        checked(&operator(), report(&long), &core).unwrap_err(),
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
        checked(&operator(), escalate("   "), &core).unwrap_err(),
        "the reason must not be empty"
    );
    assert_eq!(
        checked(&operator(), escalate(&"x".repeat(8001)), &core).unwrap_err(),
        "the reason is 8001 characters long; at most 8000 are allowed"
    );
    match checked(&operator(), escalate(" 需要市级协调 "), &core) {
        Ok(Command::Escalate { reason, .. }) => assert_eq!(reason, "需要市级协调"),
        other => panic!("expected an escalation, got {other:?}"),
    }
}

#[test]
fn a_text_out_of_bounds_is_the_cores_refusal_in_the_same_words() {
    let mut core = city();
    let ask = |act: Act, core: &mut Core| match command(&operator(), act, core) {
        Ok(command) => {
            let subject = Subject::of(&command);
            let created = core.handle_command(command, NOW);
            refused(outcome(subject, created, core))
        }
        Err(reason) => reason,
    };
    assert_eq!(ask(report(" \t "), &mut core), "a report needs a title");
    let (_, incident) = file(&mut core, "邻里纠纷");
    let escalate = |incident: String| Act::Escalate {
        incident: IdRef(incident),
        reason: "   ".into(),
    };
    assert_eq!(
        ask(escalate(hex(incident)), &mut core),
        "the reason must not be empty",
        "before the core's other refusal (the city is at the top)"
    );
    assert_eq!(
        ask(escalate("0000".into()), &mut core),
        "no incident 0000 is known here",
        "an unknown name is still told first"
    );
    let say = Act::RoomAct {
        room: IdRef(hex(incident)),
        act: RoomAct::Say { text: "x".repeat(8001) },
        home: None,
    };
    assert_eq!(
        ask(say, &mut core),
        "the message is 8001 characters long; at most 8000 are allowed"
    );
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
    match checked(&operator(), say(hex(full), Some(id(COUNTY))), &core) {
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
            checked(&operator(), say(hex(full), None), &core),
            Ok(Command::Room { room, home: None, .. }) if room == full
        ),
        "without a home too: the core explains why"
    );
    assert_eq!(
        checked(&operator(), say("3fa2b1c0".into(), Some(id(COUNTY))), &core).unwrap_err(),
        "\"3fa2b1c0\": to ask to enter a room this center does not know, give the incident's full 32-digit id"
    );
    assert_eq!(
        checked(&operator(), say("3fa2b1c0".into(), None), &core).unwrap_err(),
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
        // Valid until 12 days and a minute after `later`.
        certificate: Some(("5f:3a:09", Timestamp(later.0 + 12 * 86_400_000 + 60_000))),
        gateway: None,
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
    let certificate = status.certificate.clone().expect("the certificate is shown");
    assert_eq!(certificate.serial, "5f:3a:09");
    assert_eq!(certificate.days_left, 12);
    assert!(certificate.renew_due() && !certificate.expired());
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
