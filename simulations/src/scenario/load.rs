//! The load a scenario puts on the federation: background reports by
//! severity, bursts, orders, and load series at named nodes (`[load]`,
//! `[[load.burst]]`, `[[load.series]]`).

use std::time::Duration;

use liandong_topology::Severity;
use serde::{Deserialize, Serialize};

use super::Span;

/// Shares of each severity in the background load (weights, any scale).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SeverityMix {
    #[serde(default)]
    pub routine: f64,
    #[serde(default)]
    pub iv: f64,
    #[serde(default)]
    pub iii: f64,
    #[serde(default)]
    pub ii: f64,
    #[serde(default)]
    pub i: f64,
}

impl Default for SeverityMix {
    fn default() -> Self {
        SeverityMix {
            routine: 70.0,
            iv: 20.0,
            iii: 7.0,
            ii: 2.5,
            i: 0.5,
        }
    }
}

impl SeverityMix {
    pub(crate) fn weights(&self) -> [(Severity, f64); 5] {
        [
            (Severity::Routine, self.routine),
            (Severity::IV, self.iv),
            (Severity::III, self.iii),
            (Severity::II, self.ii),
            (Severity::I, self.i),
        ]
    }
}

/// Many reports at once from the villages under one node.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Burst {
    pub at: Span,
    /// All reports are spread over this window (an earthquake: `1m`).
    #[serde(default = "default_within")]
    pub within: Span,
    #[serde(default = "default_burst_severity")]
    pub severity: Severity,
    /// A node by id...
    pub node: Option<String>,
    /// ...or a random center of this level (seeded).
    pub pick: Option<String>,
}

fn default_within() -> Span {
    Span(Duration::from_secs(600))
}

fn default_burst_severity() -> Severity {
    Severity::IV
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Load {
    /// Reports per simulated hour from random villages across the tree.
    #[serde(default)]
    pub background_per_hour: f64,
    #[serde(default)]
    pub severity_mix: SeverityMix,
    /// Orders per hour from random centers of `order_from` to the
    /// `order_to` nodes of their subtree.
    #[serde(default)]
    pub orders_per_hour: f64,
    #[serde(default = "default_order_from")]
    pub order_from: String,
    #[serde(default = "default_order_to")]
    pub order_to: String,
    /// Mean (exponential) delay before an owner accepts a report.
    #[serde(default = "default_accept_after")]
    pub accept_after: Span,
    /// Mean (exponential) delay before a target signs for an order.
    #[serde(default = "default_sign_for_after")]
    pub sign_for_after: Span,
    /// Simulated operators accept reports and sign for orders (after the
    /// delays above); false: nobody does, as on the live thin-link bench,
    /// which only files items (deadlines are still watched).
    #[serde(default = "default_operators")]
    pub operators: bool,
    /// Background reports and orders are filed until this long after the
    /// start (default: the whole duration); bursts and series keep their
    /// own times.
    #[serde(default)]
    pub until: Option<Span>,
    /// The share of background and burst reports and of orders filed as
    /// drills (Mode::Exercise); the rest are actual cases. 1 (the default):
    /// all drills, as the simulator always filed them. Series are drills.
    #[serde(default = "default_drills")]
    pub drills: f64,
    /// Background and burst reports of every category, drawn uniformly
    /// (default: all `Other`).
    #[serde(default)]
    pub mixed_categories: bool,
    /// A whole area reports at once.
    #[serde(default)]
    pub burst: Vec<Burst>,
    /// Every village in an area reports within a minute.
    #[serde(default)]
    pub earthquake: Vec<Burst>,
    /// Runs of items at named nodes, each with figures of its own.
    #[serde(default)]
    pub series: Vec<Series>,
}

/// What a series files.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum SeriesKind {
    /// Reports filed at `node`.
    Report,
    /// Orders from `node` to the one target `to`.
    Order,
}

/// `count` items at one named node, one every `every` from `at`; the
/// report prints their times to the first hop and to the owner (or the
/// target), and how long after the last heal the last one arrived.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Series {
    pub kind: SeriesKind,
    pub node: String,
    /// Orders: the target.
    pub to: Option<String>,
    #[serde(default = "default_burst_severity")]
    pub severity: Severity,
    pub count: u32,
    pub at: Span,
    pub every: Span,
}

fn default_order_from() -> String {
    "county".into()
}
fn default_order_to() -> String {
    "township".into()
}
fn default_accept_after() -> Span {
    Span(Duration::from_secs(120))
}
fn default_sign_for_after() -> Span {
    Span(Duration::from_secs(300))
}
fn default_operators() -> bool {
    true
}
fn default_drills() -> f64 {
    1.0
}

impl Default for Load {
    fn default() -> Self {
        Load {
            background_per_hour: 0.0,
            severity_mix: SeverityMix::default(),
            orders_per_hour: 0.0,
            order_from: default_order_from(),
            order_to: default_order_to(),
            accept_after: default_accept_after(),
            sign_for_after: default_sign_for_after(),
            operators: true,
            until: None,
            drills: default_drills(),
            mixed_categories: false,
            burst: Vec::new(),
            earthquake: Vec::new(),
            series: Vec::new(),
        }
    }
}
