//! Origin signatures behind two small traits, so the node plugs in real
//! Ed25519 keys and the simulator a cheap deterministic stand-in.

use std::collections::HashMap;
use std::sync::Arc;

use liandong_topology::NodeId;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};

use crate::codec::signed_bytes;
use crate::wire::Envelope;

/// Signs what this node originates.
pub trait Signer: Send {
    fn sign(&self, message: &[u8]) -> Vec<u8>;
}

/// Checks what other nodes originated.
pub trait SignatureCheck: Send + Sync {
    fn verify(&self, origin: &NodeId, message: &[u8], signature: &[u8]) -> Result<(), SignatureError>;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no key is known for origin {0}")]
    UnknownOrigin(NodeId),
    #[error("signature of origin {0} does not match the message")]
    Mismatch(NodeId),
    #[error("bad key: {0}")]
    BadKey(String),
}

/// Signs `envelope` in place.
pub fn sign_envelope(envelope: &mut Envelope, signer: &dyn Signer) {
    envelope.signature = signer.sign(&signed_bytes(envelope));
}

/// Checks `envelope`'s origin signature.
pub fn verify_envelope(envelope: &Envelope, check: &dyn SignatureCheck) -> Result<(), SignatureError> {
    check.verify(&envelope.origin, &signed_bytes(envelope), &envelope.signature)
}

/// Ed25519 with the node's own key (the PKCS#8 key of its certificate).
pub struct Ed25519Signer {
    key: Ed25519KeyPair,
}

impl Ed25519Signer {
    pub fn from_pkcs8(der: &[u8]) -> Result<Ed25519Signer, SignatureError> {
        let key = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).map_err(|e| SignatureError::BadKey(e.to_string()))?;
        Ok(Ed25519Signer { key })
    }

    /// The 32-byte public key, for a [`Ed25519Keyring`].
    pub fn public_key(&self) -> Vec<u8> {
        self.key.public_key().as_ref().to_vec()
    }
}

impl Signer for Ed25519Signer {
    fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.key.sign(message).as_ref().to_vec()
    }
}

/// Public keys of the federation's nodes, read from their certificates.
#[derive(Default, Clone)]
pub struct Ed25519Keyring {
    keys: HashMap<NodeId, Vec<u8>>,
}

impl Ed25519Keyring {
    pub fn insert(&mut self, node: NodeId, public_key: Vec<u8>) {
        self.keys.insert(node, public_key);
    }
}

impl SignatureCheck for Ed25519Keyring {
    fn verify(&self, origin: &NodeId, message: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
        let key = self
            .keys
            .get(origin)
            .ok_or_else(|| SignatureError::UnknownOrigin(origin.clone()))?;
        UnparsedPublicKey::new(&ED25519, key)
            .verify(message, signature)
            .map_err(|_| SignatureError::Mismatch(origin.clone()))
    }
}

/// A cheap deterministic stand-in for simulations and tests: a keyed
/// 128-bit FNV-style tag from a per-node secret derived from one
/// federation seed. Not cryptography; it only lets tests tell a forgery
/// (tagged with another node's secret) from the real thing.
#[derive(Clone)]
pub struct TestKeys {
    seed: u64,
}

impl TestKeys {
    pub fn new(seed: u64) -> TestKeys {
        TestKeys { seed }
    }

    /// The signer for `node`.
    pub fn signer(&self, node: &NodeId) -> TestSigner {
        TestSigner {
            secret: self.secret(node),
        }
    }

    pub fn check(&self) -> Arc<dyn SignatureCheck> {
        Arc::new(self.clone())
    }

    fn secret(&self, node: &NodeId) -> u64 {
        fnv(self.seed, node.as_str().as_bytes())
    }
}

pub struct TestSigner {
    secret: u64,
}

fn fnv(seed: u64, bytes: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325 ^ seed;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn tag(secret: u64, message: &[u8]) -> Vec<u8> {
    let a = fnv(secret, message);
    let b = fnv(a ^ 0x9e37_79b9_7f4a_7c15, message);
    [a.to_le_bytes(), b.to_le_bytes()].concat()
}

impl Signer for TestSigner {
    fn sign(&self, message: &[u8]) -> Vec<u8> {
        tag(self.secret, message)
    }
}

impl SignatureCheck for TestKeys {
    fn verify(&self, origin: &NodeId, message: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
        if tag(self.secret(origin), message) == signature {
            Ok(())
        } else {
            Err(SignatureError::Mismatch(origin.clone()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;

    #[test]
    fn ed25519_signs_and_refuses_tampering() {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let signer = Ed25519Signer::from_pkcs8(pkcs8.as_ref()).unwrap();
        let me = NodeId::parse("350102").unwrap();
        let mut ring = Ed25519Keyring::default();
        ring.insert(me.clone(), signer.public_key());
        let sig = signer.sign(b"report");
        assert_eq!(ring.verify(&me, b"report", &sig), Ok(()));
        assert_eq!(
            ring.verify(&me, b"repost", &sig),
            Err(SignatureError::Mismatch(me.clone()))
        );
        let other = NodeId::parse("350103").unwrap();
        assert_eq!(
            ring.verify(&other, b"report", &sig),
            Err(SignatureError::UnknownOrigin(other))
        );
    }

    #[test]
    fn test_keys_tell_a_forgery() {
        let keys = TestKeys::new(42);
        let (a, b) = (NodeId::parse("350102").unwrap(), NodeId::parse("350103").unwrap());
        let sig = keys.signer(&a).sign(b"m");
        assert!(keys.verify(&a, b"m", &sig).is_ok());
        assert!(keys.verify(&b, b"m", &sig).is_err(), "b cannot claim a's message");
        assert!(keys.verify(&a, b"n", &sig).is_err());
    }
}
