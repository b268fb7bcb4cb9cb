//! The wall clock, read once here for every driver and client: the time
//! as the dispatch core counts it (milliseconds since the Unix epoch,
//! [`Timestamp`]). The core itself never reads a clock; its drivers hand
//! it this.
//!
//! `LIANDONG_CLOCK_OFFSET_MS` (read once, at the first reading) shifts
//! this clock by that many milliseconds, so a rehearsal or a test can run
//! real nodes through a month's end (summaries, deadlines) without
//! waiting for one. Certificates are still checked on the real clock.
//! Never set it on a center in service.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use liandong_dispatch::wire::Timestamp;

/// The variable that shifts the clock, in milliseconds (may be negative).
pub const OFFSET_VAR: &str = "LIANDONG_CLOCK_OFFSET_MS";

/// Now, as a [`Timestamp`]. A clock set before 1970 reads as 0.
pub fn now() -> Timestamp {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    Timestamp(u64::try_from(ms.saturating_add(offset())).unwrap_or(0))
}

/// The shift `LIANDONG_CLOCK_OFFSET_MS` gives (0 when unset or unreadable).
pub fn offset() -> i64 {
    static OFFSET: OnceLock<i64> = OnceLock::new();
    *OFFSET.get_or_init(|| {
        std::env::var(OFFSET_VAR)
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_is_after_2026_and_does_not_go_back() {
        let a = now();
        let b = now();
        assert!(a.0 > 1_767_225_600_000, "{a:?}");
        assert!(b >= a);
    }
}
