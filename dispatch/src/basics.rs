//! The plain values every part of the core shares: time as the core
//! counts it, envelope ids, real case or drill, and the categories
//! reports are filed under. They depend on nothing else in the crate, so
//! the wire types and the figures can both use them without depending on
//! each other. `wire` re-exports them.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch. The core never reads a clock: the
/// driver passes the current time into every `handle_*` call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct Timestamp(pub u64);

impl Timestamp {
    pub fn plus(self, d: Duration) -> Timestamp {
        Timestamp(self.0.saturating_add(d.as_millis().min(u128::from(u64::MAX)) as u64))
    }

    /// Time from `earlier` to `self`, zero if `earlier` is later.
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

/// An envelope's identity: 128 random bits from the origin's seeded
/// generator. Incidents and orders are named by the id of the envelope
/// that created them.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EnvelopeId(pub u128);

impl fmt::Display for EnvelopeId {
    /// The first 12 hex digits: enough for people to tell ids apart.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:012x}", self.0 >> 80)
    }
}

impl fmt::Debug for EnvelopeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

/// Real case or drill: exercises run on the live network and never mix
/// with real cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Mode {
    Actual,
    Exercise,
}

impl Mode {
    /// The word for logs, storage and the UI.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Actual => "actual",
            Mode::Exercise => "exercise",
        }
    }
}

/// Categories operators file reports under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Category {
    /// 矛盾纠纷
    Dispute,
    /// 安全隐患
    Hazard,
    /// 群众诉求
    Request,
    Fire,
    Flood,
    /// 群体性事件 / mass gathering
    Gathering,
    Accident,
    Other,
}
