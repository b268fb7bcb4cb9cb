//! Incidents as this node holds them: delivering a stored envelope to the
//! application, opening an incident from a report, applying updates
//! (accept, escalate, feedback, resolve, verify, close, cancel) and
//! arming its accept and finish deadlines.

use super::*;
use crate::store::step;

impl Core {
    /// Applies a newly stored envelope to incidents, orders and rooms
    /// here. `addressed`: this node is one of the copy's destinations (not
    /// only a center on the way), which rooms need to tell members from
    /// relays.
    pub(super) fn deliver(&mut self, id: EnvelopeId, addressed: bool, now: Timestamp) {
        let Some(stored) = self.store.envelopes.get(&id) else {
            return;
        };
        let envelope = stored.envelope.clone();
        let at = stored.trace.last().map_or(now, |h| h.at);
        match &envelope.body {
            Body::Report(report) => self.open_incident(&envelope, report, None, at),
            Body::Update(update) => self.apply_update(&envelope, update, at),
            Body::Order(order) => self.record_order(&envelope, order, now),
            Body::OrderAck(ack) => self.apply_ack(&envelope, ack, at),
            Body::Supervise(s) => self.apply_supervise(&envelope, s, at),
            Body::Room(body) => self.on_room(&envelope, body, addressed, now),
            Body::Summary(s) => self.on_summary(&envelope, s, now),
            // Applied when it was checked and stored (`document`).
            Body::Document(_) => {}
            Body::DeadLetter(d) => {
                if envelope.origin != self.me {
                    self.audit(
                        now,
                        format!("dead letter: {} ({:?}) expired at {}", d.id, d.kind, d.stuck_at),
                    );
                    self.notify(Event::DeadLettered {
                        id: d.id,
                        stuck_at: d.stuck_at.clone(),
                    });
                }
            }
        }
    }

    pub(super) fn open_incident(&mut self, envelope: &Envelope, report: &Report, owner: Option<NodeId>, at: Timestamp) {
        let id = envelope.id;
        if self.store.incidents.contains_key(&id) {
            return;
        }
        let owner = owner.unwrap_or_else(|| {
            self.topology
                .owner(&envelope.origin, report.severity)
                .map_or_else(|| self.me.clone(), |n| n.id.clone())
        });
        let deadlines = self.topology.policy().deadlines(report.severity);
        let mut incident = Incident {
            id,
            origin: envelope.origin.clone(),
            report: report.clone(),
            mode: envelope.mode,
            reported: envelope.created,
            owner: owner.clone(),
            state: IncidentState::Reported,
            accepted_by: None,
            accept_by: envelope.created.plus(deadlines.accept),
            finish_by: None,
            supervisor: None,
            orders: Vec::new(),
            timeline: Vec::new(),
        };
        incident.log(
            envelope.created,
            &envelope.origin,
            format!("{}{}", step::REPORTED, report.reporter),
        );
        if envelope.origin != self.me {
            incident.log(at, &self.me, "recorded here".into());
        }
        self.persist(Record::Incident(incident));
        let owned_here = owner == self.me;
        let alert = owned_here || self.topology.policy().alerts_path(report.severity);
        self.notify(Event::IncidentRecorded {
            incident: id,
            owner,
            severity: report.severity,
            alert,
        });
        self.arm_incident_timers(id);
        self.recorded_late(envelope.created, at);
        if owned_here && envelope.origin != self.me {
            // The receipt: the reporter sees its report reached its owner.
            let update = Update {
                incident: id,
                by: String::new(),
                action: Action::Received,
            };
            self.originate(Body::Update(update), vec![envelope.origin.clone()], envelope.mode, at);
        }
        if owned_here {
            self.auto_open_room(id, at);
        }
        for update in self.orphans.remove(&id).unwrap_or_default() {
            if let Some(stored) = self.store.envelopes.get(&update)
                && let Body::Update(u) = &stored.envelope.body
            {
                let (env, u) = (stored.envelope.clone(), u.clone());
                self.apply_update(&env, &u, at);
            }
        }
    }

    pub(super) fn arm_incident_timers(&mut self, id: EnvelopeId) {
        let Some(i) = self.store.incidents.get(&id) else { return };
        let accept = (i.state == IncidentState::Reported && i.origin == self.me).then_some(i.accept_by);
        let finish = i
            .finish_by
            .filter(|_| matches!(i.state, IncidentState::Accepted | IncidentState::Dispatched))
            .filter(|_| i.owner == self.me && i.supervisor.is_none());
        if let Some(at) = accept {
            self.timer(at, Timer::Accept { item: id });
        }
        if let Some(at) = finish {
            self.timer(at, Timer::Finish { item: id });
        }
    }

    pub(super) fn apply_update(&mut self, envelope: &Envelope, update: &Update, at: Timestamp) {
        let id = update.incident;
        let existed = self.store.incidents.contains_key(&id);
        if !existed {
            if let Action::Escalate { to, report, .. } = &update.action {
                // The new owner may never have seen the report: open it from
                // the signed original the escalation carries.
                if report.id == id
                    && verify_envelope(report, &*self.check).is_ok()
                    && let Body::Report(r) = &report.body
                {
                    let r = r.clone();
                    self.open_incident(report, &r, Some(to.clone()), at);
                }
            }
            if !self.store.incidents.contains_key(&id) {
                self.orphans.entry(id).or_default().push(envelope.id);
                return;
            }
        }
        let Some(mut incident) = self.store.incidents.get(&id).cloned() else {
            return;
        };
        let actor = &envelope.origin;
        let policy = self.topology.policy();
        let deadlines = policy.deadlines(incident.report.severity);
        let closed = !incident.state.is_open();
        // Ownership only climbs: an escalation that is stale here (it raced
        // another one, or arrived out of order) neither moves the owner
        // back nor reopens what the owner has accepted, nor alerts again.
        let climbs = matches!(&update.action, Action::Escalate { to, .. }
            if !closed && (!existed || self.topology.is_ancestor(to, &incident.owner)));
        match &update.action {
            // Only the owner accepts: an accept from a center the incident
            // has since been escalated away from is stale. One from above
            // the owner known here overtook the escalation that made it owner.
            Action::Accept
                if incident.state == IncidentState::Reported
                    && (*actor == incident.owner || self.topology.is_ancestor(actor, &incident.owner)) =>
            {
                incident.owner = actor.clone();
                incident.state = IncidentState::Accepted;
                incident.accepted_by = Some(update.by.clone());
                incident.finish_by = Some(envelope.created.plus(deadlines.finish));
            }
            Action::Escalate { to, supervised, .. } if climbs => {
                incident.owner = to.clone();
                incident.state = IncidentState::Reported;
                incident.accept_by = envelope.created.plus(deadlines.accept);
                if *supervised {
                    incident.supervisor = Some(to.clone());
                }
            }
            Action::Resolve { .. } if !closed => incident.state = IncidentState::Resolved,
            Action::Verify { accepted, .. } if incident.state == IncidentState::Resolved => {
                incident.state = if *accepted {
                    IncidentState::Verified
                } else {
                    IncidentState::Accepted
                };
            }
            Action::Close if !closed => incident.state = IncidentState::Closed,
            Action::Cancel { .. } if !closed => incident.state = IncidentState::Cancelled,
            _ => {}
        }
        let what = match &update.action {
            Action::Received => format!("received by its owner {actor}"),
            Action::Accept => format!("{}{}", step::ACCEPTED, update.by),
            Action::Escalate { to, reason, .. } => format!("{}{to} by {}: {reason}", step::ESCALATED, update.by),
            Action::Feedback { text } => format!("feedback from {}: {text}", update.by),
            Action::Resolve { summary } => format!("{}{}: {summary}", step::RESOLVED, update.by),
            Action::Verify { accepted: true, note } => format!("{}{}: {note}", step::VERIFIED, update.by),
            Action::Verify { accepted: false, note } => format!("sent back by {}: {note}", update.by),
            Action::Close => format!("{}{}", step::CLOSED, update.by),
            Action::Note { text } => format!("note from {}: {text}", update.by),
            Action::Cancel { reason } => format!("{}{}: {reason}", step::CANCELLED, update.by),
        };
        incident.log(envelope.created, actor, what);
        let state = incident.state;
        self.persist(Record::Incident(incident));
        self.arm_incident_timers(id);
        // Handed an incident it already knew: alert it as its new owner.
        // (One it did not know was just opened, with the alert.)
        if let Action::Escalate { to, .. } = &update.action
            && *to == self.me
            && existed
            && climbs
        {
            let severity = self
                .store
                .incidents
                .get(&id)
                .map_or(Severity::Routine, |i| i.report.severity);
            self.notify(Event::IncidentRecorded {
                incident: id,
                owner: to.clone(),
                severity,
                alert: true,
            });
            self.auto_open_room(id, at);
        }
        self.notify(Event::IncidentChanged {
            incident: id,
            update: envelope.id,
            action: update.action.name(),
            by: actor.clone(),
            state,
        });
    }
}
