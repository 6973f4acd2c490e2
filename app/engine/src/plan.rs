//! A [`Plan`] is a [`Rule`] checked against a [`Catalog`]: every name exists, tag conditions
//! are expanded to the value bitmaps they read. Only plans are evaluated.

use std::collections::BTreeSet;

use crate::catalog::Catalog;
use crate::error::{RuleError, RuleErrorReason};
use crate::rule::Rule;

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
}

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
}

/// The bitmaps a plan reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needs {
    /// (group, value) pairs.
    pub tag_values: BTreeSet<(String, String)>,
    /// Segment ids.
    pub segments: BTreeSet<String>,
}

impl Plan {
    /// Checks a rule against a catalog.
    pub fn validate(rule: &Rule, catalog: &Catalog) -> Result<Plan, RuleError> {
        let root = check(rule, "", catalog)?;
        let step_paths = match rule {
            Rule::All(members) => (0..members.len()).map(|i| format!("all[{i}]")).collect(),
            _ => vec!["$".to_owned()],
        };
        Ok(Plan { root, step_paths })
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
    }
}

fn sub(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") }
}

fn check(rule: &Rule, path: &str, catalog: &Catalog) -> Result<Node, RuleError> {
    Ok(match rule {
        Rule::All(members) | Rule::Any(members) => {
            let key = if matches!(rule, Rule::All(_)) { "all" } else { "any" };
            let here = sub(path, key);
            let nodes = members
                .iter()
                .enumerate()
                .map(|(i, m)| check(m, &format!("{here}[{i}]"), catalog))
                .collect::<Result<Vec<_>, _>>()?;
            if key == "all" { Node::And(nodes) } else { Node::Or(nodes) }
        }
        Rule::Not(inner) => Node::Not(Box::new(check(inner, &sub(path, "not"), catalog)?)),
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
    })
}
