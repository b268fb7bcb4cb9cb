//! How long the escalation board takes to draw with 5,000 open incidents,
//! and to take in one pushed change (which re-sorts the board).
//!
//! Figures are ratios against baselines measured in the same run, so they
//! mean the same on any machine: drawing an empty board of the same size,
//! and filling the same buffer cell by cell; plus the share of a 60 Hz
//! frame (16.7 ms). Run with `cargo bench -p liandong-tui`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use common::*;
use liandong_control::Notice;
use liandong_dispatch::store::Incident;
use liandong_dispatch::wire::{Category, EnvelopeId, Mode, Timestamp};
use liandong_tui::{App, AppEvent, Lang};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::widgets::Widget;

const INCIDENTS: usize = 5_000;
const FRAME: Duration = Duration::from_micros(16_667);

/// A small seeded generator (xorshift), so every run draws the same board.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn incidents(n: usize) -> Vec<Incident> {
    let topology = topology();
    let origins: Vec<_> = topology.nodes().map(|n| n.id.clone()).collect();
    let titles = [
        "邻里噪音纠纷",
        "楼道堆物 blocking the fire exit",
        "仓库冒烟",
        "闽江水位超警戒",
        "群众聚集 gathering at the gate",
        "道路塌陷",
        "燃气泄漏 gas leak",
    ];
    let categories = [
        Category::Dispute,
        Category::Hazard,
        Category::Fire,
        Category::Flood,
        Category::Gathering,
        Category::Accident,
        Category::Hazard,
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let template = fire();
    (0..n)
        .map(|k| {
            let mut i = template.clone();
            let pick = rng.below(titles.len() as u64) as usize;
            i.id = EnvelopeId(u128::from(rng.next()) << 64 | k as u128);
            i.origin = origins[rng.below(origins.len() as u64) as usize].clone();
            i.report.title = format!("{} #{k}", titles[pick]);
            i.report.category = categories[pick];
            i.report.severity = liandong_topology::Severity::ALL[match rng.below(100) {
                0..50 => 0,
                50..85 => 1,
                85..97 => 2,
                97..99 => 3,
                _ => 4,
            }];
            i.reported = Timestamp(NOW.0 - rng.below(86_400_000));
            i.accept_by = Timestamp(NOW.0 + rng.below(7_200_000)).plus(Duration::ZERO);
            i.accept_by = Timestamp(i.accept_by.0.saturating_sub(3_600_000));
            i.state = if rng.below(3) == 0 {
                liandong_dispatch::store::IncidentState::Reported
            } else {
                i.finish_by = Some(Timestamp(NOW.0 + rng.below(86_400_000)));
                liandong_dispatch::store::IncidentState::Accepted
            };
            i.orders.clear();
            i.mode = if rng.below(20) == 0 {
                Mode::Exercise
            } else {
                Mode::Actual
            };
            i
        })
        .collect()
}

fn app_with(incidents: Vec<Incident>, width: u16, height: u16) -> App {
    let mut app = city_app(Lang::Zh, width, height);
    feed(
        &mut app,
        AppEvent::Snapshot {
            status: city_status(),
            incidents,
            orders: vec![fire_order()],
            rooms: vec![],
        },
    );
    app
}

/// Median time of `f` over `runs` runs, after a warm-up.
fn median(runs: usize, mut f: impl FnMut()) -> Duration {
    for _ in 0..runs / 10 + 1 {
        f();
    }
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-12)
}

fn main() {
    let many = incidents(INCIDENTS);
    for (width, height) in [(80u16, 24u16), (200, 60)] {
        let area = Rect::new(0, 0, width, height);
        let full = app_with(many.clone(), width, height);
        let empty = app_with(Vec::new(), width, height);
        assert_eq!(full.board_rows().len(), INCIDENTS, "every incident is on the board");

        let mut buf = Buffer::empty(area);
        let fill = median(200, || {
            buf.reset();
            for y in 0..height {
                for x in 0..width {
                    buf[(x, y)].set_symbol("字").set_style(Style::new());
                }
            }
            black_box(&buf);
        });
        let draw_empty = median(200, || {
            buf.reset();
            (&empty).render(area, &mut buf);
            black_box(&buf);
        });
        let draw_full = median(200, || {
            buf.reset();
            (&full).render(area, &mut buf);
            black_box(&buf);
        });

        // One pushed change: the board is rebuilt and re-sorted.
        let mut live = app_with(many.clone(), width, height);
        let mut changed = many[17].clone();
        let mut n = 0u64;
        let notice = median(50, || {
            n += 1;
            changed.report.title = format!("更新 {n}");
            let actions = live.handle(AppEvent::Pushed(liandong_control::Pushed {
                at: NOW,
                notice: Notice::IncidentChanged {
                    incident: changed.clone(),
                    action: "note".into(),
                    by: id(CITY),
                },
            }));
            black_box(actions);
        });

        println!("board {width}x{height}, {INCIDENTS} open incidents:");
        println!(
            "  draw: {:>8.1} µs = {:>5.2}x an empty board ({:.1} µs), {:>5.2}x filling the buffer ({:.1} µs), {:.2}% of a 16.7 ms frame",
            draw_full.as_secs_f64() * 1e6,
            ratio(draw_full, draw_empty),
            draw_empty.as_secs_f64() * 1e6,
            ratio(draw_full, fill),
            fill.as_secs_f64() * 1e6,
            ratio(draw_full, FRAME) * 100.0,
        );
        println!(
            "  take in one pushed change (re-sort): {:>8.1} µs = {:.2}% of a frame",
            notice.as_secs_f64() * 1e6,
            ratio(notice, FRAME) * 100.0,
        );
        assert!(draw_full < FRAME / 4, "drawing the board must stay well under a frame");
    }
}
