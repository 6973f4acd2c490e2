//! The audience being edited: a tree of conditions under a top-level `all`, with the edits the
//! builder offers (add, remove, move, negate, set values) addressed by index paths. Plain
//! Rust, tested natively; converts to and from the engine's [`Rule`].

use engine::Rule;

/// How a group combines its members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Every member holds.
    All,
    /// At least one member holds.
    Any,
}

impl Op {
    /// The word shown for the group.
    pub const fn label(self) -> &'static str {
        match self {
            Op::All => "all of",
            Op::Any => "any of",
        }
    }
}

/// What a condition tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A nested group.
    Group(Op, Vec<Cond>),
    /// The user holds one of these values of a tag group (no values: not chosen yet).
    Tag {
        /// Tag group name (empty: not chosen yet).
        group: String,
        /// Chosen values.
        values: Vec<String>,
    },
    /// The user is a member of a segment (empty: not chosen yet).
    Segment(String),
}

/// One condition, possibly negated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cond {
    /// What it tests.
    pub node: Node,
    /// Whether it is wrapped in `not`.
    pub negated: bool,
}

impl Cond {
    /// A tag condition.
    pub fn tag(group: &str, values: &[&str]) -> Cond {
        Cond {
            node: Node::Tag { group: group.to_owned(), values: values.iter().map(|v| (*v).to_owned()).collect() },
            negated: false,
        }
    }

    /// An empty group.
    pub fn group(op: Op) -> Cond {
        Cond { node: Node::Group(op, Vec::new()), negated: false }
    }

    /// Whether the condition says something (values chosen; groups with a complete member).
    pub fn is_complete(&self) -> bool {
        match &self.node {
            Node::Group(_, children) => children.iter().any(Cond::is_complete),
            Node::Tag { group, values } => !group.is_empty() && !values.is_empty(),
            Node::Segment(id) => !id.is_empty(),
        }
    }

    /// The condition as a rule, leaving out incomplete members; `None` when incomplete.
    pub fn to_rule(&self) -> Option<Rule> {
        if !self.is_complete() {
            return None;
        }
        let inner = match &self.node {
            Node::Group(op, children) => {
                let members: Vec<Rule> = children.iter().filter_map(Cond::to_rule).collect();
                match op {
                    Op::All => Rule::All(members),
                    Op::Any => Rule::Any(members),
                }
            }
            Node::Tag { group, values } => Rule::Tag { tag: group.clone(), values: values.clone() },
            Node::Segment(id) => Rule::Segment(id.clone()),
        };
        Some(if self.negated { Rule::Not(Box::new(inner)) } else { inner })
    }

    /// A condition from a rule.
    pub fn from_rule(rule: &Rule) -> Cond {
        match rule {
            Rule::All(members) => {
                Cond { node: Node::Group(Op::All, members.iter().map(Cond::from_rule).collect()), negated: false }
            }
            Rule::Any(members) => {
                Cond { node: Node::Group(Op::Any, members.iter().map(Cond::from_rule).collect()), negated: false }
            }
            Rule::Not(inner) => {
                let mut cond = Cond::from_rule(inner);
                if cond.negated {
                    // not(not(x)): keep the shape by wrapping in a one-member group.
                    cond = Cond { node: Node::Group(Op::All, vec![cond]), negated: true };
                } else {
                    cond.negated = true;
                }
                cond
            }
            Rule::Tag { tag, values } => {
                Cond { node: Node::Tag { group: tag.clone(), values: values.clone() }, negated: false }
            }
            Rule::Segment(id) => Cond { node: Node::Segment(id.clone()), negated: false },
        }
    }

    /// A one-line description: `gender: female, male`, `not segment vip`, `any of 2 conditions`.
    ///
    /// ```
    /// use app::draft::Cond;
    /// let mut c = Cond::tag("province", &["Guangdong", "Zhejiang"]);
    /// assert_eq!(c.summary(), "province: Guangdong, Zhejiang");
    /// c.negated = true;
    /// assert_eq!(c.summary(), "not province: Guangdong, Zhejiang");
    /// ```
    pub fn summary(&self) -> String {
        let body = match &self.node {
            Node::Group(op, children) => {
                let n = children.iter().filter(|c| c.is_complete()).count();
                let parts: Vec<String> = children.iter().filter(|c| c.is_complete()).map(Cond::summary).collect();
                if n <= 2 && !parts.is_empty() {
                    format!("{} ({})", op.label(), parts.join("; "))
                } else {
                    format!("{} {n} conditions", op.label())
                }
            }
            Node::Tag { group, values } if values.is_empty() => {
                if group.is_empty() {
                    "choose a tag".to_owned()
                } else {
                    format!("{group}: choose values")
                }
            }
            Node::Tag { group, values } => format!("{group}: {}", values.join(", ")),
            Node::Segment(id) if id.is_empty() => "choose a segment".to_owned(),
            Node::Segment(id) => format!("segment {id}"),
        };
        if self.negated { format!("not {body}") } else { body }
    }
}

/// The audience: conditions that must all hold.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Draft {
    /// Top-level conditions, in the user's order (the funnel follows it).
    pub conds: Vec<Cond>,
}

/// The rule of a draft and, for each top-level member of its `all`, the index of the draft
/// condition it came from (incomplete conditions are left out of the rule).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compiled {
    /// The rule (always an `all`).
    pub rule: Rule,
    /// `sources[i]` is the draft index of `all[i]`.
    pub sources: Vec<usize>,
}

impl Draft {
    /// The draft as a rule.
    ///
    /// ```
    /// use app::draft::{Cond, Draft};
    /// let d = Draft { conds: vec![Cond::tag("gender", &["female"]), Cond::tag("city", &[])] };
    /// let c = d.compile();
    /// assert_eq!(c.rule.to_json().to_string(), r#"{"all":[{"tag":"gender","in":["female"]}]}"#);
    /// assert_eq!(c.sources, [0]);
    /// ```
    pub fn compile(&self) -> Compiled {
        let mut rules = Vec::new();
        let mut sources = Vec::new();
        for (i, cond) in self.conds.iter().enumerate() {
            if let Some(rule) = cond.to_rule() {
                rules.push(rule);
                sources.push(i);
            }
        }
        Compiled { rule: Rule::All(rules), sources }
    }

    /// A draft from a rule: the members of a top-level `all`, or the rule as its only condition.
    pub fn from_rule(rule: &Rule) -> Draft {
        match rule {
            Rule::All(members) => Draft { conds: members.iter().map(Cond::from_rule).collect() },
            other => Draft { conds: vec![Cond::from_rule(other)] },
        }
    }

    /// The condition at `path` (indices through nested groups).
    pub fn get(&self, path: &[usize]) -> Option<&Cond> {
        let (first, rest) = path.split_first()?;
        let mut cond = self.conds.get(*first)?;
        for &i in rest {
            match &cond.node {
                Node::Group(_, children) => cond = children.get(i)?,
                _ => return None,
            }
        }
        Some(cond)
    }

    /// The condition at `path`, mutably.
    pub fn get_mut(&mut self, path: &[usize]) -> Option<&mut Cond> {
        let (first, rest) = path.split_first()?;
        let mut cond = self.conds.get_mut(*first)?;
        for &i in rest {
            match &mut cond.node {
                Node::Group(_, children) => cond = children.get_mut(i)?,
                _ => return None,
            }
        }
        Some(cond)
    }

    /// The member list of the group at `group` (empty path: the top level).
    fn members_mut(&mut self, group: &[usize]) -> Option<&mut Vec<Cond>> {
        if group.is_empty() {
            return Some(&mut self.conds);
        }
        match &mut self.get_mut(group)?.node {
            Node::Group(_, children) => Some(children),
            _ => None,
        }
    }

    /// Appends `cond` to the group at `group`; returns the new condition's path.
    ///
    /// ```
    /// use app::draft::{Cond, Draft, Op};
    /// let mut d = Draft::default();
    /// let g = d.add(&[], Cond::group(Op::Any)).unwrap();
    /// let c = d.add(&g, Cond::tag("city", &["Hangzhou"])).unwrap();
    /// assert_eq!(c, [0, 0]);
    /// ```
    pub fn add(&mut self, group: &[usize], cond: Cond) -> Option<Vec<usize>> {
        let members = self.members_mut(group)?;
        members.push(cond);
        let mut path = group.to_vec();
        path.push(members.len() - 1);
        Some(path)
    }

    /// Removes the condition at `path`; returns it.
    pub fn remove(&mut self, path: &[usize]) -> Option<Cond> {
        let (last, parent) = path.split_last()?;
        let members = self.members_mut(parent)?;
        (*last < members.len()).then(|| members.remove(*last))
    }

    /// Moves the condition at `path` up (`-1`) or down (`+1`) within its group; returns its new
    /// path, or `None` when it cannot move that way.
    pub fn move_by(&mut self, path: &[usize], delta: isize) -> Option<Vec<usize>> {
        let (last, parent) = path.split_last()?;
        let members = self.members_mut(parent)?;
        let to = last.checked_add_signed(delta)?;
        if to >= members.len() || *last >= members.len() {
            return None;
        }
        members.swap(*last, to);
        let mut new_path = parent.to_vec();
        new_path.push(to);
        Some(new_path)
    }

    /// Negates (or un-negates) the condition at `path`.
    pub fn toggle_not(&mut self, path: &[usize]) -> bool {
        match self.get_mut(path) {
            Some(cond) => {
                cond.negated = !cond.negated;
                true
            }
            None => false,
        }
    }

    /// Switches the group at `path` between all and any.
    pub fn toggle_op(&mut self, path: &[usize]) -> bool {
        match self.get_mut(path).map(|c| &mut c.node) {
            Some(Node::Group(op, _)) => {
                *op = if *op == Op::All { Op::Any } else { Op::All };
                true
            }
            _ => false,
        }
    }

    /// Turns the condition at `path` into a tag condition on `group` (values cleared when the
    /// group changes).
    pub fn set_group(&mut self, path: &[usize], group: &str) {
        if let Some(cond) = self.get_mut(path) {
            match &mut cond.node {
                Node::Tag { group: g, .. } if g == group => {}
                node => *node = Node::Tag { group: group.to_owned(), values: Vec::new() },
            }
        }
    }

    /// Turns the condition at `path` into a segment condition.
    pub fn set_segment(&mut self, path: &[usize], id: &str) {
        if let Some(cond) = self.get_mut(path) {
            cond.node = Node::Segment(id.to_owned());
        }
    }

    /// Adds or removes one value of the tag condition at `path`, keeping `order` (the
    /// group's value order from the manifest).
    pub fn toggle_value(&mut self, path: &[usize], value: &str, order: &[String]) {
        if let Some(Cond { node: Node::Tag { values, .. }, .. }) = self.get_mut(path) {
            if let Some(i) = values.iter().position(|v| v == value) {
                values.remove(i);
            } else {
                values.push(value.to_owned());
                values.sort_by_key(|v| order.iter().position(|o| o == v).unwrap_or(usize::MAX));
            }
        }
    }
}

/// A path as text for `data-path` attributes and element ids: `0-2-1`.
///
/// ```
/// assert_eq!(app::draft::path_key(&[0, 2, 1]), "0-2-1");
/// ```
pub fn path_key(path: &[usize]) -> String {
    path.iter().map(usize::to_string).collect::<Vec<_>>().join("-")
}

/// A segment id from a name: lower-case ASCII letters and digits, other runs become `-`,
/// at most 64 characters (`[A-Za-z0-9._-]{1,64}` is what the server accepts).
///
/// ```
/// assert_eq!(app::draft::slug("Women in Guangdong, not active!"), "women-in-guangdong-not-active");
/// assert_eq!(app::draft::slug("广东女性"), "segment");
/// ```
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let mut out: String = out.trim_end_matches('-').chars().take(64).collect();
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() { "segment".to_owned() } else { out }
}

#[cfg(test)]
mod tests {
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
    fn double_negation_survives() {
        let rule = Rule::parse(r#"{"not":{"not":{"segment":"a"}}}"#).expect("parses");
        let d = Draft::from_rule(&rule);
        // not(not(x)) comes back as not(all(not(x))): the same users, and editable.
        assert_eq!(d.compile().rule.to_json().to_string(), r#"{"all":[{"not":{"all":[{"not":{"segment":"a"}}]}}]}"#);
    }
}
