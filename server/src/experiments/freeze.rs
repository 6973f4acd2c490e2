//! Creating an experiment: the request checked, the segment's members on the day split by the
//! salted hashes of their external ids, each group frozen as a bitmap, the record stored once.

use engine::IdSet;
use engine::split::Split;
use wire::{Experiment, ExperimentGroup, NewExperiment};

use super::{ExperimentError, record};
use crate::state::AppState;

/// Longest salt, in bytes.
pub const MAX_SALT_BYTES: usize = 128;

/// Checks the salt and groups of a request (ids and the day are the caller's to check).
///
/// # Errors
/// [`ExperimentError::Invalid`] naming `salt` or `groups`.
pub fn check(req: &NewExperiment) -> Result<Split, ExperimentError> {
    if req.salt.is_empty() || req.salt.len() > MAX_SALT_BYTES {
        return Err(ExperimentError::Invalid { field: "salt", message: format!("1 to {MAX_SALT_BYTES} bytes") });
    }
    Split::new(&req.salt, req.groups.clone())
        .map_err(|e| ExperimentError::Invalid { field: "groups", message: e.to_string() })
}

/// Splits the segment's members on the requested day (the latest when absent) and stores the
/// experiment. If the segment has no members on that day yet (a fresh segment still
/// backfilling), they are computed first, so a split never runs on an incomplete member set:
/// that publishes a day version, so the caller holds the app's publish lock.
///
/// # Errors
/// [`ExperimentError::NoDay`], [`ExperimentError::NoMembers`], [`ExperimentError::Exists`],
/// or a storage failure (nothing is stored then; group bitmaps already written are
/// unreferenced blobs).
pub fn freeze(
    state: &AppState,
    app: &str,
    req: &NewExperiment,
    split: &Split,
    now_ms: u64,
) -> Result<Experiment, ExperimentError> {
    let snaps = &state.snapshots;
    let (ds, day) = snaps.day(app, req.ds.as_deref())?.ok_or(ExperimentError::NoDay)?;
    let mut manifest = snaps.manifest(&day.manifest)?;
    if manifest.segment(&req.segment).is_none() {
        let specs = crate::publish::segment_specs(&state.meta, app)?;
        state.publisher.refresh_segments(app, &ds, &specs)?;
        let (_, day) = snaps.day(app, Some(&ds))?.ok_or(ExperimentError::NoDay)?;
        manifest = snaps.manifest(&day.manifest)?;
    }
    let entry = manifest
        .segment(&req.segment)
        .ok_or_else(|| ExperimentError::NoMembers { segment: req.segment.clone(), ds: ds.clone() })?;
    let members = snaps.set(&entry.members.full.blob)?;
    let min_audience = crate::privacy::settings(&state.meta, app)?.min_audience;
    crate::privacy::check_audience(min_audience, members.len(), format!("segment `{}` on {ds}", req.segment))?;
    let mut ids: Vec<Vec<u32>> = vec![Vec::new(); split.groups().len()];
    let kind = crate::ids::kind_of(&state.meta, app)?;
    crate::ids::externals(&state.meta, app, kind, members.iter(), |id, external| {
        if let Some(g) = split.assign(external) {
            ids[g].push(id);
        }
    })?;
    let mut groups = Vec::new();
    for (g, ids) in split.groups().iter().zip(ids) {
        let set = IdSet::from_sorted(&ids);
        let blob = snaps.blobs().put(&engine::blob::encode(&set))?;
        groups.push(ExperimentGroup { name: g.name.clone(), percent: g.percent, count: set.len(), blob });
    }
    let experiment = Experiment {
        id: req.id.clone(),
        segment: req.segment.clone(),
        ds,
        salt: req.salt.clone(),
        audience: members.len(),
        groups,
        created_ms: now_ms,
    };
    record::create(&state.meta, app, &experiment)?;
    // Membership lookups in this process see the new groups at once.
    state.experiment_groups.forget(app);
    Ok(experiment)
}
