//! The membership index: which tag values and segments one user has, on one published version.
//!
//! Built once per manifest (versions are immutable, so it never goes stale) from the day's
//! decoded bitmaps: for every 65,536-id chunk, the list of (label, container) pairs present in
//! that chunk. A lookup then tests only the containers of the user's chunk (one bit test or a
//! short binary search each), instead of searching every bitmap's chunk list.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use engine::idset::Container;
use engine::{IdSet, Manifest};

use crate::snapshots::{SnapshotError, Snapshots};

/// What a bitmap in the index stands for.
#[derive(Debug, Clone)]
enum Label {
    /// `group = value`.
    Value { group: usize, value: String },
    /// A numeric group's existence bitmap; the value is read from its slices.
    Number { group: usize, scale: u32, offset: i64, slices: Vec<Arc<IdSet>> },
    /// Membership of a segment.
    Segment(String),
}

/// One version's index.
#[derive(Debug)]
pub struct UserIndex {
    groups: Vec<String>,
    labels: Vec<Label>,
    /// chunk key → (label, bitmap, position of the chunk in the bitmap).
    by_key: HashMap<u16, Vec<(u32, Arc<IdSet>, u32)>>,
}

/// A user's tags and segments.
#[derive(Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Membership {
    /// Values per tag group (numbers as decimal text).
    pub tags: BTreeMap<String, Vec<String>>,
    /// Segments the user is in.
    pub segments: Vec<String>,
}

impl UserIndex {
    /// Builds the index of one manifest, reading its full-tier bitmaps.
    pub fn build(snaps: &Snapshots, m: &Manifest) -> Result<UserIndex, SnapshotError> {
        let mut index = UserIndex { groups: Vec::new(), labels: Vec::new(), by_key: HashMap::new() };
        for (gi, g) in m.groups.iter().enumerate() {
            index.groups.push(g.name.clone());
            for v in &g.values {
                index.add(Label::Value { group: gi, value: v.value.clone() }, snaps.set(&v.full.blob)?);
            }
            if let Some(n) = &g.numeric {
                let slices = n.bsi.slices.iter().map(|s| snaps.set(&s.full.blob)).collect::<Result<Vec<_>, _>>()?;
                let label = Label::Number { group: gi, scale: n.scale, offset: n.offset, slices };
                index.add(label, snaps.set(&n.bsi.exists.full.blob)?);
            }
        }
        for seg in &m.segments {
            index.add(Label::Segment(seg.id.clone()), snaps.set(&seg.members.full.blob)?);
        }
        Ok(index)
    }

    fn add(&mut self, label: Label, set: Arc<IdSet>) {
        let li = self.labels.len() as u32;
        self.labels.push(label);
        for (pos, chunk) in set.chunks().iter().enumerate() {
            self.by_key.entry(chunk.key).or_default().push((li, set.clone(), pos as u32));
        }
    }

    /// The tags and segments of one dense id.
    pub fn lookup(&self, id: u32) -> Membership {
        let mut out = Membership::default();
        let low = id as u16;
        for (li, set, pos) in self.by_key.get(&((id >> 16) as u16)).into_iter().flatten() {
            let container: &Container = &set.chunks()[*pos as usize].container;
            if !container.contains(low) {
                continue;
            }
            match &self.labels[*li as usize] {
                Label::Value { group, value } => {
                    out.tags.entry(self.groups[*group].clone()).or_default().push(value.clone());
                }
                Label::Number { group, scale, offset, slices } => {
                    let stored = slices
                        .iter()
                        .enumerate()
                        .filter(|(_, s)| s.contains(id))
                        .fold(0u64, |acc, (b, _)| acc | 1 << b);
                    let value = engine::bsi::format_scaled(offset.saturating_add_unsigned(stored), *scale);
                    out.tags.entry(self.groups[*group].clone()).or_default().push(value);
                }
                Label::Segment(s) => out.segments.push(s.clone()),
            }
        }
        out.segments.sort();
        out
    }
}
