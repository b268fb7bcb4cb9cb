//! `liandong federation`: the signed federation document. `sign` (by a
//! federation admin, with the admin key), `check` (what a node would say
//! of it), `publish` (at the root, through the control API as a leader:
//! the root applies it and carries it to every node).
//!
//! It reads and writes files and talks to one's own node; it makes no
//! protocol decision (the node checks the document again, as every node
//! does).

use std::path::PathBuf;

use anyhow::{Context, anyhow};
use clap::Subcommand;
use liandong_certs::pki_types::UnixTime;
use liandong_certs::{RevocationList, Revocations, Verifier, load_ca_certificate};
use liandong_control::Act;
use liandong_control::proto::{Request, Response};
use liandong_node::federation;

use crate::ops::args::Connection;

#[derive(Subcommand)]
pub enum FederationCommand {
    /// Sign a federation document with a federation admin's key: writes FILE.sig beside it.
    #[command(
        after_help = "Example:\n  liandong federation sign fuzhou.toml --key certs/admins/李明.key \
        --cert certs/admins/李明.pem\n\n\
        The document is a topology file with a [document] table (its version) and, if anyone is\n\
        revoked, [[revoked]] entries as in revoked.toml. It is checked before it is signed."
    )]
    Sign {
        /// The document (a topology file with a [document] version).
        file: PathBuf,
        /// The admin's private key (liandong certs issue-admin).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The admin's certificate.
        #[arg(long, value_name = "FILE")]
        cert: PathBuf,
    },
    /// Check a signed document as every node will: the admin's certificate, the signature, the topology, the revocations.
    #[command(after_help = "Example:\n  liandong federation check fuzhou.toml --ca certs/ca.pem")]
    Check {
        /// The document (its signature is FILE.sig).
        file: PathBuf,
        /// The federation CA certificate.
        #[arg(long, value_name = "FILE")]
        ca: PathBuf,
    },
    /// Publish a signed document at the root node (a leader there): it is applied and carried to every node.
    #[command(
        after_help = "Example:\n  liandong federation publish fuzhou.toml --node 127.0.0.1:8100 \
        --cert certs/operators/350100/王芳.pem\n\n\
        Every node checks it, refuses an older or equal version or a bad signature, stores it and\n\
        applies it without a restart; a node that is down gets it when it returns."
    )]
    Publish {
        /// The document (its signature is FILE.sig).
        file: PathBuf,
        #[command(flatten)]
        conn: Connection,
    },
}

pub fn run(cmd: FederationCommand) -> anyhow::Result<()> {
    match cmd {
        FederationCommand::Sign { file, key, cert } => {
            let sig = federation::sign(&file, &key, &cert)?;
            println!("signed {} (signature in {})", file.display(), sig.display());
            Ok(())
        }
        FederationCommand::Check { file, ca } => {
            let doc = federation::read_signed(&file)?;
            let ca = load_ca_certificate(&ca)?;
            let verifier = Verifier::new(ca, Revocations::new(RevocationList::new()))
                .map_err(|e| anyhow!("the CA certificate: {e}"))?;
            let checked =
                federation::check(&verifier, &doc, UnixTime::now()).map_err(|e| anyhow!("{}: {e}", file.display()))?;
            println!(
                "{}: version {} of {} ({}), signed by federation admin {}; {} revoked; {} bytes compressed",
                file.display(),
                doc.version,
                checked.topology.name(),
                checked.topology.summary(),
                checked.admin,
                checked.revocations.len(),
                doc.deflated.len()
            );
            Ok(())
        }
        FederationCommand::Publish { file, conn } => {
            let doc = federation::read_signed(&file)?;
            let version = doc.version;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            let response = runtime.block_on(crate::ops::query(&conn, Request::Act(Act::Publish(doc))))?;
            match response {
                Response::Done { what, .. } => {
                    println!("{what}");
                    Ok(())
                }
                Response::Refused { reason } => Err(anyhow!("version {version} refused: {reason}")),
                other => Err(crate::ops::unexpected(other, "Done")),
            }
        }
    }
}
