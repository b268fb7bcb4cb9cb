//! The dispatch composer (交办): the target tree on the left, the form on
//! the right, a confirmation box, then the order's acknowledgements live.

use liandong_topology::Topology;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};

use super::detail::target_line;
use super::paint::{BAD, DIM, GOOD, SELECTED, TITLE, dialog, due_span, editor_line, put, severity_style};
use crate::app::App;
use crate::composer::{Composer, DEADLINES, Field, Problem, Stage};
use crate::layout;
use liandong_control::text::{self, fit, truncate};

pub(super) fn render(app: &App, body: Rect, buf: &mut Buffer) {
    let w = app.lang.words();
    let (Some(c), Some(topology)) = (app.composer.as_ref(), app.model.topology.as_ref()) else {
        put(Line::styled(w.no_topology, DIM), body, buf);
        return;
    };
    if let Stage::Watching(id) = c.stage {
        return watch(app, id, body, buf);
    }
    let areas = layout::composer(body);
    let mut title = vec![Span::styled(w.composer, TITLE)];
    if let Some(i) = c.incident.and_then(|id| app.model.incidents.get(&id)) {
        title.push(Span::raw(format!("  · {}: ", w.for_incident)));
        title.push(Span::styled(
            format!("[{}] ", app.lang.severity(i.report.severity)),
            severity_style(i.report.severity),
        ));
        title.push(Span::raw(i.report.title.clone()));
    }
    put(Line::from(title), areas.title, buf);
    tree(app, c, topology, &areas, buf);
    form(app, c, topology, &areas, buf);
    if c.stage == Stage::Confirm {
        confirm(app, c, topology, body, buf);
    }
}

fn focus_style(on: bool) -> Style {
    if on {
        TITLE.add_modifier(Modifier::UNDERLINED)
    } else {
        TITLE
    }
}

fn tree(app: &App, c: &Composer, topology: &Topology, areas: &layout::ComposerAreas, buf: &mut Buffer) {
    let w = app.lang.words();
    let focused = c.focus == Field::Targets && c.stage == Stage::Editing;
    put(
        Line::styled(
            format!("{} ({})", w.targets, c.tree.len().saturating_sub(1)),
            focus_style(focused),
        ),
        areas.tree_title,
        buf,
    );
    let area = areas.tree;
    // Nodes the picked subtree reaches (with its level filter).
    let in_subtree = |id: &liandong_topology::NodeId| match &c.subtree {
        Some(root) => {
            id != root && topology.is_ancestor(root, id) && c.level.is_none_or(|l| topology.level(id) == Some(l))
        }
        None => false,
    };
    let window = c.tree_scroll.window(c.tree.len(), usize::from(area.height));
    for (y, n) in window.enumerate() {
        let r = &c.tree[n];
        let node = topology.get(&r.id);
        let mark = if c.subtree.as_ref() == Some(&r.id) {
            "[*]"
        } else if c.marked.contains(&r.id) {
            "[x]"
        } else if in_subtree(&r.id) {
            "[+]"
        } else if r.depth == 0 {
            "   "
        } else {
            "[ ]"
        };
        let selected = n == c.tree_scroll.cursor;
        let indent = "  ".repeat(usize::from(r.depth));
        let level = node.map_or("", |n| app.lang.level(n.level));
        let name = node.map_or(r.id.as_str(), |n| n.name.as_str());
        let room = usize::from(area.width).saturating_sub(2 + 4 + indent.len() + 7);
        let line = Line::from(vec![
            Span::styled(if selected && focused { "> " } else { "  " }, TITLE),
            Span::styled(format!("{mark} "), if mark == "   " { DIM } else { TITLE }),
            Span::raw(indent),
            Span::raw(format!("{} ", truncate(name, room))),
            Span::styled(level.to_owned(), DIM),
        ]);
        put(
            if selected { line.style(SELECTED) } else { line },
            Rect {
                y: area.y + y as u16,
                height: 1,
                ..area
            },
            buf,
        );
    }
}

/// "3 个节点: 鼓东街道, 五一社区, …" or "鼓楼区 全辖区 (村社区): 4 个节点".
fn targets_summary(app: &App, c: &Composer, topology: &Topology) -> String {
    let w = app.lang.words();
    let n = c.target_count(topology);
    match &c.subtree {
        Some(root) => {
            let level = c.level.map_or(w.all, |l| app.lang.level(l));
            format!(
                "{} {} ({level}): {n} {}",
                app.model.name(root),
                w.whole_subtree,
                w.nodes
            )
        }
        None if c.marked.is_empty() => w.nothing_selected.to_owned(),
        None => {
            let names: Vec<&str> = c.marked.iter().map(|id| app.model.name(id)).collect();
            format!("{n} {}: {}", w.nodes, names.join(", "))
        }
    }
}

fn deadline_text(app: &App, c: &Composer, topology: &Topology) -> String {
    let w = app.lang.words();
    match DEADLINES[c.deadline] {
        Some(d) => text::human(d),
        None => format!(
            "{} ({})",
            w.policy_default,
            text::human(topology.policy().deadlines(c.severity).finish)
        ),
    }
}

fn form(app: &App, c: &Composer, topology: &Topology, areas: &layout::ComposerAreas, buf: &mut Buffer) {
    let w = app.lang.words();
    let editing = c.stage == Stage::Editing;
    let field = |f: Field, name: &str, value: Vec<Span<'static>>, area: Rect, buf: &mut Buffer| {
        let on = editing && c.focus == f;
        let mut spans = vec![
            Span::styled(if on { "> " } else { "  " }, TITLE),
            Span::styled(format!("{} ", fit(name, 10)), if on { SELECTED } else { DIM }),
        ];
        spans.extend(value);
        put(Line::from(spans), area, buf);
    };
    let arrows = |on: bool, s: Span<'static>| -> Vec<Span<'static>> {
        if on {
            vec![Span::raw("< "), s, Span::raw(" >")]
        } else {
            vec![Span::raw("  "), s]
        }
    };
    for (f, area) in &areas.fields {
        let on = editing && c.focus == *f;
        match f {
            Field::Targets => field(
                *f,
                w.targets,
                vec![Span::raw(truncate(
                    &targets_summary(app, c, topology),
                    usize::from(area.width).saturating_sub(14),
                ))],
                *area,
                buf,
            ),
            Field::Level => {
                let value = c.level.map_or(w.all, |l| app.lang.level(l));
                let value = if c.subtree.is_some() {
                    Span::raw(value)
                } else {
                    Span::styled(value, DIM)
                };
                field(*f, w.level_filter, arrows(on, value), *area, buf)
            }
            Field::Severity => field(
                *f,
                w.severity,
                arrows(
                    on,
                    Span::styled(app.lang.severity(c.severity), severity_style(c.severity)),
                ),
                *area,
                buf,
            ),
            Field::Deadline => field(
                *f,
                w.deadline,
                arrows(on, Span::raw(deadline_text(app, c, topology))),
                *area,
                buf,
            ),
            Field::Mode => field(*f, w.mode, arrows(on, Span::raw(app.lang.mode(c.mode))), *area, buf),
            Field::Send => {
                let style = if on {
                    SELECTED.add_modifier(Modifier::BOLD)
                } else {
                    TITLE
                };
                put(
                    Line::from(vec![
                        Span::styled(if on { "> " } else { "  " }, TITLE),
                        Span::styled(format!("[ {} ]", w.send), style),
                        Span::styled("  Ctrl-S", DIM),
                    ]),
                    *area,
                    buf,
                );
            }
            Field::Instruction => {}
        }
    }

    let typing = editing && c.focus == Field::Instruction;
    put(
        Line::from(vec![
            Span::styled(if typing { "> " } else { "  " }, TITLE),
            Span::styled(w.instruction, focus_style(typing)),
        ]),
        areas.instruction_title,
        buf,
    );
    let area = areas.instruction;
    let lines = c.instruction.lines();
    let height = usize::from(area.height);
    let (cursor_row, _) = c.instruction.cursor();
    let first = (cursor_row + 1).saturating_sub(height);
    for (y, row) in (first..lines.len()).take(height).enumerate() {
        let mut spans = vec![Span::styled("  | ", DIM)];
        if typing {
            spans.extend(editor_line(
                &c.instruction,
                row,
                usize::from(area.width).saturating_sub(4),
            ));
        } else {
            spans.push(Span::raw(truncate(
                &lines[row],
                usize::from(area.width).saturating_sub(4),
            )));
        }
        put(
            Line::from(spans),
            Rect {
                y: area.y + y as u16,
                height: 1,
                ..area
            },
            buf,
        );
    }

    let problem = match (&c.stage, c.problem) {
        (Stage::Sending, _) => Some(Line::styled(format!("  {}", w.waiting_answer), DIM)),
        (_, Some(Problem::NoTargets)) => Some(Line::styled(format!("  {}", w.need_targets), BAD)),
        (_, Some(Problem::NoInstruction)) => Some(Line::styled(format!("  {}", w.need_instruction), BAD)),
        _ => None,
    };
    if let Some(line) = problem {
        put(line, areas.problem, buf);
    }
}

fn confirm(app: &App, c: &Composer, topology: &Topology, body: Rect, buf: &mut Buffer) {
    let w = app.lang.words();
    let lines = c.instruction.lines();
    let shown = lines.len().min(4);
    let area = layout::centered(body, 64, 8 + shown as u16);
    let inner = dialog(w.confirm_title, area, buf);
    let cols = usize::from(inner.width);
    let mut rows: Vec<Line> = vec![
        Line::from(vec![
            Span::styled(format!("{}: ", w.targets), DIM),
            Span::raw(truncate(&targets_summary(app, c, topology), cols.saturating_sub(10))),
        ]),
        Line::from(vec![
            Span::styled(format!("{}: ", w.severity), DIM),
            Span::styled(app.lang.severity(c.severity), severity_style(c.severity)),
            Span::styled(format!("   {}: ", w.deadline), DIM),
            Span::raw(deadline_text(app, c, topology)),
            Span::styled(format!("   {}: ", w.mode), DIM),
            Span::raw(app.lang.mode(c.mode)),
        ]),
        Line::styled(format!("{}:", w.instruction), DIM),
    ];
    rows.extend(
        lines
            .iter()
            .take(shown)
            .map(|l| Line::raw(format!("  {}", truncate(l, cols - 2)))),
    );
    rows.push(Line::raw(""));
    rows.push(Line::styled(w.confirm_yes_no, TITLE));
    for (y, line) in rows.into_iter().enumerate().take(usize::from(inner.height)) {
        put(
            line,
            Rect {
                y: inner.y + y as u16,
                height: 1,
                ..inner
            },
            buf,
        );
    }
}

/// After sending: the order's roll-up and each target's state, live.
fn watch(app: &App, id: liandong_dispatch::wire::EnvelopeId, body: Rect, buf: &mut Buffer) {
    let w = app.lang.words();
    let row = |y: u16| layout::row(body, y);
    let Some(o) = app.model.orders.get(&id) else {
        put(
            Line::from(vec![
                Span::styled(format!("{} #{id}  ", w.watching), TITLE),
                Span::styled(w.waiting_answer, DIM),
            ]),
            row(0),
            buf,
        );
        return;
    };
    let r = &o.roll_up;
    put(
        Line::from(vec![
            Span::styled(format!("{} #{id}  ", w.watching), TITLE),
            Span::raw(o.order.order.instruction.replace('\n', " ")),
        ]),
        row(0),
        buf,
    );
    let all_signed = r.targets > 0 && r.signed_for == r.targets;
    put(
        Line::from(vec![
            Span::styled(
                format!("{}/{} {}", r.signed_for, r.targets, w.signed),
                if all_signed { GOOD } else { TITLE },
            ),
            Span::raw(format!(
                " · {} {} · {} {} · ",
                r.done,
                app.lang
                    .target_state(&liandong_dispatch::wire::TargetState::Done { note: String::new() }),
                r.refused,
                app.lang
                    .target_state(&liandong_dispatch::wire::TargetState::Refused { reason: String::new() }),
            )),
            Span::styled(
                format!("{} {}", r.overdue, w.overdue),
                if r.overdue > 0 { BAD } else { Style::new() },
            ),
            Span::styled(format!("   {}: ", w.finish_by), DIM),
            due_span(app, o.order.finish_by, 10),
        ]),
        row(1),
        buf,
    );
    for (y, (node, status)) in o
        .targets
        .iter()
        .enumerate()
        .take(usize::from(body.height.saturating_sub(3)))
    {
        put(target_line(app, node, status, body.width), row(3 + y as u16), buf);
    }
}
