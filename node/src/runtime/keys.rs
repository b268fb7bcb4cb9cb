//! Who this node is and whom it believes: its own certificate chain and
//! key (for TLS and, as an Ed25519 signer, for the envelopes it
//! originates), the CA verifier with the reloadable revocation list, and
//! the keyring of other nodes' public keys that checks the origin
//! signature of every envelope the core receives.
//!
//! The core reads the keyring through [`SignatureCheck`]. Keys come from
//! CA-checked certificates only: the node's own branch (ancestors and
//! subtree) at start, any other node of the topology on first need. The
//! one place a certificate file is read for that is [`read_node_key`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use liandong_certs::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use liandong_certs::{
    Identity, RevocationList, Revocations, Usage, Verifier, ed25519_public_key, load_ca_certificate, load_certificates,
    load_private_key,
};
use liandong_control::clock;
use liandong_dispatch::sign::{SignatureCheck, SignatureError};
use liandong_dispatch::{Core, CoreConfig, Ed25519Signer, Timestamp};
use liandong_topology::{NodeId, Topology};
use tracing::{info, warn};

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
    /// Other nodes' public keys, as the core checks origin signatures.
    check: Arc<Keyring>,
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
        let check = Arc::new(Keyring::load(&paths.peers, topology, me, &verifier, &chain));
        Ok(Credentials {
            verifier,
            chain,
            key,
            check,
        })
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
            self.check.clone(),
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

/// Public keys of the nodes whose envelopes this node checks, from their
/// CA-verified certificates in the federation directory: its ancestors
/// and subtree at start, and any other node of the topology the first
/// time one of its envelopes arrives (a coordination room carries what
/// an invited unit of another county said; a node added to the
/// federation later). A certificate that cannot be read is tried again
/// after [`KEY_RETRY`], not on every envelope.
struct Keyring {
    keys: RwLock<HashMap<NodeId, Vec<u8>>>,
    dir: PathBuf,
    verifier: Arc<Verifier>,
    topology: Arc<Topology>,
    /// Ids whose certificate was missing or invalid, and when.
    missing: std::sync::Mutex<HashMap<NodeId, std::time::Instant>>,
}

/// How long a node whose certificate could not be read waits before it
/// is read again.
const KEY_RETRY: Duration = Duration::from_secs(30);

impl Keyring {
    fn load(
        dir: &Path,
        topology: &Arc<Topology>,
        me: &NodeId,
        verifier: &Arc<Verifier>,
        own: &[CertificateDer],
    ) -> Keyring {
        let ring = Keyring {
            keys: RwLock::new(HashMap::new()),
            dir: dir.to_path_buf(),
            verifier: verifier.clone(),
            topology: topology.clone(),
            missing: std::sync::Mutex::new(HashMap::new()),
        };
        let mut keys = HashMap::new();
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
            match ring.read(&id) {
                Some(k) => {
                    keys.insert(id, k);
                }
                None => missing.push(id),
            }
        }
        if !missing.is_empty() {
            warn!(
                count = missing.len(),
                first = %missing[0],
                dir = %dir.display(),
                "no valid certificate for some related nodes: envelopes they originate will be refused"
            );
        }
        *ring.keys.write().unwrap_or_else(|e| e.into_inner()) = keys;
        ring
    }

    /// The public key in `id`'s certificate, if it is there and the CA
    /// issued it to that node.
    fn read(&self, id: &NodeId) -> Option<Vec<u8>> {
        read_node_key(&self.dir, &self.verifier, id).ok()
    }

    /// The key of `origin`, reading its certificate on first need.
    fn key(&self, origin: &NodeId) -> Option<Vec<u8>> {
        if let Some(k) = self.keys.read().unwrap_or_else(|e| e.into_inner()).get(origin) {
            return Some(k.clone());
        }
        // Only nodes of the federation have certificates worth reading.
        self.topology.get(origin)?;
        {
            let missing = self.missing.lock().unwrap_or_else(|e| e.into_inner());
            if missing.get(origin).is_some_and(|at| at.elapsed() < KEY_RETRY) {
                return None;
            }
        }
        match self.read(origin) {
            Some(k) => {
                info!(node = %origin, "read the certificate of a node outside this one's branch");
                self.keys
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(origin.clone(), k.clone());
                Some(k)
            }
            None => {
                warn!(node = %origin, dir = %self.dir.display(), "no valid certificate: its envelopes are refused");
                let mut missing = self.missing.lock().unwrap_or_else(|e| e.into_inner());
                missing.insert(origin.clone(), std::time::Instant::now());
                None
            }
        }
    }
}

impl SignatureCheck for Keyring {
    fn verify(&self, origin: &NodeId, message: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
        use ring::signature::{ED25519, UnparsedPublicKey};
        let key = self
            .key(origin)
            .ok_or_else(|| SignatureError::UnknownOrigin(origin.clone()))?;
        UnparsedPublicKey::new(&ED25519, key)
            .verify(message, signature)
            .map_err(|_| SignatureError::Mismatch(origin.clone()))
    }
}

/// Reads node `id`'s certificate in `dir` (`<dir>/<id>/node.pem`), checks
/// it against the CA (chain, validity dates, revocation list in force) and
/// that the CA issued it to that very node, and returns the Ed25519 public
/// key in it, or why not. The keyring's only file access: it reads no
/// other state and keeps none.
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
