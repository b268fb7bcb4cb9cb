//! An in-memory federation of real [`Core`]s on a virtual clock: the
//! harness for tests and benchmarks (like quinn-proto's `Pair`, for many
//! nodes). No tokio, no sockets: frames are bytes in a queue, the clock
//! jumps to the next delivery or timer, and each node's "disk" is a
//! [`Store`] that only Persist effects change. Crashing a node drops its
//! core; restarting it restores from that disk. Faults (loss, duplication,
//! reordering, cut links, a crash right after a Persist) come from one
//! seeded generator, so a failing run replays exactly from its seed.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use liandong_topology::{NodeId, Topology};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::core::{Command, CommandError, Core, CoreConfig, Effect, Event};
use crate::document::{DocumentCheck, TestDocuments};
use crate::sign::TestKeys;
use crate::store::Store;
use crate::wire::{Document, EnvelopeId, Frame, Timestamp};

/// Faults applied to every frame in flight.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    /// Probability a frame is lost.
    pub drop: f64,
    /// Probability a frame is delivered twice.
    pub duplicate: f64,
    /// Extra random delay up to this, which reorders frames.
    pub jitter: Duration,
}

struct NetNode {
    core: Option<Core>,
    /// What survives a crash: the fold of every completed Persist.
    disk: Store,
    events: Vec<Event>,
    /// Crash right after the next Persist completes, before its sends.
    crash_after_persist: bool,
    /// The only origins whose keys the node holds at start (None: all).
    known_keys: Option<BTreeSet<NodeId>>,
    /// Keys the core asked for ([`Effect::NeedKey`]) and was not handed.
    key_asks: Vec<NodeId>,
    /// Neighbours' asks for certificates ([`Effect::KeyAsked`]): (who, of whom).
    asked_by: Vec<(NodeId, NodeId)>,
}

/// A whole federation in memory.
pub struct Net {
    pub topology: Arc<Topology>,
    pub now: Timestamp,
    pub latency: Duration,
    pub faults: Faults,
    pub config: CoreConfig,
    keys: TestKeys,
    /// How every core checks federation documents.
    documents: TestDocuments,
    rng: StdRng,
    seed: u64,
    nodes: BTreeMap<NodeId, NetNode>,
    /// Frames in flight: (delivery time, sequence) -> (from, to, bytes).
    flight: BTreeMap<(Timestamp, u64), (NodeId, NodeId, Vec<u8>)>,
    seq: u64,
    /// Connected pairs, stored both ways.
    links: BTreeSet<(NodeId, NodeId)>,
    /// Pairs that cannot connect (a cut cable).
    cut: BTreeSet<(NodeId, NodeId)>,
    /// Next wake-up of each live core.
    wakes: BTreeSet<(Timestamp, NodeId)>,
    wake_of: BTreeMap<NodeId, Timestamp>,
}

impl Net {
    /// Every node of `topology` running, each child connected to its parent.
    pub fn new(topology: Arc<Topology>, seed: u64) -> Net {
        Net::with_config(topology, seed, CoreConfig::default())
    }

    pub fn with_config(topology: Arc<Topology>, seed: u64, config: CoreConfig) -> Net {
        let now = Timestamp(1_800_000_000_000);
        let mut net = Net {
            topology: topology.clone(),
            now,
            latency: Duration::from_millis(20),
            faults: Faults::default(),
            config,
            keys: TestKeys::new(seed),
            documents: TestDocuments::default(),
            rng: StdRng::seed_from_u64(seed),
            seed,
            nodes: BTreeMap::new(),
            flight: BTreeMap::new(),
            seq: 0,
            links: BTreeSet::new(),
            cut: BTreeSet::new(),
            wakes: BTreeSet::new(),
            wake_of: BTreeMap::new(),
        };
        for n in topology.nodes() {
            let node = NetNode {
                core: None,
                disk: Store::default(),
                events: Vec::new(),
                crash_after_persist: false,
                known_keys: None,
                key_asks: Vec::new(),
                asked_by: Vec::new(),
            };
            net.nodes.insert(n.id.clone(), node);
            net.start(&n.id);
        }
        let pairs: Vec<(NodeId, NodeId)> = topology
            .nodes()
            .filter_map(|n| n.parent.clone().map(|p| (n.id.clone(), p)))
            .collect();
        for (child, parent) in pairs {
            net.connect(&child, &parent);
        }
        net
    }

    /// `frame` with the envelope it carries signed by `node`, as that node
    /// would (for tests that replay or forge what a node sends).
    pub fn sign_as(&self, node: &NodeId, mut frame: Frame) -> Frame {
        if let Frame::Carry(carry) = &mut frame {
            crate::sign::sign_envelope(&mut carry.envelope, &self.keys.signer(node));
        }
        frame
    }

    /// A new node joins, started on the bootstrap document `doc` (one
    /// that names it); it is not connected to anyone yet.
    pub fn join(&mut self, id: &NodeId, doc: Document) -> Result<(), CommandError> {
        let topology = self
            .documents
            .check(&doc, self.now)
            .map_err(CommandError::BadDocument)?;
        let seed = self.seed ^ self.seq.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.seq += 1;
        let mut core = Core::new(
            topology,
            id.clone(),
            self.config.clone(),
            Box::new(self.keys.signer(id)),
            self.keys.check(),
            seed,
            self.now,
        )
        .map_err(|e| CommandError::BadDocument(e.to_string()))?;
        core.set_documents(Box::new(self.documents.clone()));
        core.handle_bootstrap(doc, self.now)?;
        self.nodes.insert(
            id.clone(),
            NetNode {
                core: Some(core),
                disk: Store::default(),
                events: Vec::new(),
                crash_after_persist: false,
                known_keys: None,
                key_asks: Vec::new(),
                asked_by: Vec::new(),
            },
        );
        self.drain(id);
        Ok(())
    }

    fn start(&mut self, id: &NodeId) {
        let seed = self.seed ^ self.seq.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.seq += 1;
        let Some(node) = self.nodes.get_mut(id) else { return };
        let check = match &node.known_keys {
            Some(known) => self.keys.knowing(known.iter().cloned()),
            None => self.keys.check(),
        };
        node.key_asks.clear();
        // A node that took a federation document restarts on it.
        let topology = node
            .disk
            .document()
            .and_then(|d| self.documents.check(d, self.now).ok())
            .unwrap_or_else(|| self.topology.clone());
        let core = Core::restore(
            topology,
            id.clone(),
            self.config.clone(),
            Box::new(self.keys.signer(id)),
            check,
            seed,
            node.disk.clone(),
            self.now,
        );
        node.core = core.ok().map(|mut core| {
            core.set_documents(Box::new(self.documents.clone()));
            core
        });
        self.drain(id);
    }

    pub fn core(&self, id: &NodeId) -> &Core {
        self.nodes
            .get(id)
            .and_then(|n| n.core.as_ref())
            .unwrap_or_else(|| panic!("{id} is not running"))
    }

    pub fn is_up(&self, id: &NodeId) -> bool {
        self.nodes.get(id).is_some_and(|n| n.core.is_some())
    }

    /// What a node persisted: its disk.
    pub fn disk(&self, id: &NodeId) -> &Store {
        &self.nodes[id].disk
    }

    /// Events a node notified, oldest first.
    pub fn events(&self, id: &NodeId) -> &[Event] {
        &self.nodes[id].events
    }

    /// The reasons of the frames a node refused, oldest first.
    pub fn refusals(&self, id: &NodeId) -> Vec<String> {
        self.events(id)
            .iter()
            .filter_map(|e| match e {
                Event::Refused { reason, .. } => Some(reason.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn ids(&self) -> impl Iterator<Item = &NodeId> {
        self.nodes.keys()
    }

    /// An operator's command at node `at`, now.
    pub fn command(&mut self, at: &NodeId, command: Command) -> Result<EnvelopeId, CommandError> {
        let now = self.now;
        let result = match self.nodes.get_mut(at).and_then(|n| n.core.as_mut()) {
            Some(core) => core.handle_command(command, now),
            None => panic!("{at} is not running"),
        };
        self.drain(at);
        result
    }

    /// Restarts `id` (from its disk) holding only the keys of `known`, as
    /// a node whose other certificates are not loaded yet: envelopes from
    /// other origins make its core ask ([`Net::key_asks`]).
    pub fn hold_only_keys(&mut self, id: &NodeId, known: impl IntoIterator<Item = NodeId>) {
        if let Some(node) = self.nodes.get_mut(id) {
            node.known_keys = Some(known.into_iter().collect());
        }
        self.crash(id);
        self.restart(id);
    }

    /// Keys `id`'s core asked for and was not handed yet, oldest first.
    /// The asks of neighbours for certificates `id` holds: (who, of whom).
    pub fn key_asked(&self, id: &NodeId) -> &[(NodeId, NodeId)] {
        self.nodes.get(id).map_or(&[], |n| &n.asked_by)
    }

    pub fn key_asks(&self, id: &NodeId) -> &[NodeId] {
        &self.nodes[id].key_asks
    }

    /// Hands `id`'s core the key of `origin` it asked for (or, with
    /// `Err`, why it could not be loaded), as a driver does.
    pub fn hand_key(&mut self, id: &NodeId, origin: &NodeId, loaded: Result<(), String>) {
        let key = loaded.map(|()| self.keys.public_key(origin));
        let now = self.now;
        if let Some(node) = self.nodes.get_mut(id) {
            node.key_asks.retain(|o| o != origin);
            if let Some(core) = node.core.as_mut() {
                core.handle_key(origin, key, now);
            }
        }
        self.drain(id);
    }

    /// Injects raw bytes as if `from` had sent them to `to`.
    pub fn inject(&mut self, from: &NodeId, to: &NodeId, bytes: Vec<u8>) {
        let at = self.now.plus(self.latency);
        self.flight.insert((at, self.seq), (from.clone(), to.clone(), bytes));
        self.seq += 1;
    }

    fn pair(a: &NodeId, b: &NodeId) -> (NodeId, NodeId) {
        if a < b {
            (a.clone(), b.clone())
        } else {
            (b.clone(), a.clone())
        }
    }

    /// Opens a connection between two running nodes unless the pair is cut.
    pub fn connect(&mut self, a: &NodeId, b: &NodeId) {
        if !self.is_up(a)
            || !self.is_up(b)
            || self.cut.contains(&Net::pair(a, b))
            || self.links.contains(&Net::pair(a, b))
        {
            return;
        }
        self.links.insert(Net::pair(a, b));
        let now = self.now;
        for (x, y) in [(a, b), (b, a)] {
            if let Some(core) = self.nodes.get_mut(x).and_then(|n| n.core.as_mut()) {
                core.handle_link(y, true, now);
            }
            self.drain(x);
        }
    }

    fn disconnect(&mut self, a: &NodeId, b: &NodeId) {
        if !self.links.remove(&Net::pair(a, b)) {
            return;
        }
        let now = self.now;
        for (x, y) in [(a, b), (b, a)] {
            if let Some(core) = self.nodes.get_mut(x).and_then(|n| n.core.as_mut()) {
                core.handle_link(y, false, now);
            }
            self.drain(x);
        }
    }

    fn peers_of(&self, id: &NodeId) -> Vec<NodeId> {
        self.links
            .iter()
            .filter_map(|(a, b)| {
                if a == id {
                    Some(b.clone())
                } else if b == id {
                    Some(a.clone())
                } else {
                    None
                }
            })
            .collect()
    }

    /// Cuts the cable between two nodes until [`heal`](Net::heal).
    pub fn cut(&mut self, a: &NodeId, b: &NodeId) {
        self.cut.insert(Net::pair(a, b));
        self.disconnect(a, b);
    }

    /// Restores a cut cable; tree neighbours reconnect at once.
    pub fn heal(&mut self, a: &NodeId, b: &NodeId) {
        self.cut.remove(&Net::pair(a, b));
        let tree =
            self.topology.parent(a).is_some_and(|p| p.id == *b) || self.topology.parent(b).is_some_and(|p| p.id == *a);
        if tree {
            self.connect(a, b);
        }
    }

    /// Kills a node: its core and everything not persisted is gone.
    pub fn crash(&mut self, id: &NodeId) {
        for peer in self.peers_of(id) {
            self.disconnect(id, &peer);
        }
        if let Some(node) = self.nodes.get_mut(id) {
            node.core = None;
        }
        if let Some(at) = self.wake_of.remove(id) {
            self.wakes.remove(&(at, id.clone()));
        }
    }

    /// Crashes `id` and loses its disk: it restarts with nothing.
    pub fn crash_and_lose_disk(&mut self, id: &NodeId) {
        self.crash(id);
        if let Some(node) = self.nodes.get_mut(id) {
            node.disk = Store::default();
        }
    }

    /// Crashes `id` right after its next Persist is on disk, before any
    /// effect that follows it (the window the durability rule is about).
    pub fn crash_after_next_persist(&mut self, id: &NodeId) {
        if let Some(node) = self.nodes.get_mut(id) {
            node.crash_after_persist = true;
        }
    }

    /// Restarts a crashed node from its disk; it dials its parent and its
    /// running children dial it.
    pub fn restart(&mut self, id: &NodeId) {
        self.start(id);
        if let Some(parent) = self.topology.parent(id).map(|p| p.id.clone()) {
            self.connect(id, &parent);
        }
        let children: Vec<NodeId> = self.topology.children(id).map(|c| c.id.clone()).collect();
        for child in children {
            self.connect(&child, id);
        }
    }

    /// Executes every effect a node has queued.
    fn drain(&mut self, id: &NodeId) {
        loop {
            let Some(node) = self.nodes.get_mut(id) else { return };
            let Some(core) = node.core.as_mut() else { return };
            let Some(effect) = core.poll_effect() else { break };
            match effect {
                Effect::Persist(records) => {
                    for r in &records {
                        node.disk.apply(r);
                    }
                    if node.crash_after_persist {
                        node.crash_after_persist = false;
                        self.crash(id);
                        return;
                    }
                }
                Effect::Send { peer, frame, .. } => self.transmit(id, &peer, frame),
                Effect::Notify(event) => node.events.push(event),
                Effect::Connect(peer) => self.connect(id, &peer),
                Effect::NeedKey(origin) => node.key_asks.push(origin),
                // Links here are pairs the test connects; nothing to follow.
                Effect::Reconfigure { .. } => {}
                // Keys here come from the test (`hand_key`), not from
                // certificates: a neighbour's ask is noted, not answered.
                Effect::KeyAsked { peer, node: of } => node.asked_by.push((peer, of)),
                Effect::KeyOffered { .. } => {}
                Effect::PhotoAsked { .. } | Effect::PhotoPiece { .. } => {}
            }
        }
        self.rearm(id);
    }

    fn rearm(&mut self, id: &NodeId) {
        if let Some(at) = self.wake_of.remove(id) {
            self.wakes.remove(&(at, id.clone()));
        }
        if let Some(at) = self
            .nodes
            .get(id)
            .and_then(|n| n.core.as_ref())
            .and_then(Core::poll_timeout)
        {
            self.wakes.insert((at, id.clone()));
            self.wake_of.insert(id.clone(), at);
        }
    }

    fn transmit(&mut self, from: &NodeId, to: &NodeId, frame: Vec<u8>) {
        if !self.links.contains(&Net::pair(from, to)) || self.rng.random_bool(self.faults.drop.clamp(0.0, 1.0)) {
            return;
        }
        let copies = if self.rng.random_bool(self.faults.duplicate.clamp(0.0, 1.0)) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let jitter = self.faults.jitter.as_millis() as u64;
            let extra = if jitter > 0 {
                self.rng.random_range(0..=jitter)
            } else {
                0
            };
            let at = self.now.plus(self.latency + Duration::from_millis(extra));
            self.flight
                .insert((at, self.seq), (from.clone(), to.clone(), frame.clone()));
            self.seq += 1;
        }
    }

    /// Runs the next delivery or timer. False when nothing is left to do.
    pub fn step(&mut self) -> bool {
        let next_frame = self.flight.keys().next().map(|(t, _)| *t);
        let next_wake = self.wakes.first().map(|(t, _)| *t);
        match (next_frame, next_wake) {
            (Some(f), w) if w.is_none_or(|w| f <= w) => {
                let Some(((at, _), (from, to, bytes))) = self.flight.pop_first() else {
                    return false;
                };
                self.now = self.now.max(at);
                // Frames on a cable that was cut or to a dead node are lost.
                if !self.links.contains(&Net::pair(&from, &to)) {
                    return true;
                }
                let now = self.now;
                if let Some(core) = self.nodes.get_mut(&to).and_then(|n| n.core.as_mut()) {
                    let _ = core.handle_frame(&from, &bytes, now);
                }
                self.drain(&to);
                true
            }
            (_, Some(w)) => {
                let Some((at, id)) = self.wakes.pop_first() else {
                    return false;
                };
                self.wake_of.remove(&id);
                self.now = self.now.max(w.max(at));
                let now = self.now;
                if let Some(core) = self.nodes.get_mut(&id).and_then(|n| n.core.as_mut()) {
                    core.handle_timeout(now);
                }
                self.drain(&id);
                true
            }
            _ => false,
        }
    }

    /// Runs until virtual time has advanced by `d` (or nothing is left).
    pub fn run_for(&mut self, d: Duration) {
        let end = self.now.plus(d);
        while self.next_time().is_some_and(|t| t <= end) {
            self.step();
        }
        self.now = self.now.max(end);
    }

    /// Runs until `done` holds, checking after every step, for at most `limit`
    /// of virtual time. True if `done` held.
    pub fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&Net) -> bool) -> bool {
        let end = self.now.plus(limit);
        loop {
            if done(self) {
                return true;
            }
            match self.next_time() {
                Some(t) if t <= end => {
                    self.step();
                }
                _ => return done(self),
            }
        }
    }

    fn next_time(&self) -> Option<Timestamp> {
        let f = self.flight.keys().next().map(|(t, _)| *t);
        let w = self.wakes.first().map(|(t, _)| *t);
        match (f, w) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}
