//! A scripted console: the demo federation, the city center's node as
//! the console sees it, real proto values, and a fixed clock, so frames
//! are the same on every run.
//!
//! The story: the city (福州市) has a fire it accepted and dispatched to
//! three places under 鼓楼区, a flood report waiting to be accepted, a
//! supervised hazard whose accept deadline has passed, and a drill. Then
//! [`new_report`] (a severity I blast), [`signed_for`] (五一社区 signs),
//! [`deadline_passes`] (the flood's accept deadline) and [`link_down`]
//! (闽侯县 unreachable) happen.

#![allow(dead_code)]

use std::time::Duration;

use liandong_dispatch::store::{Incident, IncidentState, OrderRecord, RollUp, TargetStatus, TimelineEntry};
use liandong_dispatch::wire::{Category, EnvelopeId, Mode, Order, Report, TargetState, Targets, Timestamp};
use liandong_node::control::{LinkView, NodeStatus, Notice, OrderView, Pushed};
use liandong_topology::{Addressing, Level, NodeId, Preset, Severity, Shape, Topology, generate};
use liandong_tui::{App, AppEvent, Lang};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

/// 2026-11-22 14:03:27 in UTC+8.
pub const NOW: Timestamp = Timestamp(1_795_327_407_000);
pub const UTC8: i32 = 8 * 3600;

pub const FIRE: EnvelopeId = EnvelopeId(0x3f2a_8c01_d2e4_0000_0000_0000_0000_0001);
pub const FLOOD: EnvelopeId = EnvelopeId(0x51b7_0e93_aa10_0000_0000_0000_0000_0002);
pub const HAZARD: EnvelopeId = EnvelopeId(0x7c44_19d0_5b3e_0000_0000_0000_0000_0003);
pub const DRILL: EnvelopeId = EnvelopeId(0x9e02_6f7a_c1d8_0000_0000_0000_0000_0004);
pub const BLAST: EnvelopeId = EnvelopeId(0xa8f3_2b61_07c9_0000_0000_0000_0000_0005);
pub const FIRE_ORDER: EnvelopeId = EnvelopeId(0xb1e5_7d20_94af_0000_0000_0000_0000_0006);
pub const NEW_ORDER: EnvelopeId = EnvelopeId(0xc3d9_4a18_e670_0000_0000_0000_0000_0007);

pub fn id(s: &str) -> NodeId {
    NodeId::parse(s).expect("a valid node id")
}

pub fn ago(secs: u64) -> Timestamp {
    Timestamp(NOW.0 - secs * 1000)
}

pub fn later(secs: u64) -> Timestamp {
    NOW.plus(Duration::from_secs(secs))
}

pub fn topology() -> Topology {
    generate(&Shape::Preset(Preset::Demo), Addressing::default()).expect("the demo topology")
}

pub const CITY: &str = "350100";
pub const GULOU: &str = "350102";
pub const MINHOU: &str = "350121";
pub const GUDONG: &str = "350102001";
pub const WUYI: &str = "350102001001";
pub const DONGMEN: &str = "350102001002";
pub const XIHU: &str = "350102002001";
pub const HOUGUAN: &str = "350121002001";
pub const SHANGJIE: &str = "350121002";
pub const TANSHI: &str = "350121001001";

fn entry(at: Timestamp, node: &str, what: &str) -> TimelineEntry {
    TimelineEntry {
        at,
        node: id(node),
        what: what.to_owned(),
    }
}

#[allow(clippy::too_many_arguments)]
fn incident(
    id_: EnvelopeId,
    origin: &str,
    severity: Severity,
    category: Category,
    title: &str,
    place: &str,
    reporter: &str,
    reported: Timestamp,
    state: IncidentState,
) -> Incident {
    Incident {
        id: id_,
        origin: id(origin),
        report: Report {
            severity,
            category,
            title: title.to_owned(),
            detail: String::new(),
            place: place.to_owned(),
            reporter: reporter.to_owned(),
        },
        mode: Mode::Actual,
        reported,
        owner: id(CITY),
        state,
        accepted_by: None,
        accept_by: reported.plus(Duration::from_secs(600)),
        finish_by: None,
        supervisor: None,
        orders: Vec::new(),
        timeline: vec![
            entry(reported, origin, &format!("reported by {reporter}")),
            entry(reported.plus(Duration::from_secs(4)), CITY, "recorded here"),
        ],
    }
}

pub fn fire() -> Incident {
    let mut i = incident(
        FIRE,
        WUYI,
        Severity::III,
        Category::Fire,
        "五一路仓库冒烟",
        "五一中路 88 号仓库",
        "张伟",
        ago(25 * 60),
        IncidentState::Dispatched,
    );
    i.report.detail = "二楼窗口冒出浓烟,现场有人员被困。".to_owned();
    i.accepted_by = Some("王芳".to_owned());
    i.accept_by = ago(25 * 60).plus(Duration::from_secs(1800));
    i.finish_by = Some(ago(20 * 60).plus(Duration::from_secs(86_400)));
    i.orders = vec![FIRE_ORDER];
    i.timeline
        .insert(1, entry(ago(25 * 60 - 2), GUDONG, "stored on the way"));
    i.timeline.push(entry(ago(20 * 60), CITY, "accepted by 王芳"));
    i.timeline
        .push(entry(ago(18 * 60), CITY, "order b1e57d2094af dispatched by 王芳"));
    i
}

pub fn flood() -> Incident {
    let mut i = incident(
        FLOOD,
        HOUGUAN,
        Severity::II,
        Category::Flood,
        "闽江水位超警戒 0.8m",
        "侯官村江堤",
        "林海",
        ago(8 * 60),
        IncidentState::Reported,
    );
    i.accept_by = later(2 * 60);
    i
}

pub fn hazard() -> Incident {
    let mut i = incident(
        HAZARD,
        XIHU,
        Severity::IV,
        Category::Hazard,
        "楼道堆物 blocking the fire exit",
        "西湖花园 3 栋",
        "Li Na",
        ago(75 * 60),
        IncidentState::Reported,
    );
    i.accept_by = ago(3 * 60);
    i.supervisor = Some(id(CITY));
    i.timeline.push(entry(
        ago(15 * 60),
        GULOU,
        "Accept deadline missed: supervised by 350100",
    ));
    i.timeline.push(entry(
        ago(15 * 60),
        GULOU,
        "escalated to 350100 by system: accept deadline missed",
    ));
    i
}

pub fn drill() -> Incident {
    let mut i = incident(
        DRILL,
        TANSHI,
        Severity::Routine,
        Category::Flood,
        "防汛应急演练",
        "昙石村",
        "陈刚",
        ago(3 * 3600),
        IncidentState::Accepted,
    );
    i.mode = Mode::Exercise;
    i.accepted_by = Some("王芳".to_owned());
    i.finish_by = Some(later(2 * 86_400));
    i
}

pub fn blast() -> Incident {
    let mut i = incident(
        BLAST,
        SHANGJIE,
        Severity::I,
        Category::Accident,
        "化工厂爆炸 chemical plant blast",
        "上街镇工业园",
        "吴军",
        NOW,
        IncidentState::Reported,
    );
    i.accept_by = later(5 * 60);
    i
}

fn status(at: Timestamp, state: TargetState) -> TargetStatus {
    TargetStatus {
        state,
        at,
        overdue: None,
    }
}

pub fn fire_order() -> OrderView {
    OrderView {
        order: OrderRecord {
            id: FIRE_ORDER,
            issuer: id(CITY),
            order: Order {
                incident: Some(FIRE),
                targets: Targets::List(vec![id(GUDONG), id(WUYI), id(DONGMEN)]),
                severity: Severity::III,
                instruction: "立即组织疏散,配合消防救援\n核实被困人数".to_owned(),
                by: "王芳".to_owned(),
                finish_by: None,
            },
            mode: Mode::Actual,
            issued: ago(18 * 60),
            sign_for_by: ago(18 * 60).plus(Duration::from_secs(3600)),
            finish_by: ago(18 * 60).plus(Duration::from_secs(86_400)),
        },
        roll_up: RollUp {
            targets: 3,
            delivered: 3,
            signed_for: 1,
            done: 0,
            refused: 0,
            overdue: 0,
        },
        targets: vec![
            (
                id(GUDONG),
                status(
                    ago(16 * 60),
                    TargetState::SignedFor {
                        by: "陈明".to_owned()
                    },
                ),
            ),
            (id(WUYI), status(ago(17 * 60), TargetState::Delivered)),
            (id(DONGMEN), status(ago(17 * 60), TargetState::Delivered)),
        ],
    }
}

fn link(peer: &str, name: &str, relation: &str, up: bool, rtt: Option<u64>, queued: usize, heard: u64) -> LinkView {
    LinkView {
        peer: id(peer),
        name: name.to_owned(),
        relation: relation.to_owned(),
        up,
        last_heard: ago(heard),
        rtt_ms: rtt,
        queued,
    }
}

pub fn city_status() -> NodeStatus {
    NodeStatus {
        node: id(CITY),
        name: "福州市".to_owned(),
        level: Level::City,
        parent: None,
        failed_over: false,
        links: vec![
            link(GULOU, "鼓楼区", "child", true, Some(3), 0, 1),
            link(MINHOU, "闽侯县", "child", true, Some(7), 2, 1),
        ],
        incidents_open: 4,
        orders_open: 1,
        storage_problem: None,
        started: ago(6 * 3600),
        now: NOW,
    }
}

/// The console of the city center's operator, attached and live, at
/// `NOW`, `width` x `height`.
pub fn city_app(lang: Lang, width: u16, height: u16) -> App {
    let mut app = App::new(lang, UTC8, Some(operator()));
    feed(&mut app, AppEvent::Resize { width, height });
    feed(&mut app, AppEvent::Topology(Box::new(topology())));
    feed(&mut app, AppEvent::Tick(NOW));
    feed(
        &mut app,
        AppEvent::Snapshot {
            status: city_status(),
            incidents: vec![fire(), flood(), hazard(), drill()],
            orders: vec![fire_order()],
            rooms: vec![],
        },
    );
    app
}

pub fn operator() -> liandong_node::control::Operator {
    liandong_node::control::Operator {
        node: id(CITY),
        name: "王芳".to_owned(),
        role: liandong_certs::Role::Operator,
    }
}

/// Handles an event whose actions the test does not care about.
pub fn feed(app: &mut App, event: AppEvent) {
    let _ = app.handle(event);
}

pub fn pushed(at: Timestamp, notice: Notice) -> AppEvent {
    AppEvent::Pushed(Pushed { at, notice })
}

/// A severity I blast recorded at the city with an alert.
pub fn new_report() -> AppEvent {
    pushed(
        NOW,
        Notice::IncidentRecorded {
            incident: blast(),
            alert: true,
        },
    )
}

/// 五一社区 signs for the fire order.
pub fn signed_for() -> AppEvent {
    pushed(
        later(30),
        Notice::OrderProgress {
            order: FIRE_ORDER,
            target: id(WUYI),
            state: TargetState::SignedFor {
                by: "李强".to_owned()
            },
            roll_up: RollUp {
                targets: 3,
                delivered: 3,
                signed_for: 2,
                done: 0,
                refused: 0,
                overdue: 0,
            },
        },
    )
}

/// Three minutes on: the flood's accept deadline (NOW + 2 min) passed.
pub fn deadline_passes() -> AppEvent {
    AppEvent::Tick(later(3 * 60))
}

/// 闽侯县's link goes down.
pub fn link_down() -> AppEvent {
    pushed(
        later(3 * 60 + 5),
        Notice::LinkChanged {
            peer: id(MINHOU),
            up: false,
        },
    )
}

/// Draws the app as a terminal of its size would show it.
pub fn draw(app: &App, width: u16, height: u16) -> TestBackend {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("a test terminal");
    terminal
        .draw(|frame| frame.render_widget(app, frame.area()))
        .expect("drawing");
    terminal.backend().clone()
}

pub fn key(c: char) -> AppEvent {
    AppEvent::Key(crossterm::event::KeyEvent::from(crossterm::event::KeyCode::Char(c)))
}

pub fn code(code: crossterm::event::KeyCode) -> AppEvent {
    AppEvent::Key(crossterm::event::KeyEvent::from(code))
}

pub fn ctrl(c: char) -> AppEvent {
    AppEvent::Key(crossterm::event::KeyEvent::new(
        crossterm::event::KeyCode::Char(c),
        crossterm::event::KeyModifiers::CONTROL,
    ))
}

pub fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        feed(app, key(c));
    }
}

/// The frame as text, one line per row, trailing spaces cut. A wide
/// character is written once (the cell it also covers is skipped); if
/// anything was drawn into that covered cell, text overlaps (columns out
/// of alignment) and this panics.
pub fn screen(backend: &TestBackend) -> String {
    use unicode_width::UnicodeWidthStr;
    let buf = backend.buffer();
    let mut out = String::new();
    for y in 0..buf.area.height {
        let mut line = String::new();
        let mut covered = 0;
        for x in 0..buf.area.width {
            let symbol = buf[(x, y)].symbol();
            if covered > 0 {
                assert!(
                    symbol == " " || symbol.is_empty(),
                    "row {y}, column {x}: {symbol:?} drawn over a wide character in {line:?}"
                );
                covered -= 1;
                continue;
            }
            line.push_str(symbol);
            covered = symbol.width().saturating_sub(1);
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// [`draw`] then [`screen`].
pub fn shot(app: &App, width: u16, height: u16) -> String {
    screen(&draw(app, width, height))
}
