//! Photos filed with reports: kept at every node on a report's path as
//! content-addressed files (`files`), and moved hop by hop behind the
//! report on the bulk lane (`transfer`). The report's envelope carries
//! only each photo's hash, size and format; the core never holds the
//! bytes. Nothing here decides where a report goes: a photo follows the
//! report the core already routed.

pub mod files;
pub mod transfer;

pub use files::{PhotoError, PhotoFiles, hex, parse_hex};
pub use transfer::Photos;

use liandong_dispatch::store::{Store, StoredEnvelope};
use liandong_dispatch::wire::{Action, Body, Envelope, PhotoRef};
use liandong_topology::NodeId;

/// The photos an envelope's report carries: a report's own, or those of
/// the report an escalation hands to the new owner.
pub fn photos_of(envelope: &Envelope) -> &[PhotoRef] {
    match &envelope.body {
        Body::Report(report) => &report.photos,
        Body::Update(update) => match &update.action {
            Action::Escalate { report, .. } => match &report.body {
                Body::Report(r) => &r.photos,
                _ => &[],
            },
            _ => &[],
        },
        _ => &[],
    }
}

/// The photos a stored envelope's report carries, each with the
/// neighbour that sent the envelope (none for one filed here).
pub fn carried(stored: &StoredEnvelope) -> impl Iterator<Item = (&NodeId, PhotoRef)> {
    let photos = photos_of(&stored.envelope);
    let sender = stored.trace.len().checked_sub(2).and_then(|i| stored.trace.get(i));
    photos
        .iter()
        .filter_map(move |photo| sender.map(|hop| (&hop.node, *photo)))
}

/// Whether this node sent `peer` an envelope carrying photo `sha256`:
/// only then does it answer `peer`'s ask for it (a neighbour cannot fetch
/// a photo by its hash alone). One pass over what the node holds; asks
/// come once per photo and hop.
pub fn sent_to(store: &Store, peer: &NodeId, sha256: &[u8; 32]) -> bool {
    store.envelopes.values().any(|s| {
        photos_of(&s.envelope).iter().any(|p| &p.sha256 == sha256)
            && store.outbox.contains_key(&(peer.clone(), s.envelope.id))
    })
}
