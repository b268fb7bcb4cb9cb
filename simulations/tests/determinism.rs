//! Same scenario, same seed: byte-identical report (text and JSON).
//! Another seed: a different one.

mod common;

use liandong_sim::{RunOptions, run};

#[test]
fn same_seed_same_report_other_seed_differs() {
    let scenario = common::load("county-outage").sweep_variant();
    let go = |seed| {
        let (report, _) = run(
            &scenario,
            &RunOptions {
                seed,
                planted_bug: None,
            },
            &mut |_| {},
        )
        .expect("runs");
        (report.to_string(), report.to_json())
    };
    let (a_text, a_json) = go(7);
    let (b_text, b_json) = go(7);
    assert_eq!(a_text, b_text, "same seed, different text");
    assert_eq!(a_json, b_json, "same seed, different JSON");
    assert!(a_text.contains("seed 7"), "the report names its seed");
    let (c_text, c_json) = go(8);
    assert_ne!(a_text, c_text, "another seed gave the same text");
    assert_ne!(a_json, c_json);
}

#[test]
fn a_faulty_scenario_replays_exactly() {
    // Loss, duplication, jitter, bandwidth, clock skew and a cut link.
    let scenario = common::load("thin-rural-links").sweep_variant();
    let go = || {
        run(
            &scenario,
            &RunOptions {
                seed: 3,
                planted_bug: None,
            },
            &mut |_| {},
        )
        .expect("runs")
        .0
        .to_json()
    };
    assert_eq!(go(), go());
}
