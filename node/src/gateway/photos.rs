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

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response as HttpResponse};
use axum::routing::{get, post};
use liandong_dispatch::core::rules::MAX_PHOTOS;
use liandong_dispatch::wire::PhotoRef;
use serde_json::json;

use super::api::{Api, Failure, authorize};
use super::tokens::Scope;
use crate::photos::{PhotoError, parse_hex};

pub fn router(api: Arc<Api>) -> Router {
    // Room for the photo and what a client adds to it.
    let limit = api.photo_max as usize + 1024;
    Router::new()
        .route("/v1/photos", post(put_photo).layer(DefaultBodyLimit::max(limit)))
        .route("/v1/photos/{sha256}", get(get_photo))
        .with_state(api)
}

async fn put_photo(State(api): State<Arc<Api>>, headers: HeaderMap, body: Bytes) -> Result<HttpResponse, Failure> {
    authorize(&api, &headers, Scope::Report)?;
    let (files, max) = (api.photos.clone(), api.photo_max);
    let kept = tokio::task::spawn_blocking(move || files.put(&body, max))
        .await
        .map_err(|_| Failure::new(StatusCode::SERVICE_UNAVAILABLE, "the photo store failed".into()))?;
    match kept {
        Ok(photo) => {
            let hex = photo.hex();
            let mut response = (
                StatusCode::CREATED,
                axum::Json(json!({ "sha256": hex, "size": photo.size, "type": photo.kind.mime() })),
            )
                .into_response();
            if let Ok(location) = HeaderValue::from_str(&format!("/v1/photos/{hex}")) {
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
