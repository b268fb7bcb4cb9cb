//! Scenario files: what to simulate, as TOML.
//!
//! A scenario names a topology (a preset, a uniform fan-out or a topology
//! file), optional overrides of its link timers, link models per level, a
//! load, a timeline of faults and the invariants to check. Unknown keys are
//! refused; errors name `file:line:column`. Durations are written the way
//! operators write them (`90s`, `10m`, `1h30m`, `250ms`).
//!
//! ```toml
//! name = "county-outage"
//! duration = "6h"            # load and faults happen in [0, duration)
//! settle = "2h"              # then everything heals and the network settles
//! start = "2027-01-31T18:00:00+08:00"  # the instant simulated zero stands for
//!                            # (default 2027-01-15T16:00:00+08:00)
//!
//! [topology]
//! preset = "fuzhou"          # or: fanout = [4, 5, 6], top = "city"; or: file = "x.toml"
//!
//! [link_settings]            # optional: overrides the topology's timers
//! heartbeat = "30s"
//! failover_after = "90s"
//!
//! [links.default]            # link model; [links.village] etc. per level of the lower end
//! latency = "20ms"           # fixed part of one-way latency
//! jitter = "10ms"            # mean of an exponential extra delay (reorders frames)
//! loss = 0.01                # probability a frame (a packet, on lanes) is lost
//! duplicate = 0.001          # probability a frame (a packet) arrives twice
//! bandwidth_kbps = 0         # 0: unlimited; else each direction's bottleneck:
//!                            # packets at this rate, in lane priority
//! reliable = false           # true: lost packets come again (QUIC
//!                            # retransmits them), each lane in order
//!
//! [links.village]            # a thin link whose class the run's topology declares:
//! bandwidth_kbps = 64
//! declare = true             # set [link.village] in the topology the cores see;
//!                            # its routine and bulk lanes paced and compressed
//! rate_kbps = 64             # the declared rate (default: bandwidth_kbps)
//! urgent_copies = 3          # extra copies of urgent frames, each lost or not alone
//! window = "20s"             # routine and bulk in flight, as time at the rate
//!
//! [load]
//! background_per_hour = 120  # routine reports from random villages
//! orders_per_hour = 6
//! accept_after = "2m"        # mean delay before an owner accepts a report
//! sign_for_after = "5m"      # ... before a target signs for an order
//! operators = true           # false: nobody accepts or signs for anything
//! until = "3h"               # background reports and orders stop then (default: duration)
//! drills = 0.1               # share of reports and orders filed as drills (default 1: all)
//! mixed_categories = true    # background reports of every category (default: all Other)
//!
//! [[load.series]]            # a run of items at a named node (figures of their own)
//! kind = "report"            # report | order
//! node = "350102001001"      # where they are filed (the issuer, for orders)
//! to = "350102001001"        # orders: the one target
//! severity = "routine"
//! count = 2000
//! at = "1m"
//! every = "10ms"
//!
//! [[fault]]
//! kind = "crash"             # crash | isolate | cut | flap | lossy | deaf
//! pick = "county"            # a random node of this level (seeded), or node = "350102";
//!                            # or "room-home" / "room-member": a node of a [rooms] room
//! at = "1h"
//! for = "2h"
//! lose_disk = true           # crash: it restarts with an empty disk
//!
//! [rooms]                    # coordination rooms (`rooms`): leaders open, talk, decide, task
//! count = 12                 # rooms, each on an incident of its own from a seeded village
//! severities = ["IV", "III"] # the incidents' (their owners are the homes)
//! until = "3h"               # reports and acts before this (default: duration)
//! acts = 40                  # acts per room, a mean `every` apart
//! every = "1m"
//! decide = 0.15              # shares of acts: decide, task, invite, leave; the rest say
//! finish_after = "10m"       # a task's target finishes its order this long after signing for it
//! close_after = "20m"        # the home's leader closes the room after its last act
//!
//! [[publish]]               # the root publishes a federation document
//! at = "2h"                  # when (retried while the root is down)
//! version = 2                # higher than the one before
//! deadlines.I.accept = "20m" # what changes: deadlines per severity
//!                            # (accept, sign_for, finish); the tree stays
//!
//! [invariants]
//! reach_owner_within = "20m" # after the path heals
//! rollup_matches = "2027-01" # the root's report of that period (平安报表) is
//!                            # the count over every node's records (`oracle`)
//!
//! [sweep]                    # a cheaper variant for many-seed sweeps and CI
//! duration = "1h"            # every time in the timeline scaled to it
//! start = "2027-01-31T23:00:00+08:00"  # optional: another simulated zero
//! topology = { preset = "demo" }
//! ```
//!
//! A link with neither a bandwidth cap, `reliable` nor `declare` carries
//! each frame whole with one loss, duplication and delay draw; any other
//! carries packets on lanes, as the live transport does (the engine's
//! `lanes` module says how).
//!
//! A `[[publish]]` version is the scenario's topology as it is written
//! (`Topology::to_toml`) with a `[document]` table and its policy changes,
//! those of the versions before it included (each version is the one before
//! with its own changes). Only policy changes: the tree itself (nodes,
//! parents, links) stays what the scenario says, since the engine's network
//! is laid out once from it.
//!
//! Liveness mode (`liveness = true`) allows `permanent = true` faults (a
//! node that can send but not receive, a link that drops half its frames):
//! they never heal, and every report must still reach its owner.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use liandong_topology::{Addressing, FanOut, Level, LinkClass, NodeId, Preset, Severity, Shape, Topology};
use serde::{Deserialize, Deserializer, Serialize};

mod load;
mod rooms;
mod time;
pub use load::{Burst, Load, Series, SeriesKind, SeverityMix};
pub use rooms::{PICK_ROOM_HOME, PICK_ROOM_MEMBER, Rooms, is_room_pick};
pub use time::{DEFAULT_START_MS, PeriodSpec, Start};

/// Why a scenario could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("{path}: {error}")]
    Read { path: PathBuf, error: std::io::Error },
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// A duration in operator notation (`90s`, `1h30m`, `250ms`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Span(pub Duration);

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Span, D::Error> {
        let s = String::deserialize(d)?;
        liandong_topology::duration::parse(&s)
            .map(Span)
            .map_err(|e| serde::de::Error::custom(format!("bad duration {s:?}: {e}")))
    }
}

impl Serialize for Span {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&fmt_duration(self.0))
    }
}

/// `1h30m`, `250ms`: the notation scenarios use.
pub fn fmt_duration(d: Duration) -> String {
    if d.is_zero() {
        return "0s".into();
    }
    if d.subsec_millis() != 0 && d.as_secs() < 60 {
        return format!("{}ms", d.as_millis());
    }
    liandong_topology::duration::format(Duration::from_secs(d.as_secs()))
}

/// Where the topology comes from.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TopologySpec {
    /// `demo`, `fuzhou` or `jiangsu`.
    pub preset: Option<String>,
    /// A uniform tree: children per level below the top.
    pub fanout: Option<Vec<u32>>,
    /// Level of the top of a fan-out (default `city`).
    pub top: Option<String>,
    /// A topology file, relative to the scenario file.
    pub file: Option<PathBuf>,
}

/// One link model; applies to links whose lower end is at a level.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LinkModel {
    #[serde(default = "default_latency")]
    pub latency: Span,
    /// Mean of an exponentially distributed extra delay; reorders frames.
    #[serde(default)]
    pub jitter: Option<Span>,
    #[serde(default)]
    pub loss: f64,
    #[serde(default)]
    pub duplicate: f64,
    /// Each direction's bottleneck, packets at this rate; 0 means unlimited.
    #[serde(default)]
    pub bandwidth_kbps: u64,
    /// Lost packets are retransmitted, as QUIC does, and each lane
    /// delivers in order (a lost packet holds back its lane's later
    /// frames); false: a frame with a lost packet is gone and the cores'
    /// own retries recover it.
    #[serde(default)]
    pub reliable: bool,
    /// Declare this level's link class in the topology the run uses
    /// (`[link.<level>]` of a topology file): `rate_kbps`, `urgent_copies`.
    #[serde(default)]
    pub declare: bool,
    /// The declared rate, kbit/s (with `declare`; default `bandwidth_kbps`).
    #[serde(default)]
    pub rate_kbps: Option<u32>,
    /// Extra copies of each urgent frame (with `declare`).
    #[serde(default)]
    pub urgent_copies: u8,
    /// The declared window (with `declare`; default the topology's, 20 s).
    #[serde(default)]
    pub window: Option<Span>,
}

fn default_latency() -> Span {
    Span(Duration::from_millis(20))
}

impl Default for LinkModel {
    fn default() -> Self {
        LinkModel {
            latency: default_latency(),
            jitter: None,
            loss: 0.0,
            duplicate: 0.0,
            bandwidth_kbps: 0,
            reliable: false,
            declare: false,
            rate_kbps: None,
            urgent_copies: 0,
            window: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LinkTimers {
    pub heartbeat: Span,
    pub failover_after: Span,
}

/// What a fault does.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// The node stops (its unpersisted state is gone) and restarts at the end.
    Crash,
    /// The node and its subtree are cut from the rest of the federation.
    Isolate,
    /// The link between the node and its parent is cut.
    Cut,
    /// The link to the parent goes down and up every `period`.
    Flap,
    /// The link to the parent loses `loss` of its frames.
    Lossy,
    /// The node can send but receives nothing.
    Deaf,
}

impl FaultKind {
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Crash => "crash",
            FaultKind::Isolate => "isolate",
            FaultKind::Cut => "cut",
            FaultKind::Flap => "flap",
            FaultKind::Lossy => "lossy",
            FaultKind::Deaf => "deaf",
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    pub kind: FaultKind,
    pub at: Span,
    /// How long it lasts; required unless `permanent`.
    #[serde(rename = "for")]
    pub lasts: Option<Span>,
    /// Never heals (liveness mode only).
    #[serde(default)]
    pub permanent: bool,
    /// How many distinct nodes to pick (with `pick`); all of them if the
    /// topology has fewer.
    #[serde(default = "one")]
    pub count: usize,
    /// Crash: restart with an empty disk.
    #[serde(default)]
    pub lose_disk: bool,
    /// Flap: time between toggles.
    pub period: Option<Span>,
    /// Lossy: probability each frame is lost.
    pub loss: Option<f64>,
    /// A node by id...
    pub node: Option<String>,
    /// ...or a random center of this level (seeded).
    pub pick: Option<String>,
}

fn one() -> usize {
    1
}

/// Most `[[publish]]` entries a scenario may have: as many versions as
/// `TestDocuments` keeps parsed, so a restart never parses one again.
pub const MAX_PUBLISHES: usize = liandong_dispatch::TestDocuments::KEEP;

/// A version of the federation document the root publishes at `at`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Publish {
    pub at: Span,
    /// The `[document] version`: at least 1, higher than the entry before.
    pub version: u64,
    /// New deadlines per severity (only the stages given change).
    #[serde(default)]
    pub deadlines: BTreeMap<Severity, DeadlineChange>,
}

/// The stages of one severity's deadlines a version changes.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DeadlineChange {
    pub accept: Option<Span>,
    pub sign_for: Option<Span>,
    pub finish: Option<Span>,
}

impl Publish {
    /// What this version changes, for people: `I accept 20m`, or
    /// `no policy change`.
    pub fn changes(&self) -> String {
        let mut parts = Vec::new();
        for (s, c) in self.deadlines.iter().rev() {
            for (stage, d) in [("accept", c.accept), ("sign_for", c.sign_for), ("finish", c.finish)] {
                if let Some(d) = d {
                    parts.push(format!("{s} {stage} {d}"));
                }
            }
        }
        if parts.is_empty() {
            "no policy change".into()
        } else {
            parts.join(", ")
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Invariants {
    /// Every report reaches its owner within this long of being sent or of
    /// the last heal before it arrived, whichever is later.
    pub reach_owner_within: Option<Span>,
    /// At the end, the root's subtree report for this period of the
    /// figures (`Core::report`) equals an independent count over every
    /// node's records; every center's summary for it is at its parent; a
    /// center down at its end sent its summary late, after it returned.
    pub rollup_matches: Option<PeriodSpec>,
}

/// The cheaper variant a sweep runs.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct SweepSpec {
    /// A later (or earlier) instant for simulated zero, so that a shorter
    /// run still crosses the same day's or month's end.
    pub start: Option<Start>,
    pub duration: Option<Span>,
    pub settle: Option<Span>,
    pub topology: Option<TopologySpec>,
    /// Scales background and order rates and series counts (burst sizes
    /// stay as the smaller topology makes them).
    pub load_scale: Option<f64>,
}

/// A parsed, validated scenario.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub duration: Span,
    #[serde(default = "default_settle")]
    pub settle: Span,
    /// The instant simulated zero stands for: every core's clock reads it
    /// at the start (default [`DEFAULT_START_MS`]).
    pub start: Option<Start>,
    pub topology: TopologySpec,
    pub link_settings: Option<LinkTimers>,
    /// Link models by level name of the lower end, or `default`.
    #[serde(default)]
    pub links: BTreeMap<String, LinkModel>,
    /// Each node's clock is off by a uniform amount in ±this.
    pub clock_skew: Option<Span>,
    #[serde(default)]
    pub load: Load,
    #[serde(default, rename = "fault")]
    pub faults: Vec<Fault>,
    /// Coordination rooms people open and work in (`scenario::rooms`).
    #[serde(default)]
    pub rooms: Option<Rooms>,
    /// Versions of the federation document the root publishes.
    #[serde(default, rename = "publish")]
    pub publishes: Vec<Publish>,
    #[serde(default)]
    pub invariants: Invariants,
    #[serde(default)]
    pub liveness: bool,
    #[serde(default)]
    pub sweep: SweepSpec,
    /// The directory of the scenario file: topology files are relative to it.
    #[serde(skip)]
    pub(crate) base: PathBuf,
}

fn default_settle() -> Span {
    Span(Duration::from_secs(3600))
}

impl Scenario {
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|error| ScenarioError::Read {
            path: path.to_path_buf(),
            error,
        })?;
        Scenario::parse(&text, path)
    }

    /// Parses scenario text; `origin` names the file in errors and anchors
    /// relative topology paths.
    pub fn parse(text: &str, origin: &Path) -> Result<Scenario, ScenarioError> {
        let mut s: Scenario = toml::from_str(text).map_err(|e| {
            let (line, column) = e.span().map_or((1, 1), |span| line_col(text, span.start));
            ScenarioError::Parse {
                path: origin.to_path_buf(),
                line,
                column,
                message: e.message().to_string(),
            }
        })?;
        s.base = origin.parent().map(Path::to_path_buf).unwrap_or_default();
        s.validate().map_err(|message| ScenarioError::Invalid {
            path: origin.to_path_buf(),
            message,
        })?;
        Ok(s)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The instant simulated zero stands for, ms since 1970-01-01 UTC.
    pub fn start_ms(&self) -> u64 {
        self.start.map_or(DEFAULT_START_MS, |s| s.0)
    }

    /// The cheaper variant described by `[sweep]`: shorter, smaller. A
    /// scenario without a `[sweep]` section is its own sweep variant.
    pub fn sweep_variant(&self) -> Scenario {
        let mut s = self.clone();
        let sw = &self.sweep;
        if let Some(d) = sw.duration {
            // The timeline keeps its shape: every fault, burst and series time is
            // scaled by new/old duration (flap periods and burst windows stay).
            let k = d.0.as_secs_f64() / self.duration.0.as_secs_f64();
            let scale = |x: Span| Span(Duration::from_millis((x.0.as_millis() as f64 * k) as u64));
            s.duration = d;
            for f in &mut s.faults {
                f.at = scale(f.at);
                f.lasts = f.lasts.map(|l| Span(scale(l).0.max(Duration::from_secs(1))));
            }
            for b in s.load.burst.iter_mut().chain(s.load.earthquake.iter_mut()) {
                b.at = scale(b.at);
            }
            for x in &mut s.load.series {
                x.at = scale(x.at);
            }
            for p in &mut s.publishes {
                p.at = scale(p.at);
            }
            s.load.until = s.load.until.map(scale);
            if let Some(r) = &mut s.rooms {
                r.scaled(scale, None);
            }
        }
        if let Some(settle) = sw.settle {
            s.settle = settle;
        }
        if let Some(start) = sw.start {
            s.start = Some(start);
        }
        if let Some(t) = &sw.topology {
            s.topology = t.clone();
        }
        if let Some(k) = sw.load_scale {
            s.load.background_per_hour *= k;
            s.load.orders_per_hour *= k;
            for x in &mut s.load.series {
                x.count = ((f64::from(x.count) * k).round() as u32).max(1);
            }
            if let Some(r) = &mut s.rooms {
                r.scaled(|x| x, Some(k));
            }
        }
        s.sweep = SweepSpec::default();
        s
    }

    fn validate(&self) -> Result<(), String> {
        if self.name.trim().is_empty() {
            return Err("name is empty".into());
        }
        let t = &self.topology;
        let given = usize::from(t.preset.is_some()) + usize::from(t.fanout.is_some()) + usize::from(t.file.is_some());
        if given != 1 {
            return Err("[topology] needs exactly one of preset, fanout, file".into());
        }
        if let Some(p) = &t.preset
            && Preset::parse(p).is_none()
        {
            return Err(format!("unknown preset {p:?} (demo, fuzhou, jiangsu)"));
        }
        for key in self.links.keys() {
            if key != "default" && Level::parse(key).is_none() {
                return Err(format!("[links.{key}]: not a level name or `default`"));
            }
        }
        for (key, m) in &self.links {
            if !(0.0..=1.0).contains(&m.loss) || !(0.0..=1.0).contains(&m.duplicate) {
                return Err(format!("[links.{key}]: loss and duplicate are probabilities in 0..=1"));
            }
            if m.loss >= 1.0 {
                return Err(format!("[links.{key}]: loss 1.0 would cut every link for good"));
            }
            let class_keys = m.rate_kbps.is_some() || m.urgent_copies > 0 || m.window.is_some();
            if class_keys && !m.declare {
                return Err(format!(
                    "[links.{key}]: rate_kbps, urgent_copies and window need declare = true"
                ));
            }
            if m.declare && key == "default" {
                return Err("[links.default]: declare a class per level ([links.village])".into());
            }
            let rate = m.rate_kbps.map_or(m.bandwidth_kbps, u64::from);
            if m.declare && rate < u64::from(LinkClass::MIN_KBPS) {
                return Err(format!(
                    "[links.{key}]: declare needs rate_kbps (or bandwidth_kbps) of at least {}",
                    LinkClass::MIN_KBPS
                ));
            }
            if m.window.is_some_and(|w| w.0.is_zero()) {
                return Err(format!("[links.{key}]: a window of 0 would send nothing"));
            }
            if m.urgent_copies > LinkClass::MAX_COPIES {
                return Err(format!(
                    "[links.{key}]: urgent_copies is at most {}",
                    LinkClass::MAX_COPIES
                ));
            }
        }
        for (i, s) in self.load.series.iter().enumerate() {
            let what = format!("[[load.series]] #{}", i + 1);
            NodeId::parse(&s.node).map_err(|e| format!("{what}: {e}"))?;
            match (s.kind, &s.to) {
                (SeriesKind::Order, Some(to)) => {
                    NodeId::parse(to).map_err(|e| format!("{what}: {e}"))?;
                }
                (SeriesKind::Order, None) => return Err(format!("{what}: an order series needs `to`")),
                (SeriesKind::Report, Some(_)) => return Err(format!("{what}: `to` is for orders")),
                (SeriesKind::Report, None) => {}
            }
            if s.count == 0 || s.at >= self.duration {
                return Err(format!("{what}: needs count > 0 and to start before the end"));
            }
        }
        if self.load.until.is_some_and(|u| u > self.duration) {
            return Err("[load] until is after the end of the duration".into());
        }
        if !(0.0..=1.0).contains(&self.load.drills) {
            return Err("[load] drills is a share in 0..=1".into());
        }
        self.check_rollup("")?;
        if self.sweep != SweepSpec::default() {
            self.sweep_variant().check_rollup("the [sweep] variant: ")?;
        }
        for level in [&self.load.order_from, &self.load.order_to] {
            if Level::parse(level).is_none() {
                return Err(format!("[load]: {level:?} is not a level"));
            }
        }
        if self.load.severity_mix.weights().iter().map(|(_, w)| w).sum::<f64>() <= 0.0
            || self.load.severity_mix.weights().iter().any(|(_, w)| *w < 0.0)
        {
            return Err("[load.severity_mix]: weights must be non-negative and not all zero".into());
        }
        for b in self.load.burst.iter().chain(&self.load.earthquake) {
            check_place(&b.node, &b.pick, "burst")?;
            if b.at >= self.duration {
                return Err(format!("burst at {} is after the end", fmt_duration(b.at.0)));
            }
        }
        if let Some(r) = &self.rooms {
            r.validate(self.duration.0)?;
        }
        for (i, f) in self.faults.iter().enumerate() {
            let what = format!("fault #{} ({})", i + 1, f.kind.name());
            match &f.pick {
                Some(p) if is_room_pick(p) && self.rooms.is_none() => {
                    return Err(format!("{what}: pick {p:?} needs a [rooms] section"));
                }
                Some(p) if is_room_pick(p) && f.node.is_none() => {}
                _ => check_place(&f.node, &f.pick, &what)?,
            }
            if f.permanent && !self.liveness {
                return Err(format!("{what}: permanent faults need liveness = true"));
            }
            if f.permanent && !matches!(f.kind, FaultKind::Deaf | FaultKind::Lossy) {
                return Err(format!("{what}: only deaf and lossy faults can be permanent"));
            }
            if f.lasts.is_none() && !f.permanent {
                return Err(format!("{what}: needs `for` (or permanent = true in liveness mode)"));
            }
            if f.at >= self.duration {
                return Err(format!("{what}: starts after the end"));
            }
            if f.kind == FaultKind::Flap && f.period.is_none() {
                return Err(format!("{what}: needs `period`"));
            }
            if f.kind == FaultKind::Lossy && !f.loss.is_some_and(|l| (0.0..1.0).contains(&l)) {
                return Err(format!("{what}: needs `loss` in 0..1"));
            }
            if f.count == 0 {
                return Err(format!("{what}: count must be at least 1"));
            }
        }
        if self.publishes.len() > MAX_PUBLISHES {
            return Err(format!("at most {MAX_PUBLISHES} [[publish]] entries"));
        }
        let mut before: Option<&Publish> = None;
        for (i, p) in self.publishes.iter().enumerate() {
            let what = format!("[[publish]] #{} (version {})", i + 1, p.version);
            if p.version == 0 {
                return Err(format!("{what}: versions start at 1"));
            }
            if p.at >= self.duration {
                return Err(format!("{what}: published after the end"));
            }
            if let Some(b) = before
                && (p.version <= b.version || p.at < b.at)
            {
                return Err(format!(
                    "{what}: each entry needs a higher version, at the same time or later, than the one before"
                ));
            }
            before = Some(p);
        }
        if let Some(t) = &self.sweep.topology
            && usize::from(t.preset.is_some()) + usize::from(t.fanout.is_some()) + usize::from(t.file.is_some()) != 1
        {
            return Err("[sweep.topology] needs exactly one of preset, fanout, file".into());
        }
        Ok(())
    }

    /// The period `rollup_matches` names ends during the run.
    fn check_rollup(&self, which: &str) -> Result<(), String> {
        let Some(PeriodSpec(p)) = self.invariants.rollup_matches else {
            return Ok(());
        };
        let start = self.start_ms();
        let end = start + (self.duration.0 + self.settle.0).as_millis() as u64;
        if p.end().0 <= start || p.end().0 >= end {
            return Err(format!(
                "{which}[invariants] rollup_matches: {p} must end during the run ({} to {})",
                Start(start),
                Start(end)
            ));
        }
        Ok(())
    }

    /// Builds the topology, with `[link_settings]` applied.
    pub fn topology(&self) -> Result<Topology, String> {
        let t = &self.topology;
        let topo = if let Some(p) = &t.preset {
            let preset = Preset::parse(p).ok_or_else(|| format!("unknown preset {p}"))?;
            liandong_topology::generate(&Shape::Preset(preset), Addressing::default()).map_err(|e| e.to_string())?
        } else if let Some(f) = &t.fanout {
            let top = match &t.top {
                Some(l) => Level::parse(l).ok_or_else(|| format!("unknown level {l}"))?,
                None => Level::City,
            };
            let shape = Shape::FanOut(FanOut {
                top,
                fanout: f.clone(),
                units: Vec::new(),
            });
            liandong_topology::generate(&shape, Addressing::default()).map_err(|e| e.to_string())?
        } else if let Some(file) = &t.file {
            let path = self.base.join(file);
            Topology::load(&path).map_err(|e| e.to_string())?
        } else {
            return Err("no topology".into());
        };
        let declared: Vec<(Level, LinkClass)> = self
            .links
            .iter()
            .filter(|(_, m)| m.declare)
            .filter_map(|(key, m)| {
                let kbps = m.rate_kbps.unwrap_or(m.bandwidth_kbps.min(u64::from(u32::MAX)) as u32);
                let mut class = LinkClass {
                    rate: Some(kbps.saturating_mul(125)),
                    urgent_copies: m.urgent_copies,
                    ..LinkClass::default()
                };
                if let Some(w) = m.window {
                    class.window = w.0;
                }
                Level::parse(key).map(|l| (l, class))
            })
            .collect();
        match &self.link_settings {
            None if declared.is_empty() => Ok(topo),
            timers => {
                let mut link = *topo.link();
                if let Some(l) = timers {
                    link.heartbeat = l.heartbeat.0;
                    link.failover_after = l.failover_after.0;
                }
                for (level, class) in declared {
                    link.set_class(level, class);
                }
                Topology::build(
                    topo.name(),
                    topo.nodes().cloned().collect(),
                    topo.policy().clone(),
                    link,
                )
                .map_err(|e| e.to_string())
            }
        }
    }

    /// The link model for a link whose lower end is at `level`.
    pub(crate) fn link_model(&self, level: Level) -> LinkModel {
        self.links
            .get(level.name())
            .or_else(|| self.links.get("default"))
            .copied()
            .unwrap_or_default()
    }
}

fn check_place(node: &Option<String>, pick: &Option<String>, what: &str) -> Result<(), String> {
    match (node, pick) {
        (Some(n), None) => NodeId::parse(n).map(|_| ()).map_err(|e| format!("{what}: {e}")),
        (None, Some(l)) => Level::parse(l)
            .map(|_| ())
            .ok_or_else(|| format!("{what}: pick {l:?} is not a level")),
        _ => Err(format!("{what}: needs exactly one of node, pick")),
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&fmt_duration(self.0))
    }
}
