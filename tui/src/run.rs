//! The driver: a terminal, the node, a clock, and [`App`] in between.
//!
//! ```text
//!   crossterm EventStream ─┐
//!   1 s tick ──────────────┼─► App::handle(event) ─► actions ─► draw
//!   subscription task ─────┤        Send(request) ─► spawned call ─┐
//!   answers ◄──────────────┘◄─────────────────────────────────────-┘
//! ```
//!
//! The subscription lives in its own task: it forwards the snapshot and
//! every pushed notice, and when the stream ends it reports
//! `Disconnected` and subscribes again after a back-off (1 s doubling to
//! 30 s). If the connection itself closed (the node restarted) and the
//! options carry a [`Connector`], it dials again first. Nothing is
//! polled: the only timer is the tick that moves countdowns.
//!
//! The terminal is put back (raw mode off, main screen, mouse and paste
//! reporting off) when `run` returns, on error, and on panic.

use liandong_control::Query;
use std::io::{self, Write as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture, Event, EventStream,
};
use crossterm::execute;
use crossterm::terminal::{EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode};
use futures_util::StreamExt;
use liandong_control::{ControlClient, Request, Response};
use liandong_topology::Topology;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use tokio::sync::{Notify, Semaphore, mpsc, watch};

use crate::app::{Action, App, AppEvent};
use crate::{Connector, Options, TuiError};

/// Events from the subscription task and answers to requests waiting for
/// the loop. When full, the subscription task waits (and the node marks
/// the console lagged if it falls far behind).
const EVENT_QUEUE: usize = 1024;
/// Requests in flight at once; past it an action is answered at once with
/// an error instead of queueing behind a slow node.
const MAX_IN_FLIGHT: usize = 32;
const BACKOFF_MIN: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// Runs the console on a connected client until the operator quits.
///
/// Asks the node for its topology, takes over the terminal, subscribes,
/// and then draws after every key, mouse event, tick, notice and answer.
pub async fn run(client: ControlClient, options: Options) -> Result<(), TuiError> {
    let client = Arc::new(client);
    let topology = match client.call(Request::Query(Query::Topology)).await? {
        Response::Topology(text) => Topology::parse(&text, None).map_err(|e| TuiError::Topology(e.to_string()))?,
        Response::Refused { reason } => return Err(TuiError::Refused(reason)),
        other => return Err(TuiError::Unexpected(other.kind())),
    };

    let mut app = App::new(options.lang, options.utc_offset_secs, Some(client.operator().clone()));
    let mut term = TerminalGuard::enter()?;
    let size = term.terminal.size()?;
    let _ = app.handle(AppEvent::Resize {
        width: size.width,
        height: size.height,
    });
    let _ = app.handle(AppEvent::Topology(Box::new(topology)));
    let _ = app.handle(AppEvent::Tick(liandong_control::clock::now()));

    let (tx, mut rx) = mpsc::channel::<AppEvent>(EVENT_QUEUE);
    let resubscribe = Arc::new(Notify::new());
    // The connection in use; the follower replaces it after a reconnect.
    let (clients, current) = watch::channel(client);
    let follower = tokio::spawn(follow(
        clients,
        options.reconnect.clone(),
        tx.clone(),
        resubscribe.clone(),
    ));
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut keys = EventStream::new();
    let mut ticks = tokio::time::interval(options.tick);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    let outcome = loop {
        if let Err(e) = term.terminal.draw(|frame| frame.render_widget(&app, frame.area())) {
            break Err(TuiError::Terminal(e));
        }
        let event = tokio::select! {
            key = keys.next() => match key {
                Some(Ok(Event::Key(k))) => AppEvent::Key(k),
                Some(Ok(Event::Mouse(m))) => AppEvent::Mouse(m),
                Some(Ok(Event::Paste(text))) => AppEvent::Paste(text),
                Some(Ok(Event::Resize(width, height))) => AppEvent::Resize { width, height },
                Some(Ok(_)) => continue,
                Some(Err(e)) => break Err(TuiError::Terminal(e)),
                // The terminal went away: nobody is looking.
                None => break Ok(()),
            },
            _ = ticks.tick() => AppEvent::Tick(liandong_control::clock::now()),
            Some(event) = rx.recv() => event,
        };
        let mut quit = false;
        for action in app.handle(event) {
            match action {
                Action::Send(request) => send(&current.borrow().clone(), &in_flight, &tx, request),
                Action::Resubscribe => resubscribe.notify_one(),
                Action::Bell => {
                    let backend = term.terminal.backend_mut();
                    let _ = backend.write_all(b"\x07").and_then(|()| backend.flush());
                }
                Action::Quit => quit = true,
            }
        }
        if quit {
            break Ok(());
        }
    };
    follower.abort();
    drop(term);
    outcome
}

/// Sends one request on its own task; the answer comes back as an event.
fn send(client: &Arc<ControlClient>, in_flight: &Arc<Semaphore>, tx: &mpsc::Sender<AppEvent>, request: Request) {
    let tx = tx.clone();
    let Ok(permit) = in_flight.clone().try_acquire_owned() else {
        let event = AppEvent::Answer {
            request,
            response: Err(format!("{MAX_IN_FLIGHT} requests are already waiting for the node")),
        };
        tokio::spawn(async move { tx.send(event).await });
        return;
    };
    let client = client.clone();
    tokio::spawn(async move {
        let response = client.call(request.clone()).await.map_err(|e| e.to_string());
        drop(permit);
        let _ = tx.send(AppEvent::Answer { request, response }).await;
    });
}

/// Keeps a subscription open: forwards what it yields, and subscribes
/// again after it ends (at once when the app asks, after a back-off when
/// it broke), dialling a new connection first if the old one closed.
async fn follow(
    clients: watch::Sender<Arc<ControlClient>>,
    reconnect: Option<Connector>,
    tx: mpsc::Sender<AppEvent>,
    resubscribe: Arc<Notify>,
) {
    let mut backoff = BACKOFF_MIN;
    loop {
        let mut client = clients.borrow().clone();
        if let (Some(reason), Some(connect)) = (client.connection().close_reason(), reconnect.as_ref()) {
            match connect().await {
                Ok(fresh) => {
                    client = Arc::new(fresh);
                    clients.send_replace(client.clone());
                }
                Err(e) => {
                    let event = AppEvent::Disconnected(format!("{reason}; reconnecting: {e}"));
                    if tx.send(event).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                    continue;
                }
            }
        }
        let mut asked = false;
        let reason = match client.subscribe().await {
            Err(e) => e.to_string(),
            Ok(mut sub) => loop {
                let item = tokio::select! {
                    item = sub.next() => item,
                    _ = resubscribe.notified() => {
                        asked = true;
                        break String::new();
                    }
                };
                let event = match item {
                    Some(Ok(Response::Snapshot {
                        status,
                        incidents,
                        orders,
                        rooms,
                    })) => {
                        backoff = BACKOFF_MIN;
                        AppEvent::Snapshot {
                            status,
                            incidents,
                            orders,
                            rooms,
                        }
                    }
                    Some(Ok(Response::Pushed(pushed))) => AppEvent::Pushed(pushed),
                    Some(Ok(other)) => break format!("the node sent {} on the subscription", other.kind()),
                    Some(Err(e)) => break e.to_string(),
                    None => break "the node ended the subscription".to_owned(),
                };
                if tx.send(event).await.is_err() {
                    return;
                }
            },
        };
        if asked {
            continue;
        }
        if tx.send(AppEvent::Disconnected(reason)).await.is_err() {
            return;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// True while a console owns the terminal: the panic hook restores it.
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// The terminal in raw mode on the alternate screen with mouse and paste
/// reporting; restored on drop and on panic.
struct TerminalGuard {
    terminal: Terminal<CrosstermBackend<io::Stdout>>,
}

impl TerminalGuard {
    fn enter() -> io::Result<TerminalGuard> {
        static HOOK: std::sync::Once = std::sync::Once::new();
        HOOK.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                if ACTIVE.swap(false, Ordering::SeqCst) {
                    restore();
                }
                previous(info);
            }));
        });
        enable_raw_mode()?;
        ACTIVE.store(true, Ordering::SeqCst);
        let mut stdout = io::stdout();
        if let Err(e) = execute!(stdout, EnterAlternateScreen, EnableMouseCapture, EnableBracketedPaste) {
            ACTIVE.store(false, Ordering::SeqCst);
            restore();
            return Err(e);
        }
        match Terminal::new(CrosstermBackend::new(stdout)) {
            Ok(terminal) => Ok(TerminalGuard { terminal }),
            Err(e) => {
                ACTIVE.store(false, Ordering::SeqCst);
                restore();
                Err(e)
            }
        }
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        if ACTIVE.swap(false, Ordering::SeqCst) {
            restore();
        }
        let _ = self.terminal.show_cursor();
    }
}

/// Puts the terminal back as the shell had it. Safe to call twice.
fn restore() {
    let _ = disable_raw_mode();
    let _ = execute!(
        io::stdout(),
        DisableBracketedPaste,
        DisableMouseCapture,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
}
