//! liandong-chaos: the live chaos harness. Where the simulator
//! (`liandong-sim`) runs the dispatch core on a simulated network and
//! clock, this crate runs the real thing: a federation of `liandong node
//! run` processes on loopback, a seeded UDP chaos proxy in front of every
//! ancestor a node may dial (loss, delay, jitter, duplication, a bandwidth
//! cap, partitions), kill -9 and restart, load through the control API;
//! then heal, wait for convergence, and check every node's store.
//! `liandong sim live` is its command line.
//!
//! # Layout
//! - [`proxy`]: the UDP chaos proxy for one link ([`Proxy`], [`ChaosConfig`]).
//! - `config`: what a run is asked to do ([`LiveConfig`], [`TopologySource`]).
//! - `federation` (private): the node processes, their logs, kill -9 and
//!   SIGTERM, control clients.
//! - `load` (private): reports, kills and restarts while the run goes on;
//!   the partition schedule.
//! - `checks` (private): convergence after healing, the checks of every
//!   store, the scan of the node logs.
//! - `latency`: how long each filed report took to reach its owner,
//!   per severity, from the owners' stores ([`OwnerLatencies`]), and its
//!   table (nearest-rank p50, p90, p99, max).
//! - `summary`: what a run did and found ([`LiveSummary`]) as printed.
//! - `launch` (private): the run's directory, certificates, proxies,
//!   proxied topologies and every node running, for both runs below.
//! - `run`: [`run`], the whole run from certificates to the end check.
//! - [`thin`]: the thin-link bench ([`thin::bench`]): urgent traffic on
//!   one thin lossy link while a backlog drains, `liandong bench thin-link`.
//! - [`gateway`]: the gateway bench ([`gateway::bench`]): reports taken in
//!   durably per second over HTTPS against the control API, on one node in
//!   one run, `liandong bench gateway`.
//! - [`relay`]: the relay bench ([`relay::bench`]): one county in its own
//!   process, its neighbours played over real QUIC and TLS; one hop's
//!   latency, its durable relay rate, three hops of real nodes, and NATS
//!   JetStream beside it, `liandong bench relay`.
//! - [`jetstream`]: the durable peer of the relay bench ([`jetstream::bench`]):
//!   a local NATS JetStream server's durable publish rate, fsync always and
//!   default, sequential and pipelined, with the official async-nats client.
//!
//! # What it never does
//! - Never decides anything about the protocol or looks inside a running
//!   node: nodes are the real binary, reached only through their control
//!   API and, once stopped, their stores and logs.
//! - Never leaves a node running after it: nodes die with the harness
//!   (`PR_SET_PDEATHSIG`), every proxy stops when dropped, and it binds
//!   loopback addresses only.
//! - Is not deterministic (real processes, sockets and time); the seed
//!   fixes its choices (faults, load, kills), not their timing. Every
//!   queue in the proxy has a bound.
//! - Errors: the harness's own failures are `anyhow` errors (it drives the
//!   real binary and tells a person what went wrong); failed checks are
//!   data in [`LiveSummary::failures`], not errors.

mod checks;
mod config;
mod federation;
pub mod gateway;
pub mod jetstream;
mod latency;
mod launch;
mod load;
pub mod proxy;
pub mod relay;
mod run;
mod summary;
pub mod thin;

pub use config::{LiveConfig, TopologySource};
pub use latency::{OwnerLatencies, OwnerLatency, Percentiles};
pub use proxy::{ChaosConfig, Proxy, ProxyStats, StatsSnapshot};
pub use run::run;
pub use summary::LiveSummary;
