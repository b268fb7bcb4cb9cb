//! What the relay bench measured, and its printout: every figure with
//! the baseline or the peer it is read against, measured in the same run.

use std::fmt;
use std::time::Duration;

use crate::gateway::Machine;
use crate::jetstream::{JetStreamOutcome, SyncSetting};
use crate::thin::Samples;

/// One process's resources over a measured stretch, from `/proc`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    /// CPU time (user + system) spent in the stretch.
    pub cpu: Duration,
    /// Resident memory at the end of the stretch, and its peak, KiB.
    pub rss_kib: u64,
    pub peak_kib: u64,
}

impl Usage {
    /// Process `pid`'s CPU time so far and its memory now.
    pub fn read(pid: u32) -> Option<Usage> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // Fields after the command name (which may hold spaces) in ")".
        let rest = stat.rsplit_once(')')?.1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let kib = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        Some(Usage {
            cpu: Duration::from_millis(ticks * 1000 / hz),
            rss_kib: kib("VmRSS:"),
            peak_kib: kib("VmHWM:"),
        })
    }

    /// The CPU time between `before` and `self`, with `self`'s memory.
    pub fn since(self, before: Usage) -> Usage {
        Usage {
            cpu: self.cpu.saturating_sub(before.cpu),
            ..self
        }
    }
}

/// The throughput run: children pouring signed envelopes into the node,
/// the played parent counting them as they are relayed.
#[derive(Debug, Clone, Default)]
pub struct Throughput {
    pub children: usize,
    /// Envelopes each child keeps unacked at most.
    pub window: usize,
    pub sent: usize,
    /// Distinct envelopes that reached the parent (all must).
    pub relayed: usize,
    /// From the first send to the last arrival at the parent.
    pub elapsed: Duration,
    /// The node under test and the bench's own process over the run.
    pub node: Usage,
    pub bench: Usage,
    /// Commits the node made, read from its metrics (`None` if absent).
    pub commits: Option<u64>,
}

impl Throughput {
    pub fn rate(&self) -> f64 {
        self.relayed as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Everything the bench measured.
pub struct RelayReport {
    pub machine: Machine,
    /// The node under test (a county).
    pub node: String,
    /// Bytes of one envelope's frame (a severity III report).
    pub frame_bytes: usize,
    /// One fsync'd write of a frame's size on the same disk, one at a
    /// time: the floor of any durable ack.
    pub fsync: Samples,
    /// One envelope at a time from a child: its hop ack (stored and
    /// committed at the node), and its arrival at the parent.
    pub hop_ack: Samples,
    pub hop_through: Samples,
    /// A heartbeat's echo from the node, one at a time: the same way in
    /// and out without a commit.
    pub echo: Samples,
    pub throughput: Throughput,
    /// Village → township → county → city, each a `node run` process:
    /// from the village's send to the city's pushed "recorded".
    pub three_hops: Samples,
    /// Each node's memory after the three-hop run, KiB (id, rss, peak).
    pub chain_memory: Vec<(String, u64, u64)>,
    pub jetstream: Option<JetStreamOutcome>,
}

fn us(d: Option<Option<Duration>>) -> String {
    match d {
        Some(Some(d)) => format!("{:.0} µs", d.as_secs_f64() * 1e6),
        Some(None) => "lost".into(),
        None => "-".into(),
    }
}

fn ratio(a: Option<Option<Duration>>, b: Option<Option<Duration>>) -> String {
    match (a, b) {
        (Some(Some(a)), Some(Some(b))) if !b.is_zero() => format!("{:.1}×", a.as_secs_f64() / b.as_secs_f64()),
        _ => "-".into(),
    }
}

impl fmt::Display for RelayReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = &self.machine;
        writeln!(
            f,
            "relay bench: node {} in its own process; its neighbours played by this process over real QUIC and TLS",
            self.node
        )?;
        writeln!(
            f,
            "machine: {} cores ({}), load {:.2} at start; envelope frame {} bytes",
            m.cores,
            m.cpu.as_deref().unwrap_or("cpu unknown"),
            m.load.unwrap_or(f64::NAN),
            self.frame_bytes
        )?;
        if cfg!(debug_assertions) {
            writeln!(
                f,
                "note: a debug build; its figures are not a node's (cargo run --release -- bench relay)"
            )?;
        }
        let fsync50 = self.fsync.percentile(50.0);
        writeln!(
            f,
            "baseline: one fsync'd {}-byte write on the same disk: p50 {} p99 {} ({} samples)",
            self.frame_bytes,
            us(fsync50),
            us(self.fsync.percentile(99.0)),
            self.fsync.0.len()
        )?;
        writeln!(f, "one hop, one envelope at a time ({} samples):", self.hop_ack.0.len())?;
        for (what, s) in [
            ("durable hop ack at the child", &self.hop_ack),
            ("relayed to the parent", &self.hop_through),
            ("heartbeat echo (no commit)", &self.echo),
        ] {
            writeln!(
                f,
                "  {what:<30} p50 {:>8} ({} fsync)  p99 {:>8}  max {:>8}  lost {}",
                us(s.percentile(50.0)),
                ratio(s.percentile(50.0), fsync50),
                us(s.percentile(99.0)),
                us(s.percentile(100.0)),
                s.missing()
            )?;
        }
        let t = &self.throughput;
        writeln!(
            f,
            "throughput: {} children × window {}: {} of {} envelopes relayed in {:.2} s = {:.0} verified durable envelopes/s",
            t.children,
            t.window,
            t.relayed,
            t.sent,
            t.elapsed.as_secs_f64(),
            t.rate()
        )?;
        if let Some(c) = t.commits.filter(|c| *c > 0) {
            writeln!(
                f,
                "  {c} commits: {:.1} envelopes per commit",
                t.relayed as f64 / c as f64
            )?;
        }
        let wall = t.elapsed.as_secs_f64().max(1e-9);
        for (who, u) in [("node", &t.node), ("bench (all neighbours)", &t.bench)] {
            writeln!(
                f,
                "  {who:<22} cpu {:.2} s ({:.2} cores)  rss {} MiB  peak {} MiB",
                u.cpu.as_secs_f64(),
                u.cpu.as_secs_f64() / wall,
                u.rss_kib / 1024,
                u.peak_kib / 1024
            )?;
        }
        writeln!(
            f,
            "three hops village → township → county → city, each its own process ({} samples): p50 {} p99 {} max {} lost {}",
            self.three_hops.0.len(),
            us(self.three_hops.percentile(50.0)),
            us(self.three_hops.percentile(99.0)),
            us(self.three_hops.percentile(100.0)),
            self.three_hops.missing()
        )?;
        for (id, rss, peak) in &self.chain_memory {
            writeln!(f, "  node {id:<12} rss {} MiB  peak {} MiB", rss / 1024, peak / 1024)?;
        }
        match &self.jetstream {
            None => writeln!(f, "NATS JetStream: not run (--no-jetstream)")?,
            Some(JetStreamOutcome::Skipped { why }) => writeln!(f, "NATS JetStream: skipped: {why}")?,
            Some(JetStreamOutcome::Ran(js)) => {
                writeln!(f, "{js}")?;
                for sync in SyncSetting::ALL {
                    let Some(s) = js.setting(sync) else { continue };
                    // JetStream's best figure at this setting: with fsync on
                    // every message, one at a time beats many in flight.
                    let best = s.sequential.per_second().max(s.pipelined.per_second());
                    writeln!(
                        f,
                        "ratio: this node relayed {:.1}× JetStream's best durable publish rate with sync {} ({:.0}/s)",
                        t.rate() / best.max(1e-9),
                        sync.label(),
                        best
                    )?;
                }
                if let Some(p50) = js
                    .setting(SyncSetting::Always)
                    .and_then(|s| s.sequential.latency_us(50))
                {
                    writeln!(
                        f,
                        "ratio: one hop's durable ack p50 is {} JetStream's sequential publish ack p50 with sync always",
                        ratio(self.hop_ack.percentile(50.0), Some(Some(Duration::from_micros(p50))))
                    )?;
                }
            }
        }
        Ok(())
    }
}
