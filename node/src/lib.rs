//! liandong-node: the runtime a center runs around the dispatch core.
//!
//! **Not built yet** (issue 4). It will hold the quinn endpoint with rustls
//! mutual TLS, the sqlx store (SQLite by default, PostgreSQL as an option),
//! the control API server and client, metrics and tracing. It drives the
//! core and completes every Persist before the sends that depend on it.
//!
//! It must never make protocol decisions of its own: every rule lives in
//! liandong-dispatch, so that the simulator and production agree.
//!
//! Today the crate exports nothing; depending on it gives you no behaviour.
