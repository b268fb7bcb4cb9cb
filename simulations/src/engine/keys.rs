//! Test signatures as long as the live ones.
//!
//! Simulated nodes sign with [`TestKeys`] (cheap, seeded, no key files),
//! whose tags are 16 bytes; the live nodes' Ed25519 signatures are 64. On
//! a thin link an envelope's size is its time on the wire, and random
//! bytes do not compress, so a simulated envelope must carry as many of
//! them as a live one: [`WideSigner`] follows the test tag with 48 bytes
//! drawn from it, and [`WideCheck`] checks both parts. Nothing else about
//! the run depends on a signature's bytes (envelope ids come from the
//! cores' seeded generators), so runs on links that ignore sizes replay
//! as before.

use liandong_dispatch::{SignatureCheck, SignatureError, Signer, TestKeys};
use liandong_topology::NodeId;

/// Bytes of a live (Ed25519) signature.
const WIDTH: usize = 64;
/// Bytes of a [`TestKeys`] tag.
const TAG: usize = 16;

/// The 48 bytes that follow a tag: a splitmix stream seeded by it.
fn tail(tag: &[u8]) -> Vec<u8> {
    let mut x = tag.iter().fold(0u64, |h, &b| h.rotate_left(8) ^ u64::from(b));
    let mut out = Vec::with_capacity(WIDTH - TAG);
    while out.len() < WIDTH - TAG {
        x = super::splitmix(x);
        out.extend_from_slice(&x.to_le_bytes());
    }
    out
}

/// A node's [`TestKeys`] signer, widened to the live signature's length.
pub(super) struct WideSigner(pub Box<dyn Signer>);

impl Signer for WideSigner {
    fn sign(&self, message: &[u8]) -> Vec<u8> {
        let mut sig = self.0.sign(message);
        let tail = tail(&sig);
        sig.extend(tail);
        sig
    }
}

/// [`TestKeys`]' check of the tag, and of the bytes that follow it.
pub(super) struct WideCheck(pub Box<dyn SignatureCheck>);

impl WideCheck {
    pub(super) fn new(keys: &TestKeys) -> WideCheck {
        WideCheck(keys.check())
    }
}

impl SignatureCheck for WideCheck {
    fn verify(&self, origin: &NodeId, message: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
        if signature.len() != WIDTH || signature[TAG..] != tail(&signature[..TAG]) {
            return Err(SignatureError::Mismatch(origin.clone()));
        }
        self.0.verify(origin, message, &signature[..TAG])
    }

    fn knows(&self, origin: &NodeId) -> bool {
        self.0.knows(origin)
    }

    fn learn(&mut self, origin: NodeId, key: Vec<u8>) -> Result<(), SignatureError> {
        self.0.learn(origin, key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_signatures_are_live_sized_and_checked_whole() {
        let keys = TestKeys::new(3);
        let id = NodeId::parse("350102001001").unwrap();
        let signer = WideSigner(Box::new(keys.signer(&id)));
        let check = WideCheck::new(&keys);
        let sig = signer.sign(b"report");
        assert_eq!(sig.len(), 64);
        assert!(check.verify(&id, b"report", &sig).is_ok());
        assert!(check.verify(&id, b"other", &sig).is_err());
        let mut bent = sig.clone();
        bent[40] ^= 1;
        assert!(check.verify(&id, b"report", &bent).is_err());
        assert!(check.verify(&id, b"report", &sig[..16]).is_err());
    }
}
