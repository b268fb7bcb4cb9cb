//! A federation that runs on its signed document, with real `liandong
//! node run` processes on loopback (real QUIC, TLS, SQLite). Every center
//! enrols by request (its key made on its own machine, signed by the CA)
//! and is set up by `node init` with the bootstrap document: it holds its
//! own key and certificate, the CA's certificate and the document, no
//! directory of other nodes' certificates, no topology file. Then the
//! root publishes versions: a village added under a running township, a
//! village moved to another township (while a node is down), a county
//! revoked; and a replay and a document signed by another key are
//! refused. And a county renews its certificate while reports flow.

mod federation;

use std::ffi::OsString;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use federation::{Federation, file_report, hex, id, subscribe, wait_for};
use liandong_control::Act;
use liandong_control::ControlClient;
use liandong_control::proto::{Notice, Query, Request, Response};
use liandong_dispatch::wire::{Mode, Targets};
use liandong_topology::Severity;

const IP: Ipv4Addr = Ipv4Addr::new(127, 0, 14, 1);
const WAIT: Duration = Duration::from_secs(40);

const CITY: &str = "350100";
const COUNTY: &str = "350102";
const TOWN: &str = "350102001";
const OTHER_TOWN: &str = "350102002";
const VILLAGE: &str = "350102001001";
const MOVER: &str = "350102001002";
const SLEEPER: &str = "350102002001";
const NEWCOMER: &str = "350102001003";

fn liandong(args: &[&str]) -> String {
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
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn liandong_fails(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_liandong"))
        .args(args)
        .output()
        .expect("run liandong");
    assert!(!out.status.success(), "liandong {args:?} should have failed");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn arg(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// The demo topology as document `version`, changed by `edit` (on the
/// file's text), signed by `admin`.
fn document(
    fed: &Federation,
    version: u64,
    edit: impl FnOnce(String) -> String,
    admin: &(PathBuf, PathBuf),
) -> PathBuf {
    let base = std::fs::read_to_string(&fed.topology_file).unwrap();
    sign(
        fed,
        version,
        edit(format!("[document]\nversion = {version}\n\n{base}")),
        admin,
    )
}

/// Version `version` of the federation: the document at `previous`,
/// changed by `edit`, signed by `admin`.
fn next_document(
    fed: &Federation,
    previous: &Path,
    version: u64,
    edit: impl FnOnce(String) -> String,
    admin: &(PathBuf, PathBuf),
) -> PathBuf {
    let text = std::fs::read_to_string(previous).unwrap();
    let at = text.find("\n\n").expect("a [document] table, then the topology");
    sign(
        fed,
        version,
        edit(format!("[document]\nversion = {version}{}", &text[at..])),
        admin,
    )
}

fn sign(fed: &Federation, version: u64, text: String, admin: &(PathBuf, PathBuf)) -> PathBuf {
    let path = fed.path().join(format!("federation-v{version}.toml"));
    std::fs::write(&path, text).unwrap();
    liandong(&[
        "federation",
        "sign",
        arg(&path),
        "--key",
        arg(&admin.1),
        "--cert",
        arg(&admin.0),
    ]);
    path
}

/// A node block of the demo file (`[[node]]` to the next blank line).
fn node_block(text: &str, node: &str) -> String {
    let start = text.find(&format!("id = \"{node}\"")).expect("node in the file");
    let start = text[..start].rfind("[[node]]").unwrap();
    let end = text[start..].find("\n\n").map_or(text.len(), |e| start + e);
    text[start..end].to_owned()
}

/// A machine: its directory, where its certificates and config go.
struct Machine {
    dir: PathBuf,
}

impl Machine {
    fn certs(&self) -> PathBuf {
        self.dir.join("certs")
    }
    fn config(&self) -> PathBuf {
        self.dir.join("node.toml")
    }
}

/// Enrols `node` by request (its key made in its machine's directory),
/// signed by the CA against `topology`, and sets it up with `node init`
/// on the bootstrap `document`.
fn enrol(fed: &Federation, node: &str, topology: &Path, document: &Path) -> Machine {
    let m = Machine {
        dir: fed.path().join("machines").join(node),
    };
    liandong(&["certs", "request", "--node", node, "--out", arg(&m.certs())]);
    ca_signs(fed, topology, &m.certs());
    liandong(&[
        "node",
        "init",
        "--id",
        node,
        "--data",
        arg(&m.dir.join("data")),
        "--document",
        arg(document),
        "--certs",
        arg(&m.certs()),
        "--out",
        arg(&m.config()),
    ]);
    m
}

/// The CA machine signs the request(s) at `path`, checked against `topology`.
fn ca_signs(fed: &Federation, topology: &Path, path: &Path) {
    liandong(&[
        "certs",
        "sign",
        "--ca",
        arg(&fed.certs),
        "--topology",
        arg(topology),
        arg(path),
    ]);
}

fn start(fed: &mut Federation, node: &str) {
    let config = fed.path().join("machines").join(node).join("node.toml");
    fed.start_with(&id(node), &[OsString::from("--config"), config.into()]);
}

async fn operator_at(fed: &mut Federation, node: &str) -> ControlClient {
    let (cert, key) = fed.operator(&id(node), "值班员", "operator");
    // The newcomer is not in the demo topology the harness knows: it
    // listens where version 2 puts it.
    let addr = if node == NEWCOMER {
        let ip = fed.control_addr(&id(CITY)).ip();
        liandong_node::runtime::default_control_addr(std::net::SocketAddr::new(ip, 7117))
    } else {
        fed.control_addr(&id(node))
    };
    ControlClient::connect_with_files(addr, &fed.certs.join("ca.pem"), &cert, &key)
        .await
        .unwrap_or_else(|e| panic!("control client for {node}: {e}"))
}

async fn holds(client: &ControlClient, incident: liandong_dispatch::EnvelopeId) -> bool {
    matches!(
        client.call(Request::Query(Query::Incident { id: hex(incident) })).await,
        Ok(Response::Incident(_))
    )
}

fn publish(fed: &mut Federation, file: &Path) -> Result<String, String> {
    let (cert, _) = fed.operator(&id(CITY), "王芳", "leader");
    let addr = fed.control_addr(&id(CITY)).to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_liandong"))
        .args([
            "federation",
            "publish",
            arg(file),
            "--node",
            &addr,
            "--cert",
            arg(&cert),
        ])
        .output()
        .expect("run liandong");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_federation_runs_on_its_signed_document_and_changes_without_restarts() {
    let mut fed = Federation::demo(IP);
    liandong(&["certs", "issue-admin", "--ca", arg(&fed.certs), "--name", "李明"]);
    let admins = fed.certs.join("admins");
    let admin = (admins.join("李明.pem"), admins.join("李明.key"));
    let v1 = document(&fed, 1, |t| t, &admin);
    let out = liandong(&["federation", "check", arg(&v1), "--ca", arg(&fed.certs.join("ca.pem"))]);
    assert!(out.contains("version 1") && out.contains("李明"), "{out}");

    // Enrolment and set-up, machine by machine; no topology file, no
    // certificates but its own.
    let running = [CITY, COUNTY, TOWN, OTHER_TOWN, VILLAGE, MOVER, SLEEPER];
    for node in running {
        let m = enrol(&fed, node, &fed.topology_file.clone(), &v1);
        let files: Vec<String> = std::fs::read_dir(m.certs())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            files
                .iter()
                .all(|f| ["node.pem", "node.key", "node.csr", "ca.pem"].contains(&f.as_str())),
            "{files:?}"
        );
        let config = std::fs::read_to_string(m.config()).unwrap();
        assert!(!config.contains("\ntopology = \"/"), "{config}");
    }
    for node in running {
        start(&mut fed, node);
    }
    fed.wait_log(&id(VILLAGE), "link up peer=350102001", 1, WAIT);

    // A severity I report from a village reaches the city and every center
    // on its path; the county and city learned the village's certificate
    // from their neighbours.
    let city = operator_at(&mut fed, CITY).await;
    let mut at_city = subscribe(&city).await;
    let village = operator_at(&mut fed, VILLAGE).await;
    let first = file_report(&village, Severity::I, "山洪暴发").await;
    wait_for(
        &mut at_city,
        "the report at the city",
        |n| matches!(n, Notice::IncidentRecorded { incident, .. } if incident.id == first),
    )
    .await;
    for node in [TOWN, COUNTY] {
        let c = operator_at(&mut fed, node).await;
        assert!(holds(&c, first).await, "{node} does not hold the report");
    }

    // Version 2, while a village of the other township is down: a village
    // added under the running township.
    fed.stop(&id(SLEEPER));
    let up = [CITY, COUNTY, TOWN, OTHER_TOWN, VILLAGE, MOVER];
    let v2 = document(
        &fed,
        2,
        |t| {
            let block = node_block(&t, VILLAGE)
                .replace(VILLAGE, NEWCOMER)
                .replace(":7104", ":7117")
                .replace("name = \"", "name = \"新");
            format!("{t}\n{block}\n")
        },
        &admin,
    );
    let said = publish(&mut fed, &v2).expect("version 2 published");
    assert!(said.contains("version 2"), "{said}");
    for node in up {
        fed.wait_log(&id(node), "running on federation document version 2", 1, WAIT);
    }
    for node in up {
        assert_eq!(fed.log_count(&id(node), "node running"), 1, "{node} restarted");
    }
    enrol(&fed, NEWCOMER, &v2, &v2);
    start(&mut fed, NEWCOMER);
    fed.wait_log(&id(NEWCOMER), "link up peer=350102001", 1, WAIT);
    let newcomer = operator_at(&mut fed, NEWCOMER).await;
    let hello = file_report(&newcomer, Severity::I, "新村报到").await;
    wait_for(
        &mut at_city,
        "the newcomer's report at the city",
        |n| matches!(n, Notice::IncidentRecorded { incident, .. } if incident.id == hello),
    )
    .await;

    // Version 3, while that village is still down: a village moves to the
    // other township; its next report takes the new path.
    let v3 = next_document(
        &fed,
        &v2,
        3,
        |t| {
            let old = node_block(&t, MOVER);
            let new = old.replace("parent = \"350102001\"", "parent = \"350102002\"");
            t.replace(&old, &new)
        },
        &admin,
    );
    publish(&mut fed, &v3).expect("version 3 published");
    fed.wait_log(&id(MOVER), "running on federation document version 3", 1, WAIT);
    fed.wait_log(&id(MOVER), "link up peer=350102002", 1, WAIT);
    let mover = operator_at(&mut fed, MOVER).await;
    let moved = file_report(&mover, Severity::I, "迁村后首报").await;
    wait_for(
        &mut at_city,
        "the moved village's report at the city",
        |n| matches!(n, Notice::IncidentRecorded { incident, .. } if incident.id == moved),
    )
    .await;
    let other_town = operator_at(&mut fed, OTHER_TOWN).await;
    let town = operator_at(&mut fed, TOWN).await;
    assert!(holds(&other_town, moved).await, "the new township is not on its path");
    assert!(!holds(&town, moved).await, "the old township is still on its path");
    // It was down for both publishes; version 3 carries version 2's change.
    start(&mut fed, SLEEPER);
    fed.wait_log(&id(SLEEPER), "running on federation document version 3", 1, WAIT);

    // A replay of an older version, and a document signed by a key that is
    // not an admin's, are refused at the root.
    let replay = publish(&mut fed, &v2).expect_err("a replay of version 2");
    assert!(replay.contains("not newer"), "{replay}");
    let (op_cert, op_key) = fed.operator(&id(CITY), "王芳", "leader");
    let forged = document(&fed, 4, |t| t, &(op_cert, op_key));
    let refused = publish(&mut fed, &forged).expect_err("a document signed by an operator");
    assert!(refused.contains("not by a federation admin"), "{refused}");

    // Version 4 revokes the county's certificate (a stolen machine): the
    // city, and the townships once the document has come down through the
    // county, refuse it, each within 5 s of the document's arrival.
    let county_cert = fed.path().join("machines").join(COUNTY).join("certs").join("node.pem");
    let serial = serial_of(&county_cert);
    let v4 = next_document(
        &fed,
        &v3,
        4,
        |t| {
            format!(
                "{t}\n[[revoked]]\nserial = \"{serial}\"\nreason = \"key-compromise\"\n\
                 revoked_at = \"2026-12-05T10:00:00Z\"\nsubject = \"liandong://node/{COUNTY}\"\n"
            )
        },
        &admin,
    );
    let down = format!("link down peer={COUNTY}");
    let downs: Vec<usize> = [CITY, TOWN, OTHER_TOWN]
        .iter()
        .map(|n| fed.log_count(&id(n), &down))
        .collect();
    publish(&mut fed, &v4).expect("version 4 published");
    for (node, downs) in [CITY, TOWN, OTHER_TOWN].into_iter().zip(downs) {
        let applied = fed.wait_log(&id(node), "running on federation document version 4", 1, WAIT);
        let refused = fed.wait_log(&id(node), "revoked=1 closed=1", 1, WAIT);
        let gap = log_time(&refused) - log_time(&applied);
        assert!(
            gap < 5.0,
            "{node} refused the county {gap:.1} s after the document arrived"
        );
        let closed = fed.wait_log(&id(node), &down, downs + 1, WAIT);
        let gap = log_time(&closed) - log_time(&applied);
        assert!(
            gap < 5.0,
            "{node} closed the county's link {gap:.1} s after the document arrived"
        );
        assert!(closed.contains("revoked"), "{closed}");
    }
    fed.stop_all();
}

/// A log line's time, in seconds of the day.
fn log_time(line: &str) -> f64 {
    let t = line
        .split_whitespace()
        .next()
        .and_then(|s| s.split('T').nth(1))
        .unwrap_or("");
    let t = t.trim_end_matches('Z');
    let mut parts = t.split(':').map(|p| p.parse::<f64>().unwrap_or(f64::NAN));
    let (h, m, s) = (parts.next(), parts.next(), parts.next());
    match (h, m, s) {
        (Some(h), Some(m), Some(s)) if !(h + m + s).is_nan() => h * 3600.0 + m * 60.0 + s,
        _ => panic!("no time in the log line {line:?}"),
    }
}

/// The serial of the certificate at `path`, as revocation lists write it.
fn serial_of(path: &Path) -> String {
    let out = liandong(&["certs", "inspect", arg(path)]);
    out.lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("serial")
                .map(|s| s.trim_start_matches([':', ' ']).trim().to_owned())
        })
        .unwrap_or_else(|| panic!("no serial in:\n{out}"))
}

/// Broken document files are refused by `federation check`, each with an
/// error naming the file and what is wrong.
#[test]
fn broken_documents_are_refused_with_the_reason() {
    let mut fed = Federation::demo(Ipv4Addr::new(127, 0, 14, 2));
    liandong(&["certs", "issue-admin", "--ca", arg(&fed.certs), "--name", "李明"]);
    let admins = fed.certs.join("admins");
    let admin = (admins.join("李明.pem"), admins.join("李明.key"));
    let ca = fed.certs.join("ca.pem");
    let v1 = document(&fed, 1, |t| t, &admin);
    let text = std::fs::read_to_string(&v1).unwrap();

    // Changed after signing: one center renamed.
    std::fs::write(&v1, text.replacen("name = \"", "name = \"伪", 1)).unwrap();
    let err = liandong_fails(&["federation", "check", arg(&v1), "--ca", arg(&ca)]);
    assert!(err.contains("federation-v1.toml") && err.contains("signature"), "{err}");

    // Cut short in the middle of a table.
    std::fs::write(&v1, &text[..text.len() / 2]).unwrap();
    let err = liandong_fails(&["federation", "check", arg(&v1), "--ca", arg(&ca)]);
    assert!(err.contains("federation-v1.toml"), "{err}");

    // Its signature file missing.
    std::fs::write(&v1, &text).unwrap();
    std::fs::remove_file(fed.path().join("federation-v1.toml.sig")).unwrap();
    let err = liandong_fails(&["federation", "check", arg(&v1), "--ca", arg(&ca)]);
    assert!(err.contains("federation-v1.toml.sig"), "{err}");

    // Signed by a key the CA did not certify as an admin.
    let (op_cert, op_key) = fed.operator(&id(CITY), "王芳", "leader");
    let forged = document(&fed, 2, |t| t, &(op_cert, op_key));
    let err = liandong_fails(&["federation", "check", arg(&forged), "--ca", arg(&ca)]);
    assert!(err.contains("federation-v2.toml") && err.contains("admin"), "{err}");
}

/// A county renews its certificate while reports flow through it and from
/// it: a new key made on its machine, the CA's signature, `certs renew`,
/// SIGHUP; no restart, nothing lost or duplicated at the city or at the
/// county. Then the county restarts, and a township that was never up
/// before gets an order the county signed with its old key: it asks the
/// county, which answers with the old certificate it kept, so the order
/// checks and arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_county_renews_its_certificate_while_reports_flow() {
    let mut fed = Federation::demo(Ipv4Addr::new(127, 0, 14, 3));
    liandong(&["certs", "issue-admin", "--ca", arg(&fed.certs), "--name", "李明"]);
    let admins = fed.certs.join("admins");
    let v1 = document(&fed, 1, |t| t, &(admins.join("李明.pem"), admins.join("李明.key")));
    let topology = fed.topology_file.clone();
    for node in [CITY, COUNTY, TOWN, VILLAGE, OTHER_TOWN] {
        enrol(&fed, node, &topology, &v1);
    }
    for node in [CITY, COUNTY, TOWN, VILLAGE] {
        start(&mut fed, node);
    }
    fed.wait_log(&id(VILLAGE), "link up peer=350102001", 1, WAIT);
    fed.wait_log(&id(COUNTY), "link up peer=350100", 1, WAIT);

    // Before the renewal: an order from the county to a township that is
    // down (it waits in the county's outbox, signed with the old key).
    let (cert, key) = fed.operator(&id(COUNTY), "县领导", "leader");
    let county =
        ControlClient::connect_with_files(fed.control_addr(&id(COUNTY)), &fed.certs.join("ca.pem"), &cert, &key)
            .await
            .expect("the county's leader");
    let order = match county
        .call(Request::Act(Act::Dispatch {
            incident: None,
            targets: Targets::Node(id(OTHER_TOWN)),
            severity: Severity::II,
            instruction: "核查堤防隐患".into(),
            finish_by: None,
            mode: Mode::Actual,
        }))
        .await
        .expect("dispatch")
    {
        Response::Done { id, .. } => id,
        other => panic!("dispatch refused: {other:?}"),
    };

    // Reports flow from the village (through the county) and from the
    // county itself, before, during and after the renewal.
    let village = operator_at(&mut fed, VILLAGE).await;
    let (filed_tx, mut filed_rx) = tokio::sync::mpsc::unbounded_channel();
    const EACH: usize = 30;
    let flow = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        let mut ids = Vec::new();
        for i in 0..EACH {
            tick.tick().await;
            for (who, client) in [("村", &village), ("县", &county)] {
                let id = file_report(client, Severity::I, &format!("轮换{who}{i}")).await;
                ids.push(id);
                let _ = filed_tx.send(id);
            }
        }
        ids
    });
    for _ in 0..10 {
        filed_rx.recv().await.expect("reports being filed");
    }

    // The renewal, as the ops team does it.
    let certs = fed.path().join("machines").join(COUNTY).join("certs");
    let old_serial = serial_of(&certs.join("node.pem"));
    liandong(&["certs", "request", "--node", COUNTY, "--out", arg(&certs), "--renew"]);
    ca_signs(&fed, &topology, &certs.join("renewal").join("node.csr"));
    let said = liandong(&["certs", "renew", "--certs", arg(&certs)]);
    assert!(said.contains(&old_serial), "{said}");
    let new_serial = serial_of(&certs.join("node.pem"));
    assert_ne!(new_serial, old_serial);
    let retired = format!("node.{}.pem", old_serial.replace(':', ""));
    assert!(certs.join("retired").join(retired).exists());
    fed.hangup(&id(COUNTY));
    let line = fed.wait_log(&id(COUNTY), "the renewed certificate is in force", 1, WAIT);
    assert!(line.contains(&new_serial), "{line}");
    assert_eq!(fed.log_count(&id(COUNTY), "node running"), 1, "the county restarted");
    let status = operator_at(&mut fed, COUNTY)
        .await
        .call(Request::Query(Query::Status))
        .await;
    match status {
        Ok(Response::Status(s)) => {
            let c = s.certificate.expect("the county's status shows its certificate");
            assert_eq!(c.serial, new_serial);
            assert!(c.days_left > 700, "{c:?}");
        }
        other => panic!("status: {other:?}"),
    }

    let filed = tokio::time::timeout(WAIT, flow)
        .await
        .expect("the reports filed")
        .expect("filer");
    assert_eq!(filed.len(), 2 * EACH);
    // Nothing lost, nothing twice: every report once at the city and at
    // the county.
    for node in [CITY, COUNTY] {
        let client = operator_at(&mut fed, node).await;
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let Response::Incidents(all) = client
                .call(Request::Query(Query::Incidents { closed: true }))
                .await
                .expect("incidents")
            else {
                panic!("not an incident list");
            };
            let ours: Vec<_> = all.iter().filter(|i| i.report.title.starts_with("轮换")).collect();
            let mut ids: Vec<_> = ours.iter().map(|i| i.id).collect();
            ids.sort();
            ids.dedup();
            assert_eq!(ids.len(), ours.len(), "{node} holds a report twice");
            if filed.iter().all(|f| ids.contains(f)) {
                assert_eq!(ids.len(), filed.len(), "{node} holds reports nobody filed");
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{node} holds {} of the {} reports",
                ids.len(),
                filed.len()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    // The county restarts on its new certificate; the township comes up
    // for the first time and gets the order signed with the old key.
    fed.stop(&id(COUNTY));
    start(&mut fed, COUNTY);
    start(&mut fed, OTHER_TOWN);
    let town = operator_at(&mut fed, OTHER_TOWN).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !matches!(
        town.call(Request::Query(Query::Order { id: hex(order) })).await,
        Ok(Response::Order(_))
    ) {
        assert!(
            std::time::Instant::now() < deadline,
            "the order signed before the renewal did not reach the township"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    fed.stop_all();
}
