//! Sieve's server: the HTTP API (ingest, published snapshots, segments, experiments), the
//! command-line tools around its data, and the demo data generator. It also serves the built
//! single-page app.
//!
//! # Layout
//!
//! | module | what it does |
//! |---|---|
//! | [`router`] (here) | builds the whole HTTP app: `/api` + SPA + middleware; tests call it with `oneshot` |
//! | [`routes`] | handlers under `/api/v1`, one module per resource, and the route table; JSON 404 for unknown API paths |
//! | [`error`] | [`ApiError`]: the one error handlers return (JSON `{"error", "message"}`), and every conversion from a domain error into it |
//! | [`auth`] | the bearer-token extractor, roles and what each may do, id rules |
//! | [`tokens`] | app tokens over their life: create, list, rotate with a grace period, revoke, last use |
//! | [`privacy`] | what `aggregate` tokens learn: settings, minimum audience, seeded noise, the daily privacy budget |
//! | [`audit`] | the append-only audit log of sensitive actions, and membership lookups counted per day |
//! | [`extract`] | extractors whose rejections are JSON [`ApiError`]s |
//! | [`limits`] | body size limits per route, load shedding (uploads apart), body pace, uploads per token, draining refused bodies |
//! | [`ids`] | an app's user ids: a dictionary of strings, or the warehouse's `u32` numbers; text ↔ id for every feature |
//! | [`ingest`] | an uploaded CSV spooled to disk and parsed into staged data over dense ids |
//! | [`publish`] | staged uploads and segment changes become new, immutable day versions |
//! | [`snapshots`] | reading published days: day pointers → manifests → decoded bitmaps, with caches |
//! | [`membership`] | one user's tag values, segments and groups on a published day (the reverse index) |
//! | [`segments`] | segment definitions and their sync rules (versions, tombstones, ETags), cycles, freezing |
//! | [`experiments`] | A/B splits: the frozen record, freezing a segment's members into groups, balance and outcome |
//! | [`governance`] | tag governance (issue 15): the catalog of tag groups, quality checks and held uploads, usage counts, the version log of every day and restores |
//! | [`reach`] | issue 17: destinations, syncs of a segment to them, durable signed deliveries with retries and a log, reached users as segments |
//! | [`jobs`] | durable background work (segment backfills, recomputes after late uploads): records in the metadata store, one worker per process |
//! | [`idempotency`] | `Idempotency-Key` replay and misuse rules |
//! | [`store`] | blobs and metadata: files and redb in the data directory (default) or S3-compatible storage and PostgreSQL shared by replicas; checksummed records, start-up and offline checks ([`store::check`]) |
//! | [`blob_gc`] | collecting orphan blobs (unreferenced files a failed write left), at start-up and periodically |
//! | [`blocking`] | store and file work on the blocking pool, a panic in it turned into the caller's error |
//! | [`clock`] | the wall clock in milliseconds, read in one place |
//! | [`state`] | [`AppState`] and [`Config`] shared by handlers |
//! | [`serve`] | socket loop with graceful shutdown (SIGINT/SIGTERM) and a deadline |
//! | [`cli`] | the `sieve` command line (`serve`, `demo`, `load`, `synth`, `check`, `backup`, `restore`, `migrate`) parsed by `main.rs` |
//! | [`backup`] | `sieve backup` (a consistent copy while serving) and `sieve restore` |
//! | [`migrate`] | `sieve migrate`: an embedded install copied into PostgreSQL and object storage, then checked |
//! | [`demo`] | deterministic demo population written as ingestable CSV files |
//! | [`load`] | `sieve load`: a `sieve demo` directory uploaded to a running server through its HTTP routes |
//! | [`synth`] | `sieve synth`: a large synthetic app written straight into a data directory, for benchmarks |
//! | [`ds`] | the data date `YYYY-MM-DD` as a day number (from `engine`) |
//!
//! Dependencies run downward: [`routes`] → the domain modules (ingest, publish, snapshots,
//! segments, experiments, membership, jobs, idempotency, ids) → [`store`] → `engine`. The domain
//! modules return their own error types and know nothing of HTTP; [`error`] converts each into
//! an [`ApiError`]. Only the HTTP layer ([`routes`], [`error`], and the extractors and
//! middleware in [`auth`], [`extract`] and [`limits`]) uses [`ApiError`].
//!
//! `main.rs` only parses the command line, sets up logging and calls into this crate.
//!
//! # Requests
//!
//! Every response carries an `x-request-id` (taken from the request or a new UUID); the trace
//! span of each request records it, so one id ties a client report to the server log.
//! Requests running longer than [`Config::request_timeout`] (uploads: [`Config::upload_timeout`])
//! are answered `408`. At most [`Config::max_inflight`] requests, and apart from them
//! [`Config::max_uploads`] uploads, run at once; beyond that a request is answered `503
//! {"error":"overloaded"}` at once rather than queued (see [`limits`]). Bodies are capped per
//! route (413). Slow or idle clients are cut off by the header read timeout in [`serve`].

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request, StatusCode};
use tower::ServiceBuilder;
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

pub mod audit;
pub mod auth;
pub mod backup;
pub mod blob_gc;
pub mod blocking;
pub mod cli;
pub mod clock;
pub mod demo;
pub use engine::ds;
pub mod error;
pub mod experiments;
pub mod extract;
pub mod governance;
pub mod idempotency;
pub mod ids;
pub mod ingest;
pub mod jobs;
pub mod limits;
pub mod load;
pub mod membership;
pub mod migrate;
pub mod privacy;
pub mod publish;
pub mod reach;
pub mod routes;
pub mod segments;
pub mod serve;
pub mod snapshots;
pub mod state;
pub mod store;
pub mod synth;
pub mod tokens;

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
    let gates = limits::Gates::new(&state.config);
    // API routes get their timeout and request slots per route (uploads run longer, in a pool
    // of their own); the SPA gets the default timeout and a slot of the reads' pool.
    let spa = ServiceBuilder::new()
        .layer(axum::middleware::from_fn_with_state(gates.reads.clone(), limits::admit))
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
        .layer(CompressionLayer::new());
    Router::new()
        .nest("/api", routes::api(&state.config, &gates))
        .fallback_service(spa)
        .layer(middleware)
        // Bodies are capped per route by `limits` (JSON vs upload), not by axum's global 2 MB default.
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}

#[cfg(test)]
mod tests;
