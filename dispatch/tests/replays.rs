//! Replays: an envelope a node already holds, sent again byte for byte
//! (a retry after a lost hop ack, or a captured copy replayed), is acked
//! and dropped as a duplicate without a second signature check; anything
//! else under a held id is checked; an envelope that arrives expired is
//! refused, and however often it comes the origin is told once.

use std::sync::Arc;
use std::time::Duration;

use liandong_dispatch::codec::encode_frame;
use liandong_dispatch::testing::Net;
use liandong_dispatch::wire::{Carry, Envelope, Frame};
use liandong_dispatch::*;
use liandong_topology::{Addressing, NodeId, Preset, Severity, Shape, generate};

const TOWN: &str = "350102001";
const VILLAGE: &str = "350102001001";

fn id(s: &str) -> NodeId {
    NodeId::parse(s).unwrap()
}

fn demo() -> Net {
    let topology = generate(&Shape::Preset(Preset::Demo), Addressing::default()).unwrap();
    Net::new(Arc::new(topology), 31)
}

fn report(title: &str) -> Body {
    Body::Report(Report {
        severity: Severity::Routine,
        category: Category::Hazard,
        title: title.into(),
        detail: "堵塞消防通道".into(),
        place: "五一社区3号楼".into(),
        reporter: "网格员张伟".into(),
        photos: Vec::new(),
    })
}

/// A report from the village to the township, created at `created` and
/// living `ttl`, signed by the village.
fn carried(net: &Net, n: u128, title: &str, created: Timestamp, ttl: Duration) -> Frame {
    let frame = Frame::Carry(Carry {
        envelope: Envelope {
            id: EnvelopeId(0x7u128 << 100 | n),
            origin: id(VILLAGE),
            created,
            expires: created.plus(ttl),
            mode: Mode::Actual,
            body: report(title),
            signature: Vec::new(),
        },
        to: vec![id(TOWN)],
        trace: Vec::new(),
        catch_up: false,
    });
    net.sign_as(&id(VILLAGE), frame)
}

fn send(net: &mut Net, frame: &Frame) {
    net.inject(&id(VILLAGE), &id(TOWN), encode_frame(frame).unwrap());
    net.run_for(Duration::from_millis(50));
}

fn duplicates(net: &Net) -> usize {
    net.events(&id(TOWN))
        .iter()
        .filter(|e| matches!(e, Event::Duplicate { .. }))
        .count()
}

#[test]
fn a_held_envelope_sent_again_is_a_duplicate_and_another_under_its_id_is_checked() {
    let mut net = demo();
    net.run_for(Duration::from_secs(2));
    let now = net.now;
    let first = carried(&net, 1, "楼道堆放杂物", now, Duration::from_secs(3600));
    let Frame::Carry(c) = &first else { unreachable!() };
    let held = c.envelope.id;
    send(&mut net, &first);
    assert!(
        net.disk(&id(TOWN)).envelopes.contains_key(&held),
        "the report is stored"
    );
    assert_eq!(duplicates(&net), 0);

    // The same bytes again: a duplicate, nothing more.
    let incidents = net.disk(&id(TOWN)).incidents.len();
    send(&mut net, &first);
    send(&mut net, &first);
    assert_eq!(duplicates(&net), 2, "{:?}", net.events(&id(TOWN)));
    assert_eq!(net.disk(&id(TOWN)).incidents.len(), incidents, "filed again");

    // Another envelope under the held id with a broken signature: checked
    // and refused, not taken for the held one.
    let Frame::Carry(mut forged) = carried(&net, 1, "另一件事", now, Duration::from_secs(3600)) else {
        unreachable!()
    };
    forged.envelope.body = report("伪造的内容");
    send(&mut net, &Frame::Carry(forged));
    let refused = net.refusals(&id(TOWN));
    assert!(
        refused.iter().any(|r| r.contains("signature")),
        "a forgery under a held id was not checked: {refused:?}"
    );
    let kept = &net.disk(&id(TOWN)).envelopes[&held].envelope;
    assert_eq!(kept.body, report("楼道堆放杂物"), "the held envelope changed");
}

#[test]
fn an_envelope_replayed_after_it_expired_is_refused_and_its_origin_told_once() {
    let mut net = demo();
    net.run_for(Duration::from_secs(2));
    // Signed four days ago to live three: past the township's dedup window.
    let created = Timestamp(net.now.0 - 4 * 24 * 3600 * 1000);
    let old = carried(&net, 2, "四天前的报告", created, Duration::from_secs(3 * 24 * 3600));
    let Frame::Carry(c) = &old else { unreachable!() };
    let replayed = c.envelope.id;
    for _ in 0..5 {
        send(&mut net, &old);
    }
    let town = net.disk(&id(TOWN));
    assert!(
        !town.envelopes.contains_key(&replayed),
        "an expired envelope was stored"
    );
    assert!(
        !town.incidents.values().any(|i| i.id == replayed),
        "an expired report was filed"
    );
    let told: Vec<_> = town
        .envelopes
        .values()
        .filter(|s| matches!(&s.envelope.body, Body::DeadLetter(d) if d.id == replayed))
        .collect();
    assert_eq!(
        told.len(),
        1,
        "the village is told once, however often the replay comes"
    );
}
