//! The rule language's wire form (DESIGN.md §4), parsed from JSON into a loose [`Rule`].
//!
//! Parsing checks shape only: JSON types, known keys, the depth and node-count limits. Names
//! are checked against a snapshot later, when [`crate::plan::Plan::validate`] turns the rule
//! into a plan. Every error carries the JSON path of the node (`all[2].any[0].not`).
//!
//! Leaves:
//! - `{"tag": "gender", "in": ["female"]}`: users holding one of the values;
//! - `{"tag": "age", "between": [18, 25]}`, `{"tag": "spend_30d", ">=": 100}` (also `>`, `<`,
//!   `<=`, `=`, `!=`): numeric tags; users without a value never match;
//! - `{"event": "purchase", "last_days": 7, "count": {">=": 3}}`: the sum of an event's daily
//!   counts over the window; `"days"` instead of `"count"` counts the days with the event;
//! - `{"segment": "vip"}`: members of a saved segment.
//!
//! Numbers are kept as the decimal text of the JSON number: a numeric tag's scale (how many
//! decimals it stores) is only known when the rule is checked against a snapshot, and
//! `129.50` must compare exactly, never through a float.

use serde_json::{Map, Value};

use crate::bsi::Cmp;
use crate::error::{RuleError, RuleErrorReason};

/// Deepest nesting of `all`/`any`/`not` accepted.
pub const MAX_DEPTH: usize = 32;
/// Most nodes (groups and leaves together) accepted in one rule.
pub const MAX_NODES: usize = 10_000;
/// Longest event window, in days.
pub const MAX_WINDOW_DAYS: u32 = 90;

/// A test of a number against constants, as written in a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Test {
    /// `{">=": 100}` and the other comparisons: the operator and the constant's decimal text.
    Compare(Cmp, String),
    /// `{"between": [18, 25]}`: both ends included.
    Between(String, String),
}

impl Test {
    fn to_json(&self) -> (String, Value) {
        match self {
            Test::Compare(cmp, n) => (cmp.symbol().to_owned(), number(n)),
            Test::Between(lo, hi) => ("between".to_owned(), Value::Array(vec![number(lo), number(hi)])),
        }
    }
}

/// What an event condition measures over its window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Measure {
    /// The sum of the daily counts (`"count"`).
    Count,
    /// The number of days with at least one (`"days"`).
    Days,
}

impl Measure {
    /// The wire key.
    pub const fn key(self) -> &'static str {
        match self {
            Measure::Count => "count",
            Measure::Days => "days",
        }
    }
}

/// A parsed rule, not yet checked against any data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// Every member must hold.
    All(Vec<Rule>),
    /// At least one member must hold.
    Any(Vec<Rule>),
    /// The member must not hold (relative to all users of the snapshot).
    Not(Box<Rule>),
    /// The user has at least one of the values of a tag group.
    Tag {
        /// Tag group name.
        tag: String,
        /// Accepted values.
        values: Vec<String>,
    },
    /// The user's value of a numeric tag group passes a test.
    Number {
        /// Tag group name.
        tag: String,
        /// The test.
        test: Test,
    },
    /// The user's activity in an event over the last days passes a test.
    Event {
        /// Event name.
        event: String,
        /// Window length: the days ending with, and including, the snapshot day.
        last_days: u32,
        /// Sum of counts, or active days.
        measure: Measure,
        /// The test (of non-negative integers).
        test: Test,
    },
    /// The user is a member of a segment (on the same day).
    Segment(String),
}

impl Rule {
    /// Parses the JSON text of a rule.
    ///
    /// ```
    /// use engine::Rule;
    /// let r = Rule::parse(r#"{"all":[{"tag":"gender","in":["female"]},{"not":{"segment":"vip"}}]}"#).unwrap();
    /// assert!(matches!(r, Rule::All(ref v) if v.len() == 2));
    /// let e = Rule::parse(r#"{"all":[{"tag":"gender"}]}"#).unwrap_err();
    /// assert_eq!(e.path, "all[0]");
    /// ```
    pub fn parse(text: &str) -> Result<Rule, RuleError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| RuleError::new("$", RuleErrorReason::Json(e.to_string())))?;
        Rule::from_json(&value)
    }

    /// Parses an already decoded JSON value.
    pub fn from_json(value: &Value) -> Result<Rule, RuleError> {
        let mut nodes = 0usize;
        parse_node(value, "", 0, &mut nodes)
    }

    /// The wire form of this rule.
    ///
    /// ```
    /// let text = r#"{"any":[{"tag":"province","in":["Guangdong","Zhejiang"]},{"segment":"vip"}]}"#;
    /// let rule = engine::Rule::parse(text).unwrap();
    /// assert_eq!(rule.to_json().to_string(), text);
    /// ```
    pub fn to_json(&self) -> Value {
        match self {
            Rule::All(v) => obj("all", Value::Array(v.iter().map(Rule::to_json).collect())),
            Rule::Any(v) => obj("any", Value::Array(v.iter().map(Rule::to_json).collect())),
            Rule::Not(r) => obj("not", r.to_json()),
            Rule::Tag { tag, values } => {
                let mut m = Map::new();
                m.insert("tag".into(), Value::String(tag.clone()));
                m.insert("in".into(), Value::Array(values.iter().cloned().map(Value::String).collect()));
                Value::Object(m)
            }
            Rule::Number { tag, test } => {
                let mut m = Map::new();
                m.insert("tag".into(), Value::String(tag.clone()));
                let (key, value) = test.to_json();
                m.insert(key, value);
                Value::Object(m)
            }
            Rule::Event { event, last_days, measure, test } => {
                let mut m = Map::new();
                m.insert("event".into(), Value::String(event.clone()));
                m.insert("last_days".into(), Value::from(*last_days));
                let (key, value) = test.to_json();
                m.insert(measure.key().into(), obj(&key, value));
                Value::Object(m)
            }
            Rule::Segment(id) => obj("segment", Value::String(id.clone())),
        }
    }

    /// The longest event window the rule uses (0 without event conditions), so a reader knows
    /// how many days of event data to load before validating.
    ///
    /// ```
    /// let r = engine::Rule::parse(r#"{"any":[{"event":"visit","last_days":30,"days":{">=":10}},
    ///     {"event":"buy","last_days":7,"count":{">=":3}}]}"#).unwrap();
    /// assert_eq!(r.longest_window(), 30);
    /// ```
    pub fn longest_window(&self) -> u32 {
        match self {
            Rule::All(v) | Rule::Any(v) => v.iter().map(Rule::longest_window).max().unwrap_or(0),
            Rule::Not(r) => r.longest_window(),
            Rule::Event { last_days, .. } => *last_days,
            Rule::Tag { .. } | Rule::Number { .. } | Rule::Segment(_) => 0,
        }
    }
}

/// A number's text as a JSON number (the text came from one).
fn number(text: &str) -> Value {
    serde_json::from_str::<serde_json::Number>(text).map(Value::Number).unwrap_or_else(|_| Value::String(text.into()))
}

fn obj(key: &str, value: Value) -> Value {
    let mut m = Map::new();
    m.insert(key.to_owned(), value);
    Value::Object(m)
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") }
}

fn shape(path: &str, msg: impl Into<String>) -> RuleError {
    RuleError::new(path, RuleErrorReason::Shape(msg.into()))
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The comparison keys, as written.
const COMPARISONS: [&str; 6] = [">=", ">", "<=", "<", "=", "!="];

fn is_test_key(key: &str) -> bool {
    key == "between" || COMPARISONS.contains(&key)
}

fn parse_node(value: &Value, path: &str, depth: usize, nodes: &mut usize) -> Result<Rule, RuleError> {
    *nodes += 1;
    if *nodes > MAX_NODES {
        return Err(RuleError::new(path, RuleErrorReason::TooManyNodes { limit: MAX_NODES }));
    }
    if depth > MAX_DEPTH {
        return Err(RuleError::new(path, RuleErrorReason::TooDeep { limit: MAX_DEPTH }));
    }
    let Value::Object(map) = value else {
        return Err(shape(path, format!("expected a rule object, found {}", type_name(value))));
    };
    for key in ["all", "any"] {
        if let Some(members) = map.get(key) {
            expect_only(map, &[key], path)?;
            let here = join(path, key);
            let Value::Array(items) = members else {
                return Err(shape(&here, format!("expected an array of rules, found {}", type_name(members))));
            };
            if items.is_empty() {
                return Err(RuleError::new(&here, RuleErrorReason::Empty(if key == "all" { "all" } else { "any" })));
            }
            let parsed = items
                .iter()
                .enumerate()
                .map(|(i, item)| parse_node(item, &format!("{here}[{i}]"), depth + 1, nodes))
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(if key == "all" { Rule::All(parsed) } else { Rule::Any(parsed) });
        }
    }
    if let Some(inner) = map.get("not") {
        expect_only(map, &["not"], path)?;
        return Ok(Rule::Not(Box::new(parse_node(inner, &join(path, "not"), depth + 1, nodes)?)));
    }
    if let Some(seg) = map.get("segment") {
        expect_only(map, &["segment"], path)?;
        let Value::String(id) = seg else {
            return Err(shape(
                &join(path, "segment"),
                format!("expected a segment id string, found {}", type_name(seg)),
            ));
        };
        return Ok(Rule::Segment(id.clone()));
    }
    if let Some(tag) = map.get("tag") {
        let Value::String(tag) = tag else {
            return Err(shape(&join(path, "tag"), format!("expected a tag group name, found {}", type_name(tag))));
        };
        if let Some(key) = map.keys().find(|k| is_test_key(k)) {
            expect_only(map, &["tag", key], path)?;
            let test = parse_test(key, &map[key], &join(path, key), Numbers::Decimal)?;
            return Ok(Rule::Number { tag: tag.clone(), test });
        }
        return parse_values(map, tag, path);
    }
    if let Some(event) = map.get("event") {
        return parse_event(map, event, path);
    }
    let keys: Vec<&str> = map.keys().map(String::as_str).collect();
    Err(shape(path, format!("expected one of all, any, not, tag, event, segment; found keys {keys:?}")))
}

/// `{"tag": …, "in": [values]}`.
fn parse_values(map: &Map<String, Value>, tag: &str, path: &str) -> Result<Rule, RuleError> {
    expect_only(map, &["tag", "in"], path)?;
    let here = join(path, "in");
    let Some(list) = map.get("in") else {
        return Err(shape(
            path,
            "a tag condition needs `in` (the accepted values) or a comparison (`between`, `>=`, `>`, `<=`, `<`, `=`, `!=`)",
        ));
    };
    let Value::Array(items) = list else {
        return Err(shape(&here, format!("expected an array of values, found {}", type_name(list))));
    };
    if items.is_empty() {
        return Err(RuleError::new(&here, RuleErrorReason::Empty("in")));
    }
    let values = items
        .iter()
        .enumerate()
        .map(|(i, v)| match v {
            Value::String(s) => Ok(s.clone()),
            // `"in": [true]` and `"in": [3]` mean the value's text, as it was uploaded.
            Value::Bool(_) | Value::Number(_) => Ok(v.to_string()),
            other => {
                Err(shape(&format!("{here}[{i}]"), format!("expected a value string, found {}", type_name(other))))
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Rule::Tag { tag: tag.to_owned(), values })
}

/// `{"event": …, "last_days": D, "count"|"days": {test}}`.
fn parse_event(map: &Map<String, Value>, event: &Value, path: &str) -> Result<Rule, RuleError> {
    let Value::String(event) = event else {
        return Err(shape(&join(path, "event"), format!("expected an event name, found {}", type_name(event))));
    };
    expect_only(map, &["event", "last_days", "count", "days"], path)?;
    let here = join(path, "last_days");
    let last_days = match map.get("last_days") {
        None => return Err(shape(path, "an event condition needs `last_days`: the window's length in days")),
        Some(v) => v.as_u64().filter(|d| (1..=u64::from(MAX_WINDOW_DAYS)).contains(d)).ok_or_else(|| {
            shape(&here, format!("expected a whole number of days from 1 to {MAX_WINDOW_DAYS}, found {v}"))
        })?,
    };
    let measure = match (map.get("count"), map.get("days")) {
        (Some(_), None) => Measure::Count,
        (None, Some(_)) => Measure::Days,
        _ => {
            return Err(shape(
                path,
                "an event condition needs exactly one of `count` (sum of counts) or `days` (active days)",
            ));
        }
    };
    let here = join(path, measure.key());
    let Value::Object(test) = &map[measure.key()] else {
        return Err(shape(
            &here,
            format!("expected a test such as {{\">=\": 3}}, found {}", type_name(&map[measure.key()])),
        ));
    };
    let mut keys = test.keys();
    let (Some(key), None) = (keys.next(), keys.next()) else {
        return Err(shape(&here, "expected exactly one test: `>=`, `>`, `<=`, `<`, `=`, `!=` or `between`"));
    };
    if !is_test_key(key) {
        return Err(shape(
            &here,
            format!("unknown comparison `{key}`; expected `>=`, `>`, `<=`, `<`, `=`, `!=` or `between`"),
        ));
    }
    let test = parse_test(key, &test[key], &join(&here, key), Numbers::Count)?;
    Ok(Rule::Event {
        event: event.clone(),
        // At most MAX_WINDOW_DAYS, checked above.
        last_days: u32::try_from(last_days).unwrap_or(MAX_WINDOW_DAYS),
        measure,
        test,
    })
}

/// Which constants a test accepts.
#[derive(Clone, Copy)]
enum Numbers {
    /// Any decimal (numeric tags; the scale is checked later).
    Decimal,
    /// Whole numbers ≥ 0 (event counts and days).
    Count,
}

/// The test under `key` (a comparison or `between`), with `path` naming `value`.
fn parse_test(key: &str, value: &Value, path: &str, numbers: Numbers) -> Result<Test, RuleError> {
    let constant = |v: &Value, path: &str| -> Result<String, RuleError> {
        let Value::Number(n) = v else {
            return Err(shape(path, format!("expected a number, found {}", type_name(v))));
        };
        let text = n.to_string();
        match numbers {
            Numbers::Count if n.as_u64().is_none() => {
                Err(shape(path, format!("expected a whole number of at least 0, found {text}")))
            }
            // serde_json prints large or tiny floats with an exponent; the exact decimal
            // reader does not take those, so say so here, where the path is known.
            Numbers::Decimal if text.contains(['e', 'E']) => {
                Err(shape(path, format!("{text}: write the number without an exponent")))
            }
            _ => Ok(text),
        }
    };
    if key == "between" {
        let Value::Array(ends) = value else {
            return Err(shape(path, format!("expected [low, high], found {}", type_name(value))));
        };
        let [lo, hi] = ends.as_slice() else {
            return Err(shape(path, format!("expected [low, high]: two numbers, found {}", ends.len())));
        };
        return Ok(Test::Between(constant(lo, &format!("{path}[0]"))?, constant(hi, &format!("{path}[1]"))?));
    }
    let cmp = Cmp::from_symbol(key).ok_or_else(|| shape(path, format!("unknown comparison `{key}`")))?;
    Ok(Test::Compare(cmp, constant(value, path)?))
}

fn expect_only(map: &Map<String, Value>, allowed: &[&str], path: &str) -> Result<(), RuleError> {
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(extra) => Err(shape(path, format!("unexpected key `{extra}` beside {allowed:?}"))),
        None => Ok(()),
    }
}
