//! What a safety report costs a center: the fold of its store into a
//! month's figures, for stores of 10,000 to 300,000 incidents (a Fuzhou
//! county holds some tens of thousands a year; a city with a year of a
//! province's serious ones, more), against a bare pass over the same
//! incidents that only reads their time (the least any fold must do),
//! measured in the same run.
//!
//! The fold reads the incidents of its period only (the store keeps them
//! by the time they were reported), so a day costs less than a month.
//!
//! Run with `cargo bench -p liandong-dispatch --bench figures`. Medians of 5.

use std::hint::black_box;
use std::time::{Duration, Instant};

use liandong_dispatch::figures::{Period, fold};
use liandong_dispatch::store::{Incident, IncidentState, Store, TimelineEntry, step};
use liandong_dispatch::wire::{Category, EnvelopeId, Mode, Report, Timestamp};
use liandong_topology::{Addressing, NodeId, Preset, Severity, Shape, generate};

fn median(mut f: impl FnMut()) -> Duration {
    let mut t: Vec<Duration> = (0..5)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed()
        })
        .collect();
    t.sort();
    t[2]
}

fn main() {
    let topology = generate(&Shape::Preset(Preset::Fuzhou), Addressing::default()).expect("fuzhou");
    let county = NodeId::parse("350102").expect("id");
    let villages: Vec<NodeId> = topology
        .subtree(&county, None)
        .filter(|n| n.id.as_str().len() == 12)
        .map(|n| n.id.clone())
        .collect();
    let month = Period::parse("2026-11").expect("month");
    println!("fold of a county's store into a month's figures (2 cores, shared; medians of 5)");
    println!(
        "{:>9} {:>12} {:>12} {:>7} {:>10}",
        "incidents", "bare ms", "fold ms", "ratio", "day ms"
    );
    for n in [10_000u64, 100_000, 300_000] {
        let mut store = Store::default();
        // Spread over a year; a twelfth in the month asked for.
        let year_start = Period::parse("2026-01").expect("month").start().0;
        for k in 0..n {
            let reported = Timestamp(year_start + k * (365 * 86_400_000 / n));
            let origin = villages[k as usize % villages.len()].clone();
            let owned = k % 3 != 0;
            let owner = if owned {
                county.clone()
            } else {
                NodeId::parse("350100").expect("id")
            };
            let mut timeline = vec![TimelineEntry {
                at: reported,
                node: origin.clone(),
                what: format!("{}网格员", step::REPORTED),
            }];
            if owned {
                timeline.push(TimelineEntry {
                    at: Timestamp(reported.0 + 600_000),
                    node: county.clone(),
                    what: format!("{}值班员", step::ACCEPTED),
                });
                timeline.push(TimelineEntry {
                    at: Timestamp(reported.0 + 86_400_000),
                    node: county.clone(),
                    what: format!("{}值班员", step::CLOSED),
                });
            }
            let id = EnvelopeId(u128::from(k) + 1);
            store.incidents.insert(
                id,
                Incident {
                    id,
                    origin,
                    report: Report {
                        severity: if owned { Severity::IV } else { Severity::III },
                        category: Category::Dispute,
                        title: "邻里纠纷".into(),
                        detail: String::new(),
                        place: String::new(),
                        reporter: "网格员".into(),
                        photos: Vec::new(),
                    },
                    mode: if k % 50 == 0 { Mode::Exercise } else { Mode::Actual },
                    reported,
                    owner,
                    state: if owned {
                        IncidentState::Closed
                    } else {
                        IncidentState::Reported
                    },
                    accepted_by: None,
                    accept_by: Timestamp(reported.0 + 3_600_000),
                    finish_by: None,
                    supervisor: None,
                    orders: Vec::new(),
                    timeline,
                },
            );
        }
        store.reindex();
        let bare = median(|| {
            let in_month = store.incidents.values().filter(|i| month.contains(i.reported)).count();
            black_box(in_month);
        });
        let mut received = 0;
        let folded = median(|| {
            let f = fold(black_box(&store), &topology, &county, month);
            received = f.actual.all.received + f.drill.all.received;
            black_box(f);
        });
        assert!(received > 0 && received < n, "{received} of {n} in the month");
        let day = Period::parse("2026-11-05").expect("day");
        let a_day = median(|| {
            black_box(fold(black_box(&store), &topology, &county, day));
        });
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "{n:>9} {:>12.2} {:>12.2} {:>6.2}x {:>10.3}",
            ms(bare),
            ms(folded),
            ms(folded) / ms(bare),
            ms(a_day)
        );
    }
}
