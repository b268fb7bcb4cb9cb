//! `certs init`, `certs issue-operator` and `certs issue-admin`: filling a
//! federation directory (layout in [`crate::layout`]) with keys made at the
//! CA. Enrolment by request, where keys never leave the centers, is
//! [`crate::enroll`].
//!
//! [`init_federation`] is an idempotent top-up: it creates the CA if the
//! directory has none (or loads it), then issues a certificate for every node
//! that lacks one and keeps the others. A province (Jiangsu: 22,812 nodes) is
//! issued by `std::thread::available_parallelism()` scoped workers pulling
//! node indexes from one atomic counter; the per-node work is an Ed25519 key,
//! one signature and three small files, so the run is bounded by the disk.
//! Node files are not fsynced one by one (that would cost minutes); they are
//! written atomically, so a crash leaves whole files or none, and a rerun
//! issues whatever is missing.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use liandong_topology::NodeId;
use rustls_pki_types::UnixTime;
use time::OffsetDateTime;

use crate::ca::{CA_VALIDITY_DAYS, CertError, FederationCa, IssuedCert, Validity, create_dir, load_certificates};
use crate::fsutil::{self, PUBLIC_MODE, Replace};
use crate::identity::{Identity, Role};
use crate::layout::CaDir;
use crate::revocation::{RevocationList, Revocations};
use crate::serial::Serial;
use crate::verify::{Usage, Verifier, VerifyError};

/// `certs init` could not complete. Node files written before the error are
/// complete and kept; rerunning after fixing the cause tops up the rest.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// Creating, loading or saving the CA failed.
    #[error("federation CA in {}: {source}", .dir.display())]
    Ca {
        /// The federation directory.
        dir: PathBuf,
        /// What failed.
        source: CertError,
    },
    /// The directory belongs to another federation.
    #[error("{} holds the CA of federation {found:?}, not {expected:?}; use another --out directory", .dir.display())]
    FederationMismatch {
        /// The federation directory.
        dir: PathBuf,
        /// The federation of the CA found there.
        found: String,
        /// The federation asked for.
        expected: String,
    },
    /// The same node id appears twice in the input.
    #[error("node {0} is listed twice")]
    DuplicateNode(NodeId),
    /// Issuing or writing one node's files failed.
    #[error("node {id}: {source}")]
    Node {
        /// The node.
        id: NodeId,
        /// What failed.
        source: CertError,
    },
    /// A node certificate without its key: cannot be completed automatically.
    #[error(
        "node {id}: {} exists but its key {} does not; remove the certificate (and revoke its serial if it was handed out) to issue a new one",
        .cert.display(), .key.display()
    )]
    Incomplete {
        /// The node.
        id: NodeId,
        /// The certificate found.
        cert: PathBuf,
        /// The key not found.
        key: PathBuf,
    },
    /// An existing node certificate that this CA did not issue for this node.
    #[error("node {id}: existing {} does not belong here: {reason}", .path.display())]
    Stale {
        /// The node.
        id: NodeId,
        /// The certificate found.
        path: PathBuf,
        /// Why it does not belong.
        reason: String,
    },
    /// The revocation list in the directory is broken.
    #[error(transparent)]
    Revocations(#[from] crate::revocation::RevocationError),
}

/// What [`init_federation`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InitSummary {
    /// The federation name of the CA.
    pub federation: String,
    /// Whether the CA was created by this run (false: an existing one was loaded).
    pub ca_created: bool,
    /// The CA certificate's serial.
    pub ca_serial: Serial,
    /// When the CA certificate expires.
    pub ca_not_after: OffsetDateTime,
    /// Node certificates issued by this run.
    pub issued: usize,
    /// Existing node certificates kept.
    pub kept: usize,
    /// Kept certificates that have expired (reissue them: remove the files and rerun).
    pub expired: Vec<NodeId>,
    /// Kept certificates that are on the revocation list.
    pub revoked: Vec<NodeId>,
}

enum Outcome {
    Issued,
    Kept,
    KeptExpired,
    KeptRevoked,
}

/// Creates or loads the CA in `dir` for `federation`, then issues a
/// certificate valid for `node_validity` to every node in `nodes`
/// (`(id, display name)`) that has none, into `dir/nodes/<id>/`, with a copy
/// of `ca.pem` beside each. Existing node certificates are kept after a check
/// that this CA issued them for that node. Creates an empty `revoked.toml` if
/// there is none.
///
/// `progress` is called with the number of nodes done so far, from worker
/// threads, in no particular order of calls (the count only grows).
pub fn init_federation(
    dir: &Path,
    federation: &str,
    nodes: &[(NodeId, String)],
    node_validity: Validity,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<InitSummary, InitError> {
    let ca_error = |source| InitError::Ca {
        dir: dir.to_owned(),
        source,
    };
    let mut seen = HashSet::with_capacity(nodes.len());
    for (id, _) in nodes {
        if !seen.insert(id) {
            return Err(InitError::DuplicateNode(id.clone()));
        }
    }

    let (ca, ca_created) = if FederationCa::exists(dir) {
        let ca = FederationCa::load(dir).map_err(ca_error)?;
        if ca.federation() != federation {
            return Err(InitError::FederationMismatch {
                dir: dir.to_owned(),
                found: ca.federation().to_owned(),
                expected: federation.to_owned(),
            });
        }
        (ca, false)
    } else {
        let now = OffsetDateTime::now_utc();
        let ca = FederationCa::generate(federation, Validity::days_from(now, CA_VALIDITY_DAYS)).map_err(ca_error)?;
        ca.save(dir).map_err(ca_error)?;
        (ca, true)
    };

    let layout = CaDir::new(dir);
    let revocations_path = layout.revocations();
    let revocations = RevocationList::load(&revocations_path)?;
    if !revocations_path.exists() {
        revocations.save(&revocations_path)?;
    }
    let verifier = Verifier::new(ca.cert_der().clone(), Revocations::new(revocations)).map_err(|e| {
        ca_error(CertError::NotFederationCa {
            path: layout.ca_cert(),
            reason: e.to_string(),
        })
    })?;

    let job = Job {
        layout: &layout,
        ca: &ca,
        verifier: &verifier,
        validity: node_validity,
        now: UnixTime::now(),
    };
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let first_error: Mutex<Option<InitError>> = Mutex::new(None);
    let results: Mutex<Vec<(usize, Outcome)>> = Mutex::new(Vec::with_capacity(nodes.len()));

    let workers = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .clamp(1, 16)
        .min(nodes.len().max(1));
    const BATCH: usize = 16;
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                let mut local = Vec::new();
                while !failed.load(Ordering::Relaxed) {
                    let start = next.fetch_add(BATCH, Ordering::Relaxed);
                    if start >= nodes.len() {
                        break;
                    }
                    for (i, (id, name)) in nodes.iter().enumerate().skip(start).take(BATCH) {
                        match job.node(id, name) {
                            Ok(outcome) => local.push((i, outcome)),
                            Err(e) => {
                                failed.store(true, Ordering::Relaxed);
                                let mut slot = first_error.lock().unwrap_or_else(|p| p.into_inner());
                                slot.get_or_insert(e);
                                break;
                            }
                        }
                        progress(done.fetch_add(1, Ordering::Relaxed) + 1);
                    }
                }
                results.lock().unwrap_or_else(|p| p.into_inner()).extend(local);
            });
        }
    });

    if let Some(e) = first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    let mut results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    results.sort_by_key(|(i, _)| *i);
    let mut summary = InitSummary {
        federation: ca.federation().to_owned(),
        ca_created,
        ca_serial: ca.serial().clone(),
        ca_not_after: ca.not_after(),
        issued: 0,
        kept: 0,
        expired: Vec::new(),
        revoked: Vec::new(),
    };
    for (i, outcome) in results {
        match outcome {
            Outcome::Issued => summary.issued += 1,
            Outcome::Kept => summary.kept += 1,
            Outcome::KeptExpired => {
                summary.kept += 1;
                summary.expired.push(nodes[i].0.clone());
            }
            Outcome::KeptRevoked => {
                summary.kept += 1;
                summary.revoked.push(nodes[i].0.clone());
            }
        }
    }
    Ok(summary)
}

struct Job<'a> {
    layout: &'a CaDir,
    ca: &'a FederationCa,
    verifier: &'a Verifier,
    validity: Validity,
    now: UnixTime,
}

impl Job<'_> {
    fn node(&self, id: &NodeId, name: &str) -> Result<Outcome, InitError> {
        let node_error = |source| InitError::Node { id: id.clone(), source };
        let cert_path = self.layout.node_cert(id);
        let key_path = self.layout.node_key(id);
        let outcome = match (cert_path.exists(), key_path.exists()) {
            (true, true) => self.check_kept(id, &cert_path)?,
            (true, false) => {
                return Err(InitError::Incomplete {
                    id: id.clone(),
                    cert: cert_path,
                    key: key_path,
                });
            }
            // A key without a certificate is left over from an interrupted
            // run (the key is written first); it was never certified.
            (false, _) => {
                let issued = self.ca.issue_node(id, name, self.validity).map_err(node_error)?;
                issued.write_replacing(&cert_path, &key_path).map_err(node_error)?;
                Outcome::Issued
            }
        };
        let copy = self.layout.node_ca_copy(id);
        let up_to_date = match outcome {
            Outcome::Issued => false,
            _ => fs::read(&copy).is_ok_and(|current| current == self.ca.cert_pem().as_bytes()),
        };
        if !up_to_date {
            fsutil::write_file(
                &copy,
                self.ca.cert_pem().as_bytes(),
                PUBLIC_MODE,
                Replace::Allowed,
                false,
            )
            .map_err(|source| {
                node_error(CertError::Write {
                    path: copy.clone(),
                    source,
                })
            })?;
        }
        Ok(outcome)
    }

    fn check_kept(&self, id: &NodeId, cert_path: &Path) -> Result<Outcome, InitError> {
        let stale = |reason: String| InitError::Stale {
            id: id.clone(),
            path: cert_path.to_owned(),
            reason,
        };
        let chain = load_certificates(cert_path).map_err(|source| InitError::Node { id: id.clone(), source })?;
        match self.verifier.verify(&chain, self.now, Usage::Server) {
            Ok(peer) if peer.identity == Identity::Node(id.clone()) => Ok(Outcome::Kept),
            Ok(peer) => Err(stale(format!("it identifies {}", peer.identity))),
            Err(VerifyError::Expired { .. }) => Ok(Outcome::KeptExpired),
            Err(VerifyError::Revoked { identity, .. }) if identity == Identity::Node(id.clone()) => {
                Ok(Outcome::KeptRevoked)
            }
            Err(e) => Err(stale(e.to_string())),
        }
    }
}

/// Issues a federation admin's certificate and writes it to
/// `dir/admins/<name>.pem` and `.key` (0600). Refuses to overwrite an
/// existing certificate for the same name. Returns the certificate and the
/// two paths.
pub fn issue_admin_into(
    dir: &Path,
    ca: &FederationCa,
    name: &str,
    validity: Validity,
) -> Result<(IssuedCert, PathBuf, PathBuf), CertError> {
    let issued = ca.issue_admin(name, validity)?;
    let layout = CaDir::new(dir);
    create_dir(&layout.admin_dir())?;
    let (cert_path, key_path) = (layout.admin_cert(name), layout.admin_key(name));
    issued.write(&cert_path, &key_path)?;
    Ok((issued, cert_path, key_path))
}

/// Issues an operator certificate and writes it to
/// `dir/operators/<node>/<name>.pem` and `.key` (0600). Refuses to overwrite
/// an existing certificate for the same name (revoke it and remove the files
/// first). Returns the certificate and the two paths.
pub fn issue_operator_into(
    dir: &Path,
    ca: &FederationCa,
    node: &NodeId,
    name: &str,
    role: Role,
    validity: Validity,
) -> Result<(IssuedCert, PathBuf, PathBuf), CertError> {
    let issued = ca.issue_operator(node, name, role, validity)?;
    let layout = CaDir::new(dir);
    create_dir(&layout.operator_dir(node))?;
    let (cert_path, key_path) = (layout.operator_cert(node, name), layout.operator_key(node, name));
    issued.write(&cert_path, &key_path)?;
    Ok((issued, cert_path, key_path))
}
