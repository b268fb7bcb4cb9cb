//! The core's timers: one variant per timer, carrying exactly what it is
//! about. The core keeps them in a `BTreeSet<(Timestamp, Timer)>`; the
//! derived order (variant, then fields in declaration order) decides which
//! of two timers due at the same instant fires first, so the variants'
//! order is part of the core's deterministic behaviour: reorder them and
//! the simulator's reports change.

use liandong_topology::NodeId;

use crate::wire::EnvelopeId;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Timer {
    /// Resend the unacked copy of `item` to `peer`.
    Retry { peer: NodeId, item: EnvelopeId },
    /// The copy of `item` queued for `peer` has lived its TTL.
    Expire { peer: NodeId, item: EnvelopeId },
    /// Probe `peer`'s link.
    Heartbeat { peer: NodeId },
    /// Has the parent been unreachable long enough to fail over?
    ParentCheck,
    /// The incident `item` was not accepted in time.
    Accept { item: EnvelopeId },
    /// The incident `item` was not finished in time.
    Finish { item: EnvelopeId },
    /// The order `item` was not signed for in time.
    OrderSignFor { item: EnvelopeId },
    /// The order `item` was not finished in time.
    OrderFinish { item: EnvelopeId },
    /// Drop expired envelopes from the dedup window.
    Sweep,
    /// The room `room` still waits for an earlier event.
    RoomGap { room: EnvelopeId },
}
