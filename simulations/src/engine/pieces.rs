//! What one lane of one direction puts in packets, and how the receiving
//! end puts a lane's stream back together: the byte-level half of the
//! link model in `lanes`, with no clock, no randomness and no `Sim`.
//!
//! # Sending: frames, units, packets
//! A frame the core sends waits on its lane ([`LaneTx::push`], at most
//! [`LANE_QUEUE`] frames, the live transport's lane queue). When the lane
//! is next served, what waits is taken as one *unit*, as a live lane
//! writer takes what is queued into one write:
//! - on a paced (declared) link's Normal and Bulk lanes: frames, each with
//!   its `u32` length prefix, while the unit holds fewer than
//!   [`SQUEEZE`] bytes, compressed as one raw DEFLATE batch
//!   (`flate2`, `Compression::fast()`, one compressor per lane and
//!   connection whose dictionary carries over, a sync flush at the end of
//!   the batch: the live `deflate` settings, so a unit is as many bytes as
//!   the live batch would be). The receiver can cut frames out of a
//!   batch only once its flush has arrived, so every frame of a
//!   compressed unit ends, for delivery, at the unit's end;
//! - on every other lane: frames with their prefixes as they are, while
//!   the unit holds fewer than [`BATCH`] bytes (the live unpaced write);
//!   each frame ends at its own last byte.
//!
//! A unit is cut into packets of at most [`PIECE`] bytes of stream data
//! ([`LaneTx::cut`]); a packet never holds bytes of two units. Each
//! packet knows its range of the lane's stream (offsets count from the
//! start of the connection), the frames whose last byte it carries, and
//! how many of those began in an earlier packet. Its size on the wire is
//! its stream bytes and [`OVERHEAD`]. Once a unit's last packet is cut,
//! its frames count as written (`Cut::written`: the live dedup forgets
//! them then).
//!
//! # Receiving
//! - On `reliable` links (QUIC streams) each lane delivers in order
//!   ([`LaneRx::take`]): a packet whose range starts where the lane's
//!   stream is whole up to hands up its frames and those of the early
//!   packets it was holding back; a packet that comes early waits
//!   (head-of-line blocking within the lane only); a range already held
//!   or passed is a duplicate and dropped, as QUIC drops data it has.
//!   Retransmissions keep their packet's range, so ranges never overlap.
//! - On unreliable links there is no stream to repair: a frame is lost if
//!   any packet with bytes of it is lost, and arrives when the last of
//!   those packets does ([`LaneTx::settle`], decided as each packet is
//!   drawn, so the receiver keeps no state).
//!
//! # Bounds
//! [`LANE_QUEUE`] frames waiting per lane; one unit being cut per lane
//! (at most [`BATCH`] bytes and a frame); lost packets waiting to go
//! again per lane (`LaneTx::retx`) are at most the lane's packets in
//! flight; early packets held per lane below [`MAX_EARLY`] (asserted).

use std::collections::{BTreeMap, VecDeque};

use flate2::{Compress, Compression, FlushCompress};
use liandong_topology::LinkClass;

/// Frames that may wait per lane and direction (the live `LANE_QUEUE`).
pub(super) const LANE_QUEUE: usize = 4096;
/// Most stream bytes in one packet (the live pacer's piece).
pub(super) const PIECE: usize = LinkClass::PIECE;
/// A packet's bytes on the wire besides its stream data.
pub(super) const OVERHEAD: usize = LinkClass::PACKET_OVERHEAD;
/// Most frame bytes compressed as one batch on a paced lane.
pub(super) const SQUEEZE: usize = LinkClass::SQUEEZE;
/// Most frame bytes an unpaced lane takes as one unit (the live writer's).
pub(super) const BATCH: usize = 64 * 1024;
/// A frame's length prefix on a stream.
pub(super) const PREFIX: usize = 4;
/// Bound on early packets held back for in-order delivery, per lane.
const MAX_EARLY: usize = 1 << 16;

/// One packet of a lane's stream.
#[derive(Clone)]
pub(super) struct Packet {
    /// The lane's rank (0 Control .. 3 Bulk).
    pub lane: u8,
    /// Its range of the lane's stream, `start..end`.
    pub start: u64,
    pub end: u64,
    /// Frames whose last byte (for delivery) it carries, in order.
    pub frames: Vec<Vec<u8>>,
    /// How many of `frames`, from the front, began in an earlier packet.
    pub inherit: usize,
    /// A frame goes on past its end (into the unit's next packet).
    pub opens: bool,
}

impl Packet {
    /// Bytes it takes on the wire.
    pub fn wire(&self) -> usize {
        (self.end - self.start) as usize + OVERHEAD
    }
}

/// A packet cut from a unit, and the fingerprints of the frames that
/// are now wholly written (the unit's, once its last packet is cut).
pub(super) struct Cut {
    pub packet: Packet,
    pub written: Vec<u64>,
}

/// A frame of a unit: where it starts and ends for delivery, relative to
/// the unit.
struct UnitFrame {
    start: u64,
    end: u64,
    bytes: Vec<u8>,
}

/// What a lane writer took in one go, being cut into packets.
struct Unit {
    /// Stream offset of its first byte.
    start: u64,
    /// Its bytes on the stream (compressed or not).
    len: u64,
    /// How many of them are cut into packets already.
    cut: u64,
    /// Frames not yet handed to a packet, by end.
    frames: VecDeque<UnitFrame>,
    prints: Vec<u64>,
}

/// One lane's sending side.
#[derive(Default)]
pub(super) struct LaneTx {
    /// Frames waiting, with their fingerprints; at most [`LANE_QUEUE`].
    waiting: VecDeque<(u64, Vec<u8>)>,
    unit: Option<Unit>,
    /// Stream offset where the next unit starts.
    offset: u64,
    /// This lane's compressor (paced Normal and Bulk lanes), made at its
    /// first unit and kept for the connection: the dictionary carries over.
    deflater: Option<Compress>,
    /// Lost packets waiting to go again, where the link sends in priority
    /// order itself (an unpaced link); in the order their loss was found.
    pub retx: VecDeque<Box<Packet>>,
    /// Unreliable links: the frame left open by the last packet cut, as
    /// (some packet of it was lost, when its packets so far arrive).
    open: Option<(bool, u64)>,
}

impl LaneTx {
    /// Whether a frame may still wait on this lane.
    pub fn has_room(&self) -> bool {
        self.waiting.len() < LANE_QUEUE
    }

    /// Queues a frame; the caller checked [`LaneTx::has_room`].
    pub fn push(&mut self, print: u64, frame: Vec<u8>) {
        assert!(self.has_room(), "lane queue over its bound");
        self.waiting.push_back((print, frame));
    }

    /// Whether there is anything to send: a lost packet, a unit being
    /// cut, or frames waiting.
    pub fn has_data(&self) -> bool {
        !self.retx.is_empty() || self.unit.is_some() || !self.waiting.is_empty()
    }

    /// Stream bytes of the next new packet (taking a unit if none is being
    /// cut); `None` if nothing waits. `compress`: a paced Normal or Bulk lane.
    pub fn next_len(&mut self, compress: bool) -> Option<usize> {
        if self.unit.is_none() {
            self.take_unit(compress)?;
        }
        let u = self.unit.as_ref()?;
        Some((u.len - u.cut).min(PIECE as u64) as usize)
    }

    /// Cuts the next new packet of at most [`PIECE`] stream bytes. Panics
    /// if nothing waits (check [`LaneTx::has_data`] first).
    pub fn cut(&mut self, lane: u8, compress: bool) -> Cut {
        self.next_len(compress).expect("a lane with data");
        let u = self.unit.as_mut().expect("a unit");
        let (a, b) = (u.cut, (u.cut + PIECE as u64).min(u.len));
        u.cut = b;
        let mut frames = Vec::new();
        let mut inherit = 0;
        while u.frames.front().is_some_and(|f| f.end <= b) {
            let f = u.frames.pop_front().expect("checked");
            if f.start < a {
                inherit += 1;
            }
            frames.push(f.bytes);
        }
        let opens = u.frames.front().is_some_and(|f| f.start < b);
        let packet = Packet {
            lane,
            start: u.start + a,
            end: u.start + b,
            frames,
            inherit,
            opens,
        };
        let mut written = Vec::new();
        if b == u.len {
            written = std::mem::take(&mut u.prints);
            self.unit = None;
        }
        Cut { packet, written }
    }

    /// Takes what waits as the next unit; `None` if nothing does.
    fn take_unit(&mut self, compress: bool) -> Option<()> {
        if self.waiting.is_empty() {
            return None;
        }
        let limit = if compress { SQUEEZE } else { BATCH } as u64;
        let mut frames = VecDeque::new();
        let mut prints = Vec::new();
        let mut plain = 0u64;
        while let Some((print, bytes)) = self.waiting.pop_front() {
            let end = plain + (PREFIX + bytes.len()) as u64;
            frames.push_back(UnitFrame {
                start: plain,
                end,
                bytes,
            });
            prints.push(print);
            plain = end;
            if plain >= limit {
                break;
            }
        }
        let len = if compress {
            let deflater = self
                .deflater
                .get_or_insert_with(|| Compress::new(Compression::fast(), false));
            let len = squeeze(deflater, frames.iter().map(|f| f.bytes.as_slice())).len() as u64;
            // Readable only once the batch's flush is in: each frame spans it all.
            for f in &mut frames {
                (f.start, f.end) = (0, len);
            }
            len
        } else {
            plain
        };
        self.unit = Some(Unit {
            start: self.offset,
            len,
            cut: 0,
            frames,
            prints,
        });
        self.offset += len;
        Some(())
    }

    /// Unreliable links: what a packet's draw means for its frames.
    /// `arrives`: `None` if the packet was lost, else when its first copy
    /// arrives and, if it was duplicated, its second. Returns the frames
    /// to hand up and when (a frame whose end came twice, twice).
    pub fn settle(&mut self, packet: Packet, arrives: Option<(u64, Option<u64>)>) -> Vec<(u64, Vec<u8>)> {
        let lost = arrives.is_none();
        let (first, second) = arrives.unwrap_or((0, None));
        let (was_lost, was_at) = self.open.take().unwrap_or((false, 0));
        let merged = (was_lost || lost, was_at.max(first));
        if packet.opens {
            self.open = Some(if packet.frames.is_empty() {
                merged
            } else {
                (lost, first)
            });
        }
        let mut out = Vec::new();
        for (i, bytes) in packet.frames.into_iter().enumerate() {
            let (gone, at) = if i < packet.inherit { merged } else { (lost, first) };
            if gone {
                continue;
            }
            if let Some(again) = second {
                out.push((at.max(again), bytes.clone()));
            }
            out.push((at, bytes));
        }
        out.sort_by_key(|(at, _)| *at);
        out
    }
}

/// Compresses `frames`, each with its length prefix, as one batch ending
/// in a sync flush, with `deflater`'s dictionary so far.
fn squeeze<'f>(deflater: &mut Compress, frames: impl Iterator<Item = &'f [u8]>) -> Vec<u8> {
    let mut plain = Vec::new();
    for f in frames {
        plain.extend_from_slice(&(f.len() as u32).to_be_bytes());
        plain.extend_from_slice(f);
    }
    let mut out = Vec::with_capacity(plain.len() / 2 + 64);
    let mut read = 0;
    loop {
        let before = deflater.total_in();
        deflater
            .compress_vec(&plain[read..], &mut out, FlushCompress::Sync)
            .expect("raw deflate of bytes in memory does not fail");
        read += (deflater.total_in() - before) as usize;
        // The flush is complete once all input is in and output room is left.
        if read == plain.len() && out.len() < out.capacity() {
            return out;
        }
        out.reserve(out.capacity().max(64));
    }
}

/// One lane's receiving side on a `reliable` link.
#[derive(Default)]
pub(super) struct LaneRx {
    /// The stream is whole up to here.
    next: u64,
    /// Packets that came early, by start.
    early: BTreeMap<u64, Box<Packet>>,
}

impl LaneRx {
    /// An arrived packet; returns the frames the core may see now, in order.
    pub fn take(&mut self, packet: Box<Packet>) -> Vec<Vec<u8>> {
        if packet.start < self.next || self.early.contains_key(&packet.start) {
            return Vec::new();
        }
        if packet.start > self.next {
            self.early.insert(packet.start, packet);
            assert!(self.early.len() <= MAX_EARLY, "early packets over their bound");
            return Vec::new();
        }
        self.next = packet.end;
        let mut out = packet.frames;
        while let Some(p) = self.early.remove(&self.next) {
            self.next = p.end;
            out.extend(p.frames);
        }
        out
    }
}

/// What identifies a frame in a direction's queues: the same bytes are
/// the same copy (a retry), as the live transport's fingerprint.
pub(super) fn fingerprint(frame: &[u8]) -> u64 {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut h = DefaultHasher::new();
    frame.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Decompress, FlushDecompress};

    fn frame(i: usize, len: usize) -> Vec<u8> {
        let text = format!("日常巡查 第{i}报：道路积水 ");
        text.as_bytes().iter().copied().cycle().take(len).collect()
    }

    fn lane(frames: &[Vec<u8>]) -> LaneTx {
        let mut tx = LaneTx::default();
        for (i, f) in frames.iter().enumerate() {
            tx.push(i as u64, f.clone());
        }
        tx
    }

    fn drain(tx: &mut LaneTx, compress: bool) -> Vec<Cut> {
        let mut cuts = Vec::new();
        while tx.has_data() {
            cuts.push(tx.cut(2, compress));
        }
        cuts
    }

    #[test]
    fn plain_units_cut_into_pieces_that_carry_each_frame_at_its_end() {
        let frames: Vec<Vec<u8>> = vec![frame(0, 300), frame(1, 2500), frame(2, 96)];
        let cuts = drain(&mut lane(&frames), false);
        // 4 + 300 + 4 + 2500 + 4 + 96 = 2908 bytes: 1100, 1100, 708.
        let sizes: Vec<u64> = cuts.iter().map(|c| c.packet.end - c.packet.start).collect();
        assert_eq!(sizes, [1100, 1100, 708]);
        assert_eq!(cuts[0].packet.frames, [frames[0].clone()]);
        assert!(cuts[0].packet.opens && cuts[1].packet.opens && !cuts[2].packet.opens);
        assert!(cuts[1].packet.frames.is_empty());
        assert_eq!(cuts[2].packet.frames, [frames[1].clone(), frames[2].clone()]);
        assert_eq!((cuts[0].packet.inherit, cuts[2].packet.inherit), (0, 1));
        assert_eq!(cuts[0].packet.wire(), 1100 + OVERHEAD);
        // Written only when the unit's last packet is cut.
        assert!(cuts[0].written.is_empty() && cuts[1].written.is_empty());
        assert_eq!(cuts[2].written, [0, 1, 2]);
    }

    #[test]
    fn compressed_batches_are_the_live_sizes_and_inflate_to_the_frames() {
        let frames: Vec<Vec<u8>> = (0..40).map(|i| frame(i, 380)).collect();
        let mut tx = lane(&frames);
        let cuts = drain(&mut tx, true);
        // Batches of at least SQUEEZE bytes of frames (12 frames of 384),
        // each delivered whole by its last packet.
        let delivered: Vec<usize> = cuts.iter().map(|c| c.packet.frames.len()).collect();
        assert_eq!(delivered.iter().sum::<usize>(), 40);
        assert_eq!(delivered.iter().filter(|&&n| n > 0).count(), 4, "{delivered:?}");
        assert_eq!(delivered.iter().find(|&&n| n > 0), Some(&12));
        let total: u64 = cuts.iter().map(|c| c.packet.end - c.packet.start).sum();
        let plain = 40 * 384;
        assert!(total * 3 < plain, "{total} bytes for {plain}: alike frames must shrink");
        // The same bytes as a compressor with the live settings makes.
        let mut live = Compress::new(Compression::fast(), false);
        let mut expect = 0;
        for chunk in frames.chunks(12) {
            expect += squeeze(&mut live, chunk.iter().map(Vec::as_slice)).len() as u64;
        }
        assert_eq!(total, expect);
        // And they inflate back to the frames.
        let mut again = Compress::new(Compression::fast(), false);
        let mut stream = Vec::new();
        for chunk in frames.chunks(12) {
            stream.extend(squeeze(&mut again, chunk.iter().map(Vec::as_slice)));
        }
        let mut d = Decompress::new(false);
        let mut out = Vec::with_capacity(plain as usize + 64);
        d.decompress_vec(&stream, &mut out, FlushDecompress::Sync).unwrap();
        assert_eq!(out.len() as u64, plain);
        assert_eq!(&out[4..384], frames[0].as_slice());
    }

    #[test]
    fn the_dictionary_carries_over_from_batch_to_batch() {
        let frames: Vec<Vec<u8>> = (0..24).map(|i| frame(i, 380)).collect();
        let mut carried = lane(&frames);
        let carried: u64 = drain(&mut carried, true)
            .iter()
            .map(|c| c.packet.end - c.packet.start)
            .sum();
        let fresh: u64 = frames
            .chunks(12)
            .map(|chunk| {
                let mut c = Compress::new(Compression::fast(), false);
                squeeze(&mut c, chunk.iter().map(Vec::as_slice)).len() as u64
            })
            .sum();
        assert!(carried < fresh, "carried {carried}, fresh {fresh}");
    }

    #[test]
    fn a_lane_delivers_in_order_and_drops_duplicates() {
        let frames: Vec<Vec<u8>> = (0..5).map(|i| frame(i, 1500)).collect();
        let cuts = drain(&mut lane(&frames), false);
        let packets: Vec<Box<Packet>> = cuts.into_iter().map(|c| Box::new(c.packet)).collect();
        let mut rx = LaneRx::default();
        let mut got = Vec::new();
        // The first packet is lost and comes last; one packet twice.
        for p in packets.iter().skip(1) {
            got.extend(rx.take(p.clone()));
        }
        got.extend(rx.take(packets[3].clone()));
        assert!(got.is_empty(), "held behind the first packet");
        got.extend(rx.take(packets[0].clone()));
        assert_eq!(got, frames);
        assert!(rx.take(packets[0].clone()).is_empty());
        assert!(rx.early.is_empty());
    }

    #[test]
    fn unreliable_frames_are_lost_with_any_of_their_packets() {
        let frames: Vec<Vec<u8>> = vec![frame(0, 300), frame(1, 2500), frame(2, 96)];
        let mut tx = lane(&frames);
        let cuts = drain(&mut tx, false);
        let mut tx = LaneTx::default();
        let mut got = Vec::new();
        // Packet 1 (the middle of frame 1) lost: frames 0 and 2 arrive.
        for (i, c) in cuts.into_iter().enumerate() {
            let arrives = (i != 1).then_some((100 + i as u64 * 10, None));
            got.extend(tx.settle(c.packet, arrives));
        }
        assert_eq!(got, [(100, frames[0].clone()), (120, frames[2].clone())]);
        // None lost, the last packet duplicated: frame 1 at its latest
        // packet, and frames 1 and 2 twice.
        let cuts = drain(&mut lane(&frames), false);
        let mut got = Vec::new();
        for (i, c) in cuts.into_iter().enumerate() {
            let arrives = match i {
                1 => Some((500, None)),
                2 => Some((200, Some(300))),
                _ => Some((100, None)),
            };
            got.extend(tx.settle(c.packet, arrives));
        }
        let times: Vec<u64> = got.iter().map(|(t, _)| *t).collect();
        assert_eq!(times, [100, 200, 300, 500, 500]);
    }

    #[test]
    fn a_full_lane_has_no_room() {
        let mut tx = LaneTx::default();
        for i in 0..LANE_QUEUE {
            assert!(tx.has_room());
            tx.push(i as u64, vec![1]);
        }
        assert!(!tx.has_room());
    }
}
