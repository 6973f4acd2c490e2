//! The segment profile (画像): for one tag group, how the audience is spread over its values
//! next to all users, with TGI (segment share ÷ overall share × 100); for a numeric group, its
//! quartiles ([`quartiles`], by bisection with range queries on the bit-sliced column); for an
//! event, who did it in the last 1/7/30 days ([`active_any`]) and on how many days
//! ([`active_day_counts`], [`day_buckets`]). Plain Rust, tested natively against naive
//! per-user computations.

use engine::IdSet;
use engine::bsi::BsiView;
use engine::rule::Measure;
use engine::window::{Select, saturating_sum, select_column};

/// TGI at or above which a value is called over-represented.
pub const OVER_TGI: f64 = 120.0;
/// TGI at or below which a value is called under-represented.
pub const UNDER_TGI: f64 = 80.0;
/// Fewest audience members of a value before it is flagged at all (small counts are noise).
pub const MIN_FLAG_COUNT: u64 = 5;

/// How a value's share in the audience compares with all users.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lean {
    /// TGI ≥ [`OVER_TGI`].
    Over,
    /// TGI ≤ [`UNDER_TGI`].
    Under,
    /// In between, or too few users to say.
    Even,
}

impl Lean {
    /// CSS class of the lean.
    pub const fn class(self) -> &'static str {
        match self {
            Lean::Over => "lean-over",
            Lean::Under => "lean-under",
            Lean::Even => "lean-even",
        }
    }
}

/// One value of a group in the profile.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The value.
    pub value: String,
    /// Audience members holding it (on the tier evaluated).
    pub audience: u64,
    /// All users holding it (on the same tier).
    pub all: u64,
    /// `audience` ÷ audience size.
    pub audience_share: f64,
    /// `all` ÷ all users.
    pub all_share: f64,
    /// `audience_share ÷ all_share × 100`; `None` when nobody holds the value.
    pub tgi: Option<f64>,
    /// Over, under or even.
    pub lean: Lean,
}

/// Builds the rows of a group from `(value, audience count, all count)`, in the given order.
///
/// ```
/// use app::profile::{rows, Lean};
/// let r = rows(100, 1_000, &[("a".into(), 60, 300), ("b".into(), 40, 700)]);
/// assert_eq!(r[0].tgi, Some(200.0));
/// assert_eq!(r[0].lean, Lean::Over);
/// assert_eq!(r[1].lean, Lean::Under);
/// ```
pub fn rows(audience_size: u64, universe: u64, counts: &[(String, u64, u64)]) -> Vec<Row> {
    counts
        .iter()
        .map(|(value, audience, all)| {
            let audience_share = ratio(*audience, audience_size);
            let all_share = ratio(*all, universe);
            let tgi = (all_share > 0.0 && audience_size > 0).then(|| audience_share / all_share * 100.0);
            let lean = match tgi {
                Some(t) if *audience >= MIN_FLAG_COUNT && t >= OVER_TGI => Lean::Over,
                Some(t)
                    if t <= UNDER_TGI
                        && (*audience >= MIN_FLAG_COUNT
                            || expected(*all, universe, audience_size) >= MIN_FLAG_COUNT as f64) =>
                {
                    Lean::Under
                }
                _ => Lean::Even,
            };
            Row { value: value.clone(), audience: *audience, all: *all, audience_share, all_share, tgi, lean }
        })
        .collect()
}

/// Sorts rows by audience share, largest first (ties by overall share), as the chart does.
pub fn sort_by_audience(rows: &mut [Row]) {
    rows.sort_by(|a, b| b.audience_share.total_cmp(&a.audience_share).then(b.all_share.total_cmp(&a.all_share)));
}

/// Audience members expected to hold a value if the audience were a random draw.
fn expected(all: u64, universe: u64, audience_size: u64) -> f64 {
    ratio(all, universe) * audience_size as f64
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// How many ids two sets share, walking only the chunks both have and testing the smaller
/// container's ids against the larger.
///
/// ```
/// use engine::IdSet;
/// let a = IdSet::from_sorted(&[1, 5, 70_000, 70_001]);
/// let b = IdSet::from_sorted(&[5, 6, 70_001]);
/// assert_eq!(app::profile::intersect_count(&a, &b), 2);
/// ```
pub fn intersect_count(a: &IdSet, b: &IdSet) -> u64 {
    let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    let mut count = 0u64;
    for chunk in small.chunks() {
        let Some(other) = large.container(chunk.key) else { continue };
        let (x, y) =
            if chunk.container.len() <= other.len() { (&chunk.container, other) } else { (other, &chunk.container) };
        count += x.iter().filter(|&low| y.contains(low)).count() as u64;
    }
    count
}

/// The windows an event's reach is shown for, in days.
pub const EVENT_WINDOWS: [u32; 3] = [1, 7, 30];
/// The longest window of active days shown.
pub const ACTIVE_DAYS_WINDOW: u32 = 30;

/// Q1, median and Q3 of a column's stored values (the scaled value minus the column's offset),
/// over `n` users.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quartiles {
    /// Users with a value counted.
    pub n: u64,
    /// First quartile (stored value).
    pub q1: u64,
    /// Median (stored value).
    pub median: u64,
    /// Third quartile (stored value).
    pub q3: u64,
}

/// The quartiles of a column's values among `within` (all users with a value when `None`), by
/// the nearest-rank definition: the `q`-quantile of `n` values is the smallest value `v` with at
/// least ⌈q·n⌉ (and at least one) users at or below `v`. Each is found by bisection on the value
/// between 0 and `top` (the largest stored value), counting `value ≤ mid` with a range query on
/// the bit slices: ⌈log2(top + 1)⌉ queries per quartile, no value decoded. Exact on the tier the
/// column comes from; `None` when nobody has a value.
///
/// ```
/// use engine::bsi::Bsi;
/// let col = Bsi::from_pairs((0..100u32).map(|id| (id, u64::from(id))).collect());
/// let q = app::profile::quartiles(&col.view(), None, 99).unwrap();
/// assert_eq!((q.n, q.q1, q.median, q.q3), (100, 24, 49, 74));
/// ```
pub fn quartiles(column: &BsiView<'_>, within: Option<&IdSet>, top: u64) -> Option<Quartiles> {
    let at_most = |v: u64| {
        let users = select_column(column, &Select { lo: 0, hi: v, negate: false });
        within.map_or(users.len(), |w| users.intersection_len(w))
    };
    let n = within.map_or(column.exists.len(), |w| column.exists.intersection_len(w));
    if n == 0 {
        return None;
    }
    let quantile = |num: u64, den: u64| {
        let rank = (u128::from(n) * u128::from(num)).div_ceil(u128::from(den)).max(1) as u64;
        let (mut lo, mut hi) = (0u64, top);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if at_most(mid) >= rank { hi = mid } else { lo = mid + 1 }
        }
        lo
    };
    Some(Quartiles { n, q1: quantile(1, 4), median: quantile(1, 2), q3: quantile(3, 4) })
}

/// Users of `universe` active on any of `days` (each day's set of users with the event): who
/// did an event in a window.
///
/// ```
/// use engine::IdSet;
/// let days = [IdSet::from_sorted(&[1, 2]), IdSet::from_sorted(&[2, 9])];
/// let u = IdSet::full_range(5);
/// assert_eq!(app::profile::active_any(&days.iter().collect::<Vec<_>>(), &u).len(), 2);
/// ```
pub fn active_any(days: &[&IdSet], universe: &IdSet) -> IdSet {
    let mut any = IdSet::new();
    for day in days {
        any = any.or(day);
    }
    any.and(universe)
}

/// How many users of `within` were active on exactly `k` of `days`, for `k` in `0..=days.len()`:
/// the days summed by the engine's bit-sliced counter ([`saturating_sum`] counting days), each
/// `k` a range query on the sum.
///
/// ```
/// use engine::IdSet;
/// let days = [IdSet::from_sorted(&[1, 2]), IdSet::from_sorted(&[2, 3])];
/// let counts = app::profile::active_day_counts(&days.iter().collect::<Vec<_>>(), &IdSet::full_range(5));
/// assert_eq!(counts, [2, 2, 1]);
/// ```
pub fn active_day_counts(days: &[&IdSet], within: &IdSet) -> Vec<u64> {
    let views: Vec<BsiView<'_>> = days.iter().map(|d| BsiView { exists: d, slices: vec![d] }).collect();
    let cap = days.len() as u64 + 1;
    let (sum, _) = saturating_sum(&views, Measure::Days, cap);
    let sum = sum.view();
    let active = sum.exists.intersection_len(within);
    let mut counts = vec![within.len() - active];
    counts.extend(
        (1..cap).map(|k| select_column(&sum, &Select { lo: k, hi: k, negate: false }).intersection_len(within)),
    );
    counts
}

/// The bands active days are shown in, for a window of `n` days: `0`, `1`, `2`, `3–4`, `5–7`,
/// `8–14`, `15–21`, `22–n` (cut at `n`).
///
/// ```
/// assert_eq!(app::profile::day_buckets(30).last(), Some(&(22, 30)));
/// assert_eq!(app::profile::day_buckets(3), [(0, 0), (1, 1), (2, 2), (3, 3)]);
/// ```
pub fn day_buckets(n: u32) -> Vec<(u32, u32)> {
    let starts: Vec<u32> = [0, 1, 2, 3, 5, 8, 15, 22].into_iter().filter(|&s| s <= n).collect();
    starts.iter().enumerate().map(|(i, &lo)| (lo, starts.get(i + 1).map_or(n, |next| next - 1))).collect()
}

/// The label of a band of active days.
///
/// ```
/// assert_eq!(app::profile::day_band_label((1, 1)), "1 day");
/// assert_eq!(app::profile::day_band_label((3, 4)), "3–4 days");
/// ```
pub fn day_band_label((lo, hi): (u32, u32)) -> String {
    match (lo, hi) {
        (1, 1) => "1 day".to_owned(),
        (lo, hi) if lo == hi => format!("{lo} days"),
        (lo, hi) => format!("{lo}–{hi} days"),
    }
}

/// Per-`k` counts summed into [`day_buckets`], as `(label, count)`.
pub fn bucket_counts(counts: &[u64], buckets: &[(u32, u32)]) -> Vec<(String, u64)> {
    buckets
        .iter()
        .map(|&(lo, hi)| {
            let sum = counts.iter().skip(lo as usize).take((hi - lo + 1) as usize).sum();
            (day_band_label((lo, hi)), sum)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intersections_match_a_naive_count() {
        let a = IdSet::from_sorted_iter((0..200_000u32).filter(|i| i % 3 == 0));
        let b = IdSet::from_sorted_iter((0..200_000u32).filter(|i| i % 7 == 0 || *i > 150_000));
        let naive = (0..200_000u32).filter(|i| a.contains(*i) && b.contains(*i)).count() as u64;
        assert_eq!(intersect_count(&a, &b), naive);
        assert_eq!(intersect_count(&b, &a), naive);
        assert_eq!(intersect_count(&a, &IdSet::new()), 0);
    }

    /// A column of `n` users with pseudo-random values, some users without one.
    fn random_column(n: u32, seed: u64, max: u64) -> Vec<(u32, u64)> {
        let mut x = seed;
        (0..n)
            .filter_map(|id| {
                x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                let v = (x >> 33) % (max + 1);
                (x >> 20 & 7 != 0).then_some((id, v))
            })
            .collect()
    }

    fn naive_quantile(mut values: Vec<u64>, num: u64, den: u64) -> u64 {
        values.sort_unstable();
        let n = values.len() as u64;
        let rank = (n * num).div_ceil(den).max(1);
        values[rank as usize - 1]
    }

    #[test]
    fn quartiles_match_sorting() {
        for (seed, max) in [(1u64, 10u64), (2, 1_000), (3, 1), (4, 70_000), (5, 0)] {
            let pairs = random_column(3_000, seed, max);
            let col = engine::bsi::Bsi::from_pairs(pairs.clone());
            let within = IdSet::from_sorted_iter((0..3_000u32).filter(|i| i % 3 != 1));
            let all: Vec<u64> = pairs.iter().map(|p| p.1).collect();
            let inside: Vec<u64> = pairs.iter().filter(|p| within.contains(p.0)).map(|p| p.1).collect();
            for (set, values) in [(None, all), (Some(&within), inside)] {
                let q = quartiles(&col.view(), set, max).expect("values");
                assert_eq!(q.n, values.len() as u64);
                assert_eq!(q.q1, naive_quantile(values.clone(), 1, 4), "seed {seed}");
                assert_eq!(q.median, naive_quantile(values.clone(), 1, 2), "seed {seed}");
                assert_eq!(q.q3, naive_quantile(values, 3, 4), "seed {seed}");
            }
        }
        let col = engine::bsi::Bsi::from_pairs(vec![(1, 5)]);
        assert_eq!(quartiles(&col.view(), Some(&IdSet::from_sorted(&[2])), 5), None);
    }

    #[test]
    fn active_days_match_a_per_user_count() {
        let days: Vec<IdSet> = (0..30u64)
            .map(|d| {
                IdSet::from_sorted_iter(random_column(5_000, d + 10, 3).into_iter().filter(|p| p.1 == 0).map(|p| p.0))
            })
            .collect();
        let refs: Vec<&IdSet> = days.iter().collect();
        let within = IdSet::from_sorted_iter((0..4_000u32).filter(|i| i % 2 == 0));
        let counts = active_day_counts(&refs, &within);
        let mut naive = vec![0u64; 31];
        for id in within.iter() {
            naive[days.iter().filter(|d| d.contains(id)).count()] += 1;
        }
        assert_eq!(counts, naive);
        let any = active_any(&refs[..7], &within);
        assert_eq!(any.len(), within.iter().filter(|&id| days[..7].iter().any(|d| d.contains(id))).count() as u64);
        let banded = bucket_counts(&counts, &day_buckets(30));
        assert_eq!(banded.iter().map(|b| b.1).sum::<u64>(), within.len());
        assert_eq!(active_day_counts(&[], &within), [within.len()]);
    }

    #[test]
    fn empty_audience_has_no_tgi() {
        let r = rows(0, 100, &[("a".into(), 0, 10)]);
        assert_eq!(r[0].tgi, None);
        assert_eq!(r[0].lean, Lean::Even);
    }

    #[test]
    fn small_counts_are_not_flagged() {
        let r = rows(10, 10_000, &[("rare".into(), 2, 10)]);
        assert!(r[0].tgi.is_some_and(|t| t > 1000.0));
        assert_eq!(r[0].lean, Lean::Even);
    }
}
