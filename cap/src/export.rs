//! An incident as a CAP 1.2 alert, as one center knows it.
//!
//! - **Versions.** Every distinct time (to the millisecond) in the
//!   incident's timeline here is a version: the report is the first, each
//!   later step (accepted, escalated, a note, resolved, ...) a new one. The
//!   latest version is the alert; its identifier is `<incident, 32 hex
//!   digits>-<its Unix time in ms>` (`sent` has CAP's whole seconds, so
//!   two steps in one second still differ), and exporting twice with
//!   nothing new gives the same alert.
//! - **msgType**: Alert while the report is the only version, Cancel once
//!   the incident is cancelled, else Update, whose `references` name every
//!   earlier version (`sender,identifier,sent`).
//! - **sender** is the exporting center, `<node id>@liandong`; `sent` the
//!   version's time at +08:00 (China Standard Time, explicit, as CAP
//!   requires); `incidents` the incident's id.
//! - **scope** Restricted: incidents of a governance network go to
//!   emergency and warning-release systems, which decide what to publish.
//! - **info**: one block in zh-CN; category and event by the category
//!   (`tables`), urgency, severity and certainty by the severity table;
//!   headline the title, description the detail; senderName the center's
//!   name; `liandong:*` parameters for severity, category, place, state,
//!   origin and the incident's id, so another Liandong reads back the same
//!   incident. **area**: the division where it was reported, by name, with
//!   its code as a `division` geocode.
//!
//! Pure: no I/O, no clock (times come from the incident).

use liandong_dispatch::store::Incident;
use liandong_topology::{NodeId, Topology};

use crate::model::{Alert, Area, Info, MsgType, Reference, Scope};
use crate::tables::{self, nv};
use crate::time::CapTime;

/// China Standard Time, the offset Liandong writes.
pub const OFFSET_MINUTES: i32 = 8 * 60;

/// Restriction text of every exported alert.
pub const RESTRICTION: &str = "供应急管理与预警发布系统使用,未经审核不得公开发布 / for emergency-management and warning-release systems; not for publication as is";

/// The `sender` a center writes.
pub fn sender_of(center: &NodeId) -> String {
    format!("{center}@liandong")
}

/// The versions of `incident` known here: the distinct times (in
/// milliseconds) of its timeline, oldest first, from the report's.
fn versions(incident: &Incident) -> Vec<u64> {
    let first = incident.reported.0;
    let mut at: Vec<u64> = incident
        .timeline
        .iter()
        .map(|e| e.at.0)
        .filter(|t| *t >= first)
        .collect();
    at.push(first);
    at.sort_unstable();
    at.dedup();
    at
}

fn identifier(incident: &Incident, at_ms: u64) -> String {
    format!("{:032x}-{at_ms}", incident.id.0)
}

fn sent(at_ms: u64) -> CapTime {
    CapTime::from_unix_ms(at_ms, OFFSET_MINUTES)
}

/// `incident` as the alert center `me` sends, with the names in `topology`.
pub fn export(incident: &Incident, me: &NodeId, topology: &Topology) -> Alert {
    let sender = sender_of(me);
    let versions = versions(incident);
    // versions() always holds the report's time.
    let latest = versions.last().copied().unwrap_or(incident.reported.0);
    let references: Vec<Reference> = versions[..versions.len().saturating_sub(1)]
        .iter()
        .map(|at| Reference {
            sender: sender.clone(),
            identifier: identifier(incident, *at),
            sent: sent(*at),
        })
        .collect();
    let msg_type = if incident.state == liandong_dispatch::IncidentState::Cancelled {
        MsgType::Cancel
    } else if references.is_empty() {
        MsgType::Alert
    } else {
        MsgType::Update
    };
    let note = match msg_type {
        MsgType::Alert => None,
        _ => incident
            .timeline
            .iter()
            .max_by_key(|e| e.at)
            .map(|e| format!("{}: {}", e.node, e.what)),
    };
    let report = &incident.report;
    let (urgency, severity, certainty) = tables::cap_severity(report.severity);
    let name_of = |id: &NodeId| {
        topology
            .get(id)
            .map(|n| n.name.clone())
            .unwrap_or_else(|| id.to_string())
    };
    let mut parameters = vec![
        nv(tables::PARAM_SEVERITY, report.severity.name()),
        nv(tables::PARAM_CATEGORY, tables::kind_word(report.category)),
        nv(tables::PARAM_STATE, incident.state.name()),
        nv(tables::PARAM_ORIGIN, incident.origin.as_str()),
        nv(tables::PARAM_INCIDENT, format!("{:032x}", incident.id.0)),
    ];
    if !report.place.trim().is_empty() {
        parameters.push(nv(tables::PARAM_PLACE, report.place.clone()));
    }
    let mut area = Area::new(&name_of(&incident.origin));
    area.geocodes = vec![nv(tables::GEOCODE_DIVISION, incident.origin.as_str())];
    let info = Info {
        onset: Some(sent(incident.reported.0)),
        sender_name: Some(name_of(me)),
        headline: Some(report.title.clone()),
        description: (!report.detail.trim().is_empty()).then(|| report.detail.clone()),
        parameters,
        areas: vec![area],
        ..Info::new(
            "zh-CN",
            vec![tables::cap_category(report.category)],
            tables::kind_zh(report.category),
            urgency,
            severity,
            certainty,
        )
    };
    Alert {
        identifier: identifier(incident, latest),
        sender,
        sent: sent(latest),
        status: tables::cap_status(incident.mode),
        msg_type,
        source: Some("Liandong".into()),
        scope: Scope::Restricted,
        restriction: Some(RESTRICTION.into()),
        addresses: None,
        codes: Vec::new(),
        note,
        references,
        incidents: Some(format!("{:032x}", incident.id.0)),
        infos: vec![info],
    }
}
