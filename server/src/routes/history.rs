//! `GET /api/v1/apps/{app}/segments/{id}/history?from=&to=&metrics=`: a segment day by day —
//! size, who entered and who left (against the previous published day), and for each requested
//! metric tag the rate inside the segment next to the rate across all users (大盘).
//!
//! A metric tag is a boolean group (its `true` value) or any group with a `true` value. Days
//! where the segment was not computed (yet: backfill runs in the background) have `size: null`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use engine::{IdSet, Manifest};
use serde::{Deserialize, Serialize};

use crate::auth::{Access, Auth, validate_id};
use crate::backfill::Progress;
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery};
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

/// A metric on one day.
#[derive(Debug, Serialize, PartialEq)]
pub struct MetricRates {
    /// Share of the segment's members with the tag.
    pub segment: Option<f64>,
    /// Share of all users with the tag.
    pub all: Option<f64>,
}

/// One day of history.
#[derive(Debug, Serialize)]
pub struct HistoryDay {
    /// The day.
    pub ds: String,
    /// Members that day (`null`: not computed that day).
    pub size: Option<u64>,
    /// Members that day who were not members the previous published day.
    pub entered: Option<u64>,
    /// Members of the previous published day who are not members that day.
    pub left: Option<u64>,
    /// Users in the app that day.
    pub universe: u64,
    /// Requested metrics (`null` rates where the tag is missing that day).
    pub metrics: BTreeMap<String, MetricRates>,
}

/// The answer.
#[derive(Debug, Serialize)]
pub struct History {
    /// Segment id.
    pub segment: String,
    /// The days, oldest first.
    pub days: Vec<HistoryDay>,
    /// The app's segment backfill, if one ran since the server started.
    pub backfill: Option<Progress>,
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
    let backfill = state.backfills.progress(&app);
    let snaps = state.snapshots.clone();
    let seg = id.clone();
    let days = tokio::task::spawn_blocking(move || -> Result<Vec<HistoryDay>, ApiError> {
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
                universe: manifest.universe.count,
                metrics: rates,
            });
            previous = Some(members);
        }
        Ok(out)
    })
    .await
    .map_err(ApiError::internal)??;
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
