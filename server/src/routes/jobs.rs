//! `GET /api/v1/apps/{app}/jobs` and `GET /api/v1/apps/{app}/jobs/{kind}`: the app's durable
//! background jobs ([`crate::jobs`]) as stored: state, days pending, progress, the last failure
//! and when it is retried, and the segments that could not be computed on a day.

use axum::Json;
use axum::extract::State;

use crate::auth::{Access, Auth};
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::jobs::{Job, JobKind};
use crate::routes::blocking;
use crate::state::AppState;

/// `GET /api/v1/apps/{app}/jobs` → `[{"app", "kind": "segments", "state", "pending", …}]`.
pub async fn list(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(app): ApiPath<String>,
) -> Result<Json<Vec<Job>>, ApiError> {
    auth.app(&state, &app, Access::SegmentRead)?;
    let st = state.clone();
    let jobs = blocking(move || crate::jobs::worker::list(&st, &app)).await?;
    Ok(Json(jobs))
}

/// `GET /api/v1/apps/{app}/jobs/{kind}` → one job (404 when it never ran).
pub async fn get(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((app, kind)): ApiPath<(String, String)>,
) -> Result<Json<Job>, ApiError> {
    auth.app(&state, &app, Access::SegmentRead)?;
    let kind = JobKind::parse(&kind).ok_or_else(|| {
        let known: Vec<&str> = JobKind::ALL.iter().map(|k| k.as_str()).collect();
        ApiError::invalid_field("kind", format!("unknown job kind; known: {}", known.join(", ")))
    })?;
    let meta = state.meta.clone();
    let job = blocking(move || meta.job_get(&app, kind)).await?;
    job.map(Json).ok_or_else(|| ApiError::Missing(format!("no {} job has run in this app", kind.as_str())))
}
