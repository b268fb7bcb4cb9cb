//! Pacing on a declared link: the transport, not QUIC's congestion
//! controller, decides how fast routine and bulk data goes.
//!
//! quinn builds no ACK-only packet while it has stream data waiting on
//! the congestion window. On a thin link loaded both ways, both ends sat
//! at their windows, each waiting for acknowledgements the other would
//! only send once its own window opened: acks went out with probe
//! timeouts, about one packet a second (measured: a 2,000-envelope
//! backlog drained at 6-20% of a 64 kbit/s link, round trips of 2-4 s on
//! a 0.6 s path). So on a declared link the congestion window is set far
//! above what the link holds in flight ([`super::rate`]), QUIC sends
//! whatever it has at once, and this pacer hands routine and bulk data
//! to QUIC a piece at a time, at the declared rate:
//!
//! - A leaky bucket over the bytes the connection has put on the wire:
//!   the larger of what was handed to QUIC (with a packet's overhead per
//!   piece) and quinn's own count of UDP bytes sent, which includes
//!   retransmissions, acknowledgements, heartbeats and the urgent lane,
//!   so they take their share of the rate and the bulk yields it. The
//!   bucket drains at the declared rate; a piece goes when the bucket,
//!   with the piece, holds at most [`QUEUE`] of the rate (the queue a
//!   frame finds ahead of it at the link's bottleneck).
//! - Pieces of at most [`PIECE`] bytes of stream data, so no more than
//!   one packet of routine or bulk data is ever in QUIC's buffers ahead
//!   of an urgent frame, and a 256 KiB frame crosses the link in pieces
//!   that urgent frames and heartbeats overtake.
//! - Normal before bulk: a bulk piece waits while a normal piece waits.
//!
//! Control and urgent frames never wait for the pacer. While pieces are
//! going, control frames (hop acks, heartbeats) are held up to
//! [`CONTROL_HOLD`] for the next piece, so they share its packet instead
//! of costing one of their own (a packet's overhead is 40 bytes; a
//! township acking a village's backlog sent ten small control packets a
//! second).

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use liandong_dispatch::wire::Lane;
use liandong_topology::LinkClass;
use tokio::sync::Notify;

use super::link::lock;

/// Most stream data in one paced piece: one packet's worth.
pub(crate) const PIECE: usize = LinkClass::PIECE;

/// A packet's bytes on the wire besides its stream data, as charged for
/// each piece before quinn's count of bytes sent catches up.
const OVERHEAD: u64 = LinkClass::PACKET_OVERHEAD as u64;

/// Most of the declared rate, as time, the bucket may hold with a new
/// piece in it: how long the bottleneck queue an urgent frame meets.
pub(crate) const QUEUE: Duration = Duration::from_millis(250);

/// Longest a control frame waits for a piece to share a packet with.
pub(crate) const CONTROL_HOLD: Duration = Duration::from_millis(100);

/// How much of the declared rate, as time, a declared link's connection
/// takes from its writers before they wait for acknowledgements (its
/// send window): a stalled path buffers seconds of data, not minutes,
/// and does not flood the link with it when it heals.
pub(crate) const HOLD: Duration = Duration::from_secs(2);

/// The send window for a declared `rate`: [`HOLD`] of it, at least 16 KiB.
pub(super) fn send_window(rate: u32) -> u64 {
    let bytes = u128::from(rate) * HOLD.as_micros() / 1_000_000;
    (bytes as u64).max(16 * 1024)
}

/// Paces one connection's routine and bulk data at a declared rate.
pub(super) struct Pacer {
    /// Bytes per second.
    rate: u64,
    conn: quinn::Connection,
    bucket: Mutex<Bucket>,
    /// Normal-lane pieces waiting for the bucket: bulk waits for them.
    normal_waiting: AtomicUsize,
    normal_went: Notify,
    /// A piece was let through: control frames held for it go now.
    piece_went: Notify,
}

/// The bottleneck as this end models it.
struct Bucket {
    /// Bytes the bottleneck still holds.
    level: f64,
    /// When `level` was last brought up to date.
    at: Instant,
    /// When the last piece was let through.
    last_piece: Option<Instant>,
    /// quinn's count of UDP bytes sent, when last looked at.
    wire: u64,
    /// Bytes of pieces counted when handed to QUIC and not yet seen in
    /// `wire` (so they are not counted twice); at most [`MAX_PENDING`].
    pending: u64,
}

impl Bucket {
    fn new(wire: u64, now: Instant) -> Bucket {
        Bucket {
            level: 0.0,
            at: now,
            last_piece: None,
            wire,
            pending: 0,
        }
    }

    /// Takes `cost` bytes if the bucket (draining at `rate`, holding at
    /// most `allowance`) has room for them at `now`, `wire` being quinn's
    /// count of bytes sent; else how long until it will have.
    fn try_take(&mut self, rate: u64, allowance: f64, cost: u64, wire: u64, now: Instant) -> Option<Duration> {
        self.drain(rate, wire, now);
        if self.level + cost as f64 > allowance && self.level > 0.0 {
            let excess = self.level + cost as f64 - allowance;
            return Some(Duration::from_secs_f64(excess / rate as f64).max(Duration::from_millis(1)));
        }
        self.level += cost as f64;
        self.pending = (self.pending + cost).min(MAX_PENDING);
        self.last_piece = Some(now);
        None
    }

    /// Brings the bucket up to `now`: bytes that went on the wire since it
    /// was last looked at come in (less pieces already counted), `rate`
    /// goes out.
    fn drain(&mut self, rate: u64, wire: u64, now: Instant) {
        let sent = wire.saturating_sub(self.wire);
        self.wire = self.wire.max(wire);
        let seen = sent.min(self.pending);
        self.pending -= seen;
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.at = now;
        self.level = (self.level + (sent - seen) as f64 - elapsed * rate as f64).max(0.0);
    }
}

/// Most bytes counted ahead of quinn's count: two pieces. An estimate of
/// overhead too high would otherwise pile up and hide real bytes sent.
const MAX_PENDING: u64 = 2 * (PIECE as u64 + OVERHEAD);

impl Pacer {
    pub(super) fn new(conn: quinn::Connection, rate: u32) -> Pacer {
        Pacer {
            rate: u64::from(rate.max(1)),
            bucket: Mutex::new(Bucket::new(conn.stats().udp_tx.bytes, Instant::now())),
            conn,
            normal_waiting: AtomicUsize::new(0),
            normal_went: Notify::new(),
            piece_went: Notify::new(),
        }
    }

    /// Most the bucket may hold with a piece in it: [`QUEUE`] of the
    /// rate, and at least two pieces.
    fn allowance(&self) -> f64 {
        (self.rate as f64 * QUEUE.as_secs_f64()).max(2.0 * (PIECE as u64 + OVERHEAD) as f64)
    }

    /// Waits until a piece of `bytes` on `lane` (Normal or Bulk) may go,
    /// and counts it.
    pub(super) async fn acquire(&self, lane: Lane, bytes: usize) {
        let normal = lane != Lane::Bulk;
        if normal {
            self.normal_waiting.fetch_add(1, Ordering::SeqCst);
        }
        loop {
            if !normal && self.normal_waiting.load(Ordering::SeqCst) > 0 {
                let went = self.normal_went.notified();
                if self.normal_waiting.load(Ordering::SeqCst) > 0 {
                    // Bounded, in case a normal writer went away mid-wait.
                    let _ = tokio::time::timeout(QUEUE, went).await;
                }
                continue;
            }
            match self.try_take(bytes as u64 + OVERHEAD, Instant::now()) {
                None => break,
                Some(wait) => tokio::time::sleep(wait).await,
            }
        }
        if normal {
            self.normal_waiting.fetch_sub(1, Ordering::SeqCst);
            self.normal_went.notify_waiters();
        }
        self.piece_went.notify_waiters();
    }

    /// Whether pieces are going: one went within the last [`QUEUE`] or
    /// two, so another is due soon.
    pub(super) fn busy(&self) -> bool {
        lock(&self.bucket).last_piece.is_some_and(|at| at.elapsed() < 2 * QUEUE)
    }

    /// Waits for the next piece to be let through.
    pub(super) async fn next_piece(&self) {
        self.piece_went.notified().await;
    }

    /// Takes `cost` bytes if the bucket has room for them now; else how
    /// long until it will.
    fn try_take(&self, cost: u64, now: Instant) -> Option<Duration> {
        let wire = self.conn.stats().udp_tx.bytes;
        lock(&self.bucket).try_take(self.rate, self.allowance(), cost, wire, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: u64 = 8000;
    const ALLOWANCE: f64 = 2000.0;
    const COST: u64 = PIECE as u64 + OVERHEAD;

    #[test]
    fn pieces_go_at_the_rate_after_a_short_burst() {
        let t0 = Instant::now();
        let mut b = Bucket::new(0, t0);
        // An empty bucket takes a piece at once, the next must wait.
        assert_eq!(b.try_take(RATE, ALLOWANCE, COST, 0, t0), None);
        let wait = b
            .try_take(RATE, ALLOWANCE, COST, 0, t0)
            .expect("the second piece waits");
        // 1,140 + 1,140 - 2,000 bytes at 8,000 B/s: 35 ms.
        assert_eq!(wait.as_millis(), 35);
        assert_eq!(b.try_take(RATE, ALLOWANCE, COST, COST, t0 + wait), None);
        // A hundred pieces take about a hundred piece-times.
        let mut now = t0 + wait;
        let mut wire = 2 * COST;
        for _ in 0..100 {
            while let Some(w) = b.try_take(RATE, ALLOWANCE, COST, wire, now) {
                now += w;
            }
            wire += COST;
        }
        let took = (now - t0).as_secs_f64();
        let expect = 100.0 * COST as f64 / RATE as f64;
        assert!((took - expect).abs() < 0.5, "{took} s for {expect} s of pieces");
    }

    #[test]
    fn bytes_quinn_sent_besides_the_pieces_slow_them() {
        let t0 = Instant::now();
        let mut b = Bucket::new(0, t0);
        assert_eq!(b.try_take(RATE, ALLOWANCE, COST, 0, t0), None);
        // The piece went out, and with it 4,000 bytes of retransmissions.
        let wait = b.try_take(RATE, ALLOWANCE, COST, COST + 4000, t0).expect("must wait");
        // 1,140 + 4,000 + 1,140 - 2,000 bytes at 8,000 B/s.
        assert_eq!(wait.as_millis(), 535);
    }

    #[test]
    fn a_piece_is_not_counted_twice_when_quinn_reports_it() {
        let t0 = Instant::now();
        let mut b = Bucket::new(10_000, t0);
        assert_eq!(b.try_take(RATE, ALLOWANCE, COST, 10_000, t0), None);
        b.drain(RATE, 10_000 + COST, t0);
        assert_eq!(b.level, COST as f64);
        assert_eq!(b.pending, 0);
    }

    #[test]
    fn an_idle_link_saves_no_credit_for_a_burst() {
        let t0 = Instant::now();
        let mut b = Bucket::new(0, t0);
        let later = t0 + Duration::from_secs(60);
        assert_eq!(b.try_take(RATE, ALLOWANCE, COST, 0, later), None);
        assert!(b.try_take(RATE, ALLOWANCE, COST, 0, later).is_some());
        assert_eq!(b.last_piece, Some(later));
    }
}
