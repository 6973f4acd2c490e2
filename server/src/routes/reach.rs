//! Reach (issue 17), HTTP over [`crate::reach`]: destinations (`…/destinations`,
//! `…/destinations/{id}`); the syncs that send to them are [`super::syncs`].
//!
//! Editors (and admins) create and change; viewers and services read; `aggregate` tokens get
//! nothing here (a delivery log reveals who was sent, a destination where ids go). A URL's
//! addresses are checked here, on the async side (the resolver), before anything is stored.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use wire::{Destination, DestinationInput, DestinationList, DestinationPatch};

use crate::auth::{Access, Auth, validate_id};
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::extract::{ApiPath, JsonBody};
use crate::reach::destinations::{self, Target};
use crate::reach::syncs;
use crate::reach::{ReachError, address};
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
