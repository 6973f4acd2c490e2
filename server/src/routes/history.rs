//! `GET /api/v1/apps/{app}/segments/{id}/history?from=&to=&metrics=`: a segment day by day —
//! size, who entered and who left (against the previous published day), and for each requested
//! metric tag the rate inside the segment next to the rate across all users (大盘).
//!
//! A metric tag is a boolean group (its `true` value) or any group with a `true` value. Days
//! where the segment was not computed have `size: null`: either the app's durable backfill job
//! has not reached them yet (`backfill` says how far it is, and why it is retrying or failed),
//! or the segment's rule cannot be computed there (`error` says why, from the day's version).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use engine::{IdSet, Manifest};
use serde::Deserialize;
use wire::{Backfill, BackfillState, History, HistoryDay, MetricRates};

use crate::auth::{Access, Auth, validate_id};
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery};
use crate::jobs::{Job, JobKind, JobState};
use crate::routes::blocking;
use crate::routes::ids::parse_date;
use crate::snapshots::Snapshots;
use crate::state::AppState;

/// Most metrics one request may ask for.
const MAX_METRICS: usize = 16;

/// Query.
#[derive(Debug, Deserialize)]
pub struct HistoryQuery {
    /// First day (inclusive); the oldest published day when absent.
    from: Option<String>,
    /// Last day (inclusive); the latest when absent.
    to: Option<String>,
    /// Comma-separated metric tag groups.
    metrics: Option<String>,
}

/// How far the app's segment backfill job is, as the history shows it (see [`crate::jobs`]).
fn backfill_of(job: &Job) -> Backfill {
    Backfill {
        state: match job.state {
            JobState::Queued | JobState::Running => BackfillState::Running,
            JobState::Retrying => BackfillState::Retrying,
            JobState::Failed => BackfillState::Failed,
            JobState::Done => BackfillState::Done,
        },
        done: job.done,
        total: job.total,
        error: job.last_error.clone(),
        attempts: job.attempts,
        next_attempt_ms: (job.state == JobState::Retrying).then_some(job.next_attempt_ms),
    }
}

/// `GET /api/v1/apps/{app}/segments/{id}/history`.
pub async fn history(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((app, id)): ApiPath<(String, String)>,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> Result<Json<History>, ApiError> {
    auth.app(&state, &app, Access::SegmentRead)?;
    validate_id("segment", &id)?;
    if let Some(from) = &q.from {
        parse_date("from", from)?;
    }
    if let Some(to) = &q.to {
        parse_date("to", to)?;
    }
    let metrics: Vec<String> = q
        .metrics
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(str::to_owned)
        .collect();
    if metrics.len() > MAX_METRICS {
        return Err(ApiError::invalid_field("metrics", format!("at most {MAX_METRICS} metrics")));
    }
    for m in &metrics {
        validate_id("metrics", m)?;
    }
    let snaps = state.snapshots.clone();
    let seg = id.clone();
    let (days, backfill) = blocking(move || -> Result<(Vec<HistoryDay>, Option<Backfill>), ApiError> {
        let backfill = snaps.meta().job_get(&app, JobKind::Segments)?.as_ref().map(backfill_of);
        let all = snaps.meta().days(&app)?;
        let mut out = Vec::new();
        // The published day before `from`, for the first day's entered/left.
        let mut previous: Option<Option<Arc<IdSet>>> = None;
        for (ds, record) in &all {
            if q.to.as_deref().is_some_and(|to| ds.as_str() > to) {
                break;
            }
            let manifest = snaps.manifest(&record.manifest)?;
            let members = match manifest.segment(&seg) {
                Some(e) => Some(snaps.set(&e.members.full.blob)?),
                None => None,
            };
            if q.from.as_deref().is_some_and(|from| ds.as_str() < from) {
                previous = Some(members);
                continue;
            }
            let (entered, left) = match (&members, &previous) {
                (Some(now), Some(Some(before))) => (Some(now.difference_len(before)), Some(before.difference_len(now))),
                _ => (None, None),
            };
            let rates = metrics
                .iter()
                .map(|m| Ok((m.clone(), metric(&snaps, &manifest, m, members.as_deref())?)))
                .collect::<Result<BTreeMap<_, _>, ApiError>>()?;
            out.push(HistoryDay {
                ds: ds.clone(),
                size: members.as_ref().map(|s| s.len()),
                entered,
                left,
                error: manifest.segment_errors.iter().find(|e| e.id == seg).map(|e| e.message.clone()),
                universe: manifest.universe.count,
                metrics: rates,
            });
            previous = Some(members);
        }
        Ok((out, backfill))
    })
    .await?;
    Ok(Json(History { segment: id, days, backfill }))
}

/// The rate of a metric tag (its `true` value) inside the members and across all users.
fn metric(snaps: &Snapshots, m: &Manifest, tag: &str, members: Option<&IdSet>) -> Result<MetricRates, ApiError> {
    let Some(value) = m.group(tag).and_then(|g| g.values.iter().find(|v| v.value == "true")) else {
        return Ok(MetricRates { segment: None, all: None });
    };
    let all = (m.universe.count > 0).then(|| value.count as f64 / m.universe.count as f64);
    let segment = match members {
        Some(members) if !members.is_empty() => {
            let tagged = snaps.set(&value.full.blob)?;
            Some(members.intersection_len(&tagged) as f64 / members.len() as f64)
        }
        _ => None,
    };
    Ok(MetricRates { segment, all })
}
