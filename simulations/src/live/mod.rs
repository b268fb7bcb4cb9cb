//! The live chaos harness: real `liandong node run` processes on loopback,
//! a UDP chaos proxy ([`proxy`]) in front of every ancestor a node may
//! dial, kill -9 and restart, load through the control API, and a check of
//! every node's store at the end ([`harness`]).

pub mod harness;
pub mod proxy;

pub use harness::{LiveConfig, LiveSummary, TopologySource, run};
pub use proxy::{ChaosConfig, Proxy, ProxyStats, StatsSnapshot};
