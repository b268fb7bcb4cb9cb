//! [`Settings`]: what `liandong node run` was told, from its flags, its
//! config file, or both (a flag overrides the file's value). The flags and
//! the file meet here, so `node run --config FILE` and the equivalent
//! flags make the same [`NodeConfig`]. [`Settings::changes`] says what a
//! reloaded file changes: what applies while the node runs
//! ([`LiveChange`]), what waits for a restart.
//!
//! Nothing here reads a file (the topology comes in loaded), binds a
//! socket or touches the running node: applying a change is the caller's.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use liandong_topology::{NodeId, Topology};

use super::{NodeConfig, NodeError};
use crate::observe::LogFormat;

/// The log filter when neither `log_filter` nor `RUST_LOG` gives one.
pub const DEFAULT_LOG_FILTER: &str = "info";

/// How a node is to run, before the topology is read. Paths are as they
/// will be opened (a config file's relative paths are already resolved
/// against its directory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// This center's id (division code).
    pub id: NodeId,
    /// Node links; `None`: the topology's address for this node.
    pub listen: Option<SocketAddr>,
    /// The parent's address; `None`: the topology's address for the parent
    /// (and none at all for the top center).
    pub parent: Option<SocketAddr>,
    /// The data directory (the SQLite store, `control.addr`).
    pub data: PathBuf,
    /// A PostgreSQL URL; `None`: SQLite in `data`.
    pub store: Option<String>,
    /// The control API; `None`: loopback at the link port + 1000.
    pub control: Option<SocketAddr>,
    /// The Prometheus endpoint; `None`: off.
    pub metrics: Option<SocketAddr>,
    pub log_format: LogFormat,
    /// `tracing` filter directives (`info`, `info,liandong_node=debug`);
    /// `None`: `RUST_LOG`, else [`DEFAULT_LOG_FILTER`].
    pub log_filter: Option<String>,
    /// This node's certificate directory (`node.pem`, `node.key`,
    /// `ca.pem`), or the federation's.
    pub certs: PathBuf,
    /// The topology file, for a federation run without a signed document.
    pub topology: Option<PathBuf>,
    /// The signed federation document a new node starts on (its bootstrap
    /// document); a node that holds a newer version in its store runs on
    /// that.
    pub document: Option<PathBuf>,
    /// The gateway for hotlines, apps and member units' systems; `None`: off.
    pub gateway: Option<GatewaySettings>,
}

/// Where the gateway listens and the certificate it presents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewaySettings {
    pub listen: SocketAddr,
    /// Its TLS certificate chain (PEM), for the name its systems dial.
    pub cert: PathBuf,
    /// Its TLS key (PEM, mode 0600).
    pub key: PathBuf,
    /// Largest photo it takes, in bytes.
    pub photo_max: u64,
}

/// One change a reload applies while the node runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveChange {
    /// Serve metrics here from now on (`None`: stop serving them).
    Metrics(Option<SocketAddr>),
    /// Dial the parent here from the next dial on (`None`: at its topology
    /// address).
    Parent(Option<SocketAddr>),
    /// Log lines in this format and through this filter from now on.
    Log { format: LogFormat, filter: Option<String> },
}

impl LiveChange {
    /// The config file's field(s) this change comes from.
    pub fn field(&self) -> &'static str {
        match self {
            LiveChange::Metrics(_) => "metrics",
            LiveChange::Parent(_) => "parent",
            LiveChange::Log { .. } => "log_format/log_filter",
        }
    }
}

/// What a reloaded file changes against the settings in force.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// Applied at once, in this order (the logs' first).
    pub live: Vec<LiveChange>,
    /// Fields that changed but take effect only at the next start
    /// (`id`, `listen`, `data`, `store`, `control`, `certs`, `topology`).
    pub restart: Vec<&'static str>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.live.is_empty() && self.restart.is_empty()
    }
}

impl Settings {
    /// What `new` changes against `self` (the settings in force). A field
    /// a flag overrides never changes: apply the flags to `new` first.
    pub fn changes(&self, new: &Settings) -> Changes {
        let mut changes = Changes::default();
        // Logs first, so what applying the others logs is in the new form.
        if self.log_format != new.log_format || self.log_filter != new.log_filter {
            changes.live.push(LiveChange::Log {
                format: new.log_format,
                filter: new.log_filter.clone(),
            });
        }
        if self.metrics != new.metrics {
            changes.live.push(LiveChange::Metrics(new.metrics));
        }
        if self.parent != new.parent {
            changes.live.push(LiveChange::Parent(new.parent));
        }
        let restart = [
            ("id", self.id != new.id),
            ("listen", self.listen != new.listen),
            ("data", self.data != new.data),
            ("store", self.store != new.store),
            ("control", self.control != new.control),
            ("certs", self.certs != new.certs),
            ("topology", self.topology != new.topology),
            ("document", self.document != new.document),
            ("gateway", self.gateway != new.gateway),
        ];
        changes.restart = restart
            .iter()
            .filter(|(_, changed)| *changed)
            .map(|(f, _)| *f)
            .collect();
        changes
    }

    /// Takes `change` as in force (after the caller applied it).
    pub fn adopt(&mut self, change: &LiveChange) {
        match change {
            LiveChange::Metrics(addr) => self.metrics = *addr,
            LiveChange::Parent(addr) => self.parent = *addr,
            LiveChange::Log { format, filter } => {
                self.log_format = *format;
                self.log_filter = filter.clone();
            }
        }
    }

    /// The node's configuration over `topology`: links on `listen` (else
    /// the topology's address), control on `control` (else next to the
    /// link port), the store, metrics, and the parent's address when it
    /// differs from the topology's.
    pub fn node_config(&self, topology: Arc<Topology>) -> Result<NodeConfig, NodeError> {
        let has_parent = topology
            .get(&self.id)
            .ok_or_else(|| NodeError::UnknownNode(self.id.clone()))?
            .parent
            .is_some();
        if let (false, Some(addr)) = (has_parent, self.parent) {
            return Err(NodeError::TopHasNoParent {
                id: self.id.clone(),
                addr,
            });
        }
        let mut config = NodeConfig::new(
            topology,
            self.id.clone(),
            &self.certs,
            &self.data,
            self.store.as_deref(),
        )?;
        if let Some(listen) = self.listen {
            config.listen = listen;
            config.control = super::default_control_addr(listen);
        }
        if let Some(control) = self.control {
            config.control = control;
        }
        config.metrics = self.metrics;
        config.parent_addr = self.parent;
        config.gateway = self.gateway.as_ref().map(|g| crate::gateway::GatewayConfig {
            listen: g.listen,
            cert: g.cert.clone(),
            key: g.key.clone(),
            tokens: self.data.join(crate::gateway::tokens::TOKENS_FILE),
            photo_max: g.photo_max,
        });
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            id: NodeId::parse("350102").unwrap(),
            listen: Some("127.0.0.1:7101".parse().unwrap()),
            parent: Some("127.0.0.1:7100".parse().unwrap()),
            data: "/var/lib/liandong".into(),
            store: None,
            control: None,
            metrics: None,
            log_format: LogFormat::Human,
            log_filter: None,
            certs: "/etc/liandong/certs".into(),
            topology: Some("/etc/liandong/topology.toml".into()),
            document: None,
            gateway: None,
        }
    }

    #[test]
    fn the_same_settings_change_nothing() {
        assert!(settings().changes(&settings()).is_empty());
    }

    #[test]
    fn metrics_parent_and_logs_change_live_the_rest_at_restart() {
        let old = settings();
        let mut new = settings();
        new.metrics = Some("127.0.0.1:9100".parse().unwrap());
        new.parent = None;
        new.log_format = LogFormat::Json;
        new.listen = Some("127.0.0.1:7201".parse().unwrap());
        new.store = Some("postgres://liandong@127.0.0.1/liandong".into());
        let changes = old.changes(&new);
        assert_eq!(
            changes.live,
            vec![
                LiveChange::Log {
                    format: LogFormat::Json,
                    filter: None
                },
                LiveChange::Metrics(new.metrics),
                LiveChange::Parent(None),
            ]
        );
        assert_eq!(changes.restart, vec!["listen", "store"]);

        let mut in_force = old.clone();
        for change in &changes.live {
            in_force.adopt(change);
        }
        assert_eq!(in_force.changes(&new).live, vec![], "adopted changes are in force");
        assert_eq!(
            in_force.changes(&new).restart,
            vec!["listen", "store"],
            "restarts stay owed"
        );
    }

    #[test]
    fn a_log_filter_alone_is_a_log_change() {
        let mut new = settings();
        new.log_filter = Some("debug".into());
        assert_eq!(
            settings().changes(&new).live,
            vec![LiveChange::Log {
                format: LogFormat::Human,
                filter: Some("debug".into())
            }]
        );
    }
}
