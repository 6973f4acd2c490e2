//! The audit log (app admins): `GET …/audit` (JSON pages, or the whole log as CSV) and
//! `GET …/audit/lookups` (membership lookups per day and token).

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use wire::{AuditPage, LookupCounts};

use crate::audit::{self, CSV_HEADER, Lookups, MAX_PAGE};
use crate::auth::{Access, Auth};
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery};
use crate::routes::blocking;
use crate::state::AppState;

/// Query of `GET …/audit`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// An entry id: the page starts after it.
    pub after: Option<String>,
    /// Entries per page (1 to 1000; 100 by default).
    pub limit: Option<usize>,
    /// `json` (default) or `csv` (the whole log from `after` on).
    pub format: Option<String>,
}

/// `GET /api/v1/apps/{app}/audit?after=&limit=&format=`.
pub async fn log(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(app): ApiPath<String>,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Response, ApiError> {
    let scope = auth.app(&state, &app, Access::Manage)?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::invalid_field("limit", format!("1 to {MAX_PAGE}")));
    }
    if q.after.as_deref().is_some_and(|a| a.len() > 64 || !a.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')) {
        return Err(ApiError::invalid_field("after", "an entry id"));
    }
    let meta = state.meta.clone();
    match q.format.as_deref().unwrap_or("json") {
        "json" => {
            let (entries, more) = blocking(move || audit::page(&meta, &scope.app, q.after.as_deref(), limit)).await?;
            let next = if more { entries.last().map(|e| e.id.clone()) } else { None };
            Ok(Json(AuditPage { entries, next }).into_response())
        }
        "csv" => {
            // Page by page, so a long log never sits in memory at once.
            let csv = blocking(move || -> Result<String, ApiError> {
                let mut out = String::from(CSV_HEADER);
                let mut after = q.after;
                loop {
                    let (entries, more) = audit::page(&meta, &scope.app, after.as_deref(), MAX_PAGE)?;
                    out.extend(entries.iter().map(audit::csv_line));
                    after = entries.last().map(|e| e.id.clone());
                    if !more {
                        return Ok(out);
                    }
                }
            })
            .await?;
            let mut res = Response::new(Body::from(csv));
            res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
            res.headers_mut()
                .insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"audit.csv\""));
            Ok(res)
        }
        _ => Err(ApiError::invalid_field("format", "json or csv")),
    }
}

/// `GET /api/v1/apps/{app}/audit/lookups` → membership lookups per day and token.
pub async fn lookups(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(app): ApiPath<String>,
) -> Result<Json<LookupCounts>, ApiError> {
    let scope = auth.app(&state, &app, Access::Manage)?;
    let st = state.clone();
    let days = blocking(move || -> Result<_, ApiError> {
        // This process's unwritten counts first, so the answer includes them.
        st.lookups.flush(&st.meta)?;
        Ok(Lookups::stored(&st.meta, &scope.app)?)
    })
    .await?;
    Ok(Json(LookupCounts { days }))
}
