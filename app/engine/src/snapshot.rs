//! Snapshots in memory: [`MemorySource`] holds decoded bitmaps for evaluation (browser and
//! server alike), and [`build_group`] / [`build_snapshot`] turn tag data into blobs plus the
//! manifest that names them, on both tiers.

use std::collections::BTreeMap;

use crate::blob;
use crate::bsi::{Bsi, BsiView, NumericColumn};
use crate::catalog::{Catalog, NumericInfo, TagKind};
use crate::eval::Source;
use crate::idset::IdSet;
use crate::manifest::{
    BlobRef, BsiEntry, EventEntry, GroupEntry, MANIFEST_FORMAT, Manifest, NumericEntry, SampleInfo, SegmentEntry,
    TierRefs, ValueEntry,
};
use crate::sample::SampleMap;

/// Decoded bitmaps of one tier of one snapshot.
#[derive(Debug, Clone, Default)]
pub struct MemorySource {
    universe: IdSet,
    values: BTreeMap<(String, String), IdSet>,
    segments: BTreeMap<String, IdSet>,
    columns: BTreeMap<String, (NumericInfo, Bsi)>,
    /// (event, ds) → the day's counts.
    events: BTreeMap<(String, String), Bsi>,
}

impl MemorySource {
    /// A source with the given universe and nothing else loaded.
    pub fn new(universe: IdSet) -> MemorySource {
        MemorySource { universe, ..MemorySource::default() }
    }

    /// Loads the bitmap of one tag value.
    pub fn insert_tag_value(&mut self, group: &str, value: &str, set: IdSet) {
        self.values.insert((group.to_owned(), value.to_owned()), set);
    }

    /// Loads the members of a segment.
    pub fn insert_segment(&mut self, id: &str, set: IdSet) {
        self.segments.insert(id.to_owned(), set);
    }

    /// Loads the column of a numeric group.
    pub fn insert_column(&mut self, group: &str, column: &NumericColumn) {
        let info = NumericInfo {
            scale: column.scale,
            offset: column.offset,
            max: column.max,
            count: column.bsi.exists().len(),
        };
        self.columns.insert(group.to_owned(), (info, column.bsi.clone()));
    }

    /// Loads a numeric group's stored column (as a manifest describes it).
    pub fn insert_column_parts(&mut self, group: &str, info: NumericInfo, bsi: Bsi) {
        self.columns.insert(group.to_owned(), (info, bsi));
    }

    /// Loads an event's counts for one day.
    pub fn insert_event_day(&mut self, event: &str, ds: &str, counts: Bsi) {
        self.events.insert((event.to_owned(), ds.to_owned()), counts);
    }

    /// Whether a numeric column is loaded.
    pub fn has_column(&self, group: &str) -> bool {
        self.columns.contains_key(group)
    }

    /// Whether an event's day is loaded.
    pub fn has_event_day(&self, event: &str, ds: &str) -> bool {
        self.events.contains_key(&(event.to_owned(), ds.to_owned()))
    }

    /// Whether a tag value is loaded.
    pub fn has_tag_value(&self, group: &str, value: &str) -> bool {
        self.values.contains_key(&(group.to_owned(), value.to_owned()))
    }

    /// A catalog of exactly what is loaded (for tests and small tools; real catalogs come from
    /// the manifest, which also knows what is not loaded yet).
    pub fn catalog(&self) -> Catalog {
        let mut c = Catalog::new(self.universe.len());
        for ((g, v), set) in &self.values {
            c.add_value(g, v, set.len());
        }
        for (id, set) in &self.segments {
            c.add_segment(id, set.len());
        }
        for (group, (info, _)) in &self.columns {
            c.add_numeric(group, *info);
        }
        for (event, ds) in self.events.keys() {
            c.events.days.entry(ds.clone()).or_default().insert(event.clone());
            // Windows end on the latest day with events.
            if *ds > c.ds {
                c.ds = ds.clone();
            }
        }
        c
    }

    /// Bytes held by loaded bitmaps.
    pub fn heap_size_bytes(&self) -> usize {
        self.universe.heap_size_bytes()
            + self.values.values().map(IdSet::heap_size_bytes).sum::<usize>()
            + self.segments.values().map(IdSet::heap_size_bytes).sum::<usize>()
            + self.columns.values().map(|(_, b)| bsi_bytes(b)).sum::<usize>()
            + self.events.values().map(bsi_bytes).sum::<usize>()
    }
}

fn bsi_bytes(b: &Bsi) -> usize {
    b.exists().heap_size_bytes() + b.slices().iter().map(IdSet::heap_size_bytes).sum::<usize>()
}

impl Source for MemorySource {
    fn universe(&self) -> &IdSet {
        &self.universe
    }
    fn tag_value(&self, group: &str, value: &str) -> Option<&IdSet> {
        self.values.get(&(group.to_owned(), value.to_owned()))
    }
    fn segment(&self, id: &str) -> Option<&IdSet> {
        self.segments.get(id)
    }
    fn column(&self, group: &str) -> Option<BsiView<'_>> {
        self.columns.get(group).map(|(_, b)| b.view())
    }
    fn event_day(&self, event: &str, ds: &str) -> Option<BsiView<'_>> {
        self.events.get(&(event.to_owned(), ds.to_owned())).map(Bsi::view)
    }
}

/// One tag group's data on the full tier.
#[derive(Debug, Clone)]
pub struct GroupData {
    /// Group name.
    pub name: String,
    /// Kind.
    pub kind: TagKind,
    /// Category path.
    pub category: String,
    /// Day the data was uploaded for.
    pub loaded_ds: String,
    /// Each value with its users (dense ids), in display order (empty for numeric groups).
    pub values: Vec<(String, IdSet)>,
    /// The column of a numeric group.
    pub numeric: Option<NumericColumn>,
}

/// Blobs by content address.
pub type Blobs = BTreeMap<String, Vec<u8>>;

/// Encodes a set as a blob, adds it to `blobs`, and returns its reference.
pub fn add_blob(set: &IdSet, blobs: &mut Blobs) -> BlobRef {
    let bytes = blob::encode(set);
    let r = BlobRef { count: set.len(), blob: blob::hash(&bytes), bytes: bytes.len() as u64 };
    blobs.insert(r.blob.clone(), bytes);
    r
}

/// Builds one group's manifest entry and blobs (full and sample tier). Publishing a group
/// alone (hot publish) swaps this entry into the day's manifest.
pub fn build_group(data: &GroupData, sample: &SampleMap, blobs: &mut Blobs) -> GroupEntry {
    let values = data
        .values
        .iter()
        .map(|(value, set)| ValueEntry {
            value: value.clone(),
            count: set.len(),
            full: add_blob(set, blobs),
            sample: add_blob(&sample.project(set), blobs),
        })
        .collect();
    let numeric = data.numeric.as_ref().map(|col| NumericEntry {
        scale: col.scale,
        offset: col.offset,
        min: col.offset,
        max: col.max,
        bsi: build_bsi(&col.bsi, sample, blobs),
    });
    GroupEntry {
        name: data.name.clone(),
        kind: data.kind,
        category: data.category.clone(),
        loaded_ds: data.loaded_ds.clone(),
        values,
        numeric,
    }
}

/// Encodes one bitmap on both tiers.
pub fn build_tiers(set: &IdSet, sample: &SampleMap, blobs: &mut Blobs) -> TierRefs {
    TierRefs { full: add_blob(set, blobs), sample: add_blob(&sample.project(set), blobs) }
}

/// Encodes a bit-sliced column on both tiers.
pub fn build_bsi(bsi: &Bsi, sample: &SampleMap, blobs: &mut Blobs) -> BsiEntry {
    BsiEntry {
        exists: build_tiers(bsi.exists(), sample, blobs),
        slices: bsi.slices().iter().map(|s| build_tiers(s, sample, blobs)).collect(),
    }
}

/// Builds a day's entry for one event from its column of per-user counts (users with a zero
/// count are left out: absence means zero).
pub fn build_event(name: &str, counts: Bsi, sample: &SampleMap, blobs: &mut Blobs) -> EventEntry {
    // A count of 0 is no event: those users do not exist in the column.
    let zero = counts.exists().and_not(&counts.slices().iter().fold(IdSet::new(), |acc, s| acc.or(s)));
    let bsi = if zero.is_empty() { counts } else { counts.map_sets(|s| s.and_not(&zero)) };
    // Counts are bounded per user, not per day: millions of users can exceed 2^64 together,
    // so the day's total saturates (it is a summary; evaluation never reads it). Summed per
    // slice (users × 2^bit), so a column of bitmaps is never walked user by user.
    let total = bsi
        .slices()
        .iter()
        .enumerate()
        .map(|(b, s)| s.len().saturating_mul(1u64 << b)) // at most 64 slices: b < 64
        .fold(0u64, u64::saturating_add);
    EventEntry { name: name.to_owned(), users: bsi.exists().len(), total, bsi: build_bsi(&bsi, sample, blobs) }
}

/// Builds a day's entry for a segment's members.
pub fn build_segment(id: &str, revision: u64, members: &IdSet, sample: &SampleMap, blobs: &mut Blobs) -> SegmentEntry {
    SegmentEntry { id: id.to_owned(), revision, members: build_tiers(members, sample, blobs) }
}

/// A snapshot's manifest and the blobs it names.
#[derive(Debug, Clone)]
pub struct BuiltSnapshot {
    /// The manifest.
    pub manifest: Manifest,
    /// Every blob it names.
    pub blobs: Blobs,
}

/// Builds a whole snapshot from tag data.
///
/// ```
/// use engine::{IdSet, TagKind, snapshot::{GroupData, build_snapshot}};
/// let g = GroupData {
///     name: "gender".into(), kind: TagKind::Categorical, category: "demographics".into(),
///     loaded_ds: "2026-11-20".into(),
///     values: vec![("female".into(), IdSet::from_sorted(&[0, 2])), ("male".into(), IdSet::from_sorted(&[1]))],
///     numeric: None,
/// };
/// let s = build_snapshot("demo", "2026-11-20", IdSet::full_range(3), &[g], 64);
/// assert_eq!(s.manifest.groups[0].values[0].count, 2);
/// assert_eq!(s.blobs.len(), s.manifest.blob_hashes().iter().collect::<std::collections::BTreeSet<_>>().len());
/// ```
pub fn build_snapshot(app: &str, ds: &str, universe: IdSet, groups: &[GroupData], rate: u32) -> BuiltSnapshot {
    let sample = SampleMap::new(&universe, rate);
    let mut blobs = Blobs::new();
    let universe_ref = add_blob(&universe, &mut blobs);
    let sample_universe = add_blob(&sample.universe(), &mut blobs);
    let groups = groups.iter().map(|g| build_group(g, &sample, &mut blobs)).collect();
    let manifest = Manifest {
        format: MANIFEST_FORMAT,
        app: app.to_owned(),
        ds: ds.to_owned(),
        universe: universe_ref,
        sample: SampleInfo { rate, universe: sample_universe, scheme: sample.scheme() },
        groups,
        events: Vec::new(),
        segments: Vec::new(),
        segment_errors: Vec::new(),
    };
    BuiltSnapshot { manifest, blobs }
}
