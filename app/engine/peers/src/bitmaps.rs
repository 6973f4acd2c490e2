//! The bitmap peers: CRoaring (`croaring`) and roaring-rs evaluating a rule with their own
//! operators, one result bitmap per operator ("pairwise"), each with its best API:
//! count-only calls (`and_cardinality`, `intersection_len`, …) for the last operation, CRoaring's
//! `fast_or` for OR-of-values, in-place AND/ANDNOT on the accumulator. Rules arrive ordered
//! (see `query.rs`): plain members smallest first, negations last as differences.

use std::borrow::Cow;
use std::collections::HashMap;

use croaring::Bitmap;
use roaring::RoaringBitmap;
use serde_json::Value;

/// What a peer's bitmap type offers the evaluator.
pub trait Bits: Clone {
    fn and(a: &Self, b: &Self) -> Self;
    fn andnot(a: &Self, b: &Self) -> Self;
    fn and_assign(&mut self, b: &Self);
    fn andnot_assign(&mut self, b: &Self);
    fn union(all: &[&Self]) -> Self;
    fn len(&self) -> u64;
    fn and_len(&self, b: &Self) -> u64;
    fn andnot_len(&self, b: &Self) -> u64;
    fn or_len(&self, b: &Self) -> u64;
}

impl Bits for Bitmap {
    fn and(a: &Self, b: &Self) -> Self {
        a.and(b)
    }
    fn andnot(a: &Self, b: &Self) -> Self {
        a.andnot(b)
    }
    fn and_assign(&mut self, b: &Self) {
        self.and_inplace(b);
    }
    fn andnot_assign(&mut self, b: &Self) {
        self.andnot_inplace(b);
    }
    fn union(all: &[&Self]) -> Self {
        Bitmap::fast_or(all)
    }
    fn len(&self) -> u64 {
        self.cardinality()
    }
    fn and_len(&self, b: &Self) -> u64 {
        self.and_cardinality(b)
    }
    fn andnot_len(&self, b: &Self) -> u64 {
        self.andnot_cardinality(b)
    }
    fn or_len(&self, b: &Self) -> u64 {
        self.or_cardinality(b)
    }
}

impl Bits for RoaringBitmap {
    fn and(a: &Self, b: &Self) -> Self {
        a & b
    }
    fn andnot(a: &Self, b: &Self) -> Self {
        a - b
    }
    fn and_assign(&mut self, b: &Self) {
        *self &= b;
    }
    fn andnot_assign(&mut self, b: &Self) {
        *self -= b;
    }
    fn union(all: &[&Self]) -> Self {
        match all {
            [] => RoaringBitmap::new(),
            [a] => (*a).clone(),
            [a, b, rest @ ..] => rest.iter().fold(*a | *b, |mut acc, x| {
                acc |= *x;
                acc
            }),
        }
    }
    fn len(&self) -> u64 {
        RoaringBitmap::len(self)
    }
    fn and_len(&self, b: &Self) -> u64 {
        self.intersection_len(b)
    }
    fn andnot_len(&self, b: &Self) -> u64 {
        self.difference_len(b)
    }
    fn or_len(&self, b: &Self) -> u64 {
        self.union_len(b)
    }
}

/// A rule resolved to bitmap indices, so evaluation walks no JSON and hashes no names.
#[derive(Debug, Clone)]
pub enum Node {
    /// OR of these tag values (one value: the bitmap itself).
    Tag(Vec<usize>),
    /// Plain members, then negated members (applied as differences).
    All {
        plain: Vec<Node>,
        nots: Vec<Node>,
    },
    Any(Vec<Node>),
    Not(Box<Node>),
}

impl Node {
    /// Resolves rule JSON against tag keys (`<group>=<value>`).
    pub fn parse(rule: &Value, index: &HashMap<String, usize>) -> Result<Node, String> {
        if let Some(group) = rule.get("tag").and_then(Value::as_str) {
            let values = rule["in"].as_array().ok_or("tag without in")?;
            let ids = values
                .iter()
                .map(|v| {
                    let key = format!("{group}={}", v.as_str().unwrap_or_default());
                    index.get(&key).copied().ok_or(format!("unknown tag {key}"))
                })
                .collect::<Result<_, _>>()?;
            return Ok(Node::Tag(ids));
        }
        if let Some(members) = rule.get("all").and_then(Value::as_array) {
            let (mut plain, mut nots) = (Vec::new(), Vec::new());
            for m in members {
                match m.get("not") {
                    Some(inner) => nots.push(Node::parse(inner, index)?),
                    None => plain.push(Node::parse(m, index)?),
                }
            }
            return Ok(Node::All { plain, nots });
        }
        if let Some(members) = rule.get("any").and_then(Value::as_array) {
            return Ok(Node::Any(members.iter().map(|m| Node::parse(m, index)).collect::<Result<_, _>>()?));
        }
        if let Some(inner) = rule.get("not") {
            return Ok(Node::Not(Box::new(Node::parse(inner, index)?)));
        }
        Err(format!("unsupported rule node {rule}"))
    }
}

/// One peer's loaded bitmaps: tag values by index, and the universe for a top-level `not`.
#[derive(Debug)]
pub struct Env<B> {
    pub tags: Vec<B>,
    pub universe: B,
}

impl<B: Bits> Env<B> {
    fn eval<'a>(&'a self, node: &Node) -> Cow<'a, B> {
        match node {
            Node::Tag(ids) if ids.len() == 1 => Cow::Borrowed(&self.tags[ids[0]]),
            Node::Tag(ids) => Cow::Owned(B::union(&ids.iter().map(|&i| &self.tags[i]).collect::<Vec<_>>())),
            Node::Any(members) => {
                let parts: Vec<Cow<B>> = members.iter().map(|m| self.eval(m)).collect();
                Cow::Owned(B::union(&parts.iter().map(|p| p.as_ref()).collect::<Vec<_>>()))
            }
            Node::Not(inner) => Cow::Owned(B::andnot(&self.universe, &self.eval(inner))),
            Node::All { plain, nots } => {
                let ops: Vec<(bool, &Node)> =
                    plain.iter().map(|n| (false, n)).chain(nots.iter().map(|n| (true, n))).collect();
                self.fold(&ops)
            }
        }
    }

    /// ANDs `ops` (negated ones as differences) left to right.
    fn fold<'a>(&'a self, ops: &[(bool, &Node)]) -> Cow<'a, B> {
        let mut acc: Cow<B> = Cow::Borrowed(&self.universe);
        for (i, &(negated, node)) in ops.iter().enumerate() {
            let x = self.eval(node);
            acc = match (i, negated, acc) {
                (0, false, _) => x,
                (_, false, Cow::Borrowed(a)) => Cow::Owned(B::and(a, &x)),
                (_, true, Cow::Borrowed(a)) => Cow::Owned(B::andnot(a, &x)),
                (_, false, Cow::Owned(mut a)) => {
                    a.and_assign(&x);
                    Cow::Owned(a)
                }
                (_, true, Cow::Owned(mut a)) => {
                    a.andnot_assign(&x);
                    Cow::Owned(a)
                }
            };
        }
        acc
    }

    /// Users matching the rule; the last operation is a count-only call where the API has one.
    pub fn count(&self, node: &Node) -> u64 {
        match node {
            Node::All { plain, nots } => {
                let mut ops: Vec<(bool, &Node)> =
                    plain.iter().map(|n| (false, n)).chain(nots.iter().map(|n| (true, n))).collect();
                let Some((negated, last)) = ops.pop() else { return self.universe.len() };
                let acc = self.fold(&ops);
                let x = self.eval(last);
                if negated { acc.andnot_len(&x) } else { acc.and_len(&x) }
            }
            Node::Any(members) if members.len() == 2 => self.eval(&members[0]).or_len(&self.eval(&members[1])),
            Node::Not(inner) => self.universe.andnot_len(&self.eval(inner)),
            _ => self.eval(node).len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn env<B: Bits>(make: impl Fn(&[u32]) -> B) -> Env<B> {
        Env {
            tags: vec![make(&[1, 2, 3, 4]), make(&[3, 4, 5]), make(&[4, 9])],
            universe: make(&(0..10).collect::<Vec<_>>()),
        }
    }

    #[test]
    fn both_peers_count_like_set_algebra() {
        let index: HashMap<String, usize> =
            [("a=true", 0), ("b=true", 1), ("c=true", 2)].into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        let cases = [
            (json!({"all":[{"tag":"a","in":["true"]},{"tag":"b","in":["true"]}]}), 2),
            (json!({"any":[{"tag":"a","in":["true"]},{"tag":"c","in":["true"]}]}), 5),
            (json!({"all":[{"tag":"a","in":["true"]},{"not":{"tag":"b","in":["true"]}}]}), 2),
            (
                json!({"all":[{"any":[{"tag":"b","in":["true"]},{"tag":"c","in":["true"]}]},{"not":{"tag":"a","in":["true"]}}]}),
                2,
            ),
            (json!({"not":{"tag":"a","in":["true"]}}), 6),
            (json!({"all":[{"tag":"a","in":["true"]},{"tag":"b","in":["true"]},{"tag":"c","in":["true"]}]}), 1),
        ];
        let c = env(Bitmap::of);
        let r = env(|ids: &[u32]| ids.iter().copied().collect::<RoaringBitmap>());
        for (rule, want) in cases {
            let node = Node::parse(&rule, &index).expect("valid");
            assert_eq!(c.count(&node), want, "croaring {rule}");
            assert_eq!(r.count(&node), want, "roaring-rs {rule}");
        }
    }
}
