//! The sample tier: a fixed 1/rate subset of users, renumbered densely, so that its bitmaps
//! are about `rate` times smaller and the browser can estimate any rule at once.
//!
//! # Which users
//! User `id` (the dense id) is in the sample when `splitmix64(id) % rate == 0`, where
//! `splitmix64` is the finaliser of Steele, Lea and Flood's SplitMix64 (the constants below).
//! The choice depends on the id alone, so it never changes as the app grows, and every tag's
//! sample bitmap is the same users.
//!
//! # Renumbering
//! A sampled user's sample id is its rank among the sampled ids of the universe. Dictionaries
//! are append-only (new users get higher ids), so ranks of existing users never move.
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

/// The mapping from dense ids to sample ids for one universe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleMap {
    rate: u32,
    /// Sampled dense ids, increasing: the sample id of `sampled[i]` is `i`.
    sampled: Vec<u32>,
}

impl SampleMap {
    /// Picks the sampled users of a universe.
    pub fn new(universe: &IdSet, rate: u32) -> SampleMap {
        SampleMap { rate, sampled: universe.iter().filter(|&id| is_sampled(id, rate)).collect() }
    }

    /// The sampling rate.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// Users in the sample tier.
    pub fn len(&self) -> u64 {
        self.sampled.len() as u64
    }

    /// True when no user is sampled.
    pub fn is_empty(&self) -> bool {
        self.sampled.is_empty()
    }

    /// The sample tier's universe: `0..len`.
    pub fn universe(&self) -> IdSet {
        IdSet::full_range(self.sampled.len() as u32)
    }

    /// The sample-tier bitmap of a full-tier set (ids of `set` outside the sample are dropped).
    ///
    /// ```
    /// use engine::{IdSet, sample::SampleMap};
    /// let universe = IdSet::full_range(100_000);
    /// let map = SampleMap::new(&universe, 64);
    /// let projected = map.project(&universe);
    /// assert_eq!(projected.len(), map.len());
    /// ```
    pub fn project(&self, set: &IdSet) -> IdSet {
        // Walk whichever side is smaller: the set's ids (hashing each) or the sampled ids
        // (a lookup each).
        if set.len() <= self.sampled.len() as u64 {
            IdSet::from_sorted_iter(
                set.iter()
                    .filter(|&id| is_sampled(id, self.rate))
                    .filter_map(|id| self.sampled.binary_search(&id).ok().map(|rank| rank as u32)),
            )
        } else {
            IdSet::from_sorted_iter(
                self.sampled.iter().enumerate().filter(|(_, id)| set.contains(**id)).map(|(rank, _)| rank as u32),
            )
        }
    }

    /// The dense id of a sample id.
    pub fn dense_id(&self, sample_id: u32) -> Option<u32> {
        self.sampled.get(sample_id as usize).copied()
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
