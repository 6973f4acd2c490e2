//! The stored experiment: one JSON record per `(app, id)`, written once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use engine::IdSet;
use wire::Experiment;

use super::ExperimentError;
use crate::snapshots::Snapshots;
use crate::store::Meta;

/// An experiment's groups: (name, members).
pub type FrozenGroups = Vec<(String, Arc<IdSet>)>;

/// Every experiment of an app with its groups: (experiment id, groups).
pub type AppGroups = Arc<Vec<(String, FrozenGroups)>>;

/// The experiment `id` of `app`.
///
/// # Errors
/// [`ExperimentError::NotFound`], or the store's failure.
pub fn load(meta: &Meta, app: &str, id: &str) -> Result<Experiment, ExperimentError> {
    let bytes = meta.experiment_get(app, id)?.ok_or_else(|| ExperimentError::NotFound(id.to_owned()))?;
    Ok(serde_json::from_slice(&bytes)?)
}

/// The app's experiments, by id.
///
/// # Errors
/// The store's failure, or a record that does not decode.
pub fn list(meta: &Meta, app: &str) -> Result<Vec<Experiment>, ExperimentError> {
    meta.experiment_list(app)?.into_iter().map(|(_, bytes)| Ok(serde_json::from_slice(&bytes)?)).collect()
}

/// Stores a new experiment.
///
/// # Errors
/// [`ExperimentError::Exists`] when the id is taken (nothing is replaced).
pub fn create(meta: &Meta, app: &str, record: &Experiment) -> Result<(), ExperimentError> {
    let bytes = serde_json::to_vec(record)?;
    if meta.experiment_create(app, &record.id, &bytes)? {
        Ok(())
    } else {
        Err(ExperimentError::Exists(record.id.clone()))
    }
}

/// The members of each group of a record.
///
/// # Errors
/// A group bitmap that cannot be read.
pub fn group_sets(snaps: &Snapshots, record: &Experiment) -> Result<FrozenGroups, ExperimentError> {
    record.groups.iter().map(|g| Ok((g.name.clone(), snaps.set(&g.blob)?))).collect()
}

/// The app's experiments with their group bitmaps (for `/user/tags`).
///
/// # Errors
/// The store's failure, or a group bitmap that cannot be read.
pub fn groups_of_app(snaps: &Snapshots, app: &str) -> Result<Vec<(String, FrozenGroups)>, ExperimentError> {
    list(snaps.meta(), app)?.into_iter().map(|record| Ok((record.id.clone(), group_sets(snaps, &record)?))).collect()
}

/// Every experiment's groups per app, kept for a second: `/user/tags` asks on every request,
/// and reading and decoding every experiment record of the app each time (experiments are never
/// deleted, so an app's list only grows) cost a lookup time in proportion to its history.
///
/// An experiment made through this process is seen at once ([`GroupsCache::forget`] after the
/// create); one made through another replica of a shared store within [`GroupsCache::FRESH`].
#[derive(Debug, Default)]
pub struct GroupsCache {
    apps: Mutex<HashMap<String, (Instant, AppGroups)>>,
}

impl GroupsCache {
    /// How long a read list is answered from memory.
    pub const FRESH: Duration = Duration::from_secs(1);

    /// The app's experiments with their group bitmaps, from memory when fresh.
    ///
    /// # Errors
    /// As [`groups_of_app`].
    pub fn get(&self, snaps: &Snapshots, app: &str) -> Result<AppGroups, ExperimentError> {
        let lock = || self.apps.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((at, groups)) = lock().get(app)
            && at.elapsed() < Self::FRESH
        {
            return Ok(groups.clone());
        }
        // Read outside the lock, so a miss on one app does not hold up lookups of others.
        let read_at = Instant::now();
        let groups = Arc::new(groups_of_app(snaps, app)?);
        lock().insert(app.to_owned(), (read_at, groups.clone()));
        Ok(groups)
    }

    /// Drops the app's list (after an experiment was made), so the next lookup reads it.
    pub fn forget(&self, app: &str) {
        self.apps.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(app);
    }
}

/// The members of one group.
///
/// # Errors
/// [`ExperimentError::NotFound`] or [`ExperimentError::NoGroup`].
pub fn group_members(snaps: &Snapshots, app: &str, id: &str, group: &str) -> Result<Arc<IdSet>, ExperimentError> {
    let record = load(snaps.meta(), app, id)?;
    let g = record
        .groups
        .iter()
        .find(|g| g.name == group)
        .ok_or_else(|| ExperimentError::NoGroup { id: id.to_owned(), group: group.to_owned() })?;
    Ok(snaps.set(&g.blob)?)
}
