//! The version log of every day: one record per version (`version/<ds>/<version>` in the app's
//! `access` table), written in the same transaction as the day pointer it describes, so the
//! log and the published versions cannot disagree. Each names its manifest; the manifests of
//! the newest [`RESTORABLE`] versions of each day (and the blobs they name) are kept by the
//! orphan-blob collector, so any group of those versions can be published again
//! ([`staged_from`]). Older versions stay listed, no longer restorable: keeping every
//! version's blobs forever would grow without bound under daily reloads.
//!
//! A day deleted and published again starts its versions at 1 again; records of its earlier
//! life are recognised by being older than its new version 1 and left out.

use std::collections::BTreeMap;

use engine::bsi::{Bsi, NumericColumn};
use engine::manifest::GroupEntry;
use engine::{IdSet, Manifest};
use wire::DayVersion;

use super::GovernanceError;
use crate::ids::NewUsers;
use crate::ingest::{Staged, StagedData, Upload};
use crate::snapshots::Snapshots;
use crate::store::{Meta, StoreError};

const PREFIX: &str = "version/";
/// Versions of a day whose manifests (and blobs) are kept for restoring.
pub const RESTORABLE: usize = 20;

/// The key of a day's version record.
pub fn key(ds: &str, version: u64) -> String {
    format!("{PREFIX}{ds}/{version:010}")
}

/// A day's versions of its current life, oldest first (restorable not yet set).
fn of_day(meta: &Meta, app: &str, ds: &str) -> Result<Vec<DayVersion>, StoreError> {
    let prefix = format!("{PREFIX}{ds}/");
    let all: Vec<DayVersion> = meta
        .access_list(app, &prefix, None, usize::MAX)?
        .into_iter()
        .filter_map(|(_, b)| serde_json::from_slice(&b).ok())
        .collect();
    Ok(current_life(all))
}

/// Leaves out records of an earlier life of the day (before it was deleted and published
/// again): those written before the current version 1.
fn current_life(mut all: Vec<DayVersion>) -> Vec<DayVersion> {
    all.sort_by_key(|v| v.version);
    let start = all.iter().find(|v| v.version == 1).map_or(0, |v| v.at_ms);
    all.retain(|v| v.at_ms >= start);
    all
}

/// A day's versions, newest first, with whether each is still restorable.
///
/// # Errors
/// The store failed.
pub fn list(meta: &Meta, app: &str, ds: &str) -> Result<Vec<DayVersion>, StoreError> {
    let mut all = of_day(meta, app, ds)?;
    all.reverse();
    for (i, v) in all.iter_mut().enumerate() {
        v.restorable = i < RESTORABLE;
    }
    Ok(all)
}

/// The manifests every app keeps for restoring (see the module docs), for the collector.
///
/// # Errors
/// The store failed.
pub fn kept_manifests(meta: &Meta, app: &str) -> Result<Vec<String>, StoreError> {
    let mut by_day: BTreeMap<String, Vec<DayVersion>> = BTreeMap::new();
    for (key, bytes) in meta.access_list(app, PREFIX, None, usize::MAX)? {
        let Some((ds, _)) = key.strip_prefix(PREFIX).and_then(|k| k.split_once('/')) else { continue };
        if let Ok(v) = serde_json::from_slice::<DayVersion>(&bytes) {
            by_day.entry(ds.to_owned()).or_default().push(v);
        }
    }
    Ok(by_day
        .into_values()
        .flat_map(|vs| {
            let mut vs = current_life(vs);
            vs.reverse();
            vs.into_iter().take(RESTORABLE).map(|v| v.manifest)
        })
        .collect())
}

/// A group as it was in version `version` of day `ds`, staged for publishing again: its
/// full-tier bitmaps read back (the sample tier is rebuilt by the publish, since the universe
/// may have grown since).
///
/// # Errors
/// An unknown or no longer restorable version, a group it lacks, unreadable data.
pub fn staged_from(
    snapshots: &Snapshots,
    app: &str,
    ds: &str,
    group: &str,
    version: u64,
) -> Result<Staged, GovernanceError> {
    let versions = list(snapshots.meta(), app, ds)?;
    let v = versions
        .iter()
        .find(|v| v.version == version)
        .ok_or_else(|| GovernanceError::field("version", format!("day {ds} has no version {version}")))?;
    if !v.restorable {
        return Err(GovernanceError::Conflict(format!(
            "version {version} of {ds} is older than the {RESTORABLE} versions whose data is kept"
        )));
    }
    let manifest: std::sync::Arc<Manifest> = snapshots.manifest(&v.manifest)?;
    let entry = manifest.group(group).ok_or_else(|| {
        GovernanceError::field("version", format!("version {version} of {ds} has no tag group `{group}`"))
    })?;
    staged_of(snapshots, entry)
}

fn staged_of(snapshots: &Snapshots, entry: &GroupEntry) -> Result<Staged, GovernanceError> {
    let set = |hash: &str| -> Result<IdSet, GovernanceError> { Ok((*snapshots.set(hash)?).clone()) };
    let (data, users, scale) = match &entry.numeric {
        Some(n) => {
            let exists = set(&n.bsi.exists.full.blob)?;
            let slices = n.bsi.slices.iter().map(|s| set(&s.full.blob)).collect::<Result<Vec<_>, _>>()?;
            let users = exists.len();
            let column =
                NumericColumn { scale: n.scale, offset: n.offset, max: n.max, bsi: Bsi::from_parts(exists, slices) };
            (StagedData::Column(column), users, n.scale)
        }
        None => {
            let values = entry
                .values
                .iter()
                .map(|v| Ok((v.value.clone(), set(&v.full.blob)?)))
                .collect::<Result<Vec<_>, GovernanceError>>()?;
            let users = values.iter().fold(IdSet::new(), |acc, (_, s)| acc.or(s)).len();
            (StagedData::Sets(values), users, 0)
        }
    };
    Ok(Staged {
        upload: Upload::Tag { group: entry.name.clone(), kind: entry.kind, category: entry.category.clone(), scale },
        rows: 0,
        users,
        new_users: NewUsers::U32(IdSet::new()),
        data,
    })
}
