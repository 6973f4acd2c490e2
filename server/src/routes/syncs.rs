//! Syncs over HTTP (issue 17), on [`crate::reach::syncs`]: an audience sent to a destination,
//! day by day (`keep`) or once.
//!
//! | routes | audience |
//! |---|---|
//! | `…/segments/{id}/syncs[/{sync}[/pause\|resume\|resend\|deliveries]]` | a segment (dynamic or static) |
//! | `…/experiments/{id}/groups/{group}/syncs` (start, list) | an experiment's frozen group |
//! | `…/syncs[/{sync}[/pause\|resume\|resend\|deliveries]]` | any: the app's syncs, whatever they send |
//!
//! One handler serves a segment's route and the app-level one: the path's `id` is the segment
//! when present, and a sync is only answered under the segment it sends (404 otherwise).
//! Editors (and admins) start and change; viewers and services read; `aggregate` tokens get
//! nothing (a delivery log reveals who was sent).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use wire::{AuditAction, DeliveryList, SegmentSync, SyncInput, SyncList};

use crate::audit::{self, Event};
use crate::auth::{Access, Auth, validate_id};
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery, JsonBody};
use crate::reach::destinations;
use crate::reach::syncs::{self, SyncRecord};
use crate::reach::{ReachError, deliver};
use crate::routes::blocking;
use crate::state::AppState;

/// The path of a start or list: a segment (`id`), or an experiment (`id`) and its `group`.
#[derive(Debug, Deserialize)]
pub struct AudiencePath {
    app: String,
    id: String,
    #[serde(default)]
    group: Option<String>,
}

impl AudiencePath {
    /// The audience's key, as syncs store it (see [`SyncRecord::segment`]), after checking the
    /// path's ids.
    fn key(&self) -> Result<String, ApiError> {
        match &self.group {
            None => {
                validate_id("segment", &self.id)?;
                Ok(self.id.clone())
            }
            Some(group) => {
                validate_id("experiment", &self.id)?;
                validate_id("group", group)?;
                Ok(format!("{}/{group}", self.id))
            }
        }
    }
}

/// The path of one sync: under its segment (`id`), or the app's (no `id`).
#[derive(Debug, Deserialize)]
pub struct SyncPath {
    app: String,
    #[serde(default)]
    id: Option<String>,
    sync: String,
}

impl SyncPath {
    fn check(&self) -> Result<(), ApiError> {
        if let Some(segment) = &self.id {
            validate_id("segment", segment)?;
        }
        validate_id("sync", &self.sync)
    }
}

/// The sync `p.sync`, or 404 (also when the path names another segment than it sends).
fn sync_at(state: &AppState, p: &SyncPath) -> Result<SyncRecord, ReachError> {
    let sync = syncs::get(&state.meta, &p.app, &p.sync)?;
    match &p.id {
        Some(segment) if sync.group.is_some() || &sync.segment != segment => {
            Err(ReachError::NotFound(format!("no sync `{}` of segment `{segment}`", p.sync)))
        }
        _ => Ok(sync),
    }
}

/// `POST …/segments/{id}/syncs`, `POST …/experiments/{id}/groups/{group}/syncs`: a full
/// delivery now, then every new day's change (`keep`), or nothing more (`once`).
pub async fn start(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(path): ApiPath<AudiencePath>,
    JsonBody(body): JsonBody<SyncInput>,
) -> Result<Response, ApiError> {
    auth.app(&state, &path.app, Access::Write)?;
    path.key()?;
    validate_id("destination", &body.destination)?;
    let default_id = match &path.group {
        None => format!("{}.{}", path.id, body.destination),
        Some(group) => format!("{}.{group}.{}", path.id, body.destination),
    };
    let id = body.id.clone().unwrap_or(default_id);
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
    let (st, actor, app) = (state.clone(), auth.actor(), path.app.clone());
    let record = blocking(move || -> Result<SyncRecord, ApiError> {
        let mut record = SyncRecord::new(&id, &path.id, &body.destination, &prefix, now_ms());
        record.mode = body.mode.unwrap_or_default();
        let what = match &path.group {
            None => {
                let live = crate::segments::load(&st.meta, &app, &path.id)?.is_some_and(|(_, r)| r.live().is_some());
                if !live {
                    return Err(ApiError::Missing(format!("no segment `{}`", path.id)));
                }
                format!("segment {}", path.id)
            }
            Some(group) => {
                // 404 for an unknown experiment or group, before anything is stored.
                crate::experiments::record::group_members(&st.snapshots, &app, &path.id, group)?;
                record = record.of_group(&path.id, group);
                format!("experiment group {}/{group}", path.id)
            }
        };
        destinations::get(&st.meta, &app, &body.destination)?;
        syncs::create(&st.meta, &app, &record)?;
        let event = Event::new(AuditAction::StartSync, id).detail(format!("{what} to {}", body.destination));
        audit::record(&st.meta, &app, &actor, event, now_ms())?;
        Ok(record)
    })
    .await?;
    state.reach.wake.notify_one();
    Ok((StatusCode::CREATED, Json(record.view())).into_response())
}

/// `GET …/segments/{id}/syncs`, `GET …/experiments/{id}/groups/{group}/syncs`.
pub async fn list(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(path): ApiPath<AudiencePath>,
) -> Result<Json<SyncList>, ApiError> {
    auth.app(&state, &path.app, Access::Membership)?;
    let key = path.key()?;
    let list = blocking(move || syncs::list(&state.meta, &path.app)).await?;
    Ok(Json(SyncList { syncs: list.iter().filter(|s| s.segment == key).map(SyncRecord::view).collect() }))
}

/// `GET …/syncs`: every sync of the app (segments and experiment groups).
pub async fn list_app(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(app): ApiPath<String>,
) -> Result<Json<SyncList>, ApiError> {
    auth.app(&state, &app, Access::Membership)?;
    let list = blocking(move || syncs::list(&state.meta, &app)).await?;
    Ok(Json(SyncList { syncs: list.iter().map(SyncRecord::view).collect() }))
}

/// `GET …/syncs/{sync}` (under a segment or the app).
pub async fn get(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(path): ApiPath<SyncPath>,
) -> Result<Json<SegmentSync>, ApiError> {
    auth.app(&state, &path.app, Access::Membership)?;
    path.check()?;
    let record = blocking(move || sync_at(&state, &path)).await?;
    Ok(Json(record.view()))
}

/// What a sync action does.
#[derive(Debug, Clone, Copy)]
enum Action {
    Pause,
    Resume,
    Resend,
}

async fn act(state: AppState, auth: Auth, path: SyncPath, action: Action) -> Result<Json<SegmentSync>, ApiError> {
    auth.app(&state, &path.app, Access::Write)?;
    path.check()?;
    let (st, actor) = (state.clone(), auth.actor());
    let record = blocking(move || -> Result<SyncRecord, ApiError> {
        sync_at(&st, &path)?;
        let (app, id, now) = (&path.app, &path.sync, now_ms());
        let stored = syncs::update(&st.meta, app, id, |mut s| {
            match action {
                Action::Pause => s.pause(now),
                Action::Resume => s.resume(now),
                Action::Resend => s.resend(now),
            }
            Some(s)
        })?;
        if let Action::Resend = action {
            audit::record(&st.meta, app, &actor, Event::new(AuditAction::ResendSync, id.clone()), now)?;
        }
        stored.ok_or_else(|| ApiError::Missing(format!("no sync `{id}`")))
    })
    .await?;
    state.reach.wake.notify_one();
    Ok(Json(record.view()))
}

/// `POST …/syncs/{sync}/pause`.
pub async fn pause(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(path): ApiPath<SyncPath>,
) -> Result<Json<SegmentSync>, ApiError> {
    act(state, auth, path, Action::Pause).await
}

/// `POST …/syncs/{sync}/resume`.
pub async fn resume(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(path): ApiPath<SyncPath>,
) -> Result<Json<SegmentSync>, ApiError> {
    act(state, auth, path, Action::Resume).await
}

/// `POST …/syncs/{sync}/resend`.
pub async fn resend(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(path): ApiPath<SyncPath>,
) -> Result<Json<SegmentSync>, ApiError> {
    act(state, auth, path, Action::Resend).await
}

/// `DELETE …/syncs/{sync}`: nothing more is sent (a batch in flight finishes); the reached
/// segments stay.
pub async fn delete(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(path): ApiPath<SyncPath>,
) -> Result<StatusCode, ApiError> {
    auth.app(&state, &path.app, Access::Write)?;
    path.check()?;
    blocking(move || -> Result<(), ReachError> {
        sync_at(&state, &path)?;
        syncs::update(&state.meta, &path.app, &path.sync, |mut s| {
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

/// `GET …/syncs/{sync}/deliveries`: the log, oldest first.
pub async fn deliveries(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(path): ApiPath<SyncPath>,
    ApiQuery(q): ApiQuery<DeliveriesQuery>,
) -> Result<Json<DeliveryList>, ApiError> {
    auth.app(&state, &path.app, Access::Membership)?;
    path.check()?;
    let limit = match q.limit {
        Some(n) if (1..=10_000).contains(&n) => n,
        Some(_) => return Err(ApiError::invalid_field("limit", "1 to 10000")),
        None => 10_000,
    };
    let (deliveries, more) = blocking(move || -> Result<_, ReachError> {
        sync_at(&state, &path)?;
        deliver::log(&state.meta, &path.app, &path.sync, q.after.as_deref(), limit)
    })
    .await?;
    Ok(Json(DeliveryList { deliveries, more }))
}
