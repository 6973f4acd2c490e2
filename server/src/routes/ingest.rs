//! Uploads: `PUT /api/v1/apps/{app}/days/{ds}/tags/{group}` (one tag group, vertical table)
//! and `PUT /api/v1/apps/{app}/days/{ds}/events/{event}` (one event's counts for the day).
//!
//! The body is streamed to disk with a size limit, parsed and mapped to dense ids without
//! writing anything, then published in one atomic step. A bad file is a 400 that names the
//! line, and changes nothing.

use std::io::BufReader;

use crate::extract::{ApiPath, ApiQuery};
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use engine::TagKind;
use serde::{Deserialize, Serialize};

use crate::auth::validate_id;
use crate::auth::{Access, Auth};
use crate::ds::Ds;
use crate::error::ApiError;
use crate::ingest::spool::spool;
use crate::ingest::{AppDict, MAX_SCALE, StagedData, Upload, stage};
use crate::publish::segment_specs;
use crate::routes::ids::parse_ds;
use crate::state::AppState;

/// Query of a tag upload.
#[derive(Debug, Deserialize)]
pub struct TagQuery {
    /// `categorical` (default), `boolean` or `numeric`.
    kind: Option<String>,
    /// Category path, e.g. `demographics/location`.
    category: Option<String>,
    /// Decimal places kept by a numeric group (default 0, at most 6).
    scale: Option<u32>,
}

/// What an upload did.
#[derive(Debug, Serialize)]
pub struct IngestResponse {
    /// The day.
    pub ds: String,
    /// The tag group or event.
    pub name: String,
    /// Data rows read.
    pub rows: u64,
    /// Distinct users in the file.
    pub users: u64,
    /// Distinct values (tag groups; 0 for numeric groups and events).
    pub values: u64,
    /// Users seen for the first time.
    pub new_ids: u64,
    /// The day's version after the upload.
    pub version: u64,
    /// False when the upload was identical to what was published.
    pub changed: bool,
    /// Later days that carried the group forward and were updated too.
    pub days_updated: Vec<String>,
    /// Address of the day's manifest.
    pub manifest: String,
}

/// `PUT /api/v1/apps/{app}/days/{ds}/tags/{group}`.
pub async fn put_tag(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((app, ds, group)): ApiPath<(String, String, String)>,
    ApiQuery(q): ApiQuery<TagQuery>,
    body: Body,
) -> Result<Json<IngestResponse>, ApiError> {
    auth.app(&state, &app, Access::Write)?;
    let ds = parse_ds(&ds)?;
    validate_id("group", &group)?;
    let kind = match q.kind.as_deref().unwrap_or("categorical") {
        "categorical" => TagKind::Categorical,
        "boolean" => TagKind::Boolean,
        "numeric" => TagKind::Numeric,
        other => {
            return Err(ApiError::invalid_field("kind", format!("`{other}` is not categorical, boolean or numeric")));
        }
    };
    let scale = q.scale.unwrap_or(0);
    if scale > MAX_SCALE {
        return Err(ApiError::invalid_field("scale", format!("at most {MAX_SCALE} decimal places")));
    }
    if q.scale.is_some() && kind != TagKind::Numeric {
        return Err(ApiError::invalid_field("scale", "only numeric groups have a scale"));
    }
    let category = q.category.unwrap_or_default();
    check_category(&category)?;
    let upload = Upload::Tag { group, kind, category, scale };
    ingest(state, app, ds, upload, body).await
}

/// `PUT /api/v1/apps/{app}/days/{ds}/events/{event}`.
pub async fn put_event(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((app, ds, event)): ApiPath<(String, String, String)>,
    body: Body,
) -> Result<Json<IngestResponse>, ApiError> {
    auth.app(&state, &app, Access::Write)?;
    let ds = parse_ds(&ds)?;
    validate_id("event", &event)?;
    ingest(state, app, ds, Upload::Event { name: event }, body).await
}

/// Category paths: `/`-separated names of letters, digits, `_`, `-`, `.` and spaces.
fn check_category(category: &str) -> Result<(), ApiError> {
    let ok = category.len() <= 256
        && (category.is_empty()
            || category
                .split('/')
                .all(|part| !part.is_empty() && part.chars().all(|c| c.is_alphanumeric() || "_-. ".contains(c))));
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid_field(
            "category",
            "a path like `demographics/location` (letters, digits, _ - . and spaces)",
        ))
    }
}

async fn ingest(
    state: AppState,
    app: String,
    ds: Ds,
    upload: Upload,
    body: Body,
) -> Result<Json<IngestResponse>, ApiError> {
    let spooled =
        spool(body, &state.config.data_dir.join("uploads"), state.config.upload_limit_bytes, &state.config.faults)
            .await?;
    let lock = state.app_locks.get(&app);
    let mut dict_slot = lock.lock_owned().await;
    let work = move || -> Result<IngestResponse, ApiError> {
        let dict = match &mut *dict_slot {
            Some(d) => d,
            slot => slot.insert(AppDict::from_ids(state.meta.dict_load(&app)?)),
        };
        let file = std::fs::File::open(spooled.path())?;
        let staged = stage(BufReader::with_capacity(1 << 20, file), &upload, dict)?;
        drop(spooled);
        let values = match &staged.data {
            StagedData::Values(v) => v.len() as u64,
            _ => 0,
        };
        let (rows, users, new_ids) = (staged.rows, staged.users, staged.new_ids.len() as u64);
        let name = match &upload {
            Upload::Tag { group, .. } => group.clone(),
            Upload::Event { name } => name.clone(),
        };
        let specs = segment_specs(&state.meta, &app)?;
        let report = state.publisher.publish_upload(&app, ds, staged, dict, &specs)?;
        Ok(IngestResponse {
            ds: report.ds,
            name,
            rows,
            users,
            values,
            new_ids,
            version: report.version,
            changed: report.changed,
            days_updated: report.days_updated,
            manifest: report.manifest,
        })
    };
    let response = tokio::task::spawn_blocking(work).await.map_err(|e| ApiError::Internal(Box::new(e)))??;
    tracing::info!(app = %response.manifest, ds = %response.ds, name = %response.name, rows = response.rows, changed = response.changed, "published upload");
    Ok(Json(response))
}
