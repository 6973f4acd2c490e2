//! Tag governance (issue 15), HTTP over [`crate::governance`]: the catalog (`…/groups`,
//! `PATCH …/groups/{group}`), held uploads (`…/holds`, `…/holds/{id}/approve|reject`), and
//! the versions of a day (`…/days/{ds}/versions`, `…/days/{ds}/groups/{group}/restore`), and
//! composite tags (`…/composites`, `PUT|DELETE …/composites/{group}`).
//!
//! Approving, rejecting and restoring run under the app's publish lock, so a decision and a
//! publish cannot interleave: a hold is published once or discarded, never both.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use wire::{
    AuditAction, Composite, CompositeInput, CompositeList, DayVersions, GroupChange, GroupList, GroupPatch, Hold,
    HoldList, HoldState, IngestResult, RestoreRequest,
};

use crate::audit::{self, Event};
use crate::auth::{Access, Auth, validate_id};
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery, JsonBody};
use crate::governance::{self, composites, holds, versions};
use crate::ids::AppIds;
use crate::privacy::utc_day;
use crate::publish::{Context, Gate};
use crate::routes::blocking;
use crate::routes::ids::parse_ds;
use crate::routes::ingest::{Published, held_upload, publish_staged, stage_file};
use crate::state::AppState;

/// `GET /api/v1/apps/{app}/groups`.
pub async fn list(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(app): ApiPath<String>,
) -> Result<Json<GroupList>, ApiError> {
    let scope = auth.app(&state, &app, Access::Read)?;
    let aggregate = scope.role == Some(wire::Role::Aggregate);
    let work = move || -> Result<GroupList, ApiError> {
        let mut list = governance::list(&state.snapshots, &app, &utc_day(now_ms()))?;
        if aggregate {
            // An aggregate token sees each value's holders as its manifest shows them: noisy,
            // withheld (0) below the app's minimum audience, never exact.
            let noise = crate::privacy::settings(&state.meta, &app)?.noise();
            let latest = match state.meta.latest_day(&app)? {
                Some((_, r)) => Some(crate::privacy::views::manifest(&*state.snapshots.manifest(&r.manifest)?, &noise)),
                None => None,
            };
            for g in &mut list.groups {
                let shown = latest.as_ref().and_then(|m| m.group(&g.name));
                for v in &mut g.values {
                    v.holders = shown.and_then(|e| e.values.iter().find(|x| x.value == v.value)).map_or(0, |x| x.count);
                }
            }
        }
        Ok(list)
    };
    Ok(Json(blocking(work).await?))
}

/// `PATCH /api/v1/apps/{app}/groups/{group}`.
pub async fn patch(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((app, group)): ApiPath<(String, String)>,
    JsonBody(body): JsonBody<GroupPatch>,
) -> Result<Json<GroupChange>, ApiError> {
    auth.app(&state, &app, Access::Write)?;
    validate_id("group", &group)?;
    let actor = auth.actor();
    let change = blocking(move || -> Result<GroupChange, ApiError> {
        let change = governance::patch(&state.snapshots, &app, &group, &body, &utc_day(now_ms()))?;
        if !body.dry_run {
            let fields = patched_fields(&body);
            let event = Event::new(AuditAction::ChangeGroup, group).detail(fields);
            audit::record(&state.meta, &app, &actor, event, now_ms())?;
        }
        Ok(change)
    })
    .await?;
    Ok(Json(change))
}

/// Query of `GET …/holds`.
#[derive(Debug, Deserialize)]
pub struct HoldsQuery {
    /// Decided holds too.
    #[serde(default)]
    all: bool,
}

/// `GET /api/v1/apps/{app}/holds`.
pub async fn holds(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(app): ApiPath<String>,
    ApiQuery(q): ApiQuery<HoldsQuery>,
) -> Result<Json<HoldList>, ApiError> {
    auth.app(&state, &app, Access::Membership)?;
    let holds = blocking(move || holds::list(&state.meta, &app, q.all)).await?;
    Ok(Json(HoldList { holds }))
}

/// `POST /api/v1/apps/{app}/holds/{id}/approve`: publishes the held upload as if uploaded now.
pub async fn approve(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((app, id)): ApiPath<(String, String)>,
) -> Result<Json<IngestResult>, ApiError> {
    auth.app(&state, &app, Access::Write)?;
    validate_id("id", &id)?;
    let by = auth.actor();
    let actor = by.clone();
    let mut publishing = state.publishing(&app).await?;
    let work = move || -> Result<IngestResult, ApiError> {
        let record = holds::waiting(&state.meta, &app, &id)?;
        let (upload, format) = held_upload(&record.hold.group, &record.params)?;
        let ds = parse_ds(&record.hold.ds)?;
        let dir = state.config.data_dir.join("uploads");
        let file = holds::restage(state.snapshots.blobs().as_ref(), &record, &dir)?;
        let ids = match &mut *publishing.ids {
            Some(ids) => ids,
            slot => slot.insert(AppIds::load(&state.snapshots, &app)?),
        };
        let staged = stage_file(file.path(), format, &upload, ids, state.config.max_bitmap_bytes)?;
        let (_, decided) = holds::decided(record.clone(), HoldState::Approved, by.clone(), now_ms(), None);
        let ctx = Context {
            by: Some(by),
            cause: wire::VersionCause::Approve,
            gate: Gate::Approved,
            restored_from: None,
            records: vec![(holds::key(&id), decided)],
        };
        match publish_staged(&state, &app, ds, staged, ids, ctx)? {
            Published::Done(result) => {
                // The version is known only now; the decision itself was committed with it.
                let version = result.version;
                state.meta.access_update(&app, &holds::key(&id), move |cur| {
                    let mut r: holds::HoldRecord = serde_json::from_slice(&cur?).ok()?;
                    r.hold.version = Some(version);
                    serde_json::to_vec(&r).ok()
                })?;
                let event = Event::new(AuditAction::ApproveHold, record.hold.group.clone())
                    .on(record.hold.ds.clone())
                    .detail(format!("hold {id}, published as version {version}"));
                audit::record(&state.meta, &app, &actor, event, now_ms())?;
                Ok(result)
            }
            Published::Held(_) => Err(ApiError::internal("an approved upload was held")),
        }
    };
    Ok(Json(blocking(work).await?))
}

/// `POST /api/v1/apps/{app}/holds/{id}/reject`: discards the held upload.
pub async fn reject(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((app, id)): ApiPath<(String, String)>,
) -> Result<Json<Hold>, ApiError> {
    auth.app(&state, &app, Access::Write)?;
    validate_id("id", &id)?;
    let by = auth.actor();
    let publishing = state.publishing(&app).await?;
    let actor = by.clone();
    let hold = blocking(move || -> Result<Hold, ApiError> {
        let _lock = publishing;
        let hold = holds::reject(&state.meta, &app, &id, by, now_ms())?;
        let event =
            Event::new(AuditAction::RejectHold, hold.group.clone()).on(hold.ds.clone()).detail(format!("hold {id}"));
        audit::record(&state.meta, &app, &actor, event, now_ms())?;
        Ok(hold)
    })
    .await?;
    Ok(Json(hold))
}

/// `GET /api/v1/apps/{app}/days/{ds}/versions`.
pub async fn day_versions(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((app, ds)): ApiPath<(String, String)>,
) -> Result<Json<DayVersions>, ApiError> {
    auth.app(&state, &app, Access::Membership)?;
    parse_ds(&ds)?;
    let work = move || -> Result<DayVersions, ApiError> {
        let current = state.meta.day(&app, &ds)?.map_or(0, |r| r.version);
        let versions = versions::list(&state.meta, &app, &ds)?;
        if current == 0 && versions.is_empty() {
            return Err(ApiError::Missing(format!("day {ds} was never published")));
        }
        Ok(DayVersions { ds, current, versions })
    };
    Ok(Json(blocking(work).await?))
}

/// `POST /api/v1/apps/{app}/days/{ds}/groups/{group}/restore`: publishes the group as it was
/// in an earlier version of the day, as a new version (later days that carried it follow).
pub async fn restore(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((app, ds, group)): ApiPath<(String, String, String)>,
    JsonBody(body): JsonBody<RestoreRequest>,
) -> Result<Json<IngestResult>, ApiError> {
    auth.app(&state, &app, Access::Write)?;
    let day = parse_ds(&ds)?;
    validate_id("group", &group)?;
    let by = auth.actor();
    let actor = by.clone();
    let mut publishing = state.publishing(&app).await?;
    let work = move || -> Result<IngestResult, ApiError> {
        let staged = versions::staged_from(&state.snapshots, &app, &ds, &group, body.version)?;
        let ids = match &mut *publishing.ids {
            Some(ids) => ids,
            slot => slot.insert(AppIds::load(&state.snapshots, &app)?),
        };
        let ctx = Context {
            by: Some(by),
            cause: wire::VersionCause::Restore,
            gate: Gate::Skip,
            restored_from: Some(body.version),
            records: Vec::new(),
        };
        match publish_staged(&state, &app, day, staged, ids, ctx)? {
            Published::Done(result) => {
                let event = Event::new(AuditAction::RestoreGroup, group.clone())
                    .on(ds.clone())
                    .detail(format!("as in version {}, published as version {}", body.version, result.version));
                audit::record(&state.meta, &app, &actor, event, now_ms())?;
                Ok(result)
            }
            Published::Held(_) => Err(ApiError::internal("a restore was held")),
        }
    };
    Ok(Json(blocking(work).await?))
}

/// `GET /api/v1/apps/{app}/composites`.
pub async fn list_composites(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(app): ApiPath<String>,
) -> Result<Json<CompositeList>, ApiError> {
    auth.app(&state, &app, Access::Read)?;
    let records = blocking(move || composites::records(&state.meta, &app)).await?;
    let composites = records.into_values().filter(|r| !r.deleted).map(|r| r.composite).collect();
    Ok(Json(CompositeList { composites }))
}

/// `PUT /api/v1/apps/{app}/composites/{group}`: defines (or redefines) a composite tag; its
/// group is computed on the latest day before the answer, on the older days by the app's
/// durable segments job.
pub async fn put_composite(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((app, group)): ApiPath<(String, String)>,
    JsonBody(body): JsonBody<CompositeInput>,
) -> Result<Json<Composite>, ApiError> {
    auth.app(&state, &app, Access::Write)?;
    validate_id("group", &group)?;
    let values = composites::validate(&body)?;
    let by = auth.actor();
    let (st, app_id) = (state.clone(), app.clone());
    let view = blocking(move || -> Result<Composite, ApiError> {
        // Segment writes that add references take the same lock: no two writes close a cycle together.
        let lock = st.segment_graphs.get(&app_id);
        let _held = lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (graph, mut names) = composites::graph(&st.meta, &app_id)?;
        let ever = composites::records(&st.meta, &app_id)?;
        names.insert(group.clone());
        let refs: Vec<(String, String)> = values
            .iter()
            .flat_map(|(v, r)| {
                composites::rule_refs(r, &names).into_iter().map(move |(p, n)| (format!("values.{v}.{p}"), n))
            })
            .collect();
        composites::check_cycle(graph, &composites::node(&group), &refs, &format!("composite tag `{group}`"))?;
        // After the cycle check: a rule naming its own group is the cycle it is, not a typo.
        check_against_latest_day(&st, &app_id, &group, &values, ever.contains_key(&group))?;
        let composite = composites::view(&group, &body.category, body.multi, &values, by.clone(), now_ms());
        composites::store(&st.meta, &app_id, &composites::Record { deleted: false, composite: composite.clone() })?;
        let names: Vec<&str> = values.iter().map(|(v, _)| v.as_str()).collect();
        let event =
            Event::new(AuditAction::DefineComposite, group.clone()).detail(format!("values {}", names.join(", ")));
        audit::record(&st.meta, &app_id, &by, event, now_ms())?;
        Ok(composite)
    })
    .await?;
    recompute_latest(&state, &app).await;
    Ok(Json(view))
}

/// `DELETE /api/v1/apps/{app}/composites/{group}`: the group leaves every day as it is next
/// computed (the latest day before the answer).
pub async fn delete_composite(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((app, group)): ApiPath<(String, String)>,
) -> Result<Json<Composite>, ApiError> {
    auth.app(&state, &app, Access::Write)?;
    validate_id("group", &group)?;
    let (st, app_id, actor) = (state.clone(), app.clone(), auth.actor());
    let gone = blocking(move || -> Result<Composite, ApiError> {
        let lock = st.segment_graphs.get(&app_id);
        let _held = lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let record = composites::records(&st.meta, &app_id)?
            .remove(&group)
            .filter(|r| !r.deleted)
            .ok_or_else(|| ApiError::Missing(format!("no composite tag `{group}`")))?;
        composites::store(
            &st.meta,
            &app_id,
            &composites::Record { deleted: true, composite: record.composite.clone() },
        )?;
        audit::record(&st.meta, &app_id, &actor, Event::new(AuditAction::DeleteComposite, group.clone()), now_ms())?;
        Ok(record.composite)
    })
    .await?;
    recompute_latest(&state, &app).await;
    Ok(Json(gone))
}

/// The fields a catalog patch sets, for its audit entry (`status offline, owner`).
fn patched_fields(p: &GroupPatch) -> String {
    let mut fields = Vec::new();
    let mut note = |set: bool, name: &str| {
        if set {
            fields.push(name.to_owned());
        }
    };
    note(p.display_name.is_some(), "display_name");
    note(p.description.is_some(), "description");
    note(p.owner.is_some(), "owner");
    note(p.category.is_some(), "category");
    note(p.cadence.is_some(), "cadence");
    note(p.quality.is_some(), "quality");
    if let Some(status) = &p.status {
        fields.push(format!(
            "status {}",
            serde_json::to_value(status).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
        ));
    }
    fields.join(", ")
}

/// Refuses a composite named like an uploaded group, and rules naming what the latest day
/// lacks (a typo is a 400 with its path now, not an empty value later).
fn check_against_latest_day(
    st: &AppState,
    app: &str,
    group: &str,
    values: &[(String, engine::Rule)],
    is_composite: bool,
) -> Result<(), ApiError> {
    let Some((_, day)) = st.snapshots.day(app, None)? else { return Ok(()) };
    let manifest = st.snapshots.manifest(&day.manifest)?;
    if manifest.group(group).is_some() && !is_composite {
        return Err(ApiError::Conflict(format!("`{group}` is an uploaded tag group, not a composite")));
    }
    let longest = values.iter().map(|(_, r)| r.longest_window()).max().unwrap_or(0);
    let earlier = st.snapshots.earlier_days(app, &manifest.ds, longest)?;
    let mut catalog = crate::snapshots::Snapshots::catalog(&manifest, &earlier, st.config.retention_days);
    for record in crate::segments::list_live(&st.meta, app)? {
        if !catalog.has_segment(&record.id) {
            catalog.add_segment(&record.id, 0);
        }
    }
    for (value, rule) in values {
        engine::Plan::validate(rule, &catalog).map_err(|e| ApiError::InvalidRule {
            path: format!("values.{value}.{}", e.path),
            message: e.to_string(),
        })?;
    }
    Ok(())
}

/// Computes the latest day now (the older days are queued on the durable job with the change)
/// and wakes the worker; a failure here is retried by the job.
async fn recompute_latest(state: &AppState, app: &str) {
    let (snaps, app_id) = (state.snapshots.clone(), app.to_owned());
    if let Ok(Ok(Some((ds, _)))) = tokio::task::spawn_blocking(move || snaps.day(&app_id, None)).await
        && let Err(e) = crate::jobs::worker::run_day(state, app, &ds).await
    {
        tracing::error!(app, error = %e, "computing composite tags on the latest day failed; the job retries it");
    }
    state.jobs.wake();
}
