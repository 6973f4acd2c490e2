//! Composite tags (segment-as-tag): a tag group whose values are rules, materialised on every
//! published day beside the segments (the same rounds in `publish`, the same durable job for
//! the older days), so it is then a tag like any other: in rules, the builder, the profile,
//! the membership API and the catalog.
//!
//! Definitions live in `composite/<group>` records of the app's `access` table. A change is
//! stored in one transaction with the recompute of every published day on the app's segments
//! job (through the store's publish, which takes records and recomputes together), so an
//! acknowledged definition can never lose its backfill; the latest day is computed before the
//! answer. A deleted composite keeps a tombstone record, so the days that still carry its group
//! drop it when they are next computed.
//!
//! With `multi: false` a user gets the first value whose rule matches, in the order given
//! ([`first_match`]). Composites and segments may name each other; a definition that would make
//! either depend on itself is refused with the cycle and the path of the reference leading into
//! it. In the dependency graph a composite is the node `tag:<group>` (no segment id has a `:`).

use std::collections::{BTreeMap, BTreeSet};

use engine::deps::{Graph, find_cycle};
use engine::{IdSet, Rule};
use serde::{Deserialize, Serialize};
use wire::{Actor, Composite, CompositeInput, CompositeValue};

use super::GovernanceError;
use crate::store::{Meta, Publish, StoreError};

const PREFIX: &str = "composite/";
/// Most values a composite tag may have.
pub const MAX_VALUES: usize = 64;

/// A composite as stored: its definition, or a tombstone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Deleted: days carrying the group drop it.
    #[serde(default)]
    pub deleted: bool,
    /// The definition (the last one, for a tombstone).
    pub composite: Composite,
}

/// A composite ready to compute.
#[derive(Debug, Clone, PartialEq)]
pub struct Def {
    /// The group.
    pub group: String,
    /// Category path.
    pub category: String,
    /// Several values per user.
    pub multi: bool,
    /// Values and their rules, in order.
    pub values: Vec<(String, Rule)>,
}

/// The node of a composite in the dependency graph.
pub fn node(group: &str) -> String {
    format!("tag:{group}")
}

/// Every composite record of an app (tombstones too), by group.
///
/// # Errors
/// The store failed.
pub fn records(meta: &Meta, app: &str) -> Result<BTreeMap<String, Record>, StoreError> {
    Ok(meta
        .access_list(app, PREFIX, None, usize::MAX)?
        .into_iter()
        .filter_map(|(key, b)| Some((key.strip_prefix(PREFIX)?.to_owned(), serde_json::from_slice(&b).ok()?)))
        .collect())
}

/// The live definitions of an app, and the names of every composite ever defined (whose
/// groups are computed, never carried).
///
/// # Errors
/// The store failed.
pub fn defs(meta: &Meta, app: &str) -> Result<(Vec<Def>, BTreeSet<String>), StoreError> {
    let all = records(meta, app)?;
    let names = all.keys().cloned().collect();
    let defs = all
        .into_values()
        .filter(|r| !r.deleted)
        .filter_map(|r| {
            let values = r
                .composite
                .values
                .iter()
                .map(|v| Rule::from_json(&v.rule.0).ok().map(|rule| (v.value.clone(), rule)))
                .collect::<Option<Vec<_>>>()?;
            Some(Def { group: r.composite.group, category: r.composite.category, multi: r.composite.multi, values })
        })
        .collect();
    Ok((defs, names))
}

/// Checks a definition: 1 to [`MAX_VALUES`] values with names as uploads allow, each rule
/// parsed (errors carry `values.<name>` before the rule's own path), a valid category.
///
/// # Errors
/// The field or rule path at fault.
pub fn validate(input: &CompositeInput) -> Result<Vec<(String, Rule)>, GovernanceError> {
    if input.values.is_empty() || input.values.len() > MAX_VALUES {
        return Err(GovernanceError::field("values", format!("1 to {MAX_VALUES} values, each with its rule")));
    }
    if !crate::ingest::valid_category(&input.category) {
        return Err(GovernanceError::field(
            "category",
            "a path like `demographics/location` (letters, digits, _ - . and spaces)",
        ));
    }
    input
        .values
        .iter()
        .map(|(value, rule)| {
            if value.is_empty() || value.len() > crate::ingest::MAX_VALUE_BYTES || value.chars().any(char::is_control) {
                return Err(GovernanceError::field(
                    "values",
                    format!("`{value}` is not a tag value (1 to 256 bytes, no control characters)"),
                ));
            }
            let rule = Rule::from_json(rule).map_err(|e| GovernanceError::InvalidRule {
                path: if e.path.is_empty() || e.path == "$" {
                    format!("values.{value}")
                } else {
                    format!("values.{value}.{}", e.path)
                },
                message: e.to_string(),
            })?;
            Ok((value.clone(), rule))
        })
        .collect()
}

/// What a rule depends on in the graph: the segments it names and the composites among the
/// tags it names, each with the JSON path of the reference.
pub fn rule_refs(rule: &Rule, composites: &BTreeSet<String>) -> Vec<(String, String)> {
    fn walk(rule: &Rule, path: &str, composites: &BTreeSet<String>, out: &mut Vec<(String, String)>) {
        let join = |key: &str| if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") };
        match rule {
            Rule::All(v) | Rule::Any(v) => {
                let here = join(if matches!(rule, Rule::All(_)) { "all" } else { "any" });
                for (i, r) in v.iter().enumerate() {
                    walk(r, &format!("{here}[{i}]"), composites, out);
                }
            }
            Rule::Not(r) => walk(r, &join("not"), composites, out),
            Rule::Segment(id) => out.push((join("segment"), id.clone())),
            Rule::Tag { tag, .. } | Rule::Number { tag, .. } if composites.contains(tag) => {
                out.push((join("tag"), node(tag)));
            }
            Rule::Tag { .. } | Rule::Number { .. } | Rule::Event { .. } => {}
        }
    }
    let mut out = Vec::new();
    walk(rule, "", composites, &mut out);
    out
}

/// The app's dependency graph: live segments and live composites.
///
/// # Errors
/// The store failed.
pub fn graph(meta: &Meta, app: &str) -> Result<(Graph, BTreeSet<String>), StoreError> {
    let (defs, _) = defs(meta, app)?;
    let names: BTreeSet<String> = defs.iter().map(|d| d.group.clone()).collect();
    let mut g = Graph::new();
    for record in crate::segments::list_live(meta, app)? {
        if let Some(rule) = record.live().and_then(|l| l.spec.rule.as_ref()).and_then(|r| Rule::from_json(r).ok()) {
            g.insert(record.id.clone(), rule_refs(&rule, &names).into_iter().map(|(_, n)| n).collect());
        }
    }
    for d in &defs {
        let deps = d.values.iter().flat_map(|(_, r)| rule_refs(r, &names)).map(|(_, n)| n).collect();
        g.insert(node(&d.group), deps);
    }
    Ok((g, names))
}

/// Refuses the node `start` depending on `refs` (path, node) when that closes a cycle.
///
/// # Errors
/// [`GovernanceError::Cycle`] with the cycle and the path leading into it.
pub fn check_cycle(mut g: Graph, start: &str, refs: &[(String, String)], what: &str) -> Result<(), GovernanceError> {
    g.insert(start.to_owned(), refs.iter().map(|(_, n)| n.clone()).collect());
    let Some(cycle) = find_cycle(&g, start) else { return Ok(()) };
    let through = cycle.first().is_some_and(|f| f == start);
    let path = refs
        .iter()
        .find(|(_, n)| if through { cycle.get(1) == Some(n) } else { find_cycle(&g, n).is_some() })
        .map_or_else(|| "$".to_owned(), |(p, _)| p.clone());
    let shown = cycle.join(" → ");
    let message = if through {
        format!("{what} would depend on itself: {shown}")
    } else {
        format!("the definitions this one uses depend on themselves: {shown}")
    };
    Err(GovernanceError::Cycle { path, cycle, message })
}

/// Stores a definition (or a tombstone) and queues every published day's recompute, in one
/// transaction.
///
/// # Errors
/// The store failed.
pub fn store(meta: &Meta, app: &str, record: &Record) -> Result<(), StoreError> {
    let days = meta.days(app)?.into_iter().map(|(d, _)| d).collect();
    let key = format!("{PREFIX}{}", record.composite.group);
    let records = vec![(key, serde_json::to_vec(record).unwrap_or_default())];
    meta.publish(&Publish { app, records, recompute: days, ..Publish::default() })
}

/// A definition as the API shows it.
pub fn view(group: &str, category: &str, multi: bool, values: &[(String, Rule)], by: Actor, now_ms: u64) -> Composite {
    Composite {
        group: group.to_owned(),
        values: values
            .iter()
            .map(|(v, r)| CompositeValue { value: v.clone(), rule: wire::Rule(r.to_json()) })
            .collect(),
        category: category.to_owned(),
        multi,
        by,
        updated_ms: now_ms,
    }
}

/// Each value's users from its rule's: with `multi` false a user keeps only the first value
/// that matched, in order.
///
/// ```
/// use engine::IdSet;
/// use server::governance::composites::first_match;
/// let sets = vec![("a".to_string(), IdSet::from_sorted(&[1, 2])), ("b".to_string(), IdSet::from_sorted(&[2, 3]))];
/// let out = first_match(sets.clone(), false);
/// assert_eq!(out[1].1, IdSet::from_sorted(&[3]));
/// assert_eq!(first_match(sets, true)[1].1, IdSet::from_sorted(&[2, 3]));
/// ```
pub fn first_match(sets: Vec<(String, IdSet)>, multi: bool) -> Vec<(String, IdSet)> {
    if multi {
        return sets;
    }
    let mut taken = IdSet::new();
    sets.into_iter()
        .map(|(v, s)| {
            let own = if taken.is_empty() { s.clone() } else { s.and_not(&taken) };
            taken = taken.or(&s);
            (v, own)
        })
        .collect()
}
