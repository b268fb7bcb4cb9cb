//! An order's deadlines judged by when its targets acted, not by when
//! their acks reached the issuer: a county down past a sign-for deadline
//! waits for the acks made meanwhile before it supervises anyone, and an
//! ack held up on the way clears the lateness it was flagged for. (The
//! simulator's month-end run saw targets that signed for on time
//! supervised by a county that had just come back.)

use std::sync::Arc;
use std::time::Duration;

use liandong_dispatch::figures::{Period, fold};
use liandong_dispatch::testing::Net;
use liandong_dispatch::*;
use liandong_topology::{Addressing, NodeId, Preset, Severity, Shape, Topology, generate};

const CITY: &str = "350100";
const COUNTY: &str = "350102";
const TOWN_1: &str = "350102001";
const TOWN_2: &str = "350102002";

fn id(s: &str) -> NodeId {
    NodeId::parse(s).unwrap()
}

fn net(seed: u64) -> Net {
    let topology: Arc<Topology> = Arc::new(generate(&Shape::Preset(Preset::Demo), Addressing::default()).unwrap());
    Net::new(topology, seed)
}

fn ok(net: &mut Net, at: &str, c: Command) -> EnvelopeId {
    net.command(&id(at), c).unwrap_or_else(|e| panic!("{at}: {e}"))
}

/// The county's IV order to both townships (sign for within 2 h).
fn order(net: &mut Net) -> EnvelopeId {
    let order = ok(
        net,
        COUNTY,
        Command::Dispatch {
            order: Order {
                incident: None,
                targets: Targets::List(vec![id(TOWN_1), id(TOWN_2)]),
                severity: Severity::IV,
                instruction: "排查隐患".into(),
                by: "值班员".into(),
                finish_by: None,
            },
            mode: Mode::Actual,
        },
    );
    net.run_for(Duration::from_secs(10));
    order
}

fn sign_for(net: &mut Net, town: &str, order: EnvelopeId) {
    ok(
        net,
        town,
        Command::Acknowledge {
            order,
            state: TargetState::SignedFor {
                by: "镇值班员".into()
            },
        },
    );
}

fn supervised(net: &Net, order: EnvelopeId) -> usize {
    net.core(&id(COUNTY))
        .order_targets(order)
        .filter(|(_, s)| s.overdue.is_some())
        .count()
}

#[test]
fn an_issuer_back_after_a_deadline_waits_for_the_acks_made_meanwhile() {
    let mut net = net(31);
    let order = order(&mut net);
    let county = id(COUNTY);
    net.crash(&county);
    sign_for(&mut net, TOWN_1, order);
    sign_for(&mut net, TOWN_2, order);
    // Back after the two-hour sign-for deadline.
    net.run_for(Duration::from_secs(3 * 3600));
    net.restart(&county);
    net.run_for(Duration::from_secs(600));
    assert_eq!(net.core(&county).roll_up(order).signed_for, 2);
    assert_eq!(supervised(&net, order), 0, "nobody was late");
    let period = Period::day_of(net.core(&county).order(order).unwrap().issued);
    let f = fold(net.core(&county).store(), net.core(&county).topology(), &county, period);
    assert_eq!((f.actual.all.order_targets, f.actual.all.signed_for_on_time), (2, 2));
    // Nobody supervised, not even for a moment (the townships' supervisor
    // is the county itself).
    for node in [COUNTY, CITY] {
        let store = net.core(&id(node)).store();
        assert!(
            (store.envelopes.values()).all(|s| !matches!(s.envelope.body, Body::Supervise(_))),
            "a supervision at {node}"
        );
        assert!(
            !store.audit.iter().any(|a| a.what.starts_with("supervising")),
            "at {node}"
        );
    }
}

#[test]
fn an_ack_held_up_past_the_deadline_clears_the_lateness() {
    let mut net = net(32);
    let order = order(&mut net);
    // The first township signs for at once, but its link up is cut: the
    // ack reaches the county only after the deadline.
    let town = id(TOWN_1);
    for above in [COUNTY, CITY] {
        net.cut(&town, &id(above));
    }
    sign_for(&mut net, TOWN_1, order);
    sign_for(&mut net, TOWN_2, order);
    net.run_for(Duration::from_secs(3 * 3600));
    assert_eq!(
        supervised(&net, order),
        1,
        "the county saw no sign-for from {town} by the deadline"
    );
    for above in [COUNTY, CITY] {
        net.heal(&town, &id(above));
    }
    net.run_for(Duration::from_secs(600));
    assert_eq!(supervised(&net, order), 0, "signed for in time after all");
    let county = net.core(&id(COUNTY));
    assert!(
        (county.store().audit.iter()).any(|a| a.what.contains("acknowledged on time") && a.what.contains("350102001")),
        "the correction is audited"
    );
}
