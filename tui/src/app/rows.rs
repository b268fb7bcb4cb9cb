//! The rows every list holds and how many of them fit.
//!
//! The board's rows (open incidents after the [`Filter`], by severity
//! then time left) and the orders screen's (newest first) are rebuilt
//! when the data or the filter changed, so drawing never sorts. After
//! every event [`App::settle`] also keeps each list's window on its
//! cursor for the terminal size, asking [`layout`] how many rows each
//! list shows, as the drawing does.

use liandong_control::OrderView;
use liandong_dispatch::store::{Incident, IncidentState};
use liandong_dispatch::wire::{EnvelopeId, Mode, Timestamp};
use liandong_topology::Severity;
use ratatui::layout::Rect;

use super::App;
use crate::layout::{self, FrameAreas};
use crate::model::Model;
use crate::screen::Screen;

/// Which incidents the board shows, by state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StateFilter {
    /// Every open incident (not closed, not cancelled).
    #[default]
    Open,
    Only(IncidentState),
}

impl StateFilter {
    const CYCLE: [StateFilter; 8] = [
        StateFilter::Open,
        StateFilter::Only(IncidentState::Reported),
        StateFilter::Only(IncidentState::Accepted),
        StateFilter::Only(IncidentState::Dispatched),
        StateFilter::Only(IncidentState::Resolved),
        StateFilter::Only(IncidentState::Verified),
        StateFilter::Only(IncidentState::Closed),
        StateFilter::Only(IncidentState::Cancelled),
    ];

    pub(super) fn next(self) -> StateFilter {
        let i = Self::CYCLE.iter().position(|&s| s == self).unwrap_or(0);
        Self::CYCLE[(i + 1) % Self::CYCLE.len()]
    }

    fn admits(self, state: IncidentState) -> bool {
        match self {
            StateFilter::Open => state.is_open(),
            StateFilter::Only(s) => s == state,
        }
    }
}

/// What the board shows (`s`, `t`, `e` and `/` set it, `c` clears it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only this severity and above.
    pub min_severity: Option<Severity>,
    pub state: StateFilter,
    /// Only real cases, or only drills.
    pub mode: Option<Mode>,
    /// Matches title, place, origin path, category or id prefix.
    pub search: String,
}

impl Filter {
    pub fn is_default(&self) -> bool {
        *self == Filter::default()
    }
}

/// A row of the detail's orders pane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DetailRow {
    Order(EnvelopeId),
    /// The order and the index of the target in its view.
    Target(EnvelopeId, usize),
}

impl App {
    /// The frame at the current terminal size, as it is drawn.
    pub(super) fn frame(&self) -> FrameAreas {
        let area = Rect::new(0, 0, self.size.0, self.size.1);
        layout::frame(area, !self.alarms.is_empty())
    }

    /// Rebuilds rows if anything changed and keeps every list's window on
    /// its cursor for the current terminal size. Runs after every event.
    pub(super) fn settle(&mut self) {
        if self.dirty {
            self.dirty = false;
            let selected = self.selected_incident();
            self.board_rows = self.compute_board_rows();
            if let Some(row) = selected.and_then(|id| self.board_rows.iter().position(|&r| r == id)) {
                self.board.cursor = row;
            }
            let selected_order = self.order_rows.get(self.orders.cursor).copied();
            self.order_rows = self.compute_order_rows();
            if let Some(row) = selected_order.and_then(|id| self.order_rows.iter().position(|&r| r == id)) {
                self.orders.cursor = row;
            }
        }
        let body = self.frame().body;
        self.board
            .follow(self.board_rows.len(), usize::from(layout::board(body).rows.height));
        let detail = layout::detail(body);
        let timeline_len = self
            .detail
            .and_then(|id| self.model.incidents.get(&id))
            .map_or(0, |i| i.timeline.len());
        let orders_len = if self.screen == Screen::Detail {
            self.detail_order_count()
        } else {
            0
        };
        self.timeline.follow(timeline_len, usize::from(detail.timeline.height));
        self.detail_orders.follow(orders_len, usize::from(detail.orders.height));
        let orders = layout::orders(body);
        self.orders
            .follow(self.order_rows.len(), usize::from(orders.list.height));
        let targets = self
            .order_rows
            .get(self.orders.cursor)
            .and_then(|id| self.model.orders.get(id))
            .map_or(0, |o| o.targets.len());
        self.order_targets.follow(targets, usize::from(orders.targets.height));
        let links = self.model.status.as_ref().map_or(0, |s| s.links.len());
        self.links.follow(links, usize::from(layout::links(body).rows.height));
        let report_rows = self.report.shown_rows().len();
        let shown = layout::report(body, report_rows).rows.height;
        self.report.rows.follow(report_rows, usize::from(shown));
        if let Some(c) = self.composer.as_mut() {
            c.tree_scroll
                .follow(c.tree.len(), usize::from(layout::composer(body).tree.height));
        }
        if let Some(p) = self.room.as_mut() {
            p.cursor = p.cursor.min(p.log.len().saturating_sub(1));
        }
    }

    fn compute_board_rows(&self) -> Vec<EnvelopeId> {
        let needle = self.filter.search.trim().to_lowercase();
        let mut rows: Vec<(std::cmp::Reverse<Severity>, u64, Timestamp, EnvelopeId)> = self
            .model
            .incidents
            .values()
            .filter(|i| self.filter.state.admits(i.state))
            .filter(|i| self.filter.min_severity.is_none_or(|s| i.report.severity >= s))
            .filter(|i| self.filter.mode.is_none_or(|m| i.mode == m))
            .filter(|i| needle.is_empty() || self.matches(i, &needle))
            .map(|i| {
                let due = Model::due(i).map_or(u64::MAX, |(t, _)| t.0);
                (std::cmp::Reverse(i.report.severity), due, i.reported, i.id)
            })
            .collect();
        // Severity first, then the nearest deadline (missed ones first, as
        // they are the nearest); a shift of the clock keeps the order, so
        // ticks need no re-sort.
        rows.sort_unstable();
        rows.into_iter().map(|r| r.3).collect()
    }

    fn matches(&self, i: &Incident, needle: &str) -> bool {
        let r = &i.report;
        [
            r.title.as_str(),
            r.place.as_str(),
            self.model.path(&i.origin),
            self.lang.category(r.category),
        ]
        .iter()
        .any(|s| s.to_lowercase().contains(needle))
            || format!("{:032x}", i.id.0).starts_with(needle)
    }

    fn compute_order_rows(&self) -> Vec<EnvelopeId> {
        let mut rows: Vec<&OrderView> = self.model.orders.values().collect();
        rows.sort_by_key(|o| (std::cmp::Reverse(o.order.issued), o.order.id));
        rows.into_iter().map(|o| o.order.id).collect()
    }

    /// Rows a page of the board holds.
    pub(super) fn board_page(&self) -> usize {
        usize::from(layout::board(self.frame().body).rows.height)
    }

    /// Rows a page of the detail's timeline and orders pane hold.
    pub(super) fn pages_detail(&self) -> (usize, usize) {
        let d = layout::detail(self.frame().body);
        (usize::from(d.timeline.height), usize::from(d.orders.height))
    }

    /// Rows a page of the orders list and its targets pane hold.
    pub(super) fn pages_orders(&self) -> (usize, usize) {
        let o = layout::orders(self.frame().body);
        (usize::from(o.list.height), usize::from(o.targets.height))
    }

    /// Rows of the safety report's table a page holds.
    pub(super) fn report_page(&self) -> usize {
        let rows = self.report.shown_rows().len();
        usize::from(layout::report(self.frame().body, rows).rows.height)
    }

    /// Rows of the room log a page holds.
    pub(super) fn room_page(&self) -> usize {
        let body = self.frame().body;
        let (roster, tasks) = self.room_rows();
        usize::from(layout::room(body, roster, tasks).log.height).max(1)
    }

    /// Rows the roster and the task list of the room screen want (the
    /// layout sizes them by these).
    pub(crate) fn room_rows(&self) -> (usize, usize) {
        let Some(r) = self.room.as_ref().and_then(|p| self.room_header(p.id)) else {
            return (1, 1);
        };
        let roster = r.present.len().max(1) + usize::from(!r.invited.is_empty());
        (roster, r.open_tasks().count().max(1))
    }

    /// The detail's orders pane, one row per order followed by one per
    /// target.
    pub(crate) fn detail_rows(&self) -> Vec<DetailRow> {
        let Some(incident) = self.detail.and_then(|id| self.model.incidents.get(&id)) else {
            return Vec::new();
        };
        let mut rows = Vec::new();
        for order in self.model.orders_of(incident) {
            rows.push(DetailRow::Order(order.order.id));
            rows.extend((0..order.targets.len()).map(|t| DetailRow::Target(order.order.id, t)));
        }
        rows
    }

    pub(super) fn detail_order_count(&self) -> usize {
        self.detail_rows().len()
    }

    pub(super) fn detail_order_at(&self, row: usize) -> Option<EnvelopeId> {
        self.detail_rows().get(row).map(|r| match r {
            DetailRow::Order(id) | DetailRow::Target(id, _) => *id,
        })
    }
}
