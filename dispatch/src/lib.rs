//! liandong-dispatch: the protocol core of Liandong, sans-IO.
//!
//! **Not built yet** (issue 3). This crate will own every rule about where a
//! report goes, who must acknowledge what, when something escalates, and how
//! nothing gets lost: wire types and codec, routing over the topology, hop
//! acks, dedup, retry schedules, incident and order lifecycles, SLA
//! supervision, skip-level failover and catch-up, coordination rooms. It is
//! driven in the shape of quinn-proto: `handle_*` inputs, `poll_*` outputs.
//!
//! It must never do I/O: no tokio, no sockets, no disk, no system clock, no
//! thread-local RNG. Time is an argument and randomness a seeded generator
//! passed in, so the real node and the simulator drive the same code.
//!
//! Today the crate exports nothing; depending on it gives you no behaviour.
