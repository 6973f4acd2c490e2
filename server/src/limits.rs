//! Request hygiene that is not a handler's business: body size limits and load shedding.
//!
//! **Body limits.** Every route declares whether it takes JSON or an upload
//! ([`crate::routes::BodyKind`]); [`with_body_limit`] puts [`limit_body`] in front of it with
//! the configured size. A `Content-Length` over the limit is refused before a byte of the body
//! is read; a body without one (chunked) is wrapped in [`http_body_util::Limited`], so a
//! streamed upload that grows past the limit fails on the read that crosses it, and the
//! handler answers 413 through [`crate::ApiError::from_body_error`]. The limit also travels in
//! the request's extensions as [`BodyLimit`] for the extractors in [`crate::extract`].
//!
//! **Load shedding.** [`crate::router`] puts a global concurrency limit (`--max-inflight`)
//! behind `tower::load_shed`: when every slot is taken the request is answered 503
//! `{"error":"overloaded"}` at once by [`overloaded`], instead of waiting in an unbounded
//! queue while its client times out. The slot is held until the handler has produced its
//! response head, which includes reading the request body.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use http_body_util::{LengthLimitError, Limited};

use crate::error::ApiError;
use crate::state::AppState;

/// The body size limit of the route that is handling a request, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimit(pub u64);

/// Wraps a route with [`limit_body`] at `limit_bytes`.
pub fn with_body_limit(route: MethodRouter<AppState>, limit_bytes: u64) -> MethodRouter<AppState> {
    route.layer(axum::middleware::from_fn_with_state(BodyLimit(limit_bytes), limit_body))
}

/// Refuses a declared oversize body with 413; caps the rest as they stream.
pub async fn limit_body(State(limit): State<BodyLimit>, mut req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit.0) {
        return ApiError::PayloadTooLarge { limit_bytes: limit.0 }.into_response();
    }
    let cap = usize::try_from(limit.0).unwrap_or(usize::MAX);
    req.extensions_mut().insert(limit);
    let req = req.map(|body| Body::new(Limited::new(body, cap)));
    next.run(req).await
}

/// Whether a body read failed because [`limit_body`]'s cap was crossed (anywhere in the chain
/// of causes: axum wraps body errors).
pub fn is_length_limit(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(err);
    while let Some(e) = cause {
        if e.is::<LengthLimitError>() {
            return true;
        }
        cause = e.source();
    }
    false
}

/// Turns the load-shedding layer's error into the 503 answer (any other error is internal).
pub async fn overloaded(err: tower::BoxError) -> ApiError {
    if err.is::<tower::load_shed::error::Overloaded>() {
        // Not a warning per request: under overload that would add log I/O to an overloaded
        // server; the trace layer already logs each response with its 503.
        tracing::debug!("load shedding: every request slot is busy");
        ApiError::Overloaded
    } else {
        ApiError::internal(err)
    }
}
