//! A live run as a person asks for it: the settings of `liandong sim
//! live` ([`LiveSettings`]: flags, all optional), over a live scenario file
//! (`simulations/scenarios/live/*.toml`, the same settings under the same
//! names), over the built-in defaults; validated into a [`LiveConfig`].

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::config::{LiveConfig, TopologySource};
use crate::proxy::ChaosConfig;

/// The settings of one live run as given on the command line; `None`
/// leaves a setting to the scenario file, then to the default.
#[derive(Debug, Clone)]
pub struct LiveSettings {
    /// A live scenario file (simulations/scenarios/live/*.toml) with any of the settings below
    /// under the same names (duration = 60, loss = 0.2, kill_every = 10, ...); a flag given
    /// here wins over the file, the file over the built-in default.
    pub scenario: Option<PathBuf>,
    /// Seconds of load and faults before healing [default: 60].
    pub duration: Option<f64>,
    /// Probability that a datagram is dropped, on every link, both ways [default: 0.2].
    pub loss: Option<f64>,
    /// Kill -9 a random non-root node every this many seconds (0: never) [default: 10].
    pub kill_every: Option<f64>,
    /// Longest a killed node stays down, in seconds (the pause is random from 0.5 s) [default: 7].
    pub max_down: Option<f64>,
    /// The seed of every random choice (faults, load, kills); random if absent, and printed.
    pub seed: Option<u64>,
    /// A topology file (loopback addresses only).
    pub topology: Option<PathBuf>,
    /// A generated topology: demo or fuzhou [default: demo].
    pub preset: Option<String>,
    /// The loopback address a preset's nodes listen on (ports from 7100).
    pub ip: Ipv4Addr,
    /// File one report every this many seconds, at a random non-root center [default: 0.5].
    pub report_every: Option<f64>,
    /// Delay added to every datagram, in milliseconds [default: 2].
    pub delay_ms: Option<u64>,
    /// A further random delay of up to this many milliseconds (reorders) [default: 8].
    pub jitter_ms: Option<u64>,
    /// Probability that a datagram is sent twice [default: 0.01].
    pub duplicate: Option<f64>,
    /// Cap every link at this many bytes per second each way.
    pub bandwidth: Option<u64>,
    /// Cut one random parent link every this many seconds...
    pub partition_every: Option<f64>,
    /// ...for this many seconds [default: 3].
    pub partition_for: Option<f64>,
    /// Seconds after healing within which every report must be at every center on its path
    /// [default: 120].
    pub converge_within: Option<f64>,
    /// Keep logs, certificates and stores in this directory.
    pub dir: Option<PathBuf>,
    /// Print only the summary.
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
    partition_every: Option<f64>,
    partition_for: Option<f64>,
    converge_within: Option<f64>,
}

fn load_file(path: &std::path::Path) -> anyhow::Result<LiveFile> {
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

fn secs(name: &str, s: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(s).with_context(|| format!("--{name} {s}: not a number of seconds"))
}

fn probability(name: &str, p: f64) -> anyhow::Result<f64> {
    if !(0.0..=1.0).contains(&p) {
        bail!("--{name} {p}: must be between 0 and 1");
    }
    Ok(p)
}

impl LiveSettings {
    /// The harness configuration these settings ask for: a flag wins over
    /// the scenario file, the file over the built-in default. A seed not
    /// given comes from the wall clock.
    pub fn config(&self, binary: PathBuf) -> anyhow::Result<LiveConfig> {
        let args = self;
        let file = match &args.scenario {
            Some(path) => load_file(path)?,
            None => LiveFile::default(),
        };
        let mut c = LiveConfig::new(binary);
        c.topology = match (&args.topology, &args.preset, &file.topology, &file.preset) {
            (Some(t), _, _, _) => TopologySource::File(t.clone()),
            (None, Some(p), _, _) => TopologySource::Preset(p.clone()),
            (None, None, Some(t), _) => TopologySource::File(t.clone()),
            (None, None, None, p) => TopologySource::Preset(p.clone().unwrap_or_else(|| "demo".into())),
        };
        c.ip = args.ip;
        if !args.ip.is_loopback() {
            bail!("--ip {}: the live harness runs on loopback (127.0.0.0/8) only", args.ip);
        }
        c.duration = secs("duration", args.duration.or(file.duration).unwrap_or(60.0))?;
        c.chaos = ChaosConfig {
            loss: probability("loss", args.loss.or(file.loss).unwrap_or(0.2))?,
            delay: Duration::from_millis(args.delay_ms.or(file.delay_ms).unwrap_or(2)),
            jitter: Duration::from_millis(args.jitter_ms.or(file.jitter_ms).unwrap_or(8)),
            duplicate: probability("duplicate", args.duplicate.or(file.duplicate).unwrap_or(0.01))?,
            bandwidth: args.bandwidth.or(file.bandwidth),
            ..ChaosConfig::default()
        };
        c.kill_every =
            Some(secs("kill-every", args.kill_every.or(file.kill_every).unwrap_or(10.0))?).filter(|d| !d.is_zero());
        c.max_down = secs("max-down", args.max_down.or(file.max_down).unwrap_or(7.0))?;
        c.partition_every = args
            .partition_every
            .or(file.partition_every)
            .map(|p| secs("partition-every", p))
            .transpose()?
            .filter(|d| !d.is_zero());
        c.partition_for = secs(
            "partition-for",
            args.partition_for.or(file.partition_for).unwrap_or(3.0),
        )?;
        c.report_every = secs("report-every", args.report_every.or(file.report_every).unwrap_or(0.5))?;
        if c.report_every.is_zero() {
            bail!("--report-every must be above 0");
        }
        c.seed = args.seed.unwrap_or_else(|| liandong_control::clock::now().0);
        c.converge_within = secs(
            "converge-within",
            args.converge_within.or(file.converge_within).unwrap_or(120.0),
        )?;
        c.dir = args.dir.clone();
        c.verbose = !args.quiet;
        Ok(c)
    }
}
