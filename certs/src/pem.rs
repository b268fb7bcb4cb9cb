//! Reading certificates and keys from PEM files, and creating the private
//! directories they live in. Nothing here writes a certificate or a key
//! (writes go through the private `fsutil`); a key file that others may
//! read is refused.

use std::fs::{self, DirBuilder};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::CertError;

/// Creates the parent directory of `path` with mode 0700 if it is missing
/// (directories here hold private keys).
pub(crate) fn create_parent(path: &Path) -> Result<(), CertError> {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() && !parent.is_dir() => create_dir(parent),
        _ => Ok(()),
    }
}

pub(crate) fn create_dir(dir: &Path) -> Result<(), CertError> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| CertError::write(dir, e))
}

/// The federation's certificate authority: its certificate and signing key.
fn pem_error(path: &Path, what: &str, e: pem::Error) -> CertError {
    match e {
        pem::Error::Io(source) => CertError::read(path, source),
        pem::Error::NoItemsFound => CertError::BadPem {
            path: path.to_owned(),
            reason: format!("no {what} PEM block found"),
        },
        other => CertError::BadPem {
            path: path.to_owned(),
            reason: format!("bad PEM: {other}"),
        },
    }
}

/// Reads every `CERTIFICATE` block of a PEM file (leaf first). Fails if there is none.
pub fn load_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, CertError> {
    let bytes = fs::read(path).map_err(|e| CertError::read(path, e))?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(path, "CERTIFICATE", e))?;
    if certs.is_empty() {
        return Err(pem_error(path, "CERTIFICATE", pem::Error::NoItemsFound));
    }
    Ok(certs)
}

/// Reads the single certificate of a CA file and checks it is a CA.
pub fn load_ca_certificate(path: &Path) -> Result<CertificateDer<'static>, CertError> {
    let mut certs = load_certificates(path)?;
    if certs.len() != 1 {
        return Err(CertError::NotFederationCa {
            path: path.to_owned(),
            reason: format!("expected one certificate, found {}", certs.len()),
        });
    }
    let cert = certs.remove(0);
    let (_, x509) = x509_parser::parse_x509_certificate(&cert).map_err(|e| CertError::BadCertificate {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    if !x509.is_ca() {
        return Err(CertError::NotFederationCa {
            path: path.to_owned(),
            reason: "it is not a CA certificate".into(),
        });
    }
    Ok(cert)
}

/// Reads a private key, refusing a file that group or others may access
/// (like ssh does): a key that has leaked must be treated as compromised.
pub fn load_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, CertError> {
    let meta = fs::metadata(path).map_err(|e| CertError::read(path, e))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(CertError::KeyReadableByOthers {
            path: path.to_owned(),
            mode,
        });
    }
    let bytes = fs::read(path).map_err(|e| CertError::read(path, e))?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| pem_error(path, "PRIVATE KEY", e))
}
