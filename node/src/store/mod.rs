//! The durable store: where a node's [`Record`]s go before anything that
//! depends on them happens.
//!
//! The core keeps its durable state as a fold over records
//! ([`liandong_dispatch::store`]); the driver hands every
//! `Effect::Persist` to [`Durable::commit`] and, after a restart, gives
//! [`Durable::load`] to `Core::restore`. `load` returns exactly the fold of
//! every committed record, in order, over `Store::default()`.
//!
//! # Backends
//! SQLite by default ([`StoreLocation::choose`]: `DATA/node.db`, WAL,
//! `synchronous=FULL` so a commit is on disk when it returns, a busy
//! timeout; readers on sqlx's pool, every commit on one writer thread
//! that owns its connection, see `writer.rs`), or
//! PostgreSQL with `--database postgres://...` (one database per node,
//! created on first open if the role may). Both run the same SQL through
//! the same code (the generated batch statements differ a little for
//! speed: `?` parameters on SQLite, `$n` on PostgreSQL); only opening, the
//! migrations (`node/migrations/{sqlite,postgres}`, run at every open) and
//! two small primitives are per backend (see `backend.rs`).
//!
//! # Schema
//! `meta` (key/value: `node`, `schema`, `audit_head`), `envelopes`,
//! `outbox` (primary key peer + id), `incidents`, `orders`, `targets`
//! (order + target), `rooms` and `room_log` (room + seq), `summaries`
//! (center + period, the highest version), `audit`, and
//! `certificates` (other nodes' certificates this node learned, node +
//! serial; not part of the core's fold, see `certificates.rs`), and
//! `webhook_deliveries` (the gateway's events out, subscription + event,
//! written with the records of the turn that made them; see `webhooks.rs`). Every state row keeps its dispatch value
//! whole as a bincode (serde) blob in `data`, so the schema does not chase
//! every field; beside it are only the columns an operator or a query
//! filters on (kind, origin, expiry, owner, state, severity, mode, lane,
//! acked...). Ids are 16 big-endian bytes, times milliseconds since the
//! Unix epoch. In `outbox`, the `acked`/`gave_up` columns are the truth
//! (Acked and GaveUp only update them), overriding the flags in `data`.
//!
//! # Group commit
//! One [`Durable::commit`] is one transaction and one sync, however many
//! records: the driver batches the Persists of many inputs into one call.
//! The batch is folded in memory into its net change, then written with
//! multi-row statements of a few fixed sizes (see `batch.rs`). If the
//! commit fails nothing of the batch is kept, and the error says why in
//! operator words ([`StoreError::is_full`], [`StoreError::is_unreachable`]).
//!
//! # Audit log
//! Append-only (triggers refuse UPDATE and DELETE) and hash-chained (see
//! `chain.rs` for the exact hash), so tampering shows in
//! [`Durable::verify_audit`]. It gets one entry per `Record::Audit` (at
//! the entry's own time) and one per `Record::Envelope` ("stored report
//! 3fa2b1c09d11 from 350121001001 (trace: ...)", at the commit's time), so
//! it lists everything the node took responsibility for. `load` puts only
//! the `Record::Audit` entries in `Store::audit` (the last
//! [`AUDIT_IN_MEMORY`]) and `Store::audit_count`, exactly as the fold
//! does; [`Durable::audit_tail`] shows every entry.
//!
//! # Files
//! Dependencies point one way, up this list: `sql` (bound values,
//! statements, the two dialects), `chain` (the audit log's hash chain)
//! and `error` use nothing else in `store`; `writer` (SQLite's commits
//! on a thread of its own) uses `sql` and `error`; `backend` runs `sql`
//! statements on either database; `batch` turns a batch of records into
//! statements and extends the chain; `audit` reads and verifies the log
//! through `backend`; this file ties them into [`Durable`].

mod audit;
mod backend;
mod batch;
mod certificates;
mod chain;
mod claim;
mod error;
mod sql;
mod webhooks;
mod writer;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use liandong_dispatch::figures::SummaryRecord;
use liandong_dispatch::room::{Room, RoomEntry};
use liandong_dispatch::store::{AUDIT_IN_MEMORY, AuditEntry, Incident, OrderRecord, OutboxEntry, StoredEnvelope};
use liandong_dispatch::{EnvelopeId, Record, Store, Timestamp};
use liandong_topology::NodeId;
use serde::de::DeserializeOwned;
use sqlx::migrate::MigrateError;
use tokio::sync::Mutex;

pub use audit::{AuditCheck, AuditRow};
pub use certificates::CERTIFICATES_PER_NODE;
pub use error::{AuditProblem, StoreError, redact_url};
pub use webhooks::{DeliveryCounts, DeliveryState, DueDelivery, NewDelivery};

use backend::Backend;
use chain::Head;
use error::DbError;
use sql::{Arg, META_UPSERT, Stmt};

/// The SQLite file in the data directory.
pub const SQLITE_FILE: &str = "node.db";

/// Where a node keeps its durable state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// The database file, e.g. `DATA/node.db`.
    Sqlite(PathBuf),
    /// A `postgres://` url.
    Postgres(String),
}

impl StoreLocation {
    /// `--database` given: PostgreSQL at that url (only `postgres://` and
    /// `postgresql://` are accepted); otherwise SQLite at
    /// `data_dir/node.db`.
    pub fn choose(database: Option<&str>, data_dir: &Path) -> Result<StoreLocation, StoreError> {
        match database {
            None => Ok(StoreLocation::Sqlite(data_dir.join(SQLITE_FILE))),
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Ok(StoreLocation::Postgres(url.to_owned()))
            }
            Some(other) => Err(StoreError::NotPostgres {
                value: redact_url(other),
            }),
        }
    }
}

impl fmt::Display for StoreLocation {
    /// The file path, or the url without its password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreLocation::Sqlite(path) => write!(f, "{}", path.display()),
            StoreLocation::Postgres(url) => f.write_str(&redact_url(url)),
        }
    }
}

#[derive(Debug, Default, Clone)]
pub struct StoreOptions {
    /// Test and drill hook: cap the SQLite file at this many pages
    /// (`PRAGMA max_page_count`), so a "disk full" happens for real
    /// (SQLITE_FULL) at a chosen size. Ignored by PostgreSQL.
    pub max_pages: Option<u32>,
}

/// A node's open store. Cheap to clone (clones share the pool and the
/// commit order); `Send + Sync`.
#[derive(Clone)]
pub struct Durable {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Backend,
    /// PostgreSQL: the connection holding this process's claim on the
    /// database (`claim`), checked before every commit, taken again if it
    /// was lost, closed with the store.
    claim: Mutex<Option<sqlx::PgConnection>>,
    /// PostgreSQL: the url and node to take the claim again with.
    claimant: Option<(String, String)>,
    /// The file or the url without password, for messages.
    place: String,
    /// The end of the audit chain on disk; `None` while a write is in
    /// flight or after it failed, until read again. Held for the whole of
    /// a commit (and a load), which serializes commits: one writer.
    head: Mutex<Option<Head>>,
}

/// A batch made into statements ahead of its commit
/// ([`Durable::prepare_commit`]); [`Durable::commit_prepared`] commits it.
pub struct PreparedBatch {
    batch: batch::Prepared,
    webhooks: Vec<Stmt>,
    /// How many records it holds, for errors.
    records: usize,
}

impl PreparedBatch {
    /// Nothing to write: no row of any table.
    fn is_empty(&self) -> bool {
        self.batch.is_empty() && self.webhooks.is_empty()
    }
}

/// What an error says of a batch none of whose records was stored.
fn batch_of(records: usize) -> String {
    format!("a batch of {records} records (none of them was stored)")
}

impl Durable {
    /// Opens the store (creating it if needed) and brings its schema up to
    /// date. The store remembers the node it belongs to: opening it for
    /// another node is refused with an error naming both.
    pub async fn open(location: &StoreLocation, node: &NodeId, options: StoreOptions) -> Result<Durable, StoreError> {
        let place = location.to_string();
        let backend = match location {
            StoreLocation::Sqlite(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    tokio::fs::create_dir_all(dir).await.map_err(|e| StoreError::Database {
                        place: place.clone(),
                        doing: format!("creating the directory {}", dir.display()),
                        detail: e.to_string(),
                    })?;
                }
                Backend::open_sqlite(path, options.max_pages).await
            }
            StoreLocation::Postgres(url) => Backend::open_postgres(url).await.map_err(DbError::from),
        }
        .map_err(|e| StoreError::from_db(e, &place, "opening the store"))?;
        let (claim, claimant) = match location {
            StoreLocation::Postgres(url) => match claim::postgres(url, node.as_str(), &place).await {
                Ok(conn) => (Some(conn), Some((url.clone(), node.to_string()))),
                Err(e) => {
                    backend.close().await;
                    return Err(e);
                }
            },
            StoreLocation::Sqlite(_) => (None, None),
        };
        let durable = Durable {
            inner: Arc::new(Inner {
                backend,
                claim: Mutex::new(claim),
                claimant,
                place,
                head: Mutex::new(None),
            }),
        };
        match durable.prepare(node).await {
            Ok(()) => Ok(durable),
            Err(e) => {
                durable.inner.backend.close().await;
                Err(e)
            }
        }
    }

    /// Migrations, the node guard, the chain head.
    async fn prepare(&self, node: &NodeId) -> Result<(), StoreError> {
        let Inner {
            backend, place, head, ..
        } = &*self.inner;
        let schema = backend.migrate().await.map_err(|e| migrate_error(e, backend, place))?;
        let doing = "recording which node the store belongs to";
        let sql = |e: DbError| StoreError::from_db(e, place, doing);
        let claim = "INSERT INTO meta (key, value) VALUES ('node', $1) ON CONFLICT (key) DO NOTHING";
        backend
            .write(vec![Stmt {
                sql: claim.into(),
                args: vec![Arg::Text(node.to_string())],
            }])
            .await
            .map_err(sql)?;
        let owner: Vec<(String,)> = backend
            .fetch("SELECT value FROM meta WHERE key = 'node'", &[])
            .await
            .map_err(|e| sql(e.into()))?;
        let owner = owner.into_iter().next().map(|(v,)| v).unwrap_or_default();
        if owner != node.as_str() {
            return Err(StoreError::WrongNode {
                place: place.clone(),
                stored: owner,
                given: node.to_string(),
            });
        }
        backend
            .write(vec![Stmt {
                sql: META_UPSERT.into(),
                args: vec![Arg::Text("schema".into()), Arg::Text(schema.to_string())],
            }])
            .await
            .map_err(sql)?;
        let last = audit::last(backend, place).await?;
        let recorded = audit::recorded_head(backend, place).await?;
        if last != recorded {
            tracing::warn!(
                store = %place,
                last = last.seq,
                recorded = recorded.seq,
                "the audit log does not end where the store recorded: run an audit check"
            );
        }
        *head.lock().await = Some(last);
        tracing::info!(store = %place, %node, schema, audit_entries = last.seq, "store open");
        Ok(())
    }

    /// The file path or the url without password, for logs.
    pub fn place(&self) -> &str {
        &self.inner.place
    }

    /// The fold of everything committed so far, for `Core::restore`.
    pub async fn load(&self) -> Result<Store, StoreError> {
        // No commit of ours runs while we read.
        let _commits = self.inner.head.lock().await;
        let (backend, place) = (&self.inner.backend, self.inner.place.as_str());
        let read = |e| StoreError::from_db(e, place, "loading the store");
        let mut store = Store::default();

        let rows: Vec<(Vec<u8>, Vec<u8>)> = backend
            .fetch("SELECT id, data FROM envelopes", &[])
            .await
            .map_err(read)?;
        for (id, data) in rows {
            let id = envelope_id(&id, place, "an envelope id")?;
            let stored: StoredEnvelope = decode(&data, place, || format!("envelope {id}"))?;
            if stored.envelope.id != id {
                return Err(StoreError::corrupt(
                    place,
                    format!("envelope {id}"),
                    "its row holds another envelope",
                ));
            }
            store.envelopes.insert(id, stored);
        }

        let rows: Vec<OutboxRow> = backend
            .fetch("SELECT peer, id, acked, gave_up, data FROM outbox", &[])
            .await
            .map_err(read)?;
        for (peer, id, acked, gave_up, data) in rows {
            let id = envelope_id(&id, place, "an outbox id")?;
            let what = || format!("the copy of {id} for {peer}");
            let peer = NodeId::parse(&peer).map_err(|e| StoreError::corrupt(place, what(), e))?;
            let mut entry: OutboxEntry = decode(&data, place, what)?;
            entry.acked = acked;
            entry.gave_up = gave_up;
            store.outbox.insert((peer, id), entry);
        }

        let rows: Vec<(Vec<u8>,)> = backend.fetch("SELECT data FROM incidents", &[]).await.map_err(read)?;
        for (data,) in rows {
            let incident: Incident = decode(&data, place, || "an incident".into())?;
            store.incidents.insert(incident.id, incident);
        }
        store.reindex();

        let rows: Vec<(Vec<u8>,)> = backend.fetch("SELECT data FROM orders", &[]).await.map_err(read)?;
        for (data,) in rows {
            let order: OrderRecord = decode(&data, place, || "an order".into())?;
            store.orders.insert(order.id, order);
        }

        let rows: Vec<(Vec<u8>, String, Vec<u8>)> = backend
            .fetch("SELECT order_id, target, data FROM targets", &[])
            .await
            .map_err(read)?;
        for (order, target, data) in rows {
            let order = envelope_id(&order, place, "an order id")?;
            let what = || format!("target {target} of order {order}");
            let node = NodeId::parse(&target).map_err(|e| StoreError::corrupt(place, what(), e))?;
            let status = decode(&data, place, what)?;
            store.targets.entry(order).or_default().insert(node, status);
        }

        let rows: Vec<(Vec<u8>,)> = backend.fetch("SELECT data FROM rooms", &[]).await.map_err(read)?;
        for (data,) in rows {
            let room: Room = decode(&data, place, || "a coordination room".into())?;
            store.rooms.insert(room.id, room);
        }
        let rows: Vec<(Vec<u8>,)> = backend.fetch("SELECT data FROM room_log", &[]).await.map_err(read)?;
        for (data,) in rows {
            let entry: RoomEntry = decode(&data, place, || "a room log entry".into())?;
            store.room_log.insert((entry.room, entry.seq), entry);
        }
        let rows: Vec<(Vec<u8>,)> = backend.fetch("SELECT data FROM summaries", &[]).await.map_err(read)?;
        for (data,) in rows {
            let record: SummaryRecord = decode(&data, place, || "a summary of figures".into())?;
            store
                .summaries
                .insert((record.summary.center.clone(), record.summary.period), record);
        }

        let rows: Vec<(i64, String)> = backend
            .fetch(
                "SELECT at, what FROM audit WHERE envelope IS NULL ORDER BY seq DESC LIMIT $1",
                &[Arg::Int(AUDIT_IN_MEMORY as i64)],
            )
            .await
            .map_err(read)?;
        store.audit = (rows.into_iter().rev())
            .map(|(at, what)| AuditEntry {
                at: Timestamp(at as u64),
                what,
            })
            .collect();
        let count: Vec<(i64,)> = backend
            .fetch("SELECT COUNT(*) FROM audit WHERE envelope IS NULL", &[])
            .await
            .map_err(read)?;
        store.audit_count = count.first().map_or(0, |(n,)| *n as u64);
        Ok(store)
    }

    /// Makes `records` durable in one transaction (one sync, however many
    /// records). `at` is the driver's clock, for the audit entries of
    /// stored envelopes. On error nothing of the batch is kept.
    pub async fn commit(&self, records: &[Record], at: Timestamp) -> Result<(), StoreError> {
        self.commit_with(records, &[], at).await
    }

    /// [`Durable::commit`], and the webhook `deliveries` of the events
    /// these records made, in the same transaction: both are kept, or
    /// (on error) neither.
    pub async fn commit_with(
        &self,
        records: &[Record],
        deliveries: &[NewDelivery],
        at: Timestamp,
    ) -> Result<(), StoreError> {
        self.commit_prepared(self.prepare_commit(records, deliveries, at)?)
            .await
    }

    /// The work of [`Durable::commit_with`] that needs nothing from the
    /// store: the records folded and encoded into statements, every row
    /// but the audit chain's. No I/O, so it can be done while the commit
    /// before is in flight; [`Durable::commit_prepared`] commits it. An
    /// error here is an encoding error, and nothing was written.
    pub fn prepare_commit(
        &self,
        records: &[Record],
        deliveries: &[NewDelivery],
        at: Timestamp,
    ) -> Result<PreparedBatch, StoreError> {
        let sql = self.inner.backend.dialect();
        let batch = batch::prepare(records, at, sql).map_err(|e| StoreError::Database {
            place: self.inner.place.clone(),
            doing: format!("encoding {}", batch_of(records.len())),
            detail: e.to_string(),
        })?;
        Ok(PreparedBatch {
            batch,
            webhooks: webhooks::statements(deliveries, sql),
            records: records.len(),
        })
    }

    /// Commits a [`PreparedBatch`] in one transaction (one sync), its
    /// audit rows appended to the chain as it ends on disk now. Commits
    /// go one at a time, in the order they get here; on error nothing of
    /// the batch is kept.
    pub async fn commit_prepared(&self, prepared: PreparedBatch) -> Result<(), StoreError> {
        if prepared.is_empty() {
            return Ok(());
        }
        let (backend, place) = (&self.inner.backend, self.inner.place.as_str());
        let mut head = self.inner.head.lock().await;
        self.hold_claim().await?;
        let start = match *head {
            Some(h) => h,
            None => audit::last(backend, place).await?,
        };
        let mut end = start;
        let mut statements = prepared.batch.finish(&mut end, backend.dialect());
        statements.extend(prepared.webhooks);
        // Unknown while the write is in flight, and after it fails: the
        // next commit reads the end of the chain from disk again (also if
        // this future is dropped mid-commit).
        *head = None;
        backend
            .write(statements)
            .await
            .map_err(|e| StoreError::from_db(e, place, format!("committing {}", batch_of(prepared.records))))?;
        *head = Some(end);
        Ok(())
    }

    /// PostgreSQL: that this process still holds its claim on the database
    /// before it writes. The claim lives with its connection; a server
    /// restart or a cut connection loses it, and another process could
    /// then take the database. A lost claim is taken again (waiting as a
    /// start does for a dead holder's to go), or the commit is refused
    /// naming who holds it now, and every later one until it is free.
    async fn hold_claim(&self) -> Result<(), StoreError> {
        let Some((url, node)) = &self.inner.claimant else {
            return Ok(());
        };
        let mut claim = self.inner.claim.lock().await;
        if let Some(conn) = claim.as_mut() {
            use sqlx::Connection;
            if conn.ping().await.is_ok() {
                return Ok(());
            }
            tracing::warn!(store = %self.inner.place, "the store's claim on its database was lost (its connection ended): taking it again");
        }
        // Dropped, not closed: the connection is gone already.
        *claim = None;
        *claim = Some(claim::postgres(url, node, &self.inner.place).await?);
        tracing::info!(store = %self.inner.place, "the store holds its claim on its database again");
        Ok(())
    }

    /// Walks the audit hash chain from the first entry: how many entries
    /// and the last hash, or an error naming the first bad entry and what
    /// is wrong with it.
    pub async fn verify_audit(&self) -> Result<AuditCheck, StoreError> {
        audit::verify(&self.inner.backend, &self.inner.place).await
    }

    /// The most recent `n` audit entries, oldest first.
    pub async fn audit_tail(&self, n: u32) -> Result<Vec<AuditRow>, StoreError> {
        audit::tail(&self.inner.backend, &self.inner.place, n).await
    }

    /// Closes the pool (for every clone), waiting for work in flight.
    pub async fn close(self) {
        self.inner.backend.close().await;
        let claim = self.inner.claim.lock().await.take();
        if let Some(conn) = claim {
            use sqlx::Connection;
            let _ = conn.close().await;
        }
    }
}

/// peer, id, acked, gave_up, data
type OutboxRow = (String, Vec<u8>, bool, bool, Vec<u8>);

fn migrate_error(err: MigrateError, backend: &Backend, place: &str) -> StoreError {
    let known = Backend::known_version(backend.migrator());
    match err {
        MigrateError::VersionMissing(found) if found > known => StoreError::TooNew {
            place: place.to_owned(),
            found,
            known,
        },
        MigrateError::Execute(e) => StoreError::from_db(e, place, "bringing the schema up to date"),
        MigrateError::ExecuteMigration(e, v) => {
            StoreError::from_db(e, place, format!("bringing the schema up to version {v}"))
        }
        other => StoreError::Database {
            place: place.to_owned(),
            doing: "bringing the schema up to date".into(),
            detail: other.to_string(),
        },
    }
}

fn envelope_id(bytes: &[u8], place: &str, what: &str) -> Result<EnvelopeId, StoreError> {
    let bytes: [u8; 16] = bytes
        .try_into()
        .map_err(|_| StoreError::corrupt(place, what, format!("{} bytes, not 16", bytes.len())))?;
    Ok(EnvelopeId(u128::from_be_bytes(bytes)))
}

fn decode<T: DeserializeOwned>(bytes: &[u8], place: &str, what: impl FnOnce() -> String) -> Result<T, StoreError> {
    match bincode::serde::decode_from_slice(bytes, bincode::config::standard()) {
        Ok((value, used)) if used == bytes.len() => Ok(value),
        Ok((_, used)) => Err(StoreError::corrupt(
            place,
            what(),
            format!("{} bytes left over after decoding", bytes.len() - used),
        )),
        Err(e) => Err(StoreError::corrupt(place, what(), e)),
    }
}

/// The driver runs the store on tokio tasks: every future must be `Send`.
#[allow(dead_code)]
fn futures_are_send(d: &Durable, node: &NodeId, location: &StoreLocation) {
    fn send<T: Send>(_: T) {}
    send(Durable::open(location, node, StoreOptions::default()));
    send(d.load());
    send(d.commit(&[], Timestamp(0)));
    send(d.commit_with(&[], &[], Timestamp(0)));
    send(d.pending_deliveries(1));
    send(d.delivery_counts());
    send(d.verify_audit());
    send(d.audit_tail(1));
    send(d.certificates(node));
    send(d.clone().close());
}
