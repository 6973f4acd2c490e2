//! The report's queries: AND, OR and ANDNOT counts of tag pairs (dense∧dense, dense∧clustered,
//! dense∧sparse, sparse∧sparse) and two 10-condition rules, each written once in the engine's
//! rule JSON. Every peer evaluates that same JSON (`peers.py` turns it into SQL), so there is one
//! definition of what is asked.
//!
//! The top-level `all` of a rule is written in the order the bitmap peers evaluate it: plain
//! members smallest first (an OR counts as the sum of its values), negations last, applied as
//! differences. The engine reorders on its own; the peers get the same courtesy by construction.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::data::Manifest;

/// One query: a rule and what kind of operation it stands for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Query {
    /// e.g. `and dense-sparse`, `10cond-dense`.
    pub name: String,
    /// `and`, `or`, `andnot` (two tags) or `rule`.
    pub op: String,
    /// `dense-dense`, `dense-clustered`, `dense-sparse`, `sparse-sparse`, or the rule's name.
    pub class: String,
    /// The two tags of a pair operation (`<group>=<value>`), empty for rules.
    #[serde(default)]
    pub pair: Vec<String>,
    /// The engine's rule JSON.
    pub rule: Value,
}

fn tag(key: &str) -> Value {
    let (group, value) = key.split_once('=').unwrap_or((key, "true"));
    json!({"tag": group, "in": [value]})
}

fn tags(group: &str, values: &[&str]) -> Value {
    json!({"tag": group, "in": values})
}

/// Users the rule node can match at most: what "smallest first" sorts by.
fn upper_bound(node: &Value, m: &Manifest) -> u64 {
    if let Some(group) = node.get("tag").and_then(Value::as_str) {
        let values = node["in"].as_array().map(Vec::as_slice).unwrap_or_default();
        return values.iter().filter_map(|v| v.as_str()).filter_map(|v| m.count(&format!("{group}={v}"))).sum();
    }
    if let Some(any) = node.get("any").and_then(Value::as_array) {
        return any.iter().map(|n| upper_bound(n, m)).sum();
    }
    if let Some(all) = node.get("all").and_then(Value::as_array) {
        return all.iter().map(|n| upper_bound(n, m)).min().unwrap_or(0);
    }
    u64::from(m.users)
}

/// `all` of the members: plain ones smallest first, then the negations.
fn all_ordered(members: Vec<Value>, m: &Manifest) -> Value {
    let (mut plain, nots): (Vec<Value>, Vec<Value>) = members.into_iter().partition(|n| n.get("not").is_none());
    plain.sort_by_key(|n| upper_bound(n, m));
    plain.extend(nots);
    json!({ "all": plain })
}

/// Every query of the report, for the population described by `m` (its counts order the rules).
pub fn queries(m: &Manifest) -> Vec<Query> {
    let pairs = [
        ("dense-dense", "gender=female", "interest_beauty=true"),
        ("dense-clustered", "gender=female", "active_30d=true"),
        ("dense-sparse", "gender=female", "sparse_1pct=true"),
        ("sparse-sparse", "sparse_1pct=true", "sparse_01pct=true"),
    ];
    let mut out = Vec::new();
    for op in ["and", "or", "andnot"] {
        for (class, a, b) in pairs {
            let rule = match op {
                "and" => json!({"all": [tag(a), tag(b)]}),
                "or" => json!({"any": [tag(a), tag(b)]}),
                _ => json!({"all": [tag(a), {"not": tag(b)}]}),
            };
            out.push(Query {
                name: format!("{op} {class}"),
                op: op.to_owned(),
                class: class.to_owned(),
                pair: vec![a.to_owned(), b.to_owned()],
                rule,
            });
        }
    }
    // The engine bench's 10-condition rules (DESIGN.md §6): tags, OR-of-values, NOT, an `any`.
    let dense = vec![
        tag("gender=female"),
        tag("active_30d=true"),
        tags("province", &["p0", "p1", "p2"]),
        tags("age_band", &["18-24", "25-30", "31-40"]),
        json!({"not": tag("active_1d=true")}),
        tags("device", &["Apple", "Huawei", "Xiaomi"]),
        tags("channel", &["organic", "ads", "referral"]),
        json!({"not": tags("member_level", &["none"])}),
        json!({"any": [tag("interest_sports=true"), tag("interest_beauty=true")]}),
        json!({"not": tag("paid_30d=true")}),
    ];
    let sparse = vec![
        tag("sparse_01pct=true"),
        tag("active_30d=true"),
        tags("province", &["p0", "p1", "p2", "p3"]),
        tags("age_band", &["18-24", "25-30", "31-40"]),
        json!({"not": tag("active_1d=true")}),
        tags("device", &["Apple", "Huawei", "Xiaomi"]),
        tags("channel", &["organic", "ads", "referral"]),
        tag("gender=female"),
        json!({"any": [tag("interest_sports=true"), tag("sparse_1pct=true")]}),
        json!({"not": tag("paid_30d=true")}),
    ];
    for (name, members) in [("10cond-dense", dense), ("10cond-sparse", sparse)] {
        out.push(Query {
            name: name.to_owned(),
            op: "rule".to_owned(),
            class: name.to_owned(),
            pair: Vec::new(),
            rule: all_ordered(members, m),
        });
    }
    out
}
