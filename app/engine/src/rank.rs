//! The rank of each id of a set: its position among the set's ids in increasing order. Used
//! to lay out per-user tables (the server's membership index) over users whose ids are not
//! `0..n`: a `u32` app's ids may lie anywhere in the 32-bit range, but its users still number
//! `n`, and a table of `n` rows indexed by rank stays as small as the dense case.
//!
//! A rank costs a binary search over the set's chunks, then a prefix count within the chunk
//! (a lookup and one popcount for a bitset chunk, a binary search for an array chunk). A
//! caller walking ids chunk by chunk asks for the [`ChunkRanks`] of a key once instead.

use crate::idset::{BITSET_WORDS, Container, IdSet, Words};

/// Ranks over one set.
///
/// ```
/// use engine::{IdSet, rank::Ranks};
/// let r = Ranks::new(&IdSet::from_sorted(&[3, 70_000, 4_000_000_000]));
/// assert_eq!((r.rank(3), r.rank(70_000), r.rank(4_000_000_000), r.rank(4)), (Some(0), Some(1), Some(2), None));
/// assert_eq!(r.len(), 3);
/// ```
#[derive(Debug, Clone)]
pub struct Ranks {
    len: u64,
    /// Set when the set is exactly `0..len`: the rank is the id (no tables kept).
    dense: bool,
    keys: Vec<u16>,
    chunks: Vec<ChunkRanks>,
}

/// Ranks within one chunk of a set.
#[derive(Debug, Clone)]
pub struct ChunkRanks {
    /// Ids of the set before this chunk.
    base: u64,
    kind: ChunkKind,
}

#[derive(Debug, Clone)]
enum ChunkKind {
    /// Low halves `0..n` (a chunk of a dense set).
    Dense(u32),
    Array(Vec<u16>),
    /// The chunk's words, and the ids in the words before each one.
    Bits {
        words: Box<Words>,
        before: Box<[u16; BITSET_WORDS]>,
    },
}

impl Ranks {
    /// Builds the rank tables of a set (about its own size; none for `0..n`).
    pub fn new(set: &IdSet) -> Ranks {
        let len = set.len();
        if set.max().is_none_or(|max| u64::from(max) + 1 == len) {
            return Ranks::dense(len);
        }
        let mut base = 0u64;
        let mut keys = Vec::with_capacity(set.chunks().len());
        let mut chunks = Vec::with_capacity(set.chunks().len());
        for chunk in set.chunks() {
            let kind = match &chunk.container {
                Container::Array(ids) => ChunkKind::Array(ids.clone()),
                other => {
                    let mut words = Words::boxed();
                    other.write_bits(&mut words);
                    let mut before = Box::new([0u16; BITSET_WORDS]);
                    let mut running = 0u32;
                    for (i, w) in words.iter().enumerate() {
                        // At most 1023 × 64 ids precede the last word: fits in 16 bits.
                        before[i] = running as u16;
                        running += w.count_ones();
                    }
                    ChunkKind::Bits { words, before }
                }
            };
            keys.push(chunk.key);
            chunks.push(ChunkRanks { base, kind });
            base += chunk.container.len() as u64;
        }
        Ranks { len, dense: false, keys, chunks }
    }

    /// The ranks of `0..len`, known to be dense without reading the set (each rank is its id).
    pub fn dense(len: u64) -> Ranks {
        Ranks { len, dense: true, keys: Vec::new(), chunks: Vec::new() }
    }

    /// Ids in the set (ranks run `0..len`).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True for the empty set.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The rank of `id`, or `None` when the set lacks it.
    pub fn rank(&self, id: u32) -> Option<u64> {
        if self.dense {
            return (u64::from(id) < self.len).then_some(u64::from(id));
        }
        self.chunk((id >> 16) as u16)?.rank(id as u16)
    }

    /// The ranks of chunk `key`, or `None` when the set has no id there.
    pub fn chunk(&self, key: u16) -> Option<ChunkRanks> {
        if self.dense {
            let base = u64::from(key) << 16;
            let n = self.len.checked_sub(base).filter(|&n| n > 0)?.min(1 << 16) as u32;
            return Some(ChunkRanks { base, kind: ChunkKind::Dense(n) });
        }
        let i = self.keys.binary_search(&key).ok()?;
        Some(self.chunks[i].clone())
    }
}

impl ChunkRanks {
    /// The rank of the id with low half `low` in this chunk, or `None` when it is not there.
    pub fn rank(&self, low: u16) -> Option<u64> {
        let within = match &self.kind {
            ChunkKind::Dense(n) => Some(u64::from(low)).filter(|&l| l < u64::from(*n))?,
            ChunkKind::Array(ids) => ids.binary_search(&low).ok()? as u64,
            ChunkKind::Bits { words, before } => {
                let (word, bit) = (usize::from(low >> 6), low & 63);
                let w = words[word];
                if w & (1u64 << bit) == 0 {
                    return None;
                }
                u64::from(before[word]) + u64::from((w & ((1u64 << bit) - 1)).count_ones())
            }
        };
        Some(self.base + within)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Every id's rank is its position in the set; ids not in the set have none.
        #[test]
        fn ranks_are_positions(ids in proptest::collection::vec(any::<u32>(), 0..300), dense in 0u32..140_000, probe in proptest::collection::vec(any::<u32>(), 0..50)) {
            for set in [IdSet::from_unsorted(ids.clone()), IdSet::full_range(dense), IdSet::from_sorted_iter((0..dense).filter(|i| i % 3 != 0))] {
                let r = Ranks::new(&set);
                prop_assert_eq!(r.len(), set.len());
                for (pos, id) in set.iter().enumerate() {
                    prop_assert_eq!(r.rank(id), Some(pos as u64));
                }
                for &id in probe.iter().chain(&[dense, dense.wrapping_add(1), u32::MAX]) {
                    prop_assert_eq!(r.rank(id).is_some(), set.contains(id));
                }
            }
        }
    }
}
