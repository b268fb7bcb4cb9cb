//! Operators' commands at this node: each checked against the input rules
//! (`rules`), then against what the node holds (known, owned, in the right
//! state) and turned into the envelope it originates; refusals are
//! [`CommandError`]s.

use super::*;

impl Core {
    pub(super) fn on_command(&mut self, command: Command, now: Timestamp) -> Result<EnvelopeId, CommandError> {
        // What the operator typed is checked and trimmed first, whatever
        // the node holds (see `rules`).
        let command = command.checked()?;
        // New operator work waits while any queue is at its bound; what the
        // node already accepted is never dropped for it.
        if let Some((peer, _)) = self.queued.iter().find(|(_, n)| **n >= self.config.outbox_limit) {
            return Err(CommandError::Overloaded(peer.clone()));
        }
        match command {
            Command::Once { id, command } => {
                if self.store.envelopes.contains_key(&id) {
                    return Ok(id);
                }
                self.chosen = Some(id);
                let done = self.on_command(*command, now);
                self.chosen = None;
                done
            }
            Command::Report { report, mode } => {
                let owner = self.topology.owner(&self.me, report.severity).map(|n| n.id.clone());
                let to = owner.into_iter().collect();
                Ok(self.originate(Body::Report(report), to, mode, now))
            }
            Command::ReportOnce { id, report, mode } => {
                if self.store.envelopes.contains_key(&id) {
                    return Ok(id);
                }
                let owner = self.topology.owner(&self.me, report.severity).map(|n| n.id.clone());
                let to = owner.into_iter().collect();
                Ok(self.originate_as(id, Body::Report(report), to, mode, now))
            }
            Command::Accept { incident, by } => {
                let i = self.owned(incident, "accept")?;
                self.expect_state(&i, "accept", &[IncidentState::Reported])?;
                Ok(self.update(&i, by, Action::Accept, vec![i.origin.clone()], now))
            }
            Command::Escalate { incident, by, reason } => {
                let i = self.owned(incident, "escalate")?;
                self.expect_open(&i, "escalate")?;
                let to = self.parent_of(&i.owner).ok_or(CommandError::AtTop(incident))?;
                let report = self.report_envelope(incident)?;
                let action = Action::Escalate {
                    to: to.clone(),
                    reason,
                    supervised: false,
                    report: Box::new(report),
                };
                Ok(self.update(&i, by, action, vec![to, i.origin.clone()], now))
            }
            Command::Feedback { incident, by, text } => {
                let i = self.known(incident)?;
                self.expect_open(&i, "add feedback to")?;
                Ok(self.update(&i, by, Action::Feedback { text }, parties(&i), now))
            }
            Command::Note { incident, by, text } => {
                let i = self.known(incident)?;
                Ok(self.update(&i, by, Action::Note { text }, parties(&i), now))
            }
            Command::Resolve { incident, by, summary } => {
                let i = self.owned(incident, "resolve")?;
                self.expect_state(&i, "resolve", &[IncidentState::Accepted, IncidentState::Dispatched])?;
                Ok(self.update(&i, by, Action::Resolve { summary }, vec![i.origin.clone()], now))
            }
            Command::Verify {
                incident,
                by,
                accepted,
                note,
            } => {
                let i = self.known(incident)?;
                if i.origin != self.me {
                    return Err(CommandError::NotReporter {
                        incident,
                        origin: i.origin,
                        action: "verify",
                    });
                }
                self.expect_state(&i, "verify", &[IncidentState::Resolved])?;
                Ok(self.update(&i, by, Action::Verify { accepted, note }, vec![i.owner.clone()], now))
            }
            Command::Close { incident, by } => {
                let i = self.owned(incident, "close")?;
                self.expect_state(&i, "close", &[IncidentState::Verified])?;
                Ok(self.update(&i, by, Action::Close, vec![i.origin.clone()], now))
            }
            Command::Cancel { incident, by, reason } => {
                let i = self.known(incident)?;
                if i.origin != self.me && i.owner != self.me {
                    return Err(CommandError::NotOwner {
                        incident,
                        owner: i.owner,
                        action: "cancel",
                    });
                }
                self.expect_open(&i, "cancel")?;
                Ok(self.update(&i, by, Action::Cancel { reason }, parties(&i), now))
            }
            Command::Dispatch { order, mode } => self.dispatch(order, mode, now),
            Command::Acknowledge { order, state } => self.acknowledge(order, state, now),
            Command::Room {
                room,
                by,
                role,
                act,
                home,
            } => self.room_command(room, by, role, act, home, now),
            Command::Publish(doc) => self.publish(doc, now),
        }
    }

    pub(super) fn known(&self, incident: EnvelopeId) -> Result<Incident, CommandError> {
        self.store
            .incidents
            .get(&incident)
            .cloned()
            .ok_or(CommandError::UnknownIncident(incident))
    }

    pub(super) fn owned(&self, incident: EnvelopeId, action: &'static str) -> Result<Incident, CommandError> {
        let i = self.known(incident)?;
        if i.owner != self.me {
            return Err(CommandError::NotOwner {
                incident,
                owner: i.owner,
                action,
            });
        }
        Ok(i)
    }

    pub(super) fn expect_state(
        &self,
        i: &Incident,
        action: &'static str,
        allowed: &[IncidentState],
    ) -> Result<(), CommandError> {
        if allowed.contains(&i.state) {
            Ok(())
        } else {
            Err(CommandError::BadTransition {
                incident: i.id,
                action,
                state: i.state.name(),
            })
        }
    }

    pub(super) fn expect_open(&self, i: &Incident, action: &'static str) -> Result<(), CommandError> {
        if i.state.is_open() {
            Ok(())
        } else {
            Err(CommandError::BadTransition {
                incident: i.id,
                action,
                state: i.state.name(),
            })
        }
    }

    pub(super) fn report_envelope(&self, incident: EnvelopeId) -> Result<Envelope, CommandError> {
        self.store
            .envelopes
            .get(&incident)
            .map(|s| s.envelope.clone())
            .ok_or(CommandError::UnknownIncident(incident))
    }

    /// Sends an incident update to `to`; every center on the way records it.
    pub(super) fn update(
        &mut self,
        i: &Incident,
        by: String,
        action: Action,
        to: Vec<NodeId>,
        now: Timestamp,
    ) -> EnvelopeId {
        let update = Update {
            incident: i.id,
            by,
            action,
        };
        self.originate(Body::Update(update), to, i.mode, now)
    }

    pub(super) fn dispatch(&mut self, order: Order, mode: Mode, now: Timestamp) -> Result<EnvelopeId, CommandError> {
        let listed: Vec<&NodeId> = match &order.targets {
            Targets::Node(n) => vec![n],
            Targets::List(l) => l.iter().collect(),
            Targets::Subtree { root, .. } => {
                let r = self
                    .ix(root)
                    .ok_or_else(|| CommandError::TargetNotBelow(root.clone()))?;
                if r != self.me_ix && !self.is_below(self.me_ix, r) {
                    return Err(CommandError::TargetNotBelow(root.clone()));
                }
                vec![]
            }
        };
        for n in listed {
            if !self.ix(n).is_some_and(|ix| self.is_below(self.me_ix, ix)) {
                return Err(CommandError::TargetNotBelow(n.clone()));
            }
        }
        if self.targets_in(&order, self.me_ix).is_empty() {
            return Err(CommandError::NoTargets);
        }
        if let Some(incident) = order.incident {
            let i = self.owned(incident, "dispatch for")?;
            self.expect_state(
                &i,
                "dispatch for",
                &[IncidentState::Accepted, IncidentState::Dispatched],
            )?;
        }
        Ok(self.originate(Body::Order(order), Vec::new(), mode, now))
    }

    pub(super) fn acknowledge(
        &mut self,
        order: EnvelopeId,
        state: TargetState,
        now: Timestamp,
    ) -> Result<EnvelopeId, CommandError> {
        let record = self
            .store
            .orders
            .get(&order)
            .cloned()
            .ok_or(CommandError::UnknownOrder(order))?;
        let current = self
            .store
            .targets
            .get(&order)
            .and_then(|t| t.get(&self.me))
            .cloned()
            .ok_or(CommandError::NotATarget(order))?;
        let allowed = matches!(
            (&current.state, &state),
            (TargetState::Delivered, TargetState::SignedFor { .. })
                | (
                    TargetState::Delivered | TargetState::SignedFor { .. },
                    TargetState::Refused { .. }
                )
                | (
                    TargetState::SignedFor { .. } | TargetState::InProgress { .. },
                    TargetState::InProgress { .. } | TargetState::Done { .. }
                )
        );
        if !allowed {
            return Err(CommandError::BadAck {
                order,
                from: current.state.name(),
                to: state.name(),
            });
        }
        let status = TargetStatus {
            state: state.clone(),
            at: now,
            overdue: current.overdue,
        };
        self.persist(Record::Target {
            order,
            target: self.me.clone(),
            status,
        });
        let ack = OrderAck {
            order,
            issuer: record.issuer.clone(),
            state,
        };
        Ok(self.originate(Body::OrderAck(ack), vec![record.issuer], record.mode, now))
    }
}
