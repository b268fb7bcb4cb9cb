//! The slash commands of the coordination room's input line: what a
//! typed line asks the room for, or why it cannot be sent.
//!
//! Plain text is a message ([`RoomAct::Say`]). A line starting with `/`
//! (or the full-width `/`) is a command, named in English or Chinese:
//! `/decide 内容`, `/task 对象 内容`, `/invite 节点`, `/close 总结`,
//! `/enter`, `/leave`, `/say 内容`. A Chinese input method types `、` for
//! the `/` key, so `、决定 …` works too (and a line starting with `、` that
//! names no command is an ordinary message). [`parse`] turns a line into
//! the act or a [`SlashError`] saying what is wrong; nothing is sent
//! for an error and the line stays for fixing. Targets are node ids or
//! unique names (or prefixes) from the topology ([`resolve`]).
//!
//! The console checks only the shape of a command. Who may decide,
//! close or invite, and which targets are below the home, the node
//! decides; it refuses with a reason, shown as a bad flash.

use liandong_dispatch::wire::RoomAct;
use liandong_topology::{NodeId, Topology};

use crate::i18n::Lang;

/// Most candidates an ambiguous name lists in its error.
const MAX_CANDIDATES: usize = 3;

/// A slash command line that cannot be sent, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlashError {
    /// `/xyz`: no such command.
    Unknown(String),
    /// The command needs words after it (`/decide`, `/close`, `/say`) or
    /// after its target (`/task 侯官村`).
    NeedsText(SlashCommand),
    /// `/task` or `/invite` without a node.
    NeedsNode(SlashCommand),
    /// `/enter`, `/leave` take nothing after them.
    TakesNothing(SlashCommand),
    /// No node in the topology is called that.
    NoSuchNode(String),
    /// More than one node matches; some of them, as (name, id).
    Ambiguous(String, Vec<(String, NodeId)>),
}

/// The commands of the input line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlashCommand {
    Say,
    Decide,
    Task,
    Invite,
    Close,
    Enter,
    Leave,
}

impl SlashCommand {
    /// The command named `word` (English, any case, or Chinese).
    pub fn named(word: &str) -> Option<SlashCommand> {
        Some(match word.to_lowercase().as_str() {
            "say" | "发言" | "说" => SlashCommand::Say,
            "decide" | "决定" | "决策" => SlashCommand::Decide,
            "task" | "任务" => SlashCommand::Task,
            "invite" | "邀请" => SlashCommand::Invite,
            "close" | "关闭" => SlashCommand::Close,
            "enter" | "进入" => SlashCommand::Enter,
            "leave" | "离开" | "退出" => SlashCommand::Leave,
            _ => return None,
        })
    }

    /// How it is typed, in the console's language.
    pub fn typed(self, lang: Lang) -> &'static str {
        let (zh, en) = match self {
            SlashCommand::Say => ("/发言", "/say"),
            SlashCommand::Decide => ("/决定", "/decide"),
            SlashCommand::Task => ("/任务", "/task"),
            SlashCommand::Invite => ("/邀请", "/invite"),
            SlashCommand::Close => ("/关闭", "/close"),
            SlashCommand::Enter => ("/进入", "/enter"),
            SlashCommand::Leave => ("/离开", "/leave"),
        };
        if lang == Lang::Zh { zh } else { en }
    }
}

impl SlashError {
    /// The flash message, in the console's language.
    pub fn describe(&self, lang: Lang) -> String {
        let zh = lang == Lang::Zh;
        match self {
            SlashError::Unknown(word) => {
                if zh {
                    format!(
                        "没有命令 /{word}: 可用 /决定 /任务 /邀请 /关闭 /进入 /离开 /发言 (或 /decide /task /invite /close /enter /leave /say)"
                    )
                } else {
                    format!("no command /{word}: use /decide /task /invite /close /enter /leave /say")
                }
            }
            SlashError::NeedsText(c) => {
                let what = match (c, zh) {
                    (SlashCommand::Decide, true) => "决定的内容",
                    (SlashCommand::Decide, false) => "the decision",
                    (SlashCommand::Task, true) => "任务内容: /任务 对象 内容",
                    (SlashCommand::Task, false) => "the task: /task NODE TEXT",
                    (SlashCommand::Close, true) => "总结",
                    (SlashCommand::Close, false) => "a summary",
                    (_, true) => "内容",
                    (_, false) => "the words",
                };
                if zh {
                    format!("{} 后面要写{what}; 未发送", c.typed(lang))
                } else {
                    format!("{} needs {what}; nothing sent", c.typed(lang))
                }
            }
            SlashError::NeedsNode(c) => {
                if zh {
                    format!("{} 后面要写节点编号或名称; 未发送", c.typed(lang))
                } else {
                    format!("{} needs a node id or name; nothing sent", c.typed(lang))
                }
            }
            SlashError::TakesNothing(c) => {
                if zh {
                    format!("{} 后面不写内容; 未发送", c.typed(lang))
                } else {
                    format!("{} takes nothing after it; nothing sent", c.typed(lang))
                }
            }
            SlashError::NoSuchNode(name) => {
                if zh {
                    format!("拓扑中没有节点 \"{name}\"; 未发送")
                } else {
                    format!("no node \"{name}\" in the topology; nothing sent")
                }
            }
            SlashError::Ambiguous(name, some) => {
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
    Command(SlashCommand),
    /// A slash line naming no command.
    Unknown,
}

/// What `line` is, without looking at its arguments.
pub fn line_kind(line: &str) -> LineKind {
    match split(line) {
        None => LineKind::Text,
        Some((word, _, strict)) => match SlashCommand::named(word) {
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
pub fn parse(line: &str, topology: Option<&Topology>, home: Option<&NodeId>) -> Result<Option<RoomAct>, SlashError> {
    let text = line.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let Some((word, rest, strict)) = split(text) else {
        return Ok(Some(RoomAct::Say { text: text.to_owned() }));
    };
    let Some(command) = SlashCommand::named(word) else {
        if strict {
            return Err(SlashError::Unknown(word.to_owned()));
        }
        return Ok(Some(RoomAct::Say { text: text.to_owned() }));
    };
    let needs_text = |act: fn(String) -> RoomAct| {
        if rest.is_empty() {
            Err(SlashError::NeedsText(command))
        } else {
            Ok(Some(act(rest.to_owned())))
        }
    };
    match command {
        SlashCommand::Say => needs_text(|text| RoomAct::Say { text }),
        SlashCommand::Decide => needs_text(|text| RoomAct::Decide { text }),
        SlashCommand::Close => needs_text(|summary| RoomAct::Close { summary }),
        SlashCommand::Enter | SlashCommand::Leave if !rest.is_empty() => Err(SlashError::TakesNothing(command)),
        SlashCommand::Enter => Ok(Some(RoomAct::Enter)),
        SlashCommand::Leave => Ok(Some(RoomAct::Leave)),
        SlashCommand::Invite => {
            if rest.is_empty() {
                return Err(SlashError::NeedsNode(command));
            }
            Ok(Some(RoomAct::Invite {
                node: resolve(rest, topology, home)?,
            }))
        }
        SlashCommand::Task => {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            let (target, instruction) = (&rest[..end], rest[end..].trim());
            if target.is_empty() {
                return Err(SlashError::NeedsNode(command));
            }
            let target = resolve(target, topology, home)?;
            if instruction.is_empty() {
                return Err(SlashError::NeedsText(command));
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
pub fn resolve(query: &str, topology: Option<&Topology>, home: Option<&NodeId>) -> Result<NodeId, SlashError> {
    let Some(t) = topology else {
        return NodeId::parse(query).map_err(|_| SlashError::NoSuchNode(query.to_owned()));
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
        [] => Err(SlashError::NoSuchNode(query.to_owned())),
        [one] => Ok(one.id.clone()),
        many => {
            let below: Vec<_> = many
                .iter()
                .filter(|n| home.is_some_and(|h| t.is_ancestor(h, &n.id)))
                .collect();
            if let [one] = below.as_slice() {
                return Ok(one.id.clone());
            }
            Err(SlashError::Ambiguous(
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
        assert_eq!(p("/foo bar"), Err(SlashError::Unknown("foo".into())));
        assert_eq!(p("/decide"), Err(SlashError::NeedsText(SlashCommand::Decide)));
        assert_eq!(p("/close  "), Err(SlashError::NeedsText(SlashCommand::Close)));
        assert_eq!(p("/task"), Err(SlashError::NeedsNode(SlashCommand::Task)));
        assert_eq!(p("/task 侯官村"), Err(SlashError::NeedsText(SlashCommand::Task)));
        assert_eq!(p("/task 不存在村 做事"), Err(SlashError::NoSuchNode("不存在村".into())));
        assert_eq!(p("/leave 再见"), Err(SlashError::TakesNothing(SlashCommand::Leave)));
        assert_eq!(p("/invite"), Err(SlashError::NeedsNode(SlashCommand::Invite)));
        let Err(SlashError::Ambiguous(name, some)) = p("/task 35012100 巡堤") else {
            panic!("a prefix of many ids is ambiguous");
        };
        assert_eq!(name, "35012100");
        assert_eq!(some.len(), MAX_CANDIDATES);
        let text = SlashError::NeedsText(SlashCommand::Decide).describe(Lang::Zh);
        assert!(text.contains("/决定") && text.contains("未发送"), "{text}");
        let text = SlashError::Unknown("foo".into()).describe(Lang::En);
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
            Err(SlashError::Ambiguous(..))
        ));
        // Without a topology an id passes as typed.
        assert_eq!(resolve("350102", None, None), Ok(id("350102")));
        assert_eq!(
            resolve("鼓楼区", None, None),
            Err(SlashError::NoSuchNode("鼓楼区".into()))
        );
    }

    #[test]
    fn the_input_label_follows_the_command_word() {
        assert_eq!(line_kind("hello"), LineKind::Text);
        assert_eq!(line_kind("/task x y"), LineKind::Command(SlashCommand::Task));
        assert_eq!(line_kind("/任"), LineKind::Unknown);
        assert_eq!(line_kind("、好"), LineKind::Text);
    }
}
