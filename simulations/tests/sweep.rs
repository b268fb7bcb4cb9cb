//! The CI sweep: 200 seeds of every shipped scenario's `[sweep]` variant
//! (a small tree, an hour of load and faults, half an hour to settle) on
//! both cores; fewer of those whose variant costs more per seed, so each
//! stays within about 30 s in a debug build. `liandong sim sweep` runs
//! more seeds, or the full scenario.

mod common;

use liandong_sim::{Scenario, sweep};

const SEEDS: u64 = 200;

/// Seeds of a scenario whose sweep variant costs more than most.
fn budget(name: &str) -> u64 {
    match name {
        // About 0.4 s a seed in debug (eight rooms, sixty acts each).
        "rooms-under-faults" => 60,
        _ => SEEDS,
    }
}

#[test]
fn two_hundred_seeds_of_every_scenario_pass() {
    let mut failures = Vec::new();
    for path in common::shipped() {
        let scenario = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}")).sweep_variant();
        let failed = sweep(&scenario, 0..budget(scenario.name()), 2, &|_, _| {});
        for (seed, why) in failed {
            failures.push(format!("{} --seed {seed}: {why:?}", path.display()));
        }
    }
    assert!(failures.is_empty(), "failing seeds:\n{}", failures.join("\n"));
}
