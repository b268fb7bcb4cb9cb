//! Moving between screens. The tabs (board, orders, links, safety
//! report) are top screens: going to one forgets the way back, and
//! opening the links or the report asks the node for what it shows.
//! The detail, the composer and the room open above the current
//! screen, and Esc comes back.

use liandong_dispatch::wire::EnvelopeId;
use liandong_topology::NodeId;

use super::{Action, App};
use crate::composer::Composer;
use crate::list::Scroll;
use crate::room_pane::RoomPane;
use crate::screen::Screen;

impl App {
    /// Switches to a top screen (board, orders, links), forgetting the way back.
    pub(super) fn go(&mut self, screen: Screen) {
        self.back.clear();
        self.screen = screen;
    }

    /// Opens a tab (a key or a click on it) and asks for what it shows:
    /// the links their status, the safety report its figures.
    pub(super) fn open_tab(&mut self, screen: Screen, out: &mut Vec<Action>) {
        self.go(screen);
        match screen {
            Screen::Links => self.ask_status(out),
            Screen::Report => self.ask_report(out),
            _ => {}
        }
    }

    /// Opens a screen above the current one; Esc comes back.
    fn push(&mut self, screen: Screen) {
        if self.screen != screen {
            self.back.push(self.screen);
        }
        self.screen = screen;
    }

    /// Back to the screen below (the board if none); the composer's form
    /// is dropped once it is left.
    pub(super) fn pop(&mut self) {
        self.screen = self.back.pop().unwrap_or(Screen::Board);
        if self.screen != Screen::Composer {
            self.composer = None;
        }
    }

    /// Opens the detail of incident `id`, at the top of its timeline.
    pub(super) fn open_detail(&mut self, id: EnvelopeId) {
        self.detail = Some(id);
        self.timeline = Scroll::default();
        self.detail_orders = Scroll::default();
        self.detail_orders_pane = false;
        self.push(Screen::Detail);
    }

    /// Opens the dispatch composer, about `incident` if given; it needs
    /// the topology and to know which node this is.
    pub(super) fn open_composer(&mut self, incident: Option<EnvelopeId>) {
        let (Some(topology), Some(me)) = (self.model.topology.as_ref(), self.model.me()) else {
            let text = self.lang.words().no_topology.to_owned();
            self.say(text, true);
            return;
        };
        let about = incident.and_then(|id| self.model.incidents.get(&id).map(|i| (id, i.report.severity, i.mode)));
        self.composer = Some(Composer::new(topology, me, about));
        self.push(Screen::Composer);
    }

    /// Shows the room screen for incident `id` and asks the node for the
    /// room (header and log). The same room keeps its draft and place.
    pub(super) fn open_room(&mut self, id: EnvelopeId, out: &mut Vec<Action>) {
        if self.room.as_ref().is_none_or(|p| p.id != id) {
            let mut pane = RoomPane::new(id);
            pane.header = self.model.rooms.get(&id).cloned();
            self.room = Some(pane);
        }
        if let Some(pane) = self.room.as_mut() {
            pane.typing = true;
        }
        self.push(Screen::Room);
        self.ask_room(out);
    }

    /// Where to ask to enter a room this node does not know: the
    /// incident's owner, which would be its home (`None` when the room is
    /// known here, or the owner is this node, which then knows best).
    pub(super) fn home_to_ask(&self, room: EnvelopeId) -> Option<NodeId> {
        if self.room_header(room).is_some() {
            return None;
        }
        let owner = &self.model.incidents.get(&room)?.owner;
        (Some(owner) != self.model.me()).then(|| owner.clone())
    }
}
