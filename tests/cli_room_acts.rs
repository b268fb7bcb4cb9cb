//! `liandong room` acting in a room, run as the real binary against a
//! control API server hosted by this test process with a fake driver
//! (`common::control`, the room in `common::room`), over real QUIC and
//! TLS: what each act asks the node, and how it waits for the room's home
//! to take or refuse it.

mod common;

use liandong_control::{Act, IdRef, Query, Request};
use liandong_dispatch::wire::{RoomAct, Timestamp};

use common::control::{FakeNode, id, now_ms};
use common::room::{NOT_PRESENT, ROOM_HEX, TZ, fake};
use common::{stderr, stdout};

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
