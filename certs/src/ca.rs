//! The federation CA: generating, saving and loading it, and issuing node and
//! operator certificates. Also the PEM loaders every other module uses.

use std::fmt;
use std::fs::{self, DirBuilder};
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use liandong_topology::NodeId;
use rcgen::string::Ia5String;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ED25519, SanType, SerialNumber,
};
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};
use x509_parser::certificate::X509Certificate;

use crate::fsutil::{self, KEY_MODE, PUBLIC_MODE, Replace};
use crate::identity::{Identity, OperatorNameError, Role, SERVER_NAME_SUFFIX, validate_operator_name};
use crate::layout::CaDir;
use crate::rfc3339;
use crate::serial::{RngError, Serial};

/// Suffix of the CA's common name: `"<federation> Liandong CA"`.
pub const CA_CN_SUFFIX: &str = " Liandong CA";
/// Validity of a new federation CA: 20 years.
pub const CA_VALIDITY_DAYS: u32 = 7305;
/// Longest federation name (the CA common name must stay within 64 characters).
pub const MAX_FEDERATION_NAME_CHARS: usize = 64 - CA_CN_SUFFIX.len();

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
    /// An operator name that cannot go into a certificate.
    #[error(transparent)]
    OperatorName(#[from] OperatorNameError),
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
    fn read(path: &Path, source: io::Error) -> CertError {
        match source.kind() {
            io::ErrorKind::NotFound => CertError::Missing { path: path.to_owned() },
            _ => CertError::Read {
                path: path.to_owned(),
                source,
            },
        }
    }

    fn write(path: &Path, source: io::Error) -> CertError {
        match source.kind() {
            io::ErrorKind::AlreadyExists => CertError::AlreadyExists { path: path.to_owned() },
            _ => CertError::Write {
                path: path.to_owned(),
                source,
            },
        }
    }
}

/// When a certificate is valid. Explicit so tests (and ops) can make
/// certificates that are expired or not yet valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Validity {
    /// First valid instant (whole seconds).
    pub not_before: OffsetDateTime,
    /// Last valid instant (whole seconds).
    pub not_after: OffsetDateTime,
}

impl Validity {
    /// How far `days_from` backdates `not_before`, so a peer whose clock runs
    /// a little behind still accepts a certificate issued a moment ago.
    pub const CLOCK_SKEW_ALLOWANCE: Duration = Duration::hours(1);

    /// Valid from an hour before `now` until `days` days after `now`.
    pub fn days_from(now: OffsetDateTime, days: u32) -> Validity {
        Validity {
            not_before: whole_seconds(now - Self::CLOCK_SKEW_ALLOWANCE),
            not_after: whole_seconds(now + Duration::days(i64::from(days))),
        }
    }

    fn check(self) -> Result<Validity, CertError> {
        let v = Validity {
            not_before: whole_seconds(self.not_before),
            not_after: whole_seconds(self.not_after),
        };
        if v.not_after <= v.not_before {
            return Err(CertError::BadValidity {
                not_before: v.not_before,
                not_after: v.not_after,
            });
        }
        Ok(v)
    }
}

/// Certificates store whole seconds; keep our copies equal to what is written.
fn whole_seconds(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(0).unwrap_or(t)
}

/// A freshly issued certificate with its private key.
#[derive(Clone)]
pub struct IssuedCert {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The certificate, DER (what rustls takes).
    pub cert_der: CertificateDer<'static>,
    /// The private key, PKCS#8 PEM. Secret: write it only with [`IssuedCert::write`].
    pub key_pem: String,
    /// The certificate's serial number.
    pub serial: Serial,
    /// The identity in its SANs.
    pub identity: Identity,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
    key_der: Vec<u8>,
}

impl fmt::Debug for IssuedCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedCert")
            .field("identity", &self.identity)
            .field("serial", &self.serial)
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .field("key", &"[secret]")
            .finish()
    }
}

impl IssuedCert {
    /// The private key as rustls takes it.
    pub fn private_key_der(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()))
    }

    /// Writes the certificate (0644) and key (0600), creating parent
    /// directories (0700). Refuses to overwrite either file.
    pub fn write(&self, cert_path: &Path, key_path: &Path) -> Result<(), CertError> {
        for path in [cert_path, key_path] {
            if path.exists() {
                return Err(CertError::AlreadyExists { path: path.to_owned() });
            }
        }
        self.write_files(cert_path, key_path, Replace::Never)
    }

    /// Like [`IssuedCert::write`] but atomically replaces existing files
    /// (renewal). The key is replaced first; a reader sees old or new files,
    /// never a partial one.
    pub fn write_replacing(&self, cert_path: &Path, key_path: &Path) -> Result<(), CertError> {
        self.write_files(cert_path, key_path, Replace::Allowed)
    }

    fn write_files(&self, cert_path: &Path, key_path: &Path, replace: Replace) -> Result<(), CertError> {
        for path in [cert_path, key_path] {
            create_parent(path)?;
        }
        // Key first: a certificate on disk always has its key beside it.
        fsutil::write_file(key_path, self.key_pem.as_bytes(), KEY_MODE, replace, false)
            .map_err(|e| CertError::write(key_path, e))?;
        fsutil::write_file(cert_path, self.cert_pem.as_bytes(), PUBLIC_MODE, replace, false)
            .map_err(|e| CertError::write(cert_path, e))
    }
}

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
///
/// Only the machine that issues certificates holds this; nodes hold the CA
/// certificate alone (see [`load_ca_certificate`]).
pub struct FederationCa {
    federation: String,
    cert_der: CertificateDer<'static>,
    cert_pem: String,
    serial: Serial,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    issuer: Issuer<'static, KeyPair>,
}

impl fmt::Debug for FederationCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FederationCa")
            .field("federation", &self.federation)
            .field("serial", &self.serial)
            .field("not_after", &self.not_after)
            .field("key", &"[secret]")
            .finish()
    }
}

fn ca_params(federation: &str, validity: Validity, serial: &Serial) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, format!("{federation}{CA_CN_SUFFIX}"));
    params.distinguished_name.push(DnType::OrganizationName, federation);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = validity.not_before;
    params.not_after = validity.not_after;
    params.serial_number = Some(SerialNumber::from_slice(serial.as_bytes()));
    params
}

fn check_federation_name(name: &str) -> Result<(), CertError> {
    let bad = |reason| {
        Err(CertError::BadFederationName {
            name: name.to_owned(),
            reason,
        })
    };
    if name.trim().is_empty() {
        return bad("it is empty");
    }
    if name.chars().count() > MAX_FEDERATION_NAME_CHARS {
        return bad("it is longer than 52 characters");
    }
    if name.chars().any(char::is_control) {
        return bad("it contains a control character");
    }
    if name.trim() != name {
        return bad("it starts or ends with whitespace");
    }
    Ok(())
}

fn generate_key(subject: &str) -> Result<KeyPair, CertError> {
    KeyPair::generate_for(&PKCS_ED25519).map_err(|source| CertError::Generate {
        subject: subject.to_owned(),
        source,
    })
}

impl FederationCa {
    /// Generates a new CA for `federation` (e.g. "福州" or "Jiangsu"): an
    /// Ed25519 key and a self-signed certificate with CN
    /// `"<federation> Liandong CA"`, basic constraints CA (no intermediates
    /// below it), key usage keyCertSign + cRLSign.
    pub fn generate(federation: &str, validity: Validity) -> Result<FederationCa, CertError> {
        check_federation_name(federation)?;
        let validity = validity.check()?;
        let serial = Serial::random()?;
        let params = ca_params(federation, validity, &serial);
        let subject = format!("{federation}{CA_CN_SUFFIX}");
        let key = generate_key(&subject)?;
        let cert = params
            .self_signed(&key)
            .map_err(|source| CertError::Generate { subject, source })?;
        Ok(FederationCa {
            federation: federation.to_owned(),
            cert_pem: cert.pem(),
            cert_der: cert.der().clone(),
            serial,
            not_before: validity.not_before,
            not_after: validity.not_after,
            issuer: Issuer::new(params, key),
        })
    }

    /// Writes `DIR/ca.pem` (0644) and `DIR/ca.key` (0600), creating `DIR`
    /// (0700) if needed. Refuses to overwrite an existing CA: replacing it
    /// would orphan every certificate already issued.
    pub fn save(&self, dir: &Path) -> Result<(), CertError> {
        let layout = CaDir::new(dir);
        let (cert_path, key_path) = (layout.ca_cert(), layout.ca_key());
        for path in [&cert_path, &key_path] {
            if path.exists() {
                return Err(CertError::AlreadyExists { path: path.clone() });
            }
        }
        create_dir(dir)?;
        let key_pem = self.issuer.key().serialize_pem();
        fsutil::write_file(&key_path, key_pem.as_bytes(), KEY_MODE, Replace::Never, true)
            .map_err(|e| CertError::write(&key_path, e))?;
        fsutil::write_file(&cert_path, self.cert_pem.as_bytes(), PUBLIC_MODE, Replace::Never, true)
            .map_err(|e| CertError::write(&cert_path, e))
    }

    /// Whether `DIR` already holds a CA certificate or key.
    pub fn exists(dir: &Path) -> bool {
        let layout = CaDir::new(dir);
        layout.ca_cert().exists() || layout.ca_key().exists()
    }

    /// Loads the CA from `DIR/ca.pem` and `DIR/ca.key`, checking that the
    /// certificate is a Liandong CA, that the key is Ed25519, private (0600)
    /// and belongs to the certificate.
    pub fn load(dir: &Path) -> Result<FederationCa, CertError> {
        let layout = CaDir::new(dir);
        let (cert_path, key_path) = (layout.ca_cert(), layout.ca_key());
        let cert_der = load_ca_certificate(&cert_path)?;
        let not_ca = |reason: String| CertError::NotFederationCa {
            path: cert_path.clone(),
            reason,
        };
        let (_, x509) = x509_parser::parse_x509_certificate(&cert_der).map_err(|e| CertError::BadCertificate {
            path: cert_path.clone(),
            reason: e.to_string(),
        })?;
        let cn = common_name(&x509).ok_or_else(|| not_ca("it has no common name".into()))?;
        let federation = cn
            .strip_suffix(CA_CN_SUFFIX)
            .ok_or_else(|| not_ca(format!("its common name {cn:?} does not end in {CA_CN_SUFFIX:?}")))?
            .to_owned();
        let serial = Serial::from_der_integer(x509.raw_serial()).map_err(|e| not_ca(e.to_string()))?;
        let validity = validity_of(&x509);

        let key_der = load_private_key(&key_path)?;
        let PrivateKeyDer::Pkcs8(pkcs8) = key_der else {
            return Err(CertError::BadKey {
                path: key_path,
                reason: "expected a PKCS#8 \"PRIVATE KEY\" block".into(),
            });
        };
        let key = KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8, &PKCS_ED25519).map_err(|e| CertError::BadKey {
            path: key_path.clone(),
            reason: format!("not an Ed25519 key: {e}"),
        })?;
        if key.public_key_raw() != x509.public_key().subject_public_key.data.as_ref() {
            return Err(CertError::KeyMismatch {
                cert: cert_path,
                key: key_path,
            });
        }

        // Rebuild the issuer from the parameters this crate always uses, and
        // prove the rebuilt subject is byte-identical to the stored one:
        // certificates we issue must chain to the CA file exactly.
        let params = ca_params(&federation, validity, &serial);
        let probe = params.self_signed(&key).map_err(|source| CertError::Generate {
            subject: cn.clone(),
            source,
        })?;
        let same_subject = x509_parser::parse_x509_certificate(probe.der())
            .map(|(_, p)| p.subject().as_raw() == x509.subject().as_raw())
            .unwrap_or(false);
        if !same_subject {
            return Err(not_ca(
                "its subject is not the one this tool writes (CN, O = federation)".into(),
            ));
        }
        let cert_pem = fs::read_to_string(&cert_path).map_err(|e| CertError::read(&cert_path, e))?;
        Ok(FederationCa {
            federation,
            cert_pem,
            cert_der,
            serial,
            not_before: validity.not_before,
            not_after: validity.not_after,
            issuer: Issuer::new(params, key),
        })
    }

    /// The federation name (the CA CN without " Liandong CA").
    pub fn federation(&self) -> &str {
        &self.federation
    }

    /// The CA certificate, DER.
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    /// The CA certificate, PEM (as in `ca.pem`).
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA certificate's serial.
    pub fn serial(&self) -> &Serial {
        &self.serial
    }

    /// Start of the CA's validity.
    pub fn not_before(&self) -> OffsetDateTime {
        self.not_before
    }

    /// End of the CA's validity; nothing it issues is valid after this.
    pub fn not_after(&self) -> OffsetDateTime {
        self.not_after
    }

    /// Lower-level access to the rcgen issuer, for tooling and tests that must
    /// sign something this crate would not (e.g. a certificate without SANs).
    pub fn issuer(&self) -> &Issuer<'static, KeyPair> {
        &self.issuer
    }

    /// Issues a node certificate: URI SAN `liandong://node/<id>` (plus DNS SAN
    /// `<id>.node.liandong`), CN = `display_name` (any script; the id if
    /// empty), O = federation, OU = id, EKU serverAuth + clientAuth, not a CA.
    pub fn issue_node(&self, id: &NodeId, display_name: &str, validity: Validity) -> Result<IssuedCert, CertError> {
        let identity = Identity::Node(id.clone());
        let cn = if display_name.trim().is_empty() {
            id.as_str()
        } else {
            display_name
        };
        let dns = format!("{id}{SERVER_NAME_SUFFIX}");
        self.issue(
            identity,
            cn,
            &[ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth],
            Some(dns),
            validity,
        )
    }

    /// Issues an operator certificate: URI SANs
    /// `liandong://operator/<node>/<percent-encoded name>` and
    /// `liandong://role/<role>`, CN = name, O = federation, OU = node id,
    /// EKU clientAuth only.
    pub fn issue_operator(
        &self,
        node: &NodeId,
        name: &str,
        role: Role,
        validity: Validity,
    ) -> Result<IssuedCert, CertError> {
        validate_operator_name(name)?;
        let identity = Identity::Operator {
            node: node.clone(),
            name: name.to_owned(),
            role,
        };
        self.issue(identity, name, &[ExtendedKeyUsagePurpose::ClientAuth], None, validity)
    }

    fn issue(
        &self,
        identity: Identity,
        cn: &str,
        ekus: &[ExtendedKeyUsagePurpose],
        dns: Option<String>,
        validity: Validity,
    ) -> Result<IssuedCert, CertError> {
        let validity = validity.check()?;
        let serial = Serial::random()?;
        let subject = identity.to_string();
        let generate = |source| CertError::Generate {
            subject: subject.clone(),
            source,
        };

        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, cn);
        params
            .distinguished_name
            .push(DnType::OrganizationName, self.federation.as_str());
        params
            .distinguished_name
            .push(DnType::OrganizationalUnitName, identity.node().as_str());
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = ekus.to_vec();
        params.use_authority_key_identifier_extension = true;
        params.not_before = validity.not_before;
        params.not_after = validity.not_after;
        params.serial_number = Some(SerialNumber::from_slice(serial.as_bytes()));
        for uri in identity.uris() {
            params
                .subject_alt_names
                .push(SanType::URI(Ia5String::try_from(uri).map_err(generate)?));
        }
        if let Some(dns) = dns {
            params
                .subject_alt_names
                .push(SanType::DnsName(Ia5String::try_from(dns).map_err(generate)?));
        }

        let key = generate_key(&subject)?;
        let cert = params.signed_by(&key, &self.issuer).map_err(generate)?;
        Ok(IssuedCert {
            cert_pem: cert.pem(),
            cert_der: cert.der().clone(),
            key_pem: key.serialize_pem(),
            key_der: key.serialize_der(),
            serial,
            identity,
            not_before: validity.not_before,
            not_after: validity.not_after,
        })
    }
}

pub(crate) fn common_name(cert: &X509Certificate<'_>) -> Option<String> {
    cert.subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_owned)
}

pub(crate) fn validity_of(cert: &X509Certificate<'_>) -> Validity {
    let at = |t: i64| OffsetDateTime::from_unix_timestamp(t).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    Validity {
        not_before: at(cert.validity().not_before.timestamp()),
        not_after: at(cert.validity().not_after.timestamp()),
    }
}

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

#[cfg(test)]
mod tests;
