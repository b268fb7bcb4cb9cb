//! What the fold makes: the figures of a slice, one mode's breakdown,
//! and a center's own figures for a period.

use std::collections::BTreeMap;

use liandong_topology::{NodeId, Severity};
use serde::{Deserialize, Serialize};

use super::durations::Durations;
use super::period::Period;
use crate::basics::Category;

/// The figures of one slice (a severity, a category, a child, or all).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Figures {
    /// Reports reported in the period and recorded here, from this
    /// center's subtree (its own included); not one carried here for a
    /// center below that was down: that center owns and counts it.
    pub received: u64,
    /// Of the reports reported in the period, those this center owns.
    pub owned: u64,
    /// Received here, owned by a center above.
    pub passed_up: u64,
    /// Owned and accepted (受理).
    pub accepted: u64,
    /// Accepted by the accept deadline.
    pub accepted_on_time: u64,
    /// Owned and resolved (办结): resolved, verified or closed.
    pub resolved: u64,
    /// Owned and verified (核查) or closed.
    pub verified: u64,
    /// Owned and closed (结案).
    pub closed: u64,
    /// Owned and cancelled.
    pub cancelled: u64,
    /// From report to acceptance, of those accepted.
    pub to_accept: Durations,
    /// From report to closing, of those closed.
    pub to_close: Durations,
    /// Owned and supervised (督办) after a missed deadline.
    pub supervised: u64,
    /// Escalations of owned incidents (自动或人工越级上交).
    pub escalations: u64,
    /// Orders (交办) this center issued in the period.
    pub orders: u64,
    /// Their targets.
    pub order_targets: u64,
    /// Targets that signed for (签收) by the deadline.
    pub signed_for_on_time: u64,
    /// Targets that reported done.
    pub done: u64,
}

impl Figures {
    /// Adds `other` (another slice, a child's summary).
    pub fn merge(&mut self, other: &Figures) {
        self.received += other.received;
        self.owned += other.owned;
        self.passed_up += other.passed_up;
        self.accepted += other.accepted;
        self.accepted_on_time += other.accepted_on_time;
        self.resolved += other.resolved;
        self.verified += other.verified;
        self.closed += other.closed;
        self.cancelled += other.cancelled;
        self.to_accept.merge(&other.to_accept);
        self.to_close.merge(&other.to_close);
        self.supervised += other.supervised;
        self.escalations += other.escalations;
        self.orders += other.orders;
        self.order_targets += other.order_targets;
        self.signed_for_on_time += other.signed_for_on_time;
        self.done += other.done;
    }

    /// Resolved of owned (办结率), if any were owned.
    pub fn resolution_rate(&self) -> Option<f64> {
        ratio(self.resolved, self.owned)
    }

    /// Accepted on time of owned (按时受理率).
    pub fn on_time_rate(&self) -> Option<f64> {
        ratio(self.accepted_on_time, self.owned)
    }

    /// Targets signed for on time of all targets (按时签收率).
    pub fn sign_for_rate(&self) -> Option<f64> {
        ratio(self.signed_for_on_time, self.order_targets)
    }
}

fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// One mode's figures, whole and broken down.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Breakdown {
    pub all: Figures,
    pub by_severity: BTreeMap<Severity, Figures>,
    pub by_category: BTreeMap<Category, Figures>,
    /// By the child subtree an incident came from (this center's own
    /// reports under its own id), or an order's target is in.
    pub by_child: BTreeMap<NodeId, Figures>,
}

/// A center's own figures for a period: actual cases and drills apart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CenterFigures {
    pub center: NodeId,
    pub period: Period,
    /// Centers in its subtree, itself included (the index scales by it).
    pub centers: u64,
    pub actual: Breakdown,
    pub drill: Breakdown,
    /// 平安指数 of the actual figures, tenths of a point (0..=1000), under
    /// the policy's weights ([`safety_index`]).
    pub index: u32,
    /// Under the policy's `alarm_below`: the early warning.
    pub alarm: bool,
}
