//! Problems found while loading a topology, each with where it is.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use crate::{Level, NodeId, Severity};

/// Where a problem sits: file, 1-based line and column (columns count
/// characters, so a Chinese name counts one column per character).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: Option<Arc<PathBuf>>,
    pub line: u32,
    pub col: u32,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(file) => write!(f, "{}:{}:{}", file.display(), self.line, self.col),
            None => write!(f, "line {}, column {}", self.line, self.col),
        }
    }
}

/// One thing wrong with a topology. The message names the problem; the
/// location (when the topology came from a file) says where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub at: Option<Location>,
    pub kind: ProblemKind,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.at {
            Some(at) => write!(f, "{at}: {}", self.kind),
            None => write!(f, "{}", self.kind),
        }
    }
}

/// The kinds of problem, one per rule the loader enforces.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProblemKind {
    #[error("{0}")]
    Syntax(String),
    #[error("the topology has no nodes: add at least one [[node]]")]
    Empty,
    #[error("a document's version must be at least 1")]
    ZeroVersion,
    #[error("{0}")]
    BadId(#[from] crate::IdError),
    #[error("node {id} has an empty name")]
    EmptyName { id: NodeId },
    #[error("duplicate node id {id} (first defined at {first})")]
    DuplicateId { id: NodeId, first: Location },
    #[error("node {id} names parent {parent}, which is not in the topology")]
    UnknownParent { id: NodeId, parent: NodeId },
    #[error("node {id} names itself as its parent")]
    OwnParent { id: NodeId },
    #[error("parent links form a cycle: {}", join_cycle(.0))]
    Cycle(Vec<NodeId>),
    #[error(
        "node {id} is a {level} but its parent {parent} is a {parent_level}: a center's level must be below its parent's"
    )]
    LevelNotBelowParent {
        id: NodeId,
        level: Level,
        parent: NodeId,
        parent_level: Level,
    },
    #[error(
        "member unit {id} is at level {level} but its center {parent} is a {parent_level}: a member unit sits at its center's level"
    )]
    UnitLevel {
        id: NodeId,
        level: Level,
        parent: NodeId,
        parent_level: Level,
    },
    #[error("member unit {id} has no parent: a member unit belongs to a center")]
    UnitWithoutParent { id: NodeId },
    #[error("node {id} has member unit {parent} as its parent: only centers have children")]
    ParentIsUnit { id: NodeId, parent: NodeId },
    #[error("several roots (nodes without a parent): {}; a federation has exactly one top center", join_ids(.0))]
    SeveralRoots(Vec<NodeId>),
    #[error("no root: every node has a parent, so there is no top center")]
    NoRoot,
    #[error("node {id} has a bad listen address {addr:?}: expected IP:PORT such as 127.0.0.1:7100 or [::1]:7100")]
    BadAddress { id: NodeId, addr: String },
    #[error("node {id} listens on port 0: give each node a fixed port its children can dial")]
    ZeroPort { id: NodeId },
    #[error("listen address {addr} is used by both {first_id} (at {first}) and {id}")]
    DuplicateListen {
        addr: std::net::SocketAddr,
        id: NodeId,
        first_id: NodeId,
        first: Location,
    },
    #[error(
        "policy sends severity {severity} to level {level}, but this tree has no {level} center (levels present: {present})"
    )]
    PolicyLevelMissing {
        severity: Severity,
        level: Level,
        present: String,
    },
    #[error(
        "policy sends severity {higher} only to {higher_reach} but the less severe {lower} to {lower_reach}: a more severe report must climb at least as high"
    )]
    PolicyNotMonotonic {
        higher: Severity,
        higher_reach: String,
        lower: Severity,
        lower_reach: String,
    },
    #[error("bad duration {text:?} for {what}: {why} (write e.g. 30s, 10m, 4h, 1h30m or 7d)")]
    BadDuration { what: String, text: String, why: String },
    #[error(
        "bad reach {text:?} for severity {severity}: expected \"top\" or a level (province, city, county, township, village, grid)"
    )]
    BadReach { severity: Severity, text: String },
    #[error(
        "link.failover_after ({failover}) must be at least twice link.heartbeat ({heartbeat}), or one late heartbeat would trigger failover"
    )]
    FailoverTooShort { heartbeat: String, failover: String },
    #[error("bad {what}: {why}")]
    BadLinkClass { what: String, why: String },
    #[error("{0}")]
    BadIndex(String),
    /// `[policy.summary]` names an unknown period or too long a grace.
    #[error("{0}")]
    BadSummary(String),
}

fn join_ids(ids: &[NodeId]) -> String {
    ids.iter().map(NodeId::as_str).collect::<Vec<_>>().join(", ")
}

fn join_cycle(ids: &[NodeId]) -> String {
    let mut s = join_ids(ids).replace(", ", " -> ");
    if let Some(first) = ids.first() {
        s.push_str(" -> ");
        s.push_str(first.as_str());
    }
    s
}

/// Why a topology could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read topology file {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// Every problem found, in file order. Display prints one per line.
    #[error("{}", list_problems(.0))]
    Invalid(Vec<Problem>),
}

impl LoadError {
    /// The problems found, empty for an I/O error.
    pub fn problems(&self) -> &[Problem] {
        match self {
            LoadError::Io { .. } => &[],
            LoadError::Invalid(problems) => problems,
        }
    }
}

fn list_problems(problems: &[Problem]) -> String {
    problems.iter().map(Problem::to_string).collect::<Vec<_>>().join("\n")
}

/// Maps byte offsets of a source text to 1-based line and column.
pub(crate) struct LineIndex<'a> {
    text: &'a str,
    file: Option<Arc<PathBuf>>,
    /// Byte offset where each line starts.
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub(crate) fn new(text: &'a str, file: Option<Arc<PathBuf>>) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex { text, file, starts }
    }

    pub(crate) fn locate(&self, offset: usize) -> Location {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|&s| s <= offset) - 1;
        let start = self.starts[line];
        let col = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count());
        Location {
            file: self.file.clone(),
            line: line as u32 + 1,
            col: col as u32 + 1,
        }
    }
}
