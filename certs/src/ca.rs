//! The federation CA: generating, saving and loading it, and issuing
//! certificates: node, operator and admin certificates with a key made here
//! (`certs init`, `issue-operator`, `issue-admin`), or a certificate for a
//! key the CA never sees (a request, see [`crate::enroll`]). What a
//! certificate of each identity carries (names, usages) is decided here
//! alone, never taken from a request.

use std::fmt;
use std::fs;
use std::path::Path;

use liandong_topology::NodeId;
use rcgen::string::Ia5String;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ED25519, PublicKeyData, SanType, SerialNumber,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};
use x509_parser::certificate::X509Certificate;

pub use crate::error::CertError;
use crate::fsutil::{self, KEY_MODE, PUBLIC_MODE, Replace};
use crate::identity::{Identity, Role, SERVER_NAME_SUFFIX, validate_name};
use crate::keys::{Ed25519PublicKey, generate_key_pair};
use crate::layout::CaDir;
pub(crate) use crate::pem::{create_dir, create_parent};
pub use crate::pem::{load_ca_certificate, load_certificates, load_private_key};
use crate::serial::Serial;

/// The id-kp-documentSigning OID (RFC 9336, 1.3.6.1.5.5.7.3.36): the one
/// extended key usage of a federation admin's certificate.
pub const EKU_DOCUMENT_SIGNING: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 3, 36];
/// Organizational unit of admin certificates (node and operator
/// certificates carry their node id there).
pub const ADMIN_OU: &str = "federation admins";

/// Suffix of the CA's common name: `"<federation> Liandong CA"`.
pub const CA_CN_SUFFIX: &str = " Liandong CA";
/// Validity of a new federation CA: 20 years.
pub const CA_VALIDITY_DAYS: u32 = 7305;
/// Longest federation name (the CA common name must stay within 64 characters).
pub const MAX_FEDERATION_NAME_CHARS: usize = 64 - CA_CN_SUFFIX.len();

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
    /// The private key, PKCS#8 v1 PEM (RFC 8410). Secret: write it only with [`IssuedCert::write`].
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

impl FederationCa {
    /// Generates a new CA for `federation` (e.g. "福州" or "Jiangsu"): an
    /// Ed25519 key and a self-signed certificate with CN
    /// `"<federation> Liandong CA"`, basic constraints CA (no intermediates
    /// below it), key usage keyCertSign + cRLSign. The key is written as
    /// PKCS#8 v1 by [`FederationCa::save`].
    pub fn generate(federation: &str, validity: Validity) -> Result<FederationCa, CertError> {
        let key = generate_key_pair(&format!("{federation}{CA_CN_SUFFIX}"))?;
        FederationCa::generate_with_key(federation, validity, key)
    }

    /// [`FederationCa::generate`] with a given key (tests: a v2 key as
    /// earlier versions wrote it).
    pub(crate) fn generate_with_key(
        federation: &str,
        validity: Validity,
        key: KeyPair,
    ) -> Result<FederationCa, CertError> {
        check_federation_name(federation)?;
        let validity = validity.check()?;
        let serial = Serial::random()?;
        let params = ca_params(federation, validity, &serial);
        let subject = format!("{federation}{CA_CN_SUFFIX}");
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
        self.issue_with_new_key(&Identity::Node(id.clone()), display_name, validity)
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
        let identity = Identity::Operator {
            node: node.clone(),
            name: name.to_owned(),
            role,
        };
        self.issue_with_new_key(&identity, "", validity)
    }

    /// Issues a federation admin's certificate: URI SAN
    /// `liandong://admin/<percent-encoded name>`, CN = name, O = federation,
    /// OU = [`ADMIN_OU`], EKU id-kp-documentSigning only
    /// ([`EKU_DOCUMENT_SIGNING`]): it signs the federation document, and no
    /// node accepts it on a connection.
    pub fn issue_admin(&self, name: &str, validity: Validity) -> Result<IssuedCert, CertError> {
        self.issue_with_new_key(&Identity::Admin { name: name.to_owned() }, "", validity)
    }

    /// Certifies `key` for `identity`: what signing a request does. The
    /// certificate is built from the identity alone (as [`Self::issue_node`],
    /// [`Self::issue_operator`] and [`Self::issue_admin`] build theirs);
    /// `display_name` is a node's common name (the id if empty) and is
    /// ignored for people, whose common name is their name.
    pub fn certify(
        &self,
        identity: &Identity,
        key: &Ed25519PublicKey,
        display_name: &str,
        validity: Validity,
    ) -> Result<SignedCert, CertError> {
        let subject = identity.to_string();
        let validity = validity.check()?;
        let serial = Serial::random()?;
        let params = self.leaf_params(identity, display_name, validity, &serial)?;
        let cert = params
            .signed_by(key, &self.issuer)
            .map_err(|source| CertError::Generate { subject, source })?;
        Ok(SignedCert {
            cert_pem: cert.pem(),
            cert_der: cert.der().clone(),
            serial,
            identity: identity.clone(),
            not_before: validity.not_before,
            not_after: validity.not_after,
        })
    }

    fn issue_with_new_key(
        &self,
        identity: &Identity,
        display_name: &str,
        validity: Validity,
    ) -> Result<IssuedCert, CertError> {
        let key = generate_key_pair(&identity.to_string())?;
        let public = Ed25519PublicKey::from_slice(key.der_bytes()).ok_or_else(|| CertError::UnusableKey {
            reason: "the generated public key is not 32 bytes".into(),
        })?;
        let signed = self.certify(identity, &public, display_name, validity)?;
        Ok(IssuedCert {
            cert_pem: signed.cert_pem,
            cert_der: signed.cert_der,
            key_pem: key.serialize_pem(),
            key_der: key.serialize_der(),
            serial: signed.serial,
            identity: signed.identity,
            not_before: signed.not_before,
            not_after: signed.not_after,
        })
    }

    /// The parameters of a leaf certificate for `identity`: the one place
    /// that decides names, SANs and usages. Node: CN = display name (or
    /// the id), OU = id, URI + DNS SANs, EKU serverAuth + clientAuth.
    /// Operator: CN = name, OU = node id, EKU clientAuth. Admin: CN = name,
    /// OU = [`ADMIN_OU`], EKU documentSigning. All: O = federation, key
    /// usage digitalSignature, not a CA, the authority key identifier.
    fn leaf_params(
        &self,
        identity: &Identity,
        display_name: &str,
        validity: Validity,
        serial: &Serial,
    ) -> Result<CertificateParams, CertError> {
        let generate = |source| CertError::Generate {
            subject: identity.to_string(),
            source,
        };
        let (cn, ou, ekus, dns) = match identity {
            Identity::Node(id) => {
                let cn = if display_name.trim().is_empty() {
                    id.as_str()
                } else {
                    display_name
                };
                (
                    cn,
                    id.as_str(),
                    vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth],
                    Some(format!("{id}{SERVER_NAME_SUFFIX}")),
                )
            }
            Identity::Operator { node, name, .. } => {
                validate_name(name)?;
                (
                    name.as_str(),
                    node.as_str(),
                    vec![ExtendedKeyUsagePurpose::ClientAuth],
                    None,
                )
            }
            Identity::Admin { name } => {
                validate_name(name)?;
                let eku = ExtendedKeyUsagePurpose::Other(EKU_DOCUMENT_SIGNING.to_vec());
                (name.as_str(), ADMIN_OU, vec![eku], None)
            }
        };

        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, cn);
        params
            .distinguished_name
            .push(DnType::OrganizationName, self.federation.as_str());
        params.distinguished_name.push(DnType::OrganizationalUnitName, ou);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = ekus;
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
        Ok(params)
    }
}

/// A certificate the CA signed for a key it never saw (a request's): no
/// private key travels with it.
#[derive(Clone, Debug)]
pub struct SignedCert {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The certificate, DER.
    pub cert_der: CertificateDer<'static>,
    /// Its serial number.
    pub serial: Serial,
    /// The identity in its SANs.
    pub identity: Identity,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
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

#[cfg(test)]
mod tests;
