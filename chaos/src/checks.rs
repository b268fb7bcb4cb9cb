//! The end of a run: waiting for convergence after healing (pushed
//! "recorded" notices and re-checks through the control API), then the
//! checks of every node's store with the nodes stopped (and, from the
//! same stores, how long each report took to reach its owner: `latency`),
//! and the scan of their logs.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use liandong_control::proto::{IdRef, Notice, Request, Response};
use liandong_control::{ControlClient, Query};
use liandong_dispatch::Store;
use liandong_dispatch::wire::EnvelopeId;
use liandong_node::store::{Durable, StoreLocation, StoreOptions};
use liandong_topology::NodeId;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::federation::{CALL_TIMEOUT, Federation};
use crate::latency::OwnerLatencies;
use crate::load::Filed;
use crate::summary::LiveSummary;

fn hex(id: EnvelopeId) -> IdRef {
    IdRef(format!("{:032x}", id.0))
}

/// Waits until every filed report is at every center on its path, or the
/// deadline; returns what is still missing (center, report).
pub(crate) async fn converge(
    fed: &Federation,
    filed: &[Filed],
    deadline: Instant,
) -> anyhow::Result<Vec<(NodeId, EnvelopeId)>> {
    let mut wanted: BTreeSet<(NodeId, EnvelopeId)> = BTreeSet::new();
    for f in filed {
        for c in &f.path {
            wanted.insert((c.clone(), f.id));
        }
    }
    let centers: BTreeSet<NodeId> = wanted.iter().map(|(c, _)| c.clone()).collect();
    let mut clients: BTreeMap<NodeId, ControlClient> = BTreeMap::new();
    let recorded = Arc::new(Notify::new());
    let mut watchers = Vec::new();
    for c in &centers {
        let client = fed.client(c).await?;
        // Pushed "recorded" notices wake the re-check; a re-check every
        // second covers a lagged or broken subscription.
        if let Ok(mut sub) = client.subscribe().await {
            let recorded = recorded.clone();
            watchers.push(tokio::spawn(async move {
                while let Some(Ok(r)) = sub.next().await {
                    if let Response::Pushed(p) = r
                        && matches!(p.notice, Notice::IncidentRecorded { .. } | Notice::Lagged { .. })
                    {
                        recorded.notify_one();
                    }
                }
            }));
        }
        clients.insert(c.clone(), client);
    }
    loop {
        let mut still = BTreeSet::new();
        for (c, id) in &wanted {
            let answer = tokio::time::timeout(
                CALL_TIMEOUT,
                clients[c].call(Request::Query(Query::Incident { id: hex(*id) })),
            )
            .await;
            if !matches!(answer, Ok(Ok(Response::Incident(_)))) {
                still.insert((c.clone(), *id));
            }
        }
        wanted = still;
        if wanted.is_empty() || Instant::now() >= deadline {
            break;
        }
        let wait = (deadline - Instant::now()).min(Duration::from_secs(1));
        let _ = tokio::time::timeout(wait, recorded.notified()).await;
    }
    for w in watchers {
        w.abort();
    }
    for c in clients.values() {
        c.close().await;
    }
    Ok(wanted.into_iter().collect())
}

/// Opens every store (nodes stopped) and checks the invariants.
pub(crate) async fn check_stores(fed: &Federation, filed: &[Filed], summary: &mut LiveSummary) -> anyhow::Result<()> {
    let mut stores: BTreeMap<NodeId, Store> = BTreeMap::new();
    let mut stored_counts: BTreeMap<NodeId, HashMap<EnvelopeId, usize>> = BTreeMap::new();
    for n in fed.topology.nodes() {
        let location = StoreLocation::Sqlite(fed.data_dir(&n.id).join("node.db"));
        let durable = Durable::open(&location, &n.id, StoreOptions::default())
            .await
            .with_context(|| format!("open the store of {}", n.id))?;
        if let Err(e) = durable.verify_audit().await {
            summary.failures.push(format!("audit chain of {}: {e}", n.id));
        }
        let store = durable
            .load()
            .await
            .with_context(|| format!("load the store of {}", n.id))?;
        let mut counts: HashMap<EnvelopeId, usize> = HashMap::new();
        for row in durable.audit_tail(u32::MAX).await? {
            if let Some(id) = row.envelope
                && row.what.starts_with("stored ")
            {
                *counts.entry(id).or_default() += 1;
            }
        }
        durable.close().await;
        stores.insert(n.id.clone(), store);
        stored_counts.insert(n.id.clone(), counts);
    }
    check_invariants(&stores, &stored_counts, filed, summary);
    summary.to_owner = OwnerLatencies::from_stores(&stores, filed);
    summary.filed = filed.len();
    Ok(())
}

/// The end checks over every node's loaded store and its audit counts
/// ("stored" rows per envelope): failures go to `summary.failures`.
fn check_invariants(
    stores: &BTreeMap<NodeId, Store>,
    stored_counts: &BTreeMap<NodeId, HashMap<EnvelopeId, usize>>,
    filed: &[Filed],
    summary: &mut LiveSummary,
) {
    // Nothing acked is missing at the peer that acked it.
    for (node, store) in stores {
        summary.envelopes_checked += store.envelopes.len();
        for ((peer, envelope), entry) in &store.outbox {
            if entry.acked && !entry.gave_up {
                summary.acked_checked += 1;
                let held = stores.get(peer).is_some_and(|s| s.envelopes.contains_key(envelope));
                if !held {
                    summary.failures.push(format!(
                        "{node} holds {envelope} as acked by {peer}, which does not have it"
                    ));
                }
            }
        }
    }
    // Nothing stored twice.
    for (node, counts) in stored_counts {
        for (id, c) in counts {
            if *c > 1 {
                summary.failures.push(format!("{id} stored {c} times at {node}"));
            }
        }
    }
    // Every filed report at every center on its path, stored once there.
    for f in filed {
        if stores
            .get(f.path.last().expect("a path"))
            .is_some_and(|s| s.incidents.contains_key(&f.id))
        {
            summary.at_owner += 1;
        }
        for c in &f.path {
            if !stores[c].incidents.contains_key(&f.id) {
                summary
                    .failures
                    .push(format!("report {} from {} missing in the store of {c}", f.id, f.origin));
            }
            let n = stored_counts[c].get(&f.id).copied().unwrap_or(0);
            if n != 1 {
                summary
                    .failures
                    .push(format!("report {} from {} stored {n} times at {c}", f.id, f.origin));
            }
        }
    }
    summary.filed = filed.len();
}

/// What the node logs say, counted over every node's log file.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct LogFindings {
    /// Every line that reports a panic, with its file name.
    pub(crate) panics: Vec<String>,
    /// "failed over" lines: a node failed over to a further ancestor.
    pub(crate) failovers: usize,
    /// Connections that came up again: the transport's "link up" lines
    /// (the ones naming the remote address; the driver logs a second,
    /// shorter one for the same event) beyond the first per (node, peer),
    /// so a link that drops and returns counts at both of its ends.
    pub(crate) reconnects: usize,
}

/// Reads every file in `dir/logs` (one per node, named `<id>.log`).
pub(crate) fn scan_logs(dir: &Path) -> LogFindings {
    let mut found = LogFindings::default();
    let mut links_up: HashMap<(String, String), usize> = HashMap::new();
    let Ok(entries) = std::fs::read_dir(dir.join("logs")) else {
        return found;
    };
    for e in entries.flatten() {
        let Ok(text) = std::fs::read_to_string(e.path()) else {
            continue;
        };
        let file = e.file_name().to_string_lossy().into_owned();
        let node = file.trim_end_matches(".log").to_owned();
        scan_log(&node, &text, &mut found, &mut links_up);
    }
    found.reconnects = links_up.values().map(|n| n.saturating_sub(1)).sum();
    found
}

/// One node's log: panics and failovers into `found`, transport "link
/// up" lines counted per (node, peer) into `links_up`.
fn scan_log(node: &str, text: &str, found: &mut LogFindings, links_up: &mut HashMap<(String, String), usize>) {
    for line in text.lines() {
        if line.contains("panicked at") {
            found.panics.push(format!("{node}.log: {line}"));
        }
        if line.contains("failed over") {
            found.failovers += 1;
        }
        if line.contains("link up") && line.contains(" remote=") {
            let peer = line
                .split_whitespace()
                .find_map(|w| w.strip_prefix("peer="))
                .unwrap_or("?");
            *links_up.entry((node.to_owned(), peer.to_owned())).or_default() += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use liandong_topology::Severity;

    #[test]
    fn the_checker_fails_on_a_lost_ack_a_double_store_and_a_missing_report() {
        use liandong_dispatch::store::OutboxEntry;
        use liandong_dispatch::wire::Lane;
        let id = |s: &str| NodeId::parse(s).unwrap();
        let (town, county) = (id("350102001"), id("350102"));
        let report = EnvelopeId(7);
        let mut stores = BTreeMap::new();
        let mut town_store = Store::default();
        town_store.outbox.insert(
            (county.clone(), report),
            OutboxEntry {
                to: vec![county.clone()],
                lane: Lane::Normal,
                catch_up: false,
                acked: true,
                gave_up: false,
            },
        );
        stores.insert(town.clone(), town_store);
        stores.insert(county.clone(), Store::default());
        let mut counts = BTreeMap::new();
        counts.insert(town.clone(), HashMap::from([(report, 2)]));
        counts.insert(county.clone(), HashMap::new());
        let filed = [Filed {
            origin: town.clone(),
            id: report,
            severity: Severity::III,
            path: vec![town.clone(), county.clone()],
        }];
        let mut summary = LiveSummary::default();
        check_invariants(&stores, &counts, &filed, &mut summary);
        let all = summary.failures.join("\n");
        assert!(all.contains("as acked by 350102, which does not have it"), "{all}");
        assert!(all.contains("stored 2 times at 350102001"), "{all}");
        assert!(all.contains("missing in the store of 350102001"), "{all}");
        assert!(all.contains("missing in the store of 350102"), "{all}");
        assert_eq!(summary.at_owner, 0);
        assert!(!summary.passed());
    }

    #[test]
    fn reconnects_are_link_ups_beyond_the_first_per_peer() {
        let log = "\
2026-12-03T11:57:33.618746Z  INFO link up node=350102001001 peer=350102001 remote=127.0.44.1:46125
2026-12-03T11:57:33.619117Z  INFO link up peer=350102001
2026-12-03T11:58:01.000000Z  INFO link down peer=350102001 reason=timed out
2026-12-03T11:58:05.000000Z  WARN parent unreachable: failed over parent=350102001 via=350102
2026-12-03T11:58:05.100000Z  INFO link up node=350102001001 peer=350102 remote=127.0.44.1:46127
2026-12-03T11:58:05.100100Z  INFO link up peer=350102
2026-12-03T11:58:09.000000Z  INFO link up node=350102001001 peer=350102001 remote=127.0.44.1:46125
2026-12-03T11:58:09.000100Z  INFO link up peer=350102001
2026-12-03T11:59:09.000000Z  INFO link up node=350102001001 peer=350102001 remote=127.0.44.1:46125
";
        let mut found = LogFindings::default();
        let mut links_up = HashMap::new();
        scan_log("350102001001", log, &mut found, &mut links_up);
        scan_log(
            "350102001",
            "x INFO link up node=350102001 peer=350102001001 remote=127.0.44.1:7103\n",
            &mut found,
            &mut links_up,
        );
        assert_eq!(links_up.values().map(|n| n - 1).sum::<usize>(), 2);
        assert_eq!(found.failovers, 1);
        assert!(found.panics.is_empty());
    }
}
