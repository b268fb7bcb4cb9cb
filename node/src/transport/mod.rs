//! Node-to-node links: QUIC (quinn) over mutual TLS 1.3, peer identity
//! checks, one stream per priority lane, size-limited frames.
//!
//! Every center runs one [`Transport`]: a single UDP socket on the
//! topology's listen address that accepts connections from children (and
//! from descendants during skip-level failover) and dials the parent (or an
//! ancestor) when the driver asks with [`Transport::connect`]. Once up, a
//! connection carries traffic both ways.
//!
//! # Who is accepted
//! The TLS layer (the certs crate's verifiers, the ring provider, TLS 1.3,
//! ALPN `liandong/1`, client certificates required, no session resumption)
//! refuses foreign-CA, expired and revoked certificates during the
//! handshake, and a server whose certificate names another node than the
//! one dialed. Then, before any frame is read, the peer's identity is read
//! from its certificate and must be a node (operator certificates belong on
//! the control port), in the topology, and an ancestor or a descendant of
//! this node (the core's `may_link` rule). Anything else is closed with
//! [`close_code::REFUSED`] and the reason, reported as
//! [`LinkEvent::Refused`] and logged. [`Transport::recheck`] re-verifies
//! live connections after the revocation list was reloaded.
//!
//! # Acceptance
//! With TLS 1.3 the client finishes its handshake before the server has
//! checked the client's certificate, so a dialer cannot tell from the
//! handshake alone that it was accepted. The accepting side therefore opens
//! its Control lane stream as soon as it has accepted the peer; the dialer
//! reports [`LinkEvent::Up`] only once the first stream from the peer
//! arrives, and reports the peer's refusal (a TLS alert or an application
//! close) as [`LinkEvent::Refused`] otherwise. So `Up` on either side always
//! means "checked and accepted by both".
//!
//! # Streams and frames
//! Each side opens, per connection, one long-lived unidirectional stream per
//! [`Lane`], lazily (the accepting side's Control stream eagerly, see
//! above), with QUIC stream priorities Control > Urgent > Normal > Bulk. A
//! stream starts with one byte naming its lane (0 Control, 1 Urgent,
//! 2 Normal, 3 Bulk), then carries frames, each a `u32` big-endian length and
//! that many bytes. Lengths are checked against
//! [`liandong_dispatch::codec::MAX_FRAME`] before anything is allocated; a
//! zero or oversized length closes the connection with
//! [`close_code::PROTOCOL`]. Frame contents are not decoded here: the core
//! decodes them and refuses garbage itself.
//!
//! A writer task per lane drains a bounded queue ([`LANE_QUEUE`] frames);
//! [`Transport::send`] never blocks: a full queue or a missing connection is
//! an error, and the core's unacked copies are retried later. A frame
//! already queued and not yet written is taken as sent, not queued twice.
//! Reader tasks await on the bounded event channel, so a slow driver
//! back-pressures QUIC flow control rather than buffering without bound.
//!
//! # Thin links
//! On a link whose class declares its rate (`[link.village] rate_kbps`):
//! QUIC's congestion window never binds and loss is not read as
//! congestion (`rate`); the routine and bulk lanes are compressed
//! (`deflate`, tag bit 0x10) and handed to QUIC in pieces of one packet
//! at the declared rate, normal before bulk, counting every byte the
//! connection sends (`pace`); control and urgent frames never wait, and
//! control frames ride with the next piece when one is due; urgent frames
//! also go as datagram copies if the class asks; the connection's send
//! window bounds what a cut buffers; keep-alives go at least every second,
//! so the acks come back as soon as a cut heals. The measured reasons are
//! in those modules' docs.
//!
//! # Up and down, per peer
//! At most one connection per peer is current. A new connection from a peer
//! that already has one (it restarted) replaces the old one, which is closed
//! with "replaced by a new connection". Events for one peer always alternate
//! `Up`, `Down`, `Up`...: a replacement is reported as `Down` (replaced) then
//! `Up`, and the end of a connection that is no longer current is not
//! reported at all.
//!
//! # Timers
//! From the topology's link settings: keep-alive every heartbeat (at most
//! every second on declared links), idle timeout = failover threshold
//! (bounded to 1 s ..= 10 min), redial backoff from 200 ms doubling up to
//! the heartbeat interval.
//!
//! # Layout
//! Dependencies point one way, up this list:
//! - `close_code`, `event`: the close codes, and what the transport
//!   reports ([`LinkEvent`], [`TransportError`], [`SendError`]).
//! - `addresses`: dial addresses that replace the topology's
//!   ([`DialAddresses`]: the parent's address from the config file).
//! - `failure`: quinn's and rustls's errors in operator words.
//! - `rate`: congestion control on a declared link.
//! - `pace`: the pacer of a declared link's routine and bulk data.
//! - `deflate`: compressing and inflating a lane's stream.
//! - `link`: one accepted connection, its lane queues (deduplicated),
//!   its pacer, the urgent lane's datagram copies.
//! - `writer`: a lane's stream: gathering, compressing, pacing, writing.
//! - `setup`: the configuration, timers, TLS and QUIC setup, the socket.
//! - `shared`: the state the tasks share; a peer going up and down.
//! - `frames`: reading lane tags, size-checked frames, compressed lanes.
//! - `peers`: accepting and dialing, with the peer identity checks.
//! - `redial`: redial with capped backoff.
//! - this file: the [`Transport`] handle.

mod addresses;
mod budget;
pub mod close_code;
pub mod deflate;
mod event;
mod failure;
mod frames;
mod link;
mod pace;
mod peers;
mod rate;
mod redial;
mod setup;
mod shared;
mod writer;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use liandong_dispatch::codec::MAX_FRAME;
use liandong_dispatch::wire::Lane;
use liandong_topology::{NodeId, Topology};
use quinn::VarInt;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

pub use addresses::DialAddresses;
pub use budget::{IN_HAND, InHand};
pub use event::{LinkEvent, SendError, TransportError};
pub use frames::datagram_frame;
pub use link::{LANE_QUEUE, LANES};
pub use setup::{MIN_BACKOFF, TransportConfig};

use link::{Link, lock};
use setup::Timing;
use shared::{Shared, Topologies};

/// How long [`Transport::shutdown`] waits for peers to hear the close.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Longest a refused peer's connection stays open for what was queued for
/// it (see [`Transport::recheck`]); nothing from the peer is taken meanwhile.
pub const REFUSAL_GRACE: Duration = Duration::from_secs(2);

/// How long [`Transport::shutdown`] waits for quinn to release the socket.
const SOCKET_RELEASE: Duration = Duration::from_secs(1);

/// Node-to-node links. Cheap to clone: clones share one endpoint. Call
/// [`Transport::shutdown`] to stop; dropping the last clone without it
/// closes every connection abruptly (no wait for peers to hear it).
#[derive(Clone)]
pub struct Transport {
    shared: Arc<Shared>,
    _owner: Arc<Owner>,
}

/// Held only by [`Transport`] handles (never by its tasks): when the last
/// handle goes, the endpoint closes and the tasks stop.
struct Owner {
    shared: Arc<Shared>,
}

impl Drop for Owner {
    fn drop(&mut self) {
        let shared = &self.shared;
        shared.stop.send_replace(true);
        if let Some(endpoint) = lock(&shared.endpoint).take() {
            endpoint.close(VarInt::from_u32(close_code::SHUTTING_DOWN), b"shutting down");
        }
        lock(&shared.tasks).abort_all();
        lock(&shared.links).clear();
    }
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("me", &self.shared.me)
            .field("local_addr", &self.shared.local_addr)
            .finish()
    }
}

impl Transport {
    /// Binds the UDP socket and starts accepting. Must run inside a tokio
    /// runtime. Events go to `events` (bounded; reader tasks await on it,
    /// which back-pressures QUIC flow control).
    pub fn start(config: TransportConfig, events: mpsc::Sender<LinkEvent>) -> Result<Transport, TransportError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| TransportError::NoRuntime)?;
        let TransportConfig {
            topology,
            me,
            listen,
            verifier,
            chain,
            key,
        } = config;
        if topology.get(&me).is_none() {
            return Err(TransportError::NotInTopology(me));
        }
        setup::check_own_certificate(&me, &chain)?;
        let timing = Timing::from_link(topology.link());
        let (server, client) = setup::quic_configs(&timing, &verifier, chain, key)?;
        let server_config = server.clone();
        let (endpoint, socket, local_addr) = setup::bind(listen, server, &runtime)?;

        let shared = Arc::new(Shared {
            topologies: Mutex::new(Topologies {
                current: topology,
                previous: None,
            }),
            me,
            verifier,
            local_addr,
            timing,
            client: Mutex::new(client),
            server: Mutex::new(server_config),
            events,
            runtime,
            endpoint: Mutex::new(Some(endpoint.clone())),
            socket,
            addresses: DialAddresses::default(),
            links: Mutex::new(HashMap::new()),
            dialing: Mutex::new(HashSet::new()),
            order: tokio::sync::Mutex::new(()),
            next_gen: AtomicU64::new(1),
            stop: watch::Sender::new(false),
            changes: watch::Sender::new(0),
            tasks: Mutex::new(JoinSet::new()),
        });
        let accepting = shared.clone();
        shared.spawn(accepting.accept_loop(endpoint));
        tracing::info!(node = %shared.me, addr = %local_addr, "node transport listening");
        let owner = Arc::new(Owner { shared: shared.clone() });
        Ok(Transport { shared, _owner: owner })
    }

    /// Presents `chain` (leaf first, this node's renewed certificate) and
    /// `key` on every connection from now on, dialed or accepted. Live
    /// connections keep the certificate they were made with; a peer
    /// learns the new one from the next handshake, or sooner from the
    /// core, which offers it to every neighbour.
    pub fn set_identity(
        &self,
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<(), TransportError> {
        let shared = &self.shared;
        setup::check_own_certificate(&shared.me, &chain)?;
        let (server, client) = setup::quic_configs(&shared.timing, &shared.verifier, chain, key)?;
        *lock(&shared.server) = server;
        *lock(&shared.client) = client;
        Ok(())
    }

    /// The bound UDP address.
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr
    }

    /// The addresses that replace peers' topology addresses when dialing;
    /// a change applies from the next dial on.
    pub fn dial_addresses(&self) -> DialAddresses {
        self.shared.addresses.clone()
    }

    /// Keeps a connection to `peer` (the parent, or an ancestor during
    /// failover): dials its topology address (or the one
    /// [`Transport::dial_addresses`] holds for it) with server name
    /// `server_name_for(peer)` and redials with capped backoff whenever it is
    /// down, until shutdown. Idempotent. While a connection with `peer`
    /// exists (in either direction) it does not dial.
    pub fn connect(&self, peer: &NodeId) {
        let shared = &self.shared;
        if shared.stopping() {
            return;
        }
        let Some(node) = shared.topology().get(peer).cloned() else {
            tracing::warn!(peer = %peer, "not dialing node {peer}: it is not in the topology");
            return;
        };
        let addr = node.listen;
        if let Err(reason) = shared.link_allowed(peer) {
            let reporter = shared.clone();
            let peer = peer.clone();
            shared.spawn(async move {
                reporter.report_refusal(Some(peer), addr, reason).await;
            });
            return;
        }
        if !lock(&shared.dialing).insert(peer.clone()) {
            return;
        }
        let dialer = shared.clone();
        shared.spawn(dialer.dial_loop(peer.clone(), addr));
    }

    /// Queues `frame` for `peer` on `lane` without blocking; the same bytes
    /// still queued from an earlier call are taken as this one (a retry of
    /// a copy that has not left). Fails if there is no live connection to
    /// `peer`, the lane's queue is full, or the frame is empty or over
    /// [`MAX_FRAME`].
    pub fn send(&self, peer: &NodeId, lane: Lane, frame: Vec<u8>) -> Result<(), SendError> {
        if frame.is_empty() {
            return Err(SendError::Empty);
        }
        if frame.len() > MAX_FRAME {
            return Err(SendError::TooLarge {
                len: frame.len(),
                max: MAX_FRAME,
            });
        }
        let links = lock(&self.shared.links);
        let Some(link) = links.get(peer).filter(|l| l.conn.close_reason().is_none()) else {
            return Err(SendError::NotConnected(peer.clone()));
        };
        let len = frame.len();
        let copy = (lane == Lane::Urgent).then(|| frame.clone());
        match link.queue(lane, frame) {
            Ok(queued) => {
                if let Some(copy) = copy.filter(|_| queued) {
                    link.send_copies(&copy);
                }
                tracing::trace!(peer = %peer, lane = lane.name(), len, queued, "frame to send");
                Ok(())
            }
            Err(mpsc::error::TrySendError::Full(_)) => Err(SendError::QueueFull {
                peer: peer.clone(),
                lane,
                max: LANE_QUEUE,
            }),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(SendError::NotConnected(peer.clone())),
        }
    }

    /// The certificate (DER) `peer` presented on its live link, as the TLS
    /// layer checked it.
    pub fn peer_certificate(&self, peer: &NodeId) -> Option<Vec<u8>> {
        let links = lock(&self.shared.links);
        links
            .get(peer)
            .and_then(|l| l.chain.first())
            .map(|c| c.as_ref().to_vec())
    }

    /// Whether a connection with `peer` is up.
    pub fn is_connected(&self, peer: &NodeId) -> bool {
        self.shared.is_connected(peer)
    }

    /// Re-verifies every live connection's peer certificate (CA, dates,
    /// revocation list in force now) and refuses those that fail, with the
    /// reason: nothing more from them is taken, and each connection closes
    /// once what was queued for the peer has gone (at most
    /// [`REFUSAL_GRACE`]; so the document that revoked it still goes
    /// down), reported as [`LinkEvent::Refused`] then `Down`. Call it
    /// after reloading the revocation list. Returns how many were refused.
    pub fn recheck(&self) -> usize {
        let shared = &self.shared;
        let links: Vec<Arc<Link>> = lock(&shared.links).values().cloned().collect();
        let now = UnixTime::now();
        let mut closed = 0;
        for link in links {
            let Err(e) = shared.verifier.verify(&link.chain, now, link.usage) else {
                continue;
            };
            let reason = e.to_string();
            tracing::warn!(node = %shared.me, peer = %link.peer, %reason, "link refused; closing once what was queued for it has gone");
            shared.spawn(async move {
                link.refuse_after_sending(close_code::REFUSED, &reason, REFUSAL_GRACE)
                    .await
            });
            closed += 1;
        }
        closed
    }

    /// Runs on a new version of the federation's topology (a federation
    /// document was applied): live links to nodes it refuses are closed
    /// with the reason, each reported as [`LinkEvent::Refused`] then
    /// `Down`, and so are links this node dialed to a node that is no
    /// longer its ancestor; dial loops to such nodes stop. Returns how
    /// many links were closed.
    pub fn set_topology(&self, topology: Arc<Topology>) -> usize {
        let shared = &self.shared;
        {
            let mut t = lock(&shared.topologies);
            let previous = std::mem::replace(&mut t.current, topology);
            t.previous = Some(previous);
        }
        let links: Vec<Arc<Link>> = lock(&shared.links).values().cloned().collect();
        let mut closed = 0;
        for link in links {
            let refused = match shared.link_allowed(&link.peer) {
                Err(reason) => Some(reason),
                Ok(()) if link.usage == liandong_certs::Usage::Server && !shared.dials(&link.peer) => Some(format!(
                    "node {} is no longer an ancestor of node {} in the federation document",
                    link.peer, shared.me
                )),
                Ok(()) => None,
            };
            if let Some(reason) = refused {
                link.refuse(close_code::REFUSED, &reason);
                closed += 1;
            }
        }
        closed
    }

    /// Closes every connection (code [`close_code::SHUTTING_DOWN`], "shutting
    /// down"), stops dialing, waits for the endpoint to be idle (at most
    /// [`SHUTDOWN_GRACE`]) and releases the socket.
    pub async fn shutdown(&self) {
        let shared = &self.shared;
        shared.stop.send_replace(true);
        let endpoint = lock(&shared.endpoint).clone();
        if let Some(endpoint) = &endpoint {
            endpoint.close(VarInt::from_u32(close_code::SHUTTING_DOWN), b"shutting down");
            if tokio::time::timeout(SHUTDOWN_GRACE, endpoint.wait_idle())
                .await
                .is_err()
            {
                tracing::warn!(node = %shared.me, "shutdown: peers did not confirm the close in time");
            }
        }
        // Let the link tasks report Down while the driver may still read events.
        let mut changes = shared.changes.subscribe();
        let _ = tokio::time::timeout(Duration::from_millis(250), async {
            while !lock(&shared.links).is_empty() {
                if changes.changed().await.is_err() {
                    break;
                }
            }
        })
        .await;
        let mut tasks = std::mem::take(&mut *lock(&shared.tasks));
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
        lock(&shared.links).clear();
        lock(&shared.dialing).clear();
        lock(&shared.endpoint).take();
        drop(endpoint);
        // quinn's endpoint and connection drivers hold the socket until they
        // notice they are done; wait (bounded) so the address can be bound
        // again as soon as this returns.
        let released = tokio::time::timeout(SOCKET_RELEASE, async {
            while shared.socket.strong_count() > 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        if released.is_err() {
            tracing::warn!(node = %shared.me, addr = %shared.local_addr, "shutdown: the UDP socket is still in use");
        }
        tracing::info!(node = %shared.me, "node transport stopped");
    }
}
