//! The append-only, hash-chained audit log.
//!
//! Entry `seq` (from 1, no gaps) stores `hash = SHA-256(prev_hash || seq
//! || at || what)` with `seq` and `at` as 8 big-endian bytes and `what` as
//! UTF-8; `prev_hash` is the previous entry's hash, 32 zero bytes for the
//! first. Changing, removing or inserting an entry breaks the chain at
//! that entry. The meta row `audit_head` (written in the same transaction
//! as the entries) records the last entry written, so cutting entries off
//! the end shows too. Triggers refuse UPDATE and DELETE on the table;
//! the chain is what catches someone who drops them.
//!
//! This file reads and verifies the log; the chain's values (the head,
//! the hash) are `chain.rs`, which the batch also uses to extend it.

use std::fmt;

use liandong_dispatch::{EnvelopeId, Timestamp};

use super::backend::Backend;
use super::chain::{HEAD_KEY, Head, chain_hash, hex};
use super::error::{AuditProblem, StoreError};
use super::sql::Arg;

/// Rows read per query while verifying, so memory stays bounded.
const VERIFY_PAGE: i64 = 10_000;

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    pub seq: u64,
    pub at: Timestamp,
    pub what: String,
    /// The envelope this entry records the storing of; `None` for the
    /// core's own audit entries (`Record::Audit`).
    pub envelope: Option<EnvelopeId>,
    pub prev_hash: [u8; 32],
    pub hash: [u8; 32],
}

/// A verified audit log: how many entries, and the hash of the last one
/// (all zeros for an empty log). Writing the hash down elsewhere lets a
/// later check prove nothing before it changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditCheck {
    pub entries: u64,
    pub last_hash: [u8; 32],
}

impl fmt::Display for AuditCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} entries, chain intact, last hash {}",
            self.entries,
            hex(&self.last_hash)
        )
    }
}

type RawRow = (i64, i64, String, Option<Vec<u8>>, Vec<u8>, Vec<u8>);

const COLUMNS: &str = "seq, at, what, envelope, prev_hash, hash";

impl AuditRow {
    fn from_raw(raw: RawRow, place: &str) -> Result<AuditRow, StoreError> {
        let (seq, at, what, envelope, prev_hash, hash) = raw;
        let bad = |detail: &str| StoreError::corrupt(place, format!("audit entry {seq}"), detail);
        let envelope = match envelope {
            Some(bytes) => Some(EnvelopeId(u128::from_be_bytes(
                bytes.try_into().map_err(|_| bad("envelope id is not 16 bytes"))?,
            ))),
            None => None,
        };
        Ok(AuditRow {
            seq: seq as u64,
            at: Timestamp(at as u64),
            what,
            envelope,
            prev_hash: prev_hash.try_into().map_err(|_| bad("prev_hash is not 32 bytes"))?,
            hash: hash.try_into().map_err(|_| bad("hash is not 32 bytes"))?,
        })
    }
}

/// The last entry on disk.
pub(super) async fn last(backend: &Backend, place: &str) -> Result<Head, StoreError> {
    let rows: Vec<(i64, Vec<u8>)> = (backend.fetch("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", &[]))
        .await
        .map_err(|e| StoreError::from_db(e, place, "reading the end of the audit log"))?;
    match rows.into_iter().next() {
        None => Ok(Head::GENESIS),
        Some((seq, hash)) => Ok(Head {
            seq: seq as u64,
            hash: hash
                .try_into()
                .map_err(|_| StoreError::corrupt(place, format!("audit entry {seq}"), "hash is not 32 bytes"))?,
        }),
    }
}

/// The last entry the store recorded writing (meta `audit_head`).
pub(super) async fn recorded_head(backend: &Backend, place: &str) -> Result<Head, StoreError> {
    let rows: Vec<(String,)> = (backend.fetch("SELECT value FROM meta WHERE key = $1", &[Arg::Text(HEAD_KEY.into())]))
        .await
        .map_err(|e| StoreError::from_db(e, place, "reading the audit head"))?;
    match rows.into_iter().next() {
        None => Ok(Head::GENESIS),
        Some((value,)) => Head::from_meta(&value)
            .ok_or_else(|| StoreError::corrupt(place, "the recorded audit head", format!("{value:?}"))),
    }
}

pub(super) async fn tail(backend: &Backend, place: &str, n: u32) -> Result<Vec<AuditRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM audit ORDER BY seq DESC LIMIT $1");
    let rows: Vec<RawRow> = (backend.fetch(&sql, &[Arg::Int(i64::from(n))]))
        .await
        .map_err(|e| StoreError::from_db(e, place, "reading the audit log"))?;
    let mut rows = (rows.into_iter().map(|r| AuditRow::from_raw(r, place))).collect::<Result<Vec<_>, _>>()?;
    rows.reverse();
    Ok(rows)
}

/// Walks the whole chain, a page at a time. Commits may go on meanwhile:
/// the recorded head read before the walk must be on the chain, and the
/// chain may not go past the recorded head read after it.
pub(super) async fn verify(backend: &Backend, place: &str) -> Result<AuditCheck, StoreError> {
    let broken = |seq: u64, problem: AuditProblem| StoreError::Audit {
        place: place.to_owned(),
        seq,
        problem,
    };
    let before = recorded_head(backend, place).await?;
    let sql = format!("SELECT {COLUMNS} FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2");
    let mut head = Head::GENESIS;
    loop {
        let page: Vec<RawRow> = (backend.fetch(&sql, &[Arg::Int(head.seq as i64), Arg::Int(VERIFY_PAGE)]))
            .await
            .map_err(|e| StoreError::from_db(e, place, "reading the audit log"))?;
        let done = (page.len() as i64) < VERIFY_PAGE;
        for raw in page {
            let row = AuditRow::from_raw(raw, place)?;
            let expected = head.seq + 1;
            if row.seq != expected {
                return Err(broken(expected, AuditProblem::Gap { next: row.seq }));
            }
            if row.prev_hash != head.hash {
                return Err(broken(row.seq, AuditProblem::BrokenLink));
            }
            if chain_hash(&row.prev_hash, row.seq, row.at.0, &row.what) != row.hash {
                return Err(broken(row.seq, AuditProblem::HashMismatch));
            }
            if row.seq == before.seq && row.hash != before.hash {
                // Rewritten with a fresh hash, but not the one written.
                return Err(broken(row.seq, AuditProblem::HashMismatch));
            }
            head = Head {
                seq: row.seq,
                hash: row.hash,
            };
        }
        if done {
            break;
        }
    }
    if head.seq < before.seq {
        return Err(broken(head.seq + 1, AuditProblem::Truncated { last: before.seq }));
    }
    let after = recorded_head(backend, place).await?;
    if head.seq > after.seq {
        return Err(broken(after.seq + 1, AuditProblem::Unrecorded { last: after.seq }));
    }
    Ok(AuditCheck {
        entries: head.seq,
        last_hash: head.hash,
    })
}
