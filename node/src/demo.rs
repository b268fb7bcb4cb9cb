//! The demo's life: a traffic generator that plays every operator of a
//! [`LocalFederation`] except the one a person is watching.
//!
//! - Grid workers at villages and police units file realistic reports
//!   (disputes, hazards, requests, fires, floods, gatherings, accidents):
//!   mostly Routine and IV, some III, rare II.
//! - Owners other than the watched node accept what they own after a
//!   while and later resolve it; targets of orders sign for them and later
//!   report them done.
//! - Now and then a township or county center is stopped for a while and
//!   restarted, so skip-level failover and catch-up can be watched.
//! - For severity II and I the owner's leader opens a coordination room
//!   (I opens itself by policy), the leaders of the centers on the path
//!   enter and report, the home records a decision, assigns the reporting
//!   center a task, and closes the room a few minutes later. If the owner
//!   is the watched node, the person watching opens it; the others still
//!   enter and speak once it is open.
//!
//! - Part of the reports enter through the gateway, as in a city
//!   (`doors`): the 12345 hotline files at a county over Open311, grid
//!   workers at two villages file over the JSON API with a photo (`png`).
//!   The first report, a second after the start, is a severity I flood in
//!   the watched center's subtree (through a grid worker's door when one
//!   is there), so the watched board shows an item within seconds.
//!
//! Everything goes through the nodes' operator API ([`Node::call`](crate::runtime::Node::call)): the
//! generator makes no protocol decisions, it only presses the buttons a
//! person would. Randomness comes from one seed, printed by the caller.

pub mod doors;
pub mod png;
pub mod police;

use liandong_control::Act;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use liandong_certs::Role;
use liandong_dispatch::room::RoomLine;
use liandong_dispatch::wire::{Category, Mode, RoomAct, TargetState};
use liandong_dispatch::{EnvelopeId, IncidentState};
use liandong_topology::{Kind, Level, NodeId, Severity};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::{Mutex, mpsc, watch};
use tokio::time::Instant;

use crate::local::{LocalFederation, operator};
use liandong_control::proto::{IdRef, Notice, Pushed, Request, Response};

/// How busy the demo is.
#[derive(Debug, Clone)]
pub struct TrafficOptions {
    /// Mean time between two reports somewhere in the federation.
    pub report_every: Duration,
    /// Stop and restart a township or county this often (None: never).
    pub outage_every: Option<Duration>,
    /// How long a stopped center stays down.
    pub outage_for: Duration,
    /// The node a person operates: the generator never acts for it.
    pub watched: Option<NodeId>,
    pub seed: u64,
}

impl Default for TrafficOptions {
    fn default() -> Self {
        TrafficOptions {
            report_every: Duration::from_secs(4),
            outage_every: Some(Duration::from_secs(90)),
            outage_for: Duration::from_secs(20),
            watched: None,
            seed: 1,
        }
    }
}

/// What happened, for a headless summary line or a log.
#[derive(Debug, Clone, Default)]
pub struct TrafficStats {
    pub reports: usize,
    pub by_severity: [usize; 5],
    pub accepted: usize,
    pub resolved: usize,
    pub orders: usize,
    pub signed_for: usize,
    pub outages: usize,
    pub failovers: usize,
    pub refused: usize,
    /// Coordination rooms opened.
    pub rooms: usize,
    /// Reports that entered through a gateway (hotline, grid workers).
    pub through_gateway: usize,
    /// Events the police system received by webhook, if it runs.
    pub webhooks: Option<usize>,
    /// Center down right now, if any.
    pub down: Option<NodeId>,
}

impl TrafficStats {
    pub fn line(&self) -> String {
        let [routine, iv, iii, ii, i] = self.by_severity;
        let mut s = format!(
            "reports {} (routine {routine}, IV {iv}, III {iii}, II {ii}, I {i}); accepted {}, resolved {}; order targets signed for {}/{}; rooms {}; outages {}, failovers {}",
            self.reports,
            self.accepted,
            self.resolved,
            self.signed_for,
            self.orders,
            self.rooms,
            self.outages,
            self.failovers
        );
        if self.through_gateway > 0 {
            s.push_str(&format!("; through the gateway {}", self.through_gateway));
        }
        if let Some(n) = self.webhooks {
            s.push_str(&format!("; police system's webhooks {n}"));
        }
        if let Some(d) = &self.down {
            s.push_str(&format!("; down now: {d}"));
        }
        s
    }
}

/// Something the generator will do later.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Later {
    /// Accept; `true`: serious enough for a coordination room.
    Accept(NodeId, EnvelopeId, bool),
    Resolve(NodeId, EnvelopeId),
    /// Room acts by the leader of a node.
    OpenRoom(NodeId, EnvelopeId),
    EnterRoom(NodeId, EnvelopeId),
    SpeakInRoom(NodeId, EnvelopeId),
    /// At the home: a decision, and a task for the reporting center.
    Decide(NodeId, EnvelopeId, NodeId),
    CloseRoom(NodeId, EnvelopeId),
    SignFor(NodeId, EnvelopeId),
    Finish(NodeId, EnvelopeId),
    Restart(NodeId),
}

const REPORTS: &[(Category, &[&str])] = &[
    (
        Category::Dispute,
        &[
            "邻里因装修噪音发生争执",
            "宅基地边界纠纷",
            "物业费纠纷引发争吵",
            "婚姻家庭矛盾需调解",
        ],
    ),
    (
        Category::Hazard,
        &[
            "楼道堆放杂物堵塞消防通道",
            "老旧小区电线裸露",
            "路面出现塌陷",
            "户外广告牌松动",
        ],
    ),
    (
        Category::Request,
        &["居民反映路灯不亮", "垃圾清运不及时", "独居老人需要帮扶", "噪声扰民投诉"],
    ),
    (Category::Fire, &["民房厨房起火", "仓库冒出浓烟", "电动车充电起火"]),
    (Category::Flood, &["下穿通道积水", "河道水位快速上涨", "低洼小区进水"]),
    (
        Category::Gathering,
        &["工地门口人员聚集讨薪", "商场门口人员聚集", "拆迁户聚集上访"],
    ),
    (
        Category::Accident,
        &["两车相撞致交通拥堵", "电动车与行人碰撞", "施工脚手架倒塌"],
    ),
];

/// What leaders on the path say in a room.
const ROOM_LINES: &[&str] = &[
    "本级应急预案已启动，值班领导在岗",
    "现场处置力量已到位，正在核实情况",
    "已组织周边群众转移，暂无人员伤亡",
    "请求上级协调增派救援力量",
    "交通已临时管制，请绕行",
    "情况基本稳定，继续跟踪",
];

/// Leaders on duty, one per center in topology order, so a room's roster
/// and log tell the centers' people apart (a path of up to six centers
/// never repeats a name).
const LEADERS: &[&str] = &[
    "罗平",
    "梁静",
    "高翔",
    "宋文",
    "何丽",
    "唐燕",
    "胡军",
    "许志明",
    "郭敏",
    "郑建国",
    "林强",
    "孙涛",
    "马红",
    "朱斌",
    "冯雪",
    "邓超",
    "曹磊",
    "彭丽",
    "袁刚",
    "蒋欣",
];

const NAMES: &[&str] = &[
    "张伟", "李娜", "王芳", "刘洋", "陈静", "杨帆", "赵磊", "黄敏", "周杰", "吴霞",
];

/// Severity with the demo's mix: mostly Routine and IV, some III, rare II.
fn severity(rng: &mut StdRng, category: Category) -> Severity {
    let serious = matches!(
        category,
        Category::Fire | Category::Flood | Category::Gathering | Category::Accident
    );
    let roll: u32 = rng.random_range(0..1000);
    match (serious, roll) {
        (_, 0..=14) => Severity::II,
        (true, 15..=249) | (false, 15..=59) => Severity::III,
        (true, 250..=699) | (false, 60..=399) => Severity::IV,
        _ => Severity::Routine,
    }
}

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

fn id_ref(id: EnvelopeId) -> IdRef {
    IdRef(format!("{:032x}", id.0))
}

fn jitter(rng: &mut StdRng, from: u64, to: u64) -> Duration {
    Duration::from_millis(rng.random_range(from * 1000..=to * 1000))
}

/// The demo's first report: a severity I flood at a village in the
/// watched center's subtree (a grid worker's door first, else any
/// reporter there, else the first door), so the watched board shows it
/// within seconds of the start: its severity and whether it came through
/// a gateway, if filed.
async fn first_report(
    f: &LocalFederation,
    options: &TrafficOptions,
    reporters: &[NodeId],
    doors: Option<&doors::Doors>,
) -> Option<(Severity, bool)> {
    let t = f.topology();
    let under = |n: &NodeId| options.watched.as_ref().is_none_or(|w| w == n || t.is_ancestor(w, n));
    let grid: Vec<NodeId> = doors.map_or(Vec::new(), |d| d.grid_villages().cloned().collect());
    let origin = grid
        .iter()
        .find(|n| under(n))
        .or_else(|| reporters.iter().find(|n| under(n)))
        .or(grid.first())
        .or(reporters.first())?
        .clone();
    let report = Filing {
        severity: Severity::I,
        category: Category::Flood,
        title: "河道水位快速上涨，堤防出现管涌".into(),
        reporter: format!("网格员{}", NAMES[0]),
    };
    file(f, &origin, report, doors, true, 0).await
}

/// One report of the demo's mix, at a random reporter; the hotline's
/// calls at its county and grid workers' photos at theirs go through the
/// gateway.
async fn one_report(
    f: &LocalFederation,
    rng: &mut StdRng,
    reporters: &[NodeId],
    doors: Option<&doors::Doors>,
) -> Option<(Severity, bool)> {
    let (category, titles) = *pick(rng, REPORTS);
    let severity = severity(rng, category);
    let title = (*pick(rng, titles)).to_string();
    if let Some(d) = doors
        && d.hotline_county().is_some()
        && rng.random_range(0..5) == 0
    {
        // A call to 12345, filed by the hotline's system over Open311.
        let service = crate::gateway::open311::SERVICES
            .iter()
            .find(|svc| svc.category == category)
            .unwrap_or(&crate::gateway::open311::SERVICES[0]);
        let place = pick(rng, &["鼓东街道五一路", "鼓西街道西湖路", "东街口", "屏山公园"]);
        return match d
            .hotline_call(f, service.code, &format!("市民来电：{title}"), place)
            .await
        {
            Ok(_) => Some((service.severity, true)),
            Err(e) => {
                tracing::warn!(error = %e, "demo: the hotline's call not filed");
                None
            }
        };
    }
    let origin = pick(rng, reporters).clone();
    let report = Filing {
        severity,
        category,
        title,
        reporter: format!("网格员{}", pick(rng, NAMES)),
    };
    let by_phone = rng.random_range(0..10) < 6;
    let seed = rng.random_range(0..u64::MAX);
    file(f, &origin, report, doors, by_phone, seed).await
}

/// What a generated report says.
struct Filing {
    severity: Severity,
    category: Category,
    title: String,
    reporter: String,
}

/// Files `report` at `origin`: over the grid workers' door with a photo
/// when `origin` has one and `by_phone`, else through the operator API.
async fn file(
    f: &LocalFederation,
    origin: &NodeId,
    report: Filing,
    doors: Option<&doors::Doors>,
    by_phone: bool,
    seed: u64,
) -> Option<(Severity, bool)> {
    let place = f.topology().get(origin).map(|n| n.name.clone()).unwrap_or_default();
    let detail = format!("{place}网格员巡查发现，现场情况已拍照留存。");
    if let Some(d) = doors.filter(|d| by_phone && d.grid_villages().any(|v| v == origin)) {
        let body = serde_json::json!({
            "severity": report.severity,
            "category": report.category,
            "title": report.title,
            "detail": detail,
            "place": place,
            "mode": Mode::Exercise,
        });
        let photo = png::photo(160, 120, seed);
        let key = format!("demo-{seed:016x}");
        match d.grid_report(f, origin, body, photo, &key).await {
            Ok(_) => return Some((report.severity, true)),
            // Down, or refused: the worker's report goes in by hand below.
            Err(e) => tracing::warn!(error = %e, %origin, "demo: a grid worker's report not filed over the gateway"),
        }
    }
    let node = f.node(origin)?;
    let request = Request::Act(Act::Report {
        severity: report.severity,
        category: report.category,
        title: report.title,
        detail,
        place,
        mode: Mode::Exercise,
    });
    match node
        .call(operator(origin, &report.reporter, Role::Operator), request)
        .await
    {
        Response::Done { .. } => Some((report.severity, false)),
        _ => None,
    }
}

/// Runs until `stop` turns true. Stats go to `stats` after every change.
pub async fn run_traffic(
    fed: Arc<Mutex<LocalFederation>>,
    options: TrafficOptions,
    mut stop: watch::Receiver<bool>,
    stats: watch::Sender<TrafficStats>,
    doors: Option<Arc<doors::Doors>>,
) {
    let mut rng = StdRng::seed_from_u64(options.seed);
    let (reporters, outage_candidates, leaders) = {
        let f = fed.lock().await;
        let t = f.topology();
        let leaders: HashMap<NodeId, &'static str> = (t.nodes().enumerate())
            .map(|(k, n)| (n.id.clone(), LEADERS[k % LEADERS.len()]))
            .collect();
        let reporters: Vec<NodeId> = t
            .nodes()
            .filter(|n| n.level == Level::Village || n.kind == Kind::MemberUnit)
            .map(|n| n.id.clone())
            .filter(|n| Some(n) != options.watched.as_ref())
            .collect();
        let outage: Vec<NodeId> = t
            .nodes()
            .filter(|n| matches!(n.level, Level::County | Level::Township) && n.kind == Kind::Center)
            .map(|n| n.id.clone())
            .filter(|n| Some(n) != options.watched.as_ref())
            .collect();
        (reporters, outage, leaders)
    };
    let leader = |at: &NodeId| leaders.get(at).copied().unwrap_or(LEADERS[0]);
    let (notices_tx, mut notices) = mpsc::channel::<(NodeId, Pushed)>(4096);
    let mut forwarders = HashMap::new();
    {
        let f = fed.lock().await;
        for id in f.running().cloned().collect::<Vec<_>>() {
            forwarders.insert(id.clone(), forward(&f, &id, notices_tx.clone()));
        }
    }
    let mut later: BinaryHeap<Reverse<(Instant, Later)>> = BinaryHeap::new();
    let mut s = TrafficStats::default();
    let mut next_report = Instant::now() + Duration::from_secs(1);
    let mut first_filed = false;
    let mut next_outage = options.outage_every.map(|e| Instant::now() + e);
    loop {
        let wake = [Some(next_report), next_outage, later.peek().map(|Reverse((t, _))| *t)]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(next_report);
        tokio::select! {
            _ = stop.changed() => break,
            Some((at, pushed)) = notices.recv() => {
                react(&options, &mut rng, &mut later, &mut s, (&at, leader(&at)), pushed.notice);
            }
            _ = tokio::time::sleep_until(wake) => {}
        }
        let now = Instant::now();
        if now >= next_report {
            let f = fed.lock().await;
            let first = !first_filed;
            first_filed = true;
            let filed = if first {
                first_report(&f, &options, &reporters, doors.as_deref()).await
            } else {
                one_report(&f, &mut rng, &reporters, doors.as_deref()).await
            };
            if let Some((severity, gateway)) = filed {
                s.reports += 1;
                s.by_severity[severity.rank()] += 1;
                s.through_gateway += usize::from(gateway);
            }
            drop(f);
            let mean = options.report_every.as_millis() as u64;
            next_report = now + Duration::from_millis(rng.random_range(mean / 2..=mean * 3 / 2).max(50));
        }
        if let Some(at) = next_outage
            && now >= at
        {
            if s.down.is_none() && !outage_candidates.is_empty() {
                let victim = pick(&mut rng, &outage_candidates).clone();
                fed.lock().await.stop(&victim).await;
                if let Some(task) = forwarders.remove(&victim) {
                    task.abort();
                }
                s.outages += 1;
                s.down = Some(victim.clone());
                later.push(Reverse((now + options.outage_for, Later::Restart(victim))));
            }
            next_outage = options.outage_every.map(|e| now + e);
        }
        while let Some(Reverse((t, _))) = later.peek() {
            if *t > now {
                break;
            }
            let Some(Reverse((_, job))) = later.pop() else { break };
            let mut f = fed.lock().await;
            match job {
                Later::Restart(id) => {
                    if f.start(&id).await.is_ok() {
                        forwarders.insert(id.clone(), forward(&f, &id, notices_tx.clone()));
                    }
                    s.down = None;
                }
                Later::Accept(at, incident, serious) => {
                    act(
                        &f,
                        &at,
                        Request::Act(Act::Accept {
                            incident: id_ref(incident),
                        }),
                        &mut s.accepted,
                    )
                    .await;
                    if serious {
                        later.push(Reverse((
                            now + jitter(&mut rng, 2, 6),
                            Later::OpenRoom(at.clone(), incident),
                        )));
                    }
                    later.push(Reverse((now + jitter(&mut rng, 30, 90), Later::Resolve(at, incident))));
                }
                Later::OpenRoom(at, room) => {
                    // Severity I opened itself: then this is refused, harmlessly.
                    if room_act(&f, (&at, leader(&at)), room, RoomAct::Open).await {
                        s.rooms += 1;
                    }
                }
                Later::EnterRoom(at, room) => {
                    room_act(&f, (&at, leader(&at)), room, RoomAct::Enter).await;
                }
                Later::SpeakInRoom(at, room) => {
                    let text = (*pick(&mut rng, ROOM_LINES)).to_string();
                    if room_act(&f, (&at, leader(&at)), room, RoomAct::Say { text }).await && rng.random_bool(0.5) {
                        later.push(Reverse((now + jitter(&mut rng, 20, 60), Later::SpeakInRoom(at, room))));
                    }
                }
                Later::Decide(at, room, origin) => {
                    let text = "启动应急响应，属地牵头、各成员单位按职责联动处置".to_string();
                    room_act(&f, (&at, leader(&at)), room, RoomAct::Decide { text }).await;
                    let task = RoomAct::Task {
                        target: origin,
                        instruction: "每30分钟报告一次现场情况".into(),
                        finish_by: None,
                    };
                    room_act(&f, (&at, leader(&at)), room, task).await;
                    later.push(Reverse((now + jitter(&mut rng, 120, 200), Later::CloseRoom(at, room))));
                }
                Later::CloseRoom(at, room) => {
                    let summary = "险情已排除，转入善后处置".to_string();
                    room_act(&f, (&at, leader(&at)), room, RoomAct::Close { summary }).await;
                }
                Later::Resolve(at, incident) => {
                    let summary = "已到现场处置完毕，群众满意".to_string();
                    let request = Request::Act(Act::Resolve {
                        incident: id_ref(incident),
                        summary,
                    });
                    act(&f, &at, request, &mut s.resolved).await;
                }
                Later::SignFor(at, order) => {
                    let state = TargetState::SignedFor { by: String::new() };
                    act(
                        &f,
                        &at,
                        Request::Act(Act::Acknowledge {
                            order: id_ref(order),
                            state,
                        }),
                        &mut s.signed_for,
                    )
                    .await;
                    later.push(Reverse((now + jitter(&mut rng, 20, 60), Later::Finish(at, order))));
                }
                Later::Finish(at, order) => {
                    let state = TargetState::Done {
                        note: "已完成，现场恢复正常".into(),
                    };
                    let mut ignored = 0;
                    act(
                        &f,
                        &at,
                        Request::Act(Act::Acknowledge {
                            order: id_ref(order),
                            state,
                        }),
                        &mut ignored,
                    )
                    .await;
                }
            }
        }
        s.webhooks = doors.as_ref().and_then(|d| d.police_events());
        stats.send_replace(s.clone());
    }
    for (_, task) in forwarders {
        task.abort();
    }
}

/// Acts in a room as the leader on duty at `at`; true if stored there
/// (the home may still refuse it).
async fn room_act(f: &LocalFederation, (at, leader): (&NodeId, &str), room: EnvelopeId, act: RoomAct) -> bool {
    let Some(node) = f.node(at) else { return false };
    let request = Request::Act(Act::RoomAct {
        room: id_ref(room),
        act,
        home: None,
    });
    matches!(
        node.call(operator(at, leader, Role::Leader), request).await,
        Response::Asked { .. }
    )
}

/// Presses one button at `at` as its duty operator; counts it if taken.
async fn act(f: &LocalFederation, at: &NodeId, request: Request, count: &mut usize) {
    if let Some(node) = f.node(at)
        && let Response::Done { .. } = node.call(operator(at, "值班员", Role::Operator), request).await
    {
        *count += 1;
    }
}

/// What the operators of `at` would do about `notice`, scheduled.
fn react(
    options: &TrafficOptions,
    rng: &mut StdRng,
    later: &mut BinaryHeap<Reverse<(Instant, Later)>>,
    s: &mut TrafficStats,
    (at, leader): (&NodeId, &str),
    notice: Notice,
) {
    let watched = options.watched.as_ref() == Some(at);
    let now = Instant::now();
    match notice {
        Notice::IncidentRecorded { incident, .. }
            if incident.owner == *at && incident.state == IncidentState::Reported && !watched =>
        {
            let serious = incident.report.severity >= Severity::II;
            later.push(Reverse((
                now + jitter(rng, 3, 15),
                Later::Accept(at.clone(), incident.id, serious),
            )));
        }
        Notice::RoomChanged { room, entry } if !watched => {
            let leader_here = entry.by.as_ref().is_some_and(|p| p.node == *at && p.name == leader);
            match &entry.line {
                RoomLine::Opened if room.home != *at => {
                    later.push(Reverse((
                        now + jitter(rng, 3, 10),
                        Later::EnterRoom(at.clone(), room.id),
                    )));
                }
                RoomLine::Opened => {
                    // Whoever opened it (a leader here, or the policy), the
                    // home decides and assigns the reporting center a task.
                    let origin = room.origin.clone();
                    later.push(Reverse((
                        now + jitter(rng, 20, 40),
                        Later::Decide(at.clone(), room.id, origin),
                    )));
                    if entry
                        .by
                        .as_ref()
                        .is_some_and(|p| p.name == liandong_dispatch::room::SYSTEM)
                    {
                        s.rooms += 1;
                        later.push(Reverse((
                            now + jitter(rng, 2, 5),
                            Later::EnterRoom(at.clone(), room.id),
                        )));
                    }
                }
                RoomLine::Entered if leader_here && room.home != *at => {
                    later.push(Reverse((
                        now + jitter(rng, 5, 20),
                        Later::SpeakInRoom(at.clone(), room.id),
                    )));
                }
                _ => {}
            }
        }
        Notice::OrderReceived { order } if !watched => {
            s.orders += 1;
            later.push(Reverse((
                now + jitter(rng, 2, 8),
                Later::SignFor(at.clone(), order.order.id),
            )));
        }
        Notice::OrderReceived { .. } => s.orders += 1,
        Notice::FailedOver { .. } => s.failovers += 1,
        Notice::Refused { .. } => s.refused += 1,
        _ => {}
    }
}

/// Forwards one node's pushed notices, tagged with the node.
fn forward(f: &LocalFederation, id: &NodeId, tx: mpsc::Sender<(NodeId, Pushed)>) -> tokio::task::JoinHandle<()> {
    let mut rx = f.node(id).map(|n| n.subscribe());
    let id = id.clone();
    tokio::spawn(async move {
        let Some(rx) = rx.as_mut() else { return };
        loop {
            match rx.recv().await {
                Ok(p) => {
                    if tx.send((id.clone(), p)).await.is_err() {
                        return;
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(_) => return,
            }
        }
    })
}
