//! `liandong demo`: the demo federation (15 centers, 2 police units) in one
//! process, real QUIC and TLS on loopback and a real SQLite file per node,
//! with generated traffic, the occasional center outage, and the operator
//! console attached to one center.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use liandong_certs::time::OffsetDateTime;
use liandong_certs::{CaDir, FederationCa, Role, Validity, issue_operator_into};
use liandong_control::ControlClient;
use liandong_node::demo::doors::Doors;
use liandong_node::demo::{TrafficOptions, TrafficStats, run_traffic};
use liandong_node::local::LocalFederation;
use liandong_node::observe::init_logging_to_file;
use liandong_node::runtime::default_control_addr;
use liandong_topology::{Addressing, NodeId, Preset, Shape, generate};
use tokio::sync::{Mutex, watch};

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  liandong demo\n  liandong demo --attach 350102 --lang en\n  \
    liandong demo --headless --duration 60"
)]
pub struct DemoArgs {
    /// Keep the federation's files (topology, certificates, stores, log) here instead of a temporary
    /// directory; running again with the same directory continues from the stores.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Open the console on this center instead of the city (e.g. 350102, 350102001).
    #[arg(long)]
    attach: Option<String>,
    /// No console: print a live summary every few seconds.
    #[arg(long)]
    headless: bool,
    /// With --headless: stop after this many seconds.
    #[arg(long)]
    duration: Option<u64>,
    /// Loopback address the nodes listen on (ports 7100-7116, control API +1000).
    #[arg(long, default_value = "127.0.0.1")]
    ip: Ipv4Addr,
    /// Seed of the traffic generator (printed at start; the same seed files the same reports).
    #[arg(long)]
    seed: Option<u64>,
    /// Mean seconds between two reports.
    #[arg(long, default_value_t = 4.0)]
    report_every: f64,
    /// Seconds between center outages (0: none).
    #[arg(long, default_value_t = 90)]
    outage_every: u64,
    /// Console language: zh or en (default from LANG).
    #[arg(long)]
    lang: Option<String>,
}

pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    if !args.ip.is_loopback() {
        bail!(
            "--ip {} is not a loopback address: the demo stays on this machine",
            args.ip
        );
    }
    if !(args.report_every > 0.0 && args.report_every.is_finite()) {
        bail!("--report-every must be a positive number of seconds");
    }
    // The console's time zone can only be read while the process has one thread.
    let mut console = liandong_tui::Options::local();
    if let Some(lang) = &args.lang {
        console.lang = liandong_tui::Lang::parse(lang).with_context(|| format!("--lang {lang:?}: use zh or en"))?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(demo(args, console))
}

async fn demo(args: DemoArgs, console: liandong_tui::Options) -> anyhow::Result<()> {
    let temp;
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => {
            temp = tempfile::Builder::new().prefix("liandong-demo-").tempdir()?;
            temp.path().to_path_buf()
        }
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let log = dir.join("demo.log");
    init_logging_to_file(&log).with_context(|| format!("cannot write the log {}", log.display()))?;

    let topology = generate(
        &Shape::Preset(Preset::Demo),
        Addressing {
            ip: args.ip.into(),
            base_port: 7100,
        },
    )?;
    let attach = match &args.attach {
        Some(a) => {
            let id = NodeId::parse(a).with_context(|| format!("--attach {a:?}"))?;
            if topology.get(&id).is_none() {
                bail!(
                    "--attach {id}: no such center in the demo (see `liandong topology show topology/examples/demo.toml`)"
                );
            }
            id
        }
        None => topology.root().id.clone(),
    };
    let seed = args
        .seed
        .unwrap_or_else(|| u64::from(std::process::id()) ^ OffsetDateTime::now_utc().unix_timestamp() as u64);
    eprintln!(
        "demo: {} nodes on {}:7100-{}, files in {}",
        topology.len(),
        args.ip,
        7100 + topology.len() - 1,
        dir.display()
    );
    eprintln!("demo: log {}; traffic seed {seed}", log.display());

    let mut fed = LocalFederation::prepare(&dir, topology).context("cannot prepare the demo federation")?;
    let mut doors = Doors::open(&mut fed, &dir).context("cannot set up the demo's gateways")?;
    doors
        .open_police(&fed)
        .await
        .context("cannot set up the demo's police system")?;
    fed.start_all()
        .await
        .context("cannot start the demo's nodes (is another demo running on these ports? try --ip 127.0.0.2)")?;
    let control = fed
        .topology()
        .get(&attach)
        .map(|n| default_control_addr(n.listen))
        .expect("attach is in the topology");
    let certs = fed.certs().to_path_buf();
    for (what, node) in doors
        .hotline_county()
        .map(|n| ("the 12345 hotline (Open311)", n))
        .into_iter()
        .chain(doors.grid_villages().map(|n| ("grid workers (JSON API, photos)", n)))
    {
        if let Some(addr) = fed.node(node).and_then(|n| n.gateway_addr()) {
            eprintln!(
                "demo: gateway of {node} at {addr} for {what} (certificate {}, name localhost)",
                dir.join("gateway").join("gateway.pem").display()
            );
        }
    }
    let fed = Arc::new(Mutex::new(fed));

    let options = TrafficOptions {
        report_every: Duration::from_secs_f64(args.report_every),
        outage_every: (args.outage_every > 0).then(|| Duration::from_secs(args.outage_every)),
        outage_for: Duration::from_secs(20),
        watched: (!args.headless).then(|| attach.clone()),
        seed,
    };
    let (stop, stop_rx) = watch::channel(false);
    let (stats_tx, mut stats) = watch::channel(TrafficStats::default());
    let traffic = tokio::spawn(run_traffic(
        fed.clone(),
        options,
        stop_rx,
        stats_tx,
        Some(Arc::new(doors)),
    ));

    let outcome = if args.headless {
        headless(&mut stats, args.duration).await;
        Ok(())
    } else {
        let (cert, key) = operator_files(&certs, &attach)?;
        let client = ControlClient::connect_with_files(control, &certs.join("ca.pem"), &cert, &key)
            .await
            .with_context(|| format!("cannot attach the console to {attach} at {control}"))?;
        liandong_tui::run(client, console).await.context("the console stopped")
    };

    let _ = stop.send(true);
    let _ = traffic.await;
    let fed = Arc::try_unwrap(fed).map_err(|_| anyhow::anyhow!("the traffic generator still holds the federation"))?;
    fed.into_inner().shutdown().await;
    eprintln!("demo: stopped; {}", stats.borrow().line());
    outcome
}

/// The duty leader's certificate at `node`, issued on first use.
fn operator_files(certs: &std::path::Path, node: &NodeId) -> anyhow::Result<(PathBuf, PathBuf)> {
    let layout = CaDir::new(certs);
    let name = "值班长";
    let (cert, key) = (layout.operator_cert(node, name), layout.operator_key(node, name));
    if !cert.is_file() {
        let ca = FederationCa::load(certs)?;
        let validity = Validity::days_from(OffsetDateTime::now_utc(), 30);
        issue_operator_into(certs, &ca, node, name, Role::Leader, validity)?;
    }
    Ok((cert, key))
}

async fn headless(stats: &mut watch::Receiver<TrafficStats>, duration: Option<u64>) {
    let until = duration.map(|d| tokio::time::Instant::now() + Duration::from_secs(d));
    let started = tokio::time::Instant::now();
    let mut every = tokio::time::interval(Duration::from_secs(5));
    every.tick().await;
    loop {
        let deadline = async {
            match until {
                Some(t) => tokio::time::sleep_until(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = deadline => break,
            _ = every.tick() => {
                println!("t+{:>4}s  {}", started.elapsed().as_secs(), stats.borrow_and_update().line());
            }
        }
    }
}
