//! A neighbour's hop ack of a copy a relay sent is not committed on its
//! own (`runtime::acks`): the mark waits, at most 0.5 s, for the next
//! commit. Held with real nodes (QUIC and TLS on loopback, SQLite
//! files): a relay that stops commits the marks it holds. (A report's
//! origin commits the first hop ack at once: it goes in the incident's
//! timeline.)

#[path = "common/demo_kit.rs"]
mod demo_kit;

use demo_kit::{demo, id};
use std::net::Ipv4Addr;
use std::time::Duration;

use liandong_certs::Role;
use liandong_control::proto::{Notice, Pushed, Request, Response};
use liandong_control::{Act, Query};
use liandong_dispatch::EnvelopeId;
use liandong_dispatch::wire::{Category, Mode};
use liandong_node::local::{LocalFederation, operator};
use liandong_node::store::{Durable, StoreLocation, StoreOptions};
use liandong_topology::{NodeId, Severity};
use tokio::sync::broadcast;

const WAIT: Duration = Duration::from_secs(30);

/// Files one report at `at` and returns its id.
async fn file(fed: &LocalFederation, at: &NodeId, n: usize) -> EnvelopeId {
    let report = Request::Act(Act::Report {
        severity: Severity::III,
        category: Category::Hazard,
        title: format!("隐患排查 第{n}条"),
        detail: "楼道堆放杂物，堵塞消防通道".into(),
        place: "鼓东街道五一社区".into(),
        mode: Mode::Actual,
    });
    match fed
        .node(at)
        .unwrap()
        .call(operator(at, "网格员", Role::Operator), report)
        .await
    {
        Response::Done { id, .. } => id,
        other => panic!("{at} refused the report: {other:?}"),
    }
}

/// Waits for `node` to push that it recorded `report`.
async fn recorded(sub: &mut broadcast::Receiver<Pushed>, report: EnvelopeId, node: &NodeId) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match tokio::time::timeout_at(deadline, sub.recv()).await {
            Ok(Ok(p)) if matches!(&p.notice, Notice::IncidentRecorded { incident, .. } if incident.id == report) => {
                return;
            }
            Ok(Ok(_)) | Ok(Err(broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Err(e)) => panic!("subscription ended waiting for {report} at {node}: {e}"),
            Err(_) => panic!("{node} did not record {report} within {WAIT:?}"),
        }
    }
}

/// Asks `node` until its link to `peer` has no copy waiting for an ack
/// (the core marks a copy acked as its ack is handled, before the mark
/// is on disk), for at most [`WAIT`].
async fn nothing_queued(fed: &LocalFederation, node: &NodeId, peer: &NodeId) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let status = fed
            .node(node)
            .unwrap()
            .call(operator(node, "值班员", Role::Operator), Request::Query(Query::Status))
            .await;
        let Response::Status(status) = status else {
            panic!("{node} gave no status: {status:?}");
        };
        if status.links.iter().any(|l| &l.peer == peer && l.queued == 0) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{node} still waits for {peer}'s ack after {WAIT:?}: {:?}",
            status.links
        );
    }
}

/// Opens the store of a node that is not running.
async fn store_of(fed: &LocalFederation, node: &NodeId) -> Durable {
    let location = StoreLocation::choose(None, &fed.data_dir(node)).unwrap();
    Durable::open(&location, node, StoreOptions::default()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_that_stops_commits_the_acks_it_holds() {
    let dir = tempfile::tempdir().unwrap();
    let mut fed = demo(dir.path(), Ipv4Addr::new(127, 0, 21, 1));
    let (county, town, village) = (id("350102"), id("350102001"), id("350102001001"));
    for n in [&county, &town, &village] {
        fed.start(n).await.unwrap();
    }
    let mut at_county = fed.node(&county).unwrap().subscribe();

    // The township relays the village's report to the county, which acks it.
    let report = file(&fed, &village, 1).await;
    recorded(&mut at_county, report, &county).await;
    nothing_queued(&fed, &town, &county).await;
    // At once: the township holds the county's ack (it waits up to 0.5 s
    // for a commit), and its stop must commit it.
    fed.stop(&town).await;
    let durable = store_of(&fed, &town).await;
    let store = durable.load().await.unwrap();
    durable.close().await;
    let copy = store
        .outbox
        .get(&(county.clone(), report))
        .unwrap_or_else(|| panic!("the township has no copy of {report} for the county"));
    assert!(
        copy.acked,
        "the county's ack of {report} was held at the township's stop and is not in its store"
    );
    fed.shutdown().await;
}
