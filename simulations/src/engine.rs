//! The discrete-event engine: real [`Core`]s on a simulated network, disk
//! and clock.
//!
//! One radix heap holds every future event keyed by (time, sequence), so
//! ties break in the order events were scheduled and a run replays exactly
//! from its seed. The clock jumps to the next event. Events are frame
//! deliveries, core wake-ups (one live entry per node: a node's queued
//! wake is remembered and stale heap entries are skipped), fault starts and
//! ends, load, and operator follow-ups (accept, sign for).
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
//! crash drops the core; the restart restores from the disk, or from an
//! empty store when the fault loses the disk.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use liandong_dispatch::{
    Category, Command, CommandError, Core, CoreConfig, Effect, EnvelopeId, Event, Item, Mode, Order, Record, Report,
    Stage, Store, TargetState, Targets, TestKeys, Timestamp,
};
use liandong_topology::{Level, NodeIx, Severity, Topology};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::report::{self, Collected, FaultWindow};
use crate::scenario::{FaultKind, LinkModel, Scenario};
use crate::{PlantedBug, Progress, RunOptions, SimError};

/// Absolute time of simulated zero, in the milliseconds cores see.
const EPOCH: u64 = 1_800_000_000_000;
/// How often returning nodes are checked for having caught up.
const SAMPLE_EVERY: u64 = 1_000;
/// Follow-ups to a node that is down are retried this often, this many times.
const FOLLOW_UP_RETRY: u64 = 120_000;
const FOLLOW_UP_TRIES: u8 = 60;
/// Bound on the event queue: a run that needs more is a runaway.
const MAX_QUEUED_EVENTS: usize = 50_000_000;

type Ix = u32;

enum Ev {
    /// `child`: the child end of the tree edge it travels, or `u32::MAX`
    /// for a failover link (looked up by pair).
    Deliver {
        from: Ix,
        to: Ix,
        child: Ix,
        epoch: u32,
        bytes: Vec<u8>,
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
    /// Per direction (lower index first): when the link is free to send.
    busy: [u64; 2],
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
}

pub(crate) struct OrderTrack {
    pub issuer: Ix,
    pub sent: u64,
    pub targets: u32,
    pub reached: u32,
    pub excused: bool,
}

pub(crate) struct Sim<'a> {
    pub scenario: &'a Scenario,
    pub topo: Arc<Topology>,
    config: CoreConfig,
    keys: TestKeys,
    seed: u64,
    pub rng: StdRng,
    pub now: u64,
    pub end_load: u64,
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
    /// Unacked copies per (node, peer): now, peak, when the peak was set.
    queues: HashMap<(Ix, Ix), (u32, u32, u64)>,
    pub out: Collected,
    pub events: u64,
    progress_every: u64,
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
        let end = end_load + scenario.settle.0.as_millis() as u64;
        let mut sim = Sim {
            scenario,
            topo: topo.clone(),
            config: CoreConfig::default(),
            keys: TestKeys::new(options.seed),
            seed: options.seed,
            rng,
            now: 0,
            end_load,
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
        };
        sim.setup_faults()?;
        sim.setup_load();
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
            let nodes = self.place(&f.node, &f.pick, f.count, &label)?;
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
            let shown = if names.len() > 3 {
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

    // ---- nodes and connections ----

    fn local(&self, node: Ix) -> Timestamp {
        Timestamp((EPOCH as i64 + self.now as i64 + self.nodes[node as usize].skew) as u64)
    }

    fn start(&mut self, ix: Ix) {
        let node = &mut self.nodes[ix as usize];
        node.starts += 1;
        let seed = splitmix(self.seed ^ (u64::from(ix) << 20) ^ (u64::from(node.starts) << 52));
        let id = self.topo.node(NodeIx(ix)).id.clone();
        let now = self.local(ix);
        let node = &mut self.nodes[ix as usize];
        node.core = Core::restore(
            self.topo.clone(),
            id.clone(),
            self.config.clone(),
            Box::new(self.keys.signer(&id)),
            self.keys.check(),
            seed,
            node.disk.clone(),
            now,
        )
        .ok();
        self.drain(ix);
    }

    fn up(&self, ix: Ix) -> bool {
        self.nodes[ix as usize].core.is_some()
    }

    fn key(a: Ix, b: Ix) -> (Ix, Ix) {
        if a < b { (a, b) } else { (b, a) }
    }

    fn allowed(&self, a: Ix, b: Ix) -> bool {
        self.up(a)
            && self.up(b)
            && self.nodes[a as usize].group == self.nodes[b as usize].group
            && self.conn(a, b).is_none_or(|c| c.cuts == 0)
    }

    fn is_parent(&self, child: Ix, parent: Ix) -> bool {
        self.topo.parent_ix(NodeIx(child)) == Some(NodeIx(parent))
    }

    /// The child end if `a`-`b` is a tree edge.
    fn tree_child(&self, a: Ix, b: Ix) -> Option<Ix> {
        if self.topo.parent_ix(NodeIx(a)) == Some(NodeIx(b)) {
            Some(a)
        } else if self.topo.parent_ix(NodeIx(b)) == Some(NodeIx(a)) {
            Some(b)
        } else {
            None
        }
    }

    fn conn(&self, a: Ix, b: Ix) -> Option<&Conn> {
        match self.tree_child(a, b) {
            Some(c) => self.tree[c as usize].as_ref(),
            None => self.conns.get(&Self::key(a, b)),
        }
    }

    fn conn_mut(&mut self, a: Ix, b: Ix) -> Option<&mut Conn> {
        match self.tree_child(a, b) {
            Some(c) => self.tree[c as usize].as_mut(),
            None => self.conns.get_mut(&Self::key(a, b)),
        }
    }

    fn conn_entry(&mut self, a: Ix, b: Ix) -> &mut Conn {
        let k = Self::key(a, b);
        let lower = if self.topo.depth_ix(NodeIx(k.0)) >= self.topo.depth_ix(NodeIx(k.1)) {
            k.0
        } else {
            k.1
        };
        let level = self.topo.node(NodeIx(lower)).level;
        let model = self.scenario.link_model(level);
        let fresh = || Conn {
            up: false,
            epoch: 0,
            busy: [0, 0],
            cuts: 0,
            extra_loss: 0.0,
            model,
        };
        match self.tree_child(a, b) {
            Some(c) => self.tree[c as usize].get_or_insert_with(fresh),
            None => self.conns.entry(k).or_insert_with(fresh),
        }
    }

    fn connect(&mut self, a: Ix, b: Ix) {
        if a == b || !self.allowed(a, b) {
            return;
        }
        let c = self.conn_entry(a, b);
        if c.up {
            return;
        }
        c.up = true;
        c.epoch += 1;
        self.nodes[a as usize].peers.push(b);
        self.nodes[b as usize].peers.push(a);
        for (x, y) in [(a, b), (b, a)] {
            if self.is_parent(x, y) {
                self.nodes[x as usize].parent_lost_at = None;
            }
            let peer = self.topo.node(NodeIx(y)).id.clone();
            let now = self.local(x);
            if let Some(core) = self.nodes[x as usize].core.as_mut() {
                core.handle_link(&peer, true, now);
            }
            self.drain(x);
        }
    }

    fn disconnect(&mut self, a: Ix, b: Ix) {
        let Some(c) = self.conn_mut(a, b) else { return };
        if !c.up {
            return;
        }
        c.up = false;
        c.epoch += 1;
        self.nodes[a as usize].peers.retain(|&p| p != b);
        self.nodes[b as usize].peers.retain(|&p| p != a);
        for (x, y) in [(a, b), (b, a)] {
            if self.is_parent(x, y) && self.nodes[x as usize].parent_lost_at.is_none() {
                self.nodes[x as usize].parent_lost_at = Some(self.now);
            }
            let peer = self.topo.node(NodeIx(y)).id.clone();
            let now = self.local(x);
            if let Some(core) = self.nodes[x as usize].core.as_mut() {
                core.handle_link(&peer, false, now);
            }
            self.drain(x);
        }
    }

    /// Reconnects a node's tree edges that may connect now.
    fn reconnect_tree(&mut self, ix: Ix) {
        if let Some(p) = self.topo.parent_ix(NodeIx(ix)) {
            self.connect(ix, p.0);
        }
        let children: Vec<Ix> = self.topo.children_ix(NodeIx(ix)).iter().map(|c| c.0).collect();
        for c in children {
            self.connect(c, ix);
        }
    }

    fn crash(&mut self, ix: Ix) {
        let peers = self.nodes[ix as usize].peers.clone();
        for p in peers {
            self.disconnect(ix, p);
        }
        let node = &mut self.nodes[ix as usize];
        node.core = None;
        node.wake = None;
        self.returning.retain(|(n, _)| *n != ix);
    }

    fn restart(&mut self, ix: Ix, lose_disk: bool) {
        if self.up(ix) {
            return;
        }
        if lose_disk {
            self.wipe(ix);
        }
        self.start(ix);
        self.reconnect_tree(ix);
        self.returning.push((ix, self.now));
    }

    /// The disk is gone: what only it held is lost with it, which is the
    /// fault, not the protocol's doing. Those items are excused.
    fn wipe(&mut self, ix: Ix) {
        let node = &mut self.nodes[ix as usize];
        node.ever_wiped = true;
        let disk = std::mem::take(&mut node.disk);
        let mut held: Vec<EnvelopeId> = disk.pending().map(|(_, id, _)| *id).collect();
        held.extend(disk.incidents.keys().copied());
        for id in held {
            if let Some(&r) = self.report_ix.get(&id) {
                let r = &mut self.reports[r as usize];
                if r.delivered.is_none() {
                    r.excused = true;
                }
            }
            if let Some(&o) = self.order_ix.get(&id) {
                self.orders[o as usize].excused = true;
            }
        }
        for r in &mut self.reports {
            if r.origin == ix && !r.forwarded && r.delivered.is_none() {
                r.excused = true;
            }
        }
        self.seen.retain(|(n, _, _)| *n != ix);
        self.out.disks_lost += 1;
    }

    // ---- effects ----

    /// The index of `peer` as seen from `ix`: usually its parent or the
    /// node whose frame is being handled, which saves a hash lookup.
    fn peer_ix(&self, ix: Ix, peer: &liandong_topology::NodeId, hint: Ix) -> Option<Ix> {
        if hint != u32::MAX && self.topo.node(NodeIx(hint)).id == *peer {
            return Some(hint);
        }
        if let Some(p) = self.topo.parent_ix(NodeIx(ix))
            && self.topo.node(p).id == *peer
        {
            return Some(p.0);
        }
        self.topo.ix(peer).map(|p| p.0)
    }

    fn drain(&mut self, ix: Ix) {
        self.drain_hinted(ix, u32::MAX);
    }

    /// A simulated operator at `node` presses a button; if the node is
    /// down they try again later (`again`), a bounded number of times.
    fn operator_acts(&mut self, at: u64, node: Ix, tries: u8, cmd: Command, again: Ev) {
        if !self.up(node) {
            if tries < FOLLOW_UP_TRIES {
                self.push(at + FOLLOW_UP_RETRY, again);
            }
            return;
        }
        let now = self.local(node);
        if let Some(core) = self.nodes[node as usize].core.as_mut() {
            let _ = core.handle_command(cmd, now);
        }
        self.drain(node);
    }

    fn drain_hinted(&mut self, ix: Ix, hint: Ix) {
        let mut connects: Vec<Ix> = Vec::new();
        while let Some(effect) = self.nodes[ix as usize].core.as_mut().and_then(Core::poll_effect) {
            match effect {
                Effect::Persist(records) => self.persist(ix, records),
                Effect::Send { peer, frame, .. } => {
                    if let Some(p) = self.peer_ix(ix, &peer, hint) {
                        self.transmit(ix, p, frame);
                    }
                }
                Effect::Notify(event) => self.on_event(ix, event),
                Effect::Connect(peer) => {
                    if let Some(p) = self.topo.ix(&peer) {
                        connects.push(p.0);
                    }
                }
            }
        }
        for p in connects {
            self.connect(ix, p);
        }
        self.rearm(ix);
    }

    fn persist(&mut self, ix: Ix, records: Vec<Record>) {
        for r in &records {
            match r {
                Record::Envelope(stored)
                    if self.planted == Some(PlantedBug::DropAckedEnvelope)
                        && self.planted_drop.is_none()
                        && self.now > 0
                        && stored.envelope.origin != self.topo.node(NodeIx(ix)).id =>
                {
                    // The planted bug: the disk says it wrote this, and did not.
                    self.planted_drop = Some((ix, stored.envelope.id));
                    continue;
                }
                Record::Outbox { peer, id, entry } => {
                    let before = self.nodes[ix as usize]
                        .disk
                        .outbox
                        .get(&(peer.clone(), *id))
                        .is_some_and(|e| !e.acked);
                    let after = !entry.acked;
                    if before != after
                        && let Some(p) = self.topo.ix(peer)
                    {
                        self.queue_delta(ix, p.0, after);
                    }
                }
                Record::Acked { peer, id } | Record::GaveUp { peer, id } => {
                    let before = self.nodes[ix as usize]
                        .disk
                        .outbox
                        .get(&(peer.clone(), *id))
                        .is_some_and(|e| !e.acked);
                    if before && let Some(p) = self.topo.ix(peer) {
                        self.queue_delta(ix, p.0, false);
                    }
                }
                _ => {}
            }
            self.nodes[ix as usize].disk.apply(r);
        }
    }

    fn queue_delta(&mut self, ix: Ix, peer: Ix, up: bool) {
        let now = self.now;
        let q = self.queues.entry((ix, peer)).or_insert((0, 0, 0));
        if up {
            q.0 += 1;
            if q.0 > q.1 {
                q.1 = q.0;
                q.2 = now;
            }
        } else {
            q.0 = q.0.saturating_sub(1);
        }
    }

    fn transmit(&mut self, from: Ix, to: Ix, bytes: Vec<u8>) {
        let now = self.now;
        let child = self.tree_child(from, to).unwrap_or(u32::MAX);
        let c = if child == u32::MAX {
            self.conns.get(&Self::key(from, to))
        } else {
            self.tree[child as usize].as_ref()
        };
        let Some(c) = c else { return };
        if !c.up {
            return;
        }
        let (model, extra, epoch) = (c.model, c.extra_loss, c.epoch);
        let loss = 1.0 - (1.0 - model.loss) * (1.0 - extra);
        if loss > 0.0 && self.rng.random_bool(loss.clamp(0.0, 1.0)) {
            self.out.frames_lost += 1;
            return;
        }
        let copies = if model.duplicate > 0.0 && self.rng.random_bool(model.duplicate) {
            2
        } else {
            1
        };
        let dir = usize::from(from > to);
        let base = model.latency.0.as_millis() as u64;
        let jitter = model.jitter.map_or(0.0, |j| j.0.as_millis() as f64);
        let mut depart = now;
        if model.bandwidth_kbps > 0 {
            // kbps is bits per millisecond.
            let tx = (bytes.len() as u64 * 8).div_ceil(model.bandwidth_kbps);
            let c = if child == u32::MAX {
                self.conns.get_mut(&Self::key(from, to))
            } else {
                self.tree[child as usize].as_mut()
            };
            let c = c.expect("present");
            depart = c.busy[dir].max(now) + tx;
            c.busy[dir] = depart;
        }
        self.out.frames_sent += 1;
        if copies == 2 {
            let at = depart + base + self.exp(jitter);
            self.push(
                at,
                Ev::Deliver {
                    from,
                    to,
                    child,
                    epoch,
                    bytes: bytes.clone(),
                },
            );
        }
        let at = depart + base + self.exp(jitter);
        self.push(
            at,
            Ev::Deliver {
                from,
                to,
                child,
                epoch,
                bytes,
            },
        );
    }

    fn rearm(&mut self, ix: Ix) {
        let skew = self.nodes[ix as usize].skew;
        let Some(t) = self.nodes[ix as usize].core.as_ref().and_then(Core::poll_timeout) else {
            self.nodes[ix as usize].wake = None;
            return;
        };
        let global = ((t.0 as i64 - skew) as u64).saturating_sub(EPOCH).max(self.now);
        if self.nodes[ix as usize].wake == Some(global) {
            return;
        }
        self.nodes[ix as usize].wake = Some(global);
        self.push(global, Ev::Wake { node: ix });
    }

    fn on_event(&mut self, ix: Ix, event: Event) {
        let now = self.now;
        match event {
            Event::IncidentRecorded { incident, owner, .. } => {
                let owner_ix = self.topo.ix(&owner).map_or(u32::MAX, |o| o.0);
                if !self.seen.insert((ix, incident, owner_ix)) {
                    self.out.duplicate(format!(
                        "{} recorded incident {incident} with owner {owner} twice",
                        self.topo.node(NodeIx(ix)).id
                    ));
                }
                if let Some(&r) = self.report_ix.get(&incident) {
                    let policy_owner = self.reports[r as usize].owner;
                    // At its policy owner, whoever owns it by now (an
                    // escalation may have overtaken the report itself).
                    if ix == policy_owner && self.reports[r as usize].delivered.is_none() {
                        let hops = self.nodes[ix as usize]
                            .core
                            .as_ref()
                            .and_then(|c| c.store().envelopes.get(&incident))
                            .map_or(0, |s| s.trace.len().saturating_sub(1) as u32);
                        let t = &mut self.reports[r as usize];
                        t.delivered = Some(now);
                        t.hops = hops;
                        let (sent, severity) = (t.sent, t.severity);
                        self.out.report_delivered(now, now - sent, severity, hops);
                    }
                    if owner_ix == ix && ix != policy_owner {
                        self.out.escalations += 1;
                    }
                }
                if owner_ix != ix {
                    return;
                }
                let mean = self.scenario.load.accept_after.0.as_millis() as f64;
                let at = now + self.exp(mean);
                self.push(
                    at,
                    Ev::Accept {
                        node: ix,
                        incident,
                        tries: 0,
                    },
                );
            }
            Event::OrderReceived { order, .. } => {
                if !self.seen.insert((ix, order, u32::MAX)) {
                    self.out.duplicate(format!(
                        "{} received order {order} twice",
                        self.topo.node(NodeIx(ix)).id
                    ));
                    return;
                }
                if let Some(&o) = self.order_ix.get(&order) {
                    let t = &mut self.orders[o as usize];
                    t.reached += 1;
                    let sent = t.sent;
                    self.out.order_delivered(now, now - sent);
                }
                let mean = self.scenario.load.sign_for_after.0.as_millis() as f64;
                let at = now + self.exp(mean);
                self.push(
                    at,
                    Ev::SignFor {
                        node: ix,
                        order,
                        tries: 0,
                    },
                );
            }
            Event::Supervised { item, stage, .. } => {
                let (id, target) = match &item {
                    Item::Incident(id) => (*id, u32::MAX),
                    Item::OrderTarget { order, target } => (*order, self.topo.ix(target).map_or(u32::MAX, |t| t.0)),
                };
                let s = match stage {
                    Stage::Accept => 0,
                    Stage::SignFor => 1,
                    Stage::Finish => 2,
                };
                if self.supervised.insert((id, target, s)) {
                    self.out.supervised[s as usize] += 1;
                }
            }
            Event::FailedOver { .. } => {
                if let Some(since) = self.nodes[ix as usize].parent_lost_at {
                    self.out.failovers.push(now - since);
                }
            }
            Event::Forwarded { id, .. } => {
                if let Some(&r) = self.report_ix.get(&id) {
                    self.reports[r as usize].forwarded = true;
                }
            }
            Event::DeadLettered { .. } => self.out.dead_letters += 1,
            _ => {}
        }
    }

    // ---- load ----

    fn file_report(&mut self, ix: Ix, severity: Severity) {
        if !self.up(ix) {
            self.out.not_filed_node_down += 1;
            return;
        }
        let owner = self.topo.owner_ix(NodeIx(ix), severity).0;
        let n = self.reports.len();
        let report = Report {
            severity,
            category: Category::Other,
            title: format!("sim report {n}"),
            detail: String::new(),
            place: String::new(),
            reporter: "sim".into(),
        };
        let now = self.local(ix);
        let result = self.nodes[ix as usize].core.as_mut().map(|c| {
            c.handle_command(
                Command::Report {
                    report,
                    mode: Mode::Exercise,
                },
                now,
            )
        });
        match result {
            Some(Ok(id)) => {
                self.report_ix.insert(id, n as u32);
                self.reports.push(ReportTrack {
                    origin: ix,
                    owner,
                    severity,
                    sent: self.now,
                    delivered: None,
                    hops: 0,
                    forwarded: false,
                    excused: false,
                });
                self.out.report_sent(severity);
            }
            Some(Err(CommandError::Overloaded(_))) => self.out.refused += 1,
            _ => self.out.refused += 1,
        }
        self.drain(ix);
    }

    fn pick_severity(&mut self) -> Severity {
        let weights = self.scenario.load.severity_mix.weights();
        let total: f64 = weights.iter().map(|(_, w)| w).sum();
        let mut x = self.rng.random::<f64>() * total;
        for (s, w) in weights {
            if x < w {
                return s;
            }
            x -= w;
        }
        Severity::Routine
    }

    fn dispatch_order(&mut self) {
        let issuer = self.order_issuers[self.rng.random_range(0..self.order_issuers.len())];
        if !self.up(issuer) {
            self.out.not_filed_node_down += 1;
            return;
        }
        let range = self.topo.subtree_range(NodeIx(issuer));
        let targets = range
            .clone()
            .filter(|&i| i != issuer && self.topo.node(NodeIx(i)).level == self.order_to)
            .count() as u32;
        if targets == 0 {
            return;
        }
        let order = Order {
            incident: None,
            targets: Targets::Subtree {
                root: self.topo.node(NodeIx(issuer)).id.clone(),
                level: Some(self.order_to),
            },
            severity: Severity::IV,
            instruction: "sim order".into(),
            by: "sim".into(),
            finish_by: None,
        };
        let now = self.local(issuer);
        let result = self.nodes[issuer as usize].core.as_mut().map(|c| {
            c.handle_command(
                Command::Dispatch {
                    order,
                    mode: Mode::Exercise,
                },
                now,
            )
        });
        match result {
            Some(Ok(id)) => {
                self.order_ix.insert(id, self.orders.len() as u32);
                self.orders.push(OrderTrack {
                    issuer,
                    sent: self.now,
                    targets,
                    reached: 0,
                    excused: false,
                });
                self.out.orders_sent += 1;
                self.out.order_targets += u64::from(targets);
            }
            _ => self.out.refused += 1,
        }
        self.drain(issuer);
    }

    // ---- faults ----

    fn fault_start(&mut self, f: usize) {
        self.faults[f].started = true;
        let (kind, nodes) = (self.faults[f].kind, self.faults[f].nodes.clone());
        for &n in &nodes {
            match kind {
                FaultKind::Crash => self.crash(n),
                FaultKind::Isolate => self.isolate(n, f as u32 + 1),
                FaultKind::Cut | FaultKind::Flap => {
                    if let Some(p) = self.topo.parent_ix(NodeIx(n)) {
                        self.conn_entry(n, p.0).cuts += 1;
                        self.disconnect(n, p.0);
                    }
                }
                FaultKind::Lossy => {
                    if let Some(p) = self.topo.parent_ix(NodeIx(n)) {
                        self.conn_entry(n, p.0).extra_loss = self.faults[f].loss;
                    }
                }
                FaultKind::Deaf => self.nodes[n as usize].deaf = true,
            }
        }
        if kind == FaultKind::Flap {
            self.faults[f].down = true;
            let at = self.now + self.faults[f].period;
            self.push(at, Ev::FlapToggle(f));
        }
    }

    fn fault_end(&mut self, f: usize) {
        if self.faults[f].ended || !self.faults[f].started {
            return;
        }
        self.faults[f].ended = true;
        let (kind, nodes) = (self.faults[f].kind, self.faults[f].nodes.clone());
        for &n in &nodes {
            match kind {
                FaultKind::Crash => self.restart(n, self.faults[f].lose_disk),
                FaultKind::Isolate => self.unisolate(n, f as u32 + 1),
                FaultKind::Cut | FaultKind::Flap => {
                    if kind == FaultKind::Flap && !self.faults[f].down {
                        continue;
                    }
                    if let Some(p) = self.topo.parent_ix(NodeIx(n)) {
                        let c = self.conn_entry(n, p.0);
                        c.cuts = c.cuts.saturating_sub(1);
                        self.connect(n, p.0);
                        if kind == FaultKind::Cut {
                            self.returning.push((n, self.now));
                        }
                    }
                }
                FaultKind::Lossy => {
                    if let Some(p) = self.topo.parent_ix(NodeIx(n)) {
                        self.conn_entry(n, p.0).extra_loss = 0.0;
                    }
                }
                FaultKind::Deaf => self.nodes[n as usize].deaf = false,
            }
        }
        self.faults[f].down = false;
    }

    fn flap(&mut self, f: usize) {
        if self.faults[f].ended {
            return;
        }
        let down = !self.faults[f].down;
        self.faults[f].down = down;
        let nodes = self.faults[f].nodes.clone();
        for n in nodes {
            let Some(p) = self.topo.parent_ix(NodeIx(n)) else {
                continue;
            };
            let c = self.conn_entry(n, p.0);
            if down {
                c.cuts += 1;
                self.disconnect(n, p.0);
            } else {
                c.cuts = c.cuts.saturating_sub(1);
                self.connect(n, p.0);
            }
        }
        let at = self.now + self.faults[f].period;
        self.push(at, Ev::FlapToggle(f));
    }

    fn isolate(&mut self, root: Ix, group: u32) {
        let range = self.topo.subtree_range(NodeIx(root));
        for i in range.clone() {
            self.nodes[i as usize].group = group;
        }
        for i in range {
            let peers = self.nodes[i as usize].peers.clone();
            for p in peers {
                if self.nodes[p as usize].group != group {
                    self.disconnect(i, p);
                }
            }
        }
    }

    fn unisolate(&mut self, root: Ix, group: u32) {
        let range = self.topo.subtree_range(NodeIx(root));
        for i in range {
            if self.nodes[i as usize].group == group {
                self.nodes[i as usize].group = 0;
            }
        }
        if let Some(p) = self.topo.parent_ix(NodeIx(root)) {
            self.connect(root, p.0);
        }
        self.returning.push((root, self.now));
    }

    fn heal_all(&mut self) {
        for f in 0..self.faults.len() {
            if self.faults[f].end.is_some() {
                self.fault_end(f);
            }
        }
    }

    // ---- catch-up ----

    /// A returning node has caught up when no tree neighbour still owes it a copy.
    fn caught_up(&self, ix: Ix) -> bool {
        let id = &self.topo.node(NodeIx(ix)).id;
        let mut neighbours: Vec<Ix> = self.topo.children_ix(NodeIx(ix)).iter().map(|c| c.0).collect();
        if let Some(p) = self.topo.parent_ix(NodeIx(ix)) {
            neighbours.push(p.0);
        }
        neighbours.into_iter().all(|n| {
            self.nodes[n as usize].core.as_ref().is_none_or(|c| {
                !c.store()
                    .outbox
                    .range((id.clone(), EnvelopeId(0))..=(id.clone(), EnvelopeId(u128::MAX)))
                    .any(|(_, e)| !e.acked)
            })
        })
    }

    fn sample(&mut self) {
        let mut i = 0;
        while i < self.returning.len() {
            let (n, since) = self.returning[i];
            if self.up(n) && self.caught_up(n) {
                self.out.catch_ups.push(self.now - since);
                self.returning.remove(i);
            } else {
                i += 1;
            }
        }
    }

    // ---- the loop ----

    pub fn run(&mut self, progress: &mut dyn FnMut(Progress)) {
        while let Some((key, slot)) = self.heap.pop() {
            let at = (key >> 64) as u64;
            if at > self.end {
                break;
            }
            let ev = self.slab[slot as usize].take().expect("a queued event");
            self.free.push(slot);
            self.now = at;
            self.events += 1;
            match ev {
                Ev::Deliver {
                    from,
                    to,
                    child,
                    epoch,
                    bytes,
                } => {
                    let c = if child == u32::MAX {
                        self.conns.get(&Self::key(from, to))
                    } else {
                        self.tree[child as usize].as_ref()
                    };
                    let ok = c.is_some_and(|c| c.up && c.epoch == epoch);
                    if !ok || self.nodes[to as usize].deaf {
                        continue;
                    }
                    let now = self.local(to);
                    let peer = &self.topo.node(NodeIx(from)).id;
                    if let Some(core) = self.nodes[to as usize].core.as_mut() {
                        let _ = core.handle_frame(peer, &bytes, now);
                    }
                    self.drain_hinted(to, from);
                }
                Ev::Wake { node } => {
                    if self.nodes[node as usize].wake != Some(at) {
                        continue;
                    }
                    self.nodes[node as usize].wake = None;
                    let now = self.local(node);
                    if let Some(core) = self.nodes[node as usize].core.as_mut() {
                        core.handle_timeout(now);
                    }
                    self.drain(node);
                }
                Ev::FaultStart(f) => self.fault_start(f),
                Ev::FaultEnd(f) => self.fault_end(f),
                Ev::FlapToggle(f) => self.flap(f),
                Ev::Background => {
                    if at < self.end_load {
                        let v = self.reporters[self.rng.random_range(0..self.reporters.len())];
                        let s = self.pick_severity();
                        self.file_report(v, s);
                        let next = at + self.exp(3_600_000.0 / self.scenario.load.background_per_hour).max(1);
                        self.push(next, Ev::Background);
                    }
                }
                Ev::OrderTick => {
                    if at < self.end_load {
                        self.dispatch_order();
                        let next = at + self.exp(3_600_000.0 / self.scenario.load.orders_per_hour).max(1);
                        self.push(next, Ev::OrderTick);
                    }
                }
                Ev::BurstReport { node, severity } => self.file_report(node, severity),
                Ev::Accept { node, incident, tries } => {
                    let cmd = Command::Accept {
                        incident,
                        by: "sim".into(),
                    };
                    let again = Ev::Accept {
                        node,
                        incident,
                        tries: tries + 1,
                    };
                    self.operator_acts(at, node, tries, cmd, again);
                }
                Ev::SignFor { node, order, tries } => {
                    let cmd = Command::Acknowledge {
                        order,
                        state: TargetState::SignedFor { by: "sim".into() },
                    };
                    let again = Ev::SignFor {
                        node,
                        order,
                        tries: tries + 1,
                    };
                    self.operator_acts(at, node, tries, cmd, again);
                }
                Ev::Sample => {
                    self.sample();
                    self.push(at + SAMPLE_EVERY, Ev::Sample);
                }
                Ev::Progress => {
                    progress(Progress {
                        simulated: Duration::from_millis(at),
                        total: Duration::from_millis(self.end),
                    });
                    self.push(at + self.progress_every, Ev::Progress);
                }
                Ev::Heal => self.heal_all(),
            }
        }
        self.now = self.end;
        self.sample();
        progress(Progress {
            simulated: Duration::from_millis(self.end),
            total: Duration::from_millis(self.end),
        });
    }

    // ---- end of run ----

    pub fn node_name(&self, ix: Ix) -> String {
        self.topo.node(NodeIx(ix)).id.to_string()
    }

    /// Safety: an outbox entry a node persisted as acked by `peer` means
    /// `peer` has the envelope on its disk (peers whose disk was wiped
    /// by a fault are exempt: that loss is the fault's).
    pub fn acked_copies_missing(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (i, node) in self.nodes.iter().enumerate() {
            for ((peer, id), entry) in &node.disk.outbox {
                if !entry.acked || entry.gave_up {
                    continue;
                }
                let Some(p) = self.topo.ix(peer) else { continue };
                let pn = &self.nodes[p.0 as usize];
                if pn.ever_wiped {
                    continue;
                }
                if !pn.disk.envelopes.contains_key(id) {
                    out.push(format!(
                        "{} holds envelope {id} as acked by {peer}, which does not have it on disk",
                        self.node_name(i as u32)
                    ));
                }
            }
        }
        out
    }

    pub fn queue_peaks(&self, top: usize) -> Vec<report::QueuePeak> {
        let mut v: Vec<report::QueuePeak> = self
            .queues
            .iter()
            .filter(|(_, q)| q.1 > 0)
            .map(|(&(a, b), q)| report::QueuePeak {
                from: self.node_name(a),
                to: self.node_name(b),
                peak: q.1,
                at: Duration::from_millis(q.2),
            })
            .collect();
        v.sort_by(|x, y| {
            y.peak
                .cmp(&x.peak)
                .then_with(|| (&x.from, &x.to).cmp(&(&y.from, &y.to)))
        });
        v.truncate(top);
        v
    }

    pub fn pending_catch_up(&self) -> usize {
        self.returning.len()
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
