//! Coordination rooms (`[rooms]`): the engine as the people in them.
//!
//! Each room is drawn at setup (its village, severity and the time of its
//! report), so faults can pick its home and members before the run. Then:
//! the village reports; a leader at the incident's owner opens the room
//! (retried while that node is down or has not recorded it yet, and moved
//! to whoever owns it by then); acts follow a mean `every` apart, each by
//! the leader of a random node of the room (the incident's path, plus the
//! nodes invited): entering if they are not present by their own node's
//! copy, else talking, deciding, inviting (at the home), tasking a node
//! below the home, or leaving. A task's target signs for its order as any
//! order's does (`effects`) and finishes it `finish_after` later; the
//! home's leader closes the room after its last act.
//!
//! It records, and judges nothing: every ask a node sent (`AskTrack`),
//! the asks the home refused as the asker was told, every room event each
//! core applied and when, in the order the core said so (a wiped disk
//! marked), and the disks wiped. The oracle (`oracle::rooms`) reads them.

use liandong_dispatch::room::incident_path;
use liandong_dispatch::{Role, RoomAct};

use super::*;
use crate::scenario::{PICK_ROOM_HOME, Rooms};

/// Opening, closing and finishing are tried again this often while they
/// cannot be done yet (the node is down, the incident not there yet).
const ROOM_RETRY: u64 = 30_000;
const ROOM_TRIES: u8 = 120;

/// One room the scenario opens.
pub(crate) struct RoomTrack {
    pub origin: Ix,
    pub severity: Severity,
    /// The node its room is opened at: the policy owner, or whoever owns
    /// the incident when the leader opens it.
    pub home: Ix,
    pub incident: Option<EnvelopeId>,
    /// When the home took the opening (its leader's or the system's).
    pub opened: Option<u64>,
    pub acts_left: u32,
    /// Nodes the home's leader asked to invite.
    pub invited: Vec<Ix>,
    pub closed: bool,
}

/// An ask a node sent its room's home.
pub(crate) struct AskTrack {
    pub room: EnvelopeId,
    pub ask: EnvelopeId,
    pub node: Ix,
    pub at: u64,
    pub act: &'static str,
}

/// What the rooms' people did and what the cores said.
#[derive(Default)]
pub(crate) struct RoomTally {
    pub rooms: Vec<RoomTrack>,
    pub asks: Vec<AskTrack>,
    /// Asks the home refused, as their askers were told.
    pub refused: HashSet<EnvelopeId>,
    /// Per (node, room): the events the core applied, (sequence number,
    /// when), in the order it told of them; `(0, t)` marks a disk wiped.
    pub applied: HashMap<(Ix, EnvelopeId), Vec<(u64, u64)>>,
    /// Disks wiped: (node, when).
    pub wipes: Vec<(Ix, u64)>,
    /// Envelopes a wiped disk still owed a peer (lost in flight with it).
    pub in_flight_lost: HashSet<EnvelopeId>,
    /// Acts the acting node refused itself (its copy of the room said
    /// no), and acts not made because the node was down or had no room.
    pub refused_at_node: u64,
    pub not_acted: u64,
    /// Gaps asked of a home (`RoomBody::Sync` sent).
    pub gaps_asked: u64,
}

enum Step {
    Enter,
    Say,
    Decide,
    Task,
    Invite,
    Leave,
}

/// The leader of `node`'s center, as they sign in the room.
fn leader(topo: &Topology, ix: Ix) -> String {
    format!("领导{}", topo.node(NodeIx(ix)).id)
}

impl<'a> Sim<'a> {
    /// Draws every room and queues its report (before the faults are
    /// placed, so they can pick the rooms' nodes).
    pub(super) fn setup_rooms(&mut self) {
        let Some(spec) = &self.scenario.rooms else { return };
        if self.reporters.is_empty() {
            return;
        }
        let until = spec.until.map_or(self.end_load, |u| u.0.as_millis() as u64).max(1);
        for _ in 0..spec.count {
            let origin = self.reporters[self.rng.random_range(0..self.reporters.len())];
            let severity = spec.severities[self.rng.random_range(0..spec.severities.len())];
            let home = self.topo.owner_ix(NodeIx(origin), severity).0;
            let at = self.rng.random_range(0..until);
            let room = self.rooms.rooms.len() as u32;
            self.rooms.rooms.push(RoomTrack {
                origin,
                severity,
                home,
                incident: None,
                opened: None,
                acts_left: spec.acts,
                invited: Vec::new(),
                closed: false,
            });
            self.push(at, Ev::RoomReport { room, tries: 0 });
        }
    }

    /// The nodes a `room-home` or `room-member` fault may pick: the rooms'
    /// homes, or the nodes on their incidents' paths below the home.
    pub(super) fn room_nodes(&self, pick: &str) -> Vec<Ix> {
        let mut v: Vec<Ix> = Vec::new();
        for r in &self.rooms.rooms {
            if pick == PICK_ROOM_HOME {
                v.push(r.home);
            } else {
                v.extend(self.path(r.origin, r.home).into_iter().filter(|&n| n != r.home));
            }
        }
        v.sort_unstable();
        v.dedup();
        v
    }

    fn path(&self, origin: Ix, home: Ix) -> Vec<Ix> {
        let topo = &self.topo;
        let ids = incident_path(topo, &topo.node(NodeIx(origin)).id, &topo.node(NodeIx(home)).id);
        ids.iter().filter_map(|id| topo.ix(id)).map(|x| x.0).collect()
    }

    fn spec(&self) -> &'a Rooms {
        self.scenario
            .rooms
            .as_ref()
            .expect("rooms are driven only with a [rooms] section")
    }

    pub(super) fn room_report(&mut self, room: u32, tries: u8) {
        let (origin, severity) = {
            let r = &self.rooms.rooms[room as usize];
            (r.origin, r.severity)
        };
        match self.file_report_in(origin, severity, u32::MAX) {
            Some(id) => {
                self.rooms.rooms[room as usize].incident = Some(id);
                let at = self.now + self.exp(self.spec().open_after.0.as_millis() as f64);
                self.push(at, Ev::RoomOpen { room, tries: 0 });
            }
            None if tries < ROOM_TRIES => self.push(self.now + ROOM_RETRY, Ev::RoomReport { room, tries: tries + 1 }),
            None => {}
        }
    }

    pub(super) fn room_open(&mut self, room: u32, tries: u8) {
        let (home, Some(incident)) = (
            self.rooms.rooms[room as usize].home,
            self.rooms.rooms[room as usize].incident,
        ) else {
            return;
        };
        let again = Ev::RoomOpen { room, tries: tries + 1 };
        let owner = self
            .core(home)
            .and_then(|c| c.incident(incident))
            .map(|i| i.owner.clone());
        let Some(owner) = owner else {
            // Down, or the report is not there yet.
            if tries < ROOM_TRIES {
                self.push(self.now + ROOM_RETRY, again);
            }
            return;
        };
        if let Some(o) = self.topo.ix(&owner).map(|o| o.0)
            && o != home
        {
            // Escalated meanwhile: its owner's leader opens it.
            self.rooms.rooms[room as usize].home = o;
            self.push(self.now, again);
            return;
        }
        let result = self.room_command(home, incident, RoomAct::Open, "open");
        match result {
            Ok(()) | Err(CommandError::RoomExists(_)) => {
                // Opened now, or by the system already (a policy room).
                self.rooms.rooms[room as usize].opened = Some(self.now);
                let at = self.now + self.exp(self.spec().every.0.as_millis() as f64);
                self.push(at, Ev::RoomAct { room });
            }
            Err(_) if tries < ROOM_TRIES => self.push(self.now + ROOM_RETRY, again),
            Err(_) => {}
        }
    }

    /// The next act in `room`, by the leader of one of its nodes.
    pub(super) fn room_act(&mut self, room: u32) {
        let spec = self.spec();
        let until = spec.until.map_or(self.end_load, |u| u.0.as_millis() as u64);
        let r = &self.rooms.rooms[room as usize];
        let (home, origin, Some(incident)) = (r.home, r.origin, r.incident) else {
            return;
        };
        let (done, closed) = (r.acts_left == 0 || self.now >= until, r.closed);
        if done || closed {
            if let Some(after) = spec.close_after
                && !closed
            {
                let at = self.now + after.0.as_millis() as u64;
                self.push(at, Ev::RoomClose { room, tries: 0 });
            }
            return;
        }
        self.rooms.rooms[room as usize].acts_left -= 1;
        let next = self.now + self.exp(spec.every.0.as_millis() as f64).max(1);
        self.push(next, Ev::RoomAct { room });
        let mut nodes = self.path(origin, home);
        nodes.extend(self.rooms.rooms[room as usize].invited.iter().copied());
        let node = nodes[self.rng.random_range(0..nodes.len())];
        let name = leader(&self.topo, node);
        let me = self.topo.node(NodeIx(node)).id.clone();
        let present = match self.core(node).and_then(|c| c.room(incident)) {
            Some(r) => r.presence(&me, &name).is_some(),
            None => {
                self.rooms.not_acted += 1;
                return;
            }
        };
        let step = if !present {
            Step::Enter
        } else {
            let x: f64 = self.rng.random();
            let shares = [
                (spec.decide, Step::Decide),
                (spec.task, Step::Task),
                (spec.invite, Step::Invite),
                (spec.leave, Step::Leave),
            ];
            let mut acc = 0.0;
            let mut pick = Step::Say;
            for (share, step) in shares {
                acc += share;
                if x < acc {
                    pick = step;
                    break;
                }
            }
            pick
        };
        let k = self.rooms.asks.len();
        let (act, what) = match step {
            Step::Enter => (RoomAct::Enter, "enter"),
            Step::Leave => (RoomAct::Leave, "leave"),
            Step::Say => (
                RoomAct::Say {
                    text: format!("第{k}条通报：现场情况已核实"),
                },
                "say",
            ),
            Step::Decide => (
                RoomAct::Decide {
                    text: format!("决定{k}：组织群众转移"),
                },
                "decide",
            ),
            Step::Task => {
                let range = self.topo.subtree_range(NodeIx(home));
                let below: Vec<Ix> = range.filter(|&n| n != home).collect();
                if below.is_empty() {
                    return;
                }
                let target = below[self.rng.random_range(0..below.len())];
                let act = RoomAct::Task {
                    target: self.topo.node(NodeIx(target)).id.clone(),
                    instruction: format!("任务{k}：排查转移"),
                    finish_by: None,
                };
                (act, "task")
            }
            Step::Invite if node == home => {
                let admitted: Vec<Ix> = nodes.clone();
                let others: Vec<Ix> = (0..self.topo.len() as u32).filter(|n| !admitted.contains(n)).collect();
                if others.is_empty() {
                    return;
                }
                let invitee = others[self.rng.random_range(0..others.len())];
                let act = RoomAct::Invite {
                    node: self.topo.node(NodeIx(invitee)).id.clone(),
                };
                if self.room_command(node, incident, act, "invite").is_ok() {
                    self.rooms.rooms[room as usize].invited.push(invitee);
                }
                return;
            }
            Step::Invite => (
                RoomAct::Say {
                    text: format!("第{k}条：请求增援"),
                },
                "say",
            ),
        };
        let _ = self.room_command(node, incident, act, what);
    }

    /// The home's leader closes the room (entering first if need be).
    pub(super) fn room_close(&mut self, room: u32, tries: u8) {
        let r = &self.rooms.rooms[room as usize];
        let (home, Some(incident), closed) = (r.home, r.incident, r.closed) else {
            return;
        };
        if closed {
            return;
        }
        let again = Ev::RoomClose { room, tries: tries + 1 };
        let name = leader(&self.topo, home);
        let me = self.topo.node(NodeIx(home)).id.clone();
        let present = self
            .core(home)
            .and_then(|c| c.room(incident))
            .map(|r| r.presence(&me, &name).is_some());
        let result = match present {
            None => {
                if tries < ROOM_TRIES {
                    self.push(self.now + ROOM_RETRY, again);
                }
                return;
            }
            Some(false) => {
                let _ = self.room_command(home, incident, RoomAct::Enter, "enter");
                if tries < ROOM_TRIES {
                    self.push(self.now + ROOM_RETRY, again);
                }
                return;
            }
            Some(true) => {
                let summary = "险情已控制，转入善后".to_string();
                self.room_command(home, incident, RoomAct::Close { summary }, "close")
            }
        };
        match result {
            Ok(()) | Err(CommandError::RoomClosed(_)) => self.rooms.rooms[room as usize].closed = true,
            Err(_) if tries < ROOM_TRIES => self.push(self.now + ROOM_RETRY, again),
            Err(_) => {}
        }
    }

    /// A task's target finishes its order.
    pub(super) fn finish_task(&mut self, node: Ix, order: EnvelopeId, tries: u8) {
        let cmd = Command::Acknowledge {
            order,
            state: TargetState::Done {
                note: "已完成".into()
            },
        };
        let again = Ev::Finish {
            node,
            order,
            tries: tries + 1,
        };
        self.operator_acts(self.now, node, tries, cmd, again);
    }

    /// Whether `order`, as `node` holds it, is a room's task (only rooms'
    /// tasks name an incident in a simulation).
    pub(super) fn is_room_task(&self, node: Ix, order: EnvelopeId) -> bool {
        self.scenario.rooms.is_some()
            && self
                .core(node)
                .and_then(|c| c.order(order))
                .is_some_and(|o| o.order.incident.is_some())
    }

    /// After a target signed for `order`: if it is a room's task, its
    /// finishing follows, within three times `finish_after`.
    pub(super) fn signed_for(&mut self, node: Ix, order: EnvelopeId) {
        if self.is_room_task(node, order) {
            let mean = self.spec().finish_after.0.as_millis() as f64;
            let at = self.now + self.exp(mean).min(3 * mean as u64);
            self.push(at, Ev::Finish { node, order, tries: 0 });
        }
    }

    /// The leader of `node` acts in `room`; a sent ask is recorded.
    fn room_command(
        &mut self,
        node: Ix,
        room: EnvelopeId,
        act: RoomAct,
        what: &'static str,
    ) -> Result<(), CommandError> {
        if !self.up(node) {
            self.rooms.not_acted += 1;
            return Err(CommandError::UnknownRoom(room));
        }
        let cmd = Command::Room {
            room,
            by: leader(&self.topo, node),
            role: Role::Leader,
            act,
            home: None,
        };
        let now = self.local(node);
        let result = self.nodes[node as usize]
            .core
            .as_mut()
            .map_or(Err(CommandError::UnknownRoom(room)), |c| c.handle_command(cmd, now));
        let out = match result {
            Ok(ask) => {
                self.rooms.asks.push(AskTrack {
                    room,
                    ask,
                    node,
                    at: self.now,
                    act: what,
                });
                Ok(())
            }
            Err(e) => {
                self.rooms.refused_at_node += 1;
                Err(e)
            }
        };
        self.drain(node);
        out
    }

    /// What a core told of its rooms.
    pub(super) fn room_event(&mut self, ix: Ix, event: &Event) {
        match event {
            Event::RoomChanged { room, seq, .. } => {
                let now = self.now;
                self.rooms.applied.entry((ix, *room)).or_default().push((*seq, now));
            }
            Event::RoomRefused { ask, .. } => {
                self.rooms.refused.insert(*ask);
            }
            _ => {}
        }
    }

    /// A disk wiped: what its rooms applied starts again from nothing.
    pub(super) fn rooms_wiped(&mut self, ix: Ix) {
        let now = self.now;
        self.rooms.wipes.push((ix, now));
        for ((n, _), v) in self.rooms.applied.iter_mut() {
            if *n == ix {
                v.push((0, now));
            }
        }
    }
}
