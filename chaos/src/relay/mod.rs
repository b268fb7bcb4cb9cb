//! The relay bench: one node's capacity measured alone, in its own
//! process, with its neighbours played over the real protocol.
//!
//! The node under test is a county (350102), a `node run` process with
//! its SQLite store on this machine's disk. Its parent (the city) and its
//! children (townships) are played by this process: each has its own
//! certificate from the federation's CA and the node's real transport
//! (QUIC, mutual TLS 1.3, a stream per lane), so the county sees
//! neighbours like any other. The children's envelopes (severity III
//! reports, owned at the city) are signed by their origins ahead of time,
//! so the bench spends nothing on signing while it measures; the county
//! checks every signature, stores, commits, acks each to its child and
//! carries it on to the city, which acks it as a node would.
//!
//! It measures, in this order:
//! 1. **fsync**: one fsync'd write of a frame's size on the same disk,
//!    one at a time: the floor of any durable ack, and the baseline the
//!    hop latencies are read against.
//! 2. **One hop**: one envelope at a time from a child: from its send to
//!    the county's hop ack (durable there), and to its arrival at the city.
//!    Clock: this process's monotonic clock, in microseconds.
//! 3. **Throughput**: every child keeps `window` envelopes unacked; the
//!    rate is the distinct envelopes the city received over the time from
//!    the first send to the last arrival. Every one must arrive. The
//!    county's and the bench's CPU time and memory (RSS, peak) over it.
//! 4. **Three hops**: the played neighbours stop; the township and the city
//!    start as `node run` processes too, and a played village sends one
//!    report at a time: from its send to the city's pushed "recorded"
//!    (stored and committed at the city). Each node's memory after it.
//! 5. **The peer**: NATS JetStream on this machine (see [`crate::jetstream`]),
//!    unless asked not to or not installed (a line says so).
//!
//! On this machine the bench and the node share 2 cores: the bench's own
//! CPU time is printed beside the node's, so a reader can tell which one
//! held the rate.
//!
//! `liandong bench relay` is its command line. Bounded: fixed counts, and
//! every wait has a deadline; loopback only.

mod figures;
mod peer;
mod run;

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

pub use figures::{RelayReport, Throughput, Usage};
pub use run::bench;

/// What the relay bench is asked to do.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// The `liandong` binary to run nodes with.
    pub binary: PathBuf,
    /// Where the nodes and the played neighbours listen (ports from 7100).
    pub ip: Ipv4Addr,
    /// Children (townships) pouring envelopes into the county.
    pub children: usize,
    /// Envelopes each child sends in the throughput run.
    pub per_child: usize,
    /// Envelopes each child keeps unacked at most.
    pub window: usize,
    /// One-at-a-time samples for the one-hop and three-hop latencies
    /// (after as many again to warm up, at most 200).
    pub samples: usize,
    /// Run NATS JetStream as the peer, with this many messages per mode.
    pub jetstream: bool,
    pub jetstream_messages: usize,
    /// Keep the run's directory here instead of a temporary one.
    pub dir: Option<PathBuf>,
    /// Longest the whole throughput run may take.
    pub deadline: Duration,
    /// Progress lines on stderr.
    pub verbose: bool,
}

impl RelayConfig {
    /// The defaults `liandong bench relay` runs with.
    pub fn new(binary: PathBuf) -> RelayConfig {
        RelayConfig {
            binary,
            ip: Ipv4Addr::new(127, 0, 19, 10),
            children: 4,
            per_child: 25_000,
            window: 1024,
            samples: 2_000,
            jetstream: true,
            jetstream_messages: 10_000,
            dir: None,
            deadline: Duration::from_secs(300),
            verbose: false,
        }
    }

    /// Refuses settings the bench cannot run with, naming the setting.
    pub fn check(&self) -> Result<(), String> {
        if !self.ip.is_loopback() {
            return Err(format!(
                "--ip {}: the bench runs on loopback (127.0.0.0/8) only",
                self.ip
            ));
        }
        if !(1..=9).contains(&self.children) {
            return Err(format!("--children {}: 1 to 9", self.children));
        }
        if self.per_child == 0 || self.window == 0 || self.samples == 0 {
            return Err("--per-child, --window and --samples must be at least 1".into());
        }
        Ok(())
    }
}
