//! Sieve's server: the HTTP API, the demo data generator, and (in later issues) ingest,
//! snapshots and segments. It also serves the built single-page app.
//!
//! # Layout
//!
//! | module | what it does |
//! |---|---|
//! | [`router`] (here) | builds the whole HTTP app: `/api` + SPA + middleware; tests call it with `oneshot` |
//! | [`routes`] | handlers under `/api/v1`, one module per resource, and the route table; JSON 404 for unknown API paths |
//! | [`auth`] | the bearer-token extractor, roles, id rules |
//! | [`extract`] | extractors whose rejections are JSON [`ApiError`]s |
//! | [`limits`] | body size limits per route, load shedding |
//! | [`segments`] | segment definitions and their sync rules (versions, tombstones, ETags) |
//! | [`idempotency`] | `Idempotency-Key` replay and misuse rules |
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
//! Requests running longer than [`Config::request_timeout`] (uploads: [`Config::upload_timeout`])
//! are answered `408`. At most
//! [`Config::max_inflight`] requests run at once; beyond that a request is answered `503
//! {"error":"overloaded"}` at once rather than queued (see [`limits`]). Bodies are capped per
//! route (413). Slow or idle clients are cut off by the header read timeout in [`serve`].

use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request, StatusCode};
use tower::ServiceBuilder;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::load_shed::LoadShedLayer;
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

pub mod auth;
pub mod backfill;
pub mod cli;
pub mod demo;
pub use engine::ds;
pub mod error;
pub mod extract;
pub mod idempotency;
pub mod ingest;
pub mod limits;
pub mod load;
pub mod membership;
pub mod publish;
pub mod routes;
pub mod segments;
pub mod serve;
pub mod snapshots;
pub mod state;
pub mod store;
pub mod synth;

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
/// # let dir = std::env::temp_dir().join(format!("sieve-doc-{}", std::process::id()));
/// let app = router(AppState::open(Config::new(dir.join("data"), "dist")).expect("open"));
/// # let _ = app;
/// ```
pub fn router(state: AppState) -> Router {
    let dist = state.config.dist_dir.clone();
    let spa =
        ServeDir::new(&dist).precompressed_br().precompressed_gzip().fallback(ServeFile::new(dist.join("index.html")));
    // API routes get their timeout per route (uploads run longer); the SPA gets the default.
    let spa = ServiceBuilder::new()
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, state.config.request_timeout))
        .service(spa);
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
        // Load shedding: the global limit is shared by every route (a plain ConcurrencyLimitLayer
        // would get one semaphore per route); when it is full, LoadShed fails at once and the
        // error becomes a 503.
        .layer(HandleErrorLayer::new(limits::overloaded))
        .layer(LoadShedLayer::new())
        .layer(GlobalConcurrencyLimitLayer::new(state.config.max_inflight.max(1)));
    Router::new()
        .nest("/api", routes::api(&state.config))
        .fallback_service(spa)
        .layer(middleware)
        // Bodies are capped per route by `limits` (JSON vs upload), not by axum's global 2 MB default.
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}

#[cfg(test)]
mod tests;
