//! `liandong cap import FILE`: a CAP 1.2 alert imported at your own node,
//! as a warning-release platform's would be over the gateway
//! (`POST /v1/cap`). The node reads the alert and decides what it becomes
//! (a report, an order to the centers below that its area names, an
//! update, a cancellation, nothing); this prints its answer. An incident
//! goes out as an alert with `liandong incident show ID --format cap`.

use std::io::Read as _;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use liandong_control::proto::{CapOutcome, MAX_CAP};
use liandong_control::{Act, Request, Response};

use crate::ops::{Connection, block_on, query, unexpected};

#[derive(Subcommand)]
pub enum CapCommand {
    /// Import a CAP 1.2 alert file at your node (`-` reads standard input).
    #[command(after_help = "Examples:\n  liandong cap import typhoon-warning.xml\n  \
        curl -s https://platform.example/alerts/123.xml | liandong cap import -")]
    Import(ImportArgs),
}

#[derive(Args)]
pub struct ImportArgs {
    /// The alert's XML file, or `-` for standard input.
    pub file: PathBuf,
    /// Print the answer as JSON: {"outcome", "id", "what"}.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub conn: Connection,
}

pub fn run(cmd: CapCommand) -> anyhow::Result<()> {
    let CapCommand::Import(args) = cmd;
    let xml = read_alert(&args.file)?;
    block_on(|_| async move {
        let answer = query(&args.conn, Request::Act(Act::ImportCap { xml })).await?;
        let done = match answer {
            Response::CapImported(done) => done,
            Response::Refused { reason } => bail!("the node refused the alert: {reason}"),
            other => return Err(unexpected(other, "CapImported")),
        };
        let id = done.id.map(|id| format!("{:032x}", id.0));
        if args.json {
            let line = serde_json::json!({ "outcome": done.outcome.name(), "id": id, "what": done.what });
            println!("{line}");
        }
        match done.outcome {
            CapOutcome::Invalid => bail!("{}", done.what),
            _ if args.json => Ok(()),
            outcome => {
                println!("{}: {}", outcome.name().replace('_', " "), done.what);
                Ok(())
            }
        }
    })
}

/// The file's bytes, refused before reading past [`MAX_CAP`].
fn read_alert(file: &PathBuf) -> anyhow::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let limit = MAX_CAP as u64 + 1;
    if file.as_os_str() == "-" {
        std::io::stdin()
            .take(limit)
            .read_to_end(&mut bytes)
            .context("cannot read the alert from standard input")?;
    } else {
        std::fs::File::open(file)
            .with_context(|| format!("cannot open {}", file.display()))?
            .take(limit)
            .read_to_end(&mut bytes)
            .with_context(|| format!("cannot read {}", file.display()))?;
    }
    if bytes.len() > MAX_CAP {
        bail!(
            "{} is over {} bytes: a CAP alert this large is not imported",
            file.display(),
            MAX_CAP
        );
    }
    Ok(bytes)
}
