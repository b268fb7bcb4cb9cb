//! The gateway bench: how many reports a node takes in durably per second
//! through its HTTP gateway, against its control API, on the same node in
//! the same run.
//!
//! One real `node run` process (the county 350102 of the demo federation,
//! its own data directory under the run's directory) serves both doors on
//! loopback: the gateway with a self-signed certificate for `localhost` and
//! a token issued as `liandong gateway token issue` issues it, and the
//! control API with the federation's certificates. Its parent is not
//! started: every report is Routine, which the county owns itself, so no
//! report is forwarded and neither door carries load the other does not.
//!
//! Each run files `reports` reports through one door, `concurrency` at a
//! time, each worker on its own connection kept for the whole run (HTTP/1.1
//! keep-alive over TLS 1.3 for the gateway; one QUIC connection with an
//! operator certificate for the control API, as the CLI's `report` dials).
//! A report counts only when answered `201 Created` (HTTP, `POST
//! /v1/reports` with its own `Idempotency-Key`) or `Done` (control): the
//! node answers both after its commit. The runs alternate (control, HTTP,
//! control, HTTP, ...) after a warm-up through each door, so a drift of the
//! shared machine falls on both. Each run prints reports/s, p50/p99 request
//! latency, and the whole its HTTP/control ratio.
//!
//! # Layout
//! - `doors`: the two doors' clients and one run through a door.
//! - `figures`: what a run measured ([`RunFigures`]) and the printed
//!   report ([`GatewayReport`]).
//! - `run` (private): the node brought up, the runs, the owner check.
//!
//! # What it never does
//! - Never looks inside the node: it sees only the two doors' answers.
//! - Binds and dials loopback addresses only; nothing is left running (the
//!   node dies with the harness, `PR_SET_PDEATHSIG`).
//! - Never runs unbounded: `reports` per run, a new request only within
//!   `run_limit` of the run's start, each request within [`REQUEST_TIMEOUT`].

mod doors;
mod figures;
mod run;

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

pub use doors::Door;
pub use figures::{GatewayReport, Machine, RunFigures};
pub use run::bench;

/// Longest one request may take before it counts as failed.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// Most workers at once (the control API serves 256 consoles).
pub const MAX_CONCURRENCY: usize = 128;

/// What the gateway bench is asked to do.
#[derive(Debug, Clone)]
pub struct GatewayBenchConfig {
    /// The `liandong` binary to run the node with.
    pub binary: PathBuf,
    /// The loopback address the node listens on (ports 7100...; control
    /// 8100...; the gateway [`GATEWAY_PORT`]).
    pub ip: Ipv4Addr,
    /// Reports filed per run.
    pub reports: usize,
    /// Requests in flight at once, each worker on its own connection.
    pub concurrency: usize,
    /// No new request is sent this long after a run's start.
    pub run_limit: Duration,
    /// Pairs of runs (control then HTTP).
    pub rounds: usize,
    /// Reports filed through each door before the measured runs.
    pub warmup: usize,
    /// Keep the node's data and log under this directory.
    pub dir: Option<PathBuf>,
    pub verbose: bool,
}

/// The gateway's port on the bench's address.
pub const GATEWAY_PORT: u16 = 8443;

impl GatewayBenchConfig {
    /// 2,000 reports per run, 16 at a time, two rounds, 60 s per run at most,
    /// 100 reports of warm-up through each door, on 127.0.48.1.
    pub fn new(binary: PathBuf) -> GatewayBenchConfig {
        GatewayBenchConfig {
            binary,
            ip: Ipv4Addr::new(127, 0, 48, 1),
            reports: 2000,
            concurrency: 16,
            run_limit: Duration::from_secs(60),
            rounds: 2,
            warmup: 100,
            dir: None,
            verbose: false,
        }
    }

    /// Why this configuration cannot run, if it cannot.
    pub fn check(&self) -> Result<(), String> {
        if !self.ip.is_loopback() {
            return Err(format!("{}: the bench runs on loopback (127.0.0.0/8) only", self.ip));
        }
        if self.reports == 0 {
            return Err("reports: at least 1 per run".into());
        }
        if self.concurrency == 0 || self.concurrency > MAX_CONCURRENCY {
            return Err(format!("concurrency {}: from 1 to {MAX_CONCURRENCY}", self.concurrency));
        }
        if self.rounds == 0 {
            return Err("rounds: at least 1".into());
        }
        if self.run_limit.is_zero() {
            return Err("seconds: more than 0 per run".into());
        }
        Ok(())
    }
}
