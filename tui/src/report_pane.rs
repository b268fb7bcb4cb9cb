//! The safety report screen's state (平安报表): this center's subtree
//! report for a month and for each of its days, as the node answered
//! `Query::Figures`, and what is still to ask.
//!
//! # The period on screen
//! The screen opens on the current month (or, with `d`, today), both
//! from the console's clock (ticks and the times of notices), never from
//! a clock read here. `[` and `]` step back and forward a month (or a
//! day), never past today. While it shows the current period it follows
//! the clock past midnight. A child's summary for a period is sent once
//! the period has ended, so the current month and today show the
//! children as awaiting (what reached this center from them) and the
//! days before today show what their summaries said.
//!
//! # What is asked, and when
//! Opening the screen (or `r`, or a new snapshot while it is open) asks
//! for everything: the month, then the day on screen, then every other
//! day of the month up to today (the days give the sparklines of
//! reports received per day, and the day view). Stepping into another
//! month asks for that month the same way; stepping within it asks for
//! nothing. A child's `Summary` notice while the screen is open asks
//! again for the period it is about, if it is the month on screen or one
//! of its days; the clock passing midnight asks for the new day, the day
//! before (now whole) and the month, if they are on screen. Nothing is
//! asked on a timer.
//!
//! Requests go one at a time: the next leaves when the answer to the one
//! out comes back, so at most one figures request of the screen is in
//! flight and a month of days never meets the driver's bound on requests
//! in flight. A failure to reach the node ends the round (`r` starts
//! another); a refusal is shown and the round goes on. Leaving the
//! screen pauses the round (the app sends nothing more while it is
//! closed); opening it again asks anew.
//!
//! # Bounds
//! - The queue holds each period at most once: the month and at most its
//!   31 days.
//! - `days` holds at most 31 reports, one per day of the month on screen.
//! - At most [`MAX_WARNINGS`] index warnings are kept, oldest dropped.

use std::collections::VecDeque;

use liandong_dispatch::calendar::days_in_month;
use liandong_dispatch::figures::{Period, Report, Row};
use liandong_dispatch::wire::Timestamp;
use liandong_topology::NodeId;

use crate::list::Scroll;

/// Index warnings (`IndexAlarm` notices) kept for the screen.
pub const MAX_WARNINGS: usize = 16;

/// A child's safety index under the policy's line, as the node warned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub child: NodeId,
    pub period: Period,
    /// Tenths of a point.
    pub index: u32,
    /// The line, in points.
    pub below: u32,
    pub at: Timestamp,
}

/// What moving the clock changed on screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moved {
    /// Nothing shown changed (the same day, or a past month on screen).
    Not,
    /// A new month on screen (or the clock first known): ask for it all.
    Month,
    /// A new day in the month on screen: ask for it, the day before it
    /// and the month.
    Day { yesterday: Period },
}

/// What the safety report screen shows.
#[derive(Debug, Clone, Default)]
pub struct ReportPane {
    /// Today by the console's clock (`Period::Day`), once it is known.
    pub today: Option<Period>,
    /// The month on screen (`Period::Month`).
    pub month: Option<Period>,
    /// The day the day view shows (`Period::Day`), in `month`.
    pub day: Option<Period>,
    /// Show `day`'s report instead of the month's (`d`).
    pub day_view: bool,
    /// The month's report, as last answered.
    pub month_report: Option<Report>,
    /// Each day of the month up to today or its end (index: day - 1),
    /// as answered.
    pub days: Vec<Option<Report>>,
    /// Periods still to ask, in order, each once.
    queue: VecDeque<Period>,
    /// The period whose request is out.
    asking: Option<Period>,
    /// The node's last refusal or failure, until an answer comes.
    pub problem: Option<String>,
    /// The latest index warnings, oldest first.
    pub warnings: VecDeque<Warning>,
    /// The table's cursor and window (the chart shows the same rows).
    pub rows: Scroll,
}

impl ReportPane {
    /// Follows the clock to `now`. While the screen shows the current
    /// month, a new day is added to it (and shown, if today was); a
    /// new month is shown afresh if the old one was current.
    pub fn set_clock(&mut self, now: Timestamp) -> Moved {
        if now.0 == 0 {
            return Moved::Not;
        }
        let today = Period::day_of(now);
        let Some(before) = self.today else {
            self.today = Some(today);
            self.show(today);
            return Moved::Month;
        };
        if before == today {
            return Moved::Not;
        }
        self.today = Some(today);
        let current = self.month == Some(month_of(before));
        if !current {
            return Moved::Not;
        }
        if month_of(today) != month_of(before) {
            self.show(today);
            return Moved::Month;
        }
        self.days.resize(day_number(today), None);
        if self.day == Some(before) {
            self.day = Some(today);
        }
        Moved::Day { yesterday: before }
    }

    /// Steps the period on screen back (or forward): a day in the day
    /// view, a month in the month view; never past today. Returns true
    /// if the month on screen changed (ask for it all).
    pub fn step(&mut self, back: bool) -> bool {
        let (Some(today), Some(day), Some(month)) = (self.today, self.day, self.month) else {
            return false;
        };
        let target = match (self.day_view, back) {
            (true, true) => day.previous(),
            (true, false) => day.next(),
            // A month back shows its last day in the day view; the
            // current month's is today.
            (false, true) => Period::day_of(Timestamp(month.start().0.saturating_sub(1))),
            (false, false) => Period::day_of(month.end()),
        };
        if target > today {
            return false;
        }
        let target = if !self.day_view && month_of(target) == month_of(today) {
            today
        } else {
            target
        };
        if month_of(target) == month {
            self.day = Some(target);
            return false;
        }
        self.show(target);
        true
    }

    /// Queues every period of the screen: the month, the day on screen,
    /// then the other days of the month up to today or its end.
    pub fn want_all(&mut self) {
        let (Some(month), Some(day)) = (self.month, self.day) else {
            return;
        };
        self.want(month);
        self.want(day);
        for day in self.day_periods() {
            self.want(day);
        }
    }

    /// Queues `period` if the screen shows it (the month or one of its
    /// days up to today) and it is not queued already. A period whose
    /// request is out is queued again: its answer may be older than the
    /// change that asks for it.
    pub fn want(&mut self, period: Period) {
        if self.slot(period).is_some() && !self.queue.contains(&period) {
            self.queue.push_back(period);
        }
    }

    /// The next period to ask, if none is out.
    pub fn next_ask(&mut self) -> Option<Period> {
        if self.asking.is_some() {
            return None;
        }
        self.asking = self.queue.pop_front();
        self.asking
    }

    /// The node's report for `period` (kept if it is still on screen).
    pub fn answered(&mut self, period: Period, report: Report) {
        self.done_asking(period);
        self.problem = None;
        match self.slot(period) {
            Some(None) => self.month_report = Some(report),
            Some(Some(i)) => self.days[i] = Some(report),
            None => {}
        }
    }

    /// The node refused to give `period`'s figures: shown, the round goes on.
    pub fn refused(&mut self, period: Period, reason: String) {
        self.done_asking(period);
        self.problem = Some(reason);
    }

    /// The request for `period` failed (the connection): the round ends.
    pub fn failed(&mut self, period: Period, reason: String) {
        self.done_asking(period);
        self.queue.clear();
        self.problem = Some(reason);
    }

    /// True while figures are being asked for.
    pub fn busy(&self) -> bool {
        self.asking.is_some() || !self.queue.is_empty()
    }

    /// Keeps an index warning (dropping the oldest past the bound).
    pub fn warn(&mut self, warning: Warning) {
        if self.warnings.len() == MAX_WARNINGS {
            self.warnings.pop_front();
        }
        self.warnings.push_back(warning);
    }

    /// The period on screen: the day or the month.
    pub fn period(&self) -> Option<Period> {
        if self.day_view { self.day } else { self.month }
    }

    /// True if the period on screen is still running (today, or this
    /// month): its children's summaries cannot have come yet.
    pub fn running(&self) -> bool {
        match (self.period(), self.today) {
            (Some(p), Some(today)) => p.contains(today.start()),
            _ => false,
        }
    }

    /// The report on screen, if it has come.
    pub fn shown(&self) -> Option<&Report> {
        match (self.day_view, self.day) {
            (true, Some(day)) => self.days.get(day_number(day) - 1)?.as_ref(),
            (true, None) => None,
            (false, _) => self.month_report.as_ref(),
        }
    }

    /// The rows on screen (none before the report comes).
    pub fn shown_rows(&self) -> &[Row] {
        self.shown().map_or(&[], |r| r.rows.as_slice())
    }

    /// Reports received per day of the month from `node`'s row (actual
    /// cases): `None` for a day not answered yet, 0 for a day whose
    /// report has no such row.
    pub fn received_per_day(&self, node: &NodeId) -> Vec<Option<u64>> {
        self.days
            .iter()
            .map(|d| {
                d.as_ref().map(|r| {
                    r.rows
                        .iter()
                        .find(|row| &row.node == node)
                        .map_or(0, |row| row.actual.received)
                })
            })
            .collect()
    }

    /// Days in the month on screen (the sparklines' full width).
    pub fn month_days(&self) -> usize {
        match self.month {
            Some(Period::Month { year, month }) => days_in_month(year.into(), month.into()) as usize,
            _ => 0,
        }
    }

    /// Shows the month of `day` afresh, with `day` for the day view: its
    /// days up to today or the month's end, nothing answered yet.
    fn show(&mut self, day: Period) {
        let month = month_of(day);
        self.month = Some(month);
        self.day = Some(day);
        self.month_report = None;
        self.queue.clear();
        let upto = match self.today {
            Some(today) if month.contains(today.start()) => day_number(today),
            _ => self.month_days(),
        };
        self.days = vec![None; upto];
        self.rows = Scroll::default();
    }

    /// Where a period's report goes: `Some(None)` the month,
    /// `Some(Some(i))` day `i + 1`, `None` not on screen.
    fn slot(&self, period: Period) -> Option<Option<usize>> {
        if Some(period) == self.month {
            return Some(None);
        }
        (period.is_day() && Some(month_of(period)) == self.month && day_number(period) <= self.days.len())
            .then(|| Some(day_number(period) - 1))
    }

    /// The days of the month on screen that it holds, the first on.
    fn day_periods(&self) -> Vec<Period> {
        let Some(Period::Month { year, month }) = self.month else {
            return Vec::new();
        };
        (1..=self.days.len() as u8)
            .map(|day| Period::Day { year, month, day })
            .collect()
    }

    fn done_asking(&mut self, period: Period) {
        if self.asking == Some(period) {
            self.asking = None;
        }
    }
}

/// The month a day (or month) is in.
fn month_of(p: Period) -> Period {
    Period::month_of(p.start())
}

/// 1 for the first of the month (1 for a month).
fn day_number(p: Period) -> usize {
    match p {
        Period::Day { day, .. } => usize::from(day),
        Period::Month { .. } => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Period {
        Period::parse(text).expect("a period")
    }

    fn at(day: &str) -> Timestamp {
        // Noon in China on that day.
        Timestamp(p(day).start().0 + 12 * 3_600_000)
    }

    fn drain(pane: &mut ReportPane) -> Vec<String> {
        let mut asked = Vec::new();
        while let Some(period) = pane.next_ask() {
            asked.push(period.to_string());
            pane.refused(period, "test".into());
        }
        asked
    }

    #[test]
    fn the_month_then_today_then_the_other_days_once_each() {
        let mut pane = ReportPane::default();
        assert_eq!(pane.set_clock(at("2026-11-03")), Moved::Month);
        pane.want_all();
        pane.want_all();
        assert_eq!(drain(&mut pane), ["2026-11", "2026-11-03", "2026-11-01", "2026-11-02"]);
        // A period off the screen is not asked.
        pane.want(p("2026-10-31"));
        pane.want(p("2026-11-04"));
        assert_eq!(pane.next_ask(), None);
    }

    #[test]
    fn one_request_at_a_time_and_a_failure_ends_the_round() {
        let mut pane = ReportPane::default();
        pane.set_clock(at("2026-11-22"));
        pane.want_all();
        let first = pane.next_ask().unwrap();
        assert_eq!(pane.next_ask(), None, "the month is out");
        pane.failed(first, "lost".into());
        assert!(!pane.busy());
        assert_eq!(pane.problem.as_deref(), Some("lost"));
    }

    #[test]
    fn midnight_adds_a_day_and_a_new_month_starts_afresh() {
        let mut pane = ReportPane::default();
        pane.set_clock(at("2026-11-29"));
        assert_eq!(pane.set_clock(at("2026-11-29")), Moved::Not);
        assert_eq!(
            pane.set_clock(at("2026-11-30")),
            Moved::Day {
                yesterday: p("2026-11-29")
            }
        );
        assert_eq!((pane.days.len(), pane.day), (30, Some(p("2026-11-30"))));
        pane.warn(Warning {
            child: NodeId::parse("350102").unwrap(),
            period: p("2026-11"),
            index: 540,
            below: 60,
            at: Timestamp(1),
        });
        assert_eq!(pane.set_clock(at("2026-12-01")), Moved::Month);
        assert_eq!((pane.month, pane.days.len()), (Some(p("2026-12")), 1));
        assert_eq!(pane.warnings.len(), 1, "warnings outlive the month");
        assert_eq!(pane.month_days(), 31);
    }

    #[test]
    fn stepping_back_and_forth_never_past_today() {
        let mut pane = ReportPane::default();
        pane.set_clock(at("2026-11-22"));
        assert!(!pane.step(false), "no month after this one");
        assert!(pane.step(true));
        assert_eq!((pane.month, pane.day), (Some(p("2026-10")), Some(p("2026-10-31"))));
        assert_eq!(pane.days.len(), 31, "a past month has all its days");
        assert!(!pane.running());
        // The clock moving does not take a past month off the screen.
        assert_eq!(pane.set_clock(at("2026-11-23")), Moved::Not);
        assert!(pane.step(false));
        assert_eq!((pane.month, pane.day), (Some(p("2026-11")), Some(p("2026-11-23"))));
        assert_eq!(pane.days.len(), 23);
        assert!(pane.running());
        // Days step within the month without asking, across it with.
        pane.day_view = true;
        assert!(!pane.step(false));
        assert!(!pane.step(true));
        assert_eq!(pane.day, Some(p("2026-11-22")));
        assert!(!pane.running());
        for _ in 0..21 {
            assert!(!pane.step(true));
        }
        assert_eq!(pane.day, Some(p("2026-11-01")));
        assert!(pane.step(true));
        assert_eq!((pane.month, pane.day), (Some(p("2026-10")), Some(p("2026-10-31"))));
    }
}
