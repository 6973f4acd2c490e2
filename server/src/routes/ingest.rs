//! Uploads: `PUT /api/v1/apps/{app}/days/{ds}/tags/{group}` (one tag group, vertical table)
//! and `PUT /api/v1/apps/{app}/days/{ds}/events/{event}` (one event's counts for the day),
//! as CSV rows of users, as a Parquet file of the same rows (`?format=parquet`, see
//! [`crate::ingest::parquet`]) or, for `u32` apps, `?format=bitmaps` (rows of values with the
//! bitmap of their users, see [`crate::ingest::bitmaps`]).
//!
//! The body is streamed to disk with a size limit and a minimum pace, checked as it arrives
//! (the first bad line stops it), parsed and mapped to dense ids without writing anything,
//! then published in one atomic step. A bad file is a 400 that names the line (and the
//! column), and changes nothing.

use std::io::BufReader;
use std::path::Path;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use wire::HeldUpload;

use crate::clock::now_ms;
use crate::governance::{self, holds};
use crate::ingest::Staged;
use crate::publish::{Context, Gate, Outcome};

use crate::extract::{ApiPath, ApiQuery};
use crate::routes::blocking;
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use engine::TagKind;
use serde::Deserialize;
use wire::{IdKind, IngestResult};

use crate::auth::validate_id;
use crate::auth::{Access, Auth};
use crate::ds::Ds;
use crate::error::ApiError;
use crate::ids::{self, AppIds};
use crate::ingest::csv::{Reader, Row, RowError};
use crate::ingest::parquet::{self, ParquetCheck};
use crate::ingest::spool::{CsvCheck, Inspect};
use crate::ingest::spool::{SpoolOptions, Spooled, spool};
use crate::ingest::{MAX_SCALE, StagedData, Upload, bitmaps, pair, stage};
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
    /// `csv` (default: rows of users), `bitmaps` (rows of values with their users' bitmap) or
    /// `parquet` (the rows of users as a Parquet file).
    format: Option<String>,
}

/// Query of an event upload.
#[derive(Debug, Deserialize)]
pub struct EventQuery {
    /// As [`TagQuery::format`].
    format: Option<String>,
}

/// How an upload's rows are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `user_id,value` (or `user_id,count`): one row per user and value.
    Csv,
    /// `value,bitmap` (or `number,bitmap`, `count,bitmap`): one row per value ([`bitmaps`]).
    Bitmaps,
    /// A Parquet file with columns `user_id` and `value` (or `count`) ([`parquet`]).
    Parquet,
}

fn parse_format(format: Option<&str>) -> Result<Format, ApiError> {
    match format.unwrap_or("csv") {
        "csv" => Ok(Format::Csv),
        "bitmaps" => Ok(Format::Bitmaps),
        "parquet" => Ok(Format::Parquet),
        other => Err(ApiError::invalid_field("format", format!("`{other}` is not csv, bitmaps or parquet"))),
    }
}

/// `PUT /api/v1/apps/{app}/days/{ds}/tags/{group}`.
pub async fn put_tag(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((app, ds, group)): ApiPath<(String, String, String)>,
    ApiQuery(q): ApiQuery<TagQuery>,
    body: Body,
) -> Result<Response, ApiError> {
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
    let format = parse_format(q.format.as_deref())?;
    // A composite tag's group is computed from its rules, never uploaded (issue 15).
    let (meta, a, g) = (state.meta.clone(), app.clone(), group.clone());
    if blocking(move || governance::composites::records(&meta, &a).map(|r| r.contains_key(&g))).await? {
        return Err(ApiError::Conflict(format!(
            "`{group}` is a composite tag (computed from its rules; deleted ones keep their name)"
        )));
    }
    let upload = Upload::Tag { group, kind, category, scale };
    ingest(state, auth, app, ds, upload, format, body).await
}

/// `PUT /api/v1/apps/{app}/days/{ds}/events/{event}`.
pub async fn put_event(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((app, ds, event)): ApiPath<(String, String, String)>,
    ApiQuery(q): ApiQuery<EventQuery>,
    body: Body,
) -> Result<Response, ApiError> {
    auth.app(&state, &app, Access::Write)?;
    let ds = parse_ds(&ds)?;
    validate_id("event", &event)?;
    let format = parse_format(q.format.as_deref())?;
    ingest(state, auth, app, ds, Upload::Event { name: event }, format, body).await
}

/// Category paths: see [`crate::ingest::valid_category`].
fn check_category(category: &str) -> Result<(), ApiError> {
    if crate::ingest::valid_category(category) {
        Ok(())
    } else {
        Err(ApiError::invalid_field(
            "category",
            "a path like `demographics/location` (letters, digits, _ - . and spaces)",
        ))
    }
}

/// Receives an upload body onto disk, checking it as it streams with the one CSV reader
/// (`header`, bounds, UTF-8) and `row` (each row's shape). Shared by every upload route.
pub async fn receive(
    state: &AppState,
    body: Body,
    header: &'static [&'static str],
    row: impl FnMut(&Row<'_>) -> Result<(), RowError>,
) -> Result<Spooled, ApiError> {
    receive_with(state, body, Reader::new(header), row).await
}

/// [`receive`] with a reader of other bounds (a bitmap upload's).
async fn receive_with(
    state: &AppState,
    body: Body,
    reader: Reader,
    row: impl FnMut(&Row<'_>) -> Result<(), RowError>,
) -> Result<Spooled, ApiError> {
    receive_checked(state, body, CsvCheck { reader, row }).await
}

/// Receives an upload body onto disk, checking it with `check` as it streams.
async fn receive_checked(state: &AppState, body: Body, check: impl Inspect) -> Result<Spooled, ApiError> {
    let dir = state.config.data_dir.join("uploads");
    let options = SpoolOptions {
        dir: &dir,
        limit_bytes: state.config.upload_limit_bytes,
        pace: state.config.upload_pace(),
        faults: &state.config.faults,
    };
    Ok(spool(body, &options, check).await?)
}

async fn ingest(
    state: AppState,
    auth: Auth,
    app: String,
    ds: Ds,
    upload: Upload,
    format: Format,
    body: Body,
) -> Result<Response, ApiError> {
    let kind = {
        let (meta, app) = (state.meta.clone(), app.clone());
        blocking(move || ids::kind_of(&meta, &app)).await?
    };
    let max_bitmap = state.config.max_bitmap_bytes;
    let spooled = match format {
        Format::Csv => {
            // A `u32` app's ids are checked as the body streams in, so a bad one stops it at once.
            receive(&state, body, upload.header(), |row| {
                let (user, _) = pair(row, upload.header())?;
                match kind {
                    IdKind::U32 => ids::parse_u32(user).map(|_| ()).map_err(|e| RowError::at(1, e)),
                    IdKind::Strings => Ok(()),
                }
            })
            .await?
        }
        Format::Bitmaps if kind != IdKind::U32 => {
            return Err(ApiError::invalid_field(
                "format",
                "bitmaps hold u32 user ids: this app's ids are strings (create the app with \"ids\": \"u32\")",
            ));
        }
        Format::Bitmaps => {
            let header = bitmaps::header(&upload);
            let reader = Reader::with_last_column(header, bitmaps::field_bound(max_bitmap));
            receive_with(&state, body, reader, |row| bitmaps::check_row(row, header).map(|_| ())).await?
        }
        Format::Parquet => receive_checked(&state, body, ParquetCheck::default()).await?,
    };
    let by = auth.actor();
    let mut publishing = state.publishing(&app).await?;
    let work = move || -> Result<Response, ApiError> {
        let ids = match &mut *publishing.ids {
            Some(ids) => ids,
            slot => slot.insert(AppIds::load(&state.snapshots, &app)?),
        };
        let staged = stage_file(spooled.path(), format, &upload, ids, max_bitmap)?;
        let gate = match &upload {
            Upload::Tag { group, .. } => Gate::Check(governance::record(&state.meta, &app, group)?.quality),
            Upload::Event { .. } => Gate::Skip,
        };
        let (rows, users) = (staged.rows, staged.users);
        let outcome = publish_staged(&state, &app, ds, staged, ids, Context::upload(by.clone(), gate))?;
        match outcome {
            Published::Done(result) => Ok(Json(result).into_response()),
            Published::Held(checks) => {
                let Upload::Tag { group, kind, category, scale } = &upload else {
                    return Err(ApiError::internal("only tag groups are held"));
                };
                let params = holds::Params {
                    kind: kind_name(*kind).to_owned(),
                    category: category.clone(),
                    scale: *scale,
                    format: format_name(format).to_owned(),
                };
                let new = holds::NewHold {
                    ds: &ds.to_string(),
                    group,
                    params,
                    path: spooled.path(),
                    checks,
                    rows,
                    users,
                    by,
                    now_ms: now_ms(),
                };
                let hold = holds::stage(&state.meta, state.snapshots.blobs().as_ref(), &app, new)?;
                tracing::info!(app = %app, ds = %hold.ds, group = %hold.group, hold = %hold.id, "upload held by its quality checks");
                Ok((StatusCode::ACCEPTED, Json(HeldUpload { held: hold.id, checks: hold.checks })).into_response())
            }
        }
    };
    blocking(work).await
}

/// What publishing a staged upload came to.
#[derive(Debug)]
pub enum Published {
    /// Published: the answer.
    Done(IngestResult),
    /// Held by its checks: nothing written.
    Held(Vec<wire::QualityCheck>),
}

/// Publishes a staged upload with the app's live segments (the caller holds the publish lock).
///
/// # Errors
/// Publishing failed.
pub fn publish_staged(
    state: &AppState,
    app: &str,
    ds: Ds,
    staged: Staged,
    ids: &mut AppIds,
    ctx: Context,
) -> Result<Published, ApiError> {
    let values = match &staged.data {
        StagedData::Values(v) => v.len() as u64,
        StagedData::Sets(v) => v.len() as u64,
        _ => 0,
    };
    let (rows, users, new_ids) = (staged.rows, staged.users, staged.new_users.len() as u64);
    let name = match &staged.upload {
        Upload::Tag { group, .. } => group.clone(),
        Upload::Event { name } => name.clone(),
    };
    let specs = segment_specs(&state.meta, app)?;
    let (report, quality) = match state.publisher.publish_upload(app, ds, staged, ids, &specs, ctx)? {
        Outcome::Published(report, quality) => (report, quality),
        Outcome::Held(checks) => return Ok(Published::Held(checks)),
    };
    tracing::info!(app = %app, ds = %report.ds, name = %name, rows, changed = report.changed, "published upload");
    Ok(Published::Done(IngestResult {
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
        quality,
    }))
}

/// Stages an upload received into `path` (any format) over the app's ids.
///
/// # Errors
/// The file is refused (line, row, column).
pub fn stage_file(
    path: &Path,
    format: Format,
    upload: &Upload,
    ids: &AppIds,
    max_bitmap: usize,
) -> Result<Staged, ApiError> {
    Ok(match format {
        Format::Parquet => parquet::stage(path, upload, ids)?,
        Format::Csv | Format::Bitmaps => {
            let file = BufReader::with_capacity(1 << 20, std::fs::File::open(path)?);
            match format {
                Format::Bitmaps => bitmaps::stage(file, upload, ids, max_bitmap)?,
                _ => stage(file, upload, ids)?,
            }
        }
    })
}

fn kind_name(kind: TagKind) -> &'static str {
    match kind {
        TagKind::Categorical => "categorical",
        TagKind::Boolean => "boolean",
        TagKind::Numeric => "numeric",
    }
}

fn format_name(format: Format) -> &'static str {
    match format {
        Format::Csv => "csv",
        Format::Bitmaps => "bitmaps",
        Format::Parquet => "parquet",
    }
}

/// The upload a hold was made of, as it was sent.
///
/// # Errors
/// A stored parameter no longer valid (a damaged record).
pub fn held_upload(group: &str, p: &holds::Params) -> Result<(Upload, Format), ApiError> {
    let kind = match p.kind.as_str() {
        "boolean" => TagKind::Boolean,
        "numeric" => TagKind::Numeric,
        _ => TagKind::Categorical,
    };
    let format = parse_format(Some(&p.format))?;
    Ok((Upload::Tag { group: group.to_owned(), kind, category: p.category.clone(), scale: p.scale }, format))
}
