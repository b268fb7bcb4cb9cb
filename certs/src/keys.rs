//! Ed25519 keys as Liandong writes and reads them.
//!
//! Every private key this crate makes (the CA's, a node's, an operator's,
//! an admin's) is written as PKCS#8 v1 (RFC 8410 §7): the 32-byte seed and
//! nothing else, the form OpenSSL, Go and Java read. ring writes v2 (the
//! public key attached), which OpenSSL 3 refuses, so keys are not made with
//! ring's generator: the seed comes from the system CSPRNG and is wrapped
//! here. Reading accepts both: ring's `from_pkcs8_maybe_unchecked`, which
//! rustls, rcgen and the envelope signer all use, takes v1 and v2, so key
//! files written by earlier versions keep working.
//!
//! Never writes a file (see `fsutil`), never produces v2, and never keeps a
//! key anywhere but in the value handed back.

use rcgen::{KeyPair, PKCS_ED25519, PublicKeyData, SignatureAlgorithm};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::error::CertError;
use crate::serial::RngError;

/// Length of an Ed25519 seed (the private key) and of a public key.
pub const ED25519_KEY_LEN: usize = 32;

/// The DER of a PKCS#8 v1 Ed25519 key up to its seed: SEQUENCE (46 bytes),
/// version 0, AlgorithmIdentifier id-Ed25519 (1.3.101.112, no parameters),
/// OCTET STRING holding the CurvePrivateKey OCTET STRING of 32 bytes.
const PKCS8_V1_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// The PKCS#8 v1 (RFC 8410) DER of the Ed25519 key with this seed: 48 bytes.
pub fn ed25519_pkcs8_v1(seed: &[u8; ED25519_KEY_LEN]) -> Vec<u8> {
    let mut der = Vec::with_capacity(PKCS8_V1_PREFIX.len() + ED25519_KEY_LEN);
    der.extend_from_slice(&PKCS8_V1_PREFIX);
    der.extend_from_slice(seed);
    der
}

/// Whether `der` is a PKCS#8 v1 Ed25519 key as [`ed25519_pkcs8_v1`] writes it.
pub fn is_ed25519_pkcs8_v1(der: &[u8]) -> bool {
    der.len() == PKCS8_V1_PREFIX.len() + ED25519_KEY_LEN && der.starts_with(&PKCS8_V1_PREFIX)
}

/// A fresh Ed25519 key, PKCS#8 v1 DER, its seed drawn from the operating
/// system's CSPRNG (ring's `SystemRandom`).
pub fn generate_ed25519_pkcs8_v1() -> Result<Vec<u8>, RngError> {
    let mut seed = [0u8; ED25519_KEY_LEN];
    SystemRandom::new().fill(&mut seed).map_err(|_| RngError)?;
    let der = ed25519_pkcs8_v1(&seed);
    seed.fill(0);
    Ok(der)
}

/// A fresh key as rcgen signs with it (certificates, requests), holding
/// the v1 DER it serializes back (`serialize_pem` writes v1).
pub(crate) fn generate_key_pair(subject: &str) -> Result<KeyPair, CertError> {
    let der = generate_ed25519_pkcs8_v1()?;
    KeyPair::from_pkcs8_der_and_sign_algo(&PrivatePkcs8KeyDer::from(der), &PKCS_ED25519).map_err(|source| {
        CertError::Generate {
            subject: subject.to_owned(),
            source,
        }
    })
}

/// The ring key pair of a PKCS#8 Ed25519 key, v1 or v2.
pub(crate) fn ed25519_key_pair(key: &PrivateKeyDer<'_>) -> Result<Ed25519KeyPair, CertError> {
    let PrivateKeyDer::Pkcs8(pkcs8) = key else {
        return Err(CertError::UnusableKey {
            reason: "expected a PKCS#8 \"PRIVATE KEY\"".into(),
        });
    };
    Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8.secret_pkcs8_der()).map_err(|e| CertError::UnusableKey {
        reason: format!("not an Ed25519 PKCS#8 key: {e}"),
    })
}

/// The public half of a PKCS#8 Ed25519 key (v1 or v2).
pub fn ed25519_public_key_of(key: &PrivateKeyDer<'_>) -> Result<Ed25519PublicKey, CertError> {
    let pair = ed25519_key_pair(key)?;
    Ed25519PublicKey::from_slice(pair.public_key().as_ref()).ok_or_else(|| CertError::UnusableKey {
        reason: "its public key is not 32 bytes".into(),
    })
}

/// A raw Ed25519 public key: what a certificate request carries and what
/// the CA certifies without ever seeing the private half.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ed25519PublicKey([u8; ED25519_KEY_LEN]);

impl Ed25519PublicKey {
    /// The key in `bytes`, if they are exactly 32.
    pub fn from_slice(bytes: &[u8]) -> Option<Ed25519PublicKey> {
        <[u8; ED25519_KEY_LEN]>::try_from(bytes).ok().map(Ed25519PublicKey)
    }

    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; ED25519_KEY_LEN] {
        &self.0
    }
}

impl std::fmt::Debug for Ed25519PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ed25519PublicKey(")?;
        for byte in &self.0[..4] {
            write!(f, "{byte:02x}")?;
        }
        f.write_str("...)")
    }
}

impl PublicKeyData for Ed25519PublicKey {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        &PKCS_ED25519
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_v1_and_every_reader_takes_them() {
        let der = generate_ed25519_pkcs8_v1().unwrap();
        assert!(is_ed25519_pkcs8_v1(&der), "{der:02x?}");
        assert_ne!(der, generate_ed25519_pkcs8_v1().unwrap(), "fresh seeds");
        // ring's strict reader wants v2: proof this really is v1.
        assert!(Ed25519KeyPair::from_pkcs8(&der).is_err());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der.clone()));
        let public = ed25519_public_key_of(&key).unwrap();
        // rcgen (the CA) and rustls (TLS) load it.
        let pair =
            KeyPair::from_pkcs8_der_and_sign_algo(&PrivatePkcs8KeyDer::from(der.clone()), &PKCS_ED25519).unwrap();
        assert_eq!(pair.public_key_raw(), public.as_bytes());
        assert_eq!(pair.serialize_der(), der, "rcgen writes back what it was given");
        assert!(rustls::crypto::ring::sign::any_eddsa_type(&PrivatePkcs8KeyDer::from(der)).is_ok());
    }

    #[test]
    fn v2_keys_from_earlier_versions_still_read() {
        let v2 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        assert!(!is_ed25519_pkcs8_v1(v2.as_ref()));
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(v2.as_ref().to_vec()));
        let public = ed25519_public_key_of(&key).unwrap();
        let strict = Ed25519KeyPair::from_pkcs8(v2.as_ref()).unwrap();
        assert_eq!(strict.public_key().as_ref(), public.as_bytes());
    }

    #[test]
    fn a_seed_wraps_into_the_rfc_8410_example_layout() {
        let der = ed25519_pkcs8_v1(&[7; 32]);
        assert_eq!(der.len(), 48);
        assert_eq!(&der[..16], &PKCS8_V1_PREFIX);
        assert_eq!(&der[16..], &[7; 32]);
        let not_a_key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(vec![0x30, 0x00]));
        let err = ed25519_public_key_of(&not_a_key).unwrap_err();
        assert!(err.to_string().contains("not an Ed25519 PKCS#8 key"), "{err}");
    }
}
