//! The control API over real QUIC on loopback with real TLS and generated
//! certificates, against a fake driver that answers calls with canned
//! responses. No sleeps: every wait is on an event, bounded by a timeout.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use liandong_certs::pki_types::{CertificateDer, PrivateKeyDer};
use liandong_certs::time::OffsetDateTime;
use liandong_certs::{FederationCa, IssuedCert, Revocations, Role, Validity, Verifier, server_name_for};
use liandong_control::frame;
use liandong_control::{
    Act, CONTROL_ALPN, CertificateStatus, ControlClient, ControlError, IdRef, MAX_RESPONSE, NodeStatus, Notice, Pushed,
    Query, Request, Response, close,
};
use liandong_dispatch::store::{Incident, IncidentState};
use liandong_dispatch::wire::{Category, EnvelopeId, Mode, Report, Timestamp};
use liandong_node::control::{Call, ControlConfig, ControlServer};
use liandong_topology::{Level, NodeId, Severity};
use quinn::crypto::rustls::QuicClientConfig;
use quinn::{ConnectionError, VarInt};
use tokio::sync::{broadcast, mpsc};

const ME: &str = "350100";
const OTHER: &str = "350102";

fn id(s: &str) -> NodeId {
    NodeId::parse(s).unwrap()
}

fn valid() -> Validity {
    Validity::days_from(OffsetDateTime::now_utc(), 30)
}

/// Every wait in these tests: fails the test instead of hanging it.
async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), fut)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

struct Federation {
    ca: FederationCa,
}

impl Federation {
    fn new(name: &str) -> Federation {
        Federation {
            ca: FederationCa::generate(name, Validity::days_from(OffsetDateTime::now_utc(), 365)).unwrap(),
        }
    }

    fn ca_der(&self) -> CertificateDer<'static> {
        self.ca.cert_der().clone()
    }

    fn node(&self, node: &str) -> IssuedCert {
        self.ca.issue_node(&id(node), &format!("中心 {node}"), valid()).unwrap()
    }

    fn operator(&self, node: &str, name: &str, role: Role) -> IssuedCert {
        self.ca.issue_operator(&id(node), name, role, valid()).unwrap()
    }
}

fn parts(cert: &IssuedCert) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
    (vec![cert.cert_der.clone()], cert.private_key_der())
}

fn incident(n: u128, title: &str) -> Incident {
    Incident {
        id: EnvelopeId(n),
        origin: id("350102001001"),
        report: Report {
            severity: Severity::III,
            category: Category::Fire,
            title: title.into(),
            detail: String::new(),
            place: "仓山区".into(),
            reporter: "王芳".into(),
            photos: Vec::new(),
        },
        mode: Mode::Actual,
        reported: Timestamp(1_700_000_000_000),
        owner: id(ME),
        state: IncidentState::Reported,
        accepted_by: None,
        accept_by: Timestamp(1_700_000_600_000),
        finish_by: None,
        supervisor: None,
        orders: Vec::new(),
        timeline: Vec::new(),
    }
}

fn status() -> NodeStatus {
    NodeStatus {
        node: id(ME),
        name: "福州市综治中心".into(),
        level: Level::City,
        parent: None,
        failed_over: false,
        links: Vec::new(),
        incidents_open: 1,
        orders_open: 0,
        storage_problem: None,
        started: Timestamp(1_700_000_000_000),
        now: Timestamp(1_700_000_100_000),
        certificate: Some(CertificateStatus::at(
            "5f:3a:09".into(),
            Timestamp(1_700_000_100_000 + 12 * 86_400_000),
            Timestamp(1_700_000_100_000),
        )),
        gateway: Default::default(),
    }
}

fn snapshot() -> Response {
    Response::Snapshot {
        status: status(),
        incidents: vec![incident(1, "仓库冒烟")],
        orders: Vec::new(),
        rooms: Vec::new(),
    }
}

fn pushed(n: u64) -> Pushed {
    Pushed {
        at: Timestamp(n),
        notice: Notice::LinkChanged {
            peer: id(OTHER),
            up: n.is_multiple_of(2),
        },
    }
}

/// What the fake driver does with one call: `None` drops the reply.
type Answer = Arc<dyn Fn(&Call, &broadcast::Sender<Pushed>) -> Option<Response> + Send + Sync>;

/// Canned answers: reports are taken (naming who filed them, to show the
/// identity came from the certificate), accepts are refused, the rest
/// answered with fixed data.
fn canned() -> Answer {
    Arc::new(|call, _| {
        Some(match &call.request {
            Request::Act(Act::Report { title, .. }) => Response::Done {
                id: EnvelopeId(0x3f2a_9c0e_1b7d_4a5e_8f00_1122_3344_5566),
                what: format!(
                    "{title} reported by {} ({}) at {}",
                    call.operator.name, call.operator.role, call.operator.node
                ),
            },
            Request::Act(Act::Accept { incident }) => Response::Refused {
                reason: format!("no incident here matches {:?}", incident.0),
            },
            Request::Query(Query::Status) => Response::Status(status()),
            Request::Query(Query::Incidents { .. }) => Response::Incidents(vec![incident(1, "仓库冒烟")]),
            Request::Query(Query::Subscribe) => snapshot(),
            other => Response::Refused {
                reason: format!("not in this fake: {other:?}"),
            },
        })
    })
}

struct Harness {
    fed: Federation,
    server: ControlServer,
    addr: SocketAddr,
    pushed: broadcast::Sender<Pushed>,
}

impl Harness {
    async fn start(capacity: usize, answer: Answer) -> Harness {
        let fed = Federation::new("福州");
        let verifier = Arc::new(Verifier::new(fed.ca_der(), Revocations::default()).unwrap());
        let (chain, key) = parts(&fed.node(ME));
        let (calls_tx, mut calls) = mpsc::channel::<Call>(16);
        let (pushed, _) = broadcast::channel(capacity);
        let config = ControlConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            me: id(ME),
            verifier,
            chain,
            key,
        };
        let server = ControlServer::start(config, calls_tx, pushed.clone()).unwrap();
        let addr = server.local_addr();
        let driver_pushed = pushed.clone();
        tokio::spawn(async move {
            while let Some(call) = calls.recv().await {
                if let Some(response) = answer(&call, &driver_pushed) {
                    let _ = call.reply.send(response);
                }
            }
        });
        Harness {
            fed,
            server,
            addr,
            pushed,
        }
    }

    async fn client(&self, name: &str) -> ControlClient {
        let (chain, key) = parts(&self.fed.operator(ME, name, Role::Leader));
        within(
            "connect",
            ControlClient::connect(self.addr, self.fed.ca_der(), chain, key),
        )
        .await
        .unwrap()
    }
}

/// Dials without ControlClient's own checks, naming `dial` as the server,
/// and returns how the node ended the connection.
async fn raw_refusal(addr: SocketAddr, ca: CertificateDer<'static>, cert: &IssuedCert, dial: &str) -> ConnectionError {
    let verifier = Arc::new(Verifier::new(ca, Revocations::default()).unwrap());
    let (chain, key) = parts(cert);
    let mut tls = (*liandong_certs::client_config(verifier, chain, key).unwrap()).clone();
    tls.alpn_protocols = vec![CONTROL_ALPN.to_vec()];
    let config = quinn::ClientConfig::new(Arc::new(QuicClientConfig::try_from(tls).unwrap()));
    let endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    let connection = within(
        "handshake",
        endpoint
            .connect_with(config, addr, &server_name_for(&id(dial)).to_str())
            .unwrap(),
    )
    .await
    .expect("the handshake itself succeeds");
    within("the node closing", connection.accept_uni())
        .await
        .expect_err("the node must not welcome this certificate")
}

fn refusal_reason(e: ConnectionError) -> String {
    match e {
        ConnectionError::ApplicationClosed(c) => {
            assert_eq!(c.error_code, VarInt::from_u32(close::REFUSED));
            String::from_utf8(c.reason.to_vec()).unwrap()
        }
        other => panic!("expected an application close, got {other:?}"),
    }
}

#[tokio::test]
async fn a_call_round_trips_with_the_operator_from_the_certificate() {
    let h = Harness::start(16, canned()).await;
    let client = h.client("张伟").await;
    assert_eq!(client.operator().name, "张伟");
    assert_eq!(client.operator().role, Role::Leader);

    let report = Request::Act(Act::Report {
        severity: Severity::III,
        category: Category::Fire,
        title: "仓库冒烟".into(),
        detail: String::new(),
        place: "仓山区".into(),
        mode: Mode::Actual,
    });
    match within("report", client.call(report)).await.unwrap() {
        Response::Done { id, what } => {
            assert_eq!(id, EnvelopeId(0x3f2a_9c0e_1b7d_4a5e_8f00_1122_3344_5566));
            assert_eq!(what, "仓库冒烟 reported by 张伟 (leader) at 350100");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        within("status", client.call(Request::Query(Query::Status)))
            .await
            .unwrap(),
        Response::Status(status())
    );
    // A refusal is an answer, not a transport error.
    let refused = within(
        "accept",
        client.call(Request::Act(Act::Accept {
            incident: IdRef("ffff".into()),
        })),
    )
    .await
    .unwrap();
    assert_eq!(
        refused,
        Response::Refused {
            reason: "no incident here matches \"ffff\"".into()
        }
    );
    // Several requests in flight at once on one connection.
    let (a, b) = tokio::join!(
        client.call(Request::Query(Query::Status)),
        client.call(Request::Query(Query::Incidents { closed: false }))
    );
    assert!(matches!(a.unwrap(), Response::Status(_)));
    assert!(matches!(b.unwrap(), Response::Incidents(list) if list.len() == 1));
    client.close().await;
    h.server.shutdown().await;
}

#[tokio::test]
async fn a_subscriber_gets_the_snapshot_then_every_change_in_order() {
    let h = Harness::start(16, canned()).await;
    let client = h.client("张伟").await;
    let mut sub = within("subscribe", client.subscribe()).await.unwrap();
    assert_eq!(within("snapshot", sub.next()).await.unwrap().unwrap(), snapshot());
    // subscribe() returned after the node registered the subscription:
    // nothing sent from now on can be missed.
    for n in 1..=5 {
        h.pushed.send(pushed(n)).unwrap();
    }
    for n in 1..=5 {
        let item = within("pushed", sub.next()).await.unwrap().unwrap();
        assert_eq!(item, Response::Pushed(pushed(n)));
    }
    // Other calls still work beside the subscription.
    assert!(matches!(
        within("status", client.call(Request::Query(Query::Status)))
            .await
            .unwrap(),
        Response::Status(_)
    ));
    drop(sub);
    client.close().await;
    h.server.shutdown().await;
}

#[tokio::test]
async fn a_subscriber_that_falls_behind_is_told_how_much_it_missed() {
    // Capacity 4; the driver pushes 10 changes after the server subscribed
    // and before it answers with the snapshot, so the subscriber is 6 behind
    // before it reads anything.
    let answer: Answer = Arc::new(|call, pushed_tx| {
        if call.request == Request::Query(Query::Subscribe) {
            for n in 1..=10 {
                pushed_tx.send(pushed(n)).unwrap();
            }
        }
        canned()(call, pushed_tx)
    });
    let h = Harness::start(4, answer).await;
    let client = h.client("张伟").await;
    let mut sub = within("subscribe", client.subscribe()).await.unwrap();
    assert_eq!(within("snapshot", sub.next()).await.unwrap().unwrap(), snapshot());
    match within("lagged", sub.next()).await.unwrap().unwrap() {
        Response::Pushed(Pushed {
            notice: Notice::Lagged { missed },
            ..
        }) => assert_eq!(missed, 6),
        other => panic!("expected Lagged, got {other:?}"),
    }
    for n in 7..=10 {
        assert_eq!(
            within("pushed", sub.next()).await.unwrap().unwrap(),
            Response::Pushed(pushed(n))
        );
    }
    h.server.shutdown().await;
}

#[tokio::test]
async fn an_operator_of_another_center_is_refused_with_the_reason() {
    let h = Harness::start(16, canned()).await;
    let other = h.fed.operator(OTHER, "李娜", Role::Operator);

    // Through ControlClient: it dials its own node (350102), and the node
    // at this address is 350100, so the client refuses it in the handshake.
    let (chain, key) = parts(&other);
    let err = within("connect", ControlClient::connect(h.addr, h.fed.ca_der(), chain, key))
        .await
        .unwrap_err();
    assert!(matches!(err, ControlError::Handshake { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("dialed node 350102") && text.contains("350100"), "{text}");

    // A client that dials this node by name anyway is refused by the node.
    let reason = refusal_reason(raw_refusal(h.addr, h.fed.ca_der(), &other, ME).await);
    assert_eq!(
        reason,
        "operator 李娜 works at 350102; this node is 350100: use the console of node 350102"
    );
    h.server.shutdown().await;
}

#[tokio::test]
async fn a_node_certificate_is_refused() {
    let h = Harness::start(16, canned()).await;
    let node = h.fed.node(OTHER);

    // ControlClient refuses it before dialing, naming what it is.
    let (chain, key) = parts(&node);
    let err = ControlClient::connect(h.addr, h.fed.ca_der(), chain, key)
        .await
        .unwrap_err();
    assert!(matches!(err, ControlError::NotAnOperator { .. }), "{err}");
    assert!(err.to_string().contains("node 350102"), "{err}");

    // The node refuses it too.
    let reason = refusal_reason(raw_refusal(h.addr, h.fed.ca_der(), &node, ME).await);
    assert_eq!(
        reason,
        "350102 presented a node certificate; the control API of node 350100 serves only its operators"
    );
    h.server.shutdown().await;
}

#[tokio::test]
async fn an_operator_certificate_from_another_ca_is_refused_in_the_handshake() {
    let h = Harness::start(16, canned()).await;
    let foreign = Federation::new("冒名");
    let (chain, key) = parts(&foreign.operator(ME, "张伟", Role::Leader));
    let err = within("connect", ControlClient::connect(h.addr, h.fed.ca_der(), chain, key))
        .await
        .unwrap_err();
    assert!(matches!(err, ControlError::Refused { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("not issued by this federation's CA"), "{text}");
    h.server.shutdown().await;
}

#[tokio::test]
async fn an_oversized_or_undecodable_request_is_refused_and_the_connection_goes_on() {
    let h = Harness::start(16, canned()).await;
    let client = h.client("张伟").await;

    let huge = Request::Act(Act::Note {
        incident: IdRef("3f2a".into()),
        text: "x".repeat(300 * 1024),
    });
    match within("oversized", client.call(huge)).await.unwrap() {
        Response::Refused { reason } => {
            assert!(reason.contains("over the 262144-byte limit"), "{reason}");
        }
        other => panic!("{other:?}"),
    }

    // Garbage of an acceptable length, written by hand.
    let (mut send, mut recv) = client.connection().open_bi().await.unwrap();
    send.write_all(&[0, 0, 0, 3, 0xff, 0xff, 0xff]).await.unwrap();
    send.finish().unwrap();
    match within("undecodable", frame::read::<Response, MAX_RESPONSE>(&mut recv))
        .await
        .unwrap()
    {
        Some(Response::Refused { reason }) => {
            assert!(
                reason.starts_with("the request cannot be read: malformed message"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }

    assert!(matches!(
        within("status", client.call(Request::Query(Query::Status)))
            .await
            .unwrap(),
        Response::Status(_)
    ));
    h.server.shutdown().await;
}

#[tokio::test]
async fn a_driver_that_drops_the_reply_or_is_gone_means_shutting_down() {
    let h = Harness::start(16, Arc::new(|_: &Call, _: &broadcast::Sender<Pushed>| None)).await;
    let client = h.client("张伟").await;
    assert_eq!(
        within("status", client.call(Request::Query(Query::Status)))
            .await
            .unwrap(),
        Response::Refused {
            reason: "the node is shutting down".into()
        }
    );
    let err = within("subscribe", client.subscribe()).await.unwrap_err();
    assert!(err.to_string().ends_with("the node is shutting down"), "{err}");
    h.server.shutdown().await;
}

#[tokio::test]
async fn shutting_down_ends_subscriptions_and_tells_clients_why() {
    let h = Harness::start(16, canned()).await;
    let client = h.client("张伟").await;
    let mut sub = within("subscribe", client.subscribe()).await.unwrap();
    assert!(matches!(
        within("snapshot", sub.next()).await,
        Some(Ok(Response::Snapshot { .. }))
    ));
    within("shutdown", h.server.shutdown()).await;
    match within("end", sub.next()).await {
        Some(Err(e)) => assert!(e.to_string().contains("the node is shutting down"), "{e}"),
        None => {}
        Some(Ok(other)) => panic!("{other:?}"),
    }
    let err = within("call", client.call(Request::Query(Query::Status)))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("the node is shutting down"), "{err}");
}
