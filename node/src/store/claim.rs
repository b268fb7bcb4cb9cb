//! One process per node's PostgreSQL database: the store claims the
//! database with a session advisory lock, held on a connection of its own
//! for as long as the store is open. A second `node run` on the same
//! database (a copy of the config started twice, a unit and a shell) would
//! sign and ack as the same node from two states that diverge; it is
//! refused at open with who holds the claim.
//!
//! A process that died leaves its claim only as long as the server takes
//! to see its connection gone, so a restart waits a few seconds for it
//! before refusing. The store checks its claim before every commit and
//! takes it again through here when its connection ended (a server
//! restart). SQLite needs no claim here: its file is opened by one
//! node's data directory only. Never touches the store's tables.

use std::str::FromStr;
use std::time::Duration;

use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};

use super::error::StoreError;

/// The advisory lock's key: "liandong" in ASCII. Advisory locks are per
/// database, and each node has its own database.
const KEY: i64 = 0x6c69_616e_646f_6e67;

/// How long a start waits for a claim left by a process that just died.
const WAIT: Duration = Duration::from_secs(5);
const RETRY: Duration = Duration::from_millis(100);

/// The claim on the database at `url` for node `node`: the connection that
/// holds it, to keep until the store closes.
pub(super) async fn postgres(url: &str, node: &str, place: &str) -> Result<PgConnection, StoreError> {
    let doing = "claiming the database for this process";
    let options = PgConnectOptions::from_str(url)
        .map_err(|e| StoreError::from_db(e, place, doing))?
        .application_name(&format!("liandong node {node}"));
    let mut conn = PgConnection::connect_with(&options)
        .await
        .map_err(|e| StoreError::from_db(e, place, doing))?;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (claimed,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_lock($1)")
            .bind(KEY)
            .fetch_one(&mut conn)
            .await
            .map_err(|e| StoreError::from_db(e, place, doing))?;
        if claimed {
            return Ok(conn);
        }
        if tokio::time::Instant::now() >= deadline {
            let holder = holder(&mut conn).await;
            let _ = conn.close().await;
            return Err(StoreError::InUse {
                place: place.to_owned(),
                holder,
            });
        }
        tokio::time::sleep(RETRY).await;
    }
}

/// A claim's holder: server process, application name, client address.
type Holder = (i32, Option<String>, Option<String>);

/// Who holds the claim, as PostgreSQL sees it: its server process, its
/// application name and its address.
async fn holder(conn: &mut PgConnection) -> String {
    let sql = "SELECT l.pid, a.application_name, host(a.client_addr) FROM pg_locks l \
               LEFT JOIN pg_stat_activity a ON a.pid = l.pid \
               WHERE l.locktype = 'advisory' AND l.granted \
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())";
    let rows: Result<Vec<Holder>, _> = sqlx::query_as(sql).fetch_all(conn).await;
    match rows.as_deref() {
        Ok([(pid, name, addr), ..]) => format!(
            "{} (server process {pid}{})",
            name.as_deref().filter(|n| !n.is_empty()).unwrap_or("another client"),
            addr.as_deref().map_or_else(String::new, |a| format!(", from {a}"))
        ),
        _ => "another process".into(),
    }
}
