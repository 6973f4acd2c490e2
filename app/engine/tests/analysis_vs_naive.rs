//! Property tests: the analyses (funnel, overlap, pivot), computed with set operations, equal
//! naive per-user evaluators on random data spread over several chunks.

// The oracles index parallel per-user arrays by user and by value on purpose.
#![allow(clippy::needless_range_loop)]

use engine::IdSet;
use engine::analysis::{funnel, overlap, pivot};
use proptest::prelude::*;

/// Users are `i * SPREAD` so that sets cross chunk boundaries (and mix array and bitset chunks).
const SPREAD: u32 = 977;
const USERS: u32 = 160;

fn set_of(users: &[bool]) -> IdSet {
    IdSet::from_sorted_iter(users.iter().enumerate().filter(|(_, in_)| **in_).map(|(i, _)| i as u32 * SPREAD))
}

/// Random membership: per user, a bool (dense or sparse).
fn membership() -> impl Strategy<Value = Vec<bool>> {
    (1u32..10).prop_flat_map(|density| prop::collection::vec((0u32..10).prop_map(move |x| x < density), USERS as usize))
}

#[derive(Debug, Clone)]
struct World {
    /// `events[e][day][user]`.
    events: Vec<Vec<Vec<bool>>>,
    /// `audience[day][user]`, when given.
    audience: Option<Vec<Vec<bool>>>,
    steps: Vec<usize>,
    within: u32,
}

fn world() -> impl Strategy<Value = World> {
    (1usize..7).prop_flat_map(|days| {
        (
            prop::collection::vec(prop::collection::vec(membership(), days), 3),
            prop::option::of(prop::collection::vec(membership(), days)),
            prop::collection::vec(0usize..3, 1..=5),
            0u32..8,
        )
            .prop_map(|(events, audience, steps, within)| World { events, audience, steps, within })
    })
}

/// Per user, the day each step was reached (naive reading of the definition).
fn naive_days(w: &World, user: usize) -> Vec<usize> {
    let n = w.events[0].len();
    let has = |k: usize, d: usize| w.events[w.steps[k]][d][user];
    let Some(first) = (0..n).find(|&d| has(0, d) && w.audience.as_ref().is_none_or(|a| a[d][user])) else {
        return Vec::new();
    };
    let mut out = vec![first];
    for k in 1..w.steps.len() {
        let prev = out[k - 1];
        let start = if w.steps[k] == w.steps[k - 1] { prev + 1 } else { prev };
        let last = (first + w.within as usize).min(n - 1);
        match (start..=last).find(|&d| has(k, d)) {
            Some(d) => out.push(d),
            None => break,
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn funnel_equals_naive(w in world(), restrict in membership()) {
        let names = ["visit", "cart", "buy"];
        let event_sets: Vec<Vec<IdSet>> = w.events.iter().map(|days| days.iter().map(|u| set_of(u)).collect()).collect();
        let audience_sets: Option<Vec<IdSet>> = w.audience.as_ref().map(|a| a.iter().map(|u| set_of(u)).collect());
        let audience_refs: Option<Vec<&IdSet>> = audience_sets.as_ref().map(|a| a.iter().collect());
        let steps: Vec<funnel::StepDays<'_>> = w
            .steps
            .iter()
            .map(|&e| funnel::StepDays { event: names[e], days: event_sets[e].iter().collect() })
            .collect();
        let reached = funnel::reach(&steps, audience_refs.as_deref(), w.within);
        let restrict_set = set_of(&restrict);
        let summary = funnel::summarise(&reached, w.within, Some(&restrict_set));
        let all = funnel::summarise(&reached, w.within, None);

        let n_days = w.events[0].len();
        let mut want = vec![vec![Vec::<u32>::new(); n_days]; w.steps.len()];
        let longest = (w.within as usize).min(n_days - 1);
        let mut counts = vec![0u64; w.steps.len()];
        let mut gaps = vec![vec![0u64; longest + 1]; w.steps.len()];
        gaps[0].clear();
        for user in 0..USERS as usize {
            let days = naive_days(&w, user);
            for (k, &d) in days.iter().enumerate() {
                want[k][d].push(user as u32 * SPREAD);
                if restrict[user] {
                    counts[k] += 1;
                    if k > 0 {
                        gaps[k][d - days[k - 1]] += 1;
                    }
                }
            }
        }
        for (k, days) in want.iter().enumerate() {
            for (d, ids) in days.iter().enumerate() {
                prop_assert_eq!(reached.days[k][d].iter().collect::<Vec<_>>(), ids.clone(), "step {} day {}", k, d);
            }
        }
        prop_assert_eq!(&summary.counts, &counts);
        prop_assert_eq!(&summary.gaps, &gaps);
        for (k, c) in all.counts.iter().enumerate() {
            prop_assert_eq!(*c, reached.users(k).len());
            if k > 0 {
                prop_assert!(c <= &all.counts[k - 1]);
            }
        }
    }

    #[test]
    fn overlap_equals_naive(sets in prop::collection::vec(membership(), 1..=5)) {
        let ids: Vec<IdSet> = sets.iter().map(|s| set_of(s)).collect();
        let refs: Vec<&IdSet> = ids.iter().collect();
        let regions = overlap::regions(&refs);
        prop_assert_eq!(regions.len(), (1 << sets.len()) - 1);
        let mut want = vec![0u64; 1 << sets.len()];
        for user in 0..USERS as usize {
            let mask = sets.iter().enumerate().filter(|(_, s)| s[user]).fold(0usize, |m, (i, _)| m | (1 << i));
            want[mask] += 1;
        }
        for (i, r) in regions.iter().enumerate() {
            prop_assert_eq!(r.len(), want[i + 1], "mask {}", i + 1);
        }
    }

    #[test]
    fn pivot_equals_naive(
        rows in prop::collection::vec(membership(), 1..4),
        columns in prop::collection::vec(membership(), 1..4),
        audience in prop::option::of(membership()),
    ) {
        let r: Vec<IdSet> = rows.iter().map(|s| set_of(s)).collect();
        let c: Vec<IdSet> = columns.iter().map(|s| set_of(s)).collect();
        let a = audience.as_ref().map(|s| set_of(s));
        let counts = pivot::counts(&r.iter().collect::<Vec<_>>(), &c.iter().collect::<Vec<_>>(), a.as_ref());
        for i in 0..rows.len() {
            for j in 0..columns.len() {
                let both = |u: usize| rows[i][u] && columns[j][u];
                let all = (0..USERS as usize).filter(|&u| both(u)).count() as u64;
                let inside = (0..USERS as usize).filter(|&u| both(u) && audience.as_ref().is_none_or(|a| a[u])).count() as u64;
                prop_assert_eq!(counts.all[i][j], all);
                prop_assert_eq!(counts.cells[i][j], inside);
            }
        }
        let wrap = |m: &Vec<Vec<u64>>| m.iter().map(|r| r.iter().map(|&c| Some(c)).collect()).collect::<Vec<Vec<Option<u64>>>>();
        let size = a.as_ref().map_or(u64::from(USERS), IdSet::len);
        let s = pivot::shares(&wrap(&counts.cells), &wrap(&counts.all), Some(size), Some(u64::from(USERS)));
        for i in 0..rows.len() {
            let row_total: u64 = counts.cells[i].iter().sum();
            for j in 0..columns.len() {
                let share = (row_total > 0).then(|| counts.cells[i][j] as f64 / row_total as f64);
                prop_assert_eq!(s.row[i][j], share);
                if a.is_none() && counts.all[i][j] > 0 {
                    prop_assert!(s.tgi[i][j].is_some_and(|t| (t - 100.0).abs() < 1e-9));
                }
            }
        }
    }
}

#[test]
fn median_of_histograms() {
    assert_eq!(funnel::median(&[0, 3, 0, 1]), Some(1.0));
    assert_eq!(funnel::median(&[2, 0, 0, 2]), Some(1.5));
    assert_eq!(funnel::median(&[]), None);
}
