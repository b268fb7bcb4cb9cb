//! liandong-control: the control API, how operators, the console and the
//! CLI talk to their own center's node. The node serves it
//! (`liandong_node::control`); the console (`liandong-tui`) and the CLI
//! are its clients and depend on this crate, never on the node runtime.
//!
//! Same stack as node links (QUIC, mutual TLS 1.3, ring, the federation's
//! verifier) on a separate port with its own ALPN
//! ([`CONTROL_ALPN`], `liandong-control/1`), so a console is never taken
//! for a peer node. The node serves only operator certificates of its own
//! center: the operator's name and role come from the certificate, never
//! from a request.
//!
//! # On the wire
//! 1. Handshake: the client dials with server name
//!    `<its own node>.node.liandong`, so it can only ever reach its own
//!    center's node; the node's verifier refuses foreign or revoked
//!    certificates.
//! 2. The node reads the identity from the certificate. A node certificate
//!    or an operator of another center is refused by closing the
//!    connection with [`proto::close::REFUSED`] and the reason in words.
//!    Otherwise it opens a unidirectional stream with a [`Welcome`].
//! 3. One request per bidirectional stream: the client writes one
//!    length-prefixed [`Request`] and finishes; the node writes one
//!    [`Response`] and finishes, or for [`Query::Subscribe`] a
//!    [`Response::Snapshot`] followed by a [`Response::Pushed`] per change
//!    until either side stops. See [`frame`] for the framing.
//!
//! A [`Request`] is a [`Query`] (answered from what the node holds,
//! changes nothing, served even while its store fails) or an [`Act`] (an
//! operator's action, which the node's core checks and stores).
//!
//! # Layout
//! - [`proto`]: the messages.
//! - [`frame`]: length-prefixed bincode on QUIC streams, bounded before
//!   allocating.
//! - [`client`]: [`ControlClient`], [`Subscription`].
//! - [`text`]: how the console and the CLI print what the API returns:
//!   display-width truncation and padding for CJK, durations, clock times.
//! - [`clock`]: the wall clock as a [`liandong_dispatch::Timestamp`], read
//!   here once for the node, the console and the CLI.
//!
//! # What it never does
//! It holds no node state and makes no protocol decision: it carries
//! requests and answers. It never trusts a request for who is asking.

pub mod client;
pub mod clock;
pub mod frame;
pub mod proto;
pub mod text;

use std::net::SocketAddr;

pub use client::{ControlClient, Subscription};
pub use proto::*;

/// What went wrong talking to (or serving) the control API. Messages name
/// the address, file or reason an operator needs to act on.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The server could not open its socket.
    #[error("cannot listen for operators on {addr}: {reason}")]
    Listen { addr: SocketAddr, reason: String },
    /// The TLS or QUIC configuration could not be built (e.g. the key does
    /// not belong to the certificate).
    #[error("cannot set up TLS for the control API: {0}")]
    Tls(String),
    /// A certificate, key or CA file could not be used; the message names
    /// the file.
    #[error(transparent)]
    Certificate(#[from] liandong_certs::CertError),
    /// The client certificate is not an operator's.
    #[error(
        "{what} is not an operator certificate: it identifies {identity}; use the certificate of an operator of that node"
    )]
    NotAnOperator { what: String, identity: String },
    /// The client certificate carries no readable identity.
    #[error("{what} carries no usable Liandong identity: {reason}")]
    BadIdentity { what: String, reason: String },
    /// Nothing answered, or not in time.
    #[error("cannot reach the node at {addr}: {reason}")]
    Unreachable { addr: SocketAddr, reason: String },
    /// The node (or its TLS stack) refused this certificate, or we refused
    /// the node's.
    #[error("refused by the node at {addr}: {reason}")]
    Refused { addr: SocketAddr, reason: String },
    /// This client refused the node's certificate (not the node the
    /// operator's certificate names, or not of this federation).
    #[error("the TLS handshake with {addr} failed: {reason}")]
    Handshake { addr: SocketAddr, reason: String },
    /// The connection broke after it was established.
    #[error("lost the connection to the node at {addr}: {reason}")]
    Lost { addr: SocketAddr, reason: String },
    /// The node sent something that is not a valid answer.
    #[error("the node at {addr} sent a bad answer: {reason}")]
    Protocol { addr: SocketAddr, reason: String },
}
