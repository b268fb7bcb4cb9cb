//! What can go wrong with the store, in operator words.

use std::fmt;

/// An error of the durable store. Every message names the store (the
/// SQLite file, or the PostgreSQL url without its password) and what the
/// store was doing.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("--database {value}: not a PostgreSQL url (expected postgres://... or postgresql://...)")]
    NotPostgres { value: String },
    #[error(
        "the store at {place} belongs to node {stored}, not to {given}: refusing to open it (each node has its own store)"
    )]
    WrongNode {
        place: String,
        stored: String,
        given: String,
    },
    #[error(
        "the store at {place} is in use by {holder}: one process per node's database (two would sign and acknowledge as the same node from states that diverge); stop the other first"
    )]
    InUse { place: String, holder: String },
    #[error("the database is full (disk or size limit): {place}: {doing}: {detail}")]
    Full {
        place: String,
        doing: String,
        detail: String,
    },
    #[error("the database is unreachable: {place}: {doing}: {detail}")]
    Unreachable {
        place: String,
        doing: String,
        detail: String,
    },
    #[error("the store at {place} has schema version {found}, newer than this build knows ({known}): upgrade liandong")]
    TooNew { place: String, found: i64, known: i64 },
    #[error("database error at {place} while {doing}: {detail}")]
    Database {
        place: String,
        doing: String,
        detail: String,
    },
    #[error("the store at {place} holds {what} that cannot be read: {detail}")]
    Corrupt {
        place: String,
        what: String,
        detail: String,
    },
    #[error("the audit log at {place} is damaged at entry {seq}: {problem}")]
    Audit {
        place: String,
        seq: u64,
        problem: AuditProblem,
    },
}

impl StoreError {
    /// The disk (or the configured size limit) is full: nothing of the
    /// failed batch was kept; free space, then retry.
    pub fn is_full(&self) -> bool {
        matches!(self, StoreError::Full { .. })
    }

    /// The database could not be reached (server down, connection lost,
    /// pool timed out): the batch was not kept; retrying later may work.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, StoreError::Unreachable { .. })
    }

    /// The audit chain is broken; the entry is in the error.
    pub fn audit_problem(&self) -> Option<(u64, &AuditProblem)> {
        match self {
            StoreError::Audit { seq, problem, .. } => Some((*seq, problem)),
            _ => None,
        }
    }

    /// Sorts a database error into full / unreachable / other, naming the
    /// store and what it was doing.
    pub(crate) fn from_db(err: impl Into<DbError>, place: &str, doing: impl Into<String>) -> StoreError {
        let (place, doing) = (place.to_owned(), doing.into());
        let err = err.into();
        let detail = match &err {
            DbError::Sqlx(sqlx::Error::Database(db)) => db.message().to_owned(),
            other => other.to_string(),
        };
        let class = match &err {
            DbError::Sqlx(e) => classify(e),
            DbError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::DiskFull => {
                Class::Full
            }
            DbError::Sqlite(_) | DbError::WriterStopped | DbError::WriterSpawn(_) => Class::Other,
        };
        match class {
            Class::Full => StoreError::Full { place, doing, detail },
            Class::Unreachable => StoreError::Unreachable { place, doing, detail },
            Class::Other => StoreError::Database { place, doing, detail },
        }
    }

    pub(crate) fn corrupt(place: &str, what: impl Into<String>, detail: impl fmt::Display) -> StoreError {
        StoreError::Corrupt {
            place: place.to_owned(),
            what: what.into(),
            detail: detail.to_string(),
        }
    }
}

/// An error of either database library, before it is put in operator
/// words by [`StoreError::from_db`].
#[derive(Debug, thiserror::Error)]
pub(crate) enum DbError {
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
    /// SQLite's writer connection (`writer.rs`).
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    /// The writer thread ended (it panicked, or the store was closed).
    #[error("the store's writer thread has stopped")]
    WriterStopped,
    #[error("starting the store's writer thread: {0}")]
    WriterSpawn(std::io::Error),
}

/// What is wrong with an audit entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditProblem {
    /// The entry's hash does not match its contents: it was changed after
    /// it was written.
    HashMismatch,
    /// The entry does not point at the hash of the entry before it.
    BrokenLink,
    /// Entries are missing: the log jumps from `seq - 1` to `next`.
    Gap { next: u64 },
    /// The log ends before the last entry the store recorded writing.
    Truncated { last: u64 },
    /// The log goes on past the last entry the store recorded writing:
    /// the entry was added behind the store's back.
    Unrecorded { last: u64 },
}

impl fmt::Display for AuditProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuditProblem::HashMismatch => f.write_str("hash mismatch: the entry was changed after it was written"),
            AuditProblem::BrokenLink => {
                f.write_str("broken link: the entry does not follow from the hash of the entry before it")
            }
            AuditProblem::Gap { next } => write!(f, "gap: the entry is missing (the log goes on at entry {next})"),
            AuditProblem::Truncated { last } => {
                write!(f, "gap: the entry is missing (the log was written up to entry {last})")
            }
            AuditProblem::Unrecorded { last } => write!(
                f,
                "the entry was not written by the store (it recorded writing up to entry {last})"
            ),
        }
    }
}

enum Class {
    Full,
    Unreachable,
    Other,
}

fn classify(err: &sqlx::Error) -> Class {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => Class::Unreachable,
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // Extended result codes: the primary code is the low byte.
                match code.parse::<i32>().map(|c| c & 0xff) {
                    Ok(SQLITE_FULL) => Class::Full,
                    _ => Class::Other,
                }
            } else if code == PG_DISK_FULL {
                Class::Full
            } else if code.starts_with("08") || code == PG_TOO_MANY_CONNECTIONS || code.starts_with("57P") {
                // connection exception, too many connections, server shutting down
                Class::Unreachable
            } else {
                Class::Other
            }
        }
        _ => Class::Other,
    }
}

const SQLITE_FULL: i32 = 13;
const PG_DISK_FULL: &str = "53100";
const PG_TOO_MANY_CONNECTIONS: &str = "53300";

/// A database url fit for messages and logs: the password (in the user
/// part or a `password=` parameter) is left out.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    let authority = match authority.rsplit_once('@') {
        Some((user, host)) => format!("{}@{host}", user.split(':').next().unwrap_or_default()),
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let kept: Vec<&str> = query
                .split('&')
                .filter(|kv| !kv.to_ascii_lowercase().starts_with("password="))
                .collect();
            if kept.is_empty() {
                path.to_owned()
            } else {
                format!("{path}?{}", kept.join("&"))
            }
        }
        None => tail.to_owned(),
    };
    format!("{scheme}://{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_password() {
        assert_eq!(
            redact_url("postgres://liandong:s3cret@db.example:5432/node?sslmode=require&password=x"),
            "postgres://liandong@db.example:5432/node?sslmode=require"
        );
        assert_eq!(redact_url("postgresql://h/db?password=x"), "postgresql://h/db");
        assert_eq!(redact_url("postgres://u@h"), "postgres://u@h");
        assert_eq!(redact_url("not a url"), "not a url");
    }
}
