//! Load: background reports from the villages, orders from the issuers,
//! and series of items at named nodes (`[[load.series]]`).
//!
//! Series items carry the texts the live thin-link bench files
//! (`chaos/src/thin/run.rs`: a flood report from a mountain village, a
//! work order for it, by the bench's operator), so that their envelopes,
//! and what they compress to on a declared link, are the bench's sizes.
//! Background reports and orders keep their short texts.

use super::*;
use crate::scenario::SeriesKind;

/// The live bench's operator, who files its items.
const BENCH_OPERATOR: &str = "值班员";

/// The categories `mixed_categories` draws from.
const CATEGORIES: [Category; 8] = [
    Category::Dispute,
    Category::Hazard,
    Category::Request,
    Category::Fire,
    Category::Flood,
    Category::Gathering,
    Category::Accident,
    Category::Other,
];

impl<'a> Sim<'a> {
    pub(super) fn file_report(&mut self, ix: Ix, severity: Severity) {
        self.file_report_in(ix, severity, u32::MAX);
    }

    /// A drill or an actual case, by the scenario's share of drills (no
    /// draw at 0 or 1, so a scenario of drills only replays as before).
    fn pick_mode(&mut self) -> Mode {
        let drills = self.scenario.load.drills;
        if drills >= 1.0 {
            Mode::Exercise
        } else if drills <= 0.0 || !self.rng.random_bool(drills) {
            Mode::Actual
        } else {
            Mode::Exercise
        }
    }

    /// Resolves each series' nodes and queues its items.
    pub(super) fn setup_series(&mut self) -> Result<(), SimError> {
        let scenario = self.scenario;
        for (i, s) in scenario.load.series.iter().enumerate() {
            let what = format!("[[load.series]] #{}", i + 1);
            let node = self.place(&Some(s.node.clone()), &None, 1, &what)?[0];
            let to = match &s.to {
                Some(t) => self.place(&Some(t.clone()), &None, 1, &what)?[0],
                None => u32::MAX,
            };
            self.series.push((node, to));
            self.series_count.push(0);
            let (at, every) = (s.at.0.as_millis() as u64, s.every.0.as_millis() as u64);
            for k in 0..s.count {
                let t = at + u64::from(k) * every;
                if t < self.end_load {
                    self.push(t, Ev::SeriesItem { series: i as u32 });
                }
            }
        }
        Ok(())
    }

    /// Counts one more item of `series` and returns how many so far.
    fn series_filed(&mut self, series: u32) -> u32 {
        let n = &mut self.series_count[series as usize];
        *n += 1;
        *n
    }

    pub(super) fn series_item(&mut self, series: u32) {
        let s = &self.scenario.load.series[series as usize];
        let (node, to) = self.series[series as usize];
        match s.kind {
            SeriesKind::Report => {
                self.file_report_in(node, s.severity, series);
            }
            SeriesKind::Order => self.dispatch_to(node, to, s.severity, series),
        }
    }

    /// One order from `issuer` to the one node `target`.
    fn dispatch_to(&mut self, issuer: Ix, target: Ix, severity: Severity, series: u32) {
        if !self.up(issuer) {
            self.out.not_filed_node_down += 1;
            return;
        }
        let k = self.series_filed(series);
        let instruction = if severity == Severity::Routine {
            format!("日常工作 第{k}号：排查隐患并反馈")
        } else {
            format!("紧急指令 第{k}号：立即组织转移")
        };
        let order = Order {
            incident: None,
            targets: Targets::Node(self.topo.node(NodeIx(target)).id.clone()),
            severity,
            instruction,
            by: BENCH_OPERATOR.into(),
            finish_by: None,
        };
        self.issue(issuer, order, 1, series, Mode::Exercise);
    }

    /// Files a report at `ix`; its id if the node took it.
    pub(super) fn file_report_in(&mut self, ix: Ix, severity: Severity, series: u32) -> Option<EnvelopeId> {
        if !self.up(ix) {
            self.out.not_filed_node_down += 1;
            return None;
        }
        let owner = self.topo.owner_ix(NodeIx(ix), severity).0;
        let n = self.reports.len();
        let (mode, report) = if series == u32::MAX {
            let mode = self.pick_mode();
            let category = if self.scenario.load.mixed_categories {
                CATEGORIES[self.rng.random_range(0..CATEGORIES.len())]
            } else {
                Category::Other
            };
            let report = Report {
                severity,
                category,
                title: format!("sim report {n}"),
                detail: String::new(),
                place: String::new(),
                reporter: "sim".into(),
                photos: Vec::new(),
            };
            (mode, report)
        } else {
            let k = self.series_filed(series);
            let title = if severity == Severity::Routine {
                format!("日常巡查 第{k}报：道路积水")
            } else {
                format!("紧急 第{k}报：山洪")
            };
            let report = Report {
                severity,
                category: Category::Flood,
                title,
                detail: "山洪预警：村口河道水位上涨，已组织群众转移".into(),
                place: "山区村村口".into(),
                reporter: BENCH_OPERATOR.into(),
                photos: Vec::new(),
            };
            (Mode::Exercise, report)
        };
        let now = self.local(ix);
        let result = self.nodes[ix as usize]
            .core
            .as_mut()
            .map(|c| c.handle_command(Command::Report { report, mode }, now));
        let filed = match result {
            Some(Ok(id)) => {
                let bytes = self.encoded(ix, id);
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
                    series,
                    first_hop: None,
                    bytes,
                });
                self.out.report_sent(severity);
                self.document_filed(ix, id, severity);
                Some(id)
            }
            _ => {
                self.out.refused += 1;
                None
            }
        };
        self.drain(ix);
        filed
    }

    /// The encoded size of envelope `id` as `ix` stored it (0 if it did not).
    fn encoded(&self, ix: Ix, id: EnvelopeId) -> u32 {
        self.nodes[ix as usize]
            .core
            .as_ref()
            .and_then(|c| c.store().envelopes.get(&id))
            .map_or(0, |s| liandong_dispatch::codec::encoded_len(&s.envelope) as u32)
    }

    pub(super) fn pick_severity(&mut self) -> Severity {
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

    pub(super) fn dispatch_order(&mut self) {
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
        let mode = self.pick_mode();
        self.issue(issuer, order, targets, u32::MAX, mode);
    }

    fn issue(&mut self, issuer: Ix, order: Order, targets: u32, series: u32, mode: Mode) {
        let now = self.local(issuer);
        let result = self.nodes[issuer as usize]
            .core
            .as_mut()
            .map(|c| c.handle_command(Command::Dispatch { order, mode }, now));
        match result {
            Some(Ok(id)) => {
                let bytes = self.encoded(issuer, id);
                self.order_ix.insert(id, self.orders.len() as u32);
                self.orders.push(OrderTrack {
                    issuer,
                    sent: self.now,
                    targets,
                    reached: 0,
                    excused: false,
                    series,
                    reached_at: None,
                    bytes,
                });
                self.out.orders_sent += 1;
                self.out.order_targets += u64::from(targets);
            }
            _ => self.out.refused += 1,
        }
        self.drain(issuer);
    }
}
