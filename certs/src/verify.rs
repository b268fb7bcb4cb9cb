//! Deciding whether a presented certificate chain is a member of this
//! federation, and who it is.
//!
//! [`Verifier::verify`] runs three checks, in this order, and stops at the
//! first failure:
//! 1. the chain: issued by the federation CA, within its validity, with the
//!    extended key usage for the role it plays (rustls-webpki, ring
//!    algorithms);
//! 2. the identity: exactly one `liandong://` identity in the SANs, of a
//!    kind that may play that role: a server is a node; a client is a node
//!    or an operator; a document signer is a federation admin. An admin
//!    certificate is refused on every connection (it also lacks the TLS
//!    usages), and a node's or operator's never signs a document;
//! 3. the revocation list in force at that moment.

use std::fmt;
use std::path::Path;

use rustls::DistinguishedName;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls_pki_types::{CertificateDer, TrustAnchor, UnixTime};
use time::OffsetDateTime;
use webpki::{EndEntityCert, KeyUsage};
use x509_parser::certificate::X509Certificate;

use crate::ca::{CertError, common_name, load_ca_certificate};
use crate::identity::{Identity, IdentityError, identity_of_parsed};
use crate::revocation::{Reason, Revocations};
use crate::rfc3339;
use crate::serial::Serial;

/// DER content of the id-kp-serverAuth OID (1.3.6.1.5.5.7.3.1).
const EKU_SERVER_AUTH: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01];
/// DER content of the id-kp-clientAuth OID (1.3.6.1.5.5.7.3.2).
const EKU_CLIENT_AUTH: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02];
/// DER content of the id-kp-documentSigning OID (1.3.6.1.5.5.7.3.36, RFC 9336).
const EKU_DOCUMENT_SIGNING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x24];

/// The role the presented certificate plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Usage {
    /// The peer is the server we dialed: a node (EKU serverAuth required).
    Server,
    /// The peer dialed us: a node or an operator (EKU clientAuth required).
    Client,
    /// The certificate signs a federation document: a federation admin
    /// (EKU id-kp-documentSigning required). Never a connection's peer.
    Admin,
}

impl Usage {
    /// The usage a certificate of `identity` is checked for when no
    /// connection decides it (`certs inspect`, `certs revoke`): an admin's
    /// for signing documents, anyone else's as a client.
    pub fn of(identity: &Identity) -> Usage {
        match identity {
            Identity::Admin { .. } => Usage::Admin,
            Identity::Node(_) | Identity::Operator { .. } => Usage::Client,
        }
    }
}

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Usage::Server => "server",
            Usage::Client => "client",
            Usage::Admin => "document signing",
        })
    }
}

/// A peer that passed every check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedPeer {
    /// Who it is.
    pub identity: Identity,
    /// Its certificate's serial (for logs and revocation).
    pub serial: Serial,
    /// When its certificate expires.
    pub not_after: OffsetDateTime,
}

/// Why a presented certificate was refused. Each message names the serial and
/// the reason, and survives inside rustls errors (see [`crate::tls`]).
///
/// `Debug` prints the same message as `Display`: rustls renders the
/// `CertificateError::Other` that carries this error with `{:?}`, and the
/// reason must read the same in a rustls error as anywhere else.
#[derive(Clone, thiserror::Error)]
pub enum VerifyError {
    /// The CA certificate given to [`Verifier::new`] is unusable.
    #[error("the federation CA certificate is unusable: {0}")]
    BadCa(String),
    /// The peer presented no certificate.
    #[error("no certificate was presented")]
    NoCertificate,
    /// The bytes are not a certificate.
    #[error("the presented certificate cannot be parsed: {0}")]
    BadCertificate(String),
    /// Not issued by this federation's CA.
    #[error("certificate {serial} was not issued by this federation's CA ({expected:?}); it names issuer {issuer:?}")]
    ForeignCa {
        /// The presented serial.
        serial: String,
        /// The issuer named in the certificate.
        issuer: String,
        /// Our CA's common name.
        expected: String,
    },
    /// Past its notAfter.
    #[error("certificate {serial} ({subject}) expired at {}; it is now {}", rfc3339(*.not_after), rfc3339(*.now))]
    Expired {
        /// The presented serial.
        serial: String,
        /// Its subject common name.
        subject: String,
        /// When it expired.
        not_after: OffsetDateTime,
        /// The verification time.
        now: OffsetDateTime,
    },
    /// Before its notBefore.
    #[error(
        "certificate {serial} ({subject}) is not valid before {}; it is now {} (check this machine's clock)",
        rfc3339(*.not_before), rfc3339(*.now)
    )]
    NotYetValid {
        /// The presented serial.
        serial: String,
        /// Its subject common name.
        subject: String,
        /// When it becomes valid.
        not_before: OffsetDateTime,
        /// The verification time.
        now: OffsetDateTime,
    },
    /// The EKU does not allow this role (e.g. an operator certificate used by a server).
    #[error("certificate {serial} ({subject}) is not allowed for {usage} use (extended key usage)")]
    WrongUsage {
        /// The presented serial.
        serial: String,
        /// Its subject common name.
        subject: String,
        /// The role it tried to play.
        usage: Usage,
    },
    /// Refused by path validation for another reason.
    #[error("certificate {serial} ({subject}) refused: {reason}")]
    Rejected {
        /// The presented serial.
        serial: String,
        /// Its subject common name.
        subject: String,
        /// webpki's reason.
        reason: String,
    },
    /// Issued by our CA but carries no usable identity.
    #[error("certificate {serial} ({subject}): {source}")]
    Identity {
        /// The presented serial.
        serial: String,
        /// Its subject common name.
        subject: String,
        /// What is wrong with its SANs.
        source: IdentityError,
    },
    /// An operator certificate presented where only a node may be.
    #[error("certificate {serial} identifies {identity}, which cannot act as a server")]
    NotANode {
        /// The presented serial.
        serial: String,
        /// Who it identifies.
        identity: Identity,
    },
    /// A federation admin's certificate presented on a connection.
    #[error(
        "certificate {serial} identifies federation admin {name}: an admin certificate only signs the federation \
         document and is never accepted on a connection (use a node or operator certificate)"
    )]
    AdminOnConnection {
        /// The presented serial.
        serial: String,
        /// The admin's name.
        name: String,
    },
    /// A node's or operator's certificate where an admin's is required.
    #[error("certificate {serial} identifies {identity}, not a federation admin (liandong://admin/<name>)")]
    NotAnAdmin {
        /// The presented serial.
        serial: String,
        /// Who it identifies.
        identity: Identity,
    },
    /// On the revocation list.
    #[error(
        "certificate {serial} ({identity}) is revoked since {} ({reason}){}",
        rfc3339(*.revoked_at), .note.as_deref().map(|n| format!(": {n}")).unwrap_or_default()
    )]
    Revoked {
        /// The revoked serial.
        serial: Serial,
        /// Who it identifies.
        identity: Identity,
        /// Why it was revoked.
        reason: Reason,
        /// When.
        revoked_at: OffsetDateTime,
        /// The list's note, if any.
        note: Option<String>,
    },
    /// A valid node, but not the one we dialed.
    #[error("dialed node {expected} but the server presented certificate {serial} for {presented}")]
    WrongPeer {
        /// The node the client meant to reach.
        expected: liandong_topology::NodeId,
        /// Who answered.
        presented: Identity,
        /// The presented serial.
        serial: Serial,
    },
    /// The TLS server name does not name a node.
    #[error(transparent)]
    ServerName(#[from] crate::identity::ServerNameError),
}

impl fmt::Debug for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Checks peers against the federation CA and the revocation list.
/// Cheap to share: wrap it in an `Arc` and hand it to both rustls verifiers.
#[derive(Debug)]
pub struct Verifier {
    ca_cert: CertificateDer<'static>,
    anchor: TrustAnchor<'static>,
    ca_name: String,
    revocations: Revocations,
    algorithms: WebPkiSupportedAlgorithms,
}

fn to_time(t: UnixTime) -> OffsetDateTime {
    let secs = i64::try_from(t.as_secs()).unwrap_or(i64::MAX);
    OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

impl Verifier {
    /// A verifier trusting exactly `ca_cert` and refusing what `revocations`
    /// lists at the time of each check.
    pub fn new(ca_cert: CertificateDer<'static>, revocations: Revocations) -> Result<Verifier, VerifyError> {
        let anchor = webpki::anchor_from_trusted_cert(&ca_cert)
            .map_err(|e| VerifyError::BadCa(format!("{e:?}")))?
            .to_owned();
        let (_, x509) = x509_parser::parse_x509_certificate(&ca_cert).map_err(|e| VerifyError::BadCa(e.to_string()))?;
        if !x509.is_ca() {
            return Err(VerifyError::BadCa("it is not a CA certificate".into()));
        }
        let ca_name = common_name(&x509).unwrap_or_else(|| x509.subject().to_string());
        Ok(Verifier {
            anchor,
            ca_name,
            ca_cert,
            revocations,
            algorithms: rustls::crypto::ring::default_provider().signature_verification_algorithms,
        })
    }

    /// A verifier for the CA certificate in `path` (e.g. `nodes/<id>/ca.pem`).
    pub fn from_ca_file(path: &Path, revocations: Revocations) -> Result<Verifier, CertError> {
        let ca_cert = load_ca_certificate(path)?;
        Verifier::new(ca_cert, revocations).map_err(|e| CertError::NotFederationCa {
            path: path.to_owned(),
            reason: e.to_string(),
        })
    }

    /// The trusted CA certificate.
    pub fn ca_cert(&self) -> &CertificateDer<'static> {
        &self.ca_cert
    }

    /// The CA's common name, e.g. "福州 Liandong CA".
    pub fn ca_name(&self) -> &str {
        &self.ca_name
    }

    /// The CA's subject as TLS sends it to clients (the acceptable issuer).
    pub fn root_hint(&self) -> DistinguishedName {
        DistinguishedName::in_sequence(self.anchor.subject.as_ref())
    }

    /// The shared revocation handle; replace its list to revoke at run time.
    pub fn revocations(&self) -> &Revocations {
        &self.revocations
    }

    /// The ring signature algorithms used for chains and handshake signatures.
    pub fn algorithms(&self) -> &WebPkiSupportedAlgorithms {
        &self.algorithms
    }

    /// Verifies `chain` (leaf first) at `now` for `usage`.
    pub fn verify(
        &self,
        chain: &[CertificateDer<'_>],
        now: UnixTime,
        usage: Usage,
    ) -> Result<VerifiedPeer, VerifyError> {
        let Some((end_entity, intermediates)) = chain.split_first() else {
            return Err(VerifyError::NoCertificate);
        };
        self.verify_parts(end_entity, intermediates, now, usage)
    }

    /// [`Verifier::verify`] with the leaf and intermediates apart, as rustls hands them over.
    pub fn verify_parts(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
        usage: Usage,
    ) -> Result<VerifiedPeer, VerifyError> {
        let (_, x509) =
            x509_parser::parse_x509_certificate(end_entity).map_err(|e| VerifyError::BadCertificate(e.to_string()))?;
        let serial_text = serial_text(&x509);
        if let Err(e) = self.check_chain(end_entity, intermediates, &x509, now, usage) {
            // A certificate of the wrong kind lacks the usage too; say which
            // kind it is rather than only which usage it lacks.
            let admin_mismatch = match (&e, identity_of_parsed(&x509)) {
                (VerifyError::WrongUsage { .. }, Ok(identity)) => admin_mismatch(&identity, usage, &serial_text),
                _ => None,
            };
            return Err(admin_mismatch.unwrap_or(e));
        }

        let subject = subject_of(&x509);
        let serial = Serial::from_der_integer(x509.raw_serial()).map_err(|e| VerifyError::Rejected {
            serial: serial_text.clone(),
            subject: subject.clone(),
            reason: e.to_string(),
        })?;
        let identity = identity_of_parsed(&x509).map_err(|source| VerifyError::Identity {
            serial: serial_text.clone(),
            subject: subject.clone(),
            source,
        })?;
        if let Some(refusal) = wrong_kind(&identity, usage, &serial_text) {
            return Err(refusal);
        }
        if let Some(entry) = self.revocations.current().is_revoked(&serial) {
            return Err(VerifyError::Revoked {
                serial,
                identity,
                reason: entry.reason,
                revoked_at: entry.revoked_at,
                note: entry.note.clone(),
            });
        }
        let not_after = crate::ca::validity_of(&x509).not_after;
        Ok(VerifiedPeer {
            identity,
            serial,
            not_after,
        })
    }

    fn check_chain(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        x509: &X509Certificate<'_>,
        now: UnixTime,
        usage: Usage,
    ) -> Result<(), VerifyError> {
        let serial = serial_text(x509);
        let subject = subject_of(x509);
        let cert = EndEntityCert::try_from(end_entity)
            .map_err(|e| VerifyError::BadCertificate(format!("certificate {serial}: {e:?}")))?;
        let eku = match usage {
            Usage::Server => KeyUsage::required(EKU_SERVER_AUTH),
            Usage::Client => KeyUsage::required(EKU_CLIENT_AUTH),
            Usage::Admin => KeyUsage::required(EKU_DOCUMENT_SIGNING),
        };
        let result = cert.verify_for_usage(
            self.algorithms.all,
            std::slice::from_ref(&self.anchor),
            intermediates,
            now,
            eku,
            None,
            None,
        );
        let Err(error) = result else {
            return Ok(());
        };
        #[allow(deprecated)]
        Err(match error {
            webpki::Error::UnknownIssuer | webpki::Error::InvalidSignatureForPublicKey => VerifyError::ForeignCa {
                serial,
                issuer: x509
                    .issuer()
                    .iter_common_name()
                    .next()
                    .and_then(|cn| cn.as_str().ok())
                    .map_or_else(|| x509.issuer().to_string(), str::to_owned),
                expected: self.ca_name.clone(),
            },
            webpki::Error::CertExpired { time, not_after } => VerifyError::Expired {
                serial,
                subject,
                not_after: to_time(not_after),
                now: to_time(time),
            },
            webpki::Error::CertNotValidYet { time, not_before } => VerifyError::NotYetValid {
                serial,
                subject,
                not_before: to_time(not_before),
                now: to_time(time),
            },
            webpki::Error::RequiredEkuNotFound | webpki::Error::RequiredEkuNotFoundContext(_) => {
                VerifyError::WrongUsage { serial, subject, usage }
            }
            webpki::Error::CaUsedAsEndEntity => VerifyError::Rejected {
                serial,
                subject,
                reason: "a CA certificate cannot identify a peer".into(),
            },
            other => VerifyError::Rejected {
                serial,
                subject,
                reason: format!("{other:?}"),
            },
        })
    }
}

/// Why a certificate of `identity` may not play `usage`, if it may not:
/// a server is a node, a client a node or an operator, a document signer
/// an admin.
fn wrong_kind(identity: &Identity, usage: Usage, serial: &str) -> Option<VerifyError> {
    if let Some(refusal) = admin_mismatch(identity, usage, serial) {
        return Some(refusal);
    }
    match (usage, identity) {
        (Usage::Server, Identity::Node(_)) | (Usage::Client, _) | (Usage::Admin, _) => None,
        (Usage::Server, other) => Some(VerifyError::NotANode {
            serial: serial.to_owned(),
            identity: other.clone(),
        }),
    }
}

/// An admin certificate on a connection, or another where an admin's is
/// required.
fn admin_mismatch(identity: &Identity, usage: Usage, serial: &str) -> Option<VerifyError> {
    match (usage, identity) {
        (Usage::Admin, Identity::Admin { .. }) => None,
        (Usage::Admin, other) => Some(VerifyError::NotAnAdmin {
            serial: serial.to_owned(),
            identity: other.clone(),
        }),
        (Usage::Server | Usage::Client, Identity::Admin { name }) => Some(VerifyError::AdminOnConnection {
            serial: serial.to_owned(),
            name: name.clone(),
        }),
        (Usage::Server | Usage::Client, _) => None,
    }
}

/// The serial as this crate prints it, or x509-parser's rendering if it is not a usable serial.
fn serial_text(x509: &X509Certificate<'_>) -> String {
    Serial::from_der_integer(x509.raw_serial()).map_or_else(|_| x509.raw_serial_as_string(), |s| s.to_string())
}

fn subject_of(x509: &X509Certificate<'_>) -> String {
    common_name(x509).map_or_else(|| x509.subject().to_string(), |cn| format!("CN {cn}"))
}

#[cfg(test)]
mod tests {
    use liandong_topology::NodeId;

    use super::*;
    use crate::ca::{FederationCa, Validity};

    #[test]
    fn verifies_directly_and_names_what_is_missing() {
        let now = OffsetDateTime::now_utc();
        let ca = FederationCa::generate("Fuzhou", Validity::days_from(now, 30)).unwrap();
        let verifier = Verifier::new(ca.cert_der().clone(), Revocations::default()).unwrap();
        let id = NodeId::parse("350102").unwrap();
        let node = ca.issue_node(&id, "鼓楼区", Validity::days_from(now, 30)).unwrap();

        let peer = verifier
            .verify(std::slice::from_ref(&node.cert_der), UnixTime::now(), Usage::Server)
            .unwrap();
        assert_eq!(peer.identity, Identity::Node(id));
        assert_eq!(peer.serial, node.serial);
        assert_eq!(peer.not_after, node.not_after);

        assert!(matches!(
            verifier.verify(&[], UnixTime::now(), Usage::Client),
            Err(VerifyError::NoCertificate)
        ));
        let garbage = CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01, 0x01]);
        assert!(matches!(
            verifier.verify(&[garbage], UnixTime::now(), Usage::Client),
            Err(VerifyError::BadCertificate(_))
        ));
        // The CA itself is not a peer.
        let err = verifier
            .verify(std::slice::from_ref(ca.cert_der()), UnixTime::now(), Usage::Client)
            .unwrap_err();
        assert!(matches!(err, VerifyError::Rejected { .. }), "{err}");
        // A leaf is not a CA.
        assert!(matches!(
            Verifier::new(node.cert_der.clone(), Revocations::default()),
            Err(VerifyError::BadCa(_))
        ));
    }
}
