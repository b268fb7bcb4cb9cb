//! How long filed reports took to reach their owner, per severity
//! ([`OwnerLatencies`]), read from the owners' stores after the run, and
//! the table it prints as (nearest-rank p50, p90, p99 and max, seconds).
//!
//! A stored envelope's trace holds every hop that stored it, origin first
//! and this node last, each stamped with the storing node's clock. The
//! nodes of a live run share one machine's clock, so the owner's last hop
//! minus the origin's first hop is the time from filing to arrival at the
//! owner. The computation is pure (stores in, figures out); `checks` feeds
//! it the stores it opened.

use std::collections::BTreeMap;
use std::fmt;

use liandong_dispatch::Store;
use liandong_topology::{NodeId, Severity};

use crate::load::Filed;

/// Filing-to-owner latencies of the reports of one severity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnerLatency {
    /// Reports of this severity the nodes confirmed.
    pub filed: usize,
    /// One entry per filed report found at its owner: milliseconds from
    /// its first hop (stored at the origin) to its last (stored at the
    /// owner). Unsorted.
    pub millis: Vec<u64>,
}

/// The figures of one severity's latencies, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Percentiles {
    pub count: usize,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub max: u64,
}

impl OwnerLatency {
    /// Nearest-rank percentiles; `None` when no report reached its owner.
    pub fn percentiles(&self) -> Option<Percentiles> {
        let mut sorted = self.millis.clone();
        sorted.sort_unstable();
        Some(Percentiles {
            count: sorted.len(),
            p50: nearest_rank(&sorted, 50)?,
            p90: nearest_rank(&sorted, 90)?,
            p99: nearest_rank(&sorted, 99)?,
            max: *sorted.last()?,
        })
    }
}

/// The nearest-rank `p`th percentile of `sorted` (ascending): the
/// smallest value with at least `p`% of the values at or below it.
pub fn nearest_rank(sorted: &[u64], p: u32) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let p = u64::from(p.clamp(1, 100));
    let n = sorted.len() as u64;
    // ceil(p * n / 100), at least 1.
    let rank = (p * n).div_ceil(100).max(1);
    Some(sorted[(rank - 1) as usize])
}

/// Filing-to-owner latencies of every severity (index: [`Severity::rank`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnerLatencies {
    pub by_severity: [OwnerLatency; 5],
}

impl OwnerLatencies {
    pub fn of(&self, severity: Severity) -> &OwnerLatency {
        &self.by_severity[severity.rank()]
    }

    /// Every filed report, looked up in its owner's store: a report found
    /// there adds its latency, one missing only its count of filed.
    pub(crate) fn from_stores(stores: &BTreeMap<NodeId, Store>, filed: &[Filed]) -> OwnerLatencies {
        let mut out = OwnerLatencies::default();
        for f in filed {
            let row = &mut out.by_severity[f.severity.rank()];
            row.filed += 1;
            let Some(owner) = f.path.last() else { continue };
            let Some(stored) = stores.get(owner).and_then(|s| s.envelopes.get(&f.id)) else {
                continue;
            };
            let (Some(first), Some(last)) = (stored.trace.first(), stored.trace.last()) else {
                continue;
            };
            if first.node != f.origin || last.node != *owner {
                continue;
            }
            row.millis.push(last.at.0.saturating_sub(first.at.0));
        }
        out
    }
}

/// The table: one line per severity, most severe first.
impl fmt::Display for OwnerLatencies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "  filing to owner, seconds (nearest rank):")?;
        write!(
            f,
            "    {:<8} {:>6} {:>6} {:>8} {:>8} {:>8} {:>8}",
            "severity", "filed", "n", "p50", "p90", "p99", "max"
        )?;
        for s in Severity::ALL.iter().rev() {
            let row = self.of(*s);
            writeln!(f)?;
            write!(f, "    {:<8} {:>6}", s.name(), row.filed)?;
            match row.percentiles() {
                Some(p) => write!(
                    f,
                    " {:>6} {:>8} {:>8} {:>8} {:>8}",
                    p.count,
                    secs(p.p50),
                    secs(p.p90),
                    secs(p.p99),
                    secs(p.max)
                )?,
                None => write!(f, " {:>6} {:>8} {:>8} {:>8} {:>8}", 0, "-", "-", "-", "-")?,
            }
        }
        Ok(())
    }
}

fn secs(ms: u64) -> String {
    format!("{:.2}", ms as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use liandong_dispatch::store::StoredEnvelope;
    use liandong_dispatch::wire::{Body, Category, Envelope, EnvelopeId, Hop, Mode, Report, Timestamp};

    #[test]
    fn nearest_rank_takes_the_smallest_value_covering_the_share() {
        let ten: Vec<u64> = (1..=10).collect();
        assert_eq!(nearest_rank(&ten, 50), Some(5));
        assert_eq!(nearest_rank(&ten, 90), Some(9));
        assert_eq!(nearest_rank(&ten, 99), Some(10));
        assert_eq!(nearest_rank(&ten, 100), Some(10));
        let hundred: Vec<u64> = (1..=100).collect();
        assert_eq!(nearest_rank(&hundred, 99), Some(99));
        assert_eq!(nearest_rank(&[7], 50), Some(7));
        assert_eq!(nearest_rank(&[7], 99), Some(7));
        assert_eq!(nearest_rank(&[], 50), None);
    }

    #[test]
    fn percentiles_sort_first() {
        let row = OwnerLatency {
            filed: 4,
            millis: vec![4000, 1000, 3000, 2000],
        };
        let p = row.percentiles().unwrap();
        assert_eq!((p.count, p.p50, p.p90, p.p99, p.max), (4, 2000, 4000, 4000, 4000));
        assert_eq!(OwnerLatency::default().percentiles(), None);
    }

    /// A stored copy whose trace runs through `hops` (node, ms).
    fn stored(id: EnvelopeId, origin: &NodeId, hops: &[(&NodeId, u64)]) -> StoredEnvelope {
        let envelope = Envelope {
            id,
            origin: origin.clone(),
            created: Timestamp(hops[0].1),
            expires: Timestamp(u64::MAX),
            mode: Mode::Exercise,
            body: Body::Report(Report {
                severity: Severity::II,
                category: Category::Flood,
                title: "演练".into(),
                detail: String::new(),
                place: String::new(),
                reporter: String::new(),
                photos: Vec::new(),
            }),
            signature: Vec::new(),
        };
        StoredEnvelope {
            envelope,
            trace: hops
                .iter()
                .map(|(n, at)| Hop {
                    node: (*n).clone(),
                    at: Timestamp(*at),
                })
                .collect(),
            catch_up: false,
        }
    }

    #[test]
    fn latency_runs_from_the_origin_hop_to_the_owner_hop_and_missing_reports_count_as_filed() {
        let id = |s: &str| NodeId::parse(s).unwrap();
        let (village, town, county) = (id("350102001001"), id("350102001"), id("350102"));
        let (a, b, c) = (EnvelopeId(1), EnvelopeId(2), EnvelopeId(3));
        let mut county_store = Store::default();
        county_store.envelopes.insert(
            a,
            stored(a, &village, &[(&village, 1_000), (&town, 1_400), (&county, 3_500)]),
        );
        let mut town_store = Store::default();
        town_store
            .envelopes
            .insert(b, stored(b, &village, &[(&village, 10_000), (&town, 10_250)]));
        let stores = BTreeMap::from([(county.clone(), county_store), (town.clone(), town_store)]);
        let filed = [
            Filed {
                origin: village.clone(),
                id: a,
                severity: Severity::II,
                path: vec![village.clone(), town.clone(), county.clone()],
            },
            Filed {
                origin: village.clone(),
                id: b,
                severity: Severity::Routine,
                path: vec![village.clone(), town.clone()],
            },
            // Never reached the county.
            Filed {
                origin: village.clone(),
                id: c,
                severity: Severity::II,
                path: vec![village.clone(), town.clone(), county.clone()],
            },
        ];
        let l = OwnerLatencies::from_stores(&stores, &filed);
        assert_eq!(
            l.of(Severity::II),
            &OwnerLatency {
                filed: 2,
                millis: vec![2_500]
            }
        );
        assert_eq!(
            l.of(Severity::Routine),
            &OwnerLatency {
                filed: 1,
                millis: vec![250]
            }
        );
        assert_eq!(l.of(Severity::I), &OwnerLatency::default());
        let table = l.to_string();
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 7, "{table}");
        assert!(lines[2].trim_start().starts_with("I "), "{table}");
        assert!(lines[2].contains('-'), "{table}");
        let ii: Vec<&str> = lines[3].split_whitespace().collect();
        assert_eq!(ii, ["II", "2", "1", "2.50", "2.50", "2.50", "2.50"], "{table}");
        let routine: Vec<&str> = lines[6].split_whitespace().collect();
        assert_eq!(
            routine,
            ["Routine", "1", "1", "0.25", "0.25", "0.25", "0.25"],
            "{table}"
        );
    }
}
