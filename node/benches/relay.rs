//! Relay benchmark: the demo federation as real nodes in this process
//! (QUIC over TLS on loopback, one fsync'd SQLite file per node).
//!
//! Prints, each as a ratio against a baseline measured in the same run:
//! - durable relay throughput: reports/s from the four villages of county
//!   350102 through that county to the city, against one fsync'd commit per
//!   report on the same disk (what a node without group commit could do);
//! - village-to-city latency p50/p99 for one report at a time, against the
//!   four fsync'd commits back to back (one per node on the way).
//!
//! Bounded: a fixed number of reports, and every wait has a deadline.
//! `cargo bench -p liandong-node --bench relay`; `RELAY_REPORTS=N` changes
//! the burst size.

use liandong_control::{Act, Query};
use std::collections::HashSet;
use std::time::{Duration, Instant};

use liandong_certs::Role;
use liandong_control::proto::{Notice, Request, Response};
use liandong_dispatch::store::{AuditEntry, Record};
use liandong_dispatch::wire::{Category, Mode};
use liandong_dispatch::{EnvelopeId, Timestamp};
use liandong_node::local::{LocalFederation, operator};
use liandong_node::store::{Durable, StoreLocation, StoreOptions};
use liandong_topology::{Addressing, Level, NodeId, Preset, Severity, Shape, generate};
use tokio::sync::broadcast;

const DEADLINE: Duration = Duration::from_secs(300);

fn id(s: &str) -> NodeId {
    NodeId::parse(s).expect("node id")
}

fn report(n: usize) -> Request {
    Request::Act(Act::Report {
        severity: Severity::III,
        category: Category::Hazard,
        title: format!("压测上报 {n}"),
        detail: "基准测试：村级上报经乡镇、区县到市级".into(),
        place: "测试点".into(),
        mode: Mode::Exercise,
    })
}

fn done(r: Response) -> EnvelopeId {
    match r {
        Response::Done { id, .. } => id,
        other => panic!("refused: {other:?}"),
    }
}

/// Waits until every id in `want` was recorded at the subscriber's node;
/// returns (id, time recorded) in arrival order.
async fn recorded(
    sub: &mut broadcast::Receiver<liandong_control::proto::Pushed>,
    want: &HashSet<EnvelopeId>,
) -> Vec<(EnvelopeId, Timestamp)> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while seen.len() < want.len() {
        match tokio::time::timeout_at(deadline, sub.recv()).await {
            Ok(Ok(p)) => {
                if let Notice::IncidentRecorded { incident, .. } = &p.notice
                    && want.contains(&incident.id)
                {
                    seen.push((incident.id, p.at));
                }
            }
            Ok(Err(broadcast::error::RecvError::Lagged(n))) => panic!("benchmark subscriber lagged by {n}"),
            Ok(Err(e)) => panic!("subscription ended: {e}"),
            Err(_) => panic!(
                "only {} of {} reports reached the city within {DEADLINE:?}",
                seen.len(),
                want.len()
            ),
        }
    }
    seen
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn fsync_baseline(dir: &std::path::Path, n: usize) -> f64 {
    let node = id("350100");
    let store = Durable::open(
        &StoreLocation::Sqlite(dir.join("baseline.db")),
        &node,
        StoreOptions::default(),
    )
    .await
    .expect("baseline store");
    let started = Instant::now();
    for i in 0..n {
        let record = Record::Audit(AuditEntry {
            at: Timestamp(i as u64),
            what: format!("baseline commit {i}"),
        });
        store.commit(&[record], Timestamp(i as u64)).await.expect("commit");
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    store.close().await;
    rate
}

fn main() {
    let burst: usize = std::env::var("RELAY_REPORTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let dir = tempfile::tempdir().expect("temp dir");
        let topology = generate(
            &Shape::Preset(Preset::Demo),
            Addressing {
                ip: "127.0.20.1".parse().expect("ip"),
                base_port: 7100,
            },
        )
        .expect("demo topology");
        let mut fed = LocalFederation::prepare(dir.path(), topology).expect("prepare");
        fed.start_all().await.expect("start");
        let city = id("350100");
        let villages: Vec<NodeId> = fed
            .topology()
            .subtree(&id("350102"), Some(Level::Village))
            .map(|n| n.id.clone())
            .collect();

        // Warm up: one report per village, which also waits for every link.
        let mut at_city = fed.node(&city).expect("city").subscribe();
        let mut want = HashSet::new();
        for v in &villages {
            let node = fed.node(v).expect("village");
            want.insert(done(node.call(operator(v, "基准", Role::Operator), report(0)).await));
        }
        recorded(&mut at_city, &want).await;

        // Baseline: one fsync'd commit per report, on the same disk.
        let fsync_rate = fsync_baseline(dir.path(), 300).await;

        // Throughput: a burst from the four villages at once, every call
        // in flight together (the villages group-commit them too).
        let started = Instant::now();
        let per_village = burst / villages.len();
        let mut calls = Vec::new();
        for (k, v) in villages.iter().enumerate() {
            let node = fed.node(v).expect("village");
            let op = operator(v, "基准", Role::Operator);
            for i in 0..per_village {
                calls.push(node.call(op.clone(), report(k * per_village + i + 1)));
            }
        }
        let want: HashSet<EnvelopeId> = join_all(calls).await.into_iter().map(done).collect();
        let filed = started.elapsed();
        recorded(&mut at_city, &want).await;
        let elapsed = started.elapsed();
        let throughput = want.len() as f64 / elapsed.as_secs_f64();

        // Latency: one report at a time from one village.
        let village = &villages[0];
        let node = fed.node(village).expect("village");
        let op = operator(village, "基准", Role::Operator);
        let mut rtts = Vec::new();
        for _ in 0..50 {
            let t = Instant::now();
            let _ = node.call(op.clone(), Request::Query(Query::Status)).await;
            rtts.push(t.elapsed().as_secs_f64());
        }
        let mut latencies = Vec::new();
        for i in 0..200 {
            let filed_at = liandong_control::clock::now();
            let one = done(node.call(op.clone(), report(100_000 + i)).await);
            let got = recorded(&mut at_city, &HashSet::from([one])).await;
            latencies.push(got[0].1.0.saturating_sub(filed_at.0) as f64 / 1000.0);
        }
        latencies.sort_by(f64::total_cmp);
        rtts.sort_by(f64::total_cmp);
        let rtt = percentile(&rtts, 0.5).max(1e-6);

        println!("relay benchmark: demo federation, 17 nodes in one process, SQLite synchronous=FULL, loopback QUIC+TLS");
        println!("  burst: {} severity III reports from 4 villages through county 350102 to the city", want.len());
        println!("    filed in {:.2} s, all at the city in {:.2} s", filed.as_secs_f64(), elapsed.as_secs_f64());
        println!("    durable relay throughput {throughput:.0} reports/s");
        println!("    baseline: one fsync'd commit per report {fsync_rate:.0}/s  → ratio {:.1}x", throughput / fsync_rate);
        println!("  latency, one report at a time, village → township → county → city (4 fsync'd hops):");
        println!(
            "    p50 {:.1} ms, p99 {:.1} ms (clock resolution 1 ms)",
            percentile(&latencies, 0.5) * 1e3,
            percentile(&latencies, 0.99) * 1e3
        );
        let four_fsyncs = 4.0 / fsync_rate;
        println!(
            "    baseline: four fsync'd commits back to back {:.1} ms → p50 ratio {:.1}x (the rest is QUIC, TLS and scheduling)",
            four_fsyncs * 1e3,
            percentile(&latencies, 0.5) / four_fsyncs
        );
        println!("    (an in-process control call to the village takes p50 {:.3} ms)", rtt * 1e3);
        fed.shutdown().await;
    });
}

/// Runs futures concurrently on this task (no extra crate for join_all).
async fn join_all<F: std::future::Future>(futs: Vec<F>) -> Vec<F::Output> {
    let mut pinned: Vec<std::pin::Pin<Box<F>>> = futs.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = (0..pinned.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in pinned.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().map(|o| o.expect("every future finished")).collect()
}
