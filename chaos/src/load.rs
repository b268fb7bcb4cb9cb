//! The load and the faults while it runs: a report every `report_every`
//! at a random non-root center, through its control API; a kill -9 every
//! `kill_every` and the restart after a random pause; the partition
//! schedule the proxies are given.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use liandong_control::proto::{Request, Response};
use liandong_control::{Act, ControlClient};
use liandong_dispatch::wire::{Category, EnvelopeId, Mode};
use liandong_topology::{NodeId, Severity, Topology};
use rand::Rng;
use rand::rngs::StdRng;
use tokio::time::Instant;

use crate::config::LiveConfig;
use crate::federation::{CALL_TIMEOUT, Federation, say};
use crate::proxy::sleep_until_opt;
use crate::summary::LiveSummary;

/// A report the harness filed and the node confirmed.
#[derive(Debug, Clone)]
pub(crate) struct Filed {
    pub(crate) origin: NodeId,
    pub(crate) id: EnvelopeId,
    pub(crate) severity: Severity,
    /// Origin first, owner last.
    pub(crate) path: Vec<NodeId>,
}

/// The path a report takes: its origin, then each ancestor up to its owner.
pub(crate) fn report_path(topology: &Topology, origin: &NodeId, severity: Severity) -> Vec<NodeId> {
    let owner = topology.owner(origin, severity).map(|n| n.id.clone());
    let mut path = vec![origin.clone()];
    if owner.as_ref() == Some(origin) {
        return path;
    }
    for a in topology.ancestors(origin) {
        path.push(a.id.clone());
        if Some(&a.id) == owner.as_ref() {
            break;
        }
    }
    path
}

/// Random partition windows over `duration`: every `every`, one random
/// parent link for `length`. Returns (child, start, length).
pub(crate) fn partition_schedule(
    rng: &mut StdRng,
    children: &[NodeId],
    duration: Duration,
    every: Option<Duration>,
    length: Duration,
) -> Vec<(NodeId, Duration, Duration)> {
    let Some(every) = every.filter(|e| !e.is_zero()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut t = every;
    while t + length <= duration && !children.is_empty() {
        let c = children[rng.random_range(0..children.len())].clone();
        out.push((c, t, length));
        t += every;
    }
    out
}

/// Load and kills for `config.duration`; returns what was filed.
pub(crate) async fn drive(
    config: &LiveConfig,
    fed: &mut Federation,
    rng: &mut StdRng,
    non_root: &[NodeId],
    summary: &mut LiveSummary,
    t0: Instant,
) -> anyhow::Result<Vec<Filed>> {
    let v = config.verbose;
    let start = Instant::now();
    let end = start + config.duration;
    let mut filed = Vec::new();
    let mut clients: HashMap<NodeId, ControlClient> = HashMap::new();
    let mut report_tick = tokio::time::interval_at(start + config.report_every, config.report_every);
    let kill_every = config
        .kill_every
        .filter(|k| !k.is_zero())
        .unwrap_or(Duration::from_secs(86_400 * 365));
    let mut kill_tick = tokio::time::interval_at(start + kill_every, kill_every);
    // Nodes down, and when each comes back.
    let mut down: BTreeMap<NodeId, Instant> = BTreeMap::new();
    let severities = [
        (Severity::Routine, 40),
        (Severity::IV, 25),
        (Severity::III, 20),
        (Severity::II, 10),
        (Severity::I, 5),
    ];
    let mut n = 0u64;
    loop {
        let next_restart = down.values().min().copied();
        tokio::select! {
            // The end first: a tick due at the same instant does not run.
            biased;
            _ = tokio::time::sleep_until(end) => break,
            _ = report_tick.tick() => {
                let up: Vec<&NodeId> = non_root.iter().filter(|id| fed.is_running(id)).collect();
                if up.is_empty() {
                    continue;
                }
                let origin = up[rng.random_range(0..up.len())].clone();
                let mut pick = rng.random_range(0..100);
                let mut severity = Severity::Routine;
                for (s, w) in severities {
                    if pick < w {
                        severity = s;
                        break;
                    }
                    pick -= w;
                }
                n += 1;
                if !clients.contains_key(&origin) {
                    match fed.client(&origin).await {
                        Ok(c) => {
                            clients.insert(origin.clone(), c);
                        }
                        Err(e) => {
                            say(v, t0, format!("no control connection to {origin}: {e}"));
                            summary.calls_failed += 1;
                            continue;
                        }
                    }
                }
                let request = Request::Act(Act::Report {
                    severity,
                    category: Category::Flood,
                    title: format!("演练 第{n}报"),
                    detail: "混沌测试：链路丢包与节点重启下的上报".into(),
                    place: "测试点".into(),
                    mode: Mode::Exercise,
                });
                let answer = tokio::time::timeout(CALL_TIMEOUT, clients[&origin].call(request)).await;
                match answer {
                    Ok(Ok(Response::Done { id, .. })) => {
                        let path = report_path(&fed.topology, &origin, severity);
                        filed.push(Filed { origin, id, severity, path });
                    }
                    Ok(Ok(other)) => {
                        say(v, t0, format!("report at {origin} refused: {other:?}"));
                        summary.calls_failed += 1;
                    }
                    Ok(Err(_)) | Err(_) => {
                        clients.remove(&origin);
                        summary.calls_failed += 1;
                    }
                }
            }
            _ = kill_tick.tick(), if config.kill_every.is_some() => {
                let up: Vec<&NodeId> = non_root.iter().filter(|id| fed.is_running(id)).collect();
                if up.is_empty() {
                    continue;
                }
                let victim = up[rng.random_range(0..up.len())].clone();
                let max = config.max_down.max(Duration::from_millis(600));
                let pause = Duration::from_millis(rng.random_range(500..=max.as_millis() as u64));
                fed.kill9(&victim).await;
                clients.remove(&victim);
                summary.kills += 1;
                say(v, t0, format!("kill -9 {victim}; back in {:.1} s", pause.as_secs_f64()));
                down.insert(victim, Instant::now() + pause);
            }
            _ = sleep_until_opt(next_restart) => {
                let now = Instant::now();
                let due: Vec<NodeId> = down.iter().filter(|(_, t)| **t <= now).map(|(id, _)| id.clone()).collect();
                for id in due {
                    down.remove(&id);
                    fed.spawn(&id)?;
                    say(v, t0, format!("restarted {id}"));
                }
            }
        }
    }
    say(
        v,
        t0,
        format!("load over: {} reports filed, {} kills", filed.len(), summary.kills),
    );
    Ok(filed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use liandong_topology::{Addressing, Preset, Shape};
    use rand::SeedableRng;

    #[test]
    fn a_report_path_runs_from_origin_to_owner() {
        let t = liandong_topology::generate(&Shape::Preset(Preset::Demo), Addressing::default()).unwrap();
        let id = |s: &str| NodeId::parse(s).unwrap();
        let village = id("350102001001");
        assert_eq!(
            report_path(&t, &village, Severity::Routine),
            vec![village.clone(), id("350102001")]
        );
        assert_eq!(
            report_path(&t, &village, Severity::III),
            vec![village.clone(), id("350102001"), id("350102"), id("350100")]
        );
    }

    #[test]
    fn partitions_are_scheduled_inside_the_run() {
        let mut rng = StdRng::seed_from_u64(1);
        let kids = vec![NodeId::parse("350102").unwrap()];
        let s = partition_schedule(
            &mut rng,
            &kids,
            Duration::from_secs(20),
            Some(Duration::from_secs(5)),
            Duration::from_secs(3),
        );
        assert_eq!(s.len(), 3);
        assert!(s.iter().all(|(_, start, len)| *start + *len <= Duration::from_secs(20)));
        assert!(partition_schedule(&mut rng, &kids, Duration::from_secs(20), None, Duration::from_secs(3)).is_empty());
    }
}
