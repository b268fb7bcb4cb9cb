//! The two doors into one node, and one run through a door.
//!
//! - HTTP: `POST /v1/reports` over HTTPS as a hotline's system files,
//!   JSON with `Authorization: Bearer <token>` and an `Idempotency-Key` of
//!   its own per report, on a keep-alive HTTP/1.1 connection (hyper's
//!   client connection over tokio-rustls, ring, TLS 1.3), trusting only
//!   the gateway's certificate.
//! - Control: `Act::Report` on a control API connection (QUIC, mutual TLS
//!   with an operator certificate), as the CLI's `report` files.
//!
//! A run opens one connection per worker before its clock starts, then the
//! workers take report numbers from a shared counter until `reports` are
//! taken or the run's time is up; each request's latency is from sending
//! it to its answer. A request that fails (an answer other than 201 or
//! Done, a broken connection, [`REQUEST_TIMEOUT`]) is counted as failed,
//! never retried; a broken HTTP connection is dialled again (at most
//! [`MAX_REDIALS`] times per worker).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, StatusCode, header};
use hyper_util::rt::TokioIo;
use liandong_control::proto::{Request, Response};
use liandong_control::{Act, ControlClient};
use liandong_dispatch::wire::{Category, Mode};
use liandong_topology::Severity;
use tokio::net::TcpStream;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;

use super::REQUEST_TIMEOUT;
use super::figures::RunFigures;

/// Most times a worker dials the gateway again after its connection broke.
const MAX_REDIALS: usize = 3;
/// Longest a worker's connection may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The name in the gateway's certificate.
pub(crate) const GATEWAY_NAME: &str = "localhost";

/// The door a run files through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    /// The control API (QUIC, operator certificate).
    Control,
    /// The gateway's JSON API (HTTPS, API token).
    Http,
}

impl Door {
    pub fn name(self) -> &'static str {
        match self {
            Door::Control => "control",
            Door::Http => "HTTP",
        }
    }
}

/// How to reach the node through either door.
pub(crate) struct Dial {
    pub(crate) gateway: SocketAddr,
    /// Trusts the gateway's certificate only.
    pub(crate) tls: TlsConnector,
    /// `Authorization: Bearer` value.
    pub(crate) token: String,
    pub(crate) control: SocketAddr,
    /// The federation CA, and an operator's certificate and key.
    pub(crate) ca: PathBuf,
    pub(crate) cert: PathBuf,
    pub(crate) key: PathBuf,
}

/// A hyper client connection: the sender, and the task driving the connection.
struct HttpConn {
    sender: SendRequest<Full<Bytes>>,
    driver: JoinHandle<()>,
}

impl Drop for HttpConn {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// One worker's connection through its door.
enum Conn {
    Control(ControlClient),
    Http(HttpConn),
}

async fn connect(dial: &Dial, door: Door) -> anyhow::Result<Conn> {
    let conn = async {
        match door {
            Door::Control => Ok(Conn::Control(
                ControlClient::connect_with_files(dial.control, &dial.ca, &dial.cert, &dial.key).await?,
            )),
            Door::Http => Ok(Conn::Http(connect_http(dial).await?)),
        }
    };
    tokio::time::timeout(CONNECT_TIMEOUT, conn)
        .await
        .map_err(|_| anyhow::anyhow!("{} door: no connection within {CONNECT_TIMEOUT:?}", door.name()))?
}

async fn connect_http(dial: &Dial) -> anyhow::Result<HttpConn> {
    let tcp = TcpStream::connect(dial.gateway)
        .await
        .with_context(|| format!("cannot reach the gateway at {}", dial.gateway))?;
    tcp.set_nodelay(true)?;
    let name = ServerName::try_from(GATEWAY_NAME)?;
    let tls = dial.tls.connect(name, tcp).await.context("TLS with the gateway")?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .context("HTTP/1.1 with the gateway")?;
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(HttpConn { sender, driver })
}

const TITLE: &str = "压测：小区路灯不亮";
const DETAIL: &str = "网格员巡查发现东街口小区三盏路灯不亮（压测报告，无需处置）";
const PLACE: &str = "鼓楼区东街口";

/// Files report `i` of run `run`; the id the node gave it (32 hex digits).
async fn file(conn: &mut Conn, dial: &Dial, run: usize, i: usize) -> Result<String, String> {
    let title = format!("{TITLE} #{run}-{i}");
    match conn {
        Conn::Control(client) => {
            let act = Act::Report {
                severity: Severity::Routine,
                category: Category::Request,
                title,
                detail: DETAIL.into(),
                place: PLACE.into(),
                mode: Mode::Exercise,
            };
            match client.call(Request::Act(act)).await {
                Ok(Response::Done { id, .. }) => Ok(format!("{:032x}", id.0)),
                Ok(other) => Err(format!("the node answered {other:?}")),
                Err(e) => Err(e.to_string()),
            }
        }
        Conn::Http(http) => {
            let body = serde_json::json!({
                "severity": "Routine",
                "category": "Request",
                "title": title,
                "detail": DETAIL,
                "place": PLACE,
                "mode": "Exercise",
            });
            let request = hyper::Request::builder()
                .method(Method::POST)
                .uri("/v1/reports")
                .header(header::HOST, format!("{GATEWAY_NAME}:{}", dial.gateway.port()))
                .header(header::AUTHORIZATION, format!("Bearer {}", dial.token))
                .header(header::CONTENT_TYPE, "application/json")
                .header("Idempotency-Key", format!("bench-{run}-{i}"))
                .body(Full::new(Bytes::from(body.to_string())))
                .map_err(|e| e.to_string())?;
            http.sender.ready().await.map_err(|e| e.to_string())?;
            let response = http.sender.send_request(request).await.map_err(|e| e.to_string())?;
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .to_bytes();
            let answer: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            match (status, answer["id"].as_str()) {
                (StatusCode::CREATED, Some(id)) => Ok(id.to_owned()),
                _ => Err(format!("{status}: {}", String::from_utf8_lossy(&body))),
            }
        }
    }
}

/// What one worker did.
struct Tally {
    micros: Vec<u64>,
    failed: usize,
    first_error: Option<String>,
    last_id: Option<String>,
    conn: Option<Conn>,
}

/// One worker: files reports until none are left or the run's time is up.
async fn work(
    dial: Arc<Dial>,
    mut conn: Conn,
    run: usize,
    next: Arc<AtomicUsize>,
    reports: usize,
    until: Instant,
) -> Tally {
    let mut tally = Tally {
        micros: Vec::new(),
        failed: 0,
        first_error: None,
        last_id: None,
        conn: None,
    };
    let mut redials = 0;
    loop {
        if Instant::now() >= until {
            break;
        }
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= reports {
            break;
        }
        let sent = Instant::now();
        let (answer, timed_out) = match tokio::time::timeout(REQUEST_TIMEOUT, file(&mut conn, &dial, run, i)).await {
            Ok(answer) => (answer, false),
            Err(_) => (Err(format!("no answer within {REQUEST_TIMEOUT:?}")), true),
        };
        match answer {
            Ok(id) => {
                tally.micros.push(sent.elapsed().as_micros() as u64);
                tally.last_id = Some(id);
            }
            Err(e) => {
                tally.failed += 1;
                tally.first_error.get_or_insert(e);
                // A broken HTTP connection (or one left mid-request) is dialled again.
                let broken = matches!(&conn, Conn::Http(http) if timed_out || http.sender.is_closed());
                if broken {
                    redials += 1;
                    if redials > MAX_REDIALS {
                        break;
                    }
                    match connect(&dial, Door::Http).await {
                        Ok(fresh) => conn = fresh,
                        Err(e) => {
                            tally.first_error.get_or_insert(e.to_string());
                            break;
                        }
                    }
                }
            }
        }
    }
    tally.conn = Some(conn);
    tally
}

/// Files `reports` reports through `door`, `concurrency` at a time, no new
/// one after `limit` from the start; run number `run` keys them.
pub(crate) async fn run_door(
    dial: &Arc<Dial>,
    door: Door,
    run: usize,
    reports: usize,
    concurrency: usize,
    limit: Duration,
) -> anyhow::Result<RunFigures> {
    let workers = concurrency.clamp(1, reports.max(1));
    let mut conns = Vec::with_capacity(workers);
    for _ in 0..workers {
        conns.push(connect(dial, door).await?);
    }
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let until = start + limit;
    let mut set = JoinSet::new();
    for conn in conns {
        set.spawn(work(dial.clone(), conn, run, next.clone(), reports, until));
    }
    let mut tallies = Vec::with_capacity(workers);
    while let Some(done) = set.join_next().await {
        tallies.push(done.context("a bench worker panicked")?);
    }
    let elapsed = start.elapsed();
    let mut micros: Vec<u64> = tallies.iter().flat_map(|t| t.micros.iter().copied()).collect();
    micros.sort_unstable();
    let failed = tallies.iter().map(|t| t.failed).sum();
    let first_error = tallies.iter().find_map(|t| t.first_error.clone());
    let sample = tallies.iter().find_map(|t| t.last_id.clone());
    let closing: Vec<ControlClient> = tallies
        .into_iter()
        .filter_map(|t| match t.conn {
            Some(Conn::Control(c)) => Some(c),
            _ => None,
        })
        .collect();
    // Closing tells the node at once; bounded, and not measured.
    let close_all = async {
        for c in &closing {
            c.close().await;
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), close_all).await;
    Ok(RunFigures {
        door,
        run,
        asked: reports,
        accepted: micros.len(),
        failed,
        elapsed,
        micros,
        first_error,
        sample,
    })
}
