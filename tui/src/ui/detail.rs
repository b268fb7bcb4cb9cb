//! Incident detail (事件详情): the facts, the actions, the timeline of
//! every hop and step, and the orders with each target's state.
//!
//! The last line of facts starts with the incident's coordination room,
//! when this node knows one (state, who and how many are present, open
//! tasks, the keys to view, enter or leave it), or, for a leader at the
//! owner, the key to open one.
//!
//! Actions that look applicable here (this node owns it, it is in the
//! right state) are drawn bright, the others dim. That is only a hint: the
//! keys send the request either way and the node decides, answering with a
//! reason when it refuses.

use liandong_control::OrderView;
use liandong_dispatch::store::{Incident, IncidentState};
use liandong_dispatch::wire::TargetState;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};

use super::paint::{BAD, DIM, GOOD, SELECTED, TITLE, due_span, put, severity_style, stage_label};
use crate::app::{App, DetailRow};
use crate::layout::{self, row};
use liandong_control::text::{self, fit, truncate, width};

pub(super) fn render(app: &App, body: Rect, buf: &mut Buffer) {
    let w = app.lang.words();
    let areas = layout::detail(body);
    let Some(i) = app.detail.and_then(|id| app.model.incidents.get(&id)) else {
        put(Line::styled(w.not_known, BAD), areas.info, buf);
        return;
    };
    info(app, i, areas.info, buf);
    actions(app, i, areas.actions, buf);
    timeline(app, i, &areas, buf);
    orders(app, &areas, buf);
}

fn label(s: &str) -> Span<'static> {
    Span::styled(format!("{s}: "), DIM)
}

fn info(app: &App, i: &Incident, area: Rect, buf: &mut Buffer) {
    let w = app.lang.words();
    let l = app.lang;
    let r = &i.report;
    put(
        Line::from(vec![
            Span::styled(format!("[{}] ", l.severity(r.severity)), severity_style(r.severity)),
            Span::styled(r.title.clone(), TITLE),
            Span::raw(format!(
                "  · {} · {} · #{}",
                l.category(r.category),
                l.mode(i.mode),
                i.id
            )),
        ]),
        row(area, 0),
        buf,
    );
    let mut origin = vec![label(w.col_origin), Span::raw(app.model.path(&i.origin).to_owned())];
    if !r.place.is_empty() {
        origin.push(Span::raw("  "));
        origin.push(label(w.place));
        origin.push(Span::raw(r.place.clone()));
    }
    origin.push(Span::raw("  "));
    origin.push(label(w.reporter));
    origin.push(Span::raw(r.reporter.clone()));
    if !r.photos.is_empty() {
        // Each a link the gateway serves at any center on the path, and its size.
        origin.push(Span::raw("  "));
        origin.push(label(w.photos));
        let listed: Vec<String> = r
            .photos
            .iter()
            .map(|p| format!("/v1/photos/{} ({})", p.hex(), photo_size(p.size)))
            .collect();
        origin.push(Span::raw(listed.join("  ")));
    }
    put(Line::from(origin), row(area, 1), buf);

    let owner_level = app
        .model
        .topology
        .as_ref()
        .and_then(|t| t.level(&i.owner))
        .map_or(String::new(), |lv| format!(" ({})", l.level(lv)));
    let mut owner = vec![
        label(w.owner),
        Span::raw(format!("{}{owner_level}  ", app.model.name(&i.owner))),
        label(w.col_state),
        Span::styled(format!("{}  ", l.state(i.state)), TITLE),
    ];
    if let Some(by) = &i.accepted_by {
        owner.push(label(w.accepted_by));
        owner.push(Span::raw(format!("{by}  ")));
    }
    if let Some(sup) = &i.supervisor {
        owner.push(label(w.supervisor));
        owner.push(Span::styled(
            format!("{} {}", app.model.name(sup), w.supervised_mark),
            BAD,
        ));
    } else if app.model.is_supervised(i) {
        owner.push(Span::styled(w.supervised_mark, BAD));
    }
    put(Line::from(owner), row(area, 2), buf);

    let mut times = vec![
        label(w.reported),
        Span::raw(format!(
            "{} ({} {})  ",
            text::date_time(i.reported, app.utc_offset),
            text::human(app.now.since(i.reported)),
            w.ago
        )),
    ];
    if i.state == IncidentState::Reported {
        times.push(label(w.accept_by));
        times.push(Span::raw(format!("{} ", text::clock(i.accept_by, app.utc_offset))));
        times.push(due_span(app, i.accept_by, 10));
    }
    if let Some(finish) = i.finish_by {
        times.push(label(w.finish_by));
        times.push(Span::raw(format!("{} ", text::date_time(finish, app.utc_offset))));
        if i.state.is_open() && i.state != IncidentState::Resolved && i.state != IncidentState::Verified {
            times.push(due_span(app, finish, 10));
        }
    }
    put(Line::from(times), row(area, 3), buf);

    let mut last = room_spans(app, i);
    if let Some(to) = app.model.forwarded.get(&i.id) {
        last.push(label(w.at_hop));
        last.push(Span::raw(format!("{}  ", app.model.name(to))));
    }
    last.push(Span::raw(r.detail.replace('\n', " ")));
    put(Line::from(last), row(area, 4), buf);
}

/// `协调室: 开启中 · 在场 4 · 任务 1/1 (m 查看 · o 退出)`, or `M 开启协调室`
/// for a leader at the owner, or nothing.
fn room_spans(app: &App, i: &Incident) -> Vec<Span<'static>> {
    let w = app.lang.words();
    let l = app.lang;
    let zh = l == crate::i18n::Lang::Zh;
    let Some(r) = app.room_header(i.id) else {
        let me = app.model.me();
        if app.is_leader() && me == Some(&i.owner) && i.state.is_open() {
            return vec![Span::styled(format!("M {}  ", w.act_room_open), TITLE)];
        }
        return Vec::new();
    };
    let mut spans = vec![label(w.room), super::room_screen::state_span(l, r)];
    let view = if zh { "查看" } else { "view" };
    let mut keys = format!("m {view}");
    if r.is_open() {
        let (present, tasks) = if zh {
            ("在场", "未完成任务")
        } else {
            ("present", "open tasks")
        };
        spans.push(Span::raw(format!(" · {present} {}", r.present.len())));
        if !r.tasks.is_empty() {
            spans.push(Span::raw(format!(
                " · {tasks} {}/{}",
                r.open_tasks().count(),
                r.tasks.len()
            )));
        }
        if app.present_in(r) {
            keys.push_str(&format!(" · o {}", w.act_room_leave));
        } else {
            keys.push_str(&format!(" · i {}", w.act_room_enter));
        }
    }
    spans.push(Span::styled(format!(" ({keys})  "), DIM));
    spans
}

fn actions(app: &App, i: &Incident, area: Rect, buf: &mut Buffer) {
    let w = app.lang.words();
    let me = app.model.me();
    let owner = me == Some(&i.owner);
    let origin = me == Some(&i.origin);
    let open = i.state.is_open();
    use IncidentState as S;
    let list = [
        ("a", w.act_accept, owner && i.state == S::Reported),
        ("e", w.act_escalate, owner && open),
        ("d", w.act_dispatch, owner && open),
        ("n", w.act_note, true),
        ("f", w.act_feedback, open),
        (
            "r",
            w.act_resolve,
            owner && matches!(i.state, S::Accepted | S::Dispatched),
        ),
        ("v", w.act_verify, origin && i.state == S::Resolved),
        ("b", w.act_send_back, origin && i.state == S::Resolved),
        ("c", w.act_close, owner && i.state == S::Verified),
        ("x", w.act_cancel, (owner || origin) && open),
    ];
    let mut spans = Vec::new();
    // The label only where there is room for it and every action.
    if area.width >= 110 {
        spans.push(Span::styled(format!("{}: ", w.actions), TITLE));
    }
    for (key, name, likely) in list {
        let style = if likely {
            Style::new().add_modifier(Modifier::BOLD)
        } else {
            DIM
        };
        spans.push(Span::styled(format!("{key} {name} "), style));
    }
    put(Line::from(spans), area, buf);
}

fn timeline(app: &App, i: &Incident, areas: &layout::DetailAreas, buf: &mut Buffer) {
    let w = app.lang.words();
    let focused = !app.detail_orders_pane;
    let title_style = if focused {
        TITLE.add_modifier(Modifier::UNDERLINED)
    } else {
        TITLE
    };
    put(
        Line::styled(format!("{} ({})", w.timeline, i.timeline.len()), title_style),
        areas.timeline_title,
        buf,
    );
    let area = areas.timeline;
    let node_cols = 12;
    let what_cols = usize::from(area.width).saturating_sub(2 + 9 + node_cols + 1);
    let window = app.timeline.window(i.timeline.len(), usize::from(area.height));
    for (y, n) in window.enumerate() {
        let e = &i.timeline[n];
        let selected = focused && n == app.timeline.cursor;
        let line = Line::from(vec![
            Span::styled(if selected { "> " } else { "  " }, TITLE),
            Span::styled(format!("{} ", text::clock(e.at, app.utc_offset)), DIM),
            Span::raw(format!("{} ", fit(app.model.name(&e.node), node_cols))),
            Span::raw(truncate(&e.what, what_cols)),
        ]);
        put(
            if selected { line.style(SELECTED) } else { line },
            row(area, y as u16),
            buf,
        );
    }
}

fn orders(app: &App, areas: &layout::DetailAreas, buf: &mut Buffer) {
    let w = app.lang.words();
    let focused = app.detail_orders_pane;
    let rows = app.detail_rows();
    let count = rows.iter().filter(|r| matches!(r, DetailRow::Order(_))).count();
    let title_style = if focused {
        TITLE.add_modifier(Modifier::UNDERLINED)
    } else {
        TITLE
    };
    put(
        Line::styled(format!("{} ({count})", w.orders), title_style),
        areas.orders_title,
        buf,
    );
    let area = areas.orders;
    if rows.is_empty() {
        put(Line::styled(format!("  {}", w.no_orders), DIM), area, buf);
        return;
    }
    let window = app.detail_orders.window(rows.len(), usize::from(area.height));
    for (y, n) in window.enumerate() {
        let selected = focused && n == app.detail_orders.cursor;
        let line = match rows[n] {
            DetailRow::Order(id) => app.model.orders.get(&id).map(|o| order_line(app, o, area.width)),
            DetailRow::Target(id, t) => app
                .model
                .orders
                .get(&id)
                .and_then(|o| o.targets.get(t))
                .map(|(node, status)| target_line(app, node, status, area.width)),
        };
        let Some(line) = line else { continue };
        let mut spans = vec![Span::styled(if selected { "> " } else { "  " }, TITLE)];
        spans.extend(line.spans);
        let line = Line::from(spans);
        put(
            if selected { line.style(SELECTED) } else { line },
            row(area, y as u16),
            buf,
        );
    }
}

/// `#3f2a8c01d2e4 [较大] 3/4 签收 · 启动防汛预案`
pub(super) fn order_line(app: &App, o: &OrderView, cols: u16) -> Line<'static> {
    let w = app.lang.words();
    let r = &o.roll_up;
    let sev = o.order.order.severity;
    let mut spans = vec![
        Span::styled(format!("#{} ", o.order.id), DIM),
        Span::styled(format!("[{}] ", app.lang.severity(sev)), severity_style(sev)),
        Span::styled(
            format!("{}/{} {} ", r.signed_for, r.targets, w.signed),
            if r.overdue > 0 {
                BAD
            } else if r.targets > 0 && r.signed_for == r.targets {
                GOOD
            } else {
                Style::new()
            },
        ),
    ];
    if r.overdue > 0 {
        spans.push(Span::styled(format!("{} {} ", w.overdue, r.overdue), BAD));
    }
    let used: usize = spans.iter().map(|s| width(&s.content)).sum::<usize>() + 4;
    spans.push(Span::raw(truncate(
        &o.order.order.instruction.replace('\n', " "),
        usize::from(cols).saturating_sub(used),
    )));
    Line::from(spans)
}

/// `    五一社区      已签收 张三    14:05:10  签收逾期`
pub(super) fn target_line(
    app: &App,
    node: &liandong_topology::NodeId,
    status: &liandong_dispatch::store::TargetStatus,
    cols: u16,
) -> Line<'static> {
    let w = app.lang.words();
    let zh = app.lang == crate::i18n::Lang::Zh;
    let note = match &status.state {
        TargetState::SignedFor { by } => by.clone(),
        TargetState::InProgress { note } | TargetState::Done { note } => note.clone(),
        TargetState::Refused { reason } => reason.clone(),
        TargetState::Pending | TargetState::Delivered => String::new(),
    };
    let state_style = match &status.state {
        TargetState::Refused { .. } => BAD,
        s if s.is_signed_for() => GOOD,
        _ => Style::new(),
    };
    let mut spans = vec![
        Span::raw(format!("  {} ", fit(app.model.name(node), 14))),
        Span::styled(
            format!(
                "{} ",
                fit(app.lang.target_state(&status.state), if zh { 6 } else { 11 })
            ),
            state_style,
        ),
        Span::styled(format!("{} ", text::clock(status.at, app.utc_offset)), DIM),
    ];
    if let Some(stage) = status.overdue {
        spans.push(Span::styled(format!("{}{} ", stage_label(app, stage), w.overdue), BAD));
    }
    let used: usize = spans.iter().map(|s| width(&s.content)).sum::<usize>() + 2;
    spans.push(Span::raw(truncate(&note, usize::from(cols).saturating_sub(used))));
    Line::from(spans)
}

/// A photo's size as people read it: KiB below a MiB, else MiB.
fn photo_size(bytes: u64) -> String {
    if bytes < 1 << 20 {
        format!("{} KiB", bytes.div_ceil(1024))
    } else {
        format!("{:.1} MiB", bytes as f64 / f64::from(1u32 << 20))
    }
}
