//! Open311 GeoReport v2 (<https://wiki.open311.org/GeoReport_v2/>), so a
//! city-service app or a hotline system that already speaks it files
//! into Liandong unchanged. The `api_key` is a gateway token (form field
//! on POST, query parameter on GET). Paths, under `/open311/v2`:
//!
//! - `GET services.json`: the service list ([`SERVICES`]);
//! - `POST requests.json` (form-encoded): file a report; `service_code`
//!   gives its category and severity, `description` its text, `address_string`
//!   (or `lat`/`long`) its place; the title is the description's first line;
//! - `GET requests/{id}.json`, `GET requests.json` (filters
//!   `service_request_id`, `service_code`, `status`, `start_date`,
//!   `end_date`): requests as Open311 shows them (`open` until the
//!   incident is resolved, then `closed`).
//!
//! Errors are Open311's: a JSON array of `{"code", "description"}` with
//! the HTTP status (400 naming the field, 401, 403, 404). Each route is
//! registered with its entry in the OpenAPI document ([`routes`]).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response as HttpResponse};
use liandong_control::proto::{Act, IdRef, Query, Request, Response};
use liandong_dispatch::store::{Incident, IncidentState};
use liandong_dispatch::wire::{Category, Mode};
use liandong_topology::{NodeId, Severity};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::door::{Api, Failure, authorize_token, call, unexpected};
use super::schemas::{named_schema, one_of};
use super::tokens::Scope;

/// The statuses a request shows.
pub const STATUSES: [&str; 2] = ["open", "closed"];

/// A service an Open311 client may request: its code, names, and what a
/// request for it files in Liandong.
pub struct Service {
    pub code: &'static str,
    pub name: &'static str,
    pub name_en: &'static str,
    pub category: Category,
    pub severity: Severity,
}

/// The services, their codes and what they file (the table the hotline's
/// integrators map their own codes to).
pub const SERVICES: &[Service] = &[
    Service {
        code: "dispute",
        name: "矛盾纠纷",
        name_en: "Dispute between residents",
        category: Category::Dispute,
        severity: Severity::IV,
    },
    Service {
        code: "hazard",
        name: "安全隐患",
        name_en: "Safety hazard",
        category: Category::Hazard,
        severity: Severity::III,
    },
    Service {
        code: "request",
        name: "群众诉求",
        name_en: "Residents' request",
        category: Category::Request,
        severity: Severity::Routine,
    },
    Service {
        code: "fire",
        name: "火情",
        name_en: "Fire",
        category: Category::Fire,
        severity: Severity::II,
    },
    Service {
        code: "flood",
        name: "汛情",
        name_en: "Flooding",
        category: Category::Flood,
        severity: Severity::II,
    },
    Service {
        code: "gathering",
        name: "群体性事件",
        name_en: "Mass gathering",
        category: Category::Gathering,
        severity: Severity::II,
    },
    Service {
        code: "accident",
        name: "事故",
        name_en: "Accident",
        category: Category::Accident,
        severity: Severity::III,
    },
    Service {
        code: "other",
        name: "其他",
        name_en: "Other",
        category: Category::Other,
        severity: Severity::Routine,
    },
];

/// The Open311 routes, each with its entry in the OpenAPI document.
pub fn routes() -> OpenApiRouter<Arc<Api>> {
    OpenApiRouter::default()
        .routes(routes!(services))
        .routes(routes!(file_request, list_requests))
        .routes(routes!(one_request))
}

/// An Open311 error answer.
struct Open311Error(StatusCode, String);

/// One error of an Open311 error answer (a JSON array of them).
#[derive(Debug, Serialize, ToSchema)]
pub struct Open311Problem {
    /// The HTTP status.
    code: u16,
    /// What was wrong (a field that does not read is named).
    description: String,
}

impl IntoResponse for Open311Error {
    fn into_response(self) -> HttpResponse {
        let problem = Open311Problem {
            code: self.0.as_u16(),
            description: self.1,
        };
        (self.0, axum::Json([problem])).into_response()
    }
}

impl From<Failure> for Open311Error {
    fn from(f: Failure) -> Open311Error {
        let (status, why) = f.parts();
        Open311Error(status, why)
    }
}

/// A service as `services.json` lists it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceOut {
    #[schema(value_type = ServiceCode)]
    service_code: &'static str,
    /// Its name in Chinese.
    service_name: &'static str,
    /// Its name in English.
    description: &'static str,
    /// Always false: no service takes attributes.
    metadata: bool,
    /// Always `realtime`.
    #[serde(rename = "type")]
    kind: &'static str,
    /// The Liandong category a request for it files under.
    #[schema(value_type = super::schemas::CategoryName)]
    keywords: Category,
    /// Always `liandong`.
    group: &'static str,
}

/// The services and their codes (no token needed).
#[utoipa::path(
    get,
    path = "/open311/v2/services.json",
    tag = "open311",
    responses((status = 200, description = "The service list", body = [ServiceOut])),
    security(()),
)]
async fn services() -> axum::Json<Vec<ServiceOut>> {
    let list = SERVICES
        .iter()
        .map(|s| ServiceOut {
            service_code: s.code,
            service_name: s.name,
            description: s.name_en,
            metadata: false,
            kind: "realtime",
            keywords: s.category,
            group: "liandong",
        })
        .collect();
    axum::Json(list)
}

/// A request as Open311 clients post it (fields Liandong does not use,
/// such as `email`, are taken and ignored).
#[derive(Deserialize, ToSchema)]
pub struct RequestIn {
    /// A gateway token with scope `report`.
    api_key: String,
    #[schema(value_type = ServiceCode)]
    service_code: String,
    /// What happened; its first line (up to 60 characters) is the title. Must not be empty.
    #[serde(default)]
    description: String,
    /// Where it happened; else `lat`,`long`.
    #[serde(default)]
    address_string: String,
    #[serde(default)]
    lat: Option<String>,
    #[serde(default)]
    long: Option<String>,
}

/// A request filed (an array of one, as Open311 answers).
#[derive(Debug, Serialize, ToSchema)]
pub struct RequestFiled {
    /// The request's id, the incident's (32 hex digits).
    service_request_id: String,
    /// Where and as what it was filed.
    service_notice: String,
    /// Always null.
    account_id: Option<String>,
}

/// File a request (form-encoded, the token as the form field `api_key`).
///
/// Scope `report`. `service_code` gives the category and severity,
/// `description` the text, `address_string` (or `lat`/`long`) the place.
/// Unknown fields (such as `email`) are taken and ignored.
#[utoipa::path(
    post,
    path = "/open311/v2/requests.json",
    tag = "open311",
    request_body(content = RequestIn, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 201, description = "Filed", body = [RequestFiled]),
        (status = 400, description = "A form that does not read (naming the field), an unknown service_code, an empty description, or refused by the core's rules",
            body = [Open311Problem]),
        (status = 401, description = "An unknown or a revoked api_key", body = [Open311Problem]),
        (status = 403, description = "The token lacks scope `report`", body = [Open311Problem]),
        (status = 413, description = "A body over 64 KiB", content_type = "text/plain", body = String),
        (status = 503, description = "The node is shutting down or its store fails", body = [Open311Problem]),
    ),
    security(()),
)]
async fn file_request(State(api): State<Arc<Api>>, body: Bytes) -> Result<HttpResponse, Open311Error> {
    let form = read_form(&body).map_err(|why| Open311Error(StatusCode::BAD_REQUEST, why))?;
    let token = authorize_token(&api, &form.api_key, Scope::Report)?;
    let (service, act) = report_of(form).map_err(|why| Open311Error(StatusCode::BAD_REQUEST, why))?;
    match call(&api, &token, Request::Act(act)).await? {
        Response::Done { id, .. } => {
            let filed = RequestFiled {
                service_request_id: format!("{:032x}", id.0),
                service_notice: format!("filed at {} as {} ({:?})", api.me, service.name, service.severity),
                account_id: None,
            };
            Ok((StatusCode::CREATED, axum::Json([filed])).into_response())
        }
        Response::Refused { reason } => Err(Open311Error(StatusCode::BAD_REQUEST, reason)),
        other => Err(unexpected(other).into()),
    }
}

/// The form of `POST requests.json` (a 400's reason if it does not read).
/// Pure: the handler calls it, and so does the fuzz target in `fuzz/`.
pub fn read_form(body: &[u8]) -> Result<RequestIn, String> {
    serde_urlencoded::from_bytes(body).map_err(|e| format!("the request does not read: {e}"))
}

/// The report a request files, and the service it names (a 400's reason
/// if it names no service or describes nothing). Pure: the handler calls
/// it once the form's token is known, and so does the fuzz target.
pub fn report_of(form: RequestIn) -> Result<(&'static Service, Act), String> {
    let service = SERVICES
        .iter()
        .find(|s| s.code == form.service_code.trim())
        .ok_or_else(|| format!("service_code {:?} is not one of services.json", form.service_code))?;
    let description = form.description.trim().to_owned();
    if description.is_empty() {
        return Err("description is empty".into());
    }
    let title: String = description
        .lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(60)
        .collect();
    let place = match (&form.lat, &form.long) {
        _ if !form.address_string.trim().is_empty() => form.address_string.trim().to_owned(),
        (Some(lat), Some(long)) => format!("{lat},{long}"),
        _ => String::new(),
    };
    let act = Act::Report {
        severity: service.severity,
        category: service.category,
        title,
        detail: description,
        place,
        mode: Mode::Actual,
    };
    Ok((service, act))
}

/// The filters of `GET requests.json`.
#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Filters {
    /// A gateway token with scope `read` (or send it as `Authorization: Bearer`).
    api_key: Option<String>,
    /// Request ids, comma-separated.
    service_request_id: Option<String>,
    #[param(value_type = Option<ServiceCode>)]
    service_code: Option<String>,
    /// `open` or `closed`.
    #[param(value_type = Option<Open311Status>)]
    status: Option<String>,
    /// Requested at or after (RFC 3339).
    start_date: Option<String>,
    /// Requested at or before (RFC 3339).
    end_date: Option<String>,
}

/// The query of `GET requests/{id}.json`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // Documents the query; the handler reads it as `Filters`.
struct KeyOnly {
    /// A gateway token with scope `read` (or send it as `Authorization: Bearer`).
    api_key: Option<String>,
}

/// A request as Open311 shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RequestOut {
    /// The incident's id (32 hex digits).
    service_request_id: String,
    /// `open` until the incident is resolved, then `closed`.
    #[schema(value_type = Open311Status)]
    status: &'static str,
    /// The incident's state at this center.
    #[schema(value_type = super::schemas::StateName)]
    status_notes: &'static str,
    service_name: Option<&'static str>,
    #[schema(value_type = Option<ServiceCode>)]
    service_code: Option<&'static str>,
    description: String,
    /// The center that owns the incident.
    #[schema(value_type = String)]
    agency_responsible: NodeId,
    service_notice: Option<String>,
    /// RFC 3339, UTC.
    requested_datetime: String,
    /// RFC 3339, UTC: the incident's last event.
    updated_datetime: String,
    expected_datetime: Option<String>,
    address: String,
    address_id: Option<String>,
    zipcode: Option<String>,
    lat: Option<f64>,
    long: Option<f64>,
    media_url: Option<String>,
    /// The center whose gateway answers.
    #[schema(value_type = String)]
    filed_at: NodeId,
}

fn filters(query: Option<String>) -> Result<Filters, Open311Error> {
    read_filters(query.as_deref().unwrap_or("")).map_err(|why| Open311Error(StatusCode::BAD_REQUEST, why))
}

/// The query of a GET (a 400's reason if it does not read). Pure: the
/// handlers call it, and so does the fuzz target in `fuzz/`.
pub fn read_filters(query: &str) -> Result<Filters, String> {
    serde_urlencoded::from_str(query).map_err(|e| format!("the query does not read: {e}"))
}

impl Filters {
    /// `start_date` and `end_date` as seconds since the epoch (a 400's
    /// reason for one that is not RFC 3339).
    pub fn dates(&self) -> Result<(Option<u64>, Option<u64>), String> {
        let start = self.start_date.as_deref().map(unix_of).transpose()?;
        let end = self.end_date.as_deref().map(unix_of).transpose()?;
        Ok((start, end))
    }
}

/// Requests, with Open311's filters.
///
/// Scope `read`: the token as `api_key` in the query or as a Bearer token.
/// This center's requests, open and closed.
#[utoipa::path(
    get,
    path = "/open311/v2/requests.json",
    tag = "open311",
    params(Filters),
    responses(
        (status = 200, description = "The requests", body = [RequestOut]),
        (status = 400, description = "A query that does not read, a date that is not RFC 3339", body = [Open311Problem]),
        (status = 401, description = "No, an unknown or a revoked token", body = [Open311Problem]),
        (status = 403, description = "The token lacks scope `read`", body = [Open311Problem]),
        (status = 503, description = "The node is shutting down or its store fails", body = [Open311Problem]),
    ),
    security(("api_key" = ["read"]), ("bearer" = ["read"])),
)]
async fn list_requests(
    State(api): State<Arc<Api>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<axum::Json<Vec<RequestOut>>, Open311Error> {
    let f = filters(query)?;
    let token = token_of(&api, &headers, f.api_key.as_deref())?;
    let all = incidents(&api, &token).await?;
    let ids: Option<Vec<String>> = f
        .service_request_id
        .as_ref()
        .map(|s| s.split(',').map(|x| x.trim().to_ascii_lowercase()).collect());
    let (start, end) = f.dates().map_err(|why| Open311Error(StatusCode::BAD_REQUEST, why))?;
    let list: Vec<RequestOut> = all
        .iter()
        .filter(|i| ids.as_ref().is_none_or(|ids| ids.contains(&format!("{:032x}", i.id.0))))
        .filter(|i| {
            f.service_code
                .as_deref()
                .is_none_or(|c| service_of(i).is_some_and(|s| s.code == c))
        })
        .filter(|i| f.status.as_deref().is_none_or(|s| status_of(i) == s))
        .filter(|i| start.is_none_or(|t| i.reported.0 / 1000 >= t))
        .filter(|i| end.is_none_or(|t| i.reported.0 / 1000 <= t))
        .map(|i| request_out(&api, i))
        .collect();
    Ok(axum::Json(list))
}

/// One request (an array of one, as Open311 answers).
///
/// Scope `read`: the token as `api_key` in the query or as a Bearer token.
#[utoipa::path(
    get,
    path = "/open311/v2/requests/{id}",
    tag = "open311",
    params(
        ("id" = String, Path, description = "The request's id and `.json`: `requests/{service_request_id}.json`"),
        KeyOnly,
    ),
    responses(
        (status = 200, description = "The request", body = [RequestOut]),
        (status = 400, description = "A query that does not read (JSON), a path that is not UTF-8 (plain text)",
            content((Vec<Open311Problem> = "application/json"), (String = "text/plain"))),
        (status = 401, description = "No, an unknown or a revoked token", body = [Open311Problem]),
        (status = 403, description = "The token lacks scope `read`", body = [Open311Problem]),
        (status = 404, description = "No such request here", body = [Open311Problem]),
        (status = 503, description = "The node is shutting down or its store fails", body = [Open311Problem]),
    ),
    security(("api_key" = ["read"]), ("bearer" = ["read"])),
)]
async fn one_request(
    State(api): State<Arc<Api>>,
    headers: HeaderMap,
    Path(file): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<axum::Json<[RequestOut; 1]>, Open311Error> {
    let f = filters(query)?;
    let token = token_of(&api, &headers, f.api_key.as_deref())?;
    let id = file.strip_suffix(".json").unwrap_or(&file).to_owned();
    match call(&api, &token, Request::Query(Query::Incident { id: IdRef(id) })).await? {
        Response::Incident(i) => Ok(axum::Json([request_out(&api, &i)])),
        Response::Refused { reason } => Err(Open311Error(StatusCode::NOT_FOUND, reason)),
        other => Err(unexpected(other).into()),
    }
}

/// The token of a GET: `api_key`, or a Bearer header as the JSON API takes.
fn token_of(api: &Api, headers: &HeaderMap, key: Option<&str>) -> Result<super::tokens::Token, Open311Error> {
    match key {
        Some(k) => Ok(authorize_token(api, k, Scope::Read)?),
        None => Ok(super::door::authorize(api, headers, Scope::Read)?),
    }
}

async fn incidents(api: &Api, token: &super::tokens::Token) -> Result<Vec<Incident>, Open311Error> {
    match call(api, token, Request::Query(Query::Incidents { closed: true })).await? {
        Response::Incidents(all) => Ok(all),
        other => Err(unexpected(other).into()),
    }
}

fn service_of(i: &Incident) -> Option<&'static Service> {
    SERVICES.iter().find(|s| s.category == i.report.category)
}

fn status_of(i: &Incident) -> &'static str {
    status_of_state(i.state)
}

/// A request's Open311 status (one of [`STATUSES`]) when its incident is in `state`.
pub fn status_of_state(state: IncidentState) -> &'static str {
    use IncidentState::*;
    match state {
        Resolved | Verified | Closed | Cancelled => "closed",
        Reported | Accepted | Dispatched => "open",
    }
}

fn request_out(api: &Api, i: &Incident) -> RequestOut {
    let service = service_of(i);
    RequestOut {
        service_request_id: format!("{:032x}", i.id.0),
        status: status_of(i),
        status_notes: i.state.name(),
        service_name: service.map(|s| s.name),
        service_code: service.map(|s| s.code),
        description: i.report.detail.clone(),
        agency_responsible: i.owner.clone(),
        service_notice: None,
        requested_datetime: rfc3339(i.reported.0),
        updated_datetime: rfc3339(i.timeline.last().map_or(i.reported.0, |e| e.at.0)),
        expected_datetime: None,
        address: i.report.place.clone(),
        address_id: None,
        zipcode: None,
        lat: None,
        long: None,
        media_url: None,
        filed_at: api.me.clone(),
    }
}

/// Milliseconds since the epoch as RFC 3339 (UTC).
fn rfc3339(ms: u64) -> String {
    let secs = i64::try_from(ms / 1000).unwrap_or(i64::MAX);
    liandong_certs::time::OffsetDateTime::from_unix_timestamp(secs)
        .map(liandong_certs::rfc3339)
        .unwrap_or_default()
}

/// An Open311 date (RFC 3339 / W3C) as seconds since the epoch.
fn unix_of(s: &str) -> Result<u64, String> {
    use liandong_certs::time::format_description::well_known::Rfc3339;
    liandong_certs::time::OffsetDateTime::parse(s.trim(), &Rfc3339)
        .ok()
        .and_then(|t| u64::try_from(t.unix_timestamp()).ok())
        .ok_or_else(|| format!("{s:?} is not an RFC 3339 date"))
}

named_schema!(
    /// Open311's service codes.
    ServiceCode,
    "ServiceCode",
    one_of(
        "An Open311 service code (services.json): each files one category at one severity",
        SERVICES.iter().map(|s| s.code.to_owned()),
    )
);

named_schema!(
    /// Open311's request statuses.
    Open311Status,
    "Open311Status",
    one_of(
        "open until the incident is resolved, then closed",
        STATUSES.iter().map(|s| (*s).to_owned()),
    )
);
