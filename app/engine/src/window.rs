//! Numeric conditions and event windows, evaluated on bit-sliced columns (never by decoding
//! values one by one).
//!
//! Every test (`>=`, `between`, `!=`, …) is first normalised into a [`Select`]: an inclusive
//! range of stored values, possibly negated. Then:
//! - a numeric tag ([`select_column`]): O'Neil range comparisons on the column; users without
//!   a value never match, not even `!=`;
//! - an event window ([`select_window`]): the daily columns are summed by bit-sliced addition
//!   (or, for active days, their existence bitmaps), and users with no activity count as 0.
//!
//! # Saturating sums
//! A test only tells values apart up to a point: `count >= 3` does not care whether a user has
//! 3 or 300. So the window sum saturates at that point (the [`Select::cap`]): after each day,
//! users who reached it move to an `over` set and leave the running sum, which keeps the sum
//! to a few slices however long the window is (`>= 3` needs two) and its bitmaps small.
//!
//! # Sums never wrap
//! A day's count is at most [`MAX_DAILY_COUNT`] (10^17, refused at upload above that: see
//! [`parse_daily_count`]), so a window of up to 90 days sums to at most [`MAX_WINDOW_SUM`]
//! (9 × 10^18), below 2^63: every sum is exact in 64 bits (and in the signed 64-bit integers
//! of SQL tools reading our exports), and `u64::MAX` as the upper end of a [`Select`] can mean
//! "no upper end" without ever meeting a real sum. A bound at upload, rather than 128-bit sums,
//! keeps the sums in 64-bit slices on both tiers and in the browser; no real event happens 10^17
//! times a day for one user.

use crate::bsi::{Bsi, BsiView, Cmp};
use crate::catalog::NumericInfo;
use crate::ds::Ds;
use crate::idset::{BITSET_WORDS, Chunk, Container, IdSet, Words};
use crate::rule::{Measure, Test};

/// The largest count of one event for one user on one day that an upload may carry.
pub const MAX_DAILY_COUNT: u64 = 100_000_000_000_000_000;

/// The largest sum a window can reach: [`crate::rule::MAX_WINDOW_DAYS`] days of
/// [`MAX_DAILY_COUNT`].
pub const MAX_WINDOW_SUM: u64 = crate::rule::MAX_WINDOW_DAYS as u64 * MAX_DAILY_COUNT;

/// Reads one day's count from an upload: a whole number from 0 to [`MAX_DAILY_COUNT`].
///
/// ```
/// use engine::window::parse_daily_count;
/// assert_eq!(parse_daily_count("42"), Ok(42));
/// assert!(parse_daily_count("18446744073709551615").unwrap_err().contains("at most 100000000000000000"));
/// assert!(parse_daily_count("-1").is_err());
/// ```
pub fn parse_daily_count(text: &str) -> Result<u64, String> {
    let whole = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    match text.parse::<u64>() {
        Ok(n) if n <= MAX_DAILY_COUNT => Ok(n),
        _ if whole => Err(format!(
            "count `{text}` is too large: a daily count is at most {MAX_DAILY_COUNT} (so 90 days of them add up \
             exactly in 64 bits)"
        )),
        _ => Err(format!("count `{text}` is not a whole number ≥ 0")),
    }
}

/// A range test on stored values: `lo ≤ value ≤ hi`, or the opposite when `negate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Select {
    /// Lowest value inside (inclusive).
    pub lo: u64,
    /// Highest value inside (inclusive); `u64::MAX` means no upper end.
    pub hi: u64,
    /// Match the values outside the range instead.
    pub negate: bool,
}

impl Select {
    /// No value matches.
    pub const NOTHING: Select = Select { lo: 1, hi: 0, negate: false };

    /// Whether a value passes (the plain definition, for oracles).
    pub fn matches(&self, v: u64) -> bool {
        (self.lo <= v && v <= self.hi) != self.negate
    }

    /// The smallest value from which every larger value passes or fails alike: a running sum
    /// can stop counting there.
    pub fn cap(&self) -> u64 {
        if self.lo > self.hi {
            1
        } else if self.hi == u64::MAX {
            self.lo.max(1)
        } else {
            self.hi + 1
        }
    }

    /// The test of an event condition (whole numbers ≥ 0, checked when the rule was parsed),
    /// over sums from 0 to [`MAX_WINDOW_SUM`]: a constant above every possible sum compares
    /// with the sums as it should (`= 2^64 − 1` matches nobody, `< 2^64 − 1` everybody).
    ///
    /// ```
    /// use engine::rule::Test;
    /// use engine::bsi::Cmp;
    /// use engine::window::Select;
    /// let s = Select::from_counts(&Test::Compare(Cmp::Lt, "3".into())).unwrap();
    /// assert!(s.matches(0) && s.matches(2) && !s.matches(3));
    /// ```
    pub fn from_counts(test: &Test) -> Result<Select, String> {
        let whole = |t: &str| t.parse::<u64>().map_err(|_| format!("`{t}` is not a whole number of at least 0"));
        Ok(match test {
            Test::Compare(cmp, c) => compare_range(*cmp, i128::from(whole(c)?), i128::from(MAX_WINDOW_SUM)),
            Test::Between(lo, hi) => {
                let (lo, hi) = (whole(lo)?, whole(hi)?);
                if lo > hi {
                    return Err(format!("between [{lo}, {hi}]: the low end is above the high end"));
                }
                clamp(i128::from(lo), i128::from(hi), i128::from(MAX_WINDOW_SUM))
            }
        })
    }

    /// The test of a numeric tag, in the column's stored units (`round(v × 10^scale) − offset`).
    /// Constants with more decimals than the column keeps compare exactly: `age >= 17.5` on
    /// whole ages is `age >= 18`, `age = 17.5` matches nobody.
    ///
    /// ```
    /// use engine::catalog::NumericInfo;
    /// use engine::rule::Test;
    /// use engine::window::Select;
    /// let age = NumericInfo { scale: 0, offset: 10, max: 90, count: 1 };
    /// let s = Select::from_numeric(&Test::Between("17.5".into(), "25".into()), &age).unwrap();
    /// assert_eq!((s.lo, s.hi), (8, 15)); // 18..=25, stored from 10
    /// ```
    pub fn from_numeric(test: &Test, info: &NumericInfo) -> Result<Select, String> {
        let offset = i128::from(info.offset);
        let top = i128::from(info.max) - offset;
        let range = |lo: i128, hi: i128| clamp(lo.saturating_sub(offset), hi.saturating_sub(offset), top);
        Ok(match test {
            Test::Compare(cmp, c) => {
                let (floor, exact) = scaled(c, info.scale)?;
                if exact {
                    return Ok(compare_range(*cmp, floor - offset, top));
                }
                // `c` lies strictly between floor and floor + 1.
                match cmp {
                    Cmp::Gt | Cmp::Ge => range(floor + 1, i128::MAX),
                    Cmp::Lt | Cmp::Le => range(i128::MIN, floor),
                    Cmp::Eq => Select::NOTHING,
                    Cmp::Ne => Select { negate: true, ..Select::NOTHING },
                }
            }
            Test::Between(lo_text, hi_text) => {
                let (lo, lo_exact) = scaled(lo_text, info.scale)?;
                let (hi, _) = scaled(hi_text, info.scale)?;
                let lo_ceil = if lo_exact { lo } else { lo + 1 };
                if decimal_gt(lo_text, hi_text) {
                    return Err(format!("between [{lo_text}, {hi_text}]: the low end is above the high end"));
                }
                range(lo_ceil, hi)
            }
        })
    }
}

/// The range of `value cmp c` for whole `c`, over stored values `0..=top` (`negate` for `!=`).
fn compare_range(cmp: Cmp, c: i128, top: i128) -> Select {
    match cmp {
        Cmp::Gt => clamp(c.saturating_add(1), i128::MAX, top),
        Cmp::Ge => clamp(c, i128::MAX, top),
        Cmp::Lt => clamp(0, c.saturating_sub(1), top),
        Cmp::Le => clamp(0, c, top),
        Cmp::Eq => clamp(c, c, top),
        Cmp::Ne => Select { negate: true, ..clamp(c, c, top) },
    }
}

/// The stored range `lo..=hi` cut to `0..=top`; an upper end at or past `top` becomes open.
fn clamp(lo: i128, hi: i128, top: i128) -> Select {
    let lo = lo.max(0);
    if lo > hi || lo > top {
        return Select::NOTHING;
    }
    let hi = if hi >= top { u64::MAX } else { u64::try_from(hi).unwrap_or(u64::MAX) };
    Select { lo: u64::try_from(lo).unwrap_or(u64::MAX), hi, negate: false }
}

/// A decimal constant at `scale` decimals: `(floor, exact)`.
fn scaled(text: &str, scale: u32) -> Result<(i128, bool), String> {
    let digits = text.split_once('.').map_or(0, |(_, f)| f.trim_end_matches('0').len()) as u32;
    let at = digits.max(scale);
    let fine = crate::bsi::parse_scaled_wide(text, at).map_err(|e| e.to_string())?;
    let step = 10i128.checked_pow(at - scale).ok_or_else(|| format!("`{text}` has too many decimals"))?;
    Ok((fine.div_euclid(step), fine.rem_euclid(step) == 0))
}

/// `a > b` for two decimal texts, exactly.
fn decimal_gt(a: &str, b: &str) -> bool {
    let digits = |t: &str| t.split_once('.').map_or(0, |(_, f)| f.len()) as u32;
    let at = digits(a).max(digits(b));
    match (crate::bsi::parse_scaled_wide(a, at), crate::bsi::parse_scaled_wide(b, at)) {
        (Ok(a), Ok(b)) => a > b,
        _ => false,
    }
}

/// The users of a column whose stored value passes `select`; users without a value never do.
///
/// Chunk by chunk, the column's slices are laid out as bitsets and compared word by word
/// (O'Neil's comparison against both ends at once), instead of one whole-bitmap operation
/// per slice and end, which allocated a bitmap each time (measured 8× slower than a plain
/// array scan before; see BENCHMARKS.md).
pub fn select_column(column: &BsiView<'_>, select: &Select) -> IdSet {
    if select.lo > select.hi {
        return if select.negate { column.exists.clone() } else { IdSet::new() };
    }
    let top = column.max_storable();
    if select.lo == 0 && select.hi >= top {
        return if select.negate { IdSet::new() } else { column.exists.clone() };
    }
    let hi = if select.hi >= top { u64::MAX } else { select.hi };
    let mut slices: Vec<Words> = vec![Words::ZERO; column.slices.len()];
    let mut inside: Box<Words> = Words::boxed();
    let mut out = Vec::new();
    for chunk in column.exists.chunks() {
        for (words, slice) in slices.iter_mut().zip(&column.slices) {
            match slice.container(chunk.key) {
                Some(c) => c.write_bits(words),
                None => words.fill(0),
            }
        }
        chunk.container.write_bits(&mut inside);
        for (w, word) in inside.iter_mut().enumerate() {
            let hit = in_range(&slices, w, select.lo, hi);
            *word &= if select.negate { !hit } else { hit };
        }
        if let Some(container) = Container::from_words(&inside) {
            out.push(Chunk { key: chunk.key, container });
        }
    }
    IdSet::from_chunks(out)
}

/// The days of a window of `last_days` ending with (and including) `ds`, oldest first;
/// `None` when `ds` is not a date.
///
/// ```
/// assert_eq!(
///     engine::window::window_days("2026-03-01", 3),
///     Some(vec!["2026-02-27".to_string(), "2026-02-28".into(), "2026-03-01".into()])
/// );
/// ```
pub fn window_days(ds: &str, last_days: u32) -> Option<Vec<String>> {
    let end: Ds = ds.parse().ok()?;
    let n = i32::try_from(last_days).ok()?;
    Some((0..n).rev().map(|back| end.add_days(-back).to_string()).collect())
}

/// The users of `universe` whose activity over the window passes `select`: the sum of the
/// daily counts ([`Measure::Count`]) or the number of days with any ([`Measure::Days`]).
/// `days` holds one column per day with data; users absent from every day count 0.
///
/// Chunk by chunk (65,536 ids), the saturating sum lives in a few 8 KiB bitsets — one per
/// bit of the counter, ⌈log2(cap)⌉ of them — and each day's slices are added into them with
/// word-wide ripple-carry addition: no bitmap is allocated per day, which is what made the
/// set-at-a-time sum ([`saturating_sum`], kept as the reference) several times slower than a
/// plain array scan. Caps above 2^16 (tests like `count >= 100000`) use that reference.
pub fn select_window(universe: &IdSet, days: &[BsiView<'_>], measure: Measure, select: &Select) -> IdSet {
    let cap = select.cap();
    // Counter values 0..cap-1 need `bits` slices; reaching cap (or overflowing) means "over".
    let bits = (u64::BITS - (cap - 1).leading_zeros()).max(1) as usize;
    if bits > 16 {
        return select_window_sets(universe, days, measure, select);
    }
    // Users at or over the cap are inside only for an open upper end.
    let over_inside = select.lo <= select.hi && select.hi == u64::MAX;
    let (lo, hi) = (select.lo, select.hi.min(cap - 1));
    let mut acc: Vec<Words> = vec![Words::ZERO; bits];
    let mut over: Box<Words> = Words::boxed();
    let mut day_bits: Box<Words> = Words::boxed();
    let mut inside: Box<Words> = Words::boxed();
    let mut out = Vec::new();
    for chunk in universe.chunks() {
        let key = chunk.key;
        acc.iter_mut().for_each(|a| a.fill(0));
        over.fill(0);
        for day in days {
            let mut touched = false;
            let addends: Vec<(usize, &Container)> = match measure {
                Measure::Count => {
                    day.slices.iter().enumerate().filter_map(|(b, s)| s.container(key).map(|c| (b, c))).collect()
                }
                Measure::Days => day.exists.container(key).map(|c| (0, c)).into_iter().collect(),
            };
            for (b, c) in addends {
                touched = true;
                c.write_bits(&mut day_bits);
                if b >= bits {
                    // A daily value alone reaches the cap.
                    over.iter_mut().zip(day_bits.iter()).for_each(|(o, d)| *o |= d);
                    continue;
                }
                // acc += day_bits << b, ripple carry; a carry out of the top slice is over.
                for slice in acc.iter_mut().skip(b) {
                    let mut any = 0u64;
                    for (a, c) in slice.iter_mut().zip(day_bits.iter_mut()) {
                        let carry = *a & *c;
                        *a ^= *c;
                        *c = carry;
                        any |= carry;
                    }
                    if any == 0 {
                        break;
                    }
                }
                over.iter_mut().zip(day_bits.iter()).for_each(|(o, d)| *o |= d);
            }
            if touched {
                saturate(&mut acc, &mut over, cap);
            }
        }
        // inside = lo ≤ acc ≤ hi for users below the cap (users without activity are 0),
        // plus the users over the cap when the range is open above.
        for (w, slot) in inside.iter_mut().enumerate() {
            let below = !over[w];
            let mut v = if lo <= hi { in_range(&acc, w, lo, hi) & below } else { 0 };
            if over_inside {
                v |= over[w];
            }
            *slot = v;
        }
        chunk.container.write_bits(&mut day_bits);
        for (v, u) in inside.iter_mut().zip(day_bits.iter()) {
            *v = if select.negate { u & !*v } else { u & *v };
        }
        if let Some(container) = Container::from_words(&inside) {
            out.push(Chunk { key, container });
        }
    }
    IdSet::from_chunks(out)
}

/// Moves users whose counter reached `cap` to `over` and clears their counters (and the
/// counters of users already over, who may have been added to again).
fn saturate(acc: &mut [Words], over: &mut Words, cap: u64) {
    let bits = acc.len();
    let reachable = bits >= 64 || cap < 1u64 << bits;
    for w in 0..BITSET_WORDS {
        let mut o = over[w];
        if reachable {
            o |= ge_const(acc, w, cap);
        }
        over[w] = o;
        if o != 0 {
            acc.iter_mut().for_each(|a| a[w] &= !o);
        }
    }
}

/// Word `w` of "counter ≥ c", by O'Neil's comparison over the counter's slices.
fn ge_const(acc: &[Words], w: usize, c: u64) -> u64 {
    let bits = acc.len();
    if bits < 64 && c >> bits != 0 {
        return 0;
    }
    let (mut gt, mut eq) = (0u64, !0u64);
    for i in (0..bits).rev() {
        let a = acc[i][w];
        if c >> i & 1 == 1 {
            eq &= a;
        } else {
            gt |= eq & a;
            eq &= !a;
        }
    }
    gt | eq
}

/// Word `w` of "lo ≤ counter ≤ hi".
fn in_range(acc: &[Words], w: usize, lo: u64, hi: u64) -> u64 {
    let at_least_lo = if lo == 0 { !0 } else { ge_const(acc, w, lo) };
    let above_hi = if hi == u64::MAX { 0 } else { ge_const(acc, w, hi + 1) };
    at_least_lo & !above_hi
}

/// [`select_window`] with whole bitmaps per operation: the reference the chunked version is
/// checked against, and the path for very large caps.
pub fn select_window_sets(universe: &IdSet, days: &[BsiView<'_>], measure: Measure, select: &Select) -> IdSet {
    let cap = select.cap();
    let (sum, over) = saturating_sum(days, measure, cap);
    let mut inside = IdSet::new();
    if select.lo == 0 && select.hi >= select.lo {
        inside = universe.and_not(&sum.exists().or(&over));
    }
    let lo = select.lo.max(1);
    let hi = select.hi.min(cap - 1);
    if lo <= hi {
        inside = inside.or(&sum.between(lo, hi));
    }
    if select.lo <= select.hi && select.hi == u64::MAX {
        // cap ≤ max(lo, 1), so everyone at the cap is inside.
        inside = inside.or(&over);
    }
    let inside = inside.and(universe);
    if select.negate { universe.and_not(&inside) } else { inside }
}

/// The per-user sum over `days`, saturated at `cap`: `(users below cap with their sums, users at
/// or above it)`. The sum holds only users with a value above 0.
pub fn saturating_sum(days: &[BsiView<'_>], measure: Measure, cap: u64) -> (Bsi, IdSet) {
    let mut sum = Bsi::default();
    let mut over = IdSet::new();
    for day in days {
        let today = match measure {
            Measure::Count => day.clone(),
            // Daily columns hold only users with a count above zero (see
            // `snapshot::build_event`), so `exists` is the day's active users.
            Measure::Days => BsiView { exists: day.exists, slices: vec![day.exists] },
        };
        let added = if over.is_empty() {
            sum.view().add(&today)
        } else {
            // Users already at the cap stay there; keep them out of the running sum.
            let exists = today.exists.and_not(&over);
            let slices: Vec<IdSet> = today.slices.iter().map(|s| s.and_not(&over)).collect();
            sum.view().add(&BsiView { exists: &exists, slices: slices.iter().collect() })
        };
        sum = added;
        let reached = sum.compare(Cmp::Ge, cap);
        if !reached.is_empty() {
            over = over.or(&reached);
            sum = sum.map_sets(|s| s.and_not(&reached));
        }
    }
    (sum, over)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The chunked sum agrees with the set-at-a-time reference, over several chunks, for
    /// small and huge caps, ranges and negations (the engine's property tests compare both
    /// with a naive oracle through whole rules).
    #[test]
    fn chunked_window_equals_reference() {
        let universe = IdSet::from_sorted_iter((0..200_000u32).filter(|i| i % 7 != 3));
        let day = |seed: u32, big: u64| {
            let pairs = (0..210_000u32)
                .filter(|i| (i.wrapping_mul(2_654_435_761) ^ seed).is_multiple_of(5))
                .map(|i| (i, 1 + u64::from(i.wrapping_add(seed) % 4) * if i % 1000 == 0 { big } else { 1 }))
                .collect();
            Bsi::from_pairs(pairs)
        };
        let days = [day(1, 1), day(2, 70_000), day(3, 1), day(4, 40_000)];
        let views: Vec<BsiView<'_>> = days.iter().map(Bsi::view).collect();
        let selects = [
            Select { lo: 3, hi: u64::MAX, negate: false },
            Select { lo: 0, hi: 2, negate: false },
            Select { lo: 2, hi: 5, negate: true },
            Select { lo: 0, hi: u64::MAX, negate: false },
            Select { lo: 100_000, hi: u64::MAX, negate: false },
            Select { lo: 1, hi: 150_000, negate: false },
            Select::NOTHING,
        ];
        // Columns: the chunked comparison equals the whole-bitmap one.
        let column = days[1].view();
        for select in selects {
            let reference = if select.lo > select.hi {
                if select.negate { column.exists.clone() } else { IdSet::new() }
            } else {
                let inside = column.between(select.lo, select.hi.min(column.max_storable()));
                if select.negate { column.exists.and_not(&inside) } else { inside }
            };
            assert_eq!(select_column(&column, &select), reference, "{select:?}");
        }
        for select in selects {
            for measure in [Measure::Count, Measure::Days] {
                let fast = select_window(&universe, &views, measure, &select);
                let reference = select_window_sets(&universe, &views, measure, &select);
                assert_eq!(fast, reference, "{select:?} {measure:?}");
            }
        }
    }
}
