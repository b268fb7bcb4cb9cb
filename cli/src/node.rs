//! `liandong node run` and `liandong audit`: run a center's node; check its
//! audit log.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Subcommand, ValueEnum};
use liandong_node::observe::{LogFormat, init_logging};
use liandong_node::runtime::{Node, NodeConfig};
use liandong_node::store::{Durable, StoreLocation, StoreOptions};
use liandong_topology::NodeId;

use crate::topology;

#[derive(Subcommand)]
pub enum NodeCommand {
    /// Run this center's node until interrupted (Ctrl-C or SIGTERM).
    #[command(
        after_help = "Example:\n  liandong node run --topology demo.toml --id 350100 --certs certs --data data/350100"
    )]
    Run(RunArgs),
}

#[derive(clap::Args)]
pub struct RunArgs {
    /// The federation's topology file.
    #[arg(long)]
    topology: PathBuf,
    /// This center's id (division code), as in the topology.
    #[arg(long)]
    id: String,
    /// The certificate directory: the federation's (nodes/<id>/node.pem,
    /// ca.pem, revoked.toml) or this node's own (node.pem, node.key, ca.pem).
    #[arg(long)]
    certs: PathBuf,
    /// The node's data directory (the SQLite store node.db lives here).
    #[arg(long)]
    data: PathBuf,
    /// Store in PostgreSQL instead of SQLite: postgres://user@host/db.
    #[arg(long)]
    database: Option<String>,
    /// Listen for other nodes here instead of the topology's address.
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// The control API's address (default 127.0.0.1 at the link port + 1000).
    #[arg(long)]
    control: Option<SocketAddr>,
    /// Serve Prometheus metrics at http://ADDR/metrics.
    #[arg(long)]
    metrics: Option<SocketAddr>,
    /// Log lines for people or JSON for log shippers.
    #[arg(long, value_enum, default_value_t = LogStyle::Human)]
    log_format: LogStyle,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogStyle {
    Human,
    Json,
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain of a node's audit log: every entry is there and unaltered.
    #[command(after_help = "Example:\n  liandong audit verify --id 350100 --data data/350100")]
    Verify(AuditArgs),
    /// Print the latest entries of a node's audit log.
    Show {
        #[command(flatten)]
        at: AuditArgs,
        /// How many entries.
        #[arg(long, default_value_t = 50)]
        last: u32,
    },
}

#[derive(clap::Args)]
pub struct AuditArgs {
    /// The node whose log it is.
    #[arg(long)]
    id: String,
    /// The node's data directory.
    #[arg(long)]
    data: PathBuf,
    /// The node's PostgreSQL database, if it does not use SQLite.
    #[arg(long)]
    database: Option<String>,
}

pub fn run(cmd: NodeCommand) -> anyhow::Result<()> {
    match cmd {
        NodeCommand::Run(args) => run_node(args),
    }
}

fn run_node(args: RunArgs) -> anyhow::Result<()> {
    init_logging(match args.log_format {
        LogStyle::Human => LogFormat::Human,
        LogStyle::Json => LogFormat::Json,
    });
    let topology = Arc::new(topology::load(&args.topology)?);
    let id = NodeId::parse(&args.id).with_context(|| format!("--id {:?}", args.id))?;
    if topology.get(&id).is_none() {
        bail!("node {id} is not in the topology {}", args.topology.display());
    }
    let mut config = NodeConfig::new(topology, id, &args.certs, &args.data, args.database.as_deref())?;
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(control) = args.control {
        config.control = control;
    }
    config.metrics = args.metrics;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let node = Node::start(config).await?;
        wait_for_signal().await;
        eprintln!("stopping");
        node.shutdown().await;
        anyhow::Ok(())
    })
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

pub fn audit(cmd: AuditCommand) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        match cmd {
            AuditCommand::Verify(at) => {
                let store = open(&at).await?;
                let check = store.verify_audit().await?;
                println!(
                    "audit log of {} intact: {} entries, last hash {}",
                    at.id,
                    check.entries,
                    hex(&check.last_hash)
                );
                store.close().await;
            }
            AuditCommand::Show { at, last } => {
                let store = open(&at).await?;
                for row in store.audit_tail(last).await? {
                    println!("{:>8}  {}  {}", row.seq, format_time(row.at.0), row.what);
                }
                store.close().await;
            }
        }
        anyhow::Ok(())
    })
}

async fn open(at: &AuditArgs) -> anyhow::Result<Durable> {
    let id = NodeId::parse(&at.id).with_context(|| format!("--id {:?}", at.id))?;
    let location = StoreLocation::choose(at.database.as_deref(), &at.data)?;
    if let StoreLocation::Sqlite(path) = &location
        && !path.is_file()
    {
        bail!("no store at {}: is --data the node's data directory?", path.display());
    }
    Ok(Durable::open(&location, &id, StoreOptions::default()).await?)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Milliseconds since the epoch as RFC 3339 UTC.
fn format_time(ms: u64) -> String {
    let t = liandong_certs::time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(liandong_certs::time::OffsetDateTime::UNIX_EPOCH);
    liandong_certs::rfc3339(t)
}
