//! The province-scale day: the partitioned-province scenario on the
//! jiangsu preset (22,812 nodes, 24 simulated hours plus settling).
//! `cargo bench -p liandong-sim --bench jiangsu` (seed: `SIM_SEED`, default 1).
//! Prints the report, then simulated/wall time, events per second and
//! peak memory (VmHWM).

use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

use liandong_sim::{RunOptions, Scenario, run};

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is ignored.
    let seed = std::env::var("SIM_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/partitioned-province.toml");
    let scenario = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("partitioned-province, seed {seed}");
    let mut last = Duration::ZERO;
    let (report, stats) = run(
        &scenario,
        &RunOptions {
            seed,
            planted_bug: None,
        },
        &mut |p| {
            if p.simulated >= last + Duration::from_secs(3600) || p.simulated == p.total {
                last = p.simulated;
                eprint!(
                    "\r  simulated {:>5.1}h of {:.1}h",
                    p.simulated.as_secs_f64() / 3600.0,
                    p.total.as_secs_f64() / 3600.0
                );
                let _ = std::io::stderr().flush();
            }
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    eprintln!();
    print!("{report}");
    println!("{stats}");
    if !report.failed_invariants().is_empty() {
        std::process::exit(1);
    }
}
