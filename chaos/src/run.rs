//! The live run: a federation of real `liandong node run` processes on
//! loopback, a chaos [`Proxy`] in front of every ancestor each node may
//! dial, load through the control API, kill -9 and restart, then heal,
//! converge and check every store.
//!
//! The federation is brought up by `launch` (certificates, proxied
//! topologies, every node running). With a bandwidth cap its topology
//! declares every level's links at the capped rate (`config`), unless the
//! run is `undeclared`.
//!
//! # The run
//! 1. `liandong certs init`, one operator per center (`certs issue-operator`),
//!    every node started and seen to log "node running".
//! 2. For `duration`: every `report_every` a random non-root center files a
//!    report (random severity) through its control API; every `kill_every`
//!    a random non-root node is killed with SIGKILL and restarted from its
//!    SQLite file after a random pause (sometimes longer than the
//!    failover threshold); scheduled partitions cut single parent links.
//! 3. Heal: every node up, every proxy stops dropping. Wait (on pushed
//!    "recorded" notices, re-checking what is missing, up to a deadline)
//!    until every filed report is at every center from its origin to its
//!    owner.
//! 4. Stop every node with SIGTERM, open every store and check: nothing
//!    acked is missing at the peer that acked it, nothing stored twice,
//!    every filed report at every center on its path, audit chains intact;
//!    from the owners' stores, how long each report took to reach its
//!    owner (`latency`); from the logs, panics, failovers and reconnects.

use std::sync::Arc;

use liandong_topology::{NodeId, NodeInfo};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::time::Instant;

use crate::checks::{check_stores, converge, scan_logs};
use crate::config::{LiveConfig, capped_class, load_topology};
use crate::federation::say;
use crate::launch::{launch, work_dir};
use crate::load::{drive, partition_schedule};
use crate::summary::LiveSummary;

/// Runs the federation under chaos, then checks it. An `Err` means the
/// harness itself could not run; failed checks are in
/// [`LiveSummary::failures`].
pub async fn run(config: LiveConfig) -> anyhow::Result<LiveSummary> {
    let wall = Instant::now();
    let t0 = wall;
    let v = config.verbose;
    let mut rng = StdRng::seed_from_u64(config.seed);
    let (tempdir, dir) = work_dir(config.dir.as_deref(), "liandong-live-")?;
    let topology = Arc::new(load_topology(&config)?);
    let non_root: Vec<NodeId> = topology
        .nodes()
        .filter(|n| n.parent.is_some())
        .map(|n| n.id.clone())
        .collect();
    let schedule = partition_schedule(
        &mut rng,
        &non_root,
        config.duration,
        config.partition_every,
        config.partition_for,
    );
    let chaos_for = |n: &NodeInfo, a: &NodeInfo| {
        let mut chaos = config.chaos.clone();
        chaos.partitions = schedule
            .iter()
            .filter(|(c, _, _)| *c == n.id && n.parent.as_ref() == Some(&a.id))
            .map(|(_, s, l)| (*s, *l))
            .collect();
        chaos
    };
    let (mut fed, mut proxies) = launch(&config.binary, topology.clone(), &dir, config.seed, chaos_for, v, t0).await?;
    let ids: Vec<NodeId> = topology.nodes().map(|n| n.id.clone()).collect();
    say(v, t0, "every node running; load and faults begin");

    let mut summary = LiveSummary {
        seed: config.seed,
        nodes: topology.len(),
        proxies: proxies.len(),
        duration: config.duration,
        loss: config.chaos.loss,
        bandwidth: config.chaos.bandwidth,
        declared: config.chaos.bandwidth.filter(|_| !config.undeclared).map(capped_class),
        partitions: schedule.len(),
        dir: dir.clone(),
        ..LiveSummary::default()
    };
    let outcome = drive(&config, &mut fed, &mut rng, &non_root, &mut summary, t0).await;
    let filed = match outcome {
        Ok(filed) => filed,
        Err(e) => {
            for id in &ids {
                fed.kill9(id).await;
            }
            return Err(e);
        }
    };

    // Heal: every node up, no more loss.
    for id in &ids {
        if fed.nodes[id].child.is_none() {
            fed.spawn(id)?;
        }
    }
    for id in &ids {
        fed.wait_running(id).await?;
    }
    for (_, p) in &proxies {
        p.heal();
    }
    let healed = Instant::now();
    say(
        v,
        t0,
        format!("healed; waiting for {} reports to converge", filed.len()),
    );
    let missing = converge(&fed, &filed, healed + config.converge_within).await?;
    if missing.is_empty() {
        summary.converged_after = Some(healed.elapsed());
    } else {
        for (center, id) in missing.iter().take(50) {
            summary.failures.push(format!(
                "report {id} not at {center} {:?} after healing",
                config.converge_within
            ));
        }
    }
    say(v, t0, "stopping every node");
    for id in ids.iter().rev() {
        if let Err(e) = fed.stop(id).await {
            summary.failures.push(e);
        }
    }
    for (_, p) in &mut proxies {
        summary.proxy += p.stats();
        p.stop();
    }
    check_stores(&fed, &filed, &mut summary).await?;
    let logs = scan_logs(&dir);
    summary.failovers = logs.failovers;
    summary.reconnects = logs.reconnects;
    for p in logs.panics {
        summary.failures.push(format!("a node panicked: {p}"));
    }
    summary.wall = wall.elapsed();
    summary.kept = tempdir.is_none() || !summary.passed();
    if let Some(t) = tempdir {
        if summary.passed() {
            drop(t);
        } else {
            // Keep the logs and stores of a failed run.
            let _ = t.keep();
        }
    }
    Ok(summary)
}
