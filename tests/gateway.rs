//! The gateway end to end: a real `liandong node run` (the county of the
//! demo federation, its city beside it) serving HTTPS on loopback, and
//! curl as the system that files (skipped without curl unless `CI` is
//! set). Tokens come from `liandong gateway token`. A report filed over
//! the JSON API reaches its owner with the token's system as reporter; the
//! same Idempotency-Key files one report, across a restart of the node;
//! bad tokens, scopes and bodies are refused and file nothing. The
//! OpenAPI document is served without a token, describes what the node
//! answers, and passes openapi-spec-validator (skipped without it unless
//! `CI` is set).

mod common;
mod federation;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::gateway::{Gw, curl};
use federation::{Federation, hex, id, incident_at};
use liandong_control::proto::{Query, Request, Response};
use liandong_dispatch::EnvelopeId;

const CITY: &str = "350100";
const COUNTY: &str = "350102";
const GATEWAY_PORT: u16 = 8443;
const WAIT: Duration = Duration::from_secs(30);

fn start_county(fed: &mut Federation, ip: Ipv4Addr, cert: &Path, key: &Path) {
    fed.start_gateway(&id(COUNTY), SocketAddr::new(ip.into(), GATEWAY_PORT), cert, key);
}

fn token(fed: &Federation, name: &str, scope: &str) -> String {
    token_at(fed, COUNTY, name, scope)
}

fn token_at(fed: &Federation, node: &str, name: &str, scope: &str) -> String {
    common::gateway::issue_token(&fed.data_dir(&id(node)), name, scope)
}

/// `document` passes openapi-spec-validator (an independent reading of
/// the OpenAPI specification); skipped without it unless `CI` is set.
fn validate_openapi(dir: &Path, document: &str) {
    let tool = "openapi-spec-validator";
    if !common::tool::require(tool, "the OpenAPI document's validation", "checks /v1/openapi.json") {
        return;
    }
    let file = dir.join("openapi.json");
    std::fs::write(&file, document).expect("write the document");
    let out = Command::new(tool)
        .arg(&file)
        .output()
        .expect("run openapi-spec-validator");
    assert!(
        out.status.success(),
        "{tool}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
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
    let ip = Ipv4Addr::new(127, 0, 15, 1);
    let mut fed = Federation::demo(ip);
    let (cert, key) = common::gateway::certificate(fed.path());
    fed.start(&id(CITY));
    start_county(&mut fed, ip, &cert, &key);
    let gw = Gw::new(ip, GATEWAY_PORT, &cert);
    let hotline = token(&fed, "12345热线", "report,read");
    let reader = token(&fed, "公安系统", "read");

    // The OpenAPI document, with no token: 3.1, the JSON API's routes.
    let document = curl(&gw, "GET", "/v1/openapi.json", None, &[], None);
    assert_eq!(document.status, 200, "{}", document.body);
    let openapi = document.json();
    assert!(
        openapi["openapi"].as_str().is_some_and(|v| v.starts_with("3.1.")),
        "{}",
        openapi["openapi"]
    );
    for path in [
        "/v1/reports",
        "/v1/reports/{id}",
        "/v1/incidents",
        "/open311/v2/requests.json",
    ] {
        assert!(openapi["paths"].get(path).is_some(), "{path} is not in the document");
    }
    validate_openapi(fed.path(), &document.body);

    // Filed with a key, twice: one report, reaching its owner (the city)
    // with the hotline as its reporter.
    let first = curl(
        &gw,
        "POST",
        "/v1/reports",
        Some(&hotline),
        &["Idempotency-Key: call-0001"],
        Some(FLOOD.as_bytes()),
    );
    assert_eq!(first.status, 201, "{}", first.body);
    let report = first.json()["id"].as_str().expect("an id").to_owned();
    let again = curl(
        &gw,
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
        let stages = curl(&gw, "GET", &format!("/v1/reports/{report}"), Some(&reader), &[], None);
        assert_eq!(stages.status, 200, "{}", stages.body);
        if stages.json()["stages"]["at_owner"] == true {
            assert_eq!(stages.json()["owner"], CITY);
            // The answer has the fields the document says, and no other.
            let fields = |v: &serde_json::Value| -> Vec<String> {
                let mut keys: Vec<String> = v.as_object().expect("an object").keys().cloned().collect();
                keys.sort();
                keys
            };
            let schemas = &openapi["components"]["schemas"];
            assert_eq!(fields(&stages.json()), fields(&schemas["ReportOut"]["properties"]));
            assert_eq!(
                fields(&stages.json()["stages"]),
                fields(&schemas["Stages"]["properties"])
            );
            break;
        }
        assert!(Instant::now() < deadline, "never at its owner: {}", stages.body);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Refused, and nothing filed: no token, a wrong one, a scope the
    // token lacks, a body too large, malformed JSON, a missing field.
    let held = incidents_at(&mut fed, COUNTY).await;
    let no_token = curl(&gw, "POST", "/v1/reports", None, &[], Some(FLOOD.as_bytes()));
    assert_eq!(no_token.status, 401, "{}", no_token.body);
    // The last digit changed (to one it is not).
    let last = if hotline.ends_with('0') { '1' } else { '0' };
    let wrong = format!("{}{last}", &hotline[..hotline.len() - 1]);
    assert_eq!(
        curl(&gw, "POST", "/v1/reports", Some(&wrong), &[], Some(FLOOD.as_bytes())).status,
        401
    );
    let read_only = curl(&gw, "POST", "/v1/reports", Some(&reader), &[], Some(FLOOD.as_bytes()));
    assert_eq!(read_only.status, 403, "{}", read_only.body);
    let huge = format!(
        r#"{{"severity":"IV","category":"Hazard","title":"t","detail":"{}"}}"#,
        "x".repeat(70_000)
    );
    assert_eq!(
        curl(&gw, "POST", "/v1/reports", Some(&hotline), &[], Some(huge.as_bytes())).status,
        413
    );
    let broken = curl(
        &gw,
        "POST",
        "/v1/reports",
        Some(&hotline),
        &[],
        Some(b"{\"severity\": \"I\","),
    );
    assert_eq!(broken.status, 400, "{}", broken.body);
    let missing = curl(
        &gw,
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
    let revoked = curl(&gw, "GET", "/v1/incidents", Some(&reader), &[], None);
    assert_eq!(revoked.status, 401, "{}", revoked.body);
    assert!(revoked.body.contains("revoked"), "{}", revoked.body);

    // The same key after a restart: the same report, nothing filed again.
    fed.stop(&id(COUNTY));
    start_county(&mut fed, ip, &cert, &key);
    let after = curl(
        &gw,
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
    let listed = curl(&gw, "GET", "/v1/incidents", Some(&hotline), &[], None);
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert!(listed.body.contains(&report), "{}", listed.body);
    fed.stop_all();
}

/// An Open311 GeoReport v2 client, unchanged: it reads the services,
/// posts a form-encoded request with its `api_key`, and follows it; a
/// request missing a field is refused naming it, and files nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open311_client_files_and_follows_its_request() {
    if !common::tool::require("curl", "gateway Open311 e2e", "the HTTP client of the gateway's tests") {
        return;
    }
    let ip = Ipv4Addr::new(127, 0, 15, 2);
    let mut fed = Federation::demo(ip);
    let (cert, key) = common::gateway::certificate(fed.path());
    fed.start(&id(CITY));
    start_county(&mut fed, ip, &cert, &key);
    let gw = Gw::new(ip, GATEWAY_PORT, &cert);
    let hotline = token(&fed, "96966热线", "report,read");

    let services = curl(&gw, "GET", "/open311/v2/services.json", None, &[], None);
    assert_eq!(services.status, 200, "{}", services.body);
    let codes: Vec<String> = services
        .json()
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|s| s["service_code"].as_str().map(str::to_owned))
        .collect();
    assert!(
        codes.contains(&"flood".to_owned()) && codes.contains(&"dispute".to_owned()),
        "{codes:?}"
    );

    let form = format!(
        "api_key={hotline}&service_code=flood&description=%E6%B2%B3%E9%81%93%E6%BC%AB%E5%A0%A4%0A%E6%B0%B4%E4%BD%8D%E8%B6%85%E8%AD%A6%E6%88%92&address_string=%E9%BC%93%E5%B1%B1%E9%95%87&email=a%40b.cn"
    );
    let form_type = "Content-Type: application/x-www-form-urlencoded";
    let filed = curl(
        &gw,
        "POST",
        "/open311/v2/requests.json",
        None,
        &[form_type],
        Some(form.as_bytes()),
    );
    assert_eq!(filed.status, 201, "{}", filed.body);
    let request = filed.json()[0]["service_request_id"]
        .as_str()
        .expect("an id")
        .to_owned();

    let one = curl(
        &gw,
        "GET",
        &format!("/open311/v2/requests/{request}.json?api_key={hotline}"),
        None,
        &[],
        None,
    );
    assert_eq!(one.status, 200, "{}", one.body);
    let r = &one.json()[0];
    assert_eq!(
        (r["status"].as_str(), r["service_code"].as_str()),
        (Some("open"), Some("flood"))
    );
    assert_eq!(r["address"], "鼓山镇");
    assert_eq!(r["description"], "河道漫堤\n水位超警戒");
    let listed = curl(
        &gw,
        "GET",
        &format!("/open311/v2/requests.json?api_key={hotline}&service_code=flood&status=open"),
        None,
        &[],
        None,
    );
    assert!(listed.body.contains(&request), "{}", listed.body);
    let none = curl(
        &gw,
        "GET",
        &format!("/open311/v2/requests.json?api_key={hotline}&service_code=fire"),
        None,
        &[],
        None,
    );
    assert_eq!(none.json(), serde_json::json!([]));

    // The report reaches its owner (flood: severity II, the county's own).
    let envelope = EnvelopeId(u128::from_str_radix(&request, 16).expect("hex id"));
    let county = fed.client(&id(COUNTY), "值班员").await;
    let at_county = incident_at(&county, envelope).await.expect("held at the county");
    assert_eq!(at_county.report.reporter, "96966热线");

    let held = incidents_at(&mut fed, COUNTY).await;
    let missing = format!("api_key={hotline}&description=x");
    let refused = curl(
        &gw,
        "POST",
        "/open311/v2/requests.json",
        None,
        &[form_type],
        Some(missing.as_bytes()),
    );
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(refused.body.contains("service_code"), "{}", refused.body);
    let unknown = format!("api_key={hotline}&service_code=noise&description=x");
    assert_eq!(
        curl(
            &gw,
            "POST",
            "/open311/v2/requests.json",
            None,
            &[form_type],
            Some(unknown.as_bytes())
        )
        .status,
        400
    );
    let no_key = curl(
        &gw,
        "POST",
        "/open311/v2/requests.json",
        None,
        &[form_type],
        Some(b"api_key=ld_0_0&service_code=flood&description=x"),
    );
    assert_eq!(no_key.status, 401, "{}", no_key.body);
    assert_eq!(
        incidents_at(&mut fed, COUNTY).await,
        held,
        "a refused request filed something"
    );
    fed.stop_all();
}

/// A member unit's system signs for an order addressed to its center and
/// finishes it through the gateway; the issuer sees both. A token without
/// the `orders` scope may not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_units_system_signs_for_and_finishes_an_order() {
    if !common::tool::require("curl", "gateway orders e2e", "the HTTP client of the gateway's tests") {
        return;
    }
    let ip = Ipv4Addr::new(127, 0, 15, 3);
    let mut fed = Federation::demo(ip);
    let (cert, key) = common::gateway::certificate(fed.path());
    fed.start(&id(CITY));
    start_county(&mut fed, ip, &cert, &key);
    fed.wait_log(&id(COUNTY), "link up peer=350100", 1, WAIT);
    let gw = Gw::new(ip, GATEWAY_PORT, &cert);
    let system = token(&fed, "县应急局系统", "orders");
    let hotline = token(&fed, "12345热线", "report");

    let city = fed.leader(&id(CITY), "王芳").await;
    let order = match city
        .call(Request::Act(liandong_control::Act::Dispatch {
            incident: None,
            targets: liandong_dispatch::wire::Targets::Node(id(COUNTY)),
            severity: liandong_topology::Severity::II,
            instruction: "排查辖区河道堤防".into(),
            finish_by: None,
            mode: liandong_dispatch::wire::Mode::Actual,
        }))
        .await
        .expect("dispatch")
    {
        Response::Done { id, .. } => id,
        other => panic!("dispatch refused: {other:?}"),
    };
    let order_hex = format!("{:032x}", order.0);
    let path = |step: &str| format!("/v1/orders/{order_hex}/{step}");

    // The order reaches the county, then its system signs for it.
    let deadline = Instant::now() + WAIT;
    let signed = loop {
        let a = curl(&gw, "POST", &path("sign"), Some(&system), &[], None);
        if a.status == 200 {
            break a;
        }
        assert!(Instant::now() < deadline, "never signed for: {} {}", a.status, a.body);
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(signed.json()["order"], order_hex.as_str());
    let forbidden = curl(
        &gw,
        "POST",
        &path("done"),
        Some(&hotline),
        &[],
        Some(br#"{"note":"x"}"#),
    );
    assert_eq!(forbidden.status, 403, "{}", forbidden.body);
    let unknown = curl(&gw, "POST", &path("finish"), Some(&system), &[], None);
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    let done = curl(
        &gw,
        "POST",
        &path("done"),
        Some(&system),
        &[],
        Some(r#"{"note":"已排查三处险段"}"#.as_bytes()),
    );
    assert_eq!(done.status, 200, "{}", done.body);

    // The issuer sees the county's target finished, signed by the system.
    let deadline = Instant::now() + WAIT;
    loop {
        let Ok(Response::Order(view)) = city.call(Request::Query(Query::Order { id: hex(order) })).await else {
            panic!("the order at the city");
        };
        let state = view
            .targets
            .iter()
            .find(|(n, _)| *n == id(COUNTY))
            .map(|(_, t)| t.state.clone());
        if matches!(state, Some(liandong_dispatch::wire::TargetState::Done { ref note }) if note == "已排查三处险段")
        {
            break;
        }
        assert!(Instant::now() < deadline, "the city sees {state:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    fed.stop_all();
}

/// curl downloading `path` into `out`: the status.
fn curl_download(gw: &Gw, path: &str, token: &str, out: &Path) -> u16 {
    let done = Command::new("curl")
        .args(["-sS", "--max-time", "20", "-o"])
        .arg(out)
        .args(["-w", "%{http_code}", "--cacert"])
        .arg(&gw.cert)
        .args(["--resolve", &format!("localhost:{}:{}", gw.at.port(), gw.at.ip())])
        .args(["-H", &format!("Authorization: Bearer {token}")])
        .arg(format!("https://localhost:{}{path}", gw.at.port()))
        .output()
        .expect("curl");
    String::from_utf8_lossy(&done.stdout).trim().parse().expect("a status")
}

/// A PNG's signature and `len` bytes after it: a photo by its content.
fn png(len: usize, seed: u8) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut x = u32::from(seed) | 0x9e37_0000;
    bytes.extend((0..len).map(|_| {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x as u8
    }));
    bytes
}

/// A grid worker at a village files a severity I report with a photo over
/// the gateway; the report climbs to the city, and the photo follows it
/// hop by hop on the bulk lane: the city's systems fetch the same bytes.
/// A file that is not a JPEG or PNG, and a report naming a photo not
/// sent, are refused and file nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_filed_at_a_village_is_fetched_at_the_city() {
    if !common::tool::require("curl", "gateway photos e2e", "the HTTP client of the gateway's tests") {
        return;
    }
    const TOWNSHIP: &str = "350102001";
    const VILLAGE: &str = "350102001001";
    let ip = Ipv4Addr::new(127, 0, 15, 44);
    let mut fed = Federation::demo(ip);
    let (cert, key) = common::gateway::certificate(fed.path());
    fed.start_gateway(&id(CITY), SocketAddr::new(ip.into(), GATEWAY_PORT + 1), &cert, &key);
    fed.start(&id(COUNTY));
    fed.start(&id(TOWNSHIP));
    fed.start_gateway(&id(VILLAGE), SocketAddr::new(ip.into(), GATEWAY_PORT), &cert, &key);
    fed.wait_log(&id(VILLAGE), &format!("link up peer={TOWNSHIP}"), 1, WAIT);
    let village = Gw::new(ip, GATEWAY_PORT, &cert);
    let city = Gw::new(ip, GATEWAY_PORT + 1, &cert);
    let worker = token_at(&fed, VILLAGE, "网格员张伟", "report,read");
    let city_system = token_at(&fed, CITY, "市指挥中心大屏", "read");

    let gif = curl(
        &village,
        "POST",
        "/v1/photos",
        Some(&worker),
        &["Content-Type: image/png"],
        Some(b"GIF89a\x01\x00\x01\x00"),
    );
    assert_eq!(gif.status, 415, "{}", gif.body);
    assert!(gif.body.contains("JPEG or PNG"), "{}", gif.body);
    // Over the gateway's 5 MiB: refused before it is kept.
    let huge = curl(
        &village,
        "POST",
        "/v1/photos",
        Some(&worker),
        &[],
        Some(&png(5 << 20, 3)),
    );
    assert_eq!(huge.status, 413, "{}", huge.body);
    let kept = std::fs::read_dir(fed.data_dir(&id(VILLAGE)).join("photos")).map_or(0, |d| d.count());
    assert_eq!(kept, 0, "nothing kept for refused photos");

    // Five pieces' worth, so it crosses each hop in several frames.
    let photo = png(300_000, 7);
    let sent = curl(
        &village,
        "POST",
        "/v1/photos",
        Some(&worker),
        &["Content-Type: application/octet-stream"],
        Some(&photo),
    );
    assert_eq!(sent.status, 201, "{}", sent.body);
    let sha = sent.json()["sha256"].as_str().expect("a hash").to_owned();
    assert_eq!(sent.json()["type"], "image/png");
    assert_eq!(sent.json()["size"], photo.len());

    let held = incidents_at(&mut fed, VILLAGE).await;
    let unknown = format!(
        r#"{{"severity":"I","category":"Fire","title":"仓库起火","photos":["{}"]}}"#,
        "0".repeat(64)
    );
    let refused = curl(
        &village,
        "POST",
        "/v1/reports",
        Some(&worker),
        &[],
        Some(unknown.as_bytes()),
    );
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(refused.body.contains("photos"), "{}", refused.body);
    assert_eq!(incidents_at(&mut fed, VILLAGE).await, held, "nothing filed");

    let client = fed.client(&id(VILLAGE), "值班员").await;
    let mut pushed = federation::subscribe(&client).await;
    let fire = format!(
        r#"{{"severity":"I","category":"Fire","title":"仓库起火","detail":"浓烟","place":"五一社区3号仓库","photos":["{sha}"]}}"#
    );
    let filed = curl(
        &village,
        "POST",
        "/v1/reports",
        Some(&worker),
        &["Idempotency-Key: fire-0001"],
        Some(fire.as_bytes()),
    );
    assert_eq!(filed.status, 201, "{}", filed.body);
    let report = filed.json()["id"].as_str().expect("an id").to_owned();

    // The reporter's stages, as each notice at the village may move them.
    let deadline = Instant::now() + WAIT;
    let stages = loop {
        let seen = curl(
            &village,
            "GET",
            &format!("/v1/reports/{report}"),
            Some(&worker),
            &[],
            None,
        );
        assert_eq!(seen.status, 200, "{}", seen.body);
        let json = seen.json();
        if json["stage"] == "at_owner" || json["stage"] == "accepted" {
            break json;
        }
        assert!(Instant::now() < deadline, "not at its owner within {WAIT:?}: {json}");
        let _ = tokio::time::timeout(Duration::from_secs(2), pushed.next()).await;
    };
    assert_eq!(stages["owner"], CITY);
    assert_eq!(stages["stages"]["at_next_hop"], true, "{stages}");
    // The next hop's own mark: its hop ack, written once in the village's
    // timeline (at_next_hop above also follows from at_owner).
    let envelope = EnvelopeId(u128::from_str_radix(&report, 16).expect("hex id"));
    let at_village = incident_at(&client, envelope).await.expect("held at the village");
    let marks: Vec<_> = at_village
        .timeline
        .iter()
        .filter(|e| e.what == liandong_dispatch::core::STORED_AT_NEXT_HOP)
        .map(|e| e.node.as_str())
        .collect();
    assert_eq!(marks, [TOWNSHIP], "{:?}", at_village.timeline);
    assert_eq!(stages["photos"][0]["sha256"], sha.as_str());
    assert_eq!(stages["photos"][0]["held_here"], true);

    // The photo climbed behind it: kept at every center on the way, and
    // the city's systems read the same bytes.
    fed.wait_log(&id(CITY), "photo received", 1, WAIT);
    for node in [TOWNSHIP, COUNTY, CITY] {
        let kept = fed.data_dir(&id(node)).join("photos").join(&sha);
        assert_eq!(std::fs::read(&kept).ok().as_deref(), Some(&photo[..]), "{node}");
    }
    let out = fed.path().join("fetched.png");
    assert_eq!(
        curl_download(&city, &format!("/v1/photos/{sha}"), &city_system, &out),
        200
    );
    assert_eq!(std::fs::read(&out).expect("fetched"), photo);
    let seen = curl(
        &city,
        "GET",
        &format!("/v1/reports/{report}"),
        Some(&city_system),
        &[],
        None,
    );
    assert_eq!(seen.json()["photos"][0]["held_here"], true, "{}", seen.body);
    let missing = curl(
        &city,
        "GET",
        &format!("/v1/photos/{}", "ab".repeat(32)),
        Some(&city_system),
        &[],
        None,
    );
    assert_eq!(missing.status, 404, "{}", missing.body);
    // A token of the city shown to the village: refused, naming whose it is.
    assert!(city_system.starts_with("ld.350100_"), "{city_system}");
    let elsewhere = curl(&village, "GET", "/v1/incidents", Some(&city_system), &[], None);
    assert_eq!(elsewhere.status, 403, "{}", elsewhere.body);
    assert!(elsewhere.body.contains("350100"), "{}", elsewhere.body);
    fed.stop_all();
}
