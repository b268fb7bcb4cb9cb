//! The roll-up figures of a run whose scenario checks one period's
//! figures (平安报表, `[invariants] rollup_matches`): what was reported
//! in the period, the root's report of it, and how the summaries climbed.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use super::{human, ms, opt_ms};

/// How one period's figures rolled up to the root.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Rollup {
    /// `2027-01`.
    pub period: String,
    /// When the period ended, in simulated time.
    #[serde(rename = "period_end_ms", serialize_with = "ms")]
    pub period_end: Duration,
    /// Incidents reported in the period, by every node's records.
    pub incidents_actual: u64,
    pub incidents_drill: u64,
    /// Orders issued in the period, and their targets.
    pub orders: u64,
    pub order_targets: u64,
    /// The root's report of the period, actual cases.
    pub root: RootFigures,
    /// Centers that sent a summary for the period, and the versions they
    /// sent in all.
    pub senders: u64,
    pub versions: u64,
    /// Centers whose newest summary is marked late.
    pub late: Vec<String>,
    /// The root's children, and those whose summary the root holds.
    pub children: u64,
    pub at_root: u64,
    /// When the last of those summaries was stored at the root.
    #[serde(rename = "complete_at_ms", serialize_with = "opt_ms")]
    pub complete_at: Option<Duration>,
    /// Summaries at the root that are not a first version on time:
    /// `350125 v2 late, stored at 6h35m`.
    pub revised: Vec<String>,
}

/// The headline figures of the root's report (actual cases).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RootFigures {
    pub received: u64,
    pub accepted: u64,
    pub accepted_on_time: u64,
    pub supervised: u64,
    pub escalations: u64,
    pub order_targets: u64,
    pub signed_for_on_time: u64,
    /// 平安指数, tenths of a point.
    pub index: u32,
}

impl fmt::Display for Rollup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "roll-up of {} (平安报表; the period ended at {})",
            self.period,
            human(self.period_end)
        )?;
        writeln!(
            f,
            "  reported in it: {} actual, {} drills; {} orders to {} targets",
            self.incidents_actual, self.incidents_drill, self.orders, self.order_targets
        )?;
        let r = &self.root;
        writeln!(
            f,
            "  the root's report (actual): received {}, accepted {} ({} on time), supervised {}, escalations {}; \
             order targets {}, signed for on time {}; index {}",
            r.received,
            r.accepted,
            r.accepted_on_time,
            r.supervised,
            r.escalations,
            r.order_targets,
            r.signed_for_on_time,
            liandong_dispatch::figures::index_text(r.index)
        )?;
        let late = match self.late.as_slice() {
            [] => "none late".to_string(),
            [one] => format!("late: {one}"),
            [first, rest @ ..] => format!("late: {first} and {} more", rest.len()),
        };
        writeln!(
            f,
            "  summaries: {} centers sent {} versions; {late}",
            self.senders, self.versions
        )?;
        write!(f, "  at the root: {} of {} children's", self.at_root, self.children)?;
        if let Some(at) = self.complete_at {
            write!(f, ", the last stored at {}", human(at))?;
        }
        writeln!(f)?;
        for r in &self.revised {
            writeln!(f, "    {r}")?;
        }
        Ok(())
    }
}
