//! Unit tests of the CA: issuing, reading back and refusing certificates.

use std::os::unix::fs::PermissionsExt;

use super::*;
use crate::identity::{NameError, identity_of};

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

#[test]
fn ca_save_load_round_trip_and_key_modes() {
    let dir = tempfile::tempdir().unwrap();
    let ca = FederationCa::generate("福州", Validity::days_from(now(), CA_VALIDITY_DAYS)).unwrap();
    ca.save(dir.path()).unwrap();
    let mode = fs::metadata(dir.path().join("ca.key")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    let loaded = FederationCa::load(dir.path()).unwrap();
    assert_eq!(loaded.federation(), "福州");
    assert_eq!(loaded.serial(), ca.serial());
    assert_eq!(loaded.cert_der(), ca.cert_der());
    assert_eq!(loaded.not_after(), ca.not_after());

    // A second save refuses to overwrite.
    let err = ca.save(dir.path()).unwrap_err();
    assert!(matches!(err, CertError::AlreadyExists { .. }), "{err}");
}

#[test]
fn ca_load_errors_are_specific() {
    let dir = tempfile::tempdir().unwrap();
    let err = FederationCa::load(dir.path()).unwrap_err();
    assert!(
        matches!(err, CertError::Missing { ref path } if path.ends_with("ca.pem")),
        "{err}"
    );

    let ca = FederationCa::generate("Fuzhou", Validity::days_from(now(), 30)).unwrap();
    ca.save(dir.path()).unwrap();

    // A key that belongs to another CA.
    let other = tempfile::tempdir().unwrap();
    FederationCa::generate("Fuzhou", Validity::days_from(now(), 30))
        .unwrap()
        .save(other.path())
        .unwrap();
    fs::copy(other.path().join("ca.key"), dir.path().join("ca.key")).unwrap();
    fs::set_permissions(dir.path().join("ca.key"), fs::Permissions::from_mode(0o600)).unwrap();
    let err = FederationCa::load(dir.path()).unwrap_err();
    assert!(matches!(err, CertError::KeyMismatch { .. }), "{err}");

    // A key readable by others.
    fs::set_permissions(dir.path().join("ca.key"), fs::Permissions::from_mode(0o644)).unwrap();
    let err = FederationCa::load(dir.path()).unwrap_err();
    assert!(
        matches!(err, CertError::KeyReadableByOthers { mode: 0o644, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("chmod 600"));

    // Bad PEM.
    fs::write(dir.path().join("ca.pem"), "not pem at all").unwrap();
    let err = FederationCa::load(dir.path()).unwrap_err();
    assert!(matches!(err, CertError::BadPem { .. }), "{err}");
    assert!(err.to_string().contains("ca.pem"), "{err}");
}

#[test]
fn node_and_operator_certs_carry_their_identity() {
    let ca = FederationCa::generate("Fuzhou", Validity::days_from(now(), 30)).unwrap();
    let id = NodeId::parse("350102-police").unwrap();
    let node = ca
        .issue_node(&id, "鼓楼区公安分局", Validity::days_from(now(), 30))
        .unwrap();
    assert_eq!(identity_of(&node.cert_der).unwrap(), Identity::Node(id.clone()));
    let (_, x509) = x509_parser::parse_x509_certificate(&node.cert_der).unwrap();
    assert_eq!(common_name(&x509).as_deref(), Some("鼓楼区公安分局"));
    assert_eq!(Serial::from_der_integer(x509.raw_serial()).unwrap(), node.serial);
    assert!(!x509.is_ca());

    let op = ca
        .issue_operator(&id, "张伟", Role::Leader, Validity::days_from(now(), 30))
        .unwrap();
    assert_eq!(
        identity_of(&op.cert_der).unwrap(),
        Identity::Operator {
            node: id.clone(),
            name: "张伟".into(),
            role: Role::Leader
        }
    );
    let err = ca
        .issue_operator(&id, "a/b", Role::Operator, Validity::days_from(now(), 30))
        .unwrap_err();
    assert!(matches!(err, CertError::Name(NameError::Slash(_))), "{err}");
}

#[test]
fn issued_files_are_private_and_not_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let ca = FederationCa::generate("Fuzhou", Validity::days_from(now(), 30)).unwrap();
    let id = NodeId::parse("350102").unwrap();
    let cert = ca.issue_node(&id, "鼓楼区", Validity::days_from(now(), 30)).unwrap();
    let (cert_path, key_path) = (dir.path().join("a/node.pem"), dir.path().join("a/node.key"));
    cert.write(&cert_path, &key_path).unwrap();
    assert_eq!(fs::metadata(&key_path).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(
        fs::metadata(&cert_path).unwrap().permissions().mode() & 0o022,
        0,
        "certificate writable by others"
    );
    assert_eq!(load_certificates(&cert_path).unwrap()[0], cert.cert_der);
    assert!(matches!(load_private_key(&key_path).unwrap(), PrivateKeyDer::Pkcs8(_)));
    let err = cert.write(&cert_path, &key_path).unwrap_err();
    assert!(matches!(err, CertError::AlreadyExists { .. }), "{err}");
    cert.write_replacing(&cert_path, &key_path).unwrap();
    assert_eq!(fs::metadata(&key_path).unwrap().permissions().mode() & 0o777, 0o600);
}

#[test]
fn bad_validity_is_refused() {
    let ca = FederationCa::generate("Fuzhou", Validity::days_from(now(), 30)).unwrap();
    let t = now();
    let err = ca
        .issue_node(
            &NodeId::parse("350102").unwrap(),
            "x",
            Validity {
                not_before: t,
                not_after: t,
            },
        )
        .unwrap_err();
    assert!(matches!(err, CertError::BadValidity { .. }), "{err}");
    assert!(matches!(
        FederationCa::generate("", Validity::days_from(t, 1)),
        Err(CertError::BadFederationName { .. })
    ));
}

#[test]
fn every_key_written_is_pkcs8_v1() {
    use rustls_pki_types::pem::PemObject;

    use crate::keys::is_ed25519_pkcs8_v1;
    let dir = tempfile::tempdir().unwrap();
    let ca = FederationCa::generate("Fuzhou", Validity::days_from(now(), 30)).unwrap();
    ca.save(dir.path()).unwrap();
    let ca_key = load_private_key(&dir.path().join("ca.key")).unwrap();
    assert!(is_ed25519_pkcs8_v1(ca_key.secret_der()), "CA key");
    let id = NodeId::parse("350102").unwrap();
    let issued = [
        ca.issue_node(&id, "鼓楼区", Validity::days_from(now(), 30)).unwrap(),
        ca.issue_operator(&id, "张伟", Role::Leader, Validity::days_from(now(), 30))
            .unwrap(),
        ca.issue_admin("陈静", Validity::days_from(now(), 30)).unwrap(),
    ];
    for cert in issued {
        assert!(
            is_ed25519_pkcs8_v1(cert.private_key_der().secret_der()),
            "{}",
            cert.identity
        );
        let from_pem = PrivateKeyDer::from_pem_slice(cert.key_pem.as_bytes()).unwrap();
        assert_eq!(from_pem.secret_der(), cert.private_key_der().secret_der());
    }
}

#[test]
fn a_ca_key_written_as_v2_by_earlier_versions_still_loads_and_issues() {
    use rustls_pki_types::pem::PemObject;
    let dir = tempfile::tempdir().unwrap();
    // rcgen's own generator is ring's: PKCS#8 v2, what `certs init` used to write.
    let v2 = KeyPair::generate_for(&PKCS_ED25519).unwrap();
    assert!(!crate::keys::is_ed25519_pkcs8_v1(v2.serialized_der()));
    let ca = FederationCa::generate_with_key("Fuzhou", Validity::days_from(now(), 30), v2).unwrap();
    ca.save(dir.path()).unwrap();
    let loaded = FederationCa::load(dir.path()).unwrap();
    let key = PrivateKeyDer::from_pem_file(dir.path().join("ca.key")).unwrap();
    assert!(!crate::keys::is_ed25519_pkcs8_v1(key.secret_der()), "still v2 on disk");
    let node = loaded
        .issue_node(&NodeId::parse("350102").unwrap(), "", Validity::days_from(now(), 30))
        .unwrap();
    let verifier = crate::verify::Verifier::new(ca.cert_der().clone(), Default::default()).unwrap();
    verifier
        .verify(
            std::slice::from_ref(&node.cert_der),
            rustls_pki_types::UnixTime::now(),
            crate::verify::Usage::Server,
        )
        .unwrap();
}

#[test]
fn admin_certificates_sign_documents_and_nothing_else() {
    let ca = FederationCa::generate("Fuzhou", Validity::days_from(now(), 30)).unwrap();
    let admin = ca.issue_admin("陈静", Validity::days_from(now(), 30)).unwrap();
    assert_eq!(
        identity_of(&admin.cert_der).unwrap(),
        Identity::Admin { name: "陈静".into() }
    );
    let (_, x509) = x509_parser::parse_x509_certificate(&admin.cert_der).unwrap();
    assert_eq!(common_name(&x509).as_deref(), Some("陈静"));
    let eku = x509.extended_key_usage().unwrap().unwrap().value;
    assert!(!eku.server_auth && !eku.client_auth, "no TLS usage");
    let others: Vec<String> = eku.other.iter().map(|oid| oid.to_id_string()).collect();
    assert_eq!(others, vec!["1.3.6.1.5.5.7.3.36".to_owned()]);
    let ou = x509
        .subject()
        .iter_organizational_unit()
        .next()
        .and_then(|ou| ou.as_str().ok().map(str::to_owned));
    assert_eq!(ou.as_deref(), Some(ADMIN_OU));
    assert!(!x509.is_ca());
    let err = ca.issue_admin("", Validity::days_from(now(), 30)).unwrap_err();
    assert!(matches!(err, CertError::Name(NameError::Empty)), "{err}");
}
