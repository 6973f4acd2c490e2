//! Shared by the browser tests and the browser benchmark: the synthetic population of
//! `app/engine/benches/eval.rs` (same groups, shares, seed and generator, so the same users and
//! the same counts as the native bench), its rules, and a naive evaluator to check the engine.

#![allow(dead_code)] // each test binary uses a different part

use std::collections::BTreeMap;

use engine::sample::{DEFAULT_RATE, SampleMap};
use engine::{IdSet, MemorySource, Rule};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// No value in a group, in [`Table`].
pub const NONE: u8 = u8::MAX;

/// Per group: its values and, per user, the index of the user's value (or [`NONE`]).
pub type Table = BTreeMap<String, (Vec<String>, Vec<u8>)>;

/// One synthetic population on both tiers.
pub struct Population {
    pub users: u32,
    pub full: MemorySource,
    pub sample: MemorySource,
    pub map: SampleMap,
    /// Every user's values, for the naive evaluator; only kept when asked (10M users would
    /// need 130 MB).
    pub table: Option<Table>,
    /// Members of the segment `vip` (one user in 97, plus ids 0..10), when the table is kept.
    pub vip: Option<Vec<bool>>,
}

/// (group, values with their share of users; shares summing below 1 leave users without a
/// value). Copied from `app/engine/benches/eval.rs`.
pub fn groups() -> Vec<(&'static str, Vec<(&'static str, f64)>)> {
    vec![
        ("gender", vec![("female", 0.49), ("male", 0.49)]),
        ("age_band", vec![("18-24", 0.2), ("25-30", 0.25), ("31-40", 0.3), ("41+", 0.2)]),
        ("province", vec![("p0", 0.2), ("p1", 0.12), ("p2", 0.09), ("p3", 0.07), ("p4", 0.05), ("p5", 0.47)]),
        ("device", vec![("Apple", 0.3), ("Huawei", 0.25), ("Xiaomi", 0.2), ("OPPO", 0.15), ("other", 0.1)]),
        ("channel", vec![("organic", 0.4), ("ads", 0.3), ("referral", 0.2), ("store", 0.1)]),
        ("member_level", vec![("none", 0.6), ("silver", 0.25), ("gold", 0.12), ("diamond", 0.03)]),
        ("active_30d", vec![("true", 0.55)]),
        ("active_1d", vec![("true", 0.15)]),
        ("paid_30d", vec![("true", 0.18)]),
        ("interest_sports", vec![("true", 0.2)]),
        ("interest_beauty", vec![("true", 0.22)]),
        ("sparse_1pct", vec![("true", 0.01)]),
        ("sparse_01pct", vec![("true", 0.001)]),
    ]
}

/// Builds the population of `users` users, seeded like the native bench (seed = `users`).
pub fn build(users: u32, keep_table: bool) -> Population {
    let mut rng = StdRng::seed_from_u64(u64::from(users));
    let universe = IdSet::full_range(users);
    let map = SampleMap::new(&universe, DEFAULT_RATE);
    let mut full = MemorySource::new(universe);
    let mut sample = MemorySource::new(map.universe());
    let mut table = keep_table.then(Table::new);
    for (group, values) in groups() {
        let mut members: Vec<Vec<u32>> = vec![Vec::new(); values.len()];
        let mut column = Vec::new();
        for id in 0..users {
            let mut x: f64 = rng.random();
            let mut got = NONE;
            for (i, (_, share)) in values.iter().enumerate() {
                if x < *share {
                    members[i].push(id);
                    got = i as u8;
                    break;
                }
                x -= share;
            }
            if keep_table {
                column.push(got);
            }
        }
        for ((value, _), ids) in values.iter().zip(members) {
            let set = IdSet::from_sorted(&ids);
            sample.insert_tag_value(group, value, map.project(&set));
            full.insert_tag_value(group, value, set);
        }
        if let Some(t) = table.as_mut() {
            t.insert(group.to_owned(), (values.iter().map(|(v, _)| (*v).to_owned()).collect(), column));
        }
    }
    let vip = keep_table.then(|| (0..users).map(|id| id < 10 || id % 97 == 5).collect::<Vec<bool>>());
    if let Some(flags) = &vip {
        let set = IdSet::from_sorted_iter((0..users).filter(|&id| flags[id as usize]));
        sample.insert_segment("vip", map.project(&set));
        full.insert_segment("vip", set);
    }
    Population { users, full, sample, map, table, vip }
}

/// The native bench's rules: (name, conditions, JSON).
pub fn rules() -> Vec<(&'static str, usize, &'static str)> {
    vec![
        ("2cond-dense", 2, r#"{"all":[{"tag":"gender","in":["female"]},{"tag":"active_30d","in":["true"]}]}"#),
        (
            "5cond-dense",
            5,
            r#"{"all":[{"tag":"gender","in":["female"]},{"tag":"active_30d","in":["true"]},
            {"tag":"province","in":["p0","p1","p2"]},{"tag":"age_band","in":["18-24","25-30"]},
            {"not":{"tag":"active_1d","in":["true"]}}]}"#,
        ),
        (
            "10cond-dense",
            10,
            r#"{"all":[{"tag":"gender","in":["female"]},{"tag":"active_30d","in":["true"]},
            {"tag":"province","in":["p0","p1","p2"]},{"tag":"age_band","in":["18-24","25-30","31-40"]},
            {"not":{"tag":"active_1d","in":["true"]}},{"tag":"device","in":["Apple","Huawei","Xiaomi"]},
            {"tag":"channel","in":["organic","ads","referral"]},{"not":{"tag":"member_level","in":["none"]}},
            {"any":[{"tag":"interest_sports","in":["true"]},{"tag":"interest_beauty","in":["true"]}]},
            {"not":{"tag":"paid_30d","in":["true"]}}]}"#,
        ),
        ("2cond-sparse", 2, r#"{"all":[{"tag":"sparse_1pct","in":["true"]},{"tag":"active_30d","in":["true"]}]}"#),
        (
            "10cond-sparse",
            10,
            r#"{"all":[{"tag":"sparse_01pct","in":["true"]},{"tag":"active_30d","in":["true"]},
            {"tag":"province","in":["p0","p1","p2","p3"]},{"tag":"age_band","in":["18-24","25-30","31-40"]},
            {"not":{"tag":"active_1d","in":["true"]}},{"tag":"device","in":["Apple","Huawei","Xiaomi"]},
            {"tag":"channel","in":["organic","ads","referral"]},{"tag":"gender","in":["female"]},
            {"any":[{"tag":"interest_sports","in":["true"]},{"tag":"sparse_1pct","in":["true"]}]},
            {"not":{"tag":"paid_30d","in":["true"]}}]}"#,
        ),
    ]
}

/// The oracle: whether one user matches a rule, read straight from the per-user table.
/// Nothing like the engine's chunks, containers or reordering.
pub fn naive_matches(rule: &Rule, table: &Table, vip: &[bool], user: usize) -> bool {
    match rule {
        Rule::All(members) => members.iter().all(|m| naive_matches(m, table, vip, user)),
        Rule::Any(members) => members.iter().any(|m| naive_matches(m, table, vip, user)),
        Rule::Not(inner) => !naive_matches(inner, table, vip, user),
        Rule::Tag { tag, values } => {
            let (names, column) = &table[tag];
            let got = column[user];
            got != NONE && values.contains(&names[usize::from(got)])
        }
        Rule::Segment(id) => id == "vip" && vip[user],
        // `random_rule` draws from tags and the segment only; numeric and event leaves are
        // checked against their own oracle in the engine's tests and by the event bench here.
        Rule::Number { .. } | Rule::Event { .. } => panic!("no numeric or event data in this population: {rule:?}"),
    }
}

/// A random rule over the population's groups (and the `vip` segment), up to `depth` levels.
pub fn random_rule(rng: &mut StdRng, depth: u32) -> Rule {
    let groups = groups();
    if depth == 0 || rng.random_bool(0.35) {
        if rng.random_bool(0.08) {
            return Rule::Segment("vip".into());
        }
        let (group, values) = &groups[rng.random_range(0..groups.len())];
        let mut picked: Vec<String> =
            values.iter().filter(|_| rng.random_bool(0.4)).map(|(v, _)| (*v).to_owned()).collect();
        if picked.is_empty() {
            picked.push(values[rng.random_range(0..values.len())].0.to_owned());
        }
        return Rule::Tag { tag: (*group).to_owned(), values: picked };
    }
    let n = rng.random_range(1..=5);
    match rng.random_range(0..5) {
        0 => Rule::Not(Box::new(random_rule(rng, depth - 1))),
        1 | 2 => Rule::Any((0..n).map(|_| random_rule(rng, depth - 1)).collect()),
        _ => Rule::All((0..n).map(|_| random_rule(rng, depth - 1)).collect()),
    }
}

/// Milliseconds from a monotonic clock: `performance.now()` in the browser (never
/// `std::time::Instant`, which panics on wasm32-unknown-unknown), `Instant` natively.
#[cfg(target_family = "wasm")]
pub fn now_ms() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map(|p| p.now()).expect("window.performance")
}

/// Milliseconds from a monotonic clock: `performance.now()` in the browser (never
/// `std::time::Instant`, which panics on wasm32-unknown-unknown), `Instant` natively.
#[cfg(not(target_family = "wasm"))]
pub fn now_ms() -> f64 {
    use std::sync::OnceLock;
    use std::time::Instant;
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_secs_f64() * 1e3
}
