//! Apps and tokens, with the admin token: `POST /api/v1/apps`, `POST /api/v1/apps/{app}/tokens`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::auth::{Access, Auth, validate_id};
use crate::error::ApiError;
use crate::extract::{ApiPath, JsonBody};
use crate::state::AppState;
use crate::store::Role;

/// Longest app name, in characters.
pub const MAX_APP_NAME_CHARS: usize = 200;

/// Body of `POST /api/v1/apps`.
#[derive(Debug, Deserialize)]
pub struct NewApp {
    /// The app id (`[A-Za-z0-9._-]{1,64}`), used in every path of the app.
    pub id: String,
    /// Display name.
    pub name: String,
}

/// Answer of `POST /api/v1/apps`.
#[derive(Debug, Serialize)]
pub struct AppCreated {
    /// The app id.
    pub id: String,
    /// Display name.
    pub name: String,
}

/// Body of `POST /api/v1/apps/{app}/tokens`.
#[derive(Debug, Deserialize)]
pub struct NewToken {
    /// `viewer`, `editor` or `service`.
    pub role: Role,
}

/// Answer of `POST /api/v1/apps/{app}/tokens`: the secret, shown this once.
#[derive(Debug, Serialize)]
pub struct TokenCreated {
    /// The bearer token.
    pub token: String,
    /// The app it is scoped to.
    pub app: String,
    /// Its role.
    pub role: Role,
}

/// `POST /api/v1/apps` `{"id","name"}` → 201, or 409 when the id is taken. Admin only.
pub async fn create_app(
    State(state): State<AppState>,
    auth: Auth,
    JsonBody(body): JsonBody<NewApp>,
) -> Result<(StatusCode, Json<AppCreated>), ApiError> {
    auth.require_admin()?;
    validate_id("id", &body.id)?;
    let name = body.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > MAX_APP_NAME_CHARS {
        return Err(ApiError::invalid_field("name", format!("1 to {MAX_APP_NAME_CHARS} characters")));
    }
    let meta = state.meta.clone();
    let (id, stored_name) = (body.id.clone(), name.clone());
    let created =
        tokio::task::spawn_blocking(move || meta.create_app(&id, &stored_name)).await.map_err(ApiError::internal)??;
    if !created {
        return Err(ApiError::Conflict(format!("app `{}` exists", body.id)));
    }
    tracing::info!(app = %body.id, "app created");
    Ok((StatusCode::CREATED, Json(AppCreated { id: body.id, name })))
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
        tokio::task::spawn_blocking(move || meta.create_token(&app, role)).await.map_err(ApiError::internal)??
    };
    tracing::info!(%app, ?role, "token created");
    Ok((StatusCode::CREATED, Json(TokenCreated { token, app, role })))
}
