//! CAP 1.2, the OASIS Common Alerting Protocol, for Liandong: alerts in
//! from warning-release platforms, incidents out as standard alerts.
//!
//! - `model`: an alert as plain data, the schema's elements in its order;
//! - `time`: CAP's dateTime with its explicit offset;
//! - `xml`: a bounded reader (size, depth, elements; no DOCTYPE, no
//!   entity declarations, UTF-8 only) giving elements with their lines;
//! - `read`: an alert from XML, checked to the schema and to the spec's
//!   rules beyond it, every problem naming its element and line;
//! - `write`: an alert as XML that validates against the OASIS schema;
//! - `tables`: the documented mappings of severity, category and mode;
//! - `export`: an incident as the alert its center sends;
//! - `import`: what an alert becomes at a center (a report, an order, a
//!   note, a cancellation, nothing), decided from what the center holds.
//!
//! Never does I/O, never resolves anything outside the document it is
//! given, and never panics on input.
//!
//! Why a crate of our own on quick-xml rather than a CAP crate: the one
//! on crates.io, oasiscap 0.2 (last released in 2022), reads through
//! serde over xml-rs, so its errors name no line, and it neither bounds
//! nesting nor refuses a DOCTYPE; the checks beyond the schema and the
//! bounds hostile input needs would have been ours anyway.

pub mod error;
pub mod export;
pub mod import;
pub mod model;
pub mod read;
pub mod tables;
pub mod time;
pub mod write;
mod xml;

pub use error::CapError;
pub use model::*;
pub use read::parse;
pub use time::CapTime;
pub use write::to_xml;

/// Largest alert read, in bytes (a CAP alert is a few kilobytes; one with
/// an embedded resource may be more): what a control request carries
/// (`liandong_control::proto::MAX_CAP`).
pub const MAX_BYTES: usize = 240 * 1024;
/// Deepest element nesting read (an alert's is five: alert, info, area,
/// geocode, value).
pub const MAX_DEPTH: usize = 16;
/// Most elements read in one alert.
pub const MAX_ELEMENTS: usize = 10_000;
