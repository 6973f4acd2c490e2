//! The stored experiment: one JSON record per `(app, id)`, written once.

use std::sync::Arc;

use engine::IdSet;
use wire::Experiment;

use super::ExperimentError;
use crate::snapshots::Snapshots;
use crate::store::Meta;

/// An experiment's groups: (name, members).
pub type FrozenGroups = Vec<(String, Arc<IdSet>)>;

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
