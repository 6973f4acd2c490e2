//! The tag catalog as the Tags page and the builder show it: groups by category path, and
//! search; and the governance side of it (issue 15): the server's catalog record of a group
//! joined to the day's manifest, what the navigation badge counts, the edit form's patch, a
//! composite's values as typed. Plain functions, tested natively.

use engine::manifest::GroupEntry;
use engine::{Manifest, TagKind};

/// One category of the tree with its groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    /// Full path, e.g. `demographics/location` (empty: uncategorised).
    pub path: String,
    /// Nesting depth (0 for top-level categories).
    pub depth: usize,
    /// Names of the groups directly in it, sorted.
    pub groups: Vec<String>,
}

impl Category {
    /// The path as shown: `demographics › location`.
    pub fn title(&self) -> String {
        if self.path.is_empty() { "Other".to_owned() } else { self.path.split('/').collect::<Vec<_>>().join(" › ") }
    }
}

/// Groups by category path, parents before children (a parent without groups of its own is
/// still listed, so the tree has no gaps); `keep` filters the groups.
///
/// ```
/// let tree = app::catalog::tree([("demographics/location", "city"), ("demographics", "gender")].into_iter());
/// assert_eq!(tree[0].path, "demographics");
/// assert_eq!(tree[1].depth, 1);
/// assert_eq!(tree[1].groups, ["city"]);
/// ```
pub fn tree<'a>(groups: impl Iterator<Item = (&'a str, &'a str)>) -> Vec<Category> {
    let mut by_path: std::collections::BTreeMap<String, Vec<String>> = std::collections::BTreeMap::new();
    for (category, name) in groups {
        let category = category.trim_matches('/');
        // Every ancestor appears too.
        let parts: Vec<&str> = category.split('/').filter(|p| !p.is_empty()).collect();
        for i in 1..parts.len() {
            by_path.entry(parts[..i].join("/")).or_default();
        }
        by_path.entry(parts.join("/")).or_default().push(name.to_owned());
    }
    by_path
        .into_iter()
        .map(|(path, mut groups)| {
            groups.sort();
            let depth = path.matches('/').count();
            Category { path, depth, groups }
        })
        .collect()
}

/// Whether a group matches a search (name, category or any value; case-insensitive).
///
/// ```
/// use engine::manifest::GroupEntry;
/// let g: GroupEntry = serde_json::from_str(r#"{"name":"city","kind":"categorical","category":"geo","loaded_ds":"2026-11-20","values":[]}"#).unwrap();
/// assert!(app::catalog::matches(&g, "CIT"));
/// assert!(app::catalog::matches(&g, ""));
/// assert!(!app::catalog::matches(&g, "gender"));
/// ```
pub fn matches(group: &GroupEntry, query: &str) -> bool {
    let q = query.trim().to_lowercase();
    q.is_empty()
        || group.name.to_lowercase().contains(&q)
        || group.category.to_lowercase().contains(&q)
        || group.values.iter().any(|v| v.value.to_lowercase().contains(&q))
}

/// The groups a condition can use now (numeric groups wait for numeric conditions).
pub fn selectable(manifest: &Manifest) -> impl Iterator<Item = &GroupEntry> {
    manifest.groups.iter().filter(|g| g.kind != TagKind::Numeric)
}

/// The label of a kind.
pub const fn kind_label(kind: TagKind) -> &'static str {
    match kind {
        TagKind::Categorical => "categorical",
        TagKind::Boolean => "boolean",
        TagKind::Numeric => "numeric",
    }
}

/// Values of a group whose text contains `query` (case-insensitive), in manifest order.
pub fn filter_values<'a>(group: &'a GroupEntry, query: &str) -> Vec<&'a str> {
    let q = query.trim().to_lowercase();
    group
        .values
        .iter()
        .filter(|v| q.is_empty() || v.value.to_lowercase().contains(&q))
        .map(|v| v.value.as_str())
        .collect()
}

/// Whether the token edits the catalog, decides holds, restores and defines composites:
/// editors, admins and the server's admin token (the server's `Write` access).
///
/// ```
/// use app::access::Access;
/// use app::api::Role;
/// assert!(app::catalog::edits_catalog(&Access { role: Some(Role::Editor), settings: None }));
/// assert!(!app::catalog::edits_catalog(&Access { role: Some(Role::Viewer), settings: None }));
/// ```
pub fn edits_catalog(access: &crate::access::Access) -> bool {
    matches!(access.role, None | Some(wire::Role::Admin | wire::Role::Editor))
}

/// Whether the token reads the catalog (the server's `Read` access: every role but `service`).
///
/// ```
/// use app::access::Access;
/// use app::api::Role;
/// assert!(app::catalog::reads_catalog(&Access { role: Some(Role::Aggregate), settings: None }));
/// assert!(!app::catalog::reads_catalog(&Access { role: Some(Role::Service), settings: None }));
/// ```
pub fn reads_catalog(access: &crate::access::Access) -> bool {
    access.role != Some(wire::Role::Service)
}

/// Whether the token reads held uploads and a day's versions (they carry exact counts: the
/// server's `Membership` access, which aggregate tokens lack).
///
/// ```
/// use app::access::Access;
/// use app::api::Role;
/// assert!(app::catalog::reads_holds(&Access { role: Some(Role::Viewer), settings: None }));
/// assert!(!app::catalog::reads_holds(&Access { role: Some(Role::Aggregate), settings: None }));
/// ```
pub fn reads_holds(access: &crate::access::Access) -> bool {
    !access.is_aggregate() && reads_catalog(access)
}

/// The server's catalog record of a group, if it has one.
pub fn info<'a>(list: Option<&'a wire::GroupList>, name: &str) -> Option<&'a wire::GroupInfo> {
    list?.groups.iter().find(|g| g.name == name)
}

/// Where a group sits in the tree: the catalog's category (metadata, the same on every day),
/// else the one its upload named.
pub fn category_of<'a>(group: &'a GroupEntry, info: Option<&'a wire::GroupInfo>) -> &'a str {
    info.map_or(group.category.as_str(), |i| i.category.as_str())
}

/// What the navigation's badge counts: uploads held for a decision and groups whose latest
/// load failed a check.
///
/// ```
/// let list: wire::GroupList = serde_json::from_str(r#"{"groups":[]}"#).unwrap();
/// assert_eq!(app::catalog::attention(&list), 0);
/// ```
pub fn attention(list: &wire::GroupList) -> u64 {
    list.groups.iter().map(|g| g.held + u64::from(!g.flags.is_empty())).sum()
}

/// Who uses a group, in a line (`2 segments · 1 composite · 14 estimates in 30 days`).
pub fn usage_line(u: &wire::Usage) -> String {
    let n = |k: usize, one: &str, many: &str| format!("{k} {}", if k == 1 { one } else { many });
    let mut parts = vec![
        n(u.segments.len(), "segment", "segments"),
        n(u.composites.len(), "composite", "composites"),
        n(u.experiments.len(), "experiment", "experiments"),
    ];
    parts.push(format!("{} estimates in 30 days", u.estimates_30d));
    parts.join(" · ")
}

/// The edit form's fields, as typed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Form {
    /// Display name.
    pub display_name: String,
    /// Description.
    pub description: String,
    /// Owner.
    pub owner: String,
    /// Category path.
    pub category: String,
    /// `active` or `offline`.
    pub status: String,
    /// `daily`, `weekly`, `monthly` or `adhoc`.
    pub cadence: String,
    /// `warn` or `hold`.
    pub policy: String,
    /// Largest change accepted, in percent.
    pub max_change_pct: String,
}

impl Form {
    /// The form filled with a group's record.
    pub fn of(info: &wire::GroupInfo) -> Form {
        Form {
            display_name: info.display_name.clone(),
            description: info.description.clone(),
            owner: info.owner.clone(),
            category: info.category.clone(),
            status: name_of(&info.status),
            cadence: name_of(&info.cadence),
            policy: name_of(&info.quality.policy),
            max_change_pct: info.quality.max_change_pct.to_string(),
        }
    }

    /// The patch of what changed against `info` (`None`: nothing did).
    ///
    /// # Errors
    /// A field that cannot be what the server takes, named as the server names it.
    pub fn patch(&self, info: &wire::GroupInfo) -> Result<Option<wire::GroupPatch>, (&'static str, String)> {
        let mut p = wire::GroupPatch::default();
        let was = Form::of(info);
        if self.display_name != was.display_name {
            p.display_name = Some(self.display_name.clone());
        }
        if self.description != was.description {
            p.description = Some(self.description.clone());
        }
        if self.owner != was.owner {
            p.owner = Some(self.owner.clone());
        }
        if self.category != was.category {
            p.category = Some(self.category.trim().to_owned());
        }
        if self.status != was.status {
            p.status = Some(named(&self.status).ok_or(("status", "active or offline".to_owned()))?);
        }
        if self.cadence != was.cadence {
            p.cadence = Some(named(&self.cadence).ok_or(("cadence", "daily, weekly, monthly or adhoc".to_owned()))?);
        }
        if self.policy != was.policy || self.max_change_pct.trim() != was.max_change_pct {
            let policy = named(&self.policy).ok_or(("quality", "warn or hold".to_owned()))?;
            let pct: f64 = self
                .max_change_pct
                .trim()
                .parse()
                .map_err(|_| ("quality", "the largest change is a number of percent".to_owned()))?;
            p.quality = Some(wire::QualityPolicy { policy, max_change_pct: pct });
        }
        Ok((p != wire::GroupPatch::default()).then_some(p))
    }
}

/// A wire enum's name (`active`, `daily`, `hold`…).
pub fn name_of(v: &impl serde::Serialize) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// One of a closed set of names (`active`, `daily`, `hold`…) as its wire enum.
fn named<T: serde::de::DeserializeOwned>(text: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(text.trim().to_owned())).ok()
}

/// A composite's values as typed in the form: a JSON object of value → rule, in order.
///
/// ```
/// let v = app::catalog::composite_values(r#"{"vip": {"tag": "plan", "in": ["pro"]}, "rest": {"all": []}}"#).unwrap();
/// assert_eq!(v.keys().collect::<Vec<_>>(), ["vip", "rest"]);
/// assert!(app::catalog::composite_values("[1]").is_err());
/// ```
///
/// # Errors
/// Not JSON, or not an object.
pub fn composite_values(text: &str) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        Ok(_) => Err("the values are a JSON object: {\"value\": rule, …}".to_owned()),
        Err(e) => Err(format!("not JSON: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> wire::GroupInfo {
        serde_json::from_value(serde_json::json!({
            "name": "gender", "display_name": "gender", "description": "", "owner": "", "category": "people",
            "status": "active", "cadence": "adhoc", "quality": {"policy": "warn", "max_change_pct": 30.0},
            "stale": false, "flags": [], "held": 0,
            "usage": {"segments": ["a"], "composites": [], "experiments": [], "estimates_30d": 3}, "values": []
        }))
        .expect("a group")
    }

    #[test]
    fn the_form_patches_only_what_changed() {
        let i = info();
        let mut f = Form::of(&i);
        assert_eq!(f.patch(&i), Ok(None));
        f.category = "people/basic".into();
        f.status = "offline".into();
        let p = f.patch(&i).expect("valid").expect("a change");
        assert_eq!(p.category.as_deref(), Some("people/basic"));
        assert_eq!(p.status, Some(wire::GroupStatus::Offline));
        assert_eq!((p.owner, p.quality), (None, None));
        f.max_change_pct = "ten".into();
        assert_eq!(f.patch(&i).map(|_| ()).expect_err("a bad threshold is refused").0, "quality");
        f.max_change_pct = "10".into();
        f.policy = "hold".into();
        let q = f.patch(&i).expect("valid").expect("a change").quality.expect("quality");
        assert_eq!((q.policy, q.max_change_pct), (wire::QualityAction::Hold, 10.0));
    }

    #[test]
    fn usage_and_attention_are_counted() {
        let mut i = info();
        assert_eq!(usage_line(&i.usage), "1 segment · 0 composites · 0 experiments · 3 estimates in 30 days");
        i.held = 2;
        i.flags = vec![wire::QualityCheck {
            check: wire::CheckKind::Holders,
            ok: false,
            message: "x".into(),
            value: None,
            before: None,
            after: None,
        }];
        let list = wire::GroupList { latest_ds: None, groups: vec![i.clone(), info()] };
        assert_eq!(attention(&list), 3);
        assert_eq!(
            category_of(
                &serde_json::from_str(
                    r#"{"name":"gender","kind":"categorical","category":"old","loaded_ds":"","values":[]}"#
                )
                .expect("g"),
                Some(&i)
            ),
            "people"
        );
    }

    #[test]
    fn ancestors_fill_the_tree() {
        let t = tree([("a/b/c", "x"), ("", "y"), ("a", "z")].into_iter());
        let paths: Vec<&str> = t.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, ["", "a", "a/b", "a/b/c"]);
        assert!(t[2].groups.is_empty());
        assert_eq!(t[0].title(), "Other");
        assert_eq!(t[3].title(), "a › b › c");
    }
}
