//! The gateway bench from start to end: the county's node brought up with
//! its gateway, a warm-up through each door, the runs alternating between
//! the doors, the owner check, and the node stopped.

use std::ffi::OsString;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use liandong_certs::time::OffsetDateTime;
use liandong_control::ControlClient;
use liandong_control::proto::{IdRef, Query, Request, Response};
use liandong_node::gateway::tokens::{Scope, TOKENS_FILE, Tokens};
use liandong_node::runtime::default_control_addr;
use liandong_topology::{Addressing, NodeId, Preset, Shape};
use tokio::time::Instant;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls;

use super::doors::{Dial, Door, GATEWAY_NAME, run_door};
use super::figures::{GatewayReport, Machine, RunFigures};
use super::{GATEWAY_PORT, GatewayBenchConfig};
use crate::federation::{CALL_TIMEOUT, Federation, OPERATOR, run_binary, say};
use crate::launch::{topology_and_certs, work_dir};

/// The node under test: a county, which owns the Routine reports filed at it.
const COUNTY: &str = "350102";
/// The system the gateway's token is issued to: the HTTP reports' reporter.
const SYSTEM: &str = "12345热线（压测）";

/// Runs the bench as `config` asks and returns what it measured.
pub async fn bench(config: GatewayBenchConfig) -> anyhow::Result<GatewayReport> {
    config.check().map_err(anyhow::Error::msg)?;
    let t0 = Instant::now();
    let machine = Machine::this();
    let (_tempdir, dir) = work_dir(config.dir.as_deref(), "liandong-gwbench-")?;
    let county = NodeId::parse(COUNTY).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut fed = bring_up(&config, &dir, &county).await?;
    fed.wait_running(&county).await?;
    say(
        config.verbose,
        t0,
        format!("node {county} running in {}", dir.display()),
    );
    let dial = Arc::new(dial(&fed, &dir, &county)?);

    let limit = config.run_limit;
    for door in [Door::Control, Door::Http] {
        if config.warmup == 0 {
            break;
        }
        let warm = run_door(&dial, door, 0, config.warmup, config.concurrency, limit).await?;
        if warm.accepted < config.warmup {
            bail!(
                "warm-up through the {} door: {} of {} accepted; first failure: {}",
                door.name(),
                warm.accepted,
                config.warmup,
                warm.first_error.as_deref().unwrap_or("none (time was up)")
            );
        }
        say(
            config.verbose,
            t0,
            format!("warm-up through the {} door: {} reports", door.name(), warm.accepted),
        );
    }
    let mut runs: Vec<RunFigures> = Vec::with_capacity(config.rounds * 2);
    for _ in 0..config.rounds {
        for door in [Door::Control, Door::Http] {
            let run = runs.len() + 1;
            let figures = run_door(&dial, door, run, config.reports, config.concurrency, limit).await?;
            say(
                config.verbose,
                t0,
                format!(
                    "run {run} {}: {}/{} in {:.2} s",
                    door.name(),
                    figures.accepted,
                    figures.asked,
                    figures.elapsed.as_secs_f64()
                ),
            );
            runs.push(figures);
        }
    }

    let owners = check_owners(&dial, &county, &runs).await;
    let stopped = fed.stop(&county).await;
    let owners = owners?;
    stopped.map_err(anyhow::Error::msg)?;
    Ok(GatewayReport {
        machine,
        node: COUNTY.into(),
        ip: config.ip,
        reports: config.reports,
        concurrency: config.concurrency,
        warmup: config.warmup,
        runs,
        owners,
    })
}

/// Certificates, an operator, the gateway's certificate and a token, and
/// the county's node spawned with its gateway on.
async fn bring_up(config: &GatewayBenchConfig, dir: &Path, county: &NodeId) -> anyhow::Result<Federation> {
    let addressing = Addressing {
        ip: config.ip.into(),
        base_port: 7100,
    };
    let topology = liandong_topology::generate(&Shape::Preset(Preset::Demo), addressing)?;
    if topology.get(county).is_none() {
        bail!("the demo federation has no node {county}");
    }
    let text = topology.to_toml();
    // The node's own copy (unproxied: nothing stands in its links).
    std::fs::write(dir.join("topology").join(format!("{county}.toml")), &text)?;
    let binary = &config.binary;
    let (_, certs) = topology_and_certs(binary, dir, &text).await?;
    run_binary(
        binary,
        &[
            "certs".as_ref(),
            "issue-operator".as_ref(),
            "--ca".as_ref(),
            certs.as_os_str(),
            "--node".as_ref(),
            county.as_str().as_ref(),
            "--name".as_ref(),
            OPERATOR.as_ref(),
            "--role".as_ref(),
            "operator".as_ref(),
        ],
    )
    .await?;
    let mut fed = Federation {
        binary: binary.clone(),
        dir: dir.to_path_buf(),
        topology: Arc::new(topology),
        certs,
        nodes: Default::default(),
    };
    let (cert, key) = gateway_certificate(dir)?;
    let data = fed.data_dir(county);
    std::fs::create_dir_all(&data).with_context(|| format!("cannot create {}", data.display()))?;
    issue_token(&data, dir)?;
    let gateway = SocketAddr::new(config.ip.into(), GATEWAY_PORT);
    let extra: Vec<OsString> = vec![
        "--gateway".into(),
        gateway.to_string().into(),
        "--gateway-cert".into(),
        cert.into(),
        "--gateway-key".into(),
        key.into(),
    ];
    fed.spawn_with(county, &extra)?;
    Ok(fed)
}

/// A self-signed certificate for `localhost` and its key (mode 0600).
fn gateway_certificate(dir: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
    let issued = rcgen::generate_simple_self_signed(vec![GATEWAY_NAME.to_owned()])?;
    let (pem, key) = (dir.join("gateway.pem"), dir.join("gateway.key"));
    std::fs::write(&pem, issued.cert.pem())?;
    write_private(&key, issued.signing_key.serialize_pem().as_bytes())?;
    Ok((pem, key))
}

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(bytes)?;
    Ok(())
}

/// A token with scope `report` for [`SYSTEM`], issued as `liandong gateway
/// token issue` issues it, into the node's token file; the whole token is
/// kept (0600) in the run's directory for the clients.
fn issue_token(data: &Path, dir: &Path) -> anyhow::Result<()> {
    let path = data.join(TOKENS_FILE);
    let mut tokens = Tokens::load(&path)?;
    let now = liandong_certs::rfc3339(OffsetDateTime::now_utc());
    let (_, whole) = tokens.issue(SYSTEM, vec![Scope::Report], now)?;
    tokens.save(&path)?;
    write_private(&dir.join("gateway.token"), whole.as_bytes())
}

/// How the clients reach both doors.
fn dial(fed: &Federation, dir: &Path, county: &NodeId) -> anyhow::Result<Dial> {
    let listen = fed.topology.get(county).context("the county in the topology")?.listen;
    let pem = std::fs::read(dir.join("gateway.pem"))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_certs(&pem)? {
        roots.add(cert)?;
    }
    let mut tls = rustls::ClientConfig::builder_with_provider(liandong_certs::tls::provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    let token = std::fs::read_to_string(dir.join("gateway.token"))?.trim().to_owned();
    let operators = fed.certs.join("operators").join(county.as_str());
    Ok(Dial {
        gateway: SocketAddr::new(listen.ip(), GATEWAY_PORT),
        tls: TlsConnector::from(Arc::new(tls)),
        token,
        control: default_control_addr(listen),
        ca: fed.certs.join("ca.pem"),
        cert: operators.join(format!("{OPERATOR}.pem")),
        key: operators.join(format!("{OPERATOR}.key")),
    })
}

/// The certificates in a PEM file.
fn rustls_pki_certs(pem: &[u8]) -> anyhow::Result<Vec<rustls::pki_types::CertificateDer<'static>>> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("the gateway's certificate: {e:?}"))
}

/// Each door's last sampled report is at the node, owned by it, with the
/// reporter that door files as.
async fn check_owners(dial: &Dial, county: &NodeId, runs: &[RunFigures]) -> anyhow::Result<String> {
    let client = tokio::time::timeout(
        CALL_TIMEOUT,
        ControlClient::connect_with_files(dial.control, &dial.ca, &dial.cert, &dial.key),
    )
    .await
    .map_err(|_| anyhow::anyhow!("control API of {county}: no answer"))??;
    let mut seen = Vec::new();
    for (door, reporter) in [(Door::Control, OPERATOR), (Door::Http, SYSTEM)] {
        let Some(id) = runs
            .iter()
            .rev()
            .filter(|r| r.door == door)
            .find_map(|r| r.sample.clone())
        else {
            bail!("no report accepted through the {} door", door.name());
        };
        let answer = tokio::time::timeout(
            CALL_TIMEOUT,
            client.call(Request::Query(Query::Incident { id: IdRef(id.clone()) })),
        )
        .await
        .map_err(|_| anyhow::anyhow!("incident {id}: no answer"))??;
        let Response::Incident(incident) = answer else {
            bail!(
                "report {id} (through the {} door) is not at {county}: {answer:?}",
                door.name()
            );
        };
        if &incident.owner != county || incident.report.reporter != reporter {
            bail!(
                "report {id} (through the {} door) is owned by {} and reported by {:?}; expected {county} and {reporter:?}",
                door.name(),
                incident.owner,
                incident.report.reporter
            );
        }
        seen.push(format!("{} {id}", door.name()));
    }
    client.close().await;
    Ok(format!(
        "a report of each door owned by {county}, reporters as filed ({})",
        seen.join(", ")
    ))
}
