//! The escalation board (督办看板): open incidents, most severe first,
//! then the nearest deadline.
//!
//! Marks: 督 supervised, 演 a drill, 室 an open coordination room (S, E, R
//! in English).
//!
//! Columns narrow terminals cannot afford are dropped, least important
//! first: at 80 columns severity, marks, title, origin, state, due and
//! sign-for roll-up; from [`layout::BOARD_MEDIUM`] also owner level and
//! age; from [`layout::BOARD_WIDE`] the category. Origins are cut from the
//! left, keeping the most specific place.

use liandong_dispatch::store::Incident;
use liandong_topology::Severity;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::paint::{BAD, CURSOR, DIM, GOOD, SELECTED, TITLE, cells, due_span, put, severity_style};
use crate::app::{App, StateFilter};
use crate::layout;
use crate::model::Model;
use liandong_control::text::{self, fit, truncate_left};

/// Which columns show, and how wide, for a width.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Columns {
    severity: usize,
    marks: usize,
    title: usize,
    origin: usize,
    category: Option<usize>,
    owner: Option<usize>,
    state: usize,
    age: Option<usize>,
    due: usize,
    signed: usize,
}

impl Columns {
    pub(crate) fn new(app: &App, total: u16) -> Columns {
        let zh = app.lang == crate::i18n::Lang::Zh;
        let medium = total >= layout::BOARD_MEDIUM;
        let wide = total >= layout::BOARD_WIDE;
        let mut c = Columns {
            severity: if zh { 8 } else { 7 },
            // Up to three marks: 督演室 / SER.
            marks: if zh { 6 } else { 4 },
            title: 0,
            origin: 0,
            category: wide.then_some(if zh { 10 } else { 9 }),
            owner: medium.then_some(if zh { 6 } else { 8 }),
            state: if zh { 6 } else { 10 },
            age: medium.then_some(6),
            due: 8,
            // "12/14 签收" / "12/14 signed" where there is room, "12/14" otherwise.
            signed: if !medium {
                7
            } else if zh {
                10
            } else {
                12
            },
        };
        // Each column is followed by one space; one more for the marker.
        let fixed = [
            Some(c.severity),
            Some(c.marks),
            c.category,
            c.owner,
            Some(c.state),
            c.age,
            Some(c.due),
            Some(c.signed),
        ]
        .iter()
        .flatten()
        .map(|w| w + 1)
        .sum::<usize>()
            + 2
            + 2;
        let free = usize::from(total).saturating_sub(fixed);
        c.title = (free / 2).clamp(free.min(8), 48);
        c.origin = free.saturating_sub(c.title).min(72);
        c
    }
}

pub(super) fn render(app: &App, body: Rect, buf: &mut Buffer) {
    let areas = layout::board(body);
    filter_line(app, areas.filter, buf);
    let cols = Columns::new(app, body.width);
    header(app, &cols, areas.header, buf);
    if app.board_rows.is_empty() {
        let w = app.lang.words();
        let text = if app.model.topology.is_none() {
            w.no_topology
        } else {
            w.no_incidents
        };
        put(Line::styled(format!("  {text}"), DIM), areas.rows, buf);
        return;
    }
    let window = app.board.window(app.board_rows.len(), usize::from(areas.rows.height));
    for (y, row) in window.enumerate() {
        let Some(incident) = app.model.incidents.get(&app.board_rows[row]) else {
            continue;
        };
        let line = row_line(app, &cols, incident, row == app.board.cursor);
        put(
            line,
            Rect {
                y: areas.rows.y + y as u16,
                height: 1,
                ..areas.rows
            },
            buf,
        );
    }
}

fn filter_line(app: &App, area: Rect, buf: &mut Buffer) {
    let w = app.lang.words();
    let l = app.lang;
    let f = &app.filter;
    let severity = match f.min_severity {
        None => w.all.to_owned(),
        Some(Severity::I) => l.severity(Severity::I).to_owned(),
        Some(s) => format!(">={}", l.severity(s)),
    };
    let state = match f.state {
        StateFilter::Open => w.open,
        StateFilter::Only(s) => l.state(s),
    };
    let mode = f.mode.map_or(w.all, |m| l.mode(m));
    let mut spans = vec![
        Span::styled(format!("{}: ", w.filter), TITLE),
        Span::raw(format!(
            "{} {severity} · {} {state} · {} {mode}",
            w.col_severity, w.col_state, w.mode
        )),
    ];
    if !f.search.is_empty() {
        spans.push(Span::raw(format!(" · {} \"{}\"", w.search, f.search)));
    }
    let open = app.model.incidents.values().filter(|i| i.state.is_open()).count();
    spans.push(Span::styled(
        format!("   {} {}/{open}", w.shown, app.board_rows.len()),
        DIM,
    ));
    put(Line::from(spans), area, buf);
}

fn header(app: &App, c: &Columns, area: Rect, buf: &mut Buffer) {
    let w = app.lang.words();
    let mut cols = vec![
        (String::new(), 1, TITLE),
        (w.col_severity.to_owned(), c.severity, TITLE),
        (String::new(), c.marks, TITLE),
        (w.col_title.to_owned(), c.title, TITLE),
        (w.col_origin.to_owned(), c.origin, TITLE),
    ];
    if let Some(n) = c.category {
        cols.push((app.lang.words().category.to_owned(), n, TITLE));
    }
    if let Some(n) = c.owner {
        cols.push((w.col_owner.to_owned(), n, TITLE));
    }
    cols.push((w.col_state.to_owned(), c.state, TITLE));
    if let Some(n) = c.age {
        cols.push((w.col_age.to_owned(), n, TITLE));
    }
    cols.push((w.col_due.to_owned(), c.due, TITLE));
    cols.push((w.col_orders.to_owned(), c.signed, TITLE));
    put(cells(cols), area, buf);
}

fn row_line<'a>(app: &App, c: &Columns, i: &Incident, selected: bool) -> Line<'a> {
    let w = app.lang.words();
    let l = app.lang;
    let mut marks = String::new();
    if app.model.is_supervised(i) {
        marks.push_str(w.supervised_mark);
    }
    if i.mode == liandong_dispatch::wire::Mode::Exercise {
        marks.push_str(w.exercise_mark);
    }
    if app.model.open_room(&i.id).is_some() {
        marks.push_str(w.room_mark);
    }
    let owner_level = app
        .model
        .topology
        .as_ref()
        .and_then(|t| t.level(&i.owner))
        .map_or("", |lv| l.level(lv));
    let origin = truncate_left(app.model.path(&i.origin), c.origin);

    // Sign-for roll-up over the incident's orders.
    let (mut signed, mut targets, mut overdue) = (0, 0, 0);
    for o in app.model.orders_of(i) {
        signed += o.roll_up.signed_for;
        targets += o.roll_up.targets;
        overdue += o.roll_up.overdue;
    }
    let roll = if targets == 0 {
        String::new()
    } else if c.signed >= 10 {
        format!("{signed}/{targets} {}", w.signed)
    } else {
        format!("{signed}/{targets}")
    };
    let roll_style = if overdue > 0 {
        BAD
    } else if targets > 0 && signed == targets {
        GOOD
    } else {
        Style::new()
    };

    let mut spans = vec![
        Span::styled(if selected { CURSOR } else { " " }, TITLE),
        Span::raw(" "),
        Span::styled(
            fit(l.severity(i.report.severity), c.severity),
            severity_style(i.report.severity),
        ),
        Span::raw(" "),
        Span::styled(fit(&marks, c.marks), BAD),
        Span::raw(" "),
        Span::raw(fit(&i.report.title, c.title)),
        Span::raw(" "),
        Span::raw(fit(&origin, c.origin)),
        Span::raw(" "),
    ];
    if let Some(n) = c.category {
        spans.push(Span::raw(fit(l.category(i.report.category), n)));
        spans.push(Span::raw(" "));
    }
    if let Some(n) = c.owner {
        spans.push(Span::raw(fit(owner_level, n)));
        spans.push(Span::raw(" "));
    }
    spans.push(Span::raw(fit(l.state(i.state), c.state)));
    spans.push(Span::raw(" "));
    if let Some(n) = c.age {
        spans.push(Span::raw(fit(&text::human(app.now.since(i.reported)), n)));
        spans.push(Span::raw(" "));
    }
    match Model::due(i) {
        Some((deadline, _)) => spans.push(due_span(app, deadline, c.due)),
        None => spans.push(Span::raw(fit("", c.due))),
    }
    spans.push(Span::raw(" "));
    spans.push(Span::styled(fit(&roll, c.signed), roll_style));
    let line = Line::from(spans);
    if selected { line.style(SELECTED) } else { line }
}
