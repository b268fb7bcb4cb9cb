//! Coordination rooms (综合协调室) a scenario drives (`[rooms]`): incidents
//! reported at seeded villages, a room opened on each by a leader at its
//! owner, then leaders at the nodes of the room entering, talking,
//! deciding, inviting and tasking at seeded times; the tasks' targets sign
//! for and finish the orders they become; the home's leader closes the
//! room at the end. Faults may pick the rooms' homes and members
//! (`pick = "room-home"`, `pick = "room-member"`).
//!
//! It only says what people do and when; the engine presses the buttons
//! (`engine::rooms`) and the oracle judges the logs (`oracle::rooms`).

use std::time::Duration;

use liandong_topology::Severity;
use serde::{Deserialize, Serialize};

use super::Span;

/// `pick` values that place a fault on a room's node instead of a level.
pub const PICK_ROOM_HOME: &str = "room-home";
pub const PICK_ROOM_MEMBER: &str = "room-member";

/// Most rooms a scenario opens (each is a report, a room and its acts).
pub const MAX_ROOMS: u32 = 1_000;
/// Most acts per room: well under a room's own bound on events.
pub const MAX_ACTS: u32 = 2_000;

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Rooms {
    /// Rooms opened over the run, each on an incident of its own.
    pub count: u32,
    /// The incidents' severities, drawn evenly (their owners by the
    /// policy are the rooms' homes: IV a county, III and above the top;
    /// I opens its room by itself).
    #[serde(default = "default_severities")]
    pub severities: Vec<Severity>,
    /// Incidents are reported at seeded times before this, and nobody
    /// acts in a room after it (default: the duration).
    pub until: Option<Span>,
    /// Mean time from the report to a leader at its owner opening the room.
    #[serde(default = "default_open_after")]
    pub open_after: Span,
    /// Acts per room after its opening (entering as needed, talking,
    /// deciding, inviting, tasking, leaving).
    pub acts: u32,
    /// Mean time between two acts in one room.
    #[serde(default = "default_every")]
    pub every: Span,
    /// Shares of an act by someone present: a decision, a task, an
    /// invitation (at the home), leaving; the rest are messages.
    #[serde(default = "default_decide")]
    pub decide: f64,
    #[serde(default = "default_task")]
    pub task: f64,
    #[serde(default = "default_invite")]
    pub invite: f64,
    #[serde(default = "default_leave")]
    pub leave: f64,
    /// Mean time from a task's target signing for its order to finishing
    /// it (at most three times this; its signing for is at most three times
    /// `[load] sign_for_after`), so every task settles before the end.
    #[serde(default = "default_finish_after")]
    pub finish_after: Span,
    /// The home's leader closes the room this long after its last act
    /// (none: rooms stay open).
    pub close_after: Option<Span>,
}

fn default_severities() -> Vec<Severity> {
    vec![Severity::IV, Severity::III]
}

fn default_open_after() -> Span {
    Span(Duration::from_secs(120))
}

fn default_every() -> Span {
    Span(Duration::from_secs(60))
}

fn default_decide() -> f64 {
    0.15
}

fn default_task() -> f64 {
    0.15
}

fn default_invite() -> f64 {
    0.05
}

fn default_leave() -> f64 {
    0.05
}

fn default_finish_after() -> Span {
    Span(Duration::from_secs(600))
}

impl Rooms {
    pub(crate) fn validate(&self, duration: Duration) -> Result<(), String> {
        if self.count == 0 || self.count > MAX_ROOMS {
            return Err(format!("[rooms] count is 1..={MAX_ROOMS}"));
        }
        if self.acts > MAX_ACTS {
            return Err(format!("[rooms] acts is at most {MAX_ACTS}"));
        }
        if self.severities.is_empty() {
            return Err("[rooms] severities: name at least one".into());
        }
        if self.until.is_some_and(|u| u.0 > duration || u.0.is_zero()) {
            return Err("[rooms] until is after the end of the duration, or zero".into());
        }
        let shares = [self.decide, self.task, self.invite, self.leave];
        if shares.iter().any(|s| !(0.0..=1.0).contains(s)) || shares.iter().sum::<f64>() > 1.0 {
            return Err("[rooms] decide, task, invite and leave are shares that add up to at most 1".into());
        }
        if self.every.0.is_zero() {
            return Err("[rooms] every must be above zero".into());
        }
        Ok(())
    }

    /// The sweep variant's rooms: `until` on the shorter timeline, fewer
    /// rooms with the load.
    pub(crate) fn scaled(&mut self, time: impl Fn(Span) -> Span, load: Option<f64>) {
        self.until = self.until.map(time);
        if let Some(k) = load {
            self.count = ((f64::from(self.count) * k).round() as u32).max(1);
        }
    }
}

/// Whether `pick` names rooms' nodes rather than a level.
pub fn is_room_pick(pick: &str) -> bool {
    pick == PICK_ROOM_HOME || pick == PICK_ROOM_MEMBER
}
