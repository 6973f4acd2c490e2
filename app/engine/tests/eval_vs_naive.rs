//! Property test: the engine's evaluation equals a naive set evaluator, for random rules over
//! random multi-chunk data (count, members, and every funnel step).

mod common;

use common::{GROUPS, SEGMENTS, VALUES, ids, world};
use engine::{EvalOptions, Plan, Rule, evaluate};
use proptest::prelude::*;

fn leaf() -> impl Strategy<Value = Rule> {
    prop_oneof![
        4 => (0..GROUPS, prop::collection::btree_set(0..VALUES, 1..=3)).prop_map(|(g, vs)| Rule::Tag {
            tag: format!("g{g}"),
            values: vs.into_iter().map(|v| format!("v{v}")).collect(),
        }),
        1 => (0..SEGMENTS).prop_map(|s| Rule::Segment(format!("s{s}"))),
    ]
}

fn rule() -> impl Strategy<Value = Rule> {
    leaf().prop_recursive(4, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..5).prop_map(Rule::All),
            prop::collection::vec(inner.clone(), 1..5).prop_map(Rule::Any),
            inner.prop_map(|r| Rule::Not(Box::new(r))),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn evaluation_matches_naive(seed in any::<u64>(), rule in rule()) {
        let w = world(seed);
        let plan = Plan::validate(&rule, &w.source.catalog()).expect("generated rules name known tags");
        let expected: Vec<u32> = ids(&w.naive(&rule)).collect();
        let got = evaluate(&plan, &w.source, EvalOptions { steps: true, members: true }).expect("all loaded");
        prop_assert_eq!(got.count, expected.len() as u64);
        let members: Vec<u32> = got.members.expect("asked for members").iter().collect();
        prop_assert_eq!(&members, &expected);
        // Counting alone (reordered, no steps) agrees too.
        prop_assert_eq!(engine::count(&plan, &w.source).expect("all loaded"), expected.len() as u64);
        // Funnel: each step is the intersection of the top-level members so far.
        match &rule {
            Rule::All(parts) => {
                prop_assert_eq!(got.steps.len(), parts.len());
                for (i, step) in got.steps.iter().enumerate() {
                    let prefix: Vec<u32> = ids(&w.naive(&Rule::All(parts[..=i].to_vec()))).collect();
                    prop_assert_eq!(&step.path, &format!("all[{i}]"));
                    prop_assert_eq!(step.count, prefix.len() as u64);
                }
            }
            _ => {
                prop_assert_eq!(got.steps.len(), 1);
                prop_assert_eq!(got.steps[0].count, expected.len() as u64);
            }
        }
    }
}

/// A hand-computed fixture, independent of any generator.
#[test]
fn hand_computed_fixture() {
    let mut src = engine::MemorySource::new(engine::IdSet::full_range(10));
    src.insert_tag_value("gender", "female", engine::IdSet::from_sorted(&[0, 1, 2, 3, 4]));
    src.insert_tag_value("gender", "male", engine::IdSet::from_sorted(&[5, 6, 7, 8, 9]));
    src.insert_tag_value("province", "Guangdong", engine::IdSet::from_sorted(&[0, 5, 6]));
    src.insert_tag_value("province", "Zhejiang", engine::IdSet::from_sorted(&[1, 7]));
    src.insert_tag_value("active_7d", "true", engine::IdSet::from_sorted(&[0, 1, 5]));
    src.insert_segment("vip", engine::IdSet::from_sorted(&[2, 9]));
    let plan = Plan::parse(
        r#"{"all":[
            {"tag":"gender","in":["female"]},
            {"any":[{"tag":"province","in":["Guangdong","Zhejiang"]},{"segment":"vip"}]},
            {"not":{"tag":"active_7d","in":["true"]}}
        ]}"#,
        &src.catalog(),
    )
    .expect("valid");
    let e = evaluate(&plan, &src, EvalOptions { steps: true, members: true }).expect("loaded");
    // female = {0..4}; ∩ (GD ∪ ZJ ∪ vip = {0,1,2,5,6,7,9}) = {0,1,2}; minus active {0,1,5} = {2}.
    assert_eq!(e.steps.iter().map(|s| s.count).collect::<Vec<_>>(), vec![5, 3, 1]);
    assert_eq!(e.members.expect("asked").iter().collect::<Vec<_>>(), vec![2]);
}
