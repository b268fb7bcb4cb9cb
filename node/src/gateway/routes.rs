//! The gateway's route table: every route it serves, each registered
//! with its entry in the OpenAPI document. `routes!` (in each handler's
//! module) adds a handler to the router at the method and path its
//! `#[utoipa::path]` names, and that description to the document, in one
//! call; nothing is routed any other way (a test in `openapi` checks the
//! gateway's files for it).

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use super::api::MAX_BODY;
use super::door::{Api, declared_length};
use super::{api, cap, open311, openapi, page, photos};

/// The gateway's router, serving every route of [`routes`] and the
/// document they make at `/v1/openapi.json`.
pub fn router(api: Arc<Api>) -> Router {
    let photo_max = api.photo_max;
    openapi::publish(routes(photo_max), api)
}

/// Every route, with the document they make. Bodies are bounded at
/// [`MAX_BODY`] but for photos (`photo_max`) and CAP alerts (`MAX_CAP`);
/// one declaring a longer length is refused before it is read.
pub fn routes(photo_max: u64) -> OpenApiRouter<Arc<Api>> {
    OpenApiRouter::with_openapi(openapi::Document::openapi())
        .merge(api::routes())
        .merge(open311::routes())
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(MAX_BODY, declared_length))
        .merge(photos::routes(photo_max))
        .merge(cap::routes())
        .merge(openapi::routes())
        .merge(page::routes())
}
