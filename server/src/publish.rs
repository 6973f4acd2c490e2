//! Publishing: staged uploads and segment changes become new, immutable day versions.
//!
//! A publish builds each affected day's new manifest aside (blobs written and fsynced first),
//! then one metadata transaction commits the new dictionary entries and every day pointer. A
//! reader therefore sees a day's old version or its new one, never a mix, and a crash at any
//! moment loses nothing that was acknowledged (the answer is sent after the commit).
//!
//! Rules (ARCHITECTURE.md, "Publishing"):
//! - a day that has never been published starts from the previous published day's tag groups
//!   (carried forward, keeping their `loaded_ds`); events are facts of one day and never carry;
//! - a tag upload for day D also replaces the group in later days that carried it from D or
//!   earlier (`loaded_ds ≤ D`), so a backfill flows forward until a newer upload takes over;
//! - every day's universe is the app's whole dictionary: all users ever seen;
//! - dynamic segments are recomputed on every new version of a day, static ones keep members;
//! - re-publishing identical content changes nothing (same manifest, same version);
//! - a tag group upload is checked against the group's previous version and may be held, and
//!   every changed day gets a version-log record in the same transaction (`governed`, issue 15);
//! - segments and composite tag groups are computed in rounds on every new version (`derived`).

use std::collections::BTreeMap;
use std::sync::Arc;

use engine::bsi::Bsi;
use engine::manifest::{MANIFEST_FORMAT, SampleInfo, SegmentError};
use engine::sample::SampleMap;
use engine::snapshot::{Blobs, GroupData, add_blob, build_event, build_group};
use engine::{IdSet, Manifest, Rule, TagKind};
use serde::Serialize;
use wire::IdKind;

use crate::clock::now_ms;
use crate::ds::Ds;
use crate::ids::{AppIds, NewUsers, sample_scheme};
use crate::ingest::{Staged, StagedData, Upload};
use crate::snapshots::{SnapshotError, Snapshots};
use crate::store::{DayRecord, Publish, StoreError};

mod derived;
mod governed;
pub use governed::{Context, Gate, Outcome};
use governed::{Log, Note, new_group_side};

/// Why a publish failed.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The day is older than the retention window allows.
    #[error("{ds} is older than the retention window ({retention_days} days back from {latest}, the latest day)")]
    OutOfRetention {
        /// The day asked for.
        ds: String,
        /// The app's latest published day.
        latest: String,
        /// Days kept.
        retention_days: u32,
    },
    /// The day is later than the horizon (today plus `--max-future-days`, UTC).
    #[error(
        "{ds} is beyond the horizon: the latest data day accepted is {horizon} (today + {max_future_days} \
         days, UTC); a far-future day would become the app's latest day and push every real day out of \
         the retention window"
    )]
    BeyondHorizon {
        /// The day asked for.
        ds: String,
        /// The latest day accepted now.
        horizon: String,
        /// Days after today accepted.
        max_future_days: u32,
    },
    /// Reading the current state failed.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    /// Writing failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Writing a blob failed.
    #[error(transparent)]
    Blob(#[from] crate::store::BlobError),
}

/// How a segment is computed on a day.
#[derive(Debug, Clone, PartialEq)]
pub enum SegmentDef {
    /// Members are whoever matches the rule that day.
    Dynamic {
        /// Segment id.
        id: String,
        /// Definition revision.
        revision: u64,
        /// The rule (wire form).
        rule: Rule,
    },
    /// Members are frozen.
    Static {
        /// Segment id.
        id: String,
        /// Definition revision.
        revision: u64,
        /// Address of the full-tier members blob.
        members: String,
    },
}

impl SegmentDef {
    fn id(&self) -> &str {
        match self {
            SegmentDef::Dynamic { id, .. } | SegmentDef::Static { id, .. } => id,
        }
    }
}

/// What a publish did, for the HTTP answer.
#[derive(Debug, Clone, Serialize)]
pub struct PublishReport {
    /// The day uploaded to.
    pub ds: String,
    /// Its version after the publish.
    pub version: u64,
    /// Whether anything changed (false for an identical re-upload).
    pub changed: bool,
    /// Address of the day's manifest.
    pub manifest: String,
    /// Later days that carried the group and were updated too.
    pub days_updated: Vec<String>,
}

/// Publishing settings and the read side it builds on.
#[derive(Debug)]
pub struct Publisher {
    /// Snapshot access (caches, stores).
    pub snapshots: Arc<Snapshots>,
    /// Days kept back from the latest published day.
    pub retention_days: u32,
    /// Latest data day accepted, in days after today (UTC).
    pub max_future_days: u32,
    /// Sample-tier rate for new versions.
    pub sample_rate: u32,
}

/// One day being rebuilt: its current version (0 = none) and the manifest it will get.
struct Draft {
    ds: String,
    expected_version: u64,
    current: Option<String>,
    manifest: Manifest,
    note: Note,
}

impl Publisher {
    /// Publishes a staged upload to day `ds` (and the later days that carry the group).
    /// `specs` are the app's live segments. The caller holds the app's publish lock. A tag
    /// group is checked against its previous version as `ctx.gate` says, and under a `hold`
    /// policy a failed check publishes nothing ([`Outcome::Held`]).
    pub fn publish_upload(
        &self,
        app: &str,
        ds: Ds,
        staged: Staged,
        ids: &mut AppIds,
        specs: &[SegmentDef],
        ctx: Context,
    ) -> Result<Outcome, PublishError> {
        if let Some(today) = today_utc() {
            check_horizon(ds, today, self.max_future_days)?;
        }
        let meta = self.snapshots.meta();
        let days = meta.days(app)?;
        self.check_retention(ds, &days)?;
        let ds_text = ds.to_string();
        let universe = ids.universe_with(&staged.new_users);
        let sample = SampleMap::with_scheme(&universe, self.sample_rate, sample_scheme(ids.kind()));
        let mut blobs = Blobs::new();
        let offline = crate::governance::offline_on(meta, app, &ds_text)?;
        let rows = staged.rows;
        let mut new_side: Option<crate::governance::quality::Side> = None;

        // The new piece of data, built once and placed in every affected day.
        enum Piece {
            Group(engine::manifest::GroupEntry),
            Event(engine::manifest::EventEntry),
        }
        let piece = match (&staged.upload, staged.data) {
            (Upload::Tag { group, kind, category, scale }, data) => {
                let mut g = GroupData {
                    name: group.clone(),
                    kind: *kind,
                    category: category.clone(),
                    loaded_ds: ds_text.clone(),
                    values: Vec::new(),
                    numeric: None,
                };
                match data {
                    StagedData::Values(values) => {
                        g.values = values.into_iter().map(|(v, ids)| (v, IdSet::from_unsorted(ids))).collect()
                    }
                    StagedData::Sets(values) => g.values = values,
                    StagedData::Numbers(pairs) => {
                        g.kind = TagKind::Numeric;
                        g.numeric = Some(engine::bsi::NumericColumn::from_scaled(*scale, pairs));
                    }
                    StagedData::Column(column) => {
                        g.kind = TagKind::Numeric;
                        g.numeric = Some(column);
                    }
                    StagedData::Counts(_) | StagedData::Bsi(_) => {}
                }
                new_side = Some(new_group_side(&g, universe.len()));
                Piece::Group(build_group(&g, &sample, &mut blobs))
            }
            (Upload::Event { name }, StagedData::Counts(counts)) => {
                Piece::Event(build_event(name, Bsi::from_pairs(counts), &sample, &mut blobs))
            }
            (Upload::Event { name }, StagedData::Bsi(bsi)) => Piece::Event(build_event(name, bsi, &sample, &mut blobs)),
            (Upload::Event { name }, _) => Piece::Event(build_event(name, Bsi::default(), &sample, &mut blobs)),
        };

        // Which days change: `ds` itself, and for a tag group the later days carrying it.
        let mut drafts = Vec::new();
        let existing: BTreeMap<&str, &DayRecord> = days.iter().map(|(d, r)| (d.as_str(), r)).collect();
        let base = match existing.get(ds_text.as_str()) {
            Some(r) => Some((*self.snapshots.manifest(&r.manifest)?).clone()),
            None => days
                .iter()
                .rev()
                .find(|(d, _)| d.as_str() < ds_text.as_str())
                .map(|(_, r)| self.snapshots.manifest(&r.manifest))
                .transpose()?
                .map(|m| carried_forward(&m, &offline)),
        };
        let name = match &piece {
            Piece::Group(g) => g.name.clone(),
            Piece::Event(e) => e.name.clone(),
        };
        let base = base.unwrap_or_else(|| empty_manifest(app, &ds_text));
        // The quality checks compare with the group as this day has it now (its own load or
        // the one it carried), and run before anything is written.
        let mut quality = None;
        let mut holders_before = None;
        if let (Some(new_side), Piece::Group(_)) = (&new_side, &piece) {
            let previous = match base.group(&name) {
                Some(g) => crate::governance::side_if_readable(&self.snapshots, g, base.universe.count),
                None => None,
            };
            holders_before = previous.as_ref().map(|p| p.holders);
            let (policy, approved) = match ctx.gate {
                Gate::Skip => (None, false),
                Gate::Check(p) => (Some(p), false),
                Gate::Approved => (Some(wire::QualityPolicy::default()), true),
            };
            if let Some(policy) = policy {
                let mut checks = crate::governance::quality::run(previous.as_ref(), new_side, rows, &policy);
                if previous.is_none() && base.group(&name).is_some() {
                    checks.push(crate::governance::unreadable_previous());
                }
                let failed = crate::governance::quality::failed(&checks);
                if failed && !approved && policy.policy == wire::QualityAction::Hold {
                    return Ok(Outcome::Held(checks));
                }
                let verdict = match (failed, approved) {
                    (_, true) => wire::Verdict::Approved,
                    (true, false) => wire::Verdict::Warn,
                    (false, false) => wire::Verdict::Pass,
                };
                quality = Some(wire::Quality { verdict, checks });
            }
        }
        let holders_after = new_side.as_ref().map(|s| s.holders);
        drafts.push(Draft {
            ds: ds_text.clone(),
            expected_version: existing.get(ds_text.as_str()).map_or(0, |r| r.version),
            current: existing.get(ds_text.as_str()).map(|r| r.manifest.clone()),
            manifest: base,
            note: Note { cause: ctx.cause, group: Some(name.clone()), rows: Some(rows), holders_before, holders_after },
        });
        if let Piece::Group(entry) = &piece {
            for (d, r) in days.iter().filter(|(d, _)| d.as_str() > ds_text.as_str()) {
                let m = self.snapshots.manifest(&r.manifest)?;
                // An offline group is not brought back into days it was left out of.
                let left_out = offline.contains_key(&entry.name)
                    || crate::governance::offline_on(meta, app, d)?.contains_key(&entry.name);
                let carries = match m.group(&entry.name) {
                    Some(g) => g.loaded_ds.as_str() <= ds_text.as_str(),
                    None => !left_out,
                };
                if carries {
                    let before = match m.group(&entry.name) {
                        Some(g) => {
                            crate::governance::side_if_readable(&self.snapshots, g, m.universe.count).map(|s| s.holders)
                        }
                        None => None,
                    };
                    drafts.push(Draft {
                        ds: d.clone(),
                        expected_version: r.version,
                        current: Some(r.manifest.clone()),
                        manifest: (*m).clone(),
                        note: Note {
                            cause: wire::VersionCause::Backfill,
                            group: Some(entry.name.clone()),
                            rows: None,
                            holders_before: before,
                            holders_after,
                        },
                    });
                }
            }
        }

        let universe_ref = add_blob(&universe, &mut blobs);
        let sample_universe = add_blob(&sample.universe(), &mut blobs);
        for d in &mut drafts {
            d.manifest.ds = d.ds.clone();
            d.manifest.app = app.to_owned();
            d.manifest.universe = universe_ref.clone();
            d.manifest.sample =
                SampleInfo { rate: self.sample_rate, universe: sample_universe.clone(), scheme: sample.scheme() };
            match &piece {
                Piece::Group(entry) => replace_by(&mut d.manifest.groups, entry.clone(), |g| &g.name),
                Piece::Event(entry) => replace_by(&mut d.manifest.events, entry.clone(), |e| &e.name),
            }
        }
        self.write_blobs(&blobs)?;
        for d in &mut drafts {
            self.compute_segments(&mut d.manifest, &sample, specs)?;
        }
        // Event windows of later days may reach this day: their segments are recomputed by the
        // app's durable job, queued in the same transaction as this publish.
        let recompute = match &piece {
            Piece::Event(_) => days_reached_by_windows(&days, ds),
            Piece::Group(_) => Vec::new(),
        };
        // A `u32` app's universe moves with the publish that adds users (its blob is written).
        let moved = (ids.kind() == IdKind::U32 && !staged.new_users.is_empty()).then(|| universe_ref.blob.clone());
        let mut records = ctx.records.clone();
        if let (Some(q), Piece::Group(_)) = (&quality, &piece) {
            // An approved hold was judged by an editor: it does not flag the group (the version
            // log keeps its failed checks).
            let failed = if q.verdict == wire::Verdict::Approved {
                Vec::new()
            } else {
                q.checks.iter().filter(|c| !c.ok).cloned().collect()
            };
            let flags = crate::governance::Flags { ds: ds_text.clone(), failed };
            records.push((crate::governance::flags_key(&name), serde_json::to_vec(&flags).unwrap_or_default()));
        }
        let log = Log { ctx: &ctx, quality: quality.as_ref(), records };
        let report = self.commit(app, &staged.new_users, moved.as_deref(), drafts, recompute, log)?;
        ids.commit(staged.new_users, universe);
        Ok(Outcome::Published(report, quality))
    }

    /// Recomputes segments on one day (after a segment changed) and publishes it if its
    /// members changed. Returns whether it changed, and the segments that could not be
    /// computed there (also recorded in the day's manifest). A day that is not published
    /// (deleted meanwhile) is nothing to do.
    pub fn refresh_segments(
        &self,
        app: &str,
        ds: &str,
        specs: &[SegmentDef],
    ) -> Result<(bool, Vec<SegmentError>), PublishError> {
        let meta = self.snapshots.meta();
        let Some(r) = meta.day(app, ds)? else { return Ok((false, Vec::new())) };
        let mut manifest = (*self.snapshots.manifest(&r.manifest)?).clone();
        let universe = self.snapshots.set(&manifest.universe.blob)?;
        let sample = SampleMap::with_scheme(&universe, manifest.sample.rate, manifest.sample.scheme);
        self.compute_segments(&mut manifest, &sample, specs)?;
        let errors = manifest.segment_errors.clone();
        let note = Note {
            cause: wire::VersionCause::Segments,
            group: None,
            rows: None,
            holders_before: None,
            holders_after: None,
        };
        let draft = Draft { ds: ds.to_owned(), expected_version: r.version, current: Some(r.manifest), manifest, note };
        // No new users: the dictionary (or universe) does not change.
        let ctx = Context {
            by: None,
            cause: wire::VersionCause::Segments,
            gate: Gate::Skip,
            restored_from: None,
            records: Vec::new(),
        };
        let log = Log { ctx: &ctx, quality: None, records: Vec::new() };
        let report = self.commit(app, &NewUsers::U32(IdSet::new()), None, vec![draft], Vec::new(), log)?;
        Ok((report.changed, errors))
    }

    fn check_retention(&self, ds: Ds, days: &[(String, DayRecord)]) -> Result<(), PublishError> {
        let Some(latest) = days.last().and_then(|(d, _)| d.parse::<Ds>().ok()) else { return Ok(()) };
        let oldest = latest.add_days(1 - self.retention_days as i32);
        if ds < oldest {
            return Err(PublishError::OutOfRetention {
                ds: ds.to_string(),
                latest: latest.to_string(),
                retention_days: self.retention_days,
            });
        }
        Ok(())
    }

    fn write_blobs(&self, blobs: &Blobs) -> Result<(), PublishError> {
        let all: Vec<&[u8]> = blobs.values().map(Vec::as_slice).collect();
        self.snapshots.blobs().put_many(&all)?;
        Ok(())
    }

    /// `set` without the users the day's universe lacks.
    fn within_universe(&self, set: IdSet, m: &Manifest) -> Result<IdSet, PublishError> {
        // Dense universes (`0..count`, string apps) need no read.
        if set.max().is_none_or(|max| u64::from(max) < m.universe.count && m.sample.scheme.is_rank()) {
            return Ok(set);
        }
        let universe = self.snapshots.set(&m.universe.blob)?;
        Ok(if set.difference_len(&universe) == 0 { set } else { set.and(&universe) })
    }

    /// Writes manifests and commits every day pointer with the new users: a string app's
    /// dictionary entries, or a `u32` app's `universe` blob.
    fn commit(
        &self,
        app: &str,
        new: &NewUsers,
        universe: Option<&str>,
        drafts: Vec<Draft>,
        recompute: Vec<String>,
        mut log: Log<'_>,
    ) -> Result<PublishReport, PublishError> {
        let store = self.snapshots.blobs();
        let mut days = Vec::new();
        // The flags and a hold's decision are written even when no day changes.
        let extra = std::mem::take(&mut log.records);
        let mut records = extra.clone();
        let mut first: Option<(String, u64, bool, String)> = None;
        let mut days_updated = Vec::new();
        let now = now_ms();
        for d in drafts {
            let json = d.manifest.to_json();
            let hash = engine::blob::hash(json.as_bytes());
            let changed = d.current.as_deref() != Some(hash.as_str());
            let version = if changed { d.expected_version + 1 } else { d.expected_version };
            if changed {
                store.put(json.as_bytes())?;
                days.push((
                    d.ds.clone(),
                    d.expected_version,
                    DayRecord { manifest: hash.clone(), version, published_ms: now },
                ));
                records.push(log.entry(&d, version, &hash, now));
            }
            if first.is_none() {
                first = Some((d.ds, version, changed, hash));
            } else if changed {
                days_updated.push(d.ds);
            }
        }
        if !days.is_empty() || !new.is_empty() {
            // Later days follow only a change: an identical re-upload queues nothing.
            let recompute = if days.is_empty() { Vec::new() } else { recompute };
            let (first_new_id, new_ids) = match new {
                NewUsers::Strings { first, ids } => (*first, ids.as_slice()),
                NewUsers::U32(_) => (0, &[][..]),
            };
            let records = if days.is_empty() { extra } else { records };
            self.snapshots.meta().publish(&Publish {
                app,
                first_new_id,
                new_ids,
                universe,
                days,
                recompute,
                records,
            })?;
        } else if !extra.is_empty() {
            self.snapshots.meta().publish(&Publish { app, records: extra, ..Publish::default() })?;
        }
        let (ds, version, changed, manifest) = first.unwrap_or_default();
        Ok(PublishReport { ds, version, changed, manifest, days_updated })
    }
}

/// Today's date in UTC, from the system clock.
fn today_utc() -> Option<Ds> {
    let days = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() / 86_400);
    Some(Ds::from_ymd(1970, 1, 1)?.add_days(i32::try_from(days).ok()?))
}

/// Refuses a data day later than `max_future_days` after `today`. Retention counts back from an
/// app's latest day, so one mistyped far-future day (2062 for 2026) would make every real day
/// "too old"; data days run at most a day ahead of UTC (time zones east of it).
///
/// ```
/// use server::ds::Ds;
/// use server::publish::check_horizon;
/// let today: Ds = "2026-12-04".parse().unwrap();
/// assert!(check_horizon("2026-12-05".parse().unwrap(), today, 1).is_ok());
/// assert!(check_horizon("2026-12-06".parse().unwrap(), today, 1).is_err());
/// assert!(check_horizon("2026-12-05".parse().unwrap(), today, 0).is_err());
/// ```
///
/// # Errors
/// [`PublishError::BeyondHorizon`] naming the day and the horizon.
pub fn check_horizon(ds: Ds, today: Ds, max_future_days: u32) -> Result<(), PublishError> {
    let horizon = today.add_days(i32::try_from(max_future_days).unwrap_or(i32::MAX));
    if ds > horizon {
        return Err(PublishError::BeyondHorizon { ds: ds.to_string(), horizon: horizon.to_string(), max_future_days });
    }
    Ok(())
}

/// A previous day's manifest as the start of a new day: tag groups only, offline ones left
/// out (issue 15: an offline group leaves carry-forward).
fn carried_forward(m: &Manifest, offline: &BTreeMap<String, String>) -> Manifest {
    let groups = m.groups.iter().filter(|g| !offline.contains_key(&g.name)).cloned().collect();
    Manifest { events: Vec::new(), segments: Vec::new(), segment_errors: Vec::new(), groups, ..m.clone() }
}

/// The published days after `ds` whose event windows (at most [`engine::rule::MAX_WINDOW_DAYS`]
/// long) can reach it: a late event upload changes what their segments count.
fn days_reached_by_windows(days: &[(String, DayRecord)], ds: Ds) -> Vec<String> {
    let last = ds.add_days(engine::rule::MAX_WINDOW_DAYS as i32 - 1);
    days.iter()
        .filter_map(|(d, _)| d.parse::<Ds>().ok().filter(|d| *d > ds && *d <= last).map(|d| d.to_string()))
        .collect()
}

fn empty_manifest(app: &str, ds: &str) -> Manifest {
    let empty = engine::manifest::BlobRef { count: 0, blob: String::new(), bytes: 0 };
    Manifest {
        format: MANIFEST_FORMAT,
        app: app.to_owned(),
        ds: ds.to_owned(),
        universe: empty.clone(),
        sample: SampleInfo { rate: engine::sample::DEFAULT_RATE, universe: empty, scheme: Default::default() },
        groups: Vec::new(),
        events: Vec::new(),
        segments: Vec::new(),
        segment_errors: Vec::new(),
    }
}

/// Replaces the item with the same name, or inserts it keeping names sorted.
fn replace_by<T>(items: &mut Vec<T>, item: T, name: impl Fn(&T) -> &String) {
    match items.binary_search_by(|x| name(x).cmp(name(&item))) {
        Ok(i) => items[i] = item,
        Err(i) => items.insert(i, item),
    }
}

/// The live segments of an app as publish computes them: dynamic ones by their rule, static
/// ones by their uploaded members (a static segment with no upload yet has no members).
pub fn segment_specs(meta: &crate::store::Meta, app: &str) -> Result<Vec<SegmentDef>, StoreError> {
    use crate::segments::sync::{SegmentKind, SegmentRecord};
    let mut out = Vec::new();
    for (id, bytes) in meta.segment_list(app)? {
        let record: SegmentRecord = serde_json::from_slice(&bytes)
            .map_err(|source| StoreError::Record { what: format!("segment {id}"), source })?;
        let Some(live) = record.live() else { continue };
        match (live.spec.kind, &live.spec.rule, &live.members) {
            (SegmentKind::Dynamic, Some(rule), _) => match Rule::from_json(rule) {
                Ok(rule) => out.push(SegmentDef::Dynamic { id, revision: record.revision, rule }),
                Err(e) => tracing::warn!(segment = %id, error = %e, "stored rule does not parse; skipped"),
            },
            (SegmentKind::Static, _, Some(members)) => {
                out.push(SegmentDef::Static { id, revision: record.revision, members: members.blob.clone() })
            }
            _ => {}
        }
    }
    Ok(out)
}
