//! What a live run did and found ([`LiveSummary`]), and how it is printed.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use liandong_topology::LinkClass;

use crate::latency::OwnerLatencies;
use crate::proxy::StatsSnapshot;

/// What a run did and found.
#[derive(Debug, Clone, Default)]
pub struct LiveSummary {
    pub seed: u64,
    pub nodes: usize,
    pub proxies: usize,
    pub duration: Duration,
    pub loss: f64,
    /// Every link's cap, bytes per second each way, if capped.
    pub bandwidth: Option<u64>,
    /// The link class the harness declared for every level (`None`: it
    /// declared none, the topology's own classes stand).
    pub declared: Option<LinkClass>,
    /// Reports the nodes confirmed (Done) through the control API.
    pub filed: usize,
    /// Report calls that failed (node just killed) or were refused.
    pub calls_failed: usize,
    /// Filed reports found at their owner at the end.
    pub at_owner: usize,
    pub kills: usize,
    pub partitions: usize,
    /// "failed over" lines in the node logs (skip-level failover).
    pub failovers: usize,
    /// Connections that came up again: "link up" lines in the node logs
    /// beyond the first per (node, peer), counted at both ends.
    pub reconnects: usize,
    pub proxy: StatsSnapshot,
    /// From healing to every report at every center on its path.
    pub converged_after: Option<Duration>,
    /// Envelopes held over all stores, and acked outbox copies checked.
    pub envelopes_checked: usize,
    pub acked_checked: usize,
    /// From filing to arrival at the owner, per severity, from the
    /// owners' stores.
    pub to_owner: OwnerLatencies,
    /// Every check that failed, in words.
    pub failures: Vec<String>,
    /// Where the logs and stores are...
    pub dir: PathBuf,
    /// ...if they were kept (`LiveConfig::dir` given, or the run failed).
    pub kept: bool,
    pub wall: Duration,
}

impl LiveSummary {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

impl fmt::Display for LiveSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.proxy;
        writeln!(f, "live chaos run, seed {}", self.seed)?;
        writeln!(
            f,
            "  {} nodes, {} proxied links, {:.0} s of load at {:.0}% loss",
            self.nodes,
            self.proxies,
            self.duration.as_secs_f64(),
            self.loss * 100.0
        )?;
        match (self.bandwidth, self.declared) {
            (None, _) => {}
            (Some(b), None) => writeln!(f, "  links capped at {b} bytes/s each way, not declared")?,
            (Some(b), Some(c)) => writeln!(
                f,
                "  links capped at {b} bytes/s each way, declared: rate_kbps = {}, urgent_copies = {}",
                c.rate.map_or(0, |r| r / 125),
                c.urgent_copies
            )?,
        }
        writeln!(
            f,
            "  reports filed: {} ({} calls failed or refused), at their owner: {}",
            self.filed, self.calls_failed, self.at_owner
        )?;
        writeln!(
            f,
            "  kill -9: {}, partitions: {}, failovers logged: {}, reconnects logged: {}",
            self.kills, self.partitions, self.failovers, self.reconnects
        )?;
        writeln!(
            f,
            "  datagrams: {} in, {} out; dropped {} (loss {}, partition {}, overflow {}); duplicated {}; delayed {}; reordered {}",
            p.received,
            p.forwarded,
            p.dropped(),
            p.dropped_loss,
            p.dropped_partition,
            p.dropped_overflow,
            p.duplicated,
            p.delayed,
            p.reordered
        )?;
        match self.converged_after {
            Some(d) => writeln!(f, "  converged {:.1} s after healing", d.as_secs_f64())?,
            None => writeln!(f, "  did not converge")?,
        }
        writeln!(f, "{}", self.to_owner)?;
        writeln!(
            f,
            "  stores: {} envelopes, {} acked copies checked",
            self.envelopes_checked, self.acked_checked
        )?;
        writeln!(
            f,
            "  wall time {:.1} s; {} {}",
            self.wall.as_secs_f64(),
            if self.kept { "files in" } else { "removed" },
            self.dir.display()
        )?;
        if self.failures.is_empty() {
            write!(f, "  end check: PASSED")
        } else {
            writeln!(f, "  end check: FAILED ({} problems)", self.failures.len())?;
            for (i, x) in self.failures.iter().enumerate() {
                if i == 20 {
                    writeln!(f, "    ... and {} more", self.failures.len() - 20)?;
                    break;
                }
                writeln!(f, "    - {x}")?;
            }
            Ok(())
        }
    }
}
