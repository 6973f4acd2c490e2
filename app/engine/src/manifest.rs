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
    /// Values, in a stable order.
    pub values: Vec<ValueEntry>,
}

/// The sample tier's parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SampleInfo {
    /// One user in `rate` is sampled (see [`crate::sample`]).
    pub rate: u32,
    /// The sample tier's universe (`0..count`, densely renumbered).
    pub universe: BlobRef,
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
        let mut out = vec![self.universe.blob.as_str(), self.sample.universe.blob.as_str()];
        for g in &self.groups {
            for v in &g.values {
                out.push(&v.full.blob);
                out.push(&v.sample.blob);
            }
        }
        out
    }

    /// A group by name.
    pub fn group(&self, name: &str) -> Option<&GroupEntry> {
        self.groups.iter().find(|g| g.name == name)
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
