//! The `liandong sim` commands, run as the real binary on a shipped scenario.
//!
//! Runs use the scenario's `[sweep]` variant (49 nodes, 1 h of load and a
//! county crash: a tenth of a second in a debug build); the full variant is
//! the same code over a bigger topology and takes half a minute unoptimized.

mod common;

use common::{arg, liandong, stderr, stdout};

const SCENARIO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/simulations/scenarios/county-outage.toml");

fn run(seed: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["sim", "run", SCENARIO, "--seed", seed, "--sweep-variant"];
    args.extend_from_slice(extra);
    liandong(&args)
}

/// The report without its first line, which names the seed.
fn body(report: &str) -> &str {
    report.split_once('\n').map_or("", |(_, rest)| rest)
}

#[test]
fn same_seed_same_report_other_seed_other_report() {
    let first = run("7", &[]);
    assert!(first.status.success(), "{}", stderr(&first));
    let again = run("7", &[]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(!first.stdout.is_empty());
    assert_eq!(stdout(&first), stdout(&again), "same seed, different report");
    let other = run("8", &[]);
    assert!(other.status.success(), "{}", stderr(&other));
    let (a, b) = (stdout(&first), stdout(&other));
    assert!(a.starts_with("scenario county-outage  seed 7\n"), "{a}");
    assert!(b.starts_with("scenario county-outage  seed 8\n"), "{b}");
    // Not only the seed in the header: the run itself differs.
    assert_ne!(body(&a), body(&b), "seeds 7 and 8 ran the same");
    assert!(a.contains("PASSED"), "{a}");

    // The seed comes first on stderr, the run's statistics after the report.
    let err = stderr(&first);
    assert_eq!(err.lines().next(), Some("seed 7"), "{err}");
    assert!(err.contains("events/s") && err.contains("peak memory"), "{err}");
}

#[test]
fn a_failed_invariant_exits_1_with_the_replay_command() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("strict.toml");
    // No report crosses a 50 ms link within 1 ms.
    std::fs::write(
        &file,
        "name = \"strict\"\nduration = \"20m\"\nsettle = \"10m\"\n\n[topology]\npreset = \"demo\"\n\n\
         [links.default]\nlatency = \"50ms\"\n\n[load]\nbackground_per_hour = 60\n\n\
         [invariants]\nreach_owner_within = \"1ms\"\n",
    )
    .unwrap();
    let out = liandong(&["sim", "run", arg(&file), "--seed", "2"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stdout(&out).contains("FAILED"), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains("error: 1 invariant failed in scenario strict with seed 2"),
        "{err}"
    );
    assert!(err.contains("  - every report reaches its owner within 1ms"), "{err}");
    assert!(
        err.contains(&format!("  replay: liandong sim run {} --seed 2", file.display())),
        "{err}"
    );
    // The sweep lists the same failure with the command that replays it.
    let sweep = liandong(&["sim", "sweep", arg(&file), "--seeds", "2..4"]);
    assert_eq!(sweep.status.code(), Some(1), "{}", stderr(&sweep));
    let listed = stdout(&sweep);
    assert!(
        listed.contains("seed 2: every report reaches its owner within 1ms"),
        "{listed}"
    );
    assert!(listed.contains("seed 3: "), "{listed}");
    assert!(
        listed.contains(&format!(
            "  replay: liandong sim run {} --seed 3 --sweep-variant",
            file.display()
        )),
        "{listed}"
    );
    assert!(
        stderr(&sweep).contains("error: 2 of 2 seeds broke an invariant"),
        "{}",
        stderr(&sweep)
    );
}

#[test]
fn json_report_parses() {
    let out = run("3", &["--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the report is JSON");
    assert!(value.is_object(), "{value}");
    let again = run("3", &["--json"]);
    assert_eq!(out.stdout, again.stdout, "same seed, different JSON");
}

#[test]
fn svg_timeline_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("timeline.svg");
    let out = run("5", &["--svg", arg(&file)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let svg = std::fs::read_to_string(&file).expect("the SVG file exists");
    assert!(svg.contains("<svg"), "{svg}");
    assert!(svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains("simulated time"), "{svg}");
    // The county crash of the scenario, shaded.
    assert_eq!(svg.matches(r#"<rect class="fault""#).count(), 1, "{svg}");
    assert!(svg.contains(">crash "), "{svg}");
    // The report on stdout is the same with or without a picture.
    assert_eq!(stdout(&out), stdout(&run("5", &[])));
}

#[test]
fn sweep_over_a_few_seeds_passes() {
    let out = liandong(&["sim", "sweep", SCENARIO, "--seeds", "1..=4", "--threads", "2"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("all 4 seeds passed"), "{}", stdout(&out));
    assert!(stderr(&out).contains("seeds/s"), "{}", stderr(&out));
}

#[test]
fn missing_scenario_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-scenario.toml");
    let out = liandong(&["sim", "run", arg(&missing), "--seed", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("no-such-scenario.toml"), "{}", stderr(&out));
    assert!(stderr(&out).contains("error: "), "{}", stderr(&out));
    let sweep = liandong(&["sim", "sweep", arg(&missing), "--seeds", "1..3"]);
    assert_eq!(sweep.status.code(), Some(1), "{}", stderr(&sweep));
    assert!(stderr(&sweep).contains("no-such-scenario.toml"), "{}", stderr(&sweep));
}

#[test]
fn bad_seed_ranges_are_usage_errors() {
    for (seeds, says) in [
        ("5..5", "is empty"),
        ("9..=3", "is empty"),
        ("1-100", "is not a seed range"),
        ("x..4", "is not a seed"),
    ] {
        let out = liandong(&["sim", "sweep", SCENARIO, "--seeds", seeds]);
        assert_eq!(out.status.code(), Some(2), "{seeds}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{seeds}: {}", stderr(&out));
    }
    let out = liandong(&["sim", "run", SCENARIO, "--seed", "minus-one"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn the_planted_bug_is_caught() {
    let out = run("7", &["--planted-bug", "drop-acked-envelope"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("[FAILED] no acked copy missing"),
        "{}",
        stdout(&out)
    );
    let err = stderr(&out);
    assert!(
        err.contains("--seed 7 --sweep-variant --planted-bug drop-acked-envelope"),
        "{err}"
    );
}

#[test]
fn live_is_a_sim_subcommand() {
    let out = liandong(&["sim", "live", "--help"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("--loss"), "{}", stdout(&out));
}
