//! Apps and their settings: `POST /api/v1/apps` (the server's admin token), `GET
//! /api/v1/apps/{app}` (any token of the app), `PATCH /api/v1/apps/{app}` (app admins).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use wire::{App, AppPatch, AuditAction};

use crate::audit::{self, Event};
use crate::auth::{Access, Auth, validate_id};
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::extract::{ApiPath, JsonBody};
use crate::privacy;
use crate::routes::blocking;
use crate::state::AppState;

/// Longest app name, in characters.
pub const MAX_APP_NAME_CHARS: usize = 200;

fn checked_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim().to_owned();
    if name.is_empty() || name.chars().count() > MAX_APP_NAME_CHARS {
        return Err(ApiError::invalid_field("name", format!("1 to {MAX_APP_NAME_CHARS} characters")));
    }
    Ok(name)
}

/// `POST /api/v1/apps` `{"id","name","ids"}` → 201, or 409 when the id is taken. Admin only.
/// `ids` (`strings` when absent) is fixed from then on.
pub async fn create_app(
    State(state): State<AppState>,
    auth: Auth,
    JsonBody(body): JsonBody<App>,
) -> Result<(StatusCode, Json<App>), ApiError> {
    auth.require_admin()?;
    validate_id("id", &body.id)?;
    let name = checked_name(&body.name)?;
    let meta = state.meta.clone();
    let (id, stored_name, ids) = (body.id.clone(), name.clone(), body.ids);
    let created = blocking(move || meta.create_app(&id, &stored_name, ids)).await?;
    if !created {
        return Err(ApiError::Conflict(format!("app `{}` exists", body.id)));
    }
    tracing::info!(app = %body.id, ids = ids.as_str(), "app created");
    Ok((StatusCode::CREATED, Json(App { id: body.id, name, ids, settings: None, role: None })))
}

/// The app as `GET` answers it, for the caller.
async fn view(state: &AppState, app: String, auth: &Auth) -> Result<App, ApiError> {
    let meta = state.meta.clone();
    let id = app.clone();
    let (record, settings) = blocking(move || -> Result<_, ApiError> {
        let record = meta.app(&id)?.ok_or_else(|| ApiError::Missing(format!("no app `{id}`")))?;
        Ok((record, privacy::settings(&meta, &id)?))
    })
    .await?;
    Ok(App { id: app, name: record.name, ids: record.ids, settings: Some(settings.view()), role: auth.role() })
}

/// `GET /api/v1/apps/{app}` → `{"id","name","ids","settings","role"}`: the server's admin
/// token or any token of the app (`role` is the caller's).
pub async fn get_app(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(app): ApiPath<String>,
) -> Result<Json<App>, ApiError> {
    let scope = auth.app(&state, &app, Access::Describe)?;
    Ok(Json(view(&state, scope.app, &auth).await?))
}

/// `PATCH /api/v1/apps/{app}` `{"min_audience"?, "epsilon"?, "daily_budget"?}` → the
/// app. App admins; audited.
pub async fn patch_app(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(app): ApiPath<String>,
    JsonBody(patch): JsonBody<AppPatch>,
) -> Result<Json<App>, ApiError> {
    let scope = auth.app(&state, &app, Access::Manage)?;
    if let Some(e) = patch.epsilon
        && !e.is_finite()
    {
        return Err(ApiError::invalid_field("epsilon", "a number"));
    }
    let (meta, id, actor) = (state.meta.clone(), scope.app.clone(), auth.actor());
    blocking(move || -> Result<(), ApiError> {
        let (before, after) = privacy::change(&meta, &id, patch.min_audience, patch.epsilon, patch.daily_budget)?;
        let mut changes = Vec::new();
        if before.min_audience != after.min_audience {
            changes.push(format!("min_audience {} → {}", before.min_audience, after.min_audience));
        }
        if before.epsilon != after.epsilon {
            changes.push(format!("epsilon {} → {}", before.epsilon, after.epsilon));
        }
        if before.daily_budget != after.daily_budget {
            changes.push(format!("daily_budget {} → {}", before.daily_budget, after.daily_budget));
        }
        if !changes.is_empty() {
            let event = Event::new(AuditAction::ChangeSettings, None).detail(changes.join("; "));
            audit::record(&meta, &id, &actor, event, now_ms())?;
        }
        Ok(())
    })
    .await?;
    Ok(Json(view(&state, scope.app, &auth).await?))
}
