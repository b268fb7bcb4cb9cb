//! The safety report (平安报表) of 福州市 as its node answers it on the
//! afternoon of 2026-11-22 ([`NOW`]), on the Fuzhou preset (13 counties).
//!
//! Every day before today each county sent its day summary just after
//! midnight, except for the 21st: 台江区 and 晋安区 were down then
//! (awaiting: their rows show only what reached the city from them), and
//! 仓山区's index for it is 54.0, under the policy's line of 60. A minute
//! after [`NOW`] 台江区 comes back and sends what it owes: its summary
//! for the 21st, late (version 2), index 56.0, so the node pushes
//! [`taijiang_back`]: the summary and the index alarm. Today and the
//! month are not over, so no county has sent a summary for them: their
//! rows show what reached the city. Figures per county and day follow a
//! weekly shape from fixed numbers, so every run draws the same.

use liandong_control::{Notice, Query, Request, Response};
use liandong_dispatch::figures::{Breakdown, Figures, Period, Report, Row, Source};
use liandong_dispatch::wire::Timestamp;
use liandong_topology::{Addressing, NodeId, Preset, Shape, Topology, generate};
use liandong_tui::{Action, App, AppEvent, Lang};

use super::{CITY, NOW, UTC8, city_status, feed, id, operator, pushed};

/// Fuzhou's 13 county-level divisions, in the topology's order.
pub const FUZHOU_COUNTIES: [&str; 13] = [
    "350102", "350103", "350104", "350105", "350111", "350112", "350121", "350122", "350123", "350124", "350125",
    "350128", "350181",
];
pub const TAIJIANG: &str = "350103";
pub const CANGSHAN: &str = "350104";
pub const JINAN: &str = "350111";
/// Today's day of the month.
pub const TODAY: u8 = 22;

pub fn fuzhou() -> Topology {
    generate(&Shape::Preset(Preset::Fuzhou), Addressing::default()).expect("the Fuzhou topology")
}

/// The city's console on the Fuzhou topology, live at [`NOW`], nothing
/// open.
pub fn fuzhou_app(lang: Lang, width: u16, height: u16) -> App {
    let mut app = App::new(lang, UTC8, Some(operator()));
    feed(&mut app, AppEvent::Resize { width, height });
    feed(&mut app, AppEvent::Topology(Box::new(fuzhou())));
    feed(&mut app, AppEvent::Tick(NOW));
    feed(
        &mut app,
        AppEvent::Snapshot {
            status: city_status(),
            incidents: vec![],
            orders: vec![],
            rooms: vec![],
        },
    );
    app
}

/// Figures of a slice that received `received`, shaped by `seed`.
fn figures(received: u64, seed: u64) -> Figures {
    let owned = received * (70 + seed % 20) / 100;
    let resolved = owned * (80 + seed % 17) / 100;
    Figures {
        received,
        owned,
        passed_up: received - owned,
        accepted: owned,
        accepted_on_time: owned * (85 + seed % 13) / 100,
        resolved,
        verified: resolved,
        closed: resolved * 9 / 10,
        supervised: u64::from(seed.is_multiple_of(5)) + received / 40,
        ..Figures::default()
    }
}

/// What county `i` received on `day` (a weekly shape).
fn received(i: usize, day: u8) -> u64 {
    const WEEK: [u64; 7] = [10, 11, 12, 11, 10, 6, 5];
    let base = [9, 6, 8, 4, 7, 5, 8, 5, 3, 3, 3, 2, 9][i];
    base * WEEK[(usize::from(day) + i) % 7] / 2 + (i as u64 * 3 + u64::from(day) * 7) % 5
}

/// What reached the city from county `i` on `day` (passed up to it).
fn reached(i: usize, day: u8) -> u64 {
    received(i, day) / 12
}

fn row(node: &str, source: Source, actual: Figures, index: Option<u32>) -> Row {
    Row {
        node: id(node),
        source,
        actual,
        drill: Figures::default(),
        index,
        alarm: index.is_some_and(|i| i < 600),
    }
}

fn summary(version: u32, late: bool, at: Timestamp) -> Source {
    Source::Summary { version, late, at }
}

fn report(period: Period, rows: Vec<Row>, missing: Vec<NodeId>, drills: u64) -> Report {
    let mut all = Figures::default();
    for r in &rows {
        all.merge(&r.actual);
    }
    let index = 835;
    Report {
        center: id(CITY),
        period,
        source: Source::Own,
        actual: Breakdown {
            all,
            ..Breakdown::default()
        },
        drill: Breakdown {
            all: Figures {
                received: drills,
                ..Figures::default()
            },
            ..Breakdown::default()
        },
        index,
        alarm: false,
        rows,
        missing,
    }
}

/// The city's report for day `day` of November 2026 (up to today);
/// `back`: after 台江区 came back.
pub fn day_report(day: u8, back: bool) -> Report {
    let period = Period::Day {
        year: 2026,
        month: 11,
        day,
    };
    let sent = Timestamp(period.end().0 + 10 * 60_000);
    let own = row(
        CITY,
        Source::Own,
        figures(3 + u64::from(day % 4), u64::from(day)),
        Some(880 + u32::from(day % 5) * 11),
    );
    let mut rows = vec![own];
    let mut missing = Vec::new();
    for (i, county) in FUZHOU_COUNTIES.iter().enumerate() {
        let seed = i as u64 * 7 + u64::from(day);
        let index = 790 + ((i as u32 * 37 + u32::from(day) * 13) % 160);
        let down = day == 21 && (*county == JINAN || (*county == TAIJIANG && !back));
        let r = if day == TODAY || down {
            missing.push(id(county));
            row(county, Source::Awaiting, figures(reached(i, day), seed), None)
        } else if day == 21 && *county == TAIJIANG {
            row(
                county,
                summary(2, true, BACK),
                figures(received(i, day), seed),
                Some(560),
            )
        } else if day == 21 && *county == CANGSHAN {
            row(
                county,
                summary(1, false, sent),
                figures(received(i, day), seed),
                Some(540),
            )
        } else {
            row(
                county,
                summary(1, false, sent),
                figures(received(i, day), seed),
                Some(index),
            )
        };
        rows.push(r);
    }
    report(period, rows, missing, u64::from(day % 3))
}

/// The city's report for November 2026 so far: its own figures, every
/// county awaited (the month is not over) with what reached the city.
pub fn month_report() -> Report {
    let period = Period::Month { year: 2026, month: 11 };
    let own = (1..=TODAY).fold(Figures::default(), |mut f, d| {
        f.merge(&figures(3 + u64::from(d % 4), u64::from(d)));
        f
    });
    let mut rows = vec![row(CITY, Source::Own, own, Some(872))];
    for (i, county) in FUZHOU_COUNTIES.iter().enumerate() {
        let reached = (1..=TODAY).map(|d| reached(i, d)).sum();
        rows.push(row(county, Source::Awaiting, figures(reached, i as u64), None));
    }
    let missing = FUZHOU_COUNTIES.iter().map(|c| id(c)).collect();
    report(period, rows, missing, 7)
}

/// The node's answer to a figures request (`back`: after 台江区 came
/// back).
pub fn figures_answer(period: &str, back: bool) -> Response {
    match Period::parse(period).expect("the console asks for a period") {
        Period::Month { .. } => Response::Figures(Box::new(month_report())),
        Period::Day { day, .. } => Response::Figures(Box::new(day_report(day, back))),
    }
}

/// The periods `actions` ask figures for.
pub fn figures_asked(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send(Request::Query(Query::Figures { period, center: None })) => Some(period.clone()),
            _ => None,
        })
        .collect()
}

/// Answers every figures request in `actions` and the ones each answer
/// leads to, as the node would (`back`: after 台江区 came back); returns
/// the periods asked, in order.
pub fn answer_figures(app: &mut App, mut actions: Vec<Action>, back: bool) -> Vec<String> {
    let mut asked = Vec::new();
    // A month of days and the month itself, at most.
    for _ in 0..40 {
        let periods = figures_asked(&actions);
        let Some(period) = periods.first() else {
            return asked;
        };
        assert_eq!(periods.len(), 1, "one figures request at a time: {actions:?}");
        asked.push(period.clone());
        actions = app.handle(AppEvent::Answer {
            request: Request::Query(Query::Figures {
                period: period.clone(),
                center: None,
            }),
            response: Ok(figures_answer(period, back)),
        });
    }
    panic!("the console kept asking for figures: {asked:?}");
}

/// The city's console on the safety report, every answer in.
pub fn report_screen(lang: Lang, width: u16, height: u16) -> App {
    let mut app = fuzhou_app(lang, width, height);
    let actions = app.handle(super::key('4'));
    let asked = answer_figures(&mut app, actions, false);
    assert_eq!(asked.len(), 1 + usize::from(TODAY), "{asked:?}");
    app
}

/// When 台江区 comes back and its late summary arrives.
pub const BACK: Timestamp = Timestamp(NOW.0 + 60_000);

/// 台江区 came back: its late summary for 2026-11-21 (version 2) and the
/// alarm for its index, 56.0.
pub fn taijiang_back() -> [AppEvent; 2] {
    let period = Period::Day {
        year: 2026,
        month: 11,
        day: 21,
    };
    [
        pushed(
            BACK,
            Notice::Summary {
                child: id(TAIJIANG),
                period,
                version: 2,
                late: true,
            },
        ),
        pushed(
            BACK,
            Notice::IndexAlarm {
                child: id(TAIJIANG),
                period,
                index: 560,
                below: 60,
            },
        ),
    ]
}
