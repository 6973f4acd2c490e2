//! Untrusted rule JSON: parsing, validation and evaluation never panic, and every count (with the
//! funnel, count-only, split across two threads) equals a flag-per-id evaluation of the same rule
//! on a small fixed snapshot.
#![no_main]

use engine::bsi::{Bsi, Cmp, NumericColumn, parse_scaled_wide};
use engine::rule::{Measure, Test};
use engine::{EvalOptions, IdSet, MemorySource, Plan, Rule};
use libfuzzer_sys::fuzz_target;

const USERS: u32 = 70_000; // two chunks

fn ids(f: impl Fn(u32) -> bool) -> Vec<u32> {
    (0..USERS).filter(|&i| f(i)).collect()
}

/// Days with `buy` uploads (the snapshot day is the last); earlier days have none.
const DAYS: [&str; 3] = ["2026-11-18", "2026-11-19", "2026-11-20"];

/// `age` of user `i` (whole years), or none.
fn age(i: u32) -> Option<i64> {
    (i % 5 != 0).then(|| 10 + i64::from(i % 70))
}

/// `buy` count of user `i` on day `d` (index into DAYS).
fn buys(i: u32, d: u32) -> u64 {
    if (i * 7 + d) % 11 == 0 { 1 + u64::from(i % 3) } else { 0 }
}

/// Whether a whole number passes a test, compared exactly with the decimal constants (in 128
/// bits, so constants beyond 64 bits compare as they should).
fn passes(v: i128, test: &Test) -> bool {
    let cmp = |text: &str, op: Cmp| {
        let digits = text.split_once('.').map_or(0, |(_, f)| f.len()) as u32;
        match (parse_scaled_wide(text, digits), 10i128.checked_pow(digits)) {
            (Ok(c), Some(p)) => op.holds(v * p, c),
            _ => false,
        }
    };
    match test {
        Test::Compare(op, c) => cmp(c, *op),
        Test::Between(lo, hi) => cmp(lo, Cmp::Ge) && cmp(hi, Cmp::Le),
    }
}

fn naive(rule: &Rule, values: &[(&str, &str, Vec<u32>)]) -> Vec<bool> {
    let n = USERS as usize;
    match rule {
        Rule::All(m) => m.iter().fold(vec![true; n], |acc, r| acc.iter().zip(naive(r, values)).map(|(a, b)| *a && b).collect()),
        Rule::Any(m) => m.iter().fold(vec![false; n], |acc, r| acc.iter().zip(naive(r, values)).map(|(a, b)| *a || b).collect()),
        Rule::Not(r) => naive(r, values).into_iter().map(|b| !b).collect(),
        Rule::Number { test, .. } => (0..USERS).map(|i| age(i).is_some_and(|a| passes(i128::from(a), test))).collect(),
        Rule::Event { last_days, measure, test, .. } => (0..USERS)
            .map(|i| {
                // The window's days that have data: the last `last_days` of the calendar.
                let first = 3u32.saturating_sub(*last_days);
                let daily = (first..3).map(|d| buys(i, d));
                let v = match measure {
                    Measure::Count => daily.map(u128::from).sum::<u128>(),
                    Measure::Days => daily.filter(|c| *c > 0).count() as u128,
                };
                passes(i128::try_from(v).unwrap_or(i128::MAX), test)
            })
            .collect(),
        Rule::Tag { tag, values: vs } => {
            let mut out = vec![false; n];
            for (g, v, members) in values {
                if g == tag && vs.iter().any(|x| x == v) {
                    members.iter().for_each(|&i| out[i as usize] = true);
                }
            }
            out
        }
        Rule::Segment(_) => {
            let mut out = vec![false; n];
            values.iter().filter(|(g, _, _)| *g == "segment").for_each(|(_, _, m)| m.iter().for_each(|&i| out[i as usize] = true));
            out
        }
    }
}

type Values = Vec<(&'static str, &'static str, Vec<u32>)>;

/// The fixed snapshot, built once (rebuilding it per input made the target crawl).
fn world() -> &'static (Values, MemorySource) {
    static WORLD: std::sync::OnceLock<(Values, MemorySource)> = std::sync::OnceLock::new();
    WORLD.get_or_init(|| {
        let values: Values = vec![
            ("gender", "female", ids(|i| i % 2 == 0)),
            ("gender", "male", ids(|i| i % 2 == 1)),
            ("province", "Guangdong", ids(|i| i % 7 == 0)),
            ("province", "Zhejiang", ids(|i| i % 7 == 1 && i > 65_000)),
            ("active_7d", "true", ids(|i| i % 3 == 0)),
            ("segment", "vip", ids(|i| i % 1000 == 0)),
        ];
        let mut src = MemorySource::new(IdSet::full_range(USERS));
        for (g, v, m) in &values {
            if *g == "segment" {
                src.insert_segment(v, IdSet::from_sorted(m));
            } else {
                src.insert_tag_value(g, v, IdSet::from_sorted(m));
            }
        }
        src.insert_column("age", &NumericColumn::from_scaled(0, (0..USERS).filter_map(|i| age(i).map(|a| (i, a))).collect()));
        for (d, ds) in DAYS.iter().enumerate() {
            let pairs = (0..USERS).map(|i| (i, buys(i, d as u32))).filter(|p| p.1 > 0).collect();
            src.insert_event_day("buy", ds, Bsi::from_pairs(pairs));
        }
        (values, src)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(rule) = Rule::parse(text) else { return };
    let (values, src) = world();
    let Ok(plan) = Plan::validate(&rule, &src.catalog()) else { return };
    let e = engine::evaluate(&plan, src, EvalOptions { steps: true, members: false }).expect("everything is loaded");
    let expected = naive(&rule, values).iter().filter(|b| **b).count() as u64;
    assert_eq!(e.count, expected);
    // The count-only walk (pairs, fused last member, smallest-operand chunks, candidates) and
    // the split across threads (forced: the snapshot is two chunks) reach the same answer.
    assert_eq!(engine::count(&plan, src).expect("everything is loaded"), expected);
    let split = engine::eval::evaluate_split(&plan, src, EvalOptions::default(), 2, 0).expect("everything is loaded");
    assert_eq!(split.count, expected);
});
