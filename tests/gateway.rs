//! The gateway end to end: a real `liandong node run` (the county of the
//! demo federation, its city beside it) serving HTTPS on loopback, and
//! curl as the system that files (skipped without curl unless `CI` is
//! set). Tokens come from `liandong gateway token`. A report filed over
//! the JSON API reaches its owner with the token's system as reporter; the
//! same Idempotency-Key files one report, across a restart of the node;
//! bad tokens, scopes and bodies are refused and file nothing.

mod common;
mod federation;

use std::ffi::OsString;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use federation::{Federation, hex, id, incident_at};
use liandong_control::proto::{Query, Request, Response};
use liandong_dispatch::EnvelopeId;

const IP: Ipv4Addr = Ipv4Addr::new(127, 0, 15, 1);
const CITY: &str = "350100";
const COUNTY: &str = "350102";
const GATEWAY_PORT: u16 = 8443;
const WAIT: Duration = Duration::from_secs(30);

/// The gateway's certificate for `localhost`, and its key (mode 0600).
fn gateway_certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("certificate");
    let (pem, key) = (dir.join("gateway.pem"), dir.join("gateway.key"));
    std::fs::write(&pem, cert.cert.pem()).unwrap();
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&key)
        .unwrap();
    f.write_all(cert.signing_key.serialize_pem().as_bytes()).unwrap();
    (pem, key)
}

fn start_county(fed: &mut Federation, cert: &Path, key: &Path) {
    let node = id(COUNTY);
    let args: Vec<OsString> = vec![
        "--topology".into(),
        fed.topology_file.clone().into(),
        "--id".into(),
        COUNTY.into(),
        "--certs".into(),
        fed.certs.clone().into(),
        "--data".into(),
        fed.data_dir(&node).into(),
        "--gateway".into(),
        SocketAddr::new(IP.into(), GATEWAY_PORT).to_string().into(),
        "--gateway-cert".into(),
        cert.into(),
        "--gateway-key".into(),
        key.into(),
    ];
    // This start's own line: a restart's log follows the first run's.
    let listening = fed.log_count(&node, "gateway listening");
    fed.start_with(&node, &args);
    fed.wait_log(&node, "gateway listening", listening + 1, WAIT);
}

fn token(fed: &Federation, name: &str, scope: &str) -> String {
    let data = fed.data_dir(&id(COUNTY));
    let out = common::liandong(&[
        "gateway",
        "token",
        "issue",
        "--data",
        common::arg(&data),
        "--name",
        name,
        "--scope",
        scope,
    ]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    common::stdout(&out).trim().to_owned()
}

/// What curl got: the status and the body.
struct Answer {
    status: u16,
    body: String,
}

impl Answer {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: status {} body {:?}", self.status, self.body))
    }
}

/// curl as a hotline's system would call the gateway.
fn curl(cert: &Path, method: &str, path: &str, token: Option<&str>, headers: &[&str], body: Option<&[u8]>) -> Answer {
    let mut cmd = Command::new("curl");
    cmd.args([
        "-sS",
        "--max-time",
        "20",
        "-X",
        method,
        "-o",
        "-",
        "-w",
        "\n%{http_code}",
    ])
    .arg("--cacert")
    .arg(cert)
    .args(["--resolve", &format!("localhost:{GATEWAY_PORT}:{IP}")]);
    if let Some(t) = token {
        cmd.args(["-H", &format!("Authorization: Bearer {t}")]);
    }
    for h in headers {
        cmd.args(["-H", h]);
    }
    if body.is_some() {
        cmd.args(["-H", "Content-Type: application/json", "--data-binary", "@-"]);
    }
    cmd.arg(format!("https://localhost:{GATEWAY_PORT}{path}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run curl");
    if let Some(b) = body {
        child.stdin.take().expect("stdin").write_all(b).expect("body to curl");
    } else {
        drop(child.stdin.take());
    }
    let out = child.wait_with_output().expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    let status = match code.trim().parse::<u16>() {
        Ok(0) | Err(_) => panic!("curl {method} {path}: {text} {}", String::from_utf8_lossy(&out.stderr)),
        Ok(status) => status,
    };
    Answer {
        status,
        body: body.to_owned(),
    }
}

const FLOOD: &str =
    r#"{"severity":"I","category":"Flood","title":"河道漫堤","detail":"鼓山镇河道水位超警戒","place":"鼓山镇"}"#;

async fn incidents_at(fed: &mut Federation, node: &str) -> usize {
    let client = fed.client(&id(node), "值班员").await;
    match client.call(Request::Query(Query::Incidents { closed: true })).await {
        Ok(Response::Incidents(all)) => all.len(),
        other => panic!("incidents at {node}: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn systems_file_over_https_with_tokens_once_per_idempotency_key() {
    if !common::tool::require("curl", "gateway e2e", "the HTTP client of the gateway's tests") {
        return;
    }
    let mut fed = Federation::demo(IP);
    let (cert, key) = gateway_certificate(fed.path());
    fed.start(&id(CITY));
    start_county(&mut fed, &cert, &key);
    let hotline = token(&fed, "12345热线", "report,read");
    let reader = token(&fed, "公安系统", "read");

    // Filed with a key, twice: one report, reaching its owner (the city)
    // with the hotline as its reporter.
    let first = curl(
        &cert,
        "POST",
        "/v1/reports",
        Some(&hotline),
        &["Idempotency-Key: call-0001"],
        Some(FLOOD.as_bytes()),
    );
    assert_eq!(first.status, 201, "{}", first.body);
    let report = first.json()["id"].as_str().expect("an id").to_owned();
    let again = curl(
        &cert,
        "POST",
        "/v1/reports",
        Some(&hotline),
        &["Idempotency-Key: call-0001"],
        Some(FLOOD.as_bytes()),
    );
    assert_eq!(
        (again.status, again.json()["id"].as_str()),
        (201, Some(report.as_str()))
    );
    let envelope = EnvelopeId(u128::from_str_radix(&report, 16).expect("hex id"));
    let city = fed.client(&id(CITY), "值班员").await;
    let deadline = Instant::now() + WAIT;
    let at_city = loop {
        if let Some(i) = incident_at(&city, envelope).await {
            break i;
        }
        assert!(Instant::now() < deadline, "the report did not reach the city");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(at_city.report.reporter, "12345热线");
    let deadline = Instant::now() + WAIT;
    loop {
        let stages = curl(&cert, "GET", &format!("/v1/reports/{report}"), Some(&reader), &[], None);
        assert_eq!(stages.status, 200, "{}", stages.body);
        if stages.json()["stages"]["at_owner"] == true {
            assert_eq!(stages.json()["owner"], CITY);
            break;
        }
        assert!(Instant::now() < deadline, "never at its owner: {}", stages.body);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = hex(envelope);

    // Refused, and nothing filed: no token, a wrong one, a scope the
    // token lacks, a body too large, malformed JSON, a missing field.
    let held = incidents_at(&mut fed, COUNTY).await;
    let no_token = curl(&cert, "POST", "/v1/reports", None, &[], Some(FLOOD.as_bytes()));
    assert_eq!(no_token.status, 401, "{}", no_token.body);
    let wrong = format!("{}0", &hotline[..hotline.len() - 1]);
    assert_eq!(
        curl(&cert, "POST", "/v1/reports", Some(&wrong), &[], Some(FLOOD.as_bytes())).status,
        401
    );
    let read_only = curl(&cert, "POST", "/v1/reports", Some(&reader), &[], Some(FLOOD.as_bytes()));
    assert_eq!(read_only.status, 403, "{}", read_only.body);
    let huge = format!(
        r#"{{"severity":"IV","category":"Hazard","title":"t","detail":"{}"}}"#,
        "x".repeat(70_000)
    );
    assert_eq!(
        curl(&cert, "POST", "/v1/reports", Some(&hotline), &[], Some(huge.as_bytes())).status,
        413
    );
    let broken = curl(
        &cert,
        "POST",
        "/v1/reports",
        Some(&hotline),
        &[],
        Some(b"{\"severity\": \"I\","),
    );
    assert_eq!(broken.status, 400, "{}", broken.body);
    let missing = curl(
        &cert,
        "POST",
        "/v1/reports",
        Some(&hotline),
        &[],
        Some(br#"{"severity":"I","category":"Flood"}"#),
    );
    assert_eq!(missing.status, 400, "{}", missing.body);
    assert!(
        missing.json()["error"].as_str().unwrap_or("").contains("title"),
        "{}",
        missing.body
    );
    assert_eq!(
        incidents_at(&mut fed, COUNTY).await,
        held,
        "a refused request filed something"
    );

    // A revoked token stops working without a restart.
    let data = fed.data_dir(&id(COUNTY));
    let id_of = reader.split('_').nth(1).expect("token id").to_owned();
    let out = common::liandong(&["gateway", "token", "revoke", "--data", common::arg(&data), &id_of]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let revoked = curl(&cert, "GET", "/v1/incidents", Some(&reader), &[], None);
    assert_eq!(revoked.status, 401, "{}", revoked.body);
    assert!(revoked.body.contains("revoked"), "{}", revoked.body);

    // The same key after a restart: the same report, nothing filed again.
    fed.stop(&id(COUNTY));
    start_county(&mut fed, &cert, &key);
    let after = curl(
        &cert,
        "POST",
        "/v1/reports",
        Some(&hotline),
        &["Idempotency-Key: call-0001"],
        Some(FLOOD.as_bytes()),
    );
    assert_eq!(
        (after.status, after.json()["id"].as_str()),
        (201, Some(report.as_str()))
    );
    assert_eq!(incidents_at(&mut fed, COUNTY).await, held);
    let listed = curl(&cert, "GET", "/v1/incidents", Some(&hotline), &[], None);
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert!(listed.body.contains(&report), "{}", listed.body);
    fed.stop_all();
}
