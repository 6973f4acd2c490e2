//! Property test: the engine's evaluation equals a naive set evaluator, for random rules over
//! random multi-chunk data (count, members, and every funnel step).

mod common;

use common::{DAYS, EVENTS, GROUPS, NUMBERS, SEGMENTS, VALUES, ids, world};
use engine::bsi::Cmp;
use engine::eval::evaluate_split;
use engine::rule::{Measure, Test};
use engine::{EvalOptions, Plan, Rule, evaluate};
use proptest::prelude::*;

/// A decimal constant: `units / 10^digits` as text (`-1.5`, `120`, `12.345`).
fn decimal(units: i64, digits: u32) -> String {
    engine::bsi::format_scaled(units, digits)
}

/// A test over constants from `lo..=hi` at `digits` decimals (ends of `between` in order).
fn test(lo: i64, hi: i64, digits: u32) -> impl Strategy<Value = Test> {
    prop_oneof![
        (prop::sample::select(Cmp::ALL.to_vec()), lo..=hi).prop_map(move |(c, v)| Test::Compare(c, decimal(v, digits))),
        (lo..=hi, lo..=hi).prop_map(move |(a, b)| Test::Between(decimal(a.min(b), digits), decimal(a.max(b), digits))),
    ]
}

fn number_leaf() -> impl Strategy<Value = Rule> {
    let (n0, _, lo0, hi0) = NUMBERS[0];
    let (n1, _, lo1, hi1) = NUMBERS[1];
    prop_oneof![
        // Whole constants, half-way constants, and constants outside the stored range.
        test(lo0 - 10, hi0 + 10, 0).prop_map(move |t| Rule::Number { tag: n0.into(), test: t }),
        test((lo0 - 3) * 10, (hi0 + 3) * 10, 1).prop_map(move |t| Rule::Number { tag: n0.into(), test: t }),
        test(lo1 - 100, hi1 + 100, 2).prop_map(move |t| Rule::Number { tag: n1.into(), test: t }),
        test(lo1 * 10, hi1 * 10, 3).prop_map(move |t| Rule::Number { tag: n1.into(), test: t }),
    ]
}

/// A count test whose constants sit next to sums of the largest daily counts (`k ×
/// MAX_DAILY_COUNT ± 2`), or are anywhere up to u64::MAX.
fn big_count_test() -> impl Strategy<Value = Test> {
    let near = (0u64..=(DAYS.len() as u64 + 1), -2i64..=2)
        .prop_map(|(k, d)| (k * engine::window::MAX_DAILY_COUNT).saturating_add_signed(d).to_string());
    let constant = prop_oneof![3 => near, 1 => any::<u64>().prop_map(|c| c.to_string())];
    prop_oneof![
        (prop::sample::select(Cmp::ALL.to_vec()), constant.clone()).prop_map(|(c, v)| Test::Compare(c, v)),
        (constant.clone(), constant).prop_map(|(a, b)| {
            let (a, b) = (a.parse::<u64>().unwrap_or(0), b.parse::<u64>().unwrap_or(0));
            Test::Between(a.min(b).to_string(), a.max(b).to_string())
        }),
    ]
}

fn event_leaf() -> impl Strategy<Value = Rule> {
    let test = prop_oneof![3 => test(0, 12, 0), 1 => big_count_test()];
    (prop::sample::select(EVENTS.to_vec()), 1..=DAYS.len() as u32, any::<bool>(), test).prop_map(
        |(event, last_days, days, test)| Rule::Event {
            event: event.into(),
            last_days,
            measure: if days { Measure::Days } else { Measure::Count },
            test,
        },
    )
}

fn leaf() -> impl Strategy<Value = Rule> {
    prop_oneof![
        4 => (0..GROUPS, prop::collection::btree_set(0..VALUES, 1..=3)).prop_map(|(g, vs)| Rule::Tag {
            tag: format!("g{g}"),
            values: vs.into_iter().map(|v| format!("v{v}")).collect(),
        }),
        1 => (0..SEGMENTS).prop_map(|s| Rule::Segment(format!("s{s}"))),
        2 => number_leaf(),
        2 => event_leaf(),
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

/// A tag value, a segment, or a tag with several values (an OR of leaves).
fn plain_leaf() -> impl Strategy<Value = Rule> {
    prop_oneof![
        3 => (0..GROUPS, 0..VALUES).prop_map(|(g, v)| Rule::Tag { tag: format!("g{g}"), values: vec![format!("v{v}")] }),
        1 => (0..SEGMENTS).prop_map(|s| Rule::Segment(format!("s{s}"))),
        1 => (0..GROUPS, prop::collection::btree_set(0..VALUES, 2..=3)).prop_map(|(g, vs)| Rule::Tag {
            tag: format!("g{g}"),
            values: vs.into_iter().map(|v| format!("v{v}")).collect(),
        }),
    ]
}

/// The shapes the count-only walk treats apart: one operator over two bitmaps (AND, OR,
/// AND-NOT: the pair path), and an `all` of several members whose last one is counted fused
/// (a leaf or a negated leaf), whose walk follows its smallest plain member, and whose sparse
/// chunks go through the candidate test.
fn counted_shape() -> impl Strategy<Value = Rule> {
    let not = |r: Rule| Rule::Not(Box::new(r));
    prop_oneof![
        (plain_leaf(), plain_leaf()).prop_map(|(a, b)| Rule::All(vec![a, b])),
        (plain_leaf(), plain_leaf()).prop_map(|(a, b)| Rule::Any(vec![a, b])),
        (plain_leaf(), plain_leaf()).prop_map(move |(a, b)| Rule::All(vec![a, not(b)])),
        (prop::collection::vec(plain_leaf(), 1..6), prop::collection::vec(plain_leaf(), 0..3)).prop_map(
            move |(plain, negated)| Rule::All(plain.into_iter().chain(negated.into_iter().map(not)).collect())
        ),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn counted_shapes_match_naive(seed in any::<u64>(), rule in counted_shape(), threads in 1usize..=3) {
        let w = world(seed);
        let plan = Plan::validate(&rule, &w.source.catalog()).expect("generated rules name known data");
        let expected = ids(&w.naive(&rule)).count() as u64;
        prop_assert_eq!(engine::count(&plan, &w.source).expect("all loaded"), expected, "{}", rule.to_json());
        let split = evaluate_split(&plan, &w.source, EvalOptions::default(), threads, 0).expect("all loaded");
        prop_assert_eq!(split.count, expected);
        prop_assert_eq!(engine::count_parallel(&plan, &w.source, threads).expect("all loaded"), expected);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn every_numeric_and_event_test_matches_naive(seed in any::<u64>(), leaf in prop_oneof![number_leaf(), event_leaf()]) {
        let w = world(seed);
        let plan = Plan::validate(&leaf, &w.source.catalog()).expect("generated rules name known data");
        let expected: Vec<u32> = ids(&w.naive(&leaf)).collect();
        let got = evaluate(&plan, &w.source, EvalOptions { steps: false, members: true }).expect("all loaded");
        prop_assert_eq!(got.members.expect("asked").iter().collect::<Vec<_>>(), expected, "{}", leaf.to_json());
        // The warning names exactly the window's days without an upload of the event.
        if let Rule::Event { event, last_days, .. } = &leaf {
            let missing: Vec<String> = DAYS[DAYS.len() - *last_days as usize..]
                .iter()
                .filter(|d| !w.events.contains_key(&(event.clone(), (**d).to_owned())))
                .map(|d| (*d).to_owned())
                .collect();
            let warned: Vec<String> = plan.warnings().iter().flat_map(|x| x.missing_days.clone()).collect();
            prop_assert_eq!(warned, missing);
        }
    }

    #[test]
    fn evaluation_matches_naive(seed in any::<u64>(), rule in rule()) {
        let w = world(seed);
        let plan = Plan::validate(&rule, &w.source.catalog()).expect("generated rules name known tags");
        let expected: Vec<u32> = ids(&w.naive(&rule)).collect();
        let got = evaluate(&plan, &w.source, EvalOptions { steps: true, members: true }).expect("all loaded");
        prop_assert_eq!(got.count, expected.len() as u64);
        let members: Vec<u32> = got.members.as_ref().expect("asked for members").iter().collect();
        prop_assert_eq!(&members, &expected);
        // Counting alone (reordered, no steps) agrees too.
        prop_assert_eq!(engine::count(&plan, &w.source).expect("all loaded"), expected.len() as u64);
        // Split across threads whatever the size (`min_work` 0): counts, members and steps are
        // the same as on one thread.
        let threads = 1 + (seed % 3) as usize;
        let split = evaluate_split(&plan, &w.source, EvalOptions { steps: true, members: true }, threads, 0)
            .expect("all loaded");
        prop_assert_eq!(&split, &got);
        let counted = evaluate_split(&plan, &w.source, EvalOptions::default(), threads, 0).expect("all loaded");
        prop_assert_eq!(counted.count, expected.len() as u64);
        let members_only = evaluate(&plan, &w.source, EvalOptions { steps: false, members: true }).expect("all loaded");
        prop_assert_eq!(members_only.members.expect("asked").iter().collect::<Vec<_>>(), expected.clone());
        // Funnel: each step is the intersection of the top-level members so far.
        match &rule {
            Rule::All(parts) => {
                prop_assert_eq!(got.steps.len(), parts.len());
                for (i, step) in got.steps.iter().enumerate() {
                    let prefix: Vec<u32> = ids(&w.naive(&Rule::All(parts[..=i].to_vec()))).collect();
                    prop_assert_eq!(&step.path, &format!("all[{i}]"));
                    prop_assert_eq!(step.count, Some(prefix.len() as u64));
                }
            }
            _ => {
                prop_assert_eq!(got.steps.len(), 1);
                prop_assert_eq!(got.steps[0].count, Some(expected.len() as u64));
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
    assert_eq!(e.steps.iter().map(|s| s.count).collect::<Vec<_>>(), vec![Some(5), Some(3), Some(1)]);
    assert_eq!(e.members.expect("asked").iter().collect::<Vec<_>>(), vec![2]);
}
