//! CAP's `dateTime`: `YYYY-MM-DDThh:mm:ss±hh:mm`, always with an explicit
//! offset (the spec forbids `Z` and other letters), no fractions.

/// An instant and the offset it was written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapTime {
    /// Seconds since the Unix epoch (UTC).
    pub unix_seconds: i64,
    /// The offset east of UTC, in minutes, as written (−00:00 reads as 0).
    pub offset_minutes: i32,
}
