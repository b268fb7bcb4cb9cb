//! End to end: a coordination room (综合协调室) over the demo federation
//! as 17 real `liandong node run` processes (real QUIC, TLS, SQLite).
//! Leaders act from their own nodes through the control API with their
//! own certificates; a county is killed -9 mid-room and comes back.

mod federation;

use liandong_control::{Act, Query};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use federation::{Federation, file_report, hex, id, sign_for_when_received, subscribe, wait_for, wait_links_up};
use liandong_control::proto::{Notice, Request, Response, RoomView};
use liandong_control::{ControlClient, Subscription};
use liandong_dispatch::room::{Minutes, RoomLine};
use liandong_dispatch::wire::{EnvelopeId, RoomAct, TargetState};
use liandong_topology::{NodeId, Severity};

const CITY: &str = "350100";
const COUNTY: &str = "350102";
const TOWN: &str = "350102001";
const VILLAGE: &str = "350102001001";
const TASKED_VILLAGE: &str = "350102001002";
const OFF_PATH: &str = "350121001";

/// Sends a room act; the ask id once the node stored it.
async fn act(client: &ControlClient, room: EnvelopeId, act: RoomAct) -> EnvelopeId {
    match act_answer(client, room, act, None).await {
        Response::Asked { ask, .. } => ask,
        other => panic!("{}: room act refused: {other:?}", client.operator().name),
    }
}

async fn act_answer(client: &ControlClient, room: EnvelopeId, act: RoomAct, home: Option<NodeId>) -> Response {
    client
        .call(Request::Act(Act::RoomAct {
            room: hex(room),
            act,
            home,
        }))
        .await
        .expect("room act call")
}

fn say(text: &str) -> RoomAct {
    RoomAct::Say { text: text.into() }
}

/// Waits until the home took `ask` (its event is pushed at this node).
async fn taken(sub: &mut Subscription, ask: EnvelopeId) -> u64 {
    match wait_for(
        sub,
        "the room event of an ask",
        |n| matches!(n, Notice::RoomChanged { entry, .. } if entry.ask == Some(ask)),
    )
    .await
    {
        Notice::RoomChanged { entry, .. } => entry.seq,
        _ => unreachable!(),
    }
}

/// Waits until the client's node has applied the room up to `seq`
/// (`sub` is a subscription of the same node, taken before).
async fn applied(client: &ControlClient, sub: &mut Subscription, room: EnvelopeId, seq: u64) {
    loop {
        let at = match client
            .call(Request::Query(Query::Room { id: hex(room) }))
            .await
            .expect("room call")
        {
            Response::Room(v) => v.room.last_seq,
            _ => 0,
        };
        if at >= seq {
            return;
        }
        wait_for(
            sub,
            &format!("room event #{seq}"),
            |n| matches!(n, Notice::RoomChanged { room: r, .. } if r.id == room),
        )
        .await;
    }
}

async fn view(client: &ControlClient, room: EnvelopeId) -> RoomView {
    match client
        .call(Request::Query(Query::Room { id: hex(room) }))
        .await
        .expect("room call")
    {
        Response::Room(v) => v,
        other => panic!("no room at {}: {other:?}", client.operator().node),
    }
}

/// A log as (seq, who, line), to compare nodes.
fn lines(v: &RoomView) -> Vec<(u64, Option<String>, RoomLine)> {
    v.log
        .iter()
        .map(|e| {
            (
                e.seq,
                e.by.as_ref().map(|p| format!("{}@{}", p.name, p.node)),
                e.line.clone(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaders_of_city_county_and_township_share_a_room_through_a_county_crash() {
    let mut fed = Federation::demo(Ipv4Addr::new(127, 0, 12, 1));
    fed.start_all();
    wait_links_up(&fed);
    let (city, county, town) = (id(CITY), id(COUNTY), id(TOWN));

    // A severity II report from a village climbs to the city.
    let reporter = fed.client(&id(VILLAGE), "网格员张伟").await;
    let city_leader = fed.leader(&city, "王芳").await;
    let mut at_city = subscribe(&city_leader).await;
    let room = file_report(&reporter, Severity::II, "内涝：五一路下穿通道积水").await;
    wait_for(
        &mut at_city,
        "the report at the city",
        |n| matches!(n, Notice::IncidentRecorded { incident, .. } if incident.id == room),
    )
    .await;

    // An operator may not open the room: a clear refusal, nothing opened.
    let city_operator = fed.client(&city, "值班员小陈").await;
    match act_answer(&city_operator, room, RoomAct::Open, None).await {
        Response::Refused { reason } => {
            assert!(reason.contains("only a leader may open"), "{reason}");
            assert!(reason.contains("值班员小陈"), "{reason}");
        }
        other => panic!("an operator opened a room: {other:?}"),
    }

    let county_leader = fed.leader(&county, "林强").await;
    let town_leader = fed.leader(&town, "陈静").await;
    let mut at_county = subscribe(&county_leader).await;
    let mut at_town = subscribe(&town_leader).await;

    // The city leader opens it; the room appears at the county and the
    // township, whose leaders enter from their own nodes.
    let opened = act(&city_leader, room, RoomAct::Open).await;
    assert_eq!(taken(&mut at_city, opened).await, 1);
    applied(&county_leader, &mut at_county, room, 1).await;
    applied(&town_leader, &mut at_town, room, 1).await;
    let entered = act(&county_leader, room, RoomAct::Enter).await;
    taken(&mut at_county, entered).await;
    let entered = act(&town_leader, room, RoomAct::Enter).await;
    taken(&mut at_town, entered).await;

    // Messages and a decision, from all three.
    act(&county_leader, room, say("区防汛抢险队已出发")).await;
    act(&town_leader, room, say("街道正在转移低洼处群众")).await;
    let decided = act(
        &city_leader,
        room,
        RoomAct::Decide {
            text: "启动防汛二级应急响应".into(),
        },
    )
    .await;
    let decision = taken(&mut at_city, decided).await;

    // A task for a village becomes an order from the city; the village
    // signs for it and the room shows it.
    let village = fed.client(&id(TASKED_VILLAGE), "村干部李四").await;
    let mut at_village = subscribe(&village).await;
    let tasked = act(
        &city_leader,
        room,
        RoomAct::Task {
            target: id(TASKED_VILLAGE),
            instruction: "组织地下车库住户撤离".into(),
            finish_by: None,
        },
    )
    .await;
    let task = taken(&mut at_city, tasked).await;
    let order = view(&city_leader, room).await.room.tasks[0].order;
    sign_for_when_received(&mut at_village, &village, order).await;
    for sub in [&mut at_city, &mut at_county, &mut at_town] {
        wait_for(sub, "the task signed for, in the room", |n| {
            matches!(n, Notice::RoomChanged { entry, .. }
                if matches!(&entry.line, RoomLine::TaskProgress { task: t, state: TargetState::SignedFor { by }, .. }
                    if *t == task && by == "村干部李四"))
        })
        .await;
    }
    let home = view(&city_leader, room).await;
    for (client, who) in [(&county_leader, COUNTY), (&town_leader, TOWN)] {
        assert_eq!(lines(&view(client, room).await), lines(&home), "the log at {who}");
    }
    assert!(
        matches!(&home.log[decision as usize - 1].line, RoomLine::Decided { text } if text == "启动防汛二级应急响应")
    );
    assert!(home.room.tasks[0].state.is_signed_for());

    // kill -9 the county. The others keep working: the township fails
    // over to the city and the room goes on.
    fed.kill9(&county);
    let mut last = 0;
    for i in 1..=3 {
        let ask = act(&city_leader, room, say(&format!("第{i}次汛情通报"))).await;
        last = taken(&mut at_city, ask).await;
    }
    let ask = act(&town_leader, room, say("街道收到，已全部转移")).await;
    last = last.max(taken(&mut at_town, ask).await);
    applied(&town_leader, &mut at_town, room, last).await;
    applied(&city_leader, &mut at_city, room, last).await;

    // A node off the incident's path is refused entry by the home.
    let outsider = fed.leader(&id(OFF_PATH), "赵敏").await;
    let mut at_outsider = subscribe(&outsider).await;
    match act_answer(&outsider, room, RoomAct::Enter, None).await {
        Response::Refused { reason } => assert!(reason.contains("not on the incident's path"), "{reason}"),
        other => panic!("an off-path node entered: {other:?}"),
    }
    let Response::Asked { ask, .. } = act_answer(&outsider, room, RoomAct::Enter, Some(city.clone())).await else {
        panic!("the ask to the home was not stored");
    };
    match wait_for(
        &mut at_outsider,
        "the home's refusal",
        |n| matches!(n, Notice::RoomRefused { ask: a, .. } if *a == ask),
    )
    .await
    {
        Notice::RoomRefused { reason, .. } => assert!(reason.contains("is not on the path"), "{reason}"),
        _ => unreachable!(),
    }

    // The county comes back from its SQLite file: it gets every event it
    // missed, in order, once.
    fed.start(&county);
    let county_leader = fed.leader(&county, "林强").await;
    let mut at_county = subscribe(&county_leader).await;
    applied(&county_leader, &mut at_county, room, last).await;
    let home = view(&city_leader, room).await;
    assert_eq!(home.room.last_seq, last);
    assert_eq!(
        lines(&view(&county_leader, room).await),
        lines(&home),
        "the county caught up"
    );
    assert_eq!(lines(&view(&town_leader, room).await), lines(&home), "the township");

    // Closing: an operator may not; the city leader closes it, and the
    // minutes list the decision and the task with its final state.
    let entered = act(&city_operator, room, RoomAct::Enter).await;
    taken(&mut at_city, entered).await;
    let summary = || RoomAct::Close {
        summary: "险情已控制，转入善后".into(),
    };
    match act_answer(&city_operator, room, summary(), None).await {
        Response::Refused { reason } => assert!(reason.contains("only a leader may close"), "{reason}"),
        other => panic!("an operator closed the room: {other:?}"),
    }
    let closed = act(&city_leader, room, summary()).await;
    let end = taken(&mut at_city, closed).await;
    applied(&county_leader, &mut at_county, room, end).await;
    applied(&town_leader, &mut at_town, room, end).await;
    for client in [&city_leader, &county_leader, &town_leader] {
        let Response::Minutes(m) = client
            .call(Request::Query(Query::Minutes { room: hex(room) }))
            .await
            .expect("minutes")
        else {
            panic!("no minutes at {}", client.operator().node);
        };
        check_minutes(&m, client.operator().node.as_str());
    }
    let refused_after_close = act_answer(&town_leader, room, say("再补充一句"), None).await;
    assert!(
        matches!(&refused_after_close, Response::Refused { reason } if reason.contains("closed")),
        "{refused_after_close:?}"
    );
    fed.stop_all();

    // Every room event is in each node's hash-chained audit log, once.
    for node in [CITY, COUNTY, TOWN] {
        let durable = fed.open_store(&id(node)).await;
        let mut seen: BTreeMap<u64, usize> = BTreeMap::new();
        let prefix = format!("room {room} #");
        for row in durable.audit_tail(u32::MAX).await.expect("audit") {
            if let Some(rest) = row.what.strip_prefix(&prefix)
                && let Some(seq) = rest.split(' ').next().and_then(|s| s.parse::<u64>().ok())
            {
                *seen.entry(seq).or_default() += 1;
            }
        }
        let want: BTreeMap<u64, usize> = (1..=end).map(|s| (s, 1)).collect();
        assert_eq!(seen, want, "room events in the audit log of {node}");
        durable.close().await;
    }
}

fn check_minutes(m: &Minutes, at: &str) {
    assert!(m.closing.is_some(), "{at}: the minutes are final");
    assert_eq!(m.decisions.len(), 1, "{at}");
    assert_eq!(m.decisions[0].text, "启动防汛二级应急响应");
    assert_eq!(m.decisions[0].by.name, "王芳");
    assert_eq!(m.tasks.len(), 1, "{at}");
    assert_eq!(m.tasks[0].task.target, id(TASKED_VILLAGE));
    assert!(
        m.tasks[0].task.state.is_signed_for(),
        "{at}: {:?}",
        m.tasks[0].task.state
    );
    let names: Vec<&str> = m.attendees.iter().map(|a| a.person.name.as_str()).collect();
    assert_eq!(names, ["王芳", "林强", "陈静", "值班员小陈"], "{at}");
    let md = m.to_markdown(|t| t.0.to_string());
    for want in [
        "会议纪要",
        "启动防汛二级应急响应",
        "组织地下车库住户撤离",
        "signed for by 村干部李四",
    ] {
        assert!(md.contains(want), "{at}: minutes lack {want:?}:\n{md}");
    }
}
