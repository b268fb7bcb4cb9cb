//! Renewing this node's certificate while it runs (`liandong certs request
//! --renew`, the CA's `certs sign`, `liandong certs renew`, then a reload):
//! the certificate and key files are read again and checked (issued by the
//! federation's CA, in date, not revoked, naming this very node, the key
//! the one certified), and the driver puts them in force with no restart:
//! the transport and the control port present the new certificate from
//! their next handshake, the core signs with the new key and offers the
//! new certificate to every neighbour up, and the certificate is kept in
//! the store beside the old ones, so what this node signed before still
//! checks here and at any node that asks, after restarts too. The
//! status, the expiry gauge and the renewal warning follow the new one.
//!
//! Nothing here writes a file; a renewal that does not check changes
//! nothing and says why.

use liandong_certs::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use liandong_certs::{Identity, Usage, Verifier, ed25519_public_key, load_certificates, load_private_key};
use liandong_dispatch::{Ed25519Signer, Timestamp};
use liandong_topology::NodeId;
use tokio::sync::oneshot;
use tracing::{info, warn};

use super::config::CertPaths;
use super::driver::Driver;

/// A renewed certificate and its key, checked, for the driver to put in
/// force; it answers on `reply`.
pub(super) struct Renewal {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    /// The new certificate's serial and expiry, for logs.
    pub serial: String,
    pub not_after: String,
    pub reply: oneshot::Sender<Result<(), String>>,
}

/// What a look at the certificate files found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateCheck {
    /// The certificate in force is the one in the files.
    Unchanged,
    /// A renewed certificate was put in force.
    Renewed { serial: String, not_after: String },
}

/// A renewed certificate read from the files and checked.
pub(super) struct Read {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    pub serial: String,
    pub not_after: String,
}

/// Reads this node's certificate and key files; `None` if the leaf is
/// `current` (nothing to renew), else the checked chain and key with the
/// serial and expiry, or why they cannot be used (each naming the file).
pub(super) fn read(
    paths: &CertPaths,
    verifier: &Verifier,
    me: &NodeId,
    current: &[u8],
) -> Result<Option<Read>, String> {
    let cert = paths.cert.display();
    let chain = load_certificates(&paths.cert).map_err(|e| e.to_string())?;
    let Some(leaf) = chain.first() else {
        return Err(format!("{cert}: no certificate"));
    };
    if leaf.as_ref() == current {
        return Ok(None);
    }
    let peer = verifier
        .verify(&chain, UnixTime::now(), Usage::Client)
        .map_err(|e| format!("{cert}: {e}"))?;
    if peer.identity != Identity::Node(me.clone()) {
        return Err(format!(
            "{cert} is the certificate of {}, not of node {me}",
            peer.identity
        ));
    }
    let key = load_private_key(&paths.key).map_err(|e| e.to_string())?;
    let signer = Ed25519Signer::from_pkcs8(key.secret_der()).map_err(|e| format!("{}: {e}", paths.key.display()))?;
    let certified = ed25519_public_key(leaf).map_err(|e| format!("{cert}: {e}"))?;
    if signer.public_key() != certified {
        return Err(format!(
            "{} is not the key {cert} certifies (put the renewed key and certificate in place together: \
             liandong certs renew)",
            paths.key.display()
        ));
    }
    let not_after = liandong_certs::rfc3339(peer.not_after);
    Ok(Some(Read {
        chain,
        key,
        serial: peer.serial.to_string(),
        not_after,
    }))
}

impl Driver {
    /// Puts a renewed certificate in force (see the module doc), within a
    /// turn.
    pub(super) async fn renew(&mut self, renewal: Renewal, now: Timestamp) {
        let Renewal {
            chain,
            key,
            serial,
            not_after,
            reply,
        } = renewal;
        let result = self.put_in_force(chain, key, now).await;
        match &result {
            Ok(()) => {
                info!(%serial, %not_after, "certificate renewed: presented from the next handshake, offered to the neighbours")
            }
            Err(e) => warn!(%serial, error = %e, "certificate not renewed: the old one stays in force"),
        }
        let _ = reply.send(result);
    }

    async fn put_in_force(
        &mut self,
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        now: Timestamp,
    ) -> Result<(), String> {
        let leaf = chain.first().map(|c| c.as_ref().to_vec()).unwrap_or_default();
        let signer = Ed25519Signer::from_pkcs8(key.secret_der()).map_err(|e| e.to_string())?;
        let public = signer.public_key();
        let me = self.core.id().clone();
        let (serial, _) = super::keys::check_certificate(&self.storage.verifier(), &me, &leaf)?;
        // Kept first: if the store cannot keep it, nothing changes, and
        // nothing signed with the new key could go unverifiable later.
        self.storage
            .durable()
            .keep_certificates(&me, &[(serial, leaf.clone())], now)
            .await
            .map_err(|e| format!("the store cannot keep the new certificate: {e}"))?;
        self.transport
            .set_identity(chain.clone(), key.clone_key())
            .map_err(|e| e.to_string())?;
        self.control
            .set_identity(chain.clone(), key.clone_key())
            .map_err(|e| e.to_string())?;
        if let Some(leaf) = chain.first() {
            self.set_own_certificate(leaf);
        }
        self.storage.renew(chain, key, public.clone());
        self.keys.set_own(leaf.clone());
        // Its effects (the offers to the neighbours, an audit line) go
        // with the turn's.
        self.core.renew_signer(Box::new(signer), public, leaf, now);
        Ok(())
    }
}
