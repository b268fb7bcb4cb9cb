//! Helpers shared by the CAP tests: [`tool`] skips a test whose tool the
//! machine lacks (unless `CI` is set); [`xmllint`] validates a document
//! against the OASIS CAP 1.2 schema; [`alerts`] builds alerts in code.

#![allow(dead_code)] // each test file uses only some of these

pub mod alerts;
// The workspace's own: skip without the tool, fail under CI.
#[path = "../../../tests/common/tool.rs"]
pub mod tool;
pub mod xmllint;

use std::path::PathBuf;

/// A file of `cap/tests/data/`.
pub fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

/// The bytes of a file of `cap/tests/data/`.
pub fn read_data(name: &str) -> Vec<u8> {
    let path = data(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
