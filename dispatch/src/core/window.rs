//! Sending windows on declared links. On a link whose class declares its
//! rate (`[link.village] rate_kbps = 64`), at most the class's `window` of that rate
//! of normal and bulk copies is in flight (sent, not yet hop-acked); the
//! rest waits here, in memory, urgent lanes first, and goes as acks make
//! room. Without it a reconnecting village would hand its whole backlog
//! to the transport at once, and every copy's retry would hand it over
//! again: a thin link spends itself on duplicates while the backlog
//! waits behind them. Urgent copies never wait for a window.
//!
//! A window exists only while the link is up. Down or silent, it is
//! dropped and the copies stay in the outbox as they always do (a silent
//! link still gets its retries, so a node that can send but not hear
//! still gets its reports out); the next up refills it from the outbox.
//! A copy in a window is retried no sooner than ten windows (or the
//! failover threshold, if longer): on a live link the transport delivers
//! it, and an early resend only queues a duplicate behind it, which
//! delays the acks, which brings more resends. Measured on a 64 kbit/s
//! link (before the transport paced declared links itself): with 4 s
//! retries the drain fell to a tenth; with 60 s retries and a 20 s
//! window, seven bytes crossed the link for each byte of backlog, at 0%
//! loss. The window also bounds what the transport's lane queues hold
//! for one link (its pacer hands them to QUIC at the declared rate).
//! (A copy the peer did not store, for a full queue or a missing key,
//! waits as long; a reconnect sends it at once.)
//! When the link comes back up after being down or silent, retries
//! armed before are dropped: everything owed is sent again then anyway,
//! through the window.

use super::*;
use crate::codec::encoded_len;

/// One up, declared link's copies in flight and those waiting for room.
#[derive(Debug, Default)]
pub(super) struct Window {
    bytes: usize,
    /// Copies in flight, and their encoded size.
    sent: HashMap<EnvelopeId, usize>,
    /// Copies waiting for room, urgent lanes first, and their encoded size.
    waiting: BTreeMap<(Lane, EnvelopeId), usize>,
}

impl Window {
    pub(super) fn holds(&self, id: &EnvelopeId) -> bool {
        self.sent.contains_key(id)
    }
}

impl Core {
    /// Bytes the link with `peer` may have in flight; `None` without a
    /// declared rate (no window: every copy goes at once).
    fn window_limit(&self, peer: &NodeId) -> Option<usize> {
        let class = self.topology.link_class(&self.me, peer);
        let rate = class.rate?;
        Some((u128::from(rate) * class.window.as_millis() / 1000) as usize)
    }

    /// The earliest retry of a copy in the window of the link with `peer`:
    /// ten windows, or the failover threshold if that is longer.
    pub(super) fn window_retry(&self, peer: &NodeId) -> Duration {
        let floor = self.topology.link().failover_after;
        (self.topology.link_class(&self.me, peer).window * 10).max(floor)
    }

    /// Sends a queued copy now, or, on an up declared link whose window is
    /// full, keeps it waiting for room.
    pub(super) fn send_or_wait(&mut self, peer: &NodeId, id: EnvelopeId, lane: Lane, now: Timestamp) {
        let windowed = self.link_up(peer) && !matches!(lane, Lane::Control | Lane::Urgent);
        let Some(limit) = self.window_limit(peer).filter(|_| windowed) else {
            self.transmit(peer, id, 0, now);
            return;
        };
        let w = self.windows.entry(peer.clone()).or_default();
        if w.sent.contains_key(&id) {
            return;
        }
        let size = self.store.envelopes.get(&id).map_or(0, |s| encoded_len(&s.envelope));
        // An empty window always takes one copy, however large.
        if w.bytes == 0 || w.bytes + size <= limit {
            w.bytes += size;
            w.sent.insert(id, size);
            self.transmit(peer, id, 0, now);
        } else {
            w.waiting.insert((lane, id), size);
        }
    }

    /// A copy to `peer` is settled (acked or given up): its room goes to
    /// the copies waiting, urgent lanes first.
    pub(super) fn settled(&mut self, peer: &NodeId, id: EnvelopeId, now: Timestamp) {
        let Some(w) = self.windows.get_mut(peer) else { return };
        if let Some(size) = w.sent.remove(&id) {
            w.bytes -= size;
        }
        // Only normal and bulk copies ever wait.
        for lane in [Lane::Normal, Lane::Bulk] {
            w.waiting.remove(&(lane, id));
        }
        self.fill_window(peer, now);
    }

    fn fill_window(&mut self, peer: &NodeId, now: Timestamp) {
        let Some(limit) = self.window_limit(peer) else { return };
        loop {
            let Some(w) = self.windows.get_mut(peer) else { return };
            let Some(((lane, id), size)) = w.waiting.pop_first() else {
                return;
            };
            let owed = self
                .store
                .outbox
                .get(&(peer.clone(), id))
                .is_some_and(|e| !e.acked && !e.gave_up);
            if !owed {
                continue;
            }
            if w.bytes > 0 && w.bytes + size > limit {
                w.waiting.insert((lane, id), size);
                return;
            }
            w.bytes += size;
            w.sent.insert(id, size);
            self.transmit(peer, id, 0, now);
        }
    }

    /// The link with `peer` went down or silent: nothing is in flight on it.
    pub(super) fn drop_window(&mut self, peer: &NodeId) {
        self.windows.remove(peer);
    }
}
