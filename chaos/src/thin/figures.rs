//! What the thin-link bench measured, and how it is printed.

use std::fmt;
use std::time::Duration;

/// Times from filing to arrival; `None` for an item that never arrived
/// within the run (it ranks above every time).
#[derive(Debug, Clone, Default)]
pub struct Samples(pub Vec<Option<Duration>>);

impl Samples {
    /// Nearest-rank percentile `p` (0..=100); `Some(None)` when that rank
    /// is an item that never arrived; `None` when there are no samples.
    pub fn percentile(&self, p: f64) -> Option<Option<Duration>> {
        if self.0.is_empty() {
            return None;
        }
        let mut v = self.0.clone();
        v.sort_by_key(|d| d.unwrap_or(Duration::MAX));
        let rank = ((p / 100.0) * v.len() as f64).ceil().max(1.0) as usize;
        Some(v[rank.min(v.len()) - 1])
    }

    pub fn missing(&self) -> usize {
        self.0.iter().filter(|d| d.is_none()).count()
    }
}

/// One direction's backlog and how it drained.
#[derive(Debug, Clone, Default)]
pub struct Drain {
    pub items: usize,
    /// Encoded envelope bytes of the items that arrived.
    pub bytes: u64,
    /// From the reconnection to the last item's arrival; `None` if some never came.
    pub took: Option<Duration>,
}

impl Drain {
    /// Bytes per second over the drain, as a share of `rate`.
    pub fn share(&self, rate: u64) -> Option<f64> {
        let took = self.took?.as_secs_f64();
        (took > 0.0 && rate > 0).then(|| self.bytes as f64 / took / rate as f64)
    }
}

/// One loss level's figures.
#[derive(Debug, Clone, Default)]
pub struct LevelFigures {
    pub loss: f64,
    /// Idle link: report village → township, village → city, order city → village.
    pub quiet: [Samples; 3],
    /// While the backlog drains (items filed before it had drained).
    pub loaded: [Samples; 3],
    /// While a photo climbs the thin link (empty without that phase).
    pub photo: [Samples; 3],
    /// The photo's size, and whether it was still in flight (not yet
    /// whole at the township) when the last of those items arrived.
    pub photo_bytes: u64,
    pub photo_in_flight: bool,
    /// Urgent items filed after the backlog had drained (not in `loaded`).
    pub after_drain: usize,
    /// Of the urgent items filed while the backlog drained, how many
    /// arrived before its last envelope did (the ordering CI asserts).
    pub overtook: usize,
    pub up: Drain,
    pub down: Drain,
    /// The village's links to its township that went down and came back.
    pub reconnects: usize,
    pub failovers: usize,
    pub wall: Duration,
    /// Where the level's logs and stores are, when kept.
    pub kept: Option<std::path::PathBuf>,
}

/// The whole bench.
#[derive(Debug, Clone, Default)]
pub struct ThinReport {
    pub rate: u64,
    pub delay: Duration,
    pub levels: Vec<LevelFigures>,
}

const ROWS: [&str; 3] = [
    "report village→township",
    "report village→city    ",
    "order  city→village    ",
];

fn secs(d: Option<Option<Duration>>) -> String {
    match d {
        None => "-".into(),
        Some(None) => "lost".into(),
        Some(Some(d)) => format!("{:.2} s", d.as_secs_f64()),
    }
}

impl fmt::Display for ThinReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "thin-link bench: village link at {} B/s ({} kbit/s) each way, {} ms each way; township → county → city clean",
            self.rate,
            self.rate * 8 / 1000,
            self.delay.as_millis()
        )?;
        for l in &self.levels {
            writeln!(
                f,
                "\nloss {:.0}% each way ({:.0} s)",
                l.loss * 100.0,
                l.wall.as_secs_f64()
            )?;
            writeln!(
                f,
                "  {:<8} {:<24} {:>4} {:>9} {:>9} {:>9} {:>5}",
                "", "urgent (severity I)", "n", "p50", "p99", "max", "lost"
            )?;
            for (phase, rows) in [("idle", &l.quiet), ("backlog", &l.loaded), ("photo", &l.photo)] {
                if rows.iter().all(|s| s.0.is_empty()) {
                    continue;
                }
                for (name, s) in ROWS.iter().zip(rows.iter()) {
                    writeln!(
                        f,
                        "  {:<8} {:<24} {:>4} {:>9} {:>9} {:>9} {:>5}",
                        phase,
                        name,
                        s.0.len(),
                        secs(s.percentile(50.0)),
                        secs(s.percentile(99.0)),
                        secs(s.percentile(100.0)),
                        s.missing()
                    )?;
                }
            }
            let during: usize = l.loaded.iter().map(|s| s.0.len()).sum();
            writeln!(
                f,
                "  urgent items that overtook the backlog: {} of {during}",
                l.overtook
            )?;
            if l.after_drain > 0 {
                writeln!(
                    f,
                    "  ({} urgent items filed after the backlog had drained are not in the backlog rows)",
                    l.after_drain
                )?;
            }
            for (name, d) in [
                ("up   (reports to the township)", &l.up),
                ("down (orders to the village) ", &l.down),
            ] {
                match (d.took, d.share(self.rate)) {
                    (Some(took), Some(share)) => writeln!(
                        f,
                        "  backlog {name}: {} items, {:.0} kB in {:.0} s = {:.0} B/s, {:.0}% of the cap",
                        d.items,
                        d.bytes as f64 / 1000.0,
                        took.as_secs_f64(),
                        d.bytes as f64 / took.as_secs_f64(),
                        share * 100.0
                    )?,
                    _ => writeln!(f, "  backlog {name}: {} items, not drained within the run", d.items)?,
                }
            }
            if l.photo_bytes > 0 {
                writeln!(
                    f,
                    "  photo phase: a {:.1} MiB photo climbing the thin link; {} when the last urgent item arrived",
                    l.photo_bytes as f64 / f64::from(1u32 << 20),
                    if l.photo_in_flight {
                        "still in flight"
                    } else {
                        "already whole at the township"
                    }
                )?;
            }
            writeln!(f, "  reconnects {}, failovers {}", l.reconnects, l.failovers)?;
            if let Some(dir) = &l.kept {
                writeln!(f, "  logs and stores kept in {}", dir.display())?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_rank_lost_items_last() {
        let ms = |n| Some(Duration::from_millis(n));
        let s = Samples(vec![ms(300), None, ms(100), ms(200)]);
        assert_eq!(s.percentile(50.0), Some(ms(200)));
        assert_eq!(s.percentile(75.0), Some(ms(300)));
        assert_eq!(s.percentile(99.0), Some(None));
        assert_eq!(s.missing(), 1);
        assert_eq!(Samples::default().percentile(50.0), None);
    }

    #[test]
    fn a_drain_share_is_bytes_over_time_over_the_cap() {
        let d = Drain {
            items: 10,
            bytes: 40_000,
            took: Some(Duration::from_secs(10)),
        };
        assert_eq!(d.share(8000), Some(0.5));
        assert_eq!(Drain::default().share(8000), None);
    }
}
