//! `POST /api/v1/apps/{app}/funnel`, `…/overlap`, `…/pivot` (issue 16): HTTP over
//! [`engine::analysis`], the same functions the browser runs on downloaded bitmaps.
//!
//! Each handler checks its request into a plan (limits and names, each error a 400 naming the
//! field), loads the bitmaps it needs, and computes the exact answer with the engine. For an
//! `aggregate` token every count is protected as in [`super::estimate`]: noisy, seeded by the
//! question in canonical form and the content address of the set counted, withheld below the
//! app's `min_audience`, and the new seeds charged to the token's daily budget (these sets are
//! chosen by the caller). Shares and TGI are then computed from the noisy counts.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use engine::analysis::{funnel as funnels, overlap as overlaps, pivot as pivots};
use engine::manifest::Manifest;
use engine::{EvalOptions, IdSet, Plan, Rule};
use serde_json::json;
use wire::{Funnel, FunnelBy, FunnelRequest, Overlap, OverlapRequest, Pivot, PivotRequest, Role, SetRef, Tier};

use crate::auth::{Access, Auth};
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::extract::{ApiPath, JsonBody};
use crate::privacy::{self, Noise, Seed};
use crate::routes::blocking;
use crate::routes::ids::{parse_date, parse_ds};
use crate::snapshots::{Snapshots, pick};
use crate::state::AppState;

/// How counts are given: exact, or protected for an `aggregate` token (collecting the seeds).
struct Counter {
    noise: Option<Noise>,
    seeds: Vec<Seed>,
}

impl Counter {
    /// The count of `set` as this caller gets it; `label` is the question in canonical form.
    fn count(&mut self, label: &str, set: &IdSet) -> Option<u64> {
        match &self.noise {
            None => Some(set.len()),
            Some(noise) => {
                let seed = noise.seed_of_set(label, &[&engine::blob::hash(&engine::blob::encode(set))]);
                self.seeds.push(seed);
                noise.protect(set.len(), &seed).count
            }
        }
    }

    fn noisy(&self) -> bool {
        self.noise.is_some()
    }
}

/// Runs `work` with the caller's counter, then charges an aggregate token's new seeds.
fn with_counter<T>(
    st: &AppState,
    app: &str,
    role: Option<Role>,
    token: &str,
    work: impl FnOnce(&mut Counter) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let settings = (role == Some(Role::Aggregate)).then(|| privacy::settings(&st.meta, app)).transpose()?;
    let mut counter = Counter { noise: settings.as_ref().map(privacy::Settings::noise), seeds: Vec::new() };
    let answer = work(&mut counter)?;
    if let Some(settings) = settings {
        st.budget.charge(&st.meta, app, token, &privacy::utc_day(now_ms()), &settings, &counter.seeds)?;
    }
    Ok(answer)
}

/// A rule's error with its path inside the request (`audience.all[0]`).
fn rule_error(prefix: &str, on: Option<&str>, e: engine::RuleError) -> ApiError {
    let path = if e.path == "$" { prefix.to_owned() } else { format!("{prefix}.{}", e.path) };
    let message = match on {
        Some(ds) => format!("on {ds}: {e}"),
        None => e.to_string(),
    };
    ApiError::InvalidRule { path, message }
}

/// The members of `rule` on the day of `m`.
fn members(st: &AppState, app: &str, m: &Manifest, rule: &Rule, at: &str, on: Option<&str>) -> Result<IdSet, ApiError> {
    let snaps = &st.snapshots;
    let earlier = snaps.earlier_days(app, &m.ds, rule.longest_window())?;
    let catalog = Snapshots::catalog(m, &earlier, st.config.retention_days);
    let plan = Plan::validate(rule, &catalog).map_err(|e| rule_error(at, on, e))?;
    let src = snaps.source(m, Tier::Exact, &plan.needs(), &earlier)?;
    let e = engine::evaluate(&plan, &src, EvalOptions { steps: false, members: true })
        .map_err(|e| ApiError::internal(e.to_string()))?;
    e.members.ok_or_else(|| ApiError::internal("the evaluation kept no members"))
}

/// The published manifest of `ds` (the latest day when `None`).
fn day(st: &AppState, app: &str, ds: Option<&str>) -> Result<(String, Arc<Manifest>), ApiError> {
    let (ds, record) =
        st.snapshots.day(app, ds)?.ok_or_else(|| ApiError::Missing("no published day with that date".into()))?;
    Ok((ds, st.snapshots.manifest(&record.manifest)?))
}

/// A funnel request, checked.
#[derive(Debug, Clone)]
struct FunnelPlan {
    events: Vec<String>,
    days: Vec<String>,
    within_days: u32,
    audience: Option<Rule>,
    by: Option<String>,
    /// The question in canonical form (the seed's label).
    label: String,
}

/// Checks a funnel request against the limits: 1 to [`funnels::MAX_STEPS`] steps, `from ≤ to`,
/// at most `retained` days from `from` to `to`, `within_days ≤ retained`.
fn check_funnel(req: &FunnelRequest, retained: u32) -> Result<FunnelPlan, ApiError> {
    if req.steps.is_empty() || req.steps.len() > funnels::MAX_STEPS {
        return Err(ApiError::invalid_field("steps", format!("a funnel has 1 to {} steps", funnels::MAX_STEPS)));
    }
    for (i, s) in req.steps.iter().enumerate() {
        if engine::id::check_id(&s.event).is_err() {
            return Err(ApiError::invalid_field(
                "steps",
                format!("steps[{i}].event `{}` is not an event name", s.event),
            ));
        }
    }
    let from = parse_date("from", &req.from)?;
    let to = parse_date("to", &req.to)?;
    if to < from {
        return Err(ApiError::invalid_field("to", format!("`to` ({to}) is before `from` ({from})")));
    }
    let n_days = to.days_since_epoch() - from.days_since_epoch() + 1;
    if n_days > i32::try_from(retained).unwrap_or(i32::MAX) {
        return Err(ApiError::invalid_field(
            "from",
            format!("from `from` to `to` is {n_days} days; this server keeps {retained}"),
        ));
    }
    if req.within_days > retained {
        return Err(ApiError::invalid_field(
            "within_days",
            format!("within_days is at most the {retained} days this server keeps"),
        ));
    }
    let audience = req
        .audience
        .as_ref()
        .map(|r| Rule::from_json(&r.0))
        .transpose()
        .map_err(|e| rule_error("audience", None, e))?;
    let events: Vec<String> = req.steps.iter().map(|s| s.event.clone()).collect();
    let label = json!({
        "funnel": events,
        "from": from.to_string(),
        "to": to.to_string(),
        "within_days": req.within_days,
        "audience": audience.as_ref().map(|r| privacy::canonical_rule(&r.to_json())),
        "by": req.by,
    })
    .to_string();
    Ok(FunnelPlan {
        events,
        days: (0..n_days).map(|i| from.add_days(i).to_string()).collect(),
        within_days: req.within_days,
        audience,
        by: req.by.clone(),
        label,
    })
}

/// `POST /api/v1/apps/{app}/funnel`.
pub async fn funnel(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(app): ApiPath<String>,
    JsonBody(req): JsonBody<FunnelRequest>,
) -> Result<Json<Funnel>, ApiError> {
    let scope = auth.app(&state, &app, Access::Read)?;
    let plan = check_funnel(&req, state.config.retention_days)?;
    let token = auth.token_id().to_owned();
    let st = state.clone();
    let work = move || with_counter(&st, &app, scope.role, &token, |counter| compute_funnel(&st, &app, &plan, counter));
    Ok(Json(blocking(work).await?))
}

/// Who reached each step of a checked funnel on which day, and the latest published day of
/// its range (whose groups `by` reads).
fn reach_funnel(st: &AppState, app: &str, plan: &FunnelPlan) -> Result<(funnels::Reached, Arc<Manifest>), ApiError> {
    let snaps = &st.snapshots;
    let mut manifests: Vec<Option<Arc<Manifest>>> = Vec::with_capacity(plan.days.len());
    for ds in &plan.days {
        let m = snaps.day(app, Some(ds))?.map(|(_, record)| snaps.manifest(&record.manifest)).transpose()?;
        manifests.push(m);
    }
    let latest = manifests
        .iter()
        .rev()
        .flatten()
        .next()
        .cloned()
        .ok_or_else(|| ApiError::Missing("no published day between `from` and `to`".into()))?;
    let empty = Arc::new(IdSet::new());
    let mut columns: Vec<Vec<Arc<IdSet>>> = Vec::with_capacity(plan.events.len());
    for (i, event) in plan.events.iter().enumerate() {
        let mut days = Vec::with_capacity(plan.days.len());
        let mut seen = false;
        for m in &manifests {
            let entry = m.as_ref().and_then(|m| m.event(event));
            seen |= entry.is_some();
            days.push(match entry {
                Some(e) => snaps.set(&pick(Tier::Exact, &e.bsi.exists).blob)?,
                None => empty.clone(),
            });
        }
        if !seen {
            return Err(ApiError::invalid_field(
                "steps",
                format!("steps[{i}].event: no upload of `{event}` between `from` and `to`"),
            ));
        }
        columns.push(days);
    }
    let audience = match &plan.audience {
        None => None,
        Some(rule) => {
            let mut sets = Vec::with_capacity(plan.days.len());
            for (ds, m) in plan.days.iter().zip(&manifests) {
                sets.push(match m {
                    Some(m) => members(st, app, m, rule, "audience", Some(ds))?,
                    None => IdSet::new(),
                });
            }
            Some(sets)
        }
    };
    let steps: Vec<funnels::StepDays<'_>> = plan
        .events
        .iter()
        .zip(&columns)
        .map(|(event, days)| funnels::StepDays { event, days: days.iter().map(|s| &**s).collect() })
        .collect();
    let audience_refs: Option<Vec<&IdSet>> = audience.as_ref().map(|a| a.iter().collect());
    Ok((funnels::reach(&steps, audience_refs.as_deref(), plan.within_days), latest))
}

/// The users of step `step` (from 0) of the funnel `req`, exactly (with `dropped`, those of
/// them who did not reach the next step): the freeze route's `funnel` source. Errors as the
/// funnel route's, and `step` or `dropped` out of range.
pub(crate) fn funnel_step_users(
    st: &AppState,
    app: &str,
    req: &FunnelRequest,
    step: usize,
    dropped: bool,
) -> Result<IdSet, ApiError> {
    let plan = check_funnel(req, st.config.retention_days)?;
    let n = plan.events.len();
    if step >= n {
        return Err(ApiError::invalid_field("step", format!("the funnel has steps 0 to {}", n - 1)));
    }
    if dropped && step + 1 == n {
        return Err(ApiError::invalid_field("dropped", "nobody drops after the last step"));
    }
    let (reached, _) = reach_funnel(st, app, &plan)?;
    let users = reached.users(step);
    Ok(if dropped { users.and_not(&reached.users(step + 1)) } else { users })
}

fn compute_funnel(st: &AppState, app: &str, plan: &FunnelPlan, counter: &mut Counter) -> Result<Funnel, ApiError> {
    let snaps = &st.snapshots;
    let (reached, latest) = reach_funnel(st, app, plan)?;
    let by = match &plan.by {
        None => None,
        Some(group) => Some(group_values(snaps, &latest, group, "by")?),
    };
    let range = (plan.days[0].as_str(), plan.days[plan.days.len() - 1].as_str());
    if !counter.noisy() {
        let refs: Option<Vec<(String, &IdSet)>> =
            by.as_ref().map(|values| values.iter().map(|(v, s)| (v.clone(), &**s)).collect());
        return Ok(funnels::exact_answer(range, &plan.events, &reached, plan.within_days, refs.as_deref()));
    }
    let mut answer_of = |restrict: Option<(&str, &IdSet)>| {
        let summary = funnels::summarise(&reached, plan.within_days, restrict.map(|r| r.1));
        let mut counts = Vec::with_capacity(plan.events.len());
        let mut medians = Vec::with_capacity(plan.events.len());
        for k in 0..plan.events.len() {
            let users = reached.users(k);
            let (users, label) = match restrict {
                Some((value, set)) => (users.and(set), format!("{} step {k} value {value}", plan.label)),
                None => (users, format!("{} step {k}", plan.label)),
            };
            let count = counter.count(&label, &users);
            counts.push(count);
            medians.push(count.and_then(|_| funnels::median(&summary.gaps[k])));
        }
        funnels::answer_steps(&plan.events, &counts, &medians)
    };
    let overall = answer_of(None);
    let by = by.map(|values| {
        values
            .iter()
            .map(|(value, set)| FunnelBy { value: value.clone(), steps: answer_of(Some((value, set))) })
            .collect()
    });
    Ok(Funnel { from: range.0.to_owned(), to: range.1.to_owned(), steps: overall, by, noisy: true })
}

/// The values of a tag group on a day with their users (at most [`pivots::MAX_VALUES`]).
fn group_values(
    snaps: &Snapshots,
    m: &Manifest,
    group: &str,
    field: &'static str,
) -> Result<Vec<(String, Arc<IdSet>)>, ApiError> {
    let g = m
        .group(group)
        .filter(|g| g.numeric.is_none())
        .ok_or_else(|| ApiError::invalid_field(field, format!("no tag group `{group}` with values on {}", m.ds)))?;
    if g.values.len() > pivots::MAX_VALUES {
        return Err(ApiError::invalid_field(
            field,
            format!("`{group}` has {} values; at most {} fit", g.values.len(), pivots::MAX_VALUES),
        ));
    }
    g.values.iter().map(|v| Ok((v.value.clone(), snaps.set(&v.full.blob)?))).collect()
}

/// `POST /api/v1/apps/{app}/overlap`.
pub async fn overlap(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(app): ApiPath<String>,
    JsonBody(req): JsonBody<OverlapRequest>,
) -> Result<Json<Overlap>, ApiError> {
    let scope = auth.app(&state, &app, Access::Read)?;
    if let Some(ds) = &req.ds {
        parse_ds(ds)?;
    }
    if req.segments.is_empty() || req.segments.len() > overlaps::MAX_SETS {
        return Err(ApiError::invalid_field("segments", format!("an overlap takes 1 to {} sets", overlaps::MAX_SETS)));
    }
    let rules = req
        .segments
        .iter()
        .enumerate()
        .map(|(i, s)| match s {
            SetRef::Segment(_) => Ok(None),
            SetRef::Rule(r) => {
                Rule::from_json(&r.0).map(Some).map_err(|e| rule_error(&format!("segments[{i}]"), None, e))
            }
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let token = auth.token_id().to_owned();
    let st = state.clone();
    let work = move || {
        with_counter(&st, &app, scope.role, &token, |counter| {
            let (ds, m) = day(&st, &app, req.ds.as_deref())?;
            let mut sets = Vec::with_capacity(rules.len());
            let mut names = Vec::with_capacity(rules.len());
            let mut canonical = Vec::with_capacity(rules.len());
            for (i, (s, rule)) in req.segments.iter().zip(&rules).enumerate() {
                let at = format!("segments[{i}]");
                match (s, rule) {
                    (_, Some(rule)) => {
                        sets.push(Arc::new(members(&st, &app, &m, rule, &at, None)?));
                        names.push(at);
                        canonical.push(format!("rule {}", privacy::canonical_rule(&rule.to_json())));
                    }
                    (SetRef::Segment(id), None) => {
                        let seg = m.segment(id).ok_or_else(|| {
                            ApiError::invalid_field("segments", format!("{at}: no segment `{id}` on {ds}"))
                        })?;
                        sets.push(st.snapshots.set(&pick(Tier::Exact, &seg.members).blob)?);
                        names.push(id.clone());
                        canonical.push(format!("segment {id}"));
                    }
                    (SetRef::Rule(_), None) => return Err(ApiError::internal("a rule was not parsed")),
                }
            }
            let refs: Vec<&IdSet> = sets.iter().map(|s| &**s).collect();
            let label = json!({"overlap": canonical, "ds": ds}).to_string();
            let counts = overlaps::regions(&refs)
                .iter()
                .enumerate()
                .map(|(i, set)| counter.count(&format!("{label} region {}", i + 1), set))
                .collect();
            Ok(overlaps::answer(&ds, &names, counts, counter.noisy()))
        })
    };
    Ok(Json(blocking(work).await?))
}

/// `POST /api/v1/apps/{app}/pivot`.
pub async fn pivot(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(app): ApiPath<String>,
    JsonBody(req): JsonBody<PivotRequest>,
) -> Result<Json<Pivot>, ApiError> {
    let scope = auth.app(&state, &app, Access::Read)?;
    if let Some(ds) = &req.ds {
        parse_ds(ds)?;
    }
    let audience = req
        .audience
        .as_ref()
        .map(|r| Rule::from_json(&r.0))
        .transpose()
        .map_err(|e| rule_error("audience", None, e))?;
    let token = auth.token_id().to_owned();
    let st = state.clone();
    let work = move || {
        with_counter(&st, &app, scope.role, &token, |counter| {
            let (ds, m) = day(&st, &app, req.ds.as_deref())?;
            let rows = group_values(&st.snapshots, &m, &req.rows, "rows")?;
            let columns = group_values(&st.snapshots, &m, &req.columns, "columns")?;
            let audience_set = audience.as_ref().map(|r| members(&st, &app, &m, r, "audience", None)).transpose()?;
            let row_refs: Vec<&IdSet> = rows.iter().map(|(_, s)| &**s).collect();
            let column_refs: Vec<&IdSet> = columns.iter().map(|(_, s)| &**s).collect();
            let universe_set = st.snapshots.set(&m.universe.blob)?;
            let given = if counter.noisy() {
                let label = json!({
                    "pivot": [req.rows, req.columns],
                    "ds": ds,
                    "audience": audience.as_ref().map(|r| privacy::canonical_rule(&r.to_json())),
                })
                .to_string();
                let all_label = json!({"pivot": [req.rows, req.columns], "ds": ds}).to_string();
                let inside = pivots::cells(&row_refs, &column_refs, audience_set.as_ref());
                let cells = noisy_cells(counter, &label, &inside);
                let all = if audience_set.is_some() {
                    noisy_cells(counter, &all_label, &pivots::cells(&row_refs, &column_refs, None))
                } else {
                    cells.clone()
                };
                let universe = counter.count("users", &universe_set);
                let audience = match &audience_set {
                    Some(a) => counter.count(&format!("{label} audience"), a),
                    None => universe,
                };
                pivots::Given { cells, all, audience, universe, noisy: true }
            } else {
                pivots::Given::exact(&row_refs, &column_refs, audience_set.as_ref(), &universe_set)
            };
            let names = |values: Vec<(String, Arc<IdSet>)>| values.into_iter().map(|(v, _)| v).collect();
            Ok(pivots::answer(&ds, names(rows), names(columns), given))
        })
    };
    Ok(Json(blocking(work).await?))
}

fn noisy_cells(counter: &mut Counter, label: &str, cells: &[Vec<IdSet>]) -> Vec<Vec<Option<u64>>> {
    cells
        .iter()
        .enumerate()
        .map(|(i, row)| {
            row.iter().enumerate().map(|(j, set)| counter.count(&format!("{label} cell {i} {j}"), set)).collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(steps: usize, from: &str, to: &str, within_days: u32) -> FunnelRequest {
        FunnelRequest {
            steps: (0..steps).map(|_| wire::FunnelStepRequest { event: "visit".into() }).collect(),
            from: from.into(),
            to: to.into(),
            within_days,
            audience: None,
            by: None,
        }
    }

    /// The field of the error `check_funnel` gives.
    fn field(r: Result<FunnelPlan, ApiError>) -> &'static str {
        match r {
            Err(ApiError::InvalidField { field, .. }) => field,
            other => panic!("not a field error: {other:?}"),
        }
    }

    #[test]
    fn funnel_limits_name_the_field() {
        let ok = check_funnel(&request(2, "2026-01-01", "2026-01-03", 2), 30).expect("valid");
        assert_eq!(ok.days, vec!["2026-01-01", "2026-01-02", "2026-01-03"]);
        assert_eq!(field(check_funnel(&request(0, "2026-01-01", "2026-01-03", 2), 30)), "steps");
        assert_eq!(field(check_funnel(&request(9, "2026-01-01", "2026-01-03", 2), 30)), "steps");
        assert_eq!(field(check_funnel(&request(2, "2026-01-05", "2026-01-03", 2), 30)), "to");
        assert_eq!(field(check_funnel(&request(2, "2025-01-05", "2026-01-03", 2), 30)), "from");
        assert_eq!(field(check_funnel(&request(2, "2026-01-01", "2026-01-03", 31), 30)), "within_days");
        assert_eq!(field(check_funnel(&request(2, "x", "2026-01-03", 1), 30)), "from");
    }

    #[test]
    fn the_label_ignores_the_order_of_an_audience() {
        let mut a = request(2, "2026-01-01", "2026-01-03", 2);
        a.audience = Some(wire::Rule(json!({"all": [{"tag": "g", "in": ["x"]}, {"tag": "h", "in": ["y"]}]})));
        let mut b = a.clone();
        b.audience = Some(wire::Rule(json!({"all": [{"tag": "h", "in": ["y"]}, {"tag": "g", "in": ["x"]}]})));
        assert_eq!(check_funnel(&a, 30).expect("a").label, check_funnel(&b, 30).expect("b").label);
    }
}
