//! Links (链路): this node, its parent, children and member units with
//! link state, round-trip time, queued copies and when each was last
//! heard; below, the latest notices the node pushed.
//!
//! Link states change live (`LinkChanged`); RTT and queue depth come with
//! the node's status, which the console asks for once when this screen
//! opens, when a link changes, and on `r`, never on a timer.

use liandong_control::{Notice, Pushed};
use liandong_dispatch::wire::Item;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};

use super::paint::{BAD, DIM, GOOD, SELECTED, TITLE, cells, put, severity_style};
use crate::app::App;
use crate::layout::{self, row};
use liandong_control::text::{self, fit, truncate};

pub(super) fn render(app: &App, body: Rect, buf: &mut Buffer) {
    let w = app.lang.words();
    let areas = layout::links(body);
    let Some(s) = &app.model.status else {
        put(Line::styled(w.connecting, DIM), areas.info, buf);
        return;
    };
    put(
        Line::from(vec![
            Span::styled(format!("{}: ", w.this_node), DIM),
            Span::styled(s.name.clone(), TITLE),
            Span::raw(format!(" ({} · {})", s.node, app.lang.level(s.level))),
        ]),
        row(areas.info, 0),
        buf,
    );
    let mut parent = vec![Span::styled(format!("{}: ", w.parent), DIM)];
    match &s.parent {
        None => parent.push(Span::raw("—")),
        Some(p) => {
            parent.push(Span::raw(format!("{} ({p}) ", app.model.name(p))));
            if let Some(link) = s.links.iter().find(|l| &l.peer == p) {
                parent.push(if link.up {
                    Span::styled(w.up, GOOD)
                } else {
                    Span::styled(w.down, BAD)
                });
            }
        }
    }
    if s.failed_over {
        let via = app.model.notices.iter().rev().find_map(|n| match &n.notice {
            Notice::FailedOver { via, .. } => Some(via.clone()),
            _ => None,
        });
        parent.push(Span::styled(
            format!("  {}", w.failed_over),
            Style::new().fg(Color::Yellow),
        ));
        if let Some(via) = via {
            parent.push(Span::styled(
                format!(" {} {}", w.via, app.model.name(&via)),
                Style::new().fg(Color::Yellow),
            ));
        }
    }
    put(Line::from(parent), row(areas.info, 1), buf);
    if let Some(problem) = &s.storage_problem {
        put(
            Line::styled(format!("{}: {problem}", w.storage_problem), BAD),
            row(areas.info, 2),
            buf,
        );
    }

    let (rel, name, id, state, rtt, queued, heard) = (10, 16, 14, 6, 7, 6, 10);
    put(
        cells([
            (String::new(), 1, TITLE),
            (w.col_relation.to_owned(), rel, TITLE),
            (w.col_peer.to_owned(), name, TITLE),
            (String::new(), id, TITLE),
            (w.col_link.to_owned(), state, TITLE),
            (w.col_rtt.to_owned(), rtt, TITLE),
            (w.col_queued.to_owned(), queued, TITLE),
            (w.col_last_heard.to_owned(), heard, TITLE),
        ]),
        areas.header,
        buf,
    );
    let window = app.links.window(s.links.len(), usize::from(areas.rows.height));
    for (y, n) in window.enumerate() {
        let l = &s.links[n];
        let selected = n == app.links.cursor;
        let heard_text = if l.last_heard.0 == 0 {
            "—".to_owned()
        } else {
            format!("{} {}", text::human(app.now.since(l.last_heard)), w.ago)
        };
        let line = Line::from(vec![
            Span::styled(if selected { "> " } else { "  " }, TITLE),
            Span::raw(format!("{} ", fit(&app.lang.relation(&l.relation), rel))),
            Span::raw(format!("{} ", fit(&l.name, name))),
            Span::styled(format!("{} ", fit(l.peer.as_str(), id)), DIM),
            if l.up {
                Span::styled(format!("{} ", fit(w.up, state)), GOOD)
            } else {
                Span::styled(format!("{} ", fit(w.down, state)), BAD)
            },
            Span::raw(format!(
                "{} ",
                fit(&l.rtt_ms.map_or("—".to_owned(), |ms| format!("{ms}ms")), rtt)
            )),
            Span::styled(
                format!("{} ", fit(&l.queued.to_string(), queued)),
                if l.queued > 0 {
                    Style::new().fg(Color::Yellow)
                } else {
                    Style::new()
                },
            ),
            Span::raw(fit(&heard_text, heard)),
        ]);
        put(
            if selected { line.style(SELECTED) } else { line },
            row(areas.rows, y as u16),
            buf,
        );
    }

    put(
        Line::styled(format!("{} ({})", w.recent, app.model.notices.len()), TITLE),
        areas.notices_title,
        buf,
    );
    for (y, pushed) in app
        .model
        .notices
        .iter()
        .rev()
        .take(usize::from(areas.notices.height))
        .enumerate()
    {
        let (text, style) = notice_text(app, pushed);
        put(
            Line::from(vec![
                Span::styled(format!("  {} ", text::clock(pushed.at, app.utc_offset)), DIM),
                Span::styled(
                    truncate(&text, usize::from(areas.notices.width).saturating_sub(11)),
                    style,
                ),
            ]),
            row(areas.notices, y as u16),
            buf,
        );
    }
}

/// One line about a pushed notice, in the console's language.
pub(super) fn notice_text(app: &App, p: &Pushed) -> (String, Style) {
    let l = app.lang;
    let zh = l == crate::i18n::Lang::Zh;
    let name = |id| app.model.name(id).to_owned();
    let plain = Style::new();
    match &p.notice {
        Notice::IncidentRecorded { incident, .. } => {
            let sev = l.severity(incident.report.severity);
            let origin = name(&incident.origin);
            let title = &incident.report.title;
            let text = if zh {
                format!("新事件 [{sev}] {title} · {origin}")
            } else {
                format!("new incident [{sev}] {title} from {origin}")
            };
            (text, severity_style(incident.report.severity))
        }
        Notice::IncidentChanged { incident, action, by } => {
            let title = &incident.report.title;
            let by = name(by);
            let state = l.state(incident.state);
            let text = if zh {
                format!("事件 {title}: {action} ({by}) → {state}")
            } else {
                format!("incident {title}: {action} by {by}, now {state}")
            };
            (text, plain)
        }
        Notice::OrderReceived { order } => {
            let from = name(&order.order.issuer);
            let what = order.order.order.instruction.replace('\n', " ");
            let text = if zh {
                format!("收到交办 ({from}): {what}")
            } else {
                format!("order from {from}: {what}")
            };
            (text, Style::new().fg(Color::Yellow))
        }
        Notice::OrderProgress {
            order,
            target,
            state,
            roll_up,
        } => {
            let target = name(target);
            let st = l.target_state(state);
            let text = if zh {
                format!(
                    "指令 #{order}: {target} {st} ({}/{} 签收)",
                    roll_up.signed_for, roll_up.targets
                )
            } else {
                format!(
                    "order #{order}: {target} {st} ({}/{} signed)",
                    roll_up.signed_for, roll_up.targets
                )
            };
            (text, plain)
        }
        Notice::Forwarded { id, to } => {
            let to = name(to);
            (
                if zh {
                    format!("#{id} 已送达 {to}")
                } else {
                    format!("#{id} stored at {to}")
                },
                DIM,
            )
        }
        Notice::Supervised {
            item,
            stage,
            supervisor,
        } => {
            let what = match item {
                Item::Incident(id) => app
                    .model
                    .incidents
                    .get(id)
                    .map_or_else(|| format!("#{id}"), |i| i.report.title.clone()),
                Item::OrderTarget { order, target } => format!("#{order} @ {}", name(target)),
            };
            let stage = l.stage(*stage);
            let sup = name(supervisor);
            let text = if zh {
                format!("督办: {what} {stage}超时, 由 {sup} 督办")
            } else {
                format!("supervised: {what} missed its {stage} deadline; {sup} supervises")
            };
            (text, BAD)
        }
        Notice::DeadLettered { id, stuck_at } => {
            let at = name(stuck_at);
            let text = if zh {
                format!("#{id} 投递超时, 滞留于 {at}")
            } else {
                format!("#{id} expired undelivered at {at}")
            };
            (text, BAD)
        }
        Notice::LinkChanged { peer, up } => {
            let peer = name(peer);
            let w = l.words();
            let text = format!("{}: {peer} {}", w.col_link, if *up { w.up } else { w.down });
            (text, if *up { GOOD } else { BAD })
        }
        Notice::FailedOver { parent, via } => {
            let (parent, via) = (name(parent), name(via));
            let text = if zh {
                format!("越级: 上级 {parent} 不可达, 经 {via}")
            } else {
                format!("skip-level: parent {parent} unreachable, via {via}")
            };
            (text, Style::new().fg(Color::Yellow))
        }
        Notice::Refused { peer, reason } => {
            let peer = name(peer);
            let text = if zh {
                format!("拒收 {peer} 的消息: {reason}")
            } else {
                format!("refused from {peer}: {reason}")
            };
            (text, BAD)
        }
        Notice::RoomChanged { room, entry } => {
            // The room log's own words: 刘洋 · 闽侯县: 【决定】…
            let who = super::room_screen::who(app, entry);
            let (what, style) = super::room_screen::what(app, entry);
            let text = if zh {
                format!("协调室 {} #{}: {who}: {what}", room.title, entry.seq)
            } else {
                format!("room {} #{}: {who}: {what}", room.title, entry.seq)
            };
            (text, style)
        }
        Notice::RoomRefused { room, reason, .. } => {
            let title = app
                .model
                .rooms
                .get(room)
                .map_or_else(|| room.to_string(), |r| r.title.clone());
            let text = if zh {
                format!("协调室 {title}: 未受理 {reason}")
            } else {
                format!("room {title}: refused: {reason}")
            };
            (text, BAD)
        }
        Notice::DocumentApplied { version } => {
            let text = if zh {
                format!("联动网配置已更新：第 {version} 版")
            } else {
                format!("federation document version {version} applied")
            };
            (text, plain)
        }
        Notice::Storage { problem: Some(problem) } => (format!("{}: {problem}", l.words().storage_problem), BAD),
        Notice::Storage { problem: None } => (
            if zh {
                "存储恢复".into()
            } else {
                "storage recovered".into()
            },
            GOOD,
        ),
        Notice::Summary {
            child,
            period,
            version,
            late,
        } => {
            let child = name(child);
            let late = match (late, zh) {
                (false, _) => "",
                (true, true) => " (迟报)",
                (true, false) => " (late)",
            };
            let text = if zh {
                format!("{child} 报送 {period} 平安报表 第 {version} 版{late}")
            } else {
                format!("{child} sent its {period} safety report, version {version}{late}")
            };
            (text, plain)
        }
        Notice::IndexAlarm {
            child,
            period,
            index,
            below,
        } => {
            let child = name(child);
            let index = super::paint::tenths(*index);
            let text = if zh {
                format!("预警 {child} {period} 平安指数 {index}, 低于 {below}")
            } else {
                format!("alarm: {child} safety index {index} for {period}, under {below}")
            };
            (text, BAD)
        }
        Notice::Lagged { missed } => (
            if zh {
                format!("漏收 {missed} 条通知, 重新订阅")
            } else {
                format!("missed {missed} notices; subscribing again")
            },
            Style::new().fg(Color::Yellow),
        ),
    }
}
