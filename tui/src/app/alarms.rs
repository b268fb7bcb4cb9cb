//! Alarms: what rings, and the tick that watches deadlines.
//!
//! A banner and the bell for a new severity I–III report, a deadline of
//! an incident owned here passing on the console's clock, a late item
//! the node flagged (督办), a room opened that this node is part of, and
//! a child's safety index under the policy's line (平安指数预警).
//! One miss rings once, whether the clock or the node saw it first. At
//! most [`MAX_ALARMS`] wait; past it the oldest is dropped and counted.
//! The bell repeats every [`BELL_REPEAT`] while any waits. The tick also
//! clears a status-line message once it is old.

use std::time::Duration;

use liandong_dispatch::figures::Period;
use liandong_dispatch::wire::{EnvelopeId, Item, Stage, Timestamp};
use liandong_topology::Severity;

use super::{Action, App, FLASH_FOR};
use crate::model::Model;

/// Unacknowledged alarms kept; past this the oldest is dropped (and
/// counted: the banner's "+N more" includes them).
pub const MAX_ALARMS: usize = 100;
/// How often the bell rings again while an alarm waits.
pub const BELL_REPEAT: Duration = Duration::from_secs(10);

/// Why an alarm rang.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlarmKind {
    /// A severity I–III report recorded here with an alert.
    NewReport,
    /// A deadline of an incident this node owns passed on the console's
    /// clock.
    DeadlineMissed(Stage),
    /// The node flagged a late item to the level above (督办).
    Supervised(Stage),
    /// A coordination room this node is part of opened (by someone other
    /// than the operator at this console).
    RoomOpened,
    /// A child's safety index (平安指数) for `period` fell under the
    /// policy's line: `index` in tenths, `below` in points. The alarm's
    /// title is the child's name.
    IndexAlarm { period: Period, index: u32, below: u32 },
}

/// An alarm waiting on the banner until the operator acknowledges it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alarm {
    pub kind: AlarmKind,
    pub incident: Option<EnvelopeId>,
    pub severity: Option<Severity>,
    pub title: String,
    pub at: Timestamp,
}

impl App {
    /// The clock moved: deadlines owned here that passed since the last
    /// tick ring, the bell repeats, an old message goes.
    pub(super) fn on_tick(&mut self, now: Timestamp, out: &mut Vec<Action>) {
        // The first tick only starts the watch: what was late before the
        // console started shows red but does not ring.
        let before = if self.checked_until == Timestamp(0) {
            now
        } else {
            self.checked_until
        };
        self.now = self.now.max(now);
        self.checked_until = self.now;
        // A deadline of an incident owned here passing on this clock.
        if let Some(me) = self.model.me().cloned() {
            let mut missed: Vec<(EnvelopeId, Stage)> = self
                .model
                .incidents
                .values()
                .filter(|i| i.owner == me)
                .filter_map(|i| Model::due(i).map(|(t, stage)| (i.id, t, stage)))
                .filter(|&(_, t, _)| before < t && t <= self.now)
                .map(|(id, _, stage)| (id, stage))
                .collect();
            missed.sort_by_key(|&(id, stage)| (id, stage as u8));
            for (id, stage) in missed {
                if self.alarmed.insert((id, stage)) {
                    let i = &self.model.incidents[&id];
                    let alarm = Alarm {
                        kind: AlarmKind::DeadlineMissed(stage),
                        incident: Some(id),
                        severity: Some(i.report.severity),
                        title: i.report.title.clone(),
                        at: self.now,
                    };
                    self.raise(alarm, out);
                }
            }
        }
        if !self.alarms.is_empty() && self.now.since(self.last_bell) >= BELL_REPEAT && !out.contains(&Action::Bell) {
            self.last_bell = self.now;
            out.push(Action::Bell);
        }
        if self.flash.as_ref().is_some_and(|f| self.now.since(f.at) >= FLASH_FOR) {
            self.flash = None;
        }
    }

    /// The alarm for a late item the node flagged (督办).
    pub(super) fn supervised_alarm(&self, item: &Item, stage: Stage, at: Timestamp) -> Alarm {
        let (incident, title) = match item {
            Item::Incident(id) => {
                let title = self.model.incidents.get(id).map(|i| i.report.title.clone());
                (Some(*id), title.unwrap_or_else(|| id.to_string()))
            }
            Item::OrderTarget { order, target } => {
                let order = self.model.orders.get(order);
                let instruction = order.map_or("", |o| o.order.order.instruction.as_str());
                (
                    order.and_then(|o| o.order.order.incident),
                    format!("{} · {instruction}", self.model.name(target)),
                )
            }
        };
        Alarm {
            kind: AlarmKind::Supervised(stage),
            incident,
            severity: incident
                .and_then(|id| self.model.incidents.get(&id))
                .map(|i| i.report.severity),
            title,
            at,
        }
    }

    /// Puts an alarm on the banner (dropping the oldest past the bound)
    /// and rings, once per batch of actions.
    pub(super) fn raise(&mut self, alarm: Alarm, out: &mut Vec<Action>) {
        if self.alarms.len() == MAX_ALARMS {
            self.alarms.pop_front();
            self.alarms_dropped += 1;
        }
        self.alarms.push_back(alarm);
        self.last_bell = self.now;
        if !out.contains(&Action::Bell) {
            out.push(Action::Bell);
        }
    }

    /// Takes the first alarm off the banner and puts the board's cursor
    /// on its incident.
    pub(super) fn acknowledge_alarm(&mut self) {
        if let Some(alarm) = self.alarms.pop_front()
            && let Some(id) = alarm.incident
        {
            self.settle();
            if let Some(row) = self.board_rows.iter().position(|&r| r == id) {
                self.board.cursor = row;
            }
        }
    }
}
