//! The federation document on disk and its check: the file a federation
//! admin writes and signs (`liandong federation sign`), the root
//! publishes (`liandong federation publish`) and a new node starts on
//! (its bootstrap document), and the check every node runs on a version
//! before it stores or applies it ([`NodeDocuments`]).
//!
//! A document is a topology file with a `[document]` table (its version)
//! and the federation's revocation list as `[[revoked]]` entries (the
//! topology crate's doc has the format). Its signature sits beside it, in
//! `<document>.sig`:
//!
//! ```toml
//! # Liandong federation document signature (liandong federation sign).
//! document = "fuzhou.toml"       # the file signed, byte for byte
//! version = 4                    # the version it declares
//! signature = "9f3c..."          # Ed25519 by the admin's key, hex
//! admin = """
//! -----BEGIN CERTIFICATE-----
//! ...                            # the admin's certificate (the CA's too, if wanted)
//! -----END CERTIFICATE-----
//! """
//! ```
//!
//! The check: the admin's certificate chains to the federation CA, is in
//! date, not revoked, and is an admin's (`liandong://admin/<name>`, the
//! document-signing usage); the signature covers the text; the text is a
//! valid topology that declares the version it travels as; its
//! revocation list reads. Nothing here opens a socket; files are read
//! only by [`read_signed`] and written only by [`sign`]; what they hold is
//! read by pure functions ([`parse_signed`], [`read_contents`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use liandong_certs::pki_types::pem::PemObject;
use liandong_certs::pki_types::{CertificateDer, UnixTime};
use liandong_certs::{
    RevocationList, Verifier, load_certificates, load_private_key, sign_detached, verify_admin_signature,
};
use liandong_dispatch::document::declared_version;
use liandong_dispatch::{Document, DocumentCheck, Timestamp};
use liandong_topology::Topology;
use serde::{Deserialize, Serialize};

/// Why a document file could not be read, checked or signed. Each names
/// the file.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error("cannot read {}: {source}", .path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write {}: {source}", .path.display())]
    Write { path: PathBuf, source: std::io::Error },
    #[error("{}: {what}", .path.display())]
    Invalid { path: PathBuf, what: String },
}

/// Where a document's signature is kept: `<document>.sig`.
pub fn signature_path(document: &Path) -> PathBuf {
    let mut name = document.as_os_str().to_owned();
    name.push(".sig");
    PathBuf::from(name)
}

/// The signature file (see the module doc).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignatureFile {
    document: String,
    version: u64,
    signature: String,
    admin: String,
}

/// What a checked document says.
#[derive(Debug)]
pub struct Checked {
    pub topology: Arc<Topology>,
    pub revocations: RevocationList,
    /// The admin who signed it.
    pub admin: String,
}

/// Checks `doc` as every node does (see the module doc), as of `now`.
pub fn check(verifier: &Verifier, doc: &Document, now: UnixTime) -> Result<Checked, String> {
    let text = doc.text()?;
    let chain: Vec<CertificateDer<'_>> = doc.admin.iter().map(|c| CertificateDer::from(c.as_slice())).collect();
    let admin =
        verify_admin_signature(verifier, &chain, text.as_bytes(), &doc.signature, now).map_err(|e| e.to_string())?;
    let (topology, revocations) = read_contents(&text, doc.version)?;
    Ok(Checked {
        topology: Arc::new(topology),
        revocations,
        admin,
    })
}

/// What a document's `text` says, once its signature has been checked:
/// a valid topology that declares `version`, and its revocation list.
/// Pure: the part of [`check`] after the signature (the fuzz targets in
/// `fuzz/` call it on any text).
pub fn read_contents(text: &str, version: u64) -> Result<(Topology, RevocationList), String> {
    let name = PathBuf::from(format!("document version {version}"));
    let topology = Topology::parse(text, Some(name.clone())).map_err(|e| e.to_string())?;
    declared_version(&topology, version)?;
    let revocations = RevocationList::from_document(text, &name).map_err(|e| e.to_string())?;
    Ok((topology, revocations))
}

/// The check a node gives its core: [`check`] against the node's CA and
/// revocation list in force.
pub struct NodeDocuments {
    verifier: Arc<Verifier>,
}

impl NodeDocuments {
    pub fn new(verifier: Arc<Verifier>) -> NodeDocuments {
        NodeDocuments { verifier }
    }
}

impl DocumentCheck for NodeDocuments {
    fn check(&self, doc: &Document, now: Timestamp) -> Result<Arc<Topology>, String> {
        let now = UnixTime::since_unix_epoch(std::time::Duration::from_millis(now.0));
        check(&self.verifier, doc, now).map(|c| c.topology)
    }
}

/// The newest federation document in the store at `location` (node
/// `id`'s), if it holds one.
pub async fn stored_document(
    location: &crate::store::StoreLocation,
    id: &liandong_topology::NodeId,
) -> Result<Option<Document>, crate::store::StoreError> {
    let durable = crate::store::Durable::open(location, id, crate::store::StoreOptions::default()).await?;
    let store = durable.load().await;
    durable.close().await;
    Ok(store?.document().cloned())
}

/// Reads the document at `path` and its signature beside it.
pub fn read_signed(path: &Path) -> Result<Document, DocumentError> {
    let text = std::fs::read_to_string(path).map_err(|source| DocumentError::Read {
        path: path.to_owned(),
        source,
    })?;
    let sig_path = signature_path(path);
    let sig_text = std::fs::read_to_string(&sig_path).map_err(|source| DocumentError::Read {
        path: sig_path.clone(),
        source,
    })?;
    parse_signed(&text, &sig_text, path)
}

/// The document `text` (the file at `path`) with its signature file's
/// text `sig_text`, as [`read_signed`] reads them from disk: the signature
/// file's fields, the admin's certificates as PEM, the version both
/// declare. Nothing is verified here (that is [`check`]). Pure: the fuzz
/// targets in `fuzz/` call it.
pub fn parse_signed(text: &str, sig_text: &str, path: &Path) -> Result<Document, DocumentError> {
    let sig_path = signature_path(path);
    let invalid = |what: String| DocumentError::Invalid {
        path: sig_path.clone(),
        what,
    };
    let sig: SignatureFile = toml::from_str(sig_text).map_err(|e| invalid(e.message().trim().to_owned()))?;
    let signature = from_hex(&sig.signature).ok_or_else(|| invalid("the signature is not hex".into()))?;
    let admin: Vec<Vec<u8>> = CertificateDer::pem_slice_iter(sig.admin.as_bytes())
        .map(|c| c.map(|c| c.as_ref().to_vec()))
        .collect::<Result<_, _>>()
        .map_err(|e| invalid(format!("the admin certificate: {e}")))?;
    if admin.is_empty() {
        return Err(invalid("no admin certificate".into()));
    }
    let declared = declared_in(text, path)?;
    if declared != sig.version {
        return Err(invalid(format!(
            "it signs version {} but {} declares version {declared}",
            sig.version,
            path.display()
        )));
    }
    Ok(Document::new(declared, text, signature, admin))
}

/// The version `text` (the file at `path`) declares.
fn declared_in(text: &str, path: &Path) -> Result<u64, DocumentError> {
    let topology = Topology::parse(text, Some(path.to_owned())).map_err(|e| DocumentError::Invalid {
        path: path.to_owned(),
        what: e.to_string(),
    })?;
    topology
        .document()
        .map(|d| d.version)
        .ok_or_else(|| DocumentError::Invalid {
            path: path.to_owned(),
            what: "no [document] table: add one with its version (`[document] version = 1`)".into(),
        })
}

/// Signs the document at `path` with the admin key and certificate given:
/// checks that it reads as a document (topology, version, revocation
/// list) first, then writes `<path>.sig`. Returns that path.
pub fn sign(path: &Path, key: &Path, cert: &Path) -> Result<PathBuf, DocumentError> {
    let text = std::fs::read_to_string(path).map_err(|source| DocumentError::Read {
        path: path.to_owned(),
        source,
    })?;
    let version = declared_in(&text, path)?;
    RevocationList::from_document(&text, path).map_err(|e| DocumentError::Invalid {
        path: path.to_owned(),
        what: e.to_string(),
    })?;
    let invalid = |p: &Path, what: String| DocumentError::Invalid {
        path: p.to_owned(),
        what,
    };
    let key_der = load_private_key(key).map_err(|e| invalid(key, e.to_string()))?;
    let chain = load_certificates(cert).map_err(|e| invalid(cert, e.to_string()))?;
    let signature = sign_detached(&key_der, text.as_bytes()).map_err(|e| invalid(key, e.to_string()))?;
    let pem_text = std::fs::read_to_string(cert).map_err(|source| DocumentError::Read {
        path: cert.to_owned(),
        source,
    })?;
    if chain.is_empty() {
        return Err(invalid(cert, "no certificate in it".into()));
    }
    let file = SignatureFile {
        document: path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        version,
        signature: to_hex(&signature),
        admin: pem_text,
    };
    let body = toml::to_string(&file).map_err(|e| invalid(path, e.to_string()))?;
    let out = signature_path(path);
    let text = format!(
        "# Liandong federation document signature (liandong federation sign): the admin's\n\
         # Ed25519 signature over {}, byte for byte, and the admin's certificate.\n{body}",
        file.document
    );
    std::fs::write(&out, text).map_err(|source| DocumentError::Write {
        path: out.clone(),
        source,
    })?;
    Ok(out)
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_refuses_garbage() {
        let bytes = [0u8, 1, 0xab, 0xff];
        assert_eq!(from_hex(&to_hex(&bytes)), Some(bytes.to_vec()));
        assert_eq!(from_hex("abc"), None);
        assert_eq!(from_hex("zz"), None);
    }

    #[test]
    fn the_signature_sits_beside_the_document() {
        assert_eq!(
            signature_path(Path::new("/etc/liandong/fuzhou.toml")),
            PathBuf::from("/etc/liandong/fuzhou.toml.sig")
        );
    }
}
