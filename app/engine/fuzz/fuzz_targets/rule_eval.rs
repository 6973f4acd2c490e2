//! Untrusted rule JSON: parsing, validation and evaluation never panic, and every count equals
//! a flag-per-id evaluation of the same rule on a small fixed snapshot.
#![no_main]

use engine::{EvalOptions, IdSet, MemorySource, Plan, Rule};
use libfuzzer_sys::fuzz_target;

const USERS: u32 = 70_000; // two chunks

fn ids(f: impl Fn(u32) -> bool) -> Vec<u32> {
    (0..USERS).filter(|&i| f(i)).collect()
}

fn naive(rule: &Rule, values: &[(&str, &str, Vec<u32>)]) -> Vec<bool> {
    let n = USERS as usize;
    match rule {
        Rule::All(m) => m.iter().fold(vec![true; n], |acc, r| acc.iter().zip(naive(r, values)).map(|(a, b)| *a && b).collect()),
        Rule::Any(m) => m.iter().fold(vec![false; n], |acc, r| acc.iter().zip(naive(r, values)).map(|(a, b)| *a || b).collect()),
        Rule::Not(r) => naive(r, values).into_iter().map(|b| !b).collect(),
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

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(rule) = Rule::parse(text) else { return };
    let values = vec![
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
    let Ok(plan) = Plan::validate(&rule, &src.catalog()) else { return };
    let e = engine::evaluate(&plan, &src, EvalOptions { steps: true, members: false }).expect("everything is loaded");
    let expected = naive(&rule, &values).iter().filter(|b| **b).count() as u64;
    assert_eq!(e.count, expected);
});
