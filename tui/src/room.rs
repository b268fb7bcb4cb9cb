//! The coordination room screen's state (综合协调室): the room the
//! operator is looking at, its log as loaded from the node, and the
//! input line with its slash commands.
//!
//! # The log
//! Opening the room screen asks the node for the room
//! ([`Request::Query(Query::Room)`](liandong_control::Request::Query(liandong_control::Query::Room))); the answer
//! is the header and the whole log as applied at the node. After it, every
//! pushed `RoomChanged` of this room is folded in by sequence number: the
//! next one is appended, one already held is ignored, and one that skips
//! a number is held back while the room is asked for again (the answer
//! and the pushes travel on different streams, so either may come first;
//! a lagged subscription may also have lost some). Entries pushed before
//! the first answer wait the same way. The log is therefore always
//! contiguous: what the node applied, in its order, with no hole.
//!
//! # Bounds
//! - The log keeps at most [`MAX_ROOM_LOG`] entries, the longest log a
//!   room can have (see `liandong_dispatch::room::MAX_ROOM_LOG`); more can
//!   only come from a misbehaving node, and then the oldest are dropped
//!   and counted in [`RoomPane::dropped`].
//! - Entries waiting for a gap to fill: at most [`MAX_PENDING`]; past it
//!   they are dropped too and the room is asked for again once the
//!   current answer is in (the answer holds them).
//! - The input line is an [`Editor`], bounded by
//!   [`editor::MAX_CHARS`](crate::editor::MAX_CHARS); the node has its
//!   own, smaller limit for room text and says so when refusing.
//!
//! # Commands
//! Plain text is a message ([`RoomAct::Say`]). A line starting with `/`
//! (or the full-width `/`) is a command, named in English or Chinese:
//! `/decide 内容`, `/task 对象 内容`, `/invite 节点`, `/close 总结`,
//! `/enter`, `/leave`, `/say 内容`. A Chinese input method types `、` for
//! the `/` key, so `、决定 …` works too (and a line starting with `、` that
//! names no command is an ordinary message). [`parse`] turns a line into
//! the act or a [`CommandError`] saying what is wrong; nothing is sent
//! for an error and the line stays for fixing. Targets are node ids or
//! unique names (or prefixes) from the topology ([`resolve`]).
//!
//! The console checks only the shape of a command. Who may decide,
//! close or invite, and which targets are below the home, the node
//! decides; it refuses with a reason, shown as a bad flash.

use std::collections::{BTreeMap, VecDeque};

use liandong_control::RoomView;
use liandong_dispatch::room::{Room, RoomEntry};
use liandong_dispatch::wire::{EnvelopeId, RoomAct};
use liandong_topology::{NodeId, Topology};

use crate::editor::Editor;
use crate::i18n::Lang;

/// Most log entries the loaded room view keeps: the longest log a room
/// can have.
pub const MAX_ROOM_LOG: usize = liandong_dispatch::room::MAX_ROOM_LOG as usize;
/// Most entries held back waiting for a gap before them to fill.
pub const MAX_PENDING: usize = 64;
/// Most candidates an ambiguous name lists in its error.
const MAX_CANDIDATES: usize = 3;

/// The room the room screen shows.
#[derive(Debug, Clone)]
pub struct RoomPane {
    /// The room, named by its incident's id.
    pub id: EnvelopeId,
    /// The header as of the newest event folded in (from the answer or a
    /// notice, whichever is further along).
    pub header: Option<Room>,
    /// The log, oldest first, contiguous in sequence numbers.
    pub log: VecDeque<RoomEntry>,
    /// Entries dropped from the front to keep [`MAX_ROOM_LOG`].
    pub dropped: u64,
    /// The first answer has been folded in.
    pub loaded: bool,
    /// A `Request::Query(Query::Room)` is out: don't ask again until it is answered.
    pub asking: bool,
    /// The node answered that it has no such room (its reason).
    pub missing: Option<String>,
    /// Entries that came ahead of the log, by sequence number.
    pending: BTreeMap<u64, RoomEntry>,
    /// Some were dropped from `pending`: ask again after the answer.
    stale: bool,
    /// The selected log entry; the view is anchored on it (at the
    /// bottom). On the last entry, new entries move it along (the tail
    /// is followed); scrolled up, it stays put.
    pub cursor: usize,
    /// The input line has the focus (else the log).
    pub typing: bool,
    pub input: Editor,
}

/// What folding one pushed entry did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fold {
    /// The next entry: appended.
    Appended,
    /// Already held (an answer covered it): ignored.
    Held,
    /// Held back: the log is not loaded yet, or numbers before it are
    /// missing. Ask for the room (again) unless an answer is awaited.
    Waiting,
}

impl RoomPane {
    pub fn new(id: EnvelopeId) -> RoomPane {
        RoomPane {
            id,
            header: None,
            log: VecDeque::new(),
            dropped: 0,
            loaded: false,
            asking: false,
            missing: None,
            pending: BTreeMap::new(),
            stale: false,
            cursor: 0,
            typing: true,
            input: Editor::single_line(),
        }
    }

    /// The sequence number of the newest entry held (0: none).
    pub fn last_seq(&self) -> u64 {
        self.log.back().map_or(0, |e| e.seq)
    }

    /// The cursor is on the newest entry (or there is none).
    pub fn at_tail(&self) -> bool {
        self.cursor + 1 >= self.log.len()
    }

    /// Entries held back, waiting for the numbers before them.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Takes a newer header; an older one (a late answer) is ignored.
    fn take_header(&mut self, room: &Room) {
        if self.header.as_ref().is_none_or(|h| room.last_seq >= h.last_seq) {
            self.header = Some(room.clone());
        }
    }

    /// Folds the node's answer in. Returns true if the room must be asked
    /// for again (entries are still missing before some held back).
    pub fn load(&mut self, view: RoomView) -> bool {
        let follow = self.at_tail() || !self.loaded;
        let RoomView { room, log } = view;
        self.take_header(&room);
        self.log.clear();
        self.dropped = 0;
        // The node sends its log in order with no gap; keep only a run
        // that is, whatever arrives.
        for entry in log {
            if self.log.is_empty() || entry.seq == self.last_seq() + 1 {
                self.push(entry);
            }
        }
        self.loaded = true;
        self.asking = false;
        self.missing = None;
        self.drain();
        let again = self.stale || !self.pending.is_empty();
        self.stale = false;
        if follow {
            self.cursor = self.log.len().saturating_sub(1);
        } else {
            self.cursor = self.cursor.min(self.log.len().saturating_sub(1));
        }
        again
    }

    /// Folds one pushed entry in, with the header that came with it.
    pub fn fold(&mut self, room: &Room, entry: &RoomEntry) -> Fold {
        self.take_header(room);
        if self.loaded && entry.seq <= self.last_seq() {
            return Fold::Held;
        }
        if self.loaded && entry.seq == self.last_seq() + 1 {
            let follow = self.at_tail();
            self.push(entry.clone());
            self.drain();
            if follow {
                self.cursor = self.log.len() - 1;
            }
            return Fold::Appended;
        }
        if self.pending.len() < MAX_PENDING {
            self.pending.insert(entry.seq, entry.clone());
        } else {
            self.stale = true;
        }
        debug_assert!(self.pending.len() <= MAX_PENDING);
        Fold::Waiting
    }

    /// Appends at the end, dropping the oldest past the bound.
    fn push(&mut self, entry: RoomEntry) {
        if self.log.len() == MAX_ROOM_LOG {
            self.log.pop_front();
            self.dropped += 1;
            self.cursor = self.cursor.saturating_sub(1);
        }
        self.log.push_back(entry);
        debug_assert!(self.log.len() <= MAX_ROOM_LOG);
    }

    /// Moves held-back entries that now follow the log onto it; drops
    /// those the log already covers.
    fn drain(&mut self) {
        let last = self.last_seq();
        self.pending.retain(|&seq, _| seq > last);
        while let Some(entry) = self.pending.remove(&(self.last_seq() + 1)) {
            let follow = self.at_tail();
            self.push(entry);
            if follow {
                self.cursor = self.log.len() - 1;
            }
        }
    }
}

/// A command line that cannot be sent, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandError {
    /// `/xyz`: no such command.
    Unknown(String),
    /// The command needs words after it (`/decide`, `/close`, `/say`) or
    /// after its target (`/task 侯官村`).
    NeedsText(Command),
    /// `/task` or `/invite` without a node.
    NeedsNode(Command),
    /// `/enter`, `/leave` take nothing after them.
    TakesNothing(Command),
    /// No node in the topology is called that.
    NoSuchNode(String),
    /// More than one node matches; some of them, as (name, id).
    Ambiguous(String, Vec<(String, NodeId)>),
}

/// The commands of the input line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Say,
    Decide,
    Task,
    Invite,
    Close,
    Enter,
    Leave,
}

impl Command {
    /// The command named `word` (English, any case, or Chinese).
    pub fn named(word: &str) -> Option<Command> {
        Some(match word.to_lowercase().as_str() {
            "say" | "发言" | "说" => Command::Say,
            "decide" | "决定" | "决策" => Command::Decide,
            "task" | "任务" => Command::Task,
            "invite" | "邀请" => Command::Invite,
            "close" | "关闭" => Command::Close,
            "enter" | "进入" => Command::Enter,
            "leave" | "离开" | "退出" => Command::Leave,
            _ => return None,
        })
    }

    /// How it is typed, in the console's language.
    pub fn typed(self, lang: Lang) -> &'static str {
        let (zh, en) = match self {
            Command::Say => ("/发言", "/say"),
            Command::Decide => ("/决定", "/decide"),
            Command::Task => ("/任务", "/task"),
            Command::Invite => ("/邀请", "/invite"),
            Command::Close => ("/关闭", "/close"),
            Command::Enter => ("/进入", "/enter"),
            Command::Leave => ("/离开", "/leave"),
        };
        if lang == Lang::Zh { zh } else { en }
    }
}

impl CommandError {
    /// The flash message, in the console's language.
    pub fn describe(&self, lang: Lang) -> String {
        let zh = lang == Lang::Zh;
        match self {
            CommandError::Unknown(word) => {
                if zh {
                    format!(
                        "没有命令 /{word}: 可用 /决定 /任务 /邀请 /关闭 /进入 /离开 /发言 (或 /decide /task /invite /close /enter /leave /say)"
                    )
                } else {
                    format!("no command /{word}: use /decide /task /invite /close /enter /leave /say")
                }
            }
            CommandError::NeedsText(c) => {
                let what = match (c, zh) {
                    (Command::Decide, true) => "决定的内容",
                    (Command::Decide, false) => "the decision",
                    (Command::Task, true) => "任务内容: /任务 对象 内容",
                    (Command::Task, false) => "the task: /task NODE TEXT",
                    (Command::Close, true) => "总结",
                    (Command::Close, false) => "a summary",
                    (_, true) => "内容",
                    (_, false) => "the words",
                };
                if zh {
                    format!("{} 后面要写{what}; 未发送", c.typed(lang))
                } else {
                    format!("{} needs {what}; nothing sent", c.typed(lang))
                }
            }
            CommandError::NeedsNode(c) => {
                if zh {
                    format!("{} 后面要写节点编号或名称; 未发送", c.typed(lang))
                } else {
                    format!("{} needs a node id or name; nothing sent", c.typed(lang))
                }
            }
            CommandError::TakesNothing(c) => {
                if zh {
                    format!("{} 后面不写内容; 未发送", c.typed(lang))
                } else {
                    format!("{} takes nothing after it; nothing sent", c.typed(lang))
                }
            }
            CommandError::NoSuchNode(name) => {
                if zh {
                    format!("拓扑中没有节点 \"{name}\"; 未发送")
                } else {
                    format!("no node \"{name}\" in the topology; nothing sent")
                }
            }
            CommandError::Ambiguous(name, some) => {
                let list = some
                    .iter()
                    .map(|(n, id)| format!("{n} ({id})"))
                    .collect::<Vec<_>>()
                    .join(", ");
                if zh {
                    format!("\"{name}\" 对应多个节点: {list}…; 请写全名称或编号; 未发送")
                } else {
                    format!("\"{name}\" matches several nodes: {list}…; give the full name or the id; nothing sent")
                }
            }
        }
    }
}

/// What a line of the input is, by its first word (for the input label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    /// A message.
    Text,
    Command(Command),
    /// A slash line naming no command.
    Unknown,
}

/// What `line` is, without looking at its arguments.
pub fn line_kind(line: &str) -> LineKind {
    match split(line) {
        None => LineKind::Text,
        Some((word, _, strict)) => match Command::named(word) {
            Some(c) => LineKind::Command(c),
            None if strict => LineKind::Unknown,
            None => LineKind::Text,
        },
    }
}

/// `(command word, the rest, strict)` for a command line: after `/` or
/// `/` (strict: an unknown word is an error) or `、` (not strict).
fn split(line: &str) -> Option<(&str, &str, bool)> {
    let line = line.trim();
    let (rest, strict) = if let Some(rest) = line.strip_prefix('/').or_else(|| line.strip_prefix('/')) {
        (rest, true)
    } else if let Some(rest) = line.strip_prefix('、') {
        (rest, false)
    } else {
        return None;
    };
    let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    Some((&rest[..end], rest[end..].trim(), strict))
}

/// The act a line of the input asks for; `Ok(None)` for a blank line.
/// Node names are looked up in `topology` (see [`resolve`]); `home` is
/// the room's home, preferred when a name is ambiguous.
pub fn parse(line: &str, topology: Option<&Topology>, home: Option<&NodeId>) -> Result<Option<RoomAct>, CommandError> {
    let text = line.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let Some((word, rest, strict)) = split(text) else {
        return Ok(Some(RoomAct::Say { text: text.to_owned() }));
    };
    let Some(command) = Command::named(word) else {
        if strict {
            return Err(CommandError::Unknown(word.to_owned()));
        }
        return Ok(Some(RoomAct::Say { text: text.to_owned() }));
    };
    let needs_text = |act: fn(String) -> RoomAct| {
        if rest.is_empty() {
            Err(CommandError::NeedsText(command))
        } else {
            Ok(Some(act(rest.to_owned())))
        }
    };
    match command {
        Command::Say => needs_text(|text| RoomAct::Say { text }),
        Command::Decide => needs_text(|text| RoomAct::Decide { text }),
        Command::Close => needs_text(|summary| RoomAct::Close { summary }),
        Command::Enter | Command::Leave if !rest.is_empty() => Err(CommandError::TakesNothing(command)),
        Command::Enter => Ok(Some(RoomAct::Enter)),
        Command::Leave => Ok(Some(RoomAct::Leave)),
        Command::Invite => {
            if rest.is_empty() {
                return Err(CommandError::NeedsNode(command));
            }
            Ok(Some(RoomAct::Invite {
                node: resolve(rest, topology, home)?,
            }))
        }
        Command::Task => {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            let (target, instruction) = (&rest[..end], rest[end..].trim());
            if target.is_empty() {
                return Err(CommandError::NeedsNode(command));
            }
            let target = resolve(target, topology, home)?;
            if instruction.is_empty() {
                return Err(CommandError::NeedsText(command));
            }
            Ok(Some(RoomAct::Task {
                target,
                instruction: instruction.to_owned(),
                finish_by: None,
            }))
        }
    }
}

/// The node `query` names: an id in the topology; else the one node whose
/// name is exactly `query`; else the one whose name or id starts with it.
/// Where several match, the one below `home` wins if it is the only one
/// there. Without a topology, a well-formed id is taken as it is (the
/// node checks it).
pub fn resolve(query: &str, topology: Option<&Topology>, home: Option<&NodeId>) -> Result<NodeId, CommandError> {
    let Some(t) = topology else {
        return NodeId::parse(query).map_err(|_| CommandError::NoSuchNode(query.to_owned()));
    };
    if let Ok(id) = NodeId::parse(query)
        && t.get(&id).is_some()
    {
        return Ok(id);
    }
    let lower = query.to_lowercase();
    let exact: Vec<_> = t.nodes().filter(|n| n.name == query).collect();
    let candidates = if exact.is_empty() {
        t.nodes()
            .filter(|n| n.name.starts_with(query) || n.id.as_str().starts_with(&lower))
            .collect()
    } else {
        exact
    };
    match candidates.as_slice() {
        [] => Err(CommandError::NoSuchNode(query.to_owned())),
        [one] => Ok(one.id.clone()),
        many => {
            let below: Vec<_> = many
                .iter()
                .filter(|n| home.is_some_and(|h| t.is_ancestor(h, &n.id)))
                .collect();
            if let [one] = below.as_slice() {
                return Ok(one.id.clone());
            }
            Err(CommandError::Ambiguous(
                query.to_owned(),
                many.iter()
                    .take(MAX_CANDIDATES)
                    .map(|n| (n.name.clone(), n.id.clone()))
                    .collect(),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use liandong_topology::{Addressing, Preset, Shape, generate};

    fn demo() -> Topology {
        generate(&Shape::Preset(Preset::Demo), Addressing::default()).expect("the demo topology")
    }

    fn id(s: &str) -> NodeId {
        NodeId::parse(s).expect("an id")
    }

    #[test]
    fn plain_text_is_a_message_and_commands_take_their_words() {
        let t = demo();
        let home = id("350100");
        let p = |s: &str| parse(s, Some(&t), Some(&home));
        assert_eq!(p("   "), Ok(None));
        assert_eq!(
            p(" 江堤东段出现管涌 "),
            Ok(Some(RoomAct::Say {
                text: "江堤东段出现管涌".into()
            }))
        );
        assert_eq!(
            p("/decide 转移群众"),
            Ok(Some(RoomAct::Decide {
                text: "转移群众".into()
            }))
        );
        // Chinese names, the full-width slash, a full-width space.
        assert_eq!(
            p("/决定\u{3000}启动 II 级响应"),
            Ok(Some(RoomAct::Decide {
                text: "启动 II 级响应".into()
            }))
        );
        assert_eq!(
            p("、任务 侯官村 组织转移 every 30 min"),
            Ok(Some(RoomAct::Task {
                target: id("350121002001"),
                instruction: "组织转移 every 30 min".into(),
                finish_by: None,
            }))
        );
        // 、 naming no command is just text.
        assert_eq!(
            p("、好的"),
            Ok(Some(RoomAct::Say {
                text: "、好的".into()
            }))
        );
        assert_eq!(p("/LEAVE"), Ok(Some(RoomAct::Leave)));
        assert_eq!(p("/进入"), Ok(Some(RoomAct::Enter)));
        assert_eq!(
            p("/say /decide is a command"),
            Ok(Some(RoomAct::Say {
                text: "/decide is a command".into()
            }))
        );
        assert_eq!(
            p("/invite 350121-police"),
            Ok(Some(RoomAct::Invite {
                node: id("350121-police")
            }))
        );
        assert_eq!(
            p("/close 险情解除"),
            Ok(Some(RoomAct::Close {
                summary: "险情解除".into()
            }))
        );
    }

    #[test]
    fn bad_commands_say_what_is_wrong() {
        let t = demo();
        let home = id("350100");
        let p = |s: &str| parse(s, Some(&t), Some(&home));
        assert_eq!(p("/foo bar"), Err(CommandError::Unknown("foo".into())));
        assert_eq!(p("/decide"), Err(CommandError::NeedsText(Command::Decide)));
        assert_eq!(p("/close  "), Err(CommandError::NeedsText(Command::Close)));
        assert_eq!(p("/task"), Err(CommandError::NeedsNode(Command::Task)));
        assert_eq!(p("/task 侯官村"), Err(CommandError::NeedsText(Command::Task)));
        assert_eq!(
            p("/task 不存在村 做事"),
            Err(CommandError::NoSuchNode("不存在村".into()))
        );
        assert_eq!(p("/leave 再见"), Err(CommandError::TakesNothing(Command::Leave)));
        assert_eq!(p("/invite"), Err(CommandError::NeedsNode(Command::Invite)));
        let Err(CommandError::Ambiguous(name, some)) = p("/task 35012100 巡堤") else {
            panic!("a prefix of many ids is ambiguous");
        };
        assert_eq!(name, "35012100");
        assert_eq!(some.len(), MAX_CANDIDATES);
        let text = CommandError::NeedsText(Command::Decide).describe(Lang::Zh);
        assert!(text.contains("/决定") && text.contains("未发送"), "{text}");
        let text = CommandError::Unknown("foo".into()).describe(Lang::En);
        assert!(text.starts_with("no command /foo"), "{text}");
    }

    #[test]
    fn names_resolve_exactly_then_by_prefix_preferring_the_home_subtree() {
        let t = demo();
        let city = id("350100");
        // Exact name.
        assert_eq!(resolve("五一社区", Some(&t), Some(&city)), Ok(id("350102001001")));
        // A unique prefix of a name.
        assert_eq!(resolve("侯官", Some(&t), Some(&city)), Ok(id("350121002001")));
        // "闽侯" starts both 闽侯县 and 闽侯公安分局: below 闽侯县 only the unit.
        let minhou = id("350121");
        assert_eq!(resolve("闽侯", Some(&t), Some(&minhou)), Ok(id("350121-police")));
        assert!(matches!(
            resolve("闽侯", Some(&t), Some(&city)),
            Err(CommandError::Ambiguous(..))
        ));
        // Without a topology an id passes as typed.
        assert_eq!(resolve("350102", None, None), Ok(id("350102")));
        assert_eq!(
            resolve("鼓楼区", None, None),
            Err(CommandError::NoSuchNode("鼓楼区".into()))
        );
    }

    #[test]
    fn the_input_label_follows_the_command_word() {
        assert_eq!(line_kind("hello"), LineKind::Text);
        assert_eq!(line_kind("/task x y"), LineKind::Command(Command::Task));
        assert_eq!(line_kind("/任"), LineKind::Unknown);
        assert_eq!(line_kind("、好"), LineKind::Text);
    }
}
