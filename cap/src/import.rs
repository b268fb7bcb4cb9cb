//! What an alert becomes at a center: the plan, decided here as a pure
//! function of the alert, the topology and what the center holds; the
//! node carries it out as one command.
//!
//! - **Alert**: a report filed at this center, or, when its areas name
//!   (by a geocode whose value is a node id of the federation) only
//!   divisions strictly below this center, a dispatch order to those
//!   centers. An incident another Liandong exported (its info carries
//!   `liandong:incident`) is a report wherever it happened: its area says
//!   where it was reported, not who must act. Its id is derived from (this center, sender, identifier,
//!   sent), so the same alert again files nothing.
//! - **Update**: a note on the incident its `references` name (the first
//!   one held here, following an earlier update to its incident), or for
//!   an order a follow-up order to the same targets. An Update none of
//!   whose references is held here is filed as a new alert: a system that
//!   joins late still gets the current state.
//! - **Cancel**: cancels the incident named; for an order, a follow-up
//!   order telling its targets the warning is lifted (orders are not
//!   withdrawn in Liandong). Nothing held: not filed, and the answer says
//!   so.
//! - **Ack, Error**: recorded as a note on the incident named.
//! - **Exercise** is filed as a drill, **Actual** as actual; **Test,
//!   System, Draft** are not filed.
//! - Several `info` blocks (languages) are all kept, the zh one first: its
//!   headline is the title, the others follow in the detail.
//!
//! Never does I/O and never reads a clock.

use liandong_dispatch::core::rules::{MAX_TEXT, MAX_TITLE};
use liandong_dispatch::wire::{Category as Kind, EnvelopeId, Mode, Report};
use liandong_topology::{NodeId, Severity as Level, Topology};
use ring::digest::{SHA256, digest};

use crate::model::{Alert, Info, MsgType, Reference};
use crate::tables;
use crate::time::CapTime;

/// What this center holds under an id, as far as an import cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Held {
    /// An incident (or an update of one: its incident).
    Incident(EnvelopeId),
    /// An order issued here, with its targets and severity.
    Order {
        order: EnvelopeId,
        targets: Vec<NodeId>,
        severity: Level,
    },
    /// Something else (an envelope of another kind).
    Other,
}

/// What to do with an alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// File a report at this center under `id`.
    File { id: EnvelopeId, report: Report, mode: Mode },
    /// Issue a dispatch order under `id` to `targets` (all below here).
    Order {
        id: EnvelopeId,
        targets: Vec<NodeId>,
        severity: Level,
        instruction: String,
        mode: Mode,
    },
    /// Add a note under `id` to `incident`.
    Note {
        id: EnvelopeId,
        incident: EnvelopeId,
        text: String,
    },
    /// Cancel `incident`, the cancellation's envelope under `id`.
    Cancel {
        id: EnvelopeId,
        incident: EnvelopeId,
        reason: String,
    },
    /// This very alert was imported before, as `id`: nothing to do.
    Duplicate { id: EnvelopeId },
    /// Not filed, and why (in words for the sending platform).
    NotFiled { reason: String },
}

/// The id an alert gets at center `me`: the same alert, the same id.
pub fn alert_id(me: &NodeId, sender: &str, identifier: &str, sent: CapTime) -> EnvelopeId {
    let input = format!("liandong/cap\0{me}\0{sender}\0{identifier}\0{}", sent.unix_ms() / 1000);
    let d = digest(&SHA256, input.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&d.as_ref()[..16]);
    EnvelopeId(u128::from_be_bytes(bytes))
}

/// The plan for `alert` at center `me`. `held` says what this center holds
/// under an id.
pub fn plan(alert: &Alert, me: &NodeId, topology: &Topology, held: impl Fn(EnvelopeId) -> Option<Held>) -> Plan {
    let Some(mode) = tables::mode_of(alert.status) else {
        return Plan::NotFiled {
            reason: format!(
                "status {} is not filed: only Actual (filed as actual) and Exercise (filed as a drill) alerts are",
                alert.status
            ),
        };
    };
    let id = alert_id(me, &alert.sender, &alert.identifier, alert.sent);
    if held(id).is_some() {
        return Plan::Duplicate { id };
    }
    let referenced = referenced(&alert.references, me, &held);
    let label = format!("CAP {} {}", alert.msg_type, alert.identifier);
    match (alert.msg_type, referenced) {
        (MsgType::Alert, _) | (MsgType::Update, None) => new_alert(alert, id, mode, me, topology),
        (MsgType::Update, Some(Held::Incident(incident))) => Plan::Note {
            id,
            incident,
            text: clip(format!("{label}: {}", text_of(alert)), MAX_TEXT),
        },
        (
            MsgType::Update | MsgType::Cancel,
            Some(Held::Order {
                order,
                targets,
                severity,
            }),
        ) => {
            let what = if alert.msg_type == MsgType::Cancel {
                "预警解除 / warning lifted"
            } else {
                "预警更新 / warning updated"
            };
            Plan::Order {
                id,
                targets,
                severity,
                instruction: clip(format!("{what} ({label}, order {order}): {}", text_of(alert)), MAX_TEXT),
                mode,
            }
        }
        (MsgType::Cancel, Some(Held::Incident(incident))) => Plan::Cancel {
            id,
            incident,
            reason: clip(format!("{label}: {}", reason_of(alert)), MAX_TEXT),
        },
        (MsgType::Ack | MsgType::Error, Some(Held::Incident(incident))) => Plan::Note {
            id,
            incident,
            text: clip(format!("{label} from {}: {}", alert.sender, reason_of(alert)), MAX_TEXT),
        },
        (MsgType::Ack | MsgType::Error, Some(Held::Order { order, .. })) => Plan::NotFiled {
            reason: format!(
                "{} refers to order {order}; acknowledgements of orders come from their targets, not over CAP",
                alert.msg_type
            ),
        },
        (_, Some(Held::Other)) | (MsgType::Cancel | MsgType::Ack | MsgType::Error, None) => Plan::NotFiled {
            reason: format!(
                "{} refers to no alert held here ({}); nothing was changed",
                alert.msg_type,
                list(&alert.references)
            ),
        },
    }
}

/// The first reference that names something held here.
fn referenced(refs: &[Reference], me: &NodeId, held: &impl Fn(EnvelopeId) -> Option<Held>) -> Option<Held> {
    let found: Vec<Held> = refs
        .iter()
        .filter_map(|r| held(alert_id(me, &r.sender, &r.identifier, r.sent)))
        .collect();
    found
        .iter()
        .find(|h| !matches!(h, Held::Other))
        .or(found.first())
        .cloned()
}

fn list(refs: &[Reference]) -> String {
    if refs.is_empty() {
        return "no references".into();
    }
    refs.iter()
        .map(|r| format!("{},{},{}", r.sender, r.identifier, r.sent))
        .collect::<Vec<_>>()
        .join(" ")
}

fn new_alert(alert: &Alert, id: EnvelopeId, mode: Mode, me: &NodeId, topology: &Topology) -> Plan {
    let infos = ordered(&alert.infos);
    let first = infos.first().copied();
    let severity = first.map(tables::level_of).unwrap_or(Level::Routine);
    let exported_incident = first.is_some_and(|i| tables::param(i, tables::PARAM_INCIDENT).is_some());
    let below = if exported_incident {
        Vec::new()
    } else {
        divisions_below(alert, me, topology)
    };
    if !below.is_empty() {
        let headline = first.map(title_of).unwrap_or_else(|| alert.identifier.clone());
        return Plan::Order {
            id,
            targets: below,
            severity,
            instruction: clip(
                format!(
                    "预警 / warning (CAP {}): {headline}\n{}",
                    alert.identifier,
                    text_of(alert)
                ),
                MAX_TEXT,
            ),
            mode,
        };
    }
    let kind = first.map(tables::kind_of).unwrap_or(Kind::Other);
    let title = clip(
        first.map(title_of).unwrap_or_else(|| alert.identifier.clone()),
        MAX_TITLE,
    );
    let place = first
        .and_then(|i| tables::param(i, tables::PARAM_PLACE).map(str::to_owned))
        .unwrap_or_else(|| {
            let areas: Vec<&str> = first
                .map(|i| i.areas.iter().map(|a| a.description.as_str()).collect())
                .unwrap_or_default();
            areas.join("; ")
        });
    let from = first.and_then(|i| i.sender_name.clone());
    let reporter = match from {
        Some(name) => format!("{name} ({})", alert.sender),
        None => alert.sender.clone(),
    };
    Plan::File {
        id,
        report: Report {
            severity,
            category: kind,
            title,
            detail: clip(detail_of(&infos), MAX_TEXT),
            place: clip(place, MAX_TITLE),
            reporter: clip(reporter, MAX_TITLE),
            photos: Vec::new(),
        },
        mode,
    }
}

/// Division codes the alert's areas name that are strictly below `me`,
/// if every division it names is (one naming this center or any other
/// makes it this center's own report).
fn divisions_below(alert: &Alert, me: &NodeId, topology: &Topology) -> Vec<NodeId> {
    let mut below = Vec::new();
    for info in &alert.infos {
        for area in &info.areas {
            for code in &area.geocodes {
                let Ok(node) = NodeId::parse(code.value.trim()) else {
                    continue;
                };
                if topology.get(&node).is_none() {
                    continue;
                }
                if node != *me && topology.is_ancestor(me, &node) {
                    if !below.contains(&node) {
                        below.push(node);
                    }
                } else {
                    return Vec::new();
                }
            }
        }
    }
    below
}

/// The info blocks, zh ones first, otherwise as sent.
fn ordered(infos: &[Info]) -> Vec<&Info> {
    let mut v: Vec<&Info> = infos.iter().collect();
    v.sort_by_key(|i| !i.language.to_ascii_lowercase().starts_with("zh"));
    v
}

fn title_of(info: &Info) -> String {
    info.headline
        .as_deref()
        .filter(|h| !h.trim().is_empty())
        .unwrap_or(&info.event)
        .trim()
        .to_owned()
}

/// The detail of a report from these infos: the first's description and
/// instruction, then each other block whole, under its language.
fn detail_of(infos: &[&Info]) -> String {
    let mut parts = Vec::new();
    for (n, info) in infos.iter().enumerate() {
        let mut block = Vec::new();
        if n > 0 {
            block.push(format!("[{}] {}", info.language, title_of(info)));
        }
        if let Some(d) = info.description.as_deref().filter(|d| !d.trim().is_empty()) {
            block.push(d.trim().to_owned());
        }
        if let Some(i) = info.instruction.as_deref().filter(|i| !i.trim().is_empty()) {
            block.push(i.trim().to_owned());
        }
        if !block.is_empty() {
            parts.push(block.join("\n"));
        }
    }
    parts.join("\n\n")
}

/// The text an update carries: headline, then the detail.
fn text_of(alert: &Alert) -> String {
    let infos = ordered(&alert.infos);
    let mut text = infos.first().map(|i| title_of(i)).unwrap_or_default();
    let detail = detail_of(&infos);
    if !detail.is_empty() {
        text = format!("{text}\n{detail}");
    }
    if text.trim().is_empty() {
        alert.note.clone().unwrap_or_else(|| alert.identifier.clone())
    } else {
        text
    }
}

/// Why (for a Cancel, Ack or Error): the note, else the text.
fn reason_of(alert: &Alert) -> String {
    match alert.note.as_deref().filter(|n| !n.trim().is_empty()) {
        Some(note) => note.trim().to_owned(),
        None => text_of(alert),
    }
}

/// At most `max` characters.
fn clip(text: String, max: usize) -> String {
    if text.chars().count() <= max {
        text
    } else {
        text.chars().take(max).collect()
    }
}
