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

use std::sync::Arc;

use axum::Extension;
use axum::Router;
use axum::response::{IntoResponse, Response as HttpResponse};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::door::Api;
use super::schemas::StepName;

/// The document's head: what every route adds its entry to.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Liandong gateway",
        description = "A center's door for the systems where reports start (the 12345 and 96966 \
            hotlines, grid workers' apps, member units' systems). Every route but this document and \
            Open311's service list needs a token the center issued (`liandong gateway token issue`), \
            as `Authorization: Bearer <token>` (or Open311's `api_key`); its scope (`report`, `read`, \
            `orders`, `cap`) is named in each route's description and security requirement. A token acts \
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
        (name = "cap", description = "CAP 1.2 alerts in from warning-release platforms, incidents out as alerts"),
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

#[cfg(test)]
mod tests;
