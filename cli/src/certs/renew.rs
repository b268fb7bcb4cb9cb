//! Renewing a node's certificate on its own machine, before it expires:
//! `liandong certs request --node ID --out CERTS --renew` makes a new key
//! and request in `CERTS/renewal/` (the key in force stays in force); the
//! CA signs the request (`liandong certs sign`), which writes
//! `renewal/node.pem`; then `liandong certs renew --certs CERTS` checks the
//! renewed certificate (the federation's CA, in date, the same identity as
//! the one in force, the key it certifies is the new key) and puts the
//! pair in place: the old certificate is kept as
//! `retired/node.<serial hex>.pem` (as `certs sign --renew` names one), the old key is deleted, the new key and
//! certificate take the names the node reads. A reload of the running
//! node (`systemctl reload liandong`, SIGHUP) puts them in force without
//! a restart. It never touches the CA's key or another node's files.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use liandong_certs::identity::identity_of;
use liandong_certs::keys::ed25519_public_key_of;
use liandong_certs::layout::CA_CERT_FILE;
use liandong_certs::pki_types::UnixTime;
use liandong_certs::serial::Serial;
use liandong_certs::{
    RevocationList, Revocations, Usage, Verifier, ed25519_public_key, load_ca_certificate, load_certificates,
    load_private_key, rfc3339,
};

/// Where a renewal's key, request and certificate wait, under a node's
/// certificate directory.
pub const RENEWAL_DIR: &str = "renewal";
/// Where certificates a node had before are kept, under its directory.
pub const RETIRED_DIR: &str = "retired";

const CERT: &str = "node.pem";
const KEY: &str = "node.key";
const CSR: &str = "node.csr";

/// `liandong certs renew`: the node's certificate directory.
#[derive(Args)]
pub struct RenewArgs {
    /// The node's certificate directory (node.pem, node.key, ca.pem, and
    /// renewal/ with the renewed node.pem and its node.key).
    #[arg(long)]
    certs: PathBuf,
}

/// Where `certs request --renew` writes into `out`.
pub fn renewal_dir(out: &Path) -> PathBuf {
    out.join(RENEWAL_DIR)
}

pub fn renew(args: &RenewArgs) -> anyhow::Result<()> {
    let dir = &args.certs;
    let next = renewal_dir(dir);
    let (new_cert, new_key) = (next.join(CERT), next.join(KEY));
    for f in [&new_key, &new_cert] {
        if !f.exists() {
            bail!(
                "{} is missing: make the renewal with `liandong certs request --renew --out {}`, have the CA sign \
                 {}, and put the node.pem it writes there",
                f.display(),
                dir.display(),
                next.join(CSR).display()
            );
        }
    }
    let ca = load_ca_certificate(&dir.join(CA_CERT_FILE))?;
    let verifier = Verifier::new(ca, Revocations::new(RevocationList::new()))
        .map_err(|e| anyhow::anyhow!("{}: {e}", dir.join(CA_CERT_FILE).display()))?;
    let now = UnixTime::now();
    // The certificate in force may have expired already: renewing it late
    // is still a renewal, so only what it says is read.
    let old_chain = load_certificates(&dir.join(CERT))?;
    let old_leaf = old_chain.first().map(|c| c.as_ref()).unwrap_or_default();
    let old_identity = identity_of(old_leaf).with_context(|| dir.join(CERT).display().to_string())?;
    let old_serial = Serial::of_certificate(old_leaf).with_context(|| dir.join(CERT).display().to_string())?;
    let chain = load_certificates(&new_cert)?;
    let renewed = verifier
        .verify(&chain, now, Usage::Client)
        .with_context(|| format!("{} is refused", new_cert.display()))?;
    if renewed.identity != old_identity {
        bail!(
            "{} is the certificate of {}, but {} is of {}: a renewal keeps the identity",
            new_cert.display(),
            renewed.identity,
            dir.join(CERT).display(),
            old_identity
        );
    }
    let key = load_private_key(&new_key)?;
    let public = ed25519_public_key_of(&key)?;
    let certified = ed25519_public_key(&chain[0]).with_context(|| new_cert.display().to_string())?;
    if public.as_bytes().as_slice() != certified.as_slice() {
        bail!(
            "{} does not certify the key {} (was the request signed from another machine's renewal?)",
            new_cert.display(),
            new_key.display()
        );
    }
    if renewed.serial == old_serial {
        bail!("{} is the certificate in force already", new_cert.display());
    }

    let retired = dir.join(RETIRED_DIR);
    std::fs::create_dir_all(&retired).with_context(|| format!("cannot create {}", retired.display()))?;
    let hex: String = old_serial.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
    let kept = retired.join(format!("node.{hex}.pem"));
    std::fs::copy(dir.join(CERT), &kept)
        .with_context(|| format!("cannot keep the old certificate as {}", kept.display()))?;
    // The key first: if the certificate's rename failed, running this again
    // finds the new key in force and only the certificate to move.
    std::fs::rename(&new_key, dir.join(KEY))
        .with_context(|| format!("cannot move {} into place", new_key.display()))?;
    std::fs::rename(&new_cert, dir.join(CERT))
        .with_context(|| format!("cannot move {} into place", new_cert.display()))?;
    let _ = std::fs::remove_file(next.join(CSR));
    let _ = std::fs::remove_file(next.join(CA_CERT_FILE));
    let _ = std::fs::remove_dir(&next);
    println!(
        "renewed {}: certificate {} valid until {} is in place; the old one ({}) is kept as {}",
        renewed.identity,
        renewed.serial,
        rfc3339(renewed.not_after),
        old_serial,
        kept.display()
    );
    println!("put it in force without a restart: systemctl reload liandong (or kill -HUP the node)");
    Ok(())
}
