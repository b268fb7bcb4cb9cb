//! `certs sign`: the CA certifies the keys centers made themselves.
//!
//! [`find_requests`] lists the `*.csr` files under a path (one file, or a
//! directory searched recursively, sorted). [`sign_requests`] handles each
//! on its own, on `std::thread::available_parallelism()` scoped workers
//! (a province sends ~23,000): read and check the request
//! ([`crate::request`]), check its node against the topology when one is
//! given, certify its key ([`FederationCa::certify`]), and write the
//! certificate next to the request (`node.pem` beside `node.csr`) with a
//! copy of `ca.pem`. One bad request never stops the others: every outcome
//! is reported, in the order of the input.
//!
//! An existing certificate beside a request is kept if it certifies the
//! request's key (a rerun over a directory signs only what is new). One for
//! another key is a renewal, done only when asked for ([`SignOptions::renew`]):
//! the old certificate is first kept as `node.<serial hex>.pem`, so history
//! stays verifiable, then replaced atomically.
//!
//! Never writes or reads a private key other than the CA's, never signs a
//! request whose signature does not verify, and never replaces a
//! certificate unless renewal was asked for.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use liandong_topology::{NodeId, Topology};

use crate::ca::{CertError, FederationCa, Validity, load_certificates};
use crate::fsutil::{self, PUBLIC_MODE, Replace};
use crate::identity::{Identity, ed25519_public_key, identity_of};
use crate::layout::CA_CERT_FILE;
use crate::request::{CSR_EXTENSION, RequestError, VerifiedRequest, read_request};
use crate::serial::Serial;

/// How [`sign_requests`] signs.
#[derive(Clone, Copy, Debug)]
pub struct SignOptions<'a> {
    /// When given, a node's request, or an operator's, must name a node of
    /// this topology; a node's certificate then carries its name as CN.
    pub topology: Option<&'a Topology>,
    /// Validity of node certificates.
    pub node_validity: Validity,
    /// Validity of operator and admin certificates.
    pub person_validity: Validity,
    /// Replace a certificate for another key of the same identity (renewal).
    pub renew: bool,
}

/// What happened to one request that was not refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Signed {
    /// A certificate was written where there was none.
    Issued {
        /// The certificate file.
        cert: PathBuf,
        /// Its serial.
        serial: Serial,
        /// Who it is for.
        identity: Identity,
    },
    /// A certificate for another key was replaced; the old one was kept.
    Renewed {
        /// The certificate file.
        cert: PathBuf,
        /// The new serial.
        serial: Serial,
        /// Who it is for.
        identity: Identity,
        /// Where the replaced certificate now is.
        archived: PathBuf,
    },
    /// The certificate beside the request already certifies its key.
    Kept {
        /// The certificate file.
        cert: PathBuf,
        /// Who it is for.
        identity: Identity,
    },
}

/// Why one request was refused. Every message starts with the request file.
#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    /// The request itself is bad (unreadable, damaged, bad signature, no
    /// single identity).
    #[error("{}: {source}", .path.display())]
    Request {
        /// The request file.
        path: PathBuf,
        /// What is wrong with it.
        source: RequestError,
    },
    /// The request names a node the topology does not have.
    #[error("{}: node {id} is not in the topology of federation {federation:?}", .path.display())]
    UnknownNode {
        /// The request file.
        path: PathBuf,
        /// The node it names.
        id: NodeId,
        /// The topology's federation name.
        federation: String,
    },
    /// A certificate for another key is already there, and renewal was not asked for.
    #[error(
        "{}: {} already certifies another key for {identity} (serial {serial}); to renew, rerun with --renew (the \
         old certificate is then kept as {})",
        .path.display(), .cert.display(), .archive.display()
    )]
    NotRenewing {
        /// The request file.
        path: PathBuf,
        /// The existing certificate.
        cert: PathBuf,
        /// Its serial.
        serial: Serial,
        /// Who it certifies.
        identity: Box<Identity>,
        /// Where renewal would keep it.
        archive: PathBuf,
    },
    /// The certificate beside the request is someone else's.
    #[error(
        "{}: {} is the certificate of {existing}, but the request is for {requested}; put each request in its own \
         directory",
        .path.display(), .cert.display()
    )]
    OtherIdentity {
        /// The request file.
        path: PathBuf,
        /// The existing certificate.
        cert: PathBuf,
        /// Who it certifies.
        existing: Box<Identity>,
        /// Who the request is for.
        requested: Box<Identity>,
    },
    /// The certificate would take the name of the CA copy.
    #[error("{}: its certificate would be {CA_CERT_FILE}, the CA's copy; rename the request", .path.display())]
    ReservedName {
        /// The request file.
        path: PathBuf,
    },
    /// Reading the existing certificate, issuing or writing failed.
    #[error("{}: {source}", .path.display())]
    Files {
        /// The request file.
        path: PathBuf,
        /// What failed.
        source: CertError,
    },
}

impl EnrollError {
    /// The request file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            EnrollError::Request { path, .. }
            | EnrollError::UnknownNode { path, .. }
            | EnrollError::NotRenewing { path, .. }
            | EnrollError::OtherIdentity { path, .. }
            | EnrollError::ReservedName { path }
            | EnrollError::Files { path, .. } => path,
        }
    }
}

/// The `*.csr` files at `path`: the file itself, or every one under the
/// directory (recursively, not following symbolic links to directories),
/// sorted. A directory without any is not an error (an empty list).
pub fn find_requests(path: &Path) -> Result<Vec<PathBuf>, CertError> {
    let meta = fs::metadata(path).map_err(|e| CertError::read(path, e))?;
    if !meta.is_dir() {
        return Ok(vec![path.to_owned()]);
    }
    let mut found = Vec::new();
    let mut dirs = vec![path.to_owned()];
    while let Some(dir) = dirs.pop() {
        let entries = fs::read_dir(&dir).map_err(|e| CertError::read(&dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| CertError::read(&dir, e))?;
            let kind = entry.file_type().map_err(|e| CertError::read(&entry.path(), e))?;
            let path = entry.path();
            if kind.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == CSR_EXTENSION) && path.is_file() {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Signs every request in `requests` (see the module doc); one result per
/// request, in the same order. `progress` is called with the number done so
/// far, from worker threads.
pub fn sign_requests(
    ca: &FederationCa,
    requests: &[PathBuf],
    options: &SignOptions<'_>,
    progress: &(dyn Fn(usize) + Sync),
) -> Vec<Result<Signed, EnrollError>> {
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Result<Signed, EnrollError>)>> = Mutex::new(Vec::with_capacity(requests.len()));
    let workers = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .clamp(1, 16)
        .min(requests.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                let mut local = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = requests.get(i) else { break };
                    local.push((i, sign_request(ca, path, options)));
                    progress(done.fetch_add(1, Ordering::Relaxed) + 1);
                }
                results.lock().unwrap_or_else(|p| p.into_inner()).extend(local);
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, result)| result).collect()
}

/// Signs the one request in `csr` (see the module doc).
pub fn sign_request(ca: &FederationCa, csr: &Path, options: &SignOptions<'_>) -> Result<Signed, EnrollError> {
    let files = |source| EnrollError::Files {
        path: csr.to_owned(),
        source,
    };
    let request = read_request(csr).map_err(|source| EnrollError::Request {
        path: csr.to_owned(),
        source,
    })?;
    let display_name = check_node(csr, &request.identity, options.topology)?;
    let cert_path = csr.with_extension("pem");
    if cert_path.file_name().is_some_and(|name| name == CA_CERT_FILE) {
        return Err(EnrollError::ReservedName { path: csr.to_owned() });
    }

    let archived = match existing(csr, &cert_path, &request)? {
        Existing::None => None,
        Existing::SameKey => {
            write_ca_copy(ca, csr).map_err(files)?;
            return Ok(Signed::Kept {
                cert: cert_path,
                identity: request.identity,
            });
        }
        Existing::OtherKey { serial, pem } => {
            let archive = archive_path(&cert_path, &serial);
            if !options.renew {
                return Err(EnrollError::NotRenewing {
                    path: csr.to_owned(),
                    cert: cert_path,
                    serial,
                    identity: Box::new(request.identity),
                    archive,
                });
            }
            keep_old(&archive, &pem).map_err(files)?;
            Some(archive)
        }
    };

    let validity = match request.identity {
        Identity::Node(_) => options.node_validity,
        Identity::Operator { .. } | Identity::Admin { .. } => options.person_validity,
    };
    let signed = ca
        .certify(&request.identity, &request.key, &display_name, validity)
        .map_err(files)?;
    fsutil::write_file(
        &cert_path,
        signed.cert_pem.as_bytes(),
        PUBLIC_MODE,
        Replace::Allowed,
        false,
    )
    .map_err(|e| files(CertError::write(&cert_path, e)))?;
    write_ca_copy(ca, csr).map_err(files)?;
    Ok(match archived {
        None => Signed::Issued {
            cert: cert_path,
            serial: signed.serial,
            identity: signed.identity,
        },
        Some(archived) => Signed::Renewed {
            cert: cert_path,
            serial: signed.serial,
            identity: signed.identity,
            archived,
        },
    })
}

/// Checks the request's node against the topology; returns a node's
/// display name for its certificate (empty without a topology: the id).
fn check_node(csr: &Path, identity: &Identity, topology: Option<&Topology>) -> Result<String, EnrollError> {
    let (Some(topology), Some(id)) = (topology, identity.node()) else {
        return Ok(String::new());
    };
    let Some(node) = topology.get(id) else {
        return Err(EnrollError::UnknownNode {
            path: csr.to_owned(),
            id: id.clone(),
            federation: topology.name().to_owned(),
        });
    };
    Ok(match identity {
        Identity::Node(_) => node.name.clone(),
        _ => String::new(),
    })
}

enum Existing {
    None,
    SameKey,
    OtherKey { serial: Serial, pem: Vec<u8> },
}

/// What certificate is already at `cert_path`, compared with the request.
fn existing(csr: &Path, cert_path: &Path, request: &VerifiedRequest) -> Result<Existing, EnrollError> {
    let files = |source| EnrollError::Files {
        path: csr.to_owned(),
        source,
    };
    let pem = match fs::read(cert_path) {
        Ok(pem) => pem,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Existing::None),
        Err(e) => return Err(files(CertError::read(cert_path, e))),
    };
    let chain = load_certificates(cert_path).map_err(files)?;
    let leaf = chain.first().ok_or_else(|| {
        files(CertError::BadCertificate {
            path: cert_path.to_owned(),
            reason: "no certificate".into(),
        })
    })?;
    let unusable = |reason: String| {
        files(CertError::BadCertificate {
            path: cert_path.to_owned(),
            reason,
        })
    };
    let existing = identity_of(leaf).map_err(|e| unusable(e.to_string()))?;
    if existing != request.identity {
        return Err(EnrollError::OtherIdentity {
            path: csr.to_owned(),
            cert: cert_path.to_owned(),
            existing: Box::new(existing),
            requested: Box::new(request.identity.clone()),
        });
    }
    let key = ed25519_public_key(leaf).map_err(|e| unusable(e.to_string()))?;
    if key == request.key.as_bytes() {
        return Ok(Existing::SameKey);
    }
    let serial = Serial::of_certificate(leaf).map_err(|e| unusable(e.to_string()))?;
    Ok(Existing::OtherKey { serial, pem })
}

/// `node.pem` → `node.<serial hex>.pem`.
fn archive_path(cert_path: &Path, serial: &Serial) -> PathBuf {
    let hex: String = serial.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
    let stem = cert_path.file_stem().map(|s| s.to_string_lossy()).unwrap_or_default();
    cert_path.with_file_name(format!("{stem}.{hex}.pem"))
}

/// Keeps the replaced certificate under its serial, before it is replaced.
/// An archive already holding the same bytes (an interrupted renewal run
/// again) is fine.
fn keep_old(archive: &Path, pem: &[u8]) -> Result<(), CertError> {
    match fsutil::write_file(archive, pem, PUBLIC_MODE, Replace::Never, true) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            if fs::read(archive).is_ok_and(|kept| kept == pem) {
                Ok(())
            } else {
                Err(CertError::AlreadyExists {
                    path: archive.to_owned(),
                })
            }
        }
        Err(e) => Err(CertError::write(archive, e)),
    }
}

/// Writes `ca.pem` beside the request unless it is already this CA's.
fn write_ca_copy(ca: &FederationCa, csr: &Path) -> Result<(), CertError> {
    let copy = csr.with_file_name(CA_CERT_FILE);
    if fs::read(&copy).is_ok_and(|current| current == ca.cert_pem().as_bytes()) {
        return Ok(());
    }
    fsutil::write_file(&copy, ca.cert_pem().as_bytes(), PUBLIC_MODE, Replace::Allowed, false)
        .map_err(|e| CertError::write(&copy, e))
}

#[cfg(test)]
mod tests;
