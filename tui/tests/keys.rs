//! Key, mouse and event handling: what the operator does becomes the
//! right request, alarms ring once, and nothing polls.

mod common;

use common::*;
use crossterm::event::{KeyCode, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use liandong_control::{Act, Query};
use liandong_control::{IdRef, Notice, Request, Response};
use liandong_dispatch::wire::{Mode, Stage, TargetState, Targets};
use liandong_topology::{Level, Severity};
use liandong_tui::app::AlarmKind;
use liandong_tui::{Action, App, AppEvent, Lang, Screen};

fn full(id: liandong_dispatch::wire::EnvelopeId) -> IdRef {
    IdRef(format!("{:032x}", id.0))
}

/// Moves the board's cursor to an incident.
fn select(app: &mut App, incident: liandong_dispatch::wire::EnvelopeId) {
    feed(app, key('g'));
    let row = app
        .board_rows()
        .iter()
        .position(|&id| id == incident)
        .expect("on the board");
    for _ in 0..row {
        feed(app, key('j'));
    }
    assert_eq!(app.selected_incident(), Some(incident));
}

#[test]
fn the_board_is_sorted_by_severity_then_time_left() {
    let mut app = city_app(Lang::En, 80, 24);
    assert_eq!(app.board_rows(), [FLOOD, FIRE, HAZARD, DRILL]);
    feed(&mut app, new_report());
    assert_eq!(app.board_rows(), [BLAST, FLOOD, FIRE, HAZARD, DRILL]);
    // Two of the same severity: the one with less time left first.
    let mut sooner = fire();
    sooner.id = liandong_dispatch::wire::EnvelopeId(99);
    sooner.finish_by = Some(later(60));
    feed(
        &mut app,
        pushed(
            NOW,
            Notice::IncidentRecorded {
                incident: sooner,
                alert: false,
            },
        ),
    );
    assert_eq!(app.board_rows()[2..4], [liandong_dispatch::wire::EnvelopeId(99), FIRE]);
}

#[test]
fn enter_opens_the_detail_and_a_accepts_that_incident() {
    let mut app = city_app(Lang::Zh, 80, 24);
    select(&mut app, FLOOD);
    assert!(app.handle(code(KeyCode::Enter)).is_empty());
    assert_eq!(app.screen(), Screen::Detail);
    assert_eq!(app.detail_incident(), Some(FLOOD));
    assert_eq!(
        app.handle(key('a')),
        [Action::Send(Request::Act(Act::Accept { incident: full(FLOOD) }))]
    );
    feed(&mut app, code(KeyCode::Esc));
    assert_eq!(app.screen(), Screen::Board);
    // `a` on the board accepts the selected row too.
    select(&mut app, HAZARD);
    assert_eq!(
        app.handle(key('a')),
        [Action::Send(Request::Act(Act::Accept { incident: full(HAZARD) }))]
    );
}

#[test]
fn actions_with_words_ask_for_them_first() {
    let mut app = city_app(Lang::En, 80, 24);
    select(&mut app, FIRE);
    feed(&mut app, code(KeyCode::Enter));
    assert!(app.handle(key('r')).is_empty(), "resolve asks for a summary first");
    // Enter on an empty prompt sends nothing.
    assert!(app.handle(code(KeyCode::Enter)).is_empty());
    typed(&mut app, "明火已扑灭 fire out");
    assert_eq!(
        app.handle(code(KeyCode::Enter)),
        [Action::Send(Request::Act(Act::Resolve {
            incident: full(FIRE),
            summary: "明火已扑灭 fire out".into()
        }))]
    );
    // Esc cancels a prompt without sending.
    feed(&mut app, key('e'));
    typed(&mut app, "x");
    assert!(app.handle(code(KeyCode::Esc)).is_empty());
    // Verification may be sent without a note; send-back is not accepted.
    feed(&mut app, key('b'));
    assert_eq!(
        app.handle(code(KeyCode::Enter)),
        [Action::Send(Request::Act(Act::Verify {
            incident: full(FIRE),
            accepted: false,
            note: String::new()
        }))]
    );
    feed(&mut app, key('n'));
    app.handle(AppEvent::Paste("现场照片已上传".into()));
    assert_eq!(
        app.handle(code(KeyCode::Enter)),
        [Action::Send(Request::Act(Act::Note {
            incident: full(FIRE),
            text: "现场照片已上传".into()
        }))]
    );
    assert_eq!(
        app.handle(key('c')),
        [Action::Send(Request::Act(Act::Close { incident: full(FIRE) }))]
    );
}

#[test]
fn the_composer_sends_the_chosen_targets() {
    let mut app = city_app(Lang::Zh, 80, 24);
    select(&mut app, FLOOD);
    feed(&mut app, code(KeyCode::Enter));
    feed(&mut app, key('d'));
    assert_eq!(app.screen(), Screen::Composer);
    // The tree: 福州市 (this node), then 鼓楼区, 鼓楼公安分局, 鼓东街道, 五一社区 ...
    // The cursor starts on 鼓楼区; mark 鼓东街道 and 五一社区.
    feed(&mut app, key('j'));
    feed(&mut app, key('j'));
    feed(&mut app, key(' '));
    feed(&mut app, key('j'));
    feed(&mut app, key(' '));
    // Nothing written yet: confirming is refused here, nothing is sent.
    assert!(app.handle(ctrl('s')).is_empty());
    assert_eq!(
        app.composer().and_then(|c| c.problem),
        Some(liandong_tui::composer::Problem::NoInstruction)
    );
    for _ in 0..5 {
        feed(&mut app, code(KeyCode::Tab));
    }
    typed(&mut app, "加固堤防\n转移群众");
    assert!(app.handle(ctrl('s')).is_empty(), "Ctrl-S asks to confirm first");
    let actions = app.handle(key('y'));
    assert_eq!(
        actions,
        [Action::Send(Request::Act(Act::Dispatch {
            incident: Some(full(FLOOD)),
            targets: Targets::List(vec![id(GUDONG), id(WUYI)]),
            severity: Severity::II,
            instruction: "加固堤防\n转移群众".into(),
            finish_by: None,
            mode: Mode::Actual,
        }))]
    );
}

#[test]
fn the_composer_picks_a_subtree_with_a_level_and_a_deadline() {
    let mut app = city_app(Lang::En, 80, 24);
    // `n` on the board: an order not tied to an incident.
    feed(&mut app, key('n'));
    assert_eq!(app.screen(), Screen::Composer);
    // 鼓楼区 is under the cursor: the whole area, villages only.
    feed(&mut app, key('t'));
    feed(&mut app, key('l'));
    feed(&mut app, key('l'));
    feed(&mut app, key('l'));
    feed(&mut app, code(KeyCode::Tab)); // level
    feed(&mut app, code(KeyCode::Tab)); // severity
    feed(&mut app, code(KeyCode::Left)); // IV -> Routine
    feed(&mut app, code(KeyCode::Tab)); // deadline
    feed(&mut app, code(KeyCode::Right)); // 30 min
    feed(&mut app, code(KeyCode::Tab)); // mode
    feed(&mut app, code(KeyCode::Right)); // exercise
    feed(&mut app, code(KeyCode::Tab));
    typed(&mut app, "排查辖区隐患");
    feed(&mut app, code(KeyCode::Tab)); // the Send button
    assert!(app.handle(code(KeyCode::Enter)).is_empty());
    let actions = app.handle(code(KeyCode::Enter));
    assert_eq!(
        actions,
        [Action::Send(Request::Act(Act::Dispatch {
            incident: None,
            targets: Targets::Subtree {
                root: id(GULOU),
                level: Some(Level::Village),
            },
            severity: Severity::Routine,
            instruction: "排查辖区隐患".into(),
            finish_by: Some(later(30 * 60)),
            mode: Mode::Exercise,
        }))]
    );
    // A refusal puts the form back for editing.
    let Action::Send(request) = actions[0].clone() else {
        unreachable!()
    };
    feed(
        &mut app,
        AppEvent::Answer {
            request,
            response: Ok(Response::Refused {
                reason: "no such level under 350102".into(),
            }),
        },
    );
    assert_eq!(
        app.composer().map(|c| c.stage.clone()),
        Some(liandong_tui::composer::Stage::Editing)
    );
    assert!(app.flash().is_some_and(|f| f.bad && f.text.contains("no such level")));
}

#[test]
fn typing_q_in_the_instruction_does_not_quit() {
    let mut app = city_app(Lang::En, 80, 24);
    feed(&mut app, key('n'));
    for _ in 0..5 {
        feed(&mut app, code(KeyCode::Tab));
    }
    assert!(app.handle(key('q')).is_empty());
    assert!(app.handle(key('?')).is_empty());
    assert!(!app.help_shown());
    assert_eq!(app.composer().map(|c| c.instruction.text()), Some("q?".to_owned()));
    assert_eq!(app.handle(ctrl('c')), [Action::Quit]);
}

#[test]
fn q_quits_and_question_mark_shows_help() {
    let mut app = city_app(Lang::En, 80, 24);
    assert!(app.handle(key('?')).is_empty());
    assert!(app.help_shown());
    assert!(app.handle(key('q')).is_empty(), "q closes the help first");
    assert!(!app.help_shown());
    assert_eq!(app.handle(key('q')), [Action::Quit]);
}

#[test]
fn a_serious_new_report_rings_once_and_space_acknowledges_it() {
    let mut app = city_app(Lang::Zh, 80, 24);
    assert_eq!(app.handle(new_report()), [Action::Bell]);
    assert_eq!(app.alarms().len(), 1);
    assert_eq!(app.alarms()[0].kind, AlarmKind::NewReport);
    // A routine report, or one without an alert, rings nothing.
    let mut quiet = blast();
    quiet.id = liandong_dispatch::wire::EnvelopeId(42);
    quiet.report.severity = Severity::IV;
    assert!(
        app.handle(pushed(
            NOW,
            Notice::IncidentRecorded {
                incident: quiet,
                alert: true
            }
        ))
        .is_empty()
    );
    // The bell rings again while the alarm waits, every 10 s.
    assert!(app.handle(AppEvent::Tick(later(5))).is_empty());
    assert_eq!(app.handle(AppEvent::Tick(later(10))), [Action::Bell]);
    select(&mut app, DRILL);
    assert!(app.handle(key(' ')).is_empty());
    assert!(app.alarms().is_empty());
    assert_eq!(
        app.selected_incident(),
        Some(BLAST),
        "acknowledging selects the alarm's incident"
    );
    assert!(app.handle(AppEvent::Tick(later(30))).is_empty());
}

#[test]
fn a_deadline_passed_between_ticks_still_rings() {
    let mut app = city_app(Lang::En, 80, 24);
    // A notice stamped after the flood's accept deadline arrives first...
    feed(&mut app, link_down());
    // ...and the next tick still sees the deadline pass.
    let actions = app.handle(AppEvent::Tick(later(186)));
    assert!(actions.contains(&Action::Bell), "{actions:?}");
    assert_eq!(app.alarms()[0].kind, AlarmKind::DeadlineMissed(Stage::Accept));
}

#[test]
fn a_deadline_passing_here_rings_once() {
    let mut app = city_app(Lang::En, 80, 24);
    // The flood must be accepted by NOW + 2 min, here.
    assert!(app.handle(AppEvent::Tick(later(60))).is_empty());
    assert_eq!(app.handle(deadline_passes()), [Action::Bell]);
    assert_eq!(app.alarms().len(), 1);
    assert_eq!(app.alarms()[0].kind, AlarmKind::DeadlineMissed(Stage::Accept));
    assert_eq!(app.alarms()[0].incident, Some(FLOOD));
    // The node then supervises it: same miss, no second alarm.
    let supervised = pushed(
        later(181),
        Notice::Supervised {
            item: liandong_dispatch::wire::Item::Incident(FLOOD),
            stage: Stage::Accept,
            supervisor: id(CITY),
        },
    );
    assert!(app.handle(supervised).is_empty());
    assert_eq!(app.alarms().len(), 1);
    // A late order target is its own alarm.
    let late_target = pushed(
        later(182),
        Notice::Supervised {
            item: liandong_dispatch::wire::Item::OrderTarget {
                order: FIRE_ORDER,
                target: id(DONGMEN),
            },
            stage: Stage::SignFor,
            supervisor: id(CITY),
        },
    );
    assert_eq!(app.handle(late_target), [Action::Bell]);
    assert_eq!(app.alarms()[1].kind, AlarmKind::Supervised(Stage::SignFor));
    assert_eq!(app.alarms()[1].incident, Some(FIRE));
    assert!(app.handle(key('A')).is_empty());
    assert!(app.alarms().is_empty());
}

#[test]
fn a_link_change_asks_for_status_once_and_lag_resubscribes() {
    let mut app = city_app(Lang::En, 80, 24);
    assert_eq!(app.handle(link_down()), [Action::Send(Request::Query(Query::Status))]);
    assert!(app.handle(link_down()).is_empty(), "one status request at a time");
    let mut status = city_status();
    status.links[1].up = false;
    feed(
        &mut app,
        AppEvent::Answer {
            request: Request::Query(Query::Status),
            response: Ok(Response::Status(status)),
        },
    );
    assert_eq!(app.handle(link_down()), [Action::Send(Request::Query(Query::Status))]);
    assert_eq!(
        app.handle(pushed(later(200), Notice::Lagged { missed: 12 })),
        [Action::Resubscribe]
    );
    // Ticks never ask the node for anything.
    for s in 0..100 {
        let actions = app.handle(AppEvent::Tick(later(300 + s)));
        assert!(actions.iter().all(|a| !matches!(a, Action::Send(_))), "{actions:?}");
    }
}

#[test]
fn progress_on_an_unknown_order_fetches_it_once() {
    let mut app = city_app(Lang::En, 80, 24);
    let progress = || {
        pushed(
            later(10),
            Notice::OrderProgress {
                order: NEW_ORDER,
                target: id(WUYI),
                state: TargetState::Delivered,
                roll_up: Default::default(),
            },
        )
    };
    assert_eq!(
        app.handle(progress()),
        [Action::Send(Request::Query(Query::Order { id: full(NEW_ORDER) }))]
    );
    assert!(app.handle(progress()).is_empty());
}

#[test]
fn search_and_filters_narrow_the_board() {
    let mut app = city_app(Lang::Zh, 80, 24);
    feed(&mut app, key('/'));
    typed(&mut app, "闽江");
    assert_eq!(app.board_rows(), [FLOOD]);
    feed(&mut app, code(KeyCode::Enter));
    assert_eq!(app.board_rows(), [FLOOD], "Enter keeps the search");
    feed(&mut app, key('c'));
    assert_eq!(app.board_rows().len(), 4);
    feed(&mut app, key('/'));
    typed(&mut app, "西湖"); // an origin path
    assert_eq!(app.board_rows(), [HAZARD]);
    feed(&mut app, code(KeyCode::Esc));
    feed(&mut app, key('s')); // IV and up
    assert_eq!(app.board_rows(), [FLOOD, FIRE, HAZARD]);
    feed(&mut app, key('s')); // III and up
    assert_eq!(app.board_rows(), [FLOOD, FIRE]);
    feed(&mut app, key('c'));
    feed(&mut app, key('e')); // actual only
    assert_eq!(app.board_rows(), [FLOOD, FIRE, HAZARD]);
    feed(&mut app, key('e')); // exercise only
    assert_eq!(app.board_rows(), [DRILL]);
    feed(&mut app, key('c'));
    feed(&mut app, key('t')); // reported only
    assert_eq!(app.board_rows(), [FLOOD, HAZARD]);
}

#[test]
fn a_click_selects_a_row_and_a_second_click_opens_it() {
    let mut app = city_app(Lang::En, 80, 24);
    // Rows start under the tabs, filter and header lines: row 3 is the first.
    let click = |row| {
        AppEvent::Mouse(MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column: 20,
            row,
            modifiers: KeyModifiers::NONE,
        })
    };
    feed(&mut app, click(5));
    assert_eq!(app.selected_incident(), Some(HAZARD));
    assert_eq!(app.screen(), Screen::Board);
    feed(&mut app, click(5));
    assert_eq!(app.screen(), Screen::Detail);
    assert_eq!(app.detail_incident(), Some(HAZARD));
    // The tabs are clickable too: "2 Orders".
    let tab = AppEvent::Mouse(MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: 23,
        row: 0,
        modifiers: KeyModifiers::NONE,
    });
    feed(&mut app, tab);
    assert_eq!(app.screen(), Screen::Orders);
}

#[test]
fn signing_for_an_order_sends_an_acknowledgement() {
    let mut app = city_app(Lang::En, 80, 24);
    feed(&mut app, key('2'));
    assert_eq!(app.screen(), Screen::Orders);
    assert_eq!(
        app.handle(key('s')),
        [Action::Send(Request::Act(Act::Acknowledge {
            order: full(FIRE_ORDER),
            state: TargetState::SignedFor { by: String::new() },
        }))]
    );
    feed(&mut app, key('x'));
    typed(&mut app, "不在辖区");
    assert_eq!(
        app.handle(code(KeyCode::Enter)),
        [Action::Send(Request::Act(Act::Acknowledge {
            order: full(FIRE_ORDER),
            state: TargetState::Refused {
                reason: "不在辖区".into()
            },
        }))]
    );
    // Enter opens the order's incident.
    feed(&mut app, code(KeyCode::Enter));
    assert_eq!(app.detail_incident(), Some(FIRE));
}

#[test]
fn a_lost_subscription_shows_and_a_new_snapshot_restores() {
    let mut app = city_app(Lang::En, 80, 24);
    feed(
        &mut app,
        AppEvent::Disconnected("lost the connection to the node".into()),
    );
    let text = shot(&app, 80, 24);
    assert!(text.contains("connection lost: lost the connection"), "{text}");
    feed(
        &mut app,
        AppEvent::Snapshot {
            status: city_status(),
            incidents: vec![fire()],
            orders: vec![],
            rooms: vec![],
        },
    );
    assert_eq!(app.board_rows(), [FIRE]);
    assert!(shot(&app, 80, 24).contains("* live"));
}
