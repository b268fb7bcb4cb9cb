//! Snapshot tests: every screen in Chinese and English, drawn to a
//! `TestBackend` after scripted events from real proto values, with a fixed
//! clock. Snapshots live in `tests/snapshots/`; a mismatch fails (CI runs
//! with `CI=true`, which makes insta refuse to write new snapshots).
//! Review changes with `cargo insta review`, or accept with
//! `INSTA_UPDATE=always cargo test -p liandong-tui --test screens`.

mod common;

use common::*;
use crossterm::event::KeyCode;
use liandong_control::{Act, Query};
use liandong_control::{Notice, OrderView, Request, Response};
use liandong_dispatch::store::{OrderRecord, RollUp, TargetStatus};
use liandong_dispatch::wire::{Mode, Order, TargetState, Targets};
use liandong_topology::Severity;
use liandong_tui::{Action, App, AppEvent, Lang};

const LANGS: [(Lang, &str); 2] = [(Lang::Zh, "zh"), (Lang::En, "en")];

fn check(name: &str, lang: &str, app: &App, width: u16, height: u16) {
    insta::assert_snapshot!(format!("{name}_{lang}_{width}x{height}"), shot(app, width, height));
}

/// All four scripted events, in order.
fn after_events(lang: Lang, width: u16, height: u16) -> App {
    let mut app = city_app(lang, width, height);
    feed(&mut app, new_report());
    feed(&mut app, signed_for());
    feed(&mut app, deadline_passes());
    feed(&mut app, link_down());
    app
}

#[test]
fn board_before_anything_happens() {
    for (lang, name) in LANGS {
        check("board", name, &city_app(lang, 80, 24), 80, 24);
    }
}

#[test]
fn board_while_connecting() {
    for (lang, name) in LANGS {
        let mut app = App::new(lang, UTC8, Some(operator()));
        feed(&mut app, AppEvent::Tick(NOW));
        check("connecting", name, &app, 80, 24);
    }
}

#[test]
fn board_when_a_new_report_arrives() {
    for (lang, name) in LANGS {
        let mut app = city_app(lang, 80, 24);
        feed(&mut app, new_report());
        check("board_new_report", name, &app, 80, 24);
    }
}

#[test]
fn board_when_a_deadline_passes() {
    for (lang, name) in LANGS {
        let mut app = city_app(lang, 80, 24);
        feed(&mut app, deadline_passes());
        check("board_deadline_passed", name, &app, 80, 24);
    }
}

#[test]
fn board_after_every_event_small_and_large() {
    for (lang, name) in LANGS {
        check("board_after_events", name, &after_events(lang, 80, 24), 80, 24);
        check("board_after_events", name, &after_events(lang, 200, 60), 200, 60);
    }
}

#[test]
fn board_filtered_by_search_and_severity() {
    for (lang, name) in LANGS {
        let mut app = after_events(lang, 80, 24);
        feed(&mut app, key('s'));
        feed(&mut app, key('s'));
        feed(&mut app, key('/'));
        typed(&mut app, "福州");
        check("board_filtered", name, &app, 80, 24);
    }
}

/// The fire's detail after 五一社区 signed for its order.
fn fire_detail(lang: Lang, width: u16, height: u16) -> App {
    let mut app = after_events(lang, width, height);
    let row = app
        .board_rows()
        .iter()
        .position(|&id| id == FIRE)
        .expect("the fire is on the board");
    feed(&mut app, key('g'));
    for _ in 0..row {
        feed(&mut app, key('j'));
    }
    feed(&mut app, code(KeyCode::Enter));
    app
}

#[test]
fn detail_after_an_order_is_signed_for() {
    for (lang, name) in LANGS {
        check("detail_fire", name, &fire_detail(lang, 80, 24), 80, 24);
        let mut wide = fire_detail(lang, 140, 30);
        feed(&mut wide, code(KeyCode::Tab));
        feed(&mut wide, key('j'));
        check("detail_fire_orders_pane", name, &wide, 140, 30);
    }
}

#[test]
fn detail_with_a_prompt_open() {
    for (lang, name) in LANGS {
        let mut app = fire_detail(lang, 80, 24);
        feed(&mut app, key('e'));
        typed(&mut app, "火势扩大,需市级协调 more units");
        check("detail_escalate_prompt", name, &app, 80, 24);
    }
}

#[test]
fn orders_screen() {
    for (lang, name) in LANGS {
        let mut app = after_events(lang, 80, 24);
        feed(&mut app, key('2'));
        check("orders", name, &app, 80, 24);
    }
}

#[test]
fn links_when_a_link_goes_down() {
    for (lang, name) in LANGS {
        let mut app = after_events(lang, 80, 24);
        feed(&mut app, key('3'));
        check("links_down", name, &app, 80, 24);
    }
}

/// A composer for the flood: 鼓楼区's and 闽侯县's whole areas are not
/// what we want; mark 侯官村 and 厚美村, raise the severity, write two
/// lines.
fn flood_composer(lang: Lang) -> App {
    let mut app = after_events(lang, 80, 24);
    let row = app
        .board_rows()
        .iter()
        .position(|&id| id == FLOOD)
        .expect("the flood is on the board");
    feed(&mut app, key('g'));
    for _ in 0..row {
        feed(&mut app, key('j'));
    }
    feed(&mut app, code(KeyCode::Enter));
    feed(&mut app, key('d'));
    feed(&mut app, code(KeyCode::End));
    feed(&mut app, key(' '));
    feed(&mut app, key('k'));
    feed(&mut app, key(' '));
    feed(&mut app, code(KeyCode::Tab)); // level
    feed(&mut app, code(KeyCode::Tab)); // severity
    feed(&mut app, code(KeyCode::Right));
    feed(&mut app, code(KeyCode::Tab)); // deadline
    feed(&mut app, code(KeyCode::Right));
    feed(&mut app, code(KeyCode::Right));
    feed(&mut app, code(KeyCode::Tab)); // mode
    feed(&mut app, code(KeyCode::Tab)); // instruction
    typed(&mut app, "组织沿江群众转移\n巡查堤防 report every 30 min");
    app
}

#[test]
fn composer_targets_and_instruction() {
    for (lang, name) in LANGS {
        check("composer", name, &flood_composer(lang), 80, 24);
    }
}

#[test]
fn composer_confirm_then_watch_acknowledgements() {
    for (lang, name) in LANGS {
        let mut app = flood_composer(lang);
        feed(&mut app, ctrl('s'));
        check("composer_confirm", name, &app, 80, 24);

        let actions = app.handle(key('y'));
        let [Action::Send(request @ Request::Act(Act::Dispatch { .. }))] = actions.as_slice() else {
            panic!("confirming sends one dispatch, got {actions:?}");
        };
        let actions = app.handle(AppEvent::Answer {
            request: request.clone(),
            response: Ok(Response::Done {
                id: NEW_ORDER,
                what: "order c3d94a18e670 stored at 350100".into(),
            }),
        });
        let [Action::Send(fetch @ Request::Query(Query::Order { .. }))] = actions.as_slice() else {
            panic!("the new order is fetched once, got {actions:?}");
        };
        let pending = |at| TargetStatus {
            state: TargetState::Delivered,
            at,
            overdue: None,
        };
        let view = OrderView {
            order: OrderRecord {
                id: NEW_ORDER,
                issuer: id(CITY),
                order: Order {
                    incident: Some(FLOOD),
                    targets: Targets::List(vec![id(HOUGUAN), id("350121002002")]),
                    severity: Severity::I,
                    instruction: "组织沿江群众转移\n巡查堤防 report every 30 min".into(),
                    by: "王芳".into(),
                    finish_by: Some(later(3600)),
                },
                mode: Mode::Actual,
                issued: later(190),
                sign_for_by: later(190 + 600),
                finish_by: later(3600),
            },
            roll_up: RollUp {
                targets: 2,
                delivered: 2,
                ..RollUp::default()
            },
            targets: vec![
                (id(HOUGUAN), pending(later(191))),
                (id("350121002002"), pending(later(191))),
            ],
        };
        feed(
            &mut app,
            AppEvent::Answer {
                request: fetch.clone(),
                response: Ok(Response::Order(view)),
            },
        );
        feed(
            &mut app,
            pushed(
                later(240),
                Notice::OrderProgress {
                    order: NEW_ORDER,
                    target: id(HOUGUAN),
                    state: TargetState::SignedFor { by: "林海".into() },
                    roll_up: RollUp {
                        targets: 2,
                        delivered: 2,
                        signed_for: 1,
                        ..RollUp::default()
                    },
                },
            ),
        );
        check("composer_watching", name, &app, 80, 24);
    }
}

#[test]
fn help_overlay_small_and_large() {
    for (lang, name) in LANGS {
        let mut app = after_events(lang, 80, 24);
        feed(&mut app, key('?'));
        check("help", name, &app, 80, 24);
        let mut large = after_events(lang, 200, 60);
        feed(&mut large, key('?'));
        check("help", name, &large, 200, 60);
    }
}

/// The flood room after the story (message, decision, task, sign-for)
/// and a refusal from the home.
fn room_after_story(lang: Lang, width: u16, height: u16) -> App {
    let mut app = room_screen(lang, width, height);
    for event in room_story() {
        feed(&mut app, event);
    }
    feed(&mut app, room_refused());
    app
}

#[test]
fn room_after_a_message_a_decision_a_task_and_a_refusal() {
    for (lang, name) in LANGS {
        check("room", name, &room_after_story(lang, 80, 24), 80, 24);
        check("room", name, &room_after_story(lang, 140, 40), 140, 40);
    }
}

#[test]
fn room_while_loading() {
    for (lang, name) in LANGS {
        let mut app = city_app_as(lang, 80, 24, operator(), vec![flood_room()]);
        open_detail(&mut app, FLOOD);
        feed(&mut app, key('m'));
        check("room_loading", name, &app, 80, 24);
    }
}

#[test]
fn room_log_scrolled_back_with_a_draft() {
    for (lang, name) in LANGS {
        let mut app = room_after_story(lang, 80, 24);
        typed(&mut app, "/decide 加派冲锋舟 2 艘");
        feed(&mut app, code(KeyCode::Tab));
        for _ in 0..4 {
            feed(&mut app, key('k'));
        }
        check("room_log_scrolled", name, &app, 80, 24);
    }
}

#[test]
fn board_and_detail_show_an_open_room() {
    for (lang, name) in LANGS {
        let mut app = city_app_as(lang, 80, 24, operator(), vec![flood_room()]);
        check("board_room", name, &app, 80, 24);
        open_detail(&mut app, FLOOD);
        check("detail_room", name, &app, 80, 24);
    }
}

#[test]
fn detail_for_a_leader_who_may_open_a_room() {
    for (lang, name) in LANGS {
        let mut app = city_app_as(lang, 140, 30, leader(), vec![]);
        open_detail(&mut app, FLOOD);
        check("detail_leader_no_room", name, &app, 140, 30);
    }
}

#[test]
fn board_when_a_room_opens() {
    for (lang, name) in LANGS {
        let mut app = city_app(lang, 80, 24);
        let opening = flood_log().remove(0);
        feed(
            &mut app,
            pushed(
                opening.at,
                Notice::RoomChanged {
                    room: opened_flood_room(&opening),
                    entry: opening,
                },
            ),
        );
        check("board_room_opened", name, &app, 80, 24);
    }
}

#[test]
fn report_for_the_month_so_far() {
    for (lang, name) in LANGS {
        check("report_month", name, &report_screen(lang, 80, 24), 80, 24);
    }
}

/// Yesterday in the day view: the counties' summaries, one under the
/// line, two awaited; then 台江区 comes back with its late summary and
/// the node's index alarm: the console asks for the day again.
#[test]
fn report_for_yesterday_when_a_late_summary_brings_an_alarm() {
    for (lang, name) in LANGS {
        for (width, height) in [(80, 24), (140, 40)] {
            let mut app = report_screen(lang, width, height);
            feed(&mut app, key('d'));
            feed(&mut app, key('['));
            if width == 80 {
                check("report_day", name, &app, width, height);
            }
            let mut actions = Vec::new();
            for event in taijiang_back() {
                actions.extend(app.handle(event));
            }
            assert!(actions.contains(&Action::Bell), "{actions:?}");
            assert_eq!(answer_figures(&mut app, actions, true), ["2026-11-21"]);
            check("report_day_late", name, &app, width, height);
        }
    }
}
