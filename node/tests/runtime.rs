//! The node runtime with real parts: nodes of the demo federation in this
//! process (real QUIC and TLS on loopback, real SQLite files).

#[path = "common/demo_kit.rs"]
mod demo_kit;

use demo_kit::{demo, id};
use liandong_control::{Act, Query};
use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::time::Duration;

use liandong_certs::time::OffsetDateTime;
use liandong_certs::{CaDir, FederationCa, Role, Serial, Validity, issue_operator_into, load_certificates};
use liandong_control::ControlClient;
use liandong_control::proto::{NodeStatus, Notice, Pushed, Request, Response};
use liandong_dispatch::EnvelopeId;
use liandong_dispatch::wire::{Category, Mode};
use liandong_node::local::{LOCAL_VALIDITY_DAYS, LocalFederation, operator};
use liandong_topology::{NodeId, Severity};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::broadcast;

const WAIT: Duration = Duration::from_secs(30);

fn report(n: usize) -> Request {
    Request::Act(Act::Report {
        severity: Severity::III,
        category: Category::Hazard,
        title: format!("隐患排查 第{n}条"),
        detail: "楼道堆放杂物，堵塞消防通道".repeat(8),
        place: "鼓东街道五一社区".into(),
        mode: Mode::Actual,
    })
}

async fn file(fed: &LocalFederation, at: &NodeId, n: usize) -> Response {
    fed.node(at)
        .unwrap()
        .call(operator(at, "网格员", Role::Operator), report(n))
        .await
}

/// Waits for a pushed notice `want` accepts.
async fn wait_for(sub: &mut broadcast::Receiver<Pushed>, what: &str, mut want: impl FnMut(&Notice) -> bool) -> Notice {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match tokio::time::timeout_at(deadline, sub.recv()).await {
            Ok(Ok(p)) if want(&p.notice) => return p.notice,
            Ok(Ok(_)) | Ok(Err(broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Err(e)) => panic!("subscription ended waiting for {what}: {e}"),
            Err(_) => panic!("no {what} within {WAIT:?}"),
        }
    }
}

async fn known(fed: &LocalFederation, at: &NodeId, incident: EnvelopeId) -> bool {
    let r = fed
        .node(at)
        .unwrap()
        .call(
            operator(at, "值班员", Role::Operator),
            Request::Query(Query::Incident {
                id: liandong_control::proto::IdRef(format!("{:032x}", incident.0)),
            }),
        )
        .await;
    matches!(r, Response::Incident(_))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_at_the_city_refuses_new_work_and_loses_nothing_already_acked() {
    let dir = tempfile::tempdir().unwrap();
    let mut fed = demo(dir.path(), Ipv4Addr::new(127, 0, 14, 1));
    let (city, county, town, village) = (id("350100"), id("350102"), id("350102001"), id("350102001001"));
    // A real SQLITE_FULL at a small size: the city's file may not grow past 48 pages.
    fed.start_with(&city, |c| c.store_options.max_pages = Some(48))
        .await
        .unwrap();
    for n in [&county, &town, &village] {
        fed.start(n).await.unwrap();
    }
    let mut at_city = fed.node(&city).unwrap().subscribe();

    // File until the city's store is full. Every report is acked at the
    // village (stored there) whatever happens above it.
    let mut filed: Vec<EnvelopeId> = Vec::new();
    let mut full = None;
    // Reports the city said it recorded, so the filing waits only while
    // the relay is behind (never for a notice that already came).
    let mut recorded = 0usize;
    let heard = |notice: Notice, full: &mut Option<String>, recorded: &mut usize| match notice {
        Notice::Storage { problem: Some(reason) } => *full = Some(reason),
        Notice::IncidentRecorded { .. } => *recorded += 1,
        _ => {}
    };
    for n in 0..2000 {
        match file(&fed, &village, n).await {
            Response::Done { id, .. } => filed.push(id),
            other => panic!("the village refused: {other:?}"),
        }
        while let Ok(p) = at_city.try_recv() {
            heard(p.notice, &mut full, &mut recorded);
        }
        if full.is_some() {
            break;
        }
        if n % 50 == 49 {
            // Let the relay catch up before filing more: while the city is
            // 50 or more behind, wait for its next word.
            while full.is_none() && recorded + 50 <= filed.len() {
                let notice = wait_for(&mut at_city, "reports at the city", |n| {
                    matches!(n, Notice::IncidentRecorded { .. } | Notice::Storage { .. })
                })
                .await;
                heard(notice, &mut full, &mut recorded);
            }
            if full.is_some() {
                break;
            }
        }
    }
    let full = match full {
        Some(reason) => reason,
        None => match wait_for(&mut at_city, "the city's store to fill", |n| {
            matches!(n, Notice::Storage { problem: Some(_) })
        })
        .await
        {
            Notice::Storage { problem: Some(reason) } => reason,
            _ => unreachable!(),
        },
    };
    assert!(full.contains("full"), "the reason names the full disk: {full}");

    // The city says so, refuses new work, and still answers questions.
    let city_op = operator(&city, "值班员", Role::Operator);
    let Response::Status(status) = fed
        .node(&city)
        .unwrap()
        .call(city_op.clone(), Request::Query(Query::Status))
        .await
    else {
        panic!("no status");
    };
    assert!(
        status.storage_problem.as_deref().is_some_and(|p| p.contains("full")),
        "{status:?}"
    );
    match fed.node(&city).unwrap().call(city_op.clone(), report(9999)).await {
        Response::Refused { reason } => {
            assert!(reason.contains("not stored") && reason.contains("full"), "{reason}")
        }
        other => panic!("a full city took new work: {other:?}"),
    }

    // Below it, work goes on: the village, township and county keep taking reports.
    for n in 0..5 {
        match file(&fed, &village, 5000 + n).await {
            Response::Done { id, .. } => filed.push(id),
            other => panic!("the village refused: {other:?}"),
        }
    }

    // The city restarts with room; everything acked on the way reaches it.
    fed.stop(&city).await;
    fed.start(&city).await.unwrap();
    let mut at_city = fed.node(&city).unwrap().subscribe();
    let wanted: BTreeSet<EnvelopeId> = filed.iter().copied().collect();
    let mut there = BTreeSet::new();
    loop {
        for i in &wanted {
            if !there.contains(i) && known(&fed, &city, *i).await {
                there.insert(*i);
            }
        }
        if there == wanted {
            break;
        }
        wait_for(&mut at_city, "the backlog at the city", |n| {
            matches!(n, Notice::IncidentRecorded { .. })
        })
        .await;
    }
    for i in &wanted {
        assert!(known(&fed, &county, *i).await, "{i} missing at the county");
    }
    fed.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_served_in_the_prometheus_format() {
    let dir = tempfile::tempdir().unwrap();
    let mut fed = demo(dir.path(), Ipv4Addr::new(127, 0, 15, 1));
    let (city, county) = (id("350100"), id("350102"));
    fed.start_with(&city, |c| c.metrics = Some("127.0.15.1:0".parse().unwrap()))
        .await
        .unwrap();
    fed.start(&county).await.unwrap();
    let mut at_city = fed.node(&city).unwrap().subscribe();
    let Response::Done { id: incident, .. } = file(&fed, &county, 1).await else {
        panic!("refused");
    };
    wait_for(
        &mut at_city,
        "the report at the city",
        |n| matches!(n, Notice::IncidentRecorded { incident: i, .. } if i.id == incident),
    )
    .await;

    // Consoles read the topology from their node.
    let Response::Topology(text) = fed
        .node(&city)
        .unwrap()
        .call(
            operator(&city, "值班员", Role::Operator),
            Request::Query(Query::Topology),
        )
        .await
    else {
        panic!("no topology");
    };
    let topology = liandong_topology::Topology::parse(&text, None).expect("the node's topology parses");
    assert_eq!(topology.len(), 17);

    let addr = fed.node(&city).unwrap().metrics_addr().expect("metrics bound");
    let text = scrape(addr).await;
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    for metric in [
        "liandong_link_up{node=\"350100\",peer=\"350102\"} 1",
        "liandong_queue_depth{node=\"350100\",peer=\"350102\"}",
        "liandong_commit_seconds_bucket{node=\"350100\"",
        "liandong_hop_latency_seconds_bucket{node=\"350100\",kind=\"report\"",
        "liandong_envelopes_stored_total{node=\"350100\",kind=\"report\"}",
        // The local federation's certificates last a year from a moment ago.
        "liandong_certificate_expiry_days{node=\"350100\"} 364",
    ] {
        assert!(text.contains(metric), "no {metric} in:\n{text}");
    }

    // An operator's status over the control API shows the node's own
    // certificate: the serial in its file, and the days it has left.
    let status = status_over_the_control_api(&fed, &city).await;
    let certificate = status.certificate.expect("the status shows the certificate");
    assert_eq!(certificate.serial, serial_in_file(&fed, &city));
    assert_eq!(certificate.days_left, i64::from(LOCAL_VALIDITY_DAYS) - 1);
    assert!(!certificate.renew_due(), "{certificate:?}");
    fed.shutdown().await;
}

/// The status as `liandong status` gets it: over QUIC with an operator
/// certificate issued here.
async fn status_over_the_control_api(fed: &LocalFederation, at: &NodeId) -> NodeStatus {
    let ca = FederationCa::load(fed.certs()).unwrap();
    let validity = Validity::days_from(OffsetDateTime::now_utc(), 30);
    let (_, cert, key) = issue_operator_into(fed.certs(), &ca, at, "值班员", Role::Operator, validity).unwrap();
    let addr = fed.node(at).unwrap().control_addr();
    let ca_pem = CaDir::new(fed.certs()).ca_cert();
    let client = tokio::time::timeout(WAIT, ControlClient::connect_with_files(addr, &ca_pem, &cert, &key))
        .await
        .expect("connected in time")
        .expect("connected");
    match tokio::time::timeout(WAIT, client.call(Request::Query(Query::Status)))
        .await
        .expect("answered in time")
    {
        Ok(Response::Status(status)) => status,
        other => panic!("no status: {other:?}"),
    }
}

fn serial_in_file(fed: &LocalFederation, id: &NodeId) -> String {
    let chain = load_certificates(&CaDir::new(fed.certs()).node_cert(id)).unwrap();
    Serial::of_certificate(&chain[0]).unwrap().to_string()
}

/// A county whose certificate has 12 days left (a little under: issued a
/// moment ago) says so in its status and its gauge, with renewal due.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_near_expiry_shows_its_days_left_and_is_due_for_renewal() {
    let dir = tempfile::tempdir().unwrap();
    let mut fed = demo(dir.path(), Ipv4Addr::new(127, 0, 17, 1));
    let county = id("350102");
    let layout = CaDir::new(fed.certs());
    let ca = FederationCa::load(fed.certs()).unwrap();
    ca.issue_node(&county, "鼓楼区", Validity::days_from(OffsetDateTime::now_utc(), 12))
        .unwrap()
        .write_replacing(&layout.node_cert(&county), &layout.node_key(&county))
        .unwrap();
    fed.start_with(&county, |c| c.metrics = Some("127.0.17.1:0".parse().unwrap()))
        .await
        .unwrap();

    let status = status_over_the_control_api(&fed, &county).await;
    let certificate = status.certificate.expect("the status shows the certificate");
    assert_eq!(certificate.serial, serial_in_file(&fed, &county));
    assert_eq!(certificate.days_left, 11);
    assert!(certificate.renew_due() && !certificate.expired(), "{certificate:?}");

    let addr = fed.node(&county).unwrap().metrics_addr().expect("metrics bound");
    let text = scrape(addr).await;
    let gauge = "liandong_certificate_expiry_days{node=\"350102\"} 11";
    assert!(text.contains(gauge), "no {gauge} in:\n{text}");
    fed.shutdown().await;
}

async fn scrape(addr: std::net::SocketAddr) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut text = String::new();
    tokio::time::timeout(WAIT, stream.read_to_string(&mut text))
        .await
        .unwrap()
        .unwrap();
    text
}

/// The key path end to end: a township started before its village's
/// certificate was in the federation directory holds no key for it. The
/// village's first envelope is neither stored nor acked; the core asks for
/// the key, the node reads the (now present) certificate off the core's
/// path, and the village's retry is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_missing_at_start_is_learned_from_the_link_or_when_its_first_envelope_comes() {
    use liandong_node::store::{Durable, StoreLocation, StoreOptions};

    let dir = tempfile::tempdir().unwrap();
    let mut fed = demo(dir.path(), Ipv4Addr::new(127, 0, 16, 1));
    let (town, village) = (id("350102001"), id("350102001001"));
    let cert = fed.certs().join("nodes").join(village.as_str()).join("node.pem");
    let aside = dir.path().join("village-node.pem");
    std::fs::rename(&cert, &aside).unwrap();
    fed.start(&town).await.unwrap();
    std::fs::rename(&aside, &cert).unwrap();
    fed.start(&village).await.unwrap();

    let incident = match file(&fed, &village, 1).await {
        Response::Done { id, .. } => id,
        other => panic!("the village refused: {other:?}"),
    };
    // Wait for the township to record it: check, then wait for its next
    // notice (at most a short while, in case the notice came before the
    // subscription), until the deadline.
    let mut at_town = fed.node(&town).unwrap().subscribe();
    let deadline = tokio::time::Instant::now() + WAIT;
    while !known(&fed, &town, incident).await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the report never reached the township"
        );
        let _ = tokio::time::timeout(Duration::from_millis(200), at_town.recv()).await;
    }
    fed.stop(&town).await;

    let store = Durable::open(
        &StoreLocation::choose(None, &fed.data_dir(&town)).unwrap(),
        &town,
        StoreOptions::default(),
    )
    .await
    .unwrap()
    .load()
    .await
    .unwrap();
    let audit: Vec<&str> = store.audit.iter().map(|a| a.what.as_str()).collect();
    // The key comes with the village's link (its certificate, checked in
    // the handshake), usually before the report; if the report came
    // first, it waited for the key and its retry was stored.
    let learned = audit
        .iter()
        .position(|a| a.contains(&format!("learned the key of {village}")))
        .unwrap_or_else(|| panic!("the key was not learned: {audit:?}"));
    if let Some(waited) = audit
        .iter()
        .position(|a| a.contains(&format!("waits for the key of {village}")))
    {
        assert!(waited < learned, "{audit:?}");
    }
    assert!(store.envelopes.contains_key(&incident), "the retry is stored");
    fed.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_holding_only_their_own_certificate_learn_the_rest_and_a_report_climbs_to_the_city() {
    use liandong_node::runtime::CertPaths;
    use liandong_node::store::{Durable, StoreLocation, StoreOptions};

    let dir = tempfile::tempdir().unwrap();
    let mut fed = demo(dir.path(), Ipv4Addr::new(127, 0, 16, 5));
    let chain = [id("350100"), id("350102"), id("350102001"), id("350102001001")];
    // Each machine holds its own key and certificate and the CA's: no
    // directory of other nodes' certificates.
    for node in &chain {
        let own = fed.certs().join("nodes").join(node.as_str());
        let machine = dir.path().join("machines").join(node.as_str());
        let certs = machine.join("certs");
        std::fs::create_dir_all(&certs).unwrap();
        for f in ["node.pem", "node.key"] {
            let to = certs.join(f);
            std::fs::copy(own.join(f), &to).unwrap();
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600)).unwrap();
            }
        }
        std::fs::copy(fed.certs().join("ca.pem"), certs.join("ca.pem")).unwrap();
        let paths = CertPaths {
            cert: certs.join("node.pem"),
            key: certs.join("node.key"),
            ca: certs.join("ca.pem"),
            revoked: None,
            peers: machine.clone(),
        };
        fed.start_with(node, |c| c.certs = paths).await.unwrap();
    }
    let (city, county, village) = (&chain[0], &chain[1], &chain[3]);
    let mut at_city = fed.node(city).unwrap().subscribe();
    let request = Request::Act(Act::Report {
        severity: Severity::I,
        category: Category::Flood,
        title: "山洪暴发".into(),
        detail: "村口河道漫堤".into(),
        place: "山区村".into(),
        mode: Mode::Actual,
    });
    let incident = match fed
        .node(village)
        .unwrap()
        .call(operator(village, "网格员", Role::Operator), request)
        .await
    {
        Response::Done { id, .. } => id,
        other => panic!("the village refused: {other:?}"),
    };
    wait_for(
        &mut at_city,
        "the report at the city",
        |n| matches!(n, Notice::IncidentRecorded { incident: i, .. } if i.id == incident),
    )
    .await;
    for node in &chain {
        assert!(known(&fed, node, incident).await, "{node} does not hold it");
    }
    // The county is not the village's neighbour: it asked the township for
    // the village's certificate and kept it.
    fed.stop(county).await;
    let store = Durable::open(
        &StoreLocation::choose(None, &fed.data_dir(county)).unwrap(),
        county,
        StoreOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(store.certificates(village).await.unwrap().len(), 1);
    let audit: Vec<String> = store
        .load()
        .await
        .unwrap()
        .audit
        .iter()
        .map(|a| a.what.clone())
        .collect();
    assert!(
        audit
            .iter()
            .any(|a| a.contains(&format!("learned the key of {village}"))),
        "{audit:?}"
    );
    store.close().await;
    fed.shutdown().await;
}
