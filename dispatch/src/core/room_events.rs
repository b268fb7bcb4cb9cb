//! Coordination rooms at every member: a room event applied strictly in
//! sequence order and once (an early one waits, stored), the room's state
//! change it makes, tasks as orders and their progress, gaps asked of the
//! home and answered as bounded history batches, and rooms rebuilt on
//! restore. How asks reach the home and become events is `room_asks`.

use liandong_topology::NodeId;

use super::{Core, Event, SyncAsked, Timer};
use crate::codec::encoded_len;
use crate::room::{
    HISTORY_BATCH, HISTORY_BATCHES_PER_SYNC, HISTORY_BYTES, Person, Presence, Room, RoomEntry, RoomLine, RoomState,
    SYSTEM,
};
use crate::sign::verify_envelope;
use crate::store::{Record, StoredEnvelope};
use crate::wire::{Body, Envelope, EnvelopeId, Hop, Mode, RoomAct, RoomBody, RoomWhat, TargetState, Timestamp};

/// How long a persisting gap waits before the same range is asked again.
const RESYNC_AFTER: std::time::Duration = std::time::Duration::from_secs(60);

impl Core {
    /// A room event stored here: apply it if it is the next one, else let
    /// it wait (and watch for the gap).
    pub(super) fn room_event_arrived(
        &mut self,
        id: EnvelopeId,
        room: EnvelopeId,
        seq: u64,
        addressed: bool,
        now: Timestamp,
    ) {
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
    pub(super) fn drain_room(&mut self, room: EnvelopeId, now: Timestamp) {
        loop {
            let next = self.store.rooms.get(&room).map_or(1, |r| r.last_seq + 1);
            let Some(waiting) = self.room_waiting.get_mut(&room) else {
                return;
            };
            // Anything at or below what is applied is a copy of it.
            while waiting.first_key_value().is_some_and(|(s, _)| *s < next) {
                waiting.pop_first();
            }
            let id = match waiting.remove(&next) {
                Some(id) => Some(id),
                // The planted bug (`CoreConfig::plant_room_out_of_order`):
                // the earliest event waiting, however early, goes now.
                None if self.config.plant_room_out_of_order => waiting.pop_first().map(|(_, id)| id),
                None => None,
            };
            let Some(id) = id else {
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
    pub(super) fn apply_room_event(&mut self, id: EnvelopeId, now: Timestamp) -> bool {
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
    pub(super) fn room_change(&self, envelope: &Envelope) -> Result<(Room, RoomEntry), String> {
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
        let planted = self.config.plant_room_out_of_order && event.seq > room.last_seq;
        if event.seq != room.last_seq + 1 && !planted {
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
    pub(super) fn opened_room(&self, event: &Envelope, report: &Envelope, opener: Person) -> Room {
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
            .is_some_and(|asked| asked.from == from && now.since(asked.at) < RESYNC_AFTER);
        if !recently {
            self.room_synced.insert(room, SyncAsked { from, at: now });
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
    pub(super) fn watch_gap(&mut self, room: EnvelopeId, now: Timestamp) {
        if self.room_gap_armed.insert(room) {
            self.timer(now.plus(self.config.room_gap_wait), Timer::RoomGap { room });
        }
    }

    /// At the home: a node of the room asks for events it lacks.
    pub(super) fn on_sync(&mut self, asker: &NodeId, room: EnvelopeId, from: u64, to: u64, now: Timestamp) {
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
    pub(super) fn send_history(&mut self, room: EnvelopeId, node: &NodeId, from: u64, to: u64, now: Timestamp) {
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
    pub(super) fn on_history(&mut self, history: &Envelope, room: EnvelopeId, events: &[Envelope], now: Timestamp) {
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
