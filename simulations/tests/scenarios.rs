//! Every shipped scenario loads, and a short run of it (its `[sweep]`
//! variant: smaller topology, shorter day) passes its invariants. The full
//! partitioned-province day runs in the bench, not here.

mod common;

use std::path::Path;

use liandong_sim::{RunOptions, Scenario, ScenarioError, run};

#[test]
fn shipped_scenarios_load_and_pass_a_short_run() {
    let shipped = common::shipped();
    for name in [
        "county-outage",
        "city-outage-during-flood",
        "flapping-links",
        "earthquake-burst",
        "partitioned-province",
        "thin-rural-links",
        "liveness-deaf-and-lossy",
        "province-document",
        "month-end-rollup",
        "rooms-under-faults",
    ] {
        assert!(
            shipped.iter().any(|p| p.file_stem().is_some_and(|s| s == name)),
            "{name}.toml is not shipped"
        );
    }
    for path in shipped {
        let scenario = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(Some(scenario.name()), path.file_stem().and_then(|s| s.to_str()));
        scenario
            .topology()
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let short = scenario.sweep_variant();
        let (report, _) = run(
            &short,
            &RunOptions {
                seed: 1,
                planted_bug: None,
            },
            &mut |_| {},
        )
        .expect("runs");
        assert!(report.failed_invariants().is_empty(), "{}:\n{report}", path.display());
        assert!(report.reports.sent > 0, "{}: no load", path.display());
        assert_eq!(report.reports.lost, 0);
        assert_eq!(report.duplicates, 0);
    }
}

#[test]
fn errors_name_file_line_and_column() {
    let text = "name = \"x\"\nduration = \"1h\"\n[topology]\npreset = \"demo\"\nbogus = 3\n";
    match Scenario::parse(text, Path::new("x.toml")) {
        Err(e @ ScenarioError::Parse { .. }) => {
            let s = e.to_string();
            assert!(s.starts_with("x.toml:5:1:"), "{s}");
            assert!(s.contains("bogus"), "{s}");
        }
        other => panic!("expected a parse error, got {other:?}"),
    }
    let text = "name = \"x\"\nduration = \"1 hour\"\n[topology]\npreset = \"demo\"\n";
    let e = Scenario::parse(text, Path::new("y.toml")).expect_err("bad duration");
    assert!(e.to_string().starts_with("y.toml:2:"), "{e}");
}

#[test]
fn permanent_faults_need_liveness_mode() {
    let text = r#"
name = "x"
duration = "1h"
[topology]
preset = "demo"
[[fault]]
kind = "deaf"
node = "350102"
at = "1m"
permanent = true
"#;
    let e = Scenario::parse(text, Path::new("z.toml")).expect_err("refused");
    assert!(e.to_string().contains("liveness"), "{e}");
}

#[test]
fn every_fault_kind_runs_on_the_demo() {
    let text = r#"
name = "all-faults"
duration = "20m"
settle = "20m"
clock_skew = "1s"
[topology]
preset = "demo"
[link_settings]
heartbeat = "10s"
failover_after = "30s"
[links.default]
latency = "10ms"
jitter = "20ms"
loss = 0.05
duplicate = 0.05
bandwidth_kbps = 64
[load]
background_per_hour = 600
orders_per_hour = 60
order_from = "city"
order_to = "village"
[[load.earthquake]]
pick = "county"
at = "2m"
[[fault]]
kind = "crash"
pick = "county"
at = "1m"
for = "3m"
lose_disk = true
[[fault]]
kind = "isolate"
pick = "township"
at = "5m"
for = "3m"
[[fault]]
kind = "flap"
pick = "village"
period = "20s"
at = "1m"
for = "10m"
[[fault]]
kind = "cut"
pick = "township"
at = "9m"
for = "2m"
[[fault]]
kind = "lossy"
pick = "village"
loss = 0.5
at = "1m"
for = "5m"
[[fault]]
kind = "deaf"
pick = "village"
at = "12m"
for = "2m"
"#;
    let scenario = Scenario::parse(text, Path::new("all-faults.toml")).expect("valid");
    for seed in 0..10 {
        let (report, _) = run(
            &scenario,
            &RunOptions {
                seed,
                planted_bug: None,
            },
            &mut |_| {},
        )
        .expect("runs");
        assert!(report.failed_invariants().is_empty(), "seed {seed}:\n{report}");
        assert_eq!(report.timeline().faults.len(), 6);
    }
}

/// A liveness finding of the simulator, now a regression test: a node that
/// can send but not receive used to stop sending its reports once its
/// links went silent (fails with the core's fix reverted).
#[test]
fn a_send_only_node_still_gets_its_reports_out() {
    let path = common::scenarios_dir().join("liveness-send-only-node.toml");
    let scenario = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}")).sweep_variant();
    let (report, _) = run(
        &scenario,
        &RunOptions {
            seed: 1,
            planted_bug: None,
        },
        &mut |_| {},
    )
    .expect("runs");
    assert!(report.failed_invariants().is_empty(), "{report}");
}
