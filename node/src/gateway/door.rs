//! What every handler of the gateway shares: the node it is the door of
//! ([`Api`]), how a token is checked ([`authorize`]), how a request is
//! handed to the driver as the token's system ([`call`]), and the error
//! answer ([`Failure`], `{"error": "..."}`). It routes nothing and knows
//! no handler.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response as HttpResponse};
use liandong_certs::Role;
use liandong_control::proto::{Operator, Request, Response};
use liandong_topology::NodeId;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};
use utoipa::ToSchema;

use super::tokens::{Scope, Token, TokenWatch};
use crate::control::Call;
use crate::photos::PhotoFiles;

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

/// An error answer: its status and what was wrong.
pub struct Failure(pub StatusCode, pub String);

/// The body of every error answer of the JSON API.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What was wrong, in words (a field that does not read is named).
    pub error: String,
}

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
        let mut response = (self.0, axum::Json(ErrorBody { error: self.1 })).into_response();
        if self.0 == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// Middleware (`from_fn_with_state(max, declared_length)`): a body whose
/// declared length is over `max` bytes gets 413 before a byte of it is
/// read, so no client is told to go on (`100 Continue`) with a body that
/// will be refused, and none is cut off midway. A body that declares no
/// length is still bounded where it is read (`DefaultBodyLimit`).
pub async fn declared_length(
    axum::extract::State(max): axum::extract::State<usize>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> HttpResponse {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(len) if len > max as u64 => {
            let why = format!("a body of {len} bytes is over this route's {max}");
            tracing::warn!(status = 413, path = %request.uri().path(), "gateway refused a request: {why}");
            (StatusCode::PAYLOAD_TOO_LARGE, why).into_response()
        }
        _ => next.run(request).await,
    }
}

/// The answer to a node that answered what a route never asks for.
pub fn unexpected(response: Response) -> Failure {
    Failure(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("the node answered {}", response.kind()),
    )
}

/// The token in `Authorization: Bearer`, if it is good and has `scope`.
pub fn authorize(api: &Api, headers: &HeaderMap, scope: Scope) -> Result<Token, Failure> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
            let failure = Failure(StatusCode::UNAUTHORIZED, super::tokens::Denied::Missing.to_string());
            refused(api, &failure);
            failure
        })?;
    authorize_token(api, presented, scope)
}

/// Token `presented`, if it is good and has `scope`. A refusal is logged
/// with its reason (never with the token presented).
pub fn authorize_token(api: &Api, presented: &str, scope: Scope) -> Result<Token, Failure> {
    let checked = check_token(api, presented, scope);
    if let Err(failure) = &checked {
        refused(api, failure);
    }
    checked
}

fn refused(api: &Api, failure: &Failure) {
    tracing::warn!(node = %api.me, status = failure.0.as_u16(), "gateway refused a request: {}", failure.1);
}

fn check_token(api: &Api, presented: &str, scope: Scope) -> Result<Token, Failure> {
    let unauthorized = |why: String| Failure(StatusCode::UNAUTHORIZED, why);
    if let Some(center) = super::tokens::center_of(presented)
        && center != api.me.as_str()
    {
        return Err(Failure(
            StatusCode::FORBIDDEN,
            format!("this token acts for center {center}, not for {}", api.me),
        ));
    }
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
