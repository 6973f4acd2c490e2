//! HTTP handlers under `/api/v1`, one module per resource, and [`table`]: the one list of routes.
//!
//! [`api`] builds the `/api` sub-router from [`table`]; [`crate::router`] nests it and adds the
//! SPA and the middleware. The OpenAPI document ([`openapi`]) is checked against the same
//! table by a test, and an end-to-end test calls every documented operation on the real binary,
//! so the document, the table and the served routes cannot drift apart.
//!
//! Anything under `/api` that no handler matches is a JSON [`ApiError`], never the SPA's
//! `index.html`, so a typo in a client shows up as a 404 rather than as a confusing
//! HTML-parse error.
//!
//! Each route declares its [`BodyKind`]; [`crate::limits`] caps the body accordingly
//! (`--json-limit-bytes` or `--upload-limit-mb`), so no route reads an unbounded body, and
//! bounds its time (`--request-timeout-secs`, or `--upload-timeout-secs` for uploads: a
//! multi-GiB CSV cannot arrive in 30 s).

use axum::Router;
use axum::extract::OriginalUri;
use axum::handler::Handler;
use axum::http::StatusCode;
use axum::routing::{MethodFilter, MethodRouter, on};
use tower_http::timeout::TimeoutLayer;

use crate::error::ApiError;
use crate::state::{AppState, Config};

pub mod apps;
pub mod estimate;
pub mod experiments;
pub mod health;
pub mod history;
pub mod ids;
pub mod ingest;
pub mod members;
pub mod membership;
pub mod openapi;
pub mod segments;
pub mod snapshots;

/// An HTTP method a route answers (the ones the API uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `DELETE`
    Delete,
}

impl Method {
    /// The method's name, upper case.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }

    fn filter(self) -> MethodFilter {
        match self {
            Method::Get => MethodFilter::GET,
            Method::Post => MethodFilter::POST,
            Method::Put => MethodFilter::PUT,
            Method::Delete => MethodFilter::DELETE,
        }
    }
}

/// Which body size limit a route gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// JSON or no body: [`Config::json_limit_bytes`] (1 MiB by default) and [`Config::request_timeout`].
    Json,
    /// A streamed upload (CSV): [`Config::upload_limit_bytes`] and [`Config::upload_timeout`].
    Upload,
}

/// One route: method, path (relative to `/api`, axum syntax = OpenAPI syntax), body limit, handler.
#[derive(Debug)]
pub struct Route {
    /// The method.
    pub method: Method,
    /// The path under `/api`, e.g. `/v1/apps/{app}/segments/{id}`.
    pub path: &'static str,
    /// Its body limit.
    pub body: BodyKind,
    handler: MethodRouter<AppState>,
}

impl Route {
    fn new<H, T>(method: Method, path: &'static str, body: BodyKind, handler: H) -> Route
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        Route { method, path, body, handler: on(method.filter(), handler) }
    }
}

/// Every API route. The router is built from this list and the OpenAPI document is tested
/// against it: add a route here and to `openapi.json`, nowhere else.
pub fn table() -> Vec<Route> {
    use BodyKind::{Json, Upload};
    use Method::{Delete, Get, Post, Put};
    vec![
        // Public.
        Route::new(Get, "/v1/health", Json, health::health),
        Route::new(Get, "/v1/openapi.json", Json, openapi::document),
        // Apps and tokens (admin token).
        Route::new(Post, "/v1/apps", Json, apps::create_app),
        Route::new(Post, "/v1/apps/{app}/tokens", Json, apps::create_token),
        // Data: uploads and published snapshots.
        Route::new(Put, "/v1/apps/{app}/days/{ds}/tags/{group}", Upload, ingest::put_tag),
        Route::new(Put, "/v1/apps/{app}/days/{ds}/events/{event}", Upload, ingest::put_event),
        Route::new(Get, "/v1/apps/{app}/days", Json, snapshots::days),
        Route::new(Get, "/v1/apps/{app}/days/{ds}/manifest", Json, snapshots::manifest),
        Route::new(Get, "/v1/apps/{app}/days/{ds}/events", Json, snapshots::event_days),
        Route::new(Get, "/v1/apps/{app}/blobs/{hash}", Json, snapshots::blob),
        Route::new(Post, "/v1/apps/{app}/estimate", Json, estimate::estimate),
        // Segments.
        Route::new(Get, "/v1/apps/{app}/segments", Json, segments::list),
        Route::new(Post, "/v1/apps/{app}/segments", Json, segments::create),
        Route::new(Get, "/v1/apps/{app}/segments/{id}", Json, segments::get),
        Route::new(Put, "/v1/apps/{app}/segments/{id}", Json, segments::update),
        Route::new(Delete, "/v1/apps/{app}/segments/{id}", Json, segments::delete),
        Route::new(Put, "/v1/apps/{app}/segments/{id}/members", Upload, members::put_members),
        Route::new(Get, "/v1/apps/{app}/segments/{id}/members", Json, members::get_members),
        Route::new(Get, "/v1/apps/{app}/segments/{id}/history", Json, history::history),
        // Experiments (A/B splits).
        Route::new(Get, "/v1/apps/{app}/experiments", Json, experiments::list),
        Route::new(Post, "/v1/apps/{app}/experiments", Json, experiments::create),
        Route::new(Get, "/v1/apps/{app}/experiments/{id}", Json, experiments::get),
        Route::new(Get, "/v1/apps/{app}/experiments/{id}/outcome", Json, experiments::outcome),
        Route::new(Get, "/v1/apps/{app}/experiments/{id}/groups/{group}/members", Json, experiments::group_members),
        // Membership.
        Route::new(Get, "/v1/apps/{app}/users/{user_id}/tags", Json, membership::user_tags),
    ]
}

/// The `/api` router (paths here are relative to `/api`), built from [`table`].
pub fn api(config: &Config) -> Router<AppState> {
    let mut router = Router::new();
    for route in table() {
        let (limit, timeout) = match route.body {
            BodyKind::Json => (config.json_limit_bytes, config.request_timeout),
            BodyKind::Upload => (config.upload_limit_bytes, config.upload_timeout),
        };
        let handler = crate::limits::with_body_limit(route.handler, limit)
            .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, timeout));
        router = router.route(route.path, handler);
    }
    router.fallback(not_found).method_not_allowed_fallback(method_not_allowed)
}

/// Unknown `/api/...` path.
async fn not_found(OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::NotFound { path: uri.path().to_owned() }
}

/// Known path, wrong method.
async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
