//! Timers: the closed [`Timer`] enum and what each timer does (resends,
//! expiry, heartbeats, the parent check, incident and order deadlines,
//! the dedup sweep, room gaps).
//!
//! The core keeps them as `BTreeSet<(Timestamp, Timer)>`; the derived
//! order (variant, then fields in declaration order) decides which of two
//! timers due at the same instant fires first, so the variants' order is
//! part of the core's deterministic behaviour: reorder them and the
//! simulator's reports change.

use super::*;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Timer {
    /// Resend the unacked copy of `item` to `peer`.
    Retry { peer: NodeId, item: EnvelopeId },
    /// The copy of `item` queued for `peer` has lived its TTL.
    Expire { peer: NodeId, item: EnvelopeId },
    /// Probe `peer`'s link.
    Heartbeat { peer: NodeId },
    /// Has the parent been unreachable long enough to fail over?
    ParentCheck,
    /// The incident `item` was not accepted in time.
    Accept { item: EnvelopeId },
    /// The incident `item` was not finished in time.
    Finish { item: EnvelopeId },
    /// The order `item` was not signed for in time.
    OrderSignFor { item: EnvelopeId },
    /// The order `item` was not finished in time.
    OrderFinish { item: EnvelopeId },
    /// Drop expired envelopes from the dedup window.
    Sweep,
    /// The room `room` still waits for an earlier event.
    RoomGap { room: EnvelopeId },
    /// This center's summary of figures for `period` is due.
    Summary { period: crate::figures::Period },
}

impl Core {
    pub(super) fn on_timer(&mut self, at: Timestamp, timer: Timer, now: Timestamp) {
        match timer {
            Timer::Retry { peer, item } => self.on_retry(at, peer, item, now),
            Timer::Expire { peer, item } => self.on_expire(peer, item, now),
            Timer::Heartbeat { peer } => self.on_heartbeat(peer, now),
            Timer::ParentCheck => self.on_parent_check(now),
            Timer::Accept { item } => self.on_accept_deadline(item, now),
            Timer::Finish { item } => self.on_finish_deadline(item, now),
            Timer::OrderSignFor { item } => self.on_order_deadline(item, Stage::SignFor, now),
            Timer::OrderFinish { item } => self.on_order_deadline(item, Stage::Finish, now),
            Timer::Sweep => self.on_sweep(now),
            Timer::RoomGap { room } => self.on_room_gap(room, now),
            Timer::Summary { period } => self.on_summary_due(period, now),
        }
    }

    pub(super) fn on_retry(&mut self, at: Timestamp, peer: NodeId, id: EnvelopeId, now: Timestamp) {
        let key = (peer.clone(), id);
        let Some(&NextTry { attempt, due }) = self.retries.get(&key) else {
            return;
        };
        if due != at || self.store.outbox.get(&key).is_none_or(|e| e.acked) {
            return;
        }
        if self.may_send(&peer) {
            self.transmit(&peer, id, attempt, now);
        }
    }

    /// A copy still unacked at its envelope's expiry is given up: the
    /// origin gets a dead-letter notice (unless it was only a late copy
    /// for a skipped center, which the real route already delivered).
    pub(super) fn on_expire(&mut self, peer: NodeId, id: EnvelopeId, now: Timestamp) {
        let key = (peer.clone(), id);
        let Some(entry) = self.store.outbox.get(&key).filter(|e| !e.acked) else {
            return;
        };
        let catch_up = entry.catch_up;
        let Some(envelope) = self.store.envelopes.get(&id).map(|s| s.envelope.clone()) else {
            return;
        };
        self.retries.remove(&key);
        self.settled(&peer, id, now);
        self.persist(Record::GaveUp { peer: peer.clone(), id });
        if let Some(n) = self.queued.get_mut(&peer) {
            *n = n.saturating_sub(1);
        }
        self.audit(now, format!("{id} to {peer} expired undelivered"));
        if !catch_up {
            self.dead_letter(&envelope, now);
        }
    }

    pub(super) fn on_heartbeat(&mut self, peer: NodeId, now: Timestamp) {
        let hb = self.topology.link().heartbeat;
        let Some(link) = self.links.get(&peer) else { return };
        if !link.up && !link.silent {
            return;
        }
        if link.up && now.since(link.last_heard) > hb * 3 {
            // Silent for three heartbeats: treat the link as down, but keep
            // probing. The connection may still be there (a burst of loss);
            // if both ends gave up on it and stopped sending, nothing would
            // ever bring it back. The first frame heard revives it.
            self.set_link(&peer, false, now);
            if let Some(link) = self.links.get_mut(&peer) {
                link.silent = true;
            }
            // Keep retrying what is owed to it, at the capped backoff: the
            // peer may hear this node even if this node no longer hears it.
            let owed: Vec<EnvelopeId> = self
                .store
                .outbox
                .range((peer.clone(), EnvelopeId(0))..=(peer.clone(), EnvelopeId(u128::MAX)))
                .filter(|(_, e)| !e.acked)
                .map(|((_, id), _)| *id)
                .collect();
            for id in owed {
                let due = now.plus(self.backoff(20));
                self.retries.insert((peer.clone(), id), NextTry { attempt: 20, due });
                self.timer(
                    due,
                    Timer::Retry {
                        peer: peer.clone(),
                        item: id,
                    },
                );
            }
        }
        self.send_frame(&peer, Lane::Control, &Frame::Heartbeat { sent: now });
        self.timer(now.plus(hb), Timer::Heartbeat { peer });
    }

    pub(super) fn on_parent_check(&mut self, now: Timestamp) {
        let Some(parent) = self.parent() else { return };
        let threshold = self.topology.link().failover_after;
        let Some(since) = self.parent_down_since else { return };
        if self.link_up(&parent) || now.since(since) < threshold {
            return;
        }
        let ancestors: Vec<NodeId> = self
            .topology
            .ancestors(&self.me)
            .skip(1)
            .map(|a| a.id.clone())
            .collect();
        if ancestors.is_empty() {
            return;
        }
        let live = ancestors.iter().find(|a| self.link_up(a)).cloned();
        if !self.failed_over {
            self.failed_over = true;
            self.audit(
                now,
                format!(
                    "parent {parent} unreachable for {}s: failing over",
                    now.since(since).as_secs()
                ),
            );
        }
        match live {
            Some(via) => self.announce_failover(via),
            None => {
                // Dial the nearest ancestor first, then further up each round.
                let target = ancestors[self.failover_attempts % ancestors.len()].clone();
                self.failover_attempts += 1;
                self.after.push(Effect::Connect(target));
            }
        }
        self.reroute(now);
        self.timer(now.plus(threshold), Timer::ParentCheck);
    }

    pub(super) fn announce_failover(&mut self, via: NodeId) {
        let Some(parent) = self.parent() else { return };
        if self.failed_over_via.as_ref() != Some(&via) {
            self.failed_over_via = Some(via.clone());
            self.notify(Event::FailedOver { parent, via });
        }
    }

    pub(super) fn on_accept_deadline(&mut self, id: EnvelopeId, now: Timestamp) {
        let Some(i) = self.store.incidents.get(&id).cloned() else {
            return;
        };
        if i.state != IncidentState::Reported || i.origin != self.me || now < i.accept_by {
            return;
        }
        let Some(to) = self.parent_of(&i.owner) else {
            self.audit(
                now,
                format!("incident {id} not accepted in time at the top ({})", i.owner),
            );
            self.notify(Event::Supervised {
                item: Item::Incident(id),
                stage: Stage::Accept,
                supervisor: i.owner,
            });
            return;
        };
        let Ok(report) = self.report_envelope(id) else { return };
        let reason = format!("not accepted by {} in time", i.owner);
        let action = Action::Escalate {
            to: to.clone(),
            reason,
            supervised: true,
            report: Box::new(report),
        };
        self.update(&i, "system".into(), action, vec![to], now);
    }

    pub(super) fn on_finish_deadline(&mut self, id: EnvelopeId, now: Timestamp) {
        let Some(i) = self.store.incidents.get(&id).cloned() else {
            return;
        };
        let late = matches!(i.state, IncidentState::Accepted | IncidentState::Dispatched)
            && i.owner == self.me
            && i.supervisor.is_none()
            && i.finish_by.is_some_and(|f| now >= f);
        if !late {
            return;
        }
        let supervisor = self.parent().unwrap_or_else(|| self.me.clone());
        let deadline = i.finish_by.unwrap_or(now);
        let s = Supervise {
            item: Item::Incident(id),
            stage: Stage::Finish,
            supervisor: supervisor.clone(),
            deadline,
        };
        self.originate(Body::Supervise(s), vec![supervisor, i.origin.clone()], i.mode, now);
    }

    pub(super) fn on_order_deadline(&mut self, id: EnvelopeId, stage: Stage, now: Timestamp) {
        let Some(o) = self.store.orders.get(&id).cloned() else {
            return;
        };
        if o.issuer != self.me {
            return;
        }
        let deadline = if stage == Stage::SignFor {
            o.sign_for_by
        } else {
            o.finish_by
        };
        let late: Vec<NodeId> = self
            .order_targets(id)
            .filter(|(_, s)| {
                s.overdue != Some(stage)
                    && match stage {
                        Stage::SignFor => s.state.rank() < 2,
                        _ => !s.state.is_final(),
                    }
            })
            .map(|(t, _)| t.clone())
            .collect();
        for target in late {
            let supervisor = self.parent_of(&target).unwrap_or_else(|| self.me.clone());
            let item = Item::OrderTarget { order: id, target };
            let s = Supervise {
                item,
                stage,
                supervisor: supervisor.clone(),
                deadline,
            };
            self.originate(Body::Supervise(s), vec![supervisor], o.mode, now);
        }
    }

    pub(super) fn on_sweep(&mut self, now: Timestamp) {
        // Kept: reports of open incidents (an escalation carries them) and
        // anything still owed to a peer (its expiry is handled by retries).
        let mut keep: std::collections::HashSet<EnvelopeId> = self
            .store
            .incidents
            .values()
            .filter(|i| i.state.is_open())
            .map(|i| i.id)
            .collect();
        keep.extend(self.store.pending().map(|(_, id, _)| *id));
        // And the events of open rooms: a late member gets them as history.
        for room in self.store.rooms.values().filter(|r| r.is_open()) {
            keep.extend(self.store.room_log(room.id).map(|e| e.event));
        }
        let expired: Vec<EnvelopeId> = self
            .store
            .envelopes
            .values()
            .filter(|s| s.envelope.expires <= now && !keep.contains(&s.envelope.id))
            .map(|s| s.envelope.id)
            .collect();
        if !expired.is_empty() {
            self.persist(Record::Forget(expired));
            // Room events that waited here and are now forgotten wait no more.
            let held = &self.store.envelopes;
            self.room_waiting.retain(|_, w| {
                w.retain(|_, id| held.contains_key(id));
                !w.is_empty()
            });
        }
        self.timer(now.plus(self.config.sweep_every), Timer::Sweep);
    }
}
