//! The coordination room the room commands' tests share: the room of
//! incident 3f2a9c0e1b7d at the fake node's center, its eight-event log,
//! its minutes, and the fake node's driver ([`fake`]) that answers the
//! room commands and pushes what the room's home would.

use std::sync::atomic::{AtomicUsize, Ordering};

use liandong_control::{Act, LinkView, NodeStatus, Notice, Pushed, Query, Request, Response, RoomView};
use liandong_dispatch::room::{
    Attendee, Closing, Decision, Minutes, MinutesTask, Person, Presence, Room, RoomEntry, RoomLine, RoomState, RoomTask,
};
use liandong_dispatch::wire::{Category, EnvelopeId, Mode, Role, RoomAct, TargetState, Timestamp};
use liandong_node::control::Call;
use liandong_topology::{Level, Severity};
use tokio::sync::broadcast;

use super::control::{ME, id, now_ms, push};

/// The room, named by its incident.
pub const ROOM: EnvelopeId = EnvelopeId(0x3f2a_9c0e_1b7d_4a5e_8f00_1122_3344_5566);
pub const ROOM_HEX: &str = "3f2a9c0e1b7d4a5e8f00112233445566";
/// The ask the fake node answers every act with.
pub const ASK: EnvelopeId = EnvelopeId(0xa5c0_0000_0000_0000_0000_0000_0000_0001);
/// Someone else's ask, answered while the CLI waits for its own.
pub const OTHER_ASK: EnvelopeId = EnvelopeId(0xb7d0_0000_0000_0000_0000_0000_0000_0002);
/// The order the home issued for the room's task.
pub const ORDER: EnvelopeId = EnvelopeId(0x7c41_0000_0000_0000_0000_0000_0000_0001);
/// When the room opened: 2026-09-21 22:13:20 at UTC+8.
pub const T0: u64 = 1_790_000_000_000;
/// The machine's time zone for tests that check printed times: UTC+8.
pub const TZ: (&str, &str) = ("TZ", "CST-8");
/// What the home refuses.
pub const NOT_PRESENT: &str = "李娜 is not in the coordination room of incident 3f2a9c0e1b7d: enter it first";

pub fn zhang() -> Person {
    Person {
        node: id(ME),
        name: "张伟".into(),
        role: Role::Leader,
    }
}

pub fn li() -> Person {
    Person {
        node: id("350102001"),
        name: "李娜".into(),
        role: Role::Operator,
    }
}

pub fn minute(n: u64) -> Timestamp {
    Timestamp(T0 + n * 60_000)
}

pub fn task() -> RoomTask {
    RoomTask {
        seq: 4,
        order: ORDER,
        target: id("350102001"),
        instruction: "疏散周边群众".into(),
        by: zhang(),
        finish_by: Some(minute(120)),
        state: TargetState::SignedFor { by: "李娜".into() },
        at: minute(6),
    }
}

/// The room's log as the home numbered it: entry `seq` of eight.
pub fn entry(seq: u64) -> RoomEntry {
    let (by, line) = match seq {
        1 => (Some(zhang()), RoomLine::Opened),
        2 => (Some(li()), RoomLine::Entered),
        3 => (
            Some(li()),
            RoomLine::Said {
                text: "消防车已到达现场".into(),
            },
        ),
        4 => (
            Some(zhang()),
            RoomLine::Tasked {
                order: ORDER,
                target: id("350102001"),
                instruction: "疏散周边群众".into(),
                finish_by: Some(minute(120)),
            },
        ),
        5 => (
            Some(li()),
            RoomLine::Said {
                text: "现场风大".into(),
            },
        ),
        6 => (
            Some(zhang()),
            RoomLine::Decided {
                text: "转移周边三栋楼群众".into(),
            },
        ),
        7 => (
            None,
            RoomLine::TaskProgress {
                task: 4,
                target: id("350102001"),
                state: TargetState::SignedFor { by: "李娜".into() },
            },
        ),
        8 => (
            Some(zhang()),
            RoomLine::Closed {
                summary: "火情已扑灭".into(),
            },
        ),
        _ => unreachable!("the log has eight entries"),
    };
    RoomEntry {
        room: ROOM,
        seq,
        event: EnvelopeId(0xe000 + u128::from(seq)),
        ask: None,
        at: minute(seq - 1),
        by,
        line,
    }
}

/// The room after `last` events (closed after the eighth).
pub fn room(last: u64) -> Room {
    let closing = (last >= 8).then(|| Closing {
        at: minute(7),
        by: zhang(),
        summary: "火情已扑灭".into(),
    });
    Room {
        id: ROOM,
        home: id(ME),
        origin: id("350102001001"),
        title: "仓库冒烟".into(),
        severity: Severity::III,
        category: Category::Fire,
        place: "仓山区建新镇".into(),
        mode: Mode::Actual,
        opened: minute(0),
        opened_by: zhang(),
        state: if closing.is_some() {
            RoomState::Closed
        } else {
            RoomState::Open
        },
        closing,
        present: vec![
            Presence {
                person: zhang(),
                since: minute(0),
            },
            Presence {
                person: li(),
                since: minute(1),
            },
        ],
        invited: vec![id("350102-police")],
        tasks: vec![task()],
        last_seq: last,
    }
}

pub fn view(last: u64) -> RoomView {
    RoomView {
        room: room(last),
        log: (1..=last).map(entry).collect(),
    }
}

/// A second room, a drill, whose task is done.
pub fn drill() -> Room {
    let mut drill = room(2);
    drill.id = EnvelopeId(7 << 80);
    drill.title = "防汛演练".into();
    drill.mode = Mode::Exercise;
    drill.severity = Severity::IV;
    drill.home = id("350100");
    drill.present.truncate(1);
    drill.tasks[0].state = TargetState::Done { note: String::new() };
    drill
}

pub fn minutes() -> Minutes {
    Minutes {
        room: ROOM,
        title: "仓库冒烟".into(),
        severity: Severity::III,
        mode: Mode::Actual,
        home: id(ME),
        home_name: "鼓楼区综治中心".into(),
        opened: minute(0),
        opened_by: zhang(),
        closing: None,
        attendees: vec![
            Attendee {
                person: zhang(),
                node_name: "鼓楼区综治中心".into(),
                first_entered: minute(0),
            },
            Attendee {
                person: li(),
                node_name: "温泉街道".into(),
                first_entered: minute(1),
            },
        ],
        decisions: vec![Decision {
            seq: 6,
            at: minute(5),
            by: zhang(),
            text: "转移周边三栋楼群众".into(),
        }],
        tasks: vec![MinutesTask {
            task: task(),
            target_name: "温泉街道".into(),
        }],
        events: 6,
    }
}

pub fn snapshot() -> Response {
    Response::Snapshot {
        status: NodeStatus {
            node: id(ME),
            name: "鼓楼区综治中心".into(),
            level: Level::County,
            parent: Some(id("350100")),
            failed_over: false,
            links: vec![LinkView {
                peer: id("350100"),
                name: "福州市综治中心".into(),
                relation: "parent".into(),
                up: true,
                last_heard: Timestamp(now_ms()),
                rtt_ms: Some(3),
                queued: 0,
            }],
            incidents_open: 1,
            orders_open: 1,
            storage_problem: None,
            started: Timestamp(now_ms()),
            now: Timestamp(now_ms()),
            certificate: None,
            gateway: Default::default(),
        },
        incidents: Vec::new(),
        orders: Vec::new(),
        rooms: vec![room(4)],
    }
}

/// The log line the home records for `act`, taken as event `seq`.
pub fn taken(act: &RoomAct, ask: EnvelopeId, seq: u64) -> Notice {
    let line = match act.clone() {
        RoomAct::Open => RoomLine::Opened,
        RoomAct::Enter => RoomLine::Entered,
        RoomAct::Leave => RoomLine::Left,
        RoomAct::Say { text } => RoomLine::Said { text },
        RoomAct::Decide { text } => RoomLine::Decided { text },
        RoomAct::Task {
            target,
            instruction,
            finish_by,
        } => RoomLine::Tasked {
            order: ORDER,
            target,
            instruction,
            finish_by,
        },
        RoomAct::Invite { node } => RoomLine::Invited { node },
        RoomAct::Close { summary } => RoomLine::Closed { summary },
    };
    Notice::RoomChanged {
        room: room(seq.min(7)),
        entry: RoomEntry {
            ask: Some(ask),
            seq,
            by: Some(zhang()),
            line,
            ..entry(1)
        },
    }
}

/// After the answer to a call, pushes `notices` if the CLI subscribed.
pub fn then_push(pushed: &broadcast::Sender<Pushed>, notices: Vec<Notice>) {
    let tx = pushed.clone();
    tokio::spawn(async move {
        tokio::task::yield_now().await;
        if tx.receiver_count() == 0 {
            return; // --no-wait
        }
        for notice in notices {
            push(&tx, notice);
        }
    });
}

/// The fake node's driver. `watching`: after the first `Room` call, push
/// what a room following `show --watch` sees: an entry it has, the next,
/// a lag, an entry it caught up on, and one after a gap.
pub fn fake(watching: bool) -> impl Fn(&Call, &broadcast::Sender<Pushed>) -> Response + Send + 'static {
    let room_calls = AtomicUsize::new(0);
    move |call, pushed| match &call.request {
        Request::Query(Query::Subscribe) => snapshot(),
        Request::Query(Query::Rooms { closed }) => {
            let mut list = vec![room(4), drill()];
            if *closed {
                list.push(room(8));
            }
            Response::Rooms(list)
        }
        Request::Query(Query::Room { id: typed })
        | Request::Query(Query::Minutes { room: typed })
        | Request::Act(Act::RoomAct { room: typed, .. })
            if !ROOM_HEX.starts_with(&typed.0) =>
        {
            Response::Refused {
                reason: format!("no coordination room matches {:?}", typed.0),
            }
        }
        Request::Query(Query::Room { .. }) => {
            let n = room_calls.fetch_add(1, Ordering::SeqCst);
            if watching && n == 0 {
                let changed = |seq| Notice::RoomChanged {
                    room: room(seq),
                    entry: entry(seq),
                };
                then_push(
                    pushed,
                    vec![
                        changed(4),
                        changed(5),
                        Notice::Lagged { missed: 1 },
                        changed(6),
                        changed(8),
                    ],
                );
            }
            Response::Room(view(if watching { [4, 6, 8][n.min(2)] } else { 4 }))
        }
        Request::Query(Query::Minutes { .. }) => Response::Minutes(minutes()),
        Request::Act(Act::RoomAct { act, .. }) => {
            let notices = match act {
                // Nothing comes back: the CLI's wait times out.
                RoomAct::Leave => Vec::new(),
                RoomAct::Say { text } if text.contains("refuse") => vec![
                    Notice::RoomRefused {
                        room: ROOM,
                        ask: OTHER_ASK,
                        reason: "someone else's ask".into(),
                    },
                    Notice::RoomRefused {
                        room: ROOM,
                        ask: ASK,
                        reason: NOT_PRESENT.into(),
                    },
                ],
                // Another ask is taken first, as #9; this one as #10.
                RoomAct::Decide { .. } => vec![
                    taken(&RoomAct::Say { text: "收到".into() }, OTHER_ASK, 9),
                    Notice::Forwarded {
                        id: ASK,
                        to: id("350100"),
                    },
                    taken(act, ASK, 10),
                ],
                _ => vec![taken(act, ASK, 9)],
            };
            then_push(pushed, notices);
            Response::Asked {
                room: ROOM,
                ask: ASK,
                what: format!(
                    "{} in the room of incident {ROOM}: stored at {ME}, sent to its home {ME}",
                    act.name()
                ),
            }
        }
        other => Response::Refused {
            reason: format!("not in this fake: {other:?}"),
        },
    }
}
