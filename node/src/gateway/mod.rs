//! The gateway: a center's door for the systems where reports start (the
//! 12345 and 96966 hotlines, grid workers' phone apps, member units' own
//! systems), over HTTPS and JSON. Off unless the node is given an address
//! for it. One listener; TLS 1.3 with rustls (ring) and the certificate
//! and key the center gives the gateway (a name its systems dial, unlike
//! the node's own certificate, which names a node); every request
//! authenticated by an API token the center issued (`tokens`). What a
//! request asks becomes the same control request an operator's console
//! sends, handed to the driver (`api`): the gateway makes no protocol
//! decisions and holds no state but the tokens. Out the other way,
//! `webhooks` tells subscribed systems what happens here: signed POSTs,
//! stored with the turn that made them and retried until accepted or
//! expired (on whether or not the listener is). `status` is the gateway
//! in the node's status. Every route is described by the OpenAPI
//! document served at `/v1/openapi.json` (`openapi`), made from the same
//! code that routes it; `page` is the grid workers' page, `photos` the
//! photos sent before a report names them, `cap` CAP 1.2 alerts in from
//! warning-release platforms and incidents out as alerts.
//!
//! Connections are bounded ([`MAX_CONNECTIONS`]), each handshake and each
//! connection's idle time too; bodies are bounded before they are read.

pub mod api;
pub mod cap;
pub mod door;
pub mod open311;
pub mod openapi;
pub mod page;
pub mod photos;
pub mod reread;
pub mod routes;
pub mod schemas;
pub mod status;
pub mod tokens;
pub mod webhooks;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use liandong_certs::{load_certificates, load_private_key};
use liandong_topology::NodeId;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tracing::{debug, info, warn};

use crate::control::Call;
use crate::photos::PhotoFiles;

/// Most connections served at once; more wait in the kernel's backlog.
pub const MAX_CONNECTIONS: usize = 512;
/// Longest a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest the request headers may take to arrive.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// How to serve the gateway.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Where to listen (TCP), e.g. `0.0.0.0:8443`; port 0 picks one.
    pub listen: SocketAddr,
    /// The gateway's certificate chain (PEM) and key.
    pub cert: PathBuf,
    pub key: PathBuf,
    /// The token file (`<data>/gateway-tokens.toml`).
    pub tokens: PathBuf,
    /// Largest photo taken, in bytes ([`DEFAULT_PHOTO_MAX`] unless set).
    pub photo_max: u64,
}

/// Largest photo the gateway takes unless configured: 5 MiB.
pub const DEFAULT_PHOTO_MAX: u64 = 5 << 20;

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("gateway certificate: {0}")]
    Tls(String),
    #[error("cannot listen for the gateway on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
}

/// A running gateway.
pub struct Gateway {
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl Gateway {
    /// Binds and serves; requests go to the driver through `calls`.
    pub async fn start(
        config: GatewayConfig,
        me: NodeId,
        calls: mpsc::Sender<Call>,
        photos: PhotoFiles,
    ) -> Result<Gateway, GatewayError> {
        let tls = tls_config(&config)?;
        // Tokens issued from now on name this center (another center's
        // gateway then answers 403 for them, not 401).
        if let Err(e) = tokens::claim(&config.tokens, me.as_str()) {
            warn!(error = %e, "gateway tokens: this center's id not recorded");
        }
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|source| GatewayError::Listen {
                addr: config.listen,
                source,
            })?;
        let local_addr = listener.local_addr().map_err(|source| GatewayError::Listen {
            addr: config.listen,
            source,
        })?;
        let api = Arc::new(door::Api {
            me,
            tokens: tokens::TokenWatch::new(config.tokens.clone()),
            calls,
            photos,
            photo_max: config.photo_max,
        });
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(serve(listener, TlsAcceptor::from(tls), routes::router(api), stopped));
        info!(gateway = %local_addr, tokens = %config.tokens.display(), "gateway listening");
        Ok(Gateway {
            local_addr,
            stop,
            task: Some(task),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting and ends every connection.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

fn tls_config(config: &GatewayConfig) -> Result<Arc<rustls::ServerConfig>, GatewayError> {
    let tls = |e: String| GatewayError::Tls(e);
    let chain = load_certificates(&config.cert).map_err(|e| tls(e.to_string()))?;
    let key = load_private_key(&config.key).map_err(|e| tls(e.to_string()))?;
    let mut server = rustls::ServerConfig::builder_with_provider(liandong_certs::tls::provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| tls(format!("{} and {}: {e}", config.cert.display(), config.key.display())))?;
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(server))
}

async fn serve(listener: TcpListener, tls: TlsAcceptor, router: axum::Router, mut stopped: watch::Receiver<bool>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let permit = tokio::select! {
            _ = stopped.changed() => break,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (stream, remote) = tokio::select! {
            _ = stopped.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    warn!(error = %e, "gateway accept failed");
                    continue;
                }
            },
        };
        let (tls, router) = (tls.clone(), router.clone());
        connections.spawn(async move {
            let _permit = permit;
            let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(stream)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    debug!(%remote, error = %e, "gateway TLS handshake failed");
                    return;
                }
                Err(_) => {
                    debug!(%remote, "gateway TLS handshake timed out");
                    return;
                }
            };
            let service = TowerToHyperService::new(router);
            let served = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            if let Err(e) = served {
                debug!(%remote, error = %e, "gateway connection ended");
            }
        });
        while connections.try_join_next().is_some() {}
    }
    connections.shutdown().await;
    info!("gateway stopped");
}
