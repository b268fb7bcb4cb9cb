//! The oracle: the judgments at the end of a run, apart from the engine
//! that ran it. The engine (event heap, network, disks, faults, load) only
//! records: every report and order it filed and when each arrived
//! (`ReportTrack`, `OrderTrack`), the fault windows, the duplicates the
//! applications saw, and each node's disk. The oracle reads those records
//! and says which invariants held, with the tallies they rest on:
//!
//! - no report lost: every report at its policy owner, every order at
//!   every target, unless a fault lost the disk that held it;
//! - no duplicate delivered to an application;
//! - no acked copy lost: an outbox entry acked by a peer means the
//!   envelope is on that peer's disk;
//! - optionally, every report at its owner within `reach_owner_within` of
//!   the last heal before it arrived;
//! - where the scenario publishes federation documents, every node up at
//!   the end runs the newest version the root took, on that version's
//!   topology (a node whose disk a fault wiped is excused: it restarted on
//!   the scenario's topology with nothing to say it ever took a version);
//! - where the scenario names a period (`rollup_matches`), the root's
//!   report of its figures against a count of its own over every node's
//!   records, and the summaries' climb (`rollup`);
//! - where the scenario drives coordination rooms (`[rooms]`), every
//!   member's log is its home's, every node applied each room's events in
//!   order and once, every ask taken once or refused, every task's order
//!   settled (`rooms`).
//!
//! It never changes the run: it takes the engine by shared reference.

mod rollup;
mod rooms;

use std::time::Duration;

use crate::PlantedBug;
use crate::engine::Sim;
use crate::report::{self, Delivery, Invariant, Rollup, RoomFigures};
use crate::scenario::{PeriodSpec, Scenario};

/// What the oracle found: the delivery tallies and every invariant, in
/// the order the report lists them.
pub(crate) struct Verdict {
    pub reports: Delivery,
    pub order_targets: Delivery,
    pub invariants: Vec<Invariant>,
    pub rollup: Option<Rollup>,
    pub rooms: Option<RoomFigures>,
}

/// Judges a finished run from what the engine recorded.
pub(crate) fn judge(sim: &Sim, scenario: &Scenario, planted: Option<PlantedBug>) -> Verdict {
    let mut lost_reports = Vec::new();
    let mut reports = Delivery {
        sent: sim.out.reports_sent,
        ..Delivery::default()
    };
    let within = scenario.invariants.reach_owner_within.map(|s| s.0.as_millis() as u64);
    // Heal times: a report's clock for `reach_owner_within` restarts at the
    // last heal before it arrived.
    let mut heals: Vec<u64> = sim.out.faults.iter().map(|w| w.end.as_millis() as u64).collect();
    heals.push(sim.end_load);
    heals.sort_unstable();
    let mut late = Vec::new();
    for r in &sim.reports {
        match r.delivered {
            Some(at) => {
                reports.delivered += 1;
                if let Some(x) = within {
                    let heal = heals.iter().rev().find(|&&h| h <= at).copied().unwrap_or(0);
                    let from = r.sent.max(heal);
                    if at - from > x {
                        late.push(format!(
                            "report from {} ({}) sent at {} reached {} at {}: {} after the path was there",
                            sim.node_name(r.origin),
                            r.severity,
                            report::human(Duration::from_millis(r.sent)),
                            sim.node_name(r.owner),
                            report::human(Duration::from_millis(at)),
                            report::human(Duration::from_millis(at - from)),
                        ));
                    }
                }
            }
            None if r.excused => reports.lost_with_disk += 1,
            None => {
                reports.lost += 1;
                lost_reports.push(format!(
                    "report from {} ({}) sent at {} never reached its owner {}",
                    sim.node_name(r.origin),
                    r.severity,
                    report::human(Duration::from_millis(r.sent)),
                    sim.node_name(r.owner),
                ));
            }
        }
    }
    let mut order_targets = Delivery {
        sent: sim.out.order_targets,
        ..Delivery::default()
    };
    let mut lost_orders = Vec::new();
    for o in &sim.orders {
        order_targets.delivered += u64::from(o.reached);
        let missing = u64::from(o.targets.saturating_sub(o.reached));
        if missing == 0 {
            continue;
        }
        if o.excused {
            order_targets.lost_with_disk += missing;
        } else {
            order_targets.lost += missing;
            lost_orders.push(format!(
                "order from {} sent at {} reached {} of {} targets",
                sim.node_name(o.issuer),
                report::human(Duration::from_millis(o.sent)),
                o.reached,
                o.targets
            ));
        }
    }
    let mut invariants = vec![
        report::invariant("every report reaches its owner (lost = 0)", lost_reports),
        report::invariant("every order reaches every target (lost = 0)", lost_orders),
        Invariant {
            name: "nothing delivered to an application twice (duplicates = 0)".into(),
            passed: sim.out.duplicates == 0,
            violations: sim.out.duplicate_examples.clone(),
            count: sim.out.duplicates,
        },
        report::invariant("no acked copy missing from the peer's disk", acked_copies_missing(sim)),
    ];
    if let Some(x) = within {
        invariants.push(report::invariant(
            &format!(
                "every report reaches its owner within {} of the path healing",
                report::human(Duration::from_millis(x))
            ),
            late,
        ));
    }
    if !scenario.publishes.is_empty() {
        invariants.push(report::invariant(
            "every live node ends on the newest version published",
            behind_newest(sim),
        ));
    }
    let mut rollup = None;
    if let Some(PeriodSpec(period)) = scenario.invariants.rollup_matches {
        let plain_merge = planted == Some(PlantedBug::RollupPlainMerge);
        let outcome = rollup::judge(sim, period, plain_merge);
        invariants.extend(outcome.invariants);
        rollup = Some(outcome.figures);
    }
    let mut rooms = None;
    if scenario.rooms.is_some() {
        let outcome = rooms::judge(sim);
        invariants.extend(outcome.invariants);
        rooms = Some(outcome.figures);
    }
    Verdict {
        reports,
        order_targets,
        invariants,
        rollup,
        rooms,
    }
}

/// Live nodes not on the newest version the root published (by its core's
/// word and by the topology it runs on), but for those whose disk a fault
/// wiped.
fn behind_newest(sim: &Sim) -> Vec<String> {
    let newest = sim.newest_published();
    let name = |v: Option<u64>| v.map_or("no version".to_string(), |v| format!("version {v}"));
    let mut out = Vec::new();
    for i in 0..sim.topo.len() as u32 {
        let Some((runs, topology)) = sim.running_version(i) else {
            continue;
        };
        if (runs == newest && topology == newest) || sim.disk(i).1 {
            continue;
        }
        out.push(format!(
            "{} runs {} on the topology of {}, not {}",
            sim.node_name(i),
            name(runs),
            name(topology),
            name(newest)
        ));
    }
    out
}

/// Safety: an outbox entry a node persisted as acked by `peer` means
/// `peer` has the envelope on its disk (peers whose disk was wiped
/// by a fault are exempt: that loss is the fault's).
fn acked_copies_missing(sim: &Sim) -> Vec<String> {
    let mut out = Vec::new();
    for i in 0..sim.topo.len() as u32 {
        let (disk, _) = sim.disk(i);
        for ((peer, id), entry) in &disk.outbox {
            if !entry.acked || entry.gave_up {
                continue;
            }
            let Some(p) = sim.topo.ix(peer) else { continue };
            let (peer_disk, ever_wiped) = sim.disk(p.0);
            if ever_wiped {
                continue;
            }
            if !peer_disk.envelopes.contains_key(id) {
                out.push(format!(
                    "{} holds envelope {id} as acked by {peer}, which does not have it on disk",
                    sim.node_name(i)
                ));
            }
        }
    }
    out
}
