//! The rooms' invariants (`[rooms]`), judged at the end of the run, after
//! the faults healed and the network settled, from every node's disk and
//! what the engine recorded (`engine::rooms`):
//!
//! - every member node's room log is the home's: the same entries (event,
//!   ask, who, what), numbered 1..=n with no gap and no event or ask
//!   twice. The members are the incident's path from its origin up to the
//!   home, walked here over the topology, and the nodes the home's log
//!   says it invited. A member whose disk a fault wiped and that holds
//!   nothing of the room is excused if the home applied nothing after the
//!   wipe (nothing then told it the room exists); once it holds anything,
//!   it must hold everything; one whose missing tail was lost in flight
//!   with a wiped disk (no later event showed it the gap) is excused too;
//! - every node applied each room's events in order and once, as its core
//!   told them (`Event::RoomChanged`): #1, #2, ... with nothing skipped or
//!   repeated, starting again from #1 only after its disk was wiped;
//! - every ask a leader's node sent is in the home's log once or was
//!   refused (its node told so), never both, but for those a wiped disk
//!   excuses: the asker's or the home's after it was sent, or one that
//!   held the ask or its refusal in flight;
//! - every task's order is settled at the home, its issuer: its target
//!   done or refused, and in a room still open the home's log holds that
//!   final progress; a task is excused when its target's disk was wiped
//!   after it was assigned, or the order or the target's ack was lost in
//!   flight with a wiped disk.
//!
//! A room whose home lost its disk after opening is counted and judged
//! with what is left: the home is the room's one clock, and a wiped home
//! has none (it restarts knowing nothing of the room or its incident, and
//! refuses every later ask). The longest log a member holds stands in for
//! the home's (any node's: an invited one may hold more than the path):
//! every member's must be a prefix of it, numbered without a
//! gap or a duplicate; asks sent after the wipe must be refused, those
//! before may be lost with it; its tasks' orders are judged at their
//! targets (an order the target never recorded died with the home).
//!
//! It never calls the room's own rules (`Room::apply`, `Room::audience`,
//! the core's ordering): it compares logs as data, so a bug in those
//! shows. It reads the engine by shared reference and changes nothing.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Duration;

use liandong_dispatch::{Body, Envelope, EnvelopeId, RoomBody, RoomEntry, RoomLine, RoomState};
use liandong_topology::NodeIx;

use crate::engine::{AskTrack, RoomTrack, Sim};
use crate::report::{self, Invariant, RoomFigures};

type Ix = u32;

pub(super) struct Outcome {
    pub invariants: Vec<Invariant>,
    pub figures: RoomFigures,
}

/// Violations per invariant, in the order they are listed.
#[derive(Default)]
struct Found {
    logs: Vec<String>,
    order: Vec<String>,
    asks: Vec<String>,
    tasks: Vec<String>,
}

pub(super) fn judge(sim: &Sim) -> Outcome {
    let tally = &sim.rooms;
    let mut found = Found::default();
    let mut fig = RoomFigures {
        planned: tally.rooms.len() as u64,
        asks: tally.asks.len() as u64,
        refused_at_node: tally.refused_at_node,
        not_acted: tally.not_acted,
        gaps_asked: tally.gaps_asked,
        ..RoomFigures::default()
    };
    let mut asks_of: HashMap<EnvelopeId, Vec<&AskTrack>> = HashMap::new();
    for a in &tally.asks {
        asks_of.entry(a.room).or_default().push(a);
    }
    for track in &tally.rooms {
        let (Some(id), Some(opened)) = (track.incident, track.opened) else {
            continue;
        };
        fig.opened += 1;
        let asks = asks_of.get(&id).map_or(&[][..], Vec::as_slice);
        Room::new(sim, track, id, opened).judge(asks, &mut found, &mut fig);
    }
    let invariants = vec![
        report::invariant(
            "every room member's log is its home's: same events, in order, no gap, no duplicate",
            found.logs,
        ),
        report::invariant("every node applies each room's events in order, once", found.order),
        report::invariant("every room ask is taken into its log once, or refused", found.asks),
        report::invariant("every room task's order is settled (done or refused)", found.tasks),
    ];
    Outcome {
        invariants,
        figures: fig,
    }
}

/// One room as the oracle sees it.
struct Room<'s, 'a> {
    sim: &'s Sim<'a>,
    track: &'s RoomTrack,
    id: EnvelopeId,
    /// When the home's disk was wiped after the room opened, if it was.
    home_lost: Option<u64>,
}

impl<'s, 'a> Room<'s, 'a> {
    fn new(sim: &'s Sim<'a>, track: &'s RoomTrack, id: EnvelopeId, opened: u64) -> Room<'s, 'a> {
        let home_lost = sim
            .rooms
            .wipes
            .iter()
            .filter(|&&(x, at)| x == track.home && at >= opened)
            .map(|&(_, at)| at)
            .min();
        Room {
            sim,
            track,
            id,
            home_lost,
        }
    }

    fn name(&self, n: Ix) -> String {
        self.sim.node_name(n)
    }

    /// Whether envelope `id` was lost in flight with a wiped disk.
    fn lost(&self, id: EnvelopeId) -> bool {
        self.sim.rooms.in_flight_lost.contains(&id)
    }

    /// The envelopes on `n`'s disk that `f` picks.
    fn envelopes_at(&self, n: Ix, f: impl Fn(&Envelope) -> bool) -> Vec<EnvelopeId> {
        let disk = self.sim.disk(n).0;
        disk.envelopes
            .values()
            .map(|s| &s.envelope)
            .filter(|e| f(e))
            .map(|e| e.id)
            .collect()
    }

    fn wiped_after(&self, n: Ix, t: u64) -> bool {
        self.sim.rooms.wipes.iter().any(|&(x, at)| x == n && at >= t)
    }

    fn log_at(&self, n: Ix) -> Vec<&'s RoomEntry> {
        self.sim.disk(n).0.room_log(self.id).collect()
    }

    fn judge(&self, asks: &[&AskTrack], found: &mut Found, fig: &mut RoomFigures) {
        let (id, home) = (self.id, self.track.home);
        // The log every member must hold: the home's; with the home's disk
        // lost, the longest a member holds (the others must be its prefix).
        let path = path(self.sim, self.track.origin, home);
        let reference = match self.home_lost {
            None => self.log_at(home),
            Some(_) => {
                fig.homes_lost += 1;
                let nodes = 0..self.sim.topo.len() as Ix;
                nodes.map(|n| self.log_at(n)).max_by_key(Vec::len).unwrap_or_default()
            }
        };
        let whose = match self.home_lost {
            None => format!("its home {}", self.name(home)),
            Some(_) => "its longest member log (the home lost its disk)".to_string(),
        };
        if reference.is_empty() && self.home_lost.is_none() {
            found.logs.push(format!("room {id}: {whose} holds no log"));
            return;
        }
        fig.events += reference.len() as u64;
        fig.max_events = fig.max_events.max(reference.len() as u64);
        fig.closed += u64::from(reference.iter().any(|e| matches!(e.line, RoomLine::Closed { .. })));
        if let Some(why) = numbering(&reference) {
            found.logs.push(format!("room {id} at {whose}: {why}"));
        }
        let header = self.sim.disk(home).0.rooms.get(&id);
        if self.home_lost.is_none() && header.map(|r| r.last_seq) != Some(reference.len() as u64) {
            found.logs.push(format!(
                "room {id} at {whose}: the header says #{}, the log holds {}",
                header.map_or(0, |r| r.last_seq),
                reference.len()
            ));
        }
        // When the home applied each event (global ms), by number.
        let home_applied: HashMap<u64, u64> = self
            .sim
            .rooms
            .applied
            .get(&(home, id))
            .into_iter()
            .flatten()
            .filter(|(s, _)| *s > 0)
            .map(|&(s, at)| (s, at))
            .collect();
        let home_last = home_applied.values().copied().max().unwrap_or(0);

        // Members: the path walked over the topology, and the invited.
        let mut members: BTreeSet<Ix> = path.into_iter().collect();
        for e in &reference {
            if let RoomLine::Invited { node } = &e.line
                && let Some(n) = self.sim.topo.ix(node)
            {
                members.insert(n.0);
                fig.invited += 1;
            }
        }
        members.remove(&home);
        for &m in &members {
            fig.members += 1;
            let theirs = self.log_at(m);
            let last_wipe = self
                .sim
                .rooms
                .wipes
                .iter()
                .filter(|(x, _)| *x == m)
                .map(|&(_, at)| at)
                .max();
            let quiet_since = last_wipe.is_some_and(|w| home_last <= w);
            // The first event it lacks was lost in flight with a wiped
            // disk, and nothing after it came to show the gap.
            let tail_lost = theirs.len() < reference.len()
                && reference[theirs.len()..].iter().all(|e| self.lost(e.event))
                && reference[..theirs.len()] == theirs[..];
            let why = match self.home_lost {
                None if (theirs.is_empty() && quiet_since) || tail_lost => {
                    fig.members_excused += 1;
                    continue;
                }
                None => differs(&theirs, &reference),
                // No home to catch up from: a prefix of the longest is all.
                Some(_) => differs(&theirs, &reference[..theirs.len().min(reference.len())]),
            };
            if let Some(why) = why {
                found.logs.push(format!("room {id} at {}: {why}", self.name(m)));
            }
        }

        // Every node's order of application, as its core told it.
        for n in members.iter().copied().chain([home]) {
            if let Some(why) = self.sim.rooms.applied.get(&(n, id)).and_then(|v| out_of_order(v)) {
                found.order.push(format!("room {id} at {}: {why}", self.name(n)));
            }
        }
        self.asks(asks, &reference, found, fig);
        match self.home_lost {
            None => self.tasks(&reference, &home_applied, header.map(|r| r.state), found, fig),
            Some(_) => self.tasks_at_targets(&reference, found, fig),
        }
    }

    /// Asks: taken once, or refused; never both.
    fn asks(&self, asks: &[&AskTrack], log: &[&RoomEntry], found: &mut Found, fig: &mut RoomFigures) {
        let mut taken: HashMap<EnvelopeId, u32> = HashMap::new();
        for e in log {
            if let Some(a) = e.ask {
                *taken.entry(a).or_default() += 1;
            }
        }
        // Refusals the home sent that a wiped disk lost on the way.
        let home = self.track.home;
        let mut refusal_lost: HashSet<EnvelopeId> = HashSet::new();
        for r in self.envelopes_at(home, |e| e.origin == self.sim.topo.node(NodeIx(home)).id) {
            if self.lost(r)
                && let Some(s) = self.sim.disk(home).0.envelopes.get(&r)
                && let Body::Room(RoomBody::Refused { ask, .. }) = &s.envelope.body
            {
                refusal_lost.insert(*ask);
            }
        }
        for a in asks {
            let times = taken.get(&a.ask).copied().unwrap_or(0);
            let refused = self.sim.rooms.refused.contains(&a.ask);
            // A home wiped after the ask forgot taking it (and may refuse
            // a copy) or lost its refusal; the ask itself or its refusal
            // may be lost in flight with a wiped disk, or with the asker's.
            let with_home = self.wiped_after(home, a.at);
            let lost = self.lost(a.ask) || refusal_lost.contains(&a.ask) || self.wiped_after(a.node, a.at);
            match (times, refused) {
                (1, false) => fig.taken += 1,
                (0, true) => fig.refused_by_home += 1,
                (1, true) if with_home => fig.asks_excused += 1,
                (0, false) if with_home || lost => fig.asks_excused += 1,
                _ => found.asks.push(format!(
                    "room {}: {} ask {} by {} at {} taken {times} time(s){}",
                    self.id,
                    a.act,
                    a.ask,
                    self.name(a.node),
                    report::human(Duration::from_millis(a.at)),
                    if refused { " and refused" } else { ", never refused" }
                )),
            }
        }
    }

    /// Tasks of a room whose home lost its disk (and its orders with it):
    /// every order settled at its target, by the target's own record.
    fn tasks_at_targets(&self, log: &[&RoomEntry], found: &mut Found, fig: &mut RoomFigures) {
        for e in log {
            let RoomLine::Tasked { order, target, .. } = &e.line else {
                continue;
            };
            fig.tasks += 1;
            let Some(t) = self.sim.topo.ix(target).map(|t| t.0) else {
                found
                    .tasks
                    .push(format!("room {}: task #{} names {target}, not a node", self.id, e.seq));
                continue;
            };
            let own = self.sim.disk(t).0.targets.get(order).and_then(|ts| ts.get(target));
            match own.map(|s| &s.state) {
                Some(s) if s.is_final() => fig.tasks_settled += 1,
                // The order may have died with the home before it left,
                // or with the target's disk.
                None => fig.tasks_excused += 1,
                _ if self.wiped_after(t, 0) || self.lost(*order) => fig.tasks_excused += 1,
                Some(s) => found.tasks.push(format!(
                    "room {}: task #{} (order {order}) is {} at its target {target} (the home lost its disk)",
                    self.id,
                    e.seq,
                    s.name()
                )),
            }
        }
    }

    /// Tasks: every order settled at the home, its issuer.
    fn tasks(
        &self,
        log: &[&RoomEntry],
        home_applied: &HashMap<u64, u64>,
        state: Option<RoomState>,
        found: &mut Found,
        fig: &mut RoomFigures,
    ) {
        let id = self.id;
        let targets = &self.sim.disk(self.track.home).0.targets;
        for e in log {
            let RoomLine::Tasked { order, target, .. } = &e.line else {
                continue;
            };
            fig.tasks += 1;
            let Some(t) = self.sim.topo.ix(target).map(|t| t.0) else {
                found
                    .tasks
                    .push(format!("room {id}: task #{} names {target}, not a node", e.seq));
                continue;
            };
            let status = targets.get(order).and_then(|ts| ts.get(target)).map(|s| &s.state);
            let settled = status.is_some_and(|s| s.is_final());
            let assigned = home_applied.get(&e.seq).copied().unwrap_or(0);
            // Lost with a wiped disk: the target's, or the order or one of
            // the target's acks in flight.
            let ack_lost = || {
                let acks = self.envelopes_at(t, |x| {
                    x.origin == *target && matches!(&x.body, Body::OrderAck(a) if a.order == *order)
                });
                acks.into_iter().any(|a| self.lost(a))
            };
            if !settled && (self.wiped_after(t, assigned) || self.lost(*order) || ack_lost()) {
                fig.tasks_excused += 1;
                continue;
            }
            if !settled {
                found.tasks.push(format!(
                    "room {id}: task #{} (order {order}) to {target} is {} at the home",
                    e.seq,
                    status.map_or("unknown", |s| s.name())
                ));
                continue;
            }
            fig.tasks_settled += 1;
            let logged = log.iter().any(
                |x| matches!(&x.line, RoomLine::TaskProgress { task, state, .. } if *task == e.seq && state.is_final()),
            );
            if state == Some(RoomState::Open) && !logged {
                found.tasks.push(format!(
                    "room {id}: task #{} is settled at the home, but its open room's log never says so",
                    e.seq
                ));
            }
        }
    }
}

/// The incident's path from `origin` up to `home` (the whole chain if the
/// home is not above it), walked over the tree.
fn path(sim: &Sim, origin: Ix, home: Ix) -> Vec<Ix> {
    let mut v = vec![origin];
    let mut x = origin;
    while x != home {
        match sim.topo.parent_ix(NodeIx(x)) {
            Some(p) => {
                x = p.0;
                v.push(x);
            }
            None => break,
        }
    }
    v
}

/// Why a home's log is not numbered 1..=n with each event and ask once.
fn numbering(log: &[&RoomEntry]) -> Option<String> {
    let mut events = HashSet::new();
    let mut asks = HashSet::new();
    for (k, e) in log.iter().enumerate() {
        if e.seq != k as u64 + 1 {
            return Some(format!("entry {} is numbered #{}", k + 1, e.seq));
        }
        if !events.insert(e.event) {
            return Some(format!("event {} is in it twice (again at #{})", e.event, e.seq));
        }
        if let Some(a) = e.ask
            && !asks.insert(a)
        {
            return Some(format!("ask {a} is in it twice (again at #{})", e.seq));
        }
    }
    None
}

/// How a member's log differs from the home's, if it does.
fn differs(theirs: &[&RoomEntry], home: &[&RoomEntry]) -> Option<String> {
    for (k, (a, b)) in theirs.iter().zip(home).enumerate() {
        if a != b {
            return Some(format!(
                "entry {} is #{} {} (event {}), the home's is #{} {} (event {})",
                k + 1,
                a.seq,
                a.line.name(),
                a.event,
                b.seq,
                b.line.name(),
                b.event
            ));
        }
    }
    match theirs.len().cmp(&home.len()) {
        std::cmp::Ordering::Equal => None,
        std::cmp::Ordering::Less => Some(format!("holds {} of the home's {} events", theirs.len(), home.len())),
        std::cmp::Ordering::Greater => Some(format!("holds {} events, the home {}", theirs.len(), home.len())),
    }
}

/// The first event a node applied out of turn, if any: after #k comes
/// #k+1; after a wiped disk (`0`), #1 again.
fn out_of_order(applied: &[(u64, u64)]) -> Option<String> {
    let mut next = 1;
    for &(seq, at) in applied {
        if seq == 0 {
            next = 1;
            continue;
        }
        if seq != next {
            return Some(format!(
                "applied #{seq} at {} when #{next} was next",
                report::human(Duration::from_millis(at))
            ));
        }
        next = seq + 1;
    }
    None
}
