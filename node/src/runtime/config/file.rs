//! The node's config file, `node.toml`: one per machine, so that
//! `liandong node run --config /etc/liandong/node.toml` is the whole
//! command. `liandong node init` writes it ([`super::template`]), with
//! each field's comment; this is how it is read.
//!
//! # Format
//! TOML, one key per field, every value a string; an unknown key is an
//! error (a typo is not a default). Relative paths are relative to the
//! file's directory.
//!
//! ```toml
//! id = "350102"                    # required: this center's division code
//! listen = "0.0.0.0:7101"          # required: where other nodes reach it (IP:PORT)
//! parent = "10.35.0.1:7100"        # the parent's address; empty for the top center
//! data = "/var/lib/liandong"       # required: the data directory
//! store = ""                       # a PostgreSQL URL, or empty: SQLite in `data`
//! control = "127.0.0.1:8101"       # the control API; empty: loopback at listen's port + 1000
//! metrics = ""                     # Prometheus at http://ADDR/metrics; empty: off
//! log_format = "text"              # text (for people) or json (for log shippers)
//! log_filter = "info"              # tracing directives; empty: RUST_LOG, else info
//! certs = "/etc/liandong/certs"    # required: node.pem, node.key, ca.pem
//! topology = "/etc/liandong/topology.toml"  # the federation's topology file
//! document = "/etc/liandong/federation.toml" # or its signed document (first start)
//! gateway = ""                     # the gateway, IP:PORT; empty: off
//! gateway_cert = ""                # its TLS certificate (PEM), with gateway
//! gateway_key = ""                 # its TLS key (PEM, 0600), with gateway
//! gateway_photo_max_mib = "5"      # largest photo the gateway takes, MiB (1-32)
//! ```
//!
//! - `id`: the center's administrative-division code (`350102`, or a member
//!   unit's `350102-police`), as in the topology and its certificate.
//! - `listen`: the node's link address, `IP:PORT` (`0.0.0.0:PORT` for every
//!   interface). Children dial it.
//! - `parent`: the parent center's address, `IP:PORT`: how a new node
//!   reaches the federation before it holds the federation's document.
//!   Today the topology has it too; when both are given this one is
//!   dialed. Empty or absent: the topology's (none for the top center).
//! - `data`: the node's directory: the SQLite store `node.db`,
//!   `control.addr`.
//! - `store`: `postgres://user@host/db` to keep the store in PostgreSQL;
//!   empty or absent: SQLite in `data`.
//! - `control`: the operators' control API, `IP:PORT`; empty or absent:
//!   loopback at `listen`'s port + 1000.
//! - `metrics`: serve Prometheus metrics at `http://ADDR/metrics`; empty or
//!   absent: no metrics endpoint.
//! - `log_format`: `text` (readable lines) or `json` (one object per line);
//!   absent: `text`.
//! - `log_filter`: which log lines, as `tracing` directives (`info`,
//!   `warn,liandong_node=debug`); empty or absent: `RUST_LOG`, else `info`.
//!   `RUST_LOG`, when set, overrides it (as a flag overrides the file).
//! - `certs`: the directory with this node's own `node.pem`, `node.key`
//!   and `ca.pem` (or the federation's certificate directory).
//! - `topology`: the federation's topology file, for a federation run
//!   without a signed document. Optional.
//! - `document`: the signed federation document (`<document>.sig` beside
//!   it) a new node starts on; after that the node runs on the newest
//!   version it holds in its store, and needs neither this nor `topology`.
//!   Optional.
//! - `gateway`, `gateway_cert`, `gateway_key`: the gateway's address and the
//!   certificate and key it presents (all three, or none: off). Tokens
//!   live in `data` (`gateway-tokens.toml`). `gateway_photo_max_mib`: the
//!   largest photo it takes, 1 to 32 MiB (5 when empty).
//!
//! # Errors
//! Every problem found is reported at once, each as `FILE:LINE:COLUMN:`
//! and what is wrong: a TOML syntax error, an unknown key, a missing
//! required field (reported at 1:1), a bad address, an id that is not a
//! division code, a bad log format or filter, a store that is not a
//! PostgreSQL URL, an empty path.
//!
//! Nothing here binds, dials, creates a directory or checks that a path
//! exists: the node does that when it starts.

use std::fmt;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use liandong_topology::{IdError, Location, NodeId};
use serde::Deserialize;
use toml::Spanned;

use super::settings::{GatewaySettings, Settings};
use crate::observe::LogFormat;
use crate::store::StoreLocation;

/// The name `liandong node init` gives the file.
pub const FILE_NAME: &str = "node.toml";

/// Why a config file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("cannot read the config file {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// Every problem found, in file order. Display prints one per line.
    #[error("{}", list(.0))]
    Invalid(Vec<FileProblem>),
}

impl FileError {
    /// The problems found; empty for an I/O error.
    pub fn problems(&self) -> &[FileProblem] {
        match self {
            FileError::Io { .. } => &[],
            FileError::Invalid(problems) => problems,
        }
    }
}

fn list(problems: &[FileProblem]) -> String {
    problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
}

/// One thing wrong with a config file, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileProblem {
    pub at: Location,
    pub kind: ProblemKind,
}

impl fmt::Display for FileProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.at, self.kind)
    }
}

/// The kinds of problem, one per rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProblemKind {
    /// TOML syntax, a value that is not a string, or an unknown key.
    #[error("{0}")]
    Syntax(String),
    #[error("`{field}` is missing: {what}")]
    Missing { field: &'static str, what: &'static str },
    #[error("`{field}` is not an address: {text:?} (expected IP:PORT such as 127.0.0.1:7100 or [::1]:7100)")]
    BadAddress { field: &'static str, text: String },
    #[error("`id` is not a node id: {why}")]
    BadId { text: String, why: IdError },
    #[error("`log_format` {0:?} is neither \"text\" nor \"json\"")]
    BadLogFormat(String),
    #[error("`log_filter` {text:?} is not a log filter: {why}")]
    BadLogFilter { text: String, why: String },
    /// The value is not repeated: it may hold a password.
    #[error("`store` is not a PostgreSQL URL: write postgres://user@host/db, or \"\" for SQLite in `data`")]
    BadStore,
    #[error("`{field}` is empty: it names a directory")]
    EmptyPath { field: &'static str },
    #[error("`gateway` needs `gateway_cert` and `gateway_key`: the certificate and key it presents")]
    GatewayWithoutCertificate,
    #[error("`gateway_photo_max_mib` {text:?} is not a whole number of MiB from 1 to 32")]
    BadPhotoMax { text: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    id: Option<Spanned<String>>,
    listen: Option<Spanned<String>>,
    parent: Option<Spanned<String>>,
    data: Option<Spanned<String>>,
    store: Option<Spanned<String>>,
    control: Option<Spanned<String>>,
    metrics: Option<Spanned<String>>,
    log_format: Option<Spanned<String>>,
    log_filter: Option<Spanned<String>>,
    certs: Option<Spanned<String>>,
    topology: Option<Spanned<String>>,
    document: Option<Spanned<String>>,
    gateway: Option<Spanned<String>>,
    gateway_cert: Option<Spanned<String>>,
    gateway_key: Option<Spanned<String>>,
    gateway_photo_max_mib: Option<Spanned<String>>,
}

impl Settings {
    /// Reads and checks a config file. Every problem is reported, each
    /// with the file, line and column.
    pub fn load(path: &Path) -> Result<Settings, FileError> {
        let text = std::fs::read_to_string(path).map_err(|source| FileError::Io {
            path: path.to_owned(),
            source,
        })?;
        Settings::parse(&text, path)
    }

    /// Checks config text as the file `path` (for messages, and the
    /// directory relative paths start from).
    pub fn parse(text: &str, path: &Path) -> Result<Settings, FileError> {
        let lines = LineIndex::new(text, path);
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            FileError::Invalid(vec![FileProblem {
                at: lines.locate(e.span().map_or(0, |s| s.start)),
                kind: ProblemKind::Syntax(e.message().trim().to_owned()),
            }])
        })?;
        let base = path.parent().unwrap_or(Path::new(""));
        let mut check = Check {
            lines: &lines,
            problems: Vec::new(),
        };

        let id = check.required(&raw.id, "id", "this center's division code, e.g. id = \"350102\"");
        let id = id.and_then(|(text, span)| match NodeId::parse(text) {
            Ok(id) => Some(id),
            Err(why) => check.report(
                span,
                ProblemKind::BadId {
                    text: text.to_owned(),
                    why,
                },
            ),
        });
        let listen = check
            .required(
                &raw.listen,
                "listen",
                "where other nodes reach this one, e.g. listen = \"0.0.0.0:7101\"",
            )
            .and_then(|(text, span)| check.address("listen", text, span));
        let parent = check.optional_address(&raw.parent, "parent");
        let data = check
            .required(
                &raw.data,
                "data",
                "the data directory, e.g. data = \"/var/lib/liandong\"",
            )
            .and_then(|(text, span)| check.path(base, "data", text, span));
        let store = match check.optional(&raw.store) {
            None => Some(None),
            // Only the form is checked here; the data directory is not used.
            Some((text, span)) => match StoreLocation::choose(Some(text), Path::new("")) {
                Ok(_) => Some(Some(text.to_owned())),
                Err(_) => check.report(span, ProblemKind::BadStore),
            },
        };
        let control = check.optional_address(&raw.control, "control");
        let metrics = check.optional_address(&raw.metrics, "metrics");
        let log_format = match raw.log_format.as_ref().map(|s| (s.get_ref().as_str(), s.span())) {
            None | Some(("text", _)) => Some(LogFormat::Human),
            Some(("json", _)) => Some(LogFormat::Json),
            Some((other, span)) => check.report(span, ProblemKind::BadLogFormat(other.to_owned())),
        };
        let log_filter = match check.optional(&raw.log_filter) {
            None => Some(None),
            Some((text, span)) => match tracing_subscriber::EnvFilter::builder().parse(text) {
                Ok(_) => Some(Some(text.to_owned())),
                Err(why) => check.report(
                    span,
                    ProblemKind::BadLogFilter {
                        text: text.to_owned(),
                        why: why.to_string(),
                    },
                ),
            },
        };
        let certs = check
            .required(
                &raw.certs,
                "certs",
                "this node's certificate directory (node.pem, node.key, ca.pem)",
            )
            .and_then(|(text, span)| check.path(base, "certs", text, span));
        let topology = check.optional(&raw.topology).map(|(text, _)| base.join(text));
        let document = check.optional(&raw.document).map(|(text, _)| base.join(text));
        let photo_max = match check.optional(&raw.gateway_photo_max_mib) {
            None => Some(crate::gateway::DEFAULT_PHOTO_MAX),
            Some((text, span)) => match text.parse::<u64>() {
                Ok(mib @ 1..=32) => Some(mib << 20),
                _ => check.report(span, ProblemKind::BadPhotoMax { text: text.to_owned() }),
            },
        };
        let gateway = match check.optional_address(&raw.gateway, "gateway") {
            Some(Some(listen)) => {
                let cert = check.optional(&raw.gateway_cert).map(|(text, _)| base.join(text));
                let key = check.optional(&raw.gateway_key).map(|(text, _)| base.join(text));
                match (cert, key, photo_max) {
                    (Some(cert), Some(key), Some(photo_max)) => Some(Some(GatewaySettings {
                        listen,
                        cert,
                        key,
                        photo_max,
                    })),
                    (_, _, None) => None,
                    _ => {
                        let span = raw.gateway.as_ref().map_or(0..0, |s| s.span());
                        check.report(span, ProblemKind::GatewayWithoutCertificate)
                    }
                }
            }
            Some(None) => Some(None),
            None => None,
        };

        let mut problems = check.problems;
        problems.sort_by_key(|p| (p.at.line, p.at.col));
        match (
            id, listen, parent, data, store, control, metrics, log_format, log_filter, certs, gateway,
        ) {
            (
                Some(id),
                Some(listen),
                Some(parent),
                Some(data),
                Some(store),
                Some(control),
                Some(metrics),
                Some(log_format),
                Some(log_filter),
                Some(certs),
                Some(gateway),
            ) if problems.is_empty() => Ok(Settings {
                id,
                listen: Some(listen),
                parent,
                data,
                store,
                control,
                metrics,
                log_format,
                log_filter,
                certs,
                topology,
                document,
                gateway,
            }),
            _ => Err(FileError::Invalid(problems)),
        }
    }
}

/// The problems found so far, and how to place them.
struct Check<'a> {
    lines: &'a LineIndex<'a>,
    problems: Vec<FileProblem>,
}

impl Check<'_> {
    /// Records a problem at `span`; returns `None`, for the caller's value.
    fn report<T>(&mut self, span: Range<usize>, kind: ProblemKind) -> Option<T> {
        self.problems.push(FileProblem {
            at: self.lines.locate(span.start),
            kind,
        });
        None
    }

    /// A required field's text and span; missing: reported at 1:1.
    fn required<'v>(
        &mut self,
        value: &'v Option<Spanned<String>>,
        field: &'static str,
        what: &'static str,
    ) -> Option<(&'v str, Range<usize>)> {
        match value {
            Some(v) => Some((v.get_ref().as_str(), v.span())),
            None => self.report(0..0, ProblemKind::Missing { field, what }),
        }
    }

    /// An optional field's text and span; absent or empty: `None`.
    fn optional<'v>(&self, value: &'v Option<Spanned<String>>) -> Option<(&'v str, Range<usize>)> {
        value
            .as_ref()
            .map(|v| (v.get_ref().trim(), v.span()))
            .filter(|(text, _)| !text.is_empty())
    }

    fn address(&mut self, field: &'static str, text: &str, span: Range<usize>) -> Option<SocketAddr> {
        match text.trim().parse() {
            Ok(addr) => Some(addr),
            Err(_) => self.report(
                span,
                ProblemKind::BadAddress {
                    field,
                    text: text.to_owned(),
                },
            ),
        }
    }

    /// `Some(None)`: absent or empty; `Some(Some(addr))`: an address;
    /// `None`: a bad one (reported).
    fn optional_address(&mut self, value: &Option<Spanned<String>>, field: &'static str) -> Option<Option<SocketAddr>> {
        match self.optional(value) {
            None => Some(None),
            Some((text, span)) => self.address(field, text, span).map(Some),
        }
    }

    fn path(&mut self, base: &Path, field: &'static str, text: &str, span: Range<usize>) -> Option<PathBuf> {
        if text.trim().is_empty() {
            return self.report(span, ProblemKind::EmptyPath { field });
        }
        Some(base.join(text))
    }
}

/// Byte offsets of the file's text to 1-based line and column (columns
/// count characters).
struct LineIndex<'a> {
    text: &'a str,
    file: Arc<PathBuf>,
    /// Byte offset where each line starts.
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    fn new(text: &'a str, file: &Path) -> LineIndex<'a> {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex {
            text,
            file: Arc::new(file.to_owned()),
            starts,
        }
    }

    fn locate(&self, offset: usize) -> Location {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|&s| s <= offset).saturating_sub(1);
        let start = self.starts.get(line).copied().unwrap_or(0);
        let col = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count());
        Location {
            file: Some(self.file.clone()),
            line: u32::try_from(line + 1).unwrap_or(u32::MAX),
            col: u32::try_from(col + 1).unwrap_or(u32::MAX),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"
id = "350102"
listen = "0.0.0.0:7101"
parent = "10.35.0.1:7100"
data = "data"
store = ""
control = "127.0.0.1:8101"
metrics = "127.0.0.1:9101"
log_format = "json"
log_filter = "info,liandong_node=debug"
certs = "/etc/liandong/certs"
topology = "topology.toml"
"#;

    #[test]
    fn every_field_is_read_and_relative_paths_start_at_the_files_directory() {
        let s = Settings::parse(FULL, Path::new("/etc/liandong/node.toml")).unwrap();
        assert_eq!(s.id.as_str(), "350102");
        assert_eq!(s.listen, Some("0.0.0.0:7101".parse().unwrap()));
        assert_eq!(s.parent, Some("10.35.0.1:7100".parse().unwrap()));
        assert_eq!(s.data, Path::new("/etc/liandong/data"));
        assert_eq!(s.store, None, "empty: SQLite");
        assert_eq!(s.control, Some("127.0.0.1:8101".parse().unwrap()));
        assert_eq!(s.metrics, Some("127.0.0.1:9101".parse().unwrap()));
        assert_eq!(s.log_format, LogFormat::Json);
        assert_eq!(s.log_filter.as_deref(), Some("info,liandong_node=debug"));
        assert_eq!(s.certs, Path::new("/etc/liandong/certs"), "absolute stays");
        assert_eq!(s.topology.as_deref(), Some(Path::new("/etc/liandong/topology.toml")));
    }

    #[test]
    fn optional_fields_default() {
        let text = "id = \"350100\"\nlisten = \"127.0.0.1:7100\"\ndata = \"/d\"\ncerts = \"/c\"\n";
        let s = Settings::parse(text, Path::new("node.toml")).unwrap();
        assert_eq!(
            (s.parent, s.store, s.control, s.metrics, s.log_filter, s.topology),
            (None, None, None, None, None, None)
        );
        assert_eq!(s.log_format, LogFormat::Human);
    }

    #[test]
    fn every_problem_is_reported_in_file_order() {
        let text = "id = \"\"\nlisten = \"nowhere\"\ndata = \"/d\"\n";
        let err = Settings::parse(text, Path::new("/x/node.toml")).unwrap_err();
        let lines: Vec<String> = err.problems().iter().map(ToString::to_string).collect();
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(
            lines[0].starts_with("/x/node.toml:1:1: `certs` is missing"),
            "{lines:?}"
        );
        assert!(
            lines[1].starts_with("/x/node.toml:1:6: `id` is not a node id"),
            "{lines:?}"
        );
        assert!(
            lines[2].starts_with("/x/node.toml:2:10: `listen` is not an address"),
            "{lines:?}"
        );
    }

    #[test]
    fn columns_count_characters() {
        let index = LineIndex::new("a = \"联动\"\nb = 1\n", Path::new("f"));
        let at = index.locate("a = \"联动\"\nb = ".len());
        assert_eq!((at.line, at.col), (2, 5));
        let at = index.locate("a = \"联动".len());
        assert_eq!((at.line, at.col), (1, 8));
    }
}
