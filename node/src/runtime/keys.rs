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
//! the core asks for with `Effect::NeedKey`; the [`KeyLoader`] finds that
//! node's certificates off the core's path (learned before and kept in
//! the store, or a file of the federation directory), and the driver
//! hands the keys back. Meanwhile the core asked the neighbour that sent
//! the envelope, whose answer (`Effect::KeyOffered`) the loader checks
//! against the CA and keeps; so does the certificate a neighbour presents
//! on its link. A node therefore needs no directory of other nodes'
//! certificates: its own key and certificate, the CA's, and what it
//! learns. The one place a certificate file is read for a key is
//! [`read_node_key`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use liandong_certs::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use liandong_certs::{
    Identity, RevocationList, Revocations, Usage, Verifier, ed25519_public_key, load_ca_certificate, load_certificates,
    load_private_key,
};
use liandong_control::clock;
use liandong_dispatch::{Core, CoreConfig, Ed25519Keyring, Ed25519Signer, Timestamp};

use crate::store::{CERTIFICATES_PER_NODE, Durable};
use liandong_topology::{NodeId, Topology};
use tokio::sync::mpsc;
use tracing::warn;

use super::config::{CertPaths, NodeError};
use super::verify::SharedKeyring;

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
    keyring: SharedKeyring,
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
        let keyring = SharedKeyring::new(branch_keys(&paths.peers, topology, me, &verifier, &chain));
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
    pub fn keep_key(&self, node: NodeId, key: Vec<u8>) {
        self.keyring.insert(node, key);
    }

    /// Adds the keys of the certificates learned before and kept in the
    /// store (`(node, DER)`, each checked again: one revoked since is left
    /// out). Returns how many were added.
    pub fn add_learned(&mut self, kept: Vec<(String, Vec<u8>)>) -> usize {
        let mut added = 0;
        for (node, der) in kept {
            let Ok(node) = NodeId::parse(&node) else { continue };
            match check_certificate(&self.verifier, &node, &der) {
                Ok((_, key)) if !self.keyring.holds(&node, &key) => {
                    self.keyring.insert(node, key);
                    added += 1;
                }
                Ok(_) => {}
                Err(e) => warn!("a kept certificate is no longer valid: {e}"),
            }
        }
        added
    }

    /// Whether `key` is one of `node`'s keys already held.
    pub fn holds_key(&self, node: &NodeId, key: &[u8]) -> bool {
        self.keyring.holds(node, key)
    }

    fn signer(&self) -> Result<Ed25519Signer, NodeError> {
        Ed25519Signer::from_pkcs8(self.key.secret_der()).map_err(|e| NodeError::Certs(format!("node key: {e}")))
    }

    /// The keys the cores check origins with, shared with the verify stage.
    pub fn keyring(&self) -> SharedKeyring {
        self.keyring.clone()
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
        let mut core = Core::restore(
            topology.clone(),
            me.clone(),
            config.clone(),
            Box::new(self.signer()?),
            Box::new(self.keyring.clone()),
            os_seed(),
            store,
            now,
        )
        .map_err(|_| NodeError::UnknownNode(me.clone()))?;
        core.set_documents(Box::new(crate::federation::NodeDocuments::new(self.verifier.clone())));
        Ok(core)
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

/// What the [`KeyLoader`] has for the driver.
pub(super) enum KeyNews {
    /// `node`'s keys (every certificate held of it, newest first), or why
    /// none could be had.
    Loaded {
        node: NodeId,
        keys: Result<Vec<Vec<u8>>, String>,
    },
    /// The certificates of `node` held here (DER, newest first), for the
    /// neighbour `peer` that asked.
    Answer {
        peer: NodeId,
        node: NodeId,
        certificates: Vec<Vec<u8>>,
    },
}

/// Finds, checks and keeps other nodes' certificates off the core's path:
/// the keys the core asks for (from certificates learned before, kept in
/// the store, or a certificate file of the federation directory where a
/// node still has one), certificates a neighbour sent or presented on its
/// link (checked against the CA and the revocation list, then kept), and
/// the answers to neighbours' asks. Each job is its own task; results go
/// to the driver. It keeps no state of its own: the core asks for a
/// node's key at most once per half minute.
pub(super) struct KeyLoader {
    dir: PathBuf,
    verifier: Arc<Verifier>,
    store: Durable,
    me: NodeId,
    /// This node's own certificate (DER), for neighbours that ask for it.
    own: Vec<u8>,
    done: mpsc::Sender<KeyNews>,
}

/// Key jobs in flight or unreceived at most: each is one node's
/// certificates, asked at most once per half minute.
pub(super) const KEY_QUEUE: usize = 256;

impl KeyLoader {
    pub fn new(
        dir: PathBuf,
        verifier: Arc<Verifier>,
        store: Durable,
        me: NodeId,
        own: &[CertificateDer<'static>],
        done: mpsc::Sender<KeyNews>,
    ) -> KeyLoader {
        let own = own.first().map(|c| c.as_ref().to_vec()).unwrap_or_default();
        KeyLoader {
            dir,
            verifier,
            store,
            me,
            own,
            done,
        }
    }

    /// Finds `node`'s keys: the certificates of it kept in the store, and
    /// its file in the federation directory if there is one; each checked.
    pub fn load(&self, node: NodeId) {
        let (dir, verifier, store, done) = (
            self.dir.clone(),
            self.verifier.clone(),
            self.store.clone(),
            self.done.clone(),
        );
        tokio::spawn(async move {
            let mut keys = Vec::new();
            let mut why = Vec::new();
            match store.certificates(&node).await {
                Ok(held) => {
                    for der in held {
                        match check_certificate(&verifier, &node, &der) {
                            Ok((_, key)) => keys.push(key),
                            Err(e) => why.push(e),
                        }
                    }
                }
                Err(e) => why.push(e.to_string()),
            }
            let file = dir.clone();
            let id = node.clone();
            let v = verifier.clone();
            match tokio::task::spawn_blocking(move || read_node_key(&file, &v, &id)).await {
                Ok(Ok(key)) if !keys.contains(&key) => keys.insert(0, key),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => why.push(e),
                Err(e) => why.push(e.to_string()),
            }
            let keys = if keys.is_empty() {
                Err(format!(
                    "no valid certificate of {node} is held here ({}); the neighbour that sent its envelope was asked",
                    why.join("; ")
                ))
            } else {
                Ok(keys)
            };
            // The driver is gone only when the node stops.
            let _ = done.send(KeyNews::Loaded { node, keys }).await;
        });
    }

    /// Certificates of `node` that `from` sent (or presented on its link):
    /// each checked against the CA and the revocation list and issued to
    /// `node`; the good ones are kept and their keys handed to the core.
    pub fn offer(&self, from: NodeId, node: NodeId, certificates: Vec<Vec<u8>>, now: Timestamp) {
        let (verifier, store, done) = (self.verifier.clone(), self.store.clone(), self.done.clone());
        tokio::spawn(async move {
            let mut keep = Vec::new();
            let mut keys = Vec::new();
            for der in certificates.into_iter().take(CERTIFICATES_PER_NODE) {
                match check_certificate(&verifier, &node, &der) {
                    Ok((serial, key)) => {
                        keys.push(key);
                        keep.push((serial, der));
                    }
                    Err(e) => warn!(%from, %node, "a certificate offered is refused: {e}"),
                }
            }
            if keep.is_empty() {
                return;
            }
            if let Err(e) = store.keep_certificates(&node, &keep, now).await {
                warn!(%node, error = %e, "certificates not kept (they are used until the node restarts)");
            }
            let _ = done.send(KeyNews::Loaded { node, keys: Ok(keys) }).await;
        });
    }

    /// This node's certificate from now on (it renewed it).
    pub fn set_own(&mut self, der: Vec<u8>) {
        self.own = der;
    }

    /// What this node holds of `node`'s certificates, for `peer` that
    /// asked; of this node itself, the certificate in force first, then
    /// the older ones kept (what it signed before checks with those).
    pub fn answer(&self, peer: NodeId, node: NodeId) {
        if node == self.me {
            let (own, store, done) = (self.own.clone(), self.store.clone(), self.done.clone());
            tokio::spawn(async move {
                let mut certificates = vec![own];
                for der in store.certificates(&node).await.unwrap_or_default() {
                    if !certificates.contains(&der) && certificates.len() < CERTIFICATES_PER_NODE {
                        certificates.push(der);
                    }
                }
                let _ = done
                    .send(KeyNews::Answer {
                        peer,
                        node,
                        certificates,
                    })
                    .await;
            });
            return;
        }
        let (dir, store, done) = (self.dir.clone(), self.store.clone(), self.done.clone());
        tokio::spawn(async move {
            let mut certificates = store.certificates(&node).await.unwrap_or_default();
            let path = dir.join(node.as_str()).join("node.pem");
            if let Ok(Ok(file)) = tokio::task::spawn_blocking(move || load_certificates(&path)).await
                && let Some(leaf) = file.first()
                && !certificates.iter().any(|c| c.as_slice() == leaf.as_ref())
            {
                certificates.push(leaf.as_ref().to_vec());
            }
            let _ = done
                .send(KeyNews::Answer {
                    peer,
                    node,
                    certificates,
                })
                .await;
        });
    }
}

/// Checks one certificate (DER) of `node`: issued by the CA, in date, not
/// revoked, and naming that very node. Its serial and Ed25519 key, or why
/// not.
pub(super) fn check_certificate(verifier: &Verifier, node: &NodeId, der: &[u8]) -> Result<(Vec<u8>, Vec<u8>), String> {
    let chain = [CertificateDer::from(der.to_vec())];
    let peer = verifier
        .verify(&chain, UnixTime::now(), Usage::Client)
        .map_err(|e| format!("certificate of {node}: {e}"))?;
    if peer.identity != Identity::Node(node.clone()) {
        return Err(format!(
            "a certificate of {}, offered as one of node {node}",
            peer.identity
        ));
    }
    let key = ed25519_public_key(&chain[0]).map_err(|e| format!("certificate of {node}: {e}"))?;
    Ok((peer.serial.as_bytes().to_vec(), key))
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
