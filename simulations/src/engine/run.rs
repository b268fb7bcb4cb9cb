//! The run: the event loop, catch-up sampling of returning nodes, and the
//! end-of-run queries the report and the oracle read.

use super::*;

impl<'a> Sim<'a> {
    /// A returning node has caught up when no tree neighbour still owes it a copy.
    pub(super) fn caught_up(&self, ix: Ix) -> bool {
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

    pub(super) fn sample(&mut self) {
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

    pub fn node_name(&self, ix: Ix) -> String {
        self.topo.node(NodeIx(ix)).id.to_string()
    }

    /// A node's disk (the fold of its completed Persists), and whether a
    /// fault ever wiped it.
    pub fn disk(&self, ix: Ix) -> (&Store, bool) {
        let node = &self.nodes[ix as usize];
        (&node.disk, node.ever_wiped)
    }

    pub fn queue_peaks(&self, top: usize) -> Vec<report::QueuePeak> {
        let mut v: Vec<report::QueuePeak> = self
            .queues
            .iter()
            .filter(|(_, q)| q.peak > 0)
            .map(|(&(a, b), q)| report::QueuePeak {
                from: self.node_name(a),
                to: self.node_name(b),
                peak: q.peak,
                at: Duration::from_millis(q.peak_at),
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
