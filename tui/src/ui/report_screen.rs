//! The safety report (平安报表): this center's subtree figures for the
//! month or the day on screen, one row per source (this center's own,
//! then each child: its summary, a late one, or awaiting it), a bar of
//! each row's safety index against the policy's alarm line, and a
//! sparkline of each row's reports received per day of the month.
//!
//! Actual cases only: drills are kept apart and only counted in the
//! title. A row whose index is under the line is red and marked `!`, and
//! so is its bar; an index warning the node pushed for the period is
//! named above the table. Everything drawn comes from the app's
//! [`ReportPane`](crate::report_pane::ReportPane); nothing is asked or
//! computed here beyond a rate.

use liandong_dispatch::figures::{Figures, Period, Report, Row, Source};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Bar, BarChart, Sparkline, SparklineBar, Widget};

use super::paint::{BAD, CURSOR, DIM, GOOD, SELECTED, TITLE, put, tenths};
use crate::app::App;
use crate::i18n::Lang;
use crate::layout;
use liandong_control::text::{fit, truncate, width};

/// Columns of a source's name, in the table and beside its bar.
const NAME: usize = 8;
/// Columns of where a row came from (`summary v12`).
const SOURCE: usize = 11;

pub(super) fn render(app: &App, body: Rect, buf: &mut Buffer) {
    let r = app.lang.report();
    let pane = &app.report;
    let areas = layout::report(body, pane.shown_rows().len());
    title(app, pane.shown(), areas.title, buf);
    notes(app, pane.shown(), areas.notes, buf);
    let Some(report) = pane.shown() else {
        let text = if pane.busy() { r.asking } else { r.no_figures };
        put(Line::styled(text, DIM), areas.header, buf);
        return;
    };
    let window = pane.rows.window(report.rows.len(), usize::from(areas.rows.height));
    let shown = &report.rows[window.clone()];
    table(app, shown, window.start, areas, buf);
    bars(app, shown, areas, buf);
    sparks(app, shown, areas, buf);
}

/// 平安报表 · 福州市 · 2026-11 本月 · 平安指数 86.3 · 演练另计 3 起
fn title(app: &App, report: Option<&Report>, area: Rect, buf: &mut Buffer) {
    let r = app.lang.report();
    let pane = &app.report;
    let mut spans = vec![Span::styled(r.title, TITLE)];
    let center = report
        .map(|rep| app.model.name(&rep.center).to_owned())
        .or_else(|| app.model.status.as_ref().map(|s| s.name.clone()));
    if let Some(center) = center {
        spans.push(Span::raw(format!(" · {center}")));
    }
    if let Some(period) = pane.period() {
        spans.push(Span::styled(format!(" · {period}"), TITLE));
        if pane.running() {
            let now = if pane.day_view { r.today } else { r.month };
            spans.push(Span::raw(format!(" {now}")));
        }
    }
    if let Some(rep) = report {
        spans.push(Span::raw(format!(" · {} ", r.index)));
        if rep.alarm {
            spans.push(Span::styled(format!("{} ! {}", tenths(rep.index), r.below_line), BAD));
        } else {
            spans.push(Span::styled(tenths(rep.index), TITLE));
        }
        spans.push(Span::styled(
            format!(" · {} {}{}", r.drills_apart, rep.drill.all.received, r.drills_unit),
            DIM,
        ));
    }
    if pane.busy() {
        spans.push(Span::styled(format!(" · {}", r.asking), DIM));
    }
    put(Line::from(spans), area, buf);
}

/// The node's refusal; index warnings for the period on screen; the
/// children it awaits (or that the period is not over).
fn notes(app: &App, report: Option<&Report>, area: Rect, buf: &mut Buffer) {
    let r = app.lang.report();
    let pane = &app.report;
    let mut spans = Vec::new();
    if let Some(problem) = &pane.problem {
        spans.push(Span::styled(format!("{}: {problem}  ", app.lang.words().refused), BAD));
    }
    for w in pane.warnings.iter().rev().filter(|w| Some(w.period) == pane.period()) {
        spans.push(Span::styled(
            format!(
                "! {} {} {} {} {}  ",
                r.warning,
                app.model.name(&w.child),
                tenths(w.index),
                r.under,
                w.below
            ),
            BAD,
        ));
    }
    if let Some(rep) = report.filter(|rep| !rep.missing.is_empty()) {
        if pane.running() {
            spans.push(Span::styled(r.running, DIM));
        } else {
            let names: Vec<&str> = rep.missing.iter().map(|c| app.model.name(c)).collect();
            spans.push(Span::styled(
                format!("{}: {}", r.awaiting_from, names.join(", ")),
                Style::new().fg(Color::Yellow),
            ));
        }
    }
    let line = Line::from(spans);
    if line.width() > usize::from(area.width) {
        let text: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
        let style = line.spans.first().map_or_else(Style::new, |s| s.style);
        put(Line::styled(truncate(&text, usize::from(area.width)), style), area, buf);
    } else {
        put(line, area, buf);
    }
}

/// A number column: its header and the value of a row's figures.
type Column = (&'static str, fn(&Figures) -> String);

fn columns(lang: Lang) -> [Column; 6] {
    let r = lang.report();
    [
        (r.col_received, |f| f.received.to_string()),
        (r.col_owned, |f| f.owned.to_string()),
        (r.col_resolved, |f| f.resolved.to_string()),
        (r.col_rate, |f| percent(f.resolution_rate())),
        (r.col_on_time, |f| percent(f.on_time_rate())),
        (r.col_supervised, |f| f.supervised.to_string()),
    ]
}

fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "-".into(), |r| format!("{:.1}%", r * 100.0))
}

/// A number column's width: its header or `100.0%`, whichever is wider.
fn col_width(head: &str) -> usize {
    width(head).max(6)
}

/// `s` right-aligned in `cols` columns (cut if wider).
fn right(s: &str, cols: usize) -> String {
    let s = truncate(s, cols);
    format!("{}{s}", " ".repeat(cols.saturating_sub(width(&s))))
}

fn row_style(row: &Row) -> Style {
    if row.alarm {
        BAD
    } else if row.source == Source::Awaiting {
        DIM
    } else {
        Style::new()
    }
}

/// The header and the rows in the window, the first of them row `first`.
fn table(app: &App, rows: &[Row], first: usize, areas: layout::ReportAreas, buf: &mut Buffer) {
    let r = app.lang.report();
    let cols = columns(app.lang);
    let index_w = col_width(r.col_index);
    let mut head = vec![
        Span::styled(format!("  {} ", fit(r.col_from, NAME)), TITLE),
        Span::styled(format!("{} ", fit(r.col_source, SOURCE)), TITLE),
    ];
    for (name, _) in &cols {
        head.push(Span::styled(format!("{} ", right(name, col_width(name))), TITLE));
    }
    head.push(Span::styled(right(r.col_index, index_w), TITLE));
    put(Line::from(head), areas.header, buf);

    for (y, row) in rows.iter().enumerate() {
        let selected = first + y == app.report.rows.cursor;
        let mut text = format!(
            "{} {} {} ",
            if selected { CURSOR } else { " " },
            fit(app.model.name(&row.node), NAME),
            fit(&app.lang.source(&row.source), SOURCE)
        );
        for (name, value) in &cols {
            text.push_str(&right(&value(&row.actual), col_width(name)));
            text.push(' ');
        }
        let index = row.index.map_or_else(|| "-".to_owned(), tenths);
        let mark = if row.alarm { " !" } else { "" };
        text.push_str(&right(&format!("{index}{mark}"), index_w));
        let style = row_style(row);
        let line = Line::styled(text, if selected { style.patch(SELECTED) } else { style });
        put(line, layout::row(areas.rows, y as u16), buf);
    }
}

/// Each row's index as a horizontal bar (0-100), its name on its left,
/// the policy's alarm line marked `┊` where the bar does not reach.
fn bars(app: &App, rows: &[Row], areas: layout::ReportAreas, buf: &mut Buffer) {
    let r = app.lang.report();
    let line = app.model.topology.as_ref().map(|t| t.policy().index().alarm_below);
    let mut title = vec![Span::styled(r.chart_index, TITLE)];
    if let Some(line) = line {
        title.push(Span::styled(format!("  ┊ {} {line}", r.alarm_line), DIM));
    }
    put(Line::from(title), areas.bars_title, buf);
    let chart: Vec<Bar> = rows
        .iter()
        .map(|row| {
            let colour = match (row.alarm, row.index) {
                (true, _) => Style::new().fg(Color::Red),
                (false, Some(_)) => GOOD,
                (false, None) => DIM,
            };
            Bar::default()
                .label(Line::styled(fit(app.model.name(&row.node), NAME), row_style(row)))
                .value(u64::from(row.index.unwrap_or(0)))
                .text_value(row.index.map_or_else(|| "-".to_owned(), tenths))
                .style(colour)
                .value_style(colour.add_modifier(Modifier::REVERSED))
        })
        .collect();
    let area = Rect {
        height: areas.bars.height.min(rows.len() as u16),
        ..areas.bars
    };
    BarChart::horizontal(chart)
        .max(1000)
        .bar_gap(0)
        .bar_width(1)
        .render(area, buf);
    // The alarm line across the bars' side, where no bar covers it.
    let bars_x = area.x + NAME as u16 + 1;
    let bars_w = area.width.saturating_sub(NAME as u16 + 1);
    if let Some(line) = line.filter(|_| bars_w > 0) {
        let x = bars_x + (u32::from(bars_w) * line.min(100) / 100) as u16;
        for y in area.top()..area.bottom() {
            if x < area.right() && buf[(x, y)].symbol() == " " {
                buf[(x, y)].set_symbol("┊").set_style(DIM);
            }
        }
    }
}

/// Columns of the busiest day's count after each sparkline.
const PEAK: u16 = 5;

/// Each row's reports received per day of the month (`·` a day not
/// answered yet), scaled to its own busiest day, whose count follows;
/// in the day view that day's column is yellow.
fn sparks(app: &App, rows: &[Row], areas: layout::ReportAreas, buf: &mut Buffer) {
    let r = app.lang.report();
    let pane = &app.report;
    let area = areas.sparks;
    let cols = (pane.month_days() as u16).min(area.width.saturating_sub(PEAK));
    if let Some(Period::Month { month, .. }) = pane.month {
        let last = pane.days.len();
        let title = format!("{} {month:02}-01…{month:02}-{last:02}", r.chart_daily);
        put(Line::styled(title, TITLE), areas.sparks_title, buf);
        let x = areas.sparks_title.x + cols;
        if areas.sparks_title.right() >= x + PEAK {
            buf.set_string(x, areas.sparks_title.y, right(r.peak, usize::from(PEAK)), DIM);
        }
    }
    let shown_day = match pane.day {
        Some(Period::Day { day, .. }) if pane.day_view => Some(usize::from(day) - 1),
        _ => None,
    };
    for (y, row) in rows.iter().enumerate().take(usize::from(area.height)) {
        let line = layout::row(area, y as u16);
        let series = pane.received_per_day(&row.node);
        let peak = series.iter().flatten().copied().max().unwrap_or(0);
        let bars: Vec<SparklineBar> = series
            .iter()
            .enumerate()
            .map(|(d, v)| {
                let bar = SparklineBar::from(*v);
                if Some(d) == shown_day {
                    bar.style(Style::new().fg(Color::Yellow))
                } else {
                    bar
                }
            })
            .collect();
        let style = if row.alarm {
            Style::new().fg(Color::Red)
        } else {
            Style::new().fg(Color::Cyan)
        };
        Sparkline::default()
            .data(bars)
            .max(peak.max(1))
            .style(style)
            .absent_value_symbol("·")
            .absent_value_style(DIM)
            .render(Rect { width: cols, ..line }, buf);
        if line.right() >= line.x + cols + PEAK {
            let text = right(&peak.to_string(), usize::from(PEAK));
            buf.set_string(line.x + cols, line.y, text, DIM);
        }
    }
}
