//! `liandong certs`: create the federation CA and node certificates, issue
//! operator certificates, inspect and revoke certificates; enrolment by
//! request (`request`, `sign`) and federation admins (`issue-admin`) are in
//! [`enroll`]. Each subcommand turns its flags into library calls on
//! `liandong_certs`; errors carry the file they concern.

mod enroll;
mod renew;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, anyhow, bail};
use clap::Subcommand;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use liandong_certs::pki_types::UnixTime;
use liandong_certs::time::OffsetDateTime;
use liandong_certs::{
    CaDir, Entry, FederationCa, Identity, Reason, RevocationList, Revocations, Role, Serial, Usage, Validity, Verifier,
    VerifyError, identity_of, init_federation, inspect_file, issue_operator_into, load_certificates, rfc3339,
};
use liandong_topology::NodeId;

pub use enroll::{IssueAdminArgs, RequestArgs, SignArgs};

#[derive(Subcommand)]
pub enum CertsCommand {
    /// Create the federation CA (if the directory has none) and a certificate for every node of a
    /// topology that lacks one (keys made here: for demos and tests). Rerun it after adding nodes:
    /// existing certificates are kept. With --ca-only, only the CA: centers then enrol by request.
    #[command(
        after_help = "Examples:\n  liandong certs init --topology topology/examples/fuzhou.toml --out certs-fuzhou\n  \
        liandong certs init --topology topology/examples/fuzhou.toml --out certs-fuzhou --ca-only\n\n\
        Then copy certs-fuzhou/nodes/<id>/ (node.pem, node.key, ca.pem) to each center's machine,\n\
        or, with --ca-only, have each center run `liandong certs request` and sign the requests\n\
        with `liandong certs sign`. Keep certs-fuzhou/ca.key on an offline machine."
    )]
    Init {
        /// The topology file naming the federation and its nodes.
        #[arg(long)]
        topology: PathBuf,
        /// The federation certificate directory (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Validity of newly issued node certificates, in days.
        #[arg(long, default_value_t = 730, value_parser = clap::value_parser!(u32).range(1..=7300))]
        valid_days: u32,
        /// Create (or check) the CA and the revocation list only, no node keys: each center makes its
        /// own with `liandong certs request`.
        #[arg(long)]
        ca_only: bool,
    },
    /// Issue a certificate for an operator or leader working at a node.
    #[command(
        after_help = "Example:\n  liandong certs issue-operator --ca certs-fuzhou --node 350102 --name 张伟 --role leader \\\n    \
        --topology topology/examples/fuzhou.toml\n\n\
        Writes certs-fuzhou/operators/350102/张伟.pem and 张伟.key (mode 0600)."
    )]
    IssueOperator {
        /// The federation certificate directory (holding ca.pem and ca.key).
        #[arg(long)]
        ca: PathBuf,
        /// The node the operator works at, e.g. 350102 or 350102-police.
        #[arg(long, value_parser = NodeId::parse)]
        node: NodeId,
        /// The operator's name as people write it (1 to 64 characters, no '/').
        #[arg(long)]
        name: String,
        /// What the operator may do.
        #[arg(long, value_parser = PossibleValuesParser::new(["operator", "leader"]).try_map(|s| s.parse::<Role>()))]
        role: Role,
        /// Check that the node exists in this topology file.
        #[arg(long)]
        topology: Option<PathBuf>,
        /// Validity of the certificate, in days.
        #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(u32).range(1..=7300))]
        valid_days: u32,
    },
    /// On a center's machine: make its key (kept here, mode 0600) and a certificate request for
    /// the CA. For a node, an operator or a federation admin.
    #[command(after_help = "Examples:\n  \
        liandong certs request --node 350102 --out /etc/liandong/certs\n  \
        liandong certs request --operator --node 350102 --name 张伟 --role leader --out ~/liandong\n  \
        liandong certs request --admin 陈静 --out ~/liandong-admin\n\n\
        Writes node.key and node.csr (or <name>.key and <name>.csr); never overwrites a key.\n\
        Send the .csr to the CA; `liandong certs sign` writes node.pem and ca.pem beside it.")]
    Request(RequestArgs),
    /// On the CA machine: sign certificate requests (one .csr, or every *.csr under a directory).
    /// Each certificate is written beside its request with ca.pem. A bad request is reported and
    /// does not stop the others; the exit code is then 1.
    #[command(after_help = "Example:\n  \
        liandong certs sign --ca certs-fuzhou --topology topology/examples/fuzhou.toml requests/\n\n\
        Signs requests/*/node.csr into requests/*/node.pem (and ca.pem); a certificate already\n\
        there for the same key is kept. --renew replaces one for another key of the same identity,\n\
        keeping the old as node.<serial>.pem.")]
    Sign(SignArgs),
    /// On a center's machine: put a renewed certificate in place (renewal/node.pem, signed by the
    /// CA from `certs request --renew`), keeping the old one under retired/. Then reload the node.
    #[command(after_help = "Example:\n  \
        liandong certs request --node 350102 --out /etc/liandong/certs --renew\n  \
        (on the CA machine) liandong certs sign --ca CA_DIR --renew node.csr\n  \
        liandong certs renew --certs /etc/liandong/certs\n  \
        systemctl reload liandong\n\n\
        Checks the renewed certificate (this federation's CA, in date, the same identity, the new\n\
        key) before anything is moved; the running node takes it on reload, no restart.")]
    Renew(renew::RenewArgs),
    /// Issue a federation admin's key and certificate: it signs the federation document and is
    /// refused on every node and control port.
    #[command(
        after_help = "Example:\n  liandong certs issue-admin --ca certs-fuzhou --name 陈静\n\n\
        Writes certs-fuzhou/admins/陈静.pem and 陈静.key (mode 0600)."
    )]
    IssueAdmin(IssueAdminArgs),
    /// Print a readable summary of a certificate; with --ca, also verify it against that CA and its
    /// revocation list. Exits with an error if --ca is given and the certificate is refused.
    #[command(
        after_help = "Examples:\n  liandong certs inspect certs-fuzhou/nodes/350102/node.pem\n  \
        liandong certs inspect certs-fuzhou/operators/350102/张伟.pem --ca certs-fuzhou"
    )]
    Inspect {
        /// The certificate file (PEM).
        file: PathBuf,
        /// A directory holding ca.pem (and optionally revoked.toml) to verify against:
        /// the federation directory or a node's directory.
        #[arg(long)]
        ca: Option<PathBuf>,
    },
    /// Add a certificate to the revocation list DIR/revoked.toml. Copy the file to every node
    /// afterwards; nodes reload it.
    #[command(
        after_help = "Examples:\n  liandong certs revoke --ca certs-fuzhou --cert certs-fuzhou/nodes/350102/node.pem \\\n    \
        --reason key-compromise --note \"county laptop stolen\"\n  \
        liandong certs revoke --ca certs-fuzhou --serial 5f:3a:09:... --reason superseded"
    )]
    Revoke {
        /// The federation certificate directory (holding ca.pem and revoked.toml).
        #[arg(long)]
        ca: PathBuf,
        /// The serial to revoke, as `certs inspect` prints it.
        #[arg(long, value_parser = str::parse::<Serial>, required_unless_present = "cert", conflicts_with = "cert")]
        serial: Option<Serial>,
        /// Revoke the certificate in this file instead of naming its serial.
        #[arg(long)]
        cert: Option<PathBuf>,
        /// Why.
        #[arg(long, value_parser = PossibleValuesParser::new(Reason::ALL.map(Reason::as_str)).try_map(|s| s.parse::<Reason>()))]
        reason: Reason,
        /// Free text kept in the list, for humans.
        #[arg(long)]
        note: Option<String>,
    },
}

pub fn run(cmd: CertsCommand) -> anyhow::Result<()> {
    match cmd {
        CertsCommand::Init {
            topology,
            out,
            valid_days,
            ca_only,
        } => init(&topology, &out, valid_days, ca_only),
        CertsCommand::IssueOperator {
            ca,
            node,
            name,
            role,
            topology,
            valid_days,
        } => issue_operator(&ca, &node, &name, role, topology.as_deref(), valid_days),
        CertsCommand::Request(args) => enroll::request(&args),
        CertsCommand::Sign(args) => enroll::sign(&args),
        CertsCommand::Renew(args) => renew::renew(&args),
        CertsCommand::IssueAdmin(args) => enroll::issue_admin(&args),
        CertsCommand::Inspect { file, ca } => inspect(&file, ca.as_deref()),
        CertsCommand::Revoke {
            ca,
            serial,
            cert,
            reason,
            note,
        } => revoke(&ca, serial, cert.as_deref(), reason, note),
    }
}

fn init(topology_path: &Path, out: &Path, valid_days: u32, ca_only: bool) -> anyhow::Result<()> {
    let started = Instant::now();
    let topology = crate::topology::load(topology_path)?;
    let nodes: Vec<(NodeId, String)> = if ca_only {
        Vec::new()
    } else {
        topology.nodes().map(|n| (n.id.clone(), n.name.clone())).collect()
    };

    let bar = progress_bar(nodes.len(), "issuing", "nodes");
    let validity = Validity::days_from(OffsetDateTime::now_utc(), valid_days);
    let result = init_federation(out, topology.name(), &nodes, validity, &|_| bar.inc(1));
    bar.finish_and_clear();
    let summary = result.with_context(|| format!("certs init into {} failed", out.display()))?;

    let layout = CaDir::new(out);
    if summary.ca_created {
        println!(
            "created the CA of federation {:?}: {} (serial {}, valid until {})",
            summary.federation,
            layout.ca_cert().display(),
            summary.ca_serial,
            rfc3339(summary.ca_not_after)
        );
        println!(
            "  its key {} signs every certificate: keep it on an offline machine",
            layout.ca_key().display()
        );
    } else {
        println!(
            "reused the CA of federation {:?} in {} (serial {})",
            summary.federation,
            out.display(),
            summary.ca_serial
        );
    }
    if ca_only {
        println!(
            "no node keys made: each center runs `liandong certs request`, then `liandong certs sign --ca {}` signs \
             the requests; the revocation list is {}",
            out.display(),
            layout.revocations().display()
        );
        return Ok(());
    }
    println!(
        "issued {} node certificates, kept {} existing, in {:.1} s",
        summary.issued,
        summary.kept,
        started.elapsed().as_secs_f64()
    );
    println!(
        "copy {}/<id>/ (node.pem, node.key, ca.pem) to each center; the revocation list is {}",
        out.join("nodes").display(),
        layout.revocations().display()
    );
    for (what, ids) in [("expired", &summary.expired), ("revoked", &summary.revoked)] {
        if !ids.is_empty() {
            let shown: Vec<&str> = ids.iter().take(10).map(NodeId::as_str).collect();
            let more = if ids.len() > 10 {
                format!(" and {} more", ids.len() - 10)
            } else {
                String::new()
            };
            println!(
                "warning: {} kept certificates are {what}: {}{more}; delete their node.pem and node.key and rerun to \
                 reissue",
                ids.len(),
                shown.join(", ")
            );
        }
    }
    Ok(())
}

/// A progress bar over `len` items on a terminal's stderr (hidden otherwise).
fn progress_bar(len: usize, doing: &'static str, items: &str) -> ProgressBar {
    let target = if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(Some(len as u64), target);
    let template = format!("{{prefix}} [{{bar:40}}] {{pos}}/{{len}} {items} ({{eta}} left)");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(doing);
    bar
}

fn issue_operator(
    ca_dir: &Path,
    node: &NodeId,
    name: &str,
    role: Role,
    topology_path: Option<&Path>,
    valid_days: u32,
) -> anyhow::Result<()> {
    if let Some(path) = topology_path {
        let topology = crate::topology::load(path)?;
        if topology.get(node).is_none() {
            bail!(
                "node {node} is not in {} (federation {:?})",
                path.display(),
                topology.name()
            );
        }
    }
    let ca = FederationCa::load(ca_dir)
        .with_context(|| format!("cannot load the federation CA from {}", ca_dir.display()))?;
    let validity = Validity::days_from(OffsetDateTime::now_utc(), valid_days);
    let (issued, cert_path, key_path) = issue_operator_into(ca_dir, &ca, node, name, role, validity)
        .with_context(|| format!("cannot issue a certificate for {role} {name:?} at node {node}"))?;
    println!(
        "issued a {role} certificate for {name} at node {node} (federation {:?})",
        ca.federation()
    );
    println!("  certificate  {}", cert_path.display());
    println!("  key          {} (mode 0600)", key_path.display());
    println!("  serial       {}", issued.serial);
    println!("  valid until  {}", rfc3339(issued.not_after));
    Ok(())
}

/// The usage a certificate is checked for outside a connection: an admin's
/// for signing documents, anyone else's as a client.
fn usage_of(chain: &[liandong_certs::pki_types::CertificateDer<'_>]) -> Usage {
    chain
        .first()
        .and_then(|leaf| identity_of(leaf).ok())
        .map_or(Usage::Client, |identity| Usage::of(&identity))
}

/// A verifier for `dir/ca.pem` with `dir/revoked.toml` (missing: nothing revoked).
fn verifier_for(dir: &Path) -> anyhow::Result<Verifier> {
    let layout = CaDir::new(dir);
    let list = RevocationList::load(&layout.revocations())?;
    Ok(Verifier::from_ca_file(&layout.ca_cert(), Revocations::new(list))?)
}

fn inspect(file: &Path, ca_dir: Option<&Path>) -> anyhow::Result<()> {
    let now = OffsetDateTime::now_utc();
    let verifier = ca_dir.map(verifier_for).transpose()?;
    print!("{}", inspect_file(file, now, verifier.as_ref())?);
    if let (Some(verifier), Some(dir)) = (&verifier, ca_dir) {
        let chain = load_certificates(file)?;
        if let Err(e) = verifier.verify(&chain, UnixTime::now(), usage_of(&chain)) {
            return Err(anyhow!(e))
                .with_context(|| format!("{} is refused by the CA in {}", file.display(), dir.display()));
        }
    }
    Ok(())
}

fn revoke(
    ca_dir: &Path,
    serial: Option<Serial>,
    cert: Option<&Path>,
    reason: Reason,
    note: Option<String>,
) -> anyhow::Result<()> {
    let layout = CaDir::new(ca_dir);
    // Refuse a directory without a CA: a typo must not create a stray list.
    let verifier = verifier_for(ca_dir)?;
    let (serial, subject) = match (serial, cert) {
        (Some(serial), _) => (serial, None),
        (None, Some(path)) => {
            let chain = load_certificates(path)?;
            let leaf = chain
                .first()
                .with_context(|| format!("{} holds no certificate", path.display()))?;
            let serial = Serial::of_certificate(leaf)
                .with_context(|| format!("cannot read the serial of {}", path.display()))?;
            // Expired or even revoked certificates may be (re)listed; foreign ones are a mistake.
            if let Err(e @ VerifyError::ForeignCa { .. }) = verifier.verify(&chain, UnixTime::now(), usage_of(&chain)) {
                return Err(anyhow!(e))
                    .with_context(|| format!("{} was not issued by the CA in {}", path.display(), ca_dir.display()));
            }
            let subject = identity_of(leaf).ok().map(|identity| match identity {
                Identity::Node(id) => liandong_certs::identity::node_uri(&id),
                Identity::Operator { node, name, role } => format!("liandong://operator/{node}/{name} ({role})"),
                Identity::Admin { name } => format!("liandong://admin/{name}"),
            });
            (serial, subject)
        }
        (None, None) => bail!("give --serial or --cert"),
    };
    let mut entry = Entry::new(serial.clone(), reason, OffsetDateTime::now_utc());
    if let Some(subject) = subject.clone() {
        entry = entry.with_subject(subject);
    }
    if let Some(note) = note {
        entry = entry.with_note(note);
    }
    let path = layout.revocations();
    let list = RevocationList::append(&path, entry)?;
    match subject {
        Some(subject) => println!("revoked {serial} ({subject}): {reason}"),
        None => println!("revoked {serial}: {reason}"),
    }
    println!(
        "{} now lists {} revoked serial(s); copy it to every node (nodes reload it)",
        path.display(),
        list.len()
    );
    Ok(())
}
