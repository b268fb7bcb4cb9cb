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
//! the HTTP status (400 naming the field, 401, 403, 404).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response as HttpResponse};
use axum::routing::{get, post};
use liandong_control::proto::{Act, IdRef, Query, Request, Response};
use liandong_dispatch::store::{Incident, IncidentState};
use liandong_dispatch::wire::{Category, Mode};
use liandong_topology::Severity;
use serde::Deserialize;
use serde_json::{Value, json};

use super::api::{Api, Failure, authorize_token, call};
use super::tokens::Scope;

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

pub fn router(api: Arc<Api>) -> Router {
    Router::new()
        .route("/open311/v2/services.json", get(services))
        .route("/open311/v2/requests.json", post(file_request).get(list_requests))
        .route("/open311/v2/requests/{id}", get(one_request))
        .with_state(api)
}

/// An Open311 error answer.
struct Open311Error(StatusCode, String);

impl IntoResponse for Open311Error {
    fn into_response(self) -> HttpResponse {
        let code = self.0.as_u16();
        (self.0, axum::Json(json!([{ "code": code, "description": self.1 }]))).into_response()
    }
}

impl From<Failure> for Open311Error {
    fn from(f: Failure) -> Open311Error {
        let (status, why) = f.parts();
        Open311Error(status, why)
    }
}

async fn services() -> axum::Json<Value> {
    let list: Vec<Value> = SERVICES
        .iter()
        .map(|s| {
            json!({
                "service_code": s.code,
                "service_name": s.name,
                "description": s.name_en,
                "metadata": false,
                "type": "realtime",
                "keywords": format!("{:?}", s.category),
                "group": "liandong",
            })
        })
        .collect();
    axum::Json(Value::Array(list))
}

/// A request as Open311 clients post it (fields Liandong does not use,
/// such as `email`, are taken and ignored).
#[derive(Deserialize)]
struct RequestIn {
    api_key: String,
    service_code: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    address_string: String,
    #[serde(default)]
    lat: Option<String>,
    #[serde(default)]
    long: Option<String>,
}

async fn file_request(State(api): State<Arc<Api>>, body: Bytes) -> Result<HttpResponse, Open311Error> {
    let form: RequestIn = serde_urlencoded::from_bytes(&body)
        .map_err(|e| Open311Error(StatusCode::BAD_REQUEST, format!("the request does not read: {e}")))?;
    let token = authorize_token(&api, &form.api_key, Scope::Report)?;
    let service = SERVICES
        .iter()
        .find(|s| s.code == form.service_code.trim())
        .ok_or_else(|| {
            Open311Error(
                StatusCode::BAD_REQUEST,
                format!("service_code {:?} is not one of services.json", form.service_code),
            )
        })?;
    let description = form.description.trim().to_owned();
    if description.is_empty() {
        return Err(Open311Error(StatusCode::BAD_REQUEST, "description is empty".into()));
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
    match call(&api, &token, Request::Act(act)).await? {
        Response::Done { id, .. } => Ok((
            StatusCode::CREATED,
            axum::Json(json!([{
                "service_request_id": format!("{:032x}", id.0),
                "service_notice": format!("filed at {} as {} ({:?})", api.me, service.name, service.severity),
                "account_id": null,
            }])),
        )
            .into_response()),
        Response::Refused { reason } => Err(Open311Error(StatusCode::BAD_REQUEST, reason)),
        other => Err(Open311Error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the node answered {}", other.kind()),
        )),
    }
}

/// The filters of `GET requests.json`.
#[derive(Deserialize, Default)]
struct Filters {
    api_key: Option<String>,
    service_request_id: Option<String>,
    service_code: Option<String>,
    status: Option<String>,
    start_date: Option<String>,
    end_date: Option<String>,
}

fn filters(query: Option<String>) -> Result<Filters, Open311Error> {
    serde_urlencoded::from_str(query.as_deref().unwrap_or(""))
        .map_err(|e| Open311Error(StatusCode::BAD_REQUEST, format!("the query does not read: {e}")))
}

async fn list_requests(
    State(api): State<Arc<Api>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<axum::Json<Value>, Open311Error> {
    let f = filters(query)?;
    let token = token_of(&api, &headers, f.api_key.as_deref())?;
    let all = incidents(&api, &token).await?;
    let ids: Option<Vec<String>> = f
        .service_request_id
        .as_ref()
        .map(|s| s.split(',').map(|x| x.trim().to_ascii_lowercase()).collect());
    let start = f.start_date.as_deref().map(unix_of).transpose()?;
    let end = f.end_date.as_deref().map(unix_of).transpose()?;
    let list: Vec<Value> = all
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
    Ok(axum::Json(Value::Array(list)))
}

async fn one_request(
    State(api): State<Arc<Api>>,
    headers: HeaderMap,
    Path(file): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<axum::Json<Value>, Open311Error> {
    let f = filters(query)?;
    let token = token_of(&api, &headers, f.api_key.as_deref())?;
    let id = file.strip_suffix(".json").unwrap_or(&file).to_owned();
    match call(&api, &token, Request::Query(Query::Incident { id: IdRef(id) })).await? {
        Response::Incident(i) => Ok(axum::Json(json!([request_out(&api, &i)]))),
        Response::Refused { reason } => Err(Open311Error(StatusCode::NOT_FOUND, reason)),
        other => Err(Open311Error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the node answered {}", other.kind()),
        )),
    }
}

/// The token of a GET: `api_key`, or a Bearer header as the JSON API takes.
fn token_of(api: &Api, headers: &HeaderMap, key: Option<&str>) -> Result<super::tokens::Token, Open311Error> {
    match key {
        Some(k) => Ok(authorize_token(api, k, Scope::Read)?),
        None => Ok(super::api::authorize(api, headers, Scope::Read)?),
    }
}

async fn incidents(api: &Api, token: &super::tokens::Token) -> Result<Vec<Incident>, Open311Error> {
    match call(api, token, Request::Query(Query::Incidents { closed: true })).await? {
        Response::Incidents(all) => Ok(all),
        other => Err(Open311Error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the node answered {}", other.kind()),
        )),
    }
}

fn service_of(i: &Incident) -> Option<&'static Service> {
    SERVICES.iter().find(|s| s.category == i.report.category)
}

fn status_of(i: &Incident) -> &'static str {
    use IncidentState::*;
    match i.state {
        Resolved | Verified | Closed | Cancelled => "closed",
        Reported | Accepted | Dispatched => "open",
    }
}

fn request_out(api: &Api, i: &Incident) -> Value {
    let service = service_of(i);
    json!({
        "service_request_id": format!("{:032x}", i.id.0),
        "status": status_of(i),
        "status_notes": i.state.name(),
        "service_name": service.map(|s| s.name),
        "service_code": service.map(|s| s.code),
        "description": i.report.detail,
        "agency_responsible": i.owner,
        "service_notice": null,
        "requested_datetime": rfc3339(i.reported.0),
        "updated_datetime": rfc3339(i.timeline.last().map_or(i.reported.0, |e| e.at.0)),
        "expected_datetime": null,
        "address": i.report.place,
        "address_id": null,
        "zipcode": null,
        "lat": null,
        "long": null,
        "media_url": null,
        "filed_at": api.me,
    })
}

/// Milliseconds since the epoch as RFC 3339 (UTC).
fn rfc3339(ms: u64) -> String {
    let secs = i64::try_from(ms / 1000).unwrap_or(i64::MAX);
    liandong_certs::time::OffsetDateTime::from_unix_timestamp(secs)
        .map(liandong_certs::rfc3339)
        .unwrap_or_default()
}

/// An Open311 date (RFC 3339 / W3C) as seconds since the epoch.
fn unix_of(s: &str) -> Result<u64, Open311Error> {
    use liandong_certs::time::format_description::well_known::Rfc3339;
    liandong_certs::time::OffsetDateTime::parse(s.trim(), &Rfc3339)
        .ok()
        .and_then(|t| u64::try_from(t.unix_timestamp()).ok())
        .ok_or_else(|| Open311Error(StatusCode::BAD_REQUEST, format!("{s:?} is not an RFC 3339 date")))
}
