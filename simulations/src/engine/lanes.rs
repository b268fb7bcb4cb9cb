//! Lanes on a link, the way the live transport carries them: packets at
//! the link's bandwidth, per direction of a connection, in lane priority
//! Control > Urgent > Normal > Bulk; on a declared link paced, compressed
//! and with urgent copies, as `node/src/transport` does it. `pieces` cuts
//! a lane's frames into packets and puts them back together; this file
//! decides when each packet goes and what becomes of it.
//!
//! # Which links
//! A link that is capped (`bandwidth_kbps`), `reliable`, or whose class
//! the topology declares (`[links.<level>] declare = true`: a rate, and
//! perhaps urgent copies) comes here. Any other link never does:
//! `effects::transmit` keeps the older direct model for it (one loss,
//! duplication and delay draw per frame, no size), draw for draw, so
//! those runs replay as they did.
//!
//! # The link
//! Each direction has a bottleneck: a FIFO at `bandwidth_kbps` (none if
//! 0). A packet handed to it starts when the packets ahead of it are
//! through and arrives `latency` (plus jitter) after its last bit left,
//! each packet its stream bytes plus [`OVERHEAD`] (header, tag, frame
//! header). (The live bench's chaos proxy times its delay from a
//! datagram's first bit, so there a packet arrives up to its own
//! serialisation sooner: 140 ms for a full one at 64 kbit/s.) Its buffer holds at most [`MAX_BACKLOG`] of wire time: a
//! packet that would wait longer is dropped, as a full router queue (and
//! the live bench's chaos proxy, whose bound this is) drops it.
//!
//! Loss and duplication are drawn per packet as it goes: loss with the
//! link's loss and any lossy fault's; a duplicated packet arrives twice,
//! each copy with its own jitter, taking the bottleneck once.
//!
//! # Who sends what, when
//! On a **declared** link (the class has a rate), as the live pacer:
//! - Control and Urgent frames go at once, whole (cut into packets of
//!   [`PIECE`] stream bytes if larger), never waiting for the pacer;
//! - Normal and Bulk frames go as compressed batches (`pieces`) cut into
//!   pieces of at most [`PIECE`] bytes; a piece goes when the pacer's
//!   bucket (every byte this direction put on the wire: pieces,
//!   control, urgent, copies, retransmissions, draining at the declared
//!   rate) holds, with the piece, at most [`QUEUE`] of the rate (and at
//!   least two pieces' worth): the bottleneck queue an urgent frame meets
//!   is that long at most. Normal pieces go before Bulk pieces; a piece
//!   handed to the bottleneck is not taken back, but control and urgent
//!   packets go between pieces;
//! - lost packets are sent again at once when the loss is found (QUIC's
//!   window does not bind on a declared link), counted by the pacer.
//!
//! On an **undeclared** capped or `reliable` link, QUIC decides: one
//! packet at a time when the bottleneck is free, the next taken in strict
//! lane priority (a lane's lost packets before its new data), frames as
//! they are, in packets of at most [`PIECE`] stream bytes. A large frame
//! is many packets; a higher lane's packets go between them.
//!
//! A frame is taken from its lane's queue in the same millisecond it was
//! queued, after the core's other effects of that moment (a `Pace` event
//! at the same time, queued after them), so frames a core sends together
//! share a unit, as a live lane writer takes what is queued.
//!
//! # Loss and order
//! - `reliable = true` (QUIC streams): a lost packet is sent again
//!   [`RETRANSMIT_RTTS`] round trips of fixed latency (2 × `latency`)
//!   after its last bit left: a round trip for the acks of later packets
//!   to reveal it, half of one for QUIC's time threshold and probe slack
//!   (between 1.125 and 1.5 on the live link). A lane's frames reach the
//!   core in order, each once all its bytes have (`pieces::LaneRx`): a
//!   lost packet holds back its own lane's later frames and no other
//!   lane's; a duplicated packet is dropped below the core.
//! - `reliable = false`: a frame any of whose packets is lost is gone
//!   (the cores' own retries recover it); it arrives when its last packet
//!   does, twice if the packet that ends it was duplicated.
//!
//! # Urgent copies and dedup
//! On a link whose class declares `urgent_copies`, an Urgent frame that
//! fits in one datagram ([`MAX_DATAGRAM`]) also goes as that many
//! datagrams at once, each its own packet padded past half of one (so no
//! two share a packet), ahead of the frame's stream packet; each is lost
//! or not alone, never retransmitted, never held back by the stream; the
//! first to arrive counts and the core drops the rest as duplicates.
//!
//! A frame queued again while an identical copy still waits (on its lane
//! or in a unit not wholly written) is not queued twice and gets no
//! copies: the live transport's dedup, by the same fingerprint of bytes.
//!
//! # Tallies
//! `frames_sent` counts every frame and copy queued once; `frames_lost`
//! every packet or copy lost on the wire or dropped at a full bottleneck
//! (a retransmitted packet may be lost again) and every frame a full
//! lane refused.
//!
//! # Bounds
//! Per direction: [`pieces::LANE_QUEUE`] frames waiting per lane (past it
//! a frame is refused and counted lost; the core's retry sends it again,
//! as the live transport's full lane queue does); fingerprints for the
//! dedup at most those frames and the ones in units being cut; the
//! bottleneck at most [`MAX_BACKLOG`] of wire time; lost packets and
//! early arrivals at most the packets in flight (early ones asserted in
//! `pieces`); one `Pace` event queued at a time.

use std::collections::HashSet;
use std::time::Duration;

use liandong_dispatch::Lane;

use super::pieces::{self, LaneRx, LaneTx, OVERHEAD, PIECE, PREFIX, Packet};
use super::*;

/// Largest datagram payload assumed for urgent copies, bytes.
pub(super) const MAX_DATAGRAM: usize = 1400;
/// A lost stream packet goes again this many round trips after it left.
const RETRANSMIT_RTTS: f64 = 1.5;
/// How much of the declared rate, as time, the pacer lets the bottleneck
/// hold with a new piece in it (the live `pace::QUEUE`).
const QUEUE: Duration = Duration::from_millis(250);
/// Longest a packet may wait at a bottleneck before it is dropped.
const MAX_BACKLOG: Duration = Duration::from_millis(500);
/// Bucket levels are in millionths of a byte, so that a rate in bytes per
/// second drains exactly `rate` of them per microsecond.
const MICRO: u64 = 1_000_000;

/// A lane's priority: 0 is served first.
pub(super) fn rank(lane: Lane) -> u8 {
    match lane {
        Lane::Control => 0,
        Lane::Urgent => 1,
        Lane::Normal => 2,
        Lane::Bulk => 3,
    }
}

/// One direction of one connection: the sender's lanes, bottleneck and
/// pacer, and the receiver's lanes. Dropped with its connection (every up
/// and down starts afresh: QUIC streams and their compressors do not
/// outlive their connection).
#[derive(Default)]
pub(super) struct Direction {
    tx: [LaneTx; 4],
    rx: [LaneRx; 4],
    /// When the bottleneck will have sent all it was handed, µs.
    free_at: u64,
    /// The pacer's bucket, millionths of a byte, as of `bucket_at` (µs).
    bucket: u64,
    bucket_at: u64,
    /// The `Pace` event queued for this direction, ms.
    pace_at: Option<u64>,
    /// Fingerprints of the frames queued and not yet wholly written.
    queued: HashSet<u64>,
}

impl Direction {
    /// Brings the bucket to `now` (µs): the declared rate drains it.
    fn drain_bucket(&mut self, now: u64, rate: u64) {
        let out = now.saturating_sub(self.bucket_at).saturating_mul(rate);
        self.bucket = self.bucket.saturating_sub(out);
        self.bucket_at = self.bucket_at.max(now);
    }

    /// How long (µs) until a piece of `bytes` on the wire may go; `None`:
    /// now. Most the bucket may hold with the piece: [`QUEUE`] of the
    /// rate, and at least two full pieces.
    fn pacer_wait(&mut self, now: u64, rate: u64, bytes: usize) -> Option<u64> {
        self.drain_bucket(now, rate);
        let allowance = (rate * QUEUE.as_micros() as u64).max(2 * (PIECE + OVERHEAD) as u64 * MICRO);
        let level = self.bucket + bytes as u64 * MICRO;
        (level > allowance && self.bucket > 0).then(|| (level - allowance).div_ceil(rate).max(1000))
    }
}

/// What a direction's sender reads of its link, once per call.
#[derive(Clone, Copy)]
struct Wire {
    epoch: u32,
    /// Bottleneck, kbit/s (bits per ms); 0: none.
    kbps: u64,
    /// The declared rate, bytes per second: the link is paced.
    paced: Option<u64>,
    latency: u64,
    jitter: f64,
    loss: f64,
    duplicate: f64,
    reliable: bool,
    copies: u8,
}

/// When a packet handed to the bottleneck arrives: its first copy and, if
/// duplicated, its second; `None`: lost or dropped.
type Arrives = Option<(u64, Option<u64>)>;

impl<'a> Sim<'a> {
    fn conn_at(&mut self, from: Ix, to: Ix, child: Ix) -> Option<&mut Conn> {
        if child == u32::MAX {
            self.conns.get_mut(&Self::key(from, to))
        } else {
            self.tree[child as usize].as_mut()
        }
    }

    fn wire(&mut self, from: Ix, to: Ix, child: Ix) -> Option<Wire> {
        let c = self.conn_at(from, to, child).filter(|c| c.up)?;
        let m = c.model;
        Some(Wire {
            epoch: c.epoch,
            kbps: m.bandwidth_kbps,
            paced: c.rate.map(u64::from),
            latency: m.latency.0.as_millis() as u64,
            jitter: m.jitter.map_or(0.0, |j| j.0.as_millis() as f64),
            loss: 1.0 - (1.0 - m.loss) * (1.0 - c.extra_loss),
            duplicate: m.duplicate,
            reliable: m.reliable,
            copies: c.copies,
        })
    }

    /// Runs `f` on the direction `from` → `to`, made at first use. It is
    /// taken out of its connection meanwhile (so `f` may draw and queue
    /// events); `f` must not bring links up or down.
    fn with_dir<R>(
        &mut self,
        from: Ix,
        to: Ix,
        child: Ix,
        f: impl FnOnce(&mut Self, &mut Direction) -> R,
    ) -> Option<R> {
        let mut dirs = self.conn_at(from, to, child)?.lanes.take().unwrap_or_default();
        let r = f(self, &mut dirs[usize::from(from > to)]);
        let c = self.conn_at(from, to, child).expect("still there");
        assert!(c.lanes.is_none(), "a link went up or down under its lanes");
        c.lanes = Some(dirs);
        Some(r)
    }

    /// Queues a frame on its lane (unless an identical copy still waits),
    /// sends its urgent copies, and has the lane served.
    pub(super) fn enqueue(&mut self, from: Ix, to: Ix, child: Ix, lane: Lane, bytes: Vec<u8>) {
        let Some(w) = self.wire(from, to, child) else { return };
        let r = usize::from(rank(lane));
        self.with_dir(from, to, child, |sim, d| {
            let print = pieces::fingerprint(&bytes);
            if d.queued.contains(&print) {
                return;
            }
            if !d.tx[r].has_room() {
                sim.out.frames_lost += 1;
                return;
            }
            d.queued.insert(print);
            if lane == Lane::Urgent && bytes.len() + PREFIX <= MAX_DATAGRAM {
                for _ in 0..w.copies {
                    sim.send_copy(d, &w, from, to, child, &bytes);
                }
            }
            d.tx[r].push(print, bytes);
            sim.out.frames_sent += 1;
            let now = sim.now;
            sim.schedule_pace(d, &w, now, from, to, child);
        });
    }

    /// An urgent copy: one datagram, padded past half of one.
    fn send_copy(&mut self, d: &mut Direction, w: &Wire, from: Ix, to: Ix, child: Ix, bytes: &[u8]) {
        let size = (bytes.len() + PREFIX).max(MAX_DATAGRAM / 2 + 1) + OVERHEAD;
        self.out.frames_sent += 1;
        let (_, arrives) = self.put(d, w, size);
        let Some((first, second)) = arrives else {
            self.out.frames_lost += 1;
            return;
        };
        for at in [Some(first), second].into_iter().flatten() {
            let bytes = bytes.to_vec();
            self.push(
                at,
                Ev::Deliver {
                    from,
                    to,
                    child,
                    epoch: w.epoch,
                    bytes,
                },
            );
        }
    }

    /// A `Pace` event: serve the direction's lanes.
    pub(super) fn pace(&mut self, from: Ix, to: Ix, child: Ix, epoch: u32) {
        let Some(w) = self.wire(from, to, child).filter(|w| w.epoch == epoch) else {
            return;
        };
        self.with_dir(from, to, child, |sim, d| {
            if d.pace_at != Some(sim.now) {
                return;
            }
            d.pace_at = None;
            sim.pump(d, &w, from, to, child);
        });
    }

    /// Queues a `Pace` for `at` unless one is queued no later.
    fn schedule_pace(&mut self, d: &mut Direction, w: &Wire, at: u64, from: Ix, to: Ix, child: Ix) {
        if d.pace_at.is_some_and(|t| t <= at) {
            return;
        }
        d.pace_at = Some(at);
        self.push(
            at,
            Ev::Pace {
                from,
                to,
                child,
                epoch: w.epoch,
            },
        );
    }

    /// Sends what may go now, by priority; queues a `Pace` for when the
    /// next packet may go, if one waits.
    fn pump(&mut self, d: &mut Direction, w: &Wire, from: Ix, to: Ix, child: Ix) {
        loop {
            let now = self.now * 1000;
            let lane = if let Some(rate) = w.paced {
                if let Some(l) = (0..2).find(|&l| d.tx[l].has_data()) {
                    l
                } else if let Some(l) = (2..4).find(|&l| d.tx[l].has_data()) {
                    let len = d.tx[l].next_len(true).expect("a lane with data");
                    if let Some(wait) = d.pacer_wait(now, rate, len + OVERHEAD) {
                        let at = (now + wait).div_ceil(1000);
                        self.schedule_pace(d, w, at, from, to, child);
                        return;
                    }
                    l
                } else {
                    return;
                }
            } else {
                if w.kbps > 0 && d.free_at >= now + 1000 {
                    let at = d.free_at / 1000;
                    self.schedule_pace(d, w, at, from, to, child);
                    return;
                }
                match (0..4).find(|&l| d.tx[l].has_data()) {
                    Some(l) => l,
                    None => return,
                }
            };
            let packet = match d.tx[lane].retx.pop_front() {
                Some(p) => p,
                None => {
                    let cut = d.tx[lane].cut(lane as u8, w.paced.is_some() && lane >= 2);
                    for print in &cut.written {
                        d.queued.remove(print);
                    }
                    Box::new(cut.packet)
                }
            };
            self.send_packet(d, w, from, to, child, packet);
        }
    }

    /// A stream packet onto the wire; what becomes of it.
    fn send_packet(&mut self, d: &mut Direction, w: &Wire, from: Ix, to: Ix, child: Ix, packet: Box<Packet>) {
        let (left, arrives) = self.put(d, w, packet.wire());
        if arrives.is_none() {
            self.out.frames_lost += 1;
        }
        let epoch = w.epoch;
        if !w.reliable {
            let lane = usize::from(packet.lane);
            for (at, bytes) in d.tx[lane].settle(*packet, arrives) {
                self.push(
                    at,
                    Ev::Deliver {
                        from,
                        to,
                        child,
                        epoch,
                        bytes,
                    },
                );
            }
            return;
        }
        match arrives {
            None => {
                let at = left + ((2 * w.latency) as f64 * RETRANSMIT_RTTS) as u64;
                self.push(
                    at.max(self.now + 1),
                    Ev::Retransmit {
                        from,
                        to,
                        child,
                        epoch,
                        packet,
                    },
                );
            }
            Some((first, second)) => {
                if let Some(at) = second {
                    let packet = packet.clone();
                    self.push(
                        at,
                        Ev::Packet {
                            from,
                            to,
                            child,
                            epoch,
                            packet,
                        },
                    );
                }
                self.push(
                    first,
                    Ev::Packet {
                        from,
                        to,
                        child,
                        epoch,
                        packet,
                    },
                );
            }
        }
    }

    /// Hands `size` bytes (one packet) to the bottleneck and draws its
    /// fate. Returns when its last bit left (ms; now if it was dropped at
    /// a full bottleneck) and when it arrives.
    fn put(&mut self, d: &mut Direction, w: &Wire, size: usize) -> (u64, Arrives) {
        let now = self.now * 1000;
        if let Some(rate) = w.paced {
            d.drain_bucket(now, rate);
            d.bucket += size as u64 * MICRO;
        }
        let mut left = now;
        if w.kbps > 0 {
            let start = d.free_at.max(now);
            if start - now > MAX_BACKLOG.as_micros() as u64 {
                return (self.now, None);
            }
            left = start + (size as u64 * 8000).div_ceil(w.kbps);
            d.free_at = left;
        }
        let left = left.div_ceil(1000);
        if w.loss > 0.0 && self.rng.random_bool(w.loss.clamp(0.0, 1.0)) {
            return (left, None);
        }
        let twice = w.duplicate > 0.0 && self.rng.random_bool(w.duplicate);
        let first = left + w.latency + self.exp(w.jitter);
        let second = twice.then(|| left + w.latency + self.exp(w.jitter));
        (left, Some((first, second)))
    }

    /// A lost stream packet's loss is found: on a paced link QUIC sends it
    /// at once; otherwise it goes first among its lane's packets.
    pub(super) fn retransmit(&mut self, from: Ix, to: Ix, child: Ix, epoch: u32, packet: Box<Packet>) {
        let Some(w) = self.wire(from, to, child).filter(|w| w.epoch == epoch) else {
            return;
        };
        self.with_dir(from, to, child, |sim, d| {
            if w.paced.is_some() {
                sim.send_packet(d, &w, from, to, child, packet);
            } else {
                d.tx[usize::from(packet.lane)].retx.push_back(packet);
                sim.pump(d, &w, from, to, child);
            }
        });
    }

    /// An arrived stream packet (of a live connection): the frames its
    /// lane may hand the core now, in order.
    pub(super) fn arrive(&mut self, from: Ix, to: Ix, child: Ix, packet: Box<Packet>) -> Vec<Vec<u8>> {
        self.with_dir(from, to, child, |_, d| d.rx[usize::from(packet.lane)].take(packet))
            .unwrap_or_default()
    }
}
