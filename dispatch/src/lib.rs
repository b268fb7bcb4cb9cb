//! liandong-dispatch: the protocol core of Liandong, sans-IO.
//!
//! Every rule about where a report goes, who must acknowledge what, when
//! something escalates, and how nothing gets lost lives here, once. The
//! real node and the simulator drive the same [`Core`] with the same calls,
//! in the shape of quinn-proto: `handle_*` inputs, `poll_*` outputs (see
//! the [`Core`] doc for the call order and the durability rule).
//!
//! It must never do I/O: no tokio, no sockets, no disk, no system clock,
//! no thread-local or OS randomness. Time is an argument ([`Timestamp`]),
//! randomness a generator seeded by the driver, durable state a fold over
//! records the driver writes ([`Store`]).
//!
//! # Layout
//! - [`wire`]: envelopes (signed, end to end) and frames (one hop).
//! - [`codec`]: the one place frames become bytes: version byte, size
//!   limit, typed errors.
//! - [`sign`]: origin signatures behind [`Signer`] / [`SignatureCheck`]
//!   (Ed25519 for nodes, a cheap deterministic stand-in for simulations).
//! - [`document`]: federation documents: the check a driver gives the
//!   core ([`DocumentCheck`]) and the test stand-in.
//! - [`store`]: durable state as [`Record`]s and their fold, [`Store`];
//!   incidents, orders, roll-ups.
//! - [`room`]: coordination rooms as a node knows them: header, ordered
//!   log, minutes.
//! - [`core`]: [`Core`], routing, hop acks, retries, dedup, lifecycles,
//!   deadlines and supervision, skip-level failover and catch-up,
//!   coordination rooms (in `core/room_asks.rs` and `core/room_events.rs`);
//!   [`core::rules`], operators' input rules (text bounds, trimming, the
//!   kinds of acknowledgement), checked before every command.
//! - [`testing`]: an in-memory federation of cores with a virtual clock,
//!   for tests and benchmarks.
//!
//! # Rules the core keeps
//! - A hop ack is sent only in the effects after the Persist that stored
//!   the envelope; a sender forgets a copy only when it is acked.
//! - An envelope id held in the store is never delivered to the
//!   application again; the same envelope is queued for the same peer at
//!   most once (the outbox remembers acked copies until expiry) and resent
//!   only until that peer acks it.
//! - A center skipped during failover is still owed every copy that passed
//!   around it; it gets them when it returns, and dedup makes that exactly
//!   once.
//! - Every queue has a bound: while a peer has
//!   [`CoreConfig::outbox_limit`] unacked copies, the node refuses new work
//!   (frames go unstored and unacked so senders retry; commands fail with
//!   `Overloaded`) and never drops what it already holds.

pub mod basics;
pub mod calendar;
pub mod codec;
pub mod core;
pub mod document;
pub mod figures;
pub mod room;
pub mod sign;
pub mod store;
pub mod testing;
pub mod wire;

pub use crate::core::{Command, CommandError, Core, CoreConfig, CoreError, Effect, Event, LinkStatus, Signature};
pub use crate::document::{DocumentCheck, NoDocuments, TestDocuments};
pub use crate::room::{Minutes, Person, Room, RoomEntry, RoomLine, RoomState, RoomTask};
pub use crate::sign::{Ed25519Keyring, Ed25519Signer, SignatureCheck, SignatureError, Signer, TestKeys};
pub use crate::store::{Incident, IncidentState, OrderRecord, Record, RollUp, Store, TargetStatus};
pub use crate::wire::{
    Action, Body, Category, Document, Envelope, EnvelopeId, Frame, Item, Lane, Mode, Order, Report, Role, RoomAct,
    RoomBody, Stage, TargetState, Targets, Timestamp,
};
