//! Lanes on a link, the way the live transport carries them: a frame goes
//! on its [`Lane`], and per direction of a connection one serialisation
//! queue at the link's bandwidth sends strictly by priority, Control >
//! Urgent > Normal > Bulk. A frame waits behind the frames of its own or
//! higher lanes already queued and overtakes lower-lane frames queued but
//! not started; the frame on the wire is never overtaken (non-preemptive,
//! per frame). Within a lane, frames go in the order they came.
//!
//! Loss and duplication are drawn when a frame leaves the queue (a lost
//! frame has spent its share of the link). Then, per link model:
//! - `reliable = false` (the default, and what every older scenario
//!   uses): a lost frame is gone and the cores' own retries recover it;
//! - `reliable = true`: a QUIC stream. A lost frame is retransmitted: it
//!   goes back into the queue, ahead of its lane's later frames, at
//!   [`RETRANSMIT_RTTS`] round trips of fixed latency (2 × `latency`) after
//!   it left: one round trip for the acks of later packets to reveal the
//!   loss, half of one for QUIC's time threshold and probe slack. Each lane
//!   delivers in order: a frame that arrives early waits for its lane's
//!   earlier frames (head-of-line blocking), and a duplicated packet is
//!   dropped below the core, as QUIC drops stream data it already has.
//!
//! On a link whose class declares `urgent_copies` (the topology's
//! `[link.<level>]`, named by the lower end's level), an Urgent-lane
//! frame also goes as that many copies, each its own packet padded past
//! half of [`MAX_DATAGRAM`] (so no two share one), queued on the urgent
//! lane ahead of the frame itself (QUIC packs datagrams before stream
//! data), each lost or not alone, never retransmitted, never held back by
//! the stream: the first copy to arrive counts, the core drops the rest
//! as duplicates. A frame too large for one datagram gets no copies.
//!
//! A link with no bandwidth cap, no `reliable` and no declared copies
//! never comes here: `effects::transmit` keeps the older direct model
//! for it, draw for draw, so those runs replay as they did.
//!
//! Tallies: `frames_sent` counts every frame and copy queued once;
//! `frames_lost` every loss on the wire (a retransmitted frame may be lost
//! again) and every frame a full lane refused.
//!
//! Bounds: at most [`LANE_QUEUE`] frames (and copies) wait per lane and
//! direction, as the live transport's lane queues; past it a frame is
//! dropped (counted lost; the core's retry sends it again). Frames held
//! for in-order delivery are at most the frames of that direction in
//! flight, and asserted below [`MAX_HELD`].

use std::collections::BTreeMap;

use liandong_dispatch::Lane;

use super::*;

/// Frames that may wait per lane and direction (the live `LANE_QUEUE`).
pub(super) const LANE_QUEUE: u32 = 4096;
/// Largest datagram payload assumed for urgent copies, bytes.
pub(super) const MAX_DATAGRAM: usize = 1400;
/// A lost stream frame is queued again this many round trips after it left.
const RETRANSMIT_RTTS: f64 = 1.5;
/// Bound on frames held back for in-order delivery, per direction.
const MAX_HELD: usize = 4 * LANE_QUEUE as usize * 4;
/// Bytes of framing the live transport adds to a frame (its length prefix).
const PREFIX: usize = 4;

/// A lane's priority: 0 is served first.
pub(super) fn rank(lane: Lane) -> u8 {
    match lane {
        Lane::Control => 0,
        Lane::Urgent => 1,
        Lane::Normal => 2,
        Lane::Bulk => 3,
    }
}

/// One frame (or urgent copy) queued or on its way.
pub(super) struct Queued {
    pub lane: u8,
    /// Arrival order on this direction: the tie-break within a lane.
    pub seq: u64,
    /// The frame's place in its lane's stream (`reliable` links), or
    /// `u64::MAX`: delivered as it arrives (copies, unreliable links).
    pub index: u64,
    /// Bytes it takes on the link.
    pub size: usize,
    pub bytes: Vec<u8>,
}

/// One direction of one connection: the sender's queue and the
/// receiver's in-order state. Dropped with its connection (every up and
/// down starts afresh: QUIC streams do not outlive their connection).
#[derive(Default)]
pub(super) struct Direction {
    /// Waiting to be serialised, by (lane, arrival sequence).
    queue: BTreeMap<(u8, u64), Queued>,
    queued: [u32; 4],
    /// A frame is on the wire (its `TxDone` is in the heap).
    sending: bool,
    seq: u64,
    /// Next stream index per lane (sender).
    next_index: [u64; 4],
    /// Next stream index per lane to hand the core (receiver).
    expect: [u64; 4],
    /// Early arrivals waiting for their lane's earlier frames.
    held: BTreeMap<(u8, u64), Vec<u8>>,
}

impl<'a> Sim<'a> {
    fn lanes_mut(&mut self, from: Ix, to: Ix, child: Ix) -> Option<&mut Direction> {
        let c = if child == u32::MAX {
            self.conns.get_mut(&Self::key(from, to))
        } else {
            self.tree[child as usize].as_mut()
        }?;
        let dirs = c.lanes.get_or_insert_with(Default::default);
        Some(&mut dirs[usize::from(from > to)])
    }

    /// Queues a frame (and its urgent copies) on its lane; starts the
    /// link if it is idle.
    pub(super) fn enqueue(&mut self, from: Ix, to: Ix, child: Ix, lane: Lane, bytes: Vec<u8>) {
        let c = self.conn(from, to).expect("transmit checked it");
        let (reliable, copies) = (c.model.reliable, c.copies);
        let r = rank(lane);
        let Some(d) = self.lanes_mut(from, to, child) else {
            return;
        };
        let mut accepted = 0u64;
        let mut dropped = 0u64;
        if lane == Lane::Urgent && bytes.len() + PREFIX <= MAX_DATAGRAM {
            for _ in 0..copies {
                if d.queued[usize::from(r)] >= LANE_QUEUE {
                    dropped += 1;
                    continue;
                }
                d.seq += 1;
                let q = Queued {
                    lane: r,
                    seq: d.seq,
                    index: u64::MAX,
                    size: (bytes.len() + PREFIX).max(MAX_DATAGRAM / 2 + 1),
                    bytes: bytes.clone(),
                };
                d.queue.insert((r, d.seq), q);
                d.queued[usize::from(r)] += 1;
                accepted += 1;
            }
        }
        if d.queued[usize::from(r)] >= LANE_QUEUE {
            dropped += 1;
        } else {
            d.seq += 1;
            let index = if reliable {
                d.next_index[usize::from(r)] += 1;
                d.next_index[usize::from(r)] - 1
            } else {
                u64::MAX
            };
            let q = Queued {
                lane: r,
                seq: d.seq,
                index,
                size: bytes.len() + PREFIX,
                bytes,
            };
            d.queue.insert((r, d.seq), q);
            d.queued[usize::from(r)] += 1;
            accepted += 1;
        }
        let idle = !d.sending;
        self.out.frames_sent += accepted;
        self.out.frames_lost += dropped;
        if idle {
            self.start_next(from, to, child);
        }
    }

    /// Puts the first queued frame on the wire, if any.
    fn start_next(&mut self, from: Ix, to: Ix, child: Ix) {
        let Some(c) = self.conn(from, to) else { return };
        let (kbps, epoch) = (c.model.bandwidth_kbps, c.epoch);
        let Some(d) = self.lanes_mut(from, to, child) else {
            return;
        };
        let Some((_, q)) = d.queue.pop_first() else { return };
        d.queued[usize::from(q.lane)] -= 1;
        d.sending = true;
        // kbps is bits per millisecond; 0: no cap.
        let tx = if kbps > 0 {
            (q.size as u64 * 8).div_ceil(kbps)
        } else {
            0
        };
        let at = self.now + tx;
        self.push(
            at,
            Ev::TxDone {
                from,
                to,
                child,
                epoch,
                frame: q,
            },
        );
    }

    /// A frame has left the queue: lost (and perhaps retransmitted) or on
    /// its way; the next one starts.
    pub(super) fn tx_done(&mut self, from: Ix, to: Ix, child: Ix, epoch: u32, q: Queued) {
        let Some(c) = self.conn(from, to).filter(|c| c.up && c.epoch == epoch) else {
            return;
        };
        let (model, extra) = (c.model, c.extra_loss);
        if let Some(d) = self.lanes_mut(from, to, child) {
            d.sending = false;
        }
        let loss = 1.0 - (1.0 - model.loss) * (1.0 - extra);
        let base = model.latency.0.as_millis() as u64;
        if loss > 0.0 && self.rng.random_bool(loss.clamp(0.0, 1.0)) {
            self.out.frames_lost += 1;
            if q.index != u64::MAX {
                let at = self.now + ((2 * base) as f64 * RETRANSMIT_RTTS) as u64;
                self.push(
                    at.max(self.now + 1),
                    Ev::Retransmit {
                        from,
                        to,
                        child,
                        epoch,
                        frame: q,
                    },
                );
            }
        } else {
            let twice = model.duplicate > 0.0 && self.rng.random_bool(model.duplicate);
            let jitter = model.jitter.map_or(0.0, |j| j.0.as_millis() as f64);
            // A duplicated frame arrives twice, each copy with its own jitter.
            for _ in 0..=usize::from(twice) {
                let at = self.now + base + self.exp(jitter);
                self.push(
                    at,
                    Ev::Deliver {
                        from,
                        to,
                        child,
                        epoch,
                        lane: q.lane,
                        index: q.index,
                        bytes: q.bytes.clone(),
                    },
                );
            }
        }
        self.start_next(from, to, child);
    }

    /// A lost stream frame goes back into its queue, ahead of its lane's
    /// later frames (it keeps its sequence).
    pub(super) fn retransmit(&mut self, from: Ix, to: Ix, child: Ix, epoch: u32, q: Queued) {
        if !self.conn(from, to).is_some_and(|c| c.up && c.epoch == epoch) {
            return;
        }
        let Some(d) = self.lanes_mut(from, to, child) else {
            return;
        };
        d.queued[usize::from(q.lane)] += 1;
        d.queue.insert((q.lane, q.seq), q);
        if !d.sending {
            self.start_next(from, to, child);
        }
    }

    /// What of an arrived frame the receiving core may see now, in its
    /// lane's order: nothing (held, or a duplicate QUIC drops), the frame,
    /// or the frame and the early arrivals it was holding back.
    pub(super) fn in_order(
        &mut self,
        from: Ix,
        to: Ix,
        child: Ix,
        lane: u8,
        index: u64,
        bytes: Vec<u8>,
    ) -> Vec<Vec<u8>> {
        if index == u64::MAX {
            return vec![bytes];
        }
        let Some(d) = self.lanes_mut(from, to, child) else {
            return Vec::new();
        };
        let expect = &mut d.expect[usize::from(lane)];
        if index < *expect {
            return Vec::new();
        }
        if index > *expect {
            d.held.entry((lane, index)).or_insert(bytes);
            assert!(d.held.len() <= MAX_HELD, "in-order hold over its bound");
            return Vec::new();
        }
        *expect += 1;
        let mut out = vec![bytes];
        while let Some(b) = d.held.remove(&(lane, d.expect[usize::from(lane)])) {
            d.expect[usize::from(lane)] += 1;
            out.push(b);
        }
        out
    }
}
