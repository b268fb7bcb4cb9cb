//! `liandong gateway webhook add|list|remove`: the systems this center
//! tells what happens here, over the subscription file in the node's data
//! directory (a running node reads it again when it changes). `add`
//! prints the new subscription's id and its signing secret, once.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Subcommand;
use liandong_node::gateway::webhooks::subscriptions::NewSubscription;
use liandong_node::gateway::webhooks::{EventKind, Subscriptions, WEBHOOKS_FILE};

#[derive(Subcommand)]
pub enum WebhookCommand {
    /// Subscribe a system's URL to this center's events; prints its id and signing secret (shown only now).
    #[command(
        after_help = "Example:\n  liandong gateway webhook add --data /var/lib/liandong --name 公安系统 \
        --url https://police.example.cn/liandong/events --events incident,order,stage,supervision\n\n\
        Each delivery is a POST of {\"id\", \"type\", \"at\", \"node\", \"data\"} with the headers \
        Liandong-Event-Id, Liandong-Timestamp (unix seconds) and Liandong-Signature: \
        sha256=<hex HMAC-SHA256(secret, timestamp + \".\" + body)>."
    )]
    Add {
        /// The node's data directory (where gateway-webhooks.toml lives).
        #[arg(long)]
        data: PathBuf,
        /// The system, as people write it.
        #[arg(long)]
        name: String,
        /// Where to POST: http:// or https://.
        #[arg(long)]
        url: String,
        /// Which events: incident, order, stage, supervision (comma-separated).
        #[arg(long, value_delimiter = ',', required = true)]
        events: Vec<String>,
        /// A CA certificate (PEM) the receiver's HTTPS certificate chains to
        /// [default: the public web roots].
        #[arg(long)]
        ca: Option<PathBuf>,
        /// Seconds a delivery is retried before it is dead-lettered.
        #[arg(long, default_value_t = 86_400)]
        expire_after: u64,
    },
    /// List the subscriptions (never their secrets); `liandong status` shows their deliveries.
    List {
        #[arg(long)]
        data: PathBuf,
    },
    /// Remove a subscription by its id: nothing more is sent to it; its pending deliveries are dead-lettered.
    Remove {
        #[arg(long)]
        data: PathBuf,
        id: String,
    },
}

pub fn run(cmd: WebhookCommand, now: String) -> anyhow::Result<()> {
    match cmd {
        WebhookCommand::Add {
            data,
            name,
            url,
            events,
            ca,
            expire_after,
        } => {
            let events = events
                .iter()
                .map(|e| {
                    EventKind::parse(e).with_context(|| {
                        format!("unknown event {e:?} (the events are incident, order, stage and supervision)")
                    })
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            if let Some(ca) = &ca
                && !ca.is_file()
            {
                bail!("no CA file {}", ca.display());
            }
            let path = data.join(WEBHOOKS_FILE);
            let mut subs = Subscriptions::load(&path)?;
            let new = NewSubscription {
                name,
                url,
                events,
                ca: ca.map(|c| std::path::absolute(&c).unwrap_or(c)),
                expire_after: Some(expire_after),
            };
            let added = subs.add(new, now)?.clone();
            std::fs::create_dir_all(&data).with_context(|| format!("cannot create {}", data.display()))?;
            subs.save(&path)?;
            println!("{} {}", added.id, added.secret);
            eprintln!(
                "subscribed {} ({}) to {}: webhook {}; its secret is shown only now: give it to the system",
                added.name,
                added.url,
                kinds(&added.events),
                added.id
            );
            Ok(())
        }
        WebhookCommand::List { data } => {
            let subs = Subscriptions::load(&data.join(WEBHOOKS_FILE))?;
            if subs.webhooks.is_empty() {
                println!("no webhook subscriptions");
            }
            for s in &subs.webhooks {
                println!(
                    "{}  {}  {}  {}  expire after {} s  added {}",
                    s.id,
                    s.name,
                    s.url,
                    kinds(&s.events),
                    s.expire_after().as_secs(),
                    s.added
                );
            }
            Ok(())
        }
        WebhookCommand::Remove { data, id } => {
            let path = data.join(WEBHOOKS_FILE);
            let mut subs = Subscriptions::load(&path)?;
            let removed = subs.remove(&id)?;
            subs.save(&path)?;
            println!(
                "removed webhook {id} of {}: nothing more is sent to {}",
                removed.name, removed.url
            );
            Ok(())
        }
    }
}

fn kinds(events: &[EventKind]) -> String {
    events.iter().map(|e| e.name()).collect::<Vec<_>>().join(",")
}
