//! Detached Ed25519 signatures by a federation admin: the primitives a
//! signed federation document is built on, whatever the document says.
//!
//! [`sign_detached`] signs bytes with a key file's key. [`verify_admin_signature`]
//! accepts a signature only if the signer's chain is a federation admin's
//! certificate (`liandong://admin/<name>`, EKU id-kp-documentSigning) that
//! the federation CA issued, in date and not revoked, and the signature
//! verifies with that certificate's key. Each refusal is its own
//! [`SignedError`] variant, in words an operator can act on.
//!
//! Never decides what is signed or how it is encoded (the caller passes the
//! exact bytes), and never accepts a node's or an operator's certificate as
//! a signer.

use ring::signature::{ED25519, UnparsedPublicKey};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, UnixTime};

use crate::error::CertError;
use crate::identity::{Identity, ed25519_public_key, identity_of};
use crate::keys::ed25519_key_pair;
use crate::verify::{Usage, Verifier, VerifyError};

/// Why an admin's signature was refused.
#[derive(Debug, thiserror::Error)]
pub enum SignedError {
    /// The signer's certificate is a node's or an operator's.
    #[error(
        "the signature is by {identity}, not by a federation admin: only a certificate for liandong://admin/<name> \
         (liandong certs issue-admin) may sign the federation document"
    )]
    NotAnAdmin {
        /// Who the certificate identifies.
        identity: Identity,
    },
    /// The signer's chain is refused: another CA, expired, revoked, wrong
    /// usage, no readable identity...
    #[error("the admin certificate is refused: {0}")]
    Chain(#[from] VerifyError),
    /// The signature does not verify with the admin certificate's key.
    #[error(
        "the signature does not verify with the certificate of federation admin {name}: the signed bytes were \
         changed after signing, or another key signed them"
    )]
    BadSignature {
        /// The admin named by the certificate.
        name: String,
    },
}

/// Signs `message` with the Ed25519 key `key` (PKCS#8, v1 or v2): the
/// 64-byte signature, detached from the message.
pub fn sign_detached(key: &PrivateKeyDer<'_>, message: &[u8]) -> Result<Vec<u8>, CertError> {
    let pair = ed25519_key_pair(key)?;
    Ok(pair.sign(message).as_ref().to_vec())
}

/// Checks that `signature` over `message` was made by a federation admin:
/// `admin_chain` (leaf first) must identify an admin, chain to the CA of
/// `verifier` at `now` with the document-signing usage, and not be on its
/// revocation list; then the signature must verify with the leaf's key.
/// Returns the admin's name.
pub fn verify_admin_signature(
    verifier: &Verifier,
    admin_chain: &[CertificateDer<'_>],
    message: &[u8],
    signature: &[u8],
    now: UnixTime,
) -> Result<String, SignedError> {
    // Who the leaf claims to be first: a node's or operator's certificate is
    // named as such, not as a chain that lacks a usage. The claim is only
    // trusted once the verifier has checked the chain below.
    if let Some(Ok(identity)) = admin_chain.first().map(|leaf| identity_of(leaf))
        && !matches!(identity, Identity::Admin { .. })
    {
        return Err(SignedError::NotAnAdmin { identity });
    }
    let peer = verifier.verify(admin_chain, now, Usage::Admin)?;
    let Identity::Admin { name } = peer.identity else {
        return Err(SignedError::NotAnAdmin {
            identity: peer.identity,
        });
    };
    let leaf = admin_chain.first().ok_or(VerifyError::NoCertificate)?;
    let key = ed25519_public_key(leaf).map_err(|e| VerifyError::BadCertificate(e.to_string()))?;
    UnparsedPublicKey::new(&ED25519, key)
        .verify(message, signature)
        .map_err(|_| SignedError::BadSignature { name: name.clone() })?;
    Ok(name)
}

#[cfg(test)]
mod tests {
    use liandong_topology::NodeId;
    use time::{Duration, OffsetDateTime};

    use super::*;
    use crate::ca::{FederationCa, IssuedCert, Validity};
    use crate::identity::Role;
    use crate::revocation::{Entry, Reason, RevocationList, Revocations};

    const DOCUMENT: &[u8] = b"version = 7\n[[node]]\nid = \"350102\"\n";

    fn now() -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    fn federation() -> (FederationCa, Verifier) {
        let ca = FederationCa::generate("福州", Validity::days_from(now(), 365)).unwrap();
        let verifier = Verifier::new(ca.cert_der().clone(), Revocations::default()).unwrap();
        (ca, verifier)
    }

    fn signed_by(cert: &IssuedCert) -> Vec<u8> {
        sign_detached(&cert.private_key_der(), DOCUMENT).unwrap()
    }

    fn check(verifier: &Verifier, cert: &IssuedCert, message: &[u8], signature: &[u8]) -> Result<String, SignedError> {
        verify_admin_signature(
            verifier,
            std::slice::from_ref(&cert.cert_der),
            message,
            signature,
            UnixTime::now(),
        )
    }

    #[test]
    fn an_admins_signature_verifies_and_names_the_admin() {
        let (ca, verifier) = federation();
        let admin = ca.issue_admin("陈静", Validity::days_from(now(), 30)).unwrap();
        let signature = signed_by(&admin);
        assert_eq!(signature.len(), 64);
        assert_eq!(check(&verifier, &admin, DOCUMENT, &signature).unwrap(), "陈静");
    }

    #[test]
    fn a_changed_message_or_signature_is_a_bad_signature() {
        let (ca, verifier) = federation();
        let admin = ca.issue_admin("陈静", Validity::days_from(now(), 30)).unwrap();
        let signature = signed_by(&admin);
        let err = check(&verifier, &admin, b"version = 8\n", &signature).unwrap_err();
        assert!(
            matches!(err, SignedError::BadSignature { ref name } if name == "陈静"),
            "{err}"
        );
        let mut flipped = signature.clone();
        flipped[10] ^= 1;
        assert!(matches!(
            check(&verifier, &admin, DOCUMENT, &flipped),
            Err(SignedError::BadSignature { .. })
        ));
        // Another admin's key, presented with this admin's certificate.
        let other = ca.issue_admin("王强", Validity::days_from(now(), 30)).unwrap();
        let err = check(&verifier, &admin, DOCUMENT, &signed_by(&other)).unwrap_err();
        assert!(err.to_string().contains("another key signed them"), "{err}");
        assert!(matches!(
            check(&verifier, &admin, DOCUMENT, b"short"),
            Err(SignedError::BadSignature { .. })
        ));
    }

    #[test]
    fn node_and_operator_certificates_are_not_admins() {
        let (ca, verifier) = federation();
        let id = NodeId::parse("350102").unwrap();
        let node = ca.issue_node(&id, "鼓楼区", Validity::days_from(now(), 30)).unwrap();
        let err = check(&verifier, &node, DOCUMENT, &signed_by(&node)).unwrap_err();
        assert!(
            matches!(err, SignedError::NotAnAdmin { identity: Identity::Node(ref n) } if *n == id),
            "{err}"
        );
        assert!(err.to_string().contains("not by a federation admin"), "{err}");
        let leader = ca
            .issue_operator(&id, "张伟", Role::Leader, Validity::days_from(now(), 30))
            .unwrap();
        assert!(matches!(
            check(&verifier, &leader, DOCUMENT, &signed_by(&leader)),
            Err(SignedError::NotAnAdmin {
                identity: Identity::Operator { .. }
            })
        ));
    }

    #[test]
    fn foreign_expired_and_revoked_admins_are_refused_chains() {
        let (ca, verifier) = federation();
        let (foreign_ca, _) = federation();
        let foreign = foreign_ca.issue_admin("陈静", Validity::days_from(now(), 30)).unwrap();
        let err = check(&verifier, &foreign, DOCUMENT, &signed_by(&foreign)).unwrap_err();
        assert!(
            matches!(err, SignedError::Chain(VerifyError::ForeignCa { .. })),
            "{err}"
        );

        let expired = ca
            .issue_admin(
                "陈静",
                Validity {
                    not_before: now() - Duration::days(10),
                    not_after: now() - Duration::days(1),
                },
            )
            .unwrap();
        let err = check(&verifier, &expired, DOCUMENT, &signed_by(&expired)).unwrap_err();
        assert!(matches!(err, SignedError::Chain(VerifyError::Expired { .. })), "{err}");

        let admin = ca.issue_admin("陈静", Validity::days_from(now(), 30)).unwrap();
        let mut list = RevocationList::new();
        list.revoke(Entry::new(admin.serial.clone(), Reason::KeyCompromise, now()))
            .unwrap();
        verifier.revocations().replace(list);
        let err = check(&verifier, &admin, DOCUMENT, &signed_by(&admin)).unwrap_err();
        assert!(matches!(err, SignedError::Chain(VerifyError::Revoked { .. })), "{err}");
        assert!(err.to_string().starts_with("the admin certificate is refused"), "{err}");

        let err = verify_admin_signature(&verifier, &[], DOCUMENT, &[0; 64], UnixTime::now()).unwrap_err();
        assert!(matches!(err, SignedError::Chain(VerifyError::NoCertificate)), "{err}");
    }

    #[test]
    fn signing_needs_an_ed25519_pkcs8_key() {
        let err = sign_detached(&PrivateKeyDer::Pkcs8(vec![1, 2, 3].into()), DOCUMENT).unwrap_err();
        assert!(matches!(err, CertError::UnusableKey { .. }), "{err}");
    }
}
