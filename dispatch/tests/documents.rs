//! The federation document through the in-memory federation: the root
//! publishes a version, every node checks, stores and applies it (a node
//! that was down once it returns), new items take the new policy, a new
//! village joins under a running township, a moved village's next report
//! takes its new path, copies owed to a removed node go around it, and
//! stale, forged or misdirected versions are refused. Demo topology.

use std::sync::Arc;
use std::time::Duration;

use liandong_dispatch::codec::encode_frame;
use liandong_dispatch::testing::Net;
use liandong_dispatch::wire::{Carry, Frame, Hop};
use liandong_dispatch::*;
use liandong_topology::{Addressing, Deadlines, NodeId, NodeInfo, Preset, Severity, Shape, Topology, generate};

const CITY: &str = "350100";
const COUNTY: &str = "350102";
const TOWN: &str = "350102001";
const OTHER_TOWN: &str = "350102002";
const VILLAGE: &str = "350102001001";
const MOVER: &str = "350102001002";
const NEWCOMER: &str = "350102001003";
const DOOMED: &str = "350102002002";

fn id(s: &str) -> NodeId {
    NodeId::parse(s).unwrap()
}

fn demo_topology() -> Topology {
    generate(&Shape::Preset(Preset::Demo), Addressing::default()).unwrap()
}

fn demo() -> Net {
    Net::new(Arc::new(demo_topology()), 13)
}

/// Version `version` of the demo's document, its nodes changed by `edit`
/// and its severity I accept deadline set to `accept_i`.
fn version(version: u64, accept_i: Duration, edit: impl FnOnce(&mut Vec<NodeInfo>)) -> Document {
    let base = demo_topology();
    let mut nodes: Vec<NodeInfo> = base.nodes().cloned().collect();
    edit(&mut nodes);
    let mut policy = base.policy().clone();
    let d = policy.deadlines(Severity::I);
    policy.set_deadlines(Severity::I, Deadlines { accept: accept_i, ..d });
    let t = Topology::build(base.name(), nodes, policy, *base.link()).unwrap();
    let text = format!("[document]\nversion = {version}\n{}", t.to_toml());
    TestDocuments::document(&text)
}

fn same_nodes(_: &mut Vec<NodeInfo>) {}

fn file(net: &mut Net, at: &str, severity: Severity) -> EnvelopeId {
    let report = Report {
        severity,
        category: Category::Flood,
        title: "河道水位上涨".into(),
        detail: "村口河道水位上涨，已组织群众转移".into(),
        place: "村口".into(),
        reporter: "网格员".into(),
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

fn everyone_on(net: &Net, version: u64) -> bool {
    net.ids()
        .filter(|n| net.is_up(n))
        .all(|n| net.core(n).document_version() == Some(version))
}

fn refusals(net: &Net, at: &str) -> Vec<String> {
    net.refusals(&id(at))
}

#[test]
fn a_published_version_reaches_every_node_and_new_items_take_its_deadlines() {
    let mut net = demo();
    let old = net.core(&id(CITY)).topology().policy().deadlines(Severity::I).accept;
    let doc = version(2, old * 2, same_nodes);
    net.command(&id(CITY), Command::Publish(doc)).unwrap();
    assert!(net.run_until(Duration::from_secs(30), |n| everyone_on(n, 2)));
    for n in net.ids() {
        assert!(
            net.events(n).iter().any(|e| matches!(
                e,
                Event::DocumentApplied {
                    version: 2,
                    previous: None
                }
            )),
            "{n} did not say it applied version 2"
        );
        assert_eq!(net.core(n).topology().policy().deadlines(Severity::I).accept, old * 2);
    }
    // A new severity I report is accepted against the new deadline: no
    // supervision at the old one.
    let report = file(&mut net, VILLAGE, Severity::I);
    net.run_for(old + old / 2);
    let supervised = net
        .events(&id(CITY))
        .iter()
        .any(|e| matches!(e, Event::Supervised { item: Item::Incident(i), .. } if *i == report));
    assert!(!supervised, "supervised at the old deadline");
    net.run_for(old);
    assert!(
        net.ids().any(|n| net
            .events(n)
            .iter()
            .any(|e| matches!(e, Event::Supervised { item: Item::Incident(i), .. } if *i == report))),
        "not supervised at the new deadline either"
    );
}

#[test]
fn a_node_down_during_the_publish_gets_the_version_when_it_returns_and_restarts_on_it() {
    let mut net = demo();
    net.crash(&id(VILLAGE));
    let doc = version(2, Duration::from_secs(600), same_nodes);
    net.command(&id(CITY), Command::Publish(doc)).unwrap();
    assert!(net.run_until(Duration::from_secs(30), |n| everyone_on(n, 2)));
    net.restart(&id(VILLAGE));
    assert!(
        net.run_until(Duration::from_secs(60), |n| n.core(&id(VILLAGE)).document_version()
            == Some(2))
    );
    // And after a crash it starts on version 2 from its disk.
    net.crash(&id(VILLAGE));
    net.restart(&id(VILLAGE));
    assert_eq!(net.core(&id(VILLAGE)).document_version(), Some(2));
    assert_eq!(
        net.core(&id(VILLAGE)).topology().policy().deadlines(Severity::I).accept,
        Duration::from_secs(600)
    );
}

#[test]
fn a_village_added_under_a_running_township_joins_and_reports() {
    let mut net = demo();
    let newcomer = |nodes: &mut Vec<NodeInfo>| {
        let mut n = nodes.iter().find(|n| n.id == id(VILLAGE)).unwrap().clone();
        n.id = id(NEWCOMER);
        n.name = "新村".into();
        n.listen = "127.0.0.1:7117".parse().unwrap();
        nodes.push(n);
    };
    let doc = version(2, Duration::from_secs(300), newcomer);
    net.command(&id(CITY), Command::Publish(doc.clone())).unwrap();
    assert!(net.run_until(Duration::from_secs(30), |n| everyone_on(n, 2)));
    // Its machine starts on the document, then dials its township.
    net.join(&id(NEWCOMER), doc).unwrap();
    net.connect(&id(NEWCOMER), &id(TOWN));
    let report = file(&mut net, NEWCOMER, Severity::I);
    assert!(net.run_until(Duration::from_secs(30), |n| {
        n.disk(&id(CITY)).envelopes.contains_key(&report)
    }));
    // The township carried the root's envelope of version 2 to it too.
    assert!(net.run_until(Duration::from_secs(30), |n| {
        n.disk(&id(NEWCOMER))
            .envelopes
            .values()
            .any(|s| matches!(s.envelope.body, Body::Document(_)) && s.envelope.origin == id(CITY))
    }));
}

#[test]
fn a_moved_village_hears_of_its_move_from_its_old_parent_and_reports_on_its_new_path() {
    let mut net = demo();
    let moved = |nodes: &mut Vec<NodeInfo>| {
        let n = nodes.iter_mut().find(|n| n.id == id(MOVER)).unwrap();
        n.parent = Some(id(OTHER_TOWN));
    };
    let doc = version(3, Duration::from_secs(300), moved);
    net.command(&id(CITY), Command::Publish(doc)).unwrap();
    assert!(net.run_until(Duration::from_secs(30), |n| everyone_on(n, 3)));
    assert_eq!(
        net.core(&id(MOVER)).topology().parent(&id(MOVER)).map(|p| p.id.clone()),
        Some(id(OTHER_TOWN))
    );
    // It dialled its new township; its next report climbs through it.
    let report = file(&mut net, MOVER, Severity::IV);
    assert!(net.run_until(Duration::from_secs(30), |n| {
        n.disk(&id(COUNTY)).envelopes.contains_key(&report)
    }));
    let trace: Vec<NodeId> = net.disk(&id(COUNTY)).envelopes[&report]
        .trace
        .iter()
        .map(|h| h.node.clone())
        .collect();
    assert_eq!(trace, vec![id(MOVER), id(OTHER_TOWN), id(COUNTY)]);
    assert!(!net.disk(&id(TOWN)).envelopes.contains_key(&report));
}

#[test]
fn copies_owed_to_a_removed_node_are_given_up_there_and_nothing_else_is_lost() {
    let mut net = demo();
    // An order for every village of the county, while one of them is down.
    net.crash(&id(DOOMED));
    let order = Order {
        targets: Targets::Subtree {
            root: id(COUNTY),
            level: Some(liandong_topology::Level::Village),
        },
        severity: Severity::III,
        instruction: "排查河道隐患".into(),
        by: "值班员".into(),
        incident: None,
        finish_by: None,
    };
    let order = net
        .command(
            &id(COUNTY),
            Command::Dispatch {
                order,
                mode: Mode::Actual,
            },
        )
        .unwrap();
    net.run_for(Duration::from_secs(5));
    let owed = |net: &Net| {
        net.disk(&id(OTHER_TOWN))
            .pending()
            .any(|(p, i, _)| *p == id(DOOMED) && *i == order)
    };
    assert!(owed(&net), "the township should owe the down village its copy");
    let removed = |nodes: &mut Vec<NodeInfo>| nodes.retain(|n| n.id != id(DOOMED));
    let doc = version(4, Duration::from_secs(300), removed);
    net.command(&id(CITY), Command::Publish(doc)).unwrap();
    assert!(net.run_until(Duration::from_secs(30), |n| {
        n.ids()
            .filter(|x| **x != id(DOOMED) && n.is_up(x))
            .all(|x| n.core(x).document_version() == Some(4))
    }));
    assert!(!owed(&net), "the copy for the removed village is still owed");
    let audit: Vec<&str> = net
        .disk(&id(OTHER_TOWN))
        .audit
        .iter()
        .map(|a| a.what.as_str())
        .collect();
    assert!(audit.iter().any(|a| a.contains("no longer a neighbour")), "{audit:?}");
    // The other village of that township still got the order.
    assert!(net.disk(&id("350102002001")).envelopes.contains_key(&order));
}

#[test]
fn an_older_or_equal_version_a_forgery_and_a_publish_off_the_root_are_refused() {
    let mut net = demo();
    let v2 = version(2, Duration::from_secs(300), same_nodes);
    net.command(&id(CITY), Command::Publish(v2.clone())).unwrap();
    assert!(net.run_until(Duration::from_secs(30), |n| everyone_on(n, 2)));

    // At the root: equal and older versions, a forged signature, a
    // publish elsewhere.
    let again = net.command(&id(CITY), Command::Publish(v2.clone()));
    assert_eq!(again, Err(CommandError::StaleDocument { version: 2, current: 2 }));
    let mut forged = version(3, Duration::from_secs(300), same_nodes);
    forged.signature[0] ^= 1;
    let e = net.command(&id(CITY), Command::Publish(forged.clone())).unwrap_err();
    assert!(
        matches!(e, CommandError::BadDocument(ref r) if r.contains("signature")),
        "{e}"
    );
    let e = net
        .command(
            &id(COUNTY),
            Command::Publish(version(3, Duration::from_secs(300), same_nodes)),
        )
        .unwrap_err();
    assert_eq!(e, CommandError::NotRoot { root: id(CITY) });

    // On the wire: the county's parent replays version 2 (a new envelope
    // of it), and a forged version 3: neither is stored; the replay is
    // taken off the sender's hands, the forgery is not.
    let stored_before = net.disk(&id(COUNTY)).envelopes.len();
    let now = net.now;
    let carry = |doc: Document, n: u128| {
        let envelope = Envelope {
            id: EnvelopeId(n),
            origin: id(CITY),
            created: now,
            expires: now.plus(Duration::from_secs(3600)),
            mode: Mode::Actual,
            body: Body::Document(doc),
            signature: Vec::new(),
        };
        Frame::Carry(Carry {
            envelope,
            to: Vec::new(),
            trace: vec![Hop {
                node: id(CITY),
                at: now,
            }],
            catch_up: false,
        })
    };
    // Signed as the city would: the harness's keys sign for any node.
    let replay = net.sign_as(&id(CITY), carry(v2, 7));
    net.inject(&id(CITY), &id(COUNTY), encode_frame(&replay).unwrap());
    let forgery = net.sign_as(&id(CITY), carry(forged, 8));
    net.inject(&id(CITY), &id(COUNTY), encode_frame(&forgery).unwrap());
    net.run_for(Duration::from_secs(2));
    assert_eq!(net.disk(&id(COUNTY)).envelopes.len(), stored_before);
    let refused = refusals(&net, COUNTY);
    assert!(
        refused
            .iter()
            .any(|r| r.contains("version 2 is not newer than version 2")),
        "{refused:?}"
    );
    assert!(
        refused
            .iter()
            .any(|r| r.contains("version 3") && r.contains("signature")),
        "{refused:?}"
    );
    assert_eq!(net.core(&id(COUNTY)).document_version(), Some(2));
}

#[test]
fn a_document_over_the_frame_limit_even_compressed_is_refused_at_the_publish() {
    let mut net = demo();
    // A note of pseudo-random hex: it does not compress below the limit.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let noise: String = (0..600_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from_digit((x % 16) as u32, 16).unwrap_or('0')
        })
        .collect();
    let t = demo_topology();
    let text = format!("[document]\nversion = 2\nnote = \"{noise}\"\n{}", t.to_toml());
    let doc = TestDocuments::document(&text);
    let e = net.command(&id(CITY), Command::Publish(doc)).unwrap_err();
    assert!(
        matches!(e, CommandError::BadDocument(ref r) if r.contains("bytes compressed") && r.contains("at most")),
        "{e}"
    );
    // Nothing changed: a version 2 that fits is still taken.
    net.command(
        &id(CITY),
        Command::Publish(version(2, Duration::from_secs(300), same_nodes)),
    )
    .unwrap();
    assert!(net.run_until(Duration::from_secs(30), |n| everyone_on(n, 2)));
}
