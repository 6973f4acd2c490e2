//! `POST /api/v1/apps/{app}/estimate`: a rule's size on a day, with the same engine the
//! browser runs, on the exact tier or the sample tier (with a 95% interval), and the funnel.

use crate::extract::ApiPath;
use axum::Json;
use axum::extract::State;
use engine::plan::Warning;
use engine::{EvalOptions, Plan, Rule, Step};
use serde::{Deserialize, Serialize};

use crate::auth::{Access, Auth};
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::routes::ids::parse_ds;
use crate::snapshots::{Snapshots, Tier};
use crate::state::AppState;

/// The request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EstimateRequest {
    /// The day; the latest published day when absent.
    pub ds: Option<String>,
    /// The rule (wire form).
    pub rule: serde_json::Value,
    /// `exact` (default) or `sample`.
    #[serde(default)]
    pub tier: Tier,
}

/// The answer.
#[derive(Debug, Serialize)]
pub struct EstimateResponse {
    /// The day evaluated.
    pub ds: String,
    /// Its version.
    pub version: u64,
    /// The tier used.
    pub tier: Tier,
    /// Users matching (scaled up, rounded, on the sample tier).
    pub count: u64,
    /// Users in the snapshot.
    pub universe: u64,
    /// 95% interval of the count (sample tier only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ci95: Option<[u64; 2]>,
    /// Users left after each top-level condition (scaled on the sample tier).
    pub steps: Vec<Step>,
    /// What to read the answer with: event windows with days that have no upload (counted
    /// as zero), each naming the condition's path and the days.
    pub warnings: Vec<Warning>,
}

/// Turns a rule error into a 400 naming the JSON path.
pub fn rule_error(e: engine::RuleError) -> ApiError {
    ApiError::InvalidRule { path: e.path.clone(), message: e.to_string() }
}

/// `POST /api/v1/apps/{app}/estimate`.
pub async fn estimate(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(app): ApiPath<String>,
    JsonBody(req): JsonBody<EstimateRequest>,
) -> Result<Json<EstimateResponse>, ApiError> {
    auth.app(&state, &app, Access::Read)?;
    if let Some(ds) = &req.ds {
        parse_ds(ds)?;
    }
    let rule = Rule::from_json(&req.rule).map_err(rule_error)?;
    let snaps = state.snapshots.clone();
    let retained = state.config.retention_days;
    let work = move || -> Result<EstimateResponse, ApiError> {
        let (ds, record) = snaps
            .day(&app, req.ds.as_deref())?
            .ok_or_else(|| ApiError::Missing("no published day with that date".into()))?;
        let manifest = snaps.manifest(&record.manifest)?;
        let earlier = snaps.earlier_days(&app, &ds, rule.longest_window())?;
        let plan = Plan::validate(&rule, &Snapshots::catalog(&manifest, &earlier, retained)).map_err(rule_error)?;
        let src = snaps.source(&manifest, req.tier, &plan.needs(), &earlier)?;
        let e = engine::evaluate(&plan, &src, EvalOptions { steps: true, members: false })
            .map_err(|e| ApiError::internal(e.to_string()))?;
        let universe = manifest.universe.count;
        Ok(match req.tier {
            Tier::Exact => EstimateResponse {
                ds,
                version: record.version,
                tier: req.tier,
                count: e.count,
                universe,
                ci95: None,
                steps: e.steps,
                warnings: plan.warnings().to_vec(),
            },
            Tier::Sample => {
                let n = manifest.sample.universe.count;
                let scale = |k: u64| engine::sample::estimate(k, n, universe);
                let total = scale(e.count);
                EstimateResponse {
                    ds,
                    version: record.version,
                    tier: req.tier,
                    count: total.count.round() as u64,
                    universe,
                    ci95: Some([total.lo.floor() as u64, total.hi.ceil() as u64]),
                    steps: e
                        .steps
                        .into_iter()
                        .map(|s| Step { path: s.path, count: scale(s.count).count.round() as u64 })
                        .collect(),
                    warnings: plan.warnings().to_vec(),
                }
            }
        })
    };
    Ok(Json(tokio::task::spawn_blocking(work).await.map_err(ApiError::internal)??))
}
