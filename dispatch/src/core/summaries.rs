//! The roll-up of figures (平安报表). At each period's end (day and month,
//! as the policy says), after a grace per level below it, a center sends
//! its subtree's figures to its parent as a summary on the bulk lane: an
//! ordinary durable envelope, acked, retried and caught up like any other.
//! A parent checks a summary (its signer is its center, sent to the
//! signer's parent), keeps the child's latest version, raises the early
//! warning when the child's 平安指数 falls under the policy's line, and,
//! when it had already sent its own summary for that period, sends a new
//! version marked late. A center back from being down sends what it owes
//! for the periods that ended meanwhile, and again if a report of such a
//! period is first recorded here after it sent (caught up late).

use super::*;
use crate::figures::{self, Period, Summary, SummaryRecord};

/// How long a summary may wait for a parent that is down.
pub const SUMMARY_TTL: Duration = Duration::from_secs(40 * 24 * 3600);

/// Periods of each kind a center back from being down sends at most.
const CATCH_UP: usize = 31;

impl Core {
    /// This center's subtree report for `period`: its own figures from its
    /// store plus each child's latest summary for the period.
    pub fn report(&self, period: Period) -> figures::Report {
        let own = figures::fold(&self.store, &self.topology, &self.me, period);
        let children: Vec<(NodeId, Option<&SummaryRecord>)> = (self.topology.children_ix(self.me_ix).iter())
            .map(|&c| {
                let id = self.topology.node(c).id.clone();
                let held = self.store.summaries.get(&(id.clone(), period));
                (id, held)
            })
            .collect();
        figures::report(&own, &children, &self.topology.policy().index())
    }

    /// The report of `child`'s subtree for `period` from its latest
    /// summary, if one came.
    pub fn child_report(&self, child: &NodeId, period: Period) -> Option<figures::Report> {
        let held = self.store.summaries.get(&(child.clone(), period))?;
        Some(figures::Report::of_summary(held, &self.topology.policy().index()))
    }

    /// The wait after a period's end before this center sends: the grace
    /// once more than the levels below it.
    fn summary_delay(&self) -> Duration {
        let t = &*self.topology;
        let mine = t.depth_ix(self.me_ix);
        let deepest = (t.subtree_range(self.me_ix))
            .map(|i| t.depth_ix(NodeIx(i)))
            .max()
            .unwrap_or(mine);
        t.policy().summary().grace * (1 + u32::from(deepest.saturating_sub(mine)))
    }

    /// Arms the summaries this center owes: the current day's and month's,
    /// and those of periods that ended while it was down (after the last
    /// it sent; with none sent, the one before the current if the store
    /// holds anything from before it: a new center owes nothing).
    pub(super) fn arm_summaries(&mut self, now: Timestamp) {
        if self.parent().is_none() {
            return;
        }
        let settings = self.topology.policy().summary();
        let delay = self.summary_delay();
        let since = (self.store.envelopes.values())
            .map(|s| s.envelope.created)
            .chain(self.store.incidents.values().map(|i| i.reported))
            .min();
        for (on, current) in [
            (settings.day, Period::day_of(now)),
            (settings.month, Period::month_of(now)),
        ] {
            if !on {
                continue;
            }
            self.arm_summary(current, current.end().plus(delay));
            let last = (self.store.summaries.keys())
                .filter(|(center, p)| *center == self.me && p.is_day() == current.is_day())
                .map(|(_, p)| *p)
                .max();
            let mut owed = Vec::new();
            let mut p = current.previous();
            for _ in 0..CATCH_UP {
                let done = match last {
                    Some(last) => p <= last,
                    None => since.is_none_or(|t| t >= current.start()) || !owed.is_empty(),
                };
                if done {
                    break;
                }
                owed.push(p);
                p = p.previous();
            }
            for p in owed {
                let due = p.end().plus(delay);
                self.arm_summary(p, if due > now { due } else { now });
            }
        }
    }

    fn arm_summary(&mut self, period: Period, at: Timestamp) {
        if self.summary_armed.insert(period) {
            self.timer(at, Timer::Summary { period });
        }
    }

    /// The summary for `period` is due: sent unless nothing changed since
    /// the last version, and the next period of its kind armed.
    pub(super) fn on_summary_due(&mut self, period: Period, now: Timestamp) {
        self.summary_armed.remove(&period);
        let Some(parent) = self.parent() else { return };
        let settings = self.topology.policy().summary();
        if !(if period.is_day() { settings.day } else { settings.month }) {
            return; // the policy no longer asks for it (a newer document)
        }
        let delay = self.summary_delay();
        let current = period.like(now);
        if current != period {
            self.arm_summary(current, current.end().plus(delay));
        }
        if period.end() > now {
            return;
        }
        let held = self.store.summaries.get(&(self.me.clone(), period));
        let version = held.map_or(1, |h| h.summary.version + 1);
        let grace = self.topology.policy().summary().grace;
        let late = version > 1 || now > period.end().plus(delay + grace);
        let summary = self.report(period).summary(version, late);
        if held.is_some_and(|h| same_figures(&h.summary, &summary)) {
            return;
        }
        self.audit(
            now,
            format!(
                "summary {period} v{version}{} to {parent}: index {}",
                if late { " (late)" } else { "" },
                figures::index_text(summary.index)
            ),
        );
        self.persist(Record::Summary(Box::new(SummaryRecord {
            summary: summary.clone(),
            at: now,
        })));
        let id = EnvelopeId(self.rng.random());
        self.originate_for(
            id,
            Body::Summary(Box::new(summary)),
            vec![parent],
            Mode::Actual,
            SUMMARY_TTL,
            now,
        );
    }

    /// Why a carried summary is refused, if it is: it must be signed by
    /// the center it is about and go to that center's parent, which is
    /// this node or below it (a copy carried past a parent that is down).
    pub(super) fn summary_refused(&self, envelope: &Envelope, to: &[NodeId]) -> Option<String> {
        let Body::Summary(s) = &envelope.body else { return None };
        let origin = &envelope.origin;
        if s.center != *origin {
            return Some(format!("a summary of {} signed by {origin}", s.center));
        }
        let Some(parent) = self.topology.parent(origin) else {
            return Some(format!("a summary from {origin}, the root, which has no parent"));
        };
        let parent = parent.id.clone();
        if to != [parent.clone()] {
            let to: Vec<&str> = to.iter().map(|n| n.as_str()).collect();
            return Some(format!(
                "a summary from {origin} addressed to [{}]; summaries go to the sender's parent, {parent}",
                to.join(", ")
            ));
        }
        let carried = self.ix(&parent).is_some_and(|p| self.is_below(self.me_ix, p));
        if parent != self.me && !carried {
            return Some(format!(
                "a summary from {origin}, which is not a child of this center ({}); its parent is {parent}",
                self.me
            ));
        }
        None
    }

    /// A summary stored here: a child's is kept (its latest version), may
    /// raise the early warning, and sends this center's again if it had
    /// sent its own for that period already.
    pub(super) fn on_summary(&mut self, envelope: &Envelope, s: &Summary, now: Timestamp) {
        if self.topology.parent(&envelope.origin).is_none_or(|p| p.id != self.me) {
            return; // carried for a parent that is down
        }
        let key = (s.center.clone(), s.period);
        let before = self
            .store
            .summaries
            .get(&key)
            .map(|h| (h.summary.version, h.summary.index));
        if before.is_some_and(|(version, _)| version >= s.version) {
            return;
        }
        self.persist(Record::Summary(Box::new(SummaryRecord {
            summary: s.clone(),
            at: now,
        })));
        self.notify(Event::SummaryReceived {
            child: s.center.clone(),
            period: s.period,
            version: s.version,
            late: s.late,
        });
        let below = self.topology.policy().index().alarm_below;
        let was_under = before.is_some_and(|(_, index)| index < below * 10);
        if s.index < below * 10 && !was_under {
            self.audit(
                now,
                format!(
                    "index alarm: {} {} at {}, under {below}",
                    s.center,
                    s.period,
                    figures::index_text(s.index)
                ),
            );
            self.notify(Event::IndexAlarm {
                child: s.center.clone(),
                period: s.period,
                index: s.index,
                below,
            });
        }
        if self.parent().is_some() && self.store.summaries.contains_key(&(self.me.clone(), s.period)) {
            let grace = self.topology.policy().summary().grace;
            self.arm_summary(s.period, now.plus(grace));
        }
    }
}

impl Core {
    /// An incident reported at `reported` is recorded here for the first
    /// time: if this center already sent the summary of that day or month
    /// (the report was held up on the way, or this center was down and is
    /// being caught up), that summary goes again after the grace.
    pub(super) fn recorded_late(&mut self, reported: Timestamp, now: Timestamp) {
        // Per incident recorded: most are of today, whose summaries are
        // not sent yet; nothing is cloned or looked up for them.
        if Period::day_of(reported) == Period::day_of(now) || self.topology.parent_ix(self.me_ix).is_none() {
            return;
        }
        let grace = self.topology.policy().summary().grace;
        for p in [Period::day_of(reported), Period::month_of(reported)] {
            if self.store.summaries.contains_key(&(self.me.clone(), p)) {
                self.arm_summary(p, now.plus(grace));
            }
        }
    }
}

/// Whether two versions of a summary say the same.
fn same_figures(a: &Summary, b: &Summary) -> bool {
    a.actual == b.actual && a.drill == b.drill && a.missing == b.missing
}
