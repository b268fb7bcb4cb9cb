//! Operators' input rules at the core's entry: checked and trimmed before
//! anything the node holds is looked at (a full queue, an unknown
//! incident or order, the targets), whichever driver sends the command.
//! The rules themselves are unit-tested in `core/rules.rs`. Demo topology:
//! city 350100, county 350102, township 350102001, village 350102001001.

use std::sync::Arc;
use std::time::Duration;

use liandong_dispatch::testing::Net;
use liandong_dispatch::*;
use liandong_topology::{Addressing, NodeId, Preset, Severity, Shape, generate};

const CITY: &str = "350100";
const COUNTY: &str = "350102";
const TOWN: &str = "350102001";
const VILLAGE: &str = "350102001001";

fn id(s: &str) -> NodeId {
    NodeId::parse(s).unwrap()
}

fn report(title: &str) -> Command {
    Command::Report {
        report: Report {
            severity: Severity::IV,
            category: Category::Dispute,
            title: title.into(),
            detail: "两户因宅基地边界发生争执".into(),
            place: "五一社区3号楼".into(),
            reporter: "网格员张伟".into(),
            photos: Vec::new(),
        },
        mode: Mode::Actual,
    }
}

fn order(to: &str, instruction: &str) -> Command {
    Command::Dispatch {
        order: Order {
            incident: None,
            targets: Targets::Node(id(to)),
            severity: Severity::III,
            instruction: instruction.into(),
            by: "市值班".into(),
            finish_by: None,
        },
        mode: Mode::Actual,
    }
}

/// A demo federation whose township's queue to its county is full (one
/// unacked copy, the bound), so it refuses new work as `Overloaded`.
fn overloaded_town() -> Net {
    let topology = generate(&Shape::Preset(Preset::Demo), Addressing::default()).unwrap();
    let config = CoreConfig {
        outbox_limit: 1,
        ..CoreConfig::default()
    };
    let mut net = Net::with_config(Arc::new(topology), 21, config);
    net.crash(&id(COUNTY));
    net.cut(&id(TOWN), &id(CITY));
    net.command(&id(VILLAGE), report("邻里纠纷")).unwrap();
    net.run_for(Duration::from_secs(2));
    assert_eq!(
        net.command(&id(TOWN), report("路灯损坏")),
        Err(CommandError::Overloaded(id(COUNTY))),
        "the township is at its bound"
    );
    net
}

#[test]
fn broken_rules_are_refused_before_a_full_queue() {
    let mut net = overloaded_town();
    let town = id(TOWN);
    assert_eq!(net.command(&town, report("  ")), Err(CommandError::NoTitle));
    assert_eq!(
        net.command(&town, order(VILLAGE, "")).map_err(|e| e.to_string()),
        Err("the instruction must not be empty".into())
    );
    let ack = Command::Acknowledge {
        order: EnvelopeId(99),
        state: TargetState::Delivered,
    };
    assert_eq!(
        net.command(&town, ack),
        Err(CommandError::NotAnAck { state: "delivered" })
    );
}

#[test]
fn broken_rules_are_refused_before_what_the_node_holds_is_looked_at() {
    let topology = generate(&Shape::Preset(Preset::Demo), Addressing::default()).unwrap();
    let mut net = Net::new(Arc::new(topology), 5);
    let town = id(TOWN);
    let unknown = EnvelopeId(99);
    let escalate = Command::Escalate {
        incident: unknown,
        by: "值班员李娜".into(),
        reason: " ".into(),
    };
    assert_eq!(
        net.command(&town, escalate),
        Err(CommandError::EmptyText { field: "reason" }),
        "not UnknownIncident"
    );
    let pending = Command::Acknowledge {
        order: unknown,
        state: TargetState::Pending,
    };
    assert_eq!(
        net.command(&town, pending),
        Err(CommandError::NotAnAck { state: "pending" }),
        "not UnknownOrder"
    );
    assert_eq!(
        net.command(&town, order(CITY, &"x".repeat(8001)))
            .map_err(|e| e.to_string()),
        Err("the instruction is 8001 characters long; at most 8000 are allowed".into()),
        "not TargetNotBelow"
    );
    let say = Command::Room {
        room: unknown,
        by: "王强".into(),
        role: Role::Leader,
        act: RoomAct::Say { text: "\n".into() },
        home: None,
    };
    assert_eq!(
        net.command(&town, say).map_err(|e| e.to_string()),
        Err("the message must not be empty".into()),
        "not UnknownRoom"
    );
    // Once the texts pass, the node's own refusals follow as before.
    assert_eq!(
        net.command(&town, order(CITY, "排查")),
        Err(CommandError::TargetNotBelow(id(CITY)))
    );
}

#[test]
fn what_is_stored_and_sent_is_trimmed() {
    let topology = generate(&Shape::Preset(Preset::Demo), Addressing::default()).unwrap();
    let mut net = Net::new(Arc::new(topology), 6);
    let incident = net.command(&id(VILLAGE), report("  邻里纠纷 \n")).unwrap();
    let order = net.command(&id(TOWN), order(VILLAGE, "\t到场排查 ")).unwrap();
    net.run_for(Duration::from_secs(5));
    for node in [VILLAGE, TOWN] {
        let core = net.core(&id(node));
        assert_eq!(core.incident(incident).unwrap().report.title, "邻里纠纷", "at {node}");
        assert_eq!(core.order(order).unwrap().order.instruction, "到场排查", "at {node}");
    }
}

/// A report filed under a chosen id (the gateway's idempotency key) is
/// filed once: the same id again, also after the node restarts, answers
/// the report already held; its rules are a report's.
#[test]
fn a_report_filed_under_a_chosen_id_is_filed_once() {
    let mut net = Net::new(
        Arc::new(generate(&Shape::Preset(Preset::Demo), Addressing::default()).unwrap()),
        7,
    );
    let once = |title: &str| {
        let Command::Report { report, mode } = report(title) else {
            unreachable!()
        };
        Command::ReportOnce {
            id: EnvelopeId(0x5eed),
            report,
            mode,
        }
    };
    let village = id(VILLAGE);
    assert_eq!(net.command(&village, once("邻里纠纷")), Ok(EnvelopeId(0x5eed)));
    net.run_for(Duration::from_secs(5));
    let held = net.disk(&village).envelopes.len();
    assert_eq!(net.command(&village, once("邻里纠纷")), Ok(EnvelopeId(0x5eed)));
    net.restart(&village);
    assert_eq!(net.command(&village, once("邻里纠纷")), Ok(EnvelopeId(0x5eed)));
    net.run_for(Duration::from_secs(5));
    assert_eq!(net.disk(&village).envelopes.len(), held, "filed again");
    let e = net.command(&village, {
        let mut c = once("   ");
        if let Command::ReportOnce { id, .. } = &mut c {
            *id = EnvelopeId(0xbeef);
        }
        c
    });
    assert_eq!(e, Err(CommandError::NoTitle));
}

/// Any command under a chosen id (an imported CAP alert's): its envelope
/// carries that id, the same id again does nothing (also after a restart),
/// a refused one leaves the id free, and the next command without one
/// gets a fresh id.
#[test]
fn a_command_under_a_chosen_id_is_done_once() {
    let mut net = Net::new(
        Arc::new(generate(&Shape::Preset(Preset::Demo), Addressing::default()).unwrap()),
        8,
    );
    let county = id(COUNTY);
    let incident = net.command(&county, report("邻里纠纷")).unwrap();
    net.run_for(Duration::from_secs(5));
    let note = |text: &str| Command::Once {
        id: EnvelopeId(0xca9),
        command: Box::new(Command::Note {
            incident,
            by: "预警发布平台".into(),
            text: text.into(),
        }),
    };
    // Refused by the rules: nothing stored, the id still free.
    assert_eq!(
        net.command(&county, note("  ")),
        Err(CommandError::EmptyText { field: "note" })
    );
    assert!(!net.core(&county).store().envelopes.contains_key(&EnvelopeId(0xca9)));
    assert_eq!(net.command(&county, note("台风蓝色预警更新")), Ok(EnvelopeId(0xca9)));
    let notes = |net: &Net| {
        net.core(&county)
            .incident(incident)
            .unwrap()
            .timeline
            .iter()
            .filter(|e| e.what.contains("台风蓝色预警更新"))
            .count()
    };
    assert_eq!(notes(&net), 1);
    assert_eq!(net.command(&county, note("台风蓝色预警更新")), Ok(EnvelopeId(0xca9)));
    net.restart(&county);
    assert_eq!(net.command(&county, note("台风蓝色预警更新")), Ok(EnvelopeId(0xca9)));
    net.run_for(Duration::from_secs(5));
    assert_eq!(notes(&net), 1, "noted again");
    let fresh = net
        .command(
            &county,
            Command::Note {
                incident,
                by: "值班员".into(),
                text: "另一条".into(),
            },
        )
        .unwrap();
    assert_ne!(fresh, EnvelopeId(0xca9));
}
