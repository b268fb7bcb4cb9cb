//! `liandong tui`: the operator console attached to one's own node.
//!
//! Parses the connection flags (the same rules as the operator commands:
//! the key defaults to the `.key` beside the certificate, the CA to
//! `ca.pem` of the federation directory the certificate sits in), reads
//! the language and time zone, connects, and hands over to
//! [`liandong_tui::run`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use liandong_control::ControlClient;
use liandong_tui::{Lang, Options};

use crate::ops::{Connection, Target};

#[derive(Args)]
#[command(
    after_help = "Example:\n  liandong tui --node 127.0.0.1:7443 --cert fed/operators/350100/wangfang.pem\n\n\
    Press ? in the console for every key; q quits."
)]
pub struct TuiArgs {
    #[command(flatten)]
    conn: Connection,
    /// Language of the console: zh or en [default: from LANG / LC_ALL].
    #[arg(long, value_parser = lang)]
    lang: Option<Lang>,
}

/// [`TuiArgs`] checked, with the default files found.
struct Config {
    addr: SocketAddr,
    cert: PathBuf,
    key: PathBuf,
    ca: PathBuf,
    options: Options,
}

fn lang(s: &str) -> Result<Lang, String> {
    Lang::parse(s).ok_or_else(|| format!("{s:?} is not a language the console speaks: use zh or en"))
}

impl TuiArgs {
    fn config(self) -> anyhow::Result<Config> {
        let Target { addr, cert, key, ca } = self.conn.resolve()?;
        // The time zone can only be read while the process has one thread.
        let mut options = Options::local();
        if let Some(lang) = self.lang {
            options.lang = lang;
        }
        Ok(Config {
            addr,
            cert,
            key,
            ca,
            options,
        })
    }
}

pub fn run(args: TuiArgs) -> anyhow::Result<()> {
    let config = args.config()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let Config {
        addr,
        cert,
        key,
        ca,
        mut options,
    } = config;
    let (ca, cert, key) = (Arc::new(ca), Arc::new(cert), Arc::new(key));
    // After a node restart the console dials again with the same files.
    options.reconnect = Some(Arc::new(move || {
        let (ca, cert, key) = (ca.clone(), cert.clone(), key.clone());
        Box::pin(async move { ControlClient::connect_with_files(addr, &ca, &cert, &key).await })
    }));
    let connect = options.reconnect.clone().expect("just set");
    runtime.block_on(async {
        let client = connect().await?;
        liandong_tui::run(client, options).await.context("the console stopped")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages() {
        assert_eq!(lang("zh"), Ok(Lang::Zh));
        assert_eq!(lang("EN"), Ok(Lang::En));
        assert!(lang("fr").is_err());
    }
}
