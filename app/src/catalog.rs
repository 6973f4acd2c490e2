//! The tag catalog as the Tags page and the builder show it: groups by category path, and
//! search. Plain functions, tested natively.

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

#[cfg(test)]
mod tests {
    use super::*;

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
