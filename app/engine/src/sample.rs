//! The sample tier: a fixed 1/rate subset of users, renumbered densely, so that its bitmaps
//! are about `rate` times smaller and the browser can estimate any rule at once.
//!
//! Two schemes choose and number the sampled users ([`Scheme`]); a manifest records which
//! one built its sample bitmaps, and every publish of an app uses the same one, so bitmaps
//! carried forward from older versions keep matching the newer ones.
//!
//! # Rank (apps with a dictionary of string ids)
//! User `id` (the dense id) is in the sample when `splitmix64(id) % rate == 0`, where
//! `splitmix64` is the finaliser of Steele, Lea and Flood's SplitMix64 (the constants below).
//! A sampled user's sample id is its rank among the sampled ids of the universe. Dictionaries
//! are append-only (new users get higher ids), so ranks of existing users never move.
//!
//! # Block (apps whose ids are the warehouse's own u32 numbers)
//! Ids arrive in any order there: a new low id would shift every later rank. Instead the id
//! space is cut into blocks of `rate` consecutive ids, and in block `b = id / rate` exactly
//! one offset, `splitmix64(b ^ BLOCK_SALT) % rate`, is sampled; its sample id is `b`. The
//! choice and the number depend on the id alone, so they never move whatever arrives later,
//! and a dense range of ids still gives a dense sample (`n` ids → about `n / rate` sample ids,
//! which roaring stores as bitmap containers). Every user is sampled with probability
//! `1/rate`, as with the rank scheme; users of one block are never sampled together, which
//! makes the sample stratified along the id (a little more even than a simple random one).
//!
//! # Estimates
//! With `k` of the `n` sampled users matching and `N` users in all, the estimate is `k/n · N`
//! and its 95% interval is the Wilson score interval for `k/n` (with the finite-population
//! correction, since the sample is drawn without replacement), scaled by `N` and clamped to
//! what is certain: at least `k` users match and at least `n - k` do not.

use crate::idset::IdSet;

/// Default sampling rate: one user in 64.
pub const DEFAULT_RATE: u32 = 64;

/// The SplitMix64 finaliser: a fast, well-mixed 64-bit hash.
///
/// ```
/// assert_eq!(engine::sample::splitmix64(0), 0xe220a8397b1dcdaf);
/// ```
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Whether a dense id is in the sample tier at `rate` (a rate of 0 or 1 keeps everyone).
///
/// ```
/// let kept = (0..64_000u32).filter(|&id| engine::sample::is_sampled(id, 64)).count();
/// assert!((900..1100).contains(&kept));
/// ```
pub fn is_sampled(id: u32, rate: u32) -> bool {
    rate <= 1 || splitmix64(u64::from(id)).is_multiple_of(u64::from(rate))
}

/// Salt of the block scheme's offset choice, so that it is not the rank scheme's hash of the
/// same number.
const BLOCK_SALT: u64 = 0x5349_4556_455f_424b; // "SIEVE_BK"

/// How the sampled users are chosen and numbered (see the module documentation).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// Hash-selected, numbered by rank in the universe: for append-only dense ids.
    #[default]
    Rank,
    /// One id per block of `rate`, numbered by block: for ids that arrive in any order.
    Block,
}

impl Scheme {
    /// True for [`Scheme::Rank`] (the default, left out of manifests).
    pub fn is_rank(&self) -> bool {
        *self == Scheme::Rank
    }
}

/// Whether user `id` is sampled at `rate` under the block scheme.
///
/// ```
/// use engine::sample::block_sampled;
/// // Exactly one id of each block of 64 is sampled.
/// for block in 0..100u32 {
///     assert_eq!((block * 64..block * 64 + 64).filter(|&id| block_sampled(id, 64)).count(), 1);
/// }
/// ```
pub fn block_sampled(id: u32, rate: u32) -> bool {
    rate <= 1 || splitmix64(u64::from(id / rate) ^ BLOCK_SALT) % u64::from(rate) == u64::from(id % rate)
}

/// The mapping from dense ids to sample ids for one universe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleMap {
    rate: u32,
    kind: MapKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum MapKind {
    /// Sampled dense ids, increasing: the sample id of `sampled[i]` is `i`.
    Rank { sampled: Vec<u32> },
    /// The sample universe: the blocks whose sampled id is a user.
    Block { universe: IdSet },
}

impl SampleMap {
    /// Picks the sampled users of a universe with the rank scheme.
    pub fn new(universe: &IdSet, rate: u32) -> SampleMap {
        SampleMap::with_scheme(universe, rate, Scheme::Rank)
    }

    /// Picks the sampled users of a universe with `scheme`.
    pub fn with_scheme(universe: &IdSet, rate: u32, scheme: Scheme) -> SampleMap {
        let kind = match scheme {
            Scheme::Rank => MapKind::Rank { sampled: universe.iter().filter(|&id| is_sampled(id, rate)).collect() },
            Scheme::Block => MapKind::Block {
                universe: IdSet::from_sorted_iter(
                    universe.iter().filter(|&id| block_sampled(id, rate)).map(|id| id / rate.max(1)),
                ),
            },
        };
        SampleMap { rate, kind }
    }

    /// The sampling rate.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        match self.kind {
            MapKind::Rank { .. } => Scheme::Rank,
            MapKind::Block { .. } => Scheme::Block,
        }
    }

    /// Users in the sample tier.
    pub fn len(&self) -> u64 {
        match &self.kind {
            MapKind::Rank { sampled } => sampled.len() as u64,
            MapKind::Block { universe } => universe.len(),
        }
    }

    /// True when no user is sampled.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The sample tier's universe (`0..len` for the rank scheme).
    pub fn universe(&self) -> IdSet {
        match &self.kind {
            MapKind::Rank { sampled } => IdSet::full_range(sampled.len() as u32),
            MapKind::Block { universe } => universe.clone(),
        }
    }

    /// The sample-tier bitmap of a full-tier set (ids of `set` outside the sample are dropped).
    ///
    /// ```
    /// use engine::{IdSet, sample::{SampleMap, Scheme}};
    /// let universe = IdSet::full_range(100_000);
    /// for scheme in [Scheme::Rank, Scheme::Block] {
    ///     let map = SampleMap::with_scheme(&universe, 64, scheme);
    ///     assert_eq!(map.project(&universe).len(), map.len());
    /// }
    /// ```
    pub fn project(&self, set: &IdSet) -> IdSet {
        // Walk whichever side is smaller: the set's ids (hashing each) or the sampled ids
        // (a lookup each).
        let rate = self.rate.max(1);
        match &self.kind {
            MapKind::Rank { sampled } if set.len() <= sampled.len() as u64 => IdSet::from_sorted_iter(
                set.iter()
                    .filter(|&id| is_sampled(id, self.rate))
                    .filter_map(|id| sampled.binary_search(&id).ok().map(|rank| rank as u32)),
            ),
            MapKind::Rank { sampled } => IdSet::from_sorted_iter(
                sampled.iter().enumerate().filter(|(_, id)| set.contains(**id)).map(|(rank, _)| rank as u32),
            ),
            // Sample ids keep the order of the ids (one per block, numbered by block).
            MapKind::Block { universe } if set.len() <= universe.len() => IdSet::from_sorted_iter(
                set.iter()
                    .filter(|&id| block_sampled(id, self.rate))
                    .map(|id| id / rate)
                    .filter(|b| universe.contains(*b)),
            ),
            MapKind::Block { universe } => IdSet::from_sorted_iter(
                universe.iter().filter(|&b| self.dense_id(b).is_some_and(|id| set.contains(id))),
            ),
        }
    }

    /// The dense id of a sample id.
    pub fn dense_id(&self, sample_id: u32) -> Option<u32> {
        match &self.kind {
            MapKind::Rank { sampled } => sampled.get(sample_id as usize).copied(),
            MapKind::Block { universe } if universe.contains(sample_id) => {
                let rate = self.rate.max(1);
                let offset = if rate <= 1 {
                    0
                } else {
                    (splitmix64(u64::from(sample_id) ^ BLOCK_SALT) % u64::from(rate)) as u32
                };
                sample_id.checked_mul(rate).and_then(|base| base.checked_add(offset))
            }
            MapKind::Block { .. } => None,
        }
    }
}

/// An estimate of a count from the sample tier.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Estimate {
    /// Point estimate of the users matching.
    pub count: f64,
    /// Lower end of the 95% interval.
    pub lo: f64,
    /// Upper end of the 95% interval.
    pub hi: f64,
}

/// Scales a sample count up to the full tier, with a 95% interval.
///
/// ```
/// let e = engine::sample::estimate(100, 1_000, 64_000);
/// assert_eq!(e.count, 6_400.0);
/// assert!(e.lo < 6_400.0 && 6_400.0 < e.hi);
/// assert!(e.lo >= 100.0);
/// ```
pub fn estimate(sample_count: u64, sample_universe: u64, universe: u64) -> Estimate {
    let big_n = universe as f64;
    if sample_universe == 0 {
        return Estimate { count: 0.0, lo: 0.0, hi: big_n };
    }
    let (k, n) = (sample_count.min(sample_universe) as f64, sample_universe as f64);
    let p = k / n;
    // Finite-population correction: the effective sample size grows as n approaches N.
    let fpc = if big_n > 1.0 { ((big_n - n) / (big_n - 1.0)).max(0.0) } else { 0.0 };
    let (lo, hi) = if fpc == 0.0 { (p, p) } else { crate::stats::wilson(p, n / fpc) };
    Estimate {
        count: p * big_n,
        lo: (lo * big_n).max(k).min(p * big_n),
        hi: (hi * big_n).min(big_n - (n - k)).max(p * big_n),
    }
}
