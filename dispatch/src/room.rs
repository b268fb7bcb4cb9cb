//! Coordination rooms (综合协调室) as every node of a room knows them:
//! the room's header ([`Room`]: who is present, tasks, state), its ordered
//! log ([`RoomEntry`]), and the minutes (会议纪要) that follow from the log.
//!
//! The wire side (asks, numbered events, catch-up) is in
//! [`crate::wire::RoomBody`]; the rules (who may do what, ordering, gaps)
//! are in the core. Every node of a room applies the same events in the
//! same order, so the header, the log and the minutes are the same at
//! every node once it has caught up.

use std::fmt::Write as _;

use liandong_topology::{NodeId, Severity, Topology};
use serde::{Deserialize, Serialize};

use crate::wire::{Category, EnvelopeId, Mode, Role, TargetState, Timestamp};

/// Most events one room takes from people; past it only leaving and
/// closing are taken (a room is a meeting, not a chat log kept forever).
pub const MAX_ROOM_EVENTS: u64 = 10_000;
/// Most people present in one room at once.
pub const MAX_PRESENT: usize = 200;
/// Most tasks one room assigns.
pub const MAX_TASKS: usize = 500;
/// Longest log a room can have: what people said, then everyone present
/// leaving and the close, and task progress the system records (a task
/// moves forward at most four times: delivered, signed for, in progress,
/// done or refused).
pub const MAX_ROOM_LOG: u64 = MAX_ROOM_EVENTS + MAX_PRESENT as u64 + 1 + 4 * MAX_TASKS as u64;
/// Most nodes invited into one room.
pub const MAX_INVITED: usize = 64;
/// Most events in one history batch (also bounded in bytes, below the
/// frame limit).
pub const HISTORY_BATCH: usize = 64;
/// Most history batches sent for one catch-up request; a node still
/// behind asks again.
pub const HISTORY_BATCHES_PER_SYNC: usize = 16;

/// Someone in a room: a named operator or leader of a center.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Person {
    pub node: NodeId,
    pub name: String,
    pub role: Role,
}

impl Person {
    /// The same human: role is what they act as, not who they are.
    pub fn is(&self, node: &NodeId, name: &str) -> bool {
        self.node == *node && self.name == name
    }
}

/// One person present in a room, since when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Presence {
    pub person: Person,
    pub since: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RoomState {
    Open,
    Closed,
}

impl RoomState {
    pub fn name(self) -> &'static str {
        match self {
            RoomState::Open => "open",
            RoomState::Closed => "closed",
        }
    }
}

/// A task assigned in the room, with its target's latest state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomTask {
    /// The event that assigned it.
    pub seq: u64,
    /// The dispatch order the home issued for it.
    pub order: EnvelopeId,
    pub target: NodeId,
    pub instruction: String,
    pub by: Person,
    pub finish_by: Option<Timestamp>,
    pub state: TargetState,
    /// When `state` was reached, as the home saw it.
    pub at: Timestamp,
}

/// How a room ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Closing {
    pub at: Timestamp,
    pub by: Person,
    pub summary: String,
}

/// A room's header as this node knows it: everything but the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Room {
    /// The incident's id, which names the room.
    pub id: EnvelopeId,
    /// The owning center when the room opened: it numbers the events.
    pub home: NodeId,
    /// Where the incident was reported: the centers from here up to the
    /// home are the incident's path, whose people may enter.
    pub origin: NodeId,
    pub title: String,
    pub severity: Severity,
    pub category: Category,
    pub place: String,
    pub mode: Mode,
    pub opened: Timestamp,
    pub opened_by: Person,
    pub state: RoomState,
    pub closing: Option<Closing>,
    /// The roster, in order of entering.
    pub present: Vec<Presence>,
    /// Nodes off the path let in by the home.
    pub invited: Vec<NodeId>,
    pub tasks: Vec<RoomTask>,
    /// Events applied here, 1..=last_seq, with no gap.
    pub last_seq: u64,
}

impl Room {
    pub fn is_open(&self) -> bool {
        self.state == RoomState::Open
    }

    /// The person's presence, if they are in the room.
    pub fn presence(&self, node: &NodeId, name: &str) -> Option<&Presence> {
        self.present.iter().find(|p| p.person.is(node, name))
    }

    /// The incident's path: its origin and every center above it up to
    /// the home, lowest first.
    pub fn path(&self, topology: &Topology) -> Vec<NodeId> {
        incident_path(topology, &self.origin, &self.home)
    }

    /// Whether people of `node` may enter: the home, a center on the
    /// incident's path, or a node the home invited.
    pub fn admits(&self, topology: &Topology, node: &NodeId) -> bool {
        *node == self.home || self.invited.contains(node) || self.path(topology).contains(node)
    }

    /// Every node that gets the room's events, the home excluded.
    pub fn audience(&self, topology: &Topology) -> Vec<NodeId> {
        let mut nodes = self.path(topology);
        nodes.extend(self.invited.iter().cloned());
        nodes.retain(|n| *n != self.home);
        nodes.sort();
        nodes.dedup();
        nodes
    }

    /// The header after `entry`, the next event of the room: who is
    /// present, tasks and their states, invitations, closing. The one
    /// place a log line changes a header.
    pub fn apply(&mut self, entry: &RoomEntry) {
        self.last_seq = entry.seq;
        match (&entry.line, &entry.by) {
            (RoomLine::Entered, Some(p)) if self.presence(&p.node, &p.name).is_none() => {
                self.present.push(Presence {
                    person: p.clone(),
                    since: entry.at,
                });
            }
            (RoomLine::Left, Some(p)) => self.present.retain(|x| !x.person.is(&p.node, &p.name)),
            (
                RoomLine::Tasked {
                    order,
                    target,
                    instruction,
                    finish_by,
                },
                Some(p),
            ) => self.tasks.push(RoomTask {
                seq: entry.seq,
                order: *order,
                target: target.clone(),
                instruction: instruction.clone(),
                by: p.clone(),
                finish_by: *finish_by,
                state: TargetState::Pending,
                at: entry.at,
            }),
            (RoomLine::Invited { node }, _) if !self.invited.contains(node) => self.invited.push(node.clone()),
            (RoomLine::TaskProgress { task, state, .. }, _) => {
                // Acks that arrive out of order never move a task back.
                if let Some(t) = self.tasks.iter_mut().find(|t| t.seq == *task)
                    && state.rank() > t.state.rank()
                {
                    t.state = state.clone();
                    t.at = entry.at;
                }
            }
            (RoomLine::Closed { summary }, Some(p)) => {
                self.state = RoomState::Closed;
                self.closing = Some(Closing {
                    at: entry.at,
                    by: p.clone(),
                    summary: summary.clone(),
                });
                self.present.clear();
            }
            _ => {}
        }
    }

    /// Tasks whose target has not finished or refused.
    pub fn open_tasks(&self) -> impl Iterator<Item = &RoomTask> {
        self.tasks.iter().filter(|t| !t.state.is_final())
    }
}

/// `origin` and every node above it up to and including `home`, lowest
/// first (the whole chain to the root if `home` is not above `origin`).
pub fn incident_path(topology: &Topology, origin: &NodeId, home: &NodeId) -> Vec<NodeId> {
    let mut path = vec![origin.clone()];
    if origin == home {
        return path;
    }
    for n in topology.ancestors(origin) {
        path.push(n.id.clone());
        if n.id == *home {
            break;
        }
    }
    path
}

/// The name rooms record for what the system does by itself (a room
/// opened by policy, task progress).
pub const SYSTEM: &str = "system";

/// Largest history batch in bytes: well under the frame limit, so a batch
/// with its routing data always fits in one frame.
pub const HISTORY_BYTES: usize = crate::codec::MAX_FRAME / 2;

/// One line of a room's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomEntry {
    pub room: EnvelopeId,
    pub seq: u64,
    /// The home's signed event envelope (kept for catch-up).
    pub event: EnvelopeId,
    /// The ask it answers, as the asking node numbered it; `None` for what
    /// the system records. Lets the asker follow its own ask.
    pub ask: Option<EnvelopeId>,
    /// When the home took it.
    pub at: Timestamp,
    /// Who did it; `None` for what the system records (task progress).
    pub by: Option<Person>,
    pub line: RoomLine,
}

/// What happened, in the log's words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RoomLine {
    Opened,
    Entered,
    Left,
    Said {
        text: String,
    },
    Decided {
        text: String,
    },
    Tasked {
        order: EnvelopeId,
        target: NodeId,
        instruction: String,
        finish_by: Option<Timestamp>,
    },
    Invited {
        node: NodeId,
    },
    TaskProgress {
        task: u64,
        target: NodeId,
        state: TargetState,
    },
    Closed {
        summary: String,
    },
}

impl RoomLine {
    /// The word for logs, the audit trail and the UI.
    pub fn name(&self) -> &'static str {
        match self {
            RoomLine::Opened => "opened",
            RoomLine::Entered => "entered",
            RoomLine::Left => "left",
            RoomLine::Said { .. } => "said",
            RoomLine::Decided { .. } => "decided",
            RoomLine::Tasked { .. } => "tasked",
            RoomLine::Invited { .. } => "invited",
            RoomLine::TaskProgress { .. } => "task progress",
            RoomLine::Closed { .. } => "closed",
        }
    }
}

impl RoomEntry {
    /// One line for logs and the audit trail: "#3 王芳 (350100, leader) decided: 转移群众".
    pub fn summary(&self) -> String {
        let who = self.by.as_ref().map_or_else(
            || "system".to_owned(),
            |p| format!("{} ({}, {})", p.name, p.node, p.role.name()),
        );
        let what = match &self.line {
            RoomLine::Opened => "opened the room".to_owned(),
            RoomLine::Entered => "entered".to_owned(),
            RoomLine::Left => "left".to_owned(),
            RoomLine::Said { text } => format!("said: {text}"),
            RoomLine::Decided { text } => format!("decided: {text}"),
            RoomLine::Tasked {
                order,
                target,
                instruction,
                ..
            } => format!("tasked {target} (order {order}): {instruction}"),
            RoomLine::Invited { node } => format!("invited {node}"),
            RoomLine::TaskProgress { task, target, state } => {
                format!("task #{task} at {target}: {}", state.name())
            }
            RoomLine::Closed { summary } => format!("closed the room: {summary}"),
        };
        format!("#{} {who} {what}", self.seq)
    }
}

/// The minutes of a room (会议纪要): who took part, what was decided, and
/// the responsibility list (责任清单) of tasks with their states. The same
/// at every node of the room, because it follows from the ordered log.
/// Before the room closes they are a draft.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Minutes {
    pub room: EnvelopeId,
    pub title: String,
    pub severity: Severity,
    pub mode: Mode,
    pub home: NodeId,
    pub home_name: String,
    pub opened: Timestamp,
    pub opened_by: Person,
    /// `None` while the room is open: the minutes are a draft.
    pub closing: Option<Closing>,
    /// Everyone who entered, in order of first entering.
    pub attendees: Vec<Attendee>,
    pub decisions: Vec<Decision>,
    pub tasks: Vec<MinutesTask>,
    pub events: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attendee {
    pub person: Person,
    pub node_name: String,
    pub first_entered: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub seq: u64,
    pub at: Timestamp,
    pub by: Person,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MinutesTask {
    pub task: RoomTask,
    pub target_name: String,
}

impl Minutes {
    /// The minutes of `room` from its log (entries in sequence order).
    pub fn of<'a>(room: &Room, log: impl IntoIterator<Item = &'a RoomEntry>, topology: &Topology) -> Minutes {
        let name = |n: &NodeId| topology.get(n).map_or_else(|| n.to_string(), |n| n.name.clone());
        let mut attendees: Vec<Attendee> = Vec::new();
        let mut decisions = Vec::new();
        for entry in log {
            let Some(by) = &entry.by else { continue };
            match &entry.line {
                RoomLine::Opened | RoomLine::Entered
                    if by.name != SYSTEM && !attendees.iter().any(|a| a.person.is(&by.node, &by.name)) =>
                {
                    attendees.push(Attendee {
                        person: by.clone(),
                        node_name: name(&by.node),
                        first_entered: entry.at,
                    });
                }
                RoomLine::Decided { text } => decisions.push(Decision {
                    seq: entry.seq,
                    at: entry.at,
                    by: by.clone(),
                    text: text.clone(),
                }),
                _ => {}
            }
        }
        Minutes {
            room: room.id,
            title: room.title.clone(),
            severity: room.severity,
            mode: room.mode,
            home: room.home.clone(),
            home_name: name(&room.home),
            opened: room.opened,
            opened_by: room.opened_by.clone(),
            closing: room.closing.clone(),
            attendees,
            decisions,
            tasks: room
                .tasks
                .iter()
                .map(|t| MinutesTask {
                    task: t.clone(),
                    target_name: name(&t.target),
                })
                .collect(),
            events: room.last_seq,
        }
    }

    /// The minutes as Markdown, headings in Chinese and English. `time`
    /// formats a timestamp (the caller knows the reader's time zone).
    pub fn to_markdown(&self, time: impl Fn(Timestamp) -> String) -> String {
        let mut md = String::new();
        let draft = if self.closing.is_none() { " (草稿 draft)" } else { "" };
        let _ = writeln!(md, "# 会议纪要 Minutes{draft}: {}", self.title);
        let _ = writeln!(md);
        let _ = writeln!(
            md,
            "- 事件 Incident: `{}` ({}, {})",
            self.room,
            self.severity,
            self.mode.name()
        );
        let _ = writeln!(md, "- 协调室 Room home: {} ({})", self.home_name, self.home);
        let _ = writeln!(
            md,
            "- 开启 Opened: {} by {} ({})",
            time(self.opened),
            self.opened_by.name,
            self.opened_by.node
        );
        match &self.closing {
            Some(c) => {
                let _ = writeln!(md, "- 关闭 Closed: {} by {} ({})", time(c.at), c.by.name, c.by.node);
                let _ = writeln!(md, "- 总结 Summary: {}", c.summary);
            }
            None => {
                let _ = writeln!(md, "- 状态 State: open");
            }
        }
        let _ = writeln!(md, "- 事件数 Events: {}", self.events);
        let _ = writeln!(md);
        let _ = writeln!(md, "## 参会人员 Attendees");
        let _ = writeln!(md);
        for a in &self.attendees {
            let _ = writeln!(
                md,
                "- {} ({}, {} {}) from {}",
                a.person.name,
                a.person.role.name(),
                a.node_name,
                a.person.node,
                time(a.first_entered)
            );
        }
        let _ = writeln!(md);
        let _ = writeln!(md, "## 决定事项 Decisions");
        let _ = writeln!(md);
        if self.decisions.is_empty() {
            let _ = writeln!(md, "(none)");
        }
        for (i, d) in self.decisions.iter().enumerate() {
            let _ = writeln!(
                md,
                "{}. {} ({} {}, #{}, {})",
                i + 1,
                d.text,
                d.by.name,
                d.by.node,
                d.seq,
                time(d.at)
            );
        }
        let _ = writeln!(md);
        let _ = writeln!(md, "## 责任清单 Tasks");
        let _ = writeln!(md);
        if self.tasks.is_empty() {
            let _ = writeln!(md, "(none)");
        } else {
            let _ = writeln!(md, "| # | 责任单位 Target | 任务 Task | 期限 Due | 状态 State |");
            let _ = writeln!(md, "| --- | --- | --- | --- | --- |");
            for t in &self.tasks {
                let due = t.task.finish_by.map_or_else(|| "-".to_owned(), &time);
                let _ = writeln!(
                    md,
                    "| {} | {} ({}) | {} | {} | {} |",
                    t.task.seq,
                    t.target_name,
                    t.task.target,
                    t.task.instruction.replace('|', "\\|"),
                    due,
                    state_words(&t.task.state)
                );
            }
        }
        md
    }
}

/// A target state with what came with it ("signed for by 李四").
pub fn state_words(state: &TargetState) -> String {
    match state {
        TargetState::SignedFor { by } if !by.is_empty() => format!("signed for by {by}"),
        TargetState::InProgress { note } | TargetState::Done { note } if !note.is_empty() => {
            format!("{}: {note}", state.name())
        }
        TargetState::Refused { reason } => format!("refused: {reason}"),
        other => other.name().to_owned(),
    }
}
