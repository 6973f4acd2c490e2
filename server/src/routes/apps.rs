//! Apps and tokens, with the admin token: `POST /api/v1/apps`, `POST /api/v1/apps/{app}/tokens`;
//! and `GET /api/v1/apps/{app}` with any token of the app.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use wire::{App, NewToken, TokenCreated};

use crate::auth::{Access, Auth, validate_id};
use crate::error::ApiError;
use crate::extract::{ApiPath, JsonBody};
use crate::routes::blocking;
use crate::state::AppState;

/// Longest app name, in characters.
pub const MAX_APP_NAME_CHARS: usize = 200;

/// `POST /api/v1/apps` `{"id","name","ids"}` → 201, or 409 when the id is taken. Admin only.
/// `ids` (`strings` when absent) is fixed from then on.
pub async fn create_app(
    State(state): State<AppState>,
    auth: Auth,
    JsonBody(body): JsonBody<App>,
) -> Result<(StatusCode, Json<App>), ApiError> {
    auth.require_admin()?;
    validate_id("id", &body.id)?;
    let name = body.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > MAX_APP_NAME_CHARS {
        return Err(ApiError::invalid_field("name", format!("1 to {MAX_APP_NAME_CHARS} characters")));
    }
    let meta = state.meta.clone();
    let (id, stored_name, ids) = (body.id.clone(), name.clone(), body.ids);
    let created = blocking(move || meta.create_app(&id, &stored_name, ids)).await?;
    if !created {
        return Err(ApiError::Conflict(format!("app `{}` exists", body.id)));
    }
    tracing::info!(app = %body.id, ids = ids.as_str(), "app created");
    Ok((StatusCode::CREATED, Json(App { id: body.id, name, ids })))
}

/// `GET /api/v1/apps/{app}` → `{"id","name","ids"}`: the admin token or any token of the app.
pub async fn get_app(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(app): ApiPath<String>,
) -> Result<Json<App>, ApiError> {
    let scope = auth.app(&state, &app, Access::Describe)?;
    let meta = state.meta.clone();
    let id = scope.app.clone();
    let record =
        blocking(move || meta.app(&id)).await?.ok_or_else(|| ApiError::Missing(format!("no app `{}`", scope.app)))?;
    Ok(Json(App { id: scope.app, name: record.name, ids: record.ids }))
}

/// `POST /api/v1/apps/{app}/tokens` `{"role"}` → 201 `{"token","app","role"}`. Admin only;
/// 404 when the app does not exist.
pub async fn create_token(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(app): ApiPath<String>,
    JsonBody(body): JsonBody<NewToken>,
) -> Result<(StatusCode, Json<TokenCreated>), ApiError> {
    auth.require_admin()?;
    let scope = auth.app(&state, &app, Access::Write)?;
    let meta = state.meta.clone();
    let app = scope.app;
    let role = body.role;
    let token = {
        let app = app.clone();
        blocking(move || meta.create_token(&app, role)).await?
    };
    tracing::info!(%app, ?role, "token created");
    Ok((StatusCode::CREATED, Json(TokenCreated { token, app, role })))
}
