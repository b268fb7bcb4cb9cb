//! `certs init` top-ups, operator issuance and `certs inspect` on a real
//! directory.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use liandong_certs::{
    CaDir, CertError, Entry, FederationCa, Identity, InitError, Reason, RevocationList, Revocations, Role, Serial,
    Validity, Verifier, certificate_facts, identity_of, init_federation, inspect_file, issue_operator_into,
    load_certificates,
};
use liandong_topology::NodeId;
use time::{Duration, OffsetDateTime};

fn nodes(ids: &[(&str, &str)]) -> Vec<(NodeId, String)> {
    ids.iter()
        .map(|(id, name)| (NodeId::parse(id).unwrap(), name.to_string()))
        .collect()
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn small_federation() -> Vec<(NodeId, String)> {
    nodes(&[
        ("350100", "福州市"),
        ("350102", "鼓楼区"),
        ("350102-police", "鼓楼区公安分局"),
        ("350102001", "鼓东街道"),
        ("350102001001", "三坊七巷社区"),
    ])
}

#[test]
fn init_creates_everything_then_tops_up() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fuzhou");
    let validity = Validity::days_from(OffsetDateTime::now_utc(), 730);
    let calls = AtomicUsize::new(0);
    let highest = AtomicUsize::new(0);
    let progress = |done: usize| {
        calls.fetch_add(1, Ordering::Relaxed);
        highest.fetch_max(done, Ordering::Relaxed);
    };

    let all = small_federation();
    let first = init_federation(&out, "福州", &all[..3], validity, &progress).unwrap();
    assert!(first.ca_created);
    assert_eq!((first.issued, first.kept), (3, 0));
    assert_eq!(first.federation, "福州");
    assert_eq!(calls.load(Ordering::Relaxed), 3);
    assert_eq!(highest.load(Ordering::Relaxed), 3);

    let layout = CaDir::new(&out);
    assert_eq!(mode(&layout.ca_key()), 0o600);
    assert!(layout.revocations().exists(), "an empty revocation list is created");
    assert!(RevocationList::load(&layout.revocations()).unwrap().is_empty());
    let ca_pem = fs::read(layout.ca_cert()).unwrap();
    for (id, _) in &all[..3] {
        assert_eq!(mode(&layout.node_key(id)), 0o600, "{id}");
        let cert = &load_certificates(&layout.node_cert(id)).unwrap()[0];
        assert_eq!(identity_of(cert).unwrap(), Identity::Node(id.clone()));
        assert_eq!(fs::read(layout.node_ca_copy(id)).unwrap(), ca_pem, "{id}: ca.pem copy");
    }
    let before = fs::read(layout.node_cert(&all[0].0)).unwrap();

    // Second run with two more nodes: the CA is reused, three are kept.
    let second = init_federation(&out, "福州", &all, validity, &|_| {}).unwrap();
    assert!(!second.ca_created);
    assert_eq!((second.issued, second.kept), (2, 3));
    assert!(second.expired.is_empty() && second.revoked.is_empty());
    assert_eq!(
        fs::read(layout.node_cert(&all[0].0)).unwrap(),
        before,
        "kept certificates are untouched"
    );

    // Third run: nothing to do.
    let third = init_federation(&out, "福州", &all, validity, &|_| {}).unwrap();
    assert_eq!((third.issued, third.kept), (0, 5));

    // Every issued certificate is accepted by a verifier built from a node's ca.pem copy.
    let verifier = Verifier::from_ca_file(&layout.node_ca_copy(&all[4].0), Revocations::default()).unwrap();
    for (id, _) in &all {
        let chain = load_certificates(&layout.node_cert(id)).unwrap();
        let peer = verifier
            .verify(&chain, rustls_pki_types::UnixTime::now(), liandong_certs::Usage::Server)
            .unwrap();
        assert_eq!(peer.identity, Identity::Node(id.clone()));
    }
}

#[test]
fn init_reports_problems_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let validity = Validity::days_from(OffsetDateTime::now_utc(), 730);
    let all = small_federation();
    init_federation(out, "福州", &all, validity, &|_| {}).unwrap();
    let layout = CaDir::new(out);

    // Another federation's name in the same directory.
    let err = init_federation(out, "Jiangsu", &all, validity, &|_| {}).unwrap_err();
    assert!(matches!(err, InitError::FederationMismatch { .. }), "{err}");
    assert!(err.to_string().contains("\"福州\""), "{err}");

    // A duplicate id.
    let mut doubled = all.clone();
    doubled.push(all[1].clone());
    let err = init_federation(out, "福州", &doubled, validity, &|_| {}).unwrap_err();
    assert!(
        matches!(err, InitError::DuplicateNode(ref id) if id.as_str() == "350102"),
        "{err}"
    );

    // A certificate whose key went missing.
    fs::remove_file(layout.node_key(&all[2].0)).unwrap();
    let err = init_federation(out, "福州", &all, validity, &|_| {}).unwrap_err();
    assert!(
        matches!(err, InitError::Incomplete { ref id, .. } if id.as_str() == "350102-police"),
        "{err}"
    );
    assert!(err.to_string().contains("node.key"), "{err}");

    // A key without its certificate (interrupted run) is simply reissued.
    fs::remove_file(layout.node_cert(&all[2].0)).unwrap();
    fs::write(layout.node_key(&all[2].0), "stale").unwrap();
    let summary = init_federation(out, "福州", &all, validity, &|_| {}).unwrap();
    assert_eq!((summary.issued, summary.kept), (1, 4));
    assert_eq!(mode(&layout.node_key(&all[2].0)), 0o600);

    // A node directory holding another node's certificate.
    fs::copy(layout.node_cert(&all[1].0), layout.node_cert(&all[0].0)).unwrap();
    let err = init_federation(out, "福州", &all, validity, &|_| {}).unwrap_err();
    assert!(
        matches!(err, InitError::Stale { ref id, .. } if id.as_str() == "350100"),
        "{err}"
    );
    assert!(err.to_string().contains("node 350102"), "{err}");
}

#[test]
fn kept_expired_and_revoked_certificates_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let now = OffsetDateTime::now_utc();
    let all = small_federation();
    let expired = Validity {
        not_before: now - Duration::days(10),
        not_after: now - Duration::days(1),
    };
    init_federation(out, "福州", &all[..1], expired, &|_| {}).unwrap();
    init_federation(out, "福州", &all[..2], Validity::days_from(now, 730), &|_| {}).unwrap();
    let layout = CaDir::new(out);
    let cert = &load_certificates(&layout.node_cert(&all[1].0)).unwrap()[0];
    let serial = Serial::of_certificate(cert).unwrap();
    RevocationList::append(&layout.revocations(), Entry::new(serial, Reason::KeyCompromise, now)).unwrap();

    let summary = init_federation(out, "福州", &all[..3], Validity::days_from(now, 730), &|_| {}).unwrap();
    assert_eq!(summary.expired, vec![all[0].0.clone()]);
    assert_eq!(summary.revoked, vec![all[1].0.clone()]);
    assert_eq!((summary.issued, summary.kept), (1, 2));
}

#[test]
fn operators_are_issued_into_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let ca = FederationCa::generate("福州", Validity::days_from(OffsetDateTime::now_utc(), 3650)).unwrap();
    ca.save(out).unwrap();
    let node = NodeId::parse("350102").unwrap();
    let validity = Validity::days_from(OffsetDateTime::now_utc(), 365);
    let (issued, cert_path, key_path) = issue_operator_into(out, &ca, &node, "张伟", Role::Leader, validity).unwrap();
    assert_eq!(cert_path, out.join("operators/350102/张伟.pem"));
    assert_eq!(key_path, out.join("operators/350102/张伟.key"));
    assert_eq!(mode(&key_path), 0o600);
    assert_eq!(
        identity_of(&load_certificates(&cert_path).unwrap()[0]).unwrap(),
        Identity::Operator {
            node: node.clone(),
            name: "张伟".into(),
            role: Role::Leader
        }
    );
    assert_eq!(issued.identity.node(), Some(&node));
    let err = issue_operator_into(out, &ca, &node, "张伟", Role::Operator, validity).unwrap_err();
    assert!(matches!(err, CertError::AlreadyExists { .. }), "{err}");
    let err = issue_operator_into(out, &ca, &node, "../evil", Role::Operator, validity).unwrap_err();
    assert!(matches!(err, CertError::Name(_)), "{err}");
}

#[test]
fn inspect_summarizes_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let now = OffsetDateTime::now_utc();
    let all = small_federation();
    init_federation(out, "福州", &all, Validity::days_from(now, 730), &|_| {}).unwrap();
    let layout = CaDir::new(out);
    let path = layout.node_cert(&all[2].0);
    let chain = load_certificates(&path).unwrap();
    let serial = Serial::of_certificate(&chain[0]).unwrap();

    let text = inspect_file(&path, now, None).unwrap();
    for expected in [
        "鼓楼区公安分局",
        "node 350102-police",
        &serial.to_string(),
        "福州 Liandong CA",
        "Ed25519",
        "URI:liandong://node/350102-police",
        "serverAuth, clientAuth",
        "days left",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    assert!(!text.contains("EXPIRED"));
    // What a node shows of its own certificate: the same serial and dates.
    let facts = certificate_facts(&chain[0]).unwrap();
    let validity = Validity::days_from(now, 730);
    assert_eq!(facts.serial, serial);
    assert_eq!(facts.not_after, validity.not_after);
    assert_eq!(facts.not_before, validity.not_before);
    assert!(certificate_facts(b"not a certificate").is_err());
    let later = inspect_file(&path, now + Duration::days(800), None).unwrap();
    assert!(later.contains("EXPIRED"), "{later}");

    let revocations = Revocations::new(RevocationList::load(&layout.revocations()).unwrap());
    let verifier = Arc::new(Verifier::from_ca_file(&layout.ca_cert(), revocations.clone()).unwrap());
    let text = inspect_file(&path, now, Some(&verifier)).unwrap();
    assert!(text.contains("valid: node 350102-police"), "{text}");
    assert!(text.contains("not revoked"), "{text}");

    RevocationList::append(
        &layout.revocations(),
        Entry::new(serial.clone(), Reason::AffiliationChanged, now).with_note("moved to 350103"),
    )
    .unwrap();
    revocations.reload(&layout.revocations()).unwrap();
    let text = inspect_file(&path, now, Some(&verifier)).unwrap();
    assert!(text.contains("REFUSED"), "{text}");
    assert!(text.contains("REVOKED since"), "{text}");
    assert!(text.contains("(affiliation-changed): moved to 350103"), "{text}");

    let missing = inspect_file(&out.join("nope.pem"), now, None).unwrap_err();
    assert!(matches!(missing, CertError::Missing { .. }), "{missing}");
    assert!(missing.to_string().contains("nope.pem"));
}
