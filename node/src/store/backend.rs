//! The two databases behind one interface.
//!
//! All SQL is shared text: `$1, $2, ...` placeholders work on both SQLite
//! and PostgreSQL (the generated batch statements differ a little, see
//! [`Dialect`]), and the column types (`i64`, `bool`, text,
//! blob/bytea) bind and decode the same way on both. So the per-backend code is only what
//! really differs: opening and tuning the pool, the migrations, and the
//! two primitives everything else is built on: run statements in one
//! transaction ([`Backend::write`]: on SQLite, the writer thread of
//! `writer.rs`) and fetch typed rows ([`Backend::fetch`]). The
//! `with_pool!` macro writes a primitive's body once and compiles it for
//! each pool type.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::{MigrateError, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Connection, FromRow};

use super::error::DbError;
use super::sql::{Arg, Dialect, Stmt};
use super::writer::{Writer, WriterOptions};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// How long a statement waits for SQLite's write lock (another process,
/// a checkpoint) before failing with "database is locked".
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Readers run beside the writer thread (WAL), which makes every commit,
/// so more connections would only sit idle.
const SQLITE_CONNECTIONS: u32 = 4;
const POSTGRES_CONNECTIONS: u32 = 8;
/// WAL pages between the writer's checkpoints (4 KiB each: 32 MiB).
const SQLITE_CHECKPOINT_PAGES: u32 = 8192;
/// Longest wait for a connection to PostgreSQL.
const POSTGRES_TIMEOUT: Duration = Duration::from_secs(10);
/// SQLSTATE invalid_catalog_name: the database does not exist.
const PG_NO_DATABASE: &str = "3D000";
/// SQLSTATE duplicate_database.
const PG_DUPLICATE_DATABASE: &str = "42P04";

pub(super) enum Backend {
    /// Readers on sqlx's pool, and the one connection every commit goes
    /// through on a thread of its own (`writer`): a connection's page
    /// cache holds only while no other connection has written, and
    /// sqlx's SQLite connection hands every step to its worker thread
    /// and back.
    Sqlite {
        pool: SqlitePool,
        writer: Writer,
    },
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to whichever pool `$backend` holds:
/// one body, compiled once per pool type.
macro_rules! with_pool {
    ($backend:expr, |$pool:ident| $body:expr) => {
        match $backend {
            Backend::Sqlite { pool: $pool, .. } => $body,
            Backend::Postgres($pool) => $body,
        }
    };
}

/// Binds every [`Arg`] of `$args` to the query `$query`, in order.
macro_rules! bind_args {
    ($query:expr, $args:expr) => {{
        let mut query = $query;
        for arg in $args {
            query = match arg {
                Arg::Int(v) => query.bind(*v),
                Arg::Text(v) => query.bind(v.as_str()),
                Arg::Bool(v) => query.bind(*v),
                Arg::Bytes(v) => query.bind(v.as_slice()),
                Arg::NoBytes => query.bind(None::<&[u8]>),
            };
        }
        query
    }};
}

impl Backend {
    /// The SQLite file at `path` (created if missing): WAL, every commit
    /// synced to disk, a busy timeout, and `max_pages` as a size cap.
    pub async fn open_sqlite(path: &Path, max_pages: Option<u32>) -> Result<Backend, DbError> {
        let mut connect = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(SQLITE_BUSY_TIMEOUT)
            .foreign_keys(false);
        if let Some(pages) = max_pages {
            connect = connect.pragma("max_page_count", pages.to_string());
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(SQLITE_CONNECTIONS)
            .connect_with(connect)
            .await?;
        // The writer checkpoints the WAL into the file every
        // `SQLITE_CHECKPOINT_PAGES` pages instead of SQLite's 1,000: a
        // checkpoint runs inside the commit that crosses the mark, and
        // pages a relay rewrites at every commit (the indexes' upper
        // levels) are then copied once per checkpoint, not once per 1,000.
        let writer = Writer::open(WriterOptions {
            path: path.to_owned(),
            busy_timeout: SQLITE_BUSY_TIMEOUT,
            checkpoint_pages: SQLITE_CHECKPOINT_PAGES,
            max_pages,
        })
        .await;
        let writer = match writer {
            Ok(writer) => writer,
            Err(e) => {
                pool.close().await;
                return Err(e);
            }
        };
        Ok(Backend::Sqlite { pool, writer })
    }

    /// The PostgreSQL database at `url`. One connection is tried first, so
    /// a server that is down fails at once (not after the pool's retries);
    /// if the database does not exist yet it is created (through the
    /// server's `postgres` database), so a new node needs only a role
    /// allowed to create databases.
    pub async fn open_postgres(url: &str) -> Result<Backend, sqlx::Error> {
        let connect = PgConnectOptions::from_str(url)?;
        match Backend::pg_connect(&connect).await {
            Ok(conn) => conn.close().await?,
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some(PG_NO_DATABASE) => {
                let name = connect.get_database().unwrap_or_default().to_owned();
                let mut admin = Backend::pg_connect(&connect.clone().database("postgres")).await?;
                let create = format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\""));
                let created = sqlx::query(&create).execute(&mut admin).await;
                admin.close().await?;
                match created {
                    Ok(_) => tracing::info!(database = %name, "created the node's PostgreSQL database"),
                    // Another process created it meanwhile: fine.
                    Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some(PG_DUPLICATE_DATABASE) => {}
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        }
        let pool = PgPoolOptions::new()
            .max_connections(POSTGRES_CONNECTIONS)
            .acquire_timeout(POSTGRES_TIMEOUT)
            .connect_with(connect)
            .await?;
        Ok(Backend::Postgres(pool))
    }

    /// One connection, or an error within [`POSTGRES_TIMEOUT`].
    async fn pg_connect(options: &PgConnectOptions) -> Result<sqlx::PgConnection, sqlx::Error> {
        match tokio::time::timeout(POSTGRES_TIMEOUT, sqlx::PgConnection::connect_with(options)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(sqlx::Error::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no answer within {} s", POSTGRES_TIMEOUT.as_secs()),
            ))),
        }
    }

    /// Brings the schema up to date; returns the schema version.
    pub async fn migrate(&self) -> Result<i64, MigrateError> {
        let migrator = self.migrator();
        with_pool!(self, |pool| migrator.run(pool).await)?;
        Ok(Backend::known_version(migrator))
    }

    /// The newest schema version this build knows.
    pub fn known_version(migrator: &Migrator) -> i64 {
        migrator.iter().map(|m| m.version).max().unwrap_or(0)
    }

    pub fn migrator(&self) -> &'static Migrator {
        match self {
            Backend::Sqlite { .. } => &SQLITE_MIGRATIONS,
            Backend::Postgres(_) => &POSTGRES_MIGRATIONS,
        }
    }

    /// How the generated batch statements are written for this backend.
    pub fn dialect(&self) -> Dialect {
        match self {
            Backend::Sqlite { .. } => Dialect::Sqlite,
            Backend::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Runs `statements` in order in one transaction: all of them are
    /// committed, or (on any error) none. On SQLite they go to the writer
    /// thread in one hand-off.
    pub async fn write(&self, statements: Vec<Stmt>) -> Result<(), DbError> {
        let pool = match self {
            Backend::Sqlite { writer, .. } => return writer.write(statements).await,
            Backend::Postgres(pool) => pool,
        };
        let mut tx = pool.begin().await?;
        let mut outcome = Ok(());
        for stmt in &statements {
            if let Err(e) = bind_args!(sqlx::query(&stmt.sql), &stmt.args).execute(&mut *tx).await {
                outcome = Err(e);
                break;
            }
        }
        match outcome {
            Ok(()) => Ok(tx.commit().await?),
            Err(e) => {
                // Best effort: dropping the transaction rolls back too.
                let _ = tx.rollback().await;
                Err(e.into())
            }
        }
    }

    /// Every row of a query, as `T` (a tuple of column types that both
    /// backends decode: `i64`, `bool`, `String`, `Vec<u8>`, `Option<_>`).
    pub async fn fetch<T>(&self, sql: &str, args: &[Arg]) -> Result<Vec<T>, sqlx::Error>
    where
        T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin,
    {
        with_pool!(self, |pool| bind_args!(sqlx::query_as::<_, T>(sql), args)
            .fetch_all(pool)
            .await)
    }

    pub async fn close(&self) {
        if let Backend::Sqlite { writer, .. } = self {
            writer.close().await;
        }
        with_pool!(self, |pool| pool.close().await)
    }
}
