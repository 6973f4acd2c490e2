//! A [`Plan`] is a [`Rule`] checked against a [`Catalog`]: every name exists, tag conditions
//! are expanded to the value bitmaps they read, numeric tests are turned into ranges of stored
//! values, and event windows into the days they read. Only plans are evaluated.

use std::collections::BTreeSet;

use crate::catalog::Catalog;
use crate::error::{RuleError, RuleErrorReason};
use crate::rule::{Measure, Rule};
use crate::window::{Select, window_days};

/// A node of a checked rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// Intersection.
    And(Vec<Node>),
    /// Union.
    Or(Vec<Node>),
    /// Complement within the snapshot's users.
    Not(Box<Node>),
    /// Users holding one value of one tag group.
    Value {
        /// Tag group.
        group: String,
        /// Value.
        value: String,
    },
    /// Members of a segment.
    Segment(String),
    /// Users whose stored value of a numeric group passes a range test.
    Numeric {
        /// Tag group.
        group: String,
        /// The test, in stored units.
        select: Select,
    },
    /// Users whose activity in an event over a window passes a range test (no activity is 0).
    Event {
        /// Event name.
        event: String,
        /// Sum of counts or active days.
        measure: Measure,
        /// The window's days that have an upload of the event, oldest first.
        days: Vec<String>,
        /// The test.
        select: Select,
    },
}

/// Something the answer should be read with: the plan is valid, but not all data is there
/// (the wire type: estimates answer it as computed here).
pub use wire::Warning;

/// A checked rule, ready to evaluate.
///
/// ```
/// use engine::{Catalog, Plan, Rule};
/// let mut catalog = Catalog::new(100);
/// catalog.add_value("gender", "female", 50);
/// let rule = Rule::parse(r#"{"all":[{"tag":"gender","in":["female"]},{"tag":"gender","in":["x"]}]}"#).unwrap();
/// let err = Plan::validate(&rule, &catalog).unwrap_err();
/// assert_eq!(err.path, "all[1].in[0]");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    root: Node,
    step_paths: Vec<String>,
    warnings: Vec<Warning>,
}

/// The bitmaps a plan reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needs {
    /// (group, value) pairs.
    pub tag_values: BTreeSet<(String, String)>,
    /// Segment ids.
    pub segments: BTreeSet<String>,
    /// Numeric groups whose columns are read.
    pub columns: BTreeSet<String>,
    /// (event, day) pairs whose daily columns are read.
    pub event_days: BTreeSet<(String, String)>,
}

impl Plan {
    /// Checks a rule against a catalog.
    pub fn validate(rule: &Rule, catalog: &Catalog) -> Result<Plan, RuleError> {
        let mut warnings = Vec::new();
        let root = check(rule, "", catalog, &mut warnings)?;
        let step_paths = match rule {
            Rule::All(members) => (0..members.len()).map(|i| format!("all[{i}]")).collect(),
            _ => vec!["$".to_owned()],
        };
        Ok(Plan { root, step_paths, warnings })
    }

    /// What the answer should be read with (event days without uploads), in rule order.
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// Parses and checks rule JSON in one go.
    pub fn parse(text: &str, catalog: &Catalog) -> Result<Plan, RuleError> {
        Plan::validate(&Rule::parse(text)?, catalog)
    }

    /// The root node.
    pub fn root(&self) -> &Node {
        &self.root
    }

    /// Paths of the funnel steps: each member of a top-level `all`, or `$` for the whole rule.
    pub fn step_paths(&self) -> &[String] {
        &self.step_paths
    }

    /// Every bitmap the plan reads, so a client can fetch exactly those.
    pub fn needs(&self) -> Needs {
        let mut needs = Needs::default();
        collect(&self.root, &mut needs);
        needs
    }
}

fn collect(node: &Node, needs: &mut Needs) {
    match node {
        Node::And(v) | Node::Or(v) => v.iter().for_each(|n| collect(n, needs)),
        Node::Not(n) => collect(n, needs),
        Node::Value { group, value } => {
            needs.tag_values.insert((group.clone(), value.clone()));
        }
        Node::Segment(id) => {
            needs.segments.insert(id.clone());
        }
        Node::Numeric { group, .. } => {
            needs.columns.insert(group.clone());
        }
        Node::Event { event, days, .. } => {
            needs.event_days.extend(days.iter().map(|ds| (event.clone(), ds.clone())));
        }
    }
}

fn sub(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") }
}

fn check(rule: &Rule, path: &str, catalog: &Catalog, warnings: &mut Vec<Warning>) -> Result<Node, RuleError> {
    Ok(match rule {
        Rule::All(members) | Rule::Any(members) => {
            let key = if matches!(rule, Rule::All(_)) { "all" } else { "any" };
            let here = sub(path, key);
            let nodes = members
                .iter()
                .enumerate()
                .map(|(i, m)| check(m, &format!("{here}[{i}]"), catalog, warnings))
                .collect::<Result<Vec<_>, _>>()?;
            if key == "all" { Node::And(nodes) } else { Node::Or(nodes) }
        }
        Rule::Not(inner) => Node::Not(Box::new(check(inner, &sub(path, "not"), catalog, warnings)?)),
        Rule::Segment(id) => {
            if !catalog.has_segment(id) {
                return Err(RuleError::new(&sub(path, "segment"), RuleErrorReason::UnknownSegment(id.clone())));
            }
            Node::Segment(id.clone())
        }
        Rule::Tag { tag, values } => {
            let Some(group) = catalog.groups.get(tag) else {
                return Err(RuleError::new(&sub(path, "tag"), RuleErrorReason::UnknownTag(tag.clone())));
            };
            if group.numeric.is_some() {
                return Err(RuleError::new(
                    &sub(path, "in"),
                    RuleErrorReason::WrongKind {
                        group: tag.clone(),
                        actual: "numeric",
                        hint: "use `between` or a comparison (`>=`, `<`, …) instead of `in`",
                    },
                ));
            }
            let mut seen = BTreeSet::new();
            let mut leaves = Vec::with_capacity(values.len());
            for (i, value) in values.iter().enumerate() {
                if !group.values.contains_key(value) {
                    return Err(RuleError::new(
                        &format!("{}[{i}]", sub(path, "in")),
                        RuleErrorReason::UnknownValue { group: tag.clone(), value: value.clone() },
                    ));
                }
                if seen.insert(value) {
                    leaves.push(Node::Value { group: tag.clone(), value: value.clone() });
                }
            }
            if leaves.len() == 1 { leaves.remove(0) } else { Node::Or(leaves) }
        }
        Rule::Number { tag, test } => {
            let Some(group) = catalog.groups.get(tag) else {
                return Err(RuleError::new(&sub(path, "tag"), RuleErrorReason::UnknownTag(tag.clone())));
            };
            let key = match test {
                crate::rule::Test::Compare(cmp, _) => cmp.symbol(),
                crate::rule::Test::Between(..) => "between",
            };
            let Some(info) = &group.numeric else {
                return Err(RuleError::new(
                    &sub(path, key),
                    RuleErrorReason::WrongKind {
                        group: tag.clone(),
                        actual: "not numeric",
                        hint: "compare numeric tags only; pick values with `in`",
                    },
                ));
            };
            let select = Select::from_numeric(test, info)
                .map_err(|e| RuleError::new(&sub(path, key), RuleErrorReason::BadNumber(e)))?;
            Node::Numeric { group: tag.clone(), select }
        }
        Rule::Event { event, last_days, measure, test } => {
            let key = match test {
                crate::rule::Test::Compare(cmp, _) => cmp.symbol(),
                crate::rule::Test::Between(..) => "between",
            };
            let test_path = sub(&sub(path, measure.key()), key);
            let select =
                Select::from_counts(test).map_err(|e| RuleError::new(&test_path, RuleErrorReason::BadNumber(e)))?;
            let known = catalog.events.days.values().any(|names| names.contains(event));
            if !known {
                return Err(RuleError::new(&sub(path, "event"), RuleErrorReason::UnknownEvent(event.clone())));
            }
            let retained = catalog.events.retained_days;
            if *last_days > retained {
                return Err(RuleError::new(
                    &sub(path, "last_days"),
                    RuleErrorReason::WindowTooLong { days: *last_days, retained },
                ));
            }
            let window = window_days(&catalog.ds, *last_days).ok_or_else(|| {
                RuleError::new(
                    &sub(path, "event"),
                    RuleErrorReason::Shape(format!(
                        "event windows need the snapshot's day; `{}` is not a date",
                        catalog.ds
                    )),
                )
            })?;
            let uploaded = |ds: &String| catalog.events.days.get(ds).is_some_and(|names| names.contains(event));
            let (days, missing): (Vec<String>, Vec<String>) = window.into_iter().partition(uploaded);
            if !missing.is_empty() {
                warnings.push(Warning {
                    path: if path.is_empty() { "$".to_owned() } else { path.to_owned() },
                    message: format!(
                        "`{event}` has no upload for {} of the {last_days} days of the window ({}); they count as zero",
                        missing.len(),
                        day_ranges(&missing)
                    ),
                    missing_days: missing,
                });
            }
            Node::Event { event: event.clone(), measure: *measure, days, select }
        }
    })
}

/// Days as runs: `2026-11-01…2026-11-03, 2026-11-07`.
fn day_ranges(days: &[String]) -> String {
    let parsed: Vec<crate::ds::Ds> = days.iter().filter_map(|d| d.parse().ok()).collect();
    let mut runs: Vec<(crate::ds::Ds, crate::ds::Ds)> = Vec::new();
    for d in parsed {
        match runs.last_mut() {
            Some((_, end)) if end.add_days(1) == d => *end = d,
            _ => runs.push((d, d)),
        }
    }
    let text: Vec<String> = runs.iter().map(|(a, b)| if a == b { a.to_string() } else { format!("{a}…{b}") }).collect();
    text.join(", ")
}
