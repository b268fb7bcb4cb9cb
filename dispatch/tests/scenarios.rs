//! The core's behaviours, each driven through the in-memory federation and
//! checked at every node involved. Demo topology: city 350100; counties
//! 350102 (鼓楼区) and 350121 with police units; townships 350102001,
//! 350102002, 350121001, 350121002; two villages under each township.

use std::sync::Arc;
use std::time::Duration;

use liandong_dispatch::codec::encode_frame;
use liandong_dispatch::sign::sign_envelope;
use liandong_dispatch::testing::Net;
use liandong_dispatch::wire::{Carry, Hop};
use liandong_dispatch::*;
use liandong_topology::{Addressing, Level, NodeId, Preset, Severity, Shape, generate};

fn id(s: &str) -> NodeId {
    NodeId::parse(s).unwrap()
}

fn demo(seed: u64) -> Net {
    let topology = generate(&Shape::Preset(Preset::Demo), Addressing::default()).unwrap();
    Net::new(Arc::new(topology), seed)
}

fn report(severity: Severity, title: &str) -> Report {
    Report {
        severity,
        category: Category::Dispute,
        title: title.into(),
        detail: "两户因宅基地边界发生争执".into(),
        place: "五一社区3号楼".into(),
        reporter: "网格员张伟".into(),
        photos: Vec::new(),
    }
}

const CITY: &str = "350100";
const COUNTY: &str = "350102";
const TOWN: &str = "350102001";
const VILLAGE: &str = "350102001001";

/// How many times `node` told its operators it recorded `incident`.
fn recorded(net: &Net, node: &str, incident: EnvelopeId) -> usize {
    net.events(&id(node))
        .iter()
        .filter(|e| matches!(e, Event::IncidentRecorded { incident: i, .. } if *i == incident))
        .count()
}

fn file(net: &mut Net, at: &str, severity: Severity) -> EnvelopeId {
    net.command(
        &id(at),
        Command::Report {
            report: report(severity, "邻里纠纷"),
            mode: Mode::Actual,
        },
    )
    .unwrap()
}

#[test]
fn each_severity_ends_at_its_owner_recorded_along_the_path() {
    let cases = [
        (Severity::Routine, TOWN, vec![VILLAGE, TOWN]),
        (Severity::IV, COUNTY, vec![VILLAGE, TOWN, COUNTY]),
        (Severity::III, CITY, vec![VILLAGE, TOWN, COUNTY, CITY]),
        (Severity::II, CITY, vec![VILLAGE, TOWN, COUNTY, CITY]),
        (Severity::I, CITY, vec![VILLAGE, TOWN, COUNTY, CITY]),
    ];
    for (severity, owner, path) in cases {
        let mut net = demo(7);
        let incident = file(&mut net, VILLAGE, severity);
        net.run_for(Duration::from_secs(10));
        for node in &path {
            let i = net
                .core(&id(node))
                .incident(incident)
                .unwrap_or_else(|| panic!("{severity}: not recorded at {node}"));
            assert_eq!(i.owner, id(owner), "{severity} at {node}");
            assert_eq!(i.state, IncidentState::Reported);
            assert_eq!(recorded(&net, node, incident), 1, "{severity}: recorded once at {node}");
        }
        // Nothing climbs past its owner, and nothing goes sideways.
        for node in [CITY, COUNTY, "350121", "350102002", "350102-police"] {
            if !path.contains(&node) {
                assert!(
                    net.core(&id(node)).incident(incident).is_none(),
                    "{severity} leaked to {node}"
                );
            }
        }
        // The owner is alerted; so is everyone on the way for severity I.
        let alerted = |node: &str| {
            net.events(&id(node))
                .iter()
                .any(|e| matches!(e, Event::IncidentRecorded { alert: true, .. }))
        };
        assert!(alerted(owner), "{severity}: owner {owner} not alerted");
        assert_eq!(
            alerted(TOWN),
            owner == TOWN || severity == Severity::I,
            "{severity}: path alert at {TOWN}"
        );
        // The reporter saw its report stored by the next hop, then the
        // owner's receipt, and logged both on its timeline.
        let seen = net.events(&id(VILLAGE));
        assert!(
            seen.iter()
                .any(|e| matches!(e, Event::Forwarded { id: i, to } if *i == incident && *to == id(TOWN))),
            "{severity}: no forwarded notice at the reporter"
        );
        let receipts = seen
            .iter()
            .filter(|e| matches!(e, Event::IncidentChanged { incident: i, action: "received", by, .. } if *i == incident && *by == id(owner)))
            .count();
        assert_eq!(receipts, 1, "{severity}: one receipt from {owner}");
        let timeline = &net.core(&id(VILLAGE)).incident(incident).unwrap().timeline;
        assert!(
            timeline
                .iter()
                .any(|t| t.what == format!("received by its owner {owner}")),
            "{severity}: {timeline:?}"
        );
    }
}

#[test]
fn member_unit_reports_through_its_center() {
    let mut net = demo(8);
    let incident = file(&mut net, "350121-police", Severity::III);
    net.run_for(Duration::from_secs(10));
    assert_eq!(net.core(&id(CITY)).incident(incident).unwrap().owner, id(CITY));
    assert!(net.core(&id("350121")).incident(incident).is_some());
}

#[test]
fn lifecycle_runs_to_closed_and_refuses_impossible_steps() {
    let mut net = demo(9);
    let incident = file(&mut net, VILLAGE, Severity::IV);
    net.run_for(Duration::from_secs(5));
    let (county, village, town) = (id(COUNTY), id(VILLAGE), id(TOWN));
    let by = || "值班员李娜".to_string();
    let err = net.command(&town, Command::Accept { incident, by: by() }).unwrap_err();
    assert_eq!(
        err,
        CommandError::NotOwner {
            incident,
            owner: county.clone(),
            action: "accept"
        }
    );
    let err = net.command(&county, Command::Close { incident, by: by() }).unwrap_err();
    assert_eq!(
        err,
        CommandError::BadTransition {
            incident,
            action: "close",
            state: "reported"
        }
    );

    net.command(&county, Command::Accept { incident, by: by() }).unwrap();
    let order = Order {
        incident: Some(incident),
        targets: Targets::Node(id("350102-police")),
        severity: Severity::IV,
        instruction: "派民警到场调解".into(),
        by: by(),
        finish_by: None,
    };
    net.command(
        &county,
        Command::Dispatch {
            order,
            mode: Mode::Actual,
        },
    )
    .unwrap();
    net.command(
        &county,
        Command::Resolve {
            incident,
            by: by(),
            summary: "双方达成协议".into(),
        },
    )
    .unwrap();
    net.run_for(Duration::from_secs(5));
    assert_eq!(
        net.core(&village).incident(incident).unwrap().state,
        IncidentState::Resolved
    );
    let err = net.command(
        &county,
        Command::Verify {
            incident,
            by: by(),
            accepted: true,
            note: String::new(),
        },
    );
    assert_eq!(
        err.unwrap_err(),
        CommandError::NotReporter {
            incident,
            origin: village.clone(),
            action: "verify"
        }
    );
    net.command(
        &village,
        Command::Verify {
            incident,
            by: "张伟".into(),
            accepted: true,
            note: "已回访".into(),
        },
    )
    .unwrap();
    net.run_for(Duration::from_secs(5));
    net.command(&county, Command::Close { incident, by: by() }).unwrap();
    net.run_for(Duration::from_secs(5));
    for node in [VILLAGE, TOWN, COUNTY] {
        assert_eq!(
            net.core(&id(node)).incident(incident).unwrap().state,
            IncidentState::Closed,
            "at {node}"
        );
    }
    let timeline: Vec<&str> = net
        .core(&village)
        .incident(incident)
        .unwrap()
        .timeline
        .iter()
        .map(|t| t.what.as_str())
        .collect();
    assert!(timeline.iter().any(|w| w.starts_with("accepted by")), "{timeline:?}");
    assert!(timeline.iter().any(|w| w.starts_with("closed by")), "{timeline:?}");
    let err = net
        .command(
            &county,
            Command::Cancel {
                incident,
                by: by(),
                reason: "重复上报".into(),
            },
        )
        .unwrap_err();
    assert_eq!(
        err,
        CommandError::BadTransition {
            incident,
            action: "cancel",
            state: "closed"
        }
    );
}

#[test]
fn subtree_order_reaches_every_target_once_and_rolls_up() {
    let mut net = demo(11);
    let order = Order {
        incident: None,
        targets: Targets::Subtree {
            root: id(COUNTY),
            level: Some(Level::Village),
        },
        severity: Severity::III,
        instruction: "排查辖区内危房".into(),
        by: "市指挥长".into(),
        finish_by: None,
    };
    let o = net
        .command(
            &id(CITY),
            Command::Dispatch {
                order,
                mode: Mode::Exercise,
            },
        )
        .unwrap();
    net.run_for(Duration::from_secs(10));
    let villages = ["350102001001", "350102001002", "350102002001", "350102002002"];
    for node in net.ids().cloned().collect::<Vec<_>>() {
        let received = net
            .events(&node)
            .iter()
            .filter(|e| matches!(e, Event::OrderReceived { order, .. } if *order == o))
            .count();
        assert_eq!(
            received,
            usize::from(villages.contains(&node.as_str())),
            "OrderReceived at {node}"
        );
    }
    assert_eq!(net.core(&id(CITY)).roll_up(o).targets, 4);
    assert_eq!(net.core(&id(CITY)).roll_up(o).delivered, 4);
    for (i, v) in villages.iter().enumerate() {
        let state = if i < 3 {
            TargetState::SignedFor { by: "村干部".into() }
        } else {
            TargetState::Refused {
                reason: "人手不足".into(),
            }
        };
        net.command(&id(v), Command::Acknowledge { order: o, state }).unwrap();
    }
    net.command(
        &id(villages[0]),
        Command::Acknowledge {
            order: o,
            state: TargetState::Done {
                note: "已排查".into()
            },
        },
    )
    .unwrap();
    net.run_for(Duration::from_secs(10));
    let city = net.core(&id(CITY)).roll_up(o);
    assert_eq!((city.targets, city.signed_for, city.done, city.refused), (4, 3, 1, 1));
    assert_eq!(city.to_string(), "3 of 4 signed for, 1 done, 1 refused");
    // Each center on the way rolls up its own part.
    assert_eq!(net.core(&id(COUNTY)).roll_up(o).targets, 4);
    assert_eq!(net.core(&id(COUNTY)).roll_up(o).signed_for, 3);
    assert_eq!(net.core(&id(TOWN)).roll_up(o).targets, 2);
    assert_eq!(net.core(&id("350121")).order(o), None);
    // A target that skips a step is refused.
    let err = net.command(
        &id(villages[1]),
        Command::Acknowledge {
            order: o,
            state: TargetState::SignedFor { by: "x".into() },
        },
    );
    assert!(matches!(err, Err(CommandError::BadAck { .. })));
}

#[test]
fn late_sign_for_is_supervised_by_the_level_above_and_rolled_up_as_overdue() {
    let mut net = demo(12);
    let order = Order {
        incident: None,
        targets: Targets::List(vec![id("350102001001"), id("350121002002")]),
        severity: Severity::II,
        instruction: "核查险情".into(),
        by: "市值班".into(),
        finish_by: None,
    };
    let o = net
        .command(
            &id(CITY),
            Command::Dispatch {
                order,
                mode: Mode::Actual,
            },
        )
        .unwrap();
    net.run_for(Duration::from_secs(5));
    net.command(
        &id("350102001001"),
        Command::Acknowledge {
            order: o,
            state: TargetState::SignedFor { by: "a".into() },
        },
    )
    .unwrap();
    // II: sign for within 20 minutes.
    net.run_for(Duration::from_secs(21 * 60));
    let roll = net.core(&id(CITY)).roll_up(o);
    assert_eq!((roll.signed_for, roll.overdue), (1, 1), "{roll}");
    assert!(roll.to_string().ends_with("1 overdue"), "{roll}");
    let supervised = |node: &str| {
        net.events(&id(node)).iter().any(
            |e| matches!(e, Event::Supervised { stage: Stage::SignFor, supervisor, .. } if supervisor.as_str() == node),
        )
    };
    assert!(supervised("350121002"), "the late village's township supervises it");
    assert!(!supervised("350102001"), "the village that signed is not supervised");
}

#[test]
fn an_unaccepted_report_escalates_on_its_deadline() {
    let mut net = demo(13);
    let incident = file(&mut net, VILLAGE, Severity::IV);
    net.run_for(Duration::from_secs(59 * 60));
    assert_eq!(net.core(&id(VILLAGE)).incident(incident).unwrap().owner, id(COUNTY));
    // IV: accept within an hour, else the city takes it, supervised.
    net.run_for(Duration::from_secs(2 * 60));
    for node in [VILLAGE, TOWN, COUNTY, CITY] {
        let i = net
            .core(&id(node))
            .incident(incident)
            .unwrap_or_else(|| panic!("not at {node}"));
        assert_eq!(i.owner, id(CITY), "owner at {node}");
        assert_eq!(i.supervisor, Some(id(CITY)), "supervisor at {node}");
    }
    let alerted = net
        .events(&id(CITY))
        .iter()
        .any(|e| matches!(e, Event::IncidentRecorded { incident: i, alert: true, .. } if *i == incident));
    assert!(alerted, "the city is alerted when the report lands on it");
    assert_eq!(recorded(&net, CITY, incident), 1);
    let err = net.command(
        &id(COUNTY),
        Command::Accept {
            incident,
            by: "迟到".into(),
        },
    );
    assert!(matches!(err, Err(CommandError::NotOwner { .. })));
    net.command(
        &id(CITY),
        Command::Accept {
            incident,
            by: "市值班".into(),
        },
    )
    .unwrap();
    net.run_for(Duration::from_secs(5));
    assert_eq!(
        net.core(&id(VILLAGE)).incident(incident).unwrap().state,
        IncidentState::Accepted
    );
}

#[test]
fn a_forged_or_altered_envelope_is_refused_and_never_acked() {
    let mut net = demo(14);
    let incident = file(&mut net, VILLAGE, Severity::Routine);
    net.run_for(Duration::from_secs(5));
    let original = net.core(&id(TOWN)).store().envelopes[&incident].envelope.clone();

    // The township alters the village's report and passes it on.
    let mut altered = original.clone();
    altered.id = EnvelopeId(42);
    if let Body::Report(r) = &mut altered.body {
        r.severity = Severity::III;
    }
    // ... and forges one in the village's name with its own key.
    let mut forged = original.clone();
    forged.id = EnvelopeId(43);
    sign_envelope(&mut forged, &TestKeys::new(14).signer(&id(TOWN)));
    let frames: Vec<Vec<u8>> = [altered, forged]
        .into_iter()
        .map(|envelope| {
            let frame = Frame::Carry(Carry {
                envelope,
                to: vec![id(CITY)],
                trace: vec![Hop {
                    node: id(TOWN),
                    at: net.now,
                }],
                catch_up: false,
            });
            encode_frame(&frame).unwrap()
        })
        .collect();
    for frame in &frames {
        net.inject(&id(TOWN), &id(COUNTY), frame.clone());
    }
    net.run_for(Duration::from_secs(5));
    // A signature matching none of the village's keys may be by a renewed
    // one: the county refuses it and asks for the village's keys again,
    // once for both.
    assert_eq!(net.key_asks(&id(COUNTY)), [id(VILLAGE)]);
    let county = net.core(&id(COUNTY));
    assert!(county.incident(EnvelopeId(42)).is_none() && county.incident(EnvelopeId(43)).is_none());
    let refusals = net
        .events(&id(COUNTY))
        .iter()
        .filter(|e| matches!(e, Event::Refused { reason, .. } if reason.contains("does not match")))
        .count();
    assert_eq!(refusals, 2);
    assert!(
        county
            .store()
            .audit
            .iter()
            .any(|a| a.what.contains("refused from 350102001"))
    );
    assert!(net.core(&id(CITY)).incident(EnvelopeId(42)).is_none());
}

#[test]
fn an_order_sent_upward_and_garbage_bytes_are_refused() {
    let mut net = demo(15);
    let mut up = Envelope {
        id: EnvelopeId(77),
        origin: id(VILLAGE),
        created: net.now,
        expires: net.now.plus(Duration::from_secs(3600)),
        mode: Mode::Actual,
        body: Body::Order(Order {
            incident: None,
            targets: Targets::Node(id(COUNTY)),
            severity: Severity::IV,
            instruction: "上级照办".into(),
            by: "村".into(),
            finish_by: None,
        }),
        signature: vec![],
    };
    sign_envelope(&mut up, &TestKeys::new(15).signer(&id(VILLAGE)));
    let frame = Frame::Carry(Carry {
        envelope: up,
        to: vec![],
        trace: vec![],
        catch_up: false,
    });
    net.inject(&id(VILLAGE), &id(TOWN), encode_frame(&frame).unwrap());
    net.inject(&id(VILLAGE), &id(TOWN), vec![1, 2, 3, 4]);
    net.run_for(Duration::from_secs(1));
    let reasons: Vec<&String> = net
        .events(&id(TOWN))
        .iter()
        .filter_map(|e| match e {
            Event::Refused { reason, .. } => Some(reason),
            _ => None,
        })
        .collect();
    assert!(reasons.iter().any(|r| r.contains("not above this node")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("undecodable frame")), "{reasons:?}");
    assert!(net.core(&id(TOWN)).order(EnvelopeId(77)).is_none());
    // Village-side commands are refused the same way.
    let err = net.command(
        &id(VILLAGE),
        Command::Dispatch {
            order: Order {
                incident: None,
                targets: Targets::Node(id(TOWN)),
                severity: Severity::IV,
                instruction: "排查".into(),
                by: String::new(),
                finish_by: None,
            },
            mode: Mode::Actual,
        },
    );
    assert_eq!(err.unwrap_err(), CommandError::TargetNotBelow(id(TOWN)));
}

#[test]
fn duplicated_frames_are_delivered_to_the_application_once() {
    let mut net = demo(16);
    net.faults.duplicate = 1.0;
    let incident = file(&mut net, VILLAGE, Severity::II);
    let order = Order {
        incident: None,
        targets: Targets::Subtree {
            root: id(TOWN),
            level: None,
        },
        severity: Severity::II,
        instruction: "撤离".into(),
        by: "市".into(),
        finish_by: None,
    };
    let o = net
        .command(
            &id(CITY),
            Command::Dispatch {
                order,
                mode: Mode::Actual,
            },
        )
        .unwrap();
    net.run_for(Duration::from_secs(10));
    for node in [VILLAGE, TOWN, COUNTY, CITY] {
        assert_eq!(recorded(&net, node, incident), 1, "at {node}");
    }
    for v in ["350102001001", "350102001002"] {
        let n = net
            .events(&id(v))
            .iter()
            .filter(|e| matches!(e, Event::OrderReceived { order, .. } if *order == o))
            .count();
        assert_eq!(n, 1, "order at {v}");
    }
    assert_eq!(net.core(&id(CITY)).roll_up(o).delivered, 2);
}

#[test]
fn a_down_parent_is_skipped_and_caught_up_when_it_returns() {
    let mut net = demo(17);
    let (county, town, city) = (id(COUNTY), id(TOWN), id(CITY));
    net.crash(&county);
    // Demo failover threshold: 5 s.
    net.run_for(Duration::from_secs(6));
    assert!(net.core(&town).is_failed_over());
    assert!(
        net.core(&town).links().iter().any(|l| l.peer == city && l.up),
        "township dialed the city"
    );

    let incident = file(&mut net, VILLAGE, Severity::II);
    let order = Order {
        incident: None,
        targets: Targets::Subtree {
            root: county.clone(),
            level: Some(Level::Village),
        },
        severity: Severity::II,
        instruction: "组织转移".into(),
        by: "市".into(),
        finish_by: None,
    };
    let o = net
        .command(
            &city,
            Command::Dispatch {
                order,
                mode: Mode::Actual,
            },
        )
        .unwrap();
    net.run_for(Duration::from_secs(10));
    assert!(
        net.core(&city).incident(incident).is_some(),
        "the report went around the county"
    );
    // Both townships failed over, so every village got the order around the county.
    for v in ["350102001001", "350102002002"] {
        assert_eq!(
            net.core(&id(v)).order(o).map(|r| r.id),
            Some(o),
            "the order went around the county to {v}"
        );
    }
    assert!(!net.disk(&county).incidents.contains_key(&incident));
    assert!(net.disk(&county).orders.is_empty());

    net.restart(&county);
    net.run_for(Duration::from_secs(10));
    assert!(!net.core(&town).is_failed_over());
    assert_eq!(
        recorded(&net, COUNTY, incident),
        1,
        "the county caught up on the report once"
    );
    assert!(
        net.core(&county).order(o).is_some(),
        "the county caught up on the order"
    );
    for v in ["350102001001", "350102001002", "350102002001", "350102002002"] {
        let n = net
            .events(&id(v))
            .iter()
            .filter(|e| matches!(e, Event::OrderReceived { order, .. } if *order == o))
            .count();
        assert_eq!(n, 1, "order at {v} exactly once");
    }
    assert_eq!(recorded(&net, CITY, incident), 1);
    assert_eq!(net.core(&city).roll_up(o).delivered, 4);
    // Nothing is left owed anywhere.
    for node in [VILLAGE, TOWN, COUNTY, CITY] {
        assert_eq!(
            net.core(&id(node)).store().pending().count(),
            0,
            "{node} still owes copies"
        );
    }
}

#[test]
fn a_crash_between_persist_and_send_resends_and_the_receiver_dedups() {
    let mut net = demo(18);
    let town = id(TOWN);
    // The township stores the village's report, then dies before acking or forwarding it.
    net.crash_after_next_persist(&town);
    let incident = file(&mut net, VILLAGE, Severity::III);
    net.run_for(Duration::from_secs(1));
    assert!(!net.is_up(&town));
    assert!(
        net.disk(&town).envelopes.contains_key(&incident),
        "persisted before the crash"
    );
    assert!(
        net.disk(&id(VILLAGE)).outbox.values().any(|e| !e.acked),
        "never acked, so the village still holds it"
    );

    net.restart(&town);
    net.run_for(Duration::from_secs(30));
    for node in [VILLAGE, TOWN, COUNTY, CITY] {
        assert!(net.core(&id(node)).incident(incident).is_some(), "not at {node}");
        assert_eq!(
            net.core(&id(node)).store().pending().count(),
            0,
            "{node} still owes copies"
        );
    }
    // The township recorded it before the crash and not again after.
    assert_eq!(recorded(&net, TOWN, incident), 1);
    assert_eq!(recorded(&net, CITY, incident), 1);
}

#[test]
fn an_undeliverable_envelope_is_dead_lettered_to_its_origin() {
    let topology = generate(&Shape::Preset(Preset::Demo), Addressing::default()).unwrap();
    let config = CoreConfig {
        ttl: Duration::from_secs(600),
        ..CoreConfig::default()
    };
    let mut net = Net::with_config(Arc::new(topology), 19, config);
    let village = id(VILLAGE);
    // Cut from every center it could fail over to.
    for above in [TOWN, COUNTY, CITY] {
        net.cut(&village, &id(above));
    }
    let incident = file(&mut net, VILLAGE, Severity::Routine);
    net.run_for(Duration::from_secs(11 * 60));
    let dead = net
        .events(&village)
        .iter()
        .any(|e| matches!(e, Event::DeadLettered { id, .. } if *id == incident));
    assert!(dead, "the village is told its report expired undelivered");
    assert_eq!(net.core(&village).store().pending().count(), 0);
    assert!(
        net.core(&village)
            .store()
            .audit
            .iter()
            .any(|a| a.what.contains("expired undelivered"))
    );
}

#[test]
fn links_are_allowed_along_the_tree_only() {
    let net = demo(20);
    let town = net.core(&id(TOWN));
    for allowed in [COUNTY, CITY, VILLAGE, "350102001002"] {
        assert!(town.may_link(&id(allowed)), "{TOWN} may link with {allowed}");
    }
    for refused in [TOWN, "350102002", "350121", "350121001001", "350102-police", "999999"] {
        assert!(!town.may_link(&id(refused)), "{TOWN} must refuse {refused}");
    }
    assert!(
        net.core(&id("350102-police")).may_link(&id(CITY)),
        "a unit may fail over past its center"
    );
}

#[test]
fn a_full_queue_refuses_new_work_and_loses_nothing_it_holds() {
    let topology = generate(&Shape::Preset(Preset::Demo), Addressing::default()).unwrap();
    let config = CoreConfig {
        outbox_limit: 1,
        ..CoreConfig::default()
    };
    let mut net = Net::with_config(Arc::new(topology), 21, config);
    let (town, county, city) = (id(TOWN), id(COUNTY), id(CITY));
    // The township can reach neither its county nor, by failover, the city.
    net.crash(&county);
    net.cut(&town, &city);
    let first = file(&mut net, VILLAGE, Severity::IV);
    net.run_for(Duration::from_secs(2));
    assert!(
        net.disk(&town).envelopes.contains_key(&first),
        "the first report is held"
    );
    let second = file(&mut net, VILLAGE, Severity::IV);
    net.run_for(Duration::from_secs(2));
    assert!(
        !net.disk(&town).envelopes.contains_key(&second),
        "refused work is not stored"
    );
    let refused = net
        .events(&town)
        .iter()
        .any(|e| matches!(e, Event::Refused { reason, .. } if reason.contains("queue to 350102 full")));
    assert!(refused, "the township says why it refused");
    assert!(
        net.disk(&id(VILLAGE))
            .outbox
            .iter()
            .any(|((_, e), o)| *e == second && !o.acked),
        "the village keeps it"
    );
    // New operator work at the township waits too.
    let err = net.command(
        &town,
        Command::Report {
            report: report(Severity::IV, "x"),
            mode: Mode::Actual,
        },
    );
    assert_eq!(err.unwrap_err(), CommandError::Overloaded(county.clone()));

    net.restart(&county);
    net.run_for(Duration::from_secs(120));
    for incident in [first, second] {
        assert!(
            net.core(&county).incident(incident).is_some(),
            "{incident} reached its owner"
        );
        assert_eq!(recorded(&net, TOWN, incident), 1);
    }
}

#[test]
fn an_order_is_refused_rather_than_dropped_when_the_queue_down_is_full() {
    let topology = generate(&Shape::Preset(Preset::Demo), Addressing::default()).unwrap();
    let config = CoreConfig {
        outbox_limit: 1,
        ..CoreConfig::default()
    };
    let mut net = Net::with_config(Arc::new(topology), 22, config);
    let (county, city) = (id(COUNTY), id(CITY));
    net.crash(&county);
    for town in ["350102001", "350102002"] {
        net.cut(&id(town), &city);
    }
    let order = |instruction: &str| Order {
        incident: None,
        targets: Targets::Node(id(VILLAGE)),
        severity: Severity::III,
        instruction: instruction.into(),
        by: "市值班".into(),
        finish_by: None,
    };
    let first = net
        .command(
            &city,
            Command::Dispatch {
                order: order("第一道"),
                mode: Mode::Actual,
            },
        )
        .unwrap();
    // Before the fix this was accepted, stored at the city and never queued.
    let second = net.command(
        &city,
        Command::Dispatch {
            order: order("第二道"),
            mode: Mode::Actual,
        },
    );
    assert_eq!(second.unwrap_err(), CommandError::Overloaded(county.clone()));
    assert_eq!(net.core(&city).orders().count(), 1, "a refused command changes nothing");

    net.restart(&county);
    net.run_for(Duration::from_secs(60));
    assert!(
        net.core(&id(VILLAGE)).order(first).is_some(),
        "the accepted order arrives"
    );
}
