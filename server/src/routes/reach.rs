//! Reach (issue 17), HTTP over [`crate::reach`]: destinations (`…/destinations`,
//! `…/destinations/{id}`) and a segment's syncs (`…/segments/{id}/syncs`, `…/syncs/{sync}`,
//! its `pause`, `resume`, `resend` and `deliveries`).
//!
//! Editors (and admins) create and change; viewers and services read; `aggregate` tokens get
//! nothing here (a delivery log reveals who was sent, a destination where ids go). A URL's
//! addresses are checked here, on the async side (the resolver), before anything is stored.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use wire::{
    AuditAction, DeliveryList, Destination, DestinationInput, DestinationList, DestinationPatch, SegmentSync,
    SyncInput, SyncList,
};

use crate::audit::{self, Event};
use crate::auth::{Access, Auth, validate_id};
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery, JsonBody};
use crate::reach::destinations::{self, Target};
use crate::reach::syncs::{self, SyncRecord};
use crate::reach::{ReachError, address, deliver};
use crate::routes::blocking;
use crate::state::AppState;

/// Refuses a target whose addresses destinations may not reach (see [`address`]).
async fn check_target(state: &AppState, target: &Target) -> Result<(), ApiError> {
    if let Target::Http { host, port } = target {
        address::check_host(host, *port, state.config.allow_private_destinations)
            .await
            .map_err(|e| ApiError::invalid_field("url", e.to_string()))?;
    }
    Ok(())
}

/// `POST /api/v1/apps/{app}/destinations`.
pub async fn create_destination(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(app): ApiPath<String>,
    JsonBody(body): JsonBody<DestinationInput>,
) -> Result<Response, ApiError> {
    auth.app(&state, &app, Access::Write)?;
    let (record, target) = destinations::validate(body, now_ms())?;
    check_target(&state, &target).await?;
    let view = record.view();
    blocking(move || destinations::create(&state.meta, &app, &record)).await?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// `GET /api/v1/apps/{app}/destinations`.
pub async fn list_destinations(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(app): ApiPath<String>,
) -> Result<Json<DestinationList>, ApiError> {
    auth.app(&state, &app, Access::Membership)?;
    let list = blocking(move || destinations::list(&state.meta, &app)).await?;
    Ok(Json(DestinationList { destinations: list.iter().map(|d| d.view()).collect() }))
}

/// `GET /api/v1/apps/{app}/destinations/{id}`.
pub async fn get_destination(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((app, id)): ApiPath<(String, String)>,
) -> Result<Json<Destination>, ApiError> {
    auth.app(&state, &app, Access::Membership)?;
    validate_id("id", &id)?;
    let record = blocking(move || destinations::get(&state.meta, &app, &id)).await?;
    Ok(Json(record.view()))
}

/// `PATCH /api/v1/apps/{app}/destinations/{id}`.
pub async fn patch_destination(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((app, id)): ApiPath<(String, String)>,
    JsonBody(patch): JsonBody<DestinationPatch>,
) -> Result<Json<Destination>, ApiError> {
    auth.app(&state, &app, Access::Write)?;
    validate_id("id", &id)?;
    let (st, a) = (state.clone(), app.clone());
    let current = blocking(move || destinations::get(&st.meta, &a, &id)).await?;
    let (record, target) = destinations::validate_patch(current, patch, now_ms())?;
    if let Some(target) = &target {
        check_target(&state, target).await?;
    }
    let view = record.view();
    blocking(move || destinations::put(&state.meta, &app, &record)).await?;
    Ok(Json(view))
}

/// `DELETE /api/v1/apps/{app}/destinations/{id}`: refused (409) while a sync sends to it.
pub async fn delete_destination(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((app, id)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    auth.app(&state, &app, Access::Write)?;
    validate_id("id", &id)?;
    blocking(move || -> Result<(), ReachError> {
        let mut record = destinations::get(&state.meta, &app, &id)?;
        if let Some(s) = syncs::list(&state.meta, &app)?.iter().find(|s| s.destination == id) {
            return Err(ReachError::Conflict(format!("sync `{}` sends to `{id}`; delete it first", s.id)));
        }
        record.deleted = true;
        record.secret = None;
        record.updated_ms = now_ms();
        destinations::put(&state.meta, &app, &record)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/apps/{app}/segments/{id}/syncs`: a full delivery now, then every new day's
/// change.
pub async fn start_sync(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((app, segment)): ApiPath<(String, String)>,
    JsonBody(body): JsonBody<SyncInput>,
) -> Result<Response, ApiError> {
    auth.app(&state, &app, Access::Write)?;
    validate_id("segment", &segment)?;
    validate_id("destination", &body.destination)?;
    let id = body.id.clone().unwrap_or_else(|| format!("{segment}.{}", body.destination));
    validate_id("id", &id)?;
    let prefix = body.reached_prefix.clone().unwrap_or_else(|| "reached".to_owned());
    validate_id("reached_prefix", &prefix)?;
    // Checked now, not when the first delivery completes and its reached segment is made.
    if engine::id::check_id(&format!("{prefix}.{id}.2026-01-01")).is_err() {
        return Err(ApiError::invalid_field(
            "id",
            format!(
                "reached users are saved as the segment `{prefix}.{id}.<ds>`, longer than an id may be; choose a shorter sync id or reached_prefix"
            ),
        ));
    }
    let (st, a, actor) = (state.clone(), app.clone(), auth.actor());
    let record = blocking(move || -> Result<SyncRecord, ApiError> {
        let live = crate::segments::load(&st.meta, &a, &segment)?.is_some_and(|(_, r)| r.live().is_some());
        if !live {
            return Err(ApiError::Missing(format!("no segment `{segment}`")));
        }
        destinations::get(&st.meta, &a, &body.destination)?;
        let record = SyncRecord::new(&id, &segment, &body.destination, &prefix, now_ms());
        syncs::create(&st.meta, &a, &record)?;
        let event = Event::new(AuditAction::StartSync, id).detail(format!("segment {segment} to {}", body.destination));
        audit::record(&st.meta, &a, &actor, event, now_ms())?;
        Ok(record)
    })
    .await?;
    state.reach.wake.notify_one();
    Ok((StatusCode::CREATED, Json(record.view())).into_response())
}

/// `GET /api/v1/apps/{app}/segments/{id}/syncs`.
pub async fn list_syncs(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((app, segment)): ApiPath<(String, String)>,
) -> Result<Json<SyncList>, ApiError> {
    auth.app(&state, &app, Access::Membership)?;
    validate_id("segment", &segment)?;
    let list = blocking(move || syncs::list(&state.meta, &app)).await?;
    Ok(Json(SyncList { syncs: list.iter().filter(|s| s.segment == segment).map(SyncRecord::view).collect() }))
}

/// The sync `id` of `segment`, or 404.
fn sync_of(state: &AppState, app: &str, segment: &str, id: &str) -> Result<SyncRecord, ReachError> {
    let sync = syncs::get(&state.meta, app, id)?;
    if sync.segment != segment {
        return Err(ReachError::NotFound(format!("no sync `{id}` of segment `{segment}`")));
    }
    Ok(sync)
}

/// `GET /api/v1/apps/{app}/segments/{id}/syncs/{sync}`.
pub async fn get_sync(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((app, segment, id)): ApiPath<(String, String, String)>,
) -> Result<Json<SegmentSync>, ApiError> {
    auth.app(&state, &app, Access::Membership)?;
    validate_id("segment", &segment)?;
    validate_id("sync", &id)?;
    let record = blocking(move || sync_of(&state, &app, &segment, &id)).await?;
    Ok(Json(record.view()))
}

/// What a sync action does.
#[derive(Debug, Clone, Copy)]
enum Action {
    Pause,
    Resume,
    Resend,
}

async fn act(
    state: AppState,
    auth: Auth,
    (app, segment, id): (String, String, String),
    action: Action,
) -> Result<Json<SegmentSync>, ApiError> {
    auth.app(&state, &app, Access::Write)?;
    validate_id("segment", &segment)?;
    validate_id("sync", &id)?;
    let (st, actor) = (state.clone(), auth.actor());
    let record = blocking(move || -> Result<SyncRecord, ApiError> {
        sync_of(&st, &app, &segment, &id)?;
        let now = now_ms();
        let stored = syncs::update(&st.meta, &app, &id, |mut s| {
            match action {
                Action::Pause => s.pause(now),
                Action::Resume => s.resume(now),
                Action::Resend => s.resend(now),
            }
            Some(s)
        })?;
        if let Action::Resend = action {
            audit::record(&st.meta, &app, &actor, Event::new(AuditAction::ResendSync, id.clone()), now)?;
        }
        stored.ok_or_else(|| ApiError::Missing(format!("no sync `{id}`")))
    })
    .await?;
    state.reach.wake.notify_one();
    Ok(Json(record.view()))
}

/// `POST /api/v1/apps/{app}/segments/{id}/syncs/{sync}/pause`.
pub async fn pause(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(path): ApiPath<(String, String, String)>,
) -> Result<Json<SegmentSync>, ApiError> {
    act(state, auth, path, Action::Pause).await
}

/// `POST /api/v1/apps/{app}/segments/{id}/syncs/{sync}/resume`.
pub async fn resume(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(path): ApiPath<(String, String, String)>,
) -> Result<Json<SegmentSync>, ApiError> {
    act(state, auth, path, Action::Resume).await
}

/// `POST /api/v1/apps/{app}/segments/{id}/syncs/{sync}/resend`.
pub async fn resend(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(path): ApiPath<(String, String, String)>,
) -> Result<Json<SegmentSync>, ApiError> {
    act(state, auth, path, Action::Resend).await
}

/// `DELETE /api/v1/apps/{app}/segments/{id}/syncs/{sync}`: nothing more is sent (a batch in
/// flight finishes); the reached segments stay.
pub async fn delete_sync(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((app, segment, id)): ApiPath<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    auth.app(&state, &app, Access::Write)?;
    validate_id("segment", &segment)?;
    validate_id("sync", &id)?;
    blocking(move || -> Result<(), ReachError> {
        sync_of(&state, &app, &segment, &id)?;
        syncs::update(&state.meta, &app, &id, |mut s| {
            s.deleted = true;
            s.lease = None;
            s.updated_ms = now_ms();
            Some(s)
        })?;
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Query of `GET …/deliveries`.
#[derive(Debug, Deserialize)]
pub struct DeliveriesQuery {
    /// Most batches answered (default and maximum 10,000).
    limit: Option<usize>,
    /// Batches after this `delivery_id` (the last of the previous page).
    after: Option<String>,
}

/// `GET /api/v1/apps/{app}/segments/{id}/syncs/{sync}/deliveries`: the log, oldest first.
pub async fn deliveries(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((app, segment, id)): ApiPath<(String, String, String)>,
    ApiQuery(q): ApiQuery<DeliveriesQuery>,
) -> Result<Json<DeliveryList>, ApiError> {
    auth.app(&state, &app, Access::Membership)?;
    validate_id("segment", &segment)?;
    validate_id("sync", &id)?;
    let limit = match q.limit {
        Some(n) if (1..=10_000).contains(&n) => n,
        Some(_) => return Err(ApiError::invalid_field("limit", "1 to 10000")),
        None => 10_000,
    };
    let (deliveries, more) = blocking(move || -> Result<_, ReachError> {
        sync_of(&state, &app, &segment, &id)?;
        deliver::log(&state.meta, &app, &id, q.after.as_deref(), limit)
    })
    .await?;
    Ok(Json(DeliveryList { deliveries, more }))
}
