//! Where everything goes, as pure functions of the terminal area (and
//! of the few facts that change it: an alarm banner, how many rows the
//! room's roster and tasks want).
//!
//! Drawing ([`crate::ui`]) and the app's mouse hit-testing both call
//! these, so a click lands on the row that was drawn there; the app
//! ([`crate::app`]) also uses them to know how many rows each list
//! shows, to keep cursors in view. It imports neither: both depend on
//! it, so state never depends on drawing.

use ratatui::layout::Rect;

use crate::composer::Field;
use crate::i18n::Lang;
use crate::screen::Screen;

/// Width from which the board shows owner level and age.
pub const BOARD_MEDIUM: u16 = 100;
/// Width from which the board also shows the category.
pub const BOARD_WIDE: u16 = 140;
/// Width from which the detail and orders screens put panes side by side.
pub const SIDE_BY_SIDE: u16 = 120;

#[derive(Debug, Clone, Copy)]
pub struct FrameAreas {
    /// Tabs and who/where/when, top line.
    pub tabs: Rect,
    /// The alarm banner (zero height without alarms).
    pub alarm: Rect,
    pub body: Rect,
    /// Messages, connection, or the open prompt.
    pub status: Rect,
    /// Key hints for the screen.
    pub hints: Rect,
}

/// Splits `h` rows off the top of `r`.
fn top(r: Rect, h: u16) -> (Rect, Rect) {
    let h = h.min(r.height);
    (
        Rect { height: h, ..r },
        Rect {
            y: r.y + h,
            height: r.height - h,
            ..r
        },
    )
}

/// Splits `h` rows off the bottom of `r`.
fn bottom(r: Rect, h: u16) -> (Rect, Rect) {
    let h = h.min(r.height);
    (
        Rect {
            height: r.height - h,
            ..r
        },
        Rect {
            y: r.y + r.height - h,
            height: h,
            ..r
        },
    )
}

/// Splits `w` columns off the left of `r`.
fn left(r: Rect, w: u16) -> (Rect, Rect) {
    let w = w.min(r.width);
    (
        Rect { width: w, ..r },
        Rect {
            x: r.x + w,
            width: r.width - w,
            ..r
        },
    )
}

/// The whole terminal; `alarm`: an alarm is waiting (the banner shows).
pub fn frame(area: Rect, alarm: bool) -> FrameAreas {
    let (tabs, rest) = top(area, 1);
    let (alarm, rest) = top(rest, u16::from(alarm));
    let (rest, hints) = bottom(rest, 1);
    let (body, status) = bottom(rest, 1);
    FrameAreas {
        tabs,
        alarm,
        body,
        status,
        hints,
    }
}

/// The clickable tabs, left to right, each label as drawn.
pub fn tabs(lang: Lang) -> [(Screen, String); 4] {
    let w = lang.words();
    [
        (Screen::Board, format!(" 1 {} ", w.board)),
        (Screen::Orders, format!(" 2 {} ", w.orders)),
        (Screen::Links, format!(" 3 {} ", w.links)),
        (Screen::Report, format!(" 4 {} ", lang.report().tab)),
    ]
}

#[derive(Debug, Clone, Copy)]
pub struct BoardAreas {
    pub filter: Rect,
    pub header: Rect,
    pub rows: Rect,
}

pub fn board(body: Rect) -> BoardAreas {
    let (filter, rest) = top(body, 1);
    let (header, rows) = top(rest, 1);
    BoardAreas { filter, header, rows }
}

#[derive(Debug, Clone, Copy)]
pub struct DetailAreas {
    pub info: Rect,
    pub actions: Rect,
    pub timeline_title: Rect,
    pub timeline: Rect,
    pub orders_title: Rect,
    pub orders: Rect,
}

/// Lines of incident facts above the panes.
pub const DETAIL_INFO: u16 = 5;

pub fn detail(body: Rect) -> DetailAreas {
    let (info, rest) = top(body, DETAIL_INFO);
    let (actions, rest) = top(rest, 1);
    let (a, b) = if rest.width >= SIDE_BY_SIDE {
        let (a, b) = left(rest, rest.width * 3 / 5);
        // One column between the panes.
        (
            a,
            Rect {
                x: b.x + 1,
                width: b.width.saturating_sub(1),
                ..b
            },
        )
    } else {
        top(rest, rest.height.div_ceil(2))
    };
    let (timeline_title, timeline) = top(a, 1);
    let (orders_title, orders) = top(b, 1);
    DetailAreas {
        info,
        actions,
        timeline_title,
        timeline,
        orders_title,
        orders,
    }
}

#[derive(Debug, Clone, Copy)]
pub struct OrdersAreas {
    pub list_header: Rect,
    pub list: Rect,
    pub targets_title: Rect,
    pub targets: Rect,
}

pub fn orders(body: Rect) -> OrdersAreas {
    let (a, b) = if body.width >= SIDE_BY_SIDE {
        let (a, b) = left(body, body.width * 3 / 5);
        (
            a,
            Rect {
                x: b.x + 1,
                width: b.width.saturating_sub(1),
                ..b
            },
        )
    } else {
        top(body, body.height.div_ceil(2))
    };
    let (list_header, list) = top(a, 1);
    let (targets_title, targets) = top(b, 1);
    OrdersAreas {
        list_header,
        list,
        targets_title,
        targets,
    }
}

#[derive(Debug, Clone, Copy)]
pub struct LinksAreas {
    pub info: Rect,
    pub header: Rect,
    pub rows: Rect,
    pub notices_title: Rect,
    pub notices: Rect,
}

pub fn links(body: Rect) -> LinksAreas {
    let (info, rest) = top(body, 3);
    let (rest, notices) = bottom(rest, (rest.height / 3).max(3));
    let (header, rows) = top(rest, 1);
    let (notices_title, notices) = top(notices, 1);
    LinksAreas {
        info,
        header,
        rows,
        notices_title,
        notices,
    }
}

#[derive(Debug, Clone)]
pub struct ComposerAreas {
    pub title: Rect,
    pub tree_title: Rect,
    pub tree: Rect,
    /// One line per choice field, in the order drawn.
    pub fields: Vec<(Field, Rect)>,
    pub instruction_title: Rect,
    pub instruction: Rect,
    pub send: Rect,
    pub problem: Rect,
}

pub fn composer(body: Rect) -> ComposerAreas {
    let (title, rest) = top(body, 1);
    let tree_width = (rest.width * 2 / 5).clamp(24.min(rest.width), 48);
    let (tree_area, form) = left(rest, tree_width);
    let form = Rect {
        x: form.x + 1,
        width: form.width.saturating_sub(1),
        ..form
    };
    let (tree_title, tree) = top(tree_area, 1);
    let mut fields = Vec::new();
    let mut rest = form;
    for field in [
        Field::Targets,
        Field::Level,
        Field::Severity,
        Field::Deadline,
        Field::Mode,
    ] {
        let (line, r) = top(rest, 1);
        fields.push((field, line));
        rest = r;
    }
    let (instruction_title, rest) = top(rest, 1);
    let (rest, problem) = bottom(rest, 1);
    let (instruction, send) = bottom(rest, 1);
    fields.push((Field::Send, send));
    ComposerAreas {
        title,
        tree_title,
        tree,
        fields,
        instruction_title,
        instruction,
        send,
        problem,
    }
}

#[derive(Debug, Clone, Copy)]
pub struct RoomAreas {
    /// Title, severity, home, state, mode.
    pub header: Rect,
    pub roster_title: Rect,
    pub roster: Rect,
    pub tasks_title: Rect,
    pub tasks: Rect,
    pub log_title: Rect,
    pub log: Rect,
    /// The input line, the whole width.
    pub input: Rect,
}

/// Rows the narrow room layout gives the roster and the tasks (side by
/// side, above the log) at most; more show as "+N".
pub const ROOM_SIDE_ROWS: u16 = 4;

/// The room screen. Narrow: the roster and the open tasks side by side
/// above the log, each as tall as the longer needs (up to
/// [`ROOM_SIDE_ROWS`]). From [`SIDE_BY_SIDE`]: the log on the left, the
/// roster and the tasks stacked on the right. `roster` and `tasks` are
/// the rows each wants.
pub fn room(body: Rect, roster: usize, tasks: usize) -> RoomAreas {
    let (header, rest) = top(body, 1);
    let (rest, input) = bottom(rest, 1);
    let gap = |r: Rect| Rect {
        x: r.x + 1,
        width: r.width.saturating_sub(1),
        ..r
    };
    let want = |n: usize| u16::try_from(n).unwrap_or(u16::MAX);
    let (log_area, roster_area, tasks_area) = if rest.width >= SIDE_BY_SIDE {
        let (a, b) = left(rest, rest.width * 3 / 5);
        let b = gap(b);
        // The roster takes what it needs, up to half; the tasks the rest.
        let roster_h = want(roster).saturating_add(1).min(b.height / 2);
        let (r, t) = top(b, roster_h);
        (a, r, t)
    } else {
        let rows = want(roster.max(tasks)).clamp(1, ROOM_SIDE_ROWS) + 1;
        let (side, log) = top(rest, rows);
        let (r, t) = left(side, side.width * 9 / 20);
        (log, r, gap(t))
    };
    let (roster_title, roster) = top(roster_area, 1);
    let (tasks_title, tasks) = top(tasks_area, 1);
    let (log_title, log) = top(log_area, 1);
    RoomAreas {
        header,
        roster_title,
        roster,
        tasks_title,
        tasks,
        log_title,
        log,
        input,
    }
}

#[derive(Debug, Clone, Copy)]
pub struct ReportAreas {
    /// The period, the subtree's safety index, drills apart.
    pub title: Rect,
    /// Index warnings, children awaiting, the node's refusal.
    pub notes: Rect,
    pub header: Rect,
    /// The table: one row per source, as many as the charts show.
    pub rows: Rect,
    /// Above the bars and above the sparklines.
    pub bars_title: Rect,
    pub sparks_title: Rect,
    /// Each row's safety index as a bar, its name on the left, one line
    /// per row of the table.
    pub bars: Rect,
    /// Each row's reports received per day, on the line of its bar.
    pub sparks: Rect,
}

/// Columns of the sparklines' side: a month of days and a count.
pub const REPORT_SPARKS: u16 = 40;

/// The safety report screen for a report of `rows` sources: two lines
/// of title, the table's header and rows, then the charts showing the
/// same rows one line each: the index bars on the left, the sparklines
/// on the right. The table and the charts share what is left: each
/// shows all the rows if they fit, else the same window of them.
pub fn report(body: Rect, rows: usize) -> ReportAreas {
    let (title, rest) = top(body, 1);
    let (notes, rest) = top(rest, 1);
    let (header, rest) = top(rest, 1);
    // n table rows, a title line, n chart rows; a blank line between the
    // table and the charts when there is room.
    let fit = rest.height.saturating_sub(1) / 2;
    let n = u16::try_from(rows).unwrap_or(u16::MAX).clamp(1, fit.max(1));
    let (table, rest) = top(rest, n);
    let rest = if rest.height > n + 1 { top(rest, 1).1 } else { rest };
    let (titles, rest) = top(rest, 1);
    let (charts, _) = top(rest, n);
    let bars_w = charts.width.saturating_sub(REPORT_SPARKS.min(charts.width / 2));
    let (bars, sparks) = left(charts, bars_w);
    let (bars_title, sparks_title) = left(titles, bars_w);
    let gap = |r: Rect| Rect {
        x: r.x + 1.min(r.width),
        width: r.width.saturating_sub(1),
        ..r
    };
    ReportAreas {
        title,
        notes,
        header,
        rows: table,
        bars_title,
        sparks_title: gap(sparks_title),
        bars,
        sparks: gap(sparks),
    }
}

/// Row `y` of `area`, one line high (not clipped: drawing clips).
pub fn row(area: Rect, y: u16) -> Rect {
    Rect {
        y: area.y + y,
        height: 1,
        ..area
    }
}

/// A box of at most `w` x `h` centred in `area`.
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}
