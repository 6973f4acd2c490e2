//! Rule parsing and validation: JSON paths in errors, limits, and no panic on any JSON.

use engine::{Catalog, Plan, Rule, RuleErrorReason};
use proptest::prelude::*;

fn catalog() -> Catalog {
    let mut c = Catalog::new(100);
    c.add_value("gender", "female", 50);
    c.add_value("gender", "male", 50);
    c.add_value("active_7d", "true", 30);
    c.add_segment("vip", 5);
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
    let (path, reason) = err(r#"{"all":[{"tag":"age","between":[18,25]}]}"#);
    assert_eq!(path, "all[0]");
    assert!(matches!(reason, RuleErrorReason::Shape(m) if m.contains("between")));
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
        prop::sample::select(vec!["gender", "female", "male", "vip", "true", "all", "x"]).prop_map(Value::from),
    ];
    leaf.prop_recursive(6, 64, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec!["all", "any", "not", "tag", "in", "segment", "between", "x"]),
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
