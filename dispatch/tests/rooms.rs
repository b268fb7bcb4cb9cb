//! Coordination rooms (综合协调室) through the in-memory federation: the
//! home orders events, every node of the room applies them in the same
//! order once, through crashes, lost disks, reordering and duplicates.
//! Demo topology: city 350100; counties 350102 and 350121 with police
//! units; townships 350102001, 350102002, 350121001, 350121002; two
//! villages under each township.

use std::sync::Arc;
use std::time::Duration;

use liandong_dispatch::room::{Minutes, RoomLine};
use liandong_dispatch::testing::{Faults, Net};
use liandong_dispatch::*;
use liandong_topology::{Addressing, NodeId, Preset, Severity, Shape, generate};

const CITY: &str = "350100";
const COUNTY: &str = "350102";
const TOWN: &str = "350102001";
const VILLAGE: &str = "350102001001";
const OTHER_VILLAGE: &str = "350102001002";
const OFF_PATH: &str = "350121001";
const UNIT: &str = "350121-police";

fn id(s: &str) -> NodeId {
    NodeId::parse(s).unwrap()
}

fn demo(seed: u64) -> Net {
    let topology = generate(&Shape::Preset(Preset::Demo), Addressing::default()).unwrap();
    Net::new(Arc::new(topology), seed)
}

/// A severity II flood report from the village, recorded up to its owner
/// (the city).
fn flood(net: &mut Net) -> EnvelopeId {
    let report = Report {
        severity: Severity::II,
        category: Category::Flood,
        title: "五一路积水倒灌".into(),
        detail: "地下车库进水".into(),
        place: "五一路".into(),
        reporter: "网格员张伟".into(),
        photos: Vec::new(),
    };
    let incident = net
        .command(
            &id(VILLAGE),
            Command::Report {
                report,
                mode: Mode::Actual,
            },
        )
        .unwrap();
    assert!(net.run_until(Duration::from_secs(10), |n| {
        n.core(&id(CITY)).incident(incident).is_some()
    }));
    incident
}

fn act(
    net: &mut Net,
    at: &str,
    name: &str,
    role: Role,
    room: EnvelopeId,
    act: RoomAct,
) -> Result<EnvelopeId, CommandError> {
    net.command(
        &id(at),
        Command::Room {
            room,
            by: name.into(),
            role,
            act,
            home: None,
        },
    )
}

fn leader(net: &mut Net, at: &str, name: &str, room: EnvelopeId, a: RoomAct) -> EnvelopeId {
    act(net, at, name, Role::Leader, room, a).unwrap_or_else(|e| panic!("{name} at {at}: {e}"))
}

fn say(text: &str) -> RoomAct {
    RoomAct::Say { text: text.into() }
}

/// Runs until every node in `nodes` has applied the room up to `seq`.
fn settle(net: &mut Net, room: EnvelopeId, nodes: &[&str], seq: u64) {
    let ok = net.run_until(Duration::from_secs(120), |n| {
        nodes
            .iter()
            .all(|x| n.is_up(&id(x)) && n.core(&id(x)).room(room).is_some_and(|r| r.last_seq >= seq))
    });
    let seen: Vec<String> = nodes
        .iter()
        .map(|x| {
            let at = if net.is_up(&id(x)) {
                net.core(&id(x)).room(room).map_or(0, |r| r.last_seq)
            } else {
                0
            };
            format!("{x}: {at}")
        })
        .collect();
    assert!(ok, "room not at #{seq} everywhere: {seen:?}");
}

/// The log at a node as (seq, who, line) for comparing nodes.
fn log(net: &Net, node: &str, room: EnvelopeId) -> Vec<(u64, Option<String>, RoomLine)> {
    net.core(&id(node))
        .room_log(room)
        .map(|e| {
            (
                e.seq,
                e.by.as_ref().map(|p| format!("{}@{}", p.name, p.node)),
                e.line.clone(),
            )
        })
        .collect()
}

/// Every node has the same log, numbered 1..=n without a gap, each
/// event applied (and told to its operators) once.
fn same_everywhere(net: &Net, room: EnvelopeId, nodes: &[&str]) -> Vec<(u64, Option<String>, RoomLine)> {
    let home = log(net, CITY, room);
    let seqs: Vec<u64> = home.iter().map(|e| e.0).collect();
    assert_eq!(
        seqs,
        (1..=home.len() as u64).collect::<Vec<_>>(),
        "numbered without a gap"
    );
    for node in nodes {
        assert_eq!(log(net, node, room), home, "log at {node} differs from the home's");
        let told: Vec<u64> = net
            .events(&id(node))
            .iter()
            .filter_map(|e| match e {
                Event::RoomChanged { room: r, seq, .. } if *r == room => Some(*seq),
                _ => None,
            })
            .collect();
        assert_eq!(told, seqs, "{node} told its operators of each event once, in order");
    }
    home
}

#[test]
fn leaders_of_three_levels_meet_decide_and_task_a_village() {
    let mut net = demo(11);
    let room = flood(&mut net);
    leader(&mut net, CITY, "王芳", room, RoomAct::Open);
    settle(&mut net, room, &[CITY, COUNTY, TOWN, VILLAGE], 1);
    let r = net.core(&id(TOWN)).room(room).unwrap();
    assert_eq!(r.home, id(CITY));
    assert_eq!(r.title, "五一路积水倒灌");
    assert_eq!(r.present.len(), 1, "the opener is present");

    leader(&mut net, COUNTY, "林强", room, RoomAct::Enter);
    leader(&mut net, TOWN, "陈静", room, RoomAct::Enter);
    settle(&mut net, room, &[CITY, COUNTY, TOWN], 3);
    leader(&mut net, COUNTY, "林强", room, say("区防汛队已出发"));
    leader(&mut net, CITY, "王芳", room, say("各单位注意安全"));
    leader(&mut net, TOWN, "陈静", room, say("正在转移群众"));
    leader(
        &mut net,
        CITY,
        "王芳",
        room,
        RoomAct::Decide {
            text: "启动防汛二级响应".into(),
        },
    );
    let task = RoomAct::Task {
        target: id(OTHER_VILLAGE),
        instruction: "组织地下车库住户撤离".into(),
        finish_by: None,
    };
    leader(&mut net, TOWN, "陈静", room, task);
    settle(&mut net, room, &[CITY, COUNTY, TOWN, VILLAGE], 8);

    // The task became an order from the home, with its own acks.
    let city_room = net.core(&id(CITY)).room(room).unwrap().clone();
    assert_eq!(city_room.tasks.len(), 1);
    let order = city_room.tasks[0].order;
    assert_eq!(net.core(&id(CITY)).order(order).unwrap().issuer, id(CITY));
    assert!(net.run_until(Duration::from_secs(10), |n| {
        n.core(&id(OTHER_VILLAGE)).order(order).is_some()
    }));
    net.command(
        &id(OTHER_VILLAGE),
        Command::Acknowledge {
            order,
            state: TargetState::SignedFor { by: "李四".into() },
        },
    )
    .unwrap();
    let signed = |n: &Net, at: &str| {
        n.core(&id(at))
            .room(room)
            .is_some_and(|r| matches!(&r.tasks[0].state, TargetState::SignedFor { by } if by == "李四"))
    };
    assert!(net.run_until(Duration::from_secs(20), |n| {
        [CITY, COUNTY, TOWN].iter().all(|x| signed(n, x))
    }));

    leader(
        &mut net,
        CITY,
        "王芳",
        room,
        RoomAct::Close {
            summary: "险情已控制".into(),
        },
    );
    let last = net.core(&id(CITY)).room(room).unwrap().last_seq;
    settle(&mut net, room, &[CITY, COUNTY, TOWN, VILLAGE], last);
    let home_log = same_everywhere(&net, room, &[COUNTY, TOWN, VILLAGE]);
    let said: Vec<&RoomLine> = home_log
        .iter()
        .map(|e| &e.2)
        .filter(|l| matches!(l, RoomLine::Said { .. } | RoomLine::Decided { .. }))
        .collect();
    assert_eq!(said.len(), 4);
    assert!(matches!(home_log.last().unwrap().2, RoomLine::Closed { .. }));

    // The minutes are the same at every node: the decision and the task
    // with its final state.
    let minutes = |node: &str| {
        let core = net.core(&id(node));
        Minutes::of(core.room(room).unwrap(), core.room_log(room), core.topology())
    };
    let m = minutes(CITY);
    assert_eq!(m, minutes(TOWN));
    assert_eq!(m, minutes(COUNTY));
    assert_eq!(m.decisions.len(), 1);
    assert_eq!(m.decisions[0].text, "启动防汛二级响应");
    assert_eq!(m.tasks.len(), 1);
    assert!(m.tasks[0].task.state.is_signed_for());
    let names: Vec<&str> = m.attendees.iter().map(|a| a.person.name.as_str()).collect();
    assert_eq!(names, ["王芳", "林强", "陈静"]);
    let md = m.to_markdown(|t| t.0.to_string());
    assert!(md.contains("启动防汛二级响应"), "{md}");
    assert!(md.contains("signed for by 李四"), "{md}");
    assert!(md.contains("东门社区"), "{md}");
    // Closed: nothing more is taken.
    assert_eq!(
        act(&mut net, COUNTY, "林强", Role::Leader, room, say("还有人吗")),
        Err(CommandError::RoomClosed(room))
    );
}

#[test]
fn only_leaders_open_close_and_decide() {
    let mut net = demo(12);
    let room = flood(&mut net);
    let err = act(&mut net, CITY, "张伟", Role::Operator, room, RoomAct::Open).unwrap_err();
    assert_eq!(
        err,
        CommandError::NotLeader {
            action: "open",
            name: "张伟".into()
        }
    );
    assert!(err.to_string().contains("only a leader may open"), "{err}");
    // Not at the owner: the county cannot open the city's incident's room.
    assert!(matches!(
        act(&mut net, COUNTY, "林强", Role::Leader, room, RoomAct::Open),
        Err(CommandError::NotOwner { .. })
    ));
    leader(&mut net, CITY, "王芳", room, RoomAct::Open);
    settle(&mut net, room, &[CITY, COUNTY], 1);
    act(&mut net, CITY, "张伟", Role::Operator, room, RoomAct::Enter).unwrap();
    act(&mut net, COUNTY, "小李", Role::Operator, room, RoomAct::Enter).unwrap();
    settle(&mut net, room, &[CITY, COUNTY], 3);
    // Anyone present may speak; deciding and closing need a leader.
    act(&mut net, COUNTY, "小李", Role::Operator, room, say("收到")).unwrap();
    let decide = RoomAct::Decide { text: "撤离".into() };
    assert!(matches!(
        act(&mut net, COUNTY, "小李", Role::Operator, room, decide),
        Err(CommandError::NotLeader { .. })
    ));
    let close = RoomAct::Close { summary: String::new() };
    assert!(matches!(
        act(&mut net, CITY, "张伟", Role::Operator, room, close.clone()),
        Err(CommandError::NotLeader { action: "close", .. })
    ));
    // A leader not at the home cannot close it either.
    leader(&mut net, COUNTY, "林强", room, RoomAct::Enter);
    settle(&mut net, room, &[COUNTY], 5);
    assert!(matches!(
        act(&mut net, COUNTY, "林强", Role::Leader, room, close),
        Err(CommandError::NotAtHome { .. })
    ));
    // Someone not present cannot speak.
    assert!(matches!(
        act(&mut net, TOWN, "陈静", Role::Leader, room, say("喂")),
        Err(CommandError::NotPresent { .. })
    ));
}

#[test]
fn the_home_refuses_a_node_off_the_path_until_it_is_invited() {
    let mut net = demo(13);
    let room = flood(&mut net);
    leader(&mut net, CITY, "王芳", room, RoomAct::Open);
    settle(&mut net, room, &[CITY], 1);
    // The other county's township knows nothing of the room...
    assert_eq!(
        act(&mut net, OFF_PATH, "赵敏", Role::Leader, room, RoomAct::Enter),
        Err(CommandError::UnknownRoom(room))
    );
    // ...and asking the home by name is refused there, with the reason.
    let ask = net
        .command(
            &id(OFF_PATH),
            Command::Room {
                room,
                by: "赵敏".into(),
                role: Role::Leader,
                act: RoomAct::Enter,
                home: Some(id(CITY)),
            },
        )
        .unwrap();
    let refused = |n: &Net| {
        n.events(&id(OFF_PATH)).iter().find_map(|e| match e {
            Event::RoomRefused { ask: a, reason, .. } if *a == ask => Some(reason.clone()),
            _ => None,
        })
    };
    assert!(net.run_until(Duration::from_secs(10), |n| refused(n).is_some()));
    let reason = refused(&net).unwrap();
    assert!(reason.contains("350121001 is not on the path"), "{reason}");
    assert!(net.core(&id(OFF_PATH)).room(room).is_none());
    assert_eq!(net.core(&id(CITY)).room(room).unwrap().present.len(), 1);

    // Invited by the home, the police unit of the other county gets the
    // whole history and can take part.
    leader(&mut net, CITY, "王芳", room, say("请公安增援"));
    leader(&mut net, CITY, "王芳", room, RoomAct::Invite { node: id(UNIT) });
    settle(&mut net, room, &[CITY, UNIT], 3);
    leader(&mut net, UNIT, "刘队", room, RoomAct::Enter);
    settle(&mut net, room, &[UNIT], 4);
    leader(&mut net, UNIT, "刘队", room, say("警力已出动"));
    settle(&mut net, room, &[CITY, COUNTY, TOWN, VILLAGE, UNIT], 5);
    same_everywhere(&net, room, &[COUNTY, TOWN, VILLAGE, UNIT]);
    // The county between the city and the unit only relays: it is not a
    // node of the room, so it holds no room of its own.
    assert!(net.core(&id("350121")).room(room).is_none());
}

#[test]
fn a_county_killed_during_the_room_gets_every_event_once_in_order() {
    let mut net = demo(14);
    let room = flood(&mut net);
    leader(&mut net, CITY, "王芳", room, RoomAct::Open);
    settle(&mut net, room, &[COUNTY, TOWN], 1);
    leader(&mut net, COUNTY, "林强", room, RoomAct::Enter);
    leader(&mut net, TOWN, "陈静", room, RoomAct::Enter);
    settle(&mut net, room, &[CITY, COUNTY, TOWN, VILLAGE], 3);

    net.crash(&id(COUNTY));
    // The others keep working meanwhile: the township fails over to the
    // city and the room goes on.
    for i in 0..5 {
        leader(&mut net, CITY, "王芳", room, say(&format!("第{i}次通报")));
        net.run_for(Duration::from_secs(2));
    }
    leader(&mut net, TOWN, "陈静", room, say("街道收到"));
    settle(&mut net, room, &[CITY, TOWN, VILLAGE], 9);
    assert!(net.is_up(&id(TOWN)));

    net.restart(&id(COUNTY));
    settle(&mut net, room, &[CITY, COUNTY, TOWN, VILLAGE], 9);
    same_everywhere(&net, room, &[COUNTY, TOWN, VILLAGE]);
}

#[test]
fn a_node_that_lost_its_disk_asks_for_the_gap() {
    let mut net = demo(15);
    let room = flood(&mut net);
    leader(&mut net, CITY, "王芳", room, RoomAct::Open);
    for i in 0..3 {
        leader(&mut net, CITY, "王芳", room, say(&format!("通报{i}")));
    }
    settle(&mut net, room, &[CITY, TOWN], 4);
    // Every hop ack lands: nobody owes the township anything any more.
    net.run_for(Duration::from_secs(5));
    net.crash_and_lose_disk(&id(TOWN));
    net.restart(&id(TOWN));
    assert!(net.core(&id(TOWN)).room(room).is_none(), "nothing survived");
    // The next event arrives with nothing before it: the township asks the
    // home for 1..=4 and applies everything in order.
    leader(&mut net, CITY, "王芳", room, say("新通报"));
    settle(&mut net, room, &[CITY, TOWN], 5);
    assert_eq!(log(&net, TOWN, room), log(&net, CITY, room));
    let asked = net
        .core(&id(TOWN))
        .store()
        .audit
        .iter()
        .any(|a| a.what.contains("events #1..#4 missing"));
    assert!(asked, "the township asked for the gap");
}

#[test]
fn reordered_and_duplicated_frames_change_nothing() {
    for seed in 0..8 {
        let mut net = demo(100 + seed);
        let room = flood(&mut net);
        net.faults = Faults {
            drop: 0.1,
            duplicate: 0.2,
            jitter: Duration::from_millis(400),
        };
        leader(&mut net, CITY, "王芳", room, RoomAct::Open);
        settle(&mut net, room, &[COUNTY], 1);
        leader(&mut net, COUNTY, "林强", room, RoomAct::Enter);
        for i in 0..10 {
            let at = [CITY, COUNTY][i % 2];
            let name = ["王芳", "林强"][i % 2];
            // The county's ask waits for its enter to be taken.
            if at == COUNTY {
                let entered = net.run_until(Duration::from_secs(60), |n| {
                    n.core(&id(COUNTY))
                        .room(room)
                        .is_some_and(|r| r.presence(&id(COUNTY), "林强").is_some())
                });
                assert!(entered, "seed {seed}: the county's enter was taken");
            }
            leader(&mut net, at, name, room, say(&format!("消息{i}")));
        }
        settle(&mut net, room, &[CITY, COUNTY, TOWN, VILLAGE], 12);
        net.faults = Faults::default();
        // Quiet time for retries and duplicates still in flight.
        net.run_for(Duration::from_secs(60));
        same_everywhere(&net, room, &[COUNTY, TOWN, VILLAGE]);
    }
}

#[test]
fn severity_one_opens_a_room_by_itself() {
    let mut net = demo(16);
    let report = Report {
        severity: Severity::I,
        category: Category::Fire,
        title: "化工厂爆炸".into(),
        detail: String::new(),
        place: "青口镇".into(),
        reporter: "网格员".into(),
        photos: Vec::new(),
    };
    let incident = net
        .command(
            &id(VILLAGE),
            Command::Report {
                report,
                mode: Mode::Exercise,
            },
        )
        .unwrap();
    settle(&mut net, incident, &[CITY, COUNTY, TOWN, VILLAGE], 1);
    let r = net.core(&id(VILLAGE)).room(incident).unwrap();
    assert_eq!(r.opened_by.name, "system");
    assert!(r.present.is_empty(), "the system is not a person present");
    assert_eq!(r.mode, Mode::Exercise);
    // A leader enters it like any room.
    leader(&mut net, CITY, "王芳", incident, RoomAct::Enter);
    settle(&mut net, incident, &[CITY, VILLAGE], 2);
}
