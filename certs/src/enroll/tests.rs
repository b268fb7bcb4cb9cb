//! Unit tests of `certs sign`: issuing, keeping, renewing and refusing,
//! one request at a time and in a batch.

use time::OffsetDateTime;

use super::*;
use crate::identity::Role;
use crate::request::CertRequest;
use crate::revocation::Revocations;
use crate::verify::{Usage, Verifier};

const TOPOLOGY: &str = r#"
[federation]
name = "福州"

[policy]
reach = { Routine = "county", IV = "county", III = "city", II = "top", I = "top" }

[[node]]
id = "350100"
name = "福州市"
level = "city"
listen = "127.0.0.1:7100"

[[node]]
id = "350102"
name = "鼓楼区"
level = "county"
parent = "350100"
listen = "127.0.0.1:7101"
"#;

fn topology() -> Topology {
    Topology::parse(TOPOLOGY, None).unwrap()
}

fn ca() -> FederationCa {
    FederationCa::generate("福州", Validity::days_from(OffsetDateTime::now_utc(), 365)).unwrap()
}

fn options(topology: Option<&Topology>, renew: bool) -> SignOptions<'_> {
    let now = OffsetDateTime::now_utc();
    SignOptions {
        topology,
        node_validity: Validity::days_from(now, 730),
        person_validity: Validity::days_from(now, 365),
        renew,
    }
}

fn node(id: &str) -> Identity {
    Identity::Node(NodeId::parse(id).unwrap())
}

/// `certs request` for `identity` into `dir`; the request file.
fn request(identity: &Identity, dir: &Path) -> PathBuf {
    CertRequest::new(identity).unwrap().write(dir).unwrap().csr
}

#[test]
fn a_node_request_is_signed_beside_itself_and_verifies() {
    let ca = ca();
    let dir = tempfile::tempdir().unwrap();
    let csr = request(&node("350102"), &dir.path().join("350102"));
    let topology = topology();
    let signed = sign_request(&ca, &csr, &options(Some(&topology), false)).unwrap();
    let Signed::Issued { cert, serial, identity } = signed else {
        panic!("expected a new certificate, got {signed:?}");
    };
    assert_eq!(cert, dir.path().join("350102/node.pem"));
    assert_eq!(identity, node("350102"));
    assert_eq!(
        fs::read(dir.path().join("350102/ca.pem")).unwrap(),
        ca.cert_pem().as_bytes()
    );
    let chain = load_certificates(&cert).unwrap();
    let verifier = Verifier::new(ca.cert_der().clone(), Revocations::default()).unwrap();
    let peer = verifier
        .verify(&chain, rustls_pki_types::UnixTime::now(), Usage::Server)
        .unwrap();
    assert_eq!(peer.identity, node("350102"));
    assert_eq!(peer.serial, serial);
    let (_, x509) = x509_parser::parse_x509_certificate(&chain[0]).unwrap();
    assert_eq!(
        crate::ca::common_name(&x509).as_deref(),
        Some("鼓楼区"),
        "CN from the topology"
    );
}

#[test]
fn a_rerun_keeps_and_a_new_key_renews_only_when_asked() {
    let ca = ca();
    let dir = tempfile::tempdir().unwrap();
    let center = dir.path().join("350102");
    let csr = request(&node("350102"), &center);
    let first = sign_request(&ca, &csr, &options(None, false)).unwrap();
    let Signed::Issued { serial: old_serial, .. } = first else {
        panic!("{first:?}")
    };
    let old_pem = fs::read(center.join("node.pem")).unwrap();
    assert!(matches!(
        sign_request(&ca, &csr, &options(None, false)).unwrap(),
        Signed::Kept { .. }
    ));
    assert_eq!(fs::read(center.join("node.pem")).unwrap(), old_pem);

    // Renewal: a new key and request for the same node, in the same place.
    fs::remove_file(center.join("node.key")).unwrap();
    let csr = request(&node("350102"), &center);
    let err = sign_request(&ca, &csr, &options(None, false)).unwrap_err();
    assert!(
        matches!(err, EnrollError::NotRenewing { ref serial, .. } if *serial == old_serial),
        "{err}"
    );
    assert!(err.to_string().contains("--renew"), "{err}");
    assert_eq!(fs::read(center.join("node.pem")).unwrap(), old_pem, "untouched");

    let renewed = sign_request(&ca, &csr, &options(None, true)).unwrap();
    let Signed::Renewed { archived, serial, .. } = renewed else {
        panic!("{renewed:?}")
    };
    assert_ne!(serial, old_serial);
    let hex: String = old_serial.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(archived, center.join(format!("node.{hex}.pem")));
    assert_eq!(fs::read(&archived).unwrap(), old_pem, "the old certificate is kept");
    assert_ne!(fs::read(center.join("node.pem")).unwrap(), old_pem);
    assert!(matches!(
        sign_request(&ca, &csr, &options(None, true)).unwrap(),
        Signed::Kept { .. }
    ));
}

#[test]
fn unknown_nodes_and_foreign_certificates_are_refused() {
    let ca = ca();
    let dir = tempfile::tempdir().unwrap();
    let topology = topology();
    let csr = request(&node("350199"), &dir.path().join("a"));
    let err = sign_request(&ca, &csr, &options(Some(&topology), false)).unwrap_err();
    assert!(
        matches!(err, EnrollError::UnknownNode { ref id, .. } if id.as_str() == "350199"),
        "{err}"
    );
    assert!(err.to_string().starts_with(&csr.display().to_string()), "{err}");
    assert!(!dir.path().join("a/node.pem").exists());
    // Without a topology nothing is checked.
    assert!(sign_request(&ca, &csr, &options(None, false)).is_ok());

    let operator = Identity::Operator {
        node: NodeId::parse("350198").unwrap(),
        name: "张伟".into(),
        role: Role::Operator,
    };
    let csr = request(&operator, &dir.path().join("b"));
    let err = sign_request(&ca, &csr, &options(Some(&topology), false)).unwrap_err();
    assert!(matches!(err, EnrollError::UnknownNode { .. }), "{err}");

    // Admins need no topology node.
    let csr = request(&Identity::Admin { name: "陈静".into() }, &dir.path().join("b"));
    assert!(matches!(
        sign_request(&ca, &csr, &options(Some(&topology), false)).unwrap(),
        Signed::Issued { .. }
    ));
    assert!(dir.path().join("b/陈静.pem").exists());

    // A request dropped where another node's certificate is.
    let c = dir.path().join("c");
    let csr = request(&node("350100"), &c);
    sign_request(&ca, &csr, &options(None, false)).unwrap();
    fs::remove_file(c.join("node.key")).unwrap();
    let csr = request(&node("350102"), &c);
    let err = sign_request(&ca, &csr, &options(None, true)).unwrap_err();
    assert!(matches!(err, EnrollError::OtherIdentity { .. }), "{err}");
}

#[test]
fn a_batch_signs_the_good_and_reports_each_bad_one() {
    let ca = ca();
    let dir = tempfile::tempdir().unwrap();
    let topology = topology();
    request(&node("350100"), &dir.path().join("350100"));
    request(&node("350102"), &dir.path().join("nested/350102"));
    request(&node("350103"), &dir.path().join("350103"));
    fs::create_dir_all(dir.path().join("junk")).unwrap();
    fs::write(dir.path().join("junk/garbage.csr"), "not a request").unwrap();
    fs::write(dir.path().join("junk/notes.txt"), "ignored").unwrap();

    let found = find_requests(dir.path()).unwrap();
    assert_eq!(found.len(), 4, "{found:?}");
    let seen = std::sync::atomic::AtomicUsize::new(0);
    let results = sign_requests(&ca, &found, &options(Some(&topology), false), &|n| {
        seen.fetch_max(n, Ordering::Relaxed);
    });
    assert_eq!(seen.into_inner(), 4);
    assert_eq!(results.len(), 4);
    let refused: Vec<String> = results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .map(|e| e.path().display().to_string())
        .collect();
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert!(refused.iter().any(|p| p.ends_with("350103/node.csr")));
    assert!(refused.iter().any(|p| p.ends_with("junk/garbage.csr")));
    assert!(dir.path().join("350100/node.pem").exists());
    assert!(dir.path().join("nested/350102/node.pem").exists());
    // Results come back in the order of the input.
    for (path, result) in found.iter().zip(&results) {
        if let Err(e) = result {
            assert_eq!(e.path(), path.as_path());
        }
    }

    assert_eq!(find_requests(&found[0]).unwrap(), vec![found[0].clone()]);
    assert!(matches!(
        find_requests(&dir.path().join("missing")),
        Err(CertError::Missing { .. })
    ));
}
