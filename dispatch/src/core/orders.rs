//! Dispatch orders: recording an order and its targets, arming its
//! sign-for and finish deadlines, applying acknowledgements and
//! supervision.

use super::*;

impl Core {
    pub(super) fn record_order(&mut self, envelope: &Envelope, order: &Order, now: Timestamp) {
        let id = envelope.id;
        if self.store.orders.contains_key(&id) {
            return;
        }
        let deadlines = self.topology.policy().deadlines(order.severity);
        let record = OrderRecord {
            id,
            issuer: envelope.origin.clone(),
            order: order.clone(),
            mode: envelope.mode,
            issued: envelope.created,
            sign_for_by: envelope.created.plus(deadlines.sign_for),
            finish_by: order
                .finish_by
                .unwrap_or_else(|| envelope.created.plus(deadlines.finish)),
        };
        self.persist(Record::Order(record));
        let targets = self.targets_in(order, self.me_ix);
        let i_am_target = targets.contains(&self.me);
        for target in targets {
            let status = TargetStatus {
                state: TargetState::Pending,
                at: envelope.created,
                overdue: None,
            };
            self.persist(Record::Target {
                order: id,
                target,
                status,
            });
        }
        for ack in self.orphan_acks.remove(&id).unwrap_or_default() {
            if let Some(stored) = self.store.envelopes.get(&ack)
                && let Body::OrderAck(a) = &stored.envelope.body
            {
                let (env, a, at) = (
                    stored.envelope.clone(),
                    a.clone(),
                    stored.trace.last().map_or(now, |h| h.at),
                );
                self.apply_ack(&env, &a, at);
            }
        }
        if envelope.origin == self.me {
            if let Some(incident) = order.incident
                && let Some(mut i) = self.store.incidents.get(&incident).cloned()
            {
                i.orders.push(id);
                if i.state == IncidentState::Accepted {
                    i.state = IncidentState::Dispatched;
                }
                i.log(
                    envelope.created,
                    &self.me,
                    format!("order {id} dispatched by {}", order.by),
                );
                self.persist(Record::Incident(i));
            }
            self.arm_order_timers(id, Timestamp(0));
        }
        if i_am_target {
            self.notify(Event::OrderReceived {
                order: id,
                issuer: envelope.origin.clone(),
            });
            let ack = OrderAck {
                order: id,
                issuer: envelope.origin.clone(),
                state: TargetState::Delivered,
            };
            self.originate(Body::OrderAck(ack), vec![envelope.origin.clone()], envelope.mode, now);
        }
    }

    /// Arms the issuer's deadlines of order `id`, none before
    /// `not_before`: a restored issuer first gives its neighbours time to
    /// bring the acks sent while it was down.
    pub(super) fn arm_order_timers(&mut self, id: EnvelopeId, not_before: Timestamp) {
        let Some(o) = self.store.orders.get(&id) else { return };
        if o.issuer != self.me {
            return;
        }
        let (sign_for_by, finish_by) = (o.sign_for_by.max(not_before), o.finish_by.max(not_before));
        let roll = self.store.roll_up(id);
        if roll.signed_for + roll.refused < roll.targets {
            self.timer(sign_for_by, Timer::OrderSignFor { item: id });
        }
        if roll.done + roll.refused < roll.targets {
            self.timer(finish_by, Timer::OrderFinish { item: id });
        }
    }

    pub(super) fn apply_ack(&mut self, envelope: &Envelope, ack: &OrderAck, at: Timestamp) {
        if !self.store.orders.contains_key(&ack.order) {
            // The ack overtook its order: apply it when the order arrives.
            self.orphan_acks.entry(ack.order).or_default().push(envelope.id);
            return;
        }
        let target = envelope.origin.clone();
        let Some(current) = self.store.targets.get(&ack.order).and_then(|t| t.get(&target)).cloned() else {
            return;
        };
        if ack.state.rank() <= current.state.rank() {
            return;
        }
        // Made by the deadline it was flagged for: the ack was held up on
        // the way (or this issuer was down), the target was not late.
        let order = &self.store.orders[&ack.order];
        let on_time = match current.overdue {
            Some(Stage::SignFor) => ack.state.is_signed_for() && envelope.created <= order.sign_for_by,
            Some(Stage::Finish) => ack.state.is_final() && envelope.created <= order.finish_by,
            Some(Stage::Accept) | None => false,
        };
        if on_time {
            self.audit(
                at,
                format!(
                    "order {} at {target}: acknowledged on time (made {} ms after the order), not late after all",
                    ack.order,
                    envelope.created.0.saturating_sub(order.issued.0)
                ),
            );
        }
        let status = TargetStatus {
            state: ack.state.clone(),
            at,
            overdue: if on_time { None } else { current.overdue },
        };
        self.persist(Record::Target {
            order: ack.order,
            target: target.clone(),
            status,
        });
        let roll_up = self.store.roll_up(ack.order);
        self.room_task_progress(ack.order, &target, &ack.state, at);
        self.notify(Event::OrderProgress {
            order: ack.order,
            target,
            state: ack.state.clone(),
            roll_up,
        });
    }

    pub(super) fn apply_supervise(&mut self, envelope: &Envelope, s: &Supervise, at: Timestamp) {
        match &s.item {
            Item::Incident(id) => {
                if let Some(mut i) = self.store.incidents.get(id).cloned() {
                    i.supervisor = Some(s.supervisor.clone());
                    i.log(
                        at,
                        &envelope.origin,
                        format!("{:?} deadline missed: supervised by {}", s.stage, s.supervisor),
                    );
                    self.persist(Record::Incident(i));
                }
            }
            Item::OrderTarget { order, target } => {
                if let Some(mut status) = self.store.targets.get(order).and_then(|t| t.get(target)).cloned() {
                    status.overdue = Some(s.stage);
                    self.persist(Record::Target {
                        order: *order,
                        target: target.clone(),
                        status,
                    });
                }
            }
        }
        if s.supervisor == self.me {
            self.audit(
                at,
                format!("supervising {} ({:?} deadline missed)", item_name(&s.item), s.stage),
            );
        }
        self.notify(Event::Supervised {
            item: s.item.clone(),
            stage: s.stage,
            supervisor: s.supervisor.clone(),
        });
    }
}
