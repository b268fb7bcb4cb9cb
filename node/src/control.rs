//! The node's side of the control API: accept operator connections, check
//! who they are, read one request per stream, hand it to the driver, write
//! its answer; forward pushed changes to subscribers.
//!
//! Tasks form a tree, so nothing outlives what it serves: the accept task
//! owns one task per connection, each connection task one task per
//! stream. Closing the endpoint ends the accept task, which drops (and so
//! aborts) the rest.
//!
//! Bounds: at most [`MAX_CONNECTIONS`] consoles at once and
//! [`MAX_PER_OPERATOR`] per operator, at most [`MAX_STREAMS`] requests in
//! flight per console, requests of at most [`MAX_REQUEST`] bytes wholly
//! sent within [`REQUEST_TIMEOUT`] (a client that opens streams and never
//! finishes a request holds them no longer); the driver's channel is bounded by whoever made
//! it (a full channel makes requests wait, it never drops them). A
//! subscriber that reads too slowly is told how many changes it missed
//! ([`Notice::Lagged`]) instead of growing a queue.

use liandong_control::Query;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use liandong_certs::Identity;
use liandong_certs::pki_types::{CertificateDer, PrivateKeyDer};
use liandong_topology::NodeId;
use quinn::crypto::rustls::QuicServerConfig;
use quinn::{Connection, Endpoint, Incoming, RecvStream, SendStream, VarInt};
use tokio::sync::{Semaphore, broadcast, mpsc, oneshot};
use tokio::task::JoinSet;

use liandong_control::ControlError;
use liandong_control::frame::{self, FrameError};
use liandong_control::proto::{
    CONTROL_ALPN, MAX_REQUEST, MAX_RESPONSE, MAX_WELCOME, Notice, Operator, Pushed, Request, Response, Welcome, close,
};

/// Most consoles and CLI invocations served at once.
pub const MAX_CONNECTIONS: usize = 256;
/// Most requests (streams) in flight per connection.
pub const MAX_STREAMS: u32 = 32;
/// Most connections of one operator at once: a console, a `watch` and a
/// few commands; more is a client gone wrong, not a person.
pub const MAX_PER_OPERATOR: usize = 16;
/// A request must be wholly sent within this from its stream's opening;
/// a slower one is refused and its stream closed.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection with no traffic for this long is closed. Clients send
/// keep-alives well within it, so only a vanished client hits it.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// What the server answers when the driver is gone or dropped the reply.
pub const SHUTTING_DOWN: &str = "the node is shutting down";

/// One request from an authenticated operator, for the driver to answer.
#[derive(Debug)]
pub struct Call {
    /// Who asks, from their certificate.
    pub operator: Operator,
    pub request: Request,
    /// Where the driver sends its one answer. Dropping it answers
    /// "the node is shutting down".
    pub reply: oneshot::Sender<Response>,
}

/// How to serve the control API.
pub struct ControlConfig {
    /// Address to listen on (UDP), e.g. `127.0.0.1:7443`; port 0 picks one.
    pub listen: SocketAddr,
    /// This node: only its operators are served.
    pub me: NodeId,
    /// The federation's verifier (CA and revocation list), shared with the
    /// node links so a revocation applies to both at once.
    pub verifier: Arc<liandong_certs::Verifier>,
    /// This node's certificate chain, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

impl std::fmt::Debug for ControlConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlConfig")
            .field("listen", &self.listen)
            .field("me", &self.me)
            .field("key", &"[secret]")
            .finish_non_exhaustive()
    }
}

/// A running control API server. Dropping it closes the endpoint at once;
/// [`ControlServer::shutdown`] also waits for clients to be told.
#[derive(Debug)]
pub struct ControlServer {
    endpoint: Endpoint,
    /// Checks operators' certificates (kept for a renewed server config).
    verifier: Arc<liandong_certs::Verifier>,
    local_addr: SocketAddr,
    accept_task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// What every connection task shares.
struct Shared {
    me: NodeId,
    calls: mpsc::Sender<Call>,
    pushed: broadcast::Sender<Pushed>,
    /// Connections open per operator name.
    per_operator: Mutex<HashMap<String, usize>>,
}

/// One of an operator's connections, counted while it lives.
struct Seat {
    shared: Arc<Shared>,
    name: String,
}

impl Seat {
    /// A seat for `name`, unless they hold [`MAX_PER_OPERATOR`] already.
    fn take(shared: &Arc<Shared>, name: &str) -> Option<Seat> {
        let mut open = shared.per_operator.lock().unwrap_or_else(PoisonError::into_inner);
        let n = open.entry(name.to_string()).or_default();
        if *n >= MAX_PER_OPERATOR {
            return None;
        }
        *n += 1;
        Some(Seat {
            shared: shared.clone(),
            name: name.to_string(),
        })
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        let mut open = self.shared.per_operator.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = open.get_mut(&self.name) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.name);
            }
        }
    }
}

impl ControlServer {
    /// Binds and serves. Requests go to `calls`; subscribers get everything
    /// sent on `pushed`. Must be called inside a tokio runtime.
    pub fn start(
        config: ControlConfig,
        calls: mpsc::Sender<Call>,
        pushed: broadcast::Sender<Pushed>,
    ) -> Result<ControlServer, ControlError> {
        let server_config = server_config(config.verifier.clone(), config.chain, config.key)?;

        let endpoint = Endpoint::server(server_config, config.listen).map_err(|e| ControlError::Listen {
            addr: config.listen,
            reason: e.to_string(),
        })?;
        let local_addr = endpoint.local_addr().map_err(|e| ControlError::Listen {
            addr: config.listen,
            reason: e.to_string(),
        })?;
        tracing::info!(%local_addr, node = %config.me, "control API listening");
        let shared = Arc::new(Shared {
            me: config.me,
            calls,
            pushed,
            per_operator: Mutex::new(HashMap::new()),
        });
        let accept_task = tokio::spawn(accept_loop(endpoint.clone(), shared));
        Ok(ControlServer {
            endpoint,
            verifier: config.verifier,
            local_addr,
            accept_task: Mutex::new(Some(accept_task)),
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Presents `chain` (this node's renewed certificate) and `key` to
    /// consoles from the next connection on; open ones keep theirs.
    pub fn set_identity(
        &self,
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<(), ControlError> {
        let config = server_config(self.verifier.clone(), chain, key)?;
        self.endpoint.set_server_config(Some(config));
        Ok(())
    }

    /// Stops accepting, closes every connection with "the node is shutting
    /// down", and waits until the clients were told (or gave up).
    pub async fn shutdown(&self) {
        self.endpoint
            .close(VarInt::from_u32(close::SHUTDOWN), SHUTTING_DOWN.as_bytes());
        let task = self.accept_task.lock().ok().and_then(|mut task| task.take());
        if let Some(task) = task {
            let _ = task.await;
        }
        self.endpoint.wait_idle().await;
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        self.endpoint
            .close(VarInt::from_u32(close::SHUTDOWN), SHUTTING_DOWN.as_bytes());
        if let Some(task) = self.accept_task.lock().ok().and_then(|mut task| task.take()) {
            task.abort();
        }
    }
}

/// The QUIC server configuration of the control port: this node's chain
/// and key, operators' certificates checked by `verifier`.
fn server_config(
    verifier: Arc<liandong_certs::Verifier>,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<quinn::ServerConfig, ControlError> {
    let tls = liandong_certs::server_config(verifier, chain, key).map_err(|e| ControlError::Tls(e.to_string()))?;
    let mut tls = (*tls).clone();
    tls.alpn_protocols = vec![CONTROL_ALPN.to_vec()];
    let crypto = QuicServerConfig::try_from(tls).map_err(|e| ControlError::Tls(e.to_string()))?;
    let mut server_config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    let mut transport = quinn::TransportConfig::default();
    transport
        .max_concurrent_bidi_streams(VarInt::from_u32(MAX_STREAMS))
        // Only the node opens unidirectional streams (the welcome).
        .max_concurrent_uni_streams(VarInt::from_u32(0))
        .max_idle_timeout(Some(
            quinn::IdleTimeout::try_from(IDLE_TIMEOUT).map_err(|e| ControlError::Tls(e.to_string()))?,
        ));
    server_config.transport_config(Arc::new(transport));

    Ok(server_config)
}

async fn accept_loop(endpoint: Endpoint, shared: Arc<Shared>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            incoming = endpoint.accept() => {
                let Some(incoming) = incoming else { break };
                let permit = slots.clone().try_acquire_owned().ok();
                let have_slot = permit.is_some();
                let shared = shared.clone();
                connections.spawn(async move {
                    let _permit = permit;
                    serve_connection(incoming, shared, have_slot).await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    // Dropping `connections` aborts what is left.
}

/// The operator a verified chain names, if this node serves them; otherwise
/// the reason for refusing, in words for the operator.
fn authorize(me: &NodeId, chain: &[CertificateDer<'_>]) -> Result<Operator, String> {
    match liandong_certs::tls::peer_identity_of(chain) {
        Ok(Identity::Operator { node, name, role }) if node == *me => Ok(Operator { node, name, role }),
        Ok(Identity::Operator { node, name, .. }) => Err(format!(
            "operator {name} works at {node}; this node is {me}: use the console of node {node}"
        )),
        Ok(Identity::Node(id)) => Err(format!(
            "{id} presented a node certificate; the control API of node {me} serves only its operators"
        )),
        Ok(Identity::Admin { name }) => Err(format!(
            "federation admin {name} presented an admin certificate; the control API of node {me} serves only its \
             operators"
        )),
        Err(e) => Err(format!("the certificate carries no usable identity: {e}")),
    }
}

async fn serve_connection(incoming: Incoming, shared: Arc<Shared>, have_slot: bool) {
    let remote = incoming.remote_address();
    let connection = match incoming.await {
        Ok(connection) => connection,
        Err(e) => {
            // Foreign CA, revoked, expired, wrong ALPN: the verifier's reason.
            tracing::warn!(%remote, "refused a control connection in the TLS handshake: {e}");
            return;
        }
    };
    if !have_slot {
        tracing::warn!(%remote, "refused a control connection: {MAX_CONNECTIONS} consoles already connected");
        connection.close(
            VarInt::from_u32(close::BUSY),
            format!("this node already serves {MAX_CONNECTIONS} consoles; try again later").as_bytes(),
        );
        return;
    }
    let chain = connection
        .peer_identity()
        .and_then(|any| any.downcast::<Vec<CertificateDer<'static>>>().ok())
        .map(|chain| *chain)
        .unwrap_or_default();
    let operator = match authorize(&shared.me, &chain) {
        Ok(operator) => operator,
        Err(reason) => {
            tracing::warn!(%remote, "refused a control connection: {reason}");
            connection.close(VarInt::from_u32(close::REFUSED), reason.as_bytes());
            return;
        }
    };
    let Some(_seat) = Seat::take(&shared, &operator.name) else {
        let reason = format!(
            "operator {} already has {MAX_PER_OPERATOR} connections open to this node; close some and try again",
            operator.name
        );
        tracing::warn!(%remote, "refused a control connection: {reason}");
        connection.close(VarInt::from_u32(close::BUSY), reason.as_bytes());
        return;
    };
    tracing::info!(%remote, operator = %operator.name, role = %operator.role, "operator connected");
    if let Err(e) = welcome(&connection, &shared.me, &operator).await {
        tracing::debug!(%remote, "could not welcome {}: {e}", operator.name);
        return;
    }

    let mut streams = JoinSet::new();
    loop {
        tokio::select! {
            stream = connection.accept_bi() => match stream {
                Ok((send, recv)) => {
                    streams.spawn(serve_stream(send, recv, operator.clone(), shared.clone()));
                }
                Err(e) => {
                    tracing::info!(%remote, operator = %operator.name, "operator disconnected: {e}");
                    break;
                }
            },
            Some(_) = streams.join_next(), if !streams.is_empty() => {}
        }
    }
}

async fn welcome(connection: &Connection, me: &NodeId, operator: &Operator) -> Result<(), FrameError> {
    let mut send = connection.open_uni().await.map_err(|e| FrameError::Write(e.into()))?;
    let message = Welcome {
        node: me.clone(),
        operator: operator.clone(),
    };
    frame::write::<_, MAX_WELCOME>(&mut send, &message).await?;
    let _ = send.finish();
    Ok(())
}

/// Asks the driver. A closed channel or a dropped reply means the node is
/// going away.
async fn ask(calls: &mpsc::Sender<Call>, operator: Operator, request: Request) -> Response {
    let (reply, answer) = oneshot::channel();
    let call = Call {
        operator,
        request,
        reply,
    };
    if calls.send(call).await.is_err() {
        return refused(SHUTTING_DOWN);
    }
    answer.await.unwrap_or_else(|_| refused(SHUTTING_DOWN))
}

fn refused(reason: impl Into<String>) -> Response {
    Response::Refused { reason: reason.into() }
}

/// Frames a response, replacing one too large for a client to read with a
/// refusal that says so.
fn encode_response(response: &Response) -> Vec<u8> {
    match frame::encode::<_, MAX_RESPONSE>(response) {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::warn!("control answer not sent: {e}");
            let refusal = refused(format!(
                "the answer is too large to send ({e}); ask for less (e.g. without --all)"
            ));
            frame::encode::<_, MAX_RESPONSE>(&refusal).unwrap_or_default()
        }
    }
}

async fn serve_stream(mut send: SendStream, mut recv: RecvStream, operator: Operator, shared: Arc<Shared>) {
    let read = tokio::time::timeout(REQUEST_TIMEOUT, frame::read::<Request, MAX_REQUEST>(&mut recv)).await;
    let Ok(read) = read else {
        let reason = format!("the request was not wholly sent within {REQUEST_TIMEOUT:?}");
        tracing::warn!(operator = %operator.name, "refused a control request: {reason}");
        let _ = recv.stop(VarInt::from_u32(close::REFUSED));
        let _ = frame::write_bytes(&mut send, &encode_response(&refused(reason))).await;
        let _ = send.finish();
        return;
    };
    let request = match read {
        Ok(Some(request)) => request,
        // Opened and finished without a word: nothing to answer.
        Ok(None) => return,
        Err(e) => {
            let reason = match &e {
                FrameError::TooLarge { len, max } => {
                    format!("the request is {len} bytes, over the {max}-byte limit; shorten the text")
                }
                FrameError::Read(_) => return,
                other => format!("the request cannot be read: {other}"),
            };
            tracing::warn!(operator = %operator.name, "refused a control request: {reason}");
            // Stop the client sending the rest, answer, and finish.
            let _ = recv.stop(VarInt::from_u32(close::REFUSED));
            let _ = frame::write_bytes(&mut send, &encode_response(&refused(reason))).await;
            let _ = send.finish();
            return;
        }
    };
    drop(recv);
    if request == Request::Query(Query::Subscribe) {
        serve_subscription(send, operator, &shared).await;
        return;
    }
    let response = ask(&shared.calls, operator, request).await;
    if frame::write_bytes(&mut send, &encode_response(&response)).await.is_ok() {
        let _ = send.finish();
    }
}

/// Subscribe to the broadcast first, then ask for the snapshot: nothing
/// pushed after the snapshot was taken can be missed.
async fn serve_subscription(mut send: SendStream, operator: Operator, shared: &Shared) {
    let mut changes = shared.pushed.subscribe();
    let name = operator.name.clone();
    let first = ask(&shared.calls, operator, Request::Query(Query::Subscribe)).await;
    let subscribed = matches!(first, Response::Snapshot { .. });
    if frame::write_bytes(&mut send, &encode_response(&first)).await.is_err() || !subscribed {
        let _ = send.finish();
        return;
    }
    tracing::debug!(operator = %name, "subscribed");
    let stopped = send.stopped();
    tokio::pin!(stopped);
    loop {
        let change = tokio::select! {
            biased;
            _ = &mut stopped => break,
            change = changes.recv() => change,
        };
        let pushed = match change {
            Ok(pushed) => pushed,
            Err(broadcast::error::RecvError::Lagged(missed)) => Pushed {
                at: liandong_control::clock::now(),
                notice: Notice::Lagged { missed },
            },
            Err(broadcast::error::RecvError::Closed) => {
                let _ = send.finish();
                break;
            }
        };
        // While this waits on a slow reader, the broadcast moves on and the
        // next receive reports what was missed.
        if frame::write_bytes(&mut send, &encode_response(&Response::Pushed(pushed)))
            .await
            .is_err()
        {
            break;
        }
    }
    tracing::debug!(operator = %name, "subscription ended");
}
