//! `liandong sim live`: the live chaos harness. Real `node run` processes
//! on loopback, a UDP chaos proxy in front of every parent (loss, delay,
//! jitter, duplication, bandwidth cap, partitions), kill -9 and restart,
//! load through the control API; then heal, converge and check every
//! node's store. Exits non-zero if a check fails.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use liandong_sim::live::{ChaosConfig, LiveConfig, TopologySource};

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Example:\n  liandong sim live --duration 60 --loss 0.2 --kill-every 10 --seed 7\n\nThe nodes are this same binary; logs and stores of a failed run are kept and their directory printed."
)]
pub struct LiveArgs {
    /// Seconds of load and faults before healing.
    #[arg(long, default_value_t = 60.0)]
    pub duration: f64,
    /// Probability that a datagram is dropped, on every link, both ways.
    #[arg(long, default_value_t = 0.2)]
    pub loss: f64,
    /// Kill -9 a random non-root node every this many seconds (0: never).
    #[arg(long, default_value_t = 10.0)]
    pub kill_every: f64,
    /// Longest a killed node stays down, in seconds (the pause is random from 0.5 s).
    #[arg(long, default_value_t = 7.0)]
    pub max_down: f64,
    /// The seed of every random choice (faults, load, kills); random if absent, and printed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// A topology file (loopback addresses only).
    #[arg(long, conflicts_with = "preset")]
    pub topology: Option<PathBuf>,
    /// A generated topology: demo or fuzhou.
    #[arg(long, default_value = "demo")]
    pub preset: String,
    /// The loopback address a preset's nodes listen on (ports from 7100).
    #[arg(long, default_value_t = Ipv4Addr::new(127, 0, 40, 1))]
    pub ip: Ipv4Addr,
    /// File one report every this many seconds, at a random non-root center.
    #[arg(long, default_value_t = 0.5)]
    pub report_every: f64,
    /// Delay added to every datagram, in milliseconds.
    #[arg(long, default_value_t = 2)]
    pub delay_ms: u64,
    /// A further random delay of up to this many milliseconds (reorders).
    #[arg(long, default_value_t = 8)]
    pub jitter_ms: u64,
    /// Probability that a datagram is sent twice.
    #[arg(long, default_value_t = 0.01)]
    pub duplicate: f64,
    /// Cap every link at this many bytes per second each way.
    #[arg(long)]
    pub bandwidth: Option<u64>,
    /// Cut one random parent link every this many seconds...
    #[arg(long)]
    pub partition_every: Option<f64>,
    /// ...for this many seconds.
    #[arg(long, default_value_t = 3.0)]
    pub partition_for: f64,
    /// Seconds after healing within which every report must be at every center on its path.
    #[arg(long, default_value_t = 120.0)]
    pub converge_within: f64,
    /// Keep logs, certificates and stores in this directory.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Print only the summary.
    #[arg(long)]
    pub quiet: bool,
}

fn secs(name: &str, s: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(s).with_context(|| format!("--{name} {s}: not a number of seconds"))
}

fn probability(name: &str, p: f64) -> anyhow::Result<f64> {
    if !(0.0..=1.0).contains(&p) {
        bail!("--{name} {p}: must be between 0 and 1");
    }
    Ok(p)
}

/// The harness configuration these arguments ask for.
pub fn config(args: &LiveArgs, binary: PathBuf) -> anyhow::Result<LiveConfig> {
    let mut c = LiveConfig::new(binary);
    c.topology = match &args.topology {
        Some(file) => TopologySource::File(file.clone()),
        None => TopologySource::Preset(args.preset.clone()),
    };
    c.ip = args.ip;
    if !args.ip.is_loopback() {
        bail!("--ip {}: the live harness runs on loopback (127.0.0.0/8) only", args.ip);
    }
    c.duration = secs("duration", args.duration)?;
    c.chaos = ChaosConfig {
        loss: probability("loss", args.loss)?,
        delay: Duration::from_millis(args.delay_ms),
        jitter: Duration::from_millis(args.jitter_ms),
        duplicate: probability("duplicate", args.duplicate)?,
        bandwidth: args.bandwidth,
        ..ChaosConfig::default()
    };
    c.kill_every = Some(secs("kill-every", args.kill_every)?).filter(|d| !d.is_zero());
    c.max_down = secs("max-down", args.max_down)?;
    c.partition_every = args
        .partition_every
        .map(|p| secs("partition-every", p))
        .transpose()?
        .filter(|d| !d.is_zero());
    c.partition_for = secs("partition-for", args.partition_for)?;
    c.report_every = secs("report-every", args.report_every)?;
    if c.report_every.is_zero() {
        bail!("--report-every must be above 0");
    }
    c.seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    c.converge_within = secs("converge-within", args.converge_within)?;
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
    let summary = runtime.block_on(liandong_sim::live::run(config))?;
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
