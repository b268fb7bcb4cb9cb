//! `liandong tui`: the operator console attached to one's own node.
//!
//! Parses the connection flags (the same rules as the operator commands:
//! the key defaults to the `.key` beside the certificate, the CA to
//! `ca.pem` of the federation directory the certificate sits in), reads
//! the language and time zone, connects, and hands over to
//! [`liandong_tui::run`].

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use clap::Args;
use clap::error::ErrorKind;
use liandong_node::control::ControlClient;
use liandong_tui::{Lang, Options};

#[derive(Args)]
#[command(
    after_help = "Example:\n  liandong tui --node 127.0.0.1:7443 --cert fed/operators/350100/wangfang.pem\n\n\
    Press ? in the console for every key; q quits."
)]
pub struct TuiArgs {
    /// The node's control address, HOST:PORT (e.g. 127.0.0.1:7443).
    #[arg(long, env = "LIANDONG_NODE", value_name = "ADDR")]
    node: Option<String>,
    /// Your operator certificate (operators/<node>/<name>.pem).
    #[arg(long, env = "LIANDONG_CERT", value_name = "FILE")]
    cert: Option<PathBuf>,
    /// Its private key [default: the .key file beside the certificate].
    #[arg(long, env = "LIANDONG_KEY", value_name = "FILE")]
    key: Option<PathBuf>,
    /// The federation CA certificate [default: ca.pem two directories above
    /// the certificate's directory, as in a federation directory].
    #[arg(long, env = "LIANDONG_CA", value_name = "FILE")]
    ca: Option<PathBuf>,
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

fn usage_error(message: String) -> ! {
    clap::Error::raw(ErrorKind::MissingRequiredArgument, format!("{message}\n")).exit()
}

impl TuiArgs {
    fn config(self) -> anyhow::Result<Config> {
        let Some(node) = self.node else {
            usage_error("no node to attach to: pass --node HOST:PORT (your node's control address)".into())
        };
        let Some(cert) = self.cert else {
            usage_error("no operator certificate: pass --cert FILE (operators/<node>/<name>.pem)".into())
        };
        let addr = node
            .to_socket_addrs()
            .map_err(|e| anyhow!("--node {node:?} is not a control address HOST:PORT (e.g. 127.0.0.1:7443): {e}"))?
            .next()
            .with_context(|| format!("--node {node:?} resolves to no address"))?;
        let key = match self.key {
            Some(key) => key,
            None => {
                let key = cert.with_extension("key");
                if !key.exists() {
                    bail!(
                        "no key for {}: pass --key FILE (looked for {})",
                        cert.display(),
                        key.display()
                    );
                }
                key
            }
        };
        let ca = match self.ca {
            Some(ca) => ca,
            None => match default_ca(&cert) {
                Some(ca) if ca.is_file() => ca,
                looked => bail!(
                    "no CA certificate: pass --ca FILE (the federation's ca.pem){}",
                    looked
                        .map(|ca| format!("; there is none at {}", ca.display()))
                        .unwrap_or_default()
                ),
            },
        };
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

/// `DIR/operators/<node>/<name>.pem` → `DIR/ca.pem`.
fn default_ca(cert: &Path) -> Option<PathBuf> {
    let cert = std::path::absolute(cert).ok()?;
    Some(
        cert.parent()?
            .parent()?
            .parent()?
            .join(liandong_certs::layout::CA_CERT_FILE),
    )
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
    fn the_ca_defaults_to_the_federation_layout() {
        let ca = default_ca(Path::new("/fed/operators/350100/wangfang.pem")).expect("a parent");
        assert_eq!(ca, Path::new("/fed/ca.pem"));
    }

    #[test]
    fn languages() {
        assert_eq!(lang("zh"), Ok(Lang::Zh));
        assert_eq!(lang("EN"), Ok(Lang::En));
        assert!(lang("fr").is_err());
    }
}
