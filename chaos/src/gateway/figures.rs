//! What the gateway bench measured and how it prints: one line per run
//! (reports accepted, failed, time, reports/s, p50/p99 request latency),
//! the HTTP/control ratio over all runs and per round, under a header
//! naming the machine it ran on.

use std::fmt;
use std::net::Ipv4Addr;
use std::time::Duration;

use crate::latency::nearest_rank;

use super::Door;

/// One run through one door.
#[derive(Debug, Clone)]
pub struct RunFigures {
    pub door: Door,
    /// 1, 2, ... in the order the runs went.
    pub run: usize,
    /// Reports the run was to file.
    pub asked: usize,
    /// Answered 201 (HTTP) or Done (control): stored by the node.
    pub accepted: usize,
    /// Answered otherwise, or not within the request timeout.
    pub failed: usize,
    /// From the first request sent to the last answer.
    pub elapsed: Duration,
    /// Each accepted report's request latency, microseconds, ascending.
    pub micros: Vec<u64>,
    /// What the first failure was.
    pub first_error: Option<String>,
    /// The id of one accepted report, for the owner check.
    pub sample: Option<String>,
}

impl RunFigures {
    /// Reports never sent: the run's time was up first.
    pub fn unsent(&self) -> usize {
        self.asked.saturating_sub(self.accepted + self.failed)
    }

    /// Reports accepted per second.
    pub fn per_second(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 { self.accepted as f64 / secs } else { 0.0 }
    }

    /// The nearest-rank `p`th percentile of the request latency, ms.
    pub fn latency_ms(&self, p: u32) -> Option<f64> {
        nearest_rank(&self.micros, p).map(|us| us as f64 / 1000.0)
    }
}

/// The machine the bench ran on, as far as it can tell.
#[derive(Debug, Clone)]
pub struct Machine {
    /// CPUs this process may use.
    pub cores: usize,
    /// The CPU's model name (`/proc/cpuinfo`), if known.
    pub cpu: Option<String>,
    /// The 1-minute load average when the bench started (`/proc/loadavg`).
    pub load: Option<f64>,
}

impl Machine {
    /// This machine, now.
    pub fn this() -> Machine {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let cpu = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        });
        let load = std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|t| t.split_whitespace().next().and_then(|l| l.parse().ok()));
        Machine { cores, cpu, load }
    }
}

/// Everything the bench prints.
#[derive(Debug, Clone)]
pub struct GatewayReport {
    pub machine: Machine,
    pub node: String,
    pub ip: Ipv4Addr,
    pub reports: usize,
    pub concurrency: usize,
    pub warmup: usize,
    pub runs: Vec<RunFigures>,
    /// What the owner check found (each door's sampled report).
    pub owners: String,
}

impl GatewayReport {
    /// Reports accepted per second through `door`, over all its runs.
    pub fn rate(&self, door: Door) -> f64 {
        let (accepted, secs) = self
            .runs
            .iter()
            .filter(|r| r.door == door)
            .fold((0usize, 0f64), |(a, s), r| {
                (a + r.accepted, s + r.elapsed.as_secs_f64())
            });
        if secs > 0.0 { accepted as f64 / secs } else { 0.0 }
    }

    /// HTTP's rate over the control API's, over all runs.
    pub fn ratio(&self) -> Option<f64> {
        let control = self.rate(Door::Control);
        (control > 0.0).then(|| self.rate(Door::Http) / control)
    }

    /// Reports filed and not accepted, over all runs.
    pub fn not_accepted(&self) -> usize {
        self.runs.iter().map(|r| r.asked - r.accepted.min(r.asked)).sum()
    }
}

fn ms(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.1}"))
}

impl fmt::Display for GatewayReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = &self.machine;
        writeln!(
            f,
            "gateway bench: node {} (a county of the demo federation) on {}, its own SQLite store",
            self.node, self.ip
        )?;
        write!(f, "machine: {} cores", m.cores)?;
        if let Some(cpu) = &m.cpu {
            write!(f, " ({cpu})")?;
        }
        match m.load {
            Some(l) => writeln!(f, ", load average {l:.2} at start (shared with other work)")?,
            None => writeln!(f)?,
        }
        writeln!(
            f,
            "each run: {} Routine reports owned by the node, {} at a time, one connection per worker; \
             warm-up {} per door",
            self.reports, self.concurrency, self.warmup
        )?;
        writeln!(
            f,
            "  HTTP:    POST /v1/reports, HTTPS (TLS 1.3) keep-alive, Bearer token, an Idempotency-Key each; \
             counted on 201"
        )?;
        writeln!(
            f,
            "  control: Act::Report over QUIC (mutual TLS, operator certificate), as `liandong report`; \
             counted on Done"
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "run  door      accepted        failed  unsent    time s  reports/s   p50 ms   p99 ms"
        )?;
        for r in &self.runs {
            writeln!(
                f,
                "{:<4} {:<9} {:>15} {:>7} {:>7} {:>9.2} {:>10.1} {:>8} {:>8}",
                r.run,
                r.door.name(),
                format!("{}/{}", r.accepted, r.asked),
                r.failed,
                r.unsent(),
                r.elapsed.as_secs_f64(),
                r.per_second(),
                ms(r.latency_ms(50)),
                ms(r.latency_ms(99)),
            )?;
            if let Some(e) = &r.first_error {
                writeln!(f, "     first failure: {e}")?;
            }
        }
        writeln!(f)?;
        match self.ratio() {
            Some(ratio) => write!(
                f,
                "HTTP/control: {ratio:.2} ({:.1} vs {:.1} reports/s over all runs)",
                self.rate(Door::Http),
                self.rate(Door::Control)
            )?,
            None => write!(f, "HTTP/control: - (no report accepted through the control API)")?,
        }
        let rounds: Vec<String> = self
            .runs
            .chunks(2)
            .filter_map(|pair| match pair {
                [c, h] if c.per_second() > 0.0 => Some(format!("{:.2}", h.per_second() / c.per_second())),
                _ => None,
            })
            .collect();
        if !rounds.is_empty() {
            write!(f, "; per round {}", rounds.join(", "))?;
        }
        writeln!(f)?;
        write!(f, "owners: {}", self.owners)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(door: Door, accepted: usize, secs: u64) -> RunFigures {
        RunFigures {
            door,
            run: 1,
            asked: 100,
            accepted,
            failed: 0,
            elapsed: Duration::from_secs(secs),
            micros: (1..=accepted as u64).map(|i| i * 1000).collect(),
            first_error: None,
            sample: None,
        }
    }

    #[test]
    fn the_ratio_is_over_all_runs_and_per_round() {
        let report = GatewayReport {
            machine: Machine {
                cores: 2,
                cpu: None,
                load: None,
            },
            node: "350102".into(),
            ip: Ipv4Addr::new(127, 0, 48, 1),
            reports: 100,
            concurrency: 4,
            warmup: 0,
            runs: vec![
                run(Door::Control, 100, 2),
                run(Door::Http, 100, 4),
                run(Door::Control, 100, 2),
                run(Door::Http, 80, 1),
            ],
            owners: "ok".into(),
        };
        // Control 200 in 4 s = 50/s; HTTP 180 in 5 s = 36/s.
        assert_eq!(report.ratio(), Some(36.0 / 50.0));
        assert_eq!(report.not_accepted(), 20);
        let text = report.to_string();
        assert!(text.contains("HTTP/control: 0.72 (36.0 vs 50.0 reports/s"), "{text}");
        assert!(text.contains("per round 0.50, 1.60"), "{text}");
        assert!(text.contains("machine: 2 cores"), "{text}");
        assert_eq!(report.runs[1].latency_ms(50), Some(50.0));
        assert_eq!(report.runs[3].unsent(), 20);
    }
}
