//! A file a running gateway reads again when it changes (its tokens, its
//! webhook subscriptions): what the file says now, checked on each use by
//! its modification time, and the last good reading kept when a new one
//! does not read (the log says why).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// What a watched file holds.
pub trait Watched: Default + Send + Sync {
    /// The file's contents in operators' words, for the log.
    const WHAT: &'static str;
    /// Reads the file at `path` (a missing file is the empty default).
    fn load(path: &Path) -> Result<Self, String>;
}

/// A file of `T`, read again when it changes.
pub struct FileWatch<T> {
    path: PathBuf,
    held: Mutex<(Option<SystemTime>, Arc<T>)>,
}

impl<T: Watched> FileWatch<T> {
    pub fn new(path: PathBuf) -> FileWatch<T> {
        FileWatch {
            path,
            held: Mutex::new((None, Arc::new(T::default()))),
        }
    }

    /// What the file says now (a file that does not read keeps what was
    /// read last, and says why in the log).
    pub fn current(&self) -> Arc<T> {
        let seen = std::fs::metadata(&self.path).and_then(|m| m.modified()).ok();
        let mut held = self.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if held.0 != seen {
            match T::load(&self.path) {
                Ok(now) => *held = (seen, Arc::new(now)),
                Err(e) => tracing::error!(error = %e, "{} not read again; the previous ones stay", T::WHAT),
            }
        }
        held.1.clone()
    }
}
