//! Bringing a live federation up: the run's directory, `liandong certs
//! init` and one operator per center, a chaos [`Proxy`] in front of every
//! ancestor each node may dial (one proxy per (node, ancestor) pair, with
//! the faults the caller gives that pair), one proxied topology file per
//! node, and every node started and seen to log "node running".
//!
//! # Proxied topologies
//! Children dial the `listen` address their topology file gives for their
//! parent (and, on failover, for a further ancestor). Each node therefore
//! gets its own copy of the topology in which the address of every one of
//! its ancestors is replaced by a proxy's address in front of that
//! ancestor; its own address stays real, and it is started with `--listen`
//! on it. Certificates name node ids, not addresses, so the rewrite is
//! invisible to TLS.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use liandong_topology::{NodeId, NodeInfo, Topology};
use tempfile::TempDir;
use tokio::time::Instant;

use crate::federation::{Federation, OPERATOR, run_binary, say};
use crate::proxy::{ChaosConfig, Proxy};

/// The proxies of a federation: (node, ancestor) and the proxy between them.
pub(crate) type Proxies = Vec<((NodeId, NodeId), Proxy)>;

/// The run's directory: `keep` if given (created), else a new temp dir
/// (returned, so the caller decides whether to keep it).
pub(crate) fn work_dir(keep: Option<&Path>, prefix: &str) -> anyhow::Result<(Option<TempDir>, PathBuf)> {
    let (tempdir, dir) = match keep {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
            (None, d.to_path_buf())
        }
        None => {
            let t = tempfile::Builder::new().prefix(prefix).tempdir()?;
            let p = t.path().to_path_buf();
            (Some(t), p)
        }
    };
    for sub in ["topology", "logs", "data"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    Ok((tempdir, dir))
}

/// Certificates, proxies with `chaos_for(node, ancestor)`'s faults, and
/// every node running. `seed` seeds the proxies.
pub(crate) async fn launch(
    binary: &Path,
    topology: Arc<Topology>,
    dir: &Path,
    seed: u64,
    mut chaos_for: impl FnMut(&NodeInfo, &NodeInfo) -> ChaosConfig,
    verbose: bool,
    t0: Instant,
) -> anyhow::Result<(Federation, Proxies)> {
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
    let (_, certs) = topology_and_certs(binary, dir, &canonical).await?;
    let mut proxies: Proxies = Vec::new();
    for n in topology.nodes() {
        let mut text = canonical.clone();
        for a in topology.ancestors(&n.id) {
            let chaos = chaos_for(n, a);
            let seed = seed ^ (proxies.len() as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
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
        verbose,
        t0,
        format!(
            "{} nodes, {} proxies in {}",
            topology.len(),
            proxies.len(),
            dir.display()
        ),
    );
    let mut fed = Federation {
        binary: binary.to_path_buf(),
        dir: dir.to_path_buf(),
        topology: topology.clone(),
        certs: certs.clone(),
        nodes: BTreeMap::new(),
    };
    for n in topology.nodes() {
        run_binary(
            binary,
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
    Ok((fed, proxies))
}

/// Writes the run's topology (`text`) as `dir/topology.toml` and makes
/// every node's certificates in `dir/certs` with `liandong certs init`:
/// the two paths.
pub(crate) async fn topology_and_certs(binary: &Path, dir: &Path, text: &str) -> anyhow::Result<(PathBuf, PathBuf)> {
    let topology_file = dir.join("topology.toml");
    std::fs::write(&topology_file, text)?;
    let certs = dir.join("certs");
    run_binary(
        binary,
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
    Ok((topology_file, certs))
}
