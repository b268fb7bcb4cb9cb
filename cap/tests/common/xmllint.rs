//! Validation against the OASIS CAP 1.2 schema (tests/data/CAP-v1.2.xsd)
//! with libxml2's xmllint: an independent check of what the reader
//! accepts and the writer writes. xmllint runs with `--nonet`: it never
//! fetches anything.

use std::io::Write;
use std::process::{Command, Stdio};

/// Whether xmllint is here (see [`super::tool::require`]); `test` names
/// the caller for the skip line.
pub fn available(test: &str) -> bool {
    super::tool::require("xmllint", test, "validates alerts against the OASIS CAP 1.2 schema")
}

/// `Ok` when `document` validates against the CAP 1.2 schema, else
/// xmllint's complaint.
pub fn validate(document: &[u8]) -> Result<(), String> {
    let schema = super::data("CAP-v1.2.xsd");
    let mut child = Command::new("xmllint")
        .args(["--noout", "--nonet", "--schema"])
        .arg(&schema)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("xmllint: {e}"))?;
    let mut stdin = child.stdin.take().ok_or("xmllint: no stdin")?;
    stdin.write_all(document).map_err(|e| format!("xmllint stdin: {e}"))?;
    drop(stdin);
    let output = child.wait_with_output().map_err(|e| format!("xmllint: {e}"))?;
    let said = String::from_utf8_lossy(&output.stderr).into_owned();
    if output.status.success() && said.contains("validates") {
        Ok(())
    } else {
        Err(format!("xmllint ({}): {said}", output.status))
    }
}

/// Panics with xmllint's complaint and the document unless it validates.
pub fn assert_valid(what: &str, document: &[u8]) {
    if let Err(problem) = validate(document) {
        panic!(
            "{what} does not validate against CAP-v1.2.xsd: {problem}\n{}",
            String::from_utf8_lossy(document)
        );
    }
}
