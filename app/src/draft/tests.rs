//! Tests of [`super`].

use super::*;

fn sample() -> Draft {
    let mut d = Draft::default();
    d.add(&[], Cond::tag("gender", &["female"]));
    let any = d.add(&[], Cond::group(Op::Any)).expect("top level");
    d.add(&any, Cond::tag("province", &["Guangdong"]));
    d.add(&any, Cond { node: Node::Segment("vip".into()), negated: false });
    let not = d.add(&[], Cond::tag("active_7d", &["true"])).expect("top level");
    d.toggle_not(&not);
    d
}

#[test]
fn rules_round_trip() {
    let d = sample();
    let compiled = d.compile();
    assert_eq!(
        compiled.rule.to_json().to_string(),
        r#"{"all":[{"tag":"gender","in":["female"]},{"any":[{"tag":"province","in":["Guangdong"]},{"segment":"vip"}]},{"not":{"tag":"active_7d","in":["true"]}}]}"#
    );
    assert_eq!(Draft::from_rule(&compiled.rule), d);
    let reparsed = Rule::parse(&compiled.rule.to_json().to_string()).expect("engine parses it");
    assert_eq!(reparsed, compiled.rule);
}

#[test]
fn moves_stay_inside_their_group() {
    let mut d = sample();
    assert_eq!(d.move_by(&[1, 0], 1), Some(vec![1, 1]));
    assert_eq!(d.get(&[1, 0]).map(|c| c.summary()).as_deref(), Some("segment vip"));
    assert_eq!(d.move_by(&[1, 1], 1), None);
    assert_eq!(d.move_by(&[0], -1), None);
    assert_eq!(d.move_by(&[2], -1), Some(vec![1]));
    assert!(d.conds[1].negated);
}

#[test]
fn incomplete_conditions_are_left_out() {
    let mut d = sample();
    let empty = d.add(&[], Cond::group(Op::Any)).expect("top level");
    d.add(&empty, Cond::tag("city", &[]));
    let compiled = d.compile();
    assert_eq!(compiled.sources, [0, 1, 2]);
    assert_eq!(d.remove(&empty).map(|c| c.is_complete()), Some(false));
}

#[test]
fn values_keep_the_manifest_order() {
    let mut d = Draft::default();
    let p = d.add(&[], Cond::tag("age_band", &[])).expect("top level");
    let order: Vec<String> = ["18-24", "25-34", "35-44"].map(String::from).to_vec();
    d.toggle_value(&p, "35-44", &order);
    d.toggle_value(&p, "18-24", &order);
    assert_eq!(d.get(&p).map(Cond::summary).as_deref(), Some("age_band: 18-24, 35-44"));
    d.toggle_value(&p, "18-24", &order);
    assert_eq!(d.get(&p).map(Cond::summary).as_deref(), Some("age_band: 35-44"));
    d.set_group(&p, "gender");
    assert_eq!(d.get(&p).map(Cond::summary).as_deref(), Some("gender: choose values"));
}

#[test]
fn numeric_and_event_conditions_round_trip() {
    let mut d = Draft::default();
    let age = d.add(&[], Cond::tag("", &[])).expect("top level");
    d.set_number(&age, "age", "18", "25");
    let buy = d.add(&[], Cond::tag("", &[])).expect("top level");
    d.set_event(&buy, "purchase");
    d.set_window(&buy, 30, Measure::Count);
    d.set_bounds(&buy, Bounds::compare(Cmp::Ge, "3"));
    let visit = d.add(&[], Cond::tag("", &[])).expect("top level");
    d.set_event(&visit, "visit");
    d.set_window(&visit, 500, Measure::Days);
    d.set_bounds(&visit, Bounds::between("2", "x"));
    // The visit test is incomplete ("x"), so it is left out.
    let compiled = d.compile();
    assert_eq!(
        compiled.rule.to_json().to_string(),
        r#"{"all":[{"tag":"age","between":[18,25]},{"event":"purchase","last_days":30,"count":{">=":3}}]}"#
    );
    assert_eq!(compiled.sources, [0, 1]);
    assert_eq!(d.get(&visit).map(Cond::summary).as_deref(), Some("visit on between 2 and x of the last 90 days"));
    assert_eq!(d.get(&buy).map(Cond::summary).as_deref(), Some("purchase count ≥ 3 in the last 30 days"));
    let reparsed = Rule::parse(&compiled.rule.to_json().to_string()).expect("engine parses it");
    assert_eq!(reparsed, compiled.rule);
    let back = Draft::from_rule(&compiled.rule);
    assert_eq!(back.conds[0], d.conds[0]);
    assert_eq!(back.conds[1], d.conds[1]);
    // Decimals with a sign and leading zeros are sent as plain JSON numbers.
    d.set_bounds(&age, Bounds::compare(Cmp::Lt, "+0129.50"));
    assert_eq!(d.conds[0].to_rule().map(|r| r.to_json().to_string()).as_deref(), Some(r#"{"tag":"age","<":129.5}"#));
}

#[test]
fn double_negation_survives() {
    let rule = Rule::parse(r#"{"not":{"not":{"segment":"a"}}}"#).expect("parses");
    let d = Draft::from_rule(&rule);
    // not(not(x)) comes back as not(all(not(x))): the same users, and editable.
    assert_eq!(d.compile().rule.to_json().to_string(), r#"{"all":[{"not":{"all":[{"not":{"segment":"a"}}]}}]}"#);
}
