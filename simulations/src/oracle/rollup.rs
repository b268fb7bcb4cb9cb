//! The roll-up invariant (`[invariants] rollup_matches = "2027-01"`): at
//! the end of the run, the root's subtree report for the period
//! (`Core::report`: its own figures plus its children's summaries, which
//! hold theirs) equals a count made here over every node's records.
//!
//! The count never calls the figures' fold or roll-up (`figures::fold`,
//! `figures::report`, `Figures::merge*`), so a bug in either shows:
//! - an incident is one id, wherever it is recorded, counted if it was
//!   reported in the period, with the mode, severity and category of its
//!   report;
//! - it counts at its owner: the one node whose own record names itself
//!   the owner. Accepted: that store holds the owner's own Accept update
//!   for it (its time is the update's), on time by the owner's record's
//!   deadline; resolved, verified, closed, cancelled: the owner's record's
//!   state; supervised: the record names a supervisor; escalations: the
//!   distinct Escalate updates for it in any store;
//! - for a child's subtree: the incidents reported from it, owned in it or
//!   passed up out of it;
//! - orders at their issuer, if issued in the period: their targets as the
//!   issuer recorded them; signed for on time: the target's own ack of
//!   signing for (or more) made by the deadline; done: its Done ack.
//!
//! Summaries are snapshots, taken when they are sent, while the count is
//! over the stores at the end. The two agree only if nothing below the
//! root changes the period's figures after its end, so the scenario must
//! settle its period first (its load stops early enough for every report
//! to be accepted and every order signed for before the end), and a third
//! check says whether it did: an acceptance, escalation, resolution, ack
//! or supervision of the period's items made after its end, but at the
//! root (whose figures are read live), is named. Alongside, every center's
//! newest summary must be at its parent, and a center down at the
//! period's end must have sent a late one that its parent stored after
//! the center returned.
//!
//! It reads the engine by shared reference and changes nothing.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Duration;

use liandong_dispatch::figures::{self, BOUNDS_S, Breakdown, Durations, Figures, Period};
use liandong_dispatch::{
    Action, Body, Envelope, EnvelopeId, Incident, IncidentState, Item, Mode, OrderRecord, TargetState,
};
use liandong_topology::{NodeIx, Severity};

use crate::engine::Sim;
use crate::report::{self, Invariant, Rollup, RootFigures};

type Ix = u32;

/// The invariants and the figures for the report.
pub(super) struct Outcome {
    pub invariants: Vec<Invariant>,
    pub figures: Rollup,
}

/// One incident reported in the period, as the records show it.
struct Seen<'a> {
    /// Any node's record of it (for its report, mode and origin).
    any: &'a Incident,
    origin: Ix,
    /// Nodes whose own record names themselves its owner.
    owners: Vec<(Ix, &'a Incident)>,
}

impl Seen<'_> {
    fn owner(&self) -> Option<(Ix, &Incident)> {
        self.owners.first().copied()
    }
}

/// Everything the count reads, gathered once from every node's disk.
struct Records<'a> {
    incidents: BTreeMap<EnvelopeId, Seen<'a>>,
    /// Orders issued in the period: the issuer and its record.
    orders: BTreeMap<EnvelopeId, (Ix, &'a OrderRecord)>,
    /// Every distinct envelope on any disk.
    envelopes: Vec<&'a Envelope>,
    /// Updates per incident, acks per order (indexes into `envelopes`).
    updates: HashMap<EnvelopeId, Vec<usize>>,
    acks: HashMap<EnvelopeId, Vec<usize>>,
}

impl<'a> Records<'a> {
    fn gather(sim: &'a Sim, period: Period) -> Records<'a> {
        let mut incidents: BTreeMap<EnvelopeId, Seen<'a>> = BTreeMap::new();
        let mut orders = BTreeMap::new();
        let mut envelopes = Vec::new();
        let mut known = HashSet::new();
        for i in 0..sim.topo.len() as u32 {
            let (disk, _) = sim.disk(i);
            let me = &sim.topo.node(NodeIx(i)).id;
            for incident in disk.incidents.values().filter(|x| period.contains(x.reported)) {
                let origin = sim.topo.ix(&incident.origin).map_or(u32::MAX, |o| o.0);
                let seen = incidents.entry(incident.id).or_insert(Seen {
                    any: incident,
                    origin,
                    owners: Vec::new(),
                });
                if incident.owner == *me {
                    seen.owners.push((i, incident));
                }
            }
            for order in disk.orders.values().filter(|o| period.contains(o.issued)) {
                if order.issuer == *me || !orders.contains_key(&order.id) {
                    orders.insert(order.id, (i, order));
                }
            }
            // Stores are hash maps: visit their envelopes in id order.
            let mut ids: Vec<&EnvelopeId> = disk.envelopes.keys().collect();
            ids.sort_unstable();
            for id in ids {
                if known.insert(*id) {
                    envelopes.push(&disk.envelopes[id].envelope);
                }
            }
        }
        // The issuer's own record, where an order's targets are kept.
        for (issuer, order) in orders.values_mut() {
            if let Some(ix) = sim.topo.ix(&order.issuer) {
                *issuer = ix.0;
            }
        }
        let (mut updates, mut acks) = (HashMap::new(), HashMap::new());
        for (k, e) in envelopes.iter().enumerate() {
            match &e.body {
                Body::Update(u) => updates.entry(u.incident).or_insert_with(Vec::new).push(k),
                Body::OrderAck(a) => acks.entry(a.order).or_insert_with(Vec::new).push(k),
                _ => {}
            }
        }
        Records {
            incidents,
            orders,
            envelopes,
            updates,
            acks,
        }
    }

    fn updates_of(&self, incident: EnvelopeId) -> impl Iterator<Item = &Envelope> {
        self.updates
            .get(&incident)
            .into_iter()
            .flatten()
            .map(|&k| self.envelopes[k])
    }

    fn acks_of(&self, order: EnvelopeId) -> impl Iterator<Item = &Envelope> {
        self.acks.get(&order).into_iter().flatten().map(|&k| self.envelopes[k])
    }
}

/// Judges the roll-up of `period` at the end of a run.
pub(super) fn judge(sim: &Sim, period: Period, plain_merge: bool) -> Outcome {
    let records = Records::gather(sim, period);
    let topo = &sim.topo;
    let root = topo.ix(&topo.root().id).map_or(0, |r| r.0);
    let children: Vec<Ix> = topo.children_ix(NodeIx(root)).iter().map(|c| c.0).collect();
    let end = period.end();
    let end_sim = Duration::from_millis(end.0.saturating_sub(sim.epoch));

    let mut unowned = Vec::new();
    for (id, seen) in &records.incidents {
        match seen.owners.as_slice() {
            [] => unowned.push(format!(
                "incident {id} from {} ({}): no node owns it",
                seen.any.origin, seen.any.report.severity
            )),
            [_] => {}
            [(a, _), (b, _), ..] => unowned.push(format!(
                "incident {id}: owned by both {} and {}",
                sim.node_name(*a),
                sim.node_name(*b)
            )),
        }
    }

    let mut mismatches = unowned;
    let mut figures = Rollup {
        period: period.to_string(),
        period_end: end_sim,
        children: children.len() as u64,
        ..Rollup::default()
    };
    match sim.core(root) {
        None => mismatches.push(format!("the root {} is down at the end", sim.node_name(root))),
        Some(core) => {
            let mut report = core.report(period);
            if plain_merge {
                plant_plain_merge(&mut report, core, &children, sim, period);
            }
            let whole = count(&records, sim, root, root);
            for (mode, got, want) in [
                ("actual", &report.actual, &whole.actual),
                ("drill", &report.drill, &whole.drill),
            ] {
                compare(&mut mismatches, mode, got, want);
                for &c in &children {
                    let below = count(&records, sim, c, root);
                    let want = if mode == "actual" { &below.actual } else { &below.drill };
                    let got = got.by_child.get(&topo.node(NodeIx(c)).id).cloned().unwrap_or_default();
                    diff(
                        &mut mismatches,
                        &format!("{mode}, {}'s subtree", sim.node_name(c)),
                        &got,
                        &want.all,
                    );
                }
            }
            let a = &report.actual.all;
            figures.root = RootFigures {
                received: a.received,
                accepted: a.accepted,
                accepted_on_time: a.accepted_on_time,
                supervised: a.supervised,
                escalations: a.escalations,
                order_targets: a.order_targets,
                signed_for_on_time: a.signed_for_on_time,
                index: report.index,
            };
        }
    }
    figures.incidents_actual = records
        .incidents
        .values()
        .filter(|s| s.any.mode == Mode::Actual)
        .count() as u64;
    figures.incidents_drill = records.incidents.len() as u64 - figures.incidents_actual;
    figures.orders = records.orders.len() as u64;
    figures.order_targets = (records.orders.iter())
        .map(|(id, (issuer, _))| sim.disk(*issuer).0.targets.get(id).map_or(0, |t| t.len() as u64))
        .sum();

    let climbed = summaries(sim, period, root, &children, &mut figures);
    let after = changed_after_end(sim, &records, period, root);
    let name = |what: &str| format!("{what} ({period})");
    Outcome {
        invariants: vec![
            report::invariant(
                &name("the root's report equals the count over every node's records, actual and drills apart"),
                mismatches,
            ),
            report::invariant(
                &name(
                    "every center's newest summary is at its parent; one down at the period's end sent it late, after it returned",
                ),
                climbed,
            ),
            report::invariant(
                &name("nothing below the root changed the period's figures after its end (summaries are snapshots)"),
                after,
            ),
        ],
        figures,
    }
}

/// The planted bug `rollup-plain-merge`: the root's report as if it had
/// added its children's summaries with a plain sum, what they passed up
/// (already in the root's own figures) counted again.
fn plant_plain_merge(
    report: &mut figures::Report,
    core: &liandong_dispatch::Core,
    children: &[Ix],
    sim: &Sim,
    period: Period,
) {
    for &c in children {
        let id = sim.topo.node(NodeIx(c)).id.clone();
        let Some(held) = core.store().summaries.get(&(id, period)) else {
            continue;
        };
        for (to, from) in [
            (&mut report.actual, &held.summary.actual),
            (&mut report.drill, &held.summary.drill),
        ] {
            to.all.received += from.all.passed_up;
            for (s, f) in &from.by_severity {
                to.by_severity.entry(*s).or_default().received += f.passed_up;
            }
            for (k, f) in &from.by_category {
                to.by_category.entry(*k).or_default().received += f.passed_up;
            }
        }
    }
}

/// Actual cases and drills, each broken down.
#[derive(Default)]
struct Count {
    actual: Breakdown,
    drill: Breakdown,
}

/// The figures of `top`'s subtree, counted from the records: every
/// incident reported from it, once, at its owner; every order issued in
/// it, at its issuer.
fn count(records: &Records, sim: &Sim, top: Ix, root: Ix) -> Count {
    let topo = &sim.topo;
    let inside = topo.subtree_range(NodeIx(top));
    let mut out = Count::default();
    for (id, seen) in &records.incidents {
        if !inside.contains(&seen.origin) {
            continue;
        }
        let mut f = Figures {
            received: 1,
            ..Figures::default()
        };
        match seen.owner() {
            Some((owner, record)) if inside.contains(&owner) => owned(&mut f, records, *id, owner, record, sim),
            Some(_) if top != root => f.passed_up = 1,
            _ => {}
        }
        let slices = if seen.any.mode == Mode::Actual {
            &mut out.actual
        } else {
            &mut out.drill
        };
        let report = &seen.any.report;
        add(&mut slices.all, &f);
        add(slices.by_severity.entry(report.severity).or_default(), &f);
        add(slices.by_category.entry(report.category).or_default(), &f);
    }
    for (id, (issuer, order)) in &records.orders {
        if !inside.contains(issuer) {
            continue;
        }
        let f = order_figures(records, sim, *id, *issuer, order);
        let slices = if order.mode == Mode::Actual {
            &mut out.actual
        } else {
            &mut out.drill
        };
        add(&mut slices.all, &f);
        add(slices.by_severity.entry(order.order.severity).or_default(), &f);
    }
    out
}

/// What an incident adds where it is owned: the owner's record and the
/// updates about it.
fn owned(f: &mut Figures, records: &Records, id: EnvelopeId, owner: Ix, record: &Incident, sim: &Sim) {
    let owner_id = &sim.topo.node(NodeIx(owner)).id;
    f.owned = 1;
    let by_owner = |e: &&Envelope| e.origin == *owner_id;
    let first = |pick: fn(&Action) -> bool| {
        (records.updates_of(id))
            .filter(by_owner)
            .filter(|e| matches!(&e.body, Body::Update(u) if pick(&u.action)))
            .map(|e| e.created)
            .min()
    };
    if let Some(at) = first(|a| matches!(a, Action::Accept)) {
        f.accepted = 1;
        f.accepted_on_time = u64::from(at <= record.accept_by);
        bucket(&mut f.to_accept, at.since(record.reported).as_millis() as u64);
    }
    use IncidentState::*;
    f.resolved = u64::from(matches!(record.state, Resolved | Verified | Closed));
    f.verified = u64::from(matches!(record.state, Verified | Closed));
    f.closed = u64::from(record.state == Closed);
    f.cancelled = u64::from(record.state == Cancelled);
    if let Some(at) = first(|a| matches!(a, Action::Close)) {
        bucket(&mut f.to_close, at.since(record.reported).as_millis() as u64);
    }
    f.supervised = u64::from(record.supervisor.is_some());
    f.escalations = (records.updates_of(id))
        .filter(|e| matches!(&e.body, Body::Update(u) if matches!(u.action, Action::Escalate { .. })))
        .count() as u64;
}

/// What an order adds at its issuer.
fn order_figures(records: &Records, sim: &Sim, id: EnvelopeId, issuer: Ix, order: &OrderRecord) -> Figures {
    let targets: Vec<&liandong_topology::NodeId> = (sim.disk(issuer).0.targets.get(&id))
        .into_iter()
        .flat_map(|t| t.keys())
        .collect();
    let acked = |target: &liandong_topology::NodeId, ok: &dyn Fn(&TargetState) -> bool, by: Option<_>| {
        records.acks_of(id).any(|e| {
            e.origin == *target
                && by.is_none_or(|by| e.created <= by)
                && matches!(&e.body, Body::OrderAck(a) if ok(&a.state))
        })
    };
    let signed = |s: &TargetState| {
        matches!(
            s,
            TargetState::SignedFor { .. } | TargetState::InProgress { .. } | TargetState::Done { .. }
        )
    };
    let done = |s: &TargetState| matches!(s, TargetState::Done { .. });
    Figures {
        orders: 1,
        order_targets: targets.len() as u64,
        signed_for_on_time: targets
            .iter()
            .filter(|t| acked(t, &signed, Some(order.sign_for_by)))
            .count() as u64,
        done: targets.iter().filter(|t| acked(t, &done, None)).count() as u64,
        ..Figures::default()
    }
}

/// A duration into its bucket: within the first bound it does not
/// exceed, in whole seconds rounded up; over the last, the last bucket.
fn bucket(d: &mut Durations, ms: u64) {
    let seconds = ms.div_ceil(1000);
    let i = BOUNDS_S.iter().take_while(|&&b| seconds > b).count();
    d.counts[i] += 1;
    d.sum_ms += ms;
}

/// `f` added to `to`, figure by figure.
fn add(to: &mut Figures, f: &Figures) {
    to.received += f.received;
    to.owned += f.owned;
    to.passed_up += f.passed_up;
    to.accepted += f.accepted;
    to.accepted_on_time += f.accepted_on_time;
    to.resolved += f.resolved;
    to.verified += f.verified;
    to.closed += f.closed;
    to.cancelled += f.cancelled;
    for (d, s) in [(&mut to.to_accept, &f.to_accept), (&mut to.to_close, &f.to_close)] {
        for (a, b) in d.counts.iter_mut().zip(s.counts) {
            *a += b;
        }
        d.sum_ms += s.sum_ms;
    }
    to.supervised += f.supervised;
    to.escalations += f.escalations;
    to.orders += f.orders;
    to.order_targets += f.order_targets;
    to.signed_for_on_time += f.signed_for_on_time;
    to.done += f.done;
}

/// The report's breakdown against the count's: the whole, by severity,
/// by category.
fn compare(out: &mut Vec<String>, mode: &str, got: &Breakdown, want: &Breakdown) {
    diff(out, mode, &got.all, &want.all);
    let severities: BTreeSet<Severity> = got.by_severity.keys().chain(want.by_severity.keys()).copied().collect();
    for s in severities {
        let (a, b) = (got.by_severity.get(&s), want.by_severity.get(&s));
        diff(
            out,
            &format!("{mode}, {s}"),
            &a.cloned().unwrap_or_default(),
            &b.cloned().unwrap_or_default(),
        );
    }
    let categories: BTreeSet<_> = got.by_category.keys().chain(want.by_category.keys()).copied().collect();
    for c in categories {
        let (a, b) = (got.by_category.get(&c), want.by_category.get(&c));
        diff(
            out,
            &format!("{mode}, {c:?}"),
            &a.cloned().unwrap_or_default(),
            &b.cloned().unwrap_or_default(),
        );
    }
}

/// One line per figure that differs, named as `Figures` names it.
fn diff(out: &mut Vec<String>, what: &str, got: &Figures, want: &Figures) {
    let (Ok(serde_json::Value::Object(a)), Ok(serde_json::Value::Object(b))) =
        (serde_json::to_value(got), serde_json::to_value(want))
    else {
        out.push(format!("{what}: the figures do not serialize"));
        return;
    };
    for (key, x) in &a {
        let y = b.get(key).unwrap_or(&serde_json::Value::Null);
        if x != y {
            out.push(format!("{what}: {key}: the root's report {x}, the records {y}"));
        }
    }
}

/// Whether each center's newest summary for the period is at its parent,
/// and a center down at the period's end sent a late one after it came
/// back; fills in the summary figures.
fn summaries(sim: &Sim, period: Period, root: Ix, children: &[Ix], figures: &mut Rollup) -> Vec<String> {
    let topo = &sim.topo;
    let end_sim = period.end().0.saturating_sub(sim.epoch);
    let at_sim = |at: liandong_dispatch::Timestamp| Duration::from_millis(at.0.saturating_sub(sim.epoch));
    let mut out = Vec::new();
    for i in 0..topo.len() as u32 {
        let Some(parent) = topo.parent_ix(NodeIx(i)).map(|p| p.0) else {
            continue;
        };
        let (disk, wiped) = sim.disk(i);
        let id = topo.node(NodeIx(i)).id.clone();
        let key = (id.clone(), period);
        let sent = disk.summaries.get(&key);
        let held = sim.disk(parent).0.summaries.get(&key);
        if let Some(s) = sent {
            figures.senders += 1;
            figures.versions += u64::from(s.summary.version);
            if s.summary.late {
                figures.late.push(id.to_string());
            }
        }
        if parent == root
            && let Some(h) = held
        {
            figures.at_root += 1;
            let at = at_sim(h.at);
            figures.complete_at = Some(figures.complete_at.map_or(at, |c| c.max(at)));
            if h.summary.version > 1 || h.summary.late {
                figures.revised.push(format!(
                    "{id} v{}{}, stored at {}",
                    h.summary.version,
                    if h.summary.late { " late" } else { "" },
                    report::human(at)
                ));
            }
        }
        if wiped {
            continue;
        }
        let pname = sim.node_name(parent);
        match (sent, held) {
            (None, _) => out.push(format!("{id} sent no summary for {period}")),
            (Some(s), None) => out.push(format!(
                "{pname} holds no summary of {id} for {period} ({id} sent v{})",
                s.summary.version
            )),
            (Some(s), Some(h)) if h.summary.version != s.summary.version => out.push(format!(
                "{pname} holds v{} of {id}'s summary for {period}; {id} sent v{}",
                h.summary.version, s.summary.version
            )),
            _ => {}
        }
        let down = sim
            .downs
            .iter()
            .find(|d| d.node == i && d.from < end_sim && d.until.is_none_or(|u| u > end_sim));
        let Some(down) = down else { continue };
        match (down.until, held) {
            (None, _) => out.push(format!("{id} was down at {period}'s end and never came back")),
            (Some(_), None) => {}
            (Some(back), Some(h)) => {
                if !h.summary.late {
                    out.push(format!(
                        "{id} was down at {period}'s end; its summary at {pname} (v{}) is not marked late",
                        h.summary.version
                    ));
                }
                if at_sim(h.at) < Duration::from_millis(back) {
                    out.push(format!(
                        "{id} came back at {}; its summary was stored at {pname} at {}, before",
                        report::human(Duration::from_millis(back)),
                        report::human(at_sim(h.at))
                    ));
                }
            }
        }
    }
    if figures.at_root < children.len() as u64 && out.is_empty() {
        out.push(format!(
            "the root holds {} of its {} children's summaries",
            figures.at_root,
            children.len()
        ));
    }
    out
}

/// What was said about the period's items after its end that a summary
/// below the root had already counted: acceptances, resolutions and the
/// like of incidents owned below the root, any escalation, acks and
/// supervision of orders issued below it.
fn changed_after_end(sim: &Sim, records: &Records, period: Period, root: Ix) -> Vec<String> {
    let end = period.end();
    let at = |e: &Envelope| report::human(Duration::from_millis(e.created.0.saturating_sub(sim.epoch)));
    let owner_of = |id: &EnvelopeId| records.incidents.get(id).and_then(|s| s.owner()).map(|(o, _)| o);
    let issuer_of = |id: &EnvelopeId| records.orders.get(id).map(|(i, _)| *i);
    let mut out = Vec::new();
    for e in records.envelopes.iter().filter(|e| e.created >= end) {
        let said = match &e.body {
            Body::Update(u) if records.incidents.contains_key(&u.incident) => {
                let counted = match &u.action {
                    Action::Escalate { .. } => true,
                    Action::Accept
                    | Action::Resolve { .. }
                    | Action::Verify { .. }
                    | Action::Close
                    | Action::Cancel { .. } => owner_of(&u.incident) != Some(root),
                    _ => false,
                };
                counted.then(|| format!("incident {}: {}", u.incident, u.action.name()))
            }
            Body::Supervise(s) => match &s.item {
                Item::Incident(id) if records.incidents.contains_key(id) && owner_of(id) != Some(root) => {
                    Some(format!("incident {id}: supervised"))
                }
                Item::OrderTarget { order, target } if issuer_of(order).is_some_and(|i| i != root) => {
                    Some(format!("order {order}: {target} supervised"))
                }
                _ => None,
            },
            Body::OrderAck(a) if issuer_of(&a.order).is_some_and(|i| i != root) => {
                Some(format!("order {}: {}", a.order, a.state.name()))
            }
            _ => None,
        };
        if let Some(said) = said {
            out.push(format!("{said} by {} at {}, after {period}'s end", e.origin, at(e)));
        }
    }
    out
}
