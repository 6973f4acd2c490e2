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
//! `129.50` must compare exactly, never through a float ([`number_text`] says which JSON
//! numbers can be read exactly).
//!
//! `{"all": []}` holds for every user (a builder with no conditions yet); `{"any": []}` holds
//! for nobody and is refused as a mistake.

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

    /// The segments the rule names, each with the JSON path of its `segment` key, in rule order
    /// (a segment named twice is listed twice): what a cycle check and its error message need.
    ///
    /// ```
    /// let r = engine::Rule::parse(r#"{"all":[{"segment":"a"},{"not":{"segment":"b"}}]}"#).unwrap();
    /// assert_eq!(r.segment_refs(), vec![("all[0].segment".into(), "a".into()), ("all[1].not.segment".into(), "b".into())]);
    /// ```
    pub fn segment_refs(&self) -> Vec<(String, String)> {
        fn walk(rule: &Rule, path: &str, out: &mut Vec<(String, String)>) {
            match rule {
                Rule::All(v) | Rule::Any(v) => {
                    let here = join(path, if matches!(rule, Rule::All(_)) { "all" } else { "any" });
                    for (i, m) in v.iter().enumerate() {
                        walk(m, &format!("{here}[{i}]"), out);
                    }
                }
                Rule::Not(r) => walk(r, &join(path, "not"), out),
                Rule::Segment(id) => out.push((join(path, "segment"), id.clone())),
                Rule::Tag { .. } | Rule::Number { .. } | Rule::Event { .. } => {}
            }
        }
        let mut out = Vec::new();
        walk(self, "", &mut out);
        out
    }
}

/// A number's text as a JSON number (the text came from one).
fn number(text: &str) -> Value {
    serde_json::from_str::<serde_json::Number>(text).map(Value::Number).unwrap_or_else(|_| Value::String(text.into()))
}

/// Most significant digits of a rule's number that are read exactly: JSON numbers other than
/// integers arrive as 64-bit floats, which keep any decimal of up to 15 digits exactly.
pub const MAX_SIGNIFICANT_DIGITS: usize = 15;

/// The exact decimal text of a JSON number, without an exponent (`1e-7` is `0.0000001`).
///
/// Integers from −2^63 to 2^64 − 1 arrive exactly. Anything else arrives as a 64-bit float
/// (serde_json keeps no text), so it is accepted when its shortest form has at most
/// [`MAX_SIGNIFICANT_DIGITS`] digits (then it is exactly what was written) and refused with a
/// true reason otherwise. serde_json's `arbitrary_precision` feature would keep the text, but it
/// changes number handling for every crate of the build (flattened and untagged types stop
/// reading numbers), so it is not used.
///
/// ```
/// use engine::rule::number_text;
/// let n = |t: &str| number_text(&serde_json::from_str(t).unwrap());
/// assert_eq!(n("-9223372036854775808").unwrap(), "-9223372036854775808");
/// assert_eq!(n("2.5e1").unwrap(), "25");
/// assert_eq!(n("1e-7").unwrap(), "0.0000001");
/// assert!(n("123456789012345678901234567890").unwrap_err().contains("out of range"));
/// assert!(n("0.1234567890123456789").unwrap_err().contains("significant digits"));
/// ```
pub fn number_text(n: &serde_json::Number) -> Result<String, String> {
    if n.is_i64() || n.is_u64() {
        return Ok(n.to_string());
    }
    let x = n.as_f64().unwrap_or(f64::NAN);
    // 2^64 and -2^63 are exact in f64.
    if !(-9_223_372_036_854_775_808.0..18_446_744_073_709_551_616.0).contains(&x) {
        return Err(format!("out of range: a rule's numbers lie between {} and {}", i64::MIN, u64::MAX));
    }
    // Rust prints the shortest digits that read back as the same float: `d.ddde±x`.
    let sci = format!("{x:e}");
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exponent: i64 = exponent.parse().unwrap_or(0);
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    if digits.len() > MAX_SIGNIFICANT_DIGITS {
        return Err(format!(
            "{x} has more than {MAX_SIGNIFICANT_DIGITS} significant digits, which a JSON number does not keep \
             exactly; write at most {MAX_SIGNIFICANT_DIGITS}"
        ));
    }
    // The decimal point goes after `exponent + 1` digits of `digits`.
    let point = exponent + 1;
    let len = digits.len() as i64;
    let plain = if point <= 0 {
        format!("0.{}{digits}", "0".repeat(usize::try_from(-point).unwrap_or(0)))
    } else if point >= len {
        format!("{digits}{}", "0".repeat(usize::try_from(point - len).unwrap_or(0)))
    } else {
        let (int, frac) = digits.split_at(usize::try_from(point).unwrap_or(0));
        format!("{int}.{frac}")
    };
    Ok(if negative && plain != "0" { format!("-{plain}") } else { plain })
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
            // `all` of nothing holds for every user (the builder's rule before its first
            // condition); `any` of nothing holds for nobody, which is always a mistake.
            if items.is_empty() && key == "any" {
                return Err(RuleError::new(&here, RuleErrorReason::Empty("any")));
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
        let text = number_text(n).map_err(|m| shape(path, m))?;
        match numbers {
            Numbers::Count if text.parse::<u64>().is_err() => {
                Err(shape(path, format!("expected a whole number of at least 0, found {text}")))
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
