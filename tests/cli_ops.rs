//! The operator commands (`report`, `dispatch`, `incident`, `incidents`,
//! `status`, ...), run as the real binary against a control API server
//! hosted by this test process with a fake driver, over real QUIC and TLS
//! with certificates in a federation directory.

mod common;

use common::control::{FakeNode, ME, id, now_ms, ops, push};
use common::{arg, column_of, liandong, stderr, stdout};
use liandong_certs::{CaDir, Role};
use liandong_control::{Act, Query};
use liandong_control::{CertificateStatus, LinkView, NodeStatus, Notice, OrderView, Pushed, Request, Response};
use liandong_dispatch::store::{Incident, IncidentState, OrderRecord, RollUp};
use liandong_dispatch::wire::{Category, EnvelopeId, Mode, Order, Report, TargetState, Targets, Timestamp};
use liandong_node::control::Call;
use liandong_topology::{Level, Severity};
use tokio::sync::broadcast;

const INCIDENT: EnvelopeId = EnvelopeId(0x3f2a_9c0e_1b7d_4a5e_8f00_1122_3344_5566);
const ORDER: EnvelopeId = EnvelopeId(0x7c41_0000_0000_0000_0000_0000_0000_0001);

fn incident(n: EnvelopeId, title: &str, mode: Mode, state: IncidentState) -> Incident {
    Incident {
        id: n,
        origin: id("350102001001"),
        report: Report {
            severity: Severity::III,
            category: Category::Fire,
            title: title.into(),
            detail: "三楼冒烟".into(),
            place: "仓山区建新镇".into(),
            reporter: "王芳".into(),
            photos: Vec::new(),
        },
        mode,
        reported: Timestamp(now_ms() - 90_000),
        owner: id("350100"),
        state,
        accepted_by: None,
        accept_by: Timestamp(now_ms() + 600_000),
        finish_by: None,
        supervisor: None,
        orders: Vec::new(),
        timeline: Vec::new(),
    }
}

fn order_view() -> OrderView {
    OrderView {
        order: OrderRecord {
            id: ORDER,
            issuer: id(ME),
            order: Order {
                incident: Some(INCIDENT),
                targets: Targets::List(vec![id("350102001"), id("350102002")]),
                severity: Severity::III,
                instruction: "疏散周边群众".into(),
                by: "张伟".into(),
                finish_by: None,
            },
            mode: Mode::Actual,
            issued: Timestamp(now_ms()),
            sign_for_by: Timestamp(now_ms() + 600_000),
            finish_by: Timestamp(now_ms() + 7_200_000),
        },
        roll_up: RollUp {
            targets: 2,
            ..RollUp::default()
        },
        targets: Vec::new(),
    }
}

fn status() -> NodeStatus {
    let link = |peer: &str, name: &str, relation: &str, up: bool| LinkView {
        peer: id(peer),
        name: name.into(),
        relation: relation.into(),
        up,
        last_heard: Timestamp(now_ms() - 2_000),
        rtt_ms: Some(12),
        queued: 0,
    };
    NodeStatus {
        node: id(ME),
        name: "鼓楼区综治中心".into(),
        level: Level::County,
        parent: Some(id("350100")),
        failed_over: false,
        links: vec![
            link("350100", "福州市综治中心", "parent", true),
            link("350102001", "Wenquan street", "child", true),
            link("350102-police", "鼓楼公安", "unit", false),
        ],
        incidents_open: 2,
        orders_open: 1,
        storage_problem: None,
        started: Timestamp(now_ms() - 3_600_000),
        now: Timestamp(now_ms()),
        // Valid for 12 more days and an hour: renewal is due.
        certificate: Some(CertificateStatus::at(
            "3a:5f:09".into(),
            Timestamp(now_ms() + 12 * 86_400_000 + 3_600_000),
            Timestamp(now_ms()),
        )),
        gateway: Default::default(),
    }
}

fn snapshot() -> Response {
    Response::Snapshot {
        status: status(),
        incidents: Vec::new(),
        orders: Vec::new(),
        rooms: Vec::new(),
    }
}

/// The fake driver: canned answers, and for reports and orders the stages
/// a real federation would push after taking them.
fn answer(call: &Call, pushed: &broadcast::Sender<Pushed>) -> Response {
    match &call.request {
        Request::Act(Act::Report { title, .. }) => {
            let what = format!("{title} reported by {}", call.operator.name);
            let mut accepted = incident(INCIDENT, title, Mode::Actual, IncidentState::Accepted);
            accepted.accepted_by = Some("陈明".into());
            let (tx, stages) = (pushed.clone(), accepted);
            // After the answer: the CLI subscribed before filing.
            tokio::spawn(async move {
                tokio::task::yield_now().await;
                if tx.receiver_count() == 0 {
                    return; // not watching
                }
                push(
                    &tx,
                    Notice::Forwarded {
                        id: INCIDENT,
                        to: id("350100"),
                    },
                );
                push(
                    &tx,
                    Notice::IncidentChanged {
                        incident: stages,
                        action: "accept".into(),
                        by: id("350100"),
                    },
                );
            });
            Response::Done { id: INCIDENT, what }
        }
        Request::Act(Act::Dispatch { .. }) => {
            let tx = pushed.clone();
            tokio::spawn(async move {
                tokio::task::yield_now().await;
                if tx.receiver_count() == 0 {
                    return;
                }
                let mut roll_up = RollUp {
                    targets: 2,
                    ..RollUp::default()
                };
                roll_up.delivered = 1;
                let progress = |target: &str, state: TargetState, roll_up: RollUp| Notice::OrderProgress {
                    order: ORDER,
                    target: id(target),
                    state,
                    roll_up,
                };
                push(&tx, progress("350102001", TargetState::Delivered, roll_up));
                roll_up.signed_for = 1;
                push(
                    &tx,
                    progress("350102001", TargetState::SignedFor { by: "李娜".into() }, roll_up),
                );
                roll_up.delivered = 2;
                roll_up.signed_for = 2;
                push(
                    &tx,
                    progress("350102002", TargetState::SignedFor { by: "周强".into() }, roll_up),
                );
            });
            Response::Done {
                id: ORDER,
                what: "order issued".into(),
            }
        }
        Request::Act(Act::Accept { incident }) => Response::Refused {
            reason: format!("no incident here matches {:?}", incident.0),
        },
        Request::Query(Query::Incidents { .. }) => Response::Incidents(vec![
            incident(INCIDENT, "仓库冒烟", Mode::Actual, IncidentState::Reported),
            incident(EnvelopeId(7 << 80), "消防演练", Mode::Exercise, IncidentState::Accepted),
        ]),
        Request::Query(Query::Incident { .. }) => {
            Response::Incident(incident(INCIDENT, "仓库冒烟", Mode::Actual, IncidentState::Reported))
        }
        Request::Query(Query::Orders { .. }) => Response::Orders(vec![order_view()]),
        Request::Query(Query::Status) => Response::Status(status()),
        Request::Query(Query::Subscribe) => snapshot(),
        other => Response::Refused {
            reason: format!("not in this fake: {other:?}"),
        },
    }
}

#[test]
fn report_prints_the_id_and_files_what_was_typed() {
    let node = FakeNode::start(answer);
    let out = node.run(&[
        "report",
        "--severity",
        "III",
        "--category",
        "fire",
        "--title",
        "仓库冒烟",
        "--place",
        "仓山区",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(
        text,
        "仓库冒烟 reported by 张伟 (3f2a9c0e1b7d)\n  id 3f2a9c0e1b7d4a5e8f00112233445566\n"
    );
    let requests = node.requests();
    assert_eq!(
        requests,
        vec![Request::Act(Act::Report {
            severity: Severity::III,
            category: Category::Fire,
            title: "仓库冒烟".into(),
            detail: String::new(),
            place: "仓山区".into(),
            mode: Mode::Actual,
        })]
    );
    let calls = node.seen.lock().unwrap();
    assert_eq!(calls[0].operator.name, "张伟");
    assert_eq!(calls[0].operator.role, Role::Leader);
}

#[test]
fn report_watch_follows_the_report_until_it_is_accepted() {
    let node = FakeNode::start(answer);
    let out = node.run(&[
        "report",
        "--severity",
        "iii",
        "--category",
        "fire",
        "--title",
        "仓库冒烟",
        "--exercise",
        "--watch",
        "--watch-timeout",
        "20",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert_eq!(lines[1], "  id 3f2a9c0e1b7d4a5e8f00112233445566", "{text}");
    assert!(lines[2].ends_with("  stored at 350100"), "{text}");
    assert!(
        lines[3].ends_with("  accept by 350100: accepted, owner 350100"),
        "{text}"
    );
    assert!(matches!(
        node.requests().as_slice(),
        [
            Request::Query(Query::Subscribe),
            Request::Act(Act::Report {
                mode: Mode::Exercise,
                ..
            })
        ]
    ));
}

#[test]
fn dispatch_watch_prints_each_acknowledgement_with_the_roll_up() {
    let node = FakeNode::start(answer);
    let out = node.run(&[
        "dispatch",
        "--to",
        "350102001,350102002",
        "--severity",
        "III",
        "--instruction",
        "疏散周边群众",
        "--incident",
        "3F2A9C0E1B7D",
        "--finish-within",
        "2h",
        "--watch",
        "--watch-timeout",
        "20",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    assert_eq!(lines[0], "order issued (7c4100000000)", "{text}");
    assert!(lines[2].ends_with("350102001: delivered (0 of 2 signed for)"), "{text}");
    assert!(
        lines[3].ends_with("350102001: signed for by 李娜 (1 of 2 signed for)"),
        "{text}"
    );
    assert!(
        lines[4].ends_with("350102002: signed for by 周强 (2 of 2 signed for)"),
        "{text}"
    );
    match &node.requests()[1] {
        Request::Act(Act::Dispatch {
            incident,
            targets,
            finish_by,
            ..
        }) => {
            assert_eq!(incident.as_ref().unwrap().0, "3f2a9c0e1b7d");
            assert_eq!(targets, &Targets::List(vec![id("350102001"), id("350102002")]));
            let within = finish_by.unwrap().0.saturating_sub(now_ms());
            assert!((7_000_000..=7_200_000).contains(&within), "{within}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn incidents_print_an_aligned_table_and_parseable_json() {
    let node = FakeNode::start(answer);
    let out = node.run(&["incidents"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].starts_with("ID "), "{text}");
    assert!(lines[1].starts_with("3f2a9c0e1b7d  III  fire"), "{text}");
    assert!(lines[2].contains("[exercise] 消防演练"), "{text}");
    // Every column starts at the same display column on every line.
    for (header, cells) in [
        ("STATE", ["reported", "accepted"]),
        ("TITLE", ["仓库冒烟", "[exercise]"]),
    ] {
        let at = column_of(lines[0], header);
        assert_eq!(column_of(lines[1], cells[0]), at, "{text}");
        assert_eq!(column_of(lines[2], cells[1]), at, "{text}");
    }

    let out = node.run(&["incidents", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("valid JSON");
    let list = json.as_array().expect("an array");
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["id"], "3f2a9c0e1b7d4a5e8f00112233445566");
    assert_eq!(list[0]["report"]["title"], "仓库冒烟");
    assert_eq!(list[1]["mode"], "Exercise");

    let out = node.run(&["incidents", "3f2a"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("incident  3f2a9c0e1b7d (3f2a9c0e1b7d4a5e8f00112233445566)"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        node.requests(),
        vec![
            Request::Query(Query::Incidents { closed: false }),
            Request::Query(Query::Incidents { closed: false }),
            Request::Query(Query::Incident {
                id: liandong_control::IdRef("3f2a".into())
            }),
        ]
    );
}

#[test]
fn status_shows_the_node_and_its_links_with_cjk_names_aligned() {
    let node = FakeNode::start(answer);
    let out = node.run(&["status"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with("node         350102 鼓楼区综治中心 (county)\n"),
        "{text}"
    );
    assert!(text.contains("parent       350100\n"), "{text}");
    assert!(text.contains("open         2 incidents, 1 orders\n"), "{text}");
    assert!(text.contains("certificate  serial 3a:5f:09  expires "), "{text}");
    assert!(
        text.contains(" (12 days)\nWARNING: the certificate expires in 12 days: renew it"),
        "{text}"
    );
    let table: Vec<&str> = text.lines().skip_while(|l| !l.starts_with("PEER")).collect();
    assert_eq!(table.len(), 4, "{text}");
    let at = column_of(table[0], "RELATION");
    for (line, relation) in table[1..].iter().zip(["parent", "child", "unit"]) {
        assert_eq!(column_of(line, relation), at, "{text}");
    }
    assert!(table[3].contains("DOWN"), "{text}");

    let out = node.run(&["status", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("valid JSON");
    assert_eq!(json["links"][0]["name"], "福州市综治中心");
    assert_eq!(json["certificate"]["serial"], "3a:5f:09");
    assert_eq!(json["certificate"]["days_left"], 12);
}

#[test]
fn orders_list_shows_the_roll_up() {
    let node = FakeNode::start(answer);
    let out = node.run(&["orders"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("7c4100000000  III  350102  350102001,350102002  0 of 2 signed for")),
        "{text}"
    );
}

#[test]
fn a_refusal_prints_the_reason_and_exits_1() {
    let node = FakeNode::start(answer);
    let out = node.run(&["incident", "accept", "ffff"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert_eq!(stderr(&out), "error: no incident here matches \"ffff\"\n");
    assert!(stdout(&out).is_empty());
}

#[test]
fn connection_settings_come_from_flags_or_the_environment() {
    let node = FakeNode::start(answer);

    let out = ops(&["status", "--cert", arg(&node.cert)], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.starts_with("error: no node to talk to: pass --node"), "{err}");
    assert!(err.contains("LIANDONG_NODE"), "{err}");

    let addr = node.addr.to_string();
    let out = ops(&["status", "--node", addr.as_str()], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("pass --cert FILE"), "{}", stderr(&out));

    let out = ops(
        &["status"],
        &[("LIANDONG_NODE", &addr), ("LIANDONG_CERT", arg(&node.cert))],
    );
    assert!(out.status.success(), "{}", stderr(&out));

    // A certificate outside the federation layout needs --ca.
    let elsewhere = node.dir.path().join("张伟.pem");
    std::fs::copy(&node.cert, &elsewhere).unwrap();
    let key = node.cert.with_extension("key");
    let out = ops(
        &[
            "status",
            "--node",
            addr.as_str(),
            "--cert",
            arg(&elsewhere),
            "--key",
            arg(&key),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with("error: no CA certificate: pass --ca FILE"),
        "{}",
        stderr(&out)
    );
    let ca = CaDir::new(node.dir.path()).ca_cert();
    let out = ops(
        &[
            "status",
            "--node",
            addr.as_str(),
            "--cert",
            arg(&elsewhere),
            "--key",
            arg(&key),
            "--ca",
            arg(&ca),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn usage_errors_exit_2_and_help_names_the_environment() {
    let out = ops(
        &["report", "--severity", "V", "--category", "fire", "--title", "x"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("invalid value 'V' for '--severity"),
        "{}",
        stderr(&out)
    );

    let out = ops(&["incident", "accept", "not-hex"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("expected up to 32 hex digits"),
        "{}",
        stderr(&out)
    );

    let out = ops(&["dispatch", "--severity", "IV", "--instruction", "x"], &[]);
    assert_eq!(out.status.code(), Some(2), "one of --to or --subtree is required");

    let help = liandong(&["report", "--help"]);
    assert!(stdout(&help).contains("LIANDONG_NODE"), "{}", stdout(&help));
}

#[test]
fn a_node_that_is_not_there_is_reported_by_address() {
    // A federation directory but nothing listening: bind a UDP port and
    // keep it, so nothing else answers on it while the CLI waits.
    let node = FakeNode::start(answer);
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap().to_string();
    let out = ops(&["status", "--node", addr.as_str(), "--cert", arg(&node.cert)], &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.starts_with(&format!("error: cannot reach the node at {addr}")),
        "{err}"
    );
}
