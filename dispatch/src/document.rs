//! Federation documents as the core sees them: a version that arrives
//! must be checked before it is stored, carried on or applied, and the
//! check is the driver's to give ([`DocumentCheck`]), as origin
//! signatures are ([`crate::SignatureCheck`]).
//!
//! The real check (the node runtime's) verifies the federation admin's
//! certificate against the CA and the revocation list, the admin's
//! signature over the text, and that the text is a valid topology that
//! declares the version the envelope says. It is pure computation on what
//! it is given: no file, socket or clock (the time is an argument).
//! [`TestDocuments`] is the cheap, deterministic stand-in of tests and
//! simulations.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use liandong_topology::Topology;
use ring::digest;

use crate::wire::{Document, Timestamp};

/// Decides whether a federation document may be applied, and what it says.
pub trait DocumentCheck: Send {
    /// Checks `doc` as of `now`. `Ok`: the topology it describes (with its
    /// `[document]` header). `Err`: why not, in operators' words.
    fn check(&self, doc: &Document, now: Timestamp) -> Result<Arc<Topology>, String>;
}

/// Takes no document: a core that was given no way to check one refuses
/// every version, saying so.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoDocuments;

impl DocumentCheck for NoDocuments {
    fn check(&self, _doc: &Document, _now: Timestamp) -> Result<Arc<Topology>, String> {
        Err("this node was given no way to check federation documents".into())
    }
}

/// Test and simulation documents: "signed" by a keyed digest of the text
/// that only [`TestDocuments::sign`] makes. Parsed topologies are kept by
/// digest and shared (a simulated province's nodes check one document
/// thousands of times), at most [`TestDocuments::KEEP`] of them.
#[derive(Debug, Clone, Default)]
pub struct TestDocuments {
    parsed: Arc<Mutex<HashMap<Vec<u8>, Arc<Topology>>>>,
}

impl TestDocuments {
    /// Most parsed topologies kept.
    pub const KEEP: usize = 16;

    /// The test signature over `text`.
    pub fn sign(text: &str) -> Vec<u8> {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(b"liandong test admin\0");
        ctx.update(text.as_bytes());
        ctx.finish().as_ref().to_vec()
    }

    /// A signed document of `text` (its version read from the text; 0 if
    /// it has none, which the check refuses).
    pub fn document(text: &str) -> Document {
        let version = Topology::parse(text, None)
            .ok()
            .and_then(|t| t.document().map(|d| d.version))
            .unwrap_or(0);
        Document::new(version, text, TestDocuments::sign(text), Vec::new())
    }
}

impl DocumentCheck for TestDocuments {
    fn check(&self, doc: &Document, _now: Timestamp) -> Result<Arc<Topology>, String> {
        let text = doc.text()?;
        if doc.signature != TestDocuments::sign(&text) {
            return Err("the admin's signature does not match the document".into());
        }
        let key = doc.signature.clone();
        let mut parsed = self.parsed.lock().unwrap_or_else(PoisonError::into_inner);
        let topology = match parsed.get(&key) {
            Some(t) => t.clone(),
            None => {
                let t = Arc::new(Topology::parse(&text, None).map_err(|e| format!("the document: {e}"))?);
                if parsed.len() >= TestDocuments::KEEP {
                    parsed.clear();
                }
                parsed.insert(key, t.clone());
                t
            }
        };
        declared_version(&topology, doc.version)?;
        Ok(topology)
    }
}

/// That `topology` (a document's) declares `version`, as its envelope says.
pub fn declared_version(topology: &Topology, version: u64) -> Result<(), String> {
    match topology.document() {
        None => Err("the text has no [document] table: it is a topology file, not a document".into()),
        Some(d) if d.version != version => Err(format!(
            "the text declares version {} but was sent as version {version}",
            d.version
        )),
        Some(_) => Ok(()),
    }
}
