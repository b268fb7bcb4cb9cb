//! The mouse: the wheel scrolls as the arrow keys do; a click on a tab
//! goes there (asking for what it shows, as its key does), a click on a
//! row selects it and a click on the selected row opens it, a click on
//! a pane or field gives it the focus. Hits are
//! tested against [`layout`], the same areas the drawing uses. Nothing
//! is clickable under the help or a prompt.

use crossterm::event::{KeyCode, KeyEvent, MouseButton, MouseEvent, MouseEventKind};
use liandong_control::text::width;
use ratatui::layout::{Position, Rect};

use super::{Action, App};
use crate::composer;
use crate::layout;
use crate::list::Scroll;
use crate::screen::Screen;

impl App {
    pub(super) fn on_mouse(&mut self, mouse: MouseEvent, out: &mut Vec<Action>) {
        let at = Position::new(mouse.column, mouse.row);
        let frame = self.frame();
        let step = match mouse.kind {
            MouseEventKind::ScrollDown => Some(KeyCode::Down),
            MouseEventKind::ScrollUp => Some(KeyCode::Up),
            _ => None,
        };
        if self.help || self.prompt.is_some() {
            return;
        }
        if let Some(code) = step {
            self.on_key(KeyEvent::from(code), &mut Vec::new());
            return;
        }
        if mouse.kind != MouseEventKind::Down(MouseButton::Left) {
            return;
        }
        if frame.tabs.contains(at) && self.screen != Screen::Composer {
            let mut x = frame.tabs.x;
            for (screen, label) in layout::tabs(self.lang) {
                let w = width(&label) as u16;
                if (x..x + w).contains(&mouse.column) {
                    self.open_tab(screen, out);
                    return;
                }
                x += w;
            }
            return;
        }
        // A click on a row selects it; a click on the selected row opens it.
        let row_hit = |rows: Rect, scroll: &Scroll| -> Option<usize> {
            rows.contains(at)
                .then(|| scroll.offset + usize::from(mouse.row - rows.y))
        };
        match self.screen {
            Screen::Board => {
                let rows = layout::board(frame.body).rows;
                if let Some(row) = row_hit(rows, &self.board)
                    && row < self.board_rows.len()
                {
                    if row == self.board.cursor {
                        self.open_detail(self.board_rows[row]);
                    } else {
                        self.board.cursor = row;
                    }
                }
            }
            Screen::Orders => {
                let areas = layout::orders(frame.body);
                if let Some(row) = row_hit(areas.list, &self.orders)
                    && row < self.order_rows.len()
                {
                    self.orders.cursor = row;
                    self.orders_targets_pane = false;
                } else if let Some(row) = row_hit(areas.targets, &self.order_targets) {
                    self.order_targets.cursor = row;
                    self.orders_targets_pane = true;
                }
            }
            Screen::Links => {
                if let Some(row) = row_hit(layout::links(frame.body).rows, &self.links) {
                    self.links.cursor = row;
                }
            }
            Screen::Report => {
                let len = self.report.shown_rows().len();
                if let Some(row) = row_hit(layout::report(frame.body, len).rows, &self.report.rows)
                    && row < len
                {
                    self.report.rows.cursor = row;
                }
            }
            Screen::Detail => {
                let areas = layout::detail(frame.body);
                if let Some(row) = row_hit(areas.orders, &self.detail_orders) {
                    self.detail_orders.cursor = row;
                    self.detail_orders_pane = true;
                } else if areas.timeline.contains(at) {
                    self.detail_orders_pane = false;
                }
            }
            Screen::Room => {
                let (roster, tasks) = self.room_rows();
                let areas = layout::room(frame.body, roster, tasks);
                if let Some(p) = self.room.as_mut() {
                    if areas.input.contains(at) {
                        p.typing = true;
                    } else if areas.log.contains(at) {
                        p.typing = false;
                    }
                }
            }
            Screen::Composer => {
                let areas = layout::composer(frame.body);
                if let Some(c) = self.composer.as_mut()
                    && c.stage == composer::Stage::Editing
                {
                    if let Some(row) = row_hit(areas.tree, &c.tree_scroll)
                        && row < c.tree.len()
                    {
                        c.focus = composer::Field::Targets;
                        if row == c.tree_scroll.cursor {
                            c.toggle_mark(row);
                        } else {
                            c.tree_scroll.cursor = row;
                        }
                    } else if areas.instruction.contains(at) {
                        c.focus = composer::Field::Instruction;
                    } else if let Some((field, _)) = areas.fields.iter().find(|(_, r)| r.contains(at)) {
                        c.focus = *field;
                    }
                }
            }
        }
    }
}
