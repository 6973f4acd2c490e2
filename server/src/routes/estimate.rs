//! `POST /api/v1/apps/{app}/estimate`: a rule's size on a day, with the same engine the
//! browser runs, on the exact tier or the sample tier (with a 95% interval), and the funnel.

use crate::extract::ApiPath;
use crate::routes::blocking;
use axum::Json;
use axum::extract::State;
use engine::{EvalOptions, Plan, Rule, Step};
use wire::{Estimate, EstimateRequest};

use crate::auth::{Access, Auth};
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::routes::ids::parse_ds;
use crate::snapshots::{Snapshots, Tier};
use crate::state::AppState;

/// `POST /api/v1/apps/{app}/estimate`.
pub async fn estimate(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(app): ApiPath<String>,
    JsonBody(req): JsonBody<EstimateRequest>,
) -> Result<Json<Estimate>, ApiError> {
    auth.app(&state, &app, Access::Read)?;
    if let Some(ds) = &req.ds {
        parse_ds(ds)?;
    }
    let rule = Rule::from_json(&req.rule.0)?;
    let snaps = state.snapshots.clone();
    let retained = state.config.retention_days;
    let work = move || -> Result<Estimate, ApiError> {
        let (ds, record) = snaps
            .day(&app, req.ds.as_deref())?
            .ok_or_else(|| ApiError::Missing("no published day with that date".into()))?;
        let manifest = snaps.manifest(&record.manifest)?;
        let earlier = snaps.earlier_days(&app, &ds, rule.longest_window())?;
        let plan = Plan::validate(&rule, &Snapshots::catalog(&manifest, &earlier, retained))?;
        let src = snaps.source(&manifest, req.tier, &plan.needs(), &earlier)?;
        let e = engine::evaluate(&plan, &src, EvalOptions { steps: true, members: false })
            .map_err(|e| ApiError::internal(e.to_string()))?;
        let universe = manifest.universe.count;
        Ok(match req.tier {
            Tier::Exact => Estimate {
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
                Estimate {
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
    Ok(Json(blocking(work).await?))
}
