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
//! an error, and the core's unacked copies are retried later. Reader tasks
//! await on the bounded event channel, so a slow driver back-pressures QUIC
//! flow control rather than buffering without bound.
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
//! From the topology's link settings: keep-alive every heartbeat, idle
//! timeout = failover threshold (bounded to 1 s ..= 10 min), redial backoff
//! from 200 ms doubling up to the heartbeat interval.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use liandong_certs::tls::{client_config, peer_identity_of, server_config};
use liandong_certs::{Identity, TlsError, Usage, Verifier, server_name_for};
use liandong_dispatch::codec::{CodecError, MAX_FRAME};
use liandong_dispatch::wire::Lane;
use liandong_topology::{LinkSettings, NodeId, Topology};
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use quinn::{ConnectionError, ReadExactError, RecvStream, SendStream, VarInt};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

/// The lanes, highest priority first; a lane's position is its tag on the wire.
pub const LANES: [Lane; 4] = [Lane::Control, Lane::Urgent, Lane::Normal, Lane::Bulk];

/// Frames queued per lane per connection before [`Transport::send`] refuses more.
pub const LANE_QUEUE: usize = 4096;

/// First redial delay; it doubles up to the heartbeat interval.
pub const MIN_BACKOFF: Duration = Duration::from_millis(200);

/// How long [`Transport::shutdown`] waits for peers to hear the close.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// How long [`Transport::shutdown`] waits for quinn to release the socket.
const SOCKET_RELEASE: Duration = Duration::from_secs(1);

/// Bounds on the QUIC idle timeout taken from the topology's failover threshold.
const IDLE_BOUNDS: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(600));

/// Application close codes on node links.
pub mod close_code {
    /// The node is shutting down.
    pub const SHUTTING_DOWN: u32 = 0;
    /// The peer was refused: identity, topology, link rule or revocation.
    pub const REFUSED: u32 = 1;
    /// The peer broke the framing: bad lane tag, empty or oversized frame.
    pub const PROTOCOL: u32 = 2;
    /// A newer connection from the same peer took this one's place.
    pub const REPLACED: u32 = 3;
    /// A lane's stream failed while the connection was up.
    pub const STREAM_FAILED: u32 = 4;
}

/// How a node's transport is set up.
pub struct TransportConfig {
    /// The federation.
    pub topology: Arc<Topology>,
    /// This node.
    pub me: NodeId,
    /// Where to bind: normally the topology's listen address for `me`.
    pub listen: SocketAddr,
    /// The federation CA and the shared, reloadable revocation list.
    pub verifier: Arc<Verifier>,
    /// This node's certificate chain, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// This node's private key.
    pub key: PrivateKeyDer<'static>,
}

impl fmt::Debug for TransportConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransportConfig")
            .field("me", &self.me)
            .field("listen", &self.listen)
            .field("chain", &self.chain.len())
            .field("key", &"[secret]")
            .finish()
    }
}

/// What the transport tells the driver.
#[derive(Debug)]
pub enum LinkEvent {
    /// A connection to or from `peer` is established and accepted by both sides.
    Up {
        /// The peer.
        peer: NodeId,
    },
    /// The current connection with `peer` ended.
    Down {
        /// The peer.
        peer: NodeId,
        /// Why, in operator words.
        reason: String,
    },
    /// One frame's bytes from `peer`, as sent (the core decodes them).
    Frame {
        /// The peer.
        peer: NodeId,
        /// The frame.
        bytes: Vec<u8>,
    },
    /// A peer or a frame was refused (by this node, or this node by the peer it dialed).
    Refused {
        /// The peer, when its identity is known.
        peer: Option<NodeId>,
        /// Its address.
        remote: SocketAddr,
        /// Why, in operator words.
        reason: String,
    },
}

/// Starting the transport failed.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// `start` was called outside a tokio runtime.
    #[error("the node transport must start inside a tokio runtime")]
    NoRuntime,
    /// This node is not in the topology.
    #[error("node {0} is not in the topology")]
    NotInTopology(NodeId),
    /// The certificate is not this node's.
    #[error("this node is {me} but its certificate identifies {presented}")]
    WrongCertificate {
        /// This node.
        me: NodeId,
        /// What the certificate says (or why it says nothing).
        presented: String,
    },
    /// rustls refused the certificate/key pair.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// quinn refused the TLS configuration.
    #[error("cannot use the TLS configuration for QUIC: {0}")]
    Quic(String),
    /// The UDP socket cannot be bound.
    #[error("cannot listen on {addr} (UDP): {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
}

/// [`Transport::send`] did not queue the frame. Dropping is safe: the core
/// keeps unacked copies and sends them again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// No live connection to the peer.
    #[error("no live connection to node {0}")]
    NotConnected(NodeId),
    /// The lane's queue is at its bound.
    #[error("the {lane:?} lane to node {peer} is full ({max} frames queued)")]
    QueueFull {
        /// The peer.
        peer: NodeId,
        /// The lane.
        lane: Lane,
        /// The bound.
        max: usize,
    },
    /// The frame is empty.
    #[error("empty frame")]
    Empty,
    /// The frame is over the size limit; the peer would refuse it.
    #[error("frame of {len} bytes is over the {max}-byte limit")]
    TooLarge {
        /// Its size.
        len: usize,
        /// [`MAX_FRAME`].
        max: usize,
    },
}

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
        match peer_identity_of(&chain) {
            Ok(Identity::Node(id)) if id == me => {}
            Ok(other) => {
                return Err(TransportError::WrongCertificate {
                    me,
                    presented: other.to_string(),
                });
            }
            Err(e) => {
                return Err(TransportError::WrongCertificate {
                    me,
                    presented: format!("nothing usable ({e})"),
                });
            }
        }

        let timing = Timing::from_link(topology.link());
        let quic_transport = Arc::new(timing.quic_transport());
        let tls_server = server_config(verifier.clone(), chain.clone(), key.clone_key())?;
        let tls_server = QuicServerConfig::try_from(tls_server).map_err(|e| TransportError::Quic(e.to_string()))?;
        let mut server = quinn::ServerConfig::with_crypto(Arc::new(tls_server));
        server.transport_config(quic_transport.clone());
        let tls_client = client_config(verifier.clone(), chain, key)?;
        let tls_client = QuicClientConfig::try_from(tls_client).map_err(|e| TransportError::Quic(e.to_string()))?;
        let mut client = quinn::ClientConfig::new(Arc::new(tls_client));
        client.transport_config(quic_transport);

        let bind_error = |source| TransportError::Bind { addr: listen, source };
        let (endpoint, socket) = {
            let _entered = runtime.enter();
            let quic_runtime: Arc<dyn quinn::Runtime> = Arc::new(quinn::TokioRuntime);
            let socket = quic_runtime.wrap_udp_socket(std::net::UdpSocket::bind(listen).map_err(bind_error)?);
            let socket = socket.map_err(bind_error)?;
            let weak = Arc::downgrade(&socket);
            let endpoint = quinn::Endpoint::new_with_abstract_socket(
                quinn::EndpointConfig::default(),
                Some(server),
                socket,
                quic_runtime,
            );
            (endpoint.map_err(bind_error)?, weak)
        };
        let local_addr = endpoint.local_addr().map_err(bind_error)?;

        let shared = Arc::new(Shared {
            topology,
            me,
            verifier,
            local_addr,
            timing,
            client,
            events,
            runtime,
            endpoint: Mutex::new(Some(endpoint.clone())),
            socket,
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

    /// The bound UDP address.
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr
    }

    /// Keeps a connection to `peer` (the parent, or an ancestor during
    /// failover): dials its topology address with server name
    /// `server_name_for(peer)` and redials with capped backoff whenever it is
    /// down, until shutdown. Idempotent. While a connection with `peer`
    /// exists (in either direction) it does not dial.
    pub fn connect(&self, peer: &NodeId) {
        let shared = &self.shared;
        if shared.stopping() {
            return;
        }
        let Some(node) = shared.topology.get(peer) else {
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

    /// Queues `frame` for `peer` on `lane` without blocking. Fails if there is
    /// no live connection to `peer`, the lane's queue is full, or the frame is
    /// empty or over [`MAX_FRAME`].
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
        match link.lanes[lane_index(lane)].try_send(frame) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => Err(SendError::QueueFull {
                peer: peer.clone(),
                lane,
                max: LANE_QUEUE,
            }),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(SendError::NotConnected(peer.clone())),
        }
    }

    /// Whether a connection with `peer` is up.
    pub fn is_connected(&self, peer: &NodeId) -> bool {
        self.shared.is_connected(peer)
    }

    /// Re-verifies every live connection's peer certificate (CA, dates,
    /// revocation list in force now) and closes those now refused, with the
    /// reason; each is reported as [`LinkEvent::Refused`] then `Down`.
    /// Call it after reloading the revocation list. Returns how many were
    /// closed.
    pub fn recheck(&self) -> usize {
        let shared = &self.shared;
        let links: Vec<Arc<Link>> = lock(&shared.links).values().cloned().collect();
        let now = UnixTime::now();
        let mut closed = 0;
        for link in links {
            let Err(e) = shared.verifier.verify(&link.chain, now, link.usage) else {
                continue;
            };
            link.refuse(close_code::REFUSED, &e.to_string());
            closed += 1;
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

/// Link timers derived from the topology.
#[derive(Debug, Clone, Copy)]
struct Timing {
    idle: Duration,
    keep_alive: Duration,
    backoff_cap: Duration,
}

impl Timing {
    fn from_link(link: &LinkSettings) -> Timing {
        let idle = link.failover_after.clamp(IDLE_BOUNDS.0, IDLE_BOUNDS.1);
        let keep_alive = link.heartbeat.clamp(Duration::from_millis(50), idle / 2);
        let backoff_cap = link.heartbeat.clamp(MIN_BACKOFF, Duration::from_secs(60));
        Timing {
            idle,
            keep_alive,
            backoff_cap,
        }
    }

    fn quic_transport(&self) -> quinn::TransportConfig {
        let mut t = quinn::TransportConfig::default();
        let idle = quinn::IdleTimeout::try_from(self.idle).unwrap_or_else(|_| VarInt::from_u32(30_000).into());
        t.max_idle_timeout(Some(idle));
        t.keep_alive_interval(Some(self.keep_alive));
        // A peer needs its four lane streams, nothing more.
        t.max_concurrent_uni_streams(VarInt::from_u32(LANES.len() as u32));
        t.max_concurrent_bidi_streams(VarInt::from_u32(0));
        t.datagram_receive_buffer_size(None);
        t
    }
}

/// One established, accepted connection.
struct Link {
    generation: u64,
    peer: NodeId,
    conn: quinn::Connection,
    remote: SocketAddr,
    /// How the peer's chain was verified: `Client` if it dialed us.
    usage: Usage,
    chain: Vec<CertificateDer<'static>>,
    lanes: [mpsc::Sender<Vec<u8>>; 4],
    /// Why this node closed it, if it did.
    closing: Mutex<Option<Closing>>,
}

/// Why this node closed a link.
struct Closing {
    reason: String,
    /// The peer was refused: report [`LinkEvent::Refused`] (before `Down`).
    refused: bool,
}

impl Link {
    /// Closes the connection, remembering the first reason given.
    fn close(&self, code: u32, reason: &str) {
        self.close_as(code, reason, false);
    }

    /// Closes the connection because the peer is refused; the refusal is
    /// reported when the connection's end is (so always before its Down).
    fn refuse(&self, code: u32, reason: &str) {
        self.close_as(code, reason, true);
    }

    fn close_as(&self, code: u32, reason: &str, refused: bool) {
        lock(&self.closing).get_or_insert_with(|| Closing {
            reason: reason.to_owned(),
            refused,
        });
        self.conn.close(VarInt::from_u32(code), reason.as_bytes());
    }

    fn down_reason(&self, err: &ConnectionError) -> String {
        match (lock(&self.closing).as_ref(), err) {
            (Some(closing), ConnectionError::LocallyClosed) => closing.reason.clone(),
            _ => describe(err),
        }
    }

    /// The reason this node refused the peer, if it did.
    fn refusal(&self) -> Option<String> {
        lock(&self.closing)
            .as_ref()
            .filter(|c| c.refused)
            .map(|c| c.reason.clone())
    }
}

/// A refusal of a peer: who (if known) and why.
struct Refusal {
    peer: Option<NodeId>,
    reason: String,
}

/// How a connection attempt or a connection failed.
enum Failure {
    /// This node refused the peer (TLS verifier, protocol).
    Refused(String),
    /// The peer refused this node (TLS alert, application close with a refusal code).
    RefusedByPeer(String),
    /// Unreachable, timed out, shut down: not a refusal.
    Lost(String),
}

struct Shared {
    topology: Arc<Topology>,
    me: NodeId,
    verifier: Arc<Verifier>,
    local_addr: SocketAddr,
    timing: Timing,
    client: quinn::ClientConfig,
    events: mpsc::Sender<LinkEvent>,
    runtime: tokio::runtime::Handle,
    /// Taken at shutdown so the socket can be released.
    endpoint: Mutex<Option<quinn::Endpoint>>,
    /// The UDP socket, to tell when quinn's tasks have let go of it.
    socket: Weak<dyn quinn::AsyncUdpSocket>,
    /// The current connection per peer.
    links: Mutex<HashMap<NodeId, Arc<Link>>>,
    /// Peers with a dial loop.
    dialing: Mutex<HashSet<NodeId>>,
    /// Held while a peer goes up or down and its event is emitted, so the
    /// driver sees each peer's Up and Down in the order they happened.
    order: tokio::sync::Mutex<()>,
    next_gen: AtomicU64,
    stop: watch::Sender<bool>,
    /// Bumped whenever `links` changes.
    changes: watch::Sender<u64>,
    tasks: Mutex<JoinSet<()>>,
}

impl Shared {
    fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        if self.stopping() {
            return;
        }
        let mut tasks = lock(&self.tasks);
        // Reap finished tasks so the set does not grow with every connection.
        while tasks.try_join_next().is_some() {}
        tasks.spawn_on(task, &self.runtime);
    }

    fn is_connected(&self, peer: &NodeId) -> bool {
        lock(&self.links).contains_key(peer)
    }

    async fn emit(&self, event: LinkEvent) {
        // A dropped receiver means the driver is gone: nothing to tell.
        let _ = self.events.send(event).await;
    }

    fn links_changed(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// The link rule: `peer` must be in the topology, not this node, and an
    /// ancestor or a descendant of this node.
    fn link_allowed(&self, peer: &NodeId) -> Result<(), String> {
        if self.topology.get(peer).is_none() {
            return Err(format!("unknown node {peer} (not in the topology)"));
        }
        if *peer == self.me {
            return Err(format!(
                "node {peer} is this node itself (is this node's certificate on another machine?)"
            ));
        }
        if self.topology.is_ancestor(peer, &self.me) || self.topology.is_ancestor(&self.me, peer) {
            Ok(())
        } else {
            Err(format!(
                "node {peer} may not link with node {}: it is neither an ancestor nor a descendant of it",
                self.me
            ))
        }
    }

    /// Who the peer of an established connection is, and whether it may link.
    fn check_peer(&self, chain: &[CertificateDer<'_>]) -> Result<NodeId, Refusal> {
        let identity = peer_identity_of(chain).map_err(|e| Refusal {
            peer: None,
            reason: format!("the peer's certificate names no identity: {e}"),
        })?;
        let id = match identity {
            Identity::Node(id) => id,
            operator @ Identity::Operator { .. } => {
                return Err(Refusal {
                    peer: None,
                    reason: format!(
                        "{operator} presented an operator certificate on the node port: operator certificates belong on the control port"
                    ),
                });
            }
        };
        match self.link_allowed(&id) {
            Ok(()) => Ok(id),
            Err(reason) => Err(Refusal { peer: Some(id), reason }),
        }
    }

    async fn report_refusal(&self, peer: Option<NodeId>, remote: SocketAddr, reason: String) {
        tracing::warn!(
            node = %self.me,
            peer = peer.as_ref().map_or("-", NodeId::as_str),
            %remote,
            %reason,
            "link refused"
        );
        self.emit(LinkEvent::Refused { peer, remote, reason }).await;
    }

    /// Closes `conn` with `code` and `reason` and reports the refusal.
    async fn refuse(&self, conn: &quinn::Connection, peer: Option<NodeId>, code: u32, reason: String) {
        conn.close(VarInt::from_u32(code), reason.as_bytes());
        self.report_refusal(peer, conn.remote_address(), reason).await;
    }

    /// Makes `conn` the current connection with `peer`, replacing any other,
    /// starts its lane writers and reports Up. `None` if shutting down.
    async fn go_up(
        self: &Arc<Self>,
        peer: NodeId,
        conn: quinn::Connection,
        usage: Usage,
        chain: Vec<CertificateDer<'static>>,
        open_control: bool,
    ) -> Option<Arc<Link>> {
        let _order = self.order.lock().await;
        if self.stopping() {
            conn.close(VarInt::from_u32(close_code::SHUTTING_DOWN), b"shutting down");
            return None;
        }
        let mut receivers = Vec::with_capacity(LANES.len());
        let lanes = std::array::from_fn(|_| {
            let (sender, receiver) = mpsc::channel(LANE_QUEUE);
            receivers.push(receiver);
            sender
        });
        let link = Arc::new(Link {
            generation: self.next_gen.fetch_add(1, Ordering::Relaxed),
            peer: peer.clone(),
            remote: conn.remote_address(),
            conn,
            usage,
            chain,
            lanes,
            closing: Mutex::new(None),
        });
        for (lane, queue) in LANES.into_iter().zip(receivers) {
            let eager = open_control && lane == Lane::Control;
            self.spawn(write_lane(link.clone(), lane, queue, eager));
        }
        let replaced = lock(&self.links).insert(peer.clone(), link.clone());
        if let Some(old) = replaced {
            let reason = "replaced by a new connection";
            old.close(close_code::REPLACED, reason);
            tracing::info!(node = %self.me, peer = %peer, remote = %old.remote, "{reason}");
            self.emit(LinkEvent::Down {
                peer: peer.clone(),
                reason: reason.to_owned(),
            })
            .await;
        }
        tracing::info!(node = %self.me, peer = %peer, remote = %link.remote, "link up");
        self.emit(LinkEvent::Up { peer }).await;
        self.links_changed();
        Some(link)
    }

    /// After `link`'s connection ended: reports this node's refusal of the
    /// peer if that is why, then Down if it was the current connection.
    async fn go_down(&self, link: &Link, err: &ConnectionError) {
        let _order = self.order.lock().await;
        if let Some(reason) = link.refusal() {
            self.report_refusal(Some(link.peer.clone()), link.remote, reason).await;
        }
        let current = {
            let mut links = lock(&self.links);
            let current = links.get(&link.peer).is_some_and(|l| l.generation == link.generation);
            if current {
                links.remove(&link.peer);
            }
            current
        };
        if current {
            let reason = link.down_reason(err);
            tracing::info!(node = %self.me, peer = %link.peer, remote = %link.remote, %reason, "link down");
            self.emit(LinkEvent::Down {
                peer: link.peer.clone(),
                reason,
            })
            .await;
            self.links_changed();
        }
    }

    async fn accept_loop(self: Arc<Self>, endpoint: quinn::Endpoint) {
        while let Some(incoming) = endpoint.accept().await {
            if self.stopping() {
                incoming.refuse();
                continue;
            }
            let shared = self.clone();
            self.spawn(shared.accept_one(incoming));
        }
    }

    /// Handshake, identity checks, Up, then the connection's life.
    async fn accept_one(self: Arc<Self>, incoming: quinn::Incoming) {
        let remote = incoming.remote_address();
        let conn = match incoming.await {
            Ok(conn) => conn,
            Err(e) => {
                match classify(&e) {
                    Failure::Refused(reason) => self.report_refusal(None, remote, reason).await,
                    Failure::RefusedByPeer(reason) => {
                        tracing::warn!(node = %self.me, %remote, %reason, "a dialing peer refused this node");
                    }
                    Failure::Lost(reason) => {
                        tracing::debug!(node = %self.me, %remote, %reason, "incoming handshake failed");
                    }
                }
                return;
            }
        };
        let chain = peer_chain(&conn);
        let peer = match self.check_peer(&chain) {
            Ok(peer) => peer,
            Err(Refusal { peer, reason }) => {
                self.refuse(&conn, peer, close_code::REFUSED, reason).await;
                return;
            }
        };
        let Some(link) = self.go_up(peer, conn, Usage::Client, chain, true).await else {
            return;
        };
        self.spawn(self.clone().accept_streams(link.clone()));
        let err = link.conn.closed().await;
        self.go_down(&link, &err).await;
    }

    async fn dial_loop(self: Arc<Self>, peer: NodeId, addr: SocketAddr) {
        let mut stop = self.stop.subscribe();
        let mut backoff = MIN_BACKOFF;
        loop {
            if !self.wait_disconnected(&peer, &mut stop).await {
                break;
            }
            let dialed = tokio::select! {
                dialed = self.dial_once(&peer, addr) => dialed,
                _ = stopped(&mut stop) => break,
            };
            if let Some(link) = dialed {
                backoff = MIN_BACKOFF;
                // Shutdown closes the connection too, so this always ends.
                let err = link.conn.closed().await;
                self.go_down(&link, &err).await;
            }
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                _ = stopped(&mut stop) => break,
            }
            backoff = (backoff * 2).min(self.timing.backoff_cap);
        }
        lock(&self.dialing).remove(&peer);
    }

    /// Waits until there is no connection with `peer`; false if stopping.
    async fn wait_disconnected(&self, peer: &NodeId, stop: &mut watch::Receiver<bool>) -> bool {
        let mut changes = self.changes.subscribe();
        loop {
            if *stop.borrow() {
                return false;
            }
            if !self.is_connected(peer) {
                return true;
            }
            tokio::select! {
                changed = changes.changed() => {
                    if changed.is_err() {
                        return false;
                    }
                }
                _ = stop.changed() => {}
            }
        }
    }

    /// One connection attempt to `peer`: handshake, identity check, wait for
    /// the peer's acceptance, Up. Failures are reported here.
    async fn dial_once(self: &Arc<Self>, peer: &NodeId, addr: SocketAddr) -> Option<Arc<Link>> {
        let endpoint = lock(&self.endpoint).clone()?;
        let server_name = server_name_for(peer).to_str().into_owned();
        let connecting = match endpoint.connect_with(self.client.clone(), addr, &server_name) {
            Ok(connecting) => connecting,
            Err(e) => {
                tracing::warn!(node = %self.me, peer = %peer, remote = %addr, "cannot dial: {e}");
                return None;
            }
        };
        drop(endpoint);
        let conn = match connecting.await {
            Ok(conn) => conn,
            Err(e) => {
                self.dial_failed(peer, addr, &e).await;
                return None;
            }
        };
        let chain = peer_chain(&conn);
        match self.check_peer(&chain) {
            Ok(id) if id == *peer => {}
            Ok(id) => {
                let reason = format!("dialed node {peer} but node {id} answered");
                self.refuse(&conn, Some(id), close_code::REFUSED, reason).await;
                return None;
            }
            Err(Refusal { peer: who, reason }) => {
                self.refuse(&conn, who.or_else(|| Some(peer.clone())), close_code::REFUSED, reason)
                    .await;
                return None;
            }
        }
        // The peer accepts us by opening its first stream.
        let first = match tokio::time::timeout(self.timing.idle, first_stream(&conn)).await {
            Ok(Ok(first)) => first,
            Ok(Err(StreamStart::Closed(e))) => {
                self.dial_failed(peer, addr, &e).await;
                return None;
            }
            Ok(Err(StreamStart::Violation(reason))) => {
                self.refuse(&conn, Some(peer.clone()), close_code::PROTOCOL, reason)
                    .await;
                return None;
            }
            Ok(Err(StreamStart::Ended)) | Err(_) => {
                let reason = format!("node {peer} did not accept this node within {:?}", self.timing.idle);
                conn.close(VarInt::from_u32(close_code::PROTOCOL), reason.as_bytes());
                tracing::warn!(node = %self.me, peer = %peer, remote = %addr, "{reason}");
                return None;
            }
        };
        let link = self.go_up(peer.clone(), conn, Usage::Server, chain, false).await?;
        let (recv, lane) = first;
        self.spawn(self.clone().read_stream(link.clone(), recv, lane));
        self.spawn(self.clone().accept_streams(link.clone()));
        Some(link)
    }

    async fn dial_failed(&self, peer: &NodeId, addr: SocketAddr, err: &ConnectionError) {
        match classify(err) {
            Failure::Refused(reason) => self.report_refusal(Some(peer.clone()), addr, reason).await,
            Failure::RefusedByPeer(reason) => {
                let reason = format!("node {peer} refused this node: {reason}");
                self.report_refusal(Some(peer.clone()), addr, reason).await;
            }
            Failure::Lost(reason) => {
                tracing::debug!(node = %self.me, peer = %peer, remote = %addr, %reason, "dial failed");
            }
        }
    }

    /// Hands each stream the peer opens to a reader.
    async fn accept_streams(self: Arc<Self>, link: Arc<Link>) {
        while let Ok(recv) = link.conn.accept_uni().await {
            let shared = self.clone();
            let link = link.clone();
            self.spawn(async move {
                match read_lane_tag(recv).await {
                    Ok((recv, lane)) => shared.read_stream(link, recv, lane).await,
                    Err(StreamStart::Violation(reason)) => {
                        link.refuse(close_code::PROTOCOL, &reason);
                    }
                    Err(StreamStart::Closed(_) | StreamStart::Ended) => {}
                }
            });
        }
    }

    /// Reads length-prefixed frames from one lane stream and passes them up.
    async fn read_stream(self: Arc<Self>, link: Arc<Link>, mut recv: RecvStream, lane: Lane) {
        loop {
            let mut prefix = [0u8; 4];
            match recv.read_exact(&mut prefix).await {
                Ok(()) => {}
                Err(ReadExactError::FinishedEarly(0)) => return,
                Err(e) => {
                    tracing::debug!(node = %self.me, peer = %link.peer, lane = lane.name(), "lane stream ended: {e}");
                    return;
                }
            }
            let len = usize::try_from(u32::from_be_bytes(prefix)).unwrap_or(usize::MAX);
            if len == 0 {
                let reason = format!("{} (zero length prefix on the {} lane)", CodecError::Empty, lane.name());
                link.refuse(close_code::PROTOCOL, &reason);
                return;
            }
            if len > MAX_FRAME {
                let reason = CodecError::TooLarge { len, max: MAX_FRAME }.to_string();
                link.refuse(close_code::PROTOCOL, &reason);
                return;
            }
            let mut bytes = vec![0u8; len];
            if let Err(e) = recv.read_exact(&mut bytes).await {
                tracing::debug!(node = %self.me, peer = %link.peer, lane = lane.name(), "lane stream ended mid-frame: {e}");
                return;
            }
            self.emit(LinkEvent::Frame {
                peer: link.peer.clone(),
                bytes,
            })
            .await;
        }
    }
}

/// Drains one lane's queue into its stream, opened on the first frame (or
/// at once when `eager`: the accepting side's Control stream is its
/// acceptance signal).
async fn write_lane(link: Arc<Link>, lane: Lane, mut queue: mpsc::Receiver<Vec<u8>>, eager: bool) {
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

/// Why a stream's lane could not be read.
enum StreamStart {
    /// The connection ended.
    Closed(ConnectionError),
    /// The stream ended or was reset before its tag.
    Ended,
    /// The tag is not a lane.
    Violation(String),
}

async fn read_lane_tag(mut recv: RecvStream) -> Result<(RecvStream, Lane), StreamStart> {
    let mut tag = [0u8; 1];
    match recv.read_exact(&mut tag).await {
        Ok(()) => {}
        Err(ReadExactError::ReadError(quinn::ReadError::ConnectionLost(e))) => return Err(StreamStart::Closed(e)),
        Err(_) => return Err(StreamStart::Ended),
    }
    match LANES.get(usize::from(tag[0])) {
        Some(&lane) => Ok((recv, lane)),
        None => Err(StreamStart::Violation(format!(
            "stream opened with unknown lane tag {} (expected 0 to {})",
            tag[0],
            LANES.len() - 1
        ))),
    }
}

async fn first_stream(conn: &quinn::Connection) -> Result<(RecvStream, Lane), StreamStart> {
    let recv = conn.accept_uni().await.map_err(StreamStart::Closed)?;
    read_lane_tag(recv).await
}

/// Resolves once the transport is stopping.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopping| *stopping).await;
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn lane_index(lane: Lane) -> usize {
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

/// The peer's certificate chain as the TLS layer verified it.
fn peer_chain(conn: &quinn::Connection) -> Vec<CertificateDer<'static>> {
    conn.peer_identity()
        .and_then(|any| any.downcast::<Vec<CertificateDer<'static>>>().ok())
        .map(|chain| *chain)
        .unwrap_or_default()
}

fn is_crypto(code: quinn::TransportErrorCode) -> bool {
    (0x100..0x200).contains(&u64::from(code))
}

/// The verifier's words inside a rustls error rendered by quinn:
/// `invalid peer certificate: Other(OtherError(<message>))` becomes `<message>`.
fn tls_reason(text: &str) -> String {
    const OPEN: &str = "Other(OtherError(";
    if let Some(start) = text.find(OPEN)
        && let Some(inner) = text[start + OPEN.len()..].strip_suffix("))")
    {
        return format!("TLS handshake refused: {inner}");
    }
    format!("TLS handshake refused: {text}")
}

fn classify(err: &ConnectionError) -> Failure {
    match err {
        ConnectionError::TransportError(e) if is_crypto(e.code) => Failure::Refused(tls_reason(&e.reason)),
        ConnectionError::TransportError(e) => Failure::Refused(format!("QUIC protocol error: {e}")),
        ConnectionError::ConnectionClosed(close) if is_crypto(close.error_code) => {
            Failure::RefusedByPeer(tls_reason(&String::from_utf8_lossy(&close.reason)))
        }
        ConnectionError::ApplicationClosed(close)
            if [close_code::REFUSED, close_code::PROTOCOL]
                .iter()
                .any(|&code| close.error_code == VarInt::from_u32(code)) =>
        {
            Failure::RefusedByPeer(String::from_utf8_lossy(&close.reason).into_owned())
        }
        other => Failure::Lost(describe(other)),
    }
}

/// A connection's end in operator words.
fn describe(err: &ConnectionError) -> String {
    match err {
        ConnectionError::ApplicationClosed(close) => {
            format!("closed by the peer: {}", String::from_utf8_lossy(&close.reason))
        }
        ConnectionError::ConnectionClosed(close) => format!("aborted by the peer: {close}"),
        ConnectionError::TimedOut => "timed out: nothing heard from the peer within the idle timeout".to_owned(),
        ConnectionError::Reset => "reset by the peer (it restarted?)".to_owned(),
        ConnectionError::LocallyClosed => "closed by this node".to_owned(),
        other => other.to_string(),
    }
}
