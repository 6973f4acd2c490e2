//! `POST /api/v1/apps/{app}/estimate`: a rule's size on a day, with the same engine the
//! browser runs, on the exact tier or the sample tier (with a 95% interval), and the funnel.
//!
//! An `aggregate` token always gets the exact tier through [`crate::privacy`]: each count
//! (the total, every funnel step, the universe) noisy and seeded by the set it counts, those
//! below the app's `min_audience` withheld, and the new sets charged to its daily budget.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use engine::manifest::Manifest;
use engine::{EvalOptions, Plan, Rule, Step};
use wire::{Estimate, EstimateRequest, Role};

use crate::auth::{Access, Auth};
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::extract::{ApiPath, JsonBody};
use crate::privacy::{self, Noise, Seed};
use crate::routes::blocking;
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
    let scope = auth.app(&state, &app, Access::Read)?;
    if let Some(ds) = &req.ds {
        parse_ds(ds)?;
    }
    let rule = Rule::from_json(&req.rule.0)?;
    let token = auth.token_id().to_owned();
    let st = state.clone();
    let work = move || -> Result<Estimate, ApiError> {
        let snaps = &st.snapshots;
        let (ds, record) = snaps
            .day(&app, req.ds.as_deref())?
            .ok_or_else(|| ApiError::Missing("no published day with that date".into()))?;
        let manifest = snaps.manifest(&record.manifest)?;
        let earlier = snaps.earlier_days(&app, &ds, rule.longest_window())?;
        let retained = st.config.retention_days;
        let plan = Plan::validate(&rule, &Snapshots::catalog(&manifest, &earlier, retained))?;
        // Usage statistics (issue 15): a valid rule's groups, counted in memory and written
        // every few seconds (no store write on this path).
        st.usage.count(&app, &privacy::utc_day(now_ms()), &crate::governance::tag_refs(&rule));
        if scope.role == Some(Role::Aggregate) {
            let settings = privacy::settings(&st.meta, &app)?;
            let noise = settings.noise();
            let (mut answer, seeds) = protected(snaps, &noise, &rule, &plan, &manifest, &earlier, retained)?;
            st.budget.charge(&st.meta, &app, &token, &privacy::utc_day(now_ms()), &settings, &seeds)?;
            answer.ds = ds;
            answer.version = record.version;
            return Ok(answer);
        }
        let src = snaps.source(&manifest, req.tier, &plan.needs(), &earlier)?;
        // The chunks split across every core when the full tier is large enough to pay for the
        // threads (the engine's break-even); the sample tier stays on this thread.
        let e = engine::evaluate_parallel(&plan, &src, EvalOptions { steps: true, members: false }, cores())
            .map_err(|e| ApiError::internal(e.to_string()))?;
        let universe = manifest.universe.count;
        let exact = |count: u64| Some(count);
        Ok(match req.tier {
            Tier::Exact => Estimate {
                ds,
                version: record.version,
                tier: req.tier,
                count: exact(e.count),
                suppressed: false,
                noisy: false,
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
                    count: exact(total.count.round() as u64),
                    suppressed: false,
                    noisy: false,
                    universe,
                    ci95: Some([total.lo.floor() as u64, total.hi.ceil() as u64]),
                    steps: e
                        .steps
                        .into_iter()
                        .map(|s| Step {
                            path: s.path,
                            count: s.count.map(|c| scale(c).count.round() as u64),
                            suppressed: false,
                        })
                        .collect(),
                    warnings: plan.warnings().to_vec(),
                }
            }
        })
    };
    Ok(Json(blocking(work).await?))
}

/// Threads an evaluation may use: every core this process may run on.
fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// The estimate as an `aggregate` token gets it (`ds` and `version` left for the caller),
/// with the seeds of the sets it counted.
fn protected(
    snaps: &Snapshots,
    noise: &Noise,
    rule: &Rule,
    plan: &Plan,
    manifest: &Manifest,
    earlier: &[Arc<Manifest>],
    retained: u32,
) -> Result<(Estimate, Vec<Seed>), ApiError> {
    let mut seeds = Vec::new();
    // Seeded by the question (its canonical form) and the users it counts (the address their
    // blob would have): asking again, or in another order, gets the same answer; another
    // question about the same users gets other noise, so equal answers never tell the asker
    // that two sets are equal (which would tell them a user is not in one).
    let mut count_of = |rule: &Rule, plan: &Plan| -> Result<(u64, Seed), ApiError> {
        let src = snaps.source(manifest, Tier::Exact, &plan.needs(), earlier)?;
        let e = engine::evaluate_parallel(plan, &src, EvalOptions { steps: false, members: true }, cores())
            .map_err(|e| ApiError::internal(e.to_string()))?;
        let members = e.members.ok_or_else(|| ApiError::internal("the evaluation kept no members"))?;
        let label = format!("rule {}", privacy::canonical_rule(&rule.to_json()));
        let seed = noise.seed_of_set(&label, &[&engine::blob::hash(&engine::blob::encode(&members))]);
        seeds.push(seed);
        Ok((e.count, seed))
    };
    let (total, total_seed) = count_of(rule, plan)?;
    let catalog = Snapshots::catalog(manifest, earlier, retained);
    let steps = match rule {
        Rule::All(conditions) if conditions.len() > 1 => (0..conditions.len())
            .map(|i| {
                let prefix = if i + 1 == conditions.len() {
                    (total, total_seed)
                } else {
                    let prefix = Rule::All(conditions[..=i].to_vec());
                    count_of(&prefix, &Plan::validate(&prefix, &catalog)?)?
                };
                let p = noise.protect(prefix.0, &prefix.1);
                Ok(Step { path: format!("all[{i}]"), count: p.count, suppressed: p.suppressed })
            })
            .collect::<Result<Vec<_>, ApiError>>()?,
        _ => {
            let p = noise.protect(total, &total_seed);
            vec![Step { path: "$".into(), count: p.count, suppressed: p.suppressed }]
        }
    };
    let universe_seed = noise.seed_of_set("users", &[&manifest.universe.blob]);
    seeds.push(universe_seed);
    let p = noise.protect(total, &total_seed);
    let estimate = Estimate {
        ds: String::new(),
        version: 0,
        tier: Tier::Exact,
        count: p.count,
        suppressed: p.suppressed,
        noisy: true,
        universe: noise.protect_or_zero(manifest.universe.count, &universe_seed),
        ci95: None,
        steps,
        warnings: plan.warnings().to_vec(),
    };
    Ok((estimate, seeds))
}
