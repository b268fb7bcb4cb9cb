//! [`CertError`]: what can go wrong creating, loading, issuing or writing
//! certificates and keys. Every message names the file, node or serial
//! involved, so the operator knows what to fix. This module only describes
//! failures; it never performs I/O.

use std::io;
use std::path::{Path, PathBuf};

use time::OffsetDateTime;

use crate::identity::NameError;
use crate::rfc3339;
use crate::serial::RngError;

/// Everything that can go wrong creating, loading, issuing or writing
/// certificates and keys. Messages name the file, node or serial involved.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// A file that must exist does not.
    #[error("{} does not exist", .path.display())]
    Missing {
        /// The missing file.
        path: PathBuf,
    },
    /// A file exists but cannot be read.
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// A file or directory cannot be written.
    #[error("cannot write {}: {source}", .path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// Refusing to replace an existing file (the CA, an issued certificate).
    #[error("{} already exists; refusing to overwrite it", .path.display())]
    AlreadyExists {
        /// The existing file.
        path: PathBuf,
    },
    /// A key file exists where a new key was to be written.
    #[error(
        "{} already exists; a key is never overwritten (to renew, request into another directory with --out and \
         swap the files once the new certificate is signed)",
        .path.display()
    )]
    KeyExists {
        /// The existing key file.
        path: PathBuf,
    },
    /// The file is not PEM, or has no block of the expected kind.
    #[error("{}: {reason}", .path.display())]
    BadPem {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A certificate that cannot be parsed or used.
    #[error("{}: not a usable certificate: {reason}", .path.display())]
    BadCertificate {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A private key that cannot be parsed or used.
    #[error("{}: not a usable private key: {reason}", .path.display())]
    BadKey {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A private key file that group or others can access.
    #[error("{} can be accessed by other users (mode {mode:03o}); run `chmod 600 {}`", .path.display(), .path.display())]
    KeyReadableByOthers {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The key does not belong to the certificate next to it.
    #[error("the key in {} does not belong to the certificate in {}", .key.display(), .cert.display())]
    KeyMismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
    },
    /// A certificate expected to be the federation CA is not one.
    #[error("{} is not a Liandong federation CA: {reason}", .path.display())]
    NotFederationCa {
        /// The certificate file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A federation name that cannot go into the CA certificate.
    #[error("federation name {name:?} is not usable: {reason}")]
    BadFederationName {
        /// The name given.
        name: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// `not_after` is not after `not_before`.
    #[error("validity ends ({}) before it starts ({})", rfc3339(*.not_after), rfc3339(*.not_before))]
    BadValidity {
        /// Start.
        not_before: OffsetDateTime,
        /// End.
        not_after: OffsetDateTime,
    },
    /// A person's name (operator, admin) that cannot go into a certificate.
    #[error(transparent)]
    Name(#[from] NameError),
    /// Key bytes (not a file) that are not a usable Ed25519 PKCS#8 key.
    #[error("not a usable Ed25519 private key: {reason}")]
    UnusableKey {
        /// What is wrong.
        reason: String,
    },
    /// rcgen refused to build or sign the certificate.
    #[error("cannot build the certificate for {subject}: {source}")]
    Generate {
        /// Who the certificate was for.
        subject: String,
        /// rcgen's reason.
        source: rcgen::Error,
    },
    /// The system random generator failed.
    #[error(transparent)]
    Rng(#[from] RngError),
}

impl CertError {
    pub(crate) fn read(path: &Path, source: io::Error) -> CertError {
        match source.kind() {
            io::ErrorKind::NotFound => CertError::Missing { path: path.to_owned() },
            _ => CertError::Read {
                path: path.to_owned(),
                source,
            },
        }
    }

    pub(crate) fn write(path: &Path, source: io::Error) -> CertError {
        match source.kind() {
            io::ErrorKind::AlreadyExists => CertError::AlreadyExists { path: path.to_owned() },
            _ => CertError::Write {
                path: path.to_owned(),
                source,
            },
        }
    }
}
