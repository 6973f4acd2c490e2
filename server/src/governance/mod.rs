//! Tag governance (issue 15): the catalog of an app's tag groups, quality checks that flag or
//! hold a publish, usage statistics, and the versions of every day.
//!
//! **The catalog is metadata.** A group's display name, description, owner, category, status,
//! cadence and quality policy live in one record per group (`catalog/<group>` in the app's
//! `access` table, beside the audit log), never in a manifest: changing them writes no blob and
//! no day version, and every day reads them at once. The category an upload names
//! (`?category=`) stays in its manifest; the catalog's, once set, is the one shown.
//!
//! **Offline** takes a group out of carry-forward from the day after the app's latest day
//! (`offline_from`): days published before keep it (their answers were given), days first
//! published from then on start without it, and a backfill does not bring it back into them.
//! The app leaves offline groups out of the builder and the profile. Segments using it stop
//! being computed on those days, and their history's error says the group went offline.
//!
//! | module | what it does |
//! |---|---|
//! | here | [`GovernanceError`], catalog records ([`CatalogRecord`]), a rule's tags, the catalog view and its changes |
//! | [`quality`] | the checks of an upload against the group's previous version (pure) |
//! | [`composites`] | composite tags: definitions, the dependency graph with segments, first-match values |
//! | [`holds`] | held uploads: staged as blobs, listed, approved (published as if uploaded now) or rejected |
//! | [`versions`] | the version log of every day, written with each publish; restoring a group from it |
//! | [`usage`] | estimates counted in memory per group and value, flushed every few seconds |

pub mod composites;
pub mod holds;
pub mod quality;
pub mod usage;
pub mod versions;

use std::collections::{BTreeMap, BTreeSet};

use engine::Rule;
use serde::{Deserialize, Serialize};
use wire::{
    Affected, Cadence, GroupChange, GroupInfo, GroupList, GroupPatch, GroupStatus, QualityCheck, QualityPolicy, Usage,
    ValueInfo,
};

use crate::ds::Ds;
use crate::snapshots::{SnapshotError, Snapshots};
use crate::store::{Meta, StoreError};

const CATALOG: &str = "catalog/";
const FLAGS: &str = "quality/";

/// Why a governance request failed.
#[derive(Debug, thiserror::Error)]
pub enum GovernanceError {
    /// A field of the request is wrong.
    #[error("{message}")]
    InvalidField {
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A rule of a composite tag is wrong (its path starts `values.<value>`).
    #[error("{message}")]
    InvalidRule {
        /// JSON path of the fault.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A composite tag would depend on itself.
    #[error("{message}")]
    Cycle {
        /// JSON path of the reference leading into the cycle.
        path: String,
        /// The definitions along it (`tag:<group>` for composites), the first repeated at the end.
        cycle: Vec<String>,
        /// What is wrong.
        message: String,
    },
    /// Nothing of that name.
    #[error("{0}")]
    NotFound(String),
    /// The request cannot be done in the current state (a decided hold, a version not kept).
    #[error("{0}")]
    Conflict(String),
    /// Reading published data failed.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A blob could not be read or written.
    #[error(transparent)]
    Blob(#[from] crate::store::BlobError),
    /// Publishing failed.
    #[error(transparent)]
    Publish(#[from] crate::publish::PublishError),
}

impl GovernanceError {
    pub(crate) fn field(field: &'static str, message: impl Into<String>) -> GovernanceError {
        GovernanceError::InvalidField { field, message: message.into() }
    }
}

/// A group's catalog record, as stored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CatalogRecord {
    /// Display name (empty: the group's name).
    #[serde(default)]
    pub display_name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Owner.
    #[serde(default)]
    pub owner: String,
    /// The catalog's category; `None`: the one of the latest upload.
    #[serde(default)]
    pub category: Option<String>,
    /// Status.
    #[serde(default)]
    pub status: GroupStatus,
    /// First day not carried to, while offline.
    #[serde(default)]
    pub offline_from: Option<String>,
    /// Cadence.
    #[serde(default)]
    pub cadence: Cadence,
    /// Quality policy.
    #[serde(default)]
    pub quality: QualityPolicy,
}

/// The failed checks of a group's latest load (`quality/<group>`), written with its publish.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Flags {
    /// The day loaded.
    pub ds: String,
    /// Checks that failed (empty: the latest load passed).
    pub failed: Vec<QualityCheck>,
}

/// The key of a group's flags record.
pub fn flags_key(group: &str) -> String {
    format!("{FLAGS}{group}")
}

/// How many of an app's groups have a latest load that failed a check.
///
/// # Errors
/// The store failed.
pub fn flagged(meta: &Meta, app: &str) -> Result<u64, StoreError> {
    Ok(read_all::<Flags>(meta, app, FLAGS)?.values().filter(|f| !f.failed.is_empty()).count() as u64)
}

/// Every catalog record of an app, by group.
///
/// # Errors
/// The store failed.
pub fn catalog(meta: &Meta, app: &str) -> Result<BTreeMap<String, CatalogRecord>, StoreError> {
    read_all(meta, app, CATALOG)
}

/// One group's catalog record (defaults when none is stored).
///
/// # Errors
/// The store failed.
pub fn record(meta: &Meta, app: &str, group: &str) -> Result<CatalogRecord, StoreError> {
    Ok(match meta.access_get(app, &format!("{CATALOG}{group}"))? {
        Some(bytes) => serde_json::from_slice(&bytes).unwrap_or_default(),
        None => CatalogRecord::default(),
    })
}

fn read_all<T: for<'de> Deserialize<'de>>(
    meta: &Meta,
    app: &str,
    prefix: &str,
) -> Result<BTreeMap<String, T>, StoreError> {
    Ok(meta
        .access_list(app, prefix, None, usize::MAX)?
        .into_iter()
        .filter_map(|(key, bytes)| Some((key.strip_prefix(prefix)?.to_owned(), serde_json::from_slice(&bytes).ok()?)))
        .collect())
}

/// The groups offline on day `ds`: not carried forward into it when it is first published.
///
/// # Errors
/// The store failed.
pub fn offline_on(meta: &Meta, app: &str, ds: &str) -> Result<BTreeMap<String, String>, StoreError> {
    Ok(catalog(meta, app)?
        .into_iter()
        .filter_map(|(g, r)| match (r.status, r.offline_from) {
            (GroupStatus::Offline, Some(from)) if from.as_str() <= ds => Some((g, from)),
            _ => None,
        })
        .collect())
}

/// The tag groups a rule names, each with the values it names (none for numeric tests).
///
/// ```
/// let r = engine::Rule::parse(r#"{"all":[{"tag":"g","in":["f"]},{"not":{"tag":"age",">=":18}}]}"#).unwrap();
/// let refs = server::governance::tag_refs(&r);
/// assert_eq!(refs["g"].iter().collect::<Vec<_>>(), vec!["f"]);
/// assert!(refs["age"].is_empty());
/// ```
pub fn tag_refs(rule: &Rule) -> BTreeMap<String, BTreeSet<String>> {
    fn walk(rule: &Rule, out: &mut BTreeMap<String, BTreeSet<String>>) {
        match rule {
            Rule::All(v) | Rule::Any(v) => v.iter().for_each(|r| walk(r, out)),
            Rule::Not(r) => walk(r, out),
            Rule::Tag { tag, values } => out.entry(tag.clone()).or_default().extend(values.iter().cloned()),
            Rule::Number { tag, .. } => {
                out.entry(tag.clone()).or_default();
            }
            Rule::Event { .. } | Rule::Segment(_) => {}
        }
    }
    let mut out = BTreeMap::new();
    walk(rule, &mut out);
    out
}

/// Who references what: live segments' rules and the experiments over them.
#[derive(Debug, Default)]
pub struct References {
    /// Segment → (group → values) named directly by its rule.
    pub tags: BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
    /// Segment → segments its rule names.
    pub segments: BTreeMap<String, BTreeSet<String>>,
    /// Segment → experiments over it.
    pub experiments: BTreeMap<String, Vec<String>>,
    /// Live composite tag → (group → values) its rules name.
    pub composites: BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
    /// Live composite tag → segments its rules name.
    pub composite_segments: BTreeMap<String, BTreeSet<String>>,
}

impl References {
    /// Reads an app's live segments and experiments.
    ///
    /// # Errors
    /// The store failed.
    pub fn load(meta: &Meta, app: &str) -> Result<References, StoreError> {
        let mut refs = References::default();
        for (id, bytes) in meta.segment_list(app)? {
            let Ok(record) = serde_json::from_slice::<crate::segments::sync::SegmentRecord>(&bytes) else { continue };
            let Some(live) = record.live() else { continue };
            let Some(rule) = live.spec.rule.as_ref().and_then(|r| Rule::from_json(r).ok()) else { continue };
            refs.segments.insert(id.clone(), rule.segment_refs().into_iter().map(|(_, s)| s).collect());
            refs.tags.insert(id, tag_refs(&rule));
        }
        for def in composites::defs(meta, app)?.0 {
            let mut tags: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            let mut segments = BTreeSet::new();
            for (_, rule) in &def.values {
                for (g, vals) in tag_refs(rule) {
                    tags.entry(g).or_default().extend(vals);
                }
                segments.extend(rule.segment_refs().into_iter().map(|(_, s)| s));
            }
            refs.composite_segments.insert(def.group.clone(), segments);
            refs.composites.insert(def.group, tags);
        }
        for (id, bytes) in meta.experiment_list(app)? {
            if let Ok(e) = serde_json::from_slice::<wire::Experiment>(&bytes) {
                refs.experiments.entry(e.segment).or_default().push(id);
            }
        }
        Ok(refs)
    }

    /// The segments naming `group` directly (with `value`, when given).
    pub fn direct(&self, group: &str, value: Option<&str>) -> Vec<String> {
        self.tags
            .iter()
            .filter(|(_, t)| t.get(group).is_some_and(|vals| value.is_none_or(|v| vals.contains(v))))
            .map(|(s, _)| s.clone())
            .collect()
    }

    /// The composite tags whose rules name `group` directly (with `value`, when given).
    pub fn direct_composites(&self, group: &str, value: Option<&str>) -> Vec<String> {
        self.composites
            .iter()
            .filter(|(_, t)| t.get(group).is_some_and(|vals| value.is_none_or(|v| vals.contains(v))))
            .map(|(c, _)| c.clone())
            .collect()
    }

    /// The segments and composite tags that depend on `group`, directly or through other
    /// segments and composites, and the experiments over those segments.
    pub fn affected(&self, group: &str) -> Affected {
        let mut hit: BTreeSet<String> = self.direct(group, None).into_iter().collect();
        let mut tags: BTreeSet<String> = self.direct_composites(group, None).into_iter().collect();
        loop {
            let mut segments: BTreeSet<String> = self
                .segments
                .iter()
                .filter(|(_, uses)| uses.iter().any(|u| hit.contains(u)))
                .map(|(s, _)| s.clone())
                .collect();
            segments.extend(tags.iter().flat_map(|t| self.direct(t, None)));
            let mut composites: BTreeSet<String> = tags.iter().flat_map(|t| self.direct_composites(t, None)).collect();
            composites.extend(
                self.composite_segments
                    .iter()
                    .filter(|(_, uses)| uses.iter().any(|u| hit.contains(u)))
                    .map(|(c, _)| c.clone()),
            );
            let (before_hit, before_tags) = (hit.len(), tags.len());
            hit.extend(segments);
            tags.extend(composites);
            if hit.len() == before_hit && tags.len() == before_tags {
                break;
            }
        }
        let experiments = self.experiments_of(hit.iter());
        Affected { segments: hit.into_iter().collect(), composites: tags.into_iter().collect(), experiments }
    }

    fn experiments_of<'a>(&self, segments: impl Iterator<Item = &'a String>) -> Vec<String> {
        let mut out: Vec<String> = segments
            .filter_map(|s| self.experiments.get(s))
            .flatten()
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        out.sort();
        out
    }

    fn usage(&self, group: &str, value: Option<&str>, estimates_30d: u64) -> Usage {
        let segments = self.direct(group, value);
        let experiments = self.experiments_of(segments.iter());
        Usage { segments, composites: self.direct_composites(group, value), experiments, estimates_30d }
    }
}

/// The catalog view of every group of an app: those on its latest day, and those only in the
/// catalog (offline ones no longer carried).
///
/// # Errors
/// Reading the store or the latest manifest failed.
pub fn list(snapshots: &Snapshots, app: &str, today: &str) -> Result<GroupList, GovernanceError> {
    let meta = snapshots.meta();
    let latest = meta.latest_day(app)?;
    let manifest = latest.as_ref().map(|(_, r)| snapshots.manifest(&r.manifest)).transpose()?;
    let records = catalog(meta, app)?;
    let flags: BTreeMap<String, Flags> = read_all(meta, app, FLAGS)?;
    let held = holds::pending_by_group(meta, app)?;
    let refs = References::load(meta, app)?;
    let counts = usage::last_30_days(meta, app, today)?;
    let composite_names: BTreeSet<String> = refs.composites.keys().cloned().collect();
    let mut names: BTreeSet<String> = records.keys().cloned().collect();
    if let Some(m) = &manifest {
        names.extend(m.groups.iter().map(|g| g.name.clone()));
    }
    let latest_ds = latest.map(|(d, _)| d);
    let groups = names
        .into_iter()
        .map(|name| {
            let entry = manifest.as_ref().and_then(|m| m.group(&name));
            let record = records.get(&name).cloned().unwrap_or_default();
            let count = counts.get(&name);
            let values = entry
                .map(|g| {
                    g.values
                        .iter()
                        .map(|v| ValueInfo {
                            value: v.value.clone(),
                            holders: v.count,
                            usage: refs.usage(
                                &name,
                                Some(&v.value),
                                count.and_then(|c| c.values.get(&v.value)).copied().unwrap_or(0),
                            ),
                        })
                        .collect()
                })
                .unwrap_or_default();
            let latest_loaded_ds = entry.map(|g| g.loaded_ds.clone());
            let stale = is_stale(record.cadence, latest_loaded_ds.as_deref(), latest_ds.as_deref());
            GroupInfo {
                display_name: if record.display_name.is_empty() { name.clone() } else { record.display_name.clone() },
                description: record.description.clone(),
                owner: record.owner.clone(),
                category: record.category.clone().or_else(|| entry.map(|g| g.category.clone())).unwrap_or_default(),
                kind: entry.map(|g| kind_name(g.kind).to_owned()),
                status: record.status,
                offline_from: record.offline_from.clone(),
                cadence: record.cadence,
                quality: record.quality,
                latest_loaded_ds,
                stale,
                flags: flags.get(&name).map(|f| f.failed.clone()).unwrap_or_default(),
                held: held.get(&name).copied().unwrap_or(0),
                usage: refs.usage(&name, None, count.map_or(0, |c| c.total)),
                values,
                composite: composite_names.contains(&name),
                name,
            }
        })
        .collect();
    Ok(GroupList { latest_ds, groups })
}

fn kind_name(kind: engine::TagKind) -> &'static str {
    match kind {
        engine::TagKind::Categorical => "categorical",
        engine::TagKind::Boolean => "boolean",
        engine::TagKind::Numeric => "numeric",
    }
}

/// Whether a group loaded last on `loaded` is stale on the app's latest day `latest`.
///
/// ```
/// use server::governance::is_stale;
/// use wire::Cadence;
/// assert!(is_stale(Cadence::Daily, Some("2026-11-19"), Some("2026-11-20")));
/// assert!(!is_stale(Cadence::Daily, Some("2026-11-20"), Some("2026-11-20")));
/// assert!(!is_stale(Cadence::Weekly, Some("2026-11-14"), Some("2026-11-20")));
/// assert!(is_stale(Cadence::Weekly, Some("2026-11-13"), Some("2026-11-20")));
/// assert!(!is_stale(Cadence::Adhoc, Some("2020-01-01"), Some("2026-11-20")));
/// ```
pub fn is_stale(cadence: Cadence, loaded: Option<&str>, latest: Option<&str>) -> bool {
    let days = match cadence {
        Cadence::Daily => 1,
        Cadence::Weekly => 7,
        Cadence::Monthly => 31,
        Cadence::Adhoc => return false,
    };
    match (loaded.and_then(|d| d.parse::<Ds>().ok()), latest.and_then(|d| d.parse::<Ds>().ok())) {
        (Some(loaded), Some(latest)) => loaded.add_days(days) <= latest,
        (None, Some(_)) => true,
        _ => false,
    }
}

/// Checks a patch and applies it to `record`. `latest` is the app's latest day: a group going
/// offline leaves carry-forward from the day after it.
///
/// # Errors
/// A field out of bounds, naming it.
pub fn apply_patch(
    mut record: CatalogRecord,
    patch: &GroupPatch,
    latest: Option<&str>,
) -> Result<CatalogRecord, GovernanceError> {
    fn text(field: &'static str, value: &Option<String>, max: usize) -> Result<Option<String>, GovernanceError> {
        match value {
            Some(v) if v.chars().count() > max => {
                Err(GovernanceError::field(field, format!("at most {max} characters")))
            }
            Some(v) if v.chars().any(char::is_control) && field != "description" => {
                Err(GovernanceError::field(field, "no control characters"))
            }
            other => Ok(other.as_ref().map(|v| v.trim().to_owned())),
        }
    }
    if let Some(v) = text("display_name", &patch.display_name, 100)? {
        record.display_name = v;
    }
    if let Some(v) = text("description", &patch.description, 2000)? {
        record.description = v;
    }
    if let Some(v) = text("owner", &patch.owner, 100)? {
        record.owner = v;
    }
    if let Some(c) = &patch.category {
        if !crate::ingest::valid_category(c) {
            return Err(GovernanceError::field(
                "category",
                "a path like `demographics/location` (letters, digits, _ - . and spaces)",
            ));
        }
        record.category = Some(c.clone());
    }
    if let Some(q) = patch.quality {
        if !(0.0..=1000.0).contains(&q.max_change_pct) || q.max_change_pct.is_nan() {
            return Err(GovernanceError::field("quality", "max_change_pct is a percentage from 0 to 1000"));
        }
        record.quality = q;
    }
    if let Some(c) = patch.cadence {
        record.cadence = c;
    }
    match (patch.status, record.status) {
        (Some(GroupStatus::Offline), GroupStatus::Active) => {
            let from = latest.and_then(|d| d.parse::<Ds>().ok()).map(|d| d.add_days(1).to_string());
            record.status = GroupStatus::Offline;
            // With no day published yet, the group is out from the first day.
            record.offline_from = Some(from.unwrap_or_else(|| "0000-00-00".to_owned()));
        }
        (Some(GroupStatus::Active), GroupStatus::Offline) => {
            record.status = GroupStatus::Active;
            record.offline_from = None;
        }
        _ => {}
    }
    Ok(record)
}

/// Changes a group's catalog record (or, for a dry run, says what would change and who is
/// affected). The group must be on the app's latest day or in the catalog.
///
/// # Errors
/// An unknown group, a bad field, the store.
pub fn patch(
    snapshots: &Snapshots,
    app: &str,
    group: &str,
    patch: &GroupPatch,
    today: &str,
) -> Result<GroupChange, GovernanceError> {
    let meta = snapshots.meta();
    let latest = meta.latest_day(app)?;
    let on_latest = match &latest {
        Some((_, r)) => snapshots.manifest(&r.manifest)?.group(group).is_some(),
        None => false,
    };
    let key = format!("{CATALOG}{group}");
    let stored = meta.access_get(app, &key)?;
    if !on_latest && stored.is_none() {
        return Err(GovernanceError::NotFound(format!("no tag group `{group}` on the latest day or in the catalog")));
    }
    let current: CatalogRecord = stored.and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
    let latest_ds = latest.as_ref().map(|(d, _)| d.as_str());
    let next = apply_patch(current.clone(), patch, latest_ds)?;
    let affected = if next.status == GroupStatus::Offline && current.status == GroupStatus::Active {
        References::load(meta, app)?.affected(group)
    } else {
        Affected::default()
    };
    let applied = !patch.dry_run && next != current;
    if applied {
        let bytes = serde_json::to_vec(&next).unwrap_or_default();
        // Read-change-write: a concurrent patch of another field is not lost, one of the same
        // field is last-writer-wins (the catalog has no versions to compare).
        let p = patch.clone();
        let latest_owned = latest_ds.map(str::to_owned);
        meta.access_update(app, &key, move |cur| {
            let cur: CatalogRecord = cur.and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
            apply_patch(cur, &p, latest_owned.as_deref()).ok().and_then(|r| serde_json::to_vec(&r).ok()).or(Some(bytes))
        })?;
    }
    let view = list(snapshots, app, today)?;
    let mut info =
        view.groups.into_iter().find(|g| g.name == group).ok_or_else(|| GovernanceError::NotFound(group.to_owned()))?;
    if patch.dry_run {
        // Show the record as it would be.
        info.display_name = if next.display_name.is_empty() { group.to_owned() } else { next.display_name.clone() };
        info.description = next.description.clone();
        info.owner = next.owner.clone();
        if let Some(c) = &next.category {
            info.category = c.clone();
        }
        info.status = next.status;
        info.offline_from = next.offline_from.clone();
        info.cadence = next.cadence;
        info.quality = next.quality;
    }
    Ok(GroupChange { applied, group: info, affected })
}

/// What the quality checks need of a published group: its holders (the union of its values'
/// bitmaps, read from the store; a numeric group's users with a value) and each value's.
///
/// # Errors
/// A bitmap could not be read.
pub fn side(
    snapshots: &Snapshots,
    entry: &engine::manifest::GroupEntry,
    universe: u64,
) -> Result<quality::Side, SnapshotError> {
    let (holders, range) = match &entry.numeric {
        Some(n) => (n.bsi.exists.full.count, Some(decimal_range(n.min, n.max, n.scale))),
        None if entry.values.len() == 1 => (entry.values[0].count, None),
        None => {
            let mut all = engine::IdSet::new();
            for v in &entry.values {
                all = all.or(&*snapshots.set(&v.full.blob)?);
            }
            (all.len(), None)
        }
    };
    let values = entry.values.iter().map(|v| (v.value.clone(), v.count)).collect();
    Ok(quality::Side { holders, universe, values, range })
}

/// [`side`], or `None` when the previous version's bitmaps cannot be read (damaged or
/// missing): an upload of the group is then compared with nothing rather than refused, since
/// uploading the same data again is how a damaged blob is healed (the error is logged, and the
/// checks say so with [`unreadable_previous`]).
pub fn side_if_readable(
    snapshots: &Snapshots,
    entry: &engine::manifest::GroupEntry,
    universe: u64,
) -> Option<quality::Side> {
    match side(snapshots, entry, universe) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(group = %entry.name, error = %e, "previous version unreadable: quality checks compare with nothing");
            None
        }
    }
}

/// The (passing) check that says the previous version could not be read.
pub fn unreadable_previous() -> wire::QualityCheck {
    wire::QualityCheck {
        check: wire::CheckKind::Holders,
        ok: true,
        message: "the previous version's bitmaps could not be read (damaged or missing): not compared".into(),
        value: None,
        before: None,
        after: None,
    }
}

/// A numeric group's scaled range as decimals.
pub fn decimal_range(min: i64, max: i64, scale: u32) -> (f64, f64) {
    let unit = 10f64.powi(i32::try_from(scale).unwrap_or(0));
    (min as f64 / unit, max as f64 / unit)
}
