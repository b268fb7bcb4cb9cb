//! Faults from the scenario's timeline: start and end, flapping links,
//! partitions of a subtree, healing.

use super::*;

impl<'a> Sim<'a> {
    pub(super) fn fault_start(&mut self, f: usize) {
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

    pub(super) fn fault_end(&mut self, f: usize) {
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

    pub(super) fn flap(&mut self, f: usize) {
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

    pub(super) fn isolate(&mut self, root: Ix, group: u32) {
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

    pub(super) fn unisolate(&mut self, root: Ix, group: u32) {
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

    pub(super) fn heal_all(&mut self) {
        for f in 0..self.faults.len() {
            if self.faults[f].end.is_some() {
                self.fault_end(f);
            }
        }
    }
}
