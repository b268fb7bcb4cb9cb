//! The drawing vocabulary every screen shares: the styles, the severity
//! colours, a line put into a row, table cells, an editor's line with
//! its cursor, a dialog box, a deadline's countdown. The screens import
//! it; it imports none of them (nor the frame in `ui`).

use liandong_dispatch::wire::Stage;
use liandong_topology::Severity;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Widget};

use crate::app::App;
use crate::editor::Editor;
use liandong_control::text::{self, fit, width};

/// Orange, for severity II (the 256-colour palette's 208).
pub const ORANGE: Color = Color::Indexed(208);

/// The colour of a severity: I red, II orange, III yellow, IV blue,
/// routine plain.
pub fn severity_style(s: Severity) -> Style {
    match s {
        Severity::I => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        Severity::II => Style::new().fg(ORANGE).add_modifier(Modifier::BOLD),
        Severity::III => Style::new().fg(Color::Yellow),
        Severity::IV => Style::new().fg(Color::LightBlue),
        Severity::Routine => Style::new(),
    }
}

pub(super) const DIM: Style = Style::new().fg(Color::DarkGray);
pub(super) const BAD: Style = Style::new().fg(Color::Red).add_modifier(Modifier::BOLD);
pub(super) const GOOD: Style = Style::new().fg(Color::Green);
pub(super) const TITLE: Style = Style::new().add_modifier(Modifier::BOLD);
pub(super) const SELECTED: Style = Style::new().add_modifier(Modifier::REVERSED);

/// The marker in front of the row under the cursor; it shows the
/// selection where colours do not (monochrome terminals, snapshots).
pub(super) const CURSOR: &str = ">";

/// Draws a one-line `Line` into the first row of `area`.
pub(super) fn put(line: Line<'_>, area: Rect, buf: &mut Buffer) {
    if area.height > 0 && area.width > 0 {
        line.render(Rect { height: 1, ..area }, buf);
    }
}

/// A row of cells, each fitted to its width and followed by a space.
pub(super) fn cells<'a>(cols: impl IntoIterator<Item = (String, usize, Style)>) -> Line<'a> {
    let mut spans = Vec::new();
    for (text, w, style) in cols {
        spans.push(Span::styled(fit(&text, w), style));
        spans.push(Span::raw(" "));
    }
    Line::from(spans)
}

/// One line of an editor as spans, the cursor drawn as a reversed cell,
/// scrolled horizontally so the cursor stays inside `cols` columns.
pub(super) fn editor_line(editor: &Editor, row: usize, cols: usize) -> Vec<Span<'static>> {
    let line = editor.lines().get(row).map_or("", String::as_str);
    let (cursor_row, cursor_col) = editor.cursor();
    let cursor_here = cursor_row == row;
    // Skip whole characters from the left until the cursor fits.
    let mut skip_cols = 0;
    if cursor_here && cursor_col + 1 > cols {
        skip_cols = cursor_col + 1 - cols;
    }
    let mut spans = Vec::new();
    let mut col = 0;
    let mut shown = 0;
    let mut text = String::new();
    let mut drew_cursor = false;
    for c in line.chars() {
        let cw = width(c.encode_utf8(&mut [0; 4]));
        if col < skip_cols {
            col += cw;
            continue;
        }
        if shown + cw > cols {
            break;
        }
        if cursor_here && col == cursor_col {
            spans.push(Span::raw(std::mem::take(&mut text)));
            spans.push(Span::styled(c.to_string(), SELECTED));
            drew_cursor = true;
        } else {
            text.push(c);
        }
        col += cw;
        shown += cw;
    }
    spans.push(Span::raw(text));
    if cursor_here && !drew_cursor && shown < cols {
        spans.push(Span::styled(" ", SELECTED));
    }
    spans
}

/// Clears `area` and draws a titled box; returns the inside.
pub(super) fn dialog(title: &str, area: Rect, buf: &mut Buffer) -> Rect {
    use ratatui::widgets::{Block, Borders};
    Clear.render(area, buf);
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(format!(" {title} "), TITLE));
    let inner = block.inner(area);
    block.render(area, buf);
    inner
}

/// `受理 -2m10s` style countdown span for a deadline.
pub(super) fn due_span(app: &App, deadline: liandong_dispatch::wire::Timestamp, cols: usize) -> Span<'static> {
    let (text, missed) = text::countdown(app.now, deadline);
    Span::styled(fit(&text, cols), if missed { BAD } else { Style::new() })
}

pub(super) fn stage_label(app: &App, stage: Stage) -> &'static str {
    app.lang.stage(stage)
}

/// A safety index in tenths as points: 863 → "86.3".
pub(super) use liandong_dispatch::figures::index_text as tenths;
