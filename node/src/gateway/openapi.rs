//! The gateway's OpenAPI 3.1 document, served at `GET /v1/openapi.json`
//! (no token needed). It is made from the code that serves the routes:
//! each handler's `#[utoipa::path]` (method, path, scope, bodies, every
//! status it answers) and the `ToSchema` of its bodies, collected by
//! utoipa-axum's `routes!` as it registers the handler in the router
//! (`api::routes`), so no route is served undocumented or documented
//! unserved.
//!
//! This module holds what the handlers share: the document's head and its
//! security schemes (a Bearer token; Open311's `api_key`), the schemas of
//! the types other crates own (severity, category, mode, incident state,
//! photo type), described here by their serde names so that dispatch and
//! topology know nothing of OpenAPI, and the route that serves the
//! document. It authenticates nothing and never calls the driver.

use std::borrow::Cow;
use std::sync::Arc;

use axum::Extension;
use axum::Router;
use axum::response::{IntoResponse, Response as HttpResponse};
use liandong_dispatch::store::IncidentState;
use liandong_dispatch::wire::{Category, Mode, PhotoKind};
use liandong_topology::Severity;
use serde::Serialize;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ObjectBuilder, RefOr, Schema, Type};
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::api::Api;

/// The document's head: what every route adds its entry to.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Liandong gateway",
        description = "A center's door for the systems where reports start (the 12345 and 96966 \
            hotlines, grid workers' apps, member units' systems). Every route but this document and \
            Open311's service list needs a token the center issued (`liandong gateway token issue`), \
            as `Authorization: Bearer <token>` (or Open311's `api_key`); its scope (`report`, `read`, \
            `orders`) is named in each route's description and security requirement. A token acts \
            as its center only.",
        license(name = "MIT OR Apache-2.0"),
    ),
    modifiers(&Schemes),
    // Path parameters' schemas are not collected from the routes.
    components(schemas(StepName)),
    tags(
        (name = "reports", description = "File reports and follow their stages"),
        (name = "incidents", description = "This center's incidents"),
        (name = "orders", description = "Member units' systems on the orders addressed to this center"),
        (name = "photos", description = "Photos sent before the report that names them"),
        (name = "open311", description = "Open311 GeoReport v2"),
        (name = "document", description = "This document"),
    ),
)]
pub struct Document;

/// The security schemes the routes name.
struct Schemes;

impl Modify for Schemes {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A gateway token of this center (`liandong gateway token issue`); \
                         the security requirement names the scope the route needs",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(
                "api_key",
                "Open311's api_key: a gateway token (on POST requests.json it is a form field instead)",
            ))),
        );
    }
}

/// The document as served, made once when the router is.
#[derive(Clone)]
struct Published(Arc<utoipa::openapi::OpenApi>);

/// The route that serves the document.
pub fn routes() -> OpenApiRouter<Arc<Api>> {
    OpenApiRouter::default().routes(routes!(openapi_json))
}

/// The router of `routes`, with its state, serving the document they make.
pub fn publish(routes: OpenApiRouter<Arc<Api>>, api: Arc<Api>) -> Router {
    let (router, document) = routes.split_for_parts();
    router.with_state(api).layer(Extension(Published(Arc::new(document))))
}

/// This document: every route the gateway serves, its bodies, the status
/// codes it answers and the token scope it needs.
///
/// No token needed.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "document",
    responses((status = 200, description = "The OpenAPI 3.1 document", body = Object)),
    security(()),
)]
async fn openapi_json(Extension(Published(document)): Extension<Published>) -> HttpResponse {
    axum::Json(document.as_ref()).into_response()
}

/// Every category, for its schema. The match in `every_category_listed`
/// has no wildcard: a category that dispatch adds stops the build there,
/// to be listed here too.
const CATEGORIES: [Category; 8] = [
    Category::Dispute,
    Category::Hazard,
    Category::Request,
    Category::Fire,
    Category::Flood,
    Category::Gathering,
    Category::Accident,
    Category::Other,
];

#[allow(dead_code)] // A guard for the compiler, never called.
fn every_category_listed(c: Category) {
    use Category::*;
    match c {
        Dispute | Hazard | Request | Fire | Flood | Gathering | Accident | Other => {}
    }
}

/// Every mode (as [`CATEGORIES`]).
const MODES: [Mode; 2] = [Mode::Actual, Mode::Exercise];

#[allow(dead_code)] // A guard for the compiler, never called.
fn every_mode_listed(m: Mode) {
    match m {
        Mode::Actual | Mode::Exercise => {}
    }
}

/// Every incident state (as [`CATEGORIES`]).
const STATES: [IncidentState; 7] = [
    IncidentState::Reported,
    IncidentState::Accepted,
    IncidentState::Dispatched,
    IncidentState::Resolved,
    IncidentState::Verified,
    IncidentState::Closed,
    IncidentState::Cancelled,
];

#[allow(dead_code)] // A guard for the compiler, never called.
fn every_state_listed(s: IncidentState) {
    use IncidentState::*;
    match s {
        Reported | Accepted | Dispatched | Resolved | Verified | Closed | Cancelled => {}
    }
}

/// Every photo format (as [`CATEGORIES`]).
const PHOTO_KINDS: [PhotoKind; 2] = [PhotoKind::Jpeg, PhotoKind::Png];

#[allow(dead_code)] // A guard for the compiler, never called.
fn every_photo_kind_listed(k: PhotoKind) {
    match k {
        PhotoKind::Jpeg | PhotoKind::Png => {}
    }
}

/// The name serde gives `value`: how it reads and is written in JSON.
fn serde_name<T: Serialize>(value: T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        other => format!("{other:?}"),
    }
}

/// A string schema: one of `names`.
fn one_of(description: &str, names: impl IntoIterator<Item = String>) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .enum_values(Some(names))
        .into()
}

/// Declares a schema named `$name` for a type of another crate (or a
/// string the handlers write), built by `$schema`.
macro_rules! named_schema {
    ($(#[$doc:meta])* $ty:ident, $name:literal, $schema:expr) => {
        $(#[$doc])*
        pub struct $ty;

        impl PartialSchema for $ty {
            fn schema() -> RefOr<Schema> {
                $schema
            }
        }

        impl ToSchema for $ty {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }
        }
    };
}

named_schema!(
    /// topology's `Severity`.
    SeverityName,
    "Severity",
    one_of(
        "A report's severity, least severe first (read in lower case too)",
        Severity::ALL.iter().map(serde_name),
    )
);

named_schema!(
    /// dispatch's `Category`.
    CategoryName,
    "Category",
    one_of(
        "What a report is about: 矛盾纠纷 Dispute, 安全隐患 Hazard, 群众诉求 Request, 火情 Fire, \
         汛情 Flood, 群体性事件 Gathering, 事故 Accident, 其他 Other",
        CATEGORIES.iter().map(serde_name),
    )
);

named_schema!(
    /// dispatch's `Mode`.
    ModeName,
    "Mode",
    one_of(
        "A real case or a drill (exercises never mix with real cases)",
        MODES.iter().map(serde_name),
    )
);

named_schema!(
    /// dispatch's `IncidentState`, by its name.
    StateName,
    "IncidentState",
    one_of(
        "Where an incident is in its life, as this center knows it",
        STATES.iter().map(|s| s.name().to_owned()),
    )
);

named_schema!(
    /// dispatch's `PhotoKind`, by its media type.
    PhotoType,
    "PhotoType",
    one_of(
        "A photo's format, read from its bytes",
        PHOTO_KINDS.iter().map(|k| k.mime().to_owned()),
    )
);

named_schema!(
    /// The steps of an order.
    StepName,
    "OrderStep",
    one_of(
        "sign (签收) for the order, report progress, report it done, or refuse it",
        super::api::ORDER_STEPS.iter().map(|s| (*s).to_owned()),
    )
);

named_schema!(
    /// Open311's service codes.
    ServiceCode,
    "ServiceCode",
    one_of(
        "An Open311 service code (services.json): each files one category at one severity",
        super::open311::SERVICES.iter().map(|s| s.code.to_owned()),
    )
);

named_schema!(
    /// Open311's request statuses.
    Open311Status,
    "Open311Status",
    one_of(
        "open until the incident is resolved, then closed",
        super::open311::STATUSES.iter().map(|s| (*s).to_owned()),
    )
);

#[cfg(test)]
mod tests;
