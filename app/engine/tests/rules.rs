//! Rule parsing and validation: JSON paths in errors, limits, and no panic on any JSON.

use engine::catalog::NumericInfo;
use engine::{Catalog, Plan, Rule, RuleErrorReason};
use proptest::prelude::*;

fn catalog() -> Catalog {
    let mut c = Catalog::new(100);
    c.add_value("gender", "female", 50);
    c.add_value("gender", "male", 50);
    c.add_value("active_7d", "true", 30);
    c.add_segment("vip", 5);
    c.add_numeric("age", NumericInfo { scale: 0, offset: 16, max: 80, count: 90 });
    c.add_numeric("spend_30d", NumericInfo { scale: 2, offset: 0, max: 1_000_000, count: 40 });
    c.ds = "2026-11-20".into();
    c.events.retained_days = 60;
    // `purchase` uploaded on the last 10 days except 2026-11-15 and 2026-11-16.
    for day in 11..=20 {
        let names = if day == 15 || day == 16 { vec![] } else { vec!["purchase".to_owned()] };
        c.events.days.insert(format!("2026-11-{day:02}"), names.into_iter().collect());
    }
    c
}

fn err(text: &str) -> (String, RuleErrorReason) {
    let e = Plan::parse(text, &catalog()).expect_err("must be refused");
    (e.path, e.reason)
}

#[test]
fn errors_carry_json_paths() {
    let (path, reason) =
        err(r#"{"all":[{"tag":"gender","in":["female"]},{"any":[{"not":{"tag":"nope","in":["x"]}}]}]}"#);
    assert_eq!(path, "all[1].any[0].not.tag");
    assert_eq!(reason, RuleErrorReason::UnknownTag("nope".into()));

    let (path, reason) = err(r#"{"all":[{"tag":"gender","in":["female","other"]}]}"#);
    assert_eq!(path, "all[0].in[1]");
    assert!(matches!(reason, RuleErrorReason::UnknownValue { .. }));

    assert_eq!(err(r#"{"any":[]}"#).0, "any");
    assert_eq!(err(r#"{"any":[]}"#).1, RuleErrorReason::Empty("any"));
    assert_eq!(err(r#"{"segment":"gone"}"#).0, "segment");
    assert_eq!(err(r#"{"all":[{"tag":"gender","in":"female"}]}"#).0, "all[0].in");
    assert_eq!(err(r#"{"all":[{"tag":"gender","in":["female"],"extra":1}]}"#).0, "all[0]");
    assert_eq!(err(r#"[1,2]"#).0, "$");
    assert!(matches!(err("{").1, RuleErrorReason::Json(_)));
}

#[test]
fn numeric_and_event_errors_carry_json_paths() {
    let (path, reason) = err(r#"{"all":[{"tag":"gender","between":[18,25]}]}"#);
    assert_eq!(path, "all[0].between");
    assert!(matches!(reason, RuleErrorReason::WrongKind { actual: "not numeric", .. }));
    let (path, reason) = err(r#"{"all":[{"tag":"age","in":["18"]}]}"#);
    assert_eq!(path, "all[0].in");
    assert!(matches!(reason, RuleErrorReason::WrongKind { actual: "numeric", .. }));
    assert_eq!(err(r#"{"tag":"age","between":[25,18]}"#).0, "between");
    assert_eq!(err(r#"{"tag":"age","between":[18]}"#).0, "between");
    assert_eq!(err(r#"{"tag":"age","between":[18,"x"]}"#).0, "between[1]");
    assert_eq!(err(r#"{"tag":"age",">=":"18"}"#).0, ">=");
    assert_eq!(err(r#"{"tag":"age",">=":18,"<":30}"#).0, "$");
    assert_eq!(err(r#"{"tag":"spend_30d",">=":1e300}"#).0, ">=");

    let (path, reason) = err(r#"{"any":[{"event":"refund","last_days":7,"count":{">=":1}}]}"#);
    assert_eq!(path, "any[0].event");
    assert_eq!(reason, RuleErrorReason::UnknownEvent("refund".into()));
    let (path, reason) = err(r#"{"event":"purchase","last_days":61,"count":{">=":1}}"#);
    assert_eq!(path, "last_days");
    assert_eq!(reason, RuleErrorReason::WindowTooLong { days: 61, retained: 60 });
    assert_eq!(err(r#"{"event":"purchase","last_days":91,"count":{">=":1}}"#).0, "last_days");
    assert_eq!(err(r#"{"event":"purchase","last_days":0,"count":{">=":1}}"#).0, "last_days");
    assert_eq!(err(r#"{"event":"purchase","count":{">=":1}}"#).0, "$");
    assert_eq!(err(r#"{"event":"purchase","last_days":7,"count":{"~":1}}"#).0, "count");
    assert_eq!(err(r#"{"event":"purchase","last_days":7,"count":{">=":1,"<=":3}}"#).0, "count");
    assert_eq!(err(r#"{"event":"purchase","last_days":7,"days":{">=":1.5}}"#).0, "days.>=");
    assert_eq!(err(r#"{"event":"purchase","last_days":7,"days":{">=":-1}}"#).0, "days.>=");
    assert_eq!(err(r#"{"event":"purchase","last_days":7,"count":{"between":[3,1]}}"#).0, "count.between");
    assert_eq!(err(r#"{"event":"purchase","last_days":7,"count":{">=":1},"days":{">=":1}}"#).0, "$");
}

#[test]
fn windows_name_their_missing_days() {
    let plan = Plan::parse(
        r#"{"all":[{"tag":"age","between":[18,25]},{"event":"purchase","last_days":12,"count":{">=":3}}]}"#,
        &catalog(),
    )
    .expect("valid");
    let [w] = plan.warnings() else { panic!("one warning: {:?}", plan.warnings()) };
    assert_eq!(w.path, "all[1]");
    assert_eq!(w.missing_days, ["2026-11-09", "2026-11-10", "2026-11-15", "2026-11-16"]);
    assert!(w.message.contains("2026-11-09…2026-11-10, 2026-11-15…2026-11-16"), "{}", w.message);
    let needs = plan.needs();
    assert_eq!(needs.columns.into_iter().collect::<Vec<_>>(), ["age"]);
    assert_eq!(needs.event_days.len(), 8);
    let quiet = Plan::parse(r#"{"event":"purchase","last_days":4,"days":{">=":2}}"#, &catalog()).expect("valid");
    assert!(quiet.warnings().is_empty());
}

#[test]
fn depth_and_size_limits() {
    let leaf = r#"{"tag":"gender","in":["female"]}"#;
    let mut deep = leaf.to_owned();
    for _ in 0..33 {
        deep = format!(r#"{{"not":{deep}}}"#);
    }
    assert!(matches!(err(&deep).1, RuleErrorReason::TooDeep { limit: 32 }));
    let mut ok = leaf.to_owned();
    for _ in 0..32 {
        ok = format!(r#"{{"not":{ok}}}"#);
    }
    assert!(Plan::parse(&ok, &catalog()).is_ok(), "32 levels are allowed");

    let wide = format!(r#"{{"any":[{}]}}"#, vec![leaf; 10_000].join(","));
    assert!(matches!(err(&wide).1, RuleErrorReason::TooManyNodes { limit: 10_000 }));
    let fits = format!(r#"{{"any":[{}]}}"#, vec![leaf; 9_999].join(","));
    assert!(Plan::parse(&fits, &catalog()).is_ok(), "10,000 nodes are allowed");

    // Nesting far beyond serde_json's own recursion limit is an error, not a stack overflow.
    let very_deep = format!("{}{}{}", r#"{"not":"#.repeat(100_000), leaf, "}".repeat(100_000));
    assert!(Plan::parse(&very_deep, &catalog()).is_err());
}

#[test]
fn scalar_values_mean_their_text() {
    let plan = Plan::parse(r#"{"tag":"active_7d","in":[true]}"#, &catalog()).expect("true means \"true\"");
    assert_eq!(plan.needs().tag_values.into_iter().next(), Some(("active_7d".into(), "true".into())));
}

fn json() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(Value::from),
        prop::sample::select(vec!["gender", "female", "male", "vip", "true", "all", "age", "purchase", "x"])
            .prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
    ];
    leaf.prop_recursive(6, 64, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "all",
                    "any",
                    "not",
                    "tag",
                    "in",
                    "segment",
                    "between",
                    ">=",
                    "!=",
                    "event",
                    "last_days",
                    "count",
                    "days",
                    "x"
                ]),
                inner,
                0..3
            )
            .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
        ]
    })
}

proptest! {
    #[test]
    fn any_json_parses_or_errors_without_panic(v in json()) {
        if let Ok(rule) = Rule::from_json(&v) {
            // A parsed rule survives its own wire form.
            prop_assert_eq!(Rule::from_json(&rule.to_json()).expect("round trip"), rule.clone());
            let _ = Plan::validate(&rule, &catalog());
        }
    }

    #[test]
    fn any_text_parses_or_errors_without_panic(s in ".{0,200}") {
        let _ = Rule::parse(&s);
    }
}
