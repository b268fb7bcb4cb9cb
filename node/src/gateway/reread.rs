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

/// The text of the file at `path`; `None` if there is no such file.
pub fn read_if_present(path: &Path) -> std::io::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Replaces the file at `path` with `text`, whole: written to a temporary
/// name (mode 0600: these files hold hashes and secrets), synced, renamed.
pub fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("toml.new");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}
