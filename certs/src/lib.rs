//! liandong-certs: who belongs to a Liandong federation, and how a node can
//! tell.
//!
//! Every federation (a city, a province) has one certificate authority. It
//! issues a certificate to every node (a center, named by its
//! administrative-division code such as `350102` or a member unit such as
//! `350102-police`) and to every operator and leader who works at a node. A
//! certificate's identity is in its URI SANs: `liandong://node/<id>`, or
//! `liandong://operator/<node-id>/<name>` with `liandong://role/<role>`, or
//! `liandong://admin/<name>` for a federation admin, whose certificate signs
//! the federation document and is refused on every connection.
//! Nodes talk QUIC over mutual TLS 1.3 and accept a peer only if its
//! certificate chains to the federation CA, is in date, is not on the
//! revocation list, and names exactly one identity. All keys are Ed25519:
//! fast to generate (a province has ~23,000 nodes), supported by rustls,
//! ring and webpki in TLS 1.3, and reusable to sign envelopes. Keys are
//! written as PKCS#8 v1 (RFC 8410), which OpenSSL reads; v2 files (what
//! earlier versions wrote) still load.
//!
//! In a real rollout a center's key is made on its own machine and never
//! leaves it: `certs request` writes the key and a certificate request
//! there; the offline CA machine runs `certs sign` over the collected
//! requests. `certs init`, which makes every key at the CA, stays for demos
//! and tests.
//!
//! # Layout
//! - [`serial`]: [`Serial`], random 16-byte serial numbers printed `5f:3a:...`.
//! - [`identity`]: [`Identity`], [`Role`], reading identities from SANs
//!   ([`identity_of`]), the TLS server name of a node ([`server_name_for`]).
//! - [`error`]: [`CertError`], what creating, loading or writing can fail with.
//! - [`keys`]: Ed25519 keys as PKCS#8 v1 ([`generate_ed25519_pkcs8_v1`]),
//!   public keys ([`Ed25519PublicKey`]).
//! - [`pem`]: reading certificates and keys from PEM files.
//! - [`ca`]: [`FederationCa`] (generate, save, load), issuing node, operator
//!   and admin certificates ([`IssuedCert`], [`Validity`]), certifying a
//!   requested key ([`FederationCa::certify`], [`SignedCert`]).
//! - [`request`]: certificate requests, made on a center's machine
//!   ([`CertRequest`]) and checked at the CA ([`read_request`]).
//! - [`enroll`]: `certs sign`, signing requests in bulk ([`sign_requests`]).
//! - [`signed`]: detached signatures by a federation admin
//!   ([`sign_detached`], [`verify_admin_signature`]).
//! - [`revocation`]: the `revoked.toml` file ([`RevocationList`]) and the
//!   shared, swappable handle verifiers read ([`Revocations`]).
//! - [`verify`]: [`Verifier`], the one place that decides whether a presented
//!   chain is acceptable, with a distinct [`VerifyError`] for each refusal.
//! - [`tls`]: rustls client and server configurations and verifiers built on
//!   [`Verifier`] (ring provider, TLS 1.3 only, ALPN [`ALPN`]).
//! - [`layout`]: where files live in a federation directory ([`CaDir`]).
//! - [`bulk`]: `certs init` ([`init_federation`]) and operator and admin
//!   issuance into that directory.
//! - [`inspect`]: the text `certs inspect` prints; a certificate's serial
//!   and validity ([`certificate_facts`]).
//!
//! # Never
//! - Never writes a private key readable by anyone but its owner: key files
//!   are created with mode 0600 by `open(2)` itself, never `chmod`ed after the
//!   bytes are written, and loading a key that group or others can read is
//!   refused (as ssh does).
//! - Never accepts a peer whose identity it cannot read: no `liandong://`
//!   SAN, a malformed one, or several identities are all refusals; never
//!   accepts an admin certificate as a peer, nor a node's or operator's as
//!   an admin's signature.
//! - Never overwrites a private key, never takes anything from a
//!   certificate request but its key and its identity, and never signs one
//!   whose own signature does not verify.
//! - Never overwrites a federation CA, and never replaces an existing node
//!   certificate during `certs init` (it only tops up).
//! - Never uses a crypto provider other than ring, nor TLS below 1.3.
//! - Never panics on what comes from outside (files, presented certificates):
//!   every such failure is an error value naming the file, node or serial.
//!
//! Time is an argument wherever a decision depends on it (`Validity`,
//! `Verifier::verify(.., now, ..)`), so tests can make and check expired
//! certificates without waiting.

#![warn(missing_docs)]

pub mod bulk;
pub mod ca;
pub mod enroll;
pub mod error;
mod fsutil;
pub mod identity;
pub mod inspect;
pub mod keys;
pub mod layout;
pub mod pem;
pub mod request;
pub mod revocation;
pub mod serial;
pub mod signed;
pub mod tls;
pub mod verify;

pub use bulk::{InitError, InitSummary, init_federation, issue_admin_into, issue_operator_into};
pub use ca::{
    CA_VALIDITY_DAYS, CertError, FederationCa, IssuedCert, SignedCert, Validity, load_ca_certificate,
    load_certificates, load_private_key,
};
pub use enroll::{EnrollError, SignOptions, Signed, find_requests, sign_request, sign_requests};
pub use identity::{
    Identity, IdentityError, NameError, OperatorNameError, Role, ServerNameError, ed25519_public_key, identity_of,
    node_from_server_name, server_name_for, validate_name, validate_operator_name,
};
pub use inspect::{CertFacts, certificate_facts, inspect_file};
pub use keys::{Ed25519PublicKey, generate_ed25519_pkcs8_v1};
pub use layout::CaDir;
pub use request::{CertRequest, RequestError, RequestFiles, VerifiedRequest, parse_request, read_request};
pub use revocation::{Entry, Reason, RevocationError, RevocationList, Revocations};
pub use serial::Serial;
pub use signed::{SignedError, sign_detached, verify_admin_signature};
pub use tls::{
    ALPN, ClientVerifier, NodeServerVerifier, TlsError, client_config, peer_identity, refusal_reason, server_config,
};
pub use verify::{Usage, VerifiedPeer, Verifier, VerifyError};

/// The certificate types in this crate's API (`CertificateDer`,
/// `PrivateKeyDer`, `UnixTime`, `ServerName`), re-exported so callers need
/// not pin the same version themselves.
pub use rustls_pki_types as pki_types;
/// The time crate whose `OffsetDateTime` this crate's API takes.
pub use time;

/// Formats a time as RFC 3339 in whole seconds (`2026-11-22T10:00:00Z`), as
/// messages and the revocation file show it.
pub fn rfc3339(t: time::OffsetDateTime) -> String {
    use time::format_description::well_known::Rfc3339;
    let t = t.replace_nanosecond(0).unwrap_or(t);
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}
