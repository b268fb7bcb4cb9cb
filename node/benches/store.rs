//! Durable commit throughput of the store: records per second made durable
//! by `Durable::commit` with batches of 1, 16 and 256 envelopes, each
//! envelope three records as a relayed report makes them
//! (`Record::Envelope` + `Record::Outbox` + `Record::Incident`, and the
//! audit entry the store adds). Every commit is one transaction and one
//! sync (SQLite: WAL, synchronous=FULL), so the ratio against batches of
//! one envelope, measured in the same run, is what group commit buys.
//!
//! SQLite in a temp dir always; PostgreSQL too when
//! `LIANDONG_TEST_POSTGRES` names a server (a fresh database, dropped
//! after). Each measurement stops at `ENVELOPES` envelopes or
//! `TIME_LIMIT`, whichever comes first. Run with
//! `cargo bench -p liandong-node --bench store`.

use std::time::{Duration, Instant};

use liandong_dispatch::store::{OutboxEntry, StoredEnvelope, TimelineEntry};
use liandong_dispatch::wire::Hop;
use liandong_dispatch::{
    Body, Category, Envelope, EnvelopeId, Incident, IncidentState, Lane, Mode, Record, Report, Timestamp,
};
use liandong_node::store::{Durable, StoreLocation, StoreOptions};
use liandong_topology::{NodeId, Severity};
use sqlx::{Connection, Executor};

const BATCHES: [usize; 3] = [1, 16, 256];
/// Most envelopes, and most time, per measurement.
const ENVELOPES: usize = 20_000;
const TIME_LIMIT: Duration = Duration::from_secs(3);
const T0: u64 = 1_800_000_000_000;

fn id(s: &str) -> NodeId {
    NodeId::parse(s).expect("a node id")
}

fn report_id(n: u64) -> EnvelopeId {
    EnvelopeId(u128::from(n) << 64 | 0x5eed)
}

/// The three records a township writes for a report relayed from a village.
fn relayed_report(n: u64) -> [Record; 3] {
    let (village, town, county) = (id("350102001001"), id("350102001"), id("350102"));
    let id = report_id(n);
    let at = Timestamp(T0 + n);
    let report = Report {
        severity: Severity::IV,
        category: Category::Hazard,
        title: format!("消防通道堵塞 #{n}"),
        detail: "五一社区3号楼楼道堆放大量杂物，堵塞消防通道，居民多次反映未果".into(),
        place: "鼓楼区五一社区3号楼".into(),
        reporter: "网格员张伟".into(),
        photos: Vec::new(),
    };
    let envelope = Envelope {
        id,
        origin: village.clone(),
        created: at,
        expires: at.plus(Duration::from_secs(3 * 24 * 3600)),
        mode: Mode::Actual,
        body: Body::Report(report.clone()),
        signature: vec![0xab; 64],
    };
    let incident = Incident {
        id,
        origin: village.clone(),
        report,
        mode: Mode::Actual,
        reported: at,
        owner: county.clone(),
        state: IncidentState::Reported,
        accepted_by: None,
        accept_by: at.plus(Duration::from_secs(1800)),
        finish_by: None,
        supervisor: None,
        orders: Vec::new(),
        timeline: vec![TimelineEntry {
            at,
            node: town.clone(),
            what: "stored here".into(),
        }],
    };
    [
        Record::Envelope(StoredEnvelope {
            envelope,
            trace: vec![Hop { node: village, at }, Hop { node: town, at }],
            catch_up: false,
        }),
        Record::Outbox {
            peer: county.clone(),
            id,
            entry: OutboxEntry {
                to: vec![county],
                lane: Lane::Normal,
                catch_up: false,
                acked: false,
                gave_up: false,
            },
        },
        Record::Incident(incident),
    ]
}

/// The records of `batch` relayed reports, numbered on from `next`.
fn batch_of(batch: usize, next: &mut u64) -> Vec<Record> {
    (0..batch)
        .flat_map(|_| {
            *next += 1;
            relayed_report(*next)
        })
        .collect()
}

/// Records per second with `batch` envelopes per commit.
async fn measure(store: &Durable, batch: usize, next: &mut u64) -> f64 {
    let start = Instant::now();
    let mut envelopes = 0;
    while envelopes < ENVELOPES && start.elapsed() < TIME_LIMIT {
        let records = batch_of(batch, next);
        store.commit(&records, Timestamp(T0 + *next)).await.expect("commit");
        envelopes += batch;
    }
    (envelopes * 3) as f64 / start.elapsed().as_secs_f64()
}

async fn bench(name: &str, location: &StoreLocation) {
    let store = Durable::open(location, &id("350102001"), StoreOptions::default())
        .await
        .expect("open the store");
    let mut next = 0;
    // Warm up: connections, prepared statements, the file's first pages.
    for batch in BATCHES {
        store
            .commit(&batch_of(batch, &mut next), Timestamp(T0))
            .await
            .expect("commit");
    }
    let mut base = None;
    for batch in BATCHES {
        let rate = measure(&store, batch, &mut next).await;
        let base = *base.get_or_insert(rate);
        println!(
            "{name:<10} {batch:>6} {:>8} {rate:>12.0} {:>10.0} {:>8.1}x",
            batch * 3,
            rate / 3.0 / batch as f64,
            rate / base,
        );
    }
    // Hop acks for the copies now queued (a table of some 10^4 rows), 256
    // per commit: each an update of one row found by its key.
    let start = Instant::now();
    let mut acked = 0u64;
    while acked < next && start.elapsed() < TIME_LIMIT {
        let records: Vec<Record> = (acked + 1..=(acked + 256).min(next))
            .map(|n| Record::Acked {
                peer: id("350102"),
                id: report_id(n),
            })
            .collect();
        acked += records.len() as u64;
        store.commit(&records, Timestamp(T0 + next)).await.expect("commit");
    }
    let rate = acked as f64 / start.elapsed().as_secs_f64();
    println!(
        "{name:<10} {:>6} {:>8} {rate:>12.0} {:>10.0}  (hop acks of {next} queued copies)",
        "acks",
        256,
        rate / 256.0
    );
    let check = store.verify_audit().await.expect("audit chain");
    println!("{name:<10} audit chain verified: {} entries", check.entries);
    store.close().await;
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    runtime.block_on(async {
        let wall = Instant::now();
        println!(
            "liandong-node store: durable commit throughput, batches of relayed reports (3 records each; up to {ENVELOPES} envelopes or {}s per row)",
            TIME_LIMIT.as_secs()
        );
        println!(
            "{:<10} {:>6} {:>8} {:>12} {:>10} {:>9}",
            "backend", "batch", "records", "records/s", "commits/s", "vs 1"
        );
        let dir = tempfile::tempdir().expect("a temp dir");
        bench("sqlite", &StoreLocation::Sqlite(dir.path().join("node.db"))).await;
        match std::env::var("LIANDONG_TEST_POSTGRES") {
            Ok(server) => {
                let database = format!("ld_bench_{}", std::process::id());
                let mut admin = sqlx::PgConnection::connect(&server).await.expect("connect to LIANDONG_TEST_POSTGRES");
                let (scheme, rest) = server.split_once("://").expect("a postgres:// url");
                let host = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
                bench("postgres", &StoreLocation::Postgres(format!("{scheme}://{host}/{database}"))).await;
                admin
                    .execute(format!("DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)").as_str())
                    .await
                    .expect("drop the bench database");
            }
            Err(_) => println!("postgres   (skipped: set LIANDONG_TEST_POSTGRES=postgres://user@host:port/postgres)"),
        }
        println!("(vs 1: records/s against batches of one envelope in the same run; total {:.1}s)", wall.elapsed().as_secs_f64());
    });
}
