//! The help overlay (`?`) and the key hints of the bottom line, both from
//! one table of every key ([`KEYS`]), so they cannot disagree.
//!
//! The overlay lists every key. The bottom line hints a screen's keys,
//! leaving out those whose [`When`] does not hold now (the room keys of
//! an incident without a room, leaders' commands for an operator): a
//! hint only. The keys themselves work either way, and the node decides.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::paint::{DIM, TITLE, dialog, put};
use crate::app::App;
use crate::i18n::Lang;
use crate::layout;
use crate::screen::Screen;
use liandong_control::text::fit;

/// Where a key works: everywhere (`None`) or on one screen.
type Where = Option<Screen>;

/// One key of the console.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    /// Everywhere (`None`) or on one screen.
    pub at: Where,
    pub keys: &'static str,
    /// What it does, in Chinese and in English.
    pub zh: &'static str,
    pub en: &'static str,
    /// The short words the bottom line shows for it, if it is hinted (a
    /// room command, `/task /任务`, shows only its name there).
    pub hint: Option<(&'static str, &'static str)>,
    /// When the bottom line hints it.
    pub when: When,
}

/// When a key is hinted on the bottom line (it works regardless). The
/// room is the one the screen is about: the detail's incident's, or the
/// room screen's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    Always,
    /// This node knows a room for it.
    RoomKnown,
    /// No room known, and the operator is a leader at the incident's
    /// owner (who may open one).
    RoomOpenable,
    /// The room is open and the operator is not present.
    NotPresent,
    /// The operator is present.
    Present,
    /// The operator is a leader.
    Leader,
    /// This node is the room's home.
    AtHome,
    /// A leader at the room's home.
    LeaderAtHome,
}

const fn k(
    at: Where,
    keys: &'static str,
    zh: &'static str,
    en: &'static str,
    hint: Option<(&'static str, &'static str)>,
) -> Key {
    Key {
        at,
        keys,
        zh,
        en,
        hint,
        when: When::Always,
    }
}

/// A key hinted only when `when` holds.
const fn kw(
    at: Where,
    keys: &'static str,
    zh: &'static str,
    en: &'static str,
    hint: (&'static str, &'static str),
    when: When,
) -> Key {
    Key {
        at,
        keys,
        zh,
        en,
        hint: Some(hint),
        when,
    }
}

/// True if the bottom line should hint a key with `when` now.
fn holds(app: &App, when: When) -> bool {
    let room = app.room_in_view().and_then(|id| app.room_header(id));
    let me = app.model.me();
    let at_home = room.is_some_and(|r| Some(&r.home) == me);
    match when {
        When::Always => true,
        When::RoomKnown => room.is_some(),
        When::RoomOpenable => {
            room.is_none()
                && app.is_leader()
                && app
                    .detail
                    .and_then(|id| app.model.incidents.get(&id))
                    .is_some_and(|i| Some(&i.owner) == me && i.state.is_open())
        }
        When::NotPresent => room.is_some_and(|r| r.is_open() && !app.present_in(r)),
        When::Present => room.is_some_and(|r| app.present_in(r)),
        When::Leader => app.is_leader(),
        When::AtHome => at_home,
        When::LeaderAtHome => at_home && app.is_leader(),
    }
}

/// Every key the console knows.
pub const KEYS: &[Key] = &[
    k(None, "?  F1", "帮助(本页)", "this help", Some(("帮助", "help"))),
    k(
        None,
        "1 2 3 4",
        "督办看板 / 交办指令 / 链路 / 平安报表",
        "board / orders / links / safety report",
        None,
    ),
    k(
        None,
        "Space",
        "确认最早的告警并选中其事件",
        "acknowledge the oldest alarm, select its incident",
        None,
    ),
    k(None, "A", "确认全部告警", "acknowledge every alarm", None),
    k(
        None,
        "q",
        "退出(输入时除外)",
        "quit (except while typing)",
        Some(("退出", "quit")),
    ),
    k(None, "Ctrl-C", "退出", "quit", None),
    k(None, "↑↓ jk", "上下移动", "move up and down", None),
    k(None, "PgUp PgDn g G", "翻页 / 首行 / 末行", "page / first / last", None),
    k(None, "Tab", "切换窗格", "switch panes", None),
    k(None, "Esc", "返回 / 取消", "back / cancel", None),
    k(
        None,
        "鼠标 mouse",
        "单击选择,再击打开;滚轮移动",
        "click selects, click again opens; wheel moves",
        None,
    ),
    k(
        Some(Screen::Board),
        "Enter l →",
        "打开事件详情",
        "open the incident",
        Some(("详情", "open")),
    ),
    k(
        Some(Screen::Board),
        "a",
        "受理所选事件",
        "accept the selected incident",
        Some(("受理", "accept")),
    ),
    k(
        Some(Screen::Board),
        "n",
        "新建交办",
        "new order",
        Some(("交办", "order")),
    ),
    k(
        Some(Screen::Board),
        "/",
        "搜索(标题、地点、来源、编号)",
        "search title, place, origin, id",
        Some(("搜索", "search")),
    ),
    k(
        Some(Screen::Board),
        "s",
        "按级别筛选(一般以上 … 特别重大)",
        "filter by severity (IV and up … I)",
        Some(("级别", "severity")),
    ),
    k(
        Some(Screen::Board),
        "t",
        "按状态筛选",
        "filter by state",
        Some(("状态", "state")),
    ),
    k(
        Some(Screen::Board),
        "e",
        "实战 / 演练 / 全部",
        "actual / exercise / all",
        Some(("演练", "drills")),
    ),
    k(Some(Screen::Board), "c Esc", "清除筛选", "clear filters", None),
    k(Some(Screen::Detail), "a", "受理", "accept", Some(("受理", "accept"))),
    k(
        Some(Screen::Detail),
        "e",
        "上报上级(填写原因)",
        "escalate (with a reason)",
        Some(("上报", "escalate")),
    ),
    k(
        Some(Screen::Detail),
        "d",
        "就此事件交办",
        "dispatch an order for it",
        Some(("交办", "dispatch")),
    ),
    k(Some(Screen::Detail), "n", "备注", "add a note", Some(("备注", "note"))),
    k(Some(Screen::Detail), "f", "反馈进展", "feedback", None),
    k(
        Some(Screen::Detail),
        "r",
        "办结(填写情况)",
        "resolve (with a summary)",
        Some(("办结", "resolve")),
    ),
    k(
        Some(Screen::Detail),
        "v b",
        "核查通过 / 退回",
        "verify / send back",
        Some(("核查", "verify")),
    ),
    k(Some(Screen::Detail), "c", "结案", "close", Some(("结案", "close"))),
    k(Some(Screen::Detail), "x", "撤销", "cancel", None),
    k(
        Some(Screen::Detail),
        "s",
        "签收所选指令(指令窗格)",
        "sign for the selected order (orders pane)",
        None,
    ),
    k(Some(Screen::Detail), "Esc h ←", "返回", "back", Some(("返回", "back"))),
    kw(
        Some(Screen::Detail),
        "m",
        "查看协调室(综合协调室)",
        "view the coordination room",
        ("协调室", "room"),
        When::RoomKnown,
    ),
    kw(
        Some(Screen::Detail),
        "M",
        "开启协调室(责任中心的领导)",
        "open a coordination room (leaders at the owner)",
        ("开启协调室", "open room"),
        When::RoomOpenable,
    ),
    kw(
        Some(Screen::Detail),
        "i",
        "进入协调室并查看",
        "enter the room and view it",
        ("进入", "enter"),
        When::NotPresent,
    ),
    kw(
        Some(Screen::Detail),
        "o",
        "退出协调室",
        "leave the room",
        ("退出", "leave"),
        When::Present,
    ),
    k(
        Some(Screen::Orders),
        "s",
        "签收",
        "sign for",
        Some(("签收", "sign for")),
    ),
    k(
        Some(Screen::Orders),
        "f",
        "报告完成",
        "report done",
        Some(("完成", "done")),
    ),
    k(
        Some(Screen::Orders),
        "x",
        "拒收(填写原因)",
        "refuse (with a reason)",
        Some(("拒收", "refuse")),
    ),
    k(
        Some(Screen::Orders),
        "Enter",
        "查看关联事件",
        "open its incident",
        Some(("事件", "incident")),
    ),
    k(
        Some(Screen::Orders),
        "Tab",
        "指令 / 对象窗格",
        "orders / targets pane",
        Some(("窗格", "pane")),
    ),
    k(
        Some(Screen::Composer),
        "Tab S-Tab",
        "下一项 / 上一项",
        "next / previous field",
        Some(("下一项", "next")),
    ),
    k(
        Some(Screen::Composer),
        "Space",
        "选择 / 取消节点",
        "mark / unmark a node",
        Some(("选择", "mark")),
    ),
    k(
        Some(Screen::Composer),
        "t",
        "选择整个辖区",
        "pick the whole area below",
        Some(("辖区", "area")),
    ),
    k(
        Some(Screen::Composer),
        "l",
        "辖区层级筛选",
        "level filter for the area",
        Some(("层级", "level")),
    ),
    k(
        Some(Screen::Composer),
        "← → h l",
        "改变级别、时限、模式",
        "change severity, deadline, mode",
        None,
    ),
    k(
        Some(Screen::Composer),
        "Enter",
        "指令内容中换行;在发送上确认",
        "new line in the text; on Send: confirm",
        None,
    ),
    k(
        Some(Screen::Composer),
        "Ctrl-S",
        "发送(先确认)",
        "send (asks to confirm)",
        Some(("发送", "send")),
    ),
    k(
        Some(Screen::Composer),
        "y n",
        "确认发送 / 返回修改",
        "confirm / back to editing",
        None,
    ),
    k(Some(Screen::Composer), "Esc", "离开", "leave", Some(("离开", "leave"))),
    k(
        Some(Screen::Room),
        "Enter",
        "发送:文字为发言,/ 开头为命令",
        "send: text is a message, / starts a command",
        Some(("发送", "send")),
    ),
    kw(
        Some(Screen::Room),
        "/decide /决定",
        "记录决定(领导): /决定 内容",
        "record a decision (leaders): /decide TEXT",
        ("决定", "decide"),
        When::Leader,
    ),
    kw(
        Some(Screen::Room),
        "/task /任务",
        "分派任务: /任务 对象 内容 (编号或名称)",
        "assign a task: /task NODE TEXT (id or name)",
        ("任务", "task"),
        When::Present,
    ),
    kw(
        Some(Screen::Room),
        "/invite /邀请",
        "邀请节点(本室所在中心): /邀请 节点",
        "invite a node (at the home): /invite NODE",
        ("邀请", "invite"),
        When::AtHome,
    ),
    kw(
        Some(Screen::Room),
        "/close /关闭",
        "关闭并写总结(所在中心领导): /关闭 总结",
        "close with a summary (leaders at the home)",
        ("关闭", "close"),
        When::LeaderAtHome,
    ),
    kw(
        Some(Screen::Room),
        "/enter /进入",
        "进入协调室",
        "enter the room",
        ("进入", "enter"),
        When::NotPresent,
    ),
    kw(
        Some(Screen::Room),
        "/leave /离开",
        "离开协调室",
        "leave the room",
        ("离开", "leave"),
        When::Present,
    ),
    k(
        Some(Screen::Room),
        "/say /发言",
        "发言(写以 / 开头的文字时)",
        "a message (for text that starts with /)",
        None,
    ),
    k(
        Some(Screen::Room),
        "Tab",
        "输入行 / 记录",
        "input line / log",
        Some(("记录", "log")),
    ),
    k(
        Some(Screen::Room),
        "↑↓ PgUp PgDn",
        "滚动记录(输入时也可)",
        "scroll the log (while typing too)",
        None,
    ),
    k(
        Some(Screen::Room),
        "Esc",
        "返回事件详情",
        "back to the incident",
        Some(("返回", "back")),
    ),
    k(
        Some(Screen::Report),
        "d",
        "本日 / 本月",
        "the day / the month",
        Some(("日/月", "day/month")),
    ),
    k(
        Some(Screen::Report),
        "[]",
        "上一期 / 下一期(不超过今天)",
        "the period before / after (up to today)",
        Some(("上期/下期", "before/after")),
    ),
    k(
        Some(Screen::Report),
        "r",
        "重新查询报表",
        "ask for the figures again",
        Some(("刷新", "refresh")),
    ),
    k(
        Some(Screen::Report),
        "Esc",
        "回到看板",
        "back to the board",
        Some(("看板", "board")),
    ),
    k(
        Some(Screen::Links),
        "r",
        "刷新链路状态",
        "refresh link status",
        Some(("刷新", "refresh")),
    ),
    k(
        Some(Screen::Links),
        "Esc",
        "回到看板",
        "back to the board",
        Some(("看板", "board")),
    ),
];

fn section_name(lang: Lang, w: Where) -> &'static str {
    let words = lang.words();
    match w {
        None => words.help_global,
        Some(Screen::Board) => words.board,
        Some(Screen::Detail) => words.detail,
        Some(Screen::Orders) => words.orders,
        Some(Screen::Composer) => words.composer,
        Some(Screen::Links) => words.links,
        Some(Screen::Room) => words.room,
        Some(Screen::Report) => lang.report().title,
    }
}

/// The bottom line: the hinted keys of this screen, then help and quit.
pub(super) fn hint_line(app: &App, screen: Option<Screen>) -> String {
    let zh = app.lang == Lang::Zh;
    let first = |keys: &str| keys.split(' ').next().unwrap_or(keys).to_owned();
    let composer = screen == Some(Screen::Composer);
    // Typing on the room's input line: `?` and `q` are text there, F1
    // still opens the help.
    let room_typing = screen == Some(Screen::Room) && app.typing();
    // Past editing, the composer only leaves (Esc) or confirms (y / n);
    // and q types or leaves there, it does not quit.
    let editing = app
        .composer
        .as_ref()
        .is_none_or(|c| c.stage == crate::composer::Stage::Editing);
    let parts: Vec<String> = KEYS
        .iter()
        .filter(|k| k.at.is_some() && k.at == screen && (editing || k.keys == "Esc"))
        .filter(|k| holds(app, k.when))
        .chain(
            KEYS.iter()
                .filter(|k| k.at.is_none() && !((composer || room_typing) && k.keys == "q")),
        )
        .filter_map(|k| {
            let (z, e) = k.hint?;
            if k.at == Some(Screen::Room) && k.keys.starts_with('/') {
                // A room command says what it does: its name alone, in
                // the console's language ("/task /任务").
                let mut names = k.keys.split(' ');
                let en = names.next().unwrap_or(k.keys);
                return Some(if zh { names.next().unwrap_or(en) } else { en }.to_owned());
            }
            let keys = if room_typing && k.keys.starts_with('?') {
                "F1".to_owned()
            } else {
                first(k.keys)
            };
            Some(format!("{keys} {}", if zh { z } else { e }))
        })
        .collect();
    format!(" {}", parts.join("  "))
}

/// The overlay's lines: every section, the current screen's first after
/// the keys that work everywhere.
fn lines(app: &App) -> Vec<Line<'static>> {
    let zh = app.lang == Lang::Zh;
    let current = app.screen;
    let mut sections = vec![None, Some(current)];
    for s in [
        Screen::Board,
        Screen::Detail,
        Screen::Room,
        Screen::Orders,
        Screen::Composer,
        Screen::Links,
        Screen::Report,
    ] {
        if s != current {
            sections.push(Some(s));
        }
    }
    let mut lines: Vec<Line> = Vec::new();
    for s in sections {
        lines.push(Line::styled(section_name(app.lang, s), TITLE));
        for key in KEYS.iter().filter(|k| k.at == s) {
            lines.push(Line::from(vec![
                Span::styled(format!("  {} ", fit(key.keys, 14)), TITLE),
                Span::raw(if zh { key.zh } else { key.en }),
            ]));
        }
    }
    lines
}

pub(super) fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let zh = app.lang == Lang::Zh;
    let lines = lines(app);
    // Two columns when that fits everything; else one that scrolls.
    let col_w = 72u16;
    let two = area.width >= col_w * 2 + 3 && usize::from(area.height) < lines.len() + 3;
    let rows = if two { lines.len().div_ceil(2) } else { lines.len() };
    let box_w = if two { col_w * 2 + 3 } else { col_w + 2 };
    let r = layout::centered(area, box_w, rows as u16 + 3);
    let inner = dialog(app.lang.words().help, r, buf);
    let height = usize::from(inner.height.saturating_sub(1));
    let skip = if two {
        0
    } else {
        app.help_scroll.min(lines.len().saturating_sub(height))
    };
    for (i, line) in lines.into_iter().enumerate().skip(skip) {
        let (col, y) = if two && i >= rows { (1, i - rows) } else { (0, i - skip) };
        if y >= height {
            continue;
        }
        put(
            line,
            Rect {
                x: inner.x + col * (col_w + 1),
                y: inner.y + y as u16,
                width: col_w.min(inner.width),
                height: 1,
            },
            buf,
        );
    }
    let more = !two && skip + height < rows;
    let footer = match (zh, more) {
        (true, true) => "↓ j 更多   Esc 或 ? 关闭",
        (true, false) => "Esc 或 ? 关闭",
        (false, true) => "↓ j more   Esc or ? closes",
        (false, false) => "Esc or ? closes",
    };
    put(
        Line::styled(footer, DIM),
        Rect {
            y: inner.y + inner.height.saturating_sub(1),
            height: 1,
            ..inner
        },
        buf,
    );
}
