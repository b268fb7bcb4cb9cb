//! Key, mouse and event handling: what the operator does becomes the
//! right request, alarms ring once, and nothing polls.

mod common;

use common::*;
use crossterm::event::{KeyCode, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use liandong_control::{Act, Query};
use liandong_control::{IdRef, Notice, Request, Response};
use liandong_dispatch::wire::{Mode, Stage, TargetState, Targets, Timestamp};
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

/// The periods every figures request of `actions` asks for, after
/// answering the first (the console asks one at a time).
fn asked_for(app: &mut App, event: AppEvent) -> Vec<String> {
    let actions = app.handle(event);
    answer_figures(app, actions, false)
}

fn november(days: impl IntoIterator<Item = u8>) -> Vec<String> {
    days.into_iter().map(|d| format!("2026-11-{d:02}")).collect()
}

#[test]
fn opening_the_report_asks_for_the_month_then_each_day_one_at_a_time() {
    let mut app = fuzhou_app(Lang::Zh, 80, 24);
    let actions = app.handle(key('4'));
    assert_eq!(app.screen(), Screen::Report);
    assert_eq!(figures_asked(&actions), ["2026-11"]);
    let mut expected = vec!["2026-11".to_owned(), "2026-11-22".to_owned()];
    expected.extend(november(1..22));
    assert_eq!(answer_figures(&mut app, actions, false), expected);
    assert_eq!(app.report_pane().shown_rows().len(), 14);
    // The clock moving within the day, the day view, yesterday (already
    // here) and the cursor ask nothing: nothing polls.
    for event in [AppEvent::Tick(later(60)), key('d'), key('['), key('j'), key(']')] {
        assert_eq!(app.handle(event), []);
    }
    // r asks for it all again; so does opening the tab by a click.
    assert_eq!(asked_for(&mut app, key('r')).len(), 23);
    feed(&mut app, key('1'));
    let tab = AppEvent::Mouse(MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: 40,
        row: 0,
        modifiers: KeyModifiers::NONE,
    });
    assert_eq!(asked_for(&mut app, tab).len(), 23);
    assert_eq!(app.screen(), Screen::Report);
    // Back a month: October is asked for whole, never past today forward.
    feed(&mut app, key('d'));
    let october = asked_for(&mut app, key('['));
    assert_eq!(october[..3], ["2026-10", "2026-10-31", "2026-10-01"]);
    assert_eq!(october.len(), 32);
    assert_eq!(asked_for(&mut app, key(']')).len(), 23);
    assert_eq!(app.handle(key(']')), []);
}

#[test]
fn leaving_the_report_stops_asking_and_coming_back_asks_anew() {
    let mut app = fuzhou_app(Lang::Zh, 80, 24);
    let actions = app.handle(key('4'));
    feed(&mut app, key('1'));
    let answer = |period: &str| AppEvent::Answer {
        request: Request::Query(Query::Figures {
            period: period.into(),
            center: None,
        }),
        response: Ok(figures_answer(period, false)),
    };
    assert_eq!(figures_asked(&actions), ["2026-11"]);
    assert_eq!(app.handle(answer("2026-11")), []);
    // Nothing more while it was closed; opening it asks for everything.
    assert_eq!(asked_for(&mut app, key('4')).len(), 23);
}

#[test]
fn a_childs_summary_asks_again_for_its_period_while_the_report_is_open() {
    let mut app = report_screen(Lang::En, 80, 24);
    let [summary, _] = taijiang_back();
    assert_eq!(asked_for(&mut app, summary.clone()), ["2026-11-21"]);
    // A summary for a period off the screen asks nothing.
    let october = pushed(
        later(90),
        Notice::Summary {
            child: id(TAIJIANG),
            period: liandong_dispatch::figures::Period::Month { year: 2026, month: 10 },
            version: 3,
            late: true,
        },
    );
    assert_eq!(app.handle(october), []);
    // Nor does any while the screen is closed.
    feed(&mut app, key('1'));
    assert_eq!(app.handle(summary), []);
}

#[test]
fn midnight_asks_for_the_new_day_the_day_before_and_the_month() {
    let mut app = report_screen(Lang::Zh, 80, 24);
    // 2026-11-23 00:00:30 in China.
    let midnight = AppEvent::Tick(Timestamp(1_795_363_230_000));
    assert_eq!(asked_for(&mut app, midnight), ["2026-11-23", "2026-11-22", "2026-11"]);
    assert_eq!(app.report_pane().days.len(), 23);
}

#[test]
fn a_failed_request_ends_the_round_and_r_starts_another() {
    let mut app = fuzhou_app(Lang::En, 80, 24);
    let actions = app.handle(key('4'));
    let [Action::Send(request)] = actions.as_slice() else {
        panic!("one request: {actions:?}");
    };
    let after = app.handle(AppEvent::Answer {
        request: request.clone(),
        response: Err("the connection closed".into()),
    });
    assert_eq!(after, []);
    assert!(shot(&app, 80, 24).contains("the connection closed"));
    assert_eq!(asked_for(&mut app, key('r')).len(), 23);
    // A refusal is shown and the round goes on.
    let actions = app.handle(key('r'));
    let after = app.handle(AppEvent::Answer {
        request: Request::Query(Query::Figures {
            period: "2026-11".into(),
            center: None,
        }),
        response: Ok(Response::Refused {
            reason: "the store is failing".into(),
        }),
    });
    assert_eq!(figures_asked(&actions), ["2026-11"]);
    assert_eq!(figures_asked(&after), ["2026-11-22"]);
}

#[test]
fn an_index_alarm_rings_names_the_child_and_shows_on_the_report() {
    for lang in [Lang::Zh, Lang::En] {
        let mut app = fuzhou_app(lang, 100, 30);
        let [_, alarm] = taijiang_back();
        assert_eq!(app.handle(alarm), [Action::Bell]);
        let first = app.alarms().front().expect("an alarm").clone();
        assert_eq!(
            first.kind,
            AlarmKind::IndexAlarm {
                period: liandong_dispatch::figures::Period::Day {
                    year: 2026,
                    month: 11,
                    day: 21
                },
                index: 560,
                below: 60,
            }
        );
        assert_eq!(first.title, "台江区");
        let banner = match lang {
            Lang::Zh => "平安指数预警 2026-11-21 56.0 低于 60: 台江区",
            Lang::En => "safety index alarm 2026-11-21 56.0 under 60: 台江区",
        };
        assert!(shot(&app, 100, 30).contains(banner), "{}", shot(&app, 100, 30));
        // The report names it for the day on screen, not for the month.
        let actions = app.handle(key('4'));
        answer_figures(&mut app, actions, true);
        let warning = match lang {
            Lang::Zh => "! 预警 台江区 56.0 低于 60",
            Lang::En => "! warning 台江区 56.0 under 60",
        };
        assert!(!shot(&app, 100, 30).contains(warning));
        feed(&mut app, key('d'));
        feed(&mut app, key('['));
        assert!(shot(&app, 100, 30).contains(warning), "{}", shot(&app, 100, 30));
        // Space acknowledges it like any other.
        feed(&mut app, key(' '));
        assert!(app.alarms().is_empty());
    }
}
