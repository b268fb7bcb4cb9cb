//! `certs inspect`: a readable summary of a certificate file, optionally
//! checked against a federation CA and its revocation list.

use std::fmt::Write as _;
use std::path::Path;

use rustls_pki_types::{CertificateDer, UnixTime};
use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;

use crate::ca::{CertError, load_certificates, validity_of};
use crate::identity::{identity_of_parsed, san_strings};
use crate::rfc3339;
use crate::serial::{Serial, SerialError};
use crate::verify::{Usage, Verifier};

/// What a certificate says about itself that its holder shows: which one
/// it is and when it is valid (a node's status shows its own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertFacts {
    /// Its serial number.
    pub serial: Serial,
    /// First valid instant (whole seconds).
    pub not_before: OffsetDateTime,
    /// Last valid instant (whole seconds).
    pub not_after: OffsetDateTime,
}

/// The serial and validity of the DER certificate `der`, as
/// [`describe`] prints them. Checks nothing else: whether it is trusted
/// is [`Verifier`]'s question.
pub fn certificate_facts(der: &[u8]) -> Result<CertFacts, SerialError> {
    let (_, x509) = x509_parser::parse_x509_certificate(der).map_err(|e| SerialError::BadCertificate(e.to_string()))?;
    let validity = validity_of(&x509);
    Ok(CertFacts {
        serial: Serial::from_der_integer(x509.raw_serial())?,
        not_before: validity.not_before,
        not_after: validity.not_after,
    })
}

/// Summarizes the first certificate of the PEM file at `path` as of `now`.
/// With `check`, adds whether that verifier accepts it (for the usage its
/// identity has: document signing for an admin, client for anyone else)
/// and its revocation status.
pub fn inspect_file(path: &Path, now: OffsetDateTime, check: Option<&Verifier>) -> Result<String, CertError> {
    let chain = load_certificates(path)?;
    let mut text = format!("{:<13}{}\n", "file", path.display());
    text.push_str(
        &describe(&chain, now, check).map_err(|reason| CertError::BadCertificate {
            path: path.to_owned(),
            reason,
        })?,
    );
    Ok(text)
}

/// Summarizes `chain[0]` (see [`inspect_file`]); `Err` holds the parse error.
pub fn describe(chain: &[CertificateDer<'_>], now: OffsetDateTime, check: Option<&Verifier>) -> Result<String, String> {
    let leaf = chain.first().ok_or("no certificate")?;
    let (_, x509) = x509_parser::parse_x509_certificate(leaf).map_err(|e| e.to_string())?;
    let mut out = String::new();
    let mut line = |label: &str, value: &str| {
        let _ = writeln!(out, "{label:<13}{value}");
    };

    let cn = crate::ca::common_name(&x509).unwrap_or_else(|| "(none)".into());
    line("subject CN", &cn);
    line("subject", &x509.subject().to_string());
    let identity = match identity_of_parsed(&x509) {
        Ok(identity) => identity.to_string(),
        Err(e) => format!("NONE: {e}"),
    };
    line("identity", &identity);
    let serial =
        Serial::from_der_integer(x509.raw_serial()).map_or_else(|_| x509.raw_serial_as_string(), |s| s.to_string());
    line("serial", &serial);
    line("issuer", &x509.issuer().to_string());
    let validity = validity_of(&x509);
    line(
        "not before",
        &format!(
            "{}{}",
            rfc3339(validity.not_before),
            if now < validity.not_before {
                "  NOT YET VALID"
            } else {
                ""
            }
        ),
    );
    let remaining = validity.not_after - now;
    let status = if remaining.is_negative() {
        "  EXPIRED".to_owned()
    } else {
        format!("  ({} days left)", remaining.whole_days())
    };
    line("not after", &format!("{}{status}", rfc3339(validity.not_after)));
    line("key", key_algorithm(&x509));
    line("CA", if x509.is_ca() { "yes" } else { "no" });
    line("usage", &usages(&x509));
    let sans = san_strings(&x509);
    line(
        "SANs",
        &if sans.is_empty() {
            "(none)".to_owned()
        } else {
            sans.join(", ")
        },
    );

    if let Some(verifier) = check {
        let at = UnixTime::since_unix_epoch(std::time::Duration::from_secs(
            u64::try_from(now.unix_timestamp()).unwrap_or(0),
        ));
        let usage = identity_of_parsed(&x509).map_or(Usage::Client, |identity| Usage::of(&identity));
        let verdict = match verifier.verify(chain, at, usage) {
            Ok(peer) => format!("valid: {} (trusted by {})", peer.identity, verifier.ca_name()),
            Err(e) => format!("REFUSED: {e}"),
        };
        line("verification", &verdict);
        let revocation = match Serial::from_der_integer(x509.raw_serial()) {
            Ok(serial) => match verifier.revocations().current().is_revoked(&serial) {
                Some(entry) => format!(
                    "REVOKED since {} ({}){}",
                    rfc3339(entry.revoked_at),
                    entry.reason,
                    entry.note.as_deref().map(|n| format!(": {n}")).unwrap_or_default()
                ),
                None => "not revoked".to_owned(),
            },
            Err(_) => "unknown (unusable serial)".to_owned(),
        };
        line("revocation", &revocation);
    }
    Ok(out)
}

fn key_algorithm(x509: &X509Certificate<'_>) -> &'static str {
    match x509.public_key().algorithm.algorithm.to_id_string().as_str() {
        "1.3.101.112" => "Ed25519",
        "1.3.101.113" => "Ed448",
        "1.2.840.10045.2.1" => "ECDSA",
        "1.2.840.113549.1.1.1" => "RSA",
        _ => "other",
    }
}

fn usages(x509: &X509Certificate<'_>) -> String {
    let mut words = Vec::new();
    if let Ok(Some(ku)) = x509.key_usage() {
        words.push(ku.value.to_string());
    }
    match x509.extended_key_usage() {
        Ok(Some(eku)) => {
            if eku.value.server_auth {
                words.push("serverAuth".into());
            }
            if eku.value.client_auth {
                words.push("clientAuth".into());
            }
            if eku
                .value
                .other
                .iter()
                .any(|oid| oid.to_id_string() == "1.3.6.1.5.5.7.3.36")
            {
                words.push("documentSigning".into());
            }
        }
        Ok(None) => words.push("(no extended key usage)".into()),
        Err(_) => words.push("(unreadable extended key usage)".into()),
    }
    words.join(", ")
}
