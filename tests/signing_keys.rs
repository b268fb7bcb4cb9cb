//! A node's certificate key signs the envelopes it originates, and the
//! public key in its certificate checks them: the link between the certs
//! crate and the dispatch core that the node runtime relies on.

use liandong_certs::time::OffsetDateTime;
use liandong_certs::{FederationCa, Validity, ed25519_public_key};
use liandong_dispatch::sign::{sign_envelope, verify_envelope};
use liandong_dispatch::{Body, Category, Ed25519Keyring, Ed25519Signer, Envelope, EnvelopeId, Mode, Report, Timestamp};
use liandong_topology::{NodeId, Severity};

#[test]
fn a_node_key_from_certs_signs_envelopes_its_certificate_verifies() {
    let now = OffsetDateTime::now_utc();
    let ca = FederationCa::generate("测试联动网", Validity::days_from(now, 30)).unwrap();
    let (village, town) = (
        NodeId::parse("350102001001").unwrap(),
        NodeId::parse("350102001").unwrap(),
    );
    let village_cert = ca
        .issue_node(&village, "五一社区", Validity::days_from(now, 30))
        .unwrap();
    let town_cert = ca.issue_node(&town, "鼓东街道", Validity::days_from(now, 30)).unwrap();

    let signer = Ed25519Signer::from_pkcs8(village_cert.private_key_der().secret_der()).unwrap();
    let mut keyring = Ed25519Keyring::default();
    keyring.insert(village.clone(), ed25519_public_key(&village_cert.cert_der).unwrap());
    keyring.insert(town.clone(), ed25519_public_key(&town_cert.cert_der).unwrap());

    let mut envelope = Envelope {
        id: EnvelopeId(1),
        origin: village.clone(),
        created: Timestamp(1),
        expires: Timestamp(2),
        mode: Mode::Actual,
        body: Body::Report(Report {
            severity: Severity::III,
            category: Category::Fire,
            title: "仓库起火".into(),
            detail: String::new(),
            place: "五一社区".into(),
            reporter: "张伟".into(),
            photos: Vec::new(),
        }),
        signature: Vec::new(),
    };
    sign_envelope(&mut envelope, &signer);
    assert!(verify_envelope(&envelope, &keyring).is_ok());

    // The township's key cannot speak for the village.
    let town_signer = Ed25519Signer::from_pkcs8(town_cert.private_key_der().secret_der()).unwrap();
    let mut forged = envelope.clone();
    sign_envelope(&mut forged, &town_signer);
    assert!(verify_envelope(&forged, &keyring).is_err());
}
