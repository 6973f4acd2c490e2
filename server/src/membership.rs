//! The membership index: which tag values and segments one user has, on one published version.
//!
//! Built once per manifest (versions are immutable, so it never goes stale) from the day's
//! decoded bitmaps, as an inverted index in CSR form: for each user, the ids of the labels
//! (tag values, numeric groups, segments) it has, 2 bytes each. A lookup reads one short,
//! contiguous list, so its cost follows the user's own values, not the number of bitmaps.
//! (Testing the user's bit in every bitmap instead costs one cache miss per bitmap: measured
//! at about 1 ms for 2,000 values over 10M users, see BENCHMARKS.md.)
//!
//! Rows are users in id order ([`Ranks`]): for a string app's dense ids `0..n` the row is the
//! id; a `u32` app's ids may lie anywhere in the 32-bit range, and the row is the id's rank in
//! the version's universe, so the index still has `n` rows, not 2^32.
//!
//! The build walks the bitmaps chunk by chunk, so the writes of one pass stay within the
//! postings of 65,536 users. More labels than `u16` can name (65,535) fall back to testing
//! the user's chunk of each bitmap.
//!
//! With replicas, the postings are built once per version and shared through the blob store
//! ([`UserIndex::shared`], encoded by `shared`): a replica that finds them reads only the
//! manifest's numeric and event slices, not every value's bitmap.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use engine::idset::Container;
use engine::rank::Ranks;
use engine::{IdSet, Manifest};

use crate::snapshots::{SnapshotError, Snapshots};

mod shared;

/// What a bitmap in the index stands for.
#[derive(Debug, Clone)]
enum Label {
    /// `group = value`.
    Value { group: usize, value: String },
    /// A numeric group's existence bitmap; the value is read from its slices.
    Number { group: usize, scale: u32, offset: i64, slices: Vec<Arc<IdSet>> },
    /// Membership of a segment.
    Segment(String),
    /// The day's count of an event (index into `UserIndex::events`), read from its slices.
    Event { event: usize, slices: Vec<Arc<IdSet>> },
}

/// How the labels of a user are found.
#[derive(Debug)]
enum Lookup {
    /// `offsets[row]..offsets[row + 1]` of `postings` are the user's label ids.
    Csr { offsets: Vec<u64>, postings: Vec<u16> },
    /// chunk key → (label, bitmap, position of the chunk in the bitmap).
    ByChunk(HashMap<u16, Vec<(u32, Arc<IdSet>, u32)>>),
}

/// One version's index.
#[derive(Debug)]
pub struct UserIndex {
    /// The version's users and their rows.
    users: Ranks,
    groups: Vec<String>,
    events: Vec<String>,
    labels: Vec<Label>,
    lookup: Lookup,
}

/// A user's tags and segments, borrowing names from the index (no copies per request).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Membership<'a> {
    /// Values per tag group, groups in manifest order (numbers as decimal text).
    pub tags: Vec<(&'a str, Vec<Cow<'a, str>>)>,
    /// Segments the user is in, by id.
    pub segments: Vec<&'a str>,
    /// The user's counts of the day's events (events with a count above zero).
    pub events: Vec<(&'a str, u64)>,
}

impl UserIndex {
    /// Builds the index of one manifest, reading its full-tier bitmaps.
    pub fn build(snaps: &Snapshots, m: &Manifest) -> Result<UserIndex, SnapshotError> {
        let (mut index, sets) = UserIndex::labels(snaps, m, true)?;
        index.lookup =
            if index.labels.len() <= usize::from(u16::MAX) { csr(&sets, &index.users) } else { by_chunk(&sets) };
        Ok(index)
    }

    /// The index of the manifest at address `manifest`, shared through the blob store: taken
    /// from there when another process (a replica) built it, else built here and stored for
    /// the others. Only the postings travel (the costly part); labels come from the manifest.
    /// Returns the index and whether it was built here.
    pub fn shared(snaps: &Snapshots, manifest: &str, m: &Manifest) -> Result<(UserIndex, bool), SnapshotError> {
        let name = format!("membership-index-v1-{manifest}");
        if !snaps.blobs().keeps_named() {
            return Ok((UserIndex::build(snaps, m)?, true));
        }
        let stored = snaps.blobs().get_named(&name).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "reading a shared membership index; building it here");
            None
        });
        if let Some(bytes) = stored {
            let (mut index, _) = UserIndex::labels(snaps, m, false)?;
            match shared::decode(&bytes, index.users.len(), index.labels.len()) {
                Some((offsets, postings)) => {
                    index.lookup = Lookup::Csr { offsets, postings };
                    return Ok((index, false));
                }
                None => tracing::warn!(%name, "a shared membership index does not fit its manifest; building it here"),
            }
        }
        let index = UserIndex::build(snaps, m)?;
        if let Lookup::Csr { offsets, postings } = &index.lookup
            && let Err(e) = snaps.blobs().put_named(&name, &shared::encode(offsets, postings, index.labels.len()))
        {
            tracing::warn!(error = %e, "storing the membership index for other replicas");
        }
        Ok((index, true))
    }

    /// The index's labels from the manifest, and (with `sets`) the bitmap of each label in
    /// label order; without, only what lookups read (numeric and event slices).
    fn labels(snaps: &Snapshots, m: &Manifest, with_sets: bool) -> Result<(UserIndex, Vec<Arc<IdSet>>), SnapshotError> {
        // From object storage, one request at a time would dominate: fetch them together first.
        let mut wanted: Vec<&str> = vec![m.universe.blob.as_str()];
        for g in &m.groups {
            if with_sets {
                wanted.extend(g.values.iter().map(|v| v.full.blob.as_str()));
            }
            if let Some(n) = &g.numeric {
                wanted.extend(n.bsi.slices.iter().map(|s| s.full.blob.as_str()));
                wanted.push(n.bsi.exists.full.blob.as_str());
            }
        }
        if with_sets {
            wanted.extend(m.segments.iter().map(|s| s.members.full.blob.as_str()));
        }
        for e in &m.events {
            wanted.extend(e.bsi.slices.iter().map(|s| s.full.blob.as_str()));
            wanted.push(e.bsi.exists.full.blob.as_str());
        }
        snaps.blobs().prefetch(&wanted);
        // A dictionary's universe is `0..count` (rank scheme): nothing to read.
        let users = if m.sample.scheme.is_rank() || m.universe.blob.is_empty() {
            Ranks::dense(m.universe.count)
        } else {
            Ranks::new(snaps.set(&m.universe.blob)?.as_ref())
        };
        let mut index = UserIndex {
            users,
            groups: Vec::new(),
            events: Vec::new(),
            labels: Vec::new(),
            lookup: Lookup::ByChunk(HashMap::new()),
        };
        let mut sets: Vec<Arc<IdSet>> = Vec::new();
        let mut push = |blob: &str| -> Result<(), SnapshotError> {
            if with_sets {
                sets.push(snaps.set(blob)?);
            }
            Ok(())
        };
        for (gi, g) in m.groups.iter().enumerate() {
            index.groups.push(g.name.clone());
            for v in &g.values {
                index.labels.push(Label::Value { group: gi, value: v.value.clone() });
                push(&v.full.blob)?;
            }
            if let Some(n) = &g.numeric {
                let slices = n.bsi.slices.iter().map(|s| snaps.set(&s.full.blob)).collect::<Result<Vec<_>, _>>()?;
                index.labels.push(Label::Number { group: gi, scale: n.scale, offset: n.offset, slices });
                push(&n.bsi.exists.full.blob)?;
            }
        }
        for seg in &m.segments {
            index.labels.push(Label::Segment(seg.id.clone()));
            push(&seg.members.full.blob)?;
        }
        for (ei, e) in m.events.iter().enumerate() {
            index.events.push(e.name.clone());
            let slices = e.bsi.slices.iter().map(|s| snaps.set(&s.full.blob)).collect::<Result<Vec<_>, _>>()?;
            index.labels.push(Label::Event { event: ei, slices });
            push(&e.bsi.exists.full.blob)?;
        }
        Ok((index, sets))
    }

    /// The tags and segments of one user, or `None` when the version does not have the user.
    pub fn lookup(&self, id: u32) -> Option<Membership<'_>> {
        let row = usize::try_from(self.users.rank(id)?).ok()?;
        let mut out = Membership::default();
        let found: Vec<usize> = match &self.lookup {
            Lookup::Csr { offsets, postings } => match (offsets.get(row), offsets.get(row + 1)) {
                (Some(&a), Some(&b)) => postings[a as usize..b as usize].iter().map(|&l| usize::from(l)).collect(),
                _ => Vec::new(),
            },
            Lookup::ByChunk(by_key) => by_key
                .get(&((id >> 16) as u16))
                .into_iter()
                .flatten()
                .filter(|(_, set, pos)| {
                    let container: &Container = &set.chunks()[*pos as usize].container;
                    container.contains(id as u16)
                })
                .map(|(li, _, _)| *li as usize)
                .collect(),
        };
        // Label ids come in label order: a group's values are adjacent, groups and segments
        // sorted as in the manifest.
        for li in found {
            let (group, value) = match &self.labels[li] {
                Label::Value { group, value } => (*group, Cow::Borrowed(value.as_str())),
                Label::Number { group, scale, offset, slices } => {
                    let stored = stored_value(slices, id);
                    (*group, Cow::Owned(engine::bsi::format_scaled(offset.saturating_add_unsigned(stored), *scale)))
                }
                Label::Segment(s) => {
                    out.segments.push(s.as_str());
                    continue;
                }
                Label::Event { event, slices } => {
                    out.events.push((self.events[*event].as_str(), stored_value(slices, id)));
                    continue;
                }
            };
            let name = self.groups[group].as_str();
            match out.tags.last_mut() {
                Some((last, values)) if *last == name => values.push(value),
                _ => out.tags.push((name, vec![value])),
            }
        }
        Some(out)
    }
}

/// A user's stored value in a bit-sliced column: bit `b` set where slice `b` holds the user.
fn stored_value(slices: &[Arc<IdSet>], id: u32) -> u64 {
    slices.iter().enumerate().filter(|(_, s)| s.contains(id)).fold(0u64, |acc, (b, _)| acc | 1 << b)
}

/// Chunk key → the (label, bitmap, chunk position) present there.
fn by_chunk(sets: &[Arc<IdSet>]) -> Lookup {
    let mut by_key: HashMap<u16, Vec<(u32, Arc<IdSet>, u32)>> = HashMap::new();
    for (li, set) in sets.iter().enumerate() {
        for (pos, chunk) in set.chunks().iter().enumerate() {
            by_key.entry(chunk.key).or_default().push((li as u32, set.clone(), pos as u32));
        }
    }
    Lookup::ByChunk(by_key)
}

/// The containers of every set at one chunk key, advancing a cursor per set (each set's
/// chunks are sorted by key, and keys are visited in increasing order).
fn containers_at<'a>(sets: &'a [Arc<IdSet>], key: u16, cursors: &mut [usize]) -> Vec<(usize, &'a Container)> {
    let mut out = Vec::new();
    for (li, set) in sets.iter().enumerate() {
        let chunks = set.chunks();
        while cursors[li] < chunks.len() && chunks[cursors[li]].key < key {
            cursors[li] += 1;
        }
        if let Some(c) = chunks.get(cursors[li]).filter(|c| c.key == key) {
            out.push((li, &c.container));
        }
    }
    out
}

/// The inverted index: per user (row), its label ids in label order. Two passes (count, then
/// fill), each chunk by chunk so that the writes stay within 65,536 users' postings. Ids the
/// universe lacks (none, normally) have no row and are left out.
fn csr(sets: &[Arc<IdSet>], ranks: &Ranks) -> Lookup {
    let users = usize::try_from(ranks.len()).unwrap_or(usize::MAX).min(1 << 32);
    let keys: std::collections::BTreeSet<u16> = sets.iter().flat_map(|s| s.chunks().iter().map(|c| c.key)).collect();
    let mut counts = vec![0u32; users];
    let mut cursors = vec![0usize; sets.len()];
    for &key in &keys {
        let Some(rows) = ranks.chunk(key) else { continue };
        for (_, c) in containers_at(sets, key, &mut cursors) {
            for low in c.iter() {
                if let Some(n) = rows.rank(low).and_then(|r| counts.get_mut(r as usize)) {
                    *n += 1;
                }
            }
        }
    }
    let mut offsets = Vec::with_capacity(users + 1);
    let mut total = 0u64;
    offsets.push(0);
    for n in &counts {
        total += u64::from(*n);
        offsets.push(total);
    }
    drop(counts);
    let mut postings = vec![0u16; total as usize];
    let mut fill: Vec<u64> = offsets[..users].to_vec();
    let mut cursors = vec![0usize; sets.len()];
    for &key in &keys {
        let Some(rows) = ranks.chunk(key) else { continue };
        for (li, c) in containers_at(sets, key, &mut cursors) {
            for low in c.iter() {
                if let Some(at) = rows.rank(low).and_then(|r| fill.get_mut(r as usize)) {
                    postings[*at as usize] = li as u16;
                    *at += 1;
                }
            }
        }
    }
    Lookup::Csr { offsets, postings }
}
