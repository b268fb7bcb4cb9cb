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

use liandong_topology::{NodeId, Severity};

use super::{CommandError, Core, Event, Timer};
use crate::codec::encoded_len;
use crate::room::{
    HISTORY_BATCH, HISTORY_BATCHES_PER_SYNC, HISTORY_BYTES, MAX_INVITED, MAX_PRESENT, MAX_ROOM_EVENTS, MAX_TASKS,
    Person, Presence, Room, RoomEntry, RoomLine, RoomState, SYSTEM, incident_path,
};
use crate::sign::verify_envelope;
use crate::store::{Record, StoredEnvelope};
use crate::wire::{
    Body, Envelope, EnvelopeId, Hop, Mode, Order, Role, RoomAct, RoomAsk, RoomBody, RoomEvent, RoomWhat, TargetState,
    Targets, Timestamp,
};

/// How long a persisting gap waits before the same range is asked again.
const RESYNC_AFTER: std::time::Duration = std::time::Duration::from_secs(60);

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
    fn check_open(&self, room: EnvelopeId, person: &Person) -> Result<(Severity, Mode), CommandError> {
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
    fn check_act(&self, r: &Room, person: &Person, act: &RoomAct) -> Result<(), CommandError> {
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
    fn ask(
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
    fn take_ask(&mut self, envelope: &Envelope, a: &RoomAsk, now: Timestamp) {
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

    fn refuse_ask(&mut self, envelope: &Envelope, room: EnvelopeId, reason: String, now: Timestamp) {
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
    fn room_emit(&mut self, room: EnvelopeId, what: RoomWhat, extra: Option<NodeId>, now: Timestamp) -> Option<u64> {
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

    /// A room event stored here: apply it if it is the next one, else let
    /// it wait (and watch for the gap).
    fn room_event_arrived(&mut self, id: EnvelopeId, room: EnvelopeId, seq: u64, addressed: bool, now: Timestamp) {
        let last = self.store.rooms.get(&room).map_or(0, |r| r.last_seq);
        if seq <= last {
            return;
        }
        self.room_waiting.entry(room).or_default().insert(seq, id);
        if last == 0 && !addressed {
            return;
        }
        self.drain_room(room, now);
        if self.room_waiting.get(&room).is_some_and(|w| !w.is_empty()) {
            self.watch_gap(room, now);
        }
    }

    /// Applies waiting events of `room` while the next one is there.
    fn drain_room(&mut self, room: EnvelopeId, now: Timestamp) {
        loop {
            let next = self.store.rooms.get(&room).map_or(1, |r| r.last_seq + 1);
            let Some(waiting) = self.room_waiting.get_mut(&room) else {
                return;
            };
            // Anything at or below what is applied is a copy of it.
            while waiting.first_key_value().is_some_and(|(s, _)| *s < next) {
                waiting.pop_first();
            }
            let Some(id) = waiting.remove(&next) else {
                if waiting.is_empty() {
                    self.room_waiting.remove(&room);
                }
                return;
            };
            if !self.apply_room_event(id, now) {
                // Refused (audited): later events wait behind it for a good
                // copy of this one.
                return;
            }
        }
    }

    /// Applies one room event, which is the next in its room. Returns
    /// false if it is not a valid event of the room.
    fn apply_room_event(&mut self, id: EnvelopeId, now: Timestamp) -> bool {
        let Some(envelope) = self.store.envelopes.get(&id).map(|s| s.envelope.clone()) else {
            return false;
        };
        match self.room_change(&envelope) {
            Ok((room, entry)) => {
                let summary = entry.summary();
                let (room_id, seq, line) = (room.id, entry.seq, entry.line.name());
                self.persist(Record::Room(room));
                self.persist(Record::RoomEntry(entry));
                self.audit(now, format!("room {room_id} {summary}"));
                self.notify(Event::RoomChanged {
                    room: room_id,
                    seq,
                    line,
                });
                true
            }
            Err(reason) => {
                self.refuse(&envelope.origin, format!("room event {id}: {reason}"), now);
                false
            }
        }
    }

    /// The room header and log entry that an event makes, or why it is
    /// not a valid next event.
    fn room_change(&self, envelope: &Envelope) -> Result<(Room, RoomEntry), String> {
        let Body::Room(RoomBody::Event(event)) = &envelope.body else {
            return Err("not a room event".into());
        };
        let home = &envelope.origin;
        let current = self.store.rooms.get(&event.room);
        if let Some(r) = current
            && r.home != *home
        {
            return Err(format!("sent by {home}, but the room's home is {}", r.home));
        }
        let at = envelope.created;
        let (by, line, ask_id) = match &event.what {
            RoomWhat::TaskProgress {
                task,
                order,
                target,
                state,
            } => {
                let r = current.ok_or("task progress before the room opened")?;
                if !r.tasks.iter().any(|t| t.seq == *task && t.order == *order) {
                    return Err(format!("no task #{task} with order {order}"));
                }
                let line = RoomLine::TaskProgress {
                    task: *task,
                    target: target.clone(),
                    state: state.clone(),
                };
                (None, line, None)
            }
            RoomWhat::Asked { ask, report, order } => {
                verify_envelope(ask, &*self.check).map_err(|e| format!("the ask inside: {e}"))?;
                let Body::Room(RoomBody::Ask(a)) = &ask.body else {
                    return Err("the ask inside is not a room ask".into());
                };
                if a.room != event.room || a.home != *home {
                    return Err("the ask inside is for another room or home".into());
                }
                let person = Person {
                    node: ask.origin.clone(),
                    name: a.by.clone(),
                    role: a.role,
                };
                let line = match (&a.act, current) {
                    (RoomAct::Open, None) if event.seq == 1 && ask.origin == *home => {
                        let report = report.as_deref().ok_or("an opening without its report")?;
                        verify_envelope(report, &*self.check).map_err(|e| format!("the report inside: {e}"))?;
                        if report.id != event.room || !matches!(report.body, Body::Report(_)) {
                            return Err("the opening carries another report".into());
                        }
                        let entry = RoomEntry {
                            room: event.room,
                            seq: 1,
                            event: envelope.id,
                            ask: Some(ask.id),
                            at,
                            by: Some(person.clone()),
                            line: RoomLine::Opened,
                        };
                        return Ok((self.opened_room(envelope, report, person), entry));
                    }
                    (_, None) => return Err("an event before the room's opening".into()),
                    (RoomAct::Open, Some(_)) => return Err("a second opening".into()),
                    (RoomAct::Enter, _) => RoomLine::Entered,
                    (RoomAct::Leave, _) => RoomLine::Left,
                    (RoomAct::Say { text }, _) => RoomLine::Said { text: text.clone() },
                    (RoomAct::Decide { text }, _) => RoomLine::Decided { text: text.clone() },
                    (
                        RoomAct::Task {
                            target,
                            instruction,
                            finish_by,
                        },
                        _,
                    ) => RoomLine::Tasked {
                        order: order.ok_or("a task without its order")?,
                        target: target.clone(),
                        instruction: instruction.clone(),
                        finish_by: *finish_by,
                    },
                    (RoomAct::Invite { node }, _) => RoomLine::Invited { node: node.clone() },
                    (RoomAct::Close { summary }, _) => RoomLine::Closed {
                        summary: summary.clone(),
                    },
                };
                (Some(person), line, Some(ask.id))
            }
        };
        let mut room = current.cloned().ok_or("an event before the room's opening")?;
        if event.seq != room.last_seq + 1 {
            return Err(format!("event #{} is not the next after #{}", event.seq, room.last_seq));
        }
        let entry = RoomEntry {
            room: room.id,
            seq: event.seq,
            event: envelope.id,
            ask: ask_id,
            at,
            by,
            line,
        };
        room.apply(&entry);
        Ok((room, entry))
    }

    /// A room as its opening event makes it.
    fn opened_room(&self, event: &Envelope, report: &Envelope, opener: Person) -> Room {
        let Body::Report(r) = &report.body else {
            unreachable!("checked by the caller")
        };
        let present = if opener.name == SYSTEM {
            Vec::new()
        } else {
            vec![Presence {
                person: opener.clone(),
                since: event.created,
            }]
        };
        Room {
            id: report.id,
            home: event.origin.clone(),
            origin: report.origin.clone(),
            title: r.title.clone(),
            severity: r.severity,
            category: r.category,
            place: r.place.clone(),
            mode: report.mode,
            opened: event.created,
            opened_by: opener,
            state: RoomState::Open,
            closing: None,
            present,
            invited: Vec::new(),
            tasks: Vec::new(),
            last_seq: 1,
        }
    }

    // ---- tasks ----

    /// At the home: a task's target moved on; record it in the room.
    pub(super) fn room_task_progress(
        &mut self,
        order: EnvelopeId,
        target: &NodeId,
        state: &TargetState,
        now: Timestamp,
    ) {
        let Some(room) = self.store.orders.get(&order).and_then(|o| o.order.incident) else {
            return;
        };
        let Some(r) = self.store.rooms.get(&room) else {
            return;
        };
        if r.home != self.me || !r.is_open() {
            return;
        }
        let Some(task) = r.tasks.iter().find(|t| t.order == order && t.target == *target) else {
            return;
        };
        let what = RoomWhat::TaskProgress {
            task: task.seq,
            order,
            target: target.clone(),
            state: state.clone(),
        };
        self.room_emit(room, what, None, now);
    }

    // ---- catch-up ----

    /// A gap that did not fill by itself: ask the home for it.
    pub(super) fn on_room_gap(&mut self, room: EnvelopeId, now: Timestamp) {
        self.room_gap_armed.remove(&room);
        let last = self.store.rooms.get(&room).map_or(0, |r| r.last_seq);
        let Some((&first_waiting, &waiting_id)) = self.room_waiting.get(&room).and_then(|w| w.first_key_value()) else {
            return;
        };
        if first_waiting <= last + 1 {
            return;
        }
        // The home signs every event: an event that waits names it even
        // when the room's opening never arrived here.
        let home = match self.store.rooms.get(&room) {
            Some(r) => r.home.clone(),
            None => match self.store.envelopes.get(&waiting_id) {
                Some(s) => s.envelope.origin.clone(),
                None => return,
            },
        };
        if home == self.me {
            return;
        }
        let from = last + 1;
        let recently = self
            .room_synced
            .get(&room)
            .is_some_and(|&(f, at)| f == from && now.since(at) < RESYNC_AFTER);
        if !recently {
            self.room_synced.insert(room, (from, now));
            let mode = self
                .store
                .envelopes
                .get(&waiting_id)
                .map_or(Mode::Actual, |s| s.envelope.mode);
            let to = first_waiting - 1;
            self.audit(
                now,
                format!("room {room}: events #{from}..#{to} missing, asking {home}"),
            );
            self.originate(Body::Room(RoomBody::Sync { room, from, to }), vec![home], mode, now);
        }
        // Keep watching while the gap lasts.
        self.watch_gap(room, now);
    }

    /// Looks at `room`'s gap again after `room_gap_wait` (one timer per
    /// room at a time).
    fn watch_gap(&mut self, room: EnvelopeId, now: Timestamp) {
        if self.room_gap_armed.insert(room) {
            self.timer(now.plus(self.config.room_gap_wait), Timer::RoomGap { room });
        }
    }

    /// At the home: a node of the room asks for events it lacks.
    fn on_sync(&mut self, asker: &NodeId, room: EnvelopeId, from: u64, to: u64, now: Timestamp) {
        let Some(r) = self.store.rooms.get(&room) else {
            return;
        };
        if r.home != self.me {
            return;
        }
        if !r.admits(&self.topology, asker) {
            self.audit(
                now,
                format!("room {room}: history refused to {asker}, which is not a node of the room"),
            );
            return;
        }
        let to = to.min(r.last_seq);
        self.send_history(room, asker, from.max(1), to, now);
    }

    /// Sends events `from..=to` of `room` to `node` in bounded batches.
    fn send_history(&mut self, room: EnvelopeId, node: &NodeId, from: u64, to: u64, now: Timestamp) {
        if from > to {
            return;
        }
        let mode = self.store.rooms.get(&room).map_or(Mode::Actual, |r| r.mode);
        let mut batches: Vec<Vec<Envelope>> = Vec::new();
        let mut batch: Vec<Envelope> = Vec::new();
        let mut bytes = 0;
        for entry in self.store.room_log.range((room, from)..=(room, to)).map(|(_, e)| e) {
            let Some(stored) = self.store.envelopes.get(&entry.event) else {
                continue;
            };
            let size = encoded_len(&stored.envelope);
            if !batch.is_empty() && (batch.len() >= HISTORY_BATCH || bytes + size > HISTORY_BYTES) {
                batches.push(std::mem::take(&mut batch));
                bytes = 0;
                if batches.len() >= HISTORY_BATCHES_PER_SYNC {
                    break;
                }
            }
            bytes += size;
            batch.push(stored.envelope.clone());
        }
        if !batch.is_empty() && batches.len() < HISTORY_BATCHES_PER_SYNC {
            batches.push(batch);
        }
        for events in batches {
            let body = Body::Room(RoomBody::History { room, events });
            self.originate(body, vec![node.clone()], mode, now);
        }
    }

    /// Events from a history batch: stored (once) and applied in order.
    fn on_history(&mut self, history: &Envelope, room: EnvelopeId, events: &[Envelope], now: Timestamp) {
        if events.len() > HISTORY_BATCH {
            self.refuse(
                &history.origin,
                format!(
                    "room history {}: {} events, at most {HISTORY_BATCH}",
                    history.id,
                    events.len()
                ),
                now,
            );
            return;
        }
        for event in events {
            let seq = match &event.body {
                Body::Room(RoomBody::Event(e)) if e.room == room && event.origin == history.origin => e.seq,
                _ => {
                    self.refuse(
                        &history.origin,
                        format!(
                            "room history {}: {} is not an event of room {room}",
                            history.id, event.id
                        ),
                        now,
                    );
                    continue;
                }
            };
            if let Err(e) = verify_envelope(event, &*self.check) {
                self.refuse(&history.origin, format!("room history {}: {e}", history.id), now);
                continue;
            }
            if !self.store.envelopes.contains_key(&event.id) {
                self.persist(Record::Envelope(StoredEnvelope {
                    envelope: event.clone(),
                    trace: vec![Hop {
                        node: self.me.clone(),
                        at: now,
                    }],
                    catch_up: true,
                }));
            }
            self.room_event_arrived(event.id, room, seq, true, now);
        }
    }

    // ---- restore ----

    /// After a restart: events stored but not applied wait again, and
    /// rooms with a gap watch it again.
    pub(super) fn restore_rooms(&mut self, now: Timestamp) {
        let mut waiting: Vec<(EnvelopeId, u64, EnvelopeId)> = Vec::new();
        for stored in self.store.envelopes.values() {
            if let Body::Room(RoomBody::Event(e)) = &stored.envelope.body {
                let last = self.store.rooms.get(&e.room).map_or(0, |r| r.last_seq);
                if e.seq > last {
                    waiting.push((e.room, e.seq, stored.envelope.id));
                }
            }
        }
        for (room, seq, id) in waiting {
            self.room_waiting.entry(room).or_default().insert(seq, id);
        }
        let known: Vec<EnvelopeId> = self
            .room_waiting
            .keys()
            .filter(|r| self.store.rooms.contains_key(r))
            .copied()
            .collect();
        for room in known {
            self.watch_gap(room, now);
        }
    }
}
