//! The thin-link bench: urgent traffic on a 64 kbit/s lossy link while a
//! backlog drains across it, measured with real nodes.
//!
//! A chain of four centers (city → county → township → village) as real
//! `node run` processes. The village's links (to its township, and to the
//! ancestors it would fail over to) go through chaos proxies at the
//! declared rate each way with the given loss and a fixed delay each way;
//! the township → county → city hops are clean. For each loss level:
//!
//! 1. **Quiet**: severity I reports filed at the village, and urgent
//!    (severity I) orders from the city to the village, on an idle link.
//! 2. **Backlog**: the village is cut off while routine reports pile up
//!    at it and routine orders for it pile up at the township (each at
//!    least 2,000 by default), then reconnected.
//! 3. **Loaded**: while both backlogs drain, severity I reports at the
//!    village and urgent orders from the city, every `urgent_every`.
//!
//! 4. **Photo** (with `photo` bytes): a routine report at the village
//!    carrying a photo that size, which the township pulls over the thin
//!    link on the bulk lane; while it is in flight, urgent items again as
//!    on the idle link.
//!
//! Times are from the filing call to the pushed notice at the center
//! (the harness's clock: every process is on this machine). It prints
//! urgent p50/p99 with and without the backlog, to the township (one
//! thin hop) and the city (that hop and two clean ones) and down to the
//! village; how fast each backlog drained as a share of the capped rate
//! (the envelopes' encoded bytes over the drain time); and the village's
//! reconnects and failovers, read from its log.
//!
//! `liandong bench thin-link` is its command line; its scenario file is
//! `simulations/scenarios/live/thin-link.toml`.

mod figures;
mod run;
mod watch;

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

pub use figures::{LevelFigures, Samples, ThinReport};

/// What the thin-link bench is asked to do.
#[derive(Debug, Clone)]
pub struct ThinConfig {
    /// The `liandong` binary to run nodes with.
    pub binary: PathBuf,
    /// Where the four nodes listen (ports from 7100).
    pub ip: Ipv4Addr,
    /// The loss levels to run, one after the other.
    pub losses: Vec<f64>,
    /// The thin link's cap, bytes per second each way.
    pub rate: u64,
    /// Delay each way on the thin link.
    pub delay: Duration,
    /// Routine reports that pile up at the village while it is cut off.
    pub backlog_reports: usize,
    /// Routine orders for the village that pile up at the township.
    pub backlog_orders: usize,
    /// Urgent reports (and as many urgent orders) while the backlog drains.
    pub urgent: usize,
    /// ...one every this long.
    pub urgent_every: Duration,
    /// Urgent reports (and orders) on the idle link first.
    pub quiet: usize,
    /// Last, a photo of this many bytes follows a report up the thin link
    /// while `quiet` urgent items are filed again (0: no photo phase).
    pub photo: u64,
    /// Longest wait for the backlog to drain and the last urgent item.
    pub drain_within: Duration,
    /// How the village links are declared in the topology: `Some(copies)`
    /// declares their rate and that many urgent copies (what a
    /// deployment on such links declares); `None` leaves them undeclared.
    pub declare: Option<u8>,
    pub seed: u64,
    /// Keep each level's logs and stores under this directory.
    pub dir: Option<PathBuf>,
    pub verbose: bool,
}

impl ThinConfig {
    /// The link: 8,000 B/s (64 kbit/s) each way, 300 ms each way,
    /// at 20%, 5% and 0% loss; 2,000 reports and 2,000 orders of backlog;
    /// 30 urgent reports and orders 10 s apart while it drains, 10 on the
    /// idle link.
    pub fn new(binary: PathBuf) -> ThinConfig {
        ThinConfig {
            binary,
            ip: Ipv4Addr::new(127, 0, 44, 1),
            losses: vec![0.2, 0.05, 0.0],
            rate: 8000,
            delay: Duration::from_millis(300),
            backlog_reports: 2000,
            backlog_orders: 2000,
            urgent: 30,
            urgent_every: Duration::from_secs(10),
            quiet: 10,
            photo: 0,
            drain_within: Duration::from_secs(1200),
            declare: Some(1),
            seed: 1,
            dir: None,
            verbose: false,
        }
    }
}

impl ThinConfig {
    /// The `[link.village]` section the bench's topology gets.
    pub(crate) fn declared(&self) -> String {
        match self.declare {
            None => String::new(),
            Some(copies) => {
                let kbps = (self.rate * 8 / 1000).max(u64::from(liandong_topology::LinkClass::MIN_KBPS));
                format!("[link.village]\nrate_kbps = {kbps}\nurgent_copies = {copies}\n")
            }
        }
    }
}

/// Runs every loss level in turn.
pub async fn bench(config: ThinConfig) -> anyhow::Result<ThinReport> {
    let mut report = ThinReport {
        rate: config.rate,
        delay: config.delay,
        levels: Vec::new(),
    };
    for &loss in &config.losses {
        report.levels.push(run::level(&config, loss).await?);
    }
    Ok(report)
}
