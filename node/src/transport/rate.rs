//! Congestion control for a link whose rate the link policy declares
//! (`[link.village] rate_kbps = 64`).
//!
//! quinn's default (Cubic) reads every lost packet as congestion; on a
//! rural link that drops one datagram in five at random it sits at its
//! minimum window and the link runs at a fraction of its rate. And while
//! a window holds stream data back, quinn sends no packet with only
//! acknowledgements in it, so two ends both at their windows starve each
//! other of acks. A declared link needs neither probing nor a window that
//! binds: [`DeclaredRate`]'s window never binds, whatever is lost, and
//! the transport's pacer ([`super::pace`]) hands data to QUIC at the
//! declared rate. What a stalled path (a cut) holds is bounded by the
//! connection's send window instead ([`super::pace::HOLD`]), which holds
//! back writers but not acknowledgements, keep-alives or urgent copies:
//! after a cut the first keep-alive that crosses brings the acks back,
//! not a probe timeout backed off for as long as the cut lasted.
//!
//! The rate is known only once the peer is (a connection is accepted
//! before its certificate says who it is), so each connection gets its
//! own [`RateCell`]: zero (unknown, Cubic decides) until the link's class
//! is set from the policy.

use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

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
        })
    }
}

/// A declared link's window: far above anything in flight on a working
/// link (a gigabyte), and at most `u32::MAX` so quinn's pacer still
/// spreads a burst of retransmissions over a few milliseconds.
const UNBOUND: u64 = 1 << 30;

/// The window for a declared rate; Cubic's while the rate is unknown.
struct DeclaredRate {
    cell: RateCell,
    fallback: Box<dyn Controller>,
}

impl Controller for DeclaredRate {
    fn on_sent(&mut self, now: Instant, bytes: u64, last_packet_number: u64) {
        self.fallback.on_sent(now, bytes, last_packet_number);
    }

    fn on_ack(&mut self, now: Instant, sent: Instant, bytes: u64, app_limited: bool, rtt: &RttEstimator) {
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
        self.fallback.on_mtu_update(new_mtu);
    }

    fn window(&self) -> u64 {
        match self.cell.get() {
            Some(_) => UNBOUND,
            None => self.fallback.window(),
        }
    }

    fn clone_box(&self) -> Box<dyn Controller> {
        Box::new(DeclaredRate {
            cell: self.cell.clone(),
            fallback: self.fallback.clone_box(),
        })
    }

    fn initial_window(&self) -> u64 {
        match self.cell.get() {
            Some(_) => UNBOUND,
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
        assert_eq!(before, UNBOUND);
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
