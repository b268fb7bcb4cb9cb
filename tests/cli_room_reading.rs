//! `liandong room` reading a room, run as the real binary against a
//! control API server hosted by this test process with a fake driver
//! (`common::control`, the room in `common::room`), over real QUIC and
//! TLS: `list`, `show` (and `--watch`), `minutes`, what each asks the node
//! and prints; the usage errors and help of every room command.

mod common;

use liandong_control::{IdRef, Query, Request};

use common::control::{FakeNode, ops};
use common::room::{ROOM_HEX, TZ, fake};
use common::{column_of, liandong, stderr, stdout};
use unicode_width::UnicodeWidthChar;

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
