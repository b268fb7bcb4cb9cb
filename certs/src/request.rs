//! Certificate requests (PKCS#10, PEM `CERTIFICATE REQUEST`): made where the
//! key is to live, read where the CA is.
//!
//! On a center's machine, [`CertRequest::new`] makes a fresh Ed25519 key
//! (PKCS#8 v1) and a request signed with it that carries the identity in
//! the same URI SANs certificates carry; [`CertRequest::write`] puts
//! `node.key` (0600, never overwriting a key) and `node.csr` (or
//! `<name>.key`, `<name>.csr` for a person) in a directory. The key never
//! leaves that machine.
//!
//! On the CA machine, [`parse_request`] reads a request back: one PEM block,
//! DER with nothing trailing, an Ed25519 key, a signature that verifies
//! with that key (proof the requester holds it), and exactly one Liandong
//! identity in its SANs. It returns only the identity and the key: nothing
//! else a request says (subject, usages, CA flags) ever reaches a
//! certificate; [`crate::ca`] builds certificates from the identity alone.
//!
//! Never overwrites a key, and never trusts a request whose signature does
//! not verify.

use std::fmt;
use std::path::{Path, PathBuf};

use rcgen::string::Ia5String;
use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, SanType};
use ring::signature::{ED25519, UnparsedPublicKey};
use rustls_pki_types::CertificateSigningRequestDer;
use rustls_pki_types::pem::{self, PemObject};
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer;

use crate::ca::{CertError, create_dir};
use crate::fsutil::{self, KEY_MODE, PUBLIC_MODE, Replace};
use crate::identity::{Identity, IdentityError, identity_from_uris, validate_name};
use crate::keys::{Ed25519PublicKey, generate_key_pair};

/// Extension of request files (`node.csr`).
pub const CSR_EXTENSION: &str = "csr";
/// Extension of key files (`node.key`).
pub const KEY_EXTENSION: &str = "key";
/// Largest request file read (a Liandong request is well under 1 KiB).
pub const MAX_REQUEST_BYTES: u64 = 64 * 1024;
/// OID of id-Ed25519 (RFC 8410), the only key and signature algorithm.
const ED25519_OID: &str = "1.3.101.112";

/// A fresh key and the request for its certificate, not yet on disk.
pub struct CertRequest {
    /// Who the request is for.
    pub identity: Identity,
    /// The request, PEM (`-----BEGIN CERTIFICATE REQUEST-----`).
    pub csr_pem: String,
    /// The private key, PKCS#8 v1 PEM. Secret: write it only with [`CertRequest::write`].
    key_pem: String,
}

impl fmt::Debug for CertRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertRequest")
            .field("identity", &self.identity)
            .field("key", &"[secret]")
            .finish()
    }
}

/// Where [`CertRequest::write`] put the files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestFiles {
    /// The private key (0600): stays on this machine.
    pub key: PathBuf,
    /// The request: goes to the CA.
    pub csr: PathBuf,
}

impl CertRequest {
    /// A new Ed25519 key and a request signed with it for `identity`
    /// (subject CN = the node id or the person's name; SANs = the
    /// identity's `liandong://` URIs).
    pub fn new(identity: &Identity) -> Result<CertRequest, CertError> {
        let subject = identity.to_string();
        let generate = |source| CertError::Generate {
            subject: subject.clone(),
            source,
        };
        let cn = match identity {
            Identity::Node(id) => id.as_str(),
            Identity::Operator { name, .. } | Identity::Admin { name } => {
                validate_name(name)?;
                name.as_str()
            }
        };
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, cn);
        for uri in identity.uris() {
            params
                .subject_alt_names
                .push(SanType::URI(Ia5String::try_from(uri).map_err(generate)?));
        }
        let key: KeyPair = generate_key_pair(&subject)?;
        let csr = params.serialize_request(&key).map_err(generate)?;
        Ok(CertRequest {
            identity: identity.clone(),
            csr_pem: csr.pem().map_err(generate)?,
            key_pem: key.serialize_pem(),
        })
    }

    /// The file names in `dir`: `node.key` and `node.csr` for a node,
    /// `<name>.key` and `<name>.csr` for a person.
    pub fn files_in(&self, dir: &Path) -> RequestFiles {
        let stem = self.identity.file_stem();
        RequestFiles {
            key: dir.join(format!("{stem}.{KEY_EXTENSION}")),
            csr: dir.join(format!("{stem}.{CSR_EXTENSION}")),
        }
    }

    /// Writes the key (0600, created with that mode) and the request
    /// (0644) into `dir`, creating it (0700) if needed. Refuses if the key
    /// file exists: a key is never overwritten. A request left without its
    /// key (an interrupted earlier run) is replaced.
    pub fn write(&self, dir: &Path) -> Result<RequestFiles, CertError> {
        let files = self.files_in(dir);
        if files.key.exists() {
            return Err(CertError::KeyExists { path: files.key });
        }
        create_dir(dir)?;
        fsutil::write_file(&files.key, self.key_pem.as_bytes(), KEY_MODE, Replace::Never, true).map_err(|e| {
            match CertError::write(&files.key, e) {
                CertError::AlreadyExists { path } => CertError::KeyExists { path },
                other => other,
            }
        })?;
        fsutil::write_file(&files.csr, self.csr_pem.as_bytes(), PUBLIC_MODE, Replace::Allowed, true)
            .map_err(|e| CertError::write(&files.csr, e))?;
        Ok(files)
    }
}

/// What the CA takes from a request whose signature verified: who it is
/// for, and the key to certify.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedRequest {
    /// The identity in its SANs.
    pub identity: Identity,
    /// The requester's public key.
    pub key: Ed25519PublicKey,
}

/// Why a request is refused. Messages say what is wrong with the request
/// itself; callers add the file.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// The file cannot be read.
    #[error(transparent)]
    File(CertError),
    /// Larger than any request (not a request, or not only one).
    #[error("{0} bytes is too large for a certificate request (at most {MAX_REQUEST_BYTES})")]
    TooLarge(u64),
    /// No request PEM block, or a broken one.
    #[error("not a PEM certificate request: {0}")]
    NotPem(String),
    /// More than one request in the file.
    #[error("the file holds {0} certificate requests; put one request in each file")]
    Several(usize),
    /// The DER inside is not a PKCS#10 request.
    #[error("the certificate request cannot be parsed ({0}); is the file truncated or damaged?")]
    Malformed(String),
    /// A key or signature algorithm other than Ed25519.
    #[error("the request uses {0}, not Ed25519; make requests with `liandong certs request`")]
    NotEd25519(String),
    /// The signature does not verify with the request's own key.
    #[error(
        "the request's signature does not verify with the key it carries: it was changed after it was made, or \
         made without that key"
    )]
    BadSignature,
    /// The SANs name no identity, or a malformed or several one(s).
    #[error("the request names no usable identity: {0}")]
    Identity(#[from] IdentityError),
}

/// Reads and checks the request in `path` (see [`parse_request`]).
pub fn read_request(path: &Path) -> Result<VerifiedRequest, RequestError> {
    let meta = std::fs::metadata(path).map_err(|e| RequestError::File(CertError::read(path, e)))?;
    if meta.len() > MAX_REQUEST_BYTES {
        return Err(RequestError::TooLarge(meta.len()));
    }
    let bytes = std::fs::read(path).map_err(|e| RequestError::File(CertError::read(path, e)))?;
    parse_request(&bytes)
}

/// Checks a PEM request: exactly one `CERTIFICATE REQUEST` block, a
/// PKCS#10 structure with nothing after it, an Ed25519 key, a signature
/// that verifies with that key, and exactly one Liandong identity in the
/// requested SANs.
pub fn parse_request(pem_bytes: &[u8]) -> Result<VerifiedRequest, RequestError> {
    let blocks = CertificateSigningRequestDer::pem_slice_iter(pem_bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| RequestError::NotPem(pem_reason(e)))?;
    let der = match blocks.as_slice() {
        [] => return Err(RequestError::NotPem(pem_reason(pem::Error::NoItemsFound))),
        [one] => one,
        several => return Err(RequestError::Several(several.len())),
    };
    let (rest, csr) = X509CertificationRequest::from_der(der).map_err(|e| RequestError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(RequestError::Malformed(format!(
            "{} bytes after the end of the request",
            rest.len()
        )));
    }

    let info = &csr.certification_request_info;
    let key_algorithm = info.subject_pki.algorithm.algorithm.to_id_string();
    let signature_algorithm = csr.signature_algorithm.algorithm.to_id_string();
    if key_algorithm != ED25519_OID {
        return Err(RequestError::NotEd25519(format!("key algorithm {key_algorithm}")));
    }
    if signature_algorithm != ED25519_OID {
        return Err(RequestError::NotEd25519(format!(
            "signature algorithm {signature_algorithm}"
        )));
    }
    let key = Ed25519PublicKey::from_slice(&info.subject_pki.subject_public_key.data)
        .ok_or_else(|| RequestError::Malformed("its Ed25519 key is not 32 bytes".into()))?;
    UnparsedPublicKey::new(&ED25519, key.as_bytes())
        .verify(info.raw, &csr.signature_value.data)
        .map_err(|_| RequestError::BadSignature)?;

    let mut uris = Vec::new();
    for extension in csr.requested_extensions().into_iter().flatten() {
        match extension {
            ParsedExtension::SubjectAlternativeName(san) => {
                uris.extend(san.general_names.iter().filter_map(|name| match name {
                    GeneralName::URI(uri) => Some(*uri),
                    _ => None,
                }));
            }
            ParsedExtension::ParseError { error } => {
                return Err(RequestError::Malformed(format!("a requested extension: {error}")));
            }
            _ => {}
        }
    }
    let identity = identity_from_uris(uris)?;
    Ok(VerifiedRequest { identity, key })
}

fn pem_reason(e: pem::Error) -> String {
    match e {
        pem::Error::NoItemsFound => "no \"-----BEGIN CERTIFICATE REQUEST-----\" block".into(),
        pem::Error::MissingSectionEnd { .. } => "the PEM block has no \"-----END\" line: the file is truncated".into(),
        pem::Error::Base64Decode(reason) => format!("the PEM block's base64 is damaged ({reason})"),
        pem::Error::IllegalSectionStart { .. } => "a malformed \"-----BEGIN\" line".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests;
