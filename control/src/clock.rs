//! The wall clock, read once here for every driver and client: the time
//! as the dispatch core counts it (milliseconds since the Unix epoch,
//! [`Timestamp`]). The core itself never reads a clock; its drivers hand
//! it this.

use std::time::{SystemTime, UNIX_EPOCH};

use liandong_dispatch::wire::Timestamp;

/// Now, as a [`Timestamp`]. A clock set before 1970 reads as 0.
pub fn now() -> Timestamp {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    Timestamp(ms)
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
