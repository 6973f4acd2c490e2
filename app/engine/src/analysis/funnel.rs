//! Ordered event funnels over daily event columns, day-granular.
//!
//! # Definition
//! Days are `0..n` (the funnel's `from` to `to`). A user enters step 1 on the earliest day with
//! the step's event (count ≥ 1, the event column's existence bitmap), and, when an audience is
//! given, in that day's audience. They reach step k on the earliest day on or after the day they
//! reached step k − 1 (strictly after when both steps are the same event) with step k's event,
//! no more than `within_days` days after their step-1 day, and no later than day `n − 1`.
//!
//! # Computation
//! Per day, per step, with set operations only ([`reach`]): `pending[k]` holds the users who
//! reached step k − 1 and not yet step k and whose step-1 day is at most `within_days` ago;
//! on day d the users of `pending[k]` with the event reach step k (steps in order within the
//! day, so a different event may follow on the same day), and the users whose step-1 day was
//! `d − within_days − 1` leave every `pending`. The result keeps, per step, the users who
//! reached it on each day (disjoint across days), from which counts and the histogram of gaps
//! between steps follow by intersections ([`summarise`]): the users reaching step k on day d
//! with a gap of g are `reached[k][d] ∩ reached[k − 1][d − g]`.

use wire::{Funnel, FunnelBy, FunnelStep};

use crate::IdSet;
use crate::analysis::ratio;

/// The most steps a funnel takes.
pub const MAX_STEPS: usize = 8;

/// One step's event on each day of the funnel: the users with a count ≥ 1.
#[derive(Debug, Clone)]
pub struct StepDays<'a> {
    /// The event's name (two steps in a row with the same name need distinct days).
    pub event: &'a str,
    /// Per day of the funnel, its users with the event.
    pub days: Vec<&'a IdSet>,
}

/// Who reached each step on which day: `days[step][day]`, disjoint across days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reached {
    /// Per step, per day, the users who reached the step that day.
    pub days: Vec<Vec<IdSet>>,
}

impl Reached {
    /// Everyone who reached step `k` (on any day).
    pub fn users(&self, k: usize) -> IdSet {
        self.days[k].iter().fold(IdSet::new(), |acc, s| acc.or(s))
    }
}

/// Walks the days in order and finds who reached each step on which day (module docs).
/// `audience`, when given, has one set per day.
///
/// ```
/// use engine::IdSet;
/// use engine::analysis::funnel::{StepDays, reach};
/// let visit = [IdSet::from_sorted(&[1, 2, 3]), IdSet::new()];
/// let buy = [IdSet::from_sorted(&[1]), IdSet::from_sorted(&[2])];
/// let steps = [
///     StepDays { event: "visit", days: visit.iter().collect() },
///     StepDays { event: "buy", days: buy.iter().collect() },
/// ];
/// let r = reach(&steps, None, 0);
/// assert_eq!(r.users(0).len(), 3);
/// assert_eq!(r.users(1).iter().collect::<Vec<_>>(), vec![1]); // 2 bought a day too late
/// ```
pub fn reach(steps: &[StepDays<'_>], audience: Option<&[&IdSet]>, within_days: u32) -> Reached {
    let n_days = steps.first().map_or(0, |s| s.days.len());
    let mut reached: Vec<Vec<IdSet>> = steps.iter().map(|_| Vec::with_capacity(n_days)).collect();
    let mut pending: Vec<IdSet> = steps.iter().map(|_| IdSet::new()).collect();
    let mut entered = IdSet::new();
    let window = within_days as usize;
    for d in 0..n_days {
        if d > window {
            let expired = reached[0][d - window - 1].clone();
            for p in pending.iter_mut().skip(1) {
                *p = p.and_not(&expired);
            }
        }
        for k in 0..steps.len() {
            let today = steps[k].days[d];
            if k == 0 {
                let mut first = today.and_not(&entered);
                if let Some(a) = audience {
                    first = first.and(a[d]);
                }
                entered = entered.or(&first);
                reached[0].push(first);
                continue;
            }
            let same = steps[k].event == steps[k - 1].event;
            if !same {
                pending[k] = pending[k].or(&reached[k - 1][d]);
            }
            let new = pending[k].and(today);
            pending[k] = pending[k].and_not(&new);
            reached[k].push(new);
            if same {
                pending[k] = pending[k].or(&reached[k - 1][d]);
            }
        }
    }
    Reached { days: reached }
}

/// Counts per step and, per step after the first, how many users took each number of days
/// from the previous step (`gaps[k][g]`; `gaps[0]` is empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Users who reached each step.
    pub counts: Vec<u64>,
    /// Histogram of days between step k − 1 and step k.
    pub gaps: Vec<Vec<u64>>,
}

/// The counts and gap histograms of `reached`, among `restrict`'s users when given.
pub fn summarise(reached: &Reached, within_days: u32, restrict: Option<&IdSet>) -> Summary {
    let mut counts = Vec::with_capacity(reached.days.len());
    let mut gaps = Vec::with_capacity(reached.days.len());
    for (k, days) in reached.days.iter().enumerate() {
        let own: Vec<IdSet> = match restrict {
            Some(r) => days.iter().map(|s| s.and(r)).collect(),
            None => days.clone(),
        };
        counts.push(own.iter().map(IdSet::len).sum());
        let mut hist = Vec::new();
        if k > 0 {
            let longest = (within_days as usize).min(days.len().saturating_sub(1));
            hist = vec![0u64; longest + 1];
            for (d, set) in own.iter().enumerate() {
                if set.is_empty() {
                    continue;
                }
                for (g, slot) in hist.iter_mut().enumerate().take(d.min(longest) + 1) {
                    *slot += set.intersection_len(&reached.days[k - 1][d - g]);
                }
            }
        }
        gaps.push(hist);
    }
    Summary { counts, gaps }
}

/// The median of a histogram (`hist[g]` users took `g` days): the middle value, or the mean
/// of the two middle values; `None` when it is empty.
///
/// ```
/// use engine::analysis::funnel::median;
/// assert_eq!(median(&[1, 0, 2]), Some(2.0));
/// assert_eq!(median(&[1, 1]), Some(0.5));
/// assert_eq!(median(&[0, 0]), None);
/// ```
pub fn median(hist: &[u64]) -> Option<f64> {
    let n: u64 = hist.iter().sum();
    if n == 0 {
        return None;
    }
    // The values at (1-based) ranks ⌈n/2⌉ and ⌊n/2⌋ + 1.
    let at = |rank: u64| {
        let mut seen = 0;
        for (g, c) in hist.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return g as f64;
            }
        }
        0.0
    };
    Some((at(n.div_ceil(2)) + at(n / 2 + 1)) / 2.0)
}

/// The answer's steps from counts (exact, or noisy with `None` for withheld) and medians.
///
/// ```
/// use engine::analysis::funnel::answer_steps;
/// let s = answer_steps(&["a".into(), "b".into()], &[Some(4), Some(1)], &[None, Some(2.0)]);
/// assert_eq!(s[1].from_previous, Some(0.25));
/// assert_eq!(s[0].from_previous, Some(1.0));
/// ```
pub fn answer_steps(events: &[String], counts: &[Option<u64>], medians: &[Option<f64>]) -> Vec<FunnelStep> {
    events
        .iter()
        .enumerate()
        .map(|(k, event)| FunnelStep {
            event: event.clone(),
            count: counts[k],
            suppressed: counts[k].is_none(),
            from_previous: ratio(counts[k], counts[k.saturating_sub(1)]),
            from_first: ratio(counts[k], counts[0]),
            median_days: if k == 0 { None } else { medians[k] },
        })
        .collect()
}

/// The exact steps of a summary.
pub fn exact_steps(events: &[String], summary: &Summary) -> Vec<FunnelStep> {
    let counts: Vec<Option<u64>> = summary.counts.iter().map(|&c| Some(c)).collect();
    let medians: Vec<Option<f64>> = summary.gaps.iter().map(|h| median(h)).collect();
    answer_steps(events, &counts, &medians)
}

/// The exact answer of a funnel over `from` to `to`: its steps and, with `by`, the steps among
/// each value's users. The server (for every token but `aggregate`) and the browser both build
/// their answer here, so the two agree to the last field.
pub fn exact_answer(
    (from, to): (&str, &str),
    events: &[String],
    reached: &Reached,
    within_days: u32,
    by: Option<&[(String, &IdSet)]>,
) -> Funnel {
    let steps_of = |restrict: Option<&IdSet>| exact_steps(events, &summarise(reached, within_days, restrict));
    Funnel {
        from: from.to_owned(),
        to: to.to_owned(),
        steps: steps_of(None),
        by: by.map(|values| {
            values.iter().map(|(value, set)| FunnelBy { value: value.clone(), steps: steps_of(Some(set)) }).collect()
        }),
        noisy: false,
    }
}
