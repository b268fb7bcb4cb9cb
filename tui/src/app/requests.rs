//! What the app asks the node, and folding the answers back in.
//!
//! Requests go out as [`Action::Send`]; each comes back as one
//! [`AppEvent::Answer`](super::AppEvent::Answer), whatever happened.
//! Questions the app asks on its own (the status, an order by id, the
//! room on screen) are asked once at a time: a flag or set says one is
//! out, and its answer (or failure) clears it. Answers to the safety
//! report's figures go to `report`.

use liandong_control::{Act, IdRef, Query, Request, Response};
use liandong_dispatch::wire::{EnvelopeId, RoomAct, TargetState};
use liandong_topology::NodeId;

use super::{Action, App};
use crate::composer;

impl App {
    /// Folds the node's answer to `request` in (or why there was none):
    /// data into the model, the composer's stage, the room pane, and a
    /// message in the status line.
    pub(super) fn on_answer(&mut self, request: Request, response: Result<Response, String>, out: &mut Vec<Action>) {
        // The safety report's figures are its pane's (`report`).
        if let Request::Query(Query::Figures { period, center: None }) = &request {
            self.on_figures(period, response, out);
            return;
        }
        let w = self.lang.words();
        match response {
            Ok(Response::Done { id, what }) => {
                if matches!(request, Request::Act(Act::Dispatch { .. })) {
                    if let Some(c) = self.composer.as_mut()
                        && c.stage == composer::Stage::Sending
                    {
                        c.stage = composer::Stage::Watching(id);
                    }
                    self.fetch_order(id, out);
                }
                self.say(format!("{}: {what}", w.done), false);
            }
            Ok(Response::Refused { reason }) => {
                if let Some(c) = self.composer.as_mut()
                    && c.stage == composer::Stage::Sending
                {
                    c.stage = composer::Stage::Editing;
                }
                if let Request::Query(Query::Room { id }) = &request
                    && let Some(pane) = self.room.as_mut().filter(|p| id_ref(p.id) == *id)
                {
                    pane.asking = false;
                    if !pane.loaded {
                        pane.missing = Some(reason.clone());
                    }
                }
                self.say(format!("{}: {reason}", w.refused), true);
            }
            Ok(Response::Asked { what, .. }) => self.say(format!("{}: {what}", w.sent), false),
            Ok(Response::Room(view)) => {
                self.model.put_room(view.room.clone());
                if let Some(pane) = self.room.as_mut().filter(|p| p.id == view.room.id)
                    && pane.load(view)
                {
                    self.ask_room(out);
                }
                self.dirty = true;
            }
            Ok(Response::Order(view)) => {
                self.fetching.remove(&view.order.id);
                self.model.orders.insert(view.order.id, view);
                self.dirty = true;
            }
            Ok(Response::Incident(incident)) => {
                self.model.put_incident(incident);
                self.dirty = true;
            }
            Ok(Response::Status(status)) => {
                self.status_asked = false;
                self.model.status = Some(status);
            }
            Ok(other) => self.say(format!("{}: {}", w.error, other.kind()), true),
            Err(reason) => {
                match request {
                    Request::Query(Query::Status) => self.status_asked = false,
                    Request::Query(Query::Order { id }) => {
                        self.fetching.retain(|o| format!("{:032x}", o.0) != id.0);
                    }
                    Request::Act(Act::Dispatch { .. }) => {
                        if let Some(c) = self.composer.as_mut() {
                            c.stage = composer::Stage::Editing;
                        }
                    }
                    Request::Query(Query::Room { id }) => {
                        if let Some(pane) = self.room.as_mut().filter(|p| id_ref(p.id) == id) {
                            pane.asking = false;
                        }
                    }
                    _ => {}
                }
                self.say(format!("{}: {reason}", w.error), true);
            }
        }
    }

    /// Asks for the node's status and links, once at a time.
    pub(super) fn ask_status(&mut self, out: &mut Vec<Action>) {
        if !self.status_asked {
            self.status_asked = true;
            out.push(Action::Send(Request::Query(Query::Status)));
        }
    }

    /// Asks for the room screen's room (header and whole log), once at a
    /// time.
    pub(super) fn ask_room(&mut self, out: &mut Vec<Action>) {
        if let Some(pane) = self.room.as_mut()
            && !pane.asking
        {
            pane.asking = true;
            out.push(Action::Send(Request::Query(Query::Room { id: id_ref(pane.id) })));
        }
    }

    /// Asks for an order by id (after dispatching it, or on progress of
    /// one not yet seen), once per order until it comes.
    pub(super) fn fetch_order(&mut self, id: EnvelopeId, out: &mut Vec<Action>) {
        if self.fetching.insert(id) {
            out.push(Action::Send(Request::Query(Query::Order { id: id_ref(id) })));
        }
    }
}

/// An incident or order id in full, as requests take it.
pub fn id_ref(id: EnvelopeId) -> IdRef {
    IdRef(format!("{:032x}", id.0))
}

/// An act in the room of incident `room`.
pub(super) fn room_act(room: EnvelopeId, act: RoomAct, home: Option<NodeId>) -> Action {
    Action::Send(Request::Act(Act::RoomAct {
        room: id_ref(room),
        act,
        home,
    }))
}

/// Signs for `order` at this node.
pub(super) fn sign_for(order: EnvelopeId) -> Action {
    Action::Send(Request::Act(Act::Acknowledge {
        order: id_ref(order),
        // The node fills in who signed, from the operator's certificate.
        state: TargetState::SignedFor { by: String::new() },
    }))
}
