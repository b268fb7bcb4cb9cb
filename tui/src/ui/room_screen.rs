//! The coordination room (综合协调室): the header (title, severity, home,
//! state, mode), who is present, the open tasks with their
//! acknowledgement state, the ordered log, and the input line.
//!
//! The log is drawn newest at the bottom, anchored on its selected entry
//! (the newest unless the operator scrolled up): entries are wrapped to
//! the pane's width and laid out upward from it, then downward if the
//! top of the log is reached first. Only the entries that show are
//! wrapped, so a long log costs what a screenful does.
//!
//! Decisions stand out (bold yellow, 【决定】); task progress reads as
//! "任务#10 侯官村: 已签收 (李四)"; comings and goings are dim.

use std::collections::VecDeque;

use liandong_dispatch::room::{Room, RoomEntry, RoomLine, SYSTEM};
use liandong_dispatch::wire::{Mode, TargetState};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

use super::paint::{BAD, DIM, GOOD, SELECTED, TITLE, due_span, editor_line, put, severity_style};
use crate::app::App;
use crate::i18n::Lang;
use crate::layout::{self, row};
use crate::room_pane::RoomPane;
use crate::slash::{LineKind, SlashCommand, line_kind};
use liandong_control::text::{self, fit, truncate, width, wrap};

/// A decision in the log.
const DECISION: Style = Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD);
/// A task assigned in the log.
const TASK: Style = Style::new().fg(Color::LightCyan);

pub(super) fn render(app: &App, body: Rect, buf: &mut Buffer) {
    let w = app.lang.words();
    let Some(pane) = app.room.as_ref() else {
        put(Line::styled(w.no_room, BAD), body, buf);
        return;
    };
    let header = app.room_header(pane.id);
    let (roster_rows, task_rows) = app.room_rows();
    let areas = layout::room(body, roster_rows, task_rows);
    header_line(app, pane, header, areas.header, buf);
    if let Some(r) = header {
        roster(app, r, &areas, buf);
        tasks(app, r, &areas, buf);
    }
    log(app, pane, &areas, buf);
    input(app, pane, header, areas.input, buf);
}

fn header_line(app: &App, pane: &RoomPane, header: Option<&Room>, area: Rect, buf: &mut Buffer) {
    let w = app.lang.words();
    let l = app.lang;
    let zh = l == Lang::Zh;
    let Some(r) = header else {
        let mut spans = Vec::new();
        if let Some(i) = app.model.incidents.get(&pane.id) {
            let sev = i.report.severity;
            spans.push(Span::styled(format!("[{}] ", l.severity(sev)), severity_style(sev)));
            spans.push(Span::styled(i.report.title.clone(), TITLE));
            spans.push(Span::raw("  · "));
        }
        spans.push(Span::raw(format!("{} #{}", w.room, pane.id)));
        put(Line::from(spans), area, buf);
        return;
    };
    let home = app.model.name(&r.home);
    let mut spans = vec![
        Span::styled(format!("[{}] ", l.severity(r.severity)), severity_style(r.severity)),
        Span::styled(r.title.clone(), TITLE),
        Span::raw(if zh {
            format!("  · {} {home} · ", w.room)
        } else {
            format!("  · room at {home} · ")
        }),
        state_span(l, r),
    ];
    if r.mode == Mode::Exercise {
        spans.push(Span::raw(" · "));
        spans.push(Span::styled(w.exercise_mark, BAD));
    }
    let when = |t| text::date_time(t, app.utc_offset);
    let opener = person_name(app, &r.opened_by.name);
    spans.push(Span::styled(
        if zh {
            format!(" · {} {opener} 开启", when(r.opened))
        } else {
            format!(" · opened {} by {opener}", when(r.opened))
        },
        DIM,
    ));
    if let Some(c) = &r.closing {
        spans.push(Span::styled(
            if zh {
                format!(" · {} {} 关闭", when(c.at), c.by.name)
            } else {
                format!(" · closed {} by {}", when(c.at), c.by.name)
            },
            DIM,
        ));
    }
    // The id only where it fits whole (it is for typing into the CLI).
    if area.width >= layout::SIDE_BY_SIDE {
        spans.push(Span::styled(format!(" · #{}", r.id), DIM));
    }
    put(Line::from(spans), area, buf);
}

/// The room's state, bold green while open: shared with the detail view.
pub(super) fn state_span(l: Lang, r: &Room) -> Span<'static> {
    let style = if r.is_open() {
        GOOD.add_modifier(Modifier::BOLD)
    } else {
        DIM
    };
    Span::styled(l.room_state(r.state), style)
}

/// A person's name, the system's in the console's words.
fn person_name<'a>(app: &App, name: &'a str) -> &'a str {
    if name == SYSTEM { app.lang.words().system } else { name }
}

fn roster(app: &App, r: &Room, areas: &layout::RoomAreas, buf: &mut Buffer) {
    let w = app.lang.words();
    let zh = app.lang == Lang::Zh;
    put(
        Line::styled(format!("{} ({})", w.present, r.present.len()), TITLE),
        areas.roster_title,
        buf,
    );
    let area = areas.roster;
    let height = usize::from(area.height);
    if height == 0 {
        return;
    }
    let mut lines: Vec<Line> = Vec::new();
    if r.present.is_empty() {
        lines.push(Line::styled(format!("  {}", w.nobody_present), DIM));
    }
    let (name, role, since) = (8, if zh { 6 } else { 8 }, 5);
    let center = usize::from(area.width)
        .saturating_sub(2 + name + 1 + role + 1 + since + 1)
        .min(20);
    // A row per person, a roster too long for the pane ending in "+N";
    // the invited nodes in the last row if there is room after everyone
    // (the log says whom the home invited).
    let invited = usize::from(!r.invited.is_empty() && r.present.len() < height);
    let shown = if r.present.len() > height {
        height.saturating_sub(1)
    } else {
        r.present.len()
    };
    let me = app.operator.as_ref();
    for p in r.present.iter().take(shown) {
        let mine = me.is_some_and(|op| p.person.is(&op.node, &op.name));
        let style = if mine { TITLE } else { Style::new() };
        let role_style = if p.person.role == liandong_dispatch::wire::Role::Leader {
            TITLE
        } else {
            Style::new()
        };
        lines.push(Line::from(vec![
            Span::styled(if mine { "* " } else { "  " }, TITLE),
            Span::styled(format!("{} ", fit(&p.person.name, name)), style),
            Span::styled(format!("{} ", fit(app.lang.role(p.person.role), role)), role_style),
            Span::raw(format!("{} ", fit(app.model.name(&p.person.node), center))),
            // Since when, to the minute: the control crate's clock
            // without its seconds.
            Span::styled(text::clock(p.since, app.utc_offset)[..5].to_owned(), DIM),
        ]));
    }
    if shown < r.present.len() {
        lines.push(Line::styled(format!("  … +{}", r.present.len() - shown), DIM));
    }
    if invited > 0 {
        let names: Vec<&str> = r.invited.iter().map(|n| app.model.name(n)).collect();
        lines.push(Line::styled(format!("  {}: {}", w.invited, names.join(", ")), DIM));
    }
    for (y, line) in lines.into_iter().take(height).enumerate() {
        put(line, row(area, y as u16), buf);
    }
}

fn tasks(app: &App, r: &Room, areas: &layout::RoomAreas, buf: &mut Buffer) {
    let w = app.lang.words();
    let zh = app.lang == Lang::Zh;
    let open: Vec<_> = r.open_tasks().collect();
    put(
        Line::styled(format!("{} ({}/{})", w.open_tasks, open.len(), r.tasks.len()), TITLE),
        areas.tasks_title,
        buf,
    );
    let area = areas.tasks;
    let height = usize::from(area.height);
    if height == 0 {
        return;
    }
    if open.is_empty() {
        put(Line::styled(format!("  {}", w.no_open_tasks), DIM), area, buf);
        return;
    }
    let seq = width(&format!("#{}", r.last_seq));
    let target = 10;
    // Wide enough: the state with who signed or why refused; else the
    // state alone (the log has the rest).
    let long = area.width >= 50;
    let state = match (long, zh) {
        (true, true) => 14,
        (true, false) => 18,
        (false, true) => 6,
        (false, false) => 10,
    };
    let due = 7;
    let instruction = usize::from(area.width).saturating_sub(seq + 1 + target + 1 + state + 1 + due + 1);
    let shown = if open.len() > height { height - 1 } else { open.len() };
    for (y, t) in open.iter().take(shown).enumerate() {
        let words = if long {
            app.lang.target_state_words(&t.state)
        } else {
            app.lang.target_state(&t.state).to_owned()
        };
        let state_style = match &t.state {
            TargetState::Refused { .. } => BAD,
            s if s.is_signed_for() => GOOD,
            _ => Style::new(),
        };
        let mut spans = vec![
            Span::styled(format!("{} ", fit(&format!("#{}", t.seq), seq)), DIM),
            Span::raw(format!("{} ", fit(app.model.name(&t.target), target))),
            Span::styled(format!("{} ", fit(&words, state)), state_style),
        ];
        match t.finish_by {
            Some(by) => spans.push(due_span(app, by, due)),
            None => spans.push(Span::styled(fit("—", due), DIM)),
        }
        spans.push(Span::raw(" "));
        spans.push(Span::raw(truncate(&t.instruction.replace('\n', " "), instruction)));
        put(Line::from(spans), row(area, y as u16), buf);
    }
    if shown < open.len() {
        put(
            Line::styled(format!("  … +{}", open.len() - shown), DIM),
            row(area, shown as u16),
            buf,
        );
    }
}

/// Who did it, as the log shows them: "王芳 · 福州市", or the system.
pub(super) fn who(app: &App, entry: &RoomEntry) -> String {
    let w = app.lang.words();
    match &entry.by {
        None => w.system.to_owned(),
        Some(p) => format!("{} · {}", person_name(app, &p.name), app.model.name(&p.node)),
    }
}

/// What happened, in the console's words, and how it looks.
pub(super) fn what(app: &App, entry: &RoomEntry) -> (String, Style) {
    let w = app.lang.words();
    let zh = app.lang == Lang::Zh;
    let name = |n| app.model.name(n).to_owned();
    match &entry.line {
        RoomLine::Opened => (w.opened_room.to_owned(), TITLE),
        RoomLine::Entered => (w.entered.to_owned(), DIM),
        RoomLine::Left => (w.left.to_owned(), DIM),
        RoomLine::Said { text } => (text.clone(), Style::new()),
        RoomLine::Decided { text } => (format!("{}{text}", w.decision_tag), DECISION),
        RoomLine::Tasked {
            target,
            instruction,
            finish_by,
            ..
        } => {
            let due = finish_by.map_or_else(String::new, |t| {
                format!(" ({} {})", w.due, text::date_time(t, app.utc_offset))
            });
            let instruction = instruction.replace('\n', " ");
            let text = if zh {
                format!("任务#{} → {}: {instruction}{due}", entry.seq, name(target))
            } else {
                format!("task #{} → {}: {instruction}{due}", entry.seq, name(target))
            };
            (text, TASK)
        }
        RoomLine::Invited { node } => (format!("{} {}", w.invited_node, name(node)), DIM),
        RoomLine::TaskProgress { task, target, state } => {
            let style = match state {
                TargetState::Refused { .. } => BAD,
                s if s.is_signed_for() => GOOD,
                _ => Style::new(),
            };
            let words = app.lang.target_state_words(state);
            let text = if zh {
                format!("任务#{task} {}: {words}", name(target))
            } else {
                format!("task #{task} {}: {words}", name(target))
            };
            (text, style)
        }
        RoomLine::Closed { summary } => {
            let text = if summary.is_empty() {
                w.closed_room.to_owned()
            } else {
                format!("{}: {summary}", w.closed_room)
            };
            (text, TITLE)
        }
    }
}

/// One entry as the lines it takes in a pane `cols` wide: `#seq time
/// who` then what happened, wrapped under itself.
fn entry_lines(app: &App, entry: &RoomEntry, cols: usize, seq_cols: usize, selected: bool) -> Vec<Line<'static>> {
    let who_cols = if cols >= 100 { 22 } else { 16 };
    let indent = 2 + seq_cols + 1 + 9 + who_cols + 1;
    let (text, style) = what(app, entry);
    let what_cols = cols.saturating_sub(indent).max(8);
    let mut lines = Vec::new();
    for (n, part) in wrap(&text, what_cols).into_iter().enumerate() {
        let mut spans = if n == 0 {
            let who_style = if entry.by.is_none() { DIM } else { Style::new() };
            vec![
                Span::styled(if selected { "> " } else { "  " }, TITLE),
                Span::styled(format!("{} ", fit(&format!("#{}", entry.seq), seq_cols)), DIM),
                Span::styled(format!("{} ", text::clock(entry.at, app.utc_offset)), DIM),
                Span::styled(format!("{} ", fit(&who(app, entry), who_cols)), who_style),
            ]
        } else {
            vec![Span::raw(" ".repeat(indent))]
        };
        spans.push(Span::styled(part, style));
        let line = Line::from(spans);
        lines.push(if selected { line.style(SELECTED) } else { line });
    }
    lines
}

fn log(app: &App, pane: &RoomPane, areas: &layout::RoomAreas, buf: &mut Buffer) {
    let w = app.lang.words();
    let focused = !pane.typing;
    let n = pane.log.len();
    let mut title = format!("{} ({n})", w.room_log);
    let newer = n.saturating_sub(pane.cursor + 1);
    if newer > 0 {
        title.push_str(&format!(" · ↓ {newer} {}", w.newer));
    }
    if pane.dropped > 0 {
        title.push_str(&format!(" · {} {}", pane.dropped, w.earlier_dropped));
    }
    let title_style = if focused {
        TITLE.add_modifier(Modifier::UNDERLINED)
    } else {
        TITLE
    };
    put(Line::styled(title, title_style), areas.log_title, buf);
    let area = areas.log;
    let height = usize::from(area.height);
    if height == 0 {
        return;
    }
    if n == 0 {
        let (text, style) = match &pane.missing {
            Some(reason) => (format!("  {}: {reason}", w.no_room), BAD),
            None if !pane.loaded => (format!("  {}", w.loading), DIM),
            None => (String::new(), DIM),
        };
        put(Line::styled(text, style), area, buf);
        return;
    }
    let cols = usize::from(area.width);
    let seq_cols = width(&format!("#{}", pane.last_seq()));
    let bottom = pane.cursor.min(n - 1);
    let lines_of = |i: usize| entry_lines(app, &pane.log[i], cols, seq_cols, focused && i == bottom);
    // Up from the selected entry until the pane is full...
    let mut shown: VecDeque<Line> = VecDeque::new();
    let mut first = bottom + 1;
    while first > 0 && shown.len() < height {
        first -= 1;
        for line in lines_of(first).into_iter().rev() {
            shown.push_front(line);
        }
    }
    // ...then, if the log's start came first, down past it.
    let mut next = bottom + 1;
    let filled_down = shown.len() < height && next < n;
    while shown.len() < height && next < n {
        shown.extend(lines_of(next));
        next += 1;
    }
    // Cut what does not fit: below when filling down, else above.
    let skip = if filled_down {
        0
    } else {
        shown.len().saturating_sub(height)
    };
    for (y, line) in shown.into_iter().skip(skip).take(height).enumerate() {
        put(line, row(area, y as u16), buf);
    }
}

/// The label of the input line: what Enter will do.
fn label(app: &App, pane: &RoomPane, header: Option<&Room>) -> (&'static str, Style) {
    let w = app.lang.words();
    let zh = app.lang == Lang::Zh;
    if header.is_some_and(|r| !r.is_open()) {
        return (app.lang.room_state(liandong_dispatch::room::RoomState::Closed), DIM);
    }
    let command = |c: SlashCommand| match (c, zh) {
        (SlashCommand::Say, _) => w.say,
        (SlashCommand::Decide, true) => "决定",
        (SlashCommand::Decide, false) => "Decide",
        (SlashCommand::Task, true) => "任务",
        (SlashCommand::Task, false) => "Task",
        (SlashCommand::Invite, true) => "邀请",
        (SlashCommand::Invite, false) => "Invite",
        (SlashCommand::Close, true) => "关闭",
        (SlashCommand::Close, false) => "Close",
        (SlashCommand::Enter, true) => "进入",
        (SlashCommand::Enter, false) => "Enter",
        (SlashCommand::Leave, true) => "离开",
        (SlashCommand::Leave, false) => "Leave",
    };
    match line_kind(&pane.input.text()) {
        LineKind::Unknown => (w.unknown_command, BAD),
        LineKind::Command(c) => (command(c), TITLE),
        LineKind::Text if header.is_some_and(|r| !app.present_in(r)) => (w.not_present, Style::new().fg(Color::Yellow)),
        LineKind::Text => (w.say, TITLE),
    }
}

fn input(app: &App, pane: &RoomPane, header: Option<&Room>, area: Rect, buf: &mut Buffer) {
    let (label, style) = label(app, pane, header);
    let head = format!("{label}> ");
    let cols = usize::from(area.width).saturating_sub(width(&head));
    let mut spans = vec![Span::styled(head, if pane.typing { style } else { style.patch(DIM) })];
    if pane.typing {
        spans.extend(editor_line(&pane.input, 0, cols));
    } else {
        spans.push(Span::styled(truncate(&pane.input.text(), cols), DIM));
    }
    put(Line::from(spans), area, buf);
}
