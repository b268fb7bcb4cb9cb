//! Enrolment, where a key never leaves the machine it is made on:
//! `liandong certs request` (on a center's machine: a key and a certificate
//! request), `liandong certs sign` (on the offline CA machine: certificates
//! for collected requests) and `liandong certs issue-admin` (a federation
//! admin's key and certificate, made at the CA). Flags become an identity
//! or options, the work is `liandong_certs`'s; this prints what was done and
//! where the files are. It never reads a private key but the CA's.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use liandong_certs::layout::CA_CERT_FILE;
use liandong_certs::time::OffsetDateTime;
use liandong_certs::{
    CertRequest, FederationCa, Identity, Role, SignOptions, Signed, Validity, find_requests, issue_admin_into, rfc3339,
    sign_requests, validate_name,
};
use liandong_topology::NodeId;

use super::progress_bar;

/// Default validity of node certificates signed from requests, in days (as `certs init`).
const NODE_DAYS: u32 = 730;
/// Default validity of operator and admin certificates, in days (as `certs issue-operator`).
const PERSON_DAYS: u32 = 365;
/// Up to this many requests, `certs sign` names every certificate it wrote.
const LIST_AT_MOST: usize = 20;

/// `liandong certs request`: who the key is for, and where to write it.
#[derive(Args)]
pub struct RequestArgs {
    /// The node: this center's id (e.g. 350102), or the node an operator works at.
    #[arg(long, value_parser = NodeId::parse, required_unless_present = "admin")]
    node: Option<NodeId>,
    /// Request an operator's certificate (with --node, --name and --role) instead of the node's.
    #[arg(long, requires_all = ["node", "name", "role"])]
    operator: bool,
    /// The operator's name as people write it (1 to 64 characters, no '/').
    #[arg(long, requires = "operator")]
    name: Option<String>,
    /// What the operator may do.
    #[arg(
        long,
        requires = "operator",
        value_parser = PossibleValuesParser::new(["operator", "leader"]).try_map(|s| s.parse::<Role>())
    )]
    role: Option<Role>,
    /// Request a federation admin's certificate for this name (it signs the federation document).
    #[arg(long, value_name = "NAME", conflicts_with_all = ["node", "operator", "name", "role"])]
    admin: Option<String>,
    /// Directory for the key and the request (created if missing, mode 0700).
    #[arg(long)]
    out: PathBuf,
    /// A renewal: the new key and request go into OUT/renewal/, and the key in force stays in
    /// force until `liandong certs renew --certs OUT` puts the signed certificate in place.
    #[arg(long)]
    renew: bool,
}

/// `liandong certs sign`: the CA, the checks, and the requests.
#[derive(Args)]
pub struct SignArgs {
    /// The federation certificate directory (holding ca.pem and ca.key).
    #[arg(long)]
    ca: PathBuf,
    /// Refuse requests for nodes this topology file does not have (and name nodes' certificates
    /// after their centers).
    #[arg(long)]
    topology: Option<PathBuf>,
    /// Validity of the certificates, in days [default: 730 for nodes, 365 for operators and admins].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=7300))]
    valid_days: Option<u32>,
    /// Replace a certificate beside a request for a new key of the same identity; the old one is
    /// kept as <stem>.<serial>.pem.
    #[arg(long)]
    renew: bool,
    /// A request file (.csr), or a directory searched recursively for *.csr.
    path: PathBuf,
}

/// `liandong certs issue-admin`: a federation admin's key and certificate.
#[derive(Args)]
pub struct IssueAdminArgs {
    /// The federation certificate directory (holding ca.pem and ca.key).
    #[arg(long)]
    ca: PathBuf,
    /// The admin's name as people write it (1 to 64 characters, no '/').
    #[arg(long)]
    name: String,
    /// Validity of the certificate, in days.
    #[arg(long, default_value_t = PERSON_DAYS, value_parser = clap::value_parser!(u32).range(1..=7300))]
    valid_days: u32,
}

impl RequestArgs {
    /// The identity the flags name (clap has already made them consistent).
    fn identity(&self) -> anyhow::Result<Identity> {
        if let Some(name) = &self.admin {
            validate_name(name).with_context(|| format!("--admin {name:?}"))?;
            return Ok(Identity::Admin { name: name.clone() });
        }
        let Some(node) = self.node.clone() else {
            bail!("give --node ID (a node or an operator's node) or --admin NAME");
        };
        if !self.operator {
            return Ok(Identity::Node(node));
        }
        let (Some(name), Some(role)) = (self.name.clone(), self.role) else {
            bail!("--operator needs --name and --role");
        };
        validate_name(&name).with_context(|| format!("--name {name:?}"))?;
        Ok(Identity::Operator { node, name, role })
    }
}

pub fn request(args: &RequestArgs) -> anyhow::Result<()> {
    let identity = args.identity()?;
    let out = if args.renew {
        super::renew::renewal_dir(&args.out)
    } else {
        args.out.clone()
    };
    let request = CertRequest::new(&identity).with_context(|| format!("cannot make a request for {identity}"))?;
    let files = request
        .write(&out)
        .with_context(|| format!("cannot write the request for {identity} into {}", out.display()))?;
    let pem = files.csr.with_extension("pem");
    println!("made a key and a certificate request for {identity}");
    println!("  key      {} (mode 0600): stays on this machine", files.key.display());
    println!("  request  {}: send it to the CA", files.csr.display());
    println!(
        "on the CA machine: liandong certs sign --ca CA_DIR --topology TOPOLOGY {}",
        file_name(&files.csr)
    );
    println!(
        "then put the {} and {CA_CERT_FILE} it writes beside the request into {}",
        file_name(&pem),
        out.display()
    );
    if args.renew {
        println!(
            "then: liandong certs renew --certs {} and reload the node (the key in force serves until then)",
            args.out.display()
        );
    }
    Ok(())
}

pub fn sign(args: &SignArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let topology = args.topology.as_deref().map(crate::topology::load).transpose()?;
    let ca = FederationCa::load(&args.ca)
        .with_context(|| format!("cannot load the federation CA from {}", args.ca.display()))?;
    let requests =
        find_requests(&args.path).with_context(|| format!("cannot list requests in {}", args.path.display()))?;
    if requests.is_empty() {
        bail!("no certificate requests (*.csr) under {}", args.path.display());
    }
    let now = OffsetDateTime::now_utc();
    let options = SignOptions {
        topology: topology.as_ref(),
        node_validity: Validity::days_from(now, args.valid_days.unwrap_or(NODE_DAYS)),
        person_validity: Validity::days_from(now, args.valid_days.unwrap_or(PERSON_DAYS)),
        renew: args.renew,
    };

    let bar = progress_bar(requests.len(), "signing", "requests");
    let results = sign_requests(&ca, &requests, &options, &|_| bar.inc(1));
    bar.finish_and_clear();

    let (mut issued, mut renewed, mut kept, mut refused) = (0, 0, 0, 0);
    let list = requests.len() <= LIST_AT_MOST;
    for result in &results {
        match result {
            Ok(Signed::Issued { cert, serial, identity }) => {
                issued += 1;
                if list {
                    println!("signed {identity}: {} (serial {serial})", cert.display());
                }
            }
            Ok(Signed::Renewed {
                cert,
                serial,
                identity,
                archived,
            }) => {
                renewed += 1;
                if list {
                    println!(
                        "renewed {identity}: {} (serial {serial}); the old certificate is kept as {}",
                        cert.display(),
                        archived.display()
                    );
                }
            }
            Ok(Signed::Kept { cert, identity }) => {
                kept += 1;
                if list {
                    println!("kept {identity}: {} already certifies its key", cert.display());
                }
            }
            Err(e) => {
                refused += 1;
                eprintln!("refused {e}");
            }
        }
    }
    println!(
        "signed {} of {} requests ({renewed} renewed) with the CA of federation {:?} (valid until {} at most), kept \
         {kept} already signed, refused {refused}, in {:.1} s",
        issued + renewed,
        requests.len(),
        ca.federation(),
        rfc3339(ca.not_after()),
        started.elapsed().as_secs_f64()
    );
    if issued + renewed > 0 {
        println!("each certificate is beside its request, with {CA_CERT_FILE}: send both back to the requester");
    }
    if refused > 0 {
        bail!(
            "{refused} of {} requests were refused (each is listed above with its reason); the others are done",
            requests.len()
        );
    }
    Ok(())
}

pub fn issue_admin(args: &IssueAdminArgs) -> anyhow::Result<()> {
    let ca = FederationCa::load(&args.ca)
        .with_context(|| format!("cannot load the federation CA from {}", args.ca.display()))?;
    let validity = Validity::days_from(OffsetDateTime::now_utc(), args.valid_days);
    let (issued, cert_path, key_path) = issue_admin_into(&args.ca, &ca, &args.name, validity)
        .with_context(|| format!("cannot issue a certificate for federation admin {:?}", args.name))?;
    println!(
        "issued a federation admin certificate for {} (federation {:?}): it signs the federation document and is \
         refused on every node and control port",
        args.name,
        ca.federation()
    );
    println!("  certificate  {}", cert_path.display());
    println!("  key          {} (mode 0600)", key_path.display());
    println!("  serial       {}", issued.serial);
    println!("  valid until  {}", rfc3339(issued.not_after));
    Ok(())
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}
