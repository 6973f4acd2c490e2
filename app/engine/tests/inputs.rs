//! Inputs the engine used to take wrongly (issue 12) and the empty rule (issue 11): each test
//! here reproduced its problem before the fix.

use engine::bsi::{Bsi, NumericColumn, parse_scaled};
use engine::window::{MAX_DAILY_COUNT, parse_daily_count};
use engine::{EvalOptions, IdSet, MemorySource, Plan, Rule, RuleErrorReason, Source, evaluate};

/// 10 users (ids 0..12 with 3 and 7 missing); ages 0..=9 for ids 0..=9 as 20 + id, extremes for
/// 10 and 11; one event `buy` over two days.
fn source() -> MemorySource {
    let universe = IdSet::from_sorted_iter((0..12u32).filter(|i| *i != 3 && *i != 7));
    let mut src = MemorySource::new(universe);
    src.insert_tag_value("gender", "female", IdSet::from_sorted(&[0, 2, 4]));
    let mut ages: Vec<(u32, i64)> = (0..10u32).filter(|i| *i != 3 && *i != 7).map(|i| (i, 20 + i64::from(i))).collect();
    ages.push((10, i64::MIN));
    ages.push((11, i64::MAX));
    src.insert_column("age", &NumericColumn::from_scaled(0, ages));
    // User 0 buys the most a day allows on both days; user 1 the most, then one more.
    src.insert_event_day("buy", "2026-11-19", Bsi::from_pairs(vec![(0, MAX_DAILY_COUNT), (1, MAX_DAILY_COUNT)]));
    src.insert_event_day("buy", "2026-11-20", Bsi::from_pairs(vec![(0, MAX_DAILY_COUNT), (1, 1), (2, 5)]));
    src
}

fn count(text: &str) -> u64 {
    let src = source();
    let mut catalog = src.catalog();
    catalog.ds = "2026-11-20".into();
    let plan = Plan::parse(text, &catalog).unwrap_or_else(|e| panic!("{text}: {e}"));
    evaluate(&plan, &src, EvalOptions { steps: true, members: false }).expect("loaded").count
}

fn refused(text: &str) -> (String, String) {
    let e = Rule::parse(text).expect_err(text);
    (e.path.clone(), e.reason.to_string())
}

#[test]
fn an_empty_all_is_every_user() {
    // Before: `{"all":[]}` was refused by the parser, and a plan of it counted 0.
    assert_eq!(count(r#"{"all":[]}"#), 10);
    assert_eq!(count(r#"{"not":{"all":[]}}"#), 0);
    assert_eq!(count(r#"{"all":[{"all":[]},{"tag":"gender","in":["female"]}]}"#), 3);
    assert_eq!(count(r#"{"any":[{"all":[]},{"tag":"gender","in":["female"]}]}"#), 10);
    // Counted without the funnel too, and as members.
    let src = source();
    let plan = Plan::parse(r#"{"all":[]}"#, &src.catalog()).expect("valid");
    let e = evaluate(&plan, &src, EvalOptions { steps: false, members: true }).expect("loaded");
    assert_eq!((e.count, e.members.as_ref().map(IdSet::len)), (10, Some(10)));
    assert_eq!(e.members.as_ref(), Some(src.universe()));
    // An empty `any` is still a mistake (it matches nobody).
    assert_eq!(refused(r#"{"any":[]}"#).0, "any");
}

#[test]
fn numbers_say_what_is_wrong_and_reach_the_ends_of_i64() {
    // Before: "write the number without an exponent", though it has none.
    let (path, message) = refused(r#"{"tag":"age",">=":123456789012345678901234567890}"#);
    assert_eq!(path, ">=");
    assert!(message.contains("out of range") && !message.contains("exponent"), "{message}");
    let (path, message) = refused(r#"{"event":"buy","last_days":2,"count":{"<":123456789012345678901234567890}}"#);
    assert_eq!(path, "count.<");
    assert!(message.contains("out of range"), "{message}");
    let (path, message) = refused(r#"{"tag":"age","between":[0.1234567890123456789, 3]}"#);
    assert_eq!(path, "between[0]");
    assert!(message.contains("significant digits"), "{message}");
    // Before: i64::MIN was "out of range".
    assert_eq!(parse_scaled("-9223372036854775808", 0), Ok(i64::MIN));
    assert!(parse_scaled("-9223372036854775809", 0).is_err());
    assert!(parse_scaled("9223372036854775808", 0).is_err());
    assert_eq!(count(r#"{"tag":"age",">=":-9223372036854775808}"#), 10);
    assert_eq!(count(r#"{"tag":"age","=":-9223372036854775808}"#), 1);
    assert_eq!(count(r#"{"tag":"age","=":9223372036854775807}"#), 1);
    assert_eq!(count(r#"{"tag":"age",">":9223372036854775807}"#), 0);
    assert_eq!(count(r#"{"tag":"age","<":18446744073709551615}"#), 10);
    // Exponents and trailing zeros are JSON numbers like any other.
    assert_eq!(count(r#"{"tag":"age",">=":2.5e1}"#), count(r#"{"tag":"age",">=":25}"#));
    assert_eq!(count(r#"{"tag":"age","<=":2.0e1}"#), 2);
    assert_eq!(count(r#"{"event":"buy","last_days":1,"count":{">=":5.0}}"#), 2);
    assert_eq!(count(r#"{"tag":"age",">":1e-7}"#), 9);
    let rule = Rule::parse(r#"{"tag":"age",">":1e-7}"#).expect("valid");
    assert_eq!(Rule::from_json(&rule.to_json()), Ok(rule), "the canonical form reads back the same");
}

#[test]
fn window_sums_are_exact_up_to_the_daily_bound() {
    // Before: counts of 2^64 - 1 and 1 summed to "2^64 - 1" (the sum saturated).
    let mut src = MemorySource::new(IdSet::full_range(3));
    src.insert_event_day("buy", "2026-11-19", Bsi::from_pairs(vec![(0, u64::MAX), (1, u64::MAX - 1)]));
    src.insert_event_day("buy", "2026-11-20", Bsi::from_pairs(vec![(0, 1)]));
    let mut catalog = src.catalog();
    catalog.ds = "2026-11-20".into();
    let rule = r#"{"event":"buy","last_days":2,"count":{"=":18446744073709551615}}"#;
    let plan = Plan::parse(rule, &catalog).expect("valid");
    assert_eq!(evaluate(&plan, &src, EvalOptions::default()).expect("loaded").count, 0);
    // Such counts cannot be uploaded: a day's count is at most MAX_DAILY_COUNT, so 90 days of
    // them sum to less than 2^63.
    assert!(u128::from(MAX_DAILY_COUNT) * 90 < 1 << 63);
    assert_eq!(parse_daily_count("100000000000000000"), Ok(MAX_DAILY_COUNT));
    assert!(parse_daily_count("100000000000000001").expect_err("above").contains("at most"));
    assert!(parse_daily_count("18446744073709551615").is_err());
    assert!(parse_daily_count("-1").is_err() && parse_daily_count("1.5").is_err() && parse_daily_count("").is_err());
    // Within the bound, sums are exact at the top.
    let two = 2 * MAX_DAILY_COUNT;
    assert_eq!(count(&format!(r#"{{"event":"buy","last_days":2,"count":{{"=":{two}}}}}"#)), 1);
    assert_eq!(count(&format!(r#"{{"event":"buy","last_days":2,"count":{{">=":{two}}}}}"#)), 1);
    assert_eq!(count(&format!(r#"{{"event":"buy","last_days":2,"count":{{">":{two}}}}}"#)), 0);
    let one_more = MAX_DAILY_COUNT + 1;
    assert_eq!(count(&format!(r#"{{"event":"buy","last_days":2,"count":{{"=":{one_more}}}}}"#)), 1);
    assert_eq!(count(r#"{"event":"buy","last_days":2,"count":{"<":18446744073709551615}}"#), 10);
    assert_eq!(count(r#"{"event":"buy","last_days":2,"count":{"between":[1,18446744073709551615]}}"#), 3);
}

#[test]
fn a_day_of_large_counts_does_not_overflow_its_total() {
    // Before: 200 users at the largest daily count made the day's total overflow (a panic, so
    // a 500, in checked builds).
    let counts: Vec<(u32, u64)> = (0..200).map(|i| (i, MAX_DAILY_COUNT)).collect();
    let universe = IdSet::full_range(200);
    let sample = engine::sample::SampleMap::new(&universe, 8);
    let mut blobs = engine::snapshot::Blobs::new();
    let entry = engine::snapshot::build_event("buy", engine::bsi::Bsi::from_pairs(counts), &sample, &mut blobs);
    assert_eq!((entry.users, entry.total), (200, u64::MAX));
}

#[test]
fn dot_ids_are_not_ids() {
    use engine::split::{Group, Split, SplitError};
    let g = |n: &str| Group { name: n.into(), percent: 10.0 };
    for bad in [".", "..", "a/b", ""] {
        assert!(matches!(Split::new("s", vec![g("control"), g(bad)]), Err(SplitError::BadName { .. })), "{bad:?}");
    }
    assert!(Split::new("s", vec![g("control"), g("...")]).is_ok());
    assert!(engine::id::check_id("..").is_err());
}

#[test]
fn segment_references_carry_their_paths() {
    let rule =
        Rule::parse(r#"{"all":[{"segment":"a"},{"any":[{"not":{"segment":"b"}},{"segment":"a"}]}]}"#).expect("valid");
    assert_eq!(
        rule.segment_refs(),
        vec![
            ("all[0].segment".to_owned(), "a".to_owned()),
            ("all[1].any[0].not.segment".to_owned(), "b".to_owned()),
            ("all[1].any[1].segment".to_owned(), "a".to_owned()),
        ]
    );
    assert_eq!(Rule::parse(r#"{"segment":"x"}"#).expect("valid").segment_refs(), vec![("segment".into(), "x".into())]);
    assert!(matches!(
        Plan::parse(r#"{"segment":"x"}"#, &source().catalog()).expect_err("unknown").reason,
        RuleErrorReason::UnknownSegment(_)
    ));
}
