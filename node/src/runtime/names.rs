//! Names operators give: an incident, order or room by its full id or a
//! unique prefix of its hex digits, resolved against what the core holds.
//! Shared by `operators` and `cap`; pure functions of the core.

use liandong_control::proto::IdRef;
use liandong_dispatch::{Core, EnvelopeId};

pub(super) fn incident_id(core: &Core, r: &IdRef) -> Result<EnvelopeId, String> {
    resolve(r, "incident", core.incidents().map(|i| i.id))
}

pub(super) fn order_id(core: &Core, r: &IdRef) -> Result<EnvelopeId, String> {
    resolve(r, "order", core.orders().map(|o| o.id))
}

pub(super) fn room_id(core: &Core, r: &IdRef) -> Result<EnvelopeId, String> {
    resolve(r, "room", core.rooms().map(|o| o.id))
}

/// An id given in full (32 hex digits), for items not known here.
pub(super) fn full_id(r: &IdRef) -> Option<EnvelopeId> {
    let hex = r.0.trim();
    (hex.len() == 32)
        .then(|| u128::from_str_radix(hex, 16).ok())
        .flatten()
        .map(EnvelopeId)
}

/// An id from its full hex form or a unique prefix of it.
pub(super) fn resolve(r: &IdRef, what: &str, known: impl Iterator<Item = EnvelopeId>) -> Result<EnvelopeId, String> {
    let wanted = r.0.trim().to_ascii_lowercase();
    if wanted.is_empty() || !wanted.chars().all(|c| c.is_ascii_hexdigit()) || wanted.len() > 32 {
        return Err(format!("{:?} is not an {what} id (up to 32 hex digits)", r.0));
    }
    let mut found = known.filter(|id| format!("{:032x}", id.0).starts_with(&wanted));
    match (found.next(), found.next()) {
        (Some(id), None) => Ok(id),
        (None, _) => Err(format!("no {what} {wanted} is known here")),
        (Some(_), Some(_)) => Err(format!("{wanted} matches more than one {what}: give more digits")),
    }
}
