//! Helpers for the transport tests: a federation (CA, revocation list,
//! demo topology) on its own loopback IP, transports with their event
//! receivers, and raw quinn clients built from the same certificates so a
//! test can misbehave in ways the transport never would.

#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use liandong_certs::pki_types::{CertificateDer, PrivateKeyDer};
use liandong_certs::time::OffsetDateTime;
use liandong_certs::{FederationCa, IssuedCert, Revocations, Validity, Verifier, client_config, server_name_for};
use liandong_node::transport::{LinkEvent, Transport, TransportConfig, TransportError};
use liandong_topology::{Addressing, NodeId, Preset, Shape, Topology, generate};
use quinn::crypto::rustls::QuicClientConfig;
use tokio::sync::mpsc;

/// How long any single expected event may take.
pub const WAIT: Duration = Duration::from_secs(10);

pub fn id(s: &str) -> NodeId {
    NodeId::parse(s).unwrap()
}

pub fn valid() -> Validity {
    Validity::days_from(OffsetDateTime::now_utc(), 30)
}

/// One federation: CA, shared revocation list, verifier, and the demo
/// topology listening on `127.23.0.<n>` (one IP per test: tests run in
/// parallel, and other test files bind other addresses).
pub struct Fed {
    pub ca: FederationCa,
    pub revocations: Revocations,
    pub verifier: Arc<Verifier>,
    pub topology: Arc<Topology>,
    pub ip: IpAddr,
}

impl Fed {
    pub fn new(n: u8) -> Fed {
        Fed::named("福州", n)
    }

    pub fn named(name: &str, n: u8) -> Fed {
        let ip = IpAddr::V4(Ipv4Addr::new(127, 23, 0, n));
        let ca = FederationCa::generate(name, Validity::days_from(OffsetDateTime::now_utc(), 365)).unwrap();
        let revocations = Revocations::default();
        let verifier = Arc::new(Verifier::new(ca.cert_der().clone(), revocations.clone()).unwrap());
        let topology = Arc::new(
            generate(
                &Shape::Preset(Preset::Demo),
                Addressing {
                    ip,
                    base_port: Addressing::default().base_port,
                },
            )
            .unwrap(),
        );
        Fed {
            ca,
            revocations,
            verifier,
            topology,
            ip,
        }
    }

    pub fn cert(&self, node: &str) -> IssuedCert {
        self.ca.issue_node(&id(node), &format!("中心 {node}"), valid()).unwrap()
    }

    /// The topology address of `node`.
    pub fn addr(&self, node: &str) -> SocketAddr {
        self.topology.get(&id(node)).unwrap().listen
    }

    /// `node` with `cert` at `listen`, under this federation's verifier.
    pub fn config_with(&self, node: &str, cert: &IssuedCert, listen: SocketAddr) -> TransportConfig {
        TransportConfig {
            topology: self.topology.clone(),
            me: id(node),
            listen,
            verifier: self.verifier.clone(),
            chain: vec![cert.cert_der.clone()],
            key: cert.private_key_der(),
        }
    }

    /// `node` with a fresh certificate at its topology address.
    pub fn config(&self, node: &str) -> TransportConfig {
        self.config_with(node, &self.cert(node), self.addr(node))
    }

    pub fn start(&self, node: &str) -> Running {
        Running::start(self.config(node))
    }

    /// A raw client presenting `cert`, trusting this federation's CA.
    pub fn raw(&self, cert: &IssuedCert) -> Raw {
        Raw::new(self.ip, self.verifier.clone(), cert)
    }
}

/// A started transport and its events.
pub struct Running {
    pub transport: Transport,
    pub events: Events,
}

impl Running {
    pub fn start(config: TransportConfig) -> Running {
        Running::try_start(config).unwrap()
    }

    pub fn try_start(config: TransportConfig) -> Result<Running, TransportError> {
        let (tx, rx) = mpsc::channel(256);
        let transport = Transport::start(config, tx)?;
        Ok(Running {
            transport,
            events: Events { rx },
        })
    }
}

/// The receiving end of a transport's events, with deadlines.
pub struct Events {
    pub rx: mpsc::Receiver<LinkEvent>,
}

impl Events {
    /// The next event (fails the test after [`WAIT`]).
    pub async fn next(&mut self) -> LinkEvent {
        match tokio::time::timeout(WAIT, self.rx.recv()).await {
            Ok(Some(event)) => event,
            Ok(None) => panic!("the transport's event channel closed"),
            Err(_) => panic!("no event within {WAIT:?}"),
        }
    }

    /// The next event, which must be Up; returns the peer.
    pub async fn up(&mut self) -> NodeId {
        match self.next().await {
            LinkEvent::Up { peer } => peer,
            other => panic!("expected Up, got {other:?}"),
        }
    }

    /// The next event, which must be Down; returns (peer, reason).
    pub async fn down(&mut self) -> (NodeId, String) {
        match self.next().await {
            LinkEvent::Down { peer, reason } => (peer, reason),
            other => panic!("expected Down, got {other:?}"),
        }
    }

    /// The next event, which must be Refused; returns (peer, remote, reason).
    pub async fn refused(&mut self) -> (Option<NodeId>, SocketAddr, String) {
        match self.next().await {
            LinkEvent::Refused { peer, remote, reason } => (peer, remote, reason),
            other => panic!("expected Refused, got {other:?}"),
        }
    }

    /// The next event, which must be a Frame; returns (peer, bytes).
    pub async fn frame(&mut self) -> (NodeId, Vec<u8>) {
        match self.next().await {
            LinkEvent::Frame { peer, bytes, .. } => (peer, bytes),
            other => panic!("expected Frame, got {other:?}"),
        }
    }

    /// Asserts nothing arrives for a short while (used only after the events
    /// a test waited for, to check there is no stray one).
    pub async fn assert_quiet(&mut self, for_: Duration) {
        if let Ok(Some(event)) = tokio::time::timeout(for_, self.rx.recv()).await {
            panic!("unexpected event {event:?}");
        }
    }
}

/// A bare quinn client endpoint presenting some certificate.
pub struct Raw {
    pub endpoint: quinn::Endpoint,
    config: quinn::ClientConfig,
}

impl Raw {
    pub fn new(ip: IpAddr, verifier: Arc<Verifier>, cert: &IssuedCert) -> Raw {
        Raw::with_chain(ip, verifier, vec![cert.cert_der.clone()], cert.private_key_der())
    }

    pub fn with_chain(
        ip: IpAddr,
        verifier: Arc<Verifier>,
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Raw {
        let tls = client_config(verifier, chain, key).unwrap();
        let config = quinn::ClientConfig::new(Arc::new(QuicClientConfig::try_from(tls).unwrap()));
        let endpoint = quinn::Endpoint::client(SocketAddr::new(ip, 0)).unwrap();
        Raw { endpoint, config }
    }

    /// Dials `addr` as node `server`; the handshake result.
    pub async fn dial(&self, addr: SocketAddr, server: &str) -> Result<quinn::Connection, quinn::ConnectionError> {
        let name = server_name_for(&id(server)).to_str().into_owned();
        let connecting = self.endpoint.connect_with(self.config.clone(), addr, &name).unwrap();
        tokio::time::timeout(WAIT, connecting)
            .await
            .expect("handshake within WAIT")
    }

    /// Dials and waits for the server's acceptance (its first stream, the
    /// Control lane: tag 0).
    pub async fn dial_accepted(&self, addr: SocketAddr, server: &str) -> quinn::Connection {
        let conn = self.dial(addr, server).await.expect("handshake");
        let mut control = tokio::time::timeout(WAIT, conn.accept_uni())
            .await
            .expect("acceptance within WAIT")
            .expect("accepted");
        let mut tag = [0u8; 1];
        control.read_exact(&mut tag).await.unwrap();
        assert_eq!(tag, [0], "the acceptor's first stream is its Control lane");
        conn
    }

    /// Dials and returns how the connection was refused: the handshake
    /// error, or (TLS 1.3: the client finishes first) the error of the first
    /// stream operation.
    pub async fn dial_refused(&self, addr: SocketAddr, server: &str) -> quinn::ConnectionError {
        match self.dial(addr, server).await {
            Err(e) => e,
            Ok(conn) => match tokio::time::timeout(WAIT, conn.accept_uni())
                .await
                .expect("refusal within WAIT")
            {
                Err(e) => e,
                Ok(_) => panic!("the connection was accepted"),
            },
        }
    }
}

/// Writes one raw frame (length prefix + bytes) on `stream`.
pub async fn write_frame(stream: &mut quinn::SendStream, bytes: &[u8]) {
    stream.write_all(&(bytes.len() as u32).to_be_bytes()).await.unwrap();
    stream.write_all(bytes).await.unwrap();
}

/// The reason text of a peer's close, whatever its kind.
pub fn close_text(err: &quinn::ConnectionError) -> String {
    match err {
        quinn::ConnectionError::ApplicationClosed(close) => String::from_utf8_lossy(&close.reason).into_owned(),
        quinn::ConnectionError::ConnectionClosed(close) => String::from_utf8_lossy(&close.reason).into_owned(),
        other => other.to_string(),
    }
}
