//! One established, accepted connection and its lanes: per connection,
//! one long-lived unidirectional QUIC stream per [`Lane`], opened lazily
//! (the accepting side's Control stream eagerly: it is the acceptance
//! signal), with stream priorities Control > Urgent > Normal > Bulk. A
//! stream starts with one byte naming its lane, then carries frames, each
//! a `u32` big-endian length and that many bytes. A writer task per lane
//! drains a bounded queue ([`LANE_QUEUE`] frames) into its stream. On a
//! link whose class asks for them, each urgent frame also goes as extra
//! copies in QUIC datagrams, one packet each: the first copy to arrive is
//! stored, the core drops the rest as duplicates.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use liandong_certs::Usage;
use liandong_dispatch::wire::Lane;
use liandong_topology::NodeId;
use quinn::{ConnectionError, SendStream, VarInt};
use rustls_pki_types::CertificateDer;
use tokio::sync::mpsc;

use super::close_code;
use super::failure::describe;

/// The lanes, highest priority first; a lane's position is its tag on the wire.
pub const LANES: [Lane; 4] = [Lane::Control, Lane::Urgent, Lane::Normal, Lane::Bulk];

/// Frames queued per lane per connection before [`Transport::send`](super::Transport::send) refuses more.
pub const LANE_QUEUE: usize = 4096;

/// One established, accepted connection.
pub(super) struct Link {
    pub(super) generation: u64,
    pub(super) peer: NodeId,
    pub(super) conn: quinn::Connection,
    pub(super) remote: SocketAddr,
    /// How the peer's chain was verified: `Client` if it dialed us.
    pub(super) usage: Usage,
    pub(super) chain: Vec<CertificateDer<'static>>,
    pub(super) lanes: [mpsc::Sender<Vec<u8>>; 4],
    /// Extra copies of each urgent frame sent as datagrams (the link class's).
    pub(super) urgent_copies: u8,
    /// Why this node closed it, if it did.
    pub(super) closing: Mutex<Option<Closing>>,
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

    /// The reason this node refused the peer, if it did.
    pub(super) fn refusal(&self) -> Option<String> {
        lock(&self.closing)
            .as_ref()
            .filter(|c| c.refused)
            .map(|c| c.reason.clone())
    }
}

/// Drains one lane's queue into its stream, opened on the first frame (or
/// at once when `eager`: the accepting side's Control stream is its
/// acceptance signal).
pub(super) async fn write_lane(link: Arc<Link>, lane: Lane, mut queue: mpsc::Receiver<Vec<u8>>, eager: bool) {
    let conn = link.conn.clone();
    let work = async {
        let mut stream = if eager {
            Some(open_lane(&conn, lane).await?)
        } else {
            None
        };
        while let Some(frame) = queue.recv().await {
            let stream = match &mut stream {
                Some(stream) => stream,
                None => stream.insert(open_lane(&conn, lane).await?),
            };
            let len = u32::try_from(frame.len()).map_err(|_| format!("frame of {} bytes", frame.len()))?;
            stream.write_all(&len.to_be_bytes()).await.map_err(|e| e.to_string())?;
            stream.write_all(&frame).await.map_err(|e| e.to_string())?;
        }
        Ok::<(), String>(())
    };
    tokio::select! {
        result = work => {
            if let Err(e) = result
                && conn.close_reason().is_none()
            {
                link.close(close_code::STREAM_FAILED, &format!("the {} lane's stream failed: {e}", lane.name()));
            }
        }
        _ = conn.closed() => {}
    }
}

async fn open_lane(conn: &quinn::Connection, lane: Lane) -> Result<SendStream, String> {
    let mut stream = conn.open_uni().await.map_err(|e| e.to_string())?;
    // Only fails on a stream already closed; the write below reports that.
    let _ = stream.set_priority(lane_priority(lane));
    stream.write_all(&[lane_tag(lane)]).await.map_err(|e| e.to_string())?;
    Ok(stream)
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

fn lane_tag(lane: Lane) -> u8 {
    match lane {
        Lane::Control => 0,
        Lane::Urgent => 1,
        Lane::Normal => 2,
        Lane::Bulk => 3,
    }
}

/// QUIC send priority: higher goes first.
fn lane_priority(lane: Lane) -> i32 {
    match lane {
        Lane::Control => 3,
        Lane::Urgent => 2,
        Lane::Normal => 1,
        Lane::Bulk => 0,
    }
}
