//! `liandong bench ...`: benches that run real nodes and print figures.
//! `bench thin-link` is the thin-link bench of `liandong-chaos`: urgent
//! traffic on a 64 kbit/s lossy village link while a backlog drains. Its
//! settings come from the flags, over a scenario file
//! (`simulations/scenarios/live/thin-link.toml`, the same settings under
//! the same names), over the bench's defaults. `bench gateway` (`gateway`)
//! is the gateway bench: HTTP intake against the control API's on one node.
//! `bench relay` (`relay`) is one node's durable relay rate and hop
//! latency in its own process, with NATS JetStream beside it.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use liandong_chaos::thin::ThinConfig;

mod gateway;
mod relay;

#[derive(clap::Subcommand, Debug)]
pub enum BenchCommand {
    /// Urgent reports and orders over one thin, lossy village link while a backlog drains across it.
    ThinLink(ThinArgs),
    /// Reports accepted durably per second over the gateway's HTTPS API against the control API, on one node.
    Gateway(gateway::GatewayArgs),
    /// One county's durable relay rate and hop latency in its own process, beside NATS JetStream.
    Relay(relay::RelayArgs),
}

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  liandong bench thin-link simulations/scenarios/live/thin-link.toml\n  liandong bench thin-link --loss 0.2 --backlog 500 --urgent 10 --urgent-every 3\n\nFour real nodes (city, county, township, village) on loopback; only the village's link is thin."
)]
pub struct ThinArgs {
    /// A scenario file with any of the settings below under the same names (rate = 8000, ...).
    pub scenario: Option<PathBuf>,
    /// Loss levels to run, comma-separated, each a probability per datagram each way
    /// [default: 0.2,0.05,0].
    #[arg(long, value_delimiter = ',')]
    pub loss: Option<Vec<f64>>,
    /// The village link's cap, bytes per second each way [default: 8000].
    #[arg(long)]
    pub rate: Option<u64>,
    /// Delay each way on the village link, ms [default: 300].
    #[arg(long)]
    pub delay_ms: Option<u64>,
    /// Routine reports and routine orders (each) piled up while the village is cut off [default: 2000].
    #[arg(long)]
    pub backlog: Option<usize>,
    /// Urgent reports and orders (each) filed while the backlog drains [default: 30].
    #[arg(long)]
    pub urgent: Option<usize>,
    /// Seconds between them [default: 10].
    #[arg(long)]
    pub urgent_every: Option<f64>,
    /// Urgent reports and orders (each) on the idle link first [default: 10].
    #[arg(long)]
    pub quiet: Option<usize>,
    /// Last, a photo of this many MiB follows a report up the thin link while the idle link's
    /// urgent items are filed again [default: 0, no photo phase].
    #[arg(long)]
    pub photo_mib: Option<f64>,
    /// The loopback address the nodes listen on (ports 7100 to 7103).
    #[arg(long, default_value_t = Ipv4Addr::new(127, 0, 44, 1))]
    pub ip: Ipv4Addr,
    /// Leave the village links undeclared in the topology (no rate, no urgent copies), to measure
    /// what declaring them does.
    #[arg(long, conflicts_with = "copies")]
    pub undeclared: bool,
    /// Extra copies of each urgent frame the declared village links ask for [default: 1].
    #[arg(long)]
    pub copies: Option<u8>,
    /// Keep logs and stores under this directory, one per loss level.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Print only the figures.
    #[arg(long)]
    pub quiet_log: bool,
}

/// A thin-link scenario file: the same settings as the flags, all optional.
#[derive(serde::Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct ThinFile {
    #[allow(dead_code)]
    description: Option<String>,
    loss: Option<Vec<f64>>,
    rate: Option<u64>,
    delay_ms: Option<u64>,
    backlog: Option<usize>,
    urgent: Option<usize>,
    urgent_every: Option<f64>,
    quiet: Option<usize>,
}

fn load_file(path: &Path) -> anyhow::Result<ThinFile> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read the scenario {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("the scenario {} is invalid", path.display()))
}

/// The bench configuration these arguments ask for.
pub fn thin_config(args: &ThinArgs, binary: PathBuf) -> anyhow::Result<ThinConfig> {
    let file = match &args.scenario {
        Some(p) => load_file(p)?,
        None => ThinFile::default(),
    };
    let mut c = ThinConfig::new(binary);
    if !args.ip.is_loopback() {
        bail!("--ip {}: the bench runs on loopback (127.0.0.0/8) only", args.ip);
    }
    c.ip = args.ip;
    if let Some(l) = args.loss.clone().or(file.loss) {
        if l.is_empty() || l.iter().any(|p| !(0.0..1.0).contains(p)) {
            bail!("--loss {l:?}: each level must be at least 0 and below 1");
        }
        c.losses = l;
    }
    c.rate = args.rate.or(file.rate).unwrap_or(c.rate);
    if c.rate < 1000 {
        bail!("--rate {}: below 1000 B/s a QUIC handshake alone takes seconds", c.rate);
    }
    c.delay = args.delay_ms.or(file.delay_ms).map_or(c.delay, Duration::from_millis);
    let backlog = args.backlog.or(file.backlog).unwrap_or(c.backlog_reports);
    (c.backlog_reports, c.backlog_orders) = (backlog, backlog);
    c.urgent = args.urgent.or(file.urgent).unwrap_or(c.urgent);
    c.quiet = args.quiet.or(file.quiet).unwrap_or(c.quiet);
    if let Some(mib) = args.photo_mib {
        if !(0.0..=32.0).contains(&mib) {
            bail!("--photo-mib {mib}: from 0 to 32");
        }
        c.photo = (mib * f64::from(1u32 << 20)) as u64;
    }
    if let Some(s) = args.urgent_every.or(file.urgent_every) {
        c.urgent_every = Duration::try_from_secs_f64(s)
            .ok()
            .filter(|d| !d.is_zero())
            .with_context(|| format!("--urgent-every {s}: not a positive number of seconds"))?;
    }
    c.declare = if args.undeclared {
        None
    } else {
        Some(args.copies.unwrap_or(1))
    };
    c.seed = 1;
    c.dir = args.dir.clone();
    c.verbose = !args.quiet_log;
    Ok(c)
}

pub fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    let binary = || std::env::current_exe().context("cannot find this binary to run the nodes with");
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")
    };
    match cmd {
        BenchCommand::Gateway(args) => {
            let config = gateway::gateway_config(&args, binary()?)?;
            runtime()?.block_on(gateway::run(config))
        }
        BenchCommand::Relay(args) => {
            let config = relay::relay_config(&args, binary()?)?;
            let report = runtime()?.block_on(liandong_chaos::relay::bench(config))?;
            println!("{report}");
            Ok(())
        }
        BenchCommand::ThinLink(args) => {
            let config = thin_config(&args, binary()?)?;
            let report = runtime()?.block_on(liandong_chaos::thin::bench(config))?;
            println!("{report}");
            Ok(())
        }
    }
}
