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
use crate::privacy::{self, Noise};
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
    let scope = auth.app(&state, &app, Access::SegmentRead)?;
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
        // Saved segments are sets an aggregate token cannot choose: their counts are noisy and
        // withheld below the minimum, but not charged to its budget (see `crate::privacy`).
        let noise = privacy::aggregate_noise(snaps.meta(), &app, scope.role)?;
        let backfill = snaps.meta().job_get(&app, JobKind::Segments)?.as_ref().map(backfill_of);
        let all = snaps.meta().days(&app)?;
        let mut out = Vec::new();
        // The published day before `from`, for the first day's entered/left.
        let mut previous: Option<Option<(Arc<IdSet>, String)>> = None;
        for (ds, record) in &all {
            if q.to.as_deref().is_some_and(|to| ds.as_str() > to) {
                break;
            }
            let manifest = snaps.manifest(&record.manifest)?;
            let members = match manifest.segment(&seg) {
                Some(e) => Some((snaps.set(&e.members.full.blob)?, e.members.full.blob.clone())),
                None => None,
            };
            if q.from.as_deref().is_some_and(|from| ds.as_str() < from) {
                previous = Some(members);
                continue;
            }
            let (entered, left) = match (&members, &previous) {
                (Some((now, _)), Some(Some((before, _)))) => {
                    (Some(now.difference_len(before)), Some(before.difference_len(now)))
                }
                _ => (None, None),
            };
            let rates = metrics
                .iter()
                .map(|m| {
                    let set = members.as_ref().map(|(s, b)| (s.as_ref(), b.as_str()));
                    Ok((m.clone(), metric(&snaps, &manifest, m, set, noise.as_ref())?))
                })
                .collect::<Result<BTreeMap<_, _>, ApiError>>()?;
            let mut day = HistoryDay {
                ds: ds.clone(),
                size: members.as_ref().map(|(s, _)| s.len()),
                entered,
                left,
                error: manifest.segment_errors.iter().find(|e| e.id == seg).map(|e| e.message.clone()),
                universe: manifest.universe.count,
                suppressed: false,
                metrics: rates,
            };
            if let Some(noise) = &noise {
                let now = members.as_ref().map_or("", |(_, b)| b.as_str());
                let before = previous.as_ref().and_then(|p| p.as_ref()).map_or("", |(_, b)| b.as_str());
                let mut protect = |count: Option<u64>, label: &str, blobs: &[&str]| {
                    count.and_then(|c| {
                        let p = noise.protect(c, &noise.seed_of_set(label, blobs));
                        day.suppressed |= p.suppressed;
                        p.count
                    })
                };
                let size = protect(day.size, "users", &[now]);
                let entered = protect(day.entered, "entered", &[before, now]);
                let left = protect(day.left, "left", &[before, now]);
                (day.size, day.entered, day.left) = (size, entered, left);
                day.universe =
                    noise.protect_or_zero(day.universe, &noise.seed_of_set("users", &[&manifest.universe.blob]));
            }
            out.push(day);
            previous = Some(members);
        }
        Ok((out, backfill))
    })
    .await?;
    Ok(Json(History { segment: id, days, backfill }))
}

/// The rate of a metric tag (its `true` value) inside the members (with their blob's address)
/// and across all users; with `noise`, from noisy counts (none when one is withheld).
fn metric(
    snaps: &Snapshots,
    m: &Manifest,
    tag: &str,
    members: Option<(&IdSet, &str)>,
    noise: Option<&Noise>,
) -> Result<MetricRates, ApiError> {
    let Some(value) = m.group(tag).and_then(|g| g.values.iter().find(|v| v.value == "true")) else {
        return Ok(MetricRates { segment: None, all: None });
    };
    let rate = |part: u64, part_blobs: &[&str], whole: u64, whole_blob: &str| -> Option<f64> {
        let (part, whole) = match noise {
            None => (part, whole),
            Some(n) => (
                n.protect(part, &n.seed_of_set("users", part_blobs)).count?,
                n.protect(whole, &n.seed_of_set("users", &[whole_blob])).count?,
            ),
        };
        (whole > 0).then(|| (part.min(whole)) as f64 / whole as f64)
    };
    let all = rate(value.count, &[&value.full.blob], m.universe.count, &m.universe.blob);
    let segment = match members {
        Some((members, blob)) if !members.is_empty() => {
            let tagged = snaps.set(&value.full.blob)?;
            rate(members.intersection_len(&tagged), &[blob, &value.full.blob], members.len(), blob)
        }
        _ => None,
    };
    Ok(MetricRates { segment, all })
}
