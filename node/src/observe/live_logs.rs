//! Logs whose filter and format can change while the node runs (a
//! reloaded config file's `log_filter` and `log_format`): [`LogControl`].
//!
//! The subscriber holds both writers, readable lines and JSON, and a flag
//! saying which one writes events; both see every span, so a span opened
//! before a switch still carries its fields after it. The filter is a
//! reloadable `EnvFilter` in front of both.
//!
//! Nothing here decides what the filter or format should be: the caller
//! passes them (from flags, the config file or `RUST_LOG`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tracing::Subscriber;
use tracing::subscriber::Interest;
use tracing_subscriber::filter::DynFilterFn;
use tracing_subscriber::layer::Filter;
use tracing_subscriber::prelude::*;
use tracing_subscriber::{EnvFilter, Registry, reload};

use super::LogFormat;

/// Why the logs could not be set up or changed.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("bad log filter {text:?}: {why}")]
    BadFilter { text: String, why: String },
    #[error("another log subscriber is already installed in this process")]
    AlreadyInstalled,
    #[error("the log filter cannot be changed: {0}")]
    Reload(String),
}

/// The handle that changes the process's log filter and format.
#[derive(Clone)]
pub struct LogControl {
    filter: reload::Handle<EnvFilter, Registry>,
    /// True: JSON lines; false: readable lines.
    json: Arc<AtomicBool>,
}

impl LogControl {
    /// Installs the process's log subscriber (stderr) with `filter`
    /// directives in `format`. Fails if a subscriber is already installed.
    pub fn install(format: LogFormat, filter: &str) -> Result<LogControl, LogError> {
        let (filter_layer, handle) = reload::Layer::new(parse(filter)?);
        let json = Arc::new(AtomicBool::new(format == LogFormat::Json));
        // Colours only for a person at a terminal, never in files or pipes.
        let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none();
        let human = tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(ansi)
            .with_target(false)
            .with_filter(writes_when(json.clone(), false));
        let machine = tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_writer(std::io::stderr)
            .with_target(false)
            .with_filter(writes_when(json.clone(), true));
        tracing_subscriber::registry()
            .with(filter_layer)
            .with(human)
            .with(machine)
            .try_init()
            .map_err(|_| LogError::AlreadyInstalled)?;
        Ok(LogControl { filter: handle, json })
    }

    /// Writes lines in `format` from now on.
    pub fn set_format(&self, format: LogFormat) {
        self.json.store(format == LogFormat::Json, Ordering::Relaxed);
    }

    /// Filters lines through `filter` directives from now on; a bad filter
    /// changes nothing.
    pub fn set_filter(&self, filter: &str) -> Result<(), LogError> {
        let next = parse(filter)?;
        self.filter.reload(next).map_err(|e| LogError::Reload(e.to_string()))
    }
}

fn parse(filter: &str) -> Result<EnvFilter, LogError> {
    EnvFilter::builder().parse(filter).map_err(|e| LogError::BadFilter {
        text: filter.to_owned(),
        why: e.to_string(),
    })
}

/// Lets every span through (both writers keep span fields) and events only
/// while the flag equals `json`; asked per event, never cached.
fn writes_when<S: Subscriber>(flag: Arc<AtomicBool>, json: bool) -> impl Filter<S> {
    DynFilterFn::new(move |meta, _| meta.is_span() || flag.load(Ordering::Relaxed) == json)
        .with_callsite_filter(|_| Interest::sometimes())
}
