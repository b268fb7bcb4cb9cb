//! `liandong sim`: failure simulations. `run` plays one scenario with one
//! seed on the deterministic simulator (`liandong_sim`) and prints its
//! report; `sweep` plays many seeds on every core and lists the ones that
//! break an invariant; `live` is the chaos harness over real node processes
//! ([`live`]).
//!
//! Output discipline, so a run can be replayed and diffed: stdout carries
//! only the report, which is a pure function of (scenario, seed, commit);
//! everything that depends on the machine (the seed banner, the progress
//! bar, wall time, events per second, peak memory) goes to stderr.

pub mod live;

use std::fmt::Write as _;
use std::io::{IsTerminal, Write as _};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use liandong_sim::{PlantedBug, Progress, RunOptions, Scenario, SeedRange, replay_command};

#[derive(Subcommand)]
pub enum SimCommand {
    /// Run a scenario on the deterministic simulator with one seed and print its report.
    /// Exits 1 if an invariant failed, with the command that replays the run.
    #[command(
        after_help = "Examples:\n  liandong sim run simulations/scenarios/county-outage.toml --seed 7\n  \
        liandong sim run simulations/scenarios/partitioned-province.toml --seed 7 --json > report.json\n  \
        liandong sim run simulations/scenarios/flapping-links.toml --seed 7 --svg timeline.svg\n\n\
        Same scenario, same seed, same build: byte-identical report on stdout."
    )]
    Run(RunArgs),
    /// Run a scenario with many seeds on every core and list each seed that breaks an invariant.
    #[command(
        after_help = "Examples:\n  liandong sim sweep simulations/scenarios/county-outage.toml --seeds 1..1000\n  \
        liandong sim sweep simulations/scenarios/earthquake-burst.toml --seeds 1..=200 --threads 1\n\n\
        Sweeps run the scenario's cheaper [sweep] variant unless --full is given; each failing seed\n\
        is listed with the `liandong sim run ... --sweep-variant` command that replays it."
    )]
    Sweep(SweepArgs),
    /// Run real node processes on 127.0.0.1 behind a UDP chaos proxy, with kill -9 and restarts.
    Live(Box<live::LiveArgs>),
}

#[derive(Args)]
pub struct RunArgs {
    /// The scenario file (TOML), e.g. simulations/scenarios/county-outage.toml.
    scenario: PathBuf,
    /// The seed of every random choice in the run (default: a fresh one, printed first).
    #[arg(long)]
    seed: Option<u64>,
    /// Print the report as JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Also draw the timeline (deliveries, latency, fault windows) into this SVG file.
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
    /// Run the scenario's cheaper `[sweep]` variant (what `sim sweep` runs), to replay a sweep's seed.
    #[arg(long)]
    sweep_variant: bool,
    /// Plant a deliberate bug in the simulated nodes, to see the invariant checker fail.
    #[arg(long, hide = true, value_parser = PlantedBug::from_str)]
    planted_bug: Option<PlantedBug>,
}

#[derive(Args)]
pub struct SweepArgs {
    /// The scenario file (TOML).
    scenario: PathBuf,
    /// Seeds to run: A..B (B excluded) or A..=B (B included).
    #[arg(long, value_name = "A..B")]
    seeds: SeedRange,
    /// Worker threads (default: the number of cores).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
    threads: Option<u16>,
    /// Sweep the full scenario instead of its cheaper `[sweep]` variant.
    #[arg(long)]
    full: bool,
}

pub fn run(cmd: SimCommand) -> anyhow::Result<()> {
    match cmd {
        SimCommand::Run(args) => run_one(args),
        SimCommand::Sweep(args) => sweep(args),
        SimCommand::Live(args) => live::run(*args),
    }
}

/// Loads a scenario; its errors name the file (and line and column).
fn load(path: &Path) -> anyhow::Result<Scenario> {
    Scenario::load(path).context("cannot load the scenario")
}

/// Writes `text` and a newline to stdout. A reader that went away (`| head`)
/// is not an error: the rest of the command (the SVG, the exit code) still
/// happens.
fn emit(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{}", text.trim_end_matches('\n')).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e).context("cannot write to stdout"),
        _ => Ok(()),
    }
}

fn run_one(args: RunArgs) -> anyhow::Result<()> {
    let seed = args.seed.unwrap_or_else(fresh_seed);
    // The seed comes before anything that can fail or hang, so any run can be replayed.
    eprintln!("seed {seed}");
    let scenario = load(&args.scenario)?;
    let scenario = if args.sweep_variant {
        scenario.sweep_variant()
    } else {
        scenario
    };
    let mut replay = replay_command(&args.scenario, seed, args.sweep_variant);
    if let Some(bug) = args.planted_bug {
        replay.push_str(&format!(" --planted-bug {}", bug.name()));
    }

    let bar = progress_bar("{prefix} {msg} simulated [{wide_bar}] {eta} left");
    bar.set_prefix(scenario.name().to_string());
    let options = RunOptions {
        seed,
        planted_bug: args.planted_bug,
    };
    let outcome = liandong_sim::run(&scenario, &options, &mut |p: Progress| {
        bar.set_length(millis(p.total));
        bar.set_position(millis(p.simulated));
        bar.set_message(format!("{} / {}", clock(p.simulated), clock(p.total)));
    });
    bar.finish_and_clear();
    let (report, stats) = outcome.with_context(|| format!("simulation failed; replay with: {replay}"))?;

    // The report on stdout before the SVG, so a bad --svg path loses nothing.
    let text = if args.json {
        serde_json::to_string_pretty(&report).context("cannot encode the report as JSON")?
    } else {
        report.to_string()
    };
    emit(&text)?;
    if let Some(file) = &args.svg {
        let title = format!("{} · seed {seed}", scenario.name());
        let svg = liandong_sim::svg::timeline(report.timeline(), &title);
        std::fs::write(file, svg).with_context(|| format!("cannot write the timeline to {}", file.display()))?;
        eprintln!("timeline written to {}", file.display());
    }
    eprintln!("{stats}");

    let failed = report.failed_invariants();
    if !failed.is_empty() {
        let mut message = format!(
            "{} invariant{} failed in scenario {} with seed {seed}",
            failed.len(),
            plural(failed.len()),
            scenario.name()
        );
        for f in &failed {
            let _ = write!(message, "\n- {f}");
        }
        let _ = write!(message, "\nreplay: {replay}");
        bail!(message);
    }
    Ok(())
}

fn sweep(args: SweepArgs) -> anyhow::Result<()> {
    let scenario = load(&args.scenario)?;
    let variant = !args.full;
    let scenario = if variant { scenario.sweep_variant() } else { scenario };
    let seeds = args.seeds.0.clone();
    let count = seeds.end - seeds.start;
    let threads = match args.threads {
        Some(n) => usize::from(n),
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    eprintln!(
        "sweeping {}{} over seeds {} ({count} seed{}) on {threads} thread{}",
        scenario.name(),
        if variant { " ([sweep] variant)" } else { "" },
        args.seeds,
        plural(count as usize),
        plural(threads)
    );

    let bar = progress_bar("{prefix} {pos}/{len} seeds [{wide_bar}] {eta} left");
    bar.set_prefix(scenario.name().to_string());
    bar.set_length(count);
    let started = Instant::now();
    let mut failing = liandong_sim::sweep(&scenario, seeds, threads, &|_done, _total| bar.inc(1));
    bar.finish_and_clear();
    let wall = started.elapsed();
    failing.sort_by_key(|(seed, _)| *seed);

    for (seed, failures) in &failing {
        let first = failures.first().map_or("an invariant failed", String::as_str);
        let more = match failures.len() {
            0 | 1 => String::new(),
            n => format!(" (and {} more)", n - 1),
        };
        emit(&format!(
            "seed {seed}: {first}{more}\n  replay: {}",
            replay_command(&args.scenario, *seed, variant)
        ))?;
    }
    eprintln!(
        "{count} seed{} in {:.1} s wall ({:.1} seeds/s, {threads} thread{})",
        plural(count as usize),
        wall.as_secs_f64(),
        count as f64 / wall.as_secs_f64().max(1e-9),
        plural(threads)
    );
    if !failing.is_empty() {
        bail!(
            "{} of {count} seeds broke an invariant in scenario {}",
            failing.len(),
            scenario.name()
        );
    }
    emit(&format!("all {count} seeds passed every invariant"))?;
    Ok(())
}

/// A bar on stderr when it is a terminal, otherwise nothing drawn at all.
fn progress_bar(template: &str) -> ProgressBar {
    let target = if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(Some(0), target);
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// A seed for a run that was not given one: different on every call, and
/// printed before the run so it can be replayed. Not for cryptography.
fn fresh_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(u128::from(liandong_control::clock::now().0));
    h.write_u32(std::process::id());
    // Short enough to type back in.
    h.finish() % 1_000_000_000
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Simulated time as `h:mm:ss`.
fn clock(d: Duration) -> String {
    let s = d.as_secs();
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_seeds_differ() {
        assert_ne!(fresh_seed(), fresh_seed());
    }
}
