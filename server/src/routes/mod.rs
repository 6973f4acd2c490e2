//! HTTP handlers under `/api/v1`, one module per resource, and [`table`]: the one list of routes.
//!
//! [`api`] builds the `/api` sub-router from [`table`]; [`crate::router`] nests it and adds the
//! SPA and the middleware. Each route names its OpenAPI operation ([`operations`]), and the
//! document ([`openapi`]) is generated from the table and the wire types; tests check it
//! against the table, and an end-to-end test calls every documented operation on the real
//! binary, so the document, the table and the served routes cannot drift apart.
//!
//! Request and response bodies are the types of crate `wire`, shared with the app.
//!
//! # Layout
//!
//! | module | routes |
//! |---|---|
//! | [`health`], [`openapi`] | public: liveness, the OpenAPI document (generated here) |
//! | [`operations`] | the OpenAPI operation of every route (prose, parameters, body and answer types) |
//! | [`apps`] | apps and their settings |
//! | [`tokens`], [`audit`] | an app's tokens and audit log (app admins) |
//! | [`ingest`] | tag and event uploads |
//! | [`snapshots`] | published days, manifests, event days, blobs |
//! | [`estimate`] | a rule's size on a day |
//! | [`analysis`] | ordered event funnels, overlaps of up to five sets, pivots of two groups (issue 16) |
//! | [`segments`], [`members`], [`history`] | segment definitions, member uploads and exports, history |
//! | [`freeze`] | a rule's or a segment's members on a day, saved as a new static segment |
//! | [`governance`] | the tag catalog, held uploads, a day's versions and restores, composite tags (issue 15) |
//! | [`reach`], [`syncs`], [`reach_ops`] | destinations; syncs of segments and experiment groups, their delivery log (issue 17); their OpenAPI operations |
//! | [`jobs`] | the durable background jobs of an app (recomputing days after a segment change) |
//! | [`experiments`] | A/B splits (HTTP over [`crate::experiments`]) |
//! | [`membership`] | one user's tags, segments and groups |
//! | [`ids`] | parsing dates from paths and queries |
//! | [`blocking`] | store and file work on the blocking pool, its error answered as an [`ApiError`] |
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

use crate::auth::Access;
use crate::error::ApiError;
use crate::limits;
use crate::state::{AppState, Config};

pub mod analysis;
pub mod apps;
pub mod audit;
pub mod estimate;
pub mod experiments;
pub mod freeze;
pub mod governance;
pub mod health;
pub mod history;
pub mod ids;
pub mod ingest;
pub mod jobs;
pub mod members;
pub mod membership;
pub mod openapi;
pub mod operations;
pub mod reach;
pub mod reach_ops;
pub mod segments;
pub mod snapshots;
pub mod syncs;
pub mod tokens;

/// Runs store or file work on the blocking pool ([`crate::blocking::run`]) and converts its
/// error (any domain error, or a panic) into the HTTP answer.
///
/// # Errors
/// The work's error as an [`ApiError`]; a panic is a 500.
pub async fn blocking<T, E>(work: impl FnOnce() -> Result<T, E> + Send + 'static) -> Result<T, ApiError>
where
    T: Send + 'static,
    E: Into<ApiError> + Send + 'static,
{
    crate::blocking::run(move || work().map_err(Into::into)).await
}

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
    /// `PATCH`
    Patch,
}

impl Method {
    /// The method's name, upper case.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Patch => "PATCH",
        }
    }

    fn filter(self) -> MethodFilter {
        match self {
            Method::Get => MethodFilter::GET,
            Method::Post => MethodFilter::POST,
            Method::Put => MethodFilter::PUT,
            Method::Delete => MethodFilter::DELETE,
            Method::Patch => MethodFilter::PATCH,
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

/// Who may call a route (its handler checks; the OpenAPI document and a test that calls every
/// route with every role hold the handler to it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// Anyone, without a token.
    Public,
    /// The server's admin token only.
    ServerAdmin,
    /// The server's admin token, and the app tokens whose role grants this access.
    App(Access),
}

impl Who {
    /// The roles allowed, as the OpenAPI document lists them (`x-sieve-roles`).
    pub fn names(self) -> Vec<&'static str> {
        match self {
            Who::Public => vec!["public"],
            Who::ServerAdmin => vec!["server admin"],
            Who::App(access) => {
                std::iter::once("server admin").chain(access.roles().into_iter().map(|r| r.as_str())).collect()
            }
        }
    }
}

/// One route: method, path (relative to `/api`, axum syntax = OpenAPI syntax), body limit,
/// who may call it, handler, and its operation in the OpenAPI document.
#[derive(Debug)]
pub struct Route {
    /// The method.
    pub method: Method,
    /// The path under `/api`, e.g. `/v1/apps/{app}/segments/{id}`.
    pub path: &'static str,
    /// Its body limit.
    pub body: BodyKind,
    /// Who may call it.
    pub who: Who,
    /// Its OpenAPI operation (from [`operations`]).
    pub doc: fn() -> openapi::Op,
    handler: MethodRouter<AppState>,
}

impl Route {
    fn new<H, T>(
        method: Method,
        path: &'static str,
        body: BodyKind,
        who: Who,
        handler: H,
        doc: fn() -> openapi::Op,
    ) -> Route
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        Route { method, path, body, who, doc, handler: on(method.filter(), handler) }
    }
}

/// Every API route. The router and the OpenAPI document are built from this list: add a route
/// here, with its operation in [`operations`] and its body types in crate `wire`.
pub fn table() -> Vec<Route> {
    use Access::{Describe, Manage, Membership, Read, SegmentRead, SegmentWrite, Write};
    use BodyKind::{Json, Upload};
    use Method::{Delete, Get, Patch, Post, Put};
    use Who::{App, Public, ServerAdmin};
    use operations as doc;
    use reach_ops as rdoc;
    vec![
        // Public.
        Route::new(Get, "/v1/health", Json, Public, health::health, doc::health),
        Route::new(Get, "/v1/openapi.json", Json, Public, openapi::serve, doc::openapi),
        // Apps, settings, tokens, audit.
        Route::new(Post, "/v1/apps", Json, ServerAdmin, apps::create_app, doc::create_app),
        Route::new(Get, "/v1/apps/{app}", Json, App(Describe), apps::get_app, doc::get_app),
        Route::new(Patch, "/v1/apps/{app}", Json, App(Manage), apps::patch_app, doc::patch_app),
        Route::new(Get, "/v1/apps/{app}/tokens", Json, App(Manage), tokens::list, doc::list_tokens),
        Route::new(Post, "/v1/apps/{app}/tokens", Json, App(Manage), tokens::create, doc::create_token),
        Route::new(Post, "/v1/apps/{app}/tokens/{id}/rotate", Json, App(Manage), tokens::rotate, doc::rotate_token),
        Route::new(Delete, "/v1/apps/{app}/tokens/{id}", Json, App(Manage), tokens::revoke, doc::revoke_token),
        Route::new(Get, "/v1/apps/{app}/audit", Json, App(Manage), audit::log, doc::audit_log),
        Route::new(Get, "/v1/apps/{app}/audit/lookups", Json, App(Manage), audit::lookups, doc::audit_lookups),
        // Data: uploads and published snapshots.
        Route::new(Put, "/v1/apps/{app}/days/{ds}/tags/{group}", Upload, App(Write), ingest::put_tag, doc::put_tag),
        Route::new(
            Put,
            "/v1/apps/{app}/days/{ds}/events/{event}",
            Upload,
            App(Write),
            ingest::put_event,
            doc::put_event,
        ),
        Route::new(Get, "/v1/apps/{app}/days", Json, App(Read), snapshots::days, doc::list_days),
        Route::new(Delete, "/v1/apps/{app}/days/{ds}", Json, App(Write), snapshots::delete_day, doc::delete_day),
        Route::new(Get, "/v1/apps/{app}/days/{ds}/manifest", Json, App(Read), snapshots::manifest, doc::get_manifest),
        Route::new(Get, "/v1/apps/{app}/days/{ds}/events", Json, App(Read), snapshots::event_days, doc::get_event_days),
        Route::new(Get, "/v1/apps/{app}/blobs/{hash}", Json, App(Read), snapshots::blob, doc::get_blob),
        Route::new(Post, "/v1/apps/{app}/estimate", Json, App(Read), estimate::estimate, doc::estimate),
        Route::new(Post, "/v1/apps/{app}/funnel", Json, App(Read), analysis::funnel, doc::funnel),
        Route::new(Post, "/v1/apps/{app}/overlap", Json, App(Read), analysis::overlap, doc::overlap),
        Route::new(Post, "/v1/apps/{app}/pivot", Json, App(Read), analysis::pivot, doc::pivot),
        // Tag governance (issue 15).
        Route::new(Get, "/v1/apps/{app}/groups", Json, App(Read), governance::list, doc::list_groups),
        Route::new(Patch, "/v1/apps/{app}/groups/{group}", Json, App(Write), governance::patch, doc::patch_group),
        Route::new(Get, "/v1/apps/{app}/holds", Json, App(Membership), governance::holds, doc::list_holds),
        Route::new(Post, "/v1/apps/{app}/holds/{id}/approve", Json, App(Write), governance::approve, doc::approve_hold),
        Route::new(Post, "/v1/apps/{app}/holds/{id}/reject", Json, App(Write), governance::reject, doc::reject_hold),
        Route::new(
            Get,
            "/v1/apps/{app}/days/{ds}/versions",
            Json,
            App(Membership),
            governance::day_versions,
            doc::day_versions,
        ),
        Route::new(
            Get,
            "/v1/apps/{app}/composites",
            Json,
            App(Read),
            governance::list_composites,
            doc::list_composites,
        ),
        Route::new(
            Put,
            "/v1/apps/{app}/composites/{group}",
            Json,
            App(Write),
            governance::put_composite,
            doc::put_composite,
        ),
        Route::new(
            Delete,
            "/v1/apps/{app}/composites/{group}",
            Json,
            App(Write),
            governance::delete_composite,
            doc::delete_composite,
        ),
        Route::new(
            Post,
            "/v1/apps/{app}/days/{ds}/groups/{group}/restore",
            Json,
            App(Write),
            governance::restore,
            doc::restore_group,
        ),
        // Segments.
        Route::new(Get, "/v1/apps/{app}/segments", Json, App(SegmentRead), segments::list, doc::list_segments),
        Route::new(Post, "/v1/apps/{app}/segments", Json, App(SegmentWrite), segments::create, doc::create_segment),
        Route::new(Get, "/v1/apps/{app}/segments/{id}", Json, App(SegmentRead), segments::get, doc::get_segment),
        Route::new(Put, "/v1/apps/{app}/segments/{id}", Json, App(SegmentWrite), segments::update, doc::update_segment),
        Route::new(
            Delete,
            "/v1/apps/{app}/segments/{id}",
            Json,
            App(SegmentWrite),
            segments::delete,
            doc::delete_segment,
        ),
        Route::new(
            Put,
            "/v1/apps/{app}/segments/{id}/members",
            Upload,
            App(Write),
            members::put_members,
            doc::put_segment_members,
        ),
        Route::new(
            Get,
            "/v1/apps/{app}/segments/{id}/members",
            Json,
            App(Membership),
            members::get_members,
            doc::get_segment_members,
        ),
        Route::new(
            Get,
            "/v1/apps/{app}/segments/{id}/history",
            Json,
            App(SegmentRead),
            history::history,
            doc::segment_history,
        ),
        Route::new(
            Post,
            "/v1/apps/{app}/segments/{id}/freeze",
            Json,
            App(Write),
            freeze::freeze_segment,
            doc::freeze_segment,
        ),
        // Experiments (A/B splits).
        Route::new(Get, "/v1/apps/{app}/experiments", Json, App(SegmentRead), experiments::list, doc::list_experiments),
        Route::new(
            Post,
            "/v1/apps/{app}/experiments",
            Json,
            App(SegmentWrite),
            experiments::create,
            doc::create_experiment,
        ),
        Route::new(
            Get,
            "/v1/apps/{app}/experiments/{id}",
            Json,
            App(SegmentRead),
            experiments::get,
            doc::get_experiment,
        ),
        Route::new(
            Get,
            "/v1/apps/{app}/experiments/{id}/outcome",
            Json,
            App(SegmentRead),
            experiments::outcome,
            doc::experiment_outcome,
        ),
        Route::new(
            Get,
            "/v1/apps/{app}/experiments/{id}/groups/{group}/members",
            Json,
            App(Membership),
            experiments::group_members,
            doc::experiment_group_members,
        ),
        // Reach (issue 17): destinations and syncs. Ids leave the server through them, so
        // reads need membership access (no aggregate tokens) and changes data write (editors).
        Route::new(
            Post,
            "/v1/apps/{app}/destinations",
            Json,
            App(Write),
            reach::create_destination,
            rdoc::create_destination,
        ),
        Route::new(
            Get,
            "/v1/apps/{app}/destinations",
            Json,
            App(Membership),
            reach::list_destinations,
            rdoc::list_destinations,
        ),
        Route::new(
            Get,
            "/v1/apps/{app}/destinations/{id}",
            Json,
            App(Membership),
            reach::get_destination,
            rdoc::get_destination,
        ),
        Route::new(
            Patch,
            "/v1/apps/{app}/destinations/{id}",
            Json,
            App(Write),
            reach::patch_destination,
            rdoc::patch_destination,
        ),
        Route::new(
            Delete,
            "/v1/apps/{app}/destinations/{id}",
            Json,
            App(Write),
            reach::delete_destination,
            rdoc::delete_destination,
        ),
        Route::new(Post, "/v1/apps/{app}/segments/{id}/syncs", Json, App(Write), syncs::start, rdoc::start_sync),
        Route::new(Get, "/v1/apps/{app}/segments/{id}/syncs", Json, App(Membership), syncs::list, rdoc::list_syncs),
        Route::new(Get, "/v1/apps/{app}/segments/{id}/syncs/{sync}", Json, App(Membership), syncs::get, rdoc::get_sync),
        Route::new(
            Delete,
            "/v1/apps/{app}/segments/{id}/syncs/{sync}",
            Json,
            App(Write),
            syncs::delete,
            rdoc::delete_sync,
        ),
        Route::new(
            Post,
            "/v1/apps/{app}/segments/{id}/syncs/{sync}/pause",
            Json,
            App(Write),
            syncs::pause,
            rdoc::pause_sync,
        ),
        Route::new(
            Post,
            "/v1/apps/{app}/segments/{id}/syncs/{sync}/resume",
            Json,
            App(Write),
            syncs::resume,
            rdoc::resume_sync,
        ),
        Route::new(
            Post,
            "/v1/apps/{app}/segments/{id}/syncs/{sync}/resend",
            Json,
            App(Write),
            syncs::resend,
            rdoc::resend_sync,
        ),
        Route::new(
            Get,
            "/v1/apps/{app}/segments/{id}/syncs/{sync}/deliveries",
            Json,
            App(Membership),
            syncs::deliveries,
            rdoc::sync_deliveries,
        ),
        // An experiment group is sent like a segment; it is managed through `…/syncs/{sync}`.
        Route::new(
            Post,
            "/v1/apps/{app}/experiments/{id}/groups/{group}/syncs",
            Json,
            App(Write),
            syncs::start,
            rdoc::start_group_sync,
        ),
        Route::new(
            Get,
            "/v1/apps/{app}/experiments/{id}/groups/{group}/syncs",
            Json,
            App(Membership),
            syncs::list,
            rdoc::list_group_syncs,
        ),
        Route::new(Get, "/v1/apps/{app}/syncs", Json, App(Membership), syncs::list_app, rdoc::list_app_syncs),
        Route::new(Get, "/v1/apps/{app}/syncs/{sync}", Json, App(Membership), syncs::get, rdoc::get_sync_app),
        Route::new(Delete, "/v1/apps/{app}/syncs/{sync}", Json, App(Write), syncs::delete, rdoc::delete_sync_app),
        Route::new(Post, "/v1/apps/{app}/syncs/{sync}/pause", Json, App(Write), syncs::pause, rdoc::pause_sync_app),
        Route::new(Post, "/v1/apps/{app}/syncs/{sync}/resume", Json, App(Write), syncs::resume, rdoc::resume_sync_app),
        Route::new(Post, "/v1/apps/{app}/syncs/{sync}/resend", Json, App(Write), syncs::resend, rdoc::resend_sync_app),
        Route::new(
            Get,
            "/v1/apps/{app}/syncs/{sync}/deliveries",
            Json,
            App(Membership),
            syncs::deliveries,
            rdoc::sync_deliveries_app,
        ),
        // Durable background jobs.
        Route::new(Get, "/v1/apps/{app}/jobs", Json, App(SegmentRead), jobs::list, doc::list_jobs),
        Route::new(Get, "/v1/apps/{app}/jobs/{kind}", Json, App(SegmentRead), jobs::get, doc::get_job),
        // Membership.
        Route::new(
            Get,
            "/v1/apps/{app}/users/{user_id}/tags",
            Json,
            App(Membership),
            membership::user_tags,
            doc::user_tags,
        ),
    ]
}

/// The `/api` router (paths here are relative to `/api`), built from [`table`]. Each route
/// gets, from the outside in: the rest of a refused body read ([`limits::drain_refused`]);
/// for uploads the per-token limit ([`limits::per_token`]); a slot of its kind's pool
/// ([`limits::admit`]: uploads apart from the rest); its timeout; its body size limit.
pub fn api(config: &Config, gates: &limits::Gates) -> Router<AppState> {
    use axum::middleware::from_fn_with_state;
    let mut router = Router::new();
    for route in table() {
        let (limit, timeout, slots) = match route.body {
            BodyKind::Json => (config.json_limit_bytes, config.request_timeout, &gates.reads),
            BodyKind::Upload => (config.upload_limit_bytes, config.upload_timeout, &gates.uploads),
        };
        let mut handler = limits::with_body_limit(route.handler, limit)
            .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, timeout))
            .layer(from_fn_with_state(slots.clone(), limits::admit));
        if route.body == BodyKind::Upload {
            handler = handler.layer(from_fn_with_state(gates.per_token.clone(), limits::per_token));
        }
        handler = handler.layer(from_fn_with_state(gates.pace, limits::drain_refused));
        // What `crate::auth::Auth` checks the caller against, before the body is read.
        handler = handler.layer(axum::Extension(route.who));
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
