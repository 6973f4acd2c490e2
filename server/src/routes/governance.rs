//! Tag governance (issue 15), HTTP over [`crate::governance`]: the catalog (`…/groups`,
//! `PATCH …/groups/{group}`), held uploads (`…/holds`, `…/holds/{id}/approve|reject`), and
//! the versions of a day (`…/days/{ds}/versions`, `…/days/{ds}/groups/{group}/restore`).
//!
//! Approving, rejecting and restoring run under the app's publish lock, so a decision and a
//! publish cannot interleave: a hold is published once or discarded, never both.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use wire::{DayVersions, GroupChange, GroupList, GroupPatch, Hold, HoldList, HoldState, IngestResult, RestoreRequest};

use crate::auth::{Access, Auth, validate_id};
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery, JsonBody};
use crate::governance::{self, holds, versions};
use crate::ids::AppIds;
use crate::privacy::utc_day;
use crate::publish::{Context, Gate};
use crate::routes::blocking;
use crate::routes::ids::parse_ds;
use crate::routes::ingest::{Published, held_upload, publish_staged, stage_file};
use crate::state::AppState;

/// `GET /api/v1/apps/{app}/groups`.
pub async fn list(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(app): ApiPath<String>,
) -> Result<Json<GroupList>, ApiError> {
    auth.app(&state, &app, Access::Read)?;
    let list = blocking(move || governance::list(&state.snapshots, &app, &utc_day(now_ms()))).await?;
    Ok(Json(list))
}

/// `PATCH /api/v1/apps/{app}/groups/{group}`.
pub async fn patch(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((app, group)): ApiPath<(String, String)>,
    JsonBody(body): JsonBody<GroupPatch>,
) -> Result<Json<GroupChange>, ApiError> {
    auth.app(&state, &app, Access::Write)?;
    validate_id("group", &group)?;
    let change = blocking(move || governance::patch(&state.snapshots, &app, &group, &body, &utc_day(now_ms()))).await?;
    Ok(Json(change))
}

/// Query of `GET …/holds`.
#[derive(Debug, Deserialize)]
pub struct HoldsQuery {
    /// Decided holds too.
    #[serde(default)]
    all: bool,
}

/// `GET /api/v1/apps/{app}/holds`.
pub async fn holds(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(app): ApiPath<String>,
    ApiQuery(q): ApiQuery<HoldsQuery>,
) -> Result<Json<HoldList>, ApiError> {
    auth.app(&state, &app, Access::Membership)?;
    let holds = blocking(move || holds::list(&state.meta, &app, q.all)).await?;
    Ok(Json(HoldList { holds }))
}

/// `POST /api/v1/apps/{app}/holds/{id}/approve`: publishes the held upload as if uploaded now.
pub async fn approve(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((app, id)): ApiPath<(String, String)>,
) -> Result<Json<IngestResult>, ApiError> {
    auth.app(&state, &app, Access::Write)?;
    validate_id("id", &id)?;
    let by = auth.actor();
    let mut publishing = state.publishing(&app).await?;
    let work = move || -> Result<IngestResult, ApiError> {
        let record = holds::waiting(&state.meta, &app, &id)?;
        let (upload, format) = held_upload(&record.hold.group, &record.params)?;
        let ds = parse_ds(&record.hold.ds)?;
        let dir = state.config.data_dir.join("uploads");
        let file = holds::restage(state.snapshots.blobs().as_ref(), &record, &dir)?;
        let ids = match &mut *publishing.ids {
            Some(ids) => ids,
            slot => slot.insert(AppIds::load(&state.snapshots, &app)?),
        };
        let staged = stage_file(file.path(), format, &upload, ids, state.config.max_bitmap_bytes)?;
        let (_, decided) = holds::decided(record, HoldState::Approved, by.clone(), now_ms(), None);
        let ctx = Context {
            by: Some(by),
            cause: wire::VersionCause::Approve,
            gate: Gate::Approved,
            restored_from: None,
            records: vec![(holds::key(&id), decided)],
        };
        match publish_staged(&state, &app, ds, staged, ids, ctx)? {
            Published::Done(result) => {
                // The version is known only now; the decision itself was committed with it.
                let version = result.version;
                state.meta.access_update(&app, &holds::key(&id), move |cur| {
                    let mut r: holds::HoldRecord = serde_json::from_slice(&cur?).ok()?;
                    r.hold.version = Some(version);
                    serde_json::to_vec(&r).ok()
                })?;
                Ok(result)
            }
            Published::Held(_) => Err(ApiError::internal("an approved upload was held")),
        }
    };
    Ok(Json(blocking(work).await?))
}

/// `POST /api/v1/apps/{app}/holds/{id}/reject`: discards the held upload.
pub async fn reject(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((app, id)): ApiPath<(String, String)>,
) -> Result<Json<Hold>, ApiError> {
    auth.app(&state, &app, Access::Write)?;
    validate_id("id", &id)?;
    let by = auth.actor();
    let publishing = state.publishing(&app).await?;
    let hold = blocking(move || {
        let _lock = publishing;
        holds::reject(&state.meta, &app, &id, by, now_ms())
    })
    .await?;
    Ok(Json(hold))
}

/// `GET /api/v1/apps/{app}/days/{ds}/versions`.
pub async fn day_versions(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((app, ds)): ApiPath<(String, String)>,
) -> Result<Json<DayVersions>, ApiError> {
    auth.app(&state, &app, Access::Membership)?;
    parse_ds(&ds)?;
    let work = move || -> Result<DayVersions, ApiError> {
        let current = state.meta.day(&app, &ds)?.map_or(0, |r| r.version);
        let versions = versions::list(&state.meta, &app, &ds)?;
        if current == 0 && versions.is_empty() {
            return Err(ApiError::Missing(format!("day {ds} was never published")));
        }
        Ok(DayVersions { ds, current, versions })
    };
    Ok(Json(blocking(work).await?))
}

/// `POST /api/v1/apps/{app}/days/{ds}/groups/{group}/restore`: publishes the group as it was
/// in an earlier version of the day, as a new version (later days that carried it follow).
pub async fn restore(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((app, ds, group)): ApiPath<(String, String, String)>,
    JsonBody(body): JsonBody<RestoreRequest>,
) -> Result<Json<IngestResult>, ApiError> {
    auth.app(&state, &app, Access::Write)?;
    let day = parse_ds(&ds)?;
    validate_id("group", &group)?;
    let by = auth.actor();
    let mut publishing = state.publishing(&app).await?;
    let work = move || -> Result<IngestResult, ApiError> {
        let staged = versions::staged_from(&state.snapshots, &app, &ds, &group, body.version)?;
        let ids = match &mut *publishing.ids {
            Some(ids) => ids,
            slot => slot.insert(AppIds::load(&state.snapshots, &app)?),
        };
        let ctx = Context {
            by: Some(by),
            cause: wire::VersionCause::Restore,
            gate: Gate::Skip,
            restored_from: Some(body.version),
            records: Vec::new(),
        };
        match publish_staged(&state, &app, day, staged, ids, ctx)? {
            Published::Done(result) => Ok(result),
            Published::Held(_) => Err(ApiError::internal("a restore was held")),
        }
    };
    Ok(Json(blocking(work).await?))
}
