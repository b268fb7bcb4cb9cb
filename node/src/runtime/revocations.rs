//! The revocation list in force: the federation document's (replaced
//! when a new version is applied) together with the node's revocation
//! file, if it has one. Every [`REVOCATION_CHECK`] the driver asks
//! whether the file changed; if it did, it is reloaded. Either way the
//! union goes into the verifier shared by the transport and the control
//! server (so new handshakes use it at once), and live links are
//! re-verified, those now revoked closed. A file that cannot be read or
//! parsed leaves the previous list in force.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use liandong_certs::{RevocationList, Verifier};
use tracing::{error, info};

use crate::transport::Transport;

/// How often the revocation file is checked for changes.
pub(super) const REVOCATION_CHECK: Duration = Duration::from_secs(2);

/// The revocation list's file and when it last changed.
pub(super) struct RevocationWatch {
    /// None: nothing is revoked, nothing to watch.
    path: Option<PathBuf>,
    /// The file's modification time when last loaded.
    seen: Option<SystemTime>,
    /// Holds the list in force.
    verifier: Arc<Verifier>,
    /// The file's list as last loaded.
    file: RevocationList,
    /// The federation document's list.
    document: RevocationList,
}

impl RevocationWatch {
    pub fn new(path: Option<PathBuf>, verifier: Arc<Verifier>) -> RevocationWatch {
        let file = verifier.revocations().current().as_ref().clone();
        RevocationWatch {
            path,
            seen: None,
            verifier,
            file,
            document: RevocationList::new(),
        }
    }

    /// The tick to check on, its first tick at once.
    pub fn interval() -> tokio::time::Interval {
        let mut tick = tokio::time::interval(REVOCATION_CHECK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick
    }

    /// Takes the file as it is now as the one in force (it was loaded at
    /// start).
    pub fn mark_loaded(&mut self) {
        self.seen = self.mtime();
    }

    fn mtime(&self) -> Option<SystemTime> {
        self.path
            .as_ref()
            .and_then(|p| std::fs::metadata(p).ok())
            .and_then(|m| m.modified().ok())
    }

    /// Reloads the revocation list when its file changed, and drops live
    /// connections whose certificates are now revoked.
    pub fn check(&mut self, transport: &Transport) {
        let Some(path) = self.path.clone() else { return };
        let seen = self.mtime();
        if seen == self.seen {
            return;
        }
        self.seen = seen;
        match RevocationList::load(&path) {
            Ok(list) => {
                info!(revoked = list.len(), file = %path.display(), "revocation list reloaded");
                self.file = list;
                self.put_in_force(transport);
            }
            Err(e) => error!(error = %e, "revocation list not reloaded; the previous one stays in force"),
        }
    }

    /// A federation document was applied: its revocation list replaces
    /// the previous document's.
    pub fn set_document(&mut self, list: RevocationList, transport: &Transport) {
        self.document = list;
        self.put_in_force(transport);
    }

    fn put_in_force(&self, transport: &Transport) {
        let list = self.document.merged(&self.file);
        let n = list.len();
        self.verifier.revocations().replace(list);
        let closed = transport.recheck();
        info!(revoked = n, closed, "revocation list in force");
    }
}
