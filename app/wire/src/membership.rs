//! `GET /api/v1/apps/{app}/users/{user_id}/tags`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One user's tags, segments, events and experiment groups on a day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    /// The user's counts of the day's events (events not done are absent).
    pub events: BTreeMap<String, u64>,
    /// Experiment id → the user's group, for each experiment that assigned it.
    pub experiments: BTreeMap<String, String>,
}
