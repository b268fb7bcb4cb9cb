//! How much of the driver one peer may hold: at most [`IN_HAND`] of a
//! link's frames are on their way to the driver or in its hands at once.
//! A peer that sends faster than the node handles its frames waits here:
//! its readers stop reading, QUIC flow control stops its writers, and
//! the frames of every other peer still find room in the driver's queue,
//! behind at most [`IN_HAND`] of the fast peer's. So a flooding child is
//! slowed down to what the node can take, and the others are not.
//!
//! The first wait of a link in each minute is logged as a warning (and
//! counted in `liandong_peer_waits_total`); nothing is dropped here.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use liandong_topology::NodeId;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};

/// Frames of one link between its reader and the end of the driver's
/// handling of them. 512 of a county's 16 children fill the driver's
/// queue; a relay turn takes a few hundred.
pub const IN_HAND: usize = 512;

/// At most one warning per link in this time.
const TELL_EVERY: Duration = Duration::from_secs(60);

/// One link's share of the driver.
pub(super) struct Budget {
    permits: Arc<Semaphore>,
    told: Mutex<Option<Instant>>,
}

/// A frame's place in its link's share: held until the driver has
/// handled the frame, then given back by dropping it.
#[derive(Debug)]
pub struct InHand {
    _permit: OwnedSemaphorePermit,
}

impl InHand {
    /// A place in no link's share, for tests of what handles frames.
    #[cfg(test)]
    pub(crate) fn untracked() -> InHand {
        let permit = Arc::new(Semaphore::new(1)).try_acquire_owned();
        InHand {
            _permit: permit.expect("a fresh semaphore has a permit"),
        }
    }
}

impl Budget {
    pub(super) fn new() -> Budget {
        Budget {
            permits: Arc::new(Semaphore::new(IN_HAND)),
            told: Mutex::new(None),
        }
    }

    /// A place for the next frame of `peer`'s link, waiting for one if the
    /// driver holds [`IN_HAND`] of them already.
    pub(super) async fn take(&self, me: &NodeId, peer: &NodeId) -> InHand {
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(TryAcquireError::NoPermits | TryAcquireError::Closed) => {
                self.tell(me, peer);
                match self.permits.clone().acquire_owned().await {
                    Ok(permit) => permit,
                    // Never closed: a closed semaphore would mean no limit at all.
                    Err(_) => unreachable!("a link's budget is never closed"),
                }
            }
        };
        InHand { _permit: permit }
    }

    fn tell(&self, me: &NodeId, peer: &NodeId) {
        metrics::counter!("liandong_peer_waits_total", "node" => me.to_string(), "peer" => peer.to_string())
            .increment(1);
        let now = Instant::now();
        let mut told = self.told.lock().unwrap_or_else(PoisonError::into_inner);
        if told.is_some_and(|at| now.duration_since(at) < TELL_EVERY) {
            return;
        }
        *told = Some(now);
        tracing::warn!(
            node = %me,
            %peer,
            in_hand = IN_HAND,
            "node {peer} sends frames faster than this node handles them: its streams wait while {IN_HAND} of its frames are in hand; other peers are not held up"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> NodeId {
        NodeId::parse(s).expect("id")
    }

    #[tokio::test]
    async fn a_link_holds_at_most_its_share_and_gets_it_back_when_handled() {
        let budget = Budget::new();
        let (me, peer) = (id("350102001"), id("350102001001"));
        let mut held = Vec::new();
        for _ in 0..IN_HAND {
            held.push(budget.take(&me, &peer).await);
        }
        // The next waits until the driver hands one back.
        let next = budget.take(&me, &peer);
        tokio::pin!(next);
        assert!(
            tokio::time::timeout(Duration::from_millis(50), &mut next)
                .await
                .is_err(),
            "a frame past the share was not held back"
        );
        drop(held.pop());
        tokio::time::timeout(Duration::from_secs(5), next)
            .await
            .expect("the place handed back is taken");
        assert!(budget.told.lock().unwrap().is_some(), "the wait was not told");
    }
}
