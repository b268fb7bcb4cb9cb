//! The help overlay (`?`) and the key hints of the bottom line, both from
//! one table of every key ([`KEYS`]), so they cannot disagree.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::{DIM, TITLE, dialog, layout, put};
use crate::app::{App, Screen};
use crate::i18n::Lang;
use crate::text::fit;

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
    /// The short words the bottom line shows for it, if it is hinted.
    pub hint: Option<(&'static str, &'static str)>,
}

const fn k(
    at: Where,
    keys: &'static str,
    zh: &'static str,
    en: &'static str,
    hint: Option<(&'static str, &'static str)>,
) -> Key {
    Key { at, keys, zh, en, hint }
}

/// Every key the console knows.
pub const KEYS: &[Key] = &[
    k(None, "?  F1", "帮助(本页)", "this help", Some(("帮助", "help"))),
    k(
        None,
        "1 2 3",
        "督办看板 / 交办指令 / 链路",
        "board / orders / links",
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
    }
}

/// The bottom line: the hinted keys of this screen, then help and quit.
pub(super) fn hint_line(app: &App, screen: Option<Screen>) -> String {
    let zh = app.lang == Lang::Zh;
    let first = |keys: &str| keys.split(' ').next().unwrap_or(keys).to_owned();
    let composer = screen == Some(Screen::Composer);
    // Past editing, the composer only leaves (Esc) or confirms (y / n);
    // and q types or leaves there, it does not quit.
    let editing = app
        .composer
        .as_ref()
        .is_none_or(|c| c.stage == crate::composer::Stage::Editing);
    let parts: Vec<String> = KEYS
        .iter()
        .filter(|k| k.at.is_some() && k.at == screen && (editing || k.keys == "Esc"))
        .chain(KEYS.iter().filter(|k| k.at.is_none() && !(composer && k.keys == "q")))
        .filter_map(|k| {
            k.hint
                .map(|(z, e)| format!("{} {}", first(k.keys), if zh { z } else { e }))
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
        Screen::Orders,
        Screen::Composer,
        Screen::Links,
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
