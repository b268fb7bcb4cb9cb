//! CAP 1.2 at the gateway: `POST /v1/cap` imports an alert from a
//! warning-release platform (scope `cap`), `GET /v1/incidents/{id}.cap`
//! gives an incident as the alert this center sends (scope `read`). Both
//! hand the driver the control request an operator's CLI would send
//! (`Act::ImportCap`, `Query::IncidentCap`); reading the XML and deciding
//! what it becomes are the node's (`liandong_cap` through the driver).
//! Bodies are bounded at [`MAX_CAP`] before they are read whole.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response as HttpResponse};
use liandong_control::proto::{Act, CapOutcome, IdRef, MAX_CAP, Query, Request, Response};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::door::{Api, ErrorBody, Failure, authorize, call, declared_length, unexpected};
use super::tokens::Scope;

/// The CAP routes, bodies bounded at [`MAX_CAP`].
pub fn routes() -> OpenApiRouter<Arc<Api>> {
    OpenApiRouter::default()
        .routes(routes!(import_alert))
        .routes(routes!(incident_alert))
        .layer(DefaultBodyLimit::max(MAX_CAP))
        .layer(axum::middleware::from_fn_with_state(MAX_CAP, declared_length))
}

/// What an imported alert became.
#[derive(Debug, Serialize, ToSchema)]
pub struct Imported {
    /// `filed` (a report here), `ordered` (an order to the centers below
    /// that its area names), `updated`, `cancelled`, `recorded` (an Ack or
    /// Error noted), `duplicate` (imported before: nothing filed) or
    /// `not_filed` (Test, System, Draft, or a reference to nothing held
    /// here).
    outcome: &'static str,
    /// The incident or order it filed or changed (32 hex digits).
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    /// In words.
    what: String,
}

/// Import a CAP 1.2 alert.
///
/// Scope `cap`. The body is the alert's XML (UTF-8, no DOCTYPE, at most
/// 240 KiB). An Alert becomes a report at this center, or an order to the
/// centers below it that its area names (geocodes whose value is a
/// division code of the federation); an Update adds to what it refers to,
/// a Cancel cancels it, Ack and Error are noted. Exercise is filed as a
/// drill. Test, System and Draft are read and not filed. The same alert
/// (sender, identifier, sent) again files nothing.
#[utoipa::path(
    post,
    path = "/v1/cap",
    tag = "cap",
    request_body(content(("application/cap+xml"), ("application/xml"), ("text/xml")),
        description = "A CAP 1.2 alert"),
    responses(
        (status = 201, description = "Filed as a report or issued as an order", body = Imported),
        (status = 200, description = "Updated, cancelled, recorded, a duplicate, or read and not filed", body = Imported),
        (status = 400, description = "Not a valid CAP 1.2 alert (the element and line named), or hostile XML", body = ErrorBody),
        (status = 401, description = "No, an unknown or a revoked token", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "Bearer"))),
        (status = 403, description = "The token lacks scope `cap`", body = ErrorBody),
        (status = 413, description = "Over 240 KiB", content_type = "text/plain", body = String),
        (status = 422, description = "The node refused it (an incident that can no longer be cancelled, ...)", body = ErrorBody),
        (status = 503, description = "The node is shutting down or its store fails", body = ErrorBody),
    ),
    security(("bearer" = ["cap"])),
)]
async fn import_alert(State(api): State<Arc<Api>>, headers: HeaderMap, body: Bytes) -> Result<HttpResponse, Failure> {
    let token = authorize(&api, &headers, Scope::Cap)?;
    let act = Act::ImportCap { xml: body.to_vec() };
    match call(&api, &token, Request::Act(act)).await? {
        Response::CapImported(done) => {
            let status = match done.outcome {
                CapOutcome::Invalid => return Err(Failure::new(StatusCode::BAD_REQUEST, done.what)),
                CapOutcome::Filed | CapOutcome::Ordered => StatusCode::CREATED,
                _ => StatusCode::OK,
            };
            let body = Imported {
                outcome: done.outcome.name(),
                id: done.id.map(|id| format!("{:032x}", id.0)),
                what: done.what,
            };
            Ok((status, axum::Json(body)).into_response())
        }
        Response::Refused { reason } => Err(Failure::new(StatusCode::UNPROCESSABLE_ENTITY, reason)),
        other => Err(unexpected(other)),
    }
}

/// An incident as a CAP 1.2 alert.
///
/// Scope `read`. `{file}` is the incident's id (32 hex digits, or a prefix
/// naming one) followed by `.cap`. The alert is this center's latest
/// version of the incident: Alert, then Update with references to the
/// earlier versions, Cancel once cancelled.
#[utoipa::path(
    get,
    path = "/v1/incidents/{file}",
    tag = "cap",
    params(("file" = String, Path, description = "The incident's id and `.cap`")),
    responses(
        (status = 200, description = "The alert", content_type = "application/cap+xml", body = String),
        (status = 401, description = "No, an unknown or a revoked token", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "Bearer"))),
        (status = 403, description = "The token lacks scope `read`", body = ErrorBody),
        (status = 404, description = "No such incident here, or a path not ending in `.cap`", body = ErrorBody),
        (status = 503, description = "The node is shutting down or its store fails", body = ErrorBody),
    ),
    security(("bearer" = ["read"])),
)]
async fn incident_alert(
    State(api): State<Arc<Api>>,
    headers: HeaderMap,
    Path(file): Path<String>,
) -> Result<HttpResponse, Failure> {
    let token = authorize(&api, &headers, Scope::Read)?;
    let Some(id) = file.strip_suffix(".cap") else {
        return Err(Failure::new(
            StatusCode::NOT_FOUND,
            format!("an incident is given as /v1/incidents/<id>.cap, not {file:?}"),
        ));
    };
    let query = Query::IncidentCap {
        id: IdRef(id.to_owned()),
    };
    match call(&api, &token, Request::Query(query)).await? {
        Response::CapAlert { xml } => {
            let mut response = (StatusCode::OK, xml).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/cap+xml; charset=utf-8"),
            );
            Ok(response)
        }
        Response::Refused { reason } => Err(Failure::new(StatusCode::NOT_FOUND, reason)),
        other => Err(unexpected(other)),
    }
}
