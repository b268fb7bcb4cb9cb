//! What a subscriber is told: the core's events, as the driver drains
//! them in a turn, mapped to webhook events (the table is in the module
//! doc of `webhooks`). Each event's id is derived from this center's id
//! and the durable thing that caused it (a report, an update envelope, an
//! order, a target's state, a supervision), so the same record applied
//! again makes the same id, and the store keeps it once.
//!
//! Pure: reads the core, never changes it, does no I/O.

use liandong_dispatch::store::{Incident, IncidentState, TargetStatus};
use liandong_dispatch::wire::{Action, Body, Item, Stage, TargetState};
use liandong_dispatch::{Core, EnvelopeId, Event, Timestamp};
use liandong_topology::NodeId;
use ring::digest::{SHA256, digest};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The kinds a subscription chooses from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    /// A new incident stored here (filed here or received).
    Incident,
    /// An order addressed to this center received.
    Order,
    /// An incident's stage moved, or an order target's state.
    Stage,
    /// An item supervised (督办) after a missed deadline.
    Supervision,
}

impl EventKind {
    pub const ALL: [EventKind; 4] = [
        EventKind::Incident,
        EventKind::Order,
        EventKind::Stage,
        EventKind::Supervision,
    ];

    pub fn name(self) -> &'static str {
        match self {
            EventKind::Incident => "incident",
            EventKind::Order => "order",
            EventKind::Stage => "stage",
            EventKind::Supervision => "supervision",
        }
    }

    pub fn parse(s: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.name() == s.trim())
    }
}

/// One event for subscribers.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookEvent {
    /// 32 hex digits; receivers dedupe on it.
    pub id: String,
    pub kind: EventKind,
    pub data: Value,
}

impl WebhookEvent {
    /// The JSON body delivered: `{"id", "type", "at", "node", "data"}`.
    pub fn body(&self, node: &NodeId, at: Timestamp) -> String {
        json!({
            "id": self.id,
            "type": self.kind.name(),
            "at": rfc3339(at),
            "node": node.as_str(),
            "data": self.data,
        })
        .to_string()
    }
}

/// The webhook events `event` makes at `core`'s node (none for most).
pub fn events_of(event: &Event, core: &Core) -> Vec<WebhookEvent> {
    let me = core.id();
    let one = |kind: EventKind, key: &[&str], data: Value| WebhookEvent {
        id: event_id(me, kind, key),
        kind,
        data,
    };
    match event {
        Event::IncidentRecorded { incident, alert, .. } => {
            let Some(i) = core.incident(*incident) else {
                return Vec::new();
            };
            let mut data = incident_data(i);
            data["alert"] = json!(alert);
            vec![one(EventKind::Incident, &[&id_hex(*incident)], data)]
        }
        Event::IncidentChanged {
            incident,
            update,
            action,
            by,
            state,
        } => {
            // Words about an incident do not move it.
            if matches!(*action, "feedback" | "note") {
                return Vec::new();
            }
            let Some(i) = core.incident(*incident) else {
                return Vec::new();
            };
            let key = id_hex(*update);
            let mut out = vec![one(
                EventKind::Stage,
                &[&key],
                json!({
                    "incident": id_hex(*incident),
                    "update": key,
                    "action": action,
                    "by": by.as_str(),
                    "state": state.name(),
                    "stage": stage_name(i),
                    "owner": i.owner.as_str(),
                }),
            )];
            // An escalation because the owner missed its accept deadline
            // makes the new owner its supervisor.
            if let Some(Body::Update(u)) = core.store().envelopes.get(update).map(|s| &s.envelope.body)
                && let Action::Escalate {
                    to, supervised: true, ..
                } = &u.action
            {
                out.push(one(
                    EventKind::Supervision,
                    &[&key],
                    json!({
                        "item": { "incident": id_hex(*incident) },
                        "stage": stage_word(Stage::Accept),
                        "supervisor": to.as_str(),
                        "incident": incident_data(i),
                    }),
                ));
            }
            out
        }
        Event::OrderReceived { order, issuer } => {
            let Some(o) = core.order(*order) else {
                return Vec::new();
            };
            let data = json!({
                "order": id_hex(*order),
                "issuer": issuer.as_str(),
                "incident": o.order.incident.map(id_hex),
                "severity": o.order.severity,
                "instruction": o.order.instruction,
                "by": o.order.by,
                "issued": rfc3339(o.issued),
                "sign_for_by": rfc3339(o.sign_for_by),
                "finish_by": rfc3339(o.finish_by),
                "mode": o.mode.name(),
            });
            vec![one(EventKind::Order, &[&id_hex(*order)], data)]
        }
        Event::OrderProgress {
            order,
            target,
            state,
            roll_up,
        } => {
            // A target's state only moves forward, one rank at a time at most once.
            let key = [id_hex(*order), target.to_string(), state.name().to_owned()];
            let data = json!({
                "order": id_hex(*order),
                "target": target.as_str(),
                "state": state.name(),
                "note": target_note(state),
                "at": target_at(core, *order, target).map(rfc3339),
                "roll_up": {
                    "targets": roll_up.targets,
                    "signed_for": roll_up.signed_for,
                    "done": roll_up.done,
                    "refused": roll_up.refused,
                    "overdue": roll_up.overdue,
                },
            });
            let key: Vec<&str> = key.iter().map(String::as_str).collect();
            vec![one(EventKind::Stage, &key, data)]
        }
        Event::Supervised {
            item,
            stage,
            supervisor,
        } => {
            let (item_key, item_data) = match item {
                Item::Incident(i) => (id_hex(*i), json!({ "incident": id_hex(*i) })),
                Item::OrderTarget { order, target } => (
                    format!("{}/{target}", id_hex(*order)),
                    json!({ "order": id_hex(*order), "target": target.as_str() }),
                ),
            };
            let data = json!({
                "item": item_data,
                "stage": stage_word(*stage),
                "supervisor": supervisor.as_str(),
            });
            let key = [item_key.as_str(), stage_word(*stage), supervisor.as_str()];
            vec![one(EventKind::Supervision, &key, data)]
        }
        _ => Vec::new(),
    }
}

/// The id of an event of `kind` at `node` caused by `key`: the first 16
/// bytes of SHA-256 over them, in hex.
pub fn event_id(node: &NodeId, kind: EventKind, key: &[&str]) -> String {
    let mut input = format!("liandong/webhook\0{node}\0{}", kind.name());
    for part in key {
        input.push('\0');
        input.push_str(part);
    }
    let d = digest(&SHA256, input.as_bytes());
    d.as_ref()[..16].iter().map(|b| format!("{b:02x}")).collect()
}

fn incident_data(i: &Incident) -> Value {
    json!({
        "incident": id_hex(i.id),
        "origin": i.origin.as_str(),
        "owner": i.owner.as_str(),
        "severity": i.report.severity,
        "category": i.report.category,
        "title": i.report.title,
        "detail": i.report.detail,
        "place": i.report.place,
        "reporter": i.report.reporter,
        "reported": rfc3339(i.reported),
        "state": i.state.name(),
        "mode": i.mode.name(),
    })
}

/// The stage a reporter follows (as `GET /v1/reports/{id}` words it).
fn stage_name(i: &Incident) -> &'static str {
    use IncidentState::*;
    match i.state {
        Closed | Cancelled => "closed",
        Resolved | Verified => "resolved",
        Accepted | Dispatched => "accepted",
        Reported if i.owner == i.origin => "at_owner",
        Reported
            if i.timeline
                .iter()
                .any(|e| e.node == i.owner && e.what.starts_with("received")) =>
        {
            "at_owner"
        }
        Reported => "stored_here",
    }
}

fn stage_word(stage: Stage) -> &'static str {
    match stage {
        Stage::Accept => "accept",
        Stage::SignFor => "sign_for",
        Stage::Finish => "finish",
    }
}

fn target_note(state: &TargetState) -> Option<&str> {
    match state {
        TargetState::SignedFor { by } => Some(by),
        TargetState::InProgress { note } | TargetState::Done { note } => Some(note),
        TargetState::Refused { reason } => Some(reason),
        TargetState::Pending | TargetState::Delivered => None,
    }
}

fn target_at(core: &Core, order: EnvelopeId, target: &NodeId) -> Option<Timestamp> {
    core.order_targets(order)
        .find(|(n, _)| *n == target)
        .map(|(_, s): (_, &TargetStatus)| s.at)
}

fn id_hex(id: EnvelopeId) -> String {
    format!("{:032x}", id.0)
}

/// A time as RFC 3339 (UTC, whole seconds).
pub fn rfc3339(at: Timestamp) -> String {
    let nanos = i128::from(at.0) * 1_000_000;
    liandong_certs::time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .map(liandong_certs::rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_events_id_is_stable_and_names_its_node_kind_and_cause() {
        let county = NodeId::parse("350102").unwrap();
        let city = NodeId::parse("350100").unwrap();
        let a = event_id(&county, EventKind::Incident, &["00ab"]);
        assert_eq!(a, event_id(&county, EventKind::Incident, &["00ab"]));
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a, event_id(&city, EventKind::Incident, &["00ab"]));
        assert_ne!(a, event_id(&county, EventKind::Stage, &["00ab"]));
        assert_ne!(a, event_id(&county, EventKind::Incident, &["00ac"]));
        // Parts are separated: ("ab", "c") is not ("a", "bc").
        assert_ne!(
            event_id(&county, EventKind::Stage, &["ab", "c"]),
            event_id(&county, EventKind::Stage, &["a", "bc"])
        );
    }

    #[test]
    fn the_body_carries_id_type_time_node_and_data() {
        let event = WebhookEvent {
            id: "0123456789abcdef0123456789abcdef".into(),
            kind: EventKind::Order,
            data: json!({ "order": "ff" }),
        };
        let body: Value =
            serde_json::from_str(&event.body(&NodeId::parse("350102").unwrap(), Timestamp(1_500))).unwrap();
        assert_eq!(body["id"], "0123456789abcdef0123456789abcdef");
        assert_eq!(body["type"], "order");
        assert_eq!(body["node"], "350102");
        assert_eq!(body["at"], "1970-01-01T00:00:01Z");
        assert_eq!(body["data"]["order"], "ff");
    }

    /// A severity I report nobody accepts, on the core's own test
    /// network: every node maps its events; the report is an `incident`
    /// where it is stored, each update a `stage` of its own id, and the
    /// missed accept deadline a `supervision`.
    #[test]
    fn a_reports_life_and_its_missed_deadline_map_to_events() {
        use liandong_dispatch::Command;
        use liandong_dispatch::testing::Net;
        use liandong_dispatch::wire::{Category, Mode, Report};
        use liandong_topology::{Addressing, Preset, Severity, Shape, generate};
        use std::collections::BTreeSet;

        let topology = std::sync::Arc::new(generate(&Shape::Preset(Preset::Demo), Addressing::default()).unwrap());
        let accept = topology.policy().deadlines(Severity::I).accept;
        let mut net = Net::new(topology, 7);
        let village = NodeId::parse("350102001001").unwrap();
        let report = Report {
            severity: Severity::I,
            category: Category::Flood,
            title: "河道漫堤".into(),
            detail: String::new(),
            place: "村口".into(),
            reporter: "网格员".into(),
            photos: Vec::new(),
        };
        let id = net
            .command(
                &village,
                Command::Report {
                    report,
                    mode: Mode::Actual,
                },
            )
            .unwrap();
        net.run_for(accept * 3);
        let mut supervision = 0;
        for node in net.ids().cloned().collect::<Vec<_>>() {
            let core = net.core(&node);
            let mapped: Vec<WebhookEvent> = net.events(&node).iter().flat_map(|e| events_of(e, core)).collect();
            let again: Vec<WebhookEvent> = net.events(&node).iter().flat_map(|e| events_of(e, core)).collect();
            assert_eq!(mapped, again, "the same events map to the same ids at {node}");
            if core.incident(id).is_some() {
                assert!(
                    mapped
                        .iter()
                        .any(|e| e.kind == EventKind::Incident && e.data["incident"] == id_hex(id)),
                    "no incident event at {node}"
                );
            }
            let stages: Vec<&str> = (mapped.iter().filter(|e| e.kind == EventKind::Stage))
                .map(|e| e.id.as_str())
                .collect();
            let distinct: BTreeSet<&str> = stages.iter().copied().collect();
            assert_eq!(distinct.len(), stages.len(), "one stage event per update at {node}");
            supervision += mapped
                .iter()
                .filter(|e| e.kind == EventKind::Supervision && e.data["stage"] == "accept")
                .count();
        }
        assert!(supervision > 0, "the missed accept deadline made no supervision event");
    }

    #[test]
    fn kinds_are_named() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.name()), Some(kind));
        }
        assert_eq!(EventKind::parse("room"), None);
    }
}
