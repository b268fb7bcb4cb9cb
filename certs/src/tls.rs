//! rustls configuration for Liandong's mutual TLS: TLS 1.3 only, the ring
//! provider only, ALPN `liandong/1`, client certificates required.
//!
//! Both verifiers delegate to one [`Verifier`], so a node refuses exactly the
//! same certificates whether the peer dialed it or it dialed the peer. A
//! refusal reaches rustls as
//! `Error::InvalidCertificate(CertificateError::Other(OtherError(Arc<VerifyError>)))`,
//! so logs and tests see our message ("revoked since ...", "not issued by this
//! federation's CA ...") rather than a bare "bad certificate".
//!
//! Session resumption is off on both sides: a resumed TLS 1.3 session skips
//! certificate verification, so a peer revoked since its first handshake could
//! otherwise come back on a ticket. Nodes keep long-lived QUIC connections, so
//! a full handshake per connection costs nothing that matters.
//!
//! Dialing a node: pass [`server_name_for`]`(&id)` (`<id>.node.liandong`) as
//! the server name; [`NodeServerVerifier`] reads the id back and refuses a
//! server whose certificate names another node.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, CommonState, DigitallySignedStruct, DistinguishedName, OtherError, SignatureScheme};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

use crate::identity::{Identity, IdentityError, identity_of, node_from_server_name};
use crate::verify::{Usage, Verifier, VerifyError};

#[cfg(doc)]
use crate::identity::server_name_for;

/// The ALPN protocol id of Liandong's QUIC/TLS connections.
pub const ALPN: &[u8] = b"liandong/1";

/// Building a rustls configuration failed (usually: key does not match cert).
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// rustls refused the configuration.
    #[error("cannot build the TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// The ring provider, the only one Liandong uses (aws-lc-rs must never be in
/// the graph next to it: rustls would panic choosing a default).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn refuse(err: VerifyError) -> rustls::Error {
    rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(err))))
}

/// Server side: requires a client certificate and accepts it only if the
/// [`Verifier`] does (nodes and operators alike; which links are allowed is
/// the node runtime's decision, made from the identity afterwards).
#[derive(Debug)]
pub struct ClientVerifier {
    verifier: Arc<Verifier>,
    hints: Vec<DistinguishedName>,
}

impl ClientVerifier {
    /// A client verifier over `verifier`.
    pub fn new(verifier: Arc<Verifier>) -> ClientVerifier {
        let hints = vec![verifier.root_hint()];
        ClientVerifier { verifier, hints }
    }
}

impl ClientCertVerifier for ClientVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.verifier
            .verify_parts(end_entity, intermediates, now, Usage::Client)
            .map_err(refuse)?;
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, self.verifier.algorithms())
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, self.verifier.algorithms())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.verifier.algorithms().supported_schemes()
    }
}

/// Client side, for a node dialing a node: accepts the server only if the
/// [`Verifier`] does and its certificate names the node encoded in the server
/// name (`<id>.node.liandong`).
#[derive(Debug)]
pub struct NodeServerVerifier {
    verifier: Arc<Verifier>,
}

impl NodeServerVerifier {
    /// A server verifier over `verifier`.
    pub fn new(verifier: Arc<Verifier>) -> NodeServerVerifier {
        NodeServerVerifier { verifier }
    }
}

impl ServerCertVerifier for NodeServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let expected = node_from_server_name(server_name).map_err(|e| refuse(e.into()))?;
        let peer = self
            .verifier
            .verify_parts(end_entity, intermediates, now, Usage::Server)
            .map_err(refuse)?;
        if peer.identity != Identity::Node(expected.clone()) {
            return Err(refuse(VerifyError::WrongPeer {
                expected,
                presented: peer.identity,
                serial: peer.serial,
            }));
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, self.verifier.algorithms())
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, self.verifier.algorithms())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.verifier.algorithms().supported_schemes()
    }
}

/// A server configuration for a node: TLS 1.3, ring, ALPN [`ALPN`], client
/// certificates required and checked by `verifier`, no session resumption; presents `cert_chain`
/// (leaf first) with `key`. The verifier carries the CA and the shared
/// revocation list.
pub fn server_config(
    verifier: Arc<Verifier>,
    cert_chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(Arc::new(ClientVerifier::new(verifier)))
        .with_single_cert(cert_chain, key)?;
    config.alpn_protocols = vec![ALPN.to_vec()];
    config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
    Ok(Arc::new(config))
}

/// A client configuration for a node (or an operator's console) dialing a
/// node: TLS 1.3, ring, ALPN [`ALPN`], the server checked by
/// [`NodeServerVerifier`], no session resumption, presenting `cert_chain` with `key`. Dial with
/// [`server_name_for`] as the server name.
pub fn client_config(
    verifier: Arc<Verifier>,
    cert_chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(NodeServerVerifier::new(verifier)))
        .with_client_auth_cert(cert_chain, key)?;
    config.alpn_protocols = vec![ALPN.to_vec()];
    config.resumption = rustls::client::Resumption::disabled();
    Ok(Arc::new(config))
}

/// Our reason inside a rustls error produced by [`ClientVerifier`] or
/// [`NodeServerVerifier`], if that is what `err` is.
pub fn refusal_reason(err: &rustls::Error) -> Option<&VerifyError> {
    match err {
        rustls::Error::InvalidCertificate(CertificateError::Other(other)) => other.0.downcast_ref::<VerifyError>(),
        _ => None,
    }
}

/// The identity of the peer of an established connection (client or server
/// side), read from the certificate it presented. The verifiers above already
/// refused anything without one; this is for the application to learn who.
pub fn peer_identity(conn: &CommonState) -> Result<Identity, IdentityError> {
    peer_identity_of(conn.peer_certificates().unwrap_or_default())
}

/// Like [`peer_identity`] for a peer chain obtained elsewhere (e.g. quinn's
/// `Connection::peer_identity`, which holds a `Vec<CertificateDer>`).
pub fn peer_identity_of(chain: &[CertificateDer<'_>]) -> Result<Identity, IdentityError> {
    let leaf = chain.first().ok_or(IdentityError::NoCertificate)?;
    identity_of(leaf)
}
