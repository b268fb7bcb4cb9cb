//! The console's state and the one place it changes: [`App::handle`].
//!
//! Everything that can happen to the console is an [`AppEvent`] (a key, a
//! mouse click, a resize, a tick of the clock, the node's snapshot or a
//! pushed notice, the answer to a request, a lost subscription). `handle`
//! folds it into the state and returns the [`Action`]s to carry out
//! (send a request, ring the bell, resubscribe, quit). It reads no clock
//! and does no I/O: time arrives as [`AppEvent::Tick`], so tests replay
//! exactly. Drawing is a separate pure function of `&App` (the `ui`
//! module); the app never depends on it. Where the app needs to know
//! what is drawn where (rows a list shows, the row a click hits) it asks
//! [`crate::layout`], as the drawing does.
//!
//! Call order for a driver: `handle(event)`, carry out every returned
//! action in order, draw.
//!
//! # Layout
//! This file holds the state ([`App`], its fields and getters), the
//! events in and actions out, and `handle`, which hands each event to
//! the submodule whose job it is. Each submodule adds the methods of one
//! job to `App` and uses only the ones listed before it (and this file's
//! getters), so no two of them depend on each other:
//! - `report`: the safety report's figures, asked one period at a time,
//!   and their answers folded into the screen's pane.
//! - `requests`: what the app asks the node, and folding its answers.
//! - `rows`: the board's filter, the rows every list holds and how many
//!   fit, rebuilt after every event (`settle`).
//! - `alarms`: what rings, the tick that watches deadlines, acknowledging.
//! - `notices`: folding the snapshot and what the node pushes.
//! - `nav`: moving between screens (the way back, opening one).
//! - `prompt`: the one-line question and the request its answer makes.
//! - `keys`: keys and paste, global then per screen.
//! - `mouse`: clicks and the wheel, hit-tested against the layout.

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use crossterm::event::{KeyEvent, KeyEventKind, MouseEvent};
use liandong_control::{NodeStatus, Operator, OrderView, Pushed, Request, Response};
use liandong_dispatch::room::Room;
use liandong_dispatch::store::Incident;
use liandong_dispatch::wire::{EnvelopeId, Stage, Timestamp};
use liandong_topology::Topology;

use crate::composer::Composer;
use crate::i18n::Lang;
use crate::list::Scroll;
use crate::model::Model;
use crate::report_pane::ReportPane;
use crate::room_pane::RoomPane;
use crate::screen::Screen;

mod alarms;
mod keys;
mod mouse;
mod nav;
mod notices;
mod prompt;
mod report;
mod requests;
mod rows;

pub use alarms::{Alarm, AlarmKind, BELL_REPEAT, MAX_ALARMS};
pub use prompt::{Prompt, PromptKind};
pub use requests::id_ref;
pub(crate) use rows::DetailRow;
pub use rows::{Filter, StateFilter};

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

/// The subscription to the node, as the tabs line shows it.
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
    /// The safety report screen: the figures as answered, what is still
    /// to ask, the index warnings (kept while the screen is closed).
    pub(crate) report: ReportPane,
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
            report: ReportPane::default(),
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

    /// The safety report screen's state.
    pub fn report_pane(&self) -> &ReportPane {
        &self.report
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
            AppEvent::Mouse(mouse) => self.on_mouse(mouse, &mut out),
            AppEvent::Paste(text) => self.on_paste(&text),
            AppEvent::Resize { width, height } => self.size = (width, height),
            AppEvent::Tick(now) => {
                self.on_tick(now, &mut out);
                self.report_clock(&mut out);
            }
            AppEvent::Topology(topology) => {
                self.model.set_topology(*topology);
                self.dirty = true;
            }
            AppEvent::Snapshot {
                status,
                incidents,
                orders,
                rooms,
            } => self.on_snapshot(status, incidents, orders, rooms, &mut out),
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

    /// Shows `text` in the status line (red if `bad`) until it expires.
    fn say(&mut self, text: String, bad: bool) {
        self.flash = Some(Flash {
            at: self.now,
            text,
            bad,
        });
    }
}
