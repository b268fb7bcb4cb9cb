//! What the transport tells its user: [`LinkEvent`]s while it runs, a
//! [`TransportError`] if it cannot start, a [`SendError`] when a frame
//! was not queued.

use std::net::SocketAddr;

use liandong_certs::TlsError;
use liandong_dispatch::wire::Lane;
use liandong_topology::NodeId;

/// What the transport tells the driver.
#[derive(Debug)]
pub enum LinkEvent {
    /// A connection to or from `peer` is established and accepted by both sides.
    Up {
        /// The peer.
        peer: NodeId,
    },
    /// The current connection with `peer` ended.
    Down {
        /// The peer.
        peer: NodeId,
        /// Why, in operator words.
        reason: String,
    },
    /// One frame's bytes from `peer`, as sent (the core decodes them).
    Frame {
        /// The peer.
        peer: NodeId,
        /// The frame.
        bytes: Vec<u8>,
        /// Its place in the peer's share of the driver: drop it once the
        /// frame is handled ([`super::budget`]).
        held: super::InHand,
    },
    /// A peer or a frame was refused (by this node, or this node by the peer it dialed).
    Refused {
        /// The peer, when its identity is known.
        peer: Option<NodeId>,
        /// Its address.
        remote: SocketAddr,
        /// Why, in operator words.
        reason: String,
    },
}

/// Starting the transport failed.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// `start` was called outside a tokio runtime.
    #[error("the node transport must start inside a tokio runtime")]
    NoRuntime,
    /// This node is not in the topology.
    #[error("node {0} is not in the topology")]
    NotInTopology(NodeId),
    /// The certificate is not this node's.
    #[error("this node is {me} but its certificate identifies {presented}")]
    WrongCertificate {
        /// This node.
        me: NodeId,
        /// What the certificate says (or why it says nothing).
        presented: String,
    },
    /// rustls refused the certificate/key pair.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// quinn refused the TLS configuration.
    #[error("cannot use the TLS configuration for QUIC: {0}")]
    Quic(String),
    /// The UDP socket cannot be bound.
    #[error("cannot listen on {addr} (UDP): {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
}

/// [`Transport::send`](super::Transport::send) did not queue the frame. Dropping is safe: the core
/// keeps unacked copies and sends them again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// No live connection to the peer.
    #[error("no live connection to node {0}")]
    NotConnected(NodeId),
    /// The lane's queue is at its bound.
    #[error("the {lane:?} lane to node {peer} is full ({max} frames queued)")]
    QueueFull {
        /// The peer.
        peer: NodeId,
        /// The lane.
        lane: Lane,
        /// The bound.
        max: usize,
    },
    /// The frame is empty.
    #[error("empty frame")]
    Empty,
    /// The frame is over the size limit; the peer would refuse it.
    #[error("frame of {len} bytes is over the {max}-byte limit")]
    TooLarge {
        /// Its size.
        len: usize,
        /// [`MAX_FRAME`](liandong_dispatch::codec::MAX_FRAME).
        max: usize,
    },
}
