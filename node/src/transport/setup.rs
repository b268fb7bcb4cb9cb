//! Setting the transport up: its configuration, the link timers derived
//! from the topology, the check that the certificate is this node's, the
//! QUIC server and client configurations over the certs crate's TLS 1.3
//! (its verifiers, the ring provider, ALPN `liandong/1`, client
//! certificates required, no session resumption), and the bound socket.

use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use liandong_certs::tls::{client_config, peer_identity_of, server_config};
use liandong_certs::{Identity, Verifier};
use liandong_topology::{LinkSettings, NodeId, Topology};
use quinn::VarInt;
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::event::TransportError;
use super::link::LANES;
use super::rate::{DeclaredRateFactory, RateCell};

/// First redial delay; it doubles up to the heartbeat interval.
pub const MIN_BACKOFF: Duration = Duration::from_millis(200);

/// Bytes of datagrams (urgent copies) buffered each way per connection.
const DATAGRAM_BUFFER: usize = 64 * 1024;

/// Most time between keep-alives on a declared (thin) link. A keep-alive
/// goes only when nothing else asking for an acknowledgement went for
/// this long; after a cut, the first one to cross brings the peer's acks
/// back, where QUIC alone would wait for a probe timeout that doubled
/// all through the cut.
const DECLARED_KEEP_ALIVE: Duration = Duration::from_secs(1);

/// Bounds on the QUIC idle timeout taken from the topology's failover threshold.
const IDLE_BOUNDS: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(600));

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

/// Link timers derived from the topology.
#[derive(Debug, Clone, Copy)]
pub(super) struct Timing {
    pub idle: Duration,
    pub keep_alive: Duration,
    pub backoff_cap: Duration,
}

impl Timing {
    pub fn from_link(link: &LinkSettings) -> Timing {
        let idle = link.failover_after.clamp(IDLE_BOUNDS.0, IDLE_BOUNDS.1);
        let keep_alive = link.heartbeat.clamp(Duration::from_millis(50), idle / 2);
        let backoff_cap = link.heartbeat.clamp(MIN_BACKOFF, Duration::from_secs(60));
        Timing {
            idle,
            keep_alive,
            backoff_cap,
        }
    }

    /// One connection's QUIC transport: the timers (keep-alives at most
    /// [`DECLARED_KEEP_ALIVE`] apart when the link may be `declared`), four
    /// lane streams, datagrams (the urgent lane's extra copies), and
    /// congestion control over `rate` (the link's declared rate once the
    /// peer is known).
    pub(super) fn quic_transport(&self, rate: &RateCell, declared: bool) -> quinn::TransportConfig {
        let mut t = quinn::TransportConfig::default();
        let idle = quinn::IdleTimeout::try_from(self.idle).unwrap_or_else(|_| VarInt::from_u32(30_000).into());
        t.max_idle_timeout(Some(idle));
        let keep_alive = if declared {
            self.keep_alive.min(DECLARED_KEEP_ALIVE)
        } else {
            self.keep_alive
        };
        t.keep_alive_interval(Some(keep_alive));
        // A peer needs its four lane streams, nothing more.
        t.max_concurrent_uni_streams(VarInt::from_u32(LANES.len() as u32));
        t.max_concurrent_bidi_streams(VarInt::from_u32(0));
        t.datagram_receive_buffer_size(Some(DATAGRAM_BUFFER));
        t.datagram_send_buffer_size(DATAGRAM_BUFFER);
        t.congestion_controller_factory(Arc::new(DeclaredRateFactory { cell: rate.clone() }));
        t
    }
}

/// Checks that `chain` is the certificate of node `me`.
pub(super) fn check_own_certificate(me: &NodeId, chain: &[CertificateDer<'static>]) -> Result<(), TransportError> {
    match peer_identity_of(chain) {
        Ok(Identity::Node(id)) if id == *me => Ok(()),
        Ok(other) => Err(TransportError::WrongCertificate {
            me: me.clone(),
            presented: other.to_string(),
        }),
        Err(e) => Err(TransportError::WrongCertificate {
            me: me.clone(),
            presented: format!("nothing usable ({e})"),
        }),
    }
}

/// The QUIC server and client configurations: mutual TLS with this
/// node's chain and key and the federation's verifier, timers from
/// `timing`.
pub(super) fn quic_configs(
    timing: &Timing,
    verifier: &Arc<Verifier>,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<(quinn::ServerConfig, quinn::ClientConfig), TransportError> {
    // Each connection gets its own transport (its own rate cell) when it
    // is dialed or accepted; these are the configurations it is cloned from.
    let quic_transport = Arc::new(timing.quic_transport(&RateCell::default(), false));
    let tls_server = server_config(verifier.clone(), chain.clone(), key.clone_key())?;
    let tls_server = QuicServerConfig::try_from(tls_server).map_err(|e| TransportError::Quic(e.to_string()))?;
    let mut server = quinn::ServerConfig::with_crypto(Arc::new(tls_server));
    server.transport_config(quic_transport.clone());
    let tls_client = client_config(verifier.clone(), chain, key)?;
    let tls_client = QuicClientConfig::try_from(tls_client).map_err(|e| TransportError::Quic(e.to_string()))?;
    let mut client = quinn::ClientConfig::new(Arc::new(tls_client));
    client.transport_config(quic_transport);
    Ok((server, client))
}

/// The endpoint, a weak handle to its UDP socket (to tell when quinn's
/// tasks have let go of it), and the address it is bound to.
pub(super) type Bound = (quinn::Endpoint, Weak<dyn quinn::AsyncUdpSocket>, SocketAddr);

/// Binds the UDP socket on `listen` and the endpoint that serves with
/// `server`, on `runtime`.
pub(super) fn bind(
    listen: SocketAddr,
    server: quinn::ServerConfig,
    runtime: &tokio::runtime::Handle,
) -> Result<Bound, TransportError> {
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
    Ok((endpoint, socket, local_addr))
}
