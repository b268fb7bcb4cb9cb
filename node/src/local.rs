//! A whole federation in one process: every node of a topology as a real
//! [`Node`] (real QUIC on its loopback address, real TLS with certificates
//! generated here, a real SQLite file each). For `liandong demo`, the
//! relay benchmark, and tests that need many nodes without many processes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use liandong_certs::time::OffsetDateTime;
use liandong_certs::{Role, Validity, init_federation};
use liandong_dispatch::CoreConfig;
use liandong_topology::{NodeId, Topology};

use crate::gateway::GatewayConfig;
use crate::runtime::{Node, NodeConfig, NodeError};
use liandong_control::proto::Operator;

/// How long the certificates [`LocalFederation::prepare`] issues last.
pub const LOCAL_VALIDITY_DAYS: u32 = 365;

/// The nodes of one topology, run side by side.
pub struct LocalFederation {
    dir: PathBuf,
    topology: Arc<Topology>,
    certs: PathBuf,
    core: CoreConfig,
    nodes: BTreeMap<NodeId, Node>,
    /// Nodes that serve a gateway, every time they start.
    gateways: BTreeMap<NodeId, GatewayConfig>,
}

impl LocalFederation {
    /// Writes `topology.toml` and a fresh certificate directory (`certs/`)
    /// into `dir`; node data goes to `dir/data/<id>/`. Nothing runs yet.
    pub fn prepare(dir: &Path, topology: Topology) -> Result<LocalFederation, NodeError> {
        let certs = dir.join("certs");
        std::fs::create_dir_all(dir).map_err(|source| NodeError::DataDir {
            path: dir.to_path_buf(),
            source,
        })?;
        let _ = std::fs::write(dir.join("topology.toml"), topology.to_toml());
        let nodes: Vec<(NodeId, String)> = topology.nodes().map(|n| (n.id.clone(), n.name.clone())).collect();
        // A year: well clear of the renewal warning (`RENEW_WITHIN_DAYS`).
        let validity = Validity::days_from(OffsetDateTime::now_utc(), LOCAL_VALIDITY_DAYS);
        init_federation(&certs, topology.name(), &nodes, validity, &|_| {})
            .map_err(|e| NodeError::Certs(e.to_string()))?;
        Ok(LocalFederation {
            dir: dir.to_path_buf(),
            topology: Arc::new(topology),
            certs,
            core: CoreConfig::default(),
            nodes: BTreeMap::new(),
            gateways: BTreeMap::new(),
        })
    }

    /// `id` serves a gateway as `config` says, from its next start on
    /// (restarts included).
    pub fn set_gateway(&mut self, id: &NodeId, config: GatewayConfig) {
        self.gateways.insert(id.clone(), config);
    }

    /// Core settings for nodes started from now on.
    pub fn set_core_config(&mut self, core: CoreConfig) {
        self.core = core;
    }

    pub fn topology(&self) -> &Arc<Topology> {
        &self.topology
    }

    pub fn certs(&self) -> &Path {
        &self.certs
    }

    pub fn data_dir(&self, id: &NodeId) -> PathBuf {
        self.dir.join("data").join(id.as_str())
    }

    /// Starts one node (restarting it from its store if it ran before).
    pub async fn start(&mut self, id: &NodeId) -> Result<(), NodeError> {
        self.start_with(id, |_| {}).await
    }

    /// Starts one node with its configuration adjusted by `tweak` (a
    /// store size cap for a disk-full drill, a metrics port, ...).
    pub async fn start_with(&mut self, id: &NodeId, tweak: impl FnOnce(&mut NodeConfig)) -> Result<(), NodeError> {
        let mut config = NodeConfig::new(self.topology.clone(), id.clone(), &self.certs, &self.data_dir(id), None)?;
        config.core = self.core.clone();
        config.gateway = self.gateways.get(id).cloned();
        tweak(&mut config);
        let node = Node::start(config).await?;
        self.nodes.insert(id.clone(), node);
        Ok(())
    }

    /// Starts every node, top down (parents are listening before children dial).
    pub async fn start_all(&mut self) -> Result<(), NodeError> {
        let ids: Vec<NodeId> = self.topology.nodes().map(|n| n.id.clone()).collect();
        for id in ids {
            if !self.nodes.contains_key(&id) {
                self.start(&id).await?;
            }
        }
        Ok(())
    }

    pub fn node(&self, id: &NodeId) -> Option<&Node> {
        self.nodes.get(id)
    }

    pub fn running(&self) -> impl Iterator<Item = &NodeId> {
        self.nodes.keys()
    }

    /// Stops one node gracefully.
    pub async fn stop(&mut self, id: &NodeId) {
        if let Some(node) = self.nodes.remove(id) {
            node.shutdown().await;
        }
    }

    /// Stops one node as a crash would.
    pub fn crash(&mut self, id: &NodeId) {
        if let Some(node) = self.nodes.remove(id) {
            node.abort();
        }
    }

    /// Stops every node gracefully.
    pub async fn shutdown(mut self) {
        let ids: Vec<NodeId> = self.nodes.keys().cloned().collect();
        for id in ids.iter().rev() {
            self.stop(id).await;
        }
    }
}

/// An operator identity for in-process calls ([`Node::call`]).
pub fn operator(node: &NodeId, name: &str, role: Role) -> Operator {
    Operator {
        node: node.clone(),
        name: name.into(),
        role,
    }
}
