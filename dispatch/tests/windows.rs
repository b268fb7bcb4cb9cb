//! Sending windows on declared links: a village whose link declares its
//! rate sends its backlog a window at a time as hop acks come back, never
//! all at once, while an urgent report goes at once; every copy still
//! arrives. Without a declared rate everything goes at once, as before.
//! Demo topology, as in scenarios.rs.

use std::sync::Arc;
use std::time::Duration;

use liandong_dispatch::testing::Net;
use liandong_dispatch::*;
use liandong_topology::{Addressing, NodeId, Preset, Severity, Shape, Topology, generate};

const TOWN: &str = "350102001";
const VILLAGE: &str = "350102001001";

fn id(s: &str) -> NodeId {
    NodeId::parse(s).unwrap()
}

/// The demo federation; `kbps` declares the village links' rate.
fn demo(kbps: Option<u32>) -> Net {
    let mut text = generate(&Shape::Preset(Preset::Demo), Addressing::default())
        .unwrap()
        .to_toml();
    if let Some(k) = kbps {
        text.push_str(&format!("\n[link.village]\nrate_kbps = {k}\nwindow = \"2s\"\n"));
    }
    let topology = Topology::parse(&text, None).unwrap();
    let mut net = Net::new(Arc::new(topology), 5);
    net.latency = Duration::from_millis(100);
    net
}

fn file(net: &mut Net, severity: Severity, n: usize) -> EnvelopeId {
    let report = Report {
        severity,
        category: Category::Hazard,
        title: format!("巡查 第{n}报"),
        detail: "道路积水，需要排查".into(),
        place: "村口".into(),
        reporter: "网格员".into(),
        photos: Vec::new(),
    };
    net.command(
        &id(VILLAGE),
        Command::Report {
            report,
            mode: Mode::Exercise,
        },
    )
    .unwrap()
}

fn acked(net: &Net, envelope: EnvelopeId) -> bool {
    net.disk(&id(VILLAGE))
        .outbox
        .get(&(id(TOWN), envelope))
        .is_some_and(|e| e.acked)
}

/// 60 routine reports pile up while the village is cut off, then it
/// reconnects and files one severity I report: (routine acked one round
/// trip later, the urgent one acked by then, everything acked in the end).
fn backlog_after_reconnect(kbps: Option<u32>) -> (usize, bool, bool) {
    let mut net = demo(kbps);
    net.run_for(Duration::from_secs(2));
    net.cut(&id(VILLAGE), &id(TOWN));
    let backlog: Vec<EnvelopeId> = (0..60).map(|n| file(&mut net, Severity::Routine, n)).collect();
    net.heal(&id(VILLAGE), &id(TOWN));
    let urgent = file(&mut net, Severity::I, 99);
    net.run_for(Duration::from_millis(250));
    let early = backlog.iter().filter(|e| acked(&net, **e)).count();
    let urgent_early = acked(&net, urgent);
    let all = net.run_until(Duration::from_secs(120), |net| backlog.iter().all(|e| acked(net, *e)));
    let town = net.disk(&id(TOWN));
    let all_stored = all && backlog.iter().all(|e| town.envelopes.contains_key(e));
    (early, urgent_early, all_stored)
}

#[test]
fn a_declared_link_sends_its_backlog_a_window_at_a_time_and_urgent_at_once() {
    // 8 kbit/s: a window of 2 s is 2,000 bytes, a few envelopes per round
    // trip of 200 ms.
    let (early, urgent, all) = backlog_after_reconnect(Some(8));
    assert!(early > 0 && early <= 20, "{early} of 60 acked after 250 ms");
    assert!(urgent, "the urgent report waited for the window");
    assert!(all, "the backlog did not all arrive");
}

#[test]
fn without_a_declared_rate_the_backlog_goes_at_once() {
    let (early, urgent, all) = backlog_after_reconnect(None);
    assert_eq!(early, 60, "without a window every copy goes at once");
    assert!(urgent && all);
}
