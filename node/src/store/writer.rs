//! The SQLite store's one writer: a thread of its own that owns one
//! connection and runs each commit's statements in one transaction.
//!
//! sqlx's SQLite connection runs every step (begin, each statement,
//! commit) on a worker thread and hands the result back to the async
//! task, so one commit was a dozen thread wake-ups. On a loaded machine
//! each costs more than the statement it carries: a one-envelope commit
//! took 1.9 ms where SQLite itself needs about 0.35 ms (one fsync is
//! 0.26 ms here). Here a commit is one hand-off to this thread and one
//! back. The thread keeps its prepared statements (the batch's few
//! multi-row shapes), and its page cache stays warm because no other
//! connection writes.
//!
//! Readers stay on sqlx's pool beside it (WAL: they see what a commit
//! wrote once it returns). Depends on `sql` and `error` alone in `store`.

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use tokio::sync::oneshot;

use super::error::DbError;
use super::sql::{Arg, Stmt};

/// Prepared statements kept: the batch's shapes (a few chunk sizes per
/// table) and the store's own statements fit with room to spare.
const CACHED_STATEMENTS: usize = 256;

/// The writer's page cache, in KiB (SQLite's default is 2,000). A relay
/// inserts at random keys (envelope ids) into every table and index, so
/// with the default, in a county holding tens of thousands of reports,
/// fetching a page mostly evicted another, and a commit of a few hundred
/// envelopes spilled dirty pages into the WAL before its end (profiled:
/// `pagerStress` 4.8% of the node's samples). 64 MiB holds such a store's
/// B-trees; the cache grows only as pages are read, so a village's small
/// store stays small.
const CACHE_KIB: i64 = 64 * 1024;

/// How the writer's connection is set up.
#[derive(Debug, Clone)]
pub(super) struct WriterOptions {
    pub path: PathBuf,
    pub busy_timeout: Duration,
    /// WAL pages between checkpoints.
    pub checkpoint_pages: u32,
    /// `PRAGMA max_page_count`, a size cap (tests and drills).
    pub max_pages: Option<u32>,
}

enum Job {
    Write {
        statements: Vec<Stmt>,
        done: oneshot::Sender<Result<(), DbError>>,
    },
    Close {
        done: oneshot::Sender<()>,
    },
}

/// The handle: cheap to share, the thread ends when it is closed or
/// dropped.
pub(super) struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Opens the connection on a new thread; fails as opening fails.
    pub async fn open(options: WriterOptions) -> Result<Writer, DbError> {
        let (jobs, inbox) = mpsc::channel();
        let (opened, ready) = oneshot::channel();
        thread::Builder::new()
            .name("liandong-store-writer".into())
            .spawn(move || match connect(&options) {
                Ok(conn) => {
                    let _ = opened.send(Ok(()));
                    serve(conn, inbox);
                }
                Err(e) => {
                    let _ = opened.send(Err(e));
                }
            })
            .map_err(DbError::WriterSpawn)?;
        ready.await.map_err(|_| DbError::WriterStopped)??;
        Ok(Writer { jobs })
    }

    /// Runs `statements` in order in one transaction, synced to disk when
    /// it returns `Ok`; on any error none of them is kept.
    pub async fn write(&self, statements: Vec<Stmt>) -> Result<(), DbError> {
        let (done, outcome) = oneshot::channel();
        (self.jobs.send(Job::Write { statements, done })).map_err(|_| DbError::WriterStopped)?;
        outcome.await.map_err(|_| DbError::WriterStopped)?
    }

    /// Closes the connection once the writes before have run.
    pub async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if self.jobs.send(Job::Close { done }).is_ok() {
            let _ = closed.await;
        }
    }
}

fn connect(options: &WriterOptions) -> Result<Connection, DbError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(&options.path, flags)?;
    conn.busy_timeout(options.busy_timeout)?;
    // journal_mode answers with the mode in force: read it, not expected empty.
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(path = %options.path.display(), mode, "the store's writer could not switch to WAL");
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", false)?;
    conn.pragma_update(None, "wal_autocheckpoint", options.checkpoint_pages)?;
    // Negative: KiB, not pages.
    conn.pragma_update(None, "cache_size", -CACHE_KIB)?;
    // A multi-row insert keeps a statement journal (to undo only itself
    // if it fails midway): in memory, not a temporary file per commit.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    if let Some(pages) = options.max_pages {
        // Answers with the cap in force.
        let _: i64 = conn.pragma_update_and_check(None, "max_page_count", pages, |row| row.get(0))?;
    }
    conn.set_prepared_statement_cache_capacity(CACHED_STATEMENTS);
    Ok(conn)
}

fn serve(mut conn: Connection, inbox: mpsc::Receiver<Job>) {
    while let Ok(job) = inbox.recv() {
        match job {
            Job::Write { statements, done } => {
                let _ = done.send(write(&mut conn, &statements));
            }
            Job::Close { done } => {
                close(conn);
                let _ = done.send(());
                return;
            }
        }
    }
    close(conn);
}

fn close(conn: Connection) {
    if let Err((_, e)) = conn.close() {
        tracing::warn!(error = %e, "closing the store's writer connection");
    }
}

fn write(conn: &mut Connection, statements: &[Stmt]) -> Result<(), DbError> {
    // IMMEDIATE: the write lock from the start, so a busy database waits
    // here (busy timeout) rather than failing midway.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for stmt in statements {
        let mut prepared = tx.prepare_cached(&numbered(&stmt.sql))?;
        for (i, arg) in stmt.args.iter().enumerate() {
            let at = i + 1;
            match arg {
                Arg::Int(v) => prepared.raw_bind_parameter(at, v)?,
                Arg::Text(v) => prepared.raw_bind_parameter(at, v.as_str())?,
                Arg::Bool(v) => prepared.raw_bind_parameter(at, v)?,
                Arg::Bytes(v) => prepared.raw_bind_parameter(at, v.as_slice())?,
                Arg::NoBytes => prepared.raw_bind_parameter(at, None::<&[u8]>)?,
            }
        }
        prepared.raw_execute()?;
    }
    // Dropped without commit (an error above): rolled back.
    tx.commit()?;
    Ok(())
}

/// The shared text's `$n` as SQLite's `?n`: the n-th argument wherever
/// it stands. A statement uses either `$n` or anonymous `?` (bound in
/// order), never both.
fn numbered(sql: &str) -> Cow<'_, str> {
    if sql.contains('$') {
        Cow::Owned(sql.replace('$', "?"))
    } else {
        Cow::Borrowed(sql)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::StoreError;
    use super::*;

    fn options(dir: &Path) -> WriterOptions {
        WriterOptions {
            path: dir.join("w.db"),
            busy_timeout: Duration::from_secs(1),
            checkpoint_pages: 1000,
            max_pages: None,
        }
    }

    fn stmt(sql: &str, args: Vec<Arg>) -> Stmt {
        Stmt { sql: sql.into(), args }
    }

    async fn rows(path: &Path) -> Vec<(i64, i64)> {
        let conn = Connection::open(path).unwrap();
        let mut q = conn.prepare("SELECT a, b FROM t ORDER BY a").unwrap();
        q.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    /// A directory holding `w.db` with table `t`: key `a`, then `column`.
    fn with_table(column: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let sql = format!("CREATE TABLE t (a INTEGER PRIMARY KEY, {column})");
        Connection::open(dir.path().join("w.db"))
            .unwrap()
            .execute_batch(&sql)
            .unwrap();
        dir
    }

    #[tokio::test]
    async fn numbered_arguments_bind_where_they_stand_and_a_failed_batch_keeps_nothing() {
        let dir = with_table("b INTEGER NOT NULL");
        let writer = Writer::open(options(dir.path())).await.unwrap();
        // $2 before $1, and anonymous ? in order.
        writer
            .write(vec![
                stmt("INSERT INTO t (b, a) VALUES ($2, $1)", vec![Arg::Int(1), Arg::Int(10)]),
                stmt(
                    "INSERT INTO t (a, b) VALUES (?, ?), (?, ?)",
                    (2..6).map(Arg::Int).collect(),
                ),
            ])
            .await
            .unwrap();
        assert_eq!(rows(&dir.path().join("w.db")).await, vec![(1, 10), (2, 3), (4, 5)]);
        // The second statement breaks the key: the first is not kept either.
        let err = writer
            .write(vec![
                stmt("INSERT INTO t (a, b) VALUES (?, ?)", vec![Arg::Int(7), Arg::Int(7)]),
                stmt("INSERT INTO t (a, b) VALUES (?, ?)", vec![Arg::Int(1), Arg::Int(1)]),
            ])
            .await
            .unwrap_err();
        assert!(err.to_string().contains("UNIQUE"), "{err}");
        assert!(!StoreError::from_db(err, "w.db", "writing").is_full());
        assert_eq!(rows(&dir.path().join("w.db")).await, vec![(1, 10), (2, 3), (4, 5)]);
        writer.close().await;
        let after = writer.write(vec![]).await.unwrap_err();
        assert!(matches!(after, DbError::WriterStopped), "{after}");
    }

    #[tokio::test]
    async fn a_size_cap_reached_is_full() {
        let dir = with_table("b BLOB NOT NULL");
        let writer = Writer::open(WriterOptions {
            max_pages: Some(8),
            ..options(dir.path())
        })
        .await
        .unwrap();
        let big: Vec<Stmt> = (0..64)
            .map(|a| {
                stmt(
                    "INSERT INTO t (a, b) VALUES (?, ?)",
                    vec![Arg::Int(a), Arg::Bytes(vec![7; 4000])],
                )
            })
            .collect();
        let err = StoreError::from_db(writer.write(big).await.unwrap_err(), "w.db", "writing");
        assert!(err.is_full(), "{err}");
    }

    #[tokio::test]
    async fn a_missing_directory_fails_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let err = Writer::open(options(&dir.path().join("absent")))
            .await
            .err()
            .expect("refused");
        assert!(err.to_string().contains("unable to open"), "{err}");
    }
}
