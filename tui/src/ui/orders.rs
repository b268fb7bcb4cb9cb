//! Orders (交办指令): every order this node knows, newest first, with its
//! sign-for roll-up and finish countdown; below (or beside) it the
//! selected order's targets. Orders addressed to this node and not yet
//! signed for are marked 待我签收 / "to sign".

use liandong_control::OrderView;
use liandong_dispatch::wire::Targets;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};

use super::detail::target_line;
use super::paint::{BAD, DIM, GOOD, SELECTED, TITLE, cells, due_span, put, severity_style};
use crate::app::App;
use crate::layout;
use liandong_control::text::fit;

pub(super) fn render(app: &App, body: Rect, buf: &mut Buffer) {
    let w = app.lang.words();
    let areas = layout::orders(body);
    let zh = app.lang == crate::i18n::Lang::Zh;
    let sev = if zh { 8 } else { 7 };
    let mark = if zh { 8 } else { 7 };
    let issuer = 12;
    let targets = 12;
    let roll = 7;
    let due = 8;
    let fixed = 2 + sev + 1 + mark + 1 + issuer + 1 + targets + 1 + roll + 1 + due + 1 + 1;
    let instruction = usize::from(areas.list.width).saturating_sub(fixed).max(6);
    let list_focused = !app.orders_targets_pane;
    let head_style = if list_focused {
        TITLE.add_modifier(Modifier::UNDERLINED)
    } else {
        TITLE
    };
    put(
        cells([
            (String::new(), 1, head_style),
            (w.col_severity.to_owned(), sev, head_style),
            (String::new(), mark, head_style),
            (w.col_instruction.to_owned(), instruction, head_style),
            (w.col_issuer.to_owned(), issuer, head_style),
            (w.col_targets.to_owned(), targets, head_style),
            (w.col_orders.to_owned(), roll, head_style),
            (w.col_due.to_owned(), due, head_style),
        ]),
        areas.list_header,
        buf,
    );
    if app.order_rows.is_empty() {
        put(Line::styled(format!("  {}", w.no_orders), DIM), areas.list, buf);
    }
    let me = app.model.me();
    let window = app.orders.window(app.order_rows.len(), usize::from(areas.list.height));
    for (y, n) in window.enumerate() {
        let Some(o) = app.model.orders.get(&app.order_rows[n]) else {
            continue;
        };
        let selected = n == app.orders.cursor;
        let for_me = me.is_some_and(|me| {
            o.targets
                .iter()
                .any(|(t, s)| t == me && !s.state.is_signed_for() && !s.state.is_final())
        });
        let r = &o.roll_up;
        let roll_style = if r.overdue > 0 {
            BAD
        } else if r.targets > 0 && r.signed_for == r.targets {
            GOOD
        } else {
            Style::new()
        };
        let line = Line::from(vec![
            Span::styled(if selected { "> " } else { "  " }, TITLE),
            Span::styled(
                format!("{} ", fit(app.lang.severity(o.order.order.severity), sev)),
                severity_style(o.order.order.severity),
            ),
            Span::styled(format!("{} ", fit(if for_me { w.for_me } else { "" }, mark)), BAD),
            Span::raw(format!(
                "{} ",
                fit(&o.order.order.instruction.replace('\n', " "), instruction)
            )),
            Span::raw(format!("{} ", fit(app.model.name(&o.order.issuer), issuer))),
            Span::raw(format!("{} ", fit(&targets_text(app, o), targets))),
            Span::styled(
                format!("{} ", fit(&format!("{}/{}", r.signed_for, r.targets), roll)),
                roll_style,
            ),
            due_span(app, o.order.finish_by, due),
        ]);
        put(
            if selected && list_focused {
                line.style(SELECTED)
            } else {
                line
            },
            Rect {
                y: areas.list.y + y as u16,
                height: 1,
                ..areas.list
            },
            buf,
        );
    }

    let selected = app
        .order_rows
        .get(app.orders.cursor)
        .and_then(|id| app.model.orders.get(id));
    let targets_focused = app.orders_targets_pane;
    let title_style = if targets_focused {
        TITLE.add_modifier(Modifier::UNDERLINED)
    } else {
        TITLE
    };
    let Some(o) = selected else {
        put(Line::styled(w.col_targets, title_style), areas.targets_title, buf);
        return;
    };
    put(
        Line::from(vec![
            Span::styled(format!("{} ({}) ", w.col_targets, o.targets.len()), title_style),
            Span::styled(format!("#{} ", o.order.id), DIM),
            Span::raw(o.order.order.instruction.replace('\n', " ")),
        ]),
        areas.targets_title,
        buf,
    );
    let window = app
        .order_targets
        .window(o.targets.len(), usize::from(areas.targets.height));
    for (y, n) in window.enumerate() {
        let (node, status) = &o.targets[n];
        let selected = targets_focused && n == app.order_targets.cursor;
        let mut spans = vec![Span::styled(if selected { "> " } else { "  " }, TITLE)];
        spans.extend(target_line(app, node, status, areas.targets.width.saturating_sub(2)).spans);
        let line = Line::from(spans);
        put(
            if selected { line.style(SELECTED) } else { line },
            Rect {
                y: areas.targets.y + y as u16,
                height: 1,
                ..areas.targets
            },
            buf,
        );
    }
}

/// `五一社区`, `3 个节点`, `鼓楼区 全辖区`.
pub(super) fn targets_text(app: &App, o: &OrderView) -> String {
    let w = app.lang.words();
    match &o.order.order.targets {
        Targets::Node(n) => app.model.name(n).to_owned(),
        Targets::List(list) => format!("{} {}", list.len(), w.nodes),
        Targets::Subtree { root, level: None } => format!("{} {}", app.model.name(root), w.whole_subtree),
        Targets::Subtree { root, level: Some(l) } => {
            format!("{} {}", app.model.name(root), app.lang.level(*l))
        }
    }
}
