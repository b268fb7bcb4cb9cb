//! liandong-node: the runtime a center runs around the dispatch core.
//!
//! One `liandong node run` process per center, identical at every level:
//! what it does follows from the topology file, its certificates and its
//! data directory. It owns the sockets, the disk and the clock, and drives
//! the sans-IO [`liandong_dispatch::Core`]: wait for input, call
//! `handle_*`, drain `poll_*`, reset the timer.
//!
//! It must never make protocol decisions of its own: every rule lives in
//! liandong-dispatch, so that the simulator and production agree. And it
//! must never execute an effect that follows a Persist before that Persist
//! is durable: that is what makes "nothing acked is lost" true.
//!
//! # Layout
//! Dependencies point one way: `runtime` uses `store`, `transport`,
//! `control` and `observe`; `local` uses `runtime`; `demo` uses `local`;
//! nothing uses `demo`. Inside each module, too, no file uses one that
//! uses it back (each module's doc lists its files in order).
//! - [`store`]: the durable store (sqlx): SQLite by default, PostgreSQL on
//!   request; migrations, group commit, the hash-chained audit log
//!   (`sql` values, the audit `chain`, `error`, `backend`, `batch`,
//!   `audit`).
//! - [`transport`]: node-to-node links: quinn over mutual TLS, peer
//!   identity checks, one stream per priority lane, size-limited frames
//!   (`close_code`, `event`, `failure`, `link`: a connection's lanes and
//!   writers, `setup`: TLS and QUIC, `shared`: up and down, `frames`:
//!   reading, `peers`: accept and dial, `redial`: backoff).
//! - [`control`]: the server side of the operators' control API (the
//!   messages, framing and client are the crate `liandong-control`).
//! - [`runtime`]: `Node::start` and the driver task that runs the core
//!   (`config`, `keys`: credentials and the keyring, `operators`:
//!   requests as pure functions of the core, `notices`:
//!   events to notices, logs and metrics, `storage`: commits and store
//!   failures, `revocations`, `driver`: the turn loop).
//! - [`demo`]: the demo's traffic generator (plays every operator but the
//!   one a person is watching).
//! - [`local`]: a whole federation of real nodes in one process (the demo,
//!   the relay benchmark).
//! - [`observe`]: tracing setup and the Prometheus metrics endpoint.

pub mod control;
pub mod demo;
pub mod federation;
pub mod gateway;
pub mod local;
pub mod observe;
pub mod photos;
pub mod runtime;
pub mod store;
pub mod transport;
