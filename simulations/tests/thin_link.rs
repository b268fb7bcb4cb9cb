//! The thin-link scenario (the live thin-link bench on the simulator):
//! urgent items overtake a draining backlog on a 64 kbit/s, 20%-loss
//! village link, urgent copies cut their tail, the backlog drains faster
//! than the link's cap carries it plain (compressed), and the keys that
//! declare a link class are checked.

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
/// severity I reports and orders while it drains (the ten of each on the
/// idle link before the cut stay ten).
fn thin(backlog: u32, urgent: u32, copies: u8) -> Scenario {
    let mut s = common::load("thin-link");
    let cut = Duration::from_secs(120);
    for x in s.load.series.iter_mut().filter(|x| x.at.0 > cut) {
        x.count = if x.count >= 1000 { backlog } else { urgent };
    }
    s.links.get_mut("village").expect("a village link").urgent_copies = copies;
    s.settle = liandong_sim::scenario::Span(Duration::from_secs(600));
    s
}

#[test]
fn urgent_reports_overtake_the_backlog_on_a_lossy_thin_link() {
    let r = run_seed(&thin(300, 20, 3), 3);
    let [quiet, _, up, down, urgent, orders] = &r.series[..] else {
        panic!("six series: {:?}", r.series)
    };
    // Severity I: one thin hop of 300 ms, a frame's serialisation behind
    // at most the pacer's queue, and copies that make a retransmission rare.
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
        assert!(s.while_draining.is_none(), "a backlog is not timed against itself");
    }
    // The urgent items filed while the backlogs drained have figures of
    // their own (the bench's "backlog" rows); those filed before have none.
    assert!(quiet.while_draining.is_none());
    for s in [urgent, orders] {
        let during = s.while_draining.as_ref().expect("filed while it drained");
        let n = during.last().expect("a stage").times.count;
        assert!(n > 0 && n < s.filed as usize, "{}: {n} of {}", s.label, s.filed);
        assert!(during.last().expect("a stage").times.p50 >= Duration::from_millis(300));
    }
}

#[test]
fn urgent_copies_cut_the_tail_at_twenty_percent_loss() {
    let worst = |copies| {
        (1..=3)
            .map(|seed| {
                let r = run_seed(&thin(100, 30, copies), seed);
                r.series[4].first_hop.as_ref().expect("reports").times.max
            })
            .max()
            .expect("three seeds")
    };
    let (with, without) = (worst(3), worst(0));
    // Without copies a lost urgent packet waits for its retransmission
    // (1.5 round trips, 900 ms) and holds its lane's later frames.
    assert!(without >= Duration::from_millis(1200), "no copies: {without:?}");
    assert!(with < without, "copies {with:?}, none {without:?}");
}

#[test]
fn a_declared_link_drains_the_backlog_compressed_and_paced() {
    // Nobody on the bench accepts or signs for anything: the links carry
    // the backlogs, their hop acks and order receipts, and the urgent items.
    let s = thin(2000, 10, 1);
    assert!(!s.load.operators);
    let mut plain = s.clone();
    // The same link undeclared: no pacer, no compression, no copies.
    let village = plain.links.get_mut("village").expect("a village link");
    (village.declare, village.urgent_copies) = (false, 0);
    let (declared, undeclared) = (run_seed(&s, 2), run_seed(&plain, 2));
    for r in [&declared, &undeclared] {
        let up = &r.series[2];
        assert!(up.label.contains("Routine reports"), "{}", up.label);
        assert_eq!(up.arrived.times.count, 2000);
        assert!(up.bytes > 2000 * 200, "envelopes of the bench's size: {}", up.bytes);
    }
    let share = |r: &Report, i: usize| r.series[i].drain_share.expect("a held backlog drained");
    // Reports compress to about half (envelope bytes per second above
    // what the cap carries plain would be at most ~90%); orders less so.
    assert!(share(&declared, 2) > 0.6, "reports {}", share(&declared, 2));
    assert!(share(&declared, 2) > share(&undeclared, 2), "compression must help");
    assert!(share(&declared, 3) > 0.35, "orders {}", share(&declared, 3));
    assert!(share(&undeclared, 2) < 0.9, "plain reports {}", share(&undeclared, 2));
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
