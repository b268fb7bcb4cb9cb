//! Origin signatures behind two small traits, so the node plugs in real
//! Ed25519 keys and the simulator a cheap deterministic stand-in.
//!
//! A [`SignatureCheck`] is a set of public keys in memory, owned by the
//! core. It never reads a file or a clock: when an envelope arrives from
//! an origin it does not [`know`](SignatureCheck::knows), the core asks
//! its driver for the key ([`crate::Effect::NeedKey`]) and hands what the
//! driver loaded to [`learn`](SignatureCheck::learn).

use std::collections::{BTreeSet, HashMap};

use liandong_topology::NodeId;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};

use crate::codec::signed_bytes;
use crate::wire::Envelope;

/// Signs what this node originates.
pub trait Signer: Send {
    fn sign(&self, message: &[u8]) -> Vec<u8>;
}

/// Checks what other nodes originated, with the keys it holds.
pub trait SignatureCheck: Send + Sync {
    fn verify(&self, origin: &NodeId, message: &[u8], signature: &[u8]) -> Result<(), SignatureError>;
    /// Whether a key for `origin` is held (so a failed check is final,
    /// not for want of a key).
    fn knows(&self, origin: &NodeId) -> bool;
    /// Holds `key` as one of `origin`'s public keys from now on (a node
    /// that renewed its certificate signs with its new key; what it signed
    /// with the old one still verifies).
    fn learn(&mut self, origin: NodeId, key: Vec<u8>) -> Result<(), SignatureError>;
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
/// A node that renewed its certificate has a new key; the old ones are
/// kept (at most [`Ed25519Keyring::KEYS_PER_NODE`], the oldest dropped
/// first), so what it signed before still verifies.
#[derive(Default, Clone)]
pub struct Ed25519Keyring {
    keys: HashMap<NodeId, Vec<Vec<u8>>>,
}

impl Ed25519Keyring {
    /// Most keys held for one node.
    pub const KEYS_PER_NODE: usize = 8;

    /// Whether `public_key` is one of `node`'s keys.
    pub fn holds(&self, node: &NodeId, public_key: &[u8]) -> bool {
        self.keys
            .get(node)
            .is_some_and(|keys| keys.iter().any(|k| k == public_key))
    }

    /// Each node's newest key.
    pub fn newest(&self) -> impl Iterator<Item = (&NodeId, &[u8])> {
        self.keys
            .iter()
            .filter_map(|(node, keys)| keys.last().map(|k| (node, k.as_slice())))
    }

    /// Holds `public_key` as one of `node`'s keys (once).
    pub fn insert(&mut self, node: NodeId, public_key: Vec<u8>) {
        let keys = self.keys.entry(node).or_default();
        if keys.contains(&public_key) {
            return;
        }
        if keys.len() == Ed25519Keyring::KEYS_PER_NODE {
            keys.remove(0);
        }
        keys.push(public_key);
    }
}

/// Length of an Ed25519 public key.
const ED25519_PUBLIC_KEY: usize = 32;

impl SignatureCheck for Ed25519Keyring {
    fn verify(&self, origin: &NodeId, message: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
        let keys = self
            .keys
            .get(origin)
            .ok_or_else(|| SignatureError::UnknownOrigin(origin.clone()))?;
        // The newest key first: it signs nearly everything.
        keys.iter()
            .rev()
            .find(|key| UnparsedPublicKey::new(&ED25519, key).verify(message, signature).is_ok())
            .map(|_| ())
            .ok_or_else(|| SignatureError::Mismatch(origin.clone()))
    }

    fn knows(&self, origin: &NodeId) -> bool {
        self.keys.contains_key(origin)
    }

    fn learn(&mut self, origin: NodeId, key: Vec<u8>) -> Result<(), SignatureError> {
        if key.len() != ED25519_PUBLIC_KEY {
            return Err(SignatureError::BadKey(format!(
                "the key of {origin} is {} bytes long; an Ed25519 public key is {ED25519_PUBLIC_KEY}",
                key.len()
            )));
        }
        self.insert(origin, key);
        Ok(())
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

    /// A check that knows every node's key.
    pub fn check(&self) -> Box<dyn SignatureCheck> {
        Box::new(self.clone())
    }

    /// A check that knows only the keys of `known` and learns others (as
    /// [`TestKeys::public_key`] gives them): a node whose certificates
    /// of other nodes are not loaded yet.
    pub fn knowing(&self, known: impl IntoIterator<Item = NodeId>) -> Box<dyn SignatureCheck> {
        Box::new(TestKeyring {
            keys: self.clone(),
            known: known.into_iter().collect(),
        })
    }

    /// What stands for `node`'s public key: what a driver hands to
    /// [`SignatureCheck::learn`] of a [`TestKeys::knowing`] check.
    pub fn public_key(&self, node: &NodeId) -> Vec<u8> {
        self.secret(node).to_le_bytes().to_vec()
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

    fn knows(&self, _origin: &NodeId) -> bool {
        true
    }

    fn learn(&mut self, _origin: NodeId, _key: Vec<u8>) -> Result<(), SignatureError> {
        Ok(())
    }
}

/// [`TestKeys`] restricted to the nodes it was given or has learned.
struct TestKeyring {
    keys: TestKeys,
    known: BTreeSet<NodeId>,
}

impl SignatureCheck for TestKeyring {
    fn verify(&self, origin: &NodeId, message: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
        if !self.known.contains(origin) {
            return Err(SignatureError::UnknownOrigin(origin.clone()));
        }
        self.keys.verify(origin, message, signature)
    }

    fn knows(&self, origin: &NodeId) -> bool {
        self.known.contains(origin)
    }

    fn learn(&mut self, origin: NodeId, key: Vec<u8>) -> Result<(), SignatureError> {
        if key != self.keys.public_key(&origin) {
            return Err(SignatureError::BadKey(format!("not the key of {origin}")));
        }
        self.known.insert(origin);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;

    #[test]
    fn a_renewed_key_and_the_old_ones_all_verify_up_to_the_bound() {
        let me = NodeId::parse("350102").unwrap();
        let signers: Vec<Ed25519Signer> = (0..=Ed25519Keyring::KEYS_PER_NODE)
            .map(|_| {
                let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
                Ed25519Signer::from_pkcs8(pkcs8.as_ref()).unwrap()
            })
            .collect();
        let mut ring = Ed25519Keyring::default();
        for s in &signers[..2] {
            ring.learn(me.clone(), s.public_key()).unwrap();
        }
        ring.learn(me.clone(), signers[1].public_key()).unwrap();
        for s in &signers[..2] {
            assert_eq!(ring.verify(&me, b"report", &s.sign(b"report")), Ok(()));
        }
        // Past the bound the oldest key goes.
        for s in &signers[2..] {
            ring.learn(me.clone(), s.public_key()).unwrap();
        }
        assert_eq!(
            ring.verify(&me, b"report", &signers[0].sign(b"report")),
            Err(SignatureError::Mismatch(me.clone()))
        );
        let newest = signers.last().unwrap();
        assert_eq!(ring.verify(&me, b"report", &newest.sign(b"report")), Ok(()));
    }

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
    fn a_keyring_learns_only_ed25519_public_keys() {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let signer = Ed25519Signer::from_pkcs8(pkcs8.as_ref()).unwrap();
        let node = NodeId::parse("350121001").unwrap();
        let mut ring = Ed25519Keyring::default();
        assert!(!ring.knows(&node));
        let short = ring.learn(node.clone(), vec![7; 31]).unwrap_err();
        assert!(short.to_string().contains("31 bytes long"), "{short}");
        assert!(!ring.knows(&node), "a bad key is not held");
        ring.learn(node.clone(), signer.public_key()).unwrap();
        assert!(ring.knows(&node));
        assert_eq!(ring.verify(&node, b"m", &signer.sign(b"m")), Ok(()));
    }

    #[test]
    fn restricted_test_keys_learn_only_the_right_key() {
        let keys = TestKeys::new(9);
        let (a, b) = (NodeId::parse("350102").unwrap(), NodeId::parse("350103").unwrap());
        let mut check = keys.knowing([a.clone()]);
        let sig = keys.signer(&b).sign(b"m");
        assert_eq!(
            check.verify(&b, b"m", &sig),
            Err(SignatureError::UnknownOrigin(b.clone()))
        );
        assert!(
            check.learn(b.clone(), keys.public_key(&a)).is_err(),
            "a's key is not b's"
        );
        assert!(!check.knows(&b));
        check.learn(b.clone(), keys.public_key(&b)).unwrap();
        assert_eq!(check.verify(&b, b"m", &sig), Ok(()));
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
