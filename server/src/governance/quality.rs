//! Quality checks of a tag group upload against the group's previous version: a pure function
//! of two summaries ([`Side`]) and the policy, no I/O, so every rule is tested here on numbers.
//!
//! Rules (each a [`QualityCheck`]; the upload fails when any does not pass):
//! - `empty`: the upload has no data row (an empty file, or a header only);
//! - `holders`: users holding any value changed by more than `max_change_pct` percent;
//! - `value_holders`: a value held by at least 1% of the previous holders changed by more than
//!   `max_change_pct` percent (one check per such value that failed, one passing summary
//!   otherwise: a group of 3,000 values would otherwise answer 3,000 lines);
//! - `values_appeared` / `values_disappeared`: more values came or went than `max_change_pct`
//!   percent of the previous number of values (a new province in a list of 34 is news; a
//!   thirty-per-cent turnover is a broken export);
//! - `no_value_share`: the share of the universe holding no value rose by more than
//!   `max_change_pct` percentage points;
//! - `numeric_range`: a numeric group's smallest or largest value left the previous range
//!   widened by `max_change_pct` percent of its width on each side.
//!
//! Without a previous version only `empty` runs: there is nothing to compare with.

use wire::{CheckKind, QualityCheck, QualityPolicy};

/// What the checks need of one version of a group.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Side {
    /// Users holding any value.
    pub holders: u64,
    /// The day's universe (all known users).
    pub universe: u64,
    /// Each value's holders (categorical and boolean groups).
    pub values: Vec<(String, u64)>,
    /// A numeric group's smallest and largest value (as decimals).
    pub range: Option<(f64, f64)>,
}

/// Runs every check of `new` (an upload of `rows` data rows) against `previous`.
///
/// ```
/// use server::governance::quality::{Side, run, failed};
/// let before = Side { holders: 100, universe: 200, values: vec![("a".into(), 60), ("b".into(), 40)], range: None };
/// let half = Side { holders: 50, universe: 200, values: vec![("a".into(), 30), ("b".into(), 20)], range: None };
/// let checks = run(Some(&before), &half, 50, &wire::QualityPolicy::default());
/// assert!(failed(&checks));
/// assert!(!failed(&run(Some(&before), &before, 100, &wire::QualityPolicy::default())));
/// ```
pub fn run(previous: Option<&Side>, new: &Side, rows: u64, policy: &QualityPolicy) -> Vec<QualityCheck> {
    let pct = policy.max_change_pct;
    let mut checks = vec![check(
        CheckKind::Empty,
        rows > 0,
        if rows > 0 { format!("{rows} data rows") } else { "no data row: an empty file or a header only".into() },
    )];
    let Some(prev) = previous else { return checks };
    let change = relative_change(prev.holders, new.holders);
    checks.push(QualityCheck {
        before: Some(prev.holders as f64),
        after: Some(new.holders as f64),
        ..check(
            CheckKind::Holders,
            change.abs() <= pct,
            format!("{} → {} users with a value ({:+.1}%, at most ±{pct}%)", prev.holders, new.holders, change),
        )
    });
    if new.range.is_none() && prev.range.is_none() {
        value_checks(prev, new, pct, &mut checks);
    }
    let share = |s: &Side| if s.universe == 0 { 0.0 } else { 100.0 * (1.0 - s.holders as f64 / s.universe as f64) };
    let (before, after) = (share(prev), share(new));
    checks.push(QualityCheck {
        before: Some(round(before)),
        after: Some(round(after)),
        ..check(
            CheckKind::NoValueShare,
            after - before <= pct,
            format!("{before:.1}% → {after:.1}% of all users without a value (at most +{pct} points)"),
        )
    });
    if let (Some((lo, hi)), Some((new_lo, new_hi))) = (prev.range, new.range) {
        let slack = (hi - lo) * pct / 100.0;
        let ok = new_lo >= lo - slack && new_hi <= hi + slack;
        checks.push(check(
            CheckKind::NumericRange,
            ok,
            format!("range {new_lo}..{new_hi} against {lo}..{hi} (±{pct}% of its width accepted)"),
        ));
    }
    checks
}

/// Whether any check failed.
pub fn failed(checks: &[QualityCheck]) -> bool {
    checks.iter().any(|c| !c.ok)
}

fn value_checks(prev: &Side, new: &Side, pct: f64, checks: &mut Vec<QualityCheck>) {
    let before: std::collections::BTreeMap<&str, u64> = prev.values.iter().map(|(v, n)| (v.as_str(), *n)).collect();
    let after: std::collections::BTreeMap<&str, u64> = new.values.iter().map(|(v, n)| (v.as_str(), *n)).collect();
    let floor = prev.holders.div_ceil(100).max(1);
    let mut moved = 0;
    for (value, &n) in &before {
        let m = after.get(value).copied().unwrap_or(0);
        let change = relative_change(n, m);
        if n >= floor && change.abs() > pct {
            moved += 1;
            checks.push(QualityCheck {
                value: Some((*value).to_owned()),
                before: Some(n as f64),
                after: Some(m as f64),
                ..check(CheckKind::ValueHolders, false, format!("`{value}`: {n} → {m} holders ({change:+.1}%)"))
            });
        }
    }
    if moved == 0 {
        checks.push(check(CheckKind::ValueHolders, true, format!("no value's holders changed by more than {pct}%")));
    }
    let limit = before.len() as f64 * pct / 100.0;
    for (kind, names, verb) in [
        (CheckKind::ValuesAppeared, after.keys().filter(|v| !before.contains_key(*v)).collect::<Vec<_>>(), "new"),
        (CheckKind::ValuesDisappeared, before.keys().filter(|v| !after.contains_key(*v)).collect(), "gone"),
    ] {
        let listed: Vec<String> = names.iter().take(10).map(|v| format!("`{v}`")).collect();
        let more = if names.len() > 10 { format!(" and {} more", names.len() - 10) } else { String::new() };
        let message = if names.is_empty() {
            format!("no value {verb}")
        } else {
            format!("{} values {verb}: {}{more}", names.len(), listed.join(", "))
        };
        checks.push(QualityCheck {
            before: Some(before.len() as f64),
            after: Some(names.len() as f64),
            ..check(kind, names.len() as f64 <= limit, message)
        });
    }
}

fn check(check: CheckKind, ok: bool, message: String) -> QualityCheck {
    QualityCheck { check, ok, message, value: None, before: None, after: None }
}

/// The change from `before` to `after` in percent (100 when something appears from nothing).
fn relative_change(before: u64, after: u64) -> f64 {
    if before == 0 {
        return if after == 0 { 0.0 } else { 100.0 };
    }
    round(100.0 * (after as f64 - before as f64) / before as f64)
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use wire::QualityAction;

    fn side(values: &[(&str, u64)], universe: u64) -> Side {
        Side {
            holders: values.iter().map(|v| v.1).sum(),
            universe,
            values: values.iter().map(|(v, n)| ((*v).to_owned(), *n)).collect(),
            range: None,
        }
    }

    fn failing(checks: &[QualityCheck]) -> Vec<CheckKind> {
        checks.iter().filter(|c| !c.ok).map(|c| c.check).collect()
    }

    #[test]
    fn an_unchanged_upload_passes_every_check() {
        let s = side(&[("f", 50), ("m", 50)], 120);
        let checks = run(Some(&s), &s, 100, &QualityPolicy::default());
        assert_eq!(failing(&checks), vec![]);
        let kinds: Vec<CheckKind> = checks.iter().map(|c| c.check).collect();
        for k in [CheckKind::Empty, CheckKind::Holders, CheckKind::ValueHolders, CheckKind::NoValueShare] {
            assert!(kinds.contains(&k), "{k:?} ran");
        }
    }

    #[test]
    fn a_header_only_upload_fails_empty_even_without_a_previous_version() {
        assert_eq!(failing(&run(None, &Side::default(), 0, &QualityPolicy::default())), vec![CheckKind::Empty]);
        assert_eq!(failing(&run(None, &side(&[("a", 1)], 1), 1, &QualityPolicy::default())), vec![]);
    }

    #[test]
    fn the_threshold_is_the_policys_and_inclusive() {
        let before = side(&[("a", 100)], 1000);
        let at = side(&[("a", 130)], 1000);
        let beyond = side(&[("a", 131)], 1000);
        let p = QualityPolicy::default();
        assert_eq!(failing(&run(Some(&before), &at, 130, &p)), vec![]);
        assert_eq!(failing(&run(Some(&before), &beyond, 131, &p)), vec![CheckKind::Holders, CheckKind::ValueHolders]);
        let loose = QualityPolicy { policy: QualityAction::Hold, max_change_pct: 50.0 };
        assert_eq!(failing(&run(Some(&before), &beyond, 131, &loose)), vec![]);
    }

    #[test]
    fn values_coming_and_going_beyond_the_share_fail_and_name_the_values() {
        let before = side(&[("a", 10), ("b", 10), ("c", 10), ("d", 10)], 100);
        let after = side(&[("a", 10), ("b", 10), ("x", 10), ("y", 10)], 100);
        let checks = run(Some(&before), &after, 40, &QualityPolicy::default());
        let gone = checks.iter().find(|c| c.check == CheckKind::ValuesDisappeared).expect("ran");
        assert!(!gone.ok && gone.message.contains("`c`") && gone.message.contains("`d`"), "{}", gone.message);
        let new = checks.iter().find(|c| c.check == CheckKind::ValuesAppeared).expect("ran");
        assert!(!new.ok && new.message.contains("`x`"), "{}", new.message);
        // One new value of four is 25%: within 30%.
        let one = side(&[("a", 10), ("b", 10), ("c", 10), ("d", 10), ("e", 0)], 100);
        assert!(run(Some(&before), &one, 40, &QualityPolicy::default()).iter().all(|c| c.ok));
    }

    #[test]
    fn the_share_without_a_value_and_the_numeric_range_are_checked() {
        let mut before = side(&[], 100);
        before.holders = 90;
        before.range = Some((10.0, 20.0));
        let mut after = before.clone();
        after.range = Some((7.0, 23.0));
        assert_eq!(failing(&run(Some(&before), &after, 90, &QualityPolicy::default())), vec![]);
        after.range = Some((6.9, 20.0));
        assert_eq!(failing(&run(Some(&before), &after, 90, &QualityPolicy::default())), vec![CheckKind::NumericRange]);
        let huge = QualityPolicy { max_change_pct: 1000.0, ..QualityPolicy::default() };
        after.range = before.range;
        after.holders = 50;
        after.universe = 200;
        // 10% → 75% without a value: +65 points.
        let checks = run(Some(&before), &after, 50, &QualityPolicy::default());
        assert!(failing(&checks).contains(&CheckKind::NoValueShare));
        assert!(!failing(&run(Some(&before), &after, 50, &huge)).contains(&CheckKind::NoValueShare));
    }

    #[test]
    fn small_values_do_not_fail_alone() {
        // `rare` holds under 1% of the holders: its doubling is noise, not a broken load.
        let before = side(&[("big", 1000), ("rare", 5)], 2000);
        let after = side(&[("big", 1000), ("rare", 10)], 2000);
        assert_eq!(failing(&run(Some(&before), &after, 1010, &QualityPolicy::default())), vec![]);
    }
}
