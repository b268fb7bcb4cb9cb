//! The coordination room: what the operator types or presses becomes the
//! exact room act, bad input sends nothing, the log folds pushed events in
//! sequence order, and what goes wrong shows.

mod common;

use common::*;
use crossterm::event::KeyCode;
use liandong_control::{Act, Query};
use liandong_control::{IdRef, Notice, Request, Response, RoomView};
use liandong_dispatch::room::{Room, RoomLine};
use liandong_dispatch::wire::{EnvelopeId, RoomAct};
use liandong_topology::NodeId;
use liandong_tui::app::AlarmKind;
use liandong_tui::room_pane::{MAX_PENDING, MAX_ROOM_LOG};
use liandong_tui::{Action, App, AppEvent, Lang, Screen};

fn full(id: EnvelopeId) -> IdRef {
    IdRef(format!("{:032x}", id.0))
}

/// An act in the flood's room.
fn act(act: RoomAct) -> Action {
    act_at(act, None)
}

fn act_at(act: RoomAct, home: Option<NodeId>) -> Action {
    Action::Send(Request::Act(Act::RoomAct {
        room: full(FLOOD),
        act,
        home,
    }))
}

fn ask_room() -> Action {
    Action::Send(Request::Query(Query::Room { id: full(FLOOD) }))
}

/// Types a line into the room's input and presses Enter.
fn send(app: &mut App, line: &str) -> Vec<Action> {
    typed(app, line);
    app.handle(code(KeyCode::Enter))
}

fn input(app: &App) -> String {
    app.room_pane().expect("a room on screen").input.text()
}

/// Sequence numbers of the loaded log.
fn seqs(app: &App) -> Vec<u64> {
    app.room_pane()
        .expect("a room on screen")
        .log
        .iter()
        .map(|e| e.seq)
        .collect()
}

fn answer(view: RoomView) -> AppEvent {
    AppEvent::Answer {
        request: Request::Query(Query::Room { id: full(FLOOD) }),
        response: Ok(Response::Room(view)),
    }
}

#[test]
fn text_and_commands_send_the_exact_room_acts() {
    let mut app = room_screen(Lang::Zh, 80, 24);
    assert_eq!(app.screen(), Screen::Room);
    assert_eq!(
        send(&mut app, "江堤加固完成 bank reinforced"),
        [act(RoomAct::Say {
            text: "江堤加固完成 bank reinforced".into()
        })]
    );
    assert_eq!(input(&app), "", "a sent line is cleared");
    assert_eq!(
        send(&mut app, "/decide 启动 II 级应急响应"),
        [act(RoomAct::Decide {
            text: "启动 II 级应急响应".into()
        })]
    );
    assert_eq!(
        send(&mut app, "/决定 转移群众"),
        [act(RoomAct::Decide {
            text: "转移群众".into()
        })]
    );
    // A target by a unique name prefix, or by id.
    assert_eq!(
        send(&mut app, "/task 侯官 组织转移 report every 30 min"),
        [act(RoomAct::Task {
            target: id(HOUGUAN),
            instruction: "组织转移 report every 30 min".into(),
            finish_by: None,
        })]
    );
    assert_eq!(
        send(&mut app, "/任务 350121002002 巡查堤防"),
        [act(RoomAct::Task {
            target: id("350121002002"),
            instruction: "巡查堤防".into(),
            finish_by: None,
        })]
    );
    assert_eq!(
        send(&mut app, "/invite 鼓楼公安分局"),
        [act(RoomAct::Invite {
            node: id("350102-police")
        })]
    );
    assert_eq!(
        send(&mut app, "/close 险情解除,群众已安置"),
        [act(RoomAct::Close {
            summary: "险情解除,群众已安置".into()
        })]
    );
    assert_eq!(send(&mut app, "/enter"), [act(RoomAct::Enter)]);
    assert_eq!(send(&mut app, "/leave"), [act(RoomAct::Leave)]);
    // Pasted text goes into the line too.
    feed(&mut app, AppEvent::Paste("收到\n明白".into()));
    assert_eq!(
        app.handle(code(KeyCode::Enter)),
        [act(RoomAct::Say {
            text: "收到 明白".into()
        })]
    );
}

#[test]
fn bad_commands_send_nothing_and_keep_the_line() {
    let cases = [
        ("/decide", "/决定"),
        ("/decide   ", "/决定"),
        ("/foo 一二三", "没有命令 /foo"),
        ("/task", "/任务"),
        ("/task 侯官村", "任务内容"),
        ("/task 不存在村 巡堤", "不存在村"),
        ("/task 35012100 巡堤", "对应多个节点"),
        ("/invite", "/邀请"),
        ("/leave 再见", "/离开"),
        ("/close", "总结"),
    ];
    for (line, says) in cases {
        let mut app = room_screen(Lang::Zh, 80, 24);
        typed(&mut app, line);
        assert!(app.handle(code(KeyCode::Enter)).is_empty(), "{line:?} sends nothing");
        assert_eq!(input(&app), line, "{line:?} stays for fixing");
        let flash = app.flash().expect("a message");
        assert!(flash.bad, "{line:?}: {flash:?}");
        assert!(flash.text.contains(says), "{line:?}: {}", flash.text);
    }
    // A blank line: nothing sent, nothing said.
    let mut app = room_screen(Lang::En, 80, 24);
    assert!(send(&mut app, "   ").is_empty());
    assert!(app.flash().is_none());
    let mut app = room_screen(Lang::En, 80, 24);
    assert!(send(&mut app, "/close").is_empty());
    assert!(
        app.flash()
            .is_some_and(|f| f.text == "/close needs a summary; nothing sent")
    );
}

#[test]
fn detail_keys_open_enter_leave_and_show_the_room() {
    // A leader at the owner, no room yet: M asks to open one.
    let mut app = city_app_as(Lang::Zh, 80, 24, leader(), vec![]);
    open_detail(&mut app, FLOOD);
    assert_eq!(app.handle(key('M')), [act(RoomAct::Open)]);
    assert_eq!(app.screen(), Screen::Detail);
    // The opening comes back: the leader's own, so no alarm.
    let opening = flood_log().remove(0);
    let actions = app.handle(pushed(
        opening.at,
        Notice::RoomChanged {
            room: opened_flood_room(&opening),
            entry: opening,
        },
    ));
    assert!(actions.is_empty(), "{actions:?}");
    assert!(app.alarms().is_empty());
    assert!(app.model().open_room(&FLOOD).is_some());

    // An operator, the room known: i enters and shows it.
    let mut app = city_app_as(Lang::En, 80, 24, operator(), vec![flood_room()]);
    open_detail(&mut app, FLOOD);
    assert_eq!(app.handle(key('i')), [act(RoomAct::Enter), ask_room()]);
    assert_eq!(app.screen(), Screen::Room);
    assert!(app.handle(code(KeyCode::Esc)).is_empty());
    assert_eq!(app.screen(), Screen::Detail);
    assert_eq!(app.handle(key('o')), [act(RoomAct::Leave)]);
    // m shows it again; the first request is still out, so it is not
    // asked twice.
    assert!(app.handle(key('m')).is_empty());
    assert_eq!(app.screen(), Screen::Room);
    feed(&mut app, answer(flood_room_view()));
    feed(&mut app, code(KeyCode::Esc));
    assert_eq!(app.handle(key('m')), [ask_room()], "each visit asks afresh");

    // An incident owned elsewhere whose room this node does not know:
    // entering asks the owner, with the full id.
    let mut app = city_app(Lang::En, 80, 24);
    let mut elsewhere = fire();
    elsewhere.id = EnvelopeId(0x77);
    elsewhere.owner = id(GULOU);
    feed(
        &mut app,
        pushed(
            NOW,
            Notice::IncidentRecorded {
                incident: elsewhere,
                alert: false,
            },
        ),
    );
    open_detail(&mut app, EnvelopeId(0x77));
    assert_eq!(
        app.handle(key('i')),
        [
            Action::Send(Request::Act(Act::RoomAct {
                room: full(EnvelopeId(0x77)),
                act: RoomAct::Enter,
                home: Some(id(GULOU)),
            })),
            Action::Send(Request::Query(Query::Room {
                id: full(EnvelopeId(0x77))
            })),
        ]
    );
}

#[test]
fn the_log_folds_pushes_in_sequence_order() {
    let mut app = room_screen(Lang::En, 80, 24);
    assert_eq!(seqs(&app), (1..=7).collect::<Vec<_>>());
    let story = room_story();
    // #8: the next one, appended.
    assert!(app.handle(story[0].clone()).is_empty());
    assert_eq!(seqs(&app), (1..=8).collect::<Vec<_>>());
    // #8 again: already held.
    assert!(app.handle(story[0].clone()).is_empty());
    assert_eq!(seqs(&app).len(), 8);
    // #10 skips #9: held back, and the room is asked for again...
    assert_eq!(app.handle(story[2].clone()), [ask_room()]);
    assert_eq!(seqs(&app).last(), Some(&8));
    assert_eq!(app.room_pane().map(|p| p.pending()), Some(1));
    // ...once: #11 waits too.
    assert!(app.handle(story[3].clone()).is_empty());
    // The answer (as of #9) fills the gap; #10 and #11 follow it.
    let mut log = flood_log();
    let mut room = flood_room();
    for event in &story[..2] {
        let AppEvent::Pushed(p) = event else { unreachable!() };
        let Notice::RoomChanged { room: r, entry } = &p.notice else {
            unreachable!()
        };
        log.push(entry.clone());
        room = r.clone();
    }
    assert!(app.handle(answer(RoomView { room, log })).is_empty());
    assert_eq!(seqs(&app), (1..=11).collect::<Vec<_>>());
    assert_eq!(app.room_pane().map(|p| p.pending()), Some(0));
    // The header is the newest seen, not the answer's.
    let header = app.room_pane().and_then(|p| p.header.clone()).expect("a header");
    assert_eq!(header.last_seq, 11);
    assert_eq!(app.model().rooms[&FLOOD].last_seq, 11);
}

#[test]
fn pushes_before_the_first_answer_wait_for_it() {
    let mut app = city_app_as(Lang::En, 80, 24, operator(), vec![flood_room()]);
    open_detail(&mut app, FLOOD);
    assert_eq!(app.handle(key('m')), [ask_room()]);
    let story = room_story();
    assert!(app.handle(story[0].clone()).is_empty());
    assert!(app.handle(story[1].clone()).is_empty());
    assert!(seqs(&app).is_empty(), "nothing shows before the answer");
    // The answer is older than the pushes: they follow it, nothing more
    // is asked.
    assert!(app.handle(answer(flood_room_view())).is_empty());
    assert_eq!(seqs(&app), (1..=9).collect::<Vec<_>>());
    assert_eq!(
        app.room_pane().and_then(|p| p.header.as_ref()).map(|h| h.last_seq),
        Some(9)
    );
}

#[test]
fn refusals_show_as_bad_flashes() {
    let mut app = room_screen(Lang::En, 80, 24);
    feed(&mut app, room_refused());
    let flash = app.flash().expect("a message");
    assert!(flash.bad);
    assert!(
        flash
            .text
            .starts_with("room refused · 闽江水位超警戒 0.8m: 王芳 is not present")
    );

    // The node refuses at once...
    let actions = send(&mut app, "/decide 撤离");
    let [Action::Send(request)] = actions.as_slice() else {
        panic!("one request, got {actions:?}");
    };
    feed(
        &mut app,
        AppEvent::Answer {
            request: request.clone(),
            response: Ok(Response::Refused {
                reason: "王芳 is not a leader: only leaders record a decision in a room".into(),
            }),
        },
    );
    assert!(app.flash().is_some_and(|f| f.bad && f.text.contains("not a leader")));
    // ...or takes the ask and sends it on.
    feed(
        &mut app,
        AppEvent::Answer {
            request: request.clone(),
            response: Ok(Response::Asked {
                room: FLOOD,
                ask: EnvelopeId(0xabc),
                what: "decide in the room of incident 51b70e93aa10: stored at 350100, sent to its home 350100".into(),
            }),
        },
    );
    assert!(
        app.flash()
            .is_some_and(|f| !f.bad && f.text.contains("sent to its home"))
    );

    // A room the node does not have: the screen says so, and does not
    // keep asking.
    let mut app = city_app(Lang::En, 80, 24);
    open_detail(&mut app, FLOOD);
    assert_eq!(app.handle(key('m')), [ask_room()]);
    let actions = app.handle(AppEvent::Answer {
        request: Request::Query(Query::Room { id: full(FLOOD) }),
        response: Ok(Response::Refused {
            reason: "no coordination room for incident 51b70e93aa10".into(),
        }),
    });
    assert!(actions.is_empty());
    let pane = app.room_pane().expect("the room screen");
    assert_eq!(
        pane.missing.as_deref(),
        Some("no coordination room for incident 51b70e93aa10")
    );
    assert!(!pane.asking);
    assert!(shot(&app, 80, 24).contains("no coordination room: no coordination room for incident"));
    // The room then reaches this node (it entered, or was invited): the
    // first event asks for it again, once.
    let opening = flood_log().remove(0);
    let first = pushed(
        opening.at,
        Notice::RoomChanged {
            room: opened_flood_room(&opening),
            entry: opening,
        },
    );
    let actions = app.handle(first.clone());
    assert!(actions.contains(&ask_room()), "{actions:?}");
    assert!(!app.handle(first).contains(&ask_room()));
    feed(&mut app, answer(flood_room_view()));
    assert_eq!(seqs(&app), (1..=7).collect::<Vec<_>>());
    assert!(app.room_pane().is_some_and(|p| p.missing.is_none()));
}

#[test]
fn a_room_opened_elsewhere_rings_an_alarm() {
    let mut app = city_app(Lang::Zh, 80, 24);
    let opening = flood_log().remove(0);
    let notice = pushed(
        opening.at,
        Notice::RoomChanged {
            room: opened_flood_room(&opening),
            entry: opening,
        },
    );
    assert_eq!(app.handle(notice), [Action::Bell]);
    assert_eq!(app.alarms().len(), 1);
    assert_eq!(app.alarms()[0].kind, AlarmKind::RoomOpened);
    assert_eq!(app.alarms()[0].incident, Some(FLOOD));
    assert!(shot(&app, 80, 24).contains("协调室开启: 闽江水位超警戒 0.8m"));
    // Later events of the room ring nothing.
    for event in room_story() {
        let actions = app.handle(event);
        assert!(!actions.contains(&Action::Bell), "{actions:?}");
    }
    assert_eq!(app.alarms().len(), 1);
}

#[test]
fn typing_in_the_room_keeps_q_and_question_mark_as_text() {
    let mut app = room_screen(Lang::En, 80, 24);
    for k in ['q', '?', ' ', '1', 'i', 'A'] {
        assert!(app.handle(key(k)).is_empty());
    }
    assert_eq!(input(&app), "q? 1iA");
    assert!(!app.help_shown());
    assert_eq!(app.screen(), Screen::Room);
    assert!(shot(&app, 80, 24).contains("F1 help"));
    // F1 still opens the help.
    feed(&mut app, code(KeyCode::F(1)));
    assert!(app.help_shown());
    feed(&mut app, code(KeyCode::Esc));
    // In the log, keys are keys again.
    feed(&mut app, code(KeyCode::Tab));
    assert_eq!(app.handle(key('q')), [Action::Quit]);
    assert_eq!(app.handle(ctrl('c')), [Action::Quit]);
}

#[test]
fn the_log_follows_its_tail_unless_scrolled_back() {
    let mut app = room_screen(Lang::En, 80, 24);
    let cursor = |app: &App| app.room_pane().map(|p| p.cursor);
    assert_eq!(cursor(&app), Some(6), "the newest entry");
    let story = room_story();
    feed(&mut app, story[0].clone());
    assert_eq!(cursor(&app), Some(7), "the tail is followed");
    // Up scrolls while typing; a new entry then leaves the view alone.
    feed(&mut app, code(KeyCode::Up));
    feed(&mut app, code(KeyCode::Up));
    assert_eq!(cursor(&app), Some(5));
    feed(&mut app, story[1].clone());
    assert_eq!(cursor(&app), Some(5));
    assert!(shot(&app, 80, 24).contains("Log (9) · ↓ 3 newer"));
    // Back at the end, it follows again.
    feed(&mut app, code(KeyCode::PageDown));
    assert_eq!(cursor(&app), Some(8));
    feed(&mut app, story[2].clone());
    assert_eq!(cursor(&app), Some(9));
    // In the log, g and G go to either end.
    feed(&mut app, code(KeyCode::Tab));
    feed(&mut app, key('g'));
    assert_eq!(cursor(&app), Some(0));
    feed(&mut app, key('G'));
    assert_eq!(cursor(&app), Some(9));
}

#[test]
fn the_log_and_the_waiting_entries_are_bounded() {
    let mut app = city_app_as(Lang::En, 80, 24, operator(), vec![flood_room()]);
    open_detail(&mut app, FLOOD);
    feed(&mut app, key('m'));
    let said = |seq: u64| {
        room_entry(
            seq,
            later(seq),
            Some(wang_fang()),
            RoomLine::Said {
                text: format!("#{seq}"),
            },
        )
    };
    let n = MAX_ROOM_LOG as u64 + 5;
    let mut log = flood_log();
    log.extend((8..=n).map(said));
    let mut room: Room = flood_room();
    room.last_seq = n;
    feed(
        &mut app,
        answer(RoomView {
            room: room.clone(),
            log,
        }),
    );
    let pane = app.room_pane().expect("the room");
    assert_eq!(pane.log.len(), MAX_ROOM_LOG);
    assert_eq!(pane.dropped, 5);
    assert_eq!(pane.log.front().map(|e| e.seq), Some(6));
    // One more: still the bound.
    room.last_seq = n + 1;
    feed(
        &mut app,
        pushed(
            later(n + 1),
            Notice::RoomChanged {
                room: room.clone(),
                entry: said(n + 1),
            },
        ),
    );
    let pane = app.room_pane().expect("the room");
    assert_eq!(pane.log.len(), MAX_ROOM_LOG);
    assert_eq!(pane.dropped, 6);
    // Entries past a gap wait, at most MAX_PENDING of them.
    let gap = n + 3;
    let mut asked = 0;
    for seq in gap..gap + MAX_PENDING as u64 + 10 {
        room.last_seq = seq;
        let event = pushed(
            later(seq),
            Notice::RoomChanged {
                room: room.clone(),
                entry: said(seq),
            },
        );
        asked += app.handle(event).iter().filter(|a| **a == ask_room()).count();
    }
    assert_eq!(asked, 1, "one request while one is out");
    assert_eq!(app.room_pane().map(|p| p.pending()), Some(MAX_PENDING));
}

#[test]
fn a_fresh_snapshot_asks_for_the_room_on_screen_again() {
    let mut app = room_screen(Lang::En, 80, 24);
    assert_eq!(
        app.handle(pushed(later(5), Notice::Lagged { missed: 40 })),
        [Action::Resubscribe]
    );
    let actions = app.handle(AppEvent::Snapshot {
        status: city_status(),
        incidents: vec![flood()],
        orders: vec![],
        rooms: vec![flood_room()],
    });
    assert_eq!(actions, [ask_room()]);
    // Away from the room screen, a snapshot asks nothing.
    feed(&mut app, code(KeyCode::Esc));
    let actions = app.handle(AppEvent::Snapshot {
        status: city_status(),
        incidents: vec![flood()],
        orders: vec![],
        rooms: vec![flood_room()],
    });
    assert!(actions.is_empty(), "{actions:?}");
}
