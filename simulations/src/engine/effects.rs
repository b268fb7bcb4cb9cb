//! Executing a core's effects: persisting to the node's disk before any
//! later effect, frames onto the link model (delay, loss, partitions; on
//! capped, `reliable` or declared links through their lanes, `lanes`),
//! re-arming wake-ups, operators' follow-ups, and what the core's events
//! tell the tallies.

use liandong_dispatch::{Body, RoomBody};

use super::*;

impl<'a> Sim<'a> {
    /// The index of `peer` as seen from `ix`: usually its parent or the
    /// node whose frame is being handled, which saves a hash lookup.
    pub(super) fn peer_ix(&self, ix: Ix, peer: &liandong_topology::NodeId, hint: Ix) -> Option<Ix> {
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

    pub(super) fn drain(&mut self, ix: Ix) {
        self.drain_hinted(ix, u32::MAX);
    }

    /// A simulated operator at `node` presses a button; if the node is
    /// down they try again later (`again`), a bounded number of times.
    pub(super) fn operator_acts(&mut self, at: u64, node: Ix, tries: u8, cmd: Command, again: Ev) {
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

    pub(super) fn drain_hinted(&mut self, ix: Ix, hint: Ix) {
        let mut connects: Vec<Ix> = Vec::new();
        while let Some(effect) = self.nodes[ix as usize].core.as_mut().and_then(Core::poll_effect) {
            match effect {
                Effect::Persist(records) => self.persist(ix, records),
                Effect::Send { peer, lane, frame } => {
                    if let Some(p) = self.peer_ix(ix, &peer, hint) {
                        self.transmit(ix, p, lane, frame);
                    }
                }
                Effect::Notify(event) => self.on_event(ix, event),
                Effect::Connect(peer) => {
                    if let Some(p) = self.topo.ix(&peer) {
                        connects.push(p.0);
                    }
                }
                // Simulated nodes check with every key (`TestKeys::check`),
                // so this is not asked today; a driver that has them all
                // hands the key back at once (its effects come next in
                // this loop).
                Effect::NeedKey(origin) => {
                    let now = self.local(ix);
                    if let Some(core) = self.nodes[ix as usize].core.as_mut() {
                        core.handle_key(&origin, Ok(self.keys.public_key(&origin)), now);
                    }
                }
                // The driver's links follow a new version's tree; here the
                // tree is the scenario's in every version (`documents`), so
                // the network has nothing to follow. Applications are
                // tallied from `Event::DocumentApplied`, which comes with it.
                Effect::Reconfigure { .. } => {}
                // Simulated nodes hold every key: nothing is asked.
                Effect::KeyAsked { .. }
                | Effect::KeyOffered { .. }
                | Effect::PhotoAsked { .. }
                | Effect::PhotoPiece { .. } => {}
            }
        }
        for p in connects {
            self.connect(ix, p);
        }
        self.rearm(ix);
    }

    pub(super) fn persist(&mut self, ix: Ix, records: Vec<Record>) {
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
                Record::Envelope(stored)
                    if matches!(stored.envelope.body, Body::Room(RoomBody::Sync { .. }))
                        && stored.envelope.origin == self.topo.node(NodeIx(ix)).id =>
                {
                    self.rooms.gaps_asked += 1;
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

    pub(super) fn queue_delta(&mut self, ix: Ix, peer: Ix, up: bool) {
        let now = self.now;
        let q = self.queues.entry((ix, peer)).or_default();
        if up {
            q.now += 1;
            if q.now > q.peak {
                q.peak = q.now;
                q.peak_at = now;
            }
        } else {
            q.now = q.now.saturating_sub(1);
        }
    }

    /// A frame onto its link. A link with a bandwidth cap, `reliable`
    /// streams or a declared class carries it on its lane (`lanes`);
    /// any other goes straight out, with the loss, duplication and delay
    /// draws the engine has always made (so such runs replay unchanged).
    pub(super) fn transmit(&mut self, from: Ix, to: Ix, lane: liandong_dispatch::Lane, bytes: Vec<u8>) {
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
        if c.model.bandwidth_kbps > 0 || c.model.reliable || c.copies > 0 || c.rate.is_some() {
            self.enqueue(from, to, child, lane, bytes);
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
        let base = model.latency.0.as_millis() as u64;
        let jitter = model.jitter.map_or(0.0, |j| j.0.as_millis() as f64);
        self.out.frames_sent += 1;
        let unordered = |bytes| Ev::Deliver {
            from,
            to,
            child,
            epoch,
            bytes,
        };
        if copies == 2 {
            let at = now + base + self.exp(jitter);
            self.push(at, unordered(bytes.clone()));
        }
        let at = now + base + self.exp(jitter);
        self.push(at, unordered(bytes));
    }

    pub(super) fn rearm(&mut self, ix: Ix) {
        let skew = self.nodes[ix as usize].skew;
        let Some(t) = self.nodes[ix as usize].core.as_ref().and_then(Core::poll_timeout) else {
            self.nodes[ix as usize].wake = None;
            return;
        };
        let global = ((t.0 as i64 - skew) as u64).saturating_sub(self.epoch).max(self.now);
        if self.nodes[ix as usize].wake == Some(global) {
            return;
        }
        self.nodes[ix as usize].wake = Some(global);
        self.push(global, Ev::Wake { node: ix });
    }

    pub(super) fn on_event(&mut self, ix: Ix, event: Event) {
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
                    let origin = self.reports[r as usize].origin;
                    if self.reports[r as usize].first_hop.is_none()
                        && self.topo.parent_ix(NodeIx(origin)) == Some(NodeIx(ix))
                    {
                        self.reports[r as usize].first_hop = Some(now);
                    }
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
                if owner_ix != ix || !self.scenario.load.operators {
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
                    t.reached_at = Some(now);
                    let sent = t.sent;
                    self.out.order_delivered(now, now - sent);
                }
                if !self.scenario.load.operators {
                    return;
                }
                let mean = self.scenario.load.sign_for_after.0.as_millis() as f64;
                let mut after = self.exp(mean);
                if self.is_room_task(ix, order) {
                    // People in a room sign for its tasks within three
                    // times the mean, so every one settles before the end.
                    after = after.min(3 * mean as u64);
                }
                let at = now + after;
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
            Event::DocumentApplied { version, .. } => self.document_applied(ix, version),
            Event::RoomChanged { .. } | Event::RoomRefused { .. } => self.room_event(ix, &event),
            Event::Refused { reason, .. } if reason.starts_with("cannot send") => self.unsendable(ix, &reason),
            _ => {}
        }
    }
}
