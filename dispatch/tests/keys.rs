//! The key path: an envelope whose origin key the core does not hold is
//! neither stored nor acked; the core asks its driver for the key
//! (`Effect::NeedKey`), and once the key is handed back the sender's retry
//! is stored and acked. Driven through the in-memory federation, where the
//! "driver" is the test. Demo topology as in scenarios.rs.

use std::sync::Arc;
use std::time::Duration;

use liandong_dispatch::testing::Net;
use liandong_dispatch::*;
use liandong_topology::{Addressing, NodeId, Preset, Severity, Shape, generate};

const COUNTY: &str = "350102";
const TOWN: &str = "350102001";
const VILLAGE: &str = "350102001001";

fn id(s: &str) -> NodeId {
    NodeId::parse(s).unwrap()
}

fn demo() -> Net {
    let topology = generate(&Shape::Preset(Preset::Demo), Addressing::default()).unwrap();
    Net::new(Arc::new(topology), 11)
}

fn file(net: &mut Net, at: &str, severity: Severity) -> EnvelopeId {
    let report = Report {
        severity,
        category: Category::Hazard,
        title: "楼道堆放杂物".into(),
        detail: "堵塞消防通道".into(),
        place: "五一社区3号楼".into(),
        reporter: "网格员张伟".into(),
        photos: Vec::new(),
    };
    net.command(
        &id(at),
        Command::Report {
            report,
            mode: Mode::Actual,
        },
    )
    .unwrap()
}

/// Whether `from` holds an acked copy of `envelope` for `to`.
fn acked(net: &Net, from: &str, to: &str, envelope: EnvelopeId) -> bool {
    net.disk(&id(from))
        .outbox
        .get(&(id(to), envelope))
        .is_some_and(|e| e.acked)
}

fn stored(net: &Net, at: &str, envelope: EnvelopeId) -> bool {
    net.disk(&id(at)).envelopes.contains_key(&envelope)
}

fn refusals(net: &Net, at: &str) -> Vec<String> {
    net.refusals(&id(at))
}

#[test]
fn an_envelope_from_an_origin_without_a_key_waits_for_it_and_the_retry_is_stored() {
    let mut net = demo();
    // The township holds its own key and its parent's: not the village's.
    net.hold_only_keys(&id(TOWN), [id(TOWN), id(COUNTY)]);
    let incident = file(&mut net, VILLAGE, Severity::Routine);

    assert!(
        net.run_until(Duration::from_secs(10), |n| !n.key_asks(&id(TOWN)).is_empty()),
        "the township asks for the village's key"
    );
    assert_eq!(net.key_asks(&id(TOWN)), [id(VILLAGE)]);
    assert!(!stored(&net, TOWN, incident), "not stored without the key");
    assert!(!acked(&net, VILLAGE, TOWN, incident), "not acked without the key");

    // The village retries meanwhile; the township asks once, stores nothing,
    // and refuses nothing (waiting for a key is not a refusal).
    net.run_for(Duration::from_secs(5));
    assert_eq!(net.key_asks(&id(TOWN)), [id(VILLAGE)], "one ask while it stands");
    assert!(!stored(&net, TOWN, incident));
    assert!(refusals(&net, TOWN).is_empty(), "{:?}", refusals(&net, TOWN));

    net.hand_key(&id(TOWN), &id(VILLAGE), Ok(()));
    assert!(
        net.run_until(Duration::from_secs(70), |n| acked(n, VILLAGE, TOWN, incident)),
        "the village's retry is acked once the key is here"
    );
    assert!(stored(&net, TOWN, incident));
    let at_town = net
        .core(&id(TOWN))
        .incident(incident)
        .expect("recorded at the township");
    assert_eq!(at_town.owner, id(TOWN));
    let audit: Vec<&str> = net.disk(&id(TOWN)).audit.iter().map(|a| a.what.as_str()).collect();
    assert!(
        audit
            .iter()
            .any(|a| a.contains(&format!("learned the key of {VILLAGE}"))),
        "{audit:?}"
    );
}

#[test]
fn a_key_that_cannot_be_loaded_is_refused_for_a_while_then_asked_again() {
    let mut net = demo();
    net.hold_only_keys(&id(TOWN), [id(TOWN), id(COUNTY)]);
    let incident = file(&mut net, VILLAGE, Severity::Routine);
    assert!(net.run_until(Duration::from_secs(10), |n| !n.key_asks(&id(TOWN)).is_empty()));
    net.hand_key(&id(TOWN), &id(VILLAGE), Err("no certificate file".into()));
    let failed_at = net.now;

    // Retries within the next half minute are refused in today's words.
    let want = format!("no key is known for origin {VILLAGE}");
    assert!(
        net.run_until(Duration::from_secs(20), |n| refusals(n, TOWN)
            .iter()
            .any(|r| r.contains(&want))),
        "refused as from an unknown origin: {:?}",
        refusals(&net, TOWN)
    );
    assert!(net.key_asks(&id(TOWN)).is_empty(), "not asked again at once");
    assert!(!stored(&net, TOWN, incident));

    // After the wait, the next retry asks again; this time the key loads.
    assert!(
        net.run_until(Duration::from_secs(120), |n| !n.key_asks(&id(TOWN)).is_empty()),
        "asked again"
    );
    assert!(net.now.since(failed_at) >= Duration::from_secs(30), "not before 30 s");
    net.hand_key(&id(TOWN), &id(VILLAGE), Ok(()));
    assert!(net.run_until(Duration::from_secs(120), |n| acked(n, VILLAGE, TOWN, incident)));
    assert!(stored(&net, TOWN, incident));
}

#[test]
fn an_escalation_waits_for_the_key_of_the_report_it_carries() {
    let mut net = demo();
    let incident = file(&mut net, VILLAGE, Severity::Routine);
    net.run_for(Duration::from_secs(5));
    // The county never saw the routine report and holds no village key.
    net.hold_only_keys(&id(COUNTY), [id(COUNTY), id(TOWN), id("350100")]);
    let escalation = net
        .command(
            &id(TOWN),
            Command::Escalate {
                incident,
                by: "值班员李娜".into(),
                reason: "涉及多个社区".into(),
            },
        )
        .unwrap();

    assert!(
        net.run_until(Duration::from_secs(10), |n| !n.key_asks(&id(COUNTY)).is_empty()),
        "the county asks for the key of the report inside"
    );
    assert_eq!(net.key_asks(&id(COUNTY)), [id(VILLAGE)]);
    // It asks the township too, which sent the escalation and so checked
    // the report inside it.
    assert!(net.run_until(Duration::from_secs(1), |n| !n.key_asked(&id(TOWN)).is_empty()));
    assert_eq!(net.key_asked(&id(TOWN)), [(id(COUNTY), id(VILLAGE))]);
    assert!(!stored(&net, COUNTY, escalation));
    assert!(net.core(&id(COUNTY)).incident(incident).is_none());

    net.hand_key(&id(COUNTY), &id(VILLAGE), Ok(()));
    assert!(net.run_until(Duration::from_secs(70), |n| acked(n, TOWN, COUNTY, escalation)));
    let at_county = net
        .core(&id(COUNTY))
        .incident(incident)
        .expect("the county opened it from the carried report");
    assert_eq!(at_county.owner, id(COUNTY));
}
