//! The Compare page's logic (issue 16): its choices in the address (audiences A and B, up to
//! three more sets for the overlap, a tag group), the sizes of A and B and their overlap from
//! the overlap's regions, and the distribution of a group in A and in B with the difference,
//! A's TGI against B and differences beyond chance; CSV of each table. Plain Rust, tested
//! natively.

use wire::{Overlap, Pivot, PivotRequest};

use crate::analysis::{audience_rule, count_field, number_field, set_ref, some};
use crate::session::{encode_component, parse_query};

/// The most sets the overlap takes (A, B and three more).
pub const MAX_SETS: usize = engine::analysis::overlap::MAX_SETS;

/// The address keys of the sets after A and B.
const MORE_KEYS: [&str; MAX_SETS - 2] = ["c", "d", "e"];

/// The Compare page's choices, all in its address: two audiences (saved segments or rules), up
/// to three more sets for the overlap chart, and a tag group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompareChoice {
    /// Audience A (a segment id, or a rule in JSON).
    pub a: Option<String>,
    /// Audience B.
    pub b: Option<String>,
    /// More sets in the overlap (`c`, `d`, `e` in the address), in order.
    pub more: Vec<String>,
    /// The tag group whose distribution is compared.
    pub group: Option<String>,
}

impl CompareChoice {
    /// Reads the choice from a query string.
    pub fn from_query(query: &str) -> CompareChoice {
        let mut c = CompareChoice::default();
        for (key, value) in parse_query(query) {
            match key.as_str() {
                "a" => c.a = some(value),
                "b" => c.b = some(value),
                "group" => c.group = some(value),
                k if MORE_KEYS.contains(&k) => c.more.extend(some(value)),
                _ => {}
            }
        }
        c
    }

    /// The page's address.
    ///
    /// ```
    /// use app::compare::CompareChoice;
    /// let c = CompareChoice { a: Some("vip".into()), b: Some("new users".into()), more: vec!["lapsed".into()], group: Some("gender".into()) };
    /// assert_eq!(c.to_url(), "/compare?a=vip&b=new%20users&c=lapsed&group=gender");
    /// assert_eq!(CompareChoice::from_query(c.to_url().trim_start_matches("/compare")), c);
    /// ```
    pub fn to_url(&self) -> String {
        let more = MORE_KEYS.iter().zip(&self.more).map(|(k, v)| (*k, Some(v)));
        let parts: Vec<String> = [("a", self.a.as_ref()), ("b", self.b.as_ref())]
            .into_iter()
            .chain(more)
            .chain([("group", self.group.as_ref())])
            .filter_map(|(k, v)| v.map(|v| format!("{k}={}", encode_component(v))))
            .collect();
        format!("/compare?{}", parts.join("&"))
    }

    /// Every set of the overlap, in order: A, B, then the others.
    pub fn sets(&self) -> Option<Vec<String>> {
        let (a, b) = (self.a.clone()?, self.b.clone()?);
        Some([a, b].into_iter().chain(self.more.iter().take(MAX_SETS - 2).cloned()).collect())
    }

    /// The overlap request of every set on `ds`.
    pub fn overlap(&self, ds: &str) -> Option<wire::OverlapRequest> {
        Some(wire::OverlapRequest {
            ds: Some(ds.to_owned()),
            segments: self.sets()?.iter().map(|s| set_ref(s)).collect(),
        })
    }

    /// Sets the `i`-th set after A and B (`None` removes it and those after it).
    pub fn set_more(&mut self, i: usize, value: Option<String>) {
        match value {
            Some(v) if i < self.more.len() => self.more[i] = v,
            Some(v) => self.more.push(v),
            None => self.more.truncate(i),
        }
    }

    /// The distribution of the group within `segment` on `ds`: the group crossed with itself
    /// within the segment, whose diagonal is each value's users in the segment.
    pub fn distribution(&self, ds: &str, segment: &str) -> Option<PivotRequest> {
        let group = self.group.clone()?;
        Some(PivotRequest {
            ds: Some(ds.to_owned()),
            rows: group.clone(),
            columns: group,
            audience: Some(audience_rule(segment)),
        })
    }
}

/// The users of the regions (by mask from 1, set `i` is bit `i`) whose mask passes `keep`,
/// summed; `None` when one of them is withheld.
fn regions_sum(o: &Overlap, keep: impl Fn(u32) -> bool) -> Option<u64> {
    (1u32..).zip(&o.regions).filter(|(mask, _)| keep(*mask)).map(|(_, r)| r.count).sum()
}

/// A and B compared through the overlap's regions (with other sets in it too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PairSizes {
    /// Users in A.
    pub a: Option<u64>,
    /// Users in B.
    pub b: Option<u64>,
    /// In A, not in B.
    pub only_a: Option<u64>,
    /// In both.
    pub both: Option<u64>,
    /// In B, not in A.
    pub only_b: Option<u64>,
}

/// A and B's sizes and overlap from the overlap's regions (sets 0 and 1; `None` where a region
/// it needs is withheld).
///
/// ```
/// use app::compare::pair_sizes;
/// // Three sets: regions A, B, AB, C, AC, BC, ABC.
/// let regions: Vec<_> = (1..=7).map(|n| serde_json::json!({"in": [], "count": n})).collect();
/// let o: wire::Overlap = serde_json::from_value(serde_json::json!({"ds": "d", "regions": regions})).unwrap();
/// let p = pair_sizes(&o);
/// assert_eq!((p.a, p.b, p.only_a, p.both, p.only_b), (Some(1 + 3 + 5 + 7), Some(2 + 3 + 6 + 7), Some(1 + 5), Some(3 + 7), Some(2 + 6)));
/// ```
pub fn pair_sizes(o: &Overlap) -> PairSizes {
    let (a, b) = (1, 2);
    PairSizes {
        a: regions_sum(o, |m| m & a != 0),
        b: regions_sum(o, |m| m & b != 0),
        only_a: regions_sum(o, |m| m & a != 0 && m & b == 0),
        both: regions_sum(o, |m| m & a != 0 && m & b != 0),
        only_b: regions_sum(o, |m| m & a == 0 && m & b != 0),
    }
}

/// Each set's size from the overlap's regions.
pub fn set_sizes(o: &Overlap, sets: usize) -> Vec<Option<u64>> {
    (0..sets).map(|i| regions_sum(o, |m| m & (1 << i) != 0)).collect()
}

/// Each value's users in the audience: the diagonal of a group crossed with itself.
pub fn diagonal(p: &Pivot) -> Vec<(String, Option<u64>)> {
    p.rows
        .iter()
        .enumerate()
        .map(|(i, v)| (v.clone(), p.counts.get(i).and_then(|r| r.get(i)).copied().flatten()))
        .collect()
}

/// One value compared in A and B.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareRow {
    /// The value.
    pub value: String,
    /// Users of A with it, and their share of A.
    pub a: (Option<u64>, Option<f64>),
    /// Users of B with it, and their share of B.
    pub b: (Option<u64>, Option<f64>),
    /// Share in A minus share in B.
    pub difference: Option<f64>,
    /// A's TGI against B: 100 × share in A / share in B.
    pub tgi: Option<f64>,
    /// The difference is beyond chance: the 95% interval of the difference of the two rates
    /// (Newcombe's, `engine::stats::difference`, as the split page's outcomes) leaves out 0.
    pub beyond_chance: bool,
}

/// The rows comparing a group's distribution in A (`a_total` users) and B.
///
/// ```
/// use app::compare::compare_rows;
/// let a = vec![("x".to_owned(), Some(600)), ("y".to_owned(), Some(400))];
/// let b = vec![("x".to_owned(), Some(400)), ("y".to_owned(), Some(600))];
/// let rows = compare_rows(&a, Some(1000), &b, Some(1000));
/// assert!((rows[0].tgi.unwrap() - 150.0).abs() < 1e-9);
/// assert!(rows[0].beyond_chance);
/// ```
pub fn compare_rows(
    a: &[(String, Option<u64>)],
    a_total: Option<u64>,
    b: &[(String, Option<u64>)],
    b_total: Option<u64>,
) -> Vec<CompareRow> {
    a.iter()
        .map(|(value, a_count)| {
            let b_count = b.iter().find(|(v, _)| v == value).and_then(|(_, c)| *c);
            let (sa, sb) = (engine::analysis::ratio(*a_count, a_total), engine::analysis::ratio(b_count, b_total));
            let beyond_chance = match (a_count, a_total, b_count, b_total) {
                (Some(ka), Some(na), Some(kb), Some(nb)) if na > 0 && nb > 0 => {
                    let d = engine::stats::difference(engine::stats::rate(*ka, na), engine::stats::rate(kb, nb));
                    d.lo > 0.0 || d.hi < 0.0
                }
                _ => false,
            };
            CompareRow {
                value: value.clone(),
                a: (*a_count, sa),
                b: (b_count, sb),
                difference: sa.zip(sb).map(|(x, y)| x - y),
                tgi: match (sa, sb) {
                    (Some(x), Some(y)) if y > 0.0 => Some(100.0 * x / y),
                    _ => None,
                },
                beyond_chance,
            }
        })
        .collect()
}

/// The Compare page's sizes as CSV: A, B, only A, both, only B (withheld counts empty).
///
/// ```
/// let p = app::compare::PairSizes { a: Some(5), b: Some(4), only_a: Some(3), both: Some(2), only_b: None };
/// assert_eq!(app::compare::compare_sizes_csv(&p), "a,b,only_a,both,only_b\r\n5,4,3,2,\r\n");
/// ```
pub fn compare_sizes_csv(p: &PairSizes) -> String {
    let header = ["a", "b", "only_a", "both", "only_b"].map(str::to_owned).to_vec();
    let row = [p.a, p.b, p.only_a, p.both, p.only_b].map(count_field).to_vec();
    crate::csv::table(&[header, row])
}

/// The overlap's regions as CSV: one line per region, the sets it is in (named as on the page)
/// and its users.
///
/// ```
/// let o: wire::Overlap = serde_json::from_value(serde_json::json!({"ds": "d", "regions":
///     [{"in": ["x"], "count": 3}, {"in": ["y"], "count": null, "suppressed": true}, {"in": ["x", "y"], "count": 1}]})).unwrap();
/// assert_eq!(app::compare::regions_csv(&o, &["A".into(), "B".into()]),
///     "region,users\r\nA only,3\r\nB only,\r\nA & B,1\r\n");
/// ```
pub fn regions_csv(o: &Overlap, names: &[String]) -> String {
    let mut table = vec![vec!["region".to_owned(), "users".to_owned()]];
    for (mask, r) in (1u32..).zip(&o.regions) {
        table.push(vec![region_name(names, mask), count_field(r.count)]);
    }
    crate::csv::table(&table)
}

/// A region's name from its mask: `A only`, `A & C`.
///
/// ```
/// let names = ["A".to_owned(), "B".to_owned(), "C".to_owned()];
/// assert_eq!(app::compare::region_name(&names, 0b101), "A & C");
/// assert_eq!(app::compare::region_name(&names, 0b010), "B only");
/// ```
pub fn region_name(names: &[String], mask: u32) -> String {
    let inside: Vec<&str> =
        names.iter().enumerate().filter(|(i, _)| mask & (1 << i) != 0).map(|(_, n)| n.as_str()).collect();
    match inside.as_slice() {
        [one] => format!("{one} only"),
        many => many.join(" & "),
    }
}

/// The Compare page's distribution as CSV: one line per value of `group`.
///
/// ```
/// use app::compare::{compare_rows, compare_rows_csv};
/// let rows = compare_rows(&[("x".to_owned(), Some(6))], Some(10), &[("x".to_owned(), Some(3))], Some(10));
/// assert!(compare_rows_csv(&rows, "plan").starts_with("plan,a_users,a_share,b_users,b_share,difference,tgi_a_vs_b,beyond_chance\r\nx,6,0.6,3,0.3,"));
/// ```
pub fn compare_rows_csv(rows: &[CompareRow], group: &str) -> String {
    let mut table = vec![
        [group, "a_users", "a_share", "b_users", "b_share", "difference", "tgi_a_vs_b", "beyond_chance"]
            .map(str::to_owned)
            .to_vec(),
    ];
    for r in rows {
        table.push(vec![
            r.value.clone(),
            count_field(r.a.0),
            number_field(r.a.1),
            count_field(r.b.0),
            number_field(r.b.1),
            number_field(r.difference),
            number_field(r.tgi),
            r.beyond_chance.to_string(),
        ]);
    }
    crate::csv::table(&table)
}
