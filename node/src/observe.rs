//! Observability: logs (tracing) and the Prometheus metrics endpoint.
//!
//! Logs are human-readable lines on stderr by default and JSON objects on
//! request; every line about an envelope carries its id, so one message
//! can be followed across every node's log.
//!
//! Metrics use the `metrics` facade with the Prometheus text exporter (no
//! HTTP stack: the node answers `GET /metrics` itself on a plain TCP port).
//! Every metric carries a `node` label, so a process hosting several nodes
//! (the demo) still tells them apart. Names:
//! - `liandong_queue_depth{node,peer}`: copies queued for a peer, unacked
//! - `liandong_link_up{node,peer}`: 1 up, 0 down
//! - `liandong_link_rtt_seconds{node,peer}`
//! - `liandong_hop_latency_seconds{node,kind}`: previous hop stored it →
//!   this node stored it
//! - `liandong_delivery_latency_seconds{node,kind}`: created at the origin →
//!   stored here
//! - `liandong_envelopes_stored_total{node,kind}`, `liandong_frames_sent_total{node,lane}`,
//!   `liandong_sends_dropped_total{node}` (no live connection or lane full:
//!   the core retries), `liandong_retries_total{node}`
//! - `liandong_sla_misses_total{node,stage}`, `liandong_refused_total{node}`
//! - `liandong_commit_seconds{node}`, `liandong_commit_records{node}`,
//!   `liandong_storage_failures_total{node}`
//!
//! `live_logs`: [`LogControl`], logs whose filter and format a config
//! reload changes while the node runs.

mod live_logs;

pub use live_logs::{LogControl, LogError};

use std::net::SocketAddr;
use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One readable line per event, for people.
    #[default]
    Human,
    /// One JSON object per event, for log shippers.
    Json,
}

/// Installs the global log subscriber: stderr, level from `RUST_LOG` or
/// `info`. Calling it twice is harmless (the second call does nothing).
pub fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours only for a person at a terminal, never in files or pipes.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none())
        .with_target(false);
    let _ = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).try_init(),
    };
}

/// Installs the global log subscriber writing readable lines to `path`
/// (appending): for programs whose terminal is taken, like the demo's
/// console. Level from `RUST_LOG` or `info`.
pub fn init_logging_to_file(path: &std::path::Path) -> std::io::Result<()> {
    use tracing_subscriber::EnvFilter;
    let file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::sync::Mutex::new(file))
        .with_ansi(false)
        .with_target(false)
        .try_init();
    Ok(())
}

/// Latency buckets in seconds: loopback hops are sub-millisecond, rural
/// links and retries reach seconds to minutes.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

/// The process-wide metrics recorder (installed on first use).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(LATENCY_BUCKETS)
                .expect("the bucket list is not empty")
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (an embedding
            // program's): then ours renders nothing, which is harmless.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Serves `GET /metrics` (any path, really) in the Prometheus text format.
/// Returns the bound address (pass port 0 to pick one) and the task.
pub async fn serve_metrics(addr: SocketAddr) -> std::io::Result<(SocketAddr, JoinHandle<()>)> {
    let handle = metrics_handle();
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            let handle = handle.clone();
            tokio::spawn(async move {
                // Read (and ignore) the request head, bounded.
                let mut buf = [0u8; 2048];
                let _ = tokio::time::timeout(std::time::Duration::from_secs(2), stream.read(&mut buf)).await;
                handle.run_upkeep();
                let body = handle.render();
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.write_all(body.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    Ok((local, task))
}
