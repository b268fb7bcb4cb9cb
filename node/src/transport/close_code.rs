//! Application close codes on node links: why this node closed a
//! connection, as the peer reads it.

/// The node is shutting down.
pub const SHUTTING_DOWN: u32 = 0;
/// The peer was refused: identity, topology, link rule or revocation.
pub const REFUSED: u32 = 1;
/// The peer broke the framing: bad lane tag, empty or oversized frame.
pub const PROTOCOL: u32 = 2;
/// A newer connection from the same peer took this one's place.
pub const REPLACED: u32 = 3;
/// A lane's stream failed while the connection was up.
pub const STREAM_FAILED: u32 = 4;
