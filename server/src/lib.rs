//! Sieve's server: the HTTP API, the demo data generator, and (in later issues) ingest,
//! snapshots and segments. It also serves the built single-page app.
//!
//! # Layout
//!
//! | module | what it does |
//! |---|---|
//! | [`router`] (here) | builds the whole HTTP app: `/api` + SPA + middleware; tests call it with `oneshot` |
//! | [`routes`] | handlers under `/api/v1`, one module per resource; JSON 404 for unknown API paths |
//! | [`error`] | [`ApiError`]: the one error handlers return; JSON `{"error", "message"}` |
//! | [`state`] | [`AppState`] and [`Config`] shared by handlers |
//! | [`serve`] | socket loop with graceful shutdown (SIGINT/SIGTERM) and a deadline |
//! | [`cli`] | the `sieve` command line (`serve`, `demo`) parsed by `main.rs` |
//! | [`demo`] | deterministic demo population written as ingestable CSV files |
//! | [`ds`] | the data date `YYYY-MM-DD` as a day number |
//!
//! `main.rs` only parses the command line, sets up logging and calls into this crate.
//!
//! # Requests
//!
//! Every response carries an `x-request-id` (taken from the request or a new UUID); the trace
//! span of each request records it, so one id ties a client report to the server log.
//! Requests running longer than [`Config::request_timeout`] are answered `408`.

use axum::Router;
use axum::http::{HeaderName, Request, StatusCode};
use tower::ServiceBuilder;
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

pub mod cli;
pub mod demo;
pub mod ds;
pub mod error;
pub mod routes;
pub mod serve;
pub mod state;

pub use error::ApiError;
pub use state::{AppState, Config};

/// Header that carries the request id.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Builds the whole HTTP app.
///
/// - `/api/...`: the API ([`routes::api`]); unknown paths are a JSON 404.
/// - anything else: a file from [`Config::dist_dir`] (preferring `.br` / `.gz` siblings when the
///   client accepts them), else `index.html`, so client-side routes such as `/segments/x` load
///   the app instead of a 404.
///
/// ```
/// use server::{router, AppState, Config};
/// let app = router(AppState::new(Config::new("./data", "dist")));
/// # let _ = app;
/// ```
pub fn router(state: AppState) -> Router {
    let dist = state.config.dist_dir.clone();
    let spa =
        ServeDir::new(&dist).precompressed_br().precompressed_gzip().fallback(ServeFile::new(dist.join("index.html")));
    let request_id = HeaderName::from_static(REQUEST_ID_HEADER);
    let middleware = ServiceBuilder::new()
        .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request<_>| {
                    let id = req.headers().get(REQUEST_ID_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("-");
                    tracing::info_span!("request", method = %req.method(), uri = %req.uri(), request_id = %id)
                })
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(PropagateRequestIdLayer::new(request_id))
        .layer(CompressionLayer::new())
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, state.config.request_timeout));
    Router::new().nest("/api", routes::api()).fallback_service(spa).layer(middleware).with_state(state)
}

#[cfg(test)]
mod tests;
