//! The thin-link scenario (the live thin-link bench on the simulator):
//! urgent items overtake a draining backlog on a 64 kbit/s, 20%-loss
//! village link, urgent copies cut their tail, and the keys that declare a
//! link class are checked.

mod common;

use std::path::Path;
use std::time::Duration;

use liandong_sim::{Report, RunOptions, Scenario, run};

fn run_seed(s: &Scenario, seed: u64) -> Report {
    let (report, _) = run(
        s,
        &RunOptions {
            seed,
            planted_bug: None,
        },
        &mut |_| {},
    )
    .expect("runs");
    assert!(report.failed_invariants().is_empty(), "{report}");
    report
}

/// The thin-link scenario with `backlog` items each way and `urgent`
/// severity I reports and orders while it drains (the ten on the idle
/// link before the cut stay ten).
fn thin(backlog: u32, urgent: u32, copies: u8) -> Scenario {
    let mut s = common::load("thin-link");
    for x in s.load.series.iter_mut().skip(1) {
        x.count = if x.count >= 1000 { backlog } else { urgent };
    }
    s.links.get_mut("village").expect("a village link").urgent_copies = copies;
    s.settle = liandong_sim::scenario::Span(Duration::from_secs(600));
    s
}

#[test]
fn urgent_reports_overtake_the_backlog_on_a_lossy_thin_link() {
    let r = run_seed(&thin(300, 20, 3), 3);
    let [quiet, up, down, urgent, orders] = &r.series[..] else {
        panic!("five series: {:?}", r.series)
    };
    // Severity I: one thin hop of 300 ms, a frame's serialisation, and
    // copies that make a retransmission rare.
    for s in [quiet, urgent] {
        let hop = &s.first_hop.as_ref().expect("a report series").times;
        assert_eq!(hop.count, s.filed as usize);
        assert!(hop.p99 < Duration::from_millis(1500), "{}: {hop}", s.label);
        assert!(s.arrived.times.p99 < Duration::from_millis(1600), "{}", s.label);
    }
    assert!(
        orders.arrived.times.p99 < Duration::from_millis(1600),
        "{}",
        orders.label
    );
    // The backlogs drain, at some fraction of the link, long after the
    // urgent items got through.
    for s in [up, down] {
        let d = s.drained.expect("drained");
        assert!(
            d > Duration::from_secs(2) && d < Duration::from_secs(120),
            "{}: {d:?}",
            s.label
        );
        assert!(s.arrived.times.p50 > urgent.arrived.times.p99 * 10, "{}", s.label);
    }
}

#[test]
fn urgent_copies_cut_the_tail_at_twenty_percent_loss() {
    let worst = |copies| {
        (1..=3)
            .map(|seed| {
                let r = run_seed(&thin(100, 30, copies), seed);
                r.series[3].first_hop.as_ref().expect("reports").times.max
            })
            .max()
            .expect("three seeds")
    };
    let (with, without) = (worst(3), worst(0));
    // Without copies a lost urgent frame waits for its retransmission
    // (1.5 round trips, 900 ms) and holds its lane's later frames.
    assert!(without >= Duration::from_millis(1200), "no copies: {without:?}");
    assert!(with < without, "copies {with:?}, none {without:?}");
}

#[test]
fn the_same_seed_gives_the_same_thin_link_report() {
    let s = thin(100, 5, 3);
    assert_eq!(run_seed(&s, 9).to_json(), run_seed(&s, 9).to_json());
}

#[test]
fn class_keys_need_declare_and_a_level() {
    let base = "name = \"x\"\nduration = \"1h\"\n[topology]\npreset = \"demo\"\n";
    for (links, why) in [
        ("[links.village]\nurgent_copies = 3\n", "need declare = true"),
        ("[links.village]\nwindow = \"2s\"\n", "need declare = true"),
        ("[links.default]\nbandwidth_kbps = 64\ndeclare = true\n", "per level"),
        ("[links.village]\ndeclare = true\n", "at least 8"),
        (
            "[links.village]\nbandwidth_kbps = 64\ndeclare = true\nurgent_copies = 9\n",
            "at most 4",
        ),
    ] {
        let e = Scenario::parse(&format!("{base}{links}"), Path::new("x.toml")).expect_err(why);
        assert!(e.to_string().contains(why), "{e}");
    }
    let s = Scenario::parse(
        &format!("{base}[links.village]\nbandwidth_kbps = 64\ndeclare = true\nurgent_copies = 3\n"),
        Path::new("x.toml"),
    )
    .expect("declares");
    let class = s
        .topology()
        .expect("builds")
        .link()
        .class(liandong_topology::Level::Village);
    assert_eq!((class.rate, class.urgent_copies), (Some(8000), 3));
    let s = Scenario::parse(
        &format!("{base}[links.village]\nbandwidth_kbps = 64\ndeclare = true\nwindow = \"2s\"\n"),
        Path::new("x.toml"),
    )
    .expect("declares");
    let village = s
        .topology()
        .expect("builds")
        .link()
        .class(liandong_topology::Level::Village);
    assert_eq!(village.window, Duration::from_secs(2));
}
