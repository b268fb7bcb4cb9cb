//! A center enrolled by request runs among centers from `certs init`, and
//! a federation admin's certificate gets nowhere on a node. Real
//! `liandong node run` processes on loopback, real QUIC and TLS; the
//! township's key and its operator's key are made by `liandong certs
//! request` and never pass through the CA, which only runs `certs sign`.

mod federation;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use federation::{Federation, file_report, id, subscribe, wait_for};
use liandong_certs::{Revocations, Verifier, load_certificates, load_private_key};
use liandong_control::proto::Notice;
use liandong_control::{CONTROL_ALPN, ControlClient};
use liandong_topology::{NodeId, Severity};

const IP: Ipv4Addr = Ipv4Addr::new(127, 0, 13, 1);
const WAIT: Duration = Duration::from_secs(30);

fn liandong(args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_liandong"))
        .args(args)
        .output()
        .expect("run liandong");
    assert!(
        out.status.success(),
        "liandong {args:?}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn arg(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// Dials `target`'s `addr` presenting `cert` and `key`, offering `alpn`.
/// The node refuses a bad client certificate after TLS 1.3 lets the client
/// finish, so a refusal shows as the connection closing.
async fn dial_as(
    fed: &Federation,
    cert: &Path,
    key: &Path,
    target: &NodeId,
    addr: SocketAddr,
    alpn: &[u8],
) -> Result<quinn::Connection, String> {
    let verifier = Arc::new(Verifier::from_ca_file(&fed.certs.join("ca.pem"), Revocations::default()).expect("ca"));
    let chain = load_certificates(cert).expect("cert");
    let key = load_private_key(key).expect("key");
    let mut tls = (*liandong_certs::tls::client_config(verifier, chain, key).expect("tls")).clone();
    tls.alpn_protocols = vec![alpn.to_vec()];
    let quic = quinn::crypto::rustls::QuicClientConfig::try_from(tls).expect("quic tls");
    let mut endpoint = quinn::Endpoint::client(SocketAddr::new(IP.into(), 0)).expect("client endpoint");
    endpoint.set_default_client_config(quinn::ClientConfig::new(Arc::new(quic)));
    let connecting = endpoint
        .connect(addr, &format!("{target}.node.liandong"))
        .map_err(|e| e.to_string())?;
    connecting.await.map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_requested_node_links_files_a_signed_report_and_an_admin_is_refused_everywhere() {
    let mut fed = Federation::demo(IP);
    let (county, town, village) = (id("350102"), id("350102001"), id("350102001001"));

    // The township enrols by request: `certs init` made it a key at the CA,
    // which this rollout does not want; it makes its own.
    let own = fed.certs.join("nodes").join(town.as_str());
    std::fs::remove_file(own.join("node.pem")).unwrap();
    std::fs::remove_file(own.join("node.key")).unwrap();
    let init_key = std::fs::read(fed.certs.join("nodes/350102/node.key")).unwrap();
    liandong(&["certs", "request", "--node", town.as_str(), "--out", arg(&own)]);
    let people = fed.path().join("township-people");
    liandong(&[
        "certs",
        "request",
        "--operator",
        "--node",
        town.as_str(),
        "--name",
        "值班员",
        "--role",
        "operator",
        "--out",
        arg(&people),
    ]);
    let topology = fed.topology_file.clone();
    for requests in [&own, &people] {
        liandong(&[
            "certs",
            "sign",
            "--ca",
            arg(&fed.certs),
            "--topology",
            arg(&topology),
            arg(requests),
        ]);
    }
    assert_ne!(
        std::fs::read(own.join("node.key")).unwrap(),
        init_key,
        "the township's key is its own"
    );

    // It links up with a county above and a village below, both from `certs init`.
    for n in [&county, &town, &village] {
        fed.start(n);
    }
    fed.wait_log(&town, "link up peer=350102", 1, WAIT);
    fed.wait_log(&village, "link up peer=350102001", 1, WAIT);

    // Its operator (key also made by request) files a report there; the
    // county, the owner of a severity IV report, takes it: the envelope's
    // origin signature by the township's requested key checks out there.
    let operator = ControlClient::connect_with_files(
        fed.control_addr(&town),
        &people.join("ca.pem"),
        &people.join("值班员.pem"),
        &people.join("值班员.key"),
    )
    .await
    .expect("the enrolled operator connects");
    let mut seen = subscribe(&operator).await;
    let incident = file_report(&operator, Severity::IV, "鼓东街道：井盖缺失").await;
    wait_for(&mut seen, "the county's receipt", |n| {
        matches!(n, Notice::IncidentChanged { incident: i, action, by } if i.id == incident && action == "received" && *by == county)
    })
    .await;

    // A federation admin's certificate, valid and from this CA, is refused
    // on the node port and on the control port, and the node says why.
    liandong(&["certs", "issue-admin", "--ca", arg(&fed.certs), "--name", "陈静"]);
    let (cert, key) = (fed.certs.join("admins/陈静.pem"), fed.certs.join("admins/陈静.key"));
    let link = fed.topology.get(&town).expect("town").listen;
    if let Ok(conn) = dial_as(&fed, &cert, &key, &town, link, liandong_certs::ALPN).await {
        assert!(conn.accept_uni().await.is_err(), "an admin got a link");
    }
    let line = fed.wait_log(&town, "federation admin 陈静", 1, WAIT);
    assert!(line.contains("never accepted on a connection"), "{line}");
    if let Ok(conn) = dial_as(&fed, &cert, &key, &town, fed.control_addr(&town), CONTROL_ALPN).await {
        assert!(conn.accept_uni().await.is_err(), "an admin got the control API");
    }
    let line = fed.wait_log(&town, "refused a control connection", 1, WAIT);
    assert!(line.contains("federation admin 陈静"), "{line}");
    fed.stop_all();
}
