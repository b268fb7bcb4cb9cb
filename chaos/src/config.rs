//! What a live run is asked to do ([`LiveConfig`]) and where its
//! federation's shape comes from ([`TopologySource`]).

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use liandong_topology::{Addressing, Preset, Shape, Topology};

use crate::proxy::ChaosConfig;

/// Where the federation's shape comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopologySource {
    /// A generator preset (`demo`, `fuzhou`...) on [`LiveConfig::ip`].
    Preset(String),
    /// A topology file; its addresses are used as they are (loopback only).
    File(PathBuf),
}

/// One live run.
#[derive(Debug, Clone)]
pub struct LiveConfig {
    /// The `liandong` binary to run nodes with.
    pub binary: PathBuf,
    pub topology: TopologySource,
    /// Where a preset's nodes listen (consecutive ports from 7100).
    pub ip: Ipv4Addr,
    /// How long load and faults go on.
    pub duration: Duration,
    /// The faults of every link (partitions come from `partition_every`).
    pub chaos: ChaosConfig,
    /// Kill -9 a random non-root node this often; `None` for never.
    pub kill_every: Option<Duration>,
    /// Longest a killed node stays down (the pause is random, from 0.5 s).
    pub max_down: Duration,
    /// Cut one random parent link this often...
    pub partition_every: Option<Duration>,
    /// ...for this long.
    pub partition_for: Duration,
    /// File one report this often.
    pub report_every: Duration,
    pub seed: u64,
    /// How long after healing every report must be where it belongs.
    pub converge_within: Duration,
    /// Keep the run's directory (logs, stores) here instead of a temp dir.
    pub dir: Option<PathBuf>,
    /// Say what happens on stderr as it happens.
    pub verbose: bool,
}

impl LiveConfig {
    /// The demo topology on `127.0.40.1`, 60 s, 20% loss, a little delay
    /// and jitter, 1% duplication, a kill every 10 s, a report every 0.5 s.
    pub fn new(binary: PathBuf) -> LiveConfig {
        LiveConfig {
            binary,
            topology: TopologySource::Preset("demo".into()),
            ip: Ipv4Addr::new(127, 0, 40, 1),
            duration: Duration::from_secs(60),
            chaos: ChaosConfig {
                loss: 0.2,
                delay: Duration::from_millis(2),
                jitter: Duration::from_millis(8),
                duplicate: 0.01,
                bandwidth: None,
                ..ChaosConfig::default()
            },
            kill_every: Some(Duration::from_secs(10)),
            max_down: Duration::from_secs(7),
            partition_every: None,
            partition_for: Duration::from_secs(3),
            report_every: Duration::from_millis(500),
            seed: 1,
            converge_within: Duration::from_secs(120),
            dir: None,
            verbose: false,
        }
    }
}

pub(crate) fn load_topology(config: &LiveConfig) -> anyhow::Result<Topology> {
    match &config.topology {
        TopologySource::Preset(name) => {
            let preset = Preset::parse(name).with_context(|| format!("no topology preset {name:?}"))?;
            let addressing = Addressing {
                ip: IpAddr::V4(config.ip),
                base_port: 7100,
            };
            Ok(liandong_topology::generate(&Shape::Preset(preset), addressing)?)
        }
        TopologySource::File(path) => Topology::load(path).with_context(|| format!("topology {}", path.display())),
    }
}
