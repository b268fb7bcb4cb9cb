//! Who this node is and whom it believes: its own certificate chain and
//! key (for TLS and, as an Ed25519 signer, for the envelopes it
//! originates), the CA verifier with the reloadable revocation list, and
//! the public keys of other nodes that the core checks origin signatures
//! with.
//!
//! The core owns its keys in memory and never reads a file for them. At
//! start the node reads the CA-checked certificates of its own branch
//! (ancestors and subtree) into the [`Ed25519Keyring`] each core begins
//! with. Any other origin (a coordination room carries what an invited
//! unit of another county said; a node added to the federation later)
//! the core asks for with `Effect::NeedKey`; the [`KeyLoader`] reads that
//! node's certificate on a blocking thread, off the core's path, and the
//! driver hands the key back. The one place a certificate file is read
//! for a key is [`read_node_key`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use liandong_certs::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use liandong_certs::{
    Identity, RevocationList, Revocations, Usage, Verifier, ed25519_public_key, load_ca_certificate, load_certificates,
    load_private_key,
};
use liandong_control::clock;
use liandong_dispatch::{Core, CoreConfig, Ed25519Keyring, Ed25519Signer, Timestamp};
use liandong_topology::{NodeId, Topology};
use tokio::sync::mpsc;
use tracing::warn;

use super::config::{CertPaths, NodeError};

/// This node's certificate and key, the CA verifier, and the public keys of
/// the nodes whose envelopes it may receive.
pub(super) struct Credentials {
    /// The federation CA and the revocation list in force (shared with
    /// the transport and the control server, reloaded in place).
    pub verifier: Arc<Verifier>,
    /// This node's certificate chain, leaf first: presented on links and
    /// on the control port.
    pub chain: Vec<CertificateDer<'static>>,
    /// This node's private key: TLS, and the signer of what it originates.
    pub key: PrivateKeyDer<'static>,
    /// Where other nodes' certificates are (`<dir>/<id>/node.pem`).
    pub peers: PathBuf,
    /// The keys a new core checks origins with: this node's branch, read
    /// at start, and every key loaded since.
    keyring: Ed25519Keyring,
}

impl Credentials {
    pub fn load(paths: &CertPaths, topology: &Arc<Topology>, me: &NodeId) -> Result<Credentials, NodeError> {
        let certs = |e: liandong_certs::CertError| NodeError::Certs(e.to_string());
        let list = match &paths.revoked {
            Some(p) => RevocationList::load(p).map_err(|e| NodeError::Certs(e.to_string()))?,
            None => RevocationList::new(),
        };
        let ca = load_ca_certificate(&paths.ca).map_err(certs)?;
        let verifier =
            Arc::new(Verifier::new(ca, Revocations::new(list)).map_err(|e| NodeError::Certs(e.to_string()))?);
        let chain = load_certificates(&paths.cert).map_err(certs)?;
        let key = load_private_key(&paths.key).map_err(certs)?;
        let own = verifier
            .verify(&chain, UnixTime::now(), Usage::Client)
            .map_err(|e| NodeError::Certs(format!("{}: {e}", paths.cert.display())))?;
        if own.identity != Identity::Node(me.clone()) {
            return Err(NodeError::Certs(format!(
                "{} is the certificate of {}, not of node {me}",
                paths.cert.display(),
                own.identity
            )));
        }
        let keyring = branch_keys(&paths.peers, topology, me, &verifier, &chain);
        Ok(Credentials {
            verifier,
            chain,
            key,
            peers: paths.peers.clone(),
            keyring,
        })
    }

    /// Keeps a loaded key for the cores built from now on (after a failed
    /// commit the core is rebuilt; it should not ask again).
    pub fn keep_key(&mut self, node: NodeId, key: Vec<u8>) {
        self.keyring.insert(node, key);
    }

    fn signer(&self) -> Result<Ed25519Signer, NodeError> {
        Ed25519Signer::from_pkcs8(self.key.secret_der()).map_err(|e| NodeError::Certs(format!("node key: {e}")))
    }

    /// A core restored from `store`, signing with this node's key and
    /// checking origins with its keyring.
    pub fn core(
        &self,
        topology: &Arc<Topology>,
        me: &NodeId,
        config: &CoreConfig,
        store: liandong_dispatch::Store,
        now: Timestamp,
    ) -> Result<Core, NodeError> {
        Core::restore(
            topology.clone(),
            me.clone(),
            config.clone(),
            Box::new(self.signer()?),
            Box::new(self.keyring.clone()),
            os_seed(),
            store,
            now,
        )
        .map_err(|_| NodeError::UnknownNode(me.clone()))
    }
}

/// A fresh seed for the core's ids and jitter.
fn os_seed() -> u64 {
    use ring::rand::{SecureRandom, SystemRandom};
    let mut bytes = [0u8; 8];
    // SystemRandom only fails when the OS has no randomness at all.
    if SystemRandom::new().fill(&mut bytes).is_err() {
        return clock::now().0 ^ u64::from(std::process::id());
    }
    u64::from_le_bytes(bytes)
}

/// The keys of this node's branch (its ancestors and subtree) from their
/// CA-verified certificates in `dir`, and its own. A related node whose
/// certificate is missing or invalid is left out (warned once): the core
/// asks for it when one of its envelopes arrives.
fn branch_keys(
    dir: &Path,
    topology: &Topology,
    me: &NodeId,
    verifier: &Verifier,
    own: &[CertificateDer],
) -> Ed25519Keyring {
    let mut keys = Ed25519Keyring::default();
    if let Some(leaf) = own.first()
        && let Ok(k) = ed25519_public_key(leaf)
    {
        keys.insert(me.clone(), k);
    }
    let mut missing = Vec::new();
    let related = topology
        .ancestors(me)
        .map(|n| n.id.clone())
        .chain(topology.subtree(me, None).map(|n| n.id.clone()))
        .filter(|id| id != me);
    for id in related {
        match read_node_key(dir, verifier, &id) {
            Ok(k) => keys.insert(id, k),
            Err(_) => missing.push(id),
        }
    }
    if !missing.is_empty() {
        warn!(
            count = missing.len(),
            first = %missing[0],
            dir = %dir.display(),
            "no valid certificate for some related nodes: they are read again when their envelopes arrive"
        );
    }
    keys
}

/// A key the [`KeyLoader`] read (or why it could not).
pub(super) struct LoadedKey {
    pub node: NodeId,
    pub key: Result<Vec<u8>, String>,
}

/// Reads the certificates of nodes the core asked keys for, each on a
/// blocking thread, and sends each result to the driver. It keeps no
/// state of its own: the core asks for a node's key at most once per
/// half minute.
pub(super) struct KeyLoader {
    dir: PathBuf,
    verifier: Arc<Verifier>,
    done: mpsc::Sender<LoadedKey>,
}

/// Key reads in flight or unreceived at most: each is one node's
/// certificate, asked at most once per half minute.
pub(super) const KEY_QUEUE: usize = 256;

impl KeyLoader {
    pub fn new(dir: PathBuf, verifier: Arc<Verifier>, done: mpsc::Sender<LoadedKey>) -> KeyLoader {
        KeyLoader { dir, verifier, done }
    }

    /// Starts reading `node`'s certificate.
    pub fn load(&self, node: NodeId) {
        let (dir, verifier, done) = (self.dir.clone(), self.verifier.clone(), self.done.clone());
        tokio::task::spawn_blocking(move || {
            let key = read_node_key(&dir, &verifier, &node);
            // The driver is gone only when the node stops.
            let _ = done.blocking_send(LoadedKey { node, key });
        });
    }
}

/// Reads node `id`'s certificate in `dir` (`<dir>/<id>/node.pem`), checks
/// it against the CA (chain, validity dates, revocation list in force) and
/// that the CA issued it to that very node, and returns the Ed25519 public
/// key in it, or why not. Runs at start and on the [`KeyLoader`]'s
/// threads, never on the core's path; it reads no other state and keeps
/// none.
pub(super) fn read_node_key(dir: &Path, verifier: &Verifier, id: &NodeId) -> Result<Vec<u8>, String> {
    let path = dir.join(id.as_str()).join("node.pem");
    let chain = load_certificates(&path).map_err(|e| e.to_string())?;
    let peer = verifier
        .verify(&chain, UnixTime::now(), Usage::Client)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if peer.identity != Identity::Node(id.clone()) {
        return Err(format!(
            "{} is the certificate of {}, not of node {id}",
            path.display(),
            peer.identity
        ));
    }
    ed25519_public_key(&chain[0]).map_err(|e| format!("{}: {e}", path.display()))
}
