//! One loss level of the thin-link bench, from certificates to figures.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use liandong_control::proto::{IdRef, Query, Request, Response};
use liandong_control::{Act, ControlClient};
use liandong_dispatch::codec::encoded_len;
use liandong_dispatch::wire::{Category, EnvelopeId, Mode, Targets};
use liandong_node::photos::PhotoFiles;
use liandong_node::store::{Durable, StoreLocation, StoreOptions};
use liandong_topology::{NodeId, Severity, Topology};
use tokio::time::Instant;

use super::ThinConfig;
use super::figures::{Drain, LevelFigures};
use super::watch::{Arrivals, watch};
use crate::federation::{CALL_TIMEOUT, Federation, say};
use crate::launch::{Proxies, launch, work_dir};
use crate::proxy::ChaosConfig;

const CITY: &str = "350100";
const COUNTY: &str = "350102";
const TOWNSHIP: &str = "350102001";
const VILLAGE: &str = "350102001001";

/// The four-center chain on `ip`, with the link timers a rural
/// deployment declares, and its village links declared as `class` says.
fn chain(ip: std::net::Ipv4Addr, class: &str) -> anyhow::Result<Topology> {
    let text = format!(
        r#"[federation]
name = "thin-link bench"

[link]
heartbeat = "5s"
failover_after = "60s"

{class}

[[node]]
id = "{CITY}"
name = "福州市"
level = "city"
listen = "{ip}:7100"

[[node]]
id = "{COUNTY}"
name = "鼓楼区"
level = "county"
parent = "{CITY}"
listen = "{ip}:7101"

[[node]]
id = "{TOWNSHIP}"
name = "鼓东街道"
level = "township"
parent = "{COUNTY}"
listen = "{ip}:7102"

[[node]]
id = "{VILLAGE}"
name = "山区村"
level = "village"
parent = "{TOWNSHIP}"
listen = "{ip}:7103"
"#
    );
    Topology::parse(&text, None).map_err(|e| anyhow::anyhow!("the bench's topology: {e}"))
}

fn id(s: &str) -> NodeId {
    NodeId::parse(s).expect("a bench node id is well formed")
}

/// Files one request and returns the id the node gave it.
async fn file(client: &ControlClient, act: Act) -> anyhow::Result<EnvelopeId> {
    match tokio::time::timeout(CALL_TIMEOUT * 4, client.call(Request::Act(act))).await {
        Ok(Ok(Response::Done { id, .. })) => Ok(id),
        Ok(Ok(other)) => bail!("refused: {other:?}"),
        Ok(Err(e)) => bail!("control call failed: {e}"),
        Err(_) => bail!("control call timed out"),
    }
}

fn report(severity: Severity, title: String) -> Act {
    Act::Report {
        severity,
        category: Category::Flood,
        title,
        detail: "山洪预警：村口河道水位上涨，已组织群众转移".into(),
        place: "山区村村口".into(),
        mode: Mode::Exercise,
    }
}

fn order(severity: Severity, instruction: String) -> Act {
    Act::Dispatch {
        incident: None,
        targets: Targets::Node(id(VILLAGE)),
        severity,
        instruction,
        finish_by: None,
        mode: Mode::Exercise,
    }
}

/// An urgent item: where it must arrive, when it was filed.
struct Urgent {
    kind: usize,
    id: EnvelopeId,
    at: NodeId,
    filed: Instant,
}

/// Files one urgent report at the village and one urgent order at the city.
async fn file_urgent(
    village: &ControlClient,
    city: &ControlClient,
    n: usize,
    out: &mut Vec<Urgent>,
) -> anyhow::Result<()> {
    let filed = Instant::now();
    let r = file(village, report(Severity::I, format!("紧急 第{n}报：山洪"))).await?;
    out.push(Urgent {
        kind: 0,
        id: r,
        at: id(TOWNSHIP),
        filed,
    });
    out.push(Urgent {
        kind: 1,
        id: r,
        at: id(CITY),
        filed,
    });
    let filed = Instant::now();
    let o = file(city, order(Severity::I, format!("紧急指令 第{n}号：立即组织转移"))).await?;
    out.push(Urgent {
        kind: 2,
        id: o,
        at: id(VILLAGE),
        filed,
    });
    Ok(())
}

/// Waits until every (center, id) has arrived or `deadline`; asks the
/// node for what is still missing when a subscription lagged.
async fn wait_all(
    fed: &Federation,
    arrivals: &Arrivals,
    want: &[(NodeId, EnvelopeId, bool)],
    deadline: Instant,
) -> anyhow::Result<()> {
    let mut clients: HashMap<NodeId, ControlClient> = HashMap::new();
    loop {
        let missing: Vec<&(NodeId, EnvelopeId, bool)> =
            want.iter().filter(|(c, i, _)| arrivals.at(c, *i).is_none()).collect();
        if missing.is_empty() || Instant::now() >= deadline {
            return Ok(());
        }
        if arrivals.lagged() {
            for (c, i, is_order) in missing.iter().take(200) {
                if !clients.contains_key(c) {
                    clients.insert(c.clone(), fed.client(c).await?);
                }
                let idref = IdRef(format!("{:032x}", i.0));
                let q = if *is_order {
                    Query::Order { id: idref }
                } else {
                    Query::Incident { id: idref }
                };
                let a = tokio::time::timeout(CALL_TIMEOUT, clients[c].call(Request::Query(q))).await;
                if matches!(a, Ok(Ok(Response::Incident(_) | Response::Order(_)))) {
                    arrivals.record(c, *i, Instant::now());
                }
            }
        }
        let wait = (deadline - Instant::now()).min(Duration::from_secs(1));
        let _ = tokio::time::timeout(wait, arrivals.changed.notified()).await;
    }
}

/// One loss level.
pub(super) async fn level(config: &ThinConfig, loss: f64) -> anyhow::Result<LevelFigures> {
    let t0 = Instant::now();
    let v = config.verbose;
    let keep = config
        .dir
        .as_ref()
        .map(|d| d.join(format!("loss-{:02.0}", loss * 100.0)));
    let (tempdir, dir) = work_dir(keep.as_deref(), "liandong-thin-")?;
    let topology = Arc::new(chain(config.ip, &config.declared())?);
    let (village_id, township_id) = (id(VILLAGE), id(TOWNSHIP));
    let thin = ChaosConfig {
        loss,
        delay: config.delay,
        bandwidth: Some(config.rate),
        ..ChaosConfig::default()
    };
    let chaos_for = |n: &liandong_topology::NodeInfo, _: &liandong_topology::NodeInfo| {
        if n.id == village_id {
            thin.clone()
        } else {
            ChaosConfig::default()
        }
    };
    let (mut fed, mut proxies) = launch(&config.binary, topology, &dir, config.seed, chaos_for, v, t0).await?;
    let outcome = measure(config, loss, &fed, &proxies, t0).await;
    for id in [VILLAGE, TOWNSHIP, COUNTY, CITY] {
        if let Err(e) = fed.stop(&self::id(id)).await {
            say(v, t0, e);
        }
    }
    for (_, p) in &mut proxies {
        p.stop();
    }
    let (mut figures, backlog) = match outcome {
        Ok(x) => x,
        Err(e) => {
            if let Some(t) = tempdir {
                let _ = t.keep();
            }
            return Err(e.context(format!("loss {loss}: logs in {}", dir.display())));
        }
    };
    figures.up.bytes = stored_bytes(&fed, &township_id, &backlog.0).await?;
    figures.down.bytes = stored_bytes(&fed, &village_id, &backlog.1).await?;
    (figures.reconnects, figures.failovers) = link_history(&dir.join("logs").join(format!("{VILLAGE}.log")), TOWNSHIP);
    figures.wall = t0.elapsed();
    figures.kept = tempdir.is_none().then(|| dir.clone());
    drop(tempdir);
    Ok(figures)
}

/// The backlog's ids: reports up, orders down.
type Backlog = (Vec<EnvelopeId>, Vec<EnvelopeId>);

async fn measure(
    config: &ThinConfig,
    loss: f64,
    fed: &Federation,
    proxies: &Proxies,
    t0: Instant,
) -> anyhow::Result<(LevelFigures, Backlog)> {
    let v = config.verbose;
    let (village_id, township_id, city_id) = (id(VILLAGE), id(TOWNSHIP), id(CITY));
    let arrivals = Arc::new(Arrivals::default());
    let watchers = watch(
        fed,
        &[township_id.clone(), city_id.clone(), village_id.clone()],
        &arrivals,
    )
    .await?;
    let village = fed.client(&village_id).await?;
    let township = fed.client(&township_id).await?;
    let city = fed.client(&city_id).await?;

    // Warm-up: one report all the way up, so every link is established.
    let warm = file(&village, report(Severity::I, "链路预热".into())).await?;
    wait_all(
        fed,
        &arrivals,
        &[(city_id.clone(), warm, false)],
        Instant::now() + Duration::from_secs(120),
    )
    .await?;
    if arrivals.at(&city_id, warm).is_none() {
        bail!("the warm-up report did not reach the city within 120 s");
    }
    say(
        v,
        t0,
        format!("loss {loss}: links up; {} urgent items on the idle link", config.quiet),
    );

    // 1. Quiet.
    let mut quiet = Vec::new();
    let every = (config.urgent_every / 2).max(Duration::from_millis(100));
    let mut tick = tokio::time::interval(every);
    for n in 0..config.quiet {
        tick.tick().await;
        file_urgent(&village, &city, n + 1, &mut quiet).await?;
    }
    let want: Vec<_> = quiet.iter().map(|u| (u.at.clone(), u.id, u.kind == 2)).collect();
    wait_all(fed, &arrivals, &want, Instant::now() + Duration::from_secs(120)).await?;

    // 2. Backlog: the village cut off on every link it has.
    for ((from, _), p) in proxies {
        if *from == village_id {
            p.partition(true);
        }
    }
    say(
        v,
        t0,
        format!(
            "village cut off; filing {} reports and {} orders",
            config.backlog_reports, config.backlog_orders
        ),
    );
    let mut up = Vec::with_capacity(config.backlog_reports);
    let mut down = Vec::with_capacity(config.backlog_orders);
    for n in 0..config.backlog_reports.max(config.backlog_orders) {
        if n < config.backlog_reports {
            up.push(
                file(
                    &village,
                    report(Severity::Routine, format!("日常巡查 第{n}报：道路积水")),
                )
                .await?,
            );
        }
        if n < config.backlog_orders {
            down.push(
                file(
                    &township,
                    order(Severity::Routine, format!("日常工作 第{n}号：排查隐患并反馈")),
                )
                .await?,
            );
        }
    }
    // Cut off means the village knows it: hold the cut until it sees its
    // township link down (three missed heartbeats), so the backlog is owed
    // across the link rather than sitting in one live connection's buffers.
    let cut_seen = Instant::now() + Duration::from_secs(90);
    while arrivals.down_at(&village_id, &township_id).is_none() && Instant::now() < cut_seen {
        let _ = tokio::time::timeout(Duration::from_secs(1), arrivals.changed.notified()).await;
    }
    if arrivals.down_at(&village_id, &township_id).is_none() {
        bail!("the village did not see its township link go down within 90 s of the cut");
    }
    for ((from, _), p) in proxies {
        if *from == village_id {
            p.partition(false);
        }
    }
    let reconnected = Instant::now();
    say(v, t0, "village reconnected; urgent items while the backlog drains");

    // 3. Loaded.
    let mut loaded = Vec::new();
    let mut tick = tokio::time::interval(config.urgent_every);
    tick.tick().await;
    for n in 0..config.urgent {
        tick.tick().await;
        file_urgent(&village, &city, 1000 + n, &mut loaded).await?;
    }
    let mut want: Vec<_> = loaded.iter().map(|u| (u.at.clone(), u.id, u.kind == 2)).collect();
    want.extend(up.iter().map(|i| (township_id.clone(), *i, false)));
    want.extend(down.iter().map(|i| (village_id.clone(), *i, true)));
    wait_all(fed, &arrivals, &want, reconnected + config.drain_within).await?;

    // 4. A photo in flight.
    let mut photo = Vec::new();
    let mut photo_in_flight = false;
    if config.photo > 0 {
        say(
            v,
            t0,
            format!("a {} B photo follows a report up; urgent items meanwhile", config.photo),
        );
        let sha = file_photo(fed, &village, config.photo, config.seed).await?;
        let mut tick = tokio::time::interval(every);
        for n in 0..config.quiet {
            tick.tick().await;
            file_urgent(&village, &city, 2000 + n, &mut photo).await?;
        }
        let want: Vec<_> = photo.iter().map(|u| (u.at.clone(), u.id, u.kind == 2)).collect();
        wait_all(fed, &arrivals, &want, Instant::now() + Duration::from_secs(120)).await?;
        photo_in_flight = !fed.data_dir(&township_id).join("photos").join(&sha).is_file();
    }
    say(v, t0, "done; stopping the nodes");
    for w in watchers {
        w.abort();
    }
    for c in [village, township, city] {
        c.close().await;
    }

    let last = |at: &NodeId, ids: &[EnvelopeId]| -> Option<Instant> {
        ids.iter()
            .map(|i| arrivals.at(at, *i))
            .collect::<Option<Vec<_>>>()?
            .into_iter()
            .max()
    };
    let up_done = last(&township_id, &up);
    let down_done = last(&village_id, &down);
    let drained = up_done.zip(down_done).map(|(a, b)| a.max(b));
    let mut figures = LevelFigures {
        loss,
        up: Drain {
            items: up.len(),
            bytes: 0,
            took: up_done.map(|t| t - reconnected),
        },
        down: Drain {
            items: down.len(),
            bytes: 0,
            took: down_done.map(|t| t - reconnected),
        },
        ..LevelFigures::default()
    };
    let sample = |u: &Urgent| arrivals.at(&u.at, u.id).map(|t| t - u.filed);
    for u in &quiet {
        figures.quiet[u.kind].0.push(sample(u));
    }
    for u in &photo {
        figures.photo[u.kind].0.push(sample(u));
    }
    figures.photo_bytes = config.photo;
    figures.photo_in_flight = photo_in_flight;
    for u in &loaded {
        if drained.is_some_and(|d| u.filed > d) {
            figures.after_drain += 1;
        } else {
            figures.loaded[u.kind].0.push(sample(u));
            let arrived = arrivals.at(&u.at, u.id);
            if arrived.is_some_and(|a| drained.is_none_or(|d| a < d)) {
                figures.overtook += 1;
            }
        }
    }
    Ok((figures, (up, down)))
}

/// Puts a photo of `size` bytes (a PNG by its first bytes) in the
/// village's photo files, as its gateway would, and files a routine
/// report carrying it: the township asks for the photo and pulls it over
/// the thin link on the bulk lane. Its hash, in hex.
async fn file_photo(fed: &Federation, village: &ControlClient, size: u64, seed: u64) -> anyhow::Result<String> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut x = seed | 1;
    bytes.extend((8..size.max(9)).map(|_| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x as u8
    }));
    let files = PhotoFiles::new(&fed.data_dir(&id(VILLAGE)));
    let photo = files
        .put(&bytes, u64::MAX)
        .context("the photo in the village's files")?;
    let act = Act::ReportOnce {
        id: IdRef(format!("{:032x}", u128::from(seed) << 64 | 0x70686f746f)),
        severity: Severity::Routine,
        category: Category::Hazard,
        title: "山体裂缝（附现场照片）".into(),
        detail: String::new(),
        place: "山区村后山".into(),
        mode: Mode::Actual,
        photos: vec![photo],
    };
    file(village, act).await?;
    Ok(photo.hex())
}

/// The encoded bytes of the `ids` stored at `at` (its node stopped).
async fn stored_bytes(fed: &Federation, at: &NodeId, ids: &[EnvelopeId]) -> anyhow::Result<u64> {
    let location = StoreLocation::Sqlite(fed.data_dir(at).join("node.db"));
    let durable = Durable::open(&location, at, StoreOptions::default())
        .await
        .with_context(|| format!("open the store of {at}"))?;
    let store = durable
        .load()
        .await
        .with_context(|| format!("load the store of {at}"))?;
    durable.close().await;
    Ok(ids
        .iter()
        .filter_map(|i| store.envelopes.get(i))
        .map(|s| encoded_len(&s.envelope) as u64)
        .sum())
}

/// (reconnects, failovers) from a node's log: its links to `peer` that
/// came up again after the first, and failovers.
fn link_history(log: &Path, peer: &str) -> (usize, usize) {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let peer = format!("peer={peer} ");
    let ups = text
        .lines()
        .filter(|l| l.contains("link up") && l.contains(&peer))
        .count();
    let failovers = text.lines().filter(|l| l.contains("failed over")).count();
    (ups.saturating_sub(1), failovers)
}
