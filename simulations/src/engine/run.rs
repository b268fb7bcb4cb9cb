//! The run: the event loop, catch-up sampling of returning nodes, and the
//! end-of-run queries the report and the oracle read.

use super::*;
use crate::scenario::SeriesKind;

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

    /// Whether a frame of connection `epoch` may still arrive.
    pub(super) fn live(&self, from: Ix, to: Ix, child: Ix, epoch: u32) -> bool {
        let c = if child == u32::MAX {
            self.conns.get(&Self::key(from, to))
        } else {
            self.tree[child as usize].as_ref()
        };
        c.is_some_and(|c| c.up && c.epoch == epoch)
    }

    /// Frames that arrived at `to` from `from`, to its core (unless it is deaf).
    fn hand_up(&mut self, from: Ix, to: Ix, frames: Vec<Vec<u8>>) {
        if self.nodes[to as usize].deaf {
            return;
        }
        for bytes in frames {
            let now = self.local(to);
            let peer = &self.topo.node(NodeIx(from)).id;
            if let Some(core) = self.nodes[to as usize].core.as_mut() {
                let _ = core.handle_frame(peer, &bytes, now);
            }
            self.drain_hinted(to, from);
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
                    if self.live(from, to, child, epoch) {
                        self.hand_up(from, to, vec![bytes]);
                    }
                }
                Ev::Packet {
                    from,
                    to,
                    child,
                    epoch,
                    packet,
                } => {
                    if self.live(from, to, child, epoch) {
                        // In lane order first (what QUIC hands up), then deafness.
                        let frames = self.arrive(from, to, child, packet);
                        self.hand_up(from, to, frames);
                    }
                }
                Ev::Retransmit {
                    from,
                    to,
                    child,
                    epoch,
                    packet,
                } => self.retransmit(from, to, child, epoch, packet),
                Ev::Pace { from, to, child, epoch } => self.pace(from, to, child, epoch),
                Ev::SeriesItem { series } => self.series_item(series),
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
                    if at < self.end_filing {
                        let v = self.reporters[self.rng.random_range(0..self.reporters.len())];
                        let s = self.pick_severity();
                        self.file_report(v, s);
                        let next = at + self.exp(3_600_000.0 / self.scenario.load.background_per_hour).max(1);
                        self.push(next, Ev::Background);
                    }
                }
                Ev::OrderTick => {
                    if at < self.end_filing {
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
                    if self.up(node) {
                        self.signed_for(node, order);
                    }
                }
                Ev::RoomReport { room, tries } => self.room_report(room, tries),
                Ev::RoomOpen { room, tries } => self.room_open(room, tries),
                Ev::RoomAct { room } => self.room_act(room),
                Ev::RoomClose { room, tries } => self.room_close(room, tries),
                Ev::Finish { node, order, tries } => self.finish_task(node, order, tries),
                Ev::Publish { index, tries } => self.publish(index, tries),
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

    /// A node's core, if it is up.
    pub fn core(&self, ix: Ix) -> Option<&Core> {
        self.nodes[ix as usize].core.as_ref()
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

    /// The figures of each `[[load.series]]`.
    pub fn series_figures(&self) -> Vec<report::SeriesFigures> {
        // Heals are the fault windows' ends (not the end of the load: a
        // backlog still draining then was not held back by it).
        let mut heals: Vec<u64> = self.out.faults.iter().map(|w| w.end.as_millis() as u64).collect();
        heals.sort_unstable();
        // How long the series took to drain, and whether a fault held it
        // back (it was all filed before the heal its drain is timed from).
        let drained = |filed: &[u64], arrived: &[Option<u64>]| -> Option<(Duration, bool)> {
            let last = arrived.iter().try_fold(0, |m, a| a.map(|a| a.max(m)))?;
            let filed = filed.iter().copied().max().unwrap_or(0);
            let heal = heals.iter().rev().find(|&&h| h <= last).copied().unwrap_or(0);
            Some((
                Duration::from_millis(last.saturating_sub(filed.max(heal))),
                heal > filed,
            ))
        };
        let times = |filed: &[u64], arrived: &[Option<u64>]| {
            let v = filed
                .iter()
                .zip(arrived)
                .filter_map(|(f, a)| a.map(|a| a - f))
                .collect();
            report::Percentiles::of(v)
        };
        // A backlog a fault held back: the bytes that arrived over its
        // drain, as a share of `level`'s link cap.
        let share = |bytes: u64, drained: Option<(Duration, bool)>, level: Level| {
            let cap = self.scenario.link_model(level).bandwidth_kbps * 1000 / 8;
            let (took, held) = drained?;
            let secs = took.as_secs_f64();
            (held && cap > 0 && secs > 0.0).then(|| bytes as f64 / secs / cap as f64)
        };
        // Each series' items: when filed, when they arrived at each stage
        // (the last stage is what the drain is timed on), their bytes.
        struct Items {
            label: String,
            filed: Vec<u64>,
            stages: Vec<(String, Vec<Option<u64>>)>,
            bytes: u64,
            /// The level whose link cap the drain rate is a share of.
            level: Level,
            drained: Option<(Duration, bool)>,
        }
        let mut all = Vec::new();
        for (i, s) in self.scenario.load.series.iter().enumerate() {
            let (node, to) = self.series[i];
            let what = match s.kind {
                SeriesKind::Report => format!("{} reports at {}", s.severity, self.node_name(node)),
                SeriesKind::Order => format!(
                    "{} orders {} -> {}",
                    s.severity,
                    self.node_name(node),
                    self.node_name(to)
                ),
            };
            let label = format!(
                "{} {what}, from {} every {}",
                s.count,
                report::human(s.at.0),
                report::human(s.every.0)
            );
            let mut items = if s.kind == SeriesKind::Report {
                let rs: Vec<&ReportTrack> = self.reports.iter().filter(|r| r.series == i as u32).collect();
                let parent = self
                    .topo
                    .parent_ix(NodeIx(node))
                    .map_or("none".into(), |p| self.node_name(p.0));
                let owner_name = rs.first().map_or("?".into(), |r| self.node_name(r.owner));
                Items {
                    label,
                    filed: rs.iter().map(|r| r.sent).collect(),
                    stages: vec![
                        (
                            format!("at owner {owner_name}"),
                            rs.iter().map(|r| r.delivered).collect(),
                        ),
                        (
                            format!("at {parent} (first hop)"),
                            rs.iter().map(|r| r.first_hop).collect(),
                        ),
                    ],
                    bytes: rs
                        .iter()
                        .filter(|r| r.first_hop.is_some())
                        .map(|r| u64::from(r.bytes))
                        .sum(),
                    level: self.topo.node(NodeIx(node)).level,
                    drained: None,
                }
            } else {
                let os: Vec<&OrderTrack> = self.orders.iter().filter(|o| o.series == i as u32).collect();
                Items {
                    label,
                    filed: os.iter().map(|o| o.sent).collect(),
                    stages: vec![(
                        format!("at target {}", self.node_name(to)),
                        os.iter().map(|o| o.reached_at).collect(),
                    )],
                    bytes: os
                        .iter()
                        .filter(|o| o.reached_at.is_some())
                        .map(|o| u64::from(o.bytes))
                        .sum(),
                    level: self.topo.node(NodeIx(to)).level,
                    drained: None,
                }
            };
            let (_, on) = items.stages.last().expect("a stage");
            items.drained = drained(&items.filed, on);
            all.push(items);
        }
        // From the heal to the last arrival of the backlogs a fault held
        // back: items filed then met them (the live bench's "backlog" rows).
        let windows: Vec<(u64, u64)> = all
            .iter()
            .filter_map(|x| {
                let (took, held) = x.drained?;
                let last = x.stages.last()?.1.iter().flatten().max().copied()?;
                held.then(|| (last - took.as_millis() as u64, last))
            })
            .collect();
        let backlog = windows.iter().map(|w| w.0).min().zip(windows.iter().map(|w| w.1).max());
        let mut out = Vec::new();
        for x in all {
            let held = x.drained.is_some_and(|(_, held)| held);
            let stage = |(at, arrived): &(String, Vec<Option<u64>>), (from, until): (u64, u64)| {
                let (filed, arrived): (Vec<u64>, Vec<Option<u64>>) = x
                    .filed
                    .iter()
                    .zip(arrived)
                    .filter(|(f, _)| (from..=until).contains(*f))
                    .map(|(f, a)| (*f, *a))
                    .unzip();
                report::Stage {
                    at: at.clone(),
                    times: times(&filed, &arrived),
                }
            };
            let mut stages: Vec<report::Stage> = x.stages.iter().rev().map(|st| stage(st, (0, u64::MAX))).collect();
            let while_draining = backlog
                .filter(|_| !held)
                .map(|window| x.stages.iter().rev().map(|st| stage(st, window)).collect::<Vec<_>>())
                .filter(|v| v.iter().any(|st| st.times.count > 0));
            let arrived = stages.pop().expect("a stage");
            out.push(report::SeriesFigures {
                label: x.label,
                filed: x.filed.len() as u64,
                first_hop: stages.pop(),
                arrived,
                drained: x.drained.map(|(d, _)| d),
                bytes: x.bytes,
                drain_share: share(x.bytes, x.drained, x.level),
                while_draining,
            });
        }
        out
    }
}
