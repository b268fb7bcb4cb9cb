//! The SQL values every other part of the store builds on: bound
//! arguments, statements, and the few places where the text of a
//! statement differs between SQLite and PostgreSQL.
//!
//! Depends on nothing else in `store`: the backends run [`Stmt`]s, the
//! batch and the audit log build them.

use std::fmt::Write;

/// A bound value.
#[derive(Debug, Clone)]
pub(super) enum Arg {
    Int(i64),
    Text(String),
    Bool(bool),
    Bytes(Vec<u8>),
    /// A NULL in a blob column.
    NoBytes,
}

/// One statement of a write transaction.
#[derive(Debug)]
pub(super) struct Stmt {
    pub sql: String,
    pub args: Vec<Arg>,
}

/// Sets one `meta` row: `$1` the key, `$2` the value.
pub(super) const META_UPSERT: &str =
    "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value";

/// Where the SQL of the two databases must differ for speed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dialect {
    /// Anonymous `?` parameters, bound in order: SQLite looks a named or
    /// numbered one (`$7`, `?7`) up by a linear scan at every bind, so
    /// binding n of them costs n² (256-row chunks were slower than 64).
    Sqlite,
    /// `$1, $2, ...`.
    Postgres,
}

impl Dialect {
    /// `n` parameters from number `start`: `$1, $2, $3` or `?, ?, ?`.
    pub fn list(self, start: usize, n: usize) -> String {
        let mut out = String::with_capacity(n * 5);
        self.push_list(&mut out, start, n);
        out
    }

    /// `n` rows of `width` parameters: `($1, $2), ($3, $4), ...`. One
    /// text built in place: a commit's 256-row statements were thousands
    /// of small strings each.
    pub fn tuples(self, width: usize, n: usize) -> String {
        let mut out = String::with_capacity(n * (width * 5 + 4));
        for r in 0..n {
            if r > 0 {
                out.push_str(", ");
            }
            out.push('(');
            self.push_list(&mut out, r * width + 1, width);
            out.push(')');
        }
        out
    }

    /// A condition true for the rows whose `columns` equal one of `n`
    /// parameter tuples, that uses the key's index on each database:
    /// SQLite scans the whole table for `(a, b) IN (VALUES ...)` but looks
    /// up each term of an OR; PostgreSQL plans a long OR badly before it
    /// has statistics (a filter over the whole index, ~150 ms for 256
    /// pairs) and joins `IN (VALUES ...)` well.
    pub fn any_of(self, columns: &[&str], n: usize) -> String {
        match self {
            Dialect::Sqlite => {
                let mut out = String::new();
                for r in 0..n {
                    if r > 0 {
                        out.push_str(" OR ");
                    }
                    out.push('(');
                    for (i, c) in columns.iter().enumerate() {
                        if i > 0 {
                            out.push_str(" AND ");
                        }
                        out.push_str(c);
                        out.push_str(" = ");
                        self.push_list(&mut out, r * columns.len() + i + 1, 1);
                    }
                    out.push(')');
                }
                out
            }
            Dialect::Postgres => {
                format!("({}) IN (VALUES {})", columns.join(", "), self.tuples(columns.len(), n))
            }
        }
    }

    fn push_list(self, out: &mut String, start: usize, n: usize) {
        for i in start..start + n {
            if i > start {
                out.push_str(", ");
            }
            match self {
                Dialect::Postgres => {
                    // Writing to a String cannot fail.
                    let _ = write!(out, "${i}");
                }
                Dialect::Sqlite => out.push('?'),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_number_rows_in_order() {
        assert_eq!(Dialect::Postgres.tuples(2, 2), "($1, $2), ($3, $4)");
        assert_eq!(Dialect::Postgres.list(1, 3), "$1, $2, $3");
        assert_eq!(Dialect::Sqlite.tuples(2, 2), "(?, ?), (?, ?)");
        assert_eq!(Dialect::Postgres.tuples(3, 2), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(Dialect::Postgres.list(9, 3), "$9, $10, $11");
        assert_eq!(Dialect::Sqlite.list(4, 3), "?, ?, ?");
        assert_eq!(Dialect::Sqlite.tuples(1, 0), "");
        assert_eq!(
            Dialect::Sqlite.any_of(&["peer", "id"], 2),
            "(peer = ? AND id = ?) OR (peer = ? AND id = ?)"
        );
        assert_eq!(
            Dialect::Postgres.any_of(&["peer", "id"], 2),
            "(peer, id) IN (VALUES ($1, $2), ($3, $4))"
        );
    }
}
