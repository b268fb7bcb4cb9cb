//! What SIGHUP does to a node run with `--config`: re-read and re-check
//! the file, put the flags given at start over it again, and compare with
//! the settings in force. What can change while the node runs is applied
//! (log filter and format, the metrics endpoint, the parent's address for
//! the next dial, and a renewed certificate in the node's certificate
//! files, `liandong certs renew`); a change to anything else (`id`, `listen`, `data`,
//! `store`, `control`, `certs`, `topology`) is logged as needing a restart
//! and not applied. A file that does not check is logged with its
//! FILE:LINE:COLUMN and changes nothing.
//!
//! Every reload ends with one log line: "config reloaded" (with what was
//! applied and what waits for a restart) or "config not reloaded".
//!
//! It never stops the node and never half-applies one change: a change
//! that fails (a metrics address that cannot be bound) leaves that field
//! as it was, and the next reload tries it again.

use std::path::PathBuf;

use liandong_node::observe::LogControl;
use liandong_node::runtime::{CertificateCheck, LiveChange, Node, Settings};
use tracing::{error, info, warn};

use super::run::{Flags, log_filter};

/// The config file of a running node and the settings in force.
pub(super) struct Reloader {
    file: PathBuf,
    /// The flags given at start: they override the file at every reload.
    flags: Flags,
    in_force: Settings,
    logs: LogControl,
}

impl Reloader {
    pub(super) fn new(file: PathBuf, flags: Flags, in_force: Settings, logs: LogControl) -> Reloader {
        Reloader {
            file,
            flags,
            in_force,
            logs,
        }
    }

    /// Re-reads the file and applies what may change while running.
    pub(super) async fn reload(&mut self, node: &mut Node) {
        let file = self.file.display().to_string();
        let new = match Settings::load(&self.file)
            .map_err(anyhow::Error::from)
            .and_then(|mut s| self.flags.put_over(&mut s).map(|()| s))
        {
            Ok(new) => new,
            Err(e) => {
                let why = format!("{e:#}").replace('\n', "; ");
                error!(%file, error = %why, "config not reloaded: the node keeps running on the config it has");
                return;
            }
        };
        let changes = self.in_force.changes(&new);
        let mut applied = Vec::new();
        let mut failed = Vec::new();
        for change in &changes.live {
            match self.apply(change, node).await {
                Ok(()) => {
                    self.in_force.adopt(change);
                    applied.push(change.field());
                }
                Err(why) => {
                    error!(%file, field = change.field(), error = %why, "config change not applied; the old value stays");
                    failed.push(change.field());
                }
            }
        }
        if !changes.restart.is_empty() {
            warn!(
                %file,
                fields = %changes.restart.join(", "),
                "config change needs a restart: not applied (restart the node to apply it)"
            );
        }
        info!(
            %file,
            applied = %list(&applied),
            failed = %list(&failed),
            needs_restart = %list(&changes.restart),
            "config reloaded"
        );
    }

    async fn apply(&self, change: &LiveChange, node: &mut Node) -> Result<(), String> {
        match change {
            LiveChange::Log { format, filter } => {
                let mut wanted = self.in_force.clone();
                wanted.log_format = *format;
                wanted.log_filter = filter.clone();
                let directives = log_filter(&wanted);
                if filter.is_some() && Some(&directives) != filter.as_ref() {
                    warn!(rust_log = %directives, "RUST_LOG is set and overrides the file's log_filter");
                }
                self.logs.set_filter(&directives).map_err(|e| e.to_string())?;
                self.logs.set_format(*format);
                Ok(())
            }
            LiveChange::Metrics(addr) => {
                let bound = node.set_metrics(*addr).await.map_err(|e| e.to_string())?;
                match bound {
                    Some(bound) => info!(metrics = %bound, "serving metrics at the new address"),
                    None => info!("metrics endpoint closed"),
                }
                Ok(())
            }
            LiveChange::Parent(addr) => {
                node.set_parent_addr(*addr).map_err(|e| e.to_string())?;
                match addr {
                    Some(addr) => info!(parent = %addr, "the parent is dialed at the new address from the next dial"),
                    None => info!("the parent is dialed at its topology address from the next dial"),
                }
                Ok(())
            }
        }
    }
}

/// What SIGHUP does with or without a config file: takes a renewed
/// certificate in the node's certificate files (`liandong certs renew`).
pub(super) async fn check_certificate(node: &Node) {
    match node.check_certificate().await {
        Ok(CertificateCheck::Unchanged) => {}
        Ok(CertificateCheck::Renewed { serial, not_after }) => {
            info!(%serial, %not_after, "the renewed certificate is in force")
        }
        Err(e) => error!(error = %e, "the certificate files were not taken: the certificate in force stays"),
    }
}

fn list(fields: &[&str]) -> String {
    if fields.is_empty() {
        "none".to_owned()
    } else {
        fields.join(", ")
    }
}
