//! A/B splits (拆包) over HTTP: `POST /api/v1/apps/{app}/experiments` splits a segment's members
//! on a day into frozen groups, `GET …/experiments` lists them, `GET …/experiments/{id}` adds the
//! balance check, `GET …/{id}/outcome` gives a metric's rate per group with 95% intervals and
//! each group's difference from the first, `GET …/{id}/groups/{group}/members` exports a group
//! as CSV.
//!
//! HTTP only: extract, authorise, check ids, call [`crate::experiments`] on the blocking pool,
//! and turn its [`ExperimentError`] into an [`ApiError`].

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use wire::{AuditAction, ExperimentList, ExperimentView, NewExperiment, Outcome};

use crate::auth::{Access, Auth, validate_id};
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::experiments::{balance, freeze, record};
use crate::extract::{ApiPath, ApiQuery, JsonBody};
use crate::privacy;
use crate::routes::blocking;
use crate::routes::ids::parse_ds;
use crate::state::AppState;

/// `POST /api/v1/apps/{app}/experiments`.
pub async fn create(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(app): ApiPath<String>,
    JsonBody(req): JsonBody<NewExperiment>,
) -> Result<Response, ApiError> {
    auth.app(&state, &app, Access::SegmentWrite)?;
    validate_id("experiment", &req.id)?;
    validate_id("segment", &req.segment)?;
    if let Some(ds) = &req.ds {
        parse_ds(ds)?;
    }
    let split = freeze::check(&req)?;
    // Computing missing members publishes a day version: do it under the app's publish lock.
    let publishing = state.publishing(&app).await?;
    let st = state.clone();
    let actor = auth.actor();
    let view = blocking(move || -> Result<_, ApiError> {
        let experiment = freeze::freeze(&st, &app, &req, &split, now_ms())?;
        let event = crate::audit::Event::new(AuditAction::Split, experiment.id.clone())
            .on(experiment.ds.clone())
            .users(experiment.audience)
            .detail(format!("segment `{}` into {} groups", experiment.segment, experiment.groups.len()));
        crate::audit::record(&st.meta, &app, &actor, event, now_ms())?;
        let balance = balance::balance(&st.snapshots, &app, &experiment, None)?;
        Ok(ExperimentView { experiment, balance })
    })
    .await?;
    drop(publishing);
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// `GET /api/v1/apps/{app}/experiments`.
pub async fn list(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(app): ApiPath<String>,
) -> Result<Json<ExperimentList>, ApiError> {
    let scope = auth.app(&state, &app, Access::SegmentRead)?;
    let meta = state.meta.clone();
    let experiments = blocking(move || -> Result<_, ApiError> {
        let mut list = record::list(&meta, &app)?;
        if let Some(noise) = privacy::aggregate_noise(&meta, &app, scope.role)? {
            list.iter_mut().for_each(|e| privacy::views::experiment(e, &noise));
        }
        Ok(list)
    })
    .await?;
    Ok(Json(ExperimentList { experiments }))
}

/// `GET /api/v1/apps/{app}/experiments/{id}`.
pub async fn get(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((app, id)): ApiPath<(String, String)>,
) -> Result<Json<ExperimentView>, ApiError> {
    let scope = auth.app(&state, &app, Access::SegmentRead)?;
    validate_id("experiment", &id)?;
    let snaps = state.snapshots.clone();
    let view = blocking(move || -> Result<_, ApiError> {
        let noise = privacy::aggregate_noise(snaps.meta(), &app, scope.role)?;
        let mut experiment = record::load(snaps.meta(), &app, &id)?;
        let balance = balance::balance(&snaps, &app, &experiment, noise.as_ref())?;
        if let Some(noise) = &noise {
            privacy::views::experiment(&mut experiment, noise);
        }
        Ok(ExperimentView { experiment, balance })
    })
    .await?;
    Ok(Json(view))
}

/// Query of the outcome.
#[derive(Debug, Deserialize)]
pub struct OutcomeQuery {
    /// Metric tag group (its `true` value).
    metric: String,
    /// The day to read; the latest published day when absent.
    ds: Option<String>,
}

/// `GET /api/v1/apps/{app}/experiments/{id}/outcome?metric=&ds=`.
pub async fn outcome(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((app, id)): ApiPath<(String, String)>,
    ApiQuery(q): ApiQuery<OutcomeQuery>,
) -> Result<Json<Outcome>, ApiError> {
    let scope = auth.app(&state, &app, Access::SegmentRead)?;
    validate_id("experiment", &id)?;
    validate_id("metric", &q.metric)?;
    if let Some(ds) = &q.ds {
        parse_ds(ds)?;
    }
    let snaps = state.snapshots.clone();
    let out = blocking(move || -> Result<_, ApiError> {
        let noise = privacy::aggregate_noise(snaps.meta(), &app, scope.role)?;
        let experiment = record::load(snaps.meta(), &app, &id)?;
        Ok(balance::outcome(&snaps, &app, &experiment, &q.metric, q.ds.as_deref(), noise.as_ref())?)
    })
    .await?;
    Ok(Json(out))
}

/// Query of a group's export.
#[derive(Debug, Deserialize)]
pub struct GroupMembersQuery {
    /// `csv` (default), `clickhouse` or `roaring`, as for a segment's members.
    format: Option<String>,
}

/// `GET /api/v1/apps/{app}/experiments/{id}/groups/{group}/members?format=`: CSV (header
/// `user_id`), or for `u32` apps one bitmap.
pub async fn group_members(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((app, id, group)): ApiPath<(String, String, String)>,
    ApiQuery(q): ApiQuery<GroupMembersQuery>,
) -> Result<Response, ApiError> {
    auth.app(&state, &app, Access::Membership)?;
    validate_id("experiment", &id)?;
    let format = crate::routes::members::ExportFormat::parse(q.format.as_deref())?;
    let snaps = state.snapshots.clone();
    let (app2, id2, group2) = (app.clone(), id.clone(), group.clone());
    let set = blocking(move || record::group_members(&snaps, &app2, &id2, &group2)).await?;
    let event = crate::audit::Event::new(AuditAction::ExportExperimentGroup, format!("{id}/{group}"));
    crate::routes::members::export(&state, &app, set, &format!("{id}-{group}"), format, auth.actor(), event).await
}
