//! HTTP handlers under `/api/v1`, one module per resource.
//!
//! [`api`] builds the `/api` sub-router; [`crate::router`] nests it and adds the SPA and the
//! middleware. Anything under `/api` that no handler matches is a JSON [`ApiError`], never the
//! SPA's `index.html`, so a typo in a client shows up as a 404 rather than as a confusing
//! HTML-parse error.

use axum::Router;
use axum::extract::OriginalUri;
use axum::routing::get;

use crate::error::ApiError;
use crate::state::AppState;

pub mod health;

/// The `/api` router (paths here are relative to `/api`).
pub fn api() -> Router<AppState> {
    Router::new()
        .route("/v1/health", get(health::health))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

/// Unknown `/api/...` path.
async fn not_found(OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::NotFound { path: uri.path().to_owned() }
}

/// Known path, wrong method.
async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
