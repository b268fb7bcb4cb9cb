//! The durable store, one suite for both backends: every test below runs
//! on SQLite (a file in a temp dir) and on PostgreSQL (a fresh database
//! on the server named by `LIANDONG_TEST_POSTGRES`, e.g.
//! `postgres://liandong@127.0.0.1:5432/postgres`, dropped afterwards).
//! Without that variable the PostgreSQL half is skipped, unless `CI` is
//! set: then it fails, so CI cannot silently lose it (`.ci/run` starts a
//! private server and sets both).
//!
//! The oracle is the fold itself: whatever was committed, `load()` must
//! equal applying the same records in order to `Store::default()`.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use liandong_dispatch::figures::{Breakdown, Figures, Period, Summary, SummaryRecord};
use liandong_dispatch::room::{Closing, Presence};
use liandong_dispatch::store::{AUDIT_IN_MEMORY, AuditEntry, OutboxEntry, StoredEnvelope, TimelineEntry};
use liandong_dispatch::wire::{Hop, Role, Update};
use liandong_dispatch::{
    Action, Body, Category, Command, Core, CoreConfig, Effect, Envelope, EnvelopeId, Incident, IncidentState, Lane,
    Mode, Order, OrderRecord, Person, Record, Report, Room, RoomEntry, RoomLine, RoomState, RoomTask, Store,
    TargetState, TargetStatus, Targets, TestKeys, Timestamp,
};
use liandong_node::store::{
    AuditProblem, DeliveryState, Durable, NewDelivery, StoreError, StoreLocation, StoreOptions,
};
use liandong_topology::{Addressing, NodeId, Preset, Severity, Shape, generate};
use sqlx::{Connection, Executor};
use tempfile::TempDir;

// ---- the harness: one test body, two backends ----

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Engine {
    Sqlite,
    Postgres,
}

/// One test's own database.
struct Db {
    engine: Engine,
    location: StoreLocation,
    _dir: Option<TempDir>,
}

const ME: &str = "350102001001";

impl Db {
    async fn open(&self) -> Durable {
        self.open_as(ME, StoreOptions::default()).await.expect("open the store")
    }

    async fn open_as(&self, node: &str, options: StoreOptions) -> Result<Durable, StoreError> {
        Durable::open(&self.location, &id(node), options).await
    }

    /// Raw SQL on a connection of its own, as an operator with a shell
    /// would run it.
    async fn exec(&self, sql: &str) -> Result<(), sqlx::Error> {
        match &self.location {
            StoreLocation::Sqlite(path) => {
                let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(path);
                let mut conn = sqlx::SqliteConnection::connect_with(&opts).await?;
                conn.execute(sql).await?;
                conn.close().await
            }
            StoreLocation::Postgres(url) => {
                let mut conn = sqlx::PgConnection::connect(url).await?;
                conn.execute(sql).await?;
                conn.close().await
            }
        }
    }

    /// SQL that differs between the backends.
    fn pick<'a>(&self, sqlite: &'a str, postgres: &'a str) -> &'a str {
        match self.engine {
            Engine::Sqlite => sqlite,
            Engine::Postgres => postgres,
        }
    }
}

static DATABASES: AtomicU32 = AtomicU32::new(0);

/// Runs `test` against a fresh database of `engine`, then removes it (also
/// when the test fails).
async fn run<F, Fut>(engine: Engine, name: &str, test: F)
where
    F: FnOnce(Db) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    match engine {
        Engine::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let location = StoreLocation::Sqlite(dir.path().join("data").join("node.db"));
            let outcome = tokio::spawn(test(Db {
                engine,
                location,
                _dir: Some(dir),
            }))
            .await;
            if let Err(e) = outcome {
                std::panic::resume_unwind(e.into_panic());
            }
        }
        Engine::Postgres => {
            let Ok(server) = std::env::var("LIANDONG_TEST_POSTGRES") else {
                if std::env::var_os("CI").is_some() {
                    panic!(
                        "CI is set but LIANDONG_TEST_POSTGRES is not: the PostgreSQL half of the store suite must run"
                    );
                }
                eprintln!(
                    "skipping {name} on PostgreSQL: set LIANDONG_TEST_POSTGRES=postgres://user@host:port/postgres"
                );
                return;
            };
            let n = DATABASES.fetch_add(1, Ordering::Relaxed);
            let short: String = name.chars().take(32).collect();
            let database = format!("ld_{short}_{}_{n}", std::process::id());
            let mut admin = sqlx::PgConnection::connect(&server)
                .await
                .expect("connect to LIANDONG_TEST_POSTGRES");
            sqlx::raw_sql(&format!("CREATE DATABASE \"{database}\""))
                .execute(&mut admin)
                .await
                .unwrap();
            let location = StoreLocation::Postgres(with_database(&server, &database));
            let outcome = tokio::spawn(test(Db {
                engine,
                location,
                _dir: None,
            }))
            .await;
            sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)"))
                .execute(&mut admin)
                .await
                .unwrap();
            if let Err(e) = outcome {
                std::panic::resume_unwind(e.into_panic());
            }
        }
    }
}

/// `url` with its database replaced by `database`.
fn with_database(url: &str, database: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a postgres:// url");
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let query = rest[end..]
        .split_once('?')
        .map(|(_, q)| format!("?{q}"))
        .unwrap_or_default();
    format!("{scheme}://{}/{database}{query}", &rest[..end])
}

/// Declares each test once per backend: `sqlite::name` and `postgres::name`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::run(super::Engine::Sqlite, stringify!($name), super::$name).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    super::run(super::Engine::Postgres, stringify!($name), super::$name).await
                }
            )*
        }
    };
}

on_both_backends!(
    an_empty_store_loads_empty,
    random_batches_load_as_their_fold,
    a_batch_applies_in_record_order,
    a_real_core_restores_from_what_it_committed,
    reopening_keeps_everything_and_the_chain_goes_on,
    another_node_is_refused,
    a_store_from_a_newer_build_is_refused,
    a_failed_commit_keeps_nothing_of_its_batch,
    a_batch_prepared_ahead_joins_the_chain_where_it_ends_at_its_commit,
    the_last_audit_entries_are_kept_in_memory,
    the_audit_chain_verifies_and_shows_a_changed_entry,
    the_audit_chain_shows_missing_entries,
    learned_certificates_are_kept_by_serial_newest_first,
    webhook_deliveries_are_kept_with_their_batch_once_each,
);

/// PostgreSQL only: the store claims its database for one process.
mod postgres_claim {
    #[tokio::test]
    async fn a_second_process_on_the_database_is_refused_naming_the_first() {
        super::run(
            super::Engine::Postgres,
            "a_second_process_is_refused",
            super::a_second_process_on_the_database_is_refused_naming_the_first,
        )
        .await
    }
}

async fn a_second_process_on_the_database_is_refused_naming_the_first(db: Db) {
    let first = db.open().await;
    let records = Gen::new(5).batch(20);
    first.commit(&records, Timestamp(T0)).await.unwrap();
    let Err(e) = db.open_as(ME, StoreOptions::default()).await else {
        panic!("a second open of the same database was allowed");
    };
    assert!(matches!(e, StoreError::InUse { .. }), "{e}");
    let text = e.to_string();
    assert!(
        text.contains(&format!("is in use by liandong node {ME} (server process")),
        "{text}"
    );
    assert!(text.contains("stop the other first"), "{text}");
    // The refused open changed nothing: the first still commits, and
    // everything it committed is there.
    let more = Gen::new(6).batch(20);
    first.commit(&more, Timestamp(T0 + 1)).await.unwrap();
    let mut expected = Store::default();
    fold(&mut expected, &records);
    fold(&mut expected, &more);
    assert_same(&first.load().await.unwrap(), &expected, "the first process");
    // Gone as a crash leaves it (no close): the next start gets the claim.
    drop(first);
    let again = db.open().await;
    assert_same(&again.load().await.unwrap(), &expected, "after the first died");
    again.close().await;
}

mod postgres_claim_lost {
    #[tokio::test]
    async fn a_lost_claim_is_taken_again_or_the_store_refuses_to_write() {
        super::run(
            super::Engine::Postgres,
            "a_lost_claim",
            super::a_lost_claim_is_taken_again_or_the_store_refuses_to_write,
        )
        .await
    }
}

/// Ends the claim's connection from outside, as a server restart does.
async fn cut_the_claim(db: &Db) {
    db.exec(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND application_name = 'liandong node {ME}'"
    ))
    .await
    .expect("terminate the claim's connection");
}

async fn a_lost_claim_is_taken_again_or_the_store_refuses_to_write(db: Db) {
    let first = db.open().await;
    let mut expected = Store::default();
    let records = Gen::new(7).batch(10);
    first.commit(&records, Timestamp(T0)).await.unwrap();
    fold(&mut expected, &records);

    // Lost, and nobody else took it: the next commit takes it again.
    cut_the_claim(&db).await;
    let records = Gen::new(8).batch(10);
    first
        .commit(&records, Timestamp(T0 + 1))
        .await
        .expect("the claim is taken again");
    fold(&mut expected, &records);

    // Lost, and a second process took the database meanwhile: the first
    // writes nothing more and says who holds it.
    cut_the_claim(&db).await;
    let second = db.open().await;
    let refused = Gen::new(9).batch(10);
    let Err(e) = first.commit(&refused, Timestamp(T0 + 2)).await else {
        panic!("a store that lost its claim to another process still wrote");
    };
    assert!(matches!(e, StoreError::InUse { .. }), "{e}");
    assert!(
        e.to_string().contains(&format!("is in use by liandong node {ME}")),
        "{e}"
    );
    assert_same(&second.load().await.unwrap(), &expected, "the second process");

    // The second gone, the first takes its claim back and goes on.
    second.close().await;
    let records = Gen::new(10).batch(10);
    first
        .commit(&records, Timestamp(T0 + 3))
        .await
        .expect("the claim is free again");
    fold(&mut expected, &records);
    assert_same(&first.load().await.unwrap(), &expected, "the first process");
    first.close().await;
}

// ---- building records from the dispatch types ----

fn id(s: &str) -> NodeId {
    NodeId::parse(s).unwrap()
}

const PEERS: [&str; 4] = ["350102001", "350102", "350102001002", "350102-police"];
const T0: u64 = 1_800_000_000_000;

/// splitmix64: the suite's only randomness, seeded per test.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn percent(&mut self, p: usize) -> bool {
        self.below(100) < p
    }

    fn peer(&mut self) -> NodeId {
        id(PEERS[self.below(PEERS.len())])
    }

    fn time(&mut self) -> Timestamp {
        Timestamp(T0 + self.next() % 10_000_000)
    }

    fn mode(&mut self) -> Mode {
        if self.percent(20) { Mode::Exercise } else { Mode::Actual }
    }

    fn text(&mut self, base: &str) -> String {
        format!("{base} #{}", self.below(1000))
    }

    fn envelope_id(&mut self) -> EnvelopeId {
        EnvelopeId(u128::from(self.next()) << 64 | u128::from(self.next()))
    }
}

fn report(rng: &mut Rng) -> Report {
    Report {
        severity: Severity::ALL[rng.below(5)],
        category: Category::Dispute,
        title: rng.text("邻里纠纷"),
        detail: rng.text("两户因宅基地边界发生争执"),
        place: "五一社区3号楼".into(),
        reporter: "网格员张伟".into(),
        photos: Vec::new(),
    }
}

fn order(rng: &mut Rng) -> Order {
    Order {
        incident: rng.percent(50).then(|| rng.envelope_id()),
        targets: Targets::List(vec![rng.peer(), rng.peer()]),
        severity: Severity::ALL[rng.below(5)],
        instruction: rng.text("立即组织排查"),
        by: "值班长王强".into(),
        finish_by: rng.percent(50).then(|| rng.time()),
    }
}

fn stored(rng: &mut Rng, id: EnvelopeId) -> StoredEnvelope {
    let body = match rng.below(3) {
        0 => Body::Report(report(rng)),
        1 => Body::Order(order(rng)),
        _ => Body::Update(Update {
            incident: rng.envelope_id(),
            by: "值班员李娜".into(),
            action: Action::Note {
                text: rng.text("已电话联系"),
            },
        }),
    };
    let created = rng.time();
    StoredEnvelope {
        envelope: Envelope {
            id,
            origin: rng.peer(),
            created,
            expires: created.plus(Duration::from_secs(3600)),
            mode: rng.mode(),
            body,
            signature: (0..rng.below(64)).map(|i| i as u8).collect(),
        },
        trace: (0..rng.below(4))
            .map(|_| Hop {
                node: rng.peer(),
                at: rng.time(),
            })
            .collect(),
        catch_up: rng.percent(10),
    }
}

fn outbox_entry(rng: &mut Rng) -> OutboxEntry {
    OutboxEntry {
        to: (0..rng.below(3)).map(|_| rng.peer()).collect(),
        lane: [Lane::Control, Lane::Urgent, Lane::Normal, Lane::Bulk][rng.below(4)],
        catch_up: rng.percent(10),
        acked: rng.percent(20),
        gave_up: rng.percent(5),
    }
}

fn incident(rng: &mut Rng, id: EnvelopeId) -> Incident {
    let states = [
        IncidentState::Reported,
        IncidentState::Accepted,
        IncidentState::Dispatched,
        IncidentState::Resolved,
        IncidentState::Verified,
        IncidentState::Closed,
        IncidentState::Cancelled,
    ];
    Incident {
        id,
        origin: rng.peer(),
        report: report(rng),
        mode: rng.mode(),
        reported: rng.time(),
        owner: rng.peer(),
        state: states[rng.below(states.len())],
        accepted_by: rng.percent(50).then(|| "值班员李娜".into()),
        accept_by: rng.time(),
        finish_by: rng.percent(50).then(|| rng.time()),
        supervisor: rng.percent(20).then(|| rng.peer()),
        orders: (0..rng.below(3)).map(|_| rng.envelope_id()).collect(),
        timeline: (0..rng.below(5))
            .map(|_| TimelineEntry {
                at: rng.time(),
                node: rng.peer(),
                what: rng.text("已受理"),
            })
            .collect(),
    }
}

fn order_record(rng: &mut Rng, id: EnvelopeId) -> OrderRecord {
    OrderRecord {
        id,
        issuer: rng.peer(),
        order: order(rng),
        mode: rng.mode(),
        issued: rng.time(),
        sign_for_by: rng.time(),
        finish_by: rng.time(),
    }
}

fn target_status(rng: &mut Rng) -> TargetStatus {
    let state = match rng.below(6) {
        0 => TargetState::Pending,
        1 => TargetState::Delivered,
        2 => TargetState::SignedFor {
            by: "所长陈刚".into()
        },
        3 => TargetState::InProgress {
            note: rng.text("正在处置"),
        },
        4 => TargetState::Done {
            note: rng.text("已处置完毕"),
        },
        _ => TargetState::Refused {
            reason: rng.text("不属本辖区"),
        },
    };
    TargetStatus {
        state,
        at: rng.time(),
        overdue: None,
    }
}

fn person(rng: &mut Rng) -> Person {
    Person {
        node: rng.peer(),
        name: rng.text("王芳"),
        role: if rng.percent(50) { Role::Leader } else { Role::Operator },
    }
}

fn room(rng: &mut Rng, id: EnvelopeId) -> Room {
    let task = |rng: &mut Rng| RoomTask {
        seq: rng.below(50) as u64,
        order: rng.envelope_id(),
        target: rng.peer(),
        instruction: rng.text("疏散群众"),
        by: person(rng),
        finish_by: rng.percent(50).then(|| rng.time()),
        state: target_status(rng).state,
        at: rng.time(),
    };
    let closed = rng.percent(30);
    Room {
        id,
        home: rng.peer(),
        origin: rng.peer(),
        title: rng.text("五一路积水"),
        severity: Severity::ALL[rng.below(5)],
        category: Category::Flood,
        place: "五一路".into(),
        mode: rng.mode(),
        opened: rng.time(),
        opened_by: person(rng),
        state: if closed { RoomState::Closed } else { RoomState::Open },
        closing: closed.then(|| Closing {
            at: rng.time(),
            by: person(rng),
            summary: rng.text("险情排除"),
        }),
        present: (0..rng.below(4))
            .map(|_| Presence {
                person: person(rng),
                since: rng.time(),
            })
            .collect(),
        invited: (0..rng.below(2)).map(|_| rng.peer()).collect(),
        tasks: (0..rng.below(3)).map(|_| task(rng)).collect(),
        last_seq: rng.below(100) as u64,
    }
}

/// A summary of figures from one of a few centers for one of a few days,
/// in one of a few versions: later ones replace earlier ones.
fn summary(rng: &mut Rng) -> SummaryRecord {
    let mut actual = Breakdown::default();
    actual.all.received = rng.below(50) as u64;
    actual.by_child.insert(
        rng.peer(),
        Figures {
            owned: rng.below(9) as u64,
            ..Figures::default()
        },
    );
    SummaryRecord {
        summary: Summary {
            center: rng.peer(),
            period: Period::Day {
                year: 2026,
                month: 11,
                day: 1 + rng.below(3) as u8,
            },
            version: 1 + rng.below(4) as u32,
            late: rng.percent(30),
            actual,
            drill: Breakdown::default(),
            index: rng.below(1001) as u32,
            missing: Vec::new(),
        },
        at: Timestamp(rng.below(1_000_000) as u64),
    }
}

fn room_entry(rng: &mut Rng, room: EnvelopeId) -> RoomEntry {
    let line = match rng.below(4) {
        0 => RoomLine::Entered,
        1 => RoomLine::Said {
            text: rng.text("各单位注意"),
        },
        2 => RoomLine::Decided {
            text: rng.text("启动二级响应"),
        },
        _ => RoomLine::TaskProgress {
            task: rng.below(10) as u64,
            target: rng.peer(),
            state: target_status(rng).state,
        },
    };
    RoomEntry {
        room,
        seq: 1 + rng.below(20) as u64,
        event: rng.envelope_id(),
        ask: rng.percent(80).then(|| rng.envelope_id()),
        at: rng.time(),
        by: rng.percent(80).then(|| person(rng)),
        line,
    }
}

fn audit(rng: &mut Rng) -> Record {
    Record::Audit(AuditEntry {
        at: rng.time(),
        what: rng.text("operator 李娜 accepted incident"),
    })
}

/// Random records that mostly touch what earlier records made, so acks,
/// give-ups and forgets land on real copies, in the same batch or not.
struct Gen {
    rng: Rng,
    ids: Vec<EnvelopeId>,
    copies: Vec<(NodeId, EnvelopeId)>,
}

impl Gen {
    fn new(seed: u64) -> Gen {
        Gen {
            rng: Rng(seed),
            ids: Vec::new(),
            copies: Vec::new(),
        }
    }

    fn known_id(&mut self) -> EnvelopeId {
        if self.ids.is_empty() || self.rng.percent(10) {
            let id = self.rng.envelope_id();
            self.ids.push(id);
            id
        } else {
            self.ids[self.rng.below(self.ids.len())]
        }
    }

    fn known_copy(&mut self) -> (NodeId, EnvelopeId) {
        if self.copies.is_empty() || self.rng.percent(10) {
            (self.rng.peer(), self.known_id())
        } else {
            self.copies[self.rng.below(self.copies.len())].clone()
        }
    }

    fn record(&mut self) -> Record {
        match self.rng.below(100) {
            0..25 => {
                let id = self.known_id();
                Record::Envelope(stored(&mut self.rng, id))
            }
            25..45 => {
                let (peer, id) = (self.rng.peer(), self.known_id());
                self.copies.push((peer.clone(), id));
                Record::Outbox {
                    peer,
                    id,
                    entry: outbox_entry(&mut self.rng),
                }
            }
            45..55 => {
                let (peer, id) = self.known_copy();
                Record::Acked { peer, id }
            }
            55..60 => {
                let (peer, id) = self.known_copy();
                Record::GaveUp { peer, id }
            }
            60..70 => {
                let id = self.known_id();
                Record::Incident(incident(&mut self.rng, id))
            }
            70..75 => {
                let id = self.known_id();
                Record::Order(order_record(&mut self.rng, id))
            }
            75..85 => Record::Target {
                order: self.known_id(),
                target: self.rng.peer(),
                status: target_status(&mut self.rng),
            },
            85..90 => audit(&mut self.rng),
            90..93 => {
                let id = self.known_id();
                Record::Room(room(&mut self.rng, id))
            }
            93..95 => {
                let id = self.known_id();
                Record::RoomEntry(room_entry(&mut self.rng, id))
            }
            95..97 => Record::Summary(Box::new(summary(&mut self.rng))),
            _ => Record::Forget((0..1 + self.rng.below(3)).map(|_| self.known_id()).collect()),
        }
    }

    fn batch(&mut self, n: usize) -> Vec<Record> {
        (0..n).map(|_| self.record()).collect()
    }
}

fn fold<'a>(store: &mut Store, records: impl IntoIterator<Item = &'a Record>) {
    for r in records {
        store.apply(r);
    }
}

/// `Store` has no `PartialEq`: compare it field by field.
#[track_caller]
fn assert_same(loaded: &Store, expected: &Store, context: &str) {
    assert_eq!(loaded.envelopes, expected.envelopes, "{context}: envelopes");
    assert_eq!(loaded.outbox, expected.outbox, "{context}: outbox");
    assert_eq!(loaded.incidents, expected.incidents, "{context}: incidents");
    assert_eq!(
        loaded.reported, expected.reported,
        "{context}: incidents by time reported"
    );
    assert_eq!(loaded.orders, expected.orders, "{context}: orders");
    assert_eq!(loaded.targets, expected.targets, "{context}: targets");
    assert_eq!(loaded.audit, expected.audit, "{context}: audit");
    assert_eq!(loaded.audit_count, expected.audit_count, "{context}: audit_count");
    assert_eq!(loaded.rooms, expected.rooms, "{context}: rooms");
    assert_eq!(loaded.room_log, expected.room_log, "{context}: room_log");
    assert_eq!(loaded.summaries, expected.summaries, "{context}: summaries");
}

fn kind(record: &Record) -> &'static str {
    match record {
        Record::Envelope(_) => "envelope",
        Record::Outbox { .. } => "outbox",
        Record::Acked { .. } => "acked",
        Record::GaveUp { .. } => "gave up",
        Record::Incident(_) => "incident",
        Record::Order(_) => "order",
        Record::Target { .. } => "target",
        Record::Audit(_) => "audit",
        Record::Forget(_) => "forget",
        Record::Room(_) => "room",
        Record::RoomEntry(_) => "room entry",
        Record::Summary(_) => "summary",
    }
}

fn audit_entries_for(records: &[Record]) -> u64 {
    records
        .iter()
        .filter(|r| matches!(r, Record::Audit(_) | Record::Envelope(_)))
        .count() as u64
}

// ---- the tests ----

async fn an_empty_store_loads_empty(db: Db) {
    let store = db.open().await;
    assert_same(&store.load().await.unwrap(), &Store::default(), "fresh store");
    let check = store.verify_audit().await.unwrap();
    assert_eq!((check.entries, check.last_hash), (0, [0; 32]));
    assert!(store.audit_tail(10).await.unwrap().is_empty());
    store.commit(&[], Timestamp(T0)).await.unwrap();
    assert_eq!(
        store.verify_audit().await.unwrap().entries,
        0,
        "an empty commit writes nothing"
    );
}

async fn random_batches_load_as_their_fold(db: Db) {
    let store = db.open().await;
    let mut expected = Store::default();
    let mut entries = 0;
    for seed in 0..3 {
        let mut records = Gen::new(seed);
        for round in 0..25 {
            let n = [1, 2, 7, 40, 150][round % 5];
            let batch = records.batch(n);
            store.commit(&batch, Timestamp(T0 + round as u64)).await.unwrap();
            fold(&mut expected, &batch);
            entries += audit_entries_for(&batch);
            if round % 6 == 0 {
                assert_same(
                    &store.load().await.unwrap(),
                    &expected,
                    &format!("seed {seed} round {round}"),
                );
            }
        }
    }
    assert!(
        expected.envelopes.len() > 20 && expected.outbox.len() > 20,
        "the batches did build up state"
    );
    assert!(expected.outbox.values().any(|e| e.gave_up) && expected.outbox.values().any(|e| !e.acked));
    assert_same(&store.load().await.unwrap(), &expected, "end");
    assert_eq!(store.verify_audit().await.unwrap().entries, entries);
}

async fn a_batch_applies_in_record_order(db: Db) {
    let store = db.open().await;
    let mut rng = Rng(7);
    let (a, b, c, d) = (
        rng.envelope_id(),
        rng.envelope_id(),
        rng.envelope_id(),
        rng.envelope_id(),
    );
    let (p, q) = (id(PEERS[0]), id(PEERS[1]));
    let unacked = |rng: &mut Rng| OutboxEntry {
        acked: false,
        gave_up: false,
        ..outbox_entry(rng)
    };
    let put = |peer: &NodeId, id, rng: &mut Rng| Record::Outbox {
        peer: peer.clone(),
        id,
        entry: unacked(rng),
    };
    // On disk first: a, b and c with copies to p and q.
    let mut first = Vec::new();
    for x in [a, b, c] {
        first.push(Record::Envelope(stored(&mut rng, x)));
        first.push(put(&p, x, &mut rng));
        first.push(put(&q, x, &mut rng));
    }
    // Then, in one batch:
    let second = vec![
        // acks of copies on disk, one given up after the ack
        Record::Acked { peer: p.clone(), id: a },
        Record::GaveUp { peer: q.clone(), id: a },
        Record::Acked { peer: q.clone(), id: a },
        // a copy put and acked in the same batch; an ack of a copy that never was
        put(&p, d, &mut rng),
        Record::Acked { peer: p.clone(), id: d },
        Record::Acked { peer: q.clone(), id: d },
        // b forgotten, then put again for p only: q's copy must stay gone
        Record::Forget(vec![b]),
        Record::Acked { peer: q.clone(), id: b },
        Record::Envelope(stored(&mut rng, b)),
        put(&p, b, &mut rng),
        // c acked, then forgotten: gone whatever came before
        Record::Acked { peer: p.clone(), id: c },
        Record::Forget(vec![c]),
        // an incident replaced twice, a target moved on twice
        Record::Incident(incident(&mut rng, d)),
        Record::Incident(incident(&mut rng, d)),
        Record::Target {
            order: d,
            target: p.clone(),
            status: target_status(&mut rng),
        },
        Record::Target {
            order: d,
            target: p.clone(),
            status: target_status(&mut rng),
        },
        audit(&mut rng),
    ];
    store.commit(&first, Timestamp(T0)).await.unwrap();
    store.commit(&second, Timestamp(T0 + 1)).await.unwrap();
    let mut expected = Store::default();
    fold(&mut expected, first.iter().chain(&second));
    let loaded = store.load().await.unwrap();
    assert_same(&loaded, &expected, "after the tricky batch");
    let copy = |peer: &NodeId, x| loaded.outbox.get(&(peer.clone(), x)).map(|e| (e.acked, e.gave_up));
    assert_eq!(copy(&p, a), Some((true, false)));
    assert_eq!(copy(&q, a), Some((true, true)), "an ack after give-up keeps gave_up");
    assert_eq!(copy(&p, d), Some((true, false)));
    assert_eq!(copy(&q, d), None);
    assert_eq!(copy(&p, b), Some((false, false)), "put again after forget");
    assert_eq!(copy(&q, b), None, "forgotten");
    assert_eq!((copy(&p, c), copy(&q, c)), (None, None));
    assert!(loaded.envelopes.contains_key(&b) && !loaded.envelopes.contains_key(&c));
}

/// Two real cores (a village and its township) exchange a report, its
/// hop ack and its acceptance, then let things expire; the village's
/// Persists go to the store, and what loads back is the village core's own
/// state, from which a core restores.
async fn a_real_core_restores_from_what_it_committed(db: Db) {
    let store = db.open().await;
    let topology = Arc::new(generate(&Shape::Preset(Preset::Demo), Addressing::default()).unwrap());
    let keys = TestKeys::new(3);
    let config = CoreConfig {
        ttl: Duration::from_secs(600),
        sweep_every: Duration::from_secs(60),
        ..CoreConfig::default()
    };
    let (village, town) = (id(ME), id("350102001"));
    let core = |me: &NodeId, seed| {
        Core::new(
            topology.clone(),
            me.clone(),
            config.clone(),
            Box::new(keys.signer(me)),
            keys.check(),
            seed,
            Timestamp(T0),
        )
        .unwrap()
    };
    let mut cores = [core(&village, 1), core(&town, 2)];
    let mut now = Timestamp(T0);
    let mut persists = 0;
    let mut kinds = std::collections::BTreeSet::new();
    cores[0].handle_link(&town, true, now);
    cores[1].handle_link(&village, true, now);

    // Runs both cores until quiet: the village's Persists are committed,
    // frames cross the link if it is up.
    macro_rules! settle {
        ($link_up:expr) => {
            loop {
                let mut moved = false;
                for c in 0..2 {
                    while let Some(effect) = cores[c].poll_effect() {
                        moved = true;
                        match effect {
                            Effect::Persist(records) if c == 0 => {
                                store.commit(&records, now).await.unwrap();
                                persists += 1;
                                kinds.extend(records.iter().map(kind));
                            }
                            Effect::Send { frame, .. } if $link_up => {
                                let (from, to) = if c == 0 { (&village, 1) } else { (&town, 0) };
                                cores[to].handle_frame(from, &frame, now).unwrap();
                            }
                            _ => {}
                        }
                    }
                }
                if !moved {
                    break;
                }
            }
        };
    }

    let report = |title: &str| Command::Report {
        report: Report {
            severity: Severity::Routine,
            category: Category::Hazard,
            title: title.into(),
            detail: "楼道堆放杂物".into(),
            place: "五一社区".into(),
            reporter: "网格员张伟".into(),
            photos: Vec::new(),
        },
        mode: Mode::Actual,
    };
    let first = cores[0].handle_command(report("消防通道堵塞"), now).unwrap();
    settle!(true);
    now = now.plus(Duration::from_secs(5));
    cores[1]
        .handle_command(
            Command::Accept {
                incident: first,
                by: "值班员李娜".into(),
            },
            now,
        )
        .unwrap();
    settle!(true);
    // The link drops; a second report is never acked, and expires.
    cores[0].handle_command(report("井盖缺失"), now).unwrap();
    settle!(false);
    for _ in 0..30 {
        now = now.plus(Duration::from_secs(60));
        for c in &mut cores {
            c.handle_timeout(now);
        }
        settle!(false);
    }

    let village_state = cores[0].store();
    assert!(persists >= 4, "the village persisted several times ({persists})");
    assert_eq!(
        village_state.incidents.get(&first).map(|i| i.state),
        Some(IncidentState::Accepted)
    );
    let every = ["envelope", "outbox", "acked", "gave up", "incident", "forget"];
    assert!(
        every.iter().all(|k| kinds.contains(k)),
        "the exchange made every kind of record: {kinds:?}"
    );
    let loaded = store.load().await.unwrap();
    assert_same(&loaded, village_state, "the village's state");
    let restored = Core::restore(
        topology.clone(),
        village.clone(),
        config.clone(),
        Box::new(keys.signer(&village)),
        keys.check(),
        9,
        loaded,
        now,
    )
    .unwrap();
    assert_eq!(restored.incident(first).map(|i| i.state), Some(IncidentState::Accepted));
    let tail = store.audit_tail(100).await.unwrap();
    let stored_first = format!("stored report {first} from {village} (trace: {village})");
    assert!(
        tail.iter()
            .any(|row| row.what == stored_first && row.envelope == Some(first)),
        "the audit log records taking the report: {tail:#?}"
    );
    store.verify_audit().await.unwrap();
}

async fn reopening_keeps_everything_and_the_chain_goes_on(db: Db) {
    let mut records = Gen::new(11);
    let mut expected = Store::default();
    let first = records.batch(200);
    {
        let store = db.open().await;
        store.commit(&first, Timestamp(T0)).await.unwrap();
        // Dropped without close, as a crash would leave it.
    }
    fold(&mut expected, &first);
    let store = db.open().await;
    assert_same(&store.load().await.unwrap(), &expected, "after reopening");
    let second = records.batch(100);
    store.commit(&second, Timestamp(T0 + 1)).await.unwrap();
    fold(&mut expected, &second);
    store.close().await;

    let store = db.open().await;
    assert_same(&store.load().await.unwrap(), &expected, "after a second reopening");
    let check = store.verify_audit().await.unwrap();
    assert_eq!(check.entries, audit_entries_for(&first) + audit_entries_for(&second));
    let tail = store.audit_tail(2).await.unwrap();
    assert_eq!(tail.len(), 2);
    assert_eq!((tail[1].seq, tail[1].hash), (check.entries, check.last_hash));
    assert_eq!(tail[1].prev_hash, tail[0].hash, "oldest first, linked");
}

async fn learned_certificates_are_kept_by_serial_newest_first(db: Db) {
    let store = db.open().await;
    let village = id("350102001001");
    assert!(store.certificates(&village).await.unwrap().is_empty());
    let old = (vec![1u8; 16], b"old certificate".to_vec());
    let new = (vec![2u8; 16], b"renewed certificate".to_vec());
    store
        .keep_certificates(&village, std::slice::from_ref(&old), Timestamp(T0))
        .await
        .unwrap();
    store
        .keep_certificates(&village, &[new.clone(), old.clone()], Timestamp(T0 + 1000))
        .await
        .unwrap();
    assert_eq!(
        store.certificates(&village).await.unwrap(),
        vec![new.1.clone(), old.1.clone()]
    );
    // Another node's are its own; they survive a reopen; the bound holds.
    assert!(store.certificates(&id("350102")).await.unwrap().is_empty());
    store.close().await;
    let store = db.open().await;
    let many: Vec<(Vec<u8>, Vec<u8>)> = (10u8..30).map(|i| (vec![i; 16], vec![i; 40])).collect();
    store
        .keep_certificates(&village, &many, Timestamp(T0 + 2000))
        .await
        .unwrap();
    let kept = store.certificates(&village).await.unwrap();
    assert_eq!(kept.len(), liandong_node::store::CERTIFICATES_PER_NODE);
    assert!(!kept.contains(&old.1), "the oldest are not returned past the bound");
}

async fn another_node_is_refused(db: Db) {
    let store = db.open().await;
    let batch = Gen::new(5).batch(20);
    store.commit(&batch, Timestamp(T0)).await.unwrap();
    store.close().await;

    let other = "350121001001";
    let err = match db.open_as(other, StoreOptions::default()).await {
        Ok(_) => panic!("opened {ME}'s store as {other}"),
        Err(e) => e,
    };
    assert!(matches!(err, StoreError::WrongNode { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains(ME) && message.contains(other),
        "names both ids: {message}"
    );
    assert!(message.contains(&db.location.to_string()), "names the store: {message}");

    let store = db.open().await;
    let mut expected = Store::default();
    fold(&mut expected, &batch);
    assert_same(
        &store.load().await.unwrap(),
        &expected,
        "the owner's store is untouched",
    );
}

async fn a_store_from_a_newer_build_is_refused(db: Db) {
    db.open().await.close().await;
    db.exec(db.pick(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (9999, 'from the future', TRUE, X'00', 0);",
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (9999, 'from the future', TRUE, '\\x00'::bytea, 0);",
    ))
    .await
    .unwrap();
    let err = match db.open_as(ME, StoreOptions::default()).await {
        Ok(_) => panic!("opened a store with schema version 9999"),
        Err(e) => e,
    };
    assert!(matches!(err, StoreError::TooNew { found: 9999, .. }), "{err:?}");
    assert!(err.to_string().contains("upgrade liandong"), "{err}");
}

fn delivery(subscription: &str, event: &str, body: &str) -> NewDelivery {
    NewDelivery {
        subscription: subscription.into(),
        event: event.into(),
        kind: "incident".into(),
        created: Timestamp(T0),
        body: body.into(),
    }
}

/// Deliveries go in with the records of their turn, or not at all; the
/// same (subscription, event) twice is one row, as first written; then
/// the worker's writes move each to its end.
async fn webhook_deliveries_are_kept_with_their_batch_once_each(db: Db) {
    let store = db.open().await;
    let mut records = Gen::new(31);
    let first = [delivery("a1", "e1", "{\"n\":1}"), delivery("b2", "e1", "{\"n\":1}")];
    store
        .commit_with(&records.batch(10), &first, Timestamp(T0))
        .await
        .unwrap();
    let again = [delivery("a1", "e1", "{\"n\":2}"), delivery("a1", "e2", "{}")];
    store.commit_with(&[], &again, Timestamp(T0 + 1)).await.unwrap();
    let pending = store.pending_deliveries(10).await.unwrap();
    let rows: Vec<(&str, &str, &str, u32)> = pending
        .iter()
        .map(|d| (d.subscription.as_str(), d.event.as_str(), d.body.as_str(), d.attempts))
        .collect();
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(rows.contains(&("a1", "e1", "{\"n\":1}", 0)), "{rows:?}");

    // A batch that fails keeps none of its deliveries.
    db.exec(db.pick(
        "CREATE TRIGGER refuse BEFORE INSERT ON incidents WHEN NEW.owner = '350199' \
         BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;",
        "ALTER TABLE incidents ADD CONSTRAINT refuse CHECK (owner <> '350199');",
    ))
    .await
    .unwrap();
    let mut rng = Rng(3);
    let fresh = rng.envelope_id();
    let mut refused = incident(&mut rng, fresh);
    refused.owner = id("350199");
    let lost = [delivery("a1", "e3", "{}")];
    assert!(
        store
            .commit_with(&[Record::Incident(refused)], &lost, Timestamp(T0 + 2))
            .await
            .is_err()
    );
    assert_eq!(store.pending_deliveries(10).await.unwrap().len(), 3);

    // Retried later, delivered, dead-lettered: counted per subscription.
    store
        .retry_delivery("a1", "e1", 1, Timestamp(T0 + 1_000), "answered 500")
        .await
        .unwrap();
    let next = store.pending_deliveries(10).await.unwrap();
    assert_eq!(
        (next.last().map(|d| (d.event.as_str(), d.attempts, d.next_at))),
        Some(("e1", 1, Timestamp(T0 + 1_000))),
        "the soonest due first"
    );
    store.delivered("a1", "e1", 2, Timestamp(T0 + 1_100)).await.unwrap();
    store
        .dead_letter_delivery("b2", "e1", 7, Timestamp(T0 + 9_000), "cannot connect")
        .await
        .unwrap();
    let counts = store.delivery_counts().await.unwrap();
    let a1 = &counts.iter().find(|(s, _)| s == "a1").unwrap().1;
    let b2 = &counts.iter().find(|(s, _)| s == "b2").unwrap().1;
    assert_eq!((a1.pending, a1.delivered, a1.dead), (1, 1, 0));
    assert_eq!((b2.pending, b2.delivered, b2.dead), (0, 0, 1));
    assert_eq!(b2.last_error.as_deref(), Some("cannot connect"));
    assert_eq!(
        store.deliveries_of("a1").await.unwrap(),
        [
            ("e1".to_owned(), DeliveryState::Delivered, 2),
            ("e2".to_owned(), DeliveryState::Pending, 0)
        ]
    );
    // A delivered event replayed later stays delivered.
    store
        .commit_with(&[], &first[..1], Timestamp(T0 + 10_000))
        .await
        .unwrap();
    assert_eq!(store.pending_deliveries(10).await.unwrap().len(), 1);

    // Finished ones are forgotten after a while; pending ones never.
    store.prune_deliveries(Timestamp(T0 + 100_000)).await.unwrap();
    assert_eq!(store.deliveries_of("a1").await.unwrap().len(), 1);
    assert!(store.deliveries_of("b2").await.unwrap().is_empty());
}

async fn a_failed_commit_keeps_nothing_of_its_batch(db: Db) {
    let store = db.open().await;
    let mut records = Gen::new(21);
    let good = records.batch(50);
    store.commit(&good, Timestamp(T0)).await.unwrap();
    let before = store.verify_audit().await.unwrap();

    // Make the database refuse incidents owned by one node; the batch's
    // envelopes, copies and audit entries come before or after it.
    db.exec(db.pick(
        "CREATE TRIGGER refuse BEFORE INSERT ON incidents WHEN NEW.owner = '350199' \
         BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;",
        "ALTER TABLE incidents ADD CONSTRAINT refuse CHECK (owner <> '350199');",
    ))
    .await
    .unwrap();
    let mut rng = Rng(1);
    let fresh = rng.envelope_id();
    let mut refused = incident(&mut rng, fresh);
    refused.owner = id("350199");
    let mut bad = records.batch(30);
    bad.push(Record::Envelope(stored(&mut rng, fresh)));
    bad.push(Record::Incident(refused));
    bad.push(audit(&mut rng));
    let err = store.commit(&bad, Timestamp(T0 + 1)).await.unwrap_err();
    let message = err.to_string();
    assert!(!err.is_full() && !err.is_unreachable(), "{message}");
    assert!(
        message.contains("committing a batch of 33 records (none of them was stored)") && message.contains("refuse"),
        "{message}"
    );

    let mut expected = Store::default();
    fold(&mut expected, &good);
    assert_same(&store.load().await.unwrap(), &expected, "nothing of the failed batch");
    assert_eq!(
        store.verify_audit().await.unwrap(),
        before,
        "no audit entry of the failed batch"
    );

    // The node goes on: the chain continues from what is on disk.
    db.exec(db.pick("DROP TRIGGER refuse;", "ALTER TABLE incidents DROP CONSTRAINT refuse;"))
        .await
        .unwrap();
    store.commit(&bad, Timestamp(T0 + 2)).await.unwrap();
    fold(&mut expected, &bad);
    assert_same(&store.load().await.unwrap(), &expected, "the retried batch");
    let after = store.verify_audit().await.unwrap();
    assert_eq!(after.entries, before.entries + audit_entries_for(&bad));
}

/// The driver builds a turn's statements while the turn before is still
/// committing: the audit rows must link to the chain as it ends when the
/// batch is committed, not when it was prepared, also after a commit
/// that failed in between.
async fn a_batch_prepared_ahead_joins_the_chain_where_it_ends_at_its_commit(db: Db) {
    let store = db.open().await;
    let mut records = Gen::new(23);
    let (first, second, third) = (records.batch(40), records.batch(40), records.batch(40));
    let ahead = store.prepare_commit(&second, &[], Timestamp(T0 + 1)).unwrap();
    store.commit(&first, Timestamp(T0)).await.unwrap();
    store.commit_prepared(ahead).await.unwrap();

    // A commit that fails between a batch's preparing and its commit.
    let ahead = store.prepare_commit(&third, &[], Timestamp(T0 + 3)).unwrap();
    db.exec(db.pick(
        "CREATE TRIGGER refuse BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;",
        "ALTER TABLE audit ADD CONSTRAINT refuse CHECK (seq < 0) NOT VALID;",
    ))
    .await
    .unwrap();
    let mut failed = records.batch(10);
    failed.push(audit(&mut Rng(5)));
    store.commit(&failed, Timestamp(T0 + 2)).await.unwrap_err();
    db.exec(db.pick("DROP TRIGGER refuse;", "ALTER TABLE audit DROP CONSTRAINT refuse;"))
        .await
        .unwrap();
    store.commit_prepared(ahead).await.unwrap();

    let mut expected = Store::default();
    for batch in [&first, &second, &third] {
        fold(&mut expected, batch);
    }
    assert_same(
        &store.load().await.unwrap(),
        &expected,
        "three batches, one prepared ahead of each commit",
    );
    let check = store
        .verify_audit()
        .await
        .expect("the chain links across batches prepared ahead");
    let entries = [&first, &second, &third].map(|b| audit_entries_for(b));
    assert_eq!(check.entries, entries.iter().sum::<u64>());
    // The second batch's entries come after the first's, though prepared before.
    let tail = store.audit_tail((entries[1] + entries[2]) as u32).await.unwrap();
    assert_eq!(
        tail[0].seq,
        entries[0] + 1,
        "the second batch begins where the first ended"
    );
    assert!(
        tail.iter().all(|row| row.at != Timestamp(T0 + 2)),
        "nothing of the failed batch"
    );
}

async fn the_last_audit_entries_are_kept_in_memory(db: Db) {
    let store = db.open().await;
    let mut rng = Rng(4);
    let mut expected = Store::default();
    let total = AUDIT_IN_MEMORY + 100;
    let mut written = 0;
    while written < total {
        // Core entries between stored envelopes, which are not in memory.
        let mut batch = Vec::new();
        for _ in 0..700.min(total - written) {
            batch.push(audit(&mut rng));
            if rng.percent(30) {
                let id = rng.envelope_id();
                batch.push(Record::Envelope(stored(&mut rng, id)));
            }
            written += 1;
        }
        store.commit(&batch, Timestamp(T0)).await.unwrap();
        fold(&mut expected, &batch);
    }
    let loaded = store.load().await.unwrap();
    assert_eq!(loaded.audit.len(), AUDIT_IN_MEMORY);
    assert_eq!(loaded.audit_count, total as u64);
    assert_same(&loaded, &expected, "audit in memory");
}

async fn the_audit_chain_verifies_and_shows_a_changed_entry(db: Db) {
    let store = db.open().await;
    let batch = Gen::new(8).batch(60);
    store.commit(&batch, Timestamp(T0)).await.unwrap();
    let check = store.verify_audit().await.unwrap();
    let n = audit_entries_for(&batch);
    assert!(n >= 10, "{n} entries");
    assert_eq!(check.entries, n);

    // The table refuses changes outright...
    let refused = db
        .exec("UPDATE audit SET what = 'nothing happened' WHERE seq = 3")
        .await;
    assert!(
        refused.as_ref().is_err_and(|e| e.to_string().contains("append-only")),
        "{refused:?}"
    );
    // ...and whoever gets past that is caught by the chain.
    db.exec(db.pick(
        "DROP TRIGGER audit_no_update;",
        "DROP TRIGGER audit_no_update ON audit;",
    ))
    .await
    .unwrap();
    db.exec("UPDATE audit SET what = 'nothing happened' WHERE seq = 3")
        .await
        .unwrap();
    let err = store.verify_audit().await.unwrap_err();
    assert_eq!(err.audit_problem(), Some((3, &AuditProblem::HashMismatch)), "{err}");
    assert!(err.to_string().contains("entry 3: hash mismatch"), "{err}");

    // A forged hash that fits the changed text breaks the next link.
    let tail = store.audit_tail(u32::MAX).await.unwrap();
    assert_eq!(tail.len() as u64, n);
    let forged = forged_hash(&tail[2].prev_hash, 3, tail[2].at.0, "nothing happened");
    db.exec(&format!(
        "UPDATE audit SET hash = {} WHERE seq = 3",
        db.pick(&format!("X'{forged}'"), &format!("'\\x{forged}'::bytea"))
    ))
    .await
    .unwrap();
    let err = store.verify_audit().await.unwrap_err();
    assert_eq!(err.audit_problem(), Some((4, &AuditProblem::BrokenLink)), "{err}");
}

async fn the_audit_chain_shows_missing_entries(db: Db) {
    let store = db.open().await;
    let batch = Gen::new(9).batch(60);
    store.commit(&batch, Timestamp(T0)).await.unwrap();
    let n = store.verify_audit().await.unwrap().entries;
    assert!(n >= 10);
    db.exec(db.pick(
        "DROP TRIGGER audit_no_delete;",
        "DROP TRIGGER audit_no_delete ON audit;",
    ))
    .await
    .unwrap();

    db.exec(&format!("DELETE FROM audit WHERE seq = {n}")).await.unwrap();
    let err = store.verify_audit().await.unwrap_err();
    assert_eq!(
        err.audit_problem(),
        Some((n, &AuditProblem::Truncated { last: n })),
        "{err}"
    );

    db.exec("DELETE FROM audit WHERE seq = 5").await.unwrap();
    let err = store.verify_audit().await.unwrap_err();
    assert_eq!(err.audit_problem(), Some((5, &AuditProblem::Gap { next: 6 })), "{err}");
    assert!(err.to_string().contains("entry 5: gap"), "{err}");

    db.exec("DELETE FROM audit WHERE seq = 1").await.unwrap();
    let err = store.verify_audit().await.unwrap_err();
    assert_eq!(err.audit_problem(), Some((1, &AuditProblem::Gap { next: 2 })), "{err}");
}

fn forged_hash(prev: &[u8; 32], seq: u64, at: u64, what: &str) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(prev);
    ctx.update(&seq.to_be_bytes());
    ctx.update(&at.to_be_bytes());
    ctx.update(what.as_bytes());
    ctx.finish().as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

// ---- one backend only ----

/// A real SQLITE_FULL (the file capped with max_pages): the error says
/// full, nothing of the failed batch is kept, everything before it loads,
/// and with room again the node carries on.
#[tokio::test]
async fn sqlite_full_is_reported_and_keeps_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let location = StoreLocation::Sqlite(dir.path().join("node.db"));
    let capped = StoreOptions { max_pages: Some(60) };
    let store = Durable::open(&location, &id(ME), capped.clone()).await.unwrap();
    let mut records = Gen::new(31);
    let mut expected = Store::default();
    let mut committed = 0;
    let (failed, err) = loop {
        let batch = records.batch(40);
        match store.commit(&batch, Timestamp(T0)).await {
            Ok(()) => {
                fold(&mut expected, &batch);
                committed += 1;
                assert!(committed < 1000, "60 pages never filled up");
            }
            Err(e) => break (batch, e),
        }
    };
    assert!(committed > 0, "the cap left room for something");
    assert!(err.is_full(), "{err:?}");
    let message = err.to_string();
    assert!(
        message.starts_with("the database is full (disk or size limit): ") && message.contains("node.db"),
        "{message}"
    );
    assert!(message.contains("none of them was stored"), "{message}");
    assert_same(
        &store.load().await.unwrap(),
        &expected,
        "everything before the failed batch",
    );
    let check = store.verify_audit().await.unwrap();
    store.close().await;

    // With room again (the operator freed space), the same batch goes in.
    let store = Durable::open(&location, &id(ME), StoreOptions::default())
        .await
        .unwrap();
    store.commit(&failed, Timestamp(T0 + 1)).await.unwrap();
    fold(&mut expected, &failed);
    assert_same(&store.load().await.unwrap(), &expected, "after the retry");
    assert_eq!(
        store.verify_audit().await.unwrap().entries,
        check.entries + audit_entries_for(&failed)
    );
}

/// A cap too small for the schema fails at open, saying full; reopened
/// without the cap the store is fine.
#[tokio::test]
async fn sqlite_too_small_for_the_schema_says_full_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let location = StoreLocation::Sqlite(dir.path().join("node.db"));
    let err = match Durable::open(&location, &id(ME), StoreOptions { max_pages: Some(3) }).await {
        Ok(_) => panic!("a 3-page store held the schema"),
        Err(e) => e,
    };
    assert!(err.is_full(), "{err}");
    let store = Durable::open(&location, &id(ME), StoreOptions::default())
        .await
        .unwrap();
    assert_same(&store.load().await.unwrap(), &Store::default(), "reopened with room");
}

/// The SQLite file is in WAL mode (durable commits without blocking
/// readers) and named as the data directory's node.db.
#[tokio::test]
async fn sqlite_runs_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let location = StoreLocation::choose(None, dir.path()).unwrap();
    let store = Durable::open(&location, &id(ME), StoreOptions::default())
        .await
        .unwrap();
    store.commit(&Gen::new(1).batch(10), Timestamp(T0)).await.unwrap();
    assert!(
        dir.path().join("node.db-wal").exists(),
        "a write-ahead log beside node.db"
    );
    let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(dir.path().join("node.db"));
    let mut conn = sqlx::SqliteConnection::connect_with(&opts).await.unwrap();
    let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    conn.close().await.unwrap();
    store.close().await;
}

#[tokio::test]
async fn postgres_open_creates_a_missing_database() {
    let Ok(server) = std::env::var("LIANDONG_TEST_POSTGRES") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but LIANDONG_TEST_POSTGRES is not"
        );
        return;
    };
    let database = format!("ld_created_{}", std::process::id());
    let location = StoreLocation::Postgres(with_database(&server, &database));
    let store = Durable::open(&location, &id(ME), StoreOptions::default())
        .await
        .unwrap();
    let batch = Gen::new(2).batch(10);
    store.commit(&batch, Timestamp(T0)).await.unwrap();
    let mut expected = Store::default();
    fold(&mut expected, &batch);
    let loaded = store.load().await.unwrap();
    store.close().await;
    let mut admin = sqlx::PgConnection::connect(&server).await.unwrap();
    sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .unwrap();
    assert_same(&loaded, &expected, "in the created database");
}

#[tokio::test]
async fn an_unreachable_server_is_named_without_its_password() {
    // Port 1 on loopback: nothing listens, the connection is refused.
    let location = StoreLocation::Postgres("postgres://liandong:s3cret@127.0.0.1:1/node".into());
    let err = match Durable::open(&location, &id(ME), StoreOptions::default()).await {
        Ok(_) => panic!("connected to port 1"),
        Err(e) => e,
    };
    assert!(err.is_unreachable(), "{err:?}");
    let message = err.to_string();
    assert!(
        message.starts_with("the database is unreachable: postgres://liandong@127.0.0.1:1/node"),
        "{message}"
    );
    assert!(!message.contains("s3cret"), "{message}");
}

#[test]
fn the_location_follows_the_database_flag() {
    let data = PathBuf::from("/var/lib/liandong");
    assert_eq!(
        StoreLocation::choose(None, &data).unwrap(),
        StoreLocation::Sqlite(data.join("node.db"))
    );
    for url in ["postgres://u@h/db", "postgresql://u@h:5433/db?sslmode=require"] {
        assert_eq!(
            StoreLocation::choose(Some(url), &data).unwrap(),
            StoreLocation::Postgres(url.into())
        );
    }
    let err = StoreLocation::choose(Some("mysql://root:hunter2@h/db"), &data).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("mysql://root@h/db") && message.contains("postgres://"),
        "{message}"
    );
    assert!(!message.contains("hunter2"), "{message}");
    assert_eq!(
        StoreLocation::Postgres("postgres://u:pw@h/db".into()).to_string(),
        "postgres://u@h/db"
    );
}
