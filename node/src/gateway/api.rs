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
//! Open311 GeoReport v2 is served beside it (`open311`).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query as UrlQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response as HttpResponse};
use axum::routing::{get, post};
use liandong_certs::Role;
use liandong_control::proto::{Act, IdRef, Operator, Query, Request, Response};
use liandong_dispatch::store::{Incident, IncidentState};
use liandong_dispatch::wire::{Category, EnvelopeId, Mode, TargetState};
use liandong_topology::{NodeId, Severity};
use ring::digest::{SHA256, digest};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::{mpsc, oneshot};

use super::tokens::{Scope, Token, TokenWatch};
use crate::control::Call;
use crate::photos::PhotoFiles;

/// Largest request body taken (a report's texts are at most a few KB).
pub const MAX_BODY: usize = 64 * 1024;
/// Longest `Idempotency-Key` taken.
pub const MAX_IDEMPOTENCY_KEY: usize = 255;

/// What every handler shares.
pub struct Api {
    pub me: NodeId,
    pub tokens: TokenWatch,
    pub calls: mpsc::Sender<Call>,
    /// The node's photo files.
    pub photos: PhotoFiles,
    /// Largest photo taken, in bytes.
    pub photo_max: u64,
}

pub fn router(api: Arc<Api>) -> Router {
    Router::new()
        .route("/v1/reports", post(file_report))
        .route("/v1/reports/{id}", get(report_stages))
        .route("/v1/incidents", get(incidents))
        .route("/v1/orders/{id}/{step}", post(acknowledge_order))
        .with_state(api.clone())
        .merge(super::open311::router(api.clone()))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .merge(super::photos::router(api))
}

/// An error answer: its status and what was wrong.
pub struct Failure(StatusCode, String);

impl Failure {
    pub fn new(status: StatusCode, what: String) -> Failure {
        Failure(status, what)
    }

    pub fn parts(self) -> (StatusCode, String) {
        (self.0, self.1)
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> HttpResponse {
        let mut response = (self.0, axum::Json(json!({ "error": self.1 }))).into_response();
        if self.0 == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// A report as a system files it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportIn {
    /// `I`, `II`, `III`, `IV` or `Routine` (any case).
    severity: Severity,
    /// `Dispute`, `Hazard`, `Request`, `Fire`, `Flood`, ... (see the OpenAPI document).
    category: Category,
    title: String,
    #[serde(default)]
    detail: String,
    #[serde(default)]
    place: String,
    /// `Actual` (default) or `Exercise`.
    #[serde(default)]
    mode: Option<Mode>,
    /// Photos sent before to `/v1/photos`, by their SHA-256 (hex), at most four.
    #[serde(default)]
    photos: Vec<String>,
}

/// A report as the gateway answers for it.
#[derive(Debug, Serialize)]
struct ReportOut {
    id: String,
    stage: &'static str,
    stages: Stages,
    owner: NodeId,
    state: &'static str,
    photos: Vec<PhotoOut>,
}

/// A photo of a report, and whether its bytes are here yet.
#[derive(Debug, Serialize)]
struct PhotoOut {
    sha256: String,
    size: u64,
    #[serde(rename = "type")]
    kind: &'static str,
    held_here: bool,
}

/// The stages a reporter follows, each reached or not.
#[derive(Debug, Serialize)]
struct Stages {
    stored_here: bool,
    at_next_hop: bool,
    at_owner: bool,
    accepted: bool,
    resolved: bool,
    closed: bool,
}

async fn file_report(State(api): State<Arc<Api>>, headers: HeaderMap, body: Bytes) -> Result<HttpResponse, Failure> {
    let token = authorize(&api, &headers, Scope::Report)?;
    let report: ReportIn = serde_json::from_slice(&body)
        .map_err(|e| Failure(StatusCode::BAD_REQUEST, format!("the report does not read: {e}")))?;
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
            let mut response = (StatusCode::CREATED, axum::Json(json!({ "id": id }))).into_response();
            if let Ok(location) = HeaderValue::from_str(&format!("/v1/reports/{id}")) {
                response.headers_mut().insert(header::LOCATION, location);
            }
            Ok(response)
        }
        Response::Refused { reason } => Err(Failure(StatusCode::UNPROCESSABLE_ENTITY, reason)),
        other => Err(unexpected(other)),
    }
}

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
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StepIn {
    #[serde(default)]
    note: String,
}

async fn acknowledge_order(
    State(api): State<Arc<Api>>,
    headers: HeaderMap,
    Path((id, step)): Path<(String, String)>,
    body: Bytes,
) -> Result<axum::Json<serde_json::Value>, Failure> {
    let token = authorize(&api, &headers, Scope::Orders)?;
    let said: StepIn = if body.is_empty() {
        StepIn::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| Failure(StatusCode::BAD_REQUEST, format!("the body does not read: {e}")))?
    };
    let state = match step.as_str() {
        "sign" => TargetState::SignedFor { by: token.name.clone() },
        "progress" => TargetState::InProgress { note: said.note },
        "done" => TargetState::Done { note: said.note },
        "refuse" => TargetState::Refused { reason: said.note },
        other => {
            return Err(Failure(
                StatusCode::NOT_FOUND,
                format!("no order step {other:?}: sign, progress, done or refuse"),
            ));
        }
    };
    let act = Act::Acknowledge {
        order: IdRef(id),
        state,
    };
    match call(&api, &token, Request::Act(act)).await? {
        Response::Done { id, what } => Ok(axum::Json(json!({ "order": format!("{:032x}", id.0), "done": what }))),
        Response::Refused { reason } => Err(Failure(StatusCode::UNPROCESSABLE_ENTITY, reason)),
        other => Err(unexpected(other)),
    }
}

#[derive(Deserialize)]
struct IncidentFilter {
    #[serde(default)]
    closed: bool,
}

async fn incidents(
    State(api): State<Arc<Api>>,
    headers: HeaderMap,
    UrlQuery(filter): UrlQuery<IncidentFilter>,
) -> Result<axum::Json<serde_json::Value>, Failure> {
    let token = authorize(&api, &headers, Scope::Read)?;
    match call(&api, &token, Request::Query(Query::Incidents { closed: filter.closed })).await? {
        Response::Incidents(all) => {
            let list: Vec<serde_json::Value> = all
                .iter()
                .map(|i| {
                    json!({
                        "id": format!("{:032x}", i.id.0),
                        "origin": i.origin,
                        "owner": i.owner,
                        "severity": i.report.severity,
                        "category": i.report.category,
                        "title": i.report.title,
                        "place": i.report.place,
                        "state": i.state.name(),
                        "reported": i.reported.0,
                    })
                })
                .collect();
            Ok(axum::Json(json!({ "incidents": list })))
        }
        other => Err(unexpected(other)),
    }
}

/// The token in `Authorization: Bearer`, if it is good and has `scope`.
pub fn authorize(api: &Api, headers: &HeaderMap, scope: Scope) -> Result<Token, Failure> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| Failure(StatusCode::UNAUTHORIZED, super::tokens::Denied::Missing.to_string()))?;
    authorize_token(api, presented, scope)
}

/// Token `presented`, if it is good and has `scope`.
pub fn authorize_token(api: &Api, presented: &str, scope: Scope) -> Result<Token, Failure> {
    let unauthorized = |why: String| Failure(StatusCode::UNAUTHORIZED, why);
    let tokens = api.tokens.current();
    let token = tokens
        .check(presented)
        .map_err(|e| unauthorized(e.to_string()))?
        .clone();
    if !token.scopes.contains(&scope) {
        return Err(Failure(
            StatusCode::FORBIDDEN,
            format!("token {} ({}) may not {}", token.id, token.name, scope.name()),
        ));
    }
    Ok(token)
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, Failure> {
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

/// Hands `request` to the driver as the token's system and waits for the answer.
pub async fn call(api: &Api, token: &Token, request: Request) -> Result<Response, Failure> {
    let gone = || Failure(StatusCode::SERVICE_UNAVAILABLE, crate::control::SHUTTING_DOWN.into());
    let (reply, answer) = oneshot::channel();
    let operator = Operator {
        node: api.me.clone(),
        name: token.name.clone(),
        role: Role::Operator,
    };
    api.calls
        .send(Call {
            operator,
            request,
            reply,
        })
        .await
        .map_err(|_| gone())?;
    answer.await.map_err(|_| gone())
}

fn unexpected(response: Response) -> Failure {
    Failure(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("the node answered {}", response.kind()),
    )
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
        "closed"
    } else if stages.resolved {
        "resolved"
    } else if stages.accepted {
        "accepted"
    } else if stages.at_owner {
        "at_owner"
    } else if stages.at_next_hop {
        "at_next_hop"
    } else {
        "stored_here"
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
