//! The link model of `lanes` and `pieces` on the thin-link chain's
//! village link, frame by frame: frames are put on the link directly and
//! their arrivals read off the event heap, with no core in the loop
//! (cores are set up, then never woken). Times are simulated
//! milliseconds, computed from the link's figures: 64 kbit/s is 8 bytes
//! a millisecond, 300 ms each way.

use std::path::Path;

use liandong_dispatch::Lane;

use super::lanes::MAX_DATAGRAM;
use super::pieces::{OVERHEAD, PIECE, PREFIX};
use super::*;

const LATENCY: u64 = 300;
/// The event that ends a [`Link::run_until`] (no fault has this index).
const END: usize = usize::MAX;

/// The village link: capped at 64 kbit/s, 300 ms each way, no loss;
/// `class` is what else its `[links.village]` says.
fn scenario(class: &str) -> Scenario {
    let text = format!(
        "name = \"lanes\"\nduration = \"10m\"\nsettle = \"1m\"\n[topology]\nfile = \"thin-link/chain.toml\"\n\
         [links.default]\nlatency = \"1ms\"\n[links.village]\nlatency = \"300ms\"\nbandwidth_kbps = 64\n{class}"
    );
    let origin = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/lanes.toml");
    Scenario::parse(&text, &origin).expect("a valid scenario")
}

const DECLARED: &str = "reliable = true\ndeclare = true\nurgent_copies = 1\n";
const UNDECLARED: &str = "reliable = true\n";

/// A simulation of the chain whose village link is idle from `at` on.
struct Link<'a> {
    sim: Sim<'a>,
    village: Ix,
    township: Ix,
    /// Test frames that arrived: (when, where, the frame).
    arrived: Vec<(u64, Ix, Vec<u8>)>,
}

impl<'a> Link<'a> {
    fn new(scenario: &'a Scenario) -> Link<'a> {
        let sim = Sim::new(
            scenario,
            &RunOptions {
                seed: 1,
                planted_bug: None,
            },
        )
        .expect("builds");
        let ix = |id: &str| {
            let id = liandong_topology::NodeId::parse(id).expect("an id");
            sim.topo.ix(&id).expect("in the chain").0
        };
        let (village, township) = (ix("350102001001"), ix("350102001"));
        let mut link = Link {
            sim,
            village,
            township,
            arrived: Vec::new(),
        };
        // The cores' first heartbeats cross, then the link is quiet.
        link.run_until(60_000);
        link.arrived.clear();
        link
    }

    /// Puts a test frame on `lane` from the village (`up`) or the township.
    fn send(&mut self, up: bool, lane: Lane, frame: Vec<u8>) {
        let (from, to) = if up {
            (self.village, self.township)
        } else {
            (self.township, self.village)
        };
        self.sim.enqueue(from, to, self.village, lane, frame);
    }

    /// Runs the link's events (and only those) up to `until`: those
    /// queued for it so far and what they queue in turn before it.
    fn run_until(&mut self, until: u64) {
        let sim = &mut self.sim;
        sim.push(until, Ev::FaultEnd(END));
        while let Some((key, slot)) = sim.heap.pop() {
            let at = (key >> 64) as u64;
            let ev = sim.slab[slot as usize].take().expect("a queued event");
            sim.free.push(slot);
            sim.now = at;
            match ev {
                Ev::FaultEnd(END) => break,
                Ev::Pace { from, to, child, epoch } => sim.pace(from, to, child, epoch),
                Ev::Retransmit {
                    from,
                    to,
                    child,
                    epoch,
                    packet,
                } => sim.retransmit(from, to, child, epoch, packet),
                Ev::Packet {
                    from,
                    to,
                    child,
                    epoch,
                    packet,
                } if sim.live(from, to, child, epoch) => {
                    for f in sim.arrive(from, to, child, packet) {
                        self.arrived.push((at, to, f));
                    }
                }
                Ev::Deliver { to, bytes, .. } => self.arrived.push((at, to, bytes)),
                _ => {}
            }
        }
        self.arrived.retain(|(_, _, f)| f.starts_with(b"TEST"));
    }

    /// When each arrival of the frame tagged `tag` came.
    fn times(&self, tag: &[u8]) -> Vec<u64> {
        self.arrived
            .iter()
            .filter(|(_, _, f)| f[4..].starts_with(tag))
            .map(|(at, _, _)| *at)
            .collect()
    }

    fn conn(&mut self) -> &mut Conn {
        self.sim.tree[self.village as usize].as_mut().expect("the village link")
    }
}

/// A test frame of `len` bytes: `TEST`, `tag`, then bytes that do not
/// compress (`random`) or words that do.
fn frame(tag: &str, len: usize, random: bool) -> Vec<u8> {
    let mut f = b"TEST".to_vec();
    f.extend_from_slice(tag.as_bytes());
    let mut x = 7u64;
    let words = "日常巡查 道路积水 山区村村口 ".as_bytes();
    while f.len() < len {
        x = splitmix(x);
        f.push(if random { x as u8 } else { words[f.len() % words.len()] });
    }
    f
}

/// Serialisation at 64 kbit/s, whole milliseconds rounded up.
fn wire_ms(bytes: usize) -> u64 {
    (bytes as u64).div_ceil(8)
}

#[test]
fn each_packet_pays_its_overhead_and_a_frame_arrives_with_its_last_byte() {
    let s = scenario(UNDECLARED);
    let mut link = Link::new(&s);
    // 2,000 bytes with the prefix: a full packet and 900 bytes.
    link.send(true, Lane::Normal, frame("a", 2000 - PREFIX, true));
    link.run_until(70_000);
    let two = (PIECE + OVERHEAD) + (2000 - PIECE + OVERHEAD);
    assert_eq!(link.times(b"a"), [60_000 + wire_ms(two) + LATENCY]);
}

#[test]
fn an_undeclared_link_sends_urgent_packets_between_a_large_frames_packets() {
    let s = scenario(UNDECLARED);
    let mut link = Link::new(&s);
    link.send(true, Lane::Bulk, frame("bulk", 40_000, true));
    link.run_until(61_000);
    link.send(true, Lane::Urgent, frame("urgent", 300, true));
    link.run_until(90_000);
    // At most the bulk packet on the wire ahead of it, then its own.
    let urgent = link.times(b"urgent");
    let bound = 61_000 + wire_ms(PIECE + OVERHEAD) + wire_ms(300 + PREFIX + OVERHEAD) + LATENCY;
    assert_eq!(urgent.len(), 1);
    assert!(urgent[0] <= bound, "{urgent:?} > {bound}");
    let bulk = link.times(b"bulk");
    let packets = (40_000 + PREFIX).div_ceil(PIECE);
    let bytes = 40_000 + PREFIX + packets * OVERHEAD + 300 + PREFIX + OVERHEAD;
    assert_eq!(bulk, [60_000 + wire_ms(bytes) + LATENCY]);
}

#[test]
fn a_declared_link_paces_bulk_so_urgent_frames_meet_a_short_queue() {
    let s = scenario(DECLARED);
    let mut link = Link::new(&s);
    // 200 kB that do not compress: about 26 s of the link.
    link.send(true, Lane::Bulk, frame("bulk", 200_000, true));
    link.run_until(63_000);
    link.send(true, Lane::Urgent, frame("urgent", 300, true));
    link.run_until(120_000);
    // The copy, then the stream frame: behind at most the pacer's queue
    // (250 ms of the rate, and at least two pieces).
    let queue = wire_ms(2 * (PIECE + OVERHEAD));
    let copy = MAX_DATAGRAM / 2 + 1 + OVERHEAD;
    let urgent = link.times(b"urgent");
    assert_eq!(urgent.len(), 2, "the copy and the stream frame");
    assert!(urgent[0] <= 63_000 + queue + wire_ms(copy) + LATENCY, "{urgent:?}");
    assert!(urgent[1] <= 63_000 + queue + wire_ms(copy + 300 + PREFIX + OVERHEAD) + LATENCY + 1);
    let bulk = link.times(b"bulk");
    assert_eq!(bulk.len(), 1);
    assert!(bulk[0] > urgent[1] + 20_000, "{bulk:?}");
    // The pacer keeps the link busy: the bulk frame's bytes (a little
    // over 200 kB: stored blocks), its packets' overhead and the urgent
    // ones, at the rate, within a few ms of rounding per piece.
    let least = 60_000 + wire_ms(200_000 + 182 * OVERHEAD + copy + 300 + OVERHEAD) + LATENCY;
    assert!(bulk[0] >= least && bulk[0] < least + 400, "{bulk:?} vs {least}");
}

#[test]
fn a_declared_link_compresses_routine_frames_and_an_undeclared_one_does_not() {
    let drain = |class: &str| {
        let s = scenario(class);
        let mut link = Link::new(&s);
        for i in 0..200 {
            link.send(true, Lane::Normal, frame(&format!("r{i:03}"), 300, false));
        }
        link.run_until(200_000);
        assert_eq!(link.arrived.len(), 200);
        let order: Vec<&[u8]> = link.arrived.iter().map(|(_, _, f)| &f[4..8]).collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "in order");
        link.arrived.last().expect("arrived").0 - 60_000
    };
    let (declared, undeclared) = (drain(DECLARED), drain(UNDECLARED));
    // Plain: 200 frames of 304 bytes in packets of 1,100, with overhead.
    let plain: usize = 200 * 304;
    assert_eq!(
        undeclared,
        wire_ms(plain + plain.div_ceil(PIECE) * OVERHEAD) + LATENCY,
        "one unit of frames in full packets"
    );
    assert!(
        declared * 3 < undeclared,
        "declared {declared} ms, undeclared {undeclared} ms"
    );
}

#[test]
fn a_lost_packet_holds_its_own_lane_and_no_other() {
    let s = scenario(DECLARED);
    let mut link = Link::new(&s);
    link.conn().extra_loss = 1.0;
    link.send(true, Lane::Normal, frame("first", 300, true));
    link.run_until(60_000);
    link.conn().extra_loss = 0.0;
    link.send(true, Lane::Normal, frame("second", 300, true));
    link.send(true, Lane::Control, frame("control", 60, true));
    link.run_until(70_000);
    let (first, second, control) = (link.times(b"first"), link.times(b"second"), link.times(b"control"));
    let one = wire_ms(300 + PREFIX + OVERHEAD + 5);
    // Control goes first (behind the lost packet's time on the wire) and
    // is not held; the second frame's packet came long before the first's
    // retransmission and waited for it.
    assert_eq!(control.len(), 1);
    assert!(control[0] < 60_000 + 2 * one + LATENCY, "{control:?}");
    assert_eq!(first.len(), 1);
    assert!(first[0] >= 60_000 + 3 * LATENCY + LATENCY, "retransmitted: {first:?}");
    assert_eq!(second, first, "held behind it, then handed up at once");
    let order: Vec<&[u8]> = link.arrived.iter().map(|(_, _, f)| &f[4..9]).collect();
    let want: [&[u8]; 3] = [b"contr", b"first", b"secon"];
    assert_eq!(order, want);
    assert!(link.sim.out.frames_lost >= 1);
}

#[test]
fn a_frame_queued_again_while_it_waits_goes_once() {
    let s = scenario(DECLARED);
    let mut link = Link::new(&s);
    let sent = link.sim.out.frames_sent;
    let f = frame("twice", 300, true);
    link.send(true, Lane::Normal, f.clone());
    link.send(true, Lane::Normal, f.clone());
    link.run_until(61_000);
    assert_eq!(link.times(b"twice").len(), 1);
    assert_eq!(link.sim.out.frames_sent, sent + 1);
    // Once written it may go again (a retry after a lost hop ack).
    link.send(true, Lane::Normal, f);
    link.run_until(62_000);
    assert_eq!(link.times(b"twice").len(), 2);
}

#[test]
fn urgent_copies_are_their_own_packets_ahead_of_the_stream_frame() {
    let s = scenario(DECLARED);
    let mut link = Link::new(&s);
    link.send(false, Lane::Urgent, frame("u", 300, true));
    link.run_until(61_000);
    let copy = MAX_DATAGRAM / 2 + 1 + OVERHEAD;
    let stream = 300 + PREFIX + OVERHEAD;
    assert_eq!(
        link.times(b"u"),
        [
            60_000 + wire_ms(copy) + LATENCY,
            60_000 + wire_ms(copy + stream) + LATENCY
        ]
    );
    assert!(link.arrived.iter().all(|(_, to, _)| *to == link.village));
    // A frame too large for a datagram goes by the stream alone.
    link.send(false, Lane::Urgent, frame("big", MAX_DATAGRAM, true));
    link.run_until(63_000);
    assert_eq!(link.times(b"big").len(), 1);
}
