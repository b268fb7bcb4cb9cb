//! Photos over the gateway. A system (a grid worker's page or app) first
//! sends each photo, then files the report naming them:
//!
//! - `POST /v1/photos` (scope `report`): the body is the image's bytes,
//!   whatever the Content-Type says; JPEG or PNG by content (else 415), at
//!   most the gateway's `photo_max` (else 413). Kept under its SHA-256;
//!   sending the same bytes again answers the same photo. 201 with
//!   `{"sha256", "size", "type"}`.
//! - `GET /v1/photos/{sha256}` (scope `read`): the bytes, at any center
//!   the report passed once the photo followed it there (404 until then).
//!
//! A report names up to four photos held here (`photos` in its JSON);
//! [`resolve`] turns the names into the references its envelope carries.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response as HttpResponse};
use liandong_dispatch::core::rules::MAX_PHOTOS;
use liandong_dispatch::wire::PhotoRef;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use super::door::{Api, ErrorBody, Failure, authorize};
use super::tokens::Scope;
use crate::photos::{PhotoError, parse_hex};

/// The photo routes, each with its entry in the OpenAPI document; a photo
/// may be up to `photo_max` bytes.
pub fn routes(photo_max: u64) -> OpenApiRouter<Arc<Api>> {
    // Room for the photo and what a client adds to it.
    let limit = photo_max as usize + 1024;
    OpenApiRouter::default()
        .routes(routes!(put_photo).layer(DefaultBodyLimit::max(limit)))
        .routes(routes!(get_photo))
}

/// A photo kept.
#[derive(Debug, Serialize, ToSchema)]
pub struct PhotoKept {
    /// Its SHA-256 (64 hex digits): its name in a report's `photos` and at `/v1/photos/{sha256}`.
    sha256: String,
    /// Its size in bytes.
    size: u64,
    #[serde(rename = "type")]
    #[schema(value_type = super::schemas::PhotoType)]
    kind: &'static str,
}

/// Send a photo, before filing the report that names it.
///
/// Scope `report`. The body is the image's bytes, whatever the
/// Content-Type says: JPEG or PNG by content, at most the gateway's
/// `gateway_photo_max_mib` (5 MiB unless configured). The same bytes again
/// answer the same photo.
#[utoipa::path(
    post,
    path = "/v1/photos",
    tag = "photos",
    request_body(content(("image/jpeg"), ("image/png"), ("application/octet-stream")),
        description = "The image's bytes"),
    responses(
        (status = 201, description = "Kept (or kept before)", body = PhotoKept,
            headers(("Location" = String, description = "/v1/photos/{sha256}"))),
        (status = 400, description = "An empty body", body = ErrorBody),
        (status = 401, description = "No, an unknown or a revoked token", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "Bearer"))),
        (status = 403, description = "The token lacks scope `report`", body = ErrorBody),
        (status = 413, description = "Over the gateway's largest photo (JSON), or far over it (plain text)",
            content((ErrorBody = "application/json"), (String = "text/plain"))),
        (status = 415, description = "Neither JPEG nor PNG by its content", body = ErrorBody),
        (status = 503, description = "The node's photo store fails", body = ErrorBody),
    ),
    security(("bearer" = ["report"])),
)]
async fn put_photo(State(api): State<Arc<Api>>, headers: HeaderMap, body: Bytes) -> Result<HttpResponse, Failure> {
    authorize(&api, &headers, Scope::Report)?;
    let (files, max) = (api.photos.clone(), api.photo_max);
    let kept = tokio::task::spawn_blocking(move || files.put(&body, max))
        .await
        .map_err(|_| Failure::new(StatusCode::SERVICE_UNAVAILABLE, "the photo store failed".into()))?;
    match kept {
        Ok(photo) => {
            let hex = photo.hex();
            let location = HeaderValue::from_str(&format!("/v1/photos/{hex}"));
            let kept = PhotoKept {
                sha256: hex,
                size: photo.size,
                kind: photo.kind.mime(),
            };
            let mut response = (StatusCode::CREATED, axum::Json(kept)).into_response();
            if let Ok(location) = location {
                response.headers_mut().insert(header::LOCATION, location);
            }
            Ok(response)
        }
        Err(e @ PhotoError::Unsupported) => Err(Failure::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, e.to_string())),
        Err(e @ PhotoError::TooLarge { .. }) => Err(Failure::new(StatusCode::PAYLOAD_TOO_LARGE, e.to_string())),
        Err(e @ PhotoError::Empty) => Err(Failure::new(StatusCode::BAD_REQUEST, e.to_string())),
        Err(e) => {
            tracing::error!(error = %e, "gateway: a photo not kept");
            Err(Failure::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the photo store failed".into(),
            ))
        }
    }
}

/// A photo's bytes.
///
/// Scope `read`. At any center the report passed, once the photo followed
/// it there (404 until then).
#[utoipa::path(
    get,
    path = "/v1/photos/{sha256}",
    tag = "photos",
    params(("sha256" = String, Path, description = "The photo's SHA-256 (64 hex digits)")),
    responses(
        (status = 200, description = "The photo", content(("image/jpeg"), ("image/png")),
            headers(("Cache-Control" = String, description = "private, max-age=31536000, immutable"))),
        (status = 400, description = "Not 64 hex digits (JSON), or a path that is not UTF-8 (plain text)",
            content((ErrorBody = "application/json"), (String = "text/plain"))),
        (status = 401, description = "No, an unknown or a revoked token", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "Bearer"))),
        (status = 403, description = "The token lacks scope `read`", body = ErrorBody),
        (status = 404, description = "Not here (yet: it follows its report hop by hop)", body = ErrorBody),
    ),
    security(("bearer" = ["read"])),
)]
async fn get_photo(
    State(api): State<Arc<Api>>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<HttpResponse, Failure> {
    authorize(&api, &headers, Scope::Read)?;
    let sha256 = parse_hex(&name).ok_or_else(|| {
        Failure::new(
            StatusCode::BAD_REQUEST,
            format!("{name:?} is not a photo's 64 hex digits"),
        )
    })?;
    let files = api.photos.clone();
    let found = tokio::task::spawn_blocking(move || files.reference(&sha256).zip(files.read(&sha256)))
        .await
        .ok()
        .flatten();
    let Some((photo, bytes)) = found else {
        return Err(Failure::new(
            StatusCode::NOT_FOUND,
            format!("photo {name} is not here (yet: it follows its report hop by hop)"),
        ));
    };
    Ok((
        [
            (header::CONTENT_TYPE, photo.kind.mime()),
            (header::CACHE_CONTROL, "private, max-age=31536000, immutable"),
        ],
        bytes,
    )
        .into_response())
}

/// The photos a report names (hex hashes), as held here, or a 400 naming
/// the one that is wrong.
pub fn resolve(api: &Api, names: &[String]) -> Result<Vec<PhotoRef>, Failure> {
    if names.len() > MAX_PHOTOS {
        return Err(Failure::new(
            StatusCode::BAD_REQUEST,
            format!("photos: at most {MAX_PHOTOS}, not {}", names.len()),
        ));
    }
    names
        .iter()
        .map(|name| {
            let sha256 = parse_hex(name).ok_or_else(|| {
                Failure::new(
                    StatusCode::BAD_REQUEST,
                    format!("photos: {name:?} is not a photo's 64 hex digits"),
                )
            })?;
            api.photos.reference(&sha256).ok_or_else(|| {
                Failure::new(
                    StatusCode::BAD_REQUEST,
                    format!("photos: {name} is not stored here; POST it to /v1/photos first"),
                )
            })
        })
        .collect()
}
