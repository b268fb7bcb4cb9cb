//! The audit log's hash chain, as values: the end of the chain and the
//! hash that links each entry to the one before. Entry `seq` (from 1, no
//! gaps) stores `hash = SHA-256(prev_hash || seq || at || what)` with
//! `seq` and `at` as 8 big-endian bytes and `what` as UTF-8; `prev_hash`
//! is the previous entry's hash, 32 zero bytes for the first.
//!
//! Depends on nothing else in `store`: the batch extends the chain, the
//! audit log reads and verifies it.

use ring::digest::{Context, SHA256};

/// The meta row that records the last entry written.
pub(super) const HEAD_KEY: &str = "audit_head";

/// The last entry of the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Head {
    pub seq: u64,
    pub hash: [u8; 32],
}

impl Head {
    /// Before the first entry.
    pub const GENESIS: Head = Head { seq: 0, hash: [0; 32] };

    pub fn to_meta(self) -> String {
        format!("{} {}", self.seq, hex(&self.hash))
    }

    pub fn from_meta(value: &str) -> Option<Head> {
        let (seq, hash) = value.split_once(' ')?;
        Some(Head {
            seq: seq.parse().ok()?,
            hash: unhex(hash)?,
        })
    }
}

/// The hash of entry `seq`, linked to `prev` (see the module doc).
pub(super) fn chain_hash(prev: &[u8; 32], seq: u64, at: u64, what: &str) -> [u8; 32] {
    let mut ctx = Context::new(&SHA256);
    ctx.update(prev);
    ctx.update(&seq.to_be_bytes());
    ctx.update(&at.to_be_bytes());
    ctx.update(what.as_bytes());
    let mut out = [0; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// Lowercase hex, as hashes are shown and kept in `meta`.
pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    let mut out = [0; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_survives_meta() {
        let head = Head {
            seq: 42,
            hash: chain_hash(&[0; 32], 1, 2, "x"),
        };
        assert_eq!(Head::from_meta(&head.to_meta()), Some(head));
        assert_eq!(Head::from_meta("42 zz"), None);
    }

    #[test]
    fn the_hash_covers_every_field() {
        let base = chain_hash(&[0; 32], 1, 2, "stored");
        assert_ne!(base, chain_hash(&[1; 32], 1, 2, "stored"));
        assert_ne!(base, chain_hash(&[0; 32], 2, 2, "stored"));
        assert_ne!(base, chain_hash(&[0; 32], 1, 3, "stored"));
        assert_ne!(base, chain_hash(&[0; 32], 1, 2, "stored!"));
    }
}
