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
//! Control and urgent frames never wait for the pacer.

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
}

/// The bottleneck as this end models it.
struct Bucket {
    /// Bytes the bottleneck still holds.
    level: f64,
    /// When `level` was last brought up to date.
    at: Instant,
    /// quinn's count of UDP bytes sent, when last looked at.
    wire: u64,
    /// Bytes of pieces counted when handed to QUIC and not yet seen in
    /// `wire` (so they are not counted twice); at most [`MAX_PENDING`].
    pending: u64,
}

/// Most bytes counted ahead of quinn's count: two pieces. An estimate of
/// overhead too high would otherwise pile up and hide real bytes sent.
const MAX_PENDING: u64 = 2 * (PIECE as u64 + OVERHEAD);

impl Pacer {
    pub(super) fn new(conn: quinn::Connection, rate: u32) -> Pacer {
        Pacer {
            rate: u64::from(rate.max(1)),
            bucket: Mutex::new(Bucket {
                level: 0.0,
                at: Instant::now(),
                wire: conn.stats().udp_tx.bytes,
                pending: 0,
            }),
            conn,
            normal_waiting: AtomicUsize::new(0),
            normal_went: Notify::new(),
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
    }

    /// Takes `cost` bytes if the bucket has room for them now; else how
    /// long until it will.
    fn try_take(&self, cost: u64, now: Instant) -> Option<Duration> {
        let wire = self.conn.stats().udp_tx.bytes;
        let mut b = lock(&self.bucket);
        self.drain(&mut b, wire, now);
        let allowance = self.allowance();
        if b.level + cost as f64 > allowance && b.level > 0.0 {
            let excess = b.level + cost as f64 - allowance;
            return Some(Duration::from_secs_f64(excess / self.rate as f64).max(Duration::from_millis(1)));
        }
        b.level += cost as f64;
        b.pending = (b.pending + cost).min(MAX_PENDING);
        None
    }

    /// Brings the bucket up to `now`: bytes that went on the wire since it
    /// was last looked at come in (less pieces already counted), the
    /// declared rate goes out.
    fn drain(&self, b: &mut Bucket, wire: u64, now: Instant) {
        let sent = wire.saturating_sub(b.wire);
        b.wire = b.wire.max(wire);
        let seen = sent.min(b.pending);
        b.pending -= seen;
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.at = now;
        b.level = (b.level + (sent - seen) as f64 - elapsed * self.rate as f64).max(0.0);
    }
}
