//! The revocation list: serials every node refuses, kept in a TOML file that
//! ops teams can read, edit and copy to every center.
//!
//! ```toml
//! # Liandong revocation list: serials refused by every node.
//! [[revoked]]
//! serial = "5f:3a:09:..."               # as `liandong certs inspect` prints it
//! reason = "key-compromise"             # key-compromise | superseded | cessation-of-operation | affiliation-changed | unspecified
//! revoked_at = "2026-11-22T10:00:00Z"   # RFC 3339, quoted; kept to the second
//! subject = "liandong://node/350102"    # optional, for humans
//! note = "county laptop stolen"         # optional
//! ```
//!
//! A missing file is an empty list. Like the topology file, it is read with
//! `deny_unknown_fields`: a misspelt key (`notes`, `reasons`) is an error, and
//! so is a bad serial, reason or time; every error names the file, line and
//! column. A serial listed twice keeps its first
//! entry. [`RevocationList::append`] adds an entry while keeping the file's
//! comments; [`RevocationList::save`] rewrites the whole file. Both write a
//! temporary file and rename it, so a node reloading the file never sees half
//! of it.
//!
//! [`Revocations`] is the shared, swappable handle the verifiers read: a node
//! reloads the file and swaps the list in without restarting.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, PoisonError, RwLock};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::fsutil::{self, PUBLIC_MODE, Replace};
use crate::rfc3339;
use crate::serial::Serial;

/// The header written at the top of a new revocation file.
pub const FILE_HEADER: &str = "\
# Liandong revocation list: serials refused by every node.
# reason: key-compromise | superseded | cessation-of-operation | affiliation-changed | unspecified
# revoked_at: RFC 3339, e.g. \"2026-11-22T10:00:00Z\"; subject and note are optional.
";

/// Why a certificate was revoked (the RFC 5280 reasons that matter here).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// The private key may be known to someone else (stolen laptop...).
    KeyCompromise,
    /// Replaced by a newer certificate.
    Superseded,
    /// The center or operator no longer works in the federation.
    CessationOfOperation,
    /// Moved to another center or unit.
    AffiliationChanged,
    /// No reason given.
    Unspecified,
}

impl Reason {
    /// All reasons, in documentation order.
    pub const ALL: [Reason; 5] = [
        Reason::KeyCompromise,
        Reason::Superseded,
        Reason::CessationOfOperation,
        Reason::AffiliationChanged,
        Reason::Unspecified,
    ];

    /// The kebab-case word used in the file and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::KeyCompromise => "key-compromise",
            Reason::Superseded => "superseded",
            Reason::CessationOfOperation => "cessation-of-operation",
            Reason::AffiliationChanged => "affiliation-changed",
            Reason::Unspecified => "unspecified",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A word that is not a [`Reason`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown revocation reason {0:?}: expected key-compromise, superseded, cessation-of-operation, affiliation-changed or unspecified"
)]
pub struct ReasonError(pub String);

impl FromStr for Reason {
    type Err = ReasonError;
    fn from_str(s: &str) -> Result<Reason, ReasonError> {
        Reason::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| ReasonError(s.to_owned()))
    }
}

/// One revoked certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The revoked serial.
    pub serial: Serial,
    /// Why.
    pub reason: Reason,
    /// When it was revoked (informational: revocation takes effect when the
    /// list reaches a node, whatever this says).
    pub revoked_at: OffsetDateTime,
    /// Who the certificate was for, e.g. `liandong://node/350102` (for humans).
    pub subject: Option<String>,
    /// Free text (for humans).
    pub note: Option<String>,
}

impl Entry {
    /// An entry with no subject or note; `revoked_at` is kept to the second.
    pub fn new(serial: Serial, reason: Reason, revoked_at: OffsetDateTime) -> Entry {
        let revoked_at = revoked_at.replace_nanosecond(0).unwrap_or(revoked_at);
        Entry {
            serial,
            reason,
            revoked_at,
            subject: None,
            note: None,
        }
    }

    /// Sets the subject.
    pub fn with_subject(mut self, subject: impl Into<String>) -> Entry {
        self.subject = Some(subject.into());
        self
    }

    /// Sets the note.
    pub fn with_note(mut self, note: impl Into<String>) -> Entry {
        self.note = Some(note.into());
        self
    }
}

/// Reading or writing the revocation file failed.
#[derive(Debug, thiserror::Error)]
pub enum RevocationError {
    /// The file exists but cannot be read.
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The file is not a valid revocation list.
    #[error("{}:{line}:{column}: {message}", .path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column (in characters) of the problem.
        column: usize,
        /// What is wrong (names the bad serial, reason or time).
        message: String,
    },
    /// The file cannot be written.
    #[error("cannot write {}: {source}", .path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The serial is already on the list.
    #[error("serial {serial} is already revoked (since {}, {reason})", rfc3339(*.revoked_at))]
    AlreadyRevoked {
        /// The serial.
        serial: Serial,
        /// When it was revoked.
        revoked_at: OffsetDateTime,
        /// Why.
        reason: Reason,
    },
}

/// An RFC 3339 timestamp in the file, kept to the second as
/// [`Entry::new`] keeps it: a fraction in the file is dropped on reading,
/// so a list written back ([`RevocationList::save`]) reads as the same
/// list (found by the `revocations` fuzz target).
struct FileTime(OffsetDateTime);

impl Serialize for FileTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&rfc3339(self.0))
    }
}

impl<'de> Deserialize<'de> for FileTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let whole = |t: OffsetDateTime| FileTime(t.replace_nanosecond(0).unwrap_or(t));
        OffsetDateTime::parse(&text, &Rfc3339).map(whole).map_err(|e| {
            serde::de::Error::custom(format!(
                "bad time {text:?} ({e}); expected RFC 3339 such as \"2026-11-22T10:00:00Z\""
            ))
        })
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    revoked: Vec<RawEntry>,
}

/// A federation document: its `[[revoked]]` entries, checked as strictly
/// as the file's; the rest of it (topology, policy) is the topology
/// crate's to read.
#[derive(Deserialize)]
struct RawDocument {
    #[serde(default)]
    revoked: Vec<RawEntry>,
    #[serde(flatten)]
    _rest: toml::Table,
}

/// `text` (the file or document at `path`) as `R`, or where it is wrong.
fn parse_toml<R: serde::de::DeserializeOwned>(text: &str, path: &Path) -> Result<R, RevocationError> {
    toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map_or((1, 1), |span| line_column(text, span.start));
        RevocationError::Parse {
            path: path.to_owned(),
            line,
            column,
            message: e.message().trim().to_owned(),
        }
    })
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    serial: Serial,
    reason: Reason,
    revoked_at: FileTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

impl From<&Entry> for RawEntry {
    fn from(e: &Entry) -> RawEntry {
        RawEntry {
            serial: e.serial.clone(),
            reason: e.reason,
            revoked_at: FileTime(e.revoked_at),
            subject: e.subject.clone(),
            note: e.note.clone(),
        }
    }
}

/// The set of revoked serials, in file order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RevocationList {
    entries: Vec<Entry>,
    index: HashMap<Serial, usize>,
}

impl RevocationList {
    /// An empty list.
    pub fn new() -> RevocationList {
        RevocationList::default()
    }

    /// Loads `path`; a missing file is an empty list.
    pub fn load(path: &Path) -> Result<RevocationList, RevocationError> {
        match std::fs::read_to_string(path) {
            Ok(text) => RevocationList::parse(&text, path),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(RevocationList::new()),
            Err(source) => Err(RevocationError::Read {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// Parses file text; `path` only names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<RevocationList, RevocationError> {
        let raw: RawFile = parse_toml(text, path)?;
        Ok(RevocationList::of(raw.revoked))
    }

    /// The revocation list of a federation document (its `[[revoked]]`
    /// entries; everything else in it is ignored here); `path` only names
    /// the document in errors.
    pub fn from_document(text: &str, path: &Path) -> Result<RevocationList, RevocationError> {
        let raw: RawDocument = parse_toml(text, path)?;
        Ok(RevocationList::of(raw.revoked))
    }

    fn of(entries: Vec<RawEntry>) -> RevocationList {
        let mut list = RevocationList::new();
        for raw in entries {
            list.insert(Entry {
                serial: raw.serial,
                reason: raw.reason,
                revoked_at: raw.revoked_at.0,
                subject: raw.subject,
                note: raw.note,
            });
        }
        list
    }

    /// Every serial revoked in this list or `other` (this list's entry
    /// where both have one).
    pub fn merged(&self, other: &RevocationList) -> RevocationList {
        let mut list = self.clone();
        for e in other.entries() {
            list.insert(e.clone());
        }
        list
    }

    fn insert(&mut self, entry: Entry) -> bool {
        if self.index.contains_key(&entry.serial) {
            return false;
        }
        self.index.insert(entry.serial.clone(), self.entries.len());
        self.entries.push(entry);
        true
    }

    /// Adds `entry`; refuses a serial that is already revoked.
    pub fn revoke(&mut self, entry: Entry) -> Result<(), RevocationError> {
        if let Some(existing) = self.is_revoked(&entry.serial) {
            return Err(RevocationError::AlreadyRevoked {
                serial: existing.serial.clone(),
                revoked_at: existing.revoked_at,
                reason: existing.reason,
            });
        }
        self.insert(entry);
        Ok(())
    }

    /// The entry for `serial`, if it is revoked.
    pub fn is_revoked(&self, serial: &Serial) -> Option<&Entry> {
        self.index.get(serial).map(|&i| &self.entries[i])
    }

    /// All entries, in file order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Number of revoked serials.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is revoked.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The whole list as file text, with the standard header.
    pub fn to_toml(&self) -> String {
        let mut text = FILE_HEADER.to_owned();
        for entry in &self.entries {
            text.push('\n');
            text.push_str(&entry_toml(entry));
        }
        text
    }

    /// Rewrites `path` with this list (atomically, flushed to disk).
    /// Comments in an existing file are not kept; see [`RevocationList::append`].
    pub fn save(&self, path: &Path) -> Result<(), RevocationError> {
        write_list(path, &self.to_toml())
    }

    /// Adds `entry` to the file at `path` (created if missing), keeping the
    /// existing text and comments, and returns the resulting list. Refuses a
    /// serial that is already revoked, and refuses to touch a file that does
    /// not parse.
    pub fn append(path: &Path, entry: Entry) -> Result<RevocationList, RevocationError> {
        let existing = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => FILE_HEADER.to_owned(),
            Err(source) => {
                return Err(RevocationError::Read {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        let mut list = RevocationList::parse(&existing, path)?;
        list.revoke(entry.clone())?;
        let mut text = existing;
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push('\n');
        text.push_str(&entry_toml(&entry));
        // The appended text must read back as the list we mean to write.
        let reread = RevocationList::parse(&text, path)?;
        debug_assert_eq!(reread, list);
        write_list(path, &text)?;
        Ok(reread)
    }
}

fn entry_toml(entry: &Entry) -> String {
    let raw = RawFile {
        revoked: vec![RawEntry::from(entry)],
    };
    // Serializing plain strings cannot fail; fall back to a hand-written entry anyway.
    toml::to_string(&raw).unwrap_or_else(|_| {
        format!(
            "[[revoked]]\nserial = \"{}\"\nreason = \"{}\"\nrevoked_at = \"{}\"\n",
            entry.serial,
            entry.reason,
            rfc3339(entry.revoked_at)
        )
    })
}

fn write_list(path: &Path, text: &str) -> Result<(), RevocationError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| RevocationError::Write {
            path: path.to_owned(),
            source,
        })?;
    }
    fsutil::write_file(path, text.as_bytes(), PUBLIC_MODE, Replace::Allowed, true).map_err(|source| {
        RevocationError::Write {
            path: path.to_owned(),
            source,
        }
    })
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// The revocation list shared by verifiers, swappable at run time: a node
/// reloads the file and calls [`Revocations::replace`]; handshakes already
/// running finish with the list they started with, new ones see the new list.
#[derive(Clone, Debug, Default)]
pub struct Revocations {
    current: Arc<RwLock<Arc<RevocationList>>>,
}

impl Revocations {
    /// A handle holding `list`.
    pub fn new(list: RevocationList) -> Revocations {
        Revocations {
            current: Arc::new(RwLock::new(Arc::new(list))),
        }
    }

    /// The list in force now (a cheap snapshot).
    pub fn current(&self) -> Arc<RevocationList> {
        self.current.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Puts `list` in force for every verifier sharing this handle.
    pub fn replace(&self, list: RevocationList) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(list);
    }

    /// Loads `path` and puts it in force; on error the old list stays.
    /// Returns the number of revoked serials now in force.
    pub fn reload(&self, path: &Path) -> Result<usize, RevocationError> {
        let list = RevocationList::load(path)?;
        let n = list.len();
        self.replace(list);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> OffsetDateTime {
        OffsetDateTime::parse(s, &Rfc3339).unwrap()
    }

    #[test]
    fn save_load_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("revoked.toml");
        assert!(
            RevocationList::load(&path).unwrap().is_empty(),
            "missing file is an empty list"
        );

        let mut list = RevocationList::new();
        let a = Serial::random().unwrap();
        let b = Serial::random().unwrap();
        list.revoke(
            Entry::new(a.clone(), Reason::KeyCompromise, at("2026-11-22T10:00:00Z"))
                .with_subject("liandong://node/350102")
                .with_note("county laptop stolen"),
        )
        .unwrap();
        list.revoke(Entry::new(
            b.clone(),
            Reason::Superseded,
            at("2026-11-23T08:30:00+08:00"),
        ))
        .unwrap();
        list.save(&path).unwrap();

        let loaded = RevocationList::load(&path).unwrap();
        assert_eq!(loaded, list);
        assert_eq!(
            loaded.is_revoked(&a).unwrap().note.as_deref(),
            Some("county laptop stolen")
        );
        assert_eq!(loaded.is_revoked(&b).unwrap().reason, Reason::Superseded);
        assert!(loaded.is_revoked(&Serial::random().unwrap()).is_none());
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# Liandong revocation list"));
        assert!(text.contains(&format!("serial = \"{a}\"")));

        let err = list
            .revoke(Entry::new(a.clone(), Reason::Unspecified, at("2027-01-01T00:00:00Z")))
            .unwrap_err();
        assert!(matches!(err, RevocationError::AlreadyRevoked { .. }));
        assert!(err.to_string().contains(&a.to_string()));
    }

    #[test]
    fn a_fraction_of_a_second_is_dropped_so_a_saved_list_reads_back_equal() {
        // Found by the revocations fuzz target (fuzz/corpus/revocations/
        // two-entries.toml): the fraction was kept on reading but not
        // written, so a list saved and loaded again was another list.
        let text = "[[revoked]]\nserial = \"01:02:03\"\nreason = \"superseded\"\nrevoked_at = \"2026-11-23T08:30:15.250+08:00\"\n";
        let list = RevocationList::parse(text, Path::new("revoked.toml")).unwrap();
        assert_eq!(list.entries()[0].revoked_at, at("2026-11-23T08:30:15+08:00"));
        let again = RevocationList::parse(&list.to_toml(), Path::new("revoked.toml")).unwrap();
        assert_eq!(again, list);
    }

    #[test]
    fn append_keeps_comments() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("revoked.toml");
        std::fs::write(&path, "# kept comment\n[[revoked]]\nserial = \"5f:3a:09\"\nreason = \"superseded\"\nrevoked_at = \"2026-11-22T10:00:00Z\"").unwrap();
        let serial = Serial::random().unwrap();
        let list = RevocationList::append(
            &path,
            Entry::new(serial.clone(), Reason::KeyCompromise, at("2026-11-24T00:00:00Z")).with_note("笔记本被盗"),
        )
        .unwrap();
        assert_eq!(list.len(), 2);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# kept comment\n"));
        let reloaded = RevocationList::load(&path).unwrap();
        assert_eq!(
            reloaded.is_revoked(&serial).unwrap().note.as_deref(),
            Some("笔记本被盗")
        );
        assert!(matches!(
            RevocationList::append(
                &path,
                Entry::new(serial, Reason::Unspecified, at("2026-11-24T00:00:00Z"))
            ),
            Err(RevocationError::AlreadyRevoked { .. })
        ));
    }

    #[test]
    fn broken_files_name_line_and_column() {
        let path = Path::new("/etc/liandong/revoked.toml");
        let text = "# header\n[[revoked]]\nserial = \"5f:zz:09\"\nreason = \"superseded\"\nrevoked_at = \"2026-11-22T10:00:00Z\"\n";
        let err = RevocationList::parse(text, path).unwrap_err();
        let RevocationError::Parse {
            line,
            column,
            ref message,
            ..
        } = err
        else {
            panic!("{err}")
        };
        assert_eq!((line, column), (3, 10), "{err}");
        assert!(message.contains("5f:zz:09"), "{message}");
        assert!(
            err.to_string().starts_with("/etc/liandong/revoked.toml:3:10: "),
            "{err}"
        );

        let text = "[[revoked]]\nserial = \"5f:3a\"\nreason = \"lost\"\nrevoked_at = \"2026-11-22T10:00:00Z\"\n";
        let err = RevocationList::parse(text, path).unwrap_err();
        assert!(matches!(err, RevocationError::Parse { line: 3, .. }), "{err}");

        let text = "[[revoked]]\nserial = \"5f:3a\"\nreason = \"superseded\"\nrevoked_at = \"yesterday\"\n";
        let err = RevocationList::parse(text, path).unwrap_err();
        assert!(matches!(err, RevocationError::Parse { line: 4, .. }), "{err}");
        assert!(err.to_string().contains("yesterday"), "{err}");

        let text = "[[revoked]]\nserial = \"5f:3a\"\nreason = \"superseded\"\nrevoked_at = \"2026-11-22T10:00:00Z\"\nnotes = \"x\"\n";
        let err = RevocationList::parse(text, path).unwrap_err();
        assert!(
            matches!(err, RevocationError::Parse { line: 5, column: 1, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("notes"), "{err}");

        let err = RevocationList::parse("[[revoked]\n", path).unwrap_err();
        assert!(matches!(err, RevocationError::Parse { line: 1, .. }), "{err}");
    }

    #[test]
    fn shared_handle_swaps_lists() {
        let handle = Revocations::default();
        let serial = Serial::random().unwrap();
        let before = handle.current();
        assert!(before.is_revoked(&serial).is_none());
        let mut list = RevocationList::new();
        list.revoke(Entry::new(
            serial.clone(),
            Reason::KeyCompromise,
            at("2026-11-22T10:00:00Z"),
        ))
        .unwrap();
        handle.clone().replace(list);
        assert!(handle.current().is_revoked(&serial).is_some());
        assert!(before.is_revoked(&serial).is_none(), "old snapshots are unchanged");
    }

    #[test]
    fn reasons_parse() {
        for r in Reason::ALL {
            assert_eq!(r.as_str().parse::<Reason>(), Ok(r));
        }
        assert!(
            "stolen"
                .parse::<Reason>()
                .unwrap_err()
                .to_string()
                .contains("key-compromise")
        );
    }
}

#[cfg(test)]
mod document_tests {
    use super::*;

    #[test]
    fn a_documents_revocations_are_read_and_the_rest_left_alone() {
        let text = r#"
[document]
version = 4

[[node]]
id = "350100"

[[revoked]]
serial = "01:02:03:04"
reason = "key-compromise"
revoked_at = "2026-12-05T10:00:00Z"
subject = "liandong://node/350102"
"#;
        let list = RevocationList::from_document(text, Path::new("v4.toml")).unwrap();
        assert_eq!(list.len(), 1);
        let typo = text.replace("reason =", "reasons =");
        let e = RevocationList::from_document(&typo, Path::new("v4.toml")).unwrap_err();
        assert!(
            e.to_string().starts_with("v4.toml:10:") && e.to_string().contains("reasons"),
            "{e}"
        );
        let other = RevocationList::parse(
            "[[revoked]]\nserial = \"05:06\"\nreason = \"superseded\"\nrevoked_at = \"2026-12-05T10:00:00Z\"\n",
            Path::new("revoked.toml"),
        )
        .unwrap();
        assert_eq!(list.merged(&other).len(), 2);
        assert_eq!(list.merged(&list).len(), 1);
    }
}
