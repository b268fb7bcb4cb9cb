//! CAP 1.2 alerts at this node, as pure functions of the core, like
//! `operators`: an imported alert becomes at most one [`Command`] (or an
//! answer without one), the core's outcome the answer; an incident
//! becomes the alert this center sends. What an alert becomes is decided
//! by `liandong_cap::import` from what the core holds; every rule about
//! the incident (who may cancel, what is open) stays the core's.
//!
//! No tokio, no I/O, no clock.

use liandong_cap::import::{Held, Plan};
use liandong_control::proto::{CapImport, CapOutcome, IdRef, Operator, Response};
use liandong_dispatch::wire::{Body, Targets};
use liandong_dispatch::{Command, CommandError, Core, EnvelopeId, Order};

// One bound, two crates: what a control request carries of an alert
// (and the gateway reads of a body) is what the reader reads.
const _: () = assert!(liandong_control::proto::MAX_CAP == liandong_cap::MAX_BYTES);

/// What an imported alert asks of the core.
pub(super) enum Import {
    /// A command for the core; `outcome` names what it does if taken.
    Command { command: Command, outcome: CapOutcome },
    /// Nothing for the core: the answer as it stands.
    Answer(Box<Response>),
}

fn answer(outcome: CapOutcome, id: Option<EnvelopeId>, what: String) -> Response {
    Response::CapImported(CapImport { outcome, id, what })
}

/// What the alert in `xml`, imported by `op`, asks of the core.
pub(super) fn import(op: &Operator, xml: &[u8], core: &Core) -> Import {
    let alert = match liandong_cap::parse(xml) {
        Ok(alert) => alert,
        Err(e) => {
            return Import::Answer(Box::new(answer(
                CapOutcome::Invalid,
                None,
                format!("not a valid CAP 1.2 alert: {e}"),
            )));
        }
    };
    let by = op.name.clone();
    let plan = liandong_cap::import::plan(&alert, core.id(), core.topology(), |id| held(core, id));
    let (id, command, outcome) = match plan {
        Plan::File { id, report, mode } => (id, Command::ReportOnce { id, report, mode }, CapOutcome::Filed),
        Plan::Order {
            id,
            targets,
            severity,
            instruction,
            mode,
        } => {
            let order = Order {
                incident: None,
                targets: Targets::List(targets),
                severity,
                instruction,
                by,
                finish_by: None,
            };
            (id, Command::Dispatch { order, mode }, CapOutcome::Ordered)
        }
        Plan::Note { id, incident, text } => {
            let outcome = match alert.msg_type {
                liandong_cap::MsgType::Update => CapOutcome::Updated,
                _ => CapOutcome::Recorded,
            };
            (id, Command::Note { incident, by, text }, outcome)
        }
        Plan::Cancel { id, incident, reason } => (id, Command::Cancel { incident, by, reason }, CapOutcome::Cancelled),
        Plan::Duplicate { id } => {
            let (of, what) = match held(core, id) {
                Some(Held::Incident(i)) => (i, format!("incident {i}")),
                Some(Held::Order { order, .. }) => (order, format!("order {order}")),
                _ => (id, format!("envelope {id}")),
            };
            let what = format!(
                "alert {} from {} sent {} was imported before, as {what}; nothing filed again",
                alert.identifier, alert.sender, alert.sent
            );
            return Import::Answer(Box::new(answer(CapOutcome::Duplicate, Some(of), what)));
        }
        Plan::NotFiled { reason } => return Import::Answer(Box::new(answer(CapOutcome::NotFiled, None, reason))),
    };
    let command = match command {
        once @ Command::ReportOnce { .. } => once,
        other => Command::Once {
            id,
            command: Box::new(other),
        },
    };
    Import::Command { command, outcome }
}

/// What this node holds under `id`, as an import sees it.
fn held(core: &Core, id: EnvelopeId) -> Option<Held> {
    if core.incident(id).is_some() {
        return Some(Held::Incident(id));
    }
    let stored = core.store().envelopes.get(&id)?;
    Some(match &stored.envelope.body {
        Body::Update(u) => Held::Incident(u.incident),
        Body::Order(o) => Held::Order {
            order: id,
            targets: match &o.targets {
                Targets::Node(n) => vec![n.clone()],
                Targets::List(l) => l.clone(),
                Targets::Subtree { root, .. } => vec![root.clone()],
            },
            severity: o.severity,
        },
        _ => Held::Other,
    })
}

/// The answer once the core took or refused the import's command.
pub(super) fn outcome(outcome: CapOutcome, done: Result<EnvelopeId, CommandError>, core: &Core) -> Response {
    let created = match done {
        Ok(id) => id,
        Err(e) => return Response::Refused { reason: e.to_string() },
    };
    let me = core.id();
    // An update, a cancellation, a note: the incident it changed.
    let id = match held(core, created) {
        Some(Held::Incident(incident)) => incident,
        _ => created,
    };
    let what = match outcome {
        CapOutcome::Filed => {
            let owner = core.incident(id).map_or_else(|| me.clone(), |i| i.owner.clone());
            format!("filed as incident {id} at {me}; its owner is {owner}")
        }
        CapOutcome::Ordered => format!("issued as order {id} from {me}"),
        CapOutcome::Updated => format!("added to incident {id} at {me}"),
        CapOutcome::Cancelled => format!("incident {id} cancelled at {me}"),
        _ => format!("recorded on incident {id} at {me}"),
    };
    answer(outcome, Some(id), what)
}

/// Incident `id` as the CAP 1.2 alert this center sends.
pub(super) fn alert(core: &Core, id: &IdRef) -> Response {
    let incident = match super::names::incident_id(core, id).map(|i| core.incident(i)) {
        Ok(Some(incident)) => incident,
        Ok(None) => {
            return Response::Refused {
                reason: format!("no incident {} here", id.0),
            };
        }
        Err(reason) => return Response::Refused { reason },
    };
    let alert = liandong_cap::export::export(incident, core.id(), core.topology());
    Response::CapAlert {
        xml: liandong_cap::to_xml(&alert),
    }
}
