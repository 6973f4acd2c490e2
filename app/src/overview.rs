//! The Overview page's decisions: which tag groups are the app's fixed populations, their sizes
//! over the retained days (from each day's manifest), the segments that moved most since the
//! previous day, how fresh each group is, and the page's address. Plain Rust, tested natively.
//!
//! **Populations.** A population is a boolean tag group whose name starts with `active_` or
//! `paid_` and that has a `true` value (the demo's and most apps' `active_1d/7d/30d/180d`,
//! `paid_1d/7d/30d`): its members are the users holding `true`. They are listed activity first,
//! then payment, each by its window (`1d` before `7d`), then by name.

use engine::Manifest;
use engine::catalog::TagKind;
use engine::ds::Ds;
use engine::manifest::GroupEntry;

use crate::session::encode_component;

/// Prefixes of the names of population groups.
pub const POPULATION_PREFIXES: [&str; 2] = ["active_", "paid_"];

/// Whether a group is one of the app's fixed populations.
///
/// ```
/// use app::overview::is_population;
/// use engine::catalog::TagKind;
/// use engine::manifest::{BlobRef, GroupEntry, ValueEntry};
/// let r = BlobRef { count: 1, blob: String::new(), bytes: 0 };
/// let v = ValueEntry { value: "true".into(), count: 1, full: r.clone(), sample: r };
/// let g = |name: &str, kind| GroupEntry { name: name.into(), kind, category: String::new(),
///     loaded_ds: "2026-01-01".into(), values: vec![v.clone()], numeric: None };
/// assert!(is_population(&g("active_7d", TagKind::Boolean)));
/// assert!(!is_population(&g("active_7d", TagKind::Categorical)));
/// assert!(!is_population(&g("vip", TagKind::Boolean)));
/// ```
pub fn is_population(group: &GroupEntry) -> bool {
    group.kind == TagKind::Boolean
        && POPULATION_PREFIXES.iter().any(|p| group.name.starts_with(p))
        && group.values.iter().any(|v| v.value == "true")
}

/// The window of a population's name in days (`active_7d` → 7, `paid_2w` → 14), for ordering.
fn window_days(name: &str) -> u64 {
    let tail = name.rsplit('_').next().unwrap_or_default();
    let digits: String = tail.chars().take_while(char::is_ascii_digit).collect();
    let n: u64 = digits.parse().unwrap_or(u64::MAX / 400);
    match &tail[digits.len()..] {
        "w" => n * 7,
        "m" => n * 30,
        "y" => n * 365,
        _ => n,
    }
}

/// The populations of a day, in display order.
pub fn populations(manifest: &Manifest) -> Vec<String> {
    let mut names: Vec<&GroupEntry> = manifest.groups.iter().filter(|g| is_population(g)).collect();
    names.sort_by_key(|g| {
        let prefix = POPULATION_PREFIXES.iter().position(|p| g.name.starts_with(p)).unwrap_or(usize::MAX);
        (prefix, window_days(&g.name), g.name.clone())
    });
    names.into_iter().map(|g| g.name.clone()).collect()
}

/// Who a row of the overview counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Population {
    /// Every user of the day (大盘).
    All,
    /// The users holding `true` in this boolean group.
    Group(String),
}

impl Population {
    /// The population named in an address (`all`, or a group name).
    pub fn from_key(key: &str) -> Population {
        if key.is_empty() || key == "all" { Population::All } else { Population::Group(key.to_owned()) }
    }

    /// Its name in an address.
    pub fn key(&self) -> &str {
        match self {
            Population::All => "all",
            Population::Group(g) => g,
        }
    }

    /// Its label on the page.
    pub fn label(&self) -> String {
        match self {
            Population::All => "All users".to_owned(),
            Population::Group(g) => g.clone(),
        }
    }

    /// Its size on a day (from the manifest: the universe, or the `true` value's count); `None`
    /// when the day lacks the group.
    ///
    /// ```
    /// # use app::overview::Population;
    /// # let m: engine::Manifest = serde_json::from_str(app::overview::EXAMPLE_MANIFEST).unwrap();
    /// assert_eq!(Population::All.size(&m), Some(100));
    /// assert_eq!(Population::Group("active_7d".into()).size(&m), Some(40));
    /// assert_eq!(Population::Group("paid_1d".into()).size(&m), None);
    /// ```
    pub fn size(&self, manifest: &Manifest) -> Option<u64> {
        match self {
            Population::All => Some(manifest.universe.count),
            Population::Group(g) => manifest.group(g)?.values.iter().find(|v| v.value == "true").map(|v| v.count),
        }
    }
}

/// A small manifest for examples and tests: 100 users, `active_7d` true for 40, `city`.
#[doc(hidden)]
pub const EXAMPLE_MANIFEST: &str = r#"{"format":1,"app":"a","ds":"2026-01-02",
"universe":{"count":100,"blob":"","bytes":0},
"sample":{"rate":64,"universe":{"count":2,"blob":"","bytes":0}},
"groups":[{"name":"active_7d","kind":"boolean","category":"","loaded_ds":"2026-01-02",
"values":[{"value":"true","count":40,"full":{"count":40,"blob":"","bytes":0},"sample":{"count":1,"blob":"","bytes":0}}]},
{"name":"city","kind":"categorical","category":"","loaded_ds":"2025-12-30",
"values":[{"value":"x","count":60,"full":{"count":60,"blob":"","bytes":0},"sample":{"count":1,"blob":"","bytes":0}}]}]}"#;

/// A segment's size on the day and the day before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mover {
    /// Segment id.
    pub id: String,
    /// Members the day before (`None`: not computed then).
    pub before: Option<u64>,
    /// Members on the day.
    pub after: u64,
}

impl Mover {
    /// The change in members (all of them when new).
    pub fn change(&self) -> i64 {
        i64::try_from(self.after).unwrap_or(i64::MAX) - i64::try_from(self.before.unwrap_or(0)).unwrap_or(i64::MAX)
    }

    /// The change relative to the day before (`None` when new or empty before).
    pub fn relative(&self) -> Option<f64> {
        self.before.filter(|&b| b > 0).map(|b| self.change() as f64 / b as f64)
    }
}

/// The segments of `today` by how much their size moved since `before` (the previous published
/// day's manifest, if any), largest absolute change first (ties by relative change, then id);
/// segments computed both days with no change come last.
///
/// ```
/// # let mut a: engine::Manifest = serde_json::from_str(app::overview::EXAMPLE_MANIFEST).unwrap();
/// # let r = |n| engine::manifest::BlobRef { count: n, blob: String::new(), bytes: 0 };
/// # let seg = |id: &str, n| engine::manifest::SegmentEntry { id: id.into(), revision: 1,
/// #     members: engine::manifest::TierRefs { full: r(n), sample: r(0) } };
/// let mut b = a.clone();
/// a.segments = vec![seg("x", 10), seg("y", 50)];
/// b.segments = vec![seg("x", 30), seg("y", 45), seg("z", 7)];
/// let m = app::overview::movers(Some(&a), &b);
/// assert_eq!(m.iter().map(|m| (m.id.as_str(), m.change())).collect::<Vec<_>>(), [("x", 20), ("z", 7), ("y", -5)]);
/// ```
pub fn movers(before: Option<&Manifest>, today: &Manifest) -> Vec<Mover> {
    let mut out: Vec<Mover> = today
        .segments
        .iter()
        .map(|s| Mover {
            id: s.id.clone(),
            before: before.and_then(|b| b.segment(&s.id)).map(|p| p.members.full.count),
            after: s.members.full.count,
        })
        .collect();
    out.sort_by(|a, b| {
        b.change()
            .unsigned_abs()
            .cmp(&a.change().unsigned_abs())
            .then(
                b.relative()
                    .map(f64::abs)
                    .unwrap_or(f64::INFINITY)
                    .total_cmp(&a.relative().map(f64::abs).unwrap_or(f64::INFINITY)),
            )
            .then(a.id.cmp(&b.id))
    });
    out
}

/// How fresh a group's data is on a day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Freshness {
    /// The group.
    pub group: String,
    /// The day its upload comes from.
    pub loaded_ds: String,
    /// Days between that upload and the day shown (0: uploaded for the day).
    pub days_behind: i32,
}

/// Every group's latest loaded day, stalest first (then by name).
///
/// ```
/// # let m: engine::Manifest = serde_json::from_str(app::overview::EXAMPLE_MANIFEST).unwrap();
/// let f = app::overview::freshness(&m);
/// assert_eq!((f[0].group.as_str(), f[0].days_behind), ("city", 3));
/// assert_eq!((f[1].group.as_str(), f[1].days_behind), ("active_7d", 0));
/// ```
pub fn freshness(manifest: &Manifest) -> Vec<Freshness> {
    let day = |ds: &str| ds.parse::<Ds>().ok().map(Ds::days_since_epoch);
    let today = day(&manifest.ds);
    let mut out: Vec<Freshness> = manifest
        .groups
        .iter()
        .map(|g| Freshness {
            group: g.name.clone(),
            loaded_ds: g.loaded_ds.clone(),
            days_behind: today.zip(day(&g.loaded_ds)).map_or(0, |(t, l)| t - l),
        })
        .collect();
    out.sort_by(|a, b| b.days_behind.cmp(&a.days_behind).then(a.group.cmp(&b.group)));
    out
}

/// What the Overview shows, kept in its address (`/?population=active_7d&groups=gender,city`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selection {
    /// The population whose distribution is shown (`None`: all users).
    pub population: Option<String>,
    /// The tag groups its distribution is shown over (`None`: the default ones).
    pub groups: Option<Vec<String>>,
}

impl Selection {
    /// Reads a query string (with or without its `?`, or a whole `/?…` address); unknown keys
    /// are ignored.
    ///
    /// ```
    /// use app::overview::Selection;
    /// let s = Selection::from_query("?population=paid_7d&groups=gender,city");
    /// assert_eq!(s.population.as_deref(), Some("paid_7d"));
    /// assert_eq!(s.groups, Some(vec!["gender".to_string(), "city".into()]));
    /// assert_eq!(Selection::from_query(&s.to_url()), s);
    /// assert_eq!(Selection::default().to_url(), "/");
    /// ```
    pub fn from_query(query: &str) -> Selection {
        let mut s = Selection::default();
        let query = query.split_once('?').map_or(query, |(_, q)| q);
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = crate::session::decode_component;
            match k {
                "population" if !v.is_empty() => s.population = Some(decode(v)),
                "groups" => s.groups = Some(v.split(',').filter(|g| !g.is_empty()).map(decode).collect()),
                _ => {}
            }
        }
        s
    }

    /// The address of the selection.
    pub fn to_url(&self) -> String {
        let mut q = Vec::new();
        if let Some(p) = &self.population {
            q.push(format!("population={}", encode_component(p)));
        }
        if let Some(g) = &self.groups {
            q.push(format!("groups={}", g.iter().map(|g| encode_component(g)).collect::<Vec<_>>().join(",")));
        }
        if q.is_empty() { "/".to_owned() } else { format!("/?{}", q.join("&")) }
    }
}

/// The groups a distribution is shown over by default: the day's first three categorical groups
/// with at most 12 values (readable charts), skipping populations.
pub fn default_groups(manifest: &Manifest) -> Vec<String> {
    manifest
        .groups
        .iter()
        .filter(|g| g.kind == TagKind::Categorical && g.values.len() <= 12)
        .take(3)
        .map(|g| g.name.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        serde_json::from_str(EXAMPLE_MANIFEST).expect("valid")
    }

    #[test]
    fn populations_are_ordered_by_kind_then_window() {
        let mut m = manifest();
        let template = m.groups[0].clone();
        for name in ["paid_30d", "active_180d", "paid_1d", "active_1d", "active_30d", "activity_level"] {
            let mut g = template.clone();
            g.name = name.into();
            m.groups.push(g);
        }
        let mut not_bool = template.clone();
        not_bool.name = "paid_7d".into();
        not_bool.kind = TagKind::Categorical;
        m.groups.push(not_bool);
        assert_eq!(populations(&m), ["active_1d", "active_7d", "active_30d", "active_180d", "paid_1d", "paid_30d"]);
    }

    #[test]
    fn new_and_unchanged_segments() {
        let a = manifest();
        let mut b = a.clone();
        let r = |n| engine::manifest::BlobRef { count: n, blob: String::new(), bytes: 0 };
        b.segments = vec![engine::manifest::SegmentEntry {
            id: "s".into(),
            revision: 1,
            members: engine::manifest::TierRefs { full: r(5), sample: r(0) },
        }];
        let m = movers(Some(&a), &b);
        assert_eq!((m[0].before, m[0].change(), m[0].relative()), (None, 5, None));
        let m = movers(Some(&b), &b);
        assert_eq!((m[0].change(), m[0].relative()), (0, Some(0.0)));
        assert!(movers(None, &a).is_empty());
    }

    #[test]
    fn selection_round_trips_odd_names() {
        let s = Selection { population: Some("paid 7d&x".into()), groups: Some(vec!["a,b".into(), "c".into()]) };
        let back = Selection::from_query(&s.to_url()[1..]);
        assert_eq!(back.population, s.population);
        // A comma inside a group name is encoded, so the list splits where it should.
        assert_eq!(back.groups, s.groups);
    }
}
