//! The balance check of a split, once for the browser's preview and the server's check: group
//! sizes against the plan (Pearson's chi-square, a sample-ratio mismatch below
//! [`SRM_ALPHA`]) and the tag mix (each group's share of every value of the small tag groups,
//! largest spreads first). The server answers [`balance`]; the Split page previews the same
//! numbers before saving, so the two agree to the last digit by construction.

use crate::IdSet;
use crate::Manifest;
use crate::manifest::GroupEntry;
use crate::stats::chi_square;
use wire::{Balance, MixRow};

/// p-values below this flag a sample-ratio mismatch.
pub const SRM_ALPHA: f64 = 0.001;
/// Rows of the tag mix kept.
pub const MIX_ROWS: usize = 20;
/// Tag groups with more values than this are left out of the tag mix (a city list with
/// hundreds of values is noise, not balance).
pub const MIX_MAX_VALUES: usize = 50;

/// Group sizes against the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct SizeCheck {
    /// Planned share of each group among the assigned users.
    pub planned: Vec<f64>,
    /// Observed share of each group among the assigned users.
    pub observed: Vec<f64>,
    /// Pearson's chi-square statistic.
    pub chi_square: f64,
    /// Its p-value.
    pub p_value: f64,
    /// Whether the p-value is below [`SRM_ALPHA`]: the groups are not the sizes planned.
    pub srm: bool,
}

/// Sizes (`counts`) against planned percentages.
///
/// ```
/// use engine::balance::size_check;
/// let c = size_check(&[5_000, 5_000], &[50.0, 50.0]);
/// assert!(!c.srm && c.p_value > 0.99);
/// let c = size_check(&[5_300, 4_700], &[50.0, 50.0]);
/// assert!(c.srm);
/// assert_eq!(c.observed, [0.53, 0.47]);
/// ```
pub fn size_check(counts: &[u64], percents: &[f64]) -> SizeCheck {
    let (stat, p) = chi_square(counts, percents);
    let assigned: u64 = counts.iter().sum();
    let total: f64 = percents.iter().sum();
    SizeCheck {
        planned: percents.iter().map(|p| if total > 0.0 { p / total } else { 0.0 }).collect(),
        observed: counts.iter().map(|&c| if assigned == 0 { 0.0 } else { c as f64 / assigned as f64 }).collect(),
        chi_square: stat,
        p_value: p,
        srm: p < SRM_ALPHA,
    }
}

/// The tag groups in the tag mix: those with 1 to [`MIX_MAX_VALUES`] values.
pub fn mix_groups(manifest: &Manifest) -> impl Iterator<Item = &GroupEntry> {
    manifest.groups.iter().filter(|g| !g.values.is_empty() && g.values.len() <= MIX_MAX_VALUES)
}

/// The tag mix: for every `(tag, value, holders)`, the share of each group holding it and the
/// spread (largest minus smallest share), largest spreads first (ties keep their order), the
/// first [`MIX_ROWS`]. An empty group holds nothing (share 0).
///
/// ```
/// use engine::IdSet;
/// let groups = [IdSet::from_sorted(&[1, 2, 3, 4]), IdSet::from_sorted(&[5, 6, 7, 8])];
/// let female = IdSet::from_sorted(&[1, 2, 5]);
/// let ios = IdSet::from_sorted(&[1, 5]);
/// let mix = engine::balance::tag_mix(&groups, [("gender", "female", &female), ("os", "iOS", &ios)].into_iter());
/// assert_eq!(mix[0].value, "female");
/// assert_eq!(mix[0].shares, [0.5, 0.25]);
/// assert_eq!(mix[1].spread, 0.0);
/// ```
pub fn tag_mix<'a, G: std::borrow::Borrow<IdSet>>(
    groups: &[G],
    values: impl Iterator<Item = (&'a str, &'a str, &'a IdSet)>,
) -> Vec<MixRow> {
    let mut mix: Vec<MixRow> = values
        .map(|(tag, value, set)| {
            let shares: Vec<f64> = groups
                .iter()
                .map(std::borrow::Borrow::borrow)
                .map(|g| if g.is_empty() { 0.0 } else { g.intersection_len(set) as f64 / g.len() as f64 })
                .collect();
            let max = shares.iter().copied().fold(f64::MIN, f64::max);
            let min = shares.iter().copied().fold(f64::MAX, f64::min);
            MixRow { tag: tag.to_owned(), value: value.to_owned(), shares, spread: max - min }
        })
        .collect();
    mix.sort_by(|a, b| b.spread.total_cmp(&a.spread));
    mix.truncate(MIX_ROWS);
    mix
}

/// The whole check as the API answers it.
pub fn balance(sizes: SizeCheck, mix: Vec<MixRow>) -> Balance {
    Balance {
        chi_square: sizes.chi_square,
        p_value: sizes.p_value,
        srm: sizes.srm,
        planned: sizes.planned,
        observed: sizes.observed,
        mix,
    }
}

impl From<&Balance> for SizeCheck {
    fn from(b: &Balance) -> SizeCheck {
        SizeCheck {
            planned: b.planned.clone(),
            observed: b.observed.clone(),
            chi_square: b.chi_square,
            p_value: b.p_value,
            srm: b.srm,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix_sorts_by_spread_and_keeps_ties_in_order() {
        let groups = [IdSet::from_sorted(&[1, 2]), IdSet::from_sorted(&[3, 4]), IdSet::from_sorted(&[])];
        let (a, b, c) = (IdSet::from_sorted(&[1]), IdSet::from_sorted(&[1, 2, 3, 4]), IdSet::from_sorted(&[3, 4]));
        let mix = tag_mix(&groups, [("t", "a", &a), ("t", "b", &b), ("t", "c", &c)].into_iter());
        let order: Vec<&str> = mix.iter().map(|r| r.value.as_str()).collect();
        assert_eq!(order, ["b", "c", "a"], "spreads 1, 1, 0.5: ties keep their order");
        assert_eq!(mix[0].shares, [1.0, 1.0, 0.0], "an empty group has share 0");
    }

    #[test]
    fn mix_keeps_the_largest_spreads() {
        let groups =
            [IdSet::from_sorted(&(0..100).collect::<Vec<_>>()), IdSet::from_sorted(&(100..200).collect::<Vec<_>>())];
        // Value i is held by i users of the first group: spread i/100.
        let sets: Vec<IdSet> = (0..30).map(|i| IdSet::from_sorted(&(0..i).collect::<Vec<_>>())).collect();
        let names: Vec<String> = (0..30).map(|i| i.to_string()).collect();
        let mix = tag_mix(&groups, sets.iter().zip(&names).map(|(s, n)| ("t", n.as_str(), s)));
        assert_eq!(mix.len(), MIX_ROWS);
        assert_eq!(mix[0].value, "29");
        assert_eq!(mix[MIX_ROWS - 1].value, "10");
    }

    #[test]
    fn sizes_as_planned_are_not_flagged_and_skews_are() {
        let fair = size_check(&[4_990, 5_010], &[50.0, 50.0]);
        assert!(!fair.srm);
        assert_eq!(fair.planned, [0.5, 0.5]);
        let skew = size_check(&[6_000, 4_000], &[50.0, 50.0]);
        assert!(skew.srm && skew.p_value < SRM_ALPHA);
        let b = balance(skew.clone(), Vec::new());
        assert_eq!(SizeCheck::from(&b), skew);
    }
}
