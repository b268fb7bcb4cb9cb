//! Unit tests of requests: made and read back for every identity; each
//! kind of bad request refused with its own error.

use std::os::unix::fs::PermissionsExt;

use liandong_topology::NodeId;
use rcgen::PKCS_ED25519;

use super::*;
use crate::identity::Role;
use crate::keys::is_ed25519_pkcs8_v1;

fn node(id: &str) -> Identity {
    Identity::Node(NodeId::parse(id).unwrap())
}

/// A request made with rcgen directly, carrying `uris` as SANs.
fn raw_request(uris: &[&str], key: &KeyPair) -> String {
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, "test");
    for uri in uris {
        params
            .subject_alt_names
            .push(SanType::URI(Ia5String::try_from(*uri).unwrap()));
    }
    params.serialize_request(key).unwrap().pem().unwrap()
}

/// Changes the first character of the last base64 line: bits of the
/// signature, which ends the DER.
fn flip_signature(pem: &str) -> String {
    let mut lines: Vec<String> = pem.lines().map(str::to_owned).collect();
    let last = lines.len() - 2;
    let first = lines[last].remove(0);
    lines[last].insert(0, if first == 'A' { 'B' } else { 'A' });
    lines.join("\n") + "\n"
}

#[test]
fn requests_for_every_identity_read_back() {
    let people = [
        node("350102-police"),
        Identity::Operator {
            node: NodeId::parse("350102").unwrap(),
            name: "张伟".into(),
            role: Role::Leader,
        },
        Identity::Admin { name: "陈静".into() },
    ];
    for identity in people {
        let request = CertRequest::new(&identity).unwrap();
        assert!(request.csr_pem.starts_with("-----BEGIN CERTIFICATE REQUEST-----"));
        let read = parse_request(request.csr_pem.as_bytes()).unwrap();
        assert_eq!(read.identity, identity);
        let key = rustls_pki_types::PrivateKeyDer::from_pem_slice(request.key_pem.as_bytes()).unwrap();
        assert!(is_ed25519_pkcs8_v1(key.secret_der()), "{identity}: key is PKCS#8 v1");
        assert_eq!(crate::keys::ed25519_public_key_of(&key).unwrap(), read.key);
    }
}

#[test]
fn write_puts_a_private_key_and_never_overwrites_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("center");
    let request = CertRequest::new(&node("350102")).unwrap();
    let files = request.write(&out).unwrap();
    assert_eq!(files.key, out.join("node.key"));
    assert_eq!(files.csr, out.join("node.csr"));
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&files.key), 0o600);
    assert_eq!(mode(&out), 0o700);
    let key_before = std::fs::read(&files.key).unwrap();

    let again = CertRequest::new(&node("350102")).unwrap();
    let err = again.write(&out).unwrap_err();
    assert!(
        matches!(err, CertError::KeyExists { ref path } if *path == files.key),
        "{err}"
    );
    assert!(err.to_string().contains("never overwritten"), "{err}");
    assert_eq!(std::fs::read(&files.key).unwrap(), key_before, "the key is untouched");
    assert_eq!(read_request(&files.csr).unwrap().identity, node("350102"));

    let admin = CertRequest::new(&Identity::Admin { name: "陈静".into() }).unwrap();
    let files = admin.write(&out).unwrap();
    assert_eq!(files.key, out.join("陈静.key"));
    assert_eq!(files.csr, out.join("陈静.csr"));
}

#[test]
fn a_bad_name_is_refused_before_any_key_is_made() {
    let err = CertRequest::new(&Identity::Admin { name: "a/b".into() }).unwrap_err();
    assert!(
        matches!(err, CertError::Name(crate::identity::NameError::Slash(_))),
        "{err}"
    );
}

#[test]
fn garbage_and_truncated_requests_say_so() {
    let err = parse_request(b"hello, I am not a request\n").unwrap_err();
    assert!(matches!(err, RequestError::NotPem(_)), "{err}");
    assert!(err.to_string().contains("BEGIN CERTIFICATE REQUEST"), "{err}");

    let pem = CertRequest::new(&node("350102")).unwrap().csr_pem;
    let truncated = &pem[..pem.len() / 2];
    let err = parse_request(truncated.as_bytes()).unwrap_err();
    assert!(err.to_string().contains("truncated"), "{err}");

    // Whole PEM lines, but the DER inside stops early.
    let lines: Vec<&str> = pem.lines().collect();
    let cut = [&lines[..2], &lines[lines.len() - 1..]].concat().join("\n");
    let err = parse_request(cut.as_bytes()).unwrap_err();
    assert!(matches!(err, RequestError::Malformed(_)), "{err}");
    assert!(err.to_string().contains("truncated or damaged"), "{err}");

    let two = format!("{pem}{pem}");
    assert!(matches!(parse_request(two.as_bytes()), Err(RequestError::Several(2))));
}

#[test]
fn a_changed_request_fails_its_signature() {
    let pem = CertRequest::new(&node("350102")).unwrap().csr_pem;
    let err = parse_request(flip_signature(&pem).as_bytes()).unwrap_err();
    assert!(matches!(err, RequestError::BadSignature), "{err}");
    assert!(err.to_string().contains("does not verify"), "{err}");
}

#[test]
fn no_identity_or_two_identities_are_refused() {
    let key = KeyPair::generate_for(&PKCS_ED25519).unwrap();
    let err = parse_request(raw_request(&[], &key).as_bytes()).unwrap_err();
    assert!(
        matches!(err, RequestError::Identity(IdentityError::NoIdentity)),
        "{err}"
    );
    let err = parse_request(raw_request(&["https://example.org/"], &key).as_bytes()).unwrap_err();
    assert!(
        matches!(err, RequestError::Identity(IdentityError::NoIdentity)),
        "{err}"
    );
    let two = raw_request(&["liandong://node/350102", "liandong://admin/chen"], &key);
    let err = parse_request(two.as_bytes()).unwrap_err();
    assert!(
        matches!(err, RequestError::Identity(IdentityError::SeveralIdentities { .. })),
        "{err}"
    );
    assert!(err.to_string().contains("liandong://admin/chen"), "{err}");
    // A v2 key (as rcgen and earlier Liandong made them) is as good as v1.
    let one = raw_request(&["liandong://node/350102"], &key);
    assert_eq!(parse_request(one.as_bytes()).unwrap().identity, node("350102"));
}

#[test]
fn keys_other_than_ed25519_are_refused() {
    let p256 = KeyPair::generate().unwrap();
    let err = parse_request(raw_request(&["liandong://node/350102"], &p256).as_bytes()).unwrap_err();
    assert!(matches!(err, RequestError::NotEd25519(_)), "{err}");
}

#[test]
fn oversized_files_are_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.csr");
    std::fs::write(&path, vec![b'A'; (MAX_REQUEST_BYTES + 1) as usize]).unwrap();
    assert!(matches!(read_request(&path), Err(RequestError::TooLarge(_))));
    let err = read_request(&dir.path().join("missing.csr")).unwrap_err();
    assert!(matches!(err, RequestError::File(CertError::Missing { .. })), "{err}");
}
