//! The operator's side of the control API, used by the console and the
//! CLI.
//!
//! A client dials with its operator certificate and expects exactly the
//! node that certificate names (server name `<node>.node.liandong`), so a
//! console can only ever talk to its own center's node. [`ControlClient::connect`]
//! returns once the node has welcomed the operator: a certificate the node
//! refuses is an error there, with the node's reason.

use crate::proto::Query;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use liandong_certs::pki_types::{CertificateDer, PrivateKeyDer};
use liandong_certs::{Identity, Revocations, Verifier, identity_of, server_name_for};
use quinn::crypto::rustls::QuicClientConfig;
use quinn::{ConnectionError, Endpoint, RecvStream, SendStream, VarInt, WriteError};

use super::ControlError;
use super::frame::{self, FrameError};
use super::proto::{CONTROL_ALPN, MAX_RESPONSE, MAX_WELCOME, Operator, Request, Response, Welcome, close};

/// How often the client pings an idle connection, so a long `watch` is not
/// closed as idle by the node (whose idle timeout is 30 s).
pub const KEEP_ALIVE: Duration = Duration::from_secs(5);
/// How long the client waits for any sign of life from the node before
/// giving up (connecting, or on an established connection).
pub const CLIENT_IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection to one's own node.
#[derive(Debug)]
pub struct ControlClient {
    endpoint: Endpoint,
    connection: quinn::Connection,
    operator: Operator,
    addr: SocketAddr,
}

/// A live subscription: a [`Response::Snapshot`] first, then a
/// [`Response::Pushed`] per change. Dropping it unsubscribes.
#[derive(Debug)]
pub struct Subscription {
    first: Option<Response>,
    recv: RecvStream,
    addr: SocketAddr,
    ended: bool,
}

impl ControlClient {
    /// Connects with an operator certificate (`chain`, leaf first, and its
    /// `key`), trusting the federation CA `ca`. Dials the node the
    /// certificate names and returns once it has welcomed the operator.
    pub async fn connect(
        addr: SocketAddr,
        ca: CertificateDer<'static>,
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<ControlClient, ControlError> {
        Self::connect_as(addr, ca, chain, key, "the certificate").await
    }

    /// [`ControlClient::connect`] with PEM files, as `liandong certs` writes
    /// them. Errors name the file at fault.
    pub async fn connect_with_files(
        addr: SocketAddr,
        ca: &Path,
        cert: &Path,
        key: &Path,
    ) -> Result<ControlClient, ControlError> {
        let ca_cert = liandong_certs::load_ca_certificate(ca)?;
        let chain = liandong_certs::load_certificates(cert)?;
        let key_der = liandong_certs::load_private_key(key)?;
        Self::connect_as(addr, ca_cert, chain, key_der, &cert.display().to_string()).await
    }

    async fn connect_as(
        addr: SocketAddr,
        ca: CertificateDer<'static>,
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        what: &str,
    ) -> Result<ControlClient, ControlError> {
        let operator = operator_of(&chain, what)?;
        let verifier = Verifier::new(ca, Revocations::default()).map_err(|e| ControlError::Tls(e.to_string()))?;
        let tls = liandong_certs::client_config(Arc::new(verifier), chain, key)
            .map_err(|e| ControlError::Tls(format!("{what}: {e} (does the key belong to the certificate?)")))?;
        let mut tls = (*tls).clone();
        tls.alpn_protocols = vec![CONTROL_ALPN.to_vec()];
        let crypto = QuicClientConfig::try_from(tls).map_err(|e| ControlError::Tls(e.to_string()))?;
        let mut config = quinn::ClientConfig::new(Arc::new(crypto));
        let mut transport = quinn::TransportConfig::default();
        transport
            .keep_alive_interval(Some(KEEP_ALIVE))
            .max_idle_timeout(Some(
                quinn::IdleTimeout::try_from(CLIENT_IDLE_TIMEOUT).map_err(|e| ControlError::Tls(e.to_string()))?,
            ))
            // The node opens one unidirectional stream: the welcome.
            .max_concurrent_uni_streams(VarInt::from_u32(1));
        config.transport_config(Arc::new(transport));

        let bind: SocketAddr = if addr.is_ipv4() {
            (Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let endpoint = Endpoint::client(bind).map_err(|e| ControlError::Unreachable {
            addr,
            reason: format!("cannot open a UDP socket: {e}"),
        })?;
        let server_name = server_name_for(&operator.node);
        let connecting = endpoint
            .connect_with(config, addr, &server_name.to_str())
            .map_err(|e| ControlError::Unreachable {
                addr,
                reason: e.to_string(),
            })?;
        let connection = connecting.await.map_err(|e| connection_error(addr, e))?;

        let mut uni = connection.accept_uni().await.map_err(|e| connection_error(addr, e))?;
        let welcome = match frame::read::<Welcome, MAX_WELCOME>(&mut uni).await {
            Ok(Some(welcome)) => welcome,
            Ok(None) => return Err(protocol(addr, "the node closed the welcome stream without a word")),
            Err(e) => return Err(frame_error(addr, e)),
        };
        if welcome.node != operator.node || welcome.operator != operator {
            connection.close(VarInt::from_u32(close::DONE), b"unexpected welcome");
            return Err(protocol(
                addr,
                format!(
                    "it welcomed {} at node {} but the certificate names {} at node {}",
                    welcome.operator.name, welcome.node, operator.name, operator.node
                ),
            ));
        }
        tracing::debug!(%addr, node = %welcome.node, "connected to the control API");
        Ok(ControlClient {
            endpoint,
            connection,
            operator,
            addr,
        })
    }

    /// Who this client speaks for, from its certificate.
    pub fn operator(&self) -> &Operator {
        &self.operator
    }

    /// The node's control address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The QUIC connection, for its statistics (RTT) or for tests that
    /// speak the framing by hand.
    pub fn connection(&self) -> &quinn::Connection {
        &self.connection
    }

    /// Sends one request on its own stream and reads the one answer. A
    /// refusal by the node is `Ok(Response::Refused { .. })`; errors are
    /// about the connection or the framing.
    pub async fn call(&self, request: Request) -> Result<Response, ControlError> {
        let (send, mut recv) = self.send_request(&request).await?;
        drop(send);
        match frame::read::<Response, MAX_RESPONSE>(&mut recv).await {
            Ok(Some(response)) => Ok(response),
            Ok(None) => Err(protocol(self.addr, "the node finished the stream without an answer")),
            Err(e) => Err(frame_error(self.addr, e)),
        }
    }

    /// Subscribes: returns once the node has registered the subscription
    /// and sent its snapshot, so everything it pushes from then on arrives.
    /// The first item is the [`Response::Snapshot`], then one
    /// [`Response::Pushed`] per change. A refusal is an error.
    pub async fn subscribe(&self) -> Result<Subscription, ControlError> {
        let (send, mut recv) = self.send_request(&Request::Query(Query::Subscribe)).await?;
        drop(send);
        let first = match frame::read::<Response, MAX_RESPONSE>(&mut recv).await {
            Ok(Some(first @ Response::Snapshot { .. })) => first,
            Ok(Some(Response::Refused { reason })) => {
                return Err(ControlError::Refused {
                    addr: self.addr,
                    reason,
                });
            }
            Ok(Some(other)) => {
                return Err(protocol(
                    self.addr,
                    format!("expected a snapshot first, got {}", other.kind()),
                ));
            }
            Ok(None) => return Err(protocol(self.addr, "the node ended the subscription at once")),
            Err(e) => return Err(frame_error(self.addr, e)),
        };
        Ok(Subscription {
            first: Some(first),
            recv,
            addr: self.addr,
            ended: false,
        })
    }

    /// Closes the connection and waits (briefly) for the node to be told.
    pub async fn close(&self) {
        self.connection.close(VarInt::from_u32(close::DONE), b"done");
        self.endpoint.wait_idle().await;
    }

    /// Opens a stream, writes the request and finishes. If the node stops
    /// the stream early (it refused the request unread, e.g. too large) the
    /// answer is still read: it says why.
    async fn send_request(&self, request: &Request) -> Result<(SendStream, RecvStream), ControlError> {
        let (mut send, recv) = self
            .connection
            .open_bi()
            .await
            .map_err(|e| connection_error(self.addr, e))?;
        // The node checks the size and names the problem; no limit here.
        let bytes = frame::encode::<_, { u32::MAX as usize }>(request).map_err(|e| frame_error(self.addr, e))?;
        match frame::write_bytes(&mut send, &bytes).await {
            Ok(()) => {
                let _ = send.finish();
            }
            Err(FrameError::Write(WriteError::Stopped(_))) => {}
            Err(e) => return Err(frame_error(self.addr, e)),
        }
        Ok((send, recv))
    }
}

impl Subscription {
    /// The next item, or `None` once the node ended the subscription (it is
    /// shutting down) or after an error.
    pub async fn next(&mut self) -> Option<Result<Response, ControlError>> {
        if let Some(first) = self.first.take() {
            return Some(Ok(first));
        }
        if self.ended {
            return None;
        }
        match frame::read::<Response, MAX_RESPONSE>(&mut self.recv).await {
            Ok(Some(response)) => Some(Ok(response)),
            Ok(None) => {
                self.ended = true;
                None
            }
            Err(e) => {
                self.ended = true;
                Some(Err(frame_error(self.addr, e)))
            }
        }
    }
}

/// The operator a client certificate names; `what` names it in errors.
fn operator_of(chain: &[CertificateDer<'_>], what: &str) -> Result<Operator, ControlError> {
    let leaf = chain.first().ok_or_else(|| ControlError::BadIdentity {
        what: what.to_owned(),
        reason: "no certificate".into(),
    })?;
    match identity_of(leaf) {
        Ok(Identity::Operator { node, name, role }) => Ok(Operator { node, name, role }),
        Ok(other) => Err(ControlError::NotAnOperator {
            what: what.to_owned(),
            identity: other.to_string(),
        }),
        Err(e) => Err(ControlError::BadIdentity {
            what: what.to_owned(),
            reason: e.to_string(),
        }),
    }
}

fn protocol(addr: SocketAddr, reason: impl Into<String>) -> ControlError {
    ControlError::Protocol {
        addr,
        reason: reason.into(),
    }
}

fn frame_error(addr: SocketAddr, e: FrameError) -> ControlError {
    match e {
        FrameError::Read(quinn::ReadError::ConnectionLost(e)) => connection_error(addr, e),
        FrameError::Write(WriteError::ConnectionLost(e)) => connection_error(addr, e),
        FrameError::Read(e) => ControlError::Lost {
            addr,
            reason: e.to_string(),
        },
        FrameError::Write(e) => ControlError::Lost {
            addr,
            reason: e.to_string(),
        },
        other => protocol(addr, other.to_string()),
    }
}

/// A verifier's refusal reaches us as rustls' rendering of it:
/// `invalid peer certificate: Other(OtherError(<our reason>))`. Keep only
/// our reason, which names the serial and what is wrong.
fn tidy_tls_reason(reason: &str) -> String {
    reason
        .strip_prefix("invalid peer certificate: Other(OtherError(")
        .and_then(|rest| rest.strip_suffix("))"))
        .unwrap_or(reason)
        .to_owned()
}

/// Why a connection ended, in words: the node's reason where it gave one.
fn connection_error(addr: SocketAddr, e: ConnectionError) -> ControlError {
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    match e {
        ConnectionError::ApplicationClosed(c) if c.error_code == VarInt::from_u32(close::REFUSED) => {
            ControlError::Refused {
                addr,
                reason: text(&c.reason),
            }
        }
        ConnectionError::ApplicationClosed(c) => ControlError::Lost {
            addr,
            reason: if c.reason.is_empty() {
                format!("closed by the node (code {})", c.error_code)
            } else {
                text(&c.reason)
            },
        },
        // The node's TLS stack refused us (foreign CA, revoked, expired,
        // wrong protocol): its reason travels in the close frame.
        ConnectionError::ConnectionClosed(c) => ControlError::Refused {
            addr,
            reason: if c.reason.is_empty() {
                format!("the TLS handshake failed ({})", c.error_code)
            } else {
                tidy_tls_reason(&text(&c.reason))
            },
        },
        // We refused the node: e.g. it is not the node the certificate
        // names, or not of this federation.
        ConnectionError::TransportError(t) => ControlError::Handshake {
            addr,
            reason: tidy_tls_reason(&t.reason),
        },
        ConnectionError::TimedOut => ControlError::Unreachable {
            addr,
            reason: format!(
                "no answer within {} s (is the node running, and is this its control address?)",
                CLIENT_IDLE_TIMEOUT.as_secs()
            ),
        },
        ConnectionError::VersionMismatch => ControlError::Unreachable {
            addr,
            reason: "it does not speak this QUIC version".into(),
        },
        other @ (ConnectionError::Reset | ConnectionError::LocallyClosed | ConnectionError::CidsExhausted) => {
            ControlError::Lost {
                addr,
                reason: other.to_string(),
            }
        }
    }
}
