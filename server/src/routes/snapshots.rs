//! Snapshots for the browser: the published days, a day's manifest, and blobs; and deleting a
//! day that should not exist.
//!
//! Blobs are immutable and content-addressed: `ETag` is the address, `If-None-Match` gives a
//! 304, and they may be cached for a year, but privately (`Cache-Control: private`), because
//! they are tenant data and served only to tokens of an app whose manifests name them.
//! Manifests are immutable too, but which manifest a day points to changes on publish, so the
//! day's manifest route is `no-cache` (revalidated by ETag).

use crate::extract::ApiPath;
use crate::routes::blocking;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use wire::{Day, DayList, EventDay, EventDays, Role};

use crate::auth::{Access, Auth};
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::privacy;
use crate::routes::ids::parse_ds;
use crate::snapshots::Owned;
use crate::state::AppState;
use engine::manifest::EventEntry;

/// `GET /api/v1/apps/{app}/days`.
pub async fn days(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(app): ApiPath<String>,
) -> Result<Json<DayList>, ApiError> {
    auth.app(&state, &app, Access::Read)?;
    let meta = state.meta.clone();
    let days = blocking(move || meta.days(&app)).await?;
    let days = days
        .into_iter()
        .map(|(ds, r)| Day { ds, manifest: r.manifest, version: r.version, published_ms: r.published_ms })
        .collect();
    Ok(Json(DayList { days }))
}

/// `DELETE /api/v1/apps/{app}/days/{ds}` (editors): removes the day's pointer, so the day is
/// no longer published: `/days`, manifests, estimates, exports and the default day (the latest)
/// see the new state at once. A day uploaded by mistake (a far-future `ds` that became the
/// latest day, pushing every real day out of the retention window) is removed this way.
///
/// One metadata transaction, under the app's publish lock (no upload interleaves). Other days
/// keep their own versions: a later day that carried one of this day's tag groups forward keeps
/// it (it is that day's data now; upload the group to it again to replace it), and its blobs
/// stay. Event windows of later days no longer find this day's events: their segments are
/// recomputed by the app's durable segments job, queued with the delete (the latest day before the
/// answer). Uploading the day again publishes it anew, from version 1.
pub async fn delete_day(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((app, ds)): ApiPath<(String, String)>,
) -> Result<Json<wire::Day>, ApiError> {
    let scope = auth.app(&state, &app, Access::Write)?;
    let ds = parse_ds(&ds)?.to_string();
    let publishing = state.publishing(&scope.app).await?;
    let st = state.clone();
    let (app_id, day) = (scope.app.clone(), ds.clone());
    let actor = auth.actor();
    let (removed, latest) = blocking(move || -> Result<_, ApiError> {
        // The later days are queued on the segments job in the delete's own transaction.
        let removed = st.meta.delete_day(&app_id, &day)?;
        if removed.is_some() {
            let event = crate::audit::Event::new(wire::AuditAction::DeleteDay, None).on(day.clone());
            crate::audit::record(&st.meta, &app_id, &actor, event, now_ms())?;
        }
        let latest = st.meta.latest_day(&app_id)?.map(|(latest, _)| latest).filter(|latest| *latest > day);
        Ok((removed, latest))
    })
    .await?;
    drop(publishing);
    let removed = removed.ok_or_else(|| ApiError::Missing("no published day with that date".into()))?;
    tracing::info!(app = %scope.app, %ds, manifest = %removed.manifest, "day deleted");
    if let Some(latest) = latest {
        // The latest day's windows may have read the deleted day: recompute it before answering;
        // the worker does the other later days (and retries this one if it fails here).
        if let Err(e) = crate::jobs::worker::run_day(&state, &scope.app, &latest).await {
            tracing::error!(app = %scope.app, error = %e, "recomputing the latest day after a delete failed; the job retries it");
        }
        state.jobs.wake();
    }
    Ok(Json(wire::Day { ds, manifest: removed.manifest, version: removed.version, published_ms: removed.published_ms }))
}

fn etag_matches(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
}

/// `GET /api/v1/apps/{app}/days/{ds}/manifest`.
pub async fn manifest(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((app, ds)): ApiPath<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let scope = auth.app(&state, &app, Access::Read)?;
    parse_ds(&ds)?;
    let snaps = state.snapshots.clone();
    let aggregate = scope.role == Some(Role::Aggregate);
    let found = blocking(move || -> Result<_, ApiError> {
        let Some(record) = snaps.meta().day(&app, &ds)? else { return Ok(None) };
        if aggregate {
            // Rewritten for each request (noise is cheap; the manifest is cached decoded).
            let noise = privacy::settings(snaps.meta(), &app)?.noise();
            let manifest = privacy::views::manifest(snaps.manifest(&record.manifest)?.as_ref(), &noise);
            let etag = format!("aggregate-{}-{}", record.manifest, noise.min_audience());
            return Ok(Some((record, manifest.to_json().into_bytes(), etag)));
        }
        let bytes = snaps.blobs().get(&record.manifest)?;
        let etag = record.manifest.clone();
        Ok(bytes.map(|b| (record, b, etag)))
    })
    .await?;
    let Some((record, bytes, etag)) = found else {
        return Err(ApiError::Missing("no published day with that date".into()));
    };
    let etag = format!("\"{etag}\"");
    let mut res = if etag_matches(&headers, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], bytes).into_response()
    };
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-cache"));
    h.insert("x-sieve-version", HeaderValue::from(record.version));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    Ok(res)
}

/// `GET /api/v1/apps/{app}/blobs/{hash}`.
pub async fn blob(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((app, hash)): ApiPath<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let scope = auth.app(&state, &app, Access::Read)?;
    if !engine::blob::is_hash(&hash) {
        return Err(ApiError::invalid_field("hash", "a blob address is 64 lowercase hex digits"));
    }
    let etag = format!("\"{hash}\"");
    let snaps = state.snapshots.clone();
    let aggregate = scope.role == Some(Role::Aggregate);
    let owned = {
        let (app, hash) = (app.clone(), hash.clone());
        let snaps = snaps.clone();
        blocking(move || snaps.owned_blob(&app, &hash)).await?
    };
    if owned == Owned::No {
        return Err(ApiError::Missing("no such blob in this app".into()));
    }
    if aggregate && owned != Owned::Sample {
        return Err(ApiError::Forbidden(
            "an aggregate token may download sample-tier bitmaps only: it sees counts, never members".into(),
        ));
    }
    let mut res = if etag_matches(&headers, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let h = hash.clone();
        // The app's published days name it, so a missing file is damage (503), not a 404.
        let bytes = blocking(move || snaps.blobs().get_referenced(&h)).await?;
        ranged(bytes, headers.get(header::RANGE))
    };
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=31536000, immutable"));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    Ok(res)
}

/// Answers a single `bytes=` range (206), or the whole body; an unsatisfiable range is 416.
/// Partial answers are marked `identity` so the compression layer leaves them alone.
fn ranged(bytes: Vec<u8>, range: Option<&HeaderValue>) -> Response {
    let octets = [(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"))];
    let Some(spec) = range.and_then(|r| r.to_str().ok()).and_then(|r| r.strip_prefix("bytes=")) else {
        return (octets, bytes).into_response();
    };
    let len = bytes.len() as u64;
    let parsed = spec.split_once('-').and_then(|(a, b)| match (a.trim(), b.trim()) {
        ("", suffix) => {
            suffix.parse::<u64>().ok().filter(|&n| n > 0).map(|n| (len.saturating_sub(n), len.saturating_sub(1)))
        }
        (start, "") => start.parse::<u64>().ok().map(|s| (s, len.saturating_sub(1))),
        (start, end) => Some((start.parse::<u64>().ok()?, end.parse::<u64>().ok()?.min(len.saturating_sub(1)))),
    });
    match parsed {
        // Several ranges ("a-b,c-d") are rare for blobs; answer the whole body, as RFC 9110 allows.
        _ if spec.contains(',') => (octets, bytes).into_response(),
        Some((start, end)) if start <= end && end < len => {
            let part = bytes[start as usize..=end as usize].to_vec();
            let mut res = (StatusCode::PARTIAL_CONTENT, octets, part).into_response();
            let h = res.headers_mut();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{len}")) {
                h.insert(header::CONTENT_RANGE, v);
            }
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("identity"));
            res
        }
        _ => {
            let mut res = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                res.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            res
        }
    }
}

/// Query of [`event_days`].
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventDaysQuery {
    /// Window length in days, ending with `ds` (default: the retained days, at most 90).
    last_days: Option<u32>,
}

/// `GET /api/v1/apps/{app}/days/{ds}/events?last_days=`: the event uploads of the published
/// days of a window ending with `ds`, oldest first, so a browser can validate and evaluate
/// event conditions (`purchase` at least 3 times in the last 7 days) without fetching every
/// day's manifest. Days never published are absent; the rule's warnings name them.
pub async fn event_days(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((app, ds)): ApiPath<(String, String)>,
    crate::extract::ApiQuery(q): crate::extract::ApiQuery<EventDaysQuery>,
) -> Result<Json<EventDays<EventEntry>>, ApiError> {
    let scope = auth.app(&state, &app, Access::Read)?;
    let end = parse_ds(&ds)?;
    let retained = state.config.retention_days.min(engine::rule::MAX_WINDOW_DAYS);
    let last_days = q.last_days.unwrap_or(retained);
    if last_days == 0 || last_days > retained {
        return Err(ApiError::invalid_field(
            "last_days",
            format!("a window is 1 to {retained} days (the days this server keeps, at most 90)"),
        ));
    }
    let snaps = state.snapshots.clone();
    let days = blocking(move || -> Result<Vec<EventDay<EventEntry>>, ApiError> {
        let noise = privacy::aggregate_noise(snaps.meta(), &app, scope.role)?;
        let mut out = Vec::new();
        for back in (0..i32::try_from(last_days).unwrap_or(0)).rev() {
            let day = end.add_days(-back).to_string();
            if let Some(record) = snaps.meta().day(&app, &day)? {
                let m = snaps.manifest(&record.manifest)?;
                let events = match &noise {
                    Some(noise) => privacy::views::manifest(&m, noise).events,
                    None => m.events.clone(),
                };
                out.push(EventDay { ds: day, version: record.version, events });
            }
        }
        Ok(out)
    })
    .await?;
    Ok(Json(EventDays { ds, last_days, retained_days: retained, days }))
}
