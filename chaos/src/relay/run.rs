//! The relay bench from start to end: the topology and certificates, the
//! county alone with played neighbours (one hop, throughput), then the
//! chain of real nodes (three hops), then the peer.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use liandong_control::clock;
use liandong_control::proto::{Notice, Response};
use liandong_dispatch::codec::encode_frame;
use liandong_dispatch::{EnvelopeId, Frame, Lane, Timestamp};
use liandong_topology::{NodeId, Topology};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout, timeout_at};

use super::RelayConfig;
use super::figures::{RelayReport, Throughput, Usage};
use super::peer::{Peer, Seen, reports, signer};
use crate::federation::{CALL_TIMEOUT, Federation, OPERATOR, run_binary, say};
use crate::gateway::Machine;
use crate::launch::{topology_and_certs, work_dir};
use crate::thin::Samples;

const CITY: &str = "350100";
const COUNTY: &str = "350102";
const VILLAGE: &str = "350102001001";
/// How long one envelope may take before it is sent again.
const RESEND: Duration = Duration::from_secs(2);
/// How long a link or one sample may take to come.
const WAIT: Duration = Duration::from_secs(30);

fn id(s: &str) -> NodeId {
    NodeId::parse(s).expect("a bench node id is well formed")
}

fn township(n: usize) -> NodeId {
    id(&format!("350102{:03}", n + 1))
}

/// City, county, `children` townships, one village under the first.
fn topology(config: &RelayConfig) -> anyhow::Result<Topology> {
    let ip = config.ip;
    let mut text = format!(
        "[federation]\nname = \"relay bench\"\n\n\
         [[node]]\nid = \"{CITY}\"\nname = \"福州市\"\nlevel = \"city\"\nlisten = \"{ip}:7100\"\n\n\
         [[node]]\nid = \"{COUNTY}\"\nname = \"鼓楼区\"\nlevel = \"county\"\nparent = \"{CITY}\"\nlisten = \"{ip}:7101\"\n\n"
    );
    for n in 0..config.children {
        text.push_str(&format!(
            "[[node]]\nid = \"{}\"\nname = \"街道{}\"\nlevel = \"township\"\nparent = \"{COUNTY}\"\nlisten = \"{ip}:{}\"\n\n",
            township(n),
            n + 1,
            7102 + n
        ));
    }
    text.push_str(&format!(
        "[[node]]\nid = \"{VILLAGE}\"\nname = \"压测村\"\nlevel = \"village\"\nparent = \"{}\"\nlisten = \"{ip}:7120\"\n",
        township(0)
    ));
    Topology::parse(&text, None).map_err(|e| anyhow::anyhow!("the bench's topology: {e}"))
}

/// Runs the bench as `config` asks and returns what it measured.
pub async fn bench(config: RelayConfig) -> anyhow::Result<RelayReport> {
    config.check().map_err(anyhow::Error::msg)?;
    let t0 = Instant::now();
    let machine = Machine::this();
    let (_tempdir, dir) = work_dir(config.dir.as_deref(), "liandong-relaybench-")?;
    let topology = Arc::new(topology(&config)?);
    let text = topology.to_toml();
    let (_, certs) = topology_and_certs(&config.binary, &dir, &text).await?;
    for n in topology.nodes() {
        std::fs::write(dir.join("topology").join(format!("{}.toml", n.id)), &text)?;
    }
    run_binary(
        &config.binary,
        &[
            "certs".as_ref(),
            "issue-operator".as_ref(),
            "--ca".as_ref(),
            certs.as_os_str(),
            "--node".as_ref(),
            CITY.as_ref(),
            "--name".as_ref(),
            OPERATOR.as_ref(),
            "--role".as_ref(),
            "operator".as_ref(),
        ],
    )
    .await?;
    let mut fed = Federation {
        binary: config.binary.clone(),
        dir: dir.clone(),
        topology: topology.clone(),
        certs: certs.clone(),
        nodes: Default::default(),
    };
    let (city, county) = (id(CITY), id(COUNTY));

    let fsync = fsync_baseline(&dir, 600, config.samples.min(500))?;
    say(config.verbose, t0, "fsync baseline measured");

    // The county alone: the city and the townships played here.
    let mut parent = Peer::start(&certs, topology.clone(), &city)?;
    let metrics = SocketAddr::new(config.ip.into(), 7190);
    let extra: Vec<OsString> = vec!["--metrics".into(), metrics.to_string().into()];
    fed.spawn_with(&county, &extra)?;
    fed.wait_running(&county).await?;
    let mut children = Vec::new();
    for n in 0..config.children {
        let child = Peer::start(&certs, topology.clone(), &township(n))?;
        child.transport.connect(&county);
        children.push(child);
    }
    for p in children.iter_mut().chain(std::iter::once(&mut parent)) {
        wait_up(p).await?;
    }
    say(
        config.verbose,
        t0,
        format!("county {county} linked with its played neighbours"),
    );

    let now = clock::now();
    let mut frames = Vec::new();
    for (n, child) in children.iter().enumerate() {
        let extra = if n == 0 {
            2 * config.samples.min(200) + config.samples
        } else {
            0
        };
        let s = signer(&certs, &child.id)?;
        frames.push(reports(&child.id, &s, &city, config.per_child + extra, now)?);
    }
    let frame_bytes = frames[0][0].1.len();
    say(config.verbose, t0, "envelopes signed");

    let (hop_ack, hop_through) = {
        let first = &mut children[0];
        let warm = config.samples.min(200);
        let (mine, _) = frames[0].split_at(2 * warm + config.samples);
        one_at_a_time(first, &mut parent, &county, &mine[..warm]).await?;
        one_at_a_time(first, &mut parent, &county, &mine[warm..2 * warm]).await?;
        one_at_a_time(first, &mut parent, &county, &mine[2 * warm..]).await?
    };
    let echo = echoes(&mut children[0], &county, config.samples).await?;
    say(config.verbose, t0, "one hop measured");

    let pid = fed.pid(&county).context("the county's process")?;
    let node_before = Usage::read(pid).unwrap_or_default();
    let bench_before = Usage::read(std::process::id()).unwrap_or_default();
    let commits_before = commits(metrics).await;
    let skip = 2 * config.samples.min(200) + config.samples;
    let mut throughput = pour_all(&config, children, &mut parent, &county, frames, skip).await?;
    throughput.node = Usage::read(pid).unwrap_or_default().since(node_before);
    throughput.bench = Usage::read(std::process::id()).unwrap_or_default().since(bench_before);
    throughput.commits = match (commits_before, commits(metrics).await) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a)),
        _ => None,
    };
    say(
        config.verbose,
        t0,
        format!("throughput: {:.0} envelopes/s", throughput.rate()),
    );
    parent.transport.shutdown().await;
    drop(parent);

    let (three_hops, chain_memory) = three_hops(&config, &mut fed, &certs, topology.clone()).await?;
    say(config.verbose, t0, "three hops measured");
    let mut stopped = Vec::new();
    for n in [township(0), county.clone(), city.clone()] {
        stopped.push(fed.stop(&n).await);
    }
    for s in stopped {
        s.map_err(anyhow::Error::msg)?;
    }

    let jetstream = if config.jetstream {
        let js = crate::jetstream::JetStreamConfig {
            payload: frame_bytes,
            messages: config.jetstream_messages,
            ip: config.ip,
            ..Default::default()
        };
        Some(crate::jetstream::bench(&js).await?)
    } else {
        None
    };
    Ok(RelayReport {
        machine,
        node: COUNTY.into(),
        frame_bytes,
        fsync,
        hop_ack,
        hop_through,
        echo,
        throughput,
        three_hops,
        chain_memory,
        jetstream,
    })
}

/// Waits for `peer`'s link to the county.
async fn wait_up(peer: &mut Peer) -> anyhow::Result<()> {
    let deadline = Instant::now() + WAIT;
    loop {
        match timeout_at(deadline, peer.seen.recv()).await {
            Ok(Some(Seen::Up)) => return Ok(()),
            Ok(Some(_)) => {}
            Ok(None) => bail!("{}: the transport stopped", peer.id),
            Err(_) => bail!("{}: no link to the county within {WAIT:?}", peer.id),
        }
    }
}

/// `count` fsync'd writes of `size` bytes, one at a time, in `dir`.
fn fsync_baseline(dir: &Path, size: usize, count: usize) -> anyhow::Result<Samples> {
    let path = dir.join("fsync-baseline");
    let mut file = std::fs::File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
    let block = vec![0x5a_u8; size];
    let mut samples = Vec::with_capacity(count);
    for _ in 0..count {
        let t = std::time::Instant::now();
        file.write_all(&block)?;
        file.sync_data()?;
        samples.push(Some(t.elapsed()));
    }
    drop(file);
    let _ = std::fs::remove_file(&path);
    Ok(Samples(samples))
}

/// Sends each frame alone and waits for its hop ack at `child` and its
/// arrival at `parent`: the two latencies per envelope.
async fn one_at_a_time(
    child: &mut Peer,
    parent: &mut Peer,
    to: &NodeId,
    frames: &[(EnvelopeId, Vec<u8>)],
) -> anyhow::Result<(Samples, Samples)> {
    let (mut acks, mut throughs) = (Vec::new(), Vec::new());
    for (id, frame) in frames {
        let sent = Instant::now();
        if !child.send(to, Lane::Normal, frame)? {
            bail!("{}: the lane's queue is full with one envelope in flight", child.id);
        }
        let acked = wait_for(child, |s| matches!(s, Seen::Acked(i, _) if i == id)).await?;
        let carried = wait_for(parent, |s| matches!(s, Seen::Carried(i, _) if i == id)).await?;
        acks.push(Some(acked.duration_since(sent)));
        throughs.push(Some(carried.duration_since(sent)));
    }
    Ok((Samples(acks), Samples(throughs)))
}

/// `count` heartbeats to the node, one at a time: the time to each
/// echo is a frame's way through the transport, the verify stage and the
/// driver's turn and back, without a commit.
async fn echoes(child: &mut Peer, to: &NodeId, count: usize) -> anyhow::Result<Samples> {
    let start = Instant::now();
    let mut samples = Vec::with_capacity(count);
    for _ in 0..count {
        let sent = Instant::now();
        let mark = sent.duration_since(start).as_micros() as u64;
        let frame = encode_frame(&Frame::Heartbeat { sent: Timestamp(mark) }).context("a heartbeat")?;
        if !child.send(to, Lane::Control, &frame)? {
            bail!("{}: the control lane's queue is full", child.id);
        }
        let at = wait_for(child, |s| matches!(s, Seen::Echo(m, _) if *m == mark)).await?;
        samples.push(Some(at.duration_since(sent)));
    }
    Ok(Samples(samples))
}

/// The time of the first thing `peer` sees that `want` matches.
async fn wait_for(peer: &mut Peer, want: impl Fn(&Seen) -> bool) -> anyhow::Result<Instant> {
    let deadline = Instant::now() + WAIT;
    loop {
        match timeout_at(deadline, peer.seen.recv()).await {
            Ok(Some(s)) if want(&s) => {
                return Ok(match s {
                    Seen::Acked(_, at) | Seen::Carried(_, at) | Seen::Echo(_, at) => at,
                    Seen::Up => Instant::now(),
                });
            }
            Ok(Some(_)) => {}
            Ok(None) => bail!("{}: the transport stopped", peer.id),
            Err(_) => bail!("{}: nothing within {WAIT:?}", peer.id),
        }
    }
}

/// Every child pours its frames (after `skip`) with at most `window`
/// unacked; the parent counts distinct arrivals until all came.
async fn pour_all(
    config: &RelayConfig,
    children: Vec<Peer>,
    parent: &mut Peer,
    to: &NodeId,
    frames: Vec<Vec<(EnvelopeId, Vec<u8>)>>,
    skip: usize,
) -> anyhow::Result<Throughput> {
    let deadline = Instant::now() + config.deadline;
    let mut want = HashSet::new();
    let mut tasks = Vec::new();
    let start = Instant::now();
    for (n, (child, frames)) in children.into_iter().zip(frames).enumerate() {
        let frames: Vec<_> = frames.into_iter().skip(if n == 0 { skip } else { 0 }).collect();
        want.extend(frames.iter().map(|(id, _)| *id));
        let (to, window) = (to.clone(), config.window);
        tasks.push(tokio::spawn(
            async move { pour(child, &to, frames, window, deadline).await },
        ));
    }
    let sent = want.len();
    let mut last = start;
    while !want.is_empty() {
        match timeout_at(deadline, parent.seen.recv()).await {
            Ok(Some(Seen::Carried(id, at))) => {
                if want.remove(&id) {
                    last = at;
                }
            }
            Ok(Some(_)) => {}
            Ok(None) => bail!("the played city's transport stopped"),
            Err(_) => bail!(
                "only {} of {sent} envelopes reached the city within {:?}",
                sent - want.len(),
                config.deadline
            ),
        }
    }
    for t in tasks {
        let child = t.await.context("a child's task")??;
        child.transport.shutdown().await;
    }
    Ok(Throughput {
        children: config.children,
        window: config.window,
        sent,
        relayed: sent - want.len(),
        elapsed: last.duration_since(start),
        ..Default::default()
    })
}

/// One child's part: its frames with at most `window` unacked; an
/// envelope unacked for [`RESEND`] is sent again (refused for a full
/// queue, say), as a node would. Returns the child once all are acked.
async fn pour(
    mut child: Peer,
    to: &NodeId,
    frames: Vec<(EnvelopeId, Vec<u8>)>,
    window: usize,
    deadline: Instant,
) -> anyhow::Result<Peer> {
    let mut unacked: HashMap<EnvelopeId, usize> = HashMap::new();
    let mut next = 0;
    while next < frames.len() || !unacked.is_empty() {
        while next < frames.len() && unacked.len() < window {
            let (id, frame) = &frames[next];
            if !child.send(to, Lane::Normal, frame)? {
                break;
            }
            unacked.insert(*id, next);
            next += 1;
        }
        let wait = (Instant::now() + RESEND).min(deadline);
        match timeout_at(wait, child.seen.recv()).await {
            Ok(Some(Seen::Acked(id, _))) => {
                unacked.remove(&id);
            }
            Ok(Some(_)) => {}
            Ok(None) => bail!("{}: the transport stopped", child.id),
            Err(_) if Instant::now() >= deadline => bail!(
                "{}: {} envelopes unacked at the deadline ({next} of {} sent)",
                child.id,
                unacked.len(),
                frames.len()
            ),
            Err(_) => {
                for &i in unacked.values() {
                    if !child.send(to, Lane::Normal, &frames[i].1)? {
                        break;
                    }
                }
            }
        }
    }
    Ok(child)
}

/// The chain of real nodes: the played neighbours are gone; the township
/// and the city start, and a played village sends one report at a time,
/// timed to the city's pushed "recorded".
async fn three_hops(
    config: &RelayConfig,
    fed: &mut Federation,
    certs: &Path,
    topology: Arc<Topology>,
) -> anyhow::Result<(Samples, Vec<(String, u64, u64)>)> {
    let (city, first) = (id(CITY), township(0));
    for n in [&city, &first] {
        fed.spawn(n)?;
    }
    for n in [&city, &first] {
        fed.wait_running(n).await?;
    }
    let client = fed.client(&city).await?;
    let mut sub = client.subscribe().await?;
    let (tx, mut recorded) = mpsc::unbounded_channel();
    let watch = tokio::spawn(async move {
        let _client = client;
        while let Some(Ok(r)) = sub.next().await {
            if let Response::Pushed(p) = r
                && let Notice::IncidentRecorded { incident, .. } = p.notice
                && tx.send((incident.id, Instant::now())).is_err()
            {
                break;
            }
        }
    });
    let mut village = Peer::start(certs, topology, &id(VILLAGE))?;
    village.transport.connect(&first);
    wait_up(&mut village).await?;
    let s = signer(certs, &village.id)?;
    let warm = config.samples.min(200);
    let frames = reports(&village.id, &s, &city, warm + config.samples, clock::now())?;
    let mut samples = Vec::with_capacity(config.samples);
    for (n, (id, frame)) in frames.iter().enumerate() {
        let sent = Instant::now();
        let mut resend = sent;
        let at = loop {
            if Instant::now() >= resend {
                // The first may wait for the county's link to the city.
                village.send(&first, Lane::Normal, frame)?;
                resend = Instant::now() + RESEND;
            }
            match timeout(CALL_TIMEOUT.min(RESEND), recorded.recv()).await {
                Ok(Some((got, at))) if got == *id => break at,
                Ok(Some(_)) => {}
                Ok(None) => bail!("the city's subscription ended"),
                Err(_) if sent.elapsed() > WAIT => bail!("report {n} did not reach the city within {WAIT:?}"),
                Err(_) => {}
            }
        };
        if n >= warm {
            samples.push(Some(at.duration_since(sent)));
        }
    }
    let mut memory = Vec::new();
    for n in [first.clone(), id(COUNTY), city.clone()] {
        if let Some(u) = fed.pid(&n).and_then(Usage::read) {
            memory.push((n.to_string(), u.rss_kib, u.peak_kib));
        }
    }
    village.transport.shutdown().await;
    watch.abort();
    Ok((Samples(samples), memory))
}

/// The node's commit count from its metrics (`liandong_commit_seconds_count`).
async fn commits(addr: SocketAddr) -> Option<u64> {
    let mut stream = timeout(CALL_TIMEOUT, tokio::net::TcpStream::connect(addr))
        .await
        .ok()?
        .ok()?;
    stream
        .write_all(b"GET /metrics HTTP/1.0\r\nHost: bench\r\n\r\n")
        .await
        .ok()?;
    let mut text = String::new();
    timeout(CALL_TIMEOUT, stream.read_to_string(&mut text))
        .await
        .ok()?
        .ok()?;
    text.lines()
        .filter(|l| l.starts_with("liandong_commit_seconds_count"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|v| v as u64)
        .next()
}
