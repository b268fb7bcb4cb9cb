//! What a real node refuses, and that it logs why. Real `liandong node run`
//! processes; the misbehaving peers are raw QUIC clients in this test with
//! real certificates (the federation's, a foreign CA's, a revoked one).

mod federation;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use federation::{Federation, id};
use liandong_certs::pki_types::{CertificateDer, PrivateKeyDer};
use liandong_certs::time::OffsetDateTime;
use liandong_certs::{FederationCa, Revocations, Validity, Verifier, load_certificates, load_private_key};
use liandong_dispatch::codec::{MAX_FRAME, encode_frame};
use liandong_dispatch::sign::sign_envelope;
use liandong_dispatch::wire::{Carry, Hop};
use liandong_dispatch::{
    Body, Category, Ed25519Signer, Envelope, EnvelopeId, Frame, Mode, Order, Report, Targets, Timestamp,
};
use liandong_topology::{NodeId, Severity};

const IP: Ipv4Addr = Ipv4Addr::new(127, 0, 12, 1);
const WAIT: Duration = Duration::from_secs(20);
/// Lane tag of the Normal lane on a node link (see node::transport).
const NORMAL_LANE: u8 = 2;

struct Creds {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

fn node_creds(fed: &Federation, node: &str) -> Creds {
    let dir = fed.certs.join("nodes").join(node);
    Creds {
        chain: load_certificates(&dir.join("node.pem")).expect("cert"),
        key: load_private_key(&dir.join("node.key")).expect("key"),
    }
}

/// A QUIC connection to `target` presenting `creds`, as a node would dial.
async fn dial(fed: &Federation, creds: &Creds, target: &NodeId) -> Result<quinn::Connection, String> {
    let verifier = Arc::new(Verifier::from_ca_file(&fed.certs.join("ca.pem"), Revocations::default()).expect("ca"));
    let tls = liandong_certs::tls::client_config(verifier, creds.chain.clone(), creds.key.clone_key()).expect("tls");
    let quic = quinn::crypto::rustls::QuicClientConfig::try_from(tls).expect("quic tls");
    let mut endpoint = quinn::Endpoint::client(SocketAddr::new(IP.into(), 0)).expect("client endpoint");
    endpoint.set_default_client_config(quinn::ClientConfig::new(Arc::new(quic)));
    let addr = fed.topology.get(target).expect("target").listen;
    let connecting = endpoint
        .connect(addr, &format!("{target}.node.liandong"))
        .map_err(|e| e.to_string())?;
    connecting.await.map_err(|e| e.to_string())
}

/// Writes one frame on a fresh Normal-lane stream, framed as nodes do.
async fn send_raw(conn: &quinn::Connection, length: u32, bytes: &[u8]) {
    let Ok(mut stream) = conn.open_uni().await else { return };
    let _ = stream.write_all(&[NORMAL_LANE]).await;
    let _ = stream.write_all(&length.to_be_bytes()).await;
    let _ = stream.write_all(bytes).await;
    let _ = stream.finish();
}

async fn send_frame(conn: &quinn::Connection, frame: &Frame) {
    let bytes = encode_frame(frame).expect("encode");
    send_raw(conn, bytes.len() as u32, &bytes).await;
}

fn carry(fed: &Federation, signer_node: &str, origin: &str, to: &str, body: Body) -> Frame {
    let creds = node_creds(fed, signer_node);
    let signer = Ed25519Signer::from_pkcs8(creds.key.secret_der()).expect("signer");
    let now = liandong_control::clock::now();
    let mut envelope = Envelope {
        id: EnvelopeId(u128::from(now.0) << 64 | 0x5eed),
        origin: id(origin),
        created: now,
        expires: Timestamp(now.0 + 3_600_000),
        mode: Mode::Exercise,
        body,
        signature: Vec::new(),
    };
    sign_envelope(&mut envelope, &signer);
    Frame::Carry(Carry {
        envelope,
        to: vec![id(to)],
        trace: vec![Hop {
            node: id(signer_node),
            at: now,
        }],
        catch_up: false,
    })
}

fn report() -> Body {
    Body::Report(Report {
        severity: Severity::IV,
        category: Category::Dispute,
        title: "伪造的上报".into(),
        detail: String::new(),
        place: String::new(),
        reporter: "冒充者".into(),
        photos: Vec::new(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_refuses_bad_peers_and_bad_frames_and_logs_why() {
    let mut fed = Federation::demo(IP);
    let (city, county, town) = (id("350100"), id("350102"), id("350102001"));
    for n in [&city, &county, &town] {
        fed.start(n);
    }
    fed.wait_log(&town, "link up peer=350102", 1, WAIT);
    let village = node_creds(&fed, "350102001001");

    // A certificate from another CA, for a real village id: refused in the handshake.
    let now = OffsetDateTime::now_utc();
    let foreign = FederationCa::generate("冒牌联动网", Validity::days_from(now, 30)).expect("foreign ca");
    let fake = foreign
        .issue_node(&id("350102001001"), "冒牌社区", Validity::days_from(now, 30))
        .expect("fake cert");
    let fake = Creds {
        chain: vec![fake.cert_der.clone()],
        key: fake.private_key_der(),
    };
    if let Ok(conn) = dial(&fed, &fake, &town).await {
        // TLS 1.3: the refusal may only show on the first stream operation.
        assert!(conn.accept_uni().await.is_err(), "a foreign-CA peer got a stream");
    }
    let line = fed.wait_log(&town, "not issued by this federation's CA", 1, WAIT);
    assert!(line.contains("refused"), "{line}");

    // A village of another county dialing this township: not its parent or ancestor.
    let stranger = node_creds(&fed, "350121001001");
    if let Ok(conn) = dial(&fed, &stranger, &town).await {
        assert!(conn.accept_uni().await.is_err(), "a non-neighbour got a stream");
    }
    fed.wait_log(&town, "node 350121001001 may not link with node 350102001", 1, WAIT);

    // The township's own village, with its own valid certificate: accepted...
    let conn = dial(&fed, &village, &town).await.expect("the village's own link");
    fed.wait_log(&town, "link up peer=350102001001", 1, WAIT);

    // ...but an order sent upward is refused, and nothing of it is stored.
    let order = Body::Order(Order {
        incident: None,
        targets: Targets::Node(town.clone()),
        severity: Severity::II,
        instruction: "村级向乡镇下达指令".into(),
        by: "冒充者".into(),
        finish_by: None,
    });
    send_frame(&conn, &carry(&fed, "350102001001", "350102001001", "350102001", order)).await;
    fed.wait_log(&town, "order from 350102001001 which is not above this node", 1, WAIT);

    // A report claiming to come from the neighbouring village, signed with
    // this village's key: the origin signature does not match.
    send_frame(
        &conn,
        &carry(&fed, "350102001001", "350102001002", "350102001", report()),
    )
    .await;
    fed.wait_log(&town, "signature of origin 350102001002 does not match", 1, WAIT);

    // Garbage bytes of a plausible length: undecodable, refused.
    send_raw(&conn, 11, b"not a frame").await;
    fed.wait_log(&town, "undecodable frame", 1, WAIT);

    // A length over the limit: refused before anything is allocated, and the
    // connection is closed.
    send_raw(&conn, (MAX_FRAME + 1) as u32, b"").await;
    fed.wait_log(&town, "over the 262144-byte limit", 1, WAIT);
    fed.wait_log(&town, "link down peer=350102001001", 1, WAIT);

    // Revoking the village's certificate takes effect without a restart: the
    // node reloads the list, and the next connection with it is refused.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_liandong"))
        .args(["certs", "revoke", "--ca"])
        .arg(&fed.certs)
        .arg("--cert")
        .arg(fed.certs.join("nodes/350102001001/node.pem"))
        .args(["--reason", "key-compromise", "--note", "村级终端丢失"])
        .output()
        .expect("revoke");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    fed.wait_log(&town, "revocation list reloaded", 1, WAIT);
    if let Ok(conn) = dial(&fed, &village, &town).await {
        assert!(conn.accept_uni().await.is_err(), "a revoked peer got a stream");
    }
    fed.wait_log(&town, "revoked", 1, WAIT);

    // Nothing the refused frames carried was stored at the township.
    fed.stop_all();
    let store = fed.open_store(&town).await;
    let held = store.load().await.expect("load");
    assert!(held.orders.is_empty(), "an upward order was stored: {:?}", held.orders);
    assert!(
        held.incidents.is_empty(),
        "a forged report was stored: {:?}",
        held.incidents
    );
}
