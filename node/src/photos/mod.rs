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

use liandong_dispatch::store::StoredEnvelope;
use liandong_dispatch::wire::{Body, PhotoRef};
use liandong_topology::NodeId;

/// The photos a stored envelope's report carries, each with the
/// neighbour that sent the report (none for a report filed here).
pub fn carried(stored: &StoredEnvelope) -> impl Iterator<Item = (&NodeId, PhotoRef)> {
    let photos: &[PhotoRef] = match &stored.envelope.body {
        Body::Report(report) => &report.photos,
        _ => &[],
    };
    let sender = stored.trace.len().checked_sub(2).and_then(|i| stored.trace.get(i));
    photos
        .iter()
        .filter_map(move |photo| sender.map(|hop| (&hop.node, *photo)))
}
