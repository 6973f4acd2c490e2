//! The manifest: everything known about one app on one day (`ds`), naming its blobs.
//! Published manifests never change; a new version is a new manifest.
//!
//! It travels as JSON with a `format` number; [`Manifest::from_json`] checks the number and
//! the invariants a reader relies on (well-formed hashes, unique names, counts within the
//! universe) so a damaged or foreign manifest is refused with a clear error.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::blob;
use crate::catalog::TagKind;
use crate::error::FormatError;

/// The manifest format this build writes and reads.
pub const MANIFEST_FORMAT: u32 = 1;

/// A bitmap named by the manifest, with its size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobRef {
    /// Users in the bitmap.
    pub count: u64,
    /// Content address of the blob.
    pub blob: String,
    /// Size of the blob in bytes (what a client downloads).
    pub bytes: u64,
}

/// One bitmap on both tiers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierRefs {
    /// Full-tier bitmap.
    pub full: BlobRef,
    /// Sample-tier bitmap.
    pub sample: BlobRef,
}

/// A bit-sliced column (see [`crate::bsi`]) on both tiers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BsiEntry {
    /// Users with a value.
    pub exists: TierRefs,
    /// Bit slices, lowest bit first.
    pub slices: Vec<TierRefs>,
}

/// A numeric tag group's column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumericEntry {
    /// Fractional digits kept (`129.50` at scale 2 is stored as 12950 − offset).
    pub scale: u32,
    /// Subtracted from scaled values so stored values start at 0.
    pub offset: i64,
    /// Smallest scaled value.
    pub min: i64,
    /// Largest scaled value.
    pub max: i64,
    /// The column.
    pub bsi: BsiEntry,
}

/// One event's per-user counts for the day (facts of one day: never carried forward).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventEntry {
    /// Event name (`purchase`).
    pub name: String,
    /// Users with a count above zero.
    pub users: u64,
    /// Sum of all counts (at most `u64::MAX`: it saturates).
    pub total: u64,
    /// The counts.
    pub bsi: BsiEntry,
}

/// A segment's members on this day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentEntry {
    /// Segment id.
    pub id: String,
    /// The segment definition's revision these members were computed from.
    pub revision: u64,
    /// Members on both tiers.
    #[serde(flatten)]
    pub members: TierRefs,
}

/// One value of a tag group, on both tiers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValueEntry {
    /// The value, as uploaded.
    pub value: String,
    /// Users holding it (full tier).
    pub count: u64,
    /// Full-tier bitmap.
    pub full: BlobRef,
    /// Sample-tier bitmap.
    pub sample: BlobRef,
}

/// One tag group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupEntry {
    /// Group name (`gender`).
    pub name: String,
    /// How values behave.
    pub kind: TagKind,
    /// Category path for browsing (`demographics/location`); metadata only.
    pub category: String,
    /// The day whose upload this group comes from (older than `ds` when carried forward).
    pub loaded_ds: String,
    /// Values, in a stable order (for numeric groups: none; see `numeric`).
    pub values: Vec<ValueEntry>,
    /// The column of a numeric group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numeric: Option<NumericEntry>,
}

/// The sample tier's parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SampleInfo {
    /// One user in `rate` is sampled (see [`crate::sample`]).
    pub rate: u32,
    /// The sample tier's universe (`0..count`, densely renumbered, for the rank scheme).
    pub universe: BlobRef,
    /// How sampled users were chosen and numbered; every version of an app uses one.
    #[serde(default, skip_serializing_if = "crate::sample::Scheme::is_rank")]
    pub scheme: crate::sample::Scheme,
}

/// A snapshot's manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Format number ([`MANIFEST_FORMAT`]).
    pub format: u32,
    /// App (tenant) id.
    pub app: String,
    /// Data date, `YYYY-MM-DD`.
    pub ds: String,
    /// Every user of the snapshot (full tier).
    pub universe: BlobRef,
    /// The sample tier.
    pub sample: SampleInfo,
    /// Tag groups.
    pub groups: Vec<GroupEntry>,
    /// Events of this day.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<EventEntry>,
    /// Segment members on this day.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub segments: Vec<SegmentEntry>,
    /// Segments that could not be computed on this day, with why (their rule names something
    /// the day lacks), so a gap in a segment's history explains itself.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub segment_errors: Vec<SegmentError>,
}

/// A segment left out of a day, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentError {
    /// Segment id.
    pub id: String,
    /// Why it could not be computed (the rule's error on that day).
    pub message: String,
}

impl Manifest {
    /// Serialises to JSON.
    pub fn to_json(&self) -> String {
        // Serialising plain strings and numbers cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parses and checks a manifest.
    ///
    /// ```
    /// let err = engine::Manifest::from_json(br#"{"format": 9}"#).unwrap_err();
    /// assert!(matches!(err, engine::FormatError::IncompatibleVersion { found: 9, supported: 1 }));
    /// ```
    pub fn from_json(bytes: &[u8]) -> Result<Manifest, FormatError> {
        #[derive(Deserialize)]
        struct Probe {
            format: Option<u32>,
        }
        let probe: Probe =
            serde_json::from_slice(bytes).map_err(|e| FormatError::Malformed(format!("manifest: {e}")))?;
        match probe.format {
            Some(MANIFEST_FORMAT) => {}
            Some(found) => return Err(FormatError::IncompatibleVersion { found, supported: MANIFEST_FORMAT }),
            None => return Err(FormatError::Malformed("manifest: missing `format`".into())),
        }
        let m: Manifest =
            serde_json::from_slice(bytes).map_err(|e| FormatError::Malformed(format!("manifest: {e}")))?;
        m.check()?;
        Ok(m)
    }

    /// Checks the invariants readers rely on.
    pub fn check(&self) -> Result<(), FormatError> {
        let bad = |msg: String| Err(FormatError::Malformed(format!("manifest: {msg}")));
        if !is_ds(&self.ds) {
            return bad(format!("ds `{}` is not YYYY-MM-DD", self.ds));
        }
        if self.sample.rate == 0 {
            return bad("sample rate 0".into());
        }
        let mut refs =
            vec![("universe".to_owned(), &self.universe), ("sample universe".to_owned(), &self.sample.universe)];
        let mut names = BTreeSet::new();
        for g in &self.groups {
            if !names.insert(&g.name) {
                return bad(format!("group `{}` appears twice", g.name));
            }
            if !is_ds(&g.loaded_ds) {
                return bad(format!("group `{}` has loaded_ds `{}`", g.name, g.loaded_ds));
            }
            let mut values = BTreeSet::new();
            for v in &g.values {
                if !values.insert(&v.value) {
                    return bad(format!("group `{}` lists value `{}` twice", g.name, v.value));
                }
                if v.count != v.full.count {
                    return bad(format!("{}={}: count {} but blob has {}", g.name, v.value, v.count, v.full.count));
                }
                refs.push((format!("{}={}", g.name, v.value), &v.full));
                refs.push((format!("{}={} (sample)", g.name, v.value), &v.sample));
            }
            if let Some(n) = &g.numeric {
                bsi_refs(&g.name, &n.bsi, &mut refs);
            }
        }
        let mut events = BTreeSet::new();
        for e in &self.events {
            if !events.insert(&e.name) {
                return bad(format!("event `{}` appears twice", e.name));
            }
            bsi_refs(&e.name, &e.bsi, &mut refs);
        }
        let mut segments = BTreeSet::new();
        for seg in &self.segments {
            if !segments.insert(&seg.id) {
                return bad(format!("segment `{}` appears twice", seg.id));
            }
            refs.push((format!("segment {}", seg.id), &seg.members.full));
            refs.push((format!("segment {} (sample)", seg.id), &seg.members.sample));
        }
        for (what, r) in refs {
            if !blob::is_hash(&r.blob) {
                return bad(format!("{what}: `{}` is not a blob hash", r.blob));
            }
            let limit = if what.contains("sample") { self.sample.universe.count } else { self.universe.count };
            if r.count > limit {
                return bad(format!("{what}: {} users, more than the universe's {limit}", r.count));
            }
        }
        Ok(())
    }

    /// Every blob the manifest names, full and sample tier.
    pub fn blob_hashes(&self) -> Vec<&str> {
        let mut refs: Vec<(String, &BlobRef)> = Vec::new();
        for g in &self.groups {
            for v in &g.values {
                refs.push((String::new(), &v.full));
                refs.push((String::new(), &v.sample));
            }
            if let Some(n) = &g.numeric {
                bsi_refs("", &n.bsi, &mut refs);
            }
        }
        for e in &self.events {
            bsi_refs("", &e.bsi, &mut refs);
        }
        for seg in &self.segments {
            refs.push((String::new(), &seg.members.full));
            refs.push((String::new(), &seg.members.sample));
        }
        let mut out = vec![self.universe.blob.as_str(), self.sample.universe.blob.as_str()];
        out.extend(refs.into_iter().map(|(_, r)| r.blob.as_str()));
        out
    }

    /// Every sample-tier blob the manifest names: what a caller allowed the sample tier only
    /// (an `aggregate` token) may download.
    pub fn sample_blob_hashes(&self) -> Vec<&str> {
        fn bsi(b: &BsiEntry) -> impl Iterator<Item = &str> {
            std::iter::once(&b.exists).chain(&b.slices).map(|t| t.sample.blob.as_str())
        }
        let mut out = vec![self.sample.universe.blob.as_str()];
        for g in &self.groups {
            out.extend(g.values.iter().map(|v| v.sample.blob.as_str()));
            if let Some(n) = &g.numeric {
                out.extend(bsi(&n.bsi));
            }
        }
        for e in &self.events {
            out.extend(bsi(&e.bsi));
        }
        out.extend(self.segments.iter().map(|s| s.members.sample.blob.as_str()));
        out
    }

    /// An event by name.
    pub fn event(&self, name: &str) -> Option<&EventEntry> {
        self.events.iter().find(|e| e.name == name)
    }

    /// A segment's members by id.
    pub fn segment(&self, id: &str) -> Option<&SegmentEntry> {
        self.segments.iter().find(|s| s.id == id)
    }

    /// A group by name.
    pub fn group(&self, name: &str) -> Option<&GroupEntry> {
        self.groups.iter().find(|g| g.name == name)
    }
}

/// Adds a column's references (labelled for error messages) to `refs`.
fn bsi_refs<'a>(label: &str, bsi: &'a BsiEntry, refs: &mut Vec<(String, &'a BlobRef)>) {
    for (i, t) in std::iter::once(&bsi.exists).chain(&bsi.slices).enumerate() {
        refs.push((format!("{label} slice {i}"), &t.full));
        refs.push((format!("{label} slice {i} (sample)"), &t.sample));
    }
}

/// Whether `s` is a `YYYY-MM-DD` date with a plausible month and day.
///
/// ```
/// assert!(engine::manifest::is_ds("2026-11-20"));
/// assert!(!engine::manifest::is_ds("2026-13-01") && !engine::manifest::is_ds("20261120"));
/// ```
pub fn is_ds(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if !(digits(0..4) && digits(5..7) && digits(8..10)) {
        return false;
    }
    let month = (b[5] - b'0') * 10 + (b[6] - b'0');
    let day = (b[8] - b'0') * 10 + (b[9] - b'0');
    (1..=12).contains(&month) && (1..=31).contains(&day)
}
