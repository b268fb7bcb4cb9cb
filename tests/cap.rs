//! CAP 1.2 end to end, with real nodes of two federations (each its own
//! CA, the demo's county 350102 running with its gateway) and curl as the
//! warning-release platform. An incident filed in federation A leaves it
//! as an alert (`GET /v1/incidents/{id}.cap`, and the same bytes from
//! `liandong incident show --format cap`) that validates against the
//! OASIS CAP 1.2 schema with xmllint; imported into federation B
//! (`POST /v1/cap`) it is an equivalent incident, a duplicate files
//! nothing, and A's later Update and Cancel change that same incident.
//! The four example alerts of the CAP 1.2 specification's appendix
//! import; `liandong cap import` files a drill order for the township an
//! alert names and leaves a Test alert unfiled. Hostile and broken alerts
//! are refused with a clear error and file nothing, and the node goes on.
//! Skipped without curl or xmllint unless `CI` is set.

mod common;
mod federation;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::gateway::{Answer, Gw, curl};
use federation::{Federation, hex, id, incident_at};
use liandong_control::ControlClient;
use liandong_control::proto::{Act, Query, Request, Response};
use liandong_dispatch::store::IncidentState;
use liandong_dispatch::wire::{Category, EnvelopeId, Mode};
use liandong_topology::Severity;

const COUNTY: &str = "350102";
const TOWN: &str = "350102001";
const PORT: u16 = 8443;
const CAP_XML: &str = "Content-Type: application/cap+xml";

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("cap/tests/data")
}

/// Whether curl and xmllint are here (else skipped, unless `CI` is set).
fn tools(test: &str) -> bool {
    common::tool::require("curl", test, "the warning platform's HTTP client")
        && common::tool::require("xmllint", test, "validates alerts against the OASIS CAP 1.2 schema")
}

/// `xml` validates against the OASIS CAP 1.2 schema (xmllint, no network).
fn validate(dir: &Path, name: &str, xml: &str) {
    let file = dir.join(name);
    std::fs::write(&file, xml).expect("write the alert");
    let out = Command::new("xmllint")
        .args(["--noout", "--nonet", "--schema"])
        .arg(data().join("CAP-v1.2.xsd"))
        .arg(&file)
        .output()
        .expect("run xmllint");
    assert!(
        out.status.success(),
        "{name} does not validate:\n{}\n{xml}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A federation of its own with its county running a gateway at `ip`.
fn county_with_gateway(ip: Ipv4Addr) -> (Federation, Gw) {
    let mut fed = Federation::demo(ip);
    let (cert, key) = common::gateway::certificate(fed.path());
    fed.start_gateway(&id(COUNTY), SocketAddr::new(ip.into(), PORT), &cert, &key);
    let gw = Gw::new(ip, PORT, &cert);
    (fed, gw)
}

fn token(fed: &Federation, name: &str, scope: &str) -> String {
    common::gateway::issue_token(&fed.data_dir(&id(COUNTY)), name, scope)
}

fn post(gw: &Gw, token: &str, xml: &[u8]) -> Answer {
    curl(gw, "POST", "/v1/cap", Some(token), &[CAP_XML], Some(xml))
}

fn export(gw: &Gw, token: &str, incident: EnvelopeId) -> String {
    let got = curl(
        gw,
        "GET",
        &format!("/v1/incidents/{:032x}.cap", incident.0),
        Some(token),
        &[],
        None,
    );
    assert_eq!(got.status, 200, "{}", got.body);
    got.body
}

/// The outcome word and incident id of an import's answer.
fn outcome(a: &Answer) -> (String, Option<EnvelopeId>) {
    let j = a.json();
    let id = j["id"]
        .as_str()
        .map(|h| EnvelopeId(u128::from_str_radix(h, 16).expect("32 hex digits")));
    (j["outcome"].as_str().unwrap_or_default().to_owned(), id)
}

async fn act(client: &ControlClient, act: Act) {
    match client.call(Request::Act(act)).await.expect("call") {
        Response::Done { .. } => {}
        other => panic!("refused: {other:?}"),
    }
}

async fn incident_count(client: &ControlClient) -> usize {
    match client
        .call(Request::Query(Query::Incidents { closed: true }))
        .await
        .expect("call")
    {
        Response::Incidents(all) => all.len(),
        other => panic!("{other:?}"),
    }
}

fn cli(fed: &Federation, cert: &Path, args: &[&str]) -> std::process::Output {
    let addr = fed.control_addr(&id(COUNTY)).to_string();
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--node", &addr, "--cert", cert.to_str().expect("utf-8 path")]);
    common::liandong(&all)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incident_leaves_one_federation_as_an_alert_and_becomes_the_same_incident_in_another() {
    if !tools("cap_round_trip") {
        return;
    }
    let (mut a, gw_a) = county_with_gateway(Ipv4Addr::new(127, 0, 18, 1));
    let (mut b, gw_b) = county_with_gateway(Ipv4Addr::new(127, 0, 18, 2));
    let (read_a, platform_b) = (token(&a, "省预警平台", "read"), token(&b, "省预警发布平台", "cap,read"));
    let county = id(COUNTY);
    let op_a = a.client(&county, "值班员").await;
    let op_b = b.client(&county, "值班员").await;

    // Filed at A's county, which owns a IV fire.
    let filed = op_a
        .call(Request::Act(Act::Report {
            severity: Severity::IV,
            category: Category::Fire,
            title: "仓山区仓库起火 & 浓烟 <需疏散>".into(),
            detail: "三层仓库冒出浓烟，消防已出动。\nSmoke from a three-storey warehouse.".into(),
            place: "仓山区建新镇金山大道 99 号".into(),
            mode: Mode::Actual,
        }))
        .await
        .expect("report");
    let Response::Done { id: incident, .. } = filed else {
        panic!("{filed:?}")
    };
    let first = export(&gw_a, &read_a, incident);
    validate(a.path(), "alert.xml", &first);
    assert!(first.contains("<msgType>Alert</msgType>"), "{first}");
    // The CLI prints the same alert.
    let (cert_a, _) = a.operator(&county, "值班员", "operator");
    let shown = cli(&a, &cert_a, &["incident", "show", &hex(incident).0, "--format", "cap"]);
    assert!(shown.status.success(), "{}", common::stderr(&shown));
    assert_eq!(common::stdout(&shown), first);

    // Into B: an equivalent incident; again: a duplicate, nothing filed.
    let before = incident_count(&op_b).await;
    let imported = post(&gw_b, &platform_b, first.as_bytes());
    assert_eq!(imported.status, 201, "{}", imported.body);
    let (word, copy) = outcome(&imported);
    assert_eq!(word, "filed");
    let copy = copy.expect("the incident's id");
    let (original, there) = (
        incident_at(&op_a, incident).await.expect("A's incident"),
        incident_at(&op_b, copy).await.expect("B's incident"),
    );
    assert_eq!(there.report.severity, original.report.severity);
    assert_eq!(there.report.category, original.report.category);
    assert_eq!(there.report.title, original.report.title);
    assert_eq!(there.report.detail, original.report.detail);
    assert_eq!(there.report.place, original.report.place);
    assert_eq!(there.mode, original.mode);
    assert_eq!(there.owner, county);
    let again = post(&gw_b, &platform_b, first.as_bytes());
    assert_eq!(
        (again.status, outcome(&again)),
        (200, ("duplicate".to_owned(), Some(copy)))
    );
    assert_eq!(incident_count(&op_b).await, before + 1);

    // A accepts and notes: an Update, which B adds to the same incident.
    act(
        &op_a,
        Act::Accept {
            incident: hex(incident),
        },
    )
    .await;
    act(
        &op_a,
        Act::Note {
            incident: hex(incident),
            text: "火势已控制".into(),
        },
    )
    .await;
    let update = export(&gw_a, &read_a, incident);
    validate(a.path(), "update.xml", &update);
    assert!(
        update.contains("<msgType>Update</msgType>") && update.contains("<references>"),
        "{update}"
    );
    let updated = post(&gw_b, &platform_b, update.as_bytes());
    assert_eq!(
        (updated.status, outcome(&updated)),
        (200, ("updated".to_owned(), Some(copy))),
        "{}",
        updated.body
    );
    let there = incident_at(&op_b, copy).await.expect("B's incident");
    assert!(
        there.timeline.iter().any(|e| e.what.contains("CAP Update")),
        "{:?}",
        there.timeline
    );

    // A cancels: B's incident is cancelled.
    act(
        &op_a,
        Act::Cancel {
            incident: hex(incident),
            reason: "误报".into(),
        },
    )
    .await;
    let cancel = export(&gw_a, &read_a, incident);
    validate(a.path(), "cancel.xml", &cancel);
    assert!(cancel.contains("<msgType>Cancel</msgType>"), "{cancel}");
    let cancelled = post(&gw_b, &platform_b, cancel.as_bytes());
    assert_eq!(
        outcome(&cancelled),
        ("cancelled".to_owned(), Some(copy)),
        "{}",
        cancelled.body
    );
    let there = incident_at(&op_b, copy).await.expect("B's incident");
    assert_eq!(there.state, IncidentState::Cancelled);
    assert_eq!(
        incident_count(&op_b).await,
        before + 1,
        "the updates filed incidents of their own"
    );

    // The specification's example alerts import (their areas are American:
    // reports at this center; the earthquake's Update refers to an alert
    // never seen here, so it is filed as new).
    let mut examples: Vec<PathBuf> = std::fs::read_dir(data())
        .expect("the test data")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().contains("appendix")))
        .collect();
    examples.sort();
    assert_eq!(examples.len(), 4, "{examples:?}");
    for example in &examples {
        let xml = std::fs::read(example).expect("read the example");
        let got = post(&gw_b, &platform_b, &xml);
        assert_eq!(
            (got.status, outcome(&got).0.as_str()),
            (201, "filed"),
            "{}: {}",
            example.display(),
            got.body
        );
    }

    // The CLI: a drill alert naming a township below the county is an order
    // to it; a Test alert is read and not filed.
    let (cert_b, _) = b.operator(&county, "值班员", "operator");
    let drill = first
        .replace("<status>Actual</status>", "<status>Exercise</status>")
        .replace(&format!("{:032x}-", incident.0), "drill-")
        .replace(&format!("<value>{COUNTY}</value>"), &format!("<value>{TOWN}</value>"));
    let drill = strip_parameters(&drill);
    let file = b.path().join("drill.xml");
    std::fs::write(&file, &drill).expect("write the drill");
    let out = cli(&b, &cert_b, &["cap", "import", file.to_str().expect("path"), "--json"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let answer: serde_json::Value = serde_json::from_str(common::stdout(&out).trim()).expect("JSON");
    assert_eq!(answer["outcome"], "ordered", "{answer}\n{drill}");
    let order = EnvelopeId(u128::from_str_radix(answer["id"].as_str().expect("id"), 16).expect("hex"));
    match op_b
        .call(Request::Query(Query::Order { id: hex(order) }))
        .await
        .expect("call")
    {
        Response::Order(o) => {
            assert_eq!(o.order.mode, Mode::Exercise);
            assert!(o.targets.iter().any(|(n, _)| n.as_str() == TOWN), "{o:?}");
        }
        other => panic!("{other:?}"),
    }
    let test = first.replace("<status>Actual</status>", "<status>Test</status>");
    std::fs::write(&file, &test).expect("write the test alert");
    let out = cli(&b, &cert_b, &["cap", "import", file.to_str().expect("path")]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert!(
        common::stdout(&out).starts_with("not filed: status Test"),
        "{}",
        common::stdout(&out)
    );
    a.stop_all();
    b.stop_all();
}

/// `xml` without its `liandong:*` parameters: an alert as a platform
/// other than Liandong would send it.
fn strip_parameters(xml: &str) -> String {
    let mut out = String::new();
    let mut rest = xml;
    while let Some(start) = rest.find("<parameter>") {
        let Some(end) = rest[start..].find("</parameter>") else {
            break;
        };
        out.push_str(rest[..start].trim_end_matches([' ', '\n']));
        rest = &rest[start + end + "</parameter>".len()..];
    }
    out.push_str(rest);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_and_broken_alerts_are_refused_with_a_clear_error_and_file_nothing() {
    if !tools("cap_refusals") {
        return;
    }
    let (mut fed, gw) = county_with_gateway(Ipv4Addr::new(127, 0, 18, 3));
    let platform = token(&fed, "省预警发布平台", "cap");
    let reader = token(&fed, "只读系统", "read");
    let op = fed.client(&id(COUNTY), "值班员").await;
    let before = incident_count(&op).await;
    let good = std::fs::read(data().join("appendix-a2.xml")).expect("the example");
    let good_text = String::from_utf8(good.clone()).expect("UTF-8");

    let xxe = "<?xml version=\"1.0\"?>\n<!DOCTYPE alert [\n  <!ENTITY xxe SYSTEM \"file:///etc/passwd\">\n]>\n\
        <alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\"><identifier>&xxe;</identifier></alert>";
    let mut laughs = String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol0 \"lol\">\n");
    for i in 1..10 {
        laughs.push_str(&format!(
            " <!ENTITY lol{i} \"{}\">\n",
            format!("&lol{};", i - 1).repeat(10)
        ));
    }
    laughs.push_str("]>\n<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">&lol9;</alert>");
    let deep = format!(
        "<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">{}",
        "<a>".repeat(50_000)
    );
    let mut not_utf8 = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">\n<identifier>"
        .to_vec();
    not_utf8.extend_from_slice(b"\xC3\x28</identifier>\n</alert>\n");
    let open_polygon = good_text.replace(
        "38.62,-119.89 38.47,-120.14</polygon>",
        "38.62,-119.89 38.40,-120.00</polygon>",
    );
    assert_ne!(open_polygon, good_text, "the example's polygon changed");
    let zulu = good_text.replacen("-07:00</sent>", "Z</sent>", 1);
    let huge = vec![b' '; 10 << 20];
    let cases: [(&str, &[u8], u16, &str); 7] = [
        (
            "an external entity",
            xxe.as_bytes(),
            400,
            "line 2: DOCTYPE is not allowed",
        ),
        (
            "billion laughs",
            laughs.as_bytes(),
            400,
            "line 2: DOCTYPE is not allowed",
        ),
        ("deep nesting", deep.as_bytes(), 400, "nested deeper than 16 levels"),
        ("invalid UTF-8", &not_utf8, 400, "line 3"),
        ("a polygon not closed", open_polygon.as_bytes(), 400, "<polygon>"),
        ("a time in Z", zulu.as_bytes(), 400, "<sent>"),
        ("a 10 MB body", &huge, 413, ""),
    ];
    for (what, body, status, says) in cases {
        let got = post(&gw, &platform, body);
        assert_eq!(got.status, status, "{what}: {}", got.body);
        assert!(got.body.contains(says), "{what}: {}", got.body);
        assert!(!got.body.contains("root:"), "{what}: /etc/passwd read: {}", got.body);
    }
    // A token without scope cap may not import.
    assert_eq!(post(&gw, &reader, &good).status, 403);
    assert_eq!(incident_count(&op).await, before, "a refused alert filed something");
    // The node goes on: a good alert files.
    let got = post(&gw, &platform, &good);
    assert_eq!((got.status, outcome(&got).0.as_str()), (201, "filed"), "{}", got.body);
    assert_eq!(incident_count(&op).await, before + 1);
    fed.stop_all();
}
