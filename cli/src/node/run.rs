//! `liandong node run`: a center's node from its config file
//! (`--config`), from flags, or from both (a flag overrides the file's
//! value). Both become one `Settings`, so the file and the equivalent
//! flags run the same node. Runs until SIGINT or SIGTERM; with
//! `--config`, SIGHUP re-reads the file (`reload`).
//!
//! It never reads the file again but on SIGHUP, and never starts a node
//! whose settings did not all check.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use clap::ValueEnum;
use liandong_certs::pki_types::UnixTime;
use liandong_certs::{RevocationList, Revocations, Verifier, load_ca_certificate};
use liandong_node::federation;
use liandong_node::observe::{LogControl, LogFormat};
use liandong_node::runtime::{CertPaths, DEFAULT_LOG_FILTER, GatewaySettings, Node, NodeConfig, Settings};
use liandong_node::store::StoreLocation;
use liandong_topology::NodeId;
use tokio::signal::unix::{Signal, SignalKind, signal};

use super::reload::Reloader;
use crate::topology;

pub(super) const EXAMPLES: &str = "\
Examples:
  liandong node run --config /etc/liandong/node.toml
  liandong node run --config node.toml --log-format json   (a flag overrides the file)
  liandong node run --topology demo.toml --id 350100 --certs certs --data data/350100

With --config, SIGHUP (systemctl reload liandong) re-reads the file: parent,
metrics, log_format and log_filter change at once; a change to another field
is logged as needing a restart; a broken file is logged with its line and
column and the node keeps what it runs on. RUST_LOG, when set, overrides
the file's log_filter. SIGHUP also takes a renewed certificate (liandong certs
renew) without a restart, with or without --config.";

#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// The machine's config file (`liandong node init` writes it). A flag
    /// given with it overrides the file's value, at start and at every
    /// reload (SIGHUP).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(flatten)]
    flags: Flags,
}

/// The flags that stand for a config file's fields (or override them).
#[derive(clap::Args, Debug, Clone)]
pub(super) struct Flags {
    /// The federation's topology file (the file's `topology`), for a
    /// federation run without a signed document.
    #[arg(long, value_name = "FILE")]
    topology: Option<PathBuf>,
    /// The signed federation document to start on (FILE.sig beside it; the
    /// file's `document`). Once a node holds a document in its store it
    /// needs neither this nor --topology.
    #[arg(long, value_name = "FILE")]
    document: Option<PathBuf>,
    /// This center's id (division code), as in the topology.
    #[arg(long, required_unless_present = "config")]
    id: Option<String>,
    /// The certificate directory: the federation's (nodes/<id>/node.pem,
    /// ca.pem, revoked.toml) or this node's own (node.pem, node.key, ca.pem).
    #[arg(long, value_name = "DIR", required_unless_present = "config")]
    certs: Option<PathBuf>,
    /// The node's data directory (the SQLite store node.db lives here).
    #[arg(long, value_name = "DIR", required_unless_present = "config")]
    data: Option<PathBuf>,
    /// Store in PostgreSQL instead of SQLite: postgres://user@host/db (the
    /// file's `store`).
    #[arg(long, value_name = "URL")]
    database: Option<String>,
    /// Listen for other nodes here instead of the topology's address.
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// Dial the parent here instead of at its topology address.
    #[arg(long, value_name = "ADDR")]
    parent: Option<SocketAddr>,
    /// The control API's address (default: loopback at the link port + 1000).
    #[arg(long, value_name = "ADDR")]
    control: Option<SocketAddr>,
    /// Serve Prometheus metrics at http://ADDR/metrics.
    #[arg(long, value_name = "ADDR")]
    metrics: Option<SocketAddr>,
    /// Log lines for people (text; `human` works too) or JSON for log
    /// shippers (default: text).
    #[arg(long, value_enum)]
    log_format: Option<LogStyle>,
    /// Serve the gateway (HTTPS for hotlines, apps and member units'
    /// systems) at ADDR, e.g. 0.0.0.0:8443, with --gateway-cert and
    /// --gateway-key; tokens: `liandong gateway token issue --data DATA`.
    #[arg(long, value_name = "ADDR", requires_all = ["gateway_cert", "gateway_key"])]
    gateway: Option<SocketAddr>,
    /// The gateway's TLS certificate chain (PEM), for the name its systems dial.
    #[arg(long, value_name = "FILE", requires = "gateway")]
    gateway_cert: Option<PathBuf>,
    /// The gateway's TLS key (PEM, mode 0600).
    #[arg(long, value_name = "FILE", requires = "gateway")]
    gateway_key: Option<PathBuf>,
    /// The largest photo the gateway takes, in MiB (1 to 32; default 5).
    #[arg(long, value_name = "MIB", value_parser = clap::value_parser!(u64).range(1..=32))]
    gateway_photo_max_mib: Option<u64>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub(super) enum LogStyle {
    #[value(alias = "human")]
    Text,
    Json,
}

impl LogStyle {
    pub(super) fn format(self) -> LogFormat {
        match self {
            LogStyle::Text => LogFormat::Human,
            LogStyle::Json => LogFormat::Json,
        }
    }
}

impl RunArgs {
    /// The settings these arguments stand for: the config file's, if
    /// given, with every flag given put over it.
    fn settings(&self) -> anyhow::Result<Settings> {
        let mut settings = match &self.config {
            Some(file) => Settings::load(file)?,
            None => self.flags.alone()?,
        };
        self.flags.put_over(&mut settings)?;
        Ok(settings)
    }
}

impl Flags {
    /// The settings the flags make without a config file: the required
    /// flags, every optional field unset (`put_over` adds those given).
    fn alone(&self) -> anyhow::Result<Settings> {
        let (Some(id), Some(data), Some(certs)) = (&self.id, &self.data, &self.certs) else {
            bail!("without --config, --id, --certs and --data are required");
        };
        Ok(Settings {
            id: parse_id(id)?,
            listen: None,
            parent: None,
            data: data.clone(),
            store: None,
            control: None,
            metrics: None,
            log_format: LogFormat::Human,
            log_filter: None,
            certs: certs.clone(),
            topology: None,
            document: None,
            gateway: None,
        })
    }

    /// Puts every flag given over `settings` (a config file's, at start
    /// or at a reload).
    pub(super) fn put_over(&self, settings: &mut Settings) -> anyhow::Result<()> {
        if let Some(id) = &self.id {
            settings.id = parse_id(id)?;
        }
        if let Some(topology) = &self.topology {
            settings.topology = Some(topology.clone());
        }
        if let Some(document) = &self.document {
            settings.document = Some(document.clone());
        }
        if let Some(certs) = &self.certs {
            settings.certs = certs.clone();
        }
        if let Some(data) = &self.data {
            settings.data = data.clone();
        }
        if let Some(database) = &self.database {
            settings.store = Some(database.clone());
        }
        settings.listen = self.listen.or(settings.listen);
        settings.parent = self.parent.or(settings.parent);
        settings.control = self.control.or(settings.control);
        settings.metrics = self.metrics.or(settings.metrics);
        if let Some(style) = self.log_format {
            settings.log_format = style.format();
        }
        if let (Some(listen), Some(cert), Some(key)) = (self.gateway, &self.gateway_cert, &self.gateway_key) {
            settings.gateway = Some(GatewaySettings {
                listen,
                cert: cert.clone(),
                key: key.clone(),
                photo_max: self
                    .gateway_photo_max_mib
                    .map_or(liandong_node::gateway::DEFAULT_PHOTO_MAX, |mib| mib << 20),
            });
        } else if let (Some(gateway), Some(mib)) = (settings.gateway.as_mut(), self.gateway_photo_max_mib) {
            gateway.photo_max = mib << 20;
        }
        Ok(())
    }
}

fn parse_id(id: &str) -> anyhow::Result<NodeId> {
    NodeId::parse(id).with_context(|| format!("--id {id:?}"))
}

/// The log filter in force for `settings`: `RUST_LOG` if set (it overrides
/// the file, as a flag does), else the file's `log_filter`, else `info`.
pub(super) fn log_filter(settings: &Settings) -> String {
    match std::env::var("RUST_LOG") {
        Ok(env) if !env.trim().is_empty() => env,
        _ => settings
            .log_filter
            .clone()
            .unwrap_or_else(|| DEFAULT_LOG_FILTER.to_owned()),
    }
}

pub(super) fn run(args: RunArgs) -> anyhow::Result<()> {
    let settings = args.settings()?;
    let filter = log_filter(&settings);
    let logs = LogControl::install(settings.log_format, &filter).context("RUST_LOG or log_filter")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let config = runtime.block_on(node_config(&settings))?;
    runtime.block_on(async move {
        // Before the node starts: a SIGHUP that comes early must not kill it.
        let mut signals = Signals::listen(true)?;
        let mut node = Node::start(config).await?;
        let mut reloader = args
            .config
            .map(|file| Reloader::new(file, args.flags.clone(), settings, logs));
        loop {
            match signals.next().await {
                Wake::Stop => break,
                Wake::Reload => {
                    super::reload::check_certificate(&node).await;
                    if let Some(reloader) = &mut reloader {
                        reloader.reload(&mut node).await;
                    }
                }
            }
        }
        eprintln!("stopping");
        node.shutdown().await;
        anyhow::Ok(())
    })
}

/// The node's configuration over the topology it starts on: the signed
/// document given (checked against the CA as every node checks one; it is
/// taken in at start), else the topology file, else the newest federation
/// document in the node's store.
async fn node_config(settings: &Settings) -> anyhow::Result<NodeConfig> {
    let (topology, document, from) = if let Some(path) = &settings.document {
        let doc = federation::read_signed(path)?;
        let certs = CertPaths::locate(&settings.certs, &settings.id)?;
        let ca = load_ca_certificate(&certs.ca)?;
        let verifier = Verifier::new(ca, Revocations::new(RevocationList::new()))
            .map_err(|e| anyhow!("{}: {e}", certs.ca.display()))?;
        let checked =
            federation::check(&verifier, &doc, UnixTime::now()).map_err(|e| anyhow!("{}: {e}", path.display()))?;
        (checked.topology, Some(doc), format!("of {}", path.display()))
    } else if let Some(path) = &settings.topology {
        (Arc::new(topology::load(path)?), None, path.display().to_string())
    } else {
        let location = StoreLocation::choose(settings.store.as_deref(), &settings.data)?;
        // A store that is not there yet holds no document: say so without
        // creating one.
        let exists = !matches!(&location, StoreLocation::Sqlite(path) if !path.exists());
        let stored = if exists {
            federation::stored_document(&location, &settings.id).await?
        } else {
            None
        };
        let Some(doc) = stored else {
            bail!(
                "no topology: give the signed federation document to start on (`document` in the config file, or --document FILE) or a topology file (--topology); {location} holds no federation document yet"
            );
        };
        let text = doc.text().map_err(|e| anyhow!("the stored federation document: {e}"))?;
        let topology = liandong_topology::Topology::parse(&text, None).context("the stored federation document")?;
        (
            Arc::new(topology),
            None,
            format!("the federation document version {} in the store", doc.version),
        )
    };
    if topology.get(&settings.id).is_none() {
        bail!("node {} is not in the topology {from}", settings.id);
    }
    let mut config = settings.node_config(topology)?;
    config.document = document;
    Ok(config)
}

/// The signals `node run` acts on.
struct Signals {
    interrupt: Signal,
    terminate: Signal,
    /// Only with a config file to re-read; otherwise SIGHUP keeps its
    /// default (the process ends, as when its terminal closes).
    hangup: Option<Signal>,
}

enum Wake {
    Stop,
    Reload,
}

impl Signals {
    fn listen(reload: bool) -> anyhow::Result<Signals> {
        let listen = |kind| signal(kind).context("cannot listen for signals");
        Ok(Signals {
            interrupt: listen(SignalKind::interrupt())?,
            terminate: listen(SignalKind::terminate())?,
            hangup: if reload {
                Some(listen(SignalKind::hangup())?)
            } else {
                None
            },
        })
    }

    async fn next(&mut self) -> Wake {
        let hangup = async {
            match &mut self.hangup {
                Some(hangup) => hangup.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = self.interrupt.recv() => Wake::Stop,
            _ = self.terminate.recv() => Wake::Stop,
            _ = hangup => Wake::Reload,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        run: RunArgs,
    }

    fn args(line: &[&str]) -> RunArgs {
        Cli::try_parse_from(std::iter::once("run").chain(line.iter().copied()))
            .unwrap_or_else(|e| panic!("{line:?}: {e}"))
            .run
    }

    const FLAGS: &[&str] = &[
        "--topology",
        "/etc/liandong/topology.toml",
        "--id",
        "350102",
        "--certs",
        "/etc/liandong/certs",
        "--data",
        "/var/lib/liandong",
        "--database",
        "postgres://liandong@127.0.0.1/liandong",
        "--listen",
        "0.0.0.0:7101",
        "--parent",
        "10.35.0.1:7100",
        "--control",
        "127.0.0.1:8101",
        "--metrics",
        "127.0.0.1:9101",
        "--log-format",
        "json",
    ];

    const FILE: &str = r#"
id = "350102"
listen = "0.0.0.0:7101"
parent = "10.35.0.1:7100"
data = "/var/lib/liandong"
store = "postgres://liandong@127.0.0.1/liandong"
control = "127.0.0.1:8101"
metrics = "127.0.0.1:9101"
log_format = "json"
certs = "/etc/liandong/certs"
topology = "/etc/liandong/topology.toml"
"#;

    #[test]
    fn a_config_file_and_the_equivalent_flags_make_the_same_settings() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("node.toml");
        std::fs::write(&file, FILE).unwrap();
        let from_file = args(&["--config", file.to_str().unwrap()]).settings().unwrap();
        let from_flags = args(FLAGS).settings().unwrap();
        assert_eq!(from_file, from_flags);
    }

    #[test]
    fn a_flag_overrides_the_files_value() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("node.toml");
        std::fs::write(&file, FILE).unwrap();
        let s = args(&[
            "--config",
            file.to_str().unwrap(),
            "--metrics",
            "127.0.0.1:9999",
            "--log-format",
            "human",
        ])
        .settings()
        .unwrap();
        assert_eq!(s.metrics, Some("127.0.0.1:9999".parse().unwrap()));
        assert_eq!(s.log_format, LogFormat::Human);
        assert_eq!(
            s.listen,
            Some("0.0.0.0:7101".parse().unwrap()),
            "the rest is the file's"
        );
    }

    #[test]
    fn without_a_config_file_the_old_flags_are_required() {
        let e = Cli::try_parse_from(["run", "--id", "350100"]).err().expect("refused");
        assert_eq!(e.kind(), clap::error::ErrorKind::MissingRequiredArgument);
        let s = args(&["--topology", "t.toml", "--id", "350100", "--certs", "c", "--data", "d"])
            .settings()
            .unwrap();
        assert_eq!((s.listen, s.parent, s.store, s.metrics), (None, None, None, None));
        assert_eq!(s.topology.as_deref(), Some(std::path::Path::new("t.toml")));
    }
}
