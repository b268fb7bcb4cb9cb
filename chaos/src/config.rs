//! What a live run is asked to do ([`LiveConfig`]), where its
//! federation's shape comes from ([`TopologySource`]), and the link
//! classes that shape declares when the links are capped.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use liandong_topology::{Addressing, Level, LinkClass, Preset, Shape, Topology};

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
    /// With a bandwidth cap, leave every level's link class as the
    /// topology has it instead of declaring the capped rate (with urgent
    /// copies): to measure the same run without declared links.
    pub undeclared: bool,
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
            undeclared: false,
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

/// Extra copies of urgent frames a capped run declares on every link.
const URGENT_COPIES: u8 = 1;

/// The run's topology: from its source, then, when the links are capped
/// (`chaos.bandwidth`) and not `undeclared`, with every level's link
/// class declared as what the proxies make of it.
pub(crate) fn load_topology(config: &LiveConfig) -> anyhow::Result<Topology> {
    let topology = match &config.topology {
        TopologySource::Preset(name) => {
            let preset = Preset::parse(name).with_context(|| format!("no topology preset {name:?}"))?;
            let addressing = Addressing {
                ip: IpAddr::V4(config.ip),
                base_port: 7100,
            };
            liandong_topology::generate(&Shape::Preset(preset), addressing)?
        }
        TopologySource::File(path) => Topology::load(path).with_context(|| format!("topology {}", path.display()))?,
    };
    match config.chaos.bandwidth {
        Some(bytes_per_second) if !config.undeclared => declare_links(&topology, bytes_per_second),
        _ => Ok(topology),
    }
}

/// The link class of a link capped at `bytes_per_second` each way: its
/// rate in whole kbit/s (at least [`LinkClass::MIN_KBPS`]), and
/// [`URGENT_COPIES`] extra copies of urgent frames, the default window.
/// What a deployment on such links declares in `[link.<level>]`.
pub(crate) fn capped_class(bytes_per_second: u64) -> LinkClass {
    let kbps = (bytes_per_second * 8 / 1000).clamp(u64::from(LinkClass::MIN_KBPS), u64::from(u32::MAX / 125));
    LinkClass {
        rate: Some(kbps as u32 * 125),
        urgent_copies: URGENT_COPIES,
        ..LinkClass::default()
    }
}

/// `topology` rebuilt with every level's links declared as capped at
/// `bytes_per_second`.
fn declare_links(topology: &Topology, bytes_per_second: u64) -> anyhow::Result<Topology> {
    let mut link = *topology.link();
    for level in Level::ALL {
        link.set_class(level, capped_class(bytes_per_second));
    }
    Topology::build(
        topology.name(),
        topology.nodes().cloned().collect(),
        topology.policy().clone(),
        link,
    )
    .context("the topology with its links declared")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_capped_run_declares_every_level_unless_told_not_to() {
        let mut config = LiveConfig::new(PathBuf::from("liandong"));
        let plain = load_topology(&config).unwrap();
        assert_eq!(plain.link().class(Level::Village), LinkClass::default());
        config.chaos.bandwidth = Some(8000);
        let declared = load_topology(&config).unwrap();
        for level in Level::ALL {
            assert_eq!(
                declared.link().class(level),
                LinkClass {
                    rate: Some(8000),
                    urgent_copies: 1,
                    ..LinkClass::default()
                }
            );
        }
        // Written out, the nodes read the same classes back.
        let text = declared.to_toml();
        assert!(
            text.contains("[link.village]\nrate_kbps = 64\nurgent_copies = 1"),
            "{text}"
        );
        assert_eq!(Topology::parse(&text, None).unwrap().link(), declared.link());
        config.undeclared = true;
        assert_eq!(load_topology(&config).unwrap().link(), plain.link());
    }

    #[test]
    fn a_very_thin_cap_declares_the_lowest_rate() {
        assert_eq!(capped_class(100).rate, Some(LinkClass::MIN_KBPS * 125));
        assert_eq!(capped_class(8_000).rate, Some(8_000));
        assert_eq!(capped_class(8_100).rate, Some(8_000));
    }
}
