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

use crate::bsi::{Bsi, BsiView, Cmp};
use crate::catalog::NumericInfo;
use crate::ds::Ds;
use crate::idset::IdSet;
use crate::rule::{Measure, Test};

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

    /// The test of an event condition (whole numbers ≥ 0, checked when the rule was parsed).
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
            Test::Compare(cmp, c) => compare_range(*cmp, i128::from(whole(c)?), i128::from(u64::MAX)),
            Test::Between(lo, hi) => {
                let (lo, hi) = (whole(lo)?, whole(hi)?);
                if lo > hi {
                    return Err(format!("between [{lo}, {hi}]: the low end is above the high end"));
                }
                Select { lo, hi, negate: false }
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
    let fine = crate::bsi::parse_scaled(text, at).map_err(|e| e.to_string())?;
    let step = 10i128.pow(at - scale);
    let fine = i128::from(fine);
    Ok((fine.div_euclid(step), fine.rem_euclid(step) == 0))
}

/// `a > b` for two decimal texts, exactly.
fn decimal_gt(a: &str, b: &str) -> bool {
    let digits = |t: &str| t.split_once('.').map_or(0, |(_, f)| f.len()) as u32;
    let at = digits(a).max(digits(b));
    match (crate::bsi::parse_scaled(a, at), crate::bsi::parse_scaled(b, at)) {
        (Ok(a), Ok(b)) => a > b,
        _ => false,
    }
}

/// The users of a column whose stored value passes `select`; users without a value never do.
pub fn select_column(column: &BsiView<'_>, select: &Select) -> IdSet {
    let inside = if select.lo > select.hi {
        IdSet::new()
    } else if select.lo == 0 && select.hi >= column.max_storable() {
        column.exists.clone()
    } else if select.hi >= column.max_storable() {
        column.compare(Cmp::Ge, select.lo)
    } else {
        column.between(select.lo, select.hi)
    };
    if select.negate { column.exists.and_not(&inside) } else { inside }
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
pub fn select_window(universe: &IdSet, days: &[BsiView<'_>], measure: Measure, select: &Select) -> IdSet {
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
