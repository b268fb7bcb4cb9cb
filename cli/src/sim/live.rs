//! `liandong sim live`: the live chaos harness. Real `node run` processes
//! on loopback, a UDP chaos proxy in front of every parent (loss, delay,
//! jitter, duplication, bandwidth cap, partitions), kill -9 and restart,
//! load through the control API; then heal, converge and check every
//! node's store. Exits non-zero if a check fails.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use liandong_chaos::{LiveConfig, LiveSettings};

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
    /// Cap every link at this many bytes per second each way.
    #[arg(long)]
    pub bandwidth: Option<u64>,
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

/// The harness configuration these arguments ask for: a flag wins over the
/// scenario file, the file over the built-in default.
pub fn config(args: &LiveArgs, binary: PathBuf) -> anyhow::Result<LiveConfig> {
    LiveSettings {
        scenario: args.scenario.clone(),
        duration: args.duration,
        loss: args.loss,
        kill_every: args.kill_every,
        max_down: args.max_down,
        seed: args.seed,
        topology: args.topology.clone(),
        preset: args.preset.clone(),
        ip: args.ip,
        report_every: args.report_every,
        delay_ms: args.delay_ms,
        jitter_ms: args.jitter_ms,
        duplicate: args.duplicate,
        bandwidth: args.bandwidth,
        partition_every: args.partition_every,
        partition_for: args.partition_for,
        converge_within: args.converge_within,
        dir: args.dir.clone(),
        quiet: args.quiet,
    }
    .config(binary)
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
