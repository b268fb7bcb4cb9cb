//! What the node has told the console: a fold of one
//! [`Response::Snapshot`](liandong_control::Response::Snapshot) and
//! the [`Pushed`] notices after it, plus the topology it runs.
//!
//! The console decides nothing here: it records what the node said. The
//! only inference is bookkeeping (a target's new state from an
//! `OrderProgress`), never a protocol rule.
//!
//! Bounds: the maps hold what the snapshot held plus what was pushed
//! since; incidents closed or cancelled while watching are kept for
//! [`MAX_CLOSED`] more, oldest dropped first, rooms closed while watching
//! for [`MAX_CLOSED_ROOMS`] more, and the notice log holds the last
//! [`MAX_NOTICES`].

use std::collections::{HashMap, HashSet, VecDeque};

use liandong_control::{NodeStatus, Notice, OrderView, Pushed};
use liandong_dispatch::room::Room;
use liandong_dispatch::store::{Incident, TargetStatus};
use liandong_dispatch::wire::{EnvelopeId, Item, Timestamp};
use liandong_topology::{NodeId, Topology};

/// Closed or cancelled incidents kept after they close (the board can
/// still show them with a state filter).
pub const MAX_CLOSED: usize = 1000;
/// Pushed notices kept for the links screen's "recent notices".
pub const MAX_NOTICES: usize = 200;
/// Room headers kept after their room closed (the detail still shows
/// how it ended; the node keeps the log).
pub const MAX_CLOSED_ROOMS: usize = 200;

#[derive(Debug, Default)]
pub struct Model {
    /// The federation as the node runs it: names and readable paths.
    pub topology: Option<Topology>,
    /// "福州市 / 鼓楼区 / 鼓东街道 / 五一社区" per node, built once from the
    /// topology so the board never walks the tree while drawing.
    pub paths: HashMap<NodeId, String>,
    /// The node's own status; `None` until the first snapshot.
    pub status: Option<NodeStatus>,
    pub incidents: HashMap<EnvelopeId, Incident>,
    pub orders: HashMap<EnvelopeId, OrderView>,
    /// Coordination rooms this node is part of (headers), by incident:
    /// the open ones of the snapshot, then each as its latest event left
    /// it.
    pub rooms: HashMap<EnvelopeId, Room>,
    /// Rooms that closed while watching, in the order they closed.
    closed_rooms: VecDeque<EnvelopeId>,
    /// The next hop that stored something that started here ("at the
    /// township"), per envelope, from `Forwarded` notices.
    pub forwarded: HashMap<EnvelopeId, NodeId>,
    /// Incidents a `Supervised` notice named (also marked on the
    /// incident's `supervisor` once the node updates it).
    pub supervised: HashSet<EnvelopeId>,
    /// Closed or cancelled incidents in the order they closed.
    closed: VecDeque<EnvelopeId>,
    /// The latest notices, newest last.
    pub notices: VecDeque<Pushed>,
}

impl Model {
    /// This node's id, once known.
    pub fn me(&self) -> Option<&NodeId> {
        self.status.as_ref().map(|s| &s.node)
    }

    pub fn set_topology(&mut self, topology: Topology) {
        self.paths = topology
            .nodes()
            .map(|n| {
                let mut names: Vec<&str> = topology.ancestors(&n.id).map(|a| a.name.as_str()).collect();
                names.reverse();
                names.push(&n.name);
                (n.id.clone(), names.join(" / "))
            })
            .collect();
        self.topology = Some(topology);
    }

    /// The readable path of a node, or its id if the topology lacks it.
    pub fn path<'a>(&'a self, id: &'a NodeId) -> &'a str {
        self.paths.get(id).map_or(id.as_str(), String::as_str)
    }

    /// The name of a node, or its id.
    pub fn name<'a>(&'a self, id: &'a NodeId) -> &'a str {
        self.topology
            .as_ref()
            .and_then(|t| t.get(id))
            .map_or(id.as_str(), |n| n.name.as_str())
    }

    /// Replaces everything the node reported with a fresh snapshot.
    pub fn apply_snapshot(
        &mut self,
        status: NodeStatus,
        incidents: Vec<Incident>,
        orders: Vec<OrderView>,
        rooms: Vec<Room>,
    ) {
        self.status = Some(status);
        self.rooms = rooms.into_iter().map(|r| (r.id, r)).collect();
        self.closed_rooms.clear();
        self.incidents = incidents.into_iter().map(|i| (i.id, i)).collect();
        self.orders = orders.into_iter().map(|o| (o.order.id, o)).collect();
        self.forwarded.retain(|id, _| self.incidents.contains_key(id));
        self.supervised.retain(|id| self.incidents.contains_key(id));
        self.closed.clear();
    }

    /// Folds one pushed notice in.
    pub fn apply(&mut self, pushed: &Pushed) {
        match &pushed.notice {
            Notice::IncidentRecorded { incident, .. } | Notice::IncidentChanged { incident, .. } => {
                self.put_incident(incident.clone());
            }
            Notice::OrderReceived { order } => {
                self.orders.insert(order.order.id, order.clone());
            }
            Notice::RoomChanged { room, .. } => self.put_room(room.clone()),
            Notice::RoomRefused { .. } | Notice::DocumentApplied { .. } => {}
            Notice::OrderProgress {
                order,
                target,
                state,
                roll_up,
            } => {
                if let Some(view) = self.orders.get_mut(order) {
                    view.roll_up = *roll_up;
                    match view.targets.iter_mut().find(|(t, _)| t == target) {
                        Some((_, status)) => {
                            status.state = state.clone();
                            status.at = pushed.at;
                        }
                        None => view.targets.push((
                            target.clone(),
                            TargetStatus {
                                state: state.clone(),
                                at: pushed.at,
                                overdue: None,
                            },
                        )),
                    }
                }
            }
            Notice::Forwarded { id, to } => {
                if self.incidents.contains_key(id) || self.orders.contains_key(id) {
                    self.forwarded.insert(*id, to.clone());
                }
            }
            Notice::Supervised { item, stage, .. } => match item {
                Item::Incident(id) => {
                    if self.incidents.contains_key(id) {
                        self.supervised.insert(*id);
                    }
                }
                Item::OrderTarget { order, target } => {
                    if let Some(view) = self.orders.get_mut(order)
                        && let Some((_, status)) = view.targets.iter_mut().find(|(t, _)| t == target)
                    {
                        status.overdue = Some(*stage);
                    }
                }
            },
            Notice::LinkChanged { peer, up } => {
                if let Some(link) = self
                    .status
                    .as_mut()
                    .and_then(|s| s.links.iter_mut().find(|l| &l.peer == peer))
                {
                    link.up = *up;
                    if *up {
                        link.last_heard = pushed.at;
                    }
                }
            }
            Notice::FailedOver { .. } => {
                if let Some(s) = self.status.as_mut() {
                    s.failed_over = true;
                }
            }
            Notice::Storage { problem } => {
                if let Some(s) = self.status.as_mut() {
                    s.storage_problem = problem.clone();
                }
            }
            Notice::DeadLettered { .. }
            | Notice::Refused { .. }
            | Notice::Lagged { .. }
            | Notice::Summary { .. }
            | Notice::IndexAlarm { .. } => {}
        }
        if self.notices.len() == MAX_NOTICES {
            self.notices.pop_front();
        }
        self.notices.push_back(pushed.clone());
    }

    /// Inserts or replaces an incident (e.g. an answer to a query).
    pub fn put_incident(&mut self, incident: Incident) {
        let id = incident.id;
        let was_open = self.incidents.get(&id).is_none_or(|i| i.state.is_open());
        if was_open && !incident.state.is_open() {
            self.closed.push_back(id);
            if self.closed.len() > MAX_CLOSED
                && let Some(old) = self.closed.pop_front()
            {
                self.incidents.remove(&old);
                self.forwarded.remove(&old);
                self.supervised.remove(&old);
            }
        }
        self.incidents.insert(id, incident);
    }

    /// Inserts or replaces a room's header, unless the one held is further
    /// along (an answer to a request can be older than a notice).
    pub fn put_room(&mut self, room: Room) {
        let id = room.id;
        let held = self.rooms.get(&id);
        if held.is_some_and(|r| r.last_seq > room.last_seq) {
            return;
        }
        let was_open = held.is_none_or(Room::is_open);
        if was_open && !room.is_open() {
            self.closed_rooms.push_back(id);
            if self.closed_rooms.len() > MAX_CLOSED_ROOMS
                && let Some(old) = self.closed_rooms.pop_front()
            {
                self.rooms.remove(&old);
            }
        }
        self.rooms.insert(id, room);
    }

    /// The open room of an incident, if there is one.
    pub fn open_room(&self, incident: &EnvelopeId) -> Option<&Room> {
        self.rooms.get(incident).filter(|r| r.is_open())
    }

    /// Orders of an incident: those it lists and those naming it.
    pub fn orders_of(&self, incident: &Incident) -> Vec<&OrderView> {
        let mut orders: Vec<&OrderView> = self
            .orders
            .values()
            .filter(|o| o.order.order.incident == Some(incident.id) || incident.orders.contains(&o.order.id))
            .collect();
        orders.sort_by_key(|o| (o.order.issued, o.order.id));
        orders
    }

    /// The deadline an incident is racing now, if any: accepting while
    /// reported, finishing once accepted.
    pub fn due(incident: &Incident) -> Option<(Timestamp, liandong_dispatch::wire::Stage)> {
        use liandong_dispatch::store::IncidentState as S;
        use liandong_dispatch::wire::Stage;
        match incident.state {
            S::Reported => Some((incident.accept_by, Stage::Accept)),
            S::Accepted | S::Dispatched => incident.finish_by.map(|t| (t, Stage::Finish)),
            _ => None,
        }
    }

    /// True if the incident is under supervision (督办).
    pub fn is_supervised(&self, incident: &Incident) -> bool {
        incident.supervisor.is_some() || self.supervised.contains(&incident.id)
    }
}
