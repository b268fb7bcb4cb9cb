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

// Placeholders until the reader lands (the helper's branch replaces this file).
impl CapTime {
    pub fn from_unix_ms(ms: u64, offset_minutes: i32) -> CapTime {
        CapTime {
            unix_seconds: (ms / 1000) as i64,
            offset_minutes,
        }
    }
    pub fn unix_ms(self) -> u64 {
        u64::try_from(self.unix_seconds).unwrap_or(0) * 1000
    }
}
impl std::fmt::Display for CapTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.unix_seconds)
    }
}
