//! One delivery attempt: a POST of the event's body to the subscriber's
//! URL over a new connection (HTTP/1.1, plain or TLS 1.2/1.3 with rustls
//! and ring; the public web roots, or the subscription's own CA file),
//! bounded by [`ATTEMPT_TIMEOUT`] from dial to status line. Only the
//! status is read: a 2xx delivers, anything else (or no answer) is a
//! failure in words for the status and the log.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use hyper::Uri;
use hyper::header::{CONNECTION, CONTENT_TYPE, HOST, USER_AGENT};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::sign::{EVENT_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, signature};

/// The longest one attempt may take, from dial to the status line.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// What is POSTed.
pub struct Attempt<'a> {
    pub url: &'a str,
    pub ca: Option<&'a Path>,
    pub secret: &'a str,
    pub event: &'a str,
    pub body: &'a str,
    /// Unix seconds, signed with the body.
    pub timestamp: u64,
}

/// Makes attempts; keeps one TLS client config per CA file (the public
/// roots under `None`).
#[derive(Default)]
pub struct Poster {
    tls: Mutex<HashMap<Option<PathBuf>, Arc<rustls::ClientConfig>>>,
}

impl Poster {
    /// POSTs `attempt`: the status if the receiver answered 2xx, else why not.
    pub async fn post(&self, attempt: &Attempt<'_>) -> Result<u16, String> {
        match tokio::time::timeout(ATTEMPT_TIMEOUT, self.exchange(attempt)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(format!("no answer within {} s", ATTEMPT_TIMEOUT.as_secs())),
        }
    }

    async fn exchange(&self, attempt: &Attempt<'_>) -> Result<u16, String> {
        let uri: Uri = attempt.url.parse().map_err(|e| format!("bad URL: {e}"))?;
        let host = uri.host().ok_or("bad URL: no host")?.to_owned();
        let https = uri.scheme_str() == Some("https");
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let bare = host.trim_start_matches('[').trim_end_matches(']').to_owned();
        let tcp = TcpStream::connect((bare.as_str(), port))
            .await
            .map_err(|e| format!("cannot connect to {host}:{port}: {e}"))?;
        let _ = tcp.set_nodelay(true);
        if https {
            let name = ServerName::try_from(bare.clone()).map_err(|e| format!("bad host {host}: {e}"))?;
            let tls = TlsConnector::from(self.tls_config(attempt.ca)?)
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS with {host}:{port}: {e}"))?;
            send(tls, &uri, attempt).await
        } else {
            send(tcp, &uri, attempt).await
        }
    }

    fn tls_config(&self, ca: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, String> {
        let mut held = self.tls.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let key = ca.map(Path::to_path_buf);
        if let Some(config) = held.get(&key) {
            return Ok(config.clone());
        }
        let mut roots = rustls::RootCertStore::empty();
        match ca {
            Some(path) => {
                let certs = liandong_certs::load_certificates(path).map_err(|e| e.to_string())?;
                for c in certs {
                    roots.add(c).map_err(|e| format!("CA file {}: {e}", path.display()))?;
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        let mut config = rustls::ClientConfig::builder_with_provider(liandong_certs::tls::provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let config = Arc::new(config);
        held.insert(key, config.clone());
        Ok(config)
    }
}

async fn send<S>(stream: S, uri: &Uri, attempt: &Attempt<'_>) -> Result<u16, String>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP: {e}"))?;
    // Drives the connection until the exchange ends (dropped with it).
    let driver = tokio::spawn(connection);
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let host = uri.authority().map_or("", |a| a.as_str());
    let request = hyper::Request::post(path)
        .header(HOST, host)
        .header(CONTENT_TYPE, "application/json")
        .header(USER_AGENT, concat!("liandong/", env!("CARGO_PKG_VERSION")))
        .header(CONNECTION, "close")
        .header(EVENT_ID_HEADER, attempt.event)
        .header(TIMESTAMP_HEADER, attempt.timestamp.to_string())
        .header(
            SIGNATURE_HEADER,
            signature(attempt.secret, attempt.timestamp, attempt.body.as_bytes()),
        )
        .body(Body::from(attempt.body.to_owned()))
        .map_err(|e| format!("request: {e}"))?;
    let outcome = sender.send_request(request).await;
    driver.abort();
    let status = outcome.map_err(|e| format!("HTTP: {e}"))?.status();
    if status.is_success() {
        Ok(status.as_u16())
    } else {
        Err(format!("answered {status}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// An HTTPS receiver on 127.0.0.1 with its own CA (a self-signed
    /// certificate for the address, written to `ca`) answering `status`
    /// to each request.
    async fn https_receiver(ca: &Path, status: u16) -> std::net::SocketAddr {
        let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
        std::fs::write(ca, cert.cert.pem()).unwrap();
        let key = rustls::pki_types::PrivateKeyDer::try_from(cert.signing_key.serialize_der()).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(liandong_certs::tls::provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.cert.der().clone()], key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    continue;
                };
                let mut seen = Vec::new();
                let mut buf = [0u8; 4096];
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let answer = format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                let _ = tls.write_all(answer.as_bytes()).await;
                let _ = tls.shutdown().await;
            }
        });
        addr
    }

    fn attempt<'a>(url: &'a str, ca: Option<&'a Path>) -> Attempt<'a> {
        Attempt {
            url,
            ca,
            secret: "whsec_0",
            event: "00",
            body: "{}",
            timestamp: 1,
        }
    }

    #[tokio::test]
    async fn https_receivers_are_trusted_by_their_ca_file_not_by_default() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        let addr = https_receiver(&ca, 204).await;
        let url = format!("https://{addr}/events");
        let poster = Poster::default();
        assert_eq!(poster.post(&attempt(&url, Some(&ca))).await, Ok(204));
        let untrusted = poster.post(&attempt(&url, None)).await.unwrap_err();
        assert!(untrusted.starts_with("TLS with"), "{untrusted}");
    }

    #[tokio::test]
    async fn a_non_2xx_or_no_listener_is_a_failure_in_words() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        let addr = https_receiver(&ca, 503).await;
        let poster = Poster::default();
        let url = format!("https://{addr}/events");
        let failed = poster.post(&attempt(&url, Some(&ca))).await.unwrap_err();
        assert!(failed.contains("503"), "{failed}");
        let nobody = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap();
        let refused = poster
            .post(&attempt(&format!("http://{nobody}/"), None))
            .await
            .unwrap_err();
        assert!(refused.starts_with("cannot connect"), "{refused}");
    }
}
