//! More seeds than CI runs: every shipped scenario's `[sweep]` variant for
//! `SIM_SEEDS` seeds (default 1000) on both cores. Prints failing seeds with
//! the command that replays them.
//! `cargo bench -p liandong-sim --bench sweep`

use std::path::Path;
use std::time::Instant;

use liandong_sim::{Scenario, sweep};

fn main() {
    let seeds: u64 = std::env::var("SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("scenarios/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    let mut failed = 0;
    for path in paths {
        let scenario = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}")).sweep_variant();
        let t = Instant::now();
        let failures = sweep(&scenario, 0..seeds, 2, &|_, _| {});
        println!(
            "{:<28} {seeds} seeds in {:.1}s: {} failing",
            scenario.name(),
            t.elapsed().as_secs_f64(),
            failures.len()
        );
        for (seed, why) in failures {
            failed += 1;
            println!("  seed {seed}: {}", why.join("; "));
            println!(
                "  replay: liandong sim run {} --seed {seed} --sweep-variant",
                path.display()
            );
        }
    }
    if failed > 0 {
        std::process::exit(1);
    }
}
