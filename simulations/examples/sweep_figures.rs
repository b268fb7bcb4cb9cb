//! A sweep that keeps each seed's figures: how many seeds pass, the wall
//! time, and per seed the engine's events and, where the scenario drives
//! rooms, rooms, room events, asks and tasks (mean, min, max). With a
//! planted bug, how many seeds catch it.
//!
//! `cargo run --release -p liandong-sim --example sweep_figures -- SCENARIO A..B [full] [bug=NAME] [threads=N]`
//! (`full`: the whole scenario, not its `[sweep]` variant).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use liandong_sim::{Report, RunOptions, Scenario, SeedRange, replay_command, run};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: sweep_figures SCENARIO A..B [full] [bug=NAME] [threads=N]";
    let path = std::path::PathBuf::from(args.get(1).expect(usage));
    let seeds: SeedRange = args.get(2).expect(usage).parse().expect("a seed range A..B");
    let full = args.iter().any(|a| a == "full");
    let value = |key: &str| args.iter().find_map(|a| a.strip_prefix(key));
    let planted_bug = value("bug=").map(|b| b.parse().expect("a planted bug"));
    let threads: usize = value("threads=").map_or(2, |t| t.parse().expect("a thread count"));
    let scenario = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let scenario = if full { scenario } else { scenario.sweep_variant() };
    let range = seeds.0;
    let next = AtomicU64::new(range.start);
    let rows: Mutex<Vec<(u64, Report)>> = Mutex::new(Vec::new());
    let wall = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| {
                loop {
                    let seed = next.fetch_add(1, Ordering::Relaxed);
                    if seed >= range.end {
                        break;
                    }
                    let options = RunOptions { seed, planted_bug };
                    let (report, _) =
                        run(&scenario, &options, &mut |_| {}).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
                    rows.lock().expect("no panics while held").push((seed, report));
                }
            });
        }
    });
    let took = wall.elapsed();
    let mut rows = rows.into_inner().expect("no panics while held");
    rows.sort_by_key(|(seed, _)| *seed);
    let failing: Vec<&(u64, Report)> = rows.iter().filter(|(_, r)| !r.passed()).collect();
    println!(
        "{}{}{}: {} seeds in {:.1}s on {threads} threads, {} passed, {} failed",
        scenario.name(),
        if full { "" } else { " ([sweep] variant)" },
        planted_bug.map_or(String::new(), |b: liandong_sim::PlantedBug| format!(
            ", planted bug {}",
            b.name()
        )),
        rows.len(),
        took.as_secs_f64(),
        rows.len() - failing.len(),
        failing.len()
    );
    let stat = |name: &str, f: &dyn Fn(&Report) -> u64| {
        let v: Vec<u64> = rows.iter().map(|(_, r)| f(r)).collect();
        let (min, max) = (
            v.iter().min().copied().unwrap_or(0),
            v.iter().max().copied().unwrap_or(0),
        );
        let mean = v.iter().sum::<u64>() as f64 / v.len().max(1) as f64;
        println!("  {name:<34} mean {mean:>10.1}  min {min:>8}  max {max:>8}");
    };
    stat("engine events per seed", &|r| r.events);
    if rows.iter().any(|(_, r)| r.rooms.is_some()) {
        let rooms = |r: &Report| r.rooms.clone().unwrap_or_default();
        stat("rooms opened", &|r| rooms(r).opened);
        stat("rooms whose home lost its disk", &|r| rooms(r).homes_lost);
        stat("room events (homes' logs)", &|r| rooms(r).events);
        stat("asks sent", &|r| rooms(r).asks);
        stat("asks taken", &|r| rooms(r).taken);
        stat("asks refused by the home", &|r| rooms(r).refused_by_home);
        stat("asks lost with a wiped disk", &|r| rooms(r).asks_excused);
        stat("tasks", &|r| rooms(r).tasks);
        stat("tasks settled", &|r| rooms(r).tasks_settled);
        stat("members checked", &|r| rooms(r).members);
        stat("gaps asked of a home", &|r| rooms(r).gaps_asked);
    }
    for (seed, report) in failing.iter().take(20) {
        println!("  seed {seed}: {}", report.failed_invariants().join("; "));
        println!("    replay: {}", replay_command(&path, *seed, !full));
    }
}
