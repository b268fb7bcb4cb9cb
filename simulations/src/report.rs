//! What a run found: [`Report`] (deterministic: same scenario, seed and
//! commit give byte-identical text and JSON) and [`RunStats`] (wall time,
//! events per second, peak memory: never part of the report).
//!
//! Everything printed is built from vectors and `BTreeMap`s in a fixed
//! order; latencies are whole milliseconds; no wall-clock value enters.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use liandong_topology::Severity;
use serde::{Serialize, Serializer};

use crate::scenario::{Scenario, fmt_duration};

mod rollup;
mod rooms;
pub use rollup::{Rollup, RootFigures};
pub use rooms::RoomFigures;

fn ms<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}

fn opt_ms<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&(d.as_millis() as u64)),
        None => s.serialize_none(),
    }
}

/// Nearest-rank percentiles of a set of durations (milliseconds in JSON).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Percentiles {
    pub count: usize,
    #[serde(rename = "p50_ms", serialize_with = "ms")]
    pub p50: Duration,
    #[serde(rename = "p90_ms", serialize_with = "ms")]
    pub p90: Duration,
    #[serde(rename = "p99_ms", serialize_with = "ms")]
    pub p99: Duration,
    #[serde(rename = "max_ms", serialize_with = "ms")]
    pub max: Duration,
}

impl Percentiles {
    pub fn of(mut v: Vec<u64>) -> Percentiles {
        v.sort_unstable();
        let at = |q: f64| -> Duration {
            if v.is_empty() {
                return Duration::ZERO;
            }
            let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
            Duration::from_millis(v[rank - 1])
        };
        Percentiles {
            count: v.len(),
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            max: at(1.0),
        }
    }
}

impl fmt::Display for Percentiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "n={:<6} p50 {:>9}  p90 {:>9}  p99 {:>9}  max {:>9}",
            self.count,
            human(self.p50),
            human(self.p90),
            human(self.p99),
            human(self.max)
        )
    }
}

/// `840ms`, `12.4s`, `3m05s`, `2h10m`.
pub fn human(d: Duration) -> String {
    let ms = d.as_millis() as u64;
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{}.{}s", ms / 1000, (ms % 1000) / 100)
    } else if ms < 3_600_000 {
        format!("{}m{:02}s", ms / 60_000, (ms % 60_000) / 1000)
    } else {
        format!("{}h{:02}m", ms / 3_600_000, (ms % 3_600_000) / 60_000)
    }
}

/// Sent, delivered and lost counts for reports or order targets.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Delivery {
    pub sent: u64,
    pub delivered: u64,
    /// Not delivered by the end of the run, after every fault healed: must be 0.
    pub lost: u64,
    /// Lost together with a disk that a fault wiped (the fault's doing, not
    /// the protocol's); not counted as lost.
    pub lost_with_disk: u64,
}

/// The busiest link queues: unacked copies a node held for a peer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueuePeak {
    pub from: String,
    pub to: String,
    pub peak: u32,
    #[serde(rename = "at_ms", serialize_with = "ms")]
    pub at: Duration,
}

/// A fault window `[start, end)` of simulated time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaultWindow {
    #[serde(rename = "start_ms", serialize_with = "ms")]
    pub start: Duration,
    #[serde(rename = "end_ms", serialize_with = "ms")]
    pub end: Duration,
    pub label: String,
}

/// One bucket of simulated time.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Bucket {
    #[serde(rename = "start_ms", serialize_with = "ms")]
    pub start: Duration,
    /// Reports at their owner plus order copies at their targets.
    pub delivered: u64,
    #[serde(rename = "p50_ms", serialize_with = "opt_ms")]
    pub p50: Option<Duration>,
    #[serde(rename = "p99_ms", serialize_with = "opt_ms")]
    pub p99: Option<Duration>,
}

/// Deliveries and latency over time, with the fault windows: what the SVG draws.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Timeline {
    #[serde(rename = "bucket_ms", serialize_with = "ms")]
    pub bucket: Duration,
    #[serde(rename = "total_ms", serialize_with = "ms")]
    pub total: Duration,
    pub buckets: Vec<Bucket>,
    pub faults: Vec<FaultWindow>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Invariant {
    pub name: String,
    pub passed: bool,
    /// The first few violations, each naming what broke.
    pub violations: Vec<String>,
    /// How many violations in all.
    pub count: u64,
}

/// Where a series' items arrived, and how long after filing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stage {
    /// `at 350102001 (first hop)`, `at owner 350100`, `at target ...`.
    pub at: String,
    pub times: Percentiles,
}

/// A `[[load.series]]` run of items at one named node and how it fared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesFigures {
    /// `2000 routine reports at 350102001001, from 1m00s every 10ms`.
    pub label: String,
    pub filed: u64,
    /// Reports: at the origin's parent, the first hop; orders: none.
    pub first_hop: Option<Stage>,
    /// At the policy owner (reports) or the target (orders).
    pub arrived: Stage,
    /// From the later of the last filing and the last heal before it, to
    /// the last item's arrival at the first hop (reports) or the target
    /// (orders): how long a backlog took to drain. `None`: some never came.
    #[serde(rename = "drained_ms", serialize_with = "opt_ms")]
    pub drained: Option<Duration>,
    /// The encoded bytes of the envelopes that arrived where `drained` is
    /// timed (as the live thin-link bench counts a backlog).
    pub bytes: u64,
    /// `bytes` over `drained`, as a share of the bandwidth cap of the link
    /// the items cross first (reports) or last (orders); `None` when that
    /// link has no cap or the series did not drain.
    pub drain_share: Option<f64>,
    /// The same stages for the items filed while the last backlog a fault
    /// held back was still draining (the live thin-link bench's "backlog"
    /// rows); `None` for a backlog itself, or when none was held back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub while_draining: Option<Vec<Stage>>,
}

/// One version of the federation document: when the root published it
/// and how long each node took to apply it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DocumentFigures {
    pub version: u64,
    /// What it changes: `I accept 20m`.
    pub changes: String,
    /// When the scenario has the root publish it.
    #[serde(rename = "asked_ms", serialize_with = "ms")]
    pub asked: Duration,
    /// When the root took it (later than `asked` if the root was down).
    #[serde(rename = "published_ms", serialize_with = "opt_ms")]
    pub published: Option<Duration>,
    /// Why the root never took it.
    pub refused: Option<String>,
    /// Nodes that applied it (the root included).
    pub applied: u64,
    /// Nodes that went from an older version straight to a newer one.
    pub skipped: u64,
    /// Nodes that applied neither it nor a newer version.
    pub never: u64,
    /// The last node to apply it and when (simulated time, ms in JSON).
    #[serde(serialize_with = "opt_node_ms")]
    pub last: Option<(String, Duration)>,
    /// From publishing to each node's applying it; `max` is the last node.
    pub times: Percentiles,
}

fn opt_node_ms<S: Serializer>(v: &Option<(String, Duration)>, s: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct At<'a> {
        node: &'a str,
        at_ms: u64,
    }
    match v {
        Some((node, at)) => s.serialize_some(&At {
            node,
            at_ms: at.as_millis() as u64,
        }),
        None => s.serialize_none(),
    }
}

/// Reports filed on one version (or before any), by severity: the accept
/// deadline they took at their origin.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FiledOn {
    /// `None`: on the scenario's own topology, before any version.
    pub version: Option<u64>,
    pub severity: String,
    #[serde(rename = "accept_ms", serialize_with = "ms")]
    pub accept: Duration,
    pub count: u64,
}

/// The federation documents a scenario publishes (`[[publish]]`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Documents {
    pub versions: Vec<DocumentFigures>,
    /// Live nodes on the newest version published, at the end.
    pub on_newest: u64,
    /// Live nodes behind it whose disk a fault wiped (excused: they
    /// restarted on the scenario's topology).
    pub lost_with_disk: u64,
    pub filed: Vec<FiledOn>,
    /// Frames a core could not send (an envelope over the frame limit),
    /// and the first such refusal.
    pub unsendable: u64,
    pub first_unsendable: Option<String>,
}

/// Deadline misses and automatic escalations.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Sla {
    /// Distinct items supervised (督办) per stage.
    pub supervised_accept: u64,
    pub supervised_sign_for: u64,
    pub supervised_finish: u64,
    /// Incidents handed one level up because the owner did not accept in time.
    pub escalations: u64,
}

/// Everything a run found. Deterministic.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub scenario: String,
    pub seed: u64,
    pub topology: String,
    pub nodes: usize,
    #[serde(rename = "duration_ms", serialize_with = "ms")]
    pub duration: Duration,
    #[serde(rename = "settle_ms", serialize_with = "ms")]
    pub settle: Duration,
    pub liveness: bool,
    pub planted_bug: Option<String>,
    /// Events the engine processed (deterministic, unlike events per second).
    pub events: u64,
    pub frames_sent: u64,
    pub frames_lost_on_links: u64,
    pub reports: Delivery,
    pub orders_sent: u64,
    /// Order copies to targets.
    pub order_targets: Delivery,
    /// Commands refused by a node (overloaded) and load not filed because
    /// the node was down at the time.
    pub refused: u64,
    pub not_filed_node_down: u64,
    pub duplicates: u64,
    pub latency_by_severity: BTreeMap<String, Percentiles>,
    pub latency_by_hops: BTreeMap<u32, Percentiles>,
    pub order_latency: Percentiles,
    pub sla: Sla,
    pub dead_letters: u64,
    pub failovers: Percentiles,
    pub catch_ups: Percentiles,
    /// Returning nodes still owed copies at the end.
    pub catch_ups_unfinished: usize,
    pub disks_lost: u64,
    pub queue_peaks: Vec<QueuePeak>,
    /// Series of items at named nodes (`[[load.series]]`), if any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub series: Vec<SeriesFigures>,
    /// Federation documents published (`[[publish]]`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub documents: Option<Documents>,
    /// The period's figures rolled up, where the scenario checks them
    /// (`[invariants] rollup_matches`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollup: Option<Rollup>,
    /// The coordination rooms, where the scenario drives them (`[rooms]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rooms: Option<RoomFigures>,
    pub invariants: Vec<Invariant>,
    pub timeline: Timeline,
}

impl Report {
    /// Failed invariants, one line each, naming what broke.
    pub fn failed_invariants(&self) -> Vec<String> {
        self.invariants
            .iter()
            .filter(|i| !i.passed)
            .map(|i| {
                let first = i.violations.first().map(String::as_str).unwrap_or("");
                format!("{}: {} violation(s); first: {first}", i.name, i.count)
            })
            .collect()
    }

    pub fn timeline(&self) -> &Timeline {
        &self.timeline
    }

    pub fn passed(&self) -> bool {
        self.invariants.iter().all(|i| i.passed)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report always serializes")
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "scenario {}  seed {}", self.scenario, self.seed)?;
        writeln!(
            f,
            "topology {} ({} nodes); {} of load and faults, then {} to settle{}",
            self.topology,
            self.nodes,
            fmt_duration(self.duration),
            fmt_duration(self.settle),
            if self.liveness { "; liveness mode" } else { "" }
        )?;
        if let Some(b) = &self.planted_bug {
            writeln!(f, "PLANTED BUG: {b}")?;
        }
        writeln!(
            f,
            "{} events, {} frames sent, {} lost on links",
            self.events, self.frames_sent, self.frames_lost_on_links
        )?;
        writeln!(f)?;
        writeln!(f, "delivery")?;
        let d = &self.reports;
        writeln!(
            f,
            "  reports  sent {:>7}  delivered {:>7}  lost {}  (lost with a wiped disk {})",
            d.sent, d.delivered, d.lost, d.lost_with_disk
        )?;
        let o = &self.order_targets;
        writeln!(
            f,
            "  orders   sent {:>7}  to {} targets, delivered {}  lost {}  (lost with a wiped disk {})",
            self.orders_sent, o.sent, o.delivered, o.lost, o.lost_with_disk
        )?;
        writeln!(f, "  duplicates delivered to an application: {}", self.duplicates)?;
        writeln!(
            f,
            "  not filed: {} (node down), refused: {}",
            self.not_filed_node_down, self.refused
        )?;
        writeln!(f)?;
        writeln!(f, "report latency to owner, by severity")?;
        for s in Severity::ALL.iter().rev() {
            if let Some(p) = self.latency_by_severity.get(s.name()) {
                writeln!(f, "  {:<8} {p}", s.name())?;
            }
        }
        writeln!(f, "by hop count")?;
        for (h, p) in &self.latency_by_hops {
            writeln!(f, "  {:<8} {p}", format!("{h} hops"))?;
        }
        writeln!(f, "order copies to targets")?;
        writeln!(f, "  {:<8} {}", "all", self.order_latency)?;
        if !self.series.is_empty() {
            writeln!(f)?;
            writeln!(f, "series (items at named nodes; times from filing)")?;
        }
        for s in &self.series {
            writeln!(f, "  {}", s.label)?;
            for stage in s.first_hop.iter().chain([&s.arrived]) {
                writeln!(f, "    {:<28} {}", stage.at, stage.times)?;
            }
            if let Some(stages) = &s.while_draining {
                writeln!(f, "    filed while a backlog drained:")?;
                for stage in stages {
                    writeln!(f, "      {:<26} {}", stage.at, stage.times)?;
                }
            }
            match (s.drained, s.drain_share) {
                (Some(d), Some(share)) => writeln!(
                    f,
                    "    {:<28} {}: {:.1} kB of envelopes, {:.0}% of the link's cap",
                    "drained (heal -> last)",
                    human(d),
                    s.bytes as f64 / 1000.0,
                    share * 100.0
                )?,
                (Some(d), None) => writeln!(f, "    {:<28} {}", "drained (heal -> last)", human(d))?,
                (None, _) => writeln!(
                    f,
                    "    {:<28} never: {} of {} did not arrive",
                    "drained (heal -> last)",
                    s.filed - s.arrived.times.count as u64,
                    s.filed
                )?,
            }
        }
        if let Some(d) = &self.documents {
            write!(f, "\n{d}")?;
        }
        if let Some(r) = &self.rollup {
            write!(f, "\n{r}")?;
        }
        if let Some(r) = &self.rooms {
            write!(f, "\n{r}")?;
        }
        writeln!(f)?;
        let s = &self.sla;
        writeln!(
            f,
            "SLA: supervised accept {} / sign-for {} / finish {}; automatic escalations {}; dead letters {}",
            s.supervised_accept, s.supervised_sign_for, s.supervised_finish, s.escalations, self.dead_letters
        )?;
        writeln!(f, "failover (parent lost -> traffic around it)")?;
        writeln!(f, "  {:<8} {}", "", self.failovers)?;
        writeln!(f, "catch-up (node back -> everything it missed delivered)")?;
        writeln!(f, "  {:<8} {}", "", self.catch_ups)?;
        if self.catch_ups_unfinished > 0 {
            writeln!(
                f,
                "  {} returning node(s) still owed copies at the end",
                self.catch_ups_unfinished
            )?;
        }
        if self.disks_lost > 0 {
            writeln!(f, "disks lost: {}", self.disks_lost)?;
        }
        writeln!(f)?;
        writeln!(f, "peak queues (unacked copies held for a peer)")?;
        for q in &self.queue_peaks {
            writeln!(f, "  {:>15} -> {:<15} {:>6}  at {}", q.from, q.to, q.peak, human(q.at))?;
        }
        writeln!(f)?;
        writeln!(f, "faults")?;
        for w in &self.timeline.faults {
            writeln!(f, "  {:>8} - {:<8} {}", human(w.start), human(w.end), w.label)?;
        }
        writeln!(f)?;
        writeln!(f, "invariants")?;
        for i in &self.invariants {
            writeln!(f, "  [{}] {}", if i.passed { "ok" } else { "FAILED" }, i.name)?;
            for v in &i.violations {
                writeln!(f, "         {v}")?;
            }
            if i.count > i.violations.len() as u64 {
                writeln!(f, "         ... {} more", i.count - i.violations.len() as u64)?;
            }
        }
        writeln!(f, "{}", if self.passed() { "PASSED" } else { "FAILED" })
    }
}

impl fmt::Display for Documents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "federation documents (times from publishing at the root to applying)"
        )?;
        for v in &self.versions {
            writeln!(f, "  version {} ({})", v.version, v.changes)?;
            match (v.published, &v.refused) {
                (Some(p), _) => writeln!(f, "    published at {} (asked at {})", human(p), human(v.asked))?,
                (None, Some(why)) => writeln!(f, "    not published (asked at {}): {why}", human(v.asked))?,
                (None, None) => writeln!(f, "    not published by the end (asked at {})", human(v.asked))?,
            }
            writeln!(
                f,
                "    applied by {}, skipped for a newer version by {}, never by {}",
                v.applied, v.skipped, v.never
            )?;
            if v.applied > 0 {
                writeln!(f, "    {:<10} {}", "to apply", v.times)?;
            }
            if let Some((node, at)) = &v.last {
                writeln!(
                    f,
                    "    last node {node} applied it at {}, {} after it was published",
                    human(*at),
                    human(v.times.max)
                )?;
            }
        }
        writeln!(
            f,
            "  at the end: {} live node(s) on the newest version, {} behind it with a wiped disk",
            self.on_newest, self.lost_with_disk
        )?;
        if !self.filed.is_empty() {
            writeln!(f, "  reports by the version their origin ran: accept deadline taken")?;
        }
        for x in &self.filed {
            let on = x.version.map_or("no version".to_string(), |v| format!("version {v}"));
            writeln!(
                f,
                "    {on:<12} {:<8} accept {:>6}  x{}",
                x.severity,
                fmt_duration(x.accept),
                x.count
            )?;
        }
        if self.unsendable > 0 {
            writeln!(
                f,
                "  frames the cores could not send: {}; first: {}",
                self.unsendable,
                self.first_unsendable.as_deref().unwrap_or("")
            )?;
        }
        Ok(())
    }
}

/// How the run went on this machine: never part of the [`Report`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunStats {
    #[serde(rename = "simulated_ms", serialize_with = "ms")]
    pub simulated: Duration,
    #[serde(rename = "wall_ms", serialize_with = "ms")]
    pub wall: Duration,
    pub events: u64,
    pub events_per_second: f64,
    /// Simulated time per wall time.
    pub speedup: f64,
    /// VmHWM of this process (Linux), in KiB.
    pub peak_memory_kib: Option<u64>,
}

impl fmt::Display for RunStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "simulated {} in {:.1}s wall ({:.0}x), {} events, {:.0} events/s, peak memory {}",
            fmt_duration(self.simulated),
            self.wall.as_secs_f64(),
            self.speedup,
            self.events,
            self.events_per_second,
            self.peak_memory_kib
                .map_or("unknown".to_string(), |k| format!("{} MiB", k / 1024))
        )
    }
}

/// Peak resident memory of this process (VmHWM), in KiB.
pub fn peak_memory_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// What the engine collects while running; folded into a [`Report`] at the end.
pub(crate) struct Collected {
    pub bucket: u64,
    pub total: u64,
    pub faults: Vec<FaultWindow>,
    pub bucket_latencies: Vec<Vec<u64>>,
    pub by_severity: BTreeMap<usize, Vec<u64>>,
    pub by_hops: BTreeMap<u32, Vec<u64>>,
    pub order_latencies: Vec<u64>,
    pub reports_sent: u64,
    pub orders_sent: u64,
    pub order_targets: u64,
    pub refused: u64,
    pub not_filed_node_down: u64,
    pub duplicates: u64,
    pub duplicate_examples: Vec<String>,
    pub escalations: u64,
    pub supervised: [u64; 3],
    pub dead_letters: u64,
    pub failovers: Vec<u64>,
    pub catch_ups: Vec<u64>,
    pub disks_lost: u64,
    pub frames_sent: u64,
    pub frames_lost: u64,
}

/// At most this many violations are listed per invariant.
pub(crate) const MAX_LISTED: usize = 10;
/// At most this many buckets in a timeline.
const MAX_BUCKETS: u64 = 720;

impl Collected {
    pub fn new(total: u64, _scenario: &Scenario) -> Collected {
        let bucket = total.div_ceil(MAX_BUCKETS).div_ceil(60_000).max(1) * 60_000;
        let n = total.div_ceil(bucket).max(1) as usize;
        Collected {
            bucket,
            total,
            faults: Vec::new(),
            bucket_latencies: vec![Vec::new(); n],
            by_severity: BTreeMap::new(),
            by_hops: BTreeMap::new(),
            order_latencies: Vec::new(),
            reports_sent: 0,
            orders_sent: 0,
            order_targets: 0,
            refused: 0,
            not_filed_node_down: 0,
            duplicates: 0,
            duplicate_examples: Vec::new(),
            escalations: 0,
            supervised: [0; 3],
            dead_letters: 0,
            failovers: Vec::new(),
            catch_ups: Vec::new(),
            disks_lost: 0,
            frames_sent: 0,
            frames_lost: 0,
        }
    }

    fn bucket_of(&mut self, now: u64) -> &mut Vec<u64> {
        let i = ((now / self.bucket) as usize).min(self.bucket_latencies.len() - 1);
        &mut self.bucket_latencies[i]
    }

    pub fn report_sent(&mut self, _severity: Severity) {
        self.reports_sent += 1;
    }

    pub fn report_delivered(&mut self, now: u64, latency: u64, severity: Severity, hops: u32) {
        self.bucket_of(now).push(latency);
        self.by_severity.entry(severity.rank()).or_default().push(latency);
        self.by_hops.entry(hops).or_default().push(latency);
    }

    pub fn order_delivered(&mut self, now: u64, latency: u64) {
        self.bucket_of(now).push(latency);
        self.order_latencies.push(latency);
    }

    pub fn duplicate(&mut self, what: String) {
        self.duplicates += 1;
        if self.duplicate_examples.len() < MAX_LISTED {
            self.duplicate_examples.push(what);
        }
    }

    pub fn timeline(&mut self) -> Timeline {
        let bucket = self.bucket;
        let buckets = std::mem::take(&mut self.bucket_latencies)
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                let delivered = v.len() as u64;
                let p = Percentiles::of(v);
                Bucket {
                    start: Duration::from_millis(i as u64 * bucket),
                    delivered,
                    p50: (delivered > 0).then_some(p.p50),
                    p99: (delivered > 0).then_some(p.p99),
                }
            })
            .collect();
        Timeline {
            bucket: Duration::from_millis(bucket),
            total: Duration::from_millis(self.total),
            buckets,
            faults: self.faults.clone(),
        }
    }
}

pub(crate) fn invariant(name: &str, violations: Vec<String>) -> Invariant {
    let count = violations.len() as u64;
    Invariant {
        name: name.to_string(),
        passed: violations.is_empty(),
        violations: violations.into_iter().take(MAX_LISTED).collect(),
        count,
    }
}

/// The SVG chart of a timeline (svg.rs draws a [`crate::svg::Chart`]).
impl From<&Timeline> for crate::svg::Chart {
    fn from(t: &Timeline) -> Self {
        crate::svg::Chart {
            bucket: t.bucket,
            buckets: t
                .buckets
                .iter()
                .map(|b| crate::svg::Point {
                    delivered: b.delivered,
                    p50: b.p50,
                    p99: b.p99,
                })
                .collect(),
            faults: t
                .faults
                .iter()
                .map(|w| crate::svg::Window {
                    start: w.start,
                    end: w.end,
                    label: w.label.clone(),
                })
                .collect(),
            total: t.total,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let p = Percentiles::of((1..=100).collect());
        assert_eq!(p.count, 100);
        assert_eq!(p.p50, Duration::from_millis(50));
        assert_eq!(p.p99, Duration::from_millis(99));
        assert_eq!(p.max, Duration::from_millis(100));
        assert_eq!(Percentiles::of(Vec::new()).count, 0);
    }

    #[test]
    fn human_durations() {
        assert_eq!(human(Duration::from_millis(840)), "840ms");
        assert_eq!(human(Duration::from_millis(12_400)), "12.4s");
        assert_eq!(human(Duration::from_secs(185)), "3m05s");
        assert_eq!(human(Duration::from_secs(7800)), "2h10m");
    }
}
