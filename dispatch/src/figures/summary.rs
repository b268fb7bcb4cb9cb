//! The roll-up: a center's subtree figures, sent to its parent as a
//! [`Summary`], and the [`Report`] a center reads: its own figures plus
//! its children's summaries, one row per source.
//!
//! Counted once: an incident is `owned` at one center, and `received` and
//! `passed_up` at every center it passed. Adding a child's subtree to its
//! parent's therefore adds everything the child's subtree owns and
//! issued, but of what it received only what it did not pass up: the
//! rest reached the parent and is in the parent's own `received` already
//! ([`Figures::merge_below`]). The same rule one level up makes a city's
//! figures the count over every node's records, each incident once.

use std::collections::BTreeMap;

use liandong_topology::{IndexWeights, NodeId};
use serde::{Deserialize, Serialize};

use super::counts::{Breakdown, CenterFigures, Figures};
use super::index::safety_index;
use super::period::Period;
use crate::basics::Timestamp;

/// A center's subtree figures for a period, as it sends them to its
/// parent (`Body::Summary`). `by_child` holds the center's own figures
/// under its own id and each child's subtree under the child's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub center: NodeId,
    pub period: Period,
    /// 1 for the first sent for the period; one more for each later one.
    pub version: u32,
    /// Sent after the period's first summary was due: the center was
    /// down then, or a child's summary came late and changed it.
    pub late: bool,
    pub actual: Breakdown,
    pub drill: Breakdown,
    /// 平安指数 of the subtree's actual figures, tenths of a point.
    pub index: u32,
    /// Children whose summary for the period had not come when this was made.
    pub missing: Vec<NodeId>,
}

/// A summary as a center keeps it: a child's latest, or the last it sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummaryRecord {
    pub summary: Summary,
    /// When it was stored here (received, or sent).
    pub at: Timestamp,
}

impl Figures {
    /// Adds a child subtree's figures below this center's: what the child
    /// passed up is already in this center's `received`.
    pub fn merge_below(&mut self, child: &Figures) {
        let (received, passed_up) = (self.received, self.passed_up);
        self.merge(child);
        self.received = received + child.received.saturating_sub(child.passed_up);
        self.passed_up = passed_up;
    }
}

impl Breakdown {
    /// [`Figures::merge_below`] slice by slice; `child` is the child's id.
    fn merge_below(&mut self, child: &NodeId, below: &Breakdown) {
        self.all.merge_below(&below.all);
        for (severity, f) in &below.by_severity {
            self.by_severity.entry(*severity).or_default().merge_below(f);
        }
        for (category, f) in &below.by_category {
            self.by_category.entry(*category).or_default().merge_below(f);
        }
        self.by_child.insert(child.clone(), below.all.clone());
    }
}

/// Where a row of a report comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Source {
    /// This center's own store, as of now.
    Own,
    /// The child's latest summary.
    Summary { version: u32, late: bool, at: Timestamp },
    /// In the summary of the center the report is about.
    Reported,
    /// No summary for the period yet: what reached the center from that
    /// subtree is shown, the subtree's own work is not.
    Awaiting,
}

/// One row of a report: a center's own figures or a child's subtree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    pub node: NodeId,
    pub source: Source,
    pub actual: Figures,
    pub drill: Figures,
    /// The row's 平安指数 (tenths), where its summary gives it.
    pub index: Option<u32>,
    /// The index is under the policy's `alarm_below`.
    pub alarm: bool,
}

/// A center's subtree report for a period: the whole, broken down, and
/// one row per source (the center itself first, then each child).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub center: NodeId,
    pub period: Period,
    /// `Own`: made now at the center; `Summary`: read from the center's
    /// latest summary, held by its parent.
    pub source: Source,
    pub actual: Breakdown,
    pub drill: Breakdown,
    /// 平安指数 of the subtree, tenths of a point.
    pub index: u32,
    pub alarm: bool,
    pub rows: Vec<Row>,
    /// Children whose summary has not come.
    pub missing: Vec<NodeId>,
}

/// The subtree report of `own`'s center: its own figures plus, for each
/// of `children` (in order), that child's summary for the period if one
/// came.
pub fn report(own: &CenterFigures, children: &[(NodeId, Option<&SummaryRecord>)], weights: &IndexWeights) -> Report {
    let me = &own.center;
    let mut actual = Breakdown {
        by_child: BTreeMap::from([(me.clone(), own.actual.all.clone())]),
        ..own.actual.clone()
    };
    let mut drill = Breakdown {
        by_child: BTreeMap::from([(me.clone(), own.drill.all.clone())]),
        ..own.drill.clone()
    };
    let mut rows = vec![Row {
        node: me.clone(),
        source: Source::Own,
        actual: own.actual.all.clone(),
        drill: own.drill.all.clone(),
        index: Some(own.index),
        alarm: own.alarm,
    }];
    let mut missing = Vec::new();
    for (child, record) in children {
        match record {
            Some(r) => {
                let s = &r.summary;
                actual.merge_below(child, &s.actual);
                drill.merge_below(child, &s.drill);
                rows.push(Row {
                    node: child.clone(),
                    source: Source::Summary {
                        version: s.version,
                        late: s.late,
                        at: r.at,
                    },
                    actual: s.actual.all.clone(),
                    drill: s.drill.all.clone(),
                    index: Some(s.index),
                    alarm: s.index < weights.alarm_below * 10,
                });
            }
            None => {
                missing.push(child.clone());
                let reached = |b: &Breakdown| b.by_child.get(child).cloned().unwrap_or_default();
                rows.push(Row {
                    node: child.clone(),
                    source: Source::Awaiting,
                    actual: reached(&own.actual),
                    drill: reached(&own.drill),
                    index: None,
                    alarm: false,
                });
            }
        }
    }
    let index = safety_index(&actual, weights, own.centers);
    Report {
        center: me.clone(),
        period: own.period,
        source: Source::Own,
        actual,
        drill,
        index,
        alarm: index < weights.alarm_below * 10,
        rows,
        missing,
    }
}

impl Report {
    /// The summary of this report, as version `version` of the center's.
    pub fn summary(&self, version: u32, late: bool) -> Summary {
        Summary {
            center: self.center.clone(),
            period: self.period,
            version,
            late,
            actual: self.actual.clone(),
            drill: self.drill.clone(),
            index: self.index,
            missing: self.missing.clone(),
        }
    }

    /// The report a parent reads from a child's summary: the child's
    /// subtree, its rows from the summary's breakdown by child.
    pub fn of_summary(record: &SummaryRecord, weights: &IndexWeights) -> Report {
        let s = &record.summary;
        let rows = s
            .actual
            .by_child
            .keys()
            .chain(s.drill.by_child.keys().filter(|k| !s.actual.by_child.contains_key(*k)))
            .map(|node| Row {
                node: node.clone(),
                source: if *node == s.center {
                    Source::Own
                } else {
                    Source::Reported
                },
                actual: s.actual.by_child.get(node).cloned().unwrap_or_default(),
                drill: s.drill.by_child.get(node).cloned().unwrap_or_default(),
                index: None,
                alarm: false,
            });
        // The center's own row first, then its children in id order.
        let (mut own, mut rest): (Vec<Row>, Vec<Row>) = rows.partition(|r| r.node == s.center);
        own.append(&mut rest);
        for child in &s.missing {
            own.push(Row {
                node: child.clone(),
                source: Source::Awaiting,
                actual: Figures::default(),
                drill: Figures::default(),
                index: None,
                alarm: false,
            });
        }
        Report {
            center: s.center.clone(),
            period: s.period,
            source: Source::Summary {
                version: s.version,
                late: s.late,
                at: record.at,
            },
            actual: s.actual.clone(),
            drill: s.drill.clone(),
            index: s.index,
            alarm: s.index < weights.alarm_below * 10,
            rows: own,
            missing: s.missing.clone(),
        }
    }
}
