//! What a node needs to run, and why it could not: [`NodeConfig`] (the
//! topology, the node's id, where its certificates, data and database
//! are, the addresses it binds), [`CertPaths`] (which files in a
//! certificate directory are this node's), the default control address
//! next to the link port, and [`NodeError`].
//!
//! A machine's node is usually described by one config file, `node.toml`
//! (written by `liandong node init`, run by `liandong node run --config`):
//! the submodules read it ([`file`]: the format, every field documented
//! there), write it ([`template`]), and turn it, or the equivalent flags,
//! into a [`NodeConfig`] and into the changes a reload applies
//! ([`settings`]).
//!
//! Nothing here opens a socket or a database: a config is only checked
//! against the topology and the files that say where things are.

pub mod file;
pub mod settings;
pub mod template;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use liandong_certs::CaDir;
use liandong_dispatch::CoreConfig;
use liandong_topology::{NodeId, Topology};

use crate::store::{StoreLocation, StoreOptions};

/// Why a node could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("node {0} is not in the topology")]
    UnknownNode(NodeId),
    #[error("certificates: {0}")]
    Certs(String),
    #[error("{0}")]
    Gateway(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Transport(#[from] crate::transport::TransportError),
    #[error(transparent)]
    Control(#[from] liandong_control::ControlError),
    #[error("metrics endpoint on {addr}: {source}")]
    Metrics { addr: SocketAddr, source: std::io::Error },
    #[error("cannot create the data directory {path}: {source}")]
    DataDir { path: PathBuf, source: std::io::Error },
    #[error(
        "node {id} is the top center in the topology, yet a parent address ({addr}) is given: leave `parent` empty"
    )]
    TopHasNoParent { id: NodeId, addr: SocketAddr },
}

/// Where a node's certificate material is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertPaths {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: PathBuf,
    /// The revocation list, reloaded when it changes; none means nothing
    /// is revoked.
    pub revoked: Option<PathBuf>,
    /// Where other nodes' certificates are (`<dir>/<id>/node.pem`): their
    /// public keys check the origin signatures of what they send.
    pub peers: PathBuf,
}

impl CertPaths {
    /// Finds node `id`'s files in `dir`, which is either the federation's
    /// certificate directory (`nodes/<id>/node.pem`, `ca.pem`,
    /// `revoked.toml`; `ca.key` need not be there, and should not be on a
    /// center's machine) or one node's own directory (`node.pem`,
    /// `node.key`, `ca.pem`, optional `revoked.toml`, other nodes'
    /// certificates in the sibling directories).
    pub fn locate(dir: &Path, id: &NodeId) -> Result<CertPaths, NodeError> {
        let fed = CaDir::new(dir);
        if fed.node_cert(id).is_file() {
            let revoked = fed.revocations();
            return Ok(CertPaths {
                cert: fed.node_cert(id),
                key: fed.node_key(id),
                ca: fed.ca_cert(),
                revoked: revoked.is_file().then_some(revoked),
                peers: dir.join("nodes"),
            });
        }
        let own = dir.join("node.pem");
        if own.is_file() {
            let revoked = dir.join("revoked.toml");
            let up = dir.parent().unwrap_or(dir);
            let fed_revoked = up.parent().map(|p| p.join("revoked.toml"));
            return Ok(CertPaths {
                cert: own,
                key: dir.join("node.key"),
                ca: dir.join("ca.pem"),
                revoked: if revoked.is_file() {
                    Some(revoked)
                } else {
                    fed_revoked.filter(|p| p.is_file())
                },
                peers: up.to_path_buf(),
            });
        }
        Err(NodeError::Certs(format!(
            "no certificate for node {id} in {}: expected {} (a federation directory) or {} (a node directory)",
            dir.display(),
            fed.node_cert(id).display(),
            own.display()
        )))
    }
}

/// Everything a node needs to run.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    pub topology: Arc<Topology>,
    pub id: NodeId,
    pub certs: CertPaths,
    pub data_dir: PathBuf,
    pub store: StoreLocation,
    pub store_options: StoreOptions,
    /// Node links; normally the topology's address for this node.
    pub listen: SocketAddr,
    /// The control API (operators' console and CLI).
    pub control: SocketAddr,
    /// The Prometheus endpoint, if wanted.
    pub metrics: Option<SocketAddr>,
    /// Where to dial the parent instead of its topology address (the
    /// config file's `parent`); none: the topology's.
    pub parent_addr: Option<SocketAddr>,
    pub core: CoreConfig,
    /// The signed federation document this node is started on (its
    /// bootstrap document: `topology` is the one it describes), taken in
    /// at start unless the store holds that version or a newer one.
    pub document: Option<liandong_dispatch::Document>,
    /// The gateway (HTTPS for hotlines, apps and member units' systems),
    /// off when none.
    pub gateway: Option<crate::gateway::GatewayConfig>,
}

/// The control port a node uses when none is given: the link port plus
/// this, on loopback (operators sit at the center's own machine).
pub const CONTROL_PORT_OFFSET: u16 = 1000;

impl NodeConfig {
    /// The usual configuration: links on the topology's address, control
    /// on loopback at the link port + 1000, SQLite in `data_dir` unless
    /// `database` is a PostgreSQL URL.
    pub fn new(
        topology: Arc<Topology>,
        id: NodeId,
        certs_dir: &Path,
        data_dir: &Path,
        database: Option<&str>,
    ) -> Result<NodeConfig, NodeError> {
        let ix = topology.ix(&id).ok_or_else(|| NodeError::UnknownNode(id.clone()))?;
        let listen = topology.node(ix).listen;
        let control = default_control_addr(listen);
        Ok(NodeConfig {
            certs: CertPaths::locate(certs_dir, &id)?,
            store: StoreLocation::choose(database, data_dir)?,
            store_options: StoreOptions::default(),
            data_dir: data_dir.to_path_buf(),
            listen,
            control,
            metrics: None,
            parent_addr: None,
            core: CoreConfig::default(),
            document: None,
            gateway: None,
            topology,
            id,
        })
    }
}

/// The link port + 1000, on loopback: on the link address itself when that
/// is a loopback address (several federations on one machine, as in tests),
/// else on 127.0.0.1 (operators sit at the center's own machine).
pub fn default_control_addr(listen: SocketAddr) -> SocketAddr {
    let port = listen
        .port()
        .checked_add(CONTROL_PORT_OFFSET)
        .unwrap_or(listen.port() % 1000 + 1024);
    let ip = if listen.ip().is_loopback() {
        listen.ip()
    } else {
        std::net::Ipv4Addr::LOCALHOST.into()
    };
    SocketAddr::new(ip, port)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_port_defaults_next_to_the_link_port_on_loopback() {
        assert_eq!(
            default_control_addr("10.1.2.3:7100".parse().unwrap()),
            "127.0.0.1:8100".parse().unwrap()
        );
        assert_eq!(
            default_control_addr("127.0.11.1:7105".parse().unwrap()),
            "127.0.11.1:8105".parse().unwrap()
        );
    }
}
