//! Origin signatures checked off the driver: a stage between the links
//! and the driver that decodes frames and checks the signatures of the
//! envelopes they carry in batches, on as many threads as the machine
//! has cores, while the driver handles and commits the turn before.
//!
//! ```text
//!   links ──LinkEvent──> verify stage ──Checked──> driver ──> Core::handle_decoded_frame
//!                         │ decode, group by origin key
//!                         └ ed25519 batch check on blocking threads
//! ```
//!
//! What is ready (up to [`BATCH`] frames) is decoded; each carried
//! envelope whose origin key the [`SharedKeyring`] holds joins the batch,
//! checked against the origin's newest key with ed25519-dalek's
//! `verify_batch` (one multi-scalar multiplication for the lot, about a
//! third of the cost of checking each), split over the cores. A batch
//! that fails is checked one by one with the keyring (ring, every key of
//! the origin, as the core checks), so one bad signature costs its
//! batch a second pass and refuses only itself. Each frame goes on to the
//! driver in the order it came, marked [`Signature::Holds`] when it
//! passed, else [`Signature::Unchecked`]: the core then checks it itself
//! (an unknown origin, a key it asks for, a forgery it refuses with its
//! reason). Undecodable bytes go on as they came, for the core to refuse.
//!
//! Batch and single checks differ only on signatures no honest signer
//! makes: the batch equation is the cofactored one, so a signature its
//! key's own holder crafted with a small-order component may pass here
//! and fail the single check. It cannot make a signature for a key its
//! maker does not hold.
//!
//! Never decides anything about a frame: the core does. Never reorders a
//! peer's frames, links going up and down included.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use ed25519_dalek::{Signature as DalekSignature, VerifyingKey};
use liandong_dispatch::codec::{decode_frame, signed_bytes};
use liandong_dispatch::{Ed25519Keyring, Frame, Signature, SignatureCheck, SignatureError};
use liandong_topology::NodeId;
use tokio::sync::mpsc;

use crate::transport::{InHand, LinkEvent};

/// Most frames decoded and checked together.
pub const BATCH: usize = 512;
/// Fewer signatures than this are checked on the stage's own task: a
/// thread hand-off would cost more than it saves.
const SPREAD_FROM: usize = 32;

/// The keys every core of this node checks origins with, shared with the
/// verify stage: what a core learns, the stage knows at its next batch.
#[derive(Clone, Default)]
pub struct SharedKeyring(Arc<RwLock<Keys>>);

#[derive(Default)]
struct Keys {
    ring: Ed25519Keyring,
    /// Each origin's newest key, decompressed once for the batch check.
    newest: HashMap<NodeId, VerifyingKey>,
}

impl SharedKeyring {
    pub fn new(ring: Ed25519Keyring) -> SharedKeyring {
        let newest = ring
            .newest()
            .filter_map(|(node, key)| Some((node.clone(), decompress(key)?)))
            .collect();
        SharedKeyring(Arc::new(RwLock::new(Keys { ring, newest })))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Keys> {
        self.0.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Keys> {
        self.0.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `public_key` is one of `node`'s keys.
    pub fn holds(&self, node: &NodeId, public_key: &[u8]) -> bool {
        self.read().ring.holds(node, public_key)
    }

    /// Holds `public_key` as one of `node`'s keys (once); the newest.
    pub fn insert(&self, node: NodeId, public_key: Vec<u8>) {
        let mut keys = self.write();
        if let Some(key) = decompress(&public_key) {
            keys.newest.insert(node.clone(), key);
        }
        keys.ring.insert(node, public_key);
    }

    /// The newest key of `node` the batch check uses.
    fn newest(&self, node: &NodeId) -> Option<VerifyingKey> {
        self.read().newest.get(node).copied()
    }
}

/// A 32-byte Ed25519 public key as the batch check takes it.
fn decompress(public_key: &[u8]) -> Option<VerifyingKey> {
    let bytes = <[u8; 32]>::try_from(public_key).ok()?;
    VerifyingKey::from_bytes(&bytes).ok()
}

impl SignatureCheck for SharedKeyring {
    fn verify(&self, origin: &NodeId, message: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
        self.read().ring.verify(origin, message, signature)
    }

    fn knows(&self, origin: &NodeId) -> bool {
        self.read().ring.knows(origin)
    }

    fn learn(&mut self, origin: NodeId, key: Vec<u8>) -> Result<(), SignatureError> {
        // The ring's own check of the key (its length) first.
        Ed25519Keyring::default().learn(origin.clone(), key.clone())?;
        self.insert(origin, key);
        Ok(())
    }
}

/// What the stage hands the driver, in the order the links gave it.
// Frames are nearly all of it: boxing them would cost an allocation each.
#[allow(clippy::large_enum_variant)]
pub enum Checked {
    /// A link came up, went down, or was refused.
    Link(LinkEvent),
    /// A frame, decoded, and what was found of its signature.
    Frame {
        peer: NodeId,
        frame: Frame,
        signature: Signature,
        held: InHand,
    },
    /// Bytes that do not decode: the core refuses them with the reason.
    Undecodable { peer: NodeId, bytes: Vec<u8>, held: InHand },
}

/// Starts the stage: link events in, checked ones out (bounded by
/// `queue`, so a slow driver slows the stage and then the links).
pub fn start(keys: SharedKeyring, mut links: mpsc::Receiver<LinkEvent>, queue: usize) -> mpsc::Receiver<Checked> {
    let (tx, rx) = mpsc::channel(queue);
    tokio::spawn(async move {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut events = Vec::with_capacity(BATCH);
        while links.recv_many(&mut events, BATCH).await > 0 {
            let checked = check(&keys, std::mem::take(&mut events), cores).await;
            for c in checked {
                if tx.send(c).await.is_err() {
                    return;
                }
            }
        }
    });
    rx
}

/// One signature to check: its place in the batch, the key, the signed
/// bytes and the signature.
struct Job {
    at: usize,
    origin: NodeId,
    key: VerifyingKey,
    message: Vec<u8>,
    signature: DalekSignature,
}

/// Decodes `events`' frames and checks the signatures it can.
async fn check(keys: &SharedKeyring, events: Vec<LinkEvent>, cores: usize) -> Vec<Checked> {
    let mut out = Vec::with_capacity(events.len());
    let mut jobs = Vec::new();
    for ev in events {
        let LinkEvent::Frame { peer, bytes, held } = ev else {
            out.push(Checked::Link(ev));
            continue;
        };
        match decode_frame(&bytes) {
            Ok(frame) => {
                if let Frame::Carry(carry) = &frame
                    && let Some(key) = keys.newest(&carry.envelope.origin)
                    && let Ok(signature) = DalekSignature::from_slice(&carry.envelope.signature)
                {
                    jobs.push(Job {
                        at: out.len(),
                        origin: carry.envelope.origin.clone(),
                        key,
                        message: signed_bytes(&carry.envelope),
                        signature,
                    });
                }
                out.push(Checked::Frame {
                    peer,
                    frame,
                    signature: Signature::Unchecked,
                    held,
                });
            }
            Err(_) => out.push(Checked::Undecodable { peer, bytes, held }),
        }
    }
    for at in passed(keys, jobs, cores).await {
        if let Checked::Frame { signature, .. } = &mut out[at] {
            *signature = Signature::Holds;
        }
    }
    out
}

/// The places of the jobs whose signature holds: the batch split over
/// the cores when it is worth a thread.
async fn passed(keys: &SharedKeyring, jobs: Vec<Job>, cores: usize) -> Vec<usize> {
    if jobs.len() < SPREAD_FROM || cores < 2 {
        return verify_chunk(keys, &jobs);
    }
    let size = jobs.len().div_ceil(cores);
    let mut chunks = Vec::with_capacity(cores);
    let mut jobs = jobs;
    while jobs.len() > size {
        let rest = jobs.split_off(size);
        chunks.push(jobs);
        jobs = rest;
    }
    chunks.push(jobs);
    let mut tasks = Vec::with_capacity(chunks.len());
    for chunk in chunks {
        let keys = keys.clone();
        tasks.push(tokio::task::spawn_blocking(move || verify_chunk(&keys, &chunk)));
    }
    let mut held = Vec::new();
    for t in tasks {
        // A panicked check holds nothing: the core checks those itself.
        if let Ok(mut h) = t.await {
            held.append(&mut h);
        }
    }
    held
}

/// One batch check for `jobs`; if it fails, each alone with the keyring.
fn verify_chunk(keys: &SharedKeyring, jobs: &[Job]) -> Vec<usize> {
    if jobs.is_empty() {
        return Vec::new();
    }
    let messages: Vec<&[u8]> = jobs.iter().map(|j| j.message.as_slice()).collect();
    let signatures: Vec<DalekSignature> = jobs.iter().map(|j| j.signature).collect();
    let verifying: Vec<VerifyingKey> = jobs.iter().map(|j| j.key).collect();
    if ed25519_dalek::verify_batch(&messages, &signatures, &verifying).is_ok() {
        return jobs.iter().map(|j| j.at).collect();
    }
    jobs.iter()
        .filter(|j| keys.verify(&j.origin, &j.message, &j.signature.to_bytes()).is_ok())
        .map(|j| j.at)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use liandong_dispatch::codec::encode_frame;
    use liandong_dispatch::sign::sign_envelope;
    use liandong_dispatch::wire::{Carry, DeadLetter, Kind};
    use liandong_dispatch::{Body, Ed25519Signer, Envelope, EnvelopeId, Mode, Signer, Timestamp};
    use ring::rand::SystemRandom;
    use ring::signature::Ed25519KeyPair;

    use crate::transport::InHand;

    fn id(s: &str) -> NodeId {
        NodeId::parse(s).unwrap()
    }

    fn signer() -> Ed25519Signer {
        let der = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        Ed25519Signer::from_pkcs8(der.as_ref()).unwrap()
    }

    /// A carried envelope from `origin` signed by `by`, as frame bytes.
    fn frame(origin: &NodeId, by: &Ed25519Signer, n: u128) -> Vec<u8> {
        let mut envelope = Envelope {
            id: EnvelopeId(n),
            origin: origin.clone(),
            created: Timestamp(1),
            expires: Timestamp(2),
            mode: Mode::Exercise,
            body: Body::DeadLetter(DeadLetter {
                id: EnvelopeId(n),
                kind: Kind::Report,
                stuck_at: origin.clone(),
                expired: Timestamp(1),
            }),
            signature: Vec::new(),
        };
        sign_envelope(&mut envelope, by);
        encode_frame(&Frame::Carry(Carry {
            envelope,
            to: vec![],
            trace: vec![],
            catch_up: false,
        }))
        .unwrap()
    }

    fn event(peer: &NodeId, bytes: Vec<u8>) -> LinkEvent {
        LinkEvent::Frame {
            peer: peer.clone(),
            bytes,
            held: InHand::untracked(),
        }
    }

    /// What the stage made of each event: 'H' holds, 'U' unchecked,
    /// 'X' undecodable, 'L' a link event.
    fn marks(checked: &[Checked]) -> String {
        checked
            .iter()
            .map(|c| match c {
                Checked::Frame {
                    signature: Signature::Holds,
                    ..
                } => 'H',
                Checked::Frame { .. } => 'U',
                Checked::Undecodable { .. } => 'X',
                Checked::Link(_) => 'L',
            })
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_marks_what_holds_and_leaves_the_rest_to_the_core_in_order() {
        let (a, b, stranger) = (id("350102001"), id("350102002"), id("350102003"));
        let (sa, sb, ss) = (signer(), signer(), signer());
        let mut ring = Ed25519Keyring::default();
        ring.insert(a.clone(), sa.public_key());
        // Known at start: the stage must hold it from the keyring it began with.
        let keys = SharedKeyring::new(ring);
        // Learned later, as a core learns a key: the stage knows it too.
        let mut learner = keys.clone();
        learner.learn(b.clone(), sb.public_key()).unwrap();

        for size in [3, 40, 200] {
            let mut events = vec![LinkEvent::Up { peer: a.clone() }];
            for n in 0..size {
                events.push(event(&a, frame(&a, &sa, n)));
                events.push(event(&b, frame(&b, &sb, n + 1000)));
            }
            // A forgery (b's name, a's key), an origin without a key, garbage.
            events.push(event(&b, frame(&b, &sa, 7)));
            events.push(event(&stranger, frame(&stranger, &ss, 8)));
            events.push(event(&a, vec![0xff; 3]));
            let checked = check(&keys, events, 2).await;
            let want = format!("L{}UUX", "HH".repeat(size as usize));
            assert_eq!(marks(&checked), want, "batch of {size} pairs");
            // In the order they came: a's frames keep their ids in sequence.
            let ids: Vec<u128> = checked
                .iter()
                .filter_map(|c| match c {
                    Checked::Frame {
                        peer,
                        frame: Frame::Carry(c),
                        ..
                    } if *peer == a => Some(c.envelope.id.0),
                    _ => None,
                })
                .collect();
            assert_eq!(ids, (0..size).collect::<Vec<_>>());
        }
    }

    #[test]
    fn the_shared_keyring_checks_as_the_core_checks() {
        let a = id("350102001");
        let (old, new) = (signer(), signer());
        let mut keys = SharedKeyring::default();
        keys.learn(a.clone(), old.public_key()).unwrap();
        keys.learn(a.clone(), new.public_key()).unwrap();
        // Both keys check, as the keyring checks a renewed certificate's signer.
        assert!(keys.verify(&a, b"m", &old.sign(b"m")).is_ok());
        assert!(keys.verify(&a, b"m", &new.sign(b"m")).is_ok());
        assert!(matches!(
            keys.learn(a.clone(), vec![0; 5]),
            Err(SignatureError::BadKey(_))
        ));
        assert!(keys.holds(&a, &new.public_key()));
    }
}
