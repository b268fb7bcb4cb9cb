//! `liandong bench gateway`: the gateway bench of `liandong-chaos` (one
//! real node; reports filed over HTTPS against the control API, runs
//! alternating; reports accepted durably per second, p50/p99, the ratio).
//! Its flags become a [`GatewayBenchConfig`], checked before anything runs.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use liandong_chaos::gateway::GatewayBenchConfig;

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  liandong bench gateway\n  liandong bench gateway --reports 5000 --concurrency 16\n\n\
    One real node (the county 350102 of the demo federation) on loopback, its gateway and its control API \
    side by side; runs alternate control, HTTP, control, HTTP."
)]
pub struct GatewayArgs {
    /// Reports filed per run [default: 2000].
    #[arg(long)]
    pub reports: Option<usize>,
    /// Requests in flight at once, each on its own connection [default: 16].
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// No new request after this many seconds of a run [default: 60].
    #[arg(long)]
    pub seconds: Option<f64>,
    /// Pairs of runs, control then HTTP [default: 2].
    #[arg(long)]
    pub rounds: Option<usize>,
    /// Reports filed through each door before the measured runs [default: 100].
    #[arg(long)]
    pub warmup: Option<usize>,
    /// The loopback address the node listens on (ports 7100..., control 8100..., gateway 8443).
    #[arg(long, default_value_t = Ipv4Addr::new(127, 0, 48, 1))]
    pub ip: Ipv4Addr,
    /// Keep the node's data, certificates and log under this directory.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Print only the figures.
    #[arg(long)]
    pub quiet_log: bool,
}

/// The bench configuration these arguments ask for.
pub fn gateway_config(args: &GatewayArgs, binary: PathBuf) -> anyhow::Result<GatewayBenchConfig> {
    let mut c = GatewayBenchConfig::new(binary);
    c.ip = args.ip;
    c.reports = args.reports.unwrap_or(c.reports);
    c.concurrency = args.concurrency.unwrap_or(c.concurrency);
    c.rounds = args.rounds.unwrap_or(c.rounds);
    c.warmup = args.warmup.unwrap_or(c.warmup);
    if let Some(s) = args.seconds {
        c.run_limit = Duration::try_from_secs_f64(s)
            .ok()
            .filter(|d| !d.is_zero())
            .with_context(|| format!("--seconds {s}: not a positive number of seconds"))?;
    }
    c.dir = args.dir.clone();
    c.verbose = !args.quiet_log;
    c.check().map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(c)
}

/// Runs the bench and prints its figures; an error if any report was not accepted.
pub async fn run(config: GatewayBenchConfig) -> anyhow::Result<()> {
    let report = liandong_chaos::gateway::bench(config).await?;
    println!("{report}");
    let missing = report.not_accepted();
    if missing > 0 {
        anyhow::bail!("{missing} reports were not accepted (see the runs above)");
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
        args: GatewayArgs,
    }

    fn config(flags: &[&str]) -> anyhow::Result<GatewayBenchConfig> {
        let cli = Cli::try_parse_from(std::iter::once("bench").chain(flags.iter().copied()))?;
        gateway_config(&cli.args, PathBuf::from("liandong"))
    }

    #[test]
    fn flags_become_a_checked_configuration() {
        let c = config(&["--reports", "50", "--concurrency", "4", "--seconds", "2.5"]).unwrap();
        assert_eq!((c.reports, c.concurrency, c.rounds), (50, 4, 2));
        assert_eq!(c.run_limit, Duration::from_millis(2500));
        for bad in [
            &["--concurrency", "0"][..],
            &["--concurrency", "1000"],
            &["--reports", "0"],
            &["--seconds", "0"],
            &["--ip", "10.0.0.1"],
        ] {
            assert!(config(bad).is_err(), "{bad:?} was taken");
        }
    }
}
