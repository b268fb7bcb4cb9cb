//! Real TLS 1.3 handshakes, in memory, between rustls configurations built by
//! this crate: who is accepted, who is refused, and why; keys made by
//! `certs request` (v1) and by earlier versions (v2) alike.

use std::sync::Arc;

use liandong_certs::{
    ALPN, CertRequest, Entry, FederationCa, Identity, IssuedCert, Reason, RevocationList, Revocations, Role,
    SignOptions, Signed, Validity, Verifier, VerifyError, client_config, load_certificates, load_private_key,
    peer_identity, refusal_reason, server_config, server_name_for, sign_request,
};
use liandong_topology::NodeId;
use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, PKCS_ED25519};
use rustls::{ClientConnection, ServerConnection};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};

fn id(s: &str) -> NodeId {
    NodeId::parse(s).unwrap()
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn valid() -> Validity {
    Validity::days_from(now(), 30)
}

struct Federation {
    ca: FederationCa,
    revocations: Revocations,
    verifier: Arc<Verifier>,
}

impl Federation {
    fn new(name: &str) -> Federation {
        let ca = FederationCa::generate(name, Validity::days_from(now(), 365)).unwrap();
        let revocations = Revocations::default();
        let verifier = Arc::new(Verifier::new(ca.cert_der().clone(), revocations.clone()).unwrap());
        Federation {
            ca,
            revocations,
            verifier,
        }
    }

    fn node(&self, node: &str) -> IssuedCert {
        self.ca.issue_node(&id(node), &format!("中心 {node}"), valid()).unwrap()
    }
}

fn chain_and_key(cert: &IssuedCert) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
    (vec![cert.cert_der.clone()], cert.private_key_der())
}

/// What happened on each side of one handshake.
struct Outcome {
    client: ClientConnection,
    server: ServerConnection,
    client_error: Option<rustls::Error>,
    server_error: Option<rustls::Error>,
}

/// Runs a handshake: `client_cert` dials `dialed` served by `server_cert`,
/// both under `fed`'s verifier. Bytes are pumped in memory until both sides
/// are done or one fails (bounded: a TLS 1.3 handshake needs 2 round trips).
fn handshake(fed: &Federation, server_cert: &IssuedCert, client_cert: &IssuedCert, dialed: &str) -> Outcome {
    let (chain, key) = chain_and_key(server_cert);
    let server_config = server_config(fed.verifier.clone(), chain, key).unwrap();
    let (chain, key) = chain_and_key(client_cert);
    let client_config = client_config(fed.verifier.clone(), chain, key).unwrap();
    let client = ClientConnection::new(client_config, server_name_for(&id(dialed))).unwrap();
    let server = ServerConnection::new(server_config).unwrap();
    pump(client, server)
}

fn pump(mut client: ClientConnection, mut server: ServerConnection) -> Outcome {
    let mut client_error = None;
    let mut server_error = None;
    for _ in 0..10 {
        // client -> server
        let mut bytes = Vec::new();
        while client.wants_write() {
            client.write_tls(&mut bytes).unwrap();
        }
        let mut slice = &bytes[..];
        while !slice.is_empty() && server_error.is_none() {
            server.read_tls(&mut slice).unwrap();
            if let Err(e) = server.process_new_packets() {
                server_error = Some(e);
            }
        }
        // server -> client (including any alert the server queued on failure)
        let mut bytes = Vec::new();
        while server.wants_write() {
            server.write_tls(&mut bytes).unwrap();
        }
        let mut slice = &bytes[..];
        while !slice.is_empty() && client_error.is_none() {
            client.read_tls(&mut slice).unwrap();
            if let Err(e) = client.process_new_packets() {
                client_error = Some(e);
            }
        }
        let idle = !client.wants_write() && !server.wants_write();
        let settled = !client.is_handshaking() && !server.is_handshaking();
        if (client_error.is_some() || server_error.is_some() || settled) && idle {
            break;
        }
    }
    Outcome {
        client,
        server,
        client_error,
        server_error,
    }
}

/// The `VerifyError` inside a rustls certificate error.
fn verify_error(e: &rustls::Error) -> &VerifyError {
    refusal_reason(e).unwrap_or_else(|| panic!("expected our certificate error, got {e:?}"))
}

#[test]
fn nodes_complete_mutual_tls_and_learn_each_other() {
    let fed = Federation::new("福州");
    let county = fed.node("350102");
    let township = fed.node("350102001");
    let out = handshake(&fed, &county, &township, "350102");
    assert!(out.client_error.is_none(), "{:?}", out.client_error);
    assert!(out.server_error.is_none(), "{:?}", out.server_error);
    assert!(!out.client.is_handshaking() && !out.server.is_handshaking());
    assert_eq!(peer_identity(&out.server).unwrap(), Identity::Node(id("350102001")));
    assert_eq!(peer_identity(&out.client).unwrap(), Identity::Node(id("350102")));
    assert_eq!(out.client.alpn_protocol(), Some(ALPN));
    assert_eq!(out.server.alpn_protocol(), Some(ALPN));
    assert_eq!(out.client.protocol_version(), Some(rustls::ProtocolVersion::TLSv1_3));
}

#[test]
fn member_unit_server_name_works() {
    let fed = Federation::new("福州");
    let police = fed.node("350102-police");
    let county = fed.node("350102");
    let out = handshake(&fed, &police, &county, "350102-police");
    assert!(out.client_error.is_none() && out.server_error.is_none());
    assert_eq!(peer_identity(&out.client).unwrap(), Identity::Node(id("350102-police")));
}

#[test]
fn operator_roles_are_read_back() {
    let fed = Federation::new("福州");
    let county = fed.node("350102");
    for (name, role) in [("张伟", Role::Leader), ("李娜", Role::Operator)] {
        let operator = fed.ca.issue_operator(&id("350102"), name, role, valid()).unwrap();
        let out = handshake(&fed, &county, &operator, "350102");
        assert!(out.server_error.is_none(), "{:?}", out.server_error);
        assert_eq!(
            peer_identity(&out.server).unwrap(),
            Identity::Operator {
                node: id("350102"),
                name: name.into(),
                role
            }
        );
    }
}

#[test]
fn client_from_a_foreign_ca_is_refused() {
    let fed = Federation::new("福州");
    // Same federation name, different key: e.g. a CA recreated by mistake.
    let impostor = Federation::new("福州");
    let county = fed.node("350102");
    let foreign = impostor.node("350102001");
    let out = handshake(&fed, &county, &foreign, "350102");
    let err = out.server_error.expect("server must refuse");
    assert!(matches!(verify_error(&err), VerifyError::ForeignCa { .. }), "{err}");
    assert!(err.to_string().contains("not issued by this federation's CA"), "{err}");
    assert!(err.to_string().contains(&foreign.serial.to_string()), "{err}");
    assert!(out.client_error.is_some(), "the client hears the alert");

    // And one from an unrelated CA.
    let other = Federation::new("Jiangsu");
    let out = handshake(&fed, &county, &other.node("320102"), "350102");
    let err = out.server_error.expect("server must refuse");
    assert!(err.to_string().contains("Jiangsu Liandong CA"), "{err}");
}

#[test]
fn expired_client_is_refused_saying_when() {
    let fed = Federation::new("福州");
    let county = fed.node("350102");
    let expired_at = now() - Duration::days(1);
    let validity = Validity {
        not_before: now() - Duration::days(10),
        not_after: expired_at,
    };
    let expired = fed.ca.issue_node(&id("350102001"), "鼓东街道", validity).unwrap();
    let out = handshake(&fed, &county, &expired, "350102");
    let err = out.server_error.expect("server must refuse");
    match verify_error(&err) {
        VerifyError::Expired { not_after, .. } => assert_eq!(*not_after, expired.not_after),
        other => panic!("{other}"),
    }
    let text = err.to_string();
    assert!(text.contains("expired at"), "{text}");
    let day = expired.not_after.date().to_string();
    assert!(text.contains(&day), "{text} should name {day}");
}

#[test]
fn not_yet_valid_client_is_refused() {
    let fed = Federation::new("福州");
    let county = fed.node("350102");
    let validity = Validity {
        not_before: now() + Duration::days(2),
        not_after: now() + Duration::days(30),
    };
    let early = fed.ca.issue_node(&id("350102001"), "鼓东街道", validity).unwrap();
    let err = handshake(&fed, &county, &early, "350102")
        .server_error
        .expect("server must refuse");
    assert!(matches!(verify_error(&err), VerifyError::NotYetValid { .. }), "{err}");
    assert!(err.to_string().contains("not valid before"), "{err}");
}

#[test]
fn client_without_liandong_identity_is_refused() {
    let fed = Federation::new("福州");
    let county = fed.node("350102");
    // Signed by the real CA, but with no liandong:// SAN.
    let laptop_key = KeyPair::generate_for(&PKCS_ED25519).unwrap();
    let mut params = CertificateParams::new(vec!["laptop.example".to_string()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, "somebody's laptop");
    params.is_ca = IsCa::ExplicitNoCa;
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.not_before = now() - Duration::hours(1);
    params.not_after = now() + Duration::days(1);
    let cert = params.signed_by(&laptop_key, fed.ca.issuer()).unwrap();

    let (chain, key) = chain_and_key(&county);
    let server = ServerConnection::new(server_config(fed.verifier.clone(), chain, key).unwrap()).unwrap();
    let client_config = client_config(
        fed.verifier.clone(),
        vec![cert.der().clone()],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(laptop_key.serialize_der())),
    )
    .unwrap();
    let client = ClientConnection::new(client_config, server_name_for(&id("350102"))).unwrap();
    let out = pump(client, server);
    let err = out.server_error.expect("server must refuse");
    assert!(matches!(verify_error(&err), VerifyError::Identity { .. }), "{err}");
    assert!(err.to_string().contains("carries no liandong:// identity"), "{err}");
}

#[test]
fn revoked_client_is_refused_after_a_runtime_swap() {
    let fed = Federation::new("福州");
    let county = fed.node("350102");
    let township = fed.node("350102001");
    assert!(
        handshake(&fed, &county, &township, "350102").server_error.is_none(),
        "accepted before revocation"
    );

    let mut list = RevocationList::new();
    list.revoke(Entry::new(township.serial.clone(), Reason::KeyCompromise, now()).with_note("township laptop stolen"))
        .unwrap();
    fed.revocations.replace(list);

    let err = handshake(&fed, &county, &township, "350102")
        .server_error
        .expect("server must refuse");
    match verify_error(&err) {
        VerifyError::Revoked { serial, reason, .. } => {
            assert_eq!(*serial, township.serial);
            assert_eq!(*reason, Reason::KeyCompromise);
        }
        other => panic!("{other}"),
    }
    let text = err.to_string();
    assert!(text.contains("revoked") && text.contains("key-compromise"), "{text}");
    assert!(text.contains(&township.serial.to_string()), "{text}");
    assert!(text.contains("township laptop stolen"), "{text}");
}

#[test]
fn revocation_applies_to_reconnects_on_the_same_configs() {
    // Same configs for both connections, as a long-running node has: no
    // resumed session may skip the revocation check.
    let fed = Federation::new("福州");
    let county = fed.node("350102");
    let township = fed.node("350102001");
    let (chain, key) = chain_and_key(&county);
    let server_config = server_config(fed.verifier.clone(), chain, key).unwrap();
    let (chain, key) = chain_and_key(&township);
    let client_config = client_config(fed.verifier.clone(), chain, key).unwrap();
    let connect = || {
        let client = ClientConnection::new(client_config.clone(), server_name_for(&id("350102"))).unwrap();
        let server = ServerConnection::new(server_config.clone()).unwrap();
        pump(client, server)
    };
    let first = connect();
    assert!(first.server_error.is_none() && first.client_error.is_none());
    let mut list = RevocationList::new();
    list.revoke(Entry::new(township.serial.clone(), Reason::KeyCompromise, now()))
        .unwrap();
    fed.revocations.replace(list);
    let second = connect();
    let err = second.server_error.expect("server must refuse the reconnect");
    assert!(matches!(verify_error(&err), VerifyError::Revoked { .. }), "{err}");
}

#[test]
fn server_presenting_another_nodes_cert_is_refused() {
    let fed = Federation::new("福州");
    let node_b = fed.node("350103");
    let township = fed.node("350102001");
    // The client dials 350102 but reaches a machine holding 350103's valid cert.
    let out = handshake(&fed, &node_b, &township, "350102");
    let err = out.client_error.expect("client must refuse");
    match verify_error(&err) {
        VerifyError::WrongPeer {
            expected, presented, ..
        } => {
            assert_eq!(*expected, id("350102"));
            assert_eq!(*presented, Identity::Node(id("350103")));
        }
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains("dialed node 350102"), "{err}");
    assert!(err.to_string().contains("node 350103"), "{err}");
}

#[test]
fn operator_cert_cannot_serve() {
    let fed = Federation::new("福州");
    let operator = fed
        .ca
        .issue_operator(&id("350102"), "张伟", Role::Leader, valid())
        .unwrap();
    let township = fed.node("350102001");
    let err = handshake(&fed, &operator, &township, "350102")
        .client_error
        .expect("client must refuse");
    assert!(matches!(verify_error(&err), VerifyError::WrongUsage { .. }), "{err}");
    assert!(err.to_string().contains("not allowed for server use"), "{err}");
}

/// A handshake where each side presents a raw chain and key.
fn handshake_raw(
    fed: &Federation,
    server: (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>),
    client: (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>),
    dialed: &str,
) -> Outcome {
    let server_config = server_config(fed.verifier.clone(), server.0, server.1).unwrap();
    let client_config = client_config(fed.verifier.clone(), client.0, client.1).unwrap();
    let client = ClientConnection::new(client_config, server_name_for(&id(dialed))).unwrap();
    pump(client, ServerConnection::new(server_config).unwrap())
}

#[test]
fn an_admin_certificate_is_refused_as_client_and_as_server() {
    let fed = Federation::new("福州");
    let admin = fed.ca.issue_admin("陈静", valid()).unwrap();
    let county = fed.node("350102");

    let err = handshake(&fed, &county, &admin, "350102")
        .server_error
        .expect("a node must refuse an admin dialing it");
    assert!(
        matches!(verify_error(&err), VerifyError::AdminOnConnection { name, .. } if name == "陈静"),
        "{err}"
    );
    assert!(err.to_string().contains("never accepted on a connection"), "{err}");

    let err = handshake(&fed, &admin, &county, "350102")
        .client_error
        .expect("a node must refuse an admin answering for a node");
    assert!(
        matches!(verify_error(&err), VerifyError::AdminOnConnection { .. }),
        "{err}"
    );
}

#[test]
fn an_admin_identity_is_refused_even_with_tls_usages() {
    // Not what the CA issues: an admin SAN with clientAuth, to check that the
    // identity itself is refused, not only the missing usage.
    let fed = Federation::new("福州");
    let county = fed.node("350102");
    let key = KeyPair::generate_for(&PKCS_ED25519).unwrap();
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, "陈静");
    params.is_ca = IsCa::ExplicitNoCa;
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth, ExtendedKeyUsagePurpose::ServerAuth];
    params.subject_alt_names = vec![rcgen::SanType::URI(
        rcgen::string::Ia5String::try_from("liandong://admin/chen").unwrap(),
    )];
    params.not_before = now() - Duration::hours(1);
    params.not_after = now() + Duration::days(1);
    let cert = params.signed_by(&key, fed.ca.issuer()).unwrap();
    let admin = (
        vec![cert.der().clone()],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    );
    let err = handshake_raw(&fed, chain_and_key(&county), admin, "350102")
        .server_error
        .expect("server must refuse");
    assert!(
        matches!(verify_error(&err), VerifyError::AdminOnConnection { .. }),
        "{err}"
    );
}

#[test]
fn enrolled_nodes_with_v1_and_old_v2_keys_link_with_issued_ones() {
    let fed = Federation::new("福州");
    let dir = tempfile::tempdir().unwrap();
    let now = now();
    let options = SignOptions {
        topology: None,
        node_validity: Validity::days_from(now, 30),
        person_validity: Validity::days_from(now, 30),
        renew: false,
    };
    // Made on the township's machine: its key never reaches the CA.
    let township = Identity::Node(id("350102001"));
    let files = CertRequest::new(&township).unwrap().write(dir.path()).unwrap();
    let signed = sign_request(&fed.ca, &files.csr, &options).unwrap();
    assert!(matches!(signed, Signed::Issued { .. }), "{signed:?}");
    let enrolled = (
        load_certificates(&dir.path().join("node.pem")).unwrap(),
        load_private_key(&files.key).unwrap(),
    );
    let county = fed.node("350102");
    let out = handshake_raw(
        &fed,
        (enrolled.0.clone(), enrolled.1.clone_key()),
        chain_and_key(&county),
        "350102001",
    );
    assert!(out.client_error.is_none() && out.server_error.is_none());
    assert_eq!(peer_identity(&out.client).unwrap(), township);
    let out = handshake_raw(&fed, chain_and_key(&county), enrolled, "350102");
    assert!(out.client_error.is_none() && out.server_error.is_none());
    assert_eq!(peer_identity(&out.server).unwrap(), township);

    // A request made with a v2 key, as earlier versions wrote keys.
    let old_key = KeyPair::generate_for(&PKCS_ED25519).unwrap();
    let mut params = CertificateParams::default();
    params.subject_alt_names = vec![rcgen::SanType::URI(
        rcgen::string::Ia5String::try_from("liandong://node/350102001001").unwrap(),
    )];
    let csr = dir.path().join("village/node.csr");
    std::fs::create_dir_all(csr.parent().unwrap()).unwrap();
    std::fs::write(&csr, params.serialize_request(&old_key).unwrap().pem().unwrap()).unwrap();
    sign_request(&fed.ca, &csr, &options).unwrap();
    let village = (
        load_certificates(&dir.path().join("village/node.pem")).unwrap(),
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(old_key.serialize_der())),
    );
    let out = handshake_raw(&fed, village, chain_and_key(&fed.node("350102001")), "350102001001");
    assert!(out.client_error.is_none() && out.server_error.is_none());
    assert_eq!(peer_identity(&out.client).unwrap(), Identity::Node(id("350102001001")));
}
