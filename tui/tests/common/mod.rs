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
//!
//! The flood has a coordination room at the city ([`flood_room`], seven
//! events: opened by the leader 陈静, 王芳 of this console and people of
//! 闽侯县, 上街镇 and the invited 闽侯公安分局 entered, 林海 reported
//! piping); [`room_story`] then brings a message, a decision, a task for
//! 侯官村 and 李四's sign-for, and [`room_refused`] a refusal from the home.

#![allow(dead_code)]

mod figures;

// Not every test file uses the safety report's fixtures.
#[allow(unused_imports)]
pub use figures::*;

use std::time::Duration;

use liandong_control::{LinkView, NodeStatus, Notice, OrderView, Pushed, RoomView};
use liandong_dispatch::room::{Person, Presence, Room, RoomEntry, RoomLine, RoomState};
use liandong_dispatch::store::{Incident, IncidentState, OrderRecord, RollUp, TargetStatus, TimelineEntry};
use liandong_dispatch::wire::{Category, EnvelopeId, Mode, Order, Report, Role, TargetState, Targets, Timestamp};
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
/// The order the flood room's task became.
pub const ROOM_ORDER: EnvelopeId = EnvelopeId(0xd4e1_5b29_f781_0000_0000_0000_0000_0008);

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
pub const MINHOU_POLICE: &str = "350121-police";

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
            photos: Vec::new(),
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
        certificate: None,
        gateway: Default::default(),
    }
}

/// The console of the city center's operator, attached and live, at
/// `NOW`, `width` x `height`.
pub fn city_app(lang: Lang, width: u16, height: u16) -> App {
    city_app_as(lang, width, height, operator(), vec![])
}

pub fn operator() -> liandong_control::Operator {
    liandong_control::Operator {
        node: id(CITY),
        name: "王芳".to_owned(),
        role: liandong_certs::Role::Operator,
    }
}

/// The city's leader on duty, 陈静.
pub fn leader() -> liandong_control::Operator {
    liandong_control::Operator {
        node: id(CITY),
        name: "陈静".to_owned(),
        role: liandong_certs::Role::Leader,
    }
}

/// [`city_app`] for another operator, with `rooms` open at the snapshot.
pub fn city_app_as(lang: Lang, width: u16, height: u16, operator: liandong_control::Operator, rooms: Vec<Room>) -> App {
    let mut app = App::new(lang, UTC8, Some(operator));
    feed(&mut app, AppEvent::Resize { width, height });
    feed(&mut app, AppEvent::Topology(Box::new(topology())));
    feed(&mut app, AppEvent::Tick(NOW));
    feed(
        &mut app,
        AppEvent::Snapshot {
            status: city_status(),
            incidents: vec![fire(), flood(), hazard(), drill()],
            orders: vec![fire_order()],
            rooms,
        },
    );
    app
}

// ------------------------------------------------------------- the room

pub fn person(node: &str, name: &str, role: Role) -> Person {
    Person {
        node: id(node),
        name: name.to_owned(),
        role,
    }
}

pub fn chen_jing() -> Person {
    person(CITY, "陈静", Role::Leader)
}

pub fn wang_fang() -> Person {
    person(CITY, "王芳", Role::Operator)
}

pub fn liu_yang() -> Person {
    person(MINHOU, "刘洋", Role::Leader)
}

/// An entry of the flood room; the ask id is made up from the number.
pub fn room_entry(seq: u64, at: Timestamp, by: Option<Person>, line: RoomLine) -> RoomEntry {
    RoomEntry {
        room: FLOOD,
        seq,
        event: EnvelopeId(0xe000 + u128::from(seq)),
        ask: by.as_ref().map(|_| EnvelopeId(0xa000 + u128::from(seq))),
        at,
        by,
        line,
    }
}

/// The flood room as its opening (entry #1) made it.
pub fn opened_flood_room(opened: &RoomEntry) -> Room {
    let by = opened.by.clone().expect("an opener");
    Room {
        id: FLOOD,
        home: id(CITY),
        origin: id(HOUGUAN),
        title: "闽江水位超警戒 0.8m".to_owned(),
        severity: Severity::II,
        category: Category::Flood,
        place: "侯官村江堤".to_owned(),
        mode: Mode::Actual,
        opened: opened.at,
        opened_by: by.clone(),
        state: RoomState::Open,
        closing: None,
        present: vec![Presence {
            person: by,
            since: opened.at,
        }],
        invited: Vec::new(),
        tasks: Vec::new(),
        last_seq: 1,
    }
}

/// The header after `entry`, as every node folds it.
pub fn fold_room(room: &Room, entry: &RoomEntry) -> Room {
    let mut r = room.clone();
    assert_eq!(entry.seq, r.last_seq + 1, "fixture entries go in order");
    r.apply(entry);
    r
}

/// The flood room's first seven events.
pub fn flood_log() -> Vec<RoomEntry> {
    let lin_hai = person(SHANGJIE, "林海", Role::Operator);
    vec![
        room_entry(1, ago(360), Some(chen_jing()), RoomLine::Opened),
        room_entry(2, ago(340), Some(wang_fang()), RoomLine::Entered),
        room_entry(3, ago(300), Some(liu_yang()), RoomLine::Entered),
        room_entry(4, ago(240), Some(lin_hai.clone()), RoomLine::Entered),
        room_entry(
            5,
            ago(180),
            Some(lin_hai),
            RoomLine::Said {
                text: "江堤东段出现管涌,已组织巡堤 piping on the east bank".to_owned(),
            },
        ),
        room_entry(
            6,
            ago(120),
            Some(chen_jing()),
            RoomLine::Invited {
                node: id(MINHOU_POLICE),
            },
        ),
        room_entry(
            7,
            ago(90),
            Some(person(MINHOU_POLICE, "周强", Role::Operator)),
            RoomLine::Entered,
        ),
    ]
}

/// Folds entries onto a header, in order.
pub fn fold_all(mut room: Room, entries: &[RoomEntry]) -> Room {
    for e in entries {
        room = fold_room(&room, e);
    }
    room
}

/// The flood room after its first seven events.
pub fn flood_room() -> Room {
    let log = flood_log();
    fold_all(opened_flood_room(&log[0]), &log[1..])
}

/// The node's answer to `Request::Query(Query::Room)` for the flood, as of seven events.
pub fn flood_room_view() -> RoomView {
    RoomView {
        room: flood_room(),
        log: flood_log(),
    }
}

/// A `RoomChanged` push for `entry`, folding it into `room` first.
pub fn room_changed(room: &mut Room, entry: RoomEntry) -> AppEvent {
    *room = fold_room(room, &entry);
    pushed(
        entry.at,
        Notice::RoomChanged {
            room: room.clone(),
            entry,
        },
    )
}

/// After the seven: 刘洋's message, 陈静's decision, a task for 侯官村
/// due in an hour, and 李四 of 侯官村 signing for it (#8 … #11).
pub fn room_story() -> Vec<AppEvent> {
    let mut room = flood_room();
    let entries = [
        room_entry(
            8,
            later(20),
            Some(liu_yang()),
            RoomLine::Said {
                text: "县防汛指挥部已启动 IV 级响应,抢险队 30 分钟到场 rescue team in 30 min".to_owned(),
            },
        ),
        room_entry(
            9,
            later(40),
            Some(chen_jing()),
            RoomLine::Decided {
                text: "立即转移侯官村沿江 126 户群众 evacuate 126 households now".to_owned(),
            },
        ),
        room_entry(
            10,
            later(60),
            Some(chen_jing()),
            RoomLine::Tasked {
                order: ROOM_ORDER,
                target: id(HOUGUAN),
                instruction: "组织沿江群众转移,每 30 分钟报告 report every 30 min".to_owned(),
                finish_by: Some(later(60 + 3600)),
            },
        ),
        room_entry(
            11,
            later(90),
            None,
            RoomLine::TaskProgress {
                task: 10,
                target: id(HOUGUAN),
                state: TargetState::SignedFor {
                    by: "李四".to_owned()
                },
            },
        ),
    ];
    entries.into_iter().map(|e| room_changed(&mut room, e)).collect()
}

/// The home refused an ask of this node.
pub fn room_refused() -> AppEvent {
    pushed(
        later(100),
        Notice::RoomRefused {
            room: FLOOD,
            ask: EnvelopeId(0xa0ff),
            reason: "王芳 is not present in the room of incident 51b70e93aa10".to_owned(),
        },
    )
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
            covered = liandong_control::text::width(symbol).saturating_sub(1);
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

/// Moves the board's cursor to `incident` and opens its detail.
pub fn open_detail(app: &mut App, incident: EnvelopeId) {
    feed(app, key('g'));
    let row = app
        .board_rows()
        .iter()
        .position(|&id| id == incident)
        .expect("the incident is on the board");
    for _ in 0..row {
        feed(app, key('j'));
    }
    feed(app, code(crossterm::event::KeyCode::Enter));
    assert_eq!(app.detail_incident(), Some(incident));
}

/// 王芳's console on the flood room's screen, the node's answer (seven
/// events) folded in.
pub fn room_screen(lang: Lang, width: u16, height: u16) -> App {
    let mut app = city_app_as(lang, width, height, operator(), vec![flood_room()]);
    open_detail(&mut app, FLOOD);
    let actions = app.handle(key('m'));
    let request = liandong_control::Request::Query(liandong_control::Query::Room {
        id: liandong_control::IdRef(format!("{:032x}", FLOOD.0)),
    });
    assert_eq!(actions, [liandong_tui::Action::Send(request.clone())]);
    feed(
        &mut app,
        AppEvent::Answer {
            request,
            response: Ok(liandong_control::Response::Room(flood_room_view())),
        },
    );
    app
}
