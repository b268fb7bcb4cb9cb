//! Folding what the node says on its own: the snapshot a subscription
//! starts with, and every notice it pushes after.
//!
//! The model takes each as it is ([`Model::apply`](crate::model::Model::apply));
//! here the app adds what the console does about it: alarms, asking
//! for what it is missing (the status after a link change, an order it
//! has not seen, the room on screen when its log skips a number, the
//! safety report's figures a child's summary changed), and
//! resubscribing after a lag.

use liandong_control::{NodeStatus, Notice, OrderView, Pushed};
use liandong_dispatch::room::{Room, RoomLine};
use liandong_dispatch::store::Incident;
use liandong_dispatch::wire::Item;
use liandong_topology::Severity;

use super::{Action, Alarm, AlarmKind, App, Connection};
use crate::report_pane::Warning;
use crate::room_pane::Fold;
use crate::screen::Screen;

impl App {
    /// The first answer of a subscription: everything open at the node.
    pub(super) fn on_snapshot(
        &mut self,
        status: NodeStatus,
        incidents: Vec<Incident>,
        orders: Vec<OrderView>,
        rooms: Vec<Room>,
        out: &mut Vec<Action>,
    ) {
        if self.now < status.now {
            self.now = status.now;
        }
        self.model.apply_snapshot(status, incidents, orders, rooms);
        self.connection = Connection::Live;
        self.status_asked = false;
        self.dirty = true;
        // Notices may have been missed before this snapshot (a lag,
        // a reconnect): the room on screen is asked for afresh.
        if self.screen == Screen::Room {
            self.ask_room(out);
        }
        // A child's summary may have come meanwhile.
        if self.screen == Screen::Report {
            self.ask_report(out);
        }
    }

    /// Folds one pushed notice in, after doing what the console does
    /// about it.
    pub(super) fn on_pushed(&mut self, pushed: Pushed, out: &mut Vec<Action>) {
        if self.now < pushed.at {
            self.now = pushed.at;
        }
        match &pushed.notice {
            Notice::IncidentRecorded { incident, alert } if *alert && incident.report.severity >= Severity::III => {
                self.raise(
                    Alarm {
                        kind: AlarmKind::NewReport,
                        incident: Some(incident.id),
                        severity: Some(incident.report.severity),
                        title: incident.report.title.clone(),
                        at: pushed.at,
                    },
                    out,
                );
            }
            Notice::Supervised { item, stage, .. } => {
                // One miss of an incident rings once, whether this clock or
                // the node's notice saw it first.
                let fresh = match item {
                    Item::Incident(id) => self.alarmed.insert((*id, *stage)),
                    Item::OrderTarget { .. } => true,
                };
                if fresh {
                    let alarm = self.supervised_alarm(item, *stage, pushed.at);
                    self.raise(alarm, out);
                }
            }
            Notice::OrderProgress { order, .. } if !self.model.orders.contains_key(order) => {
                self.fetch_order(*order, out);
            }
            Notice::LinkChanged { .. } | Notice::FailedOver { .. } => self.ask_status(out),
            Notice::Summary { period, .. } => self.report_summary(*period, out),
            Notice::IndexAlarm {
                child,
                period,
                index,
                below,
            } => {
                // The early warning: a child's 平安指数 under the line.
                let alarm = Alarm {
                    kind: AlarmKind::IndexAlarm {
                        period: *period,
                        index: *index,
                        below: *below,
                    },
                    incident: None,
                    severity: None,
                    title: self.model.name(child).to_owned(),
                    at: pushed.at,
                };
                self.raise(alarm, out);
                self.report.warn(Warning {
                    child: child.clone(),
                    period: *period,
                    index: *index,
                    below: *below,
                    at: pushed.at,
                });
            }
            Notice::Lagged { .. } => out.push(Action::Resubscribe),
            Notice::RoomChanged { room, entry } => {
                if entry.line == RoomLine::Opened && !self.is_me(entry.by.as_ref()) {
                    let alarm = Alarm {
                        kind: AlarmKind::RoomOpened,
                        incident: Some(room.id),
                        severity: Some(room.severity),
                        title: room.title.clone(),
                        at: pushed.at,
                    };
                    self.raise(alarm, out);
                }
                if let Some(pane) = self.room.as_mut().filter(|p| p.id == room.id)
                    && pane.fold(room, entry) == Fold::Waiting
                {
                    // A number was skipped, or the room was not known when
                    // asked (entering one from off its path): the node has
                    // it now. Nothing is asked while an answer is awaited.
                    self.ask_room(out);
                }
            }
            Notice::RoomRefused { room, reason, .. } => {
                let title = self
                    .room_header(*room)
                    .map(|r| r.title.clone())
                    .or_else(|| self.model.incidents.get(room).map(|i| i.report.title.clone()))
                    .unwrap_or_else(|| room.to_string());
                let w = self.lang.words();
                self.say(format!("{} · {title}: {reason}", w.room_refused), true);
            }
            _ => {}
        }
        self.model.apply(&pushed);
        self.dirty = true;
    }
}
