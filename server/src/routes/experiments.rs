//! A/B splits (拆包): `POST /api/v1/apps/{app}/experiments` splits a segment's members on a day
//! into groups by `engine::split` (salted hashes of external ids, the same in the browser), and
//! freezes each group's members as a bitmap, so outcomes can be read on later days.
//! `GET …/experiments/{id}` adds the balance check (sizes vs plan with a sample-ratio-mismatch
//! p-value, and the tag mix per group, largest differences first); `GET …/{id}/outcome` gives a
//! metric's rate per group with 95% intervals and each group's difference from the first;
//! `GET …/{id}/groups/{group}/members` exports a group as CSV.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use engine::IdSet;
use engine::split::{Group, Split};
use engine::stats::{Rate, chi_square, difference, rate};
use serde::{Deserialize, Serialize};

use crate::auth::{Access, Auth, validate_id};
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery, JsonBody};
use crate::routes::ids::parse_ds;
use crate::state::AppState;

/// p-values below this flag a sample-ratio mismatch.
pub const SRM_ALPHA: f64 = 0.001;
/// Tag-mix rows shown in the balance check.
const MIX_ROWS: usize = 20;

/// The request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewExperiment {
    /// Experiment id.
    pub id: String,
    /// The segment whose members are split.
    pub segment: String,
    /// The day of the members; the latest published day when absent.
    pub ds: Option<String>,
    /// The salt of the hashes (the same salt and user always give the same group).
    pub salt: String,
    /// Groups with their percentages of the segment.
    pub groups: Vec<Group>,
}

/// A frozen group.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupRecord {
    /// Name.
    pub name: String,
    /// Planned percentage of the segment.
    pub percent: f64,
    /// Members.
    pub count: u64,
    /// Address of the members bitmap.
    pub blob: String,
}

/// What is stored per experiment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExperimentRecord {
    /// Id.
    pub id: String,
    /// Segment split.
    pub segment: String,
    /// Day of the members.
    pub ds: String,
    /// Salt.
    pub salt: String,
    /// Members of the segment that day.
    pub audience: u64,
    /// The groups, frozen.
    pub groups: Vec<GroupRecord>,
    /// Creation time (ms since the epoch).
    pub created_ms: u64,
}

/// One row of the tag mix.
#[derive(Debug, Serialize)]
pub struct MixRow {
    /// Tag group.
    pub tag: String,
    /// Value.
    pub value: String,
    /// Share of each experiment group holding it, in group order.
    pub shares: Vec<f64>,
    /// Largest minus smallest share.
    pub spread: f64,
}

/// The balance check.
#[derive(Debug, Serialize)]
pub struct Balance {
    /// Chi-square statistic of sizes against the plan.
    pub chi_square: f64,
    /// Its p-value.
    pub p_value: f64,
    /// True when the p-value is below 0.001: the groups are not the sizes planned.
    pub srm: bool,
    /// Planned share of each group among the assigned users.
    pub planned: Vec<f64>,
    /// Observed share of each group among the assigned users.
    pub observed: Vec<f64>,
    /// Tag mix per group, largest differences first.
    pub mix: Vec<MixRow>,
}

/// An experiment with its balance check.
#[derive(Debug, Serialize)]
pub struct ExperimentView {
    /// The record.
    #[serde(flatten)]
    pub record: ExperimentRecord,
    /// The balance check, on the experiment's day.
    pub balance: Balance,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

fn load(state: &AppState, app: &str, id: &str) -> Result<ExperimentRecord, ApiError> {
    let bytes =
        state.meta.experiment_get(app, id)?.ok_or_else(|| ApiError::Missing(format!("no experiment `{id}`")))?;
    serde_json::from_slice(&bytes).map_err(ApiError::internal)
}

/// An experiment's groups: (name, members).
pub type FrozenGroups = Vec<(String, Arc<IdSet>)>;

/// The app's experiments with their group bitmaps (for `/user/tags`).
pub fn groups_of_app(state: &AppState, app: &str) -> Result<Vec<(String, FrozenGroups)>, ApiError> {
    let mut out = Vec::new();
    for (id, bytes) in state.meta.experiment_list(app)? {
        let record: ExperimentRecord = serde_json::from_slice(&bytes).map_err(ApiError::internal)?;
        let groups = record
            .groups
            .iter()
            .map(|g| Ok((g.name.clone(), state.snapshots.set(&g.blob)?)))
            .collect::<Result<Vec<_>, ApiError>>()?;
        out.push((id, groups));
    }
    Ok(out)
}

/// `POST /api/v1/apps/{app}/experiments`.
pub async fn create(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(app): ApiPath<String>,
    JsonBody(req): JsonBody<NewExperiment>,
) -> Result<Response, ApiError> {
    auth.app(&state, &app, Access::SegmentWrite)?;
    validate_id("experiment", &req.id)?;
    validate_id("segment", &req.segment)?;
    if let Some(ds) = &req.ds {
        parse_ds(ds)?;
    }
    if req.salt.is_empty() || req.salt.len() > 128 {
        return Err(ApiError::invalid_field("salt", "1 to 128 bytes"));
    }
    let split =
        Split::new(&req.salt, req.groups.clone()).map_err(|e| ApiError::invalid_field("groups", e.to_string()))?;
    // Computing missing members publishes a day version: do it under the app's publish lock.
    let lock = state.app_locks.get(&app);
    let publishing = lock.lock().await;
    let st = state.clone();
    let app2 = app.clone();
    let view = tokio::task::spawn_blocking(move || -> Result<ExperimentView, ApiError> {
        let (ds, record) = st
            .snapshots
            .day(&app2, req.ds.as_deref())?
            .ok_or_else(|| ApiError::Missing("no published day with that date".into()))?;
        let mut manifest = st.snapshots.manifest(&record.manifest)?;
        if manifest.segment(&req.segment).is_none() {
            // A fresh segment still backfilling: compute its members for that day first, so a
            // split never runs on an incomplete member set.
            let specs = crate::publish::segment_specs(&st.meta, &app2)?;
            st.publisher.refresh_segments(&app2, std::slice::from_ref(&ds), &specs)?;
            let (_, record) =
                st.snapshots.day(&app2, Some(&ds))?.ok_or_else(|| ApiError::Missing("day vanished".into()))?;
            manifest = st.snapshots.manifest(&record.manifest)?;
        }
        let entry = manifest.segment(&req.segment).ok_or_else(|| {
            ApiError::Conflict(format!(
                "segment `{}` has no members on {ds} (unknown, or its rule names what the day lacks)",
                req.segment
            ))
        })?;
        let members = st.snapshots.set(&entry.members.full.blob)?;
        let mut groups: Vec<Vec<u32>> = vec![Vec::new(); split.groups().len()];
        st.meta.dict_externals(&app2, members.iter(), |id, external| {
            if let Some(g) = split.assign(external) {
                groups[g].push(id);
            }
        })?;
        let mut records = Vec::new();
        for (g, ids) in split.groups().iter().zip(groups) {
            let set = IdSet::from_sorted(&ids);
            let blob = st.snapshots.blobs().put(&engine::blob::encode(&set))?;
            records.push(GroupRecord { name: g.name.clone(), percent: g.percent, count: set.len(), blob });
        }
        let record = ExperimentRecord {
            id: req.id.clone(),
            segment: req.segment.clone(),
            ds: ds.clone(),
            salt: req.salt.clone(),
            audience: members.len(),
            groups: records,
            created_ms: now_ms(),
        };
        let bytes = serde_json::to_vec(&record).map_err(ApiError::internal)?;
        if !st.meta.experiment_create(&app2, &req.id, &bytes)? {
            return Err(ApiError::Conflict(format!("experiment `{}` exists; experiments are frozen", req.id)));
        }
        let balance = balance(&st, &app2, &record)?;
        Ok(ExperimentView { record, balance })
    })
    .await
    .map_err(ApiError::internal)??;
    drop(publishing);
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// `GET /api/v1/apps/{app}/experiments`.
pub async fn list(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(app): ApiPath<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    auth.app(&state, &app, Access::SegmentRead)?;
    let meta = state.meta.clone();
    let rows = tokio::task::spawn_blocking(move || meta.experiment_list(&app)).await.map_err(ApiError::internal)??;
    let records = rows
        .into_iter()
        .map(|(_, b)| serde_json::from_slice::<ExperimentRecord>(&b).map_err(ApiError::internal))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(serde_json::json!({ "experiments": records })))
}

/// `GET /api/v1/apps/{app}/experiments/{id}`.
pub async fn get(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((app, id)): ApiPath<(String, String)>,
) -> Result<Json<ExperimentView>, ApiError> {
    auth.app(&state, &app, Access::SegmentRead)?;
    validate_id("experiment", &id)?;
    let st = state.clone();
    let view = tokio::task::spawn_blocking(move || -> Result<ExperimentView, ApiError> {
        let record = load(&st, &app, &id)?;
        let balance = balance(&st, &app, &record)?;
        Ok(ExperimentView { record, balance })
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(Json(view))
}

/// Sizes against the plan, and the tag mix per group on the experiment's day.
fn balance(state: &AppState, app: &str, record: &ExperimentRecord) -> Result<Balance, ApiError> {
    let observed: Vec<u64> = record.groups.iter().map(|g| g.count).collect();
    let percents: Vec<f64> = record.groups.iter().map(|g| g.percent).collect();
    let (stat, p) = chi_square(&observed, &percents);
    let assigned: u64 = observed.iter().sum();
    let total_percent: f64 = percents.iter().sum();
    let sets = record.groups.iter().map(|g| state.snapshots.set(&g.blob)).collect::<Result<Vec<_>, _>>()?;
    let mut mix = Vec::new();
    if let Some((_, day)) = state.snapshots.day(app, Some(&record.ds))? {
        let manifest = state.snapshots.manifest(&day.manifest)?;
        for g in manifest.groups.iter().filter(|g| g.values.len() <= 50) {
            for v in &g.values {
                let value_set = state.snapshots.set(&v.full.blob)?;
                let shares: Vec<f64> = sets
                    .iter()
                    .map(|s| if s.is_empty() { 0.0 } else { s.intersection_len(&value_set) as f64 / s.len() as f64 })
                    .collect();
                let max = shares.iter().copied().fold(f64::MIN, f64::max);
                let min = shares.iter().copied().fold(f64::MAX, f64::min);
                mix.push(MixRow { tag: g.name.clone(), value: v.value.clone(), shares, spread: max - min });
            }
        }
    }
    mix.sort_by(|a, b| b.spread.total_cmp(&a.spread));
    mix.truncate(MIX_ROWS);
    Ok(Balance {
        chi_square: stat,
        p_value: p,
        srm: p < SRM_ALPHA,
        planned: percents.iter().map(|p| p / total_percent).collect(),
        observed: observed.iter().map(|&o| if assigned == 0 { 0.0 } else { o as f64 / assigned as f64 }).collect(),
        mix,
    })
}

/// Query of the outcome.
#[derive(Debug, Deserialize)]
pub struct OutcomeQuery {
    /// Metric tag group (its `true` value).
    metric: String,
    /// The day to read; the latest published day when absent.
    ds: Option<String>,
}

/// One group's outcome.
#[derive(Debug, Serialize)]
pub struct GroupOutcome {
    /// Group.
    pub name: String,
    /// Members.
    pub members: u64,
    /// Members with the metric that day.
    pub with_metric: u64,
    /// Their rate, with a 95% Wilson interval.
    pub rate: Rate,
    /// Difference from the first group, with Newcombe's 95% interval (absent for the first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub difference: Option<Rate>,
}

/// `GET /api/v1/apps/{app}/experiments/{id}/outcome?metric=&ds=`.
pub async fn outcome(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((app, id)): ApiPath<(String, String)>,
    ApiQuery(q): ApiQuery<OutcomeQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    auth.app(&state, &app, Access::SegmentRead)?;
    validate_id("experiment", &id)?;
    validate_id("metric", &q.metric)?;
    if let Some(ds) = &q.ds {
        parse_ds(ds)?;
    }
    let st = state.clone();
    let out = tokio::task::spawn_blocking(move || -> Result<serde_json::Value, ApiError> {
        let record = load(&st, &app, &id)?;
        let (ds, day) = st
            .snapshots
            .day(&app, q.ds.as_deref())?
            .ok_or_else(|| ApiError::Missing("no published day with that date".into()))?;
        let manifest = st.snapshots.manifest(&day.manifest)?;
        let value = manifest
            .group(&q.metric)
            .and_then(|g| g.values.iter().find(|v| v.value == "true"))
            .ok_or_else(|| ApiError::invalid_field("metric", format!("`{}` has no `true` value on {ds}", q.metric)))?;
        let tagged = st.snapshots.set(&value.full.blob)?;
        let mut groups: Vec<GroupOutcome> = Vec::new();
        for g in &record.groups {
            let members = st.snapshots.set(&g.blob)?;
            let with_metric = members.intersection_len(&tagged);
            let r = rate(with_metric, members.len());
            let difference = groups.first().map(|first| difference(r, first.rate));
            groups.push(GroupOutcome { name: g.name.clone(), members: members.len(), with_metric, rate: r, difference });
        }
        Ok(serde_json::json!({ "experiment": id, "metric": q.metric, "ds": ds, "after_split": ds > record.ds, "groups": groups }))
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(Json(out))
}

/// `GET /api/v1/apps/{app}/experiments/{id}/groups/{group}/members`: CSV, header `user_id`.
pub async fn group_members(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((app, id, group)): ApiPath<(String, String, String)>,
) -> Result<Response, ApiError> {
    auth.app(&state, &app, Access::Membership)?;
    validate_id("experiment", &id)?;
    let st = state.clone();
    let (app2, id2, group2) = (app.clone(), id.clone(), group.clone());
    let set = tokio::task::spawn_blocking(move || -> Result<Arc<IdSet>, ApiError> {
        let record = load(&st, &app2, &id2)?;
        let g = record
            .groups
            .iter()
            .find(|g| g.name == group2)
            .ok_or_else(|| ApiError::Missing(format!("experiment `{id2}` has no group `{group2}`")))?;
        Ok(st.snapshots.set(&g.blob)?)
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(crate::routes::members::csv_of_users(&state, &app, set, &format!("{id}-{group}.csv")))
}
