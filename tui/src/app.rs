//! The console's state and the one place it changes: [`App::handle`].
//!
//! Everything that can happen to the console is an [`AppEvent`] (a key, a
//! mouse click, a resize, a tick of the clock, the node's snapshot or a
//! pushed notice, the answer to a request, a lost subscription). `handle`
//! folds it into the state and returns the [`Action`]s to carry out
//! (send a request, ring the bell, resubscribe, quit). It reads no clock
//! and does no I/O: time arrives as [`AppEvent::Tick`], so tests replay
//! exactly. Drawing is a separate pure function of `&App` (see
//! [`crate::ui`]).
//!
//! Call order for a driver: `handle(event)`, carry out every returned
//! action in order, draw.

use liandong_control::{Act, Query};
use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use crossterm::event::{KeyEvent, KeyEventKind, MouseEvent};
use liandong_control::{IdRef, NodeStatus, Notice, Operator, OrderView, Pushed, Request, Response};
use liandong_dispatch::room::{Room, RoomLine};
use liandong_dispatch::store::{Incident, IncidentState};
use liandong_dispatch::wire::{EnvelopeId, Item, Mode, Stage, Timestamp};
use liandong_topology::{Severity, Topology};
use ratatui::layout::Rect;

use crate::composer::{self, Composer};
use crate::editor::Editor;
use crate::i18n::Lang;
use crate::layout;
use crate::list::Scroll;
use crate::model::Model;
use crate::room_pane::{Fold, RoomPane};
use crate::screen::Screen;

mod input;

/// Unacknowledged alarms kept; past this the oldest is dropped (and
/// counted: the banner's "+N more" includes them).
pub const MAX_ALARMS: usize = 100;
/// How often the bell rings again while an alarm waits.
pub const BELL_REPEAT: Duration = Duration::from_secs(10);
/// How long a message stays in the status line.
pub const FLASH_FOR: Duration = Duration::from_secs(15);

/// Everything that can happen to the console.
#[derive(Debug, Clone)]
pub enum AppEvent {
    Key(KeyEvent),
    Mouse(MouseEvent),
    /// Text pasted, or committed at once by an input method.
    Paste(String),
    Resize {
        width: u16,
        height: u16,
    },
    /// The wall clock, once a second: countdowns move, deadlines pass.
    Tick(Timestamp),
    /// The federation's topology as the node runs it.
    Topology(Box<Topology>),
    /// First answer of a subscription: everything open at the node.
    Snapshot {
        status: NodeStatus,
        incidents: Vec<Incident>,
        orders: Vec<OrderView>,
        rooms: Vec<Room>,
    },
    /// A change the node pushed.
    Pushed(Pushed),
    /// The node's answer to a request this app asked for (or why there was
    /// none).
    Answer {
        request: Request,
        response: Result<Response, String>,
    },
    /// The subscription ended; the driver is trying again.
    Disconnected(String),
}

/// What the app asks its driver to do.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Action {
    /// Send a request; its answer comes back as [`AppEvent::Answer`].
    Send(Request),
    /// Drop the subscription and subscribe again (fresh snapshot).
    Resubscribe,
    /// Ring the terminal bell.
    Bell,
    Quit,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    Connecting,
    Live,
    Lost(String),
}

/// A one-line message in the status line: the answer to the last request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    pub at: Timestamp,
    pub text: String,
    pub bad: bool,
}

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
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alarm {
    pub kind: AlarmKind,
    pub incident: Option<EnvelopeId>,
    pub severity: Option<Severity>,
    pub title: String,
    pub at: Timestamp,
}

/// Which incidents the board shows, by state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StateFilter {
    /// Every open incident (not closed, not cancelled).
    #[default]
    Open,
    Only(IncidentState),
}

impl StateFilter {
    const CYCLE: [StateFilter; 8] = [
        StateFilter::Open,
        StateFilter::Only(IncidentState::Reported),
        StateFilter::Only(IncidentState::Accepted),
        StateFilter::Only(IncidentState::Dispatched),
        StateFilter::Only(IncidentState::Resolved),
        StateFilter::Only(IncidentState::Verified),
        StateFilter::Only(IncidentState::Closed),
        StateFilter::Only(IncidentState::Cancelled),
    ];

    fn next(self) -> StateFilter {
        let i = Self::CYCLE.iter().position(|&s| s == self).unwrap_or(0);
        Self::CYCLE[(i + 1) % Self::CYCLE.len()]
    }

    fn admits(self, state: IncidentState) -> bool {
        match self {
            StateFilter::Open => state.is_open(),
            StateFilter::Only(s) => s == state,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only this severity and above.
    pub min_severity: Option<Severity>,
    pub state: StateFilter,
    /// Only real cases, or only drills.
    pub mode: Option<Mode>,
    /// Matches title, place, origin path, category or id prefix.
    pub search: String,
}

impl Filter {
    pub fn is_default(&self) -> bool {
        *self == Filter::default()
    }
}

/// A row of the detail's orders pane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DetailRow {
    Order(EnvelopeId),
    /// The order and the index of the target in its view.
    Target(EnvelopeId, usize),
}

/// A one-line question at the bottom of the screen.
#[derive(Debug, Clone)]
pub struct Prompt {
    pub kind: PromptKind,
    pub editor: Editor,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptKind {
    /// Live search on the board.
    Search,
    Escalate(EnvelopeId),
    Note(EnvelopeId),
    Feedback(EnvelopeId),
    Resolve(EnvelopeId),
    Verify {
        incident: EnvelopeId,
        accepted: bool,
    },
    Cancel(EnvelopeId),
    /// Report an order done.
    Done(EnvelopeId),
    /// Refuse an order.
    Refuse(EnvelopeId),
}

/// The console: what the node said ([`Model`]) and what the operator is
/// looking at. Fields are read by the drawing code; only `handle` changes
/// them.
#[derive(Debug)]
pub struct App {
    pub(crate) lang: Lang,
    /// Seconds east of UTC for wall-clock times.
    pub(crate) utc_offset: i32,
    /// Who is at the console (from the certificate), if known.
    pub(crate) operator: Option<Operator>,
    pub(crate) model: Model,
    /// The time as of the last tick (or snapshot).
    pub(crate) now: Timestamp,
    /// Terminal size: layouts (and so mouse hits and scrolling) follow it.
    pub(crate) size: (u16, u16),
    pub(crate) connection: Connection,
    pub(crate) screen: Screen,
    /// Where Esc goes from the detail and the composer.
    back: Vec<Screen>,
    pub(crate) help: bool,
    /// First line of the help overlay shown (it scrolls on small screens).
    pub(crate) help_scroll: usize,
    pub(crate) filter: Filter,
    /// The board's rows: open incidents after filters, sorted by severity
    /// then time left. Rebuilt when the data or the filter changes, so
    /// drawing never sorts.
    pub(crate) board_rows: Vec<EnvelopeId>,
    pub(crate) board: Scroll,
    /// The incident the detail screen shows.
    pub(crate) detail: Option<EnvelopeId>,
    /// Detail: the orders pane has the focus (else the timeline).
    pub(crate) detail_orders_pane: bool,
    pub(crate) timeline: Scroll,
    pub(crate) detail_orders: Scroll,
    /// The orders screen's rows, newest first.
    pub(crate) order_rows: Vec<EnvelopeId>,
    pub(crate) orders: Scroll,
    /// Orders screen: the targets pane has the focus.
    pub(crate) orders_targets_pane: bool,
    pub(crate) order_targets: Scroll,
    pub(crate) links: Scroll,
    pub(crate) composer: Option<Composer>,
    /// The room the room screen shows (kept after leaving the screen, so
    /// coming back keeps the draft; replaced when another room opens).
    pub(crate) room: Option<RoomPane>,
    pub(crate) prompt: Option<Prompt>,
    pub(crate) alarms: VecDeque<Alarm>,
    pub(crate) alarms_dropped: u64,
    /// (incident, stage) pairs already alarmed, so one miss rings once.
    alarmed: HashSet<(EnvelopeId, Stage)>,
    last_bell: Timestamp,
    /// Deadlines up to this time have been checked for alarms (by ticks
    /// only: notices move `now` too, and must not skip a check).
    checked_until: Timestamp,
    pub(crate) flash: Option<Flash>,
    /// A status request is out: don't ask again until it is answered.
    status_asked: bool,
    /// Orders asked for by id (after dispatching, or progress on an order
    /// not yet seen), so each is asked once.
    fetching: HashSet<EnvelopeId>,
    /// The data or the filter changed: rebuild the rows before drawing.
    dirty: bool,
}

impl App {
    pub fn new(lang: Lang, utc_offset: i32, operator: Option<Operator>) -> App {
        App {
            lang,
            utc_offset,
            operator,
            model: Model::default(),
            now: Timestamp(0),
            size: (80, 24),
            connection: Connection::Connecting,
            screen: Screen::Board,
            back: Vec::new(),
            help: false,
            help_scroll: 0,
            filter: Filter::default(),
            board_rows: Vec::new(),
            board: Scroll::default(),
            detail: None,
            detail_orders_pane: false,
            timeline: Scroll::default(),
            detail_orders: Scroll::default(),
            order_rows: Vec::new(),
            orders: Scroll::default(),
            orders_targets_pane: false,
            order_targets: Scroll::default(),
            links: Scroll::default(),
            composer: None,
            room: None,
            prompt: None,
            alarms: VecDeque::new(),
            alarms_dropped: 0,
            alarmed: HashSet::new(),
            last_bell: Timestamp(0),
            checked_until: Timestamp(0),
            flash: None,
            status_asked: false,
            fetching: HashSet::new(),
            dirty: true,
        }
    }

    // ------------------------------------------------------------ getters

    pub fn screen(&self) -> Screen {
        self.screen
    }

    pub fn lang(&self) -> Lang {
        self.lang
    }

    pub fn now(&self) -> Timestamp {
        self.now
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The incident under the board's cursor.
    pub fn selected_incident(&self) -> Option<EnvelopeId> {
        self.board_rows.get(self.board.cursor).copied()
    }

    /// The incident the detail screen shows.
    pub fn detail_incident(&self) -> Option<EnvelopeId> {
        self.detail
    }

    pub fn board_rows(&self) -> &[EnvelopeId] {
        &self.board_rows
    }

    pub fn alarms(&self) -> &VecDeque<Alarm> {
        &self.alarms
    }

    pub fn composer(&self) -> Option<&Composer> {
        self.composer.as_ref()
    }

    pub fn help_shown(&self) -> bool {
        self.help
    }

    pub fn flash(&self) -> Option<&Flash> {
        self.flash.as_ref()
    }

    pub fn filter(&self) -> &Filter {
        &self.filter
    }

    /// The room the room screen shows (or showed last).
    pub fn room_pane(&self) -> Option<&RoomPane> {
        self.room.as_ref()
    }

    /// The room's header as best known: the room screen's (further
    /// along while it is open), else the model's.
    pub(crate) fn room_header(&self, id: EnvelopeId) -> Option<&Room> {
        let pane = self
            .room
            .as_ref()
            .filter(|p| p.id == id)
            .and_then(|p| p.header.as_ref());
        match (pane, self.model.rooms.get(&id)) {
            (Some(p), Some(m)) => Some(if m.last_seq > p.last_seq { m } else { p }),
            (p, m) => p.or(m),
        }
    }

    /// The room the current screen is about: the detail's incident, or
    /// the room screen's room.
    pub(crate) fn room_in_view(&self) -> Option<EnvelopeId> {
        match self.screen {
            Screen::Detail => self.detail,
            Screen::Room => self.room.as_ref().map(|p| p.id),
            _ => None,
        }
    }

    /// True if the operator at this console is present in `room`.
    pub(crate) fn present_in(&self, room: &Room) -> bool {
        self.operator
            .as_ref()
            .is_some_and(|op| room.presence(&op.node, &op.name).is_some())
    }

    /// True if the operator's certificate makes them a leader (领导).
    pub(crate) fn is_leader(&self) -> bool {
        self.operator
            .as_ref()
            .is_some_and(|op| op.role == liandong_certs::Role::Leader)
    }

    /// True if `person` is the operator at this console.
    fn is_me(&self, person: Option<&liandong_dispatch::room::Person>) -> bool {
        match (person, &self.operator) {
            (Some(p), Some(op)) => p.is(&op.node, &op.name),
            _ => false,
        }
    }

    // ------------------------------------------------------------- inputs

    /// Folds one event into the state; returns what to do, in order.
    pub fn handle(&mut self, event: AppEvent) -> Vec<Action> {
        let mut out = Vec::new();
        match event {
            AppEvent::Key(key) => {
                // Key releases and repeats come only with enhanced keyboard
                // reporting; act on presses.
                if key.kind != KeyEventKind::Release {
                    self.on_key(key, &mut out);
                }
            }
            AppEvent::Mouse(mouse) => self.on_mouse(mouse),
            AppEvent::Paste(text) => self.on_paste(&text),
            AppEvent::Resize { width, height } => self.size = (width, height),
            AppEvent::Tick(now) => self.on_tick(now, &mut out),
            AppEvent::Topology(topology) => {
                self.model.set_topology(*topology);
                self.dirty = true;
            }
            AppEvent::Snapshot {
                status,
                incidents,
                orders,
                rooms,
            } => {
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
                    self.ask_room(&mut out);
                }
            }
            AppEvent::Pushed(pushed) => self.on_pushed(pushed, &mut out),
            AppEvent::Answer { request, response } => self.on_answer(request, response, &mut out),
            AppEvent::Disconnected(reason) => {
                self.connection = Connection::Lost(reason);
                self.status_asked = false;
            }
        }
        self.settle();
        out
    }

    fn on_pushed(&mut self, pushed: Pushed, out: &mut Vec<Action>) {
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

    fn on_answer(&mut self, request: Request, response: Result<Response, String>, out: &mut Vec<Action>) {
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

    fn on_tick(&mut self, now: Timestamp, out: &mut Vec<Action>) {
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
    fn supervised_alarm(&self, item: &Item, stage: Stage, at: Timestamp) -> Alarm {
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

    fn raise(&mut self, alarm: Alarm, out: &mut Vec<Action>) {
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

    fn say(&mut self, text: String, bad: bool) {
        self.flash = Some(Flash {
            at: self.now,
            text,
            bad,
        });
    }

    fn ask_status(&mut self, out: &mut Vec<Action>) {
        if !self.status_asked {
            self.status_asked = true;
            out.push(Action::Send(Request::Query(Query::Status)));
        }
    }

    /// Asks for the room screen's room (header and whole log), once at a
    /// time.
    fn ask_room(&mut self, out: &mut Vec<Action>) {
        if let Some(pane) = self.room.as_mut()
            && !pane.asking
        {
            pane.asking = true;
            out.push(Action::Send(Request::Query(Query::Room { id: id_ref(pane.id) })));
        }
    }

    fn fetch_order(&mut self, id: EnvelopeId, out: &mut Vec<Action>) {
        if self.fetching.insert(id) {
            out.push(Action::Send(Request::Query(Query::Order { id: id_ref(id) })));
        }
    }

    // --------------------------------------------------------- upkeep

    /// Rebuilds rows if anything changed and keeps every list's window on
    /// its cursor for the current terminal size. Runs after every event.
    fn settle(&mut self) {
        if self.dirty {
            self.dirty = false;
            let selected = self.selected_incident();
            self.board_rows = self.compute_board_rows();
            if let Some(row) = selected.and_then(|id| self.board_rows.iter().position(|&r| r == id)) {
                self.board.cursor = row;
            }
            let selected_order = self.order_rows.get(self.orders.cursor).copied();
            self.order_rows = self.compute_order_rows();
            if let Some(row) = selected_order.and_then(|id| self.order_rows.iter().position(|&r| r == id)) {
                self.orders.cursor = row;
            }
        }
        let area = Rect::new(0, 0, self.size.0, self.size.1);
        let body = layout::frame(area, !self.alarms.is_empty()).body;
        self.board
            .follow(self.board_rows.len(), usize::from(layout::board(body).rows.height));
        let detail = layout::detail(body);
        let timeline_len = self
            .detail
            .and_then(|id| self.model.incidents.get(&id))
            .map_or(0, |i| i.timeline.len());
        let orders_len = if self.screen == Screen::Detail {
            self.detail_order_count()
        } else {
            0
        };
        self.timeline.follow(timeline_len, usize::from(detail.timeline.height));
        self.detail_orders.follow(orders_len, usize::from(detail.orders.height));
        let orders = layout::orders(body);
        self.orders
            .follow(self.order_rows.len(), usize::from(orders.list.height));
        let targets = self
            .order_rows
            .get(self.orders.cursor)
            .and_then(|id| self.model.orders.get(id))
            .map_or(0, |o| o.targets.len());
        self.order_targets.follow(targets, usize::from(orders.targets.height));
        let links = self.model.status.as_ref().map_or(0, |s| s.links.len());
        self.links.follow(links, usize::from(layout::links(body).rows.height));
        if let Some(c) = self.composer.as_mut() {
            c.tree_scroll
                .follow(c.tree.len(), usize::from(layout::composer(body).tree.height));
        }
        if let Some(p) = self.room.as_mut() {
            p.cursor = p.cursor.min(p.log.len().saturating_sub(1));
        }
    }

    fn compute_board_rows(&self) -> Vec<EnvelopeId> {
        let needle = self.filter.search.trim().to_lowercase();
        let mut rows: Vec<(std::cmp::Reverse<Severity>, u64, Timestamp, EnvelopeId)> = self
            .model
            .incidents
            .values()
            .filter(|i| self.filter.state.admits(i.state))
            .filter(|i| self.filter.min_severity.is_none_or(|s| i.report.severity >= s))
            .filter(|i| self.filter.mode.is_none_or(|m| i.mode == m))
            .filter(|i| needle.is_empty() || self.matches(i, &needle))
            .map(|i| {
                let due = Model::due(i).map_or(u64::MAX, |(t, _)| t.0);
                (std::cmp::Reverse(i.report.severity), due, i.reported, i.id)
            })
            .collect();
        // Severity first, then the nearest deadline (missed ones first, as
        // they are the nearest); a shift of the clock keeps the order, so
        // ticks need no re-sort.
        rows.sort_unstable();
        rows.into_iter().map(|r| r.3).collect()
    }

    fn matches(&self, i: &Incident, needle: &str) -> bool {
        let r = &i.report;
        [
            r.title.as_str(),
            r.place.as_str(),
            self.model.path(&i.origin),
            self.lang.category(r.category),
        ]
        .iter()
        .any(|s| s.to_lowercase().contains(needle))
            || format!("{:032x}", i.id.0).starts_with(needle)
    }

    fn compute_order_rows(&self) -> Vec<EnvelopeId> {
        let mut rows: Vec<&OrderView> = self.model.orders.values().collect();
        rows.sort_by_key(|o| (std::cmp::Reverse(o.order.issued), o.order.id));
        rows.into_iter().map(|o| o.order.id).collect()
    }

    /// Rows a page of the board holds.
    fn board_page(&self) -> usize {
        let area = Rect::new(0, 0, self.size.0, self.size.1);
        usize::from(
            layout::board(layout::frame(area, !self.alarms.is_empty()).body)
                .rows
                .height,
        )
    }

    fn pages_detail(&self) -> (usize, usize) {
        let area = Rect::new(0, 0, self.size.0, self.size.1);
        let d = layout::detail(layout::frame(area, !self.alarms.is_empty()).body);
        (usize::from(d.timeline.height), usize::from(d.orders.height))
    }

    fn pages_orders(&self) -> (usize, usize) {
        let area = Rect::new(0, 0, self.size.0, self.size.1);
        let o = layout::orders(layout::frame(area, !self.alarms.is_empty()).body);
        (usize::from(o.list.height), usize::from(o.targets.height))
    }
}

/// An incident or order id in full, as requests take it.
pub fn id_ref(id: EnvelopeId) -> IdRef {
    IdRef(format!("{:032x}", id.0))
}
