//! 平安指数, the safety index of a center for a period, from its actual
//! figures and the weights in the policy (`[policy.index]`), 0 to 100:
//!
//! ```text
//! score   = 100 × (on_time × 按时受理率 + resolved × 办结率 + signed_for × 按时签收率)
//!                / (the weights of the rates that exist: a rate of nothing owned
//!                   or no order issued is left out; none: 100)
//! penalty = (Σ per_incident[severity] × incidents owned of that severity
//!            + per_supervised × supervised items)
//!         × per_centers / max(per_centers, centers in the subtree)
//! index   = score − penalty, within 0..100
//! ```
//!
//! The scaling keeps a city (thousands of centers, and so of incidents)
//! from sitting at 0 by its size alone: its points off are those of a
//! township's worth of its area (`per_centers`, 20 by default; 0 turns
//! the scaling off).
//!
//! Kept in tenths of a point so figures stay exact and comparable; a child
//! whose index is under `alarm_below` alarms its parent (the early
//! warning). Pure.

use liandong_topology::IndexWeights;

use super::counts::Breakdown;

/// An index in tenths as people read it: 863 → "86.3". The one way every
/// report, log line and screen writes it.
pub fn index_text(tenths: u32) -> String {
    format!("{}.{}", tenths / 10, tenths % 10)
}

/// The index of `b`, the figures of a subtree of `centers` centers,
/// under `w`, in tenths of a point (0..=1000).
pub fn safety_index(b: &Breakdown, w: &IndexWeights, centers: u64) -> u32 {
    let all = &b.all;
    let rates = [
        (w.on_time, all.on_time_rate()),
        (w.resolved, all.resolution_rate()),
        (w.signed_for, all.sign_for_rate()),
    ];
    let (mut weighted, mut weights) = (0.0, 0.0);
    for (weight, rate) in rates {
        if let (true, Some(rate)) = (weight > 0, rate) {
            weighted += f64::from(weight) * rate;
            weights += f64::from(weight);
        }
    }
    let score = if weights > 0.0 {
        100.0 * weighted / weights
    } else {
        100.0
    };
    let incidents: u64 = b
        .by_severity
        .iter()
        .map(|(severity, f)| u64::from(w.per_incident[severity.rank()]) * f.owned)
        .sum();
    let mut penalty = incidents as f64 + f64::from(w.per_supervised) * all.supervised as f64;
    let per = u64::from(w.per_centers);
    if per > 0 && centers > per {
        penalty *= per as f64 / centers as f64;
    }
    ((score - penalty).clamp(0.0, 100.0) * 10.0).round() as u32
}

#[cfg(test)]
mod tests {
    use liandong_topology::Severity;

    use super::*;
    use crate::figures::Figures;

    #[test]
    fn the_formula_as_documented() {
        let w = IndexWeights::default();
        // Nothing happened: 100.
        assert_eq!(safety_index(&Breakdown::default(), &w, 1), 1000);
        let mut b = Breakdown::default();
        let iv = Figures {
            received: 10,
            owned: 10,
            accepted: 10,
            accepted_on_time: 8,
            resolved: 9,
            ..Figures::default()
        };
        b.all.merge(&iv);
        b.by_severity.insert(Severity::IV, iv);
        // (40 × 0.8 + 40 × 0.9) / 80 = 85; 10 IV owned at 1 point each: 75.
        assert_eq!(safety_index(&b, &w, 1), 750);
        let ii = Figures {
            owned: 1,
            supervised: 1,
            ..Figures::default()
        };
        b.all.merge(&ii);
        b.by_severity.insert(Severity::II, ii);
        // 11 owned: (40 × 8/11 + 40 × 9/11) / 80 = 77.27; minus 10 + 10 + 2.
        assert_eq!(safety_index(&b, &w, 1), 553);
        let harsh = IndexWeights {
            per_incident: [0, 50, 50, 50, 50],
            ..w
        };
        assert_eq!(safety_index(&b, &harsh, 1), 0);
        // The same figures for a county of 220 centers: 22 points off at
        // a township's worth (20 of 220): 77.27 - 2.0 = 75.27.
        assert_eq!(safety_index(&b, &w, 220), 753);
        // At 20 centers or fewer, in full; with the scaling off, in full.
        assert_eq!(safety_index(&b, &w, 20), 553);
        let unscaled = IndexWeights { per_centers: 0, ..w };
        assert_eq!(safety_index(&b, &unscaled, 220), 553);
    }
}
