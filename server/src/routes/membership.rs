//! `GET /api/v1/apps/{app}/users/{user_id}/tags?ds=`: one user's tags and segments, read from
//! one published version (the day's pointer is read once, then only immutable data).

use std::sync::Arc;

use crate::extract::{ApiPath, ApiQuery};
use crate::routes::blocking;
use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::auth::validate_user_id;
use crate::auth::{Access, Auth};
use crate::error::ApiError;
use crate::membership::UserIndex;
use crate::routes::ids::parse_ds;
use crate::state::AppState;

/// Query.
#[derive(Debug, Deserialize)]
pub struct TagsQuery {
    /// The day; the latest published day when absent.
    ds: Option<String>,
}

/// `GET /api/v1/apps/{app}/users/{user_id}/tags`.
pub async fn user_tags(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((app, user)): ApiPath<(String, String)>,
    ApiQuery(q): ApiQuery<TagsQuery>,
) -> Result<Response, ApiError> {
    auth.app(&state, &app, Access::Membership)?;
    validate_user_id(&user)?;
    // Counted per day and token for the audit log, not logged one by one (see `crate::audit`).
    state.lookups.count(&app, &crate::privacy::utc_day(crate::clock::now_ms()), &auth.actor());
    if let Some(ds) = &q.ds {
        parse_ds(ds)?;
    }
    // Reads here are a few microseconds (redb MVCC reads, cached index), so they run inline;
    // only building a version's index (seconds, once) goes to the blocking pool.
    let (ds, record) = state
        .snapshots
        .day(&app, q.ds.as_deref())?
        .ok_or_else(|| ApiError::Missing("no published day with that date".into()))?;
    let kind = crate::ids::kind_of(&state.meta, &app)?;
    let id = match kind {
        wire::IdKind::Strings => state.meta.dict_lookup(&app, &user)?,
        // A number the app never published is not in the day's index (answered below).
        wire::IdKind::U32 => crate::ids::parse_u32(&user).ok(),
    }
    .ok_or_else(|| ApiError::Missing("unknown user".into()))?;
    let index = match state.user_indexes.get(&record.manifest) {
        Some(index) => index,
        None => {
            let (st, manifest) = (state.clone(), record.manifest.clone());
            blocking(move || st.user_index(&manifest)).await?
        }
    };
    // Known to the app, but first seen after this day (or, for u32 ids, never).
    let m = index.lookup(id).ok_or_else(|| ApiError::Missing("unknown user on that day".into()))?;
    // Experiment groups are frozen app-wide (not per day), read from memory (see `GroupsCache`).
    let mut experiments = std::collections::BTreeMap::new();
    for (exp, groups) in state.experiment_groups.get(&state.snapshots, &app)?.iter() {
        if let Some((group, _)) = groups.iter().find(|(_, set)| set.contains(id)) {
            experiments.insert(exp.clone(), group.clone());
        }
    }
    let body = wire::UserTags {
        user,
        ds,
        version: record.version,
        tags: m
            .tags
            .into_iter()
            .map(|(g, values)| (g.to_owned(), values.into_iter().map(String::from).collect()))
            .collect(),
        segments: m.segments.iter().map(|&s| s.to_owned()).collect(),
        events: m.events.iter().map(|&(e, n)| (e.to_owned(), n)).collect(),
        experiments,
    };
    Ok(Json(body).into_response())
}

impl AppState {
    /// The membership index of a manifest, built (or taken from another replica) on first use.
    pub fn user_index(&self, manifest: &str) -> Result<Arc<UserIndex>, ApiError> {
        self.user_indexes.get_or_insert_with(manifest, || -> Result<Arc<UserIndex>, ApiError> {
            let m = self.snapshots.manifest(manifest)?;
            let started = std::time::Instant::now();
            let (index, built) = UserIndex::shared(&self.snapshots, manifest, &m)?;
            let how = if built { "built" } else { "taken from the blob store" };
            tracing::info!(%manifest, ms = started.elapsed().as_millis() as u64, "membership index {how}");
            Ok(Arc::new(index))
        })
    }
}
