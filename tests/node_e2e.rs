//! End to end: the demo federation as 17 real `liandong node run`
//! processes on loopback, real QUIC and TLS, real SQLite files; operators
//! act through the control API with their own certificates.

mod federation;

use liandong_control::{Act, Query};
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use federation::{
    Federation, WAIT, file_report, hex, id, incident_at, sign_for_when_received, subscribe, wait_for, wait_links_up,
};
use liandong_control::proto::{Notice, Request, Response};
use liandong_control::{ControlClient, Subscription};
use liandong_dispatch::store::Store;
use liandong_dispatch::wire::{EnvelopeId, Mode, TargetState, Targets};
use liandong_topology::{Level, NodeId, Severity};

const CITY: &str = "350100";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_climbs_to_the_city_and_an_order_to_a_county_is_signed_for_by_every_village() {
    let mut fed = Federation::demo(Ipv4Addr::new(127, 0, 10, 1));
    fed.start_all();
    wait_links_up(&fed);

    // A severity II flood report from a village climbs to the city.
    let village = id("350102001001");
    let path = [id("350102001"), id("350102"), id(CITY)];
    let reporter = fed.client(&village, "网格员张伟").await;
    let mut seen = subscribe(&reporter).await;
    let incident = file_report(&reporter, Severity::II, "内涝：五一路下穿通道积水").await;

    // The reporter sees each stage as it happens: stored here, at the
    // township, received by its owner (the city), accepted.
    wait_for(
        &mut seen,
        "recorded here",
        |n| matches!(n, Notice::IncidentRecorded { incident: i, .. } if i.id == incident),
    )
    .await;
    wait_for(
        &mut seen,
        "at the township",
        |n| matches!(n, Notice::Forwarded { id, to } if *id == incident && *to == path[0]),
    )
    .await;
    wait_for(&mut seen, "the city's receipt", |n| {
        matches!(n, Notice::IncidentChanged { incident: i, action, by } if i.id == incident && action == "received" && by.as_str() == CITY)
    })
    .await;
    for center in &path {
        let client = fed.client(center, "值班员").await;
        let i = incident_at(&client, incident)
            .await
            .unwrap_or_else(|| panic!("not recorded at {center}"));
        assert_eq!(i.owner, id(CITY), "owner as recorded at {center}");
        assert_eq!(i.report.severity, Severity::II);
        assert_eq!(
            i.report.reporter, "网格员张伟",
            "the reporter is the operator's certificate name"
        );
    }
    let city = fed.client(&id(CITY), "值班员").await;
    let accepted = city
        .call(Request::Act(Act::Accept {
            incident: hex(incident),
        }))
        .await
        .expect("accept");
    assert!(matches!(accepted, Response::Done { .. }), "{accepted:?}");
    wait_for(
        &mut seen,
        "the city's acceptance",
        |n| matches!(n, Notice::IncidentChanged { incident: i, action, .. } if i.id == incident && action == "accept"),
    )
    .await;

    // The city orders every village of one county; each signs for it.
    let villages: Vec<NodeId> = fed
        .topology
        .subtree(&id("350102"), Some(Level::Village))
        .map(|n| n.id.clone())
        .collect();
    assert_eq!(villages.len(), 4);
    let mut at_villages = Vec::new();
    for v in &villages {
        let client = fed.client(v, "村干部").await;
        let sub = subscribe(&client).await;
        at_villages.push((v.clone(), client, sub));
    }
    let mut city_sees = subscribe(&city).await;
    let order = match city
        .call(Request::Act(Act::Dispatch {
            incident: Some(hex(incident)),
            targets: Targets::Subtree {
                root: id("350102"),
                level: Some(Level::Village),
            },
            severity: Severity::II,
            instruction: "立即排查辖区内涝点，转移低洼处群众".into(),
            finish_by: None,
            mode: Mode::Actual,
        }))
        .await
        .expect("dispatch")
    {
        Response::Done { id, .. } => id,
        other => panic!("dispatch refused: {other:?}"),
    };
    for (_, client, sub) in &mut at_villages {
        sign_for_when_received(sub, client, order).await;
    }
    wait_for(
        &mut city_sees,
        "4 of 4 signed for",
        |n| matches!(n, Notice::OrderProgress { order: o, roll_up, .. } if *o == order && roll_up.signed_for == 4),
    )
    .await;
    let Response::Order(view) = city
        .call(Request::Query(Query::Order { id: hex(order) }))
        .await
        .expect("order")
    else {
        panic!("order not known at the city");
    };
    assert_eq!((view.roll_up.targets, view.roll_up.signed_for), (4, 4));
    for (target, status) in &view.targets {
        assert!(villages.contains(target), "{target} is not a village of 350102");
        assert!(
            matches!(&status.state, TargetState::SignedFor { by } if by == "村干部"),
            "{target}: {:?}",
            status.state
        );
    }
    fed.stop_all();
}

/// Waits until every incident of `ids` is recorded at the client's node
/// (`sub`: a subscription of the same node, taken before).
async fn all_recorded(client: &ControlClient, sub: &mut Subscription, ids: &BTreeSet<EnvelopeId>, what: &str) {
    loop {
        let mut missing = 0;
        for i in ids {
            if incident_at(client, *i).await.is_none() {
                missing += 1;
            }
        }
        if missing == 0 {
            return;
        }
        wait_for(sub, what, |n| matches!(n, Notice::IncidentRecorded { .. })).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_county_killed_mid_flow_is_skipped_then_caught_up_with_nothing_lost_or_doubled() {
    let mut fed = Federation::demo(Ipv4Addr::new(127, 0, 11, 1));
    fed.start_all();
    wait_links_up(&fed);
    let county = id("350121");
    let towns = [id("350121001"), id("350121002")];
    let villages = [id("350121001001"), id("350121002001")];
    let failover_after = fed.topology.link().failover_after;

    let mut reporters = Vec::new();
    for v in &villages {
        reporters.push(fed.client(v, "网格员").await);
    }
    let city = fed.client(&id(CITY), "值班员").await;
    let mut city_sees = subscribe(&city).await;
    let mut filed: Vec<(NodeId, EnvelopeId)> = Vec::new();
    let mut round = 0;
    let mut file_round = async |filed: &mut Vec<(NodeId, EnvelopeId)>| {
        round += 1;
        for (v, r) in villages.iter().zip(&reporters) {
            let id = file_report(r, Severity::III, &format!("险情 第{round}报")).await;
            filed.push((v.clone(), id));
        }
    };
    for _ in 0..3 {
        file_round(&mut filed).await;
    }

    // kill -9 the county while reports flow.
    let before_kill = filed.len();
    fed.kill9(&county);
    let killed = Instant::now();
    for _ in 0..3 {
        file_round(&mut filed).await;
    }
    for t in &towns {
        fed.wait_log(t, "failed over", 1, WAIT);
    }
    let took = killed.elapsed();
    // The threshold plus one heartbeat to notice, plus slack for a busy machine.
    let bound = failover_after + fed.topology.link().heartbeat + Duration::from_secs(3);
    assert!(took <= bound, "failover took {took:?}, threshold {failover_after:?}");
    for _ in 0..3 {
        file_round(&mut filed).await;
    }

    // Every report filed after the kill reaches the city while the county
    // is down. One filed just before may have been taken (acked) by the
    // county and not yet passed on when it died: it is on the county's
    // disk, and reaches the city when the county returns.
    let after_kill: BTreeSet<EnvelopeId> = filed[before_kill..].iter().map(|(_, i)| *i).collect();
    all_recorded(
        &city,
        &mut city_sees,
        &after_kill,
        "reports filed after the kill, at the city",
    )
    .await;

    // The county comes back from its SQLite file and catches up; the city
    // then has every report.
    let wanted: BTreeSet<EnvelopeId> = filed.iter().map(|(_, i)| *i).collect();
    fed.start(&county);
    let county_client = fed.client(&county, "值班员").await;
    let mut county_sees = subscribe(&county_client).await;
    all_recorded(&county_client, &mut county_sees, &wanted, "catch-up at the county").await;
    all_recorded(&city, &mut city_sees, &wanted, "every report at the city").await;
    fed.stop_all();

    // Over every store: nothing acked is missing, nothing stored twice,
    // every report at every center on its path, audit chains intact.
    let mut stores: BTreeMap<NodeId, Store> = BTreeMap::new();
    let mut audits: BTreeMap<NodeId, Vec<String>> = BTreeMap::new();
    for n in fed.topology.nodes() {
        let durable = fed.open_store(&n.id).await;
        stores.insert(n.id.clone(), durable.load().await.expect("load"));
        audits.insert(
            n.id.clone(),
            durable
                .audit_tail(u32::MAX)
                .await
                .expect("audit")
                .into_iter()
                .map(|r| r.what)
                .collect(),
        );
        durable.close().await;
    }
    for (node, store) in &stores {
        for ((peer, envelope), entry) in &store.outbox {
            if entry.acked && !entry.gave_up {
                assert!(
                    stores[peer].envelopes.contains_key(envelope),
                    "{node} holds {envelope} as acked by {peer}, which does not have it"
                );
            }
        }
    }
    for (origin, incident) in &filed {
        let mut path = vec![origin.clone()];
        path.extend(fed.topology.ancestors(origin).map(|n| n.id.clone()));
        for center in &path {
            assert!(
                stores[center].incidents.contains_key(incident),
                "{incident} missing at {center}"
            );
            let stored = audits[center]
                .iter()
                .filter(|w| w.starts_with("stored") && w.contains(&incident.to_string()) && w.contains("report"))
                .count();
            assert_eq!(stored, 1, "{incident} stored {stored} times at {center}");
        }
    }
}
