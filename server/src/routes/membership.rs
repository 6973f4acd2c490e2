//! `GET /api/v1/apps/{app}/users/{user_id}/tags?ds=`: one user's tags and segments, read from
//! one published version (the day's pointer is read once, then only immutable data).

use std::sync::Arc;

use crate::extract::{ApiPath, ApiQuery};
use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::auth::validate_user_id;
use crate::auth::{Access, Auth};
use crate::error::ApiError;
use crate::membership::{EventsMap, TagsMap, UserIndex};
use crate::routes::ids::parse_ds;
use crate::state::AppState;

/// Query.
#[derive(Debug, Deserialize)]
pub struct TagsQuery {
    /// The day; the latest published day when absent.
    ds: Option<String>,
}

/// The answer.
#[derive(Debug, Serialize)]
pub struct UserTags<'a> {
    /// The external user id.
    pub user: &'a str,
    /// The day answered from.
    pub ds: &'a str,
    /// That day's version.
    pub version: u64,
    /// Values per tag group.
    pub tags: TagsMap<'a>,
    /// Segments the user is in that day.
    pub segments: &'a [&'a str],
    /// The user's counts of that day's events (events they did not do are left out).
    pub events: EventsMap<'a>,
    /// The user's group in each experiment that assigned it.
    pub experiments: std::collections::BTreeMap<String, String>,
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
    if let Some(ds) = &q.ds {
        parse_ds(ds)?;
    }
    // Reads here are a few microseconds (redb MVCC reads, cached index), so they run inline;
    // only building a version's index (seconds, once) goes to the blocking pool.
    let (ds, record) = state
        .snapshots
        .day(&app, q.ds.as_deref())?
        .ok_or_else(|| ApiError::Missing("no published day with that date".into()))?;
    let id = state.meta.dict_lookup(&app, &user)?.ok_or_else(|| ApiError::Missing("unknown user".into()))?;
    let index = match state.user_indexes.get(&record.manifest) {
        Some(index) => index,
        None => {
            let (st, manifest) = (state.clone(), record.manifest.clone());
            tokio::task::spawn_blocking(move || st.user_index(&manifest)).await.map_err(ApiError::internal)??
        }
    };
    if u64::from(id) >= index.universe() {
        // Known to the app, but first seen after this day.
        return Err(ApiError::Missing("unknown user on that day".into()));
    }
    let m = index.lookup(id);
    // Experiment groups are frozen app-wide (not per day); an app has few experiments.
    let mut experiments = std::collections::BTreeMap::new();
    for (exp, groups) in crate::routes::experiments::groups_of_app(&state, &app)? {
        if let Some((group, _)) = groups.iter().find(|(_, set)| set.contains(id)) {
            experiments.insert(exp, group.clone());
        }
    }
    let body = UserTags {
        user: &user,
        ds: &ds,
        version: record.version,
        tags: TagsMap(&m.tags),
        segments: &m.segments,
        events: EventsMap(&m.events),
        experiments,
    };
    Ok(Json(body).into_response())
}

impl AppState {
    /// The membership index of a manifest, built on first use.
    pub fn user_index(&self, manifest: &str) -> Result<Arc<UserIndex>, ApiError> {
        self.user_indexes.get_or_insert_with(manifest, || -> Result<Arc<UserIndex>, ApiError> {
            let m = self.snapshots.manifest(manifest)?;
            Ok(Arc::new(UserIndex::build(&self.snapshots, &m)?))
        })
    }
}
