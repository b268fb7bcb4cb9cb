//! The safety report's figures (平安报表): asking the node for them and
//! folding its answers into the screen's [`ReportPane`](crate::report_pane::ReportPane).
//!
//! Every figures request is `Query::Figures` for this center (`center:
//! None`) and one period; the pane says which periods to ask and keeps
//! one out at a time. It is asked when the screen opens, on `r`, on
//! stepping into another month (`[`, `]`), on a new snapshot or a
//! child's `Summary` while it is open, and when the console's clock
//! passes midnight while it shows the current month; never on a timer.

use liandong_control::{Query, Request, Response};
use liandong_dispatch::figures::Period;

use super::{Action, App};
use crate::report_pane::Moved;
use crate::screen::Screen;

impl App {
    /// The report screen opened (or `r`): follow the clock and ask for
    /// every period it shows.
    pub(super) fn ask_report(&mut self, out: &mut Vec<Action>) {
        self.report.set_clock(self.now);
        self.report.want_all();
        self.next_figures(out);
    }

    /// The clock moved: while the screen is open and shows the current
    /// month, a new day asks for what changed with it.
    pub(super) fn report_clock(&mut self, out: &mut Vec<Action>) {
        if self.screen != Screen::Report {
            return;
        }
        match self.report.set_clock(self.now) {
            Moved::Not => {}
            Moved::Month => self.report.want_all(),
            Moved::Day { yesterday } => {
                if let (Some(today), Some(month)) = (self.report.today, self.report.month) {
                    self.report.want(today);
                    self.report.want(yesterday);
                    self.report.want(month);
                }
            }
        }
        self.next_figures(out);
    }

    /// `[` or `]`: the period before or after; another month is asked
    /// for.
    pub(super) fn step_report(&mut self, back: bool, out: &mut Vec<Action>) {
        if self.report.step(back) {
            self.report.want_all();
            self.next_figures(out);
        }
    }

    /// A child's summary for `period` came: while the screen is open,
    /// that period is asked again (if it is on the screen).
    pub(super) fn report_summary(&mut self, period: Period, out: &mut Vec<Action>) {
        if self.screen == Screen::Report {
            self.report.want(period);
            self.next_figures(out);
        }
    }

    /// Sends the next figures request, if none is out and the screen is
    /// open (what is left waits for it to open again, which asks anew).
    fn next_figures(&mut self, out: &mut Vec<Action>) {
        if self.screen != Screen::Report {
            return;
        }
        if let Some(period) = self.report.next_ask() {
            out.push(Action::Send(figures_request(period)));
        }
    }

    /// Folds the answer to a figures request for `period` (as asked) and
    /// asks the next.
    pub(super) fn on_figures(&mut self, period: &str, response: Result<Response, String>, out: &mut Vec<Action>) {
        let Ok(period) = Period::parse(period) else {
            return;
        };
        let w = self.lang.words();
        match response {
            Ok(Response::Figures(report)) => self.report.answered(period, *report),
            Ok(Response::Refused { reason }) => {
                self.say(format!("{}: {reason}", w.refused), true);
                self.report.refused(period, reason);
            }
            Ok(other) => {
                let reason = format!("{}: {}", w.error, other.kind());
                self.say(reason.clone(), true);
                self.report.refused(period, reason);
            }
            Err(reason) => {
                self.say(format!("{}: {reason}", w.error), true);
                self.report.failed(period, reason);
            }
        }
        self.next_figures(out);
    }
}

/// This center's subtree report for `period`.
pub(super) fn figures_request(period: Period) -> Request {
    Request::Query(Query::Figures {
        period: period.to_string(),
        center: None,
    })
}
