//! `liandong room ...`, run as the real binary against a control API server
//! hosted by this test process with a fake driver (`common::control`),
//! over real QUIC and TLS: what each command asks the node, what it prints,
//! and how an act waits for the room's home to take or refuse it.

mod common;

use liandong_control::{Act, Query};
use std::sync::atomic::{AtomicUsize, Ordering};

use common::control::{FakeNode, ME, id, now_ms, ops, push};
use common::{column_of, liandong, stderr, stdout};
use liandong_control::{IdRef, LinkView, NodeStatus, Notice, Pushed, Request, Response, RoomView};
use liandong_dispatch::room::{
    Attendee, Closing, Decision, Minutes, MinutesTask, Person, Presence, Room, RoomEntry, RoomLine, RoomState, RoomTask,
};
use liandong_dispatch::wire::{Category, EnvelopeId, Mode, Role, RoomAct, TargetState, Timestamp};
use liandong_node::control::Call;
use liandong_topology::{Level, Severity};
use tokio::sync::broadcast;
use unicode_width::UnicodeWidthChar;

/// The room, named by its incident.
const ROOM: EnvelopeId = EnvelopeId(0x3f2a_9c0e_1b7d_4a5e_8f00_1122_3344_5566);
const ROOM_HEX: &str = "3f2a9c0e1b7d4a5e8f00112233445566";
/// The ask the fake node answers every act with.
const ASK: EnvelopeId = EnvelopeId(0xa5c0_0000_0000_0000_0000_0000_0000_0001);
/// Someone else's ask, answered while the CLI waits for its own.
const OTHER_ASK: EnvelopeId = EnvelopeId(0xb7d0_0000_0000_0000_0000_0000_0000_0002);
/// The order the home issued for the room's task.
const ORDER: EnvelopeId = EnvelopeId(0x7c41_0000_0000_0000_0000_0000_0000_0001);
/// When the room opened: 2026-09-21 22:13:20 at UTC+8.
const T0: u64 = 1_790_000_000_000;
/// The machine's time zone for tests that check printed times: UTC+8.
const TZ: (&str, &str) = ("TZ", "CST-8");
/// What the home refuses.
const NOT_PRESENT: &str = "李娜 is not in the coordination room of incident 3f2a9c0e1b7d: enter it first";

fn zhang() -> Person {
    Person {
        node: id(ME),
        name: "张伟".into(),
        role: Role::Leader,
    }
}

fn li() -> Person {
    Person {
        node: id("350102001"),
        name: "李娜".into(),
        role: Role::Operator,
    }
}

fn minute(n: u64) -> Timestamp {
    Timestamp(T0 + n * 60_000)
}

fn task() -> RoomTask {
    RoomTask {
        seq: 4,
        order: ORDER,
        target: id("350102001"),
        instruction: "疏散周边群众".into(),
        by: zhang(),
        finish_by: Some(minute(120)),
        state: TargetState::SignedFor { by: "李娜".into() },
        at: minute(6),
    }
}

/// The room's log as the home numbered it: entry `seq` of eight.
fn entry(seq: u64) -> RoomEntry {
    let (by, line) = match seq {
        1 => (Some(zhang()), RoomLine::Opened),
        2 => (Some(li()), RoomLine::Entered),
        3 => (
            Some(li()),
            RoomLine::Said {
                text: "消防车已到达现场".into(),
            },
        ),
        4 => (
            Some(zhang()),
            RoomLine::Tasked {
                order: ORDER,
                target: id("350102001"),
                instruction: "疏散周边群众".into(),
                finish_by: Some(minute(120)),
            },
        ),
        5 => (
            Some(li()),
            RoomLine::Said {
                text: "现场风大".into(),
            },
        ),
        6 => (
            Some(zhang()),
            RoomLine::Decided {
                text: "转移周边三栋楼群众".into(),
            },
        ),
        7 => (
            None,
            RoomLine::TaskProgress {
                task: 4,
                target: id("350102001"),
                state: TargetState::SignedFor { by: "李娜".into() },
            },
        ),
        8 => (
            Some(zhang()),
            RoomLine::Closed {
                summary: "火情已扑灭".into(),
            },
        ),
        _ => unreachable!("the log has eight entries"),
    };
    RoomEntry {
        room: ROOM,
        seq,
        event: EnvelopeId(0xe000 + u128::from(seq)),
        ask: None,
        at: minute(seq - 1),
        by,
        line,
    }
}

/// The room after `last` events (closed after the eighth).
fn room(last: u64) -> Room {
    let closing = (last >= 8).then(|| Closing {
        at: minute(7),
        by: zhang(),
        summary: "火情已扑灭".into(),
    });
    Room {
        id: ROOM,
        home: id(ME),
        origin: id("350102001001"),
        title: "仓库冒烟".into(),
        severity: Severity::III,
        category: Category::Fire,
        place: "仓山区建新镇".into(),
        mode: Mode::Actual,
        opened: minute(0),
        opened_by: zhang(),
        state: if closing.is_some() {
            RoomState::Closed
        } else {
            RoomState::Open
        },
        closing,
        present: vec![
            Presence {
                person: zhang(),
                since: minute(0),
            },
            Presence {
                person: li(),
                since: minute(1),
            },
        ],
        invited: vec![id("350102-police")],
        tasks: vec![task()],
        last_seq: last,
    }
}

fn view(last: u64) -> RoomView {
    RoomView {
        room: room(last),
        log: (1..=last).map(entry).collect(),
    }
}

/// A second room, a drill, whose task is done.
fn drill() -> Room {
    let mut drill = room(2);
    drill.id = EnvelopeId(7 << 80);
    drill.title = "防汛演练".into();
    drill.mode = Mode::Exercise;
    drill.severity = Severity::IV;
    drill.home = id("350100");
    drill.present.truncate(1);
    drill.tasks[0].state = TargetState::Done { note: String::new() };
    drill
}

fn minutes() -> Minutes {
    Minutes {
        room: ROOM,
        title: "仓库冒烟".into(),
        severity: Severity::III,
        mode: Mode::Actual,
        home: id(ME),
        home_name: "鼓楼区综治中心".into(),
        opened: minute(0),
        opened_by: zhang(),
        closing: None,
        attendees: vec![
            Attendee {
                person: zhang(),
                node_name: "鼓楼区综治中心".into(),
                first_entered: minute(0),
            },
            Attendee {
                person: li(),
                node_name: "温泉街道".into(),
                first_entered: minute(1),
            },
        ],
        decisions: vec![Decision {
            seq: 6,
            at: minute(5),
            by: zhang(),
            text: "转移周边三栋楼群众".into(),
        }],
        tasks: vec![MinutesTask {
            task: task(),
            target_name: "温泉街道".into(),
        }],
        events: 6,
    }
}

fn snapshot() -> Response {
    Response::Snapshot {
        status: NodeStatus {
            node: id(ME),
            name: "鼓楼区综治中心".into(),
            level: Level::County,
            parent: Some(id("350100")),
            failed_over: false,
            links: vec![LinkView {
                peer: id("350100"),
                name: "福州市综治中心".into(),
                relation: "parent".into(),
                up: true,
                last_heard: Timestamp(now_ms()),
                rtt_ms: Some(3),
                queued: 0,
            }],
            incidents_open: 1,
            orders_open: 1,
            storage_problem: None,
            started: Timestamp(now_ms()),
            now: Timestamp(now_ms()),
        },
        incidents: Vec::new(),
        orders: Vec::new(),
        rooms: vec![room(4)],
    }
}

/// The log line the home records for `act`, taken as event `seq`.
fn taken(act: &RoomAct, ask: EnvelopeId, seq: u64) -> Notice {
    let line = match act.clone() {
        RoomAct::Open => RoomLine::Opened,
        RoomAct::Enter => RoomLine::Entered,
        RoomAct::Leave => RoomLine::Left,
        RoomAct::Say { text } => RoomLine::Said { text },
        RoomAct::Decide { text } => RoomLine::Decided { text },
        RoomAct::Task {
            target,
            instruction,
            finish_by,
        } => RoomLine::Tasked {
            order: ORDER,
            target,
            instruction,
            finish_by,
        },
        RoomAct::Invite { node } => RoomLine::Invited { node },
        RoomAct::Close { summary } => RoomLine::Closed { summary },
    };
    Notice::RoomChanged {
        room: room(seq.min(7)),
        entry: RoomEntry {
            ask: Some(ask),
            seq,
            by: Some(zhang()),
            line,
            ..entry(1)
        },
    }
}

/// After the answer to a call, pushes `notices` if the CLI subscribed.
fn then_push(pushed: &broadcast::Sender<Pushed>, notices: Vec<Notice>) {
    let tx = pushed.clone();
    tokio::spawn(async move {
        tokio::task::yield_now().await;
        if tx.receiver_count() == 0 {
            return; // --no-wait
        }
        for notice in notices {
            push(&tx, notice);
        }
    });
}

/// The fake node's driver. `watching`: after the first `Room` call, push
/// what a room following `show --watch` sees: an entry it has, the next,
/// a lag, an entry it caught up on, and one after a gap.
fn fake(watching: bool) -> impl Fn(&Call, &broadcast::Sender<Pushed>) -> Response + Send + 'static {
    let room_calls = AtomicUsize::new(0);
    move |call, pushed| match &call.request {
        Request::Query(Query::Subscribe) => snapshot(),
        Request::Query(Query::Rooms { closed }) => {
            let mut list = vec![room(4), drill()];
            if *closed {
                list.push(room(8));
            }
            Response::Rooms(list)
        }
        Request::Query(Query::Room { id: typed })
        | Request::Query(Query::Minutes { room: typed })
        | Request::Act(Act::RoomAct { room: typed, .. })
            if !ROOM_HEX.starts_with(&typed.0) =>
        {
            Response::Refused {
                reason: format!("no coordination room matches {:?}", typed.0),
            }
        }
        Request::Query(Query::Room { .. }) => {
            let n = room_calls.fetch_add(1, Ordering::SeqCst);
            if watching && n == 0 {
                let changed = |seq| Notice::RoomChanged {
                    room: room(seq),
                    entry: entry(seq),
                };
                then_push(
                    pushed,
                    vec![
                        changed(4),
                        changed(5),
                        Notice::Lagged { missed: 1 },
                        changed(6),
                        changed(8),
                    ],
                );
            }
            Response::Room(view(if watching { [4, 6, 8][n.min(2)] } else { 4 }))
        }
        Request::Query(Query::Minutes { .. }) => Response::Minutes(minutes()),
        Request::Act(Act::RoomAct { act, .. }) => {
            let notices = match act {
                // Nothing comes back: the CLI's wait times out.
                RoomAct::Leave => Vec::new(),
                RoomAct::Say { text } if text.contains("refuse") => vec![
                    Notice::RoomRefused {
                        room: ROOM,
                        ask: OTHER_ASK,
                        reason: "someone else's ask".into(),
                    },
                    Notice::RoomRefused {
                        room: ROOM,
                        ask: ASK,
                        reason: NOT_PRESENT.into(),
                    },
                ],
                // Another ask is taken first, as #9; this one as #10.
                RoomAct::Decide { .. } => vec![
                    taken(&RoomAct::Say { text: "收到".into() }, OTHER_ASK, 9),
                    Notice::Forwarded {
                        id: ASK,
                        to: id("350100"),
                    },
                    taken(act, ASK, 10),
                ],
                _ => vec![taken(act, ASK, 9)],
            };
            then_push(pushed, notices);
            Response::Asked {
                room: ROOM,
                ask: ASK,
                what: format!(
                    "{} in the room of incident {ROOM}: stored at {ME}, sent to its home {ME}",
                    act.name()
                ),
            }
        }
        other => Response::Refused {
            reason: format!("not in this fake: {other:?}"),
        },
    }
}

fn room_act(act: RoomAct) -> Request {
    Request::Act(Act::RoomAct {
        room: IdRef("3f2a".into()),
        act,
        home: None,
    })
}

/// The two lines every act prints once its ask is stored.
fn asked(act: &str) -> String {
    format!(
        "{act} in the room of incident 3f2a9c0e1b7d: stored at 350102, sent to its home 350102\n  \
         ask a5c00000000000000000000000000001\n"
    )
}

#[test]
fn list_shows_open_rooms_in_an_aligned_table_and_json() {
    let node = FakeNode::start(fake(false));
    let out = node.run(&["room", "list"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(
        lines[0],
        "ID            SEV  TITLE                HOME    PRESENT  OPEN TASKS  STATE"
    );
    assert!(lines[1].starts_with("3f2a9c0e1b7d  III  仓库冒烟  "), "{text}");
    assert!(
        lines[2].starts_with("000000000007  IV   [exercise] 防汛演练  "),
        "{text}"
    );
    // The columns after the CJK titles line up.
    for (header, cells) in [
        ("HOME", ["350102  ", "350100  "]),
        ("PRESENT", ["2  ", "1  "]),
        ("OPEN TASKS", ["1  ", "0  "]),
        ("STATE", ["open", "open"]),
    ] {
        let at = column_of(lines[0], header);
        assert!(from_column(lines[1], at).starts_with(cells[0]), "{header}: {text}");
        assert!(from_column(lines[2], at).starts_with(cells[1]), "{header}: {text}");
    }

    let out = node.run(&["room", "list", "--all", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("valid JSON");
    let list = json.as_array().expect("an array");
    assert_eq!(list.len(), 3);
    assert_eq!(list[0]["id"], ROOM_HEX);
    assert_eq!(list[0]["tasks"][0]["order"], "7c410000000000000000000000000001");
    assert_eq!(list[2]["state"], "Closed");
    assert_eq!(
        node.requests(),
        vec![
            Request::Query(Query::Rooms { closed: false }),
            Request::Query(Query::Rooms { closed: true })
        ]
    );
}

/// What `line` shows from display column `column` on.
fn from_column(line: &str, column: usize) -> &str {
    let mut width = 0;
    for (at, c) in line.char_indices() {
        if width >= column {
            return &line[at..];
        }
        width += c.width().unwrap_or(0);
    }
    ""
}

#[test]
fn show_prints_the_header_roster_tasks_and_whole_log() {
    let node = FakeNode::start(fake(false));
    let out = node.run_with(&["room", "show", "3F2A"], &[TZ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with(
            "room      3f2a9c0e1b7d (3f2a9c0e1b7d4a5e8f00112233445566)\n\
             title     仓库冒烟\n\
             severity  III fire\n\
             state     open\n\
             home      350102\n\
             origin    350102001001\n\
             place     仓山区建新镇\n\
             opened    2026-09-21 22:13:20 by 张伟 (350102, leader) ("
        ),
        "{text}"
    );
    assert!(text.contains("\ninvited   350102-police\nevents    4\n"), "{text}");
    assert!(
        text.contains(
            "\npresent: 2\n\
             NAME  NODE       ROLE      SINCE\n\
             张伟  350102     leader    2026-09-21 22:13:20\n\
             李娜  350102001  operator  2026-09-21 22:14:20\n"
        ),
        "{text}"
    );
    let tasks: Vec<&str> = text
        .lines()
        .skip_while(|l| *l != "tasks: 1 (1 open)")
        .skip(1)
        .take(2)
        .collect();
    assert_eq!(tasks.len(), 2, "{text}");
    assert!(tasks[0].starts_with("#  TARGET     DUE  "), "{text}");
    assert!(tasks[1].starts_with("4  350102001  2026-09-22 00:13:20 ("), "{text}");
    for (header, cell) in [("STATE", "signed for by 李娜  "), ("INSTRUCTION", "疏散周边群众")] {
        assert!(
            from_column(tasks[1], column_of(tasks[0], header)).starts_with(cell),
            "{text}"
        );
    }
    assert!(
        text.ends_with(
            "\nlog: 4 entries\n\
             #  TIME                 WHAT\n\
             1  2026-09-21 22:13:20  张伟 (350102, leader) opened the room\n\
             2  2026-09-21 22:14:20  李娜 (350102001, operator) entered\n\
             3  2026-09-21 22:15:20  李娜 (350102001, operator) said: 消防车已到达现场\n\
             4  2026-09-21 22:16:20  张伟 (350102, leader) tasked 350102001 (order 7c4100000000): 疏散周边群众\n"
        ),
        "{text}"
    );

    let out = node.run(&["room", "show", "3f2a", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("valid JSON");
    assert_eq!(json["room"]["id"], ROOM_HEX);
    assert_eq!(json["log"].as_array().map(Vec::len), Some(4));
    assert_eq!(json["log"][2]["line"]["Said"]["text"], "消防车已到达现场");
    assert_eq!(
        node.requests(),
        vec![
            Request::Query(Query::Room {
                id: IdRef("3f2a".into())
            });
            2
        ]
    );
}

#[test]
fn show_watch_prints_each_new_entry_once_in_order_until_the_room_closes() {
    let node = FakeNode::start(fake(true));
    let out = node.run(&["room", "show", "3f2a", "--watch"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    // After the log's last line, what came while watching.
    let followed: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.ends_with("tasked 350102001 (order 7c4100000000): 疏散周边群众"))
        .skip(1)
        .collect();
    let summaries: Vec<&str> = followed
        .iter()
        .map(|l| l.split_once("  ").map_or(*l, |(_, s)| s))
        .collect();
    assert_eq!(
        summaries,
        vec![
            "#5 李娜 (350102001, operator) said: 现场风大",
            "#6 张伟 (350102, leader) decided: 转移周边三栋楼群众",
            "#7 system task #4 at 350102001: signed for",
            "#8 张伟 (350102, leader) closed the room: 火情已扑灭",
        ],
        "{text}"
    );
    let err = stderr(&out);
    assert!(err.contains("watching the room of incident 3f2a9c0e1b7d"), "{err}");
    assert!(err.ends_with("the room is closed\n"), "{err}");
    // Subscribed before fetching; fetched again after the lag and the gap.
    let full = Request::Query(Query::Room {
        id: IdRef(ROOM_HEX.into()),
    });
    assert_eq!(
        node.requests(),
        vec![
            Request::Query(Query::Subscribe),
            Request::Query(Query::Room {
                id: IdRef("3f2a".into())
            }),
            full.clone(),
            full,
        ]
    );
}

#[test]
fn each_act_sends_what_was_typed_and_waits_until_the_home_takes_it() {
    let node = FakeNode::start(fake(false));
    let cases: [(&[&str], RoomAct, Option<&str>, &str); 6] = [
        (&["open", "3f2a"], RoomAct::Open, None, "opened the room"),
        (
            &["enter", "3f2a", "--home", "350100"],
            RoomAct::Enter,
            Some("350100"),
            "entered",
        ),
        (
            &["say", "3f2a", "消防车", "已到达现场"],
            RoomAct::Say {
                text: "消防车 已到达现场".into(),
            },
            None,
            "said: 消防车 已到达现场",
        ),
        (
            &["invite", "3f2a", "350102-police"],
            RoomAct::Invite {
                node: id("350102-police"),
            },
            None,
            "invited 350102-police",
        ),
        (
            &["close", "3f2a", "--summary", "火情已扑灭"],
            RoomAct::Close {
                summary: "火情已扑灭".into(),
            },
            None,
            "closed the room: 火情已扑灭",
        ),
        (
            &["close", "3f2a"],
            RoomAct::Close { summary: String::new() },
            None,
            "closed the room: ",
        ),
    ];
    for (args, act, home, what) in cases {
        let mut all = vec!["room"];
        all.extend_from_slice(args);
        let out = node.run(&all);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        assert_eq!(
            stdout(&out),
            format!(
                "{}taken by the home as #9: 张伟 (350102, leader) {what}\n",
                asked(act.name())
            ),
            "{args:?}"
        );
        let requests = node.requests();
        let sent = &requests[requests.len() - 2..];
        let expected = Request::Act(Act::RoomAct {
            room: IdRef("3f2a".into()),
            act,
            home: home.map(id),
        });
        assert_eq!(sent, [Request::Query(Query::Subscribe), expected], "{args:?}");
    }
}

#[test]
fn leave_without_waiting_only_stores_the_ask() {
    let node = FakeNode::start(fake(false));
    let out = node.run(&["room", "leave", "3f2a", "--no-wait"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), asked("leave"));
    assert_eq!(node.requests(), vec![room_act(RoomAct::Leave)]);
}

#[test]
fn decide_is_not_answered_by_another_ask_taken_first() {
    let node = FakeNode::start(fake(false));
    let out = node.run(&["room", "decide", "3f2a", "转移周边三栋楼群众"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(text.starts_with(&asked("decide")), "{text}");
    assert!(lines[2].ends_with("  stored at 350100"), "{text}");
    assert_eq!(
        lines[3],
        "taken by the home as #10: 张伟 (350102, leader) decided: 转移周边三栋楼群众"
    );
    assert!(!text.contains("#9") && !text.contains("收到"), "{text}");
    assert_eq!(
        node.requests(),
        vec![
            Request::Query(Query::Subscribe),
            room_act(RoomAct::Decide {
                text: "转移周边三栋楼群众".into()
            })
        ]
    );
}

#[test]
fn a_refusal_by_the_home_exits_1_with_its_reason() {
    let node = FakeNode::start(fake(false));
    let out = node.run(&["room", "say", "3f2a", "please refuse this"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert_eq!(stderr(&out), format!("error: {NOT_PRESENT}\n"));
    assert_eq!(stdout(&out), asked("say"));
}

#[test]
fn a_refusal_by_the_node_itself_exits_1_with_its_reason() {
    let node = FakeNode::start(fake(false));
    let out = node.run(&["room", "open", "ffff"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert_eq!(stderr(&out), "error: no coordination room matches \"ffff\"\n");
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));

    let out = node.run(&["room", "show", "ffff"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert_eq!(stderr(&out), "error: no coordination room matches \"ffff\"\n");
}

#[test]
fn no_answer_in_time_says_the_ask_is_stored_and_on_its_way() {
    let node = FakeNode::start(fake(false));
    let out = node.run(&["room", "leave", "3f2a", "--timeout", "1s"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert_eq!(stdout(&out), asked("leave"));
    assert_eq!(
        stderr(&out),
        "error: no answer from the room's home within 1s; the ask is stored at 350102 and on its way, \
         nothing is lost (`liandong room show 3f2a9c0e1b7d` shows it once the home takes it)\n"
    );
    // Before giving up it looked for the answer in the room's log.
    assert_eq!(
        node.requests(),
        vec![
            Request::Query(Query::Subscribe),
            room_act(RoomAct::Leave),
            Request::Query(Query::Room {
                id: IdRef(ROOM_HEX.into())
            })
        ]
    );
}

#[test]
fn a_task_is_due_after_a_duration_or_at_a_local_time() {
    let node = FakeNode::start(fake(false));
    let out = node.run(&[
        "room",
        "task",
        "3f2a",
        "--to",
        "350102001",
        "--instruction",
        "疏散周边群众",
        "--due",
        "2h",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).ends_with(
            "taken by the home as #9: 张伟 (350102, leader) tasked 350102001 (order 7c4100000000): 疏散周边群众\n"
        ),
        "{}",
        stdout(&out)
    );
    match &node.requests()[1] {
        Request::Act(Act::RoomAct {
            room,
            act:
                RoomAct::Task {
                    target,
                    instruction,
                    finish_by,
                },
            home: None,
        }) => {
            assert_eq!(room.0, "3f2a");
            assert_eq!(target, &id("350102001"));
            assert_eq!(instruction, "疏散周边群众");
            let within = finish_by.expect("a deadline").0.saturating_sub(now_ms());
            assert!((7_000_000..=7_200_000).contains(&within), "{within}");
        }
        other => panic!("{other:?}"),
    }

    // A date and time in the machine's time zone (UTC+8 here).
    let task = [
        "room",
        "task",
        "3f2a",
        "--to",
        "350102001",
        "--instruction",
        "x",
        "--due",
    ];
    let out = node.run_with(&[&task[..], &["2030-01-02 03:04"]].concat(), &[TZ]);
    assert!(out.status.success(), "{}", stderr(&out));
    match node.requests().last() {
        Some(Request::Act(Act::RoomAct {
            act: RoomAct::Task { finish_by, .. },
            ..
        })) => assert_eq!(*finish_by, Some(Timestamp(1_893_524_640_000))),
        other => panic!("{other:?}"),
    }

    let asked_so_far = node.requests().len();
    let out = node.run_with(&[&task[..], &["2020-01-01 10:00"]].concat(), &[TZ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with("error: --due 2020-01-01 10:00:00 is in the past (it is now "),
        "{}",
        stderr(&out)
    );
    let out = node.run(&[&task[..], &["soon"]].concat());
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("\"soon\" is not a deadline"), "{}", stderr(&out));
    assert_eq!(node.requests().len(), asked_so_far, "nothing asked for a bad deadline");
}

#[test]
fn minutes_in_markdown_by_default_and_as_json() {
    let node = FakeNode::start(fake(false));
    let out = node.run_with(&["room", "minutes", "3f2a"], &[TZ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let md = stdout(&out);
    assert!(md.starts_with("# 会议纪要 Minutes (草稿 draft): 仓库冒烟\n"), "{md}");
    assert!(
        md.contains("- 开启 Opened: 2026-09-21 22:13:20 by 张伟 (350102)\n"),
        "{md}"
    );
    assert!(
        md.contains("\n1. 转移周边三栋楼群众 (张伟 350102, #6, 2026-09-21 22:18:20)\n"),
        "{md}"
    );
    assert!(
        md.contains("\n| 4 | 温泉街道 (350102001) | 疏散周边群众 | 2026-09-22 00:13:20 | signed for by 李娜 |\n"),
        "{md}"
    );

    let out = node.run(&["room", "minutes", "3f2a", "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("valid JSON");
    assert_eq!(json["room"], ROOM_HEX);
    assert_eq!(json["decisions"][0]["text"], "转移周边三栋楼群众");
    assert_eq!(json["tasks"][0]["task"]["state"]["SignedFor"]["by"], "李娜");
    assert_eq!(json["closing"], serde_json::Value::Null);

    let file = node.dir.path().join("纪要.md");
    let out = node.run_with(&["room", "minutes", "3f2a", "--out", common::arg(&file)], &[TZ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!(
            "minutes of the room of incident 3f2a9c0e1b7d written to {} (a draft: the room is still open)\n",
            file.display()
        )
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), md);
    assert_eq!(
        node.requests(),
        vec![
            Request::Query(Query::Minutes {
                room: IdRef("3f2a".into())
            });
            3
        ]
    );
}

#[test]
fn bad_ids_and_missing_words_are_usage_errors() {
    let out = ops(&["room", "show", "not-hex"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("\"not-hex\" is not an id: expected up to 32 hex digits"),
        "{}",
        stderr(&out)
    );
    let out = ops(&["room", "decide", "3f2a"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("<TEXT>..."), "{}", stderr(&out));
    let out = ops(&["room", "invite", "3f2a", "not a node"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("'not a node'"), "{}", stderr(&out));
    let out = ops(&["room", "list"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with("error: no node to talk to"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn every_room_command_has_help_with_an_example() {
    for command in [
        "list", "show", "open", "enter", "leave", "say", "decide", "task", "invite", "close", "minutes",
    ] {
        let help = liandong(&["room", command, "--help"]);
        assert!(help.status.success(), "{command}");
        let text = stdout(&help);
        assert!(text.contains("Example"), "{command}: {text}");
        assert!(
            text.contains(&format!("  liandong room {command} ")),
            "{command}: {text}"
        );
        assert!(text.contains("LIANDONG_NODE"), "{command}: {text}");
    }
}
