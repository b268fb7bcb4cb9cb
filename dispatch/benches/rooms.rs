//! What a coordination room costs against the reports it sits beside:
//! messages said in a room per second, applied in order at every node of
//! the room, against severity III reports per second from a village to
//! the city over the same path, both through the in-memory federation
//! (`dispatch::testing::Net`, real cores, test signatures, the virtual
//! network's own overhead in both) in the same run.
//!
//! A room message is one ask (county → city) and one numbered event
//! (city → county → township → village), each stored and hop-acked at
//! every hop and applied in order at four nodes; a report is one envelope
//! over three hops plus the owner's receipt back. Run with
//! `cargo bench -p liandong-dispatch --bench rooms`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use liandong_dispatch::testing::Net;
use liandong_dispatch::{Category, Command, EnvelopeId, Mode, Report, Role, RoomAct};
use liandong_topology::{Addressing, NodeId, Preset, Severity, Shape, generate};

/// Messages (and reports) per run, and the most virtual time a run may take.
const N: usize = 2_000;
const LIMIT: Duration = Duration::from_secs(3600);

const CITY: &str = "350100";
const COUNTY: &str = "350102";
const TOWN: &str = "350102001";
const VILLAGE: &str = "350102001001";

fn id(s: &str) -> NodeId {
    NodeId::parse(s).expect("a demo node id")
}

fn net() -> Net {
    let t = generate(&Shape::Preset(Preset::Demo), Addressing::default()).expect("demo topology");
    Net::new(Arc::new(t), 7)
}

fn report(severity: Severity, k: usize) -> Command {
    Command::Report {
        report: Report {
            severity,
            category: Category::Flood,
            title: format!("积水 #{k}"),
            detail: "下穿通道积水约半米".into(),
            place: "五一路".into(),
            reporter: "网格员 陈静".into(),
            photos: Vec::new(),
        },
        mode: Mode::Exercise,
    }
}

/// Reports per second (wall clock) from the village to the city.
fn reports() -> f64 {
    let mut net = net();
    let start = Instant::now();
    let mut ids = Vec::with_capacity(N);
    for k in 0..N {
        ids.push(net.command(&id(VILLAGE), report(Severity::III, k)).expect("report"));
    }
    let city = id(CITY);
    let all = net.run_until(LIMIT, |n| ids.iter().all(|i| n.core(&city).incident(*i).is_some()));
    assert!(all, "every report reached the city");
    N as f64 / start.elapsed().as_secs_f64()
}

fn room_act(net: &mut Net, at: &str, name: &str, room: EnvelopeId, act: RoomAct) {
    let command = Command::Room {
        room,
        by: name.into(),
        role: Role::Leader,
        act,
        home: None,
    };
    net.command(&id(at), command).expect("room act");
}

/// Room messages per second (wall clock), said at the county, applied in
/// order at the city, county, township and village.
fn room_messages() -> f64 {
    let mut net = net();
    let room = net.command(&id(VILLAGE), report(Severity::II, 0)).expect("report");
    let city = id(CITY);
    assert!(net.run_until(LIMIT, |n| n.core(&city).incident(room).is_some()));
    room_act(&mut net, CITY, "王芳", room, RoomAct::Open);
    let county = id(COUNTY);
    assert!(net.run_until(LIMIT, |n| n.core(&county).room(room).is_some()));
    room_act(&mut net, COUNTY, "林强", room, RoomAct::Enter);
    assert!(net.run_until(LIMIT, |n| {
        n.core(&county).room(room).is_some_and(|r| r.present.len() == 2)
    }));
    let start = Instant::now();
    for k in 0..N {
        room_act(
            &mut net,
            COUNTY,
            "林强",
            room,
            RoomAct::Say {
                text: format!("第{k}次通报: 水位稳定"),
            },
        );
    }
    let last = 2 + N as u64;
    let nodes = [CITY, COUNTY, TOWN, VILLAGE].map(id);
    let all = net.run_until(LIMIT, |n| {
        nodes
            .iter()
            .all(|x| n.core(x).room(room).is_some_and(|r| r.last_seq == last))
    });
    assert!(all, "every message applied at every node of the room");
    N as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let wall = Instant::now();
    println!("liandong-dispatch: coordination room messages against reports, in-memory federation ({N} each)");
    // Warm up, then measure both in the same run.
    reports();
    let base = reports();
    let room = room_messages();
    println!("{:<52} {:>10}", "flow", "per second");
    println!(
        "{:<52} {:>10.0}",
        "III report, village -> city (3 hops, receipt back)", base
    );
    println!(
        "{:<52} {:>10.0}",
        "room message, county -> city -> 3 nodes, in order", room
    );
    println!(
        "room message / report: {:.2} (total {:.1}s)",
        room / base,
        wall.elapsed().as_secs_f64()
    );
}
