//! How many envelopes per second one [`Core`] handles, against the codec
//! alone.
//!
//! A child core produces Carry frames of reports (as it would send them to
//! its parent); the core under test takes each through `handle_frame`
//! (decode, signature check, dedup, persist, route, deliver, encode of the
//! hop ack and of any forwarded copy), draining `poll_effect` every time.
//! The baseline is `decode_frame` + `encode_frame` of the same frames in
//! the same run. Two flows in the demo federation:
//! - routine reports from a village to its township, which owns them;
//! - severity III reports from a township through its county (the core
//!   under test, which forwards them) to the city.
//!
//! Each with the test signer (a cheap keyed hash) and with real Ed25519,
//! whose verification dominates. Run with `cargo bench -p liandong-dispatch`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use liandong_dispatch::codec::{decode_frame, encode_frame};
use liandong_dispatch::wire::Lane;
use liandong_dispatch::{
    Category, Command, Core, CoreConfig, Ed25519Keyring, Ed25519Signer, Effect, Mode, Report, SignatureCheck, Signer,
    TestKeys, Timestamp,
};
use liandong_topology::{Addressing, NodeId, Preset, Severity, Shape, Topology, generate};
use ring::rand::SystemRandom;
use ring::signature::Ed25519KeyPair;

/// Envelopes per run, and the most time one measurement may take.
const N: usize = 20_000;
const TIME_LIMIT: Duration = Duration::from_secs(4);

const T0: Timestamp = Timestamp(1_800_000_000_000);

fn id(s: &str) -> NodeId {
    NodeId::parse(s).expect("a demo node id")
}

#[derive(Clone, Copy)]
enum Keys {
    Test,
    Ed25519,
}

impl Keys {
    fn name(self) -> &'static str {
        match self {
            Keys::Test => "test keys",
            Keys::Ed25519 => "Ed25519",
        }
    }

    /// Signers for the child and the core under test, and the keys the
    /// cores check with.
    fn make(self, child: &NodeId, me: &NodeId) -> (Box<dyn Signer>, Box<dyn Signer>, Checks) {
        match self {
            Keys::Test => {
                let keys = TestKeys::new(7);
                (
                    Box::new(keys.signer(child)),
                    Box::new(keys.signer(me)),
                    Checks::Test(keys),
                )
            }
            Keys::Ed25519 => {
                let rng = SystemRandom::new();
                let key = || {
                    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).expect("key generation");
                    Ed25519Signer::from_pkcs8(pkcs8.as_ref()).expect("a fresh PKCS#8 key")
                };
                let (c, m) = (key(), key());
                let mut ring = Ed25519Keyring::default();
                ring.insert(child.clone(), c.public_key());
                ring.insert(me.clone(), m.public_key());
                (Box::new(c), Box::new(m), Checks::Ed25519(ring))
            }
        }
    }
}

/// The public keys every core of a run checks with (each core owns its
/// check).
enum Checks {
    Test(TestKeys),
    Ed25519(Ed25519Keyring),
}

impl Checks {
    fn check(&self) -> Box<dyn SignatureCheck> {
        match self {
            Checks::Test(keys) => keys.check(),
            Checks::Ed25519(ring) => Box::new(ring.clone()),
        }
    }
}

struct Flow {
    name: &'static str,
    child: &'static str,
    me: &'static str,
    /// The core under test's parent, connected so forwarded copies are sent.
    parent: Option<&'static str>,
    severity: Severity,
}

const FLOWS: [Flow; 2] = [
    Flow {
        name: "routine report at its owner",
        child: "350102001001",
        me: "350102001",
        parent: None,
        severity: Severity::Routine,
    },
    Flow {
        name: "III report forwarded up",
        child: "350102001",
        me: "350102",
        parent: Some("350100"),
        severity: Severity::III,
    },
];

fn report(k: usize, severity: Severity) -> Report {
    Report {
        severity,
        category: Category::Request,
        title: format!("群众诉求 #{k}"),
        detail: "路灯不亮,夜间出行不便,请尽快维修。".into(),
        place: "五一社区3号楼".into(),
        reporter: "网格员 陈静".into(),
        photos: Vec::new(),
    }
}

/// The frames a child core sends its parent for `N` reports.
fn frames(t: &Arc<Topology>, flow: &Flow, signer: Box<dyn Signer>, check: Box<dyn SignatureCheck>) -> Vec<Vec<u8>> {
    let (child, me) = (id(flow.child), id(flow.me));
    let mut core = Core::new(t.clone(), child.clone(), CoreConfig::default(), signer, check, 1, T0).expect("child");
    core.handle_link(&me, true, T0);
    while core.poll_effect().is_some() {}
    let mut out = Vec::with_capacity(N);
    for k in 0..N {
        let command = Command::Report {
            report: report(k, flow.severity),
            mode: Mode::Exercise,
        };
        core.handle_command(command, T0.plus(Duration::from_millis(k as u64)))
            .expect("report");
        while let Some(effect) = core.poll_effect() {
            if let Effect::Send { peer, frame, .. } = effect
                && peer == me
            {
                out.push(frame);
            }
        }
    }
    assert_eq!(out.len(), N, "one Carry per report");
    out
}

/// Envelopes per second through `handle_frame`, and how many were handled.
fn through_core(
    t: &Arc<Topology>,
    flow: &Flow,
    frames: &[Vec<u8>],
    signer: Box<dyn Signer>,
    check: Box<dyn SignatureCheck>,
) -> (f64, usize) {
    let (child, me) = (id(flow.child), id(flow.me));
    let mut core = Core::new(t.clone(), me, CoreConfig::default(), signer, check, 2, T0).expect("core under test");
    core.handle_link(&child, true, T0);
    if let Some(p) = flow.parent {
        core.handle_link(&id(p), true, T0);
    }
    while core.poll_effect().is_some() {}
    let now = T0.plus(Duration::from_secs(1));
    let (mut acks, mut forwarded, mut done) = (0usize, 0usize, 0usize);
    let start = Instant::now();
    for (k, bytes) in frames.iter().enumerate() {
        core.handle_frame(&child, bytes, now).expect("a good frame");
        while let Some(effect) = core.poll_effect() {
            // Hop acks go back to the child on the control lane; what else
            // goes back to it (the owner's "received" update) is not an ack.
            if let Effect::Send { peer, lane, .. } = &effect {
                if *peer != child {
                    forwarded += 1
                } else if *lane == Lane::Control {
                    acks += 1
                }
            }
            black_box(effect);
        }
        done = k + 1;
        if k % 256 == 255 && start.elapsed() > TIME_LIMIT {
            break;
        }
    }
    let elapsed = start.elapsed();
    assert_eq!(acks, done, "every envelope hop-acked");
    assert_eq!(
        forwarded,
        if flow.parent.is_some() { done } else { 0 },
        "forwarded copies"
    );
    (done as f64 / elapsed.as_secs_f64(), done)
}

/// Envelopes per second through decode + encode alone.
fn through_codec(frames: &[Vec<u8>]) -> f64 {
    let start = Instant::now();
    let mut done = 0usize;
    for (k, bytes) in frames.iter().enumerate() {
        let frame = decode_frame(black_box(bytes)).expect("a good frame");
        black_box(encode_frame(&frame).expect("encodes"));
        done = k + 1;
        if k % 256 == 255 && start.elapsed() > TIME_LIMIT {
            break;
        }
    }
    done as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let t = Arc::new(generate(&Shape::Preset(Preset::Demo), Addressing::default()).expect("demo topology"));
    let wall = Instant::now();
    println!("liandong-dispatch: envelopes per second through one Core::handle_frame (up to {N} per run)");
    println!(
        "{:<30} {:<10} {:>12} {:>14} {:>11} {:>8}",
        "flow", "signature", "core env/s", "codec env/s", "core/codec", "frames"
    );
    for flow in &FLOWS {
        for keys in [Keys::Test, Keys::Ed25519] {
            let (child_signer, my_signer, checks) = keys.make(&id(flow.child), &id(flow.me));
            let frames = frames(&t, flow, child_signer, checks.check());
            // Warm up the codec path, then measure it and the core in the same run.
            through_codec(&frames[..frames.len().min(1000)]);
            let codec = through_codec(&frames);
            let (core, handled) = through_core(&t, flow, &frames, my_signer, checks.check());
            println!(
                "{:<30} {:<10} {:>12.0} {:>14.0} {:>11.3} {:>8}",
                flow.name,
                keys.name(),
                core,
                codec,
                core / codec,
                handled
            );
        }
    }
    println!(
        "(core/codec: the core's rate as a fraction of decode+encode alone; total {:.1}s)",
        wall.elapsed().as_secs_f64()
    );
}
