//! One established, accepted connection: its peer, its lane queues (one
//! bounded queue per [`Lane`], [`LANE_QUEUE`] frames, drained by the
//! lane's writer, `super::writer`), the pacer of a declared link, and how
//! it was closed. A frame already queued and not yet written is not
//! queued again: a retry of a copy that has not left yet would only cross
//! the link twice. On a link whose class asks for them, each urgent frame
//! also goes as extra copies in QUIC datagrams, one packet each: the
//! first copy to arrive is stored, the core drops the rest as duplicates.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use liandong_certs::Usage;
use liandong_dispatch::wire::Lane;
use liandong_topology::NodeId;
use quinn::{ConnectionError, VarInt};
use rustls_pki_types::CertificateDer;
use tokio::sync::mpsc;

use super::failure::describe;
use super::pace::Pacer;

/// The lanes, highest priority first; a lane's position is its tag on the wire.
pub const LANES: [Lane; 4] = [Lane::Control, Lane::Urgent, Lane::Normal, Lane::Bulk];

/// Frames queued per lane per connection before [`Transport::send`](super::Transport::send) refuses more.
pub const LANE_QUEUE: usize = 4096;

/// A queued frame and its fingerprint (what the queue dedups on).
pub(super) type Queued = (u64, Vec<u8>);

/// One established, accepted connection.
pub(super) struct Link {
    pub(super) generation: u64,
    pub(super) peer: NodeId,
    pub(super) conn: quinn::Connection,
    pub(super) remote: SocketAddr,
    /// How the peer's chain was verified: `Client` if it dialed us.
    pub(super) usage: Usage,
    pub(super) chain: Vec<CertificateDer<'static>>,
    pub(super) lanes: [mpsc::Sender<Queued>; 4],
    /// Fingerprints of the frames queued and not yet wholly written.
    pub(super) queued: Mutex<HashSet<u64>>,
    /// Extra copies of each urgent frame sent as datagrams (the link class's).
    pub(super) urgent_copies: u8,
    /// Paces routine and bulk data on a link with a declared rate.
    pub(super) pacer: Option<Pacer>,
    /// Stream bytes written per lane, for the link's figures.
    pub(super) written: [AtomicU64; 4],
    /// Why this node closed it, if it did.
    pub(super) closing: Mutex<Option<Closing>>,
    /// This node refused the peer: every frame from it is dropped (read
    /// per frame, so not behind the `closing` lock).
    pub(super) refused: AtomicBool,
    /// The peer's share of the driver: frames read and not yet handled.
    pub(super) budget: super::budget::Budget,
}

/// Why this node closed a link.
pub(super) struct Closing {
    pub(super) reason: String,
    /// The peer was refused: report [`LinkEvent::Refused`](super::LinkEvent::Refused) (before `Down`).
    pub(super) refused: bool,
}

impl Link {
    /// Sends `frame` again as `urgent_copies` QUIC datagrams, each padded
    /// past half the largest datagram so that no two share a packet (a
    /// lost packet takes one copy at most). Best effort: a frame too large
    /// for a datagram, or a peer without datagrams, gets its stream copy
    /// only, and the stream is what guarantees delivery.
    pub(super) fn send_copies(&self, frame: &[u8]) {
        let Some(max) = self.conn.max_datagram_size() else {
            return;
        };
        let Ok(len) = u32::try_from(frame.len()) else { return };
        let body = 4 + frame.len();
        if self.urgent_copies == 0 || body > max {
            return;
        }
        let mut datagram = Vec::with_capacity(body.max(max / 2 + 1));
        datagram.extend_from_slice(&len.to_be_bytes());
        datagram.extend_from_slice(frame);
        datagram.resize(body.max(max / 2 + 1).min(max), 0);
        let datagram = bytes::Bytes::from(datagram);
        for _ in 0..self.urgent_copies {
            if self.conn.send_datagram(datagram.clone()).is_err() {
                return;
            }
        }
    }

    /// Closes the connection, remembering the first reason given.
    pub(super) fn close(&self, code: u32, reason: &str) {
        self.close_as(code, reason, false);
    }

    /// Closes the connection because the peer is refused; the refusal is
    /// reported when the connection's end is (so always before its Down).
    pub(super) fn refuse(&self, code: u32, reason: &str) {
        self.close_as(code, reason, true);
    }

    fn close_as(&self, code: u32, reason: &str, refused: bool) {
        if refused {
            self.refused.store(true, Ordering::Relaxed);
        }
        lock(&self.closing).get_or_insert_with(|| Closing {
            reason: reason.to_owned(),
            refused,
        });
        self.conn.close(VarInt::from_u32(code), reason.as_bytes());
    }

    pub(super) fn down_reason(&self, err: &ConnectionError) -> String {
        match (lock(&self.closing).as_ref(), err) {
            (Some(closing), ConnectionError::LocallyClosed) => closing.reason.clone(),
            _ => describe(err),
        }
    }

    /// Refuses the peer now (nothing more from it is passed up) but closes
    /// the connection only once what is queued for it has been written,
    /// and a couple of round trips later, or after `grace`: the document
    /// that revokes a node still reaches it, and through it the centers
    /// below, which learn from it that they must refuse it too.
    pub(super) async fn refuse_after_sending(&self, code: u32, reason: &str, grace: std::time::Duration) {
        self.refused.store(true, Ordering::Relaxed);
        lock(&self.closing).get_or_insert_with(|| Closing {
            reason: reason.to_owned(),
            refused: true,
        });
        let deadline = tokio::time::Instant::now() + grace;
        let mut poll = tokio::time::interval(std::time::Duration::from_millis(20));
        while !lock(&self.queued).is_empty() && tokio::time::Instant::now() < deadline {
            poll.tick().await;
        }
        let acked = self.conn.rtt() * 3;
        let _ = tokio::time::timeout_at(deadline, tokio::time::sleep(acked)).await;
        self.refuse(code, reason);
    }

    /// Whether this node refused the peer (it may still be sending what it
    /// had queued for it): frames from it are dropped.
    pub(super) fn refusing(&self) -> bool {
        self.refused.load(Ordering::Relaxed)
    }

    /// The reason this node refused the peer, if it did.
    pub(super) fn refusal(&self) -> Option<String> {
        lock(&self.closing)
            .as_ref()
            .filter(|c| c.refused)
            .map(|c| c.reason.clone())
    }
}

impl Link {
    /// Queues `frame` on `lane` unless the same frame is queued already
    /// (then it is as good as sent). `Ok(false)`: it was.
    pub(super) fn queue(&self, lane: Lane, frame: Vec<u8>) -> Result<bool, mpsc::error::TrySendError<Vec<u8>>> {
        let print = fingerprint(&frame);
        if !lock(&self.queued).insert(print) {
            return Ok(false);
        }
        match self.lanes[lane_index(lane)].try_send((print, frame)) {
            Ok(()) => Ok(true),
            Err(e) => {
                lock(&self.queued).remove(&print);
                Err(match e {
                    mpsc::error::TrySendError::Full((_, f)) => mpsc::error::TrySendError::Full(f),
                    mpsc::error::TrySendError::Closed((_, f)) => mpsc::error::TrySendError::Closed(f),
                })
            }
        }
    }
}

/// What identifies a frame in a lane's queue: the same bytes are the same
/// copy (a retry), whatever the frame says.
fn fingerprint(frame: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    frame.hash(&mut h);
    h.finish()
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(super) fn lane_index(lane: Lane) -> usize {
    match lane {
        Lane::Control => 0,
        Lane::Urgent => 1,
        Lane::Normal => 2,
        Lane::Bulk => 3,
    }
}
