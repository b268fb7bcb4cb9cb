//! How long things took, in fixed buckets, so that the durations of many
//! centers add up exactly (a summary from each child, merged at the
//! parent): a median or a 90th percentile is read as the bucket it falls
//! in, "within 30 minutes", which is how leaders read them.

use serde::{Deserialize, Serialize};

/// Upper bounds of the buckets, in seconds; a last bucket holds the rest.
pub const BOUNDS_S: [u64; 17] = [
    60, 120, 300, 600, 900, 1_800, 3_600, 7_200, 14_400, 28_800, 43_200, 86_400, 172_800, 259_200, 604_800, 1_209_600,
    2_592_000,
];

/// A count of durations per bucket, and their sum.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Durations {
    /// `counts[i]` durations within `BOUNDS_S[i]` (and over the bound
    /// before); the last, over every bound.
    pub counts: [u64; BOUNDS_S.len() + 1],
    pub sum_ms: u64,
}

/// Where a percentile falls: within a bound, or over the last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Within {
    Seconds(u64),
    Over(u64),
}

impl Durations {
    pub fn add(&mut self, ms: u64) {
        let s = ms.div_ceil(1000);
        let i = BOUNDS_S.iter().position(|b| s <= *b).unwrap_or(BOUNDS_S.len());
        self.counts[i] += 1;
        self.sum_ms = self.sum_ms.saturating_add(ms);
    }

    pub fn merge(&mut self, other: &Durations) {
        for (a, b) in self.counts.iter_mut().zip(other.counts) {
            *a += b;
        }
        self.sum_ms = self.sum_ms.saturating_add(other.sum_ms);
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The bucket holding the `q`-quantile (0.5 the median, 0.9 the 90th
    /// percentile), if anything was counted.
    pub fn quantile(&self, q: f64) -> Option<Within> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        // The rank of the quantile, 1-based: the smallest k with k >= q n.
        let rank = ((q * n as f64).ceil() as u64).clamp(1, n);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(match BOUNDS_S.get(i) {
                    Some(b) => Within::Seconds(*b),
                    None => Within::Over(BOUNDS_S[BOUNDS_S.len() - 1]),
                });
            }
        }
        None
    }

    /// The mean, in milliseconds.
    pub fn mean_ms(&self) -> Option<u64> {
        let n = self.count();
        (n > 0).then(|| self.sum_ms / n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_fall_in_their_bucket_and_merging_adds_exactly() {
        let mut a = Durations::default();
        for s in [30, 90, 200, 200, 3_000] {
            a.add(s * 1000);
        }
        assert_eq!(a.quantile(0.5), Some(Within::Seconds(300)));
        assert_eq!(a.quantile(0.9), Some(Within::Seconds(3_600)));
        let mut b = Durations::default();
        b.add(90 * 86_400_000);
        let mut both = a.clone();
        both.merge(&b);
        assert_eq!(both.count(), 6);
        assert_eq!(both.quantile(1.0), Some(Within::Over(2_592_000)));
        assert_eq!(both.sum_ms, a.sum_ms + b.sum_ms);
        assert_eq!(Durations::default().quantile(0.5), None);
    }
}
