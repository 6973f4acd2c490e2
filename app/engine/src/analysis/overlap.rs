//! The regions of up to [`MAX_SETS`] sets: for every non-empty choice of sets, the users in
//! exactly those sets (in each chosen set, in none of the others). Region `mask` holds the
//! sets whose bit is set (set `i` is bit `i`); masks run from 1 to 2^n − 1.

use wire::{Overlap, Region};

use crate::IdSet;

/// The most sets an overlap takes (31 regions).
pub const MAX_SETS: usize = 5;

/// Every region's users, by mask from 1 to 2^n − 1 (empty regions included).
///
/// ```
/// use engine::IdSet;
/// use engine::analysis::overlap::regions;
/// let a = IdSet::from_sorted(&[1, 2, 3]);
/// let b = IdSet::from_sorted(&[3, 4]);
/// let r = regions(&[&a, &b]);
/// let counts: Vec<u64> = r.iter().map(|s| s.len()).collect();
/// assert_eq!(counts, vec![2, 1, 1]); // only a, only b, both
/// ```
pub fn regions(sets: &[&IdSet]) -> Vec<IdSet> {
    let n = sets.len().min(MAX_SETS);
    let union = sets[..n].iter().fold(IdSet::new(), |acc, s| acc.or(s));
    (1u32..(1 << n))
        .map(|mask| {
            let mut inside = union.clone();
            for (i, s) in sets[..n].iter().enumerate() {
                inside = if mask & (1 << i) != 0 { inside.and(s) } else { inside.and_not(s) };
            }
            inside
        })
        .collect()
}

/// The indexes of the sets in region `mask`.
///
/// ```
/// assert_eq!(engine::analysis::overlap::members_of(0b101), vec![0, 2]);
/// ```
pub fn members_of(mask: u32) -> Vec<usize> {
    (0..MAX_SETS).filter(|i| mask & (1 << i) != 0).collect()
}

/// The answer of an overlap on `ds` from each region's count (by mask from 1, as [`regions`]
/// gives them; `None` where withheld from an `aggregate` token); `names[i]` names set `i`.
///
/// ```
/// use engine::IdSet;
/// use engine::analysis::overlap::{answer, regions};
/// let (a, b) = (IdSet::from_sorted(&[1, 2, 3]), IdSet::from_sorted(&[3, 4]));
/// let counts = regions(&[&a, &b]).iter().map(|s| Some(s.len())).collect();
/// let o = answer("2026-01-01", &["a".into(), "b".into()], counts, false);
/// assert_eq!(o.regions[2].within, vec!["a", "b"]);
/// assert_eq!(o.regions[2].count, Some(1));
/// ```
pub fn answer(ds: &str, names: &[String], counts: Vec<Option<u64>>, noisy: bool) -> Overlap {
    let regions = counts
        .into_iter()
        .enumerate()
        .map(|(i, count)| Region {
            within: members_of(i as u32 + 1).into_iter().map(|k| names[k].clone()).collect(),
            count,
            suppressed: count.is_none(),
        })
        .collect();
    Overlap { ds: ds.to_owned(), regions, noisy }
}

/// The exact answer of an overlap of `sets` (named by `names`) on `ds`.
pub fn exact_answer(ds: &str, names: &[String], sets: &[&IdSet]) -> Overlap {
    answer(ds, names, regions(sets).iter().map(|s| Some(s.len())).collect(), false)
}
