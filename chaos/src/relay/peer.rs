//! A neighbour of the node under test, played by the bench: the node's
//! real transport (QUIC, mutual TLS with the federation's certificates,
//! one stream per lane, the same frames), with no core behind it.
//!
//! A child sends envelopes signed ahead of time and counts the hop acks;
//! a parent acks every envelope it is carried, as a node does once it
//! has stored it, and counts arrivals. Both answer heartbeats, so the
//! node under test sees a live neighbour.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use liandong_certs::pem::{load_ca_certificate, load_certificates, load_private_key};
use liandong_certs::{CaDir, RevocationList, Revocations, Verifier};
use liandong_dispatch::codec::{decode_frame, encode_frame};
use liandong_dispatch::sign::sign_envelope;
use liandong_dispatch::wire::{Carry, Hop};
use liandong_dispatch::{Body, Category, Ed25519Signer, Envelope, EnvelopeId, Frame, Lane, Mode, Report, Timestamp};
use liandong_node::transport::{LinkEvent, SendError, Transport, TransportConfig};
use liandong_topology::Severity;
use liandong_topology::{NodeId, Topology};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// What a played neighbour saw, when (this process's monotonic clock).
#[derive(Debug, Clone, Copy)]
pub(super) enum Seen {
    /// The node under test acked this envelope: it is durable there.
    Acked(EnvelopeId, Instant),
    /// The node under test carried this envelope here.
    Carried(EnvelopeId, Instant),
    /// The node under test echoed a heartbeat sent at this process's
    /// microsecond `sent` (its turn, without a commit).
    Echo(u64, Instant),
    /// The link to the node under test is up.
    Up,
}

/// One played neighbour: its transport, and what it saw.
pub(super) struct Peer {
    pub id: NodeId,
    pub transport: Transport,
    pub seen: mpsc::UnboundedReceiver<Seen>,
}

impl Peer {
    /// Starts `id`'s transport with its certificate from `certs` (the
    /// federation's certificate directory), listening at its topology
    /// address, and a task that answers heartbeats, acks what it is
    /// carried and reports what it saw.
    pub fn start(certs: &Path, topology: Arc<Topology>, id: &NodeId) -> anyhow::Result<Peer> {
        let dir = CaDir::new(certs);
        let ca = load_ca_certificate(&dir.ca_cert()).map_err(|e| anyhow::anyhow!("{e}"))?;
        let verifier =
            Arc::new(Verifier::new(ca, Revocations::new(RevocationList::new())).map_err(|e| anyhow::anyhow!("{e}"))?);
        let chain = load_certificates(&dir.node_cert(id)).map_err(|e| anyhow::anyhow!("{e}"))?;
        let key = load_private_key(&dir.node_key(id)).map_err(|e| anyhow::anyhow!("{e}"))?;
        let listen = topology
            .get(id)
            .with_context(|| format!("{id} is not in the bench's topology"))?
            .listen;
        let (tx, mut rx) = mpsc::channel(4096);
        let transport = Transport::start(
            TransportConfig {
                topology,
                me: id.clone(),
                listen,
                verifier,
                chain,
                key,
            },
            tx,
        )
        .with_context(|| format!("the bench's transport for {id} at {listen}"))?;
        let (seen_tx, seen) = mpsc::unbounded_channel();
        let link = transport.clone();
        tokio::spawn(async move {
            while let Some(ev) = rx.recv().await {
                let seen = match ev {
                    LinkEvent::Up { .. } => Seen::Up,
                    LinkEvent::Frame { peer, bytes, held } => {
                        let at = Instant::now();
                        drop(held);
                        match decode_frame(&bytes) {
                            Ok(Frame::HopAck { id }) => Seen::Acked(id, at),
                            Ok(Frame::Carry(carry)) => {
                                let id = carry.envelope.id;
                                reply(&link, &peer, &Frame::HopAck { id });
                                Seen::Carried(id, at)
                            }
                            Ok(Frame::HeartbeatEcho { sent }) => Seen::Echo(sent.0, at),
                            Ok(Frame::Heartbeat { sent }) => {
                                reply(&link, &peer, &Frame::HeartbeatEcho { sent });
                                continue;
                            }
                            _ => continue,
                        }
                    }
                    LinkEvent::Down { .. } | LinkEvent::Refused { .. } => continue,
                };
                if seen_tx.send(seen).is_err() {
                    break;
                }
            }
        });
        Ok(Peer {
            id: id.clone(),
            transport,
            seen,
        })
    }

    /// Sends one encoded frame to `to`; `false` when the lane's queue is
    /// full (the caller waits for an ack and tries again).
    pub fn send(&self, to: &NodeId, lane: Lane, frame: &[u8]) -> anyhow::Result<bool> {
        match self.transport.send(to, lane, frame.to_vec()) {
            Ok(()) => Ok(true),
            Err(SendError::QueueFull { .. }) => Ok(false),
            Err(e) => Err(anyhow::anyhow!("{} to {to}: {e}", self.id)),
        }
    }
}

/// A control frame back; a full queue drops it (the node retries the
/// envelope, or sends the next heartbeat).
fn reply(link: &Transport, peer: &NodeId, frame: &Frame) {
    if let Ok(bytes) = encode_frame(frame) {
        let _ = link.send(peer, Lane::Control, bytes);
    }
}

/// The signer of `id`, from its key in `certs`.
pub(super) fn signer(certs: &Path, id: &NodeId) -> anyhow::Result<Ed25519Signer> {
    let dir = CaDir::new(certs);
    let path = dir.node_key(id);
    let key = load_private_key(&path).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ed25519Signer::from_pkcs8(key.secret_der()).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// `count` severity III reports (owned at the city) from `origin`, each
/// signed by it and encoded as the frame that carries it to its parent:
/// (id, frame).
pub(super) fn reports(
    origin: &NodeId,
    signer: &Ed25519Signer,
    to: &NodeId,
    count: usize,
    now: Timestamp,
) -> anyhow::Result<Vec<(EnvelopeId, Vec<u8>)>> {
    let mut out = Vec::with_capacity(count);
    for n in 0..count {
        let id = EnvelopeId(rand::random());
        let mut envelope = Envelope {
            id,
            origin: origin.clone(),
            created: now,
            expires: now.plus(std::time::Duration::from_secs(24 * 3600)),
            mode: Mode::Exercise,
            body: Body::Report(Report {
                severity: Severity::III,
                category: Category::Hazard,
                title: format!("压测上报 {n}"),
                detail: "基准测试：一个节点的持久转发，逐跳确认".into(),
                place: "测试点".into(),
                reporter: "压测".into(),
                photos: Vec::new(),
            }),
            signature: Vec::new(),
        };
        sign_envelope(&mut envelope, signer);
        let frame = Frame::Carry(Carry {
            envelope,
            to: vec![to.clone()],
            trace: vec![Hop {
                node: origin.clone(),
                at: now,
            }],
            catch_up: false,
        });
        out.push((id, encode_frame(&frame).context("encoding a bench report")?));
    }
    Ok(out)
}
