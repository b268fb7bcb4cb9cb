//! `liandong gateway`: the gateway's API tokens, on the center's own
//! machine (`token issue|revoke|list`, over the token file in the node's
//! data directory; a running node reads it again when it changes, so an
//! issued token works and a revoked one stops working without a restart).
//! It prints a token once, when it is issued; the file keeps only a hash.
//! `webhook add|list|remove` (in `webhook`) does the same for the systems
//! this center sends its events to.

mod webhook;

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use liandong_certs::time::OffsetDateTime;
use liandong_node::gateway::tokens::{Scope, TOKENS_FILE, Tokens};

#[derive(Subcommand)]
pub enum GatewayCommand {
    /// The gateway's API tokens (issued to hotlines, apps and member units' systems).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Webhook subscriptions: systems told of this center's events (signed POSTs, retried until accepted).
    #[command(subcommand)]
    Webhook(webhook::WebhookCommand),
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Issue a token to a system: it acts as this center with the scopes given, and is shown once.
    #[command(
        after_help = "Example:\n  liandong gateway token issue --data /var/lib/liandong --name 12345热线 \
        --scope report,read"
    )]
    Issue {
        /// The node's data directory (where gateway-tokens.toml lives).
        #[arg(long)]
        data: PathBuf,
        /// The system, as people write it: the reporter of what it files.
        #[arg(long)]
        name: String,
        /// What it may do: report, read (comma-separated).
        #[arg(long, value_delimiter = ',', default_value = "report")]
        scope: Vec<String>,
    },
    /// Revoke a token by its id (the 8 hex digits `list` shows): refused from the next request.
    Revoke {
        #[arg(long)]
        data: PathBuf,
        id: String,
    },
    /// List the tokens issued here (never their secrets).
    List {
        #[arg(long)]
        data: PathBuf,
    },
}

pub fn run(cmd: GatewayCommand) -> anyhow::Result<()> {
    let now = liandong_certs::rfc3339(OffsetDateTime::now_utc());
    let cmd = match cmd {
        GatewayCommand::Token(cmd) => cmd,
        GatewayCommand::Webhook(cmd) => return webhook::run(cmd, now),
    };
    match cmd {
        TokenCommand::Issue { data, name, scope } => {
            let scopes = scope.iter().map(|s| Scope::parse(s)).collect::<Result<Vec<_>, _>>()?;
            let path = data.join(TOKENS_FILE);
            let mut tokens = Tokens::load(&path)?;
            let (token, whole) = tokens.issue(&name, scopes, now)?;
            std::fs::create_dir_all(&data).with_context(|| format!("cannot create {}", data.display()))?;
            tokens.save(&path)?;
            println!("{whole}");
            eprintln!(
                "issued token {} to {} ({}); it is shown only now: give it to the system",
                token.id,
                token.name,
                scope_names(&token.scopes)
            );
            Ok(())
        }
        TokenCommand::Revoke { data, id } => {
            let path = data.join(TOKENS_FILE);
            let mut tokens = Tokens::load(&path)?;
            let name = tokens.revoke(&id, now)?.name.clone();
            tokens.save(&path)?;
            println!("revoked token {id} of {name}: refused from its next request");
            Ok(())
        }
        TokenCommand::List { data } => {
            let tokens = Tokens::load(&data.join(TOKENS_FILE))?;
            if tokens.tokens.is_empty() {
                println!("no tokens issued");
            }
            for t in &tokens.tokens {
                let state = t
                    .revoked
                    .as_ref()
                    .map_or("active".to_owned(), |at| format!("revoked {at}"));
                println!(
                    "{}  {}  {}  issued {}  {state}",
                    t.id,
                    t.name,
                    scope_names(&t.scopes),
                    t.issued
                );
            }
            Ok(())
        }
    }
}

fn scope_names(scopes: &[Scope]) -> String {
    scopes.iter().map(|s| s.name()).collect::<Vec<_>>().join(",")
}
