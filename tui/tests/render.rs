//! Drawing: colours that carry meaning, purity, and every screen at many
//! sizes without overlapping text or a panic.

mod common;

use common::*;
use crossterm::event::KeyCode;
use liandong_tui::{App, AppEvent, Lang};
use ratatui::style::Color;

/// The cell where `text` starts on the row that contains `row_has`.
fn find(backend: &ratatui::backend::TestBackend, row_has: &str, text: &str) -> (u16, u16) {
    let lines = screen(backend);
    let y = lines
        .lines()
        .position(|l| l.contains(row_has))
        .unwrap_or_else(|| panic!("no row with {row_has:?} in\n{lines}"));
    let buf = backend.buffer();
    let first = text.chars().next().expect("some text").to_string();
    for x in 0..buf.area.width {
        if buf[(x, y as u16)].symbol() == first {
            let rest: String = (x..buf.area.width)
                .map(|x| buf[(x, y as u16)].symbol().to_owned())
                .collect::<String>();
            if rest.replace(' ', "").starts_with(&text.replace(' ', "")) {
                return (x, y as u16);
            }
        }
    }
    panic!("{text:?} not on the row with {row_has:?}");
}

#[test]
fn severities_and_missed_deadlines_have_their_colours() {
    let mut app = city_app(Lang::En, 80, 24);
    feed(&mut app, new_report());
    // The alarm banner is red.
    assert_eq!(draw(&app, 80, 24).buffer()[(1, 1)].bg, Color::Red);
    // Acknowledged, so the rows below are the only ones naming incidents.
    feed(&mut app, key('A'));
    let backend = draw(&app, 80, 24);
    let buf = backend.buffer();
    let colour = |row_has: &str, text: &str| {
        let at = find(&backend, row_has, text);
        buf[at].fg
    };
    assert_eq!(colour("chemi", "I "), Color::Red);
    assert_eq!(colour("闽江", "II"), liandong_tui::ui::ORANGE);
    assert_eq!(colour("仓库", "III"), Color::Yellow);
    assert_eq!(colour("楼道", "IV"), Color::LightBlue);
    assert_eq!(colour("演练", "Routine"), Color::Reset);
    // The hazard's accept deadline passed 3 minutes ago: red.
    assert_eq!(colour("楼道", "-3m00s"), Color::Red);
    assert_eq!(colour("闽江", "2m00s"), Color::Reset);
}

#[test]
fn drawing_is_a_function_of_the_state() {
    let mut app = city_app(Lang::Zh, 100, 30);
    feed(&mut app, new_report());
    feed(&mut app, signed_for());
    let first = draw(&app, 100, 30);
    let second = draw(&app, 100, 30);
    assert_eq!(first.buffer(), second.buffer());
    // Time only moves with a tick.
    feed(&mut app, AppEvent::Tick(later(60)));
    assert_ne!(draw(&app, 100, 30).buffer(), first.buffer());
}

/// Every screen, both languages, many sizes: no panic, no text drawn over
/// half of a wide character.
#[test]
fn every_screen_at_many_sizes() {
    let room = |app: &mut App| {
        open_detail(app, FLOOD);
        feed(app, key('m'));
        feed(
            app,
            AppEvent::Answer {
                request: liandong_control::Request::Query(liandong_control::Query::Room {
                    id: liandong_control::IdRef(format!("{:032x}", FLOOD.0)),
                }),
                response: Ok(liandong_control::Response::Room(flood_room_view())),
            },
        );
        for event in room_story() {
            feed(app, event);
        }
        typed(app, "/任务 侯官村 加固堤防 all hands 到岗到位,逐户排查,一个不漏");
    };
    let report = |app: &mut App| {
        let actions = app.handle(key('4'));
        answer_figures(app, actions, false);
    };
    let screens: [&dyn Fn(&mut App); 11] = [
        &|_| {},
        &|app| {
            feed(app, key('g'));
            feed(app, code(KeyCode::Enter));
        },
        &|app| feed(app, key('2')),
        &|app| feed(app, key('3')),
        &|app| feed(app, key('n')),
        &|app| {
            feed(app, key('n'));
            feed(app, key(' '));
            for _ in 0..5 {
                feed(app, code(KeyCode::Tab));
            }
            typed(app, "全体人员立即到岗 all hands 到岗到位,逐户排查,一个不漏");
            feed(app, ctrl('s'));
        },
        &|app| feed(app, key('?')),
        &room,
        &|app| {
            room(app);
            feed(app, code(KeyCode::Tab));
            feed(app, key('k'));
            feed(app, key('k'));
        },
        &report,
        &|app| {
            report(app);
            for event in taijiang_back() {
                feed(app, event);
            }
            feed(app, key('d'));
            feed(app, key('['));
            feed(app, code(KeyCode::End));
        },
    ];
    for lang in [Lang::Zh, Lang::En] {
        for (n, open) in screens.iter().enumerate() {
            for (w, h) in [
                (20, 5),
                (40, 10),
                (61, 17),
                (80, 24),
                (99, 31),
                (120, 40),
                (141, 45),
                (200, 60),
                (250, 70),
            ] {
                let mut app = city_app(lang, w, h);
                feed(&mut app, new_report());
                feed(&mut app, signed_for());
                feed(&mut app, deadline_passes());
                feed(&mut app, link_down());
                open(&mut app);
                let text = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| shot(&app, w, h)))
                    .unwrap_or_else(|_| panic!("screen {n} in {lang:?} at {w}x{h}"));
                assert_eq!(text.lines().count(), usize::from(h));
            }
        }
    }
}

/// Columns line up whatever mix of Chinese and Latin text the rows hold.
#[test]
fn board_columns_line_up_with_mixed_text() {
    for lang in [Lang::Zh, Lang::En] {
        let mut app = city_app(lang, 120, 20);
        feed(&mut app, new_report());
        feed(&mut app, key('A'));
        let backend = draw(&app, 120, 20);
        let state = if lang == Lang::Zh { "已上报" } else { "reported" };
        let columns: Vec<u16> = ["化工厂", "闽江", "楼道"]
            .iter()
            .map(|row| find(&backend, row, state).0)
            .collect();
        assert!(columns.windows(2).all(|w| w[0] == w[1]), "{lang:?}: {columns:?}");
    }
}

/// In the room's log decisions stand out, sign-for reads green, a
/// refusal from the home is red.
#[test]
fn room_decisions_and_progress_have_their_colours() {
    use ratatui::style::Modifier;
    let mut app = room_screen(Lang::Zh, 100, 30);
    for event in room_story() {
        feed(&mut app, event);
    }
    feed(&mut app, room_refused());
    let backend = draw(&app, 100, 30);
    let buf = backend.buffer();
    let decision = buf[find(&backend, "#9 ", "【决定】")].clone();
    assert_eq!(decision.fg, Color::Yellow);
    assert!(decision.modifier.contains(Modifier::BOLD));
    let signed = find(&backend, "#11 ", "任务#10 侯官村");
    assert_eq!(buf[signed].fg, Color::Green);
    // A message is plain; the refusal in the status line is red.
    assert_eq!(buf[find(&backend, "#8 ", "县防汛")].fg, Color::Reset);
    assert_eq!(buf[find(&backend, "协调室未受理", "协调室未受理")].fg, Color::Red);
}

/// On the safety report a row under the alarm line is red, in the table
/// and in the chart; a row above it is plain with a green bar.
#[test]
fn report_rows_under_the_alarm_line_are_red() {
    let mut app = report_screen(Lang::Zh, 100, 30);
    feed(&mut app, key('d'));
    feed(&mut app, key('['));
    let backend = draw(&app, 100, 30);
    let buf = backend.buffer();
    assert_eq!(buf[find(&backend, "仓山区   报送", "54.0 !")].fg, Color::Red);
    assert_eq!(buf[find(&backend, "鼓楼区   报送", "90.3")].fg, Color::Reset);
    assert_eq!(buf[find(&backend, "54.0█", "█")].fg, Color::Red);
    assert_eq!(buf[find(&backend, "90.3█", "█")].fg, Color::Green);
    // The day on screen is yellow in every sparkline.
    let (x, y) = find(&backend, "90.3█", "▇█▆");
    assert_eq!(buf[(x + 20, y)].fg, Color::Yellow);
    assert_eq!(buf[(x + 19, y)].fg, Color::Cyan);
}
