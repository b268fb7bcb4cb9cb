//! The gateway's JSON API, version 1: what a system with a token may ask.
//! Every handler authenticates the token, turns the request into the same
//! control request an operator's console sends (as the token's system, an
//! operator of this center), hands it to the driver, and turns the answer
//! into JSON with a status code. Errors are `{"error": "..."}` naming what
//! was wrong: 400 (malformed body, a missing or bad field), 401 (no, an
//! unknown or a revoked token), 403 (a scope the token lacks), 404, 413
//! (a body over [`MAX_BODY`]), 422 (refused by the core's rules), 503 (the
//! node is shutting down or its store fails).
//!
//! - `POST /v1/reports`: file a report. With an `Idempotency-Key` header
//!   the report's id is derived from the key (and the token): the same key
//!   again answers the same report and files nothing, across retries and
//!   restarts.
//! - `GET /v1/reports/{id}`: the stages a reporter sees.
//! - `GET /v1/incidents[?closed=true]`: this center's incidents.
//! - `POST /v1/orders/{id}/sign|progress|done|refuse` (a member unit's
//!   system): sign for (签收) an order addressed to this center, report
//!   progress, finish or refuse it; the body `{"note": "..."}` (a reason
//!   to refuse) is optional for `sign`.
//!
//! Open311 GeoReport v2 is served beside it (`open311`), photos too
//! (`photos`). Every route is registered in [`routes`] together with its
//! entry in the OpenAPI document (`openapi`, served at
//! `/v1/openapi.json`): each handler's `#[utoipa::path]` says its method,
//! path, scope, body and every status it answers, beside the handler.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query as UrlQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response as HttpResponse};
use liandong_control::proto::{Act, IdRef, Query, Request, Response};
use liandong_dispatch::store::{Incident, IncidentState};
use liandong_dispatch::wire::{Category, EnvelopeId, Mode, TargetState};
use liandong_topology::{NodeId, Severity};
use ring::digest::{SHA256, digest};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::door::{Api, ErrorBody, Failure, authorize, call, unexpected};
use super::tokens::Scope;
use crate::photos::PhotoFiles;

/// Largest request body taken (a report's texts are at most a few KB).
pub const MAX_BODY: usize = 64 * 1024;
/// Longest `Idempotency-Key` taken.
pub const MAX_IDEMPOTENCY_KEY: usize = 255;

/// The JSON API's own routes (each with its entry in the document).
pub fn routes() -> OpenApiRouter<Arc<Api>> {
    OpenApiRouter::default()
        .routes(routes!(file_report))
        .routes(routes!(report_stages))
        .routes(routes!(incidents))
        .routes(routes!(acknowledge_order))
}

/// A report as a system files it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportIn {
    /// `I`, `II`, `III`, `IV` or `Routine` (or in lower case).
    #[schema(value_type = super::schemas::SeverityName)]
    severity: Severity,
    #[schema(value_type = super::schemas::CategoryName)]
    category: Category,
    /// What happened, in a line.
    title: String,
    #[serde(default)]
    detail: String,
    /// Where it happened, as people say it.
    #[serde(default)]
    place: String,
    /// `Actual` (the default) or `Exercise`.
    #[serde(default)]
    #[schema(value_type = Option<super::schemas::ModeName>)]
    mode: Option<Mode>,
    /// Photos sent before to `/v1/photos`, by their SHA-256 (64 hex digits).
    #[serde(default)]
    #[schema(max_items = 4)]
    photos: Vec<String>,
}

/// A report filed: its id (`Location` names where to follow it).
#[derive(Debug, Serialize, ToSchema)]
pub struct Filed {
    /// The report's id (32 hex digits).
    id: String,
}

/// A report as the gateway answers for it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportOut {
    /// The report's id (32 hex digits).
    id: String,
    /// The furthest stage reached.
    stage: Stage,
    stages: Stages,
    /// The center that owns the incident.
    #[schema(value_type = String)]
    owner: NodeId,
    /// The incident's state at this center.
    #[schema(value_type = super::schemas::StateName)]
    state: &'static str,
    photos: Vec<PhotoOut>,
}

/// The stages a reporter follows, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    StoredHere,
    AtNextHop,
    AtOwner,
    Accepted,
    Resolved,
    Closed,
}

/// A photo of a report, and whether its bytes are here yet.
#[derive(Debug, Serialize, ToSchema)]
pub struct PhotoOut {
    /// Its SHA-256 (64 hex digits), its name at `/v1/photos/{sha256}`.
    sha256: String,
    /// Its size in bytes.
    size: u64,
    #[serde(rename = "type")]
    #[schema(value_type = super::schemas::PhotoType)]
    kind: &'static str,
    /// Whether its bytes have reached this center (they follow the report hop by hop).
    held_here: bool,
}

/// The stages a reporter follows, each reached or not.
#[derive(Debug, Serialize, ToSchema)]
pub struct Stages {
    /// Stored durably at this center.
    stored_here: bool,
    /// Stored at the next center on the way to its owner.
    at_next_hop: bool,
    /// Received by the center that owns it.
    at_owner: bool,
    accepted: bool,
    resolved: bool,
    closed: bool,
}

/// File a report.
///
/// Scope `report`. With an `Idempotency-Key` the report's id is derived
/// from the key and the token: the same key again answers the same report
/// (201 again) and files nothing, across retries and node restarts.
/// Without one, every request files a new report.
#[utoipa::path(
    post,
    path = "/v1/reports",
    tag = "reports",
    params(
        ("Idempotency-Key" = Option<String>, Header,
            description = "1 to 255 visible ASCII characters; the same key (with the same token) files one report"),
    ),
    request_body = ReportIn,
    responses(
        (status = 201, description = "Filed, or filed before with this Idempotency-Key", body = Filed,
            headers(("Location" = String, description = "/v1/reports/{id}"))),
        (status = 400, description = "A body that does not read (naming the field), a bad Idempotency-Key, a photo not held here", body = ErrorBody),
        (status = 401, description = "No, an unknown or a revoked token", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "Bearer"))),
        (status = 403, description = "The token lacks scope `report`", body = ErrorBody),
        (status = 413, description = "A body over 64 KiB", content_type = "text/plain", body = String),
        (status = 422, description = "Refused by the core's rules", body = ErrorBody),
        (status = 503, description = "The node is shutting down or its store fails", body = ErrorBody),
    ),
    security(("bearer" = ["report"])),
)]
async fn file_report(State(api): State<Arc<Api>>, headers: HeaderMap, body: Bytes) -> Result<HttpResponse, Failure> {
    let token = authorize(&api, &headers, Scope::Report)?;
    let report = read_report(&body)?;
    let mode = report.mode.unwrap_or(Mode::Actual);
    let photos = super::photos::resolve(&api, &report.photos)?;
    // Without a key the report gets a fresh id (a retry files again).
    let id = match idempotency_key(&headers)? {
        Some(key) => keyed_id(&api.me, &token.id, &key),
        None => fresh_id()?,
    };
    let act = Act::ReportOnce {
        id: IdRef(format!("{:032x}", id.0)),
        severity: report.severity,
        category: report.category,
        title: report.title,
        detail: report.detail,
        place: report.place,
        mode,
        photos,
    };
    match call(&api, &token, Request::Act(act)).await? {
        Response::Done { id, .. } => {
            let id = format!("{:032x}", id.0);
            let location = HeaderValue::from_str(&format!("/v1/reports/{id}"));
            let mut response = (StatusCode::CREATED, axum::Json(Filed { id })).into_response();
            if let Ok(location) = location {
                response.headers_mut().insert(header::LOCATION, location);
            }
            Ok(response)
        }
        Response::Refused { reason } => Err(Failure(StatusCode::UNPROCESSABLE_ENTITY, reason)),
        other => Err(unexpected(other)),
    }
}

/// The stages a reporter sees.
///
/// Scope `read`. Any incident of this center, by its id.
#[utoipa::path(
    get,
    path = "/v1/reports/{id}",
    tag = "reports",
    params(("id" = String, Path, description = "The report's id (32 hex digits)")),
    responses(
        (status = 200, description = "The report's stages", body = ReportOut),
        (status = 400, description = "A path that is not UTF-8", content_type = "text/plain", body = String),
        (status = 401, description = "No, an unknown or a revoked token", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "Bearer"))),
        (status = 403, description = "The token lacks scope `read`", body = ErrorBody),
        (status = 404, description = "No such report here", body = ErrorBody),
        (status = 503, description = "The node is shutting down or its store fails", body = ErrorBody),
    ),
    security(("bearer" = ["read"])),
)]
async fn report_stages(
    State(api): State<Arc<Api>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<axum::Json<ReportOut>, Failure> {
    let token = authorize(&api, &headers, Scope::Read)?;
    match call(&api, &token, Request::Query(Query::Incident { id: IdRef(id.clone()) })).await? {
        Response::Incident(incident) => Ok(axum::Json(report_out(&incident, &api.photos))),
        Response::Refused { reason } => Err(Failure(StatusCode::NOT_FOUND, reason)),
        other => Err(unexpected(other)),
    }
}

/// What a system says with an order's step.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepIn {
    /// A note on progress or on the work done; the reason to refuse.
    #[serde(default)]
    pub note: String,
}

/// An order's step taken.
#[derive(Debug, Serialize, ToSchema)]
pub struct StepDone {
    /// The order's id (32 hex digits).
    order: String,
    /// What was done, in words.
    done: String,
}

/// A step on an order addressed to this center: sign for it (签收), report progress, finish it, or refuse it.
///
/// Scope `orders`. For a member unit's system. The body is optional (an
/// empty body is an empty note).
#[utoipa::path(
    post,
    path = "/v1/orders/{id}/{step}",
    tag = "orders",
    params(
        ("id" = String, Path, description = "The order's id (32 hex digits)"),
        ("step" = super::schemas::StepName, Path, description = "The step"),
    ),
    request_body(content = Option<StepIn>, description = "Optional"),
    responses(
        (status = 200, description = "The step is taken", body = StepDone),
        (status = 400, description = "A body that does not read (JSON, naming the field), or a path that is not UTF-8 (plain text)",
            content((ErrorBody = "application/json"), (String = "text/plain"))),
        (status = 401, description = "No, an unknown or a revoked token", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "Bearer"))),
        (status = 403, description = "The token lacks scope `orders`", body = ErrorBody),
        (status = 404, description = "No such step", body = ErrorBody),
        (status = 413, description = "A body over 64 KiB", content_type = "text/plain", body = String),
        (status = 422, description = "Refused by the core's rules (no such order for this center, a step out of turn)", body = ErrorBody),
        (status = 503, description = "The node is shutting down or its store fails", body = ErrorBody),
    ),
    security(("bearer" = ["orders"])),
)]
async fn acknowledge_order(
    State(api): State<Arc<Api>>,
    headers: HeaderMap,
    Path((id, step)): Path<(String, String)>,
    body: Bytes,
) -> Result<axum::Json<StepDone>, Failure> {
    let token = authorize(&api, &headers, Scope::Orders)?;
    let said = read_step(&body)?;
    let state = order_step(&step, &token.name, said.note).ok_or_else(|| {
        Failure(
            StatusCode::NOT_FOUND,
            format!("no order step {step:?}: sign, progress, done or refuse"),
        )
    })?;
    let act = Act::Acknowledge {
        order: IdRef(id),
        state,
    };
    match call(&api, &token, Request::Act(act)).await? {
        Response::Done { id, what } => Ok(axum::Json(StepDone {
            order: format!("{:032x}", id.0),
            done: what,
        })),
        Response::Refused { reason } => Err(Failure(StatusCode::UNPROCESSABLE_ENTITY, reason)),
        other => Err(unexpected(other)),
    }
}

/// The body of `POST /v1/reports` as a report (400 if it does not read).
/// Pure: the handler calls it, and so does the fuzz target in `fuzz/`.
pub fn read_report(body: &[u8]) -> Result<ReportIn, Failure> {
    serde_json::from_slice(body).map_err(|e| Failure(StatusCode::BAD_REQUEST, format!("the report does not read: {e}")))
}

/// The body of an order step (empty: no note; 400 if it does not read).
/// Pure: the handler calls it, and so does the fuzz target in `fuzz/`.
pub fn read_step(body: &[u8]) -> Result<StepIn, Failure> {
    if body.is_empty() {
        return Ok(StepIn::default());
    }
    serde_json::from_slice(body).map_err(|e| Failure(StatusCode::BAD_REQUEST, format!("the body does not read: {e}")))
}

/// The state an order's `step` puts it in, taken by the system `by` with
/// its `note`; `None` for a step that is not one of [`ORDER_STEPS`](super::schemas::ORDER_STEPS).
pub fn order_step(step: &str, by: &str, note: String) -> Option<TargetState> {
    Some(match step {
        "sign" => TargetState::SignedFor { by: by.to_owned() },
        "progress" => TargetState::InProgress { note },
        "done" => TargetState::Done { note },
        "refuse" => TargetState::Refused { reason: note },
        _ => return None,
    })
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct IncidentFilter {
    /// Closed incidents too (`true`), or open ones only (`false`, the default).
    #[serde(default)]
    closed: bool,
}

/// This center's incidents.
#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentList {
    incidents: Vec<IncidentOut>,
}

/// An incident as a list shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentOut {
    /// Its id (32 hex digits).
    id: String,
    /// The center where it was reported.
    #[schema(value_type = String)]
    origin: NodeId,
    /// The center that owns it.
    #[schema(value_type = String)]
    owner: NodeId,
    #[schema(value_type = super::schemas::SeverityName)]
    severity: Severity,
    #[schema(value_type = super::schemas::CategoryName)]
    category: Category,
    title: String,
    place: String,
    #[schema(value_type = super::schemas::StateName)]
    state: &'static str,
    /// When it was reported, in milliseconds since the Unix epoch.
    reported: u64,
}

/// This center's incidents.
///
/// Scope `read`. Open ones only unless `closed=true`.
#[utoipa::path(
    get,
    path = "/v1/incidents",
    tag = "incidents",
    params(IncidentFilter),
    responses(
        (status = 200, description = "The incidents", body = IncidentList),
        (status = 400, description = "A query that does not read", content_type = "text/plain", body = String),
        (status = 401, description = "No, an unknown or a revoked token", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "Bearer"))),
        (status = 403, description = "The token lacks scope `read`", body = ErrorBody),
        (status = 503, description = "The node is shutting down or its store fails", body = ErrorBody),
    ),
    security(("bearer" = ["read"])),
)]
async fn incidents(
    State(api): State<Arc<Api>>,
    headers: HeaderMap,
    UrlQuery(filter): UrlQuery<IncidentFilter>,
) -> Result<axum::Json<IncidentList>, Failure> {
    let token = authorize(&api, &headers, Scope::Read)?;
    match call(&api, &token, Request::Query(Query::Incidents { closed: filter.closed })).await? {
        Response::Incidents(all) => {
            let incidents = all
                .iter()
                .map(|i| IncidentOut {
                    id: format!("{:032x}", i.id.0),
                    origin: i.origin.clone(),
                    owner: i.owner.clone(),
                    severity: i.report.severity,
                    category: i.report.category,
                    title: i.report.title.clone(),
                    place: i.report.place.clone(),
                    state: i.state.name(),
                    reported: i.reported.0,
                })
                .collect();
            Ok(axum::Json(IncidentList { incidents }))
        }
        other => Err(unexpected(other)),
    }
}

/// The `Idempotency-Key` of a request, if it has one: 1 to
/// [`MAX_IDEMPOTENCY_KEY`] visible ASCII characters (400 otherwise).
pub fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, Failure> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .map_err(|_| Failure(StatusCode::BAD_REQUEST, "Idempotency-Key is not visible ASCII".into()))?
        .trim();
    if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY {
        return Err(Failure(
            StatusCode::BAD_REQUEST,
            format!("Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} characters"),
        ));
    }
    Ok(Some(key.to_owned()))
}

/// The id a report filed with `key` by `token` at node `me` gets: the
/// same inputs, the same id, so a retry finds the report filed before.
pub fn keyed_id(me: &NodeId, token: &str, key: &str) -> EnvelopeId {
    let input = format!("liandong/idempotency\0{me}\0{token}\0{key}");
    let d = digest(&SHA256, input.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&d.as_ref()[..16]);
    EnvelopeId(u128::from_be_bytes(bytes))
}

/// A random report id (no Idempotency-Key given).
fn fresh_id() -> Result<EnvelopeId, Failure> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| Failure(StatusCode::SERVICE_UNAVAILABLE, "no randomness for a report id".into()))?;
    Ok(EnvelopeId(u128::from_be_bytes(bytes)))
}

fn report_out(i: &Incident, files: &PhotoFiles) -> ReportOut {
    use IncidentState::*;
    let at_owner = i.owner == i.origin
        || i.timeline
            .iter()
            .any(|e| e.node == i.owner && e.what.starts_with("received"));
    let accepted = !matches!(i.state, Reported | Cancelled);
    let resolved = matches!(i.state, Resolved | Verified | Closed);
    let closed = matches!(i.state, Closed | Cancelled);
    let at_owner = at_owner || accepted;
    let at_next_hop = at_owner
        || i.timeline
            .iter()
            .any(|e| e.what == liandong_dispatch::core::STORED_AT_NEXT_HOP);
    let stages = Stages {
        stored_here: true,
        at_next_hop,
        at_owner,
        accepted,
        resolved,
        closed,
    };
    let stage = if stages.closed {
        Stage::Closed
    } else if stages.resolved {
        Stage::Resolved
    } else if stages.accepted {
        Stage::Accepted
    } else if stages.at_owner {
        Stage::AtOwner
    } else if stages.at_next_hop {
        Stage::AtNextHop
    } else {
        Stage::StoredHere
    };
    ReportOut {
        id: format!("{:032x}", i.id.0),
        stage,
        stages,
        owner: i.owner.clone(),
        state: i.state.name(),
        photos: i
            .report
            .photos
            .iter()
            .map(|p| PhotoOut {
                sha256: p.hex(),
                size: p.size,
                kind: p.kind.mime(),
                held_here: files.holds(&p.sha256),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::schemas::ORDER_STEPS;
    use super::*;

    #[test]
    fn every_documented_order_step_is_taken_and_no_other() {
        for step in ORDER_STEPS {
            assert!(order_step(step, "96966", String::new()).is_some(), "{step}");
        }
        assert!(order_step("finish", "96966", String::new()).is_none());
    }
}
