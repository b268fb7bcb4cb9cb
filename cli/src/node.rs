//! `liandong node init|run` and `liandong audit`: write a center's config
//! file, run its node, check its audit log.
//!
//! One file per job: `init` (`node init`: the machine's `node.toml`),
//! `run` (`node run`: flags and config file into one `Settings`, the
//! node until a stop signal), `reload` (what SIGHUP does to a node run
//! with `--config`); the audit commands are here.
//!
//! It never makes a protocol decision and never changes a running node
//! but through `liandong-node`'s `Node` handle.

mod init;
mod reload;
mod run;

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Subcommand;
use liandong_node::store::{Durable, StoreLocation, StoreOptions};
use liandong_topology::NodeId;

pub use init::InitArgs;
pub use run::RunArgs;

#[derive(Subcommand)]
pub enum NodeCommand {
    /// Write this machine's config file (node.toml), so that `node run --config FILE` is the whole command.
    #[command(after_help = init::EXAMPLES)]
    Init(InitArgs),
    /// Run this center's node until interrupted (Ctrl-C or SIGTERM); with --config, SIGHUP re-reads the file.
    #[command(after_help = run::EXAMPLES)]
    Run(RunArgs),
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
        NodeCommand::Init(args) => init::run(args),
        NodeCommand::Run(args) => run::run(args),
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
