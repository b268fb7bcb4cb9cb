//! When a failed delivery is tried again: exponential backoff from
//! [`FIRST_RETRY`], doubling per failed attempt, capped at [`MAX_RETRY`];
//! no jitter (deliveries of one node are few, and receivers that fail
//! together are spread by when their events happened). A delivery whose
//! next attempt would fall after its expiry is dead-lettered instead.

use std::time::Duration;

use liandong_dispatch::Timestamp;

/// The wait after the first failed attempt.
pub const FIRST_RETRY: Duration = Duration::from_secs(1);
/// The longest wait between two attempts.
pub const MAX_RETRY: Duration = Duration::from_secs(5 * 60);

/// The wait after `failed` failed attempts (1 for the first).
pub fn retry_after(failed: u32) -> Duration {
    let doublings = failed.saturating_sub(1).min(31);
    FIRST_RETRY.saturating_mul(1 << doublings).min(MAX_RETRY)
}

/// What follows a failed attempt, the `failed`-th, at `now`, of a
/// delivery created at `created` that expires `expire_after` later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    RetryAt(Timestamp),
    /// Expired: dead-letter it.
    GiveUp,
}

pub fn after_failure(failed: u32, now: Timestamp, created: Timestamp, expire_after: Duration) -> AfterFailure {
    let next = now.plus(retry_after(failed));
    if next.0 > created.plus(expire_after).0 {
        AfterFailure::GiveUp
    } else {
        AfterFailure::RetryAt(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_from_one_second_to_a_cap_of_five_minutes() {
        let secs: Vec<u64> = (1..=11).map(|n| retry_after(n).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(retry_after(0), FIRST_RETRY);
        assert_eq!(retry_after(u32::MAX), MAX_RETRY);
    }

    #[test]
    fn a_retry_past_the_expiry_gives_up() {
        let created = Timestamp(1_000_000);
        let day = Duration::from_secs(86_400);
        assert_eq!(
            after_failure(1, Timestamp(1_000_000), created, day),
            AfterFailure::RetryAt(Timestamp(1_001_000))
        );
        assert_eq!(
            after_failure(3, Timestamp(1_010_000), created, Duration::from_secs(10)),
            AfterFailure::GiveUp
        );
        assert_eq!(
            after_failure(2, Timestamp(1_008_000), created, Duration::from_secs(10)),
            AfterFailure::RetryAt(Timestamp(1_010_000))
        );
        // 24 h of failures: a bounded number of attempts.
        let (mut now, mut n) = (created, 0);
        while let AfterFailure::RetryAt(next) = after_failure(n + 1, now, created, day) {
            (now, n) = (next, n + 1);
        }
        assert!((280..=300).contains(&n), "{n} attempts in a day");
    }
}
