//! The month's figures (平安报表) roll up to the root, a county down across
//! the month's end included: `month-end-rollup`'s cheaper variant passes
//! its roll-up invariants, the figures say which county was late, and a
//! roll-up that adds its children's summaries plainly is caught.

mod common;

use std::path::Path;

use liandong_sim::{PlantedBug, RunOptions, Scenario, run};

const SEED: u64 = 3;

fn go(planted_bug: Option<PlantedBug>) -> liandong_sim::Report {
    let scenario = common::load("month-end-rollup").sweep_variant();
    run(
        &scenario,
        &RunOptions {
            seed: SEED,
            planted_bug,
        },
        &mut |_| {},
    )
    .expect("runs")
    .0
}

#[test]
fn the_month_rolls_up_and_the_county_down_at_its_end_is_late() {
    let report = go(None);
    assert!(report.failed_invariants().is_empty(), "{report}");
    let names: Vec<&str> = report.invariants.iter().map(|i| i.name.as_str()).collect();
    for what in [
        "the root's report equals the count",
        "newest summary is at its parent",
        "nothing below the root changed",
    ] {
        assert!(
            names.iter().any(|n| n.contains(what) && n.contains("2027-01")),
            "{what}: {names:?}"
        );
    }
    let rollup = report.rollup.clone().expect("the report has the roll-up");
    assert_eq!(rollup.period, "2027-01");
    assert!(
        rollup.incidents_actual > 100 && rollup.incidents_drill > 0,
        "{rollup:?}"
    );
    assert!(rollup.orders > 0);
    // Each actual report once in the city's figures, and every one accepted.
    assert_eq!(rollup.root.received, rollup.incidents_actual);
    assert_eq!(rollup.root.accepted, rollup.incidents_actual);
    // Every center sent one, the downed county twice: late, stored after
    // it came back (the fault's window says when).
    let county = report.timeline.faults[1].label.strip_prefix("crash ").expect("a crash");
    let back = report.timeline.faults[1].end;
    assert!(back > rollup.period_end, "the county is down across the month's end");
    assert_eq!(rollup.senders, report.nodes as u64 - 1);
    assert_eq!(rollup.versions, rollup.senders + 1);
    assert_eq!(rollup.late, vec![county.to_string()]);
    assert_eq!((rollup.at_root, rollup.children), (2, 2));
    assert_eq!(rollup.revised.len(), 1);
    assert!(
        rollup.revised[0].starts_with(&format!("{county} v2 late")),
        "{:?}",
        rollup.revised
    );
    assert!(rollup.complete_at.is_some_and(|at| at > back));
    assert!(report.to_string().contains("roll-up of 2027-01"));
}

#[test]
fn a_plain_sum_of_the_childrens_summaries_is_caught() {
    let report = go(Some(PlantedBug::RollupPlainMerge));
    let failed = report.failed_invariants();
    assert_eq!(failed.len(), 1, "{report}");
    assert!(
        failed[0].contains("the root's report equals the count") && failed[0].contains("received"),
        "{failed:?}"
    );
    assert!(
        report
            .planted_bug
            .as_deref()
            .is_some_and(|b| b.starts_with("rollup-plain-merge"))
    );
}

#[test]
fn the_period_must_end_during_the_run_and_start_is_an_instant() {
    let scenario = |extra: &str| {
        format!(
            "name = \"x\"\nduration = \"2h\"\nsettle = \"1h\"\n{extra}\n[topology]\npreset = \"demo\"\n[invariants]\nrollup_matches = \"2027-01\"\n"
        )
    };
    // The default start, 2027-01-15 16:00, is half a month before January ends.
    let e = Scenario::parse(&scenario(""), Path::new("a.toml")).expect_err("refused");
    assert!(e.to_string().contains("2027-01 must end during the run"), "{e}");
    let ok = Scenario::parse(&scenario("start = \"2027-01-31T23:00:00+08:00\""), Path::new("b.toml"));
    assert_eq!(ok.expect("ends at midnight, an hour in").start_ms(), 1_801_407_600_000);
    let e = Scenario::parse(&scenario("start = \"2027-01-31 23:00\""), Path::new("c.toml")).expect_err("refused");
    assert!(e.to_string().starts_with("c.toml:4:"), "{e}");
    let bad = scenario("start = \"2027-01-31T23:00:00+08:00\"").replace("2027-01\"", "2027-13\"");
    let e = Scenario::parse(&bad, Path::new("d.toml")).expect_err("refused");
    assert!(e.to_string().contains("is not a period"), "{e}");
}
