//! Reading published snapshots: day pointers → manifests → decoded bitmaps, with caches.
//!
//! Manifests and blobs are immutable, so caching them by address never serves stale data; a
//! new version is a new address. Decoded bitmaps are cached by weight (their heap size), so
//! the cache holds a bounded number of bytes however large single bitmaps are.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use engine::bsi::BsiView;
use engine::manifest::{BlobRef, BsiEntry, TierRefs};
use engine::{Catalog, IdSet, Manifest, Source};
use quick_cache::Weighter;
use quick_cache::sync::Cache;

use crate::store::{BlobError, BlobStore, DayRecord, Meta, StoreError};

/// Why a snapshot could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The metadata store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The blob store failed or a blob is corrupt.
    #[error(transparent)]
    Blob(#[from] BlobError),
    /// A stored blob or manifest does not decode.
    #[error("stored data does not decode: {0}")]
    Format(#[from] engine::FormatError),
}

/// Which tier to read (as requests name it).
pub use wire::Tier;

/// The blob of `tier`.
pub fn pick(tier: Tier, t: &TierRefs) -> &BlobRef {
    match tier {
        Tier::Exact => &t.full,
        Tier::Sample => &t.sample,
    }
}

#[derive(Clone)]
struct SetWeight;

impl Weighter<String, Arc<IdSet>> for SetWeight {
    fn weight(&self, _key: &String, set: &Arc<IdSet>) -> u64 {
        set.heap_size_bytes() as u64 + 64
    }
}

/// The blobs an app's published days name (all, and the sample-tier ones), with the day listing
/// they were built from.
type OwnedBlobs = (String, Arc<(HashSet<String>, HashSet<String>)>);

/// Whether a blob is one of an app's, and on which tier ([`Snapshots::owned_blob`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owned {
    /// No published day of the app names it.
    No,
    /// A published day names it, not only as a sample-tier bitmap (a full-tier bitmap or a
    /// manifest).
    Full,
    /// A published day names it as a sample-tier bitmap (what an `aggregate` token may read).
    Sample,
}

/// Cached access to published snapshots.
pub struct Snapshots {
    meta: Arc<Meta>,
    blobs: Arc<dyn BlobStore>,
    manifests: Cache<String, Arc<Manifest>>,
    sets: Cache<String, Arc<IdSet>, SetWeight>,
    owned: Mutex<HashMap<String, OwnedBlobs>>,
}

impl std::fmt::Debug for Snapshots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshots").field("manifests", &self.manifests.len()).field("sets", &self.sets.len()).finish()
    }
}

impl Snapshots {
    /// Caches over the stores; `cache_bytes` bounds the decoded bitmaps held.
    pub fn new(meta: Arc<Meta>, blobs: Arc<dyn BlobStore>, cache_bytes: u64) -> Snapshots {
        Snapshots {
            meta,
            blobs,
            manifests: Cache::new(1024),
            sets: Cache::with_weighter(100_000, cache_bytes, SetWeight),
            owned: Mutex::new(HashMap::new()),
        }
    }

    /// Whether one of the app's published days names this blob (manifests included), and as
    /// what. Blobs are tenant data: an address alone must not open another app's bitmap, even
    /// though identical content is stored once. Both sets are built in one pass and cached per
    /// day listing.
    pub fn owned_blob(&self, app: &str, hash: &str) -> Result<Owned, SnapshotError> {
        let days = self.meta.days(app)?;
        let listing = days.iter().map(|(_, r)| r.manifest.as_str()).collect::<Vec<_>>().join(",");
        let cached = {
            let owned = self.owned.lock().unwrap_or_else(|p| p.into_inner());
            owned.get(app).filter(|(l, _)| *l == listing).map(|(_, set)| set.clone())
        };
        let set = match cached {
            Some(set) => set,
            None => {
                let (mut all, mut sample) = (HashSet::new(), HashSet::new());
                for (_, r) in &days {
                    let m = self.manifest(&r.manifest)?;
                    all.insert(r.manifest.clone());
                    all.extend(m.blob_hashes().into_iter().map(str::to_owned));
                    sample.extend(m.sample_blob_hashes().into_iter().map(str::to_owned));
                }
                let set = Arc::new((all, sample));
                self.owned.lock().unwrap_or_else(|p| p.into_inner()).insert(app.to_owned(), (listing, set.clone()));
                set
            }
        };
        Ok(if set.1.contains(hash) {
            Owned::Sample
        } else if set.0.contains(hash) {
            Owned::Full
        } else {
            Owned::No
        })
    }

    /// The metadata store.
    pub fn meta(&self) -> &Arc<Meta> {
        &self.meta
    }

    /// The blob store.
    pub fn blobs(&self) -> &Arc<dyn BlobStore> {
        &self.blobs
    }

    /// The published day `ds`, or the latest day when `ds` is `None`.
    pub fn day(&self, app: &str, ds: Option<&str>) -> Result<Option<(String, DayRecord)>, SnapshotError> {
        Ok(match ds {
            Some(ds) => self.meta.day(app, ds)?.map(|r| (ds.to_owned(), r)),
            None => self.meta.latest_day(app)?,
        })
    }

    /// A manifest by address.
    pub fn manifest(&self, hash: &str) -> Result<Arc<Manifest>, SnapshotError> {
        if let Some(m) = self.manifests.get(hash) {
            return Ok(m);
        }
        let bytes = self.blobs.get_referenced(hash)?;
        let m = Arc::new(Manifest::from_json(&bytes)?);
        self.manifests.insert(hash.to_owned(), m.clone());
        Ok(m)
    }

    /// A decoded bitmap by address.
    pub fn set(&self, hash: &str) -> Result<Arc<IdSet>, SnapshotError> {
        if let Some(s) = self.sets.get(hash) {
            return Ok(s);
        }
        let bytes = self.blobs.get_referenced(hash)?;
        let s = Arc::new(engine::blob::decode(&bytes)?);
        self.sets.insert(hash.to_owned(), s.clone());
        Ok(s)
    }

    /// The published manifests of the `last_days` days before `ds` (excluding `ds`), oldest
    /// first: the earlier days an event window ending on `ds` reads. Days never published are
    /// left out (the plan warns about them).
    pub fn earlier_days(&self, app: &str, ds: &str, last_days: u32) -> Result<Vec<Arc<Manifest>>, SnapshotError> {
        let Ok(end) = ds.parse::<engine::ds::Ds>() else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        for back in (1..i32::try_from(last_days).unwrap_or(0)).rev() {
            let day = end.add_days(-back).to_string();
            if let Some(record) = self.meta.day(app, &day)? {
                out.push(self.manifest(&record.manifest)?);
            }
        }
        Ok(out)
    }

    /// The catalog a rule is checked against on `m`'s day: its names, the event uploads of
    /// the `earlier` days, and the app's retention as the longest window.
    pub fn catalog(m: &Manifest, earlier: &[Arc<Manifest>], retained_days: u32) -> Catalog {
        let mut catalog = Catalog::from_manifest(m);
        for day in earlier {
            catalog.add_event_day(day);
        }
        catalog.events.retained_days = retained_days.min(engine::rule::MAX_WINDOW_DAYS);
        catalog
    }

    /// Loads what a plan needs from one tier of a manifest (and, for event windows, of the
    /// `earlier` days' manifests).
    pub fn source(
        &self,
        m: &Manifest,
        tier: Tier,
        needs: &engine::plan::Needs,
        earlier: &[Arc<Manifest>],
    ) -> Result<SharedSource, SnapshotError> {
        let universe = match tier {
            Tier::Exact => &m.universe,
            Tier::Sample => &m.sample.universe,
        };
        let mut src = SharedSource::new(self.set(&universe.blob)?);
        for (group, value) in &needs.tag_values {
            let entry = m.group(group).and_then(|g| g.values.iter().find(|v| &v.value == value));
            if let Some(v) = entry {
                let r = match tier {
                    Tier::Exact => &v.full,
                    Tier::Sample => &v.sample,
                };
                src.values.insert((group.clone(), value.clone()), self.set(&r.blob)?);
            }
        }
        for id in &needs.segments {
            if let Some(seg) = m.segment(id) {
                src.segments.insert(id.clone(), self.set(&pick(tier, &seg.members).blob)?);
            }
        }
        for group in &needs.columns {
            if let Some(n) = m.group(group).and_then(|g| g.numeric.as_ref()) {
                src.columns.insert(group.clone(), self.column(&n.bsi, tier)?);
            }
        }
        for (event, ds) in &needs.event_days {
            let day = std::iter::once(m).chain(earlier.iter().map(|d| &**d)).find(|d| &d.ds == ds);
            if let Some(entry) = day.and_then(|d| d.event(event)) {
                src.events.insert((event.clone(), ds.clone()), self.column(&entry.bsi, tier)?);
            }
        }
        Ok(src)
    }

    /// A bit-sliced column's bitmaps on a tier.
    fn column(&self, bsi: &BsiEntry, tier: Tier) -> Result<Column, SnapshotError> {
        let exists = self.set(&pick(tier, &bsi.exists).blob)?;
        let slices = bsi.slices.iter().map(|s| self.set(&pick(tier, s).blob)).collect::<Result<_, _>>()?;
        Ok(Column { exists, slices })
    }
}

/// A bit-sliced column's decoded bitmaps, shared with the cache.
#[derive(Debug, Clone)]
struct Column {
    exists: Arc<IdSet>,
    slices: Vec<Arc<IdSet>>,
}

impl Column {
    fn view(&self) -> BsiView<'_> {
        BsiView { exists: &self.exists, slices: self.slices.iter().map(|s| &**s).collect() }
    }
}

/// Decoded bitmaps shared with the cache (an engine [`Source`] without copies).
#[derive(Debug, Clone)]
pub struct SharedSource {
    universe: Arc<IdSet>,
    values: HashMap<(String, String), Arc<IdSet>>,
    segments: HashMap<String, Arc<IdSet>>,
    columns: HashMap<String, Column>,
    events: HashMap<(String, String), Column>,
}

impl SharedSource {
    /// A source with only a universe.
    pub fn new(universe: Arc<IdSet>) -> SharedSource {
        SharedSource {
            universe,
            values: HashMap::new(),
            segments: HashMap::new(),
            columns: HashMap::new(),
            events: HashMap::new(),
        }
    }
}

impl Source for SharedSource {
    fn universe(&self) -> &IdSet {
        &self.universe
    }
    fn tag_value(&self, group: &str, value: &str) -> Option<&IdSet> {
        self.values.get(&(group.to_owned(), value.to_owned())).map(|s| &**s)
    }
    fn segment(&self, id: &str) -> Option<&IdSet> {
        self.segments.get(id).map(|s| &**s)
    }
    fn column(&self, group: &str) -> Option<BsiView<'_>> {
        self.columns.get(group).map(Column::view)
    }
    fn event_day(&self, event: &str, ds: &str) -> Option<BsiView<'_>> {
        self.events.get(&(event.to_owned(), ds.to_owned())).map(Column::view)
    }
}
