//! `liandong-cli`: the operator-facing commands of the `liandong` binary.
//!
//! The binary (`src/main.rs`) parses the command line into its top-level
//! clap enum, hands each command's input to one `run` here, and turns the
//! outcome into an exit code. Everything between is this crate: the clap
//! argument structs (a command's input, with its flags and help text),
//! their checking into what the libraries take, the calls on those
//! libraries, and what is printed. Living in a library, that logic and its
//! unit tests are reachable by `cargo test -p liandong-cli`; the binary
//! keeps none a test would want.
//!
//! One module per command group, named after the command:
//!
//! - [`topology`]: `liandong topology check|generate|show` over
//!   `liandong-topology`; [`topology::load`] is how every command reads a
//!   topology file.
//! - [`certs`]: `liandong certs init|request|sign|issue-operator|issue-admin|inspect|revoke`
//!   over `liandong-certs`.
//! - [`federation`]: `liandong federation sign|check|publish`, the
//!   signed federation document (`liandong-node`'s `federation`).
//! - [`node`]: `liandong node run` (a center's node, `liandong-node`) and
//!   `liandong audit verify|show` (its hash-chained audit log).
//! - [`ops`]: the operator commands over one's own node's control API
//!   (`report`, `dispatch`, `sign`, `incident <verb>`, `incidents`,
//!   `orders`, `status`, `watch`): flags in `ops/args.rs`, what is printed
//!   in `ops/view.rs`, and the connection options and following of pushed
//!   notices the other control clients share.
//! - [`cap`]: `liandong cap import FILE`, a CAP 1.2 alert imported at
//!   one's own node (an incident goes out with `incident show --format cap`).
//! - [`room`]: `liandong room ...`, the coordination room of an incident;
//!   flags in `room/args.rs`.
//! - [`safety`]: `liandong safety-report --period P`, the center's own
//!   figures (平安报表) as Markdown, CSV or JSON.
//! - [`tui`]: `liandong tui`, the operator console (`liandong-tui`)
//!   attached to one's own node.
//! - [`demo`]: `liandong demo`, the demo federation in one process with
//!   traffic and the console.
//!
//! - [`sim`]: `liandong sim run|sweep|replay|live`: clap arguments and
//!   printing over the deterministic simulator (`liandong-sim`) and, in
//!   [`sim::live`], the live chaos harness (`liandong-chaos`).
//!
//! - [`bench`]: `liandong bench thin-link`, the thin-link bench of
//!   `liandong-chaos` (real nodes, one thin lossy link), with its scenario file.
//!
//! **The binary's edge.** This crate is where library errors meet the
//! operator, so, unlike the libraries, it uses `anyhow`: each error is
//! given the context an operator needs (which file, which flag) and main
//! prints it as `error: <first line>` and exits 1. A usage error found
//! after parsing (no `--node`, a deadline in the past) is a
//! [`clap::Error`] in the chain, which main prints as clap prints its own
//! and exits 2 with. Nothing here exits the process.
//!
//! **What it never does.** It makes no protocol decision and holds no
//! protocol state: a report, an order or a room act is one request to
//! one's own node, whose answer or refusal is printed as given. Apart from
//! starting nodes (`node run`, `demo`, `sim live`), it
//! reaches a node only through `liandong-control`'s client. Nothing but
//! the binary depends on it.

pub mod bench;
pub mod cap;
pub mod certs;
pub mod demo;
pub mod federation;
pub mod gateway;
pub mod node;
pub mod ops;
pub mod room;
pub mod safety;
pub mod sim;
pub mod topology;
pub mod tui;
