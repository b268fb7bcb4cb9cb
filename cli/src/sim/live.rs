//! `liandong sim live`: the live chaos harness. Real `node run` processes
//! on loopback, a UDP chaos proxy in front of every parent (loss, delay,
//! jitter, duplication, bandwidth cap, partitions), kill -9 and restart,
//! load through the control API; then heal, converge and check every
//! node's store. Exits non-zero if a check fails.
//!
//! The settings come from the flags, over a live scenario file
//! (`simulations/scenarios/live/*.toml`, the same settings under the same
//! names), over the harness's defaults.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use liandong_chaos::{ChaosConfig, LiveConfig, TopologySource};

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  liandong sim live simulations/scenarios/live/demo-lossy-kills.toml --seed 7\n  liandong sim live --duration 60 --loss 0.2 --kill-every 10 --seed 7\n\nThe nodes are this same binary; logs and stores of a failed run are kept and their directory printed."
)]
pub struct LiveArgs {
    /// A live scenario file (simulations/scenarios/live/*.toml) with any of the settings below
    /// under the same names (duration = 60, loss = 0.2, kill_every = 10, ...); a flag given
    /// here wins over the file, the file over the built-in default.
    pub scenario: Option<PathBuf>,
    /// Seconds of load and faults before healing [default: 60].
    #[arg(long)]
    pub duration: Option<f64>,
    /// Probability that a datagram is dropped, on every link, both ways [default: 0.2].
    #[arg(long)]
    pub loss: Option<f64>,
    /// Kill -9 a random non-root node every this many seconds (0: never) [default: 10].
    #[arg(long)]
    pub kill_every: Option<f64>,
    /// Longest a killed node stays down, in seconds (the pause is random from 0.5 s) [default: 7].
    #[arg(long)]
    pub max_down: Option<f64>,
    /// The seed of every random choice (faults, load, kills); random if absent, and printed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// A topology file (loopback addresses only).
    #[arg(long, conflicts_with = "preset")]
    pub topology: Option<PathBuf>,
    /// A generated topology: demo or fuzhou [default: demo].
    #[arg(long)]
    pub preset: Option<String>,
    /// The loopback address a preset's nodes listen on (ports from 7100).
    #[arg(long, default_value_t = Ipv4Addr::new(127, 0, 40, 1))]
    pub ip: Ipv4Addr,
    /// File one report every this many seconds, at a random non-root center [default: 0.5].
    #[arg(long)]
    pub report_every: Option<f64>,
    /// Delay added to every datagram, in milliseconds [default: 2].
    #[arg(long)]
    pub delay_ms: Option<u64>,
    /// A further random delay of up to this many milliseconds (reorders) [default: 8].
    #[arg(long)]
    pub jitter_ms: Option<u64>,
    /// Probability that a datagram is sent twice [default: 0.01].
    #[arg(long)]
    pub duplicate: Option<f64>,
    /// Cap every link at this many bytes per second each way, and declare every level's link
    /// class as that rate (rate_kbps = bytes * 8 / 1000, urgent_copies = 1), as a deployment
    /// on such links does.
    #[arg(long)]
    pub bandwidth: Option<u64>,
    /// With --bandwidth, leave the link classes undeclared (to measure the same run without).
    #[arg(long)]
    pub undeclared: bool,
    /// Cut one random parent link every this many seconds...
    #[arg(long)]
    pub partition_every: Option<f64>,
    /// ...for this many seconds [default: 3].
    #[arg(long)]
    pub partition_for: Option<f64>,
    /// Seconds after healing within which every report must be at every center on its path
    /// [default: 120].
    #[arg(long)]
    pub converge_within: Option<f64>,
    /// Keep logs, certificates and stores in this directory.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Print only the summary.
    #[arg(long)]
    pub quiet: bool,
}

/// A live scenario file: the same settings as the flags, all optional.
#[derive(serde::Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct LiveFile {
    /// What the scenario is for, for people.
    #[allow(dead_code)]
    description: Option<String>,
    duration: Option<f64>,
    loss: Option<f64>,
    kill_every: Option<f64>,
    max_down: Option<f64>,
    topology: Option<PathBuf>,
    preset: Option<String>,
    report_every: Option<f64>,
    delay_ms: Option<u64>,
    jitter_ms: Option<u64>,
    duplicate: Option<f64>,
    bandwidth: Option<u64>,
    undeclared: Option<bool>,
    partition_every: Option<f64>,
    partition_for: Option<f64>,
    converge_within: Option<f64>,
    seed: Option<u64>,
}

fn load_file(path: &Path) -> anyhow::Result<LiveFile> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read the live scenario {}", path.display()))?;
    let mut file: LiveFile =
        toml::from_str(&text).with_context(|| format!("the live scenario {} is invalid", path.display()))?;
    // A topology file named in a scenario is relative to the scenario.
    if let (Some(t), Some(dir)) = (file.topology.as_mut(), path.parent())
        && t.is_relative()
    {
        *t = dir.join(&*t);
    }
    Ok(file)
}

/// `given` seconds as a duration, or `default` when not given.
fn secs(name: &str, given: Option<f64>, default: Duration) -> anyhow::Result<Duration> {
    match given {
        Some(s) => Duration::try_from_secs_f64(s).with_context(|| format!("--{name} {s}: not a number of seconds")),
        None => Ok(default),
    }
}

/// `given` as a probability, or `default` when not given.
fn probability(name: &str, given: Option<f64>, default: f64) -> anyhow::Result<f64> {
    let p = given.unwrap_or(default);
    if !(0.0..=1.0).contains(&p) {
        bail!("--{name} {p}: must be between 0 and 1");
    }
    Ok(p)
}

/// The harness configuration these arguments ask for: a flag wins over the
/// scenario file, the file over the harness's default ([`LiveConfig::new`]).
/// A seed given by neither comes from the wall clock.
pub fn config(args: &LiveArgs, binary: PathBuf) -> anyhow::Result<LiveConfig> {
    let file = match &args.scenario {
        Some(path) => load_file(path)?,
        None => LiveFile::default(),
    };
    let mut c = LiveConfig::new(binary);
    c.topology = match (&args.topology, &args.preset, &file.topology, &file.preset) {
        (Some(t), _, _, _) => TopologySource::File(t.clone()),
        (None, Some(p), _, _) => TopologySource::Preset(p.clone()),
        (None, None, Some(t), _) => TopologySource::File(t.clone()),
        (None, None, None, Some(p)) => TopologySource::Preset(p.clone()),
        (None, None, None, None) => c.topology,
    };
    if !args.ip.is_loopback() {
        bail!("--ip {}: the live harness runs on loopback (127.0.0.0/8) only", args.ip);
    }
    c.ip = args.ip;
    c.duration = secs("duration", args.duration.or(file.duration), c.duration)?;
    c.chaos = ChaosConfig {
        loss: probability("loss", args.loss.or(file.loss), c.chaos.loss)?,
        delay: args
            .delay_ms
            .or(file.delay_ms)
            .map_or(c.chaos.delay, Duration::from_millis),
        jitter: args
            .jitter_ms
            .or(file.jitter_ms)
            .map_or(c.chaos.jitter, Duration::from_millis),
        duplicate: probability("duplicate", args.duplicate.or(file.duplicate), c.chaos.duplicate)?,
        bandwidth: args.bandwidth.or(file.bandwidth),
        ..c.chaos
    };
    c.undeclared = args.undeclared || file.undeclared.unwrap_or(c.undeclared);
    let kill_every = c.kill_every.unwrap_or(Duration::ZERO);
    c.kill_every = Some(secs("kill-every", args.kill_every.or(file.kill_every), kill_every)?).filter(|d| !d.is_zero());
    c.max_down = secs("max-down", args.max_down.or(file.max_down), c.max_down)?;
    let partition_every = c.partition_every.unwrap_or(Duration::ZERO);
    c.partition_every = Some(secs(
        "partition-every",
        args.partition_every.or(file.partition_every),
        partition_every,
    )?)
    .filter(|d| !d.is_zero());
    c.partition_for = secs(
        "partition-for",
        args.partition_for.or(file.partition_for),
        c.partition_for,
    )?;
    c.report_every = secs("report-every", args.report_every.or(file.report_every), c.report_every)?;
    if c.report_every.is_zero() {
        bail!("--report-every must be above 0");
    }
    c.seed = args
        .seed
        .or(file.seed)
        .unwrap_or_else(|| liandong_control::clock::now().0);
    c.converge_within = secs(
        "converge-within",
        args.converge_within.or(file.converge_within),
        c.converge_within,
    )?;
    c.dir = args.dir.clone();
    c.verbose = !args.quiet;
    Ok(c)
}

pub fn run(args: LiveArgs) -> anyhow::Result<()> {
    let binary = std::env::current_exe().context("cannot find this binary to run the nodes with")?;
    let config = config(&args, binary)?;
    println!("seed {} (replay with --seed {})", config.seed, config.seed);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let summary = runtime.block_on(liandong_chaos::run(config))?;
    println!("{summary}");
    if !summary.passed() {
        bail!(
            "the live run's end check failed ({} problems); logs and stores are in {}",
            summary.failures.len(),
            summary.dir.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        live: LiveArgs,
    }

    fn scenario(name: &str) -> String {
        format!("{}/../simulations/scenarios/live/{name}", env!("CARGO_MANIFEST_DIR"))
    }

    #[test]
    fn the_thin_loaded_scenario_is_issue_16s_run_with_declared_links() {
        let args = Cli::parse_from(["live", &scenario("thin-loaded.toml")]).live;
        let c = config(&args, PathBuf::from("liandong")).unwrap();
        assert_eq!(c.duration, Duration::from_secs(120));
        assert_eq!(c.kill_every, None);
        assert_eq!(c.chaos.loss, 0.2);
        assert_eq!(c.chaos.delay, Duration::from_millis(300));
        assert_eq!(c.chaos.jitter, Duration::ZERO);
        assert_eq!(c.chaos.duplicate, 0.0);
        assert_eq!(c.chaos.bandwidth, Some(8000));
        assert_eq!(c.report_every, Duration::from_millis(50));
        assert_eq!(c.partition_every, Some(Duration::from_secs(30)));
        assert_eq!(c.partition_for, Duration::from_secs(20));
        assert_eq!(c.seed, 5);
        assert!(!c.undeclared);
        let args = Cli::parse_from(["live", &scenario("thin-loaded.toml"), "--undeclared", "--seed", "9"]).live;
        let c = config(&args, PathBuf::from("liandong")).unwrap();
        assert!(c.undeclared);
        assert_eq!(c.seed, 9);
    }
}
