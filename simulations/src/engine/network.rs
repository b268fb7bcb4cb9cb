//! The simulated nodes and their connections: starting a core, which
//! pairs may link, tree and failover connections up and down, crash,
//! restart and disk loss.

use super::*;

impl<'a> Sim<'a> {
    pub(super) fn local(&self, node: Ix) -> Timestamp {
        Timestamp((self.epoch as i64 + self.now as i64 + self.nodes[node as usize].skew) as u64)
    }

    pub(super) fn start(&mut self, ix: Ix) {
        let node = &mut self.nodes[ix as usize];
        node.starts += 1;
        let seed = splitmix(self.seed ^ (u64::from(ix) << 20) ^ (u64::from(node.starts) << 52));
        let id = self.topo.node(NodeIx(ix)).id.clone();
        let now = self.local(ix);
        let node = &mut self.nodes[ix as usize];
        // A node that took a federation document restarts on the newest
        // one on its disk; a new or wiped one on the scenario's topology.
        let topology = node
            .disk
            .document()
            .and_then(|d| self.documents.check(d, now).ok())
            .unwrap_or_else(|| self.topo.clone());
        node.core = Core::restore(
            topology,
            id.clone(),
            self.config.clone(),
            Box::new(keys::WideSigner(Box::new(self.keys.signer(&id)))),
            Box::new(keys::WideCheck::new(&self.keys)),
            seed,
            node.disk.clone(),
            now,
        )
        .ok()
        .map(|mut core| {
            core.set_documents(Box::new(self.documents.clone()));
            core
        });
        self.drain(ix);
    }

    pub(super) fn up(&self, ix: Ix) -> bool {
        self.nodes[ix as usize].core.is_some()
    }

    pub(super) fn key(a: Ix, b: Ix) -> (Ix, Ix) {
        if a < b { (a, b) } else { (b, a) }
    }

    pub(super) fn allowed(&self, a: Ix, b: Ix) -> bool {
        self.up(a)
            && self.up(b)
            && self.nodes[a as usize].group == self.nodes[b as usize].group
            && self.conn(a, b).is_none_or(|c| c.cuts == 0)
    }

    pub(super) fn is_parent(&self, child: Ix, parent: Ix) -> bool {
        self.topo.parent_ix(NodeIx(child)) == Some(NodeIx(parent))
    }

    /// The child end if `a`-`b` is a tree edge.
    pub(super) fn tree_child(&self, a: Ix, b: Ix) -> Option<Ix> {
        if self.topo.parent_ix(NodeIx(a)) == Some(NodeIx(b)) {
            Some(a)
        } else if self.topo.parent_ix(NodeIx(b)) == Some(NodeIx(a)) {
            Some(b)
        } else {
            None
        }
    }

    pub(super) fn conn(&self, a: Ix, b: Ix) -> Option<&Conn> {
        match self.tree_child(a, b) {
            Some(c) => self.tree[c as usize].as_ref(),
            None => self.conns.get(&Self::key(a, b)),
        }
    }

    pub(super) fn conn_mut(&mut self, a: Ix, b: Ix) -> Option<&mut Conn> {
        match self.tree_child(a, b) {
            Some(c) => self.tree[c as usize].as_mut(),
            None => self.conns.get_mut(&Self::key(a, b)),
        }
    }

    pub(super) fn conn_entry(&mut self, a: Ix, b: Ix) -> &mut Conn {
        let k = Self::key(a, b);
        let lower = if self.topo.depth_ix(NodeIx(k.0)) >= self.topo.depth_ix(NodeIx(k.1)) {
            k.0
        } else {
            k.1
        };
        let level = self.topo.node(NodeIx(lower)).level;
        let model = self.scenario.link_model(level);
        let class = self.topo.link().class(level);
        let (copies, rate) = (class.urgent_copies, class.rate);
        let fresh = || Conn {
            up: false,
            epoch: 0,
            lanes: None,
            copies,
            rate,
            cuts: 0,
            extra_loss: 0.0,
            model,
        };
        match self.tree_child(a, b) {
            Some(c) => self.tree[c as usize].get_or_insert_with(fresh),
            None => self.conns.entry(k).or_insert_with(fresh),
        }
    }

    pub(super) fn connect(&mut self, a: Ix, b: Ix) {
        if a == b || !self.allowed(a, b) {
            return;
        }
        let c = self.conn_entry(a, b);
        if c.up {
            return;
        }
        c.up = true;
        c.epoch += 1;
        c.lanes = None;
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

    pub(super) fn disconnect(&mut self, a: Ix, b: Ix) {
        let Some(c) = self.conn_mut(a, b) else { return };
        if !c.up {
            return;
        }
        c.up = false;
        c.epoch += 1;
        c.lanes = None;
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
    pub(super) fn reconnect_tree(&mut self, ix: Ix) {
        if let Some(p) = self.topo.parent_ix(NodeIx(ix)) {
            self.connect(ix, p.0);
        }
        let children: Vec<Ix> = self.topo.children_ix(NodeIx(ix)).iter().map(|c| c.0).collect();
        for c in children {
            self.connect(c, ix);
        }
    }

    pub(super) fn crash(&mut self, ix: Ix) {
        let peers = self.nodes[ix as usize].peers.clone();
        for p in peers {
            self.disconnect(ix, p);
        }
        let node = &mut self.nodes[ix as usize];
        node.core = None;
        node.wake = None;
        self.returning.retain(|(n, _)| *n != ix);
        self.downs.push(Down {
            node: ix,
            from: self.now,
            until: None,
        });
    }

    pub(super) fn restart(&mut self, ix: Ix, lose_disk: bool) {
        if self.up(ix) {
            return;
        }
        if lose_disk {
            self.wipe(ix);
        }
        self.start(ix);
        let now = self.now;
        if let Some(down) = self.downs.iter_mut().rev().find(|d| d.node == ix) {
            down.until = Some(now);
        }
        self.reconnect_tree(ix);
        self.returning.push((ix, self.now));
    }

    /// The disk is gone: what only it held is lost with it, which is the
    /// fault, not the protocol's doing. Those items are excused.
    pub(super) fn wipe(&mut self, ix: Ix) {
        let node = &mut self.nodes[ix as usize];
        node.ever_wiped = true;
        let disk = std::mem::take(&mut node.disk);
        let mut held: Vec<EnvelopeId> = disk.pending().map(|(_, id, _)| *id).collect();
        self.rooms.in_flight_lost.extend(held.iter().copied());
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
        self.rooms_wiped(ix);
    }
}
