//! One group commit: a batch of records as the few statements that make
//! the tables equal to the fold.
//!
//! The records are first folded in memory into the net change of the
//! batch (last write wins per key; a Forget drops what the batch itself
//! put for those ids; an Acked on a copy the batch put marks the copy
//! itself), so each key is written once. The statements then run in an
//! order that gives the same result as applying the records one by one:
//! deletes of forgotten envelopes and copies, ack marks on copies already
//! on disk, upserts, and the audit rows in record order. Rows go in
//! multi-row statements of a few fixed sizes, so ~1000 records are a
//! handful of statements that the connection prepares once and reuses.
//!
//! Built in two steps: [`prepare`] does the work (the fold, the blobs,
//! every row but the audit chain's) and needs nothing but the records,
//! so it can run while the commit before is still in flight;
//! [`Prepared::finish`] links the audit rows to the end of the chain,
//! which is known only once that commit is done.

use std::collections::{BTreeMap, BTreeSet};

use liandong_dispatch::figures::{Period, SummaryRecord};
use liandong_dispatch::room::{Room, RoomEntry};
use liandong_dispatch::store::{Incident, OrderRecord, OutboxEntry, Record, StoredEnvelope, TargetStatus};
use liandong_dispatch::{EnvelopeId, Mode, Timestamp};
use liandong_topology::NodeId;
use serde::Serialize;

use super::chain::{HEAD_KEY, Head, chain_hash};
use super::sql::{Arg, Dialect, META_UPSERT, Stmt};

/// Rows per multi-row statement, largest first: a batch of n rows uses at
/// most a few statements of each size, and only these shapes are prepared.
const CHUNKS: [usize; 5] = [256, 64, 16, 4, 1];

/// A copy's change in this batch.
enum CopyChange {
    /// Written whole.
    Put(OutboxEntry),
    /// Only marked on the row already on disk (if it exists).
    Mark { gave_up: bool },
}

/// The net change of one batch.
#[derive(Default)]
struct Change<'r> {
    /// `None`: forgotten.
    envelopes: BTreeMap<EnvelopeId, Option<&'r StoredEnvelope>>,
    /// Ids whose copies on disk (to any peer) are deleted first.
    forgotten: BTreeSet<EnvelopeId>,
    copies: BTreeMap<(&'r NodeId, EnvelopeId), CopyChange>,
    incidents: BTreeMap<EnvelopeId, &'r Incident>,
    orders: BTreeMap<EnvelopeId, &'r OrderRecord>,
    targets: BTreeMap<(EnvelopeId, &'r NodeId), &'r TargetStatus>,
    rooms: BTreeMap<EnvelopeId, &'r Room>,
    room_log: BTreeMap<(EnvelopeId, u64), &'r RoomEntry>,
    /// The highest version per (center, period).
    summaries: BTreeMap<(&'r NodeId, Period), &'r SummaryRecord>,
    /// (at, what, envelope), in record order.
    audit: Vec<(Timestamp, String, Option<EnvelopeId>)>,
}

impl<'r> Change<'r> {
    fn fold(records: &'r [Record], at: Timestamp) -> Change<'r> {
        let mut c = Change::default();
        for record in records {
            match record {
                Record::Envelope(stored) => {
                    c.envelopes.insert(stored.envelope.id, Some(stored));
                    c.audit.push((at, stored_line(stored), Some(stored.envelope.id)));
                }
                Record::Outbox { peer, id, entry } => {
                    c.copies.insert((peer, *id), CopyChange::Put(entry.clone()));
                }
                Record::Acked { peer, id } => c.mark(peer, *id, false),
                Record::GaveUp { peer, id } => c.mark(peer, *id, true),
                Record::Incident(incident) => {
                    c.incidents.insert(incident.id, incident);
                }
                Record::Order(order) => {
                    c.orders.insert(order.id, order);
                }
                Record::Target { order, target, status } => {
                    c.targets.insert((*order, target), status);
                }
                Record::Audit(entry) => c.audit.push((entry.at, entry.what.clone(), None)),
                Record::Room(room) => {
                    c.rooms.insert(room.id, room);
                }
                Record::RoomEntry(entry) => {
                    c.room_log.insert((entry.room, entry.seq), entry);
                }
                Record::Summary(record) => {
                    let s = &record.summary;
                    let held = c.summaries.entry((&s.center, s.period)).or_insert(record);
                    if held.summary.version <= s.version {
                        *held = record;
                    }
                }
                Record::Forget(ids) => {
                    let ids: BTreeSet<EnvelopeId> = ids.iter().copied().collect();
                    for id in &ids {
                        c.envelopes.insert(*id, None);
                    }
                    c.copies.retain(|(_, id), _| !ids.contains(id));
                    c.forgotten.extend(ids);
                }
            }
        }
        c
    }

    fn mark(&mut self, peer: &'r NodeId, id: EnvelopeId, gave_up: bool) {
        match self.copies.get_mut(&(peer, id)) {
            Some(CopyChange::Put(entry)) => {
                entry.acked = true;
                entry.gave_up |= gave_up;
            }
            Some(CopyChange::Mark { gave_up: g }) => *g |= gave_up,
            // Forgotten in this batch: the row is gone, nothing to mark.
            None if self.forgotten.contains(&id) => {}
            None => {
                self.copies.insert((peer, id), CopyChange::Mark { gave_up });
            }
        }
    }
}

/// A batch's statements, all but the audit chain's.
pub(super) struct Prepared {
    statements: Vec<Stmt>,
    /// (at, what, envelope) of each audit entry, in record order.
    audit: Vec<(Timestamp, String, Option<EnvelopeId>)>,
}

impl Prepared {
    /// No row to write.
    pub fn is_empty(&self) -> bool {
        self.statements.is_empty() && self.audit.is_empty()
    }

    /// The statements to run in order: the prepared ones, then the audit
    /// rows appended to the chain after `head` (moved to the new last
    /// entry) with the head's meta row.
    pub fn finish(self, head: &mut Head, sql: Dialect) -> Vec<Stmt> {
        let mut out = self.statements;
        if self.audit.is_empty() {
            return out;
        }
        let mut rows = Vec::with_capacity(self.audit.len());
        for (at, what, envelope) in self.audit {
            let next = head.seq + 1;
            let at = time_arg_u64(at);
            let hash = chain_hash(&head.hash, next, at, &what);
            rows.push(vec![
                Arg::Int(seq_arg(next)),
                Arg::Int(at as i64),
                Arg::Text(what),
                envelope.map_or(Arg::NoBytes, id_arg),
                Arg::Bytes(head.hash.to_vec()),
                Arg::Bytes(hash.to_vec()),
            ]);
            *head = Head { seq: next, hash };
        }
        chunked(&mut out, rows, |n| {
            format!(
                "INSERT INTO audit (seq, at, what, envelope, prev_hash, hash) VALUES {}",
                sql.tuples(6, n)
            )
        });
        out.push(Stmt {
            sql: META_UPSERT.into(),
            args: vec![Arg::Text(HEAD_KEY.into()), Arg::Text(head.to_meta())],
        });
        out
    }
}

/// The statements of `records` but the audit chain's (see the module
/// doc); `at` is the time of the audit entries of stored envelopes.
pub(super) fn prepare(records: &[Record], at: Timestamp, sql: Dialect) -> Result<Prepared, EncodeError> {
    let change = Change::fold(records, at);
    let mut out = Vec::new();

    let forgotten: Vec<Vec<Arg>> = (change.envelopes.iter())
        .filter(|(_, e)| e.is_none())
        .map(|(id, _)| vec![id_arg(*id)])
        .collect();
    chunked(&mut out, forgotten, |n| {
        format!("DELETE FROM envelopes WHERE id IN ({})", sql.list(1, n))
    });
    let forgotten: Vec<Vec<Arg>> = change.forgotten.iter().map(|id| vec![id_arg(*id)]).collect();
    chunked(&mut out, forgotten, |n| {
        format!("DELETE FROM outbox WHERE id IN ({})", sql.list(1, n))
    });

    let (mut acked, mut gave_up) = (Vec::new(), Vec::new());
    for ((peer, id), copy) in &change.copies {
        if let CopyChange::Mark { gave_up: g } = copy {
            let row = vec![Arg::Text(peer.to_string()), id_arg(*id)];
            if *g { gave_up.push(row) } else { acked.push(row) }
        }
    }
    let pairs = |n| sql.any_of(&["peer", "id"], n);
    chunked(&mut out, acked, |n| {
        format!("UPDATE outbox SET acked = TRUE WHERE {}", pairs(n))
    });
    chunked(&mut out, gave_up, |n| {
        format!("UPDATE outbox SET acked = TRUE, gave_up = TRUE WHERE {}", pairs(n))
    });

    let mut rows = Vec::new();
    for stored in change.envelopes.values().flatten() {
        let e = &stored.envelope;
        rows.push(vec![
            id_arg(e.id),
            Arg::Text(e.kind().name().into()),
            Arg::Text(e.origin.to_string()),
            Arg::Text(e.mode.name().into()),
            time_arg(e.created),
            time_arg(e.expires),
            Arg::Bool(stored.catch_up),
            blob(stored)?,
        ]);
    }
    upsert(
        &mut out,
        sql,
        rows,
        "envelopes",
        &["id"],
        &["kind", "origin", "mode", "created", "expires", "catch_up", "data"],
    );

    let mut rows = Vec::new();
    for ((peer, id), copy) in &change.copies {
        if let CopyChange::Put(entry) = copy {
            rows.push(vec![
                Arg::Text(peer.to_string()),
                id_arg(*id),
                Arg::Text(entry.lane.name().into()),
                Arg::Bool(entry.catch_up),
                Arg::Bool(entry.acked),
                Arg::Bool(entry.gave_up),
                blob(entry)?,
            ]);
        }
    }
    upsert(
        &mut out,
        sql,
        rows,
        "outbox",
        &["peer", "id"],
        &["lane", "catch_up", "acked", "gave_up", "data"],
    );

    let mut rows = Vec::new();
    for incident in change.incidents.values() {
        rows.push(vec![
            id_arg(incident.id),
            Arg::Text(incident.origin.to_string()),
            Arg::Text(incident.owner.to_string()),
            Arg::Text(incident.state.name().into()),
            Arg::Text(incident.report.severity.name().into()),
            Arg::Text(incident.mode.name().into()),
            time_arg(incident.reported),
            blob(incident)?,
        ]);
    }
    upsert(
        &mut out,
        sql,
        rows,
        "incidents",
        &["id"],
        &["origin", "owner", "state", "severity", "mode", "reported", "data"],
    );

    let mut rows = Vec::new();
    for order in change.orders.values() {
        rows.push(vec![
            id_arg(order.id),
            Arg::Text(order.issuer.to_string()),
            order.order.incident.map_or(Arg::NoBytes, id_arg),
            Arg::Text(order.mode.name().into()),
            time_arg(order.issued),
            blob(order)?,
        ]);
    }
    upsert(
        &mut out,
        sql,
        rows,
        "orders",
        &["id"],
        &["issuer", "incident", "mode", "issued", "data"],
    );

    let mut rows = Vec::new();
    for ((order, target), status) in &change.targets {
        rows.push(vec![
            id_arg(*order),
            Arg::Text(target.to_string()),
            Arg::Text(status.state.name().into()),
            blob(status)?,
        ]);
    }
    upsert(
        &mut out,
        sql,
        rows,
        "targets",
        &["order_id", "target"],
        &["state", "data"],
    );

    let mut rows = Vec::new();
    for room in change.rooms.values() {
        rows.push(vec![
            id_arg(room.id),
            Arg::Text(room.home.to_string()),
            Arg::Text(room.state.name().into()),
            Arg::Text(room.severity.name().into()),
            Arg::Text(room.mode.name().into()),
            time_arg(room.opened),
            Arg::Int(seq_arg(room.last_seq)),
            blob(room)?,
        ]);
    }
    upsert(
        &mut out,
        sql,
        rows,
        "rooms",
        &["id"],
        &["home", "state", "severity", "mode", "opened", "last_seq", "data"],
    );

    let mut rows = Vec::new();
    for entry in change.room_log.values() {
        rows.push(vec![
            id_arg(entry.room),
            Arg::Int(seq_arg(entry.seq)),
            time_arg(entry.at),
            Arg::Text(entry.line.name().into()),
            blob(entry)?,
        ]);
    }
    upsert(
        &mut out,
        sql,
        rows,
        "room_log",
        &["room", "seq"],
        &["at", "line", "data"],
    );

    let mut rows = Vec::new();
    for ((center, period), record) in &change.summaries {
        rows.push(vec![
            Arg::Text(center.to_string()),
            Arg::Text(period.to_string()),
            Arg::Int(i64::from(record.summary.version)),
            Arg::Bool(record.summary.late),
            time_arg(record.at),
            blob(*record)?,
        ]);
    }
    // A lower version never replaces a higher one, as in the fold.
    chunked(&mut out, rows, |n| {
        format!(
            "INSERT INTO summaries (center, period, version, late, at, data) VALUES {} \
             ON CONFLICT (center, period) DO UPDATE SET version = excluded.version, late = excluded.late, \
             at = excluded.at, data = excluded.data WHERE summaries.version <= excluded.version",
            sql.tuples(6, n)
        )
    });

    Ok(Prepared {
        statements: out,
        audit: change.audit,
    })
}

pub(super) type EncodeError = bincode::error::EncodeError;

/// The audit line for a stored envelope.
fn stored_line(stored: &StoredEnvelope) -> String {
    let e = &stored.envelope;
    let trace: Vec<&str> = stored.trace.iter().map(|h| h.node.as_str()).collect();
    let mut line = format!(
        "stored {} {} from {} (trace: {})",
        e.kind().name(),
        e.id,
        e.origin,
        trace.join(" > ")
    );
    if stored.catch_up {
        line.push_str(" [catch-up]");
    }
    if e.mode == Mode::Exercise {
        line.push_str(" [exercise]");
    }
    line
}

/// `INSERT ... ON CONFLICT (key) DO UPDATE` of whole rows (key columns
/// first, then `rest`).
fn upsert(out: &mut Vec<Stmt>, sql: Dialect, rows: Vec<Vec<Arg>>, table: &str, key: &[&str], rest: &[&str]) {
    let width = key.len() + rest.len();
    let columns = [key, rest].concat().join(", ");
    let set: Vec<String> = rest.iter().map(|c| format!("{c} = excluded.{c}")).collect();
    let (key, set) = (key.join(", "), set.join(", "));
    chunked(out, rows, |n| {
        format!(
            "INSERT INTO {table} ({columns}) VALUES {} ON CONFLICT ({key}) DO UPDATE SET {set}",
            sql.tuples(width, n)
        )
    });
}

/// Statements over `rows`, in chunks of the sizes in [`CHUNKS`];
/// `sql(n)` is the statement for n rows.
pub(super) fn chunked(out: &mut Vec<Stmt>, rows: Vec<Vec<Arg>>, sql: impl Fn(usize) -> String) {
    let mut rows = rows.into_iter().peekable();
    let mut left = rows.len();
    while rows.peek().is_some() {
        let n = CHUNKS.into_iter().find(|&size| size <= left).unwrap_or(1);
        let args: Vec<Arg> = rows.by_ref().take(n).flatten().collect();
        out.push(Stmt { sql: sql(n), args });
        left -= n;
    }
}

fn blob(value: &impl Serialize) -> Result<Arg, EncodeError> {
    bincode::serde::encode_to_vec(value, bincode::config::standard()).map(Arg::Bytes)
}

pub(super) fn id_arg(id: EnvelopeId) -> Arg {
    Arg::Bytes(id.0.to_be_bytes().to_vec())
}

fn time_arg(t: Timestamp) -> Arg {
    Arg::Int(time_arg_u64(t) as i64)
}

/// Milliseconds as stored: at most `i64::MAX` (some 292 million years).
fn time_arg_u64(t: Timestamp) -> u64 {
    t.0.min(i64::MAX as u64)
}

fn seq_arg(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_use_few_shapes() {
        let mut out = Vec::new();
        let rows: Vec<Vec<Arg>> = (0..1000).map(|i| vec![Arg::Int(i)]).collect();
        chunked(&mut out, rows, |n| format!("{n}"));
        let sizes: Vec<&str> = out.iter().map(|s| s.sql.as_str()).collect();
        assert_eq!(sizes, ["256", "256", "256", "64", "64", "64", "16", "16", "4", "4"]);
        let args: Vec<i64> = (out.iter().flat_map(|s| &s.args))
            .map(|a| match a {
                Arg::Int(i) => *i,
                _ => -1,
            })
            .collect();
        assert_eq!(args, (0..1000).collect::<Vec<_>>(), "every row once, in order");
    }
}
