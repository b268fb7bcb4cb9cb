//! The live run: a federation of real `liandong node run` processes on
//! loopback, a chaos [`Proxy`] in front of every ancestor each node may
//! dial, load through the control API, kill -9 and restart, then heal,
//! converge and check every store.
//!
//! # Proxied topologies
//! Children dial the `listen` address their topology file gives for their
//! parent (and, on failover, for a further ancestor). Each node therefore
//! gets its own copy of the topology in which the address of every one of
//! its ancestors is replaced by a proxy's address in front of that ancestor
//! (one proxy per (node, ancestor) pair); its own address stays real, and
//! it is started with `--listen` on it. Certificates name node ids, not
//! addresses, so the rewrite is invisible to TLS.
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
//!    every filed report at every center on its path, audit chains intact.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, bail};
use liandong_topology::{NodeId, Topology};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::time::Instant;

use crate::checks::{check_stores, converge, scan_logs};
use crate::config::{LiveConfig, load_topology};
use crate::federation::{Federation, OPERATOR, run_binary, say};
use crate::load::{drive, partition_schedule};
use crate::proxy::Proxy;
use crate::summary::LiveSummary;

/// Runs the federation under chaos, then checks it. An `Err` means the
/// harness itself could not run; failed checks are in
/// [`LiveSummary::failures`].
pub async fn run(config: LiveConfig) -> anyhow::Result<LiveSummary> {
    let wall = Instant::now();
    let t0 = wall;
    let v = config.verbose;
    let mut rng = StdRng::seed_from_u64(config.seed);
    let (tempdir, dir) = match &config.dir {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
            (None, d.clone())
        }
        None => {
            let t = tempfile::Builder::new().prefix("liandong-live-").tempdir()?;
            let p = t.path().to_path_buf();
            (Some(t), p)
        }
    };
    for sub in ["topology", "logs", "data"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }

    // The federation, its certificates, and one proxied topology per node.
    let topology = Arc::new(load_topology(&config)?);
    for n in topology.nodes() {
        if !n.listen.ip().is_loopback() {
            bail!(
                "node {} listens on {}: the live harness runs on loopback only",
                n.id,
                n.listen
            );
        }
    }
    let canonical = topology.to_toml();
    let topology_file = dir.join("topology.toml");
    std::fs::write(&topology_file, &canonical)?;
    let certs = dir.join("certs");
    run_binary(
        &config.binary,
        &[
            "certs".as_ref(),
            "init".as_ref(),
            "--topology".as_ref(),
            topology_file.as_os_str(),
            "--out".as_ref(),
            certs.as_os_str(),
        ],
    )
    .await?;
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
    let mut proxies: Vec<((NodeId, NodeId), Proxy)> = Vec::new();
    for n in topology.nodes() {
        let mut text = canonical.clone();
        for a in topology.ancestors(&n.id) {
            let mut chaos = config.chaos.clone();
            chaos.partitions = schedule
                .iter()
                .filter(|(c, _, _)| *c == n.id && n.parent.as_ref() == Some(&a.id))
                .map(|(_, s, l)| (*s, *l))
                .collect();
            let seed = config.seed ^ (proxies.len() as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let proxy = Proxy::start(SocketAddr::new(a.listen.ip(), 0), a.listen, chaos, seed)
                .await
                .with_context(|| format!("proxy {} -> {}", n.id, a.id))?;
            let real = format!("listen = \"{}\"", a.listen);
            if text.matches(&real).count() != 1 {
                bail!("cannot find {real} once in the topology text");
            }
            text = text.replace(&real, &format!("listen = \"{}\"", proxy.addr()));
            proxies.push(((n.id.clone(), a.id.clone()), proxy));
        }
        Topology::parse(&text, None).map_err(|e| anyhow::anyhow!("proxied topology for {}: {e}", n.id))?;
        std::fs::write(dir.join("topology").join(format!("{}.toml", n.id)), text)?;
    }
    say(
        v,
        t0,
        format!(
            "{} nodes, {} proxies in {}",
            topology.len(),
            proxies.len(),
            dir.display()
        ),
    );

    let mut fed = Federation {
        binary: config.binary.clone(),
        dir: dir.clone(),
        topology: topology.clone(),
        certs: certs.clone(),
        nodes: BTreeMap::new(),
    };
    for n in topology.nodes() {
        run_binary(
            &config.binary,
            &[
                "certs".as_ref(),
                "issue-operator".as_ref(),
                "--ca".as_ref(),
                certs.as_os_str(),
                "--node".as_ref(),
                n.id.as_str().as_ref(),
                "--name".as_ref(),
                OPERATOR.as_ref(),
                "--role".as_ref(),
                "operator".as_ref(),
            ],
        )
        .await?;
    }
    let ids: Vec<NodeId> = topology.nodes().map(|n| n.id.clone()).collect();
    for id in &ids {
        fed.spawn(id)?;
    }
    for id in &ids {
        fed.wait_running(id).await?;
    }
    say(v, t0, "every node running; load and faults begin");

    let mut summary = LiveSummary {
        seed: config.seed,
        nodes: topology.len(),
        proxies: proxies.len(),
        duration: config.duration,
        loss: config.chaos.loss,
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
    let (panics, failovers) = scan_logs(&dir);
    summary.failovers = failovers;
    for p in panics {
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
