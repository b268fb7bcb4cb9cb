//! Coordination rooms in the core: asks, the home's ordering, in-order
//! application at every member, catch-up of gaps, tasks as orders.
//!
//! The flow:
//! 1. Someone acts at their node ([`super::Command::Room`]): the node checks what
//!    it can see (role, presence, state) and sends a signed `RoomAsk` to
//!    the room's home.
//! 2. The home checks the ask against the room as it stands (the only
//!    authoritative check), numbers it, and originates a `RoomEvent`
//!    carrying the ask as signed by the asking node, to every node of the
//!    room (the incident's path, plus invited nodes). A refused ask goes
//!    back to the asker as `RoomBody::Refused`.
//! 3. Every node, the home included, applies events strictly in sequence
//!    order, once. An event that arrives early waits (stored, so a restart
//!    keeps it); a gap that persists for `room_gap_wait` is asked of the
//!    home by range (`RoomBody::Sync`) and comes back as bounded
//!    `RoomBody::History` batches on the bulk lane. A node invited late
//!    gets the history at once.
//!
//! Delivery itself needs nothing new: events are ordinary envelopes, so
//! hop acks, retries, failover and catch-up of skipped centers carry them;
//! the sequence numbers only restore the order and fill what a lost disk
//! or a late invitation never had.
//!
//! This file: the room's getters, operators' room commands at their node,
//! and the home taking an ask (numbering it or refusing it); applying
//! events in order, tasks and catch-up are `room_events`.

use liandong_topology::{NodeId, Severity};

use super::{CommandError, Core, Event};
use crate::room::{
    MAX_INVITED, MAX_PRESENT, MAX_ROOM_EVENTS, MAX_TASKS, Person, Room, RoomEntry, SYSTEM, incident_path,
};
use crate::wire::{
    Body, Envelope, EnvelopeId, Mode, Order, Role, RoomAct, RoomAsk, RoomBody, RoomEvent, RoomWhat, Targets, Timestamp,
};

impl Core {
    // ---- getters ----

    pub fn room(&self, id: EnvelopeId) -> Option<&Room> {
        self.store.rooms.get(&id)
    }

    pub fn rooms(&self) -> impl Iterator<Item = &Room> {
        self.store.rooms.values()
    }

    /// A room's log as applied here, in sequence order.
    pub fn room_log(&self, id: EnvelopeId) -> impl Iterator<Item = &RoomEntry> {
        self.store.room_log(id)
    }

    // ---- commands ----

    /// `Command::Room`: checks what this node can see, then asks the home.
    pub(super) fn room_command(
        &mut self,
        room: EnvelopeId,
        by: String,
        role: Role,
        act: RoomAct,
        home: Option<NodeId>,
        now: Timestamp,
    ) -> Result<EnvelopeId, CommandError> {
        let person = Person {
            node: self.me.clone(),
            name: by,
            role,
        };
        if act == RoomAct::Open {
            let (severity, mode) = self.check_open(room, &person)?;
            return Ok(self.ask(room, self.me.clone(), severity, mode, person, act, now));
        }
        let Some(r) = self.store.rooms.get(&room) else {
            // Off the incident's path: only asking to enter, and only with
            // the home named. The home decides (and refuses the uninvited).
            return match (act, home) {
                (RoomAct::Enter, Some(home)) if home != self.me && self.ix(&home).is_some() => {
                    Ok(self.ask(room, home, Severity::Routine, Mode::Actual, person, RoomAct::Enter, now))
                }
                _ => Err(CommandError::UnknownRoom(room)),
            };
        };
        self.check_act(r, &person, &act)?;
        let (home, severity, mode) = (r.home.clone(), r.severity, r.mode);
        Ok(self.ask(room, home, severity, mode, person, act, now))
    }

    /// Opening: a leader, at the incident's owner, once, while it is open.
    /// The incident's severity and mode, which the room takes.
    pub(super) fn check_open(&self, room: EnvelopeId, person: &Person) -> Result<(Severity, Mode), CommandError> {
        let i = self.owned(room, "open a room on")?;
        if person.role != Role::Leader {
            return Err(CommandError::NotLeader {
                action: "open",
                name: person.name.clone(),
            });
        }
        self.expect_open(&i, "open a room on")?;
        if self.store.rooms.contains_key(&room) {
            return Err(CommandError::RoomExists(room));
        }
        if !self.store.envelopes.contains_key(&room) {
            return Err(CommandError::UnknownIncident(room));
        }
        Ok((i.report.severity, i.mode))
    }

    /// Whether `person` may do `act` in `r` as it stands: checked by the
    /// asking node against its copy, and again by the home, whose copy
    /// decides.
    pub(super) fn check_act(&self, r: &Room, person: &Person, act: &RoomAct) -> Result<(), CommandError> {
        let room = r.id;
        if !r.is_open() {
            return Err(CommandError::RoomClosed(room));
        }
        let present = r.presence(&person.node, &person.name).is_some();
        let leader = |action| {
            if person.role == Role::Leader {
                Ok(())
            } else {
                Err(CommandError::NotLeader {
                    action,
                    name: person.name.clone(),
                })
            }
        };
        let at_home = |action| {
            if person.node == r.home {
                Ok(())
            } else {
                Err(CommandError::NotAtHome {
                    room,
                    home: r.home.clone(),
                    action,
                })
            }
        };
        let full = |what: String| Err(CommandError::RoomFull { room, what });
        // Leaving and closing are always possible: a full room still ends.
        if r.last_seq >= MAX_ROOM_EVENTS && !matches!(act, RoomAct::Leave | RoomAct::Close { .. }) {
            return full(format!(
                "it holds {MAX_ROOM_EVENTS} events; close it and open a new one"
            ));
        }
        match act {
            RoomAct::Open => return Err(CommandError::RoomExists(room)),
            RoomAct::Enter => {
                if present {
                    return Err(CommandError::AlreadyPresent {
                        room,
                        name: person.name.clone(),
                    });
                }
                if !r.admits(&self.topology, &person.node) {
                    return Err(CommandError::NotAdmitted {
                        room,
                        node: person.node.clone(),
                        home: r.home.clone(),
                    });
                }
                if r.present.len() >= MAX_PRESENT {
                    return full(format!("{MAX_PRESENT} people are present"));
                }
                return Ok(());
            }
            _ if !present => {
                return Err(CommandError::NotPresent {
                    room,
                    name: person.name.clone(),
                });
            }
            RoomAct::Leave | RoomAct::Say { .. } => {}
            RoomAct::Decide { .. } => leader("record a decision in")?,
            RoomAct::Close { .. } => {
                leader("close")?;
                at_home("close the room")?;
            }
            RoomAct::Invite { node } => {
                at_home("invite")?;
                if self.ix(node).is_none() {
                    return Err(CommandError::UnknownNode(node.clone()));
                }
                if r.admits(&self.topology, node) {
                    return Err(CommandError::AlreadyInvited(node.clone()));
                }
                if r.invited.len() >= MAX_INVITED {
                    return full(format!("{MAX_INVITED} nodes are invited"));
                }
            }
            RoomAct::Task { target, .. } => {
                let below = match (self.ix(&r.home), self.ix(target)) {
                    (Some(h), Some(t)) => self.is_below(h, t),
                    _ => false,
                };
                if !below {
                    return Err(CommandError::TaskNotBelow {
                        target: target.clone(),
                        home: r.home.clone(),
                    });
                }
                if r.tasks.len() >= MAX_TASKS {
                    return full(format!("{MAX_TASKS} tasks are assigned"));
                }
            }
        }
        Ok(())
    }

    /// Signs and sends an ask to the room's home (handled at once if this
    /// node is the home).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn ask(
        &mut self,
        room: EnvelopeId,
        home: NodeId,
        severity: Severity,
        mode: Mode,
        person: Person,
        act: RoomAct,
        now: Timestamp,
    ) -> EnvelopeId {
        let ask = RoomAsk {
            room,
            home: home.clone(),
            severity,
            by: person.name,
            role: person.role,
            act,
        };
        self.originate(Body::Room(RoomBody::Ask(ask)), vec![home], mode, now)
    }

    /// The owner of a report the policy opens a room for opens it at once.
    pub(super) fn auto_open_room(&mut self, incident: EnvelopeId, now: Timestamp) {
        let Some(i) = self.store.incidents.get(&incident) else {
            return;
        };
        let (severity, mode) = (i.report.severity, i.mode);
        if i.owner != self.me || !self.topology.policy().opens_room(severity) {
            return;
        }
        let system = Person {
            node: self.me.clone(),
            name: SYSTEM.into(),
            role: Role::Leader,
        };
        if self.check_open(incident, &system).is_ok() {
            self.ask(incident, self.me.clone(), severity, mode, system, RoomAct::Open, now);
        }
    }

    // ---- arrivals ----

    /// A newly stored room envelope.
    pub(super) fn on_room(&mut self, envelope: &Envelope, body: &RoomBody, addressed: bool, now: Timestamp) {
        if !addressed {
            // Only a center on the way: it stores and relays. An event still
            // waits here, in case this node joins the room later.
            if let RoomBody::Event(e) = body {
                self.room_waiting.entry(e.room).or_default().insert(e.seq, envelope.id);
            }
            return;
        }
        match body {
            RoomBody::Ask(a) if a.home == self.me => self.take_ask(envelope, a, now),
            RoomBody::Ask(_) => {}
            RoomBody::Event(e) => self.room_event_arrived(envelope.id, e.room, e.seq, true, now),
            RoomBody::Sync { room, from, to } => self.on_sync(&envelope.origin, *room, *from, *to, now),
            RoomBody::History { room, events } => self.on_history(envelope, *room, events, now),
            RoomBody::Refused { room, ask, reason } => {
                self.audit(
                    now,
                    format!("room {room}: ask {ask} refused by {}: {reason}", envelope.origin),
                );
                self.notify(Event::RoomRefused {
                    room: *room,
                    ask: *ask,
                    reason: reason.clone(),
                });
            }
        }
    }

    /// At the home: take the ask (number it, fan it out) or refuse it.
    pub(super) fn take_ask(&mut self, envelope: &Envelope, a: &RoomAsk, now: Timestamp) {
        let person = Person {
            node: envelope.origin.clone(),
            name: a.by.clone(),
            role: a.role,
        };
        let checked = match (&a.act, self.store.rooms.get(&a.room)) {
            (RoomAct::Open, None) if person.node == self.me => self.check_open(a.room, &person).map(|_| ()),
            (RoomAct::Open, None) => Err(CommandError::NotOwner {
                incident: a.room,
                owner: self.me.clone(),
                action: "open a room on",
            }),
            (_, None) => {
                return self.refuse_ask(
                    envelope,
                    a.room,
                    format!("{} has no coordination room for incident {}", self.me, a.room),
                    now,
                );
            }
            (act, Some(r)) => self.check_act(r, &person, act),
        };
        if let Err(e) = checked {
            return self.refuse_ask(envelope, a.room, e.to_string(), now);
        }
        let ask = Box::new(envelope.clone());
        let what = match &a.act {
            RoomAct::Open => {
                let report = self.store.envelopes.get(&a.room).map(|s| Box::new(s.envelope.clone()));
                RoomWhat::Asked {
                    ask,
                    report,
                    order: None,
                }
            }
            RoomAct::Task {
                target,
                instruction,
                finish_by,
            } => {
                let by = if person.node == self.me {
                    person.name.clone()
                } else {
                    format!("{} ({})", person.name, person.node)
                };
                let (severity, mode) = self
                    .store
                    .rooms
                    .get(&a.room)
                    .map_or((a.severity, envelope.mode), |r| (r.severity, r.mode));
                let order = Order {
                    incident: Some(a.room),
                    targets: Targets::Node(target.clone()),
                    severity,
                    instruction: instruction.clone(),
                    by,
                    finish_by: *finish_by,
                };
                let order = self.originate(Body::Order(order), Vec::new(), mode, now);
                RoomWhat::Asked {
                    ask,
                    report: None,
                    order: Some(order),
                }
            }
            _ => RoomWhat::Asked {
                ask,
                report: None,
                order: None,
            },
        };
        let invited = match &a.act {
            RoomAct::Invite { node } => Some(node.clone()),
            _ => None,
        };
        let seq = self.room_emit(a.room, what, invited.clone(), now);
        if let (Some(node), Some(seq)) = (invited, seq) {
            // The newcomer gets everything before its invitation at once.
            self.send_history(a.room, &node, 1, seq.saturating_sub(1), now);
        }
    }

    pub(super) fn refuse_ask(&mut self, envelope: &Envelope, room: EnvelopeId, reason: String, now: Timestamp) {
        let act = match &envelope.body {
            Body::Room(RoomBody::Ask(a)) => format!("{} by {}", a.act.name(), a.by),
            _ => "ask".to_owned(),
        };
        self.audit(
            now,
            format!("room {room}: refused {act} from {}: {reason}", envelope.origin),
        );
        if envelope.origin == self.me {
            self.notify(Event::RoomRefused {
                room,
                ask: envelope.id,
                reason,
            });
        } else {
            let body = Body::Room(RoomBody::Refused {
                room,
                ask: envelope.id,
                reason,
            });
            self.originate(body, vec![envelope.origin.clone()], envelope.mode, now);
        }
    }

    /// At the home: numbers an event and sends it to every node of the
    /// room (and `extra`, a node being invited). Returns its number.
    pub(super) fn room_emit(
        &mut self,
        room: EnvelopeId,
        what: RoomWhat,
        extra: Option<NodeId>,
        now: Timestamp,
    ) -> Option<u64> {
        let (seq, severity, mode, mut to) = match self.store.rooms.get(&room) {
            Some(r) => (r.last_seq + 1, r.severity, r.mode, r.audience(&self.topology)),
            None => {
                // The opening: the room's nodes are the incident's path.
                let i = self.store.incidents.get(&room)?;
                let mut to = incident_path(&self.topology, &i.origin, &self.me);
                to.retain(|n| *n != self.me);
                (1, i.report.severity, i.mode, to)
            }
        };
        to.extend(extra);
        let event = RoomEvent {
            room,
            seq,
            severity,
            what,
        };
        self.originate(Body::Room(RoomBody::Event(event)), to, mode, now);
        Some(seq)
    }
}
