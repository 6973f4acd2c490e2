//! `GET /api/v1/apps/{app}/users/{user_id}/tags?ds=`: one user's tags and segments, read from
//! one published version (the day's pointer is read once, then only immutable data).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::extract::{ApiPath, ApiQuery};
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

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

/// The answer.
#[derive(Debug, Serialize)]
pub struct UserTags {
    /// The external user id.
    pub user: String,
    /// The day answered from.
    pub ds: String,
    /// That day's version.
    pub version: u64,
    /// Values per tag group.
    pub tags: BTreeMap<String, Vec<String>>,
    /// Segments the user is in that day.
    pub segments: Vec<String>,
}

/// `GET /api/v1/apps/{app}/users/{user_id}/tags`.
pub async fn user_tags(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((app, user)): ApiPath<(String, String)>,
    ApiQuery(q): ApiQuery<TagsQuery>,
) -> Result<Json<UserTags>, ApiError> {
    auth.app(&state, &app, Access::Membership)?;
    validate_user_id(&user)?;
    if let Some(ds) = &q.ds {
        parse_ds(ds)?;
    }
    let st = state.clone();
    let work = move || -> Result<UserTags, ApiError> {
        let (ds, record) = st
            .snapshots
            .day(&app, q.ds.as_deref())?
            .ok_or_else(|| ApiError::Missing("no published day with that date".into()))?;
        let id = st.meta.dict_lookup(&app, &user)?.ok_or_else(|| ApiError::Missing("unknown user".into()))?;
        let index = st.user_index(&record.manifest)?;
        if u64::from(id) >= st.snapshots.manifest(&record.manifest)?.universe.count {
            // Known to the app, but first seen after this day.
            return Err(ApiError::Missing("unknown user on that day".into()));
        }
        let m = index.lookup(id);
        Ok(UserTags { user, ds, version: record.version, tags: m.tags, segments: m.segments })
    };
    Ok(Json(tokio::task::spawn_blocking(work).await.map_err(ApiError::internal)??))
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
