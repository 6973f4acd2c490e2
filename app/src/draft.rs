//! The audience being edited: a tree of conditions under a top-level `all`, with the edits the
//! builder offers (add, remove, move, negate, set values) addressed by index paths. Plain
//! Rust, tested natively; converts to and from the engine's [`Rule`].

use engine::Rule;
use engine::bsi::Cmp;
use engine::rule::{Measure, Test};

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
    /// A numeric tag's value passes a test (`age` between 18 and 25).
    Number {
        /// Numeric tag group.
        group: String,
        /// The test, as typed.
        bounds: Bounds,
    },
    /// The user's activity in an event over the last days passes a test.
    Event {
        /// Event name.
        event: String,
        /// Window length in days, ending with the snapshot day.
        last_days: u32,
        /// Sum of counts or active days.
        measure: Measure,
        /// The test, as typed (whole numbers).
        bounds: Bounds,
    },
}

/// How a number is tested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoundOp {
    /// `lo ≤ x ≤ hi`.
    Between,
    /// `x cmp lo`.
    Compare(Cmp),
}

impl BoundOp {
    /// Every choice, in the order the builder offers them.
    pub const ALL: [BoundOp; 7] = [
        BoundOp::Between,
        BoundOp::Compare(Cmp::Ge),
        BoundOp::Compare(Cmp::Gt),
        BoundOp::Compare(Cmp::Le),
        BoundOp::Compare(Cmp::Lt),
        BoundOp::Compare(Cmp::Eq),
        BoundOp::Compare(Cmp::Ne),
    ];

    /// The wire key (`between`, `>=`): also the option value in the builder.
    pub const fn key(self) -> &'static str {
        match self {
            BoundOp::Between => "between",
            BoundOp::Compare(c) => c.symbol(),
        }
    }

    /// The operator shown (`between`, `≥`).
    pub const fn label(self) -> &'static str {
        match self {
            BoundOp::Between => "between",
            BoundOp::Compare(Cmp::Ge) => "≥",
            BoundOp::Compare(Cmp::Gt) => ">",
            BoundOp::Compare(Cmp::Le) => "≤",
            BoundOp::Compare(Cmp::Lt) => "<",
            BoundOp::Compare(Cmp::Eq) => "=",
            BoundOp::Compare(Cmp::Ne) => "≠",
        }
    }

    /// The choice with wire key `key`.
    pub fn from_key(key: &str) -> Option<BoundOp> {
        BoundOp::ALL.into_iter().find(|o| o.key() == key)
    }
}

/// A numeric test as typed in the builder: an operator and one or two numbers as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bounds {
    /// The operator.
    pub op: BoundOp,
    /// The constant (the low end for `between`).
    pub lo: String,
    /// The high end for `between` (unused otherwise).
    pub hi: String,
}

impl Bounds {
    /// `x op value`.
    pub fn compare(cmp: Cmp, value: &str) -> Bounds {
        Bounds { op: BoundOp::Compare(cmp), lo: value.to_owned(), hi: String::new() }
    }

    /// `lo ≤ x ≤ hi`.
    pub fn between(lo: &str, hi: &str) -> Bounds {
        Bounds { op: BoundOp::Between, lo: lo.to_owned(), hi: hi.to_owned() }
    }

    /// The engine's test; `None` while a number is missing or not a number (`whole`: only
    /// whole numbers ≥ 0, as event conditions take).
    ///
    /// ```
    /// use app::draft::Bounds;
    /// assert!(Bounds::between("18", "25").to_test(true).is_some());
    /// assert!(Bounds::between("18", "").to_test(true).is_none());
    /// assert!(Bounds::between("1.5", "3").to_test(true).is_none());
    /// assert!(Bounds::between("-1.5", "3").to_test(false).is_some());
    /// ```
    pub fn to_test(&self, whole: bool) -> Option<Test> {
        let number = |t: &str| normalize_number(t, whole);
        Some(match self.op {
            BoundOp::Between => Test::Between(number(&self.lo)?, number(&self.hi)?),
            BoundOp::Compare(c) => Test::Compare(c, number(&self.lo)?),
        })
    }

    /// The same numbers under another operator; switching to `between` starts the range at
    /// the one number there was.
    ///
    /// ```
    /// use app::draft::{BoundOp, Bounds};
    /// use engine::bsi::Cmp;
    /// let b = Bounds::compare(Cmp::Ge, "18").with_op(BoundOp::Between);
    /// assert_eq!(b, Bounds::between("18", "18"));
    /// ```
    pub fn with_op(&self, op: BoundOp) -> Bounds {
        let hi = if self.hi.trim().is_empty() { self.lo.clone() } else { self.hi.clone() };
        Bounds { op, lo: self.lo.clone(), hi }
    }

    /// The builder's form of an engine test.
    pub fn from_test(test: &Test) -> Bounds {
        match test {
            Test::Between(lo, hi) => Bounds::between(lo, hi),
            Test::Compare(c, v) => Bounds::compare(*c, v),
        }
    }

    /// `between 18 and 25`, `≥ 100`.
    pub fn summary(&self) -> String {
        let show = |t: &str| if t.trim().is_empty() { "…".to_owned() } else { t.trim().to_owned() };
        match self.op {
            BoundOp::Between => format!("between {} and {}", show(&self.lo), show(&self.hi)),
            op => format!("{} {}", op.label(), show(&self.lo)),
        }
    }
}

/// Typed text as the decimal text of a JSON number (`+007.50` → `7.50`); `None` when it is not
/// a plain decimal (or, with `whole`, not a whole number ≥ 0).
///
/// ```
/// use app::draft::normalize_number;
/// assert_eq!(normalize_number(" +007.50 ", false).as_deref(), Some("7.50"));
/// assert_eq!(normalize_number("-0.5", false).as_deref(), Some("-0.5"));
/// assert_eq!(normalize_number(".5", false).as_deref(), Some("0.5"));
/// assert_eq!(normalize_number("1e3", false), None);
/// assert_eq!(normalize_number("3", true).as_deref(), Some("3"));
/// assert_eq!(normalize_number("-3", true), None);
/// ```
pub fn normalize_number(text: &str, whole: bool) -> Option<String> {
    let t = text.trim();
    let (negative, digits) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let plain = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !plain(int) || !plain(frac) || digits.ends_with('.') {
        return None;
    }
    if whole && (negative || !frac.is_empty()) {
        return None;
    }
    let int = int.trim_start_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    let sign = if negative && (int != "0" || frac.bytes().any(|b| b != b'0')) { "-" } else { "" };
    Some(if frac.is_empty() { format!("{sign}{int}") } else { format!("{sign}{int}.{frac}") })
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
            Node::Number { group, bounds } => !group.is_empty() && bounds.to_test(false).is_some(),
            Node::Event { event, bounds, .. } => !event.is_empty() && bounds.to_test(true).is_some(),
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
            Node::Number { group, bounds } => Rule::Number { tag: group.clone(), test: bounds.to_test(false)? },
            Node::Event { event, last_days, measure, bounds } => Rule::Event {
                event: event.clone(),
                last_days: *last_days,
                measure: *measure,
                test: bounds.to_test(true)?,
            },
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
            Rule::Number { tag, test } => {
                Cond { node: Node::Number { group: tag.clone(), bounds: Bounds::from_test(test) }, negated: false }
            }
            Rule::Event { event, last_days, measure, test } => Cond {
                node: Node::Event {
                    event: event.clone(),
                    last_days: *last_days,
                    measure: *measure,
                    bounds: Bounds::from_test(test),
                },
                negated: false,
            },
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
            Node::Number { group, bounds } => format!("{group} {}", bounds.summary()),
            Node::Event { event, last_days, measure: Measure::Count, bounds } => {
                format!("{event} count {} in the last {last_days} days", bounds.summary())
            }
            Node::Event { event, last_days, measure: Measure::Days, bounds } => {
                format!("{event} on {} of the last {last_days} days", bounds.summary())
            }
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

    /// Turns the condition at `path` into a numeric condition on `group` (the test is kept when
    /// the group does not change; otherwise `between lo and hi`, the column's range).
    pub fn set_number(&mut self, path: &[usize], group: &str, lo: &str, hi: &str) {
        if let Some(cond) = self.get_mut(path) {
            match &mut cond.node {
                Node::Number { group: g, .. } if g == group => {}
                node => *node = Node::Number { group: group.to_owned(), bounds: Bounds::between(lo, hi) },
            }
        }
    }

    /// Turns the condition at `path` into an event condition on `event` (window and test kept
    /// when it already is one; otherwise `count ≥ 1 in the last 7 days`).
    pub fn set_event(&mut self, path: &[usize], event: &str) {
        if let Some(cond) = self.get_mut(path) {
            match &mut cond.node {
                Node::Event { event: e, .. } => event.clone_into(e),
                node => {
                    *node = Node::Event {
                        event: event.to_owned(),
                        last_days: 7,
                        measure: Measure::Count,
                        bounds: Bounds::compare(Cmp::Ge, "1"),
                    }
                }
            }
        }
    }

    /// Sets the test of the numeric or event condition at `path`.
    pub fn set_bounds(&mut self, path: &[usize], new: Bounds) {
        if let Some(Cond { node: Node::Number { bounds, .. } | Node::Event { bounds, .. }, .. }) = self.get_mut(path) {
            *bounds = new;
        }
    }

    /// Sets the window and the measure of the event condition at `path`.
    pub fn set_window(&mut self, path: &[usize], days: u32, how: Measure) {
        if let Some(Cond { node: Node::Event { last_days, measure, .. }, .. }) = self.get_mut(path) {
            *last_days = days.clamp(1, engine::rule::MAX_WINDOW_DAYS);
            *measure = how;
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
mod tests;
