//! An app's tokens (app admins and the server's admin token): `GET`/`POST …/tokens`,
//! `POST …/tokens/{id}/rotate`, `DELETE …/tokens/{id}`. Every change is audited.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use wire::{AuditAction, NewToken, Rotate, TokenCreated, TokenList};

use crate::audit::{self, Event};
use crate::auth::{Access, Auth, validate_id};
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::extract::{ApiPath, JsonBody};
use crate::routes::blocking;
use crate::state::AppState;
use crate::tokens::{self, DEFAULT_GRACE_SECS, MAX_GRACE_SECS, MAX_NAME_CHARS};

/// `GET /api/v1/apps/{app}/tokens` → the live tokens, oldest first (never a secret).
pub async fn list(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(app): ApiPath<String>,
) -> Result<Json<TokenList>, ApiError> {
    let scope = auth.app(&state, &app, Access::Manage)?;
    let st = state.clone();
    let tokens = blocking(move || tokens::list(&st.meta, &scope.app, &st.last_use, now_ms())).await?;
    Ok(Json(TokenList { tokens }))
}

/// `POST /api/v1/apps/{app}/tokens` `{"role", "name"?, "expires_ms"?}` → 201 with the secret,
/// shown this once, and the token's `id`.
pub async fn create(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(app): ApiPath<String>,
    JsonBody(body): JsonBody<NewToken>,
) -> Result<(StatusCode, Json<TokenCreated>), ApiError> {
    let scope = auth.app(&state, &app, Access::Manage)?;
    let now = now_ms();
    let name = body.name.as_deref().map_or_else(|| format!("{} token", body.role.as_str()), |n| n.trim().to_owned());
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(ApiError::invalid_field(
            "name",
            format!("1 to {MAX_NAME_CHARS} characters, no control characters"),
        ));
    }
    if body.expires_ms.is_some_and(|e| e <= now) {
        return Err(ApiError::invalid_field("expires_ms", "must be in the future"));
    }
    let (meta, app, actor) = (state.meta.clone(), scope.app, auth.actor());
    let new = tokens::NewToken { name, role: body.role, expires_ms: body.expires_ms, creator: actor.clone() };
    let answer = blocking(move || -> Result<TokenCreated, ApiError> {
        let (id, secret, record) = tokens::create(&meta, &app, new, now)?;
        let event = Event::new(AuditAction::CreateToken, id.clone()).detail(format!(
            "role {}, name `{}`",
            record.role.as_str(),
            record.name
        ));
        audit::record(&meta, &app, &actor, event, now)?;
        Ok(TokenCreated { token: secret, app, info: record.view(&id, None, now) })
    })
    .await?;
    tracing::info!(app = %answer.app, token = %answer.info.id, role = answer.info.role.as_str(), "token created");
    Ok((StatusCode::CREATED, Json(answer)))
}

/// `POST /api/v1/apps/{app}/tokens/{id}/rotate` `{"grace_secs"?}` → the new secret, shown this
/// once; the old one works for the grace period (an hour by default, 0 ends it now).
pub async fn rotate(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((app, id)): ApiPath<(String, String)>,
    JsonBody(body): JsonBody<Rotate>,
) -> Result<Json<TokenCreated>, ApiError> {
    let scope = auth.app(&state, &app, Access::Manage)?;
    validate_id("id", &id)?;
    let grace = body.grace_secs.unwrap_or(DEFAULT_GRACE_SECS);
    if grace > MAX_GRACE_SECS {
        return Err(ApiError::invalid_field("grace_secs", format!("0 to {MAX_GRACE_SECS}")));
    }
    let now = now_ms();
    let (st, app, actor) = (state.clone(), scope.app, auth.actor());
    let answer = blocking(move || -> Result<TokenCreated, ApiError> {
        let (secret, record) = tokens::rotate(&st.meta, &app, &id, grace * 1000, now)?;
        let event = Event::new(AuditAction::RotateToken, id.clone()).detail(format!("old secret valid {grace} s more"));
        audit::record(&st.meta, &app, &actor, event, now)?;
        let view = record.view(&id, st.last_use.get(&app, &id), now);
        Ok(TokenCreated { token: secret, app, info: view })
    })
    .await?;
    Ok(Json(answer))
}

/// `DELETE /api/v1/apps/{app}/tokens/{id}` → 204: every secret of the token is refused from
/// the next request on.
pub async fn revoke(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((app, id)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let scope = auth.app(&state, &app, Access::Manage)?;
    validate_id("id", &id)?;
    let (meta, app, actor) = (state.meta.clone(), scope.app, auth.actor());
    blocking(move || -> Result<(), ApiError> {
        let record = tokens::revoke(&meta, &app, &id)?;
        let event = Event::new(AuditAction::RevokeToken, id.clone()).detail(format!(
            "role {}, name `{}`",
            record.role.as_str(),
            record.name
        ));
        audit::record(&meta, &app, &actor, event, now_ms())?;
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
