//! The segment profile (画像): for one tag group, how the audience is spread over its values
//! next to all users, with TGI (segment share ÷ overall share × 100). Plain Rust, tested
//! natively.

use engine::IdSet;

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
