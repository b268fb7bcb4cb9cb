//! Drawing: `impl Widget for &App`, a pure function of the app's state.
//!
//! Nothing here reads a clock, sorts, or changes state: times come from
//! `app.now`, rows from the lists the app keeps sorted, scroll positions
//! from the app's [`Scroll`](crate::list::Scroll)s. Columns are measured in
//! display width ([`liandong_control::text`]), so Chinese and mixed text line up. Only
//! visible rows are built, so a board of thousands costs what a screenful
//! does.
//!
//! This module draws the frame around every screen: the tabs with who,
//! where and when, the alarm banner, the status line (a prompt, a
//! message, or the connection and counts) and the key hints. The body is
//! one module per screen (`board`, `detail`, `orders`, `links`,
//! `composer_screen`, `room_screen`, `report_screen`) and the `help`
//! overlay; `paint` holds what they share (styles, cells, the editor
//! line, dialogs).
//! The screens import `paint`, never this module. Where things go is
//! [`crate::layout`], shared with the app's mouse handling.

mod board;
mod composer_screen;
mod detail;
mod help;
mod links;
mod orders;
mod paint;
mod report_screen;
mod room_screen;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use crate::app::{AlarmKind, App, Connection, PromptKind};
use crate::layout;
use crate::screen::Screen;
use liandong_control::text::{self, fit, truncate, width};

pub use help::{KEYS, Key, When};
pub use paint::{ORANGE, severity_style};

use paint::{BAD, DIM, GOOD, SELECTED, TITLE, editor_line, put};

impl Widget for &App {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let areas = layout::frame(area, !self.alarms.is_empty());
        tabs(self, areas.tabs, buf);
        if !self.alarms.is_empty() {
            alarm(self, areas.alarm, buf);
        }
        match self.screen {
            Screen::Board => board::render(self, areas.body, buf),
            Screen::Detail => detail::render(self, areas.body, buf),
            Screen::Orders => orders::render(self, areas.body, buf),
            Screen::Links => links::render(self, areas.body, buf),
            Screen::Composer => composer_screen::render(self, areas.body, buf),
            Screen::Room => room_screen::render(self, areas.body, buf),
            Screen::Report => report_screen::render(self, areas.body, buf),
        }
        status(self, areas.status, buf);
        hints(self, areas.hints, buf);
        if self.help {
            help::render(self, area, buf);
        }
    }
}

fn tabs(app: &App, area: Rect, buf: &mut Buffer) {
    let w = app.lang.words();
    let mut spans = Vec::new();
    let current = match app.screen {
        Screen::Detail | Screen::Composer | Screen::Room => None,
        s => Some(s),
    };
    for (screen, label) in layout::tabs(app.lang) {
        let style = if Some(screen) == current {
            SELECTED.add_modifier(Modifier::BOLD)
        } else {
            Style::new()
        };
        spans.push(Span::styled(label, style));
    }
    match app.screen {
        Screen::Detail => spans.push(Span::styled(format!(" > {} ", w.detail), SELECTED)),
        Screen::Composer => spans.push(Span::styled(format!(" > {} ", w.composer), SELECTED)),
        Screen::Room => spans.push(Span::styled(format!(" > {} ", w.room), SELECTED)),
        _ => {}
    }
    put(Line::from(spans), area, buf);

    // Right side: where, who, link, clock; on a narrow line who goes
    // first, then where. Room is kept for the widest screen name after
    // the tabs, so it does not come and go between screens.
    let (dot, style, word) = match &app.connection {
        Connection::Connecting => ("o", Style::new().fg(Color::Yellow), w.connecting),
        Connection::Live => ("*", GOOD, w.live),
        Connection::Lost(_) => ("x", BAD, w.lost),
    };
    let link_and_clock = [
        Span::styled(format!("{dot} {word} "), style),
        Span::raw(text::clock(app.now, app.utc_offset)),
    ];
    let with = |name: bool, who: bool| -> Line<'static> {
        let mut right = Vec::new();
        if let (true, Some(n)) = (name, &app.model.status) {
            right.push(Span::styled(n.name.clone(), TITLE));
            right.push(Span::raw(" "));
        }
        if let (true, Some(op)) = (who, &app.operator) {
            right.push(Span::raw(format!("{} ", op.name)));
        }
        right.extend(link_and_clock.iter().cloned());
        Line::from(right)
    };
    let used = width(&layout::tabs(app.lang).map(|t| t.1).concat()) + 12;
    let fits = |line: &Line| usize::from(area.width) >= used + line.width();
    let right = [with(true, true), with(true, false), with(false, false)]
        .into_iter()
        .find(fits);
    if let Some(right) = right {
        let rw = right.width() as u16;
        put(
            right,
            Rect {
                x: area.x + area.width - rw,
                width: rw,
                ..area
            },
            buf,
        );
    }
}

fn alarm(app: &App, area: Rect, buf: &mut Buffer) {
    let w = app.lang.words();
    let Some(first) = app.alarms.front() else { return };
    let what = match first.kind {
        AlarmKind::NewReport => w.alarm_new_report.to_owned(),
        AlarmKind::DeadlineMissed(stage) => format!("{}{}", app.lang.stage(stage), w.alarm_deadline),
        AlarmKind::Supervised(stage) => format!("{}{} {}", app.lang.stage(stage), w.alarm_deadline, w.alarm_supervised),
        AlarmKind::RoomOpened => w.alarm_room_opened.to_owned(),
        AlarmKind::IndexAlarm { period, index, below } => {
            let r = app.lang.report();
            format!(
                "{} {period} {} {} {below}",
                r.alarm_index,
                paint::tenths(index),
                r.under
            )
        }
    };
    let severity = first
        .severity
        .map(|s| format!("[{}] ", app.lang.severity(s)))
        .unwrap_or_default();
    let origin = first
        .incident
        .and_then(|id| app.model.incidents.get(&id))
        .map(|i| format!(" @ {}", app.model.path(&i.origin)))
        .unwrap_or_default();
    // Dropped alarms (past the bound) still count as waiting.
    let waiting = app.alarms.len() as u64 - 1 + app.alarms_dropped;
    let more = if waiting > 0 {
        format!(" +{waiting} {}", w.more_alarms)
    } else {
        String::new()
    };
    let hint = format!(" [{}]{more} ", w.alarm_ack_hint);
    let mut head = format!(
        " !! {} {} {severity}{what}: ",
        w.alarm,
        text::clock(first.at, app.utc_offset)
    );
    // The title matters more than the clock on a narrow screen.
    if usize::from(area.width) < width(&head) + width(&hint) + 24 {
        head = format!(" !! {severity}{what}: ");
    }
    let room = usize::from(area.width).saturating_sub(width(&head) + width(&hint));
    let body = fit(&format!("{}{origin}", first.title), room);
    let style = Style::new()
        .bg(Color::Red)
        .fg(Color::White)
        .add_modifier(Modifier::BOLD);
    buf.set_style(area, style);
    put(
        Line::from(vec![Span::raw(head), Span::raw(body), Span::raw(hint)]).style(style),
        area,
        buf,
    );
}

fn status(app: &App, area: Rect, buf: &mut Buffer) {
    let w = app.lang.words();
    if let Some(prompt) = &app.prompt {
        let label = match prompt.kind {
            PromptKind::Search => w.search,
            PromptKind::Escalate(_) | PromptKind::Cancel(_) => w.prompt_reason,
            PromptKind::Note(_) => w.prompt_note,
            PromptKind::Feedback(_) => w.prompt_feedback,
            PromptKind::Resolve(_) => w.prompt_summary,
            PromptKind::Verify { accepted: true, .. } => w.act_verify,
            PromptKind::Verify { accepted: false, .. } => w.act_send_back,
            PromptKind::Done(_) => w.prompt_done,
            PromptKind::Refuse(_) => w.prompt_refuse,
        };
        let head = format!("{label}: ");
        let hint = if prompt.kind == PromptKind::Search {
            format!("  {}", w.search_hint)
        } else {
            format!("  {}", w.prompt_hint)
        };
        let room = usize::from(area.width).saturating_sub(width(&head) + width(&hint));
        let mut spans = vec![Span::styled(head, TITLE)];
        spans.extend(editor_line(&prompt.editor, 0, room));
        spans.push(Span::styled(hint, DIM));
        put(Line::from(spans), area, buf);
        return;
    }
    if let Some(flash) = &app.flash {
        let style = if flash.bad { BAD } else { GOOD };
        put(
            Line::styled(truncate(&flash.text, usize::from(area.width)), style),
            area,
            buf,
        );
        return;
    }
    let mut spans = Vec::new();
    if let Connection::Lost(reason) = &app.connection {
        spans.push(Span::styled(format!("{}: {reason} ", w.lost), BAD));
    }
    if let Some(s) = &app.model.status {
        if let Some(problem) = &s.storage_problem {
            spans.push(Span::styled(format!("{}: {problem} ", w.storage_problem), BAD));
        }
        if s.failed_over {
            spans.push(Span::styled(
                format!("{} ", w.failed_over),
                Style::new().fg(Color::Yellow),
            ));
        }
        let open = app.model.incidents.values().filter(|i| i.state.is_open()).count();
        spans.push(Span::raw(format!(
            "{} {open} · {} {}",
            w.open_incidents,
            w.open_orders,
            app.model.orders.len()
        )));
    }
    put(Line::from(spans), area, buf);
}

fn hints(app: &App, area: Rect, buf: &mut Buffer) {
    let screen = if app.help { None } else { Some(app.screen) };
    let line = help::hint_line(app, screen);
    put(Line::styled(truncate(&line, usize::from(area.width)), DIM), area, buf);
}
