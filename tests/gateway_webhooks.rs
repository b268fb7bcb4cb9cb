//! Webhooks end to end: a real `liandong node run` (the county of the
//! demo federation, its gateway on loopback, the city beside it) with a
//! subscription from `liandong gateway webhook add`, and a receiver on
//! loopback inside the test (plain HTTP/1.1 over a TCP socket) that
//! checks every signature with the secret `add` printed, using ring's
//! HMAC on its own, not the node's code.
//!
//! - The receiver fails its first 3 deliveries (500; the node is killed
//!   while the 3rd is held unanswered), then accepts: after the restart
//!   every event arrives, each id accepted once, none lost, and the
//!   status counts them delivered.
//! - A receiver that is never there: with `--expire-after 3` the delivery
//!   is dead-lettered within seconds and `liandong status` shows it.

mod common;
mod federation;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use federation::{Federation, WAIT, file_report, hex, id};
use liandong_control::proto::{Act, GatewayStatus, IdRef, Query, Request, Response};
use liandong_dispatch::EnvelopeId;
use liandong_dispatch::wire::{Mode, Targets};
use liandong_node::store::DeliveryState;
use liandong_topology::Severity;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, oneshot};

const CITY: &str = "350100";
const COUNTY: &str = "350102";
const GATEWAY_PORT: u16 = 8443;

fn start_county(fed: &mut Federation, ip: Ipv4Addr, cert: &Path, key: &Path) {
    fed.start_gateway(&id(COUNTY), SocketAddr::new(ip.into(), GATEWAY_PORT), cert, key);
}

/// `liandong gateway ARGS --data <county's data>`: its stdout, checked.
fn gateway_cli(fed: &Federation, args: &[&str]) -> String {
    let data = fed.data_dir(&id(COUNTY));
    let mut all = vec!["gateway"];
    all.extend_from_slice(args);
    all.extend(["--data", common::arg(&data)]);
    let out = common::liandong(&all);
    assert!(out.status.success(), "{all:?}: {}", common::stderr(&out));
    common::stdout(&out)
}

/// Subscribes `url` to every event, expiring after `expire` seconds: (id, secret).
fn subscribe(fed: &Federation, url: &str, expire: u64) -> (String, String) {
    let expire = expire.to_string();
    let out = gateway_cli(
        fed,
        &[
            "webhook",
            "add",
            "--name",
            "公安系统",
            "--url",
            url,
            "--events",
            "incident,order,stage,supervision",
            "--expire-after",
            &expire,
        ],
    );
    let mut words = out.split_whitespace();
    let (Some(sub), Some(secret)) = (words.next(), words.next()) else {
        panic!("webhook add printed {out:?}");
    };
    assert!(secret.starts_with("whsec_"), "{out}");
    (sub.to_owned(), secret.to_owned())
}

/// One request the receiver took.
#[derive(Debug, Clone)]
struct Delivery {
    event: String,
    body: serde_json::Value,
    signed: bool,
    /// What the receiver answered (500 or 200).
    answered: u16,
}

/// What the receiver has seen, and a signal on every change.
#[derive(Default)]
struct Seen {
    deliveries: Mutex<Vec<Delivery>>,
    changed: Notify,
}

impl Seen {
    /// Waits until `done` holds for what was seen, within [`WAIT`].
    async fn wait(&self, what: &str, done: impl Fn(&[Delivery]) -> bool) -> Vec<Delivery> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let changed = self.changed.notified();
            {
                let all = self.deliveries.lock().unwrap();
                if done(&all) {
                    return all.clone();
                }
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                let all = self.deliveries.lock().unwrap();
                panic!("the receiver never saw {what}; it saw {all:#?}");
            }
        }
    }
}

/// A webhook receiver on `addr`, one connection at a time: it answers 500
/// to the first `failing` requests and 200 after. The `hold`-th request
/// (1-based) is held unanswered until `release` fires; then it is
/// answered, and the listener is closed and bound again, so connections
/// waiting in its backlog (from a node killed meanwhile) are dropped
/// unread.
async fn receiver(
    listener: TcpListener,
    secret: String,
    failing: usize,
    hold: Option<(usize, oneshot::Receiver<()>, oneshot::Sender<()>)>,
    seen: Arc<Seen>,
) {
    let addr = listener.local_addr().expect("receiver address");
    let mut listener = Some(listener);
    let mut hold = hold;
    let mut n = 0;
    loop {
        let Some(l) = listener.as_ref() else { return };
        let Ok((mut stream, _)) = l.accept().await else { return };
        n += 1;
        let Some((headers, body)) = read_request(&mut stream).await else {
            continue;
        };
        let answered = if n <= failing { 500 } else { 200 };
        let header = |name: &str| headers.get(&name.to_ascii_lowercase()).cloned().unwrap_or_default();
        let timestamp: u64 = header("Liandong-Timestamp").parse().unwrap_or(0);
        let mut signed_bytes = format!("{timestamp}.").into_bytes();
        signed_bytes.extend_from_slice(&body);
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
        let signature = header("Liandong-Signature");
        let signed = signature
            .strip_prefix("sha256=")
            .and_then(unhex)
            .is_some_and(|tag| ring::hmac::verify(&key, &signed_bytes, &tag).is_ok());
        let held = hold.as_ref().is_some_and(|(at, _, _)| *at == n);
        let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
        seen.deliveries.lock().unwrap().push(Delivery {
            event: header("Liandong-Event-Id"),
            body: json,
            signed,
            answered,
        });
        seen.changed.notify_waiters();
        if held && let Some((_, release, rebound)) = hold.take() {
            let _ = release.await;
            let _ = answer(&mut stream, answered).await;
            drop(stream);
            drop(listener.take());
            listener = Some(TcpListener::bind(addr).await.expect("bind the receiver again"));
            let _ = rebound.send(());
            continue;
        }
        let _ = answer(&mut stream, answered).await;
    }
}

/// The headers (lower-case names) and body of one HTTP/1.1 request.
async fn read_request(stream: &mut TcpStream) -> Option<(BTreeMap<String, String>, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        if buf.len() > 64 * 1024 {
            return None;
        }
        let n = tokio::time::timeout(WAIT, stream.read(&mut chunk)).await.ok()?.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let headers: BTreeMap<String, String> = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers.get("content-length")?.parse().ok()?;
    let mut body = buf[end + 4..].to_vec();
    while body.len() < length {
        let n = tokio::time::timeout(WAIT, stream.read(&mut chunk)).await.ok()?.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some((headers, body))
}

async fn answer(stream: &mut TcpStream, status: u16) -> std::io::Result<()> {
    let reason = if status == 200 { "OK" } else { "Internal Server Error" };
    let text = format!("HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    stream.write_all(text.as_bytes()).await?;
    stream.shutdown().await
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()))
        .collect()
}

fn is(d: &Delivery, kind: &str, field: &str, value: &str) -> bool {
    d.body["type"] == kind && d.body["data"][field] == value
}

/// The gateway in the county's status, as an operator's client gets it.
async fn gateway_status(fed: &mut Federation) -> GatewayStatus {
    let client = fed.client(&id(COUNTY), "值班员").await;
    match client.call(Request::Query(Query::Status)).await {
        Ok(Response::Status(status)) => status.gateway,
        other => panic!("status: {other:?}"),
    }
}

/// Waits until the county's status says `done` of its gateway.
async fn wait_status(fed: &mut Federation, what: &str, done: impl Fn(&GatewayStatus) -> bool) -> GatewayStatus {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let status = gateway_status(fed).await;
        if done(&status) {
            return status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "status never showed {what}: {status:#?}"
        );
        // Polling a query (no notice carries delivery counts): bounded by the deadline.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn act(client: &liandong_control::ControlClient, act: Act) -> EnvelopeId {
    match client.call(Request::Act(act)).await.expect("act") {
        Response::Done { id, .. } => id,
        other => panic!("refused: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_arrives_once_signed_across_a_restart_of_the_node() {
    let ip = Ipv4Addr::new(127, 0, 16, 1);
    let mut fed = Federation::demo(ip);
    let (cert, key) = common::gateway::certificate(fed.path());
    let listener = TcpListener::bind((ip, 0)).await.expect("bind the receiver");
    let url = format!("http://{}/liandong/events", listener.local_addr().unwrap());
    let (sub, secret) = subscribe(&fed, &url, 86_400);
    let listed = gateway_cli(&fed, &["webhook", "list"]);
    assert!(
        listed.contains(&sub) && listed.contains(&url) && !listed.contains(&secret),
        "{listed}"
    );
    let token = gateway_cli(
        &fed,
        &["token", "issue", "--name", "12345热线", "--scope", "report,read"],
    );
    assert!(token.starts_with("ld_"), "{token}");

    let seen = Arc::new(Seen::default());
    let (release, released) = oneshot::channel();
    let (rebound_tx, rebound) = oneshot::channel();
    tokio::spawn(receiver(
        listener,
        secret.clone(),
        3,
        Some((3, released, rebound_tx)),
        seen.clone(),
    ));

    fed.start(&id(CITY));
    start_county(&mut fed, ip, &cert, &key);
    fed.wait_log(&id(COUNTY), "link up peer=350100", 1, WAIT);
    let county = fed.client(&id(COUNTY), "值班员").await;

    // Three events at once: two new incidents (one the county's own, one
    // climbing to the city) and the county accepting its own.
    let own = file_report(&county, Severity::IV, "河道水位超警戒").await;
    let climbing = file_report(&county, Severity::I, "堤防管涌").await;
    act(&county, Act::Accept { incident: hex(own) }).await;

    // The first two failed; the third is held while the node is killed.
    seen.wait("3 deliveries", |d| d.len() >= 3).await;
    fed.kill9(&id(COUNTY));
    let _ = release.send(());
    rebound.await.expect("the receiver listens again");
    assert!(
        seen.deliveries.lock().unwrap().iter().all(|d| d.answered == 500),
        "a delivery was accepted before the restart"
    );

    // Restarted: what was pending resumes; more events follow.
    start_county(&mut fed, ip, &cert, &key);
    fed.wait_log(&id(COUNTY), "link up peer=350100", 2, WAIT);
    let county = fed.client(&id(COUNTY), "值班员").await;
    act(
        &county,
        Act::Resolve {
            incident: hex(own),
            summary: "已加固堤防".into(),
        },
    )
    .await;
    let city = fed.leader(&id(CITY), "王芳").await;
    let mut at_city = federation::subscribe(&city).await;
    if federation::incident_at(&city, climbing).await.is_none() {
        federation::wait_for(
            &mut at_city,
            "the climbing report at the city",
            |n| matches!(n, liandong_control::Notice::IncidentRecorded { incident, .. } if incident.id == climbing),
        )
        .await;
    }
    act(
        &city,
        Act::Accept {
            incident: hex(climbing),
        },
    )
    .await;
    let order = act(
        &city,
        Act::Dispatch {
            incident: Some(IdRef(format!("{:032x}", climbing.0))),
            targets: Targets::Node(id(COUNTY)),
            severity: Severity::I,
            instruction: "组织人员巡堤".into(),
            finish_by: None,
            mode: Mode::Actual,
        },
    )
    .await;

    let (own_hex, climbing_hex, order_hex) = (hex(own).0, hex(climbing).0, hex(order).0);
    let expected: Vec<(&str, &str, &str, Option<&str>)> = vec![
        ("incident", "incident", &own_hex, None),
        ("incident", "incident", &climbing_hex, None),
        ("stage", "incident", &own_hex, Some("accept")),
        ("stage", "incident", &own_hex, Some("resolve")),
        ("stage", "incident", &climbing_hex, Some("received")),
        ("stage", "incident", &climbing_hex, Some("accept")),
        ("order", "order", &order_hex, None),
    ];
    let wanted = |d: &Delivery, (kind, field, value, action): &(&str, &str, &str, Option<&str>)| {
        d.answered == 200 && is(d, kind, field, value) && action.is_none_or(|a| d.body["data"]["action"] == a)
    };
    seen.wait("every expected event accepted", |all| {
        expected.iter().all(|e| all.iter().any(|d| wanted(d, e)))
    })
    .await;
    let status = wait_status(&mut fed, "nothing pending", |g| {
        g.webhooks.first().is_some_and(|w| w.pending == 0 && w.delivered >= 7)
    })
    .await;
    fed.stop(&id(COUNTY));

    let all = seen.deliveries.lock().unwrap().clone();
    assert!(all.iter().all(|d| d.signed), "a signature did not verify: {all:#?}");
    assert!(
        all.iter()
            .all(|d| d.body["id"] == d.event.as_str() && d.body["node"] == COUNTY),
        "{all:#?}"
    );
    let mut accepted: BTreeMap<&str, usize> = BTreeMap::new();
    for d in all.iter().filter(|d| d.answered == 200) {
        *accepted.entry(&d.event).or_default() += 1;
    }
    assert!(
        accepted.values().all(|&n| n == 1),
        "an event accepted twice: {accepted:?}"
    );
    let tried: BTreeSet<&str> = all.iter().map(|d| d.event.as_str()).collect();
    let accepted: BTreeSet<&str> = accepted.into_keys().collect();
    assert_eq!(tried, accepted, "an event tried was never accepted");
    assert_eq!(all.iter().filter(|d| d.answered == 500).count(), 3);

    // The store agrees: every delivery delivered, the same events.
    let store = fed.open_store(&id(COUNTY)).await;
    let rows = store.deliveries_of(&sub).await.expect("deliveries");
    assert!(
        rows.iter().all(|(_, state, _)| *state == DeliveryState::Delivered),
        "{rows:?}"
    );
    let stored: BTreeSet<&str> = rows.iter().map(|(e, _, _)| e.as_str()).collect();
    assert_eq!(stored, accepted);
    let w = &status.webhooks[0];
    assert_eq!(
        (w.id.as_str(), w.name.as_str(), w.dead_lettered),
        (sub.as_str(), "公安系统", 0)
    );
    assert_eq!(w.delivered as usize, accepted.len());
    let t = &status.tokens[0];
    assert_eq!(
        (t.name.as_str(), t.scopes.join(","), t.revoked),
        ("12345热线", "report,read".into(), false)
    );
    fed.stop_all();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_receivers_delivery_is_dead_lettered_and_shown_in_status() {
    let ip = Ipv4Addr::new(127, 0, 16, 2);
    let mut fed = Federation::demo(ip);
    let (cert, key) = common::gateway::certificate(fed.path());
    // A port that was free a moment ago: nothing listens there.
    let nobody = TcpListener::bind((ip, 0)).await.expect("bind").local_addr().unwrap();
    let (sub, _) = subscribe(&fed, &format!("http://{nobody}/events"), 3);
    start_county(&mut fed, ip, &cert, &key);
    let county = fed.client(&id(COUNTY), "值班员").await;
    file_report(&county, Severity::II, "路面塌陷").await;

    let status = wait_status(&mut fed, "a dead-lettered delivery", |g| {
        g.webhooks
            .first()
            .is_some_and(|w| w.dead_lettered == 1 && w.pending == 0)
    })
    .await;
    let w = &status.webhooks[0];
    assert_eq!(w.delivered, 0);
    let error = w.last_error.clone().unwrap_or_default();
    assert!(error.contains("cannot connect"), "{error}");
    fed.wait_log(&id(COUNTY), "dead-lettered", 1, WAIT);

    // `liandong status`, as the operator reads it.
    let (cert, _) = fed.operator(&id(COUNTY), "值班员", "operator");
    let addr = fed.control_addr(&id(COUNTY)).to_string();
    let out = common::liandong(&["status", "--node", &addr, "--cert", common::arg(&cert)]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let text = common::stdout(&out);
    let row = text
        .lines()
        .find(|l| l.starts_with(&sub))
        .unwrap_or_else(|| panic!("no row for webhook {sub}:\n{text}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells[cells.len() - 3..], ["0", "0", "1"], "{text}");
    assert!(
        text.contains("DEAD-LETTERED") && text.contains("cannot connect"),
        "{text}"
    );
    fed.stop_all();
}
