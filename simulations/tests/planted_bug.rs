//! The checker can fail: a disk that silently loses one envelope the node
//! then acks is caught, and names the envelope.

mod common;

use liandong_sim::{PlantedBug, RunOptions, run};

#[test]
fn dropped_acked_envelope_is_caught() {
    let scenario = common::load("county-outage").sweep_variant();
    let clean = run(
        &scenario,
        &RunOptions {
            seed: 11,
            planted_bug: None,
        },
        &mut |_| {},
    )
    .expect("runs")
    .0;
    assert!(clean.failed_invariants().is_empty(), "{clean}");

    let options = RunOptions {
        seed: 11,
        planted_bug: Some(PlantedBug::DropAckedEnvelope),
    };
    let (buggy, _) = run(&scenario, &options, &mut |_| {}).expect("runs");
    let failed = buggy.failed_invariants();
    assert!(!failed.is_empty(), "the planted bug went unnoticed:\n{buggy}");
    let planted = buggy.planted_bug.clone().expect("the report says a bug was planted");
    // "... silently lost envelope <id>": the failure names the same envelope.
    let id = planted.rsplit(' ').next().expect("an id");
    assert!(
        failed.iter().any(|f| f.contains("acked") && f.contains(id)),
        "failures do not name envelope {id}: {failed:?}"
    );
    assert!(buggy.to_string().contains("FAILED"));
}
