//! The rule language's wire form (DESIGN.md §4), parsed from JSON into a loose [`Rule`].
//!
//! Parsing checks shape only: JSON types, known keys, the depth and node-count limits. Names
//! are checked against a snapshot later, when [`crate::plan::Plan::validate`] turns the rule
//! into a plan. Every error carries the JSON path of the node (`all[2].any[0].not`).
//!
//! Numeric (`between`, `>=`, …) and event leaves are reserved keys: they are recognised and
//! refused with a clear message until the engine evaluates them, so the wire form can grow
//! without breaking.

use serde_json::{Map, Value};

use crate::error::{RuleError, RuleErrorReason};

/// Deepest nesting of `all`/`any`/`not` accepted.
pub const MAX_DEPTH: usize = 32;
/// Most nodes (groups and leaves together) accepted in one rule.
pub const MAX_NODES: usize = 10_000;

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
            Rule::Segment(id) => obj("segment", Value::String(id.clone())),
        }
    }
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

const RESERVED_LEAF_KEYS: [&str; 9] = ["between", ">=", ">", "<=", "<", "=", "!=", "event", "last_days"];

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
        if let Some(reserved) = map.keys().find(|k| RESERVED_LEAF_KEYS.contains(&k.as_str())) {
            return Err(shape(path, format!("`{reserved}` conditions are not supported yet; use `in`")));
        }
        expect_only(map, &["tag", "in"], path)?;
        let here = join(path, "in");
        let Some(list) = map.get("in") else {
            return Err(shape(path, "a tag condition needs `in`: the list of accepted values"));
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
        return Ok(Rule::Tag { tag: tag.clone(), values });
    }
    if map.contains_key("event") {
        return Err(shape(path, "event conditions are not supported yet"));
    }
    let keys: Vec<&str> = map.keys().map(String::as_str).collect();
    Err(shape(path, format!("expected one of all, any, not, tag, segment; found keys {keys:?}")))
}

fn expect_only(map: &Map<String, Value>, allowed: &[&str], path: &str) -> Result<(), RuleError> {
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(extra) => Err(shape(path, format!("unexpected key `{extra}` beside {allowed:?}"))),
        None => Ok(()),
    }
}
