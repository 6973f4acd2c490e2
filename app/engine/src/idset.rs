//! `IdSet`: a set of dense `u32` user ids, split into 65,536-id chunks, each held as a sorted
//! `u16` array (sparse) or a 1,024-word bitset (dense).
//!
//! This is the roaring layout, kept as our own type because the evaluator needs to walk the
//! containers of many sets in lockstep (one pass, container by container), and roaring-rs keeps
//! its containers private. Sets are built from sorted ids or decoded from the roaring portable
//! format ([`crate::portable`]); they convert to and from `roaring::RoaringBitmap` for export.

use roaring::RoaringBitmap;

/// Words in a bitset container: 65,536 bits.
pub const BITSET_WORDS: usize = 1024;
/// A container with more ids than this is stored as a bitset (the roaring rule).
pub const ARRAY_MAX: usize = 4096;

/// A bitset container's words, aligned to a cache line. The alignment is for the AVX2 kernels
/// ([`crate::kernels`]): the x86-64-v2 baseline's tuning makes LLVM split every 32-byte load it
/// cannot prove aligned into two 16-byte halves, which cost dense counts ~15% against CRoaring.
/// Through `Deref` it is the array it holds.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(C, align(64))]
pub struct Words(pub [u64; BITSET_WORDS]);

impl Words {
    /// No bit set.
    pub const ZERO: Words = Words([0; BITSET_WORDS]);

    /// A boxed bitset with no bit set.
    pub fn boxed() -> Box<Words> {
        Box::new(Words::ZERO)
    }
}

impl std::fmt::Debug for Words {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Words({} bits set)", popcount(self))
    }
}

impl std::ops::Deref for Words {
    type Target = [u64; BITSET_WORDS];
    #[inline(always)]
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Words {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

/// A container keeps its runs ([`Container::Runs`]) when it has at most this many. Runs are
/// kept for clustered values (users active in a period, cohorts, the universe itself, whose ids
/// were handed out in order): a few runs stand for thousands of ids, in a few bytes instead of
/// an 8 KB bitset, and counting a bitset against them reads only the words the runs cover. A
/// run costs a few operations of its own in every operation, so beyond this many the bitset or
/// array they decode to is kept instead.
pub const RUNS_MAX: usize = 128;

/// One chunk's ids (the low 16 bits).
#[derive(Clone)]
pub enum Container {
    /// Sorted, distinct low halves; at most [`ARRAY_MAX`] of them.
    Array(Vec<u16>),
    /// Bit `v` set for each low half `v`; holds more than [`ARRAY_MAX`] ids.
    Bits(Box<Words>),
    /// Runs of consecutive low halves as `(first, last)`, both included: sorted, disjoint and
    /// not touching (a gap of at least one id between runs); at most [`RUNS_MAX`] of them.
    Runs(Vec<(u16, u16)>),
}

/// Two containers are equal when they hold the same ids, whatever their kinds.
impl PartialEq for Container {
    fn eq(&self, other: &Container) -> bool {
        match (self, other) {
            (Container::Array(a), Container::Array(b)) => a == b,
            (Container::Bits(a), Container::Bits(b)) => a == b,
            (Container::Runs(a), Container::Runs(b)) => a == b,
            _ => self.len() == other.len() && self.iter().eq(other.iter()),
        }
    }
}

impl Eq for Container {}

impl std::fmt::Debug for Container {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Container::Array(v) => write!(f, "Array({} ids)", v.len()),
            Container::Bits(_) => write!(f, "Bits({} ids)", self.len()),
            Container::Runs(r) => write!(f, "Runs({} runs, {} ids)", r.len(), self.len()),
        }
    }
}

impl Container {
    /// Number of ids in the container.
    pub fn len(&self) -> usize {
        match self {
            Container::Array(v) => v.len(),
            Container::Bits(w) => popcount(w),
            Container::Runs(r) => r.iter().map(|&(a, b)| usize::from(b - a) + 1).sum(),
        }
    }

    /// True when the container holds no id (never the case inside an [`IdSet`]).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Membership of one low half.
    #[inline]
    pub fn contains(&self, low: u16) -> bool {
        match self {
            Container::Array(v) => v.binary_search(&low).is_ok(),
            Container::Bits(w) => w[usize::from(low >> 6)] & (1u64 << (low & 63)) != 0,
            Container::Runs(r) => {
                r.get(r.partition_point(|&(_, last)| last < low)).is_some_and(|&(first, _)| first <= low)
            }
        }
    }

    /// Writes the container into `out` as a bitset, replacing what was there.
    pub fn write_bits(&self, out: &mut Words) {
        match self {
            Container::Array(v) => {
                out.fill(0);
                for &x in v {
                    out[usize::from(x >> 6)] |= 1u64 << (x & 63);
                }
            }
            Container::Bits(w) => out.copy_from_slice(&w[..]),
            Container::Runs(r) => {
                out.fill(0);
                r.iter().for_each(|&(a, b)| fill_range(out, a, b, true));
            }
        }
    }

    /// `acc &= self`.
    pub fn and_into(&self, acc: &mut Words, scratch: &mut Words) {
        match self {
            Container::Bits(w) => acc.iter_mut().zip(w.iter()).for_each(|(a, b)| *a &= b),
            Container::Array(_) => {
                self.write_bits(scratch);
                acc.iter_mut().zip(scratch.iter()).for_each(|(a, b)| *a &= b);
            }
            // Clears the gaps between runs: only their words are written.
            Container::Runs(r) => {
                let mut next = 0u32;
                for &(a, b) in r {
                    if u32::from(a) > next {
                        fill_range(acc, next as u16, a - 1, false);
                    }
                    next = u32::from(b) + 1;
                }
                if next <= u32::from(u16::MAX) {
                    fill_range(acc, next as u16, u16::MAX, false);
                }
            }
        }
    }

    /// `acc |= self`.
    pub fn or_into(&self, acc: &mut Words) {
        match self {
            Container::Bits(w) => acc.iter_mut().zip(w.iter()).for_each(|(a, b)| *a |= b),
            Container::Array(v) => {
                for &x in v {
                    acc[usize::from(x >> 6)] |= 1u64 << (x & 63);
                }
            }
            Container::Runs(r) => r.iter().for_each(|&(a, b)| fill_range(acc, a, b, true)),
        }
    }

    /// `acc &= !self`.
    pub fn andnot_into(&self, acc: &mut Words) {
        match self {
            Container::Bits(w) => acc.iter_mut().zip(w.iter()).for_each(|(a, b)| *a &= !b),
            Container::Array(v) => {
                for &x in v {
                    acc[usize::from(x >> 6)] &= !(1u64 << (x & 63));
                }
            }
            Container::Runs(r) => r.iter().for_each(|&(a, b)| fill_range(acc, a, b, false)),
        }
    }

    /// Builds the cheapest container for the ids set in `words`, or `None` when none is.
    pub fn from_words(words: &Words) -> Option<Container> {
        let n = popcount(words);
        if n == 0 {
            None
        } else if n <= ARRAY_MAX {
            Some(Container::Array(iter_words(words).collect()))
        } else {
            Some(Container::Bits(Box::new(*words)))
        }
    }

    /// Builds the cheapest container from sorted, distinct low halves (non-empty).
    fn from_sorted_lows(lows: Vec<u16>) -> Container {
        if lows.len() <= ARRAY_MAX {
            Container::Array(lows)
        } else {
            let mut w = Words::boxed();
            for x in lows {
                w[usize::from(x >> 6)] |= 1u64 << (x & 63);
            }
            Container::Bits(w)
        }
    }

    /// Iterates the low halves in increasing order.
    pub fn iter(&self) -> Box<dyn Iterator<Item = u16> + '_> {
        match self {
            Container::Array(v) => Box::new(v.iter().copied()),
            Container::Bits(w) => Box::new(iter_words(w)),
            Container::Runs(r) => Box::new(r.iter().flat_map(|&(a, b)| a..=b)),
        }
    }

    /// The container's runs of consecutive ids, as `(first, last)`.
    pub fn runs(&self) -> Vec<(u16, u16)> {
        if let Container::Runs(r) = self {
            return r.clone();
        }
        let mut out: Vec<(u16, u16)> = Vec::new();
        for v in self.iter() {
            match out.last_mut() {
                Some((_, last)) if u32::from(*last) + 1 == u32::from(v) => *last = v,
                _ => out.push((v, v)),
            }
        }
        out
    }

    /// The container as runs when that is smaller than an array or a bitset of the same ids
    /// and it has at most [`RUNS_MAX`] runs (the roaring rule, with the cap); otherwise itself.
    pub fn with_runs(self) -> Container {
        if matches!(self, Container::Runs(_)) {
            return self;
        }
        let runs = self.runs();
        if runs_pay(self.len(), runs.len()) { Container::Runs(runs) } else { self }
    }
}

/// Whether `runs` runs are the form to keep for `ids` ids: at most [`RUNS_MAX`] of them, and
/// fewer bytes than the array or bitset of the same ids.
pub fn runs_pay(ids: usize, runs: usize) -> bool {
    runs <= RUNS_MAX && runs * 4 < plain_bytes(ids)
}

/// Bytes of `ids` ids as the array or bitset roaring would hold them.
pub fn plain_bytes(ids: usize) -> usize {
    if ids > ARRAY_MAX { BITSET_WORDS * 8 } else { ids * 2 }
}

/// Sets (`value`) or clears the bits `first..=last` of a bitset, a word at a time.
#[inline]
pub fn fill_range(words: &mut Words, first: u16, last: u16, value: bool) {
    let (fw, lw) = (usize::from(first >> 6), usize::from(last >> 6));
    let head = u64::MAX << (first & 63);
    let tail = u64::MAX >> (63 - (last & 63));
    let apply = |w: &mut u64, mask: u64| {
        if value { *w |= mask } else { *w &= !mask }
    };
    if fw == lw {
        apply(&mut words[fw], head & tail);
    } else {
        apply(&mut words[fw], head);
        words[fw + 1..lw].fill(if value { u64::MAX } else { 0 });
        apply(&mut words[lw], tail);
    }
}

/// Number of set bits among `first..=last` of a bitset.
#[inline(always)]
pub fn range_count(words: &Words, first: u16, last: u16) -> usize {
    let (fw, lw) = (usize::from(first >> 6), usize::from(last >> 6));
    let head = u64::MAX << (first & 63);
    let tail = u64::MAX >> (63 - (last & 63));
    if fw == lw {
        return (words[fw] & head & tail).count_ones() as usize;
    }
    let inner: usize = words[fw + 1..lw].iter().map(|w| w.count_ones() as usize).sum();
    (words[fw] & head).count_ones() as usize + inner + (words[lw] & tail).count_ones() as usize
}

/// Number of set bits in a bitset (the kernel [`crate::kernels::level`] chose).
#[inline]
pub fn popcount(words: &Words) -> usize {
    crate::kernels::popcount(words)
}

/// Iterates the set bits of a bitset, lowest first.
pub fn iter_words(words: &Words) -> impl Iterator<Item = u16> + '_ {
    words.iter().enumerate().flat_map(|(i, &w)| {
        let mut rest = w;
        std::iter::from_fn(move || {
            if rest == 0 {
                return None;
            }
            let bit = rest.trailing_zeros();
            rest &= rest - 1;
            // i < 1024 and bit < 64, so the id fits in 16 bits.
            Some(((i as u32) << 6 | bit) as u16)
        })
    })
}

/// One chunk: the high 16 bits shared by its ids, and the container of low halves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chunk {
    /// High 16 bits of every id in the chunk.
    pub key: u16,
    /// The low halves; never empty.
    pub container: Container,
}

/// A set of dense user ids.
///
/// ```
/// use engine::IdSet;
/// let s = IdSet::from_sorted(&[1, 5, 70_000]);
/// assert_eq!(s.len(), 3);
/// assert!(s.contains(70_000) && !s.contains(2));
/// assert_eq!(s.iter().collect::<Vec<_>>(), vec![1, 5, 70_000]);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IdSet {
    chunks: Vec<Chunk>,
    len: u64,
}

impl IdSet {
    /// The empty set.
    pub fn new() -> IdSet {
        IdSet::default()
    }

    /// Builds a set from chunks with strictly increasing keys and non-empty containers.
    /// Callers that read untrusted bytes check those rules before calling (see `portable`).
    pub(crate) fn from_chunks(chunks: Vec<Chunk>) -> IdSet {
        debug_assert!(chunks.windows(2).all(|w| w[0].key < w[1].key));
        let len = chunks.iter().map(|c| c.container.len() as u64).sum();
        IdSet { chunks, len }
    }

    /// Builds a set from ids in increasing order; duplicates are ignored.
    ///
    /// ```
    /// let s = engine::IdSet::from_sorted(&[3, 3, 9]);
    /// assert_eq!(s.len(), 2);
    /// ```
    pub fn from_sorted(ids: &[u32]) -> IdSet {
        IdSet::from_sorted_iter(ids.iter().copied())
    }

    /// Builds a set from an iterator of ids, normally in increasing order; ids out of order or
    /// repeated are still handled (the set is the same, it just costs a sort).
    pub fn from_sorted_iter(ids: impl IntoIterator<Item = u32>) -> IdSet {
        let mut ids: Vec<u32> = ids.into_iter().collect();
        if !ids.is_sorted() {
            ids.sort_unstable();
        }
        ids.dedup();
        let mut chunks: Vec<Chunk> = Vec::new();
        for group in ids.chunk_by(|a, b| a >> 16 == b >> 16) {
            let key = (group[0] >> 16) as u16;
            let lows = group.iter().map(|&id| id as u16).collect();
            chunks.push(Chunk { key, container: Container::from_sorted_lows(lows) });
        }
        IdSet::from_chunks(chunks)
    }

    /// Builds a set from ids in any order, with duplicates.
    pub fn from_unsorted(ids: Vec<u32>) -> IdSet {
        IdSet::from_sorted_iter(ids)
    }

    /// The set `0..n`: every id of an app whose dictionary holds `n` users, as one run a chunk.
    pub fn full_range(n: u32) -> IdSet {
        let chunks = (0..n.div_ceil(1 << 16))
            .map(|key| {
                let last = (n - 1 - (key << 16)).min(u32::from(u16::MAX)) as u16;
                Chunk { key: key as u16, container: Container::Runs(vec![(0, last)]) }
            })
            .collect();
        IdSet::from_chunks(chunks)
    }

    /// The same set with each container as runs where [`Container::with_runs`] prefers them.
    pub fn with_runs(self) -> IdSet {
        let chunks =
            self.chunks.into_iter().map(|c| Chunk { key: c.key, container: c.container.with_runs() }).collect();
        IdSet { chunks, len: self.len }
    }

    /// Number of ids.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when the set holds no id.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The chunks, by increasing key.
    pub fn chunks(&self) -> &[Chunk] {
        &self.chunks
    }

    /// The container for a chunk key, if the set has ids there.
    #[inline]
    pub fn container(&self, key: u16) -> Option<&Container> {
        self.chunks.binary_search_by_key(&key, |c| c.key).ok().map(|i| &self.chunks[i].container)
    }

    /// The largest id, if any.
    ///
    /// ```
    /// assert_eq!(engine::IdSet::from_sorted(&[4, 70_000]).max(), Some(70_000));
    /// assert_eq!(engine::IdSet::new().max(), None);
    /// ```
    pub fn max(&self) -> Option<u32> {
        let last = self.chunks.last()?;
        let low = match &last.container {
            Container::Array(v) => v.last().copied(),
            Container::Bits(w) => w
                .iter()
                .enumerate()
                .rev()
                .find(|(_, x)| **x != 0)
                .map(|(i, x)| (i as u32 * 64 + 63 - x.leading_zeros()) as u16),
            Container::Runs(r) => r.last().map(|&(_, last)| last),
        }?;
        Some(u32::from(last.key) << 16 | u32::from(low))
    }

    /// `|self ∩ other|`, chunk by chunk without building the intersection.
    ///
    /// ```
    /// use engine::IdSet;
    /// let a = IdSet::from_sorted(&[1, 2, 3, 70_000]);
    /// let b = IdSet::from_sorted(&[2, 3, 4, 70_000, 80_000]);
    /// assert_eq!(a.intersection_len(&b), 3);
    /// assert_eq!(a.difference_len(&b), 1);
    /// ```
    pub fn intersection_len(&self, other: &IdSet) -> u64 {
        let (mut x, mut y) = (Words::boxed(), Words::boxed());
        self.chunks
            .iter()
            .filter_map(|c| other.container(c.key).map(|o| (&c.container, o)))
            .map(|(a, b)| {
                a.write_bits(&mut x);
                b.write_bits(&mut y);
                x.iter().zip(y.iter()).map(|(p, q)| u64::from((p & q).count_ones())).sum::<u64>()
            })
            .sum()
    }

    /// Combines two sets chunk by chunk with a word operation (`f(a, b)` per 64-bit word; chunks
    /// missing from a side read as empty).
    fn combine(&self, other: &IdSet, f: impl Fn(u64, u64) -> u64) -> IdSet {
        let (mut x, mut y) = (Words::boxed(), Words::boxed());
        let mut keys: Vec<u16> = self.chunks.iter().chain(&other.chunks).map(|c| c.key).collect();
        keys.sort_unstable();
        keys.dedup();
        let mut chunks = Vec::with_capacity(keys.len());
        for key in keys {
            match self.container(key) {
                Some(c) => c.write_bits(&mut x),
                None => x.fill(0),
            }
            match other.container(key) {
                Some(c) => c.write_bits(&mut y),
                None => y.fill(0),
            }
            x.iter_mut().zip(y.iter()).for_each(|(a, b)| *a = f(*a, *b));
            if let Some(container) = Container::from_words(&x) {
                chunks.push(Chunk { key, container });
            }
        }
        IdSet::from_chunks(chunks)
    }

    /// `self ∩ other`.
    ///
    /// ```
    /// use engine::IdSet;
    /// let (a, b) = (IdSet::from_sorted(&[1, 2, 70_000]), IdSet::from_sorted(&[2, 70_000, 9]));
    /// assert_eq!(a.and(&b).iter().collect::<Vec<_>>(), vec![2, 70_000]);
    /// assert_eq!(a.or(&b).len(), 4);
    /// assert_eq!(a.and_not(&b).iter().collect::<Vec<_>>(), vec![1]);
    /// assert_eq!(a.xor(&b).iter().collect::<Vec<_>>(), vec![1, 9]);
    /// ```
    pub fn and(&self, other: &IdSet) -> IdSet {
        self.combine(other, |a, b| a & b)
    }

    /// `self ∪ other`.
    pub fn or(&self, other: &IdSet) -> IdSet {
        self.combine(other, |a, b| a | b)
    }

    /// `self ∖ other`.
    pub fn and_not(&self, other: &IdSet) -> IdSet {
        self.combine(other, |a, b| a & !b)
    }

    /// Symmetric difference.
    pub fn xor(&self, other: &IdSet) -> IdSet {
        self.combine(other, |a, b| a ^ b)
    }

    /// `|self ∖ other|`.
    pub fn difference_len(&self, other: &IdSet) -> u64 {
        self.len - self.intersection_len(other)
    }

    /// Membership of one id.
    pub fn contains(&self, id: u32) -> bool {
        self.container((id >> 16) as u16).is_some_and(|c| c.contains(id as u16))
    }

    /// Iterates ids in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.chunks.iter().flat_map(|c| {
            let high = u32::from(c.key) << 16;
            c.container.iter().map(move |low| high | u32::from(low))
        })
    }

    /// Bytes this set occupies in memory (containers only), for cache accounting.
    pub fn heap_size_bytes(&self) -> usize {
        self.chunks
            .iter()
            .map(|c| match &c.container {
                Container::Array(v) => v.len() * 2 + 32,
                Container::Bits(_) => BITSET_WORDS * 8 + 32,
                Container::Runs(r) => r.len() * 4 + 32,
            })
            .sum()
    }

    /// Converts to a roaring-rs bitmap (for export and for comparison with roaring-rs).
    ///
    /// ```
    /// let s = engine::IdSet::from_sorted(&[1, 2, 100_000]);
    /// assert_eq!(s.to_roaring().len(), 3);
    /// ```
    pub fn to_roaring(&self) -> RoaringBitmap {
        // Ids come out sorted, so this appends without searching.
        RoaringBitmap::from_sorted_iter(self.iter()).unwrap_or_default()
    }

    /// Converts from a roaring-rs bitmap.
    pub fn from_roaring(bitmap: &RoaringBitmap) -> IdSet {
        IdSet::from_sorted_iter(bitmap.iter())
    }
}

impl FromIterator<u32> for IdSet {
    fn from_iter<T: IntoIterator<Item = u32>>(iter: T) -> Self {
        IdSet::from_unsorted(iter.into_iter().collect())
    }
}
