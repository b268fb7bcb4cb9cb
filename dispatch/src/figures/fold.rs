//! The fold: a center's store and the period in, its figures out.

use liandong_topology::{NodeId, Topology};

use super::counts::{Breakdown, CenterFigures, Figures};
use super::period::Period;
use crate::store::{Incident, IncidentState, Store, step};
use crate::wire::{Mode, TargetState};

/// Center `me`'s own figures for `period`, from `store` (its store).
pub fn fold(store: &Store, topology: &Topology, me: &NodeId, period: Period) -> CenterFigures {
    let mut out = CenterFigures {
        center: me.clone(),
        period,
        centers: topology.ix(me).map_or(1, |ix| topology.subtree_range(ix).len() as u64),
        actual: Breakdown::default(),
        drill: Breakdown::default(),
        index: 1000,
        alarm: false,
    };
    for incident in store.reported_in(period.start(), period.end()) {
        let Some(child) = child_toward(topology, me, &incident.origin) else {
            continue;
        };
        if topology.is_ancestor(me, &incident.owner) {
            // Carried here for a center below that was down (skip-level
            // failover): its owner counts it, and the subtree adds it up.
            continue;
        }
        let figures = incident_figures(incident, topology, me);
        let breakdown = match incident.mode {
            Mode::Actual => &mut out.actual,
            Mode::Exercise => &mut out.drill,
        };
        add(
            breakdown,
            &figures,
            incident.report.severity,
            incident.report.category,
            child,
        );
    }
    for order in store
        .orders
        .values()
        .filter(|o| o.issuer == *me && period.contains(o.issued))
    {
        let breakdown = match order.mode {
            Mode::Actual => &mut out.actual,
            Mode::Exercise => &mut out.drill,
        };
        let targets = store.targets.get(&order.id);
        let mut whole = Figures {
            orders: 1,
            ..Figures::default()
        };
        for (target, status) in targets.into_iter().flatten() {
            let f = Figures {
                order_targets: 1,
                signed_for_on_time: u64::from(
                    status.state.is_signed_for() && status.overdue != Some(crate::wire::Stage::SignFor),
                ),
                done: u64::from(matches!(status.state, TargetState::Done { .. })),
                ..Figures::default()
            };
            whole.merge(&f);
            if let Some(child) = child_toward(topology, me, target) {
                breakdown.by_child.entry(child).or_default().merge(&f);
            }
        }
        breakdown.all.merge(&whole);
        breakdown
            .by_severity
            .entry(order.order.severity)
            .or_default()
            .merge(&whole);
        // An order is counted once in the child slices above, by target,
        // and whole in `orders` only at the center: its issuing is here.
    }
    let weights = topology.policy().index();
    out.index = super::index::safety_index(&out.actual, &weights, out.centers);
    out.alarm = out.index < weights.alarm_below * 10;
    out
}

/// The figures one incident adds at `me`.
fn incident_figures(i: &Incident, topology: &Topology, me: &NodeId) -> Figures {
    let mut f = Figures {
        received: 1,
        ..Figures::default()
    };
    if i.owner != *me {
        f.passed_up = u64::from(topology.is_ancestor(&i.owner, me));
        return f;
    }
    f.owned = 1;
    let at = |prefix: &str| {
        i.timeline
            .iter()
            .filter(|e| e.node == *me && e.what.starts_with(prefix))
            .map(|e| e.at)
            .min()
    };
    if let Some(accepted) = at(step::ACCEPTED) {
        f.accepted = 1;
        f.accepted_on_time = u64::from(accepted <= i.accept_by);
        f.to_accept.add(accepted.since(i.reported).as_millis() as u64);
    }
    use IncidentState::*;
    f.resolved = u64::from(matches!(i.state, Resolved | Verified | Closed));
    f.verified = u64::from(matches!(i.state, Verified | Closed));
    f.closed = u64::from(i.state == Closed);
    f.cancelled = u64::from(i.state == Cancelled);
    if let Some(closed) = at(step::CLOSED) {
        f.to_close.add(closed.since(i.reported).as_millis() as u64);
    }
    f.supervised = u64::from(i.supervisor.is_some());
    f.escalations = i
        .timeline
        .iter()
        .filter(|e| e.what.starts_with(step::ESCALATED))
        .count() as u64;
    f
}

/// The slice key of `node` seen from `me`: `me` itself, or the child of
/// `me` whose subtree holds `node`; `None` when `node` is not in `me`'s
/// subtree.
fn child_toward(topology: &Topology, me: &NodeId, node: &NodeId) -> Option<NodeId> {
    if node == me {
        return Some(me.clone());
    }
    if !topology.is_ancestor(me, node) {
        return None;
    }
    let mut at = topology.get(node)?;
    loop {
        let parent = topology.parent(&at.id)?;
        if parent.id == *me {
            return Some(at.id.clone());
        }
        at = parent;
    }
}

fn add(
    b: &mut Breakdown,
    f: &Figures,
    severity: liandong_topology::Severity,
    category: crate::wire::Category,
    child: NodeId,
) {
    b.all.merge(f);
    b.by_severity.entry(severity).or_default().merge(f);
    b.by_category.entry(category).or_default().merge(f);
    b.by_child.entry(child).or_default().merge(f);
}
