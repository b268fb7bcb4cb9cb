//! The discrete-event engine: real [`Core`]s on a simulated network, disk
//! and clock.
//!
//! One radix heap holds every future event keyed by (time, sequence), so
//! ties break in the order events were scheduled and a run replays exactly
//! from its seed. The clock jumps to the next event. Events are frame
//! deliveries (on lane-modelled links also packet arrivals,
//! retransmissions and a direction's turns to send), core wake-ups (one
//! live entry per node: a node's queued wake is remembered and stale heap
//! entries are skipped), fault starts and ends, load, and operator
//! follow-ups (accept, sign for).
//!
//! Per-event work is small: nodes are addressed by their topology index,
//! tree links live in a vector indexed by the child (failover links in a
//! hash map keyed by the index pair), frames name their sender's index so
//! replies skip the id lookup, and nothing
//! scans all nodes while the run is going (only at fault boundaries, over
//! the affected subtree, and once at the end for the checks).
//!
//! Each node's disk is a [`Store`] folded from its Persist effects, applied
//! before any later effect of the same input runs (the durability rule). A
//! crash drops the core; the restart restores from the disk, on the newest
//! federation document stored there (as `liandong_dispatch::testing::Net`
//! restarts a node), or from an empty store on the scenario's topology when
//! the fault loses the disk. Every core checks documents with one shared
//! [`TestDocuments`], so a province's nodes parse a version once.
//!
//! One `Sim`, its methods in one file per job: this file the state, the
//! event heap and setup; `network` nodes and connections; `lanes` a
//! link's lanes (packets at the link's bandwidth in lane priority, paced
//! and compressed on declared links, QUIC-like retransmission, urgent
//! copies) and `pieces` the packets a lane's frames become; `keys` the
//! live-sized test signatures; `effects` what a core's effects do to the
//! network, disk and tallies; `load` reports and orders; `faults` the
//! timeline's faults; `documents` the versions the root publishes and who
//! applied them when; `rooms` the people of coordination rooms and what
//! their cores applied; `run` the loop and the end-of-run queries.

mod documents;
mod effects;
mod faults;
mod keys;
mod lanes;
#[cfg(test)]
mod lanes_tests;
mod load;
mod network;
mod pieces;
mod rooms;
mod run;

pub(crate) use rooms::{AskTrack, RoomTally, RoomTrack};

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use liandong_dispatch::{
    Category, Command, CommandError, Core, CoreConfig, DocumentCheck, Effect, EnvelopeId, Event, Item, Mode, Order,
    Record, Report, Stage, Store, TargetState, Targets, TestDocuments, TestKeys, Timestamp,
};
use liandong_topology::{Level, NodeIx, Severity, Topology};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::report::{self, Collected, FaultWindow};
use crate::scenario::{FaultKind, LinkModel, Scenario};
use crate::{PlantedBug, Progress, RunOptions, SimError};

/// How often returning nodes are checked for having caught up.
const SAMPLE_EVERY: u64 = 1_000;
/// Follow-ups to a node that is down are retried this often, this many times.
const FOLLOW_UP_RETRY: u64 = 120_000;
const FOLLOW_UP_TRIES: u8 = 60;
/// Bound on the event queue: a run that needs more is a runaway.
const MAX_QUEUED_EVENTS: usize = 50_000_000;

type Ix = u32;

enum Ev {
    /// A frame handed to the receiving core as it arrives: on the direct
    /// model every frame, on lanes an urgent copy or an unreliable link's
    /// frame. `child`: the child end of the tree edge it travels, or
    /// `u32::MAX` for a failover link (looked up by pair).
    Deliver {
        from: Ix,
        to: Ix,
        child: Ix,
        epoch: u32,
        bytes: Vec<u8>,
    },
    /// A packet of a `reliable` link's lane arrives (`lanes`).
    Packet {
        from: Ix,
        to: Ix,
        child: Ix,
        epoch: u32,
        packet: Box<pieces::Packet>,
    },
    /// The loss of a stream packet is found: it goes again (`lanes`).
    Retransmit {
        from: Ix,
        to: Ix,
        child: Ix,
        epoch: u32,
        packet: Box<pieces::Packet>,
    },
    /// A direction's lanes may send (`lanes`).
    Pace {
        from: Ix,
        to: Ix,
        child: Ix,
        epoch: u32,
    },
    /// The next item of load series `series`.
    SeriesItem {
        series: u32,
    },
    Wake {
        node: Ix,
    },
    FaultStart(usize),
    FaultEnd(usize),
    FlapToggle(usize),
    Background,
    OrderTick,
    BurstReport {
        node: Ix,
        severity: Severity,
    },
    Accept {
        node: Ix,
        incident: EnvelopeId,
        tries: u8,
    },
    SignFor {
        node: Ix,
        order: EnvelopeId,
        tries: u8,
    },
    /// The root publishes the scenario's `[[publish]]` entry `index`
    /// (`documents`); while the root is down it is tried again, as an
    /// operator's follow-up is.
    Publish {
        index: u32,
        tries: u8,
    },
    /// A room's incident is reported (`rooms`), then its room opened,
    /// acted in and closed; a task's target finishes its order.
    RoomReport {
        room: u32,
        tries: u8,
    },
    RoomOpen {
        room: u32,
        tries: u8,
    },
    RoomAct {
        room: u32,
    },
    RoomClose {
        room: u32,
        tries: u8,
    },
    Finish {
        node: Ix,
        order: EnvelopeId,
        tries: u8,
    },
    Sample,
    Progress,
    Heal,
}

/// A monotone priority queue (a radix heap): no key pushed is below the
/// last key popped, which holds in a discrete-event simulation (events are
/// never scheduled in the past; the sequence number breaks ties). Push is
/// O(1); pop is amortized O(log range), and each item is touched at most
/// once per bit of the key range, so it beats a binary heap's cache misses.
struct RadixHeap {
    last: u128,
    /// Bucket i > 0 holds keys whose highest bit differing from `last` is i-1.
    buckets: Vec<Vec<(u128, u32)>>,
    scratch: Vec<(u128, u32)>,
    len: usize,
}

impl RadixHeap {
    fn new() -> RadixHeap {
        RadixHeap {
            last: 0,
            buckets: (0..129).map(|_| Vec::new()).collect(),
            scratch: Vec::new(),
            len: 0,
        }
    }

    fn bucket(last: u128, key: u128) -> usize {
        (128 - (key ^ last).leading_zeros()) as usize
    }

    fn push(&mut self, key: u128, slot: u32) {
        assert!(key >= self.last, "an event scheduled in the past");
        self.buckets[Self::bucket(self.last, key)].push((key, slot));
        self.len += 1;
    }

    fn pop(&mut self) -> Option<(u128, u32)> {
        if self.len == 0 {
            return None;
        }
        if self.buckets[0].is_empty() {
            let i = self.buckets.iter().position(|b| !b.is_empty()).expect("len > 0");
            std::mem::swap(&mut self.scratch, &mut self.buckets[i]);
            self.last = self.scratch.iter().map(|(k, _)| *k).min().expect("non-empty");
            for (k, v) in self.scratch.drain(..) {
                self.buckets[Self::bucket(self.last, k)].push((k, v));
            }
        }
        self.len -= 1;
        self.buckets[0].pop()
    }

    fn len(&self) -> usize {
        self.len
    }
}

struct SimNode {
    core: Option<Core>,
    /// What survives a crash: the fold of every completed Persist.
    disk: Store,
    /// Added to the global clock to give the time this node sees.
    skew: i64,
    /// The wake-up queued in the heap for this node (global ms).
    wake: Option<u64>,
    starts: u32,
    deaf: bool,
    /// Partition group: nodes talk only within their group.
    group: u32,
    /// Nodes with an open connection to this one.
    peers: Vec<Ix>,
    /// When the connection to the tree parent last went down.
    parent_lost_at: Option<u64>,
    ever_wiped: bool,
}

struct Conn {
    up: bool,
    /// Bumped at every up and down: frames of an older connection are dropped.
    epoch: u32,
    /// Per direction (lower index first): the lanes, on links `lanes`
    /// models (made at first use, dropped at every up and down).
    lanes: Option<Box<[lanes::Direction; 2]>>,
    /// Extra copies of urgent frames: the topology's class of this link.
    copies: u8,
    /// The class's declared rate, bytes per second: the link is paced.
    rate: Option<u32>,
    /// Cuts in force (cut and flap faults).
    cuts: u32,
    /// Extra loss from lossy faults.
    extra_loss: f64,
    model: LinkModel,
}

struct FaultInst {
    kind: FaultKind,
    nodes: Vec<Ix>,
    end: Option<u64>,
    lose_disk: bool,
    period: u64,
    loss: f64,
    /// Flap: currently down.
    down: bool,
    started: bool,
    ended: bool,
}

pub(crate) struct ReportTrack {
    pub origin: Ix,
    pub owner: Ix,
    pub severity: Severity,
    pub sent: u64,
    pub delivered: Option<u64>,
    pub hops: u32,
    pub forwarded: bool,
    pub excused: bool,
    /// The load series it belongs to, or `u32::MAX`.
    pub series: u32,
    /// When the origin's parent recorded it (the first hop).
    pub first_hop: Option<u64>,
    /// Its envelope's encoded size.
    pub bytes: u32,
}

/// A node down (crashed) from `from` until it restarted (simulated ms;
/// `None`: still down at the end).
pub(crate) struct Down {
    pub node: Ix,
    pub from: u64,
    pub until: Option<u64>,
}

pub(crate) struct OrderTrack {
    pub issuer: Ix,
    pub sent: u64,
    pub targets: u32,
    pub reached: u32,
    pub excused: bool,
    /// The load series it belongs to, or `u32::MAX`.
    pub series: u32,
    /// When the last target (so far) received it.
    pub reached_at: Option<u64>,
    /// Its envelope's encoded size.
    pub bytes: u32,
}

/// Unacked copies one node holds for one peer: now, at the peak, and when
/// the peak was set (simulated ms).
#[derive(Debug, Default, Clone, Copy)]
struct QueueDepth {
    now: u32,
    peak: u32,
    peak_at: u64,
}

pub(crate) struct Sim<'a> {
    pub scenario: &'a Scenario,
    pub topo: Arc<Topology>,
    config: CoreConfig,
    keys: TestKeys,
    /// How every core checks federation documents: one instance, so its
    /// parsed topologies are shared by all nodes.
    documents: TestDocuments,
    /// The versions the scenario publishes and who applied them when.
    pub docs: documents::Tally,
    seed: u64,
    pub rng: StdRng,
    /// Simulated zero in the milliseconds cores see (the scenario's `start`).
    pub epoch: u64,
    pub now: u64,
    pub end_load: u64,
    /// Background reports and orders are filed until then (`[load] until`).
    end_filing: u64,
    pub end: u64,
    seq: u64,
    /// (time << 64 | sequence) -> slot in `slab`, earliest first.
    heap: RadixHeap,
    slab: Vec<Option<Ev>>,
    free: Vec<u32>,
    nodes: Vec<SimNode>,
    /// Tree edges, indexed by the child (no hashing on the hot path).
    tree: Vec<Option<Conn>>,
    /// Other connections (failover links to further ancestors), by pair.
    conns: HashMap<(Ix, Ix), Conn>,
    faults: Vec<FaultInst>,
    /// Villages (or the deepest centers) that file background reports.
    reporters: Vec<Ix>,
    order_issuers: Vec<Ix>,
    order_to: Level,
    planted: Option<PlantedBug>,
    /// (node, envelope) the planted bug dropped from the disk.
    pub planted_drop: Option<(Ix, EnvelopeId)>,
    pub reports: Vec<ReportTrack>,
    report_ix: HashMap<EnvelopeId, u32>,
    pub orders: Vec<OrderTrack>,
    order_ix: HashMap<EnvelopeId, u32>,
    /// (node, incident or order, owner named or u32::MAX): delivered to the app.
    seen: HashSet<(Ix, EnvelopeId, Ix)>,
    supervised: HashSet<(EnvelopeId, Ix, u8)>,
    /// (node, returned at) waiting to catch up.
    returning: Vec<(Ix, u64)>,
    /// Unacked copies per (node, peer).
    queues: HashMap<(Ix, Ix), QueueDepth>,
    pub out: Collected,
    pub events: u64,
    progress_every: u64,
    /// Load series: (filed at, the order target or `u32::MAX`), by series.
    series: Vec<(Ix, Ix)>,
    /// Items of each load series filed so far (numbers their texts).
    series_count: Vec<u32>,
    /// Every crash and when the node came back, in order.
    pub downs: Vec<Down>,
    /// The rooms' people and what the cores applied (`rooms`).
    pub rooms: RoomTally,
}

impl<'a> Sim<'a> {
    pub fn new(scenario: &'a Scenario, options: &RunOptions) -> Result<Sim<'a>, SimError> {
        let topo = Arc::new(scenario.topology().map_err(SimError::Topology)?);
        let mut rng = StdRng::seed_from_u64(options.seed);
        let n = topo.len();
        let skew_max = scenario.clock_skew.map_or(0, |s| s.0.as_millis() as i64);
        let mut nodes = Vec::with_capacity(n);
        for _ in 0..n {
            let skew = if skew_max > 0 {
                rng.random_range(-skew_max..=skew_max)
            } else {
                0
            };
            nodes.push(SimNode {
                core: None,
                disk: Store::default(),
                skew,
                wake: None,
                starts: 0,
                deaf: false,
                group: 0,
                peers: Vec::new(),
                parent_lost_at: None,
                ever_wiped: false,
            });
        }
        let deepest = topo.nodes().map(|n| n.level.depth()).max().unwrap_or(0);
        let village_level = if topo.nodes().any(|n| n.level == Level::Village) {
            Level::Village
        } else {
            Level::ALL[deepest as usize]
        };
        let reporters: Vec<Ix> = (0..n as u32)
            .filter(|&i| {
                let node = topo.node(NodeIx(i));
                node.level == village_level && node.kind == liandong_topology::Kind::Center
            })
            .collect();
        let order_from = Level::parse(&scenario.load.order_from).unwrap_or(Level::County);
        let order_to = Level::parse(&scenario.load.order_to).unwrap_or(Level::Township);
        let order_issuers: Vec<Ix> = (0..n as u32)
            .filter(|&i| {
                let node = topo.node(NodeIx(i));
                node.level == order_from && node.kind == liandong_topology::Kind::Center
            })
            .collect();
        let end_load = scenario.duration.0.as_millis() as u64;
        let end_filing = scenario.load.until.map_or(end_load, |u| u.0.as_millis() as u64);
        let end = end_load + scenario.settle.0.as_millis() as u64;
        let mut sim = Sim {
            scenario,
            topo: topo.clone(),
            config: CoreConfig {
                plant_room_out_of_order: options.planted_bug == Some(PlantedBug::RoomOutOfOrder),
                ..CoreConfig::default()
            },
            keys: TestKeys::new(options.seed),
            documents: TestDocuments::default(),
            docs: documents::Tally::default(),
            seed: options.seed,
            rng,
            epoch: scenario.start_ms(),
            now: 0,
            end_load,
            end_filing,
            end,
            seq: 0,
            heap: RadixHeap::new(),
            slab: Vec::new(),
            free: Vec::new(),
            nodes,
            tree: (0..n).map(|_| None).collect(),
            conns: HashMap::new(),
            faults: Vec::new(),
            reporters,
            order_issuers,
            order_to,
            planted: options.planted_bug,
            planted_drop: None,
            reports: Vec::new(),
            report_ix: HashMap::new(),
            orders: Vec::new(),
            order_ix: HashMap::new(),
            seen: HashSet::new(),
            supervised: HashSet::new(),
            returning: Vec::new(),
            queues: HashMap::new(),
            out: Collected::new(end, scenario),
            events: 0,
            progress_every: (end / 200).max(1000),
            series: Vec::new(),
            series_count: Vec::new(),
            downs: Vec::new(),
            rooms: RoomTally::default(),
        };
        // Rooms first: faults may pick their nodes.
        sim.setup_rooms();
        sim.setup_faults()?;
        sim.setup_load();
        sim.setup_series()?;
        sim.setup_publishes()?;
        for i in 0..n as u32 {
            sim.start(i);
        }
        for i in 0..n as u32 {
            if let Some(p) = topo.parent_ix(NodeIx(i)) {
                sim.connect(i, p.0);
            }
        }
        sim.push(0, Ev::Sample);
        sim.push(0, Ev::Progress);
        sim.push(end_load, Ev::Heal);
        Ok(sim)
    }

    fn push(&mut self, at: u64, ev: Ev) {
        assert!(self.heap.len() < MAX_QUEUED_EVENTS, "event queue over its bound");
        self.seq += 1;
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slab[slot as usize] = Some(ev);
                slot
            }
            None => {
                self.slab.push(Some(ev));
                (self.slab.len() - 1) as u32
            }
        };
        self.heap.push(u128::from(at) << 64 | u128::from(self.seq), slot);
    }

    fn exp(&mut self, mean_ms: f64) -> u64 {
        if mean_ms <= 0.0 {
            return 0;
        }
        let u: f64 = self.rng.random();
        (-mean_ms * (1.0 - u).ln()) as u64
    }

    fn pick_at_level(&mut self, level: Level, count: usize, label: &str) -> Result<Vec<Ix>, SimError> {
        let candidates: Vec<Ix> = (0..self.topo.len() as u32)
            .filter(|&i| {
                let n = self.topo.node(NodeIx(i));
                n.level == level && n.kind == liandong_topology::Kind::Center
            })
            .collect();
        if candidates.is_empty() {
            return Err(SimError::Scenario(format!("{label}: the topology has no {level} node")));
        }
        // A smaller topology (a sweep variant) may have fewer: take them all.
        let count = count.min(candidates.len());
        let mut picked = BTreeSet::new();
        while picked.len() < count {
            picked.insert(candidates[self.rng.random_range(0..candidates.len())]);
        }
        Ok(picked.into_iter().collect())
    }

    /// `count` distinct nodes of the rooms (`room-home`, `room-member`);
    /// the root only for a crash or deafness (it has no parent link). None
    /// if no room has such a node (all at the root): the fault does nothing.
    fn pick_room_nodes(&mut self, pick: &str, count: usize, kind: FaultKind) -> Vec<Ix> {
        let root_too = matches!(kind, FaultKind::Crash | FaultKind::Deaf);
        let candidates: Vec<Ix> = self
            .room_nodes(pick)
            .into_iter()
            .filter(|&n| n != 0 || root_too)
            .collect();
        if candidates.is_empty() {
            return Vec::new();
        }
        let count = count.min(candidates.len());
        let mut picked = BTreeSet::new();
        while picked.len() < count {
            picked.insert(candidates[self.rng.random_range(0..candidates.len())]);
        }
        picked.into_iter().collect()
    }

    fn place(
        &mut self,
        node: &Option<String>,
        pick: &Option<String>,
        count: usize,
        label: &str,
    ) -> Result<Vec<Ix>, SimError> {
        if let Some(id) = node {
            let id = liandong_topology::NodeId::parse(id).map_err(|e| SimError::Scenario(format!("{label}: {e}")))?;
            let ix = self
                .topo
                .ix(&id)
                .ok_or_else(|| SimError::Scenario(format!("{label}: {id} is not in the topology")))?;
            return Ok(vec![ix.0]);
        }
        let level = pick.as_deref().and_then(Level::parse).unwrap_or(Level::County);
        self.pick_at_level(level, count, label)
    }

    fn setup_faults(&mut self) -> Result<(), SimError> {
        let scenario = self.scenario;
        for (i, f) in scenario.faults.iter().enumerate() {
            let label = format!("fault #{} ({})", i + 1, f.kind.name());
            let nodes = match f.pick.as_deref().filter(|p| crate::scenario::is_room_pick(p)) {
                Some(p) => self.pick_room_nodes(p, f.count, f.kind),
                None => self.place(&f.node, &f.pick, f.count, &label)?,
            };
            if nodes.contains(&0) && f.kind != FaultKind::Crash && f.kind != FaultKind::Deaf {
                return Err(SimError::Scenario(format!("{label}: the root has no parent link")));
            }
            let start = f.at.0.as_millis() as u64;
            let end = if f.permanent {
                None
            } else {
                f.lasts.map(|l| (start + l.0.as_millis() as u64).min(self.end_load))
            };
            let names: Vec<String> = nodes
                .iter()
                .map(|&n| self.topo.node(NodeIx(n)).id.to_string())
                .collect();
            let shown = if names.is_empty() {
                "(no node)".to_string()
            } else if names.len() > 3 {
                format!("{} and {} more", names[..3].join(" "), names.len() - 3)
            } else {
                names.join(" ")
            };
            let label = format!(
                "{} {}{}",
                f.kind.name(),
                shown,
                if f.permanent { " (permanent)" } else { "" }
            );
            let ix = self.faults.len();
            self.faults.push(FaultInst {
                kind: f.kind,
                nodes,
                end,
                lose_disk: f.lose_disk,
                period: f.period.map_or(60_000, |p| p.0.as_millis() as u64).max(1),
                loss: f.loss.unwrap_or(0.0),
                down: false,
                started: false,
                ended: false,
            });
            self.out.faults.push(FaultWindow {
                start: Duration::from_millis(start),
                end: Duration::from_millis(end.unwrap_or(self.end)),
                label,
            });
            self.push(start, Ev::FaultStart(ix));
            if let Some(e) = end {
                self.push(e, Ev::FaultEnd(ix));
            }
        }
        Ok(())
    }

    fn setup_load(&mut self) {
        let scenario = self.scenario;
        let load = &scenario.load;
        if load.background_per_hour > 0.0 && !self.reporters.is_empty() {
            let first = self.exp(3_600_000.0 / load.background_per_hour);
            self.push(first, Ev::Background);
        }
        if load.orders_per_hour > 0.0 && !self.order_issuers.is_empty() {
            let first = self.exp(3_600_000.0 / load.orders_per_hour);
            self.push(first, Ev::OrderTick);
        }
        let bursts = scenario
            .load
            .burst
            .iter()
            .map(|b| (b, b.within.0))
            .chain(scenario.load.earthquake.iter().map(|b| (b, Duration::from_secs(60))));
        for (k, (b, within)) in bursts.enumerate() {
            let Ok(area) = self.place(&b.node, &b.pick, 1, &format!("burst #{}", k + 1)) else {
                continue;
            };
            let area = NodeIx(area[0]);
            let range = self.topo.subtree_range(area);
            let villages: Vec<Ix> = self.reporters.iter().copied().filter(|&r| range.contains(&r)).collect();
            let at = b.at.0.as_millis() as u64;
            let within = within.as_millis() as u64;
            for v in villages {
                let t = at + self.rng.random_range(0..within.max(1));
                self.push(
                    t,
                    Ev::BurstReport {
                        node: v,
                        severity: b.severity,
                    },
                );
            }
        }
    }
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn radix_heap_pops_in_key_order_with_monotone_pushes() {
        let mut rng = StdRng::seed_from_u64(5);
        let mut h = RadixHeap::new();
        let mut reference = std::collections::BTreeSet::new();
        let mut seq = 0u128;
        let mut now = 0u128;
        for round in 0..2000 {
            for _ in 0..rng.random_range(0..4) {
                seq += 1;
                let key = (now + rng.random_range(0..1000u128)) << 64 | seq;
                h.push(key, round);
                reference.insert(key);
            }
            if rng.random_bool(0.6)
                && let Some((k, _)) = h.pop()
            {
                assert_eq!(Some(k), reference.pop_first());
                now = k >> 64;
            }
        }
        while let Some((k, _)) = h.pop() {
            assert_eq!(Some(k), reference.pop_first());
        }
        assert!(reference.is_empty());
        assert_eq!(h.len(), 0);
    }
}
