//! The attack matrix: every way this project knows to misbehave towards a
//! node, each against real `liandong node run` processes, each asserting
//! three things: the node refused it and logged why, nothing of it was
//! stored, and the rest of the federation did not notice (a severity I
//! report from another village, 350102001002, still reaches the city
//! after each case; during the flood, while it lasts).
//!
//! The attackers are raw QUIC clients and servers in this test with real
//! certificates: the federation's (a compromised village, 350102001001),
//! a foreign CA's, expired, not yet valid, revoked; operators' and none;
//! and curl against the gateway. Four groups, each its own federation on
//! its own loopback address:
//!
//! - **handshake**: foreign CA, expired, not yet valid, a non-neighbour,
//!   a certificate for A answering where B was dialed, revoked;
//! - **frames** from a linked child: an order sent upward, a forged
//!   origin signature, a replay of a captured envelope within the dedup
//!   window and after it, garbage bytes, a flood (the flooder is slowed,
//!   the other village is not), an oversize frame;
//! - **control**: no client certificate, an operator certificate of
//!   another center, a non-leader's room act, streams opened and never
//!   finished (timed out, at most 32 per console), too many connections of
//!   one operator;
//! - **gateway**: no token, an unknown token, a revoked token, a token
//!   without the scope, another center's token, an oversize body.

mod common;
mod federation;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use federation::{Federation, file_report, hex, id, subscribe, wait_for};
use liandong_certs::pki_types::{CertificateDer, PrivateKeyDer};
use liandong_certs::time::{Duration as CertDuration, OffsetDateTime};
use liandong_certs::{
    FederationCa, Revocations, Validity, Verifier, load_certificates, load_private_key, server_name_for,
};
use liandong_control::{
    Act, CONTROL_ALPN, ControlClient, MAX_RESPONSE, Notice, Query, Request, Response, Subscription,
};
use liandong_dispatch::codec::{MAX_FRAME, encode_frame};
use liandong_dispatch::sign::sign_envelope;
use liandong_dispatch::wire::{Carry, Hop, RoomAct};
use liandong_dispatch::{
    Body, Category, Ed25519Signer, Envelope, EnvelopeId, Frame, Mode, Order, Report, Targets, Timestamp,
};
use liandong_topology::Severity;

const WAIT: Duration = Duration::from_secs(30);
/// Lane tags on a node link (see node::transport): Control, Normal.
const CONTROL_LANE: u8 = 0;
const NORMAL_LANE: u8 = 2;

const CITY: &str = "350100";
const COUNTY: &str = "350102";
const TOWN: &str = "350102001";
/// The compromised village whose key and certificate the attacker holds.
const ATTACKER: &str = "350102001001";
/// The village whose reports must keep reaching the city.
const BYSTANDER: &str = "350102001002";
/// A title no honest report in this test has.
const FORGED: &str = "伪造的上报";

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

fn files_creds(cert: &std::path::Path, key: &std::path::Path) -> Creds {
    Creds {
        chain: load_certificates(cert).expect("cert"),
        key: load_private_key(key).expect("key"),
    }
}

/// A certificate for the attacker's village from the federation's own CA,
/// valid over `validity` (expired, or not yet valid).
fn village_cert(fed: &Federation, validity: Validity) -> Creds {
    let ca = FederationCa::load(&fed.certs).expect("the federation CA");
    let issued = ca.issue_node(&id(ATTACKER), "失窃的村终端", validity).expect("issue");
    Creds {
        chain: vec![issued.cert_der.clone()],
        key: issued.private_key_der(),
    }
}

fn verifier(fed: &Federation) -> Arc<Verifier> {
    Arc::new(Verifier::from_ca_file(&fed.certs.join("ca.pem"), Revocations::default()).expect("ca"))
}

fn endpoint(fed: &Federation) -> quinn::Endpoint {
    let ip = fed.topology.get(&id(CITY)).expect("city").listen.ip();
    quinn::Endpoint::client(SocketAddr::new(ip, 0)).expect("client endpoint")
}

/// A QUIC connection to `target`'s node port presenting `creds`, as a node dials.
async fn dial(fed: &Federation, creds: &Creds, target: &str) -> Result<quinn::Connection, String> {
    let tls =
        liandong_certs::tls::client_config(verifier(fed), creds.chain.clone(), creds.key.clone_key()).expect("tls");
    let quic = quinn::crypto::rustls::QuicClientConfig::try_from(tls).expect("quic tls");
    let mut endpoint = endpoint(fed);
    endpoint.set_default_client_config(quinn::ClientConfig::new(Arc::new(quic)));
    let addr = fed.topology.get(&id(target)).expect("target").listen;
    let connecting = endpoint
        .connect(addr, &server_name_for(&id(target)).to_str())
        .map_err(|e| e.to_string())?;
    connecting.await.map_err(|e| e.to_string())
}

/// Dials `target` with `creds` and asserts it never lets the peer in: with
/// TLS 1.3 a refused client may see the handshake succeed and fail on its
/// first stream operation.
async fn refused_at_the_door(fed: &Federation, creds: &Creds, target: &str, case: &str) {
    if let Ok(conn) = dial(fed, creds, target).await {
        assert!(conn.accept_uni().await.is_err(), "{case}: the peer got a stream");
    }
}

/// Writes `bytes` as one frame of `length` on a fresh stream of `lane`.
async fn send_raw(conn: &quinn::Connection, lane: u8, length: u32, bytes: &[u8]) {
    let Ok(mut stream) = conn.open_uni().await else { return };
    let _ = stream.write_all(&[lane]).await;
    let _ = stream.write_all(&length.to_be_bytes()).await;
    let _ = stream.write_all(bytes).await;
    let _ = stream.finish();
}

async fn send_frame(conn: &quinn::Connection, frame: &Frame) {
    let bytes = encode_frame(frame).expect("encode");
    send_raw(conn, NORMAL_LANE, bytes.len() as u32, &bytes).await;
}

/// An envelope `origin` never sent, signed with `signer_node`'s key and
/// carried by it to `to`: created at `created`, living `ttl`.
fn carry_at(
    fed: &Federation,
    n: u64,
    (signer_node, origin, to): (&str, &str, &str),
    body: Body,
    created: Timestamp,
    ttl: Duration,
) -> Frame {
    let creds = node_creds(fed, signer_node);
    let signer = Ed25519Signer::from_pkcs8(creds.key.secret_der()).expect("signer");
    let mut envelope = Envelope {
        id: EnvelopeId(u128::from(created.0) << 64 | u128::from(n)),
        origin: id(origin),
        created,
        expires: Timestamp(created.0 + ttl.as_millis() as u64),
        mode: Mode::Actual,
        body,
        signature: Vec::new(),
    };
    sign_envelope(&mut envelope, &signer);
    Frame::Carry(Carry {
        envelope,
        to: vec![id(to)],
        trace: vec![Hop {
            node: id(signer_node),
            at: created,
        }],
        catch_up: false,
    })
}

fn carry(fed: &Federation, n: u64, who: (&str, &str, &str), body: Body) -> Frame {
    let now = liandong_control::clock::now();
    carry_at(fed, n, who, body, now, Duration::from_secs(3600))
}

fn envelope_id(frame: &Frame) -> EnvelopeId {
    match frame {
        Frame::Carry(c) => c.envelope.id,
        _ => unreachable!("a carried envelope"),
    }
}

fn report(title: &str) -> Body {
    Body::Report(Report {
        severity: Severity::Routine,
        category: Category::Dispute,
        title: title.into(),
        detail: "邻里纠纷".into(),
        place: "五一社区".into(),
        reporter: "网格员".into(),
        photos: Vec::new(),
    })
}

/// A federation under attack, the bystander's path to the city running.
struct Matrix {
    fed: Federation,
    bystander: ControlClient,
    at_city: Subscription,
    filed: Vec<EnvelopeId>,
}

impl Matrix {
    /// City, county, township and the bystander village, then `more`.
    async fn start(ip: Ipv4Addr, env: &[(&str, &str)], more: &[&str]) -> Matrix {
        let mut fed = Federation::demo(ip);
        for (k, v) in env {
            fed.set_env(k, v);
        }
        for n in [CITY, COUNTY, TOWN, BYSTANDER].iter().chain(more) {
            fed.start(&id(n));
        }
        Matrix::linked(fed).await
    }

    /// Once the bystander's path to the city is up.
    async fn linked(mut fed: Federation) -> Matrix {
        fed.wait_log(&id(BYSTANDER), "link up peer=350102001", 1, WAIT);
        fed.wait_log(&id(COUNTY), "link up peer=350102001", 1, WAIT);
        fed.wait_log(&id(CITY), "link up peer=350102", 1, WAIT);
        let bystander = fed.client(&id(BYSTANDER), "网格员小林").await;
        let city = fed.client(&id(CITY), "市级值班员").await;
        let at_city = subscribe(&city).await;
        Matrix {
            fed,
            bystander,
            at_city,
            filed: Vec::new(),
        }
    }

    /// The rest of the federation did not notice `case`: a severity I
    /// report from the bystander village reaches the city.
    async fn unaffected(&mut self, case: &str) {
        let title = format!("{case}：旁观村的险情");
        let filed = file_report(&self.bystander, Severity::I, &title).await;
        wait_for(
            &mut self.at_city,
            &format!("the bystander's report after {case}"),
            |n| matches!(n, Notice::IncidentRecorded { incident, .. } if incident.id == filed),
        )
        .await;
        self.filed.push(filed);
    }

    fn log(&self, node: &str, pattern: &str) -> String {
        self.fed.wait_log(&id(node), pattern, 1, WAIT)
    }

    /// Stops every node and checks each store: nothing but the bystander's
    /// reports and `allowed` came from anyone, and nothing at all carries
    /// the forged title or any of `refused`.
    async fn nothing_stored(mut self, refused: &[EnvelopeId], allowed: &[EnvelopeId]) {
        self.fed.stop_all();
        for node in [CITY, COUNTY, TOWN] {
            let store = self.fed.open_store(&id(node)).await;
            let held = store.load().await.expect("load");
            for r in refused {
                assert!(!held.envelopes.contains_key(r), "{node} stored refused envelope {r}");
            }
            for (i, stored) in &held.envelopes {
                let e = &stored.envelope;
                if let Body::Report(r) = &e.body {
                    assert!(!r.title.contains(FORGED), "{node} stored a forged report {i}: {r:?}");
                }
                if e.origin == id(ATTACKER) {
                    assert!(allowed.contains(i), "{node} stored {i} from the attacker: {:?}", e.body);
                }
            }
            assert!(held.orders.is_empty(), "{node} stored an order: {:?}", held.orders);
            // A severity I report opens its room at the city on its own:
            // the bystander's may, nothing else.
            for room in held.rooms.keys() {
                assert!(
                    self.filed.contains(room),
                    "{node} stored a room: {:?}",
                    held.rooms[room]
                );
            }
            for filed in &self.filed {
                assert!(
                    held.envelopes.contains_key(filed),
                    "{node} lost the bystander's {filed}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_are_refused_in_the_handshake_and_the_federation_goes_on() {
    let ip = Ipv4Addr::new(127, 0, 19, 1);
    // The township 350102002 is not started: the attacker answers at its
    // address, for its village 350102002001 to dial.
    let mut m = Matrix::start(ip, &[], &[]).await;
    let now = OffsetDateTime::now_utc();

    // A certificate from another CA, for the attacker's real village id.
    let foreign = FederationCa::generate("冒牌联动网", Validity::days_from(now, 30)).expect("foreign ca");
    let fake = foreign
        .issue_node(&id(ATTACKER), "冒牌社区", Validity::days_from(now, 30))
        .expect("fake cert");
    let fake = Creds {
        chain: vec![fake.cert_der.clone()],
        key: fake.private_key_der(),
    };
    refused_at_the_door(&m.fed, &fake, TOWN, "foreign CA").await;
    let line = m.log(TOWN, "not issued by this federation's CA");
    assert!(line.contains("refused"), "{line}");
    m.unaffected("foreign CA").await;

    // The federation's CA, expired yesterday.
    let expired = village_cert(
        &m.fed,
        Validity {
            not_before: now - CertDuration::days(30),
            not_after: now - CertDuration::days(1),
        },
    );
    refused_at_the_door(&m.fed, &expired, TOWN, "expired").await;
    m.log(TOWN, "expired at");
    m.unaffected("expired").await;

    // The federation's CA, valid from tomorrow.
    let early = village_cert(
        &m.fed,
        Validity {
            not_before: now + CertDuration::days(1),
            not_after: now + CertDuration::days(30),
        },
    );
    refused_at_the_door(&m.fed, &early, TOWN, "not yet valid").await;
    m.log(TOWN, "is not valid before");
    m.unaffected("not yet valid").await;

    // A village of another county: valid, but not this township's neighbour.
    let stranger = node_creds(&m.fed, "350121001001");
    refused_at_the_door(&m.fed, &stranger, TOWN, "non-neighbour").await;
    m.log(TOWN, "node 350121001001 may not link with node 350102001");
    m.unaffected("non-neighbour").await;

    // A certificate for A (the attacker's village) answering where B (the
    // township 350102002) was dialed: its village refuses it.
    let attacker = node_creds(&m.fed, ATTACKER);
    let impostor_at = m.fed.topology.get(&id("350102002")).expect("township").listen;
    let tls = liandong_certs::tls::server_config(verifier(&m.fed), attacker.chain.clone(), attacker.key.clone_key())
        .expect("tls");
    let quic = quinn::crypto::rustls::QuicServerConfig::try_from(tls).expect("quic tls");
    let impostor = quinn::Endpoint::server(quinn::ServerConfig::with_crypto(Arc::new(quic)), impostor_at)
        .expect("the impostor listens at the township's address");
    let answering = tokio::spawn({
        let impostor = impostor.clone();
        async move {
            while let Some(incoming) = impostor.accept().await {
                let _ = incoming.await;
            }
        }
    });
    m.fed.start(&id("350102002001"));
    m.log(
        "350102002001",
        "dialed node 350102002 but the server presented certificate",
    );
    impostor.close(0u32.into(), b"");
    answering.abort();
    m.unaffected("certificate for A as B").await;

    // Revoked: the list is reloaded without a restart, the next
    // connection refused.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_liandong"))
        .args(["certs", "revoke", "--ca"])
        .arg(&m.fed.certs)
        .arg("--cert")
        .arg(m.fed.certs.join("nodes").join(ATTACKER).join("node.pem"))
        .args(["--reason", "key-compromise", "--note", "村级终端丢失"])
        .output()
        .expect("revoke");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    m.log(TOWN, "revocation list reloaded");
    refused_at_the_door(&m.fed, &attacker, TOWN, "revoked").await;
    m.log(TOWN, "revoked since");
    m.unaffected("revoked").await;

    assert_eq!(
        m.fed.log_count(&id(TOWN), "link up peer=350102001001"),
        0,
        "a refused peer was let in"
    );
    m.nothing_stored(&[], &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_from_a_compromised_child_are_refused_and_its_flood_slowed() {
    let ip = Ipv4Addr::new(127, 0, 19, 2);
    // Duplicates and audit lines show at debug.
    let debug = [("RUST_LOG", "info,liandong_node::runtime::notices=debug")];
    let mut m = Matrix::start(ip, &debug, &[]).await;
    let attacker = node_creds(&m.fed, ATTACKER);
    let conn = dial(&m.fed, &attacker, TOWN).await.expect("the village's own link");
    m.log(TOWN, "link up peer=350102001001");
    let mut refused = Vec::new();

    // An order sent upward.
    let order = Body::Order(Order {
        incident: None,
        targets: Targets::Node(id(TOWN)),
        severity: Severity::II,
        instruction: "村级向乡镇下达指令".into(),
        by: "冒充者".into(),
        finish_by: None,
    });
    let upward = carry(&m.fed, 1, (ATTACKER, ATTACKER, TOWN), order);
    refused.push(envelope_id(&upward));
    send_frame(&conn, &upward).await;
    m.log(TOWN, "order from 350102001001 which is not above this node");
    m.unaffected("order upward").await;

    // A report claiming the bystander as its origin, signed with the
    // attacker's key.
    let forged = carry(&m.fed, 2, (ATTACKER, BYSTANDER, TOWN), report(FORGED));
    refused.push(envelope_id(&forged));
    send_frame(&conn, &forged).await;
    m.log(TOWN, "signature of origin 350102001002 does not match");
    m.unaffected("forged origin").await;

    // A real report of the village, captured on its way and replayed
    // within the dedup window (the envelope's life): acked, not again.
    let captured = carry(&m.fed, 3, (ATTACKER, ATTACKER, TOWN), report("村口路灯损坏"));
    let captured_id = envelope_id(&captured);
    send_frame(&conn, &captured).await;
    m.log(TOWN, "origin=350102001001");
    send_frame(&conn, &captured).await;
    let line = m.log(TOWN, "already held: a duplicate, acked and dropped");
    assert!(line.contains("peer=350102001001"), "{line}");
    m.unaffected("replay within the window").await;

    // One signed four days ago to live three: past the window.
    let four_days_ago = Timestamp(liandong_control::clock::now().0 - 4 * 24 * 3_600_000);
    let old = carry_at(
        &m.fed,
        4,
        (ATTACKER, ATTACKER, TOWN),
        report(FORGED),
        four_days_ago,
        Duration::from_secs(3 * 24 * 3600),
    );
    refused.push(envelope_id(&old));
    send_frame(&conn, &old).await;
    send_frame(&conn, &old).await;
    m.log(TOWN, "arrived expired");
    m.unaffected("replay after the window").await;

    // Garbage bytes of a plausible length.
    send_raw(&conn, NORMAL_LANE, 11, b"not a frame").await;
    m.log(TOWN, "undecodable frame");
    m.unaffected("garbage").await;

    // A flood: envelopes whose signatures do not hold (each costs the
    // township a check) and heartbeats, as fast as the link takes them,
    // until the bystander's report is through and the township has said
    // it holds the flooder back (at most 100,000 frames or a minute).
    let stop = Arc::new(AtomicBool::new(false));
    let ended = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let flood = tokio::spawn({
        let (conn, stop, ended, sent) = (conn.clone(), stop.clone(), ended.clone(), sent.clone());
        let mut junk = Vec::new();
        for n in 0..64u64 {
            let Frame::Carry(mut c) = carry(&m.fed, 1000 + n, (ATTACKER, ATTACKER, TOWN), report(FORGED)) else {
                unreachable!()
            };
            c.envelope.body = report(&format!("{FORGED}{n}"));
            junk.push(encode_frame(&Frame::Carry(c)).expect("encode"));
        }
        let beat = encode_frame(&Frame::Heartbeat { sent: Timestamp(1) }).expect("encode");
        async move {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
            let (Ok(mut normal), Ok(mut control)) = (conn.open_uni().await, conn.open_uni().await) else {
                ended.store(true, Ordering::Relaxed);
                return;
            };
            let _ = normal.write_all(&[NORMAL_LANE]).await;
            let _ = control.write_all(&[CONTROL_LANE]).await;
            for n in 0..100_000usize {
                if stop.load(Ordering::Relaxed) || tokio::time::Instant::now() > deadline {
                    break;
                }
                let (stream, frame) = if n % 2 == 0 {
                    (&mut normal, &junk[n / 2 % junk.len()])
                } else {
                    (&mut control, &beat)
                };
                let mut bytes = (frame.len() as u32).to_be_bytes().to_vec();
                bytes.extend_from_slice(frame);
                if stream.write_all(&bytes).await.is_err() {
                    break;
                }
                sent.fetch_add(1, Ordering::Relaxed);
            }
            // Ended by its own bound, not by the test.
            if !stop.load(Ordering::Relaxed) {
                ended.store(true, Ordering::Relaxed);
            }
        }
    });
    m.unaffected("flood").await;
    let line = m.log(
        TOWN,
        "node 350102001001 sends frames faster than this node handles them",
    );
    assert!(line.contains("other peers are not held up"), "{line}");
    assert!(
        !ended.load(Ordering::Relaxed),
        "the flood ended ({} frames) before the report came through",
        sent.load(Ordering::Relaxed)
    );
    stop.store(true, Ordering::Relaxed);
    flood.await.expect("the flood task");
    eprintln!(
        "flood: {} frames written while the bystander's report went through",
        sent.load(Ordering::Relaxed)
    );
    assert_eq!(
        m.fed.log_count(&id(TOWN), "node 350102001002 sends frames faster"),
        0,
        "the bystander was held back"
    );

    // A length over the limit: refused before anything is allocated, and
    // the link closed.
    send_raw(&conn, NORMAL_LANE, (MAX_FRAME + 1) as u32, b"").await;
    m.log(TOWN, "over the 262144-byte limit");
    m.log(TOWN, "link down peer=350102001001");
    m.unaffected("oversize frame").await;

    // The captured report is stored once, as the village filed it.
    m.nothing_stored(&refused, &[captured_id]).await;
}

/// A QUIC connection to `node`'s control port presenting `creds`, or
/// none (`None`: no client certificate at all).
async fn control_conn(fed: &Federation, node: &str, creds: Option<&Creds>) -> Result<quinn::Connection, String> {
    let mut tls = match creds {
        Some(c) => (*liandong_certs::tls::client_config(verifier(fed), c.chain.clone(), c.key.clone_key())
            .expect("tls"))
        .clone(),
        None => rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_protocol_versions(&[&rustls::version::TLS13])
            .expect("tls 1.3")
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(liandong_certs::tls::NodeServerVerifier::new(verifier(fed))))
            .with_no_client_auth(),
    };
    tls.alpn_protocols = vec![CONTROL_ALPN.to_vec()];
    let quic = quinn::crypto::rustls::QuicClientConfig::try_from(Arc::new(tls)).expect("quic tls");
    let mut endpoint = endpoint(fed);
    endpoint.set_default_client_config(quinn::ClientConfig::new(Arc::new(quic)));
    let connecting = endpoint
        .connect(fed.control_addr(&id(node)), &server_name_for(&id(node)).to_str())
        .map_err(|e| e.to_string())?;
    connecting.await.map_err(|e| e.to_string())
}

/// The node's status, asked by `client`: it answers.
async fn answers(client: &ControlClient, case: &str) {
    match client.call(Request::Query(Query::Status)).await {
        Ok(Response::Status(_)) => {}
        other => panic!("{case}: the node did not answer its own operator: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_clients_that_misbehave_are_refused_and_bounded() {
    let ip = Ipv4Addr::new(127, 0, 19, 3);
    let mut m = Matrix::start(ip, &[], &[]).await;
    let town_operator = m.fed.client(&id(TOWN), "乡镇值班员").await;

    // No client certificate: refused in the handshake.
    if let Ok(conn) = control_conn(&m.fed, TOWN, None).await {
        assert!(
            conn.accept_uni().await.is_err(),
            "a console without a certificate got a stream"
        );
    }
    m.log(TOWN, "refused a control connection in the TLS handshake");
    m.unaffected("no client certificate").await;

    // An operator of the county at the township's console.
    let (cert, key) = m.fed.operator(&id(COUNTY), "县级值班员", "operator");
    let outsider = files_creds(&cert, &key);
    if let Ok(conn) = control_conn(&m.fed, TOWN, Some(&outsider)).await {
        assert!(conn.accept_uni().await.is_err(), "another center's operator got in");
    }
    m.log(TOWN, "operator 县级值班员 works at 350102; this node is 350102001");
    m.unaffected("another center's operator").await;

    // A room act by an operator who is not a leader: refused, no room.
    let incident = file_report(&town_operator, Severity::Routine, "乡镇自报事项").await;
    let answer = town_operator
        .call(Request::Act(Act::RoomAct {
            room: hex(incident),
            act: RoomAct::Open,
            home: None,
        }))
        .await
        .expect("room act call");
    match answer {
        Response::Refused { reason } => assert!(reason.contains("only a leader may open"), "{reason}"),
        other => panic!("an operator opened a room: {other:?}"),
    }
    m.log(TOWN, "only a leader may open a coordination room");
    m.unaffected("non-leader room act").await;

    // Streams opened and never finished: the console holds at most 32,
    // the node's own operators are served meanwhile, and after the
    // request timeout each stalled stream is refused and given back.
    let (cert, key) = m.fed.operator(&id(TOWN), "慢速客户端", "operator");
    let slow = control_conn(&m.fed, TOWN, Some(&files_creds(&cert, &key)))
        .await
        .expect("the slow console connects");
    let mut stalled = Vec::new();
    for _ in 0..32 {
        let (mut send, recv) = slow.open_bi().await.expect("a stream within the limit");
        // A length of 100 and 10 bytes of it; never the rest.
        send.write_all(&100u32.to_be_bytes()).await.expect("write");
        send.write_all(&[0u8; 10]).await.expect("write");
        stalled.push((send, recv));
    }
    let extra = tokio::time::timeout(Duration::from_secs(1), slow.open_bi()).await;
    assert!(extra.is_err(), "a 33rd request stream was granted while 32 stalled");
    answers(&town_operator, "stalled streams").await;
    for (_, mut recv) in stalled.drain(..) {
        let answer = tokio::time::timeout(WAIT, liandong_control::frame::read::<Response, MAX_RESPONSE>(&mut recv))
            .await
            .expect("a stalled stream is answered within the timeout");
        match answer {
            Ok(Some(Response::Refused { reason })) => {
                assert!(reason.contains("not wholly sent within"), "{reason}")
            }
            other => panic!("a stalled stream got {other:?}"),
        }
    }
    m.log(
        TOWN,
        "refused a control request: the request was not wholly sent within",
    );
    tokio::time::timeout(WAIT, slow.open_bi())
        .await
        .expect("the stalled streams are given back")
        .expect("a stream once they are");
    m.unaffected("stalled streams").await;

    // One operator opening connection after connection: 16 at once.
    let (cert, key) = m.fed.operator(&id(TOWN), "连接过多", "operator");
    let ca = m.fed.certs.join("ca.pem");
    let addr = m.fed.control_addr(&id(TOWN));
    let mut held = Vec::new();
    for _ in 0..16 {
        held.push(
            ControlClient::connect_with_files(addr, &ca, &cert, &key)
                .await
                .expect("within the limit"),
        );
    }
    if let Ok(client) = ControlClient::connect_with_files(addr, &ca, &cert, &key).await {
        assert!(
            client.call(Request::Query(Query::Status)).await.is_err(),
            "a 17th connection of one operator was served"
        );
    }
    m.log(TOWN, "operator 连接过多 already has 16 connections open");
    answers(&town_operator, "too many connections").await;
    drop(held);
    m.unaffected("too many connections").await;

    m.nothing_stored(&[], &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_token_abuse_is_refused_and_logged() {
    if !common::tool::require("curl", "the attack matrix's gateway cases", "the HTTP client") {
        return;
    }
    use common::gateway::{Gw, curl, issue_token};
    let ip = Ipv4Addr::new(127, 0, 19, 4);
    let mut fed = Federation::demo(ip);
    let (cert, key) = common::gateway::certificate(fed.path());
    let port = 8443;
    let county_data = fed.data_dir(&id(COUNTY));
    fed.start(&id(CITY));
    fed.start_gateway(&id(COUNTY), SocketAddr::new(ip.into(), port), &cert, &key);
    // Issued once the gateway has claimed the token file: `ld.350102_…`.
    let reader = issue_token(&county_data, "公安系统", "read");
    let revoked = issue_token(&county_data, "旧热线", "report,read");
    // A token of another county's gateway, as its systems hold it.
    let elsewhere = issue_token(&county_data, "别县热线", "report,read").replacen("ld.350102_", "ld.350121_", 1);
    assert!(elsewhere.starts_with("ld.350121_"), "{elsewhere}");
    let revoked_id = revoked.split('_').nth(1).expect("a token id").to_owned();
    let out = common::liandong(&[
        "gateway",
        "token",
        "revoke",
        "--data",
        common::arg(&county_data),
        &revoked_id,
    ]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let hotline = issue_token(&county_data, "12345热线", "report,read");
    for n in [TOWN, BYSTANDER] {
        fed.start(&id(n));
    }
    let mut m = Matrix::linked(fed).await;
    let gw = Gw::new(ip, port, &cert);
    let body =
        format!(r#"{{"severity":"I","category":"Flood","title":"{FORGED}","detail":"河道漫堤","place":"鼓山镇"}}"#);
    let post = |token: Option<&str>, body: &[u8]| curl(&gw, "POST", "/v1/reports", token, &[], Some(body));

    let cases: [(&str, Option<&str>, u16, &str); 5] = [
        ("no token", None, 401, "no token: send Authorization: Bearer"),
        (
            "unknown token",
            Some("ld.350102_0a1b2c3d_guessed"),
            401,
            "not a token of this center",
        ),
        ("revoked token", Some(&revoked), 401, "was revoked"),
        ("token without the scope", Some(&reader), 403, "may not report"),
        (
            "another center's token",
            Some(&elsewhere),
            403,
            "this token acts for center 350121",
        ),
    ];
    for (case, token, status, why) in cases {
        let answer = post(token, body.as_bytes());
        assert_eq!(answer.status, status, "{case}: {}", answer.body);
        assert!(answer.body.contains(why), "{case}: {}", answer.body);
        let line = m.log(COUNTY, why);
        assert!(line.contains("gateway refused a request"), "{case}: {line}");
        assert!(line.contains(&format!("status={status}")), "{case}: {line}");
        m.unaffected(case).await;
    }

    // A good token with a body over the limit: refused before it is read.
    let huge = vec![b' '; 2 * 1024 * 1024];
    let answer = post(Some(&hotline), &huge);
    assert_eq!(answer.status, 413, "{}", answer.body);
    m.log(COUNTY, "gateway refused a request: a body of 2097152 bytes is over");
    m.unaffected("oversize body").await;

    m.nothing_stored(&[], &[]).await;
}
