//! liandong-tui: the operator console, a ratatui client of one node's
//! control API.
//!
//! A center's operators live in this screen for a shift. It shows, live,
//! what is escalating where, who has not acknowledged, and what is late;
//! and it sends what the operator decides (accept, escalate, dispatch,
//! sign for, …) as control requests.
//!
//! It never holds protocol logic: it shows what the node pushes and sends
//! what the operator asks for; the node decides and says why when it
//! refuses. It never polls the node in a loop: one subscription pushes
//! every change; the only timer is a one-second tick that moves
//! countdowns on screen.
//!
//! # Design
//! State in, frame out. Every input is one [`AppEvent`]; [`App::handle`]
//! folds it into the state and returns [`Action`]s (send a request, ring
//! the bell, resubscribe, quit). Drawing is `impl Widget for &App`, a pure
//! function of that state: no clock, no I/O, no sorting while drawing.
//! Tests script events and snapshot the frame drawn to a `TestBackend`.
//!
//! # Layout
//! From the top of the stack down: a module uses only those listed below
//! it, so no two depend on each other and the state never depends on
//! the drawing. Inside `app` and `ui` the submodules form such a stack
//! too: the parent dispatches to them; `app`'s add methods to its `App`,
//! `ui`'s never use the frame module above them (what they share is
//! `paint`).
//! - `run`: the async driver ([`run()`]) and terminal setup/restore.
//! - [`ui`]: drawing, `impl Widget for &App`: the frame (tabs, alarm
//!   banner, status line, key hints), one module per screen (`board`,
//!   `detail`, `orders`, `links`, `composer_screen`, `room_screen`,
//!   `report_screen`), the `help` overlay and key table, and `paint`,
//!   what they share.
//! - [`app`]: [`App`], [`AppEvent`], [`Action`]: the state and `handle`,
//!   one submodule per job (the safety report's figures, requests and
//!   answers, rows and filters, alarms, notices, navigation, the prompt,
//!   keys, mouse).
//! - [`layout`]: where everything goes, pure functions of the terminal
//!   size, used by the drawing and by the app (rows that fit, mouse
//!   hits); it imports neither.
//! - [`screen`]: [`Screen`], the screens the app chooses between.
//! - [`model`]: what the node said: the fold of snapshot and notices.
//! - [`composer`]: the dispatch composer's form and target picking.
//! - [`report_pane`]: the safety report screen's state (平安报表): the
//!   month's and each day's subtree report as the node answered, and
//!   the figures still to ask, one request at a time.
//! - [`room_pane`]: the coordination room screen's state: the loaded log
//!   folded in sequence order (bounded by [`room_pane::MAX_ROOM_LOG`])
//!   and the input line.
//! - [`slash`]: the input line's slash commands (`/decide`, `/task`,
//!   `/invite`, `/close`, `/enter`, `/leave`) parsed into room acts or a
//!   [`slash::SlashError`], node names resolved from the topology.
//! - [`editor`]: line editing for prompts and the instruction (CJK-aware).
//! - [`list`]: cursor and scroll window of a list.
//! - [`i18n`]: every label in Chinese and English.
//!
//! Display-width text (truncation, padding, wrapping for CJK), durations
//! and clock times come from `liandong_control::text`; the console has
//! no copies of its own.
//!
//! # Screens
//! Escalation board (home), incident detail, orders, links, the dispatch
//! composer, the coordination room (综合协调室, from the detail: `m` view,
//! `M` open, `i` enter, `o` leave; roster, open tasks, the ordered log,
//! an input line), the safety report (平安报表, `4`: the current month's
//! or today's figures per source, a bar chart of each one's safety index
//! and sparklines of reports received per day), and a help overlay
//! (`?`, F1) listing every key ([`ui::KEYS`]).
//!
//! # Alarms
//! A banner and the bell for a new severity I–III report, a deadline
//! missed here, a late item flagged (督办), a coordination room
//! opened that this node is part of, and a child's safety index under
//! the policy's line (the early warning).

pub mod app;
pub mod composer;
pub mod editor;
pub mod i18n;
pub mod layout;
pub mod list;
pub mod model;
pub mod report_pane;
pub mod room_pane;
mod run;
pub mod screen;
pub mod slash;
pub mod ui;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use liandong_control::{ControlClient, ControlError};

pub use app::{Action, App, AppEvent};
pub use i18n::Lang;
pub use run::run;
pub use screen::Screen;

/// Dials the node again after its connection closed (it restarted).
pub type Connector =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<ControlClient, ControlError>> + Send>> + Send + Sync>;

/// How to run the console.
#[derive(Clone)]
pub struct Options {
    pub lang: Lang,
    /// The operator's time zone, seconds east of UTC, for wall-clock
    /// times. [`Options::local`] reads it from the machine.
    pub utc_offset_secs: i32,
    /// How often countdowns move.
    pub tick: Duration,
    /// How to connect again if the node closes the connection; without
    /// it the console keeps retrying the subscription on the old one and
    /// shows the connection as lost.
    pub reconnect: Option<Connector>,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("lang", &self.lang)
            .field("utc_offset_secs", &self.utc_offset_secs)
            .field("tick", &self.tick)
            .field("reconnect", &self.reconnect.is_some())
            .finish()
    }
}

impl Options {
    /// Language from the locale, time zone from the machine. Reading the
    /// zone is only possible while the process has a single thread: call
    /// this before starting a multi-threaded runtime (UTC otherwise).
    pub fn local() -> Options {
        let offset = time::UtcOffset::current_local_offset().map_or(0, |o| o.whole_seconds());
        Options {
            lang: Lang::from_env(),
            utc_offset_secs: offset,
            tick: Duration::from_secs(1),
            reconnect: None,
        }
    }
}

impl Default for Options {
    /// [`Options::local`].
    fn default() -> Options {
        Options::local()
    }
}

/// Why the console stopped.
#[derive(Debug, thiserror::Error)]
pub enum TuiError {
    /// Talking to the node failed before the console could start.
    #[error(transparent)]
    Control(#[from] liandong_control::ControlError),
    #[error("the node refused: {0}")]
    Refused(String),
    #[error("the node answered {0} where the console expected something else")]
    Unexpected(&'static str),
    #[error("the node's topology does not load: {0}")]
    Topology(String),
    /// The terminal could not be set up, read or drawn on.
    #[error("terminal: {0}")]
    Terminal(#[from] std::io::Error),
}
