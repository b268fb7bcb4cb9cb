//! Congestion control for a link whose rate the link policy declares
//! (`[link.village] rate_kbps = 64`).
//!
//! quinn's default (Cubic) reads every lost packet as congestion; on a
//! rural link that drops one datagram in five at random it sits at its
//! minimum window and the link runs at a fraction of its rate. A declared
//! link needs no probing: [`DeclaredRate`] keeps the window at the
//! declared rate times the path's minimum round trip (the link's
//! bandwidth-delay product, with a little headroom for packets lost and
//! not yet declared so), whatever is lost; quinn's pacer spreads it over
//! the round trip. The bottleneck queue stays short, so an urgent frame
//! never waits behind seconds of queued bulk in a router.
//!
//! The rate is known only once the peer is (a connection is accepted
//! before its certificate says who it is), so each connection gets its
//! own [`RateCell`]: zero (unknown, Cubic decides) until the link's class
//! is set from the policy.

use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use quinn::congestion::{Controller, ControllerFactory, CubicConfig};
use quinn_proto::RttEstimator;

/// The declared rate of one connection, bytes per second; 0 for unknown.
#[derive(Debug, Clone, Default)]
pub(super) struct RateCell(Arc<AtomicU64>);

impl RateCell {
    pub(super) fn set(&self, bytes_per_second: Option<u32>) {
        self.0.store(bytes_per_second.map_or(0, u64::from), Ordering::Relaxed);
    }

    fn get(&self) -> Option<u64> {
        Some(self.0.load(Ordering::Relaxed)).filter(|r| *r > 0)
    }
}

/// Builds one connection's controller over its cell.
pub(super) struct DeclaredRateFactory {
    pub(super) cell: RateCell,
}

impl ControllerFactory for DeclaredRateFactory {
    fn build(self: Arc<Self>, now: Instant, current_mtu: u16) -> Box<dyn Controller> {
        Box::new(DeclaredRate {
            cell: self.cell.clone(),
            fallback: Arc::new(CubicConfig::default()).build(now, current_mtu),
            min_rtt: None,
            smoothed_rtt: None,
            mtu: current_mtu,
        })
    }
}

/// The round trip assumed before the first sample (quinn's initial RTT).
const INITIAL_RTT: Duration = Duration::from_millis(333);
/// Most queueing the window allows for above the path's minimum round
/// trip: a router queue of this much stays short enough for urgent frames.
const MAX_QUEUE: Duration = Duration::from_millis(250);

/// The window for a declared rate; Cubic's while the rate is unknown.
struct DeclaredRate {
    cell: RateCell,
    fallback: Box<dyn Controller>,
    min_rtt: Option<Duration>,
    smoothed_rtt: Option<Duration>,
    mtu: u16,
}

impl DeclaredRate {
    /// The rate times the smoothed round trip (which, on a link loaded
    /// both ways, includes the acks' wait behind the other direction's
    /// data), kept between 1.25 times the bandwidth-delay product and the
    /// product plus [`MAX_QUEUE`] of the rate; at least four packets.
    fn declared_window(&self, rate: u64) -> u64 {
        let bytes = |d: Duration| (u128::from(rate) * d.as_micros() / 1_000_000) as u64;
        let min = self.min_rtt.unwrap_or(INITIAL_RTT).max(Duration::from_millis(10));
        let smoothed = self.smoothed_rtt.unwrap_or(min);
        let low = bytes(min);
        let high = bytes(min + MAX_QUEUE).max(low);
        bytes(smoothed).clamp(low, high).max(4 * u64::from(self.mtu))
    }
}

impl Controller for DeclaredRate {
    fn on_sent(&mut self, now: Instant, bytes: u64, last_packet_number: u64) {
        self.fallback.on_sent(now, bytes, last_packet_number);
    }

    fn on_ack(&mut self, now: Instant, sent: Instant, bytes: u64, app_limited: bool, rtt: &RttEstimator) {
        self.min_rtt = Some(rtt.min());
        self.smoothed_rtt = Some(rtt.get());
        self.fallback.on_ack(now, sent, bytes, app_limited, rtt);
    }

    fn on_end_acks(&mut self, now: Instant, in_flight: u64, app_limited: bool, largest: Option<u64>) {
        self.fallback.on_end_acks(now, in_flight, app_limited, largest);
    }

    fn on_congestion_event(&mut self, now: Instant, sent: Instant, persistent: bool, lost_bytes: u64) {
        // A declared link's loss is the link's, not a queue's: only the
        // fallback (in use while the rate is unknown) reacts.
        self.fallback.on_congestion_event(now, sent, persistent, lost_bytes);
    }

    fn on_mtu_update(&mut self, new_mtu: u16) {
        self.mtu = new_mtu;
        self.fallback.on_mtu_update(new_mtu);
    }

    fn window(&self) -> u64 {
        match self.cell.get() {
            Some(rate) => self.declared_window(rate),
            None => self.fallback.window(),
        }
    }

    fn clone_box(&self) -> Box<dyn Controller> {
        Box::new(DeclaredRate {
            cell: self.cell.clone(),
            fallback: self.fallback.clone_box(),
            min_rtt: self.min_rtt,
            smoothed_rtt: self.smoothed_rtt,
            mtu: self.mtu,
        })
    }

    fn initial_window(&self) -> u64 {
        match self.cell.get() {
            Some(rate) => self.declared_window(rate),
            None => self.fallback.initial_window(),
        }
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn controller(rate: Option<u32>) -> Box<dyn Controller> {
        let cell = RateCell::default();
        cell.set(rate);
        Arc::new(DeclaredRateFactory { cell }).build(Instant::now(), 1200)
    }

    #[test]
    fn a_declared_rate_keeps_its_window_through_loss() {
        let mut c = controller(Some(8000));
        let before = c.window();
        // 333 ms assumed: 8000 B/s * 0.333 s is 2,664 bytes, below
        // the floor of four packets.
        assert_eq!(before, 4800);
        let now = Instant::now();
        for _ in 0..20 {
            c.on_congestion_event(now, now, false, 1200);
        }
        assert_eq!(
            c.window(),
            before,
            "random loss must not shrink a declared link's window"
        );
    }

    #[test]
    fn an_unknown_rate_is_cubic_and_backs_off_on_loss() {
        let mut c = controller(None);
        let before = c.window();
        let now = Instant::now();
        c.on_congestion_event(now, now, false, 1200);
        assert!(c.window() < before, "{} !< {before}", c.window());
    }
}
